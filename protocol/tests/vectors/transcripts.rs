//! The vectors of `spec/vectors/transcripts.json: whole sessions, frame by frame.

use super::frames::render_frame;
use super::*;

pub(crate) fn group_name(index: usize) -> String {
    format!("g{index:03}")
}

/// `count` small events spread over `groups`, at times drawn by `wall_ms`.
pub(crate) fn log(
    rng: &mut Rng,
    groups: &[String],
    count: usize,
    wall_ms: impl Fn(&mut Rng) -> u64,
) -> Vec<VerifiedEvent> {
    (0..count)
        .map(|_| {
            let group = &groups[rng.below(groups.len() as u64) as usize];
            let wall_ms = wall_ms(rng);
            let payload_bytes = rng.below(8) as usize;
            create_event(rng, group, wall_ms, "alice", payload_bytes)
        })
        .collect()
}

pub(crate) fn week(rng: &mut Rng) -> u64 {
    START_MS + rng.below(WEEK_MS)
}

pub(crate) fn newest_percent(rng: &mut Rng) -> u64 {
    START_MS + WEEK_MS - rng.below(WEEK_MS / 100)
}

/// What one transcript vector starts from.
pub(crate) struct Session {
    name: &'static str,
    description: &'static str,
    groups: Vec<String>,
    seed: u64,
    frame_bytes_budget: usize,
    initiator: Vec<VerifiedEvent>,
    responder: Vec<VerifiedEvent>,
}

pub(crate) fn session(
    name: &'static str,
    description: &'static str,
    groups_len: usize,
    seed: u64,
    build: impl FnOnce(&mut Rng, &[String]) -> (Vec<VerifiedEvent>, Vec<VerifiedEvent>),
) -> Session {
    let groups: Vec<String> = (0..groups_len).map(group_name).collect();
    let mut rng = Rng::new(seed);
    let (initiator, responder) = build(&mut rng, &groups);
    Session {
        name,
        description,
        groups,
        seed,
        frame_bytes_budget: FRAME_BYTES_BUDGET,
        initiator,
        responder,
    }
}

pub(crate) fn joined(parts: &[&[VerifiedEvent]]) -> Vec<VerifiedEvent> {
    parts.concat()
}

pub(crate) fn store_of(events: &[VerifiedEvent]) -> MemoryStore {
    let mut store = MemoryStore::new();
    insert(&mut store, events).expect("memory stores do not fail");
    store
}

pub(crate) fn transcript_vector(session: &Session) -> Json {
    let groups = Groups::new(session.groups.iter().cloned()).expect("few groups");
    let salt = Salt(Rng::new(session.seed ^ 0x5A17).bytes());
    let mut initiator = store_of(&session.initiator);
    let mut responder = store_of(&session.responder);
    let config = Config {
        frame_bytes_budget: session.frame_bytes_budget,
    };
    let transcript = reconcile(&mut initiator, &mut responder, &groups, salt, config)
        .unwrap_or_else(|error| panic!("{}: reconcile failed: {error}", session.name));
    let frames: Vec<Json> = transcript
        .frames
        .iter()
        .enumerate()
        .map(|(index, bytes)| {
            json!({
                "from": if index % 2 == 0 { "initiator" } else { "responder" },
                "hex": hex::encode(bytes),
            })
        })
        .collect();
    let roots_after: Map<String, Json> = groups
        .names()
        .iter()
        .map(|group| {
            let root = Tree::new(&initiator)
                .root(group)
                .expect("memory stores do not fail");
            (group.clone(), json!(root.to_string()))
        })
        .collect();
    json!({
        "name": session.name,
        "description": session.description,
        "groups": session.groups,
        "salt": hex::encode(salt.0),
        "frame_bytes_budget": session.frame_bytes_budget,
        "initiator_events": hex_list(session.initiator.iter().map(|event| event.bytes())),
        "responder_events": hex_list(session.responder.iter().map(|event| event.bytes())),
        "frames": frames,
        "rounds": transcript.rounds,
        "events_to_responder": transcript.events_to_responder,
        "events_to_initiator": transcript.events_to_initiator,
        "roots_after": roots_after,
    })
}

