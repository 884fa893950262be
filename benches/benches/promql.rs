//! PromQL evaluation throughput over `MemStorage`.
//!
//! * `sum_rate`: `sum by (group) (rate(x[5m]))` over 10,000 counter series
//!   for a 1 h range at a 15 s step (241 steps).
//! * `histogram_quantile`: `histogram_quantile(0.9, sum by (le) (rate(h_bucket[5m])))`
//!   over 1,000 classic histograms of 10 buckets each, same range and step.
//!
//! Data is deterministic: one sample every 15 s per series, counters growing
//! by a per-series increment. Throughput is reported in samples read from
//! storage per second (criterion's "elements"), the figure Prometheus'
//! `samples` query statistic counts.
//!
//! The `head_*` benches run instant queries through a real head (a `Db`
//! without WAL), shaped like the side-by-side comparison's farm (200
//! targets scraped every 5 s for 150 s, queried at the end), so selection
//! and chunk decoding count as they do in the server:
//!
//! * `head_topk_80k_series`: `topk(10, app_queue_depth)` over 80,000 gauges.
//! * `head_sum_by_rate_20k_series`: `sum by (code, method) (rate(http_requests_total[1m]))`
//!   over 20,000 counters.
//! * `head_subquery_20k_series`: `max_over_time(sum(rate(http_requests_total[1m]))[2m:10s])`
//!   over the same counters.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use promethium_engine::db::{Db, DbOptions};
use promethium_engine::model::Labels;
use promethium_engine::{Appendable, MemStorage, Queryable};
use promethium_promql::{Engine, EngineOptions};

const SCRAPE_MS: i64 = 15_000;
const END_MS: i64 = 2 * 3_600_000;
const START_MS: i64 = END_MS - 3_600_000;
/// Samples from 5 m before the range start (the rate window) to its end.
const FIRST_SAMPLE_MS: i64 = START_MS - 5 * 60_000;

fn load(db: &MemStorage, labels: &Labels, increment: f64) {
    let mut app = db.appender();
    let mut v = 0.0;
    let mut t = FIRST_SAMPLE_MS;
    while t <= END_MS {
        app.append(None, labels, t, v).expect("samples are appended in order");
        v += increment;
        t += SCRAPE_MS;
    }
    app.commit().expect("the in-memory storage always commits");
}

fn counters(series: usize) -> MemStorage {
    let db = MemStorage::new();
    for i in 0..series {
        let labels = Labels::new([
            ("__name__", "x".to_owned()),
            ("group", format!("g{}", i % 100)),
            ("instance", format!("host-{i}")),
        ]);
        load(&db, &labels, 1.0 + (i % 7) as f64);
    }
    db
}

