//! Everything that can go wrong in the client, as one typed error with a stable code per kind.

use std::path::PathBuf;

use tideline_protocol::event::{EventError, IdParseError};
use tideline_protocol::replica::ApplyError;
use tideline_protocol::sync::SyncError;
use tideline_protocol::wire::{ErrorCode, WireError};
use tideline_protocol::write::WriteError;
use tideline_store::StoreError;

/// Why a client operation failed.
///
/// [`ClientError::code`] gives a stable snake_case code for each kind; the command-line tool
/// prints it as `{"error": code, "message": ...}`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The folder has no replica configuration.
    #[error(
        "no replica in {}; run `tideline init --replica {} --server URL --token TOKEN` first",
        dir.display(),
        dir.display()
    )]
    NotInitialized {
        /// The replica folder.
        dir: PathBuf,
    },

    /// Another process (or another `Replica` in this one) has the replica's store open.
    #[error(
        "the replica in {} is in use by another process (a running `tideline watch`?); stop \
         it, or wait until it is done",
        dir.display()
    )]
    Busy {
        /// The replica folder.
        dir: PathBuf,
    },

    /// The configuration file could not be read or written, or does not parse.
    #[error(
        "the replica configuration {} is unusable: {detail}; fix its permissions, or run \
         `tideline init` again in a new folder",
        path.display()
    )]
    Config {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        detail: String,
    },

    /// The replica folder belongs to another user than the token names.
    #[error(
        "this replica belongs to user `{replica_user}`, but the token is for `{token_user}`; \
         use a token for `{replica_user}`, or init a new folder for `{token_user}`"
    )]
    UserMismatch {
        /// The user the replica was created for.
        replica_user: String,
        /// The user the new token names.
        token_user: String,
    },

    /// The token is not a JWT with the claims the client needs.
    #[error(
        "the token is unusable: {0}; pass the token your server issued (for example the output \
         of `tideline-server token`)"
    )]
    Token(String),

    /// The server URL is not one the client can use.
    #[error("the server URL `{url}` is unusable: {reason}; pass a URL like http://127.0.0.1:7700")]
    ServerUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },

    /// A group the token does not grant: the server would refuse it, so the client refuses
    /// first.
    #[error(
        "group `{group}` is not in your token (it grants {groups:?}); ask for a token that \
         includes it"
    )]
    GroupNotInToken {
        /// The group asked for.
        group: String,
        /// The groups the token grants.
        groups: Vec<String>,
    },

    /// A JSON argument does not parse.
    #[error(
        "the {what} is not valid JSON ({source}); quote it for your shell, e.g. '{{\"a\": 1}}'"
    )]
    Json {
        /// Which argument.
        what: &'static str,
        /// The parser's complaint.
        source: serde_json::Error,
    },

    /// JSON that parses but cannot be stored: not an object, a reserved key, a number out of
    /// range, a bad patch path.
    #[error("{0}")]
    InvalidInput(String),

    /// The event the operation would write breaks a rule of the event model.
    #[error("the change cannot be written: {0}")]
    InvalidEvent(#[from] EventError),

    /// An id argument is not hex of the right length.
    #[error("the {what} is not valid: {source}")]
    InvalidId {
        /// Which id.
        what: &'static str,
        /// Why.
        source: IdParseError,
    },

    /// No such document, or it was removed.
    #[error(
        "document {id} {state} in {group}/{collection}; list the collection with `tideline \
         find` to see the ids it holds",
        state = if *removed { "was removed" } else { "does not exist" }
    )]
    DocumentNotFound {
        /// The group.
        group: String,
        /// The collection.
        collection: String,
        /// The document id, as hex.
        id: String,
        /// Whether the document existed and was removed.
        removed: bool,
    },

    /// No open conflict has this id.
    #[error(
        "no open conflict {id} in this replica; list yours with `tideline conflicts` (it may \
         already be resolved: run `tideline sync`)"
    )]
    ConflictNotFound {
        /// The conflict id, as hex.
        id: String,
    },

    /// The local store failed.
    #[error(transparent)]
    Store(#[from] StoreError),

    /// A file or folder operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The operating system's error.
        source: std::io::Error,
    },

    /// The server could not be reached.
    #[error(
        "cannot connect to the server at {url}: {source}; check that it runs and that the URL \
         is right, then sync again"
    )]
    Connect {
        /// The server URL.
        url: String,
        /// Why.
        source: std::io::Error,
    },

    /// The connection failed mid-exchange.
    #[error(
        "the connection to the server failed: {0}; sync again (what was already exchanged is \
         kept)"
    )]
    Transport(#[from] hyper::Error),

    /// The server took too long.
    #[error("{what} took longer than {timeout_ms} ms; check the server and the network, then sync again")]
    Timeout {
        /// What timed out.
        what: &'static str,
        /// The limit.
        timeout_ms: u64,
    },

    /// The server ended the session with an error frame.
    #[error("the server refused the request with {} (HTTP {status}): {message}", code.name())]
    Server {
        /// The protocol error code.
        code: ErrorCode,
        /// The server's message.
        message: String,
        /// The HTTP status.
        status: u16,
    },

    /// The server answered with something that is not a Tideline frame.
    #[error(
        "the server answered HTTP {status} without a Tideline frame ({detail}); check that the \
         URL points at a Tideline server, not a proxy or another service"
    )]
    UnexpectedResponse {
        /// The HTTP status.
        status: u16,
        /// What was seen instead.
        detail: String,
    },

    /// The exchange broke a rule of the protocol.
    #[error("sync failed: {0}")]
    Protocol(#[from] SyncError),

    /// The server ended the live stream.
    #[error("the server ended the live stream (it may be restarting); watch reconnects by itself")]
    StreamEnded,
}

