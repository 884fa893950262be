//! `kubernetes_sd_configs`: parsed and validated as Prometheus does. The
//! discoverer itself lives in its own module.

use serde::{Deserialize, Serialize};

use super::{
    Authorization, BasicAuth, HttpClientConfig, OAuth2, Secret, TlsConfig, validate_http_client,
};

fn default_true() -> bool {
    true
}

/// The Kubernetes object kind a `kubernetes_sd_configs` entry discovers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum KubernetesRole {
    /// Nodes.
    Node,
    /// Pods.
    Pod,
    /// Services.
    Service,
    /// Endpoints.
    Endpoints,
    /// EndpointSlices.
    #[serde(rename = "endpointslice")]
    EndpointSlice,
    /// Ingresses.
    Ingress,
}

impl KubernetesRole {
    /// The name as written in the config.
    pub fn as_str(self) -> &'static str {
        match self {
            KubernetesRole::Node => "node",
            KubernetesRole::Pod => "pod",
            KubernetesRole::Service => "service",
            KubernetesRole::Endpoints => "endpoints",
            KubernetesRole::EndpointSlice => "endpointslice",
            KubernetesRole::Ingress => "ingress",
        }
    }
}

/// `namespaces` of a Kubernetes SD config.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct KubernetesNamespaces {
    /// Namespaces to watch; empty means all.
    pub names: Vec<String>,
    /// Also watch the namespace Prometheus runs in.
    pub own_namespace: bool,
}

/// One `selectors` entry: label/field selectors for one role's watch.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct KubernetesSelector {
    /// The role whose watch the selector narrows.
    pub role: KubernetesRole,
    /// Label selector, as `kubectl -l` takes it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub label: String,
    /// Field selector.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub field: String,
}

/// `attach_metadata`: extra objects whose labels are attached to targets.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct KubernetesAttachMetadata {
    /// Attach node metadata (pod, endpoints and endpointslice roles).
    pub node: bool,
    /// Attach namespace metadata.
    pub namespace: bool,
    /// Attach the name of the Deployment owning a pod's ReplicaSet
    /// (`__meta_kubernetes_pod_deployment_name`; watches ReplicaSets).
    pub deployment: bool,
    /// Attach the name of the Job owning a pod
    /// (`__meta_kubernetes_pod_job_name`; watches Jobs).
    pub job: bool,
    /// Attach the name of the CronJob owning a pod's Job
    /// (`__meta_kubernetes_pod_cronjob_name`; watches Jobs).
    pub cronjob: bool,
}

/// A `kubernetes_sd_configs` entry. Parsed and validated here; the
/// discoverer lives in the `kubernetes` module.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct KubernetesSdConfig {
    /// What to discover.
    pub role: KubernetesRole,
    /// API server URL; empty means in-cluster configuration.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_server: String,
    /// A kubeconfig file to read the API server and credentials from.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kubeconfig_file: String,
    /// Which namespaces to watch.
    #[serde(default)]
    pub namespaces: KubernetesNamespaces,
    /// Per-role label and field selectors.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub selectors: Vec<KubernetesSelector>,
    /// Extra metadata to attach.
    #[serde(default)]
    pub attach_metadata: KubernetesAttachMetadata,
    /// `basic_auth`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basic_auth: Option<BasicAuth>,
    /// `authorization`; `bearer_token(_file)` are folded into it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization: Option<Authorization>,
    /// `oauth2`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oauth2: Option<OAuth2>,
    /// Deprecated spelling of `authorization.credentials`.
    #[serde(default, skip_serializing)]
    pub bearer_token: Option<Secret>,
    /// Deprecated spelling of `authorization.credentials_file`.
    #[serde(default, skip_serializing)]
    pub bearer_token_file: String,
    /// `tls_config`.
    #[serde(default)]
    pub tls_config: TlsConfig,
    /// `proxy_url`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub proxy_url: String,
    /// `no_proxy`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub no_proxy: String,
    /// `proxy_from_environment`.
    #[serde(default)]
    pub proxy_from_environment: bool,
    /// `proxy_connect_header`.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub proxy_connect_header: std::collections::BTreeMap<String, Vec<Secret>>,
    /// `http_headers` (kept as written).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_headers: Option<serde_yaml::Value>,
    /// `follow_redirects`.
    #[serde(default = "default_true")]
    pub follow_redirects: bool,
    /// `enable_http2`.
    #[serde(default = "default_true")]
    pub enable_http2: bool,
}

