//! WAL tests: round trips, torn tails, bit flips, odd segments, rollover,
//! group commit, both I/O backends.

use std::path::Path;
use std::sync::Arc;

use super::segment::{FRAME_HEADER_LEN, SEGMENT_HEADER_LEN, parse_frame, segment_path};
use super::*;
use crate::model::{Labels, STALE_NAN_BITS, SeriesRef};

fn opts(sync: SyncPolicy) -> WalOptions {
    WalOptions { sync, io: WalIo::File, ..WalOptions::default() }
}

fn series(r: u64) -> SeriesRecord {
    SeriesRecord {
        series_ref: SeriesRef(r),
        labels: Labels::new([
            ("__name__", "node_cpu_seconds_total"),
            ("cpu", &r.to_string()),
            ("mode", "idle"),
        ]),
    }
}

/// A commit's samples: deterministic, with awkward values mixed in.
fn samples(commit: u64, n: u64) -> Vec<RefSample> {
    (0..n)
        .map(|i| RefSample {
            series_ref: SeriesRef(i),
            t_ms: 1_700_000_000_000 + commit as i64 * 15_000 + (i % 3) as i64,
            value: match (commit + i) % 5 {
                0 => f64::from_bits(STALE_NAN_BITS),
                1 => -0.0,
                2 => (commit * 1000 + i) as f64 * 0.25,
                3 => f64::from_bits(commit.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ i),
                _ => f64::INFINITY,
            },
        })
        .collect()
}

/// Writes `commits` commits (the first also creating the series) and
/// returns the records a replay must produce.
fn write_commits(dir: &Path, options: WalOptions, commits: u64, per_commit: u64) -> Vec<Record> {
    let wal = Wal::open(dir, options).unwrap();
    let mut expected = Vec::new();
    for c in 0..commits {
        let new: Vec<SeriesRecord> =
            if c == 0 { (0..per_commit).map(series).collect() } else { Vec::new() };
        let s = samples(c, per_commit);
        wal.log(&new, &s).unwrap();
        if !new.is_empty() {
            expected.push(Record::Series(new));
        }
        expected.push(Record::Samples(s));
    }
    wal.close().unwrap();
    expected
}

fn replay_all(dir: &Path) -> (Vec<Record>, ReplayStats) {
    let mut got = Vec::new();
    let stats = Wal::replay(dir, &mut |r| got.push(r)).unwrap();
    (got, stats)
}

/// Records compared bit-exactly (NaN != NaN under `PartialEq`).
fn assert_same(got: &[Record], want: &[Record]) {
    assert_eq!(got.len(), want.len(), "record count");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        match (g, w) {
            (Record::Samples(g), Record::Samples(w)) => {
                assert_eq!(g.len(), w.len(), "record {i}");
                for (a, b) in g.iter().zip(w) {
                    assert_eq!(
                        (a.series_ref, a.t_ms, a.value.to_bits()),
                        (b.series_ref, b.t_ms, b.value.to_bits())
                    );
                }
            }
            _ => assert_eq!(g, w, "record {i}"),
        }
    }
}

/// Byte offsets of the frames in a segment file.
fn frame_offsets(data: &[u8]) -> Vec<usize> {
    let mut offs = Vec::new();
    let mut off = SEGMENT_HEADER_LEN;
    while off < data.len() {
        offs.push(off);
        off += parse_frame(&data[off..]).unwrap().1;
    }
    offs
}

#[test]
fn round_trip_all_record_types_compressed_and_not() {
    for compress in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let mut o = opts(SyncPolicy::OnSegmentFull);
        o.compress = compress;
        let wal = Wal::open(dir.path(), o).unwrap();
        let new = vec![series(1), series(2)];
        let s = samples(7, 2000);
        let t = vec![Tombstone { series_ref: SeriesRef(1), min_t_ms: -10, max_t_ms: i64::MAX }];
        wal.log(&new, &s).unwrap();
        wal.log_tombstones(&t).unwrap();
        wal.log(&[], &[]).unwrap();
        wal.close().unwrap();
        let (got, stats) = replay_all(dir.path());
        assert_same(&got, &[Record::Series(new), Record::Samples(s), Record::Tombstones(t)]);
        assert_eq!((stats.records, stats.series, stats.samples, stats.segments), (3, 2, 2000, 1));
        assert_eq!(stats.truncated_bytes, 0);
        let size = std::fs::metadata(segment_path(dir.path(), 0)).unwrap().len();
        if compress {
            assert!(size < 2000 * 8, "compressed segment is {size} bytes");
        }
    }
}

