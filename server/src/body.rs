//! Response bodies, and the responses every handler and the error mapping build from them.
//!
//! Both `routes` and `error` import this module; neither imports the other's body helpers, so
//! the two stay free of an import cycle.

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{Response, StatusCode};
use tideline_protocol::http::TEXT_CONTENT_TYPE;

/// Every response body: whole bodies and live streams alike.
pub(crate) type Body = BoxBody<Bytes, Infallible>;

/// A whole body.
pub(crate) fn full(bytes: Bytes) -> Body {
    Full::new(bytes).boxed()
}

/// A `200` with a whole body of `content_type`.
pub(crate) fn typed(bytes: Bytes, content_type: &'static str) -> Response<Body> {
    let mut response = Response::new(full(bytes));
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// A plain-text response, for HTTP-level answers that are not protocol errors.
pub(crate) fn plain(status: StatusCode, text: String) -> Response<Body> {
    let mut response = typed(Bytes::from(text), TEXT_CONTENT_TYPE);
    *response.status_mut() = status;
    response
}
