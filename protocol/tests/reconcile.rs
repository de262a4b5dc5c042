//! Property tests of the reconciliation walk over random pairs of event sets.
//!
//! Every case checks the three promises of the walk: both sides end with the union, no event
//! the other side had is sent, and roots are equal exactly when the sets are. Cases are seeded
//! (proptest's fixed seed plus our own event seeds), so a failure replays.

use std::collections::BTreeSet;

use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, RngAlgorithm, RngSeed};
use tideline_protocol::event::{EventId, VerifiedEvent};
use tideline_protocol::store::MemoryStore;
use tideline_protocol::sync::Config;
use tideline_protocol::tree::{insert, Tree};
use tideline_protocol::wire::{Groups, Salt};
use tideline_testkit::generate::{create_event, Rng};
use tideline_testkit::reconcile::{reconcile, Transcript};

const START_MS: u64 = 1_790_000_000_000;
const WEEK_MS: u64 = 7 * 24 * 3600 * 1000;

/// Where the differences fall in time.
#[derive(Clone, Copy, Debug)]
enum Pattern {
    /// Anywhere in the log's span.
    Uniform,
    /// In the newest 1% of the span: a client back from offline.
    Recent,
    /// All in one millisecond: the densest bucket possible.
    Burst,
}

#[derive(Clone, Debug)]
struct Case {
    seed: u64,
    groups: usize,
    common: usize,
    only_initiator: usize,
    only_responder: usize,
    pattern: Pattern,
    budget: usize,
}

fn case() -> impl Strategy<Value = Case> {
    (
        any::<u64>(),
        prop_oneof![Just(1usize), 1usize..5, 5usize..40],
        prop_oneof![Just(0usize), 0usize..40, 40usize..600],
        prop_oneof![Just(0usize), 0usize..5, 5usize..80],
        prop_oneof![Just(0usize), 0usize..5, 5usize..80],
        prop_oneof![
            Just(Pattern::Uniform),
            Just(Pattern::Recent),
            Just(Pattern::Burst)
        ],
        prop_oneof![Just(usize::MAX / 2), Just(2_000usize), Just(300usize)],
    )
        .prop_map(
            |(seed, groups, common, only_initiator, only_responder, pattern, budget)| Case {
                seed,
                groups,
                common,
                only_initiator,
                only_responder,
                pattern,
                budget,
            },
        )
}

fn group_name(index: usize) -> String {
    format!("g{index:03}")
}

fn make_events(rng: &mut Rng, case: &Case, count: usize, differing: bool) -> Vec<VerifiedEvent> {
    (0..count)
        .map(|_| {
            let group = group_name(rng.below(case.groups as u64) as usize);
            let wall_ms = match (differing, case.pattern) {
                (false, _) | (true, Pattern::Uniform) => START_MS + rng.below(WEEK_MS),
                (true, Pattern::Recent) => START_MS + WEEK_MS - rng.below(WEEK_MS / 100),
                (true, Pattern::Burst) => START_MS + WEEK_MS,
            };
            let payload = rng.below(40) as usize;
            create_event(rng, &group, wall_ms, "alice", payload)
        })
        .collect()
}

struct Outcome {
    transcript: Transcript,
    initiator: MemoryStore,
    responder: MemoryStore,
    union: BTreeSet<EventId>,
    missing_at_responder: usize,
    missing_at_initiator: usize,
}

