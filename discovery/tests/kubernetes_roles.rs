//! Kubernetes discovery against a fake API server: for every role, adding,
//! changing and deleting objects yields exactly the target groups and meta
//! labels in `tests/golden/<role>.json` (rewrite with `UPDATE_GOLDEN=1`,
//! then review the diff against Prometheus' documented labels).

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{
    Container, ContainerPort, ContainerStatus, EndpointAddress, EndpointPort, EndpointSubset,
    Endpoints, Namespace, Node, NodeAddress, NodeCondition, NodeDaemonEndpoints, NodeSpec,
    NodeStatus, ObjectReference, Pod, PodCondition, PodSpec, PodStatus, Service, ServicePort,
    ServiceSpec,
};
use k8s_openapi::api::discovery::v1::{
    Endpoint, EndpointConditions, EndpointPort as SlicePort, EndpointSlice,
};
use k8s_openapi::api::networking::v1::{
    HTTPIngressPath, HTTPIngressRuleValue, Ingress, IngressBackend, IngressRule, IngressSpec,
    IngressTLS,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use promethium_discovery::config::{KubernetesRole, KubernetesSdConfig};
use promethium_discovery::{Discoverer, SdConfig, TargetGroup};
use serde_json::json;
use support::FakeApiServer;
use tokio::sync::mpsc;

fn meta(
    ns: Option<&str>,
    name: &str,
    labels: &[(&str, &str)],
    annotations: &[(&str, &str)],
) -> ObjectMeta {
    let map = |kv: &[(&str, &str)]| {
        (!kv.is_empty())
            .then(|| kv.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect())
    };
    ObjectMeta {
        name: Some(name.into()),
        namespace: ns.map(Into::into),
        uid: Some(format!("uid-{name}")),
        labels: map(labels),
        annotations: map(annotations),
        ..ObjectMeta::default()
    }
}

fn node(name: &str, ip: &str) -> Node {
    Node {
        metadata: meta(None, name, &[("kubernetes.io/hostname", name)], &[("node.alpha/ttl", "0")]),
        spec: Some(NodeSpec { provider_id: Some(format!("aws:///{name}")), ..NodeSpec::default() }),
        status: Some(NodeStatus {
            addresses: Some(vec![
                NodeAddress { type_: "Hostname".into(), address: name.into() },
                NodeAddress { type_: "InternalIP".into(), address: ip.into() },
            ]),
            conditions: Some(vec![NodeCondition {
                type_: "Ready".into(),
                status: "True".into(),
                ..NodeCondition::default()
            }]),
            daemon_endpoints: Some(NodeDaemonEndpoints {
                kubelet_endpoint: Some(k8s_openapi::api::core::v1::DaemonEndpoint { port: 10250 }),
            }),
            ..NodeStatus::default()
        }),
    }
}

fn pod(name: &str, ip: &str, ready: &str) -> Pod {
    let mut m = meta(
        Some("default"),
        name,
        &[("app", "web"), ("app.kubernetes.io/name", "web")],
        &[("prometheus.io/scrape", "true")],
    );
    m.owner_references = Some(vec![OwnerReference {
        api_version: "apps/v1".into(),
        kind: "ReplicaSet".into(),
        name: "web-5d8f".into(),
        uid: "rs-uid".into(),
        controller: Some(true),
        ..OwnerReference::default()
    }]);
    Pod {
        metadata: m,
        spec: Some(PodSpec {
            node_name: Some("node-a".into()),
            containers: vec![
                Container {
                    name: "app".into(),
                    image: Some("web:1.0".into()),
                    ports: Some(vec![
                        ContainerPort {
                            name: Some("http".into()),
                            container_port: 8080,
                            protocol: Some("TCP".into()),
                            ..ContainerPort::default()
                        },
                        ContainerPort {
                            name: Some("metrics".into()),
                            container_port: 9100,
                            protocol: Some("TCP".into()),
                            ..ContainerPort::default()
                        },
                    ]),
                    ..Container::default()
                },
                Container {
                    name: "sidecar".into(),
                    image: Some("proxy:2".into()),
                    ..Container::default()
                },
            ],
            init_containers: Some(vec![Container {
                name: "init".into(),
                image: Some("busybox".into()),
                ports: Some(vec![ContainerPort {
                    container_port: 7000,
                    protocol: Some("UDP".into()),
                    ..ContainerPort::default()
                }]),
                ..Container::default()
            }]),
            ..PodSpec::default()
        }),
        status: Some(PodStatus {
            pod_ip: Some(ip.into()),
            host_ip: Some("10.0.0.1".into()),
            phase: Some("Running".into()),
            conditions: Some(vec![PodCondition {
                type_: "Ready".into(),
                status: ready.into(),
                ..PodCondition::default()
            }]),
            container_statuses: Some(vec![ContainerStatus {
                name: "app".into(),
                container_id: Some("containerd://abc".into()),
                ..ContainerStatus::default()
            }]),
            ..PodStatus::default()
        }),
    }
}

fn service(name: &str, ty: &str) -> Service {
    Service {
        metadata: meta(
            Some("default"),
            name,
            &[("app", "web")],
            &[("prometheus.io/scrape", "true"), ("prometheus.io/port", "9100")],
        ),
        spec: Some(ServiceSpec {
            type_: Some(ty.into()),
            cluster_ip: Some("10.96.0.10".into()),
            external_name: (ty == "ExternalName").then(|| "db.example.com".into()),
            ports: Some(vec![
                ServicePort {
                    name: Some("http".into()),
                    port: 80,
                    protocol: Some("TCP".into()),
                    ..ServicePort::default()
                },
                ServicePort {
                    name: Some("metrics".into()),
                    port: 9100,
                    protocol: Some("TCP".into()),
                    ..ServicePort::default()
                },
            ]),
            ..ServiceSpec::default()
        }),
        status: None,
    }
}

fn endpoints(name: &str, ready_pod: &str, not_ready_ip: &str) -> Endpoints {
    Endpoints {
        metadata: meta(Some("default"), name, &[("app", "web")], &[]),
        subsets: Some(vec![EndpointSubset {
            addresses: Some(vec![EndpointAddress {
                ip: "10.1.0.5".into(),
                node_name: Some("node-a".into()),
                target_ref: Some(ObjectReference {
                    kind: Some("Pod".into()),
                    name: Some(ready_pod.into()),
                    namespace: Some("default".into()),
                    ..ObjectReference::default()
                }),
                ..EndpointAddress::default()
            }]),
            not_ready_addresses: Some(vec![EndpointAddress {
                ip: not_ready_ip.into(),
                hostname: Some("db-0".into()),
                ..EndpointAddress::default()
            }]),
            ports: Some(vec![EndpointPort {
                name: Some("http".into()),
                port: 8080,
                protocol: Some("TCP".into()),
                ..EndpointPort::default()
            }]),
        }]),
    }
}

fn slice(name: &str, ready: bool) -> EndpointSlice {
    EndpointSlice {
        metadata: meta(Some("default"), name, &[("kubernetes.io/service-name", "web")], &[]),
        address_type: "IPv4".into(),
        endpoints: vec![Endpoint {
            addresses: vec!["10.1.0.5".into()],
            conditions: Some(EndpointConditions {
                ready: Some(ready),
                serving: Some(true),
                terminating: Some(false),
            }),
            node_name: Some("node-a".into()),
            zone: Some("zone-1".into()),
            target_ref: Some(ObjectReference {
                kind: Some("Pod".into()),
                name: Some("web-1".into()),
                namespace: Some("default".into()),
                ..ObjectReference::default()
            }),
            ..Endpoint::default()
        }],
        ports: Some(vec![SlicePort {
            name: Some("http".into()),
            port: Some(8080),
            protocol: Some("TCP".into()),
            app_protocol: Some("http".into()),
        }]),
    }
}

fn ingress(name: &str, tls: bool) -> Ingress {
    Ingress {
        metadata: meta(Some("default"), name, &[("app", "web")], &[]),
        spec: Some(IngressSpec {
            ingress_class_name: Some("nginx".into()),
            rules: Some(vec![
                IngressRule {
                    host: Some("web.example.com".into()),
                    http: Some(HTTPIngressRuleValue {
                        paths: vec![
                            HTTPIngressPath {
                                path: Some("/".into()),
                                path_type: "Prefix".into(),
                                backend: IngressBackend::default(),
                            },
                            HTTPIngressPath {
                                path: Some("/metrics".into()),
                                path_type: "Exact".into(),
                                backend: IngressBackend::default(),
                            },
                        ],
                    }),
                },
                IngressRule { host: Some("api.example.com".into()), http: None },
            ]),
            tls: tls.then(|| {
                vec![IngressTLS { hosts: Some(vec!["*.example.com".into()]), secret_name: None }]
            }),
            ..IngressSpec::default()
        }),
        status: None,
    }
}

/// Runs a discoverer and folds its updates into the latest group per source.
struct Collector {
    rx: mpsc::Receiver<Vec<TargetGroup>>,
    groups: BTreeMap<String, TargetGroup>,
    task: tokio::task::JoinHandle<()>,
}

impl Collector {
    fn start(cfg: &KubernetesSdConfig) -> Collector {
        let (tx, rx) = mpsc::channel(64);
        let d: Box<dyn Discoverer> = cfg.discoverer().expect("discoverer");
        let task = tokio::spawn(d.run(tx));
        Collector { rx, groups: BTreeMap::new(), task }
    }

    /// Applies updates until none arrive for `quiet`, waiting up to 10 s for
    /// the first one when `expect_change`.
    async fn settle(&mut self, expect_change: bool) {
        let quiet = Duration::from_millis(400);
        let mut first = expect_change;
        loop {
            let wait = if first { Duration::from_secs(10) } else { quiet };
            match tokio::time::timeout(wait, self.rx.recv()).await {
                Ok(Some(groups)) => {
                    first = false;
                    for g in groups {
                        if g.targets.is_empty() {
                            self.groups.remove(&g.source);
                        } else {
                            self.groups.insert(g.source.clone(), g);
                        }
                    }
                }
                Ok(None) => panic!("discoverer stopped"),
                Err(_) if first => panic!("no update within 10 s"),
                Err(_) => return,
            }
        }
    }

    fn snapshot(&self) -> serde_json::Value {
        json!(
            self.groups
                .values()
                .map(|g| json!({"source": g.source, "labels": g.labels, "targets": g.targets}))
                .collect::<Vec<_>>()
        )
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn config(server: &FakeApiServer, role: &str, extra: &str) -> KubernetesSdConfig {
    let yaml = format!("role: {role}\napi_server: {}\n{extra}", server.url());
    let mut cfg: KubernetesSdConfig =
        serde_yaml::from_str(&yaml).expect("valid kubernetes_sd_config");
    cfg.validate().expect("config validates");
    assert_eq!(cfg.role.as_str(), role);
    let _ = KubernetesRole::Pod;
    cfg
}

/// Compares the recorded steps with the golden file (or rewrites it).
fn check_golden(role: &str, steps: Vec<(String, serde_json::Value)>) {
    let actual = json!(
        steps
            .into_iter()
            .map(|(step, groups)| json!({"step": step, "groups": groups}))
            .collect::<Vec<_>>()
    );
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(format!("{role}.json"));
    let rendered = serde_json::to_string_pretty(&actual).expect("render json") + "\n";
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, rendered).expect("write golden");
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!("reading {}: {e} (run with UPDATE_GOLDEN=1 to create it)", path.display())
    });
    assert!(
        expected == rendered,
        "{role}: discovered groups differ from {}:\n{rendered}",
        path.display()
    );
}

