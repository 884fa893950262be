//! Real-world configuration files from `testdata/` load unchanged, and
//! their relabeling turns realistic discovered targets into the scrape
//! targets Prometheus would produce.

use std::path::PathBuf;
use std::time::Duration;

use promethium_discovery::LabelSet;
use promethium_scrape::config::{Config, Scheme};
use promethium_scrape::target_labels::{populate_labels, public_labels, target_url};

fn testdata(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata").join(name)
}

fn load(name: &str) -> Config {
    Config::load_file(testdata(name)).unwrap_or_else(|e| panic!("{name} must load: {e}"))
}

fn set(pairs: &[(&str, &str)]) -> LabelSet {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn public(c: &Config, job: &str, target: &LabelSet) -> Option<(Vec<(String, String)>, String)> {
    let cfg = c.scrape_config(job).expect("job exists");
    let (labels, _) = populate_labels(target, &LabelSet::new(), cfg).expect("valid target")?;
    let pairs =
        public_labels(&labels).iter().map(|l| (l.name.to_owned(), l.value.to_owned())).collect();
    Some((pairs, target_url(&labels, &cfg.params)))
}

fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
    p.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
}

#[test]
fn helm_chart_default_config_loads() {
    let c = load("helm-chart-prometheus.yml");
    let jobs: Vec<&str> = c.scrape_configs.iter().map(|j| j.job_name.as_str()).collect();
    assert_eq!(
        jobs,
        [
            "prometheus",
            "kubernetes-apiservers",
            "kubernetes-nodes",
            "kubernetes-nodes-cadvisor",
            "kubernetes-service-endpoints",
            "kubernetes-service-endpoints-slow",
            "prometheus-pushgateway",
            "kubernetes-services",
            "kubernetes-pods",
            "kubernetes-pods-slow",
        ]
    );
    assert_eq!(c.rule_files.len(), 4);
    let nodes = c.scrape_config("kubernetes-nodes").expect("nodes");
    assert_eq!(nodes.scheme, Scheme::Https);
    assert!(nodes.tls_config.insecure_skip_verify);
    let auth = nodes.authorization.as_ref().expect("bearer_token_file becomes authorization");
    assert_eq!(auth.credentials_file, "/var/run/secrets/kubernetes.io/serviceaccount/token");
    let slow = c.scrape_config("kubernetes-pods-slow").expect("slow pods");
    assert_eq!(
        (slow.scrape_interval, slow.scrape_timeout),
        (Duration::from_secs(300), Duration::from_secs(30))
    );
    let am = &c.alerting.as_ref().expect("alerting").alertmanagers[0];
    assert_eq!(am.relabel_configs.len(), 4);
    assert_eq!(am.kubernetes_sd_configs.len(), 1);
    // Everything in the chart's config is implemented or is Kubernetes
    // discovery (implemented in its own module).
    for w in c.warnings() {
        assert!(w.contains("kubernetes_sd_configs"), "unexpected warning: {w}");
    }
}

#[test]
fn helm_chart_pod_relabeling_matches_prometheus() {
    let c = load("helm-chart-prometheus.yml");
    let pod = |ip: &str, phase: &str, scrape: &str| {
        set(&[
            ("__address__", &format!("{ip}:8080")),
            ("__meta_kubernetes_namespace", "shop"),
            ("__meta_kubernetes_pod_name", "web-7d9f"),
            ("__meta_kubernetes_pod_ip", ip),
            ("__meta_kubernetes_pod_phase", phase),
            ("__meta_kubernetes_pod_label_app", "web"),
            ("__meta_kubernetes_pod_annotation_prometheus_io_scrape", scrape),
            ("__meta_kubernetes_pod_annotation_prometheus_io_port", "9102"),
            ("__meta_kubernetes_pod_annotation_prometheus_io_path", "/custom/metrics"),
            ("__meta_kubernetes_pod_annotation_prometheus_io_param_format", "prometheus"),
        ])
    };
    let (labels, url) =
        public(&c, "kubernetes-pods", &pod("10.1.2.3", "Running", "true")).expect("kept");
    assert_eq!(
        labels,
        pairs(&[
            ("app", "web"),
            ("instance", "10.1.2.3:9102"),
            ("job", "kubernetes-pods"),
            ("namespace", "shop"),
            ("pod", "web-7d9f"),
        ])
    );
    assert_eq!(url, "http://10.1.2.3:9102/custom/metrics?format=prometheus");

    let (labels, url) =
        public(&c, "kubernetes-pods", &pod("fd00:1::5", "Running", "true")).expect("kept");
    assert!(labels.contains(&("instance".into(), "[fd00:1::5]:9102".into())), "{labels:?}");
    assert_eq!(url, "http://[fd00:1::5]:9102/custom/metrics?format=prometheus");

    assert!(
        public(&c, "kubernetes-pods", &pod("10.1.2.3", "Pending", "true")).is_none(),
        "pending pods are dropped"
    );
    assert!(
        public(&c, "kubernetes-pods", &pod("10.1.2.3", "Running", "false")).is_none(),
        "not annotated"
    );
}

