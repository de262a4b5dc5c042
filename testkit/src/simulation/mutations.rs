//! The deliberate bugs the simulation can switch on, to prove that its checker catches each.
//! They wrap the real code from outside (the server admits a request as another user, a merge
//! is overwritten after the fact, a response gets an extra event, a reply leaves early): the
//! protocol's types carry no switch for them.

use std::collections::BTreeMap;

use tideline_protocol::event::{Op, VerifiedEvent};
use tideline_protocol::merge::DocKey;
use tideline_protocol::store::{Batch, MemoryStore, ReadStore, Store};
use tideline_protocol::value::Value;
use tideline_protocol::wire::{decode_frame, Frame};

use super::server::Token;
use super::world::World;

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
    /// The server admits a request as the user its first event names, not as the token's
    /// user, so that it accepts an event whose creator is forged.
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

impl World {
    /// An event the server holds in a group outside the token: what a leaking server adds.
    pub(super) fn other_group_event(&self, token: &Token) -> Option<Vec<u8>> {
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
}

/// [`Mutation::OrderDependentMerge`]: after the real merge, overwrite each document's value
/// with the effect of the event that arrived last, as a naive "last arrival wins" merge would.
pub(super) fn last_arrival_wins(store: &mut MemoryStore, arrived: &[&VerifiedEvent]) {
    let mut states = BTreeMap::new();
    for event in arrived {
        let doc = DocKey::of(event.event());
        let mut state = match states.remove(&doc) {
            Some(state) => state,
            None => match store.doc_state(&doc).expect("never fails") {
                Some(state) => state,
                None => continue,
            },
        };
        match &event.event().op {
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

/// [`Mutation::SkipCreatorCheck`]: the creator that `request`'s first event names, if it is a
/// request with a valid first event. A server that admits the request as this user accepts
/// that event whoever sent it, as a server without the creator check would.
pub(super) fn first_creator(request: &[u8]) -> Option<String> {
    let Ok(Frame::Request(request)) = decode_frame(request) else {
        return None;
    };
    let first = request.events.first()?;
    let event = VerifiedEvent::decode(first).ok()?;
    Some(event.event().creator.clone())
}
