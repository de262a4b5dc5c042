//! The reconciliation walk (spec chapter 8), as two sans-IO state machines: the
//! [`Initiator`], which keeps the session's state, and the [`Responder`], which keeps none
//! between rounds.
//!
//! The initiator opens with the fingerprint of all its group roots. Each side answers every
//! item about a range of groups or a prefix of a group with what it holds there: finer
//! fingerprints (`Range`, `Split`), the short ids of a set of at most 64 events (`Ids`), or a
//! request for everything (`Need`). Fingerprints that match end the walk there; prefixes where
//! one side has nothing, and the differences between two small sets, become events. Each frame
//! descends one level, so a round trip descends two, and nothing differs costs one round trip.
//!
//! The host owns all I/O: it encodes and sends frames, and inserts the events that arrive into
//! its store before it asks the state machine for the next frame.
//!
//! The modules follow the spec:
//!
//! - `walk`: handling one item, which both roles share (§8.1, §8.4).
//! - `budget`: filling a frame within its budget and the hard limits (§8.6).
//! - [`initiator`]: the initiator (§8.2).
//! - [`responder`]: the responder (§8.3) and the host's checks before anything is stored
//!   (§15.4).

mod budget;
pub mod initiator;
pub mod responder;
mod walk;

pub use initiator::Initiator;
pub use responder::{AdmitError, Admitted, Policy, Responder, MAX_SKEW_MS};
pub use walk::WANT_SCAN_KEYS_MAX;

use crate::event::{EventError, EventId};
use crate::limits::FRAME_BYTES_BUDGET;
use crate::wire::{ErrorCode, WireError};

/// Settings both roles share.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// The size a sender aims for per frame. Items stop being added past it, and events stop
    /// being added past it once the frame holds at least one; the rest goes in later frames.
    pub frame_bytes_budget: usize,
}

impl Config {
    /// The budget in force: at most a quarter of
    /// [`FRAME_BYTES_MAX`](crate::limits::FRAME_BYTES_MAX), so that what one item may add past
    /// the budget (up to [`SHORT_IDS_PER_ITEM_MAX`](crate::limits::SHORT_IDS_PER_ITEM_MAX)
    /// wanted events) still fits a frame.
    pub fn budget(&self) -> usize {
        self.frame_bytes_budget.min(budget::FRAME_BYTES_BUDGET_MAX)
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            frame_bytes_budget: FRAME_BYTES_BUDGET,
        }
    }
}

/// Why a session failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SyncError {
    /// The frame broke an encoding rule or a limit.
    #[error(transparent)]
    Wire(#[from] WireError),
    /// An event in the frame is invalid.
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
    /// An item names a group index past the session's list.
    #[error("an item names group {index}, but the session has {len} groups")]
    GroupIndex {
        /// The index in the item.
        index: u32,
        /// How many groups the session has.
        len: usize,
    },
    /// The two sides index different group lists.
    #[error("the peer syncs a different list of groups; both sides must use the same groups (check the token's groups)")]
    GroupsMismatch,
    /// A frame or item came that this role does not expect: the peer broke the protocol.
    #[error("unexpected {0}")]
    Unexpected(&'static str),
    /// The store's tree names an event the store does not hold: the store is corrupt.
    #[error("the store's tree holds the key of event {id}, but the store does not hold the event; the store is corrupt")]
    EventMissing {
        /// The event.
        id: EventId,
    },
    /// The peer sent an error frame.
    #[error("the peer ended the session with {} ({}): {message}", code.name(), code.number())]
    Peer {
        /// Its code.
        code: ErrorCode,
        /// Its message.
        message: String,
    },
    /// The walk did not end within
    /// [`ROUNDS_PER_SESSION_MAX`](crate::limits::ROUNDS_PER_SESSION_MAX) requests.
    #[error("the session did not end after {rounds_max} requests; the responder keeps the walk going, try another server")]
    TooManyRounds {
        /// The limit.
        rounds_max: u32,
    },
    /// The local store failed.
    #[error("store: {0}")]
    Store(Box<dyn std::error::Error + Send + Sync>),
}

impl SyncError {
    /// The code to tell the peer.
    pub fn code(&self) -> ErrorCode {
        match self {
            SyncError::Wire(error) => error.code(),
            SyncError::InvalidEvent { .. } => ErrorCode::InvalidEvent,
            SyncError::GroupForbidden { .. } => ErrorCode::GroupForbidden,
            SyncError::GroupIndex { .. } => ErrorCode::MalformedFrame,
            SyncError::GroupsMismatch => ErrorCode::GroupsMismatch,
            SyncError::Unexpected(_) => ErrorCode::UnexpectedFrame,
            SyncError::Peer { code, .. } => *code,
            SyncError::TooManyRounds { .. } => ErrorCode::LimitExceeded,
            SyncError::EventMissing { .. } | SyncError::Store(_) => ErrorCode::Internal,
        }
    }
}

/// A store's failure, as the session's error.
pub(crate) fn store_error<E: std::error::Error + Send + Sync + 'static>(error: E) -> SyncError {
    SyncError::Store(Box::new(error))
}
