//! Segment files and the frames inside them.
//!
//! A WAL directory holds segments named by an eight-digit, zero-padded
//! decimal sequence number (`00000000`, `00000001`, ...), as in Prometheus,
//! so a lexical listing is also the replay order. Each segment starts with an
//! eight-byte header (magic `PWAL`, format version, three reserved bytes) and
//! then holds whole frames back to back; a frame never spans two segments.
//!
//! A frame is a ten-byte header (type, flags, payload length, CRC32C) and the
//! payload. The CRC covers the first six header bytes and the payload, so a
//! torn write (a frame cut short, a header whose length points past the end,
//! zeros where a frame should be) and a flipped bit are both detected. The
//! byte-by-byte layout is in `docs/format/wal.md`.

use std::io;
use std::path::{Path, PathBuf};

use super::record::{DecodeError, TYPE_SAMPLES, TYPE_SERIES, TYPE_TOMBSTONES, put_uvarint};

/// Magic bytes opening every segment.
pub(crate) const SEGMENT_MAGIC: [u8; 4] = *b"PWAL";
/// The on-disk format version written by this code.
pub(crate) const FORMAT_VERSION: u8 = 1;
/// Bytes of the segment header.
pub(crate) const SEGMENT_HEADER_LEN: usize = 8;
/// Bytes of a frame header.
pub(crate) const FRAME_HEADER_LEN: usize = 10;
/// Frame flag: the payload is zstd-compressed.
pub(crate) const FLAG_ZSTD: u8 = 1;
/// Largest payload a frame may declare. Larger lengths are treated as
/// corruption so a garbage header cannot make replay allocate gigabytes.
pub(crate) const MAX_PAYLOAD_LEN: usize = 1 << 30;
/// Payloads shorter than this are never compressed: zstd's frame overhead
/// eats the gain and the CPU is better spent elsewhere.
pub(crate) const MIN_COMPRESS_LEN: usize = 256;
/// zstd level. Measured on node_exporter-shaped scrapes (bytes per sample;
/// samples per CPU-second appending, replaying): level 3 gives 3.03, 24 M,
/// 63 M; level 1 gives 3.26, 28 M, 64 M; level -1 gives 3.41, 34 M, 63 M;
/// level -5 gives 4.29, 44 M, 86 M; uncompressed 10.0, 101 M, 77 M. Level 1
/// keeps the log a third of its raw size at a cost the ingest target absorbs.
const ZSTD_LEVEL: i32 = 1;

/// The segment header bytes.
pub(crate) fn segment_header() -> [u8; SEGMENT_HEADER_LEN] {
    let mut h = [0u8; SEGMENT_HEADER_LEN];
    h[..4].copy_from_slice(&SEGMENT_MAGIC);
    h[4] = FORMAT_VERSION;
    h
}

/// The file name of segment `n`.
pub(crate) fn segment_name(n: u32) -> String {
    format!("{n:08}")
}

/// The path of segment `n` in `dir`.
pub(crate) fn segment_path(dir: &Path, n: u32) -> PathBuf {
    dir.join(segment_name(n))
}

/// Segment numbers in `dir`, ascending. Other files (temporary files, a
/// checkpoint directory later) are ignored. A missing directory has none.
pub(crate) fn list_segments(dir: &Path) -> io::Result<Vec<u32>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.len() == 8
            && name.bytes().all(|b| b.is_ascii_digit())
            && entry.file_type()?.is_file()
        {
            out.push(name.parse::<u32>().expect("eight ASCII digits fit in u32"));
        }
    }
    out.sort_unstable();
    Ok(out)
}

/// A frame read back from a segment.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RawFrame<'a> {
    pub(crate) typ: u8,
    pub(crate) flags: u8,
    pub(crate) payload: &'a [u8],
}

/// Why bytes at some offset are not a valid frame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// Fewer bytes than a header, or than the declared payload, remain: a
    /// torn write.
    #[error("frame cut short: {needed} bytes needed, {available} available")]
    Torn {
        /// Bytes the frame needs.
        needed: usize,
        /// Bytes left in the segment.
        available: usize,
    },
    /// The header is invalid (unknown type or flags, absurd length).
    #[error("invalid frame header: {0}")]
    BadHeader(String),
    /// The checksum does not match.
    #[error("checksum mismatch: stored {stored:#010x}, computed {computed:#010x}")]
    Checksum {
        /// CRC in the header.
        stored: u32,
        /// CRC of the bytes read.
        computed: u32,
    },
    /// The segment header is wrong.
    #[error("invalid segment header")]
    BadSegmentHeader,
    /// The frame's payload did not decode.
    #[error("undecodable payload: {0}")]
    Payload(#[from] DecodeError),
}

