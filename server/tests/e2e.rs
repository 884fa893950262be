//! End-to-end: the real binary scraping itself and a node exporter, every
//! API endpoint checked against Prometheus' JSON shapes and error answers.

mod common;

use std::time::Duration;

use common::{NodeExporter, Server, enc, get, post_form, request};
use serde_json::Value;

const READY_TIMEOUT: Duration = Duration::from_secs(30);

fn config_with(node_port: Option<u16>) -> String {
    let mut c = String::from(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  external_labels:\n    cluster: e2e\nscrape_configs:\n  - job_name: promethium\n    static_configs:\n      - targets: ['SELF']\n",
    );
    if let Some(p) = node_port {
        c.push_str(&format!(
            "  - job_name: node\n    static_configs:\n      - targets: ['127.0.0.1:{p}']\n"
        ));
    }
    c.push_str("  - job_name: dropped\n    static_configs:\n      - targets: ['127.0.0.1:1']\n    relabel_configs:\n      - action: drop\n        source_labels: [__address__]\n        regex: '.*'\n");
    c
}

fn assert_success(v: &Value) -> &Value {
    assert_eq!(v["status"], "success", "{v}");
    &v["data"]
}

fn assert_error(r: &common::Response, status: u16, error_type: &str) -> String {
    assert_eq!(r.status, status, "{}", r.text());
    let v = r.json();
    assert_eq!(v["status"], "error", "{v}");
    assert_eq!(v["errorType"], error_type, "{v}");
    v["error"].as_str().expect("error message").to_string()
}

