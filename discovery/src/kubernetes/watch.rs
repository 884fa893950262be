//! Watching the API server and keeping the groups up to date.
//!
//! Every kind a role needs is watched with `kube`'s watcher (list, then
//! watch from the list's resource version, bookmarks, a fresh list after
//! `410 Gone`, back-off on errors). All watch streams feed one task that
//! owns the object caches, so no locks are needed: it applies each event,
//! notes which groups it affects, drains whatever else is already queued,
//! and then sends the rebuilt groups in one message. Bursts (a rollout, a
//! re-list) therefore become one update instead of thousands.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

use futures::stream::{BoxStream, SelectAll};
use futures::{Stream, StreamExt};
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Endpoints, Namespace, Node, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::Ingress;
use kube::runtime::watcher::{self, Event};
use kube::{Api, Client, Resource};
use serde::de::DeserializeOwned;
use tokio::sync::mpsc;

use super::roles::{self, Related};
use super::shared::{self, WatchKey};
use crate::TargetGroup;
use crate::config::{KubernetesAttachMetadata, KubernetesRole, KubernetesSdConfig};

/// How long to keep collecting queued events before sending an update.
const COALESCE: Duration = Duration::from_millis(50);

/// One event from any watched kind. Events are moved, never stored, so
/// the size difference between variants costs nothing worth a box.
#[allow(clippy::large_enum_variant)]
enum Change {
    Node(Event<Arc<Node>>),
    Pod(Event<Arc<Pod>>),
    Service(Event<Arc<Service>>),
    Endpoints(Event<Arc<Endpoints>>),
    EndpointSlice(Event<Arc<EndpointSlice>>),
    Ingress(Event<Arc<Ingress>>),
    Namespace(Event<Arc<Namespace>>),
    ReplicaSet(Event<Arc<ReplicaSet>>),
    Job(Event<Arc<Job>>),
}

/// The kinds a role watches, and the label/field selectors for each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Kind {
    Node,
    Pod,
    Service,
    Endpoints,
    EndpointSlice,
    Ingress,
    Namespace,
    ReplicaSet,
    Job,
}

/// The kinds `role` watches given its `attach_metadata`.
pub(crate) fn kinds_for(role: KubernetesRole, attach: &KubernetesAttachMetadata) -> Vec<Kind> {
    let mut kinds = match role {
        KubernetesRole::Node => vec![Kind::Node],
        KubernetesRole::Pod => vec![Kind::Pod],
        KubernetesRole::Service => vec![Kind::Service],
        KubernetesRole::Endpoints => vec![Kind::Endpoints, Kind::Service, Kind::Pod],
        KubernetesRole::EndpointSlice => vec![Kind::EndpointSlice, Kind::Service, Kind::Pod],
        KubernetesRole::Ingress => vec![Kind::Ingress],
    };
    let node_aware = matches!(
        role,
        KubernetesRole::Pod | KubernetesRole::Endpoints | KubernetesRole::EndpointSlice
    );
    if attach.node && node_aware {
        kinds.push(Kind::Node);
    }
    if attach.namespace && role != KubernetesRole::Node {
        kinds.push(Kind::Namespace);
    }
    // Prometheus opens these wherever pod labels are built (the pod,
    // endpoints and endpointslice roles), whatever its docs say.
    if attach.deployment && node_aware {
        kinds.push(Kind::ReplicaSet);
    }
    if (attach.job || attach.cronjob) && node_aware {
        kinds.push(Kind::Job);
    }
    kinds
}

fn role_of(kind: Kind) -> KubernetesRole {
    match kind {
        Kind::Node | Kind::Namespace | Kind::ReplicaSet | Kind::Job => KubernetesRole::Node,
        Kind::Pod => KubernetesRole::Pod,
        Kind::Service => KubernetesRole::Service,
        Kind::Endpoints => KubernetesRole::Endpoints,
        Kind::EndpointSlice => KubernetesRole::EndpointSlice,
        Kind::Ingress => KubernetesRole::Ingress,
    }
}

fn watch_config(cfg: &KubernetesSdConfig, kind: Kind) -> watcher::Config {
    let mut wc = watcher::Config::default();
    // Prometheus narrows neither the namespace watch nor the workload
    // watches behind the pod controller labels.
    if matches!(kind, Kind::Namespace | Kind::ReplicaSet | Kind::Job) {
        return wc;
    }
    for sel in cfg.selectors.iter().filter(|s| s.role == role_of(kind)) {
        if !sel.label.is_empty() {
            wc = wc.labels(&sel.label);
        }
        if !sel.field.is_empty() {
            wc = wc.fields(&sel.field);
        }
    }
    wc
}

/// Where a discoverer's watches come from: its client and its config
/// (whose connection settings decide which running watches it may share).
struct Source<'a> {
    client: &'a Client,
    cfg: &'a KubernetesSdConfig,
    kind: Kind,
    wc: watcher::Config,
}

