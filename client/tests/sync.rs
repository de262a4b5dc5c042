//! Replicas that sync with the real server, run in process, over real HTTP on 127.0.0.1.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{token, TestServer};
use serde_json::json;
use tideline_client::{ClientError, Replica, WatchEvent};
use tideline_protocol::event::VerifiedEvent;
use tideline_protocol::merge::DocKey;
use tideline_protocol::replica::replay;
use tideline_protocol::store::ReadStore;
use tideline_protocol::tree::Path;
use tokio_util::sync::CancellationToken;

fn replica(dir: &tempfile::TempDir, server: &TestServer, user: &str, groups: &[&str]) -> Replica {
    Replica::init(dir.path(), &server.url, &server.token(user, groups)).unwrap()
}

/// Every event of a group in a replica's store.
fn events_of(replica: &Replica, group: &str) -> Vec<VerifiedEvent> {
    let keys = replica
        .store()
        .keys(group, &Path::root(), None, usize::MAX)
        .unwrap();
    keys.iter()
        .map(|key| {
            let bytes = replica.store().event(&key.id()).unwrap().unwrap();
            VerifiedEvent::decode(&bytes).unwrap()
        })
        .collect()
}

/// Asserts that the stored documents are exactly what replaying the stored events gives.
fn assert_consistent(replica: &Replica, group: &str, collections: &[&str]) {
    let replayed = replay(&events_of(replica, group));
    let mut stored = BTreeMap::new();
    for collection in collections {
        for (doc, state) in replica.store().docs(group, collection).unwrap() {
            stored.insert(doc, state);
        }
    }
    assert_eq!(
        stored, replayed,
        "stored documents match a replay of the events"
    );
}

#[tokio::test]
async fn two_replicas_converge_after_editing_offline() {
    // Guards against a sync that loses, duplicates or misorders events in either direction.
    let server = TestServer::start().await;
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut alice = replica(&dir_a, &server, "alice", &["team", "alice-only"]);
    let mut bob = replica(&dir_b, &server, "bob", &["team"]);

    let mut shared = Vec::new();
    for index in 0..30 {
        shared.push(
            alice
                .create("team", "notes", &json!({"n": index, "by": "alice"}))
                .unwrap(),
        );
        bob.create("team", "notes", &json!({"n": index, "by": "bob"}))
            .unwrap();
    }
    alice
        .create("alice-only", "notes", &json!({"private": true}))
        .unwrap();
    alice
        .update("team", "notes", shared[0].doc, &json!({"edited": true}))
        .unwrap();

    let first = alice.sync().await.unwrap();
    assert_eq!(first.events_sent, 32);
    assert_eq!(first.events_received, 0);
    let second = bob.sync().await.unwrap();
    assert_eq!(second.events_sent, 30);
    assert_eq!(second.events_received, 31);
    let third = alice.sync().await.unwrap();
    assert_eq!(third.events_received, 30);
    assert_eq!(third.events_sent, 0);

    assert_eq!(alice.root("team").unwrap(), bob.root("team").unwrap());
    assert_eq!(alice.root("team").unwrap(), server.root("team").await);
    assert_eq!(
        alice.find("team", "notes").unwrap(),
        bob.find("team", "notes").unwrap()
    );
    assert_eq!(bob.find("team", "notes").unwrap().len(), 60);
    assert_eq!(
        bob.get("team", "notes", shared[0].doc).unwrap()["edited"],
        json!(true)
    );

    // In sync now: one round trip, nothing moves.
    let idle = bob.sync().await.unwrap();
    assert_eq!(idle.rounds, 1);
    assert_eq!(idle.events_sent + idle.events_received, 0);
}

