//! Consumer-group administration: list groups, describe one (members and
//! their assignments), read, reset and delete its committed offsets, delete
//! groups.

use super::Admin;
use crate::error::{Error, Result};
use crate::group::assignor::TopicPartition;
use crate::group::assignor::decode_assignment;
use crate::group::coordinator_connection;
use crate::group::io::{Request as GroupRequest, fit_to_version, offset_commit_request};
use crate::net::pool::Lane;
use kafkacc_protocol::generated::offset_delete_request::{
    OffsetDeleteRequestPartition, OffsetDeleteRequestTopic,
};
use kafkacc_protocol::generated::offset_fetch_request::{
    OffsetFetchRequest, OffsetFetchRequestTopic,
};
use kafkacc_protocol::messages::{
    DeleteGroupsRequest, DescribeGroupsRequest, ListGroupsRequest, OffsetCommitRequest,
    OffsetDeleteRequest,
};
use kafkacc_protocol::{ErrorCode, StrBytes};
use std::collections::{BTreeMap, BTreeSet};

/// A group as ListGroups reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupListing {
    /// Group id.
    pub group_id: String,
    /// Protocol type (`consumer` for consumer groups; empty for KIP-848 groups).
    pub protocol_type: String,
    /// State (`Stable`, `Empty`, ...) when the broker reports it.
    pub state: String,
}

/// One member of a described group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMember {
    /// Member id.
    pub member_id: String,
    /// Static instance id, if any.
    pub group_instance_id: Option<String>,
    /// The member's client id.
    pub client_id: String,
    /// The member's host.
    pub client_host: String,
    /// Assigned partitions by topic.
    pub assignment: BTreeMap<String, Vec<i32>>,
}

/// A classic group's state and members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupDescription {
    /// Group id.
    pub group_id: String,
    /// State (`Stable`, `Empty`, `PreparingRebalance`, ...).
    pub state: String,
    /// Assignor in use.
    pub protocol: String,
    /// Members.
    pub members: Vec<GroupMember>,
}

impl Admin {
    /// Every group in the cluster: each broker lists the groups it
    /// coordinates, so all brokers are asked.
    pub async fn list_groups(&self) -> Result<Vec<GroupListing>> {
        let metadata = self.client.refresh_metadata(&[]).await?;
        let mut groups = BTreeMap::new();
        for node in metadata.brokers.keys() {
            let response = self
                .client
                .send_to(*node, Lane::Default, &ListGroupsRequest::default())
                .await?;
            Error::check_code(
                response.error_code,
                || format!("ListGroups node {node}"),
                None,
            )?;
            for g in response.groups {
                let listing = GroupListing {
                    group_id: g.group_id.to_string(),
                    protocol_type: g.protocol_type.to_string(),
                    state: g.group_state.to_string(),
                };
                groups.insert(listing.group_id.clone(), listing);
            }
        }
        Ok(groups.into_values().collect())
    }

    /// A group's state, members and their assignments.
    pub async fn describe_group(&self, group_id: &str) -> Result<GroupDescription> {
        let conn = coordinator_connection(&self.client, group_id).await?;
        let request = DescribeGroupsRequest {
            groups: vec![StrBytes::from(group_id)],
            ..Default::default()
        };
        let response = conn.send(&request).await?;
        let group = response.groups.into_iter().next().ok_or_else(|| {
            Error::broker(
                ErrorCode::UNKNOWN_SERVER_ERROR,
                format!("DescribeGroups {group_id}: empty answer"),
                None,
            )
        })?;
        Error::check_code(
            group.error_code,
            || format!("DescribeGroups {group_id}"),
            group.error_message.as_deref(),
        )?;
        let members = group
            .members
            .into_iter()
            .map(|m| {
                let mut assignment: BTreeMap<String, Vec<i32>> = BTreeMap::new();
                // Only consumer-protocol groups carry assignments we can read.
                if let Ok(decoded) = decode_assignment(m.member_assignment.clone()) {
                    for tp in decoded.partitions {
                        assignment.entry(tp.topic).or_default().push(tp.partition);
                    }
                }
                GroupMember {
                    member_id: m.member_id.to_string(),
                    group_instance_id: m.group_instance_id.map(|i| i.to_string()),
                    client_id: m.client_id.to_string(),
                    client_host: m.client_host.to_string(),
                    assignment,
                }
            })
            .collect();
        Ok(GroupDescription {
            group_id: group.group_id.to_string(),
            state: group.group_state.to_string(),
            protocol: group.protocol_data.to_string(),
            members,
        })
    }

    /// The group's committed offsets for every topic it committed to:
    /// topic → partition → offset.
    pub async fn group_offsets(
        &self,
        group_id: &str,
    ) -> Result<BTreeMap<String, BTreeMap<i32, i64>>> {
        match self.offsets_of(group_id, None).await {
            // Tansu answers the all-topics form with a null topic array,
            // which Kafka never sends and the decoder refuses: ask for every
            // topic of the cluster by name instead.
            Err(Error::Decode { .. }) => {
                let topics = self
                    .list_topics()
                    .await?
                    .into_iter()
                    .filter(|t| !t.is_internal)
                    .map(|t| OffsetFetchRequestTopic {
                        name: t.name.as_str().into(),
                        partition_indexes: t
                            .partitions
                            .iter()
                            .map(|p| p.partition)
                            .collect::<Vec<i32>>()
                            .into(),
                        ..Default::default()
                    })
                    .collect();
                self.offsets_of(group_id, Some(topics)).await
            }
            other => other,
        }
    }

