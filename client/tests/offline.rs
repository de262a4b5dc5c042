//! Offline operations on a replica, through the library and through the `tideline` binary.
//!
//! Tests that depend on the order of edits pass the time of each write (the `_at` variants)
//! instead of reading the clock, so they never wait and never race it.

mod common;

use std::process::Command;

use common::token;
use serde_json::json;
use tideline_client::replica::parse_conflict_id;
use tideline_client::{ClientError, Replica, WriteContext};
use tideline_protocol::event::{DocId, Hlc, ReplicaId};
use tideline_protocol::merge::DocKey;
use tideline_protocol::store::ReadStore;
use tideline_protocol::value::Value;
use tideline_testkit::events::{patch, EventBuilder, WALL_MS};

const SERVER: &str = "http://127.0.0.1:9";

/// A write at `WALL_MS + offset_ms`, with random bytes that differ from offset to offset.
fn at(offset_ms: u64) -> WriteContext {
    let mut random = [0x5a; 10];
    random[2..].copy_from_slice(&offset_ms.to_be_bytes());
    WriteContext {
        now_ms: WALL_MS + offset_ms,
        random,
    }
}

/// Bob's edit of the title of `doc` to "Theirs", made after seeing only `base`.
fn bobs_title_edit(doc: DocId, base: tideline_protocol::event::EventId) -> EventBuilder {
    EventBuilder::update(patch([("title", Some(Value::String("Theirs".into())))]))
        .target(doc)
        .creator("bob")
        .origin(ReplicaId([2; 16]))
        .base([base])
}

fn replica(dir: &tempfile::TempDir, user: &str, groups: &[&str]) -> Replica {
    Replica::init(dir.path(), SERVER, &token(user, groups)).unwrap()
}

#[test]
fn documents_are_created_changed_and_removed_offline() {
    // Guards against an offline write that is lost, misapplied, or readable in the wrong shape.
    let dir = tempfile::tempdir().unwrap();
    let mut replica = replica(&dir, "alice", &["team"]);

    let first = replica
        .create(
            "team",
            "notes",
            &json!({"title": "Tides", "address": {"city": "Brest", "zip": "29200"}}),
        )
        .unwrap();
    let second = replica
        .create("team", "notes", &json!({"title": "Moon"}))
        .unwrap();
    assert_ne!(first.doc, second.doc);

    let document = replica.get("team", "notes", first.doc).unwrap();
    assert_eq!(document["_id"], json!(first.doc.to_string()));
    assert_eq!(document["address"]["city"], json!("Brest"));

    let updated = replica
        .update(
            "team",
            "notes",
            first.doc,
            &json!({"address.city": "Paris", "address.zip": null, "tags": ["sea"]}),
        )
        .unwrap();
    assert_eq!(updated.doc, first.doc);
    assert_eq!(
        replica.get("team", "notes", first.doc).unwrap(),
        json!({
            "_id": first.doc.to_string(),
            "title": "Tides",
            "address": {"city": "Paris"},
            "tags": ["sea"],
        })
    );
    // The update's base is the create: one head, the update itself.
    let state = replica
        .store()
        .doc_state(&DocKey {
            group: "team".into(),
            collection: "notes".into(),
            target: first.doc,
        })
        .unwrap()
        .unwrap();
    assert_eq!(state.heads, [updated.event]);

    let found = replica.find("team", "notes").unwrap();
    assert_eq!(found.len(), 2);
    assert!(found.iter().all(|document| document["_id"].is_string()));

    replica.remove("team", "notes", second.doc).unwrap();
    assert_eq!(replica.find("team", "notes").unwrap().len(), 1);
    let error = replica.get("team", "notes", second.doc).unwrap_err();
    assert!(
        matches!(error, ClientError::DocumentNotFound { removed: true, .. }),
        "{error}"
    );
    let error = replica
        .update("team", "notes", second.doc, &json!({"a": 1}))
        .unwrap_err();
    assert_eq!(error.code(), "not_found");
    assert!(replica.conflicts().unwrap().is_empty());

    // One user of a replica at a time, and the second one is told why.
    assert_eq!(
        Replica::open(dir.path()).unwrap_err().code(),
        "replica_busy"
    );

    // Everything survives closing and opening the replica, and the clock never goes back.
    let clock = replica.clock();
    drop(replica);
    let mut replica = Replica::open(dir.path()).unwrap();
    assert_eq!(replica.clock(), clock);
    assert_eq!(replica.find("team", "notes").unwrap().len(), 1);
    replica
        .update("team", "notes", first.doc, &json!({"title": "Tides 2"}))
        .unwrap();
    assert!(replica.clock() > clock);
}

