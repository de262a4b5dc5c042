//! The replica folder's `config.json`: server, token, replica id and the hybrid logical clock.
//!
//! The file is replaced atomically (write a temporary file, sync it, rename it over the old
//! one, sync the folder), so a crash leaves either the old or the new configuration, never a
//! torn one. It holds the token, so on Unix it is readable by its owner only.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tideline_protocol::event::{Hlc, ReplicaId};

use crate::ClientError;

/// The configuration file's name inside the replica folder.
pub const CONFIG_FILE: &str = "config.json";

/// The store's folder name inside the replica folder.
pub const STORE_DIR: &str = "store";

/// Largest configuration file read, in bytes: a token and a few fields.
pub const CONFIG_BYTES_MAX: u64 = 256 * 1024;

/// The layout version of `config.json`.
const CONFIG_VERSION: u32 = 1;

/// What `config.json` holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Config {
    /// The layout version, `CONFIG_VERSION`.
    pub version: u32,
    /// The server's base URL, like `http://127.0.0.1:7700`.
    pub server_url: String,
    /// The bearer token sent to the server.
    pub token: String,
    /// This replica's id, as hex: the `origin` of its events.
    pub replica_id: String,
    /// The last timestamp this replica issued or observed. Saved before an event that uses a
    /// newer one is stored, so that a restart, or a wall clock set back, never issues a
    /// timestamp at or before one already used.
    pub hlc: Hlc,
}

impl Config {
    /// A fresh configuration with a new random replica id.
    pub fn new(server_url: String, token: String) -> Config {
        Config {
            version: CONFIG_VERSION,
            server_url,
            token,
            replica_id: ReplicaId(rand::random()).to_string(),
            hlc: Hlc::default(),
        }
    }

    /// The path of the configuration file in `dir`.
    pub fn path(dir: &Path) -> PathBuf {
        dir.join(CONFIG_FILE)
    }

    /// Reads the configuration of the replica in `dir`.
    pub fn load(dir: &Path) -> Result<Config, ClientError> {
        let path = Config::path(dir);
        let file = match fs::File::open(&path) {
            Ok(file) => file,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Err(ClientError::NotInitialized {
                    dir: dir.to_owned(),
                })
            }
            Err(error) => return Err(config_error(&path, error)),
        };
        let mut bytes = Vec::new();
        file.take(CONFIG_BYTES_MAX + 1)
            .read_to_end(&mut bytes)
            .map_err(|error| config_error(&path, error))?;
        if bytes.len() as u64 > CONFIG_BYTES_MAX {
            return Err(config_error(
                &path,
                format!("it is larger than the maximum of {CONFIG_BYTES_MAX} bytes"),
            ));
        }
        let config: Config =
            serde_json::from_slice(&bytes).map_err(|error| config_error(&path, error))?;
        if config.version != CONFIG_VERSION {
            return Err(config_error(
                &path,
                format!(
                    "it has layout version {}, this client reads version {CONFIG_VERSION}",
                    config.version
                ),
            ));
        }
        config
            .replica_id()
            .map_err(|error| config_error(&path, error))?;
        Ok(config)
    }

    /// Writes the configuration into `dir`, atomically.
    pub fn save(&self, dir: &Path) -> Result<(), ClientError> {
        let path = Config::path(dir);
        let temporary = dir.join(format!("{CONFIG_FILE}.tmp"));
        let bytes = serde_json::to_vec_pretty(self).expect("a config serializes");
        let write = || -> std::io::Result<()> {
            let mut options = fs::OpenOptions::new();
            options.write(true).create(true).truncate(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(0o600);
            }
            let mut file = options.open(&temporary)?;
            file.write_all(&bytes)?;
            file.sync_all()?;
            fs::rename(&temporary, &path)?;
            // The rename is durable only once the folder's entry is.
            #[cfg(unix)]
            fs::File::open(dir)?.sync_all()?;
            Ok(())
        };
        write().map_err(|error| config_error(&path, error))
    }

    /// The replica id.
    pub fn replica_id(&self) -> Result<ReplicaId, String> {
        ReplicaId::from_hex(&self.replica_id).map_err(|error| format!("its replica_id: {error}"))
    }
}

fn config_error(path: &Path, detail: impl ToString) -> ClientError {
    ClientError::Config {
        path: path.to_owned(),
        detail: detail.to_string(),
    }
}
