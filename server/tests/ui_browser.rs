//! The web UI in real headless Chromium, driven over WebDriver: the real
//! binary scrapes itself and a node exporter, every page is opened and
//! checked against the HTTP API, no JavaScript errors may occur, and each
//! page is saved as a PNG under `target/ui-screenshots/`.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use common::{NodeExporter, Server, enc, free_port, get};
use serde_json::{Value, json};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const WAIT: Duration = Duration::from_secs(20);

/// A chromedriver process and one browser session, both ended on drop.
struct Browser {
    driver: Child,
    port: u16,
    session: String,
    _profile: tempfile::TempDir,
}

impl Browser {
    fn start() -> Browser {
        for (bin, pkg) in [(CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")] {
            assert!(
                Path::new(bin).exists(),
                "{bin} is missing: install Debian's {pkg} package (scripts/test installs chromium and chromium-driver)"
            );
        }
        let port = free_port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting chromedriver");
        let start = Instant::now();
        while wd_request(port, "GET", "/status", "").map(|r| r.0).ok() != Some(200) {
            assert!(start.elapsed() < WAIT, "chromedriver did not come up on port {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        let profile = tempfile::tempdir().expect("profile dir");
        let mut b = Browser { driver, port, session: String::new(), _profile: profile };
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--disable-dev-shm-usage", "--window-size=1400,1000",
                    format!("--user-data-dir={}", b._profile.path().display()),
                ],
            },
        }}});
        let v = b.raw("POST", "/session", Some(&caps));
        b.session = v["sessionId"].as_str().expect("session id").to_string();
        b
    }

    fn raw(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let (status, text) = wd_request(self.port, method, path, &body)
            .unwrap_or_else(|e| panic!("WebDriver {method} {path}: {e}"));
        let v: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("WebDriver {method} {path}: invalid JSON ({e}): {text}"));
        assert!(status == 200, "WebDriver {method} {path} answered {status}: {v}");
        v["value"].clone()
    }

    fn cmd(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        self.raw(method, &format!("/session/{}{path}", self.session), body.as_ref())
    }

    fn goto(&self, url: &str) {
        self.cmd("POST", "/url", Some(json!({ "url": url })));
    }

    /// Runs `script` (a function body; `arguments` as usual) in the page.
    fn js(&self, script: &str, args: Value) -> Value {
        self.cmd("POST", "/execute/sync", Some(json!({ "script": script, "args": args })))
    }

    /// Runs an asynchronous `script` that reports through its last argument.
    fn js_async(&self, script: &str, args: Value) -> Value {
        self.cmd("POST", "/execute/async", Some(json!({ "script": script, "args": args })))
    }

    /// Polls `script` until it returns something truthy; returns that.
    fn wait(&self, what: &str, script: &str) -> Value {
        let start = Instant::now();
        loop {
            let v = self.js(script, json!([]));
            let truthy = !matches!(&v, Value::Null | Value::Bool(false))
                && v != json!(0)
                && v != json!("")
                && v != json!([]);
            if truthy {
                return v;
            }
            if start.elapsed() > WAIT {
                let text = self.js("return document.body.innerText", json!([]));
                panic!("timed out waiting for {what}; page text:\n{}", text.as_str().unwrap_or(""));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn find(&self, css: &str) -> String {
        let v = self.cmd("POST", "/element", Some(json!({"using": "css selector", "value": css})));
        v.as_object()
            .and_then(|o| o.values().next())
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("no element {css}: {v}"))
            .to_string()
    }

    fn type_into(&self, css: &str, text: &str) {
        let id = self.find(css);
        self.cmd("POST", &format!("/element/{id}/value"), Some(json!({ "text": text })));
    }

    fn click(&self, css: &str) {
        let id = self.find(css);
        self.cmd("POST", &format!("/element/{id}/click"), Some(json!({})));
    }

    /// JavaScript errors the page hook collected (window errors, unhandled
    /// rejections, console.error, modules that failed to load).
    fn assert_no_js_errors(&self, page: &str) {
        let errors = self.js("return window.__uiErrors || ['error hook missing']", json!([]));
        assert_eq!(errors, json!([]), "JavaScript errors on {page}");
    }

    fn screenshot(&self, name: &str) {
        let b64 = self.cmd("GET", "/screenshot", None);
        let png = base64::engine::general_purpose::STANDARD
            .decode(b64.as_str().expect("screenshot data"))
            .expect("screenshot is base64");
        assert!(png.starts_with(b"\x89PNG"), "screenshot is a PNG");
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).expect("creating the screenshot dir");
        std::fs::write(dir.join(format!("{name}.png")), png).expect("writing a screenshot");
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = wd_request(self.port, "DELETE", &format!("/session/{}", self.session), "");
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// One WebDriver HTTP exchange. chromedriver keeps connections open, so
/// the body is read by its Content-Length rather than to EOF.
fn wd_request(port: u16, method: &str, path: &str, body: &str) -> std::io::Result<(u16, String)> {
    use std::io::{BufRead, BufReader, Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(60)))?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut r = BufReader::new(s);
    let mut line = String::new();
    r.read_line(&mut line)?;
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line {line:?}")))?;
    let mut len = None;
    loop {
        line.clear();
        r.read_line(&mut line)?;
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':')
            && k.eq_ignore_ascii_case("content-length")
        {
            len = v.trim().parse::<usize>().ok();
        }
    }
    let mut buf = Vec::new();
    match len {
        Some(n) => {
            buf.resize(n, 0);
            r.read_exact(&mut buf)?;
        }
        None => {
            r.read_to_end(&mut buf)?;
        }
    }
    Ok((status, String::from_utf8_lossy(&buf).into_owned()))
}

