//! Remote-write receiver throughput: snappy-compressed `WriteRequest`s
//! decoded and appended into the `Db` (WAL on, default sync policy) as one
//! batch each, i.e. the server's `POST /api/v1/write` path without HTTP.
//! Two shapes: 1,000 series x 10 samples, and the side-by-side load's
//! shape (2,000 series x 1 sample a request, cycling through 100k series
//! `rw_metric_N` with instance, job, region and shard labels, so every
//! series is known after the first pass). Also decoding alone. The load
//! shape also runs the previous path (prost's owned model, `Labels` per
//! series, lookup by label set) in the same run, as the baseline. Throughput
//! is in samples; inputs are deterministic and encoded outside the timing.

use std::time::Instant;

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use promethium_engine::Appendable;
use promethium_engine::db::{Db, DbOptions};
use promethium_engine::model::Labels;
use promethium_server::remote::proto::{Label, Sample, TimeSeries, WriteRequest};
use promethium_server::remote::write::{Receiver, decode_owned, encode, scan};

const SERIES: usize = 1_000;
const SAMPLES_PER_SERIES: i64 = 10;
const LOAD_SERIES: usize = 100_000;
const LOAD_BATCH: usize = 2_000;

/// Request number `round`: every series gets the next 10 samples, 15 s
/// apart, with values that vary like real counters.
fn request(round: i64) -> WriteRequest {
    let timeseries = (0..SERIES)
        .map(|i| TimeSeries {
            labels: vec![
                Label { name: "__name__".into(), value: format!("bench_metric_{}", i % 50) },
                Label {
                    name: "instance".into(),
                    value: format!("10.0.{}.{}:9100", i / 250, i % 250),
                },
                Label { name: "job".into(), value: "node".into() },
                Label { name: "series".into(), value: i.to_string() },
            ],
            samples: (0..SAMPLES_PER_SERIES)
                .map(|k| {
                    let n = round * SAMPLES_PER_SERIES + k;
                    Sample {
                        value: (n * 17 + i as i64 * 3) as f64 * 1.25,
                        timestamp: 1_700_000_000_000 + n * 15_000,
                    }
                })
                .collect(),
            exemplars: vec![],
        })
        .collect();
    WriteRequest { timeseries, metadata: vec![] }
}

/// Series `first..first + LOAD_BATCH` of the load, one sample each at
/// `cycle` seconds; labels as `compare-loadgen remote-write` sends them.
fn load_request(first: usize, cycle: i64) -> WriteRequest {
    let timeseries = (first..first + LOAD_BATCH)
        .map(|s| TimeSeries {
            labels: vec![
                Label { name: "__name__".into(), value: format!("rw_metric_{}", s % 100) },
                Label { name: "instance".into(), value: format!("host-{}:9100", s / 1000) },
                Label { name: "job".into(), value: "remote".into() },
                Label { name: "region".into(), value: format!("region-{}", s % 7) },
                Label { name: "shard".into(), value: ((s / 100) % 10).to_string() },
            ],
            samples: vec![Sample {
                value: (cycle as u64 * (1 + s as u64 % 7)) as f64,
                timestamp: 1_700_000_000_000 + cycle * 1000,
            }],
            exemplars: vec![],
        })
        .collect();
    WriteRequest { timeseries, metadata: vec![] }
}

/// Where the load is: the next request starts at series `next` of pass
/// `cycle`, so successive requests carry newer samples for every series.
#[derive(Default)]
struct LoadCursor {
    cycle: i64,
    next: usize,
}

impl LoadCursor {
    /// The next `n` requests, encoded (senders do that work, not us).
    fn next_bodies(&mut self, n: u64) -> Vec<Bytes> {
        (0..n)
            .map(|_| {
                if self.next == 0 {
                    self.cycle += 1;
                }
                let body = Bytes::from(encode(&load_request(self.next, self.cycle)));
                self.next = (self.next + LOAD_BATCH) % LOAD_SERIES;
                body
            })
            .collect()
    }
}

/// One request the way the receiver handled it before: decoded into
/// owned strings, a `Labels` built per series, appended by labels.
fn append_by_labels(db: &Db, body: &[u8]) {
    let req = decode_owned(body).expect("decodes");
    let mut app = db.appender();
    for ts in &req.timeseries {
        let labels = Labels::try_from_pairs(ts.labels.iter().map(|l| (&l.name, &l.value)))
            .expect("valid labels");
        let mut r = None;
        for s in &ts.samples {
            r = Some(app.append(r, &labels, s.timestamp, s.value).expect("append"));
        }
    }
    app.commit().expect("commit");
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("remote_write");
    group.throughput(Throughput::Elements(SERIES as u64 * SAMPLES_PER_SERIES as u64));

    let body = Bytes::from(encode(&request(0)));
    group.bench_function("decode_1000x10", |b| b.iter(|| scan(&body).expect("decodes")));

    let dir = tempfile::tempdir().expect("tempdir");
    let db = Db::open(dir.path(), DbOptions::default()).expect("open db");
    let receiver = Receiver::new();
    let mut round = 0;
    group.bench_function("decode_append_commit_1000x10", |b| {
        b.iter_custom(|iters| {
            // Bodies are encoded up front: senders do that work, not us.
            let bodies: Vec<Bytes> = (0..iters)
                .map(|_| {
                    round += 1;
                    Bytes::from(encode(&request(round)))
                })
                .collect();
            let start = Instant::now();
            for body in &bodies {
                receiver.write(&db, body).expect("write");
            }
            start.elapsed()
        })
    });

    group.throughput(Throughput::Elements(LOAD_BATCH as u64));
    let load_body = Bytes::from(encode(&load_request(0, 1)));
    group.bench_function("decode_2000x1", |b| b.iter(|| scan(&load_body).expect("decodes")));
    group.bench_function("decode_prost_2000x1", |b| {
        b.iter(|| decode_owned(&load_body).expect("decodes"))
    });

    // One pass first, so the timed requests find every series known, as
    // they do after the load's first seconds.
    for k in 0..LOAD_SERIES / LOAD_BATCH {
        receiver.write(&db, &encode(&load_request(k * LOAD_BATCH, 0))).expect("warm up");
    }
    let mut load = LoadCursor::default();
    group.bench_function("load_100k_series_2000x1", |b| {
        b.iter_custom(|iters| {
            let bodies = load.next_bodies(iters);
            let start = Instant::now();
            for body in &bodies {
                receiver.write(&db, body).expect("write");
            }
            start.elapsed()
        })
    });
    // The path before the in-place decoder and the series cache, on the same
    // storage and series: prost's owned model, a `Labels` per series, and
    // the head finding each series by its label set.
    group.bench_function("load_100k_series_2000x1_prost_by_labels", |b| {
        b.iter_custom(|iters| {
            let bodies = load.next_bodies(iters);
            let start = Instant::now();
            for body in &bodies {
                append_by_labels(&db, body);
            }
            start.elapsed()
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
