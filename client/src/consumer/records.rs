//! One partition's fetched records, kept in the buffers they arrived in and
//! decoded as they are read.
//!
//! Decoding a record into an owned [`ConsumerRecord`] costs two reference
//! count updates on the fetch buffer per field and 128 bytes of vector per
//! record; at a million records a second that is most of a consumer's CPU
//! time. A [`PartitionRecords`] instead keeps each fetched batch (after its
//! CRC check, decompression and transaction filter) and hands out
//! [`RecordView`]s that borrow from it. The fetch task validates every
//! record once, so reading a run later cannot fail.

use super::ConsumerRecord;
use kafkacc_protocol::DecodeError;
use kafkacc_protocol::records::{Header, HeadersRef, Record, RecordRef, Records};
use std::collections::VecDeque;
use std::sync::Arc;

/// Records of one partition from one fetch (or the part of it not yet
/// returned), in offset order. From [`super::Consumer::poll_partition`].
///
/// ```no_run
/// # async fn demo(mut consumer: kafkacc::Consumer) -> kafkacc::Result<()> {
/// use std::time::Duration;
/// if let Some(run) = consumer.poll_partition(Duration::from_secs(1)).await? {
///     for record in &run {
///         println!("{}/{}@{}: {:?}", record.topic, record.partition, record.offset, record.value);
///     }
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct PartitionRecords {
    topic: Arc<str>,
    partition: i32,
    /// Records below this offset are not part of the run: the start of a
    /// (compressed) batch that begins before the fetch position.
    from: i64,
    batches: VecDeque<Ready>,
    /// Records in the run.
    len: usize,
    /// Offset of the run's last record (meaningless while `len` is 0).
    last_offset: i64,
}

/// One batch of a run. (`Wire` is the usual variant and the large one:
/// boxing it would allocate once per batch to shrink the rare `Owned`.)
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)]
enum Ready {
    /// A v2 batch, validated; its records are parsed again as they are
    /// read. `visible` of them (those at or above `from`) belong to the run,
    /// the last of which has offset `last`.
    Wire {
        records: Records,
        visible: usize,
        last: i64,
    },
    /// Records decoded up front: legacy (v0/v1) entries, and records a
    /// stream fetched but did not yield.
    Owned(VecDeque<Record>),
}

impl Ready {
    fn visible(&self) -> usize {
        match self {
            Ready::Wire { visible, .. } => *visible,
            Ready::Owned(records) => records.len(),
        }
    }
}

impl PartitionRecords {
    /// An empty run of `topic`/`partition` that starts at offset `from`.
    pub(crate) fn new(topic: Arc<str>, partition: i32, from: i64) -> Self {
        PartitionRecords {
            topic,
            partition,
            from,
            batches: VecDeque::new(),
            len: 0,
            last_offset: from,
        }
    }

    /// A run of records decoded already (given back by a stream).
    pub(crate) fn from_owned(topic: Arc<str>, partition: i32, records: Vec<Record>) -> Self {
        let from = records.first().map_or(0, |r| r.offset);
        let mut run = PartitionRecords::new(topic, partition, from);
        run.push_owned(records);
        run
    }

    /// Appends a batch's records: every one is parsed now, so that reading
    /// them later cannot fail; a decoding error is returned here instead.
    pub(crate) fn push(&mut self, mut records: Records) -> Result<(), DecodeError> {
        let Some(refs) = records.refs() else {
            // A legacy entry: decoded into owned records one by one anyway.
            let mut owned = Vec::new();
            for record in records.by_ref() {
                let record = record?;
                if record.offset >= self.from {
                    owned.push(record);
                }
            }
            self.push_owned(owned);
            return Ok(());
        };
        let (mut visible, mut last) = (0, None);
        for record in refs {
            let record = record?;
            if record.offset >= self.from {
                visible += 1;
                last = Some(record.offset);
            }
        }
        if let Some(last) = last {
            self.len += visible;
            self.last_offset = last;
            self.batches.push_back(Ready::Wire {
                records,
                visible,
                last,
            });
        }
        Ok(())
    }

    fn push_owned(&mut self, records: Vec<Record>) {
        let records: VecDeque<Record> = records
            .into_iter()
            .filter(|r| r.offset >= self.from)
            .collect();
        if let Some(last) = records.back() {
            self.len += records.len();
            self.last_offset = last.offset;
            self.batches.push_back(Ready::Owned(records));
        }
    }

