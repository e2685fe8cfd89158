//! [`Int32List`]: the Rust type of every `[]int32` field.
//!
//! Those fields hold replica sets, ISRs and partition indexes: a handful of
//! ids each. A `Vec<i32>` costs an allocation per field, and in a Metadata
//! response of many partitions those allocations (two or three a partition)
//! were most of the decode time. Up to [`Int32List::INLINE`] ids are kept
//! in place; longer lists spill to the heap. The type is the size of a
//! `Vec<i32>` (24 bytes): the inline ids are 4-byte aligned words, which the
//! CPU can copy without the store-forwarding stalls a byte-packed layout
//! measurably caused.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::{Deref, DerefMut};

/// A list of `i32`s that holds up to [`Int32List::INLINE`] of them without
/// allocating. It dereferences to `[i32]`, so it reads like a slice; build
/// it from a `Vec`, an array, a slice or an iterator.
///
/// ```
/// use kafkacc_protocol::Int32List;
///
/// let mut replicas = Int32List::from([1, 2, 3]);
/// replicas.push(4);
/// assert_eq!(replicas, [1, 2, 3, 4]);
/// assert!(replicas.contains(&2));
/// let isr: Int32List = replicas.iter().copied().filter(|id| id % 2 == 0).collect();
/// assert_eq!(isr.to_vec(), vec![2, 4]);
/// ```
#[derive(Clone)]
pub struct Int32List(Repr);

#[derive(Clone)]
enum Repr {
    Inline {
        len: u32,
        items: [i32; Int32List::INLINE],
    },
    /// Boxed, so that the whole list stays the size of a `Vec`: spilled
    /// lists are rare, and pay a second allocation for it.
    #[allow(clippy::box_collection)]
    Heap(Box<Vec<i32>>),
}

impl Int32List {
    /// How many ids fit without an allocation (a replication factor of up
    /// to four).
    pub const INLINE: usize = 4;

    /// An empty list.
    pub const fn new() -> Self {
        Self(Repr::Inline {
            len: 0,
            items: [0; Self::INLINE],
        })
    }

    /// An empty list with room for `capacity` ids.
    pub fn with_capacity(capacity: usize) -> Self {
        if capacity <= Self::INLINE {
            Self::new()
        } else {
            Self(Repr::Heap(Box::new(Vec::with_capacity(capacity))))
        }
    }

    /// Replaces the ids with those in `wire`: big-endian 4-byte ints back to
    /// back (a whole `[]int32` array body). Decoders fill a list in its
    /// final place rather than return one: a short list built in a
    /// temporary and copied out cost a store-forwarding stall per field.
    #[inline]
    pub(crate) fn fill_from_wire(&mut self, wire: &[u8]) {
        let ids = wire.chunks_exact(4);
        let id = |b: &[u8]| i32::from_be_bytes([b[0], b[1], b[2], b[3]]);
        let n = ids.len();
        if n > Self::INLINE {
            *self = Self(Repr::Heap(Box::new(ids.map(id).collect())));
            return;
        }
        if let Repr::Heap(_) = self.0 {
            *self = Self::new();
        }
        if let Repr::Inline { len, items } = &mut self.0 {
            for (slot, b) in items.iter_mut().zip(ids) {
                *slot = id(b);
            }
            *len = n as u32;
        }
    }

    /// The ids as a slice.
    #[inline]
    pub fn as_slice(&self) -> &[i32] {
        match &self.0 {
            Repr::Inline { len, items } => &items[..*len as usize],
            Repr::Heap(v) => v,
        }
    }

    /// The ids as a mutable slice.
    #[inline]
    pub fn as_mut_slice(&mut self) -> &mut [i32] {
        match &mut self.0 {
            Repr::Inline { len, items } => &mut items[..*len as usize],
            Repr::Heap(v) => v,
        }
    }

    /// Appends an id, moving the list to the heap when it outgrows the
    /// inline room.
    #[inline]
    pub fn push(&mut self, id: i32) {
        match &mut self.0 {
            Repr::Inline { len, items } => {
                let n = *len as usize;
                if n < Self::INLINE {
                    items[n] = id;
                    *len += 1;
                } else {
                    let mut spilled = Vec::with_capacity(2 * Self::INLINE);
                    spilled.extend_from_slice(items);
                    spilled.push(id);
                    self.0 = Repr::Heap(Box::new(spilled));
                }
            }
            Repr::Heap(v) => v.push(id),
        }
    }

    /// Removes every id.
    pub fn clear(&mut self) {
        match &mut self.0 {
            Repr::Inline { len, .. } => *len = 0,
            Repr::Heap(v) => v.clear(),
        }
    }

    /// The ids as a `Vec` (no copy when they are on the heap already).
    pub fn into_vec(self) -> Vec<i32> {
        match self.0 {
            Repr::Inline { .. } => self.as_slice().to_vec(),
            Repr::Heap(v) => *v,
        }
    }
}

impl Default for Int32List {
    fn default() -> Self {
        Self::new()
    }
}

impl Deref for Int32List {
    type Target = [i32];
    #[inline]
    fn deref(&self) -> &[i32] {
        self.as_slice()
    }
}

impl DerefMut for Int32List {
    #[inline]
    fn deref_mut(&mut self) -> &mut [i32] {
        self.as_mut_slice()
    }
}

impl AsRef<[i32]> for Int32List {
    fn as_ref(&self) -> &[i32] {
        self
    }
}

