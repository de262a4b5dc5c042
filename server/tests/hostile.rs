//! Clients that misbehave at the connection level, without a token: they must not hold the
//! server's connection slots for long.

mod common;

use std::time::{Duration, Instant};

use hyper::{Method, StatusCode};
use tokio::io::AsyncWriteExt;

use common::request;
use tideline_protocol::http::HEALTHZ_PATH;
use tideline_testkit::server::InProcessServer;

/// Pipelined requests each non-reading client sends: far more replies than the socket buffers
/// between it and the server hold, so the server's writes block.
const PIPELINED_REQUESTS: usize = 20_000;

#[tokio::test]
async fn clients_that_never_read_their_replies_lose_their_connections() {
    // Guards against a client that pipelines requests and never reads the replies: the
    // server's writes block once the socket buffers fill, and without a write deadline the
    // connection (and its slot under connections_max) is held forever, so with every slot
    // taken nobody else is served.
    let server = InProcessServer::start_with(|config| {
        config.connections_max = 2;
        config.write_timeout = Duration::from_millis(500);
    })
    .await;

    let pipelined = "GET /metrics HTTP/1.1\r\nhost: x\r\n\r\n".repeat(PIPELINED_REQUESTS);
    let mut hogs = Vec::new();
    for _ in 0..2 {
        let mut stream = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
        // The server may stop reading before it has all of them; that is fine.
        let _ = tokio::time::timeout(
            Duration::from_secs(2),
            stream.write_all(pipelined.as_bytes()),
        )
        .await;
        hogs.push(stream);
    }

    let started = Instant::now();
    let response = tokio::time::timeout(
        Duration::from_secs(20),
        request(server.addr(), Method::GET, HEALTHZ_PATH, None, Vec::new()),
    )
    .await
    .expect("the non-reading connections are closed and a new client is served");
    assert_eq!(response.status, StatusCode::OK);
    eprintln!("served after {:?}", started.elapsed());
    drop(hogs);
    server.stop().await;
}
