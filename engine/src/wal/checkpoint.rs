//! WAL checkpoints: after a block took over the head's oldest range, the
//! segments before the active one are replaced by one checkpoint holding
//! what the head still needs (its live series and their samples), so the
//! WAL stays bounded by the head's range.
//!
//! A checkpoint is a directory `checkpoint.NNNNNNNN` (N: the last segment
//! it replaces) of ordinary WAL segments, built as `….tmp` and renamed into
//! place; only then are segments `<= N` and older checkpoints deleted.
//! Start-up ([`repair`]) removes temporary checkpoints and finishes an
//! interrupted deletion, so replay reads the checkpoint, then the segments
//! after it, and never a sample twice.

use std::path::{Path, PathBuf};

use super::segment::{list_segments, segment_path};
use super::{SyncPolicy, Wal, WalError, WalOptions};

/// Name prefix of checkpoint directories.
pub const CHECKPOINT_PREFIX: &str = "checkpoint.";

/// The newest complete checkpoint in `wal_dir`: its number and path.
pub fn latest(wal_dir: &Path) -> Result<Option<(u32, PathBuf)>, WalError> {
    Ok(list(wal_dir)?.into_iter().next_back())
}

/// Complete checkpoints, oldest first.
fn list(wal_dir: &Path) -> Result<Vec<(u32, PathBuf)>, WalError> {
    let mut out = Vec::new();
    let entries = match std::fs::read_dir(wal_dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(WalError::Io(e)),
    };
    for e in entries {
        let e = e.map_err(WalError::Io)?;
        let name = e.file_name().to_string_lossy().into_owned();
        if let Some(n) = name.strip_prefix(CHECKPOINT_PREFIX).and_then(|n| n.parse::<u32>().ok()) {
            out.push((n, e.path()));
        }
    }
    out.sort_unstable();
    Ok(out)
}

/// Writes checkpoint `upto` in `wal_dir`: `fill` logs the records to keep
/// into a fresh WAL; the directory is synced and renamed into place.
pub fn write(
    wal_dir: &Path,
    upto: u32,
    fill: impl FnOnce(&Wal) -> Result<(), WalError>,
) -> Result<PathBuf, WalError> {
    let dest = wal_dir.join(format!("{CHECKPOINT_PREFIX}{upto:08}"));
    let tmp = wal_dir.join(format!("{CHECKPOINT_PREFIX}{upto:08}.tmp"));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(WalError::Io)?;
    }
    let opts = WalOptions {
        sync: SyncPolicy::OnSegmentFull,
        io: super::WalIo::File,
        ..WalOptions::default()
    };
    let wal = Wal::open(&tmp, opts)?;
    fill(&wal)?;
    wal.close()?;
    sync_dir(&tmp)?;
    crate::block::crash_point("wal-checkpoint-before-rename");
    std::fs::rename(&tmp, &dest).map_err(WalError::Io)?;
    sync_dir(wal_dir)?;
    Ok(dest)
}

/// Deletes segments `<= upto` and checkpoints older than `upto`.
pub fn truncate(wal_dir: &Path, upto: u32) -> Result<(), WalError> {
    for n in list_segments(wal_dir).map_err(WalError::Io)? {
        if n <= upto {
            std::fs::remove_file(segment_path(wal_dir, n)).map_err(WalError::Io)?;
            crate::block::crash_point("wal-truncate-segment");
        }
    }
    for (n, path) in list(wal_dir)? {
        if n < upto {
            std::fs::remove_dir_all(&path).map_err(WalError::Io)?;
        }
    }
    sync_dir(wal_dir)
}

/// Start-up: removes temporary checkpoints and finishes truncation up to
/// the newest checkpoint. Returns that checkpoint's path, to replay first.
pub fn repair(wal_dir: &Path) -> Result<Option<PathBuf>, WalError> {
    if let Ok(entries) = std::fs::read_dir(wal_dir) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with(CHECKPOINT_PREFIX) && name.ends_with(".tmp") {
                std::fs::remove_dir_all(e.path()).map_err(WalError::Io)?;
            }
        }
    }
    match latest(wal_dir)? {
        Some((n, path)) => {
            truncate(wal_dir, n)?;
            Ok(Some(path))
        }
        None => Ok(None),
    }
}

fn sync_dir(dir: &Path) -> Result<(), WalError> {
    std::fs::File::open(dir).and_then(|f| f.sync_all()).map_err(WalError::Io)
}
