//! A scrape target and the state the API and UI show for it.
//!
//! A [`Target`] is immutable once built from a discovered label set: its
//! identity (labels and URL) never changes, and a change of either is a new
//! target. Only its [`TargetStatus`] (health, last error, last scrape) and
//! metadata change, written by its scrape loop and read by the API, each
//! behind its own lock so readers never wait for a scrape.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use http::Uri;
use parking_lot::RwLock;
use promethium_discovery::ADDRESS_LABEL;
use promethium_engine::model::{Labels, Metadata};

use crate::target_labels;

/// Whether the last scrape of a target succeeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Health {
    /// Not scraped yet.
    #[default]
    Unknown,
    /// The last scrape succeeded.
    Up,
    /// The last scrape failed.
    Down,
}

impl Health {
    /// The word the API uses: `unknown`, `up` or `down`.
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Unknown => "unknown",
            Health::Up => "up",
            Health::Down => "down",
        }
    }
}

/// What the last scrape of a target found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TargetStatus {
    /// Health after the last scrape.
    pub health: Health,
    /// The last scrape's error, empty when it succeeded.
    pub last_error: String,
    /// When the last scrape started.
    pub last_scrape: Option<SystemTime>,
    /// How long the last scrape took.
    pub last_scrape_duration: Duration,
    /// Samples the last scrape parsed.
    pub last_samples_scraped: usize,
}

/// A target of a scrape pool.
#[derive(Debug)]
pub struct Target {
    scrape_pool: String,
    discovered_labels: Labels,
    labels: Labels,
    url: Uri,
    interval: Duration,
    timeout: Duration,
    status: RwLock<TargetStatus>,
    metadata: RwLock<Arc<Vec<(String, Metadata)>>>,
}

/// Why a relabeled label set cannot be scraped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// The scrape URL built from the labels is invalid.
    #[error("invalid scrape URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL as built.
        url: String,
        /// Why it is invalid.
        reason: String,
    },
    /// A required label is missing.
    #[error("no {0} label")]
    MissingLabel(&'static str),
}

impl Target {
    /// A target from its labels after target relabeling (`labels`, which
    /// still hold `__address__`, `__scheme__`, `__metrics_path__`,
    /// `__param_*`), the labels discovery gave it, and the job's `params`
    /// (overridden per name by `__param_<name>` labels, as in Prometheus).
    pub fn new(
        scrape_pool: &str,
        discovered_labels: Labels,
        labels: Labels,
        params: &BTreeMap<String, Vec<String>>,
        interval: Duration,
        timeout: Duration,
    ) -> Result<Target, TargetError> {
        let url = scrape_url(&labels, params)?;
        Ok(Target {
            scrape_pool: scrape_pool.to_owned(),
            discovered_labels,
            labels,
            url,
            interval,
            timeout,
            status: RwLock::new(TargetStatus::default()),
            metadata: RwLock::new(Arc::new(Vec::new())),
        })
    }

    /// The scrape pool (job name).
    pub fn scrape_pool(&self) -> &str {
        &self.scrape_pool
    }

    /// The labels as discovery gave them, before relabeling.
    pub fn discovered_labels(&self) -> &Labels {
        &self.discovered_labels
    }

    /// Every label after relabeling, reserved `__` labels included.
    pub fn labels_with_reserved(&self) -> &Labels {
        &self.labels
    }

    /// The labels added to every scraped series: relabeled labels without
    /// the reserved `__` ones.
    pub fn labels(&self) -> Labels {
        target_labels::public_labels(&self.labels)
    }

    /// The scrape URL.
    pub fn url(&self) -> &Uri {
        &self.url
    }

    /// The scrape interval.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// The scrape timeout.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// A stable identity: the same labels and URL hash the same across runs,
    /// so the scrape offset is stable across restarts and replicas.
    pub fn hash(&self) -> u64 {
        let mut buf = self.labels.stable_hash().to_be_bytes().to_vec();
        buf.extend_from_slice(self.url.to_string().as_bytes());
        promethium_engine::model::xxh3_64(&buf)
    }

    /// Where in each interval this target is scraped, relative to the
    /// interval grid (Unix time modulo interval): a stable offset derived
    /// from the target's hash XOR `seed`, which spreads a pool's scrapes over
    /// the interval, as Prometheus' offset spreading does. `seed` differs per
    /// server (Prometheus derives it from external labels and hostname) so
    /// HA replicas do not scrape in lockstep.
    pub fn offset(&self, seed: u64) -> Duration {
        let interval_ns = self.interval.as_nanos().max(1);
        let off = u128::from(self.hash() ^ seed) % interval_ns;
        Duration::from_nanos(
            u64::try_from(off).expect("offset is below the interval, which fits u64"),
        )
    }

