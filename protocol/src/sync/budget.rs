//! Filling a frame within its budget (spec §8.6): what an item and an event count, when a frame
//! takes one more, and streaming a push's events into it. Both roles fill frames through
//! [`FrameFill`]; they differ only where the spec makes them differ (see [`FrameFill::takes`]).

use super::walk::{Push, Role, Walk};
use super::{store_error, SyncError};
use crate::limits::{
    EVENTS_PER_FRAME_MAX, EVENT_BYTES_MAX, FRAME_BYTES_BUDGET, FRAME_BYTES_MAX,
    ITEMS_PER_FRAME_MAX, SHORT_IDS_PER_ITEM_MAX,
};
use crate::store::ReadStore;
use crate::tree::{Key, Path, KEY_NIBBLES, RADIX};
use crate::wire::{item_len, Item};

/// How many keys a push reads from the store at a time.
const PUSH_CHUNK_KEYS: usize = 256;

/// Streaming pushes stop this far below [`EVENTS_PER_FRAME_MAX`], leaving room for the events one
/// `Ids` or `Want` item adds.
pub(super) const EVENTS_STREAMED_MAX: usize = EVENTS_PER_FRAME_MAX - SHORT_IDS_PER_ITEM_MAX;

// The responder stops consuming items at EVENTS_STREAMED_MAX events, and the item it consumes
// last adds at most SHORT_IDS_PER_ITEM_MAX single events (an `Ids` lists at most that many of
// our keys, a `Want` names at most that many short ids) and streams none past the limit: so a
// response stays within EVENTS_PER_FRAME_MAX.
const _: () = assert!(EVENTS_STREAMED_MAX + SHORT_IDS_PER_ITEM_MAX <= EVENTS_PER_FRAME_MAX);
const _: () = assert!(EVENTS_STREAMED_MAX < EVENTS_PER_FRAME_MAX);

/// A responder stops consuming items when fewer than this many item slots remain: one item
/// yields at most 16 items plus one `More` per pushed prefix (at most 15 per lcp nibble and 16
/// children).
pub(super) const ITEMS_PER_ITEM_MAX: usize = RADIX + (RADIX - 1) * KEY_NIBBLES + RADIX;

// The figure the spec gives (§8.6, 1,352), and room for at least one item's output in a frame,
// so that a response can always consume the first item.
const _: () = assert!(ITEMS_PER_ITEM_MAX == 1_352);
const _: () = assert!(ITEMS_PER_ITEM_MAX <= ITEMS_PER_FRAME_MAX);

/// The most bytes one item of ours encodes to: an `Ids` or `Want` of 64 short ids (8 bytes each)
/// under an 88-nibble prefix, with its tag, group and counts, is under 600.
const ITEM_BYTES_MAX: usize = 1024;

/// The most bytes one event adds to a frame: its bytes and their varint length.
const EVENT_FRAME_BYTES_MAX: usize = EVENT_BYTES_MAX + 3;

/// The most bytes of a frame that [`FrameFill`] does not count: version, variant, salt, groups
/// fingerprint or `consumed`, and the two count prefixes.
const FRAME_FIXED_BYTES_MAX: usize = 64;

/// The most a budget may be: see [`super::Config::budget`].
pub(super) const FRAME_BYTES_BUDGET_MAX: usize = FRAME_BYTES_MAX / 4;

// A frame filled to the largest budget, then overshot by the last item (its output items, its
// single events, and the one streamed event a frame without events always takes), plus what is
// not counted, still fits FRAME_BYTES_MAX. This is why the budget is capped at a quarter.
const _: () = assert!(
    FRAME_BYTES_BUDGET_MAX
        + ITEMS_PER_ITEM_MAX * ITEM_BYTES_MAX
        + (SHORT_IDS_PER_ITEM_MAX + 1) * EVENT_FRAME_BYTES_MAX
        + FRAME_FIXED_BYTES_MAX
        <= FRAME_BYTES_MAX
);
// The default budget is within the cap, so the default is what a sender uses.
const _: () = assert!(FRAME_BYTES_BUDGET <= FRAME_BYTES_BUDGET_MAX);

/// The size an event adds to a frame: its bytes and their varint length.
pub(super) fn event_frame_len(bytes: &[u8]) -> usize {
    bytes.len() + varint_len(bytes.len())
}

fn varint_len(value: usize) -> usize {
    let bits = usize::BITS - value.leading_zeros();
    (bits.max(1) as usize).div_ceil(7)
}

/// How a push ended in a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Streamed {
    /// All its events are in the frame (or were in earlier ones).
    Done,
    /// The frame took no more; its `after` names the last event sent.
    Cut,
}

