//! The reconciliation walk, as two sans-IO state machines: the [`Initiator`], which keeps the
//! session's state, and the responder ([`accept`] then [`respond`]), which keeps none between
//! rounds.
//!
//! The initiator opens with the fingerprint of all its group roots. Each side answers every
//! item about a range of groups or a prefix of a group with what it holds there: finer
//! fingerprints (`Range`, `Split`), the short ids of a set of at most 64 events (`Ids`), or a
//! request for everything (`Need`). Fingerprints that match end the walk there; prefixes where
//! one side has nothing, and the differences between two small sets, become events. Each frame
//! descends one level, so a round trip descends two, and nothing differs costs one round trip.
//!
//! The host owns all I/O: it encodes and sends frames, and inserts the events that arrive into
//! its store before it asks the state machine for the next frame.

use std::cell::{Cell, RefCell};
use std::collections::{HashSet, VecDeque};

use crate::event::{EventError, EventId, VerifiedEvent};
use crate::limits::{
    EVENTS_PER_FRAME_MAX, FRAME_BYTES_BUDGET, FRAME_BYTES_MAX, ITEMS_PER_FRAME_MAX,
    RESPONDER_LOOKUPS_MAX, ROUNDS_PER_SESSION_MAX, SHORT_IDS_PER_ITEM_MAX,
};
use crate::store::ReadStore;
use crate::tree::{children_bitmap, leaf_digest, view, Digest, Key, Path, View, RADIX};
use crate::wire::{
    decode_frame, fingerprint, item_len, range_children, range_digest, short_id, ErrorBody,
    ErrorCode, Fingerprint, Frame, Groups, Item, Request, Response, Salt, ShortId, WireError,
};

/// How many keys a `Want` looks through under its prefix. An honest `Want` follows an `Ids` of
/// at most [`SHORT_IDS_PER_ITEM_MAX`] keys, plus what arrived since; more than this is a peer
/// wasting our time.
pub const WANT_SCAN_KEYS_MAX: usize = 4 * SHORT_IDS_PER_ITEM_MAX;

/// How many keys a push reads from the store at a time.
const PUSH_CHUNK_KEYS: usize = 256;

/// Settings both roles share.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// The size a sender aims for per frame. Items stop being added past it, and events stop
    /// being added past it once the frame holds at least one; the rest goes in later frames.
    pub frame_bytes_budget: usize,
}

impl Config {
    /// The budget in force: at most a quarter of [`FRAME_BYTES_MAX`], so that what one item may
    /// add past the budget (up to [`SHORT_IDS_PER_ITEM_MAX`] wanted events) still fits a frame.
    pub fn budget(&self) -> usize {
        self.frame_bytes_budget.min(FRAME_BYTES_MAX / 4)
    }
}

/// Streaming pushes stop this far below [`EVENTS_PER_FRAME_MAX`], leaving room for the events one
/// `Ids` or `Want` item adds.
const EVENTS_STREAMED_MAX: usize = EVENTS_PER_FRAME_MAX - SHORT_IDS_PER_ITEM_MAX;

/// A responder stops consuming items when fewer than this many item slots remain: one item
/// yields at most 16 items plus one `More` per pushed prefix (at most 15 per lcp nibble and 16
/// children).
const ITEMS_PER_ITEM_MAX: usize = 16 + 15 * 88 + 16;

impl Default for Config {
    fn default() -> Self {
        Config {
            frame_bytes_budget: FRAME_BYTES_BUDGET,
        }
    }
}

