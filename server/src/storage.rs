//! The storage the server runs on, behind one trait.
//!
//! The server needs more of its storage than scraping and PromQL do: head
//! statistics for `/metrics` and `status/tsdb`, the WAL replay status, the
//! admin operations and a clean close. [`Storage`] bundles those with the
//! engine's `Appendable`/`Queryable`, so the rest of the server never names
//! a concrete engine type.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use promethium_engine::model::{Labels, Matcher};
use promethium_engine::{
    AppendError, AppendOptions, Appendable, Appender, CommitError, Db, DbOptions, MemStorage,
    Querier, QueryError, Queryable,
};

/// Head statistics, named after Prometheus' `tsdb.Stats`.
#[derive(Debug, Clone, Default)]
pub struct HeadStats {
    /// Series in the head.
    pub num_series: u64,
    /// Samples appended since start.
    pub samples_appended: u64,
    /// Lowest timestamp in the head, ms (`i64::MAX` when empty, as in Prometheus).
    pub min_time_ms: i64,
    /// Highest timestamp in the head, ms (`i64::MIN` when empty).
    pub max_time_ms: i64,
    /// Open chunks in the head.
    pub chunk_count: u64,
    /// WAL bytes written, when there is a WAL.
    pub wal_bytes_written: Option<u64>,
    /// WAL fsyncs, when there is a WAL.
    pub wal_fsyncs: Option<u64>,
    /// WAL segments present.
    pub wal_segments: Option<u64>,
    /// WAL records cut off as corrupt during replay.
    pub wal_corruptions: u64,
    /// Blocks compacted.
    pub compactions: u64,
    /// Compactions or head cuts that failed.
    pub compactions_failed: u64,
    /// Seconds spent compacting, summed.
    pub compaction_seconds: f64,
    /// Head cuts into blocks.
    pub head_truncations: u64,
    /// WAL checkpoints written.
    pub checkpoints: u64,
    /// Blocks open for queries.
    pub blocks_loaded: u64,
    /// Commits whose WAL write failed.
    pub wal_writes_failed: u64,
    /// Samples refused as older than their series' newest sample.
    pub out_of_order_samples: u64,
    /// Samples refused as older than the blocks' end.
    pub out_of_bound_samples: u64,
}

/// Per-label cardinality statistics for `status/tsdb`.
#[derive(Debug, Clone, Default)]
pub struct CardinalityStats {
    /// Series per metric name, largest first.
    pub series_count_by_metric_name: Vec<(String, u64)>,
    /// Distinct values per label name, largest first.
    pub label_value_count_by_label_name: Vec<(String, u64)>,
    /// Bytes of label values per label name, largest first.
    pub memory_in_bytes_by_label_name: Vec<(String, u64)>,
    /// Series per `name=value` pair, largest first.
    pub series_count_by_label_value_pair: Vec<(String, u64)>,
    /// Distinct label pairs.
    pub num_label_pairs: u64,
}

/// Why an admin operation failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// The storage does not implement the operation.
    #[error("{0} is not supported by this storage engine yet")]
    Unsupported(&'static str),
    /// The operation failed.
    #[error("{0}")]
    Failed(String),
}

/// What the server needs from its storage.
pub trait Storage: Appendable + Queryable {
    /// Head statistics.
    fn head_stats(&self) -> HeadStats;

    /// Cardinality statistics, computed on demand.
    fn cardinality(&self, limit: usize) -> Result<CardinalityStats, QueryError> {
        cardinality_from_querier(self, limit)
    }

    /// Flushes and closes (fsyncs the WAL). Later appends fail.
    fn close(&self) -> Result<(), String>;

    /// Writes a snapshot under `<data>/snapshots/` and returns its name.
    fn snapshot(&self, _with_head: bool) -> Result<String, AdminError> {
        Err(AdminError::Unsupported("snapshot"))
    }

    /// Deletes samples of matching series between the times.
    fn delete_series(
        &self,
        _matchers: &[Vec<Matcher>],
        _min_t_ms: i64,
        _max_t_ms: i64,
    ) -> Result<(), AdminError> {
        Err(AdminError::Unsupported("delete_series"))
    }

    /// Removes deleted data from disk.
    fn clean_tombstones(&self) -> Result<(), AdminError> {
        Err(AdminError::Unsupported("clean_tombstones"))
    }
}

