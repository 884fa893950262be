//! In-memory series and the maps that find them.
//!
//! A [`MemSeries`] is the head's whole per-series state: its labels, its
//! open chunk, and the time ranges and file references of its cut chunks.
//! [`SeriesMap`] finds series by label set (sharded by
//! `Labels::stable_hash`, so concurrent writers creating series rarely
//! contend; measured against `dashmap` in `benches/benches/head.rs`,
//! `series_lookup/*`: 13.3 M against 7.7 M lookups per CPU-second over 100k
//! series, docs/decisions/2026-12-06-series-map.md; the label hash is
//! computed once and handed to the shard's table, which stores only the
//! series pointer)
//! and by reference (a dense vector indexed by ref: the scrape
//! loop's cached-ref fast path costs one read lock and one index, no hash).
//!
//! Invariant: refs are assigned in increasing order and never reused, so a
//! stale ref can only miss, never find another series.

use std::alloc::Layout;
use std::cell::UnsafeCell;
use std::marker::PhantomData;
use std::ptr::NonNull;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use parking_lot::lock_api::RawMutex as RawMutexApi;
use parking_lot::{RawMutex, RwLock};

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
    /// Everything that changes on append, under its own lock, and whether
    /// the series was logged.
    pub(super) state: SeriesLock,
}

/// The mutable part of a series, under its own lock.
#[derive(Debug)]
pub struct SeriesState {
    /// The open chunk (its first timestamp is decoded from it when needed,
    /// see [`SeriesState::head_min_t`]).
    pub(super) head: XorEncoder,
    /// Cut chunks, oldest first, time ranges disjoint and increasing.
    /// Exactly their number, no spare capacity: it changes once a chunk
    /// cut, rarely enough to reallocate each time.
    pub(super) mapped: MappedChunks,
    /// The appender holding uncommitted samples of this series (0: none)
    /// and the index of its newest one in that appender's samples, so
    /// in-batch order is checked without a lookup. 32 bits each rather than
    /// the sample's time and value (8 bytes instead of 24 a series).
    pub(super) batch_id: u32,
    pub(super) batch_index: u32,
}

/// The cut chunk refs of a series: one 8-byte pointer to an allocation
/// holding their number and then the refs, or none while there are none.
/// Half of a boxed slice's 16 bytes in every series, for 8 bytes more in
/// the allocation of a series that has cut chunks.
#[derive(Default)]
pub struct MappedChunks(Option<NonNull<usize>>);

// The refs follow the count with no padding.
const _: () = assert!(std::mem::align_of::<MappedChunk>() <= std::mem::size_of::<usize>());

// SAFETY: `MappedChunks` owns its allocation and never shares it mutably;
// it is a `Box<[MappedChunk]>` in a thinner form, and `MappedChunk` is
// `Send + Sync`.
unsafe impl Send for MappedChunks {}
// SAFETY: see `Send`.
unsafe impl Sync for MappedChunks {}

impl MappedChunks {
    fn layout(len: usize) -> Layout {
        let refs = Layout::array::<MappedChunk>(len).expect("chunk refs fit memory");
        Layout::new::<usize>().extend(refs).expect("chunk refs fit memory").0
    }

    /// A copy of `refs`.
    pub(super) fn from_slice(refs: &[MappedChunk]) -> Self {
        if refs.is_empty() {
            return MappedChunks(None);
        }
        let layout = Self::layout(refs.len());
        // SAFETY: `layout` has a non-zero size (the count).
        let raw = unsafe { std::alloc::alloc(layout) }.cast::<usize>();
        let Some(ptr) = NonNull::new(raw) else { std::alloc::handle_alloc_error(layout) };
        // SAFETY: a fresh allocation of the count and `refs.len()` refs
        // right after it (see the alignment assertion above).
        unsafe {
            raw.write(refs.len());
            std::ptr::copy_nonoverlapping(
                refs.as_ptr(),
                raw.add(1).cast::<MappedChunk>(),
                refs.len(),
            );
        }
        MappedChunks(Some(ptr))
    }

    /// Heap bytes held (for memory accounting).
    pub(super) fn heap_bytes(&self) -> usize {
        self.0.map_or(0, |_| Self::layout(self.len()).size())
    }
}

impl std::ops::Deref for MappedChunks {
    type Target = [MappedChunk];
    #[inline]
    fn deref(&self) -> &[MappedChunk] {
        match self.0 {
            None => &[],
            // SAFETY: the allocation holds the count and that many
            // initialised refs after it (`from_slice`), and lives as long
            // as `self`.
            Some(p) => unsafe {
                std::slice::from_raw_parts(p.as_ptr().add(1).cast::<MappedChunk>(), *p.as_ptr())
            },
        }
    }
}

