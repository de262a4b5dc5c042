//! Black-box tests of the live stream, conflicts, metrics and graceful shutdown, against a server
//! running in this process on a loopback port.

mod common;

use std::time::Duration;

use common::*;
use http_body_util::BodyExt;
use hyper::{Method, StatusCode};
use tideline_protocol::event::{DocId, ReplicaId, VerifiedEvent};
use tideline_protocol::http::{
    LiveRecordDecoder, CONFLICTS_PATH, FRAME_CONTENT_TYPE, LIVE_PATH, METRICS_PATH, SYNC_PATH,
};
use tideline_protocol::store::MemoryStore;
use tideline_protocol::wire::{decode_frame, encode_frame, Frame, Groups, Response};
use tideline_testkit::events::create_titled;
use tideline_testkit::server::InProcessServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// How long a test waits for something that should happen at once before it fails.
const WAIT_MAX: Duration = Duration::from_secs(10);

/// Reads the next record of a live stream: a `u32` big-endian length, then a Response frame.
async fn record_next(
    body: &mut hyper::body::Incoming,
    decoder: &mut LiveRecordDecoder,
) -> Response {
    loop {
        if let Some(frame) = decoder.next_frame().unwrap() {
            let Frame::Response(response) = decode_frame(&frame).unwrap() else {
                panic!("a live record holds a Response frame");
            };
            return response;
        }
        let frame = tokio::time::timeout(WAIT_MAX, body.frame())
            .await
            .expect("a live record within the wait")
            .expect("the stream stays open")
            .unwrap();
        if let Ok(data) = frame.into_data() {
            decoder.push(&data);
        }
    }
}

#[tokio::test]
async fn the_live_stream_delivers_events_another_client_committed() {
    // Guards against a watching client missing a durable event of its groups, or seeing one
    // of a group its token does not cover.
    let mut server = InProcessServer::start().await;
    let watcher = server.token("bob", &["g1"]);
    let writer = server.token("alice", &["g1", "g2"]);
    let groups = Groups::new(["g1", "g2"]).unwrap();

    let response = live_open(server.addr(), &watcher).await;
    assert_eq!(response.status(), StatusCode::OK);
    let mut body = response.into_body();

    let hidden = events(1, "g2", "alice", 2);
    let pushed = sync_post(
        server.addr(),
        &writer,
        &push_frame(&groups, salt(1), &hidden),
    )
    .await;
    assert_eq!(pushed.status, StatusCode::OK);
    let shown = events(2, "g1", "alice", 3);
    let pushed = sync_post(
        server.addr(),
        &writer,
        &push_frame(&groups, salt(2), &shown),
    )
    .await;
    assert_eq!(pushed.status, StatusCode::OK);

    let mut decoder = LiveRecordDecoder::new();
    let record = record_next(&mut body, &mut decoder).await;
    assert_eq!(record.consumed, 0);
    assert!(record.items.is_empty());
    let mut received: Vec<_> = record
        .events
        .iter()
        .map(|bytes| VerifiedEvent::decode(bytes).unwrap())
        .collect();
    received.sort_by_key(|event| event.id());
    let mut expected = shown.clone();
    expected.sort_by_key(|event| event.id());
    assert_eq!(received, expected);

    // The stream ends when the server stops, so shutdown does not wait on it forever.
    server.shutdown().cancel();
    let ended = tokio::time::timeout(WAIT_MAX, async {
        while let Some(frame) = body.frame().await {
            if frame.is_err() {
                break;
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "the live stream ends at shutdown");
    server.stopped().await.unwrap();
}

/// The value of the sample named exactly `name` (labels included) in a metrics text.
fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|line| {
            let rest = line.strip_prefix(name)?;
            rest.strip_prefix(' ')?.trim().parse().ok()
        })
        .unwrap_or(0.0)
}

#[tokio::test]
async fn metrics_count_what_happens() {
    // Guards against counters that never move, which would hide load and failures.
    let server = InProcessServer::start().await;
    let token = server.token("alice", &["g1"]);
    let groups = Groups::new(["g1"]).unwrap();
    let metrics_text = || async {
        let response = request(server.addr(), Method::GET, METRICS_PATH, None, Vec::new()).await;
        assert_eq!(response.status, StatusCode::OK);
        String::from_utf8(response.body.to_vec()).unwrap()
    };
    let before = metrics_text().await;

    let frame = push_frame(&groups, salt(1), &events(1, "g1", "alice", 10));
    let frame_len = encode_frame(&frame).len() as f64;
    assert_eq!(
        sync_post(server.addr(), &token, &frame).await.status,
        StatusCode::OK
    );
    let refused = request(server.addr(), Method::POST, SYNC_PATH, None, Vec::new()).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);

    let after = metrics_text().await;
    let moved = |name: &str| metric(&after, name) - metric(&before, name);
    assert_eq!(moved("tideline_events_stored_total"), 10.0, "{after}");
    assert_eq!(moved("tideline_sync_rounds_total"), 1.0);
    assert_eq!(moved("tideline_bytes_received_total"), frame_len);
    assert!(moved("tideline_bytes_sent_total") > 0.0);
    assert_eq!(
        moved("tideline_rejected_requests_total{code=\"unauthorized\"}"),
        1.0
    );
    assert_eq!(moved("tideline_commit_batch_events_count"), 1.0);
    assert_eq!(moved("tideline_commit_batch_events_sum"), 10.0);
    assert_eq!(
        moved("tideline_request_duration_seconds_count{endpoint=\"sync\"}"),
        2.0
    );
    assert!(after.contains("tideline_live_connections"));
    server.stop().await;
}

