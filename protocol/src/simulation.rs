//! A deterministic simulation of one server and many replicas, and the server's request handling
//! it drives (the reference server's, minus HTTP and RocksDB).
//!
//! Everything is a function of one seed: there is no I/O, no clock and no randomness but
//! [`Rng`]. Simulated time is a number of milliseconds; each replica's wall clock is that time
//! plus its own skew. Replicas write real events (create, update, remove, resolutions) through
//! [`replica::apply`], and sync with the real [`Initiator`] against [`handle_request`], over a
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
//! [`Mutation`] switches on a deliberate bug, so that tests can prove the checks catch it.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashSet};
use std::fmt;

use crate::event::{DocId, Event, EventId, FieldPath, Hlc, Op, Patch, ReplicaId, VerifiedEvent};
use crate::merge::{resolution, ConflictKind, Decision, DocKey};
use crate::replica;
use crate::sim::Rng;
use crate::store::{Batch, MemoryStore, ReadStore, Store};
use crate::sync::{AdmitError, Admitted, Config, Initiator, Policy, Responder, MAX_SKEW_MS};
use crate::tree::Tree;
use crate::value::Value;
use crate::wire::{
    decode_frame, encode_frame, fingerprint, ErrorBody, ErrorCode, Frame, Groups, Request, Salt,
};

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

// ---------------------------------------------------------------------------------------------
// The server's request handling.

/// What the server learns from a request's token: who sends it and which groups they may sync.
#[derive(Clone, Debug)]
pub struct Token {
    /// The authenticated user: every event of theirs must carry this creator.
    pub user: String,
    /// The groups the token grants; the session's groups.
    pub groups: Groups,
}

/// What handling one request produced.
#[derive(Clone, Debug)]
pub struct Handled {
    /// The frame to send back: a `Response`, or an `Error` frame.
    pub frame: Frame,
    /// The request's events, when they passed every check and were written; empty when the
    /// request was refused before anything was written. When `frame` is a `Response`, it
    /// acknowledges exactly these.
    pub accepted: Vec<VerifiedEvent>,
    /// Those of `accepted` that were new to the store.
    pub inserted: Vec<VerifiedEvent>,
}

impl Handled {
    fn refused(body: ErrorBody) -> Handled {
        Handled {
            frame: Frame::Error(body),
            accepted: Vec::new(),
            inserted: Vec::new(),
        }
    }
}

/// Handles one encoded request the way the reference server does, minus HTTP: the server's own
/// checks ([`Responder::admit`]), then write the events (the caller makes them durable before
/// it sends the response, since the response acknowledges them), then [`Responder::respond`].
/// Never panics on any input; refuses without writing anything unless every check before the
/// write passes.
pub fn handle_request<S: Store + ?Sized>(
    store: &mut S,
    token: &Token,
    now_ms: u64,
    policy: Policy,
    config: Config,
    frame: &[u8],
) -> Handled {
    let responder = Responder::new(config, policy);
    let admitted = responder
        .admit(frame, &token.groups, &token.user, now_ms)
        .map(|mut admitted| {
            let events = admitted.take_events();
            (admitted, events)
        });
    handle_admitted(store, &responder, admitted)
}

/// Writes an admitted request's events and answers it; answers a refused one with its error.
fn handle_admitted<S: Store + ?Sized>(
    store: &mut S,
    responder: &Responder,
    admitted: Result<(Admitted, Vec<VerifiedEvent>), AdmitError>,
) -> Handled {
    let (admitted, events) = match admitted {
        Ok(admitted) => admitted,
        Err(error) => return Handled::refused(ErrorBody::from(&error)),
    };
    let inserted_ids: BTreeSet<EventId> = match replica::apply(store, &events) {
        Ok(ids) => ids.into_iter().collect(),
        // The message stays generic: storage internals are not the peer's business.
        Err(_) => {
            return Handled::refused(ErrorBody::new(
                ErrorCode::Internal,
                "the server could not store the events; retry later",
            ))
        }
    };
    let inserted = events
        .iter()
        .filter(|event| inserted_ids.contains(&event.id))
        .cloned()
        .collect();
    let frame = match responder.respond(&*store, &admitted) {
        Ok(response) => Frame::Response(response),
        Err(error) => Frame::Error(ErrorBody::new(error.code(), &error.to_string())),
    };
    Handled {
        frame,
        accepted: events,
        inserted,
    }
}

/// The `SkipCreatorCheck` mutation, wrapped around the responder from outside: a request
/// refused only for a forged creator is admitted with its events set aside (so no creator is
/// checked), and the events, which passed every earlier check, come back beside it.
fn admit_skipping_creator_check(
    responder: &Responder,
    frame: &[u8],
    token: &Token,
    now_ms: u64,
) -> Result<(Admitted, Vec<VerifiedEvent>), AdmitError> {
    let admitted = responder.admit(frame, &token.groups, &token.user, now_ms);
    if !matches!(admitted, Err(AdmitError::ForgedCreator { .. })) {
        return admitted.map(|mut admitted| {
            let events = admitted.take_events();
            (admitted, events)
        });
    }
    let Ok(Frame::Request(mut request)) = decode_frame(frame) else {
        unreachable!("the creator is checked after the frame decodes as a request")
    };
    let events = std::mem::take(&mut request.events);
    let frame = encode_frame(&Frame::Request(request));
    let stripped = responder.admit(&frame, &token.groups, &token.user, now_ms)?;
    // Each event alone, admitted for its own creator: every other check still applies.
    let mut verified = Vec::with_capacity(events.len());
    for bytes in events {
        let creator = VerifiedEvent::decode(&bytes)
            .expect("the events were checked before the creator")
            .event
            .creator;
        let mut single = stripped.request().clone();
        single.events = vec![bytes];
        let frame = encode_frame(&Frame::Request(single));
        verified.extend(
            responder
                .admit(&frame, &token.groups, &creator, now_ms)?
                .into_events(),
        );
    }
    Ok((stripped, verified))
}

// ---------------------------------------------------------------------------------------------
// Parameters, mutations, figures and violations.

/// A deliberate bug the simulation can switch on, to prove that its checks catch it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mutation {
    /// No bug: the real code.
    #[default]
    None,
    /// Replicas overwrite a document's merged state with the effect of the event that arrived
    /// last, so the state depends on arrival order.
    OrderDependentMerge,
    /// The server responds as soon as it has written, before the write-ahead log is synced; a
    /// restart before the sync loses events it acknowledged.
    AckBeforeWrite,
    /// The server does not check that an event's creator is the token's user.
    SkipCreatorCheck,
    /// The server adds an event of a group outside the token to its responses.
    LeakOtherGroups,
}

impl Mutation {
    /// Every mutation's name, as [`Mutation::from_str`](std::str::FromStr) reads it.
    pub const NAMES: [&'static str; 5] = [
        "none",
        "order_dependent_merge",
        "ack_before_write",
        "skip_creator_check",
        "leak_other_groups",
    ];

    /// The mutation's name, as the command line takes it.
    pub fn name(self) -> &'static str {
        match self {
            Mutation::None => "none",
            Mutation::OrderDependentMerge => "order_dependent_merge",
            Mutation::AckBeforeWrite => "ack_before_write",
            Mutation::SkipCreatorCheck => "skip_creator_check",
            Mutation::LeakOtherGroups => "leak_other_groups",
        }
    }
}