#[tokio::test]
async fn node_role() {
    let server = FakeApiServer::start().await;
    server.apply(&node("node-a", "10.0.0.1"));
    let mut c = Collector::start(&config(&server, "node", ""));
    let mut steps = Vec::new();
    c.settle(true).await;
    steps.push(("list".into(), c.snapshot()));
    server.apply(&node("node-b", "10.0.0.2"));
    c.settle(true).await;
    steps.push(("add node-b".into(), c.snapshot()));
    let mut changed = node("node-b", "10.0.0.3");
    changed
        .metadata
        .labels
        .get_or_insert_default()
        .insert("topology.kubernetes.io/zone".into(), "z1".into());
    server.apply(&changed);
    c.settle(true).await;
    steps.push(("change node-b".into(), c.snapshot()));
    server.delete(&changed);
    c.settle(true).await;
    steps.push(("delete node-b".into(), c.snapshot()));
    check_golden("node", steps);
}

/// Prometheus sends no update for a node without a usable address, so the
/// group sent before stays (a node briefly reported without addresses is
/// still there).
#[tokio::test]
async fn node_losing_its_addresses_keeps_its_last_group() {
    let server = FakeApiServer::start().await;
    server.apply(&node("node-a", "10.0.0.1"));
    let mut c = Collector::start(&config(&server, "node", ""));
    c.settle(true).await;
    let before = c.groups.get("node/node-a").expect("node-a discovered").clone();
    let mut bare = node("node-a", "10.0.0.1");
    bare.status.as_mut().expect("status").addresses = Some(Vec::new());
    server.apply(&bare);
    // A later event on the same watch proves the address-less one was seen.
    server.apply(&node("node-b", "10.0.0.2"));
    c.settle(true).await;
    while !c.groups.contains_key("node/node-b") {
        c.settle(true).await;
    }
    assert_eq!(c.groups.get("node/node-a"), Some(&before), "node-a's last group stays");
}

