//! The appending side: framing commits into the current segment, rolling
//! segments over, and group commit.
//!
//! Two locks, always taken in this order when both are needed:
//!
//! - `state` guards the current segment and a buffer of bytes appended but
//!   not yet written. Appending a commit is a `memcpy` under this lock;
//!   encoding and compression happen before it, on the caller's thread.
//! - `sync` guards the group-commit bookkeeping: the highest commit number
//!   known durable and whether a leader is syncing.
//!
//! Group commit (`SyncPolicy::EveryCommit`): each commit gets a sequence
//! number when appended. A caller whose number is not yet durable either
//! becomes the leader (no sync running: it writes the whole buffer, fsyncs
//! outside the state lock and publishes the highest number it covered) or
//! waits on a condition variable for the running leader. Commits appended
//! while a leader's fsync is in flight are covered by the next leader's, so
//! N concurrent committers need about two fsyncs instead of N.
//!
//! Any failed write or fsync poisons the log: the error is kept and every
//! later call fails with it, because after a failed fsync the kernel may
//! have dropped dirty pages and the file's contents are unknown (the
//! "fsyncgate" lesson; fjall and PostgreSQL do the same).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::{Condvar, Mutex};

use super::io::{SegmentFile, SegmentIo, choose, sync_dir};
use super::record::{
    TYPE_SAMPLES, TYPE_SERIES, TYPE_TOMBSTONES, encode_samples, encode_series, encode_tombstones,
};
use super::segment::{
    FrameEncoder, SEGMENT_HEADER_LEN, list_segments, segment_header, segment_path,
};
use super::{RefSample, SeriesRecord, SyncPolicy, Tombstone, WalError, WalOptions};

/// Under `OnSegmentFull`, appended bytes are handed to the kernel once this
/// many are buffered (and at rollover, `sync` and close). A process crash
/// loses at most this much, like Prometheus' 32 KiB page buffer.
pub(crate) const FLUSH_BYTES: usize = 32 << 10;

/// The open segment.
struct Current {
    number: u32,
    file: Arc<dyn SegmentFile>,
    /// Bytes already handed to the file.
    written: u64,
}

struct State {
    current: Option<Current>,
    /// Appended, not yet written.
    buf: Vec<u8>,
    /// Number of the last appended commit.
    appended: u64,
    closed: bool,
    failed: Option<String>,
}

struct SyncState {
    /// Every commit numbered up to this is durable.
    durable: u64,
    leader: bool,
    failed: Option<String>,
}

/// The writer behind [`super::Wal`].
pub(crate) struct Writer {
    dir: PathBuf,
    options: WalOptions,
    io: Arc<dyn SegmentIo>,
    state: Mutex<State>,
    sync: Mutex<SyncState>,
    synced: Condvar,
}

thread_local! {
    /// Per-thread encoder and output buffer, so concurrent committers encode
    /// and compress in parallel and only copy bytes under the lock.
    static ENCODER: std::cell::RefCell<(FrameEncoder, Vec<u8>)> =
        std::cell::RefCell::new((FrameEncoder::new(), Vec::new()));
}

impl Writer {
    pub(crate) fn open(dir: &Path, options: WalOptions) -> Result<Writer, WalError> {
        let io = choose(options.io, dir)?;
        Self::open_with(dir, options, io)
    }

