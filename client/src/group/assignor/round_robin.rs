//! `roundrobin`: Java's `RoundRobinAssignor`. All partitions of all
//! subscribed topics, sorted by topic then partition, are dealt in turn to
//! the members in Java's member order, skipping members not subscribed to
//! the partition's topic.

use super::{
    Assignor, GroupAssignment, MemberSubscription, TopicPartition, empty_assignment,
    java_member_order,
};
use std::collections::BTreeMap;

/// The `roundrobin` assignor.
#[derive(Debug, Clone, Copy, Default)]
pub struct RoundRobinAssignor;

impl Assignor for RoundRobinAssignor {
    fn name(&self) -> &str {
        "roundrobin"
    }

    fn assign(
        &self,
        members: &[MemberSubscription],
        partitions_per_topic: &BTreeMap<String, i32>,
    ) -> GroupAssignment {
        let mut out = empty_assignment(members);
        let ordered = java_member_order(members);
        if ordered.is_empty() {
            return out;
        }
        let mut next = 0usize;
        for (topic, &count) in partitions_per_topic {
            if !ordered.iter().any(|m| m.subscribes_to(topic)) {
                continue;
            }
            for partition in 0..count.max(0) {
                // Java's CircularIterator: advance to a subscribed member.
                while !ordered[next % ordered.len()].subscribes_to(topic) {
                    next += 1;
                }
                let m = ordered[next % ordered.len()];
                next += 1;
                if let Some(parts) = out.get_mut(&m.member_id) {
                    parts.insert(TopicPartition::new(topic.clone(), partition));
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
    fn matches_java_examples() {
        // RoundRobinAssignor javadoc, example 1.
        let members = [member("C0", &["t0", "t1"]), member("C1", &["t0", "t1"])];
        let counts = BTreeMap::from([("t0".to_owned(), 3), ("t1".to_owned(), 3)]);
        let a = RoundRobinAssignor.assign(&members, &counts);
        assert_eq!(a["C0"], tps(&[("t0", 0), ("t0", 2), ("t1", 1)]));
        assert_eq!(a["C1"], tps(&[("t0", 1), ("t1", 0), ("t1", 2)]));
        // Example 2: C0 on t0; C1 on t0, t1; C2 on t0, t1, t2 (1, 2, 3 partitions).
        let members = [
            member("C0", &["t0"]),
            member("C1", &["t0", "t1"]),
            member("C2", &["t0", "t1", "t2"]),
        ];
        let counts = BTreeMap::from([
            ("t0".to_owned(), 1),
            ("t1".to_owned(), 2),
            ("t2".to_owned(), 3),
        ]);
        let a = RoundRobinAssignor.assign(&members, &counts);
        assert_eq!(a["C0"], tps(&[("t0", 0)]));
        assert_eq!(a["C1"], tps(&[("t1", 0)]));
        assert_eq!(a["C2"], tps(&[("t1", 1), ("t2", 0), ("t2", 1), ("t2", 2)]));
    }

    proptest! {
        #[test]
        fn complete_and_balanced(members in 1usize..8, topics in proptest::collection::vec(0i32..20, 1..4)) {
            let names: Vec<String> = (0..topics.len()).map(|i| format!("t{i}")).collect();
            let refs: Vec<&str> = names.iter().map(String::as_str).collect();
            let ms: Vec<_> = (0..members).map(|i| member(&format!("m{i:02}"), &refs)).collect();
            let counts: BTreeMap<String, i32> = names.iter().cloned().zip(topics.iter().copied()).collect();
            let a = RoundRobinAssignor.assign(&ms, &counts);
            check_valid(&ms, &counts, &a, true);
            let sizes: Vec<usize> = a.values().map(|s| s.len()).collect();
            prop_assert!(sizes.iter().max().unwrap() - sizes.iter().min().unwrap() <= 1);
        }
    }
}
