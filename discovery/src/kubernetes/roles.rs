//! Turning Kubernetes objects into target groups, one builder per role.
//!
//! Each builder is a pure function of the object and the related objects
//! already known (pods for endpoints, services for endpoint slices, nodes
//! and namespaces for `attach_metadata`), so it is tested without a
//! cluster. Sources, targets and labels match Prometheus' discovery.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::batch::v1::Job;

use k8s_openapi::api::core::v1::{
    Container, ContainerPort, EndpointAddress, EndpointPort, Endpoints, Namespace, Node, Pod,
    Service,
};
use k8s_openapi::api::discovery::v1::{
    Endpoint as SliceEndpoint, EndpointPort as SlicePort, EndpointSlice,
};
use k8s_openapi::api::networking::v1::Ingress;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

use super::labels::{
    META, NAMESPACE, add_labels_and_annotations, add_object_meta, join_host_port, sanitize,
};
use crate::config::KubernetesAttachMetadata;
use crate::{ADDRESS_LABEL, LabelSet, TargetGroup};

/// Objects the builders look up, keyed by `namespace/name` (nodes and
/// namespaces by name), plus which metadata to attach. Borrowed from the
/// watch caches: a rebuild must not copy thousands of objects.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Related<'a> {
    pub(crate) pods: &'a HashMap<String, Arc<Pod>>,
    pub(crate) services: &'a HashMap<String, Arc<Service>>,
    pub(crate) nodes: &'a HashMap<String, Arc<Node>>,
    pub(crate) namespaces: &'a HashMap<String, Arc<Namespace>>,
    pub(crate) replicasets: &'a HashMap<String, Arc<ReplicaSet>>,
    pub(crate) jobs: &'a HashMap<String, Arc<Job>>,
    pub(crate) attach: &'a KubernetesAttachMetadata,
}

impl Related<'_> {
    fn add_namespace_labels(&self, out: &mut LabelSet, namespace: &str) {
        if let Some(ns) = self.namespaces.get(namespace).filter(|_| self.attach.namespace) {
            add_labels_and_annotations(out, &ns.metadata, "namespace");
        }
    }

    /// Adds a known node's name, labels and annotations; an unknown node
    /// adds nothing, as in Prometheus.
    fn add_node_labels(&self, out: &mut LabelSet, node_name: &str) {
        if let Some(node) = self.nodes.get(node_name) {
            add_object_meta(out, &node.metadata, "node");
        }
    }
}

fn name(meta: &ObjectMeta) -> &str {
    meta.name.as_deref().unwrap_or_default()
}

fn namespace(meta: &ObjectMeta) -> &str {
    meta.namespace.as_deref().unwrap_or_default()
}

fn label(name: &str, value: impl Into<String>) -> (String, String) {
    (format!("{META}{name}"), value.into())
}

// ---------------------------------------------------------------- node ---

/// The source of a node's group.
pub(crate) fn node_source(node: &Node) -> String {
    format!("node/{}", name(&node.metadata))
}

/// One target per node: the kubelet's address, preferring InternalIP, then
/// InternalDNS, ExternalIP, ExternalDNS, LegacyHostIP and Hostname. A node
/// with no usable address yields nothing, as in Prometheus: the group sent
/// before (if any) stays, since a node briefly reported without addresses
/// is still there.
pub(crate) fn build_node(node: &Node) -> Option<TargetGroup> {
    let mut group = TargetGroup { source: node_source(node), ..TargetGroup::default() };
    let mut labels = LabelSet::new();
    let spec = node.spec.as_ref();
    labels.extend([label(
        "node_provider_id",
        spec.and_then(|s| s.provider_id.clone()).unwrap_or_default(),
    )]);
    let status = node.status.as_ref();
    for cond in status.and_then(|s| s.conditions.as_ref()).into_iter().flatten() {
        labels.insert(
            format!("{META}node_condition_{}", sanitize(&cond.type_.to_lowercase())),
            cond.status.to_lowercase(),
        );
    }
    add_object_meta(&mut labels, &node.metadata, "node");

    let mut by_type: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for a in status.and_then(|s| s.addresses.as_ref()).into_iter().flatten() {
        by_type.entry(a.type_.as_str()).or_default().push(a.address.as_str());
    }
    let preference =
        ["InternalIP", "InternalDNS", "ExternalIP", "ExternalDNS", "LegacyHostIP", "Hostname"];
    let Some(host) = preference.iter().find_map(|t| by_type.get(t).map(|a| a[0])) else {
        tracing::warn!(node = name(&node.metadata), "no node address found");
        return None;
    };
    let port = status
        .and_then(|s| s.daemon_endpoints.as_ref())
        .and_then(|d| d.kubelet_endpoint.as_ref())
        .map_or(0, |e| e.port);
    let mut target = LabelSet::from([
        (ADDRESS_LABEL.to_owned(), join_host_port(host, port)),
        ("instance".to_owned(), name(&node.metadata).to_owned()),
    ]);
    for (ty, addrs) in &by_type {
        target.insert(sanitize(&format!("{META}node_address_{ty}")), addrs[0].to_owned());
    }
    group.labels = labels;
    group.targets.push(target);
    Some(group)
}

