//! Security and connection options: the broker address map, TLS, SASL.
//!
//! The TLS and SASL tests run against their own secured Apache Kafka
//! ([`kafkacc_tests::secure_broker`]), whatever broker the rest of the suite uses.

use kafkacc::admin::{AclBinding, AclFilter, AclOperation};
use kafkacc::security::{SaslConfig, TlsConfig};
use kafkacc::{
    Admin, Client, ClientConfig, Consumer, ConsumerConfig, Error, NewTopic, OffsetReset, Producer,
    ProducerConfig, ProducerRecord,
};
use kafkacc_protocol::ErrorCode;
use kafkacc_protocol::generated::metadata_response::MetadataResponseBroker;
use kafkacc_protocol::messages::MetadataResponse;
use kafkacc_protocol::{RequestKind, ResponseKind};
use kafkacc_tests::script::{Reply, ScriptedBroker, api_versions_response};
use kafkacc_tests::secure_broker::{
    PASSWORD, REAUTH_MS, SecureBroker, SecureLogOnFailure, USER, config, refused, secure_broker,
    trusting_test_ca,
};
use kafkacc_tests::unique_name;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Bootstrap and advertised addresses that do not resolve are dialed through
/// the map, which sends them to a scripted broker on 127.0.0.1.
#[tokio::test]
async fn broker_address_map_rewrites_bootstrap_and_metadata_addresses() {
    let broker = ScriptedBroker::start(|_, request| match request {
        RequestKind::ApiVersions(_) => Reply::respond(api_versions_response()),
        RequestKind::Metadata(_) => Reply::respond(ResponseKind::Metadata(MetadataResponse {
            brokers: vec![MetadataResponseBroker {
                node_id: 1,
                host: "advertised.invalid".into(),
                port: 19093,
                ..Default::default()
            }],
            controller_id: 1,
            ..Default::default()
        })),
        _ => Reply::Close,
    })
    .await;
    let port = u16::try_from(broker.port).unwrap();
    let seen: Arc<Mutex<Vec<(String, u16)>>> = Arc::default();
    let record = seen.clone();
    let config = ClientConfig::new("bootstrap.invalid:19092")
        .bootstrap_timeout(Duration::from_secs(10))
        .broker_address_map(move |host, p| {
            record.lock().unwrap().push((host.to_owned(), p));
            ("127.0.0.1".to_owned(), port)
        });
    let client = Client::connect(config)
        .await
        .expect("bootstrap through the map");
    // A second refresh goes to the broker Metadata advertised.
    client
        .refresh_metadata(&[])
        .await
        .expect("refresh through the map");
    let seen = seen.lock().unwrap().clone();
    assert!(
        seen.contains(&("bootstrap.invalid".to_owned(), 19092)),
        "{seen:?}"
    );
    assert!(
        seen.contains(&("advertised.invalid".to_owned(), 19093)),
        "{seen:?}"
    );
}

/// Connects, creates a topic, produces `n` records and reads them back.
async fn produce_and_consume(config: ClientConfig, n: usize) -> Client {
    let client = Client::connect(config).await.expect("connect");
    let topic = unique_name("security");
    Admin::new(client.clone())
        .create_topic(NewTopic::new(&topic, 1))
        .await
        .expect("create topic");
    let producer = Producer::new(client.clone(), ProducerConfig::default()).expect("producer");
    for i in 0..n {
        producer
            .send(ProducerRecord::new(&topic).value(format!("secret-{i}")))
            .await
            .expect("send")
            .await
            .expect("delivered");
    }
    assert_eq!(consume(&client, &topic, n).await, n);
    client
}

/// Reads `topic` from the start until `n` records arrived; returns the count.
async fn consume(client: &Client, topic: &str, n: usize) -> usize {
    let config = ConsumerConfig::default()
        .auto_offset_reset(OffsetReset::Earliest)
        .fetch_max_wait(Duration::from_millis(100));
    let mut consumer = Consumer::new(client.clone(), config);
    consumer.assign(topic, &[]).await.expect("assign");
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seen = 0;
    while seen < n {
        assert!(
            Instant::now() < deadline,
            "only {seen} of {n} records arrived"
        );
        for record in consumer
            .poll(Duration::from_millis(500))
            .await
            .expect("poll")
        {
            assert_eq!(
                record.value.as_deref(),
                Some(format!("secret-{seen}").as_bytes())
            );
            seen += 1;
        }
    }
    seen
}

