//! [`Block`]: a block directory opened through `memmap2`.
//!
//! Opening maps `index` and the chunk file and reads only the small
//! tables (symbols, postings offsets, the fixed-width series offset table
//! is used in place); series entries, postings lists and chunk frames are
//! read from the mappings when a query needs them.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use memmap2::Mmap;
use parking_lot::RwLock;

use super::codec::{decode_timestamps, decode_values, get_uvarint};
use super::meta::BlockMeta;
use super::tombstones::{self, Tombstones};
use super::writer::write_synced;
use super::{
    BlockError, CHUNKS_DIR, CHUNKS_FILE, CHUNKS_MAGIC, FRAME_HEADER_BYTES, INDEX_FILE, INDEX_MAGIC,
    META_FILE, RUN_WINDOW_MS, TOMBSTONES_FILE,
};
use crate::head::index::{intersect_sorted, subtract_sorted};
use crate::model::{Labels, MatchType, Matcher, Sample};

/// Bytes of the index trailer: five u64 offsets/counts and a CRC32C.
const TRAILER_BYTES: usize = 5 * 8 + 4;

/// Where one run (a series' samples in one 2 h window) is.
#[derive(Debug, Clone, Copy)]
pub struct RunInfo {
    /// First sample time.
    pub min_t_ms: i64,
    /// Not before the last sample time: the last millisecond of the run's
    /// window (the index does not store the last time; the timestamp
    /// column has it).
    pub max_t_ms: i64,
    pub(crate) frame_off: u64,
    pub(crate) ts_off: u64,
    pub(crate) val_off: u64,
    pub(crate) val_len: u64,
}

impl RunInfo {
    /// Start of the 2 h window holding the run (every frame holds runs of
    /// one window, so reading window by window decompresses each frame
    /// once).
    pub fn window(&self) -> i64 {
        self.min_t_ms.div_euclid(RUN_WINDOW_MS)
    }
}

/// Where one series' samples are.
#[derive(Debug, Clone)]
pub struct SeriesInfo {
    /// First sample time.
    pub min_t_ms: i64,
    /// Not before the last sample time (see [`RunInfo::max_t_ms`]).
    pub max_t_ms: i64,
    /// Its runs, in time order.
    pub runs: Vec<RunInfo>,
}

/// An open, immutable block.
pub struct Block {
    dir: PathBuf,
    meta: BlockMeta,
    index: Mmap,
    chunks: Mmap,
    symbols: Vec<String>,
    /// Label name → its values (sorted) with their postings list offsets.
    postings: BTreeMap<String, Vec<(String, usize)>>,
    series_table_off: usize,
    num_series: usize,
    /// Byte offset of every frame in the chunk file, in order (the index
    /// names frames by number).
    frame_offsets: Vec<u64>,
    tombstones: RwLock<Tombstones>,
}

/// A decompressed frame and its decoded timestamp columns, kept while
/// neighbouring series are read.
#[derive(Default)]
pub struct FrameCache {
    off: Option<u64>,
    raw: Vec<u8>,
    ts_len: usize,
    /// Decoded timestamp columns of the frame by offset: each is shared by
    /// many series and decoded once.
    timestamps: Vec<(u64, Vec<i64>)>,
    /// Reused vectors of decoded columns.
    spare: Vec<Vec<i64>>,
    decompressor: Option<zstd::bulk::Decompressor<'static>>,
}

