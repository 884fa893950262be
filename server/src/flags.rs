//! Command-line flags, named and defaulted as Prometheus names them.
//!
//! Prometheus parses flags with kingpin: double-dash long names containing
//! dots, `--flag=value` or `--flag value`, boolean flags given bare. Flags
//! that deployment tooling (the community Helm chart, the operator) passes
//! but that mean nothing here are accepted and ignored so existing
//! manifests start unchanged.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

use crate::duration::{format_prom_duration, parse_prom_duration};

/// Flags Promethium accepts and ignores, with the reason given in the log.
pub const IGNORED_FLAGS: &[&str] = &[
    "web.console.templates",
    "web.console.libraries",
    "web.page-title",
    "web.user-assets",
    "web.max-connections",
    "web.read-timeout",
    "web.enable-otlp-receiver",
    "web.remote-write-receiver.accepted-protobuf-messages",
    "storage.tsdb.wal-compression",
    "storage.tsdb.min-block-duration",
    "storage.tsdb.max-block-duration",
    "storage.tsdb.no-lockfile",
    "storage.tsdb.allow-overlapping-blocks",
    "storage.tsdb.head-chunks-write-queue-size",
    "storage.tsdb.wal-segment-size",
    "storage.remote.flush-deadline",
    "storage.remote.read-sample-limit",
    "storage.remote.read-concurrent-limit",
    "storage.remote.read-max-bytes-in-frame",
    "storage.agent.path",
    "rules.alert.for-outage-tolerance",
    "rules.alert.for-grace-period",
    "rules.alert.resend-delay",
    "rules.max-concurrent-evals",
    "alertmanager.notification-queue-capacity",
    "alertmanager.drain-notification-queue-on-shutdown",
    "scrape.adjust-timestamps",
    "scrape.timestamp-tolerance",
    "scrape.discovery-reload-interval",
    "auto-gomaxprocs",
    "auto-gomemlimit",
    "auto-gomemlimit.ratio",
    "agent",
];

/// The `promethium` command line.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "promethium",
    version,
    about = "The Promethium monitoring server",
    disable_help_subcommand = true
)]
pub struct Flags {
    /// Prometheus configuration file path. Without it an embedded default
    /// configuration that scrapes this server is used.
    #[arg(long = "config.file")]
    pub config_file: Option<PathBuf>,

    /// Base path for metrics storage.
    #[arg(long = "storage.tsdb.path", default_value = "data/")]
    pub storage_tsdb_path: PathBuf,

    /// How long to retain samples in storage (default 15d when neither
    /// retention flag nor the config sets retention).
    #[arg(long = "storage.tsdb.retention.time", value_parser = parse_flag_duration)]
    pub retention_time: Option<Duration>,

    /// The maximum number of bytes of storage blocks to retain (units B, KB,
    /// MB, GB, TB, PB, EB, powers of 1024).
    #[arg(long = "storage.tsdb.retention.size", value_parser = parse_byte_size)]
    pub retention_size: Option<u64>,

    /// Address to listen on for UI, API, and telemetry.
    #[arg(long = "web.listen-address", default_value = "0.0.0.0:9090")]
    pub listen_address: String,

    /// The URL under which Promethium is externally reachable. Its path is
    /// the default route prefix.
    #[arg(long = "web.external-url")]
    pub external_url: Option<String>,

    /// Prefix for the internal routes of web endpoints (defaults to the
    /// path of --web.external-url).
    #[arg(long = "web.route-prefix")]
    pub route_prefix: Option<String>,

    /// Enable shutdown and reload via HTTP request.
    #[arg(long = "web.enable-lifecycle", num_args = 0..=1, default_missing_value = "true", default_value = "false", action = clap::ArgAction::Set)]
    pub enable_lifecycle: bool,

    /// Enable API endpoints for admin control actions.
    #[arg(long = "web.enable-admin-api", num_args = 0..=1, default_missing_value = "true", default_value = "false", action = clap::ArgAction::Set)]
    pub enable_admin_api: bool,

    /// Enable the remote-write receiver at /api/v1/write.
    #[arg(long = "web.enable-remote-write-receiver", num_args = 0..=1, default_missing_value = "true", default_value = "false", action = clap::ArgAction::Set)]
    pub enable_remote_write_receiver: bool,

    /// Path to a web configuration file (TLS, basic auth).
    #[arg(long = "web.config.file")]
    pub web_config_file: Option<PathBuf>,

    /// Regex for CORS origin. It is fully anchored.
    #[arg(long = "web.cors.origin", default_value = ".*")]
    pub cors_origin: String,

    /// Maximum time a query may take before being aborted.
    #[arg(long = "query.timeout", default_value = "2m", value_parser = parse_flag_duration)]
    pub query_timeout: Duration,

    /// Maximum number of samples a single query can load into memory.
    #[arg(long = "query.max-samples", default_value_t = 50_000_000)]
    pub query_max_samples: u64,

