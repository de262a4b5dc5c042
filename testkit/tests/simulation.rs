//! Deterministic simulation of a server and 5 to 50 replicas over a faulty network (see
//! `tideline_testkit::simulation` for the model and the invariants).
//!
//! `cargo test` runs 500 seeds. More, or one, with the `simulate` example:
//!
//! ```sh
//! cargo run --release -p tideline-testkit --example simulate -- --seeds 5000
//! cargo run --release -p tideline-testkit --example simulate -- --seed 1234
//! ```
//!
//! or through this test, with `TIDELINE_SIM_SEEDS`, `TIDELINE_SIM_SEED_START`,
//! `TIDELINE_SIM_SEED` and `TIDELINE_SIM_MUTATION` (for example `ack_before_write`, a
//! deliberate bug, to watch the checker fail). A failing seed prints the command that replays
//! it. The checker is itself tested: each deliberate bug of [`Mutation`] must be caught within a
//! few seeds.

use tideline_testkit::simulation::{run, run_seeds, Mutation, Params, Stats, ViolationKind};

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

/// The mutation `TIDELINE_SIM_MUTATION` names, to watch the checker fail a seed on purpose.
fn mutation_from_env() -> Mutation {
    match std::env::var("TIDELINE_SIM_MUTATION") {
        Err(_) => Mutation::None,
        Ok(name) => name
            .parse()
            .unwrap_or_else(|error| panic!("TIDELINE_SIM_MUTATION: {error}")),
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
    let reports = run_seeds(&seeds, mutation, 2);
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
        eprintln!(
            "  replay: cargo run --release -p tideline-testkit --example simulate -- --seed {} \
             --mutation {}",
            report.params.seed,
            mutation.name()
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
