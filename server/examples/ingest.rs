//! Durable ingest rate: concurrent clients push batches of new events to a server on loopback,
//! and each push counts only once its 200 says the events are durable (WAL fsynced).
//!
//! ```text
//! cargo run --release -p tideline-server --example ingest -- [CLIENTS] [EVENTS_PER_PUSH] [PUSHES_PER_CLIENT]
//! ```
//!
//! Defaults: 8 clients, 100 events per push, 50 pushes per client (40 000 events). The server
//! runs in this process (the same `tideline_server::run` the binary calls) on a temporary data
//! directory, so clients and server share the machine's cores. Each push is one `POST /v1/sync`
//! whose request carries events and no walk items, on a fresh connection.

use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use tideline_protocol::http::{FRAME_CONTENT_TYPE, SYNC_PATH};
use tideline_protocol::wire::{encode_frame, fingerprint, Frame, Groups, Salt};
use tideline_server::{auth, ServerConfig, SECRET_FILE_NAME};
use tideline_testkit::generate::{create_event, Rng};
use tokio_util::sync::CancellationToken;

fn argument(index: usize, default: usize) -> usize {
    std::env::args()
        .nth(index)
        .map(|text| text.parse().expect("arguments are whole numbers"))
        .unwrap_or(default)
}

#[tokio::main]
async fn main() {
    let clients = argument(1, 8);
    let events_per_push = argument(2, 100);
    let pushes_per_client = argument(3, 50);

    let directory = tempfile::tempdir().expect("a temporary directory");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(tideline_server::run(
        listener,
        ServerConfig::new(directory.path()),
        shutdown.clone(),
    ));
    let secret = loop {
        // The server writes its secret before it listens.
        match auth::secret_load(&directory.path().join(SECRET_FILE_NAME)) {
            Ok(secret) => break secret,
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    };
    let now_s = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let token = auth::mint_hs256(
        &secret,
        "bench",
        &["g1".to_owned()],
        Duration::from_secs(3600),
        now_s,
    )
    .unwrap();
    let groups = Groups::new(["g1"]).unwrap();

    // Frames are built before the clock starts: the figure is the server's, not the encoder's.
    let wall_ms = now_s * 1000;
    let mut bodies_by_client = Vec::new();
    for client in 0..clients {
        let mut rng = Rng::new(client as u64);
        let salt = Salt(rng.bytes());
        let bodies: Vec<Bytes> = (0..pushes_per_client)
            .map(|_| {
                let events: Vec<Vec<u8>> = (0..events_per_push)
                    .map(|_| create_event(&mut rng, "g1", wall_ms, "bench", 64).into_bytes())
                    .collect();
                Bytes::from(encode_frame(&Frame::Request(
                    tideline_protocol::wire::Request {
                        salt,
                        groups: fingerprint(&salt, &groups.digest()),
                        items: Vec::new(),
                        events,
                    },
                )))
            })
            .collect();
        bodies_by_client.push(bodies);
    }
    // Wait until the server answers before timing.
    while push(addr, &token, Bytes::from_static(b"")).await.is_err() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let started = Instant::now();
    let tasks: Vec<_> = bodies_by_client
        .into_iter()
        .map(|bodies| {
            let token = token.clone();
            tokio::spawn(async move {
                for body in bodies {
                    let status = push(addr, &token, body).await.expect("the server answers");
                    assert_eq!(status, 200, "every push is acknowledged");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let elapsed = started.elapsed();
    let events = clients * pushes_per_client * events_per_push;
    println!(
        "durable ingest: {events} events ({clients} clients x {pushes_per_client} pushes x \
         {events_per_push} events) in {:.3} s = {:.0} events/s, {:.0} pushes/s",
        elapsed.as_secs_f64(),
        events as f64 / elapsed.as_secs_f64(),
        (clients * pushes_per_client) as f64 / elapsed.as_secs_f64()
    );
    shutdown.cancel();
    server.await.unwrap().unwrap();
}

/// One `POST /v1/sync` on a fresh connection; returns the status.
async fn push(addr: SocketAddr, token: &str, body: Bytes) -> Result<u16, String> {
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|error| error.to_string())?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|error| error.to_string())?;
    tokio::spawn(connection);
    let request = Request::post(SYNC_PATH)
        .header("host", "tideline.bench")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", FRAME_CONTENT_TYPE)
        .body(Full::new(body))
        .unwrap();
    let response = sender
        .send_request(request)
        .await
        .map_err(|error| error.to_string())?;
    let status = response.status().as_u16();
    response
        .into_body()
        .collect()
        .await
        .map_err(|error| error.to_string())?;
    Ok(status)
}