fn run(case: &Case) -> Outcome {
    let mut rng = Rng::new(case.seed);
    let common = make_events(&mut rng, case, case.common, false);
    let only_initiator = make_events(&mut rng, case, case.only_initiator, true);
    let only_responder = make_events(&mut rng, case, case.only_responder, true);
    let mut initiator = MemoryStore::new();
    let mut responder = MemoryStore::new();
    insert(&mut initiator, &common).unwrap();
    insert(&mut responder, &common).unwrap();
    insert(&mut initiator, &only_initiator).unwrap();
    insert(&mut responder, &only_responder).unwrap();

    let groups = Groups::new((0..case.groups).map(group_name)).unwrap();
    let before_equal: Vec<bool> = groups
        .names()
        .iter()
        .map(|group| initiator.group_keys(group) == responder.group_keys(group))
        .collect();
    for (group, equal) in groups.names().iter().zip(&before_equal) {
        let roots_equal = Tree::new(&initiator).root(group).unwrap()
            == Tree::new(&responder).root(group).unwrap();
        assert_eq!(
            roots_equal, *equal,
            "roots equal exactly when the sets are, group {group}"
        );
    }

    let salt = Salt(Rng::new(case.seed ^ 1).bytes());
    let config = Config {
        frame_bytes_budget: case.budget,
    };
    let transcript = reconcile(&mut initiator, &mut responder, &groups, salt, config).unwrap();
    let union: BTreeSet<EventId> = common
        .iter()
        .chain(&only_initiator)
        .chain(&only_responder)
        .map(|event| event.id())
        .collect();
    let initiator_ids: BTreeSet<EventId> = only_initiator.iter().map(|event| event.id()).collect();
    let responder_ids: BTreeSet<EventId> = only_responder.iter().map(|event| event.id()).collect();
    let common_ids: BTreeSet<EventId> = common.iter().map(|event| event.id()).collect();
    Outcome {
        transcript,
        initiator,
        responder,
        missing_at_responder: initiator_ids
            .difference(&common_ids)
            .filter(|id| !responder_ids.contains(id))
            .count(),
        missing_at_initiator: responder_ids
            .difference(&common_ids)
            .filter(|id| !initiator_ids.contains(id))
            .count(),
        union,
    }
}

fn check(case: &Case) {
    let outcome = run(case);
    let groups = Groups::new((0..case.groups).map(group_name)).unwrap();
    assert_eq!(
        outcome.initiator.events_len(),
        outcome.union.len(),
        "initiator holds the union"
    );
    assert_eq!(
        outcome.responder.events_len(),
        outcome.union.len(),
        "responder holds the union"
    );
    for group in groups.names() {
        assert_eq!(
            outcome.initiator.group_keys(group),
            outcome.responder.group_keys(group)
        );
        assert_eq!(
            Tree::new(&outcome.initiator).root(group).unwrap(),
            Tree::new(&outcome.responder).root(group).unwrap(),
            "roots agree after the sync"
        );
    }
    assert_eq!(
        outcome.transcript.events_to_responder, outcome.missing_at_responder,
        "only events the responder lacked were sent to it"
    );
    assert_eq!(
        outcome.transcript.events_to_initiator, outcome.missing_at_initiator,
        "only events the initiator lacked were sent to it"
    );
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        rng_algorithm: RngAlgorithm::ChaCha,
        rng_seed: RngSeed::Fixed(0x7111_DE11),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// Random pairs of sets, in every pattern, many groups, small and large frames.
    #[test]
    fn walk_ends_with_the_union_and_sends_nothing_twice(case in case()) {
        check(&case);
    }
}

/// Identical sets cost exactly one round trip, whatever their size or the number of groups.
#[test]
fn identical_sets_take_one_round_trip() {
    for groups in [1, 3, 100] {
        let case = Case {
            seed: 5,
            groups,
            common: 2000,
            only_initiator: 0,
            only_responder: 0,
            pattern: Pattern::Uniform,
            budget: usize::MAX / 2,
        };
        let outcome = run(&case);
        assert_eq!(outcome.transcript.rounds, 1);
        assert_eq!(
            outcome.transcript.events_to_initiator + outcome.transcript.events_to_responder,
            0
        );
        assert!(
            outcome.transcript.bytes_to_responder < 100
                && outcome.transcript.bytes_to_initiator < 100,
            "idle sync is under 100 bytes each way, got {} and {}",
            outcome.transcript.bytes_to_responder,
            outcome.transcript.bytes_to_initiator
        );
    }
}

/// Empty against empty, empty against full, and disjoint sets.
#[test]
fn edge_cases() {
    for (common, only_initiator, only_responder) in [
        (0, 0, 0),
        (0, 500, 0),
        (0, 0, 500),
        (0, 300, 300),
        (100, 1, 0),
    ] {
        for groups in [1, 7] {
            check(&Case {
                seed: 9,
                groups,
                common,
                only_initiator,
                only_responder,
                pattern: Pattern::Uniform,
                budget: 1000,
            });
        }
    }
}

/// Differences in the newest buckets do not make the walk visit old ones: the rounds stay
/// bounded by the tree's depth, not by the number of differences.
#[test]
fn rounds_grow_with_depth_not_with_differences() {
    let mut rounds = Vec::new();
    for differing in [1, 10, 100] {
        let outcome = run(&Case {
            seed: 21,
            groups: 1,
            common: 20_000,
            only_initiator: differing,
            only_responder: differing,
            pattern: Pattern::Uniform,
            budget: usize::MAX / 2,
        });
        rounds.push(outcome.transcript.rounds);
    }
    assert!(
        rounds.iter().all(|rounds| *rounds <= 5),
        "rounds {rounds:?}"
    );
}

