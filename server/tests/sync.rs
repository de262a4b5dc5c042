//! Black-box tests of `POST /v1/sync` and `/healthz` against a server running in this process on
//! a loopback port, with the protocol's in-memory initiator as the client.

mod common;

use common::*;
use hyper::{Method, StatusCode};
use tideline_protocol::event::{DocId, ReplicaId};
use tideline_protocol::http::{ERROR_HEADER, FRAME_CONTENT_TYPE, HEALTHZ_PATH, SYNC_PATH};
use tideline_protocol::limits::FRAME_BYTES_MAX;
use tideline_protocol::store::MemoryStore;
use tideline_protocol::tree::Tree;
use tideline_protocol::value::Value;
use tideline_protocol::wire::{
    encode_frame, fingerprint, ErrorCode, Frame, Groups, Item, Request, Response,
};
use tideline_protocol::{replica, wire};
use tideline_testkit::events::{object, EventBuilder};
use tideline_testkit::server::InProcessServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn healthz_answers_ok() {
    // Guards against a health check that needs a token or fails on a fresh data directory.
    let server = InProcessServer::start().await;
    let response = request(server.addr(), Method::GET, HEALTHZ_PATH, None, Vec::new()).await;
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(&response.body[..], b"ok");
    let missing = request(server.addr(), Method::GET, "/nowhere", None, Vec::new()).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let wrong_method = request(server.addr(), Method::GET, SYNC_PATH, None, Vec::new()).await;
    assert_eq!(wrong_method.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(wrong_method.headers.get("allow").unwrap(), "POST");
    server.stop().await;
}

#[tokio::test]
async fn the_bearer_scheme_is_case_insensitive() {
    let server = InProcessServer::start().await;
    let token = server.token("alice", &["g1"]);
    for scheme in ["bearer", "BEARER", "Bearer"] {
        let mut stream = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
        let head = format!(
            "GET /v1/conflicts HTTP/1.1\r\nhost: tideline.test\r\nauthorization: {scheme} \
             {token}\r\n\r\n"
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        let text = reply_read(&mut stream).await;
        assert!(text.starts_with("HTTP/1.1 200"), "{scheme}: {text}");
    }
    let mut stream = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
    let head = format!(
        "GET /v1/conflicts HTTP/1.1\r\nhost: tideline.test\r\nauthorization: Basic {token}\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let text = reply_read(&mut stream).await;
    assert!(text.starts_with("HTTP/1.1 401"), "another scheme: {text}");
    server.stop().await;
}

#[tokio::test]
async fn full_sync_ends_with_equal_roots() {
    // Guards against a sync that leaves the server and the client holding different sets.
    let server = InProcessServer::start().await;
    let token = server.token("alice", &["g1"]);
    let groups = Groups::new(["g1"]).unwrap();

    // The server starts with events from another replica of alice; the client has its own.
    let mut other = MemoryStore::new();
    replica::apply(&mut other, &events(1, "g1", "alice", 300)).unwrap();
    let seeded = sync_session(server.addr(), &token, &groups, &mut other, salt(1)).await;
    assert!(seeded.events_received.is_empty());

    let mut client = MemoryStore::new();
    let own = events(2, "g1", "alice", 500);
    replica::apply(&mut client, &own).unwrap();
    let session = sync_session(server.addr(), &token, &groups, &mut client, salt(2)).await;
    assert_eq!(session.events_received.len(), 300);
    assert_eq!(client.events_len(), 800);
    assert!(session.rounds > 1);

    // Equal roots: an idle session ends after its first round, which carried only the root.
    let idle = sync_session(server.addr(), &token, &groups, &mut client, salt(3)).await;
    assert_eq!(idle.rounds, 1);
    assert!(idle.events_received.is_empty());
    assert!(idle.responses[0].items.is_empty());

    // The first replica catches up to the same root as well.
    sync_session(server.addr(), &token, &groups, &mut other, salt(4)).await;
    assert_eq!(
        Tree::new(&other).root("g1").unwrap(),
        Tree::new(&client).root("g1").unwrap()
    );
    server.stop().await;
}

#[tokio::test]
async fn events_of_a_group_outside_the_token_are_refused_and_not_stored() {
    // Guards against a client writing into a group its token does not grant.
    let server = InProcessServer::start().await;
    let token = server.token("alice", &["g1"]);
    let groups = Groups::new(["g1"]).unwrap();
    let mut batch = events(1, "g1", "alice", 3);
    batch.extend(events(2, "g2", "alice", 1));

    let response = sync_post(server.addr(), &token, &push_frame(&groups, salt(1), &batch)).await;
    assert_eq!(response.status, StatusCode::FORBIDDEN);
    let error = response.error();
    assert_eq!(error.code, ErrorCode::GroupForbidden);
    assert!(error.message.contains("g2"), "{}", error.message);

    // Nothing of the request was stored, not even its g1 events.
    let both = server.token("alice", &["g1", "g2"]);
    let mut client = MemoryStore::new();
    let groups_both = Groups::new(["g1", "g2"]).unwrap();
    let session = sync_session(server.addr(), &both, &groups_both, &mut client, salt(2)).await;
    assert_eq!(session.events_received.len(), 0);
    server.stop().await;
}

#[tokio::test]
async fn events_with_a_forged_creator_are_refused_and_not_stored() {
    // Guards against a user writing events in someone else's name.
    let server = InProcessServer::start().await;
    let token = server.token("alice", &["g1"]);
    let groups = Groups::new(["g1"]).unwrap();
    let mut batch = events(1, "g1", "alice", 2);
    batch.extend(events(2, "g1", "mallory", 1));

    let response = sync_post(server.addr(), &token, &push_frame(&groups, salt(1), &batch)).await;
    assert_eq!(response.status, StatusCode::FORBIDDEN);
    let error = response.error();
    assert_eq!(error.code, ErrorCode::ForgedCreator);
    assert!(error.message.contains("mallory"), "{}", error.message);

    let mut client = MemoryStore::new();
    let session = sync_session(server.addr(), &token, &groups, &mut client, salt(2)).await;
    assert_eq!(session.events_received.len(), 0);
    server.stop().await;
}

#[tokio::test]
async fn far_future_timestamps_are_refused() {
    // Guards against an event dated far ahead pinning every later write behind it.
    let server = InProcessServer::start().await;
    let token = server.token("alice", &["g1"]);
    let groups = Groups::new(["g1"]).unwrap();
    let mut rng = tideline_testkit::generate::Rng::new(1);
    let an_hour_ahead = now_ms() + 3_600_000;
    let event = tideline_testkit::generate::create_event(&mut rng, "g1", an_hour_ahead, "alice", 4);

    let response = sync_post(
        server.addr(),
        &token,
        &push_frame(&groups, salt(1), &[event]),
    )
    .await;
    assert_eq!(response.status, StatusCode::BAD_REQUEST);
    assert_eq!(response.error().code, ErrorCode::TimestampInFuture);

    let mut client = MemoryStore::new();
    let session = sync_session(server.addr(), &token, &groups, &mut client, salt(2)).await;
    assert_eq!(session.events_received.len(), 0);
    server.stop().await;
}

#[tokio::test]
async fn an_unknown_version_is_answered_with_the_versions_spoken() {
    // Guards against a future client getting a generic error instead of the version list it
    // needs to fall back.
    let server = InProcessServer::start().await;
    let token = server.token("alice", &["g1"]);
    let mut frame = encode_frame(&push_frame(&Groups::new(["g1"]).unwrap(), salt(1), &[]));
    assert_eq!(frame[0], 1, "version 1 is the varint 0x01");
    frame[0] = 2;

    let response = request(server.addr(), Method::POST, SYNC_PATH, Some(&token), frame).await;
    assert_eq!(response.status, StatusCode::BAD_REQUEST);
    let error = response.error();
    assert_eq!(error.code, ErrorCode::UnsupportedVersion);
    assert_eq!(error.versions, vec![1]);
    server.stop().await;
}

#[tokio::test]
async fn an_oversized_body_is_refused_before_it_is_read() {
    // Guards against a client making the server buffer more than a frame may hold.
    let server = InProcessServer::start().await;
    let token = server.token("alice", &["g1"]);

    // Raw HTTP: declare a body over the limit and send none of it.
    let mut stream = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
    let head = format!(
        "POST {SYNC_PATH} HTTP/1.1\r\nhost: tideline.test\r\nauthorization: Bearer {token}\r\n\
         content-type: {FRAME_CONTENT_TYPE}\r\ncontent-length: {}\r\n\r\n",
        FRAME_BYTES_MAX + 1
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut reply = Vec::new();
    let mut buffer = [0u8; 4096];
    // Read until the head and the whole body have arrived; the server may keep the
    // connection open or close it.
    loop {
        let read = stream.read(&mut buffer).await.unwrap();
        if read == 0 {
            break;
        }
        reply.extend_from_slice(&buffer[..read]);
        if response_complete(&reply) {
            break;
        }
    }
    let text = String::from_utf8_lossy(&reply);
    assert!(text.starts_with("HTTP/1.1 413"), "{text}");
    assert!(
        text.to_ascii_lowercase()
            .contains(&format!("{ERROR_HEADER}: frame_too_large")),
        "{text}"
    );
    server.stop().await;
}

/// Whether `reply` holds a whole HTTP response with a content-length body.
fn response_complete(reply: &[u8]) -> bool {
    let text = String::from_utf8_lossy(reply);
    let Some(head_end) = text.find("\r\n\r\n") else {
        return false;
    };
    let length = text[..head_end]
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0);
    reply.len() >= head_end + 4 + length
}

#[tokio::test]
async fn malformed_bodies_are_refused() {
    // Guards against garbage, truncated frames or the wrong frame kind being half-processed.
    let server = InProcessServer::start().await;
    let token = server.token("alice", &["g1"]);
    let groups = Groups::new(["g1"]).unwrap();
    let whole = encode_frame(&push_frame(&groups, salt(1), &events(1, "g1", "alice", 2)));

    let cases: Vec<(&str, Vec<u8>, ErrorCode)> = vec![
        (
            "garbage",
            b"\x01\xff\xff\xff".to_vec(),
            ErrorCode::MalformedFrame,
        ),
        ("empty", Vec::new(), ErrorCode::MalformedFrame),
        (
            "truncated",
            whole[..whole.len() - 3].to_vec(),
            ErrorCode::MalformedFrame,
        ),
        (
            "trailing bytes",
            [&whole[..], &[0u8][..]].concat(),
            ErrorCode::MalformedFrame,
        ),
        (
            "a response frame",
            encode_frame(&Frame::Response(Response {
                consumed: 0,
                items: Vec::new(),
                events: Vec::new(),
            })),
            ErrorCode::UnexpectedFrame,
        ),
        (
            "a group index past the session",
            encode_frame(&Frame::Request(Request {
                salt: salt(1),
                groups: fingerprint(&salt(1), &groups.digest()),
                items: vec![Item::Need {
                    group: 1,
                    prefix: tideline_protocol::tree::Path::root(),
                    after: None,
                }],
                events: Vec::new(),
            })),
            ErrorCode::MalformedFrame,
        ),
        (
            "another group list",
            encode_frame(&push_frame(
                &Groups::new(["g1", "g2"]).unwrap(),
                salt(1),
                &[],
            )),
            ErrorCode::GroupsMismatch,
        ),
    ];
    for (name, body, code) in cases {
        let response = request(server.addr(), Method::POST, SYNC_PATH, Some(&token), body).await;
        assert_eq!(response.status, StatusCode::BAD_REQUEST, "{name}");
        assert_eq!(response.error().code, code, "{name}");
    }
    server.stop().await;
}

#[tokio::test]
async fn an_event_that_breaks_a_limit_is_refused() {
    // Guards against storing an event every other replica would refuse (a document nested
    // deeper than the limit).
    let server = InProcessServer::start().await;
    let token = server.token("alice", &["g1"]);
    let groups = Groups::new(["g1"]).unwrap();
    let deep = (0..tideline_protocol::limits::VALUE_DEPTH_MAX + 1)
        .fold(Value::Null, |inner, _| Value::Array(vec![inner]));
    let event = EventBuilder::create(object([("deep", deep)]))
        .group("g1")
        .target(DocId([1; 16]))
        .at(now_ms())
        .creator("alice")
        .origin(ReplicaId([2; 16]))
        .build();
    assert!(event.clone().seal().is_err());
    let frame = Frame::Request(Request {
        salt: salt(1),
        groups: fingerprint(&salt(1), &groups.digest()),
        items: Vec::new(),
        events: vec![event.encode()],
    });

    let response = sync_post(server.addr(), &token, &frame).await;
    assert_eq!(response.status, StatusCode::BAD_REQUEST);
    assert_eq!(response.error().code, ErrorCode::InvalidEvent);
    server.stop().await;
}

#[tokio::test]
async fn a_client_never_sees_a_group_outside_its_token() {
    // Guards against digests or events of another group leaking to a client, through the
    // walk or through the events it is sent.
    let server = InProcessServer::start().await;
    let both = server.token("alice", &["g1", "g2"]);
    let groups_both = Groups::new(["g1", "g2"]).unwrap();
    let mut writer = MemoryStore::new();
    let mut seeded = events(1, "g1", "alice", 200);
    seeded.extend(events(2, "g2", "alice", 200));
    replica::apply(&mut writer, &seeded).unwrap();
    sync_session(server.addr(), &both, &groups_both, &mut writer, salt(1)).await;

    let only_g1 = server.token("bob", &["g1"]);
    let groups = Groups::new(["g1"]).unwrap();
    let mut client = MemoryStore::new();
    let session = sync_session(server.addr(), &only_g1, &groups, &mut client, salt(2)).await;
    assert_eq!(session.events_received.len(), 200);
    for response in &session.responses {
        for bytes in &response.events {
            let event = tideline_protocol::event::VerifiedEvent::decode(bytes).unwrap();
            assert_eq!(event.event().group, "g1");
        }
        for item in &response.items {
            assert!(item_group(item).is_none_or(|group| group == 0), "{item:?}");
        }
    }
    assert_eq!(
        Tree::new(&client).root("g1").unwrap(),
        Tree::new(&writer).root("g1").unwrap()
    );

    // The session's groups fingerprint covers only g1: claiming g2 as well is refused, and
    // so is asking about group index 1 under a g1-only session.
    let claims_both = sync_post(
        server.addr(),
        &only_g1,
        &push_frame(&groups_both, salt(3), &[]),
    )
    .await;
    assert_eq!(claims_both.error().code, ErrorCode::GroupsMismatch);
    let peek = Frame::Request(Request {
        salt: salt(4),
        groups: fingerprint(&salt(4), &groups.digest()),
        items: vec![Item::Range {
            start: 0,
            end: 2,
            fingerprints: vec![wire::Fingerprint([0; 8]); 2],
        }],
        events: Vec::new(),
    });
    let peeked = sync_post(server.addr(), &only_g1, &peek).await;
    assert_eq!(peeked.status, StatusCode::BAD_REQUEST);
    server.stop().await;
}

/// The group index an item names, if it names one.
fn item_group(item: &Item) -> Option<u32> {
    match item {
        Item::Root { .. } => None,
        Item::Range { end, .. } => Some(end - 1),
        Item::Split { group, .. }
        | Item::Ids { group, .. }
        | Item::Want { group, .. }
        | Item::Need { group, .. }
        | Item::More { group, .. } => Some(*group),
    }
}

#[tokio::test]
async fn a_restart_keeps_every_acknowledged_event() {
    // Guards against events acknowledged before a clean shutdown missing after the restart.
    let mut server = InProcessServer::start().await;
    let token = server.token("alice", &["g1"]);
    let groups = Groups::new(["g1"]).unwrap();
    let pushed = events(1, "g1", "alice", 250);
    for (index, chunk) in pushed.chunks(50).enumerate() {
        let response = sync_post(
            server.addr(),
            &token,
            &push_frame(&groups, salt(index as u8), chunk),
        )
        .await;
        assert_eq!(response.status, StatusCode::OK);
    }
    server.restart().await;
    // The secret survives the restart too: the old token still works.
    let mut client = MemoryStore::new();
    let session = sync_session(server.addr(), &token, &groups, &mut client, salt(9)).await;
    assert_eq!(session.events_received.len(), 250);
    let ids: Vec<_> = pushed.iter().map(|event| event.id()).collect();
    assert!(missing(&client, &ids).is_empty());
    server.stop().await;
}

/// Reads from `stream` until a whole response or the end of the stream, for at most five
/// seconds.
async fn reply_read(stream: &mut tokio::net::TcpStream) -> String {
    let mut reply = Vec::new();
    let mut buffer = [0u8; 4096];
    let deadline = std::time::Duration::from_secs(5);
    let _ = tokio::time::timeout(deadline, async {
        while let Ok(read) = stream.read(&mut buffer).await {
            if read == 0 {
                break;
            }
            reply.extend_from_slice(&buffer[..read]);
            if response_complete(&reply) {
                break;
            }
        }
    })
    .await;
    String::from_utf8_lossy(&reply).into_owned()
}

#[tokio::test]
async fn a_body_sent_too_slowly_is_cut_off_and_stores_nothing() {
    // Slowloris: a client that declares a body and trickles it holds a connection only until
    // the body read timeout.
    let server = InProcessServer::start_with(|config| {
        config.body_read_timeout = std::time::Duration::from_millis(300);
    })
    .await;
    let token = server.token("alice", &["g1"]);
    let groups = Groups::new(["g1"]).unwrap();
    let pushed = events(11, "g1", "alice", 3);
    let body = encode_frame(&push_frame(&groups, salt(1), &pushed));

    let mut stream = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
    let head = format!(
        "POST {SYNC_PATH} HTTP/1.1\r\nhost: tideline.test\r\nauthorization: Bearer {token}\r\n\
         content-type: {FRAME_CONTENT_TYPE}\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    // Half the body, then nothing.
    stream.write_all(&body[..body.len() / 2]).await.unwrap();
    let started = std::time::Instant::now();
    let text = reply_read(&mut stream).await;
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("body_read_timeout_ms"), "{text}");
    assert!(started.elapsed() < std::time::Duration::from_secs(4));

    let mut reader = MemoryStore::new();
    sync_session(server.addr(), &token, &groups, &mut reader, salt(2)).await;
    assert_eq!(missing(&reader, &[pushed[0].id()]), vec![pushed[0].id()]);
    server.stop().await;
}

#[tokio::test]
async fn idle_connections_cannot_hold_every_slot() {
    // A client that opens many connections and sends nothing on them: they count against
    // connections_max, and each is closed once the header read timeout passes, so others get
    // served again.
    let server = InProcessServer::start_with(|config| {
        config.connections_max = 2;
        config.header_read_timeout = std::time::Duration::from_millis(300);
    })
    .await;
    let mut idle = Vec::new();
    for _ in 0..6 {
        idle.push(tokio::net::TcpStream::connect(server.addr()).await.unwrap());
    }
    let started = std::time::Instant::now();
    let response = request(server.addr(), Method::GET, HEALTHZ_PATH, None, Vec::new()).await;
    assert_eq!(response.status, StatusCode::OK);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "served after {:?}",
        started.elapsed()
    );
    // The idle connections were closed by the server.
    for mut stream in idle {
        let mut byte = [0u8; 1];
        // Whatever the server says before it closes (nothing, or a 408), the read ends.
        tokio::time::timeout(std::time::Duration::from_secs(5), stream.read(&mut byte))
            .await
            .expect("the server closes an idle connection")
            .ok();
    }
    server.stop().await;
}