#[test]
fn bad_input_is_refused_with_a_clear_error() {
    // Guards against bad input reaching the store, or failing with an unhelpful message.
    let dir = tempfile::tempdir().unwrap();
    let mut replica = replica(&dir, "alice", &["team"]);
    let written = replica
        .create("team", "notes", &json!({"title": "Tides"}))
        .unwrap();

    let error = replica
        .create("other", "notes", &json!({"title": "x"}))
        .unwrap_err();
    assert_eq!(error.code(), "group_forbidden");
    assert!(error.to_string().contains("not in your token"), "{error}");
    assert_eq!(
        replica.find("other", "notes").unwrap_err().code(),
        "group_forbidden"
    );
    assert_eq!(replica.root("other").unwrap_err().code(), "group_forbidden");

    assert_eq!(
        replica
            .create("team", "notes", &json!(["not", "an", "object"]))
            .unwrap_err()
            .code(),
        "invalid_input"
    );
    assert_eq!(
        replica
            .create("team", "bad collection", &json!({}))
            .unwrap_err()
            .code(),
        "invalid_event"
    );
    assert_eq!(
        replica
            .update("team", "notes", written.doc, &json!({"a": 1, "a.b": 2}))
            .unwrap_err()
            .code(),
        "invalid_input"
    );
    let unknown = tideline_protocol::event::DocId([7; 16]);
    assert_eq!(
        replica.get("team", "notes", unknown).unwrap_err().code(),
        "not_found"
    );
    assert_eq!(
        replica.remove("team", "notes", unknown).unwrap_err().code(),
        "not_found"
    );
    assert_eq!(parse_conflict_id("abc").unwrap_err().code(), "invalid_id");
    let error = replica.resolve(parse_conflict_id(&"ab".repeat(32)).unwrap(), &json!(1));
    assert_eq!(error.unwrap_err().code(), "not_found");

    // Nothing of the refused writes was stored.
    assert_eq!(replica.find("team", "notes").unwrap().len(), 1);

    let missing = tempfile::tempdir().unwrap();
    assert_eq!(
        Replica::open(missing.path()).unwrap_err().code(),
        "not_initialized"
    );
    assert_eq!(
        Replica::init(missing.path(), SERVER, "not-a-token")
            .unwrap_err()
            .code(),
        "invalid_token"
    );
    assert_eq!(
        Replica::init(missing.path(), "ftp://x", &token("alice", &["team"]))
            .unwrap_err()
            .code(),
        "invalid_url"
    );
    // A second init with another user's token would make the replica write as two users.
    drop(replica);
    assert_eq!(
        Replica::init(dir.path(), SERVER, &token("bob", &["team"]))
            .unwrap_err()
            .code(),
        "user_mismatch"
    );
    // The same user's new token keeps the replica's id and data.
    let before = Replica::open(dir.path()).unwrap().id();
    let replica = Replica::init(dir.path(), SERVER, &token("alice", &["team", "more"])).unwrap();
    assert_eq!(replica.id(), before);
    assert_eq!(replica.groups(), ["team", "more"]);
    assert_eq!(replica.find("team", "notes").unwrap().len(), 1);
}

