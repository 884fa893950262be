//! The server's own metrics, exposed on `/metrics` in the text format under
//! the names Prometheus uses, so existing dashboards work unchanged.
//!
//! Instrumented code records typed events (`http_request`, `query_done`,
//! `remote_write`, ...) on [`Telemetry`]; rendering reads the counters,
//! asks the storage for head statistics and reads `/proc/self` for the
//! `process_*` family. Summaries keep a bounded window of recent
//! observations so memory stays constant however long the server runs.

use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;

use crate::api::json::push_float_text;
use crate::storage::HeadStats;

/// Observations a summary keeps for its quantiles.
const SUMMARY_WINDOW: usize = 1024;
/// Quantiles reported by summaries, as Prometheus' client does.
const QUANTILES: [f64; 3] = [0.5, 0.9, 0.99];
/// Buckets of `prometheus_http_request_duration_seconds`, as in Prometheus.
const HTTP_BUCKETS: [f64; 9] = [0.1, 0.2, 0.4, 1.0, 3.0, 8.0, 20.0, 60.0, 120.0];

#[derive(Default)]
struct Summary {
    window: VecDeque<f64>,
    sum: f64,
    count: u64,
}

impl Summary {
    fn observe(&mut self, v: f64) {
        if self.window.len() == SUMMARY_WINDOW {
            self.window.pop_front();
        }
        self.window.push_back(v);
        self.sum += v;
        self.count += 1;
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let mut sorted: Vec<f64> = self.window.iter().copied().collect();
        sorted.sort_by(f64::total_cmp);
        let sep = if labels.is_empty() { "" } else { "," };
        for q in QUANTILES {
            let v = if sorted.is_empty() {
                f64::NAN
            } else {
                let idx = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
                sorted[idx]
            };
            let _ = write!(out, "{name}{{{labels}{sep}quantile=\"{q}\"}} ");
            push_float_text(out, v);
            out.push('\n');
        }
        let braces = if labels.is_empty() { String::new() } else { format!("{{{labels}}}") };
        let _ = write!(out, "{name}_sum{braces} ");
        push_float_text(out, self.sum);
        let _ = writeln!(out, "\n{name}_count{braces} {}", self.count);
    }
}

#[derive(Default)]
struct Histogram {
    buckets: [u64; HTTP_BUCKETS.len()],
    sum: f64,
    count: u64,
}

/// Extra metrics rendered by another component (the scrape manager).
pub trait Collector: Send + Sync {
    /// Appends text-format lines (with `# HELP`/`# TYPE`).
    fn collect(&self, out: &mut String);
}

/// The server's metric registry.
#[derive(Default)]
pub struct Telemetry {
    http_requests: Mutex<BTreeMap<(String, u16), u64>>,
    http_durations: Mutex<BTreeMap<String, Histogram>>,
    query_durations: Mutex<BTreeMap<&'static str, Summary>>,
    queries_running: AtomicU64,
    remote_write_samples: AtomicU64,
    remote_write_rejected: AtomicU64,
    reload_success: AtomicU64,
    reload_success_time_secs: AtomicU64,
    ready: AtomicU64,
    collectors: Mutex<Vec<Arc<dyn Collector>>>,
}

/// A running query, counted in `prometheus_engine_queries` until dropped.
pub struct QueryGuard<'a>(&'a AtomicU64);