// ----------------------------------------------------------------- pod ---

/// The source of a pod's group.
pub(crate) fn pod_source(pod: &Pod) -> String {
    format!("pod/{}/{}", namespace(&pod.metadata), name(&pod.metadata))
}

/// The owner reference marked `controller: true`, as Kubernetes'
/// `GetControllerOf` finds it.
pub(crate) fn controller_of(meta: &ObjectMeta) -> Option<&OwnerReference> {
    meta.owner_references.iter().flatten().find(|o| o.controller == Some(true))
}

/// The labels describing a pod (shared by the pod, endpoints and endpoint
/// slice roles). The workload labels follow Prometheus: a pod controlled by
/// a ReplicaSet gets `pod_deployment_name` (with `attach_metadata.deployment`)
/// when that ReplicaSet is known and controlled by a Deployment; a pod
/// controlled by a Job gets `pod_job_name` (with `attach_metadata.job`) and,
/// when that Job is known and controlled by a CronJob, `pod_cronjob_name`
/// (with `attach_metadata.cronjob`). Names are read from the owners, never
/// guessed from name suffixes.
pub(crate) fn pod_labels(pod: &Pod, related: &Related<'_>) -> LabelSet {
    let status = pod.status.as_ref();
    let spec = pod.spec.as_ref();
    let ready = status
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == "Ready"))
        .map_or_else(|| "unknown".to_owned(), |c| c.status.to_lowercase());
    let mut ls = LabelSet::from([
        label("pod_ip", status.and_then(|s| s.pod_ip.clone()).unwrap_or_default()),
        label("pod_ready", ready),
        label("pod_phase", status.and_then(|s| s.phase.clone()).unwrap_or_default()),
        label("pod_node_name", spec.and_then(|s| s.node_name.clone()).unwrap_or_default()),
        label("pod_host_ip", status.and_then(|s| s.host_ip.clone()).unwrap_or_default()),
        label("pod_uid", pod.metadata.uid.clone().unwrap_or_default()),
    ]);
    add_object_meta(&mut ls, &pod.metadata, "pod");
    let Some(owner) = controller_of(&pod.metadata) else { return ls };
    if !owner.kind.is_empty() {
        ls.extend([label("pod_controller_kind", owner.kind.clone())]);
    }
    if !owner.name.is_empty() {
        ls.extend([label("pod_controller_name", owner.name.clone())]);
    }
    let key = format!("{}/{}", namespace(&pod.metadata), owner.name);
    let attach = related.attach;
    match owner.kind.as_str() {
        "ReplicaSet" if attach.deployment => {
            let deployment = related
                .replicasets
                .get(&key)
                .and_then(|rs| controller_of(&rs.metadata))
                .filter(|o| o.kind == "Deployment");
            if let Some(d) = deployment {
                ls.extend([label("pod_deployment_name", d.name.clone())]);
            }
        }
        "Job" => {
            if attach.job {
                ls.extend([label("pod_job_name", owner.name.clone())]);
            }
            let cronjob = related
                .jobs
                .get(&key)
                .filter(|_| attach.cronjob)
                .and_then(|job| controller_of(&job.metadata))
                .filter(|o| o.kind == "CronJob");
            if let Some(c) = cronjob {
                ls.extend([label("pod_cronjob_name", c.name.clone())]);
            }
        }
        _ => {}
    }
    ls
}