#[test]
fn a_concurrent_edit_becomes_a_conflict_for_the_loser_and_resolves() {
    // Guards against a conflict that is not listed for the user who must decide, or that a
    // resolution does not close.
    let dir = tempfile::tempdir().unwrap();
    let mut replica = replica(&dir, "alice", &["team"]);
    let created = replica
        .create_at(at(0), "team", "notes", &json!({"title": "Tides"}))
        .unwrap();
    let mine = replica
        .update_at(
            at(1),
            "team",
            "notes",
            created.doc,
            &json!({"title": "Mine"}),
        )
        .unwrap();

    // Bob's edit of the same field, made without seeing Alice's: its base is only the create,
    // and its timestamp is older, so Alice's edit wins and Bob is asked.
    let theirs = bobs_title_edit(created.doc, created.event).at(1).seal();
    assert_eq!(
        replica.apply_events(std::slice::from_ref(&theirs)).unwrap(),
        1
    );
    assert_eq!(replica.apply_events(&[theirs]).unwrap(), 0, "applied once");

    // Assigned to Bob, so not in Alice's list; the store keeps Bob's inbox too.
    assert!(replica.conflicts().unwrap().is_empty());
    let inbox = replica.store().inbox("bob").unwrap();
    assert_eq!(inbox.len(), 1);
    let (conflict_id, _) = inbox[0].clone();
    assert_eq!(
        replica.get("team", "notes", created.doc).unwrap()["title"],
        json!("Mine"),
        "the winner shows until someone decides"
    );

    // Anyone in the group may resolve it, here Alice for Bob.
    let resolved = replica
        .resolve_at(at(2), conflict_id, &json!("Both"))
        .unwrap();
    assert_eq!(resolved.doc, created.doc);
    assert!(replica.store().inbox("bob").unwrap().is_empty());
    assert_eq!(
        replica.get("team", "notes", created.doc).unwrap()["title"],
        json!("Both")
    );
    assert_ne!(resolved.event, mine.event);
}

#[test]
fn a_conflict_in_the_users_own_inbox_is_listed_as_json() {
    // Guards against the list a user sees missing the fields needed to decide.
    let dir = tempfile::tempdir().unwrap();
    let mut replica = replica(&dir, "alice", &["team"]);
    let created = replica
        .create_at(at(0), "team", "notes", &json!({"title": "Tides"}))
        .unwrap();
    // Bob's edit of the same field, concurrent with Alice's and an hour ahead of it: Bob's
    // wins, so Alice is asked.
    let theirs = bobs_title_edit(created.doc, created.event)
        .at(WALL_MS + 1 + 3_600_000)
        .seal();
    replica
        .update_at(
            at(1),
            "team",
            "notes",
            created.doc,
            &json!({"title": "Mine"}),
        )
        .unwrap();
    replica.apply_events_at(WALL_MS + 2, &[theirs]).unwrap();

    let conflicts = replica.conflicts().unwrap();
    assert_eq!(conflicts.len(), 1);
    let listed = conflicts[0].to_json();
    assert_eq!(listed["kind"], json!("field"));
    assert_eq!(listed["path"], json!(["title"]));
    assert_eq!(listed["provisional"], json!("Theirs"));
    assert_eq!(listed["assignees"], json!(["alice"]));
    assert_eq!(listed["target"], json!(created.doc.to_string()));
    assert_eq!(listed["competing"].as_array().unwrap().len(), 2);

    // Null deletes the field in conflict.
    let id = parse_conflict_id(listed["id"].as_str().unwrap()).unwrap();
    replica.resolve_at(at(3), id, &json!(null)).unwrap();
    assert!(replica.conflicts().unwrap().is_empty());
    let document = replica.get("team", "notes", created.doc).unwrap();
    assert_eq!(document, json!({"_id": created.doc.to_string()}));
}

#[test]
fn writes_take_their_time_and_randomness_from_the_caller() {
    // Guards against a write path that reads the clock or the random number generator behind
    // the caller's back, which would make replayed runs and ordered tests impossible.
    let dir = tempfile::tempdir().unwrap();
    let mut replica = replica(&dir, "alice", &["team"]);
    let created = replica
        .create_at(at(10), "team", "notes", &json!({"title": "Tides"}))
        .unwrap();
    assert_eq!(created.doc, DocId::new(WALL_MS + 10, at(10).random));
    let tick = |wall_ms, counter| Hlc { wall_ms, counter };
    assert_eq!(replica.clock(), tick(WALL_MS + 10, 0));

    // A clock that went back still moves the replica's clock forward.
    replica
        .update_at(at(5), "team", "notes", created.doc, &json!({"n": 1}))
        .unwrap();
    assert_eq!(replica.clock(), tick(WALL_MS + 10, 1));
    let removed = replica
        .remove_at(at(20), "team", "notes", created.doc)
        .unwrap();
    assert_eq!(replica.clock(), tick(WALL_MS + 20, 0));
    let state = replica
        .store()
        .doc_state(&DocKey {
            group: "team".into(),
            collection: "notes".into(),
            target: created.doc,
        })
        .unwrap()
        .unwrap();
    assert_eq!(state.heads, [removed.event]);

    // An event from ahead moves the clock past it, by the time the caller passes.
    let ahead = EventBuilder::remove().at(WALL_MS + 100).seal();
    replica.apply_events_at(WALL_MS + 30, &[ahead]).unwrap();
    assert_eq!(replica.clock(), tick(WALL_MS + 100, 1));
}

