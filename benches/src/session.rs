//! Tideline in process: the real initiator and responder state machines, every frame encoded
//! and decoded, the received events applied with `replica::apply` as a host does.
//!
//! This is `sync::reconcile` written out, so that encoding and walking are timed apart from
//! applying events and the heap peak is taken around the whole session.

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use tideline_protocol::replica::apply;
use tideline_protocol::store::MemoryStore;
use tideline_protocol::sync::{accept, respond, Config, Initiator};
use tideline_protocol::tree::Tree;
use tideline_protocol::wire::{decode_frame, encode_frame, Frame, Groups, Salt};

use crate::measure::{heap_growth, HeapMeter, Measure, Protocol};

/// Reconciles two stores in process and measures it. Both stores hold the union afterwards.
pub fn tideline_run(
    initiator_store: &mut MemoryStore,
    responder_store: &mut MemoryStore,
    groups: &Groups,
    salt: Salt,
    heap: &dyn HeapMeter,
) -> anyhow::Result<Measure> {
    let config = Config::default();
    let (result, heap_peak_bytes) = heap_growth(heap, || -> anyhow::Result<Measure> {
        let mut measure = Measure::new(Protocol::Tideline);
        let mut apply_time = Duration::ZERO;
        let started = Instant::now();
        let mut initiator = Initiator::new(groups.clone(), salt, config);
        while let Some(request) = initiator.poll_request(&*initiator_store)? {
            let bytes = encode_frame(&Frame::Request(request));
            measure.bytes_to_responder += bytes.len() as u64;
            let Frame::Request(request) = decode_frame(&bytes)? else {
                bail!("the initiator sent a frame that is not a request");
            };
            drop(bytes);
            let events = accept(groups, &request)?;
            measure.events_moved += events.len() as u64;
            let applying = Instant::now();
            apply(responder_store, &events).context("applying at the responder")?;
            apply_time += applying.elapsed();
            drop(events);
            let response = respond(&*responder_store, groups, &request, config)?;
            drop(request);

            let bytes = encode_frame(&Frame::Response(response));
            measure.bytes_to_initiator += bytes.len() as u64;
            let Frame::Response(response) = decode_frame(&bytes)? else {
                bail!("the responder sent a frame that is not a response");
            };
            drop(bytes);
            let events = initiator.handle_response(response)?;
            measure.events_moved += events.len() as u64;
            let applying = Instant::now();
            apply(initiator_store, &events).context("applying at the initiator")?;
            apply_time += applying.elapsed();
        }
        measure.rounds = initiator.rounds();
        measure.time = started.elapsed().saturating_sub(apply_time);
        measure.apply_time = apply_time;
        Ok(measure)
    });
    let mut measure = result?;
    measure.heap_peak_bytes = heap_peak_bytes;
    Ok(measure)
}

/// Checks that two stores hold the same set in every group: same root digests.
pub fn roots_equal(a: &MemoryStore, b: &MemoryStore, groups: &Groups) -> bool {
    groups.names().iter().all(|name| {
        let a = Tree::new(a)
            .root(name)
            .expect("the memory store does not fail");
        let b = Tree::new(b)
            .root(name)
            .expect("the memory store does not fail");
        a == b
    })
}
