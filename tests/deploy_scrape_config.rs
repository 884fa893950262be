//! The pod's default `prometheus.yml`, as both the kustomize manifests and
//! the Helm chart ship it, loads with the real config loader and, with its
//! Kubernetes discovery pointed at the fake API server holding a small
//! cluster, yields the targets a Prometheus user expects from each job:
//! the API server, every kubelet (metrics and cAdvisor), annotated
//! services' endpoints and annotated pods, with the annotations' port,
//! path and scheme applied, and nothing unannotated or pending.

#[path = "deploy_support.rs"]
mod deploy_support;

use std::collections::BTreeMap;
use std::time::Duration;

use deploy_support::*;
use k8s_openapi::api::core::v1::{
    Container, ContainerPort, DaemonEndpoint, EndpointAddress, EndpointPort, EndpointSubset,
    Endpoints, Node, NodeAddress, NodeDaemonEndpoints, NodeStatus, Pod, PodSpec, PodStatus,
    Service, ServicePort, ServiceSpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use promethium_discovery::kubernetes::testing::FakeApiServer;
use promethium_discovery::{Discoverer, SdConfig, TargetGroup};
use promethium_scrape::config::{Config, ScrapeConfig};
use promethium_scrape::target_labels::{populate_labels, public_labels, target_url};
use serde_json::json;
use tokio::sync::mpsc;

fn meta(ns: Option<&str>, name: &str, labels: &[(&str, &str)], ann: &[(&str, &str)]) -> ObjectMeta {
    let map = |kv: &[(&str, &str)]| {
        (!kv.is_empty()).then(|| kv.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect())
    };
    ObjectMeta {
        name: Some(name.into()),
        namespace: ns.map(Into::into),
        uid: Some(format!("uid-{name}")),
        labels: map(labels),
        annotations: map(ann),
        ..ObjectMeta::default()
    }
}

fn service(
    name: &str,
    ns: &str,
    labels: &[(&str, &str)],
    ann: &[(&str, &str)],
    port: (&str, i32),
) -> Service {
    Service {
        metadata: meta(Some(ns), name, labels, ann),
        spec: Some(ServiceSpec {
            type_: Some("ClusterIP".into()),
            cluster_ip: Some("10.96.0.10".into()),
            ports: Some(vec![ServicePort {
                name: Some(port.0.into()),
                port: port.1,
                protocol: Some("TCP".into()),
                ..ServicePort::default()
            }]),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    }
}

fn endpoints(name: &str, ns: &str, ip: &str, port: (&str, i32)) -> Endpoints {
    Endpoints {
        metadata: meta(Some(ns), name, &[], &[]),
        subsets: Some(vec![EndpointSubset {
            addresses: Some(vec![EndpointAddress { ip: ip.into(), ..EndpointAddress::default() }]),
            ports: Some(vec![EndpointPort {
                name: Some(port.0.into()),
                port: port.1,
                protocol: Some("TCP".into()),
                ..EndpointPort::default()
            }]),
            ..EndpointSubset::default()
        }]),
    }
}

fn pod(name: &str, ip: &str, phase: &str, ann: &[(&str, &str)]) -> Pod {
    Pod {
        metadata: meta(Some("apps"), name, &[("app", "shop")], ann),
        spec: Some(PodSpec {
            node_name: Some("minikube".into()),
            containers: vec![Container {
                name: "shop".into(),
                ports: Some(vec![ContainerPort {
                    name: Some("http".into()),
                    container_port: 8080,
                    protocol: Some("TCP".into()),
                    ..ContainerPort::default()
                }]),
                ..Container::default()
            }],
            ..PodSpec::default()
        }),
        status: Some(PodStatus {
            phase: Some(phase.into()),
            pod_ip: Some(ip.into()),
            host_ip: Some("192.168.49.2".into()),
            ..PodStatus::default()
        }),
    }
}

/// A one-node cluster like minikube's, with one annotated service, one
/// annotated pod and things the default jobs must leave alone.
fn populate(api: &FakeApiServer) {
    api.apply(&Node {
        metadata: meta(None, "minikube", &[("kubernetes.io/hostname", "minikube")], &[]),
        status: Some(NodeStatus {
            addresses: Some(vec![
                NodeAddress { type_: "InternalIP".into(), address: "192.168.49.2".into() },
                NodeAddress { type_: "Hostname".into(), address: "minikube".into() },
            ]),
            daemon_endpoints: Some(NodeDaemonEndpoints {
                kubelet_endpoint: Some(DaemonEndpoint { port: 10250 }),
            }),
            ..NodeStatus::default()
        }),
        ..Node::default()
    });
    api.apply(&service("kubernetes", "default", &[], &[], ("https", 443)));
    api.apply(&endpoints("kubernetes", "default", "192.168.49.2", ("https", 8443)));
    let scrape = [
        ("prometheus.io/scrape", "true"),
        ("prometheus.io/port", "9102"),
        ("prometheus.io/path", "/stats"),
    ];
    api.apply(&service("shop", "apps", &[("tier", "web")], &scrape, ("metrics", 9100)));
    api.apply(&endpoints("shop", "apps", "10.244.0.7", ("metrics", 9100)));
    // A service without the annotation: not a target of any job.
    api.apply(&service("db", "apps", &[], &[], ("pg", 5432)));
    api.apply(&endpoints("db", "apps", "10.244.0.9", ("pg", 5432)));
    let pod_scrape = [
        ("prometheus.io/scrape", "true"),
        ("prometheus.io/port", "9000"),
        ("prometheus.io/scheme", "https"),
    ];
    api.apply(&pod("shop-1", "10.244.0.7", "Running", &pod_scrape));
    api.apply(&pod("shop-2", "10.244.0.8", "Pending", &pod_scrape));
    api.apply(&pod("db-1", "10.244.0.9", "Running", &[]));
}

/// Runs one job's discovery against `api` until it has been quiet for a
/// moment, returning the latest group per source.
async fn discover(job: &ScrapeConfig, api: &FakeApiServer) -> Vec<TargetGroup> {
    let mut groups = BTreeMap::new();
    for sd in &job.kubernetes_sd_configs {
        let mut sd = sd.clone();
        sd.api_server = api.url();
        let (tx, mut rx) = mpsc::channel(64);
        let d: Box<dyn Discoverer> = sd.discoverer().expect("discoverer");
        let task = tokio::spawn(d.run(tx));
        let mut wait = Duration::from_secs(10);
        loop {
            match tokio::time::timeout(wait, rx.recv()).await {
                Ok(Some(update)) => {
                    wait = Duration::from_millis(300);
                    for g in update {
                        groups.insert(g.source.clone(), g);
                    }
                }
                Ok(None) => panic!("discoverer for {} stopped", job.job_name),
                Err(_) if wait > Duration::from_secs(1) => {
                    panic!("no update within 10 s for {}", job.job_name)
                }
                Err(_) => break,
            }
        }
        task.abort();
    }
    for sc in &job.static_configs {
        for (i, t) in sc.targets.iter().enumerate() {
            let mut labels = sc.labels.clone();
            labels.insert("__address__".into(), t.clone());
            groups.insert(
                format!("static/{i}"),
                TargetGroup {
                    source: format!("static/{i}"),
                    targets: vec![labels],
                    labels: Default::default(),
                },
            );
        }
    }
    groups.into_values().collect()
}

/// `url {public labels}` for each target the job keeps, sorted.
async fn targets(cfg: &Config, api: &FakeApiServer) -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::new();
    for job in &cfg.scrape_configs {
        let mut found = Vec::new();
        for group in discover(job, api).await {
            for t in &group.targets {
                let populated = populate_labels(t, &group.labels, job)
                    .unwrap_or_else(|e| panic!("{}: unusable target {t:?}: {e}", job.job_name));
                if let Some((labels, _)) = populated {
                    found.push(format!(
                        "{} {}",
                        target_url(&labels, &job.params),
                        public_labels(&labels)
                    ));
                }
            }
        }
        found.sort();
        out.insert(job.job_name.clone(), found);
    }
    out
}

/// Node targets carry `instance` = the node's name, as in Prometheus' node
/// role; everything else defaults to the address.
fn expected() -> BTreeMap<String, Vec<String>> {
    let t =
        |job: &str, list: &[&str]| (job.to_owned(), list.iter().map(|s| (*s).to_owned()).collect());
    BTreeMap::from([
        t(
            "promethium",
            &[r#"http://localhost:9090/metrics {instance="localhost:9090", job="promethium"}"#],
        ),
        t(
            "kubernetes-apiservers",
            &[
                r#"https://192.168.49.2:8443/metrics {instance="192.168.49.2:8443", job="kubernetes-apiservers"}"#,
            ],
        ),
        t(
            "kubernetes-nodes",
            &[
                r#"https://192.168.49.2:10250/metrics {instance="minikube", job="kubernetes-nodes", kubernetes_io_hostname="minikube"}"#,
            ],
        ),
        t(
            "kubernetes-nodes-cadvisor",
            &[
                r#"https://192.168.49.2:10250/metrics/cadvisor {instance="minikube", job="kubernetes-nodes-cadvisor", kubernetes_io_hostname="minikube"}"#,
            ],
        ),
        t(
            "kubernetes-service-endpoints",
            &[
                r#"http://10.244.0.7:9102/stats {instance="10.244.0.7:9102", job="kubernetes-service-endpoints", namespace="apps", service="shop", tier="web"}"#,
            ],
        ),
        t(
            "kubernetes-pods",
            &[
                r#"https://10.244.0.7:9000/metrics {app="shop", instance="10.244.0.7:9000", job="kubernetes-pods", namespace="apps", node="minikube", pod="shop-1"}"#,
            ],
        ),
    ])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_config_yields_the_expected_targets_from_both_manifests() {
    let api = FakeApiServer::start().await;
    populate(&api);
    let sources = [
        ("kustomize ConfigMap", configmap_prometheus_yml(&kustomize())),
        ("Helm ConfigMap", configmap_prometheus_yml(&helm_objects(&json!({})))),
    ];
    for (name, text) in sources {
        let cfg = Config::load_str(&text).unwrap_or_else(|e| panic!("{name} does not load: {e}"));
        let jobs: Vec<_> = cfg.scrape_configs.iter().map(|j| j.job_name.as_str()).collect();
        assert_eq!(
            jobs,
            [
                "promethium",
                "kubernetes-apiservers",
                "kubernetes-nodes",
                "kubernetes-nodes-cadvisor",
                "kubernetes-service-endpoints",
                "kubernetes-pods"
            ],
            "{name}"
        );
        let kube_jobs = cfg.scrape_configs.iter().filter(|j| !j.kubernetes_sd_configs.is_empty());
        for job in kube_jobs {
            assert!(job.kubernetes_sd_configs[0].api_server.is_empty(), "in-cluster config");
        }
        assert_eq!(targets(&cfg, &api).await, expected(), "{name}");
    }
}
