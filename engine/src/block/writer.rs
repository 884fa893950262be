//! Writes a block directory from series handed over in label order.
//!
//! Samples are cut into 2 h windows ([`RUN_WINDOW_MS`]) and every frame of
//! the chunk file holds columns of one window only, so a query over 2 h of
//! a long block decompresses only that window's frames. Inside a frame,
//! timestamp columns come first, each distinct column once (series scraped
//! together, every series of a target, have identical columns), then the
//! value columns: zstd sees two homogeneous sections.
//!
//! The block is built in `<ulid>.tmp`, every file fsynced, then renamed to
//! `<ulid>` and the parent directory fsynced: a block directory without the
//! `.tmp` suffix is always complete. Start-up removes leftover `.tmp`
//! directories ([`super::load_blocks`]).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use super::codec::{encode_timestamps, encode_values, put_uvarint};
use super::meta::{BlockMeta, new_ulid};
use super::{
    BlockError, CHUNKS_DIR, CHUNKS_FILE, CHUNKS_MAGIC, FRAME_HEADER_BYTES, FRAME_RAW_BYTES,
    INDEX_FILE, INDEX_MAGIC, META_FILE, RUN_WINDOW_MS, TOMBSTONES_FILE, ZSTD_LEVEL, crash_point,
    fsync_dir,
};
use crate::model::{Labels, Sample};

/// Most raw bytes kept in unfinished frames of all windows together: past
/// it the largest is written out, so writing a block spanning many
/// windows series by series stays within a few frames of memory.
const MAX_PENDING_BYTES: usize = 8 * FRAME_RAW_BYTES;

/// One run of a series: its samples in one window.
struct RunEntry {
    min_t: i64,
    max_t: i64,
    /// Number of its frame in the chunk file, set when the frame is written.
    frame: u64,
    ts_off: u64,
    val_off: u64,
    val_len: u64,
}

/// One series as the index records it.
struct SeriesEntry {
    labels: Labels,
    runs: Vec<RunEntry>,
}

/// A frame being filled: one window's columns.
#[derive(Default)]
struct FrameBuilder {
    timestamps: Vec<u8>,
    values: Vec<u8>,
    /// Hash of a timestamp column → (offset, length) of the columns with
    /// that hash already in `timestamps`.
    ts_columns: HashMap<u64, Vec<(usize, usize)>>,
    /// (series, run) entries whose frame offset is set on flush.
    members: Vec<(usize, usize)>,
}

impl FrameBuilder {
    fn raw_len(&self) -> usize {
        self.timestamps.len() + self.values.len()
    }

    /// Adds `ts` (an encoded timestamp column) unless an identical one is
    /// present; returns its offset.
    fn intern_timestamps(&mut self, ts: &[u8]) -> usize {
        let h = xxhash_rust::xxh3::xxh3_64(ts);
        let same = self.ts_columns.entry(h).or_default();
        if let Some(&(off, _)) =
            same.iter().find(|&&(off, len)| &self.timestamps[off..off + len] == ts)
        {
            return off;
        }
        let off = self.timestamps.len();
        self.timestamps.extend_from_slice(ts);
        same.push((off, ts.len()));
        off
    }
}

/// A series registered with [`BlockWriter::begin_series`].
#[derive(Debug, Clone, Copy)]
pub struct SeriesId(usize);

/// Streams series into a new block.
pub struct BlockWriter {
    parent: PathBuf,
    tmp: PathBuf,
    ulid: String,
    min_t: i64,
    max_t: i64,
    chunks: BufWriter<File>,
    /// Frames written so far.
    frames: u64,
    /// Unfinished frames by window start.
    pending: BTreeMap<i64, FrameBuilder>,
    pending_bytes: usize,
    series: Vec<SeriesEntry>,
    num_samples: u64,
    num_runs: u64,
    ts_scratch: Vec<u8>,
    compressor: zstd::bulk::Compressor<'static>,
}

