//! Helpers shared by the client's tests: unsigned tokens for replicas that never reach a server,
//! and the real server, in process, behind a thin front that can cut a connection.
//!
//! The server is `tideline_server::run` on a loopback port (`tideline_testkit::server`), so the
//! client is tested against the code the `tideline-server` binary runs, not a copy of it. The
//! front is an HTTP/1.1 relay in front of it: the replicas talk to the front, which passes every
//! request and response through unchanged, counts the sync requests, and on demand drops the
//! client's connection after the server has answered, which a server cannot be asked to do.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use base64::Engine;
use http_body_util::{BodyExt, Empty};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response};
use hyper_util::rt::TokioIo;
use tideline_client::Replica;
use tideline_protocol::http::{METRICS_PATH, SYNC_PATH};
use tideline_protocol::tree::Digest;
use tideline_testkit::server::InProcessServer;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// A JWT-shaped token with these claims and a signature nobody checks: enough for a replica
/// that never syncs, or syncs with a server that is not there.
pub fn token(sub: &str, groups: &[&str]) -> String {
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let header = engine.encode(r#"{"alg":"HS256","typ":"JWT"}"#);
    let payload = engine.encode(
        serde_json::json!({"sub": sub, "groups": groups, "aud": "tideline", "exp": 4_000_000_000u64})
            .to_string(),
    );
    format!("{header}.{payload}.c2lnbmF0dXJl")
}

/// What the front keeps.
struct Front {
    /// The server's address.
    upstream: SocketAddr,
    /// Sync requests passed on or dropped so far.
    requests: AtomicUsize,
    /// When set: the sync request with this number (counted from 1) is passed on, and once the
    /// server has answered (so its events are stored) the client's connection is dropped
    /// instead of answered. One-shot.
    drop_at_request: Mutex<Option<usize>>,
}

/// The real server in process, and the front the replicas talk to. Dropping it stops both.
pub struct TestServer {
    /// The base URL replicas use: the front's.
    pub url: String,
    server: InProcessServer,
    front: Arc<Front>,
    task: JoinHandle<()>,
}

impl TestServer {
    /// Starts the server on a temporary data directory and the front on 127.0.0.1:0.
    pub async fn start() -> TestServer {
        let server = InProcessServer::start().await;
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let front = Arc::new(Front {
            upstream: server.addr(),
            requests: AtomicUsize::new(0),
            drop_at_request: Mutex::new(None),
        });
        let task = tokio::spawn(front_serve(listener, Arc::clone(&front)));
        TestServer {
            url: format!("http://{address}"),
            server,
            front,
            task,
        }
    }

    /// A token for `user` with `groups`, signed by the server.
    pub fn token(&self, user: &str, groups: &[&str]) -> String {
        self.server.token(user, groups)
    }

    /// Drops the connection at the sync request `requests_from_now + 1` from now, after the
    /// server has stored that request's events: the client's request reached the server, its
    /// response never came back.
    pub fn drop_after(&self, requests_from_now: usize) {
        let next = self.front.requests.load(Ordering::SeqCst);
        *self.front.drop_at_request.lock().unwrap() = Some(next + requests_from_now + 1);
    }

    /// Sync requests seen so far.
    pub fn requests(&self) -> usize {
        self.front.requests.load(Ordering::SeqCst)
    }

    /// The root of a group on the server: the root of a fresh replica after it synced
    /// everything of that group from the server (directly, so [`TestServer::requests`] does
    /// not count it). The server's store is its own; this is what it serves from it.
    pub async fn root(&self, group: &str) -> Digest {
        let dir = tempfile::tempdir().unwrap();
        let token = self.server.token("observer", &[group]);
        let mut observer = Replica::init(dir.path(), &self.server.url(), &token).unwrap();
        let report = observer.sync().await.unwrap();
        assert_eq!(report.events_sent, 0, "the observer writes nothing");
        observer.root(group).unwrap()
    }

    /// How many events the server holds: what its `tideline_events_stored_total` metric
    /// counted, which is every event it stored since it started on an empty data directory.
    pub async fn events_len(&self) -> usize {
        let text = metrics_get(self.server.addr()).await;
        let value = text
            .lines()
            .find_map(|line| line.strip_prefix("tideline_events_stored_total "))
            .unwrap_or_else(|| panic!("no tideline_events_stored_total in {text}"));
        value.trim().parse::<f64>().unwrap() as usize
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        // The server stops when `server` is dropped.
        self.task.abort();
    }
}

/// `GET /metrics` on the server: the text.
async fn metrics_get(addr: SocketAddr) -> String {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(connection);
    let request = Request::get(METRICS_PATH)
        .header("host", "tideline.test")
        .body(Empty::<Bytes>::new())
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(body.to_vec()).unwrap()
}

/// The error the front's service returns to make hyper drop the client's connection.
#[derive(Debug)]
struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("connection dropped")
    }
}

impl std::error::Error for Dropped {}

/// Accepts connections until the task is aborted, and relays each.
async fn front_serve(listener: TcpListener, front: Arc<Front>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let front = Arc::clone(&front);
        tokio::spawn(async move {
            let service = service_fn(move |request| relay(Arc::clone(&front), request));
            // A dropped connection ends here with an error, on purpose.
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// Passes `request` to the server on a connection of its own and its response back, streamed
/// both ways (so `/v1/live` works), unless this is the sync request to drop.
async fn relay(
    front: Arc<Front>,
    request: Request<Incoming>,
) -> Result<Response<Incoming>, Dropped> {
    let sync = request.method() == Method::POST && request.uri().path() == SYNC_PATH;
    let number = if sync {
        front.requests.fetch_add(1, Ordering::SeqCst) + 1
    } else {
        0
    };
    let stream = TcpStream::connect(front.upstream)
        .await
        .map_err(|_| Dropped)?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|_| Dropped)?;
    tokio::spawn(connection);
    let response = sender.send_request(request).await.map_err(|_| Dropped)?;
    let mut drop_at = front.drop_at_request.lock().unwrap();
    if sync && *drop_at == Some(number) {
        // The server answers a sync request only once its events are durable.
        *drop_at = None;
        return Err(Dropped);
    }
    Ok(response)
}
