//! [`HeadAppender`]: a batch of samples for the head.
//!
//! Appends are checked at once (order against the series' committed samples
//! and the batch's own earlier samples) so the caller gets a typed error per
//! sample; nothing is visible until commit. The batch keeps each sample as a
//! WAL-ready [`RefSample`] beside a handle to its series, so commit neither
//! looks series up again nor re-encodes anything for the log.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::Head;
use super::series::{MemSeries, SeriesState};
use crate::append::{AppendOptions, Appender};
use crate::error::{AppendError, CommitError};
use crate::model::{Labels, SeriesRef};
use crate::wal::{RefSample, SeriesRecord};

/// A batch of appends to the head.
pub struct HeadAppender<'a> {
    head: &'a Head,
    id: u32,
    samples: Vec<RefSample>,
    series: Vec<Arc<MemSeries>>,
}

impl<'a> HeadAppender<'a> {
    pub(super) fn new(head: &'a Head, id: u32) -> Self {
        HeadAppender { head, id, samples: Vec::new(), series: Vec::new() }
    }

    /// Appends a sample; see [`Appender::append_with`].
    #[inline]
    pub fn append(
        &mut self,
        series_ref: Option<SeriesRef>,
        labels: &Labels,
        t_ms: i64,
        value: f64,
    ) -> Result<SeriesRef, AppendError> {
        // A cached ref is trusted when the caller passes no labels; otherwise
        // it must name the same label set. That check is a pointer comparison
        // when the caller's labels are the clone the series was created from
        // (what a scrape cache holds) and a short memcmp otherwise, never a
        // hash, and it keeps a ref cached across a restart of the database
        // (where unlogged refs are handed out again) from hitting the wrong series.
        if t_ms < self.head.min_valid_t.load(Ordering::Relaxed) {
            self.head.out_of_bound_samples.fetch_add(1, Ordering::Relaxed);
            return Err(AppendError::OutOfBounds);
        }
        let series = match series_ref.and_then(|r| self.head.series.get_by_ref(r)) {
            Some(s) if labels.is_empty() || same_labels(&s.labels, labels) => s,
            _ => self.lookup_or_create(labels)?,
        };
        let v_bits = value.to_bits();
        {
            let mut st = series.state.lock();
            let last = match self.pending_of(&series, &st) {
                Some(p) => Some((p.t_ms, p.value.to_bits())),
                None => st.last_sample(),
            };
            if let Some((last_t, last_v)) = last {
                if t_ms < last_t {
                    self.head.out_of_order_samples.fetch_add(1, Ordering::Relaxed);
                    return Err(AppendError::OutOfOrder);
                }
                if t_ms == last_t {
                    return if last_v == v_bits {
                        Ok(series.series_ref)
                    } else {
                        Err(AppendError::DuplicateTimestamp)
                    };
                }
            }
            st.batch_id = self.id;
            // Past u32::MAX samples in one batch the index finds nothing and
            // the check falls back to the committed samples (commit still
            // drops out-of-order ones).
            st.batch_index = u32::try_from(self.samples.len()).unwrap_or(u32::MAX);
        }
        let r = series.series_ref;
        self.samples.push(RefSample { series_ref: r, t_ms, value });
        self.series.push(series);
        Ok(r)
    }

    /// This batch's newest sample of `series`, if the batch holds one. The
    /// series remembers only the batch id and the sample's index; the ref
    /// comparison guards against another live batch with the same (32-bit,
    /// wrapped) id.
    #[inline]
    fn pending_of(&self, series: &MemSeries, st: &SeriesState) -> Option<&RefSample> {
        if st.batch_id != self.id {
            return None;
        }
        self.samples.get(st.batch_index as usize).filter(|p| p.series_ref == series.series_ref)
    }

    #[cold]
    fn lookup_or_create(&self, labels: &Labels) -> Result<Arc<MemSeries>, AppendError> {
        if labels.is_empty() {
            return Err(AppendError::EmptyLabels);
        }
        let mut prev: Option<&str> = None;
        for l in labels {
            if prev == Some(l.name) {
                return Err(AppendError::DuplicateLabelName(l.name.to_owned()));
            }
            prev = Some(l.name);
        }
        Ok(self.head.series.get_or_create(labels, None).0)
    }

