//! The responder (spec §8.3), with the host's checks of §15.4: [`Responder::admit`] checks a
//! request before anything is stored and refuses it with a typed [`AdmitError`];
//! [`Responder::respond`] answers an admitted request from the store, keeping no state between
//! rounds.

use super::budget::{FrameFill, Streamed, ITEMS_PER_ITEM_MAX};
use super::walk::{verify_events, Output, Push, Role, Walk};
use super::{Config, SyncError};
use crate::event::{EventError, EventId, VerifiedEvent};
use crate::limits::{ITEMS_PER_FRAME_MAX, RESPONDER_LOOKUPS_MAX};
use crate::store::ReadStore;
use crate::wire::{
    decode_frame, fingerprint, ErrorBody, ErrorCode, Frame, Groups, Item, Request, Response,
    WireError,
};

/// How far ahead of the responder's clock an event's timestamp may be by default: 5 minutes,
/// the reference server's `max_skew_ms`.
pub const MAX_SKEW_MS: u64 = 5 * 60 * 1000;

/// What a responder's host accepts beyond the walk's own rules (spec chapter 10, codes 10 and
/// 11).
#[derive(Clone, Copy, Debug)]
pub struct Policy {
    /// How far ahead of the host's clock an event's timestamp may be.
    pub max_skew_ms: u64,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            max_skew_ms: MAX_SKEW_MS,
        }
    }
}

/// Why a responder refused a request before storing anything (spec §15.4 steps 3 to 8). Each
/// variant is one refusal cause; [`AdmitError::code`] gives the code the peer is told, and the
/// message is what the peer reads.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AdmitError {
    /// The frame does not decode, or breaks a limit (§7.4).
    #[error(transparent)]
    Wire(#[from] WireError),
    /// The frame is a `Response`.
    #[error("the frame is a Response, but a responder takes only Request frames; send a Request")]
    ResponseFrame,
    /// The frame is an `Error`.
    #[error("the frame is an Error, but a responder takes only Request frames; send a Request")]
    ErrorFrame,
    /// The request indexes a different list of groups.
    #[error("the peer syncs a different list of groups; both sides must use the same groups (check the token's groups)")]
    GroupsMismatch,
    /// An event of the request is invalid.
    #[error("event {index} of the frame is invalid: {source}")]
    InvalidEvent {
        /// Its position in the frame.
        index: usize,
        /// What is wrong with it.
        source: EventError,
    },
    /// An event belongs to a group outside the session.
    #[error("event {id} belongs to group `{group}`, which is not in this session; sync only the groups you were given")]
    GroupForbidden {
        /// The event.
        id: EventId,
        /// Its group.
        group: String,
    },
    /// A `Range` item ends past the session's groups.
    #[error("item {index} is a range ending at group {end}, but the session has {len} groups")]
    RangeEnd {
        /// The item's position in the request.
        index: usize,
        /// The range's end.
        end: u32,
        /// How many groups the session has.
        len: usize,
    },
    /// An item names a group past the session's groups.
    #[error("item {index} names group {group}, but the session has {len} groups")]
    GroupIndex {
        /// The item's position in the request.
        index: usize,
        /// The group index it names.
        group: u32,
        /// How many groups the session has.
        len: usize,
    },
    /// The request holds a `More` item.
    #[error("item {index} is a More item, which only a responder sends")]
    MoreItem {
        /// The item's position in the request.
        index: usize,
    },
    /// An event names another user than the authenticated one as its creator.
    #[error("event {index} of the request names `{creator}` as its creator, but the token is for `{user}`; write events only as the user your token names")]
    ForgedCreator {
        /// The event's position in the request.
        index: usize,
        /// The creator it names.
        creator: String,
        /// The authenticated user.
        user: String,
    },
    /// An event is timestamped too far ahead of the responder's clock.
    #[error("event {index} of the request is timestamped {wall_ms} ms, more than {max_skew_ms} ms ahead of the server's clock ({now_ms} ms); check the writer's clock and send the event again later")]
    TimestampInFuture {
        /// The event's position in the request.
        index: usize,
        /// Its timestamp's wall clock.
        wall_ms: u64,
        /// How far ahead the policy allows.
        max_skew_ms: u64,
        /// The responder's clock.
        now_ms: u64,
    },
}

impl AdmitError {
    /// The code to tell the peer.
    pub fn code(&self) -> ErrorCode {
        match self {
            AdmitError::Wire(error) => error.code(),
            AdmitError::ResponseFrame | AdmitError::ErrorFrame | AdmitError::MoreItem { .. } => {
                ErrorCode::UnexpectedFrame
            }
            AdmitError::GroupsMismatch => ErrorCode::GroupsMismatch,
            AdmitError::InvalidEvent { .. } => ErrorCode::InvalidEvent,
            AdmitError::GroupForbidden { .. } => ErrorCode::GroupForbidden,
            AdmitError::RangeEnd { .. } | AdmitError::GroupIndex { .. } => {
                ErrorCode::MalformedFrame
            }
            AdmitError::ForgedCreator { .. } => ErrorCode::ForgedCreator,
            AdmitError::TimestampInFuture { .. } => ErrorCode::TimestampInFuture,
        }
    }
}

