//! Replay: read every segment in order and hand its records to a sink.
//!
//! Each segment is read whole (segments are bounded, 128 MiB by default, and
//! one large read beats many small ones) and its frames are checked and
//! decoded one by one. The first frame that is torn, fails its checksum or
//! does not decode ends the log: everything from there on is cut off by
//! `repair.rs`, as Prometheus' WAL repair does, because a commit after a
//! damaged one may depend on it (a samples record on a lost series record).

use std::path::Path;
use std::time::{Duration, Instant};

use super::record::{
    DecodeError, TYPE_SAMPLES, TYPE_SERIES, TYPE_TOMBSTONES, decode_samples_into, decode_series,
    decode_tombstones,
};
use super::segment::{
    FRAME_HEADER_LEN, FrameError, SEGMENT_HEADER_LEN, SEGMENT_MAGIC, list_segments, parse_frame,
    segment_path, unpack,
};
use super::{Record, ReplayStats, WalError, repair};

/// Where replay found the log to end early.
#[derive(Debug)]
pub(crate) struct Damage {
    pub(crate) segment: u32,
    pub(crate) offset: u64,
    pub(crate) reason: FrameError,
}

/// Decoder threads per segment at most; replay runs at start-up, when the
/// machine has nothing better to do.
const MAX_WORKERS: usize = 4;

/// Log a progress line at most this often (plus one per segment when there
/// are few), so a long replay shows it is moving without flooding the log.
const PROGRESS_EVERY: Duration = Duration::from_secs(5);

/// Reads all segments of `dir` into `sink`, repairing a damaged tail.
pub(crate) fn replay(dir: &Path, sink: &mut dyn FnMut(Record)) -> Result<ReplayStats, WalError> {
    let start = Instant::now();
    let segments = list_segments(dir).map_err(|e| WalError::io_at(dir, "listing segments", e))?;
    let mut stats = ReplayStats::default();
    let mut decoder = Decoder::default();
    let mut last_progress = Instant::now();
    let max_segment = segments.last().copied();
    let mut data = Vec::new();

    for (i, &n) in segments.iter().enumerate() {
        let path = segment_path(dir, n);
        // One buffer for all segments: a fresh 128 MiB allocation per
        // segment costs page faults on every byte.
        data.clear();
        std::fs::File::open(&path)
            .and_then(|mut f| std::io::Read::read_to_end(&mut f, &mut data))
            .map_err(|e| WalError::io_at(&path, "reading segment", e))?;
        stats.segments += 1;
        if let Err(damage) = decoder.segment(n, &data, sink, &mut stats) {
            stats.truncated_bytes +=
                repair::cut(dir, &damage, data.len() as u64, &segments[i + 1..])?;
            break;
        }
        if last_progress.elapsed() >= PROGRESS_EVERY || segments.len() <= 16 {
            tracing::info!(
                segment = n,
                max_segment,
                samples = stats.samples,
                "wal segment replayed"
            );
            last_progress = Instant::now();
        }
    }

    stats.duration = start.elapsed();
    let secs = stats.duration.as_secs_f64().max(1e-9);
    tracing::info!(
        segments = stats.segments,
        records = stats.records,
        series = stats.series,
        samples = stats.samples,
        truncated_bytes = stats.truncated_bytes,
        duration_ms = stats.duration.as_millis() as u64,
        samples_per_sec = (stats.samples as f64 / secs) as u64,
        "wal replay finished"
    );
    Ok(stats)
}

/// Segments are decoded in batches of about this many bytes of frames.
const BATCH_BYTES: usize = 1 << 20;

/// Reusable decompression state.
#[derive(Default)]
struct Decoder {
    zstd: Option<zstd::bulk::Decompressor<'static>>,
    scratch: Vec<u8>,
}

/// The records of one batch of frames, and where it hit damage, if it did.
struct Decoded {
    records: Vec<Record>,
    damage: Option<(usize, FrameError)>,
}

/// Splits the frames from `SEGMENT_HEADER_LEN` on into batches at frame
/// boundaries by walking the length fields only. Checking is left to the
/// decoders: if a length is garbage, the frame it starts fails its checksum
/// (or is torn), and since results are consumed in order, nothing after it
/// is used.
fn batches(data: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let (mut start, mut off) = (SEGMENT_HEADER_LEN, SEGMENT_HEADER_LEN);
    while off < data.len() {
        let Some(len) = data.get(off + 2..off + 6) else {
            off = data.len();
            break;
        };
        let total =
            FRAME_HEADER_LEN + u32::from_le_bytes(len.try_into().expect("four bytes")) as usize;
        off = off.saturating_add(total).min(data.len());
        if off - start >= BATCH_BYTES {
            out.push((start, off));
            start = off;
        }
    }
    if off > start {
        out.push((start, off));
    }
    out
}