#[tokio::test]
async fn pod_role_with_attached_metadata() {
    let server = FakeApiServer::start().await;
    server.apply(&node("node-a", "10.0.0.1"));
    server.apply(&Namespace {
        metadata: meta(None, "default", &[("team", "core")], &[]),
        ..Namespace::default()
    });
    server.apply(&pod("web-1", "10.1.0.5", "True"));
    let extra = "attach_metadata:\n  node: true\n  namespace: true\n";
    let mut c = Collector::start(&config(&server, "pod", extra));
    let mut steps = Vec::new();
    c.settle(true).await;
    steps.push(("list".into(), c.snapshot()));
    server.apply(&pod("web-1", "10.1.0.5", "False"));
    c.settle(true).await;
    steps.push(("pod not ready".into(), c.snapshot()));
    server.delete(&pod("web-1", "10.1.0.5", "False"));
    c.settle(true).await;
    steps.push(("delete pod".into(), c.snapshot()));
    check_golden("pod", steps);
}

fn controlled_by(kind: &str, name: &str) -> Option<Vec<OwnerReference>> {
    Some(vec![OwnerReference {
        api_version: "apps/v1".into(),
        kind: kind.into(),
        name: name.into(),
        uid: format!("uid-{name}"),
        controller: Some(true),
        ..OwnerReference::default()
    }])
}

