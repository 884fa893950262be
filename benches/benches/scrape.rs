//! Scrape to append in steady state: from a fetched body to a committed
//! batch, through the real scrape loop (`ScrapeLoop::append_scrape`).
//!
//! The body is generated deterministically (fixed seed): about 2,000 series
//! shaped like node_exporter's (HELP/TYPE lines, CPU/disk/network counters
//! with several labels, filesystem gauges, a GC summary and a histogram).
//! Four variants of the body with different values are served in turn, so
//! every scrape appends new samples; timestamps advance one 15 s interval per
//! scrape. The cache is warmed with one scrape before measuring, so every
//! measured scrape takes the cached path: parse, cache lookup by series
//! bytes, append by cached `SeriesRef`, staleness bookkeeping, the five
//! report series, commit.
//!
//! * `scrape/body_to_commit_db_wal`: into the real `Db` with its default
//!   WAL (zstd, sync when a segment fills, as Prometheus);
//! * `scrape/body_to_commit_db_no_wal`: the same without a WAL, to show the
//!   WAL's share;
//! * `scrape/http_loopback_to_commit_db_wal`: the whole loop iteration
//!   including the HTTP fetch of the body (gzip off) from a loopback server.
//!
//! Time is process CPU time (all threads, WAL included), so samples/s read
//! as samples per CPU-second.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use promethium_benches::cpu_timed;
use promethium_engine::Appendable;
use promethium_engine::db::{Db, DbOptions};
use promethium_engine::model::Labels;
use promethium_scrape::http::{ClientOptions, FetchRequest, ScrapeClient};
use promethium_scrape::manager::ScrapeMetrics;
use promethium_scrape::scrape_loop::{LoopOptions, ScrapeLoop};
use promethium_scrape::target::Target;

const TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";
const INTERVAL_MS: i64 = 15_000;
const BODIES: usize = 4;

/// Deterministic pseudo-random numbers (64-bit LCG, Knuth's constants).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 =
            self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 11
    }

    fn value(&mut self, scale: u64) -> String {
        let v = self.next() % (scale * 1000);
        format!("{}.{:03}", v / 1000, v % 1000)
    }
}

/// One body of about 2,000 series; `variant` changes the values only.
fn body(variant: u64) -> (String, usize) {
    let mut rng = Lcg(42 + variant);
    let mut out = String::new();
    let mut n: usize = 0;
    let family = |out: &mut String, name: &str, kind: &str, help: &str| {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
    };
    family(&mut out, "node_cpu_seconds_total", "counter", "Seconds the CPUs spent in each mode.");
    for cpu in 0..64 {
        for mode in ["idle", "iowait", "irq", "nice", "softirq", "steal", "system", "user"] {
            let _ = writeln!(
                out,
                "node_cpu_seconds_total{{cpu=\"{cpu}\",mode=\"{mode}\"}} {}",
                rng.value(100_000)
            );
            n += 1;
        }
    }
    for (name, kind) in [
        ("node_disk_read_bytes_total", "counter"),
        ("node_disk_written_bytes_total", "counter"),
        ("node_disk_io_time_seconds_total", "counter"),
        ("node_disk_reads_completed_total", "counter"),
        ("node_disk_writes_completed_total", "counter"),
        ("node_disk_io_now", "gauge"),
    ] {
        family(&mut out, name, kind, "Disk statistics.");
        for dev in 0..40 {
            let _ = writeln!(out, "{name}{{device=\"nvme{dev}n1\"}} {}", rng.value(1 << 30));
            n += 1;
        }
    }
    for (name, kind) in [
        ("node_network_receive_bytes_total", "counter"),
        ("node_network_transmit_bytes_total", "counter"),
        ("node_network_receive_packets_total", "counter"),
        ("node_network_transmit_packets_total", "counter"),
        ("node_network_receive_errs_total", "counter"),
        ("node_network_up", "gauge"),
    ] {
        family(&mut out, name, kind, "Network device statistic.");
        for dev in 0..50 {
            let _ = writeln!(out, "{name}{{device=\"veth{dev:04x}\"}} {}", rng.value(1 << 30));
            n += 1;
        }
    }
    for name in
        ["node_filesystem_avail_bytes", "node_filesystem_size_bytes", "node_filesystem_files_free"]
    {
        family(&mut out, name, "gauge", "Filesystem statistic.");
        for fs in 0..60 {
            let _ = writeln!(
                out,
                "{name}{{device=\"/dev/sd{fs}\",fstype=\"ext4\",mountpoint=\"/var/lib/kubelet/pods/{fs:08x}/volumes\"}} {}",
                rng.value(1 << 40)
            );
            n += 1;
        }
    }
    family(&mut out, "http_request_duration_seconds", "histogram", "Request latency.");
    for handler in 0..20 {
        let mut cum = 0;
        for le in
            ["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf"]
        {
            cum += rng.next() % 100;
            let _ = writeln!(
                out,
                "http_request_duration_seconds_bucket{{handler=\"/api/v1/h{handler}\",method=\"GET\",le=\"{le}\"}} {cum}"
            );
            n += 1;
        }
        let _ = writeln!(
            out,
            "http_request_duration_seconds_sum{{handler=\"/api/v1/h{handler}\",method=\"GET\"}} {}",
            rng.value(10_000)
        );
        let _ = writeln!(
            out,
            "http_request_duration_seconds_count{{handler=\"/api/v1/h{handler}\",method=\"GET\"}} {cum}"
        );
        n += 2;
    }
    family(&mut out, "go_gc_duration_seconds", "summary", "GC pause durations.");
    for q in ["0", "0.25", "0.5", "0.75", "1"] {
        let _ = writeln!(
            out,
            "go_gc_duration_seconds{{quantile=\"{q}\"}} 0.000{}",
            rng.next() % 100_000
        );
        n += 1;
    }
    for i in 0..400 {
        let _ = writeln!(
            out,
            "node_systemd_unit_state{{name=\"unit{i}.service\",state=\"active\",type=\"simple\"}} 1"
        );
        n += 1;
    }
    (out, n)
}

