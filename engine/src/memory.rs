//! [`MemStorage`]: a plain in-memory storage.
//!
//! It is the reference model the real engine is tested against (simple
//! enough to be obviously right), and the storage used by tests of crates
//! that only need the [`Appendable`]/[`Queryable`] traits.

use std::collections::BTreeMap;

use parking_lot::RwLock;

use crate::append::{AppendOptions, Appendable, Appender};
use crate::error::{AppendError, CommitError, QueryError};
use crate::model::{Labels, Matcher, Sample, SeriesRef, matches_all};
use crate::query::{
    Querier, Queryable, SampleIterator, SelectHints, Series, SeriesSet, SliceIterator,
};

#[derive(Default)]
struct Inner {
    by_labels: BTreeMap<Labels, usize>,
    series: Vec<(Labels, Vec<Sample>)>,
}

/// An in-memory storage keeping every sample in a sorted vector per series.
#[derive(Default)]
pub struct MemStorage {
    inner: RwLock<Inner>,
}

impl MemStorage {
    /// An empty storage.
    pub fn new() -> Self {
        Self::default()
    }

    /// All series with their samples, sorted by labels (for assertions).
    pub fn dump(&self) -> Vec<(Labels, Vec<Sample>)> {
        let inner = self.inner.read();
        inner.by_labels.values().map(|&i| inner.series[i].clone()).collect()
    }

    /// Removes every series (the `clear` command of PromQL test scripts).
    pub fn clear(&self) {
        *self.inner.write() = Inner::default();
    }
}

struct MemAppender<'a> {
    storage: &'a MemStorage,
    pending: Vec<(Option<SeriesRef>, Labels, Sample)>,
}

impl Appender for MemAppender<'_> {
    fn append_with(
        &mut self,
        series: Option<SeriesRef>,
        labels: &Labels,
        t_ms: i64,
        value: f64,
        _options: &AppendOptions<'_>,
    ) -> Result<SeriesRef, AppendError> {
        if labels.is_empty() {
            return Err(AppendError::EmptyLabels);
        }
        let inner = self.storage.inner.read();
        let known = series
            .filter(|r| usize::try_from(r.0).is_ok_and(|i| i < inner.series.len()))
            .or_else(|| inner.by_labels.get(labels).map(|&i| SeriesRef(i as u64)));
        let last = known
            .and_then(|r| inner.series[r.0 as usize].1.last().copied())
            .into_iter()
            .chain(self.pending.iter().filter(|(_, l, _)| l == labels).map(|(_, _, s)| *s))
            .max_by_key(|s| s.t_ms);
        if let Some(last) = last {
            if t_ms < last.t_ms {
                return Err(AppendError::OutOfOrder);
            }
            if t_ms == last.t_ms {
                if last.value.to_bits() == value.to_bits() {
                    return Ok(known.unwrap_or(SeriesRef(u64::MAX)));
                }
                return Err(AppendError::DuplicateTimestamp);
            }
        }
        let labels = known.map_or_else(|| labels.clone(), |r| inner.series[r.0 as usize].0.clone());
        drop(inner);
        self.pending.push((known, labels, Sample::new(t_ms, value)));
        // A new series gets its reference at commit; callers re-resolve by
        // labels until then, which is all a reference model needs.
        Ok(known.unwrap_or(SeriesRef(u64::MAX)))
    }

    fn commit(self: Box<Self>) -> Result<(), CommitError> {
        let mut inner = self.storage.inner.write();
        for (_, labels, sample) in self.pending {
            let idx = match inner.by_labels.get(&labels) {
                Some(&i) => i,
                None => {
                    let i = inner.series.len();
                    inner.series.push((labels.clone(), Vec::new()));
                    inner.by_labels.insert(labels, i);
                    i
                }
            };
            let samples = &mut inner.series[idx].1;
            if samples.last().is_none_or(|l| l.t_ms < sample.t_ms) {
                samples.push(sample);
            }
        }
        Ok(())
    }

    fn rollback(self: Box<Self>) {}
}

