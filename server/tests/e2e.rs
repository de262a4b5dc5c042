//! End to end: the real `tideline-server` binary on a loopback port with a temporary data
//! directory, and real client replicas (`tideline_client::Replica`, on RocksDB) syncing with it
//! over HTTP.

mod common;

use std::process::Command;

use common::*;
use hyper::{Method, StatusCode};
use serde_json::json;
use tempfile::TempDir;
use tideline_client::{Replica, Written};
use tideline_protocol::http::CONFLICTS_PATH;
use tideline_protocol::store::ReadStore;
use tideline_testkit::server::ServerProcess;

/// The server binary, and a folder for the replicas that sync with it.
struct Setup {
    server: ServerProcess,
    replicas: TempDir,
}

impl Setup {
    async fn start() -> Setup {
        Setup {
            server: server_process().await,
            replicas: tempfile::tempdir().unwrap(),
        }
    }

    /// The replica in folder `name`, initialised against the server's current address with a
    /// token for `user` with `groups`.
    fn replica(&self, name: &str, user: &str, groups: &[&str]) -> Replica {
        let token = self.server.token(user, groups);
        Replica::init(self.replicas.path().join(name), &self.server.url(), &token)
            .expect("replica init")
    }
}

/// Every document of a collection, as the client prints them.
fn documents(replica: &Replica, group: &str, collection: &str) -> Vec<serde_json::Value> {
    let mut documents = replica.find(group, collection).expect("find");
    documents.sort_by_key(|document| document["_id"].to_string());
    documents
}

