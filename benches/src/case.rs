//! One workload through every protocol, and the predefined suites.

use std::time::Instant;

use anyhow::ensure;
use tideline_protocol::wire::Salt;
use tideline_testkit::generate::{create_event, Rng};

use crate::baselines::{cursor_run, lower_bound, naive_run, negentropy_run, Sides};
use crate::bulk::store_build;
use crate::measure::HeapMeter;
use crate::report::CaseResult;
use crate::session::{roots_equal, tideline_run};
use crate::workload::{generate, Pattern, Split, Workload, CREATOR_DEFAULT, END_MS};

/// The encoded size of one generated event with this payload: what a baseline that resends a
/// shared event (generated as a key only) is charged for it.
pub fn sample_event_bytes(payload_bytes: usize) -> usize {
    let mut rng = Rng::new(0);
    create_event(&mut rng, "g", END_MS, CREATOR_DEFAULT, payload_bytes)
        .bytes()
        .len()
}

/// Heap one event costs in a bulk-built [`CompactStore`](crate::compact::CompactStore),
/// measured at n = 10^6: the two replicas of `uniform n=1000000 d=1000` hold 299 MiB (the
/// binary prints it after building them), 157 bytes per event per side. A key takes 44 of
/// them, an id 32, and the tree the rest: 0.53 nodes per event, each a 56-byte entry (packed
/// address, leaf or boxed branch) in a hash map between half and seven-eighths full, plus each
/// branch's record with its non-empty children's digests. At n = 10^7 it is 138 bytes (leaves
/// are fuller: 0.37 nodes per event). A bulk-built `MemoryStore` held 884 bytes per event at
/// n = 10^6, since its `Node` is a 600-byte enum (a branch's sixteen optional digests) keyed by
/// a `String` and a `Path`.
pub const STORE_BYTES_PER_EVENT: u64 = 157;

/// What a case holds at its peak besides the two stores, per event per side. The peak comes
/// while the second store is built: the first store, the generated keys (48 bytes per event),
/// the build's sorted key list (44) and its batch. Measured: `uniform n=10000000 d=1000`
/// peaked at 3.73 GiB of RSS, 400 bytes per event per side, of which the stores' 2 × 138; this
/// leaves a margin over the other 124.
pub const CASE_OTHER_BYTES_PER_EVENT: u64 = 150;

/// The memory the system could still give this process, from `/proc/meminfo`.
fn memory_available_bytes() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = meminfo
        .lines()
        .find(|line| line.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Runs one workload through Tideline, the baselines and the lower bound.
pub fn case_run(workload: &Workload, heap: &dyn HeapMeter) -> anyhow::Result<CaseResult> {
    let needed =
        workload.events_per_side as u64 * (2 * STORE_BYTES_PER_EVENT + CASE_OTHER_BYTES_PER_EVENT);
    if let Some(available) = memory_available_bytes() {
        ensure!(
            needed <= available,
            "a case of {} events per side needs about {:.1} GiB, and {:.1} GiB is available; \
             lower n (10,000,000 needs 4.3 GiB)",
            workload.events_per_side,
            needed as f64 / (1u64 << 30) as f64,
            available as f64 / (1u64 << 30) as f64
        );
    }
    let started = Instant::now();
    let generated = generate(workload, None, false, CREATOR_DEFAULT)?;
    let generate_time = started.elapsed();
    let mut measures = vec![lower_bound(&generated)];

    let sides = Sides::new(&generated, sample_event_bytes(workload.payload_bytes));
    measures.push(naive_run(&sides, heap)?);
    measures.push(cursor_run(workload.pattern, &sides, heap)?);
    let negentropy = negentropy_run(&sides, heap)?;
    measures.push(negentropy.measure);
    drop(sides);

    let building = Instant::now();
    let heap_before_stores = heap.current_bytes();
    let (mut initiator, _) = store_build(
        &generated.groups,
        generated.common.iter().copied(),
        &generated.only_initiator,
    );
    let (mut responder, _) = store_build(
        &generated.groups,
        generated.common.iter().copied(),
        &generated.only_responder,
    );
    let build_time = generate_time + building.elapsed();
    let stores_heap_bytes = heap.current_bytes().saturating_sub(heap_before_stores) as u64;
    let salt = Salt(Rng::new(workload.seed).bytes());
    let tideline = tideline_run(
        &mut initiator,
        &mut responder,
        &generated.groups,
        salt,
        heap,
    )?;
    let union = generated.common.len() + generated.differences();
    ensure!(
        initiator.events_len() == union && responder.events_len() == union,
        "after the Tideline session the sides hold {} and {} events, not the union's {union}",
        initiator.events_len(),
        responder.events_len()
    );
    ensure!(
        roots_equal(&initiator, &responder, &generated.groups),
        "after the Tideline session the roots differ"
    );
    ensure!(
        tideline.events_moved == generated.differences() as u64,
        "Tideline moved {} events for {} differences",
        tideline.events_moved,
        generated.differences()
    );
    measures.insert(1, tideline);
    drop((initiator, responder));

    Ok(CaseResult {
        workload: workload.clone(),
        missing_event_bytes: generated.missing_event_bytes(),
        differences: generated.differences() as u64,
        build_time,
        stores_heap_bytes,
        measures,
        negentropy_message_bytes: negentropy.message_bytes,
        negentropy_message_rounds: negentropy.message_rounds,
    })
}

/// Which predefined grid to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Suite {
    /// n up to 10^5: a minute or two.
    Quick,
    /// n = 10^6 for most cases, and a sweep of n from 10^4 to 10^7 at d = 1,000 (`--events-max`
    /// leaves the larger ones out).
    Full,
}

