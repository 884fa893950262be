//! [`HeadQuerier`]: the read path over the head.
//!
//! A select resolves matchers to postings, then snapshots each series'
//! chunks overlapping the range: cut chunks as zero-copy slices of their
//! mapped files, the open chunk as a copy taken under the series lock. The
//! snapshot is what gives a querier a stable view while appends go on.

use std::sync::Arc;

use super::chunks::{ChunkData, ChunkReadError};
use super::series::MemSeries;
use super::{CHUNKS_HEAD_DIR, Head};
use crate::chunk::ChunkIterator;
use crate::error::QueryError;
use crate::model::{Labels, Matcher, Sample};
use crate::query::{Querier, SampleIterator, SelectHints, Series, SeriesSet};

/// A read view of the head over `[min_t_ms, max_t_ms]`.
pub struct HeadQuerier<'a> {
    head: &'a Head,
    min_t_ms: i64,
    max_t_ms: i64,
}

impl<'a> HeadQuerier<'a> {
    /// A querier over `[min_t_ms, max_t_ms]`.
    pub fn new(head: &'a Head, min_t_ms: i64, max_t_ms: i64) -> Self {
        HeadQuerier { head, min_t_ms, max_t_ms }
    }

    fn postings(&self, matchers: &[Matcher]) -> Vec<Arc<MemSeries>> {
        let refs = self.head.index.read().postings_for_matchers(matchers);
        refs.into_iter()
            .filter_map(|r| self.head.series.get_by_ref(crate::model::SeriesRef(r)))
            .collect()
    }

    /// The series matching `matchers` with at least one sample in range,
    /// with their chunk snapshots.
    fn snapshot(&self, matchers: &[Matcher]) -> Result<Vec<HeadSeries>, QueryError> {
        let mut out = Vec::new();
        if self.min_t_ms > self.max_t_ms {
            return Ok(out);
        }
        for s in self.postings(matchers) {
            let chunks =
                self.head.chunks_of(&s, self.min_t_ms, self.max_t_ms).map_err(to_query_error)?;
            if chunks.is_empty() {
                continue;
            }
            let series = HeadSeries {
                labels: s.labels.clone(),
                chunks,
                min_t_ms: self.min_t_ms,
                max_t_ms: self.max_t_ms,
            };
            // Overlapping chunks may still hold no sample inside the range.
            if series.iter().next().is_some() {
                out.push(series);
            }
        }
        Ok(out)
    }

    /// Whether the range covers every sample in the head, so the index can
    /// answer label questions without looking at samples.
    fn covers_head(&self) -> bool {
        match self.head.time_range() {
            Some((min, max)) => self.min_t_ms <= min && self.max_t_ms >= max,
            None => true,
        }
    }
}

fn to_query_error(e: ChunkReadError) -> QueryError {
    match e {
        ChunkReadError::Corrupt { path, chunk_ref, reason } => {
            QueryError::Corruption { path, reason: format!("chunk {chunk_ref:#x}: {reason}") }
        }
        ChunkReadError::NotFound(r) => QueryError::Corruption {
            path: CHUNKS_HEAD_DIR.into(),
            reason: format!("chunk {r:#x} referenced by a series is missing"),
        },
    }
}

impl Querier for HeadQuerier<'_> {
    fn select(
        &self,
        matchers: &[Matcher],
        _hints: Option<&SelectHints>,
    ) -> Result<SeriesSet<'_>, QueryError> {
        let mut found = self.snapshot(matchers)?;
        found.sort_unstable_by(|a, b| a.labels.cmp(&b.labels));
        Ok(found.into_iter().map(|s| Box::new(s) as Box<dyn Series>).collect())
    }

    fn label_names(&self, matchers: &[Matcher]) -> Result<Vec<String>, QueryError> {
        if matchers.is_empty() && self.covers_head() {
            return Ok(self.head.index.read().label_names());
        }
        let mut names: Vec<String> = self
            .snapshot(matchers)?
            .iter()
            .flat_map(|s| s.labels.iter().map(|l| l.name.to_owned()))
            .collect();
        names.sort_unstable();
        names.dedup();
        Ok(names)
    }

    fn label_values(&self, name: &str, matchers: &[Matcher]) -> Result<Vec<String>, QueryError> {
        if matchers.is_empty() && self.covers_head() {
            return Ok(self.head.index.read().label_values(name));
        }
        let mut values: Vec<String> = self
            .snapshot(matchers)?
            .iter()
            .filter_map(|s| s.labels.get(name).map(str::to_owned))
            .collect();
        values.sort_unstable();
        values.dedup();
        Ok(values)
    }
}

/// One selected series: its labels and a snapshot of its chunks.
pub struct HeadSeries {
    labels: Labels,
    chunks: Vec<ChunkData>,
    min_t_ms: i64,
    max_t_ms: i64,
}

impl Series for HeadSeries {
    fn labels(&self) -> &Labels {
        &self.labels
    }

    fn iter(&self) -> Box<dyn SampleIterator + '_> {
        Box::new(ChunksIterator::new(&self.chunks, self.min_t_ms, self.max_t_ms))
    }
}

/// Iterates consecutive chunks (time ranges disjoint and increasing),
/// clipped to `[min_t_ms, max_t_ms]`. Seeking skips whole chunks by their
/// time range before decoding anything.
pub struct ChunksIterator<'a> {
    chunks: &'a [ChunkData],
    next_chunk: usize,
    cur: Option<ChunkIterator<'a>>,
    min_t_ms: i64,
    max_t_ms: i64,
}

impl<'a> ChunksIterator<'a> {
    /// Iterates `chunks` (in time order) over a range.
    pub fn new(chunks: &'a [ChunkData], min_t_ms: i64, max_t_ms: i64) -> Self {
        let mut it = ChunksIterator { chunks, next_chunk: 0, cur: None, min_t_ms, max_t_ms };
        it.open_chunk_at(min_t_ms);
        it
    }

    /// Opens the first chunk ending at or after `t`, positioned at `t`.
    fn open_chunk_at(&mut self, t: i64) {
        while let Some(c) = self.chunks.get(self.next_chunk) {
            self.next_chunk += 1;
            if c.max_t_ms < t {
                continue;
            }
            let mut it = ChunkIterator::new(c.encoding, c.bytes.as_slice());
            if c.min_t_ms < t {
                it.seek(t);
            }
            self.cur = Some(it);
            return;
        }
        self.cur = None;
    }
}

impl SampleIterator for ChunksIterator<'_> {
    fn next(&mut self) -> Option<Sample> {
        loop {
            let it = self.cur.as_mut()?;
            match it.next() {
                Some(s) if s.t_ms > self.max_t_ms => {
                    self.cur = None;
                    self.next_chunk = self.chunks.len();
                    return None;
                }
                Some(s) => return Some(s),
                None => self.open_chunk_at(self.min_t_ms),
            }
        }
    }

    fn seek(&mut self, t_ms: i64) {
        let t = t_ms.max(self.min_t_ms);
        let Some(cur) = self.cur.as_mut() else { return };
        // The current chunk is `next_chunk - 1`; skip it if it ends before t.
        let cur_max = self.chunks[self.next_chunk - 1].max_t_ms;
        if cur_max >= t {
            cur.seek(t);
        } else {
            self.open_chunk_at(t);
        }
    }
}