impl Drop for QueryGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Telemetry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// One HTTP request answered by `handler` (the route pattern) with `code`.
    pub fn http_request(&self, handler: &str, code: u16, secs: f64) {
        *self.http_requests.lock().entry((handler.to_string(), code)).or_default() += 1;
        let mut durations = self.http_durations.lock();
        let h = durations.entry(handler.to_string()).or_default();
        for (i, le) in HTTP_BUCKETS.iter().enumerate() {
            if secs <= *le {
                h.buckets[i] += 1;
            }
        }
        h.sum += secs;
        h.count += 1;
    }

    /// A query started; the guard ends it.
    pub fn query_started(&self) -> QueryGuard<'_> {
        self.queries_running.fetch_add(1, Ordering::Relaxed);
        QueryGuard(&self.queries_running)
    }

    /// Time spent in one slice of a query (`queue_time`, `inner_eval`, ...).
    pub fn query_slice(&self, slice: &'static str, secs: f64) {
        self.query_durations.lock().entry(slice).or_default().observe(secs);
    }

    /// Remote-write samples accepted and rejected.
    pub fn remote_write(&self, accepted: u64, rejected: u64) {
        self.remote_write_samples.fetch_add(accepted, Ordering::Relaxed);
        self.remote_write_rejected.fetch_add(rejected, Ordering::Relaxed);
    }

    /// The outcome of a configuration (re)load.
    pub fn config_reload(&self, ok: bool, now_secs: u64) {
        self.reload_success.store(u64::from(ok), Ordering::Relaxed);
        if ok {
            self.reload_success_time_secs.store(now_secs, Ordering::Relaxed);
        }
    }

    /// Whether the server is ready (WAL replayed).
    pub fn set_ready(&self, ready: bool) {
        self.ready.store(u64::from(ready), Ordering::Relaxed);
    }

    /// Adds a component's metrics to the output (replacing none).
    pub fn register(&self, collector: Arc<dyn Collector>) {
        self.collectors.lock().push(collector);
    }

    /// Removes every registered collector (before re-registering on reload).
    pub fn clear_collectors(&self) {
        self.collectors.lock().clear();
    }

    /// Renders every metric in the text format 0.0.4.
    pub fn render(&self, head: Option<&HeadStats>, retention_secs: Option<f64>) -> String {
        let mut out = String::with_capacity(16 * 1024);
        render_process(&mut out);
        header(
            &mut out,
            "prometheus_build_info",
            "gauge",
            "A metric with a constant '1' value labeled by version, revision, branch, goversion from which prometheus was built, and the goos and goarch for the build.",
        );
        let _ = writeln!(
            out,
            "prometheus_build_info{{branch=\"\",goarch=\"{}\",goos=\"{}\",goversion=\"{}\",revision=\"\",tags=\"\",version=\"{}\"}} 1",
            std::env::consts::ARCH,
            std::env::consts::OS,
            rustc_version(),
            env!("CARGO_PKG_VERSION")
        );
        gauge(
            &mut out,
            "prometheus_ready",
            "Whether Prometheus startup was fully completed and the server is ready for normal operation.",
            self.ready.load(Ordering::Relaxed) as f64,
        );
        gauge(
            &mut out,
            "prometheus_config_last_reload_successful",
            "Whether the last configuration reload attempt was successful.",
            self.reload_success.load(Ordering::Relaxed) as f64,
        );
        gauge(
            &mut out,
            "prometheus_config_last_reload_success_timestamp_seconds",
            "Timestamp of the last successful configuration reload.",
            self.reload_success_time_secs.load(Ordering::Relaxed) as f64,
        );

        header(&mut out, "prometheus_http_requests_total", "counter", "Counter of HTTP requests.");
        for ((handler, code), n) in self.http_requests.lock().iter() {
            let _ = writeln!(
                out,
                "prometheus_http_requests_total{{code=\"{code}\",handler=\"{handler}\"}} {n}"
            );
        }
        header(
            &mut out,
            "prometheus_http_request_duration_seconds",
            "histogram",
            "Histogram of latencies for HTTP requests.",
        );
        for (handler, h) in self.http_durations.lock().iter() {
            for (i, le) in HTTP_BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "prometheus_http_request_duration_seconds_bucket{{handler=\"{handler}\",le=\"{le}\"}} {}",
                    h.buckets[i]
                );
            }
            let _ = writeln!(
                out,
                "prometheus_http_request_duration_seconds_bucket{{handler=\"{handler}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = write!(
                out,
                "prometheus_http_request_duration_seconds_sum{{handler=\"{handler}\"}} "
            );
            push_float_text(&mut out, h.sum);
            let _ = writeln!(
                out,
                "\nprometheus_http_request_duration_seconds_count{{handler=\"{handler}\"}} {}",
                h.count
            );
        }

        header(
            &mut out,
            "prometheus_engine_queries",
            "gauge",
            "The current number of queries being executed or waiting.",
        );
        let _ = writeln!(
            out,
            "prometheus_engine_queries {}",
            self.queries_running.load(Ordering::Relaxed)
        );
        header(&mut out, "prometheus_engine_query_duration_seconds", "summary", "Query timings");
        for (slice, s) in self.query_durations.lock().iter() {
            s.render(
                &mut out,
                "prometheus_engine_query_duration_seconds",
                &format!("slice=\"{slice}\""),
            );
        }
        counter(
            &mut out,
            "prometheus_remote_write_receiver_samples_accepted_total",
            "Samples accepted by the remote-write receiver.",
            self.remote_write_samples.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "prometheus_remote_write_receiver_samples_rejected_total",
            "Samples rejected by the remote-write receiver.",
            self.remote_write_rejected.load(Ordering::Relaxed),
        );

        if let Some(head) = head {
            render_tsdb(&mut out, head, retention_secs);
        }
        let collectors: Vec<Arc<dyn Collector>> = self.collectors.lock().clone();
        for c in collectors {
            c.collect(&mut out);
        }
        out
    }
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn gauge(out: &mut String, name: &str, help: &str, v: f64) {
    header(out, name, "gauge", help);
    out.push_str(name);
    out.push(' ');
    push_float_text(out, v);
    out.push('\n');
}

