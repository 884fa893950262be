//! PromQL parser throughput: parsing (with type checking) and printing of
//! typical dashboard queries, in queries/s and MB/s of query text.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use promethium_promql::parser::{format, parse};

/// Queries of the kind dashboards and alerting rules send.
const QUERIES: &[&str] = &[
    "up",
    r#"sum by (job) (rate(http_requests_total{job="api-server", code=~"5.."}[5m]))"#,
    r#"histogram_quantile(0.99, sum by (le, handler) (rate(http_request_duration_seconds_bucket{job="api"}[5m])))"#,
    r#"100 * (1 - avg by (instance) (rate(node_cpu_seconds_total{mode="idle"}[5m])))"#,
    r#"node_filesystem_avail_bytes{fstype!~"tmpfs|overlay"} / node_filesystem_size_bytes < 0.1 and on (instance, device) node_filesystem_readonly == 0"#,
    r#"sum(rate(container_cpu_usage_seconds_total{namespace="prod", container!=""}[1m])) by (pod) / on (pod) group_left(node) kube_pod_info"#,
    r#"max_over_time(deriv(rate(process_resident_memory_bytes[5m])[30m:1m])[1h:] offset 1d)"#,
    r#"topk(10, sum without (instance) (increase(requests_total[1h] @ end())))"#,
    r#"label_replace(rate(errors_total[5m]), "svc", "$1", "service", "(.*)-v[0-9]+") > bool 0.5"#,
    r#"predict_linear(node_filesystem_free_bytes{job="node"}[6h], 4 * 3600) < 0"#,
];

fn bench_parser(c: &mut Criterion) {
    let bytes: usize = QUERIES.iter().map(|q| q.len()).sum();
    let parsed: Vec<_> =
        QUERIES.iter().map(|q| parse(q).expect("benchmark queries are valid")).collect();

    let mut group = c.benchmark_group("promql_parse");
    group.throughput(Throughput::Elements(QUERIES.len() as u64));
    group.bench_function("parse 10 queries", |b| {
        b.iter(|| {
            for q in QUERIES {
                black_box(parse(black_box(q)).expect("valid"));
            }
        })
    });
    group.bench_function("format 10 queries", |b| {
        b.iter(|| {
            for e in &parsed {
                black_box(format(black_box(e)));
            }
        })
    });
    // Regex matchers compile a regex each (engine `GoRegex`); the rest is
    // the parser's own cost.
    let plain: Vec<&str> =
        QUERIES.iter().copied().filter(|q| !q.contains("=~") && !q.contains("!~")).collect();
    group.throughput(Throughput::Elements(plain.len() as u64));
    group.bench_function("parse queries without regex matchers", |b| {
        b.iter(|| {
            for q in &plain {
                black_box(parse(black_box(q)).expect("valid"));
            }
        })
    });
    group.throughput(Throughput::Bytes(bytes as u64));
    group.bench_function("parse bytes", |b| {
        b.iter(|| {
            for q in QUERIES {
                black_box(parse(black_box(q)).expect("valid"));
            }
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = bench_parser
}
criterion_main!(benches);