/// Containers then init containers, each with whether it is an init container.
fn containers(pod: &Pod) -> impl Iterator<Item = (&Container, bool)> {
    let spec = pod.spec.as_ref();
    let normal = spec.map(|s| s.containers.iter()).into_iter().flatten().map(|c| (c, false));
    let init =
        spec.and_then(|s| s.init_containers.as_ref()).into_iter().flatten().map(|c| (c, true));
    normal.chain(init)
}

fn container_id(pod: &Pod, container: &str, init: bool) -> String {
    let status = pod.status.as_ref();
    let statuses = if init {
        status.and_then(|s| s.init_container_statuses.as_ref())
    } else {
        status.and_then(|s| s.container_statuses.as_ref())
    };
    statuses
        .into_iter()
        .flatten()
        .find(|s| s.name == container)
        .and_then(|s| s.container_id.clone())
        .unwrap_or_default()
}

fn container_port_labels(
    out: &mut LabelSet,
    c: &Container,
    port: &ContainerPort,
    protocol: &str,
    init: bool,
) {
    out.extend([
        label("pod_container_name", c.name.clone()),
        label("pod_container_image", c.image.clone().unwrap_or_default()),
        label("pod_container_port_name", port.name.clone().unwrap_or_default()),
        label("pod_container_port_number", port.container_port.to_string()),
        label("pod_container_port_protocol", protocol.to_owned()),
        label("pod_container_init", init.to_string()),
    ]);
}

/// One target per container port (a container without ports gets one
/// target at the bare pod IP). A pod without an IP yields an empty group;
/// with `attach_metadata.node`, so does a pod whose node is not known yet.
pub(crate) fn build_pod(pod: &Pod, related: &Related<'_>) -> TargetGroup {
    let mut group = TargetGroup { source: pod_source(pod), ..TargetGroup::default() };
    let Some(ip) = pod.status.as_ref().and_then(|s| s.pod_ip.clone()).filter(|ip| !ip.is_empty())
    else {
        return group;
    };
    let node_name = pod.spec.as_ref().and_then(|s| s.node_name.clone()).unwrap_or_default();
    if related.attach.node && !related.nodes.contains_key(&node_name) {
        return group;
    }
    let mut labels = pod_labels(pod, related);
    labels.insert(NAMESPACE.to_owned(), namespace(&pod.metadata).to_owned());
    if related.attach.node {
        related.add_node_labels(&mut labels, &node_name);
    }
    related.add_namespace_labels(&mut labels, namespace(&pod.metadata));
    group.labels = labels;

    for (c, init) in containers(pod) {
        let id = container_id(pod, &c.name, init);
        let ports = c.ports.as_deref().unwrap_or_default();
        if ports.is_empty() {
            group.targets.push(LabelSet::from([
                (ADDRESS_LABEL.to_owned(), ip.clone()),
                label("pod_container_name", c.name.clone()),
                label("pod_container_id", id.clone()),
                label("pod_container_image", c.image.clone().unwrap_or_default()),
                label("pod_container_init", init.to_string()),
            ]));
            continue;
        }
        for port in ports {
            let mut target = LabelSet::from([
                (ADDRESS_LABEL.to_owned(), join_host_port(&ip, port.container_port)),
                label("pod_container_id", id.clone()),
            ]);
            let protocol = port.protocol.clone().unwrap_or_default();
            container_port_labels(&mut target, c, port, &protocol, init);
            group.targets.push(target);
        }
    }
    group
}

// ------------------------------------------------------------- service ---

/// The source of a service's group.
pub(crate) fn service_source(svc: &Service) -> String {
    format!("svc/{}/{}", namespace(&svc.metadata), name(&svc.metadata))
}

