//! Tideline against a running `tideline-server` over HTTP/1.1, counting every byte that crosses
//! the socket: request and status lines, headers and bodies, both ways.
//!
//! A session's groups are the token's `groups` claim, and the server refuses events whose
//! `creator` is not the token's user, so the logs are generated for that user in those groups.
//! The server must start empty: it is first given the responder's log by a sync from an
//! in-memory replica (the preload, reported apart), then the initiator's replica syncs and that
//! session is the one measured. A second, idle sync shows what a sync costs when nothing
//! differs.
//!
//! The client is hyper's HTTP/1.1 connection over one keep-alive `TcpStream`, wrapped in the
//! reference client's byte-counting socket ([`CountingIo`]); the replica is an in-memory store,
//! not the client's RocksDB one, so that building it costs nothing in the measured time.

use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, ensure, Context};
use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST};
use hyper::{Method, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use tideline_client::http::{CountingIo, WireCounters};
use tideline_protocol::http::{BEARER_SCHEME, FRAME_CONTENT_TYPE, SYNC_PATH};
use tideline_protocol::replica::apply;
use tideline_protocol::store::Store;
use tideline_protocol::sync::{Config, Initiator};
use tideline_protocol::wire::{decode_frame, encode_frame, Frame, Groups, Salt};
use tideline_testkit::generate::Rng;
use tokio::net::TcpStream;

use crate::bulk::store_build;
use crate::measure::{Measure, Protocol};
use crate::workload::{generate, Pattern, Workload};

/// The claims of a token that the benchmark needs. The server checks the signature; the
/// benchmark only reads the payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenClaims {
    /// `sub`: the user, who must be the creator of every event.
    pub user: String,
    /// `groups`: the session's groups.
    pub groups: Vec<String>,
}

/// Reads `sub` and `groups` from a JWT's payload without verifying it.
pub fn token_claims(token: &str) -> anyhow::Result<TokenClaims> {
    let payload = token
        .split('.')
        .nth(1)
        .context("the token is not a JWT (header.payload.signature)")?;
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .context("the token's payload is not base64url")?;
    let claims: serde_json::Value =
        serde_json::from_slice(&json).context("the token's payload is not JSON")?;
    let user = claims["sub"]
        .as_str()
        .context("the token has no `sub` claim")?
        .to_owned();
    let groups: Vec<String> = claims["groups"]
        .as_array()
        .context("the token has no `groups` claim")?
        .iter()
        .map(|group| group.as_str().map(str::to_owned))
        .collect::<Option<_>>()
        .context("the token's groups are not strings")?;
    ensure!(!groups.is_empty(), "the token names no group");
    Ok(TokenClaims { user, groups })
}

/// One HTTP/1.1 connection to the server, with its byte counters.
struct Connection {
    sender: hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    host: String,
    token: String,
    counters: Arc<WireCounters>,
}

impl Connection {
    async fn open(url: &Uri, token: &str) -> anyhow::Result<Connection> {
        ensure!(
            url.scheme_str().unwrap_or("http") == "http",
            "only http:// URLs are supported (the benchmark counts plain-text bytes)"
        );
        let host = url.host().context("the server URL has no host")?;
        let port = url.port_u16().unwrap_or(80);
        let stream = TcpStream::connect((host, port))
            .await
            .with_context(|| format!("connecting to {host}:{port}"))?;
        stream.set_nodelay(true)?;
        let counters = Arc::new(WireCounters::default());
        let counted = CountingIo::new(stream, Arc::clone(&counters));
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(counted))
            .await
            .context("HTTP/1.1 handshake")?;
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                eprintln!("the connection to the server ended: {error}");
            }
        });
        Ok(Connection {
            sender,
            host: url
                .authority()
                .map_or(host.to_owned(), |authority| authority.to_string()),
            token: token.to_owned(),
            counters,
        })
    }

    /// Sends one frame and returns the response frame's bytes.
    async fn round(&mut self, body: Vec<u8>) -> anyhow::Result<Bytes> {
        let request = hyper::Request::builder()
            .method(Method::POST)
            .uri(SYNC_PATH)
            .header(HOST, &self.host)
            .header(AUTHORIZATION, format!("{BEARER_SCHEME} {}", self.token))
            .header(CONTENT_TYPE, FRAME_CONTENT_TYPE)
            .body(Full::new(Bytes::from(body)))?;
        self.sender.ready().await?;
        let response = self.sender.send_request(request).await?;
        let status = response.status();
        let body = response.into_body().collect().await?.to_bytes();
        if status != StatusCode::OK {
            let detail = match decode_frame(&body) {
                Ok(Frame::Error(error)) => format!("{error:?}"),
                _ => String::from_utf8_lossy(&body).into_owned(),
            };
            bail!("the server answered {status}: {detail}");
        }
        Ok(body)
    }
}