/// `target/ui-screenshots/` in the workspace's target directory.
fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| {
        Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root").join("target")
    });
    target.join("ui-screenshots")
}

fn config(node_port: u16) -> String {
    format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: promethium\n    static_configs:\n      - targets: ['SELF']\n  - job_name: node\n    static_configs:\n      - targets: ['127.0.0.1:{node_port}']\n  - job_name: dropped\n    static_configs:\n      - targets: ['127.0.0.1:1']\n    relabel_configs:\n      - action: drop\n        source_labels: [__address__]\n        regex: '.*'\n"
    )
}

/// A series as the Table tab prints it: `name{a="b", c="d"}`.
fn series_name(metric: &Value) -> String {
    let obj = metric.as_object().expect("metric object");
    let name = obj.get("__name__").and_then(Value::as_str).unwrap_or("");
    let labels: Vec<String> = obj
        .iter()
        .filter(|(k, _)| *k != "__name__")
        .map(|(k, v)| format!("{k}={}", serde_json::to_string(v).expect("string")))
        .collect();
    if labels.is_empty() && !name.is_empty() {
        name.to_string()
    } else {
        format!("{name}{{{}}}", labels.join(", "))
    }
}

const ENTER: &str = "\u{E007}";
const ESCAPE: &str = "\u{E00C}";

