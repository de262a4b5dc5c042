//! The simulated server: its request handling (the protocol's
//! [`Responder`](tideline_protocol::sync::Responder), then the write), its log sync, and its
//! restarts, which lose what was not yet synced.

use std::collections::BTreeSet;

use tideline_protocol::event::{EventId, VerifiedEvent};
use tideline_protocol::replica;
use tideline_protocol::store::{MemoryStore, Store};
use tideline_protocol::sync::{Policy, Responder, MAX_SKEW_MS};
use tideline_protocol::wire::{encode_frame, ErrorBody, ErrorCode, Frame, Groups};

use super::checker::ViolationKind;
use super::mutations::{first_creator, last_arrival_wins, Mutation};
use super::network::Message;
use super::world::{Action, World};
use super::START_MS;

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

/// Handles one encoded request the way the reference server does, minus HTTP: the protocol's
/// [`Responder::admit`] (decoding, groups, items, creator and clock policy), then write the
/// events (the caller makes them durable before it sends the response, since the response
/// acknowledges them), then [`Responder::respond`]. Never panics on any input; refuses without
/// writing anything unless every check before the write passes.
pub fn handle_request<S: Store + ?Sized>(
    store: &mut S,
    token: &Token,
    now_ms: u64,
    responder: &Responder,
    frame: &[u8],
) -> Handled {
    let admitted = match responder.admit(frame, &token.groups, &token.user, now_ms) {
        Ok(admitted) => admitted,
        Err(error) => return Handled::refused(ErrorBody::from(&error)),
    };
    let inserted_ids: BTreeSet<EventId> = match replica::apply(store, admitted.events()) {
        Ok(ids) => ids.into_iter().collect(),
        // The message stays generic: storage internals are not the peer's business.
        Err(_) => {
            return Handled::refused(ErrorBody::new(
                ErrorCode::Internal,
                "the server could not store the events; retry later",
            ))
        }
    };
    let inserted = admitted
        .events()
        .iter()
        .filter(|event| inserted_ids.contains(&event.id()))
        .cloned()
        .collect();
    let frame = match responder.respond(&*store, &admitted) {
        Ok(response) => Frame::Response(response),
        Err(error) => Frame::Error(ErrorBody::new(error.code(), &error.to_string())),
    };
    Handled {
        frame,
        accepted: admitted.into_events(),
        inserted,
    }
}

/// The server: its store, what is durable, what is not yet synced, and whether it is up.
pub(super) struct Server {
    /// What the server reads and writes: durable writes and writes not yet synced.
    pub(super) store: MemoryStore,
    /// Every event whose write is durable: what a restart rebuilds `store` from.
    pub(super) durable: Vec<VerifiedEvent>,
    /// Events written but not yet synced, in write order. A sync makes all of them durable at
    /// once, as an fsync of a write-ahead log covers every write before it; a restart loses
    /// them.
    pub(super) unsynced: Vec<VerifiedEvent>,
    pub(super) up: bool,
    /// Incremented at each restart: work scheduled in an earlier epoch died with it.
    pub(super) epoch: u64,
}

/// A reply the server has built.
pub(super) struct Reply {
    /// The encoded `Response` or `Error` frame.
    pub(super) bytes: Vec<u8>,
    /// The events it acknowledges (those of the request, if it is a `Response`), with groups.
    pub(super) acknowledges: Vec<(EventId, String)>,
}

impl World {
    pub(super) fn token(&self, replica: usize) -> Token {
        let user = &self.users[self.replicas[replica].user];
        Token {
            user: user.name.clone(),
            groups: user.groups.clone(),
        }
    }

