//! A scrape pool: the loops of one job.
//!
//! The pool turns the job's target groups into targets (target relabeling
//! through [`crate::target_labels`]), keeps one loop per distinct target,
//! and reconciles on every change: a target still present keeps its loop, a
//! new one gets a loop, a vanished one is stopped with staleness markers. A
//! changed job configuration restarts every loop, handing each loop's cache
//! to its successor so the restart costs no label work and writes no
//! staleness markers, as Prometheus' reload does.

use std::collections::HashMap;
use std::sync::Arc;

use promethium_discovery::{LabelSet, TargetGroup};
use promethium_engine::Appendable;
use promethium_engine::model::Labels;
use tokio::runtime::Handle;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::cache::ScrapeCache;
use crate::config::{ScrapeConfig, ScrapeProtocol};
use crate::error::{ClientError, ScrapeError};
use crate::http::{Auth, ClientOptions, ScrapeClient, Secret, TlsOptions};
use crate::manager::ScrapeMetrics;
use crate::parse::{self, Format, ParseOptions};
use crate::relabel::NameValidationScheme;
use crate::scrape_loop::{ForcedError, LabelLimits, LoopOptions, ScrapeLoop, StopMode};
use crate::target::Target;
use crate::target_labels;

/// A target that target relabeling dropped, kept for the API's
/// `droppedTargets`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DroppedTarget {
    /// The job.
    pub scrape_pool: String,
    /// The labels discovery gave it.
    pub discovered_labels: Labels,
}

/// Everything a pool derives from its scrape config.
pub(crate) struct PoolSettings {
    config: Arc<ScrapeConfig>,
    seed: u64,
    client: ScrapeClient,
    loop_options: Arc<LoopOptions>,
}

struct LoopHandle {
    target: Arc<Target>,
    stop: watch::Sender<StopMode>,
    join: JoinHandle<ScrapeCache>,
}

/// The loops of one job.
pub struct ScrapePool {
    settings: PoolSettings,
    appendable: Arc<dyn Appendable>,
    metrics: Arc<ScrapeMetrics>,
    runtime: Handle,
    loops: HashMap<u64, LoopHandle>,
    /// Loops told to stop that may still be writing staleness markers.
    stopping: Vec<JoinHandle<ScrapeCache>>,
    groups: Vec<TargetGroup>,
    dropped: Vec<DroppedTarget>,
    dropped_count: usize,
    /// Set while the pool exceeds `target_limit`.
    forced_error: ForcedError,
}

impl std::fmt::Debug for ScrapePool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScrapePool")
            .field("job", &self.settings.config.job_name)
            .field("targets", &self.loops.len())
            .finish_non_exhaustive()
    }
}

impl ScrapePool {
    /// Derives a pool's settings from its scrape config; fails only on
    /// client settings (TLS files, credentials) that cannot work.
    pub(crate) fn settings(config: &ScrapeConfig, seed: u64) -> Result<PoolSettings, ClientError> {
        let client = ScrapeClient::new(client_options(config))?;
        Ok(PoolSettings {
            config: Arc::new(config.clone()),
            seed,
            client,
            loop_options: Arc::new(loop_options(config, seed)),
        })
    }

    pub(crate) fn new(
        settings: PoolSettings,
        appendable: Arc<dyn Appendable>,
        metrics: Arc<ScrapeMetrics>,
        runtime: Handle,
    ) -> Self {
        ScrapePool {
            settings,
            appendable,
            metrics,
            runtime,
            loops: HashMap::new(),
            stopping: Vec::new(),
            groups: Vec::new(),
            dropped: Vec::new(),
            dropped_count: 0,
            forced_error: ForcedError::default(),
        }
    }

    /// The job name.
    pub fn job(&self) -> &str {
        &self.settings.config.job_name
    }

    pub(crate) fn config_equals(&self, config: &ScrapeConfig, seed: u64) -> bool {
        *self.settings.config == *config && self.settings.seed == seed
    }

    /// Replaces the job's target groups (the full set) and reconciles loops.
    pub(crate) fn sync(&mut self, groups: Vec<TargetGroup>) {
        self.groups = groups;
        self.reconcile(false);
    }

    /// Applies a changed configuration: every loop restarts with the new
    /// settings, inheriting its predecessor's cache.
    pub(crate) fn reload(&mut self, settings: PoolSettings) {
        self.settings = settings;
        self.reconcile(true);
    }

