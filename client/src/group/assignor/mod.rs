//! Partition assignors for the classic group protocol, and the consumer
//! protocol's subscription and assignment bytes they exchange.
//!
//! The group leader decodes every member's [`Subscription`] from the
//! JoinGroup response, runs the [`Assignor`] the coordinator picked (the
//! first protocol every member listed), and sends each member its
//! [`Assignment`] in SyncGroup. The byte layouts are the standard
//! `ConsumerProtocolSubscription` / `ConsumerProtocolAssignment` schemas
//! behind an int16 version, so Java and librdkafka members can share a
//! group with kafkacc members and either side can lead.
//!
//! This module owns the pure assignment logic; it does not know about
//! requests, timers or the member's own state (see `classic.rs`).
//!
//! # References
//! - FACTS.md 10.1 (consumer protocol bytes, assignor names)
//! - `ConsumerProtocolSubscription.json`, `ConsumerProtocolAssignment.json`
//! - KIP-429 (incremental cooperative rebalancing)

mod cooperative_sticky;
mod range;
mod round_robin;

pub use cooperative_sticky::CooperativeStickyAssignor;
pub use range::RangeAssignor;
pub use round_robin::RoundRobinAssignor;

use bytes::{BufMut, Bytes, BytesMut};
use kafkacc_protocol::generated::{consumer_protocol_assignment, consumer_protocol_subscription};
use kafkacc_protocol::messages::{ConsumerProtocolAssignment, ConsumerProtocolSubscription};
use kafkacc_protocol::{DecodeError, EncodeError, StrBytes};
use kafkacc_protocol::{Encode, Message};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// One partition of one topic.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TopicPartition {
    /// Topic name.
    pub topic: String,
    /// Partition index.
    pub partition: i32,
}

impl TopicPartition {
    /// `topic`/`partition`.
    pub fn new(topic: impl Into<String>, partition: i32) -> Self {
        TopicPartition {
            topic: topic.into(),
            partition,
        }
    }
}

impl fmt::Display for TopicPartition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.topic, self.partition)
    }
}

/// How a group moves partitions between members (KIP-429).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum RebalanceProtocol {
    /// Every member gives up everything before rejoining.
    Eager,
    /// Members keep their partitions across a rebalance; only those that
    /// move are revoked, and a follow-up rebalance hands them over.
    Cooperative,
}

/// What a member sends in JoinGroup: the topics it wants and what it owns.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Subscription {
    /// Subscribed topics (sorted, as the Java client sends them).
    pub topics: Vec<String>,
    /// Assignor-specific data.
    pub user_data: Option<Bytes>,
    /// Partitions the member owns now (v1+; empty for eager members).
    pub owned_partitions: Vec<TopicPartition>,
    /// The generation in which it got them (v2+; -1 = unknown).
    pub generation_id: i32,
    /// The member's rack (v3+).
    pub rack_id: Option<String>,
}

/// What a member receives in SyncGroup.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Assignment {
    /// The partitions the member should own.
    pub partitions: Vec<TopicPartition>,
    /// Assignor-specific data.
    pub user_data: Option<Bytes>,
}

/// One member as the leader sees it in the JoinGroup response.
#[derive(Debug, Clone, PartialEq)]
pub struct MemberSubscription {
    /// The member id the coordinator gave it.
    pub member_id: String,
    /// Its `group.instance.id`, for static members.
    pub group_instance_id: Option<String>,
    /// Its decoded subscription.
    pub subscription: Subscription,
}

impl MemberSubscription {
    /// Whether the member subscribes to `topic`.
    pub fn subscribes_to(&self, topic: &str) -> bool {
        self.subscription.topics.iter().any(|t| t == topic)
    }
}

/// The result of an assignment: member id → its partitions. Every member
/// passed in gets an entry, possibly empty.
pub type GroupAssignment = BTreeMap<String, BTreeSet<TopicPartition>>;

/// A partition assignment strategy (`partition.assignment.strategy`).
///
/// Implementations must be deterministic: given the same members and
/// partition counts they return the same assignment, whoever leads.
pub trait Assignor: Send + Sync + fmt::Debug {
    /// The protocol name sent in JoinGroup (`range`, `roundrobin`,
    /// `cooperative-sticky`); it must match other clients' for the same
    /// strategy.
    fn name(&self) -> &str;

    /// The rebalance protocols this assignor supports; the member uses
    /// cooperative only when every configured assignor supports it.
    fn supports_cooperative(&self) -> bool {
        false
    }

    /// Computes the assignment. `partitions_per_topic` holds the partition
    /// count of every topic some member subscribes to that exists.
    fn assign(
        &self,
        members: &[MemberSubscription],
        partitions_per_topic: &BTreeMap<String, i32>,
    ) -> GroupAssignment;
}

/// The consumer-protocol versions this crate writes (the newest it knows;
/// readers of newer versions read the fields they know).
const SUBSCRIPTION_VERSION: i16 = 3;
const ASSIGNMENT_VERSION: i16 = 3;