    /// Sizes the batch's buffers for `samples` more appends.
    pub fn reserve(&mut self, samples: usize) {
        self.samples.reserve(samples);
        self.series.reserve(samples);
    }

    /// Number of samples in the batch.
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    /// Whether the batch is empty.
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// Commits the batch: `log` gets the series first seen in this commit
    /// and every sample, and must make them durable; only if it returns Ok
    /// are the samples applied to the head (and so visible).
    pub fn commit_with(
        mut self,
        log: impl FnOnce(&[SeriesRecord], &[RefSample]) -> Result<(), CommitError>,
    ) -> Result<(), CommitError> {
        let mut new_series: Vec<SeriesRecord> = Vec::new();
        let mut newly_logged: Vec<&Arc<MemSeries>> = Vec::new();
        for s in &self.series {
            // A cheap load first: after warm-up every series is logged.
            if !s.state.logged().load(Ordering::Acquire)
                && !s.state.logged().swap(true, Ordering::AcqRel)
            {
                new_series
                    .push(SeriesRecord { series_ref: s.series_ref, labels: s.labels.clone() });
                newly_logged.push(s);
            }
        }
        if let Err(e) = log(&new_series, &self.samples) {
            // Not logged after all: a later commit must log these series.
            for s in newly_logged {
                s.state.logged().store(false, Ordering::Release);
            }
            return Err(e);
        }
        if !newly_logged.is_empty() {
            let mut index = self.head.index.write();
            for s in newly_logged {
                index.add(s.series_ref.0, &s.labels);
            }
        }
        let (mut min_t, mut max_t) = (i64::MAX, i64::MIN);
        let mut dropped = 0u64;
        for (s, rs) in self.series.iter().zip(&self.samples) {
            let mut st = s.state.lock();
            if st.batch_id == self.id {
                st.batch_id = 0;
            }
            match st.last_sample() {
                // A concurrent batch committed a newer sample first.
                Some((last, _)) if rs.t_ms <= last => dropped += 1,
                _ => {
                    self.head.append_to_chunk(s, &mut st, rs.t_ms, rs.value);
                    min_t = min_t.min(rs.t_ms);
                    max_t = max_t.max(rs.t_ms);
                }
            }
        }
        self.head.note_time_range(min_t, max_t);
        let applied = self.samples.len() as u64 - dropped;
        self.head.samples_appended.fetch_add(applied, Ordering::Relaxed);
        if dropped > 0 {
            self.head.out_of_order_samples.fetch_add(dropped, Ordering::Relaxed);
        }
        self.samples.clear();
        self.series.clear();
        Ok(())
    }

    fn release(&mut self) {
        for s in &self.series {
            let mut st = s.state.lock();
            if st.batch_id == self.id {
                st.batch_id = 0;
            }
        }
        self.series.clear();
        self.samples.clear();
    }
}

#[inline]
fn same_labels(a: &Labels, b: &Labels) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    std::ptr::eq(a, b) || a == b
}

impl Drop for HeadAppender<'_> {
    fn drop(&mut self) {
        if !self.series.is_empty() {
            self.release();
        }
    }
}

/// The head on its own, without a WAL (tests, benchmarks).
impl Appender for HeadAppender<'_> {
    fn append_with(
        &mut self,
        series: Option<SeriesRef>,
        labels: &Labels,
        t_ms: i64,
        value: f64,
        _options: &AppendOptions<'_>,
    ) -> Result<SeriesRef, AppendError> {
        self.append(series, labels, t_ms, value)
    }

    fn reserve(&mut self, samples: usize) {
        HeadAppender::reserve(self, samples);
    }

    fn commit(self: Box<Self>) -> Result<(), CommitError> {
        (*self).commit_with(|_, _| Ok(()))
    }

    fn rollback(mut self: Box<Self>) {
        self.release();
    }
}