    /// Opens with a given backend (tests inject failing ones here).
    pub(crate) fn open_with(
        dir: &Path,
        options: WalOptions,
        io: Arc<dyn SegmentIo>,
    ) -> Result<Writer, WalError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| WalError::io_at(dir, "creating wal directory", e))?;
        let existing =
            list_segments(dir).map_err(|e| WalError::io_at(dir, "listing segments", e))?;
        let next = match existing.last() {
            Some(&n) => {
                n.checked_add(1).ok_or_else(|| WalError::SegmentsExhausted(dir.to_path_buf()))?
            }
            None => 0,
        };
        let current = create_segment(io.as_ref(), dir, next)?;
        tracing::info!(dir = %dir.display(), segment = next, io = io.name(), sync = ?options.sync, "wal opened");
        Ok(Writer {
            dir: dir.to_path_buf(),
            options,
            io,
            state: Mutex::new(State {
                current: Some(current),
                buf: Vec::with_capacity(FLUSH_BYTES * 2),
                appended: 0,
                closed: false,
                failed: None,
            }),
            sync: Mutex::new(SyncState { durable: 0, leader: false, failed: None }),
            synced: Condvar::new(),
        })
    }

    pub(crate) fn io_name(&self) -> &'static str {
        self.io.name()
    }

    pub(crate) fn log(
        &self,
        series: &[SeriesRecord],
        samples: &[RefSample],
    ) -> Result<(), WalError> {
        if series.is_empty() && samples.is_empty() {
            return Ok(());
        }
        let compress = self.options.compress;
        let seq = ENCODER.with(|cell| {
            let mut guard = cell.borrow_mut();
            let (enc, out) = &mut *guard;
            out.clear();
            if !series.is_empty() {
                enc.push(out, TYPE_SERIES, compress, |b| encode_series(series, b));
            }
            if !samples.is_empty() {
                enc.push(out, TYPE_SAMPLES, compress, |b| encode_samples(samples, b));
            }
            self.append(out)
        })?;
        self.apply_policy(seq)
    }

    pub(crate) fn log_tombstones(&self, tombstones: &[Tombstone]) -> Result<(), WalError> {
        if tombstones.is_empty() {
            return Ok(());
        }
        let compress = self.options.compress;
        let seq = ENCODER.with(|cell| {
            let mut guard = cell.borrow_mut();
            let (enc, out) = &mut *guard;
            out.clear();
            enc.push(out, TYPE_TOMBSTONES, compress, |b| encode_tombstones(tombstones, b));
            self.append(out)
        })?;
        self.apply_policy(seq)
    }

    fn apply_policy(&self, seq: u64) -> Result<(), WalError> {
        match self.options.sync {
            SyncPolicy::EveryCommit => self.wait_durable(seq),
            SyncPolicy::OnSegmentFull => Ok(()),
        }
    }

    /// Appends one commit's frames to the buffer and numbers the commit.
    fn append(&self, frames: &[u8]) -> Result<u64, WalError> {
        let mut st = self.state.lock();
        check_writable(&st)?;
        let cur = st.current.as_ref().expect("open while not closed");
        let size = cur.written + st.buf.len() as u64;
        // A commit never spans segments. One larger than a whole segment
        // gets a segment of its own, longer than the configured size.
        if size > SEGMENT_HEADER_LEN as u64
            && size + frames.len() as u64 > self.options.segment_size_bytes
        {
            self.rollover(&mut st)?;
        }
        st.buf.extend_from_slice(frames);
        st.appended += 1;
        let seq = st.appended;
        if st.buf.len() >= FLUSH_BYTES {
            self.flush(&mut st)?;
        }
        Ok(seq)
    }

    /// Hands the buffer to the current segment file.
    fn flush(&self, st: &mut State) -> Result<(), WalError> {
        if st.buf.is_empty() {
            return Ok(());
        }
        let cur = st.current.as_mut().expect("flush only while open");
        let buf = std::mem::take(&mut st.buf);
        let len = buf.len() as u64;
        let (res, mut buf) = cur.file.write_at(buf, cur.written);
        let number = cur.number;
        if let Err(e) = res {
            return Err(poison(st, &self.dir, number, "writing segment", e));
        }
        cur.written += len;
        buf.clear();
        st.buf = buf;
        Ok(())
    }

    /// Finishes the current segment (written and fsynced) and starts the next.
    fn rollover(&self, st: &mut State) -> Result<(), WalError> {
        self.flush(st)?;
        let cur = st.current.as_ref().expect("rollover only while open");
        let (number, file) = (cur.number, cur.file.clone());
        if let Err(e) = file.sync() {
            return Err(poison(st, &self.dir, number, "syncing full segment", e));
        }
        let next =
            number.checked_add(1).ok_or_else(|| WalError::SegmentsExhausted(self.dir.clone()))?;
        match create_segment(self.io.as_ref(), &self.dir, next) {
            Ok(c) => st.current = Some(c),
            Err(e) => {
                let msg = e.to_string();
                st.failed = Some(msg);
                return Err(e);
            }
        }
        tracing::debug!(segment = next, "wal segment started");
        Ok(())
    }

    /// Returns once commit `seq` is durable, leading a group fsync if none
    /// is running.
    fn wait_durable(&self, seq: u64) -> Result<(), WalError> {
        let mut s = self.sync.lock();
        loop {
            if s.durable >= seq {
                return Ok(());
            }
            if let Some(f) = &s.failed {
                return Err(WalError::Poisoned(f.clone()));
            }
            if s.leader {
                self.synced.wait(&mut s);
                continue;
            }
            s.leader = true;
            drop(s);
            let result = self.flush_and_sync();
            s = self.sync.lock();
            s.leader = false;
            match result {
                Ok(covered) => s.durable = s.durable.max(covered),
                Err(e) => {
                    s.failed = Some(e.to_string());
                    self.synced.notify_all();
                    return Err(e);
                }
            }
            self.synced.notify_all();
        }
    }

    /// Writes the buffer and fsyncs the current segment; returns the number
    /// of the last commit that is now durable. The fsync runs without the
    /// state lock so other committers keep appending meanwhile.
    fn flush_and_sync(&self) -> Result<u64, WalError> {
        let (file, number, covered) = {
            let mut st = self.state.lock();
            if st.closed {
                // `close` wrote and fsynced everything appended.
                return Ok(st.appended);
            }
            check_writable(&st)?;
            self.flush(&mut st)?;
            let cur = st.current.as_ref().expect("open while not closed");
            (cur.file.clone(), cur.number, st.appended)
        };
        // Earlier segments were fsynced at rollover, so syncing the current
        // one makes every commit up to `covered` durable.
        if let Err(e) = file.sync() {
            let mut st = self.state.lock();
            return Err(poison(&mut st, &self.dir, number, "syncing segment", e));
        }
        Ok(covered)
    }

    pub(crate) fn sync(&self) -> Result<(), WalError> {
        let seq = {
            let st = self.state.lock();
            check_writable(&st)?;
            st.appended
        };
        // Also covers a commit appended before this call but not yet synced
        // under `OnSegmentFull`, so `sync` always means "all of it".
        self.force_sync(seq)
    }

    fn force_sync(&self, seq: u64) -> Result<(), WalError> {
        {
            let mut s = self.sync.lock();
            // Under OnSegmentFull nobody bumps `durable`, so do it here by
            // leading a sync even when `seq` looks durable already.
            if s.durable >= seq && self.options.sync == SyncPolicy::EveryCommit {
                return Ok(());
            }
            while s.leader {
                self.synced.wait(&mut s);
            }
            if let Some(f) = &s.failed {
                return Err(WalError::Poisoned(f.clone()));
            }
            s.leader = true;
        }
        let result = self.flush_and_sync();
        let mut s = self.sync.lock();
        s.leader = false;
        match &result {
            Ok(covered) => s.durable = s.durable.max(*covered),
            Err(e) => s.failed = Some(e.to_string()),
        }
        self.synced.notify_all();
        result.map(drop)
    }

    pub(crate) fn close(&self) -> Result<(), WalError> {
        let mut st = self.state.lock();
        if st.closed {
            return Ok(());
        }
        if let Some(f) = st.failed.clone() {
            st.closed = true;
            st.current = None;
            return Err(WalError::Poisoned(f));
        }
        self.flush(&mut st)?;
        let cur = st.current.as_ref().expect("open while not closed");
        let (number, file) = (cur.number, cur.file.clone());
        if let Err(e) = file.sync() {
            return Err(poison(&mut st, &self.dir, number, "syncing on close", e));
        }
        st.closed = true;
        st.current = None;
        let appended = st.appended;
        drop(st);
        let mut s = self.sync.lock();
        s.durable = s.durable.max(appended);
        self.synced.notify_all();
        Ok(())
    }

    pub(crate) fn segments(&self) -> Result<Vec<u32>, WalError> {
        list_segments(&self.dir).map_err(|e| WalError::io_at(&self.dir, "listing segments", e))
    }

    pub(crate) fn current_segment(&self) -> Option<u32> {
        self.state.lock().current.as_ref().map(|c| c.number)
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        if let Err(e) = self.close() {
            tracing::warn!(error = %e, "wal close on drop failed");
        }
    }
}

fn check_writable(st: &State) -> Result<(), WalError> {
    if let Some(f) = &st.failed {
        return Err(WalError::Poisoned(f.clone()));
    }
    if st.closed {
        return Err(WalError::Closed);
    }
    Ok(())
}

fn poison(
    st: &mut State,
    dir: &Path,
    number: u32,
    op: &'static str,
    e: std::io::Error,
) -> WalError {
    let err = WalError::io_at(&segment_path(dir, number), op, e);
    tracing::error!(error = %err, "wal write failed; refusing further writes");
    st.failed = Some(err.to_string());
    err
}

/// Creates segment `n` with its header and makes its directory entry durable.
fn create_segment(io: &dyn SegmentIo, dir: &Path, n: u32) -> Result<Current, WalError> {
    let path = segment_path(dir, n);
    let file = io.create(&path).map_err(|e| WalError::io_at(&path, "creating segment", e))?;
    let (res, _) = file.write_at(segment_header().to_vec(), 0);
    res.map_err(|e| WalError::io_at(&path, "writing segment header", e))?;
    sync_dir(dir).map_err(|e| WalError::io_at(dir, "syncing wal directory", e))?;
    Ok(Current { number: n, file, written: SEGMENT_HEADER_LEN as u64 })
}
