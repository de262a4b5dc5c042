//! Helpers shared by the client's tests: unsigned tokens, and a stand-in for the server.
//!
//! The stand-in answers `POST /v1/sync` and `GET /v1/live` the way the HTTP design says the
//! real server does, with the protocol's stateless responder over a `MemoryStore`. It exists
//! so that the client's tests do not depend on the server crate; the end-to-end tests against
//! the real server binary live elsewhere.

#![allow(dead_code)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use base64::Engine;
use bytes::Bytes;
use http_body_util::channel::Channel;
use http_body_util::{BodyExt, Either, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tideline_client::token::Claims;
use tideline_protocol::http::{live_record_encode, ERROR_HEADER, LIVE_PATH, SYNC_PATH};
use tideline_protocol::store::MemoryStore;
use tideline_protocol::sync::{accept, respond, Config};
use tideline_protocol::tree::{Digest, Tree};
use tideline_protocol::wire::{
    decode_frame, encode_frame, ErrorBody, ErrorCode, Frame, Groups, Response as FrameResponse,
};
use tokio::net::TcpListener;
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

/// A JWT-shaped token with these claims and a signature nobody checks.
pub fn token(sub: &str, groups: &[&str]) -> String {
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let header = engine.encode(r#"{"alg":"HS256","typ":"JWT"}"#);
    let payload = engine.encode(
        serde_json::json!({"sub": sub, "groups": groups, "aud": "tideline", "exp": 4_000_000_000u64})
            .to_string(),
    );
    format!("{header}.{payload}.c2lnbmF0dXJl")
}

type Body = Either<Full<Bytes>, Channel<Bytes>>;

/// What the stand-in keeps.
struct State {
    store: Mutex<MemoryStore>,
    /// Sync requests answered or dropped so far.
    requests: AtomicUsize,
    /// When set: the sync request with this number (counted from 1) is accepted and its events
    /// stored, then the connection is dropped instead of answered. One-shot.
    drop_at_request: Mutex<Option<usize>>,
    /// New events, for `/v1/live` subscribers.
    live: broadcast::Sender<Vec<Vec<u8>>>,
}

/// A stand-in server on 127.0.0.1 with a random port.
pub struct StandIn {
    /// Its base URL.
    pub url: String,
    state: Arc<State>,
    task: JoinHandle<()>,
}

impl StandIn {
    /// Binds 127.0.0.1:0 and serves until dropped.
    pub async fn start() -> StandIn {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address: SocketAddr = listener.local_addr().unwrap();
        let state = Arc::new(State {
            store: Mutex::new(MemoryStore::new()),
            requests: AtomicUsize::new(0),
            drop_at_request: Mutex::new(None),
            live: broadcast::channel(1024).0,
        });
        let serving = Arc::clone(&state);
        let task = tokio::spawn(async move {
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                let state = Arc::clone(&serving);
                tokio::spawn(async move {
                    let service = service_fn(move |request| handle(Arc::clone(&state), request));
                    // A dropped connection ends here with an error, on purpose.
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        StandIn {
            url: format!("http://{address}"),
            state,
            task,
        }
    }

    /// Drops the connection at the sync request `requests_from_now + 1` from now, after
    /// storing that request's events: the client's request reached the server, its response
    /// never came back.
    pub fn drop_after(&self, requests_from_now: usize) {
        let next = self.state.requests.load(Ordering::SeqCst);
        *self.state.drop_at_request.lock().unwrap() = Some(next + requests_from_now + 1);
    }

    /// Sync requests seen so far.
    pub fn requests(&self) -> usize {
        self.state.requests.load(Ordering::SeqCst)
    }

    /// The root of a group in the stand-in's store.
    pub fn root(&self, group: &str) -> Digest {
        let store = self.state.store.lock().unwrap();
        let Ok(root) = Tree::new(&*store).root(group);
        root
    }

    /// How many events the stand-in holds.
    pub fn events_len(&self) -> usize {
        self.state.store.lock().unwrap().events_len()
    }
}

impl Drop for StandIn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn frame_response(status: StatusCode, frame: &Frame) -> Response<Body> {
    let mut response = Response::new(Either::Left(Full::new(Bytes::from(encode_frame(frame)))));
    *response.status_mut() = status;
    response
}

fn error_response(status: StatusCode, code: ErrorCode, message: &str) -> Response<Body> {
    let mut response = frame_response(status, &Frame::Error(ErrorBody::new(code, message)));
    response
        .headers_mut()
        .insert(ERROR_HEADER, code.name().parse().unwrap());
    response
}

/// The error the service returns to make hyper drop the connection.
#[derive(Debug)]
struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("connection dropped on purpose")
    }
}

impl std::error::Error for Dropped {}

async fn handle(state: Arc<State>, request: Request<Incoming>) -> Result<Response<Body>, Dropped> {
    let claims = request
        .headers()
        .get(hyper::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .and_then(|token| Claims::from_token(token).ok());
    let Some(claims) = claims else {
        return Ok(error_response(
            StatusCode::UNAUTHORIZED,
            ErrorCode::Unauthorized,
            "no valid bearer token",
        ));
    };
    let groups = Groups::new(claims.groups.iter().cloned()).unwrap();
    match (request.method().clone(), request.uri().path()) {
        (Method::POST, SYNC_PATH) => sync(&state, &claims, &groups, request).await,
        (Method::GET, LIVE_PATH) => Ok(live(&state, groups)),
        _ => Ok(error_response(
            StatusCode::NOT_FOUND,
            ErrorCode::MalformedFrame,
            "no such endpoint",
        )),
    }
}

async fn sync(
    state: &State,
    claims: &Claims,
    groups: &Groups,
    request: Request<Incoming>,
) -> Result<Response<Body>, Dropped> {
    let number = state.requests.fetch_add(1, Ordering::SeqCst) + 1;
    let body = request.into_body().collect().await.map_err(|_| Dropped)?;
    let request = match decode_frame(&body.to_bytes()) {
        Ok(Frame::Request(request)) => request,
        Ok(_) => {
            return Ok(error_response(
                StatusCode::BAD_REQUEST,
                ErrorCode::UnexpectedFrame,
                "a request frame was expected",
            ))
        }
        Err(error) => {
            return Ok(error_response(
                StatusCode::BAD_REQUEST,
                error.code(),
                &error.to_string(),
            ))
        }
    };
    let events = match accept(groups, &request) {
        Ok(events) => events,
        Err(error) => {
            let status = if error.code() == ErrorCode::GroupForbidden {
                StatusCode::FORBIDDEN
            } else {
                StatusCode::BAD_REQUEST
            };
            return Ok(error_response(status, error.code(), &error.to_string()));
        }
    };
    if events.iter().any(|event| event.event.creator != claims.sub) {
        return Ok(error_response(
            StatusCode::FORBIDDEN,
            ErrorCode::ForgedCreator,
            "an event's creator is not the token's user",
        ));
    }
    let response = {
        let mut store = state.store.lock().unwrap();
        let inserted = tideline_protocol::replica::apply(&mut *store, &events).unwrap();
        if !inserted.is_empty() {
            let bytes: Vec<Vec<u8>> = events
                .iter()
                .filter(|event| inserted.contains(&event.id))
                .map(|event| event.bytes.clone())
                .collect();
            // Nobody listening is fine.
            let _ = state.live.send(bytes);
        }
        respond(&*store, groups, &request, Config::default())
    };
    let mut drop_at = state.drop_at_request.lock().unwrap();
    if *drop_at == Some(number) {
        *drop_at = None;
        return Err(Dropped);
    }
    match response {
        Ok(response) => Ok(frame_response(StatusCode::OK, &Frame::Response(response))),
        Err(error) => Ok(error_response(
            StatusCode::BAD_REQUEST,
            error.code(),
            &error.to_string(),
        )),
    }
}

fn live(state: &State, groups: Groups) -> Response<Body> {
    let mut events = state.live.subscribe();
    let (mut sender, body) = Channel::<Bytes, Infallible>::new(16);
    tokio::spawn(async move {
        while let Ok(batch) = events.recv().await {
            let visible: Vec<Vec<u8>> = batch
                .into_iter()
                .filter(|bytes| {
                    let event = tideline_protocol::event::VerifiedEvent::decode(bytes).unwrap();
                    groups.index_of(&event.event.group).is_some()
                })
                .collect();
            if visible.is_empty() {
                continue;
            }
            let frame = encode_frame(&Frame::Response(FrameResponse {
                consumed: 0,
                items: Vec::new(),
                events: visible,
            }));
            let record = live_record_encode(&frame);
            if sender.send_data(Bytes::from(record)).await.is_err() {
                break;
            }
        }
    });
    Response::new(Either::Right(body))
}