impl BlockWriter {
    /// Starts a block covering `[min_t_ms, max_t_ms)` under `parent`.
    pub fn new(parent: &Path, min_t_ms: i64, max_t_ms: i64) -> Result<BlockWriter, BlockError> {
        let ulid = new_ulid();
        let tmp = parent.join(format!("{ulid}.tmp"));
        let io = BlockError::io(&tmp);
        std::fs::create_dir_all(tmp.join(CHUNKS_DIR)).map_err(io)?;
        let path = tmp.join(CHUNKS_DIR).join(CHUNKS_FILE);
        let mut chunks = BufWriter::new(File::create(&path).map_err(BlockError::io(&path))?);
        chunks.write_all(&CHUNKS_MAGIC).map_err(BlockError::io(&path))?;
        let compressor = zstd::bulk::Compressor::new(ZSTD_LEVEL).map_err(BlockError::io(&path))?;
        Ok(BlockWriter {
            parent: parent.to_owned(),
            tmp,
            ulid,
            min_t: min_t_ms,
            max_t: max_t_ms,
            chunks,
            frames: 0,
            pending: BTreeMap::new(),
            pending_bytes: 0,
            series: Vec::new(),
            num_samples: 0,
            num_runs: 0,
            ts_scratch: Vec::new(),
            compressor,
        })
    }

    /// Adds one series' samples (sorted, inside the block's range). Series
    /// must come in increasing label order; empty ones are left out.
    pub fn add_series(&mut self, labels: &Labels, samples: &[Sample]) -> Result<(), BlockError> {
        let id = self.begin_series(labels)?;
        self.add_samples(id, samples)
    }

    /// Registers a series whose samples come later through
    /// [`BlockWriter::add_samples`] (compaction hands samples over window by
    /// window). Series must come in increasing label order; a series that
    /// never gets a sample is left out of the block.
    pub fn begin_series(&mut self, labels: &Labels) -> Result<SeriesId, BlockError> {
        if self.series.last().is_some_and(|s| &s.labels >= labels) {
            return Err(BlockError::Invalid(format!("series {labels} added out of order")));
        }
        self.series.push(SeriesEntry { labels: labels.clone(), runs: Vec::new() });
        Ok(SeriesId(self.series.len() - 1))
    }

    /// Adds samples (sorted, later than any added before) to series `id`.
    pub fn add_samples(&mut self, id: SeriesId, samples: &[Sample]) -> Result<(), BlockError> {
        let SeriesId(sid) = id;
        let (Some(first), Some(last)) = (samples.first(), samples.last()) else { return Ok(()) };
        let entry =
            self.series.get(sid).ok_or_else(|| BlockError::Invalid("no such series".into()))?;
        if entry.runs.last().is_some_and(|r| r.max_t >= first.t_ms) {
            return Err(BlockError::Invalid(format!(
                "samples of series {} added out of time order",
                entry.labels
            )));
        }
        if first.t_ms < self.min_t || last.t_ms >= self.max_t {
            return Err(BlockError::Invalid(format!(
                "samples of series {} outside the block's range",
                entry.labels
            )));
        }
        let mut rest = samples;
        while let Some(first) = rest.first() {
            let window = first.t_ms.div_euclid(RUN_WINDOW_MS).saturating_mul(RUN_WINDOW_MS);
            let end = window.saturating_add(RUN_WINDOW_MS);
            let n = rest.partition_point(|s| s.t_ms < end);
            let (run, tail) = rest.split_at(n);
            self.add_run(sid, window, run)?;
            rest = tail;
        }
        self.num_samples += samples.len() as u64;
        Ok(())
    }

