//! Combining the sorted series lists of several sources (blocks, then the
//! head) into one: series found in one source are handed out as they are;
//! series found in several are merged lazily by timestamp, a timestamp
//! present in more than one source returned once with the newest source's
//! sample.

use crate::model::{Labels, Sample};
use crate::query::{SampleIterator, Series, SeriesSet};

/// Merges per-source series lists, each sorted by labels and given oldest
/// source first, into one sorted list.
pub(crate) fn merge_sorted(sources: Vec<SeriesSet<'_>>) -> SeriesSet<'_> {
    let mut sources: Vec<_> = sources.into_iter().filter(|s| !s.is_empty()).collect();
    if sources.len() <= 1 {
        return sources.pop().unwrap_or_default();
    }
    let total = sources.iter().map(Vec::len).sum();
    let mut cursors: Vec<_> = sources.into_iter().map(|s| s.into_iter().peekable()).collect();
    let mut out: SeriesSet<'_> = Vec::with_capacity(total);
    loop {
        // The first source holding the smallest labels; sources before it
        // hold larger ones, so equal labels can only follow it.
        let mut min: Option<(usize, &Labels)> = None;
        for (i, c) in cursors.iter_mut().enumerate() {
            if let Some(s) = c.peek()
                && min.is_none_or(|(_, m)| s.labels() < m)
            {
                min = Some((i, s.labels()));
            }
        }
        let Some((first, _)) = min else { break };
        let series = cursors[first].next().expect("peeked");
        let mut parts = Vec::new();
        for c in &mut cursors[first + 1..] {
            if c.peek().is_some_and(|s| s.labels() == series.labels()) {
                parts.push(c.next().expect("peeked"));
            }
        }
        if parts.is_empty() {
            out.push(series);
        } else {
            parts.insert(0, series);
            out.push(Box::new(MergedSeries { labels: parts[0].labels().clone(), parts }));
        }
    }
    out
}

/// One series held by several sources, oldest first.
struct MergedSeries<'a> {
    labels: Labels,
    parts: Vec<Box<dyn Series + 'a>>,
}

impl Series for MergedSeries<'_> {
    fn labels(&self) -> &Labels {
        &self.labels
    }

    fn iter(&self) -> Box<dyn SampleIterator + '_> {
        let mut iters: Vec<_> = self.parts.iter().map(|p| p.iter()).collect();
        let heads = iters.iter_mut().map(|i| i.next()).collect();
        Box::new(MergeIter { iters, heads })
    }
}

/// Merges the iterators of a [`MergedSeries`] by timestamp.
struct MergeIter<'a> {
    iters: Vec<Box<dyn SampleIterator + 'a>>,
    /// Each iterator's next sample.
    heads: Vec<Option<Sample>>,
}

impl SampleIterator for MergeIter<'_> {
    fn next(&mut self) -> Option<Sample> {
        // The smallest timestamp; on a tie the newest (last) source wins.
        let mut best: Option<Sample> = None;
        for s in self.heads.iter().flatten() {
            if best.is_none_or(|b| s.t_ms <= b.t_ms) {
                best = Some(*s);
            }
        }
        let best = best?;
        for (head, it) in self.heads.iter_mut().zip(&mut self.iters) {
            if head.is_some_and(|s| s.t_ms == best.t_ms) {
                *head = it.next();
            }
        }
        Some(best)
    }

    fn seek(&mut self, t_ms: i64) {
        for (head, it) in self.heads.iter_mut().zip(&mut self.iters) {
            if head.is_some_and(|s| s.t_ms < t_ms) {
                it.seek(t_ms);
                *head = it.next();
            }
        }
    }
}

/// A series with deleted intervals (inclusive) left out.
pub(crate) struct DeletedFiltered<'a> {
    pub(crate) inner: Box<dyn Series + 'a>,
    pub(crate) deleted: Vec<(i64, i64)>,
}

impl Series for DeletedFiltered<'_> {
    fn labels(&self) -> &Labels {
        self.inner.labels()
    }

    fn iter(&self) -> Box<dyn SampleIterator + '_> {
        Box::new(DeletedFilteredIter { inner: self.inner.iter(), deleted: &self.deleted })
    }
}

struct DeletedFilteredIter<'a> {
    inner: Box<dyn SampleIterator + 'a>,
    deleted: &'a [(i64, i64)],
}

impl SampleIterator for DeletedFilteredIter<'_> {
    fn next(&mut self) -> Option<Sample> {
        loop {
            let s = self.inner.next()?;
            if !self.deleted.iter().any(|&(a, b)| s.t_ms >= a && s.t_ms <= b) {
                return Some(s);
            }
        }
    }

    fn seek(&mut self, t_ms: i64) {
        self.inner.seek(t_ms);
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::SliceIterator;

    struct Fixed(Labels, Vec<Sample>);

    impl Series for Fixed {
        fn labels(&self) -> &Labels {
            &self.0
        }
        fn iter(&self) -> Box<dyn SampleIterator + '_> {
            Box::new(SliceIterator::new(&self.1))
        }
    }

    fn series(name: &str, samples: &[(i64, f64)]) -> Box<dyn Series> {
        let samples = samples.iter().map(|&(t_ms, value)| Sample { t_ms, value }).collect();
        Box::new(Fixed(Labels::new([("s", name)]), samples))
    }

    fn dump(set: &SeriesSet<'_>) -> Vec<(String, Vec<(i64, f64)>)> {
        set.iter()
            .map(|s| {
                let mut it = s.iter();
                let v = std::iter::from_fn(|| it.next()).map(|x| (x.t_ms, x.value)).collect();
                (s.labels().get("s").unwrap().to_owned(), v)
            })
            .collect()
    }

    #[test]
    fn sources_merge_in_label_order_newest_winning_ties() {
        let old = vec![series("a", &[(1, 1.0), (3, 3.0)]), series("c", &[(1, 1.0)])];
        let mid = vec![series("b", &[(2, 2.0)]), series("c", &[(1, 10.0), (2, 20.0)])];
        let new = vec![series("a", &[(2, 20.0), (3, 30.0), (4, 40.0)])];
        let merged = merge_sorted(vec![old, vec![], mid, new]);
        assert_eq!(
            dump(&merged),
            vec![
                ("a".into(), vec![(1, 1.0), (2, 20.0), (3, 30.0), (4, 40.0)]),
                ("b".into(), vec![(2, 2.0)]),
                ("c".into(), vec![(1, 10.0), (2, 20.0)]),
            ]
        );
        let mut it = merged[0].iter();
        it.next();
        it.seek(3);
        assert_eq!(it.next(), Some(Sample { t_ms: 3, value: 30.0 }));
        it.seek(1);
        assert_eq!(it.next(), Some(Sample { t_ms: 4, value: 40.0 }));
        assert_eq!(it.next(), None);
    }

    #[test]
    fn deleted_intervals_are_skipped() {
        let s = DeletedFiltered {
            inner: series("a", &[(1, 1.0), (2, 2.0), (3, 3.0), (4, 4.0)]),
            deleted: vec![(2, 3)],
        };
        let mut it = s.iter();
        let got: Vec<i64> = std::iter::from_fn(|| it.next()).map(|x| x.t_ms).collect();
        assert_eq!(got, vec![1, 4]);
    }
}
