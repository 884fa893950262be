//! A whole request's series, decoded before any is appended, so the series
//! cache can be asked for every series at once.
//!
//! Asking the cache series by series cost a shard lock (an atomic
//! read-modify-write, which also stops the CPU from overlapping the next
//! lookup's cache misses) and a dependent miss into a 100k-entry table per
//! series: about a quarter of the receiver's CPU under the side-by-side
//! load. With all keys known up front, [`SeriesCache::get_many`] takes each
//! shard's lock once per request and its lookups are independent loads.
//!
//! [`SeriesCache::get_many`]: super::series_cache::SeriesCache::get_many

use std::ops::Range;

use xxhash_rust::xxh3::{Xxh3, xxh3_128};

use super::wire::{self, DecodeError, RawSample};

/// Where one series' label fields and samples sit in the flat vectors.
#[derive(Clone, Copy)]
struct Span {
    labels: (u32, u32),
    samples: (u32, u32),
}

/// Every series of one request, in order, with its cache key. Reused from
/// request to request (the vectors keep their allocations).
#[derive(Default)]
pub struct Batch {
    label_fields: Vec<Range<usize>>,
    samples: Vec<RawSample>,
    spans: Vec<Span>,
    keys: Vec<u128>,
}

impl Batch {
    /// Decodes the request `raw` (decompressed), replacing what was held.
    pub fn decode(&mut self, raw: &[u8]) -> Result<(), DecodeError> {
        let Batch { label_fields, samples, spans, keys } = self;
        label_fields.clear();
        samples.clear();
        spans.clear();
        keys.clear();
        wire::walk(raw, label_fields, samples, |label_fields, samples, start| {
            spans.push(Span {
                labels: (start.label_fields as u32, label_fields.len() as u32),
                samples: (start.samples as u32, samples.len() as u32),
            });
            keys.push(label_key(raw, &label_fields[start.label_fields..]));
            Ok::<_, DecodeError>(())
        })
    }

    /// Series in the request.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// Whether the request has no series.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// The cache key of every series, in request order.
    pub fn keys(&self) -> &[u128] {
        &self.keys
    }

    /// Series `i` of the request.
    pub fn series(&self, i: usize) -> wire::Series<'_> {
        let Span { labels: (l0, l1), samples: (s0, s1) } = self.spans[i];
        wire::Series {
            label_fields: &self.label_fields[l0 as usize..l1 as usize],
            samples: &self.samples[s0 as usize..s1 as usize],
        }
    }

    /// Samples in the request.
    pub fn sample_count(&self) -> usize {
        self.samples.len()
    }
}

/// The cache key of a series: xxh3-128 of its `labels` fields, tags and
/// lengths included, so different label lists never give the same bytes.
pub fn label_key(raw: &[u8], fields: &[Range<usize>]) -> u128 {
    let (Some(first), Some(last)) = (fields.first(), fields.last()) else {
        return xxh3_128(&[]);
    };
    if fields.windows(2).all(|w| w[0].end == w[1].start) {
        // Senders put the labels first and together: one slice.
        return xxh3_128(&raw[first.start..last.end]);
    }
    let mut h = Xxh3::new();
    for f in fields {
        h.update(&raw[f.clone()]);
    }
    h.digest128()
}

#[cfg(test)]
mod tests {
    use super::super::proto::{Label, Sample, TimeSeries, WriteRequest};
    use super::*;
    use prost::Message;

    fn ts(name: &str, samples: &[(i64, f64)]) -> TimeSeries {
        TimeSeries {
            labels: vec![Label { name: "__name__".into(), value: name.into() }],
            samples: samples
                .iter()
                .map(|&(timestamp, value)| Sample { value, timestamp })
                .collect(),
            exemplars: vec![],
        }
    }

    fn raw(series: Vec<TimeSeries>) -> Vec<u8> {
        WriteRequest { timeseries: series, metadata: vec![] }.encode_to_vec()
    }

    #[test]
    fn holds_every_series_in_order_and_is_reusable() {
        let mut b = Batch::default();
        let first = raw(vec![ts("a", &[(1, 1.0), (2, 2.0)]), ts("b", &[]), ts("a", &[(3, 3.0)])]);
        b.decode(&first).unwrap();
        assert_eq!((b.len(), b.sample_count()), (3, 3));
        let times: Vec<Vec<i64>> =
            (0..b.len()).map(|i| b.series(i).samples.iter().map(|s| s.t_ms).collect()).collect();
        assert_eq!(times, vec![vec![1, 2], vec![], vec![3]]);
        assert_eq!(b.keys()[0], b.keys()[2], "same labels, same key");
        assert_ne!(b.keys()[0], b.keys()[1]);
        let (n, _) = wire::label_text(&first, b.series(1).label_fields[0].clone()).unwrap();
        assert_eq!(n, "__name__");

        let second = raw(vec![ts("c", &[(9, 9.0)])]);
        b.decode(&second).unwrap();
        assert_eq!((b.len(), b.sample_count()), (1, 1));
        assert_eq!(b.series(0).samples[0].t_ms, 9);
    }

    #[test]
    fn split_label_fields_hash_like_contiguous_ones() {
        let a = b"\x0a\x02xy\x12\x00\x0a\x01z";
        assert_eq!(label_key(a, &[0..4, 6..9]), {
            let mut joined = a[0..4].to_vec();
            joined.extend_from_slice(&a[6..9]);
            xxh3_128(&joined)
        });
        assert_eq!(label_key(a, &[0..4, 4..6]), xxh3_128(&a[0..6]));
    }

    #[test]
    fn a_malformed_request_is_an_error() {
        let mut b = Batch::default();
        assert!(b.decode(b"\x0a\x05\x0a").is_err());
    }
}
