//! SASL authentication of one connection (KIP-43, KIP-152): SaslHandshake v1
//! names the mechanism, then SaslAuthenticate requests carry the
//! mechanism's tokens. PLAIN and OAUTHBEARER take one round (OAUTHBEARER
//! two when the broker refuses the token), SCRAM two.
//!
//! The same exchange re-authenticates a live connection (KIP-368); the
//! caller then holds the connection's send gate so that no other request is
//! written between the handshake and the last SaslAuthenticate.

use crate::error::{Error, Result};
use crate::net::conn::Connection;
use crate::net::scram::{ScramClient, ScramHash};
use crate::security::{SaslConfig, SaslMechanism};
use bytes::Bytes;
use kafkacc_protocol::messages::{
    SaslAuthenticateRequest, SaslAuthenticateResponse, SaslHandshakeRequest,
};
use kafkacc_protocol::{ErrorCode, StrBytes};
use std::time::Duration;

/// Runs the whole exchange on `conn`. Returns the session lifetime the
/// broker granted (`None`: unlimited, no re-authentication needed).
pub(crate) async fn authenticate(
    conn: &Connection,
    sasl: &SaslConfig,
    reauthentication: bool,
) -> Result<Option<Duration>> {
    let fail = |reason: String| Error::Authentication {
        addr: conn.addr().to_owned(),
        reason,
    };
    let handshake_version = conn.version_of::<SaslHandshakeRequest>()?;
    if handshake_version < 1 {
        return Err(fail(
            "the broker offers only SaslHandshake v0 (unframed SASL), which kafkacc does not speak"
                .into(),
        ));
    }
    let handshake = SaslHandshakeRequest {
        mechanism: StrBytes::from(sasl.mechanism.name()),
    };
    let response = conn.send_exclusive(&handshake, handshake_version).await?;
    if response.error_code != 0 {
        let enabled: Vec<&str> = response.mechanisms.iter().map(|m| &**m).collect();
        return Err(fail(format!(
            "{} for {} (the broker enables {enabled:?})",
            ErrorCode(response.error_code),
            sasl.mechanism
        )));
    }
    let version = conn.version_of::<SaslAuthenticateRequest>()?;
    let last = match sasl.mechanism {
        SaslMechanism::Plain => {
            let token = format!("\0{}\0{}", sasl.username, sasl.password());
            round(conn, version, token.into_bytes(), &fail).await?
        }
        SaslMechanism::ScramSha256 => scram(conn, version, sasl, ScramHash::Sha256, &fail).await?,
        SaslMechanism::ScramSha512 => scram(conn, version, sasl, ScramHash::Sha512, &fail).await?,
        SaslMechanism::OAuthBearer => oauthbearer(conn, version, sasl, &fail).await?,
    };
    sasl.count_authentication(reauthentication);
    tracing::debug!(
        broker = conn.addr(),
        mechanism = %sasl.mechanism,
        reauthentication,
        session_lifetime_ms = last.session_lifetime_ms,
        "SASL authenticated"
    );
    Ok(u64::try_from(last.session_lifetime_ms)
        .ok()
        .filter(|ms| *ms > 0)
        .map(Duration::from_millis))
}

async fn scram(
    conn: &Connection,
    version: i16,
    sasl: &SaslConfig,
    hash: ScramHash,
    fail: &impl Fn(String) -> Error,
) -> Result<SaslAuthenticateResponse> {
    let scram_error = |e: crate::net::scram::ScramError| fail(format!("SCRAM: {e}"));
    let client = ScramClient::new(hash, &sasl.username, sasl.password());
    let server_first = round(conn, version, client.client_first().into_bytes(), fail).await?;
    let (client_final, check) = client
        .handle_server_first(&server_first.auth_bytes)
        .map_err(scram_error)?;
    let server_final = round(conn, version, client_final.into_bytes(), fail).await?;
    check
        .verify(&server_final.auth_bytes)
        .map_err(scram_error)?;
    Ok(server_final)
}

/// OAUTHBEARER (RFC 7628): the token in the client's first message. A
/// broker that accepts it answers with nothing; one that refuses it answers
/// with a JSON error, to which the client replies with a lone separator
/// before the broker ends the exchange with an error.
async fn oauthbearer(
    conn: &Connection,
    version: i16,
    sasl: &SaslConfig,
    fail: &impl Fn(String) -> Error,
) -> Result<SaslAuthenticateResponse> {
    let token = sasl
        .oauthbearer_token()
        .await
        .map_err(|e| fail(format!("OAUTHBEARER token provider: {e}")))?;
    let first = oauthbearer_first_message(&token, sasl.extensions()).map_err(&fail)?;
    let response = round(conn, version, first, fail).await?;
    if response.auth_bytes.is_empty() {
        return Ok(response);
    }
    let challenge = String::from_utf8_lossy(&response.auth_bytes).into_owned();
    // The broker ends the exchange with an error either way.
    let _ = round(conn, version, vec![SEPARATOR], fail).await;
    Err(fail(format!("OAUTHBEARER token refused: {challenge}")))
}