fn counter(out: &mut String, name: &str, help: &str, v: u64) {
    header(out, name, "counter", help);
    let _ = writeln!(out, "{name} {v}");
}

fn render_tsdb(out: &mut String, head: &HeadStats, retention_secs: Option<f64>) {
    gauge(
        out,
        "prometheus_tsdb_head_series",
        "Total number of series in the head block.",
        head.num_series as f64,
    );
    header(
        out,
        "prometheus_tsdb_head_samples_appended_total",
        "counter",
        "Total number of appended samples.",
    );
    let _ = writeln!(
        out,
        "prometheus_tsdb_head_samples_appended_total{{type=\"float\"}} {}",
        head.samples_appended
    );
    header(
        out,
        "prometheus_tsdb_head_series_created_total",
        "counter",
        "Total number of series created in the head",
    );
    let _ = writeln!(out, "prometheus_tsdb_head_series_created_total {}", head.num_series);
    gauge(
        out,
        "prometheus_tsdb_head_chunks",
        "Total number of chunks in the head block.",
        head.chunk_count as f64,
    );
    gauge(
        out,
        "prometheus_tsdb_head_min_time",
        "Minimum time bound of the head block.",
        head.min_time_ms as f64,
    );
    gauge(
        out,
        "prometheus_tsdb_head_max_time",
        "Maximum timestamp of the head block.",
        head.max_time_ms as f64,
    );
    gauge(
        out,
        "prometheus_tsdb_head_min_time_seconds",
        "Minimum time bound of the head block.",
        head.min_time_ms as f64 / 1000.0,
    );
    gauge(
        out,
        "prometheus_tsdb_head_max_time_seconds",
        "Maximum timestamp of the head block.",
        head.max_time_ms as f64 / 1000.0,
    );
    header(
        out,
        "prometheus_tsdb_out_of_order_samples_total",
        "counter",
        "Samples refused because their series already had a newer sample.",
    );
    let _ = writeln!(
        out,
        "prometheus_tsdb_out_of_order_samples_total{{type=\"float\"}} {}",
        head.out_of_order_samples
    );
    header(
        out,
        "prometheus_tsdb_out_of_bound_samples_total",
        "counter",
        "Samples refused because blocks already cover their time.",
    );
    let _ = writeln!(
        out,
        "prometheus_tsdb_out_of_bound_samples_total{{type=\"float\"}} {}",
        head.out_of_bound_samples
    );
    counter(
        out,
        "prometheus_tsdb_compactions_total",
        "Total number of compactions that were executed for the partition.",
        head.compactions,
    );
    counter(
        out,
        "prometheus_tsdb_compactions_failed_total",
        "Block merges and head cuts that failed.",
        head.compactions_failed,
    );
    // Only the sum and count are kept, so the histogram has its +Inf bucket.
    header(
        out,
        "prometheus_tsdb_compaction_duration_seconds",
        "histogram",
        "Time spent merging blocks.",
    );
    let _ = writeln!(
        out,
        "prometheus_tsdb_compaction_duration_seconds_bucket{{le=\"+Inf\"}} {}",
        head.compactions
    );
    let _ = writeln!(
        out,
        "prometheus_tsdb_compaction_duration_seconds_sum {}",
        head.compaction_seconds
    );
    let _ = writeln!(out, "prometheus_tsdb_compaction_duration_seconds_count {}", head.compactions);
    counter(
        out,
        "prometheus_tsdb_head_truncations_total",
        "Times the head was cut into a block.",
        head.head_truncations,
    );
    counter(
        out,
        "prometheus_tsdb_checkpoint_creations_total",
        "WAL checkpoints written.",
        head.checkpoints,
    );
    gauge(
        out,
        "prometheus_tsdb_blocks_loaded",
        "Number of currently loaded data blocks",
        head.blocks_loaded as f64,
    );
    counter(
        out,
        "prometheus_tsdb_wal_corruptions_total",
        "Total number of WAL corruptions.",
        head.wal_corruptions,
    );
    if let Some(bytes) = head.wal_bytes_written {
        counter(
            out,
            "prometheus_tsdb_wal_record_bytes_saved_total",
            "The total number of bytes written to the WAL.",
            bytes,
        );
    }
    if let Some(n) = head.wal_fsyncs {
        header(
            out,
            "prometheus_tsdb_wal_fsync_duration_seconds",
            "summary",
            "Duration of write log fsync.",
        );
        let _ = writeln!(out, "prometheus_tsdb_wal_fsync_duration_seconds_count {n}");
    }
    if let Some(n) = head.wal_segments {
        gauge(
            out,
            "prometheus_tsdb_wal_segment_current",
            "Write log segment index that TSDB is currently writing to.",
            n.saturating_sub(1) as f64,
        );
    }
    counter(
        out,
        "prometheus_tsdb_wal_writes_failed_total",
        "Total number of write log writes that failed.",
        head.wal_writes_failed,
    );
    if let Some(secs) = retention_secs {
        gauge(
            out,
            "prometheus_tsdb_retention_limit_seconds",
            "Max age in seconds blocks should be kept in the TSDB.",
            secs,
        );
    }
}

