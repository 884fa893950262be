//! One block's part of a select: the frames its selected series need,
//! decompressed once, and series that decode their values only when
//! iterated.
//!
//! Materialising every selected sample (16 bytes each) at select time cost
//! more than decoding it: a decompressed frame holds a sample in one or two
//! bytes, so the selection keeps frames and decodes a run's values into a
//! small buffer of the iterator when it gets there. Timestamp columns are
//! shared by the series of a target and decoded once per frame at select
//! time, which also finds the in-range part of every run, so empty series
//! are left out exactly as before and iterating has no failure left to
//! report (value columns are checked for length up front).

use std::collections::HashMap;
use std::sync::Arc;

use super::BlockError;
use super::codec::{decode_timestamps, decode_values, value_column_fits};
use super::reader::{Block, RunInfo};
use crate::model::{Labels, Matcher, Sample};
use crate::query::{SampleIterator, Series};

/// Decompressed frames of one select, shared by its series.
struct Frames {
    frames: Vec<Frame>,
}

/// A decompressed frame and the timestamp columns decoded from it.
struct Frame {
    raw: Vec<u8>,
    /// Decoded timestamp columns, back to back.
    timestamps: Vec<i64>,
}

/// The in-range part of one run of a selected series.
#[derive(Debug, Clone, Copy)]
struct SelectedRun {
    frame: u32,
    /// Start of the in-range timestamps in the frame's decoded columns.
    ts_start: usize,
    /// In-range samples (at least one).
    len: usize,
    /// Position of the first in-range sample in the column.
    lo: usize,
    /// The value column's bytes in the frame.
    val_start: usize,
    val_len: usize,
    /// Last in-range timestamp, so a seek past it skips the run undecoded.
    last_t: i64,
}

/// A frame being read during a select: where its timestamp columns are.
struct FrameState {
    ts_len: usize,
    /// (column offset in the timestamp section, start, length in `timestamps`).
    columns: Vec<(u64, usize, usize)>,
}

/// Builds the frames of one select.
struct Loader<'b> {
    block: &'b Block,
    decompressor: zstd::bulk::Decompressor<'static>,
    frames: Vec<Frame>,
    states: Vec<FrameState>,
    by_offset: HashMap<u64, u32>,
}

impl Loader<'_> {
    /// The frame holding `run`, decompressed on first use.
    fn frame(&mut self, run: &RunInfo) -> Result<u32, BlockError> {
        if let Some(&i) = self.by_offset.get(&run.frame_off) {
            return Ok(i);
        }
        let mut raw = Vec::new();
        let ts_len =
            self.block.decompress_frame(run.frame_off, &mut self.decompressor, &mut raw)?;
        let i = self.frames.len() as u32;
        self.frames.push(Frame { raw, timestamps: Vec::new() });
        self.states.push(FrameState { ts_len, columns: Vec::new() });
        self.by_offset.insert(run.frame_off, i);
        Ok(i)
    }

    /// The decoded timestamp column of `run` in frame `fi`: (start, length)
    /// in the frame's `timestamps`.
    fn timestamps(&mut self, fi: u32, run: &RunInfo) -> Result<(usize, usize), BlockError> {
        let (frame, state) = (&mut self.frames[fi as usize], &mut self.states[fi as usize]);
        // Series of one target are neighbours: the last column is the likely one.
        if let Some(&(_, start, len)) = state.columns.iter().rev().find(|c| c.0 == run.ts_off) {
            return Ok((start, len));
        }
        let bytes = frame
            .raw
            .get(run.ts_off as usize..state.ts_len)
            .ok_or_else(|| self.block.corruption("timestamp column outside its section"))?;
        let mut ts = Vec::new();
        decode_timestamps(bytes, &mut ts)
            .ok_or_else(|| self.block.corruption("timestamp column does not decode"))?;
        let start = frame.timestamps.len();
        frame.timestamps.extend_from_slice(&ts);
        state.columns.push((run.ts_off, start, ts.len()));
        Ok((start, ts.len()))
    }

    /// The in-range part of `run`, if it has any samples in `[min_t, max_t]`.
    fn run(
        &mut self,
        run: &RunInfo,
        min_t: i64,
        max_t: i64,
    ) -> Result<Option<SelectedRun>, BlockError> {
        if run.max_t_ms < min_t || run.min_t_ms > max_t {
            return Ok(None);
        }
        let fi = self.frame(run)?;
        let (start, len) = self.timestamps(fi, run)?;
        let frame = &self.frames[fi as usize];
        let ts = &frame.timestamps[start..start + len];
        let lo = if min_t <= run.min_t_ms { 0 } else { ts.partition_point(|&t| t < min_t) };
        let hi = if max_t >= run.max_t_ms { len } else { ts.partition_point(|&t| t <= max_t) };
        if lo >= hi {
            return Ok(None);
        }
        let val_start = self.states[fi as usize].ts_len + run.val_off as usize;
        let val_len = run.val_len as usize;
        let values = frame
            .raw
            .get(val_start..val_start + val_len)
            .ok_or_else(|| self.block.corruption("value column outside its frame"))?;
        if !value_column_fits(values, len) {
            return Err(self.block.corruption("value column does not match its run"));
        }
        Ok(Some(SelectedRun {
            frame: fi,
            ts_start: start + lo,
            len: hi - lo,
            lo,
            val_start,
            val_len,
            last_t: ts[hi - 1],
        }))
    }
}

