//! Kubernetes service discovery (`kubernetes_sd_configs`).
//!
//! For each role (`node`, `pod`, `service`, `endpoints`, `endpointslice`,
//! `ingress`) the discoverer watches the kinds it needs through `kube`'s
//! watchers and turns every object into a target group whose source,
//! targets and `__meta_kubernetes_*` labels are the ones Prometheus
//! produces, so relabel rules written for Prometheus select the same
//! targets. [`required_rbac_rules`] lists what the service account must be
//! allowed to read, derived from the same table the watchers use.

mod client;
mod labels;
mod roles;
mod shared;
#[cfg(feature = "test-support")]
pub mod testing;
mod watch;

use tokio::sync::mpsc;

pub use client::ClientError;

use crate::config::{KubernetesAttachMetadata, KubernetesRole, KubernetesSdConfig};
use crate::{Discoverer, DiscoveryError, DiscoveryFuture, SdConfig, TargetGroup};

impl SdConfig for KubernetesSdConfig {
    fn key(&self) -> &'static str {
        "kubernetes_sd_configs"
    }

    fn discoverer(&self) -> Result<Box<dyn Discoverer>, DiscoveryError> {
        Ok(Box::new(KubernetesDiscoverer { config: self.clone() }))
    }
}

/// A running `kubernetes_sd_configs` entry.
#[derive(Debug)]
pub struct KubernetesDiscoverer {
    config: KubernetesSdConfig,
}

impl KubernetesDiscoverer {
    /// The namespaces to watch; empty means all.
    fn namespaces(&self) -> Vec<String> {
        let mut names = self.config.namespaces.names.clone();
        if self.config.namespaces.own_namespace {
            match client::own_namespace() {
                Some(ns) => names.push(ns),
                None => tracing::warn!(
                    "own_namespace is set but the service account namespace file is not readable"
                ),
            }
        }
        names.sort();
        names.dedup();
        names
    }
}

impl Discoverer for KubernetesDiscoverer {
    fn run(self: Box<Self>, updates: mpsc::Sender<Vec<TargetGroup>>) -> DiscoveryFuture {
        Box::pin(async move {
            let namespaces = self.namespaces();
            let mut backoff = std::time::Duration::from_millis(500);
            // Building the client can fail transiently (API server not yet
            // reachable for a kubeconfig with exec auth, files not mounted
            // yet); retry with back-off rather than giving up.
            let client = loop {
                match client::kube_config(&self.config)
                    .await
                    .and_then(|c| kube::Client::try_from(c).map_err(ClientError::from))
                {
                    Ok(client) => break client,
                    Err(e) => {
                        tracing::error!(error = %e, role = self.config.role.as_str(), "cannot create kubernetes client");
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(std::time::Duration::from_secs(30));
                    }
                }
            };
            watch::run(client, self.config, namespaces, updates).await;
        })
    }
}

/// One RBAC rule the discovery service account needs.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct RbacRule {
    /// The API group (`""` for the core group).
    pub api_group: &'static str,
    /// The resource, plural.
    pub resource: &'static str,
    /// The verbs, always `get`, `list`, `watch`.
    pub verbs: [&'static str; 3],
}

/// The read rights every role needs, including the `node` and `namespace`
/// `attach_metadata` extras (nodes for pod/endpoints/endpointslice,
/// namespaces for all but node). The workload extras (`deployment`, `job`,
/// `cronjob`) are left out: they are off by default and need
/// [`workload_rbac_rules`]. Derived from the same table that decides which
/// watches a role opens.
pub fn required_rbac_rules() -> Vec<RbacRule> {
    let attach = KubernetesAttachMetadata { node: true, namespace: true, ..Default::default() };
    rbac_rules(&attach)
}

/// The extra read rights `attach_metadata: {deployment, job, cronjob}`
/// need: `replicasets` (`apps`) and `jobs` (`batch`).
pub fn workload_rbac_rules() -> Vec<RbacRule> {
    let attach = KubernetesAttachMetadata {
        deployment: true,
        job: true,
        cronjob: true,
        ..Default::default()
    };
    let base = required_rbac_rules();
    rbac_rules(&attach).into_iter().filter(|r| !base.contains(r)).collect()
}

fn rbac_rules(attach: &KubernetesAttachMetadata) -> Vec<RbacRule> {
    let roles = [
        KubernetesRole::Node,
        KubernetesRole::Pod,
        KubernetesRole::Service,
        KubernetesRole::Endpoints,
        KubernetesRole::EndpointSlice,
        KubernetesRole::Ingress,
    ];
    let mut rules: Vec<RbacRule> = roles
        .iter()
        .flat_map(|&r| watch::kinds_for(r, attach))
        .map(|k| {
            let (api_group, resource) = match k {
                watch::Kind::Node => ("", "nodes"),
                watch::Kind::Pod => ("", "pods"),
                watch::Kind::Service => ("", "services"),
                watch::Kind::Endpoints => ("", "endpoints"),
                watch::Kind::Namespace => ("", "namespaces"),
                watch::Kind::EndpointSlice => ("discovery.k8s.io", "endpointslices"),
                watch::Kind::Ingress => ("networking.k8s.io", "ingresses"),
                watch::Kind::ReplicaSet => ("apps", "replicasets"),
                watch::Kind::Job => ("batch", "jobs"),
            };
            RbacRule { api_group, resource, verbs: ["get", "list", "watch"] }
        })
        .collect();
    rules.sort();
    rules.dedup();
    rules
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rbac_covers_every_watched_kind() {
        let resources: Vec<_> = required_rbac_rules().iter().map(|r| r.resource).collect();
        for r in
            ["nodes", "pods", "services", "endpoints", "endpointslices", "ingresses", "namespaces"]
        {
            assert!(resources.contains(&r), "{r} missing");
        }
        let workload: Vec<_> =
            workload_rbac_rules().iter().map(|r| (r.api_group, r.resource)).collect();
        assert_eq!(workload, [("apps", "replicasets"), ("batch", "jobs")]);
    }
}