#[test]
fn reopen_appends_a_new_segment_and_replay_reads_both() {
    let dir = tempfile::tempdir().unwrap();
    let mut want = write_commits(dir.path(), opts(SyncPolicy::EveryCommit), 3, 10);
    let (_, _) = replay_all(dir.path());
    let wal = Wal::open(dir.path(), opts(SyncPolicy::EveryCommit)).unwrap();
    assert_eq!(wal.current_segment(), Some(1));
    let s = samples(99, 10);
    wal.log(&[], &s).unwrap();
    want.push(Record::Samples(s));
    assert_eq!(wal.segments().unwrap(), vec![0, 1]);
    drop(wal); // drop closes
    let (got, stats) = replay_all(dir.path());
    assert_same(&got, &want);
    assert_eq!(stats.segments, 2);
}

#[test]
fn torn_tail_at_every_byte_of_the_last_record() {
    let src = tempfile::tempdir().unwrap();
    let want = write_commits(src.path(), opts(SyncPolicy::OnSegmentFull), 4, 30);
    let data = std::fs::read(segment_path(src.path(), 0)).unwrap();
    let last = *frame_offsets(&data).last().unwrap();
    for cut in last..data.len() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(segment_path(dir.path(), 0), &data[..cut]).unwrap();
        let (got, stats) = replay_all(dir.path());
        assert_same(&got, &want[..want.len() - 1]);
        assert_eq!(stats.truncated_bytes, (cut - last) as u64, "cut at {cut}");
        assert_eq!(std::fs::metadata(segment_path(dir.path(), 0)).unwrap().len(), last as u64);
        // The repaired log replays cleanly and takes new commits after it.
        let wal = Wal::open(dir.path(), opts(SyncPolicy::EveryCommit)).unwrap();
        wal.log(&[], &samples(50, 3)).unwrap();
        drop(wal);
        let (again, stats) = replay_all(dir.path());
        assert_eq!(stats.truncated_bytes, 0);
        assert_eq!(again.len(), want.len());
    }
}

#[test]
fn bit_flips_replay_up_to_the_damaged_frame() {
    let src = tempfile::tempdir().unwrap();
    let want = write_commits(src.path(), opts(SyncPolicy::OnSegmentFull), 20, 50);
    let data = std::fs::read(segment_path(src.path(), 0)).unwrap();
    let offsets = frame_offsets(&data);
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    for _ in 0..200 {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let byte = (rng % data.len() as u64) as usize;
        let bit = (rng >> 32) % 8;
        let mut bad = data.clone();
        bad[byte] ^= 1 << bit;
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(segment_path(dir.path(), 0), &bad).unwrap();
        // Frames wholly before the flipped byte survive; the rest is cut.
        let intact = offsets.iter().filter(|&&o| o <= byte).count().saturating_sub(1);
        let intact = if byte < SEGMENT_HEADER_LEN { 0 } else { intact };
        let (got, stats) = replay_all(dir.path());
        assert_same(&got, &want[..intact]);
        assert!(stats.truncated_bytes > 0, "flip at {byte} detected");
    }
}

