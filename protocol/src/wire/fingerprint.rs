//! Fingerprints, short ids and group ranges (spec chapter 6): the salted, truncated hashes the
//! walk compares, and the session's sorted group list with its range digests.

use std::fmt;
use std::sync::LazyLock;

use serde::{Deserialize, Serialize};

use super::WireError;
use crate::digest::Digest;
use crate::event::EventId;
use crate::key::RADIX;
use crate::limits::GROUPS_PER_SESSION_MAX;

/// Length of a fingerprint and of a short id, in bytes.
pub const FINGERPRINT_BYTES: usize = 8;

// A fingerprint is a prefix of a 32-byte BLAKE3 output.
const _: () = assert!(FINGERPRINT_BYTES <= 32);

const CONTEXT_FINGERPRINT: &str = "tideline 2026-11 v1 fingerprint";
const CONTEXT_GROUPS: &str = "tideline 2026-11 v1 groups digest";
const CONTEXT_RANGE: &str = "tideline 2026-11 v1 range digest";

static HASHER_FINGERPRINT: LazyLock<blake3::Hasher> =
    LazyLock::new(|| blake3::Hasher::new_derive_key(CONTEXT_FINGERPRINT));
static HASHER_RANGE: LazyLock<blake3::Hasher> =
    LazyLock::new(|| blake3::Hasher::new_derive_key(CONTEXT_RANGE));

/// Random bytes the initiator picks for one session. Fingerprints and short ids are keyed with
/// it, so nobody can prepare two sets whose truncated fingerprints collide.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Salt(pub [u8; 16]);

impl fmt::Debug for Salt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Salt({})", hex(&self.0))
    }
}

/// The first 8 bytes of a salted hash of a digest: what the walk compares.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Fingerprint(pub [u8; FINGERPRINT_BYTES]);

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({})", hex(&self.0))
    }
}

/// The first 8 bytes of a salted hash of an event id: how `Ids` and `Want` name events.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ShortId(pub [u8; FINGERPRINT_BYTES]);

impl fmt::Debug for ShortId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ShortId({})", hex(&self.0))
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn salted(salt: &Salt, input: &[u8; 32]) -> [u8; FINGERPRINT_BYTES] {
    let mut hasher = HASHER_FINGERPRINT.clone();
    hasher.update(&salt.0);
    hasher.update(input);
    let mut out = [0u8; FINGERPRINT_BYTES];
    out.copy_from_slice(&hasher.finalize().as_bytes()[..FINGERPRINT_BYTES]);
    out
}

/// The fingerprint of a digest under a session's salt.
pub fn fingerprint(salt: &Salt, digest: &Digest) -> Fingerprint {
    Fingerprint(salted(salt, &digest.0))
}

/// The short id of an event id under a session's salt.
pub fn short_id(salt: &Salt, id: &EventId) -> ShortId {
    ShortId(salted(salt, &id.0))
}

/// The digest of a run of group roots: the roots' 32 bytes each, concatenated.
pub fn range_digest(roots: &[Digest]) -> Digest {
    let mut hasher = HASHER_RANGE.clone();
    for root in roots {
        hasher.update(&root.0);
    }
    Digest(*hasher.finalize().as_bytes())
}

/// The sub-ranges a `Range` item over `[start, end)` splits into: `step = ceil(len / 16)`, then
/// `[start + i·step, min(start + (i+1)·step, end))` for each `i` that starts before `end`.
pub fn range_children(start: u32, end: u32) -> Vec<(u32, u32)> {
    assert!(end > start);
    // In u64: `low + step` may pass u32::MAX for a range that ends near it.
    let (start, end) = (u64::from(start), u64::from(end));
    let step = (end - start).div_ceil(RADIX as u64);
    (start..end)
        .step_by(step as usize)
        .map(|low| (low as u32, (low + step).min(end) as u32))
        .collect()
}

/// The groups of one session, sorted by their bytes, without duplicates; items name a group by
/// its index in this list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Groups {
    names: Vec<String>,
    digest: Digest,
}

impl Groups {
    /// The session's groups; sorted and deduplicated here.
    pub fn new<I, T>(names: I) -> Result<Groups, WireError>
    where
        I: IntoIterator<Item = T>,
        T: Into<String>,
    {
        let mut names: Vec<String> = names.into_iter().map(Into::into).collect();
        names.sort_unstable();
        names.dedup();
        if names.len() > GROUPS_PER_SESSION_MAX {
            return Err(WireError::LimitExceeded {
                what: "groups in a session",
                max: GROUPS_PER_SESSION_MAX,
            });
        }
        let encoded = postcard::to_allocvec(&names).expect("a list of strings encodes");
        let mut hasher = blake3::Hasher::new_derive_key(CONTEXT_GROUPS);
        hasher.update(&encoded);
        let digest = Digest(*hasher.finalize().as_bytes());
        Ok(Groups { names, digest })
    }

    /// The names, sorted.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// How many groups.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether the session has no groups.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// The index of `name`, if it is one of the session's groups.
    pub fn index_of(&self, name: &str) -> Option<u32> {
        self.names
            .binary_search_by(|probe| probe.as_str().cmp(name))
            .ok()
            .map(|index| index as u32)
    }

    /// The name at `index`.
    pub fn name(&self, index: u32) -> Option<&str> {
        self.names.get(index as usize).map(String::as_str)
    }

    /// BLAKE3 (derive-key mode) of the postcard encoding of the sorted names.
    pub fn digest(&self) -> Digest {
        self.digest
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sub-ranges of a group range cover it exactly, in order, at most 16 of them.
    #[test]
    fn range_children_partition_the_range() {
        for (start, end) in [
            (0, 2),
            (0, 16),
            (0, 17),
            (5, 105),
            (0, 257),
            (3, 100_000),
            (0, u32::MAX),
            (u32::MAX - 20, u32::MAX),
        ] {
            let children = range_children(start, end);
            assert!(children.len() <= RADIX);
            assert_eq!(children.first().unwrap().0, start);
            assert_eq!(children.last().unwrap().1, end);
            assert!(children.windows(2).all(|pair| pair[0].1 == pair[1].0));
            assert!(children.iter().all(|(low, high)| low < high));
        }
    }
}