impl ClientError {
    /// The stable snake_case code for this error: a protocol error code name for errors the
    /// server sent or the protocol defines, and a client code for the rest.
    pub fn code(&self) -> &'static str {
        match self {
            ClientError::NotInitialized { .. } => "not_initialized",
            ClientError::Busy { .. } => "replica_busy",
            ClientError::Config { .. } => "config",
            ClientError::UserMismatch { .. } => "user_mismatch",
            ClientError::Token(_) => "invalid_token",
            ClientError::ServerUrl { .. } => "invalid_url",
            ClientError::GroupNotInToken { .. } => ErrorCode::GroupForbidden.name(),
            ClientError::Json { .. } => "invalid_json",
            ClientError::InvalidInput(_) => "invalid_input",
            ClientError::InvalidEvent(_) => ErrorCode::InvalidEvent.name(),
            ClientError::InvalidId { .. } => "invalid_id",
            ClientError::DocumentNotFound { .. } | ClientError::ConflictNotFound { .. } => {
                "not_found"
            }
            ClientError::Store(_) => "store",
            ClientError::Io { .. } => "io",
            ClientError::Connect { .. } => "unreachable",
            ClientError::Transport(_) => "transport",
            ClientError::Timeout { .. } => "timeout",
            ClientError::Server { code, .. } => code.name(),
            ClientError::UnexpectedResponse { .. } => "unexpected_response",
            ClientError::Protocol(error) => error.code().name(),
            ClientError::StreamEnded => "stream_ended",
        }
    }

    /// Whether trying again later may succeed without anyone changing anything: the network
    /// or the server had a passing problem. `watch` backs off and retries these, and gives up
    /// on the rest.
    pub fn is_transient(&self) -> bool {
        match self {
            ClientError::Connect { .. }
            | ClientError::Transport(_)
            | ClientError::Timeout { .. }
            | ClientError::StreamEnded => true,
            // A clock ahead of the server's is refused now and accepted once the server's
            // clock catches up (spec §10), so waiting can fix it.
            ClientError::Server { code, .. } => {
                *code == ErrorCode::Internal || *code == ErrorCode::TimestampInFuture
            }
            ClientError::UnexpectedResponse { status, .. } => *status >= 500,
            _ => false,
        }
    }

    pub(crate) fn io(what: impl Into<String>, source: std::io::Error) -> ClientError {
        ClientError::Io {
            what: what.into(),
            source,
        }
    }
}

impl From<ApplyError<StoreError>> for ClientError {
    fn from(error: ApplyError<StoreError>) -> ClientError {
        match error {
            ApplyError::Store(error) => ClientError::Store(error),
            // The store's bytes no longer agree with themselves: the same remedy as a corrupt
            // record.
            other => ClientError::Store(StoreError::Corrupt {
                what: "replica".to_owned(),
                detail: other.to_string(),
            }),
        }
    }
}

impl From<WriteError<StoreError>> for ClientError {
    fn from(error: WriteError<StoreError>) -> ClientError {
        let not_found =
            |doc: tideline_protocol::merge::DocKey, removed| ClientError::DocumentNotFound {
                group: doc.group,
                collection: doc.collection,
                id: doc.target.to_string(),
                removed,
            };
        match error {
            WriteError::Store(error) => ClientError::Store(error),
            WriteError::DocumentNotFound { doc } => not_found(doc, false),
            WriteError::DocumentRemoved { doc } => not_found(doc, true),
            WriteError::ConflictNotFound { conflict, .. } => ClientError::ConflictNotFound {
                id: conflict.to_string(),
            },
            WriteError::Event(error) => ClientError::InvalidEvent(error),
            WriteError::Apply(error) => error.into(),
            // A taken new id: only a caller of a `_at` write picks the random bytes of a new
            // id, so it is their input repeated. Kinds added later keep their own message.
            other => ClientError::InvalidInput(other.to_string()),
        }
    }
}

impl From<WireError> for ClientError {
    fn from(error: WireError) -> ClientError {
        ClientError::Protocol(SyncError::Wire(error))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server_error(code: ErrorCode) -> ClientError {
        ClientError::Server {
            code,
            message: String::new(),
            status: 400,
        }
    }

    #[test]
    fn only_errors_that_waiting_can_fix_are_transient() {
        assert!(server_error(ErrorCode::Internal).is_transient());
        assert!(server_error(ErrorCode::TimestampInFuture).is_transient());
        assert!(!server_error(ErrorCode::ForgedCreator).is_transient());
        assert!(!server_error(ErrorCode::GroupForbidden).is_transient());
        assert!(!server_error(ErrorCode::Unauthorized).is_transient());
        assert!(ClientError::StreamEnded.is_transient());
    }
}
