//! The per-target scrape cache: series bytes to series reference and labels,
//! plus the bookkeeping staleness needs.
//!
//! A target serves nearly the same series every scrape. Keyed by the exact
//! bytes that name a series in the body (`name{labels}`), the cache lets a
//! steady-state scrape skip everything expensive about a sample (decoding
//! labels, adding target labels, metric relabeling, limit checks, hashing the
//! final label set) and append with the series reference the storage
//! returned last time. Only new bytes take the slow path.
//!
//! Staleness needs "which series did the last committed scrape write", and
//! the cache answers that without a second per-sample map: each entry
//! remembers the last two scrape iterations that appended it, and the cache
//! remembers which iteration's series are live in storage. A series is live
//! when one of its two iterations is the live one; it goes stale when it is
//! live but was not appended in the current scrape. Keeping two iterations
//! matters for failed scrapes: a series appended by the failed scrape before
//! it failed (then rolled back) still counts as live from the scrape before.
//!
//! Entries not seen for two scrapes are evicted, as are series dropped by
//! metric relabeling and metadata, so a target whose series churn does not
//! grow the cache without bound.
//!
//! Memory: the cache does not own a copy of the series bytes. An entry is
//! keyed by the 128-bit xxh3 of the bytes, kept in a dense vector, and found
//! through an open-addressed table of 4-byte indexes ([`SeriesTable`]); the
//! labels are the same allocation the storage's series holds (an 8-byte
//! pointer to it). That is about 57 bytes a series (a 48-byte entry and
//! the table) instead of ~250 with the bytes as a `HashMap` key
//! (docs/decisions/2026-12-05-series-memory.md). Two different series bytes
//! of one target sharing a 128-bit hash (odds about n²/2¹²⁹, 10⁻³² for
//! 2,000 series) would be taken for one series: the second would be reported
//! as a duplicate or appended under the first's labels.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use promethium_engine::model::{Labels, Metadata, MetricType, SeriesRef};

/// A hasher for byte-string keys: one xxh3 call over the whole key, which is
/// several times faster than SipHash on the 30 to 200 byte series names the
/// cache sees, and needs no DoS resistance (keys come from one target, which
/// could as well send that many distinct series).
#[derive(Default, Clone, Copy)]
pub struct BytesHasher(u64);

impl Hasher for BytesHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        self.0 = xxhash_rust::xxh3::xxh3_64_with_seed(bytes, self.0);
    }

    fn write_usize(&mut self, n: usize) {
        // The length prefix `[u8]` hashes before its bytes; folding it in
        // cheaply keeps the single xxh3 call per key.
        self.0 = self.0.rotate_left(5) ^ n as u64;
    }
}

/// A `HashMap` keyed by byte strings with [`BytesHasher`].
pub type BytesMap<V> = HashMap<Box<[u8]>, V, BuildHasherDefault<BytesHasher>>;

/// The 128-bit identity of a series' bytes in the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct SeriesKey([u64; 2]);

impl SeriesKey {
    #[inline]
    fn of(series: &[u8]) -> Self {
        let h = xxhash_rust::xxh3::xxh3_128(series);
        SeriesKey([h as u64, (h >> 64) as u64])
    }
}

/// A scrape iteration number of one target's cache. 32 bits keep a cache
/// entry at 48 bytes instead of 64 (one entry per scraped series); they
/// wrap after 4 billion scrapes, 136 years at one a second, and a wrap
/// costs one scrape's cache (everything looks unseen once).
pub type Iteration = u32;

/// What the cache knows about one series of the target.
#[derive(Debug, Clone)]
pub struct CacheEntry {
    key: SeriesKey,
    /// The storage's reference, 0 until an append returned one (refs start
    /// at 1; a plain `u64` is 8 bytes where `Option<SeriesRef>` is 16).
    series_ref: u64,
    /// The final labels (target labels added, metric relabeling applied).
    pub labels: Labels,
    /// The last scrape iteration whose body contained the series.
    pub last_seen_iter: Iteration,
    /// The last two iterations that appended a sample of this series
    /// without an explicit timestamp (0 = never); `[newest, previous]`.
    appended_iters: [Iteration; 2],
}

