//! The head's inverted index: label name → value → sorted series refs.
//!
//! [`MemPostings::postings_for_matchers`] answers a selector the way
//! Prometheus' `PostingsForMatchers` does: a matcher that rejects the empty
//! value (`foo="bar"`, `foo!=""`, `foo=~".+"`) contributes the union of the
//! postings of the values it accepts, and those are intersected; a matcher
//! that accepts the empty value (`foo=""`, `foo!="bar"`, `foo!~"b.*"`) also
//! accepts every series without `foo`, so it is applied by subtracting the
//! postings of the values it rejects. If no matcher rejects the empty value,
//! the subtraction starts from all series. `foo=~".*"` matches everything
//! and is skipped.
//!
//! Memory: a series is in one list per label plus the list of all series,
//! so lists are most of the index. They hold refs as `u32` while every ref
//! fits, half of `u64` (refs count series created in a `Db`'s life, so this
//! holds for the first 4 billion), and widen to `u64` per list otherwise.
//!
//! Invariant: every postings list is sorted ascending and free of duplicates.

use std::collections::HashMap;

use crate::model::{Labels, MatchType, Matcher};

/// One sorted postings list, narrow while its refs fit `u32`.
#[derive(Debug, Clone)]
enum PostingsList {
    Narrow(Vec<u32>),
    Wide(Vec<u64>),
}

impl Default for PostingsList {
    fn default() -> Self {
        PostingsList::Narrow(Vec::new())
    }
}

impl PostingsList {
    fn insert(&mut self, r: u64) {
        match self {
            PostingsList::Narrow(list) => match u32::try_from(r) {
                Ok(r) => insert_sorted(list, r),
                Err(_) => {
                    let mut wide: Vec<u64> = list.iter().map(|&x| u64::from(x)).collect();
                    insert_sorted(&mut wide, r);
                    *self = PostingsList::Wide(wide);
                }
            },
            PostingsList::Wide(list) => insert_sorted(list, r),
        }
    }

    fn remove(&mut self, r: u64) {
        match self {
            PostingsList::Narrow(list) => {
                if let Ok(r) = u32::try_from(r) {
                    remove_sorted(list, r);
                }
            }
            PostingsList::Wide(list) => remove_sorted(list, r),
        }
    }

    fn len(&self) -> usize {
        match self {
            PostingsList::Narrow(list) => list.len(),
            PostingsList::Wide(list) => list.len(),
        }
    }

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The refs, widened.
    fn to_vec(&self) -> Vec<u64> {
        match self {
            PostingsList::Narrow(list) => list.iter().map(|&x| u64::from(x)).collect(),
            PostingsList::Wide(list) => list.clone(),
        }
    }

    /// Appends the refs to `out`.
    fn extend_into(&self, out: &mut Vec<u64>) {
        match self {
            PostingsList::Narrow(list) => out.extend(list.iter().map(|&x| u64::from(x))),
            PostingsList::Wide(list) => out.extend_from_slice(list),
        }
    }

    fn heap_bytes(&self) -> usize {
        match self {
            PostingsList::Narrow(list) => list.capacity() * 4,
            PostingsList::Wide(list) => list.capacity() * 8,
        }
    }
}

/// Heap bytes of a [`MemPostings`], split for memory accounting.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PostingsMemory {
    /// The lists (per label pair and the list of all series).
    pub lists: usize,
    /// The maps and their copies of label names and values.
    pub maps: usize,
}

/// Label name → value → postings, plus the list of every series.
#[derive(Debug, Default)]
pub struct MemPostings {
    names: HashMap<Box<str>, HashMap<Box<str>, PostingsList>>,
    all: PostingsList,
}

impl MemPostings {
    /// Adds a series under each of its labels.
    pub fn add(&mut self, series_ref: u64, labels: &Labels) {
        self.all.insert(series_ref);
        for l in labels {
            let values = match self.names.get_mut(l.name) {
                Some(v) => v,
                None => self.names.entry(l.name.into()).or_default(),
            };
            let list = match values.get_mut(l.value) {
                Some(list) => list,
                None => values.entry(l.value.into()).or_default(),
            };
            list.insert(series_ref);
        }
    }