impl KubernetesSdConfig {
    /// Checks the rules Prometheus applies to a Kubernetes SD config.
    pub fn validate(&mut self) -> Result<(), String> {
        validate_http_client(
            &self.basic_auth,
            &mut self.authorization,
            &self.oauth2,
            &self.bearer_token,
            &self.bearer_token_file,
            &self.proxy_url,
            &self.no_proxy,
            self.proxy_from_environment,
        )?;
        self.bearer_token = None;
        self.bearer_token_file.clear();
        if !self.api_server.is_empty() && !self.kubeconfig_file.is_empty() {
            return Err("cannot use 'kubeconfig_file' and 'api_server' simultaneously".into());
        }
        // Anything that differs from the default HTTP client settings.
        let custom_http = self.basic_auth.is_some()
            || self.authorization.is_some()
            || self.oauth2.is_some()
            || self.tls_config != TlsConfig::default()
            || !self.proxy_url.is_empty()
            || !self.no_proxy.is_empty()
            || self.proxy_from_environment
            || !self.proxy_connect_header.is_empty()
            || self.http_headers.is_some()
            || !self.follow_redirects
            || !self.enable_http2;
        if !self.kubeconfig_file.is_empty() && custom_http {
            return Err(
                "cannot use a custom HTTP client configuration together with 'kubeconfig_file'"
                    .into(),
            );
        }
        if self.api_server.is_empty() && custom_http {
            return Err("to use custom HTTP client configuration please provide the 'api_server' URL explicitly"
                .into());
        }
        if !self.api_server.is_empty() && self.namespaces.own_namespace {
            return Err(
                "cannot use 'api_server' and 'namespaces.own_namespace' simultaneously".into()
            );
        }
        if !self.kubeconfig_file.is_empty() && self.namespaces.own_namespace {
            return Err(
                "cannot use 'kubeconfig_file' and 'namespaces.own_namespace' simultaneously".into(),
            );
        }
        if !self.api_server.is_empty() && !self.api_server.contains("://") {
            return Err(format!("invalid api_server URL {:?}: missing scheme", self.api_server));
        }
        let mut seen = std::collections::HashSet::new();
        for sel in &self.selectors {
            if !seen.insert(sel.role) {
                return Err(format!("duplicated selector role: {}", sel.role.as_str()));
            }
            let allowed: &[KubernetesRole] = match self.role {
                KubernetesRole::Endpoints => {
                    &[KubernetesRole::Pod, KubernetesRole::Service, KubernetesRole::Endpoints]
                }
                KubernetesRole::EndpointSlice => {
                    &[KubernetesRole::Pod, KubernetesRole::Service, KubernetesRole::EndpointSlice]
                }
                // The pod role's node selectors narrow the node watch of
                // `attach_metadata.node`, as in Prometheus.
                KubernetesRole::Pod => &[KubernetesRole::Pod, KubernetesRole::Node],
                other => std::slice::from_ref(match other {
                    KubernetesRole::Node => &KubernetesRole::Node,
                    KubernetesRole::Service => &KubernetesRole::Service,
                    _ => &KubernetesRole::Ingress,
                }),
            };
            if !allowed.contains(&sel.role) {
                let names: Vec<&str> = allowed.iter().map(|r| r.as_str()).collect();
                return Err(format!(
                    "{} role supports only {} selectors",
                    self.role.as_str(),
                    names.join(", ")
                ));
            }
            validate_label_selector(&sel.label)
                .map_err(|e| format!("invalid label selector {:?}: {e}", sel.label))?;
            validate_field_selector(&sel.field)?;
        }
        Ok(())
    }

    /// The inline HTTP client settings.
    pub fn http_client_config(&self) -> HttpClientConfig {
        HttpClientConfig {
            basic_auth: self.basic_auth.clone(),
            authorization: self.authorization.clone(),
            oauth2: self.oauth2.clone(),
            tls_config: self.tls_config.clone(),
            proxy_url: self.proxy_url.clone(),
            no_proxy: self.no_proxy.clone(),
            proxy_from_environment: self.proxy_from_environment,
            follow_redirects: self.follow_redirects,
            enable_http2: self.enable_http2,
        }
    }
}

/// A field selector: comma-separated `key=v`, `key==v` or `key!=v`
/// (Kubernetes' `fields.ParseSelector`; no existence or set tests).
fn validate_field_selector(s: &str) -> Result<(), String> {
    if s.trim().is_empty() {
        return Ok(());
    }
    for part in s.split(',') {
        let ok = ["!=", "==", "="]
            .iter()
            .any(|op| part.split_once(op).is_some_and(|(k, _)| !k.trim().is_empty()));
        if !ok {
            return Err(format!("invalid selector: '{s}'; can't understand '{part}'"));
        }
    }
    Ok(())
}

