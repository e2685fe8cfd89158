//! `kafkacc groups ...`.

use crate::args::{GroupsArgs, GroupsCommand};
use crate::{CliResult, connect};
use kafkacc::{Admin, OffsetSpec};

pub(crate) async fn run(bootstrap: &str, args: GroupsArgs) -> CliResult {
    let admin = Admin::new(connect(bootstrap).await?);
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
    }
    Ok(())
}