#[test]
fn every_page_renders_from_the_api_in_chromium() {
    let node = NodeExporter::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut s = Server::start(dir.path(), &config(node.port), &[]);
    s.wait_ready(WAIT);
    let port = s.port;
    let base = format!("http://127.0.0.1:{port}");
    s.wait_for(WAIT, "both targets up", || {
        let v = get(port, "/api/v1/targets?state=active").json();
        let t = v["data"]["activeTargets"].as_array()?.clone();
        (t.len() == 2 && t.iter().all(|t| t["health"] == "up")).then_some(())
    });
    let b = Browser::start();

    // Targets: the same endpoints and states as the API.
    b.goto(&format!("{base}/targets"));
    b.wait("two target rows", "return document.querySelectorAll('tr[data-endpoint]').length === 2");
    let api = get(port, "/api/v1/targets?state=active").json();
    let mut want: Vec<(String, String)> = api["data"]["activeTargets"]
        .as_array()
        .expect("targets")
        .iter()
        .map(|t| {
            (
                t["scrapeUrl"].as_str().unwrap().to_string(),
                t["health"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    want.sort();
    let shown = b.js(
        "return [...document.querySelectorAll('tr[data-endpoint]')].map(r => [r.dataset.endpoint, r.querySelector('.badge').textContent.toLowerCase()]).sort()",
        json!([]),
    );
    assert_eq!(shown, json!(want), "Targets page against /api/v1/targets");
    let pools = b.js(
        "return [...document.querySelectorAll('[data-pool]')].map(e => e.dataset.pool)",
        json!([]),
    );
    assert_eq!(pools, get(port, "/api/v1/scrape_pools").json()["data"]["scrapePools"]);
    b.wait("relative last-scrape times", "return document.body.innerText.includes(' ago')");
    b.assert_no_js_errors("/targets");
    b.screenshot("targets");
    // The text filter hides the other pool's target.
    b.type_into("input[type=search]", "node");
    b.wait("filtered rows", "return document.querySelectorAll('tr[data-endpoint]').length === 1");
    // Collapsing a pool hides its body.
    b.click("[data-pool=node] .card-head");
    b.wait(
        "collapsed pool",
        "return document.querySelector('[data-pool=node]').classList.contains('collapsed')",
    );

    // Service discovery: discovered beside relabeled labels, dropped shown.
    b.goto(&format!("{base}/service-discovery"));
    // Checked against the API rather than assumed: the server does not
    // always report the relabel-dropped target.
    let api = get(port, "/api/v1/targets?state=any").json();
    let active = api["data"]["activeTargets"].as_array().expect("active").len();
    let dropped = api["data"]["droppedTargets"].as_array().expect("dropped").len();
    b.wait(
        "every discovered target",
        &format!(
            "return document.querySelectorAll('[data-pool] tbody tr').length === {}",
            active + dropped
        ),
    );
    let shown = b.js("return document.querySelectorAll('.dropped').length", json!([]));
    assert_eq!(shown, json!(dropped), "dropped targets against /api/v1/targets");
    b.wait("discovered labels", "return document.body.innerText.includes('__address__=')");
    b.assert_no_js_errors("/service-discovery");
    b.screenshot("service-discovery");

    // Query page: a typed query answers what the API answers.
    b.goto(&format!("{base}/query"));
    b.type_into(".editor textarea", "up");
    b.type_into(".editor textarea", ESCAPE);
    b.type_into(".editor textarea", ENTER);
    b.wait(
        "two result rows",
        "return document.querySelectorAll('.series-table tbody tr').length === 2",
    );
    let api = get(port, "/api/v1/query?query=up").json();
    let mut want: Vec<(String, String)> = api["data"]["result"]
        .as_array()
        .expect("result")
        .iter()
        .map(|r| (series_name(&r["metric"]), r["value"][1].as_str().unwrap().to_string()))
        .collect();
    want.sort();
    let shown = b.js(
        "return [...document.querySelectorAll('.series-table tbody tr')].map(r => [r.cells[0].textContent, r.cells[1].textContent]).sort()",
        json!([]),
    );
    assert_eq!(shown, json!(want), "Table tab against /api/v1/query");
    let url = b.js("return location.search", json!([]));
    assert!(url.as_str().unwrap().contains("g0.expr=up"), "state in the URL: {url}");
    b.assert_no_js_errors("/query table");
    b.screenshot("query-table");

    // Graph tab: one legend entry per series of the range query. The
    // default graph (1h at 14s steps, as Prometheus' UI picks) evaluates
    // its last step up to 13s before "now", so a server a few seconds
    // old has no point there yet; wait until the API, asked exactly as
    // the UI asks, has both series.
    s.wait_for(WAIT, "a default-range graph of up has both series", || {
        let now =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).ok()?.as_secs_f64();
        let path = format!("/api/v1/query_range?query=up&start={}&end={now}&step=14", now - 3600.0);
        let v = get(port, &path).json();
        (v["data"]["result"].as_array()?.len() == 2).then_some(())
    });
    b.click(".tabs button[data-tab=graph]");
    b.wait("legend", "return document.querySelectorAll('.legend > div').length === 2");
    // A short range so the few seconds of data fill the chart.
    b.goto(&format!(
        "{base}/query?g0.expr={}&g0.tab=graph&g0.range_input=1m",
        enc("scrape_duration_seconds")
    ));
    b.wait("legend", "return document.querySelectorAll('.legend > div').length === 2");
    // Hover near the right edge, again at every poll: the chart may still
    // be laid out or redrawn (which hides the tooltip) just after the legend
    // appears, and a single early event would then be lost.
    b.wait(
        "hover tooltip",
        "const c = document.querySelector('.chart-wrap canvas'); const r = c.getBoundingClientRect(); c.dispatchEvent(new MouseEvent('mousemove', {clientX: r.right - 16, clientY: r.top + 20, bubbles: true})); const t = document.querySelector('.tooltip'); return t && !t.hidden && t.textContent.includes('value:')",
    );
    b.assert_no_js_errors("/query graph");
    b.screenshot("query-graph");

    // Autocompletion of metric names from the label API.
    b.goto(&format!("{base}/query"));
    b.type_into(".editor textarea", "prometheus_http_req");
    b.wait(
        "metric-name completion",
        "const l = document.querySelector('.complete'); return l && !l.hidden && l.textContent.includes('prometheus_http_requests_total')",
    );
    b.screenshot("query-autocomplete");

    // An invalid expression shows the server's error at its position.
    b.goto(&format!("{base}/query?g0.expr={}&g0.tab=table", enc("sum(rate(up[5m])")));
    b.wait("parse error", "return document.querySelector('main .error .caret-pos')");
    let api_err = get(port, &format!("/api/v1/query?query={}", enc("sum(rate(up[5m])"))).json();
    let api_err = api_err["error"].as_str().expect("error text").to_string();
    let shown = b.js("return document.querySelector('main .error').textContent", json!([]));
    assert!(shown.as_str().unwrap().contains(&api_err), "{shown} shows {api_err}");
    let offset = b.js("return document.querySelector('.caret-pos').dataset.errorOffset", json!([]));
    assert_eq!(offset, json!("16"), "error at the end of the 16-character expression: {api_err}");
    b.wait("error marked in the editor", "return document.querySelector('.editor .tok-error')");
    b.assert_no_js_errors("/query with a parse error");
    b.screenshot("query-parse-error");

    // Prometheus' old links: /graph keeps its g0.* parameters.
    b.goto(&format!("{base}/graph?g0.expr=up&g0.tab=1&g0.range_input=1h"));
    b.wait(
        "table from legacy link",
        "return document.querySelectorAll('.series-table tbody tr').length === 2",
    );
    assert_eq!(b.js("return location.pathname", json!([])), json!("/query"));
    assert_eq!(
        b.js("return document.querySelector('.editor textarea').value", json!([])),
        json!("up")
    );

    // Status pages against their APIs.
    b.goto(&format!("{base}/status"));
    let version = get(port, "/api/v1/status/buildinfo").json()["data"]["version"]
        .as_str()
        .unwrap()
        .to_string();
    b.wait("build info", &format!("return document.body.innerText.includes({})", json!(version)));
    b.wait("runtime info", "return document.body.innerText.includes('startTime')");
    b.assert_no_js_errors("/status");
    b.screenshot("status");

    b.goto(&format!("{base}/tsdb-status"));
    let tsdb = get(port, "/api/v1/status/tsdb").json();
    let top = tsdb["data"]["seriesCountByMetricName"][0]["name"]
        .as_str()
        .expect("top metric")
        .to_string();
    b.wait(
        "head stats",
        &format!("return document.body.innerText.includes('Number of series') && document.body.innerText.includes({})", json!(top)),
    );
    b.assert_no_js_errors("/tsdb-status");
    b.screenshot("tsdb-status");

    b.goto(&format!("{base}/flags"));
    b.wait("flags", "return document.body.innerText.includes('--storage.tsdb.path')");
    b.assert_no_js_errors("/flags");
    b.screenshot("flags");

    b.goto(&format!("{base}/config"));
    b.wait("config yaml", "return document.querySelector('pre.config') && document.querySelector('pre.config').textContent.includes('job_name: node')");
    b.assert_no_js_errors("/config");
    b.screenshot("config");

    b.goto(&format!("{base}/rules"));
    b.wait("rules empty state", "return document.querySelector('.empty')");
    b.assert_no_js_errors("/rules");
    b.screenshot("rules");

    b.goto(&format!("{base}/alerts"));
    b.wait("alerts empty state", "return document.querySelector('.empty')");
    b.assert_no_js_errors("/alerts");
    b.screenshot("alerts");

    // The theme toggle switches to light, then dark.
    b.goto(&format!("{base}/query?g0.expr=up&g0.tab=graph&g0.range_input=1m"));
    b.wait("legend", "return document.querySelectorAll('.legend > div').length === 2");
    b.click("#theme");
    b.click("#theme");
    assert_eq!(b.js("return document.documentElement.dataset.theme", json!([])), json!("dark"));
    b.assert_no_js_errors("/query dark");
    b.screenshot("query-graph-dark");
    b.click("#theme");
    assert_eq!(
        b.js("return document.documentElement.dataset.theme || 'auto'", json!([])),
        json!("auto")
    );

    // A phone-sized window: no sideways scrolling, chart still drawn.
    b.cmd("POST", "/window/rect", Some(json!({"width": 420, "height": 900})));
    b.goto(&format!("{base}/query?g0.expr=up&g0.tab=graph&g0.range_input=1m"));
    b.wait("legend", "return document.querySelectorAll('.legend > div').length === 2");
    let overflow =
        b.js("return document.documentElement.scrollWidth - window.innerWidth", json!([]));
    assert!(overflow.as_f64().unwrap_or(1.0) <= 0.0, "page scrolls sideways by {overflow}px");
    b.assert_no_js_errors("/query narrow");
    b.screenshot("query-graph-narrow");
}

#[test]
fn bad_input_never_blanks_the_page() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: promethium\n    metrics_path: /prom/metrics\n    static_configs:\n      - targets: ['SELF']\n";
    let s = Server::start(dir.path(), cfg, &["--web.route-prefix=/prom", "--query.timeout=1ms"]);
    s.wait_for(WAIT, "ready under /prom", || {
        common::request(s.port, "GET", "/prom/-/ready", &[], b"")
            .is_ok_and(|r| r.status == 200)
            .then_some(())
    });
    s.wait_for(WAIT, "a scrape", || {
        let v = get(s.port, "/prom/api/v1/query?query=up").json();
        v["data"]["result"].as_array().is_some_and(|r| !r.is_empty()).then_some(())
    });
    let base = format!("http://127.0.0.1:{}/prom", s.port);
    let b = Browser::start();

    // A query past the tiny timeout shows the timeout, under the prefix.
    let expr = r#"count_over_time({__name__=~".+"}[1h:1s])"#;
    b.goto(&format!("{base}/query?g0.expr={}&g0.tab=table", enc(expr)));
    b.wait("timeout error", "const e = document.querySelector('main .error'); return e && e.textContent.includes('timeout')");
    let shown = b.js("return document.querySelector('main .error').textContent", json!([]));
    assert!(shown.as_str().unwrap().contains("query timed out"), "{shown}");
    b.assert_no_js_errors("/prom/query timing out");
    b.screenshot("query-timeout");

    // With the server gone, navigating shows the failure in place.
    b.goto(&format!("{base}/query"));
    b.wait("query page", "return document.querySelector('.editor textarea')");
    drop(s);
    b.click("nav a[href='/prom/targets']");
    b.wait("network error", "const e = document.querySelector('main .error'); return e && e.textContent.includes('Cannot reach the server')");
    b.assert_no_js_errors("/prom/targets with the server down");
    b.screenshot("targets-server-down");
}

/// Replaces the page's `fetch` with synthetic scrape pools (500 pools × 40
/// targets = 20,000) and opens `page` inside the app, reporting how long
/// until every pool is listed and how many requests that took.
const BIG_CLUSTER: &str = r#"
const [page, done] = arguments;
const pools = Array.from({length: 500}, (_, i) => `pool-${String(i).padStart(3, '0')}`);
const orig = window.fetch;
window.__fetches = 0;
window.fetch = async (url, init) => {
  const u = new URL(url, location.href);
  const json = (data) => new Response(JSON.stringify({status: 'success', data}), {headers: {'Content-Type': 'application/json'}});
  if (u.pathname.endsWith('/api/v1/scrape_pools')) { window.__fetches++; return json({scrapePools: pools}); }
  if (u.pathname.endsWith('/api/v1/targets')) {
    window.__fetches++;
    const pool = u.searchParams.get('scrapePool');
    const activeTargets = Array.from({length: 40}, (_, j) => ({
      discoveredLabels: {__address__: `10.0.${j}.1:9100`, job: pool},
      labels: {instance: `10.0.${j}.1:9100`, job: pool}, scrapePool: pool,
      scrapeUrl: `http://10.0.${j}.1:9100/metrics`, globalUrl: '', lastError: j % 7 ? '' : 'connection refused',
      lastScrape: new Date().toISOString(), lastScrapeDuration: 0.01, health: j % 7 ? 'up' : 'down',
      scrapeInterval: '15s', scrapeTimeout: '10s'}));
    return json({activeTargets, droppedTargets: [], droppedTargetCounts: {[pool]: 0}});
  }
  return orig(url, init);
};
const t0 = performance.now();
history.pushState(null, '', location.pathname.replace(/\/[^/]*$/, page));
dispatchEvent(new PopStateEvent('popstate'));
const check = () => {
  if (document.querySelectorAll('[data-pool]').length === 500) done({ms: performance.now() - t0, fetches: window.__fetches});
  else if (performance.now() - t0 > 20000) done({ms: -1, fetches: window.__fetches});
  else requestAnimationFrame(check);
};
check();
"#;

/// Draws 1,000 series × 1,000 points with the Graph tab's chart and
/// reports the time to the first frame and of one hover.
const BIG_CHART: &str = r#"
const [stacked, done] = arguments;
const prefix = document.querySelector('meta[name=prom-prefix]').content;
import(prefix + '/assets/js/chart.js').then(({ createChart }) => {
  const start = 1.7e9, step = 15, n = 1000;
  const result = Array.from({length: 1000}, (_, i) => ({
    metric: {__name__: 'big', series: String(i)},
    values: Array.from({length: n}, (_, k) => [start + k * step, String(i + 50 * Math.sin((k + i) / 40))]),
  }));
  if (window.__chart) window.__chart.destroy();
  const t0 = performance.now();
  const chart = createChart({result, start, end: start + (n - 1) * step, step, stacked});
  window.__chart = chart;
  document.querySelector('main').replaceChildren(chart.el);
  requestAnimationFrame(() => requestAnimationFrame(() => {
    const t1 = performance.now();
    const c = chart.el.querySelector('canvas');
    const r = c.getBoundingClientRect();
    const h0 = performance.now();
    c.dispatchEvent(new MouseEvent('mousemove', {clientX: r.left + r.width / 2, clientY: r.top + 150, bubbles: true}));
    const h1 = performance.now();
    done({render: t1 - t0, hover: h1 - h0, tooltip: !chart.el.querySelector('.tooltip').hidden});
  }));
});
"#;

#[test]
fn big_clusters_and_big_charts_stay_fast() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: promethium\n    static_configs:\n      - targets: ['SELF']\n";
    let mut s = Server::start(dir.path(), cfg, &[]);
    s.wait_ready(WAIT);
    let base = format!("http://127.0.0.1:{}", s.port);
    let b = Browser::start();

    for page in ["/targets", "/service-discovery"] {
        b.goto(&format!("{base}/query"));
        b.wait("app", "return document.querySelector('.editor textarea')");
        let v = b.js_async(BIG_CLUSTER, json!([page]));
        let ms = v["ms"].as_f64().expect("ms");
        eprintln!("{page}: 500 pools listed in {ms:.0} ms with {} requests", v["fetches"]);
        assert!((0.0..2000.0).contains(&ms), "{page} took {ms} ms to list 500 pools");
        assert_eq!(v["fetches"], 1, "collapsed pools load nothing until opened");
        // Opening one pool loads just that pool.
        b.click("[data-pool=pool-007] .card-head");
        b.wait(
            "one pool's rows",
            "return document.querySelectorAll('[data-pool=pool-007] tbody tr').length === 40",
        );
        assert_eq!(b.js("return window.__fetches", json!([])), json!(2));
        b.assert_no_js_errors(page);
        b.screenshot(&format!("big-cluster{}", page.replace('/', "-")));
    }

    for stacked in [false, true] {
        let v = b.cmd(
            "POST",
            "/execute/async",
            Some(json!({ "script": BIG_CHART, "args": [stacked] })),
        );
        let (render, hover) =
            (v["render"].as_f64().expect("render"), v["hover"].as_f64().expect("hover"));
        eprintln!(
            "chart 1000x1000 stacked={stacked}: first frame {render:.0} ms, hover {hover:.1} ms"
        );
        assert_eq!(v["tooltip"], true, "hover shows a tooltip");
        assert!(render < 3000.0, "1,000 × 1,000 chart took {render} ms to draw");
        assert!(hover < 100.0, "hover took {hover} ms");
        b.assert_no_js_errors("big chart");
        b.screenshot(if stacked { "chart-1000x1000-stacked" } else { "chart-1000x1000" });
    }
}

/// The pure helpers of the UI modules, checked in the browser: URL state,
/// durations, error positions, tokenizing and completion contexts.
const HELPERS: &str = r#"
const done = arguments[arguments.length - 1];
const p = document.querySelector('meta[name=prom-prefix]').content + '/assets/js/';
Promise.all([import(p + 'query.js'), import(p + 'editor.js'), import(p + 'chart.js')]).then(([q, e, c]) => {
  const legacy = q.panelsFromURL('?g0.expr=rate(x%5B5m%5D)&g0.tab=0&g0.range_input=2h&g0.stacked=1&g1.expr=up&g1.tab=1');
  const round = q.panelsFromURL(q.panelsToURL(legacy));
  done({
    legacy: legacy.map((x) => [x.expr, x.tab, x.range, x.stacked]),
    roundTrip: JSON.stringify(round) === JSON.stringify(legacy),
    durations: [q.parseDuration('1h30m'), q.parseDuration('90'), q.parseDuration('5x'), q.formatDuration(5400)],
    offsets: [
      q.errorOffset('sum(up', 'invalid parameter "query": 1:7: parse error: unclosed left parenthesis'),
      q.errorOffset('up\n+ foo(', '2:5: parse error: x'),
      q.errorOffset('up', 'no position here'),
    ],
    subquery: e.tokenize('x[1h:1s]').map((t) => t.type + ':' + t.text),
    tokens: e.tokenize('sum by (job) (rate(http_total{code="200"}[5m])) > 0.5 # c')
      .filter((t) => t.type !== 'ws').map((t) => t.type + ':' + t.text),
    contexts: [
      e.completionContext('rate(http_', 10),
      e.completionContext('up{jo', 5),
      e.completionContext('up{job="pro', 11),
      e.completionContext('sum by (ins', 11),
    ],
    ticks: c.valueTicks(0, 1, 5),
  });
});
"#;

#[test]
fn ui_helpers_behave() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = "scrape_configs: []\n";
    let mut s = Server::start(dir.path(), cfg, &[]);
    s.wait_ready(WAIT);
    let b = Browser::start();
    b.goto(&format!("http://127.0.0.1:{}/query", s.port));
    b.wait("app", "return document.querySelector('.editor textarea')");
    let v = b.js_async(HELPERS, json!([]));
    assert_eq!(
        v["legacy"],
        json!([["rate(x[5m])", "graph", "2h", true], ["up", "table", "1h", false]])
    );
    assert_eq!(v["roundTrip"], true);
    assert_eq!(v["durations"], json!([5400, 90, null, "1h30m"]));
    assert_eq!(v["offsets"], json!([6, 7, null]));
    assert_eq!(
        v["tokens"],
        json!([
            "fn:sum",
            "kw:by",
            "op:(",
            "label:job",
            "op:)",
            "op:(",
            "fn:rate",
            "op:(",
            "metric:http_total",
            "op:{",
            "label:code",
            "op:=",
            "str:\"200\"",
            "op:}",
            "op:[",
            "num:5m",
            "op:]",
            "op:)",
            "op:)",
            "op:>",
            "num:0.5",
            "comment:# c"
        ])
    );
    assert_eq!(v["subquery"], json!(["metric:x", "op:[", "num:1h", "op::", "num:1s", "op:]"]));
    assert_eq!(v["contexts"][0], json!({"kind": "metric", "word": "http_", "from": 5}));
    assert_eq!(v["contexts"][1], json!({"kind": "label", "word": "jo", "from": 3, "metric": "up"}));
    assert_eq!(
        v["contexts"][2],
        json!({"kind": "value", "label": "job", "word": "pro", "from": 8})
    );
    assert_eq!(v["contexts"][3], json!({"kind": "label", "word": "ins", "from": 8, "metric": ""}));
    assert_eq!(v["ticks"], json!([0, 0.2, 0.4, 0.6000000000000001, 0.8, 1]));
    b.assert_no_js_errors("helpers");
}
