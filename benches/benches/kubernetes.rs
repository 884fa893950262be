//! Kubernetes discovery at cluster scale, against the fake API server.
//!
//! The cluster: 1,000 services in 20 namespaces, each with an endpoints
//! object listing 5 of its pods (5,000 pods). Measured:
//!
//! * `pod_change/pod-role`: a pod's label changes; time from the watch
//!   event being published to the discoverer sending that pod's group.
//! * `endpoints_change/endpoints-role`: an endpoints object changes; time
//!   to its rebuilt group.
//! * `service_change/endpoints-role`: a service's label changes, which
//!   rebuilds every endpoints group (services are joined into endpoints).
//!
//! Every figure includes the discoverer's 50 ms coalescing window, which
//! trades latency for one update per burst. Before the timed runs the
//! bench prints the initial list-to-first-full-update time and the
//! resident memory the discoverers add (Linux, from /proc/self/status).
//! The two discoverers connect the same way and neither has selectors, so
//! the endpoints discoverer joins the pod discoverer's pod watch (no second
//! pod list) and its figures cover the endpoints and services watches plus
//! its own groups.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use k8s_openapi::api::core::v1::{
    Container, ContainerPort, EndpointAddress, EndpointPort, EndpointSubset, Endpoints,
    ObjectReference, Pod, PodSpec, PodStatus, Service, ServicePort, ServiceSpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use promethium_discovery::config::KubernetesSdConfig;
use promethium_discovery::kubernetes::testing::FakeApiServer;
use promethium_discovery::{SdConfig, TargetGroup};
use tokio::runtime::Runtime;
use tokio::sync::mpsc;

const SERVICES: usize = 1_000;
const PODS_PER_SERVICE: usize = 5;

fn ns(svc: usize) -> String {
    format!("ns-{}", svc % 20)
}

fn meta(ns: &str, name: &str, generation: usize) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.into()),
        namespace: Some(ns.into()),
        labels: Some(BTreeMap::from([
            ("app".to_owned(), name.to_owned()),
            ("generation".to_owned(), generation.to_string()),
        ])),
        annotations: Some(BTreeMap::from([("prometheus.io/scrape".to_owned(), "true".to_owned())])),
        ..ObjectMeta::default()
    }
}

fn ip(svc: usize, i: usize) -> String {
    let n = svc * PODS_PER_SERVICE + i;
    format!("10.{}.{}.{}", n / 65536, (n / 256) % 256, n % 256)
}

fn pod(svc: usize, i: usize, generation: usize) -> Pod {
    Pod {
        metadata: meta(&ns(svc), &format!("svc-{svc}-{i}"), generation),
        spec: Some(PodSpec {
            node_name: Some(format!("node-{}", svc % 50)),
            containers: vec![Container {
                name: "app".into(),
                ports: Some(vec![ContainerPort {
                    name: Some("metrics".into()),
                    container_port: 9100,
                    protocol: Some("TCP".into()),
                    ..ContainerPort::default()
                }]),
                ..Container::default()
            }],
            ..PodSpec::default()
        }),
        status: Some(PodStatus {
            pod_ip: Some(ip(svc, i)),
            phase: Some("Running".into()),
            ..PodStatus::default()
        }),
    }
}

fn service(svc: usize, generation: usize) -> Service {
    Service {
        metadata: meta(&ns(svc), &format!("svc-{svc}"), generation),
        spec: Some(ServiceSpec {
            ports: Some(vec![ServicePort {
                name: Some("metrics".into()),
                port: 9100,
                ..ServicePort::default()
            }]),
            ..ServiceSpec::default()
        }),
        status: None,
    }
}

fn endpoints(svc: usize, generation: usize) -> Endpoints {
    let addresses = (0..PODS_PER_SERVICE)
        .map(|i| EndpointAddress {
            ip: ip(svc, i),
            target_ref: Some(ObjectReference {
                kind: Some("Pod".into()),
                name: Some(format!("svc-{svc}-{i}")),
                namespace: Some(ns(svc)),
                ..ObjectReference::default()
            }),
            ..EndpointAddress::default()
        })
        .collect();
    Endpoints {
        metadata: meta(&ns(svc), &format!("svc-{svc}"), generation),
        subsets: Some(vec![EndpointSubset {
            addresses: Some(addresses),
            ports: Some(vec![EndpointPort {
                name: Some("metrics".into()),
                port: 9100 + i32::try_from(generation % 100).expect("small"),
                ..EndpointPort::default()
            }]),
            ..EndpointSubset::default()
        }]),
    }
}

fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// A running discoverer and its update channel.
struct Running {
    rx: mpsc::Receiver<Vec<TargetGroup>>,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    fn start(server: &FakeApiServer, role: &str) -> Running {
        let yaml = format!("role: {role}\napi_server: {}\n", server.url());
        let mut cfg: KubernetesSdConfig = serde_yaml::from_str(&yaml).expect("valid config");
        cfg.validate().expect("config validates");
        let (tx, rx) = mpsc::channel(1024);
        let task = tokio::spawn(cfg.discoverer().expect("discoverer").run(tx));
        Running { rx, task }
    }

    /// Waits until `expected` groups with targets have been received.
    async fn sync(&mut self, expected: usize) {
        let mut seen = std::collections::BTreeSet::new();
        while seen.len() < expected {
            let update = self.rx.recv().await.expect("discoverer running");
            seen.extend(update.into_iter().filter(|g| !g.targets.is_empty()).map(|g| g.source));
        }
    }

    /// Waits for an update carrying `source`.
    async fn wait_for(&mut self, source: &str) {
        loop {
            let update = self.rx.recv().await.expect("discoverer running");
            if update.iter().any(|g| g.source == source) {
                black_box(update);
                return;
            }
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn bench(c: &mut Criterion) {
    let rt = Runtime::new().expect("tokio runtime");
    let _guard = rt.enter();
    let server = rt.block_on(FakeApiServer::start());
    for svc in 0..SERVICES {
        for i in 0..PODS_PER_SERVICE {
            server.apply(&pod(svc, i, 0));
        }
        server.apply(&service(svc, 0));
        server.apply(&endpoints(svc, 0));
    }

    let before = rss_kib();
    let start = Instant::now();
    let mut pods = Running::start(&server, "pod");
    rt.block_on(pods.sync(SERVICES * PODS_PER_SERVICE));
    let pod_sync = start.elapsed();
    let after_pods = rss_kib();
    let start = Instant::now();
    let mut eps = Running::start(&server, "endpoints");
    rt.block_on(eps.sync(SERVICES));
    let eps_sync = start.elapsed();
    let after_eps = rss_kib();
    let delta = |a: Option<u64>, b: Option<u64>| match (a, b) {
        (Some(a), Some(b)) => format!("{:.1} MiB", (b.saturating_sub(a)) as f64 / 1024.0),
        _ => "unavailable".to_owned(),
    };
    println!(
        "initial sync: pod role {} pods in {pod_sync:?}, RSS +{}; endpoints role {} endpoints \
         (+{} services, {} pods watched) in {eps_sync:?}, RSS +{}",
        SERVICES * PODS_PER_SERVICE,
        delta(before, after_pods),
        SERVICES,
        SERVICES,
        SERVICES * PODS_PER_SERVICE,
        delta(after_pods, after_eps),
    );

    let mut group = c.benchmark_group("kubernetes");
    group.sample_size(10);
    let mut generation = 0;
    group.bench_function("pod_change/pod-role", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                generation += 1;
                let svc = generation % SERVICES;
                let start = Instant::now();
                server.apply(&pod(svc, 0, generation));
                rt.block_on(pods.wait_for(&format!("pod/{}/svc-{svc}-0", ns(svc))));
                total += start.elapsed();
                // The endpoints discoverer also rebuilds (pods are joined
                // into endpoints); drain it so its queue stays short.
                rt.block_on(eps.sync(SERVICES));
            }
            total
        });
    });
    group.bench_function("endpoints_change/endpoints-role", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                generation += 1;
                let svc = generation % SERVICES;
                let start = Instant::now();
                server.apply(&endpoints(svc, generation));
                rt.block_on(eps.wait_for(&format!("endpoints/{}/svc-{svc}", ns(svc))));
                total += start.elapsed();
            }
            total
        });
    });
    group.bench_function("service_change/endpoints-role", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                generation += 1;
                let svc = generation % SERVICES;
                let start = Instant::now();
                server.apply(&service(svc, generation));
                rt.block_on(eps.wait_for(&format!("endpoints/{}/svc-{svc}", ns(svc))));
                total += start.elapsed();
            }
            total
        });
    });
    group.finish();
    drop(pods);
    drop(eps);
}

criterion_group!(benches, bench);
criterion_main!(benches);
