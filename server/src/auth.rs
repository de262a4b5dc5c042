//! Bearer tokens: JWTs whose claims say who the user is (`sub`, the `creator` their events
//! carry) and which groups they may read and write (`groups`).
//!
//! The server pins one algorithm: HS256 with the 32-byte secret kept in the data directory, or,
//! when the operator configures an Ed25519 public key, EdDSA only. Tokens must carry `exp` and
//! `aud` = [`AUDIENCE`]; `alg: none` and every other algorithm are refused.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use tideline_protocol::wire::Groups;

/// The `aud` claim every token must carry.
pub const AUDIENCE: &str = "tideline";

/// Length of the HS256 secret, in bytes.
pub const SECRET_BYTES: usize = 32;

/// Clock difference tolerated when checking `exp`, in seconds.
pub const EXPIRY_LEEWAY_S: u64 = 30;

/// Makes RustCrypto the process's JWT backend. `jsonwebtoken` infers the backend from its
/// features, and panics at the first signature if two crates in the build enable different
/// ones; installing it explicitly removes the guess. Later calls are no-ops.
pub fn install_crypto_provider() {
    // An error means a provider is installed already, which is what we want.
    let _ = jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER.install_default();
}

/// Why the key that verifies tokens could not be loaded or made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The secret file exists but could not be read.
    #[error("could not read the token secret {}: {source}; check its permissions", path.display())]
    SecretRead {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The secret file does not exist.
    #[error(
        "there is no token secret at {}; start the server once with `tideline-server serve` on \
         this data directory, or pass the right --data-dir",
        path.display()
    )]
    SecretMissing {
        /// The file.
        path: PathBuf,
    },
    /// The secret file could not be written.
    #[error(
        "could not write the token secret {}: {source}; check the data directory's permissions \
         and free space",
        path.display()
    )]
    SecretWrite {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The secret file holds the wrong number of bytes.
    #[error(
        "the token secret {} holds {bytes} bytes but must hold {SECRET_BYTES}; delete it to \
         have a new one made at the next start (tokens signed with the old one stop working)",
        path.display()
    )]
    SecretLength {
        /// The file.
        path: PathBuf,
        /// Its length.
        bytes: usize,
    },
    /// The EdDSA public key is not an Ed25519 public key in PEM.
    #[error(
        "the EdDSA public key is not an Ed25519 public key in PEM ({0}); pass the \
         `-----BEGIN PUBLIC KEY-----` file of your signing key"
    )]
    EdDsaKey(String),
    /// A token could not be signed.
    #[error("could not sign the token: {0}")]
    Mint(String),
}

/// Why a request's token was refused. Every variant is answered with `unauthorized`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// No `Authorization: Bearer` header.
    #[error(
        "no bearer token; send `Authorization: Bearer <token>` (a development token comes from \
         `tideline-server token --user NAME --groups G1,G2`)"
    )]
    Missing,
    /// The token has expired.
    #[error("the token has expired; get a new token")]
    Expired,
    /// The token is signed with another algorithm than the one this server pins.
    #[error("the token is not signed with {expected}, the only algorithm this server accepts; get a token from this server's issuer")]
    Algorithm {
        /// What the server accepts.
        expected: &'static str,
    },
    /// The signature does not verify with this server's key.
    #[error("the token's signature does not verify with this server's key; get a token from this server's issuer")]
    Signature,
    /// The audience is not [`AUDIENCE`].
    #[error("the token's audience (`aud`) is not `{AUDIENCE}`; get a token issued for Tideline")]
    Audience,
    /// A required claim is missing.
    #[error("the token has no `{0}` claim; tokens need `sub`, `groups`, `exp` and `aud`")]
    ClaimMissing(String),
    /// The token does not parse, or its claims have the wrong types.
    #[error("the token is not a valid JWT with Tideline claims ({0}); get a new token")]
    Invalid(String),
}

/// Who a verified token speaks for.
#[derive(Clone, Debug)]
pub struct Identity {
    /// The user: the `creator` every event they send must carry.
    pub user: String,
    /// The groups they may read and write, as the session's group list.
    pub groups: Groups,
    /// The first second (Unix time) in which the server refuses the token: one past its `exp`
    /// plus the tolerated clock skew. A live stream opened with it ends then.
    pub valid_until_s: u64,
}

/// The claims the server reads.
#[derive(Deserialize)]
struct ClaimsRead {
    sub: String,
    groups: Vec<String>,
    exp: u64,
}

/// The claims a minted token carries.
#[derive(Serialize)]
struct ClaimsWritten<'a> {
    sub: &'a str,
    groups: &'a [String],
    aud: &'static str,
    iat: u64,
    exp: u64,
}

/// Checks tokens with the one key and algorithm the server accepts.
pub struct Verifier {
    key: DecodingKey,
    validation: Validation,
    algorithm_name: &'static str,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The key stays out of logs.
        formatter
            .debug_struct("Verifier")
            .field("algorithm", &self.algorithm_name)
            .finish_non_exhaustive()
    }
}

impl Verifier {
    /// Accepts HS256 tokens signed with `secret`, and nothing else.
    pub fn hs256(secret: &[u8]) -> Verifier {
        Verifier {
            key: DecodingKey::from_secret(secret),
            validation: validation(Algorithm::HS256),
            algorithm_name: "HS256",
        }
    }

    /// Accepts EdDSA tokens verified with this Ed25519 public key (PEM), and nothing else.
    pub fn eddsa(public_key_pem: &[u8]) -> Result<Verifier, KeyError> {
        let key = DecodingKey::from_ed_pem(public_key_pem)
            .map_err(|error| KeyError::EdDsaKey(error.to_string()))?;
        Ok(Verifier {
            key,
            validation: validation(Algorithm::EdDSA),
            algorithm_name: "EdDSA",
        })
    }