#[test]
fn api_endpoints_have_prometheus_shapes() {
    let node = NodeExporter::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut s = Server::start(dir.path(), &config_with(Some(node.port)), &[]);
    s.wait_ready(READY_TIMEOUT);
    let port = s.port;

    assert_eq!(get(port, "/-/healthy").status, 200);
    assert_eq!(get(port, "/-/ready").status, 200);
    let r = get(port, "/");
    assert_eq!(r.status, 302);
    assert_eq!(r.header("location"), Some("/query"));
    assert_eq!(get(port, "/query").status, 200);

    // Both targets get scraped and `up` answers through PromQL.
    let up = s.wait_for(Duration::from_secs(20), "two up series", || {
        let v = get(port, "/api/v1/query?query=up").json();
        (v["status"] == "success" && v["data"]["result"].as_array().is_some_and(|a| a.len() == 2))
            .then_some(v)
    });
    let data = assert_success(&up);
    assert_eq!(data["resultType"], "vector");
    for sample in data["result"].as_array().expect("result array") {
        assert_eq!(sample["metric"]["__name__"], "up");
        let value = sample["value"].as_array().expect("value pair");
        assert!(value[0].is_number(), "timestamp is a number: {sample}");
        assert_eq!(value[1], "1", "targets are up: {sample}");
    }

    // POST form-encoded works like GET; scalars and strings have their shapes.
    let v = post_form(port, "/api/v1/query", "query=1%2B1&time=1700000000").json();
    assert_eq!(assert_success(&v)["resultType"], "scalar");
    assert_eq!(v["data"]["result"], serde_json::json!([1700000000, "2"]));
    let v = get(port, "/api/v1/query?query=%22hi%22&time=1700000000.5").json();
    assert_eq!(v["data"]["result"], serde_json::json!([1700000000.5, "hi"]));
    let v = get(port, &format!("/api/v1/query?query={}", enc("1/0"))).json();
    assert_eq!(v["data"]["result"][1], "+Inf");

    // Range queries.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let v = get(
        port,
        &format!("/api/v1/query_range?query=up&start={}&end={}&step=1s", now - 60, now + 10),
    )
    .json();
    assert_eq!(assert_success(&v)["resultType"], "matrix");
    assert!(v["data"]["result"][0]["values"].as_array().is_some_and(|a| !a.is_empty()), "{v}");

    // Errors: malformed PromQL, bad time, bad step, too many points.
    let msg = assert_error(
        &get(port, &format!("/api/v1/query?query={}", enc("sum(up"))),
        400,
        "bad_data",
    );
    assert!(msg.contains("parse error"), "{msg}");
    assert_error(&get(port, "/api/v1/query?query=up&time=notatime"), 400, "bad_data");
    assert_error(&get(port, "/api/v1/query_range?query=up&start=0&end=10&step=0"), 400, "bad_data");
    assert_error(
        &get(port, "/api/v1/query_range?query=up&start=0&end=10&step=abc"),
        400,
        "bad_data",
    );
    assert_error(&get(port, "/api/v1/query_range?query=up&start=10&end=0&step=1"), 400, "bad_data");
    let msg = assert_error(
        &get(port, "/api/v1/query_range?query=up&start=0&end=100000&step=1"),
        400,
        "bad_data",
    );
    assert!(msg.contains("11,000 points"), "{msg}");

    // Series, labels, label values (unknown label: empty result).
    let v = get(port, &format!("/api/v1/series?match[]={}", enc("up{job=\"node\"}"))).json();
    let series = assert_success(&v).as_array().expect("series list");
    assert_eq!(series.len(), 1);
    assert_eq!(series[0]["job"], "node");
    assert_error(&get(port, "/api/v1/series"), 400, "bad_data");
    let msg = assert_error(
        &get(port, &format!("/api/v1/series?match[]={}", enc("up{"))),
        400,
        "bad_data",
    );
    assert!(msg.starts_with("invalid parameter \"match[]\": 1:4: parse error"), "{msg}");
    let msg = assert_error(
        &get(port, &format!("/api/v1/series?match[]={}", enc("{job=\"\"}"))),
        400,
        "bad_data",
    );
    assert_eq!(
        msg,
        "invalid parameter \"match[]\": match[] must contain at least one non-empty matcher"
    );
    let v = get(port, "/api/v1/query?query=up&stats=all").json();
    for key in ["evalTotalTime", "innerEvalTime", "execQueueTime", "execTotalTime"] {
        assert!(v["data"]["stats"]["timings"][key].is_number(), "stats lacks {key}: {v}");
    }
    let v = get(port, "/api/v1/labels").json();
    let names = assert_success(&v).as_array().expect("names").clone();
    assert!(names.contains(&Value::from("__name__")) && names.contains(&Value::from("job")), "{v}");
    let v = get(port, "/api/v1/labels?limit=1").json();
    assert_eq!(v["data"].as_array().map(Vec::len), Some(1));
    assert!(v["warnings"].is_array(), "truncation warns: {v}");
    let v = get(port, "/api/v1/label/job/values").json();
    assert_eq!(assert_success(&v), &serde_json::json!(["node", "promethium"]));
    let v = get(port, "/api/v1/label/no_such_label/values").json();
    assert_eq!(assert_success(&v), &serde_json::json!([]));

    // Targets with state and pool filters, dropped targets and counts.
    // Discovery publishes at most every 5 s (as in Prometheus), so the last
    // job's groups may arrive a little after the first ones.
    let v = s.wait_for(Duration::from_secs(15), "all three jobs synced", || {
        let v = get(port, "/api/v1/targets").json();
        (v["data"]["droppedTargetCounts"]["dropped"] == 1).then_some(v)
    });
    let d = assert_success(&v);
    let active = d["activeTargets"].as_array().expect("activeTargets");
    assert_eq!(active.len(), 2, "{v}");
    for t in active {
        for key in [
            "discoveredLabels",
            "labels",
            "scrapePool",
            "scrapeUrl",
            "globalUrl",
            "lastError",
            "lastScrape",
            "lastScrapeDuration",
            "health",
            "scrapeInterval",
            "scrapeTimeout",
        ] {
            assert!(t.get(key).is_some(), "target lacks {key}: {t}");
        }
    }
    assert_eq!(d["droppedTargets"].as_array().map(Vec::len), Some(1), "{v}");
    assert_eq!(d["droppedTargetCounts"]["dropped"], 1, "{v}");
    let v = get(port, "/api/v1/targets?state=active&scrapePool=node").json();
    assert_eq!(v["data"]["activeTargets"].as_array().map(Vec::len), Some(1));
    assert_eq!(v["data"]["droppedTargets"], serde_json::json!([]));
    let v = get(port, "/api/v1/targets?state=dropped").json();
    assert_eq!(v["data"]["activeTargets"], serde_json::json!([]));
    let v = get(port, "/api/v1/scrape_pools").json();
    assert_eq!(
        assert_success(&v)["scrapePools"],
        serde_json::json!(["dropped", "node", "promethium"])
    );

    // Metadata.
    let v = get(port, "/api/v1/targets/metadata?metric=node_cpu_seconds_total").json();
    let md = assert_success(&v).as_array().expect("metadata list");
    assert!(!md.is_empty() && md[0]["type"] == "counter", "{v}");
    let v = get(port, "/api/v1/metadata?limit=5").json();
    assert!(assert_success(&v).as_object().is_some_and(|m| !m.is_empty() && m.len() <= 5), "{v}");

    // Rules, alerts, alertmanagers, status pages.
    assert_eq!(get(port, "/api/v1/rules").json()["data"], serde_json::json!({"groups": []}));
    assert_eq!(get(port, "/api/v1/alerts").json()["data"], serde_json::json!({"alerts": []}));
    assert!(get(port, "/api/v1/alertmanagers").json()["data"]["activeAlertmanagers"].is_array());
    let v = get(port, "/api/v1/status/config").json();
    assert!(
        assert_success(&v)["yaml"].as_str().is_some_and(|y| y.contains("job_name: node")),
        "{v}"
    );
    let v = get(port, "/api/v1/status/flags").json();
    assert_eq!(assert_success(&v)["query.timeout"], "2m");
    let v = get(port, "/api/v1/status/buildinfo").json();
    assert_eq!(assert_success(&v)["version"], "3.0.0", "Prometheus API level for Grafana: {v}");
    assert!(v["data"]["revision"].as_str().is_some_and(|r| r.starts_with("promethium-")), "{v}");
    let v = get(port, "/api/v1/status/runtimeinfo").json();
    let d = assert_success(&v);
    assert_eq!(d["reloadConfigSuccess"], true);
    assert_eq!(d["storageRetention"], "15d");
    let v = get(port, "/api/v1/status/tsdb").json();
    let d = assert_success(&v);
    assert!(d["headStats"]["numSeries"].as_u64().is_some_and(|n| n > 10), "{v}");
    assert!(
        d["seriesCountByMetricName"].as_array().is_some_and(|a| !a.is_empty() && a.len() <= 10),
        "{v}"
    );
    let v = get(port, "/api/v1/status/walreplay").json();
    assert!(assert_success(&v)["current"].is_number());

    // Exemplars, format and parse.
    assert_eq!(get(port, "/api/v1/query_exemplars?query=up").json()["data"], serde_json::json!([]));
    let v =
        get(port, &format!("/api/v1/format_query?query={}", enc("sum(rate(x[5m]))by(job)"))).json();
    assert!(assert_success(&v).is_string());
    let v = get(port, &format!("/api/v1/parse_query?query={}", enc("sum by (job) (up)"))).json();
    assert_eq!(assert_success(&v)["type"], "aggregation");
    assert_error(
        &get(port, &format!("/api/v1/format_query?query={}", enc("1 +"))),
        400,
        "bad_data",
    );

    // Admin and lifecycle endpoints are off without their flags.
    let msg = assert_error(
        &request(port, "POST", "/api/v1/admin/tsdb/snapshot", &[], b"").expect("snapshot"),
        500,
        "unavailable",
    );
    assert_eq!(msg, "admin APIs disabled");
    assert_error(
        &post_form(port, "/api/v1/admin/tsdb/delete_series", "match[]=up"),
        500,
        "unavailable",
    );
    assert_error(
        &request(port, "POST", "/api/v1/admin/tsdb/clean_tombstones", &[], b"").expect("clean"),
        500,
        "unavailable",
    );
    assert_eq!(request(port, "POST", "/-/reload", &[], b"").expect("reload").status, 403);
    assert_eq!(request(port, "POST", "/-/quit", &[], b"").expect("quit").status, 403);
    assert_eq!(request(port, "POST", "/api/v1/write", &[], b"").expect("write").status, 404);

    // Federation with external labels, gzip, self-metrics.
    let r = get(port, &format!("/federate?match[]={}", enc("up")));
    assert_eq!(r.status, 200);
    let text = r.text();
    assert!(text.contains("# TYPE up untyped") && text.contains("cluster=\"e2e\""), "{text}");
    let r = request(port, "GET", "/api/v1/status/tsdb", &[("Accept-Encoding", "gzip")], b"")
        .expect("gzip");
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    let r = request(port, "GET", "/api/v1/targets", &[("Accept-Encoding", "gzip")], b"")
        .expect("gzip targets");
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    let mut json = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(r.body.as_slice()), &mut json)
        .expect("gunzip");
    let v: Value = serde_json::from_slice(&json).expect("streamed gzip JSON");
    assert_eq!(v["data"]["activeTargets"].as_array().map(Vec::len), Some(2));
    let metrics = get(port, "/metrics").text();
    for name in [
        "prometheus_tsdb_head_series ",
        "prometheus_tsdb_head_samples_appended_total",
        "prometheus_tsdb_compactions_total",
        "prometheus_target_interval_length_seconds",
        "prometheus_http_requests_total{code=\"200\",handler=\"/api/v1/query\"}",
        "prometheus_engine_query_duration_seconds",
        "prometheus_build_info",
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "process_open_fds",
        "process_start_time_seconds",
    ] {
        assert!(metrics.contains(name), "/metrics lacks {name}");
    }
    assert_eq!(get(port, "/api/v1/nonexistent").status, 404);

    let status = s.terminate();
    assert!(status.success(), "clean exit on SIGTERM: {status}");
}

