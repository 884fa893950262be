//! Configuration types shared by discovery mechanisms and scrape configs.
//!
//! Prometheus durations (`1h30m`), the HTTP client settings every remote
//! endpoint takes (auth, TLS, proxy) and the `kubernetes_sd_configs` block
//! live here rather than in `scrape` because discovery must not depend on
//! any other Promethium crate, while scrape configs embed them.
//!
//! Every struct rejects unknown keys, as Prometheus' strict YAML decoding
//! does, so a typo is an error rather than a silently ignored setting.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::file::FileSdConfig;
use crate::static_config::{StaticConfig, StaticConfigs};
use crate::{LabelSet, SdConfig};

/// Why a duration string is not a Prometheus duration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a valid duration string: {0:?}")]
pub struct DurationError(pub String);

/// Parses a duration in Prometheus' format: one or more `<number><unit>`
/// pairs with units `y`, `w`, `d`, `h`, `m`, `s`, `ms`, largest first, each
/// at most once (`1h30m`, `15s`, `2w`, `0`). A year is 365 days.
pub fn parse_duration(s: &str) -> Result<Duration, DurationError> {
    let err = || DurationError(s.to_owned());
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    if s.is_empty() {
        return Err(err());
    }
    const UNITS: [(&str, u64); 7] = [
        ("y", 365 * 24 * 3_600_000),
        ("w", 7 * 24 * 3_600_000),
        ("d", 24 * 3_600_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
        ("ms", 1),
    ];
    let bytes = s.as_bytes();
    let mut i = 0;
    let mut total_ms: u64 = 0;
    // Index into UNITS of the last unit used; units must strictly decrease.
    let mut last_unit: Option<usize> = None;
    while i < bytes.len() {
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        if start == i {
            return Err(err());
        }
        let n: u64 = s[start..i].parse().map_err(|_| err())?;
        let unit_start = i;
        while i < bytes.len() && !bytes[i].is_ascii_digit() {
            i += 1;
        }
        let unit = &s[unit_start..i];
        let idx = UNITS.iter().position(|(u, _)| *u == unit).ok_or_else(err)?;
        if last_unit.is_some_and(|l| idx <= l) {
            return Err(err());
        }
        last_unit = Some(idx);
        let ms = n.checked_mul(UNITS[idx].1).ok_or_else(err)?;
        total_ms = total_ms.checked_add(ms).ok_or_else(err)?;
    }
    // Go's time.Duration is an int64 of nanoseconds.
    if total_ms > (i64::MAX as u64) / 1_000_000 {
        return Err(err());
    }
    Ok(Duration::from_millis(total_ms))
}

/// Formats a duration the way Prometheus prints it (`1m`, `1h30m`, `500ms`,
/// `0s`), using the largest units that divide it exactly. The result is what
/// `__scrape_interval__` and `/api/v1/status/config` show.
pub fn format_duration(d: Duration) -> String {
    let mut ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    if ms == 0 {
        return "0s".to_owned();
    }
    let mut out = String::new();
    const UNITS: [(&str, u64); 7] = [
        ("y", 365 * 24 * 3_600_000),
        ("w", 7 * 24 * 3_600_000),
        ("d", 24 * 3_600_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
        ("ms", 1),
    ];
    // Prometheus only uses weeks and years when they divide the whole value.
    let start = if ms % UNITS[0].1 == 0 {
        0
    } else if ms % UNITS[1].1 == 0 {
        1
    } else {
        2
    };
    for (unit, size) in &UNITS[start..] {
        if ms >= *size {
            let n = ms / size;
            ms %= size;
            out.push_str(&n.to_string());
            out.push_str(unit);
        }
    }
    out
}

/// Deserializes a YAML scalar (string, number or boolean, read as text)
/// through `parse`. Errors are raised inside the visitor so the YAML
/// deserializer attaches the value's line and the field's path to them.
pub fn deserialize_scalar_with<'de, D, T>(
    d: D,
    expecting: &'static str,
    parse: impl FnOnce(&str) -> Result<T, String>,
) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
{
    struct V<F>(&'static str, F);
    impl<T, F: FnOnce(&str) -> Result<T, String>> serde::de::Visitor<'_> for V<F> {
        type Value = T;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.0)
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<T, E> {
            (self.1)(v).map_err(E::custom)
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<T, E> {
            (self.1)(&v.to_string()).map_err(E::custom)
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<T, E> {
            (self.1)(&v.to_string()).map_err(E::custom)
        }
        fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<T, E> {
            (self.1)(&v.to_string()).map_err(E::custom)
        }
        fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<T, E> {
            (self.1)(&v.to_string()).map_err(E::custom)
        }
    }
    d.deserialize_any(V(expecting, parse))
}

/// Reads a duration from a YAML scalar. Errors are raised inside the
/// visitor so the YAML deserializer attaches the value's own line and the
/// field's path to them.
struct DurationVisitor;

impl serde::de::Visitor<'_> for DurationVisitor {
    type Value = Duration;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a duration such as 1h30m")
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Duration, E> {
        parse_duration(v).map_err(E::custom)
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Duration, E> {
        // Only a bare `0` is a valid unitless duration.
        if v == 0 { Ok(Duration::ZERO) } else { Err(E::custom(DurationError(v.to_string()))) }
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Duration, E> {
        if v == 0 { Ok(Duration::ZERO) } else { Err(E::custom(DurationError(v.to_string()))) }
    }
}

/// Serde adapter for `Duration` fields written as Prometheus durations.
pub mod duration_serde {
    use super::*;

    /// Deserializes a Prometheus duration string.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        d.deserialize_str(DurationVisitor)
    }

    /// Serializes as a Prometheus duration string.
    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_duration(*d))
    }
}

