//! Ingest through `Appender` into a `Db` with the WAL on, and index lookups.
//!
//! `head/ingest_cached_ref_wal`: 100k node_exporter-like series (seeded
//! `NodeLoad`), one appender and one commit per target scrape (~1,000
//! samples), every append by the cached `SeriesRef`, WAL with its defaults
//! (zstd, sync when a segment fills, as Prometheus). One iteration is one
//! scrape round of every target; throughput is samples per CPU-second of the
//! whole process (WAL threads included), so it reads as samples/s/core.
//!
//! `head/ingest_by_labels_no_wal`: the same through label lookups (no cached
//! refs) and without a WAL, to show what the fast path saves.
//!
//! `db/open_replay`: `Db::open` of a data directory whose WAL holds 100k
//! series and 30 scrape rounds (3M samples): the whole start-up replay, WAL
//! decoding and head rebuilding (series, postings, chunk cutting) together,
//! in samples per CPU-second.
//!
//! `index/*`: postings for typical selectors over the same 100k series.
//!
//! `series_lookup/*`: finding 100k series by label set, the head's own
//! shards (xxh3 of the label bytes, 64 `RwLock`ed tables of series
//! pointers) against `dashmap` (its default hasher); the slow path of an
//! append without a cached ref. docs/decisions/2026-12-06-series-map.md.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use promethium_benches::{NodeLoad, cpu_timed};
use promethium_engine::db::{Db, DbOptions};
use promethium_engine::model::{MatchType, Matcher, SeriesRef};
use promethium_engine::{Appendable, Queryable};

const SERIES: usize = 100_000;
/// Scrape rounds generated up front and replayed with shifted timestamps.
const ROUNDS: usize = 8;

struct Ingest {
    load: NodeLoad,
    rounds: Vec<Vec<(i64, f64)>>,
    refs: Vec<Option<SeriesRef>>,
    next: usize,
}

impl Ingest {
    fn new() -> Self {
        let mut load = NodeLoad::new(SERIES, 3);
        let rounds = (0..ROUNDS)
            .map(|_| {
                let mut r = Vec::new();
                load.next_round(&mut r);
                r
            })
            .collect();
        let refs = vec![None; load.len()];
        Ingest { load, rounds, refs, next: 0 }
    }

    /// Appends the next scrape round, one commit per target.
    fn round(&mut self, db: &Db, use_refs: bool) {
        let k = self.next;
        self.next += 1;
        let samples = &self.rounds[k % ROUNDS];
        let shift = (k / ROUNDS) as i64 * ROUNDS as i64 * self.load.interval_ms;
        for target in 0..self.load.targets() {
            let mut app = db.appender();
            for i in self.load.target_series(target) {
                let (t, v) = samples[i];
                let cached = if use_refs { self.refs[i] } else { None };
                let r = app
                    .append(cached, &self.load.labels[i], t + shift, v)
                    .expect("in-order samples");
                self.refs[i] = Some(r);
            }
            app.commit().expect("commit");
        }
    }
}

fn ingest(c: &mut Criterion) {
    let mut g = c.benchmark_group("head");
    g.sample_size(20);
    for (name, wal, use_refs) in
        [("ingest_cached_ref_wal", true, true), ("ingest_by_labels_no_wal", false, false)]
    {
        let dir = tempfile::tempdir().expect("temp dir");
        let opts = if wal {
            DbOptions::default()
        } else {
            DbOptions { wal: None, ..DbOptions::default() }
        };
        let db = Db::open(dir.path(), opts).expect("open db");
        let mut ingest = Ingest::new();
        // Create every series first: creation is not what is measured.
        ingest.round(&db, true);
        g.throughput(Throughput::Elements(ingest.load.len() as u64));
        g.bench_function(name, |b| b.iter_custom(|n| cpu_timed(n, || ingest.round(&db, use_refs))));
        db.close().expect("close");
    }
    g.finish();
}

fn replay(c: &mut Criterion) {
    const REPLAY_ROUNDS: usize = 30;
    let dir = tempfile::tempdir().expect("temp dir");
    let samples = {
        let db = Db::open(dir.path(), DbOptions::default()).expect("open db");
        let mut ingest = Ingest::new();
        for _ in 0..REPLAY_ROUNDS {
            ingest.round(&db, true);
        }
        db.close().expect("close");
        (ingest.load.len() * REPLAY_ROUNDS) as u64
    };
    let mut g = c.benchmark_group("db");
    g.sample_size(10);
    g.throughput(Throughput::Elements(samples));
    g.bench_function("open_replay", |b| {
        b.iter_custom(|n| {
            cpu_timed(n, || {
                let db = Db::open(dir.path(), DbOptions::default()).expect("open db");
                assert_eq!(db.replay_report().wal.samples, samples);
                drop(db);
            })
        })
    });
    g.finish();
}

fn index(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let db =
        Db::open(dir.path(), DbOptions { wal: None, ..DbOptions::default() }).expect("open db");
    let mut ingest = Ingest::new();
    ingest.round(&db, true);
    let m = |k, n: &str, v: &str| Matcher::new(k, n, v).expect("valid matcher");
    let selectors = [
        (
            "metric_and_label",
            vec![
                m(MatchType::Equal, "__name__", "node_cpu_seconds_total"),
                m(MatchType::Equal, "mode", "idle"),
            ],
        ),
        ("one_instance", vec![m(MatchType::Equal, "instance", "host-00042.example.org:9100")]),
        (
            "regex_and_not_equal",
            vec![
                m(MatchType::Regex, "__name__", "node_network_.*_bytes_total"),
                m(MatchType::NotEqual, "device", "lo"),
            ],
        ),
    ];
    let mut g = c.benchmark_group("index");
    for (name, sel) in &selectors {
        g.bench_function(*name, |b| {
            b.iter_custom(|n| {
                cpu_timed(n, || {
                    let q = db.querier(i64::MIN, i64::MAX).expect("querier");
                    black_box(q.select(black_box(sel), None).expect("select").len());
                })
            })
        });
    }
    g.finish();
}

fn series_lookup(c: &mut Criterion) {
    let load = NodeLoad::new(SERIES, 5);
    let own = promethium_engine::head::SeriesMap::default();
    let dash: dashmap::DashMap<promethium_engine::model::Labels, u64> = dashmap::DashMap::new();
    for (i, l) in load.labels.iter().enumerate() {
        own.get_or_create(l, None);
        dash.insert(l.clone(), i as u64);
    }
    let mut g = c.benchmark_group("series_lookup");
    g.throughput(Throughput::Elements(load.len() as u64));
    g.bench_function("own_shards", |b| {
        b.iter_custom(|n| {
            cpu_timed(n, || {
                for l in &load.labels {
                    black_box(own.get_by_labels(l.stable_hash(), black_box(l)).is_some());
                }
            })
        })
    });
    g.bench_function("dashmap", |b| {
        b.iter_custom(|n| {
            cpu_timed(n, || {
                for l in &load.labels {
                    black_box(dash.get(black_box(l)).is_some());
                }
            })
        })
    });
    g.finish();
}

criterion_group!(benches, ingest, replay, index, series_lookup);
criterion_main!(benches);