impl std::str::FromStr for Mutation {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        [
            Mutation::None,
            Mutation::OrderDependentMerge,
            Mutation::AckBeforeWrite,
            Mutation::SkipCreatorCheck,
            Mutation::LeakOtherGroups,
        ]
        .into_iter()
        .find(|mutation| mutation.name() == name)
        .ok_or_else(|| {
            format!(
                "`{name}` is not a mutation; use one of {}",
                Mutation::NAMES.join(", ")
            )
        })
    }
}

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

/// Figures of one or more runs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Runs added together.
    pub runs: u64,
    /// Replicas simulated.
    pub replicas: u64,
    /// Events written by replicas, misbehaving ones' legitimate events included.
    pub events_written: u64,
    /// Distinct events the server acknowledged.
    pub events_acknowledged: u64,
    /// Sessions started.
    pub sessions: u64,
    /// Sessions that ran to the end.
    pub sessions_completed: u64,
    /// Sessions that failed (error frame, timeout, refused response) or were cut off.
    pub sessions_failed: u64,
    /// Requests sent, retries included.
    pub requests: u64,
    /// Requests sent again after a timeout.
    pub retries: u64,
    /// Responses a replica ignored because they answered a request it had moved past.
    pub responses_stale: u64,
    /// Messages the network dropped.
    pub dropped: u64,
    /// Messages it delivered twice.
    pub duplicated: u64,
    /// Messages it held back, reordering them.
    pub delayed: u64,
    /// Messages lost to a partition, an offline replica or a server that was down.
    pub lost_to_faults: u64,
    /// Partitions.
    pub partitions: u64,
    /// Offline stretches.
    pub offline_periods: u64,
    /// Server restarts.
    pub restarts: u64,
    /// Requests a restart dropped while the server was handling them or syncing their events.
    pub requests_lost_to_restart: u64,
    /// Written events a restart lost before they were synced (and so before any response
    /// acknowledged them).
    pub writes_lost_to_restart: u64,
    /// Replicas with a clock more than [`MAX_SKEW_MS`] ahead.
    pub clocks_fast: u64,
    /// Requests the server refused with `timestamp_in_future`.
    pub refused_timestamp: u64,
    /// Requests refused with `forged_creator`.
    pub refused_creator: u64,
    /// Requests refused with `group_forbidden`.
    pub refused_group: u64,
    /// Requests refused with another code.
    pub refused_other: u64,
    /// Forged-creator events a misbehaving replica sent.
    pub attacks_creator: u64,
    /// Events of a group outside its token a misbehaving replica sent.
    pub attacks_group: u64,
    /// Full sync rounds in the heal phase.
    pub heal_rounds: u64,
    /// Simulated milliseconds.
    pub simulated_ms: u64,
}

impl Stats {
    /// Adds another run's figures to these.
    pub fn add(&mut self, other: &Stats) {
        let Stats {
            runs,
            replicas,
            events_written,
            events_acknowledged,
            sessions,
            sessions_completed,
            sessions_failed,
            requests,
            retries,
            responses_stale,
            dropped,
            duplicated,
            delayed,
            lost_to_faults,
            partitions,
            offline_periods,
            restarts,
            requests_lost_to_restart,
            writes_lost_to_restart,
            clocks_fast,
            refused_timestamp,
            refused_creator,
            refused_group,
            refused_other,
            attacks_creator,
            attacks_group,
            heal_rounds,
            simulated_ms,
        } = other;
        self.runs += runs;
        self.replicas += replicas;
        self.events_written += events_written;
        self.events_acknowledged += events_acknowledged;
        self.sessions += sessions;
        self.sessions_completed += sessions_completed;
        self.sessions_failed += sessions_failed;
        self.requests += requests;
        self.retries += retries;
        self.responses_stale += responses_stale;
        self.dropped += dropped;
        self.duplicated += duplicated;
        self.delayed += delayed;
        self.lost_to_faults += lost_to_faults;
        self.partitions += partitions;
        self.offline_periods += offline_periods;
        self.restarts += restarts;
        self.requests_lost_to_restart += requests_lost_to_restart;
        self.writes_lost_to_restart += writes_lost_to_restart;
        self.clocks_fast += clocks_fast;
        self.refused_timestamp += refused_timestamp;
        self.refused_creator += refused_creator;
        self.refused_group += refused_group;
        self.refused_other += refused_other;
        self.attacks_creator += attacks_creator;
        self.attacks_group += attacks_group;
        self.heal_rounds += heal_rounds;
        self.simulated_ms += simulated_ms;
    }
}

impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "runs={} replicas={} events_written={} events_acknowledged={} sessions={} \
             (completed={} failed={}) requests={} retries={} responses_stale={} | faults: \
             dropped={} duplicated={} delayed={} lost_to_faults={} partitions={} \
             offline_periods={} restarts={} requests_lost_to_restart={} writes_lost_to_restart={} \
             clocks_fast={} | \
             refused: timestamp_in_future={} forged_creator={} group_forbidden={} other={} | \
             attacks: creator={} group={} | heal_rounds={} simulated_hours={}",
            self.runs,
            self.replicas,
            self.events_written,
            self.events_acknowledged,
            self.sessions,
            self.sessions_completed,
            self.sessions_failed,
            self.requests,
            self.retries,
            self.responses_stale,
            self.dropped,
            self.duplicated,
            self.delayed,
            self.lost_to_faults,
            self.partitions,
            self.offline_periods,
            self.restarts,
            self.requests_lost_to_restart,
            self.writes_lost_to_restart,
            self.clocks_fast,
            self.refused_timestamp,
            self.refused_creator,
            self.refused_group,
            self.refused_other,
            self.attacks_creator,
            self.attacks_group,
            self.heal_rounds,
            self.simulated_ms / 3_600_000,
        )
    }
}

/// Which invariant a run broke.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ViolationKind {
    /// The server lost an event it had acknowledged.
    AcknowledgedEventLost,
    /// After healing, a replica lacks an event of its group that was acknowledged or written.
    EventMissing,
    /// The server sent a user an event of a group outside the user's token.
    GroupLeaked,
    /// A replica holds an event of a group outside its user's token.
    ForeignEventHeld,
    /// The server or an honest replica holds an event with a forged creator.
    ForgedEventHeld,
    /// After healing, replicas of a group disagree on the root, the documents or the conflicts.
    Divergence,
    /// The server's document states are not a replay of its events.
    StateNotReplay,
    /// After healing, a session without faults failed, or syncing did not come to rest.
    HealFailed,
}

/// One broken invariant, with what the checker saw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// Which invariant.
    pub kind: ViolationKind,
    /// Where and what, for a person.
    pub detail: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {}", self.kind, self.detail)
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

/// How many violations a report keeps; one is enough to fail, a few help to diagnose.
pub const VIOLATIONS_KEPT_MAX: usize = 20;

// ---------------------------------------------------------------------------------------------
// The simulated world.

struct User {
    name: String,
    groups: Groups,
}

struct Session {
    id: u64,
    initiator: Initiator,
    /// Which request of the session is in flight, from 1: a response must carry it.
    round: u32,
    /// The encoded request in flight, kept to send again after a timeout.
    request: Vec<u8>,
    attempt: u32,
}

