//! Secrets never reach the client's logs: a test binary of its own, so the
//! capturing subscriber can be the process-wide default from the start
//! and no other test's logging interferes.

#![allow(clippy::unwrap_used)] // test code: a failed lock should fail the test

use kafkacc::security::SaslConfig;
use kafkacc::{Client, Error};
use kafkacc_tests::secure_broker::{
    PASSWORD, SecureLogOnFailure, USER, config, refused, secure_broker, trusting_test_ca,
};
use std::sync::{Arc, Mutex};

/// A `tracing` writer into a shared buffer.
#[derive(Clone, Default)]
struct CapturedLogs(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for CapturedLogs {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Everything the client logs at TRACE while it authenticates with PLAIN
/// and SCRAM (right and wrong passwords, with and without TLS) and then
/// works, captured: no password is in it.
#[tokio::test]
async fn passwords_never_reach_the_logs() {
    let _log = SecureLogOnFailure;
    let broker = secure_broker();
    const WRONG: &str = "wrong-password-Qz7Xk2";
    let logs = CapturedLogs::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    // The global default, set before the client logs anything: a scoped
    // one (`set_default`) can miss events whose callsites another thread
    // registered while only the no-op dispatcher existed.
    tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");

    let good = [
        (
            broker.sasl_plaintext.as_str(),
            SaslConfig::plain(USER, PASSWORD),
        ),
        (
            &broker.sasl_plaintext,
            SaslConfig::scram_sha256(USER, PASSWORD),
        ),
        (
            &broker.sasl_plaintext,
            SaslConfig::scram_sha512(USER, PASSWORD),
        ),
        (&broker.sasl_ssl, SaslConfig::plain(USER, PASSWORD)),
    ];
    for (listener, sasl) in good {
        let mut config = config(listener).sasl(sasl.clone());
        if listener == broker.sasl_ssl {
            config = config.tls(trusting_test_ca(broker));
        }
        let client = Client::connect(config)
            .await
            .unwrap_or_else(|e| panic!("{sasl:?}: {e}"));
        client
            .refresh_all_metadata()
            .await
            .unwrap_or_else(|e| panic!("{sasl:?}: metadata: {e}"));
        client.close();
    }
    for sasl in [
        SaslConfig::plain(USER, WRONG),
        SaslConfig::scram_sha256(USER, WRONG),
        SaslConfig::scram_sha512(USER, WRONG),
    ] {
        let err = refused(config(&broker.sasl_plaintext).sasl(sasl)).await;
        assert!(matches!(err, Error::Authentication { .. }), "{err:?}");
    }

    let logs = String::from_utf8_lossy(&logs.0.lock().unwrap()).into_owned();
    let authenticated = logs.matches("SASL authenticated").count();
    assert!(
        authenticated >= 4,
        "the capture missed the client's logs ({authenticated} authentications seen):\n{logs}"
    );
    assert!(
        logs.contains("TRACE"),
        "nothing at TRACE was captured:\n{logs}"
    );
    for secret in [PASSWORD, WRONG] {
        if let Some(at) = logs.find(secret) {
            let line = logs[..at].rsplit('\n').next().unwrap_or_default();
            panic!("the password {secret:?} is in the logs: {line}{secret}...");
        }
    }
    eprintln!(
        "secrets in logs: none in {} lines ({} bytes) captured at TRACE",
        logs.lines().count(),
        logs.len()
    );
}
