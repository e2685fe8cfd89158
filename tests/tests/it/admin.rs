use crate::client;
use kafkacc::{Admin, Error, NewTopic, OffsetSpec};
use kafkacc_protocol::ErrorCode;
use kafkacc_tests::{log_on_failure, unique_name};

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
