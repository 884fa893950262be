//! [`MergeQuerier`]: one read view over the head and every block that
//! overlaps the range.
//!
//! Series with the same labels in several sources are merged by timestamp;
//! a timestamp present in more than one source (a block and the head
//! before truncation caught up, or overlapping blocks before compaction)
//! is returned once, the newest source's sample winning.

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use super::reader::{Block, FrameCache, SeriesInfo};
use super::tombstones;
use crate::error::QueryError;
use crate::head::HeadQuerier;
use crate::model::{Labels, Matcher, Sample};
use crate::query::{Querier, SampleIterator, SelectHints, Series, SeriesSet, SliceIterator};

/// Deleted intervals of head series, by labels.
pub type HeadTombstones = HashMap<Labels, Vec<(i64, i64)>>;

/// Reads head and blocks together.
pub struct MergeQuerier<'a> {
    head: HeadQuerier<'a>,
    blocks: Vec<Arc<Block>>,
    head_tombstones: Arc<HeadTombstones>,
    min_t_ms: i64,
    max_t_ms: i64,
}

impl<'a> MergeQuerier<'a> {
    /// A querier over `[min_t_ms, max_t_ms]`; `blocks` are filtered to
    /// those overlapping it.
    pub fn new(
        head: HeadQuerier<'a>,
        blocks: &[Arc<Block>],
        head_tombstones: Arc<HeadTombstones>,
        min_t_ms: i64,
        max_t_ms: i64,
    ) -> Self {
        let blocks = blocks
            .iter()
            .filter(|b| b.meta().min_t_ms <= max_t_ms && b.meta().max_t_ms > min_t_ms)
            .cloned()
            .collect();
        MergeQuerier { head, blocks, head_tombstones, min_t_ms, max_t_ms }
    }

    /// Every matching series' samples from every source, merged.
    fn gather(&self, matchers: &[Matcher]) -> Result<BTreeMap<Labels, Vec<Sample>>, QueryError> {
        let mut out: BTreeMap<Labels, Vec<Sample>> = BTreeMap::new();
        for block in &self.blocks {
            for (labels, samples) in read_block(block, matchers, self.min_t_ms, self.max_t_ms)? {
                add_samples(&mut out, labels, samples);
            }
        }
        let mut scratch = Vec::new();
        for s in self.head.select(matchers, None)? {
            let mut it = s.iter();
            scratch.clear();
            scratch.extend(std::iter::from_fn(|| it.next()));
            if let Some(ivs) = self.head_tombstones.get(s.labels()) {
                tombstones::apply(ivs, &mut scratch);
            }
            if !scratch.is_empty() {
                add_samples(&mut out, s.labels().clone(), std::mem::take(&mut scratch));
            }
        }
        Ok(out)
    }
}

/// Adds a newer source's samples of `labels` to `out`: moved in when it is
/// the first source holding the series, merged otherwise.
fn add_samples(out: &mut BTreeMap<Labels, Vec<Sample>>, labels: Labels, samples: Vec<Sample>) {
    match out.entry(labels) {
        Entry::Vacant(e) => {
            e.insert(samples);
        }
        Entry::Occupied(mut e) => merge_into(e.get_mut(), &samples),
    }
}