fn rustc_version() -> &'static str {
    option_env!("RUSTC_VERSION").unwrap_or("rust")
}

/// Process metrics read from `/proc/self`, named as Go's client names them.
fn render_process(out: &mut String) {
    let ticks = clock_ticks();
    if let Ok(stat) = std::fs::read_to_string("/proc/self/stat") {
        // Fields after the parenthesised command name; utime is field 14.
        if let Some((_, rest)) = stat.rsplit_once(')') {
            let f: Vec<&str> = rest.split_whitespace().collect();
            let num = |i: usize| f.get(i).and_then(|s| s.parse::<f64>().ok()).unwrap_or(0.0);
            let (utime, stime, starttime, vsize, rss) =
                (num(11), num(12), num(19), num(20), num(21));
            gauge(
                out,
                "process_cpu_seconds_total",
                "Total user and system CPU time spent in seconds.",
                (utime + stime) / ticks,
            );
            // Rewrite the TYPE line: cpu seconds is a counter.
            if let Some(i) = out.rfind("# TYPE process_cpu_seconds_total gauge") {
                out.replace_range(
                    i..i + "# TYPE process_cpu_seconds_total gauge".len(),
                    "# TYPE process_cpu_seconds_total counter",
                );
            }
            gauge(out, "process_virtual_memory_bytes", "Virtual memory size in bytes.", vsize);
            gauge(
                out,
                "process_resident_memory_bytes",
                "Resident memory size in bytes.",
                rss * page_size(),
            );
            gauge(
                out,
                "process_start_time_seconds",
                "Start time of the process since unix epoch in seconds.",
                boot_time_secs() + starttime / ticks,
            );
        }
    }
    if let Ok(dir) = std::fs::read_dir("/proc/self/fd") {
        gauge(out, "process_open_fds", "Number of open file descriptors.", dir.count() as f64);
    }
    if let Ok(limits) = std::fs::read_to_string("/proc/self/limits")
        && let Some(line) = limits.lines().find(|l| l.starts_with("Max open files"))
        && let Some(soft) = line.split_whitespace().nth(3).and_then(|s| s.parse::<f64>().ok())
    {
        gauge(out, "process_max_fds", "Maximum number of open file descriptors.", soft);
    }
}

