//! Loading `prometheus.yml`: the embedded default, and the parts the server
//! reads itself (retention, external labels, warnings).
//!
//! Parsing and validation belong to the scrape crate's
//! [`promethium_scrape::config::Config`], which models the whole file; this
//! module decides where the text comes from. A config that fails to load is
//! rejected with the reason and the previous one keeps running.

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use promethium_scrape::config::Config;

/// The configuration used when `--config.file` is not given: scrape this
/// server every 15 s, as Prometheus' packaged default config does.
pub const DEFAULT_CONFIG_TEMPLATE: &str = "\
# Embedded default configuration: scrape this server's own metrics.
global:
  scrape_interval: 15s
  evaluation_interval: 15s

scrape_configs:
  - job_name: prometheus
    static_configs:
      - targets: [\"localhost:PORT\"]
";

/// A loaded configuration file.
#[derive(Debug, Clone)]
pub struct LoadedConfig {
    /// The validated configuration.
    pub config: Config,
    /// The YAML served by `status/config`.
    pub yaml: String,
}

impl LoadedConfig {
    /// `storage.tsdb.retention.time` from the file.
    pub fn retention_time(&self) -> Option<Duration> {
        self.config.retention_time()
    }

    /// `storage.tsdb.retention.size` from the file, bytes.
    pub fn retention_size(&self) -> Option<u64> {
        self.config.retention_size().map(|b| b.bytes())
    }

    /// `global.external_labels`, sorted.
    pub fn external_labels(&self) -> Vec<(String, String)> {
        self.config.global.external_labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    }

    /// Settings accepted but not acted on, one sentence each.
    pub fn warnings(&self) -> &[String] {
        self.config.warnings()
    }
}

/// The default config text for a server listening on `listen_address`.
pub fn default_config_yaml(listen_address: &str) -> String {
    let port = listen_address.rsplit_once(':').map(|(_, p)| p).unwrap_or("9090");
    DEFAULT_CONFIG_TEMPLATE.replace("PORT", port)
}

/// Loads the config file at `path`, or the embedded default when `None`.
pub fn load(path: Option<&Path>, listen_address: &str) -> anyhow::Result<LoadedConfig> {
    let config = match path {
        Some(p) => {
            Config::load_file(p).with_context(|| format!("loading config file {}", p.display()))?
        }
        None => Config::load_str(&default_config_yaml(listen_address))
            .context("loading the embedded default config")?,
    };
    let yaml = config.to_yaml();
    Ok(LoadedConfig { config, yaml })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_config_scrapes_own_port() {
        let c = load(None, "127.0.0.1:19090").unwrap();
        assert_eq!(c.config.scrape_configs.len(), 1);
        assert!(c.yaml.contains("localhost:19090"), "{}", c.yaml);
    }

    #[test]
    fn retention_and_external_labels_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.yml");
        std::fs::write(
            &path,
            "global:\n  external_labels: {cluster: a}\nstorage:\n  tsdb:\n    retention:\n      time: 30d\n      size: 10GB\nscrape_configs: []\n",
        )
        .unwrap();
        let c = load(Some(&path), "0.0.0.0:9090").unwrap();
        assert_eq!(c.retention_time(), Some(Duration::from_secs(30 * 86_400)));
        assert_eq!(c.retention_size(), Some(10 << 30));
        assert_eq!(c.external_labels(), vec![("cluster".to_string(), "a".to_string())]);
    }

    #[test]
    fn bad_config_is_rejected_with_reason() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.yml");
        std::fs::write(&path, "nonsense_section: 1\n").unwrap();
        let err = format!("{:#}", load(Some(&path), "0.0.0.0:9090").unwrap_err());
        assert!(err.contains("nonsense_section"), "{err}");
        assert!(load(Some(Path::new("/nonexistent/prometheus.yml")), "0.0.0.0:9090").is_err());
    }
}
