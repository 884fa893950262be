//! The example configuration in `docs/examples/prometheus-kubernetes.yml`
//! loaded with the real config loader, pointed at the fake API server, and
//! driven through discovery and target label population (relabeling) to
//! the targets the four classic jobs scrape.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use k8s_openapi::api::core::v1::Node;
use k8s_openapi::api::core::v1::{
    Container, ContainerPort, EndpointAddress, EndpointPort, EndpointSubset, Endpoints,
    NodeAddress, NodeStatus, ObjectReference, Pod, PodSpec, PodStatus, Service, ServicePort,
    ServiceSpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use promethium_discovery::{SdConfig, TargetGroup};
use promethium_scrape::config::Config;
use promethium_scrape::target_labels::populate_labels;
use support::FakeApiServer;
use tokio::sync::mpsc;

const EXAMPLE: &str = include_str!("../../docs/examples/prometheus-kubernetes.yml");

fn meta(ns: Option<&str>, name: &str, labels: &[(&str, &str)], ann: &[(&str, &str)]) -> ObjectMeta {
    let map = |kv: &[(&str, &str)]| {
        Some(kv.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect())
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

fn node(name: &str, ip: &str) -> Node {
    Node {
        metadata: meta(None, name, &[("zone", "a")], &[]),
        status: Some(NodeStatus {
            addresses: Some(vec![NodeAddress { type_: "InternalIP".into(), address: ip.into() }]),
            ..NodeStatus::default()
        }),
        ..Node::default()
    }
}

fn pod(name: &str, ip: &str, port: i32, ann: &[(&str, &str)], phase: &str) -> Pod {
    Pod {
        metadata: meta(Some("apps"), name, &[("app", name)], ann),
        spec: Some(PodSpec {
            node_name: Some("node-a".into()),
            containers: vec![Container {
                name: "main".into(),
                ports: Some(vec![ContainerPort {
                    container_port: port,
                    protocol: Some("TCP".into()),
                    ..ContainerPort::default()
                }]),
                ..Container::default()
            }],
            ..PodSpec::default()
        }),
        status: Some(PodStatus {
            pod_ip: Some(ip.into()),
            phase: Some(phase.into()),
            ..PodStatus::default()
        }),
    }
}

fn service(ns: &str, name: &str, port_name: &str, port: i32, ann: &[(&str, &str)]) -> Service {
    Service {
        metadata: meta(Some(ns), name, &[("tier", "backend")], ann),
        spec: Some(ServiceSpec {
            cluster_ip: Some("10.96.0.10".into()),
            ports: Some(vec![ServicePort {
                name: Some(port_name.into()),
                port,
                protocol: Some("TCP".into()),
                ..ServicePort::default()
            }]),
            ..ServiceSpec::default()
        }),
        status: None,
    }
}

fn endpoints(
    ns: &str,
    name: &str,
    ip: &str,
    pod: Option<&str>,
    port_name: &str,
    port: i32,
) -> Endpoints {
    Endpoints {
        metadata: meta(Some(ns), name, &[], &[]),
        subsets: Some(vec![EndpointSubset {
            addresses: Some(vec![EndpointAddress {
                ip: ip.into(),
                node_name: pod.map(|_| "node-a".into()),
                target_ref: pod.map(|p| ObjectReference {
                    kind: Some("Pod".into()),
                    name: Some(p.into()),
                    namespace: Some(ns.into()),
                    ..ObjectReference::default()
                }),
                ..EndpointAddress::default()
            }]),
            ports: Some(vec![EndpointPort {
                name: Some(port_name.into()),
                port,
                protocol: Some("TCP".into()),
                ..EndpointPort::default()
            }]),
            ..EndpointSubset::default()
        }]),
    }
}

/// The latest groups per source from one discoverer.
async fn discover(cfg: &promethium_discovery::config::KubernetesSdConfig) -> Vec<TargetGroup> {
    let (tx, mut rx) = mpsc::channel(64);
    let task = tokio::spawn(cfg.discoverer().expect("discoverer").run(tx));
    let mut groups: BTreeMap<String, TargetGroup> = BTreeMap::new();
    let mut seen_targets = false;
    loop {
        let wait = if seen_targets { Duration::from_millis(400) } else { Duration::from_secs(10) };
        match tokio::time::timeout(wait, rx.recv()).await {
            Ok(Some(update)) => {
                for g in update {
                    seen_targets |= !g.targets.is_empty();
                    groups.insert(g.source.clone(), g);
                }
            }
            Ok(None) => panic!("discoverer stopped"),
            Err(_) if seen_targets => break,
            Err(_) => panic!("no targets discovered within 10 s"),
        }
    }
    task.abort();
    groups.into_values().collect()
}

/// One kept target: (address, metrics path, the public labels worth checking).
type Kept = (String, String, BTreeMap<String, String>);

#[tokio::test]
async fn example_config_yields_the_classic_targets() {
    let server = FakeApiServer::start().await;
    server.apply(&node("node-a", "192.168.1.10"));
    let annotated = [
        ("prometheus.io/scrape", "true"),
        ("prometheus.io/port", "9102"),
        ("prometheus.io/path", "/custom"),
    ];
    server.apply(&pod("web", "10.1.0.1", 8080, &annotated, "Running"));
    server.apply(&pod("db", "10.1.0.2", 5432, &[], "Running"));
    server.apply(&pod("done", "10.1.0.3", 8080, &annotated, "Succeeded"));
    server.apply(&service("default", "kubernetes", "https", 443, &[]));
    server.apply(&endpoints("default", "kubernetes", "192.168.1.2", None, "https", 6443));
    server.apply(&service(
        "apps",
        "web",
        "http",
        80,
        &[("prometheus.io/scrape", "true"), ("prometheus.io/port", "9102")],
    ));
    server.apply(&endpoints("apps", "web", "10.1.0.1", Some("web"), "http", 8080));
    server.apply(&service("apps", "db", "sql", 5432, &[]));
    server.apply(&endpoints("apps", "db", "10.1.0.2", Some("db"), "sql", 5432));

    let mut config = Config::load_str(EXAMPLE).expect("the example configuration loads");
    let mut by_job: BTreeMap<String, BTreeSet<(String, String, String)>> = BTreeMap::new();
    let mut kept_labels: BTreeMap<String, Vec<Kept>> = BTreeMap::new();
    for sc in &mut config.scrape_configs {
        assert_eq!(sc.kubernetes_sd_configs.len(), 1, "{}", sc.job_name);
        let sd = &mut sc.kubernetes_sd_configs[0];
        assert!(sd.api_server.is_empty(), "the example uses the in-cluster config");
        sd.api_server = server.url();
        sd.validate().expect("rewritten sd config validates");
        let groups = discover(sd).await;
        for g in &groups {
            for t in &g.targets {
                let Some((labels, _discovered)) =
                    populate_labels(t, &g.labels, sc).expect("valid target")
                else {
                    continue;
                };
                let get = |n: &str| labels.get(n).unwrap_or_default().to_owned();
                by_job.entry(sc.job_name.clone()).or_default().insert((
                    get("__address__"),
                    get("__metrics_path__"),
                    get("__scheme__"),
                ));
                let public: BTreeMap<String, String> =
                    ["namespace", "pod", "service", "node", "app", "tier", "zone"]
                        .iter()
                        .filter_map(|n| labels.get(n).map(|v| ((*n).to_owned(), v.to_owned())))
                        .collect();
                kept_labels.entry(sc.job_name.clone()).or_default().push((
                    get("__address__"),
                    get("__metrics_path__"),
                    public,
                ));
            }
        }
    }

    let set = |items: &[(&str, &str, &str)]| -> BTreeSet<(String, String, String)> {
        items.iter().map(|(a, p, s)| ((*a).into(), (*p).into(), (*s).into())).collect()
    };
    assert_eq!(
        by_job.get("kubernetes-apiservers"),
        Some(&set(&[("192.168.1.2:6443", "/metrics", "https")]))
    );
    assert_eq!(
        by_job.get("kubernetes-nodes"),
        Some(&set(&[(
            "kubernetes.default.svc:443",
            "/api/v1/nodes/node-a/proxy/metrics",
            "https"
        )]))
    );
    // Only the annotated, running pod; the port and path come from annotations.
    assert_eq!(by_job.get("kubernetes-pods"), Some(&set(&[("10.1.0.1:9102", "/custom", "http")])));
    // Only the annotated service's endpoint, on the annotated port.
    assert_eq!(
        by_job.get("kubernetes-service-endpoints"),
        Some(&set(&[("10.1.0.1:9102", "/metrics", "http")]))
    );

    let labels = |job: &str| kept_labels[job][0].2.clone();
    let expect = |kv: &[(&str, &str)]| -> BTreeMap<String, String> {
        kv.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    };
    assert_eq!(
        labels("kubernetes-pods"),
        expect(&[("namespace", "apps"), ("pod", "web"), ("node", "node-a"), ("app", "web")])
    );
    assert_eq!(
        labels("kubernetes-service-endpoints"),
        expect(&[
            ("namespace", "apps"),
            ("service", "web"),
            ("pod", "web"),
            ("node", "node-a"),
            ("tier", "backend")
        ])
    );
    assert_eq!(labels("kubernetes-nodes"), expect(&[("zone", "a")]));
}