impl Appendable for MemStorage {
    fn appender(&self) -> Box<dyn Appender + '_> {
        Box::new(MemAppender { storage: self, pending: Vec::new() })
    }
}

struct MemSeries {
    labels: Labels,
    samples: Vec<Sample>,
}

impl Series for MemSeries {
    fn labels(&self) -> &Labels {
        &self.labels
    }
    fn iter(&self) -> Box<dyn SampleIterator + '_> {
        Box::new(SliceIterator::new(&self.samples))
    }
}

struct MemQuerier<'a> {
    storage: &'a MemStorage,
    min_t_ms: i64,
    max_t_ms: i64,
}

impl MemQuerier<'_> {
    fn matching(&self, matchers: &[Matcher]) -> Vec<(Labels, Vec<Sample>)> {
        let inner = self.storage.inner.read();
        inner
            .by_labels
            .iter()
            .filter(|(l, _)| matches_all(matchers, l))
            .filter_map(|(l, &i)| {
                let s: Vec<Sample> = inner.series[i]
                    .1
                    .iter()
                    .filter(|s| s.t_ms >= self.min_t_ms && s.t_ms <= self.max_t_ms)
                    .copied()
                    .collect();
                (!s.is_empty()).then(|| (l.clone(), s))
            })
            .collect()
    }
}

impl Querier for MemQuerier<'_> {
    fn select(
        &self,
        matchers: &[Matcher],
        _hints: Option<&SelectHints>,
    ) -> Result<SeriesSet<'_>, QueryError> {
        Ok(self
            .matching(matchers)
            .into_iter()
            .map(|(labels, samples)| Box::new(MemSeries { labels, samples }) as Box<dyn Series>)
            .collect())
    }

    fn label_names(&self, matchers: &[Matcher]) -> Result<Vec<String>, QueryError> {
        let mut names: Vec<String> = self
            .matching(matchers)
            .iter()
            .flat_map(|(l, _)| l.iter().map(|l| l.name.to_owned()))
            .collect();
        names.sort();
        names.dedup();
        Ok(names)
    }

    fn label_values(&self, name: &str, matchers: &[Matcher]) -> Result<Vec<String>, QueryError> {
        let mut values: Vec<String> = self
            .matching(matchers)
            .iter()
            .filter_map(|(l, _)| l.get(name).map(str::to_owned))
            .collect();
        values.sort();
        values.dedup();
        Ok(values)
    }
}

impl Queryable for MemStorage {
    fn querier(&self, min_t_ms: i64, max_t_ms: i64) -> Result<Box<dyn Querier + '_>, QueryError> {
        Ok(Box::new(MemQuerier { storage: self, min_t_ms, max_t_ms }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::MatchType;

    #[test]
    fn append_commit_select_round_trip() {
        let db = MemStorage::new();
        let up = Labels::new([("__name__", "up"), ("job", "a")]);
        let mut app = db.appender();
        app.append(None, &up, 1000, 1.0).unwrap();
        app.append(None, &up, 2000, 0.0).unwrap();
        assert!(matches!(app.append(None, &up, 1500, 1.0), Err(AppendError::OutOfOrder)));
        assert!(matches!(app.append(None, &up, 2000, 5.0), Err(AppendError::DuplicateTimestamp)));
        app.commit().unwrap();
        let q = db.querier(0, 1500).unwrap();
        let m = [Matcher::new(MatchType::Equal, "__name__", "up").unwrap()];
        let set = q.select(&m, None).unwrap();
        assert_eq!(set.len(), 1);
        let mut it = set[0].iter();
        assert_eq!(it.next(), Some(Sample::new(1000, 1.0)));
        assert_eq!(it.next(), None);
        assert_eq!(q.label_values("job", &[]).unwrap(), ["a"]);
    }
}
