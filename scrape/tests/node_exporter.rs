//! A real target: Debian's `prometheus-node-exporter`, scraped through the
//! real manager, pool, loop, HTTP client (with gzip) and parser into
//! `MemStorage`.
//!
//! The test fetches the exporter's body itself, parses it with a small
//! independent parser, and checks that every series the endpoint serves
//! was stored with the target's labels, that `up` is 1, and that values of
//! series that did not change between two fetches bracketing a scrape were
//! stored exactly. Stopping the exporter must give `up` 0 and staleness
//! markers for all its series.
//!
//! The exporter is installed by `scripts/test` (`apt-get install
//! prometheus-node-exporter`); without it this test fails and says so.

mod support;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use promethium_discovery::{LabelSet, TargetGroup};
use promethium_engine::MemStorage;
use promethium_engine::model::{Labels, is_stale_nan};
use promethium_scrape::config::Config;
use promethium_scrape::manager::{ManagerOptions, ScrapeManager};
use promethium_scrape::scrape_loop::REPORT_SERIES;
use promethium_scrape::target::Health;
use support::wait_for;

const EXPORTER: &str = "/usr/bin/prometheus-node-exporter";
const JOB: &str = "node";

/// Kills the exporter when the test ends, however it ends.
struct Exporter(Child);

impl Drop for Exporter {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind a free loopback port");
    l.local_addr().expect("local addr").port()
}

fn start_exporter(port: u16) -> Exporter {
    assert!(
        Path::new(EXPORTER).exists(),
        "{EXPORTER} is missing: run scripts/test, which installs Debian's prometheus-node-exporter \
         (apt-get install prometheus-node-exporter)"
    );
    let child = Command::new(EXPORTER)
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start prometheus-node-exporter");
    let exporter = Exporter(child);
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "node exporter did not listen on port {port} within 10s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    exporter
}

/// Fetches `/metrics` with a plain HTTP/1.0 request (no gzip, no chunking),
/// independently of the scraper's client.
fn fetch(port: u16) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect to exporter");
    s.set_read_timeout(Some(Duration::from_secs(10))).expect("set timeout");
    write!(
        s,
        "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\nAccept: text/plain;version=0.0.4\r\n\r\n"
    )
    .expect("send request");
    let mut raw = String::new();
    s.read_to_string(&mut raw).expect("read response");
    let (head, body) = raw.split_once("\r\n\r\n").expect("HTTP response with a body");
    assert!(
        head.starts_with("HTTP/1.0 200") || head.starts_with("HTTP/1.1 200"),
        "exporter answered {head}"
    );
    body.to_owned()
}

/// A deliberately small text-format parser (independent of the crate's):
/// `name{label="value",...} value [timestamp]`, comments skipped. Returns
/// series (with the target's `job` and `instance` added) to values.
fn parse_independently(body: &str, instance: &str) -> BTreeMap<Labels, f64> {
    let mut out = BTreeMap::new();
    for line in body.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut pairs: Vec<(String, String)> = Vec::new();
        let name_end = line.find(['{', ' ']).expect("a sample line has a name");
        pairs.push(("__name__".into(), line[..name_end].to_owned()));
        let mut rest = &line[name_end..];
        if rest.starts_with('{') {
            rest = &rest[1..];
            loop {
                rest = rest.trim_start_matches([',', ' ']);
                if let Some(r) = rest.strip_prefix('}') {
                    rest = r;
                    break;
                }
                let eq = rest.find('=').expect("label name is followed by =");
                let name = rest[..eq].trim().to_owned();
                rest = rest[eq + 1..].strip_prefix('"').expect("label value is quoted");
                let mut value = String::new();
                let mut chars = rest.char_indices();
                let end = loop {
                    let (i, c) = chars.next().expect("label value is closed");
                    match c {
                        '"' => break i,
                        '\\' => match chars.next().expect("escape is complete").1 {
                            'n' => value.push('\n'),
                            other => value.push(other),
                        },
                        c => value.push(c),
                    }
                };
                rest = &rest[end + 1..];
                // Prometheus 3 writes `le` and `quantile` values of the text
                // format in float form (`1` becomes `1.0`), as OpenMetrics does.
                if (name == "le" || name == "quantile")
                    && value.parse::<f64>().is_ok_and(f64::is_finite)
                    && !value.contains(['.', 'e', 'E'])
                {
                    value.push_str(".0");
                }
                pairs.push((name, value));
            }
        }
        let value_text = rest.split_whitespace().next().expect("a sample has a value");
        let value = match value_text {
            "NaN" => f64::NAN,
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v.parse().unwrap_or_else(|e| panic!("bad value {v:?} in {line:?}: {e}")),
        };
        pairs.push(("job".into(), JOB.into()));
        pairs.push(("instance".into(), instance.into()));
        out.insert(Labels::new(pairs), value);
    }
    out
}

