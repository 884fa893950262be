//! Wiring discovery into scraping, and scraping into the API.
//!
//! Each job's discovery providers run as tasks; their target groups are
//! merged per job (a group replaces the previous group with the same
//! source) and handed to the scrape manager. On reload the providers are
//! restarted and the manager applies the new config, keeping unchanged
//! jobs' loops running.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;
use promethium_discovery::TargetGroup;
use promethium_engine::Appendable;
use promethium_scrape::manager::{ManagerOptions, ScrapeManager, ScrapeMetrics};
use tokio::sync::mpsc;
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

/// Groups per job, then per provider, then per source.
type Merged = HashMap<String, HashMap<String, BTreeMap<String, TargetGroup>>>;

/// Running scraping: the manager and the discovery tasks feeding it.
pub struct Scraping {
    manager: Arc<ScrapeManager>,
    discovery: Vec<JoinHandle<()>>,
    merged: Arc<Mutex<Merged>>,
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
        let mut scraping = Scraping {
            manager,
            discovery: Vec::new(),
            merged: Arc::new(Mutex::new(HashMap::new())),
        };
        scraping.apply(&state.config())?;
        Ok(scraping)
    }

    /// Applies a (re)loaded config. On error nothing changed.
    pub fn apply(&mut self, loaded: &LoadedConfig) -> anyhow::Result<()> {
        let config = &loaded.config;
        // Build every discoverer first so a bad SD config fails the reload
        // before anything is stopped.
        let mut discoverers = Vec::new();
        for sc in &config.scrape_configs {
            for (provider, sd) in sc.sd_providers() {
                let d =
                    sd.discoverer().map_err(|e| anyhow::anyhow!("job {:?}: {e}", sc.job_name))?;
                discoverers.push((sc.job_name.clone(), provider, d));
            }
        }
        self.manager.apply_config(config).map_err(|e| anyhow::anyhow!("{e}"))?;
        for task in self.discovery.drain(..) {
            task.abort();
        }
        {
            // Jobs keep their last groups until their new providers report,
            // so a reload does not make targets flap.
            let jobs: std::collections::HashSet<&str> =
                config.scrape_configs.iter().map(|s| s.job_name.as_str()).collect();
            self.merged.lock().retain(|job, _| jobs.contains(job.as_str()));
        }
        for (job, provider, discoverer) in discoverers {
            let (tx, mut rx) = mpsc::channel::<Vec<TargetGroup>>(16);
            let runner = tokio::spawn(discoverer.run(tx));
            let manager = self.manager.clone();
            let merged = self.merged.clone();
            let forward = tokio::spawn(async move {
                while let Some(groups) = rx.recv().await {
                    let all: Vec<TargetGroup> = {
                        let mut m = merged.lock();
                        let job_groups = m.entry(job.clone()).or_default();
                        let per_provider = job_groups.entry(provider.clone()).or_default();
                        for g in groups {
                            per_provider.insert(g.source.clone(), g);
                        }
                        job_groups.values().flat_map(|p| p.values().cloned()).collect()
                    };
                    manager.sync(HashMap::from([(job.clone(), all)]));
                }
                runner.abort();
            });
            self.discovery.push(forward);
        }
        Ok(())
    }

    /// Stops discovery and every scrape loop (writing staleness markers).
    pub async fn stop(&mut self) {
        for task in self.discovery.drain(..) {
            task.abort();
        }
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
    fn active_targets(&self) -> Vec<ActiveTarget> {
        let host = crate::flags::hostname();
        let mut out = Vec::new();
        for (pool, targets) in self.manager.active_targets() {
            for t in targets {
                let status = t.status();
                let url = t.url().to_string();
                let health = match status.health.as_str() {
                    "up" => Health::Up,
                    "down" => Health::Down,
                    _ => Health::Unknown,
                };
                out.push(ActiveTarget {
                    discovered_labels: label_map(t.discovered_labels()),
                    labels: label_map(&t.labels()),
                    scrape_pool: pool.clone(),
                    global_url: url.replacen("://localhost", &format!("://{host}"), 1).replacen(
                        "://127.0.0.1",
                        &format!("://{host}"),
                        1,
                    ),
                    scrape_url: url,
                    last_error: status.last_error,
                    last_scrape_ms: status.last_scrape.map(system_time_ms).unwrap_or(0),
                    last_scrape_duration_secs: status.last_scrape_duration.as_secs_f64(),
                    health,
                    scrape_interval: format_prom_duration(t.interval()),
                    scrape_timeout: format_prom_duration(t.timeout()),
                });
            }
        }
        out
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