impl fmt::Debug for Int32List {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// Lists are equal when their ids are, wherever they are stored.
impl PartialEq for Int32List {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for Int32List {}

impl Hash for Int32List {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_slice().hash(state);
    }
}

impl PartialEq<[i32]> for Int32List {
    fn eq(&self, other: &[i32]) -> bool {
        self.as_slice() == other
    }
}

impl PartialEq<&[i32]> for Int32List {
    fn eq(&self, other: &&[i32]) -> bool {
        self.as_slice() == *other
    }
}

impl<const N: usize> PartialEq<[i32; N]> for Int32List {
    fn eq(&self, other: &[i32; N]) -> bool {
        self.as_slice() == other
    }
}

impl PartialEq<Vec<i32>> for Int32List {
    fn eq(&self, other: &Vec<i32>) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl PartialEq<Int32List> for Vec<i32> {
    fn eq(&self, other: &Int32List) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl From<Vec<i32>> for Int32List {
    fn from(v: Vec<i32>) -> Self {
        Self(Repr::Heap(Box::new(v)))
    }
}

impl From<&[i32]> for Int32List {
    fn from(ids: &[i32]) -> Self {
        ids.iter().copied().collect()
    }
}

impl<const N: usize> From<[i32; N]> for Int32List {
    fn from(ids: [i32; N]) -> Self {
        ids.into_iter().collect()
    }
}

impl From<Int32List> for Vec<i32> {
    fn from(list: Int32List) -> Self {
        list.into_vec()
    }
}

impl FromIterator<i32> for Int32List {
    fn from_iter<I: IntoIterator<Item = i32>>(iter: I) -> Self {
        let iter = iter.into_iter();
        let mut list = Self::with_capacity(iter.size_hint().0);
        list.extend(iter);
        list
    }
}

impl Extend<i32> for Int32List {
    fn extend<I: IntoIterator<Item = i32>>(&mut self, iter: I) {
        for id in iter {
            self.push(id);
        }
    }
}

impl<'a> IntoIterator for &'a Int32List {
    type Item = &'a i32;
    type IntoIter = std::slice::Iter<'a, i32>;
    fn into_iter(self) -> Self::IntoIter {
        self.as_slice().iter()
    }
}

impl IntoIterator for Int32List {
    type Item = i32;
    type IntoIter = IntoIter;
    fn into_iter(self) -> IntoIter {
        IntoIter {
            list: self,
            next: 0,
        }
    }
}

/// The ids of an [`Int32List`], by value.
#[derive(Debug, Clone)]
pub struct IntoIter {
    list: Int32List,
    next: usize,
}

impl Iterator for IntoIter {
    type Item = i32;
    fn next(&mut self) -> Option<i32> {
        let id = *self.list.get(self.next)?;
        self.next += 1;
        Some(id)
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.list.len() - self.next;
        (left, Some(left))
    }
}

impl ExactSizeIterator for IntoIter {}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn stays_inline_up_to_the_limit_then_spills() {
        let mut list = Int32List::new();
        for id in 0..Int32List::INLINE as i32 {
            list.push(id);
            assert!(matches!(list.0, Repr::Inline { .. }));
        }
        list.push(99);
        assert!(matches!(list.0, Repr::Heap(_)));
        let expected: Vec<i32> = (0..Int32List::INLINE as i32).chain([99]).collect();
        assert_eq!(list, expected);
    }

    #[test]
    fn as_small_as_a_vec() {
        assert_eq!(
            std::mem::size_of::<Int32List>(),
            std::mem::size_of::<Vec<i32>>()
        );
    }

    #[test]
    fn filled_from_the_wire_inline_or_spilled_from_either() {
        let wire: Vec<u8> = (1..=6i32).flat_map(i32::to_be_bytes).collect();
        for n in 0..=6 {
            let expected: Vec<i32> = (1..=n as i32).collect();
            for start in [Int32List::from([9, 9]), Int32List::from(vec![9; 7])] {
                let mut list = start;
                list.fill_from_wire(&wire[..4 * n]);
                assert_eq!(list, expected);
                assert_eq!(
                    matches!(list.0, Repr::Inline { .. }),
                    n <= Int32List::INLINE
                );
            }
        }
    }

    #[test]
    fn equal_wherever_stored() {
        let inline = Int32List::from([1, 2]);
        let heap = Int32List::from(vec![1, 2]);
        assert_eq!(inline, heap);
        let hash = |l: &Int32List| {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            l.hash(&mut h);
            h.finish()
        };
        assert_eq!(hash(&inline), hash(&heap));
        assert_ne!(inline, Int32List::from([1, 2, 3]));
    }

    proptest! {
        #[test]
        fn behaves_like_a_vec(ids in proptest::collection::vec(any::<i32>(), 0..20)) {
            let mut pushed = Int32List::new();
            for &id in &ids {
                pushed.push(id);
            }
            prop_assert_eq!(pushed.as_slice(), ids.as_slice());
            prop_assert_eq!(&pushed, &Int32List::from(ids.clone()));
            prop_assert_eq!(&pushed, &ids.iter().copied().collect::<Int32List>());
            prop_assert_eq!(pushed.clone().into_iter().collect::<Vec<_>>(), ids.clone());
            prop_assert_eq!(format!("{pushed:?}"), format!("{ids:?}"));
            prop_assert_eq!(pushed.into_vec(), ids);
        }
    }
}