    /// How far back to look for a sample of an instant selector.
    #[arg(long = "query.lookback-delta", default_value = "5m", value_parser = parse_flag_duration)]
    pub query_lookback_delta: Duration,

    /// Maximum number of queries executed concurrently.
    #[arg(long = "query.max-concurrency", default_value_t = 20)]
    pub query_max_concurrency: usize,

    /// Only log messages with the given severity or above: debug, info, warn, error.
    #[arg(long = "log.level", default_value = "info", value_parser = ["debug", "info", "warn", "error"])]
    pub log_level: String,

    /// Output format of log messages: logfmt, json.
    #[arg(long = "log.format", default_value = "logfmt", value_parser = ["logfmt", "json"])]
    pub log_format: String,

    /// Comma-separated feature names to enable. Unknown names are logged
    /// and ignored.
    #[arg(long = "enable-feature", value_delimiter = ',')]
    pub enable_feature: Vec<String>,

    /// Flags accepted for compatibility and ignored (see `IGNORED_FLAGS`).
    #[arg(skip)]
    pub ignored: Vec<(String, String)>,
}

impl Flags {
    /// Parses `args` (including the program name), pulling out the ignored
    /// compatibility flags first so clap never sees them.
    pub fn parse_from_args(args: impl IntoIterator<Item = String>) -> Result<Flags, clap::Error> {
        let mut kept = Vec::new();
        let mut ignored = Vec::new();
        let mut iter = args.into_iter().peekable();
        while let Some(arg) = iter.next() {
            let Some(body) = arg.strip_prefix("--") else {
                kept.push(arg);
                continue;
            };
            let (name, inline_value) = match body.split_once('=') {
                Some((n, v)) => (n.to_string(), Some(v.to_string())),
                None => (body.to_string(), None),
            };
            let bare = name.strip_prefix("no-").unwrap_or(&name);
            if IGNORED_FLAGS.contains(&bare) {
                let value = match inline_value {
                    Some(v) => v,
                    None => match iter.peek() {
                        Some(next) if !next.starts_with("--") => iter.next().unwrap_or_default(),
                        _ => "true".to_string(),
                    },
                };
                ignored.push((name, value));
            } else {
                kept.push(arg);
            }
        }
        let mut flags = Flags::try_parse_from(kept)?;
        flags.ignored = ignored;
        Ok(flags)
    }

    /// The route prefix: `--web.route-prefix`, else the external URL's path,
    /// normalised to start with `/` and not end with one (empty for root).
    pub fn route_prefix(&self) -> String {
        let raw = match (&self.route_prefix, &self.external_url) {
            (Some(p), _) => p.clone(),
            (None, Some(url)) => url_path(url),
            (None, None) => String::new(),
        };
        let trimmed = raw.trim_end_matches('/');
        if trimmed.is_empty() {
            String::new()
        } else if trimmed.starts_with('/') {
            trimmed.to_string()
        } else {
            format!("/{trimmed}")
        }
    }

    /// The externally reachable URL, defaulting as Prometheus does to the
    /// host name and listen port.
    pub fn external_url(&self) -> String {
        if let Some(url) = &self.external_url {
            return url.trim_end_matches('/').to_string();
        }
        let port = self.listen_address.rsplit_once(':').map(|(_, p)| p).unwrap_or("9090");
        format!("http://{}:{port}", hostname())
    }

    /// Every flag with its effective value, for `/api/v1/status/flags`.
    pub fn to_map(&self) -> BTreeMap<String, String> {
        let path =
            |p: &Option<PathBuf>| p.as_ref().map(|p| p.display().to_string()).unwrap_or_default();
        let dur =
            |d: &Option<Duration>| d.map(format_prom_duration).unwrap_or_else(|| "0s".to_string());
        let mut map = BTreeMap::new();
        let mut put = |k: &str, v: String| {
            map.insert(k.to_string(), v);
        };
        put(
            "config.file",
            self.config_file.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
        );
        put("storage.tsdb.path", self.storage_tsdb_path.display().to_string());
        put("storage.tsdb.retention.time", dur(&self.retention_time));
        put(
            "storage.tsdb.retention.size",
            self.retention_size.map(|b| format!("{b}B")).unwrap_or_else(|| "0B".into()),
        );
        put("web.listen-address", self.listen_address.clone());
        put("web.external-url", self.external_url.clone().unwrap_or_default());
        put(
            "web.route-prefix",
            if self.route_prefix().is_empty() { "/".into() } else { self.route_prefix() },
        );
        put("web.enable-lifecycle", self.enable_lifecycle.to_string());
        put("web.enable-admin-api", self.enable_admin_api.to_string());
        put("web.enable-remote-write-receiver", self.enable_remote_write_receiver.to_string());
        put("web.config.file", path(&self.web_config_file));
        put("web.cors.origin", self.cors_origin.clone());
        put("query.timeout", format_prom_duration(self.query_timeout));
        put("query.max-samples", self.query_max_samples.to_string());
        put("query.lookback-delta", format_prom_duration(self.query_lookback_delta));
        put("query.max-concurrency", self.query_max_concurrency.to_string());
        put("log.level", self.log_level.clone());
        put("log.format", self.log_format.clone());
        put("enable-feature", self.enable_feature.join(","));
        for (name, value) in &self.ignored {
            map.insert(name.clone(), value.clone());
        }
        map
    }
}

