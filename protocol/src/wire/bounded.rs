//! Sequences from outside whose length is checked before their elements are decoded, so a
//! frame of millions of tiny elements is refused before it allocates for them (spec §7.4).

use std::cell::Cell;
use std::marker::PhantomData;

use serde::de::{Deserialize, Deserializer, Error, SeqAccess, Visitor};

use crate::key::RADIX;
use crate::limits::{EVENTS_PER_FRAME_MAX, ITEMS_PER_FRAME_MAX, SHORT_IDS_PER_ITEM_MAX};

thread_local! {
    /// The limit a decode ran into. postcard keeps no message of custom errors, so the
    /// bounded visitor leaves the limit here for `decode_frame` to report.
    pub(super) static LIMIT_HIT: Cell<Option<(&'static str, usize)>> = const { Cell::new(None) };
}

// Each function is generic over the element type, which the field it decodes fixes, so that
// this module needs none of the types it bounds and the modules that define them can use it.

/// The items of a request or response, at most [`ITEMS_PER_FRAME_MAX`].
pub(super) fn items<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    seq(deserializer, "items in one frame", ITEMS_PER_FRAME_MAX)
}

/// The events of a request or response, at most [`EVENTS_PER_FRAME_MAX`].
pub(super) fn events<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    seq(deserializer, "events in one frame", EVENTS_PER_FRAME_MAX)
}

/// The short ids of an `Ids` or `Want` item, at most [`SHORT_IDS_PER_ITEM_MAX`].
pub(super) fn short_ids<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    seq(
        deserializer,
        "short ids in one item",
        SHORT_IDS_PER_ITEM_MAX,
    )
}

/// The fingerprints of a `Range` or `Split` item, at most one per child ([`RADIX`]).
pub(super) fn fingerprints<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    seq(deserializer, "fingerprints in one item", RADIX)
}

/// A sequence of at most `max` elements, refused (and the limit noted in [`LIMIT_HIT`]) as soon
/// as its length prefix or its elements pass `max`.
fn seq<'de, D, T>(deserializer: D, what: &'static str, max: usize) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    struct Bounded<T> {
        what: &'static str,
        max: usize,
        element: PhantomData<T>,
    }

    impl<'de, T: Deserialize<'de>> Visitor<'de> for Bounded<T> {
        type Value = Vec<T>;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "at most {} {}", self.max, self.what)
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
            let hint = seq.size_hint().unwrap_or(0);
            if hint > self.max {
                LIMIT_HIT.set(Some((self.what, self.max)));
                return Err(A::Error::custom(format!(
                    "more than {} {}",
                    self.max, self.what
                )));
            }
            let mut out = Vec::with_capacity(hint.min(4096));
            while let Some(element) = seq.next_element()? {
                if out.len() == self.max {
                    LIMIT_HIT.set(Some((self.what, self.max)));
                    return Err(A::Error::custom(format!(
                        "more than {} {}",
                        self.max, self.what
                    )));
                }
                out.push(element);
            }
            Ok(out)
        }
    }

    deserializer.deserialize_seq(Bounded {
        what,
        max,
        element: PhantomData,
    })
}