/// The samples of the series of `block` matching `matchers` inside
/// `[min_t, max_t]`, tombstones applied, empty series left out.
///
/// Reads window by window (all series' runs of one 2 h window, then the
/// next): frames hold one window each, in series order, so every frame is
/// decompressed once however long the range.
fn read_block(
    block: &Block,
    matchers: &[Matcher],
    min_t: i64,
    max_t: i64,
) -> Result<Vec<(Labels, Vec<Sample>)>, QueryError> {
    let mut selected: Vec<(u64, Labels, SeriesInfo, Vec<Sample>)> = Vec::new();
    let mut windows = BTreeSet::new();
    for id in block.postings_for_matchers(matchers)? {
        let (labels, info) = block.series(id)?;
        if info.max_t_ms < min_t || info.min_t_ms > max_t {
            continue;
        }
        let mut n = 0;
        for r in &info.runs {
            if r.max_t_ms >= min_t && r.min_t_ms <= max_t {
                windows.insert(r.window());
                n += r.num_samples as usize;
            }
        }
        selected.push((id, labels, info, Vec::with_capacity(n)));
    }
    let mut cache = FrameCache::default();
    let mut next_run = vec![0usize; selected.len()];
    for &w in &windows {
        for ((_, _, info, samples), next) in selected.iter_mut().zip(&mut next_run) {
            while let Some(run) = info.runs.get(*next) {
                if run.window() > w {
                    break;
                }
                *next += 1;
                block.read_run(run, min_t, max_t, &mut cache, samples)?;
            }
        }
    }
    let mut out = Vec::with_capacity(selected.len());
    for (id, labels, _, mut samples) in selected {
        if let Some(ivs) = block.tombstones_of(id) {
            tombstones::apply(&ivs, &mut samples);
        }
        if !samples.is_empty() {
            out.push((labels, samples));
        }
    }
    Ok(out)
}

/// Merges sorted `new` into sorted `acc`; on equal timestamps `new` wins.
pub(crate) fn merge_into(acc: &mut Vec<Sample>, new: &[Sample]) {
    if acc.last().is_none_or(|l| l.t_ms < new[0].t_ms) {
        acc.extend_from_slice(new);
        return;
    }
    let old = std::mem::take(acc);
    let (mut i, mut j) = (0, 0);
    acc.reserve(old.len() + new.len());
    while i < old.len() || j < new.len() {
        match (old.get(i), new.get(j)) {
            (Some(a), Some(b)) if a.t_ms < b.t_ms => {
                acc.push(*a);
                i += 1;
            }
            (Some(a), Some(b)) if a.t_ms == b.t_ms => {
                acc.push(*b);
                i += 1;
                j += 1;
            }
            (_, Some(b)) => {
                acc.push(*b);
                j += 1;
            }
            (Some(a), None) => {
                acc.push(*a);
                i += 1;
            }
            (None, None) => unreachable!("loop condition"),
        }
    }
}

/// A merged series, held in memory for the querier's lifetime.
pub struct MergedSeries {
    labels: Labels,
    samples: Vec<Sample>,
}

impl Series for MergedSeries {
    fn labels(&self) -> &Labels {
        &self.labels
    }

    fn iter(&self) -> Box<dyn SampleIterator + '_> {
        Box::new(SliceIterator::new(&self.samples))
    }
}

impl Querier for MergeQuerier<'_> {
    fn select(
        &self,
        matchers: &[Matcher],
        hints: Option<&SelectHints>,
    ) -> Result<SeriesSet<'_>, QueryError> {
        if self.blocks.is_empty() && self.head_tombstones.is_empty() {
            return self.head.select(matchers, hints);
        }
        Ok(self
            .gather(matchers)?
            .into_iter()
            .map(|(labels, samples)| Box::new(MergedSeries { labels, samples }) as Box<dyn Series>)
            .collect())
    }

    fn label_names(&self, matchers: &[Matcher]) -> Result<Vec<String>, QueryError> {
        if self.blocks.is_empty() && self.head_tombstones.is_empty() {
            return self.head.label_names(matchers);
        }
        let mut names: Vec<String> = self
            .gather(matchers)?
            .keys()
            .flat_map(|l| l.iter().map(|l| l.name.to_owned()).collect::<Vec<_>>())
            .collect();
        names.sort_unstable();
        names.dedup();
        Ok(names)
    }

    fn label_values(&self, name: &str, matchers: &[Matcher]) -> Result<Vec<String>, QueryError> {
        if self.blocks.is_empty() && self.head_tombstones.is_empty() {
            return self.head.label_values(name, matchers);
        }
        let mut values: Vec<String> =
            self.gather(matchers)?.keys().filter_map(|l| l.get(name).map(str::to_owned)).collect();
        values.sort_unstable();
        values.dedup();
        Ok(values)
    }
}
