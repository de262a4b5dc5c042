//! The Tideline reference server: the sync protocol over HTTP/1.1, durable on RocksDB.
//!
//! [`run`] serves a listener until a [`CancellationToken`] fires; the `tideline-server` binary
//! only parses its arguments, binds the address and calls it, so tests drive the same code.
//!
//! - [`config`]: [`ServerConfig`], the optional TOML file, and the defaults.
//! - [`auth`]: bearer tokens (JWT, HS256 with the data directory's secret, or EdDSA with an
//!   operator's public key): verifying, minting for development, and the secret file.
//! - `routes` (private): the endpoints, `POST /v1/sync`, `GET /v1/live`, `GET /v1/conflicts`,
//!   `GET /healthz` and `GET /metrics`, at the paths `tideline_protocol::http` names.
//! - `body` (private): response bodies, shared by `routes` and `error`.
//! - `error` (private): the one place where a failure becomes a status, an Error frame and an
//!   `X-Tideline-Error` header.
//! - `writer` (private): the group-commit writer, the only task that writes to the store.
//! - `live` (private): the stream of committed events behind `GET /v1/live`.
//! - `conflicts` (private): a user's conflicts as JSON.
//! - `deadline` (private): the write deadline on each connection's socket.
//! - `metrics` (private): the Prometheus counters and histograms.
//!
//! # Durability
//!
//! Events in a request are acknowledged (the request gets its 200) only after the writer has
//! applied them in a RocksDB write batch whose write-ahead log was fsynced. The writer takes
//! every request queued while the previous batch was syncing into the next batch (group
//! commit), so many clients share one fsync.
//!
//! # Shutdown
//!
//! When the token fires, the server stops accepting, asks every connection to close once its
//! current request is answered, ends the live streams, waits for the connections, lets the
//! writer finish every batch it was handed, and returns.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{broadcast, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub mod auth;
mod body;
pub mod config;
mod conflicts;
mod deadline;
mod error;
mod live;
mod metrics;
mod routes;
mod writer;

pub use config::ServerConfig;

use tideline_store::{RocksStore, StoreError, StoreOptions};

/// The file in the data directory that holds the HS256 secret.
pub const SECRET_FILE_NAME: &str = "secret.key";

/// The directory inside the data directory that holds the RocksDB store.
pub const STORE_DIR_NAME: &str = "store";

/// How long to wait before accepting again after `accept` failed (for example when the process
/// is out of file descriptors), so that a persistent failure does not spin.
const ACCEPT_RETRY_DELAY_MS: u64 = 100;

/// How many committed batches the live broadcast holds for a slow stream before that stream
/// is closed as lagging (its client then syncs again).
const LIVE_BATCHES_BUFFERED_MAX: usize = 1024;