impl Decoder {
    /// Feeds every valid record of one segment to `sink`; returns where the
    /// segment stops being valid, if it does.
    fn segment(
        &mut self,
        n: u32,
        data: &[u8],
        sink: &mut dyn FnMut(Record),
        stats: &mut ReplayStats,
    ) -> Result<(), Damage> {
        if data.is_empty() {
            // Created, then the process died before the header was written.
            return Ok(());
        }
        let damage = |offset: usize, reason| Damage { segment: n, offset: offset as u64, reason };
        if data.len() < SEGMENT_HEADER_LEN {
            return Err(damage(
                0,
                FrameError::Torn { needed: SEGMENT_HEADER_LEN, available: data.len() },
            ));
        }
        if data[..4] != SEGMENT_MAGIC
            || data[4] != super::segment::FORMAT_VERSION
            || data[5..8] != [0, 0, 0]
        {
            return Err(damage(0, FrameError::BadSegmentHeader));
        }
        let batches = batches(data);
        let workers = std::thread::available_parallelism().map_or(1, |n| n.get()).min(MAX_WORKERS);
        let mut deliver = |d: Decoded| -> Result<(), Damage> {
            for record in d.records {
                count(&record, stats);
                sink(record);
            }
            match d.damage {
                Some((off, reason)) => Err(damage(off, reason)),
                None => Ok(()),
            }
        };
        if batches.len() < 2 || workers < 2 {
            for &(start, end) in &batches {
                deliver(self.batch(data, start, end))?;
            }
            return Ok(());
        }
        // Decode batches on worker threads (batch i on worker i % workers)
        // while this thread feeds the sink in log order. Decompression and
        // varint decoding dominate replay, so this is where cores help.
        std::thread::scope(|scope| {
            let receivers: Vec<_> = (0..workers)
                .map(|w| {
                    let (tx, rx) = std::sync::mpsc::sync_channel::<Decoded>(2);
                    let mine: Vec<(usize, usize)> =
                        batches.iter().copied().skip(w).step_by(workers).collect();
                    scope.spawn(move || {
                        let mut dec = Decoder::default();
                        for (start, end) in mine {
                            let d = dec.batch(data, start, end);
                            let stop = d.damage.is_some();
                            // A send fails once the reader stopped at damage.
                            if tx.send(d).is_err() || stop {
                                return;
                            }
                        }
                    });
                    rx
                })
                .collect();
            for i in 0..batches.len() {
                let d =
                    receivers[i % workers].recv().expect("worker sends every batch until damage");
                deliver(d)?;
            }
            Ok(())
        })
    }

    /// Checks and decodes the frames in `data[start..end]`. Frames are parsed
    /// against the rest of the segment so a length past `end` is seen for
    /// what it is.
    fn batch(&mut self, data: &[u8], start: usize, end: usize) -> Decoded {
        let mut records = Vec::new();
        let mut off = start;
        while off < end {
            let (frame, len) = match parse_frame(&data[off..]) {
                Ok(f) => f,
                Err(e) => return Decoded { records, damage: Some((off, e)) },
            };
            match self.decode(&frame) {
                Ok(r) => records.push(r),
                Err(e) => return Decoded { records, damage: Some((off, FrameError::Payload(e))) },
            }
            off += len;
        }
        Decoded { records, damage: None }
    }

    fn decode(&mut self, frame: &super::segment::RawFrame<'_>) -> Result<Record, DecodeError> {
        let payload = unpack(frame, &mut self.zstd, &mut self.scratch)?;
        match frame.typ {
            TYPE_SERIES => decode_series(payload).map(Record::Series),
            TYPE_SAMPLES => {
                let mut v = Vec::new();
                decode_samples_into(payload, &mut v)?;
                Ok(Record::Samples(v))
            }
            TYPE_TOMBSTONES => decode_tombstones(payload).map(Record::Tombstones),
            t => Err(DecodeError::UnknownType(t)),
        }
    }
}

fn count(record: &Record, stats: &mut ReplayStats) {
    stats.records += 1;
    match record {
        Record::Series(s) => stats.series += s.len() as u64,
        Record::Samples(s) => stats.samples += s.len() as u64,
        Record::Tombstones(_) => {}
    }
}