impl From<&AdmitError> for ErrorBody {
    fn from(error: &AdmitError) -> ErrorBody {
        ErrorBody::new(error.code(), &error.to_string())
    }
}

/// A request that passed every check of [`Responder::admit`]. Its events may be stored; the
/// host makes them durable, then answers with [`Responder::respond`].
#[derive(Clone, Debug)]
pub struct Admitted {
    request: Request,
    events: Vec<VerifiedEvent>,
    groups: Groups,
}

impl Admitted {
    /// The request as decoded.
    pub fn request(&self) -> &Request {
        &self.request
    }

    /// The session's groups the request was admitted for.
    pub fn groups(&self) -> &Groups {
        &self.groups
    }

    /// The request's events, verified, in frame order.
    pub fn events(&self) -> &[VerifiedEvent] {
        &self.events
    }

    /// Moves the events out, for a host that hands them to its writer; the request can still
    /// be answered with [`Responder::respond`], which reads only its items.
    pub fn take_events(&mut self) -> Vec<VerifiedEvent> {
        std::mem::take(&mut self.events)
    }

    /// The request's events, verified, in frame order.
    pub fn into_events(self) -> Vec<VerifiedEvent> {
        self.events
    }
}

/// The stateless responder of the walk (spec §8.3), with the host's checks of §15.4: every
/// host (the server, the simulation, the benchmarks, the tests' servers) drives it the same
/// way. [`Responder::admit`] a request, store its events and make them durable, then
/// [`Responder::respond`].
#[derive(Clone, Copy, Debug, Default)]
pub struct Responder {
    config: Config,
    policy: Policy,
}

impl Responder {
    /// A responder packing frames by `config` and admitting events by `policy`.
    pub fn new(config: Config, policy: Policy) -> Responder {
        Responder { config, policy }
    }

    /// Its frame settings.
    pub fn config(&self) -> Config {
        self.config
    }

    /// Its host policy.
    pub fn policy(&self) -> Policy {
        self.policy
    }

    /// Everything a responder checks before it stores anything, in the order of spec §15.4:
    /// decodes `frame` (§7.4), refuses a frame that is not a `Request`, checks the groups
    /// digest, each event (valid, canonical, of a session group), each item (a group below the
    /// session's count, no `More`), then each event's creator against the authenticated `user`
    /// and its timestamp against `now_ms` and the policy's skew. The first failure decides the
    /// error. A refused request must store nothing.
    pub fn admit(
        &self,
        frame: &[u8],
        groups: &Groups,
        user: &str,
        now_ms: u64,
    ) -> Result<Admitted, AdmitError> {
        let request = match decode_frame(frame)? {
            Frame::Request(request) => request,
            Frame::Response(_) => return Err(AdmitError::ResponseFrame),
            Frame::Error(_) => return Err(AdmitError::ErrorFrame),
        };
        let admitted = admit_request(request, groups).map_err(|error| match error {
            SyncError::GroupsMismatch => AdmitError::GroupsMismatch,
            SyncError::InvalidEvent { index, source } => AdmitError::InvalidEvent { index, source },
            SyncError::GroupForbidden { id, group } => AdmitError::GroupForbidden { id, group },
            other => unreachable!("admit_request refuses only groups and events, not {other:?}"),
        })?;
        admit_items(groups, &admitted.request.items)?;
        admit_policy(user, now_ms, self.policy, &admitted.events)?;
        Ok(admitted)
    }

    /// The responder of spec §8.3 alone, for a peer it trusts to relay events of any user and
    /// any time: decodes `frame`, refuses a frame that is not a `Request`, checks the groups
    /// digest and each event. It makes none of the host's checks of §15.4 (items before the
    /// write, creator, clock): [`Responder::respond`] finds a bad item while walking, as §8.3
    /// step 5 says. For sessions between two stores of one process, or two replicas that sync
    /// with each other without a server (the testkit's `reconcile`, the benchmarks, the tests).
    /// A host that serves users calls [`Responder::admit`].
    pub fn admit_trusted(&self, frame: &[u8], groups: &Groups) -> Result<Admitted, SyncError> {
        match decode_frame(frame)? {
            Frame::Request(request) => admit_request(request, groups),
            Frame::Response(_) | Frame::Error(_) => Err(SyncError::Unexpected(
                "a frame other than a request sent to the responder",
            )),
        }
    }

