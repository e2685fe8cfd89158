use crate::client;
use kafkacc::{
    Admin, ConfigChange, ConfigEntry, ConfigResource, ConfigSource, Consumer, ConsumerConfig,
    Error, NewTopic, OffsetSpec, Producer, ProducerConfig, ProducerRecord,
};
use kafkacc_protocol::ErrorCode;
use kafkacc_tests::{log_on_failure, unique_name};
use std::collections::BTreeMap;

#[tokio::test]
async fn create_describe_and_delete_a_topic() {
    let _log = log_on_failure();
    let client = client().await;
    let admin = Admin::new(client.clone());
    let topic = unique_name("admin");
    admin
        .create_topic(NewTopic::new(&topic, 3))
        .await
        .expect("create topic");

    let metadata = admin.describe(&[&topic]).await.expect("metadata");
    let info = metadata.topic(&topic).expect("topic in metadata");
    assert_eq!(info.partitions.len(), 3);
    assert!(
        info.partitions
            .iter()
            .all(|p| p.leader >= 0 && metadata.brokers.contains_key(&p.leader))
    );
    assert_eq!(
        info.partitions
            .iter()
            .map(|p| p.partition)
            .collect::<Vec<_>>(),
        vec![0, 1, 2]
    );

    let again = admin
        .create_topics(&[NewTopic::new(&topic, 3)])
        .await
        .expect("request succeeds");
    match &again[0].1 {
        Err(Error::Broker { code, .. }) => assert_eq!(*code, ErrorCode::TOPIC_ALREADY_EXISTS),
        other => panic!("expected TOPIC_ALREADY_EXISTS, got {other:?}"),
    }

    let listed = admin.list_topics().await.expect("list topics");
    assert!(listed.iter().any(|t| t.name == topic));

    let offsets = admin
        .list_offsets(&topic, &[], OffsetSpec::Latest)
        .await
        .expect("list offsets");
    assert_eq!(offsets.len(), 3);
    assert!(
        offsets.values().all(|o| *o == 0),
        "a new topic is empty: {offsets:?}"
    );

    let deleted = admin.delete_topics(&[&topic]).await.expect("delete");
    assert_eq!(deleted.len(), 1);
    deleted[0].1.as_ref().expect("delete succeeded");
}

/// The value of config `name` in `entries`.
fn value_of<'a>(entries: &'a [ConfigEntry], name: &str) -> Option<&'a str> {
    entries
        .iter()
        .find(|e| e.name == name)
        .and_then(|e| e.value.as_deref())
}

