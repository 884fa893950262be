//! `prometheus.yml`: the configuration file as Prometheus reads it.
//!
//! [`Config::load_str`] parses the YAML strictly (unknown keys are errors,
//! with the line and, inside `scrape_configs`, the job named), fills in
//! Prometheus' defaults (scrape configs inherit interval, timeout and
//! limits from `global`) and validates the result. Sections Promethium
//! accepts but does not act on (remote write, tracing, other service
//! discovery mechanisms, ...) are kept and listed by [`Config::warnings`],
//! so a configuration written for Prometheus loads unchanged.
//!
//! Invariant: after a successful load every [`ScrapeConfig`] has a non-zero
//! `scrape_interval`, a `scrape_timeout` no longer than it, a unique
//! `job_name`, and relabel rules validated with the job's name validation
//! scheme. Consumers never apply defaults themselves.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use promethium_discovery::LabelSet;
use promethium_discovery::config::{
    Authorization, BasicAuth, HttpClientConfig, KubernetesSdConfig, OAuth2, Secret, TlsConfig,
    duration_serde,
};
use promethium_discovery::config::{NamedProvider, SdConfigSet};
use promethium_discovery::file::FileSdConfig;
use promethium_discovery::static_config::StaticConfig;
use serde::{Deserialize, Serialize};

pub use promethium_discovery::config::{format_duration, parse_duration};

use crate::relabel::{NameValidationScheme, RelabelConfig};

mod byte_size;
mod error;
mod load;
mod non_null;
mod protocol;
mod sections;
#[cfg(test)]
mod tests;

pub use byte_size::ByteSize;
pub use error::ConfigError;
pub use protocol::{DEFAULT_SCRAPE_PROTOCOLS, EscapingScheme, ScrapeProtocol};
pub use sections::{
    AlertingConfig, AlertmanagerConfig, ExemplarsConfig, RetentionConfig, StorageConfig, TsdbConfig,
};

pub use promethium_discovery::config::ScalarString;
pub(crate) use promethium_discovery::config::{scalar_label_set, scalar_string};

/// The `global` section.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct GlobalConfig {
    /// Default scrape interval; 1m.
    #[serde(default, with = "duration_serde")]
    pub scrape_interval: Duration,
    /// Default scrape timeout; 10s, or the interval if that is shorter.
    #[serde(default, with = "duration_serde")]
    pub scrape_timeout: Duration,
    /// Default protocols to negotiate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scrape_protocols: Option<Vec<ScrapeProtocol>>,
    /// Rule evaluation interval; 1m.
    #[serde(default, with = "duration_serde")]
    pub evaluation_interval: Duration,
    /// Offset applied to rule evaluation timestamps.
    #[serde(with = "duration_serde")]
    pub rule_query_offset: Duration,
    /// Labels added to series and alerts sent to external systems.
    #[serde(deserialize_with = "scalar_label_set", skip_serializing_if = "LabelSet::is_empty")]
    pub external_labels: LabelSet,
    /// File PromQL queries are logged to.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub query_log_file: String,
    /// File scrape failures are logged to.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub scrape_failure_log_file: String,
    /// Default uncompressed body size limit; 0 = none.
    pub body_size_limit: ByteSize,
    /// Default per-scrape sample limit; 0 = none.
    pub sample_limit: u64,
    /// Default per-job target limit; 0 = none.
    pub target_limit: u64,
    /// Default per-sample label count limit; 0 = none.
    pub label_limit: u64,
    /// Default label name length limit; 0 = none.
    pub label_name_length_limit: u64,
    /// Default label value length limit; 0 = none.
    pub label_value_length_limit: u64,
    /// Default number of dropped targets kept for the UI; 0 = all.
    pub keep_dropped_targets: u64,
    /// Default name validation scheme; `utf8`.
    pub metric_name_validation_scheme: NameValidationScheme,
    /// Default escaping scheme for names when requesting expositions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metric_name_escaping_scheme: Option<EscapingScheme>,
    /// Also ingest classic histograms when native ones are exposed.
    pub always_scrape_classic_histograms: bool,
    /// Convert classic histograms into native histograms with custom buckets.
    pub convert_classic_histograms_to_nhcb: bool,
    /// Ingest native histograms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scrape_native_histograms: Option<bool>,
    /// Also report Prometheus' extra per-scrape series.
    pub extra_scrape_metrics: bool,
}