/// The series of `block` matching `matchers` with samples inside
/// `[min_t, max_t]` (tombstoned ones not counting), in label order.
pub(crate) fn select_block(
    block: &Block,
    matchers: &[Matcher],
    min_t: i64,
    max_t: i64,
) -> Result<Vec<BlockSeries>, BlockError> {
    let mut loader = Loader {
        block,
        decompressor: block.decompressor()?,
        frames: Vec::new(),
        states: Vec::new(),
        by_offset: HashMap::new(),
    };
    /// A series kept: labels, in-range runs, deleted intervals.
    type Picked = (Labels, Vec<SelectedRun>, Vec<(i64, i64)>);
    let mut picked: Vec<Picked> = Vec::new();
    for id in block.postings_for_matchers(matchers)? {
        let (labels, info) = block.series(id)?;
        if info.max_t_ms < min_t || info.min_t_ms > max_t {
            continue;
        }
        let mut runs = Vec::with_capacity(1);
        for run in &info.runs {
            if let Some(r) = loader.run(run, min_t, max_t)? {
                runs.push(r);
            }
        }
        if runs.is_empty() {
            continue;
        }
        let deleted = block.with_tombstones(|t| t.get(&(id as u32)).cloned()).unwrap_or_default();
        if !deleted.is_empty() {
            let survives = runs.iter().any(|r| {
                let ts = &loader.frames[r.frame as usize].timestamps;
                ts[r.ts_start..r.ts_start + r.len].iter().any(|&t| !is_deleted(&deleted, t))
            });
            if !survives {
                continue;
            }
        }
        picked.push((labels, runs, deleted));
    }
    let frames = Arc::new(Frames { frames: loader.frames });
    Ok(picked
        .into_iter()
        .map(|(labels, runs, deleted)| BlockSeries {
            labels,
            frames: Arc::clone(&frames),
            runs,
            deleted,
        })
        .collect())
}

fn is_deleted(intervals: &[(i64, i64)], t: i64) -> bool {
    intervals.iter().any(|&(a, b)| t >= a && t <= b)
}

/// A selected series of one block.
pub(crate) struct BlockSeries {
    labels: Labels,
    frames: Arc<Frames>,
    runs: Vec<SelectedRun>,
    /// Tombstoned intervals (inclusive), usually none.
    deleted: Vec<(i64, i64)>,
}

impl Series for BlockSeries {
    fn labels(&self) -> &Labels {
        &self.labels
    }

    fn iter(&self) -> Box<dyn SampleIterator + '_> {
        Box::new(BlockSeriesIter {
            frames: &self.frames,
            runs: &self.runs,
            buf: Vec::new(),
            pos: 0,
            deleted: &self.deleted,
        })
    }
}

/// Walks a [`BlockSeries`], decoding one run at a time into `buf`.
struct BlockSeriesIter<'a> {
    frames: &'a Frames,
    /// Runs not yet decoded.
    runs: &'a [SelectedRun],
    buf: Vec<Sample>,
    pos: usize,
    deleted: &'a [(i64, i64)],
}

impl BlockSeriesIter<'_> {
    /// Decodes the next run into `buf`; false when none is left.
    fn load_next(&mut self) -> bool {
        let Some((run, rest)) = self.runs.split_first() else { return false };
        self.runs = rest;
        let frame = &self.frames.frames[run.frame as usize];
        // The column was checked at select time: it has an entry per
        // timestamp. Should it still fail, the series ends early.
        let ts = &frame.timestamps[run.ts_start - run.lo..run.ts_start + run.len];
        let values = &frame.raw[run.val_start..run.val_start + run.val_len];
        self.buf.clear();
        self.pos = 0;
        if decode_values(values, ts, run.lo, run.lo + run.len, &mut self.buf).is_none() {
            self.runs = &[];
        }
        true
    }
}

