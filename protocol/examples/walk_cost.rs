//! Prints what one in-memory reconciliation costs for a given n and d: a quick look, not the
//! benchmark (that lives in `benches/`).
//!
//! `cargo run --release -p tideline-protocol --example walk_cost -- 100000 100 [frame budget]`

use tideline_protocol::store::MemoryStore;
use tideline_protocol::sync::Config;
use tideline_protocol::tree::insert;
use tideline_protocol::wire::{Groups, Salt};
use tideline_testkit::generate::{create_event, Rng};
use tideline_testkit::reconcile::reconcile;

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().map_or(100_000, |arg| arg.parse().expect("n"));
    let d: usize = args.next().map_or(100, |arg| arg.parse().expect("d"));
    let config = args.next().map_or(Config::default(), |arg| Config {
        frame_bytes_budget: arg.parse().expect("frame budget in bytes"),
    });
    let mut rng = Rng::new(1);
    let start_ms = 1_790_000_000_000u64;
    let span_ms = 30 * 24 * 3600 * 1000u64;
    let event = |rng: &mut Rng| {
        let wall_ms = start_ms + rng.below(span_ms);
        create_event(rng, "g", wall_ms, "alice", 50)
    };
    let common: Vec<_> = (0..n - d / 2).map(|_| event(&mut rng)).collect();
    let only_a: Vec<_> = (0..d / 2).map(|_| event(&mut rng)).collect();
    let only_b: Vec<_> = (0..d - d / 2).map(|_| event(&mut rng)).collect();
    let mut a = MemoryStore::new();
    let mut b = MemoryStore::new();
    insert(&mut a, &common).unwrap();
    insert(&mut b, &common).unwrap();
    insert(&mut a, &only_a).unwrap();
    insert(&mut b, &only_b).unwrap();
    let groups = Groups::new(["g"]).unwrap();
    let started = std::time::Instant::now();
    let transcript = reconcile(&mut a, &mut b, &groups, Salt([7; 16]), config).unwrap();
    let elapsed = started.elapsed();
    let event_bytes = transcript.event_bytes_to_initiator + transcript.event_bytes_to_responder;
    let total = transcript.bytes_to_initiator + transcript.bytes_to_responder;
    println!(
        "n={n} d={d} rounds={} to_responder={} to_initiator={} events={} event_bytes={} overhead={} overhead/d={:.1} B time={:?}",
        transcript.rounds,
        transcript.bytes_to_responder,
        transcript.bytes_to_initiator,
        transcript.events_to_initiator + transcript.events_to_responder,
        event_bytes,
        total - event_bytes,
        (total - event_bytes) as f64 / d.max(1) as f64,
        elapsed
    );
}