/// Serde adapter for optional durations.
pub mod opt_duration_serde {
    use super::*;

    /// Deserializes an optional Prometheus duration string.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        struct Opt;
        impl<'de> serde::de::Visitor<'de> for Opt {
            type Value = Option<Duration>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration such as 1h30m")
            }
            fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                d.deserialize_str(DurationVisitor).map(Some)
            }
        }
        d.deserialize_option(Opt)
    }

    /// Serializes as a Prometheus duration string or null.
    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_str(&format_duration(*d)),
            None => s.serialize_none(),
        }
    }
}

/// A string field that also accepts YAML numbers and booleans, as Go's YAML
/// decoder does (`labels: {port: 8080}` is a string label).
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ScalarString(pub String);

impl<'de> Deserialize<'de> for ScalarString {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = ScalarString;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<ScalarString, E> {
                Ok(ScalarString(v.to_owned()))
            }
            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<ScalarString, E> {
                Ok(ScalarString(v))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<ScalarString, E> {
                Ok(ScalarString(v.to_string()))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<ScalarString, E> {
                Ok(ScalarString(v.to_string()))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<ScalarString, E> {
                Ok(ScalarString(v.to_string()))
            }
            fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<ScalarString, E> {
                Ok(ScalarString(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

/// `deserialize_with` helper: a `String` field with [`ScalarString`] semantics.
pub fn scalar_string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    ScalarString::deserialize(d).map(|s| s.0)
}

/// `deserialize_with` helper for label maps with scalar values.
pub fn scalar_label_set<'de, D: Deserializer<'de>>(d: D) -> Result<LabelSet, D::Error> {
    let m = BTreeMap::<String, ScalarString>::deserialize(d)?;
    Ok(m.into_iter().map(|(k, v)| (k, v.0)).collect())
}

/// A secret string: kept in memory as written but shown as `<secret>` when
/// the config is printed, as Prometheus does.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(pub String);

impl Secret {
    /// The secret value.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<secret>")
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("<secret>")
    }
}

/// `basic_auth`: a username and a password given inline or in a file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct BasicAuth {
    /// The user name.
    pub username: String,
    /// A file holding the user name.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub username_file: String,
    /// The password.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<Secret>,
    /// A file holding the password, read at every request.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub password_file: String,
}

/// `authorization`: an `Authorization` header of the given type.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Authorization {
    /// The scheme, `Bearer` unless set.
    #[serde(rename = "type")]
    pub auth_type: String,
    /// The credentials.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credentials: Option<Secret>,
    /// A file holding the credentials, read at every request.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub credentials_file: String,
}

impl Default for Authorization {
    fn default() -> Self {
        Authorization {
            auth_type: "Bearer".to_owned(),
            credentials: None,
            credentials_file: String::new(),
        }
    }
}

/// `tls_config`: how to verify the server and identify ourselves.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsConfig {
    /// CA certificate file to verify the server with.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub ca_file: String,
    /// Inline CA certificate.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub ca: String,
    /// Client certificate file.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub cert_file: String,
    /// Inline client certificate.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub cert: String,
    /// Client key file.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub key_file: String,
    /// Inline client key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<Secret>,
    /// Server name to verify and send as SNI.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub server_name: String,
    /// Skip certificate verification.
    pub insecure_skip_verify: bool,
    /// Minimum TLS version: `TLS10`..`TLS13`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_version: Option<TlsVersion>,
    /// Maximum TLS version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_version: Option<TlsVersion>,
}

/// A TLS protocol version as Prometheus spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize)]
pub enum TlsVersion {
    /// TLS 1.0.
    #[serde(rename = "TLS10")]
    Tls10,
    /// TLS 1.1.
    #[serde(rename = "TLS11")]
    Tls11,
    /// TLS 1.2.
    #[serde(rename = "TLS12")]
    Tls12,
    /// TLS 1.3.
    #[serde(rename = "TLS13")]
    Tls13,
}

/// `oauth2`: client credentials flow. Parsed and kept; not used for requests.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct OAuth2 {
    /// Client id.
    pub client_id: String,
    /// Client secret.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<Secret>,
    /// File holding the client secret.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub client_secret_file: String,
    /// Scopes to request.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
    /// Token endpoint.
    pub token_url: String,
    /// Extra endpoint parameters.
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub endpoint_params: std::collections::BTreeMap<String, String>,
    /// TLS settings for the token endpoint.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_config: Option<TlsConfig>,
    /// Proxy for the token endpoint.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub proxy_url: String,
    /// Hosts that bypass the proxy.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub no_proxy: String,
    /// Take the proxy from the environment.
    pub proxy_from_environment: bool,
    /// Headers sent to the proxy on CONNECT.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub proxy_connect_header: BTreeMap<String, Vec<Secret>>,
}

/// HTTP client settings, as they appear inline in scrape configs, service
/// discovery configs, alertmanager and remote endpoints. Structs that embed
/// it repeat these fields (serde cannot flatten and reject unknown keys at
/// once) and expose them through an `http_client_config()` accessor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpClientConfig {
    /// `basic_auth`.
    pub basic_auth: Option<BasicAuth>,
    /// `authorization`, including the one made from `bearer_token(_file)`.
    pub authorization: Option<Authorization>,
    /// `oauth2`.
    pub oauth2: Option<OAuth2>,
    /// `tls_config`.
    pub tls_config: TlsConfig,
    /// `proxy_url`, empty for none.
    pub proxy_url: String,
    /// `no_proxy`.
    pub no_proxy: String,
    /// `proxy_from_environment`.
    pub proxy_from_environment: bool,
    /// `follow_redirects`, true unless set.
    pub follow_redirects: bool,
    /// `enable_http2`, true unless set.
    pub enable_http2: bool,
}