/// Computes cardinality statistics through the querier (every series).
fn cardinality_from_querier<S: Queryable + ?Sized>(
    storage: &S,
    limit: usize,
) -> Result<CardinalityStats, QueryError> {
    let querier = storage.querier(i64::MIN, i64::MAX)?;
    let all = querier.select(
        &[Matcher::new(promethium_engine::model::MatchType::Regex, "__name__", ".+")
            .map_err(|e| QueryError::Invalid(e.to_string()))?],
        None,
    )?;
    let mut by_name: HashMap<String, u64> = HashMap::new();
    let mut by_pair: HashMap<String, u64> = HashMap::new();
    let mut values_by_label: HashMap<String, HashMap<String, ()>> = HashMap::new();
    for series in &all {
        let labels: &Labels = series.labels();
        if let Some(name) = labels.metric_name() {
            *by_name.entry(name.to_string()).or_default() += 1;
        }
        for l in labels.iter() {
            *by_pair.entry(format!("{}={}", l.name, l.value)).or_default() += 1;
            values_by_label.entry(l.name.to_string()).or_default().insert(l.value.to_string(), ());
        }
    }
    let top = |m: HashMap<String, u64>| {
        let mut v: Vec<(String, u64)> = m.into_iter().collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        v.truncate(limit);
        v
    };
    let num_label_pairs = by_pair.len() as u64;
    let value_counts = values_by_label.iter().map(|(k, v)| (k.clone(), v.len() as u64)).collect();
    let memory = values_by_label
        .iter()
        .map(|(k, v)| (k.clone(), v.keys().map(|s| s.len() as u64).sum()))
        .collect();
    Ok(CardinalityStats {
        series_count_by_metric_name: top(by_name),
        label_value_count_by_label_name: top(value_counts),
        memory_in_bytes_by_label_name: top(memory),
        series_count_by_label_value_pair: top(by_pair),
        num_label_pairs,
    })
}

/// The in-memory reference storage, used until the on-disk engine is
/// available (and by unit tests). It keeps nothing across restarts.
#[derive(Default)]
pub struct MemBackend {
    inner: MemStorage,
    samples_appended: AtomicU64,
}

impl MemBackend {
    /// An empty storage.
    pub fn new() -> Self {
        Self::default()
    }
}

struct CountingAppender<'a> {
    inner: Box<dyn Appender + 'a>,
    pending: u64,
    counter: &'a AtomicU64,
}

impl Appender for CountingAppender<'_> {
    fn append_with(
        &mut self,
        series: Option<promethium_engine::model::SeriesRef>,
        labels: &Labels,
        t_ms: i64,
        value: f64,
        options: &AppendOptions<'_>,
    ) -> Result<promethium_engine::model::SeriesRef, AppendError> {
        let r = self.inner.append_with(series, labels, t_ms, value, options)?;
        self.pending += 1;
        Ok(r)
    }

    fn commit(self: Box<Self>) -> Result<(), CommitError> {
        let CountingAppender { inner, pending, counter } = *self;
        inner.commit()?;
        counter.fetch_add(pending, Ordering::Relaxed);
        Ok(())
    }

    fn rollback(self: Box<Self>) {
        self.inner.rollback();
    }
}

impl Appendable for MemBackend {
    fn appender(&self) -> Box<dyn Appender + '_> {
        Box::new(CountingAppender {
            inner: self.inner.appender(),
            pending: 0,
            counter: &self.samples_appended,
        })
    }
}

impl Queryable for MemBackend {
    fn querier(&self, min_t_ms: i64, max_t_ms: i64) -> Result<Box<dyn Querier + '_>, QueryError> {
        self.inner.querier(min_t_ms, max_t_ms)
    }
}

impl Storage for MemBackend {
    fn head_stats(&self) -> HeadStats {
        let dump = self.inner.dump();
        let min =
            dump.iter().filter_map(|(_, s)| s.first().map(|s| s.t_ms)).min().unwrap_or(i64::MAX);
        let max =
            dump.iter().filter_map(|(_, s)| s.last().map(|s| s.t_ms)).max().unwrap_or(i64::MIN);
        HeadStats {
            num_series: dump.len() as u64,
            samples_appended: self.samples_appended.load(Ordering::Relaxed),
            min_time_ms: min,
            max_time_ms: max,
            chunk_count: dump.len() as u64,
            ..HeadStats::default()
        }
    }

    fn close(&self) -> Result<(), String> {
        Ok(())
    }
}

/// Opens the storage under `dir`, replaying its WAL, and reports replay
/// progress through `state` (`/api/v1/status/walreplay`).
pub fn open(
    dir: &Path,
    state: &crate::state::AppState,
) -> anyhow::Result<std::sync::Arc<dyn Storage>> {
    std::fs::create_dir_all(dir)
        .map_err(|e| anyhow::anyhow!("creating data directory {}: {e}", dir.display()))?;
    lock_data_dir(dir)?;
    let segments = wal_segments(&dir.join(promethium_engine::db::WAL_DIR));
    let (min, max) =
        (segments.first().copied().unwrap_or(0), segments.last().copied().unwrap_or(0));
    state.set_wal_replay(crate::state::WalReplay { min, max, current: min });
    let started = std::time::Instant::now();
    let retention = promethium_engine::retention::Retention {
        time_ms: state.retention_time().map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
        size_bytes: state.retention_size(),
    };
    let options = DbOptions { retention, ..DbOptions::default() };
    let db = Db::open(dir, options).map_err(|e| anyhow::anyhow!("opening storage: {e}"))?;
    state.set_wal_replay(crate::state::WalReplay { min, max, current: max });
    let report = db.replay_report();
    tracing::info!(
        path = %dir.display(),
        segments = report.wal.segments,
        series = report.wal.series,
        samples = report.wal.samples,
        truncated_bytes = report.wal.truncated_bytes,
        skipped_samples = report.skipped_samples,
        duration_ms = started.elapsed().as_millis() as u64,
        "storage opened, WAL replayed"
    );
    Ok(std::sync::Arc::new(db))
}

