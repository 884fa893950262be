//! The remote-write sender: `connections` workers, each owning a slice of
//! the series so a series' samples always arrive in time order, send
//! `batch`-sample requests back to back for a fixed time.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::proto;
use crate::usage::process_cpu_seconds;

pub(crate) struct SenderConfig {
    pub(crate) url: String,
    pub(crate) series: usize,
    pub(crate) batch: usize,
    pub(crate) connections: usize,
    pub(crate) duration: Duration,
}

/// What the sender saw; printed as one JSON object.
#[derive(Default)]
pub(crate) struct Report {
    requests_ok: u64,
    requests_failed: u64,
    samples_accepted: u64,
    elapsed_s: f64,
    p50_ms: f64,
    p99_ms: f64,
    cpu_s: f64,
    first_error: Option<String>,
}

impl Report {
    pub(crate) fn to_json(&self) -> String {
        serde_json::json!({
            "requests_ok": self.requests_ok,
            "requests_failed": self.requests_failed,
            "samples_accepted": self.samples_accepted,
            "elapsed_s": self.elapsed_s,
            "samples_per_s": self.samples_accepted as f64 / self.elapsed_s.max(1e-9),
            "p50_ms": self.p50_ms,
            "p99_ms": self.p99_ms,
            "sender_cpu_s": self.cpu_s,
            "first_error": self.first_error.as_deref().unwrap_or(""),
        })
        .to_string()
    }
}

/// Series `s`'s labels, sorted by name; unique for every `s` below 10^7.
fn series_labels(s: usize) -> Vec<u8> {
    let name = format!("rw_metric_{}", s % 100);
    let instance = format!("host-{}:9100", s / 1000);
    let shard = ((s / 100) % 10).to_string();
    let region = format!("region-{}", s % 7);
    proto::encode_labels(&[
        ("__name__", &name),
        ("instance", &instance),
        ("job", "remote"),
        ("region", &region),
        ("shard", &shard),
    ])
}

/// Value of series `s` in cycle `c`: half counters, half integer gauges.
fn series_value(s: usize, c: u64) -> f64 {
    if s % 2 == 0 {
        (c * (1 + s as u64 % 7)) as f64
    } else {
        ((s as u64 * 31 + c * 7) % 1000) as f64
    }
}

struct WorkerResult {
    latencies_us: Vec<u32>,
    ok: u64,
    failed: u64,
    samples: u64,
    first_error: Option<String>,
}

pub(crate) fn run(config: &SenderConfig) -> Result<Report, String> {
    if config.series == 0 || config.batch == 0 || config.connections == 0 {
        return Err("series, batch and connections must be positive".into());
    }
    let uri: hyper::Uri = config.url.parse().map_err(|e| format!("bad --url: {e}"))?;
    let labels: Arc<Vec<Vec<u8>>> = Arc::new((0..config.series).map(series_labels).collect());
    // Timestamps start an hour back and step one second per pass, so even a
    // fast server stays in the past and in order.
    let now_ms =
        SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0);
    let start_ms = now_ms - 3_600_000;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let cpu_before = process_cpu_seconds();
    let started = Instant::now();
    let deadline = started + config.duration;
    let results = rt.block_on(async {
        let mut handles = Vec::new();
        for w in 0..config.connections {
            let lo = config.series * w / config.connections;
            let hi = config.series * (w + 1) / config.connections;
            let labels = Arc::clone(&labels);
            let uri = uri.clone();
            let batch = config.batch;
            handles.push(tokio::spawn(worker(uri, labels, lo, hi, batch, start_ms, deadline)));
        }
        let mut out = Vec::new();
        for h in handles {
            out.push(h.await.map_err(|e| e.to_string())?);
        }
        Ok::<_, String>(out)
    })?;
    let elapsed_s = started.elapsed().as_secs_f64();
    let mut report =
        Report { elapsed_s, cpu_s: process_cpu_seconds() - cpu_before, ..Report::default() };
    let mut lat = Vec::new();
    for r in results {
        report.requests_ok += r.ok;
        report.requests_failed += r.failed;
        report.samples_accepted += r.samples;
        report.first_error = report.first_error.or(r.first_error);
        lat.extend(r.latencies_us);
    }
    lat.sort_unstable();
    report.p50_ms = percentile(&lat, 0.50) / 1000.0;
    report.p99_ms = percentile(&lat, 0.99) / 1000.0;
    Ok(report)
}

fn percentile(sorted: &[u32], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    f64::from(sorted[i])
}

async fn worker(
    uri: hyper::Uri,
    labels: Arc<Vec<Vec<u8>>>,
    lo: usize,
    hi: usize,
    batch: usize,
    start_ms: i64,
    deadline: Instant,
) -> WorkerResult {
    // One client per worker keeps one connection per worker.
    let client: Client<HttpConnector, Full<Bytes>> =
        Client::builder(TokioExecutor::new()).pool_max_idle_per_host(1).build_http();
    let mut res =
        WorkerResult { latencies_us: Vec::new(), ok: 0, failed: 0, samples: 0, first_error: None };
    let mut encoder = snap::raw::Encoder::new();
    let mut body = Vec::new();
    let (mut next, mut cycle) = (lo, 0u64);
    while Instant::now() < deadline {
        body.clear();
        let mut n = 0;
        while n < batch {
            let t_ms = start_ms + cycle as i64 * 1000;
            proto::push_series(&mut body, &labels[next], t_ms, series_value(next, cycle));
            n += 1;
            next += 1;
            if next == hi {
                next = lo;
                cycle += 1;
            }
        }
        let compressed = match encoder.compress_vec(&body) {
            Ok(c) => c,
            Err(e) => {
                res.first_error.get_or_insert(format!("snappy: {e}"));
                res.failed += 1;
                continue;
            }
        };
        let req = hyper::Request::post(uri.clone())
            .header("Content-Encoding", "snappy")
            .header("Content-Type", "application/x-protobuf")
            .header("User-Agent", "compare-loadgen")
            .header("X-Prometheus-Remote-Write-Version", "0.1.0")
            .body(Full::new(Bytes::from(compressed)))
            .expect("static headers are valid");
        let sent = Instant::now();
        match client.request(req).await {
            Ok(resp) => {
                let status = resp.status();
                let text =
                    resp.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
                res.latencies_us.push(sent.elapsed().as_micros().min(u128::from(u32::MAX)) as u32);
                if status.is_success() {
                    res.ok += 1;
                    res.samples += n as u64;
                } else {
                    res.failed += 1;
                    res.first_error.get_or_insert_with(|| {
                        format!("{status}: {}", String::from_utf8_lossy(&text))
                    });
                }
            }
            Err(e) => {
                res.failed += 1;
                res.first_error.get_or_insert(format!("request: {e}"));
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_labels_are_unique_and_values_deterministic() {
        let mut all: Vec<Vec<u8>> = (0..100_000).map(series_labels).collect();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), 100_000);
        assert_eq!(series_value(4, 3), series_value(4, 3));
        assert!(series_value(4, 4) > series_value(4, 3));
    }

    #[test]
    fn percentiles_pick_from_the_sorted_list() {
        let v: Vec<u32> = (1..=100).collect();
        assert_eq!(percentile(&v, 0.5), 51.0);
        assert_eq!(percentile(&v, 0.99), 99.0);
        assert!(percentile(&[], 0.5).is_nan());
    }
}