impl CacheEntry {
    /// The storage's reference, `None` until an append returned one.
    #[inline]
    pub fn series_ref(&self) -> Option<SeriesRef> {
        (self.series_ref != 0).then_some(SeriesRef(self.series_ref))
    }

    /// Remembers the storage's reference (`None` or ref 0 forgets it).
    #[inline]
    pub fn set_series_ref(&mut self, r: Option<SeriesRef>) {
        self.series_ref = r.map_or(0, |r| r.0);
    }

    /// Records that scrape `iter` appended this series (staleness-tracked).
    pub fn mark_appended(&mut self, iter: Iteration) {
        if self.appended_iters[0] != iter {
            self.appended_iters = [iter, self.appended_iters[0]];
        }
    }

    fn appended_in(&self, iter: Iteration) -> bool {
        self.appended_iters[0] == iter || self.appended_iters[1] == iter
    }
}

/// Cache entries in a dense vector, found by key through an open-addressed
/// table of indexes (linear probing, at most 3/4 full). Entries are only
/// removed in bulk ([`SeriesTable::retain`]), which rebuilds the table, so
/// the probing needs no tombstones.
#[derive(Debug, Default)]
struct SeriesTable {
    entries: Vec<CacheEntry>,
    /// `index + 1` into `entries`, 0 for an empty slot; a power of two long.
    slots: Vec<u32>,
}

impl SeriesTable {
    /// The slot holding `key`, or the empty slot where it would go.
    #[inline]
    fn probe(&self, key: SeriesKey) -> usize {
        let mask = self.slots.len() - 1;
        let mut i = key.0[0] as usize & mask;
        loop {
            match self.slots[i] {
                0 => return i,
                s if self.entries[s as usize - 1].key == key => return i,
                _ => i = (i + 1) & mask,
            }
        }
    }

    #[inline]
    fn get_mut(&mut self, key: SeriesKey) -> Option<&mut CacheEntry> {
        if self.slots.is_empty() {
            return None;
        }
        match self.slots[self.probe(key)] {
            0 => None,
            s => Some(&mut self.entries[s as usize - 1]),
        }
    }

    /// The entry for `key`, created by `make` if missing.
    fn get_or_insert_with(
        &mut self,
        key: SeriesKey,
        make: impl FnOnce() -> CacheEntry,
    ) -> &mut CacheEntry {
        if (self.entries.len() + 1) * 4 > self.slots.len() * 3 {
            self.rebuild((self.entries.len() + 1) * 2);
        }
        let i = self.probe(key);
        if self.slots[i] == 0 {
            let idx = u32::try_from(self.entries.len() + 1).expect("under 4 G series a target");
            self.entries.push(make());
            self.slots[i] = idx;
        }
        let s = self.slots[i] as usize;
        &mut self.entries[s - 1]
    }

    /// Keeps the entries for which `keep` holds.
    fn retain(&mut self, keep: impl FnMut(&CacheEntry) -> bool) {
        let before = self.entries.len();
        self.entries.retain(keep);
        if self.entries.len() != before {
            if self.entries.capacity() > 2 * self.entries.len() {
                self.entries.shrink_to(self.entries.len() + self.entries.len() / 8);
            }
            self.rebuild(self.entries.len() * 2);
        }
    }

    /// Re-indexes every entry into a table of at least `min_slots` slots.
    fn rebuild(&mut self, min_slots: usize) {
        let n = min_slots.max(8).next_power_of_two();
        self.slots.clear();
        self.slots.resize(n, 0);
        self.slots.shrink_to_fit();
        for idx in 0..self.entries.len() {
            let i = self.probe(self.entries[idx].key);
            self.slots[i] = u32::try_from(idx + 1).expect("under 4 G series a target");
        }
    }

    fn len(&self) -> usize {
        self.entries.len()
    }

    fn values(&self) -> std::slice::Iter<'_, CacheEntry> {
        self.entries.iter()
    }
}