#[tokio::test]
async fn the_same_field_edited_twice_is_one_conflict_for_the_loser() {
    // Guards against a concurrent edit that is silently lost, shown to the wrong user, or that
    // stays open after someone resolved it.
    let server = TestServer::start().await;
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut alice = replica(&dir_a, &server, "alice", &["team"]);
    let mut bob = replica(&dir_b, &server, "bob", &["team"]);

    let created = alice
        .create("team", "notes", &json!({"title": "Tides", "body": "x"}))
        .unwrap();
    alice.sync().await.unwrap();
    bob.sync().await.unwrap();

    // Both edit the title offline; Bob's edit is later, so it wins and Alice is asked.
    alice
        .update("team", "notes", created.doc, &json!({"title": "Alice's"}))
        .unwrap();
    tokio::time::sleep(Duration::from_millis(5)).await;
    bob.update("team", "notes", created.doc, &json!({"title": "Bob's"}))
        .unwrap();
    alice.sync().await.unwrap();
    bob.sync().await.unwrap();
    alice.sync().await.unwrap();

    let conflicts = alice.conflicts().unwrap();
    assert_eq!(conflicts.len(), 1, "exactly one conflict");
    assert_eq!(conflicts[0].conflict.assignees, ["alice"]);
    assert_eq!(conflicts[0].doc.target, created.doc);
    assert!(
        bob.conflicts().unwrap().is_empty(),
        "the winner is not asked"
    );
    for replica in [&alice, &bob] {
        assert_eq!(
            replica.get("team", "notes", created.doc).unwrap()["title"],
            json!("Bob's")
        );
    }

    // Bob resolves it from his replica, where it is not in his own list.
    let conflict_id = conflicts[0].conflict.id;
    bob.resolve(conflict_id, &json!("Both")).unwrap();
    bob.sync().await.unwrap();
    alice.sync().await.unwrap();

    for replica in [&alice, &bob] {
        assert!(replica.conflicts().unwrap().is_empty());
        assert!(replica.store().inbox("alice").unwrap().is_empty());
        assert_eq!(
            replica.get("team", "notes", created.doc).unwrap(),
            json!({"_id": created.doc.to_string(), "title": "Both", "body": "x"})
        );
    }
    assert_eq!(alice.root("team").unwrap(), bob.root("team").unwrap());
}

#[tokio::test]
async fn an_interrupted_sync_leaves_a_consistent_replica_and_the_next_one_completes() {
    // Guards against a sync cut off mid-way leaving a replica that does not open, whose
    // documents disagree with its events, or that cannot finish the exchange later.
    let mut rounds_full = 0;
    for interrupted_after in 1..=2 {
        let server = TestServer::start().await;
        let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let mut alice = replica(&dir_a, &server, "alice", &["team", "work"]);
        let mut bob = replica(&dir_b, &server, "bob", &["team", "work"]);
        for index in 0..200 {
            let group = if index % 2 == 0 { "team" } else { "work" };
            alice.create(group, "notes", &json!({"n": index})).unwrap();
            bob.create(group, "tasks", &json!({"n": index})).unwrap();
        }
        let report = bob.sync().await.unwrap();
        assert_eq!(report.events_sent, 200);

        server.drop_after(interrupted_after);
        let error = alice.sync().await.unwrap_err();
        assert!(
            matches!(error, ClientError::Transport(_)),
            "after {interrupted_after}: {error}"
        );
        assert!(error.is_transient());

        // The replica opens again and agrees with itself.
        drop(alice);
        let mut alice = Replica::open(dir_a.path()).unwrap();
        for group in ["team", "work"] {
            assert_consistent(&alice, group, &["notes", "tasks"]);
        }

        let report = alice.sync().await.unwrap();
        rounds_full = rounds_full.max(report.rounds + interrupted_after as u32);
        bob.sync().await.unwrap();
        for group in ["team", "work"] {
            assert_eq!(alice.root(group).unwrap(), bob.root(group).unwrap());
            assert_eq!(alice.root(group).unwrap(), server.root(group).await);
            assert_consistent(&alice, group, &["notes", "tasks"]);
        }
        assert_eq!(server.events_len().await, 400);
        assert_eq!(alice.find("work", "tasks").unwrap().len(), 100);
        assert_eq!(bob.find("team", "notes").unwrap().len(), 100);
    }
    // The interruptions fell inside the exchange, not after its end.
    assert!(rounds_full > 2, "a full sync takes {rounds_full} rounds");
}

#[tokio::test]
async fn a_group_outside_the_token_is_refused_before_any_request() {
    // Guards against the client writing events the server would reject at every sync.
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut alice = replica(&dir, &server, "alice", &["team"]);
    let error = alice
        .create("secret", "notes", &json!({"title": "x"}))
        .unwrap_err();
    assert!(
        matches!(&error, ClientError::GroupNotInToken { group, .. } if group == "secret"),
        "{error}"
    );
    assert_eq!(error.code(), "group_forbidden");
    assert!(alice.find("secret", "notes").is_err());
    assert_eq!(server.requests(), 0);
    let report = alice.sync().await.unwrap();
    assert_eq!(report.events_sent, 0);
    assert_eq!(server.events_len().await, 0);
}