    /// Removes a series from every list it is in.
    pub fn remove(&mut self, series_ref: u64, labels: &Labels) {
        self.all.remove(series_ref);
        for l in labels {
            let Some(values) = self.names.get_mut(l.name) else { continue };
            if let Some(list) = values.get_mut(l.value) {
                list.remove(series_ref);
                if list.is_empty() {
                    values.remove(l.value);
                }
            }
            if values.is_empty() {
                self.names.remove(l.name);
            }
        }
    }

    /// Every indexed series.
    pub fn all(&self) -> Vec<u64> {
        self.all.to_vec()
    }

    /// Heap bytes held, split into lists and maps (an estimate from
    /// capacities: one control byte and the entry per hash map bucket).
    pub fn memory(&self) -> PostingsMemory {
        let entry = std::mem::size_of::<(Box<str>, PostingsList)>() + 1;
        let mut m = PostingsMemory { lists: self.all.heap_bytes(), maps: 0 };
        m.maps += self.names.capacity()
            * (std::mem::size_of::<(Box<str>, HashMap<Box<str>, PostingsList>)>() + 1);
        for (name, values) in &self.names {
            m.maps += name.len() + values.capacity() * entry;
            for (value, list) in values {
                m.maps += value.len();
                m.lists += list.heap_bytes();
            }
        }
        m
    }

    /// Number of indexed series.
    pub fn len(&self) -> usize {
        self.all.len()
    }

    /// Whether no series is indexed.
    pub fn is_empty(&self) -> bool {
        self.all.is_empty()
    }

    /// Label names in use, sorted.
    pub fn label_names(&self) -> Vec<String> {
        let mut v: Vec<String> = self.names.keys().map(|k| k.to_string()).collect();
        v.sort_unstable();
        v
    }

    /// Values of `name` in use, sorted.
    pub fn label_values(&self, name: &str) -> Vec<String> {
        let mut v: Vec<String> = self
            .names
            .get(name)
            .map(|vals| vals.keys().map(|k| k.to_string()).collect())
            .unwrap_or_default();
        v.sort_unstable();
        v
    }

    /// Refs of the series matching every matcher, sorted.
    pub fn postings_for_matchers(&self, matchers: &[Matcher]) -> Vec<u64> {
        let mut intersect: Vec<Vec<u64>> = Vec::new();
        let mut subtract: Vec<Vec<u64>> = Vec::new();
        for m in matchers {
            if matches!(m.kind, MatchType::Regex) && m.value == ".*" {
                continue;
            }
            if m.matches_empty() {
                subtract.push(self.union_where(&m.name, |v| !m.matches(v)));
            } else if m.kind == MatchType::Equal {
                let list =
                    self.names.get(m.name.as_str()).and_then(|vals| vals.get(m.value.as_str()));
                intersect.push(list.map(PostingsList::to_vec).unwrap_or_default());
            } else {
                intersect.push(self.union_where(&m.name, |v| m.matches(v)));
            }
        }
        let mut result = if intersect.is_empty() {
            self.all.to_vec()
        } else {
            intersect.sort_by_key(Vec::len);
            let mut lists = intersect.into_iter();
            let first = lists.next().expect("not empty");
            lists.fold(first, |acc, l| intersect_sorted(&acc, &l))
        };
        for s in &subtract {
            if result.is_empty() {
                break;
            }
            result = subtract_sorted(&result, s);
        }
        result
    }

    /// The union of the postings of `name`'s values accepted by `keep`.
    fn union_where(&self, name: &str, keep: impl Fn(&str) -> bool) -> Vec<u64> {
        let Some(values) = self.names.get(name) else { return Vec::new() };
        let mut lists: Vec<&PostingsList> =
            values.iter().filter(|(v, _)| keep(v)).map(|(_, l)| l).collect();
        match lists.len() {
            0 => Vec::new(),
            1 => lists.pop().expect("one").to_vec(),
            _ => {
                let mut out: Vec<u64> = Vec::with_capacity(lists.iter().map(|l| l.len()).sum());
                for l in lists {
                    l.extend_into(&mut out);
                }
                out.sort_unstable();
                out.dedup();
                out
            }
        }
    }
}

/// Lists at least this long grow by an eighth instead of doubling.
const SMALL_LIST: usize = 1024;