#[test]
fn damage_in_a_middle_segment_deletes_later_segments() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = opts(SyncPolicy::OnSegmentFull);
    o.segment_size_bytes = 2048;
    o.compress = false;
    let want = write_commits(dir.path(), o, 40, 20);
    let (got, _) = replay_all(dir.path());
    assert_same(&got, &want);
    let segs = super::segment::list_segments(dir.path()).unwrap();
    assert!(segs.len() >= 4, "{segs:?}");
    // Corrupt the first frame of the second segment.
    let p = segment_path(dir.path(), segs[1]);
    let mut data = std::fs::read(&p).unwrap();
    let first_in_seg0 =
        frame_offsets(&std::fs::read(segment_path(dir.path(), segs[0])).unwrap()).len();
    data[SEGMENT_HEADER_LEN + FRAME_HEADER_LEN] ^= 0x40;
    std::fs::write(&p, &data).unwrap();
    let (got, stats) = replay_all(dir.path());
    assert_same(&got, &want[..first_in_seg0]);
    assert!(stats.truncated_bytes > data.len() as u64);
    assert_eq!(super::segment::list_segments(dir.path()).unwrap(), vec![segs[0], segs[1]]);
    assert_eq!(std::fs::metadata(&p).unwrap().len(), SEGMENT_HEADER_LEN as u64);
}

#[test]
fn empty_and_short_segments() {
    let dir = tempfile::tempdir().unwrap();
    // Missing directory: empty replay.
    let (got, stats) = replay_all(&dir.path().join("nope"));
    assert!(got.is_empty());
    assert_eq!(stats.segments, 0);

    // Zero-length segments (created, then a crash) are skipped.
    std::fs::write(segment_path(dir.path(), 0), b"").unwrap();
    std::fs::write(segment_path(dir.path(), 1), b"").unwrap();
    let wal = Wal::open(dir.path(), opts(SyncPolicy::EveryCommit)).unwrap();
    assert_eq!(wal.current_segment(), Some(2));
    let s = samples(1, 5);
    wal.log(&[], &s).unwrap();
    wal.close().unwrap();
    let (got, stats) = replay_all(dir.path());
    assert_same(&got, &[Record::Samples(s.clone())]);
    assert_eq!(stats.segments, 3);

    // A header-only segment is valid and empty.
    let dir2 = tempfile::tempdir().unwrap();
    Wal::open(dir2.path(), opts(SyncPolicy::OnSegmentFull)).unwrap().close().unwrap();
    assert_eq!(
        std::fs::metadata(segment_path(dir2.path(), 0)).unwrap().len(),
        SEGMENT_HEADER_LEN as u64
    );
    let (got, stats) = replay_all(dir2.path());
    assert!(got.is_empty());
    assert_eq!(stats.truncated_bytes, 0);

    // A torn header is cut to zero and the following segments deleted.
    std::fs::write(segment_path(dir.path(), 3), b"PWA").unwrap();
    std::fs::write(segment_path(dir.path(), 4), b"PWAL\x01\0\0\0").unwrap();
    let (got, stats) = replay_all(dir.path());
    assert_same(&got, &[Record::Samples(s)]);
    assert_eq!(stats.truncated_bytes, 3 + 8);
    assert_eq!(super::segment::list_segments(dir.path()).unwrap(), vec![0, 1, 2, 3]);

    // A foreign header is damage at offset 0.
    std::fs::write(segment_path(dir.path(), 4), b"NOTAWALSEGMENT").unwrap();
    let (_, stats) = replay_all(dir.path());
    assert_eq!(stats.truncated_bytes, 14);
}

#[test]
fn rollover_keeps_commits_whole_and_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = opts(SyncPolicy::EveryCommit);
    o.segment_size_bytes = 2048;
    let want = write_commits(dir.path(), o.clone(), 60, 25);
    let segs = super::segment::list_segments(dir.path()).unwrap();
    assert!(segs.len() > 3, "{segs:?}");
    for &n in &segs {
        let data = std::fs::read(segment_path(dir.path(), n)).unwrap();
        // Each segment parses on its own: no frame crosses a boundary.
        let frames = frame_offsets(&data);
        assert!(data.len() <= 2048 || frames.len() <= 2, "segment {n} is {} bytes", data.len());
    }
    let (got, stats) = replay_all(dir.path());
    assert_same(&got, &want);
    assert_eq!(stats.segments as usize, segs.len());

    // One commit larger than a segment gets a segment of its own.
    let dir = tempfile::tempdir().unwrap();
    o.compress = false;
    let wal = Wal::open(dir.path(), o).unwrap();
    let small = samples(1, 2);
    let big = samples(2, 1000);
    wal.log(&[], &small).unwrap();
    wal.log(&[], &big).unwrap();
    wal.log(&[], &small).unwrap();
    wal.close().unwrap();
    assert_eq!(wal.segments().unwrap(), vec![0, 1, 2]);
    let (got, _) = replay_all(dir.path());
    assert_same(
        &got,
        &[Record::Samples(small.clone()), Record::Samples(big), Record::Samples(small)],
    );
}