/// Stops the server with SIGTERM and checks it exits cleanly.
fn server_stop(server: &mut ServerProcess) {
    let exit = server.terminate();
    assert!(exit.success(), "the server exits 0 on SIGTERM: {exit:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_users_edit_offline_and_converge() {
    let mut setup = Setup::start().await;
    let mut alice = setup.replica("alice", "alice", &["team", "home"]);
    let mut bob = setup.replica("bob", "bob", &["team"]);

    // Offline: each writes documents of its own, and alice one in a group bob is not in.
    let mut alice_docs = Vec::new();
    for index in 0..20 {
        let written = alice
            .create("team", "notes", &json!({"title": format!("a{index}")}))
            .unwrap();
        alice_docs.push(written.doc);
    }
    for index in 0..15 {
        bob.create(
            "team",
            "notes",
            &json!({"title": format!("b{index}"), "n": index}),
        )
        .unwrap();
    }
    alice
        .create("home", "todo", &json!({"title": "private"}))
        .unwrap();
    alice
        .update(
            "team",
            "notes",
            alice_docs[0],
            &json!({"tags.first": "sea"}),
        )
        .unwrap();
    alice.remove("team", "notes", alice_docs[1]).unwrap();

    let first = alice.sync().await.unwrap();
    assert_eq!(first.events_sent, 23);
    assert_eq!(first.events_received, 0);
    assert!(first.wire_bytes_sent > first.bytes_sent);
    let second = bob.sync().await.unwrap();
    assert_eq!(second.events_sent, 15);
    assert_eq!(
        second.events_received, 22,
        "bob gets alice's team events only"
    );
    let third = alice.sync().await.unwrap();
    assert_eq!(third.events_received, 15);
    assert_eq!(third.events_sent, 0);

    assert_eq!(alice.root("team").unwrap(), bob.root("team").unwrap());
    let team = documents(&alice, "team", "notes");
    assert_eq!(team.len(), 34, "20 + 15 documents, one removed");
    assert_eq!(team, documents(&bob, "team", "notes"));
    assert!(bob.root("home").is_err(), "bob's token does not grant home");
    assert!(bob.store().docs("home", "todo").unwrap().is_empty());

    // Nothing left to do: one round trip, a few bytes.
    let idle = bob.sync().await.unwrap();
    assert_eq!(idle.rounds, 1);
    assert_eq!(idle.events_sent + idle.events_received, 0);
    server_stop(&mut setup.server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_concurrent_edit_is_one_conflict_for_the_loser_resolved_from_another_replica() {
    let mut setup = Setup::start().await;
    let addr = setup.server.addr();
    let alice_token = setup.server.token("alice", &["team"]);
    let bob_token = setup.server.token("bob", &["team"]);
    let mut alice = setup.replica("alice", "alice", &["team"]);
    let mut bob = setup.replica("bob", "bob", &["team"]);
    // Second devices, which did not take part in the edit.
    let mut alice_phone = setup.replica("alice-phone", "alice", &["team"]);
    let mut bob_phone = setup.replica("bob-phone", "bob", &["team"]);

    let Written { doc, .. } = alice
        .create("team", "notes", &json!({"title": "Tides", "body": "draft"}))
        .unwrap();
    alice.sync().await.unwrap();
    bob.sync().await.unwrap();

    // Both change the title while offline; bob also changes another field, which is no
    // conflict.
    alice
        .update("team", "notes", doc, &json!({"title": "Tide tables"}))
        .unwrap();
    bob.update(
        "team",
        "notes",
        doc,
        &json!({"title": "Tidal notes", "body": "final"}),
    )
    .unwrap();
    alice.sync().await.unwrap();
    bob.sync().await.unwrap();
    alice.sync().await.unwrap();

    assert_eq!(alice.root("team").unwrap(), bob.root("team").unwrap());
    let alice_conflicts = alice.conflicts().unwrap();
    let bob_conflicts = bob.conflicts().unwrap();
    assert_eq!(
        alice_conflicts.len() + bob_conflicts.len(),
        1,
        "exactly one conflict, in exactly one user's inbox"
    );
    let (entry, loser) = match (alice_conflicts.first(), bob_conflicts.first()) {
        (Some(entry), None) => (entry.clone(), "alice"),
        (None, Some(entry)) => (entry.clone(), "bob"),
        _ => unreachable!("counted above"),
    };
    let conflict = &entry.conflict;
    assert_eq!(conflict.assignees, vec![loser.to_owned()]);
    assert_eq!(conflict.path.0, vec!["title".to_owned()]);
    assert_eq!(conflict.competing.len(), 2);
    // The document shows the winner's title meanwhile, and bob's body, which nobody contested.
    let shown = alice.get("team", "notes", doc).unwrap();
    assert_eq!(shown, bob.get("team", "notes", doc).unwrap());
    assert_eq!(shown["body"], "final");
    let winner_title = if loser == "alice" {
        "Tidal notes"
    } else {
        "Tide tables"
    };
    assert_eq!(shown["title"], winner_title);

    // The server serves the same conflict to the loser, and nothing to the winner.
    let (loser_token, winner_token) = if loser == "alice" {
        (&alice_token, &bob_token)
    } else {
        (&bob_token, &alice_token)
    };
    let listed = request(
        addr,
        Method::GET,
        CONFLICTS_PATH,
        Some(loser_token),
        Vec::new(),
    )
    .await;
    assert_eq!(listed.status, StatusCode::OK);
    let listed: serde_json::Value = serde_json::from_slice(&listed.body).unwrap();
    let listed = listed.as_array().expect("a JSON array");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["id"], conflict.id.to_string());
    let none = request(
        addr,
        Method::GET,
        CONFLICTS_PATH,
        Some(winner_token),
        Vec::new(),
    )
    .await;
    let none: serde_json::Value = serde_json::from_slice(&none.body).unwrap();
    assert_eq!(none, json!([]));

    // The loser decides on the other device, which syncs first to learn of it.
    let device = if loser == "alice" {
        &mut alice_phone
    } else {
        &mut bob_phone
    };
    device.sync().await.unwrap();
    let on_device = device.conflicts().unwrap();
    assert_eq!(on_device.len(), 1);
    assert_eq!(on_device[0].conflict.id, conflict.id);
    device
        .resolve(conflict.id, &json!("Tide tables, final"))
        .unwrap();
    device.sync().await.unwrap();
    alice.sync().await.unwrap();
    bob.sync().await.unwrap();

    for replica in [&alice, &bob, &*device] {
        assert!(replica.conflicts().unwrap().is_empty());
        let shown = replica.get("team", "notes", doc).unwrap();
        assert_eq!(shown["title"], "Tide tables, final");
        assert_eq!(shown["body"], "final");
    }
    assert_eq!(alice.root("team").unwrap(), bob.root("team").unwrap());
    let listed = request(
        addr,
        Method::GET,
        CONFLICTS_PATH,
        Some(loser_token),
        Vec::new(),
    )
    .await;
    let listed: serde_json::Value = serde_json::from_slice(&listed.body).unwrap();
    assert_eq!(listed, json!([]), "the server's inbox is empty too");
    server_stop(&mut setup.server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_without_the_group_gets_a_clear_error_and_no_data() {
    let mut setup = Setup::start().await;
    let mut alice = setup.replica("alice", "alice", &["team"]);
    alice
        .create("team", "notes", &json!({"title": "secret plans"}))
        .unwrap();
    alice.sync().await.unwrap();

    let mut mallory = setup.replica("mallory", "mallory", &["other"]);
    mallory
        .create("other", "notes", &json!({"title": "hers"}))
        .unwrap();
    let report = mallory.sync().await.unwrap();
    assert_eq!(report.events_received, 0, "nothing of team crosses");
    assert_eq!(report.events_sent, 1);
    let error = mallory
        .create("team", "notes", &json!({"title": "sneaky"}))
        .unwrap_err();
    assert_eq!(error.code(), "group_forbidden");
    assert!(
        error.to_string().contains("team"),
        "the message names the group: {error}"
    );
    let error = mallory.find("team", "notes").unwrap_err();
    assert_eq!(error.code(), "group_forbidden");
    assert!(mallory.store().docs("team", "notes").unwrap().is_empty());

    // The server says the same to a client that skips its own check.
    let groups = tideline_protocol::wire::Groups::new(["other"]).unwrap();
    let stolen = events(7, "team", "mallory", 1);
    let token = setup.server.token("mallory", &["other"]);
    let reply = sync_post(
        setup.server.addr(),
        &token,
        &push_frame(&groups, salt(3), &stolen),
    )
    .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(reply.error().code.name(), "group_forbidden");
    alice.sync().await.unwrap();
    assert!(alice.store().event(&stolen[0].id()).unwrap().is_none());
    server_stop(&mut setup.server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarts_and_sigkill_during_a_sync_lose_no_acknowledged_event() {
    let mut setup = Setup::start().await;
    let mut alice = setup.replica("alice", "alice", &["team"]);
    for index in 0..50 {
        alice.create("team", "notes", &json!({"n": index})).unwrap();
    }
    alice.sync().await.unwrap();
    server_stop(&mut setup.server);

    // A clean restart keeps everything.
    setup.server.restart().await;
    let mut bob = setup.replica("bob", "bob", &["team"]);
    let report = bob.sync().await.unwrap();
    assert_eq!(report.events_received, 50);

    // Now a large sync, killed with SIGKILL while it runs: about 6 MB of events, more than
    // one frame's budget, so the push takes several rounds.
    for index in 0..3000 {
        bob.create(
            "team",
            "bulk",
            &json!({"n": index, "pad": "x".repeat(2000)}),
        )
        .unwrap();
    }
    let pid = setup.server.pid();
    let killer = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(150));
        let status = Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    });
    let interrupted = bob.sync().await;
    killer.join().unwrap();
    setup.server.wait();
    // Whether the kill landed mid-sync or after it, the replica stays usable and consistent.
    assert_eq!(documents(&bob, "team", "bulk").len(), 3000);
    if let Err(error) = &interrupted {
        assert!(
            error.is_transient(),
            "a dropped server is transient: {error}"
        );
    }

    setup.server.restart().await;
    // The replica keeps its server URL; the new process listens elsewhere, so point the
    // replicas there (a folder is open in one `Replica` at a time).
    drop(bob);
    drop(alice);
    let mut bob = setup.replica("bob", "bob", &["team"]);
    let completed = bob.sync().await.unwrap();
    println!(
        "kill landed {}; the completing sync sent {} events",
        if interrupted.is_err() {
            "mid-sync"
        } else {
            "after the sync"
        },
        completed.events_sent
    );
    let mut alice = setup.replica("alice", "alice", &["team"]);
    alice.sync().await.unwrap();
    assert_eq!(alice.root("team").unwrap(), bob.root("team").unwrap());
    assert_eq!(documents(&alice, "team", "bulk").len(), 3000);
    assert_eq!(documents(&alice, "team", "notes").len(), 50);
    // Whatever the interrupted sync had pushed was acknowledged and kept: the completing sync
    // sent only the rest.
    if let Ok(report) = &interrupted {
        assert_eq!(report.events_sent, 3000);
        assert_eq!(completed.events_sent, 0);
    } else {
        assert!(completed.events_sent <= 3000);
    }
    server_stop(&mut setup.server);
}