struct Replica {
    user: usize,
    store: MemoryStore,
    origin: ReplicaId,
    /// This replica's wall clock minus simulated time; 0 once healed.
    skew_ms: i64,
    /// The last timestamp this replica issued or saw.
    hlc: Hlc,
    online: bool,
    partitioned: bool,
    misbehaving: bool,
    session: Option<Session>,
    /// No new session before this time: the backoff after a failure.
    sync_after_ms: u64,
    failures_in_row: u32,
}

struct Server {
    /// What the server reads and writes: durable writes and writes not yet synced.
    store: MemoryStore,
    /// Every event whose write is durable: what a restart rebuilds `store` from.
    durable: Vec<VerifiedEvent>,
    /// Events written but not yet synced, in write order. A sync makes all of them durable at
    /// once, as an fsync of a write-ahead log covers every write before it; a restart loses
    /// them.
    unsynced: Vec<VerifiedEvent>,
    up: bool,
    /// Incremented at each restart: work scheduled in an earlier epoch died with it.
    epoch: u64,
}

#[derive(Clone)]
struct Message {
    replica: usize,
    /// 0 for a misbehaving replica's one-off requests.
    session: u64,
    round: u32,
    to_server: bool,
    bytes: Vec<u8>,
}

/// A reply the server has built.
struct Reply {
    /// The encoded `Response` or `Error` frame.
    bytes: Vec<u8>,
    /// The events it acknowledges (those of the request, if it is a `Response`), with groups.
    acknowledges: Vec<(EventId, String)>,
}

enum Action {
    ReplicaTick(usize),
    Deliver(Message),
    ServerProcess {
        epoch: u64,
        message: Message,
    },
    /// The server's log sync completes; then the reply waiting for it goes out, if any.
    ServerSync {
        epoch: u64,
        reply: Option<(Message, Reply)>,
    },
    Timeout {
        replica: usize,
        session: u64,
        round: u32,
        attempt: u32,
    },
    ServerCrash,
    ServerUp,
    Partition {
        replica: usize,
        on: bool,
    },
    Online {
        replica: usize,
        on: bool,
    },
}

struct Scheduled {
    at_ms: u64,
    sequence: u64,
    action: Action,
}

impl PartialEq for Scheduled {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Scheduled {}

impl PartialOrd for Scheduled {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Scheduled {
    // Reversed, so that the max-heap pops the earliest action, and among equal times the one
    // scheduled first: ties never depend on anything but the seed.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at_ms, other.sequence).cmp(&(self.at_ms, self.sequence))
    }
}

struct World {
    params: Params,
    config: Config,
    rng: Rng,
    now_ms: u64,
    queue: BinaryHeap<Scheduled>,
    sequence: u64,
    users: Vec<User>,
    group_names: Vec<String>,
    replicas: Vec<Replica>,
    server: Server,
    session_next: u64,
    /// Every event written legitimately (creator = its writer's user, group in its token).
    legitimate: HashSet<EventId>,
    /// Legitimate events by group, for the final checks.
    legitimate_by_group: BTreeMap<String, Vec<EventId>>,
    /// Events a misbehaving replica forged or sent outside its token.
    forged: HashSet<EventId>,
    /// Every event the server acknowledged, with its group.
    acknowledged: BTreeMap<EventId, String>,
    /// Whether replicas still act (write, sync, attack) and faults still happen.
    faulty_phase: bool,
    stats: Stats,
    violations: Vec<Violation>,
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

impl World {
    fn new(params: Params) -> World {
        let mut rng = Rng::new(params.seed);
        let group_names: Vec<String> = (0..params.groups).map(|g| format!("g{g}")).collect();
        // Each user gets one to three groups; user i always has group i mod groups, so that
        // every group has a member.
        let users: Vec<User> = (0..params.users)
            .map(|index| {
                let mut names = vec![group_names[index % params.groups].clone()];
                for _ in 0..rng.below(3) {
                    names.push(group_names[rng.below(params.groups as u64) as usize].clone());
                }
                User {
                    name: format!("user{index}"),
                    groups: Groups::new(names).expect("a few groups fit a session"),
                }
            })
            .collect();
        let mut stats = Stats {
            runs: 1,
            replicas: params.replicas as u64,
            ..Stats::default()
        };
        let replicas: Vec<Replica> = (0..params.replicas)
            .map(|index| {
                let skew_ms = match rng.below(10) {
                    0..=5 => rng.below(2_000) as i64 - 1_000,
                    6 | 7 => rng.below(20 * 60 * 1000) as i64 - 10 * 60 * 1000,
                    _ => rng.below(2 * DAY_MS as u64) as i64 - DAY_MS,
                };
                if skew_ms > MAX_SKEW_MS as i64 {
                    stats.clocks_fast += 1;
                }
                Replica {
                    // The first replicas cover every user; the rest are spread at random.
                    user: if index < params.users {
                        index
                    } else {
                        rng.below(params.users as u64) as usize
                    },
                    store: MemoryStore::new(),
                    origin: ReplicaId(rng.bytes()),
                    skew_ms,
                    hlc: Hlc::default(),
                    online: true,
                    partitioned: false,
                    misbehaving: index + 1 == params.replicas,
                    session: None,
                    sync_after_ms: 0,
                    failures_in_row: 0,
                }
            })
            .collect();
        let config = Config {
            frame_bytes_budget: params.frame_bytes_budget,
        };
        World {
            params,
            config,
            rng,
            now_ms: START_MS,
            queue: BinaryHeap::new(),
            sequence: 0,
            users,
            group_names,
            replicas,
            server: Server {
                store: MemoryStore::new(),
                durable: Vec::new(),
                unsynced: Vec::new(),
                up: true,
                epoch: 0,
            },
            session_next: 1,
            legitimate: HashSet::new(),
            legitimate_by_group: BTreeMap::new(),
            forged: HashSet::new(),
            acknowledged: BTreeMap::new(),
            faulty_phase: true,
            stats,
            violations: Vec::new(),
        }
    }

    fn violation(&mut self, kind: ViolationKind, detail: String) {
        if self.violations.len() < VIOLATIONS_KEPT_MAX {
            self.violations.push(Violation { kind, detail });
        }
    }

    fn schedule(&mut self, delay_ms: u64, action: Action) {
        self.sequence += 1;
        self.queue.push(Scheduled {
            at_ms: self.now_ms + delay_ms,
            sequence: self.sequence,
            action,
        });
    }

    fn schedule_faults(&mut self) {
        let duration_ms = self.params.duration_ms;
        let tick_mean_ms =
            (duration_ms * self.params.replicas as u64 / self.params.actions as u64).max(1);
        for replica in 0..self.params.replicas {
            let first = self.rng.below(tick_mean_ms);
            self.schedule(first, Action::ReplicaTick(replica));
        }
        for _ in 0..self.params.restarts {
            let at = self.rng.below(duration_ms);
            self.schedule(at, Action::ServerCrash);
        }
        for _ in 0..self.params.partitions {
            let replica = self.rng.below(self.params.replicas as u64) as usize;
            let at = self.rng.below(duration_ms);
            let length = 5_000 + self.rng.below(120_000);
            self.schedule(at, Action::Partition { replica, on: true });
            self.schedule(at + length, Action::Partition { replica, on: false });
            self.stats.partitions += 1;
        }
        for _ in 0..self.params.offline_periods {
            let replica = self.rng.below(self.params.replicas as u64) as usize;
            let at = self.rng.below(duration_ms);
            // Long: a fifth to most of the phase, often past its end.
            let length = duration_ms / 5 + self.rng.below(duration_ms * 3 / 5);
            self.schedule(at, Action::Online { replica, on: false });
            self.schedule(at + length, Action::Online { replica, on: true });
            self.stats.offline_periods += 1;
        }
    }

