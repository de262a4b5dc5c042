//! Runs the deterministic simulation (`tideline_testkit::simulation`) over any number of
//! seeds, or replays one, and prints the figures and every broken invariant.
//!
//! ```sh
//! cargo run --release -p tideline-testkit --example simulate -- --seeds 5000
//! cargo run --release -p tideline-testkit --example simulate -- --seed 1234
//! cargo run --release -p tideline-testkit --example simulate -- --seeds 60 --mutation ack_before_write
//! ```
//!
//! Exits with status 1 when a seed breaks an invariant, after printing the command that
//! replays it. `cargo test` runs the first 500 seeds through `tests/simulation.rs`.

use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use tideline_testkit::simulation::{run_seeds, Mutation, Stats};

/// Deterministic simulation of one server and 5 to 50 replicas over a faulty network.
#[derive(Parser)]
struct Options {
    /// How many consecutive seeds to run.
    #[arg(long, default_value_t = 500, conflicts_with = "seed")]
    seeds: u64,
    /// The first seed of the range.
    #[arg(long, default_value_t = 0, conflicts_with = "seed")]
    start: u64,
    /// Replay this one seed.
    #[arg(long)]
    seed: Option<u64>,
    /// Switch on a deliberate bug, to watch the checker catch it (none, order_dependent_merge,
    /// ack_before_write, skip_creator_check, leak_other_groups).
    #[arg(long, default_value = "none")]
    mutation: Mutation,
    /// Threads to run seeds on (each seed runs on one thread; results do not depend on this).
    #[arg(long, default_value_t = 2)]
    threads: usize,
}

fn main() -> ExitCode {
    let options = Options::parse();
    let seeds: Vec<u64> = match options.seed {
        Some(seed) => vec![seed],
        None => (options.start..options.start.saturating_add(options.seeds)).collect(),
    };
    let started = Instant::now();
    let reports = run_seeds(&seeds, options.mutation, options.threads);
    let mut total = Stats::default();
    let mut failed = 0;
    for report in &reports {
        total.add(&report.stats);
        if report.violations.is_empty() {
            continue;
        }
        failed += 1;
        eprintln!("seed {} failed ({:?}):", report.params.seed, report.params);
        for violation in &report.violations {
            eprintln!("  {violation}");
        }
        eprintln!(
            "  replay: cargo run --release -p tideline-testkit --example simulate -- --seed {} \
             --mutation {}",
            report.params.seed,
            options.mutation.name()
        );
    }
    println!("simulation: {total}");
    println!(
        "{} seeds in {:.1} s, {failed} broke an invariant",
        reports.len(),
        started.elapsed().as_secs_f64()
    );
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
