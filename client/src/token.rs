//! The claims of the client's own token, read without checking its signature.
//!
//! The server verifies the token on every request; the client only needs to know what the
//! token says (who the user is, which groups it grants) to write events the server will accept
//! and to build the same session groups as the server. Checking the signature here would need
//! the server's secret and would prove nothing the server does not check anyway.

use base64::Engine;
use serde::Deserialize;
use tideline_protocol::limits::CREATOR_BYTES_MAX;

use crate::ClientError;

/// Longest token accepted, in bytes: far above any real JWT, low enough to refuse a file pasted
/// by mistake.
pub const TOKEN_BYTES_MAX: usize = 64 * 1024;

/// What the client reads from its token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claims {
    /// The user id: the `creator` of every event this client writes.
    pub sub: String,
    /// The groups the user may read and write, as the token lists them.
    pub groups: Vec<String>,
    /// When the token expires, in seconds since the Unix epoch, if it says.
    pub exp: Option<u64>,
}

#[derive(Deserialize)]
struct Payload {
    sub: Option<String>,
    groups: Option<Vec<String>>,
    exp: Option<u64>,
}

impl Claims {
    /// Reads the claims from a JWT's payload (its second, base64url-encoded part).
    pub fn from_token(token: &str) -> Result<Claims, ClientError> {
        if token.len() > TOKEN_BYTES_MAX {
            return Err(ClientError::Token(format!(
                "it is {} bytes, over the maximum of {TOKEN_BYTES_MAX}",
                token.len()
            )));
        }
        let parts: Vec<&str> = token.trim().split('.').collect();
        let [_header, payload, _signature] = parts[..] else {
            return Err(ClientError::Token(format!(
                "a JWT has 3 parts separated by '.', this has {}",
                parts.len()
            )));
        };
        // Encoders differ on padding; accept both.
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload.trim_end_matches('='))
            .map_err(|error| {
                ClientError::Token(format!("its payload is not base64url: {error}"))
            })?;
        let payload: Payload = serde_json::from_slice(&payload)
            .map_err(|error| ClientError::Token(format!("its payload is not JSON: {error}")))?;
        let sub = payload
            .sub
            .ok_or_else(|| ClientError::Token("it has no `sub` claim (the user id)".to_owned()))?;
        if !creator_is_valid(&sub) {
            return Err(ClientError::Token(format!(
                "its `sub` claim must be 1 to {CREATOR_BYTES_MAX} printable ASCII characters \
                 without spaces"
            )));
        }
        let groups = payload.groups.ok_or_else(|| {
            ClientError::Token("it has no `groups` claim (the groups it grants)".to_owned())
        })?;
        Ok(Claims {
            sub,
            groups,
            exp: payload.exp,
        })
    }

    /// Whether `group` is one the token grants.
    pub fn grants(&self, group: &str) -> bool {
        self.groups.iter().any(|granted| granted == group)
    }

    /// Refuses a group the token does not grant, with an error that says so.
    pub(crate) fn check_group(&self, group: &str) -> Result<(), ClientError> {
        if self.grants(group) {
            Ok(())
        } else {
            Err(ClientError::GroupNotInToken {
                group: group.to_owned(),
                groups: self.groups.clone(),
            })
        }
    }
}

/// The protocol's rule for an event's creator, which the token's user becomes.
fn creator_is_valid(creator: &str) -> bool {
    (1..=CREATOR_BYTES_MAX).contains(&creator.len())
        && creator.bytes().all(|byte| (0x21..=0x7E).contains(&byte))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(payload: &str) -> String {
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        format!(
            "{}.{}.sig",
            engine.encode(r#"{"alg":"HS256","typ":"JWT"}"#),
            engine.encode(payload)
        )
    }

    #[test]
    fn claims_are_read_from_the_payload() {
        // Guards against reading the wrong part of the token or dropping a claim.
        let claims =
            Claims::from_token(&token(r#"{"sub":"alice","groups":["g1","g2"],"exp":99}"#)).unwrap();
        assert_eq!(claims.sub, "alice");
        assert_eq!(claims.groups, ["g1", "g2"]);
        assert_eq!(claims.exp, Some(99));
        assert!(claims.grants("g2"));
        assert!(!claims.grants("g3"));
    }

    #[test]
    fn bad_tokens_are_refused_with_a_reason() {
        // Guards against a malformed token turning into a confusing failure later, at sync.
        for bad in [
            "not a token".to_owned(),
            "a.b".to_owned(),
            "a.!!!.c".to_owned(),
            token("[1, 2]"),
            token(r#"{"groups":["g"]}"#),
            token(r#"{"sub":"has space","groups":["g"]}"#),
            token(r#"{"sub":"alice"}"#),
            "x".repeat(TOKEN_BYTES_MAX + 1),
        ] {
            let error = Claims::from_token(&bad).unwrap_err();
            assert_eq!(error.code(), "invalid_token", "{bad}: {error}");
        }
    }
}
