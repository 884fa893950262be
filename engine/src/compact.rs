//! Leveled compaction: which blocks to merge, and merging them.
//!
//! Level ranges grow by 3× from the block range (2 h, 6 h, 18 h, 54 h, …)
//! up to 10 % of the retention time or 31 days, as Prometheus does. A plan
//! is, first, any set of blocks whose time ranges overlap (a backfill);
//! otherwise the blocks filling one aligned window of the smallest level
//! range that holds two or more of them, once that window is complete (a
//! newer block exists past its end). The merged block lists its inputs as
//! parents; start-up deletes parents still present after a crash.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use crate::block::querier::merge_into;
use crate::block::{
    Block, BlockError, BlockMeta, BlockWriter, FrameCache, SeriesInfo, crash_point, tombstones,
};
use crate::model::{Labels, Sample};

/// Most a compacted block may span: 31 days.
pub const MAX_BLOCK_RANGE_MS: i64 = 31 * 24 * 3600 * 1000;

/// The level ranges for `block_range_ms` and a retention time.
pub fn level_ranges(block_range_ms: i64, retention_ms: Option<i64>) -> Vec<i64> {
    let cap = retention_ms.map_or(MAX_BLOCK_RANGE_MS, |r| (r / 10).min(MAX_BLOCK_RANGE_MS));
    let mut out = vec![block_range_ms.max(1)];
    loop {
        let next = out[out.len() - 1].saturating_mul(3);
        if next > cap {
            return out;
        }
        out.push(next);
    }
}

/// Indices (into `metas`, sorted by min time) of the blocks to merge next.
pub fn plan(metas: &[&BlockMeta], ranges: &[i64]) -> Option<Vec<usize>> {
    // Overlapping blocks first: a run of blocks each starting before the
    // furthest end seen so far.
    let mut i = 0;
    while i < metas.len() {
        let mut end = metas[i].max_t_ms;
        let mut j = i + 1;
        while j < metas.len() && metas[j].min_t_ms < end {
            end = end.max(metas[j].max_t_ms);
            j += 1;
        }
        if j - i > 1 {
            return Some((i..j).collect());
        }
        i = j;
    }
    let newest_end = metas.iter().map(|m| m.max_t_ms).max()?;
    for &r in ranges.iter().skip(1) {
        let mut windows: BTreeMap<i64, Vec<usize>> = BTreeMap::new();
        for (k, m) in metas.iter().enumerate() {
            let w = m.min_t_ms.div_euclid(r) * r;
            if m.max_t_ms <= w + r {
                windows.entry(w).or_default().push(k);
            }
        }
        for (w, members) in windows {
            let span = metas[members[0]].max_t_ms - metas[members[0]].min_t_ms;
            if members.len() > 1 && w + r <= newest_end && span < r {
                return Some(members);
            }
        }
    }
    None
}

/// Writes one block under `parent` holding every sample of `blocks`
/// (tombstoned samples dropped, equal timestamps kept once). Returns its meta.
///
/// Goes window by window (every series' samples of one 2 h window, then
/// the next), the order of the frames of both the inputs and the output,
/// so each input frame is decompressed once and the writer holds one
/// window's frame at a time.
pub fn merge_blocks(parent: &Path, blocks: &[Arc<Block>]) -> Result<BlockMeta, BlockError> {
    let min_t = blocks.iter().map(|b| b.meta().min_t_ms).min().unwrap_or(0);
    let max_t = blocks.iter().map(|b| b.meta().max_t_ms).max().unwrap_or(0);
    /// One input block's copy of a series: block index, runs, deletions.
    type Part = (usize, SeriesInfo, Option<Vec<(i64, i64)>>);
    let mut by_labels: BTreeMap<Labels, Vec<Part>> = BTreeMap::new();
    let mut windows = BTreeSet::new();
    for (k, b) in blocks.iter().enumerate() {
        for id in 0..b.num_series() as u64 {
            let (labels, info) = b.series(id)?;
            windows.extend(info.runs.iter().map(|r| r.window()));
            by_labels.entry(labels).or_default().push((k, info, b.tombstones_of(id)));
        }
    }
    let mut writer = BlockWriter::new(parent, min_t, max_t)?;
    let mut ids = Vec::with_capacity(by_labels.len());
    for labels in by_labels.keys() {
        ids.push(writer.begin_series(labels)?);
    }
    let mut caches: Vec<FrameCache> = blocks.iter().map(|_| FrameCache::default()).collect();
    let mut next_run: Vec<Vec<usize>> = by_labels.values().map(|p| vec![0; p.len()]).collect();
    let (mut merged, mut part): (Vec<Sample>, Vec<Sample>) = (Vec::new(), Vec::new());
    for &w in &windows {
        for ((parts, next), &id) in by_labels.values().zip(&mut next_run).zip(&ids) {
            merged.clear();
            for ((k, info, deleted), next) in parts.iter().zip(next.iter_mut()) {
                part.clear();
                while let Some(run) = info.runs.get(*next) {
                    if run.window() > w {
                        break;
                    }
                    *next += 1;
                    blocks[*k].read_run(run, i64::MIN, i64::MAX, &mut caches[*k], &mut part)?;
                }
                if let Some(ivs) = deleted {
                    tombstones::apply(ivs, &mut part);
                }
                if !part.is_empty() {
                    merge_into(&mut merged, &part);
                }
            }
            writer.add_samples(id, &merged)?;
        }
    }
    let level = blocks.iter().map(|b| b.meta().level).max().unwrap_or(0) + 1;
    let mut sources: Vec<String> = blocks.iter().flat_map(|b| b.meta().sources.clone()).collect();
    sources.sort();
    sources.dedup();
    let parents = blocks.iter().map(|b| b.meta().ulid.clone()).collect();
    let meta = writer.finish(level, sources, parents)?;
    crash_point("compaction-before-delete-parents");
    Ok(meta)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(min: i64, max: i64) -> BlockMeta {
        BlockMeta {
            ulid: String::new(),
            min_t_ms: min,
            max_t_ms: max,
            num_samples: 0,
            num_series: 0,
            num_chunks: 0,
            num_tombstones: 0,
            level: 1,
            sources: vec![],
            parents: vec![],
        }
    }

    #[test]
    fn ranges_and_plans() {
        assert_eq!(level_ranges(2, Some(200)), vec![2, 6, 18]);
        assert_eq!(level_ranges(2, Some(10)), vec![2]);
        let ms = [meta(0, 2), meta(2, 4), meta(4, 6), meta(6, 8)];
        let refs: Vec<&BlockMeta> = ms.iter().collect();
        assert_eq!(plan(&refs, &[2, 6]), Some(vec![0, 1, 2]));
        // An incomplete window is left alone.
        assert_eq!(plan(&refs[..2], &[2, 6]), None);
        let ov = [meta(0, 2), meta(1, 3), meta(4, 6)];
        let refs: Vec<&BlockMeta> = ov.iter().collect();
        assert_eq!(plan(&refs, &[2, 6]), Some(vec![0, 1]));
    }
}