impl Default for GlobalConfig {
    fn default() -> Self {
        GlobalConfig {
            scrape_interval: Duration::from_secs(60),
            scrape_timeout: Duration::from_secs(10),
            scrape_protocols: None,
            evaluation_interval: Duration::from_secs(60),
            rule_query_offset: Duration::ZERO,
            external_labels: LabelSet::new(),
            query_log_file: String::new(),
            scrape_failure_log_file: String::new(),
            body_size_limit: ByteSize(0),
            sample_limit: 0,
            target_limit: 0,
            label_limit: 0,
            label_name_length_limit: 0,
            label_value_length_limit: 0,
            keep_dropped_targets: 0,
            metric_name_validation_scheme: NameValidationScheme::Utf8,
            metric_name_escaping_scheme: None,
            always_scrape_classic_histograms: false,
            convert_classic_histograms_to_nhcb: false,
            scrape_native_histograms: None,
            extra_scrape_metrics: false,
        }
    }
}

/// `http` or `https`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scheme {
    /// Plain HTTP (the default).
    #[default]
    Http,
    /// HTTP over TLS.
    Https,
}

impl Scheme {
    /// `http` or `https`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

fn default_true() -> bool {
    true
}

fn default_metrics_path() -> String {
    "/metrics".to_owned()
}

/// One entry of `scrape_configs`: a job and how to scrape its targets.
///
/// Fields that inherit from `global` are `Option`/zero while parsing and
/// always filled in after [`Config::load_str`] returns.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ScrapeConfig {
    /// The job name; the `job` label of every target. Required, unique.
    pub job_name: String,
    /// How often to scrape; inherits `global.scrape_interval`.
    #[serde(default, with = "duration_serde")]
    pub scrape_interval: Duration,
    /// Per-scrape timeout; inherits `global.scrape_timeout`, capped at the interval.
    #[serde(default, with = "duration_serde")]
    pub scrape_timeout: Duration,
    /// Protocols to negotiate, most preferred first.
    #[serde(default)]
    pub scrape_protocols: Vec<ScrapeProtocol>,
    /// The protocol assumed when a target's Content-Type is missing or unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback_scrape_protocol: Option<ScrapeProtocol>,
    /// Keep the target's labels on conflict instead of prefixing them with `exported_`.
    #[serde(default)]
    pub honor_labels: bool,
    /// Use timestamps the target exposes; true.
    #[serde(default = "default_true")]
    pub honor_timestamps: bool,
    /// Write staleness markers for series with explicit timestamps.
    #[serde(default)]
    pub track_timestamps_staleness: bool,
    /// The HTTP path to scrape; `/metrics`.
    #[serde(default = "default_metrics_path")]
    pub metrics_path: String,
    /// `http` (default) or `https`.
    #[serde(default)]
    pub scheme: Scheme,
    /// URL query parameters; each name may repeat.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub params: BTreeMap<String, Vec<String>>,
    /// Ask for gzip; true.
    #[serde(default = "default_true")]
    pub enable_compression: bool,
    /// Uncompressed body size limit; inherits from global, 0 = none.
    #[serde(default)]
    pub body_size_limit: ByteSize,
    /// Samples per scrape after metric relabeling; inherits, 0 = none.
    #[serde(default)]
    pub sample_limit: u64,
    /// Targets per job after relabeling; inherits, 0 = none.
    #[serde(default)]
    pub target_limit: u64,
    /// Labels per sample; inherits, 0 = none.
    #[serde(default)]
    pub label_limit: u64,
    /// Label name length; inherits, 0 = none.
    #[serde(default)]
    pub label_name_length_limit: u64,
    /// Label value length; inherits, 0 = none.
    #[serde(default)]
    pub label_value_length_limit: u64,
    /// Native histogram bucket limit; 0 = none.
    #[serde(default)]
    pub native_histogram_bucket_limit: u64,
    /// Native histogram minimum growth factor between buckets.
    #[serde(default)]
    pub native_histogram_min_bucket_factor: f64,
    /// Dropped targets kept for the UI; inherits, 0 = all.
    #[serde(default)]
    pub keep_dropped_targets: u64,
    /// Name validation; inherits, `utf8` by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric_name_validation_scheme: Option<NameValidationScheme>,
    /// Name escaping requested from targets; inherits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric_name_escaping_scheme: Option<EscapingScheme>,
    /// Also ingest classic histograms when native ones are exposed; inherits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub always_scrape_classic_histograms: Option<bool>,
    /// Convert classic histograms into NHCB; inherits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub convert_classic_histograms_to_nhcb: Option<bool>,
    /// Ingest native histograms; inherits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scrape_native_histograms: Option<bool>,
    /// Report the extra per-scrape series (`scrape_timeout_seconds`,
    /// `scrape_sample_limit`, `scrape_body_size_bytes`); inherits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra_scrape_metrics: Option<bool>,

