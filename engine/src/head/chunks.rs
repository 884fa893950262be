//! Head chunk files: full head chunks on disk, read back through `memmap2`.
//!
//! When a series' open chunk is cut, its bytes go here and the series keeps
//! only a 24-byte [`MappedChunk`] (reference and time range). That is what
//! keeps head memory per series small: the chunk bytes live in the page
//! cache, not on the heap. The format is in docs/format/head-chunks.md.
//!
//! Writes are buffered (one `pwrite` per [`WRITE_BUFFER_BYTES`]); a chunk
//! still in the buffer is served from it. Each segment file is created at
//! its full size (sparse) and mapped once, so a reference stays valid for
//! as long as its segment exists without remapping; the file is cut to its
//! used length when the segment is sealed.
//!
//! Invariant: a [`HeadChunkRef`] names a fully written, CRC-protected chunk
//! record; records are never rewritten in place.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use memmap2::Mmap;
use parking_lot::{Mutex, RwLock};

use crate::chunk::Encoding;

/// Magic number at the start of every head chunk file ("PHCK").
pub const MAGIC: u32 = 0x5048_434B;
/// Format version of head chunk files.
pub const VERSION: u8 = 1;
/// Bytes of the file header: magic, version, 3 bytes of padding.
pub const FILE_HEADER_BYTES: u64 = 8;
/// Fixed bytes of a chunk record before its data: series ref, min time,
/// max time, encoding (the data length follows as a uvarint).
const RECORD_FIXED_BYTES: usize = 8 + 8 + 8 + 1;
/// Bytes buffered before a write.
pub const WRITE_BUFFER_BYTES: usize = 1 << 20;

/// Where a chunk record starts: segment number in the high 32 bits, byte
/// offset in the low 32 (as Prometheus' `ChunkDiskMapperRef`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HeadChunkRef(pub u64);

impl HeadChunkRef {
    fn new(segment: u32, offset: u32) -> Self {
        HeadChunkRef((u64::from(segment) << 32) | u64::from(offset))
    }
    /// The segment file number.
    pub fn segment(self) -> u32 {
        (self.0 >> 32) as u32
    }
    /// The byte offset of the record inside its segment.
    pub fn offset(self) -> u32 {
        self.0 as u32
    }
}

/// A cut chunk as its series remembers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MappedChunk {
    /// Where the chunk record is.
    pub chunk_ref: HeadChunkRef,
    /// Timestamp of its first sample.
    pub min_t_ms: i64,
    /// Timestamp of its last sample.
    pub max_t_ms: i64,
}

/// One chunk as a reader gets it.
#[derive(Debug, Clone)]
pub struct ChunkData {
    /// Timestamp of its first sample.
    pub min_t_ms: i64,
    /// Timestamp of its last sample.
    pub max_t_ms: i64,
    /// How `bytes` are encoded.
    pub encoding: Encoding,
    /// The closed chunk.
    pub bytes: ChunkBytes,
}

/// The bytes of one chunk, without copying when they are mapped.
#[derive(Clone)]
pub enum ChunkBytes {
    /// A slice of a mapped segment.
    Mapped {
        /// The segment mapping, kept alive by this handle.
        map: Arc<Mmap>,
        /// Start of the chunk data.
        start: usize,
        /// End of the chunk data.
        end: usize,
    },
    /// A copy (chunks still in the write buffer, open chunks).
    Owned(Box<[u8]>),
}

impl ChunkBytes {
    /// The chunk data.
    pub fn as_slice(&self) -> &[u8] {
        match self {
            ChunkBytes::Mapped { map, start, end } => &map[*start..*end],
            ChunkBytes::Owned(b) => b,
        }
    }
}

impl std::fmt::Debug for ChunkBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ChunkBytes({} bytes)", self.as_slice().len())
    }
}

/// Why a chunk could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ChunkReadError {
    /// The reference points at no live segment or past its end.
    #[error("head chunk {0:#x} is not in any segment")]
    NotFound(u64),
    /// The record failed validation.
    #[error("head chunk {chunk_ref:#x} in {path}: {reason}")]
    Corrupt {
        /// The reference read.
        chunk_ref: u64,
        /// The segment file.
        path: PathBuf,
        /// What was wrong.
        reason: &'static str,
    },
}

