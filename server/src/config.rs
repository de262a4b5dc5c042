//! The server's settings: [`ServerConfig`] for [`crate::run`], and [`Settings`], the partial form
//! that flags, environment variables and the optional TOML file each give and that merge into
//! it.
//!
//! Precedence, highest first: a flag, its environment variable, the TOML file, the default.
//! The TOML file uses the long flag names with underscores:
//!
//! ```toml
//! data_dir = "/var/lib/tideline"
//! listen = "0.0.0.0:7700"
//! jwt_eddsa_public_key = "/etc/tideline/jwt.pub.pem"
//! max_skew_ms = 300000
//! frame_bytes_max = 33554432
//! connections_max = 1024
//! header_read_timeout_ms = 10000
//! body_read_timeout_ms = 60000
//! write_timeout_ms = 30000
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use tideline_protocol::limits::{EVENT_BYTES_MAX, FRAME_BYTES_BUDGET, FRAME_BYTES_MAX};

/// Where the server keeps its store and secret unless told otherwise.
pub const DATA_DIR_DEFAULT: &str = "./tideline-data";

/// The address the server listens on unless told otherwise: loopback only, so that a first
/// start exposes nothing.
pub const LISTEN_DEFAULT: &str = "127.0.0.1:7700";

/// How far ahead of the server's clock an event's timestamp may be: five minutes.
pub const MAX_SKEW_MS_DEFAULT: u64 = tideline_protocol::sync::MAX_SKEW_MS;

/// Most connections open at once.
pub const CONNECTIONS_MAX_DEFAULT: usize = 1024;

/// How long a client may take to send a request's headers before the connection is closed,
/// against slowloris.
pub const HEADER_READ_TIMEOUT_MS_DEFAULT: u64 = 10_000;

/// Default of [`ServerConfig::body_read_timeout`], in milliseconds: a frame within the
/// protocol's 4 MiB budget arrives in time at 0.6 Mbit/s, while a client that trickles a body
/// byte by byte to hold a connection (slowloris) is cut off.
pub const BODY_READ_TIMEOUT_MS_DEFAULT: u64 = 60_000;

/// Default of [`ServerConfig::write_timeout`], in milliseconds: a client that reads nothing of
/// a response for this long loses its connection, so that clients which never read their
/// replies cannot hold every connection slot.
pub const WRITE_TIMEOUT_MS_DEFAULT: u64 = 30_000;

/// Smallest `frame_bytes_max` accepted: a sender fills frames up to the protocol's budget and
/// may then add one more event, so a smaller limit would refuse honest frames.
pub const FRAME_BYTES_MAX_FLOOR: usize = FRAME_BYTES_BUDGET + EVENT_BYTES_MAX + 64 * 1024;

/// Why settings are unusable.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The TOML file could not be read.
    #[error("could not read the config file {}: {source}", path.display())]
    FileRead {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The TOML file does not parse, or has an unknown key.
    #[error("the config file {} is not valid: {message}", path.display())]
    FileParse {
        /// The file.
        path: PathBuf,
        /// What the parser said.
        message: String,
    },
    /// The listen address does not parse.
    #[error("listen address `{0}` is not an IP address and port, like 127.0.0.1:7700")]
    Listen(String),
    /// The EdDSA public key file could not be read.
    #[error(
        "could not read the EdDSA public key file {}: {source}; pass a path to a PEM file or \
         the PEM text itself",
        path.display()
    )]
    KeyRead {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A number is out of its range.
    #[error("{name} is {value}, but must be between {min} and {max}")]
    OutOfRange {
        /// The setting.
        name: &'static str,
        /// What was given.
        value: u64,
        /// Smallest allowed.
        min: u64,
        /// Largest allowed.
        max: u64,
    },
}

/// Everything [`crate::run`] needs besides the listener.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Holds the RocksDB store (`store/`) and the HS256 secret (`secret.key`); created on first
    /// start.
    pub data_dir: PathBuf,
    /// When set, the server accepts only EdDSA (Ed25519) tokens verified with this public key
    /// (PEM), and no HS256 secret is used.
    pub jwt_eddsa_public_key_pem: Option<Vec<u8>>,
    /// How far an event's timestamp may be ahead of the server's clock, in milliseconds.
    pub max_skew_ms: u64,
    /// Largest request body, in bytes; at most the protocol's `FRAME_BYTES_MAX`.
    pub frame_bytes_max: usize,
    /// Most connections open at once.
    pub connections_max: usize,
    /// How long a client may take to send a request's headers.
    pub header_read_timeout: Duration,
    /// How long a client may take to send a request's body, once its headers are in.
    pub body_read_timeout: Duration,
    /// How long a write to a client may stay blocked (the client reads nothing) before the
    /// connection is closed.
    pub write_timeout: Duration,
}