impl Drop for MappedChunks {
    fn drop(&mut self) {
        if let Some(p) = self.0 {
            // SAFETY: allocated in `from_slice` with this layout; the refs
            // are `Copy`, so nothing else needs dropping.
            unsafe { std::alloc::dealloc(p.as_ptr().cast::<u8>(), Self::layout(*p.as_ptr())) };
        }
    }
}

impl std::fmt::Debug for MappedChunks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// A series' lock with its state, the `logged` flag and the open chunk's
/// cut time packed beside the lock byte.
///
/// A `parking_lot::Mutex<SeriesState>` puts its one-byte lock in an 8-byte
/// slot of its own, and the flag and the cut time would each take another
/// 8: here the three share one word, which (with the thin label set and
/// cut chunk list) keeps a [`MemSeries`] and its `Arc` header inside one
/// 128-byte malloc chunk instead of 160.
pub struct SeriesLock {
    raw: RawMutex,
    /// Whether its series record was handed to the WAL (and it was
    /// indexed). Set once, by the first commit holding one of its samples;
    /// read without the lock.
    logged: AtomicBool,
    /// The open chunk must be cut before a sample at or after its last
    /// sample's time plus this many milliseconds (see
    /// [`SeriesGuard::head_cut_t`]). Only touched under the lock.
    cut_gap: UnsafeCell<u32>,
    state: UnsafeCell<SeriesState>,
}

// SAFETY: `state` and `cut_gap` are only reached through a `SeriesGuard`,
// which exists only while `raw` is held, so at most one thread touches them
// at a time; `SeriesState` is `Send`. `logged` is atomic.
unsafe impl Sync for SeriesLock {}

impl SeriesLock {
    fn new(state: SeriesState) -> Self {
        SeriesLock {
            raw: <RawMutex as RawMutexApi>::INIT,
            logged: AtomicBool::new(false),
            cut_gap: UnsafeCell::new(0),
            state: UnsafeCell::new(state),
        }
    }

    /// Locks the state.
    #[inline]
    pub(super) fn lock(&self) -> SeriesGuard<'_> {
        self.raw.lock();
        SeriesGuard { lock: self, _not_send: PhantomData }
    }

    /// Whether the series was logged (see [`SeriesLock::logged`]).
    #[inline]
    pub(super) fn logged(&self) -> &AtomicBool {
        &self.logged
    }
}

impl std::fmt::Debug for SeriesLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SeriesLock").field("logged", &self.logged).finish_non_exhaustive()
    }
}

/// The locked state of a series; unlocks when dropped.
pub struct SeriesGuard<'a> {
    lock: &'a SeriesLock,
    /// The lock must be released by the thread that took it.
    _not_send: PhantomData<*const ()>,
}

impl SeriesGuard<'_> {
    /// The time before which the open chunk must be cut: no chunk may
    /// straddle a multiple of the chunk range. Meaningful while the open
    /// chunk holds a sample.
    #[inline]
    pub(super) fn head_cut_t(&self) -> i64 {
        // SAFETY: the guard holds the lock (see `SeriesLock`).
        let gap = unsafe { *self.lock.cut_gap.get() };
        self.head.last_t().saturating_add(i64::from(gap))
    }

    /// Sets the cut time; call after appending the open chunk's newest
    /// sample. A cut time further than `u32::MAX` ms past it is stored as
    /// that much, which only cuts the chunk earlier than needed.
    #[inline]
    pub(super) fn set_head_cut_t(&mut self, cut_t: i64) {
        let gap =
            u32::try_from(cut_t.saturating_sub(self.head.last_t()).max(0)).unwrap_or(u32::MAX);
        // SAFETY: the guard holds the lock (see `SeriesLock`).
        unsafe { *self.lock.cut_gap.get() = gap };
    }
}

impl std::ops::Deref for SeriesGuard<'_> {
    type Target = SeriesState;
    #[inline]
    fn deref(&self) -> &SeriesState {
        // SAFETY: the guard holds the lock (see `SeriesLock`).
        unsafe { &*self.lock.state.get() }
    }
}

impl std::ops::DerefMut for SeriesGuard<'_> {
    #[inline]
    fn deref_mut(&mut self) -> &mut SeriesState {
        // SAFETY: the guard holds the lock, and `&mut self` keeps this the
        // only reference made through it.
        unsafe { &mut *self.lock.state.get() }
    }
}

impl Drop for SeriesGuard<'_> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: this guard took the lock in `SeriesLock::lock` and no
        // reference into the state outlives it.
        unsafe { self.lock.raw.unlock() };
    }
}

