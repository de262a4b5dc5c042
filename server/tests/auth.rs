//! Black-box tests of token checking: every endpoint but `/healthz` and `/metrics` refuses a
//! request whose bearer token is missing or not one this server issued for Tideline.

mod common;

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use common::*;
use hyper::{Method, StatusCode};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;
use tideline_protocol::http::{CONFLICTS_PATH, LIVE_PATH, SYNC_PATH};
use tideline_protocol::store::MemoryStore;
use tideline_protocol::wire::{encode_frame, ErrorCode, Groups};
use tideline_server::{auth, SECRET_FILE_NAME};
use tideline_testkit::server::{InProcessServer, ServerProcess};

/// The Ed25519 key pair of RFC 8410, section 10.
const ED25519_PRIVATE_PEM: &str = "-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC
-----END PRIVATE KEY-----
";
const ED25519_PUBLIC_PEM: &str = "-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=
-----END PUBLIC KEY-----
";

fn sign(algorithm: Algorithm, key: &EncodingKey, claims: &serde_json::Value) -> String {
    auth::install_crypto_provider();
    jsonwebtoken::encode(&Header::new(algorithm), claims, key).unwrap()
}

fn claims(audience: &str, exp: u64) -> serde_json::Value {
    json!({"sub": "alice", "groups": ["g1"], "aud": audience, "iat": now_s(), "exp": exp})
}

#[tokio::test]
async fn bad_tokens_are_unauthorized() {
    // Guards against any token the server did not issue, or issued for something else,
    // opening a session.
    let server = InProcessServer::start().await;
    let secret = auth::secret_load(&server.data_dir().join(SECRET_FILE_NAME)).unwrap();
    let key = EncodingKey::from_secret(&secret);
    let hour_ahead = now_s() + 3600;

    let alg_none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(claims("tideline", hour_ahead).to_string())
    );
    let cases: Vec<(&str, Option<String>)> = vec![
        ("missing", None),
        ("empty", Some(String::new())),
        ("not a JWT", Some("not-a-token".into())),
        (
            "expired",
            Some(sign(
                Algorithm::HS256,
                &key,
                &claims("tideline", now_s() - 3600),
            )),
        ),
        (
            "wrong key",
            Some(sign(
                Algorithm::HS256,
                &EncodingKey::from_secret(&[0u8; 32]),
                &claims("tideline", hour_ahead),
            )),
        ),
        ("alg none", Some(alg_none)),
        (
            "another algorithm with the right secret",
            Some(sign(
                Algorithm::HS512,
                &key,
                &claims("tideline", hour_ahead),
            )),
        ),
        (
            "wrong audience",
            Some(sign(Algorithm::HS256, &key, &claims("other", hour_ahead))),
        ),
        (
            "no audience",
            Some(sign(
                Algorithm::HS256,
                &key,
                &json!({"sub": "alice", "groups": ["g1"], "exp": hour_ahead}),
            )),
        ),
        (
            "no expiry",
            Some(sign(
                Algorithm::HS256,
                &key,
                &json!({"sub": "alice", "groups": ["g1"], "aud": "tideline"}),
            )),
        ),
        (
            "no groups",
            Some(sign(
                Algorithm::HS256,
                &key,
                &json!({"sub": "alice", "aud": "tideline", "exp": hour_ahead}),
            )),
        ),
    ];
    let body = encode_frame(&push_frame(&Groups::new(["g1"]).unwrap(), salt(1), &[]));
    for (name, token) in cases {
        for (method, path) in [
            (Method::POST, SYNC_PATH),
            (Method::GET, CONFLICTS_PATH),
            (Method::GET, LIVE_PATH),
        ] {
            let body = if method == Method::POST {
                body.clone()
            } else {
                Vec::new()
            };
            let response = request(server.addr(), method, path, token.as_deref(), body).await;
            assert_eq!(
                response.status,
                StatusCode::UNAUTHORIZED,
                "{name} on {path}"
            );
            let error = response.error();
            assert_eq!(error.code, ErrorCode::Unauthorized, "{name} on {path}");
            assert!(!error.message.is_empty());
        }
    }

    // The same claims, signed properly, pass.
    let good = sign(Algorithm::HS256, &key, &claims("tideline", hour_ahead));
    let response = request(server.addr(), Method::POST, SYNC_PATH, Some(&good), body).await;
    assert_eq!(response.status, StatusCode::OK);
    server.stop().await;
}

#[tokio::test]
async fn an_eddsa_server_accepts_only_eddsa_tokens() {
    // Guards against an operator's EdDSA key being bypassed with an HS256 token.
    let server = InProcessServer::start_with(|config| {
        config.jwt_eddsa_public_key_pem = Some(ED25519_PUBLIC_PEM.as_bytes().to_vec());
    })
    .await;
    assert!(
        !server.data_dir().join(SECRET_FILE_NAME).exists(),
        "no HS256 secret is made when EdDSA is configured"
    );
    let private = EncodingKey::from_ed_pem(ED25519_PRIVATE_PEM.as_bytes()).unwrap();
    let eddsa = sign(
        Algorithm::EdDSA,
        &private,
        &claims("tideline", now_s() + 3600),
    );
    let groups = Groups::new(["g1"]).unwrap();
    let mut client = MemoryStore::new();
    tideline_protocol::replica::apply(&mut client, &events(1, "g1", "alice", 5)).unwrap();
    let session = sync_session(server.addr(), &eddsa, &groups, &mut client, salt(1)).await;
    assert!(session.rounds >= 1);

    let hs256 = auth::mint_hs256(
        &[0u8; 32],
        "alice",
        &["g1".to_owned()],
        Duration::from_secs(3600),
        now_s(),
    )
    .unwrap();
    let body = encode_frame(&push_frame(&groups, salt(2), &[]));
    let response = request(server.addr(), Method::POST, SYNC_PATH, Some(&hs256), body).await;
    assert_eq!(response.status, StatusCode::UNAUTHORIZED);
    server.stop().await;
}

#[tokio::test]
async fn the_eddsa_key_flag_takes_pem_text() {
    // Guards against the argument parser taking PEM text, which starts with dashes, for a
    // flag: the help and the spec say the flag takes a file's path or the PEM text itself.
    let mut server = ServerProcess::start(
        env!("CARGO_BIN_EXE_tideline-server"),
        &["--jwt-eddsa-public-key", ED25519_PUBLIC_PEM],
    )
    .await;
    // The server runs with the key it was given: an EdDSA token signed with its private half
    // is accepted.
    let private = EncodingKey::from_ed_pem(ED25519_PRIVATE_PEM.as_bytes()).unwrap();
    let eddsa = sign(
        Algorithm::EdDSA,
        &private,
        &claims("tideline", now_s() + 3600),
    );
    let response = request(
        server.addr(),
        Method::GET,
        CONFLICTS_PATH,
        Some(&eddsa),
        vec![],
    )
    .await;
    assert_eq!(response.status, StatusCode::OK);
    assert!(server.terminate().success());
}
