//! Errors (spec chapter 10): the body of an error frame, the stable error codes, and why bytes
//! are not a valid frame.

use serde::{Deserialize, Serialize};

use super::PROTOCOL_VERSIONS;
use crate::limits::{ERROR_MESSAGE_BYTES_MAX, ERROR_VERSIONS_MAX};

/// Why a session ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// A stable code from the spec's error table.
    pub code: ErrorCode,
    /// What happened and what to do, for a person.
    pub message: String,
    /// The versions the sender speaks, so the peer can pick one.
    pub versions: Vec<u32>,
}

impl ErrorBody {
    /// An error body for `code`, with `message` cut to [`ERROR_MESSAGE_BYTES_MAX`] bytes (at a
    /// character boundary) and this side's versions.
    pub fn new(code: ErrorCode, message: &str) -> ErrorBody {
        let mut end = message.len().min(ERROR_MESSAGE_BYTES_MAX);
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        ErrorBody {
            code,
            message: message[..end].to_owned(),
            versions: PROTOCOL_VERSIONS.to_vec(),
        }
    }
}

/// The stable error codes of the spec's error table. On the wire, a `u16` varint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// The frame does not decode, or breaks a rule of its encoding.
    MalformedFrame,
    /// The frame is larger than [`crate::limits::FRAME_BYTES_MAX`].
    FrameTooLarge,
    /// The frame's version is not one the receiver speaks.
    UnsupportedVersion,
    /// The two sides index different group lists.
    GroupsMismatch,
    /// A count limit was exceeded (items, events, ids).
    LimitExceeded,
    /// An event does not decode, is not canonical, or breaks a rule of the event model.
    InvalidEvent,
    /// An event belongs to a group outside the session. (An item naming a group index outside
    /// the session is a `MalformedFrame`.)
    GroupForbidden,
    /// A frame came that the receiver's role does not expect here.
    UnexpectedFrame,
    /// The request lacks valid credentials (transport level).
    Unauthorized,
    /// An event's creator is not the authenticated user.
    ForgedCreator,
    /// An event's timestamp is too far in the future.
    TimestampInFuture,
    /// The receiver failed on its side; retrying later may work.
    Internal,
    /// A code this implementation does not know; kept so it can be reported.
    Unknown(u16),
}

impl ErrorCode {
    /// The number on the wire.
    pub fn number(self) -> u16 {
        match self {
            ErrorCode::MalformedFrame => 1,
            ErrorCode::FrameTooLarge => 2,
            ErrorCode::UnsupportedVersion => 3,
            ErrorCode::GroupsMismatch => 4,
            ErrorCode::LimitExceeded => 5,
            ErrorCode::InvalidEvent => 6,
            ErrorCode::GroupForbidden => 7,
            ErrorCode::UnexpectedFrame => 8,
            ErrorCode::Unauthorized => 9,
            ErrorCode::ForgedCreator => 10,
            ErrorCode::TimestampInFuture => 11,
            ErrorCode::Internal => 12,
            ErrorCode::Unknown(number) => number,
        }
    }

    /// The code for a number from the wire.
    pub fn from_number(number: u16) -> ErrorCode {
        match number {
            1 => ErrorCode::MalformedFrame,
            2 => ErrorCode::FrameTooLarge,
            3 => ErrorCode::UnsupportedVersion,
            4 => ErrorCode::GroupsMismatch,
            5 => ErrorCode::LimitExceeded,
            6 => ErrorCode::InvalidEvent,
            7 => ErrorCode::GroupForbidden,
            8 => ErrorCode::UnexpectedFrame,
            9 => ErrorCode::Unauthorized,
            10 => ErrorCode::ForgedCreator,
            11 => ErrorCode::TimestampInFuture,
            12 => ErrorCode::Internal,
            other => ErrorCode::Unknown(other),
        }
    }

