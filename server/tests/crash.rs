//! Crash tests against the real `tideline-server` binary: SIGKILL while clients push, then a
//! restart on the same data directory.

mod common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use hyper::{Method, StatusCode};
use tideline_protocol::event::EventId;
use tideline_protocol::http::SYNC_PATH;
use tideline_protocol::store::MemoryStore;
use tideline_protocol::wire::{encode_frame, Groups};
use tokio::task::JoinHandle;

/// Concurrent pushers, events per push, and acknowledged events to wait for before the kill.
const PUSHERS: usize = 4;
const EVENTS_PER_PUSH: usize = 10;
const ACKNOWLEDGED_BEFORE_KILL: usize = 400;
/// Most pushes one pusher makes, so the test ends even if the kill never lands.
const PUSHES_PER_PUSHER_MAX: usize = 10_000;

/// The events of every push that got a 200, filled by the pushers.
type Acknowledged = Arc<Mutex<Vec<EventId>>>;

/// Starts `PUSHERS` tasks that push batches of `EVENTS_PER_PUSH` events to the server at `addr`
/// back to back, and record in `acknowledged` the events of each push that got a 200. Pusher
/// `pusher`'s batch number `push` comes from seed `seed_of(pusher, push)`. A pusher stops when
/// the server is gone, or after `PUSHES_PER_PUSHER_MAX` pushes.
fn pushers_start(
    addr: SocketAddr,
    token: &Arc<String>,
    groups: &Groups,
    acknowledged: &Acknowledged,
    seed_of: impl Fn(usize, usize) -> u64 + Copy + Send + 'static,
) -> Vec<JoinHandle<()>> {
    (0..PUSHERS)
        .map(|pusher| {
            let token = Arc::clone(token);
            let groups = groups.clone();
            let acknowledged = Arc::clone(acknowledged);
            tokio::spawn(async move {
                for push in 0..PUSHES_PER_PUSHER_MAX {
                    let batch = events(seed_of(pusher, push), "g1", "alice", EVENTS_PER_PUSH);
                    let body = encode_frame(&push_frame(&groups, salt(pusher as u8), &batch));
                    match try_request(addr, Method::POST, SYNC_PATH, Some(token.as_str()), body)
                        .await
                    {
                        Ok(response) if response.status == StatusCode::OK => acknowledged
                            .lock()
                            .unwrap()
                            .extend(batch.iter().map(|event| event.id())),
                        Ok(response) => panic!("push refused: {:?}", response.error()),
                        // The server is gone: the kill landed.
                        Err(_) => return,
                    }
                }
            })
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_during_pushes_loses_no_acknowledged_event() {
    // Guards against acknowledging events before they are durable: after a SIGKILL in the
    // middle of concurrent pushes, every event whose request got a 200 is still there.
    let mut server = server_process().await;
    let addr = server.addr();
    let token = Arc::new(server.token("alice", &["g1"]));
    let groups = Groups::new(["g1"]).unwrap();
    let acknowledged: Acknowledged = Arc::default();
    let pushers = pushers_start(addr, &token, &groups, &acknowledged, |pusher, push| {
        (pusher * PUSHES_PER_PUSHER_MAX + push) as u64
    });

    for _ in 0..600 {
        if acknowledged.lock().unwrap().len() >= ACKNOWLEDGED_BEFORE_KILL {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.kill();
    for pusher in pushers {
        pusher.await.unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(
        acknowledged.len() >= ACKNOWLEDGED_BEFORE_KILL,
        "only {} events were acknowledged before the kill",
        acknowledged.len()
    );

    server.restart().await;
    let mut client = MemoryStore::new();
    let session = sync_session(server.addr(), &token, &groups, &mut client, salt(99)).await;
    let lost = missing(&client, &acknowledged);
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged events were lost, e.g. {:?}",
        lost.len(),
        acknowledged.len(),
        lost.first()
    );
    assert!(session.events_received.len() >= acknowledged.len());

    // SIGTERM stops the server cleanly.
    let exit = server.terminate();
    assert!(exit.success(), "the server exits 0 on SIGTERM: {exit:?}");
}

/// Kills in the campaign unless `TIDELINE_CRASH_KILLS` says otherwise.
const CAMPAIGN_KILLS_DEFAULT: usize = 100;

/// Longest wait between a start and its kill, in milliseconds.
const CAMPAIGN_KILL_DELAY_MS_MAX: u64 = 400;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn crash_campaign_sigkills_at_random_moments_and_loses_nothing() {
    // Many SIGKILLs at random moments (seeded) while several clients push concurrently: the
    // store opens after each, and every event acknowledged so far is still served.
    let kills: usize = std::env::var("TIDELINE_CRASH_KILLS")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(CAMPAIGN_KILLS_DEFAULT);
    let seed: u64 = std::env::var("TIDELINE_CRASH_SEED")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(1);
    let mut rng = tideline_testkit::generate::Rng::new(seed);
    let groups = Groups::new(["g1"]).unwrap();
    let mut reader = MemoryStore::new();
    let mut acknowledged_all: Vec<EventId> = Vec::new();
    let mut killed_while_pushing = 0usize;
    let started = std::time::Instant::now();

    // Each kill is followed by a restart, so the loop always finds a server that just started.
    let mut server = server_process().await;
    for kill in 0..kills {
        let addr = server.addr();
        // The store opened: everything acknowledged before the last kill must be served.
        let token = Arc::new(server.token("alice", &["g1"]));
        sync_session(addr, &token, &groups, &mut reader, salt(kill as u8)).await;
        let lost = missing(&reader, &acknowledged_all);
        assert!(
            lost.is_empty(),
            "after kill {kill} (seed {seed}): {} of {} acknowledged events lost, e.g. {:?}",
            lost.len(),
            acknowledged_all.len(),
            lost.first()
        );

        let acknowledged: Acknowledged = Arc::default();
        let pushers = pushers_start(addr, &token, &groups, &acknowledged, move |pusher, push| {
            let base = seed
                .wrapping_mul(1_000_003)
                .wrapping_add((kill * PUSHERS + pusher) as u64 * PUSHES_PER_PUSHER_MAX as u64);
            base + push as u64
        });
        let delay_ms = rng.below(CAMPAIGN_KILL_DELAY_MS_MAX + 1);
        tokio::time::sleep(Duration::from_millis(delay_ms)).await;
        server.kill();
        for pusher in pushers {
            pusher.await.unwrap();
        }
        let acknowledged = acknowledged.lock().unwrap().clone();
        // The pushers push back to back until the server is gone, so a kill after the first
        // acknowledgement landed while requests were in flight.
        if !acknowledged.is_empty() {
            killed_while_pushing += 1;
        }
        acknowledged_all.extend(acknowledged);
        server.restart().await;
    }

    let token = server.token("alice", &["g1"]);
    sync_session(server.addr(), &token, &groups, &mut reader, salt(255)).await;
    let lost = missing(&reader, &acknowledged_all);
    assert!(lost.is_empty(), "{} acknowledged events lost", lost.len());
    // Most kills must land while pushes flow, or the campaign tests nothing.
    assert!(
        killed_while_pushing * 2 >= kills,
        "only {killed_while_pushing} of {kills} kills landed while pushes flowed"
    );
    println!(
        "crash campaign (seed {seed}): {kills} SIGKILLs, {killed_while_pushing} while \
         pushes flowed, {} acknowledged events, 0 lost, {:.0} s",
        acknowledged_all.len(),
        started.elapsed().as_secs_f64()
    );
    server.kill();
}