struct Segment {
    map: Arc<Mmap>,
    /// Largest chunk max time in the segment, for truncation.
    max_t_ms: i64,
}

struct Writer {
    seq: u32,
    file: Option<File>,
    /// Bytes of the current segment already written to the file.
    written: u64,
    /// Buffered bytes, to go at offset `written`.
    buf: Vec<u8>,
    max_t_ms: i64,
}

/// Writes cut chunks to segment files and reads them back.
pub struct ChunkDiskMapper {
    dir: PathBuf,
    segment_bytes: u64,
    writer: Mutex<Writer>,
    segments: RwLock<BTreeMap<u32, Segment>>,
}

impl ChunkDiskMapper {
    /// Opens `dir`, removing any segment files left from an earlier run (the
    /// head is rebuilt from the WAL, which re-cuts its chunks).
    pub fn open(dir: &Path, segment_bytes: u64) -> io::Result<Self> {
        fs::create_dir_all(dir)?;
        for entry in fs::read_dir(dir)? {
            let entry = entry?;
            if entry.file_name().to_str().is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit())) {
                fs::remove_file(entry.path())?;
            }
        }
        let segment_bytes = segment_bytes.clamp(FILE_HEADER_BYTES + 64, u64::from(u32::MAX));
        Ok(ChunkDiskMapper {
            dir: dir.to_owned(),
            segment_bytes,
            writer: Mutex::new(Writer {
                seq: 0,
                file: None,
                written: 0,
                buf: Vec::new(),
                max_t_ms: i64::MIN,
            }),
            segments: RwLock::new(BTreeMap::new()),
        })
    }

    fn segment_path(&self, seq: u32) -> PathBuf {
        self.dir.join(format!("{seq:06}"))
    }

    /// Writes one chunk record.
    pub fn write_chunk(
        &self,
        series_ref: u64,
        min_t_ms: i64,
        max_t_ms: i64,
        encoding: Encoding,
        data: &[u8],
    ) -> io::Result<HeadChunkRef> {
        let data_len = data.len();
        let record_len = RECORD_FIXED_BYTES + uvarint_len(data_len as u64) + data_len + 4;
        let mut w = self.writer.lock();
        let pos = w.written + w.buf.len() as u64;
        if w.file.is_none() || pos + record_len as u64 > self.segment_bytes {
            self.cut_segment(&mut w, record_len as u64)?;
        }
        let offset = w.written + w.buf.len() as u64;
        let start = w.buf.len();
        w.buf.extend_from_slice(&series_ref.to_be_bytes());
        w.buf.extend_from_slice(&min_t_ms.to_be_bytes());
        w.buf.extend_from_slice(&max_t_ms.to_be_bytes());
        w.buf.push(encoding as u8);
        put_uvarint(&mut w.buf, data_len as u64);
        w.buf.extend_from_slice(data);
        let crc = crc32c::crc32c(&w.buf[start..]);
        w.buf.extend_from_slice(&crc.to_be_bytes());
        w.max_t_ms = w.max_t_ms.max(max_t_ms);
        let chunk_ref =
            HeadChunkRef::new(w.seq, u32::try_from(offset).expect("segments are under 4 GiB"));
        if w.buf.len() >= WRITE_BUFFER_BYTES {
            Self::flush_locked(&mut w)?;
        }
        Ok(chunk_ref)
    }

    /// Seals the current segment (if any) and starts the next one.
    fn cut_segment(&self, w: &mut Writer, first_record: u64) -> io::Result<()> {
        self.seal_locked(w)?;
        let seq = w.seq + 1;
        let path = self.segment_path(seq);
        let file = OpenOptions::new().read(true).write(true).create_new(true).open(&path)?;
        let size = self.segment_bytes.max(FILE_HEADER_BYTES + first_record);
        file.set_len(size)?;
        let mut header = [0u8; FILE_HEADER_BYTES as usize];
        header[..4].copy_from_slice(&MAGIC.to_be_bytes());
        header[4] = VERSION;
        file.write_all_at(&header, 0)?;
        // SAFETY: the file is ours alone (created just now, in a directory the
        // engine owns); its bytes are only ever appended past what readers may
        // reference, and it is never shrunk below a referenced offset.
        let map = unsafe { Mmap::map(&file)? };
        self.segments.write().insert(seq, Segment { map: Arc::new(map), max_t_ms: i64::MIN });
        w.seq = seq;
        w.file = Some(file);
        w.written = FILE_HEADER_BYTES;
        w.max_t_ms = i64::MIN;
        Ok(())
    }

    fn flush_locked(w: &mut Writer) -> io::Result<()> {
        if w.buf.is_empty() {
            return Ok(());
        }
        let file = w.file.as_ref().expect("a buffer is only filled with a segment open");
        file.write_all_at(&w.buf, w.written)?;
        w.written += w.buf.len() as u64;
        w.buf.clear();
        Ok(())
    }

    fn seal_locked(&self, w: &mut Writer) -> io::Result<()> {
        if w.file.is_none() {
            return Ok(());
        }
        Self::flush_locked(w)?;
        let file = w.file.take().expect("checked above");
        file.set_len(w.written)?;
        if let Some(seg) = self.segments.write().get_mut(&w.seq) {
            seg.max_t_ms = w.max_t_ms;
        }
        Ok(())
    }

    /// Writes buffered chunks to the file.
    pub fn flush(&self) -> io::Result<()> {
        Self::flush_locked(&mut self.writer.lock())
    }

    /// Flushes, fsyncs and seals the current segment.
    pub fn close(&self) -> io::Result<()> {
        let mut w = self.writer.lock();
        if let Some(f) = &w.file {
            let f = f.try_clone()?;
            self.seal_locked(&mut w)?;
            f.sync_all()?;
        }
        Ok(())
    }

    /// Reads a chunk's encoding and data, verifying its CRC32C.
    pub fn read(&self, chunk_ref: HeadChunkRef) -> Result<(Encoding, ChunkBytes), ChunkReadError> {
        let seq = chunk_ref.segment();
        let offset = u64::from(chunk_ref.offset());
        {
            let w = self.writer.lock();
            if w.seq == seq && w.file.is_some() && offset >= w.written {
                let start = usize::try_from(offset - w.written).expect("buffer offsets fit usize");
                let (enc, data, _) = self.parse(chunk_ref, w.buf.get(start..).unwrap_or(&[]))?;
                return Ok((enc, ChunkBytes::Owned(data.into())));
            }
        }
        let map = match self.segments.read().get(&seq) {
            Some(seg) => Arc::clone(&seg.map),
            None => return Err(ChunkReadError::NotFound(chunk_ref.0)),
        };
        let start = usize::try_from(offset).expect("offsets are u32");
        let (enc, data, data_start) = self.parse(chunk_ref, map.get(start..).unwrap_or(&[]))?;
        let (start, end) = (start + data_start, start + data_start + data.len());
        Ok((enc, ChunkBytes::Mapped { map, start, end }))
    }

    /// Validates the record at the start of `rec`, returning its encoding,
    /// its data and the data's offset within `rec`.
    fn parse<'a>(
        &self,
        chunk_ref: HeadChunkRef,
        rec: &'a [u8],
    ) -> Result<(Encoding, &'a [u8], usize), ChunkReadError> {
        let corrupt = |reason| ChunkReadError::Corrupt {
            chunk_ref: chunk_ref.0,
            path: self.segment_path(chunk_ref.segment()),
            reason,
        };
        if rec.len() < RECORD_FIXED_BYTES + 1 {
            return Err(ChunkReadError::NotFound(chunk_ref.0));
        }
        let Some(enc) = Encoding::from_u8(rec[RECORD_FIXED_BYTES - 1]) else {
            return Err(corrupt("unknown chunk encoding"));
        };
        let mut p = RECORD_FIXED_BYTES;
        let len = take_uvarint(rec, &mut p).ok_or_else(|| corrupt("bad data length"))?;
        let len = usize::try_from(len).map_err(|_| corrupt("bad data length"))?;
        let end = p
            .checked_add(len)
            .filter(|&e| e + 4 <= rec.len())
            .ok_or_else(|| corrupt("record past end of file"))?;
        let want = u32::from_be_bytes(rec[end..end + 4].try_into().expect("4 bytes"));
        if crc32c::crc32c(&rec[..end]) != want {
            return Err(corrupt("checksum mismatch"));
        }
        Ok((enc, &rec[p..end], p))
    }

    /// Deletes sealed segments whose chunks all end before `min_t_ms`
    /// (head truncation once blocks hold that data). Returns how many.
    pub fn truncate_before(&self, min_t_ms: i64) -> io::Result<usize> {
        let current = self.writer.lock().seq;
        let doomed: Vec<u32> = self
            .segments
            .read()
            .iter()
            .filter(|&(&seq, seg)| seq != current && seg.max_t_ms < min_t_ms)
            .map(|(&seq, _)| seq)
            .collect();
        for &seq in &doomed {
            self.segments.write().remove(&seq);
            fs::remove_file(self.segment_path(seq))?;
        }
        Ok(doomed.len())
    }

    /// Segment files currently live.
    pub fn num_segments(&self) -> usize {
        self.segments.read().len()
    }
}