/// RFC 7628's key/value separator (Ctrl-A).
const SEPARATOR: u8 = 0x01;

/// The OAUTHBEARER client's first message: the GS2 header, the token and
/// the extensions, each followed by a separator, then a final separator.
fn oauthbearer_first_message(
    token: &str,
    extensions: &[(String, String)],
) -> std::result::Result<Vec<u8>, String> {
    // RFC 6750 b64token: the characters a bearer token may have.
    let b64token = token.trim_end_matches('=');
    let valid_token = !b64token.is_empty()
        && b64token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b));
    if !valid_token {
        return Err(
            "OAUTHBEARER token is empty or has characters a bearer token cannot have".into(),
        );
    }
    let mut message = format!("n,,{}auth=Bearer {token}", SEPARATOR as char);
    for (key, value) in extensions {
        if key.is_empty() || !key.bytes().all(|b| b.is_ascii_alphabetic()) || key == "auth" {
            return Err(format!(
                "SASL extension name {key:?}: letters only, not \"auth\""
            ));
        }
        // RFC 7628 value: printable ASCII, space, tab, CR, LF.
        if !value
            .bytes()
            .all(|b| (0x20..0x7f).contains(&b) || b"\t\r\n".contains(&b))
        {
            return Err(format!(
                "SASL extension {key}: the value has characters it cannot have"
            ));
        }
        message.push(SEPARATOR as char);
        message.push_str(&format!("{key}={value}"));
    }
    message.push(SEPARATOR as char);
    message.push(SEPARATOR as char);
    Ok(message.into_bytes())
}