#[test]
fn helm_chart_blackbox_and_node_jobs_build_the_right_urls() {
    let c = load("helm-chart-prometheus.yml");
    let svc = set(&[
        ("__address__", "web.shop.svc:80"),
        ("__meta_kubernetes_namespace", "shop"),
        ("__meta_kubernetes_service_name", "web"),
        ("__meta_kubernetes_service_annotation_prometheus_io_probe", "true"),
        ("__meta_kubernetes_service_label_tier", "front"),
    ]);
    let (labels, url) = public(&c, "kubernetes-services", &svc).expect("kept");
    assert_eq!(
        labels,
        pairs(&[
            ("instance", "web.shop.svc:80"),
            ("job", "kubernetes-services"),
            ("namespace", "shop"),
            ("service", "web"),
            ("tier", "front"),
        ])
    );
    assert_eq!(url, "http://blackbox/probe?module=http_2xx&target=web.shop.svc%3A80");

    let node = set(&[
        ("__address__", "10.0.0.7:10250"),
        ("__meta_kubernetes_node_name", "node-a"),
        ("__meta_kubernetes_node_label_kubernetes_io_arch", "amd64"),
    ]);
    let (labels, url) = public(&c, "kubernetes-nodes-cadvisor", &node).expect("kept");
    assert_eq!(
        url,
        "https://kubernetes.default.svc:443/api/v1/nodes/node-a/proxy/metrics/cadvisor"
    );
    assert!(labels.contains(&("kubernetes_io_arch".into(), "amd64".into())), "{labels:?}");
    assert!(
        labels.contains(&("instance".into(), "kubernetes.default.svc:443".into())),
        "{labels:?}"
    );

    let api = set(&[
        ("__address__", "172.18.0.2:6443"),
        ("__meta_kubernetes_namespace", "default"),
        ("__meta_kubernetes_service_name", "kubernetes"),
        ("__meta_kubernetes_endpoint_port_name", "https"),
    ]);
    let (_, url) = public(&c, "kubernetes-apiservers", &api).expect("kept");
    assert_eq!(url, "https://172.18.0.2:6443/metrics");
    let other = set(&[("__address__", "x:1"), ("__meta_kubernetes_namespace", "kube-system")]);
    assert!(public(&c, "kubernetes-apiservers", &other).is_none());
}

#[test]
fn prometheus_example_config_loads() {
    let c = load("prometheus-example.yml");
    assert_eq!(c.global.scrape_interval, Duration::from_secs(15));
    assert_eq!(c.global.scrape_timeout, Duration::from_secs(10));
    assert!(c.rule_files.is_empty());
    let job = c.scrape_config("prometheus").expect("job");
    assert_eq!(job.static_configs[0].targets, ["localhost:9090"]);
    assert_eq!(job.static_configs[0].labels["app"], "prometheus");
    let am = &c.alerting.as_ref().expect("alerting").alertmanagers[0];
    assert!(am.static_configs[0].targets.is_empty(), "commented-out targets leave an empty list");
    assert!(c.warnings().is_empty(), "{:?}", c.warnings());
}

#[test]
fn kitchen_sink_config_loads_with_warnings() {
    let c = load("kitchen-sink.yml");
    assert_eq!(c.scrape_configs.len(), 5);
    assert_eq!(c.global.external_labels["replica"], "1");
    assert_eq!(c.retention_time(), Some(Duration::from_secs(30 * 86400)));
    assert_eq!(c.retention_size().map(|s| s.bytes()), Some(100 << 30));
    assert_eq!(c.out_of_order_time_window(), Duration::from_secs(600));
    let node = c.scrape_config("node").expect("node");
    let dir = testdata("");
    assert_eq!(node.file_sd_configs[0].files[0], dir.join("targets/node-*.json").to_string_lossy());
    assert_eq!(node.sample_limit, 100_000, "inherited from global");
    let secured = c.scrape_config("secured").expect("secured");
    assert_eq!(secured.body_size_limit.bytes(), 10 << 20);
    assert_eq!(secured.static_configs[0].labels["tier"], "1");
    let warnings = c.warnings().join("\n");
    for expected in [
        "consul_sd_configs",
        "remote_write",
        "remote_read",
        "tracing",
        "otlp",
        "runtime",
        "exemplars",
    ] {
        assert!(warnings.contains(expected), "no warning about {expected}:\n{warnings}");
    }
    // The blackbox job's URL targets survive because relabeling rewrites them.
    let bb = c.scrape_config("blackbox").expect("blackbox");
    let target = set(&[("__address__", "https://example.com")]);
    let (labels, _) = populate_labels(&target, &LabelSet::new(), bb).expect("valid").expect("kept");
    assert_eq!(
        target_url(&labels, &bb.params),
        "http://blackbox-exporter:9115/probe?module=http_2xx&target=https%3A%2F%2Fexample.com"
    );
}