/// What one HTTP session cost.
#[derive(Clone, Debug)]
pub struct HttpSession {
    /// Socket bytes, rounds and time; the time includes the server's work and the network.
    pub measure: Measure,
    /// Frame bytes alone, client to server.
    pub frame_bytes_to_server: u64,
    /// Frame bytes alone, server to client.
    pub frame_bytes_to_client: u64,
    /// Events the client received.
    pub events_received: usize,
    /// Events the client sent.
    pub events_sent: usize,
}

/// One whole session of `store` against the server, on a new connection.
///
/// The initiator's time is its own calls (`poll_request` and encoding, decoding and
/// `handle_response`); the responder's is the rest of each round trip as the client sees it:
/// the server's work and the network. Heap is not measured: the server is another process.
async fn session<S: Store>(
    url: &Uri,
    token: &str,
    store: &mut S,
    groups: &Groups,
    salt: Salt,
) -> anyhow::Result<HttpSession> {
    let mut connection = Connection::open(url, token).await?;
    let mut measure = Measure::new(Protocol::TidelineHttp);
    let mut initiator = Initiator::new(groups.clone(), salt, Config::default());
    let mut frame_bytes_to_server = 0u64;
    let mut frame_bytes_to_client = 0u64;
    let mut events_received = 0usize;
    let mut events_sent = 0usize;
    loop {
        let working = Instant::now();
        let Some(request) = initiator.poll_request(&*store)? else {
            measure.initiator.time += working.elapsed();
            break;
        };
        events_sent += request.events.len();
        let body = encode_frame(&Frame::Request(request));
        measure.initiator.time += working.elapsed();
        frame_bytes_to_server += body.len() as u64;
        let waiting = Instant::now();
        let answer = connection.round(body).await?;
        measure.responder.time += waiting.elapsed();
        frame_bytes_to_client += answer.len() as u64;
        let working = Instant::now();
        let response = match decode_frame(&answer)? {
            Frame::Response(response) => response,
            other => bail!("the server answered a sync with {other:?}"),
        };
        let events = initiator.handle_response(response)?;
        measure.initiator.time += working.elapsed();
        events_received += events.len();
        let applying = Instant::now();
        apply(store, &events).context("applying the server's events")?;
        measure.initiator.apply_time += applying.elapsed();
    }
    measure.bytes_to_responder = connection.counters.sent();
    measure.bytes_to_initiator = connection.counters.received();
    measure.rounds = initiator.rounds();
    measure.events_moved = (events_received + events_sent) as u64;
    Ok(HttpSession {
        measure,
        frame_bytes_to_server,
        frame_bytes_to_client,
        events_received,
        events_sent,
    })
}

/// The three sessions of an HTTP run.
#[derive(Clone, Debug)]
pub struct HttpReport {
    /// The workload as run (its groups and creator come from the token).
    pub workload: Workload,
    /// The token's user.
    pub user: String,
    /// The responder's log pushed to the empty server.
    pub preload: HttpSession,
    /// The measured session: the initiator's replica against the server.
    pub sync: HttpSession,
    /// The same replica again: nothing differs.
    pub idle: HttpSession,
    /// Bytes of the events that had to move in the measured session.
    pub missing_event_bytes: u64,
    /// How many events had to move.
    pub differences: usize,
}

