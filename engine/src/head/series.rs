//! In-memory series and the maps that find them.
//!
//! A [`MemSeries`] is the head's whole per-series state: its labels, its
//! open chunk, and the time ranges and file references of its cut chunks.
//! [`SeriesMap`] finds series by label set (sharded by
//! `Labels::stable_hash`, so concurrent writers creating series rarely
//! contend; measured against `dashmap` in `benches/benches/head.rs`,
//! `series_lookup/*`: 9.1 M against 8.3 M lookups per CPU-second over 100k
//! series, 7.9 M against 5.2 M in a noisier run; the label hash is computed
//! once and reused as the map key, and no dependency is needed)
//! and by reference (a dense vector indexed by ref: the scrape
//! loop's cached-ref fast path costs one read lock and one index, no hash).
//!
//! Invariant: refs are assigned in increasing order and never reused, so a
//! stale ref can only miss, never find another series.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use parking_lot::{Mutex, RwLock};

use super::chunks::MappedChunk;
use crate::chunk::XorEncoder;
use crate::model::{Labels, SeriesRef};

/// Number of label-hash shards. A power of two; 64 keeps contention low for
/// the handful of scrape threads a 2-core machine runs while costing ~4 KiB.
const SHARDS: usize = 64;

/// One series in the head.
#[derive(Debug)]
pub struct MemSeries {
    /// Its reference, fixed for its lifetime.
    pub series_ref: SeriesRef,
    /// Its label set.
    pub labels: Labels,
    /// Whether its series record was handed to the WAL (and it was indexed).
    /// Set once, by the first commit holding one of its samples.
    pub(super) logged: AtomicBool,
    /// Everything that changes on append.
    pub(super) state: Mutex<SeriesState>,
}

/// The mutable part of a series, under its own lock.
#[derive(Debug)]
pub struct SeriesState {
    /// The open chunk (its first timestamp is decoded from it when needed,
    /// see [`SeriesState::head_min_t`]).
    pub(super) head: XorEncoder,
    /// The open chunk must be cut before a sample at or after this time, so
    /// no chunk straddles a block boundary (`chunk_range_ms` multiples).
    pub(super) head_cut_t: i64,
    /// Cut chunks, oldest first, time ranges disjoint and increasing. A
    /// boxed slice of exactly their number (16 bytes, no spare capacity):
    /// it changes once a chunk cut, rarely enough to reallocate each time.
    pub(super) mapped: Box<[MappedChunk]>,
    /// The appender holding uncommitted samples of this series (0: none)
    /// and the index of its newest one in that appender's samples, so
    /// in-batch order is checked without a lookup. 32 bits each rather than
    /// the sample's time and value (8 bytes instead of 24 a series).
    pub(super) batch_id: u32,
    pub(super) batch_index: u32,
}

impl SeriesState {
    fn new() -> Self {
        SeriesState {
            head: XorEncoder::new(),
            head_cut_t: i64::MIN,
            mapped: Box::default(),
            batch_id: 0,
            batch_index: 0,
        }
    }

    /// Newest committed sample's timestamp and value bits, if any. Chunks
    /// are cut lazily (when the next sample arrives), so the open chunk
    /// always holds the newest sample of a series that has one.
    pub(super) fn last_sample(&self) -> Option<(i64, u64)> {
        (self.head.num_samples() > 0)
            .then(|| (self.head.last_t(), self.head.last_value().to_bits()))
    }

    /// First timestamp of the open chunk (`i64::MAX` while it is empty).
    pub(super) fn head_min_t(&self) -> i64 {
        self.head.first_t().unwrap_or(i64::MAX)
    }

    /// Appends a cut chunk's ref, growing the slice by exactly one.
    pub(super) fn push_mapped(&mut self, chunk: MappedChunk) {
        let mut v = std::mem::take(&mut self.mapped).into_vec();
        v.reserve_exact(1);
        v.push(chunk);
        self.mapped = v.into_boxed_slice();
    }

    /// Keeps the cut chunks' refs that `keep` accepts; returns how many
    /// were dropped.
    pub(super) fn retain_mapped(&mut self, keep: impl FnMut(&MappedChunk) -> bool) -> usize {
        let before = self.mapped.len();
        let mut v = std::mem::take(&mut self.mapped).into_vec();
        v.retain(keep);
        self.mapped = v.into_boxed_slice();
        before - self.mapped.len()
    }