fn url_path(url: &str) -> String {
    let after_scheme = url.split_once("://").map(|(_, rest)| rest).unwrap_or(url);
    match after_scheme.find('/') {
        Some(i) => after_scheme[i..].to_string(),
        None => String::new(),
    }
}

/// The machine's host name, or `localhost`.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}

fn parse_flag_duration(s: &str) -> Result<Duration, String> {
    parse_prom_duration(s).map_err(|e| e.to_string())
}

/// Parses a byte size as Prometheus' `units.Base2Bytes` does: `512MB`,
/// `1GB`, `100B` (powers of 1024).
pub fn parse_byte_size(s: &str) -> Result<u64, String> {
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(split);
    let n: u64 = digits.parse().map_err(|_| format!("invalid byte size {s:?}"))?;
    let shift = match unit.to_ascii_uppercase().as_str() {
        "" | "B" => 0,
        "KB" | "KIB" => 10,
        "MB" | "MIB" => 20,
        "GB" | "GIB" => 30,
        "TB" | "TIB" => 40,
        "PB" | "PIB" => 50,
        "EB" | "EIB" => 60,
        _ => return Err(format!("invalid byte size {s:?}: unknown unit {unit:?}")),
    };
    n.checked_mul(1u64 << shift).ok_or_else(|| format!("byte size {s:?} overflows"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Flags {
        let all = std::iter::once("promethium").chain(args.iter().copied()).map(String::from);
        Flags::parse_from_args(all).expect("flags parse")
    }

    #[test]
    fn defaults_match_prometheus() {
        let f = parse(&[]);
        assert_eq!(f.listen_address, "0.0.0.0:9090");
        assert_eq!(f.query_timeout, Duration::from_secs(120));
        assert_eq!(f.query_lookback_delta, Duration::from_secs(300));
        assert_eq!(f.query_max_samples, 50_000_000);
        assert_eq!(f.query_max_concurrency, 20);
        assert!(!f.enable_lifecycle && !f.enable_admin_api && !f.enable_remote_write_receiver);
        assert!(f.config_file.is_none());
        assert_eq!(f.route_prefix(), "");
    }

    #[test]
    fn both_value_styles_and_bare_booleans() {
        let f = parse(&[
            "--config.file=/etc/p.yml",
            "--storage.tsdb.path",
            "/data",
            "--web.enable-lifecycle",
            "--web.enable-admin-api=true",
            "--storage.tsdb.retention.time=15d",
            "--storage.tsdb.retention.size",
            "512MB",
            "--query.timeout=1ms",
        ]);
        assert_eq!(f.config_file.unwrap(), PathBuf::from("/etc/p.yml"));
        assert_eq!(f.storage_tsdb_path, PathBuf::from("/data"));
        assert!(f.enable_lifecycle && f.enable_admin_api);
        assert_eq!(f.retention_time, Some(Duration::from_secs(15 * 86_400)));
        assert_eq!(f.retention_size, Some(512 << 20));
        assert_eq!(f.query_timeout, Duration::from_millis(1));
    }

    #[test]
    fn helm_chart_flags_are_accepted_and_ignored() {
        let f = parse(&[
            "--web.console.libraries=/etc/prometheus/console_libraries",
            "--web.console.templates",
            "/etc/prometheus/consoles",
            "--storage.tsdb.wal-compression",
            "--enable-feature=exemplar-storage,made-up",
            "--web.enable-lifecycle",
        ]);
        assert!(f.enable_lifecycle);
        assert_eq!(f.ignored.len(), 3);
        assert_eq!(f.enable_feature, vec!["exemplar-storage", "made-up"]);
        assert_eq!(f.to_map()["web.console.templates"], "/etc/prometheus/consoles");
    }

    #[test]
    fn unknown_flags_fail() {
        let all = ["promethium", "--no.such.flag"].map(String::from);
        assert!(Flags::parse_from_args(all).is_err());
    }

    #[test]
    fn route_prefix_comes_from_external_url() {
        let f = parse(&["--web.external-url=http://example.com/prom/"]);
        assert_eq!(f.route_prefix(), "/prom");
        let f = parse(&["--web.route-prefix=/"]);
        assert_eq!(f.route_prefix(), "");
    }

    #[test]
    fn byte_sizes() {
        assert_eq!(parse_byte_size("1GB").unwrap(), 1 << 30);
        assert_eq!(parse_byte_size("100").unwrap(), 100);
        assert!(parse_byte_size("1XB").is_err());
    }
}
