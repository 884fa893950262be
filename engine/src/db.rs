//! [`Db`]: the database a server opens, the head wired to its WAL.
//!
//! `Db::open` removes unfinished block directories and opens the blocks,
//! empties `chunks_head/` (the WAL rebuilds the head and re-cuts its
//! chunks), replays the WAL checkpoint and `wal/` into the head (samples a
//! block already holds are skipped), then opens the WAL for appending.
//! When the head spans more than 1.5 block ranges its oldest range is
//! written as a block, then the head and the WAL are truncated. A commit logs to the WAL first and applies to the head only
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
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::{Mutex, RwLock};

use crate::append::{AppendOptions, Appendable, Appender};
use crate::block::querier::HeadTombstones;
use crate::block::{self, Block, BlockError, BlockWriter, MergeQuerier};
use crate::error::{AppendError, CommitError, QueryError};
use crate::head::{CHUNKS_HEAD_DIR, Head, HeadAppender, HeadOptions, HeadQuerier, HeadStats};
use crate::model::{Labels, Matcher, Sample, SeriesRef};
use crate::query::{Querier, Queryable, SampleIterator};
use crate::retention::Retention;
use crate::wal::{
    Record, RefSample, ReplayStats, Tombstone, Wal, WalError, WalOptions, checkpoint,
};

/// Directory under the data directory that holds the WAL.
pub const WAL_DIR: &str = "wal";
/// Directory under the data directory that holds snapshots.
pub const SNAPSHOTS_DIR: &str = "snapshots";

/// Database settings.
#[derive(Debug, Clone)]
pub struct DbOptions {
    /// WAL settings; `None` runs without a WAL (nothing survives a restart).
    pub wal: Option<WalOptions>,
    /// Head settings. `head.chunk_range_ms` is also the block range (2 h):
    /// head chunks never straddle it, so blocks are cut on chunk bounds.
    pub head: HeadOptions,
    /// Retention limits applied after each compaction.
    pub retention: Retention,
    /// How often the background thread cuts the head and compacts blocks;
    /// `None` runs no thread (call [`Db::compact`] yourself).
    pub compaction_interval: Option<Duration>,
}

