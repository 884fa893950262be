//! Relabeling cost on the two paths that run it.
//!
//! * `populate/kubernetes-pods`: turning 1,000 discovered pod targets into
//!   scrape targets with the Helm chart's `kubernetes-pods` rules (13 rules:
//!   keep/drop on annotations, address rewriting for IPv4/IPv6, labelmaps).
//!   A large cluster re-syncs every target of a job on each discovery
//!   update, so this bounds how cheaply a pool can follow a cluster.
//! * `metric/drop-and-labeldrop`: `metric_relabel_configs` applied to one
//!   sample's labels (a name-regex drop that does not match, a labeldrop),
//!   which the scrape loop runs for each new series (cached afterwards).
//!
//! Inputs are deterministic: pod `i` has IP `10.(i/256).(i%256).1` and
//! every tenth pod is not annotated for scraping.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use promethium_engine::model::Labels;
use promethium_scrape::config::Config;
use promethium_scrape::relabel::process;
use promethium_scrape::target_labels::populate_labels;

fn pods(n: usize) -> Vec<BTreeMap<String, String>> {
    (0..n)
        .map(|i| {
            let ip = format!("10.{}.{}.1", i / 256, i % 256);
            let scrape = if i % 10 == 0 { "false" } else { "true" };
            [
                ("__address__", format!("{ip}:8080")),
                ("__meta_kubernetes_namespace", format!("ns-{}", i % 20)),
                ("__meta_kubernetes_pod_name", format!("app-{i}")),
                ("__meta_kubernetes_pod_ip", ip),
                ("__meta_kubernetes_pod_phase", "Running".to_owned()),
                ("__meta_kubernetes_pod_ready", "true".to_owned()),
                ("__meta_kubernetes_pod_node_name", format!("node-{}", i % 50)),
                ("__meta_kubernetes_pod_label_app", format!("app-{}", i % 40)),
                ("__meta_kubernetes_pod_label_pod_template_hash", "7d9f8c6b5".to_owned()),
                ("__meta_kubernetes_pod_annotation_prometheus_io_scrape", scrape.to_owned()),
                ("__meta_kubernetes_pod_annotation_prometheus_io_port", "9102".to_owned()),
                ("__meta_kubernetes_pod_container_name", "app".to_owned()),
                ("__meta_kubernetes_pod_container_port_number", "8080".to_owned()),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect()
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../scrape/testdata/helm-chart-prometheus.yml");
    let config = Config::load_file(path).expect("the Helm chart config loads");
    let job = config.scrape_config("kubernetes-pods").expect("the chart has a kubernetes-pods job");
    let targets = pods(1_000);
    let no_group = BTreeMap::new();

    let mut g = c.benchmark_group("relabel");
    g.throughput(Throughput::Elements(targets.len() as u64));
    g.bench_function("populate/kubernetes-pods", |b| {
        b.iter(|| {
            let mut kept = 0;
            for t in &targets {
                if let Ok(Some(labels)) = populate_labels(t, &no_group, job) {
                    kept += black_box(labels).0.len();
                }
            }
            kept
        })
    });

    let metric_rules = Config::load_str(
        "scrape_configs:\n  - job_name: j\n    metric_relabel_configs:\n\
         \x20     - {source_labels: [__name__], regex: 'go_gc_.*|process_.*', action: drop}\n\
         \x20     - {regex: 'pod_template_hash|id', action: labeldrop}\n",
    )
    .expect("valid rules")
    .scrape_configs
    .remove(0)
    .metric_relabel_configs;
    let sample = Labels::new([
        ("__name__", "http_requests_total"),
        ("code", "200"),
        ("handler", "/api/v1/query"),
        ("instance", "10.0.0.1:9102"),
        ("job", "kubernetes-pods"),
        ("method", "get"),
        ("pod_template_hash", "7d9f8c6b5"),
    ]);
    g.throughput(Throughput::Elements(1));
    g.bench_function("metric/drop-and-labeldrop", |b| {
        b.iter(|| process(black_box(&sample), &metric_rules))
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = bench
}
criterion_main!(benches);
