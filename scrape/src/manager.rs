//! The scrape manager: one scrape pool per job, fed by configuration and by
//! discovery's target groups.
//!
//! The server owns one [`ScrapeManager`]. It calls [`ScrapeManager::apply_config`]
//! at start-up and on every reload, and [`ScrapeManager::sync`] whenever
//! discovery reports target groups. Both keep healthy loops running: a job
//! whose configuration did not change is not touched, and a target that is
//! still discovered keeps its loop (and cache). The API reads target state
//! through [`ScrapeManager::active_targets`] and friends, and self-metrics
//! through [`ScrapeManager::metrics`].

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use promethium_discovery::TargetGroup;
use promethium_engine::Appendable;
use tokio::runtime::Handle;

use crate::config::Config;
use crate::error::{ManagerError, ScrapeError};
use crate::pool::{DroppedTarget, ScrapePool};
use crate::scrape_loop::ScrapeReport;
use crate::target::Target;

/// Settings of the manager itself (not from `prometheus.yml`).
#[derive(Debug, Clone, Default)]
pub struct ManagerOptions {
    /// The runtime scrape loops run on; the current one when `None`.
    pub runtime: Option<Handle>,
    /// Mixed into every target's scrape offset. Prometheus derives it from
    /// the hostname and external labels so that HA pairs scraping the same
    /// targets do not scrape at the same instant; the server should pass a
    /// hash of the hostname. External labels are mixed in by the manager.
    pub offset_seed: u64,
}

/// How many recent observations each interval keeps for quantiles.
const INTERVAL_WINDOW: usize = 1024;

/// Observed time between consecutive scrapes of targets sharing one
/// configured interval: `prometheus_target_interval_length_seconds`.
#[derive(Debug, Clone, Default)]
pub struct IntervalSummary {
    /// The configured interval (the `interval` label, e.g. `15s`).
    pub interval: Duration,
    /// Number of observations.
    pub count: u64,
    /// Sum of the observations in seconds.
    pub sum_secs: f64,
    /// Quantiles 0.01, 0.05, 0.5, 0.9 and 0.99 over the most recent
    /// observations, as `(quantile, seconds)`.
    pub quantiles: Vec<(f64, f64)>,
}

#[derive(Debug, Default)]
struct IntervalWindow {
    count: u64,
    sum_secs: f64,
    recent: VecDeque<f64>,
}

/// Counters the server exposes as its own metrics. Plain atomics, read with
/// `load(Ordering::Relaxed)`; names in comments are the Prometheus metrics
/// they back.
#[derive(Debug, Default)]
pub struct ScrapeMetrics {
    /// Scrapes attempted (every report).
    pub scrapes_total: AtomicU64,
    /// Scrapes that failed (`up` 0).
    pub scrapes_failed_total: AtomicU64,
    /// `prometheus_target_scrapes_exceeded_sample_limit_total`.
    pub exceeded_sample_limit_total: AtomicU64,
    /// `prometheus_target_scrapes_exceeded_body_size_limit_total`.
    pub exceeded_body_size_limit_total: AtomicU64,
    /// `prometheus_target_scrapes_exceeded_label_limits_total`.
    pub exceeded_label_limits_total: AtomicU64,
    /// `prometheus_target_scrapes_sample_out_of_order_total`.
    pub sample_out_of_order_total: AtomicU64,
    /// `prometheus_target_scrapes_sample_duplicate_timestamp_total`.
    pub sample_duplicate_timestamp_total: AtomicU64,
    /// `prometheus_target_scrapes_sample_out_of_bounds_total`.
    pub sample_out_of_bounds_total: AtomicU64,
    /// Samples appended by scrapes (after relabeling, successful scrapes).
    pub samples_appended_total: AtomicU64,
    /// `prometheus_target_scrape_pool_reloads_total`.
    pub pool_reloads_total: AtomicU64,
    /// `prometheus_target_scrape_pool_reloads_failed_total`.
    pub pool_reloads_failed_total: AtomicU64,
    /// `prometheus_target_scrape_pool_sync_total` (all pools).
    pub pool_syncs_total: AtomicU64,
    intervals: Mutex<BTreeMap<Duration, IntervalWindow>>,
}

