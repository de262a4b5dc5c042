//! Writes the seed inputs of the fuzz targets into `corpus/<target>/`: every frame and event
//! of the spec's vectors, and the requests of real sessions against `request_handle`'s store.
//!
//! `cargo run --example seed_corpus` (from `fuzz/`); then `cargo fuzz cmin` keeps what adds
//! coverage.

use std::path::Path;

use tideline_protocol::replica;
use tideline_protocol::store::MemoryStore;
use tideline_protocol::sync::{Config, Initiator, Policy, Responder};
use tideline_testkit::fuzz::{seeded, NOW_MS, USER};
use tideline_testkit::generate::{create_event, Rng};
use tideline_testkit::simulation::handle_request;
use tideline_protocol::wire::{decode_frame, encode_frame, Frame, Salt};

fn write(target: &str, name: &str, bytes: &[u8]) {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus").join(target);
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join(format!("seed-{name}")), bytes).unwrap();
}

fn vectors(file: &str) -> serde_json::Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../spec/vectors")
        .join(file);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn main() {
    let frames = vectors("frames.json");
    for kind in ["valid", "invalid"] {
        for vector in frames[kind].as_array().unwrap() {
            let bytes = hex::decode(vector["hex"].as_str().unwrap()).unwrap();
            let name = vector["name"].as_str().unwrap();
            write("frame_decode", &format!("{kind}-{name}"), &bytes);
        }
    }
    let transcripts = vectors("transcripts.json");
    for vector in transcripts["vectors"].as_array().unwrap() {
        let name = vector["name"].as_str().unwrap();
        for (index, frame) in vector["frames"].as_array().unwrap().iter().enumerate() {
            let bytes = hex::decode(frame["hex"].as_str().unwrap()).unwrap();
            write("frame_decode", &format!("transcript-{name}-{index}"), &bytes);
        }
    }
    let events = vectors("events.json");
    for kind in ["valid", "invalid"] {
        for vector in events[kind].as_array().unwrap() {
            let bytes = hex::decode(vector["encoding"].as_str().unwrap()).unwrap();
            let name = vector["name"].as_str().unwrap();
            write("event_decode", &format!("{kind}-{name}"), &bytes);
        }
    }

    // Real sessions: a replica holding part of the server's events and some of its own.
    let seeded = seeded();
    let mut rng = Rng::new(0xC0FFEE);
    for (session, budget) in [1usize << 20, 400, 1 << 20, 300].into_iter().enumerate() {
        let mut replica_store = MemoryStore::new();
        let own: Vec<_> = (0..(3 + 20 * session))
            .map(|_| {
                let group = ["home", "work"][rng.below(2) as usize];
                let wall_ms = NOW_MS - rng.below(7_200_000);
                create_event(&mut rng, group, wall_ms, USER, 6)
            })
            .collect();
        replica::apply(&mut replica_store, &own).unwrap();
        let mut server_store = seeded.store.clone();
        let config = Config {
            frame_bytes_budget: budget,
        };
        let mut initiator = Initiator::new(seeded.token.groups.clone(), Salt(rng.bytes()), config);
        let mut round = 0;
        while let Some(request) = initiator.poll_request(&replica_store).unwrap() {
            let bytes = encode_frame(&Frame::Request(request));
            let mode = if budget < 1000 { 3 } else { 1 };
            write("request_handle", &format!("session{session}-round{round}"), &[&[mode][..], &bytes].concat());
            write("frame_decode", &format!("session{session}-request{round}"), &bytes);
            let responder = Responder::new(config, Policy::default());
            let handled =
                handle_request(&mut server_store, &seeded.token, NOW_MS, &responder, &bytes);
            let reply = encode_frame(&handled.frame);
            write("frame_decode", &format!("session{session}-reply{round}"), &reply);
            let Ok(Frame::Response(response)) = decode_frame(&reply) else {
                panic!("the seeded session failed");
            };
            let events = initiator.handle_response(response).unwrap();
            for event in &events {
                write("event_decode", &format!("session{session}-{}", event.id()), event.bytes());
            }
            replica::apply(&mut replica_store, &events).unwrap();
            round += 1;
        }
    }
}