fn histograms(count: usize) -> MemStorage {
    let db = MemStorage::new();
    let bounds = ["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "+Inf"];
    for i in 0..count {
        for (b, le) in bounds.iter().enumerate() {
            let labels = Labels::new([
                ("__name__", "h_bucket".to_owned()),
                ("instance", format!("host-{i}")),
                ("le", (*le).to_owned()),
            ]);
            load(&db, &labels, (b + 1) as f64 + (i % 5) as f64);
        }
    }
    db
}

fn bench_query(c: &mut Criterion, name: &str, db: &MemStorage, query: &str) {
    let engine = Engine::new(EngineOptions { max_samples: u64::MAX, ..EngineOptions::default() });
    let probe = engine
        .range_query(db, query, START_MS, END_MS, SCRAPE_MS)
        .expect("the bench query evaluates");
    let mut group = c.benchmark_group("promql");
    group.sample_size(10);
    group.throughput(Throughput::Elements(probe.samples_loaded));
    group.bench_function(name, |b| {
        b.iter(|| {
            black_box(
                engine.range_query(db, query, START_MS, END_MS, SCRAPE_MS).expect("evaluates"),
            )
        });
    });
    group.finish();
}

fn promql(c: &mut Criterion) {
    let db = counters(10_000);
    bench_query(c, "sum_rate_10k_series_1h_15s", &db, "sum by (group) (rate(x[5m]))");
    drop(db);
    let db = histograms(1_000);
    bench_query(
        c,
        "histogram_quantile_1k_histograms_1h_15s",
        &db,
        "histogram_quantile(0.9, sum by (le) (rate(h_bucket[5m])))",
    );
}

/// The farm's scrape interval and run length, and when the queries run.
const FARM_SCRAPE_MS: i64 = 5_000;
const FARM_RUN_MS: i64 = 150_000;
const FARM_TARGETS: usize = 200;

/// A head holding 200 targets x 400 `app_queue_depth` gauges and 200 x 100
/// `http_requests_total` counters (4 methods x 5 codes x 5 handlers), one
/// sample every 5 s for 150 s, appended one scrape at a time.
fn farm_head() -> (tempfile::TempDir, Db) {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = Db::open(
        dir.path(),
        DbOptions { wal: None, compaction_interval: None, ..DbOptions::default() },
    )
    .expect("a fresh head-only Db opens");
    let mut series = Vec::new();
    for target in 0..FARM_TARGETS {
        let instance = format!("10.0.{}.{}:9100", target / 250, target % 250);
        for q in 0..20 {
            for shard in 0..20 {
                series.push((
                    Labels::new([
                        ("__name__", "app_queue_depth".to_owned()),
                        ("instance", instance.clone()),
                        ("job", "farm".to_owned()),
                        ("queue", format!("queue-{q}")),
                        ("shard", shard.to_string()),
                    ]),
                    false,
                ));
            }
        }
        for method in ["GET", "POST", "PUT", "DELETE"] {
            for code in ["200", "201", "400", "404", "500"] {
                for h in 0..5 {
                    series.push((
                        Labels::new([
                            ("__name__", "http_requests_total".to_owned()),
                            ("code", code.to_owned()),
                            ("handler", format!("/api/v1/resource{h}")),
                            ("instance", instance.clone()),
                            ("job", "farm".to_owned()),
                            ("method", method.to_owned()),
                        ]),
                        true,
                    ));
                }
            }
        }
    }
    let mut refs = vec![None; series.len()];
    let mut t = 0;
    let mut round = 0u64;
    while t <= FARM_RUN_MS {
        let mut app = db.appender();
        for (i, (labels, counter)) in series.iter().enumerate() {
            // Deterministic values: counters grow by a per-series step,
            // gauges wander over a per-series pattern.
            let seed = (i as u64).wrapping_mul(2_654_435_761) >> 7;
            let v = if *counter {
                (round * (1 + seed % 13)) as f64
            } else {
                ((seed + round * 7) % 1000) as f64
            };
            refs[i] =
                Some(app.append(refs[i], labels, t, v).expect("samples are appended in order"));
        }
        app.commit().expect("a head-only Db commits");
        t += FARM_SCRAPE_MS;
        round += 1;
    }
    (dir, db)
}

fn bench_instant(c: &mut Criterion, name: &str, db: &dyn Queryable, query: &str) {
    let engine = Engine::new(EngineOptions { max_samples: u64::MAX, ..EngineOptions::default() });
    let probe = engine.instant_query(db, query, FARM_RUN_MS).expect("the bench query evaluates");
    let mut group = c.benchmark_group("promql");
    group.sample_size(10);
    group.throughput(Throughput::Elements(probe.samples_loaded));
    group.bench_function(name, |b| {
        b.iter(|| black_box(engine.instant_query(db, query, FARM_RUN_MS).expect("evaluates")));
    });
    group.finish();
}

fn promql_head(c: &mut Criterion) {
    let (_dir, db) = farm_head();
    bench_instant(c, "head_topk_80k_series", &db, "topk(10, app_queue_depth)");
    bench_instant(
        c,
        "head_sum_by_rate_20k_series",
        &db,
        "sum by (code, method) (rate(http_requests_total[1m]))",
    );
    bench_instant(
        c,
        "head_subquery_20k_series",
        &db,
        "max_over_time(sum(rate(http_requests_total[1m]))[2m:10s])",
    );
}

criterion_group!(benches, promql, promql_head);
criterion_main!(benches);
