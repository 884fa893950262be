//! The write path: [`Appendable`] hands out [`Appender`] batches.
//!
//! An appender is a batch. Samples appended to it become visible to queries
//! and durable (per the WAL sync policy) only when the batch is committed;
//! a rollback, or dropping the appender, discards them. The scrape loop uses
//! one appender per scrape, so a failed scrape leaves nothing half-written.

use crate::error::{AppendError, CommitError};
use crate::model::{Exemplar, Labels, Metadata, SeriesRef};

/// Optional data carried with a sample. Kept in one struct so new kinds of
/// optional data do not change every call site.
#[derive(Debug, Clone, Copy, Default)]
pub struct AppendOptions<'a> {
    /// An exemplar to store beside the sample.
    pub exemplar: Option<&'a Exemplar>,
    /// Metadata for the series' metric family.
    pub metadata: Option<&'a Metadata>,
}

/// A batch of appends, consumed by [`Appender::commit`] or [`Appender::rollback`].
pub trait Appender: Send {
    /// Appends one sample. `series` is a reference returned by an earlier
    /// append to the same storage: when it is still valid the labels are not
    /// looked at (the fast path); otherwise the series is found or created by
    /// `labels`. Returns the series' reference for the caller to cache.
    ///
    /// A sample older than the series' newest sample fails with
    /// [`AppendError::OutOfOrder`]; the same timestamp with a different value
    /// fails with [`AppendError::DuplicateTimestamp`]; the same timestamp
    /// and the same value is accepted and ignored, as in Prometheus.
    fn append_with(
        &mut self,
        series: Option<SeriesRef>,
        labels: &Labels,
        t_ms: i64,
        value: f64,
        options: &AppendOptions<'_>,
    ) -> Result<SeriesRef, AppendError>;

    /// [`Appender::append_with`] without optional data.
    fn append(
        &mut self,
        series: Option<SeriesRef>,
        labels: &Labels,
        t_ms: i64,
        value: f64,
    ) -> Result<SeriesRef, AppendError> {
        self.append_with(series, labels, t_ms, value, &AppendOptions::default())
    }

    /// Says about `samples` more appends are coming, so a batch that
    /// buffers them can size its buffers once instead of growing them
    /// sample by sample (a remote-write request knows its size up front).
    /// A hint only; the default ignores it.
    fn reserve(&mut self, samples: usize) {
        let _ = samples;
    }

    /// Makes the batch visible and durable as one unit.
    fn commit(self: Box<Self>) -> Result<(), CommitError>;

    /// Discards the batch.
    fn rollback(self: Box<Self>);
}

/// Anything that accepts samples: the engine's database, or a test double.
pub trait Appendable: Send + Sync {
    /// Starts a new batch.
    fn appender(&self) -> Box<dyn Appender + '_>;
}
