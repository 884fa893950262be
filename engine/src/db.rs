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
            report.skipped_samples += head.replay_samples(&samples);
            samples_seen += samples.len() as u64;
            if last_progress.elapsed().as_secs() >= 5 {
                last_progress = Instant::now();
                tracing::info!(
                    samples = samples_seen,
                    series = head.series.len(),
                    "replaying the write-ahead log"
                );
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::MemStorage;
    use crate::model::{MatchType, Matcher, STALE_NAN_BITS, Sample};
    use proptest::prelude::*;

    /// Options that cut chunks and chunk files often, so small tests cover
    /// mapped chunks, segment rollover and chunk-range boundaries.
    fn small_opts() -> DbOptions {
        DbOptions {
            wal: Some(WalOptions { segment_size_bytes: 4096, ..WalOptions::default() }),
            head: HeadOptions {
                samples_per_chunk: 4,
                chunk_range_ms: 100,
                chunk_segment_bytes: 1024,
            },
        }
    }

    type Dump = Vec<(Labels, Vec<Sample>)>;

    fn select(q: &dyn Queryable, min: i64, max: i64, matchers: &[Matcher]) -> Dump {
        let querier = q.querier(min, max).unwrap();
        let set = querier.select(matchers, None).unwrap();
        set.iter()
            .map(|s| {
                let mut it = s.iter();
                (s.labels().clone(), std::iter::from_fn(|| it.next()).collect())
            })
            .collect()
    }

    fn series_labels() -> Vec<Labels> {
        let mut v = Vec::new();
        for name in ["up", "http_requests_total"] {
            for job in ["api", "node"] {
                v.push(Labels::new([("__name__", name), ("job", job)]));
                v.push(Labels::new([("__name__", name), ("job", job), ("env", "prod")]));
            }
        }
        v
    }

    #[derive(Debug, Clone)]
    enum Op {
        Batch { appends: Vec<(usize, bool, i64, u8)>, commit: bool },
        Query { min: i64, max: i64, matcher: usize },
        Restart,
    }

    fn value(code: u8) -> f64 {
        match code {
            0 => f64::from_bits(STALE_NAN_BITS),
            1 => f64::NAN,
            2 => -0.0,
            3 => f64::INFINITY,
            c => f64::from(c % 7),
        }
    }

    fn matchers() -> Vec<Vec<Matcher>> {
        let m = |k, n: &str, v: &str| Matcher::new(k, n, v).unwrap();
        vec![
            vec![m(MatchType::Equal, "job", "api")],
            vec![m(MatchType::NotEqual, "env", "")],
            vec![m(MatchType::Equal, "env", ""), m(MatchType::Regex, "__name__", "up|http.*")],
            vec![m(MatchType::Regex, "job", ".*")],
            vec![m(MatchType::NotRegex, "job", "n.*"), m(MatchType::NotEqual, "__name__", "up")],
            vec![m(MatchType::Regex, "env", ".+")],
            vec![m(MatchType::Equal, "nope", "x")],
        ]
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            6 => (proptest::collection::vec((0usize..8, any::<bool>(), -20i64..400, any::<u8>()), 0..12), prop::bool::weighted(0.85))
                .prop_map(|(appends, commit)| Op::Batch { appends, commit }),
            2 => (-50i64..450, 0i64..500, 0usize..7).prop_map(|(min, len, matcher)| Op::Query { min, max: min + len, matcher }),
            1 => Just(Op::Restart),
        ]
    }

    fn same_outcome(
        a: &Result<SeriesRef, AppendError>,
        b: &Result<SeriesRef, AppendError>,
    ) -> bool {
        std::mem::discriminant(&a.as_ref().map(|_| ()))
            == std::mem::discriminant(&b.as_ref().map(|_| ()))
            && match (a, b) {
                (Err(x), Err(y)) => std::mem::discriminant(x) == std::mem::discriminant(y),
                _ => true,
            }
    }

    fn compare(
        db: &Db,
        model: &MemStorage,
        min: i64,
        max: i64,
        matchers: &[Matcher],
    ) -> Result<(), TestCaseError> {
        prop_assert_eq!(select(db, min, max, matchers), select(model, min, max, matchers));
        let (dq, mq) = (db.querier(min, max).unwrap(), model.querier(min, max).unwrap());
        prop_assert_eq!(dq.label_names(matchers).unwrap(), mq.label_names(matchers).unwrap());
        prop_assert_eq!(dq.label_names(&[]).unwrap(), mq.label_names(&[]).unwrap());
        for name in ["job", "env", "__name__"] {
            prop_assert_eq!(
                dq.label_values(name, matchers).unwrap(),
                mq.label_values(name, matchers).unwrap()
            );
            prop_assert_eq!(
                dq.label_values(name, &[]).unwrap(),
                mq.label_values(name, &[]).unwrap()
            );
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        #[test]
        fn db_behaves_like_the_reference_model(ops in proptest::collection::vec(op(), 1..40)) {
            let dir = tempfile::tempdir().unwrap();
            let mut db = Db::open(dir.path(), small_opts()).unwrap();
            let model = MemStorage::new();
            let labels = series_labels();
            let all_matchers = matchers();
            let mut refs: Vec<Option<SeriesRef>> = vec![None; labels.len()];
            for op in ops {
                match op {
                    Op::Batch { appends, commit } => {
                        let mut a = db.appender();
                        let mut b = model.appender();
                        for (i, by_ref, t, v) in appends {
                            let cached = if by_ref { refs[i] } else { None };
                            let got = a.append(cached, &labels[i], t, value(v));
                            let want = b.append(None, &labels[i], t, value(v));
                            prop_assert!(same_outcome(&got, &want), "{:?} vs {:?} at {} {}", got, want, labels[i], t);
                            if let Ok(r) = got {
                                refs[i] = Some(r);
                            }
                        }
                        if commit {
                            a.commit().unwrap();
                            b.commit().unwrap();
                        } else {
                            a.rollback();
                            b.rollback();
                        }
                    }
                    Op::Query { min, max, matcher } => compare(&db, &model, min, max, &all_matchers[matcher])?,
                    Op::Restart => {
                        db.close().unwrap();
                        drop(db);
                        db = Db::open(dir.path(), small_opts()).unwrap();
                        // Refs of committed series survive a restart; others may not.
                    }
                }
            }
            compare(&db, &model, i64::MIN, i64::MAX, &all_matchers[3])?;
            db.close().unwrap();
            drop(db);
            let db = Db::open(dir.path(), small_opts()).unwrap();
            compare(&db, &model, i64::MIN, i64::MAX, &all_matchers[3])?;
        }
    }

    #[test]
    fn restart_replays_identical_query_results() {
        let dir = tempfile::tempdir().unwrap();
        let opts = DbOptions {
            head: HeadOptions { chunk_segment_bytes: 64 << 10, ..HeadOptions::default() },
            ..DbOptions::default()
        };
        let db = Db::open(dir.path(), opts.clone()).unwrap();
        let series: Vec<Labels> = (0..200)
            .map(|i| Labels::new([("__name__", "m"), ("i", &i.to_string()), ("job", "j")]))
            .collect();
        let mut refs = vec![None; series.len()];
        for step in 0..600i64 {
            let mut app = db.appender();
            for (i, l) in series.iter().enumerate() {
                let v = if step % 97 == 0 {
                    f64::from_bits(STALE_NAN_BITS)
                } else {
                    (step * i as i64) as f64 * 0.25
                };
                refs[i] = Some(
                    app.append(refs[i], l, 1_700_000_000_000 + step * 15_000 + (step * 7 % 5), v)
                        .unwrap(),
                );
            }
            app.commit().unwrap();
        }
        let stats = db.head_stats();
        assert_eq!(stats.num_series, 200);
        assert!(stats.chunks_created >= 200 * 4, "{stats:?}");
        let all = [Matcher::equal("job", "j")];
        let before = select(&db, i64::MIN, i64::MAX, &all);
        let mid = select(&db, 1_700_000_000_000 + 1_000_000, 1_700_000_000_000 + 5_000_000, &all);
        assert_eq!(before.len(), 200);
        assert_eq!(before[0].1.len(), 600);
        db.close().unwrap();
        drop(db);

        let db = Db::open(dir.path(), opts).unwrap();
        assert_eq!(db.replay_report().wal.samples, 200 * 600);
        assert_eq!(select(&db, i64::MIN, i64::MAX, &all), before);
        assert_eq!(
            select(&db, 1_700_000_000_000 + 1_000_000, 1_700_000_000_000 + 5_000_000, &all),
            mid
        );
        // Refs survive the restart and keep working on the fast path.
        let mut app = db.appender();
        let t = 1_700_000_000_000 + 600 * 15_000;
        assert_eq!(app.append(refs[3], &Labels::empty(), t, 1.0).unwrap(), refs[3].unwrap());
        app.commit().unwrap();
        assert_eq!(db.head_stats().num_series, 200);
    }

    #[test]
    fn append_errors_are_typed_and_rollback_discards() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path(), DbOptions { wal: None, ..DbOptions::default() }).unwrap();
        let l = Labels::new([("__name__", "x")]);
        let mut app = db.appender();
        assert!(matches!(
            app.append(None, &Labels::empty(), 1, 1.0),
            Err(AppendError::EmptyLabels)
        ));
        let r = app.append(None, &l, 10, 1.0).unwrap();
        assert!(matches!(app.append(Some(r), &l, 5, 1.0), Err(AppendError::OutOfOrder)));
        assert!(matches!(app.append(Some(r), &l, 10, 2.0), Err(AppendError::DuplicateTimestamp)));
        assert_eq!(app.append(Some(r), &l, 10, 1.0).unwrap(), r);
        app.rollback();
        assert!(select(&db, 0, 100, &[Matcher::equal("__name__", "x")]).is_empty());
        let mut app = db.appender();
        // The rolled-back batch left nothing to be out of order against.
        app.append(Some(r), &l, 5, 1.0).unwrap();
        app.commit().unwrap();
        db.close().unwrap();
        let mut app = db.appender();
        assert!(matches!(app.append(Some(r), &l, 50, 1.0), Err(AppendError::NotWritable(_))));
    }
}