    fn run_faulty_phase(&mut self) {
        let end_ms = self.now_ms + self.params.duration_ms;
        while let Some(scheduled) = self.queue.pop() {
            self.now_ms = self.now_ms.max(scheduled.at_ms);
            if self.now_ms >= end_ms {
                self.faulty_phase = false;
            }
            self.perform(scheduled.action);
        }
        self.faulty_phase = false;
        self.stats.simulated_ms = self.now_ms - START_MS;
    }

    fn perform(&mut self, action: Action) {
        match action {
            Action::ReplicaTick(replica) => self.replica_tick(replica),
            Action::Deliver(message) => self.deliver(message),
            Action::ServerProcess { epoch, message } => {
                if epoch != self.server.epoch || !self.server.up {
                    self.stats.requests_lost_to_restart += 1;
                } else {
                    self.server_process(message);
                }
            }
            Action::ServerSync { epoch, reply } => {
                if epoch == self.server.epoch {
                    let unsynced = std::mem::take(&mut self.server.unsynced);
                    self.server.durable.extend(unsynced);
                    if let Some((message, reply)) = reply {
                        self.server_reply(message, reply);
                    }
                } else if reply.is_some() {
                    self.stats.requests_lost_to_restart += 1;
                }
            }
            Action::Timeout {
                replica,
                session,
                round,
                attempt,
            } => self.timeout(replica, session, round, attempt),
            Action::ServerCrash => self.server_crash(),
            Action::ServerUp => self.server.up = true,
            Action::Partition { replica, on } => self.replicas[replica].partitioned = on,
            Action::Online { replica, on } => {
                let replica_state = &mut self.replicas[replica];
                replica_state.online = on;
                if !on && replica_state.session.take().is_some() {
                    self.stats.sessions_failed += 1;
                }
            }
        }
    }

    // --- Replicas -----------------------------------------------------------------------------

    fn clock_ms(&self, replica: usize) -> u64 {
        (self.now_ms as i64 + self.replicas[replica].skew_ms).max(0) as u64
    }

    fn replica_tick(&mut self, replica: usize) {
        if !self.faulty_phase {
            return;
        }
        let tick_mean_ms =
            self.params.duration_ms * self.params.replicas as u64 / self.params.actions as u64;
        let next = 1 + self.rng.below(2 * tick_mean_ms.max(1));
        self.schedule(next, Action::ReplicaTick(replica));
        if !self.replicas[replica].online {
            return;
        }
        let dice = self.rng.below(100);
        if self.replicas[replica].misbehaving && dice < 30 {
            self.attack(replica);
        } else if dice < 45 {
            self.write(replica);
        } else if dice < 50 {
            self.resolve(replica);
        } else if self.replicas[replica].session.is_none()
            && self.now_ms >= self.replicas[replica].sync_after_ms
        {
            self.session_start(replica);
        }
    }

    fn next_timestamp(&mut self, replica: usize) -> Hlc {
        let clock = self.clock_ms(replica);
        let hlc = Hlc::tick(self.replicas[replica].hlc, clock);
        self.replicas[replica].hlc = hlc;
        hlc
    }

    fn pick_group(&mut self, replica: usize) -> String {
        let names = self.users[self.replicas[replica].user].groups.names();
        names[self.rng.below(names.len() as u64) as usize].clone()
    }

    /// A small random value for a field.
    fn value(&mut self) -> Value {
        match self.rng.below(3) {
            0 => Value::Int(self.rng.below(100) as i64),
            1 => Value::String(format!("v{}", self.rng.below(1000))),
            _ => Value::Array(vec![Value::Bool(self.rng.below(2) == 0)]),
        }
    }

    fn write(&mut self, replica: usize) {
        let group = self.pick_group(replica);
        let docs = self.replicas[replica]
            .store
            .docs(&group, COLLECTION)
            .expect("the memory store never fails");
        let timestamp = self.next_timestamp(replica);
        let dice = self.rng.below(100);
        let (target, base, op) = if docs.is_empty() || dice < 35 {
            let fields = vec![
                ("n".to_owned(), self.value()),
                ("title".to_owned(), self.value()),
            ];
            (
                DocId::new(timestamp.wall_ms, self.rng.bytes()),
                Vec::new(),
                Op::Create(Value::Object(fields)),
            )
        } else {
            let (key, state) = &docs[self.rng.below(docs.len() as u64) as usize];
            let op = if dice < 90 {
                // One or two of a few fields, sorted, set or deleted.
                let mut entries = Vec::new();
                for field in ["n", "tags", "title"] {
                    if self.rng.below(2) == 0 {
                        let value = (self.rng.below(5) != 0).then(|| self.value());
                        entries.push((FieldPath(vec![field.to_owned()]), value));
                    }
                }
                if entries.is_empty() {
                    entries.push((FieldPath(vec!["n".to_owned()]), Some(self.value())));
                }
                Op::Update(Patch(entries))
            } else {
                Op::Remove
            };
            (key.target, state.heads.clone(), op)
        };
        let event = Event {
            group,
            collection: COLLECTION.to_owned(),
            target,
            timestamp,
            creator: self.users[self.replicas[replica].user].name.clone(),
            origin: self.replicas[replica].origin,
            base,
            op,
        };
        // A document with more heads than an event's base may name cannot take a plain edit
        // from here; the writer would resolve first. Skip it.
        if let Ok(event) = event.seal() {
            self.written(replica, event);
        }
    }

    /// Resolves one conflict from the user's inbox, as a person would.
    fn resolve(&mut self, replica: usize) {
        let user = self.users[self.replicas[replica].user].name.clone();
        let inbox = self.replicas[replica]
            .store
            .inbox(&user)
            .expect("the memory store never fails");
        if inbox.is_empty() {
            return;
        }
        let (conflict_id, doc) = inbox[self.rng.below(inbox.len() as u64) as usize].clone();
        let Some(state) = self.replicas[replica]
            .store
            .doc_state(&doc)
            .expect("the memory store never fails")
        else {
            return;
        };
        let Some(conflict) = state.conflicts.iter().find(|c| c.id == conflict_id) else {
            return;
        };
        let at_root = conflict.path.0.is_empty() || conflict.kind != ConflictKind::Field;
        let decision = match (&conflict.provisional, self.rng.below(4)) {
            (_, 0) => Decision::Delete,
            (Some(value @ Value::Object(_)), _) => Decision::Keep(value.clone()),
            (Some(value), _) if !at_root => Decision::Keep(value.clone()),
            _ => Decision::Delete,
        };
        let timestamp = self.next_timestamp(replica);
        let event = resolution(
            &doc,
            &state,
            conflict,
            decision,
            &user,
            self.replicas[replica].origin,
            timestamp,
        );
        if let Ok(event) = event.seal() {
            self.written(replica, event);
        }
    }

