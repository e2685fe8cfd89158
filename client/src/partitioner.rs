//! Choosing a partition for a record, compatible with the Java producer so
//! that Rust and Java producers put the same key on the same partition.
//!
//! Order of precedence: an explicit partition on the record; then the
//! configured [`Partitioner`]; the default hashes a key with murmur2
//! (`toPositive(murmur2(key)) % partitions`, over *all* partitions) and
//! spreads keyless records sticky-per-batch or round-robin.

use std::sync::atomic::{AtomicU32, Ordering};

/// Java's `Utils.murmur2` over the key bytes (seed 0x9747b28c), as a signed
/// int32 like Java returns it.
pub fn murmur2(key: &[u8]) -> i32 {
    murmur2::murmur2(key, murmur2::KAFKA_SEED) as i32
}

/// Java's `Utils.toPositive`: clears the sign bit (a mask, not `abs`).
pub fn to_positive(hash: i32) -> i32 {
    hash & 0x7fff_ffff
}

/// The partition the Java producer picks for `key` among `partitions`.
pub fn partition_for_key(key: &[u8], partitions: i32) -> i32 {
    if partitions <= 0 {
        return 0;
    }
    to_positive(murmur2(key)) % partitions
}

/// How keyless records are spread.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KeylessStrategy {
    /// Stay on one partition until its batch is sent, then move on (the
    /// Java default: fewer, fuller batches).
    #[default]
    Sticky,
    /// Each record to the next partition in turn.
    RoundRobin,
}

/// A user-supplied partitioner. Returns a partition in `0..partitions`.
pub trait Partitioner: Send + Sync + std::fmt::Debug {
    /// Chooses a partition for a record of `topic` with `key`.
    fn partition(&self, topic: &str, key: Option<&[u8]>, partitions: i32) -> i32;
}

/// State for spreading keyless records; one per producer.
#[derive(Debug, Default)]
pub(crate) struct KeylessSpreader {
    counter: AtomicU32,
}

impl KeylessSpreader {
    /// Round-robin pick.
    pub(crate) fn next_round_robin(&self, partitions: i32) -> i32 {
        if partitions <= 0 {
            return 0;
        }
        (self.counter.fetch_add(1, Ordering::Relaxed) % partitions as u32) as i32
    }

    /// A random partition for a new sticky run, avoiding `current` when
    /// there is a choice so that load actually moves.
    pub(crate) fn next_sticky(&self, partitions: i32, current: Option<i32>) -> i32 {
        use rand::Rng;
        if partitions <= 1 {
            return 0;
        }
        let mut rng = rand::rng();
        match current {
            Some(c) if (0..partitions).contains(&c) => {
                let pick = rng.random_range(0..partitions - 1);
                if pick >= c { pick + 1 } else { pick }
            }
            _ => rng.random_range(0..partitions),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Vectors from the Java client's UtilsTest (FACTS.md section 8).
    #[test]
    fn murmur2_matches_java_vectors() {
        let cases: &[(&[u8], i32)] = &[
            (b"21", -973932308),
            (b"foobar", -790332482),
            (b"a-little-bit-long-string", -985981536),
            (b"a-little-bit-longer-string", -1486304829),
            (
                b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8",
                -58897971,
            ),
            (b"abc", 479470107),
            (b"key", -1079937367),
            (b"", 275646681),
        ];
        for (key, expected) in cases {
            assert_eq!(
                murmur2(key),
                *expected,
                "key {:?}",
                String::from_utf8_lossy(key)
            );
        }
    }

    /// The key → partition table of FACTS.md section 8.
    #[test]
    fn partition_for_key_matches_table() {
        let table: &[(&str, i32, [i32; 5])] = &[
            ("21", 1173551340, [0, 0, 0, 0, 40]),
            ("foobar", 1357151166, [0, 0, 6, 6, 66]),
            ("a-little-bit-long-string", 1161502112, [2, 2, 2, 8, 12]),
            ("a-little-bit-longer-string", 661178819, [2, 5, 9, 11, 19]),
            (
                "lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8",
                2088585677,
                [2, 5, 7, 5, 77],
            ),
            ("abc", 479470107, [0, 3, 7, 3, 7]),
            ("key", 1067546281, [1, 1, 1, 1, 81]),
            ("", 275646681, [0, 3, 1, 9, 81]),
        ];
        for (key, positive, parts) in table {
            assert_eq!(to_positive(murmur2(key.as_bytes())), *positive);
            for (n, expected) in [3, 6, 10, 12, 100].iter().zip(parts) {
                assert_eq!(
                    partition_for_key(key.as_bytes(), *n),
                    *expected,
                    "key {key} % {n}"
                );
            }
        }
    }

    #[test]
    fn to_positive_masks_instead_of_abs() {
        assert_eq!(to_positive(i32::MIN), 0);
        assert_eq!(to_positive(-1), i32::MAX);
    }

    #[test]
    fn round_robin_cycles_and_sticky_moves() {
        let s = KeylessSpreader::default();
        let picks: Vec<i32> = (0..6).map(|_| s.next_round_robin(3)).collect();
        assert_eq!(picks, vec![0, 1, 2, 0, 1, 2]);
        for _ in 0..100 {
            let next = s.next_sticky(4, Some(2));
            assert!(next != 2 && (0..4).contains(&next));
        }
        assert_eq!(s.next_sticky(1, Some(0)), 0);
    }
}
