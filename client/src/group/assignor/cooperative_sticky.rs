//! `cooperative-sticky` (KIP-429): keep what members own where that is
//! balanced, move only what must move, and never hand a partition to a new
//! owner in the same rebalance in which another member still owns it.
//!
//! Steps:
//! 1. **Owners.** A partition's previous owner is the member that claims it
//!    in its subscription's owned partitions with the highest generation;
//!    a tie at that generation (two members claiming it at once) leaves it
//!    without an owner. Claims on partitions that no longer exist or on
//!    topics the member no longer subscribes to are dropped.
//! 2. **Fill.** Unowned partitions, sorted, each go to the least-loaded
//!    subscribed member (ties in Java's member order).
//! 3. **Balance.** While some member has two more partitions than another
//!    that could take one of them, move one from the most to the least
//!    loaded, preferring partitions it did not own before. Each move lowers
//!    the sum of squared loads, so this ends; with uniform subscriptions it
//!    ends balanced within one, having moved the fewest owned partitions.
//! 4. **Two-phase revoke.** A partition whose target member differs from a
//!    member that still claims it is left out of this assignment: the
//!    claimant sees it missing, revokes it, and rejoins; the follow-up
//!    rebalance assigns it (it is then unowned).
//!
//! Differences from Java's `CooperativeStickyAssignor`: no rack awareness,
//! and the balance step is a simple local search (quadratic in members)
//! rather than Java's sorted-set bookkeeping; the outcome for uniform
//! subscriptions is equally balanced and equally sticky.

use super::{
    Assignor, GroupAssignment, MemberSubscription, TopicPartition, empty_assignment,
    java_member_order,
};
use std::collections::{BTreeMap, BTreeSet};

/// The `cooperative-sticky` assignor.
#[derive(Debug, Clone, Copy, Default)]
pub struct CooperativeStickyAssignor;

impl Assignor for CooperativeStickyAssignor {
    fn name(&self) -> &str {
        "cooperative-sticky"
    }

    fn supports_cooperative(&self) -> bool {
        true
    }

    fn assign(
        &self,
        members: &[MemberSubscription],
        partitions_per_topic: &BTreeMap<String, i32>,
    ) -> GroupAssignment {
        let target = sticky_target(members, partitions_per_topic);
        withhold_transfers(members, target)
    }
}

fn exists(tp: &TopicPartition, counts: &BTreeMap<String, i32>) -> bool {
    counts
        .get(&tp.topic)
        .is_some_and(|n| tp.partition >= 0 && tp.partition < *n)
}

/// Steps 1-2-3: the balanced, sticky target assignment (before withholding).
pub(super) fn sticky_target(
    members: &[MemberSubscription],
    counts: &BTreeMap<String, i32>,
) -> GroupAssignment {
    let mut out = empty_assignment(members);
    let order: Vec<&str> = java_member_order(members)
        .iter()
        .map(|m| m.member_id.as_str())
        .collect();
    let by_id: BTreeMap<&str, &MemberSubscription> =
        members.iter().map(|m| (m.member_id.as_str(), m)).collect();

    // 1. Previous owners.
    let mut claims: BTreeMap<&TopicPartition, (i32, Vec<&str>)> = BTreeMap::new();
    for m in members {
        let generation = m.subscription.generation_id;
        for tp in &m.subscription.owned_partitions {
            if !exists(tp, counts) || !m.subscribes_to(&tp.topic) {
                continue;
            }
            let entry = claims.entry(tp).or_insert((generation, Vec::new()));
            if generation > entry.0 {
                *entry = (generation, vec![m.member_id.as_str()]);
            } else if generation == entry.0 && !entry.1.contains(&m.member_id.as_str()) {
                entry.1.push(m.member_id.as_str());
            }
        }
    }
    let mut previous: BTreeMap<TopicPartition, &str> = BTreeMap::new();
    for (tp, (_, owners)) in claims {
        if let [owner] = owners.as_slice() {
            previous.insert(tp.clone(), owner);
            if let Some(parts) = out.get_mut(*owner) {
                parts.insert(tp.clone());
            }
        }
    }

    // 2. Fill: unowned subscribed partitions to the least loaded.
    for (topic, &n) in counts {
        let eligible: Vec<&str> = order
            .iter()
            .copied()
            .filter(|id| by_id[id].subscribes_to(topic))
            .collect();
        if eligible.is_empty() {
            continue;
        }
        for p in 0..n.max(0) {
            let tp = TopicPartition::new(topic.clone(), p);
            if previous.contains_key(&tp) {
                continue;
            }
            let least = eligible
                .iter()
                .min_by_key(|id| out[**id].len())
                .copied()
                .unwrap_or(eligible[0]);
            if let Some(parts) = out.get_mut(least) {
                parts.insert(tp);
            }
        }
    }

    // 3. Balance by moving from the most to the least loaded.
    loop {
        let mut by_load: Vec<&str> = order.clone();
        by_load.sort_by_key(|id| out[*id].len());
        let mut moved = None;
        'search: for heavy in by_load.iter().rev() {
            for light in &by_load {
                if out[*heavy].len() <= out[*light].len() + 1 {
                    break;
                }
                let receiver = by_id[light];
                let candidates = || {
                    out[*heavy]
                        .iter()
                        .filter(|tp| receiver.subscribes_to(&tp.topic))
                };
                // Prefer a partition the heavy member did not own before.
                let pick = candidates()
                    .find(|tp| previous.get(*tp) != Some(heavy))
                    .or_else(|| candidates().next());
                if let Some(tp) = pick {
                    moved = Some((*heavy, *light, tp.clone()));
                    break 'search;
                }
            }
        }
        let Some((from, to, tp)) = moved else { break };
        if let Some(parts) = out.get_mut(from) {
            parts.remove(&tp);
        }
        if let Some(parts) = out.get_mut(to) {
            parts.insert(tp);
        }
    }
    out
}