/// Encodes a subscription as JoinGroup protocol metadata.
pub fn encode_subscription(subscription: &Subscription) -> Result<Bytes, EncodeError> {
    let mut owned: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
    for tp in &subscription.owned_partitions {
        owned
            .entry(tp.topic.as_str())
            .or_default()
            .push(tp.partition);
    }
    let mut topics: Vec<&str> = subscription.topics.iter().map(String::as_str).collect();
    topics.sort_unstable();
    topics.dedup();
    let body = ConsumerProtocolSubscription {
        topics: topics.into_iter().map(StrBytes::from).collect(),
        user_data: subscription.user_data.clone(),
        owned_partitions: owned
            .into_iter()
            .map(
                |(topic, partitions)| consumer_protocol_subscription::TopicPartition {
                    topic: topic.into(),
                    partitions: partitions.into(),
                },
            )
            .collect(),
        generation_id: subscription.generation_id,
        rack_id: subscription.rack_id.as_deref().map(StrBytes::from),
    };
    let mut buf = BytesMut::with_capacity(64);
    buf.put_i16(SUBSCRIPTION_VERSION);
    body.encode(&mut buf, SUBSCRIPTION_VERSION)?;
    Ok(buf.freeze())
}

/// Decodes JoinGroup protocol metadata written by any consumer-protocol
/// client (versions 0 and up; bytes past the known fields are ignored).
pub fn decode_subscription(mut bytes: Bytes) -> Result<Subscription, DecodeError> {
    let body = ConsumerProtocolSubscription::decode_versioned(&mut bytes)?;
    Ok(Subscription {
        topics: body.topics.iter().map(|t| t.as_str().to_owned()).collect(),
        user_data: body.user_data,
        owned_partitions: body
            .owned_partitions
            .iter()
            .flat_map(|t| {
                t.partitions
                    .iter()
                    .map(|p| TopicPartition::new(t.topic.as_str(), *p))
            })
            .collect(),
        generation_id: body.generation_id,
        rack_id: body.rack_id.map(|r| r.as_str().to_owned()),
    })
}

/// Encodes an assignment for SyncGroup.
pub fn encode_assignment(assignment: &Assignment) -> Result<Bytes, EncodeError> {
    let mut by_topic: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
    for tp in &assignment.partitions {
        by_topic
            .entry(tp.topic.as_str())
            .or_default()
            .push(tp.partition);
    }
    let body = ConsumerProtocolAssignment {
        assigned_partitions: by_topic
            .into_iter()
            .map(
                |(topic, partitions)| consumer_protocol_assignment::TopicPartition {
                    topic: topic.into(),
                    partitions: partitions.into(),
                },
            )
            .collect(),
        user_data: assignment.user_data.clone(),
    };
    let mut buf = BytesMut::with_capacity(64);
    buf.put_i16(ASSIGNMENT_VERSION);
    body.encode(&mut buf, ASSIGNMENT_VERSION)?;
    Ok(buf.freeze())
}

/// Decodes SyncGroup assignment bytes. Empty bytes (a member the leader
/// left out) are an empty assignment, as in the Java client.
pub fn decode_assignment(mut bytes: Bytes) -> Result<Assignment, DecodeError> {
    if bytes.is_empty() {
        return Ok(Assignment::default());
    }
    let body = ConsumerProtocolAssignment::decode_versioned(&mut bytes)?;
    Ok(Assignment {
        partitions: body
            .assigned_partitions
            .iter()
            .flat_map(|t| {
                t.partitions
                    .iter()
                    .map(|p| TopicPartition::new(t.topic.as_str(), *p))
            })
            .collect(),
        user_data: body.user_data,
    })
}

/// The member order the Java assignors use (`MemberInfo.compareTo`):
/// static members first by instance id, then dynamic ones by member id.
pub(crate) fn java_member_order(members: &[MemberSubscription]) -> Vec<&MemberSubscription> {
    let mut sorted: Vec<&MemberSubscription> = members.iter().collect();
    sorted.sort_by(|a, b| {
        match (&a.group_instance_id, &b.group_instance_id) {
            (Some(x), Some(y)) => x.cmp(y),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => std::cmp::Ordering::Equal,
        }
        .then_with(|| a.member_id.cmp(&b.member_id))
    });
    sorted
}

/// An empty entry for every member.
pub(crate) fn empty_assignment(members: &[MemberSubscription]) -> GroupAssignment {
    members
        .iter()
        .map(|m| (m.member_id.clone(), BTreeSet::new()))
        .collect()
}

