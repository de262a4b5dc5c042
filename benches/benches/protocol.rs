//! Criterion benchmarks of the protocol crate: inserting into the hash tree, computing digests,
//! and whole in-memory reconciliations at n = 100,000 events.
//!
//! `cargo bench -p tideline-benches --bench protocol`; `benches/README.md` says what each
//! benchmark measures and lists the last figures. Every input is generated from a fixed seed
//! before timing starts, so runs compare.

use std::hint::black_box;
use std::sync::{Mutex, Once, OnceLock};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BatchSize, Bencher, Criterion, SamplingMode};
use tideline_protocol::event::{EventId, VerifiedEvent};
use tideline_protocol::replica::apply;
use tideline_protocol::store::MemoryStore;
use tideline_protocol::sync::Config;
use tideline_protocol::tree::{branch_digest, insert, leaf_digest, Digest, Path, Tree, RADIX};
use tideline_protocol::wire::{Groups, Salt};
use tideline_testkit::generate::{create_event, Rng};
use tideline_testkit::reconcile::{reconcile, Transcript};

/// Events each side holds.
const EVENTS_LEN: usize = 100_000;

/// Events only one side holds, over both sides: half on each.
const DIFFERENCES_LEN: usize = 100;

const GROUP: &str = "g";
const START_MS: u64 = 1_790_000_000_000;

/// The span the events' timestamps fall in, uniformly: 30 days.
const SPAN_MS: u64 = 30 * 24 * 3600 * 1000;

/// About the size of a small note; the same as `protocol/examples/walk_cost.rs`.
const PAYLOAD_BYTES: usize = 50;

/// How many events the insert benchmarks add to one copy of the 100,000-event store before
/// starting again from a fresh copy, so the tree stays between 100,000 and 110,000 events.
const INSERTS_PER_COPY: usize = 10_000;

const SALT: Salt = Salt([7; 16]);

/// Events of [`GROUP`] scattered uniformly over [`SPAN_MS`].
fn events(rng: &mut Rng, count: usize) -> Vec<VerifiedEvent> {
    (0..count)
        .map(|_| {
            let wall_ms = START_MS + rng.below(SPAN_MS);
            create_event(rng, GROUP, wall_ms, "alice", PAYLOAD_BYTES)
        })
        .collect()
}

/// Two replicas of [`EVENTS_LEN`] events each that differ by [`DIFFERENCES_LEN`] events, built
/// once per process and only by the benchmarks that use them.
struct Replicas {
    initiator: MemoryStore,
    responder: MemoryStore,
    groups: Groups,
}

fn replicas() -> &'static Replicas {
    static REPLICAS: OnceLock<Replicas> = OnceLock::new();
    REPLICAS.get_or_init(|| {
        let started = Instant::now();
        let mut rng = Rng::new(1);
        let common = events(&mut rng, EVENTS_LEN - DIFFERENCES_LEN / 2);
        let only_initiator = events(&mut rng, DIFFERENCES_LEN / 2);
        let only_responder = events(&mut rng, DIFFERENCES_LEN - DIFFERENCES_LEN / 2);
        let mut initiator = MemoryStore::new();
        apply(&mut initiator, &common).unwrap();
        let mut responder = initiator.clone();
        apply(&mut initiator, &only_initiator).unwrap();
        apply(&mut responder, &only_responder).unwrap();
        assert_eq!(initiator.events_len(), EVENTS_LEN);
        assert_eq!(responder.events_len(), EVENTS_LEN);
        eprintln!(
            "built two replicas of {EVENTS_LEN} events in {:.1?}",
            started.elapsed()
        );
        Replicas {
            initiator,
            responder,
            groups: Groups::new([GROUP]).unwrap(),
        }
    })
}

/// What an insert benchmark writes into: a copy of the 100,000-event store, and how many of
/// the fresh events it holds already.
struct InsertTarget {
    store: MemoryStore,
    inserted: usize,
}

/// Inserts fresh events, `batch_len` per iteration, into a copy of the 100,000-event store.
///
/// The events are generated once, before timing. When a copy has taken all of them, a new
/// copy replaces it outside the timed part, so the tree stays between 100,000 and
/// `100,000 + INSERTS_PER_COPY` events and each event is new to the store it goes into.
fn insert_fresh(
    bencher: &mut Bencher,
    target: &mut Option<InsertTarget>,
    fresh: &[VerifiedEvent],
    batch_len: usize,
) {
    assert_eq!(fresh.len() % batch_len, 0);
    let base = &replicas().initiator;
    let target = target.get_or_insert_with(|| InsertTarget {
        store: base.clone(),
        inserted: 0,
    });
    bencher.iter_custom(|iterations| {
        let mut elapsed = Duration::ZERO;
        let mut remaining = iterations as usize;
        while remaining > 0 {
            if target.inserted == fresh.len() {
                // Dropping the old copy happens here too, untimed.
                target.store = base.clone();
                target.inserted = 0;
            }
            let batches = remaining.min((fresh.len() - target.inserted) / batch_len);
            remaining -= batches;
            let run = &fresh[target.inserted..target.inserted + batches * batch_len];
            target.inserted += run.len();
            let started = Instant::now();
            for batch in run.chunks(batch_len) {
                black_box(insert(&mut target.store, batch).unwrap());
            }
            elapsed += started.elapsed();
        }
        elapsed
    });
}