/// The labels describing a service (shared with endpoints and slices).
pub(crate) fn service_labels(svc: &Service) -> LabelSet {
    let mut ls = LabelSet::from([(NAMESPACE.to_owned(), namespace(&svc.metadata).to_owned())]);
    add_object_meta(&mut ls, &svc.metadata, "service");
    ls
}

/// One target per service port at `<name>.<namespace>.svc:<port>`.
pub(crate) fn build_service(svc: &Service, related: &Related<'_>) -> TargetGroup {
    let mut labels = service_labels(svc);
    related.add_namespace_labels(&mut labels, namespace(&svc.metadata));
    let mut group = TargetGroup { source: service_source(svc), labels, ..TargetGroup::default() };
    let spec = svc.spec.as_ref();
    let svc_type = spec.and_then(|s| s.type_.clone()).unwrap_or_default();
    for port in spec.and_then(|s| s.ports.as_ref()).into_iter().flatten() {
        let host = format!("{}.{}.svc", name(&svc.metadata), namespace(&svc.metadata));
        let mut target = LabelSet::from([
            (ADDRESS_LABEL.to_owned(), join_host_port(&host, port.port)),
            label("service_port_name", port.name.clone().unwrap_or_default()),
            label("service_port_number", port.port.to_string()),
            label("service_port_protocol", port.protocol.clone().unwrap_or_default()),
            label("service_type", svc_type.clone()),
        ]);
        if svc_type == "ExternalName" {
            target.extend([label(
                "service_external_name",
                spec.and_then(|s| s.external_name.clone()).unwrap_or_default(),
            )]);
        } else {
            target.extend([label(
                "service_cluster_ip",
                spec.and_then(|s| s.cluster_ip.clone()).unwrap_or_default(),
            )]);
        }
        if svc_type == "LoadBalancer" {
            target.extend([label("service_loadbalancer_ip", load_balancer_ips(svc))]);
        }
        group.targets.push(target);
    }
    group
}

fn load_balancer_ips(svc: &Service) -> String {
    let ips: Vec<String> = svc
        .status
        .as_ref()
        .and_then(|s| s.load_balancer.as_ref())
        .and_then(|lb| lb.ingress.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|i| i.ip.clone().filter(|ip| !ip.is_empty()))
        .collect();
    if ips.is_empty() {
        svc.spec.as_ref().and_then(|s| s.load_balancer_ip.clone()).unwrap_or_default()
    } else {
        ips.join(",")
    }
}

// ----------------------------------------------------------- endpoints ---

/// The source of an Endpoints object's group.
pub(crate) fn endpoints_source(eps: &Endpoints) -> String {
    format!("endpoints/{}/{}", namespace(&eps.metadata), name(&eps.metadata))
}

/// Pods seen behind an endpoints object, with the ports already targeted.
type SeenPods<'a> = BTreeMap<String, (&'a Pod, Vec<i32>)>;

fn resolve_pod<'a>(
    related: &'a Related<'a>,
    kind: Option<&str>,
    ns: Option<&str>,
    name: Option<&str>,
) -> Option<&'a Pod> {
    if kind != Some("Pod") {
        return None;
    }
    related
        .pods
        .get(&format!("{}/{}", ns.unwrap_or_default(), name.unwrap_or_default()))
        .map(|p| &**p)
}

/// Adds the labels of a pod behind an endpoint, and those of the container
/// port matching the endpoint port. `endpoint_protocol` is the protocol to
/// report for that container port when it is `Some`: Prometheus' endpoints
/// role takes the endpoint port's, its endpointslice role the container's.
fn merge_pod(
    target: &mut LabelSet,
    pod: &Pod,
    port: Option<i32>,
    endpoint_protocol: Option<&str>,
    related: &Related<'_>,
) {
    target.extend(pod_labels(pod, related));
    let Some(port) = port else { return };
    'outer: for (c, init) in containers(pod) {
        for cport in c.ports.iter().flatten() {
            if cport.container_port == port {
                let protocol = endpoint_protocol
                    .map_or_else(|| cport.protocol.clone().unwrap_or_default(), str::to_owned);
                container_port_labels(target, c, cport, &protocol, init);
                break 'outer;
            }
        }
    }
}

