//! Items (spec §7.3): the statements and questions of the walk, one about one range of groups
//! or one prefix of a group, and the limits a decoder checks on each.

use serde::{Deserialize, Serialize};

use super::bounded;
use super::{range_children, Fingerprint, ShortId, WireError};
use crate::key::{Key, Path, KEY_NIBBLES};
use crate::limits::SHORT_IDS_PER_ITEM_MAX;

/// A walk item: one statement or question about one range of groups or one prefix of a group.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Item {
    /// The fingerprint of [`range_digest`](super::range_digest) over every group root of the session.
    Root {
        /// The sender's fingerprint.
        fingerprint: Fingerprint,
    },
    /// The fingerprints of the sub-ranges of the groups `[start, end)` (see
    /// [`range_children`]).
    Range {
        /// First group index.
        start: u32,
        /// One past the last group index.
        end: u32,
        /// One fingerprint per sub-range, in order.
        #[serde(deserialize_with = "bounded::fingerprints")]
        fingerprints: Vec<Fingerprint>,
    },
    /// The sender holds more than a leaf under `lcp[..prefix_len]`: its events there all share
    /// `lcp`, and these are the fingerprints of its non-empty children.
    Split {
        /// Group index.
        group: u32,
        /// Length of the prefix asked about, in nibbles; at most `lcp.len()`.
        prefix_len: u8,
        /// The longest prefix the sender's events under the prefix share.
        lcp: Path,
        /// Bit `c` set when child `lcp ‖ c` is not empty; at least two bits.
        children: u16,
        /// The fingerprints of the non-empty children in nibble order.
        #[serde(deserialize_with = "bounded::fingerprints")]
        fingerprints: Vec<Fingerprint>,
    },
    /// Every event the sender holds under `prefix`, by short id, in key order.
    Ids {
        /// Group index.
        group: u32,
        /// The prefix.
        prefix: Path,
        /// Short ids, at most [`SHORT_IDS_PER_ITEM_MAX`].
        #[serde(deserialize_with = "bounded::short_ids")]
        ids: Vec<ShortId>,
    },
    /// Send me the events under `prefix` with these short ids.
    Want {
        /// Group index.
        group: u32,
        /// The prefix.
        prefix: Path,
        /// Short ids, at most [`SHORT_IDS_PER_ITEM_MAX`].
        #[serde(deserialize_with = "bounded::short_ids")]
        ids: Vec<ShortId>,
    },
    /// Send me every event under `prefix` whose key is greater than `after`: I have none there.
    Need {
        /// Group index.
        group: u32,
        /// The prefix.
        prefix: Path,
        /// Resume after this key, when a previous answer stopped there.
        after: Option<Key>,
    },
    /// (Responder only.) I have more events under `prefix` after `after` than fitted in this
    /// frame; ask for them again with `Need`.
    More {
        /// Group index.
        group: u32,
        /// The prefix.
        prefix: Path,
        /// Where to resume: the last key sent, or, when nothing under the prefix fitted, the
        /// `after` of the `Need` being answered (none for a fresh prefix).
        after: Option<Key>,
    },
}

impl Item {
    /// Checks the limits a decoder can check without knowing the session.
    pub(super) fn check(&self) -> Result<(), WireError> {
        match self {
            Item::Root { .. } => Ok(()),
            Item::Range {
                start,
                end,
                fingerprints,
            } => {
                if end <= start || end - start < 2 {
                    return Err(WireError::Malformed(
                        "a Range item covers at least two groups".into(),
                    ));
                }
                if fingerprints.len() != range_children(*start, *end).len() {
                    return Err(WireError::Malformed(
                        "a Range item has one fingerprint per sub-range".into(),
                    ));
                }
                Ok(())
            }
            Item::Split {
                prefix_len,
                lcp,
                children,
                fingerprints,
                ..
            } => {
                if usize::from(*prefix_len) > lcp.len() {
                    return Err(WireError::Malformed(
                        "a Split item's prefix is longer than its lcp".into(),
                    ));
                }
                if lcp.len() >= KEY_NIBBLES {
                    return Err(WireError::Malformed(
                        "a Split item's lcp is a whole key".into(),
                    ));
                }
                if children.count_ones() < 2 {
                    return Err(WireError::Malformed(
                        "a Split item has at least two children".into(),
                    ));
                }
                if fingerprints.len() != children.count_ones() as usize {
                    return Err(WireError::Malformed(
                        "a Split item has one fingerprint per child".into(),
                    ));
                }
                Ok(())
            }
            Item::Ids { ids, .. } | Item::Want { ids, .. } => {
                if ids.len() > SHORT_IDS_PER_ITEM_MAX {
                    return Err(WireError::LimitExceeded {
                        what: "short ids in one item",
                        max: SHORT_IDS_PER_ITEM_MAX,
                    });
                }
                Ok(())
            }
            Item::Need { .. } | Item::More { .. } => Ok(()),
        }
    }
}

/// The encoded size of an item.
pub fn item_len(item: &Item) -> usize {
    postcard::experimental::serialized_size(item).expect("items encode")
}
