//! PromQL: parsing and evaluation over the engine's [`Queryable`].
//!
//! Invariant: this crate sees storage only through
//! `promethium_engine::{Queryable, Querier}`; it never reads files or the
//! head directly.

pub mod parser;
pub mod value;

use std::time::Duration;

use promethium_engine::{QueryError, Queryable};

pub use value::{QueryResult, RangeSeries, Value, VectorSample};

/// Limits and defaults for evaluation, mirroring Prometheus' `--query.*` flags.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// How far back an instant selector looks for a sample (`--query.lookback-delta`, 5 m).
    pub lookback_delta_ms: i64,
    /// Maximum samples a query may hold in memory at once (`--query.max-samples`, 50 M).
    pub max_samples: u64,
    /// Wall-clock limit of one query (`--query.timeout`, 2 m).
    pub timeout: Duration,
    /// Maximum points per series in a range query result (11,000).
    pub max_points_per_series: u64,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            lookback_delta_ms: 5 * 60 * 1000,
            max_samples: 50_000_000,
            timeout: Duration::from_secs(120),
            max_points_per_series: 11_000,
        }
    }
}

/// Why a query failed. [`PromqlError::error_type`] gives the HTTP API's
/// `errorType` string, so those strings live in one place.
#[derive(Debug, thiserror::Error)]
pub enum PromqlError {
    /// The expression does not parse (or fails type checks).
    #[error("{0}")]
    Parse(String),
    /// Parameters are invalid (e.g. too many points, bad step).
    #[error("{0}")]
    BadData(String),
    /// Evaluation failed (e.g. many-to-many matching, duplicate labelsets).
    #[error("{0}")]
    Execution(String),
    /// The query ran past its timeout.
    #[error("query timed out in {0}")]
    Timeout(&'static str),
    /// The query was cancelled.
    #[error("query was canceled in {0}")]
    Canceled(&'static str),
    /// The query would load more samples than allowed.
    #[error("query processing would load too many samples into memory in {0}")]
    TooManySamples(&'static str),
    /// Storage failed.
    #[error(transparent)]
    Storage(#[from] QueryError),
}

impl PromqlError {
    /// The `errorType` Prometheus' HTTP API reports for this error.
    pub fn error_type(&self) -> &'static str {
        match self {
            PromqlError::Parse(_) | PromqlError::BadData(_) => "bad_data",
            PromqlError::Execution(_) | PromqlError::TooManySamples(_) => "execution",
            PromqlError::Timeout(_) => "timeout",
            PromqlError::Canceled(_) => "canceled",
            PromqlError::Storage(_) => "internal",
        }
    }
}

/// Evaluates PromQL queries with fixed options.
#[derive(Debug, Clone, Default)]
pub struct Engine {
    options: EngineOptions,
}

impl Engine {
    /// An engine with `options`.
    pub fn new(options: EngineOptions) -> Self {
        Engine { options }
    }

    /// The engine's options.
    pub fn options(&self) -> &EngineOptions {
        &self.options
    }

    /// Evaluates `expr` at `t_ms`.
    pub fn instant_query(&self, _storage: &dyn Queryable, _expr: &str, _t_ms: i64) -> Result<QueryResult, PromqlError> {
        Err(PromqlError::Execution("evaluation is not implemented yet".into()))
    }

    /// Evaluates `expr` at every step from `start_ms` to `end_ms` inclusive.
    pub fn range_query(
        &self,
        _storage: &dyn Queryable,
        _expr: &str,
        _start_ms: i64,
        _end_ms: i64,
        _step_ms: i64,
    ) -> Result<QueryResult, PromqlError> {
        Err(PromqlError::Execution("evaluation is not implemented yet".into()))
    }
}
