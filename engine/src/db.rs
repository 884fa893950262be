//! [`Db`]: the database a server opens, the head wired to its WAL.
//!
//! `Db::open` empties `chunks_head/` (the WAL rebuilds the head and re-cuts
//! its chunks), replays `wal/` into the head, then opens the WAL for
//! appending. A commit logs to the WAL first and applies to the head only
//! after the WAL accepted it; a failed WAL write poisons the `Db`, which
//! then refuses every later commit with the reason.
//!
//! ```
//! use promethium_engine::db::{Db, DbOptions};
//! use promethium_engine::model::{Labels, Matcher};
//! use promethium_engine::{Appendable, Queryable};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let db = Db::open(dir.path(), DbOptions::default()).unwrap();
//! let up = Labels::new([("__name__", "up"), ("job", "node")]);
//! let mut batch = db.appender();
//! let r = batch.append(None, &up, 1_000, 1.0).unwrap();
//! batch.append(Some(r), &up, 16_000, 1.0).unwrap();
//! batch.commit().unwrap();
//! db.close().unwrap();
//!
//! let db = Db::open(dir.path(), DbOptions::default()).unwrap();
//! let q = db.querier(0, 20_000).unwrap();
//! assert_eq!(q.select(&[Matcher::equal("job", "node")], None).unwrap().len(), 1);
//! ```

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use parking_lot::Mutex;

use crate::append::{AppendOptions, Appendable, Appender};
use crate::error::{AppendError, CommitError, QueryError};
use crate::head::{CHUNKS_HEAD_DIR, Head, HeadAppender, HeadOptions, HeadQuerier, HeadStats};
use crate::model::{Labels, SeriesRef};
use crate::query::{Querier, Queryable};
use crate::wal::{Record, ReplayStats, Wal, WalError, WalOptions};

/// Directory under the data directory that holds the WAL.
pub const WAL_DIR: &str = "wal";

/// Database settings.
#[derive(Debug, Clone)]
pub struct DbOptions {
    /// WAL settings; `None` runs without a WAL (nothing survives a restart).
    pub wal: Option<WalOptions>,
    /// Head settings.
    pub head: HeadOptions,
}

impl Default for DbOptions {
    fn default() -> Self {
        DbOptions { wal: Some(WalOptions::default()), head: HeadOptions::default() }
    }
}

/// Why a database could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// A file or directory could not be used.
    #[error("opening {path}: {source}")]
    Io {
        /// What was being opened.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The WAL could not be replayed or opened.
    #[error("opening the write-ahead log in {path}: {source}")]
    Wal {
        /// The WAL directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: WalError,
    },
}

/// What start-up replay did, for the log and `/metrics`.
#[derive(Debug, Clone, Default)]
pub struct ReplayReport {
    /// The WAL's own figures.
    pub wal: ReplayStats,
    /// Samples skipped: unknown series or out of order (a torn commit).
    pub skipped_samples: u64,
    /// Tombstone records seen (deletion is not implemented yet; ignored).
    pub ignored_tombstones: u64,
}

/// The database: head plus WAL.
pub struct Db {
    dir: PathBuf,
    head: Head,
    wal: Option<Wal>,
    closed: AtomicBool,
    poisoned: AtomicBool,
    poison_reason: Mutex<String>,
    replay: ReplayReport,
}