    /// The topic.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The partition.
    pub fn partition(&self) -> i32 {
        self.partition
    }

    /// How many records the run holds.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Offset of the first record.
    pub fn first_offset(&self) -> Option<i64> {
        self.iter().next().map(|r| r.offset)
    }

    /// Offset of the last record.
    pub fn last_offset(&self) -> Option<i64> {
        (self.len > 0).then_some(self.last_offset)
    }

    /// The offset after the last record: where reading goes on, and what to
    /// commit once the run is processed.
    pub fn next_offset(&self) -> Option<i64> {
        self.last_offset().map(|o| o + 1)
    }

    /// The records, borrowed from the fetched buffers.
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            run: self,
            next_batch: 0,
            current: Current::Done,
            left: self.len,
        }
    }

    /// The records as owned values; their keys, values and headers share
    /// the fetched buffers (nothing is copied).
    pub fn into_records(mut self) -> Vec<ConsumerRecord> {
        self.take(self.len)
    }

    /// Removes and returns the first `n` records (all if fewer), as owned
    /// values.
    pub(crate) fn take(&mut self, n: usize) -> Vec<ConsumerRecord> {
        let n = n.min(self.len);
        let mut taken = Vec::with_capacity(n);
        let (topic, partition, from) = (&self.topic, self.partition, self.from);
        let owned = |record: Record| ConsumerRecord {
            topic: Arc::clone(topic),
            partition,
            offset: record.offset,
            timestamp: record.timestamp,
            key: record.key,
            value: record.value,
            headers: record.headers,
        };
        while taken.len() < n {
            let Some(front) = self.batches.front_mut() else {
                break;
            };
            match front {
                Ready::Wire {
                    records, visible, ..
                } => {
                    while *visible > 0 && taken.len() < n {
                        match records.next() {
                            Some(Ok(record)) if record.offset >= from => {
                                *visible -= 1;
                                taken.push(owned(record));
                            }
                            Some(Ok(_)) => {}
                            // Validated when pushed: cannot happen.
                            Some(Err(_)) | None => *visible = 0,
                        }
                    }
                }
                Ready::Owned(records) => {
                    let wanted = (n - taken.len()).min(records.len());
                    taken.extend(records.drain(..wanted).map(owned));
                }
            }
            if front_is_spent(&self.batches) {
                self.batches.pop_front();
            }
        }
        self.len -= taken.len();
        if self.len == 0 {
            self.batches.clear();
        }
        taken
    }

    /// Splits off and returns the first `n` records as a run of their own
    /// (all of them if fewer); `self` keeps the rest. Costs one parse of
    /// the records skipped over, none of their decoding into owned values.
    pub(crate) fn split_to(&mut self, n: usize) -> PartitionRecords {
        if n >= self.len {
            let empty = PartitionRecords::new(Arc::clone(&self.topic), self.partition, self.from);
            return std::mem::replace(self, empty);
        }
        let mut head = PartitionRecords::new(Arc::clone(&self.topic), self.partition, self.from);
        while head.len < n {
            let Some(mut front) = self.batches.pop_front() else {
                break;
            };
            let wanted = n - head.len;
            if front.visible() <= wanted {
                head.len += front.visible();
                head.last_offset = match &front {
                    Ready::Wire { last, .. } => *last,
                    Ready::Owned(records) => records.back().map_or(head.last_offset, |r| r.offset),
                };
                head.batches.push_back(front);
                continue;
            }
            // The cut falls inside this batch: the head keeps its start
            // (read only up to the head's length), the rest stays here.
            let piece = match &mut front {
                Ready::Wire {
                    records, visible, ..
                } => {
                    let start = records.clone();
                    let mut passed = 0;
                    while passed < wanted {
                        match records.next_ref() {
                            Some(Ok(record)) if record.offset >= self.from => {
                                passed += 1;
                                head.last_offset = record.offset;
                            }
                            Some(Ok(_)) => {}
                            Some(Err(_)) | None => break,
                        }
                    }
                    *visible -= wanted;
                    Ready::Wire {
                        records: start,
                        visible: wanted,
                        last: head.last_offset,
                    }
                }
                Ready::Owned(records) => {
                    let rest = records.split_off(wanted);
                    let piece = std::mem::replace(records, rest);
                    head.last_offset = piece.back().map_or(head.last_offset, |r| r.offset);
                    Ready::Owned(piece)
                }
            };
            head.len += wanted;
            head.batches.push_back(piece);
            self.batches.push_front(front);
        }
        self.len -= head.len;
        head
    }
}