    /// The snake_case name the spec uses.
    pub fn name(self) -> &'static str {
        match self {
            ErrorCode::MalformedFrame => "malformed_frame",
            ErrorCode::FrameTooLarge => "frame_too_large",
            ErrorCode::UnsupportedVersion => "unsupported_version",
            ErrorCode::GroupsMismatch => "groups_mismatch",
            ErrorCode::LimitExceeded => "limit_exceeded",
            ErrorCode::InvalidEvent => "invalid_event",
            ErrorCode::GroupForbidden => "group_forbidden",
            ErrorCode::UnexpectedFrame => "unexpected_frame",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::ForgedCreator => "forged_creator",
            ErrorCode::TimestampInFuture => "timestamp_in_future",
            ErrorCode::Internal => "internal",
            ErrorCode::Unknown(_) => "unknown",
        }
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.number().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for ErrorCode {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<ErrorCode, D::Error> {
        Ok(ErrorCode::from_number(u16::deserialize(deserializer)?))
    }
}

/// Why bytes are not a valid frame.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WireError {
    /// The frame is larger than the limit.
    #[error("frame of {bytes} bytes exceeds the maximum of {max} bytes; send fewer items or events per frame")]
    FrameTooLarge {
        /// The frame's size.
        bytes: usize,
        /// [`crate::limits::FRAME_BYTES_MAX`].
        max: usize,
    },
    /// The frame's version is unknown.
    #[error("protocol version {version} is not supported (this side speaks {supported:?}); upgrade the older side")]
    UnsupportedVersion {
        /// The version in the frame.
        version: u32,
        /// What this side speaks.
        supported: Vec<u32>,
    },
    /// The bytes do not decode.
    #[error("malformed frame: {0}")]
    Malformed(String),
    /// A count limit was exceeded.
    #[error("too many {what} (the maximum is {max}); split the work over more rounds")]
    LimitExceeded {
        /// What was counted.
        what: &'static str,
        /// The limit.
        max: usize,
    },
}

impl WireError {
    /// The error code a peer is told.
    pub fn code(&self) -> ErrorCode {
        match self {
            WireError::FrameTooLarge { .. } => ErrorCode::FrameTooLarge,
            WireError::UnsupportedVersion { .. } => ErrorCode::UnsupportedVersion,
            WireError::Malformed(_) => ErrorCode::MalformedFrame,
            WireError::LimitExceeded { .. } => ErrorCode::LimitExceeded,
        }
    }
}

/// Checks the limits of an error frame's body: its message and its list of versions.
pub(super) fn error_body_check(body: &ErrorBody) -> Result<(), WireError> {
    if body.message.len() > ERROR_MESSAGE_BYTES_MAX {
        return Err(WireError::LimitExceeded {
            what: "bytes in an error message",
            max: ERROR_MESSAGE_BYTES_MAX,
        });
    }
    if body.versions.len() > ERROR_VERSIONS_MAX {
        return Err(WireError::LimitExceeded {
            what: "versions in an error frame",
            max: ERROR_VERSIONS_MAX,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{decode_frame, encode_frame, Frame};

    /// An error frame's strings are bounded like every other input: senders cut the message,
    /// receivers refuse a longer one.
    #[test]
    fn error_frames_are_bounded() {
        let long = "é".repeat(ERROR_MESSAGE_BYTES_MAX);
        let body = ErrorBody::new(ErrorCode::Internal, &long);
        assert!(body.message.len() <= ERROR_MESSAGE_BYTES_MAX);
        assert!(
            body.message.len() > ERROR_MESSAGE_BYTES_MAX - 2,
            "cut at the last boundary"
        );
        let bytes = encode_frame(&Frame::Error(body.clone()));
        assert_eq!(decode_frame(&bytes), Ok(Frame::Error(body)));

        let too_long = ErrorBody {
            code: ErrorCode::Internal,
            message: "x".repeat(ERROR_MESSAGE_BYTES_MAX + 1),
            versions: vec![1],
        };
        let bytes = encode_frame(&Frame::Error(too_long));
        assert!(matches!(
            decode_frame(&bytes),
            Err(WireError::LimitExceeded { .. })
        ));

        let many = ErrorBody {
            code: ErrorCode::Internal,
            message: String::new(),
            versions: vec![1; ERROR_VERSIONS_MAX + 1],
        };
        let bytes = encode_frame(&Frame::Error(many));
        assert!(matches!(
            decode_frame(&bytes),
            Err(WireError::LimitExceeded { .. })
        ));
    }
}