/// `resource`'s configuration once `ready` holds for it (at most 30 s;
/// then the last one, for the caller's assertions to explain).
async fn described_when(
    admin: &Admin,
    resource: &ConfigResource,
    ready: impl Fn(&[ConfigEntry]) -> bool,
) -> Vec<ConfigEntry> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let entries = admin.describe_configs(resource).await.expect("describe");
        if ready(&entries) || std::time::Instant::now() >= deadline {
            return entries;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// Topic configuration: a key set at creation reads back as set on the
/// topic, an incremental change replaces it and leaves the other keys
/// alone, and deleting it falls back to the default. A broker's own
/// configuration is read from that broker.
#[tokio::test]
async fn describe_and_alter_topic_and_broker_configs() {
    let _log = log_on_failure();
    if kafkacc_tests::broker().is_tansu() {
        return kafkacc_tests::skip(
            "describe_and_alter_topic_and_broker_configs",
            "Tansu keeps no topic configuration (broker README deviation 4)",
        );
    }
    let client = client().await;
    let admin = Admin::new(client.clone());
    let topic = unique_name("configs");
    admin
        .create_topic(NewTopic::new(&topic, 1).config("retention.ms", "3600000"))
        .await
        .expect("create topic");
    let resource = ConfigResource::Topic(topic.clone());
    let entries = admin
        .describe_configs(&resource)
        .await
        .expect("describe topic configs");
    let entry = |entries: &[ConfigEntry], name: &str| {
        entries
            .iter()
            .find(|e| e.name == name)
            .cloned()
            .unwrap_or_else(|| panic!("{name} missing from {entries:?}"))
    };
    let retention = entry(&entries, "retention.ms");
    assert_eq!(retention.value.as_deref(), Some("3600000"));
    assert_eq!(retention.source, ConfigSource::DynamicTopic);
    let cleanup = entry(&entries, "cleanup.policy");
    assert!(!cleanup.is_default() || cleanup.value.as_deref() == Some("delete"));

    admin
        .alter_configs(
            &resource,
            &[
                ("retention.ms", ConfigChange::Set("7200000".into())),
                ("max.message.bytes", ConfigChange::Set("2000000".into())),
            ],
        )
        .await
        .expect("alter");
    // A change reaches the broker's view through the metadata log, a
    // moment after the call returns.
    let entries = described_when(&admin, &resource, |e| {
        value_of(e, "retention.ms") == Some("7200000")
    })
    .await;
    assert_eq!(
        entry(&entries, "retention.ms").value.as_deref(),
        Some("7200000")
    );
    let max = entry(&entries, "max.message.bytes");
    assert_eq!(
        (max.value.as_deref(), max.source),
        (Some("2000000"), ConfigSource::DynamicTopic)
    );

    admin
        .alter_configs(&resource, &[("retention.ms", ConfigChange::Delete)])
        .await
        .expect("delete the setting");
    let entries = described_when(&admin, &resource, |e| {
        value_of(e, "retention.ms") != Some("7200000")
    })
    .await;
    let retention = entry(&entries, "retention.ms");
    assert_ne!(
        retention.source,
        ConfigSource::DynamicTopic,
        "{retention:?}"
    );
    assert_ne!(retention.value.as_deref(), Some("7200000"));
    assert_eq!(
        entry(&entries, "max.message.bytes").value.as_deref(),
        Some("2000000"),
        "a key not named keeps its value"
    );

    // An unknown key is refused, and nothing changes.
    let refused = admin
        .alter_configs(
            &resource,
            &[
                ("max.message.bytes", ConfigChange::Set("3000000".into())),
                ("no.such.key", ConfigChange::Set("1".into())),
            ],
        )
        .await;
    assert!(matches!(refused, Err(Error::Broker { .. })), "{refused:?}");
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let entries = admin.describe_configs(&resource).await.expect("describe");
    assert_eq!(
        entry(&entries, "max.message.bytes").value.as_deref(),
        Some("2000000"),
        "all or nothing"
    );

    let node = *client.metadata().brokers.keys().next().expect("a broker");
    let broker = admin
        .describe_configs(&ConfigResource::Broker(node))
        .await
        .expect("describe broker configs");
    let id = entry(&broker, "node.id");
    assert_eq!(id.value, Some(node.to_string()));
    assert!(id.read_only, "{id:?}");
}

/// `start_offsets` (and `Consumer::seek_to`) read a timestamp after a
/// partition's last record as its end, where ListOffsets answers -1.
#[tokio::test]
async fn start_offsets_at_a_time_after_the_last_record_are_the_end() {
    let _log = log_on_failure();
    if kafkacc_tests::broker().is_tansu() {
        kafkacc_tests::skip(
            "start_offsets_at_a_time_after_the_last_record_are_the_end",
            "Tansu looks timestamps up by storage time, not record timestamps",
        );
        return;
    }
    let client = client().await;
    let admin = Admin::new(client.clone());
    let topic = unique_name("start-offsets");
    admin
        .create_topic(NewTopic::new(&topic, 2))
        .await
        .expect("create topic");
    // A minute ago, so that neither retention nor the broker's future
    // timestamp limit touches them; partition 1 stays empty.
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as i64;
    let base = now_ms - 60_000;
    let producer = Producer::new(client.clone(), ProducerConfig::default()).expect("producer");
    for i in 1..=3 {
        let record = ProducerRecord::new(&topic)
            .partition(0)
            .timestamp(base + i * 1_000)
            .value(i.to_string());
        let delivery = producer.send(record).await.expect("send");
        let written = delivery.await.expect("delivered");
        assert_eq!(written.offset, i - 1);
    }

    let between = OffsetSpec::Timestamp(base + 2_500);
    let after = OffsetSpec::Timestamp(base + 10_000);
    let listed = admin.list_offsets(&topic, &[], after).await.expect("list");
    assert_eq!(
        listed.get(&0),
        Some(&-1),
        "ListOffsets: no record at or after"
    );
    let starts = admin
        .start_offsets(&topic, &[], between)
        .await
        .expect("starts");
    assert_eq!(starts, BTreeMap::from([(0, 2), (1, 0)]));
    let starts = admin
        .start_offsets(&topic, &[], after)
        .await
        .expect("starts");
    assert_eq!(starts, BTreeMap::from([(0, 3), (1, 0)]));

    let mut consumer = Consumer::new(client.clone(), ConsumerConfig::default());
    consumer.assign(&topic, &[0]).await.expect("assign");
    consumer.seek_to(&topic, 0, after).await.expect("seek");
    assert_eq!(consumer.position(&topic, 0), Some(3));
    consumer.seek_to(&topic, 0, between).await.expect("seek");
    assert_eq!(consumer.position(&topic, 0), Some(2));
}