/// A session cut off after a few rounds leaves both replicas consistent, and the next session
/// finishes the job without sending again what already crossed.
#[test]
fn interrupted_session_resumes_without_resending() {
    use tideline_protocol::replica::apply;
    use tideline_protocol::sync::{Initiator, Policy, Responder};
    use tideline_protocol::wire::{encode_frame, Frame};

    for cut_after_rounds in 1..6 {
        let case = Case {
            seed: 33,
            groups: 3,
            common: 3000,
            only_initiator: 400,
            only_responder: 400,
            pattern: Pattern::Uniform,
            budget: 4_000,
        };
        let mut rng = Rng::new(case.seed);
        let common = make_events(&mut rng, &case, case.common, false);
        let only_initiator = make_events(&mut rng, &case, case.only_initiator, true);
        let only_responder = make_events(&mut rng, &case, case.only_responder, true);
        let mut initiator = MemoryStore::new();
        let mut responder = MemoryStore::new();
        apply(&mut initiator, &common).unwrap();
        apply(&mut responder, &common).unwrap();
        apply(&mut initiator, &only_initiator).unwrap();
        apply(&mut responder, &only_responder).unwrap();
        let groups = Groups::new((0..case.groups).map(group_name)).unwrap();
        let config = Config {
            frame_bytes_budget: case.budget,
        };

        // First session: the connection drops after `cut_after_rounds` requests; the last
        // response never arrives.
        let mut session = Initiator::new(groups.clone(), Salt([1; 16]), config);
        let host = Responder::new(config, Policy::default());
        let mut sent_first = 0;
        let mut received_first = 0;
        for round in 1..=cut_after_rounds {
            let Some(request) = session.poll_request(&initiator).unwrap() else {
                break;
            };
            let frame = encode_frame(&Frame::Request(request));
            let admitted = host.admit_trusted(&frame, &groups).unwrap();
            sent_first += apply(&mut responder, admitted.events()).unwrap().len();
            let response = host.respond(&responder, &admitted).unwrap();
            if round == cut_after_rounds {
                break;
            }
            let events = session.handle_response(response).unwrap();
            received_first += apply(&mut initiator, &events).unwrap().len();
        }
        assert!(
            sent_first + received_first < 800,
            "the cut leaves work for the next session"
        );

        // Second session, new salt, from the roots again.
        let transcript = reconcile(
            &mut initiator,
            &mut responder,
            &groups,
            Salt([2; 16]),
            config,
        )
        .unwrap();
        assert_eq!(initiator.events_len(), 3800);
        assert_eq!(responder.events_len(), 3800);
        assert_eq!(
            sent_first + transcript.events_to_responder,
            400,
            "cut after {cut_after_rounds}: no event crossed twice to the responder"
        );
        assert_eq!(
            received_first + transcript.events_to_initiator,
            400,
            "cut after {cut_after_rounds}: the only events sent again are those of the lost response"
        );
    }
}

/// A group of at most 64 events is listed (`Ids`) in the response to the opening `Root`; one of
/// 65 is split (`Split`). The first costs up to 64 short ids and saves the frame that would
/// descend to the leaves (spec §8.1).
#[test]
fn sets_of_at_most_64_events_are_listed_not_split() {
    use tideline_protocol::wire::{decode_frame, Frame, Item};

    for (common, listed) in [(20, true), (63, true), (64, false), (200, false)] {
        // The responder holds `common + 1` events: the first response describes them all.
        let outcome = run(&Case {
            seed: 44,
            groups: 1,
            common,
            only_initiator: 1,
            only_responder: 1,
            pattern: Pattern::Uniform,
            budget: usize::MAX / 2,
        });
        let Frame::Response(first) = decode_frame(&outcome.transcript.frames[1]).unwrap() else {
            panic!("the second frame is a response");
        };
        match &first.items[..] {
            [Item::Ids { ids, .. }] => {
                assert!(listed, "{} events were listed", common + 1);
                assert_eq!(ids.len(), common + 1);
            }
            [Item::Split { .. }] => assert!(!listed, "{} events were split", common + 1),
            items => panic!("unexpected first response {items:?}"),
        }
        assert_eq!(outcome.initiator.events_len(), common + 2);
        assert_eq!(outcome.responder.events_len(), common + 2);
    }
}
