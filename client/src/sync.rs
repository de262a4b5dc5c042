//! Sync with the server over HTTP, and the `watch` loop that stays in sync.
//!
//! A sync drives the protocol's [`Initiator`] over one keep-alive connection: each request
//! frame is posted to `/v1/sync`, each response's events are applied to the store before the
//! next request is built. Applying as the rounds go means an interrupted sync keeps what it
//! received, and the next sync starts from there.

use std::time::Duration;

use serde::Serialize;
use tideline_protocol::event::VerifiedEvent;
use tideline_protocol::sync::{Config as SyncConfig, Initiator, SyncError};
use tideline_protocol::wire::{decode_frame, encode_frame, Frame, Groups, Salt};
use tokio_util::sync::CancellationToken;

use crate::http::{Connection, Reply};
use crate::{ClientError, Replica};

/// First wait before `watch` reconnects after a failure, in milliseconds.
pub const BACKOFF_MIN_MS: u64 = 500;

/// Longest wait before `watch` reconnects, in milliseconds.
pub const BACKOFF_MAX_MS: u64 = 30_000;

/// How often `watch` syncs even while the live stream looks healthy, in milliseconds: a
/// connection that died without a word (a laptop lid closed, a NAT that forgot it) would
/// otherwise go unnoticed.
pub const RESYNC_INTERVAL_MS: u64 = 5 * 60 * 1000;

/// What one sync did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SyncReport {
    /// Requests sent: the round trips.
    pub rounds: u32,
    /// Bytes of the request frames.
    pub bytes_sent: u64,
    /// Bytes of the response frames.
    pub bytes_received: u64,
    /// Bytes written to the socket: frames, HTTP headers and all.
    pub wire_bytes_sent: u64,
    /// Bytes read from the socket: frames, HTTP headers and all.
    pub wire_bytes_received: u64,
    /// Events sent to the server.
    pub events_sent: u64,
    /// Events received from the server.
    pub events_received: u64,
}

/// What [`Replica::watch`] reports as it goes.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum WatchEvent {
    /// A sync finished.
    Synced(SyncReport),
    /// The live stream delivered events.
    Live {
        /// Events in the record.
        events: usize,
        /// How many of them were new to this replica.
        new: usize,
    },
    /// The connection failed; the next attempt comes after a wait.
    Disconnected {
        /// The error's code ([`ClientError::code`]).
        code: &'static str,
        /// The error's message.
        message: String,
        /// The wait before the next attempt.
        retry_in_ms: u64,
    },
}

impl Replica {
    /// Syncs every group of the token with the server, both ways.
    ///
    /// Store writes happen on the calling task between network waits; they are short, and a
    /// client has nothing else to run meanwhile.
    pub async fn sync(&mut self) -> Result<SyncReport, ClientError> {
        let groups = Groups::new(self.claims.groups.iter().cloned())?;
        let salt = Salt(rand::random());
        let mut initiator = Initiator::new(groups, salt, SyncConfig::default());
        let mut report = SyncReport::default();
        // Opened with the first request, so a token without groups costs no connection.
        let mut connection: Option<Connection> = None;
        let outcome = self
            .sync_rounds(&mut initiator, &mut connection, &mut report)
            .await;
        if let Some(connection) = connection {
            let (sent, received) = connection.close().await;
            report.wire_bytes_sent = sent;
            report.wire_bytes_received = received;
        }
        tracing::debug!(
            rounds = report.rounds,
            events_sent = report.events_sent,
            events_received = report.events_received,
            ok = outcome.is_ok(),
            "sync finished"
        );
        outcome.map(|()| report)
    }

    async fn sync_rounds(
        &mut self,
        initiator: &mut Initiator,
        connection: &mut Option<Connection>,
        report: &mut SyncReport,
    ) -> Result<(), ClientError> {
        while let Some(request) = initiator.poll_request(&self.store)? {
            let events_sent = request.events.len() as u64;
            let bytes = encode_frame(&Frame::Request(request));
            report.rounds += 1;
            report.bytes_sent += bytes.len() as u64;
            if connection.is_none() {
                *connection = Some(Connection::open(&self.url, &self.config.token).await?);
            }
            let connection = connection.as_mut().expect("opened above");
            let reply = connection.post_frame(bytes).await?;
            report.bytes_received += reply.body.len() as u64;
            let response = match response_of(reply)? {
                Frame::Response(response) => response,
                _ => return Err(SyncError::Unexpected("a frame other than a response").into()),
            };
            // The server answers only once it has stored the request's events.
            report.events_sent += events_sent;
            let events = initiator.handle_response(response)?;
            report.events_received += events.len() as u64;
            self.apply_events(&events)?;
        }
        Ok(())
    }