/// Writes `secret-0`, `secret-1`, ... to `topic` every 200 ms, each
/// delivered before the next, until `until`; returns how many.
async fn produce_until(producer: &Producer, topic: &str, until: Instant) -> usize {
    let mut sent = 0;
    while Instant::now() < until {
        producer
            .send(ProducerRecord::new(topic).value(format!("secret-{sent}")))
            .await
            .expect("send")
            .await
            .expect("delivered across re-authentications");
        sent += 1;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    sent
}

#[tokio::test]
async fn ssl_produce_and_consume() {
    let _log = SecureLogOnFailure;
    let broker = secure_broker();
    produce_and_consume(config(&broker.ssl).tls(trusting_test_ca(broker)), 3).await;
}

/// The CA given as a file path (`TlsConfig::ca_file`), as Java's
/// `ssl.truststore.location`; a path that does not exist is a config error.
#[tokio::test]
async fn ssl_with_the_ca_from_a_file() {
    let _log = SecureLogOnFailure;
    let broker = secure_broker();
    let tls = TlsConfig::ca_file(broker.certs.join("ca.pem")).expect("read the CA file");
    produce_and_consume(config(&broker.ssl).tls(tls), 3).await;
    match TlsConfig::ca_file(broker.certs.join("no-such-ca.pem")) {
        Err(Error::Config(reason)) => assert!(reason.contains("no-such-ca.pem"), "{reason}"),
        other => panic!("expected a config error, got {other:?}"),
    }
}

#[tokio::test]
async fn mtls_with_a_client_certificate() {
    let _log = SecureLogOnFailure;
    let broker = secure_broker();
    let tls = trusting_test_ca(broker)
        .client_cert_pem(broker.pem("client.pem"), broker.pem("client.key"));
    produce_and_consume(config(&broker.mtls).tls(tls), 3).await;
}

#[tokio::test]
async fn mtls_without_a_client_certificate_is_refused() {
    let _log = SecureLogOnFailure;
    let broker = secure_broker();
    let err = refused(config(&broker.mtls).tls(trusting_test_ca(broker))).await;
    assert!(matches!(err, Error::Tls { .. }), "{err:?}");
}

#[tokio::test]
async fn a_broker_certificate_from_another_ca_is_refused() {
    let _log = SecureLogOnFailure;
    let broker = secure_broker();
    let err = refused(config(&broker.ssl).tls(TlsConfig::ca_pem(broker.pem("other-ca.pem")))).await;
    match &err {
        Error::Tls { reason, .. } => assert!(reason.contains("UnknownIssuer"), "{reason}"),
        other => panic!("expected Tls, got {other:?}"),
    }
    // The Mozilla roots do not know the test CA either.
    let err = refused(config(&broker.ssl).tls(TlsConfig::webpki_roots())).await;
    assert!(matches!(err, Error::Tls { .. }), "{err:?}");
    // Nor does the system store (or the machine has none: a config error).
    let err = refused(config(&broker.ssl).tls(TlsConfig::system_roots())).await;
    assert!(
        matches!(err, Error::Tls { .. } | Error::Config(_)),
        "{err:?}"
    );
}

/// The certificate names localhost and 127.0.0.1; reaching the broker as
/// another name (through the address map) must fail verification, unless
/// the expected name is set explicitly.
#[tokio::test]
async fn a_hostname_mismatch_is_refused() {
    let _log = SecureLogOnFailure;
    let broker = secure_broker();
    let port: u16 = broker.ssl.rsplit_once(':').unwrap().1.parse().unwrap();
    let to_broker = move |host: &str, p: u16| {
        if host == "wrong-name.test" {
            ("127.0.0.1".to_owned(), port)
        } else {
            (host.to_owned(), p)
        }
    };
    let mismatched = config(&format!("wrong-name.test:{port}"))
        .broker_address_map(to_broker)
        .tls(trusting_test_ca(broker));
    let err = refused(mismatched).await;
    match &err {
        Error::Tls { reason, .. } => assert!(reason.contains("NotValidForName"), "{reason}"),
        other => panic!("expected Tls, got {other:?}"),
    }
    let named = config(&format!("wrong-name.test:{port}"))
        .broker_address_map(to_broker)
        .tls(trusting_test_ca(broker).server_name("localhost"));
    Client::connect(named)
        .await
        .expect("the certificate names localhost");
}

#[tokio::test]
async fn sasl_plain() {
    let _log = SecureLogOnFailure;
    let broker = secure_broker();
    let sasl = SaslConfig::plain(USER, PASSWORD);
    produce_and_consume(config(&broker.sasl_plaintext).sasl(sasl.clone()), 3).await;
    assert!(sasl.stats().authentications >= 1);
    let err =
        refused(config(&broker.sasl_plaintext).sasl(SaslConfig::plain(USER, "wrong-password")))
            .await;
    assert!(matches!(err, Error::Authentication { .. }), "{err:?}");
    assert!(!format!("{err:?}").contains("wrong-password"), "{err:?}");
}

/// OAUTHBEARER with Kafka's default (unsecured) token validation: a valid
/// token for `alice` produces and consumes; an expired token and a provider
/// that fails are refused with typed errors that carry the reason.
#[tokio::test]
async fn sasl_oauthbearer() {
    let _log = SecureLogOnFailure;
    let broker = secure_broker();
    let sasl = SaslConfig::oauthbearer_unsecured(USER, Duration::from_secs(3600));
    produce_and_consume(config(&broker.sasl_plaintext).sasl(sasl.clone()), 3).await;
    assert!(sasl.stats().authentications >= 1);

    let issued = std::time::SystemTime::now() - Duration::from_secs(7200);
    let expired = kafkacc::security::unsecured_token(USER, issued, Duration::from_secs(60));
    let err = refused(
        config(&broker.sasl_plaintext).sasl(SaslConfig::oauthbearer(move || {
            let token = expired.clone();
            async move { Ok(token) }
        })),
    )
    .await;
    match &err {
        Error::Authentication { reason, .. } => {
            assert!(reason.contains("invalid_token"), "{reason}");
        }
        other => panic!("expected an authentication error, got {other:?}"),
    }

    let err = refused(
        config(&broker.sasl_plaintext).sasl(SaslConfig::oauthbearer(|| async {
            Err("identity provider unreachable".to_owned())
        })),
    )
    .await;
    assert!(
        matches!(&err, Error::Authentication { reason, .. } if reason.contains("identity provider unreachable")),
        "{err:?}"
    );
}

/// On the REAUTH listener an OAUTHBEARER session lasts REAUTH_MS: every
/// re-authentication asks the provider for a token again.
#[tokio::test]
async fn oauthbearer_sessions_are_renewed_with_fresh_tokens() {
    let _log = SecureLogOnFailure;
    let broker = secure_broker();
    let minted = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let counter = minted.clone();
    let sasl = SaslConfig::oauthbearer(move || {
        counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let token = kafkacc::security::unsecured_token(
            USER,
            std::time::SystemTime::now(),
            Duration::from_secs(600),
        );
        async move { Ok(token) }
    });
    let client = Client::connect(config(&broker.reauth).sasl(sasl.clone()))
        .await
        .expect("connect");
    let topic = unique_name("oauth-reauth");
    Admin::new(client.clone())
        .create_topic(NewTopic::new(&topic, 1))
        .await
        .expect("create topic");
    let producer = Producer::new(client.clone(), ProducerConfig::default()).expect("producer");
    let sent = produce_until(
        &producer,
        &topic,
        Instant::now() + Duration::from_millis(REAUTH_MS * 2 + 1000),
    )
    .await;
    let stats = sasl.stats();
    assert!(stats.reauthentications >= 2, "{stats:?}");
    let tokens = minted.load(std::sync::atomic::Ordering::Relaxed);
    assert!(
        tokens >= stats.authentications + stats.reauthentications,
        "a token per authentication: {tokens} for {stats:?}"
    );
    assert_eq!(consume(&client, &topic, sent).await, sent);
}

/// What `user` gets when it writes one record to `topic` (through SASL
/// PLAIN): Ok, or the error of the send or of the delivery.
async fn write_as(broker: &SecureBroker, user: (&str, &str), topic: &str) -> Result<(), Error> {
    let sasl = SaslConfig::plain(user.0, user.1);
    let client = Client::connect(config(&broker.sasl_plaintext).sasl(sasl)).await?;
    let producer_config = ProducerConfig::default().delivery_timeout(Duration::from_secs(5));
    let producer = Producer::new(client.clone(), producer_config)?;
    let outcome = match producer
        .send(ProducerRecord::new(topic).value("secret-acl"))
        .await
    {
        Ok(delivery) => delivery.await.map(|_| ()),
        Err(e) => Err(e),
    };
    client.close();
    outcome
}

/// Polls `check` (bounded): ACL changes reach the broker's authorizer
/// through the metadata log, a moment after the admin call returns.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match check().await {
            Ok(()) => return,
            Err(last) if Instant::now() >= deadline => panic!("{what}: {last}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    }
}

/// ACLs on a real StandardAuthorizer: once alice alone may use a topic, bob
/// is refused with TOPIC_AUTHORIZATION_FAILED while alice still writes;
/// the ACL describes and deletes as created, and after the delete bob may
/// write again.
#[tokio::test]
async fn acls_are_created_enforced_described_and_deleted() {
    let _log = SecureLogOnFailure;
    let broker = secure_broker();
    let alice = (USER, PASSWORD);
    let bob = ("bob", "bob-secret");
    let client =
        Client::connect(config(&broker.sasl_plaintext).sasl(SaslConfig::plain(alice.0, alice.1)))
            .await
            .expect("connect");
    let admin = Admin::new(client.clone());
    let topic = unique_name("acl");
    admin
        .create_topic(NewTopic::new(&topic, 1))
        .await
        .expect("create topic");
    write_as(broker, bob, &topic)
        .await
        .expect("no ACL yet: bob writes");

    let acl = AclBinding::allow_topic(&topic, "User:alice", AclOperation::All);
    admin
        .create_acls(std::slice::from_ref(&acl))
        .await
        .expect("create ACL");
    let described = admin
        .describe_acls(&AclFilter::topic(&topic))
        .await
        .expect("describe");
    assert_eq!(described, vec![acl.clone()]);
    eventually("bob refused", || async {
        match write_as(broker, bob, &topic).await {
            Err(e) if e.code() == Some(ErrorCode::TOPIC_AUTHORIZATION_FAILED) => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    write_as(broker, alice, &topic)
        .await
        .expect("alice is allowed");

    let deleted = admin
        .delete_acls(&[AclFilter::topic(&topic)])
        .await
        .expect("delete");
    assert_eq!(deleted, vec![acl]);
    assert!(
        admin
            .describe_acls(&AclFilter::topic(&topic))
            .await
            .expect("describe")
            .is_empty()
    );
    eventually("bob writes again", || async {
        write_as(broker, bob, &topic)
            .await
            .map_err(|e| e.to_string())
    })
    .await;
}

#[tokio::test]
async fn sasl_scram_sha256() {
    let _log = SecureLogOnFailure;
    let broker = secure_broker();
    produce_and_consume(
        config(&broker.sasl_plaintext).sasl(SaslConfig::scram_sha256(USER, PASSWORD)),
        3,
    )
    .await;
    let err =
        refused(config(&broker.sasl_plaintext).sasl(SaslConfig::scram_sha256(USER, "wrong"))).await;
    assert!(matches!(err, Error::Authentication { .. }), "{err:?}");
    let err =
        refused(config(&broker.sasl_plaintext).sasl(SaslConfig::scram_sha256("nobody", PASSWORD)))
            .await;
    assert!(matches!(err, Error::Authentication { .. }), "{err:?}");
}

#[tokio::test]
async fn sasl_scram_sha512() {
    let _log = SecureLogOnFailure;
    let broker = secure_broker();
    produce_and_consume(
        config(&broker.sasl_plaintext).sasl(SaslConfig::scram_sha512(USER, PASSWORD)),
        3,
    )
    .await;
    let err =
        refused(config(&broker.sasl_plaintext).sasl(SaslConfig::scram_sha512(USER, "wrong"))).await;
    assert!(matches!(err, Error::Authentication { .. }), "{err:?}");
}

#[tokio::test]
async fn sasl_ssl_with_scram_and_plain() {
    let _log = SecureLogOnFailure;
    let broker = secure_broker();
    let over_tls = |sasl| {
        config(&broker.sasl_ssl)
            .tls(trusting_test_ca(broker))
            .sasl(sasl)
    };
    produce_and_consume(over_tls(SaslConfig::scram_sha512(USER, PASSWORD)), 3).await;
    produce_and_consume(over_tls(SaslConfig::plain(USER, PASSWORD)), 1).await;
    let err = refused(over_tls(SaslConfig::plain(USER, "wrong"))).await;
    assert!(matches!(err, Error::Authentication { .. }), "{err:?}");
    // SASL over TLS still checks the certificate.
    let wrong_ca = config(&broker.sasl_ssl)
        .tls(TlsConfig::ca_pem(broker.pem("other-ca.pem")))
        .sasl(SaslConfig::plain(USER, PASSWORD));
    assert!(matches!(refused(wrong_ca).await, Error::Tls { .. }));
}

/// The REAUTH listener ends sessions after REAUTH_MS: the client keeps
/// producing across several session lifetimes on the same connections,
/// re-authenticating them before they expire.
#[tokio::test]
async fn sessions_are_reauthenticated_before_they_expire() {
    let _log = SecureLogOnFailure;
    let broker = secure_broker();
    let sasl = SaslConfig::scram_sha256(USER, PASSWORD);
    let client = Client::connect(config(&broker.reauth).sasl(sasl.clone()))
        .await
        .expect("connect");
    let topic = unique_name("reauth");
    Admin::new(client.clone())
        .create_topic(NewTopic::new(&topic, 1))
        .await
        .expect("create topic");
    let producer = Producer::new(client.clone(), ProducerConfig::default()).expect("producer");
    let periods = 3;
    let sent = produce_until(
        &producer,
        &topic,
        Instant::now() + Duration::from_millis(REAUTH_MS * periods + 1000),
    )
    .await;
    let stats = sasl.stats();
    assert!(
        stats.reauthentications >= periods,
        "expected at least {periods} re-authentications: {stats:?}"
    );
    assert_eq!(consume(&client, &topic, sent).await, sent);
}