/// Parses the frame at the start of `data`, returning it and its total size.
pub(crate) fn parse_frame(data: &[u8]) -> Result<(RawFrame<'_>, usize), FrameError> {
    if data.len() < FRAME_HEADER_LEN {
        return Err(FrameError::Torn { needed: FRAME_HEADER_LEN, available: data.len() });
    }
    let typ = data[0];
    let flags = data[1];
    let len = u32::from_le_bytes(data[2..6].try_into().expect("four bytes")) as usize;
    let stored = u32::from_le_bytes(data[6..10].try_into().expect("four bytes"));
    if !matches!(typ, TYPE_SERIES | TYPE_SAMPLES | TYPE_TOMBSTONES) {
        return Err(FrameError::BadHeader(format!("unknown record type {typ}")));
    }
    if flags & !FLAG_ZSTD != 0 {
        return Err(FrameError::BadHeader(format!("unknown flags {flags:#04x}")));
    }
    if len > MAX_PAYLOAD_LEN {
        return Err(FrameError::BadHeader(format!("payload length {len} too large")));
    }
    let total = FRAME_HEADER_LEN + len;
    if data.len() < total {
        return Err(FrameError::Torn { needed: total, available: data.len() });
    }
    let payload = &data[FRAME_HEADER_LEN..total];
    let computed = crc32c::crc32c_append(crc32c::crc32c(&data[..6]), payload);
    if computed != stored {
        return Err(FrameError::Checksum { stored, computed });
    }
    Ok((RawFrame { typ, flags, payload }, total))
}

/// Builds frames: encodes a payload into a scratch buffer, compresses it when
/// that pays, and appends header and payload to an output buffer. One per
/// thread, so encoding happens outside the WAL's lock.
pub(crate) struct FrameEncoder {
    raw: Vec<u8>,
    packed: Vec<u8>,
    compressor: Option<zstd::bulk::Compressor<'static>>,
}

impl FrameEncoder {
    pub(crate) fn new() -> Self {
        FrameEncoder { raw: Vec::new(), packed: Vec::new(), compressor: None }
    }

    /// Appends one frame of type `typ` whose payload `encode` writes.
    pub(crate) fn push(
        &mut self,
        out: &mut Vec<u8>,
        typ: u8,
        compress: bool,
        encode: impl FnOnce(&mut Vec<u8>),
    ) {
        self.raw.clear();
        encode(&mut self.raw);
        let packed = compress && self.raw.len() >= MIN_COMPRESS_LEN && self.compress_raw();
        let (flags, body): (u8, &[u8]) =
            if packed { (FLAG_ZSTD, &self.packed) } else { (0, &self.raw) };
        let start = out.len();
        out.reserve(FRAME_HEADER_LEN + body.len());
        out.push(typ);
        out.push(flags);
        out.extend_from_slice(
            &u32::try_from(body.len()).expect("payload below 4 GiB").to_le_bytes(),
        );
        let crc = crc32c::crc32c_append(crc32c::crc32c(&out[start..start + 6]), body);
        out.extend_from_slice(&crc.to_le_bytes());
        out.extend_from_slice(body);
    }

    /// Compresses `raw` into `packed` as `uvarint(raw length) ++ zstd frame`.
    /// Returns false (store uncompressed) when compression fails or does not
    /// shrink the payload.
    fn compress_raw(&mut self) -> bool {
        if self.compressor.is_none() {
            match zstd::bulk::Compressor::new(ZSTD_LEVEL) {
                Ok(c) => self.compressor = Some(c),
                Err(e) => {
                    tracing::warn!(error = %e, "zstd compressor unavailable; writing uncompressed wal records");
                    return false;
                }
            }
        }
        let compressor = self.compressor.as_mut().expect("set above");
        let mut prefix = Vec::with_capacity(10);
        put_uvarint(&mut prefix, self.raw.len() as u64);
        let mut z = std::mem::take(&mut self.packed);
        z.clear();
        z.reserve(zstd::zstd_safe::compress_bound(self.raw.len()));
        let ok = compressor.compress_to_buffer(&self.raw[..], &mut z).is_ok();
        let shrinks = ok && prefix.len() + z.len() < self.raw.len();
        if shrinks {
            // Prepend the length prefix; a memmove of the compressed bytes is
            // cheap next to the compression itself.
            z.splice(0..0, prefix);
        }
        self.packed = z;
        shrinks
    }
}