impl ScrapeMetrics {
    pub(crate) fn count_scrape(&self, report: &ScrapeReport) {
        self.scrapes_total.fetch_add(1, Ordering::Relaxed);
        let add = |c: &AtomicU64, n: usize| {
            if n > 0 {
                c.fetch_add(n as u64, Ordering::Relaxed);
            }
        };
        add(&self.sample_out_of_order_total, report.out_of_order);
        add(&self.sample_duplicate_timestamp_total, report.duplicate_timestamp);
        add(&self.sample_out_of_bounds_total, report.out_of_bounds);
        match &report.error {
            None => add(&self.samples_appended_total, report.samples_post_relabeling),
            Some(e) => {
                self.scrapes_failed_total.fetch_add(1, Ordering::Relaxed);
                match e {
                    ScrapeError::SampleLimit { .. } => add(&self.exceeded_sample_limit_total, 1),
                    ScrapeError::BodyTooLarge { .. } => {
                        add(&self.exceeded_body_size_limit_total, 1)
                    }
                    ScrapeError::LabelLimit { .. }
                    | ScrapeError::LabelNameLength { .. }
                    | ScrapeError::LabelValueLength { .. } => {
                        add(&self.exceeded_label_limits_total, 1)
                    }
                    _ => {}
                }
            }
        }
    }

    pub(crate) fn observe_interval(&self, interval: Duration, elapsed: Duration) {
        let mut map = self.intervals.lock();
        let w = map.entry(interval).or_default();
        w.count += 1;
        w.sum_secs += elapsed.as_secs_f64();
        if w.recent.len() == INTERVAL_WINDOW {
            w.recent.pop_front();
        }
        w.recent.push_back(elapsed.as_secs_f64());
    }

    /// `prometheus_target_interval_length_seconds`, one summary per
    /// configured interval.
    pub fn interval_lengths(&self) -> Vec<IntervalSummary> {
        let map = self.intervals.lock();
        map.iter()
            .map(|(interval, w)| {
                let mut sorted: Vec<f64> = w.recent.iter().copied().collect();
                sorted.sort_by(f64::total_cmp);
                let quantiles = [0.01, 0.05, 0.5, 0.9, 0.99]
                    .into_iter()
                    .map(|q| {
                        let v = if sorted.is_empty() {
                            f64::NAN
                        } else {
                            let idx = ((sorted.len() - 1) as f64 * q).round() as usize;
                            sorted[idx.min(sorted.len() - 1)]
                        };
                        (q, v)
                    })
                    .collect();
                IntervalSummary {
                    interval: *interval,
                    count: w.count,
                    sum_secs: w.sum_secs,
                    quantiles,
                }
            })
            .collect()
    }
}

#[derive(Default)]
struct Inner {
    pools: BTreeMap<String, ScrapePool>,
    /// Groups received for jobs not (yet) configured, applied when they are.
    pending: HashMap<String, Vec<TargetGroup>>,
    stopped: bool,
}

/// Runs every job's scrape pool.
pub struct ScrapeManager {
    appendable: Arc<dyn Appendable>,
    options: ManagerOptions,
    metrics: Arc<ScrapeMetrics>,
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for ScrapeManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScrapeManager").field("pools", &self.scrape_pools()).finish_non_exhaustive()
    }
}

impl ScrapeManager {
    /// A manager appending into `appendable`, with no jobs until
    /// [`ScrapeManager::apply_config`].
    pub fn new(appendable: Arc<dyn Appendable>, options: ManagerOptions) -> Self {
        ScrapeManager {
            appendable,
            options,
            metrics: Arc::new(ScrapeMetrics::default()),
            inner: Mutex::default(),
        }
    }

    /// Self-metrics shared by every pool and loop.
    pub fn metrics(&self) -> Arc<ScrapeMetrics> {
        Arc::clone(&self.metrics)
    }

    fn runtime(&self) -> Result<Handle, ManagerError> {
        match &self.options.runtime {
            Some(h) => Ok(h.clone()),
            None => Handle::try_current().map_err(|_| ManagerError::NoRuntime),
        }
    }