    fn written(&mut self, replica: usize, event: VerifiedEvent) {
        self.stats.events_written += 1;
        self.legitimate.insert(event.id);
        self.legitimate_by_group
            .entry(event.event.group.clone())
            .or_default()
            .push(event.id);
        self.replica_apply(replica, &[event]);
    }

    fn replica_apply(&mut self, replica: usize, events: &[VerifiedEvent]) {
        let store = &mut self.replicas[replica].store;
        let inserted = replica::apply(store, events).expect("the memory store never fails");
        if self.params.mutation == Mutation::OrderDependentMerge {
            let inserted: BTreeSet<EventId> = inserted.into_iter().collect();
            let arrived: Vec<&VerifiedEvent> = events
                .iter()
                .filter(|event| inserted.contains(&event.id))
                .collect();
            last_arrival_wins(store, &arrived);
        }
    }

    /// A misbehaving replica sends, outside any session, a request with one event that forges
    /// another user as creator, or that belongs to a group outside its token.
    fn attack(&mut self, replica: usize) {
        let user = self.replicas[replica].user;
        let forge_creator = self.rng.below(2) == 0;
        let (group, creator) = if forge_creator {
            let victim = (user + 1 + self.rng.below(self.users.len() as u64 - 1) as usize)
                % self.users.len();
            (self.pick_group(replica), self.users[victim].name.clone())
        } else {
            let outside: Vec<String> = self
                .group_names
                .iter()
                .filter(|name| self.users[user].groups.index_of(name).is_none())
                .cloned()
                .collect();
            let group = if outside.is_empty() {
                "elsewhere".to_owned()
            } else {
                outside[self.rng.below(outside.len() as u64) as usize].clone()
            };
            (group, self.users[user].name.clone())
        };
        let timestamp = self.next_timestamp(replica);
        let event = Event {
            group,
            collection: COLLECTION.to_owned(),
            target: DocId::new(timestamp.wall_ms, self.rng.bytes()),
            timestamp,
            creator,
            origin: self.replicas[replica].origin,
            base: Vec::new(),
            op: Op::Create(Value::Object(vec![(
                "title".to_owned(),
                Value::String("forged".to_owned()),
            )])),
        }
        .seal()
        .expect("the forged event is well formed");
        if forge_creator {
            self.stats.attacks_creator += 1;
        } else {
            self.stats.attacks_group += 1;
        }
        self.forged.insert(event.id);
        let salt = Salt(self.rng.bytes());
        let request = Request {
            salt,
            groups: fingerprint(&salt, &self.users[user].groups.digest()),
            items: Vec::new(),
            events: vec![event.bytes],
        };
        self.stats.requests += 1;
        let message = Message {
            replica,
            session: 0,
            round: 0,
            to_server: true,
            bytes: encode_frame(&Frame::Request(request)),
        };
        self.transmit(message);
    }

    fn session_start(&mut self, replica: usize) {
        let groups = self.users[self.replicas[replica].user].groups.clone();
        let salt = Salt(self.rng.bytes());
        let id = self.session_next;
        self.session_next += 1;
        self.stats.sessions += 1;
        self.replicas[replica].session = Some(Session {
            id,
            initiator: Initiator::new(groups, salt, self.config),
            round: 0,
            request: Vec::new(),
            attempt: 0,
        });
        self.session_continue(replica);
    }

    /// Asks the initiator for its next request and sends it, or ends the session.
    fn session_continue(&mut self, replica: usize) {
        let state = &mut self.replicas[replica];
        let session = state.session.as_mut().expect("a session is open");
        match session.initiator.poll_request(&state.store) {
            Ok(Some(request)) => {
                session.round += 1;
                session.attempt = 1;
                session.request = encode_frame(&Frame::Request(request));
                let message = Message {
                    replica,
                    session: session.id,
                    round: session.round,
                    to_server: true,
                    bytes: session.request.clone(),
                };
                let (id, round) = (session.id, session.round);
                self.stats.requests += 1;
                self.transmit(message);
                self.schedule(
                    REQUEST_TIMEOUT_MS,
                    Action::Timeout {
                        replica,
                        session: id,
                        round,
                        attempt: 1,
                    },
                );
            }
            Ok(None) => {
                state.session = None;
                state.failures_in_row = 0;
                self.stats.sessions_completed += 1;
            }
            Err(_) => self.session_fail(replica),
        }
    }

    fn session_fail(&mut self, replica: usize) {
        self.stats.sessions_failed += 1;
        let state = &mut self.replicas[replica];
        state.session = None;
        state.failures_in_row += 1;
        let backoff_ms = (1_000u64 << state.failures_in_row.min(6)).min(60_000);
        let jitter = self.rng.below(backoff_ms);
        self.replicas[replica].sync_after_ms = self.now_ms + backoff_ms / 2 + jitter;
    }

    fn timeout(&mut self, replica: usize, session: u64, round: u32, attempt: u32) {
        let Some(open) = self.replicas[replica].session.as_mut() else {
            return;
        };
        if open.id != session || open.round != round || open.attempt != attempt {
            return;
        }
        if attempt >= REQUEST_ATTEMPTS_MAX {
            self.session_fail(replica);
            return;
        }
        open.attempt += 1;
        let message = Message {
            replica,
            session,
            round,
            to_server: true,
            bytes: open.request.clone(),
        };
        self.stats.requests += 1;
        self.stats.retries += 1;
        self.transmit(message);
        self.schedule(
            REQUEST_TIMEOUT_MS,
            Action::Timeout {
                replica,
                session,
                round,
                attempt: attempt + 1,
            },
        );
    }

    /// A response arrived at a replica: the session takes it if it answers the request in
    /// flight (any attempt of it: they are the same request), and ignores it otherwise.
    fn replica_receive(&mut self, message: Message) {
        let replica = message.replica;
        let current = self.replicas[replica]
            .session
            .as_ref()
            .is_some_and(|session| session.id == message.session && session.round == message.round);
        if !current {
            self.stats.responses_stale += 1;
            return;
        }
        let state = &mut self.replicas[replica];
        let session = state.session.as_mut().expect("checked above");
        // Handling the response moves the session to its next round or ends it, so a second
        // copy of this response, or a late answer to an earlier attempt, is stale from here.
        let outcome = match decode_frame(&message.bytes) {
            Ok(Frame::Response(response)) => session.initiator.handle_response(response).ok(),
            _ => None,
        };
        let Some(events) = outcome else {
            self.session_fail(replica);
            return;
        };
        if let Some(latest) = events.iter().map(|event| event.event.timestamp).max() {
            let clock = self.clock_ms(replica);
            let state = &mut self.replicas[replica];
            state.hlc = Hlc::observe(state.hlc, latest, clock);
        }
        self.replica_apply(replica, &events);
        self.session_continue(replica);
    }

    // --- Network ------------------------------------------------------------------------------

    /// Sends a message over the faulty network: it may be dropped, duplicated or held back.
    fn transmit(&mut self, message: Message) {
        let faulty = self.faulty_phase;
        if faulty && self.rng.below(1000) < self.params.drop_per_mille {
            self.stats.dropped += 1;
            return;
        }
        let copies = if faulty && self.rng.below(1000) < self.params.duplicate_per_mille {
            self.stats.duplicated += 1;
            2
        } else {
            1
        };
        for _ in 0..copies {
            let mut latency_ms = 1 + self.rng.below(100);
            if faulty && self.rng.below(1000) < self.params.delay_per_mille {
                self.stats.delayed += 1;
                latency_ms += self.rng.below(20_000);
            }
            self.schedule(latency_ms, Action::Deliver(message.clone()));
        }
    }