/// Why a session failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SyncError {
    /// The frame broke an encoding rule or a limit.
    #[error(transparent)]
    Wire(#[from] WireError),
    /// An event in the frame is invalid.
    #[error("event {index} of the frame is invalid: {source}")]
    InvalidEvent {
        /// Its position in the frame.
        index: usize,
        /// What is wrong with it.
        source: EventError,
    },
    /// An event belongs to a group outside the session.
    #[error("event {id} belongs to group `{group}`, which is not in this session; sync only the groups you were given")]
    GroupForbidden {
        /// The event.
        id: EventId,
        /// Its group.
        group: String,
    },
    /// An item names a group index past the session's list.
    #[error("an item names group {index}, but the session has {len} groups")]
    GroupIndex {
        /// The index in the item.
        index: u32,
        /// How many groups the session has.
        len: usize,
    },
    /// The two sides index different group lists.
    #[error("the peer syncs a different list of groups; both sides must use the same groups (check the token's groups)")]
    GroupsMismatch,
    /// A frame or item came that this role does not expect.
    #[error("unexpected {0}")]
    Unexpected(&'static str),
    /// The peer sent an error frame.
    #[error("the peer ended the session with {} ({}): {message}", code.name(), code.number())]
    Peer {
        /// Its code.
        code: ErrorCode,
        /// Its message.
        message: String,
    },
    /// The walk did not end within [`ROUNDS_PER_SESSION_MAX`] requests.
    #[error("the session did not end after {rounds_max} requests; the responder keeps the walk going, try another server")]
    TooManyRounds {
        /// The limit.
        rounds_max: u32,
    },
    /// The local store failed.
    #[error("store: {0}")]
    Store(Box<dyn std::error::Error + Send + Sync>),
}

impl SyncError {
    /// The code to tell the peer.
    pub fn code(&self) -> ErrorCode {
        match self {
            SyncError::Wire(error) => error.code(),
            SyncError::InvalidEvent { .. } => ErrorCode::InvalidEvent,
            SyncError::GroupForbidden { .. } => ErrorCode::GroupForbidden,
            SyncError::GroupIndex { .. } => ErrorCode::MalformedFrame,
            SyncError::GroupsMismatch => ErrorCode::GroupsMismatch,
            SyncError::Unexpected(_) => ErrorCode::UnexpectedFrame,
            SyncError::Peer { code, .. } => *code,
            SyncError::TooManyRounds { .. } => ErrorCode::LimitExceeded,
            SyncError::Store(_) => ErrorCode::Internal,
        }
    }
}

fn store_error<E: std::error::Error + Send + Sync + 'static>(error: E) -> SyncError {
    SyncError::Store(Box::new(error))
}

/// Which role is handling an item: only the initiator may be told `More`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Initiator,
    Responder,
}

/// Events one side owes the other.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Push {
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
struct Output {
    items: Vec<Item>,
    pushes: Vec<Push>,
}

/// One side's view of the session, for handling items.
struct Walk<'a, S: ReadStore + ?Sized> {
    store: &'a S,
    groups: &'a Groups,
    salt: Salt,
    /// Store lookups so far: what a responder's work budget counts.
    lookups: Cell<usize>,
    /// Group roots looked up so far, by group index: `Root` and `Range` items reuse them.
    roots: RefCell<Vec<Option<Digest>>>,
}

impl<'a, S: ReadStore + ?Sized> Walk<'a, S> {
    fn new(store: &'a S, groups: &'a Groups, salt: Salt) -> Self {
        Walk {
            store,
            groups,
            salt,
            lookups: Cell::new(0),
            roots: RefCell::new(vec![None; groups.len()]),
        }
    }

    fn group_name(&self, index: u32) -> Result<&str, SyncError> {
        self.groups.name(index).ok_or(SyncError::GroupIndex {
            index,
            len: self.groups.len(),
        })
    }

    fn view(&self, group: u32, prefix: &Path) -> Result<View, SyncError> {
        self.lookups.set(self.lookups.get() + 1);
        view(self.store, self.group_name(group)?, prefix).map_err(store_error)
    }