/// Step 4: drop partitions that another member still claims.
pub(super) fn withhold_transfers(
    members: &[MemberSubscription],
    mut target: GroupAssignment,
) -> GroupAssignment {
    let mut claimants: BTreeMap<&TopicPartition, BTreeSet<&str>> = BTreeMap::new();
    for m in members {
        for tp in &m.subscription.owned_partitions {
            claimants
                .entry(tp)
                .or_default()
                .insert(m.member_id.as_str());
        }
    }
    for (member_id, parts) in target.iter_mut() {
        parts.retain(|tp| {
            claimants
                .get(tp)
                .is_none_or(|c| c.iter().all(|owner| owner == member_id))
        });
    }
    target
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::group::assignor::tests::{check_valid, member, tps};
    use proptest::prelude::*;

    fn owning(
        id: &str,
        topics: &[&str],
        owned: &[(&str, i32)],
        generation: i32,
    ) -> MemberSubscription {
        let mut m = member(id, topics);
        m.subscription.owned_partitions = tps(owned).into_iter().collect();
        m.subscription.generation_id = generation;
        m
    }

    #[test]
    fn new_member_gets_partitions_in_two_phases() {
        let counts = BTreeMap::from([("t".to_owned(), 4)]);
        let a = owning("a", &["t"], &[("t", 0), ("t", 1)], 1);
        let b = owning("b", &["t"], &[("t", 2), ("t", 3)], 1);
        let c = member("c", &["t"]);
        // Phase 1: one of a's or b's partitions must go to c, but is withheld.
        let first = CooperativeStickyAssignor.assign(&[a.clone(), b.clone(), c.clone()], &counts);
        check_valid(&[a.clone(), b.clone(), c.clone()], &counts, &first, false);
        assert!(first["c"].is_empty());
        assert_eq!(
            first["a"].len() + first["b"].len(),
            3,
            "exactly one revoked"
        );
        // Phase 2: the revoker rejoins without it; now c gets it.
        let a2 = owning(
            "a",
            &["t"],
            &first["a"]
                .iter()
                .map(|tp| (tp.topic.as_str(), tp.partition))
                .collect::<Vec<_>>(),
            2,
        );
        let b2 = owning(
            "b",
            &["t"],
            &first["b"]
                .iter()
                .map(|tp| (tp.topic.as_str(), tp.partition))
                .collect::<Vec<_>>(),
            2,
        );
        let second =
            CooperativeStickyAssignor.assign(&[a2.clone(), b2.clone(), c.clone()], &counts);
        check_valid(&[a2, b2, c], &counts, &second, true);
        assert_eq!(second["c"].len(), 1);
        assert_eq!(second["a"], first["a"]);
        assert_eq!(second["b"], first["b"]);
    }

    #[test]
    fn higher_generation_claim_wins_and_ties_are_dropped() {
        let counts = BTreeMap::from([("t".to_owned(), 2)]);
        let a = owning("a", &["t"], &[("t", 0)], 3);
        let b = owning("b", &["t"], &[("t", 0), ("t", 1)], 2);
        let target = sticky_target(&[a.clone(), b.clone()], &counts);
        assert_eq!(target["a"], tps(&[("t", 0)]));
        assert_eq!(target["b"], tps(&[("t", 1)]));
        let c = owning("c", &["t"], &[("t", 1)], 2);
        // b and c both claim t/1 at generation 2: no owner; still assigned once.
        let members = [a, b, c];
        let result = CooperativeStickyAssignor.assign(&members, &counts);
        check_valid(&members, &counts, &result, false);
    }

    /// A valid previous state: members with disjoint owned partitions,
    /// then some leave and some join.
    fn scenario() -> impl Strategy<Value = (Vec<MemberSubscription>, BTreeMap<String, i32>)> {
        (
            proptest::collection::vec(0i32..12, 1..4),
            1usize..7,
            0usize..4,
            proptest::collection::vec(any::<proptest::sample::Index>(), 0..48),
            proptest::collection::vec(any::<bool>(), 7),
        )
            .prop_map(|(topic_sizes, old_members, new_members, owners, leaving)| {
                let names: Vec<String> = (0..topic_sizes.len()).map(|i| format!("t{i}")).collect();
                let counts: BTreeMap<String, i32> =
                    names.iter().cloned().zip(topic_sizes).collect();
                let refs: Vec<&str> = names.iter().map(String::as_str).collect();
                let mut members: Vec<MemberSubscription> = (0..old_members)
                    .map(|i| member(&format!("old{i}"), &refs))
                    .collect();
                let all: Vec<TopicPartition> = counts
                    .iter()
                    .flat_map(|(t, n)| (0..*n).map(move |p| TopicPartition::new(t.clone(), p)))
                    .collect();
                for (tp, owner) in all.iter().zip(owners.iter()) {
                    let m = &mut members[owner.index(old_members)];
                    m.subscription.owned_partitions.push(tp.clone());
                    m.subscription.generation_id = 5;
                }
                let mut kept: Vec<MemberSubscription> = members
                    .into_iter()
                    .enumerate()
                    .filter(|(i, _)| !leaving[*i] || *i == 0)
                    .map(|(_, m)| m)
                    .collect();
                kept.extend((0..new_members).map(|i| member(&format!("new{i}"), &refs)));
                (kept, counts)
            })
    }

    /// The fewest owned partitions any balanced assignment must move.
    fn min_moves(members: &[MemberSubscription], total: usize) -> usize {
        let mut owned: Vec<usize> = members
            .iter()
            .map(|m| m.subscription.owned_partitions.len())
            .collect();
        owned.sort_unstable_by(|a, b| b.cmp(a));
        let n = members.len();
        let (floor, extra) = (total / n, total % n);
        owned
            .iter()
            .enumerate()
            .map(|(i, o)| o.saturating_sub(floor + usize::from(i < extra)))
            .sum()
    }

    proptest! {
        #[test]
        fn sticky_properties((members, counts) in scenario()) {
            let total: usize = counts.values().map(|n| *n as usize).sum();
            // Phase 1.
            let first = CooperativeStickyAssignor.assign(&members, &counts);
            check_valid(&members, &counts, &first, false);
            // Never to a new owner while another member still owns it.
            for (id, parts) in &first {
                for tp in parts {
                    for other in members.iter().filter(|m| &m.member_id != id) {
                        prop_assert!(!other.subscription.owned_partitions.contains(tp), "{tp} to {id} while {} owns it", other.member_id);
                    }
                }
            }
            // Moves no more than needed.
            let revoked: usize = members.iter().map(|m| {
                m.subscription.owned_partitions.iter().filter(|tp| !first[&m.member_id].contains(*tp)).count()
            }).sum();
            prop_assert_eq!(revoked, min_moves(&members, total));
            // Phase 2: members own what they kept; everything lands, balanced.
            let next: Vec<MemberSubscription> = members.iter().map(|m| {
                let mut m = m.clone();
                m.subscription.owned_partitions = first[&m.member_id].iter().cloned().collect();
                m.subscription.generation_id = 6;
                m
            }).collect();
            let second = CooperativeStickyAssignor.assign(&next, &counts);
            check_valid(&next, &counts, &second, true);
            for (id, parts) in &first {
                prop_assert!(parts.is_subset(&second[id]), "phase 2 moved {id}'s partitions");
            }
            let sizes: Vec<usize> = second.values().map(|s| s.len()).collect();
            prop_assert!(sizes.iter().max().unwrap() - sizes.iter().min().unwrap() <= 1);
        }
    }
}