/// Why the server could not start or stop cleanly.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// The configuration is not usable.
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    /// The data directory could not be created.
    #[error(
        "could not create the data directory {}: {source}; check the path and its permissions",
        path.display()
    )]
    DataDir {
        /// The directory.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The token key could not be loaded or created.
    #[error(transparent)]
    Key(#[from] auth::KeyError),
    /// The store could not be opened.
    #[error("could not open the store at {}: {source}", path.display())]
    Store {
        /// The store's directory.
        path: std::path::PathBuf,
        /// Why.
        source: StoreError,
    },
    /// The listener's address could not be read.
    #[error("could not read the listener's address: {0}")]
    Listener(std::io::Error),
    /// The writer task panicked; batches it had not acknowledged were not stored.
    #[error("the writer task failed: {0}; see the log for the panic")]
    Writer(String),
}

/// Serves `listener` with `config` until `shutdown` fires, then finishes in-flight requests and
/// commits and returns.
///
/// On first start it creates the data directory, the store and (unless an EdDSA key is
/// configured) the HS256 secret, and logs how to mint a token.
pub async fn run(
    listener: TcpListener,
    config: ServerConfig,
    shutdown: CancellationToken,
) -> Result<(), ServerError> {
    config.validate()?;
    auth::install_crypto_provider();
    std::fs::create_dir_all(&config.data_dir).map_err(|source| ServerError::DataDir {
        path: config.data_dir.clone(),
        source,
    })?;
    let verifier = verifier_load(&config)?;
    let store = store_open(&config).await?;
    let metrics = Arc::new(metrics::Metrics::new());
    let (live_sender, _) = broadcast::channel(LIVE_BATCHES_BUFFERED_MAX);
    let (writer, writer_task) = writer::spawn(
        Arc::clone(&store),
        live_sender.clone(),
        Arc::clone(&metrics),
    );

    let local_addr = listener.local_addr().map_err(ServerError::Listener)?;
    let tracker = TaskTracker::new();
    let state = Arc::new(routes::AppState {
        store,
        writer,
        live: live_sender,
        verifier,
        metrics,
        max_skew_ms: config.max_skew_ms,
        frame_bytes_max: config.frame_bytes_max,
        body_read_timeout: config.body_read_timeout,
        shutdown: shutdown.clone(),
        tracker: tracker.clone(),
    });
    tracing::info!(addr = %local_addr, data_dir = %config.data_dir.display(), "listening");
    connections_accept(&listener, &state, &config, &shutdown).await;

    tracing::info!("shutting down: finishing in-flight requests");
    drop(listener);
    tracker.close();
    tracker.wait().await;
    // Every sender of the writer's queue lives in `state`; dropping the last one lets the
    // writer finish what it holds and stop.
    drop(state);
    writer_task
        .await
        .map_err(|error| ServerError::Writer(error.to_string()))?;
    tracing::info!("stopped");
    Ok(())
}

/// The token verifier: EdDSA with the configured public key, or HS256 with the data
/// directory's secret, created on first start.
fn verifier_load(config: &ServerConfig) -> Result<auth::Verifier, ServerError> {
    if let Some(pem) = &config.jwt_eddsa_public_key_pem {
        return Ok(auth::Verifier::eddsa(pem)?);
    }
    let secret_path = config.data_dir.join(SECRET_FILE_NAME);
    let (secret, created) = auth::secret_load_or_create(&secret_path)?;
    if created {
        tracing::info!(
            path = %secret_path.display(),
            "first start: created the token secret; mint a development token with \
             `tideline-server token --data-dir {} --user alice --groups g1,g2`",
            config.data_dir.display()
        );
    }
    Ok(auth::Verifier::hs256(&secret))
}

/// Opens the store in the data directory, off the async workers: opening replays the
/// write-ahead log, which can take a while after a crash.
async fn store_open(config: &ServerConfig) -> Result<Arc<RwLock<RocksStore>>, ServerError> {
    let store_path = config.data_dir.join(STORE_DIR_NAME);
    let opened_path = store_path.clone();
    let store = tokio::task::spawn_blocking(move || {
        RocksStore::open(&opened_path, StoreOptions { sync_writes: true })
    })
    .await
    .map_err(|error| ServerError::Writer(format!("opening the store panicked: {error}")))?
    .map_err(|source| ServerError::Store {
        path: store_path,
        source,
    })?;
    // The writer takes the write lock for each apply and commit; responders take read locks.
    // RocksDB would allow reads during a write, but `replica::apply` reads the tree before it
    // writes, and a responder reading half of a batch is impossible anyway because the batch
    // is atomic; the lock keeps the single-writer rule visible in the types.
    Ok(Arc::new(RwLock::new(store)))
}

/// Accepts connections until `shutdown` fires, each served on its own task.
async fn connections_accept(
    listener: &TcpListener,
    state: &Arc<routes::AppState>,
    config: &ServerConfig,
    shutdown: &CancellationToken,
) {
    // One permit per open connection: when all are taken the loop stops accepting and new
    // connections wait in the kernel's backlog.
    let connections = Arc::new(Semaphore::new(config.connections_max));
    loop {
        let permit = tokio::select! {
            _ = shutdown.cancelled() => return,
            permit = Arc::clone(&connections).acquire_owned() => {
                permit.expect("the connection semaphore is never closed")
            }
        };
        let (stream, peer) = tokio::select! {
            _ = shutdown.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(%error, "accept failed; retrying");
                    tokio::time::sleep(Duration::from_millis(ACCEPT_RETRY_DELAY_MS)).await;
                    continue;
                }
            },
        };
        state.tracker.spawn(routes::connection_serve(
            Arc::clone(state),
            stream,
            peer,
            permit,
            config.header_read_timeout,
            config.write_timeout,
        ));
    }
}
