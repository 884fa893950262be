//! Remote-write receiver throughput: a snappy-compressed `WriteRequest` of
//! 1,000 series x 10 samples decoded and appended into the `Db` (WAL on,
//! default sync policy) as one batch, i.e. the server's `POST
//! /api/v1/write` path without HTTP. Also decoding alone. Throughput is in
//! samples; inputs are deterministic.

use std::time::Instant;

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use promethium_engine::db::{Db, DbOptions};
use promethium_server::remote::proto::{Label, Sample, TimeSeries, WriteRequest};
use promethium_server::remote::write::{decode, encode, write};

const SERIES: usize = 1_000;
const SAMPLES_PER_SERIES: i64 = 10;

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

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("remote_write");
    group.throughput(Throughput::Elements(SERIES as u64 * SAMPLES_PER_SERIES as u64));

    let body = Bytes::from(encode(&request(0)));
    group.bench_function("decode_1000x10", |b| b.iter(|| decode(&body).expect("decodes")));

    let dir = tempfile::tempdir().expect("tempdir");
    let db = Db::open(dir.path(), DbOptions::default()).expect("open db");
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
                write(&db, body).expect("write");
            }
            start.elapsed()
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
