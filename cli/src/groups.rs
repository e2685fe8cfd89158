//! `kafkacc groups ...`.

use crate::args::{ClusterArgs, GroupsArgs, GroupsCommand};
use crate::{CliError, CliResult, connect};
use kafkacc::{Admin, OffsetSpec, TopicPartition};
use std::collections::BTreeMap;

pub(crate) async fn run(cluster: &ClusterArgs, args: GroupsArgs) -> CliResult {
    let admin = Admin::new(connect(cluster).await?);
    match args.command {
        GroupsCommand::List => {
            for g in admin.list_groups().await? {
                println!(
                    "{}\t{}\t{}",
                    g.group_id,
                    if g.state.is_empty() { "-" } else { &g.state },
                    g.protocol_type
                );
            }
        }
        GroupsCommand::Describe { group } => {
            let description = admin.describe_group(&group).await?;
            let offsets = admin.group_offsets(&group).await?;
            println!(
                "group {} state {} assignor {}",
                description.group_id, description.state, description.protocol
            );
            for m in &description.members {
                let parts: Vec<String> = m
                    .assignment
                    .iter()
                    .map(|(t, ps)| format!("{t}{ps:?}"))
                    .collect();
                println!(
                    "  member {} client {} host {} assigned {}",
                    m.member_id,
                    m.client_id,
                    m.client_host,
                    parts.join(" ")
                );
            }
            for topic in Admin::group_topics(&description, &offsets) {
                let ends = admin.list_offsets(&topic, &[], OffsetSpec::Latest).await?;
                let committed = offsets.get(&topic);
                for (partition, end) in ends {
                    let done = committed.and_then(|c| c.get(&partition)).copied();
                    let lag = done.map_or(end, |d| (end - d).max(0));
                    let shown = done.map_or("-".to_owned(), |d| d.to_string());
                    println!("  {topic}/{partition} committed {shown} end {end} lag {lag}");
                }
            }
        }
        GroupsCommand::Delete { group } => {
            for (group, outcome) in admin.delete_groups(&[&group]).await? {
                outcome?;
                println!("deleted group {group}");
            }
        }
        GroupsCommand::ResetOffsets {
            group,
            topic,
            partition,
            to,
        } => {
            let targets = match to.as_str() {
                "earliest" => {
                    admin
                        .list_offsets(&topic, &partition, OffsetSpec::Earliest)
                        .await?
                }
                "latest" => {
                    admin
                        .list_offsets(&topic, &partition, OffsetSpec::Latest)
                        .await?
                }
                other => match other.strip_prefix('@') {
                    Some(ms) => {
                        let ms = number(ms)?;
                        // No record at or after the time: the end.
                        admin
                            .start_offsets(&topic, &partition, OffsetSpec::Timestamp(ms))
                            .await?
                    }
                    None => {
                        let offset = number(other)?;
                        let ends = admin
                            .list_offsets(&topic, &partition, OffsetSpec::Latest)
                            .await?;
                        ends.into_keys().map(|p| (p, offset)).collect()
                    }
                },
            };
            let offsets: BTreeMap<TopicPartition, i64> = targets
                .iter()
                .map(|(p, o)| (TopicPartition::new(&*topic, *p), *o))
                .collect();
            admin.alter_group_offsets(&group, &offsets).await?;
            for (p, o) in targets {
                println!("{group} {topic}/{p} committed {o}");
            }
        }
    }
    Ok(())
}

/// `text` as an i64, or a usage error.
fn number(text: &str) -> Result<i64, CliError> {
    text.parse().map_err(|_| {
        CliError::Usage(format!(
            "expected earliest, latest, an offset or @MS, got {text:?}"
        ))
    })
}
