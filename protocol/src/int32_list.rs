//! [`Int32List`]: the Rust type of every `[]int32` field.
//!
//! Those fields hold replica sets, ISRs and partition indexes: a handful of
//! ids each. A `Vec<i32>` costs an allocation per field, and in a Metadata
//! response of many partitions those allocations (two or three a partition)
//! were most of the decode time. Up to [`Int32List::INLINE`] ids are kept
//! in place; longer lists spill to a `Vec`.

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
        len: u8,
        items: [i32; Int32List::INLINE],
    },
    Heap(Vec<i32>),
}

impl Int32List {
    /// How many ids fit without an allocation (a replication factor of up
    /// to five).
    pub const INLINE: usize = 5;

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
            Self(Repr::Heap(Vec::with_capacity(capacity)))
        }
    }

    /// The ids in `wire`, big-endian 4-byte ints back to back (a whole
    /// `[]int32` array body, its length a multiple of 4).
    #[inline]
    pub(crate) fn from_wire(wire: &[u8]) -> Self {
        let ids = wire.chunks_exact(4);
        let n = ids.len();
        let id = |b: &[u8]| i32::from_be_bytes([b[0], b[1], b[2], b[3]]);
        if n <= Self::INLINE {
            let mut items = [0; Self::INLINE];
            for (slot, b) in items.iter_mut().zip(ids) {
                *slot = id(b);
            }
            // `n <= INLINE`, which fits a u8.
            Self(Repr::Inline {
                len: n as u8,
                items,
            })
        } else {
            Self(Repr::Heap(ids.map(id).collect()))
        }
    }

    /// The ids as a slice.
    #[inline]
    pub fn as_slice(&self) -> &[i32] {
        match &self.0 {
            Repr::Inline { len, items } => &items[..usize::from(*len)],
            Repr::Heap(v) => v,
        }
    }

    /// The ids as a mutable slice.
    #[inline]
    pub fn as_mut_slice(&mut self) -> &mut [i32] {
        match &mut self.0 {
            Repr::Inline { len, items } => &mut items[..usize::from(*len)],
            Repr::Heap(v) => v,
        }
    }

    /// Appends an id, moving the list to the heap when it outgrows the
    /// inline room.
    #[inline]
    pub fn push(&mut self, id: i32) {
        match &mut self.0 {
            Repr::Inline { len, items } => {
                let n = usize::from(*len);
                if n < Self::INLINE {
                    items[n] = id;
                    *len += 1;
                } else {
                    let mut spilled = Vec::with_capacity(2 * Self::INLINE);
                    spilled.extend_from_slice(items);
                    spilled.push(id);
                    self.0 = Repr::Heap(spilled);
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
            Repr::Heap(v) => v,
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
        Self(Repr::Heap(v))
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
        assert_eq!(list, [0, 1, 2, 3, 4, 99]);
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