    /// `basic_auth`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basic_auth: Option<BasicAuth>,
    /// `authorization`; after loading it also holds `bearer_token(_file)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization: Option<Authorization>,
    /// `oauth2` (parsed, not used for requests).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oauth2: Option<OAuth2>,
    /// Deprecated: use `authorization.credentials`. Folded into
    /// `authorization` and cleared when loading.
    #[serde(default, skip_serializing)]
    pub bearer_token: Option<Secret>,
    /// Deprecated: use `authorization.credentials_file`. Folded into
    /// `authorization` and cleared when loading.
    #[serde(default, skip_serializing)]
    pub bearer_token_file: String,
    /// `tls_config`.
    #[serde(default)]
    pub tls_config: TlsConfig,
    /// `proxy_url`, empty for none.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub proxy_url: String,
    /// `no_proxy`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub no_proxy: String,
    /// `proxy_from_environment`.
    #[serde(default)]
    pub proxy_from_environment: bool,
    /// `proxy_connect_header`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub proxy_connect_header: BTreeMap<String, Vec<Secret>>,
    /// `http_headers` (parsed and kept, values as written).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_headers: Option<serde_yaml::Value>,
    /// `follow_redirects`; true.
    #[serde(default = "default_true")]
    pub follow_redirects: bool,
    /// `enable_http2`; true.
    #[serde(default = "default_true")]
    pub enable_http2: bool,

    /// Rules applied to discovered targets before scraping.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "non_null::target_relabel_configs"
    )]
    pub relabel_configs: Vec<RelabelConfig>,
    /// Rules applied to scraped samples before storing.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "non_null::metric_relabel_configs"
    )]
    pub metric_relabel_configs: Vec<RelabelConfig>,

    /// `static_configs`.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "non_null::static_configs"
    )]
    pub static_configs: Vec<StaticConfig>,
    /// `file_sd_configs`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub file_sd_configs: Vec<FileSdConfig>,
    /// `kubernetes_sd_configs` (parsed and validated; discovered elsewhere).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kubernetes_sd_configs: Vec<KubernetesSdConfig>,
    // Service discovery mechanisms Prometheus has and Promethium only
    // accepts: kept as written and reported by `Config::warnings`.
    /// `azure_sd_configs` (accepted, not implemented).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub azure_sd_configs: Option<serde_yaml::Value>,
    /// `consul_sd_configs` (accepted, not implemented).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consul_sd_configs: Option<serde_yaml::Value>,
    /// `digitalocean_sd_configs` (accepted, not implemented).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digitalocean_sd_configs: Option<serde_yaml::Value>,
    /// `docker_sd_configs` (accepted, not implemented).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub docker_sd_configs: Option<serde_yaml::Value>,
    /// `dockerswarm_sd_configs` (accepted, not implemented).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dockerswarm_sd_configs: Option<serde_yaml::Value>,
    /// `dns_sd_configs` (accepted, not implemented).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_sd_configs: Option<serde_yaml::Value>,
    /// `ec2_sd_configs` (accepted, not implemented).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ec2_sd_configs: Option<serde_yaml::Value>,
    /// `eureka_sd_configs` (accepted, not implemented).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eureka_sd_configs: Option<serde_yaml::Value>,
    /// `gce_sd_configs` (accepted, not implemented).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gce_sd_configs: Option<serde_yaml::Value>,
    /// `hetzner_sd_configs` (accepted, not implemented).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hetzner_sd_configs: Option<serde_yaml::Value>,
    /// `http_sd_configs` (accepted, not implemented).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_sd_configs: Option<serde_yaml::Value>,
    /// `ionos_sd_configs` (accepted, not implemented).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ionos_sd_configs: Option<serde_yaml::Value>,
    /// `kuma_sd_configs` (accepted, not implemented).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kuma_sd_configs: Option<serde_yaml::Value>,
    /// `lightsail_sd_configs` (accepted, not implemented).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lightsail_sd_configs: Option<serde_yaml::Value>,
    /// `linode_sd_configs` (accepted, not implemented).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub linode_sd_configs: Option<serde_yaml::Value>,
    /// `marathon_sd_configs` (accepted, not implemented).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub marathon_sd_configs: Option<serde_yaml::Value>,
    /// `nerve_sd_configs` (accepted, not implemented).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nerve_sd_configs: Option<serde_yaml::Value>,
    /// `nomad_sd_configs` (accepted, not implemented).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nomad_sd_configs: Option<serde_yaml::Value>,
    /// `openstack_sd_configs` (accepted, not implemented).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub openstack_sd_configs: Option<serde_yaml::Value>,
    /// `ovhcloud_sd_configs` (accepted, not implemented).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ovhcloud_sd_configs: Option<serde_yaml::Value>,
    /// `puppetdb_sd_configs` (accepted, not implemented).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub puppetdb_sd_configs: Option<serde_yaml::Value>,
    /// `scaleway_sd_configs` (accepted, not implemented).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scaleway_sd_configs: Option<serde_yaml::Value>,
    /// `serverset_sd_configs` (accepted, not implemented).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serverset_sd_configs: Option<serde_yaml::Value>,
    /// `stackit_sd_configs` (accepted, not implemented).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stackit_sd_configs: Option<serde_yaml::Value>,
    /// `triton_sd_configs` (accepted, not implemented).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub triton_sd_configs: Option<serde_yaml::Value>,
    /// `uyuni_sd_configs` (accepted, not implemented).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uyuni_sd_configs: Option<serde_yaml::Value>,
    /// `vultr_sd_configs` (accepted, not implemented).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vultr_sd_configs: Option<serde_yaml::Value>,
}

