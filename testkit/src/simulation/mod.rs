//! A deterministic simulation of one server and many replicas, and the server's request handling
//! it drives (the reference server's, minus HTTP and RocksDB).
//!
//! Everything is a function of one seed: there is no I/O, no clock and no randomness but
//! [`Rng`]. Simulated time is a number of milliseconds; each replica's wall clock is that time
//! plus its own skew. Replicas write real events (create, update, remove, resolutions) through
//! the client's own write path, [`tideline_protocol::write`], and sync with the real [`Initiator`](tideline_protocol::sync::Initiator) against [`handle_request`] (the
//! protocol's [`Responder`](tideline_protocol::sync::Responder), then the write), over a
//! simulated network that carries encoded frames and drops, duplicates, delays and reorders
//! them. Faults come from the seed: partitions between a replica and the server, replicas
//! offline for long stretches, server restarts, replica clocks off by up to a day, and a
//! misbehaving replica that forges creators and writes to groups outside its token.
//!
//! The server is modelled as the reference server works: it writes a request's events, and
//! sends the response only once a log sync has made them durable (one sync covers every write
//! before it, as with group commit). A restart loses the writes not yet synced, which no
//! response has acknowledged, and the requests it was handling; some restarts are aimed at
//! exactly that window.
//!
//! The network is HTTP-like: a request and its response share a connection, so a response can
//! only be matched to the request it answers. A replica that hears nothing within
//! [`REQUEST_TIMEOUT_MS`] sends the same request again (a retried POST), so the server may see a
//! request twice, and a replica may get a response to a request it has moved past: it ignores
//! those, since a response answers one request.
//!
//! [`run`] checks, in every run:
//!
//! - no acknowledged event is lost: after every server restart the server still holds every
//!   event it acknowledged, and at the end every replica of its group holds it;
//! - no event the server sends a user belongs to a group outside the user's token, and no
//!   replica holds one;
//! - no event with a forged creator is accepted, stored or spread;
//! - after the faults heal and everyone has synced until nothing moves, every replica of a group
//!   has the server's root for that group, byte-identical document states (§9.9 encoding) and
//!   the same conflict inbox, and the server's states equal a replay of its events from scratch.
//!
//! "Heal" means: the network stops failing, partitions end, everyone comes online, the server
//! stays up, and clocks are fixed (skew 0). Simulated time then moves past the newest timestamp
//! any replica wrote, so that events a fast clock dated into the future, which the server
//! refused with `timestamp_in_future` and their writer kept, come due and are accepted, as they
//! would in a real deployment once the time they claim has passed.
//!
//! [`Mutation`] switches on a deliberate bug, so that tests can prove the checks catch it. The
//! bugs wrap the real code from outside: the protocol's types carry no test switches.
//!
//! The parts, one concern each:
//!
//! - `world.rs`: the world's state, its event queue and its phases (faulty, then heal).
//! - `network.rs`: the faulty network between replicas and the server.
//! - `server.rs`: the server's request handling, its log sync and its restarts.
//! - `replica.rs`: what replicas do: write, resolve, attack, and run sync sessions.
//! - `checker.rs`: the invariants, and the violations a run reports.
//! - `mutations.rs`: the deliberate bugs.
//! - `stats.rs`: the figures of a run.

use crate::generate::Rng;

mod checker;
mod mutations;
mod network;
mod replica;
mod server;
mod stats;
mod world;

pub use checker::{Violation, ViolationKind, VIOLATIONS_KEPT_MAX};
pub use mutations::Mutation;
pub use server::{handle_request, Handled, Token};
pub use stats::Stats;

use world::World;

/// How long a replica waits for a response before it sends the request again.
pub const REQUEST_TIMEOUT_MS: u64 = 3_000;

/// How many times a replica sends one request before it gives the session up.
pub const REQUEST_ATTEMPTS_MAX: u32 = 3;

/// The collection every simulated document lives in.
const COLLECTION: &str = "notes";

/// When simulated time starts: November 2026, in Unix milliseconds.
const START_MS: u64 = 1_794_000_000_000;