impl ServerConfig {
    /// The defaults, with the store and secret in `data_dir`.
    pub fn new(data_dir: impl Into<PathBuf>) -> ServerConfig {
        ServerConfig {
            data_dir: data_dir.into(),
            jwt_eddsa_public_key_pem: None,
            max_skew_ms: MAX_SKEW_MS_DEFAULT,
            frame_bytes_max: FRAME_BYTES_MAX,
            connections_max: CONNECTIONS_MAX_DEFAULT,
            header_read_timeout: Duration::from_millis(HEADER_READ_TIMEOUT_MS_DEFAULT),
            body_read_timeout: Duration::from_millis(BODY_READ_TIMEOUT_MS_DEFAULT),
            write_timeout: Duration::from_millis(WRITE_TIMEOUT_MS_DEFAULT),
        }
    }

    /// Checks every number against its range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        range_check(
            "frame_bytes_max",
            self.frame_bytes_max as u64,
            FRAME_BYTES_MAX_FLOOR as u64,
            FRAME_BYTES_MAX as u64,
        )?;
        range_check("connections_max", self.connections_max as u64, 1, 1 << 20)?;
        // A skew of a day is already far more than any honest clock drifts.
        range_check("max_skew_ms", self.max_skew_ms, 0, 24 * 60 * 60 * 1000)?;
        range_check(
            "header_read_timeout_ms",
            self.header_read_timeout.as_millis() as u64,
            1,
            10 * 60 * 1000,
        )?;
        range_check(
            "body_read_timeout_ms",
            self.body_read_timeout.as_millis() as u64,
            1,
            60 * 60 * 1000,
        )?;
        range_check(
            "write_timeout_ms",
            self.write_timeout.as_millis() as u64,
            1,
            60 * 60 * 1000,
        )?;
        Ok(())
    }
}

fn range_check(name: &'static str, value: u64, min: u64, max: u64) -> Result<(), ConfigError> {
    if !(min..=max).contains(&value) {
        return Err(ConfigError::OutOfRange {
            name,
            value,
            min,
            max,
        });
    }
    Ok(())
}

/// Settings as one source gives them: every field optional, so that sources can be merged
/// with [`Settings::or`] before the defaults fill the rest.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// See [`ServerConfig::data_dir`].
    pub data_dir: Option<PathBuf>,
    /// The address to listen on, like `127.0.0.1:7700`.
    pub listen: Option<String>,
    /// An EdDSA public key: a path to a PEM file, or the PEM text itself.
    pub jwt_eddsa_public_key: Option<String>,
    /// See [`ServerConfig::max_skew_ms`].
    pub max_skew_ms: Option<u64>,
    /// See [`ServerConfig::frame_bytes_max`].
    pub frame_bytes_max: Option<usize>,
    /// See [`ServerConfig::connections_max`].
    pub connections_max: Option<usize>,
    /// See [`ServerConfig::header_read_timeout`], in milliseconds.
    pub header_read_timeout_ms: Option<u64>,
    /// See [`ServerConfig::body_read_timeout`], in milliseconds.
    pub body_read_timeout_ms: Option<u64>,
    /// See [`ServerConfig::write_timeout`], in milliseconds.
    pub write_timeout_ms: Option<u64>,
}

