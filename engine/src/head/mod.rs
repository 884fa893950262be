//! The head: the in-memory part of the database holding recent samples.
//!
//! Each series ([`MemSeries`]) keeps one open Gorilla chunk. After
//! [`HeadOptions::samples_per_chunk`] samples, or when a sample crosses a
//! multiple of [`HeadOptions::chunk_range_ms`] (so that no chunk straddles a
//! future block boundary), the open chunk is cut: its bytes go to a head
//! chunk file ([`chunks`]) and the series keeps 24 bytes of metadata.
//! [`index::MemPostings`] maps label pairs to series for queries.
//!
//! The head knows nothing of the WAL: [`HeadAppender::commit_with`] takes
//! the logging step as a closure, which the `Db` fills with its WAL, so the
//! head can be tested (and benchmarked) on its own.
//!
//! Invariant: samples become visible to queriers only at commit, after the
//! commit's log step returned Ok.
//!
//! Invariant: a series enters the index at the commit that first logs it,
//! so the index holds exactly the series that had a committed sample.

pub mod append;
pub mod chunks;
pub mod index;
pub mod memory;
pub mod read;
pub mod series;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use parking_lot::RwLock;

use crate::chunk::{CompactScratch, Encoding};

pub use append::HeadAppender;
pub use chunks::{
    ChunkBytes, ChunkData, ChunkDiskMapper, ChunkReadError, HeadChunkRef, MappedChunk,
};
pub use index::{MemPostings, PostingsMemory};
pub use memory::HeadMemory;
pub use read::HeadQuerier;
pub use series::{MemSeries, SeriesMap, SeriesState};

use crate::model::{Labels, SeriesRef};
use crate::wal::RefSample;

/// Receives one batch of [`Head::dump`]: series records, then samples.
pub type DumpSink<'a, E> =
    dyn FnMut(&[crate::wal::SeriesRecord], &[RefSample]) -> Result<(), E> + 'a;

/// Directory under the data directory that holds head chunk files.
pub const CHUNKS_HEAD_DIR: &str = "chunks_head";

/// Head settings.
#[derive(Debug, Clone)]
pub struct HeadOptions {
    /// Samples after which the open chunk is cut (120, as Prometheus).
    pub samples_per_chunk: u16,
    /// Chunks never straddle a multiple of this (the 2 h block range).
    pub chunk_range_ms: i64,
    /// Size of one head chunk file (128 MiB).
    pub chunk_segment_bytes: u64,
}

impl Default for HeadOptions {
    fn default() -> Self {
        HeadOptions {
            samples_per_chunk: 120,
            chunk_range_ms: 2 * 3600 * 1000,
            chunk_segment_bytes: 128 << 20,
        }
    }
}

/// Figures about the head, for `/metrics` (`prometheus_tsdb_head_*`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeadStats {
    /// Live series (`prometheus_tsdb_head_series`).
    pub num_series: u64,
    /// Oldest sample time, `None` while empty (`prometheus_tsdb_head_min_time`).
    pub min_t_ms: Option<i64>,
    /// Newest sample time, `None` while empty (`prometheus_tsdb_head_max_time`).
    pub max_t_ms: Option<i64>,
    /// Chunks in the head now, open and cut (`prometheus_tsdb_head_chunks`).
    pub num_chunks: u64,
    /// Chunks cut to head chunk files since start (`prometheus_tsdb_head_chunks_created_total`).
    pub chunks_created: u64,
    /// Samples committed (`prometheus_tsdb_head_samples_appended_total`).
    pub samples_appended: u64,
    /// Samples refused because they were older than the series' newest one:
    /// when appended, or dropped at commit because a concurrent batch had
    /// committed a newer one first (`prometheus_tsdb_out_of_order_samples_total`).
    pub out_of_order_samples: u64,
    /// Samples refused because blocks already cover their time
    /// (`prometheus_tsdb_out_of_bound_samples_total`).
    pub out_of_bound_samples: u64,
    /// Chunk cuts that failed to write (the chunk stays open in memory).
    pub chunk_write_errors: u64,
    /// Live head chunk files.
    pub chunk_segments: u64,
}