/// A day, the largest clock skew a replica gets.
const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// The shape of one run, drawn from its seed by [`Params::from_seed`].
#[derive(Clone, Debug)]
pub struct Params {
    /// The seed everything else comes from.
    pub seed: u64,
    /// Replicas, 5 to 50; the last one misbehaves.
    pub replicas: usize,
    /// Users; each replica belongs to one.
    pub users: usize,
    /// Groups; each user's token grants a few of them.
    pub groups: usize,
    /// Replica actions (write, resolve, sync, attack) in the faulty phase, over all replicas.
    pub actions: usize,
    /// How long the faulty phase lasts, in simulated milliseconds.
    pub duration_ms: u64,
    /// Per mille of messages the network drops.
    pub drop_per_mille: u64,
    /// Per mille of messages it delivers twice.
    pub duplicate_per_mille: u64,
    /// Per mille of messages it holds back for up to 20 s, which reorders them.
    pub delay_per_mille: u64,
    /// Server restarts at random times in the faulty phase.
    pub restarts: usize,
    /// Per mille of handled requests after which the server restarts before its log sync:
    /// restarts aimed at the window where writes are not yet durable.
    pub restart_before_sync_per_mille: u64,
    /// Partitions between a replica and the server.
    pub partitions: usize,
    /// Stretches during which a replica is offline.
    pub offline_periods: usize,
    /// The sync frame budget: small budgets make sessions of many rounds and `More` items.
    pub frame_bytes_budget: usize,
    /// The bug to switch on, if any.
    pub mutation: Mutation,
}

impl Params {
    /// The parameters of seed `seed`, with `mutation`.
    pub fn from_seed(seed: u64, mutation: Mutation) -> Params {
        let mut rng = Rng::new(seed ^ 0x5EED_0F7D_E11E);
        // Most runs are small and fast; one in eight has many replicas.
        let replicas = if rng.below(8) == 0 {
            20 + rng.below(31) as usize
        } else {
            5 + rng.below(10) as usize
        };
        let users = 2 + rng.below((replicas as u64 / 2).clamp(1, 6)) as usize;
        let groups = 2 + rng.below(4) as usize;
        Params {
            seed,
            replicas,
            users,
            groups,
            actions: 150 + rng.below(150) as usize,
            duration_ms: (10 + rng.below(50)) * 60 * 1000,
            drop_per_mille: [0, 20, 100, 250][rng.below(4) as usize],
            duplicate_per_mille: [0, 20, 100, 250][rng.below(4) as usize],
            delay_per_mille: [0, 20, 100][rng.below(3) as usize],
            restarts: rng.below(5) as usize,
            restart_before_sync_per_mille: [0, 10, 40][rng.below(3) as usize],
            partitions: rng.below(replicas as u64 / 2 + 1) as usize,
            offline_periods: rng.below(replicas as u64 / 3 + 1) as usize,
            frame_bytes_budget: [usize::MAX, 4_000, 600][rng.below(3) as usize],
            mutation,
        }
    }
}

/// What one run found.
#[derive(Clone, Debug)]
pub struct Report {
    /// The run's parameters.
    pub params: Params,
    /// Its figures.
    pub stats: Stats,
    /// Every invariant it broke, at most [`VIOLATIONS_KEPT_MAX`] of them.
    pub violations: Vec<Violation>,
    /// A digest of the final state of the server and every replica: equal for equal seeds.
    pub digest: [u8; 32],
}

/// Runs every seed of `seeds` with `mutation` on up to `threads` threads and returns the
/// reports in seed order. Each run is deterministic on its own, so the threads change only how
/// fast the reports come.
pub fn run_seeds(seeds: &[u64], mutation: Mutation, threads: usize) -> Vec<Report> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let reports = std::sync::Mutex::new(Vec::with_capacity(seeds.len()));
    std::thread::scope(|scope| {
        for _ in 0..threads.max(1) {
            scope.spawn(|| loop {
                let index = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(&seed) = seeds.get(index) else {
                    break;
                };
                let report = run(&Params::from_seed(seed, mutation));
                reports
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .push(report);
            });
        }
    });
    let mut reports = reports
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    reports.sort_by_key(|report| report.params.seed);
    reports
}

/// Runs one simulation and checks every invariant. Deterministic: the same parameters give the
/// same report.
pub fn run(params: &Params) -> Report {
    let mut world = World::new(params.clone());
    world.schedule_faults();
    world.run_faulty_phase();
    world.heal();
    world.check_final();
    let digest = world.digest();
    Report {
        params: params.clone(),
        stats: world.stats,
        violations: world.violations,
        digest,
    }
}