impl Db {
    /// Opens (creating if needed) the database in `dir`, replaying its WAL.
    pub fn open(dir: &Path, opts: DbOptions) -> Result<Db, OpenError> {
        let io = |path: PathBuf| move |source| OpenError::Io { path, source };
        std::fs::create_dir_all(dir).map_err(io(dir.to_owned()))?;
        let chunks_dir = dir.join(CHUNKS_HEAD_DIR);
        let head = Head::open(&chunks_dir, opts.head.clone()).map_err(io(chunks_dir))?;
        let mut replay = ReplayReport::default();
        let wal = match opts.wal {
            None => None,
            Some(wal_opts) => {
                let wal_dir = dir.join(WAL_DIR);
                let wal_err = |source| OpenError::Wal { path: wal_dir.clone(), source };
                std::fs::create_dir_all(&wal_dir).map_err(io(wal_dir.clone()))?;
                replay = replay_into(&head, &wal_dir).map_err(wal_err)?;
                Some(Wal::open(&wal_dir, wal_opts).map_err(wal_err)?)
            }
        };
        Ok(Db {
            dir: dir.to_owned(),
            head,
            wal,
            closed: AtomicBool::new(false),
            poisoned: AtomicBool::new(false),
            poison_reason: Mutex::new(String::new()),
            replay,
        })
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The head, for statistics and (later) block cutting.
    pub fn head(&self) -> &Head {
        &self.head
    }

    /// Head figures for `/metrics`.
    pub fn head_stats(&self) -> HeadStats {
        self.head.stats()
    }

    /// What start-up replay did.
    pub fn replay_report(&self) -> &ReplayReport {
        &self.replay
    }

    /// Flushes and closes the WAL and head chunk files. Later appends and
    /// commits fail; queries still work.
    pub fn close(&self) -> Result<(), WalError> {
        if self.closed.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        let head = self.head.close();
        if let Some(wal) = &self.wal {
            wal.close()?;
        }
        head.map_err(WalError::Io)
    }

    fn check_writable(&self) -> Result<(), CommitError> {
        if self.closed.load(Ordering::Acquire) {
            return Err(CommitError::Closed);
        }
        if self.poisoned.load(Ordering::Acquire) {
            return Err(CommitError::Poisoned(self.poison_reason.lock().clone()));
        }
        Ok(())
    }

    fn poison(&self, reason: String) {
        tracing::error!(%reason, "write-ahead log failed; refusing further writes");
        *self.poison_reason.lock() = reason;
        self.poisoned.store(true, Ordering::Release);
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        if let Err(e) = self.close() {
            tracing::warn!(error = %e, "closing the database on drop failed");
        }
    }
}

/// Replays every WAL record into the head.
fn replay_into(head: &Head, wal_dir: &Path) -> Result<ReplayReport, WalError> {
    let started = Instant::now();
    let mut report = ReplayReport::default();
    let mut last_progress = Instant::now();
    let mut samples_seen = 0u64;
    let stats = Wal::replay(wal_dir, &mut |record| match record {
        Record::Series(series) => {
            for s in series {
                head.replay_series(s.series_ref, &s.labels);
            }
        }
        Record::Samples(samples) => {
            let (mut min, mut max) = (i64::MAX, i64::MIN);
            for s in &samples {
                if head.replay_sample(s.series_ref, s.t_ms, s.value) {
                    min = min.min(s.t_ms);
                    max = max.max(s.t_ms);
                } else {
                    report.skipped_samples += 1;
                }
            }
            head.note_time_range(min, max);
            samples_seen += samples.len() as u64;
            if last_progress.elapsed().as_secs() >= 5 {
                last_progress = Instant::now();
                tracing::info!(samples = samples_seen, series = head.series.len(), "replaying the write-ahead log");
            }
        }
        Record::Tombstones(t) => report.ignored_tombstones += t.len() as u64,
    })?;
    let secs = started.elapsed().as_secs_f64();
    tracing::info!(
        series = head.series.len(),
        samples = stats.samples,
        segments = stats.segments,
        truncated_bytes = stats.truncated_bytes,
        skipped_samples = report.skipped_samples,
        seconds = secs,
        samples_per_sec = stats.samples as f64 / secs.max(1e-9),
        "write-ahead log replayed"
    );
    report.wal = stats;
    Ok(report)
}

/// A batch on a [`Db`].
struct DbAppender<'a> {
    db: &'a Db,
    inner: HeadAppender<'a>,
}

impl Appender for DbAppender<'_> {
    #[inline]
    fn append_with(
        &mut self,
        series: Option<SeriesRef>,
        labels: &Labels,
        t_ms: i64,
        value: f64,
        _options: &AppendOptions<'_>,
    ) -> Result<SeriesRef, AppendError> {
        if self.db.closed.load(Ordering::Relaxed) {
            return Err(AppendError::NotWritable("storage is closed".into()));
        }
        self.inner.append(series, labels, t_ms, value)
    }

    fn commit(self: Box<Self>) -> Result<(), CommitError> {
        let db = self.db;
        db.check_writable()?;
        let DbAppender { inner, .. } = *self;
        if inner.is_empty() {
            return Ok(());
        }
        inner.commit_with(|series, samples| match &db.wal {
            None => Ok(()),
            Some(wal) => wal.log(series, samples).map_err(|e| {
                let err = match e {
                    WalError::Io(io) => io,
                    other => std::io::Error::other(other.to_string()),
                };
                db.poison(err.to_string());
                CommitError::Wal(err)
            }),
        })
    }

    fn rollback(self: Box<Self>) {}
}

impl Appendable for Db {
    fn appender(&self) -> Box<dyn Appender + '_> {
        Box::new(DbAppender { db: self, inner: self.head.appender() })
    }
}

impl Queryable for Db {
    fn querier(&self, min_t_ms: i64, max_t_ms: i64) -> Result<Box<dyn Querier + '_>, QueryError> {
        Ok(Box::new(HeadQuerier::new(&self.head, min_t_ms, max_t_ms)))
    }
}