#[test]
fn query_timeout_answers_503() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut s = Server::start(
        dir.path(),
        "scrape_configs: []\n",
        &["--query.timeout=1ms", "--query.max-samples=1000000000000"],
    );
    s.wait_ready(READY_TIMEOUT);
    let q = enc("count_over_time(vector(1)[30d:1s])");
    let r = get(s.port, &format!("/api/v1/query?query={q}"));
    let msg = assert_error(&r, 503, "timeout");
    assert!(msg.contains("timed out"), "{msg}");
}

#[test]
fn lifecycle_reload_and_admin_with_flags() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut s = Server::start(
        dir.path(),
        "scrape_configs: []\n",
        &["--web.enable-lifecycle", "--web.enable-admin-api"],
    );
    s.wait_ready(READY_TIMEOUT);
    let port = s.port;
    let config_path = dir.path().join("prometheus.yml");

    // A bad config is refused with the reason; the old one keeps running.
    std::fs::write(&config_path, "scrape_configs:\n  - job_name: [oops\n").expect("write");
    let r = request(port, "POST", "/-/reload", &[], b"").expect("reload");
    assert_eq!(r.status, 500, "{}", r.text());
    assert!(r.text().contains("failed to reload config"), "{}", r.text());
    assert_eq!(
        get(port, "/api/v1/status/runtimeinfo").json()["data"]["reloadConfigSuccess"],
        false
    );
    assert_eq!(
        get(port, "/api/v1/scrape_pools").json()["data"]["scrapePools"],
        serde_json::json!([])
    );

    // A good config applies, through the endpoint and through SIGHUP.
    std::fs::write(
        &config_path,
        "scrape_configs:\n  - job_name: a\n    static_configs: [{targets: ['127.0.0.1:1']}]\n",
    )
    .expect("write");
    assert_eq!(request(port, "PUT", "/-/reload", &[], b"").expect("reload").status, 200);
    assert_eq!(
        get(port, "/api/v1/scrape_pools").json()["data"]["scrapePools"],
        serde_json::json!(["a"])
    );
    std::fs::write(
        &config_path,
        "scrape_configs:\n  - job_name: b\n    static_configs: [{targets: ['127.0.0.1:1']}]\n",
    )
    .expect("write");
    s.signal("HUP");
    s.wait_for(Duration::from_secs(10), "SIGHUP reload", || {
        (get(port, "/api/v1/scrape_pools").json()["data"]["scrapePools"]
            == serde_json::json!(["b"]))
        .then_some(())
    });
    assert_eq!(get(port, "/api/v1/status/runtimeinfo").json()["data"]["reloadConfigSuccess"], true);
    assert_eq!(get(port, "/-/reload").status, 405);

    // Admin endpoints work against the real storage: a snapshot directory
    // appears, deleted series stop matching at once, tombstones clean up.
    let r = request(port, "POST", "/api/v1/admin/tsdb/snapshot", &[], b"").expect("snapshot");
    assert_eq!(r.status, 200, "{}", r.text());
    let name = r.json()["data"]["name"].as_str().expect("snapshot name").to_owned();
    assert!(dir.path().join("data/snapshots").join(&name).is_dir(), "snapshot {name} missing");
    let r = post_form(port, "/api/v1/admin/tsdb/delete_series", "match[]={job=~\".+\"}");
    assert_eq!(r.status, 204, "{}", r.text());
    let r = request(port, "POST", "/api/v1/admin/tsdb/clean_tombstones", &[], b"").expect("clean");
    assert_eq!(r.status, 204, "{}", r.text());
    let r = post_form(port, "/api/v1/admin/tsdb/delete_series", "");
    assert_eq!(r.status, 400, "delete_series without match[]: {}", r.text());

    // /-/quit stops the process cleanly.
    assert_eq!(request(port, "POST", "/-/quit", &[], b"").expect("quit").status, 200);
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(st) = s.child.try_wait().expect("wait") {
            break st;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "no exit after /-/quit");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success());
}