    fn deliver(&mut self, message: Message) {
        let replica = &self.replicas[message.replica];
        if replica.partitioned || !replica.online {
            self.stats.lost_to_faults += 1;
            return;
        }
        if message.to_server {
            if !self.server.up {
                self.stats.lost_to_faults += 1;
                return;
            }
            // The server takes a little while over each request; a restart meanwhile loses it.
            let processing_ms = 1 + self.rng.below(100);
            let epoch = self.server.epoch;
            self.schedule(processing_ms, Action::ServerProcess { epoch, message });
        } else if message.session != 0 {
            self.replica_receive(message);
        }
    }

    // --- Server -------------------------------------------------------------------------------

    fn token(&self, replica: usize) -> Token {
        let user = &self.users[self.replicas[replica].user];
        Token {
            user: user.name.clone(),
            groups: user.groups.clone(),
        }
    }

    /// Handles a request: writes its events (not yet synced) and builds the reply, which the
    /// checker reads as it would leave the server.
    fn server_handle(&mut self, replica: usize, request: &[u8]) -> Reply {
        let token = self.token(replica);
        let policy = Policy {
            max_skew_ms: MAX_SKEW_MS,
        };
        let responder = Responder::new(self.config, policy);
        let mut handled = if self.params.mutation == Mutation::SkipCreatorCheck {
            let admitted = admit_skipping_creator_check(&responder, request, &token, self.now_ms);
            handle_admitted(&mut self.server.store, &responder, admitted)
        } else {
            handle_request(
                &mut self.server.store,
                &token,
                self.now_ms,
                policy,
                self.config,
                request,
            )
        };
        if self.params.mutation == Mutation::OrderDependentMerge {
            let arrived: Vec<&VerifiedEvent> = handled.inserted.iter().collect();
            last_arrival_wins(&mut self.server.store, &arrived);
        }
        self.server.unsynced.append(&mut handled.inserted);
        let mut acknowledges = Vec::new();
        match &mut handled.frame {
            Frame::Response(response) => {
                acknowledges = handled
                    .accepted
                    .iter()
                    .map(|event| (event.id, event.event.group.clone()))
                    .collect();
                if self.params.mutation == Mutation::LeakOtherGroups {
                    if let Some(bytes) = self.other_group_event(&token) {
                        response.events.push(bytes);
                    }
                }
                // The checker reads every response the server sends.
                for bytes in &response.events {
                    match VerifiedEvent::decode(bytes) {
                        Ok(event) if token.groups.index_of(&event.event.group).is_none() => {
                            self.violation(
                                ViolationKind::GroupLeaked,
                                format!(
                                    "the server sent {} event {} of group `{}`, outside its token",
                                    token.user, event.id, event.event.group
                                ),
                            );
                        }
                        Ok(_) => {}
                        Err(error) => self.violation(
                            ViolationKind::GroupLeaked,
                            format!("the server sent {} an invalid event: {error}", token.user),
                        ),
                    }
                }
            }
            Frame::Error(body) => match body.code {
                ErrorCode::TimestampInFuture => self.stats.refused_timestamp += 1,
                ErrorCode::ForgedCreator => self.stats.refused_creator += 1,
                ErrorCode::GroupForbidden => self.stats.refused_group += 1,
                _ => self.stats.refused_other += 1,
            },
            Frame::Request(_) => unreachable!("handle_request answers with a Response or Error"),
        }
        Reply {
            bytes: encode_frame(&handled.frame),
            acknowledges,
        }
    }

    /// The reply leaves the server: a response acknowledges the request's events.
    fn server_acknowledge(&mut self, reply: &Reply) {
        for (id, group) in &reply.acknowledges {
            if self.acknowledged.insert(*id, group.clone()).is_none() {
                self.stats.events_acknowledged += 1;
            }
        }
    }

    fn server_reply(&mut self, message: Message, reply: Reply) {
        self.server_acknowledge(&reply);
        self.transmit(Message {
            to_server: false,
            bytes: reply.bytes,
            ..message
        });
    }

    /// An event the server holds in a group outside the token: what a leaking server adds.
    fn other_group_event(&self, token: &Token) -> Option<Vec<u8>> {
        let outside: Vec<&String> = self
            .group_names
            .iter()
            .filter(|name| token.groups.index_of(name).is_none())
            .collect();
        for name in outside {
            if let Some(key) = self.server.store.group_keys(name).first() {
                return self
                    .server
                    .store
                    .event(&key.id())
                    .expect("the memory store never fails");
            }
        }
        None
    }

    /// Handles a request that reached the server. The reply waits for the log sync that makes
    /// the request's events durable (group commit: one sync covers every write before it);
    /// under [`Mutation::AckBeforeWrite`] it goes out at once, before the sync.
    fn server_process(&mut self, message: Message) {
        let reply = self.server_handle(message.replica, &message.bytes);
        let sync_ms = 1 + self.rng.below(300);
        let epoch = self.server.epoch;
        if self.faulty_phase && self.rng.below(1000) < self.params.restart_before_sync_per_mille {
            let crash_ms = self.rng.below(sync_ms);
            self.schedule(crash_ms, Action::ServerCrash);
        }
        if self.params.mutation == Mutation::AckBeforeWrite {
            self.server_reply(message, reply);
            self.schedule(sync_ms, Action::ServerSync { epoch, reply: None });
        } else {
            let reply = Some((message, reply));
            self.schedule(sync_ms, Action::ServerSync { epoch, reply });
        }
    }

    /// The server restarts: what was not durable is gone, and so are the requests it was
    /// handling. Then the checker makes sure nothing acknowledged went with them.
    fn server_crash(&mut self) {
        if !self.server.up {
            return;
        }
        self.stats.restarts += 1;
        self.check_server_holds_no_forged_event("before a restart");
        self.server.up = false;
        self.server.epoch += 1;
        self.stats.writes_lost_to_restart += self.server.unsynced.len() as u64;
        self.server.unsynced.clear();
        let mut store = MemoryStore::new();
        replica::apply(&mut store, &self.server.durable).expect("the memory store never fails");
        self.server.store = store;
        let lost = self.acknowledged_missing_on_server();
        for id in lost {
            self.violation(
                ViolationKind::AcknowledgedEventLost,
                format!(
                    "event {id} was acknowledged, but the server no longer holds it after the \
                     restart at {} ms",
                    self.now_ms - START_MS
                ),
            );
        }
        let downtime_ms = 500 + self.rng.below(10_000);
        self.schedule(downtime_ms, Action::ServerUp);
    }

    // --- Heal and final checks ----------------------------------------------------------------

