//! Connections and endpoints: each connection is served by hyper's HTTP/1.1 server, and each
//! request is routed to a handler named resource first, then action. The paths, methods and
//! content types are those of `tideline_protocol::http`.
//!
//! | method | path            | handler          |
//! |--------|-----------------|------------------|
//! | POST   | `/v1/sync`      | [`sync_post`]    |
//! | GET    | `/v1/live`      | [`live_get`]     |
//! | GET    | `/v1/conflicts` | [`conflicts_get`]|
//! | GET    | `/healthz`      | `ok`             |
//! | GET    | `/metrics`      | the metrics      |

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, AUTHORIZATION, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tideline_protocol::http::{
    Endpoint, BEARER_SCHEME, FRAME_CONTENT_TYPE, HEALTHZ_BODY, JSON_CONTENT_TYPE,
    LIVE_CACHE_CONTROL, LIVE_CONTENT_TYPE, METRICS_CONTENT_TYPE,
};
use tideline_protocol::sync::{self, SyncError};
use tideline_protocol::wire::{encode_frame, Frame};
use tideline_store::RocksStore;
use tokio::net::TcpStream;
use tokio::sync::{broadcast, OwnedSemaphorePermit};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::auth::{AuthError, Identity, Verifier};
use crate::body::{full, plain, typed, Body};
use crate::deadline::WriteDeadline;
use crate::error::ApiError;
use crate::live::{self, Committed};
use crate::metrics::Metrics;
use crate::writer::WriterHandle;

/// What every handler shares.
pub(crate) struct AppState {
    /// The store. Only the writer takes the write lock; handlers read under read locks, on
    /// blocking threads, so RocksDB reads never stall the async workers.
    pub(crate) store: Arc<RwLock<RocksStore>>,
    /// The queue to the group-commit writer. The writer stops when the last copy of this is
    /// dropped, which is when the last connection has ended and `run` has let go of the state.
    pub(crate) writer: WriterHandle,
    /// Batches the writer committed, for live streams to subscribe to.
    pub(crate) live: broadcast::Sender<Committed>,
    /// Checks bearer tokens.
    pub(crate) verifier: Verifier,
    /// The metrics.
    pub(crate) metrics: Arc<Metrics>,
    /// See [`crate::ServerConfig::max_skew_ms`].
    pub(crate) max_skew_ms: u64,
    /// See [`crate::ServerConfig::frame_bytes_max`].
    pub(crate) frame_bytes_max: usize,
    /// See [`crate::ServerConfig::body_read_timeout`].
    pub(crate) body_read_timeout: Duration,
    /// Fires when the server stops; live streams end on it.
    pub(crate) shutdown: CancellationToken,
    /// Tracks connections and live stream tasks, so shutdown can wait for them.
    pub(crate) tracker: TaskTracker,
}

