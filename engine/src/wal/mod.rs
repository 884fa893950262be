//! The write-ahead log.
//!
//! CONTRACT (the head/`Db` code uses only this API; the WAL implementation
//! behind it is being written in this module and its submodules):
//!
//! - `Wal::replay(dir, &mut sink)` reads every segment in order, calling the
//!   sink per record; a torn/corrupt tail is truncated with a warning, never
//!   an error. Call it before `Wal::open`.
//! - `Wal::open(dir, WalOptions)` opens for appending in a new segment.
//! - `Wal::log(series, samples)` writes one commit (new series first, then
//!   samples) as a unit and applies the sync policy; thread-safe.
//! - The `Db` (engine/src/db.rs) owns the head and an `Arc<Wal>` in
//!   `<data dir>/wal`: `Db::open` replays into the head (Series records
//!   recreate series with their refs, Samples records append without
//!   re-logging), then opens the WAL. A commit calls `wal.log` first and
//!   makes samples visible only after it returns Ok; a failed WAL write
//!   poisons the Db (later commits fail with `CommitError::Poisoned`).

use std::path::Path;
use std::time::Duration;

use crate::model::{Labels, SeriesRef};

/// When `Wal::log` makes data durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SyncPolicy {
    /// Prometheus' behaviour: fsync only when a segment fills (and on close).
    #[default]
    OnSegmentFull,
    /// Every `log` call returns only after its bytes are fsynced; concurrent
    /// callers share one fsync (group commit).
    EveryCommit,
}

/// Which I/O path writes segments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WalIo {
    /// io_uring when it works on this machine, else plain files (logged).
    #[default]
    Auto,
    /// io_uring through tokio-uring.
    Uring,
    /// Plain `std::fs` writes.
    File,
}

/// WAL settings.
#[derive(Debug, Clone)]
pub struct WalOptions {
    /// Size at which a segment is closed and a new one started (128 MiB).
    pub segment_size_bytes: u64,
    /// Durability policy.
    pub sync: SyncPolicy,
    /// Compress records with zstd.
    pub compress: bool,
    /// I/O path.
    pub io: WalIo,
}

impl Default for WalOptions {
    fn default() -> Self {
        WalOptions { segment_size_bytes: 128 << 20, sync: SyncPolicy::default(), compress: true, io: WalIo::Auto }
    }
}

/// A series created by a commit.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesRecord {
    /// Its reference.
    pub series_ref: SeriesRef,
    /// Its labels.
    pub labels: Labels,
}

/// A sample addressed by series reference.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RefSample {
    /// The series.
    pub series_ref: SeriesRef,
    /// Milliseconds.
    pub t_ms: i64,
    /// The value, bit-exact.
    pub value: f64,
}

/// A deleted time range of a series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tombstone {
    /// The series.
    pub series_ref: SeriesRef,
    /// First deleted millisecond.
    pub min_t_ms: i64,
    /// Last deleted millisecond.
    pub max_t_ms: i64,
}

/// One WAL record as replayed.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    /// New series.
    Series(Vec<SeriesRecord>),
    /// Samples of known series.
    Samples(Vec<RefSample>),
    /// Deletions.
    Tombstones(Vec<Tombstone>),
}

/// What a replay did.
#[derive(Debug, Clone, Default)]
pub struct ReplayStats {
    /// Records read.
    pub records: u64,
    /// Series records.
    pub series: u64,
    /// Samples read.
    pub samples: u64,
    /// Segments read.
    pub segments: u32,
    /// Bytes cut off a torn or corrupt tail.
    pub truncated_bytes: u64,
    /// Wall time.
    pub duration: Duration,
}

/// WAL failures.
#[derive(Debug, thiserror::Error)]
pub enum WalError {
    /// An I/O error.
    #[error("wal i/o: {0}")]
    Io(#[from] std::io::Error),
    /// The WAL was closed.
    #[error("wal is closed")]
    Closed,
}

/// The write-ahead log (implementation in progress in this module).
#[derive(Debug)]
pub struct Wal {
    _private: (),
}

impl Wal {
    /// See the module contract.
    pub fn replay(_dir: &Path, _sink: &mut dyn FnMut(Record)) -> Result<ReplayStats, WalError> {
        Ok(ReplayStats::default())
    }
    /// See the module contract.
    pub fn open(_dir: &Path, _options: WalOptions) -> Result<Wal, WalError> {
        Ok(Wal { _private: () })
    }
    /// See the module contract.
    pub fn log(&self, _series: &[SeriesRecord], _samples: &[RefSample]) -> Result<(), WalError> {
        Ok(())
    }
    /// See the module contract.
    pub fn log_tombstones(&self, _tombstones: &[Tombstone]) -> Result<(), WalError> {
        Ok(())
    }
    /// Flushes and fsyncs everything written so far.
    pub fn sync(&self) -> Result<(), WalError> {
        Ok(())
    }
    /// Flushes, fsyncs and closes.
    pub fn close(&self) -> Result<(), WalError> {
        Ok(())
    }
    /// Segment numbers present.
    pub fn segments(&self) -> Result<Vec<u32>, WalError> {
        Ok(Vec::new())
    }
}
