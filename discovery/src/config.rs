//! Configuration types shared by discovery mechanisms and scrape configs.
//!
//! Prometheus durations (`1h30m`), the HTTP client settings every remote
//! endpoint takes (auth, TLS, proxy) and the `kubernetes_sd_configs` block
//! live here rather than in `scrape` because discovery must not depend on
//! any other Promethium crate, while scrape configs embed them.
//!
//! Every struct rejects unknown keys, as Prometheus' strict YAML decoding
//! does, so a typo is an error rather than a silently ignored setting.

use std::sync::Arc;

use crate::SdConfig;
use crate::file::FileSdConfig;
use crate::static_config::{StaticConfig, StaticConfigs};

mod duration;
mod http;
mod kubernetes;
mod scalar;

pub use duration::{
    DurationError, duration_serde, format_duration, opt_duration_serde, parse_duration,
};
pub use http::{
    Authorization, BasicAuth, HttpClientConfig, OAuth2, Secret, TlsConfig, TlsVersion,
    validate_http_client,
};
pub use kubernetes::{
    KubernetesAttachMetadata, KubernetesNamespaces, KubernetesRole, KubernetesSdConfig,
    KubernetesSelector,
};
pub use scalar::{ScalarString, deserialize_scalar_with, scalar_label_set, scalar_string};

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
        if !self.static_configs.is_empty() {
            out.push((
                "static_configs/0".into(),
                Arc::new(StaticConfigs(self.static_configs.to_vec())),
            ));
        }
        for (i, c) in self.file_sd_configs.iter().enumerate() {
            out.push((format!("file_sd_configs/{i}"), Arc::new(c.clone())));
        }
        for (i, c) in self.kubernetes_sd_configs.iter().enumerate() {
            out.push((format!("kubernetes_sd_configs/{i}"), Arc::new(c.clone())));
        }
        // Keys of mechanisms parsed but not implemented would be listed
        // here; every key this set carries is implemented.
        let unimplemented = Vec::new();
        (out, unimplemented)
    }
}