fn uvarint_len(mut v: u64) -> usize {
    let mut n = 1;
    while v >= 0x80 {
        v >>= 7;
        n += 1;
    }
    n
}

fn put_uvarint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn take_uvarint(buf: &[u8], pos: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *buf.get(*pos)?;
        *pos += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b < 0x80 {
            return Some(v);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(m: &ChunkDiskMapper, series: u64, data: &[u8]) -> HeadChunkRef {
        m.write_chunk(series, 1, 2, Encoding::Xor, data).unwrap()
    }

    #[test]
    fn chunks_read_back_from_buffer_and_map_across_segments() {
        let dir = tempfile::tempdir().unwrap();
        let m = ChunkDiskMapper::open(dir.path(), 4096).unwrap();
        let refs: Vec<(HeadChunkRef, Vec<u8>)> = (0..200u64)
            .map(|i| {
                let data: Vec<u8> = (0..(i % 90) as u8).collect();
                (write(&m, i, &data), data)
            })
            .collect();
        assert!(m.num_segments() > 1);
        for (r, data) in &refs {
            assert_eq!(m.read(*r).unwrap().1.as_slice(), &data[..]);
        }
        m.close().unwrap();
        for (r, data) in &refs {
            assert_eq!(m.read(*r).unwrap().1.as_slice(), &data[..]);
        }
    }

    #[test]
    fn corruption_is_reported_not_returned() {
        let dir = tempfile::tempdir().unwrap();
        let m = ChunkDiskMapper::open(dir.path(), 1 << 20).unwrap();
        let r = write(&m, 7, b"hello chunk");
        m.close().unwrap();
        let path = dir.path().join(format!("{:06}", r.segment()));
        let mut bytes = fs::read(&path).unwrap();
        let last = bytes.len() - 6;
        bytes[last] ^= 0x40;
        fs::write(&path, &bytes).unwrap();
        assert!(matches!(m.read(r), Err(ChunkReadError::Corrupt { .. })));
    }

    #[test]
    fn truncation_drops_old_sealed_segments() {
        let dir = tempfile::tempdir().unwrap();
        let m = ChunkDiskMapper::open(dir.path(), 256).unwrap();
        let old = m.write_chunk(1, 0, 10, Encoding::Xor, &[0; 100]).unwrap();
        let new = m.write_chunk(1, 20, 30, Encoding::Dec, &[1; 200]).unwrap();
        assert_ne!(old.segment(), new.segment());
        assert_eq!(m.truncate_before(15).unwrap(), 1);
        assert!(matches!(m.read(old), Err(ChunkReadError::NotFound(_))));
        let (enc, bytes) = m.read(new).unwrap();
        assert_eq!((enc, bytes.as_slice()), (Encoding::Dec, &[1; 200][..]));
    }
}
