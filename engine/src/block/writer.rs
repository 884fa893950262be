//! Writes a block directory from series handed over in label order.
//!
//! The block is built in `<ulid>.tmp`, every file fsynced, then renamed to
//! `<ulid>` and the parent directory fsynced: a block directory without the
//! `.tmp` suffix is always complete. Start-up removes leftover `.tmp`
//! directories ([`super::repair`]).

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use super::codec::{encode_run, put_uvarint, put_varint};
use super::meta::{BlockMeta, new_ulid};
use super::{
    BlockError, CHUNKS_DIR, CHUNKS_FILE, CHUNKS_MAGIC, FRAME_RAW_BYTES, INDEX_FILE, INDEX_MAGIC,
    META_FILE, RUN_WINDOW_MS, TOMBSTONES_FILE, ZSTD_LEVEL, crash_point, fsync_dir,
};
use crate::model::{Labels, Sample};

/// One column run of a series: at most one run window of samples.
struct RunEntry {
    min_t: i64,
    max_t: i64,
    frame_off: u64,
    off_in_frame: u64,
    len: u64,
    num_samples: u64,
}

/// One series as the index records it.
struct SeriesEntry {
    labels: Labels,
    runs: Vec<RunEntry>,
}

/// Streams series into a new block.
pub struct BlockWriter {
    parent: PathBuf,
    tmp: PathBuf,
    ulid: String,
    min_t: i64,
    max_t: i64,
    chunks: BufWriter<File>,
    chunks_len: u64,
    frame: Vec<u8>,
    frame_off: u64,
    series: Vec<SeriesEntry>,
    last_labels: Option<Labels>,
    num_samples: u64,
    num_runs: u64,
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
        Ok(BlockWriter {
            parent: parent.to_owned(),
            tmp,
            ulid,
            min_t: min_t_ms,
            max_t: max_t_ms,
            chunks,
            chunks_len: CHUNKS_MAGIC.len() as u64,
            frame: Vec::with_capacity(FRAME_RAW_BYTES + 4096),
            frame_off: CHUNKS_MAGIC.len() as u64,
            series: Vec::new(),
            last_labels: None,
            num_samples: 0,
            num_runs: 0,
        })
    }

    /// Adds one series' samples (sorted, inside the block's range). Series
    /// must come in increasing label order; empty ones are skipped.
    pub fn add_series(&mut self, labels: &Labels, samples: &[Sample]) -> Result<(), BlockError> {
        if samples.is_empty() {
            return Ok(());
        }
        if self.last_labels.as_ref().is_some_and(|l| l >= labels) {
            return Err(BlockError::Invalid(format!("series {labels} added out of order")));
        }
        self.last_labels = Some(labels.clone());
        let mut runs = Vec::new();
        let mut rest = samples;
        while let Some(first) = rest.first() {
            let window_end = first
                .t_ms
                .div_euclid(RUN_WINDOW_MS)
                .saturating_add(1)
                .saturating_mul(RUN_WINDOW_MS);
            let n = rest.partition_point(|s| s.t_ms < window_end);
            let (run, tail) = rest.split_at(n);
            let off_in_frame = self.frame.len() as u64;
            encode_run(run, &mut self.frame);
            runs.push(RunEntry {
                min_t: run[0].t_ms,
                max_t: run[run.len() - 1].t_ms,
                frame_off: self.frame_off,
                off_in_frame,
                len: self.frame.len() as u64 - off_in_frame,
                num_samples: run.len() as u64,
            });
            rest = tail;
        }
        self.num_runs += runs.len() as u64;
        self.series.push(SeriesEntry { labels: labels.clone(), runs });
        self.num_samples += samples.len() as u64;
        if self.frame.len() >= FRAME_RAW_BYTES {
            self.flush_frame()?;
        }
        Ok(())
    }

    /// Compresses the pending frame: `u32 LE compressed length`, `u32 LE
    /// raw length`, zstd bytes.
    fn flush_frame(&mut self) -> Result<(), BlockError> {
        if self.frame.is_empty() {
            return Ok(());
        }
        let path = self.tmp.join(CHUNKS_DIR).join(CHUNKS_FILE);
        let packed =
            zstd::bulk::compress(&self.frame, ZSTD_LEVEL).map_err(BlockError::io(&path))?;
        let mut head = [0u8; 8];
        head[..4].copy_from_slice(&(packed.len() as u32).to_le_bytes());
        head[4..].copy_from_slice(&(self.frame.len() as u32).to_le_bytes());
        self.chunks.write_all(&head).map_err(BlockError::io(&path))?;
        self.chunks.write_all(&packed).map_err(BlockError::io(&path))?;
        self.chunks_len += 8 + packed.len() as u64;
        self.frame_off = self.chunks_len;
        self.frame.clear();
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
        self.flush_frame()?;
        let chunks_path = self.tmp.join(CHUNKS_DIR).join(CHUNKS_FILE);
        let file =
            self.chunks.into_inner().map_err(|e| BlockError::io(&chunks_path)(e.into_error()))?;
        file.sync_all().map_err(BlockError::io(&chunks_path))?;
        crash_point("block-write-chunks");

        let index = encode_index(&self.series);
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
fn encode_index(series: &[SeriesEntry]) -> Vec<u8> {
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
        for r in &s.runs {
            put_varint(&mut out, r.min_t);
            put_varint(&mut out, r.max_t);
            put_uvarint(&mut out, r.frame_off);
            put_uvarint(&mut out, r.off_in_frame);
            put_uvarint(&mut out, r.len);
            put_uvarint(&mut out, r.num_samples);
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
        for id in ids {
            out.extend_from_slice(&id.to_le_bytes());
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
