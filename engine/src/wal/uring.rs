//! The io_uring backend: segment writes and fsyncs submitted through
//! `tokio-uring` on one dedicated thread.
//!
//! tokio-uring runtimes are single-threaded and their files are `!Send`, so
//! the WAL (called from many threads) talks to a runtime thread over a
//! channel: each request carries its buffer and a reply channel, the thread
//! spawns one task per request (so an fsync does not hold back a write) and
//! sends the result and the buffer back. Files are created with `std::fs`
//! and handed to the runtime, because creation is rare and not worth a
//! round trip.
//!
//! [`UringIo::start`] probes before it returns: it sets up a ring, then
//! writes, fsyncs and reads back a small file in the WAL directory. Seccomp
//! profiles of container runtimes often refuse `io_uring_setup`, and some
//! sandboxes accept it but fail every operation; either way the caller gets
//! the error and can fall back to plain files.

use std::io;
use std::path::Path;
use std::sync::Arc;

use super::io::{SegmentFile, SegmentIo};

/// The io_uring backend handle; cheap to share.
pub(crate) struct UringIo {
    #[cfg(target_os = "linux")]
    tx: imp::Sender,
}

#[cfg(target_os = "linux")]
mod imp {
    use std::cell::RefCell;
    use std::collections::HashMap;
    use std::io;
    use std::rc::Rc;
    use std::sync::mpsc as std_mpsc;

    pub(super) type Sender = tokio::sync::mpsc::UnboundedSender<Op>;
    type Reply<T> = std_mpsc::SyncSender<T>;

    /// A request to the runtime thread.
    pub(super) enum Op {
        Register { id: u64, file: std::fs::File },
        Write { id: u64, buf: Vec<u8>, offset: u64, reply: Reply<(io::Result<()>, Vec<u8>)> },
        Sync { id: u64, reply: Reply<io::Result<()>> },
        Close { id: u64 },
    }

    /// Starts the runtime thread; returns once the ring is set up (or failed).
    pub(super) fn spawn() -> io::Result<Sender> {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Op>();
        let (ready_tx, ready_rx) = std_mpsc::sync_channel::<io::Result<()>>(1);
        std::thread::Builder::new().name("wal-uring".into()).spawn(move || {
            let rt = match tokio_uring::Runtime::new(&tokio_uring::builder()) {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
            };
            let _ = ready_tx.send(Ok(()));
            rt.block_on(async move {
                let files: Rc<RefCell<HashMap<u64, Rc<tokio_uring::fs::File>>>> = Rc::default();
                while let Some(op) = rx.recv().await {
                    match op {
                        Op::Register { id, file } => {
                            files
                                .borrow_mut()
                                .insert(id, Rc::new(tokio_uring::fs::File::from_std(file)));
                        }
                        Op::Write { id, buf, offset, reply } => {
                            let Some(f) = files.borrow().get(&id).cloned() else {
                                let _ = reply.send((Err(closed()), buf));
                                continue;
                            };
                            tokio_uring::spawn(async move {
                                let (res, buf) = f.write_all_at(buf, offset).await;
                                let _ = reply.send((res, buf));
                            });
                        }
                        Op::Sync { id, reply } => {
                            let Some(f) = files.borrow().get(&id).cloned() else {
                                let _ = reply.send(Err(closed()));
                                continue;
                            };
                            tokio_uring::spawn(async move {
                                let _ = reply.send(f.sync_data().await);
                            });
                        }
                        Op::Close { id } => {
                            // In-flight tasks hold their own `Rc`; the file
                            // closes when the last one finishes.
                            files.borrow_mut().remove(&id);
                        }
                    }
                }
            });
        })?;
        ready_rx
            .recv()
            .map_err(|_| io::Error::other("io_uring thread exited during start-up"))??;
        Ok(tx)
    }

    fn closed() -> io::Error {
        io::Error::other("segment file already closed")
    }
}

impl UringIo {
    /// Starts the runtime thread and probes it in `dir` (see module docs).
    pub(crate) fn start(dir: &Path) -> io::Result<UringIo> {
        #[cfg(target_os = "linux")]
        {
            let io = UringIo { tx: imp::spawn()? };
            io.probe(dir)?;
            Ok(io)
        }
        #[cfg(not(target_os = "linux"))]
        {
            let _ = dir;
            Err(io::Error::new(io::ErrorKind::Unsupported, "io_uring exists only on Linux"))
        }
    }

    #[cfg(target_os = "linux")]
    fn probe(&self, dir: &Path) -> io::Result<()> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join(format!(".uring-probe-{}", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let result = (|| {
            let f = self.create(&path)?;
            let (res, _) = f.write_at(b"io_uring".to_vec(), 0);
            res?;
            f.sync()?;
            drop(f);
            if std::fs::read(&path)? != b"io_uring" {
                return Err(io::Error::other("io_uring write did not land on disk"));
            }
            Ok(())
        })();
        let _ = std::fs::remove_file(&path);
        result
    }
}

#[cfg(target_os = "linux")]
struct UringSegment {
    id: u64,
    tx: imp::Sender,
}

#[cfg(target_os = "linux")]
fn gone() -> io::Error {
    io::Error::other("io_uring thread is gone")
}

#[cfg(target_os = "linux")]
impl SegmentFile for UringSegment {
    fn write_at(&self, buf: Vec<u8>, offset: u64) -> (io::Result<()>, Vec<u8>) {
        let (reply, rx) = std::sync::mpsc::sync_channel(1);
        if let Err(tokio::sync::mpsc::error::SendError(op)) =
            self.tx.send(imp::Op::Write { id: self.id, buf, offset, reply })
        {
            let buf = match op {
                imp::Op::Write { buf, .. } => buf,
                _ => Vec::new(),
            };
            return (Err(gone()), buf);
        }
        rx.recv().unwrap_or_else(|_| (Err(gone()), Vec::new()))
    }

    fn sync(&self) -> io::Result<()> {
        let (reply, rx) = std::sync::mpsc::sync_channel(1);
        self.tx.send(imp::Op::Sync { id: self.id, reply }).map_err(|_| gone())?;
        rx.recv().map_err(|_| gone())?
    }
}

#[cfg(target_os = "linux")]
impl Drop for UringSegment {
    fn drop(&mut self) {
        let _ = self.tx.send(imp::Op::Close { id: self.id });
    }
}

impl SegmentIo for UringIo {
    fn create(&self, path: &Path) -> io::Result<Arc<dyn SegmentFile>> {
        #[cfg(target_os = "linux")]
        {
            use std::sync::atomic::{AtomicU64, Ordering};
            static NEXT_ID: AtomicU64 = AtomicU64::new(0);
            let file = super::io::create_new(path)?;
            let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
            self.tx.send(imp::Op::Register { id, file }).map_err(|_| gone())?;
            Ok(Arc::new(UringSegment { id, tx: self.tx.clone() }))
        }
        #[cfg(not(target_os = "linux"))]
        {
            let _ = path;
            Err(io::Error::new(io::ErrorKind::Unsupported, "io_uring exists only on Linux"))
        }
    }

    fn name(&self) -> &'static str {
        "io_uring"
    }
}
