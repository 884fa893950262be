//! Strict OpenMetrics checks layered over the Prometheus-compatible parser.
//!
//! Prometheus' scrape parser checks syntax only. The OpenMetrics
//! specification also has semantic rules, which its test suite enforces and
//! which [`super::Validation::Strict`] enables through this checker.

use super::{Entry, Sample};

/// Semantic OpenMetrics checks, fed every entry in order.
#[derive(Debug, Default)]
pub(crate) struct OpenMetricsChecker {}

impl OpenMetricsChecker {
    /// Checks a metadata line.
    pub(crate) fn metadata(&mut self, _entry: &Entry<'_>) -> Result<(), String> {
        Ok(())
    }

    /// Checks a sample line.
    pub(crate) fn sample(&mut self, _sample: &Sample<'_>, _metric_name: &[u8]) -> Result<(), String> {
        Ok(())
    }

    /// Checks at `# EOF`.
    pub(crate) fn finish(&mut self) -> Result<(), String> {
        Ok(())
    }
}
