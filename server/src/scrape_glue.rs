//! Wiring discovery into scraping, and scraping into the API.
//!
//! The discovery manager runs every job's providers and publishes merged
//! snapshots of target groups; a task hands each snapshot to the scrape
//! manager. On reload both managers apply the new config, keeping the
//! providers and scrape loops of unchanged jobs running.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{SystemTime, UNIX_EPOCH};

use promethium_discovery::manager::{
    Manager as DiscoveryManager, ManagerOptions as DiscoveryOptions,
};
use promethium_engine::Appendable;
use promethium_scrape::manager::{ManagerOptions, ScrapeManager, ScrapeMetrics};
use promethium_scrape::target::Target;
use tokio::task::JoinHandle;

use crate::api::json::push_float_text;
use crate::config::LoadedConfig;
use crate::duration::format_prom_duration;
use crate::state::AppState;
use crate::storage::Storage;
use crate::targets::{
    ActiveTarget, DroppedTarget, Health, LabelMap, MAX_DROPPED_TARGETS, TargetMetadata,
    TargetSource,
};
use crate::telemetry::Collector;

/// Running scraping: the scrape manager and the discovery feeding it.
pub struct Scraping {
    manager: Arc<ScrapeManager>,
    discovery: DiscoveryManager,
    forward: JoinHandle<()>,
}

impl Scraping {
    /// Starts scraping with the state's current config.
    pub fn start(state: &Arc<AppState>, storage: Arc<dyn Storage>) -> anyhow::Result<Scraping> {
        let appendable: Arc<dyn Appendable> = storage;
        let seed = promethium_engine::model::xxh3_64(crate::flags::hostname().as_bytes());
        let manager = Arc::new(ScrapeManager::new(
            appendable,
            ManagerOptions { runtime: None, offset_seed: seed },
        ));
        state.set_targets(Arc::new(ManagerView { manager: manager.clone() }));
        state.telemetry.register(Arc::new(ScrapeCollector { metrics: manager.metrics() }));
        let discovery = DiscoveryManager::new(DiscoveryOptions::default());
        let mut snapshots = discovery.subscribe();
        let forward = {
            let manager = manager.clone();
            tokio::spawn(async move {
                while snapshots.changed().await.is_ok() {
                    let snapshot = snapshots.borrow_and_update().clone();
                    let groups: HashMap<_, _> =
                        snapshot.iter().map(|(job, gs)| (job.clone(), gs.clone())).collect();
                    manager.sync(groups);
                }
            })
        };
        let mut scraping = Scraping { manager, discovery, forward };
        scraping.apply(&state.config())?;
        Ok(scraping)
    }

    /// Applies a (re)loaded config. A scrape config the manager refuses
    /// fails the reload with nothing changed; a discovery provider that
    /// cannot start is logged and discovers nothing, as in Prometheus.
    pub fn apply(&mut self, loaded: &LoadedConfig) -> anyhow::Result<()> {
        let config = &loaded.config;
        self.manager.apply_config(config).map_err(|e| anyhow::anyhow!("{e}"))?;
        let jobs = config
            .scrape_configs
            .iter()
            .map(|sc| (sc.job_name.clone(), sc.sd_providers()))
            .collect();
        for e in self.discovery.apply_config(jobs) {
            tracing::error!(error = %e, "service discovery provider not started");
        }
        Ok(())
    }

    /// Stops discovery and every scrape loop (writing staleness markers).
    pub async fn stop(&mut self) {
        self.forward.abort();
        self.discovery.apply_config(Vec::new());
        self.manager.stop().await;
    }
}

/// The API's view of the manager.
struct ManagerView {
    manager: Arc<ScrapeManager>,
}

fn label_map(labels: &promethium_engine::model::Labels) -> LabelMap {
    labels.iter().map(|l| (l.name.to_string(), l.value.to_string())).collect()
}