    /// Answers an admitted request from what `store` holds, keeping no state: the response
    /// depends only on the store and the request. The host calls it after it made
    /// [`Admitted::events`] durable, so that the response acknowledges them.
    pub fn respond<S: ReadStore + ?Sized>(
        &self,
        store: &S,
        admitted: &Admitted,
    ) -> Result<Response, SyncError> {
        response_build(store, &admitted.groups, &admitted.request, self.config)
    }
}

/// Spec §8.3 steps 2 and 3: the groups digest, then each event.
fn admit_request(request: Request, groups: &Groups) -> Result<Admitted, SyncError> {
    if request.groups != fingerprint(&request.salt, &groups.digest()) {
        return Err(SyncError::GroupsMismatch);
    }
    let events = verify_events(groups, &request.events)?;
    Ok(Admitted {
        request,
        events,
        groups: groups.clone(),
    })
}

/// Spec §15.4 step 7: what the walk would only find while handling the items, checked before
/// the events are written, so that a request refused for its items has written nothing.
fn admit_items(groups: &Groups, items: &[Item]) -> Result<(), AdmitError> {
    let len = groups.len();
    for (index, item) in items.iter().enumerate() {
        let group = match item {
            Item::Root { .. } => None,
            Item::Range { end, .. } if *end as usize > len => {
                return Err(AdmitError::RangeEnd {
                    index,
                    end: *end,
                    len,
                })
            }
            Item::Range { .. } => None,
            Item::Split { group, .. }
            | Item::Ids { group, .. }
            | Item::Want { group, .. }
            | Item::Need { group, .. } => Some(*group),
            Item::More { .. } => return Err(AdmitError::MoreItem { index }),
        };
        if let Some(group) = group.filter(|&group| group as usize >= len) {
            return Err(AdmitError::GroupIndex { index, group, len });
        }
    }
    Ok(())
}

/// Spec §15.4 step 8: each event's creator is `user`, and its timestamp is at most
/// `policy.max_skew_ms` ahead of `now_ms`. The first event that fails decides the error.
fn admit_policy(
    user: &str,
    now_ms: u64,
    policy: Policy,
    events: &[VerifiedEvent],
) -> Result<(), AdmitError> {
    for (index, event) in events.iter().enumerate() {
        if event.event().creator != user {
            return Err(AdmitError::ForgedCreator {
                index,
                creator: event.event().creator.clone(),
                user: user.to_owned(),
            });
        }
        let wall_ms = event.event().timestamp.wall_ms;
        if wall_ms > now_ms.saturating_add(policy.max_skew_ms) {
            return Err(AdmitError::TimestampInFuture {
                index,
                wall_ms,
                max_skew_ms: policy.max_skew_ms,
                now_ms,
            });
        }
    }
    Ok(())
}

/// Answers a request from what `store` holds, keeping no state: the response depends only on
/// the store and the request (spec §8.3 step 5, §8.5, §8.6).
fn response_build<S: ReadStore + ?Sized>(
    store: &S,
    groups: &Groups,
    request: &Request,
    config: Config,
) -> Result<Response, SyncError> {
    // Admission checked the groups; a request from elsewhere would walk the wrong groups.
    debug_assert!(
        request.groups == fingerprint(&request.salt, &groups.digest()),
        "respond to an admitted request only"
    );
    let walk = Walk::new(store, groups, request.salt);
    let mut fill = FrameFill::new(Role::Responder, config.budget());
    let mut consumed = 0u32;
    for item in &request.items {
        // Stop consuming once the frame, its counts or the work budget are spent; the initiator
        // sends the rest again. The first item is always handled, so every round progresses.
        let spent = fill.is_full()
            || walk.lookups() >= RESPONDER_LOOKUPS_MAX
            || fill.items().len() + ITEMS_PER_ITEM_MAX > ITEMS_PER_FRAME_MAX;
        if consumed > 0 && spent {
            break;
        }
        let mut out = Output::default();
        walk.handle(item, Role::Responder, &mut out)?;
        for item in out.items {
            fill.item_push(item);
        }
        for mut push in out.pushes {
            if fill.push_add(&walk, &mut push)? == Streamed::Cut {
                let Push::Prefix {
                    group,
                    prefix,
                    after,
                } = push
                else {
                    unreachable!("only a prefix push is cut");
                };
                fill.item_push(Item::More {
                    group,
                    prefix,
                    after,
                });
            }
        }
        consumed += 1;
    }
    assert!(
        consumed >= 1 || request.items.is_empty(),
        "a response consumes at least one item of a non-empty request"
    );
    let (items, events) = fill.finish();
    Ok(Response {
        consumed,
        items,
        events,
    })
}
