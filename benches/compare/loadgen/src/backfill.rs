//! The backfill sender: the node_exporter-like load of `promethium-benches`
//! (`NodeLoad`) for `targets` targets over a past span, pushed by remote
//! write in time order as fast as the server accepts it.
//!
//! The span is cut into windows of `rounds_per_request` scrape rounds, and
//! each window's series into `chunks` contiguous ranges; one request carries
//! one range's consecutive samples for the window (one `TimeSeries` per
//! series). Range `j` always goes to connection `j % connections`, and each
//! connection sends its requests one at a time in window order, so a
//! series' samples always arrive in time order. Connections are fed through
//! short bounded queues from one generator thread, so no connection runs
//! more than a few windows ahead of the slowest one: a server that refuses
//! samples older than its newest minus some margin (a head cut into a
//! block) never sees a straggler that far back.

use std::ops::Range;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use promethium_benches::NodeLoad;

use crate::proto;
use crate::usage::process_cpu_seconds;

pub(crate) struct BackfillConfig {
    pub(crate) url: String,
    pub(crate) targets: usize,
    pub(crate) span_ms: i64,
    pub(crate) interval_ms: i64,
    /// Newest time the data may reach; `None` for now.
    pub(crate) end_ms: Option<i64>,
    pub(crate) seed: u64,
    pub(crate) connections: usize,
    pub(crate) rounds_per_request: usize,
    /// Samples per request, roughly.
    pub(crate) batch: usize,
}

/// How the samples are cut into requests.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Plan {
    pub(crate) series: usize,
    pub(crate) rounds: usize,
    pub(crate) rounds_per_request: usize,
    /// Series ranges per window; a multiple of `connections`.
    pub(crate) chunks: usize,
    pub(crate) connections: usize,
}

impl Plan {
    pub(crate) fn new(
        series: usize,
        rounds: usize,
        rounds_per_request: usize,
        batch: usize,
        connections: usize,
    ) -> Self {
        let rounds_per_request = rounds_per_request.max(1);
        let connections = connections.max(1);
        let wanted = (series * rounds_per_request).div_ceil(batch.max(1)).max(1);
        // Every connection gets the same number of ranges per window.
        let chunks = wanted.div_ceil(connections) * connections;
        Plan { series, rounds, rounds_per_request, chunks: chunks.min(series).max(1), connections }
    }

    /// The scrape rounds of each window, in time order.
    pub(crate) fn windows(&self) -> impl Iterator<Item = Range<usize>> + '_ {
        (0..self.rounds)
            .step_by(self.rounds_per_request)
            .map(|lo| lo..(lo + self.rounds_per_request).min(self.rounds))
    }

    /// The series ranges of a window with the connection each goes to.
    pub(crate) fn chunks(&self) -> impl Iterator<Item = (usize, Range<usize>)> + '_ {
        (0..self.chunks)
            .map(|j| {
                (
                    j % self.connections,
                    self.series * j / self.chunks..self.series * (j + 1) / self.chunks,
                )
            })
            .filter(|(_, r)| !r.is_empty())
    }
}

/// Runs the load through `plan`, calling `f(connection, series, window)` for
/// every request in the order it is to be sent; `window[k][i]` is series
/// `i`'s sample in the window's `k`-th round.
pub(crate) fn for_each_request(
    load: &mut NodeLoad,
    plan: &Plan,
    mut f: impl FnMut(usize, Range<usize>, &[Vec<(i64, f64)>]),
) {
    let mut window: Vec<Vec<(i64, f64)>> = Vec::new();
    for rounds in plan.windows() {
        window.resize_with(rounds.len(), Vec::new);
        for round in window.iter_mut() {
            load.next_round(round);
        }
        for (conn, series) in plan.chunks() {
            f(conn, series, &window);
        }
    }
}

/// `NodeLoad` with exactly `targets` targets (every target has the same
/// number of series).
pub(crate) fn node_load(targets: usize, seed: u64) -> NodeLoad {
    let per_target = NodeLoad::new(1, seed).len();
    let load = NodeLoad::new((targets.max(1) - 1) * per_target + 1, seed);
    debug_assert_eq!(load.targets(), targets.max(1));
    load
}

/// Encoded labels of every series, in the load's order.
fn encoded_labels(load: &NodeLoad) -> Vec<Vec<u8>> {
    load.labels
        .iter()
        .map(|l| {
            let pairs: Vec<(&str, &str)> = l.iter().map(|p| (p.name, p.value)).collect();
            proto::encode_labels(&pairs)
        })
        .collect()
}

struct Request {
    body: Bytes,
    samples: u64,
}

#[derive(Default)]
struct WorkerResult {
    ok: u64,
    failed: u64,
    retries: u64,
    accepted: u64,
    rejected: u64,
    first_error: Option<String>,
}

