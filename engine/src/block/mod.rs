//! Immutable blocks: a time range of every series, written once, read
//! through `memmap2`.
//!
//! A block directory `<data>/<ULID>/` holds `meta.json` ([`meta`]),
//! `index` (symbols, series with their sample runs, postings),
//! `chunks/000001` (zstd-compressed frames of column runs, [`codec`]) and
//! `tombstones` ([`tombstones`]). Byte layouts are in docs/format/blocks.md.
//!
//! Invariant: a directory named by a bare ULID is complete and never
//! changes except for its `tombstones` file (replaced atomically). Blocks
//! are built under `<ULID>.tmp` and renamed into place; deleted blocks are
//! first renamed to `<ULID>.deleted`. Start-up removes both kinds.

pub mod bitpack;
pub mod codec;
mod merge;
pub mod meta;
pub mod querier;
pub mod reader;
mod select;
pub mod tombstones;
pub mod writer;

use std::path::{Path, PathBuf};

pub use meta::BlockMeta;
pub use querier::MergeQuerier;
pub use reader::{Block, FrameCache, RunInfo, SeriesInfo};
pub use writer::BlockWriter;

/// The index file of a block.
pub const INDEX_FILE: &str = "index";
/// The meta file of a block.
pub const META_FILE: &str = "meta.json";
/// The tombstones file of a block.
pub const TOMBSTONES_FILE: &str = "tombstones";
/// The directory of chunk files inside a block.
pub const CHUNKS_DIR: &str = "chunks";
/// The single chunk file of a block.
pub const CHUNKS_FILE: &str = "000001";
pub(crate) const INDEX_MAGIC: [u8; 4] = *b"PMBI";
pub(crate) const CHUNKS_MAGIC: [u8; 4] = *b"PMBC";
/// Raw bytes of columns compressed together as one zstd frame: large
/// enough for zstd to find cross-series repetition, small enough that
/// reading one series decompresses little else.
pub(crate) const FRAME_RAW_BYTES: usize = 1 << 20;
/// A frame's header: compressed length, raw length, timestamp section
/// length, each `u32` LE.
pub(crate) const FRAME_HEADER_BYTES: usize = 12;
/// A series' samples are split into runs at multiples of this (the 2 h
/// head block range), and a frame holds runs of one such window only, so a
/// query over part of a compacted block decompresses only the windows it
/// overlaps.
pub const RUN_WINDOW_MS: i64 = 2 * 3600 * 1000;
/// zstd level for chunk frames (blocks are written once, read often).
pub(crate) const ZSTD_LEVEL: i32 = 12;

/// Bytes `raw` takes compressed as chunk frames compress it (zstd at the
/// chunk level). For diagnostics that attribute a block's bytes to parts
/// of its columns (the `blocks` bench's breakdown).
pub fn compressed_len(raw: &[u8]) -> usize {
    zstd::bulk::compress(raw, ZSTD_LEVEL).map_or(raw.len(), |c| c.len())
}

/// Environment variable naming a crash point: when the process reaches it,
/// it kills itself with SIGKILL (crash tests run the database in a child
/// process and check it died of signal 9).
pub const CRASH_POINT_ENV: &str = "PROMETHIUM_CRASH_POINT";

/// Kills the process with SIGKILL if `PROMETHIUM_CRASH_POINT` names `name`.
///
/// SIGKILL rather than `abort`: nothing runs after it (no signal handler,
/// no core dump, no flushing of user-space buffers), which is what a power
/// cut or the OOM killer leaves behind as far as the files are concerned.
pub fn crash_point(name: &str) {
    if std::env::var_os(CRASH_POINT_ENV).is_some_and(|v| v == name) {
        eprintln!("crash point {name} reached; killing the process with SIGKILL");
        // SAFETY: `kill` on our own pid with a constant signal has no
        // memory-safety preconditions.
        unsafe {
            libc::kill(libc::getpid(), libc::SIGKILL);
        }
        // SIGKILL to oneself is delivered before `kill` returns; abort in
        // case it somehow was not.
        std::process::abort();
    }
}