    /// Applies a (re)loaded configuration: new jobs start, removed jobs stop
    /// (with staleness markers), changed jobs restart their loops keeping
    /// their caches, unchanged jobs are left alone. On error no pool has been
    /// changed.
    pub fn apply_config(&self, config: &Config) -> Result<(), ManagerError> {
        let runtime = self.runtime()?;
        let seed = self.options.offset_seed ^ external_labels_hash(config);
        let mut inner = self.inner.lock();
        if inner.stopped {
            return Ok(());
        }
        // Build every new or changed pool's settings first, so a bad job
        // leaves the running configuration untouched.
        let mut prepared = Vec::new();
        for sc in &config.scrape_configs {
            let changed = inner.pools.get(&sc.job_name).is_none_or(|p| !p.config_equals(sc, seed));
            if changed {
                let settings = ScrapePool::settings(sc, seed).map_err(|source| {
                    self.metrics.pool_reloads_failed_total.fetch_add(1, Ordering::Relaxed);
                    ManagerError::Client { job: sc.job_name.clone(), source }
                })?;
                prepared.push((sc.job_name.clone(), settings));
            }
        }
        let wanted: std::collections::HashSet<&str> =
            config.scrape_configs.iter().map(|sc| sc.job_name.as_str()).collect();
        let gone: Vec<String> =
            inner.pools.keys().filter(|j| !wanted.contains(j.as_str())).cloned().collect();
        for job in gone {
            if let Some(mut pool) = inner.pools.remove(&job) {
                pool.stop_all_detached();
            }
        }
        for (job, settings) in prepared {
            match inner.pools.get_mut(&job) {
                Some(pool) => {
                    self.metrics.pool_reloads_total.fetch_add(1, Ordering::Relaxed);
                    pool.reload(settings);
                }
                None => {
                    let mut pool = ScrapePool::new(
                        settings,
                        Arc::clone(&self.appendable),
                        Arc::clone(&self.metrics),
                        runtime.clone(),
                    );
                    if let Some(groups) = inner.pending.remove(&job) {
                        pool.sync(groups);
                    }
                    inner.pools.insert(job, pool);
                }
            }
        }
        Ok(())
    }

    /// Applies discovery's latest full set of target groups per job. Jobs
    /// missing from `groups` keep their targets; groups of unknown jobs are
    /// kept until a configuration names the job.
    pub fn sync(&self, groups: HashMap<String, Vec<TargetGroup>>) {
        let mut inner = self.inner.lock();
        if inner.stopped {
            return;
        }
        for (job, gs) in groups {
            match inner.pools.get_mut(&job) {
                Some(pool) => {
                    self.metrics.pool_syncs_total.fetch_add(1, Ordering::Relaxed);
                    pool.sync(gs);
                }
                None => {
                    inner.pending.insert(job, gs);
                }
            }
        }
    }

    /// The job names of all scrape pools, sorted.
    pub fn scrape_pools(&self) -> Vec<String> {
        self.inner.lock().pools.keys().cloned().collect()
    }

    /// Active targets per scrape pool.
    pub fn active_targets(&self) -> BTreeMap<String, Vec<Arc<Target>>> {
        self.inner.lock().pools.iter().map(|(job, p)| (job.clone(), p.active_targets())).collect()
    }

    /// Targets dropped by relabeling per scrape pool (at most
    /// `keep_dropped_targets` each when that is set).
    pub fn dropped_targets(&self) -> BTreeMap<String, Vec<DroppedTarget>> {
        self.inner.lock().pools.iter().map(|(job, p)| (job.clone(), p.dropped_targets())).collect()
    }

    /// Number of dropped targets per pool, counting those not kept.
    pub fn dropped_targets_counts(&self) -> BTreeMap<String, usize> {
        self.inner.lock().pools.iter().map(|(job, p)| (job.clone(), p.dropped_count())).collect()
    }

    /// Stops every loop, writes staleness markers for every target's series,
    /// and waits until all loops have finished. Later calls of `sync` and
    /// `apply_config` do nothing.
    pub async fn stop(&self) {
        let pools: Vec<ScrapePool> = {
            let mut inner = self.inner.lock();
            inner.stopped = true;
            std::mem::take(&mut inner.pools).into_values().collect()
        };
        let mut handles = Vec::new();
        for mut pool in pools {
            handles.extend(pool.stop_all());
        }
        for h in handles {
            if let Err(e) = h.await {
                tracing::warn!(error = %e, "scrape loop ended abnormally");
            }
        }
    }
}