/// Whether the front batch has no records of the run left.
fn front_is_spent(batches: &VecDeque<Ready>) -> bool {
    batches.front().is_some_and(|b| b.visible() == 0)
}

impl<'a> IntoIterator for &'a PartitionRecords {
    type Item = RecordView<'a>;
    type IntoIter = Iter<'a>;
    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

/// A record borrowed from a [`PartitionRecords`].
#[derive(Debug, Clone, Copy)]
pub struct RecordView<'a> {
    /// Topic.
    pub topic: &'a str,
    /// Partition.
    pub partition: i32,
    /// Offset.
    pub offset: i64,
    /// Timestamp (ms since the epoch).
    pub timestamp: i64,
    /// Key.
    pub key: Option<&'a [u8]>,
    /// Value (None for a tombstone).
    pub value: Option<&'a [u8]>,
    /// Headers in order, duplicates kept.
    pub headers: ViewHeaders<'a>,
}

impl RecordView<'_> {
    /// An owned copy of the record.
    pub fn to_record(&self) -> ConsumerRecord {
        let copy = |b: &[u8]| bytes::Bytes::copy_from_slice(b);
        ConsumerRecord {
            topic: Arc::from(self.topic),
            partition: self.partition,
            offset: self.offset,
            timestamp: self.timestamp,
            key: self.key.map(copy),
            value: self.value.map(copy),
            headers: self
                .headers
                .iter()
                .map(|(key, value)| Header::new(key, value))
                .collect(),
        }
    }
}

/// The headers of a [`RecordView`].
#[derive(Debug, Clone, Copy)]
pub struct ViewHeaders<'a>(HeadersOf<'a>);

#[derive(Debug, Clone, Copy)]
enum HeadersOf<'a> {
    Wire(HeadersRef<'a>),
    Owned(&'a [Header]),
}

impl<'a> ViewHeaders<'a> {
    /// How many headers there are.
    pub fn len(&self) -> usize {
        match self.0 {
            HeadersOf::Wire(h) => h.len(),
            HeadersOf::Owned(h) => h.len(),
        }
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `(key, value)` pairs in wire order.
    pub fn iter(&self) -> impl Iterator<Item = (&'a str, Option<&'a [u8]>)> + 'a {
        let (wire, owned) = match self.0 {
            HeadersOf::Wire(h) => (Some(h.iter()), None),
            HeadersOf::Owned(h) => (None, Some(h.iter())),
        };
        wire.into_iter().flatten().chain(
            owned
                .into_iter()
                .flatten()
                .map(|h| (h.key.as_str(), h.value.as_deref())),
        )
    }
}

/// Iterator over a [`PartitionRecords`]' records.
#[derive(Debug, Clone)]
pub struct Iter<'a> {
    run: &'a PartitionRecords,
    next_batch: usize,
    current: Current<'a>,
    /// Records still to yield: the run may end inside its last batch.
    left: usize,
}

#[derive(Debug, Clone)]
enum Current<'a> {
    Wire(kafkacc_protocol::records::RecordRefs<'a>),
    Owned(std::collections::vec_deque::Iter<'a, Record>),
    Done,
}

impl<'a> Iterator for Iter<'a> {
    type Item = RecordView<'a>;

    #[inline]
    fn next(&mut self) -> Option<RecordView<'a>> {
        let run = self.run;
        while self.left > 0 {
            let found = match &mut self.current {
                Current::Wire(refs) => match refs.next() {
                    Some(Ok(record)) if record.offset >= run.from => Some(view(run, record)),
                    Some(Ok(_)) => continue,
                    Some(Err(_)) | None => None,
                },
                Current::Owned(records) => records.next().map(|record| RecordView {
                    topic: &run.topic,
                    partition: run.partition,
                    offset: record.offset,
                    timestamp: record.timestamp,
                    key: record.key.as_deref(),
                    value: record.value.as_deref(),
                    headers: ViewHeaders(HeadersOf::Owned(&record.headers)),
                }),
                Current::Done => None,
            };
            if let Some(found) = found {
                self.left -= 1;
                return Some(found);
            }
            let batch = run.batches.get(self.next_batch)?;
            self.next_batch += 1;
            self.current = match batch {
                Ready::Wire { records, .. } => records.refs().map_or(Current::Done, Current::Wire),
                Ready::Owned(records) => Current::Owned(records.iter()),
            };
        }
        None
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        // Every record was parsed when the run was built: exactly `left`.
        (self.left, Some(self.left))
    }
}

