//! Service discovery: turns configuration into target groups.
//!
//! Each mechanism (static, file, Kubernetes, ...) is a plugin: an [`SdConfig`]
//! parsed from its key in `prometheus.yml` builds a [`Discoverer`], which runs
//! until its task is aborted and pushes full sets of [`TargetGroup`]s, then
//! updates. A target group is plain data: label maps, with `__address__` and
//! `__meta_*` labels named as Prometheus names them.
//!
//! Invariant: this crate depends on no other Promethium crate and knows
//! nothing of scraping. It emits label maps; what is scraped, and how, is
//! decided elsewhere.
//!
//! ```
//! use promethium_discovery::{LabelSet, TargetGroup};
//!
//! let target: LabelSet = [("__address__".to_string(), "localhost:9100".to_string())].into();
//! let group = TargetGroup { source: "0".into(), targets: vec![target], labels: LabelSet::new() };
//! assert_eq!(group.targets.len(), 1);
//! ```

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::future::Future;
use std::pin::Pin;

use tokio::sync::mpsc;

/// A set of labels as discovery produces them: plain, sorted, owned.
pub type LabelSet = BTreeMap<String, String>;

/// The label naming the host and port to scrape.
pub const ADDRESS_LABEL: &str = "__address__";
/// Prefix of the labels discovery attaches for relabeling; dropped afterwards.
pub const META_LABEL_PREFIX: &str = "__meta_";

/// Targets sharing common labels, identified by `source` within one
/// discoverer. A group with the same source replaces the previous one; a
/// group with no targets removes them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TargetGroup {
    /// Identifies the group within its discoverer (for example a file name
    /// and index, or `pod/namespace/name`).
    pub source: String,
    /// One label set per target; each has at least `__address__`.
    pub targets: Vec<LabelSet>,
    /// Labels common to every target of the group.
    pub labels: LabelSet,
}

/// A future that runs a discoverer until it is aborted.
pub type DiscoveryFuture = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// A running discovery mechanism.
pub trait Discoverer: Send + 'static {
    /// Runs until the task is aborted. First sends every group it knows,
    /// then sends changed groups as they change. Errors are logged and
    /// retried with back-off inside the discoverer, never returned: a
    /// failing source keeps its last known groups.
    fn run(self: Box<Self>, updates: mpsc::Sender<Vec<TargetGroup>>) -> DiscoveryFuture;
}

/// The configuration of one discovery mechanism, as parsed from its key in
/// a scrape config (`static_configs`, `file_sd_configs`, ...).
pub trait SdConfig: Debug + Send + Sync {
    /// The config key it was parsed from, e.g. `file_sd_configs`.
    fn key(&self) -> &'static str;

    /// Starts discovery with this configuration.
    fn discoverer(&self) -> Result<Box<dyn Discoverer>, DiscoveryError>;
}

/// Why a discoverer could not be built.
#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    /// The configuration is invalid.
    #[error("invalid {key} configuration: {reason}")]
    InvalidConfig {
        /// The config key of the mechanism.
        key: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A file it needs could not be read.
    #[error("reading {path}: {source}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

pub mod config;
pub mod file;
pub mod kubernetes;
pub mod manager;
pub mod static_config;