    /// The roots of groups `[start, end)`. Hashing them into a range digest costs a lookup per
    /// root too, cached or not, so the work budget sees it.
    fn roots(&self, start: u32, end: u32) -> Result<Vec<Digest>, SyncError> {
        self.lookups
            .set(self.lookups.get() + (end - start) as usize);
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

    /// The fingerprint the initiator opens with.
    fn root_item(&self) -> Result<Item, SyncError> {
        let roots = self.roots(0, self.groups.len() as u32)?;
        Ok(Item::Root {
            fingerprint: self.fingerprint(&range_digest(&roots)),
        })
    }

    /// A `Range` item for `[start, end)`, or the group's own item for a range of one.
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

    /// What this side holds under `prefix`, as an item: `Need` for nothing, `Ids` for at most
    /// [`SHORT_IDS_PER_ITEM_MAX`] events, `Split` for more.
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

    /// Handles one item from the peer.
    fn handle(&self, item: &Item, role: Role, out: &mut Output) -> Result<(), SyncError> {
        match item {
            Item::Root { fingerprint } => {
                let groups_len = self.groups.len() as u32;
                let roots = self.roots(0, groups_len)?;
                if self.fingerprint(&range_digest(&roots)) != *fingerprint && groups_len > 0 {
                    out.items.push(self.range_item(0, groups_len)?);
                }
            }
            Item::Range {
                start,
                end,
                fingerprints,
            } => {
                if *end as usize > self.groups.len() {
                    return Err(SyncError::GroupIndex {
                        index: end - 1,
                        len: self.groups.len(),
                    });
                }
                let roots = self.roots(*start, *end)?;
                for ((low, high), theirs) in
                    range_children(*start, *end).into_iter().zip(fingerprints)
                {
                    let slice = &roots[(low - start) as usize..(high - start) as usize];
                    if self.fingerprint(&range_digest(slice)) != *theirs {
                        out.items.push(self.range_item(low, high)?);
                    }
                }
            }
            Item::Split {
                group,
                prefix_len,
                lcp,
                children,
                fingerprints,
            } => {
                let prefix = lcp.truncated(usize::from(*prefix_len));
                let ours = self.view(*group, &prefix)?;
                // Our children's digests: read off our own branch when it sits at the peer's lcp
                // (the common case, one lookup), else one view per child.
                let known = match ours {
                    View::Branch {
                        lcp: ref our_lcp,
                        children,
                        ..
                    } if our_lcp == lcp => Some(children),
                    _ => None,
                };
                if known.is_none() {
                    self.off_lcp_push(*group, *prefix_len, lcp, out)?;
                }
                let mut theirs = fingerprints.iter();
                for nibble in 0..RADIX as u8 {
                    let child = lcp.child(nibble);
                    let (digest, view) = match &known {
                        Some(children) => (children[usize::from(nibble)], None),
                        None => {
                            let view = self.view(*group, &child)?;
                            let digest = (!view.is_empty()).then(|| view.digest());
                            (digest, Some(view))
                        }
                    };
                    if children & (1 << nibble) == 0 {
                        if digest.is_some() {
                            out.pushes.push(Push::Prefix {
                                group: *group,
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
                            Some(view) => self.describe_view(*group, &child, view)?,
                            None => self.describe(*group, &child)?,
                        });
                    }
                }
            }
            Item::Ids { group, prefix, ids } => {
                let view = self.view(*group, prefix)?;
                if view.is_empty() {
                    if !ids.is_empty() {
                        out.items.push(Item::Need {
                            group: *group,
                            prefix: prefix.clone(),
                            after: None,
                        });
                    }
                    return Ok(());
                }
                if ids.is_empty() {
                    out.pushes.push(Push::Prefix {
                        group: *group,
                        prefix: prefix.clone(),
                        after: None,
                    });
                    return Ok(());
                }
                let keys = match self.held(*group, prefix, view)? {
                    Held::Listed(keys) => keys,
                    // We hold more than we would list here: descend instead of listing.
                    held => {
                        out.items.push(self.held_item(*group, prefix, held));
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
                        group: *group,
                        prefix: prefix.clone(),
                        ids: wanted,
                    });
                }
            }
            Item::Want { group, prefix, ids } => {
                let name = self.group_name(*group)?;
                if ids.is_empty() {
                    return Ok(());
                }
                let keys = self
                    .store
                    .keys(name, prefix, None, WANT_SCAN_KEYS_MAX)
                    .map_err(store_error)?;
                self.lookups.set(self.lookups.get() + keys.len());
                let wanted: HashSet<&ShortId> = ids.iter().collect();
                for key in keys {
                    let id = key.id();
                    if wanted.contains(&short_id(&self.salt, &id)) {
                        out.pushes.push(Push::Event(id));
                    }
                }
            }
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
            }
        }
        Ok(())
    }

    fn event_bytes(&self, id: &EventId) -> Result<Vec<u8>, SyncError> {
        self.store
            .event(id)
            .map_err(store_error)?
            .ok_or(SyncError::Unexpected(
                "a key in the index whose event is missing from the store",
            ))
    }
}

/// The size an event adds to a frame: its bytes and their varint length.
fn event_frame_len(bytes: &[u8]) -> usize {
    bytes.len() + varint_len(bytes.len())
}

fn varint_len(value: usize) -> usize {
    let bits = usize::BITS - value.leading_zeros();
    (bits.max(1) as usize).div_ceil(7)
}

/// Decodes and checks a frame's events: canonical, valid, and of the session's groups.
fn verify_events(groups: &Groups, events: &[Vec<u8>]) -> Result<Vec<VerifiedEvent>, SyncError> {
    events
        .iter()
        .enumerate()
        .map(|(index, bytes)| {
            let event = VerifiedEvent::decode(bytes)
                .map_err(|source| SyncError::InvalidEvent { index, source })?;
            if groups.index_of(&event.event.group).is_none() {
                return Err(SyncError::GroupForbidden {
                    id: event.id,
                    group: event.event.group.clone(),
                });
            }
            Ok(event)
        })
        .collect()
}

