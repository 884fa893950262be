//! The write-ahead log: what makes the head survive a crash.
//!
//! Every commit is appended here before its samples become visible in the
//! head; at start-up the log is replayed to rebuild the head. The log is a
//! directory of numbered segment files (128 MiB by default) holding
//! CRC32C-checksummed frames with zstd-compressed payloads; the byte layout
//! is in `docs/format/wal.md`.
//!
//! Code map: `record.rs` encodes payloads (series, samples by column,
//! tombstones), `segment.rs` frames them and names segments, `writer.rs`
//! appends (group commit, rollover, poisoning), `io.rs` and `uring.rs` are
//! the plain-file and io_uring backends, `reader.rs` replays (decoding
//! batches of frames on worker threads) and `repair.rs` cuts a damaged tail.
//!
//! Invariant: replay never fails because of what it finds in a segment. The
//! log ends at the first frame that does not check out; that segment is
//! truncated there and later segments are deleted (Prometheus' repair), and
//! the cut is logged and counted. Only an unreadable file is an error.
//!
//! CONTRACT with the head/`Db` (engine/src/db.rs):
//!
//! - `Wal::replay(dir, &mut sink)` reads every segment in order, calling the
//!   sink per record; a torn/corrupt tail is truncated with a warning, never
//!   an error. Call it before `Wal::open`.
//! - `Wal::open(dir, WalOptions)` opens for appending in a new segment.
//! - `Wal::log(series, samples)` writes one commit (new series first, then
//!   samples) as a unit and applies the sync policy; thread-safe.
//! - The `Db` owns the head and the `Wal` in `<data dir>/wal`: `Db::open`
//!   replays into the head (Series records recreate series with their refs,
//!   Samples records append without re-logging), then opens the WAL. A
//!   commit calls `wal.log` first and makes samples visible only after it
//!   returns Ok; a failed WAL write poisons the `Db` (later commits fail
//!   with `CommitError::Poisoned`), as a failed write poisons the `Wal`.
//!
//! ```
//! use promethium_engine::model::SeriesRef;
//! use promethium_engine::wal::{Record, RefSample, SyncPolicy, Wal, WalOptions};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let wal = Wal::open(dir.path(), WalOptions { sync: SyncPolicy::EveryCommit, ..WalOptions::default() }).unwrap();
//! wal.log(&[], &[RefSample { series_ref: SeriesRef(1), t_ms: 1_000, value: 0.5 }]).unwrap();
//! wal.close().unwrap();
//!
//! let mut samples = 0;
//! Wal::replay(dir.path(), &mut |r| if let Record::Samples(s) = r { samples += s.len() }).unwrap();
//! assert_eq!(samples, 1);
//! ```

pub mod checkpoint;
mod io;
mod reader;
mod record;
mod repair;
mod segment;
mod uring;
mod writer;

use std::path::{Path, PathBuf};
use std::time::Duration;

pub use io::uring_probe;
pub use record::DecodeError;
pub use segment::FrameError;

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
        WalOptions {
            segment_size_bytes: 128 << 20,
            sync: SyncPolicy::default(),
            compress: true,
            io: WalIo::Auto,
        }
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
    /// An I/O error without file context (kept for callers matching on it).
    #[error("wal i/o: {0}")]
    Io(#[from] std::io::Error),
    /// An I/O error on a given file.
    #[error("wal i/o {op} {}: {source}", path.display())]
    IoAt {
        /// The file or directory.
        path: PathBuf,
        /// What was being done.
        op: &'static str,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The WAL was closed.
    #[error("wal is closed")]
    Closed,
    /// An earlier write or fsync failed; the WAL refuses further writes
    /// because what reached the disk is unknown.
    #[error("wal is poisoned by an earlier failure: {0}")]
    Poisoned(String),
    /// `WalIo::Uring` was requested but io_uring does not work here.
    #[error("io_uring unavailable: {0}")]
    UringUnavailable(String),
    /// All 2^32 segment numbers are used.
    #[error("no segment numbers left in {}", .0.display())]
    SegmentsExhausted(PathBuf),
}

impl WalError {
    pub(crate) fn io_at(path: &Path, op: &'static str, source: std::io::Error) -> WalError {
        WalError::IoAt { path: path.to_path_buf(), op, source }
    }
}

/// The write-ahead log: an append-only sequence of segment files in one
/// directory. `Send + Sync`; share it as `Arc<Wal>`.
pub struct Wal {
    writer: writer::Writer,
}

impl std::fmt::Debug for Wal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wal").field("io", &self.writer.io_name()).finish_non_exhaustive()
    }
}

impl Wal {
    /// Reads every segment in `dir` in order, calling `sink` per record. A
    /// torn or corrupt tail is truncated (with later segments deleted),
    /// logged with `tracing::warn` and counted in
    /// [`ReplayStats::truncated_bytes`]; it is never an error. Errors are
    /// only I/O failures (an unreadable directory or file). A missing
    /// directory replays as empty. Call before [`Wal::open`].
    pub fn replay(dir: &Path, sink: &mut dyn FnMut(Record)) -> Result<ReplayStats, WalError> {
        reader::replay(dir, sink)
    }

    /// Opens `dir` (created if missing) for appending in a new segment
    /// numbered after the existing ones.
    pub fn open(dir: &Path, options: WalOptions) -> Result<Wal, WalError> {
        Ok(Wal { writer: writer::Writer::open(dir, options)? })
    }

    /// Opens with an injected I/O backend.
    #[cfg(test)]
    pub(crate) fn open_with_io(
        dir: &Path,
        options: WalOptions,
        io: std::sync::Arc<dyn io::SegmentIo>,
    ) -> Result<Wal, WalError> {
        Ok(Wal { writer: writer::Writer::open_with(dir, options, io)? })
    }

    /// Writes one commit: a series record (if `series` is non-empty), then a
    /// samples record, contiguously in one segment. Under
    /// [`SyncPolicy::EveryCommit`] returns once they are fsynced, sharing
    /// the fsync with concurrent callers. Safe to call from many threads.
    pub fn log(&self, series: &[SeriesRecord], samples: &[RefSample]) -> Result<(), WalError> {
        self.writer.log(series, samples)
    }

    /// Writes a tombstones record under the same sync policy.
    pub fn log_tombstones(&self, tombstones: &[Tombstone]) -> Result<(), WalError> {
        self.writer.log_tombstones(tombstones)
    }

    /// Writes and fsyncs everything logged so far.
    pub fn sync(&self) -> Result<(), WalError> {
        self.writer.sync()
    }

    /// Writes, fsyncs and closes; later calls to `log` fail with
    /// [`WalError::Closed`]. Closing twice is fine.
    pub fn close(&self) -> Result<(), WalError> {
        self.writer.close()
    }

    /// Segment numbers present in the directory, ascending.
    pub fn segments(&self) -> Result<Vec<u32>, WalError> {
        self.writer.segments()
    }

    /// The segment currently appended to (`None` once closed).
    pub fn current_segment(&self) -> Option<u32> {
        self.writer.current_segment()
    }

    /// The I/O backend in use: `"file"` or `"io_uring"`.
    pub fn io_backend(&self) -> &'static str {
        self.writer.io_name()
    }
}

#[cfg(test)]
mod tests;
