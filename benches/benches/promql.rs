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

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use promethium_engine::model::Labels;
use promethium_engine::{Appendable, MemStorage};
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

criterion_group!(benches, promql);
criterion_main!(benches);
