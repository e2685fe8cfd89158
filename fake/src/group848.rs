//! A KIP-848 consumer group (`group.protocol=consumer`): the broker
//! assigns. Sans-io: heartbeats and timers take the time as an argument;
//! topic layouts (name → partition count) come from the caller.
//!
//! ```text
//! heartbeat(epoch 0)    join: subscription recorded, group epoch + 1
//! heartbeat(epoch -1/-2) leave: group epoch + 1
//! subscription or topic layout change: group epoch + 1
//! group epoch > assignment epoch: new target assignment (uniform)
//! member reconciliation, per heartbeat:
//!   owns partitions outside its target -> told to keep only target ∩ owned
//!                                         (same member epoch) until it acks
//!   otherwise                          -> member epoch = assignment epoch,
//!                                         told target minus partitions other
//!                                         members still hold
//! ```

use std::collections::{BTreeMap, BTreeSet};

/// A (topic, partition).
pub(crate) type Tp = (String, i32);

/// One heartbeat, decoded (topic names already resolved).
#[derive(Debug, Clone)]
pub(crate) struct Heartbeat {
    pub member_id: String,
    pub member_epoch: i32,
    pub instance_id: Option<String>,
    pub subscribed: Option<Vec<String>>,
    pub owned: Option<BTreeSet<Tp>>,
    pub client_id: String,
    pub client_host: String,
}

/// The answer to a heartbeat: error, or (member epoch, assignment if it is
/// to be sent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Answer {
    pub member_epoch: i32,
    pub assignment: Option<BTreeSet<Tp>>,
}

#[derive(Debug, Clone)]
struct Member {
    epoch: i32,
    instance_id: Option<String>,
    client_id: String,
    client_host: String,
    subscribed: Vec<String>,
    /// What the member was told it owns.
    assigned: BTreeSet<Tp>,
    /// What it last said it owns.
    owned: BTreeSet<Tp>,
    last_sent: Option<BTreeSet<Tp>>,
    last_heartbeat: u64,
}

/// A member as ConsumerGroupDescribe shows it.
#[derive(Debug, Clone)]
pub(crate) struct MemberView {
    pub member_id: String,
    pub instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub epoch: i32,
    pub subscribed: Vec<String>,
    pub assigned: BTreeSet<Tp>,
    pub target: BTreeSet<Tp>,
}

/// A consumer group.
#[derive(Debug, Default)]
pub(crate) struct ConsumerGroup {
    epoch: i32,
    assignment_epoch: i32,
    members: BTreeMap<String, Member>,
    target: BTreeMap<String, BTreeSet<Tp>>,
    /// The topic layout the target was computed for.
    layout: BTreeMap<String, usize>,
}

/// KIP-848 error outcomes (mapped to Kafka codes by the handler).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HeartbeatError {
    UnknownMember,
    FencedEpoch,
    InvalidRequest,
}

impl ConsumerGroup {
    /// Whether the group has members.
    pub(crate) fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// The group epoch.
    pub(crate) fn epoch(&self) -> i32 {
        self.epoch
    }

