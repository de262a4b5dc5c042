//! Handling one item, the part of the walk both roles share (spec §8.1 and §8.4): what we hold
//! under a prefix ([`Walk::describe`]), and what each kind of item produces: items for the peer
//! and pushes, the events we owe it.

use std::cell::{Cell, RefCell};
use std::collections::HashSet;

use super::{store_error, SyncError};
use crate::event::{EventId, VerifiedEvent};
use crate::limits::SHORT_IDS_PER_ITEM_MAX;
use crate::store::ReadStore;
use crate::tree::{children_bitmap, leaf_digest, view, Digest, Key, Path, View, RADIX};
use crate::wire::{
    fingerprint, range_children, range_digest, short_id, Fingerprint, Groups, Item, Salt, ShortId,
};

/// How many keys a `Want` looks through under its prefix. An honest `Want` follows an `Ids` of
/// at most [`SHORT_IDS_PER_ITEM_MAX`] keys, plus what arrived since; more than this is a peer
/// wasting our time.
pub const WANT_SCAN_KEYS_MAX: usize = 4 * SHORT_IDS_PER_ITEM_MAX;

// A `Want` must be able to find every event an honest `Ids` listed.
const _: () = assert!(WANT_SCAN_KEYS_MAX >= SHORT_IDS_PER_ITEM_MAX);

/// Which role is handling an item: only the initiator may be told `More`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Role {
    Initiator,
    Responder,
}

/// Events one side owes the other (spec §8.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Push {
    /// Every event under `prefix` after `after`.
    Prefix {
        group: u32,
        prefix: Path,
        after: Option<Key>,
    },
    /// One event.
    Event(EventId),
}

/// What one side holds under a prefix, as the walk treats it.
#[allow(clippy::large_enum_variant)] // As for `View`: short-lived, read once.
enum Held {
    /// Nothing.
    Empty,
    /// At most [`SHORT_IDS_PER_ITEM_MAX`] events, listed by their keys in order.
    Listed(Vec<Key>),
    /// More: the branch at `lcp` and its children's digests.
    Branch {
        lcp: Path,
        children: [Option<Digest>; RADIX],
    },
}

/// What handling one item produced.
#[derive(Default)]
pub(super) struct Output {
    pub(super) items: Vec<Item>,
    pub(super) pushes: Vec<Push>,
}

/// One side's view of the session, for handling items.
pub(super) struct Walk<'a, S: ReadStore + ?Sized> {
    pub(super) store: &'a S,
    groups: &'a Groups,
    salt: Salt,
    /// Store lookups so far: what a responder's work budget counts.
    lookups: Cell<usize>,
    /// Group roots looked up so far, by group index: `Root` and `Range` items reuse them.
    roots: RefCell<Vec<Option<Digest>>>,
}

impl<'a, S: ReadStore + ?Sized> Walk<'a, S> {
    pub(super) fn new(store: &'a S, groups: &'a Groups, salt: Salt) -> Self {
        Walk {
            store,
            groups,
            salt,
            lookups: Cell::new(0),
            roots: RefCell::new(vec![None; groups.len()]),
        }
    }

    /// The session's groups.
    pub(super) fn groups(&self) -> &Groups {
        self.groups
    }

    /// Store lookups so far (spec §8.6).
    pub(super) fn lookups(&self) -> usize {
        self.lookups.get()
    }

    fn lookups_add(&self, count: usize) {
        self.lookups.set(self.lookups.get() + count);
    }

    pub(super) fn group_name(&self, index: u32) -> Result<&str, SyncError> {
        self.groups.name(index).ok_or(SyncError::GroupIndex {
            index,
            len: self.groups.len(),
        })
    }

    fn view(&self, group: u32, prefix: &Path) -> Result<View, SyncError> {
        self.lookups_add(1);
        view(self.store, self.group_name(group)?, prefix).map_err(store_error)
    }

    /// The roots of groups `[start, end)`. Hashing them into a range digest costs a lookup per
    /// root too, cached or not, so the work budget sees it.
    fn roots(&self, start: u32, end: u32) -> Result<Vec<Digest>, SyncError> {
        self.lookups_add((end - start) as usize);
        (start..end)
            .map(|group| {
                if let Some(root) = self.roots.borrow().get(group as usize).copied().flatten() {
                    return Ok(root);
                }
                let root = self.view(group, &Path::root())?.digest();
                self.roots.borrow_mut()[group as usize] = Some(root);
                Ok(root)
            })
            .collect()
    }

