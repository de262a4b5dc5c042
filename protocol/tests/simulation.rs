//! Deterministic simulation of a server and 5 to 50 replicas over a faulty network (see
//! `tideline_protocol::simulation` for the model and the invariants).
//!
//! `cargo test` runs 500 seeds. More, or one:
//!
//! ```sh
//! TIDELINE_SIM_SEEDS=5000 cargo test -p tideline-protocol --test simulation -- --nocapture
//! TIDELINE_SIM_SEED=1234 cargo test -p tideline-protocol --test simulation -- --nocapture
//! ```
//!
//! `TIDELINE_SIM_SEED_START` moves the first seed of a range, and `TIDELINE_SIM_MUTATION` (for
//! example `ack_before_write`) switches on a deliberate bug, to watch the checker fail. A failing seed prints the command
//! that replays it. The checker is itself tested: each deliberate bug of
//! [`Mutation`] must be caught within a few seeds.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use tideline_protocol::simulation::{run, Mutation, Params, Report, Stats, ViolationKind};

const SEEDS_DEFAULT: u64 = 500;

/// Seeds a mutation test tries before it declares the checker blind to the bug.
const MUTATION_SEEDS_MAX: u64 = 60;

fn env_u64(name: &str) -> Option<u64> {
    let text = std::env::var(name).ok()?;
    Some(
        text.parse()
            .unwrap_or_else(|_| panic!("{name}={text} is not a number")),
    )
}

/// Runs `seeds` on both cores, in seed order per thread, and returns every report.
fn run_seeds(seeds: Vec<u64>, mutation: Mutation) -> Vec<Report> {
    let next = AtomicU64::new(0);
    let reports = Mutex::new(Vec::new());
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(2);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| loop {
                let index = next.fetch_add(1, Ordering::Relaxed) as usize;
                let Some(&seed) = seeds.get(index) else {
                    break;
                };
                let report = run(&Params::from_seed(seed, mutation));
                reports.lock().unwrap().push(report);
            });
        }
    });
    let mut reports = reports.into_inner().unwrap();
    reports.sort_by_key(|report| report.params.seed);
    reports
}

/// The mutation `TIDELINE_SIM_MUTATION` names, to watch the checker fail a seed on purpose.
fn mutation_from_env() -> Mutation {
    match std::env::var("TIDELINE_SIM_MUTATION").as_deref() {
        Err(_) | Ok("none") => Mutation::None,
        Ok("order_dependent_merge") => Mutation::OrderDependentMerge,
        Ok("ack_before_write") => Mutation::AckBeforeWrite,
        Ok("skip_creator_check") => Mutation::SkipCreatorCheck,
        Ok("leak_other_groups") => Mutation::LeakOtherGroups,
        Ok(other) => panic!(
            "TIDELINE_SIM_MUTATION={other} is not one of none, order_dependent_merge, \
             ack_before_write, skip_creator_check, leak_other_groups"
        ),
    }
}

/// Guards every invariant of the simulation (no acknowledged event lost, no leak, no forged
/// creator spread, convergence after healing) over many seeded runs with every fault on.
#[test]
fn seeds_keep_every_invariant() {
    let seeds: Vec<u64> = match env_u64("TIDELINE_SIM_SEED") {
        Some(seed) => vec![seed],
        None => {
            let start = env_u64("TIDELINE_SIM_SEED_START").unwrap_or(0);
            let count = env_u64("TIDELINE_SIM_SEEDS").unwrap_or(SEEDS_DEFAULT);
            (start..start + count).collect()
        }
    };
    let mutation = mutation_from_env();
    let reports = run_seeds(seeds, mutation);
    let mut total = Stats::default();
    let mut failed = Vec::new();
    for report in &reports {
        total.add(&report.stats);
        if !report.violations.is_empty() {
            failed.push(report);
        }
    }
    println!("simulation: {total}");
    for report in &failed {
        eprintln!("seed {} failed ({:?}):", report.params.seed, report.params);
        for violation in &report.violations {
            eprintln!("  {violation}");
        }
        let mutation = std::env::var("TIDELINE_SIM_MUTATION")
            .map(|name| format!("TIDELINE_SIM_MUTATION={name} "))
            .unwrap_or_default();
        eprintln!(
            "  replay: {mutation}TIDELINE_SIM_SEED={} cargo test -p tideline-protocol --test \
             simulation -- --nocapture seeds_keep_every_invariant",
            report.params.seed
        );
    }
    assert!(
        failed.is_empty(),
        "{} of {} seeds broke an invariant",
        failed.len(),
        reports.len()
    );
    // The faults must actually have happened, or the run proves little.
    if reports.len() as u64 >= SEEDS_DEFAULT {
        assert!(total.dropped > 0 && total.duplicated > 0 && total.delayed > 0);
        assert!(total.restarts > 0 && total.partitions > 0 && total.offline_periods > 0);
        assert!(total.writes_lost_to_restart > 0 && total.requests_lost_to_restart > 0);
        assert!(total.refused_timestamp > 0 && total.refused_creator > 0);
        assert!(total.refused_group > 0 && total.responses_stale > 0);
        assert!(total.events_acknowledged > 0 && total.sessions_completed > 0);
    }
}

/// Guards determinism: a seed replays to the same figures and the same final state.
#[test]
fn a_seed_replays_exactly() {
    for seed in [3, 77] {
        let params = Params::from_seed(seed, Mutation::None);
        let first = run(&params);
        let second = run(&params);
        assert_eq!(first.stats, second.stats);
        assert_eq!(first.digest, second.digest);
        let other = run(&Params::from_seed(seed + 1, Mutation::None));
        assert_ne!(first.digest, other.digest);
    }
}

/// Runs seeds with `mutation` until the checker reports `kind`; fails if it never does.
fn caught(mutation: Mutation, kind: ViolationKind) {
    for seed in 0..MUTATION_SEEDS_MAX {
        let report = run(&Params::from_seed(seed, mutation));
        if let Some(violation) = report.violations.iter().find(|v| v.kind == kind) {
            println!("{mutation:?} caught at seed {seed}: {violation}");
            return;
        }
    }
    panic!(
        "{mutation:?} went unnoticed in {MUTATION_SEEDS_MAX} seeds: the checker misses {kind:?}"
    );
}

/// Guards the checker against a merge whose result depends on the order events arrive in.
#[test]
fn checker_catches_an_order_dependent_merge() {
    caught(Mutation::OrderDependentMerge, ViolationKind::Divergence);
}

/// Guards the checker against a server that acknowledges writes before they are durable.
#[test]
fn checker_catches_acknowledging_before_writing() {
    caught(
        Mutation::AckBeforeWrite,
        ViolationKind::AcknowledgedEventLost,
    );
}

/// Guards the checker against a server that accepts forged creators.
#[test]
fn checker_catches_a_missing_creator_check() {
    caught(Mutation::SkipCreatorCheck, ViolationKind::ForgedEventHeld);
}

/// Guards the checker against a server that sends events of other groups.
#[test]
fn checker_catches_a_leak_of_other_groups() {
    caught(Mutation::LeakOtherGroups, ViolationKind::GroupLeaked);
}