/// Series of the job stored at exactly `t_ms`, report series excluded.
fn stored_at(db: &MemStorage, instance: &str, t_ms: i64) -> BTreeMap<Labels, f64> {
    db.dump()
        .into_iter()
        .filter(|(l, _)| l.get("job") == Some(JOB) && l.get("instance") == Some(instance))
        .filter(|(l, _)| !REPORT_SERIES.contains(&l.metric_name().unwrap_or("")))
        .filter_map(|(l, s)| s.iter().find(|s| s.t_ms == t_ms).map(|s| (l, s.value)))
        .collect()
}

fn up_samples(db: &MemStorage, instance: &str) -> Vec<(i64, f64)> {
    let l = Labels::new([("__name__", "up"), ("job", JOB), ("instance", instance)]);
    db.dump()
        .into_iter()
        .find(|(s, _)| *s == l)
        .map(|(_, s)| s.iter().map(|s| (s.t_ms, s.value)).collect())
        .unwrap_or_default()
}

fn now_ms() -> i64 {
    promethium_scrape::scrape_loop::unix_ms(std::time::SystemTime::now())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scrapes_node_exporter_and_marks_it_stale_when_it_stops() {
    let port = free_port();
    let mut exporter = start_exporter(port);
    let instance = format!("127.0.0.1:{port}");

    let db = Arc::new(MemStorage::new());
    let manager = ScrapeManager::new(db.clone(), ManagerOptions::default());
    let yaml = format!(
        "scrape_configs:\n  - job_name: {JOB}\n    scrape_interval: 500ms\n    scrape_timeout: 450ms\n"
    );
    manager.apply_config(&Config::load_str(&yaml).expect("config loads")).expect("config applies");
    let target: LabelSet = [("__address__".to_owned(), instance.clone())].into();
    let groups =
        vec![TargetGroup { source: "0".into(), targets: vec![target], labels: LabelSet::new() }];
    manager.sync(HashMap::from([(JOB.to_owned(), groups)]));

    wait_for("the first scrape", Duration::from_secs(10), || {
        !up_samples(&db, &instance).is_empty()
    })
    .await;

    // Bracket one scrape between two fetches of our own, and compare. The
    // exporter's series set can legitimately change (a collector appearing),
    // so a mismatch is retried a few times before it counts.
    let mut last_problem = String::new();
    let mut checked = false;
    for _attempt in 0..5 {
        let before = parse_independently(&fetch(port), &instance);
        let fetched_at = now_ms();
        tokio::time::sleep(Duration::from_millis(5)).await;
        wait_for("a scrape after our fetch", Duration::from_secs(10), || {
            up_samples(&db, &instance).iter().any(|(t, _)| *t > fetched_at)
        })
        .await;
        let after = parse_independently(&fetch(port), &instance);
        let ups = up_samples(&db, &instance);
        let &(scrape_t, up) = ups.iter().find(|(t, _)| *t > fetched_at).expect("waited for it");
        assert_eq!(
            up,
            1.0,
            "node exporter scrape failed: {:?}",
            manager.active_targets()[JOB][0].status()
        );
        let stored = stored_at(&db, &instance, scrape_t);

        let served: BTreeSet<&Labels> = before.keys().collect();
        let served_after: BTreeSet<&Labels> = after.keys().collect();
        let got: BTreeSet<&Labels> = stored.keys().collect();
        if served != served_after || served != got {
            let missing: Vec<_> = served.difference(&got).take(5).collect();
            let extra: Vec<_> = got.difference(&served).take(5).collect();
            last_problem = format!(
                "series sets differ ({} served, {} stored); missing {missing:?}, extra {extra:?}",
                served.len(),
                got.len()
            );
            continue;
        }
        assert!(served.len() > 100, "node exporter served only {} series", served.len());
        // A value equal in both fetches is almost always the value the
        // scrape in between saw. Families that the act of fetching changes
        // (the exporter's own runtime, sockets and file descriptors) are not
        // compared, nor instantaneous scheduler state (runnable and blocked
        // process counts, load, pressure), which flips between small
        // integers on a busy machine and can match in both fetches while
        // differing in between. Any other gauge that moved and came back
        // makes the attempt retry; systematic corruption fails every attempt.
        let volatile = [
            "go_",
            "process_",
            "promhttp_",
            "node_sockstat_",
            "node_filefd_",
            "node_netstat_",
            "node_procs_",
            "node_load",
            "node_pressure_",
        ];
        let mut stable = 0;
        let mut differing = Vec::new();
        for (labels, v) in &before {
            let name = labels.metric_name().unwrap_or("");
            if volatile.iter().any(|p| name.starts_with(p))
                || v.to_bits() != after[labels].to_bits()
            {
                continue;
            }
            stable += 1;
            let s = stored[labels];
            if !(s.to_bits() == v.to_bits() || (s.is_nan() && v.is_nan())) {
                differing.push(format!("{labels}: served {v} in both fetches, stored {s}"));
            }
        }
        assert!(stable > 50, "only {stable} series were stable between fetches");
        if !differing.is_empty() {
            last_problem =
                format!("{} of {stable} stable values differ: {differing:#?}", differing.len());
            continue;
        }
        checked = true;
        break;
    }
    assert!(checked, "{last_problem}");

    let target = manager.active_targets()[JOB][0].clone();
    assert_eq!(target.health(), Health::Up);
    assert!(!target.metadata().is_empty(), "metadata from # HELP/# TYPE lines is kept");
    assert_eq!(
        target.metadata_for("node_exporter_build_info").map(|m| m.metric_type.as_str()),
        Some("gauge")
    );

    // Stop the exporter: the next scrape fails, `up` is 0 and every series of
    // the last good scrape gets a staleness marker.
    let last_good =
        up_samples(&db, &instance).iter().rev().find(|(_, v)| *v == 1.0).expect("a good scrape").0;
    let series_of_last_good: Vec<Labels> =
        stored_at(&db, &instance, last_good).into_keys().collect();
    let _ = exporter.0.kill();
    let _ = exporter.0.wait();
    let stopped_at = now_ms();
    wait_for("up == 0 after the exporter stopped", Duration::from_secs(10), || {
        up_samples(&db, &instance).iter().any(|(t, v)| *t > stopped_at && *v == 0.0)
    })
    .await;
    assert_eq!(target.health(), Health::Down);
    assert!(!target.status().last_error.is_empty());
    let dump: HashMap<Labels, Vec<promethium_engine::model::Sample>> =
        db.dump().into_iter().collect();
    for labels in &series_of_last_good {
        let samples = &dump[labels];
        assert!(
            samples.iter().any(|s| s.t_ms > last_good && is_stale_nan(s.value)),
            "{labels} has no staleness marker after the exporter stopped"
        );
    }
    manager.stop().await;
}
