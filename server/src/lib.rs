//! The `promethium` server: flags, configuration, the HTTP API v1, the
//! remote-write receiver, self-metrics and the process lifecycle, wired
//! around the engine, PromQL and scraping.
//!
//! Invariant: the server reaches storage only through [`storage::Storage`]
//! (the engine's `Appendable`/`Queryable` plus statistics and admin
//! operations), and every API error goes through
//! [`api::error::ApiError`], where the Prometheus `errorType` strings and
//! status codes live.
//!
//! ```
//! use promethium_server::flags::Flags;
//!
//! let flags = Flags::parse_from_args(["promethium", "--web.listen-address=127.0.0.1:0"].map(String::from)).unwrap();
//! assert_eq!(flags.listen_address, "127.0.0.1:0");
//! ```

pub mod api;
pub mod app;
pub mod config;
pub mod duration;
pub mod flags;
pub mod http;
pub mod logging;
pub mod remote;
pub mod router;
pub mod scrape_glue;
pub mod state;
pub mod storage;
pub mod targets;
pub mod telemetry;
pub mod web;
pub mod web_config;