/// A frame's items and events as one side fills them, and the bytes they count (spec §8.6: an
/// item its encoded length, an event its length plus its varint length prefix).
pub(super) struct FrameFill {
    role: Role,
    budget: usize,
    /// The event count at which the frame is full: [`EVENTS_PER_FRAME_MAX`] for the initiator,
    /// [`EVENTS_STREAMED_MAX`] for the responder.
    events_max: usize,
    bytes: usize,
    items: Vec<Item>,
    events: Vec<Vec<u8>>,
}

impl FrameFill {
    /// An empty frame for `role`, aiming at `budget` bytes.
    pub(super) fn new(role: Role, budget: usize) -> FrameFill {
        assert!(budget <= FRAME_BYTES_BUDGET_MAX, "the budget is capped");
        let events_max = match role {
            Role::Initiator => EVENTS_PER_FRAME_MAX,
            Role::Responder => EVENTS_STREAMED_MAX,
        };
        FrameFill {
            role,
            budget,
            events_max,
            bytes: 0,
            items: Vec::new(),
            events: Vec::new(),
        }
    }

    pub(super) fn items(&self) -> &[Item] {
        &self.items
    }

    pub(super) fn is_empty(&self) -> bool {
        self.items.is_empty() && self.events.is_empty()
    }

    /// Whether the budget's bytes or the frame's events are spent: the point where a sender
    /// stops adding pushes (the initiator) or consuming items (the responder).
    pub(super) fn is_full(&self) -> bool {
        self.bytes >= self.budget || self.events.len() >= self.events_max
    }

    /// Whether the initiator's request takes `item` from its queue (§8.6 initiator step 1): the
    /// first always, the next while they fit the budget and the item count.
    pub(super) fn item_fits(&self, item: &Item) -> bool {
        self.items.is_empty()
            || (self.bytes + item_len(item) <= self.budget
                && self.items.len() < ITEMS_PER_FRAME_MAX)
    }

    pub(super) fn item_push(&mut self, item: Item) {
        let len = item_len(&item);
        debug_assert!(len <= ITEM_BYTES_MAX, "an item of {len} bytes");
        self.bytes += len;
        self.items.push(item);
    }

    fn event_push(&mut self, event: Vec<u8>) {
        self.bytes += event_frame_len(&event);
        self.events.push(event);
    }

    /// Whether a streamed event of `len` bytes goes in: it fits the budget and the event count,
    /// or the frame must take it to make progress: a request holding nothing yet, a response
    /// holding no event yet (§8.6).
    fn takes(&self, len: usize) -> bool {
        let fits = self.bytes + len <= self.budget && self.events.len() < self.events_max;
        let progress = match self.role {
            Role::Initiator => self.is_empty(),
            Role::Responder => self.events.is_empty(),
        };
        fits || progress
    }

    /// Adds a push's events: a single event whole, a prefix's event by event in key order
    /// until one is not taken. A cut prefix push has its `after` set to the last key sent.
    pub(super) fn push_add<S: ReadStore + ?Sized>(
        &mut self,
        walk: &Walk<'_, S>,
        push: &mut Push,
    ) -> Result<Streamed, SyncError> {
        match push {
            Push::Event(id) => {
                self.event_push(walk.event_bytes(id)?);
                Ok(Streamed::Done)
            }
            Push::Prefix {
                group,
                prefix,
                after,
            } => self.prefix_stream(walk, *group, prefix, after),
        }
    }

    fn prefix_stream<S: ReadStore + ?Sized>(
        &mut self,
        walk: &Walk<'_, S>,
        group: u32,
        prefix: &Path,
        after: &mut Option<Key>,
    ) -> Result<Streamed, SyncError> {
        let name = walk.group_name(group)?;
        loop {
            let keys = walk
                .store
                .keys(name, prefix, after.as_ref(), PUSH_CHUNK_KEYS)
                .map_err(store_error)?;
            for key in &keys {
                let event = walk.event_bytes(&key.id())?;
                if !self.takes(event_frame_len(&event)) {
                    return Ok(Streamed::Cut);
                }
                self.event_push(event);
                *after = Some(*key);
            }
            if keys.len() < PUSH_CHUNK_KEYS {
                return Ok(Streamed::Done);
            }
        }
    }

    /// The frame's items and events, checked against the hard limits of chapter 2.
    pub(super) fn finish(self) -> (Vec<Item>, Vec<Vec<u8>>) {
        debug_assert!(
            self.items.len() <= ITEMS_PER_FRAME_MAX,
            "{} items",
            self.items.len()
        );
        debug_assert!(
            self.events.len() <= EVENTS_PER_FRAME_MAX,
            "{} events",
            self.events.len()
        );
        debug_assert!(
            self.bytes + FRAME_FIXED_BYTES_MAX <= FRAME_BYTES_MAX,
            "{} bytes",
            self.bytes
        );
        (self.items, self.events)
    }
}