fn watch<K>(
    src: &Source<'_>,
    namespaces: &[String],
    wrap: fn(Event<Arc<K>>) -> Change,
) -> Vec<BoxStream<'static, Change>>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + Debug
        + Send
        + Sync
        + 'static,
    K::DynamicType: Default,
{
    if namespaces.is_empty() {
        let key = WatchKey::new(src.cfg, src.kind, None, &src.wc);
        let api = Api::all(src.client.clone());
        return vec![stream(shared::subscribe(key, api, src.wc.clone()), wrap)];
    }
    namespaces
        .iter()
        .map(|ns| {
            let key = WatchKey::new(src.cfg, src.kind, Some(ns), &src.wc);
            let api = Api::namespaced(src.client.clone(), ns);
            stream(shared::subscribe(key, api, src.wc.clone()), wrap)
        })
        .collect()
}

fn watch_cluster<K>(
    src: &Source<'_>,
    wrap: fn(Event<Arc<K>>) -> Change,
) -> BoxStream<'static, Change>
where
    K: Resource<Scope = k8s_openapi::ClusterResourceScope>
        + Clone
        + DeserializeOwned
        + Debug
        + Send
        + Sync
        + 'static,
    K::DynamicType: Default,
{
    let key = WatchKey::new(src.cfg, src.kind, None, &src.wc);
    stream(shared::subscribe(key, Api::<K>::all(src.client.clone()), src.wc.clone()), wrap)
}

fn stream<K: Send + 'static>(
    s: impl Stream<Item = Result<Event<K>, watcher::Error>> + Send + 'static,
    wrap: fn(Event<K>) -> Change,
) -> BoxStream<'static, Change> {
    s.filter_map(move |r| async move {
        match r {
            Ok(ev) => Some(wrap(ev)),
            Err(e) => {
                // The back-off wrapper retries; keep the last known groups.
                tracing::warn!(error = %e, "kubernetes watch failed; retrying");
                None
            }
        }
    })
    .boxed()
}

/// A cache of one kind, keyed by `namespace/name` (or name), tracking the
/// keys seen during a (re-)list so objects gone meanwhile are dropped.
struct Cache<K> {
    objects: HashMap<String, Arc<K>>,
    relisting: Option<BTreeSet<String>>,
}

impl<K: Resource> Cache<K> {
    fn new() -> Self {
        Cache { objects: HashMap::new(), relisting: None }
    }

    fn key(obj: &K) -> String {
        match obj.meta().namespace.as_deref() {
            Some(ns) => format!("{ns}/{}", obj.meta().name.as_deref().unwrap_or_default()),
            None => obj.meta().name.clone().unwrap_or_default(),
        }
    }

    /// Applies an event; returns the keys that changed.
    fn apply(&mut self, ev: Event<Arc<K>>) -> Vec<String> {
        match ev {
            Event::Apply(obj) => {
                let k = Self::key(&obj);
                self.objects.insert(k.clone(), obj);
                vec![k]
            }
            Event::Delete(obj) => {
                let k = Self::key(&obj);
                self.objects.remove(&k);
                vec![k]
            }
            Event::Init => {
                self.relisting = Some(BTreeSet::new());
                Vec::new()
            }
            Event::InitApply(obj) => {
                let k = Self::key(&obj);
                if let Some(seen) = &mut self.relisting {
                    seen.insert(k.clone());
                }
                self.objects.insert(k.clone(), obj);
                vec![k]
            }
            Event::InitDone => {
                let Some(seen) = self.relisting.take() else { return Vec::new() };
                let gone: Vec<String> =
                    self.objects.keys().filter(|k| !seen.contains(*k)).cloned().collect();
                for k in &gone {
                    self.objects.remove(k);
                }
                gone
            }
        }
    }
}

/// Which groups must be rebuilt.
#[derive(Default)]
struct Dirty {
    keys: BTreeSet<String>,
    all: bool,
}

/// The state of one running Kubernetes discoverer.
struct State {
    role: KubernetesRole,
    nodes: Cache<Node>,
    pods: Cache<Pod>,
    services: Cache<Service>,
    endpoints: Cache<Endpoints>,
    slices: Cache<EndpointSlice>,
    ingresses: Cache<Ingress>,
    namespaces: Cache<Namespace>,
    replicasets: Cache<ReplicaSet>,
    jobs: Cache<Job>,
    attach: KubernetesAttachMetadata,
    /// Sources sent with targets, so deletions can be sent as empty groups.
    sent: BTreeSet<String>,
}