fn external_labels_hash(config: &Config) -> u64 {
    let mut buf = Vec::new();
    for (k, v) in &config.global.external_labels {
        buf.extend_from_slice(k.as_bytes());
        buf.push(0xff);
        buf.extend_from_slice(v.as_bytes());
        buf.push(0xff);
    }
    if buf.is_empty() { 0 } else { promethium_engine::model::xxh3_64(&buf) }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use promethium_discovery::LabelSet;
    use promethium_engine::MemStorage;
    use promethium_engine::model::{Labels, is_stale_nan};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// Serves `body` as the Prometheus text format on a loopback port.
    async fn serve(body: &'static str) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    let mut seen = Vec::new();
                    while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                        match sock.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => seen.extend_from_slice(&buf[..n]),
                        }
                    }
                    let head = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    );
                    let _ = sock.write_all(head.as_bytes()).await;
                    let _ = sock.write_all(body.as_bytes()).await;
                });
            }
        });
        addr
    }

    fn config(extra: &str) -> Config {
        let yaml = format!(
            "scrape_configs:\n  - job_name: j\n    scrape_interval: 100ms\n    scrape_timeout: 90ms\n{extra}"
        );
        Config::load_str(&yaml).unwrap()
    }

    fn groups(addrs: &[&str]) -> HashMap<String, Vec<TargetGroup>> {
        let targets = addrs
            .iter()
            .map(|a| LabelSet::from([("__address__".to_owned(), (*a).to_owned())]))
            .collect();
        HashMap::from([(
            "j".to_owned(),
            vec![TargetGroup { source: "0".into(), targets, labels: LabelSet::new() }],
        )])
    }

    fn samples(db: &MemStorage, name: &str, instance: &str) -> Vec<f64> {
        let l = Labels::new([("__name__", name), ("instance", instance), ("job", "j")]);
        db.dump()
            .into_iter()
            .find(|(s, _)| *s == l)
            .map(|(_, s)| s.iter().map(|s| s.value).collect())
            .unwrap_or_default()
    }

    async fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !f() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn targets_come_and_go_with_staleness() {
        let a = serve("m 1\n").await;
        let b = serve("m 2\n").await;
        let db = Arc::new(MemStorage::new());
        let m = ScrapeManager::new(db.clone(), ManagerOptions::default());
        m.sync(groups(&[&a, &b]));
        m.apply_config(&config("")).unwrap();
        assert_eq!(m.scrape_pools(), ["j"]);
        wait_until("both targets scraped", || {
            !samples(&db, "up", &a).is_empty() && !samples(&db, "up", &b).is_empty()
        })
        .await;
        assert_eq!(m.active_targets()["j"].len(), 2);

        // b goes away: its loop ends with staleness markers; a keeps running.
        m.sync(groups(&[&a]));
        assert_eq!(m.active_targets()["j"].len(), 1);
        wait_until("b's staleness markers", || {
            samples(&db, "m", &b).last().is_some_and(|v| is_stale_nan(*v))
        })
        .await;
        assert!(samples(&db, "up", &b).last().is_some_and(|v| is_stale_nan(*v)));
        let before = samples(&db, "up", &a).len();
        wait_until("a keeps being scraped", || samples(&db, "up", &a).len() > before + 1).await;
        assert!(samples(&db, "m", &a).iter().all(|v| *v == 1.0));

        m.stop().await;
        let after_stop = samples(&db, "m", &a);
        assert!(
            after_stop.last().is_some_and(|v| is_stale_nan(*v)),
            "stop writes staleness markers: {after_stop:?}"
        );
        m.sync(groups(&[&a]));
        assert!(m.scrape_pools().is_empty(), "a stopped manager stays stopped");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn reload_keeps_unchanged_loops_and_restarts_changed_ones_without_staleness() {
        let a = serve("m 1\n").await;
        let db = Arc::new(MemStorage::new());
        let m = ScrapeManager::new(db.clone(), ManagerOptions::default());
        m.apply_config(&config("")).unwrap();
        m.sync(groups(&[&a]));
        wait_until("first scrape", || !samples(&db, "up", &a).is_empty()).await;
        let t1 = m.active_targets()["j"][0].clone();

        m.apply_config(&config("")).unwrap();
        assert!(Arc::ptr_eq(&t1, &m.active_targets()["j"][0]), "an unchanged job keeps its loops");

        m.apply_config(&config("    sample_limit: 100\n")).unwrap();
        let t2 = m.active_targets()["j"][0].clone();
        assert!(!Arc::ptr_eq(&t1, &t2), "a changed job restarts its loops");
        assert_eq!(t2.health(), t1.health(), "the target's state carries over");
        let before = samples(&db, "m", &a).len();
        wait_until("scrapes after the reload", || samples(&db, "m", &a).len() > before + 1).await;
        assert!(
            samples(&db, "m", &a).iter().all(|v| *v == 1.0),
            "a reload writes no staleness markers"
        );

        // Relabeling that drops the target moves it to the dropped list.
        let drop_all = "    relabel_configs:\n      - action: drop\n        source_labels: [__address__]\n        regex: .*\n";
        m.apply_config(&config(drop_all)).unwrap();
        assert!(m.active_targets()["j"].is_empty());
        let dropped = &m.dropped_targets()["j"];
        assert_eq!(dropped.len(), 1);
        assert_eq!(dropped[0].discovered_labels.get("__address__"), Some(a.as_str()));
        wait_until("staleness after the drop", || {
            samples(&db, "m", &a).last().is_some_and(|v| is_stale_nan(*v))
        })
        .await;

        // A removed job stops.
        m.apply_config(&Config::load_str("scrape_configs: []\n").unwrap()).unwrap();
        assert!(m.scrape_pools().is_empty());
        m.stop().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn target_limit_fails_every_target_of_the_pool() {
        let a = serve("m 1\n").await;
        let b = serve("m 2\n").await;
        let db = Arc::new(MemStorage::new());
        let m = ScrapeManager::new(db.clone(), ManagerOptions::default());
        m.apply_config(&config("    target_limit: 1\n")).unwrap();
        m.sync(groups(&[&a, &b]));
        wait_until("both targets report", || {
            !samples(&db, "up", &a).is_empty() && !samples(&db, "up", &b).is_empty()
        })
        .await;
        assert_eq!(samples(&db, "up", &a)[0], 0.0);
        assert!(samples(&db, "m", &a).is_empty());
        let t = &m.active_targets()["j"][0];
        assert!(
            t.status().last_error.contains("target_limit exceeded"),
            "{}",
            t.status().last_error
        );
        // Back under the limit, scraping resumes.
        m.sync(groups(&[&a]));
        wait_until("scraping resumes", || samples(&db, "m", &a).first() == Some(&1.0)).await;
        m.stop().await;
    }

    #[tokio::test]
    async fn bad_tls_files_leave_the_running_config_alone() {
        let db = Arc::new(MemStorage::new());
        let m = ScrapeManager::new(db, ManagerOptions::default());
        m.apply_config(&config("")).unwrap();
        let bad = config("    tls_config:\n      ca_file: /nonexistent/ca.pem\n");
        let err = m.apply_config(&bad).unwrap_err();
        assert!(err.to_string().contains("ca.pem"), "{err}");
        assert_eq!(m.scrape_pools(), ["j"]);
        m.stop().await;
    }

    #[test]
    fn interval_quantiles() {
        let m = ScrapeMetrics::default();
        for i in 1..=100 {
            m.observe_interval(Duration::from_secs(15), Duration::from_millis(i * 10));
        }
        let s = &m.interval_lengths()[0];
        assert_eq!(s.count, 100);
        assert!((s.sum_secs - 50.5).abs() < 1e-9);
        let median = s.quantiles.iter().find(|(q, _)| *q == 0.5).unwrap().1;
        assert!((median - 0.5).abs() < 0.011, "{median}");
    }

    #[test]
    fn scrape_counts_by_reason() {
        let m = ScrapeMetrics::default();
        m.count_scrape(&ScrapeReport {
            samples_post_relabeling: 5,
            out_of_order: 2,
            ..Default::default()
        });
        m.count_scrape(&ScrapeReport {
            error: Some(ScrapeError::SampleLimit { samples: 10, limit: 5 }),
            ..Default::default()
        });
        assert_eq!(m.scrapes_total.load(Ordering::Relaxed), 2);
        assert_eq!(m.scrapes_failed_total.load(Ordering::Relaxed), 1);
        assert_eq!(m.exceeded_sample_limit_total.load(Ordering::Relaxed), 1);
        assert_eq!(m.sample_out_of_order_total.load(Ordering::Relaxed), 2);
        assert_eq!(m.samples_appended_total.load(Ordering::Relaxed), 5);
    }
}
