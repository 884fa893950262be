//! What the API shows about scraping: active and dropped targets, scrape
//! pools, and the metadata targets exposed.
//!
//! The API reads scraping through [`TargetSource`] so it does not depend on
//! how the scrape manager stores its state, and so an empty source can
//! stand in while the manager starts.

use std::collections::BTreeMap;

/// A label map as the API prints it.
pub type LabelMap = BTreeMap<String, String>;

/// Health of a target, as Prometheus spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// Last scrape succeeded.
    Up,
    /// Last scrape failed.
    Down,
    /// Not scraped yet.
    Unknown,
}

impl Health {
    /// `up`, `down` or `unknown`.
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Up => "up",
            Health::Down => "down",
            Health::Unknown => "unknown",
        }
    }
}

/// One active target.
#[derive(Debug, Clone)]
pub struct ActiveTarget {
    /// Labels before relabeling.
    pub discovered_labels: LabelMap,
    /// Labels after relabeling.
    pub labels: LabelMap,
    /// The job (scrape pool) name.
    pub scrape_pool: String,
    /// The URL scraped.
    pub scrape_url: String,
    /// The URL as seen from outside (`globalUrl`).
    pub global_url: String,
    /// Error of the last scrape, empty when it succeeded.
    pub last_error: String,
    /// Start of the last scrape, ms (0 when never scraped).
    pub last_scrape_ms: i64,
    /// Duration of the last scrape.
    pub last_scrape_duration_secs: f64,
    /// Health.
    pub health: Health,
    /// Configured interval (Prometheus duration text).
    pub scrape_interval: String,
    /// Configured timeout (Prometheus duration text).
    pub scrape_timeout: String,
}

/// One target dropped by relabeling.
#[derive(Debug, Clone)]
pub struct DroppedTarget {
    /// Labels before relabeling.
    pub discovered_labels: LabelMap,
    /// The job it was discovered for.
    pub scrape_pool: String,
}

/// One metric family's metadata as a target exposed it.
#[derive(Debug, Clone)]
pub struct TargetMetadata {
    /// The target's labels.
    pub target: LabelMap,
    /// The metric family name.
    pub metric: String,
    /// `counter`, `gauge`, ...
    pub kind: String,
    /// HELP text.
    pub help: String,
    /// UNIT text.
    pub unit: String,
}

/// Dropped targets kept per response, and per pool when the config does not
/// cap them, so the answer stays bounded on big clusters.
pub const MAX_DROPPED_TARGETS: usize = 10_000;

/// Read access to the scrape manager's state.
pub trait TargetSource: Send + Sync {
    /// Active targets, grouped by pool in pool order, produced one at a
    /// time so callers can stream them.
    fn active_targets(&self) -> Box<dyn Iterator<Item = ActiveTarget> + '_>;
    /// Dropped targets (capped per pool by `keep_dropped_targets`) and the
    /// total dropped per pool before capping.
    fn dropped_targets(&self) -> (Vec<DroppedTarget>, BTreeMap<String, u64>);
    /// Names of the configured scrape pools, sorted.
    fn scrape_pools(&self) -> Vec<String>;
    /// Metadata reported by targets.
    fn metadata(&self) -> Vec<TargetMetadata>;
}

/// A source with no targets, used before scraping starts.
#[derive(Debug, Default)]
pub struct NoTargets;

impl TargetSource for NoTargets {
    fn active_targets(&self) -> Box<dyn Iterator<Item = ActiveTarget> + '_> {
        Box::new(std::iter::empty())
    }

    fn dropped_targets(&self) -> (Vec<DroppedTarget>, BTreeMap<String, u64>) {
        (Vec::new(), BTreeMap::new())
    }

    fn scrape_pools(&self) -> Vec<String> {
        Vec::new()
    }

    fn metadata(&self) -> Vec<TargetMetadata> {
        Vec::new()
    }
}