fn clock_ticks() -> f64 {
    // SAFETY: sysconf has no preconditions and only reads a constant.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 { t as f64 } else { 100.0 }
}

fn page_size() -> f64 {
    // SAFETY: sysconf has no preconditions and only reads a constant.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if p > 0 { p as f64 } else { 4096.0 }
}

fn boot_time_secs() -> f64 {
    std::fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| l.strip_prefix("btime ").and_then(|v| v.trim().parse().ok()))
        })
        .unwrap_or(0.0)
}

/// Resident memory of this process in bytes (for tests and load reports).
pub fn resident_memory_bytes() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = stat.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * page_size() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_names() {
        let t = Telemetry::new();
        t.http_request("/api/v1/query", 200, 0.05);
        t.http_request("/api/v1/query", 400, 0.5);
        t.query_slice("inner_eval", 0.01);
        let head = HeadStats {
            num_series: 7,
            samples_appended: 70,
            compactions: 2,
            compaction_seconds: 1.5,
            blocks_loaded: 3,
            out_of_order_samples: 4,
            out_of_bound_samples: 5,
            wal_writes_failed: 1,
            ..HeadStats::default()
        };
        let text = t.render(Some(&head), Some(86_400.0));
        for needle in [
            "prometheus_http_requests_total{code=\"200\",handler=\"/api/v1/query\"} 1\n",
            "prometheus_http_requests_total{code=\"400\",handler=\"/api/v1/query\"} 1\n",
            "prometheus_http_request_duration_seconds_bucket{handler=\"/api/v1/query\",le=\"0.1\"} 1\n",
            "prometheus_engine_query_duration_seconds{slice=\"inner_eval\",quantile=\"0.5\"} 0.01\n",
            "prometheus_engine_query_duration_seconds_count{slice=\"inner_eval\"} 1\n",
            "prometheus_tsdb_head_series 7\n",
            "prometheus_tsdb_head_samples_appended_total{type=\"float\"} 70\n",
            "prometheus_tsdb_compactions_total 2\n",
            "prometheus_tsdb_compaction_duration_seconds_bucket{le=\"+Inf\"} 2\n",
            "prometheus_tsdb_compaction_duration_seconds_sum 1.5\n",
            "prometheus_tsdb_blocks_loaded 3\n",
            "prometheus_tsdb_out_of_order_samples_total{type=\"float\"} 4\n",
            "prometheus_tsdb_out_of_bound_samples_total{type=\"float\"} 5\n",
            "prometheus_tsdb_wal_writes_failed_total 1\n",
            "# TYPE process_cpu_seconds_total counter\n",
            "process_resident_memory_bytes ",
            "process_open_fds ",
            "process_start_time_seconds ",
            "prometheus_build_info{",
        ] {
            assert!(text.contains(needle), "missing {needle:?} in\n{text}");
        }
    }

    #[test]
    fn summaries_stay_bounded() {
        let mut s = Summary::default();
        for i in 0..10_000 {
            s.observe(f64::from(i));
        }
        assert_eq!(s.window.len(), SUMMARY_WINDOW);
        assert_eq!(s.count, 10_000);
    }
}