fn tree_benches(criterion: &mut Criterion) {
    let mut group = criterion.benchmark_group("tree");
    group.sample_size(10);
    group.sampling_mode(SamplingMode::Flat);
    let fresh = events(&mut Rng::new(2), INSERTS_PER_COPY);
    let mut target = None;
    group.bench_function("insert", |bencher| {
        insert_fresh(bencher, &mut target, &fresh, 1)
    });
    let mut target = None;
    group.bench_function("insert_batch_1000", |bencher| {
        insert_fresh(bencher, &mut target, &fresh, 1000)
    });
    group.finish();

    let mut group = criterion.benchmark_group("tree/digest_bucket");
    group.sample_size(30);
    let mut rng = Rng::new(3);
    let ids: Vec<EventId> = (0..16).map(|_| EventId(rng.bytes())).collect();
    group.bench_function("leaf_16", |bencher| {
        bencher.iter(|| leaf_digest(black_box(&ids)))
    });
    let children: [Option<Digest>; RADIX] = std::array::from_fn(|_| Some(Digest(rng.bytes())));
    group.bench_function("branch_16", |bencher| {
        bencher.iter(|| branch_digest(black_box(&children)))
    });
    group.bench_function("view_random_prefix", |bencher| {
        let store = &replicas().initiator;
        static PREFIXES: OnceLock<Vec<Path>> = OnceLock::new();
        let prefixes = PREFIXES.get_or_init(|| {
            // Prefixes of held keys, 0 to 16 nibbles long: the timestamp's part of the key,
            // from the root through branches down to leaves and empty prefixes.
            let keys = store.group_keys(GROUP);
            (0..4096)
                .map(|_| {
                    let key = &keys[rng.below(keys.len() as u64) as usize];
                    Path::of_key(key, rng.below(17) as usize)
                })
                .collect()
        });
        let tree = Tree::new(store);
        let mut next = 0;
        bencher.iter(|| {
            let prefix = &prefixes[next % prefixes.len()];
            next += 1;
            black_box(tree.view(GROUP, black_box(prefix)).unwrap().digest())
        })
    });
    group.finish();
}

fn transcript_print(name: &str, transcript: &Transcript) {
    let event_bytes = transcript.event_bytes_to_initiator + transcript.event_bytes_to_responder;
    let bytes = transcript.bytes_to_initiator + transcript.bytes_to_responder;
    println!(
        "{name}: rounds {}, bytes to responder {}, bytes to initiator {}, events {} + {} \
         ({event_bytes} bytes), overhead {} bytes",
        transcript.rounds,
        transcript.bytes_to_responder,
        transcript.bytes_to_initiator,
        transcript.events_to_responder,
        transcript.events_to_initiator,
        bytes - event_bytes,
    );
}

fn sync_benches(criterion: &mut Criterion) {
    let mut group = criterion.benchmark_group("sync");
    group.sample_size(10);
    group.sampling_mode(SamplingMode::Flat);

    group.bench_function("reconcile_n100000_d100", |bencher| {
        let replicas = replicas();
        static PRINT: Once = Once::new();
        PRINT.call_once(|| {
            let transcript = reconcile(
                &mut replicas.initiator.clone(),
                &mut replicas.responder.clone(),
                &replicas.groups,
                SALT,
                Config::default(),
            )
            .unwrap();
            assert_eq!(
                transcript.events_to_initiator + transcript.events_to_responder,
                DIFFERENCES_LEN
            );
            transcript_print("sync/reconcile_n100000_d100", &transcript);
        });
        bencher.iter_batched(
            || (replicas.initiator.clone(), replicas.responder.clone()),
            |(mut initiator, mut responder)| {
                let transcript = reconcile(
                    &mut initiator,
                    &mut responder,
                    &replicas.groups,
                    SALT,
                    Config::default(),
                )
                .unwrap();
                // Returned, so that dropping the stores falls outside the timed part.
                (initiator, responder, transcript)
            },
            BatchSize::LargeInput,
        )
    });

    group.bench_function("idle_n100000", |bencher| {
        let replicas = replicas();
        // Nothing differs, so a reconciliation writes nothing and one pair serves every
        // iteration.
        static IDLE: OnceLock<Mutex<(MemoryStore, MemoryStore)>> = OnceLock::new();
        let idle = IDLE.get_or_init(|| {
            let pair = (replicas.initiator.clone(), replicas.initiator.clone());
            Mutex::new(pair)
        });
        let mut idle = idle.lock().unwrap();
        let (initiator, responder) = &mut *idle;
        static PRINT: Once = Once::new();
        PRINT.call_once(|| {
            let transcript = reconcile(
                initiator,
                responder,
                &replicas.groups,
                SALT,
                Config::default(),
            )
            .unwrap();
            assert_eq!(transcript.rounds, 1);
            assert_eq!(
                transcript.events_to_initiator + transcript.events_to_responder,
                0
            );
            transcript_print("sync/idle_n100000", &transcript);
        });
        bencher.iter(|| {
            reconcile(
                initiator,
                responder,
                &replicas.groups,
                SALT,
                Config::default(),
            )
            .unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, tree_benches, sync_benches);
criterion_main!(benches);