/// The side that starts a session and keeps its state.
///
/// Drive it with [`Initiator::poll_request`] and [`Initiator::handle_response`] until
/// `poll_request` returns `None`.
#[derive(Debug)]
pub struct Initiator {
    groups: Groups,
    salt: Salt,
    config: Config,
    started: bool,
    /// Items to send, in order; unconsumed items of the last request go back to its front.
    queue: VecDeque<Item>,
    /// Items of the last response, handled at the next poll, after the host has inserted the
    /// response's events.
    inbox: Vec<Item>,
    /// Events owed to the responder.
    pushes: VecDeque<Push>,
    /// Items of the request whose response has not come yet.
    in_flight: Option<Vec<Item>>,
    rounds: u32,
}

impl Initiator {
    /// A session over `groups`, with a salt the host drew at random.
    pub fn new(groups: Groups, salt: Salt, config: Config) -> Initiator {
        Initiator {
            groups,
            salt,
            config,
            started: false,
            queue: VecDeque::new(),
            inbox: Vec::new(),
            pushes: VecDeque::new(),
            in_flight: None,
            rounds: 0,
        }
    }

    /// How many requests have been sent.
    pub fn rounds(&self) -> u32 {
        self.rounds
    }

    /// The next request, or `None` when the session is over: both sides then hold the union.
    ///
    /// Call it first, then after each [`Initiator::handle_response`] once the events it returned
    /// are in `store`.
    pub fn poll_request<S: ReadStore + ?Sized>(
        &mut self,
        store: &S,
    ) -> Result<Option<Request>, SyncError> {
        if self.in_flight.is_some() {
            return Err(SyncError::Unexpected(
                "poll_request before the last response was handled",
            ));
        }
        let walk = Walk::new(store, &self.groups, self.salt);
        if !self.started {
            self.started = true;
            if !self.groups.is_empty() {
                self.queue.push_back(walk.root_item()?);
            }
        }
        for item in std::mem::take(&mut self.inbox) {
            let mut out = Output::default();
            walk.handle(&item, Role::Initiator, &mut out)?;
            self.queue.extend(out.items);
            self.pushes.extend(out.pushes);
        }

        let budget = self.config.budget();
        let mut bytes = 0usize;
        let mut items = Vec::new();
        while let Some(item) = self.queue.front() {
            let len = item_len(item);
            if !items.is_empty() && (bytes + len > budget || items.len() == ITEMS_PER_FRAME_MAX) {
                break;
            }
            bytes += len;
            items.push(self.queue.pop_front().expect("front exists"));
        }
        let mut events = Vec::new();
        while let Some(push) = self.pushes.front_mut() {
            let frame_full = bytes >= budget || events.len() == EVENTS_PER_FRAME_MAX;
            if frame_full && !(items.is_empty() && events.is_empty()) {
                break;
            }
            match push {
                Push::Event(id) => {
                    let event = walk.event_bytes(id)?;
                    bytes += event_frame_len(&event);
                    events.push(event);
                    self.pushes.pop_front();
                }
                Push::Prefix {
                    group,
                    prefix,
                    after,
                } => {
                    let name = walk.group_name(*group)?;
                    let keys = store
                        .keys(name, prefix, after.as_ref(), PUSH_CHUNK_KEYS)
                        .map_err(store_error)?;
                    let exhausted = keys.len() < PUSH_CHUNK_KEYS;
                    let mut stopped = false;
                    for key in &keys {
                        let event = walk.event_bytes(&key.id())?;
                        let len = event_frame_len(&event);
                        let frame_full =
                            bytes + len > budget || events.len() == EVENTS_PER_FRAME_MAX;
                        if frame_full && !(items.is_empty() && events.is_empty()) {
                            stopped = true;
                            break;
                        }
                        bytes += len;
                        events.push(event);
                        *after = Some(*key);
                    }
                    if exhausted && !stopped {
                        self.pushes.pop_front();
                    }
                    if stopped {
                        break;
                    }
                }
            }
        }
        if items.is_empty() && events.is_empty() {
            return Ok(None);
        }
        if self.rounds == ROUNDS_PER_SESSION_MAX {
            return Err(SyncError::TooManyRounds {
                rounds_max: ROUNDS_PER_SESSION_MAX,
            });
        }
        self.rounds += 1;
        self.in_flight = Some(items.clone());
        Ok(Some(Request {
            salt: self.salt,
            groups: fingerprint(&self.salt, &self.groups.digest()),
            items,
            events,
        }))
    }

