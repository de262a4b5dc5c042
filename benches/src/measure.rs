//! What one protocol cost on one workload, per side, and how time and heap use are measured.

use std::fmt;
use std::time::{Duration, Instant};

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

/// One side of a session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// The side that starts the session (the client).
    Initiator,
    /// The side that answers (the server).
    Responder,
}

/// What one side of a session spent.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct SideCost {
    /// Wall time of this side's own protocol work: building, encoding and decoding its
    /// messages and comparing sets; not applying the events it received.
    pub time: Duration,
    /// Wall time this side spent applying the events it received to its replica (Tideline
    /// only).
    pub apply_time: Duration,
    /// Peak heap of this side: the largest, over this side's steps (its protocol work and its
    /// applies, each measured by [`StepMeter`]), of the heap peak during the step minus the heap
    /// in use just before the session began.
    ///
    /// Both sides run in one process, so the figure also holds whatever the other side kept
    /// alive at that moment (its state between rounds, the message it handed over). It does
    /// not count what was built before the session: the replicas' stores and the baselines'
    /// prepared id sets and storage. A side's applied events stay in its store, so they count
    /// in every later step of both sides.
    pub heap_peak_bytes: u64,
}

/// Times and heap peaks of the steps of a session whose two sides run in this process, one
/// step at a time.
pub struct StepMeter<'h> {
    heap: &'h dyn HeapMeter,
    /// Heap in use when the meter was made: the level every peak is counted from.
    heap_before: usize,
    /// What the initiator's steps cost so far.
    pub initiator: SideCost,
    /// What the responder's steps cost so far.
    pub responder: SideCost,
}

impl<'h> StepMeter<'h> {
    /// A meter for a session that starts now.
    pub fn new(heap: &'h dyn HeapMeter) -> StepMeter<'h> {
        StepMeter {
            heap,
            heap_before: heap.current_bytes(),
            initiator: SideCost::default(),
            responder: SideCost::default(),
        }
    }

    /// Runs `step`, protocol work of `side`, and counts its time and heap peak.
    pub fn work<T>(&mut self, side: Side, step: impl FnOnce() -> T) -> T {
        self.step(side, false, step)
    }

    /// Runs `step`, `side` applying the events it received, and counts its time and heap peak.
    pub fn apply<T>(&mut self, side: Side, step: impl FnOnce() -> T) -> T {
        self.step(side, true, step)
    }

    fn step<T>(&mut self, side: Side, applying: bool, step: impl FnOnce() -> T) -> T {
        self.heap.peak_reset();
        let started = Instant::now();
        let result = step();
        let elapsed = started.elapsed();
        let peak = self.heap.peak_bytes().saturating_sub(self.heap_before) as u64;
        let cost = match side {
            Side::Initiator => &mut self.initiator,
            Side::Responder => &mut self.responder,
        };
        if applying {
            cost.apply_time += elapsed;
        } else {
            cost.time += elapsed;
        }
        cost.heap_peak_bytes = cost.heap_peak_bytes.max(peak);
        result
    }

    /// Writes both sides' costs into `measure`.
    pub fn write_to(&self, measure: &mut Measure) {
        measure.initiator = self.initiator;
        measure.responder = self.responder;
    }
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
    /// What the initiator (client) spent.
    pub initiator: SideCost,
    /// What the responder (server) spent.
    pub responder: SideCost,
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
            initiator: SideCost::default(),
            responder: SideCost::default(),
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

    /// Wall time of both sides' protocol work, applies left out.
    pub fn time(&self) -> Duration {
        self.initiator.time + self.responder.time
    }

    /// Peak heap of the session, both sides together: the larger side's figure, since every
    /// step of the session is one side's and a side's figure already holds what the other
    /// kept alive (see [`SideCost::heap_peak_bytes`]).
    pub fn heap_peak_bytes(&self) -> u64 {
        self.initiator
            .heap_peak_bytes
            .max(self.responder.heap_peak_bytes)
    }
}

/// The varint length postcard and Tideline frames put before a byte string.
pub fn varint_len(value: usize) -> usize {
    let bits = usize::BITS - value.leading_zeros();
    (bits.max(1) as usize).div_ceil(7)
}
