//! `range`: Java's `RangeAssignor`. Per topic, the subscribed members in
//! Java's member order each take a consecutive range of partitions; the
//! first `partitions % members` take one extra.
//!
//! Balance is per topic: with several topics the first members can end up
//! with one extra partition of each.

use super::{
    Assignor, GroupAssignment, MemberSubscription, TopicPartition, empty_assignment,
    java_member_order,
};
use std::collections::BTreeMap;

/// The `range` assignor (the Java consumer's first default).
#[derive(Debug, Clone, Copy, Default)]
pub struct RangeAssignor;

impl Assignor for RangeAssignor {
    fn name(&self) -> &str {
        "range"
    }

    fn assign(
        &self,
        members: &[MemberSubscription],
        partitions_per_topic: &BTreeMap<String, i32>,
    ) -> GroupAssignment {
        let mut out = empty_assignment(members);
        let ordered = java_member_order(members);
        for (topic, &count) in partitions_per_topic {
            let subscribed: Vec<&&MemberSubscription> =
                ordered.iter().filter(|m| m.subscribes_to(topic)).collect();
            if subscribed.is_empty() || count <= 0 {
                continue;
            }
            let n = subscribed.len() as i32;
            let per = count / n;
            let extra = count % n;
            for (i, m) in subscribed.iter().enumerate() {
                let i = i as i32;
                let start = per * i + i.min(extra);
                let len = per + i32::from(i < extra);
                if let Some(parts) = out.get_mut(&m.member_id) {
                    parts.extend(
                        (start..start + len).map(|p| TopicPartition::new(topic.clone(), p)),
                    );
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::group::assignor::tests::{check_valid, member, tps};
    use proptest::prelude::*;

    #[test]
    fn matches_java_example() {
        // The RangeAssignor javadoc: C0, C1 on t0, t1 with 3 partitions each.
        let members = [member("C0", &["t0", "t1"]), member("C1", &["t0", "t1"])];
        let counts = BTreeMap::from([("t0".to_owned(), 3), ("t1".to_owned(), 3)]);
        let a = RangeAssignor.assign(&members, &counts);
        assert_eq!(a["C0"], tps(&[("t0", 0), ("t0", 1), ("t1", 0), ("t1", 1)]));
        assert_eq!(a["C1"], tps(&[("t0", 2), ("t1", 2)]));
    }

    #[test]
    fn unsubscribed_topics_and_members_without_partitions() {
        let members = [
            member("a", &["t"]),
            member("b", &["u"]),
            member("c", &["t"]),
        ];
        let counts = BTreeMap::from([("t".to_owned(), 1), ("u".to_owned(), 2)]);
        let a = RangeAssignor.assign(&members, &counts);
        assert_eq!(a["a"], tps(&[("t", 0)]));
        assert_eq!(a["b"], tps(&[("u", 0), ("u", 1)]));
        assert!(a["c"].is_empty());
    }

    proptest! {
        #[test]
        fn complete_and_balanced_per_topic(members in 1usize..8, topics in proptest::collection::vec(0i32..20, 1..4)) {
            let names: Vec<String> = (0..topics.len()).map(|i| format!("t{i}")).collect();
            let refs: Vec<&str> = names.iter().map(String::as_str).collect();
            let ms: Vec<_> = (0..members).map(|i| member(&format!("m{i:02}"), &refs)).collect();
            let counts: BTreeMap<String, i32> = names.iter().cloned().zip(topics.iter().copied()).collect();
            let a = RangeAssignor.assign(&ms, &counts);
            check_valid(&ms, &counts, &a, true);
            for topic in &names {
                let per: Vec<usize> = a.values().map(|s| s.iter().filter(|tp| &tp.topic == topic).count()).collect();
                let (min, max) = (per.iter().min().unwrap(), per.iter().max().unwrap());
                prop_assert!(max - min <= 1);
            }
        }
    }
}