    /// Takes the response to the last request. Returns its events, checked; the host inserts
    /// them into its store before the next [`Initiator::poll_request`].
    pub fn handle_response(&mut self, response: Response) -> Result<Vec<VerifiedEvent>, SyncError> {
        let sent = self.in_flight.take().ok_or(SyncError::Unexpected(
            "a response with no request in flight",
        ))?;
        let consumed = response.consumed as usize;
        if consumed > sent.len() {
            return Err(SyncError::Unexpected(
                "a response that consumed more items than were sent",
            ));
        }
        if consumed == 0 && !sent.is_empty() {
            return Err(SyncError::Unexpected(
                "a response that consumed none of the request's items",
            ));
        }
        for item in sent.into_iter().skip(consumed).rev() {
            self.queue.push_front(item);
        }
        let events = verify_events(&self.groups, &response.events)?;
        self.inbox = response.items;
        Ok(events)
    }
}

/// Answers a request from what `store` holds, keeping no state: the response depends only on
/// the store and the request.
fn respond<S: ReadStore + ?Sized>(
    store: &S,
    groups: &Groups,
    request: &Request,
    config: Config,
) -> Result<Response, SyncError> {
    if request.groups != fingerprint(&request.salt, &groups.digest()) {
        return Err(SyncError::GroupsMismatch);
    }
    let walk = Walk::new(store, groups, request.salt);
    let budget = config.budget();
    let mut response = Response {
        consumed: 0,
        items: Vec::new(),
        events: Vec::new(),
    };
    let mut bytes = 0usize;
    for item in &request.items {
        // Stop consuming once the frame, its counts or the work budget are spent; the initiator
        // sends the rest again. The first item is always handled, so every round progresses.
        let spent = bytes >= budget
            || walk.lookups.get() >= RESPONDER_LOOKUPS_MAX
            || response.items.len() + ITEMS_PER_ITEM_MAX > ITEMS_PER_FRAME_MAX
            || response.events.len() >= EVENTS_STREAMED_MAX;
        if response.consumed > 0 && spent {
            break;
        }
        let mut out = Output::default();
        walk.handle(item, Role::Responder, &mut out)?;
        for item in out.items {
            bytes += item_len(&item);
            response.items.push(item);
        }
        for push in out.pushes {
            match push {
                Push::Event(id) => {
                    let event = walk.event_bytes(&id)?;
                    bytes += event_frame_len(&event);
                    response.events.push(event);
                }
                Push::Prefix {
                    group,
                    prefix,
                    mut after,
                } => {
                    let name = walk.group_name(group)?;
                    'prefix: loop {
                        let keys = store
                            .keys(name, &prefix, after.as_ref(), PUSH_CHUNK_KEYS)
                            .map_err(store_error)?;
                        for key in &keys {
                            let event = walk.event_bytes(&key.id())?;
                            let len = event_frame_len(&event);
                            let frame_full = bytes + len > budget
                                || response.events.len() >= EVENTS_STREAMED_MAX;
                            if frame_full && !response.events.is_empty() {
                                let more = Item::More {
                                    group,
                                    prefix: prefix.clone(),
                                    after,
                                };
                                bytes += item_len(&more);
                                response.items.push(more);
                                break 'prefix;
                            }
                            bytes += len;
                            response.events.push(event);
                            after = Some(*key);
                        }
                        if keys.len() < PUSH_CHUNK_KEYS {
                            break;
                        }
                    }
                }
            }
        }
        response.consumed += 1;
    }
    Ok(response)
}

/// What one session between two local stores cost, frame by frame.
#[derive(Clone, Debug, Default)]
pub struct Transcript {
    /// Every frame as encoded, requests and responses alternating.
    pub frames: Vec<Vec<u8>>,
    /// Requests sent: the round trips.
    pub rounds: u32,
    /// Bytes of all requests.
    pub bytes_to_responder: usize,
    /// Bytes of all responses.
    pub bytes_to_initiator: usize,
    /// Events the initiator sent.
    pub events_to_responder: usize,
    /// Events the responder sent.
    pub events_to_initiator: usize,
    /// Bytes of the events the initiator sent, as encoded events.
    pub event_bytes_to_responder: usize,
    /// Bytes of the events the responder sent, as encoded events.
    pub event_bytes_to_initiator: usize,
}

