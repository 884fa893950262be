//! Scraping: pulling samples from targets into the engine.
//!
//! The crate turns configuration and discovered targets into samples
//! appended through the engine's [`Appender`](promethium_engine::Appender):
//!
//! * [`config`] reads `prometheus.yml` as Prometheus does, and
//!   [`relabel`] and [`target_labels`] apply relabeling and the target
//!   label rules to discovery's target groups;
//! * [`parse`] reads the exposition formats (Prometheus text, OpenMetrics)
//!   without allocating per sample;
//! * [`manager`] runs one [`pool`] per job and one [`scrape_loop`] per
//!   [`target`]: each loop fetches its target with the [`http`] client every
//!   interval at a stable offset, appends the samples through its per-target
//!   [`cache`] (series bytes to series reference, so steady-state scrapes
//!   skip label work), writes staleness markers and the report series
//!   (`up`, `scrape_duration_seconds`, ...), and records the target's health
//!   for the API.
//!
//! Invariant: one scrape is one appender batch. A scrape either commits all
//! its samples or, when it fails for any reason (network, body, parse,
//! limits, storage), none of them; a failed scrape still commits `up` 0 and
//! staleness markers for the target's series. Scraping reaches storage only
//! through [`Appendable`](promethium_engine::Appendable) and never sees its
//! internals, and it knows discovery only through its plain target groups.
//!
//! One scrape of a body, without a network (the same call the loop makes
//! after each fetch):
//!
//! ```
//! use std::collections::BTreeMap;
//! use std::sync::Arc;
//! use std::time::{Duration, Instant};
//!
//! use promethium_engine::MemStorage;
//! use promethium_engine::model::Labels;
//! use promethium_scrape::manager::ScrapeMetrics;
//! use promethium_scrape::scrape_loop::{LoopOptions, ScrapeLoop};
//! use promethium_scrape::target::Target;
//!
//! let db = Arc::new(MemStorage::new());
//! let labels = Labels::new([
//!     ("__address__", "localhost:9100"),
//!     ("__metrics_path__", "/metrics"),
//!     ("instance", "localhost:9100"),
//!     ("job", "node"),
//! ]);
//! let target = Target::new("node", labels.clone(), labels, &BTreeMap::new(),
//!     Duration::from_secs(15), Duration::from_secs(10)).unwrap();
//! let mut scrape_loop = ScrapeLoop::new(Arc::new(target), db.clone(),
//!     Arc::new(LoopOptions::default()), Arc::new(ScrapeMetrics::default()), None);
//!
//! let body = b"# TYPE node_load1 gauge\nnode_load1 0.5\n";
//! let report = scrape_loop.append_scrape(body, "text/plain; version=0.0.4", 1_000, Ok(()), Instant::now());
//! assert!(report.error.is_none());
//!
//! let stored = db.dump();
//! let load = Labels::new([("__name__", "node_load1"), ("instance", "localhost:9100"), ("job", "node")]);
//! assert!(stored.iter().any(|(l, s)| *l == load && s[0].value == 0.5));
//! let up = Labels::new([("__name__", "up"), ("instance", "localhost:9100"), ("job", "node")]);
//! assert!(stored.iter().any(|(l, s)| *l == up && s[0].value == 1.0));
//! ```

pub mod cache;
pub mod config;
pub mod error;
pub mod http;
pub mod manager;
pub mod parse;
pub mod pool;
pub mod relabel;
pub mod scrape_loop;
pub mod target;
pub mod target_labels;