impl ExactSizeIterator for Iter<'_> {}

impl std::iter::FusedIterator for Iter<'_> {}

fn view<'a>(run: &'a PartitionRecords, record: RecordRef<'a>) -> RecordView<'a> {
    RecordView {
        topic: &run.topic,
        partition: run.partition,
        offset: record.offset,
        timestamp: record.timestamp,
        key: record.key,
        value: record.value,
        headers: ViewHeaders(HeadersOf::Wire(record.headers)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafkacc_protocol::compression::Compression;
    use kafkacc_protocol::records::{
        BatchBuilder, DEFAULT_MAX_DECOMPRESSED, ProducerState, assign_base_offset, batches,
    };
    use proptest::prelude::*;

    /// What a test compares: offset, timestamp, key, value, headers.
    type Seen = (
        i64,
        i64,
        Option<Vec<u8>>,
        Option<Vec<u8>>,
        Vec<(String, Option<Vec<u8>>)>,
    );

    /// Batches of `sizes[i]` records each, offsets from 0, alternately
    /// uncompressed and lz4; every third record has a key and a header.
    fn record_set(sizes: &[usize]) -> (bytes::Bytes, Vec<Seen>) {
        let (mut set, mut expected, mut offset) = (Vec::new(), Vec::new(), 0i64);
        for (b, &size) in sizes.iter().enumerate() {
            let codec = if b % 2 == 0 {
                Compression::None
            } else {
                Compression::Lz4
            };
            let mut builder = BatchBuilder::new(codec, 1_000);
            for r in 0..size {
                let o = offset + r as i64;
                let key = (o % 3 == 0).then(|| format!("k{o}").into_bytes());
                let value = format!("value {o}").into_bytes();
                let headers = if o % 3 == 0 {
                    vec![Header::new("h", Some(b"x")), Header::new("h", None)]
                } else {
                    Vec::new()
                };
                builder
                    .append(1_000 + o, key.as_deref(), Some(&value), &headers)
                    .expect("append");
                let headers = headers
                    .iter()
                    .map(|h| (h.key.to_string(), h.value.as_ref().map(|v| v.to_vec())))
                    .collect();
                expected.push((o, 1_000 + o, key, Some(value), headers));
            }
            let mut batch = builder
                .build(ProducerState::default())
                .expect("build")
                .to_vec();
            assign_base_offset(&mut batch, offset, 0).expect("offset");
            set.extend_from_slice(&batch);
            offset += size as i64;
        }
        (set.into(), expected)
    }

    fn run_from(set: &bytes::Bytes, from: i64) -> PartitionRecords {
        let mut run = PartitionRecords::new(Arc::from("t"), 3, from);
        for batch in batches(set.clone()) {
            let batch = batch.expect("batch");
            if batch.header.last_offset() >= from {
                run.push(batch.records(DEFAULT_MAX_DECOMPRESSED).expect("records"))
                    .expect("valid");
            }
        }
        run
    }

    fn seen_views(run: &PartitionRecords) -> Vec<Seen> {
        run.iter()
            .map(|r| {
                assert_eq!((r.topic, r.partition), ("t", 3));
                (
                    r.offset,
                    r.timestamp,
                    r.key.map(<[u8]>::to_vec),
                    r.value.map(<[u8]>::to_vec),
                    r.headers
                        .iter()
                        .map(|(k, v)| (k.to_owned(), v.map(<[u8]>::to_vec)))
                        .collect(),
                )
            })
            .collect()
    }

    fn seen_owned(records: &[ConsumerRecord]) -> Vec<Seen> {
        records
            .iter()
            .map(|r| {
                assert_eq!((&*r.topic, r.partition), ("t", 3));
                (
                    r.offset,
                    r.timestamp,
                    r.key.as_ref().map(|k| k.to_vec()),
                    r.value.as_ref().map(|v| v.to_vec()),
                    r.headers
                        .iter()
                        .map(|h| (h.key.to_string(), h.value.as_ref().map(|v| v.to_vec())))
                        .collect(),
                )
            })
            .collect()
    }

    #[test]
    fn views_and_owned_records_agree_and_start_at_the_fetch_offset() {
        let (set, all) = record_set(&[5, 7, 1, 9]);
        for from in [0, 3, 5, 6, 12, 21, 22] {
            let run = run_from(&set, from);
            let expected: Vec<Seen> = all.iter().filter(|r| r.0 >= from).cloned().collect();
            assert_eq!(run.len(), expected.len(), "from {from}");
            assert_eq!(seen_views(&run), expected, "from {from}");
            assert_eq!(run.iter().len(), expected.len());
            assert_eq!(run.first_offset(), expected.first().map(|r| r.0));
            assert_eq!(run.last_offset(), expected.last().map(|r| r.0));
            assert_eq!(run.next_offset(), expected.last().map(|r| r.0 + 1));
            assert_eq!(seen_owned(&run.into_records()), expected, "from {from}");
        }
    }

    #[test]
    fn a_batch_that_does_not_parse_is_refused_when_pushed() {
        let (set, _) = record_set(&[4]);
        let batch = batches(set).next().expect("one").expect("batch");
        let mut raw = batch.raw().to_vec();
        // The last record's value length grows past the batch's end.
        let end = raw.len();
        raw.truncate(end - 1);
        let length = (raw.len() - 12) as i32;
        raw[8..12].copy_from_slice(&length.to_be_bytes());
        let cut = batches(raw.into()).next().expect("one").expect("batch");
        let mut run = PartitionRecords::new(Arc::from("t"), 3, 0);
        assert!(run.push(cut.records(1 << 20).expect("records")).is_err());
        assert!(run.is_empty());
    }

    #[test]
    fn records_given_back_keep_their_headers() {
        let (set, all) = record_set(&[6]);
        let owned = run_from(&set, 0).into_records();
        let back = owned
            .into_iter()
            .map(|r| Record {
                offset: r.offset,
                timestamp: r.timestamp,
                key: r.key,
                value: r.value,
                headers: r.headers,
            })
            .collect();
        let run = PartitionRecords::from_owned(Arc::from("t"), 3, back);
        assert_eq!(seen_views(&run), all);
        assert_eq!(run.next_offset(), Some(6));
    }

    proptest! {
        /// However a run is cut (pieces split off as runs, or taken as owned
        /// records), the pieces hold every record once, in order, and each
        /// piece knows its own last offset.
        #[test]
        fn pieces_hold_every_record_once_in_order(
            sizes in proptest::collection::vec(1usize..12, 1..6),
            from in 0i64..8,
            cuts in proptest::collection::vec((1usize..15, any::<bool>()), 1..12),
            owned_tail in any::<bool>(),
        ) {
            let (set, all) = record_set(&sizes);
            let expected: Vec<Seen> = all.into_iter().filter(|r| r.0 >= from).collect();
            let mut run = run_from(&set, from);
            if owned_tail {
                // Part of it given back as owned records, as a stream does.
                let head = run.split_to(2);
                let rest = run.clone();
                let owned: Vec<Record> = head
                    .into_records()
                    .into_iter()
                    .map(|r| Record { offset: r.offset, timestamp: r.timestamp, key: r.key, value: r.value, headers: r.headers })
                    .collect();
                run = PartitionRecords::from_owned(Arc::from("t"), 3, owned);
                if !rest.is_empty() {
                    run.len += rest.len;
                    run.last_offset = rest.last_offset;
                    run.batches.extend(rest.batches);
                }
            }
            let mut seen = Vec::new();
            for (n, as_run) in cuts.iter().copied().chain(std::iter::repeat((1000, true))) {
                if run.is_empty() {
                    break;
                }
                let before = run.len();
                if as_run {
                    let piece = run.split_to(n);
                    let views = seen_views(&piece);
                    prop_assert_eq!(piece.len(), views.len());
                    prop_assert_eq!(piece.last_offset(), views.last().map(|r| r.0));
                    seen.extend(views);
                } else {
                    let taken = run.take(n);
                    seen.extend(seen_owned(&taken));
                }
                prop_assert_eq!(run.len() + (seen.len() - (expected.len() - before)), before);
                if !run.is_empty() {
                    prop_assert_eq!(run.first_offset(), expected.get(seen.len()).map(|r| r.0));
                }
            }
            prop_assert_eq!(seen, expected);
        }
    }
}