fn insert_sorted<T: Ord + Copy>(list: &mut Vec<T>, r: T) {
    // A long list (a label value most series share, such as a job's) grows
    // by an eighth: doubling would leave up to half of it spare, about a
    // third on average, in every such list of the head. Lists past glibc's
    // mmap threshold are remapped, not copied, when they grow, and the
    // others are copied at most a few more times over their life.
    if list.len() == list.capacity() && list.len() >= SMALL_LIST {
        list.reserve_exact(list.len() / 8);
    }
    // Refs are handed out in increasing order, so this is nearly always a push.
    match list.last() {
        None => list.push(r),
        Some(&last) if last < r => list.push(r),
        _ => {
            if let Err(i) = list.binary_search(&r) {
                list.insert(i, r);
            }
        }
    }
}

fn remove_sorted<T: Ord + Copy>(list: &mut Vec<T>, r: T) {
    if let Ok(i) = list.binary_search(&r) {
        list.remove(i);
    }
}

/// Intersection of two sorted lists.
pub fn intersect_sorted(a: &[u64], b: &[u64]) -> Vec<u64> {
    let (small, large) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    let mut out = Vec::with_capacity(small.len());
    let mut rest = large;
    for &x in small {
        // Galloping would help for very skewed sizes; a binary search per
        // element of the smaller list is already O(small · log large).
        match rest.binary_search(&x) {
            Ok(i) => {
                out.push(x);
                rest = &rest[i + 1..];
            }
            Err(i) => rest = &rest[i..],
        }
        if rest.is_empty() {
            break;
        }
    }
    out
}

/// The elements of sorted `a` not in sorted `b`.
pub fn subtract_sorted(a: &[u64], b: &[u64]) -> Vec<u64> {
    let mut out = Vec::with_capacity(a.len());
    let mut j = 0;
    for &x in a {
        while j < b.len() && b[j] < x {
            j += 1;
        }
        if j >= b.len() || b[j] != x {
            out.push(x);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::matches_all;
    use proptest::prelude::*;

    fn index(series: &[Labels]) -> MemPostings {
        let mut p = MemPostings::default();
        for (i, l) in series.iter().enumerate() {
            p.add(i as u64, l);
        }
        p
    }

    fn labels_strategy() -> impl Strategy<Value = Labels> {
        proptest::collection::vec(
            (
                prop::sample::select(vec!["a", "b", "c"]),
                prop::sample::select(vec!["", "x", "y", "xy"]),
            ),
            0..4,
        )
        .prop_map(Labels::new)
    }

    fn matcher_strategy() -> impl Strategy<Value = Matcher> {
        let kind = prop::sample::select(vec![
            MatchType::Equal,
            MatchType::NotEqual,
            MatchType::Regex,
            MatchType::NotRegex,
        ]);
        let name = prop::sample::select(vec!["a", "b", "c", "d"]);
        let value = prop::sample::select(vec!["", "x", "y", ".*", ".+", "x.*", "x|", "y|xy"]);
        (kind, name, value).prop_map(|(k, n, v)| Matcher::new(k, n, v).unwrap())
    }

    proptest! {
        #[test]
        fn postings_agree_with_matching_each_series(
            series in proptest::collection::vec(labels_strategy(), 0..30),
            matchers in proptest::collection::vec(matcher_strategy(), 0..4),
        ) {
            let p = index(&series);
            let got = p.postings_for_matchers(&matchers);
            let want: Vec<u64> = series
                .iter()
                .enumerate()
                .filter(|(_, l)| matches_all(&matchers, l))
                .map(|(i, _)| i as u64)
                .collect();
            prop_assert_eq!(got, want);
        }
    }

    #[test]
    fn removal_keeps_lists_and_names_tidy() {
        let a = Labels::new([("job", "x"), ("i", "1")]);
        let b = Labels::new([("job", "x"), ("i", "2")]);
        let mut p = index(&[a.clone(), b]);
        p.remove(0, &a);
        assert_eq!(p.label_values("i"), ["2"]);
        assert_eq!(p.postings_for_matchers(&[Matcher::equal("job", "x")]), [1]);
        assert_eq!(p.all(), [1]);
    }

    #[test]
    fn lists_widen_past_u32_refs() {
        let a = Labels::new([("job", "x")]);
        let big = u64::from(u32::MAX) + 5;
        let mut p = index(&[a.clone(), a.clone()]);
        p.add(big, &a);
        p.add(7, &a);
        assert_eq!(p.postings_for_matchers(&[Matcher::equal("job", "x")]), [0, 1, 7, big]);
        p.remove(big, &a);
        assert_eq!(p.all(), [0, 1, 7]);
    }
}