/// Targets for container ports of seen pods that no endpoint port covered.
fn add_unseen_container_ports(group: &mut TargetGroup, seen: &SeenPods<'_>, related: &Related<'_>) {
    for (pod, ports) in seen.values() {
        let Some(ip) =
            pod.status.as_ref().and_then(|s| s.pod_ip.clone()).filter(|ip| !ip.is_empty())
        else {
            continue;
        };
        for (c, init) in containers(pod) {
            for cport in c.ports.iter().flatten() {
                if ports.contains(&cport.container_port) {
                    continue;
                }
                let mut target = LabelSet::from([(
                    ADDRESS_LABEL.to_owned(),
                    join_host_port(&ip, cport.container_port),
                )]);
                let protocol = cport.protocol.clone().unwrap_or_default();
                container_port_labels(&mut target, c, cport, &protocol, init);
                target.extend(pod_labels(pod, related));
                group.targets.push(target);
            }
        }
    }
}

/// One target per address and port of every subset (ready addresses with
/// `endpoint_ready="true"`, not-ready ones with `"false"`), enriched with the
/// service of the same name and the pods behind the addresses.
pub(crate) fn build_endpoints(eps: &Endpoints, related: &Related<'_>) -> TargetGroup {
    let ns = namespace(&eps.metadata);
    let mut labels = LabelSet::from([(NAMESPACE.to_owned(), ns.to_owned())]);
    if let Some(svc) = related.services.get(&format!("{ns}/{}", name(&eps.metadata))) {
        labels.extend(service_labels(svc));
    }
    add_object_meta(&mut labels, &eps.metadata, "endpoints");
    related.add_namespace_labels(&mut labels, ns);
    let mut group = TargetGroup { source: endpoints_source(eps), labels, ..TargetGroup::default() };
    let mut seen: SeenPods<'_> = BTreeMap::new();

    let mut add =
        |group: &mut TargetGroup, addr: &EndpointAddress, port: &EndpointPort, ready: &str| {
            let mut target = LabelSet::from([
                (ADDRESS_LABEL.to_owned(), join_host_port(&addr.ip, port.port)),
                label("endpoint_port_name", port.name.clone().unwrap_or_default()),
                label("endpoint_port_protocol", port.protocol.clone().unwrap_or_default()),
                label("endpoint_ready", ready),
            ]);
            if let Some(r) = &addr.target_ref {
                target.extend([
                    label("endpoint_address_target_kind", r.kind.clone().unwrap_or_default()),
                    label("endpoint_address_target_name", r.name.clone().unwrap_or_default()),
                ]);
            }
            if let Some(node) = &addr.node_name {
                target.extend([label("endpoint_node_name", node.clone())]);
            }
            if let Some(h) = addr.hostname.as_ref().filter(|h| !h.is_empty()) {
                target.extend([label("endpoint_hostname", h.clone())]);
            }
            if related.attach.node {
                if let Some(node) = &addr.node_name {
                    related.add_node_labels(&mut target, node);
                } else if let Some(r) =
                    addr.target_ref.as_ref().filter(|r| r.kind.as_deref() == Some("Node"))
                {
                    related.add_node_labels(&mut target, r.name.as_deref().unwrap_or_default());
                }
            }
            let r = addr.target_ref.as_ref();
            if let Some(pod) = resolve_pod(
                related,
                r.and_then(|r| r.kind.as_deref()),
                r.and_then(|r| r.namespace.as_deref()),
                r.and_then(|r| r.name.as_deref()),
            ) {
                merge_pod(
                    &mut target,
                    pod,
                    Some(port.port),
                    Some(port.protocol.as_deref().unwrap_or_default()),
                    related,
                );
                seen.entry(format!("{}/{}", namespace(&pod.metadata), name(&pod.metadata)))
                    .or_insert((pod, Vec::new()))
                    .1
                    .push(port.port);
            }
            group.targets.push(target);
        };

    for subset in eps.subsets.iter().flatten() {
        for port in subset.ports.iter().flatten() {
            for addr in subset.addresses.iter().flatten() {
                add(&mut group, addr, port, "true");
            }
            for addr in subset.not_ready_addresses.iter().flatten() {
                add(&mut group, addr, port, "false");
            }
        }
    }
    add_unseen_container_ports(&mut group, &seen, related);
    group
}