#[derive(Debug, Clone)]
struct MetadataEntry {
    metric_type: MetricType,
    help: Option<String>,
    unit: Option<String>,
    last_seen_iter: Iteration,
}

/// Per-target cache; owned by one scrape loop and handed to its successor
/// when the loop is restarted by a configuration reload.
#[derive(Debug, Default)]
pub struct ScrapeCache {
    iter: Iteration,
    /// The iteration whose series are live in storage (last committed
    /// successful scrape), `None` after a failed scrape marked them stale.
    live_iter: Option<Iteration>,
    series: SeriesTable,
    /// Series bytes dropped by metric relabeling, by key, with the last
    /// iteration that saw them.
    dropped: HashMap<SeriesKey, Iteration>,
    metadata: BytesMap<MetadataEntry>,
    metadata_changed: bool,
}

impl ScrapeCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts a scrape and returns its iteration number (starting at 1;
    /// after a wrap, 0 is skipped since it means "never").
    pub fn begin_scrape(&mut self) -> Iteration {
        self.iter = self.iter.wrapping_add(1).max(1);
        self.iter
    }

    /// The current iteration.
    pub fn iter(&self) -> Iteration {
        self.iter
    }

    /// The entry for `series` bytes, if cached.
    #[inline]
    pub fn get_mut(&mut self, series: &[u8]) -> Option<&mut CacheEntry> {
        self.series.get_mut(SeriesKey::of(series))
    }

    /// Caches a new series seen in the current scrape.
    pub fn insert(&mut self, series: &[u8], labels: Labels) -> &mut CacheEntry {
        let iter = self.iter;
        let key = SeriesKey::of(series);
        let entry = self.series.get_or_insert_with(key, || CacheEntry {
            key,
            series_ref: 0,
            labels: Labels::empty(),
            last_seen_iter: iter,
            appended_iters: [0, 0],
        });
        entry.labels = labels;
        entry.last_seen_iter = iter;
        entry
    }

    /// Whether `series` was dropped by metric relabeling (refreshing it if so).
    #[inline]
    pub fn is_dropped(&mut self, series: &[u8]) -> bool {
        if self.dropped.is_empty() {
            return false;
        }
        match self.dropped.get_mut(&SeriesKey::of(series)) {
            Some(seen) => {
                *seen = self.iter;
                true
            }
            None => false,
        }
    }

    /// Remembers that metric relabeling drops `series`.
    pub fn insert_dropped(&mut self, series: &[u8]) {
        self.dropped.insert(SeriesKey::of(series), self.iter);
    }

    /// Number of cached series (kept and dropped).
    pub fn len(&self) -> usize {
        self.series.len() + self.dropped.len()
    }

    /// Heap bytes the cache holds for its series (entries, index table,
    /// dropped keys), not counting the label sets it shares with storage:
    /// for memory accounting.
    pub fn series_heap_bytes(&self) -> usize {
        let t = &self.series;
        t.entries.capacity() * std::mem::size_of::<CacheEntry>()
            + t.slots.capacity() * std::mem::size_of::<u32>()
            + self.dropped.capacity() * (std::mem::size_of::<(SeriesKey, u64)>() + 1)
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Series live in storage that the current scrape did not append: they
    /// get staleness markers. When `failed`, the current scrape is being
    /// rolled back, so every live series goes stale.
    ///
    /// A series that the current scrape appended under other bytes (the
    /// target reordered its labels, or relabeling merged two series) is not
    /// stale, as Prometheus decides by final labels.
    pub fn stale_series(&self, failed: bool) -> Vec<(Option<SeriesRef>, Labels)> {
        let Some(live) = self.live_iter else { return Vec::new() };
        let now = self.iter;
        let mut stale: Vec<(Option<SeriesRef>, Labels)> = self
            .series
            .values()
            .filter(|e| e.appended_in(live) && (failed || e.appended_iters[0] != now))
            .map(|e| (e.series_ref(), e.labels.clone()))
            .collect();
        if !stale.is_empty() && !failed {
            let appended_now: std::collections::HashSet<&Labels> = self
                .series
                .values()
                .filter(|e| e.appended_iters[0] == now)
                .map(|e| &e.labels)
                .collect();
            stale.retain(|(_, l)| !appended_now.contains(l));
        }
        stale.sort_by(|a, b| a.1.cmp(&b.1));
        stale.dedup_by(|a, b| a.1 == b.1);
        stale
    }

    /// Ends the current scrape. `committed` is true when its samples were
    /// committed (they are now the live set), false when it failed (its
    /// samples were rolled back and the previous ones marked stale). Evicts
    /// what was not seen in this scrape or the one before.
    pub fn end_scrape(&mut self, committed: bool) {
        let iter = self.iter;
        self.live_iter = committed.then_some(iter);
        let keep_from = iter.saturating_sub(1);
        self.series.retain(|e| e.last_seen_iter >= keep_from);
        self.dropped.retain(|_, seen| *seen >= keep_from);
        let before = self.metadata.len();
        self.metadata.retain(|_, m| m.last_seen_iter >= keep_from);
        if self.metadata.len() != before {
            self.metadata_changed = true;
        }
    }

    /// Forgets which series are live: used when the loop has written
    /// end-of-run staleness markers.
    pub fn forget_live(&mut self) {
        self.live_iter = None;
    }

    /// Records a `# TYPE` line.
    pub fn set_type(&mut self, family: &[u8], metric_type: MetricType) {
        let iter = self.iter;
        let m = self.metadata_entry(family);
        m.last_seen_iter = iter;
        if m.metric_type != metric_type {
            m.metric_type = metric_type;
            self.metadata_changed = true;
        }
    }

    /// Records a `# HELP` line; `raw` is compared first so the steady state
    /// does not decode.
    pub fn set_help(&mut self, family: &[u8], help: &str) {
        let iter = self.iter;
        let m = self.metadata_entry(family);
        m.last_seen_iter = iter;
        if m.help.as_deref() != Some(help) {
            m.help = Some(help.to_owned());
            self.metadata_changed = true;
        }
    }

    /// Records a `# UNIT` line.
    pub fn set_unit(&mut self, family: &[u8], unit: &str) {
        let iter = self.iter;
        let m = self.metadata_entry(family);
        m.last_seen_iter = iter;
        if m.unit.as_deref() != Some(unit) {
            m.unit = Some(unit.to_owned());
            self.metadata_changed = true;
        }
    }

    fn metadata_entry(&mut self, family: &[u8]) -> &mut MetadataEntry {
        if !self.metadata.contains_key(family) {
            self.metadata_changed = true;
        }
        self.metadata.entry(family.into()).or_insert_with(|| MetadataEntry {
            metric_type: MetricType::Unknown,
            help: None,
            unit: None,
            last_seen_iter: 0,
        })
    }

    /// The metadata per metric family, sorted by name, when it changed
    /// since the last call; `None` when unchanged.
    pub fn take_metadata_if_changed(&mut self) -> Option<Vec<(String, Metadata)>> {
        if !std::mem::take(&mut self.metadata_changed) {
            return None;
        }
        let mut out: Vec<(String, Metadata)> = self
            .metadata
            .iter()
            .map(|(name, m)| {
                (
                    String::from_utf8_lossy(name).into_owned(),
                    Metadata {
                        metric_type: m.metric_type,
                        help: m.help.clone().unwrap_or_default(),
                        unit: m.unit.clone().unwrap_or_default(),
                    },
                )
            })
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(name: &str) -> Labels {
        Labels::new([("__name__", name)])
    }

    /// One entry per scraped series: a field added here costs every series.
    #[test]
    fn an_entry_stays_small_and_keeps_its_ref() {
        assert!(std::mem::size_of::<CacheEntry>() <= 48, "{}", std::mem::size_of::<CacheEntry>());
        let mut cache = ScrapeCache::new();
        cache.begin_scrape();
        let e = cache.insert(b"up", labels("up"));
        assert_eq!(e.series_ref(), None);
        e.set_series_ref(Some(SeriesRef(7)));
        assert_eq!(cache.get_mut(b"up").and_then(|e| e.series_ref()), Some(SeriesRef(7)));
        cache.get_mut(b"up").expect("cached").set_series_ref(None);
        assert_eq!(cache.get_mut(b"up").and_then(|e| e.series_ref()), None);
    }

    #[test]
    fn iterations_skip_zero_when_they_wrap() {
        let mut cache = ScrapeCache { iter: Iteration::MAX - 1, ..ScrapeCache::default() };
        assert_eq!(cache.begin_scrape(), Iteration::MAX);
        assert_eq!(cache.begin_scrape(), 1);
    }

    fn scrape(cache: &mut ScrapeCache, series: &[&str]) -> Iteration {
        let iter = cache.begin_scrape();
        for s in series {
            let e = match cache.get_mut(s.as_bytes()) {
                Some(e) => e,
                None => cache.insert(s.as_bytes(), labels(s)),
            };
            e.last_seen_iter = iter;
            e.mark_appended(iter);
        }
        iter
    }

    fn names(v: Vec<(Option<SeriesRef>, Labels)>) -> Vec<String> {
        v.into_iter().map(|(_, l)| l.metric_name().unwrap().to_owned()).collect()
    }

    #[test]
    fn vanished_series_go_stale_once() {
        let mut c = ScrapeCache::new();
        scrape(&mut c, &["a", "b"]);
        assert!(c.stale_series(false).is_empty(), "nothing is live before the first commit");
        c.end_scrape(true);
        scrape(&mut c, &["a"]);
        assert_eq!(names(c.stale_series(false)), ["b"]);
        c.end_scrape(true);
        scrape(&mut c, &["a"]);
        assert!(c.stale_series(false).is_empty(), "b was marked stale in the previous scrape");
        c.end_scrape(true);
    }

    #[test]
    fn failed_scrape_stales_everything_live_even_if_partly_parsed() {
        let mut c = ScrapeCache::new();
        scrape(&mut c, &["a", "b"]);
        c.end_scrape(true);
        // The failed scrape appended `a` before failing; it is rolled back.
        scrape(&mut c, &["a"]);
        assert_eq!(names(c.stale_series(true)), ["a", "b"]);
        c.end_scrape(false);
        scrape(&mut c, &["a"]);
        assert!(c.stale_series(true).is_empty(), "nothing live after a failed scrape");
        c.end_scrape(true);
        scrape(&mut c, &[]);
        assert_eq!(names(c.stale_series(false)), ["a"]);
    }

    #[test]
    fn same_labels_under_other_bytes_are_not_stale() {
        let mut c = ScrapeCache::new();
        let iter = c.begin_scrape();
        c.insert(b"x{a=\"1\",b=\"2\"}", labels("x")).mark_appended(iter);
        c.end_scrape(true);
        let iter = c.begin_scrape();
        c.insert(b"x{b=\"2\",a=\"1\"}", labels("x")).mark_appended(iter);
        assert!(c.stale_series(false).is_empty());
    }

    #[test]
    fn unseen_entries_are_evicted_after_two_scrapes() {
        let mut c = ScrapeCache::new();
        scrape(&mut c, &["a", "b"]);
        c.insert_dropped(b"d");
        c.end_scrape(true);
        scrape(&mut c, &["a"]);
        c.end_scrape(true);
        assert_eq!(c.len(), 3, "b and d are kept one scrape longer");
        scrape(&mut c, &["a"]);
        c.end_scrape(true);
        assert_eq!(c.len(), 1);
        assert!(!c.is_dropped(b"d"));
    }

    #[test]
    fn metadata_reports_only_changes() {
        let mut c = ScrapeCache::new();
        c.begin_scrape();
        c.set_type(b"up", MetricType::Gauge);
        c.set_help(b"up", "whether the target is up");
        let m = c.take_metadata_if_changed().unwrap();
        assert_eq!(m[0].0, "up");
        assert_eq!(m[0].1.metric_type, MetricType::Gauge);
        c.end_scrape(true);
        c.begin_scrape();
        c.set_type(b"up", MetricType::Gauge);
        c.set_help(b"up", "whether the target is up");
        assert!(c.take_metadata_if_changed().is_none());
    }
}