    /// The state of the last scrape.
    pub fn status(&self) -> TargetStatus {
        self.status.read().clone()
    }

    /// The health after the last scrape.
    pub fn health(&self) -> Health {
        self.status.read().health
    }

    pub(crate) fn set_status(&self, status: TargetStatus) {
        *self.status.write() = status;
    }

    /// Metadata per metric family from the target's `# TYPE`, `# HELP` and
    /// `# UNIT` lines, sorted by family name.
    pub fn metadata(&self) -> Arc<Vec<(String, Metadata)>> {
        self.metadata.read().clone()
    }

    /// Metadata of one metric family.
    pub fn metadata_for(&self, family: &str) -> Option<Metadata> {
        let m = self.metadata.read();
        m.binary_search_by(|(n, _)| n.as_str().cmp(family)).ok().map(|i| m[i].1.clone())
    }

    pub(crate) fn set_metadata(&self, metadata: Vec<(String, Metadata)>) {
        *self.metadata.write() = Arc::new(metadata);
    }
}

/// Builds the scrape URL from target labels and the job's `params`
/// ([`target_labels::target_url`]) and checks that it is a valid URI.
pub fn scrape_url(
    labels: &Labels,
    params: &BTreeMap<String, Vec<String>>,
) -> Result<Uri, TargetError> {
    if labels.get(ADDRESS_LABEL).is_none_or(str::is_empty) {
        return Err(TargetError::MissingLabel(ADDRESS_LABEL));
    }
    let url = target_labels::target_url(labels, params);
    url.parse::<Uri>()
        .map_err(|e| TargetError::InvalidUrl { url: url.clone(), reason: e.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(labels: Labels) -> Target {
        Target::new(
            "job",
            Labels::empty(),
            labels,
            &BTreeMap::new(),
            Duration::from_secs(15),
            Duration::from_secs(10),
        )
        .unwrap()
    }

    #[test]
    fn url_from_labels_and_params() {
        let labels = Labels::new([
            ("__address__", "h:9100"),
            ("__scheme__", "https"),
            ("__metrics_path__", "/probe"),
            ("__param_module", "http 2xx"),
        ]);
        let params: BTreeMap<String, Vec<String>> = [
            ("module".to_owned(), vec!["a".to_owned(), "b".to_owned()]),
            ("x".to_owned(), vec!["1".to_owned()]),
        ]
        .into();
        let url = scrape_url(&labels, &params).unwrap();
        assert_eq!(url.to_string(), "https://h:9100/probe?module=http+2xx&module=b&x=1");
        assert_eq!(
            scrape_url(
                &Labels::new([("__address__", "h:1"), ("__metrics_path__", "/metrics")]),
                &BTreeMap::new()
            )
            .unwrap()
            .to_string(),
            "http://h:1/metrics"
        );
        assert_eq!(
            scrape_url(&Labels::empty(), &BTreeMap::new()),
            Err(TargetError::MissingLabel(ADDRESS_LABEL))
        );
    }

    #[test]
    fn public_labels_drop_reserved_ones() {
        let t = target(Labels::new([("__address__", "h:1"), ("instance", "h:1"), ("job", "j")]));
        assert_eq!(t.labels(), Labels::new([("instance", "h:1"), ("job", "j")]));
    }

    #[test]
    fn offset_is_stable_and_within_interval() {
        let a = target(Labels::new([("__address__", "a:1"), ("job", "j")]));
        let b = target(Labels::new([("__address__", "b:1"), ("job", "j")]));
        assert_eq!(a.offset(7), a.offset(7));
        assert!(a.offset(7) < a.interval());
        assert_ne!(a.offset(7), b.offset(7), "different targets spread over the interval");
        assert_ne!(a.offset(7), a.offset(8), "the seed moves the offset");
    }

    #[test]
    fn metadata_lookup() {
        let t = target(Labels::new([("__address__", "a:1")]));
        t.set_metadata(vec![
            ("a".into(), Metadata::default()),
            ("b".into(), Metadata { help: "h".into(), ..Default::default() }),
        ]);
        assert_eq!(t.metadata_for("b").unwrap().help, "h");
        assert!(t.metadata_for("c").is_none());
    }
}