    fn reconcile(&mut self, restart: bool) {
        let (targets, dropped) = self.build_targets();
        let limit = usize::try_from(self.settings.config.target_limit).unwrap_or(usize::MAX);
        *self.forced_error.write() = (limit > 0 && targets.len() > limit)
            .then_some(ScrapeError::TargetLimit { targets: targets.len(), limit });
        let mut loops = HashMap::with_capacity(targets.len());
        for target in targets {
            let hash = target.hash();
            if loops.contains_key(&hash) {
                continue;
            }
            let handle = match self.loops.remove(&hash) {
                Some(old) if !restart => old,
                Some(old) => {
                    target.set_status(old.target.status());
                    target.set_metadata(old.target.metadata().as_ref().clone());
                    // A closed channel means the loop already ended.
                    let _ = old.stop.send(StopMode::Handover);
                    self.spawn_loop(target, Some(old.join))
                }
                None => self.spawn_loop(target, None),
            };
            loops.insert(hash, handle);
        }
        for (_, old) in self.loops.drain() {
            let _ = old.stop.send(StopMode::WithStaleness);
            self.stopping.push(old.join);
        }
        self.loops = loops;
        self.stopping.retain(|h| !h.is_finished());
        self.dropped_count = dropped.len();
        let keep = usize::try_from(self.settings.config.keep_dropped_targets).unwrap_or(usize::MAX);
        self.dropped = dropped;
        if keep > 0 {
            self.dropped.truncate(keep);
        }
    }

    fn spawn_loop(&self, target: Target, previous: Option<JoinHandle<ScrapeCache>>) -> LoopHandle {
        let target = Arc::new(target);
        let (stop, rx) = watch::channel(StopMode::Running);
        let appendable = Arc::clone(&self.appendable);
        let options = Arc::clone(&self.settings.loop_options);
        let metrics = Arc::clone(&self.metrics);
        let client = self.settings.client.clone();
        let t = Arc::clone(&target);
        let forced = Arc::clone(&self.forced_error);
        let join = self.runtime.spawn(async move {
            // The predecessor ends at once on a handover; waiting for it
            // keeps two loops of one target from ever appending together.
            let cache = match previous {
                Some(h) => h.await.ok(),
                None => None,
            };
            ScrapeLoop::new(t, appendable, options, metrics, cache)
                .with_forced_error(forced)
                .run(client, rx)
                .await
        });
        LoopHandle { target, stop, join }
    }

    fn build_targets(&self) -> (Vec<Target>, Vec<DroppedTarget>) {
        let config = &self.settings.config;
        let mut targets = Vec::new();
        let mut dropped = Vec::new();
        let mut drop_target = |labels: &LabelSet, group: &LabelSet| {
            let discovered = target_labels::discovered_labels(labels, group, config);
            dropped.push(DroppedTarget {
                scrape_pool: config.job_name.clone(),
                discovered_labels: to_labels(&discovered),
            });
        };
        for group in &self.groups {
            for labels in &group.targets {
                match target_labels::populate_labels(labels, &group.labels, config) {
                    Ok(Some((final_labels, discovered))) => {
                        match make_target(config, to_labels(&discovered), final_labels) {
                            Ok(t) => targets.push(t),
                            Err(e) => {
                                tracing::warn!(job = %config.job_name, error = %e, "skipping target");
                                drop_target(labels, &group.labels);
                            }
                        }
                    }
                    Ok(None) => drop_target(labels, &group.labels),
                    Err(e) => {
                        tracing::warn!(job = %config.job_name, group = %group.source, error = %e, "invalid target");
                        drop_target(labels, &group.labels);
                    }
                }
            }
        }
        (targets, dropped)
    }

    /// The pool's active targets, sorted by scrape URL.
    pub fn active_targets(&self) -> Vec<Arc<Target>> {
        let mut v: Vec<Arc<Target>> = self.loops.values().map(|h| Arc::clone(&h.target)).collect();
        v.sort_by_key(|t| t.url().to_string());
        v
    }

    /// Targets dropped by relabeling (bounded by `keep_dropped_targets`).
    pub fn dropped_targets(&self) -> Vec<DroppedTarget> {
        self.dropped.clone()
    }

    /// How many targets relabeling dropped, including those not kept.
    pub fn dropped_count(&self) -> usize {
        self.dropped_count
    }

    /// Tells every loop to stop with staleness markers, without waiting.
    pub(crate) fn stop_all_detached(&mut self) {
        for (_, h) in self.loops.drain() {
            let _ = h.stop.send(StopMode::WithStaleness);
            self.stopping.push(h.join);
        }
    }

    /// Tells every loop to stop with staleness markers and returns the tasks
    /// to wait for.
    pub(crate) fn stop_all(&mut self) -> Vec<JoinHandle<ScrapeCache>> {
        self.stop_all_detached();
        std::mem::take(&mut self.stopping)
    }
}

fn make_target(
    config: &ScrapeConfig,
    discovered: Labels,
    labels: Labels,
) -> Result<Target, String> {
    let interval = target_labels::target_interval(&labels).unwrap_or(config.scrape_interval);
    let timeout = target_labels::target_timeout(&labels).unwrap_or(config.scrape_timeout);
    Target::new(
        &config.job_name,
        discovered,
        labels,
        &config.params,
        interval,
        timeout.min(interval),
    )
    .map_err(|e| e.to_string())
}

fn to_labels(set: &LabelSet) -> Labels {
    Labels::new(set.iter().map(|(k, v)| (k.as_str(), v.as_str())))
}

fn secret(inline: Option<&promethium_discovery::config::Secret>, file: &str) -> Option<Secret> {
    if !file.is_empty() {
        Some(Secret::File(file.into()))
    } else {
        inline.map(|s| Secret::Inline(s.expose().to_owned()))
    }
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_owned())
}