/// Reverses [`FrameEncoder`]'s compression: returns the raw payload, using
/// `scratch` for decompressed bytes.
pub(crate) fn unpack<'a>(
    frame: &RawFrame<'a>,
    decompressor: &mut Option<zstd::bulk::Decompressor<'static>>,
    scratch: &'a mut Vec<u8>,
) -> Result<&'a [u8], DecodeError> {
    if frame.flags & FLAG_ZSTD == 0 {
        return Ok(frame.payload);
    }
    let mut c = super::record::Cursor::new(frame.payload);
    let raw_len = usize::try_from(c.uvarint()?).map_err(|_| DecodeError::Truncated)?;
    if raw_len > MAX_PAYLOAD_LEN {
        return Err(DecodeError::Decompress(format!("declared length {raw_len} too large")));
    }
    let body = &frame.payload[frame.payload.len() - c.remaining()..];
    if decompressor.is_none() {
        *decompressor = Some(
            zstd::bulk::Decompressor::new().map_err(|e| DecodeError::Decompress(e.to_string()))?,
        );
    }
    let d = decompressor.as_mut().expect("set above");
    scratch.clear();
    scratch.reserve(raw_len);
    let n = d
        .decompress_to_buffer(body, scratch)
        .map_err(|e| DecodeError::Decompress(e.to_string()))?;
    if n != raw_len {
        return Err(DecodeError::Decompress(format!("{n} bytes decompressed, {raw_len} declared")));
    }
    Ok(&scratch[..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_sort_as_numbers() {
        assert_eq!(segment_name(0), "00000000");
        assert_eq!(segment_name(42), "00000042");
        let dir = tempfile::tempdir().unwrap();
        for n in [10, 2, 1] {
            std::fs::write(segment_path(dir.path(), n), b"").unwrap();
        }
        std::fs::write(dir.path().join("00000003.tmp"), b"").unwrap();
        std::fs::create_dir(dir.path().join("checkpoint.00000001")).unwrap();
        assert_eq!(list_segments(dir.path()).unwrap(), vec![1, 2, 10]);
        assert_eq!(list_segments(&dir.path().join("missing")).unwrap(), Vec::<u32>::new());
    }

    #[test]
    fn frames_round_trip_compressed_and_plain() {
        let mut enc = FrameEncoder::new();
        let mut out = Vec::new();
        let big: Vec<u8> = (0..4096u32).map(|i| (i % 7) as u8).collect();
        enc.push(&mut out, TYPE_SAMPLES, true, |b| b.extend_from_slice(&big));
        enc.push(&mut out, TYPE_SERIES, false, |b| b.extend_from_slice(&big));
        enc.push(&mut out, TYPE_TOMBSTONES, true, |b| b.extend_from_slice(b"tiny"));

        let mut dec = None;
        let (f1, n1) = parse_frame(&out).unwrap();
        assert_eq!(f1.flags, FLAG_ZSTD);
        assert!(n1 < 1000, "compressible payload compressed");
        let mut scratch = Vec::new();
        assert_eq!(unpack(&f1, &mut dec, &mut scratch).unwrap(), &big[..]);
        let (f2, n2) = parse_frame(&out[n1..]).unwrap();
        assert_eq!((f2.typ, f2.flags), (TYPE_SERIES, 0));
        let (f3, n3) = parse_frame(&out[n1 + n2..]).unwrap();
        assert_eq!((f3.typ, f3.flags, f3.payload), (TYPE_TOMBSTONES, 0, &b"tiny"[..]));
        assert_eq!(n1 + n2 + n3, out.len());
    }

    #[test]
    fn every_damage_is_detected() {
        let mut enc = FrameEncoder::new();
        let mut out = Vec::new();
        enc.push(&mut out, TYPE_SAMPLES, false, |b| b.extend_from_slice(b"0123456789abcdef"));
        for cut in 0..out.len() {
            assert!(
                matches!(parse_frame(&out[..cut]), Err(FrameError::Torn { .. })),
                "cut at {cut}"
            );
        }
        for byte in 0..out.len() {
            for bit in 0..8 {
                let mut bad = out.clone();
                bad[byte] ^= 1 << bit;
                assert!(parse_frame(&bad).is_err(), "flip byte {byte} bit {bit}");
            }
        }
        assert!(parse_frame(&[0u8; 64]).is_err(), "zeros are not a frame");
    }
}