pub(crate) fn generate_transcripts() -> Json {
    let mut sessions = vec![
        session(
            "no_groups",
            "A session over no groups has nothing to say: no frames at all.",
            0,
            10,
            |_, _| (Vec::new(), Vec::new()),
        ),
        session(
            "identical",
            "Both sides hold the same 50 events: the opening Root fingerprint matches and the \
             session ends after one round trip.",
            1,
            11,
            |rng, groups| {
                let common = log(rng, groups, 50, week);
                (common.clone(), common)
            },
        ),
        session(
            "one_missing_at_initiator",
            "The responder holds one event more than the initiator.",
            1,
            12,
            |rng, groups| {
                let common = log(rng, groups, 50, week);
                let extra = log(rng, groups, 1, week);
                (common.clone(), joined(&[&common, &extra]))
            },
        ),
        session(
            "scattered_differences",
            "200 common events, 20 only at the initiator and 20 only at the responder, all \
             spread over one week.",
            1,
            13,
            |rng, groups| {
                let common = log(rng, groups, 200, week);
                let only_initiator = log(rng, groups, 20, week);
                let only_responder = log(rng, groups, 20, week);
                (
                    joined(&[&common, &only_initiator]),
                    joined(&[&common, &only_responder]),
                )
            },
        ),
        session(
            "newest_percent_differs",
            "200 common events over a week; 10 on each side only, all in the newest 1% of it: \
             a client back from a short time offline.",
            1,
            14,
            |rng, groups| {
                let common = log(rng, groups, 200, week);
                let only_initiator = log(rng, groups, 10, newest_percent);
                let only_responder = log(rng, groups, 10, newest_percent);
                (
                    joined(&[&common, &only_initiator]),
                    joined(&[&common, &only_responder]),
                )
            },
        ),
        session(
            "three_groups_one_differs",
            "Three groups of common events; only g001 differs, by 3 events on each side, so \
             the walk leaves g000 and g002 at the Range item.",
            3,
            15,
            |rng, groups| {
                let common = log(rng, groups, 90, week);
                let differing = &groups[1..2];
                let only_initiator = log(rng, differing, 3, week);
                let only_responder = log(rng, differing, 3, week);
                (
                    joined(&[&common, &only_initiator]),
                    joined(&[&common, &only_responder]),
                )
            },
        ),
        session(
            "burst_in_one_ms_at_initiator",
            "40 common events over a week, and 100 events in one millisecond only at the \
             initiator, which pushes them.",
            1,
            17,
            |rng, groups| {
                let common = log(rng, groups, 40, week);
                let burst = log(rng, groups, 100, |_| START_MS + WEEK_MS / 2);
                (joined(&[&common, &burst]), common)
            },
        ),
    ];
    let mut small_budget = session(
        "empty_initiator_small_budget",
        "An empty initiator and a responder with 300 events, with a 2000-byte frame budget: \
         responses stop at the budget with a More item, and requests that carry many items are \
         only partly consumed.",
        1,
        16,
        |rng, groups| (Vec::new(), log(rng, groups, 300, week)),
    );
    small_budget.frame_bytes_budget = 2000;
    sessions.insert(6, small_budget);

    let vectors: Vec<Json> = sessions.iter().map(transcript_vector).collect();
    json!({ "vectors": vectors })
}