impl Default for DbOptions {
    fn default() -> Self {
        DbOptions {
            wal: Some(WalOptions::default()),
            head: HeadOptions::default(),
            retention: Retention::default(),
            compaction_interval: Some(Duration::from_secs(60)),
        }
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
    /// A block could not be opened.
    #[error("opening blocks: {0}")]
    Block(#[from] BlockError),
}

/// Why a block operation (cut, compaction, retention, deletion, snapshot) failed.
#[derive(Debug, thiserror::Error)]
pub enum CompactError {
    /// Writing or reading a block failed.
    #[error(transparent)]
    Block(#[from] BlockError),
    /// Checkpointing or truncating the WAL failed.
    #[error("write-ahead log: {0}")]
    Wal(#[from] WalError),
    /// Reading head chunks failed.
    #[error("reading the head: {0}")]
    Head(String),
    /// The request was invalid.
    #[error("{0}")]
    Invalid(String),
}

impl From<crate::head::ChunkReadError> for CompactError {
    fn from(e: crate::head::ChunkReadError) -> Self {
        CompactError::Head(e.to_string())
    }
}

impl From<CompactError> for WalError {
    fn from(e: CompactError) -> Self {
        match e {
            CompactError::Wal(w) => w,
            other => WalError::Io(std::io::Error::other(other.to_string())),
        }
    }
}

/// What start-up replay did, for the log and `/metrics`.
#[derive(Debug, Clone, Default)]
pub struct ReplayReport {
    /// The WAL's own figures.
    pub wal: ReplayStats,
    /// Samples skipped: unknown series or out of order (a torn commit).
    pub skipped_samples: u64,
    /// Samples skipped because a block already holds their time.
    pub samples_in_blocks: u64,
    /// Tombstone records applied.
    pub tombstones: u64,
}

/// Compaction counters for `/metrics` (`prometheus_tsdb_compactions_*`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CompactionStats {
    /// Block merges run (`prometheus_tsdb_compactions_total`).
    pub compactions_total: u64,
    /// Merges or head cuts that failed (`prometheus_tsdb_compactions_failed_total`).
    pub compactions_failed: u64,
    /// Seconds spent merging, summed (`prometheus_tsdb_compaction_duration_seconds_sum`).
    pub compaction_seconds: f64,
    /// Head cuts into blocks (`prometheus_tsdb_head_truncations_total`).
    pub head_cuts_total: u64,
    /// WAL checkpoints written (`prometheus_tsdb_checkpoint_creations_total`).
    pub checkpoints_total: u64,
    /// Blocks deleted by retention (`prometheus_tsdb_time_retentions_total` + size).
    pub retention_deletions: u64,
}

/// One block's figures for `/api/v1/status/tsdb` and `/metrics`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockStats {
    /// Its ULID.
    pub ulid: String,
    /// First timestamp covered.
    pub min_t_ms: i64,
    /// End of range (exclusive).
    pub max_t_ms: i64,
    /// Samples stored.
    pub num_samples: u64,
    /// Series stored.
    pub num_series: u64,
    /// Compaction level.
    pub level: u32,
    /// Bytes on disk (every file of the directory).
    pub bytes: u64,
}

#[derive(Default)]
struct Counters {
    compactions: AtomicU64,
    failed: AtomicU64,
    nanos: AtomicU64,
    head_cuts: AtomicU64,
    checkpoints: AtomicU64,
    retention: AtomicU64,
    wal_write_failures: AtomicU64,
}

/// Everything the `Db` and its background thread share.
struct Inner {
    dir: PathBuf,
    opts: DbOptions,
    head: Head,
    wal: Option<Wal>,
    closed: AtomicBool,
    poisoned: AtomicBool,
    poison_reason: Mutex<String>,
    replay: ReplayReport,
    blocks: RwLock<Vec<Arc<Block>>>,
    head_tombstones: RwLock<Arc<HeadTombstones>>,
    /// Commits hold it shared from WAL write to head apply; a checkpoint
    /// takes it exclusively to see a segment boundary with nothing in flight.
    commit_gate: RwLock<()>,
    /// One cut, compaction, retention or deletion at a time.
    maintenance: Mutex<()>,
    counters: Counters,
}

/// The database: head plus WAL plus blocks.
pub struct Db {
    inner: Arc<Inner>,
    background: Mutex<Option<(std::thread::JoinHandle<()>, std::sync::mpsc::Sender<()>)>>,
}

impl Db {
    /// Opens (creating if needed) the database in `dir`: repairs and opens
    /// blocks, finishes an interrupted WAL truncation, replays the WAL
    /// checkpoint and segments (skipping samples blocks already hold), then
    /// opens the WAL for appending and starts the background compaction.
    pub fn open(dir: &Path, opts: DbOptions) -> Result<Db, OpenError> {
        let io = |path: PathBuf| move |source| OpenError::Io { path, source };
        std::fs::create_dir_all(dir).map_err(io(dir.to_owned()))?;
        let blocks = block::load_blocks(dir)?;
        let chunks_dir = dir.join(CHUNKS_HEAD_DIR);
        let head = Head::open(&chunks_dir, opts.head.clone()).map_err(io(chunks_dir))?;
        if let Some(end) = blocks.iter().map(|b| b.meta().max_t_ms).max() {
            head.set_min_valid_time(end);
        }
        let mut replay = ReplayReport::default();
        let mut tombstones = HeadTombstones::new();
        let wal = match &opts.wal {
            None => None,
            Some(wal_opts) => {
                let wal_dir = dir.join(WAL_DIR);
                let wal_err = |source| OpenError::Wal { path: wal_dir.clone(), source };
                std::fs::create_dir_all(&wal_dir).map_err(io(wal_dir.clone()))?;
                let cp = checkpoint::repair(&wal_dir).map_err(wal_err)?;
                if let Some(cp) = cp {
                    let r = replay_into(&head, &cp, &mut tombstones).map_err(wal_err)?;
                    add_report(&mut replay, &r);
                }
                let r = replay_into(&head, &wal_dir, &mut tombstones).map_err(wal_err)?;
                add_report(&mut replay, &r);
                // Series whose every replayed sample is already in a block
                // were recreated empty: drop them, as the cut did.
                if head.min_valid_time() > i64::MIN {
                    let chunks_dir = dir.join(CHUNKS_HEAD_DIR);
                    head.truncate_before(head.min_valid_time()).map_err(io(chunks_dir))?;
                }
                Some(Wal::open(&wal_dir, wal_opts.clone()).map_err(wal_err)?)
            }
        };
        let inner = Arc::new(Inner {
            dir: dir.to_owned(),
            opts: opts.clone(),
            head,
            wal,
            closed: AtomicBool::new(false),
            poisoned: AtomicBool::new(false),
            poison_reason: Mutex::new(String::new()),
            replay,
            blocks: RwLock::new(blocks.into_iter().map(Arc::new).collect()),
            head_tombstones: RwLock::new(Arc::new(tombstones)),
            commit_gate: RwLock::new(()),
            maintenance: Mutex::new(()),
            counters: Counters::default(),
        });
        let background = opts.compaction_interval.map(|every| {
            let (tx, rx) = std::sync::mpsc::channel::<()>();
            let inner = Arc::clone(&inner);
            let handle = std::thread::Builder::new()
                .name("tsdb-compaction".into())
                .spawn(move || {
                    while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                        rx.recv_timeout(every)
                    {
                        if let Err(e) = inner.compact() {
                            tracing::error!(error = %e, "background compaction failed");
                        }
                    }
                })
                .expect("spawning the compaction thread");
            (handle, tx)
        });
        Ok(Db { inner, background: Mutex::new(background) })
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// The head, for statistics and block cutting.
    pub fn head(&self) -> &Head {
        &self.inner.head
    }

    /// Head figures for `/metrics`.
    pub fn head_stats(&self) -> HeadStats {
        self.inner.head.stats()
    }

    /// What start-up replay did.
    pub fn replay_report(&self) -> &ReplayReport {
        &self.inner.replay
    }

    /// Compaction counters for `/metrics`.
    pub fn compaction_stats(&self) -> CompactionStats {
        let c = &self.inner.counters;
        CompactionStats {
            compactions_total: c.compactions.load(Ordering::Relaxed),
            compactions_failed: c.failed.load(Ordering::Relaxed),
            compaction_seconds: c.nanos.load(Ordering::Relaxed) as f64 / 1e9,
            head_cuts_total: c.head_cuts.load(Ordering::Relaxed),
            checkpoints_total: c.checkpoints.load(Ordering::Relaxed),
            retention_deletions: c.retention.load(Ordering::Relaxed),
        }
    }

    /// Commits whose WAL write failed (`prometheus_tsdb_wal_writes_failed_total`).
    /// The first one stops writes until a restart (see `check_writable`).
    pub fn wal_writes_failed(&self) -> u64 {
        self.inner.counters.wal_write_failures.load(Ordering::Relaxed)
    }

    /// Blocks open for queries (`prometheus_tsdb_blocks_loaded`).
    pub fn blocks_loaded(&self) -> usize {
        self.inner.blocks.read().len()
    }

    /// Figures of every block, oldest first.
    pub fn block_stats(&self) -> Vec<BlockStats> {
        self.inner
            .blocks
            .read()
            .iter()
            .map(|b| {
                let m = b.meta();
                BlockStats {
                    ulid: m.ulid.clone(),
                    min_t_ms: m.min_t_ms,
                    max_t_ms: m.max_t_ms,
                    num_samples: m.num_samples,
                    num_series: m.num_series,
                    level: m.level,
                    bytes: b.size_bytes(),
                }
            })
            .collect()
    }

    /// Cuts the head into blocks while it spans more than 1.5 block
    /// ranges, then merges blocks and applies retention. The background
    /// thread calls this; tests call it directly.
    pub fn compact(&self) -> Result<(), CompactError> {
        self.inner.compact()
    }

    /// Only the first step of [`Db::compact`]: cuts the head into blocks
    /// while it spans more than 1.5 block ranges.
    pub fn cut_head(&self) -> Result<(), CompactError> {
        let _m = self.inner.maintenance.lock();
        self.inner.cut_head_locked()
    }

    /// Only the second step of [`Db::compact`]: merges blocks (leveled,
    /// overlapping ones first) until the plan is empty.
    pub fn compact_blocks(&self) -> Result<(), CompactError> {
        let _m = self.inner.maintenance.lock();
        self.inner.compact_blocks_locked()
    }

    /// Only the last step of [`Db::compact`]: deletes blocks beyond the
    /// retention limits.
    pub fn apply_retention(&self) -> Result<(), CompactError> {
        let _m = self.inner.maintenance.lock();
        self.inner.apply_retention()
    }

    /// Writes the head's data before `max_t_ms` (rounded up to the block
    /// range) into blocks whatever the head's span, then truncates head and
    /// WAL. Used at shutdown-free maintenance and by tests.
    pub fn cut_head_before(&self, max_t_ms: i64) -> Result<(), CompactError> {
        let _m = self.inner.maintenance.lock();
        while let Some((min, _)) = self.inner.head.time_range() {
            if min >= max_t_ms {
                break;
            }
            self.inner.cut_oldest_range()?;
        }
        Ok(())
    }

    /// Deletes samples of series matching `matchers` in `[min_t_ms,
    /// max_t_ms]`: tombstones in blocks and in the head (logged to the
    /// WAL). Queries stop returning them at once.
    pub fn delete_series(
        &self,
        matchers: &[Matcher],
        min_t_ms: i64,
        max_t_ms: i64,
    ) -> Result<(), CompactError> {
        if matchers.is_empty() {
            return Err(CompactError::Invalid("deletion needs at least one matcher".into()));
        }
        let inner = &self.inner;
        let _m = inner.maintenance.lock();
        for b in inner.blocks.read().iter() {
            b.delete(matchers, min_t_ms, max_t_ms)?;
        }
        let refs = inner.head.index.read().postings_for_matchers(matchers);
        let mut records = Vec::new();
        let mut next = (**inner.head_tombstones.read()).clone();
        for r in refs {
            if let Some(s) = inner.head.series.get_by_ref(SeriesRef(r)) {
                records.push(Tombstone { series_ref: s.series_ref, min_t_ms, max_t_ms });
                next.entry(s.labels.clone()).or_default().push((min_t_ms, max_t_ms));
            }
        }
        if let Some(wal) = &inner.wal
            && !records.is_empty()
        {
            wal.log_tombstones(&records)?;
            wal.sync()?;
        }
        *inner.head_tombstones.write() = Arc::new(next);
        Ok(())
    }

    /// Rewrites every block that has tombstones without the deleted samples.
    pub fn clean_tombstones(&self) -> Result<(), CompactError> {
        let inner = &self.inner;
        let _m = inner.maintenance.lock();
        let dirty: Vec<Arc<Block>> =
            inner.blocks.read().iter().filter(|b| !b.tombstones().is_empty()).cloned().collect();
        for b in dirty {
            inner.replace_blocks(std::slice::from_ref(&b))?;
        }
        Ok(())
    }

    /// Hard-links every block, plus (unless `skip_head`) a block written
    /// from the current head, into `<data>/snapshots/<name>/`. Returns the name.
    pub fn snapshot(&self, skip_head: bool) -> Result<String, CompactError> {
        let inner = &self.inner;
        let _m = inner.maintenance.lock();
        let name = format!("{}-{}", chrono_like_now(), &block::meta::new_ulid()[10..]);
        let dest = inner.dir.join(SNAPSHOTS_DIR).join(&name);
        let io = |p: &Path| BlockError::io(p);
        std::fs::create_dir_all(&dest).map_err(io(&dest))?;
        for b in inner.blocks.read().iter() {
            link_tree(b.dir(), &dest.join(&b.meta().ulid))?;
        }
        if !skip_head && let Some((min, max)) = inner.head.time_range() {
            inner.write_head_block(&dest, min, max.saturating_add(1))?;
        }
        Ok(name)
    }

    /// Flushes and closes the WAL and head chunk files and stops the
    /// background thread. Later appends and commits fail; queries still work.
    pub fn close(&self) -> Result<(), WalError> {
        if let Some((handle, stop)) = self.background.lock().take() {
            drop(stop);
            if handle.join().is_err() {
                tracing::error!("the compaction thread panicked");
            }
        }
        let inner = &self.inner;
        if inner.closed.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        let head = inner.head.close();
        if let Some(wal) = &inner.wal {
            wal.close()?;
        }
        head.map_err(WalError::Io)
    }
}

/// `YYYYMMDDTHHMMSSZ` for snapshot names, computed without a date library.
fn chrono_like_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// Hard-links every file under `src` into `dst` (same layout).
fn link_tree(src: &Path, dst: &Path) -> Result<(), BlockError> {
    std::fs::create_dir_all(dst).map_err(BlockError::io(dst))?;
    for e in std::fs::read_dir(src).map_err(BlockError::io(src))? {
        let e = e.map_err(BlockError::io(src))?;
        let to = dst.join(e.file_name());
        if e.path().is_dir() {
            link_tree(&e.path(), &to)?;
        } else {
            std::fs::hard_link(e.path(), &to).map_err(BlockError::io(&to))?;
        }
    }
    Ok(())
}

impl Inner {
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

    fn block_range(&self) -> i64 {
        self.opts.head.chunk_range_ms.max(1)
    }

    fn compact(&self) -> Result<(), CompactError> {
        let _m = self.maintenance.lock();
        self.cut_head_locked()?;
        self.compact_blocks_locked()?;
        self.apply_retention()
    }

    /// Cuts the head while it spans more than 1.5 block ranges.
    fn cut_head_locked(&self) -> Result<(), CompactError> {
        let range = self.block_range();
        // Cut while the head spans more than 1.5 block ranges.
        while let Some((min, max)) = self.head.time_range() {
            if max - min <= range / 2 * 3 {
                break;
            }
            if let Err(e) = self.cut_oldest_range() {
                self.counters.failed.fetch_add(1, Ordering::Relaxed);
                return Err(e);
            }
            if self.head.time_range().is_some_and(|(m, _)| m <= min) {
                break;
            }
        }
        Ok(())
    }

    /// Merges blocks per the leveled plan until nothing is left to merge.
    fn compact_blocks_locked(&self) -> Result<(), CompactError> {
        let range = self.block_range();
        let ranges = crate::compact::level_ranges(range, self.opts.retention.time_ms);
        loop {
            let blocks = self.blocks.read().clone();
            let metas: Vec<&block::BlockMeta> = blocks.iter().map(|b| b.meta()).collect();
            let Some(plan) = crate::compact::plan(&metas, &ranges) else { break };
            let chosen: Vec<Arc<Block>> = plan.iter().map(|&k| Arc::clone(&blocks[k])).collect();
            let started = Instant::now();
            match self.replace_blocks(&chosen) {
                Ok(()) => {
                    self.counters.compactions.fetch_add(1, Ordering::Relaxed);
                    self.counters
                        .nanos
                        .fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
                }
                Err(e) => {
                    self.counters.failed.fetch_add(1, Ordering::Relaxed);
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    /// Merges `old` into one new block, swaps it in and deletes `old`.
    fn replace_blocks(&self, old: &[Arc<Block>]) -> Result<(), CompactError> {
        let meta = crate::compact::merge_blocks(&self.dir, old)?;
        let new =
            (meta.num_series > 0).then(|| Block::open(&self.dir.join(&meta.ulid))).transpose()?;
        if new.is_none() {
            block::delete_block_dir(&self.dir.join(&meta.ulid))?;
        }
        {
            let mut blocks = self.blocks.write();
            blocks.retain(|b| !old.iter().any(|o| o.meta().ulid == b.meta().ulid));
            blocks.extend(new.map(Arc::new));
            blocks.sort_by_key(|b| (b.meta().min_t_ms, b.meta().max_t_ms));
        }
        for b in old {
            block::delete_block_dir(b.dir())?;
        }
        Ok(())
    }

    fn apply_retention(&self) -> Result<(), CompactError> {
        let blocks = self.blocks.read().clone();
        let shape: Vec<(i64, i64, u64)> =
            blocks.iter().map(|b| (b.meta().min_t_ms, b.meta().max_t_ms, b.size_bytes())).collect();
        let doomed = crate::retention::blocks_beyond(&shape, &self.opts.retention);
        if doomed.is_empty() {
            return Ok(());
        }
        let gone: Vec<String> = doomed.iter().map(|&k| blocks[k].meta().ulid.clone()).collect();
        self.blocks.write().retain(|b| !gone.contains(&b.meta().ulid));
        for &k in &doomed {
            tracing::info!(block = %blocks[k].meta().ulid, "deleting a block beyond retention");
            block::crash_point("retention-before-delete");
            block::delete_block_dir(blocks[k].dir())?;
            self.counters.retention.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Writes the head's samples in `[min_t, max_t)` as a block under
    /// `parent`; `None` if there were none.
    fn write_head_block(
        &self,
        parent: &Path,
        min_t: i64,
        max_t: i64,
    ) -> Result<Option<block::BlockMeta>, CompactError> {
        let mut series = self.head.series.all();
        series.sort_by(|a, b| a.labels.cmp(&b.labels));
        // A series replayed under two refs is listed once per ref.
        series.dedup_by(|a, b| Arc::ptr_eq(a, b));
        let tombstones = Arc::clone(&self.head_tombstones.read());
        let mut writer = BlockWriter::new(parent, min_t, max_t)?;
        let mut samples: Vec<Sample> = Vec::new();
        let mut any = false;
        for s in series {
            samples.clear();
            for c in self.head.chunks_of(&s, min_t, max_t - 1)? {
                let mut it = crate::chunk::ChunkIterator::new(c.encoding, c.bytes.as_slice());
                while let Some(x) = it.next() {
                    if x.t_ms >= min_t && x.t_ms < max_t {
                        samples.push(x);
                    }
                }
            }
            if let Some(ivs) = tombstones.get(&s.labels) {
                block::tombstones::apply(ivs, &mut samples);
            }
            any |= !samples.is_empty();
            writer.add_series(&s.labels, &samples)?;
        }
        let meta = writer.finish(1, Vec::new(), Vec::new())?;
        if !any {
            block::delete_block_dir(&parent.join(&meta.ulid))?;
            return Ok(None);
        }
        Ok(Some(meta))
    }

    /// Writes the head's oldest block range out as a block, then
    /// truncates the head and checkpoints the WAL.
    fn cut_oldest_range(&self) -> Result<(), CompactError> {
        let Some((min, _)) = self.head.time_range() else { return Ok(()) };
        let range = self.block_range();
        let max_t = min.div_euclid(range).saturating_add(1).saturating_mul(range);
        // Appends older than the block's end are refused from now on.
        self.head.set_min_valid_time(max_t);
        if let Some(meta) = self.write_head_block(&self.dir, min, max_t)? {
            let b = Block::open(&self.dir.join(&meta.ulid))?;
            let mut blocks = self.blocks.write();
            blocks.push(Arc::new(b));
            blocks.sort_by_key(|b| (b.meta().min_t_ms, b.meta().max_t_ms));
        }
        self.counters.head_cuts.fetch_add(1, Ordering::Relaxed);
        block::crash_point("head-cut-before-truncate");
        self.head.truncate_before(max_t).map_err(|e| CompactError::Head(e.to_string()))?;
        self.prune_head_tombstones(max_t);
        self.checkpoint_wal(max_t)
    }

    fn prune_head_tombstones(&self, min_t: i64) {
        let mut ts = self.head_tombstones.write();
        if ts.is_empty() {
            return;
        }
        let mut next = (**ts).clone();
        next.retain(|labels, ivs| {
            ivs.retain(|iv| iv.1 >= min_t);
            !ivs.is_empty()
                && self.head.series.get_by_labels(labels.stable_hash(), labels).is_some()
        });
        *ts = Arc::new(next);
    }

    /// Replaces the WAL segments before the active one by a checkpoint of
    /// the head's data at or after `min_t`.
    fn checkpoint_wal(&self, min_t: i64) -> Result<(), CompactError> {
        let Some(wal) = &self.wal else { return Ok(()) };
        let upto = {
            let _gate = self.commit_gate.write();
            let current = wal.current_segment();
            wal.segments()?
                .into_iter()
                .filter(|&n| Some(n) != current && current.is_none_or(|c| n < c))
                .max()
        };
        let Some(upto) = upto else { return Ok(()) };
        let wal_dir = self.dir.join(WAL_DIR);
        let tombstones = Arc::clone(&self.head_tombstones.read());
        checkpoint::write(&wal_dir, upto, |cp| {
            self.head
                .dump::<CompactError>(min_t, i64::MAX, 64 << 10, &mut |series, samples| {
                    cp.log(series, samples).map_err(CompactError::Wal)
                })
                .map_err(WalError::from)?;
            let mut records = Vec::new();
            for (labels, ivs) in tombstones.iter() {
                if let Some(s) = self.head.series.get_by_labels(labels.stable_hash(), labels) {
                    for &(a, b) in ivs {
                        records.push(Tombstone {
                            series_ref: s.series_ref,
                            min_t_ms: a,
                            max_t_ms: b,
                        });
                    }
                }
            }
            if !records.is_empty() {
                cp.log_tombstones(&records)?;
            }
            Ok(())
        })?;
        self.counters.checkpoints.fetch_add(1, Ordering::Relaxed);
        checkpoint::truncate(&wal_dir, upto)?;
        Ok(())
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        if let Err(e) = self.close() {
            tracing::warn!(error = %e, "closing the database on drop failed");
        }
    }
}

fn add_report(total: &mut ReplayReport, r: &ReplayReport) {
    total.wal.records += r.wal.records;
    total.wal.series += r.wal.series;
    total.wal.samples += r.wal.samples;
    total.wal.segments += r.wal.segments;
    total.wal.truncated_bytes += r.wal.truncated_bytes;
    total.wal.duration += r.wal.duration;
    total.skipped_samples += r.skipped_samples;
    total.samples_in_blocks += r.samples_in_blocks;
    total.tombstones += r.tombstones;
}

/// Replays every WAL record of `wal_dir` into the head, dropping samples
/// older than the head's minimum valid time (blocks hold them).
fn replay_into(
    head: &Head,
    wal_dir: &Path,
    tombstones: &mut HeadTombstones,
) -> Result<ReplayReport, WalError> {
    let started = Instant::now();
    let mut report = ReplayReport::default();
    let mut last_progress = Instant::now();
    let mut samples_seen = 0u64;
    let min_valid = head.min_valid_time();
    let mut kept: Vec<RefSample> = Vec::new();
    let stats = Wal::replay(wal_dir, &mut |record| match record {
        Record::Series(series) => {
            for s in series {
                head.replay_series(s.series_ref, &s.labels);
            }
        }
        Record::Samples(samples) => {
            samples_seen += samples.len() as u64;
            let samples = if samples.iter().any(|s| s.t_ms < min_valid) {
                kept.clear();
                kept.extend(samples.iter().filter(|s| s.t_ms >= min_valid));
                report.samples_in_blocks += (samples.len() - kept.len()) as u64;
                &kept[..]
            } else {
                &samples[..]
            };
            report.skipped_samples += head.replay_samples(samples);
            if last_progress.elapsed().as_secs() >= 5 {
                last_progress = Instant::now();
                tracing::info!(
                    samples = samples_seen,
                    series = head.series.len(),
                    "replaying the write-ahead log"
                );
            }
        }
        Record::Tombstones(t) => {
            for ts in t {
                if let Some(s) = head.series.get_by_ref(ts.series_ref) {
                    tombstones
                        .entry(s.labels.clone())
                        .or_default()
                        .push((ts.min_t_ms, ts.max_t_ms));
                    report.tombstones += 1;
                }
            }
        }
    })?;
    let secs = started.elapsed().as_secs_f64();
    tracing::info!(
        series = head.series.len(),
        samples = stats.samples,
        segments = stats.segments,
        truncated_bytes = stats.truncated_bytes,
        skipped_samples = report.skipped_samples,
        samples_in_blocks = report.samples_in_blocks,
        seconds = secs,
        samples_per_sec = stats.samples as f64 / secs.max(1e-9),
        "write-ahead log replayed"
    );
    report.wal = stats;
    Ok(report)
}

/// A batch on a [`Db`].
struct DbAppender<'a> {
    db: &'a Inner,
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

    fn reserve(&mut self, samples: usize) {
        self.inner.reserve(samples);
    }

    fn commit(self: Box<Self>) -> Result<(), CommitError> {
        let db = self.db;
        db.check_writable()?;
        let DbAppender { inner, .. } = *self;
        if inner.is_empty() {
            return Ok(());
        }
        let _gate = db.commit_gate.read();
        inner.commit_with(|series, samples| match &db.wal {
            None => Ok(()),
            Some(wal) => wal.log(series, samples).map_err(|e| {
                let err = match e {
                    WalError::Io(io) => io,
                    other => std::io::Error::other(other.to_string()),
                };
                db.counters.wal_write_failures.fetch_add(1, Ordering::Relaxed);
                db.poison(err.to_string());
                CommitError::Wal(err)
            }),
        })
    }

    fn rollback(self: Box<Self>) {}
}

impl Appendable for Db {
    fn appender(&self) -> Box<dyn Appender + '_> {
        Box::new(DbAppender { db: &self.inner, inner: self.inner.head.appender() })
    }
}

impl Queryable for Db {
    fn querier(&self, min_t_ms: i64, max_t_ms: i64) -> Result<Box<dyn Querier + '_>, QueryError> {
        let inner = &self.inner;
        let blocks = inner.blocks.read().clone();
        let tombstones = Arc::clone(&inner.head_tombstones.read());
        Ok(Box::new(MergeQuerier::new(
            HeadQuerier::new(&inner.head, min_t_ms, max_t_ms),
            &blocks,
            tombstones,
            min_t_ms,
            max_t_ms,
        )))
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
            retention: crate::retention::Retention { time_ms: None, size_bytes: None },
            compaction_interval: None,
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
        Batch {
            appends: Vec<(usize, bool, i64, u8)>,
            commit: bool,
        },
        Query {
            min: i64,
            max: i64,
            matcher: usize,
        },
        Restart,
        /// Cut the head into blocks, compact them, apply retention (none).
        Compact,
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
            1 => Just(Op::Compact),
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
                            if matches!(got, Err(AppendError::OutOfBounds)) {
                                // A block already covers `t`; the model has no such limit.
                                prop_assert!(t < db.head().min_valid_time());
                                continue;
                            }
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
                    Op::Compact => db.compact().unwrap(),
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