/// A pod owned by the controller `kind`/`owner`.
fn owned_pod(name: &str, ip: &str, kind: &str, owner: &str) -> Pod {
    let mut p = pod(name, ip, "True");
    p.metadata.owner_references = controlled_by(kind, owner);
    p.spec.as_mut().expect("pod has a spec").init_containers = None;
    p.spec.as_mut().expect("pod has a spec").containers.truncate(1);
    p
}

fn replica_set(name: &str, deployment: &str) -> ReplicaSet {
    let mut m = meta(Some("default"), name, &[], &[]);
    m.owner_references = controlled_by("Deployment", deployment);
    ReplicaSet { metadata: m, ..ReplicaSet::default() }
}

fn job(name: &str, cronjob: Option<&str>) -> Job {
    let mut m = meta(Some("default"), name, &[], &[]);
    m.owner_references = cronjob.and_then(|c| controlled_by("CronJob", c));
    Job { metadata: m, ..Job::default() }
}

#[tokio::test]
async fn pod_role_with_workload_metadata() {
    let server = FakeApiServer::start().await;
    server.apply(&replica_set("api-7c9f8d", "api"));
    server.apply(&job("backup-28934", Some("backup")));
    server.apply(&job("migrate", None));
    server.apply(&owned_pod("api-7c9f8d-x2k4p", "10.1.0.1", "ReplicaSet", "api-7c9f8d"));
    server.apply(&owned_pod("backup-28934-qw7z", "10.1.0.2", "Job", "backup-28934"));
    server.apply(&owned_pod("migrate-lk2j9", "10.1.0.3", "Job", "migrate"));
    // A ReplicaSet not known to the API server: no deployment label.
    server.apply(&owned_pod("orphan-5d8f-abcde", "10.1.0.4", "ReplicaSet", "orphan-5d8f"));
    let extra = "attach_metadata:\n  deployment: true\n  job: true\n  cronjob: true\n";
    let mut c = Collector::start(&config(&server, "pod", extra));
    let mut steps = Vec::new();
    c.settle(true).await;
    steps.push(("list".into(), c.snapshot()));
    // The owners change: the pods' groups follow without a pod event.
    server.delete(&replica_set("api-7c9f8d", "api"));
    server.apply(&replica_set("orphan-5d8f", "orphan"));
    c.settle(true).await;
    steps.push(("replica sets changed".into(), c.snapshot()));
    check_golden("pod_workloads", steps);

    // Without the options, only the controller labels remain.
    let mut plain = Collector::start(&config(&server, "pod", ""));
    plain.settle(true).await;
    let labels = &plain.groups["pod/default/backup-28934-qw7z"].labels;
    assert_eq!(labels["__meta_kubernetes_pod_controller_kind"], "Job");
    assert!(!labels.keys().any(|k| k.ends_with("job_name")), "{labels:?}");
}