#[test]
fn concurrent_committers_all_land() {
    let dir = tempfile::tempdir().unwrap();
    let wal = Arc::new(Wal::open(dir.path(), opts(SyncPolicy::EveryCommit)).unwrap());
    let threads: Vec<_> = (0..8u64)
        .map(|t| {
            let wal = wal.clone();
            std::thread::spawn(move || {
                for c in 0..40u64 {
                    let s = vec![RefSample {
                        series_ref: SeriesRef(t),
                        t_ms: c as i64,
                        value: (t * 1000 + c) as f64,
                    }];
                    wal.log(&[], &s).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    wal.close().unwrap();
    let (got, stats) = replay_all(dir.path());
    assert_eq!(stats.samples, 320);
    // Per thread, commits appear in the order they were made.
    let mut next = [0i64; 8];
    for r in got {
        let Record::Samples(s) = r else { panic!("only samples were logged") };
        let t = s[0].series_ref.0 as usize;
        assert_eq!(s[0].t_ms, next[t]);
        assert_eq!(s[0].value, (t as u64 * 1000 + s[0].t_ms as u64) as f64);
        next[t] += 1;
    }
    assert_eq!(next, [40; 8]);
}

#[test]
fn closed_wal_refuses_writes() {
    let dir = tempfile::tempdir().unwrap();
    let wal = Wal::open(dir.path(), opts(SyncPolicy::OnSegmentFull)).unwrap();
    wal.log(&[], &samples(0, 3)).unwrap();
    wal.sync().unwrap();
    wal.close().unwrap();
    wal.close().unwrap();
    assert!(matches!(wal.log(&[], &samples(1, 1)), Err(WalError::Closed)));
    assert!(matches!(wal.sync(), Err(WalError::Closed)));
    assert_eq!(wal.current_segment(), None);
}

#[test]
fn on_segment_full_buffers_small_commits_until_sync() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = opts(SyncPolicy::OnSegmentFull);
    o.compress = false;
    let wal = Wal::open(dir.path(), o).unwrap();
    wal.log(&[], &samples(0, 3)).unwrap();
    let p = segment_path(dir.path(), 0);
    assert_eq!(
        std::fs::metadata(&p).unwrap().len(),
        SEGMENT_HEADER_LEN as u64,
        "small commit stays buffered"
    );
    wal.sync().unwrap();
    assert!(std::fs::metadata(&p).unwrap().len() > SEGMENT_HEADER_LEN as u64, "sync writes it");
    // A commit larger than the flush threshold is written at once.
    wal.log(&[], &samples(1, 5000)).unwrap();
    let (got, _) = replay_all(dir.path());
    assert_eq!(got.len(), 2);
}

#[test]
fn every_commit_is_on_disk_when_log_returns() {
    let dir = tempfile::tempdir().unwrap();
    let wal = Wal::open(dir.path(), opts(SyncPolicy::EveryCommit)).unwrap();
    for c in 0..5 {
        wal.log(&[], &samples(c, 2)).unwrap();
        // Without closing, a replay (a fresh reader) already sees it.
        let (got, _) = replay_all(dir.path());
        assert_eq!(got.len() as u64, c + 1);
    }
}

#[test]
fn uring_backend_works_or_reports_why_not() {
    let dir = tempfile::tempdir().unwrap();
    let o = WalOptions { io: WalIo::Uring, sync: SyncPolicy::EveryCommit, ..WalOptions::default() };
    match uring_probe(dir.path()) {
        Ok(()) => {
            eprintln!("io_uring works here");
            let want = write_commits(dir.path(), o, 30, 100);
            let (got, _) = replay_all(dir.path());
            assert_same(&got, &want);
            // Auto picks a working backend either way.
            let wal = Wal::open(dir.path(), WalOptions::default()).unwrap();
            assert!(["file", "io_uring"].contains(&wal.io_backend()));
        }
        Err(why) => {
            eprintln!("io_uring unavailable here: {why}");
            assert!(
                matches!(Wal::open(dir.path(), o), Err(WalError::UringUnavailable(_))),
                "{why}"
            );
            let wal = Wal::open(dir.path(), WalOptions::default()).unwrap();
            assert_eq!(wal.io_backend(), "file");
        }
    }
}

#[test]
fn large_segments_decode_in_parallel_and_still_stop_at_damage() {
    // About 6 MiB in one segment: several decode batches.
    let src = tempfile::tempdir().unwrap();
    let mut o = opts(SyncPolicy::OnSegmentFull);
    o.compress = false;
    let want = write_commits(src.path(), o, 300, 2000);
    let (got, stats) = replay_all(src.path());
    assert_same(&got, &want);
    assert_eq!(stats.segments, 1);
    let data = std::fs::read(segment_path(src.path(), 0)).unwrap();
    assert!(data.len() > 4 << 20);
    let offsets = frame_offsets(&data);
    for frame in [150, 299] {
        let mut bad = data.clone();
        bad[offsets[frame] + FRAME_HEADER_LEN + 3] ^= 0x01;
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(segment_path(dir.path(), 0), &bad).unwrap();
        let (got, stats) = replay_all(dir.path());
        assert_same(&got, &want[..frame]);
        assert_eq!(stats.truncated_bytes, (data.len() - offsets[frame]) as u64);
    }
    // A garbage length field in an early frame.
    let mut bad = data.clone();
    bad[offsets[10] + 4] = 0x7f;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(segment_path(dir.path(), 0), &bad).unwrap();
    let (got, _) = replay_all(dir.path());
    assert_same(&got, &want[..10]);
}

/// A backend over real files that can cut writes short, fail fsyncs and
/// make fsyncs slow, and counts them.
mod faulty {
    use std::io;
    use std::path::Path;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
    use std::time::Duration;

    use super::super::io::{FileIo, SegmentFile, SegmentIo};

    #[derive(Default)]
    pub(super) struct Faults {
        /// Bytes that may still be written; a write past it lands partly
        /// and fails. Negative means unlimited.
        pub(super) write_budget: AtomicI64,
        pub(super) fail_sync: AtomicBool,
        pub(super) sync_delay_ms: AtomicU64,
        pub(super) syncs: AtomicU64,
    }

    pub(super) struct FaultyIo(pub(super) Arc<Faults>);

    struct FaultyFile(Arc<dyn SegmentFile>, Arc<Faults>);

    impl SegmentIo for FaultyIo {
        fn create(&self, path: &Path) -> io::Result<Arc<dyn SegmentFile>> {
            Ok(Arc::new(FaultyFile(FileIo.create(path)?, self.0.clone())))
        }
        fn name(&self) -> &'static str {
            "faulty"
        }
    }

    impl SegmentFile for FaultyFile {
        fn write_at(&self, buf: Vec<u8>, offset: u64) -> (io::Result<()>, Vec<u8>) {
            let budget = self.1.write_budget.load(Ordering::SeqCst);
            if budget < 0 || budget as usize >= buf.len() {
                if budget >= 0 {
                    self.1.write_budget.fetch_sub(buf.len() as i64, Ordering::SeqCst);
                }
                return self.0.write_at(buf, offset);
            }
            self.1.write_budget.store(0, Ordering::SeqCst);
            let (res, _) = self.0.write_at(buf[..budget as usize].to_vec(), offset);
            res.expect("partial write");
            (Err(io::Error::other("injected write failure")), buf)
        }
        fn sync(&self) -> io::Result<()> {
            self.1.syncs.fetch_add(1, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(self.1.sync_delay_ms.load(Ordering::SeqCst)));
            if self.1.fail_sync.load(Ordering::SeqCst) {
                return Err(io::Error::other("injected fsync failure"));
            }
            self.0.sync()
        }
    }
}

fn faulty(budget: i64) -> (Arc<faulty::Faults>, Arc<dyn io::SegmentIo>) {
    let f = Arc::new(faulty::Faults::default());
    f.write_budget.store(budget, std::sync::atomic::Ordering::SeqCst);
    (f.clone(), Arc::new(faulty::FaultyIo(f)))
}

#[test]
fn a_failed_write_poisons_and_what_landed_replays() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = opts(SyncPolicy::EveryCommit);
    o.compress = false;
    // The header and two and a half commits fit.
    let probe = tempfile::tempdir().unwrap();
    let w = Wal::open(probe.path(), o.clone()).unwrap();
    w.log(&[], &samples(0, 3)).unwrap();
    w.close().unwrap();
    let one_commit = std::fs::metadata(segment_path(probe.path(), 0)).unwrap().len() as i64 - 8;
    let (_, io) = faulty(8 + one_commit * 5 / 2);
    let wal = Wal::open_with_io(dir.path(), o, io).unwrap();
    wal.log(&[], &samples(0, 3)).unwrap();
    wal.log(&[], &samples(1, 3)).unwrap();
    let err = wal.log(&[], &samples(2, 3)).unwrap_err();
    assert!(matches!(err, WalError::IoAt { .. }), "{err}");
    assert!(matches!(wal.log(&[], &samples(3, 3)), Err(WalError::Poisoned(_))));
    assert!(matches!(wal.sync(), Err(WalError::Poisoned(_))));
    assert!(matches!(wal.close(), Err(WalError::Poisoned(_))));
    let (got, stats) = replay_all(dir.path());
    assert_same(&got, &[Record::Samples(samples(0, 3)), Record::Samples(samples(1, 3))]);
    assert!(stats.truncated_bytes > 0, "the partial third commit is cut");
}

#[test]
fn a_failed_fsync_fails_every_waiter_and_poisons() {
    let dir = tempfile::tempdir().unwrap();
    let (faults, io) = faulty(-1);
    let wal = Arc::new(Wal::open_with_io(dir.path(), opts(SyncPolicy::EveryCommit), io).unwrap());
    wal.log(&[], &samples(0, 3)).unwrap();
    faults.fail_sync.store(true, std::sync::atomic::Ordering::SeqCst);
    faults.sync_delay_ms.store(5, std::sync::atomic::Ordering::SeqCst);
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let wal = wal.clone();
            std::thread::spawn(move || wal.log(&[], &samples(10 + t, 3)))
        })
        .collect();
    for t in threads {
        assert!(t.join().unwrap().is_err(), "no commit is acknowledged after a failed fsync");
    }
    assert!(matches!(wal.log(&[], &samples(20, 1)), Err(WalError::Poisoned(_))));
}

#[test]
fn group_commit_shares_fsyncs() {
    let dir = tempfile::tempdir().unwrap();
    let (faults, io) = faulty(-1);
    // A slow disk: while one fsync runs, the other committers queue up.
    faults.sync_delay_ms.store(2, std::sync::atomic::Ordering::SeqCst);
    let wal = Arc::new(Wal::open_with_io(dir.path(), opts(SyncPolicy::EveryCommit), io).unwrap());
    let (threads, per_thread) = (8u64, 20u64);
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let wal = wal.clone();
            std::thread::spawn(move || {
                for c in 0..per_thread {
                    wal.log(&[], &samples(t * 100 + c, 2)).unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let syncs = faults.syncs.load(std::sync::atomic::Ordering::SeqCst);
    let commits = threads * per_thread;
    assert!(syncs < commits / 2, "{syncs} fsyncs for {commits} commits");
    wal.close().unwrap();
    let (_, stats) = replay_all(dir.path());
    assert_eq!(stats.samples, commits * 2);
}