    fn fingerprint(&self, digest: &Digest) -> Fingerprint {
        fingerprint(&self.salt, digest)
    }

    /// The fingerprint the initiator opens with (spec §8.2 step 1).
    pub(super) fn root_item(&self) -> Result<Item, SyncError> {
        let roots = self.roots(0, self.groups.len() as u32)?;
        Ok(Item::Root {
            fingerprint: self.fingerprint(&range_digest(&roots)),
        })
    }

    /// `range_item(a, b)` of spec §8.1: a `Range` item for `[start, end)`, or the group's own
    /// item for a range of one.
    fn range_item(&self, start: u32, end: u32) -> Result<Item, SyncError> {
        if end - start == 1 {
            return self.describe(start, &Path::root());
        }
        let roots = self.roots(start, end)?;
        let fingerprints = range_children(start, end)
            .into_iter()
            .map(|(low, high)| {
                let slice = &roots[(low - start) as usize..(high - start) as usize];
                self.fingerprint(&range_digest(slice))
            })
            .collect();
        Ok(Item::Range {
            start,
            end,
            fingerprints,
        })
    }

    /// `describe(g, P)` of spec §8.1, what this side holds under `prefix` as an item: `Need`
    /// for nothing, `Ids` for at most [`SHORT_IDS_PER_ITEM_MAX`] events, `Split` for more.
    fn describe(&self, group: u32, prefix: &Path) -> Result<Item, SyncError> {
        let view = self.view(group, prefix)?;
        self.describe_view(group, prefix, view)
    }

    fn describe_view(&self, group: u32, prefix: &Path, view: View) -> Result<Item, SyncError> {
        let held = self.held(group, prefix, view)?;
        Ok(self.held_item(group, prefix, held))
    }

    fn held_item(&self, group: u32, prefix: &Path, held: Held) -> Item {
        match held {
            Held::Empty => Item::Need {
                group,
                prefix: prefix.clone(),
                after: None,
            },
            Held::Listed(keys) => Item::Ids {
                group,
                prefix: prefix.clone(),
                ids: keys
                    .iter()
                    .map(|key| short_id(&self.salt, &key.id()))
                    .collect(),
            },
            Held::Branch { lcp, children } => Item::Split {
                group,
                prefix_len: u8::try_from(prefix.len()).expect("a path is at most 88 nibbles"),
                children: children_bitmap(&children),
                fingerprints: children
                    .iter()
                    .flatten()
                    .map(|digest| self.fingerprint(digest))
                    .collect(),
                lcp,
            },
        }
    }

    /// How the walk treats what we hold under `prefix` (spec §8.1): a set of at most
    /// [`SHORT_IDS_PER_ITEM_MAX`] events is listed, a leaf's or a small branch's alike; a larger
    /// one is split. Listing a small branch instead of splitting it costs a few more bytes and
    /// saves a frame: the bottom branches of a large tree hold a few dozen events.
    fn held(&self, group: u32, prefix: &Path, view: View) -> Result<Held, SyncError> {
        Ok(match view {
            View::Empty => Held::Empty,
            View::Small(keys) => Held::Listed(keys),
            View::Branch { count, .. } if count <= SHORT_IDS_PER_ITEM_MAX as u64 => {
                let keys = self
                    .store
                    .keys(
                        self.group_name(group)?,
                        prefix,
                        None,
                        SHORT_IDS_PER_ITEM_MAX,
                    )
                    .map_err(store_error)?;
                Held::Listed(keys)
            }
            View::Branch { lcp, children, .. } => Held::Branch { lcp, children },
        })
    }