/// Serves one connection until the client closes it or the server stops; holds `permit` for
/// as long, so the connection counts against the limit.
pub(crate) async fn connection_serve(
    state: Arc<AppState>,
    stream: TcpStream,
    peer: SocketAddr,
    permit: OwnedSemaphorePermit,
    header_read_timeout: Duration,
    write_timeout: Duration,
) {
    let _permit = permit;
    // Frames are written whole; waiting to coalesce them only adds latency.
    let _ = stream.set_nodelay(true);
    let shutdown = state.shutdown.clone();
    let service_state = Arc::clone(&state);
    let service = hyper::service::service_fn(move |request| {
        let state = Arc::clone(&service_state);
        async move { Ok::<_, Infallible>(request_handle(state, request).await) }
    });
    let connection = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(header_read_timeout)
        .serve_connection(
            TokioIo::new(WriteDeadline::new(stream, write_timeout)),
            service,
        );
    tokio::pin!(connection);
    let result = tokio::select! {
        result = connection.as_mut() => result,
        _ = shutdown.cancelled() => {
            // Finishes the request in progress, if any, then closes.
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(error) = result {
        tracing::debug!(peer = %peer, error = %error, "connection ended with an error");
    }
}

/// Routes one request and times it.
async fn request_handle(state: Arc<AppState>, request: Request<Incoming>) -> Response<Body> {
    let started = Instant::now();
    let routed = Endpoint::of_path(request.uri().path());
    // The `endpoint` label of the metrics (spec §15.8): the endpoint's name, `other` for a path
    // that is none of them.
    let endpoint = routed.map_or("other", Endpoint::name);
    let checked = match routed {
        None => Err(ApiError::NotFound),
        Some(routed) => method_check(request.method(), routed).map(|()| routed),
    };
    let result = match checked {
        Err(error) => Err(error),
        Ok(Endpoint::Sync) => sync_post(&state, request).await,
        Ok(Endpoint::Live) => live_get(&state, &request),
        Ok(Endpoint::Conflicts) => conflicts_get(&state, &request).await,
        Ok(Endpoint::Healthz) => Ok(plain(StatusCode::OK, HEALTHZ_BODY.to_owned())),
        Ok(Endpoint::Metrics) => Ok(metrics_get(&state)),
    };
    let response = result.unwrap_or_else(|error| error.into_response(&state.metrics, endpoint));
    state
        .metrics
        .request_duration(endpoint, started.elapsed().as_secs_f64());
    response
}

/// Refuses a method other than the one `endpoint` takes.
fn method_check(method: &Method, endpoint: Endpoint) -> Result<(), ApiError> {
    if method.as_str() == endpoint.method() {
        Ok(())
    } else {
        Err(ApiError::MethodNotAllowed(
            method.to_string(),
            endpoint.method(),
        ))
    }
}

/// The identity of the request's bearer token.
fn authenticate<B>(state: &AppState, request: &Request<B>) -> Result<Identity, ApiError> {
    let header = request
        .headers()
        .get(AUTHORIZATION)
        .ok_or(AuthError::Missing)?;
    let token = header
        .to_str()
        .ok()
        // The scheme is case-insensitive (RFC 9110 §11.1).
        .and_then(|value| {
            let (scheme, token) = value.split_once(' ')?;
            scheme.eq_ignore_ascii_case(BEARER_SCHEME).then_some(token)
        })
        .map(str::trim)
        .filter(|token| !token.is_empty())
        .ok_or(AuthError::Missing)?;
    Ok(state.verifier.verify(token)?)
}

/// `POST /v1/sync`: one round of the walk, with the request's events made durable before the
/// response is built.
async fn sync_post(
    state: &Arc<AppState>,
    request: Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    let identity = authenticate(state, &request)?;
    let body = tokio::time::timeout(
        state.body_read_timeout,
        body_read(request, state.frame_bytes_max),
    )
    .await
    .map_err(|_| ApiError::BodyTimeout(state.body_read_timeout.as_millis() as u64))??;
    state.metrics.bytes_received(body.len());

    let now_ms = now_ms();
    let responder = sync::Responder::new(
        sync::Config::default(),
        sync::Policy {
            max_skew_ms: state.max_skew_ms,
        },
    );
    // Decoding and hashing up to FRAME_BYTES_MAX of events is CPU work: off the async workers.
    let mut admitted =
        blocking(move || responder.admit(&body, &identity.groups, &identity.user, now_ms))
            .await?
            .map_err(ApiError::Refused)?;

    let events = admitted.take_events();
    if !events.is_empty() {
        state
            .writer
            .commit(events)
            .await
            .map_err(|error| ApiError::Internal(error.to_string()))?;
    }

    let store = Arc::clone(&state.store);
    let response = blocking(move || {
        let store = store.read().unwrap_or_else(PoisonError::into_inner);
        responder.respond(&*store, &admitted)
    })
    .await?
    .map_err(|error| match error {
        // The request was checked before anything was committed; a walk error now is ours.
        error @ SyncError::Store(_) => ApiError::Sync(error),
        error => ApiError::Internal(format!(
            "respond failed after the request was checked: {error}"
        )),
    })?;
    let body = encode_frame(&Frame::Response(response));
    state.metrics.sync_round();
    state.metrics.bytes_sent(body.len());
    let mut response = Response::new(full(Bytes::from(body)));
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(FRAME_CONTENT_TYPE));
    Ok(response)
}

/// Reads the body, refusing one over `bytes_max` before reading it when its length is declared
/// and as soon as it passes the limit otherwise.
async fn body_read(request: Request<Incoming>, bytes_max: usize) -> Result<Bytes, ApiError> {
    if let Some(declared) = request.headers().get(CONTENT_LENGTH) {
        let declared: u64 = declared
            .to_str()
            .ok()
            .and_then(|text| text.parse().ok())
            .ok_or(ApiError::BodyIncomplete)?;
        if declared > bytes_max as u64 {
            return Err(ApiError::FrameTooLarge {
                bytes: Some(declared),
                bytes_max,
            });
        }
    }
    Limited::new(request.into_body(), bytes_max)
        .collect()
        .await
        .map(|collected| collected.to_bytes())
        .map_err(|error| {
            if error.downcast_ref::<LengthLimitError>().is_some() {
                ApiError::FrameTooLarge {
                    bytes: None,
                    bytes_max,
                }
            } else {
                ApiError::BodyIncomplete
            }
        })
}

/// `GET /v1/live`: a stream of the events that become durable in the token's groups.
fn live_get<B>(state: &Arc<AppState>, request: &Request<B>) -> Result<Response<Body>, ApiError> {
    let identity = authenticate(state, request)?;
    // Subscribed before the response goes out, so nothing committed after the client sees the
    // 200 is missed.
    let receiver = state.live.subscribe();
    let valid_for = Duration::from_millis(
        (identity.valid_until_s.saturating_mul(1000)).saturating_sub(now_ms()),
    );
    let body = live::stream_start(
        receiver,
        identity.groups,
        identity.user,
        valid_for,
        Arc::clone(&state.metrics),
        state.shutdown.clone(),
        &state.tracker,
    );
    let mut response = Response::new(body.boxed());
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(LIVE_CONTENT_TYPE));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static(LIVE_CACHE_CONTROL));
    Ok(response)
}

/// `GET /v1/conflicts`: the token's user's conflicts in the token's groups, as JSON.
async fn conflicts_get<B>(
    state: &Arc<AppState>,
    request: &Request<B>,
) -> Result<Response<Body>, ApiError> {
    let identity = authenticate(state, request)?;
    let store = Arc::clone(&state.store);
    let conflicts = blocking(move || {
        let store = store.read().unwrap_or_else(PoisonError::into_inner);
        crate::conflicts::conflicts_json(&*store, &identity)
    })
    .await?
    .map_err(|error| ApiError::Internal(format!("reading conflicts: {error}")))?;
    let body = serde_json::to_vec(&conflicts).expect("JSON values encode");
    state.metrics.bytes_sent(body.len());
    Ok(typed(Bytes::from(body), JSON_CONTENT_TYPE))
}

/// `GET /metrics`.
fn metrics_get(state: &AppState) -> Response<Body> {
    typed(Bytes::from(state.metrics.encode()), METRICS_CONTENT_TYPE)
}

/// Runs blocking work (RocksDB, hashing) on the blocking pool.
async fn blocking<T, F>(work: F) -> Result<T, ApiError>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|error| ApiError::Internal(format!("a blocking task failed: {error}")))
}

/// The server's wall clock, in milliseconds since the Unix epoch.
fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis() as u64)
}
