//! What replicas do: write and resolve with real events, attack (the misbehaving one), and run
//! sync sessions with the real initiator, retrying a request after a timeout.

use std::collections::BTreeSet;

use tideline_protocol::event::{DocId, EventId, FieldPath, Hlc, Patch, ReplicaId, VerifiedEvent};
use tideline_protocol::merge::{ConflictKind, Decision, DocKey};
use tideline_protocol::replica;
use tideline_protocol::store::{MemoryStore, ReadStore};
use tideline_protocol::sync::Initiator;
use tideline_protocol::value::Value;
use tideline_protocol::wire::{
    decode_frame, encode_frame, fingerprint, Frame, Groups, Request, Salt,
};
use tideline_protocol::write::{
    self, Author, LocalWrite, WriteContext, WriteOp, DOC_ID_RANDOM_BYTES,
};

use crate::events::{object, EventBuilder};

use super::mutations::{last_arrival_wins, Mutation};
use super::network::Message;
use super::world::{Action, World};
use super::{COLLECTION, REQUEST_ATTEMPTS_MAX, REQUEST_TIMEOUT_MS};

/// A user: a name and the groups their token grants; replicas of one user share it.
pub(super) struct User {
    pub(super) name: String,
    pub(super) groups: Groups,
}

/// A replica's sync session in progress: the real initiator and the request in flight.
pub(super) struct Session {
    pub(super) id: u64,
    pub(super) initiator: Initiator,
    /// Which request of the session is in flight, from 1: a response must carry it.
    pub(super) round: u32,
    /// The encoded request in flight, kept to send again after a timeout.
    pub(super) request: Vec<u8>,
    pub(super) attempt: u32,
}

/// One replica: its store, its clock, its connectivity and its session.
pub(super) struct Replica {
    pub(super) user: usize,
    pub(super) store: MemoryStore,
    pub(super) origin: ReplicaId,
    /// This replica's wall clock minus simulated time; 0 once healed.
    pub(super) skew_ms: i64,
    /// The last timestamp this replica issued or saw.
    pub(super) hlc: Hlc,
    pub(super) online: bool,
    pub(super) partitioned: bool,
    pub(super) misbehaving: bool,
    pub(super) session: Option<Session>,
    /// No new session before this time: the backoff after a failure.
    pub(super) sync_after_ms: u64,
    pub(super) failures_in_row: u32,
}

impl World {
    pub(super) fn clock_ms(&self, replica: usize) -> u64 {
        (self.now_ms as i64 + self.replicas[replica].skew_ms).max(0) as u64
    }