    /// Verifies a token and returns who it speaks for.
    pub fn verify(&self, token: &str) -> Result<Identity, AuthError> {
        let data = jsonwebtoken::decode::<ClaimsRead>(token, &self.key, &self.validation).map_err(
            |error| match error.kind() {
                ErrorKind::ExpiredSignature => AuthError::Expired,
                ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
                    AuthError::Algorithm {
                        expected: self.algorithm_name,
                    }
                }
                ErrorKind::InvalidSignature => AuthError::Signature,
                ErrorKind::InvalidAudience => AuthError::Audience,
                ErrorKind::MissingRequiredClaim(claim) => AuthError::ClaimMissing(claim.clone()),
                _ => AuthError::Invalid(error.to_string()),
            },
        )?;
        let claims = data.claims;
        if claims.sub.is_empty() {
            return Err(AuthError::ClaimMissing("sub".into()));
        }
        let groups =
            Groups::new(claims.groups).map_err(|error| AuthError::Invalid(error.to_string()))?;
        Ok(Identity {
            user: claims.sub,
            groups,
            valid_until_s: claims.exp.saturating_add(EXPIRY_LEEWAY_S).saturating_add(1),
        })
    }
}

fn validation(algorithm: Algorithm) -> Validation {
    // `Validation::new` pins the list of algorithms to this one.
    let mut validation = Validation::new(algorithm);
    validation.set_audience(&[AUDIENCE]);
    validation.set_required_spec_claims(&["exp", "aud", "sub"]);
    validation.leeway = EXPIRY_LEEWAY_S;
    validation
}

/// Signs an HS256 token for `user` with `groups`, valid from `now_s` (Unix seconds) for `ttl`.
/// For development: production tokens come from the operator's own issuer.
pub fn mint_hs256(
    secret: &[u8],
    user: &str,
    groups: &[String],
    ttl: Duration,
    now_s: u64,
) -> Result<String, KeyError> {
    install_crypto_provider();
    let claims = ClaimsWritten {
        sub: user,
        groups,
        aud: AUDIENCE,
        iat: now_s,
        exp: now_s.saturating_add(ttl.as_secs()),
    };
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret),
    )
    .map_err(|error| KeyError::Mint(error.to_string()))
}

/// Reads the HS256 secret at `path`.
pub fn secret_load(path: &Path) -> Result<Vec<u8>, KeyError> {
    let secret = std::fs::read(path).map_err(|source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            KeyError::SecretMissing {
                path: path.to_owned(),
            }
        } else {
            KeyError::SecretRead {
                path: path.to_owned(),
                source,
            }
        }
    })?;
    if secret.len() != SECRET_BYTES {
        return Err(KeyError::SecretLength {
            path: path.to_owned(),
            bytes: secret.len(),
        });
    }
    Ok(secret)
}

/// Reads the HS256 secret at `path`, or makes a new random one there (mode 0600) if there is
/// none. Returns the secret and whether it was just made.
pub fn secret_load_or_create(path: &Path) -> Result<(Vec<u8>, bool), KeyError> {
    match secret_load(path) {
        Ok(secret) => return Ok((secret, false)),
        Err(KeyError::SecretMissing { .. }) => {}
        Err(error) => return Err(error),
    }
    let secret: [u8; SECRET_BYTES] = rand::random();
    let write_error = |source| KeyError::SecretWrite {
        path: path.to_owned(),
        source,
    };
    // Written whole to a temporary file and renamed into place, so that a crash never leaves
    // a short secret behind.
    let temporary = path.with_extension("key.tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&temporary).map_err(write_error)?;
    file.write_all(&secret).map_err(write_error)?;
    file.sync_all().map_err(write_error)?;
    drop(file);
    std::fs::rename(&temporary, path).map_err(write_error)?;
    if let Some(directory) = path.parent() {
        // The rename is durable only once the directory is synced.
        std::fs::File::open(directory)
            .and_then(|directory| directory.sync_all())
            .map_err(write_error)?;
    }
    Ok((secret.to_vec(), true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_tokens_verify_and_carry_their_claims() {
        // Guards against the development token and the verifier disagreeing on claims.
        let secret = [7u8; SECRET_BYTES];
        let groups = vec!["g2".to_owned(), "g1".to_owned(), "g1".to_owned()];
        let token =
            mint_hs256(&secret, "alice", &groups, Duration::from_secs(60), now_s()).unwrap();
        let identity = Verifier::hs256(&secret).verify(&token).unwrap();
        assert_eq!(identity.user, "alice");
        assert_eq!(identity.groups.names(), ["g1", "g2"]);
        assert_eq!(
            Verifier::hs256(&[8u8; SECRET_BYTES])
                .verify(&token)
                .unwrap_err(),
            AuthError::Signature
        );
    }

    #[test]
    fn secret_is_made_once_with_owner_only_permissions() {
        // Guards against a restart replacing the secret (invalidating every token) or the
        // secret being readable by other users.
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("secret.key");
        let (first, created) = secret_load_or_create(&path).unwrap();
        assert!(created);
        assert_eq!(first.len(), SECRET_BYTES);
        let (second, created) = secret_load_or_create(&path).unwrap();
        assert!(!created);
        assert_eq!(first, second);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(&path, b"short").unwrap();
        assert!(matches!(
            secret_load_or_create(&path),
            Err(KeyError::SecretLength { bytes: 5, .. })
        ));
    }

    fn now_s() -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
    }
}
