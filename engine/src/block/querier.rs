//! [`MergeQuerier`]: one read view over the head and every block that
//! overlaps the range.
//!
//! Every source's matching series come sorted by labels (a block's series
//! ids are in label order), so the sources are merged as sorted lists:
//! labels are compared only when several sources have series, and a
//! series held by one source is handed out as that source's own, decoding
//! as it is iterated. Series with the same labels in several sources are
//! merged by timestamp; a timestamp present in more than one source (a
//! block and the head before truncation caught up, or overlapping blocks
//! before compaction) is returned once, the newest source's sample
//! winning.

use std::collections::HashMap;
use std::sync::Arc;

use super::merge::{DeletedFiltered, merge_sorted};
use super::reader::Block;
use super::select::select_block;
use crate::error::QueryError;
use crate::head::HeadQuerier;
use crate::model::{Labels, Matcher};
use crate::query::{Querier, SelectHints, Series, SeriesSet};

pub(crate) use super::merge::merge_into;

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

    /// The head's matching series with samples in range, tombstones
    /// applied.
    fn head_series(
        &self,
        matchers: &[Matcher],
        hints: Option<&SelectHints>,
    ) -> Result<SeriesSet<'_>, QueryError> {
        let mut out: SeriesSet<'_> = Vec::new();
        for s in self.head.select(matchers, hints)? {
            let s = match self.head_tombstones.get(s.labels()) {
                Some(ivs) => Box::new(DeletedFiltered { inner: s, deleted: ivs.clone() }),
                None => s,
            };
            // A series whose chunks overlap the range may still have no
            // sample inside it (or none left after deletion).
            if s.iter().next().is_some() {
                out.push(s);
            }
        }
        Ok(out)
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
        let mut sources = Vec::with_capacity(self.blocks.len() + 1);
        for block in &self.blocks {
            let series = select_block(block, matchers, self.min_t_ms, self.max_t_ms)?;
            sources.push(series.into_iter().map(|s| Box::new(s) as Box<dyn Series>).collect());
        }
        sources.push(self.head_series(matchers, hints)?);
        Ok(merge_sorted(sources))
    }

    fn label_names(&self, matchers: &[Matcher]) -> Result<Vec<String>, QueryError> {
        if self.blocks.is_empty() && self.head_tombstones.is_empty() {
            return self.head.label_names(matchers);
        }
        let mut names: Vec<String> = self
            .select(matchers, None)?
            .iter()
            .flat_map(|s| s.labels().iter().map(|l| l.name.to_owned()).collect::<Vec<_>>())
            .collect();
        names.sort_unstable();
        names.dedup();
        Ok(names)
    }

    fn label_values(&self, name: &str, matchers: &[Matcher]) -> Result<Vec<String>, QueryError> {
        if self.blocks.is_empty() && self.head_tombstones.is_empty() {
            return self.head.label_values(name, matchers);
        }
        let mut values: Vec<String> = self
            .select(matchers, None)?
            .iter()
            .filter_map(|s| s.labels().get(name).map(str::to_owned))
            .collect();
        values.sort_unstable();
        values.dedup();
        Ok(values)
    }
}