#[tokio::test]
async fn service_role() {
    let server = FakeApiServer::start().await;
    server.apply(&service("web", "ClusterIP"));
    let mut c = Collector::start(&config(&server, "service", ""));
    let mut steps = Vec::new();
    c.settle(true).await;
    steps.push(("list".into(), c.snapshot()));
    server.apply(&service("db", "ExternalName"));
    c.settle(true).await;
    steps.push(("add external name".into(), c.snapshot()));
    server.delete(&service("web", "ClusterIP"));
    c.settle(true).await;
    steps.push(("delete web".into(), c.snapshot()));
    check_golden("service", steps);
}

#[tokio::test]
async fn endpoints_role_inherits_service_and_pod_labels() {
    let server = FakeApiServer::start().await;
    server.apply(&service("web", "ClusterIP"));
    server.apply(&pod("web-1", "10.1.0.5", "True"));
    server.apply(&endpoints("web", "web-1", "10.1.0.9"));
    let mut c =
        Collector::start(&config(&server, "endpoints", "namespaces:\n  names: [default]\n"));
    let mut steps = Vec::new();
    c.settle(true).await;
    steps.push(("list".into(), c.snapshot()));
    let mut svc = service("web", "ClusterIP");
    svc.metadata.labels.get_or_insert_default().insert("tier".into(), "frontend".into());
    server.apply(&svc);
    c.settle(true).await;
    steps.push(("service label change".into(), c.snapshot()));
    server.delete(&endpoints("web", "web-1", "10.1.0.9"));
    c.settle(true).await;
    steps.push(("delete endpoints".into(), c.snapshot()));
    check_golden("endpoints", steps);
}

#[tokio::test]
async fn endpointslice_role() {
    let server = FakeApiServer::start().await;
    server.apply(&service("web", "ClusterIP"));
    server.apply(&pod("web-1", "10.1.0.5", "True"));
    server.apply(&slice("web-abc", true));
    let mut c = Collector::start(&config(&server, "endpointslice", ""));
    let mut steps = Vec::new();
    c.settle(true).await;
    steps.push(("list".into(), c.snapshot()));
    server.apply(&slice("web-abc", false));
    c.settle(true).await;
    steps.push(("endpoint not ready".into(), c.snapshot()));
    server.delete(&slice("web-abc", false));
    c.settle(true).await;
    steps.push(("delete slice".into(), c.snapshot()));
    check_golden("endpointslice", steps);
}

#[tokio::test]
async fn ingress_role() {
    let server = FakeApiServer::start().await;
    server.apply(&ingress("web", false));
    let mut c = Collector::start(&config(&server, "ingress", ""));
    let mut steps = Vec::new();
    c.settle(true).await;
    steps.push(("list".into(), c.snapshot()));
    server.apply(&ingress("web", true));
    c.settle(true).await;
    steps.push(("tls added".into(), c.snapshot()));
    server.delete(&ingress("web", true));
    c.settle(true).await;
    steps.push(("delete".into(), c.snapshot()));
    check_golden("ingress", steps);
}

