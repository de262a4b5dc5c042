//! The records of the live stream (spec §15.6): each a 4-byte big-endian length, then that
//! many bytes of one frame.

use crate::limits::{FRAME_BYTES_BUDGET, FRAME_BYTES_MAX};
use crate::wire::{encode_frame, Frame, Response};

/// The bytes of a live record's length prefix: a `u32`, big-endian (not a varint).
pub const LIVE_RECORD_PREFIX_BYTES: usize = 4;

// A record of the largest frame must be expressible in the prefix, and the records the server
// packs (events up to the budget, plus the frame's few fixed bytes) must stay under the limit
// a client enforces.
const _: () = assert!(FRAME_BYTES_MAX <= u32::MAX as usize);
const _: () = assert!(FRAME_BYTES_BUDGET < FRAME_BYTES_MAX);

/// One live record (§15.6): the frame's length as 4 big-endian bytes, then the frame.
///
/// # Panics
///
/// If `frame` is longer than [`FRAME_BYTES_MAX`]: a sender never builds such a frame, and a
/// client would refuse the record.
pub fn live_record_encode(frame: &[u8]) -> Vec<u8> {
    assert!(
        frame.len() <= FRAME_BYTES_MAX,
        "a live record's frame of {} bytes is over the frame limit",
        frame.len()
    );
    let length = u32::try_from(frame.len()).expect("FRAME_BYTES_MAX fits in a u32");
    let mut record = Vec::with_capacity(LIVE_RECORD_PREFIX_BYTES + frame.len());
    record.extend_from_slice(&length.to_be_bytes());
    record.extend_from_slice(frame);
    record
}

/// The live records that carry `events` (canonical event bytes, in the order they were
/// stored): each a `Response` with `consumed` 0, no items and at least one event, in as few
/// records as [`FRAME_BYTES_BUDGET`] allows (§15.6). No events, no records.
pub fn live_records_encode<I>(events: I) -> Vec<Vec<u8>>
where
    I: IntoIterator<Item = Vec<u8>>,
{
    let record_of = |events: Vec<Vec<u8>>| {
        debug_assert!(
            !events.is_empty(),
            "a live record carries at least one event"
        );
        live_record_encode(&encode_frame(&Frame::Response(Response {
            consumed: 0,
            items: Vec::new(),
            events,
        })))
    };
    let mut records = Vec::new();
    let mut pending: Vec<Vec<u8>> = Vec::new();
    let mut pending_bytes = 0usize;
    for event in events {
        if !pending.is_empty() && pending_bytes + event.len() > FRAME_BYTES_BUDGET {
            records.push(record_of(std::mem::take(&mut pending)));
            pending_bytes = 0;
        }
        pending_bytes += event.len();
        pending.push(event);
    }
    if !pending.is_empty() {
        records.push(record_of(pending));
    }
    records
}

/// Why a live stream's bytes are not a sequence of whole records.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LiveRecordError {
    /// A record's length prefix is over the limit; refused before its bytes are read.
    #[error(
        "a live record of {bytes} bytes, over the frame limit of {bytes_max}; the server is not \
         a Tideline server or is broken"
    )]
    TooLarge {
        /// The length the prefix announces.
        bytes: u64,
        /// The decoder's limit.
        bytes_max: usize,
    },
    /// The stream ended inside a record.
    #[error(
        "the live stream ended inside a record ({bytes_buffered} bytes of it arrived); sync \
         again to fetch what it carried"
    )]
    Truncated {
        /// The bytes of the unfinished record that arrived, its prefix included.
        bytes_buffered: usize,
    },
}

