//! The simulated world: the state of the server and every replica, the queue of scheduled
//! actions in simulated time, and the phases of a run (faults, then heal).

use std::cmp::Ordering;
use std::collections::{BTreeMap, BinaryHeap, HashSet};

use tideline_protocol::event::{EventId, Hlc, ReplicaId};
use tideline_protocol::store::MemoryStore;
use tideline_protocol::sync::{Config, Initiator, MAX_SKEW_MS};
use tideline_protocol::tree::Tree;
use tideline_protocol::wire::{decode_frame, encode_frame, Frame, Groups, Salt};

use super::checker::{encoded_docs, Violation, ViolationKind};
use super::network::Message;
use super::replica::{Replica, User};
use super::server::{Reply, Server};
use super::{Params, Rng, Stats, DAY_MS, START_MS};

/// Something scheduled to happen at a simulated time.
pub(super) enum Action {
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

/// An action in the queue, ordered by time and then by when it was scheduled.
pub(super) struct Scheduled {
    pub(super) at_ms: u64,
    pub(super) sequence: u64,
    pub(super) action: Action,
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

/// Everything one run simulates and checks.
pub(super) struct World {
    pub(super) params: Params,
    pub(super) config: Config,
    pub(super) rng: Rng,
    pub(super) now_ms: u64,
    pub(super) queue: BinaryHeap<Scheduled>,
    pub(super) sequence: u64,
    pub(super) users: Vec<User>,
    pub(super) group_names: Vec<String>,
    pub(super) replicas: Vec<Replica>,
    pub(super) server: Server,
    pub(super) session_next: u64,
    /// Every event written legitimately (creator = its writer's user, group in its token).
    pub(super) legitimate: HashSet<EventId>,
    /// Legitimate events by group, for the final checks.
    pub(super) legitimate_by_group: BTreeMap<String, Vec<EventId>>,
    /// Events a misbehaving replica forged or sent outside its token.
    pub(super) forged: HashSet<EventId>,
    /// Every event the server acknowledged, with its group.
    pub(super) acknowledged: BTreeMap<EventId, String>,
    /// Whether replicas still act (write, sync, attack) and faults still happen.
    pub(super) faulty_phase: bool,
    pub(super) stats: Stats,
    pub(super) violations: Vec<Violation>,
}

impl World {
    pub(super) fn new(params: Params) -> World {
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
        let replicas = replicas_new(&params, &mut rng, &mut stats);
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

    pub(super) fn schedule(&mut self, delay_ms: u64, action: Action) {
        self.sequence += 1;
        self.queue.push(Scheduled {
            at_ms: self.now_ms + delay_ms,
            sequence: self.sequence,
            action,
        });
    }

    pub(super) fn schedule_faults(&mut self) {
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

    pub(super) fn run_faulty_phase(&mut self) {
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

    pub(super) fn perform(&mut self, action: Action) {
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

    pub(super) fn heal(&mut self) {
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
    pub(super) fn sync_direct(&mut self, replica: usize) -> usize {
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

    pub(super) fn digest(&self) -> [u8; 32] {
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

/// The replicas of a run: each one's user, clock skew (most within a second, some minutes off,
/// some up to a day) and origin, from `rng`. The last one misbehaves. Counts the fast clocks
/// in `stats`.
fn replicas_new(params: &Params, rng: &mut Rng, stats: &mut Stats) -> Vec<Replica> {
    (0..params.replicas)
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
        .collect()
}
