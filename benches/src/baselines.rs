//! The baselines Tideline is compared with, run on the same logs, and the lower bound.
//!
//! Every baseline moves the missing events the same way Tideline does: each event as its
//! canonical bytes behind a varint length, counted in the direction it travels. What differs is
//! how each finds out which events are missing, and that is where the accounting of each
//! function below says what it counts.

use std::collections::{HashMap, HashSet};

use anyhow::{ensure, Context};
use negentropy::{Id, Negentropy, NegentropyStorageVector};
use tideline_protocol::event::{EventId, VerifiedEvent};
use tideline_protocol::tree::Key;

use crate::measure::{varint_len, HeapMeter, Measure, Protocol, Side, StepMeter};
use crate::workload::{Generated, Pattern};

/// Bytes of an event id.
pub const ID_BYTES: u64 = 32;

/// Bytes of a timestamp in the naive exchange and of a cursor.
pub const TIMESTAMP_BYTES: u64 = 8;

/// Bytes of a list's element count.
pub const COUNT_BYTES: u64 = 4;

/// negentropy's frame size limit: 0, no limit, the default of the reference implementations
/// (C++ `Negentropy(storage, frameSizeLimit = 0)`, JavaScript likewise); the Rust crate has no
/// default and takes the number.
pub const NEGENTROPY_FRAME_SIZE_LIMIT: u64 = 0;

/// Both sides' sets as sorted keys, and the bytes of every event that is not shared.
pub struct Sides<'a> {
    /// The initiator's keys, ascending.
    pub initiator: Vec<Key>,
    /// The responder's keys, ascending.
    pub responder: Vec<Key>,
    /// The events only one side holds, by id.
    pub unshared: HashMap<EventId, &'a VerifiedEvent>,
    /// The encoded size of a shared event, used only when a baseline resends one: the shared
    /// history is generated as keys, and every generated event has the same payload size, so
    /// their encodings differ by a few bytes of varints at most.
    pub shared_event_bytes: usize,
}