/// One SaslAuthenticate round trip; a broker error fails authentication.
async fn round(
    conn: &Connection,
    version: i16,
    token: Vec<u8>,
    fail: &impl Fn(String) -> Error,
) -> Result<SaslAuthenticateResponse> {
    let request = SaslAuthenticateRequest {
        auth_bytes: Bytes::from(token),
        ..Default::default()
    };
    let response = conn.send_exclusive(&request, version).await?;
    if response.error_code != 0 {
        let message = response.error_message.as_deref().unwrap_or("no message");
        return Err(fail(format!(
            "{}: {message}",
            ErrorCode(response.error_code)
        )));
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::conn::ConnConfig;
    use crate::net::scram::tests::server_side;
    use crate::net::scripted::{api_versions, serve_one};
    use kafkacc_protocol::ApiKey;
    use kafkacc_protocol::messages::{ApiVersionsRequest, SaslHandshakeResponse};
    use kafkacc_protocol::{RequestKind, ResponseKind};
    use std::sync::{Arc, Mutex};

    fn conn_config(sasl: &SaslConfig) -> ConnConfig {
        ConnConfig {
            client_id: "test".into(),
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(5),
            max_response_size: 1 << 20,
            address_map: None,
            tls: None,
            sasl: Some(sasl.clone()),
            dialer: None,
        }
    }

    fn handshake_ok() -> Option<ResponseKind> {
        Some(ResponseKind::SaslHandshake(SaslHandshakeResponse {
            mechanisms: vec![
                "PLAIN".into(),
                "SCRAM-SHA-256".into(),
                "SCRAM-SHA-512".into(),
            ],
            ..Default::default()
        }))
    }

    fn authenticate_reply(
        auth_bytes: &str,
        error_code: i16,
        lifetime_ms: i64,
    ) -> Option<ResponseKind> {
        Some(ResponseKind::SaslAuthenticate(SaslAuthenticateResponse {
            error_code,
            error_message: (error_code != 0)
                .then(|| "Authentication failed: Invalid username or password".into()),
            auth_bytes: Bytes::copy_from_slice(auth_bytes.as_bytes()),
            session_lifetime_ms: lifetime_ms,
            ..Default::default()
        }))
    }

    /// A broker that runs SCRAM with `hash` exactly: it checks the
    /// mechanism, the client's first and final messages against its own
    /// computation, and sends `server_final` (or the right signature).
    async fn scram_broker(
        hash: ScramHash,
        mechanism: &'static str,
        corrupt_signature: bool,
    ) -> String {
        let mut expected_final = None;
        let mut server_final = String::new();
        serve_one(move |_, request| match request {
            RequestKind::ApiVersions(_) => Some(api_versions()),
            RequestKind::SaslHandshake(r) => {
                assert_eq!(&*r.mechanism, mechanism);
                handshake_ok()
            }
            RequestKind::SaslAuthenticate(r) => {
                let message = std::str::from_utf8(&r.auth_bytes).unwrap().to_owned();
                match expected_final.take() {
                    None => {
                        assert!(message.starts_with("n,,n=alice,r="), "{message}");
                        let (first, client_final, last) = server_side(
                            hash,
                            "alice-secret",
                            &message,
                            "SERVERNONCE",
                            b"salt-bytes",
                        );
                        expected_final = Some(client_final);
                        server_final = if corrupt_signature {
                            "v=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=".into()
                        } else {
                            last
                        };
                        authenticate_reply(&first, 0, 0)
                    }
                    Some(expected) => {
                        assert_eq!(message, expected, "client-final message");
                        authenticate_reply(&server_final, 0, 0)
                    }
                }
            }
            _ => None,
        })
        .await
    }

    #[test]
    fn oauthbearer_first_message_is_rfc_7628s() {
        let message = oauthbearer_first_message("eyJh.eyJz.", &[]).unwrap();
        assert_eq!(message, b"n,,\x01auth=Bearer eyJh.eyJz.\x01\x01");
        let extensions = [
            ("logicalCluster".to_owned(), "lkc-1".to_owned()),
            ("identityPoolId".to_owned(), "pool 2".to_owned()),
        ];
        let message = oauthbearer_first_message("abc", &extensions).unwrap();
        assert_eq!(
            message,
            b"n,,\x01auth=Bearer abc\x01logicalCluster=lkc-1\x01identityPoolId=pool 2\x01\x01"
        );
        for token in ["", "a b", "a\x01b", "=="] {
            assert!(oauthbearer_first_message(token, &[]).is_err(), "{token:?}");
        }
        for (key, value) in [("auth", "x"), ("bad-key", "x"), ("", "x"), ("ok", "a\x01b")] {
            let bad = [(key.to_owned(), value.to_owned())];
            assert!(
                oauthbearer_first_message("abc", &bad).is_err(),
                "{key:?}={value:?}"
            );
        }
    }

    /// A broker that checks the OAUTHBEARER first message and either
    /// accepts it or answers with RFC 7628's JSON error, then fails the
    /// client's separator reply.
    async fn oauthbearer_broker(accept: bool, seen: Arc<Mutex<Vec<Vec<u8>>>>) -> String {
        serve_one(move |_, request| match request {
            RequestKind::ApiVersions(_) => Some(api_versions()),
            RequestKind::SaslHandshake(r) => {
                assert_eq!(&*r.mechanism, "OAUTHBEARER");
                handshake_ok()
            }
            RequestKind::SaslAuthenticate(r) => {
                let mut seen = seen.lock().unwrap();
                seen.push(r.auth_bytes.to_vec());
                match (accept, seen.len()) {
                    (true, _) => authenticate_reply("", 0, 60_000),
                    (false, 1) => authenticate_reply(r#"{"status":"invalid_token"}"#, 0, 0),
                    (false, _) => authenticate_reply("", 58, 0),
                }
            }
            _ => None,
        })
        .await
    }

    #[tokio::test]
    async fn oauthbearer_exchange_against_a_scripted_broker() {
        let sasl = SaslConfig::oauthbearer(|| async { Ok("T0KEN".to_owned()) });
        let seen = Arc::new(Mutex::new(Vec::new()));
        let addr = oauthbearer_broker(true, seen.clone()).await;
        Connection::connect(&addr, conn_config(&sasl))
            .await
            .unwrap();
        assert_eq!(sasl.stats().authentications, 1);
        assert_eq!(
            *seen.lock().unwrap(),
            vec![b"n,,\x01auth=Bearer T0KEN\x01\x01".to_vec()]
        );

        let seen = Arc::new(Mutex::new(Vec::new()));
        let addr = oauthbearer_broker(false, seen.clone()).await;
        let refused = Connection::connect(&addr, conn_config(&sasl)).await;
        match refused {
            Err(Error::Authentication { reason, .. }) => {
                assert!(reason.contains("invalid_token"), "{reason}");
            }
            other => panic!("expected an authentication error, got {other:?}"),
        }
        {
            let seen = seen.lock().unwrap();
            assert_eq!(seen.len(), 2, "the client answers the error challenge");
            assert_eq!(seen[1], vec![SEPARATOR]);
        }

        let failing =
            SaslConfig::oauthbearer(|| async { Err("identity provider down".to_owned()) });
        let addr = oauthbearer_broker(true, Arc::new(Mutex::new(Vec::new()))).await;
        match Connection::connect(&addr, conn_config(&failing)).await {
            Err(Error::Authentication { reason, .. }) => {
                assert!(reason.contains("identity provider down"), "{reason}");
            }
            other => panic!("expected an authentication error, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn scram_sha256_exchange_against_a_scripted_broker() {
        let sasl = SaslConfig::scram_sha256("alice", "alice-secret");
        let addr = scram_broker(ScramHash::Sha256, "SCRAM-SHA-256", false).await;
        let conn = Connection::connect(&addr, conn_config(&sasl))
            .await
            .unwrap();
        assert_eq!(sasl.stats().authentications, 1);
        conn.send(&ApiVersionsRequest::default()).await.unwrap();
    }

    #[tokio::test]
    async fn scram_sha512_exchange_against_a_scripted_broker() {
        let sasl = SaslConfig::scram_sha512("alice", "alice-secret");
        let addr = scram_broker(ScramHash::Sha512, "SCRAM-SHA-512", false).await;
        Connection::connect(&addr, conn_config(&sasl))
            .await
            .unwrap();
        assert_eq!(sasl.stats().authentications, 1);
    }

    #[tokio::test]
    async fn a_broker_without_the_right_server_signature_is_refused() {
        let sasl = SaslConfig::scram_sha256("alice", "alice-secret");
        let addr = scram_broker(ScramHash::Sha256, "SCRAM-SHA-256", true).await;
        let err = Connection::connect(&addr, conn_config(&sasl))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Authentication { .. }), "{err:?}");
        assert!(!err.is_retriable());
        assert_eq!(sasl.stats().authentications, 0);
    }

    #[tokio::test]
    async fn a_refused_password_is_a_fatal_authentication_error() {
        let sasl = SaslConfig::plain("alice", "wrong");
        let addr = serve_one(|_, request| match request {
            RequestKind::ApiVersions(_) => Some(api_versions()),
            RequestKind::SaslHandshake(_) => handshake_ok(),
            RequestKind::SaslAuthenticate(r) => {
                assert_eq!(&r.auth_bytes[..], b"\0alice\0wrong");
                authenticate_reply("", ErrorCode::SASL_AUTHENTICATION_FAILED.0, 0)
            }
            _ => None,
        })
        .await;
        let err = Connection::connect(&addr, conn_config(&sasl))
            .await
            .unwrap_err();
        match &err {
            Error::Authentication { reason, .. } => {
                assert!(reason.contains("SASL_AUTHENTICATION_FAILED"), "{reason}")
            }
            other => panic!("expected Authentication, got {other:?}"),
        }
        assert!(!format!("{err:?} {err}").contains("wrong"), "{err:?}");
    }

    #[tokio::test]
    async fn a_mechanism_the_broker_does_not_enable_is_refused() {
        let sasl = SaslConfig::scram_sha512("alice", "x");
        let addr = serve_one(|_, request| match request {
            RequestKind::ApiVersions(_) => Some(api_versions()),
            RequestKind::SaslHandshake(_) => {
                Some(ResponseKind::SaslHandshake(SaslHandshakeResponse {
                    error_code: ErrorCode::UNSUPPORTED_SASL_MECHANISM.0,
                    mechanisms: vec!["PLAIN".into()],
                }))
            }
            _ => None,
        })
        .await;
        let err = Connection::connect(&addr, conn_config(&sasl))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Authentication { .. }), "{err:?}");
        assert!(err.to_string().contains("PLAIN"), "{err}");
    }

    /// With a session lifetime the connection re-authenticates by itself,
    /// and no other request ever lands between SaslHandshake and
    /// SaslAuthenticate although callers keep sending.
    #[tokio::test]
    async fn sessions_are_renewed_without_interleaved_requests() {
        let sasl = SaslConfig::plain("alice", "alice-secret");
        let log: Arc<Mutex<Vec<ApiKey>>> = Arc::default();
        let record = log.clone();
        let addr = serve_one(move |header, request| {
            let mut log = record.lock().unwrap();
            if log.last() == Some(&ApiKey::SaslHandshake) {
                assert_eq!(
                    header.api_key,
                    ApiKey::SaslAuthenticate,
                    "interleaved: {log:?}"
                );
            }
            log.push(header.api_key);
            match request {
                RequestKind::ApiVersions(_) => Some(api_versions()),
                RequestKind::SaslHandshake(_) => handshake_ok(),
                RequestKind::SaslAuthenticate(_) => authenticate_reply("", 0, 200),
                _ => None,
            }
        })
        .await;
        let conn = Connection::connect(&addr, conn_config(&sasl))
            .await
            .unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while sasl.stats().reauthentications < 3 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "no re-authentication"
            );
            conn.send(&ApiVersionsRequest::default()).await.unwrap();
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(sasl.stats().authentications, 1);
        conn.close();
    }
}