struct Bench {
    scrape_loop: ScrapeLoop,
    bodies: Vec<String>,
    next: usize,
    t0_ms: i64,
}

impl Bench {
    fn new(db: Arc<dyn Appendable>, bodies: Vec<String>) -> Self {
        let labels = Labels::new([
            ("__address__", "node-0001.example.org:9100"),
            ("__metrics_path__", "/metrics"),
            ("__scheme__", "http"),
            ("instance", "node-0001.example.org:9100"),
            ("job", "node"),
        ]);
        let target = Target::new(
            "node",
            labels.clone(),
            labels,
            &BTreeMap::new(),
            Duration::from_secs(15),
            Duration::from_secs(10),
        )
        .expect("valid target");
        let scrape_loop = ScrapeLoop::new(
            Arc::new(target),
            db,
            Arc::new(LoopOptions::default()),
            Arc::new(ScrapeMetrics::default()),
            None,
        );
        let t0_ms = promethium_scrape::scrape_loop::unix_ms(std::time::SystemTime::now());
        let mut b = Bench { scrape_loop, bodies, next: 0, t0_ms };
        b.scrape(); // warm the cache: the measured scrapes are all cache hits
        b
    }

    fn next_t(&mut self) -> (usize, i64) {
        let k = self.next;
        self.next += 1;
        (k % self.bodies.len(), self.t0_ms + k as i64 * INTERVAL_MS)
    }

    fn scrape(&mut self) {
        let (i, t) = self.next_t();
        let report = self.scrape_loop.append_scrape(
            self.bodies[i].as_bytes(),
            TEXT,
            t,
            Ok(()),
            Instant::now(),
        );
        assert!(report.error.is_none(), "scrape failed: {:?}", report.error);
    }
}

fn body_to_commit(c: &mut Criterion) {
    let made: Vec<(String, usize)> = (0..BODIES as u64).map(body).collect();
    let samples = made[0].1;
    let bodies: Vec<String> = made.into_iter().map(|(b, _)| b).collect();
    let mut g = c.benchmark_group("scrape");
    g.sample_size(30);
    g.throughput(Throughput::Elements(samples as u64));
    for (name, wal) in [("body_to_commit_db_wal", true), ("body_to_commit_db_no_wal", false)] {
        let dir = tempfile::tempdir().expect("temp dir");
        let opts = if wal {
            DbOptions::default()
        } else {
            DbOptions { wal: None, ..DbOptions::default() }
        };
        let db = Arc::new(Db::open(dir.path(), opts).expect("open db"));
        let mut bench = Bench::new(db.clone(), bodies.clone());
        g.bench_function(name, |b| b.iter_custom(|n| cpu_timed(n, || bench.scrape())));
        drop(bench);
        db.close().expect("close db");
    }
    g.finish();
}

fn http_loopback(c: &mut Criterion) {
    let (body, samples) = body(0);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let addr = rt.block_on(serve(body));
    let url: http::Uri = format!("http://{addr}/metrics").parse().expect("url");
    let client =
        rt.block_on(async { ScrapeClient::new(ClientOptions::default()) }).expect("client");
    let dir = tempfile::tempdir().expect("temp dir");
    let db = Arc::new(Db::open(dir.path(), DbOptions::default()).expect("open db"));
    let mut bench = Bench::new(db.clone(), vec![String::new()]);
    let (mut buf, mut scratch) = (Vec::new(), Vec::new());
    let mut g = c.benchmark_group("scrape");
    g.sample_size(30);
    g.throughput(Throughput::Elements(samples as u64));
    g.bench_function("http_loopback_to_commit_db_wal", |b| {
        b.iter_custom(|n| {
            cpu_timed(n, || {
                let request = FetchRequest {
                    url: &url,
                    accept: promethium_scrape::parse::SCRAPE_ACCEPT_HEADER,
                    timeout: Duration::from_secs(10),
                    body_size_limit_bytes: 0,
                };
                let resp =
                    rt.block_on(client.fetch(&request, &mut buf, &mut scratch)).expect("fetch");
                let (_, t) = bench.next_t();
                // Values repeat (one body), so advance time only: the samples
                // are still appended, as a constant target's are.
                let report = bench.scrape_loop.append_scrape(
                    &buf,
                    &resp.content_type,
                    t,
                    Ok(()),
                    Instant::now(),
                );
                assert!(report.error.is_none(), "{:?}", report.error);
            })
        })
    });
    g.finish();
    drop(bench);
    db.close().expect("close db");
}

/// A minimal keep-alive HTTP/1.1 server answering every request with `body`.
async fn serve(body: String) -> std::net::SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let response = Arc::new(
        format!(
            "HTTP/1.1 200 OK\r\nContent-Type: {TEXT}\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes(),
    );
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else { return };
            let response = Arc::clone(&response);
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                        match sock.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(k) => buf.extend_from_slice(&chunk[..k]),
                        }
                    }
                    buf.clear();
                    if sock.write_all(&response).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

criterion_group!(benches, body_to_commit, http_loopback);
criterion_main!(benches);
