//! Test helpers: a tiny loopback HTTP target whose answer the test can
//! change between scrapes, and helpers to drive a `ScrapeManager` against
//! `MemStorage`.
//!
//! The server speaks just enough HTTP/1.1 for a scraper (one request per
//! connection, `Connection: close`) so that tests can also send what a real
//! server never would: bodies shorter than their `Content-Length`, garbage,
//! or nothing at all for a long time.

#![allow(dead_code, unreachable_pub)]

use std::collections::HashMap;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use promethium_discovery::{LabelSet, TargetGroup};
use promethium_engine::MemStorage;
use promethium_engine::model::{Labels, Sample};
use promethium_scrape::config::Config;
use promethium_scrape::manager::{ManagerOptions, ScrapeManager};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// What the test server answers.
#[derive(Debug, Clone)]
pub enum Reply {
    /// 200 with this body and content type.
    Body { content_type: &'static str, body: Vec<u8> },
    /// 200 with a gzip-compressed body.
    Gzip { content_type: &'static str, body: Vec<u8> },
    /// A status other than 200.
    Status(u16),
    /// Headers promising `declared` bytes, then only `body`, then close.
    Truncated { declared: usize, body: Vec<u8> },
    /// Waits this long, then answers with the body.
    Slow { delay: Duration, body: Vec<u8> },
}

impl Reply {
    /// A Prometheus text-format body.
    pub fn text(body: &str) -> Reply {
        Reply::Body {
            content_type: "text/plain; version=0.0.4; charset=utf-8",
            body: body.as_bytes().to_vec(),
        }
    }
}

/// A loopback HTTP server answering every request with the current [`Reply`].
pub struct TestTarget {
    pub addr: SocketAddr,
    reply: Arc<Mutex<Reply>>,
    requests: Arc<AtomicUsize>,
    headers: Arc<Mutex<Vec<String>>>,
    task: JoinHandle<()>,
}

impl TestTarget {
    /// Starts serving `reply` on a free loopback port.
    pub async fn start(reply: Reply) -> TestTarget {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        let reply = Arc::new(Mutex::new(reply));
        let requests = Arc::new(AtomicUsize::new(0));
        let headers = Arc::new(Mutex::new(Vec::new()));
        let (r, n, h) = (reply.clone(), requests.clone(), headers.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut sock, _)) = listener.accept().await else { return };
                let (r, n, h) = (r.clone(), n.clone(), h.clone());
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                        match sock.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(k) => buf.extend_from_slice(&chunk[..k]),
                        }
                    }
                    n.fetch_add(1, Ordering::SeqCst);
                    *h.lock() = String::from_utf8_lossy(&buf).lines().map(str::to_owned).collect();
                    let reply = r.lock().clone();
                    let _ = write_reply(&mut sock, reply).await;
                    let _ = sock.shutdown().await;
                });
            }
        });
        TestTarget { addr, reply, requests, headers, task }
    }

    /// Changes the answer for later requests.
    pub fn set(&self, reply: Reply) {
        *self.reply.lock() = reply;
    }

    /// Requests served so far.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    /// The request line and headers of the last request.
    pub fn last_request(&self) -> Vec<String> {
        self.headers.lock().clone()
    }

    /// `host:port`.
    pub fn address(&self) -> String {
        self.addr.to_string()
    }

    /// Stops accepting connections.
    pub fn stop(&self) {
        self.task.abort();
    }
}

impl Drop for TestTarget {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn write_reply(sock: &mut tokio::net::TcpStream, reply: Reply) -> std::io::Result<()> {
    let ok = |ct: &str, extra: &str, len: usize| {
        format!(
            "HTTP/1.1 200 OK\r\nContent-Type: {ct}\r\n{extra}Content-Length: {len}\r\nConnection: close\r\n\r\n"
        )
    };
    match reply {
        Reply::Body { content_type, body } => {
            sock.write_all(ok(content_type, "", body.len()).as_bytes()).await?;
            sock.write_all(&body).await
        }
        Reply::Gzip { content_type, body } => {
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            enc.write_all(&body)?;
            let gz = enc.finish()?;
            sock.write_all(ok(content_type, "Content-Encoding: gzip\r\n", gz.len()).as_bytes())
                .await?;
            sock.write_all(&gz).await
        }
        Reply::Status(code) => {
            let head =
                format!("HTTP/1.1 {code} Oops\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            sock.write_all(head.as_bytes()).await
        }
        Reply::Truncated { declared, body } => {
            sock.write_all(ok("text/plain; version=0.0.4", "", declared).as_bytes()).await?;
            sock.write_all(&body).await
        }
        Reply::Slow { delay, body } => {
            tokio::time::sleep(delay).await;
            sock.write_all(ok("text/plain; version=0.0.4", "", body.len()).as_bytes()).await?;
            sock.write_all(&body).await
        }
    }
}

/// A manager scraping into a fresh `MemStorage`.
pub fn manager() -> (Arc<MemStorage>, ScrapeManager) {
    let db = Arc::new(MemStorage::new());
    let m = ScrapeManager::new(db.clone(), ManagerOptions::default());
    (db, m)
}

/// A configuration with one job scraping every 200 ms; `extra` is added to
/// the job (indented YAML lines such as `    sample_limit: 5`).
pub fn config(job: &str, extra: &str) -> Config {
    let yaml = format!(
        "global:\n  scrape_interval: 200ms\n  scrape_timeout: 150ms\nscrape_configs:\n  - job_name: {job}\n{extra}"
    );
    Config::load_str(&yaml).unwrap_or_else(|e| panic!("test config does not load: {e}\n{yaml}"))
}

/// One static target group per address, as discovery would send for `job`.
pub fn groups(job: &str, addresses: &[String]) -> HashMap<String, Vec<TargetGroup>> {
    let targets =
        addresses.iter().map(|a| LabelSet::from([("__address__".to_owned(), a.clone())])).collect();
    HashMap::from([(
        job.to_owned(),
        vec![TargetGroup { source: "0".into(), targets, labels: LabelSet::new() }],
    )])
}

/// All samples of the series with these exact labels.
pub fn series(db: &MemStorage, labels: &Labels) -> Vec<Sample> {
    db.dump().into_iter().find(|(l, _)| l == labels).map(|(_, s)| s).unwrap_or_default()
}

/// Samples of `up` for a target.
pub fn up(db: &MemStorage, job: &str, instance: &str) -> Vec<f64> {
    let l = Labels::new([("__name__", "up"), ("job", job), ("instance", instance)]);
    series(db, &l).into_iter().map(|s| s.value).collect()
}

/// Polls `check` every 20 ms until it is true or `timeout` passes.
pub async fn wait_for(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !check() {
        assert!(Instant::now() < deadline, "timed out after {timeout:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
