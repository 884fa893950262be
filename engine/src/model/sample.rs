//! Samples and series references.

/// The bit pattern Prometheus writes as a staleness marker. It is a NaN, so
/// it must be compared by bits, never by value.
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

/// The staleness marker as an `f64`.
pub fn stale_nan() -> f64 {
    f64::from_bits(STALE_NAN_BITS)
}

/// Whether `v` is exactly the staleness marker (not just any NaN).
pub fn is_stale_nan(v: f64) -> bool {
    v.to_bits() == STALE_NAN_BITS
}

/// One float sample: a millisecond Unix timestamp and a value.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    /// Milliseconds since the Unix epoch.
    pub t_ms: i64,
    /// The value; NaN payloads (the stale marker) are preserved exactly.
    pub value: f64,
}

impl Sample {
    /// A sample at `t_ms` with `value`.
    pub fn new(t_ms: i64, value: f64) -> Self {
        Sample { t_ms, value }
    }
}

/// Bit-exact equality, so NaN samples and the stale marker compare as stored.
impl PartialEq for Sample {
    fn eq(&self, other: &Self) -> bool {
        self.t_ms == other.t_ms && self.value.to_bits() == other.value.to_bits()
    }
}
impl Eq for Sample {}

/// A stable handle to a series in one storage, returned by every append.
/// Callers cache it to skip label hashing on later appends. References are
/// never reused for another series within one storage's lifetime.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SeriesRef(pub u64);

/// The kind of a metric family, as exposition formats declare it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum MetricType {
    /// A monotonically increasing counter.
    Counter,
    /// A value that goes up and down.
    Gauge,
    /// A classic histogram with `_bucket`, `_sum` and `_count` series.
    Histogram,
    /// An OpenMetrics gauge histogram.
    GaugeHistogram,
    /// A summary with quantiles.
    Summary,
    /// An OpenMetrics info metric.
    Info,
    /// An OpenMetrics state set.
    StateSet,
    /// No type was declared.
    #[default]
    Unknown,
}

impl MetricType {
    /// The name used in the HTTP API and exposition formats.
    pub fn as_str(self) -> &'static str {
        match self {
            MetricType::Counter => "counter",
            MetricType::Gauge => "gauge",
            MetricType::Histogram => "histogram",
            MetricType::GaugeHistogram => "gaugehistogram",
            MetricType::Summary => "summary",
            MetricType::Info => "info",
            MetricType::StateSet => "stateset",
            MetricType::Unknown => "unknown",
        }
    }
}

/// Metric metadata (`# TYPE`, `# HELP`, `# UNIT`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Metadata {
    /// The declared type.
    pub metric_type: MetricType,
    /// The help text.
    pub help: String,
    /// The unit, empty when none was given.
    pub unit: String,
}

/// An exemplar attached to a sample.
#[derive(Debug, Clone, PartialEq)]
pub struct Exemplar {
    /// The exemplar's own labels (for example a trace ID).
    pub labels: super::Labels,
    /// The exemplar value.
    pub value: f64,
    /// Its timestamp in milliseconds, when the exposition gave one.
    pub t_ms: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_marker_is_distinguished_from_other_nans() {
        assert!(is_stale_nan(stale_nan()));
        assert!(!is_stale_nan(f64::NAN));
        assert_ne!(Sample::new(1, f64::NAN), Sample::new(1, stale_nan()));
        assert_eq!(Sample::new(1, stale_nan()), Sample::new(1, stale_nan()));
    }
}