#[tokio::test]
async fn wire_bytes_count_more_than_frame_bytes() {
    // Guards against wire counters that miss the HTTP headers, or that count frames only.
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut alice = replica(&dir, &server, "alice", &["team"]);
    for index in 0..5 {
        alice.create("team", "notes", &json!({"n": index})).unwrap();
    }
    let report = alice.sync().await.unwrap();
    assert!(report.rounds >= 1);
    assert!(report.bytes_sent > 0 && report.bytes_received > 0);
    // Each request carries at least a request line, Host, Authorization, Content-Type and
    // Content-Length; each response at least a status line and Content-Length.
    assert!(
        report.wire_bytes_sent > report.bytes_sent + 100 * u64::from(report.rounds),
        "{report:?}"
    );
    assert!(
        report.wire_bytes_received > report.bytes_received + 30 * u64::from(report.rounds),
        "{report:?}"
    );
}

#[tokio::test]
async fn a_server_error_frame_becomes_a_typed_error() {
    // Guards against the server's refusal being reported as a transport failure, or retried
    // forever by watch.
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut alice = replica(&dir, &server, "alice", &["team"]);
    alice.create("team", "notes", &json!({"n": 1})).unwrap();
    // The replica's token says "alice"; a token for "mallory" with the same replica makes its
    // events forged in the server's eyes.
    drop(alice);
    let config_path = dir.path().join("config.json");
    let mut config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&config_path).unwrap()).unwrap();
    config["token"] = json!(server.token("mallory", &["team"]));
    std::fs::write(&config_path, config.to_string()).unwrap();
    let mut mallory = Replica::open(dir.path()).unwrap();
    let error = mallory.sync().await.unwrap_err();
    match &error {
        ClientError::Server {
            code,
            status,
            message,
        } => {
            assert_eq!(code.name(), "forged_creator");
            assert_eq!(*status, 403);
            assert!(!message.is_empty());
        }
        other => panic!("expected a server error, got {other}"),
    }
    assert_eq!(error.code(), "forged_creator");
    assert!(!error.is_transient());

    let nowhere = tempfile::tempdir().unwrap();
    let mut unreachable = Replica::init(
        nowhere.path(),
        "http://127.0.0.1:1",
        &token("alice", &["team"]),
    )
    .unwrap();
    let error = unreachable.sync().await.unwrap_err();
    assert_eq!(error.code(), "unreachable");
    assert!(error.is_transient());
}

#[tokio::test]
async fn watch_applies_pushed_events_and_stops_on_cancel() {
    // Guards against a watching replica that misses events another replica sends, or that
    // does not stop when asked.
    let server = TestServer::start().await;
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut alice = replica(&dir_a, &server, "alice", &["team"]);
    let mut bob = replica(&dir_b, &server, "bob", &["team"]);
    let shutdown = CancellationToken::new();
    let (progress_sender, mut progress) = tokio::sync::mpsc::unbounded_channel();

    let watching = alice.watch(shutdown.clone(), move |event| {
        let _ = progress_sender.send(event.clone());
    });
    let driving = async {
        // The first sync of the watch.
        let event = progress.recv().await.unwrap();
        assert!(matches!(event, WatchEvent::Synced(_)), "{event:?}");
        let written = bob
            .create("team", "notes", &json!({"title": "pushed"}))
            .unwrap();
        bob.sync().await.unwrap();
        let event = tokio::time::timeout(Duration::from_secs(10), progress.recv())
            .await
            .expect("a pushed record within 10 s")
            .unwrap();
        assert_eq!(event, WatchEvent::Live { events: 1, new: 1 });
        shutdown.cancel();
        written
    };
    let (watched, written) = tokio::join!(watching, driving);
    watched.unwrap();
    assert_eq!(
        alice.get("team", "notes", written.doc).unwrap()["title"],
        json!("pushed")
    );
    let doc = DocKey {
        group: "team".into(),
        collection: "notes".into(),
        target: written.doc,
    };
    assert!(alice.store().doc_state(&doc).unwrap().is_some());
}