// ------------------------------------------------------ endpointslice ---

/// The source of an EndpointSlice's group.
pub(crate) fn endpointslice_source(eps: &EndpointSlice) -> String {
    format!("endpointslice/{}/{}", namespace(&eps.metadata), name(&eps.metadata))
}

/// The label naming an endpoint slice's service.
pub(crate) const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

/// One target per endpoint address and slice port, enriched with the
/// owning service (`kubernetes.io/service-name`) and pods. Slices of a
/// dual-stack service's secondary IP family yield no targets.
pub(crate) fn build_endpointslice(eps: &EndpointSlice, related: &Related<'_>) -> TargetGroup {
    let ns = namespace(&eps.metadata);
    let mut labels = LabelSet::from([
        (NAMESPACE.to_owned(), ns.to_owned()),
        label("endpointslice_address_type", eps.address_type.clone()),
    ]);
    add_object_meta(&mut labels, &eps.metadata, "endpointslice");
    let svc = eps
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(SERVICE_NAME_LABEL))
        .and_then(|n| related.services.get(&format!("{ns}/{n}")));
    if let Some(svc) = svc {
        labels.extend(service_labels(svc));
    }
    related.add_namespace_labels(&mut labels, ns);
    let mut group =
        TargetGroup { source: endpointslice_source(eps), labels, ..TargetGroup::default() };
    if svc.is_some_and(|s| non_primary_family(s, eps)) {
        return group;
    }
    let mut seen: SeenPods<'_> = BTreeMap::new();
    let mut add = |group: &mut TargetGroup, addr: &str, ep: &SliceEndpoint, port: &SlicePort| {
        let address = match port.port {
            Some(p) => join_host_port(addr, p),
            None => addr.to_owned(),
        };
        let mut target = LabelSet::from([(ADDRESS_LABEL.to_owned(), address)]);
        let mut opt = |name: &str, v: Option<String>| {
            if let Some(v) = v {
                target.insert(format!("{META}{name}"), v);
            }
        };
        opt("endpointslice_port_name", port.name.clone());
        opt("endpointslice_port_protocol", port.protocol.clone());
        opt("endpointslice_port", port.port.map(|p| p.to_string()));
        opt("endpointslice_port_app_protocol", port.app_protocol.clone());
        let cond = ep.conditions.as_ref();
        opt(
            "endpointslice_endpoint_conditions_ready",
            cond.and_then(|c| c.ready).map(|b| b.to_string()),
        );
        opt(
            "endpointslice_endpoint_conditions_serving",
            cond.and_then(|c| c.serving).map(|b| b.to_string()),
        );
        opt(
            "endpointslice_endpoint_conditions_terminating",
            cond.and_then(|c| c.terminating).map(|b| b.to_string()),
        );
        opt("endpointslice_endpoint_hostname", ep.hostname.clone());
        if let Some(r) = &ep.target_ref {
            opt("endpointslice_address_target_kind", Some(r.kind.clone().unwrap_or_default()));
            opt("endpointslice_address_target_name", Some(r.name.clone().unwrap_or_default()));
        }
        opt("endpointslice_endpoint_node_name", ep.node_name.clone());
        opt("endpointslice_endpoint_zone", ep.zone.clone());
        for (k, v) in ep.deprecated_topology.iter().flatten() {
            let key = sanitize(k);
            target.insert(format!("{META}endpointslice_endpoint_topology_{key}"), v.clone());
            target.insert(
                format!("{META}endpointslice_endpoint_topology_present_{key}"),
                "true".to_owned(),
            );
        }
        // Unlike the endpoints role, a Node target reference wins over
        // the endpoint's node name here, as in Prometheus.
        if related.attach.node {
            if let Some(r) = ep.target_ref.as_ref().filter(|r| r.kind.as_deref() == Some("Node")) {
                related.add_node_labels(&mut target, r.name.as_deref().unwrap_or_default());
            } else if let Some(node) = &ep.node_name {
                related.add_node_labels(&mut target, node);
            }
        }
        let r = ep.target_ref.as_ref();
        if let Some(pod) = resolve_pod(
            related,
            r.and_then(|r| r.kind.as_deref()),
            r.and_then(|r| r.namespace.as_deref()),
            r.and_then(|r| r.name.as_deref()),
        ) {
            merge_pod(&mut target, pod, port.port, None, related);
            let entry = seen
                .entry(format!("{}/{}", namespace(&pod.metadata), name(&pod.metadata)))
                .or_insert((pod, Vec::new()));
            if let Some(p) = port.port {
                entry.1.push(p);
            }
        }
        group.targets.push(target);
    };
    for ep in &eps.endpoints {
        for port in eps.ports.iter().flatten() {
            for addr in &ep.addresses {
                add(&mut group, addr, ep, port);
            }
        }
    }
    add_unseen_container_ports(&mut group, &seen, related);
    group
}