/// The in-memory head.
pub struct Head {
    opts: HeadOptions,
    pub(crate) series: SeriesMap,
    pub(crate) index: RwLock<MemPostings>,
    pub(crate) chunks: ChunkDiskMapper,
    min_t: AtomicI64,
    max_t: AtomicI64,
    /// Samples older than this are refused ([`crate::AppendError::OutOfBounds`]):
    /// blocks already hold that time range.
    min_valid_t: AtomicI64,
    next_batch_id: AtomicU64,
    live_chunks: AtomicU64,
    chunks_created: AtomicU64,
    samples_appended: AtomicU64,
    pub(crate) out_of_order_samples: AtomicU64,
    pub(crate) out_of_bound_samples: AtomicU64,
    chunk_write_errors: AtomicU64,
}

impl Head {
    /// Opens a head whose chunk files live in `chunks_dir` (emptied first).
    pub fn open(chunks_dir: &Path, opts: HeadOptions) -> std::io::Result<Head> {
        let chunks = ChunkDiskMapper::open(chunks_dir, opts.chunk_segment_bytes)?;
        Ok(Head {
            opts: HeadOptions { samples_per_chunk: opts.samples_per_chunk.max(1), ..opts },
            series: SeriesMap::default(),
            index: RwLock::new(MemPostings::default()),
            chunks,
            min_t: AtomicI64::new(i64::MAX),
            max_t: AtomicI64::new(i64::MIN),
            min_valid_t: AtomicI64::new(i64::MIN),
            next_batch_id: AtomicU64::new(1),
            live_chunks: AtomicU64::new(0),
            chunks_created: AtomicU64::new(0),
            samples_appended: AtomicU64::new(0),
            out_of_order_samples: AtomicU64::new(0),
            out_of_bound_samples: AtomicU64::new(0),
            chunk_write_errors: AtomicU64::new(0),
        })
    }