impl ScrapeConfig {
    /// The keys of service discovery mechanisms this job uses that
    /// Promethium accepts but does not implement.
    pub fn unsupported_sd_keys(&self) -> Vec<&'static str> {
        let mut keys = Vec::new();
        if self.azure_sd_configs.is_some() {
            keys.push("azure_sd_configs");
        }
        if self.consul_sd_configs.is_some() {
            keys.push("consul_sd_configs");
        }
        if self.digitalocean_sd_configs.is_some() {
            keys.push("digitalocean_sd_configs");
        }
        if self.docker_sd_configs.is_some() {
            keys.push("docker_sd_configs");
        }
        if self.dockerswarm_sd_configs.is_some() {
            keys.push("dockerswarm_sd_configs");
        }
        if self.dns_sd_configs.is_some() {
            keys.push("dns_sd_configs");
        }
        if self.ec2_sd_configs.is_some() {
            keys.push("ec2_sd_configs");
        }
        if self.eureka_sd_configs.is_some() {
            keys.push("eureka_sd_configs");
        }
        if self.gce_sd_configs.is_some() {
            keys.push("gce_sd_configs");
        }
        if self.hetzner_sd_configs.is_some() {
            keys.push("hetzner_sd_configs");
        }
        if self.http_sd_configs.is_some() {
            keys.push("http_sd_configs");
        }
        if self.ionos_sd_configs.is_some() {
            keys.push("ionos_sd_configs");
        }
        if self.kuma_sd_configs.is_some() {
            keys.push("kuma_sd_configs");
        }
        if self.lightsail_sd_configs.is_some() {
            keys.push("lightsail_sd_configs");
        }
        if self.linode_sd_configs.is_some() {
            keys.push("linode_sd_configs");
        }
        if self.marathon_sd_configs.is_some() {
            keys.push("marathon_sd_configs");
        }
        if self.nerve_sd_configs.is_some() {
            keys.push("nerve_sd_configs");
        }
        if self.nomad_sd_configs.is_some() {
            keys.push("nomad_sd_configs");
        }
        if self.openstack_sd_configs.is_some() {
            keys.push("openstack_sd_configs");
        }
        if self.ovhcloud_sd_configs.is_some() {
            keys.push("ovhcloud_sd_configs");
        }
        if self.puppetdb_sd_configs.is_some() {
            keys.push("puppetdb_sd_configs");
        }
        if self.scaleway_sd_configs.is_some() {
            keys.push("scaleway_sd_configs");
        }
        if self.serverset_sd_configs.is_some() {
            keys.push("serverset_sd_configs");
        }
        if self.stackit_sd_configs.is_some() {
            keys.push("stackit_sd_configs");
        }
        if self.triton_sd_configs.is_some() {
            keys.push("triton_sd_configs");
        }
        if self.uyuni_sd_configs.is_some() {
            keys.push("uyuni_sd_configs");
        }
        if self.vultr_sd_configs.is_some() {
            keys.push("vultr_sd_configs");
        }
        keys
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