impl<'a> Sides<'a> {
    /// The two sets of `generated`. `shared_event_bytes` is the size to count for a shared event.
    pub fn new(generated: &'a Generated, shared_event_bytes: usize) -> Sides<'a> {
        let side = |only: &[VerifiedEvent]| {
            let mut keys: Vec<Key> = generated
                .common
                .iter()
                .map(|(_, key)| *key)
                .chain(only.iter().map(Key::of))
                .collect();
            keys.sort_unstable();
            keys
        };
        let unshared = generated
            .only_initiator
            .iter()
            .chain(&generated.only_responder)
            .map(|event| (event.id(), event))
            .collect();
        Sides {
            initiator: side(&generated.only_initiator),
            responder: side(&generated.only_responder),
            unshared,
            shared_event_bytes,
        }
    }

    /// The bytes an event takes in a message: its varint length and its bytes.
    fn event_frame_bytes(&self, id: &EventId) -> u64 {
        let len = self
            .unshared
            .get(id)
            .map_or(self.shared_event_bytes, |event| event.bytes().len());
        (varint_len(len) + len) as u64
    }
}

/// The lower bound: every missing event, plus 32 bytes of id per difference, each way with the
/// events it names, in one round trip.
pub fn lower_bound(generated: &Generated) -> Measure {
    let bytes = |events: &[VerifiedEvent]| -> u64 {
        events
            .iter()
            .map(|event| event.bytes().len() as u64 + ID_BYTES)
            .sum()
    };
    Measure {
        bytes_to_responder: bytes(&generated.only_initiator),
        bytes_to_initiator: bytes(&generated.only_responder),
        events_moved: generated.differences() as u64,
        rounds: 1,
        ..Measure::new(Protocol::LowerBound)
    }
}

/// Cassandra-style gossip of every (id, timestamp).
///
/// - SYN, initiator to responder: a 4-byte count, then 32-byte id and 8-byte timestamp of every
///   event the initiator holds.
/// - ACK, responder to initiator: a 4-byte count and the 32-byte ids of the events the responder
///   lacks, then a 4-byte count and the events the initiator lacks.
/// - ACK2, initiator to responder: a 4-byte count and the events the responder asked for.
///
/// Over a request/response transport ACK2 is a second request, so it counts as a second round
/// trip when it carries events; gossip over a message bus would call the whole thing 1.5.
///
/// The initiator's time is building the SYN; the responder's is parsing it, indexing its own
/// ids and finding what each side lacks. Gathering the events is counted in bytes, not run.
pub fn naive_run(sides: &Sides<'_>, heap: &dyn HeapMeter) -> anyhow::Result<Measure> {
    let mut measure = Measure::new(Protocol::Naive);
    let mut meter = StepMeter::new(heap);

    // SYN: encoded for real, so the time includes building and parsing it.
    let syn = meter.work(Side::Initiator, || {
        let mut syn = Vec::with_capacity(
            COUNT_BYTES as usize + sides.initiator.len() * (ID_BYTES + TIMESTAMP_BYTES) as usize,
        );
        syn.extend_from_slice(&(sides.initiator.len() as u32).to_be_bytes());
        for key in &sides.initiator {
            syn.extend_from_slice(&key.id().0);
            syn.extend_from_slice(&key.timestamp().wall_ms.to_be_bytes());
        }
        syn
    });
    measure.bytes_to_responder += syn.len() as u64;

    // The responder parses the SYN and compares it with its own set.
    let (wanted, pushed) = meter.work(Side::Responder, || {
        let theirs: HashSet<[u8; 32]> = syn[COUNT_BYTES as usize..]
            .chunks_exact((ID_BYTES + TIMESTAMP_BYTES) as usize)
            .map(|chunk| chunk[..32].try_into().expect("32 bytes"))
            .collect();
        drop(syn);
        let ours: HashSet<[u8; 32]> = sides.responder.iter().map(|key| key.id().0).collect();
        let wanted: Vec<[u8; 32]> = theirs
            .iter()
            .filter(|id| !ours.contains(*id))
            .copied()
            .collect();
        let pushed: Vec<EventId> = sides
            .responder
            .iter()
            .map(Key::id)
            .filter(|id| !theirs.contains(&id.0))
            .collect();
        (wanted, pushed)
    });
    measure.bytes_to_initiator += COUNT_BYTES + ID_BYTES * wanted.len() as u64 + COUNT_BYTES;
    measure.bytes_to_initiator += pushed
        .iter()
        .map(|id| sides.event_frame_bytes(id))
        .sum::<u64>();
    measure.rounds = 1;
    if !wanted.is_empty() {
        measure.bytes_to_responder += COUNT_BYTES
            + wanted
                .iter()
                .map(|id| sides.event_frame_bytes(&EventId(*id)))
                .sum::<u64>();
        measure.rounds = 2;
    }
    measure.events_moved = (wanted.len() + pushed.len()) as u64;
    meter.write_to(&mut measure);
    Ok(measure)
}

/// Pull by cursor: the server (responder) numbers its log in order, the client (initiator)
/// keeps the number of the last event it pulled and an outbox of the events it wrote since.
///
/// - Request: the 8-byte cursor, a 4-byte count and the outbox's events.
/// - Response: a 4-byte count, every event after the cursor, and the new 8-byte cursor.
///
/// One round trip. It applies only when the client's view of the server is a prefix of the
/// server's log and what the server lacks is exactly the client's own recent writes: the
/// `recent` and `week` patterns, a client coming back. The server's log order is taken to be
/// time order, so the cursor sits just before the first event the client lacks and every
/// event after it is sent, including shared ones that happen to come later (in `recent` the
/// shared events of the newest 1% are sent again). In `uniform` and `groups` the logs diverged
/// all through history, as between two peers or two servers, or a client restored from a
/// backup: no position in one log describes what the other lacks, so it is marked N/A.
///
/// What each side knows before the session (the client its cursor and its outbox, the server
/// its numbered log) is worked out from both sets before timing, as negentropy's storage is
/// built before timing: a real client keeps its cursor and outbox as it goes, a server its log
/// index. The initiator's time is listing its outbox's events for the request; the responder's
/// is reading its log after the cursor. Both take time in proportion to what they send, not
/// to n, and the heap figures hold only those lists.
pub fn cursor_run(
    pattern: Pattern,
    sides: &Sides<'_>,
    heap: &dyn HeapMeter,
) -> anyhow::Result<Measure> {
    if !matches!(pattern, Pattern::Recent | Pattern::Week) {
        return Ok(Measure::not_applicable(
            Protocol::Cursor,
            "differences all through history: no cursor describes them",
        ));
    }
    let client: HashSet<EventId> = sides.initiator.iter().map(Key::id).collect();
    // The cursor: how many of the server's first events the client holds.
    let cursor = sides
        .responder
        .iter()
        .position(|key| !client.contains(&key.id()))
        .unwrap_or(sides.responder.len());
    drop(client);
    let server: HashSet<EventId> = sides.responder.iter().map(Key::id).collect();
    let outbox_positions: Vec<usize> = sides
        .initiator
        .iter()
        .enumerate()
        .filter(|(_, key)| !server.contains(&key.id()))
        .map(|(position, _)| position)
        .collect();
    drop(server);

    let mut measure = Measure::new(Protocol::Cursor);
    let mut meter = StepMeter::new(heap);
    let outbox: Vec<EventId> = meter.work(Side::Initiator, || {
        outbox_positions
            .iter()
            .map(|position| sides.initiator[*position].id())
            .collect()
    });
    measure.bytes_to_responder = TIMESTAMP_BYTES
        + COUNT_BYTES
        + outbox
            .iter()
            .map(|id| sides.event_frame_bytes(id))
            .sum::<u64>();
    let pulled: Vec<EventId> = meter.work(Side::Responder, || {
        sides.responder[cursor..].iter().map(Key::id).collect()
    });
    measure.bytes_to_initiator = COUNT_BYTES
        + pulled
            .iter()
            .map(|id| sides.event_frame_bytes(id))
            .sum::<u64>()
        + TIMESTAMP_BYTES;
    measure.events_moved = (outbox.len() + pulled.len()) as u64;
    measure.rounds = 1;
    meter.write_to(&mut measure);
    Ok(measure)
}

/// What a negentropy run found, besides its measure: its own message bytes, to compare with
/// published figures that count only those.
pub struct NegentropyRun {
    /// The whole cost, events included.
    pub measure: Measure,
    /// Bytes of negentropy messages alone, both ways.
    pub message_bytes: u64,
    /// negentropy message round trips alone.
    pub message_rounds: u32,
}

/// Range-based set reconciliation with negentropy 0.5.3, then the events.
///
/// Items are (timestamp in seconds, 32-byte event id), as Nostr relays use it. Every message of
/// both sides is counted as the raw bytes the crate produces (NIP-77 would hex-encode them
/// inside JSON, doubling them; that is not counted). When the initiator has its `have` and
/// `need` lists, one more round trip moves the events: the request carries a 4-byte count and
/// the 32-byte ids it needs, and a 4-byte count and the events it has; the response a 4-byte
/// count and the needed events.
///
/// The initiator's time is `initiate` and `reconcile_with_ids`; the responder's is `reconcile`.
/// Each side's `Negentropy` is made in its first step.
pub fn negentropy_run(sides: &Sides<'_>, heap: &dyn HeapMeter) -> anyhow::Result<NegentropyRun> {
    use Side::{Initiator as I, Responder as R};

    let storage = |keys: &[Key]| -> anyhow::Result<NegentropyStorageVector> {
        let mut storage = NegentropyStorageVector::with_capacity(keys.len());
        for key in keys {
            storage.insert(
                key.timestamp().wall_ms / 1000,
                Id::from_byte_array(key.id().0),
            )?;
        }
        storage.seal()?;
        Ok(storage)
    };
    // Storage is built before timing: a relay keeps it, as Tideline keeps its tree.
    let initiator_storage = storage(&sides.initiator)?;
    let responder_storage = storage(&sides.responder)?;
    let mut measure = Measure::new(Protocol::Negentropy);
    let mut meter = StepMeter::new(heap);
    let mut have: Vec<Id> = Vec::new();
    let mut need: Vec<Id> = Vec::new();
    let (mut initiator, mut message) = meter.work(I, || -> anyhow::Result<_> {
        let mut initiator = Negentropy::borrowed(&initiator_storage, NEGENTROPY_FRAME_SIZE_LIMIT)?;
        let message = initiator.initiate()?;
        Ok((initiator, message))
    })?;
    let mut responder = None;
    let mut message_bytes = 0u64;
    let mut message_rounds = 0u32;
    loop {
        message_bytes += message.len() as u64;
        measure.bytes_to_responder += message.len() as u64;
        let answer = meter.work(R, || -> anyhow::Result<Vec<u8>> {
            if responder.is_none() {
                responder = Some(Negentropy::borrowed(
                    &responder_storage,
                    NEGENTROPY_FRAME_SIZE_LIMIT,
                )?);
            }
            let answer = responder
                .as_mut()
                .expect("made above")
                .reconcile(&message)
                .context("negentropy responder")?;
            drop(message);
            Ok(answer)
        })?;
        message_rounds += 1;
        message_bytes += answer.len() as u64;
        measure.bytes_to_initiator += answer.len() as u64;
        let next = meter.work(I, || {
            initiator
                .reconcile_with_ids(&answer, &mut have, &mut need)
                .context("negentropy initiator")
        })?;
        match next {
            Some(next) => message = next,
            None => break,
        }
    }
    measure.rounds = message_rounds;
    if !have.is_empty() || !need.is_empty() {
        measure.rounds += 1;
        let event_bytes = |ids: &[Id]| -> u64 {
            ids.iter()
                .map(|id| sides.event_frame_bytes(&EventId(*id.as_bytes())))
                .sum()
        };
        measure.bytes_to_responder +=
            COUNT_BYTES + ID_BYTES * need.len() as u64 + COUNT_BYTES + event_bytes(&have);
        measure.bytes_to_initiator += COUNT_BYTES + event_bytes(&need);
    }
    measure.events_moved = (have.len() + need.len()) as u64;
    meter.write_to(&mut measure);
    // negentropy must find exactly the unshared events, split by side.
    for id in have.iter().chain(&need) {
        ensure!(
            sides.unshared.contains_key(&EventId(*id.as_bytes())),
            "negentropy reported a shared event as missing"
        );
    }
    ensure!(
        have.len() + need.len() == sides.unshared.len(),
        "negentropy found {} differences, the workload has {}",
        have.len() + need.len(),
        sides.unshared.len()
    );
    Ok(NegentropyRun {
        measure,
        message_bytes,
        message_rounds,
    })
}
