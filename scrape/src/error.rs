//! Typed errors of the scrape loop, the HTTP client and the manager.
//!
//! A [`ScrapeError`] is what a target's state shows as its last error, so
//! every message names what went wrong in words close to Prometheus' own
//! (`server returned HTTP status 500 Internal Server Error`, `sample limit
//! exceeded`, ...). Messages are lowercase with no trailing period.

use std::path::PathBuf;
use std::time::Duration;

use promethium_engine::{AppendError, CommitError};

/// Why one scrape failed. The scrape appended nothing but its report series
/// (`up` 0) and staleness markers.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ScrapeError {
    /// The target answered with a status other than 200.
    #[error("server returned HTTP status {0}")]
    HttpStatus(String),
    /// The scrape did not finish within `scrape_timeout`.
    #[error("scrape timed out after {timeout:?} (context deadline exceeded)")]
    Timeout {
        /// The configured timeout.
        timeout: Duration,
    },
    /// Connecting to or talking to the target failed.
    #[error("request to {url} failed: {reason}")]
    Request {
        /// The scrape URL.
        url: String,
        /// The transport error.
        reason: String,
    },
    /// The target redirected more than the allowed number of times, or
    /// redirected while `follow_redirects` is off.
    #[error("too many redirects or redirect not followed: {0}")]
    Redirect(String),
    /// The (decompressed) body reached `body_size_limit`.
    #[error("body size limit exceeded: response body reached the limit of {limit_bytes} bytes")]
    BodyTooLarge {
        /// The configured limit.
        limit_bytes: usize,
    },
    /// A gzip body could not be decompressed.
    #[error("decompressing gzip body: {0}")]
    Gzip(String),
    /// The body is not a valid exposition.
    #[error("parsing scrape body: {0}")]
    Parse(String),
    /// More samples than `sample_limit` survived metric relabeling.
    #[error("sample limit exceeded: {samples} samples, limit {limit}")]
    SampleLimit {
        /// Samples after metric relabeling (counted up to the failure).
        samples: usize,
        /// The configured limit.
        limit: usize,
    },
    /// A series has more labels than `label_limit`.
    #[error("label_limit exceeded (metric: {metric}, number of labels: {count}, limit: {limit})")]
    LabelLimit {
        /// The series' metric name (first 50 characters, as Prometheus).
        metric: String,
        /// Its number of labels, `__name__` included.
        count: usize,
        /// The configured limit.
        limit: usize,
    },
    /// A label name is longer than `label_name_length_limit`.
    #[error(
        "label_name_length_limit exceeded (metric: {metric}, label name: {name}, length: {length}, limit: {limit})"
    )]
    LabelNameLength {
        /// The series' metric name (first 50 characters).
        metric: String,
        /// The long label name (first 50 characters).
        name: String,
        /// Its length in bytes.
        length: usize,
        /// The configured limit.
        limit: usize,
    },
    /// A label value is longer than `label_value_length_limit`.
    #[error(
        "label_value_length_limit exceeded (metric: {metric}, label name: {name}, value: {value:?}, length: {length}, limit: {limit})"
    )]
    LabelValueLength {
        /// The series' metric name (first 50 characters).
        metric: String,
        /// The label whose value is too long (first 50 characters).
        name: String,
        /// The long value (first 50 characters).
        value: String,
        /// Its length in bytes.
        length: usize,
        /// The configured limit.
        limit: usize,
    },
    /// A metric or label name is not valid under the name validation scheme.
    #[error("invalid metric name or label names: {0}")]
    InvalidLabels(String),
    /// A label name appears twice in one series.
    #[error("label name {name:?} is not unique: invalid sample {series}")]
    DuplicateLabelName {
        /// The repeated name.
        name: String,
        /// The series as written in the body.
        series: String,
    },
    /// The same series appears twice in one exposition.
    #[error("duplicate series {0} in one scrape")]
    DuplicateSeries(String),
    /// The storage refused a sample for a reason that is not counted
    /// per sample (anything but out of order, duplicate timestamp and out of
    /// bounds).
    #[error("appending {series}: {reason}")]
    Append {
        /// The series.
        series: String,
        /// The storage's reason.
        reason: String,
    },
    /// The pool has more targets than `target_limit`; no target is scraped.
    #[error("target_limit exceeded (number of targets: {targets}, limit: {limit})")]
    TargetLimit {
        /// Targets after relabeling.
        targets: usize,
        /// The configured limit.
        limit: usize,
    },
    /// Committing the scrape's batch failed.
    #[error("committing scrape: {0}")]
    Commit(String),
}

impl ScrapeError {
    /// Wraps a storage append error for `series`.
    pub(crate) fn append(series: impl std::fmt::Display, err: &AppendError) -> Self {
        ScrapeError::Append { series: series.to_string(), reason: err.to_string() }
    }

    /// Wraps a commit error.
    pub(crate) fn commit(err: &CommitError) -> Self {
        ScrapeError::Commit(err.to_string())
    }
}

/// Why a scrape client (HTTP and TLS settings) could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// A file named in the configuration could not be read.
    #[error("reading {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A certificate or key is not valid PEM.
    #[error("invalid PEM in {what}: {reason}")]
    Pem {
        /// Which item (`ca_file`, `cert_file`, ...).
        what: String,
        /// What is wrong.
        reason: String,
    },
    /// The TLS settings are inconsistent or unsupported.
    #[error("invalid tls_config: {0}")]
    Tls(String),
    /// A header value built from the configuration is not valid HTTP.
    #[error("invalid {what}: {reason}")]
    Header {
        /// Which setting.
        what: &'static str,
        /// What is wrong.
        reason: String,
    },
}

/// Why the scrape manager could not apply a configuration or target groups.
#[derive(Debug, thiserror::Error)]
pub enum ManagerError {
    /// A scrape pool's HTTP client could not be built.
    #[error("scrape pool {job:?}: {source}")]
    Client {
        /// The job name.
        job: String,
        /// The cause.
        #[source]
        source: ClientError,
    },
    /// No tokio runtime is available to run scrape loops on.
    #[error("no tokio runtime: the scrape manager must be used inside one or given a handle")]
    NoRuntime,
}
