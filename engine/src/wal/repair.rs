//! Repair: cut the log at its first damaged frame.
//!
//! Policy (Prometheus' `wlog.Repair`): the damaged segment is truncated to
//! the end of its last good frame and every later segment is deleted. Later
//! segments are not trusted because a commit there may reference series
//! whose records were in the damaged part. The cut is logged as a warning,
//! counted in [`super::ReplayStats::truncated_bytes`], and made durable
//! (file and directory fsynced) so a second crash cannot resurrect it.
//!
//! Under `SyncPolicy::EveryCommit` the only damage a crash can cause is a
//! torn tail after the last fsync, which holds no acknowledged commit, so
//! the cut never loses data a caller was told is durable.

use std::fs::OpenOptions;
use std::path::Path;

use super::WalError;
use super::io::sync_dir;
use super::reader::Damage;
use super::segment::segment_path;

/// Truncates segment `damage.segment` (now `len` bytes long) at
/// `damage.offset` and deletes the segments in `later`. Returns the number
/// of bytes removed.
pub(crate) fn cut(dir: &Path, damage: &Damage, len: u64, later: &[u32]) -> Result<u64, WalError> {
    let path = segment_path(dir, damage.segment);
    let mut removed = len.saturating_sub(damage.offset);
    let file = OpenOptions::new()
        .write(true)
        .open(&path)
        .map_err(|e| WalError::io_at(&path, "opening for repair", e))?;
    file.set_len(damage.offset).map_err(|e| WalError::io_at(&path, "truncating", e))?;
    file.sync_all().map_err(|e| WalError::io_at(&path, "syncing after truncation", e))?;
    for &n in later {
        let p = segment_path(dir, n);
        let size = std::fs::metadata(&p).map(|m| m.len()).unwrap_or(0);
        std::fs::remove_file(&p)
            .map_err(|e| WalError::io_at(&p, "deleting segment after damage", e))?;
        removed += size;
    }
    sync_dir(dir).map_err(|e| WalError::io_at(dir, "syncing directory after repair", e))?;
    tracing::warn!(
        segment = damage.segment,
        offset = damage.offset,
        reason = %damage.reason,
        deleted_segments = later.len(),
        truncated_bytes = removed,
        "wal damaged; truncated at the first bad record and carrying on"
    );
    Ok(removed)
}