/// The workloads of a suite. `events_max` leaves out the larger ones.
pub fn suite_workloads(suite: Suite, seed: u64, events_max: usize) -> Vec<Workload> {
    let base = Workload {
        pattern: Pattern::Uniform,
        events_per_side: 100_000,
        differences: 100,
        split: Split::Even,
        payload_bytes: 50,
        groups: 1,
        zipf_exponent: 1.0,
        seed,
    };
    let with = |pattern: Pattern, n: usize, d: usize| Workload {
        pattern,
        events_per_side: n,
        differences: d,
        groups: if pattern == Pattern::Groups { 100 } else { 1 },
        ..base.clone()
    };
    let mut workloads = Vec::new();
    match suite {
        Suite::Quick => {
            for n in [10_000, 100_000] {
                for d in [0, 10, 100, 1_000] {
                    workloads.push(with(Pattern::Uniform, n, d));
                }
            }
            for pattern in [Pattern::Recent, Pattern::Week, Pattern::Groups] {
                workloads.push(with(pattern, 100_000, 1_000));
            }
            workloads.push(Workload {
                split: Split::Responder,
                ..with(Pattern::Week, 100_000, 1_000)
            });
            workloads.push(Workload {
                payload_bytes: 1_000,
                ..with(Pattern::Uniform, 10_000, 100)
            });
        }
        Suite::Full => {
            let n = 1_000_000;
            for d in [0, 1, 10, 100, 1_000, 10_000, 100_000] {
                workloads.push(with(Pattern::Uniform, n, d));
            }
            // 10^7 fits since the replicas are `CompactStore`s: see `STORE_BYTES_PER_EVENT`.
            for events in [10_000, 100_000, 3_000_000, 10_000_000] {
                workloads.push(with(Pattern::Uniform, events, 1_000));
            }
            for d in [10, 1_000, 10_000] {
                workloads.push(with(Pattern::Recent, n, d));
            }
            for d in [100, 1_000, 10_000] {
                workloads.push(with(Pattern::Week, n, d));
            }
            workloads.push(Workload {
                split: Split::Responder,
                ..with(Pattern::Week, n, 1_000)
            });
            workloads.push(Workload {
                split: Split::Responder,
                ..with(Pattern::Uniform, n, 1_000)
            });
            for groups in [100, 10_000] {
                workloads.push(Workload {
                    groups,
                    ..with(Pattern::Groups, n, 1_000)
                });
            }
            for payload_bytes in [1_000, 10_240] {
                workloads.push(Workload {
                    payload_bytes,
                    ..with(Pattern::Uniform, 100_000, 1_000)
                });
            }
        }
    }
    workloads.retain(|workload| workload.events_per_side <= events_max);
    workloads
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::{NoHeapMeter, Protocol};

    /// Guards the whole pipeline on a small workload: every protocol finds the differences, and
    /// Tideline, negentropy and naive all carry at least the missing events.
    #[test]
    fn small_case_runs_every_protocol() {
        for pattern in [
            Pattern::Uniform,
            Pattern::Recent,
            Pattern::Week,
            Pattern::Groups,
        ] {
            let workload = Workload {
                pattern,
                events_per_side: 5_000,
                differences: 40,
                split: Split::Even,
                payload_bytes: 50,
                groups: 30,
                zipf_exponent: 1.0,
                seed: 3,
            };
            let result = case_run(&workload, &NoHeapMeter).unwrap();
            assert_eq!(result.differences, 40);
            for protocol in [Protocol::Tideline, Protocol::Negentropy, Protocol::Naive] {
                let measure = result.measure(protocol).unwrap();
                assert!(measure.bytes_total() > result.missing_event_bytes);
                assert_eq!(measure.events_moved, 40, "{protocol}");
            }
            let cursor = result.measure(Protocol::Cursor).unwrap();
            assert_eq!(
                cursor.not_applicable.is_none(),
                matches!(pattern, Pattern::Recent | Pattern::Week)
            );
            // In `week` nothing shared comes after the cursor: exactly the differences move.
            if pattern == Pattern::Week {
                assert_eq!(cursor.events_moved, 40);
            }
        }
    }

    /// Guards the idle case: nothing differs, Tideline needs one round trip.
    #[test]
    fn idle_case_is_one_round_trip() {
        let workload = Workload {
            pattern: Pattern::Uniform,
            events_per_side: 3_000,
            differences: 0,
            split: Split::Even,
            payload_bytes: 50,
            groups: 1,
            zipf_exponent: 1.0,
            seed: 4,
        };
        let result = case_run(&workload, &NoHeapMeter).unwrap();
        let tideline = result.measure(Protocol::Tideline).unwrap();
        assert_eq!(tideline.rounds, 1);
        assert!(tideline.bytes_total() < 100, "{}", tideline.bytes_total());
    }
}