    /// Kafka's state name.
    pub(crate) fn state_name(&self) -> &'static str {
        if self.members.is_empty() {
            "Empty"
        } else if self.assignment_epoch < self.epoch {
            "Assigning"
        } else if self
            .members
            .values()
            .any(|m| m.epoch != self.assignment_epoch)
        {
            "Reconciling"
        } else {
            "Stable"
        }
    }

    /// The member epoch of `member_id`, if it is a member.
    pub(crate) fn member_epoch(&self, member_id: &str) -> Option<i32> {
        self.members.get(member_id).map(|m| m.epoch)
    }

    /// Whether a member subscribes to `topic` (OffsetDelete).
    pub(crate) fn is_subscribed_to(&self, topic: &str) -> bool {
        self.members
            .values()
            .any(|m| m.subscribed.iter().any(|t| t == topic))
    }

    /// The assignment epoch.
    pub(crate) fn assignment_epoch(&self) -> i32 {
        self.assignment_epoch
    }

    /// Every member, for ConsumerGroupDescribe.
    pub(crate) fn describe(&self) -> Vec<MemberView> {
        self.members
            .iter()
            .map(|(id, m)| MemberView {
                member_id: id.clone(),
                instance_id: m.instance_id.clone(),
                client_id: m.client_id.clone(),
                client_host: m.client_host.clone(),
                epoch: m.epoch,
                subscribed: m.subscribed.clone(),
                assigned: m.assigned.clone(),
                target: self.target.get(id).cloned().unwrap_or_default(),
            })
            .collect()
    }

    /// One heartbeat. `layout` gives the partition count of every existing
    /// topic the members subscribe to.
    pub(crate) fn heartbeat(
        &mut self,
        hb: Heartbeat,
        layout: &BTreeMap<String, usize>,
        now: u64,
    ) -> Result<Answer, HeartbeatError> {
        match hb.member_epoch {
            -1 | -2 => {
                if self.members.remove(&hb.member_id).is_some() {
                    self.epoch += 1;
                }
                return Ok(Answer {
                    member_epoch: hb.member_epoch,
                    assignment: None,
                });
            }
            0 => {
                let subscribed = hb
                    .subscribed
                    .clone()
                    .ok_or(HeartbeatError::InvalidRequest)?;
                if hb.member_id.is_empty() {
                    return Err(HeartbeatError::InvalidRequest);
                }
                // A static member replacing its previous incarnation.
                if let Some(instance) = &hb.instance_id {
                    let old: Vec<String> = self
                        .members
                        .iter()
                        .filter(|(id, m)| {
                            m.instance_id.as_ref() == Some(instance) && **id != hb.member_id
                        })
                        .map(|(id, _)| id.clone())
                        .collect();
                    for id in old {
                        self.members.remove(&id);
                    }
                }
                self.members.insert(
                    hb.member_id.clone(),
                    Member {
                        epoch: 0,
                        instance_id: hb.instance_id.clone(),
                        client_id: hb.client_id.clone(),
                        client_host: hb.client_host.clone(),
                        subscribed,
                        assigned: BTreeSet::new(),
                        owned: BTreeSet::new(),
                        last_sent: None,
                        last_heartbeat: now,
                    },
                );
                self.epoch += 1;
            }
            epoch => {
                let member = self
                    .members
                    .get_mut(&hb.member_id)
                    .ok_or(HeartbeatError::UnknownMember)?;
                if epoch != member.epoch {
                    return Err(HeartbeatError::FencedEpoch);
                }
                member.last_heartbeat = now;
                if let Some(subscribed) = &hb.subscribed {
                    if *subscribed != member.subscribed {
                        member.subscribed = subscribed.clone();
                        self.epoch += 1;
                    }
                }
            }
        }
        if let Some(member) = self.members.get_mut(&hb.member_id) {
            if let Some(owned) = &hb.owned {
                member.owned = owned.clone();
            }
        }
        let relevant: BTreeMap<String, usize> = layout
            .iter()
            .filter(|(t, _)| self.members.values().any(|m| m.subscribed.contains(t)))
            .map(|(t, n)| (t.clone(), *n))
            .collect();
        if relevant != self.layout {
            self.layout = relevant;
            self.epoch += 1;
        }
        if self.assignment_epoch < self.epoch {
            self.assign();
        }
        Ok(self.reconcile(&hb.member_id, hb.owned.is_some()))
    }

    /// Uniform assignment: per topic, its partitions spread over the
    /// members subscribed to it (sorted by member id), offset by topic so
    /// single-partition topics do not all land on one member.
    fn assign(&mut self) {
        let mut target: BTreeMap<String, BTreeSet<Tp>> = self
            .members
            .keys()
            .map(|id| (id.clone(), BTreeSet::new()))
            .collect();
        let mut next = 0usize;
        for (topic, count) in &self.layout {
            let members: Vec<&String> = self
                .members
                .iter()
                .filter(|(_, m)| m.subscribed.contains(topic))
                .map(|(id, _)| id)
                .collect();
            if members.is_empty() {
                continue;
            }
            for p in 0..*count {
                let owner = members[(next + p) % members.len()];
                if let Some(set) = target.get_mut(owner) {
                    set.insert((topic.clone(), i32::try_from(p).unwrap_or(i32::MAX)));
                }
            }
            next += *count;
        }
        self.target = target;
        self.assignment_epoch = self.epoch;
    }

    fn reconcile(&mut self, member_id: &str, full: bool) -> Answer {
        let target = self.target.get(member_id).cloned().unwrap_or_default();
        let held_by_others: BTreeSet<Tp> = self
            .members
            .iter()
            .filter(|(id, _)| id.as_str() != member_id)
            .flat_map(|(_, m)| m.assigned.iter().chain(m.owned.iter()).cloned())
            .collect();
        let assignment_epoch = self.assignment_epoch;
        let Some(member) = self.members.get_mut(member_id) else {
            return Answer {
                member_epoch: -1,
                assignment: None,
            };
        };
        let still_owned_outside: bool = member
            .owned
            .iter()
            .chain(member.assigned.iter())
            .any(|tp| !target.contains(tp));
        if still_owned_outside {
            // First the member gives up what is no longer its.
            member.assigned = member.assigned.intersection(&target).cloned().collect();
            if member.owned.iter().all(|tp| target.contains(tp)) {
                member.epoch = assignment_epoch;
            }
        } else {
            member.epoch = assignment_epoch;
            member.assigned = target
                .iter()
                .filter(|tp| !held_by_others.contains(*tp) || member.owned.contains(*tp))
                .cloned()
                .collect();
        }
        let changed = member.last_sent.as_ref() != Some(&member.assigned)
            || (full && member.owned != member.assigned);
        let assignment = changed.then(|| member.assigned.clone());
        if changed {
            member.last_sent = Some(member.assigned.clone());
        }
        Answer {
            member_epoch: member.epoch,
            assignment,
        }
    }

    /// Removes members whose session expired.
    pub(crate) fn tick(&mut self, now: u64, session_timeout_ms: u64) {
        let before = self.members.len();
        self.members
            .retain(|_, m| now.saturating_sub(m.last_heartbeat) < session_timeout_ms);
        if self.members.len() != before {
            self.epoch += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hb(member: &str, epoch: i32, owned: &[Tp]) -> Heartbeat {
        Heartbeat {
            member_id: member.to_owned(),
            member_epoch: epoch,
            instance_id: None,
            subscribed: Some(vec!["t".to_owned()]),
            owned: Some(owned.iter().cloned().collect()),
            client_id: "c".to_owned(),
            client_host: "/127.0.0.1".to_owned(),
        }
    }

    fn tp(p: i32) -> Tp {
        ("t".to_owned(), p)
    }

    #[test]
    fn a_partition_moves_only_after_its_owner_let_go() {
        let layout = BTreeMap::from([("t".to_owned(), 2usize)]);
        let mut g = ConsumerGroup::default();
        let a = g.heartbeat(hb("a", 0, &[]), &layout, 0).unwrap();
        assert_eq!(a.assignment, Some(BTreeSet::from([tp(0), tp(1)])));
        let ea = a.member_epoch;
        assert!(ea > 0);
        // b joins: the target splits, but a still owns both.
        let b = g.heartbeat(hb("b", 0, &[]), &layout, 10).unwrap();
        assert_eq!(b.assignment, Some(BTreeSet::new()), "nothing free yet");
        // a is told to keep one partition.
        let a2 = g
            .heartbeat(hb("a", ea, &[tp(0), tp(1)]), &layout, 20)
            .unwrap();
        let kept = a2.assignment.clone().unwrap();
        assert_eq!(kept.len(), 1);
        // a acknowledges; then b gets the freed partition.
        let a3 = g
            .heartbeat(
                hb(
                    "a",
                    a2.member_epoch,
                    &kept.iter().cloned().collect::<Vec<_>>(),
                ),
                &layout,
                30,
            )
            .unwrap();
        assert_eq!(a3.member_epoch, g.epoch());
        let b2 = g
            .heartbeat(hb("b", b.member_epoch, &[]), &layout, 40)
            .unwrap();
        let got = b2.assignment.unwrap();
        assert_eq!(got.len(), 1);
        assert!(got.is_disjoint(&kept));
        // Leaving hands everything back to the other member.
        g.heartbeat(hb("b", -1, &[]), &layout, 50).unwrap();
        let a4 = g
            .heartbeat(
                hb(
                    "a",
                    a3.member_epoch,
                    &kept.iter().cloned().collect::<Vec<_>>(),
                ),
                &layout,
                60,
            )
            .unwrap();
        assert_eq!(a4.assignment, Some(BTreeSet::from([tp(0), tp(1)])));
    }

    #[test]
    fn unknown_members_and_stale_epochs_are_refused_and_sessions_expire() {
        let layout = BTreeMap::from([("t".to_owned(), 1usize)]);
        let mut g = ConsumerGroup::default();
        assert_eq!(
            g.heartbeat(hb("x", 3, &[]), &layout, 0),
            Err(HeartbeatError::UnknownMember)
        );
        let a = g.heartbeat(hb("a", 0, &[]), &layout, 0).unwrap();
        assert_eq!(
            g.heartbeat(hb("a", a.member_epoch + 5, &[]), &layout, 0),
            Err(HeartbeatError::FencedEpoch)
        );
        g.tick(44_000, 45_000);
        assert!(!g.is_empty());
        g.tick(45_001, 45_000);
        assert!(g.is_empty());
    }
}
