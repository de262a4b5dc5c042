//! The HTTP contract of spec chapter 15, in one place for the server, the client, the benchmarks
//! and the tests: the endpoints' paths, the content types, the error header, the HTTP status of
//! each error code, the records of the live stream, and the user's open conflicts that
//! `GET /v1/conflicts` lists.
//!
//! Like the rest of this crate it does no I/O: the constants are plain strings, the live-record
//! decoder is fed whatever chunks the caller's HTTP library hands it, and the open conflicts
//! are read through [`ReadStore`](crate::store::ReadStore).
//!
//! - this file: paths, content types, the error header and the status of each error code
//!   (§15.1, §15.2, §15.5);
//! - `live`: the records of `GET /v1/live` (§15.6);
//! - `conflicts`: the conflict object and a user's open conflicts (§15.7).

use crate::wire::ErrorCode;

mod conflicts;
mod live;

pub use conflicts::{conflict_json, open_conflicts, OpenConflict, OpenConflictsError};
pub use live::{
    live_record_encode, live_records_encode, LiveRecordDecoder, LiveRecordError,
    LIVE_RECORD_PREFIX_BYTES,
};

/// `POST`: one round of the walk, a `Request` frame in and a `Response` frame out (§15.4).
pub const SYNC_PATH: &str = "/v1/sync";

/// `GET`: the stream of live records (§15.6).
pub const LIVE_PATH: &str = "/v1/live";

/// `GET`: the token's user's open conflicts, as JSON (§15.7).
pub const CONFLICTS_PATH: &str = "/v1/conflicts";

/// `GET`: `ok` while the server accepts requests (§15.8).
pub const HEALTHZ_PATH: &str = "/healthz";

/// `GET`: the metrics, in the OpenMetrics text format (§15.8).
pub const METRICS_PATH: &str = "/metrics";

/// The content type of a body that is one frame: a sync request, its response, and every
/// `Error` frame.
pub const FRAME_CONTENT_TYPE: &str = "application/vnd.tideline.frame";

/// The content type of the live stream's body, a sequence of records.
pub const LIVE_CONTENT_TYPE: &str = "application/vnd.tideline.frame-stream";

/// The content type of the conflicts list.
pub const JSON_CONTENT_TYPE: &str = "application/json";

/// The content type of `/healthz`, `404` and `405` bodies.
pub const TEXT_CONTENT_TYPE: &str = "text/plain; charset=utf-8";

/// The content type of `/metrics`.
pub const METRICS_CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The header that names a refused request's error code (§15.5), so that a client or a proxy
/// log can branch without decoding the body. The spec writes it `X-Tideline-Error`; header names
/// are case-insensitive, and HTTP libraries want them in lower case.
pub const ERROR_HEADER: &str = "x-tideline-error";

/// The authentication scheme of the `Authorization` header (§15.3), and the challenge a `401`
/// carries in `WWW-Authenticate`.
pub const BEARER_SCHEME: &str = "Bearer";

/// The `Cache-Control` of the live stream: its records are never to be replayed from a cache.
pub const LIVE_CACHE_CONTROL: &str = "no-store";

/// The body of `GET /healthz`.
pub const HEALTHZ_BODY: &str = "ok";

/// The endpoints of §15.1: each one's path, method and name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// `POST /v1/sync`.
    Sync,
    /// `GET /v1/live`.
    Live,
    /// `GET /v1/conflicts`.
    Conflicts,
    /// `GET /healthz`.
    Healthz,
    /// `GET /metrics`.
    Metrics,
}

impl Endpoint {
    /// Every endpoint, in the order of the spec's table.
    pub const ALL: [Endpoint; 5] = [
        Endpoint::Sync,
        Endpoint::Live,
        Endpoint::Conflicts,
        Endpoint::Healthz,
        Endpoint::Metrics,
    ];

    /// The endpoint served at `path`, matched exactly as §15.1 says: no query string (the
    /// caller strips it), and a trailing `/` is another path.
    pub fn of_path(path: &str) -> Option<Endpoint> {
        Endpoint::ALL
            .into_iter()
            .find(|endpoint| endpoint.path() == path)
    }

    /// The path.
    pub fn path(self) -> &'static str {
        match self {
            Endpoint::Sync => SYNC_PATH,
            Endpoint::Live => LIVE_PATH,
            Endpoint::Conflicts => CONFLICTS_PATH,
            Endpoint::Healthz => HEALTHZ_PATH,
            Endpoint::Metrics => METRICS_PATH,
        }
    }

    /// The one method the endpoint takes, as HTTP writes it.
    pub fn method(self) -> &'static str {
        match self {
            Endpoint::Sync => "POST",
            Endpoint::Live | Endpoint::Conflicts | Endpoint::Healthz | Endpoint::Metrics => "GET",
        }
    }

    /// The endpoint's name, the `endpoint` label of the server's metrics (§15.8).
    pub fn name(self) -> &'static str {
        match self {
            Endpoint::Sync => "sync",
            Endpoint::Live => "live",
            Endpoint::Conflicts => "conflicts",
            Endpoint::Healthz => "healthz",
            Endpoint::Metrics => "metrics",
        }
    }
}

/// The HTTP status of an error code, from the table of §15.5. A code this implementation does
/// not know gets `500`, as a failure the sender cannot name.
pub fn status_of(code: ErrorCode) -> u16 {
    match code {
        ErrorCode::MalformedFrame
        | ErrorCode::UnsupportedVersion
        | ErrorCode::GroupsMismatch
        | ErrorCode::LimitExceeded
        | ErrorCode::InvalidEvent
        | ErrorCode::UnexpectedFrame
        | ErrorCode::TimestampInFuture => 400,
        ErrorCode::Unauthorized => 401,
        ErrorCode::GroupForbidden | ErrorCode::ForgedCreator => 403,
        ErrorCode::FrameTooLarge => 413,
        ErrorCode::Internal | ErrorCode::Unknown(_) => 500,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_follow_the_spec_table() {
        // Guards against a code answered with another status than §15.5's table gives.
        let table = [
            (1, 400),
            (2, 413),
            (3, 400),
            (4, 400),
            (5, 400),
            (6, 400),
            (7, 403),
            (8, 400),
            (9, 401),
            (10, 403),
            (11, 400),
            (12, 500),
        ];
        for (number, status) in table {
            assert_eq!(
                status_of(ErrorCode::from_number(number)),
                status,
                "{number}"
            );
        }
        assert_eq!(status_of(ErrorCode::Unknown(99)), 500);
    }

    #[test]
    fn endpoints_are_found_by_their_exact_path() {
        // Guards against routing a near miss (a trailing slash, another case) to an endpoint.
        for endpoint in Endpoint::ALL {
            assert_eq!(Endpoint::of_path(endpoint.path()), Some(endpoint));
        }
        assert_eq!(Endpoint::Sync.method(), "POST");
        assert_eq!(Endpoint::Live.method(), "GET");
        for path in ["/v1/sync/", "/V1/sync", "/", "", "/v1"] {
            assert_eq!(Endpoint::of_path(path), None, "{path}");
        }
    }
}