/// HTTP settings of a job. `oauth2` and proxies are parsed by the config
/// but not supported by the client; they are logged once per (re)load.
fn client_options(config: &ScrapeConfig) -> ClientOptions {
    let auth = if let Some(b) = &config.basic_auth {
        let username = if b.username_file.is_empty() {
            b.username.clone()
        } else {
            std::fs::read_to_string(&b.username_file).map(|s| s.trim().to_owned()).unwrap_or_else(|e| {
                tracing::warn!(job = %config.job_name, file = %b.username_file, error = %e, "reading basic_auth username_file");
                String::new()
            })
        };
        Auth::Basic { username, password: secret(b.password.as_ref(), &b.password_file) }
    } else if let Some(a) = &config.authorization {
        match secret(a.credentials.as_ref(), &a.credentials_file) {
            Some(credentials) => Auth::Authorization {
                credentials_type: if a.auth_type.is_empty() {
                    "Bearer".into()
                } else {
                    a.auth_type.clone()
                },
                credentials,
            },
            None => Auth::None,
        }
    } else {
        Auth::None
    };
    if config.oauth2.is_some() || !config.proxy_url.is_empty() || config.proxy_from_environment {
        tracing::warn!(job = %config.job_name, "oauth2 and proxy settings are not supported by the scraper and are ignored");
    }
    let t = &config.tls_config;
    ClientOptions {
        auth,
        tls: TlsOptions {
            ca: non_empty(&t.ca),
            ca_file: non_empty(&t.ca_file).map(Into::into),
            cert: non_empty(&t.cert),
            cert_file: non_empty(&t.cert_file).map(Into::into),
            key: t.key.as_ref().map(|k| k.expose().to_owned()),
            key_file: non_empty(&t.key_file).map(Into::into),
            server_name: non_empty(&t.server_name),
            insecure_skip_verify: t.insecure_skip_verify,
        },
        follow_redirects: config.follow_redirects,
        enable_compression: config.enable_compression,
    }
}

fn parse_protocol(p: ScrapeProtocol) -> parse::ScrapeProtocol {
    match p {
        ScrapeProtocol::PrometheusProto => parse::ScrapeProtocol::PrometheusProto,
        ScrapeProtocol::OpenMetricsText0_0_1 => parse::ScrapeProtocol::OpenMetricsText0_0_1,
        ScrapeProtocol::OpenMetricsText1_0_0 => parse::ScrapeProtocol::OpenMetricsText1_0_0,
        ScrapeProtocol::PrometheusText0_0_4 => parse::ScrapeProtocol::PrometheusText0_0_4,
        ScrapeProtocol::PrometheusText1_0_0 => parse::ScrapeProtocol::PrometheusText1_0_0,
    }
}

fn loop_options(config: &ScrapeConfig, seed: u64) -> LoopOptions {
    let protocols: Vec<parse::ScrapeProtocol> = if config.scrape_protocols.is_empty() {
        crate::config::DEFAULT_SCRAPE_PROTOCOLS.iter().copied().map(parse_protocol).collect()
    } else {
        config.scrape_protocols.iter().copied().map(parse_protocol).collect()
    };
    let scheme = config.name_validation();
    let escaping = match (config.metric_name_escaping_scheme, scheme) {
        (Some(e), _) => escaping_name(e),
        (None, NameValidationScheme::Legacy) => "underscores",
        (None, NameValidationScheme::Utf8) => "allow-utf-8",
    };
    let fallback = config.fallback_scrape_protocol.map(|p| match p {
        ScrapeProtocol::PrometheusProto => Format::Protobuf,
        ScrapeProtocol::OpenMetricsText0_0_1 | ScrapeProtocol::OpenMetricsText1_0_0 => {
            Format::OpenMetrics
        }
        ScrapeProtocol::PrometheusText0_0_4 | ScrapeProtocol::PrometheusText1_0_0 => {
            Format::PrometheusText
        }
    });
    let limit = |v: u64| usize::try_from(v).unwrap_or(usize::MAX);
    LoopOptions {
        honor_labels: config.honor_labels,
        honor_timestamps: config.honor_timestamps,
        track_timestamps_staleness: config.track_timestamps_staleness,
        sample_limit: limit(config.sample_limit),
        label_limits: LabelLimits {
            label_limit: limit(config.label_limit),
            label_name_length_limit: limit(config.label_name_length_limit),
            label_value_length_limit: limit(config.label_value_length_limit),
        },
        body_size_limit_bytes: limit(config.body_size_limit.bytes()),
        metric_relabel_configs: Arc::from(config.metric_relabel_configs.clone()),
        name_validation: scheme,
        accept: Arc::from(parse::accept_header(&protocols, escaping)),
        parse_options: ParseOptions { fallback, ..ParseOptions::default() },
        offset_seed: seed,
    }
}

fn escaping_name(e: crate::config::EscapingScheme) -> &'static str {
    use crate::config::EscapingScheme;
    match e {
        EscapingScheme::AllowUtf8 => "allow-utf-8",
        EscapingScheme::Underscores => "underscores",
        EscapingScheme::Dots => "dots",
        EscapingScheme::Values => "values",
    }
}