fn non_primary_family(svc: &Service, eps: &EndpointSlice) -> bool {
    let Some(spec) = svc.spec.as_ref() else { return false };
    let dual =
        matches!(spec.ip_family_policy.as_deref(), Some("PreferDualStack" | "RequireDualStack"));
    let primary = spec.ip_families.as_ref().and_then(|f| f.first());
    dual && primary.is_some_and(|p| *p != eps.address_type)
}

// ------------------------------------------------------------- ingress ---

/// The source of an Ingress' group.
pub(crate) fn ingress_source(ing: &Ingress) -> String {
    format!("ingress/{}/{}", namespace(&ing.metadata), name(&ing.metadata))
}

/// One target per rule host and path; the scheme is https when a TLS entry
/// covers the host (exactly or by a `*.` wildcard of the same depth).
pub(crate) fn build_ingress(ing: &Ingress, related: &Related<'_>) -> TargetGroup {
    let mut labels = LabelSet::from([(NAMESPACE.to_owned(), namespace(&ing.metadata).to_owned())]);
    let spec = ing.spec.as_ref();
    if let Some(class) = spec.and_then(|s| s.ingress_class_name.clone()) {
        labels.extend([label("ingress_class_name", class)]);
    }
    add_object_meta(&mut labels, &ing.metadata, "ingress");
    related.add_namespace_labels(&mut labels, namespace(&ing.metadata));
    let mut group = TargetGroup { source: ingress_source(ing), labels, ..TargetGroup::default() };
    let tls_hosts: Vec<&str> = spec
        .and_then(|s| s.tls.as_ref())
        .into_iter()
        .flatten()
        .flat_map(|t| t.hosts.iter().flatten())
        .map(String::as_str)
        .collect();
    for rule in spec.and_then(|s| s.rules.as_ref()).into_iter().flatten() {
        let host = rule.host.clone().unwrap_or_default();
        let scheme =
            if tls_hosts.iter().any(|p| host_matches(p, &host)) { "https" } else { "http" };
        let paths: Vec<String> = match &rule.http {
            None => vec!["/".to_owned()],
            Some(http) => http
                .paths
                .iter()
                .map(|p| p.path.clone().filter(|p| !p.is_empty()).unwrap_or_else(|| "/".to_owned()))
                .collect(),
        };
        for path in paths {
            group.targets.push(LabelSet::from([
                (ADDRESS_LABEL.to_owned(), host.clone()),
                label("ingress_scheme", scheme),
                label("ingress_host", host.clone()),
                label("ingress_path", path),
            ]));
        }
    }
    group
}

fn host_matches(pattern: &str, host: &str) -> bool {
    if pattern == host {
        return true;
    }
    let p: Vec<&str> = pattern.split('.').collect();
    let h: Vec<&str> = host.split('.').collect();
    p.first() == Some(&"*") && p.len() == h.len() && p[1..] == h[1..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcard_tls_hosts_match_one_level() {
        assert!(host_matches("*.example.com", "a.example.com"));
        assert!(!host_matches("*.example.com", "a.b.example.com"));
        assert!(host_matches("example.com", "example.com"));
    }
}
