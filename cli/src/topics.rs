//! `kafkacc topics ...` and `kafkacc metadata`.

use crate::args::{ClusterArgs, TopicsArgs, TopicsCommand};
use crate::{CliError, CliResult, connect};
use kafkacc::{Admin, ConfigChange, ConfigResource, NewTopic, OffsetSpec};

pub(crate) async fn run(cluster: &ClusterArgs, args: TopicsArgs) -> CliResult {
    let admin = Admin::new(connect(cluster).await?);
    match args.command {
        TopicsCommand::List => {
            for topic in admin.list_topics().await? {
                if !topic.is_internal {
                    println!("{}", topic.name);
                }
            }
        }
        TopicsCommand::Create {
            name,
            partitions,
            replication_factor,
            configs,
        } => {
            let mut topic = NewTopic::new(&name, partitions).replication_factor(replication_factor);
            for config in &configs {
                let (key, value) = key_value(config)?;
                topic = topic.config(key, value);
            }
            admin.create_topic(topic).await?;
            println!("created topic {name} with {partitions} partitions");
        }
        TopicsCommand::Delete { name } => {
            for (topic, result) in admin.delete_topics(&[&name]).await? {
                result?;
                println!("deleted topic {topic}");
            }
        }
        TopicsCommand::Describe { name } => {
            let metadata = admin.describe(&[&name]).await?;
            let topic = metadata
                .topic(&name)
                .ok_or_else(|| kafkacc::Error::UnknownTopic(name.clone()))?;
            let ends = admin.list_offsets(&name, &[], OffsetSpec::Latest).await?;
            println!(
                "topic {} id {} partitions {}",
                topic.name,
                topic.id,
                topic.partitions.len()
            );
            for p in &topic.partitions {
                let end = ends.get(&p.partition).copied().unwrap_or(-1);
                println!(
                    "  partition {} leader {} replicas {:?} isr {:?} end-offset {end}",
                    p.partition, p.leader, p.replicas, p.isr
                );
            }
            // Not every Kafka-compatible broker describes configs.
            match admin.describe_configs(&ConfigResource::Topic(name)).await {
                Ok(entries) => {
                    for e in entries.iter().filter(|e| !e.is_default()) {
                        let value = e.value.as_deref().unwrap_or("(hidden)");
                        println!("  config {}={value} ({:?})", e.name, e.source);
                    }
                }
                Err(e) => println!("  configs unavailable: {e}"),
            }
        }
        TopicsCommand::DeleteRecords {
            name,
            before,
            partition,
        } => {
            let offset = match before.as_str() {
                "end" => -1,
                other => other.parse().map_err(|_| {
                    CliError::Usage(format!("--before takes an offset or end, got {other:?}"))
                })?,
            };
            let partitions = admin
                .list_offsets(&name, &partition, OffsetSpec::Latest)
                .await?;
            let before = partitions.into_keys().map(|p| (p, offset)).collect();
            for (p, low) in admin.delete_records(&name, &before).await? {
                println!("{name}/{p} earliest offset {low}");
            }
        }
        TopicsCommand::Alter { name, set, delete } => {
            let mut changes = Vec::new();
            for entry in &set {
                let (key, value) = key_value(entry)?;
                changes.push((key, ConfigChange::Set(value.to_owned())));
            }
            for key in &delete {
                changes.push((key.as_str(), ConfigChange::Delete));
            }
            if changes.is_empty() {
                return Err(CliError::Usage(
                    "nothing to change: give --set KEY=VALUE or --delete KEY".into(),
                ));
            }
            admin
                .alter_configs(&ConfigResource::Topic(name.clone()), &changes)
                .await?;
            println!(
                "altered {} configuration keys of topic {name}",
                changes.len()
            );
        }
    }
    Ok(())
}

/// `KEY=VALUE` split at the first `=`.
fn key_value(text: &str) -> Result<(&str, &str), CliError> {
    text.split_once('=')
        .filter(|(key, _)| !key.is_empty())
        .ok_or_else(|| CliError::Usage(format!("expected KEY=VALUE, got {text:?}")))
}

pub(crate) async fn metadata(cluster: &ClusterArgs) -> CliResult {
    let client = connect(cluster).await?;
    let metadata = client.refresh_all_metadata().await?;
    println!(
        "cluster {} controller {}",
        metadata.cluster_id.as_deref().unwrap_or("-"),
        metadata.controller_id
    );
    let mut brokers: Vec<_> = metadata.brokers.values().collect();
    brokers.sort_by_key(|b| b.node_id);
    for b in brokers {
        println!(
            "broker {} at {}{}",
            b.node_id,
            b.addr(),
            b.rack
                .as_deref()
                .map(|r| format!(" rack {r}"))
                .unwrap_or_default()
        );
    }
    let mut topics: Vec<_> = metadata
        .topics
        .values()
        .filter(|t| !t.is_internal)
        .collect();
    topics.sort_by(|a, b| a.name.cmp(&b.name));
    for t in topics {
        println!("topic {} partitions {}", t.name, t.partitions.len());
    }
    Ok(())
}