    fn heal(&mut self) {
        // Nothing is left in the queue: the faulty phase ran it dry. Clocks are fixed, and time
        // moves past every timestamp written, so that events a fast clock dated ahead come due.
        for replica in &mut self.replicas {
            replica.online = true;
            replica.partitioned = false;
            replica.skew_ms = 0;
            replica.session = None;
        }
        self.server.up = true;
        let newest_ms = self
            .replicas
            .iter()
            .map(|replica| replica.hlc.wall_ms)
            .max()
            .unwrap_or(0);
        self.now_ms = self.now_ms.max(newest_ms) + 1;
        const HEAL_ROUNDS_MAX: u64 = 6;
        let mut quiet = false;
        for round in 0..HEAL_ROUNDS_MAX {
            let mut moved = 0;
            for replica in 0..self.replicas.len() {
                moved += self.sync_direct(replica);
            }
            self.stats.heal_rounds += 1;
            if moved == 0 && round > 0 {
                quiet = true;
                break;
            }
        }
        if !quiet {
            self.violation(
                ViolationKind::HealFailed,
                format!("events still moved after {HEAL_ROUNDS_MAX} rounds of syncing everyone"),
            );
        }
    }

    /// One whole session without faults, through encoded frames; returns the events moved.
    fn sync_direct(&mut self, replica: usize) -> usize {
        let groups = self.users[self.replicas[replica].user].groups.clone();
        let salt = Salt(self.rng.bytes());
        let mut initiator = Initiator::new(groups, salt, self.config);
        let mut moved = 0;
        self.stats.sessions += 1;
        loop {
            let request = match initiator.poll_request(&self.replicas[replica].store) {
                Ok(Some(request)) => request,
                Ok(None) => {
                    self.stats.sessions_completed += 1;
                    return moved;
                }
                Err(error) => {
                    self.heal_failed(replica, &error.to_string());
                    return moved;
                }
            };
            moved += request.events.len();
            self.stats.requests += 1;
            let reply = self.server_handle(replica, &encode_frame(&Frame::Request(request)));
            let unsynced = std::mem::take(&mut self.server.unsynced);
            self.server.durable.extend(unsynced);
            self.server_acknowledge(&reply);
            let response = match decode_frame(&reply.bytes) {
                Ok(Frame::Response(response)) => response,
                Ok(Frame::Error(body)) => {
                    self.heal_failed(replica, &format!("{} {}", body.code.name(), body.message));
                    return moved;
                }
                other => {
                    self.heal_failed(replica, &format!("{other:?}"));
                    return moved;
                }
            };
            match initiator.handle_response(response) {
                Ok(events) => {
                    moved += events.len();
                    self.replica_apply(replica, &events);
                }
                Err(error) => {
                    self.heal_failed(replica, &error.to_string());
                    return moved;
                }
            }
        }
    }

    fn heal_failed(&mut self, replica: usize, why: &str) {
        self.stats.sessions_failed += 1;
        self.violation(
            ViolationKind::HealFailed,
            format!("replica {replica}: a session without faults failed: {why}"),
        );
    }

    fn check_server_holds_no_forged_event(&mut self, when: &str) {
        let mut found = Vec::new();
        for name in self
            .group_names
            .iter()
            .map(String::as_str)
            .chain(["elsewhere"])
        {
            for key in self.server.store.group_keys(name) {
                if !self.legitimate.contains(&key.id()) {
                    found.push(key.id());
                }
            }
        }
        for id in found {
            let forged = self.forged.contains(&id);
            self.violation(
                ViolationKind::ForgedEventHeld,
                format!("{when}, the server holds event {id} (forged by the misbehaving replica: {forged}), which nobody wrote legitimately"),
            );
        }
    }

    /// The acknowledged events the server does not hold.
    fn acknowledged_missing_on_server(&self) -> Vec<EventId> {
        self.acknowledged
            .keys()
            .filter(|id| !self.server.store.has_event(id).expect("never fails"))
            .copied()
            .collect()
    }

    fn check_final(&mut self) {
        self.check_server_holds_no_forged_event("at the end");
        let lost = self.acknowledged_missing_on_server();
        for id in lost {
            self.violation(
                ViolationKind::AcknowledgedEventLost,
                format!("at the end, the server lacks acknowledged event {id}"),
            );
        }
        // The server's documents must be the merge of its events from scratch.
        let mut server_events = Vec::new();
        for name in &self.group_names {
            for key in self.server.store.group_keys(name) {
                let bytes = self
                    .server
                    .store
                    .event(&key.id())
                    .expect("never fails")
                    .expect("a key's event is stored");
                server_events.push(VerifiedEvent::decode(&bytes).expect("stored events decode"));
            }
        }
        let replayed = replica::replay(&server_events);
        if &replayed != self.server.store.all_docs() {
            self.violation(
                ViolationKind::StateNotReplay,
                "the server's document states differ from a replay of its events".to_owned(),
            );
        }
        let tree = Tree::new(&self.server.store);
        let server_roots: BTreeMap<&String, _> = self
            .group_names
            .iter()
            .map(|name| (name, tree.root(name).expect("never fails")))
            .collect();
        let server_docs: BTreeMap<&String, Vec<Vec<u8>>> = self
            .group_names
            .iter()
            .map(|name| (name, encoded_docs(&self.server.store, name)))
            .collect();
        let mut found = Vec::new();
        for (index, replica) in self.replicas.iter().enumerate() {
            let user = &self.users[replica.user];
            let store = &replica.store;
            let mut own = 0;
            for name in user.groups.names() {
                let keys = store.group_keys(name);
                own += keys.len();
                for key in &keys {
                    if !self.legitimate.contains(&key.id()) {
                        found.push((
                            ViolationKind::ForgedEventHeld,
                            format!("replica {index} holds event {} that nobody wrote legitimately (forged: {})", key.id(), self.forged.contains(&key.id())),
                        ));
                    }
                }
                if Tree::new(store).root(name).expect("never fails") != server_roots[name] {
                    found.push((
                        ViolationKind::Divergence,
                        format!("replica {index} ({}) has another root than the server for group `{name}`", user.name),
                    ));
                }
                if encoded_docs(store, name) != server_docs[name] {
                    found.push((
                        ViolationKind::Divergence,
                        format!("replica {index} ({}) has other document states than the server for group `{name}`", user.name),
                    ));
                }
                for id in self.legitimate_by_group.get(name).into_iter().flatten() {
                    if !store.has_event(id).expect("never fails") {
                        found.push((
                            ViolationKind::EventMissing,
                            format!(
                                "replica {index} lacks event {id} of its group `{name}` (acknowledged: {})",
                                self.acknowledged.contains_key(id)
                            ),
                        ));
                    }
                }
            }
            if store.events_len() != own {
                found.push((
                    ViolationKind::ForeignEventHeld,
                    format!(
                        "replica {index} ({}) holds {} events of groups outside its token",
                        user.name,
                        store.events_len() - own
                    ),
                ));
            }
            let inbox = store.inbox(&user.name).expect("never fails");
            let server_inbox = self.server.store.inbox(&user.name).expect("never fails");
            if inbox != server_inbox {
                found.push((
                    ViolationKind::Divergence,
                    format!(
                        "replica {index} ({}) has {} conflicts in its inbox, the server {}",
                        user.name,
                        inbox.len(),
                        server_inbox.len()
                    ),
                ));
            }
        }
        for (kind, detail) in found {
            self.violation(kind, detail);
        }
    }