impl State {
    fn apply(&mut self, change: Change, dirty: &mut Dirty) {
        use KubernetesRole as R;
        let role = self.role;
        let primary = |keys: Vec<String>, dirty: &mut Dirty| dirty.keys.extend(keys);
        match change {
            Change::Node(ev) => {
                let keys = self.nodes.apply(ev);
                if role == R::Node {
                    primary(keys, dirty)
                } else if !keys.is_empty() {
                    dirty.all = true
                }
            }
            Change::Pod(ev) => {
                let keys = self.pods.apply(ev);
                if role == R::Pod {
                    primary(keys, dirty)
                } else if !keys.is_empty() {
                    dirty.all = true
                }
            }
            Change::Service(ev) => {
                let keys = self.services.apply(ev);
                // An endpoints object is named after its service, so only
                // that group depends on the service.
                if role == R::Service || role == R::Endpoints {
                    primary(keys, dirty)
                } else if !keys.is_empty() {
                    dirty.all = true
                }
            }
            Change::Endpoints(ev) => primary(self.endpoints.apply(ev), dirty),
            Change::EndpointSlice(ev) => primary(self.slices.apply(ev), dirty),
            Change::Ingress(ev) => primary(self.ingresses.apply(ev), dirty),
            Change::Namespace(ev) => {
                if !self.namespaces.apply(ev).is_empty() {
                    dirty.all = true;
                }
            }
            Change::ReplicaSet(ev) => {
                let keys = self.replicasets.apply(ev);
                self.owners_changed("ReplicaSet", &keys, dirty);
            }
            Change::Job(ev) => {
                let keys = self.jobs.apply(ev);
                self.owners_changed("Job", &keys, dirty);
            }
        }
    }

    /// Marks the groups of pods controlled by the changed owners (`kind`,
    /// `namespace/name` keys): only their pod labels depend on them.
    fn owners_changed(&self, kind: &str, keys: &[String], dirty: &mut Dirty) {
        if keys.is_empty() {
            return;
        }
        if self.role != KubernetesRole::Pod {
            dirty.all = true;
            return;
        }
        for (key, pod) in &self.pods.objects {
            let owner = roles::controller_of(&pod.metadata).filter(|o| o.kind == kind);
            let ns = pod.metadata.namespace.as_deref().unwrap_or_default();
            if owner.is_some_and(|o| keys.iter().any(|k| *k == format!("{ns}/{}", o.name))) {
                dirty.keys.insert(key.clone());
            }
        }
    }

    fn related(&self) -> Related<'_> {
        Related {
            pods: &self.pods.objects,
            services: &self.services.objects,
            nodes: &self.nodes.objects,
            namespaces: &self.namespaces.objects,
            replicasets: &self.replicasets.objects,
            jobs: &self.jobs.objects,
            attach: &self.attach,
        }
    }

    /// Rebuilds the dirty groups. Keys no longer present become empty groups.
    fn build(&mut self, dirty: Dirty) -> Vec<TargetGroup> {
        use KubernetesRole as R;
        // Taken out so the caches can be borrowed while it is updated.
        let mut sent = std::mem::take(&mut self.sent);
        let related = self.related();
        let mut out: BTreeMap<String, TargetGroup> = BTreeMap::new();
        let keys: Vec<String> = if dirty.all {
            let mut all: Vec<String> = match self.role {
                R::Node => self.nodes.objects.keys().cloned().collect(),
                R::Pod => self.pods.objects.keys().cloned().collect(),
                R::Service => self.services.objects.keys().cloned().collect(),
                R::Endpoints => self.endpoints.objects.keys().cloned().collect(),
                R::EndpointSlice => self.slices.objects.keys().cloned().collect(),
                R::Ingress => self.ingresses.objects.keys().cloned().collect(),
            };
            all.extend(dirty.keys);
            all
        } else {
            dirty.keys.into_iter().collect()
        };
        for key in keys {
            let (source, group) = match self.role {
                R::Node => match self.nodes.objects.get(&key).map(|n| roles::build_node(n)) {
                    // A node without an address: Prometheus sends no update.
                    Some(None) => continue,
                    built => (format!("node/{key}"), built.flatten()),
                },
                R::Pod => (
                    format!("pod/{key}"),
                    self.pods.objects.get(&key).map(|p| roles::build_pod(p, &related)),
                ),
                R::Service => (
                    format!("svc/{key}"),
                    self.services.objects.get(&key).map(|s| roles::build_service(s, &related)),
                ),
                R::Endpoints => (
                    format!("endpoints/{key}"),
                    self.endpoints.objects.get(&key).map(|e| roles::build_endpoints(e, &related)),
                ),
                R::EndpointSlice => (
                    format!("endpointslice/{key}"),
                    self.slices.objects.get(&key).map(|e| roles::build_endpointslice(e, &related)),
                ),
                R::Ingress => (
                    format!("ingress/{key}"),
                    self.ingresses.objects.get(&key).map(|i| roles::build_ingress(i, &related)),
                ),
            };
            let group = group.unwrap_or_else(|| TargetGroup {
                source: source.clone(),
                ..TargetGroup::default()
            });
            if group.targets.is_empty() && !sent.contains(&group.source) {
                // Nothing was sent for this source; an empty group is noise.
                continue;
            }
            if group.targets.is_empty() {
                sent.remove(&group.source);
            } else {
                sent.insert(group.source.clone());
            }
            out.insert(group.source.clone(), group);
        }
        self.sent = sent;
        out.into_values().collect()
    }
}

