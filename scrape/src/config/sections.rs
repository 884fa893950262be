//! Top-level sections besides `global` and `scrape_configs`: `alerting` and
//! `storage`. They are typed so that mistakes in them are reported like
//! mistakes anywhere else, and so the server can read retention settings.

use std::time::Duration;

use promethium_discovery::config::{
    Authorization, BasicAuth, KubernetesSdConfig, OAuth2, SdConfigSet, Secret, TlsConfig,
    duration_serde, opt_duration_serde,
};
use promethium_discovery::file::FileSdConfig;
use promethium_discovery::static_config::StaticConfig;
use serde::{Deserialize, Serialize};

use super::{ByteSize, Scheme};
use crate::relabel::RelabelConfig;

/// `alerting`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertingConfig {
    /// Rules applied to every alert before it is sent.
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "super::non_null::alert_relabel_configs"
    )]
    pub alert_relabel_configs: Vec<RelabelConfig>,
    /// Where alerts are sent.
    pub alertmanagers: Vec<AlertmanagerConfig>,
}

/// The Alertmanager API version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertmanagerApiVersion {
    /// v1, removed from Alertmanager; rejected when loading as Prometheus 3 does.
    V1,
    /// v2 (the default).
    #[default]
    V2,
}

fn default_true() -> bool {
    true
}

fn default_timeout() -> Duration {
    Duration::from_secs(10)
}

fn default_path_prefix() -> String {
    "/".to_owned()
}

/// One `alertmanagers` entry.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AlertmanagerConfig {
    /// Per-push timeout; 10s.
    #[serde(default = "default_timeout", with = "duration_serde")]
    pub timeout: Duration,
    /// API version; v2.
    #[serde(default)]
    pub api_version: AlertmanagerApiVersion,
    /// Path prefix of the API; `/`.
    #[serde(default = "default_path_prefix")]
    pub path_prefix: String,
    /// `http` or `https`.
    #[serde(default)]
    pub scheme: Scheme,
    /// `basic_auth`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basic_auth: Option<BasicAuth>,
    /// `authorization`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization: Option<Authorization>,
    /// `oauth2`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oauth2: Option<OAuth2>,
    /// Deprecated bearer token.
    #[serde(default, skip_serializing)]
    pub bearer_token: Option<Secret>,
    /// Deprecated bearer token file.
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
    /// `http_headers`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_headers: Option<serde_yaml::Value>,
    /// `follow_redirects`; true.
    #[serde(default = "default_true")]
    pub follow_redirects: bool,
    /// `enable_http2`; true.
    #[serde(default = "default_true")]
    pub enable_http2: bool,
    /// `sigv4` (accepted, not implemented).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sigv4: Option<serde_yaml::Value>,
    /// Rules applied to discovered Alertmanager targets.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "super::non_null::alertmanager_relabel_configs"
    )]
    pub relabel_configs: Vec<RelabelConfig>,
    /// Rules applied to alerts sent to this Alertmanager.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "super::non_null::alertmanager_alert_relabel_configs"
    )]
    pub alert_relabel_configs: Vec<RelabelConfig>,
    /// `static_configs`.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "super::non_null::static_configs"
    )]
    pub static_configs: Vec<StaticConfig>,
    /// `file_sd_configs`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub file_sd_configs: Vec<FileSdConfig>,
    /// `kubernetes_sd_configs`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kubernetes_sd_configs: Vec<KubernetesSdConfig>,
    /// `dns_sd_configs` (accepted, not implemented).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_sd_configs: Option<serde_yaml::Value>,
    /// `consul_sd_configs` (accepted, not implemented).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consul_sd_configs: Option<serde_yaml::Value>,
    /// `http_sd_configs` (accepted, not implemented).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_sd_configs: Option<serde_yaml::Value>,
    /// `ec2_sd_configs` (accepted, not implemented).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ec2_sd_configs: Option<serde_yaml::Value>,
}

impl AlertmanagerConfig {
    /// The discovery sections, for the discovery registry.
    pub fn sd_config_set(&self) -> SdConfigSet<'_> {
        SdConfigSet {
            static_configs: &self.static_configs,
            file_sd_configs: &self.file_sd_configs,
            kubernetes_sd_configs: &self.kubernetes_sd_configs,
        }
    }
}

/// `storage`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    /// `storage.tsdb`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tsdb: Option<TsdbConfig>,
    /// `storage.exemplars`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exemplars: Option<ExemplarsConfig>,
}

/// `storage.tsdb`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct TsdbConfig {
    /// How far behind the newest sample a sample may be and still be accepted.
    #[serde(with = "duration_serde")]
    pub out_of_order_time_window: Duration,
    /// Retention, overriding the command-line flags when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retention: Option<RetentionConfig>,
}

/// `storage.tsdb.retention`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionConfig {
    /// Drop blocks older than this.
    #[serde(with = "opt_duration_serde", skip_serializing_if = "Option::is_none")]
    pub time: Option<Duration>,
    /// Drop the oldest blocks beyond this total size.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<ByteSize>,
}

/// `storage.exemplars`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExemplarsConfig {
    /// Size of the circular exemplar buffer.
    pub max_exemplars: i64,
}