impl SampleIterator for BlockSeriesIter<'_> {
    #[inline]
    fn next(&mut self) -> Option<Sample> {
        loop {
            if let Some(&s) = self.buf.get(self.pos) {
                self.pos += 1;
                if self.deleted.is_empty() || !is_deleted(self.deleted, s.t_ms) {
                    return Some(s);
                }
                continue;
            }
            if !self.load_next() {
                return None;
            }
        }
    }

    fn seek(&mut self, t_ms: i64) {
        if self.buf.last().is_some_and(|s| s.t_ms >= t_ms) {
            self.pos += self.buf[self.pos..].partition_point(|s| s.t_ms < t_ms);
            return;
        }
        self.buf.clear();
        self.pos = 0;
        while self.runs.first().is_some_and(|r| r.last_t < t_ms) {
            self.runs = &self.runs[1..];
        }
        if self.load_next() {
            self.pos = self.buf.partition_point(|s| s.t_ms < t_ms);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::block::BlockWriter;
    use crate::query::SliceIterator;

    /// Two series over three windows with a gap, one of them partly deleted.
    fn block() -> (tempfile::TempDir, Block, Vec<Vec<Sample>>) {
        let dir = tempfile::tempdir().unwrap();
        let w = super::super::RUN_WINDOW_MS;
        let series: Vec<Vec<Sample>> = (0..2)
            .map(|k| {
                (0..3 * w / 60_000)
                    .filter(|i| !(100..140).contains(i))
                    .map(|i| Sample { t_ms: i * 60_000, value: (i * (k + 1)) as f64 / 4.0 })
                    .collect()
            })
            .collect();
        let mut writer = BlockWriter::new(dir.path(), 0, 3 * w).unwrap();
        for (k, samples) in series.iter().enumerate() {
            writer
                .add_series(&Labels::new([("job", "x"), ("k", &k.to_string())]), samples)
                .unwrap();
        }
        let meta = writer.finish(1, vec![], vec![]).unwrap();
        let block = Block::open(&dir.path().join(meta.ulid)).unwrap();
        (dir, block, series)
    }

    fn in_range(s: &[Sample], min: i64, max: i64) -> Vec<Sample> {
        s.iter().filter(|x| x.t_ms >= min && x.t_ms <= max).copied().collect()
    }

    #[test]
    fn series_decode_lazily_and_seek_like_a_slice() {
        let (_dir, block, series) = block();
        let matchers = [Matcher::equal("job", "x")];
        for (min, max) in
            [(i64::MIN, i64::MAX), (90 * 60_000, 250 * 60_000), (101 * 60_000, 139 * 60_000)]
        {
            let got = select_block(&block, &matchers, min, max).unwrap();
            let want: Vec<Vec<Sample>> =
                series.iter().map(|s| in_range(s, min, max)).filter(|s| !s.is_empty()).collect();
            assert_eq!(got.len(), want.len(), "series in [{min}, {max}]");
            for (g, w) in got.iter().zip(&want) {
                let mut it = g.iter();
                let all: Vec<Sample> = std::iter::from_fn(|| it.next()).collect();
                assert_eq!(all, *w);
                for seek in [0, 95 * 60_000, 120 * 60_000, 121 * 60_000, 200 * 60_000, 400 * 60_000]
                {
                    let (mut a, mut b) = (g.iter(), SliceIterator::new(w));
                    a.next();
                    b.next();
                    a.seek(seek);
                    b.seek(seek);
                    let rest_a: Vec<Sample> = std::iter::from_fn(|| a.next()).collect();
                    let rest_b: Vec<Sample> = std::iter::from_fn(|| b.next()).collect();
                    assert_eq!(rest_a, rest_b, "seek to {seek} in [{min}, {max}]");
                }
            }
        }
    }

    #[test]
    fn deleted_samples_are_skipped_and_emptied_series_left_out() {
        let (_dir, block, series) = block();
        block.delete(&[Matcher::equal("k", "0")], 0, 50 * 60_000).unwrap();
        let got = select_block(&block, &[Matcher::equal("job", "x")], 0, 50 * 60_000).unwrap();
        assert_eq!(got.len(), 1);
        let got = select_block(&block, &[Matcher::equal("k", "0")], 0, 60 * 60_000).unwrap();
        let mut it = got[0].iter();
        let all: Vec<Sample> = std::iter::from_fn(|| it.next()).collect();
        assert_eq!(all, in_range(&series[0], 50 * 60_000 + 1, 60 * 60_000));
    }
}