    /// Encodes one window's samples of series `sid` into that window's frame.
    fn add_run(&mut self, sid: usize, window: i64, run: &[Sample]) -> Result<(), BlockError> {
        self.ts_scratch.clear();
        encode_timestamps(run, &mut self.ts_scratch);
        let frame = self.pending.entry(window).or_default();
        let before = frame.raw_len();
        let ts_off = frame.intern_timestamps(&self.ts_scratch);
        let val_off = frame.values.len();
        encode_values(run, &mut frame.values);
        let series = &mut self.series[sid];
        frame.members.push((sid, series.runs.len()));
        series.runs.push(RunEntry {
            min_t: run[0].t_ms,
            max_t: run[run.len() - 1].t_ms,
            frame: 0,
            ts_off: ts_off as u64,
            val_off: val_off as u64,
            val_len: (frame.values.len() - val_off) as u64,
        });
        self.num_runs += 1;
        let after = frame.raw_len();
        self.pending_bytes += after - before;
        if after >= FRAME_RAW_BYTES {
            self.flush_frame(window)?;
        }
        while self.pending_bytes > MAX_PENDING_BYTES {
            let largest = self
                .pending
                .iter()
                .max_by_key(|(_, f)| f.raw_len())
                .map(|(w, _)| *w)
                .expect("pending bytes imply a pending frame");
            self.flush_frame(largest)?;
        }
        Ok(())
    }

    /// Compresses the pending frame of `window`: `u32 LE compressed
    /// length`, `u32 LE raw length`, `u32 LE timestamp section length`,
    /// zstd bytes of the timestamp section followed by the value section.
    fn flush_frame(&mut self, window: i64) -> Result<(), BlockError> {
        let Some(frame) = self.pending.remove(&window) else { return Ok(()) };
        self.pending_bytes -= frame.raw_len();
        if frame.members.is_empty() {
            return Ok(());
        }
        let path = self.tmp.join(CHUNKS_DIR).join(CHUNKS_FILE);
        let mut raw = frame.timestamps;
        let ts_len = raw.len();
        raw.extend_from_slice(&frame.values);
        let packed = self.compressor.compress(&raw).map_err(BlockError::io(&path))?;
        let too_big = |_| BlockError::Invalid("frame larger than 4 GiB".into());
        let mut head = [0u8; FRAME_HEADER_BYTES];
        head[..4].copy_from_slice(&u32::try_from(packed.len()).map_err(too_big)?.to_le_bytes());
        head[4..8].copy_from_slice(&u32::try_from(raw.len()).map_err(too_big)?.to_le_bytes());
        head[8..].copy_from_slice(&u32::try_from(ts_len).map_err(too_big)?.to_le_bytes());
        self.chunks.write_all(&head).map_err(BlockError::io(&path))?;
        self.chunks.write_all(&packed).map_err(BlockError::io(&path))?;
        let number = self.frames;
        self.frames += 1;
        for (sid, run) in frame.members {
            self.series[sid].runs[run].frame = number;
        }
        Ok(())
    }

    /// Writes the index, tombstones and meta, syncs and renames the block
    /// into place. Returns its meta.
    pub fn finish(
        mut self,
        level: u32,
        sources: Vec<String>,
        parents: Vec<String>,
    ) -> Result<BlockMeta, BlockError> {
        let windows: Vec<i64> = self.pending.keys().copied().collect();
        for w in windows {
            self.flush_frame(w)?;
        }
        self.series.retain(|s| !s.runs.is_empty());
        let chunks_path = self.tmp.join(CHUNKS_DIR).join(CHUNKS_FILE);
        let file =
            self.chunks.into_inner().map_err(|e| BlockError::io(&chunks_path)(e.into_error()))?;
        file.sync_all().map_err(BlockError::io(&chunks_path))?;
        crash_point("block-write-chunks");

        let index = encode_index(&self.series, self.min_t);
        write_synced(&self.tmp.join(INDEX_FILE), &index)?;
        write_synced(
            &self.tmp.join(TOMBSTONES_FILE),
            &super::tombstones::encode(&BTreeMap::new()),
        )?;
        let sources = if sources.is_empty() { vec![self.ulid.clone()] } else { sources };
        let meta = BlockMeta {
            ulid: self.ulid.clone(),
            min_t_ms: self.min_t,
            max_t_ms: self.max_t,
            num_samples: self.num_samples,
            num_series: self.series.len() as u64,
            num_chunks: self.num_runs,
            num_tombstones: 0,
            level,
            sources,
            parents,
        };
        write_synced(&self.tmp.join(META_FILE), meta.to_json().as_bytes())?;
        fsync_dir(&self.tmp.join(CHUNKS_DIR))?;
        fsync_dir(&self.tmp)?;
        crash_point("block-write-before-rename");
        let dest = self.parent.join(&self.ulid);
        std::fs::rename(&self.tmp, &dest).map_err(BlockError::io(&dest))?;
        fsync_dir(&self.parent)?;
        Ok(meta)
    }
}

