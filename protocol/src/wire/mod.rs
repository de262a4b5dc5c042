//! Frames on the wire: requests, responses and errors, their items, and the fingerprints and
//! short ids they carry.
//!
//! A frame is the protocol version as a postcard varint followed by the postcard encoding of
//! [`Frame`]. Decoding checks the size first, then the version, then every limit of
//! [`crate::limits`], so a hostile frame costs at most one bounded allocation and returns a typed
//! [`WireError`].
//!
//! One file per part of the spec:
//!
//! - `fingerprint`: chapter 6, salts, fingerprints, short ids, the session's groups and their
//!   ranges;
//! - `frame`: §7.1 and §7.4, frames and their bounded, canonical decoding (with `bounded`, the
//!   sequences whose length is checked before their elements are decoded);
//! - `item`: §7.3, the walk's items;
//! - `error`: chapter 10, error frames and codes.

mod bounded;
mod error;
mod fingerprint;
mod frame;
mod item;

pub use error::{ErrorBody, ErrorCode, WireError};
pub use fingerprint::{
    fingerprint, range_children, range_digest, short_id, Fingerprint, Groups, Salt, ShortId,
    FINGERPRINT_BYTES,
};
pub use frame::{decode_frame, encode_frame, frame_len, Frame, Request, Response};
pub use item::{item_len, Item};

/// The protocol version this crate speaks.
pub const PROTOCOL_VERSION: u32 = 1;

/// Every version this crate can answer.
pub const PROTOCOL_VERSIONS: &[u32] = &[PROTOCOL_VERSION];