/// Takes an exclusive `flock` on `<dir>/lock` for the life of the process,
/// as Prometheus does, so two servers never write one WAL. The kernel
/// releases it when the process dies, even by SIGKILL.
fn lock_data_dir(dir: &Path) -> anyhow::Result<()> {
    use std::os::fd::AsRawFd;
    let path = dir.join("lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| anyhow::anyhow!("opening lock file {}: {e}", path.display()))?;
    // SAFETY: flock only reads the descriptor, which `file` keeps open.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc != 0 {
        let err = std::io::Error::last_os_error();
        anyhow::bail!(
            "locking data directory {}: {err} (is another server using it?)",
            dir.display()
        );
    }
    // The lock lives as long as the descriptor: keep it open until exit.
    std::mem::forget(file);
    Ok(())
}

/// Numbered WAL segment files in `wal_dir`, sorted.
fn wal_segments(wal_dir: &Path) -> Vec<u64> {
    let mut out: Vec<u64> = std::fs::read_dir(wal_dir)
        .map(|rd| rd.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok()).collect())
        .unwrap_or_default();
    out.sort_unstable();
    out
}

impl Storage for Db {
    fn head_stats(&self) -> HeadStats {
        let h = Db::head_stats(self);
        let report = self.replay_report();
        let compaction = self.compaction_stats();
        HeadStats {
            num_series: h.num_series,
            samples_appended: h.samples_appended,
            min_time_ms: h.min_t_ms.unwrap_or(i64::MAX),
            max_time_ms: h.max_t_ms.unwrap_or(i64::MIN),
            chunk_count: h.num_series + h.chunks_created,
            wal_bytes_written: None,
            wal_fsyncs: None,
            wal_segments: Some(
                wal_segments(&self.dir().join(promethium_engine::db::WAL_DIR)).len() as u64,
            ),
            wal_corruptions: u64::from(report.wal.truncated_bytes > 0),
            compactions: compaction.compactions_total,
            compactions_failed: compaction.compactions_failed,
            compaction_seconds: compaction.compaction_seconds,
            head_truncations: compaction.head_cuts_total,
            checkpoints: compaction.checkpoints_total,
            blocks_loaded: self.blocks_loaded() as u64,
            wal_writes_failed: self.wal_writes_failed(),
            out_of_order_samples: h.out_of_order_samples,
            out_of_bound_samples: h.out_of_bound_samples,
        }
    }

    fn close(&self) -> Result<(), String> {
        Db::close(self).map_err(|e| e.to_string())
    }

    fn snapshot(&self, with_head: bool) -> Result<String, AdminError> {
        Db::snapshot(self, !with_head).map_err(|e| AdminError::Failed(e.to_string()))
    }

    fn delete_series(
        &self,
        matchers: &[Vec<Matcher>],
        min_t_ms: i64,
        max_t_ms: i64,
    ) -> Result<(), AdminError> {
        for set in matchers {
            Db::delete_series(self, set, min_t_ms, max_t_ms)
                .map_err(|e| AdminError::Failed(e.to_string()))?;
        }
        Ok(())
    }

    fn clean_tombstones(&self) -> Result<(), AdminError> {
        Db::clean_tombstones(self).map_err(|e| AdminError::Failed(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mem_backend_counts_committed_samples_only() {
        let s = MemBackend::new();
        let l = Labels::new([("__name__", "a"), ("job", "x")]);
        let mut app = s.appender();
        app.append(None, &l, 1, 1.0).unwrap();
        app.append(None, &l, 2, 1.0).unwrap();
        app.commit().unwrap();
        let mut app = s.appender();
        app.append(None, &l, 3, 1.0).unwrap();
        app.rollback();
        let stats = s.head_stats();
        assert_eq!(stats.samples_appended, 2);
        assert_eq!(stats.num_series, 1);
        assert_eq!((stats.min_time_ms, stats.max_time_ms), (1, 2));
        let card = s.cardinality(10).unwrap();
        assert_eq!(card.series_count_by_metric_name, vec![("a".to_string(), 1)]);
        assert_eq!(card.num_label_pairs, 2);
    }

    #[test]
    fn admin_operations_say_they_are_unsupported() {
        let s = MemBackend::new();
        let err = s.clean_tombstones().unwrap_err();
        assert_eq!(err.to_string(), "clean_tombstones is not supported by this storage engine yet");
    }
}