impl Block {
    /// Opens the block in `dir`.
    pub fn open(dir: &Path) -> Result<Block, BlockError> {
        let corrupt =
            |what: &str| BlockError::Corrupt { path: dir.to_owned(), reason: what.to_owned() };
        let meta_path = dir.join(META_FILE);
        let meta_text = std::fs::read_to_string(&meta_path).map_err(BlockError::io(&meta_path))?;
        let version = super::meta::format_version(&meta_text).map_err(|e| corrupt(&e))?;
        if version != super::meta::META_VERSION {
            return Err(BlockError::UnsupportedVersion {
                path: dir.to_owned(),
                found: version,
                expected: super::meta::META_VERSION,
            });
        }
        let meta = BlockMeta::from_json(&meta_text).map_err(|e| corrupt(&e))?;
        let index = map(&dir.join(INDEX_FILE))?;
        let chunks = map(&dir.join(CHUNKS_DIR).join(CHUNKS_FILE))?;
        if chunks.len() < CHUNKS_MAGIC.len() || chunks[..4] != CHUNKS_MAGIC {
            return Err(corrupt("bad chunk file header"));
        }
        // Frames follow one another: walking their headers numbers them.
        let mut frame_offsets = Vec::new();
        let mut off = CHUNKS_MAGIC.len();
        while off < chunks.len() {
            let head = chunks.get(off..off + 4).ok_or_else(|| corrupt("frame header"))?;
            let len = u32::from_le_bytes(head.try_into().expect("4 bytes")) as usize;
            frame_offsets.push(off as u64);
            off = off
                .checked_add(FRAME_HEADER_BYTES + len)
                .filter(|&end| end <= chunks.len())
                .ok_or_else(|| corrupt("frame runs past the end of the chunk file"))?;
        }
        if index.len() < INDEX_MAGIC.len() + TRAILER_BYTES || index[..4] != INDEX_MAGIC {
            return Err(corrupt("bad index header"));
        }
        let t = &index[index.len() - TRAILER_BYTES..];
        let word = |i: usize| {
            u64::from_le_bytes(t[i * 8..i * 8 + 8].try_into().expect("8 bytes")) as usize
        };
        let (symbols_off, series_table_off, num_series, _postings_off, table_off) =
            (word(0), word(1), word(2), word(3), word(4));
        let end = index.len() - TRAILER_BYTES;
        if symbols_off > end || table_off > end || series_table_off + num_series * 8 > end {
            return Err(corrupt("index trailer points outside the file"));
        }
        let mut pos = symbols_off;
        let n = read_u32(&index, &mut pos).ok_or_else(|| corrupt("symbol count"))?;
        let mut symbols = Vec::with_capacity(n as usize);
        for _ in 0..n {
            let len =
                get_uvarint(&index, &mut pos).ok_or_else(|| corrupt("symbol length"))? as usize;
            let bytes = index.get(pos..pos + len).ok_or_else(|| corrupt("symbol"))?;
            symbols.push(
                String::from_utf8(bytes.to_vec()).map_err(|_| corrupt("symbol is not UTF-8"))?,
            );
            pos += len;
        }
        let mut pos = table_off;
        let n = read_u32(&index, &mut pos).ok_or_else(|| corrupt("postings table count"))?;
        let mut postings: BTreeMap<String, Vec<(String, usize)>> = BTreeMap::new();
        for _ in 0..n {
            let mut sym = || {
                get_uvarint(&index, &mut pos)
                    .and_then(|i| symbols.get(i as usize))
                    .cloned()
                    .ok_or_else(|| corrupt("postings table symbol"))
            };
            let (name, value) = (sym()?, sym()?);
            let off =
                get_uvarint(&index, &mut pos).ok_or_else(|| corrupt("postings offset"))? as usize;
            postings.entry(name).or_default().push((value, off));
        }
        let ts_path = dir.join(TOMBSTONES_FILE);
        let tombstones = match std::fs::read(&ts_path) {
            Ok(data) => tombstones::decode(&data).map_err(|e| corrupt(&e))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Tombstones::new(),
            Err(e) => return Err(BlockError::io(&ts_path)(e)),
        };
        Ok(Block {
            dir: dir.to_owned(),
            meta,
            index,
            chunks,
            symbols,
            postings,
            series_table_off,
            num_series,
            frame_offsets,
            tombstones: RwLock::new(tombstones),
        })
    }

    /// The block's meta.
    pub fn meta(&self) -> &BlockMeta {
        &self.meta
    }

    /// The block's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Number of series.
    pub fn num_series(&self) -> usize {
        self.num_series
    }

    /// Bytes of every file in the block directory.
    pub fn size_bytes(&self) -> u64 {
        dir_size(&self.dir)
    }