    /// Time range of every sample in the series, if it has any.
    pub fn time_range(&self) -> Option<(i64, i64)> {
        let min = self.mapped.first().map_or_else(|| self.head_min_t(), |c| c.min_t_ms);
        let max = if self.head.num_samples() > 0 {
            self.head.last_t()
        } else {
            self.mapped.last().map(|c| c.max_t_ms)?
        };
        Some((min, max))
    }
}

impl MemSeries {
    fn new(series_ref: SeriesRef, labels: Labels) -> Self {
        MemSeries {
            series_ref,
            labels,
            logged: AtomicBool::new(false),
            state: Mutex::new(SeriesState::new()),
        }
    }
}

/// A read-locked view of the by-ref table, from [`SeriesMap::refs`].
pub struct RefTable<'a>(parking_lot::RwLockReadGuard<'a, Vec<Option<Arc<MemSeries>>>>);

impl RefTable<'_> {
    /// The live series with reference `r`.
    #[inline]
    pub fn get(&self, r: SeriesRef) -> Option<&MemSeries> {
        let idx = usize::try_from(r.0.checked_sub(1)?).ok()?;
        self.0.get(idx)?.as_deref()
    }
}

/// Hashes a `u64` key that is already a good hash (the label set's xxh3).
#[derive(Default)]
pub(super) struct IdentityHasher(u64);

impl Hasher for IdentityHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// Series with the same label hash: almost always exactly one. A boxed
/// slice rather than a `Vec` for the rare collision keeps a slot at 16
/// bytes, the map entry at 24.
enum Slot {
    One(Arc<MemSeries>),
    Many(Box<[Arc<MemSeries>]>),
}

type Shard = HashMap<u64, Slot, BuildHasherDefault<IdentityHasher>>;

/// Series by label set and by reference.
pub struct SeriesMap {
    shards: Box<[RwLock<Shard>]>,
    /// Indexed by `ref - 1`; `None` once a series is removed.
    by_ref: RwLock<Vec<Option<Arc<MemSeries>>>>,
    next_ref: AtomicU64,
    live: AtomicU64,
}

impl Default for SeriesMap {
    fn default() -> Self {
        SeriesMap {
            shards: (0..SHARDS).map(|_| RwLock::new(Shard::default())).collect(),
            by_ref: RwLock::new(Vec::new()),
            next_ref: AtomicU64::new(1),
            live: AtomicU64::new(0),
        }
    }
}

impl SeriesMap {
    fn shard(&self, hash: u64) -> &RwLock<Shard> {
        // The low bits feed the map's buckets; shard by the high bits.
        &self.shards[(hash >> 58) as usize % SHARDS]
    }

    /// The series with reference `r`, if it is live.
    #[inline]
    pub fn get_by_ref(&self, r: SeriesRef) -> Option<Arc<MemSeries>> {
        let idx = usize::try_from(r.0.checked_sub(1)?).ok()?;
        self.by_ref.read().get(idx)?.clone()
    }