    /// Handles one item from the peer (spec §8.4), appending what it produces to `out`.
    pub(super) fn handle(
        &self,
        item: &Item,
        role: Role,
        out: &mut Output,
    ) -> Result<(), SyncError> {
        match item {
            Item::Root { fingerprint } => self.root_handle(fingerprint, out),
            Item::Range {
                start,
                end,
                fingerprints,
            } => self.range_handle(*start, *end, fingerprints, out),
            Item::Split {
                group,
                prefix_len,
                lcp,
                children,
                fingerprints,
            } => self.split_handle(*group, *prefix_len, lcp, *children, fingerprints, out),
            Item::Ids { group, prefix, ids } => self.ids_handle(*group, prefix, ids, out),
            Item::Want { group, prefix, ids } => self.want_handle(*group, prefix, ids, out),
            Item::Need {
                group,
                prefix,
                after,
            } => {
                self.group_name(*group)?;
                out.pushes.push(Push::Prefix {
                    group: *group,
                    prefix: prefix.clone(),
                    after: *after,
                });
                Ok(())
            }
            Item::More {
                group,
                prefix,
                after,
            } => {
                if role != Role::Initiator {
                    return Err(SyncError::Unexpected("a More item sent to the responder"));
                }
                self.group_name(*group)?;
                out.items.push(Item::Need {
                    group: *group,
                    prefix: prefix.clone(),
                    after: *after,
                });
                Ok(())
            }
        }
    }

    /// `Root { f }`: if the session has groups and their range differs, its `range_item`.
    fn root_handle(&self, theirs: &Fingerprint, out: &mut Output) -> Result<(), SyncError> {
        let groups_len = self.groups.len() as u32;
        let roots = self.roots(0, groups_len)?;
        if self.fingerprint(&range_digest(&roots)) != *theirs && groups_len > 0 {
            out.items.push(self.range_item(0, groups_len)?);
        }
        Ok(())
    }

    /// `Range { a, b, fs }`: a `range_item` for each sub-range whose fingerprint differs.
    fn range_handle(
        &self,
        start: u32,
        end: u32,
        fingerprints: &[Fingerprint],
        out: &mut Output,
    ) -> Result<(), SyncError> {
        if end as usize > self.groups.len() {
            return Err(SyncError::GroupIndex {
                index: end - 1,
                len: self.groups.len(),
            });
        }
        let roots = self.roots(start, end)?;
        for ((low, high), theirs) in range_children(start, end).into_iter().zip(fingerprints) {
            let slice = &roots[(low - start) as usize..(high - start) as usize];
            if self.fingerprint(&range_digest(slice)) != *theirs {
                out.items.push(self.range_item(low, high)?);
            }
        }
        Ok(())
    }

    /// `Split { g, k, L, bits, fs }`, the peer's set under `L[..k]`: push what we hold off its
    /// `lcp` (step 1), then compare child by child (step 2).
    fn split_handle(
        &self,
        group: u32,
        prefix_len: u8,
        lcp: &Path,
        children: u16,
        fingerprints: &[Fingerprint],
        out: &mut Output,
    ) -> Result<(), SyncError> {
        let prefix = lcp.truncated(usize::from(prefix_len));
        // Our children's digests: read off our own branch when it sits at the peer's lcp (the
        // common case, one lookup), else one view per child.
        let known = match self.view(group, &prefix)? {
            View::Branch {
                lcp: ref our_lcp,
                children,
                ..
            } if our_lcp == lcp => Some(children),
            _ => None,
        };
        if known.is_none() {
            self.off_lcp_push(group, prefix_len, lcp, out)?;
        }
        let mut theirs = fingerprints.iter();
        for nibble in 0..RADIX as u8 {
            let child = lcp.child(nibble);
            let (digest, view) = match &known {
                Some(ours) => (ours[usize::from(nibble)], None),
                None => {
                    let view = self.view(group, &child)?;
                    let digest = (!view.is_empty()).then(|| view.digest());
                    (digest, Some(view))
                }
            };
            if children & (1 << nibble) == 0 {
                if digest.is_some() {
                    out.pushes.push(Push::Prefix {
                        group,
                        prefix: child,
                        after: None,
                    });
                }
                continue;
            }
            let theirs = theirs.next().expect("checked: one fingerprint per child");
            let digest = digest.unwrap_or_else(|| leaf_digest([]));
            if self.fingerprint(&digest) != *theirs {
                out.items.push(match view {
                    Some(view) => self.describe_view(group, &child, view)?,
                    None => self.describe(group, &child)?,
                });
            }
        }
        Ok(())
    }