/// Reassembles live records from a byte stream cut anywhere (§15.6: records may be split
/// across or merged into HTTP chunks in any way).
///
/// [`push`](Self::push) each chunk as it arrives, then take the whole frames out with
/// [`next_frame`](Self::next_frame) until it gives `None`; when the stream ends, call
/// [`finish`](Self::finish) to learn whether it ended between records. The bytes stay in the
/// decoder between calls, so a caller that is cancelled between a read and a `next_frame` loses
/// nothing.
#[derive(Clone, Debug)]
pub struct LiveRecordDecoder {
    /// Bytes received and not yet handed out; the first `start` of them are already handed
    /// out and are dropped at the next `push`, so that taking a frame never moves the rest.
    buffer: Vec<u8>,
    start: usize,
    /// The longest frame accepted.
    bytes_max: usize,
}

impl Default for LiveRecordDecoder {
    fn default() -> LiveRecordDecoder {
        LiveRecordDecoder::new()
    }
}

impl LiveRecordDecoder {
    /// A decoder that refuses records over [`FRAME_BYTES_MAX`], as §15.6 advises.
    pub fn new() -> LiveRecordDecoder {
        LiveRecordDecoder::with_bytes_max(FRAME_BYTES_MAX)
    }

    /// A decoder that refuses records whose frame is over `bytes_max` bytes.
    pub fn with_bytes_max(bytes_max: usize) -> LiveRecordDecoder {
        LiveRecordDecoder {
            buffer: Vec::new(),
            start: 0,
            bytes_max,
        }
    }

    /// Adds the next bytes of the stream.
    pub fn push(&mut self, chunk: &[u8]) {
        if self.start > 0 {
            self.buffer.drain(..self.start);
            self.start = 0;
        }
        self.buffer.extend_from_slice(chunk);
    }

    /// The frame of the next whole record, or `None` until more bytes arrive.
    ///
    /// A record announcing a frame over the limit is refused as soon as its prefix is in, and
    /// is refused again on every later call: the stream cannot be read past it.
    pub fn next_frame(&mut self) -> Result<Option<Vec<u8>>, LiveRecordError> {
        let pending = &self.buffer[self.start..];
        let Some(prefix) = pending.first_chunk::<LIVE_RECORD_PREFIX_BYTES>() else {
            return Ok(None);
        };
        let length = u32::from_be_bytes(*prefix);
        if u64::from(length) > self.bytes_max as u64 {
            return Err(LiveRecordError::TooLarge {
                bytes: u64::from(length),
                bytes_max: self.bytes_max,
            });
        }
        let end = LIVE_RECORD_PREFIX_BYTES + length as usize;
        let Some(frame) = pending.get(LIVE_RECORD_PREFIX_BYTES..end) else {
            return Ok(None);
        };
        let frame = frame.to_vec();
        self.start += end;
        Ok(Some(frame))
    }