/// Writes `data` to `path` and fsyncs it.
pub(crate) fn write_synced(path: &Path, data: &[u8]) -> Result<(), BlockError> {
    let mut f = File::create(path).map_err(BlockError::io(path))?;
    f.write_all(data).map_err(BlockError::io(path))?;
    f.sync_all().map_err(BlockError::io(path))
}

/// The index file: see docs/format/blocks.md.
fn encode_index(series: &[SeriesEntry], block_min_t: i64) -> Vec<u8> {
    let mut symbols: BTreeSet<&str> = BTreeSet::new();
    for s in series {
        for l in &s.labels {
            symbols.insert(l.name);
            symbols.insert(l.value);
        }
    }
    let sym_id: BTreeMap<&str, u64> =
        symbols.iter().enumerate().map(|(i, s)| (*s, i as u64)).collect();
    let mut out = Vec::new();
    out.extend_from_slice(&INDEX_MAGIC);

    let symbols_off = out.len() as u64;
    out.extend_from_slice(&(symbols.len() as u32).to_le_bytes());
    for s in &symbols {
        put_uvarint(&mut out, s.len() as u64);
        out.extend_from_slice(s.as_bytes());
    }

    let mut series_offs = Vec::with_capacity(series.len());
    let mut postings: BTreeMap<(&str, &str), Vec<u32>> = BTreeMap::new();
    for (id, s) in series.iter().enumerate() {
        series_offs.push(out.len() as u64);
        put_uvarint(&mut out, s.labels.len() as u64);
        for l in &s.labels {
            put_uvarint(&mut out, sym_id[l.name]);
            put_uvarint(&mut out, sym_id[l.value]);
            postings.entry((l.name, l.value)).or_default().push(id as u32);
        }
        put_uvarint(&mut out, s.runs.len() as u64);
        // Times relative to windows (a run's window is after the previous
        // run's, the first at or after the block's): a byte or two each
        // where absolute milliseconds took six.
        let mut window = block_min_t.div_euclid(RUN_WINDOW_MS);
        for r in &s.runs {
            let w = r.min_t.div_euclid(RUN_WINDOW_MS);
            put_uvarint(&mut out, (w - window) as u64);
            put_uvarint(&mut out, (r.min_t - w * RUN_WINDOW_MS) as u64);
            window = w;
            put_uvarint(&mut out, r.frame);
            put_uvarint(&mut out, r.ts_off);
            put_uvarint(&mut out, r.val_off);
            put_uvarint(&mut out, r.val_len);
        }
    }
    align8(&mut out);
    let series_table_off = out.len() as u64;
    for off in &series_offs {
        out.extend_from_slice(&off.to_le_bytes());
    }

    let postings_off = out.len() as u64;
    let mut postings_table = Vec::with_capacity(postings.len());
    for (pair, ids) in &postings {
        postings_table.push((*pair, out.len() as u64));
        out.extend_from_slice(&(ids.len() as u32).to_le_bytes());
        let mut prev = 0u32;
        for (i, &id) in ids.iter().enumerate() {
            // The first id, then gaps (ids increase): a byte for most.
            put_uvarint(&mut out, u64::from(if i == 0 { id } else { id - prev }));
            prev = id;
        }
    }
    let postings_table_off = out.len() as u64;
    out.extend_from_slice(&(postings_table.len() as u32).to_le_bytes());
    for ((name, value), off) in postings_table {
        put_uvarint(&mut out, sym_id[name]);
        put_uvarint(&mut out, sym_id[value]);
        put_uvarint(&mut out, off);
    }
    for v in [symbols_off, series_table_off, series.len() as u64, postings_off, postings_table_off]
    {
        out.extend_from_slice(&v.to_le_bytes());
    }
    let crc = crc32c::crc32c(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

fn align8(out: &mut Vec<u8>) {
    while !out.len().is_multiple_of(8) {
        out.push(0);
    }
}