/// Why a block operation failed.
#[derive(Debug, thiserror::Error)]
pub enum BlockError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A block failed validation.
    #[error("corrupt block {path}: {reason}")]
    Corrupt {
        /// The block directory.
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },
    /// The block was written in a format version this build does not read.
    #[error(
        "block {path} has format version {found}; this version reads only format {expected} \
         (move the block out of the data directory, or read it with the release that wrote it)"
    )]
    UnsupportedVersion {
        /// The block directory.
        path: PathBuf,
        /// The version in its meta.json.
        found: u32,
        /// The version this build reads.
        expected: u32,
    },
    /// The caller broke a writer rule.
    #[error("{0}")]
    Invalid(String),
}

impl BlockError {
    pub(crate) fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BlockError + use<> {
        let path = path.to_owned();
        move |source| BlockError::Io { path, source }
    }
}

impl From<BlockError> for crate::error::QueryError {
    fn from(e: BlockError) -> Self {
        match e {
            BlockError::Io { path, source } => crate::error::QueryError::Io { path, source },
            BlockError::Corrupt { path, reason } => {
                crate::error::QueryError::Corruption { path, reason }
            }
            BlockError::UnsupportedVersion { path, found, expected } => {
                let reason = format!("block format version {found}, this build reads {expected}");
                crate::error::QueryError::Corruption { path, reason }
            }
            BlockError::Invalid(m) => crate::error::QueryError::Invalid(m),
        }
    }
}

/// Fsyncs a directory so renames and creations in it are durable.
pub(crate) fn fsync_dir(dir: &Path) -> Result<(), BlockError> {
    std::fs::File::open(dir).and_then(|f| f.sync_all()).map_err(BlockError::io(dir))
}

/// Whether `name` looks like a ULID (a complete block directory's name).
pub fn is_ulid(name: &str) -> bool {
    name.len() == 26 && name.bytes().all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
}

/// Start-up repair and loading: removes unfinished (`.tmp`) and
/// half-deleted (`.deleted`) directories, opens every block, and deletes
/// blocks that a compacted block lists as its parents (the compaction
/// finished but the crash came before its inputs were removed). Returns
/// the blocks sorted by min time.
pub fn load_blocks(data_dir: &Path) -> Result<Vec<Block>, BlockError> {
    let mut blocks = Vec::new();
    let entries = std::fs::read_dir(data_dir).map_err(BlockError::io(data_dir))?;
    for e in entries {
        let e = e.map_err(BlockError::io(data_dir))?;
        let name = e.file_name().to_string_lossy().into_owned();
        let path = e.path();
        if !path.is_dir() {
            continue;
        }
        if name.ends_with(".tmp") || name.ends_with(".deleted") {
            tracing::warn!(dir = %path.display(), "removing an incomplete block directory");
            std::fs::remove_dir_all(&path).map_err(BlockError::io(&path))?;
        } else if is_ulid(&name) {
            blocks.push(Block::open(&path)?);
        }
    }
    let parents: std::collections::HashSet<String> =
        blocks.iter().flat_map(|b| b.meta().parents.iter().cloned()).collect();
    let (gone, mut keep): (Vec<Block>, Vec<Block>) =
        blocks.into_iter().partition(|b| parents.contains(&b.meta().ulid));
    for b in gone {
        tracing::warn!(block = %b.meta().ulid, "removing a block already compacted into another");
        delete_block_dir(b.dir())?;
    }
    keep.sort_by_key(|b| (b.meta().min_t_ms, b.meta().max_t_ms));
    Ok(keep)
}

/// Deletes a block directory crash-safely: rename to `<ULID>.deleted`
/// first (start-up finishes the removal), then remove.
pub fn delete_block_dir(dir: &Path) -> Result<(), BlockError> {
    let mut doomed = dir.as_os_str().to_owned();
    doomed.push(".deleted");
    let doomed = PathBuf::from(doomed);
    std::fs::rename(dir, &doomed).map_err(BlockError::io(dir))?;
    if let Some(parent) = dir.parent() {
        fsync_dir(parent)?;
    }
    crash_point("block-delete-after-rename");
    std::fs::remove_dir_all(&doomed).map_err(BlockError::io(&doomed))
}
