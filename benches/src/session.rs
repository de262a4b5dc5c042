//! Tideline in process: the real initiator and responder state machines, every frame encoded
//! and decoded, the received events applied with `replica::apply` as a host does.
//!
//! This is `tideline_testkit::reconcile` written out, so that each side's work is timed and its heap peak
//! taken apart from the other's, and encoding and walking apart from applying events.

use anyhow::{bail, Context};
use tideline_protocol::replica::apply;
use tideline_protocol::store::{ReadStore, Store};
use tideline_protocol::sync::{Config, Initiator, Policy, Responder};
use tideline_protocol::tree::Tree;
use tideline_protocol::wire::{decode_frame, encode_frame, Frame, Groups, Salt};

use crate::measure::{HeapMeter, Measure, Protocol, Side, StepMeter};

/// Reconciles two stores in process and measures it. Both stores hold the union afterwards.
///
/// The initiator's steps are `poll_request` and the encoding of its request, then the decoding
/// of the response and `handle_response`; the responder's are `Responder::admit_trusted` (the
/// decoding of the request and the check of its events), then `Responder::respond` and the
/// encoding of the response. Each side's apply is a step of
/// its own. The steps follow one another with nothing in between, so every allocation of the
/// session falls in one side's step.
pub fn tideline_run<A: Store, B: Store>(
    initiator_store: &mut A,
    responder_store: &mut B,
    groups: &Groups,
    salt: Salt,
    heap: &dyn HeapMeter,
) -> anyhow::Result<Measure> {
    use Side::{Initiator as I, Responder as R};

    let config = Config::default();
    let mut measure = Measure::new(Protocol::Tideline);
    let mut meter = StepMeter::new(heap);
    let mut initiator = Initiator::new(groups.clone(), salt, config);
    // Both stores are this process's own: the responder trusts its peer to relay any user's
    // events, as `tideline_testkit::reconcile` does.
    let responder = Responder::new(config, Policy::default());
    loop {
        let request = meter.work(I, || -> anyhow::Result<Option<Vec<u8>>> {
            let request = initiator.poll_request(&*initiator_store)?;
            Ok(request.map(|request| encode_frame(&Frame::Request(request))))
        })?;
        let Some(bytes) = request else {
            break;
        };
        measure.bytes_to_responder += bytes.len() as u64;

        let admitted = meter.work(R, || -> anyhow::Result<_> {
            let admitted = responder.admit_trusted(&bytes, groups)?;
            drop(bytes);
            Ok(admitted)
        })?;
        measure.events_moved += admitted.events().len() as u64;
        meter
            .apply(R, || apply(responder_store, admitted.events()))
            .context("applying at the responder")?;
        let bytes = meter.work(R, || -> anyhow::Result<Vec<u8>> {
            let response = responder.respond(&*responder_store, &admitted)?;
            drop(admitted);
            Ok(encode_frame(&Frame::Response(response)))
        })?;
        measure.bytes_to_initiator += bytes.len() as u64;

        let events = meter.work(I, || -> anyhow::Result<_> {
            let Frame::Response(response) = decode_frame(&bytes)? else {
                bail!("the responder sent a frame that is not a response");
            };
            drop(bytes);
            Ok(initiator.handle_response(response)?)
        })?;
        measure.events_moved += events.len() as u64;
        meter
            .apply(I, || -> anyhow::Result<()> {
                apply(initiator_store, &events)?;
                drop(events);
                Ok(())
            })
            .context("applying at the initiator")?;
    }
    measure.rounds = initiator.rounds();
    meter.write_to(&mut measure);
    Ok(measure)
}

/// Checks that two stores hold the same set in every group: same root digests.
pub fn roots_equal<A: ReadStore, B: ReadStore>(a: &A, b: &B, groups: &Groups) -> bool {
    groups.names().iter().all(|name| {
        let a = Tree::new(a)
            .root(name)
            .expect("an in-memory store does not fail");
        let b = Tree::new(b)
            .root(name)
            .expect("an in-memory store does not fail");
        a == b
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bulk::{store_build, store_fill};
    use crate::measure::NoHeapMeter;
    use crate::workload::{generate, Pattern, Split, Workload, CREATOR_DEFAULT};
    use tideline_protocol::store::MemoryStore;
    use tideline_testkit::generate::Rng;

    /// Guards the benchmark's figures against its store: a session between compact stores
    /// sends exactly what a session between `MemoryStore`s holding the same events sends.
    #[test]
    fn compact_stores_send_what_memory_stores_send() {
        for (pattern, seed) in [(Pattern::Uniform, 1), (Pattern::Groups, 2)] {
            let workload = Workload {
                pattern,
                events_per_side: 20_000,
                differences: 300,
                split: Split::Even,
                payload_bytes: 50,
                groups: 40,
                zipf_exponent: 1.0,
                seed,
            };
            let generated = generate(&workload, None, false, CREATOR_DEFAULT).unwrap();
            let memory = |only: &[tideline_protocol::event::VerifiedEvent]| {
                let mut store = MemoryStore::new();
                let keys = generated
                    .common
                    .iter()
                    .copied()
                    .chain(only.iter().map(|event| {
                        let group = generated.groups.index_of(&event.event().group).unwrap();
                        (group, tideline_protocol::tree::Key::of(event))
                    }));
                let bytes = only
                    .iter()
                    .map(|event| (event.id(), event.bytes().to_vec()));
                store_fill(&mut store, &generated.groups, keys, bytes);
                store
            };
            let compact =
                |only| store_build(&generated.groups, generated.common.iter().copied(), only).0;
            let salt = Salt(Rng::new(seed).bytes());
            let mut measures = Vec::new();
            let (mut a, mut b) = (
                memory(&generated.only_initiator),
                memory(&generated.only_responder),
            );
            measures
                .push(tideline_run(&mut a, &mut b, &generated.groups, salt, &NoHeapMeter).unwrap());
            assert!(roots_equal(&a, &b, &generated.groups));
            let (mut a, mut b) = (
                compact(&generated.only_initiator),
                compact(&generated.only_responder),
            );
            measures
                .push(tideline_run(&mut a, &mut b, &generated.groups, salt, &NoHeapMeter).unwrap());
            assert!(roots_equal(&a, &b, &generated.groups));
            let sent = |measure: &Measure| {
                (
                    measure.bytes_to_responder,
                    measure.bytes_to_initiator,
                    measure.rounds,
                    measure.events_moved,
                )
            };
            assert_eq!(sent(&measures[0]), sent(&measures[1]), "{pattern}");
            assert_eq!(measures[1].events_moved, 300);
        }
    }
}