    /// Handles a request: writes its events (not yet synced) and builds the reply, which the
    /// checker reads as it would leave the server.
    pub(super) fn server_handle(&mut self, replica: usize, request: &[u8]) -> Reply {
        let token = self.token(replica);
        let responder = Responder::new(
            self.config,
            Policy {
                max_skew_ms: MAX_SKEW_MS,
            },
        );
        let admitted_as = self.admitted_as(&token, request);
        let mut handled = handle_request(
            &mut self.server.store,
            &admitted_as,
            self.now_ms,
            &responder,
            request,
        );
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
                    .map(|event| (event.id(), event.event().group.clone()))
                    .collect();
                if self.params.mutation == Mutation::LeakOtherGroups {
                    if let Some(bytes) = self.other_group_event(&token) {
                        response.events.push(bytes);
                    }
                }
                // The checker reads every response the server sends.
                self.check_response_groups(&token, &response.events);
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

    /// The token the server admits `request` under: the sender's, except under
    /// [`Mutation::SkipCreatorCheck`], where the server takes the user from the request's first
    /// event instead of from the token, so that the responder's creator check passes for it.
    fn admitted_as(&self, token: &Token, request: &[u8]) -> Token {
        let creator = match self.params.mutation {
            Mutation::SkipCreatorCheck => first_creator(request),
            _ => None,
        };
        Token {
            user: creator.unwrap_or_else(|| token.user.clone()),
            groups: token.groups.clone(),
        }
    }

    /// The reply leaves the server: a response acknowledges the request's events.
    pub(super) fn server_acknowledge(&mut self, reply: &Reply) {
        for (id, group) in &reply.acknowledges {
            if self.acknowledged.insert(*id, group.clone()).is_none() {
                self.stats.events_acknowledged += 1;
            }
        }
    }

    pub(super) fn server_reply(&mut self, message: Message, reply: Reply) {
        self.server_acknowledge(&reply);
        self.transmit(Message {
            to_server: false,
            bytes: reply.bytes,
            ..message
        });
    }

    /// Handles a request that reached the server. The reply waits for the log sync that makes
    /// the request's events durable (group commit: one sync covers every write before it);
    /// under [`Mutation::AckBeforeWrite`] it goes out at once, before the sync.
    pub(super) fn server_process(&mut self, message: Message) {
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
    pub(super) fn server_crash(&mut self) {
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::EventBuilder;
    use crate::simulation::{COLLECTION, DAY_MS};
    use tideline_protocol::event::{DocId, ReplicaId};
    use tideline_protocol::value::Value;
    use tideline_protocol::wire::{fingerprint, Item, Request, Salt};

    fn token() -> Token {
        Token {
            user: "alice".to_owned(),
            groups: Groups::new(["home", "work"]).unwrap(),
        }
    }

    fn event(group: &str, creator: &str, wall_ms: u64) -> VerifiedEvent {
        EventBuilder::create(Value::Object(Vec::new()))
            .group(group)
            .collection(COLLECTION)
            .target(DocId::new(wall_ms, [1; 10]))
            .at(wall_ms)
            .creator(creator)
            .origin(ReplicaId([2; 16]))
            .seal()
    }

    fn request_with(token: &Token, events: &[VerifiedEvent]) -> Vec<u8> {
        let salt = Salt([9; 16]);
        encode_frame(&Frame::Request(Request {
            salt,
            groups: fingerprint(&salt, &token.groups.digest()),
            items: Vec::new(),
            events: events.iter().map(|event| event.bytes().to_vec()).collect(),
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
            let handled = handle_request(&mut store, &token, now_ms, &Responder::default(), &frame);
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
            &Responder::default(),
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
            &Responder::default(),
            &request_with(&token, &events),
        );
        assert_eq!(again.accepted.len(), 2);
        assert!(again.inserted.is_empty());
    }

    /// Guards the order of §15.4: items that name groups outside the session, or a `More`,
    /// refuse the request before its events are written.
    #[test]
    fn bad_items_refuse_the_request_before_the_write() {
        use tideline_protocol::tree::Path;
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
                events: vec![good.bytes().to_vec()],
            }));
            let mut store = MemoryStore::new();
            let handled =
                handle_request(&mut store, &token, START_MS, &Responder::default(), &frame);
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
            let handled =
                handle_request(&mut store, &token, START_MS, &Responder::default(), &frame);
            assert!(code_of(&handled).is_some());
        }
        assert_eq!(store.events_len(), 0);
    }
}
