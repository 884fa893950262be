//! The read path: [`Queryable`] opens a [`Querier`] over a time range.
//!
//! A querier sees a consistent view for its lifetime. PromQL asks it for
//! series by matchers and walks each series' samples with a
//! [`SampleIterator`]; it never sees chunks, files or the head directly.

use crate::error::QueryError;
use crate::model::{Labels, Matcher, Sample};

/// What the caller is going to do with the selected data. Storages may use
/// it to skip work; they must return correct data whatever the hints say.
#[derive(Debug, Clone, Default)]
pub struct SelectHints {
    /// First timestamp the caller needs, in milliseconds.
    pub start_ms: i64,
    /// Last timestamp the caller needs, in milliseconds.
    pub end_ms: i64,
    /// Query resolution step in milliseconds (0 for instant queries).
    pub step_ms: i64,
    /// The range of a range selector in milliseconds, 0 for instant vectors.
    pub range_ms: i64,
    /// The PromQL function applied to the selection, if any.
    pub func: Option<String>,
}

/// Iterates one series' samples in increasing timestamp order.
pub trait SampleIterator {
    /// The next sample, or `None` when the series is exhausted.
    fn next(&mut self) -> Option<Sample>;

    /// Skips ahead so that the next call of [`SampleIterator::next`] returns
    /// the first remaining sample with a timestamp at or after `t_ms`.
    /// Never moves backwards.
    fn seek(&mut self, t_ms: i64);
}

/// One selected series.
pub trait Series {
    /// The series' labels.
    fn labels(&self) -> &Labels;

    /// A fresh iterator over the series' samples inside the querier's range.
    fn iter(&self) -> Box<dyn SampleIterator + '_>;
}

/// Series returned by a select, sorted by labels.
pub type SeriesSet<'a> = Vec<Box<dyn Series + 'a>>;

/// A read view over a time range.
pub trait Querier: Send {
    /// Series matching every matcher, sorted by labels, restricted to the
    /// querier's time range. At least one matcher must select something other
    /// than the empty value (Prometheus rejects `{foo=""}` alone upstream).
    fn select(
        &self,
        matchers: &[Matcher],
        hints: Option<&SelectHints>,
    ) -> Result<SeriesSet<'_>, QueryError>;

    /// Label names of series matching `matchers` (all series when empty), sorted.
    fn label_names(&self, matchers: &[Matcher]) -> Result<Vec<String>, QueryError>;

    /// Values of label `name` on series matching `matchers`, sorted.
    fn label_values(&self, name: &str, matchers: &[Matcher]) -> Result<Vec<String>, QueryError>;
}

/// Anything that can be queried: the database, or a test double.
pub trait Queryable: Send + Sync {
    /// Opens a querier over samples with `min_t_ms <= t <= max_t_ms`.
    fn querier(&self, min_t_ms: i64, max_t_ms: i64) -> Result<Box<dyn Querier + '_>, QueryError>;
}

/// A [`SampleIterator`] over a sorted slice, for in-memory series.
#[derive(Debug, Clone)]
pub struct SliceIterator<'a> {
    samples: &'a [Sample],
}

impl<'a> SliceIterator<'a> {
    /// Iterates `samples`, which must be sorted by timestamp.
    pub fn new(samples: &'a [Sample]) -> Self {
        SliceIterator { samples }
    }
}

impl SampleIterator for SliceIterator<'_> {
    fn next(&mut self) -> Option<Sample> {
        let (first, rest) = self.samples.split_first()?;
        self.samples = rest;
        Some(*first)
    }

    fn seek(&mut self, t_ms: i64) {
        let skip = self.samples.partition_point(|s| s.t_ms < t_ms);
        self.samples = &self.samples[skip..];
    }
}