/// Runs the binary; returns (success, stdout, stderr).
fn tideline(args: &[&str]) -> (bool, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_tideline"))
        .args(args)
        .env_remove("TIDELINE_REPLICA")
        .env_remove("TIDELINE_TOKEN")
        .env_remove("TIDELINE_SERVER")
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

fn stdout_json(text: &str) -> serde_json::Value {
    serde_json::from_str(text.trim()).unwrap_or_else(|error| panic!("{error}: {text}"))
}

#[test]
fn the_command_line_prints_json_and_json_errors() {
    // Guards against the binary printing something other than JSON, or exiting 0 on failure.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_str().unwrap();
    let alice = token("alice", &["team"]);

    let (ok, out, err) = tideline(&[
        "init",
        "--replica",
        path,
        "--server",
        SERVER,
        "--token",
        &alice,
    ]);
    assert!(ok, "{err}");
    let init = stdout_json(&out);
    assert_eq!(init["user"], json!("alice"));
    assert_eq!(init["groups"], json!(["team"]));

    let (ok, out, err) = tideline(&[
        "create",
        "--replica",
        path,
        "team",
        "notes",
        r#"{"title": "Tides", "n": 1}"#,
    ]);
    assert!(ok, "{err}");
    let created = stdout_json(&out);
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(id.len(), 32);
    assert_eq!(created["event"].as_str().unwrap().len(), 64);

    let (ok, out, err) = tideline(&[
        "update",
        "--replica",
        path,
        "team",
        "notes",
        &id,
        r#"{"n": 2, "a.b": true}"#,
    ]);
    assert!(ok, "{err}");
    assert_eq!(stdout_json(&out)["id"], json!(id));

    let (ok, out, _) = tideline(&["get", "--replica", path, "team", "notes", &id]);
    assert!(ok);
    assert_eq!(
        stdout_json(&out),
        json!({"_id": id, "title": "Tides", "n": 2, "a": {"b": true}})
    );

    tideline(&[
        "create",
        "--replica",
        path,
        "team",
        "notes",
        r#"{"title": "Moon"}"#,
    ]);
    let (ok, out, _) = tideline(&["find", "--replica", path, "team", "notes"]);
    assert!(ok);
    let lines: Vec<serde_json::Value> = out.lines().map(stdout_json).collect();
    assert_eq!(lines.len(), 2);
    assert!(lines.iter().all(|line| line["_id"].is_string()));

    let (ok, out, _) = tideline(&["conflicts", "--replica", path]);
    assert!(ok);
    assert_eq!(stdout_json(&out), json!([]));

    let (ok, out, _) = tideline(&["root", "--replica", path, "team"]);
    assert!(ok);
    assert_eq!(stdout_json(&out)["root"].as_str().unwrap().len(), 64);

    // Errors: JSON on stderr, nothing on stdout, a non-zero exit.
    let failures: [(&[&str], &str); 6] = [
        (
            &["create", "--replica", path, "team", "notes", "{not json"],
            "invalid_json",
        ),
        (
            &["create", "--replica", path, "elsewhere", "notes", "{}"],
            "group_forbidden",
        ),
        (
            &["get", "--replica", path, "team", "notes", &"0".repeat(32)],
            "not_found",
        ),
        (
            &["get", "--replica", path, "team", "notes", "xyz"],
            "invalid_id",
        ),
        (
            &["sync", "--replica", "/nonexistent/replica"],
            "not_initialized",
        ),
        (&["create", "--replica", path, "team"], "usage"),
    ];
    for (args, code) in failures {
        let (ok, out, err) = tideline(args);
        assert!(!ok, "{args:?} succeeded");
        assert!(out.is_empty(), "{args:?} printed {out}");
        let error = stdout_json(&err);
        assert_eq!(error["error"], json!(code), "{args:?}: {err}");
        assert!(error["message"].as_str().unwrap().len() > 10, "{err}");
    }
}