    /// Stays in sync until `shutdown` is cancelled: subscribes to `/v1/live`, syncs, then
    /// applies the events the server pushes. When the connection fails it waits (doubling the
    /// wait from [`BACKOFF_MIN_MS`] to [`BACKOFF_MAX_MS`]) and starts over; it also starts over
    /// every [`RESYNC_INTERVAL_MS`]. Errors that waiting cannot fix (a refused token, a group
    /// the server forbids) end it.
    ///
    /// `progress` hears of every sync, every pushed record and every reconnection.
    pub async fn watch(
        &mut self,
        shutdown: CancellationToken,
        mut progress: impl FnMut(&WatchEvent),
    ) -> Result<(), ClientError> {
        let mut backoff_ms = BACKOFF_MIN_MS;
        loop {
            // Dropping the attempt at any await is safe: store writes happen between awaits,
            // each one whole.
            let outcome = tokio::select! {
                () = shutdown.cancelled() => return Ok(()),
                outcome = self.watch_attempt(&mut progress, &mut backoff_ms) => outcome,
            };
            let error = match outcome {
                Ok(()) => continue,
                Err(error) if error.is_transient() => error,
                Err(error) => return Err(error),
            };
            // Spread reconnections out so that clients cut off together do not return together.
            let retry_in_ms = backoff_ms + rand::random_range(0..=backoff_ms / 2);
            tracing::info!(error = %error, retry_in_ms, "connection lost");
            progress(&WatchEvent::Disconnected {
                code: error.code(),
                message: error.to_string(),
                retry_in_ms,
            });
            tokio::select! {
                () = shutdown.cancelled() => return Ok(()),
                () = tokio::time::sleep(Duration::from_millis(retry_in_ms)) => {}
            }
            backoff_ms = (backoff_ms * 2).min(BACKOFF_MAX_MS);
        }
    }

    /// One connection's worth of watching. Returns `Ok` when it is time to sync again.
    async fn watch_attempt(
        &mut self,
        progress: &mut impl FnMut(&WatchEvent),
        backoff_ms: &mut u64,
    ) -> Result<(), ClientError> {
        // Subscribe first, then sync: an event committed after the sync's last round is then
        // already on its way in the stream, where it waits until the sync is done. Events the
        // sync also brought are applied twice, which changes nothing.
        let connection = Connection::open(&self.url, &self.config.token).await?;
        let mut live = connection.live().await?;
        let report = self.sync().await?;
        *backoff_ms = BACKOFF_MIN_MS;
        progress(&WatchEvent::Synced(report));

        let resync = tokio::time::sleep(Duration::from_millis(RESYNC_INTERVAL_MS));
        tokio::pin!(resync);
        loop {
            let record = tokio::select! {
                () = &mut resync => return Ok(()),
                record = live.next() => record?,
            };
            let Some(bytes) = record else {
                return Err(ClientError::StreamEnded);
            };
            let events = self.live_events(&bytes)?;
            let new = self.apply_events(&events)?;
            tracing::debug!(events = events.len(), new, "live events applied");
            progress(&WatchEvent::Live {
                events: events.len(),
                new,
            });
        }
    }

    /// The events of one live record: a response frame with events only.
    fn live_events(&self, bytes: &[u8]) -> Result<Vec<VerifiedEvent>, ClientError> {
        let response = match decode_frame(bytes)? {
            Frame::Response(response) => response,
            Frame::Error(error) => {
                return Err(ClientError::Server {
                    code: error.code,
                    message: error.message,
                    status: 200,
                })
            }
            Frame::Request(_) => {
                return Err(SyncError::Unexpected("a request in the live stream").into())
            }
        };
        if response.consumed != 0 || !response.items.is_empty() {
            return Err(SyncError::Unexpected("walk items in the live stream").into());
        }
        response
            .events
            .iter()
            .enumerate()
            .map(|(index, bytes)| {
                let event = VerifiedEvent::decode(bytes)
                    .map_err(|source| SyncError::InvalidEvent { index, source })?;
                if !self.claims.grants(&event.event().group) {
                    return Err(SyncError::GroupForbidden {
                        id: event.id(),
                        group: event.event().group.clone(),
                    }
                    .into());
                }
                Ok(event)
            })
            .collect()
    }
}

/// The frame a reply carries, or the error it means.
fn response_of(reply: Reply) -> Result<Frame, ClientError> {
    if reply.status != hyper::StatusCode::OK {
        return Err(reply.into_error());
    }
    match decode_frame(&reply.body)? {
        Frame::Error(error) => Err(ClientError::Server {
            code: error.code,
            message: error.message,
            status: reply.status.as_u16(),
        }),
        frame => Ok(frame),
    }
}