    /// A new batch.
    pub fn appender(&self) -> HeadAppender<'_> {
        // Batch ids are 32 bits to keep them small in every series (see
        // `SeriesState::batch_id`); 0 means "no batch" and is skipped.
        let id = loop {
            let id = self.next_batch_id.fetch_add(1, Ordering::Relaxed) as u32;
            if id != 0 {
                break id;
            }
        };
        HeadAppender::new(self, id)
    }

    /// Oldest and newest sample time, if the head holds any sample.
    pub fn time_range(&self) -> Option<(i64, i64)> {
        let (min, max) = (self.min_t.load(Ordering::Acquire), self.max_t.load(Ordering::Acquire));
        (min <= max).then_some((min, max))
    }

    /// Refuses later appends older than `t_ms` (a block now covers them).
    /// Never moves backwards.
    pub fn set_min_valid_time(&self, t_ms: i64) {
        self.min_valid_t.fetch_max(t_ms, Ordering::AcqRel);
    }

    /// The oldest timestamp the head accepts.
    pub fn min_valid_time(&self) -> i64 {
        self.min_valid_t.load(Ordering::Acquire)
    }

    pub(crate) fn note_time_range(&self, min: i64, max: i64) {
        if min <= max {
            self.min_t.fetch_min(min, Ordering::AcqRel);
            self.max_t.fetch_max(max, Ordering::AcqRel);
        }
    }

    /// Figures for `/metrics`.
    pub fn stats(&self) -> HeadStats {
        let range = self.time_range();
        HeadStats {
            num_series: self.series.len() as u64,
            min_t_ms: range.map(|r| r.0),
            max_t_ms: range.map(|r| r.1),
            num_chunks: self.live_chunks.load(Ordering::Relaxed),
            chunks_created: self.chunks_created.load(Ordering::Relaxed),
            samples_appended: self.samples_appended.load(Ordering::Relaxed),
            out_of_order_samples: self.out_of_order_samples.load(Ordering::Relaxed),
            out_of_bound_samples: self.out_of_bound_samples.load(Ordering::Relaxed),
            chunk_write_errors: self.chunk_write_errors.load(Ordering::Relaxed),
            chunk_segments: self.chunks.num_segments() as u64,
        }
    }

    /// Recreates a series with its original reference (WAL replay): it is
    /// marked logged and indexed at once.
    ///
    /// A label set logged twice under different refs (possible once head
    /// truncation drops and recreates series) keeps its first series; the
    /// later ref becomes an alias of it, so the samples logged under either
    /// ref land in one series, as Prometheus' replay does.
    pub fn replay_series(&self, series_ref: SeriesRef, labels: &Labels) {
        // Refs start at 1; a 0 can only come from a damaged log.
        if series_ref.0 == 0 || labels.is_empty() {
            return;
        }
        let (series, created) = self.series.get_or_create(labels, Some(series_ref));
        if created {
            if !series.state.logged().swap(true, Ordering::AcqRel) {
                self.index.write().add(series.series_ref.0, &series.labels);
            }
        } else if series.series_ref != series_ref {
            self.series.alias(series_ref, series);
        }
    }

    /// Appends one WAL record's samples (replay), skipping samples of
    /// unknown series and samples not newer than their series' last (a commit
    /// torn by a crash can leave either). Returns how many were skipped.
    ///
    /// The by-ref table is read-locked once for the record and series are
    /// not reference-counted per sample: replay is one thread, and this is
    /// most of its time.
    pub fn replay_samples(&self, samples: &[RefSample]) -> u64 {
        let (mut min, mut max, mut skipped) = (i64::MAX, i64::MIN, 0u64);
        let refs = self.series.refs();
        for s in samples {
            let Some(series) = refs.get(s.series_ref) else {
                skipped += 1;
                continue;
            };
            let mut st = series.state.lock();
            if st.last_sample().is_some_and(|(last, _)| s.t_ms <= last) {
                skipped += 1;
                continue;
            }
            self.append_to_chunk(series, &mut st, s.t_ms, s.value);
            min = min.min(s.t_ms);
            max = max.max(s.t_ms);
        }
        drop(refs);
        self.note_time_range(min, max);
        self.samples_appended.fetch_add(samples.len() as u64 - skipped, Ordering::Relaxed);
        skipped
    }

    /// Appends a sample already checked to be newer than the series' last.
    #[inline]
    pub(crate) fn append_to_chunk(
        &self,
        series: &MemSeries,
        st: &mut series::SeriesGuard<'_>,
        t_ms: i64,
        value: f64,
    ) {
        let n = st.head.num_samples();
        // The cut time is kept relative to the newest sample, so it is read
        // before this sample is appended and written back after.
        let mut cut_t = if n == 0 { None } else { Some(st.head_cut_t()) };
        if n == 0 {
            self.live_chunks.fetch_add(1, Ordering::Relaxed);
        } else if n >= self.opts.samples_per_chunk || cut_t.is_some_and(|c| t_ms >= c) {
            self.cut_chunk(series, st);
            if st.head.num_samples() == 0 {
                self.live_chunks.fetch_add(1, Ordering::Relaxed);
                cut_t = None;
            } else if st.head.num_samples() == u16::MAX {
                // The chunk files keep failing and the open chunk is as large as
                // its header can count: this sample cannot be kept.
                self.chunk_write_errors.fetch_add(1, Ordering::Relaxed);
                return;
            }
        }
        st.head.append(t_ms, value);
        st.set_head_cut_t(cut_t.unwrap_or_else(|| self.cut_time_after(t_ms)));
    }

    fn cut_time_after(&self, t_ms: i64) -> i64 {
        let range = self.opts.chunk_range_ms.max(1);
        t_ms.div_euclid(range).saturating_add(1).saturating_mul(range)
    }

    /// Moves the open chunk to a head chunk file, in the smaller of its XOR
    /// and decimal encodings. On a write error the chunk stays open (nothing
    /// is lost; the WAL holds it anyway) and the error is counted and logged.
    #[cold]
    fn cut_chunk(&self, series: &MemSeries, st: &mut SeriesState) {
        thread_local! {
            static SCRATCH: std::cell::RefCell<CompactScratch> = std::cell::RefCell::default();
        }
        let (min_t, max_t) = (st.head_min_t(), st.head.last_t());
        let written = SCRATCH.with_borrow_mut(|scratch| {
            let (encoding, bytes) = crate::chunk::compact(&st.head, scratch);
            self.chunks.write_chunk(series.series_ref.0, min_t, max_t, encoding, bytes)
        });
        match written {
            Ok(chunk_ref) => {
                // A series keeps its cut chunks' refs for the head's whole
                // span, 24 bytes each, so the list has no spare capacity.
                st.push_mapped(MappedChunk { chunk_ref, min_t_ms: min_t, max_t_ms: max_t });
                // Release the buffer rather than keep it for the next
                // chunk: a kept buffer is a full chunk's size for the
                // series' whole life, a new one grows with its samples.
                st.head = crate::chunk::XorEncoder::new();
                self.chunks_created.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                if self.chunk_write_errors.fetch_add(1, Ordering::Relaxed) == 0 {
                    tracing::error!(error = %e, "writing a head chunk failed; keeping chunks in memory");
                }
            }
        }
    }

    /// The chunks of series `r` that overlap `[min_t_ms, max_t_ms]`, oldest
    /// first: what a querier iterates and what a block writer will copy out.
    /// `None` if the series is not live.
    pub fn series_chunks(
        &self,
        r: SeriesRef,
        min_t_ms: i64,
        max_t_ms: i64,
    ) -> Option<Result<(Labels, Vec<ChunkData>), ChunkReadError>> {
        let series = self.series.get_by_ref(r)?;
        Some(self.chunks_of(&series, min_t_ms, max_t_ms).map(|c| (series.labels.clone(), c)))
    }

    pub(crate) fn chunks_of(
        &self,
        series: &MemSeries,
        min_t_ms: i64,
        max_t_ms: i64,
    ) -> Result<Vec<ChunkData>, ChunkReadError> {
        let (mapped, open) = {
            let st = series.state.lock();
            let mapped: Vec<MappedChunk> = st
                .mapped
                .iter()
                .filter(|c| c.max_t_ms >= min_t_ms && c.min_t_ms <= max_t_ms)
                .copied()
                .collect();
            let head_min_t = st.head_min_t();
            let open = (st.head.num_samples() > 0
                && st.head.last_t() >= min_t_ms
                && head_min_t <= max_t_ms)
                .then(|| ChunkData {
                    min_t_ms: head_min_t,
                    max_t_ms: st.head.last_t(),
                    encoding: Encoding::Xor,
                    bytes: ChunkBytes::Owned(st.head.to_bytes().into()),
                });
            (mapped, open)
        };
        let mut out = Vec::with_capacity(mapped.len() + 1);
        for c in mapped {
            let (encoding, bytes) = self.chunks.read(c.chunk_ref)?;
            out.push(ChunkData { min_t_ms: c.min_t_ms, max_t_ms: c.max_t_ms, encoding, bytes });
        }
        out.extend(open);
        Ok(out)
    }

    /// Drops data older than `min_t_ms` (once blocks hold it): cut chunks
    /// ending before it, then series left without samples, then head chunk
    /// files holding only dropped chunks. Open chunks are kept whole unless
    /// their series has nothing at or after `min_t_ms`.
    pub fn truncate_before(&self, min_t_ms: i64) -> std::io::Result<()> {
        let mut gone = Vec::new();
        let mut dropped_chunks = 0u64;
        let mut all = self.series.all();
        // A series replayed under two refs is listed once per ref.
        all.sort_by_key(|s| s.series_ref);
        all.dedup_by(|a, b| Arc::ptr_eq(a, b));
        for series in all {
            let mut st = series.state.lock();
            dropped_chunks += st.retain_mapped(|c| c.max_t_ms >= min_t_ms) as u64;
            let empty = st.mapped.is_empty() && st.head.num_samples() == 0;
            let stale =
                st.mapped.is_empty() && st.head.num_samples() > 0 && st.head.last_t() < min_t_ms;
            if (empty || stale) && st.batch_id == 0 {
                dropped_chunks += u64::from(stale);
                gone.push(Arc::clone(&series));
            }
        }
        self.live_chunks.fetch_sub(dropped_chunks, Ordering::Relaxed);
        for series in &gone {
            if series.state.logged().load(Ordering::Acquire) {
                self.index.write().remove(series.series_ref.0, &series.labels);
            }
            self.series.remove(series);
        }
        self.series.remove_aliases(&gone.iter().map(|s| s.series_ref).collect());
        // Recompute the time range from what is left.
        let (mut min, mut max) = (i64::MAX, i64::MIN);
        for series in self.series.all() {
            if let Some((a, b)) = series.state.lock().time_range() {
                min = min.min(a);
                max = max.max(b);
            }
        }
        self.min_t.store(min, Ordering::Release);
        self.max_t.store(max, Ordering::Release);
        self.chunks.truncate_before(min_t_ms)?;
        Ok(())
    }

    /// Hands every logged series' samples inside `[min_t_ms, max_t_ms]`
    /// to `sink` in batches of about `batch_samples` samples, each batch
    /// with the series records of the series it holds: what a WAL
    /// checkpoint keeps. Series never committed are left out (their
    /// series record reaches the WAL with their first commit).
    pub fn dump<E>(
        &self,
        min_t_ms: i64,
        max_t_ms: i64,
        batch_samples: usize,
        sink: &mut DumpSink<'_, E>,
    ) -> Result<(), E>
    where
        E: From<ChunkReadError>,
    {
        let (mut recs, mut samples) = (Vec::new(), Vec::new());
        let mut seen = std::collections::HashSet::new();
        for series in self.series.all() {
            // A series replayed under two refs is listed once per ref.
            if !series.state.logged().load(Ordering::Acquire) || !seen.insert(series.series_ref) {
                continue;
            }
            recs.push(crate::wal::SeriesRecord {
                series_ref: series.series_ref,
                labels: series.labels.clone(),
            });
            for c in self.chunks_of(&series, min_t_ms, max_t_ms)? {
                let mut it = crate::chunk::ChunkIterator::new(c.encoding, c.bytes.as_slice());
                while let Some(s) = crate::query::SampleIterator::next(&mut it) {
                    if s.t_ms >= min_t_ms && s.t_ms <= max_t_ms {
                        samples.push(RefSample {
                            series_ref: series.series_ref,
                            t_ms: s.t_ms,
                            value: s.value,
                        });
                    }
                }
            }
            if samples.len() >= batch_samples {
                sink(&recs, &samples)?;
                recs.clear();
                samples.clear();
            }
        }
        if !recs.is_empty() || !samples.is_empty() {
            sink(&recs, &samples)?;
        }
        Ok(())
    }

    /// Flushes and seals the head chunk files.
    pub fn close(&self) -> std::io::Result<()> {
        self.chunks.close()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Matcher;
    use crate::query::Querier;

    #[test]
    fn in_batch_checks_use_each_series_own_newest_pending_sample() {
        use crate::error::AppendError;
        let dir = tempfile::tempdir().unwrap();
        let head = Head::open(dir.path(), HeadOptions::default()).unwrap();
        let (a, b) = (Labels::new([("__name__", "a")]), Labels::new([("__name__", "b")]));
        let mut app = head.appender();
        let ra = app.append(None, &a, 10, 1.0).unwrap();
        let rb = app.append(None, &b, 30, 3.0).unwrap();
        app.append(Some(ra), &a, 20, 2.0).unwrap();
        assert!(matches!(app.append(Some(ra), &a, 15, 0.0), Err(AppendError::OutOfOrder)));
        assert!(matches!(app.append(Some(ra), &a, 20, 9.0), Err(AppendError::DuplicateTimestamp)));
        assert_eq!(app.append(Some(ra), &a, 20, 2.0).unwrap(), ra);
        assert!(matches!(app.append(Some(rb), &b, 25, 0.0), Err(AppendError::OutOfOrder)));
        app.append(Some(rb), &b, 40, 4.0).unwrap();
        // A second batch knows nothing of the first's pending samples.
        let mut other = head.appender();
        other.append(Some(ra), &a, 5, 0.5).unwrap();
        drop(other);
        app.commit_with(|_, _| Ok(())).unwrap();
        let last = |r| head.series.get_by_ref(r).unwrap().state.lock().last_sample();
        assert_eq!(last(ra), Some((20, 2.0f64.to_bits())));
        assert_eq!(last(rb), Some((40, 4.0f64.to_bits())));
        // Refusals are counted for `/metrics`; duplicates of the same
        // sample are not refusals.
        assert_eq!(head.stats().out_of_order_samples, 2);
        assert_eq!(head.stats().out_of_bound_samples, 0);
    }

    #[test]
    fn samples_before_the_blocks_end_are_counted_out_of_bounds() {
        use crate::error::AppendError;
        let dir = tempfile::tempdir().unwrap();
        let head = Head::open(dir.path(), HeadOptions::default()).unwrap();
        head.set_min_valid_time(1_000);
        let l = Labels::new([("__name__", "a")]);
        let mut app = head.appender();
        assert!(matches!(app.append(None, &l, 999, 1.0), Err(AppendError::OutOfBounds)));
        app.append(None, &l, 1_000, 1.0).unwrap();
        app.commit_with(|_, _| Ok(())).unwrap();
        assert_eq!(head.stats().out_of_bound_samples, 1);
        assert_eq!(head.stats().out_of_order_samples, 0);
    }

    #[test]
    fn replayed_duplicate_series_records_alias_one_series() {
        let dir = tempfile::tempdir().unwrap();
        let head = Head::open(dir.path(), HeadOptions::default()).unwrap();
        let l = Labels::new([("__name__", "x")]);
        head.replay_series(SeriesRef(3), &l);
        head.replay_series(SeriesRef(9), &l);
        let sample = |r, t| RefSample { series_ref: SeriesRef(r), t_ms: t, value: 1.0 };
        assert_eq!(head.replay_samples(&[sample(3, 10), sample(9, 20), sample(4, 30)]), 1);
        assert_eq!(head.stats().num_series, 1);
        let (_, chunks) = head.series_chunks(SeriesRef(9), 0, 100).unwrap().unwrap();
        let mut it =
            crate::chunk::ChunkIterator::new(chunks[0].encoding, chunks[0].bytes.as_slice());
        let ts: Vec<i64> =
            std::iter::from_fn(|| crate::query::SampleIterator::next(&mut it).map(|s| s.t_ms))
                .collect();
        assert_eq!(ts, [10, 20]);
        // New series continue above every replayed ref.
        let r = head.appender().append(None, &Labels::new([("__name__", "y")]), 1, 1.0).unwrap();
        assert_eq!(r, SeriesRef(10));
    }

    #[test]
    fn truncation_drops_old_chunks_and_emptied_series() {
        let dir = tempfile::tempdir().unwrap();
        let opts = HeadOptions {
            samples_per_chunk: 10,
            chunk_range_ms: 1_000_000,
            chunk_segment_bytes: 512,
        };
        let head = Head::open(dir.path(), opts).unwrap();
        let old = Labels::new([("__name__", "old")]);
        let live = Labels::new([("__name__", "live")]);
        let mut app = head.appender();
        for t in 0..50 {
            app.append(None, &old, t, t as f64).unwrap();
            app.append(None, &live, t, t as f64).unwrap();
        }
        app.commit_with(|_, _| Ok(())).unwrap();
        let mut app = head.appender();
        for t in 50..100 {
            app.append(None, &live, t, 1.0).unwrap();
        }
        app.commit_with(|_, _| Ok(())).unwrap();
        let before = head.stats();
        assert_eq!(before.num_series, 2);
        assert_eq!(before.num_chunks, 5 + 10);
        assert_eq!((before.min_t_ms, before.max_t_ms), (Some(0), Some(99)));

        head.truncate_before(60).unwrap();
        let after = head.stats();
        assert_eq!(after.num_series, 1);
        // Chunks of `live` ending before 60 are gone: 60-69, 70-79, 80-89 and
        // the open 90-99 are left.
        assert_eq!(after.num_chunks, 4);
        assert_eq!(after.min_t_ms, Some(60));
        let q = HeadQuerier::new(&head, 0, 1000);
        assert!(q.select(&[Matcher::equal("__name__", "old")], None).unwrap().is_empty());
        assert_eq!(q.label_values("__name__", &[]).unwrap(), ["live"]);
        let (labels, chunks) = head.series_chunks(SeriesRef(2), 0, 1000).unwrap().unwrap();
        assert_eq!(labels, live);
        assert_eq!(chunks.iter().map(|c| c.min_t_ms).collect::<Vec<_>>(), [60, 70, 80, 90]);
    }
}
