//! The I/O backends that put segment bytes on disk.
//!
//! The writer only needs three operations (create a segment, write a buffer
//! at an offset, fsync), so both backends implement them behind
//! [`SegmentIo`]/[`SegmentFile`]: plain positioned writes through `std::fs`,
//! and io_uring through `tokio-uring` on a dedicated thread (`uring.rs`).
//! Buffers are passed by value and handed back, because io_uring needs to own
//! a buffer while the kernel reads it; the writer reuses the one it gets back.
//!
//! Which backend `WalIo::Auto` picks is decided in [`choose`], after the
//! measurements in `docs/decisions/2026-11-25-wal-io.md`.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;
use std::sync::Arc;

use super::WalIo;

/// One open segment file.
pub(crate) trait SegmentFile: Send + Sync {
    /// Writes all of `buf` at `offset`, returning the buffer for reuse.
    fn write_at(&self, buf: Vec<u8>, offset: u64) -> (io::Result<()>, Vec<u8>);
    /// Makes everything written so far durable (`fdatasync`).
    fn sync(&self) -> io::Result<()>;
}

/// Creates segment files.
pub(crate) trait SegmentIo: Send + Sync {
    /// Creates `path`, which must not exist yet.
    fn create(&self, path: &Path) -> io::Result<Arc<dyn SegmentFile>>;
    /// The backend's name for logs and benchmarks.
    fn name(&self) -> &'static str;
}

/// Plain `std::fs` positioned writes.
pub(crate) struct FileIo;

struct StdSegment(File);

impl SegmentFile for StdSegment {
    fn write_at(&self, buf: Vec<u8>, offset: u64) -> (io::Result<()>, Vec<u8>) {
        (write_all_at(&self.0, &buf, offset), buf)
    }

    fn sync(&self) -> io::Result<()> {
        self.0.sync_data()
    }
}

#[cfg(unix)]
fn write_all_at(file: &File, buf: &[u8], offset: u64) -> io::Result<()> {
    std::os::unix::fs::FileExt::write_all_at(file, buf, offset)
}

#[cfg(not(unix))]
fn write_all_at(file: &File, buf: &[u8], offset: u64) -> io::Result<()> {
    use std::io::{Seek, SeekFrom, Write};
    let mut f = file;
    f.seek(SeekFrom::Start(offset))?;
    f.write_all(buf)
}

/// Opens a new segment file for writing; fails if it already exists so a
/// bug can never overwrite logged data.
pub(crate) fn create_new(path: &Path) -> io::Result<File> {
    OpenOptions::new().write(true).create_new(true).open(path)
}

impl SegmentIo for FileIo {
    fn create(&self, path: &Path) -> io::Result<Arc<dyn SegmentFile>> {
        Ok(Arc::new(StdSegment(create_new(path)?)))
    }

    fn name(&self) -> &'static str {
        "file"
    }
}

/// Fsyncs a directory so a created, renamed or deleted entry survives a
/// power loss. A no-op where directories cannot be opened (Windows).
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

/// Whether `WalIo::Auto` tries io_uring first. Decided by measurement: see
/// `docs/decisions/2026-11-25-wal-io.md`.
const AUTO_PREFERS_URING: bool = false;

/// Picks the backend for `io`. `Auto` uses the backend measured faster and
/// falls back to plain files when io_uring does not work here; `Uring` fails
/// if this kernel or sandbox refuses io_uring. The choice is logged.
pub(crate) fn choose(io: WalIo, dir: &Path) -> Result<Arc<dyn SegmentIo>, super::WalError> {
    let chosen: Arc<dyn SegmentIo> = match io {
        WalIo::File => Arc::new(FileIo),
        WalIo::Auto if !AUTO_PREFERS_URING => Arc::new(FileIo),
        WalIo::Auto => match super::uring::UringIo::start(dir) {
            Ok(u) => Arc::new(u),
            Err(e) => {
                tracing::warn!(error = %e, "io_uring unavailable; wal falls back to plain file writes");
                Arc::new(FileIo)
            }
        },
        WalIo::Uring => match super::uring::UringIo::start(dir) {
            Ok(u) => Arc::new(u),
            Err(e) => return Err(super::WalError::UringUnavailable(e.to_string())),
        },
    };
    tracing::info!(io = chosen.name(), requested = ?io, "wal i/o backend selected");
    Ok(chosen)
}

/// Whether io_uring works here, with the error if it does not. Benchmarks
/// and tests use this to report or skip the io_uring path honestly.
pub fn uring_probe(dir: &Path) -> Result<(), String> {
    super::uring::UringIo::start(dir).map(drop).map_err(|e| e.to_string())
}