#[derive(Default)]
pub(crate) struct Report {
    targets: usize,
    series: usize,
    rounds: usize,
    first_t_ms: i64,
    last_t_ms: i64,
    samples_sent: u64,
    samples_accepted: u64,
    samples_rejected: u64,
    requests_ok: u64,
    requests_failed: u64,
    retries: u64,
    elapsed_s: f64,
    cpu_s: f64,
    first_error: Option<String>,
}

impl Report {
    pub(crate) fn to_json(&self) -> String {
        serde_json::json!({
            "targets": self.targets,
            "series": self.series,
            "rounds": self.rounds,
            "first_t_ms": self.first_t_ms,
            "last_t_ms": self.last_t_ms,
            "samples_sent": self.samples_sent,
            "samples_accepted": self.samples_accepted,
            "samples_rejected": self.samples_rejected,
            "requests_ok": self.requests_ok,
            "requests_failed": self.requests_failed,
            "retries": self.retries,
            "elapsed_s": self.elapsed_s,
            "samples_per_s": self.samples_accepted as f64 / self.elapsed_s.max(1e-9),
            "sender_cpu_s": self.cpu_s,
            "first_error": self.first_error.as_deref().unwrap_or(""),
        })
        .to_string()
    }
}

pub(crate) fn run(config: &BackfillConfig) -> Result<Report, String> {
    if config.targets == 0 || config.connections == 0 || config.interval_ms <= 0 {
        return Err("targets, connections and interval must be positive".into());
    }
    let uri: hyper::Uri = config.url.parse().map_err(|e| format!("bad --url: {e}"))?;
    let mut load = node_load(config.targets, config.seed);
    let end_ms = config.end_ms.unwrap_or_else(|| {
        SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
    });
    // Slots on the interval grid; one interval of margin plus the targets'
    // offsets (under 15 s) keeps every sample at or before `end_ms`.
    let interval = config.interval_ms;
    load.interval_ms = interval;
    load.start_ms = (end_ms - config.span_ms).div_euclid(interval) * interval - interval;
    let rounds = (config.span_ms / interval).max(1) as usize;
    let plan =
        Plan::new(load.len(), rounds, config.rounds_per_request, config.batch, config.connections);
    let labels = encoded_labels(&load);
    let mut report = Report {
        targets: load.targets(),
        series: load.len(),
        rounds,
        first_t_ms: i64::MAX,
        last_t_ms: i64::MIN,
        ..Report::default()
    };

    let mut senders = Vec::new();
    let mut receivers = Vec::new();
    for _ in 0..plan.connections {
        let (tx, rx) = tokio::sync::mpsc::channel::<Request>(2);
        senders.push(tx);
        receivers.push(rx);
    }
    let cpu_before = process_cpu_seconds();
    let started = Instant::now();
    // The generator: builds and compresses the requests in send order.
    let generator = std::thread::Builder::new()
        .name("backfill-generator".into())
        .spawn(move || {
            let mut encoder = snap::raw::Encoder::new();
            let mut body = Vec::new();
            let mut samples = Vec::new();
            let (mut sent, mut first, mut last) = (0u64, i64::MAX, i64::MIN);
            let mut closed = false;
            for_each_request(&mut load, &plan, |conn, series, window| {
                if closed {
                    return;
                }
                body.clear();
                let mut n = 0u64;
                for s in series {
                    samples.clear();
                    samples.extend(window.iter().map(|round| round[s]));
                    proto::push_series_samples(&mut body, &labels[s], &samples);
                    n += samples.len() as u64;
                    first = first.min(samples[0].0);
                    last = last.max(samples[samples.len() - 1].0);
                }
                let compressed = encoder.compress_vec(&body).expect("snappy accepts any input");
                let req = Request { body: Bytes::from(compressed), samples: n };
                if senders[conn].blocking_send(req).is_err() {
                    closed = true;
                    return;
                }
                sent += n;
            });
            (sent, first, last)
        })
        .map_err(|e| e.to_string())?;

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let results = rt.block_on(async {
        let handles: Vec<_> =
            receivers.into_iter().map(|rx| tokio::spawn(worker(uri.clone(), rx))).collect();
        let mut out = Vec::new();
        for h in handles {
            out.push(h.await.map_err(|e| e.to_string())?);
        }
        Ok::<_, String>(out)
    })?;
    let (sent, first, last) = generator.join().map_err(|_| "the generator panicked")?;
    report.elapsed_s = started.elapsed().as_secs_f64();
    report.cpu_s = process_cpu_seconds() - cpu_before;
    report.samples_sent = sent;
    report.first_t_ms = first;
    report.last_t_ms = last;
    for r in results {
        report.requests_ok += r.ok;
        report.requests_failed += r.failed;
        report.retries += r.retries;
        report.samples_accepted += r.accepted;
        report.samples_rejected += r.rejected;
        report.first_error = report.first_error.or(r.first_error);
    }
    Ok(report)
}