/// Checks the rules Prometheus applies to an inline HTTP client config and
/// folds the deprecated `bearer_token`/`bearer_token_file` into
/// `authorization`. Returns the message Prometheus would give on failure.
#[allow(clippy::too_many_arguments)]
pub fn validate_http_client(
    basic_auth: &Option<BasicAuth>,
    authorization: &mut Option<Authorization>,
    oauth2: &Option<OAuth2>,
    bearer_token: &Option<Secret>,
    bearer_token_file: &str,
    proxy_url: &str,
    no_proxy: &str,
    proxy_from_environment: bool,
) -> Result<(), String> {
    let has_bearer = bearer_token.as_ref().is_some_and(|s| !s.0.is_empty());
    if has_bearer && !bearer_token_file.is_empty() {
        return Err("at most one of bearer_token & bearer_token_file must be configured".into());
    }
    if basic_auth.is_some() && (has_bearer || !bearer_token_file.is_empty()) {
        return Err(
            "at most one of basic_auth, oauth2, bearer_token & bearer_token_file must be configured"
                .into(),
        );
    }
    if let Some(b) = basic_auth {
        if !b.username.is_empty() && !b.username_file.is_empty() {
            return Err(
                "at most one of basic_auth username & username_file must be configured".into()
            );
        }
        if b.password.as_ref().is_some_and(|p| !p.0.is_empty()) && !b.password_file.is_empty() {
            return Err(
                "at most one of basic_auth password & password_file must be configured".into()
            );
        }
    }
    if let Some(a) = authorization.as_mut() {
        if has_bearer || !bearer_token_file.is_empty() {
            return Err(
                "authorization is not compatible with bearer_token & bearer_token_file".into()
            );
        }
        if a.credentials.as_ref().is_some_and(|c| !c.0.is_empty()) && !a.credentials_file.is_empty()
        {
            return Err(
                "at most one of authorization credentials & credentials_file must be configured"
                    .into(),
            );
        }
        if a.auth_type.is_empty() {
            a.auth_type = "Bearer".into();
        }
        if a.auth_type.eq_ignore_ascii_case("basic") {
            return Err(
                r#"authorization type cannot be set to "basic", use "basic_auth" instead"#.into()
            );
        }
        if basic_auth.is_some() || oauth2.is_some() {
            return Err(
                "at most one of basic_auth, oauth2 & authorization must be configured".into()
            );
        }
    } else if has_bearer || !bearer_token_file.is_empty() {
        *authorization = Some(Authorization {
            auth_type: "Bearer".into(),
            credentials: bearer_token.clone().filter(|s| !s.0.is_empty()),
            credentials_file: bearer_token_file.to_owned(),
        });
    }
    if oauth2.is_some() {
        if basic_auth.is_some() {
            return Err(
                "at most one of basic_auth, oauth2 & authorization must be configured".into()
            );
        }
        if has_bearer || !bearer_token_file.is_empty() {
            return Err(
                "at most one of oauth2 & bearer_token & bearer_token_file must be configured"
                    .into(),
            );
        }
    }
    if !proxy_url.is_empty() && proxy_from_environment {
        return Err(
            "if proxy_from_environment is configured, proxy_url must not be configured".into()
        );
    }
    if !no_proxy.is_empty() && proxy_url.is_empty() {
        return Err("if no_proxy is configured, proxy_url must also be configured".into());
    }
    if !proxy_url.is_empty() && !proxy_url.contains("://") {
        return Err(format!("invalid proxy_url {proxy_url:?}: missing scheme"));
    }
    Ok(())
}

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
                other => std::slice::from_ref(match other {
                    KubernetesRole::Node => &KubernetesRole::Node,
                    KubernetesRole::Pod => &KubernetesRole::Pod,
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

/// A provider to run: its name within the job (`<key>/<index>`) and config.
pub type NamedProvider = (String, Arc<dyn SdConfig>);

/// The discovery sections of one scrape (or alertmanager) config, borrowed.
///
/// This is the registry of mechanisms: adding one means a module with its
/// config struct implementing [`SdConfig`], a field here and one line in
/// [`SdConfigSet::providers`].
#[derive(Debug, Clone, Copy, Default)]
pub struct SdConfigSet<'a> {
    /// `static_configs`.
    pub static_configs: &'a [StaticConfig],
    /// `file_sd_configs`.
    pub file_sd_configs: &'a [FileSdConfig],
    /// `kubernetes_sd_configs`.
    pub kubernetes_sd_configs: &'a [KubernetesSdConfig],
}

impl SdConfigSet<'_> {
    /// The providers to run, named `<key>/<index>` (stable across reloads of
    /// the same config), and the keys present whose mechanism is not
    /// implemented yet. As in Prometheus, all `static_configs` entries form
    /// one provider.
    pub fn providers(&self) -> (Vec<NamedProvider>, Vec<&'static str>) {
        let mut out: Vec<NamedProvider> = Vec::new();
        let mut unimplemented = Vec::new();
        if !self.static_configs.is_empty() {
            out.push((
                "static_configs/0".into(),
                Arc::new(StaticConfigs(self.static_configs.to_vec())),
            ));
        }
        for (i, c) in self.file_sd_configs.iter().enumerate() {
            out.push((format!("file_sd_configs/{i}"), Arc::new(c.clone())));
        }
        // Kubernetes discovery registers here once its discoverer exists.
        if !self.kubernetes_sd_configs.is_empty() {
            unimplemented.push("kubernetes_sd_configs");
        }
        (out, unimplemented)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_like_prometheus() {
        let ok = [
            ("0", 0),
            ("0s", 0),
            ("15s", 15_000),
            ("1m", 60_000),
            ("1h30m", 5_400_000),
            ("1d", 86_400_000),
            ("2w", 14 * 86_400_000),
            ("1y", 365 * 86_400_000),
            ("500ms", 500),
            ("1s500ms", 1_500),
            ("1y2w3d4h5m6s7ms", ((((365 + 14 + 3) * 24 + 4) * 60 + 5) * 60 + 6) * 1000 + 7),
        ];
        for (s, ms) in ok {
            assert_eq!(parse_duration(s), Ok(Duration::from_millis(ms)), "{s}");
        }
        for bad in ["", "1", "1.5s", "s", "1m1h", "1s1s", "-1s", "1 s", "1S", "10x", "1h 30m"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} should fail");
        }
    }

    #[test]
    fn durations_format_like_prometheus() {
        let cases = [
            (0, "0s"),
            (15_000, "15s"),
            (60_000, "1m"),
            (5_400_000, "1h30m"),
            (86_400_000, "1d"),
            (7 * 86_400_000, "1w"),
            (8 * 86_400_000, "8d"),
            (365 * 86_400_000, "1y"),
            (1_500, "1s500ms"),
        ];
        for (ms, s) in cases {
            assert_eq!(format_duration(Duration::from_millis(ms)), s);
            assert_eq!(parse_duration(s), Ok(Duration::from_millis(ms)));
        }
    }

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
            ("role: pod\nselectors: [{role: node}]", "pod role supports only pod selectors"),
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