/// Runs a whole session between two stores in this process, through encoded frames, and
/// applies what each side receives (tree, documents, inboxes). For tests, simulations,
/// benchmarks and the vectors.
pub fn reconcile<A: crate::store::Store + ?Sized, B: crate::store::Store + ?Sized>(
    initiator_store: &mut A,
    responder_store: &mut B,
    groups: &Groups,
    salt: Salt,
    config: Config,
) -> Result<Transcript, SyncError> {
    use crate::wire::{decode_frame, encode_frame, Frame};

    let mut transcript = Transcript::default();
    let mut initiator = Initiator::new(groups.clone(), salt, config);
    let responder = Responder::new(config, Policy::default());
    while let Some(request) = initiator.poll_request(&*initiator_store)? {
        let bytes = encode_frame(&Frame::Request(request));
        transcript.bytes_to_responder += bytes.len();
        transcript.frames.push(bytes);
        let admitted =
            responder.admit_trusted(&transcript.frames[transcript.frames.len() - 1], groups)?;
        let events = admitted.events();
        transcript.events_to_responder += events.len();
        transcript.event_bytes_to_responder +=
            events.iter().map(|event| event.bytes.len()).sum::<usize>();
        crate::replica::apply(responder_store, events).map_err(store_error)?;
        let response = responder.respond(&*responder_store, &admitted)?;

        let bytes = encode_frame(&Frame::Response(response));
        transcript.bytes_to_initiator += bytes.len();
        let Frame::Response(response) = decode_frame(&bytes)? else {
            return Err(SyncError::Unexpected("a frame that is not a response"));
        };
        transcript.frames.push(bytes);
        let events = initiator.handle_response(response)?;
        transcript.events_to_initiator += events.len();
        transcript.event_bytes_to_initiator +=
            events.iter().map(|event| event.bytes.len()).sum::<usize>();
        crate::replica::apply(initiator_store, &events).map_err(store_error)?;
    }
    transcript.rounds = initiator.rounds();
    Ok(transcript)
}

/// How far ahead of the responder's clock an event's timestamp may be by default: 5 minutes,
/// the reference server's `max_skew_ms`.
pub const MAX_SKEW_MS: u64 = 5 * 60 * 1000;

/// What a responder's host accepts beyond the walk's own rules (spec chapter 10, codes 10 and
/// 11).
#[derive(Clone, Copy, Debug)]
pub struct Policy {
    /// How far ahead of the host's clock an event's timestamp may be.
    pub max_skew_ms: u64,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            max_skew_ms: MAX_SKEW_MS,
        }
    }
}

/// Why a responder refused a request before storing anything (spec §15.4 steps 3 to 8). Each
/// variant is one refusal cause; [`AdmitError::code`] gives the code the peer is told, and the
/// message is what the peer reads.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AdmitError {
    /// The frame does not decode, or breaks a limit (§7.4).
    #[error(transparent)]
    Wire(#[from] WireError),
    /// The frame is a `Response`.
    #[error("the frame is a Response, but a responder takes only Request frames; send a Request")]
    ResponseFrame,
    /// The frame is an `Error`.
    #[error("the frame is an Error, but a responder takes only Request frames; send a Request")]
    ErrorFrame,
    /// The request indexes a different list of groups.
    #[error("the peer syncs a different list of groups; both sides must use the same groups (check the token's groups)")]
    GroupsMismatch,
    /// An event of the request is invalid.
    #[error("event {index} of the frame is invalid: {source}")]
    InvalidEvent {
        /// Its position in the frame.
        index: usize,
        /// What is wrong with it.
        source: EventError,
    },
    /// An event belongs to a group outside the session.
    #[error("event {id} belongs to group `{group}`, which is not in this session; sync only the groups you were given")]
    GroupForbidden {
        /// The event.
        id: EventId,
        /// Its group.
        group: String,
    },
    /// A `Range` item ends past the session's groups.
    #[error("item {index} is a range ending at group {end}, but the session has {len} groups")]
    RangeEnd {
        /// The item's position in the request.
        index: usize,
        /// The range's end.
        end: u32,
        /// How many groups the session has.
        len: usize,
    },
    /// An item names a group past the session's groups.
    #[error("item {index} names group {group}, but the session has {len} groups")]
    GroupIndex {
        /// The item's position in the request.
        index: usize,
        /// The group index it names.
        group: u32,
        /// How many groups the session has.
        len: usize,
    },
    /// The request holds a `More` item.
    #[error("item {index} is a More item, which only a responder sends")]
    MoreItem {
        /// The item's position in the request.
        index: usize,
    },
    /// An event names another user than the authenticated one as its creator.
    #[error("event {index} of the request names `{creator}` as its creator, but the token is for `{user}`; write events only as the user your token names")]
    ForgedCreator {
        /// The event's position in the request.
        index: usize,
        /// The creator it names.
        creator: String,
        /// The authenticated user.
        user: String,
    },
    /// An event is timestamped too far ahead of the responder's clock.
    #[error("event {index} of the request is timestamped {wall_ms} ms, more than {max_skew_ms} ms ahead of the server's clock ({now_ms} ms); check the writer's clock and send the event again later")]
    TimestampInFuture {
        /// The event's position in the request.
        index: usize,
        /// Its timestamp's wall clock.
        wall_ms: u64,
        /// How far ahead the policy allows.
        max_skew_ms: u64,
        /// The responder's clock.
        now_ms: u64,
    },
}

