//! The checker: properties every history must have, in the spirit of
//! Jepsen's Kafka tests. Each returns the first violation it finds.

use std::collections::{BTreeMap, HashMap};

/// How one record's send ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// Acknowledged: (record, partition, offset).
    Acked(u64, i32, i64),
    /// Failed with this error.
    Failed(u64, String),
}

/// A producer run: what each send returned and what the log holds after.
#[derive(Debug, Default)]
pub struct ProduceHistory {
    /// One entry per record sent.
    pub deliveries: Vec<Delivery>,
    /// Partition → record numbers in log order.
    pub log: BTreeMap<i32, Vec<u64>>,
}

impl ProduceHistory {
    /// Records acknowledged.
    pub fn acked(&self) -> usize {
        self.deliveries
            .iter()
            .filter(|d| matches!(d, Delivery::Acked(..)))
            .count()
    }
}

/// No acknowledged record lost, and at the offset it was acknowledged at;
/// no record twice (idempotence); per-partition order kept (records were
/// sent in increasing order per partition).
pub fn check_produce(history: &ProduceHistory) -> Result<(), String> {
    let mut position: HashMap<u64, (i32, i64)> = HashMap::new();
    for (partition, records) in &history.log {
        let mut previous = None;
        for (offset, record) in records.iter().enumerate() {
            if let Some((p, o)) = position.insert(*record, (*partition, offset as i64)) {
                return Err(format!(
                    "duplicate: record {record} at {p}/{o} and at {partition}/{offset}"
                ));
            }
            if previous.is_some_and(|p| p > *record) {
                return Err(format!(
                    "order: partition {partition} has record {record} after {previous:?}"
                ));
            }
            previous = Some(*record);
        }
    }
    for delivery in &history.deliveries {
        if let Delivery::Acked(record, partition, offset) = delivery {
            match position.get(record) {
                None => {
                    return Err(format!(
                        "lost: record {record} acked at {partition}/{offset}"
                    ));
                }
                Some(found) if found != &(*partition, *offset) => {
                    return Err(format!(
                        "record {record} acked at {partition}/{offset} but found at {}/{}",
                        found.0, found.1
                    ));
                }
                Some(_) => {}
            }
        }
    }
    Ok(())
}

/// What one member owned at one moment.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Ownership {
    /// Which member (numbered in start order).
    pub member: usize,
    /// The generation it was in.
    pub generation: i32,
    /// The partitions it owned.
    pub partitions: std::collections::BTreeSet<i32>,
}

/// A group run: ownership samples, records read, committed-offset samples.
#[derive(Debug, Default, Hash)]
pub struct GroupHistory {
    /// Every member's assignment, sampled at each poll.
    pub ownership: Vec<Ownership>,
    /// (partition, offset) of every record a member got, with repeats.
    pub consumed: Vec<(i32, i64)>,
    /// The group's committed offsets, sampled over time.
    pub commits: Vec<BTreeMap<i32, i64>>,
}

/// No partition owned by two members in one generation; committed offsets
/// never go backwards; every record of the `partitions` × round-robin
/// `records` log was consumed at least once.
pub fn check_group(history: &GroupHistory, partitions: i32, records: usize) -> Result<(), String> {
    let mut owner: HashMap<(i32, i32), usize> = HashMap::new();
    for sample in &history.ownership {
        for partition in &sample.partitions {
            if let Some(other) = owner.insert((sample.generation, *partition), sample.member)
                && other != sample.member
            {
                return Err(format!(
                    "split brain: partition {partition} owned by members {other} and {} in generation {}",
                    sample.member, sample.generation
                ));
            }
        }
    }
    let mut high: BTreeMap<i32, i64> = BTreeMap::new();
    for sample in &history.commits {
        for (partition, offset) in sample {
            let previous = high.entry(*partition).or_insert(*offset);
            if offset < previous {
                return Err(format!(
                    "committed offset of partition {partition} went back from {previous} to {offset}"
                ));
            }
            *previous = *offset;
        }
    }
    let consumed: std::collections::BTreeSet<(i32, i64)> =
        history.consumed.iter().copied().collect();
    for i in 0..records {
        let partition = (i % partitions as usize) as i32;
        let offset = (i / partitions as usize) as i64;
        if !consumed.contains(&(partition, offset)) {
            return Err(format!("never consumed: {partition}/{offset}"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn history(acked: &[(u64, i32, i64)], log: &[(i32, &[u64])]) -> ProduceHistory {
        ProduceHistory {
            deliveries: acked
                .iter()
                .map(|(r, p, o)| Delivery::Acked(*r, *p, *o))
                .collect(),
            log: log.iter().map(|(p, r)| (*p, r.to_vec())).collect(),
        }
    }

    #[test]
    fn a_clean_history_passes() {
        assert!(check_produce(&history(&[(0, 0, 0), (2, 0, 1)], &[(0, &[0, 2])])).is_ok());
    }

    #[test]
    fn each_violation_is_caught() {
        let lost = history(&[(0, 0, 0), (2, 0, 1)], &[(0, &[0])]);
        assert!(check_produce(&lost).unwrap_err().starts_with("lost"));
        let duplicate = history(&[(0, 0, 0)], &[(0, &[0, 0])]);
        assert!(
            check_produce(&duplicate)
                .unwrap_err()
                .starts_with("duplicate")
        );
        let reordered = history(&[], &[(0, &[2, 0])]);
        assert!(check_produce(&reordered).unwrap_err().starts_with("order"));
        let moved = history(&[(0, 0, 1)], &[(0, &[0, 5])]);
        assert!(check_produce(&moved).unwrap_err().contains("found at"));
    }

    #[test]
    fn group_violations_are_caught() {
        let own = |member, generation, partitions: &[i32]| Ownership {
            member,
            generation,
            partitions: partitions.iter().copied().collect(),
        };
        let mut history = GroupHistory {
            ownership: vec![own(0, 1, &[0, 1]), own(1, 2, &[0]), own(0, 1, &[1])],
            consumed: vec![(0, 0), (1, 0)],
            commits: vec![[(0, 1)].into(), [(0, 1), (1, 1)].into()],
        };
        assert_eq!(check_group(&history, 2, 2), Ok(()));
        history.ownership.push(own(1, 1, &[1]));
        assert!(
            check_group(&history, 2, 2)
                .unwrap_err()
                .starts_with("split brain")
        );
        history.ownership.pop();
        history.commits.push([(0, 0)].into());
        assert!(
            check_group(&history, 2, 2)
                .unwrap_err()
                .contains("went back")
        );
        history.commits.pop();
        assert!(
            check_group(&history, 2, 3)
                .unwrap_err()
                .starts_with("never consumed")
        );
    }
}