impl SeriesState {
    fn new() -> Self {
        SeriesState {
            head: XorEncoder::new(),
            mapped: MappedChunks::default(),
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
        let mut v = Vec::with_capacity(self.mapped.len() + 1);
        v.extend_from_slice(&self.mapped);
        v.push(chunk);
        self.mapped = MappedChunks::from_slice(&v);
    }

    /// Keeps the cut chunks' refs that `keep` accepts; returns how many
    /// were dropped.
    pub(super) fn retain_mapped(&mut self, keep: impl FnMut(&MappedChunk) -> bool) -> usize {
        let before = self.mapped.len();
        let mut v = self.mapped.to_vec();
        v.retain(keep);
        if v.len() != before {
            self.mapped = MappedChunks::from_slice(&v);
        }
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
        MemSeries { series_ref, labels, state: SeriesLock::new(SeriesState::new()) }
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

/// Series by label hash. A table of the series pointers alone (8 bytes and
/// one control byte a bucket): the hash is recomputed from the labels only
/// when the table grows, and label sets sharing a 64-bit hash are simply
/// two entries under the same hash.
type Shard = hashbrown::HashTable<Arc<MemSeries>>;

fn rehash(s: &Arc<MemSeries>) -> u64 {
    s.labels.stable_hash()
}

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
        // A shard's table uses the low bits for its buckets and the top
        // seven as control bytes; shard by bits in between, so both stay
        // evenly spread within a shard.
        &self.shards[(hash >> 32) as usize % SHARDS]
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
        self.shard(hash).read().find(hash, |s| s.labels == *labels).cloned()
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
        if let Some(s) = shard.find(hash, |s| s.labels == *labels) {
            return (Arc::clone(s), false);
        }
        let r = match with_ref {
            Some(r) => {
                self.next_ref.fetch_max(r.0 + 1, Ordering::Relaxed);
                r
            }
            None => SeriesRef(self.next_ref.fetch_add(1, Ordering::Relaxed)),
        };
        let series = Arc::new(MemSeries::new(r, labels.clone()));
        shard.insert_unique(hash, Arc::clone(&series), rehash);
        drop(shard);
        let idx = usize::try_from(r.0 - 1).expect("refs fit usize");
        {
            let mut by_ref = self.by_ref.write();
            grow_to(&mut by_ref, idx + 1);
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
        grow_to(&mut by_ref, idx + 1);
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
        if let Ok(entry) = shard.find_entry(hash, |s| s.series_ref == series.series_ref) {
            entry.remove();
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

    /// Heap bytes of the label-hash shards and of the by-ref table (the
    /// shards' table allocations; the by-ref table's capacity).
    pub fn map_heap_bytes(&self) -> (usize, usize) {
        let shards = self.shards.iter().map(|s| s.read().allocation_size()).sum();
        let by_ref = self.by_ref.read().capacity() * std::mem::size_of::<Option<Arc<MemSeries>>>();
        (shards, by_ref)
    }

    /// Every live series, in ref order.
    pub fn all(&self) -> Vec<Arc<MemSeries>> {
        self.by_ref.read().iter().flatten().cloned().collect()
    }
}

/// Lengthens the by-ref table to at least `len` entries, growing its
/// capacity by an eighth rather than doubling it: the table is one entry per
/// series ever created, and at a large size its reallocation is a remap, not
/// a copy, so the smaller step costs little and keeps less spare capacity
/// (about 6 % on average instead of 50 %).
fn grow_to(table: &mut Vec<Option<Arc<MemSeries>>>, len: usize) {
    if table.len() >= len {
        return;
    }
    if table.capacity() < len {
        let step = (table.capacity() / 8).max(1024);
        table.reserve_exact((len - table.len()).max(table.capacity() + step - table.len()));
    }
    table.resize(len, None);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The head holds one of these per series: a field added here costs
    /// every series (docs/decisions/2026-12-05-series-memory.md).
    #[test]
    fn cut_chunk_refs_push_and_retain() {
        let c = |i: u64| MappedChunk {
            chunk_ref: super::super::chunks::HeadChunkRef(i),
            min_t_ms: i as i64 * 10,
            max_t_ms: i as i64 * 10 + 9,
        };
        let mut st = SeriesState::new();
        assert!(st.mapped.is_empty() && st.mapped.heap_bytes() == 0);
        for i in 0..5 {
            st.push_mapped(c(i));
        }
        assert_eq!(&*st.mapped, &[c(0), c(1), c(2), c(3), c(4)]);
        assert_eq!(st.mapped.heap_bytes(), 8 + 5 * 24);
        assert_eq!(st.retain_mapped(|m| m.min_t_ms >= 20), 2);
        assert_eq!(&*st.mapped, &[c(2), c(3), c(4)]);
        assert_eq!(st.time_range(), Some((20, 49)));
        assert_eq!(st.retain_mapped(|_| false), 3);
        assert!(st.mapped.is_empty() && st.time_range().is_none());
    }

    #[test]
    fn per_series_struct_stays_small() {
        // 104 bytes and the 16-byte `Arc` header fit one 128-byte chunk of
        // glibc's malloc; 8 more would take a 144-byte one.
        assert!(std::mem::size_of::<MemSeries>() <= 104, "{}", std::mem::size_of::<MemSeries>());
        assert!(std::mem::size_of::<XorEncoder>() <= 64, "{}", std::mem::size_of::<XorEncoder>());
    }
}
