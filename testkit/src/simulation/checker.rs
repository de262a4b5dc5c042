//! The checker: the invariants every run must keep, checked after each server restart and at
//! the end, and the violations a run reports when one breaks.

use std::collections::BTreeMap;
use std::fmt;

use tideline_protocol::event::{EventId, VerifiedEvent};
use tideline_protocol::replica;
use tideline_protocol::store::{MemoryStore, ReadStore};
use tideline_protocol::tree::{Digest, Tree};

use super::server::Token;
use super::world::World;
use super::COLLECTION;

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

/// How many violations a report keeps; one is enough to fail, a few help to diagnose.
pub const VIOLATIONS_KEPT_MAX: usize = 20;

impl World {
    /// The checker reads every response the server sends `token`'s user: each of `events` must
    /// be valid and of one of the token's groups.
    pub(super) fn check_response_groups(&mut self, token: &Token, events: &[Vec<u8>]) {
        for bytes in events {
            match VerifiedEvent::decode(bytes) {
                Ok(event) if token.groups.index_of(&event.event().group).is_none() => {
                    self.violation(
                        ViolationKind::GroupLeaked,
                        format!(
                            "the server sent {} event {} of group `{}`, outside its token",
                            token.user,
                            event.id(),
                            event.event().group
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

    pub(super) fn violation(&mut self, kind: ViolationKind, detail: String) {
        if self.violations.len() < VIOLATIONS_KEPT_MAX {
            self.violations.push(Violation { kind, detail });
        }
    }

    pub(super) fn heal_failed(&mut self, replica: usize, why: &str) {
        self.stats.sessions_failed += 1;
        self.violation(
            ViolationKind::HealFailed,
            format!("replica {replica}: a session without faults failed: {why}"),
        );
    }

    pub(super) fn check_server_holds_no_forged_event(&mut self, when: &str) {
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
    pub(super) fn acknowledged_missing_on_server(&self) -> Vec<EventId> {
        self.acknowledged
            .keys()
            .filter(|id| !self.server.store.has_event(id).expect("never fails"))
            .copied()
            .collect()
    }

    /// The checks at the end of a run, after healing: nothing forged or acknowledged is
    /// missing or held wrongly, the server's states are a replay, and every replica agrees with
    /// the server on its groups.
    pub(super) fn check_final(&mut self) {
        self.check_server_holds_no_forged_event("at the end");
        let lost = self.acknowledged_missing_on_server();
        for id in lost {
            self.violation(
                ViolationKind::AcknowledgedEventLost,
                format!("at the end, the server lacks acknowledged event {id}"),
            );
        }
        self.check_server_is_replay();
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
        for index in 0..self.replicas.len() {
            found.extend(self.replica_findings(index, &server_roots, &server_docs));
        }
        for (kind, detail) in found {
            self.violation(kind, detail);
        }
    }

    /// The server's documents must be the merge of its events from scratch.
    fn check_server_is_replay(&mut self) {
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
    }

    /// What is wrong with replica `index` after healing, compared with the server's roots and
    /// document states per group.
    fn replica_findings(
        &self,
        index: usize,
        server_roots: &BTreeMap<&String, Digest>,
        server_docs: &BTreeMap<&String, Vec<Vec<u8>>>,
    ) -> Vec<(ViolationKind, String)> {
        let replica = &self.replicas[index];
        let mut found = Vec::new();
        let user = &self.users[replica.user];
        let store = &replica.store;
        let mut own = 0;
        for name in user.groups.names() {
            own += store.group_keys(name).len();
            found.extend(self.group_findings(index, name, server_roots, server_docs));
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
        found
    }

    /// What is wrong with replica `index`'s copy of group `name` after healing: events nobody
    /// wrote legitimately, legitimate events it lacks, and another root or other document
    /// states than the server's.
    fn group_findings(
        &self,
        index: usize,
        name: &String,
        server_roots: &BTreeMap<&String, Digest>,
        server_docs: &BTreeMap<&String, Vec<Vec<u8>>>,
    ) -> Vec<(ViolationKind, String)> {
        let replica = &self.replicas[index];
        let user = &self.users[replica.user];
        let store = &replica.store;
        let mut found = Vec::new();
        for key in store.group_keys(name) {
            if !self.legitimate.contains(&key.id()) {
                found.push((
                    ViolationKind::ForgedEventHeld,
                    format!(
                        "replica {index} holds event {} that nobody wrote legitimately (forged: {})",
                        key.id(),
                        self.forged.contains(&key.id())
                    ),
                ));
            }
        }
        if Tree::new(store).root(name).expect("never fails") != server_roots[name] {
            found.push((
                ViolationKind::Divergence,
                format!(
                    "replica {index} ({}) has another root than the server for group `{name}`",
                    user.name
                ),
            ));
        }
        if encoded_docs(store, name) != server_docs[name] {
            found.push((
                ViolationKind::Divergence,
                format!(
                    "replica {index} ({}) has other document states than the server for group \
                     `{name}`",
                    user.name
                ),
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
        found
    }
}

/// A group's document states in the §9.9 encoding, ordered by document.
pub(super) fn encoded_docs(store: &MemoryStore, group: &str) -> Vec<Vec<u8>> {
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