/// Runs discovery for one config until the task is aborted.
pub(crate) async fn run(
    client: Client,
    cfg: KubernetesSdConfig,
    namespaces: Vec<String>,
    updates: mpsc::Sender<Vec<TargetGroup>>,
) {
    let mut streams: SelectAll<BoxStream<'static, Change>> = SelectAll::new();
    for kind in kinds_for(cfg.role, &cfg.attach_metadata) {
        let src = Source { client: &client, cfg: &cfg, kind, wc: watch_config(&cfg, kind) };
        let (src, namespaces) = (&src, &namespaces);
        match kind {
            Kind::Node => streams.push(watch_cluster::<Node>(src, Change::Node)),
            Kind::Namespace => streams.push(watch_cluster::<Namespace>(src, Change::Namespace)),
            Kind::Pod => streams.extend(watch::<Pod>(src, namespaces, Change::Pod)),
            Kind::Service => streams.extend(watch::<Service>(src, namespaces, Change::Service)),
            Kind::Endpoints => {
                streams.extend(watch::<Endpoints>(src, namespaces, Change::Endpoints))
            }
            Kind::EndpointSlice => {
                streams.extend(watch::<EndpointSlice>(src, namespaces, Change::EndpointSlice));
            }
            Kind::Ingress => streams.extend(watch::<Ingress>(src, namespaces, Change::Ingress)),
            Kind::ReplicaSet => {
                streams.extend(watch::<ReplicaSet>(src, namespaces, Change::ReplicaSet))
            }
            Kind::Job => streams.extend(watch::<Job>(src, namespaces, Change::Job)),
        }
    }
    let mut state = State {
        role: cfg.role,
        nodes: Cache::new(),
        pods: Cache::new(),
        services: Cache::new(),
        endpoints: Cache::new(),
        slices: Cache::new(),
        ingresses: Cache::new(),
        namespaces: Cache::new(),
        replicasets: Cache::new(),
        jobs: Cache::new(),
        attach: cfg.attach_metadata.clone(),
        sent: BTreeSet::new(),
    };
    // Prometheus sends an initial (possibly empty) set once caches sync;
    // an empty message lets the manager mark this provider as started.
    if updates.send(Vec::new()).await.is_err() {
        return;
    }
    while let Some(first) = streams.next().await {
        let mut dirty = Dirty::default();
        state.apply(first, &mut dirty);
        // Coalesce whatever arrives within a short window.
        let deadline = tokio::time::Instant::now() + COALESCE;
        while let Ok(Some(change)) = tokio::time::timeout_at(deadline, streams.next()).await {
            state.apply(change, &mut dirty);
        }
        let groups = state.build(dirty);
        if !groups.is_empty() && updates.send(groups).await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_watch_what_they_need() {
        let none = KubernetesAttachMetadata::default();
        let all = KubernetesAttachMetadata {
            node: true,
            namespace: true,
            deployment: true,
            job: true,
            cronjob: true,
        };
        assert_eq!(
            kinds_for(KubernetesRole::Endpoints, &none),
            [Kind::Endpoints, Kind::Service, Kind::Pod]
        );
        assert_eq!(
            kinds_for(KubernetesRole::Pod, &all),
            [Kind::Pod, Kind::Node, Kind::Namespace, Kind::ReplicaSet, Kind::Job]
        );
        assert_eq!(kinds_for(KubernetesRole::Node, &all), [Kind::Node]);
        assert_eq!(kinds_for(KubernetesRole::Service, &all), [Kind::Service, Kind::Namespace]);
    }

    #[test]
    fn relist_drops_objects_gone_meanwhile() {
        let mut cache: Cache<Pod> = Cache::new();
        let pod = |name: &str| {
            let mut p = Pod::default();
            p.metadata.name = Some(name.into());
            p.metadata.namespace = Some("ns".into());
            p
        };
        cache.apply(Event::Apply(Arc::new(pod("a"))));
        cache.apply(Event::Apply(Arc::new(pod("b"))));
        cache.apply(Event::Init);
        cache.apply(Event::InitApply(Arc::new(pod("a"))));
        let gone = cache.apply(Event::InitDone);
        assert_eq!(gone, ["ns/b"]);
        assert!(cache.objects.contains_key("ns/a"));
    }
}
