//! The one place where a failed request becomes a response: an HTTP status, an Error frame
//! (`wire::ErrorBody`) as the body, and the code's name in `X-Tideline-Error`.
//!
//! Messages tell the client what happened and what to do. Internal failures are logged here in
//! full and answered with a fixed message, so that nothing about the server's insides leaks.

use bytes::Bytes;
use hyper::header::{HeaderValue, ALLOW, WWW_AUTHENTICATE};
use hyper::{Response, StatusCode};
use tideline_protocol::http::{status_of, BEARER_SCHEME, ERROR_HEADER, FRAME_CONTENT_TYPE};
use tideline_protocol::sync::{AdmitError, SyncError};
use tideline_protocol::wire::{encode_frame, ErrorBody, ErrorCode, Frame, WireError};

use crate::auth::AuthError;
use crate::body::{plain, typed, Body};
use crate::metrics::Metrics;

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ApiError {
    /// The token is missing or refused.
    #[error(transparent)]
    Unauthorized(#[from] AuthError),
    /// The body is larger than the server's limit.
    #[error(
        "the request body is {} bytes, over the limit of {bytes_max}; send fewer items or events \
         per request",
        bytes.map_or_else(|| "more than that".to_owned(), |bytes| bytes.to_string())
    )]
    FrameTooLarge {
        /// The body's size, when the client declared it.
        bytes: Option<u64>,
        /// The server's limit.
        bytes_max: usize,
    },
    /// The body ended before its declared length, or the connection broke while reading it.
    #[error("the request body could not be read to its end; send the whole frame again")]
    BodyIncomplete,
    /// The body did not arrive within the server's body read timeout.
    #[error(
        "the request body did not arrive within {0} ms; send the frame at once, or ask the \
         operator for a longer body_read_timeout_ms on a slow link"
    )]
    BodyTimeout(u64),
    /// The frame does not decode or breaks a limit.
    #[error(transparent)]
    Wire(#[from] WireError),
    /// The walk or the events break a rule of the session.
    #[error(transparent)]
    Sync(SyncError),
    /// The request was refused before anything was stored (`sync::Responder::admit`: a frame
    /// that does not decode or is not a request, an event of another group, a forged creator,
    /// a timestamp too far ahead, an item naming a group outside the session); the message
    /// says which rule and why.
    #[error(transparent)]
    Refused(AdmitError),
    /// No endpoint at this path.
    #[error("there is no endpoint at this path; see the server's documentation for the endpoints")]
    NotFound,
    /// The endpoint exists but not with this method.
    #[error("this endpoint does not take {0}; use {1}")]
    MethodNotAllowed(String, &'static str),
    /// Something failed on the server's side. The detail is logged, never sent.
    #[error("internal: {0}")]
    Internal(String),
}

impl ApiError {
    /// The protocol's code for this error, when it has one.
    fn code(&self) -> Option<ErrorCode> {
        Some(match self {
            ApiError::Unauthorized(_) => ErrorCode::Unauthorized,
            ApiError::FrameTooLarge { .. } => ErrorCode::FrameTooLarge,
            ApiError::BodyIncomplete => ErrorCode::MalformedFrame,
            ApiError::Wire(error) => error.code(),
            ApiError::Sync(error) => error.code(),
            ApiError::Refused(error) => error.code(),
            ApiError::Internal(_) => ErrorCode::Internal,
            ApiError::NotFound | ApiError::MethodNotAllowed(..) | ApiError::BodyTimeout(_) => {
                return None
            }
        })
    }

    /// The response for this error; counts it in `tideline_rejected_requests_total`.
    pub(crate) fn into_response(self, metrics: &Metrics, endpoint: &'static str) -> Response<Body> {
        let code = match self.code() {
            Some(code) => code,
            None => {
                let status = match self {
                    ApiError::MethodNotAllowed(..) => StatusCode::METHOD_NOT_ALLOWED,
                    ApiError::BodyTimeout(_) => StatusCode::REQUEST_TIMEOUT,
                    _ => StatusCode::NOT_FOUND,
                };
                let mut response = plain(status, self.to_string());
                if let ApiError::MethodNotAllowed(_, allowed) = self {
                    // RFC 9110 §15.5.6: a 405 names the methods the endpoint takes.
                    response
                        .headers_mut()
                        .insert(ALLOW, HeaderValue::from_static(allowed));
                }
                return response;
            }
        };
        let status = StatusCode::from_u16(status_of(code)).expect("the spec's statuses are valid");
        let message = match &self {
            ApiError::Internal(detail) => {
                tracing::error!(endpoint, detail = %detail, "request failed inside the server");
                "the server failed to handle the request; retry later, and tell the operator if \
                 it keeps failing"
                    .to_owned()
            }
            // A store error inside the walk is the server's failure too.
            ApiError::Sync(error @ SyncError::Store(_)) => {
                tracing::error!(endpoint, error = %error, "store failed during a sync");
                "the server failed to read its store; retry later, and tell the operator if it \
                 keeps failing"
                    .to_owned()
            }
            error => {
                tracing::debug!(endpoint, code = code.name(), error = %error, "request rejected");
                error.to_string()
            }
        };
        metrics.rejected(code.name());
        let body = encode_frame(&Frame::Error(ErrorBody::new(code, &message)));
        metrics.bytes_sent(body.len());
        let mut response = typed(Bytes::from(body), FRAME_CONTENT_TYPE);
        *response.status_mut() = status;
        let headers = response.headers_mut();
        headers.insert(ERROR_HEADER, HeaderValue::from_static(code.name()));
        if code == ErrorCode::Unauthorized {
            headers.insert(WWW_AUTHENTICATE, HeaderValue::from_static(BEARER_SCHEME));
        }
        response
    }
}