impl Settings {
    /// Reads a TOML file.
    pub fn load(path: &Path) -> Result<Settings, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::FileRead {
            path: path.to_owned(),
            source,
        })?;
        toml::from_str(&text).map_err(|error| ConfigError::FileParse {
            path: path.to_owned(),
            message: error.to_string(),
        })
    }

    /// Each field from `self`, or from `lower` where `self` has none.
    pub fn or(self, lower: Settings) -> Settings {
        Settings {
            data_dir: self.data_dir.or(lower.data_dir),
            listen: self.listen.or(lower.listen),
            jwt_eddsa_public_key: self.jwt_eddsa_public_key.or(lower.jwt_eddsa_public_key),
            max_skew_ms: self.max_skew_ms.or(lower.max_skew_ms),
            frame_bytes_max: self.frame_bytes_max.or(lower.frame_bytes_max),
            connections_max: self.connections_max.or(lower.connections_max),
            header_read_timeout_ms: self.header_read_timeout_ms.or(lower.header_read_timeout_ms),
            body_read_timeout_ms: self.body_read_timeout_ms.or(lower.body_read_timeout_ms),
            write_timeout_ms: self.write_timeout_ms.or(lower.write_timeout_ms),
        }
    }

    /// The data directory, or the default.
    pub fn data_dir(&self) -> PathBuf {
        self.data_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from(DATA_DIR_DEFAULT))
    }

    /// The address to listen on, or the default.
    pub fn listen(&self) -> Result<SocketAddr, ConfigError> {
        let text = self.listen.as_deref().unwrap_or(LISTEN_DEFAULT);
        text.parse()
            .map_err(|_| ConfigError::Listen(text.to_owned()))
    }

    /// The server's configuration: these settings with defaults for the rest, the EdDSA key
    /// read if it names a file, and every number checked.
    pub fn server_config(&self) -> Result<ServerConfig, ConfigError> {
        let mut config = ServerConfig::new(self.data_dir());
        if let Some(key) = &self.jwt_eddsa_public_key {
            config.jwt_eddsa_public_key_pem = Some(pem_read(key)?);
        }
        if let Some(max_skew_ms) = self.max_skew_ms {
            config.max_skew_ms = max_skew_ms;
        }
        if let Some(frame_bytes_max) = self.frame_bytes_max {
            config.frame_bytes_max = frame_bytes_max;
        }
        if let Some(connections_max) = self.connections_max {
            config.connections_max = connections_max;
        }
        if let Some(timeout_ms) = self.body_read_timeout_ms {
            config.body_read_timeout = Duration::from_millis(timeout_ms);
        }
        if let Some(timeout_ms) = self.header_read_timeout_ms {
            config.header_read_timeout = Duration::from_millis(timeout_ms);
        }
        if let Some(timeout_ms) = self.write_timeout_ms {
            config.write_timeout = Duration::from_millis(timeout_ms);
        }
        config.validate()?;
        Ok(config)
    }
}

/// The PEM text itself when `key` holds a PEM block, otherwise the contents of the file it
/// names: an environment variable can then carry either.
fn pem_read(key: &str) -> Result<Vec<u8>, ConfigError> {
    if key.contains("-----BEGIN") {
        return Ok(key.as_bytes().to_vec());
    }
    let path = PathBuf::from(key);
    std::fs::read(&path).map_err(|source| ConfigError::KeyRead { path, source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn higher_sources_win_and_defaults_fill_the_rest() {
        // Guards against a config file overriding a flag, or a missing setting having no value.
        let flags = Settings {
            listen: Some("127.0.0.1:9000".into()),
            ..Settings::default()
        };
        let file: Settings =
            toml::from_str("listen = \"0.0.0.0:1\"\nmax_skew_ms = 1000\nconnections_max = 8\n")
                .unwrap();
        let merged = flags.or(file);
        assert_eq!(merged.listen().unwrap().to_string(), "127.0.0.1:9000");
        let config = merged.server_config().unwrap();
        assert_eq!(config.max_skew_ms, 1000);
        assert_eq!(config.connections_max, 8);
        assert_eq!(config.frame_bytes_max, FRAME_BYTES_MAX);
        assert_eq!(config.data_dir, PathBuf::from(DATA_DIR_DEFAULT));
        assert_eq!(
            Settings::default().listen().unwrap().to_string(),
            LISTEN_DEFAULT
        );
    }

    #[test]
    fn unknown_keys_and_bad_numbers_are_refused() {
        // Guards against a misspelled setting being silently ignored.
        assert!(toml::from_str::<Settings>("data_directory = \"x\"").is_err());
        let too_big = Settings {
            frame_bytes_max: Some(FRAME_BYTES_MAX + 1),
            ..Settings::default()
        };
        assert!(matches!(
            too_big.server_config(),
            Err(ConfigError::OutOfRange {
                name: "frame_bytes_max",
                ..
            })
        ));
        let zero = Settings {
            connections_max: Some(0),
            ..Settings::default()
        };
        assert!(zero.server_config().is_err());
    }
}