fn system_time_ms(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

impl TargetSource for ManagerView {
    fn active_targets(&self) -> Box<dyn Iterator<Item = ActiveTarget> + '_> {
        let host = crate::flags::hostname();
        // Only `Arc`s are collected up front; each target is converted when
        // the consumer asks for it.
        let targets: Vec<(String, Arc<Target>)> = self
            .manager
            .active_targets()
            .into_iter()
            .flat_map(|(pool, ts)| ts.into_iter().map(move |t| (pool.clone(), t)))
            .collect();
        Box::new(targets.into_iter().map(move |(pool, t)| {
            let status = t.status();
            let url = t.url().to_string();
            let health = match status.health.as_str() {
                "up" => Health::Up,
                "down" => Health::Down,
                _ => Health::Unknown,
            };
            ActiveTarget {
                discovered_labels: label_map(t.discovered_labels()),
                labels: label_map(&t.labels()),
                global_url: url.replacen("://localhost", &format!("://{host}"), 1).replacen(
                    "://127.0.0.1",
                    &format!("://{host}"),
                    1,
                ),
                scrape_pool: pool,
                scrape_url: url,
                last_error: status.last_error,
                last_scrape_ms: status.last_scrape.map(system_time_ms).unwrap_or(0),
                last_scrape_duration_secs: status.last_scrape_duration.as_secs_f64(),
                health,
                scrape_interval: format_prom_duration(t.interval()),
                scrape_timeout: format_prom_duration(t.timeout()),
            }
        }))
    }

    fn dropped_targets(&self) -> (Vec<DroppedTarget>, BTreeMap<String, u64>) {
        let mut out = Vec::new();
        for (pool, targets) in self.manager.dropped_targets() {
            for t in targets.iter().take(MAX_DROPPED_TARGETS.saturating_sub(out.len())) {
                out.push(DroppedTarget {
                    discovered_labels: label_map(&t.discovered_labels),
                    scrape_pool: pool.clone(),
                });
            }
        }
        let counts =
            self.manager.dropped_targets_counts().into_iter().map(|(k, v)| (k, v as u64)).collect();
        (out, counts)
    }

    fn scrape_pools(&self) -> Vec<String> {
        self.manager.scrape_pools()
    }

    fn metadata(&self) -> Vec<TargetMetadata> {
        let mut out = Vec::new();
        for targets in self.manager.active_targets().values() {
            for t in targets {
                let target = label_map(&t.labels());
                for (family, m) in t.metadata().iter() {
                    out.push(TargetMetadata {
                        target: target.clone(),
                        metric: family.clone(),
                        kind: m.metric_type.as_str().to_string(),
                        help: m.help.clone(),
                        unit: m.unit.clone(),
                    });
                }
            }
        }
        out
    }
}

/// Renders the scrape manager's counters under Prometheus' names.
struct ScrapeCollector {
    metrics: Arc<ScrapeMetrics>,
}

impl Collector for ScrapeCollector {
    fn collect(&self, out: &mut String) {
        let m = &self.metrics;
        let counters: [(&str, &str, &std::sync::atomic::AtomicU64); 8] = [
            (
                "prometheus_target_scrapes_exceeded_sample_limit_total",
                "Total number of scrapes that hit the sample limit and were rejected.",
                &m.exceeded_sample_limit_total,
            ),
            (
                "prometheus_target_scrapes_exceeded_body_size_limit_total",
                "Total number of scrapes that hit the body size limit",
                &m.exceeded_body_size_limit_total,
            ),
            (
                "prometheus_target_scrapes_exceeded_label_limits_total",
                "Total number of scrapes that hit the label limits and were rejected.",
                &m.exceeded_label_limits_total,
            ),
            (
                "prometheus_target_scrapes_sample_out_of_order_total",
                "Total number of samples rejected due to not being out of the expected order.",
                &m.sample_out_of_order_total,
            ),
            (
                "prometheus_target_scrapes_sample_duplicate_timestamp_total",
                "Total number of samples rejected due to duplicate timestamps but different values.",
                &m.sample_duplicate_timestamp_total,
            ),
            (
                "prometheus_target_scrapes_sample_out_of_bounds_total",
                "Total number of samples rejected due to timestamp falling out of the time bounds.",
                &m.sample_out_of_bounds_total,
            ),
            (
                "prometheus_target_scrape_pool_reloads_total",
                "Total number of scrape pool reloads.",
                &m.pool_reloads_total,
            ),
            (
                "prometheus_target_scrape_pool_reloads_failed_total",
                "Total number of failed scrape pool reloads.",
                &m.pool_reloads_failed_total,
            ),
        ];
        for (name, help, value) in counters {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                value.load(Ordering::Relaxed)
            );
        }
        let name = "prometheus_target_interval_length_seconds";
        let _ =
            writeln!(out, "# HELP {name} Actual intervals between scrapes.\n# TYPE {name} summary");
        for s in m.interval_lengths() {
            let interval = format_prom_duration(s.interval);
            for (q, v) in &s.quantiles {
                let _ = write!(out, "{name}{{interval=\"{interval}\",quantile=\"{q}\"}} ");
                push_float_text(out, *v);
                out.push('\n');
            }
            let _ = write!(out, "{name}_sum{{interval=\"{interval}\"}} ");
            push_float_text(out, s.sum_secs);
            let _ = writeln!(out, "\n{name}_count{{interval=\"{interval}\"}} {}", s.count);
        }
    }
}