impl AdmitError {
    /// The code to tell the peer.
    pub fn code(&self) -> ErrorCode {
        match self {
            AdmitError::Wire(error) => error.code(),
            AdmitError::ResponseFrame | AdmitError::ErrorFrame | AdmitError::MoreItem { .. } => {
                ErrorCode::UnexpectedFrame
            }
            AdmitError::GroupsMismatch => ErrorCode::GroupsMismatch,
            AdmitError::InvalidEvent { .. } => ErrorCode::InvalidEvent,
            AdmitError::GroupForbidden { .. } => ErrorCode::GroupForbidden,
            AdmitError::RangeEnd { .. } | AdmitError::GroupIndex { .. } => {
                ErrorCode::MalformedFrame
            }
            AdmitError::ForgedCreator { .. } => ErrorCode::ForgedCreator,
            AdmitError::TimestampInFuture { .. } => ErrorCode::TimestampInFuture,
        }
    }
}

impl From<&AdmitError> for ErrorBody {
    fn from(error: &AdmitError) -> ErrorBody {
        ErrorBody::new(error.code(), &error.to_string())
    }
}

/// A request that passed every check of [`Responder::admit`]. Its events may be stored; the
/// host makes them durable, then answers with [`Responder::respond`].
#[derive(Clone, Debug)]
pub struct Admitted {
    request: Request,
    events: Vec<VerifiedEvent>,
    groups: Groups,
}

impl Admitted {
    /// The request as decoded.
    pub fn request(&self) -> &Request {
        &self.request
    }

    /// The session's groups the request was admitted for.
    pub fn groups(&self) -> &Groups {
        &self.groups
    }

    /// The request's events, verified, in frame order.
    pub fn events(&self) -> &[VerifiedEvent] {
        &self.events
    }

    /// Moves the events out, for a host that hands them to its writer; the request can still
    /// be answered with [`Responder::respond`], which reads only its items.
    pub fn take_events(&mut self) -> Vec<VerifiedEvent> {
        std::mem::take(&mut self.events)
    }

    /// The request's events, verified, in frame order.
    pub fn into_events(self) -> Vec<VerifiedEvent> {
        self.events
    }
}

/// The stateless responder of the walk (spec §8.3), with the host's checks of §15.4: every
/// host (the server, the simulation, the benchmarks, the tests' servers) drives it the same
/// way. [`Responder::admit`] a request, store its events and make them durable, then
/// [`Responder::respond`].
#[derive(Clone, Copy, Debug, Default)]
pub struct Responder {
    config: Config,
    policy: Policy,
}

impl Responder {
    /// A responder packing frames by `config` and admitting events by `policy`.
    pub fn new(config: Config, policy: Policy) -> Responder {
        Responder { config, policy }
    }

    /// Its frame settings.
    pub fn config(&self) -> Config {
        self.config
    }

    /// Its host policy.
    pub fn policy(&self) -> Policy {
        self.policy
    }

