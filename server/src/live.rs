//! The live stream behind `GET /v1/live`: every event that becomes durable, pushed to each
//! stream whose token covers its group.
//!
//! The writer publishes each committed batch on a broadcast channel. Each stream has a task
//! that filters batches to its token's groups and writes them as the records of spec §15.6
//! (`tideline_protocol::http::live_records_encode`).
//! A stream that falls behind the broadcast's buffer is closed rather than skipped over
//! silently: its client syncs again, and the root comparison finds what it missed. A stream
//! also ends when its token expires, so that it never outlives the authorization it was opened
//! with.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use tideline_protocol::event::VerifiedEvent;
use tideline_protocol::http::live_records_encode;
use tideline_protocol::wire::Groups;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{broadcast, mpsc};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::metrics::Metrics;

/// What the writer publishes: the events one batch newly stored.
pub(crate) type Committed = Arc<Vec<VerifiedEvent>>;

/// Records waiting for a slow client's socket; past this the stream task waits, and if it waits
/// long enough the broadcast drops batches for it and the stream is closed.
const RECORDS_QUEUED_MAX: usize = 16;

/// The response body of one live stream. Its records come from a task that [`stream_start`]
/// spawns; the body ends when that task does.
pub(crate) struct LiveBody {
    records: mpsc::Receiver<Bytes>,
}

impl hyper::body::Body for LiveBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Bytes>, Infallible>>> {
        self.records
            .poll_recv(context)
            .map(|record| record.map(|bytes| Ok(hyper::body::Frame::data(bytes))))
    }
}

/// Starts the task that feeds one stream, and returns the stream's body.
///
/// `receiver` must be subscribed before the response is sent, so that every batch committed
/// after the client sees the 200 reaches it. The stream ends after `valid_for`, when the
/// server would refuse the token it was opened with.
pub(crate) fn stream_start(
    mut receiver: broadcast::Receiver<Committed>,
    groups: Groups,
    user: String,
    valid_for: Duration,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
    tracker: &TaskTracker,
) -> LiveBody {
    let (sender, records) = mpsc::channel(RECORDS_QUEUED_MAX);
    tracker.spawn(async move {
        let _counted = metrics.live_connection();
        tracing::debug!(user = %user, "live stream opened");
        let expiry = tokio::time::sleep(valid_for);
        tokio::pin!(expiry);
        loop {
            let batch = tokio::select! {
                _ = shutdown.cancelled() => break,
                () = &mut expiry => {
                    tracing::debug!(user = %user, "live stream's token expired; closing it");
                    break;
                }
                _ = sender.closed() => break,
                received = receiver.recv() => match received {
                    Ok(batch) => batch,
                    Err(RecvError::Lagged(batches)) => {
                        tracing::info!(user = %user, batches, "live stream fell behind; closing it");
                        break;
                    }
                    Err(RecvError::Closed) => break,
                },
            };
            for record in records_of(&groups, &batch) {
                let len = record.len();
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    () = &mut expiry => return,
                    sent = sender.send(record) => {
                        if sent.is_err() {
                            return;
                        }
                        metrics.bytes_sent(len);
                    }
                }
            }
        }
        tracing::debug!(user = %user, "live stream closed");
    });
    LiveBody { records }
}

/// The records for the events of `batch` in `groups`: as few frames as the frame budget
/// allows, each prefixed with its length.
fn records_of(groups: &Groups, batch: &[VerifiedEvent]) -> Vec<Bytes> {
    let visible = batch
        .iter()
        .filter(|event| groups.index_of(&event.event().group).is_some())
        .map(|event| event.bytes().to_vec());
    live_records_encode(visible)
        .into_iter()
        .map(Bytes::from)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tideline_protocol::http::LiveRecordDecoder;
    use tideline_protocol::wire::{decode_frame, Frame};
    use tideline_testkit::generate::{create_event, Rng};

    #[test]
    fn records_carry_only_the_streams_groups() {
        // Guards against a live stream leaking events of a group outside its token.
        let mut rng = Rng::new(1);
        let batch: Vec<VerifiedEvent> = (0..10)
            .map(|index| {
                let group = if index % 2 == 0 { "g1" } else { "g2" };
                create_event(&mut rng, group, 1_000 + index, "alice", 8)
            })
            .collect();
        let groups = Groups::new(["g1"]).unwrap();
        let records = records_of(&groups, &batch);
        assert_eq!(records.len(), 1);
        let mut decoder = LiveRecordDecoder::new();
        decoder.push(&records[0]);
        let frame = decoder.next_frame().unwrap().expect("one whole record");
        decoder.finish().unwrap();
        let Frame::Response(response) = decode_frame(&frame).unwrap() else {
            panic!("a live record holds a Response frame");
        };
        assert_eq!(response.consumed, 0);
        assert_eq!(response.events.len(), 5);
        for bytes in &response.events {
            let event = VerifiedEvent::decode(bytes).unwrap();
            assert_eq!(event.event().group, "g1");
        }
        assert!(records_of(&Groups::new(["g3"]).unwrap(), &batch).is_empty());
    }
}