pub(crate) fn check_transcripts(document: &Json) {
    for vector in list(document, "vectors") {
        let name = text(vector, "name");
        let names: Vec<&str> = list(vector, "groups")
            .iter()
            .map(|group| group.as_str().expect("group names are strings"))
            .collect();
        let groups = Groups::new(names).expect("few groups");
        assert_eq!(
            groups.len(),
            list(vector, "groups").len(),
            "{name}: groups are distinct"
        );
        let salt = Salt(fixed(vector, "salt"));
        let config = Config {
            frame_bytes_budget: usize::try_from(number(vector, "frame_bytes_budget"))
                .expect("a budget fits in usize"),
        };
        let initiator_events = decode_events(list(vector, "initiator_events"), name);
        let responder_events = decode_events(list(vector, "responder_events"), name);
        let mut initiator = store_of(&initiator_events);
        let mut responder = store_of(&responder_events);
        let transcript = reconcile(&mut initiator, &mut responder, &groups, salt, config)
            .unwrap_or_else(|error| panic!("{name}: reconcile failed: {error}"));

        let frames = list(vector, "frames");
        for (index, (actual, expected)) in transcript.frames.iter().zip(frames).enumerate() {
            let from = if index % 2 == 0 {
                "initiator"
            } else {
                "responder"
            };
            assert_eq!(text(expected, "from"), from, "{name}: frame {index} sender");
            let expected = bytes(expected, "hex");
            let frame = decode_frame(&expected)
                .unwrap_or_else(|error| panic!("{name}: frame {index} does not decode: {error}"));
            match (&frame, from) {
                (Frame::Request(request), "initiator") => {
                    assert_eq!(request.salt, salt, "{name}: frame {index} carries the salt");
                }
                (Frame::Response(_), "responder") => {}
                _ => panic!("{name}: frame {index} from the {from} is {frame:?}"),
            }
            if *actual != expected {
                // Frames the reconcile loop sent decoded already, so this shows where they differ.
                let computed = decode_frame(actual).expect("reconcile decodes what it sends");
                let context = format!("{name}: frame {index}");
                assert_same_json(&render_frame(&computed), &render_frame(&frame), &context);
                panic!("{context}: bytes differ but the frames read the same");
            }
        }
        assert_eq!(
            transcript.frames.len(),
            frames.len(),
            "{name}: number of frames"
        );
        assert_eq!(
            u64::from(transcript.rounds),
            number(vector, "rounds"),
            "{name}: rounds"
        );
        assert_eq!(
            transcript.events_to_responder as u64,
            number(vector, "events_to_responder"),
            "{name}: events sent to the responder"
        );
        assert_eq!(
            transcript.events_to_initiator as u64,
            number(vector, "events_to_initiator"),
            "{name}: events sent to the initiator"
        );
        let roots_after = field(vector, "roots_after")
            .as_object()
            .unwrap_or_else(|| panic!("{name}: roots_after is an object"));
        assert_eq!(
            roots_after.len(),
            groups.len(),
            "{name}: one root per group"
        );
        for group in groups.names() {
            let expected = roots_after
                .get(group)
                .and_then(Json::as_str)
                .unwrap_or_else(|| panic!("{name}: no root for {group}"));
            for (side, store) in [("initiator", &initiator), ("responder", &responder)] {
                let root = Tree::new(store)
                    .root(group)
                    .expect("memory stores do not fail");
                assert_eq!(
                    root.to_string(),
                    expected,
                    "{name}: {side}'s root of {group}"
                );
            }
        }
        // Both sides end with the union of what they started with.
        let union: std::collections::BTreeSet<EventId> = initiator_events
            .iter()
            .chain(&responder_events)
            .map(|event| event.id())
            .collect();
        assert_eq!(
            initiator.events_len(),
            union.len(),
            "{name}: initiator holds the union"
        );
        assert_eq!(
            responder.events_len(),
            union.len(),
            "{name}: responder holds the union"
        );

        if name == "empty_initiator_small_budget" {
            assert_budget_features(name, frames);
        }
    }
}

/// The small-budget transcript exists to show `More` and partial `consumed`; fail if it stops
/// showing them, so the vector keeps covering what its description promises.
pub(crate) fn assert_budget_features(name: &str, frames: &[Json]) {
    let decoded: Vec<Frame> = frames
        .iter()
        .map(|frame| decode_frame(&bytes(frame, "hex")).expect("checked above"))
        .collect();
    let more = decoded.iter().any(|frame| {
        matches!(frame, Frame::Response(response)
            if response.items.iter().any(|item| matches!(item, Item::More { .. })))
    });
    assert!(more, "{name}: some response carries a More item");
    let partial = decoded.chunks(2).any(|pair| match pair {
        [Frame::Request(request), Frame::Response(response)] => {
            (response.consumed as usize) < request.items.len()
        }
        _ => false,
    });
    assert!(
        partial,
        "{name}: some response consumes only part of its request"
    );
}

#[test]
fn transcripts_vectors() {
    // Guards against any change to what the walk sends, byte for byte, and against a walk that
    // ends without both sides holding the union.
    bless_or_check(
        "transcripts.json",
        "vectors",
        generate_transcripts,
        check_transcripts,
    );
}