    /// Checks the index checksum (reads the whole index).
    pub fn verify(&self) -> Result<(), BlockError> {
        let (body, crc) = self.index.split_at(self.index.len() - 4);
        if crc32c::crc32c(body).to_le_bytes() != crc {
            return Err(self.corrupt("index checksum mismatch"));
        }
        Ok(())
    }

    fn corrupt(&self, reason: &str) -> BlockError {
        BlockError::Corrupt { path: self.dir.clone(), reason: reason.to_owned() }
    }

    /// The postings list at `off`: a count, then the first id and the
    /// gaps to each next one (at least 1) as uvarints.
    fn postings_at(&self, off: usize) -> Result<Vec<u64>, BlockError> {
        let mut pos = off;
        let bad = || self.corrupt("postings list");
        let n = read_u32(&self.index, &mut pos).ok_or_else(bad)? as usize;
        if n > self.num_series {
            return Err(bad());
        }
        let mut ids = Vec::with_capacity(n);
        let mut id = 0u64;
        for i in 0..n {
            let gap = get_uvarint(&self.index, &mut pos).ok_or_else(bad)?;
            if i > 0 && gap == 0 {
                return Err(bad());
            }
            id = id.checked_add(gap).filter(|&id| id < self.num_series as u64).ok_or_else(bad)?;
            ids.push(id);
        }
        Ok(ids)
    }

    fn union_where(&self, name: &str, keep: impl Fn(&str) -> bool) -> Result<Vec<u64>, BlockError> {
        let Some(values) = self.postings.get(name) else { return Ok(Vec::new()) };
        let mut out = Vec::new();
        let mut lists = 0;
        for (v, off) in values {
            if keep(v) {
                out.extend(self.postings_at(*off)?);
                lists += 1;
            }
        }
        if lists > 1 {
            out.sort_unstable();
            out.dedup();
        }
        Ok(out)
    }

    /// Ids of the series matching every matcher, sorted (same rules as the
    /// head's index: a matcher that matches the empty value also selects
    /// series without the label).
    pub fn postings_for_matchers(&self, matchers: &[Matcher]) -> Result<Vec<u64>, BlockError> {
        let mut intersect: Vec<Vec<u64>> = Vec::new();
        let mut subtract: Vec<Vec<u64>> = Vec::new();
        for m in matchers {
            if matches!(m.kind, MatchType::Regex) && m.value == ".*" {
                continue;
            }
            if m.matches_empty() {
                subtract.push(self.union_where(&m.name, |v| !m.matches(v))?);
            } else if m.kind == MatchType::Equal {
                let off = self.postings.get(m.name.as_str()).and_then(|vals| {
                    vals.binary_search_by(|(v, _)| v.as_str().cmp(&m.value)).ok().map(|i| vals[i].1)
                });
                intersect.push(match off {
                    Some(off) => self.postings_at(off)?,
                    None => Vec::new(),
                });
            } else {
                intersect.push(self.union_where(&m.name, |v| m.matches(v))?);
            }
        }
        let mut result = if intersect.is_empty() {
            (0..self.num_series as u64).collect()
        } else {
            intersect.sort_by_key(Vec::len);
            let mut lists = intersect.into_iter();
            let first = lists.next().expect("not empty");
            lists.fold(first, |acc, l| intersect_sorted(&acc, &l))
        };
        for s in &subtract {
            if result.is_empty() {
                break;
            }
            result = subtract_sorted(&result, s);
        }
        Ok(result)
    }

    /// Label names present in the block, sorted.
    pub fn label_names(&self) -> Vec<String> {
        self.postings.keys().cloned().collect()
    }

    /// Values of label `name` in the block, sorted.
    pub fn label_values(&self, name: &str) -> Vec<String> {
        self.postings
            .get(name)
            .map(|v| v.iter().map(|(v, _)| v.clone()).collect())
            .unwrap_or_default()
    }