    /// The effective name validation scheme (after loading, never the
    /// global default's absence).
    pub fn name_validation(&self) -> NameValidationScheme {
        self.metric_name_validation_scheme.unwrap_or_default()
    }

    /// The discovery providers of this job, in Prometheus' order: one
    /// provider for all `static_configs` entries, then one per other entry.
    /// Names are `<key>/<index>`, stable across reloads of the same config.
    pub fn sd_providers(&self) -> Vec<NamedProvider> {
        self.sd_config_set().providers().0
    }

    /// The discovery sections of this job, for the discovery registry.
    pub fn sd_config_set(&self) -> SdConfigSet<'_> {
        SdConfigSet {
            static_configs: &self.static_configs,
            file_sd_configs: &self.file_sd_configs,
            kubernetes_sd_configs: &self.kubernetes_sd_configs,
        }
    }
}

/// The whole configuration file.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `global`.
    #[serde(default)]
    pub global: GlobalConfig,
    /// `runtime` (GOGC etc.): accepted and kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime: Option<serde_yaml::Value>,
    /// `rule_files`: glob patterns of rule files, resolved relative to the
    /// config file's directory.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rule_files: Vec<String>,
    /// `scrape_config_files`: glob patterns of files holding more scrape
    /// configs, resolved relative to the config file's directory.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scrape_config_files: Vec<String>,
    /// `scrape_configs`, including those read from `scrape_config_files`.
    #[serde(default, deserialize_with = "non_null::scrape_configs")]
    pub scrape_configs: Vec<ScrapeConfig>,
    /// `alerting`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alerting: Option<AlertingConfig>,
    /// `storage`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<StorageConfig>,
    /// `tracing`: accepted and kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracing: Option<serde_yaml::Value>,
    /// `remote_write`: accepted, validated lightly and kept.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remote_write: Vec<serde_yaml::Value>,
    /// `remote_read`: accepted, validated lightly and kept.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remote_read: Vec<serde_yaml::Value>,
    /// `otlp`: accepted and kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub otlp: Option<serde_yaml::Value>,

    /// The text the config was loaded from, for `/api/v1/status/config`.
    #[serde(skip)]
    pub original: String,
    /// Where it was loaded from, if from a file.
    #[serde(skip)]
    pub source_path: Option<PathBuf>,
    /// Accepted-but-ignored settings found while loading.
    #[serde(skip)]
    warnings: Vec<String>,
}

impl Config {
    /// Parses, defaults and validates a configuration from YAML text.
    /// `scrape_config_files` and `rule_files` are resolved relative to the
    /// current directory.
    pub fn load_str(text: &str) -> Result<Config, ConfigError> {
        load::load(text, None)
    }

    /// Reads and loads a configuration file; relative paths inside it are
    /// resolved against its directory.
    pub fn load_file(path: impl AsRef<Path>) -> Result<Config, ConfigError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Io { path: path.to_path_buf(), source })?;
        load::load(&text, Some(path))
    }

    /// Settings that were accepted but that Promethium does not act on,
    /// one sentence each (for logging at startup and reload).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The scrape config of `job_name`.
    pub fn scrape_config(&self, job_name: &str) -> Option<&ScrapeConfig> {
        self.scrape_configs.iter().find(|c| c.job_name == job_name)
    }

    /// `storage.tsdb.retention.time`, if set in the file.
    pub fn retention_time(&self) -> Option<Duration> {
        self.storage.as_ref()?.tsdb.as_ref()?.retention.as_ref()?.time
    }

    /// `storage.tsdb.retention.size`, if set in the file.
    pub fn retention_size(&self) -> Option<ByteSize> {
        self.storage.as_ref()?.tsdb.as_ref()?.retention.as_ref()?.size
    }

    /// `storage.tsdb.out_of_order_time_window`, zero unless set.
    pub fn out_of_order_time_window(&self) -> Duration {
        self.storage
            .as_ref()
            .and_then(|s| s.tsdb.as_ref())
            .map_or(Duration::ZERO, |t| t.out_of_order_time_window)
    }

    /// The effective configuration as YAML, with defaults filled in and
    /// secrets shown as `<secret>`, as Prometheus' status page shows it.
    pub fn to_yaml(&self) -> String {
        serde_yaml::to_string(self)
            .unwrap_or_else(|e| format!("# cannot render configuration: {e}\n"))
    }
}
