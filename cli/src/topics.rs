//! `kafkacc topics ...` and `kafkacc metadata`.

use crate::args::{TopicsArgs, TopicsCommand};
use crate::{CliResult, connect};
use kafkacc::{Admin, NewTopic, OffsetSpec};

pub(crate) async fn run(bootstrap: &str, args: TopicsArgs) -> CliResult {
    let admin = Admin::new(connect(bootstrap).await?);
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
        } => {
            admin
                .create_topic(
                    NewTopic::new(&name, partitions).replication_factor(replication_factor),
                )
                .await?;
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
        }
    }
    Ok(())
}

pub(crate) async fn metadata(bootstrap: &str) -> CliResult {
    let client = connect(bootstrap).await?;
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