    /// The labels and sample location of series `id`.
    pub fn series(&self, id: u64) -> Result<(Labels, SeriesInfo), BlockError> {
        let id = id as usize;
        if id >= self.num_series {
            return Err(self.corrupt("series id out of range"));
        }
        let at = self.series_table_off + id * 8;
        let mut pos =
            u64::from_le_bytes(self.index[at..at + 8].try_into().expect("8 bytes")) as usize;
        let d = &self.index[..];
        let bad = || self.corrupt("series entry");
        let n = get_uvarint(d, &mut pos).ok_or_else(bad)? as usize;
        let mut pairs: Vec<(&str, &str)> = Vec::with_capacity(n);
        for _ in 0..n {
            let name = get_uvarint(d, &mut pos)
                .and_then(|i| self.symbols.get(i as usize))
                .ok_or_else(bad)?;
            let value = get_uvarint(d, &mut pos)
                .and_then(|i| self.symbols.get(i as usize))
                .ok_or_else(bad)?;
            pairs.push((name, value));
        }
        let labels = Labels::from_sorted_unique(pairs.iter().copied());
        let n = get_uvarint(d, &mut pos).ok_or_else(bad)? as usize;
        if n == 0 || n > d.len() {
            return Err(bad());
        }
        let mut runs = Vec::with_capacity(n);
        let mut window = self.meta.min_t_ms.div_euclid(RUN_WINDOW_MS);
        for _ in 0..n {
            let skip = get_uvarint(d, &mut pos).ok_or_else(bad)?;
            window = i64::try_from(skip)
                .ok()
                .and_then(|k| window.checked_add(k))
                .filter(|w| w.checked_mul(RUN_WINDOW_MS + 1).is_some())
                .ok_or_else(bad)?;
            let start = window * RUN_WINDOW_MS;
            let offset = get_uvarint(d, &mut pos).filter(|&o| o < RUN_WINDOW_MS as u64);
            runs.push(RunInfo {
                min_t_ms: start + offset.ok_or_else(bad)? as i64,
                max_t_ms: start + RUN_WINDOW_MS - 1,
                frame_off: get_uvarint(d, &mut pos)
                    .and_then(|k| self.frame_offsets.get(usize::try_from(k).ok()?))
                    .copied()
                    .ok_or_else(bad)?,
                ts_off: get_uvarint(d, &mut pos).ok_or_else(bad)?,
                val_off: get_uvarint(d, &mut pos).ok_or_else(bad)?,
                val_len: get_uvarint(d, &mut pos).ok_or_else(bad)?,
            });
        }
        let info = SeriesInfo { min_t_ms: runs[0].min_t_ms, max_t_ms: runs[n - 1].max_t_ms, runs };
        Ok((labels, info))
    }

    /// Appends the samples of series `id` (at `info`) inside
    /// `[min_t, max_t]` to `out`, tombstoned ones left out. Reading many
    /// series over many windows this way decompresses a frame per series
    /// and window; bulk readers go window by window with [`Block::read_run`].
    pub fn read_samples(
        &self,
        id: u64,
        info: &SeriesInfo,
        min_t: i64,
        max_t: i64,
        cache: &mut FrameCache,
        out: &mut Vec<Sample>,
    ) -> Result<(), BlockError> {
        let base = out.len();
        for run in &info.runs {
            self.read_run(run, min_t, max_t, cache, out)?;
        }
        if let Some(ivs) = self.tombstones.read().get(&(id as u32)) {
            let mut tail = out.split_off(base);
            tombstones::apply(ivs, &mut tail);
            out.extend(tail);
        }
        Ok(())
    }

    /// The deleted intervals of series `id`, if any.
    pub fn tombstones_of(&self, id: u64) -> Option<Vec<(i64, i64)>> {
        self.tombstones.read().get(&(id as u32)).cloned()
    }