#[test]
fn missing_config_file_is_an_error() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_promethium"))
        .args(["--config.file=/nonexistent/prometheus.yml", "--web.listen-address=127.0.0.1:0"])
        .output()
        .expect("run binary");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/prometheus.yml"));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_promethium"))
        .arg("--no.such.flag")
        .output()
        .expect("run binary");
    assert!(!out.status.success());
}

#[test]
fn helm_chart_flags_and_config_sections_are_accepted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = "global:\n  scrape_interval: 15s\nrule_files:\n  - /etc/config/recording_rules.yml\n  - /etc/config/alerting_rules.yml\nalerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['alertmanager:9093']\nremote_write:\n  - url: http://mimir:9009/api/v1/push\nscrape_configs:\n  - job_name: prometheus\n    static_configs:\n      - targets: ['SELF']\n";
    let mut s = Server::start(
        dir.path(),
        config,
        &[
            "--storage.tsdb.retention.time=15d",
            "--web.console.libraries=/etc/prometheus/console_libraries",
            "--web.console.templates",
            "/etc/prometheus/consoles",
            "--web.enable-lifecycle",
            "--enable-feature=no-such-feature",
            "--storage.tsdb.wal-compression",
        ],
    );
    s.wait_ready(READY_TIMEOUT);
    let flags = get(s.port, "/api/v1/status/flags").json();
    let d = assert_success(&flags);
    assert_eq!(d["web.console.templates"], "/etc/prometheus/consoles");
    assert_eq!(d["web.enable-lifecycle"], "true");
    assert_eq!(d["storage.tsdb.retention.time"], "15d");
    let logs = s.logs();
    assert!(logs.contains("no-such-feature"), "unknown feature is warned about:\n{logs}");
    assert!(
        logs.contains("remote_write"),
        "unimplemented config sections are warned about:\n{logs}"
    );
    assert!(logs.contains("level=WARN"), "logfmt output:\n{logs}");
}

#[test]
fn a_second_server_cannot_use_the_same_data_dir() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut first = Server::start(dir.path(), "scrape_configs: []\n", &[]);
    first.wait_ready(READY_TIMEOUT);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_promethium"))
        .arg(format!("--config.file={}", dir.path().join("prometheus.yml").display()))
        .arg(format!("--storage.tsdb.path={}", dir.path().join("data").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{}", common::free_port()))
        .output()
        .expect("run second binary");
    assert!(!out.status.success(), "second server must refuse the locked data dir");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("locking data directory"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(get(first.port, "/-/ready").status, 200, "first server unaffected");
}