/// Runs the HTTP benchmark against the server at `url` with `token`.
pub fn http_run(workload: &Workload, url: &str, token: &str) -> anyhow::Result<HttpReport> {
    let url: Uri = url.parse().context("the server URL")?;
    let claims = token_claims(token)?;
    let mut workload = workload.clone();
    // The `groups` pattern spreads events over the token's groups; the others use its first.
    let names: Vec<String> = if workload.pattern == Pattern::Groups {
        workload.groups = claims.groups.len();
        claims.groups.clone()
    } else {
        vec![claims.groups[0].clone()]
    };
    let generated = generate(&workload, Some(&names), true, &claims.user)?;
    let session_groups = Groups::new(claims.groups.iter().cloned())?;
    let common = generated
        .common_events
        .as_ref()
        .expect("generated with real shared events");
    let responder_events: Vec<_> = common
        .iter()
        .chain(&generated.only_responder)
        .cloned()
        .collect();
    let initiator_events: Vec<_> = common
        .iter()
        .chain(&generated.only_initiator)
        .cloned()
        .collect();
    let (mut preload_store, _) = store_build(&session_groups, [], &responder_events);
    drop(responder_events);
    let (mut store, _) = store_build(&session_groups, [], &initiator_events);
    drop(initiator_events);

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut rng = Rng::new(workload.seed ^ 0x6874_7470);
    runtime.block_on(async {
        let preload = session(
            &url,
            token,
            &mut preload_store,
            &session_groups,
            Salt(rng.bytes()),
        )
        .await
        .context("preloading the server")?;
        ensure!(
            preload.events_received == 0,
            "the server already held {} events of these groups; start it on an empty data \
             directory so the measured session moves only this workload's differences",
            preload.events_received
        );
        drop(preload_store);
        let sync = session(&url, token, &mut store, &session_groups, Salt(rng.bytes()))
            .await
            .context("the measured session")?;
        let union = generated.common.len() + generated.differences();
        ensure!(
            store.events_len() == union,
            "after the session the client holds {} events, not the union's {union}",
            store.events_len()
        );
        let idle = session(&url, token, &mut store, &session_groups, Salt(rng.bytes()))
            .await
            .context("the idle session")?;
        Ok(HttpReport {
            workload: workload.clone(),
            user: claims.user.clone(),
            preload,
            sync,
            idle,
            missing_event_bytes: generated.missing_event_bytes(),
            differences: generated.differences(),
        })
    })
}

