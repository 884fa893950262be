//! Crash and load: SIGKILL mid-ingest then restart on the same data dir;
//! remote write end to end; a bounded load loop of concurrent queries while
//! scraping; basic auth from the web config.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::{Server, enc, get, request};
use promethium_server::remote::proto::{Label, Sample, TimeSeries, WriteRequest};
use promethium_server::remote::write::encode;

const READY_TIMEOUT: Duration = Duration::from_secs(60);

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_millis()
        as i64
}

fn write_request(series: usize, t_ms: i64, value: f64) -> Vec<u8> {
    let timeseries = (0..series)
        .map(|i| TimeSeries {
            labels: vec![
                Label { name: "__name__".into(), value: "rw_metric".into() },
                Label { name: "series".into(), value: i.to_string() },
            ],
            samples: vec![Sample {
                value: value + (i as f64) * 0.001 + (t_ms % 7919) as f64 * 1e-7,
                timestamp: t_ms,
            }],
            exemplars: vec![],
        })
        .collect();
    encode(&WriteRequest { timeseries, metadata: vec![] })
}

fn push(port: u16, body: &[u8]) -> common::Response {
    request(
        port,
        "POST",
        "/api/v1/write",
        &[("Content-Type", "application/x-protobuf"), ("Content-Encoding", "snappy")],
        body,
    )
    .expect("remote write request")
}

fn count(port: u16, query: &str) -> Option<f64> {
    let v = get(port, &format!("/api/v1/query?query={}", enc(query))).json();
    v["data"]["result"][0]["value"][1].as_str().and_then(|s| s.parse().ok())
}

#[test]
fn sigkill_mid_ingest_then_restart_keeps_data() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: self\n    static_configs: [{targets: ['SELF']}]\n";
    let port = common::free_port();
    let mut s = Server::start_on(dir.path(), port, config, &["--web.enable-remote-write-receiver"]);
    s.wait_ready(READY_TIMEOUT);

    // Ingest through remote write: 40 batches of 500 series, each
    // acknowledged (204) before the next is sent. That is several of the
    // WAL's 32 KiB write buffers, so most of it reaches the segment file.
    const SERIES: usize = 2000;
    const BATCHES: i64 = 40;
    let base = now_ms() - 120_000;
    for i in 0..BATCHES {
        let r = push(port, &write_request(SERIES, base + i * 1000, i as f64));
        assert_eq!(r.status, 204, "{}", r.text());
    }
    // Out of order is permanent (400), garbage is 400.
    assert_eq!(push(port, &write_request(1, base, 0.0)).status, 400);
    assert_eq!(push(port, b"garbage").status, 400);
    assert_eq!(count(port, "count(rw_metric)"), Some(SERIES as f64));

    // Kill -9 while still writing from another thread.
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut i = BATCHES;
            while !stop.load(Ordering::Relaxed) && i < 100 {
                let _ = request(
                    port,
                    "POST",
                    "/api/v1/write",
                    &[],
                    &write_request(SERIES, base + i * 1000, i as f64),
                );
                i += 1;
            }
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    s.signal("KILL");
    let _ = s.child.wait();
    stop.store(true, Ordering::Relaxed);
    writer.join().expect("writer thread");

    // Restart on the same data dir and port: ready again, with the data up
    // to the last write that left the WAL's buffer (Prometheus' guarantee:
    // a SIGKILL loses at most the unflushed tail), and nothing torn.
    let mut s = Server::start_on(dir.path(), port, config, &["--web.enable-remote-write-receiver"]);
    s.wait_ready(READY_TIMEOUT);
    assert_eq!(
        count(port, "count(rw_metric)"),
        Some(SERIES as f64),
        "every series survived; log:\n{}",
        s.logs()
    );
    let at = |i: i64| (base + i * 1000) as f64 / 1000.0;
    let v = get(
        port,
        &format!("/api/v1/query?query={}&time={}", enc("floor(rw_metric{series=\"7\"})"), at(0)),
    )
    .json();
    assert_eq!(v["data"]["result"][0]["value"][1], "0", "first batch survived: {v}");
    // The surviving samples of a series are a gap-free prefix of what was sent.
    let q = enc("count_over_time(rw_metric{series=\"7\"}[10m])");
    let v = get(port, &format!("/api/v1/query?query={q}&time={}", at(100))).json();
    let n: i64 =
        v["data"]["result"][0]["value"][1].as_str().and_then(|s| s.parse().ok()).expect("count");
    assert!(n >= 2, "more than the first batch survived: {v}");
    let v = get(
        port,
        &format!(
            "/api/v1/query?query={}&time={}",
            enc("floor(rw_metric{series=\"7\"})"),
            at(n - 1)
        ),
    )
    .json();
    assert_eq!(
        v["data"]["result"][0]["value"][1],
        (n - 1).to_string(),
        "samples form a prefix: {v}"
    );
    let status = s.terminate();
    assert!(status.success());
}