    /// Appends the samples of `run` inside `[min_t, max_t]` to `out`
    /// (tombstones not applied).
    pub fn read_run(
        &self,
        run: &RunInfo,
        min_t: i64,
        max_t: i64,
        cache: &mut FrameCache,
        out: &mut Vec<Sample>,
    ) -> Result<(), BlockError> {
        if run.max_t_ms < min_t || run.min_t_ms > max_t {
            return Ok(());
        }
        if cache.off != Some(run.frame_off) {
            self.load_frame(run.frame_off, cache)?;
        }
        let slot = match cache.timestamps.iter().position(|(off, _)| *off == run.ts_off) {
            Some(i) => i,
            None => {
                let start = run.ts_off as usize;
                let bytes = cache
                    .raw
                    .get(start..cache.ts_len)
                    .ok_or_else(|| self.corrupt("timestamp column outside its section"))?;
                let mut ts = cache.spare.pop().unwrap_or_default();
                decode_timestamps(bytes, &mut ts)
                    .ok_or_else(|| self.corrupt("timestamp column does not decode"))?;
                cache.timestamps.push((run.ts_off, ts));
                cache.timestamps.len() - 1
            }
        };
        let ts = &cache.timestamps[slot].1;
        let start = cache.ts_len + run.val_off as usize;
        let values = cache
            .raw
            .get(start..start + run.val_len as usize)
            .ok_or_else(|| self.corrupt("value column outside its frame"))?;
        let lo = if min_t <= run.min_t_ms { 0 } else { ts.partition_point(|&t| t < min_t) };
        let hi = if max_t >= run.max_t_ms { ts.len() } else { ts.partition_point(|&t| t <= max_t) };
        decode_values(values, ts, lo, hi, out)
            .ok_or_else(|| self.corrupt("value column does not decode"))
    }

    /// Decompresses the frame at `off` into `cache`.
    fn load_frame(&self, off: u64, cache: &mut FrameCache) -> Result<(), BlockError> {
        cache.off = None;
        let dec = match &mut cache.decompressor {
            Some(d) => d,
            None => cache
                .decompressor
                .insert(zstd::bulk::Decompressor::new().map_err(BlockError::io(&self.dir))?),
        };
        cache.ts_len = self.decompress_frame(off, dec, &mut cache.raw)?;
        for (_, v) in cache.timestamps.drain(..) {
            cache.spare.push(v);
        }
        cache.off = Some(off);
        Ok(())
    }

    /// Decompresses the frame at `off` into `raw` (replacing its contents)
    /// and returns the length of its timestamp section.
    pub(crate) fn decompress_frame(
        &self,
        off: u64,
        dec: &mut zstd::bulk::Decompressor<'static>,
        raw: &mut Vec<u8>,
    ) -> Result<usize, BlockError> {
        let off = off as usize;
        let head = self
            .chunks
            .get(off..off + FRAME_HEADER_BYTES)
            .ok_or_else(|| self.corrupt("frame header"))?;
        let word = |i: usize| {
            u32::from_le_bytes(head[i * 4..i * 4 + 4].try_into().expect("4 bytes")) as usize
        };
        let (packed_len, raw_len, ts_len) = (word(0), word(1), word(2));
        if ts_len > raw_len {
            return Err(self.corrupt("frame header"));
        }
        let start = off + FRAME_HEADER_BYTES;
        let packed =
            self.chunks.get(start..start + packed_len).ok_or_else(|| self.corrupt("frame"))?;
        raw.clear();
        raw.reserve(raw_len);
        let n = dec
            .decompress_to_buffer(packed, raw)
            .map_err(|_| self.corrupt("frame does not decompress"))?;
        if n != raw_len {
            return Err(self.corrupt("frame decompresses to the wrong length"));
        }
        Ok(ts_len)
    }

