//! The group-commit writer: the only task that writes to the store.
//!
//! Handlers send their verified events with a oneshot over a bounded queue. The writer takes
//! the first waiting commit, then everything else already queued up to
//! [`COMMIT_EVENTS_MAX`], applies it all with `replica::apply` as one RocksDB write batch (the
//! store is opened with synced writes, so the batch's write-ahead log is fsynced before the
//! apply returns), and only then answers every waiter and publishes the new events to the live
//! streams. Nothing is acknowledged before its batch is durable, and one fsync serves every
//! request that queued while the previous one ran.

use std::sync::{Arc, PoisonError, RwLock};

use tideline_protocol::event::VerifiedEvent;
use tideline_protocol::replica;
use tideline_store::RocksStore;
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::live::Committed;
use crate::metrics::Metrics;

/// Most events the writer puts in one batch, unless a single request alone holds more. A
/// request holds at most `EVENTS_PER_FRAME_MAX` events, so a batch never holds more than twice
/// that.
pub(crate) const COMMIT_EVENTS_MAX: usize = tideline_protocol::limits::EVENTS_PER_FRAME_MAX;

/// How many commits may wait in the queue; handlers beyond that wait to enqueue, which slows
/// clients down instead of growing memory without bound.
const QUEUE_COMMITS_MAX: usize = 1024;

/// Why a commit was not acknowledged.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CommitError {
    /// The store refused the batch; none of it was stored.
    #[error("applying the batch failed: {0}")]
    Apply(String),
    /// The writer is gone (it panicked).
    #[error("the writer task is gone")]
    WriterGone,
}

/// One request's events and the way to tell its handler they are durable.
struct Commit {
    events: Vec<VerifiedEvent>,
    done: oneshot::Sender<Result<(), Arc<CommitError>>>,
}

/// How handlers reach the writer.
#[derive(Clone)]
pub(crate) struct WriterHandle {
    sender: mpsc::Sender<Commit>,
}

impl WriterHandle {
    /// Hands `events` to the writer and waits until they are durable.
    pub(crate) async fn commit(&self, events: Vec<VerifiedEvent>) -> Result<(), Arc<CommitError>> {
        let (done, acknowledged) = oneshot::channel();
        self.sender
            .send(Commit { events, done })
            .await
            .map_err(|_| Arc::new(CommitError::WriterGone))?;
        acknowledged
            .await
            .map_err(|_| Arc::new(CommitError::WriterGone))?
    }
}

/// Starts the writer. It stops once every [`WriterHandle`] is dropped and the queue is empty.
pub(crate) fn spawn(
    store: Arc<RwLock<RocksStore>>,
    live: broadcast::Sender<Committed>,
    metrics: Arc<Metrics>,
) -> (WriterHandle, JoinHandle<()>) {
    let (sender, receiver) = mpsc::channel(QUEUE_COMMITS_MAX);
    let task = tokio::spawn(writer_run(store, receiver, live, metrics));
    (WriterHandle { sender }, task)
}

/// The writer's loop. It does not watch the shutdown token: it must finish every commit a
/// handler handed it, and it stops when the last handle (owned by the server's state) goes.
async fn writer_run(
    store: Arc<RwLock<RocksStore>>,
    mut receiver: mpsc::Receiver<Commit>,
    live: broadcast::Sender<Committed>,
    metrics: Arc<Metrics>,
) {
    // A commit taken from the queue that did not fit in the last batch.
    let mut carried: Option<Commit> = None;
    loop {
        let first = match carried.take() {
            Some(commit) => commit,
            None => match receiver.recv().await {
                Some(commit) => commit,
                None => break,
            },
        };
        let mut events_len = first.events.len();
        let mut commits = vec![first];
        while events_len < COMMIT_EVENTS_MAX {
            let Ok(commit) = receiver.try_recv() else {
                break;
            };
            if events_len + commit.events.len() > COMMIT_EVENTS_MAX {
                carried = Some(commit);
                break;
            }
            events_len += commit.events.len();
            commits.push(commit);
        }

        let mut events = Vec::with_capacity(events_len);
        let mut waiters = Vec::with_capacity(commits.len());
        for commit in commits {
            events.extend(commit.events);
            waiters.push(commit.done);
        }
        let result = batch_apply(Arc::clone(&store), events).await;
        let reply = match result {
            Ok(new_events) => {
                metrics.commit_batch(events_len);
                metrics.events_stored(new_events.len());
                tracing::debug!(
                    events = events_len,
                    new = new_events.len(),
                    requests = waiters.len(),
                    "committed"
                );
                if !new_events.is_empty() {
                    // No live stream listening is not an error.
                    let _ = live.send(Arc::new(new_events));
                }
                Ok(())
            }
            Err(error) => {
                tracing::error!(error = %error, requests = waiters.len(), "group commit failed");
                Err(Arc::new(error))
            }
        };
        for waiter in waiters {
            // A handler whose client went away no longer waits; the events are stored anyway.
            let _ = waiter.send(reply.clone());
        }
    }
    tracing::debug!("writer stopped: every handle is gone");
}

/// Applies one batch under the write lock, on a blocking thread. Returns the events that were
/// new to the store, in the order given.
async fn batch_apply(
    store: Arc<RwLock<RocksStore>>,
    events: Vec<VerifiedEvent>,
) -> Result<Vec<VerifiedEvent>, CommitError> {
    tokio::task::spawn_blocking(move || {
        // The store has no state of its own beyond RocksDB, whose batches are atomic: a panic
        // in an earlier apply left nothing half-written, so a poisoned lock is safe to reuse.
        let mut store = store.write().unwrap_or_else(PoisonError::into_inner);
        let inserted = replica::apply(&mut *store, &events)
            .map_err(|error| CommitError::Apply(error.to_string()))?;
        drop(store);
        // Removing as we go keeps one copy of an event two requests of the batch both sent.
        let mut inserted: std::collections::HashSet<_> = inserted.into_iter().collect();
        Ok(events
            .into_iter()
            .filter(|event| inserted.remove(&event.id()))
            .collect())
    })
    .await
    .map_err(|error| CommitError::Apply(format!("the apply task panicked: {error}")))?
}