    /// A lookup by ref that holds the by-ref table's read lock until dropped
    /// and borrows series without reference counting (for bulk work such as
    /// WAL replay; creating a series while holding it deadlocks).
    pub fn refs(&self) -> RefTable<'_> {
        RefTable(self.by_ref.read())
    }

    /// The series with label set `labels` (whose stable hash is `hash`).
    pub fn get_by_labels(&self, hash: u64, labels: &Labels) -> Option<Arc<MemSeries>> {
        match self.shard(hash).read().get(&hash)? {
            Slot::One(s) => (s.labels == *labels).then(|| Arc::clone(s)),
            Slot::Many(v) => v.iter().find(|s| s.labels == *labels).cloned(),
        }
    }

    /// Finds or creates the series for `labels`. `with_ref` forces the
    /// reference (WAL replay); otherwise the next free one is taken. Returns
    /// the series and whether it was created.
    pub fn get_or_create(
        &self,
        labels: &Labels,
        with_ref: Option<SeriesRef>,
    ) -> (Arc<MemSeries>, bool) {
        let hash = labels.stable_hash();
        if let Some(s) = self.get_by_labels(hash, labels) {
            return (s, false);
        }
        let mut shard = self.shard(hash).write();
        let existing = match shard.get(&hash) {
            Some(Slot::One(s)) if s.labels == *labels => Some(Arc::clone(s)),
            Some(Slot::Many(v)) => v.iter().find(|s| s.labels == *labels).cloned(),
            _ => None,
        };
        if let Some(s) = existing {
            return (s, false);
        }
        let r = match with_ref {
            Some(r) => {
                self.next_ref.fetch_max(r.0 + 1, Ordering::Relaxed);
                r
            }
            None => SeriesRef(self.next_ref.fetch_add(1, Ordering::Relaxed)),
        };
        let series = Arc::new(MemSeries::new(r, labels.clone()));
        match shard.remove(&hash) {
            None => {
                shard.insert(hash, Slot::One(Arc::clone(&series)));
            }
            Some(Slot::One(other)) => {
                shard.insert(hash, Slot::Many(Box::new([other, Arc::clone(&series)])));
            }
            Some(Slot::Many(v)) => {
                let mut v = v.into_vec();
                v.push(Arc::clone(&series));
                shard.insert(hash, Slot::Many(v.into_boxed_slice()));
            }
        }
        drop(shard);
        let idx = usize::try_from(r.0 - 1).expect("refs fit usize");
        {
            let mut by_ref = self.by_ref.write();
            if by_ref.len() <= idx {
                by_ref.resize(idx + 1, None);
            }
            by_ref[idx] = Some(Arc::clone(&series));
        }
        self.live.fetch_add(1, Ordering::Relaxed);
        (series, true)
    }

    /// Makes `r` a second reference to `series` (WAL replay of a label set
    /// logged under two refs).
    pub fn alias(&self, r: SeriesRef, series: Arc<MemSeries>) {
        self.next_ref.fetch_max(r.0 + 1, Ordering::Relaxed);
        let idx = usize::try_from(r.0 - 1).expect("refs fit usize");
        let mut by_ref = self.by_ref.write();
        if by_ref.len() <= idx {
            by_ref.resize(idx + 1, None);
        }
        if by_ref[idx].is_none() {
            by_ref[idx] = Some(series);
        }
    }

    /// Clears the alias entries (see [`SeriesMap::alias`]) of removed
    /// series, so a caller's cached alias ref misses instead of reaching a
    /// series no longer in the head. One pass over the by-ref table.
    pub fn remove_aliases(&self, removed: &std::collections::HashSet<SeriesRef>) {
        if removed.is_empty() {
            return;
        }
        for slot in self.by_ref.write().iter_mut() {
            if slot.as_ref().is_some_and(|s| removed.contains(&s.series_ref)) {
                *slot = None;
            }
        }
    }

    /// Removes a series from both maps (head truncation).
    pub fn remove(&self, series: &MemSeries) {
        let hash = series.labels.stable_hash();
        let mut shard = self.shard(hash).write();
        match shard.remove(&hash) {
            Some(Slot::One(s)) if s.series_ref != series.series_ref => {
                shard.insert(hash, Slot::One(s));
            }
            Some(Slot::Many(v)) => {
                let mut v = v.into_vec();
                v.retain(|s| s.series_ref != series.series_ref);
                if v.len() == 1 {
                    shard.insert(hash, Slot::One(v.pop().expect("one left")));
                } else if !v.is_empty() {
                    shard.insert(hash, Slot::Many(v.into_boxed_slice()));
                }
            }
            _ => {}
        }
        drop(shard);
        let idx = usize::try_from(series.series_ref.0 - 1).expect("refs fit usize");
        if self.by_ref.write().get_mut(idx).and_then(Option::take).is_some() {
            self.live.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Number of live series.
    pub fn len(&self) -> usize {
        self.live.load(Ordering::Relaxed) as usize
    }

    /// Whether no series is live.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Heap bytes of the label-hash shards and of the by-ref table (an
    /// estimate from capacities: entry plus one control byte per bucket).
    pub fn map_heap_bytes(&self) -> (usize, usize) {
        let entry = std::mem::size_of::<(u64, Slot)>() + 1;
        let shards = self
            .shards
            .iter()
            .map(|s| {
                let s = s.read();
                s.capacity() * entry
                    + s.values()
                        .map(|slot| match slot {
                            Slot::One(_) => 0,
                            Slot::Many(v) => v.len() * 8,
                        })
                        .sum::<usize>()
            })
            .sum();
        let by_ref = self.by_ref.read().capacity() * std::mem::size_of::<Option<Arc<MemSeries>>>();
        (shards, by_ref)
    }

    /// Every live series, in ref order.
    pub fn all(&self) -> Vec<Arc<MemSeries>> {
        self.by_ref.read().iter().flatten().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The head holds one of these per series: a field added here costs
    /// every series (docs/decisions/2026-12-05-series-memory.md).
    #[test]
    fn per_series_struct_stays_small() {
        assert!(std::mem::size_of::<MemSeries>() <= 136, "{}", std::mem::size_of::<MemSeries>());
        assert!(std::mem::size_of::<XorEncoder>() <= 64, "{}", std::mem::size_of::<XorEncoder>());
    }
}