/// The assignors a group config uses by default, as the Java
/// consumer: `[range, cooperative-sticky]`.
pub fn default_assignors() -> Vec<std::sync::Arc<dyn Assignor>> {
    vec![
        std::sync::Arc::new(RangeAssignor),
        std::sync::Arc::new(CooperativeStickyAssignor),
    ]
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    pub(crate) fn member(id: &str, topics: &[&str]) -> MemberSubscription {
        MemberSubscription {
            member_id: id.to_owned(),
            group_instance_id: None,
            subscription: Subscription {
                topics: topics.iter().map(|t| (*t).to_owned()).collect(),
                ..Default::default()
            },
        }
    }

    pub(crate) fn tps(list: &[(&str, i32)]) -> BTreeSet<TopicPartition> {
        list.iter()
            .map(|(t, p)| TopicPartition::new(*t, *p))
            .collect()
    }

    #[test]
    fn subscription_roundtrips_and_is_sorted() {
        let s = Subscription {
            topics: vec!["b".into(), "a".into()],
            user_data: Some(Bytes::from_static(b"x")),
            owned_partitions: vec![TopicPartition::new("a", 1), TopicPartition::new("a", 0)],
            generation_id: 7,
            rack_id: Some("r1".into()),
        };
        let bytes = encode_subscription(&s).unwrap();
        assert_eq!(&bytes[..2], &[0, 3]);
        let back = decode_subscription(bytes).unwrap();
        assert_eq!(back.topics, vec!["a", "b"]);
        assert_eq!(back.generation_id, 7);
        assert_eq!(back.rack_id.as_deref(), Some("r1"));
        assert_eq!(back.owned_partitions.len(), 2);
    }

    #[test]
    fn reads_v0_and_future_versions() {
        // v0 as an old librdkafka writes it: topics + null user data.
        let mut v0 = BytesMut::new();
        v0.put_i16(0);
        v0.put_i32(1);
        v0.put_i16(1);
        v0.put_slice(b"t");
        v0.put_i32(-1);
        let s = decode_subscription(v0.freeze()).unwrap();
        assert_eq!(s.topics, vec!["t"]);
        assert_eq!(s.generation_id, -1);
        // v9 with trailing fields we do not know: read as v3, extra ignored.
        let mut body = BytesMut::new();
        ConsumerProtocolSubscription {
            topics: vec!["t".into()],
            generation_id: 4,
            ..Default::default()
        }
        .encode(&mut body, 3)
        .unwrap();
        let mut v9 = BytesMut::new();
        v9.put_i16(9);
        v9.put_slice(&body);
        v9.put_slice(b"future");
        assert_eq!(decode_subscription(v9.freeze()).unwrap().generation_id, 4);
        assert!(decode_subscription(Bytes::from_static(&[0])).is_err());
        assert!(decode_subscription(Bytes::from_static(&[0xff, 0xff])).is_err());
    }

    #[test]
    fn assignment_roundtrips_and_empty_is_empty() {
        let a = Assignment {
            partitions: vec![TopicPartition::new("t", 2), TopicPartition::new("u", 0)],
            user_data: None,
        };
        let back = decode_assignment(encode_assignment(&a).unwrap()).unwrap();
        assert_eq!(back, a);
        assert_eq!(
            decode_assignment(Bytes::new()).unwrap(),
            Assignment::default()
        );
    }

    #[test]
    fn java_order_puts_static_members_first() {
        let mut a = member("a", &[]);
        let mut z = member("z", &[]);
        z.group_instance_id = Some("i1".into());
        a.group_instance_id = None;
        let members = [a, z, member("b", &[])];
        let order: Vec<&str> = java_member_order(&members)
            .iter()
            .map(|m| m.member_id.as_str())
            .collect();
        assert_eq!(order, vec!["z", "a", "b"]);
    }

    proptest! {
        #[test]
        fn decoders_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = decode_subscription(Bytes::from(bytes.clone()));
            let _ = decode_assignment(Bytes::from(bytes));
        }
    }

    /// Checks every subscribed partition goes to at most one member (exactly
    /// one when `complete`), and only to members subscribed to its topic.
    pub(crate) fn check_valid(
        members: &[MemberSubscription],
        counts: &BTreeMap<String, i32>,
        result: &GroupAssignment,
        complete: bool,
    ) {
        assert_eq!(result.len(), members.len(), "an entry per member");
        let mut seen = BTreeSet::new();
        for (member_id, parts) in result {
            let m = members.iter().find(|m| &m.member_id == member_id).unwrap();
            for tp in parts {
                assert!(
                    m.subscribes_to(&tp.topic),
                    "{member_id} got {tp} unsubscribed"
                );
                assert!(tp.partition < counts[&tp.topic]);
                assert!(seen.insert(tp.clone()), "{tp} assigned twice");
            }
        }
        if complete {
            for (topic, n) in counts {
                if members.iter().any(|m| m.subscribes_to(topic)) {
                    for p in 0..*n {
                        assert!(
                            seen.contains(&TopicPartition::new(topic.clone(), p)),
                            "{topic}/{p} unassigned"
                        );
                    }
                }
            }
        }
    }
}