    /// One OffsetFetch for `group_id`: of `topics`, or (None) of all the
    /// group's topics.
    async fn offsets_of(
        &self,
        group_id: &str,
        topics: Option<Vec<OffsetFetchRequestTopic>>,
    ) -> Result<BTreeMap<String, BTreeMap<i32, i64>>> {
        let conn = coordinator_connection(&self.client, group_id).await?;
        // v1-7 carry one group; `topics: None` (v2+) asks for all of them.
        let version = conn.version_of::<OffsetFetchRequest>()?.min(7);
        let request = OffsetFetchRequest {
            group_id: group_id.into(),
            topics,
            ..Default::default()
        };
        let response = conn.send_at(&request, version).await?;
        Error::check_code(
            response.error_code,
            || format!("OffsetFetch {group_id}"),
            None,
        )?;
        let mut out: BTreeMap<String, BTreeMap<i32, i64>> = BTreeMap::new();
        for t in &response.topics {
            for p in &t.partitions {
                if p.committed_offset >= 0 {
                    out.entry(t.name.to_string())
                        .or_default()
                        .insert(p.partition_index, p.committed_offset);
                }
            }
        }
        Ok(out)
    }

    /// Sets a group's committed offsets, to rewind it or skip ahead (what
    /// `kafka-consumer-groups --reset-offsets` does). Other partitions keep
    /// theirs. The group must have no active member: the broker refuses
    /// otherwise (UNKNOWN_MEMBER_ID), since a member would overwrite them.
    pub async fn alter_group_offsets(
        &self,
        group_id: &str,
        offsets: &BTreeMap<TopicPartition, i64>,
    ) -> Result<()> {
        let conn = coordinator_connection(&self.client, group_id).await?;
        // v10 names topics by id; the generation -1 and no member id make
        // it an admin commit.
        let version = conn.version_of::<OffsetCommitRequest>()?.min(9);
        let mut request = offset_commit_request(group_id, None, -1, "", offsets);
        fit_to_version(&mut request, version)?;
        let GroupRequest::OffsetCommit(request) = request else {
            return Err(Error::Config("not an OffsetCommit request".into()));
        };
        let response = conn.send_at(&request, version).await?;
        for t in &response.topics {
            for p in &t.partitions {
                Error::check_code(
                    p.error_code,
                    || format!("OffsetCommit {group_id} {}/{}", t.name, p.partition_index),
                    None,
                )?;
            }
        }
        Ok(())
    }

    /// Deletes a group's committed offsets of `partitions` of `topic`
    /// (OffsetDelete, KIP-496); the broker refuses while a member of the
    /// group is subscribed to the topic (GROUP_SUBSCRIBED_TO_TOPIC).
    pub async fn delete_group_offsets(
        &self,
        group_id: &str,
        topic: &str,
        partitions: &[i32],
    ) -> Result<()> {
        let conn = coordinator_connection(&self.client, group_id).await?;
        let request = OffsetDeleteRequest {
            group_id: group_id.into(),
            topics: vec![OffsetDeleteRequestTopic {
                name: topic.into(),
                partitions: partitions
                    .iter()
                    .map(|p| OffsetDeleteRequestPartition {
                        partition_index: *p,
                    })
                    .collect(),
            }],
        };
        let response = conn.send(&request).await?;
        let context = |code, partition: Option<i32>| {
            let at = partition
                .map(|p| format!(" {topic}/{p}"))
                .unwrap_or_default();
            Error::broker(code, format!("OffsetDelete {group_id}{at}"), None)
        };
        ErrorCode(response.error_code)
            .into_result()
            .map_err(|code| context(code, None))?;
        for t in &response.topics {
            for p in &t.partitions {
                ErrorCode(p.error_code)
                    .into_result()
                    .map_err(|code| context(code, Some(p.partition_index)))?;
            }
        }
        Ok(())
    }

    /// Deletes groups (their committed offsets included); each group's
    /// outcome is returned separately. A group with active members is
    /// refused (NON_EMPTY_GROUP).
    pub async fn delete_groups(&self, group_ids: &[&str]) -> Result<Vec<(String, Result<()>)>> {
        let mut outcomes = Vec::with_capacity(group_ids.len());
        for group_id in group_ids {
            let outcome = async {
                let conn = coordinator_connection(&self.client, group_id).await?;
                let request = DeleteGroupsRequest {
                    groups_names: vec![StrBytes::from(*group_id)],
                    ..Default::default()
                };
                let response = conn.send(&request).await?;
                for r in &response.results {
                    Error::check_code(
                        r.error_code,
                        || format!("DeleteGroups {}", r.group_id),
                        None,
                    )?;
                }
                Ok(())
            }
            .await;
            outcomes.push(((*group_id).to_owned(), outcome));
        }
        Ok(outcomes)
    }

    /// Topics a group is involved with: assigned to a member or committed.
    pub fn group_topics(
        description: &GroupDescription,
        offsets: &BTreeMap<String, BTreeMap<i32, i64>>,
    ) -> BTreeSet<String> {
        description
            .members
            .iter()
            .flat_map(|m| m.assignment.keys().cloned())
            .chain(offsets.keys().cloned())
            .collect()
    }
}