/// A light syntax check of a Kubernetes label selector: comma-separated
/// requirements, each `key`, `!key`, `key=v`, `key==v`, `key!=v` or
/// `key in (a,b)` / `key notin (a,b)`.
fn validate_label_selector(s: &str) -> Result<(), String> {
    if s.trim().is_empty() {
        return Ok(());
    }
    // Split on commas outside parentheses.
    let mut depth = 0i32;
    let mut parts = Vec::new();
    let mut start = 0;
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
        if depth < 0 {
            return Err("unbalanced parentheses".into());
        }
    }
    if depth != 0 {
        return Err("unbalanced parentheses".into());
    }
    parts.push(&s[start..]);
    for part in parts {
        let p = part.trim();
        if p.is_empty() {
            return Err("empty requirement".into());
        }
        let key_ok = |k: &str| {
            !k.is_empty()
                && k.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
        };
        let ok = if let Some(k) = p.strip_prefix('!') {
            key_ok(k.trim())
        } else if let Some((k, _)) =
            p.split_once("!=").or_else(|| p.split_once("==")).or_else(|| p.split_once('='))
        {
            key_ok(k.trim())
        } else if let Some((k, rest)) = p.split_once(" notin ").or_else(|| p.split_once(" in ")) {
            let rest = rest.trim();
            key_ok(k.trim()) && rest.starts_with('(') && rest.ends_with(')')
        } else {
            key_ok(p)
        };
        if !ok {
            return Err(format!("invalid requirement {p:?}"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::TlsVersion;

    fn k8s(yaml: &str) -> Result<KubernetesSdConfig, String> {
        let mut c: KubernetesSdConfig = serde_yaml::from_str(yaml).map_err(|e| e.to_string())?;
        c.validate()?;
        Ok(c)
    }

    #[test]
    fn kubernetes_sd_config_parses_every_field() {
        let c = k8s(r#"
role: endpoints
api_server: https://k8s.example:6443
namespaces: {names: [default, monitoring], own_namespace: false}
selectors:
  - {role: pod, label: "app=web,tier in (a,b)"}
  - {role: service, field: "metadata.name!=x"}
attach_metadata: {node: true, namespace: true}
bearer_token_file: /var/run/token
tls_config: {ca_file: /ca.crt, insecure_skip_verify: true, min_version: TLS12}
proxy_url: http://proxy:3128
follow_redirects: false
enable_http2: false
"#)
        .expect("valid");
        assert_eq!(c.role, KubernetesRole::Endpoints);
        assert_eq!(c.namespaces.names, vec!["default", "monitoring"]);
        assert!(
            !c.namespaces.own_namespace && c.attach_metadata.node && c.attach_metadata.namespace
        );
        assert_eq!(c.selectors.len(), 2);
        let in_cluster =
            k8s("role: pod\nnamespaces: {own_namespace: true}").expect("valid in-cluster");
        assert!(in_cluster.namespaces.own_namespace);
        let auth = c.authorization.as_ref().expect("bearer token folded into authorization");
        assert_eq!(auth.credentials_file, "/var/run/token");
        assert_eq!(c.tls_config.min_version, Some(TlsVersion::Tls12));
        assert!(!c.follow_redirects && !c.enable_http2);
    }

    #[test]
    fn kubernetes_sd_config_rejects_what_prometheus_rejects() {
        let bad = [
            ("role: pods", "unknown variant"),
            ("api_server: http://x", "missing field `role`"),
            ("role: pod\nfoo: 1", "unknown field `foo`"),
            ("role: pod\napi_server: http://a\nkubeconfig_file: /k", "simultaneously"),
            ("role: pod\nbearer_token: x", "api_server"),
            (
                "role: pod\nselectors: [{role: service}]",
                "pod role supports only pod, node selectors",
            ),
            ("role: endpoints\nselectors: [{role: pod}, {role: pod}]", "duplicated selector role"),
            ("role: pod\nselectors: [{role: pod, label: 'a=b,'}]", "invalid label selector"),
            (
                "role: pod\nselectors: [{role: pod, field: 'metadata.status-Running'}]",
                "invalid selector: 'metadata.status-Running'; can't understand 'metadata.status-Running'",
            ),
            (
                "role: pod\nkubeconfig_file: /k\nnamespaces: {own_namespace: true}",
                "'namespaces.own_namespace'",
            ),
            (
                "role: pod\napi_server: http://a\nnamespaces: {own_namespace: true}",
                "'namespaces.own_namespace'",
            ),
            (
                "role: pod\nkubeconfig_file: /k\ntls_config: {insecure_skip_verify: true}",
                "a custom HTTP client",
            ),
            ("role: pod\nfollow_redirects: false", "provide the 'api_server' URL"),
            (
                "role: pod\napi_server: http://a\nbearer_token: x\nbearer_token_file: y",
                "at most one",
            ),
            (
                "role: pod\napi_server: http://a\nbasic_auth: {username: u}\nbearer_token: x",
                "at most one",
            ),
            ("role: pod\nnamespaces: {names: [a], own: true}", "unknown field `own`"),
        ];
        for (yaml, want) in bad {
            let err = k8s(yaml).expect_err(yaml);
            assert!(err.contains(want), "{yaml:?}: {err} does not contain {want:?}");
        }
    }
}
