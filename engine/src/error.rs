//! Typed errors of the engine, one enum per operation.

use std::path::PathBuf;

/// Why one sample was not appended. The scrape layer counts each reason
/// separately, as Prometheus does.
#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    /// The sample is older than the newest sample of its series.
    #[error("out of order sample")]
    OutOfOrder,
    /// Same timestamp as the newest sample of its series, different value.
    #[error("duplicate sample for timestamp")]
    DuplicateTimestamp,
    /// The sample is older than the oldest time the head still accepts.
    #[error("out of bounds")]
    OutOfBounds,
    /// The label set is empty.
    #[error("empty label set")]
    EmptyLabels,
    /// A label name appears twice.
    #[error("label name {0:?} is not unique")]
    DuplicateLabelName(String),
    /// The storage refuses writes (closed, or poisoned by a failed sync).
    #[error("storage is not writable: {0}")]
    NotWritable(String),
}

/// Why a batch could not be committed. Nothing of the batch is visible.
#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    /// Writing or syncing the WAL failed; the engine is now poisoned.
    #[error("write-ahead log write failed: {0}")]
    Wal(#[source] std::io::Error),
    /// An earlier failure poisoned the engine.
    #[error("storage is poisoned and refuses writes: {0}")]
    Poisoned(String),
    /// The storage was closed.
    #[error("storage is closed")]
    Closed,
}

/// Why a query could not be answered.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// Reading stored data failed.
    #[error("reading {path}: {source}")]
    Io {
        /// The file being read.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Stored data failed validation.
    #[error("corrupt data in {path}: {reason}")]
    Corruption {
        /// The file holding the bad data.
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },
    /// The query asked for something the storage cannot answer.
    #[error("{0}")]
    Invalid(String),
}