    /// Checks that the stream, now ended, ended between two records. Call it once
    /// [`next_frame`](Self::next_frame) has given every whole record.
    pub fn finish(&self) -> Result<(), LiveRecordError> {
        match self.buffer.len() - self.start {
            0 => Ok(()),
            bytes_buffered => Err(LiveRecordError::Truncated { bytes_buffered }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::decode_frame;

    /// Three records of different sizes, one of them empty, as one byte stream.
    fn stream_of(frames: &[Vec<u8>]) -> Vec<u8> {
        frames
            .iter()
            .flat_map(|frame| live_record_encode(frame))
            .collect()
    }

    fn frames() -> Vec<Vec<u8>> {
        vec![vec![7; 70], Vec::new(), (0..=255).collect()]
    }

    /// Feeds `stream` cut at `cuts`, and collects the frames as they become whole.
    fn decode_cut(stream: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
        let mut decoder = LiveRecordDecoder::new();
        let mut frames = Vec::new();
        let mut from = 0;
        for &to in cuts.iter().chain([stream.len()].iter()) {
            decoder.push(&stream[from..to]);
            from = to;
            while let Some(frame) = decoder.next_frame().unwrap() {
                frames.push(frame);
            }
        }
        decoder.finish().unwrap();
        frames
    }

    #[test]
    fn a_record_is_the_length_in_four_big_endian_bytes_then_the_frame() {
        // Guards the record layout of §15.6 byte for byte (not a varint, not little-endian).
        let record = live_record_encode(&[0xAB; 70]);
        assert_eq!(record[..4], [0x00, 0x00, 0x00, 0x46]);
        assert_eq!(record[4..], [0xAB; 70]);
    }

    #[test]
    fn records_round_trip_whole_and_split_at_every_byte() {
        // Guards against a client that relies on chunk boundaries: a record split anywhere, or
        // several merged into one chunk, decodes the same.
        let frames = frames();
        let stream = stream_of(&frames);
        assert_eq!(decode_cut(&stream, &[]), frames);
        for cut in 0..=stream.len() {
            assert_eq!(decode_cut(&stream, &[cut]), frames, "cut at {cut}");
        }
        let every_byte: Vec<usize> = (1..stream.len()).collect();
        assert_eq!(decode_cut(&stream, &every_byte), frames);
    }

    #[test]
    fn a_record_over_the_limit_is_refused_from_its_prefix() {
        // Guards against a client that allocates whatever a length prefix announces.
        let mut decoder = LiveRecordDecoder::with_bytes_max(100);
        decoder.push(&live_record_encode(&[1; 100]));
        assert_eq!(decoder.next_frame().unwrap(), Some(vec![1; 100]));
        decoder.push(&101u32.to_be_bytes());
        let refused = LiveRecordError::TooLarge {
            bytes: 101,
            bytes_max: 100,
        };
        assert_eq!(decoder.next_frame(), Err(refused.clone()));
        decoder.push(&[0; 8]);
        assert_eq!(decoder.next_frame(), Err(refused), "the refusal sticks");

        let mut decoder = LiveRecordDecoder::new();
        decoder.push(&u32::MAX.to_be_bytes());
        assert_eq!(
            decoder.next_frame(),
            Err(LiveRecordError::TooLarge {
                bytes: u64::from(u32::MAX),
                bytes_max: FRAME_BYTES_MAX,
            })
        );
    }

    #[test]
    fn a_stream_that_ends_inside_a_record_is_truncated() {
        // Guards against taking half a record for the end of a healthy stream.
        let stream = stream_of(&frames());
        let whole = LIVE_RECORD_PREFIX_BYTES + 70;
        for end in 1..stream.len() {
            let mut decoder = LiveRecordDecoder::new();
            decoder.push(&stream[..end]);
            while decoder.next_frame().unwrap().is_some() {}
            let between_records = [whole, whole + LIVE_RECORD_PREFIX_BYTES].contains(&end);
            if between_records {
                decoder.finish().unwrap();
            } else {
                assert!(
                    matches!(
                        decoder.finish(),
                        Err(LiveRecordError::Truncated { bytes_buffered }) if bytes_buffered > 0
                    ),
                    "end at {end}"
                );
            }
        }
        LiveRecordDecoder::new().finish().unwrap();
    }

    #[test]
    fn events_are_packed_into_as_few_records_as_the_budget_allows() {
        // Guards against a record whose events exceed the frame budget, and against a record
        // with no event.
        assert!(live_records_encode(Vec::new()).is_empty());
        let event_bytes = FRAME_BYTES_BUDGET / 3 + 1;
        let events: Vec<Vec<u8>> = (0..5u8).map(|n| vec![n; event_bytes]).collect();
        let records = live_records_encode(events.clone());
        assert_eq!(
            records.len(),
            3,
            "two events fit in the budget, three do not"
        );
        let mut decoder = LiveRecordDecoder::new();
        let mut carried = Vec::new();
        for record in &records {
            decoder.push(record);
        }
        while let Some(frame) = decoder.next_frame().unwrap() {
            let Frame::Response(response) = decode_frame(&frame).unwrap() else {
                panic!("a live record holds a Response frame");
            };
            assert_eq!(response.consumed, 0);
            assert!(response.items.is_empty());
            assert!(!response.events.is_empty());
            carried.extend(response.events);
        }
        decoder.finish().unwrap();
        assert_eq!(carried, events);
    }
}