#[test]
fn load_loop_never_fails_and_memory_stays_bounded() {
    // PROMETHIUM_LOAD_SECS lengthens the run (the acceptance run uses 60).
    let secs: u64 =
        std::env::var("PROMETHIUM_LOAD_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(5);
    let node = common::NodeExporter::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let config = format!(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: self\n    static_configs: [{{targets: ['SELF']}}]\n  - job_name: node\n    static_configs: [{{targets: ['127.0.0.1:{}']}}]\n",
        node.port
    );
    let mut s = Server::start(dir.path(), &config, &[]);
    s.wait_ready(READY_TIMEOUT);
    let port = s.port;
    s.wait_for(Duration::from_secs(20), "first scrapes", || {
        count(port, "count(up)").filter(|n| *n == 2.0)
    });
    let rss_start = s.rss_bytes();

    let requests = Arc::new(AtomicU64::new(0));
    let failures = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(secs);
    let queries = [
        "up",
        "sum(rate(node_cpu_seconds_total[1m])) by (mode)",
        "count({__name__=~\".+\"})",
        "topk(5, node_network_receive_bytes_total)",
    ];
    let workers: Vec<_> = (0..4)
        .map(|w| {
            let requests = requests.clone();
            let failures = failures.clone();
            std::thread::spawn(move || {
                let mut i = w;
                while Instant::now() < deadline {
                    let q = enc(queries[i % queries.len()]);
                    let path = if i % 3 == 0 {
                        let end = now_ms() / 1000;
                        format!(
                            "/api/v1/query_range?query={q}&start={}&end={end}&step=5",
                            end - 300
                        )
                    } else {
                        format!("/api/v1/query?query={q}")
                    };
                    match request(port, "GET", &path, &[], b"") {
                        Ok(r) if r.status == 200 => {}
                        Ok(r) => {
                            eprintln!("{path}: {} {}", r.status, r.text());
                            failures.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) => {
                            eprintln!("{path}: {e}");
                            failures.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    requests.fetch_add(1, Ordering::Relaxed);
                    i += 1;
                }
            })
        })
        .collect();
    for w in workers {
        w.join().expect("worker");
    }
    let n = requests.load(Ordering::Relaxed);
    let rss_end = s.rss_bytes();
    eprintln!(
        "load: {n} requests in {secs}s = {:.0} requests/s, rss {} MiB -> {} MiB",
        n as f64 / secs as f64,
        rss_start >> 20,
        rss_end >> 20
    );
    assert_eq!(failures.load(Ordering::Relaxed), 0, "no request may fail");
    assert!(n > 0);
    assert!(rss_end < rss_start + (256 << 20), "memory grew from {rss_start} to {rss_end} bytes");
    // Scrapes kept succeeding under load.
    assert_eq!(count(port, "count(up == 1)"), Some(2.0));
}

#[test]
fn basic_auth_from_web_config() {
    let dir = tempfile::tempdir().expect("tempdir");
    let hash = bcrypt::hash("pw", 4).expect("bcrypt");
    let web = dir.path().join("web.yml");
    std::fs::write(&web, format!("basic_auth_users:\n  admin: '{hash}'\n"))
        .expect("write web config");
    let mut s = Server::start(
        dir.path(),
        "scrape_configs: []\n",
        &[&format!("--web.config.file={}", web.display())],
    );
    // Readiness needs credentials too.
    let auth = format!("Basic {}", base64_encode(b"admin:pw"));
    let start = Instant::now();
    while request(s.port, "GET", "/-/ready", &[("Authorization", &auth)], b"")
        .map(|r| r.status)
        .ok()
        != Some(200)
    {
        assert!(start.elapsed() < READY_TIMEOUT, "not ready; log:\n{}", s.logs());
        if let Ok(Some(st)) = s.child.try_wait() {
            panic!("server exited: {st}; log:\n{}", s.logs());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let r = get(s.port, "/api/v1/status/buildinfo");
    assert_eq!(r.status, 401);
    assert_eq!(r.header("www-authenticate"), Some("Basic"));
    let bad = format!("Basic {}", base64_encode(b"admin:wrong"));
    assert_eq!(
        request(s.port, "GET", "/-/healthy", &[("Authorization", &bad)], b"").expect("req").status,
        401
    );
    assert_eq!(
        request(s.port, "GET", "/api/v1/status/buildinfo", &[("Authorization", &auth)], b"")
            .expect("req")
            .status,
        200
    );
}

fn base64_encode(data: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(data)
}

#[test]
fn sigterm_flushes_the_wal_and_marks_series_stale() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = common::free_port();
    let scraping = "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: self\n    static_configs: [{targets: ['SELF']}]\n";
    let mut s = Server::start_on(dir.path(), port, scraping, &[]);
    s.wait_ready(READY_TIMEOUT);
    s.wait_for(Duration::from_secs(20), "self scraped", || {
        count(port, "count(up)").filter(|n| *n == 1.0)
    });
    let status = s.terminate();
    assert!(status.success(), "clean exit: {status}");

    // Everything written before SIGTERM is back after a restart (the WAL
    // was flushed on close), and the scrape's series ended with staleness
    // markers, so `up` is no longer current.
    let mut s = Server::start_on(dir.path(), port, "scrape_configs: []\n", &[]);
    s.wait_ready(READY_TIMEOUT);
    assert!(
        count(port, "count_over_time(up[10m])").is_some_and(|n| n >= 1.0),
        "log:\n{}",
        s.logs()
    );
    let v = get(port, "/api/v1/query?query=up").json();
    assert_eq!(v["data"]["result"], serde_json::json!([]), "up is stale after shutdown: {v}");
}