    /// A new zstd decompressor (for [`Block::decompress_frame`]).
    pub(crate) fn decompressor(&self) -> Result<zstd::bulk::Decompressor<'static>, BlockError> {
        zstd::bulk::Decompressor::new().map_err(BlockError::io(&self.dir))
    }

    /// Runs `f` with the block's current tombstones, without copying them.
    pub(crate) fn with_tombstones<R>(&self, f: impl FnOnce(&Tombstones) -> R) -> R {
        f(&self.tombstones.read())
    }

    /// An error saying the block is corrupt, for readers of its frames.
    pub(crate) fn corruption(&self, reason: &str) -> BlockError {
        self.corrupt(reason)
    }

    /// Current tombstones.
    pub fn tombstones(&self) -> Tombstones {
        self.tombstones.read().clone()
    }

    /// Records `[min_t, max_t]` as deleted for the series matching
    /// `matchers`; the file is replaced atomically. Returns the series hit.
    pub fn delete(
        &self,
        matchers: &[Matcher],
        min_t: i64,
        max_t: i64,
    ) -> Result<usize, BlockError> {
        if max_t < self.meta.min_t_ms || min_t >= self.meta.max_t_ms {
            return Ok(0);
        }
        let ids = self.postings_for_matchers(matchers)?;
        if ids.is_empty() {
            return Ok(0);
        }
        let mut ts = self.tombstones.write();
        let mut next = ts.clone();
        for id in &ids {
            next.entry(*id as u32).or_default().push((min_t, max_t));
        }
        let tmp = self.dir.join(format!("{TOMBSTONES_FILE}.tmp"));
        write_synced(&tmp, &tombstones::encode(&next))?;
        let dest = self.dir.join(TOMBSTONES_FILE);
        std::fs::rename(&tmp, &dest).map_err(BlockError::io(&dest))?;
        super::fsync_dir(&self.dir)?;
        *ts = next;
        Ok(ids.len())
    }
}

fn read_u32(data: &[u8], pos: &mut usize) -> Option<u32> {
    let b = data.get(*pos..*pos + 4)?;
    *pos += 4;
    Some(u32::from_le_bytes(b.try_into().ok()?))
}

fn map(path: &Path) -> Result<Mmap, BlockError> {
    let f = File::open(path).map_err(BlockError::io(path))?;
    // SAFETY: block files are immutable once their directory is renamed
    // into place; nothing truncates or rewrites them while mapped (deletion
    // unlinks, which keeps the mapping valid).
    unsafe { Mmap::map(&f) }.map_err(BlockError::io(path))
}

/// Total bytes of the files under `dir`.
pub fn dir_size(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_size(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::block::BlockWriter;

    /// Runs name frames by number: a block over several windows reads
    /// back every sample, and a chunk file cut short is refused at open
    /// with a typed error rather than read past its end.
    #[test]
    fn frames_are_numbered_and_a_short_chunk_file_is_corrupt() {
        let dir = tempfile::tempdir().expect("temp dir");
        let hour = 3_600_000i64;
        let mut w = BlockWriter::new(dir.path(), 0, 6 * hour).expect("writer");
        let mut all = Vec::new();
        for s in 0..20 {
            let labels = Labels::new(vec![("__name__", "m"), ("s", &*format!("{s:02}"))]);
            let samples: Vec<Sample> = (0..6 * 240)
                .map(|i| Sample { t_ms: i * 15_000 + s, value: (i * s) as f64 * 0.5 })
                .collect();
            w.add_series(&labels, &samples).expect("add");
            all.push(samples);
        }
        let meta = w.finish(1, vec![], vec![]).expect("finish");
        let path = dir.path().join(&meta.ulid);
        let block = Block::open(&path).expect("open");
        assert!(block.frame_offsets.len() >= 3, "a frame per window at least");
        let mut cache = FrameCache::default();
        for (id, want) in all.iter().enumerate() {
            let (_, info) = block.series(id as u64).expect("series");
            let mut out = Vec::new();
            block.read_samples(id as u64, &info, 0, 6 * hour, &mut cache, &mut out).expect("read");
            assert_eq!(&out, want);
        }
        drop(block);
        let chunks = path.join(CHUNKS_DIR).join(CHUNKS_FILE);
        let len = std::fs::metadata(&chunks).expect("chunks").len();
        let f = std::fs::OpenOptions::new().write(true).open(&chunks).expect("open chunks");
        f.set_len(len - 3).expect("truncate");
        assert!(matches!(Block::open(&path), Err(BlockError::Corrupt { .. })));
    }
}