/// The report as markdown.
pub fn http_markdown(report: &HttpReport) -> String {
    use crate::report::thousands;
    let mut out = format!(
        "HTTP run: {} (user `{}`), {} events to move ({} B of events).\n\n\
         | session | socket → server (B) | socket → client (B) | frames → server (B) | frames → client (B) | HTTP overhead (B) | rounds | events sent | events received | time (ms) |\n\
         |---|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n",
        report.workload.label(),
        report.user,
        report.differences,
        thousands(report.missing_event_bytes)
    );
    for (name, session) in [
        ("preload", &report.preload),
        ("measured", &report.sync),
        ("idle", &report.idle),
    ] {
        let measure = &session.measure;
        let frames = session.frame_bytes_to_server + session.frame_bytes_to_client;
        out.push_str(&format!(
            "| {name} | {} | {} | {} | {} | {} | {} | {} | {} | {:.1} |\n",
            thousands(measure.bytes_to_responder),
            thousands(measure.bytes_to_initiator),
            thousands(session.frame_bytes_to_server),
            thousands(session.frame_bytes_to_client),
            thousands(measure.bytes_total().saturating_sub(frames)),
            measure.rounds,
            session.events_sent,
            session.events_received,
            measure.time().as_secs_f64() * 1000.0
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stand-in for `tideline-server`'s sync endpoint: the same protocol calls on a memory
    /// store, no token check. Returns its address; the server thread ends with the test process.
    fn stand_in_server(groups: Groups) -> std::net::SocketAddr {
        use std::sync::Mutex;
        use tideline_protocol::store::MemoryStore;
        use tideline_protocol::sync::{Policy, Responder};

        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                sender.send(listener.local_addr().unwrap()).unwrap();
                let store = Arc::new(Mutex::new(MemoryStore::new()));
                loop {
                    let (stream, _) = listener.accept().await.unwrap();
                    let store = Arc::clone(&store);
                    let groups = groups.clone();
                    let service = hyper::service::service_fn(
                        move |request: hyper::Request<hyper::body::Incoming>| {
                            let store = Arc::clone(&store);
                            let groups = groups.clone();
                            async move {
                                assert_eq!(request.uri().path(), SYNC_PATH);
                                assert!(request.headers()[AUTHORIZATION]
                                    .to_str()
                                    .unwrap()
                                    .starts_with(&format!("{BEARER_SCHEME} ")));
                                let body = request.into_body().collect().await.unwrap().to_bytes();
                                let responder =
                                    Responder::new(Config::default(), Policy::default());
                                let admitted = responder.admit_trusted(&body, &groups).unwrap();
                                let mut store = store.lock().unwrap();
                                apply(&mut *store, admitted.events()).unwrap();
                                let response = responder.respond(&*store, &admitted).unwrap();
                                let body = encode_frame(&Frame::Response(response));
                                Ok::<_, std::convert::Infallible>(hyper::Response::new(Full::new(
                                    Bytes::from(body),
                                )))
                            }
                        },
                    );
                    tokio::spawn(
                        hyper::server::conn::http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), service),
                    );
                }
            });
        });
        receiver.recv().unwrap()
    }

    /// Guards the HTTP mode end to end against a stand-in server: the preload pushes the
    /// responder's log, the measured session moves exactly the differences, the idle session
    /// is one round trip, and socket bytes exceed frame bytes by the HTTP headers.
    #[test]
    fn http_run_against_a_stand_in_server() {
        let names = ["g1", "g2"];
        let address = stand_in_server(Groups::new(names).unwrap());
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(br#"{"sub":"bench","groups":["g1","g2"]}"#);
        let token = format!("eyJhbGciOiJIUzI1NiJ9.{payload}.c2ln");
        let workload = Workload {
            pattern: Pattern::Uniform,
            events_per_side: 2_000,
            differences: 30,
            split: crate::workload::Split::Even,
            payload_bytes: 50,
            groups: 1,
            zipf_exponent: 1.0,
            seed: 8,
        };
        let report = http_run(&workload, &format!("http://{address}"), &token).unwrap();
        assert_eq!(report.preload.events_sent, 2_000);
        assert_eq!(report.sync.events_sent + report.sync.events_received, 30);
        assert_eq!(report.idle.measure.rounds, 1);
        let sync = &report.sync;
        assert!(sync.measure.bytes_to_responder > sync.frame_bytes_to_server);
        assert!(sync.measure.bytes_to_initiator > sync.frame_bytes_to_client);
        // Each request carries at least its method line, Host, Authorization and Content-Type.
        let headers = sync.measure.bytes_to_responder - sync.frame_bytes_to_server;
        assert!(headers >= u64::from(sync.measure.rounds) * token.len() as u64);
    }

    /// Guards the token reading against the JWT layout: the payload is the second part,
    /// base64url without padding.
    #[test]
    fn claims_come_from_the_payload() {
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(br#"{"sub":"bench","groups":["g1","g2"],"exp":1,"aud":"tideline"}"#);
        let token = format!("eyJhbGciOiJIUzI1NiJ9.{payload}.c2ln");
        let claims = token_claims(&token).unwrap();
        assert_eq!(claims.user, "bench");
        assert_eq!(claims.groups, ["g1", "g2"]);
        assert!(token_claims("not a token").is_err());
        let no_groups = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"sub":"x"}"#);
        assert!(token_claims(&format!("a.{no_groups}.b")).is_err());
    }
}
