//! Seeded generators of events, for tests, the simulation, the benchmarks and the vectors.
//! Everything here is a function of its seed: there is no randomness but [`Rng`].
//!
//! (Named for what it does, `generate`, rather than `sim`, which read as short for the
//! simulation next door.)

use tideline_protocol::event::{DocId, ReplicaId, VerifiedEvent};
use tideline_protocol::value::Value;

use crate::events::{object, EventBuilder};

/// SplitMix64: a small, fast, seedable generator. Not for secrets.
#[derive(Clone, Debug)]
pub struct Rng {
    state: u64,
}

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Rng {
        Rng { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..bound`; `bound` must not be zero.
    pub fn below(&mut self, bound: u64) -> u64 {
        assert!(bound > 0);
        // Multiply-shift keeps the bias below 2^-64 · bound, far below what tests can see.
        ((u128::from(self.next_u64()) * u128::from(bound)) >> 64) as u64
    }

    /// `N` random bytes.
    pub fn bytes<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        for chunk in out.chunks_mut(8) {
            let word = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
        out
    }
}

/// A random create event in `group` at `wall_ms`, by `creator`, whose document carries a
/// string of about `payload_bytes` bytes.
pub fn create_event(
    rng: &mut Rng,
    group: &str,
    wall_ms: u64,
    creator: &str,
    payload_bytes: usize,
) -> VerifiedEvent {
    let text: String = (0..payload_bytes)
        .map(|_| char::from(b'a' + rng.below(26) as u8))
        .collect();
    // The draws keep their order: target, counter, origin, then the number.
    let target = DocId::new(wall_ms, rng.bytes());
    let counter = rng.below(4) as u32;
    let origin = ReplicaId(rng.bytes());
    let number = Value::Int(rng.next_u64() as i64 >> 1);
    EventBuilder::create(object([("n", number), ("text", Value::String(text))]))
        .group(group)
        .collection("notes")
        .target(target)
        .at(wall_ms)
        .counter(counter)
        .creator(creator)
        .origin(origin)
        .seal()
}