/// A create of `{"title": title}` by `creator` on the document these tests contest.
fn create_of(creator: &str, wall_ms: u64, title: &str) -> VerifiedEvent {
    create_titled(creator, wall_ms, title)
        .group("g1")
        .target(DocId([7; 16]))
        .origin(ReplicaId([creator.len() as u8; 16]))
        .seal()
}

#[tokio::test]
async fn conflicts_are_listed_to_the_user_asked_to_decide() {
    // Guards against a conflict going to nobody, or to the wrong user.
    let server = InProcessServer::start().await;
    let groups = Groups::new(["g1"]).unwrap();
    let now = now_ms();
    for (user, wall_ms) in [("alice", now - 1000), ("bob", now)] {
        let token = server.token(user, &["g1"]);
        let event = create_of(user, wall_ms, user);
        let response = sync_post(
            server.addr(),
            &token,
            &push_frame(&groups, salt(1), &[event]),
        )
        .await;
        assert_eq!(response.status, StatusCode::OK);
    }
    let mut listed = Vec::new();
    for user in ["alice", "bob"] {
        let token = server.token(user, &["g1"]);
        let response = request(
            server.addr(),
            Method::GET,
            CONFLICTS_PATH,
            Some(&token),
            Vec::new(),
        )
        .await;
        assert_eq!(response.status, StatusCode::OK);
        let conflicts: serde_json::Value = serde_json::from_slice(&response.body).unwrap();
        for conflict in conflicts.as_array().unwrap() {
            listed.push((user, conflict.clone()));
        }
    }
    assert_eq!(listed.len(), 1, "{listed:?}");
    let (user, conflict) = &listed[0];
    assert_eq!(conflict["kind"], "create");
    assert_eq!(conflict["target"], DocId([7; 16]).to_string());
    assert_eq!(conflict["assignees"], serde_json::json!([user]));
    assert_eq!(conflict["competing"].as_array().unwrap().len(), 2);

    // A token without the group sees none of it.
    let outsider = server.token(user, &["g2"]);
    let response = request(
        server.addr(),
        Method::GET,
        CONFLICTS_PATH,
        Some(&outsider),
        Vec::new(),
    )
    .await;
    assert_eq!(&response.body[..], b"[]");
    server.stop().await;
}

#[tokio::test]
async fn shutdown_finishes_an_in_flight_request() {
    // Guards against a shutdown that drops a request the server already started on, losing
    // its events or leaving the client without an answer.
    let mut server = InProcessServer::start().await;
    let token = server.token("alice", &["g1"]);
    let groups = Groups::new(["g1"]).unwrap();
    let pushed = events(1, "g1", "alice", 20);
    let body = encode_frame(&push_frame(&groups, salt(1), &pushed));
    let (first, second) = body.split_at(body.len() / 2);

    let mut stream = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
    let head = format!(
        "POST {SYNC_PATH} HTTP/1.1\r\nhost: tideline.test\r\nauthorization: Bearer {token}\r\n\
         content-type: {FRAME_CONTENT_TYPE}\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(first).await.unwrap();
    // Give the server time to read the head and start on the body; then the request is in
    // flight when shutdown begins.
    tokio::time::sleep(Duration::from_millis(300)).await;
    server.shutdown().cancel();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!server.is_finished(), "run waits for the request");
    stream.write_all(second).await.unwrap();

    let mut reply = Vec::new();
    tokio::time::timeout(WAIT_MAX, stream.read_to_end(&mut reply))
        .await
        .expect("the server answers and closes")
        .unwrap();
    let head_end = reply
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .expect("a whole response head");
    let head = String::from_utf8_lossy(&reply[..head_end]);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let Frame::Response(_) = decode_frame(&reply[head_end + 4..]).unwrap() else {
        panic!("a Response frame");
    };
    tokio::time::timeout(WAIT_MAX, server.stopped())
        .await
        .expect("run returns once the request is answered")
        .unwrap();

    // What was acknowledged during shutdown is there after a restart.
    server.restart().await;
    let mut client = MemoryStore::new();
    let session = sync_session(server.addr(), &token, &groups, &mut client, salt(2)).await;
    assert_eq!(session.events_received.len(), pushed.len());
    server.stop().await;
}

#[tokio::test]
async fn the_live_stream_ends_when_its_token_expires() {
    // Guards against a stream outliving its authorization: a token that expires (or whose
    // groups are revoked by no longer issuing it) must stop receiving events.
    let server = InProcessServer::start().await;
    let secret = tideline_server::auth::secret_load(
        &server.data_dir().join(tideline_server::SECRET_FILE_NAME),
    )
    .unwrap();
    // Issued so that, with the server's tolerated skew, it is refused 2 s from now.
    let issued_s = now_s() - tideline_server::auth::EXPIRY_LEEWAY_S;
    let watcher = tideline_server::auth::mint_hs256(
        &secret,
        "bob",
        &["g1".to_owned()],
        Duration::from_secs(2),
        issued_s,
    )
    .unwrap();

    let response = live_open(server.addr(), &watcher).await;
    assert_eq!(response.status(), StatusCode::OK);
    let mut body = response.into_body();
    let ended = tokio::time::timeout(WAIT_MAX, async {
        while let Some(frame) = body.frame().await {
            if frame.is_err() {
                break;
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "the live stream ends when its token expires");

    // The same token is refused from then on.
    let refused = live_open(server.addr(), &watcher).await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    server.stop().await;
}

/// Opens `GET /v1/live` with `token`; the response, whatever its status.
async fn live_open(
    addr: std::net::SocketAddr,
    token: &str,
) -> hyper::Response<hyper::body::Incoming> {
    request_streaming(addr, Method::GET, LIVE_PATH, Some(token), vec![])
        .await
        .unwrap()
}
