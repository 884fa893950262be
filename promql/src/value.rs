//! Query results: the four PromQL value types.

use promethium_engine::model::{Labels, Sample};

/// One element of an instant vector.
#[derive(Debug, Clone, PartialEq)]
pub struct VectorSample {
    /// The series' labels after evaluation.
    pub labels: Labels,
    /// The evaluation timestamp in milliseconds.
    pub t_ms: i64,
    /// The value.
    pub value: f64,
}

/// One series of a range vector or range-query result.
#[derive(Debug, Clone, PartialEq)]
pub struct RangeSeries {
    /// The series' labels after evaluation.
    pub labels: Labels,
    /// Samples in increasing time order.
    pub samples: Vec<Sample>,
}

/// The result of evaluating an expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A scalar at a timestamp.
    Scalar {
        /// Milliseconds.
        t_ms: i64,
        /// The value.
        value: f64,
    },
    /// A string at a timestamp.
    String {
        /// Milliseconds.
        t_ms: i64,
        /// The value.
        value: String,
    },
    /// An instant vector.
    Vector(Vec<VectorSample>),
    /// A range vector (instant query of a range selector) or the result of
    /// a range query.
    Matrix(Vec<RangeSeries>),
}

impl Value {
    /// The type name used in the HTTP API's `resultType`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Scalar { .. } => "scalar",
            Value::String { .. } => "string",
            Value::Vector(_) => "vector",
            Value::Matrix(_) => "matrix",
        }
    }
}

/// A successful query: the value plus annotations for the API's
/// `warnings` and `infos` fields.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryResult {
    /// The result.
    pub value: Value,
    /// Warnings, e.g. "metric might not be a counter".
    pub warnings: Vec<String>,
    /// Informational annotations.
    pub infos: Vec<String>,
    /// Samples loaded while evaluating (for stats and limits).
    pub samples_loaded: u64,
}