    /// Everything a responder checks before it stores anything, in the order of spec §15.4:
    /// decodes `frame` (§7.4), refuses a frame that is not a `Request`, checks the groups
    /// digest, each event (valid, canonical, of a session group), each item (a group below the
    /// session's count, no `More`), then each event's creator against the authenticated `user`
    /// and its timestamp against `now_ms` and the policy's skew. The first failure decides the
    /// error. A refused request must store nothing.
    pub fn admit(
        &self,
        frame: &[u8],
        groups: &Groups,
        user: &str,
        now_ms: u64,
    ) -> Result<Admitted, AdmitError> {
        let request = match decode_frame(frame)? {
            Frame::Request(request) => request,
            Frame::Response(_) => return Err(AdmitError::ResponseFrame),
            Frame::Error(_) => return Err(AdmitError::ErrorFrame),
        };
        let admitted = admit_request(request, groups).map_err(|error| match error {
            SyncError::GroupsMismatch => AdmitError::GroupsMismatch,
            SyncError::InvalidEvent { index, source } => AdmitError::InvalidEvent { index, source },
            SyncError::GroupForbidden { id, group } => AdmitError::GroupForbidden { id, group },
            other => unreachable!("admit_request refuses only groups and events, not {other:?}"),
        })?;
        admit_items(groups, &admitted.request.items)?;
        admit_policy(user, now_ms, self.policy, &admitted.events)?;
        Ok(admitted)
    }

    /// The responder of spec §8.3 alone, for a peer it trusts to relay events of any user and
    /// any time: decodes `frame`, refuses a frame that is not a `Request`, checks the groups
    /// digest and each event. It makes none of the host's checks of §15.4 (items before the
    /// write, creator, clock): [`Responder::respond`] finds a bad item while walking, as §8.3
    /// step 5 says. For sessions between two stores of one process: [`reconcile`], the
    /// benchmarks, the tests. A host that serves users calls [`Responder::admit`].
    pub fn admit_trusted(&self, frame: &[u8], groups: &Groups) -> Result<Admitted, SyncError> {
        match decode_frame(frame)? {
            Frame::Request(request) => admit_request(request, groups),
            Frame::Response(_) | Frame::Error(_) => Err(SyncError::Unexpected(
                "a frame other than a request sent to the responder",
            )),
        }
    }

    /// Answers an admitted request from what `store` holds, keeping no state: the response
    /// depends only on the store and the request. The host calls it after it made
    /// [`Admitted::events`] durable, so that the response acknowledges them.
    pub fn respond<S: ReadStore + ?Sized>(
        &self,
        store: &S,
        admitted: &Admitted,
    ) -> Result<Response, SyncError> {
        respond(store, &admitted.groups, &admitted.request, self.config)
    }
}

/// Spec §8.3 steps 2 and 3: the groups digest, then each event.
fn admit_request(request: Request, groups: &Groups) -> Result<Admitted, SyncError> {
    if request.groups != fingerprint(&request.salt, &groups.digest()) {
        return Err(SyncError::GroupsMismatch);
    }
    let events = verify_events(groups, &request.events)?;
    Ok(Admitted {
        request,
        events,
        groups: groups.clone(),
    })
}

/// Spec §15.4 step 7: what the walk would only find while handling the items, checked before
/// the events are written, so that a request refused for its items has written nothing.
fn admit_items(groups: &Groups, items: &[Item]) -> Result<(), AdmitError> {
    let len = groups.len();
    for (index, item) in items.iter().enumerate() {
        let group = match item {
            Item::Root { .. } => None,
            Item::Range { end, .. } if *end as usize > len => {
                return Err(AdmitError::RangeEnd {
                    index,
                    end: *end,
                    len,
                })
            }
            Item::Range { .. } => None,
            Item::Split { group, .. }
            | Item::Ids { group, .. }
            | Item::Want { group, .. }
            | Item::Need { group, .. } => Some(*group),
            Item::More { .. } => return Err(AdmitError::MoreItem { index }),
        };
        if let Some(group) = group.filter(|&group| group as usize >= len) {
            return Err(AdmitError::GroupIndex { index, group, len });
        }
    }
    Ok(())
}

/// Spec §15.4 step 8: each event's creator is `user`, and its timestamp is at most
/// `policy.max_skew_ms` ahead of `now_ms`. The first event that fails decides the error.
fn admit_policy(
    user: &str,
    now_ms: u64,
    policy: Policy,
    events: &[VerifiedEvent],
) -> Result<(), AdmitError> {
    for (index, event) in events.iter().enumerate() {
        if event.event.creator != user {
            return Err(AdmitError::ForgedCreator {
                index,
                creator: event.event.creator.clone(),
                user: user.to_owned(),
            });
        }
        let wall_ms = event.event.timestamp.wall_ms;
        if wall_ms > now_ms.saturating_add(policy.max_skew_ms) {
            return Err(AdmitError::TimestampInFuture {
                index,
                wall_ms,
                max_skew_ms: policy.max_skew_ms,
                now_ms,
            });
        }
    }
    Ok(())
}