/// Sends one connection's requests in order; a 4xx is a rejection (not
/// retried, as Prometheus' own sender does), a transport error or 5xx is
/// retried a few times.
async fn worker(uri: hyper::Uri, mut rx: tokio::sync::mpsc::Receiver<Request>) -> WorkerResult {
    let client: Client<HttpConnector, Full<Bytes>> =
        Client::builder(TokioExecutor::new()).pool_max_idle_per_host(1).build_http();
    let mut res = WorkerResult::default();
    while let Some(req) = rx.recv().await {
        let mut attempt = 0;
        loop {
            let http_req = hyper::Request::post(uri.clone())
                .header("Content-Encoding", "snappy")
                .header("Content-Type", "application/x-protobuf")
                .header("User-Agent", "compare-loadgen")
                .header("X-Prometheus-Remote-Write-Version", "0.1.0")
                .body(Full::new(req.body.clone()))
                .expect("static headers are valid");
            let error = match client.request(http_req).await {
                Ok(resp) => {
                    let status = resp.status();
                    let text =
                        resp.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
                    if status.is_success() {
                        res.ok += 1;
                        res.accepted += req.samples;
                        break;
                    }
                    let e = format!("{status}: {}", String::from_utf8_lossy(&text).trim());
                    if status.is_client_error() {
                        res.failed += 1;
                        res.rejected += req.samples;
                        res.first_error.get_or_insert(e);
                        break;
                    }
                    e
                }
                Err(e) => format!("request: {e}"),
            };
            attempt += 1;
            if attempt > 5 {
                res.failed += 1;
                res.rejected += req.samples;
                res.first_error.get_or_insert(error);
                break;
            }
            res.retries += 1;
            tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
        }
    }
    res
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[test]
    fn plan_spreads_ranges_evenly_over_connections() {
        let p = Plan::new(2182, 5760, 10, 5000, 4);
        assert_eq!(p.chunks % 4, 0);
        let chunks: Vec<_> = p.chunks().collect();
        for c in 0..4 {
            assert_eq!(chunks.iter().filter(|(conn, _)| *conn == c).count(), p.chunks / 4);
        }
        let covered: usize = chunks.iter().map(|(_, r)| r.len()).sum();
        assert_eq!(covered, 2182);
        assert_eq!(p.windows().map(|w| w.len()).sum::<usize>(), 5760);
        // A tiny load still gets at least one range.
        let tiny = Plan::new(1, 3, 10, 5000, 4);
        assert_eq!(tiny.chunks().count(), 1);
        assert_eq!(tiny.windows().collect::<Vec<_>>(), vec![0..3]);
    }

    #[test]
    fn every_sample_is_sent_once_in_time_order_on_one_connection() {
        let rounds = 23;
        let mut load = node_load(2, 7);
        let series = load.len();
        let plan = Plan::new(series, rounds, 4, 1500, 3);
        assert!(plan.chunks >= 3, "{plan:?}");
        // What each connection sends, in order: (series, t_ms, value bits).
        let mut per_conn: Vec<Vec<(usize, i64, u64)>> = vec![Vec::new(); plan.connections];
        for_each_request(&mut load, &plan, |conn, range, window| {
            for s in range {
                for round in window {
                    per_conn[conn].push((s, round[s].0, round[s].1.to_bits()));
                }
            }
        });
        // The same load generated directly, series by series.
        let want = promethium_benches::series_samples(&mut node_load(2, 7), rounds);
        let mut owner: HashMap<usize, usize> = HashMap::new();
        let mut got: Vec<Vec<(i64, u64)>> = vec![Vec::new(); series];
        for (conn, sent) in per_conn.iter().enumerate() {
            for &(s, t, v) in sent {
                assert_eq!(*owner.entry(s).or_insert(conn), conn, "series {s} on two connections");
                if let Some(&(prev, _)) = got[s].last() {
                    assert!(t > prev, "series {s}: {t} after {prev}");
                }
                got[s].push((t, v));
            }
        }
        for s in 0..series {
            let w: Vec<(i64, u64)> = want[s].iter().map(|&(t, v)| (t, v.to_bits())).collect();
            assert_eq!(got[s], w, "series {s}");
        }
    }

    #[test]
    fn node_load_has_the_requested_targets() {
        for t in [1, 2, 3] {
            let load = node_load(t, 7);
            assert_eq!(load.targets(), t);
            assert_eq!(encoded_labels(&load).len(), load.len());
        }
    }
}
