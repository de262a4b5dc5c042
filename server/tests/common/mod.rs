//! Helpers shared by the server's black-box tests: the server binary to start, a small hyper
//! client, events, and a driver that runs the protocol's in-memory initiator against the server
//! over HTTP. The servers themselves are `tideline_testkit::server`'s.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{HeaderMap, AUTHORIZATION, CONTENT_TYPE};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use tideline_protocol::event::{EventId, VerifiedEvent};
use tideline_protocol::http::{ERROR_HEADER, FRAME_CONTENT_TYPE, SYNC_PATH};
use tideline_protocol::replica;
use tideline_protocol::store::MemoryStore;
use tideline_protocol::sync::{Config, Initiator};
use tideline_protocol::wire::{
    decode_frame, encode_frame, fingerprint, ErrorBody, Frame, Groups, Response, Salt,
};
use tideline_testkit::generate::{create_event, Rng};
use tideline_testkit::server::ServerProcess;
use tokio::net::TcpStream;

/// The `tideline-server` binary of this package as a child process, on a loopback port and a
/// temporary data directory, answering `/healthz`.
pub async fn server_process() -> ServerProcess {
    ServerProcess::start(env!("CARGO_BIN_EXE_tideline-server"), &[]).await
}

/// A whole response.
#[derive(Debug)]
pub struct HttpResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl HttpResponse {
    /// The body as an Error frame, with the header's code checked against it.
    pub fn error(&self) -> ErrorBody {
        let Frame::Error(error) = decode_frame(&self.body).expect("an error body is a frame")
        else {
            panic!("expected an Error frame, got {:?}", self.body);
        };
        let header = self
            .headers
            .get(ERROR_HEADER)
            .expect("errors carry X-Tideline-Error")
            .to_str()
            .unwrap();
        assert_eq!(header, error.code.name());
        error
    }

    /// The body as a Response frame.
    pub fn response(&self) -> Response {
        assert_eq!(
            self.status,
            StatusCode::OK,
            "expected 200, got {} with {:?}",
            self.status,
            decode_frame(&self.body)
        );
        let Frame::Response(response) = decode_frame(&self.body).unwrap() else {
            panic!("expected a Response frame");
        };
        response
    }
}

/// Opens a connection and sends one request; returns the response head with its streaming
/// body.
pub async fn request_streaming(
    addr: SocketAddr,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Vec<u8>,
) -> hyper::Result<hyper::Response<Incoming>> {
    let stream = TcpStream::connect(addr)
        .await
        .unwrap_or_else(|error| panic!("connect to {addr}: {error}"));
    request_on(stream, method, path, token, body).await
}

async fn request_on(
    stream: TcpStream,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Vec<u8>,
) -> hyper::Result<hyper::Response<Incoming>> {
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    let mut builder = Request::builder()
        .method(method)
        .uri(path)
        .header("host", "tideline.test");
    if let Some(token) = token {
        builder = builder.header(AUTHORIZATION, format!("Bearer {token}"));
    }
    if !body.is_empty() {
        builder = builder.header(CONTENT_TYPE, FRAME_CONTENT_TYPE);
    }
    let request = builder.body(Full::new(Bytes::from(body))).unwrap();
    sender.send_request(request).await
}

/// One request on a fresh connection; fails if the server cannot be reached.
pub async fn try_request(
    addr: SocketAddr,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Vec<u8>,
) -> Result<HttpResponse, String> {
    let stream = TcpStream::connect(addr)
        .await
        .map_err(|error| error.to_string())?;
    let response = request_on(stream, method, path, token, body)
        .await
        .map_err(|error| error.to_string())?;
    let status = response.status();
    let headers = response.headers().clone();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|error| error.to_string())?
        .to_bytes();
    Ok(HttpResponse {
        status,
        headers,
        body,
    })
}

/// One request on a fresh connection.
pub async fn request(
    addr: SocketAddr,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Vec<u8>,
) -> HttpResponse {
    try_request(addr, method, path, token, body)
        .await
        .unwrap_or_else(|error| panic!("{path} on {addr}: {error}"))
}

/// `POST /v1/sync` with a frame.
pub async fn sync_post(addr: SocketAddr, token: &str, frame: &Frame) -> HttpResponse {
    request(
        addr,
        Method::POST,
        SYNC_PATH,
        Some(token),
        encode_frame(frame),
    )
    .await
}

/// A request that carries `events` and no walk items: how the tests push events in one round.
pub fn push_frame(groups: &Groups, salt: Salt, events: &[VerifiedEvent]) -> Frame {
    Frame::Request(tideline_protocol::wire::Request {
        salt,
        groups: fingerprint(&salt, &groups.digest()),
        items: Vec::new(),
        events: events.iter().map(|event| event.bytes().to_vec()).collect(),
    })
}

/// `count` distinct create events in `group` by `creator`, timestamped now, from `seed`.
pub fn events(seed: u64, group: &str, creator: &str, count: usize) -> Vec<VerifiedEvent> {
    let mut rng = Rng::new(seed);
    let wall_ms = now_ms();
    (0..count)
        .map(|_| create_event(&mut rng, group, wall_ms, creator, 16))
        .collect()
}

/// What one sync session over HTTP did.
#[derive(Debug, Default)]
pub struct Session {
    /// Requests sent.
    pub rounds: u32,
    /// Every response, in order.
    pub responses: Vec<Response>,
    /// Events received from the server.
    pub events_received: Vec<VerifiedEvent>,
}

/// Runs the protocol's initiator on `store` against the server until the session ends,
/// applying what arrives before each next request, as a real client does.
pub async fn sync_session(
    addr: SocketAddr,
    token: &str,
    groups: &Groups,
    store: &mut MemoryStore,
    salt: Salt,
) -> Session {
    let mut initiator = Initiator::new(groups.clone(), salt, Config::default());
    let mut session = Session::default();
    while let Some(request) = initiator.poll_request(&*store).unwrap() {
        let response = sync_post(addr, token, &Frame::Request(request))
            .await
            .response();
        session.responses.push(response.clone());
        let events = initiator.handle_response(response).unwrap();
        replica::apply(store, &events).unwrap();
        session.events_received.extend(events);
    }
    session.rounds = initiator.rounds();
    session
}

/// Whether `store` holds every event in `ids`; returns the missing ones.
pub fn missing(store: &MemoryStore, ids: &[EventId]) -> Vec<EventId> {
    use tideline_protocol::store::ReadStore;
    ids.iter()
        .filter(|id| !store.has_event(id).unwrap())
        .copied()
        .collect()
}

/// A salt from a small number, for readable tests.
pub fn salt(seed: u8) -> Salt {
    Salt([seed; 16])
}

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

pub fn now_s() -> u64 {
    now_ms() / 1000
}