    fn digest(&self) -> [u8; 32] {
        let mut hasher = blake3::Hasher::new();
        let stores = std::iter::once(&self.server.store)
            .chain(self.replicas.iter().map(|replica| &replica.store));
        for store in stores {
            for name in &self.group_names {
                hasher.update(&Tree::new(store).root(name).expect("never fails").0);
                for bytes in encoded_docs(store, name) {
                    hasher.update(&bytes);
                }
            }
        }
        hasher.update(format!("{:?}", self.stats).as_bytes());
        *hasher.finalize().as_bytes()
    }
}

/// A group's document states in the §9.9 encoding, ordered by document.
fn encoded_docs(store: &MemoryStore, group: &str) -> Vec<Vec<u8>> {
    store
        .docs(group, COLLECTION)
        .expect("never fails")
        .into_iter()
        .map(|(key, state)| {
            let mut bytes = postcard::to_allocvec(&key).expect("a key encodes");
            bytes.extend(postcard::to_allocvec(&state).expect("a state encodes"));
            bytes
        })
        .collect()
}

/// [`Mutation::OrderDependentMerge`]: after the real merge, overwrite each document's value
/// with the effect of the event that arrived last, as a naive "last arrival wins" merge would.
fn last_arrival_wins(store: &mut MemoryStore, arrived: &[&VerifiedEvent]) {
    let mut states = BTreeMap::new();
    for event in arrived {
        let doc = DocKey::of(&event.event);
        let mut state = match states.remove(&doc) {
            Some(state) => state,
            None => match store.doc_state(&doc).expect("never fails") {
                Some(state) => state,
                None => continue,
            },
        };
        match &event.event.op {
            Op::Create(value) => state.value = Some(value.clone()),
            Op::Remove => state.value = None,
            Op::Update(patch) => {
                if let Some(Value::Object(fields)) = &mut state.value {
                    for (path, value) in &patch.0 {
                        let [name] = path.0.as_slice() else { continue };
                        fields.retain(|(key, _)| key != name);
                        if let Some(value) = value {
                            fields.push((name.clone(), value.clone()));
                        }
                    }
                    fields.sort_by(|left, right| left.0.cmp(&right.0));
                }
            }
        }
        states.insert(doc, state);
    }
    let batch = Batch {
        doc_states: states.into_iter().collect(),
        ..Batch::default()
    };
    if !batch.is_empty() {
        store.commit(batch).expect("never fails");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Item;

    fn token() -> Token {
        Token {
            user: "alice".to_owned(),
            groups: Groups::new(["home", "work"]).unwrap(),
        }
    }

    fn event(group: &str, creator: &str, wall_ms: u64) -> VerifiedEvent {
        Event {
            group: group.to_owned(),
            collection: COLLECTION.to_owned(),
            target: DocId::new(wall_ms, [1; 10]),
            timestamp: Hlc {
                wall_ms,
                counter: 0,
            },
            creator: creator.to_owned(),
            origin: ReplicaId([2; 16]),
            base: Vec::new(),
            op: Op::Create(Value::Object(Vec::new())),
        }
        .seal()
        .unwrap()
    }

    fn request_with(token: &Token, events: &[VerifiedEvent]) -> Vec<u8> {
        let salt = Salt([9; 16]);
        encode_frame(&Frame::Request(Request {
            salt,
            groups: fingerprint(&salt, &token.groups.digest()),
            items: Vec::new(),
            events: events.iter().map(|event| event.bytes.clone()).collect(),
        }))
    }

    fn code_of(handled: &Handled) -> Option<ErrorCode> {
        match &handled.frame {
            Frame::Error(body) => Some(body.code),
            _ => None,
        }
    }

    /// Guards the server's policy: each rule refuses the whole request and writes nothing.
    #[test]
    fn policy_refuses_forged_creators_foreign_groups_and_future_timestamps() {
        let token = token();
        let now_ms = START_MS;
        let good = event("home", "alice", now_ms);
        let cases = [
            (event("home", "bob", now_ms), ErrorCode::ForgedCreator),
            (event("play", "alice", now_ms), ErrorCode::GroupForbidden),
            (
                event("work", "alice", now_ms + MAX_SKEW_MS + 1),
                ErrorCode::TimestampInFuture,
            ),
        ];
        for (bad, code) in cases {
            let mut store = MemoryStore::new();
            let frame = request_with(&token, &[good.clone(), bad]);
            let handled = handle_request(
                &mut store,
                &token,
                now_ms,
                Policy::default(),
                Config::default(),
                &frame,
            );
            assert_eq!(code_of(&handled), Some(code));
            assert_eq!(store.events_len(), 0, "a refused request wrote nothing");
            assert!(handled.accepted.is_empty());
        }
    }

    /// Guards the boundary of the skew rule and the acknowledgement of accepted events.
    #[test]
    fn policy_accepts_events_at_the_skew_limit() {
        let token = token();
        let mut store = MemoryStore::new();
        let events = [
            event("home", "alice", START_MS + MAX_SKEW_MS),
            event("work", "alice", START_MS - DAY_MS as u64),
        ];
        let handled = handle_request(
            &mut store,
            &token,
            START_MS,
            Policy::default(),
            Config::default(),
            &request_with(&token, &events),
        );
        assert_eq!(code_of(&handled), None);
        assert_eq!(handled.accepted.len(), 2);
        assert_eq!(handled.inserted.len(), 2);
        assert_eq!(store.events_len(), 2);
        // The same request again is acknowledged and inserts nothing.
        let again = handle_request(
            &mut store,
            &token,
            START_MS,
            Policy::default(),
            Config::default(),
            &request_with(&token, &events),
        );
        assert_eq!(again.accepted.len(), 2);
        assert!(again.inserted.is_empty());
    }

    /// Guards the order of §15.4: items that name groups outside the session, or a `More`,
    /// refuse the request before its events are written.
    #[test]
    fn bad_items_refuse_the_request_before_the_write() {
        use crate::tree::Path;
        let token = token();
        let good = event("home", "alice", START_MS);
        let bad_items = [
            (
                Item::Need {
                    group: 2,
                    prefix: Path::root(),
                    after: None,
                },
                ErrorCode::MalformedFrame,
            ),
            (
                Item::More {
                    group: 0,
                    prefix: Path::root(),
                    after: None,
                },
                ErrorCode::UnexpectedFrame,
            ),
        ];
        for (item, code) in bad_items {
            let salt = Salt([9; 16]);
            let frame = encode_frame(&Frame::Request(Request {
                salt,
                groups: fingerprint(&salt, &token.groups.digest()),
                items: vec![item],
                events: vec![good.bytes.clone()],
            }));
            let mut store = MemoryStore::new();
            let handled = handle_request(
                &mut store,
                &token,
                START_MS,
                Policy::default(),
                Config::default(),
                &frame,
            );
            assert_eq!(code_of(&handled), Some(code));
            assert_eq!(store.events_len(), 0);
        }
    }

    /// Guards against frames a responder must not take.
    #[test]
    fn handle_request_refuses_other_frames_and_garbage() {
        let token = token();
        let mut store = MemoryStore::new();
        let error = encode_frame(&Frame::Error(ErrorBody::new(ErrorCode::Internal, "x")));
        for frame in [error, vec![], vec![1, 0, 0xff]] {
            let handled = handle_request(
                &mut store,
                &token,
                START_MS,
                Policy::default(),
                Config::default(),
                &frame,
            );
            assert!(code_of(&handled).is_some());
        }
        assert_eq!(store.events_len(), 0);
    }
}