#[tokio::test]
async fn relists_after_410_gone_and_rewatches_after_a_dropped_connection() {
    let server = FakeApiServer::start().await;
    server.apply(&node("node-a", "10.0.0.1"));
    let mut c = Collector::start(&config(&server, "node", ""));
    c.settle(true).await;
    assert_eq!(c.groups.len(), 1);

    // A dropped connection: the watch resumes and later events still arrive.
    server.drop_watches();
    tokio::time::sleep(Duration::from_millis(200)).await;
    server.apply(&node("node-b", "10.0.0.2"));
    c.settle(true).await;
    assert_eq!(c.groups.keys().collect::<Vec<_>>(), ["node/node-a", "node/node-b"]);

    // History expires: node-b disappears and node-c appears without watch
    // events; only a fresh list (after the 410) can reveal that.
    let lists_before = server.list_calls("nodes");
    server.apply_silently(&node("node-c", "10.0.0.4"));
    server.delete_silently(&node("node-b", "10.0.0.2"));
    server.expire_history();
    c.settle(true).await;
    assert!(server.list_calls("nodes") > lists_before, "no re-list after 410 Gone");
    assert_eq!(c.groups.keys().collect::<Vec<_>>(), ["node/node-a", "node/node-c"]);
}

/// One step's groups from a golden file.
fn golden_step(role: &str, step: usize) -> serde_json::Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(format!("{role}.json"));
    let steps: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("golden file")).expect("json");
    steps[step]["groups"].clone()
}

#[tokio::test]
async fn configs_with_the_same_parameters_share_one_list_and_watch() {
    let server = FakeApiServer::start().await;
    server.apply(&node("node-a", "10.0.0.1"));
    server.apply(&Namespace {
        metadata: meta(None, "default", &[("team", "core")], &[]),
        ..Namespace::default()
    });
    server.apply(&pod("web-1", "10.1.0.5", "True"));
    let extra = "attach_metadata:\n  node: true\n  namespace: true\n";
    let mut a = Collector::start(&config(&server, "pod", extra));
    a.settle(true).await;
    // The second joins running watches and gets the full state at once.
    let mut b = Collector::start(&config(&server, "pod", extra));
    b.settle(true).await;
    for c in [&a, &b] {
        assert_eq!(c.snapshot(), golden_step("pod", 0));
    }
    for kind in ["pods", "nodes", "namespaces"] {
        assert_eq!((kind, server.list_calls(kind)), (kind, 1));
        assert_eq!((kind, server.watch_calls(kind)), (kind, 1));
    }
    // One event reaches both.
    server.apply(&pod("web-1", "10.1.0.5", "False"));
    a.settle(true).await;
    b.settle(true).await;
    for c in [&a, &b] {
        assert_eq!(c.snapshot(), golden_step("pod", 1));
    }

    // A pod selector makes a different pod watch; nodes and namespaces
    // are still shared.
    let selected = format!("{extra}selectors:\n  - role: pod\n    label: app=web\n");
    let mut c = Collector::start(&config(&server, "pod", &selected));
    c.settle(true).await;
    assert_eq!(c.snapshot(), golden_step("pod", 1));
    assert_eq!((server.list_calls("pods"), server.watch_calls("pods")), (2, 2));
    for kind in ["nodes", "namespaces"] {
        assert_eq!((kind, server.list_calls(kind), server.watch_calls(kind)), (kind, 1, 1));
    }
}

#[tokio::test]
async fn a_watch_stops_with_its_last_subscriber_and_restarts_for_a_new_one() {
    let server = FakeApiServer::start().await;
    server.apply(&node("node-a", "10.0.0.1"));
    let cfg = config(&server, "node", "");
    let mut a = Collector::start(&cfg);
    let mut b = Collector::start(&cfg);
    a.settle(true).await;
    b.settle(true).await;
    assert_eq!(server.list_calls("nodes"), 1);

    // One subscriber leaves: the other keeps getting events.
    drop(a);
    server.apply(&node("node-b", "10.0.0.2"));
    b.settle(true).await;
    assert_eq!(b.groups.keys().collect::<Vec<_>>(), ["node/node-a", "node/node-b"]);
    assert_eq!(server.list_calls("nodes"), 1);

    // The last one leaves: the watch stops, so a newcomer lists afresh and
    // sees what changed meanwhile.
    drop(b);
    tokio::time::sleep(Duration::from_millis(100)).await;
    server.delete(&node("node-a", "10.0.0.1"));
    let mut c = Collector::start(&cfg);
    c.settle(true).await;
    assert_eq!(server.list_calls("nodes"), 2, "a new watch lists again");
    assert_eq!(c.groups.keys().collect::<Vec<_>>(), ["node/node-b"]);
}
