//! What one protocol cost on one workload, and how heap use is measured.

use std::fmt;
use std::time::Duration;

/// Heap accounting, supplied by the binary that installs a counting global allocator (the
/// library does not install one, so the criterion benchmarks keep the system allocator).
pub trait HeapMeter {
    /// Bytes allocated now.
    fn current_bytes(&self) -> usize;
    /// Most bytes allocated at once since the last [`HeapMeter::peak_reset`].
    fn peak_bytes(&self) -> usize;
    /// Starts a new peak from the current use.
    fn peak_reset(&self);
}

/// No heap accounting: every peak reads as zero.
pub struct NoHeapMeter;

impl HeapMeter for NoHeapMeter {
    fn current_bytes(&self) -> usize {
        0
    }
    fn peak_bytes(&self) -> usize {
        0
    }
    fn peak_reset(&self) {}
}

/// Measures the heap growth of `work`: the peak during it minus the use before it.
pub fn heap_growth<T>(heap: &dyn HeapMeter, work: impl FnOnce() -> T) -> (T, u64) {
    let before = heap.current_bytes();
    heap.peak_reset();
    let result = work();
    let growth = heap.peak_bytes().saturating_sub(before) as u64;
    (result, growth)
}

/// The protocols compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Protocol {
    /// Tideline's walk, in process, through encoded frames.
    Tideline,
    /// Tideline against a server over HTTP/1.1, counting socket bytes.
    TidelineHttp,
    /// negentropy 0.5.3, then the events.
    Negentropy,
    /// Every (id, timestamp) one way, Cassandra gossip style.
    Naive,
    /// Pull everything after a sequence-number cursor, push the outbox.
    Cursor,
    /// The missing events plus 32 bytes of id per difference.
    LowerBound,
}

impl Protocol {
    /// Its name in tables, CSV and plots.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Tideline => "tideline",
            Protocol::TidelineHttp => "tideline-http",
            Protocol::Negentropy => "negentropy",
            Protocol::Naive => "naive",
            Protocol::Cursor => "cursor",
            Protocol::LowerBound => "lower-bound",
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What one protocol cost on one workload.
#[derive(Clone, Debug, PartialEq)]
pub struct Measure {
    /// Which protocol.
    pub protocol: Protocol,
    /// Why the protocol does not apply to this workload; the figures are then zero.
    pub not_applicable: Option<&'static str>,
    /// Bytes the initiator (client) sent.
    pub bytes_to_responder: u64,
    /// Bytes the responder (server) sent.
    pub bytes_to_initiator: u64,
    /// Events carried, both ways.
    pub events_moved: u64,
    /// Round trips (request and response pairs).
    pub rounds: u32,
    /// Wall time of the protocol's own work, both sides, in this process: building, encoding
    /// and decoding messages and comparing sets; not applying the received events to stores.
    pub time: Duration,
    /// Wall time spent applying received events to the replicas (Tideline only).
    pub apply_time: Duration,
    /// Peak heap growth during the session, both sides together (they share the process).
    pub heap_peak_bytes: u64,
}

impl Measure {
    /// A measure with nothing counted yet.
    pub fn new(protocol: Protocol) -> Measure {
        Measure {
            protocol,
            not_applicable: None,
            bytes_to_responder: 0,
            bytes_to_initiator: 0,
            events_moved: 0,
            rounds: 0,
            time: Duration::ZERO,
            apply_time: Duration::ZERO,
            heap_peak_bytes: 0,
        }
    }

    /// A protocol that does not apply here, and why.
    pub fn not_applicable(protocol: Protocol, why: &'static str) -> Measure {
        Measure {
            not_applicable: Some(why),
            ..Measure::new(protocol)
        }
    }

    /// Bytes both ways.
    pub fn bytes_total(&self) -> u64 {
        self.bytes_to_responder + self.bytes_to_initiator
    }
}

/// The varint length postcard and Tideline frames put before a byte string.
pub fn varint_len(value: usize) -> usize {
    let bits = usize::BITS - value.leading_zeros();
    (bits.max(1) as usize).div_ceil(7)
}