    pub(super) fn replica_tick(&mut self, replica: usize) {
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

    pub(super) fn next_timestamp(&mut self, replica: usize) -> Hlc {
        let clock = self.clock_ms(replica);
        let hlc = Hlc::tick(self.replicas[replica].hlc, clock);
        self.replicas[replica].hlc = hlc;
        hlc
    }

    pub(super) fn pick_group(&mut self, replica: usize) -> String {
        let names = self.users[self.replicas[replica].user].groups.names();
        names[self.rng.below(names.len() as u64) as usize].clone()
    }

    /// A small random value for a field.
    pub(super) fn value(&mut self) -> Value {
        match self.rng.below(3) {
            0 => Value::Int(self.rng.below(100) as i64),
            1 => Value::String(format!("v{}", self.rng.below(1000))),
            _ => Value::Array(vec![Value::Bool(self.rng.below(2) == 0)]),
        }
    }

    /// Creates, updates or removes a document through the real local write path.
    pub(super) fn write(&mut self, replica: usize) {
        let group = self.pick_group(replica);
        // Only documents a user sees (present and not removed) take edits, as in the client.
        let docs: Vec<DocKey> = self.replicas[replica]
            .store
            .docs(&group, COLLECTION)
            .expect("the memory store never fails")
            .into_iter()
            .filter(|(_, state)| state.value.is_some())
            .map(|(key, _)| key)
            .collect();
        let dice = self.rng.below(100);
        let op = if docs.is_empty() || dice < 35 {
            let fields = vec![
                ("n".to_owned(), self.value()),
                ("title".to_owned(), self.value()),
            ];
            WriteOp::Create(Value::Object(fields))
        } else {
            let target = docs[self.rng.below(docs.len() as u64) as usize].target;
            if dice < 90 {
                WriteOp::Update {
                    target,
                    patch: self.patch(),
                }
            } else {
                WriteOp::Remove { target }
            }
        };
        // Only a create uses the random bytes: drawing them for it alone keeps each seed's
        // sequence of draws what it was when the simulation wrote events itself.
        let random = match op {
            WriteOp::Create(_) => self.rng.bytes(),
            _ => [0; DOC_ID_RANDOM_BYTES],
        };
        self.local_write(replica, &group, op, random);
    }

    /// One or two of a few fields, sorted, set or deleted.
    fn patch(&mut self) -> Patch {
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
        Patch(entries)
    }

    /// Seals `op` with the replica's clock and identity through `tideline_protocol::write`, the
    /// client's own write path, then applies it like any event the replica holds.
    fn local_write(&mut self, replica: usize, group: &str, op: WriteOp, random: [u8; 10]) {
        let user = self.users[self.replicas[replica].user].name.clone();
        let author = Author {
            user: &user,
            replica: self.replicas[replica].origin,
        };
        let context = WriteContext {
            now_ms: self.clock_ms(replica),
            random,
        };
        let write = LocalWrite {
            group,
            collection: COLLECTION,
            op,
        };
        let last = self.replicas[replica].hlc;
        // A refused write (a document with more heads than a base may name, a conflict already
        // resolved) is what a person would see as an error: nothing is written.
        if let Ok(local) = write::seal(&self.replicas[replica].store, author, last, context, write)
        {
            self.replicas[replica].hlc = local.hlc();
            // Applied through `written`, not `write::write`, so the mutations that wrap the
            // apply see the replica's own events too.
            self.written(replica, local.into_event());
        }
    }

    /// Resolves one conflict from the user's inbox, as a person would.
    pub(super) fn resolve(&mut self, replica: usize) {
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
        let op = WriteOp::Resolve {
            target: doc.target,
            conflict: conflict_id,
            decision,
        };
        self.local_write(replica, &doc.group, op, [0; DOC_ID_RANDOM_BYTES]);
    }

    pub(super) fn written(&mut self, replica: usize, event: VerifiedEvent) {
        self.stats.events_written += 1;
        self.legitimate.insert(event.id());
        self.legitimate_by_group
            .entry(event.event().group.clone())
            .or_default()
            .push(event.id());
        self.replica_apply(replica, &[event]);
    }

    pub(super) fn replica_apply(&mut self, replica: usize, events: &[VerifiedEvent]) {
        let store = &mut self.replicas[replica].store;
        let inserted = replica::apply(store, events).expect("the memory store never fails");
        if self.params.mutation == Mutation::OrderDependentMerge {
            let inserted: BTreeSet<EventId> = inserted.into_iter().collect();
            let arrived: Vec<&VerifiedEvent> = events
                .iter()
                .filter(|event| inserted.contains(&event.id()))
                .collect();
            last_arrival_wins(store, &arrived);
        }
    }

    /// A misbehaving replica sends, outside any session, a request with one event that forges
    /// another user as creator, or that belongs to a group outside its token.
    pub(super) fn attack(&mut self, replica: usize) {
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
        let event = EventBuilder::create(object([("title", Value::String("forged".to_owned()))]))
            .group(&group)
            .collection(COLLECTION)
            .target(DocId::new(timestamp.wall_ms, self.rng.bytes()))
            .at(timestamp.wall_ms)
            .counter(timestamp.counter)
            .creator(&creator)
            .origin(self.replicas[replica].origin)
            .seal();
        if forge_creator {
            self.stats.attacks_creator += 1;
        } else {
            self.stats.attacks_group += 1;
        }
        self.forged.insert(event.id());
        let salt = Salt(self.rng.bytes());
        let request = Request {
            salt,
            groups: fingerprint(&salt, &self.users[user].groups.digest()),
            items: Vec::new(),
            events: vec![event.into_bytes()],
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

    pub(super) fn session_start(&mut self, replica: usize) {
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
    pub(super) fn session_continue(&mut self, replica: usize) {
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

    pub(super) fn session_fail(&mut self, replica: usize) {
        self.stats.sessions_failed += 1;
        let state = &mut self.replicas[replica];
        state.session = None;
        state.failures_in_row += 1;
        let backoff_ms = (1_000u64 << state.failures_in_row.min(6)).min(60_000);
        let jitter = self.rng.below(backoff_ms);
        self.replicas[replica].sync_after_ms = self.now_ms + backoff_ms / 2 + jitter;
    }

    pub(super) fn timeout(&mut self, replica: usize, session: u64, round: u32, attempt: u32) {
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
    pub(super) fn replica_receive(&mut self, message: Message) {
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
        if let Some(latest) = events.iter().map(|event| event.event().timestamp).max() {
            let clock = self.clock_ms(replica);
            let state = &mut self.replicas[replica];
            state.hlc = Hlc::observe(state.hlc, latest, clock);
        }
        self.replica_apply(replica, &events);
        self.session_continue(replica);
    }
}