    /// The peer holds nothing under `lcp[..prefix_len]` off its `lcp`: push whatever we hold
    /// there (spec §8.4, `Split` step 1).
    fn off_lcp_push(
        &self,
        group: u32,
        prefix_len: u8,
        lcp: &Path,
        out: &mut Output,
    ) -> Result<(), SyncError> {
        for split in usize::from(prefix_len)..lcp.len() {
            let stem = lcp.truncated(split);
            for nibble in 0..RADIX as u8 {
                if nibble == lcp.nibbles()[split] {
                    continue;
                }
                let off = stem.child(nibble);
                if !self.view(group, &off)?.is_empty() {
                    out.pushes.push(Push::Prefix {
                        group,
                        prefix: off,
                        after: None,
                    });
                }
            }
        }
        Ok(())
    }

    /// `Ids { g, P, ids }`: the difference between the peer's listed set and ours; our events
    /// it lacks become pushes, its events we lack a `Want`.
    fn ids_handle(
        &self,
        group: u32,
        prefix: &Path,
        ids: &[ShortId],
        out: &mut Output,
    ) -> Result<(), SyncError> {
        let view = self.view(group, prefix)?;
        if view.is_empty() {
            if !ids.is_empty() {
                out.items.push(Item::Need {
                    group,
                    prefix: prefix.clone(),
                    after: None,
                });
            }
            return Ok(());
        }
        if ids.is_empty() {
            out.pushes.push(Push::Prefix {
                group,
                prefix: prefix.clone(),
                after: None,
            });
            return Ok(());
        }
        let keys = match self.held(group, prefix, view)? {
            Held::Listed(keys) => keys,
            // We hold more than we would list here: descend instead of listing.
            held => {
                out.items.push(self.held_item(group, prefix, held));
                return Ok(());
            }
        };
        let theirs: HashSet<&ShortId> = ids.iter().collect();
        let mut ours = HashSet::with_capacity(keys.len());
        for key in &keys {
            let id = key.id();
            let short = short_id(&self.salt, &id);
            if !theirs.contains(&short) {
                out.pushes.push(Push::Event(id));
            }
            ours.insert(short);
        }
        let wanted: Vec<ShortId> = ids
            .iter()
            .filter(|id| !ours.contains(id))
            .copied()
            .collect();
        if !wanted.is_empty() {
            out.items.push(Item::Want {
                group,
                prefix: prefix.clone(),
                ids: wanted,
            });
        }
        Ok(())
    }

    /// `Want { g, P, ids }`: push the wanted events among the first [`WANT_SCAN_KEYS_MAX`] keys
    /// under the prefix.
    fn want_handle(
        &self,
        group: u32,
        prefix: &Path,
        ids: &[ShortId],
        out: &mut Output,
    ) -> Result<(), SyncError> {
        let name = self.group_name(group)?;
        if ids.is_empty() {
            return Ok(());
        }
        let keys = self
            .store
            .keys(name, prefix, None, WANT_SCAN_KEYS_MAX)
            .map_err(store_error)?;
        self.lookups_add(keys.len());
        let wanted: HashSet<&ShortId> = ids.iter().collect();
        for key in keys {
            let id = key.id();
            if wanted.contains(&short_id(&self.salt, &id)) {
                out.pushes.push(Push::Event(id));
            }
        }
        Ok(())
    }

    /// The encoded event `id`, which a key of the tree names: its absence is a corrupt store.
    pub(super) fn event_bytes(&self, id: &EventId) -> Result<Vec<u8>, SyncError> {
        self.store
            .event(id)
            .map_err(store_error)?
            .ok_or(SyncError::EventMissing { id: *id })
    }
}

/// Decodes and checks a frame's events: canonical, valid, and of the session's groups (spec
/// §8.2 step 4, §8.3 step 3).
pub(super) fn verify_events(
    groups: &Groups,
    events: &[Vec<u8>],
) -> Result<Vec<VerifiedEvent>, SyncError> {
    events
        .iter()
        .enumerate()
        .map(|(index, bytes)| {
            let event = VerifiedEvent::decode(bytes)
                .map_err(|source| SyncError::InvalidEvent { index, source })?;
            if groups.index_of(&event.event().group).is_none() {
                return Err(SyncError::GroupForbidden {
                    id: event.id(),
                    group: event.event().group.clone(),
                });
            }
            Ok(event)
        })
        .collect()
}
