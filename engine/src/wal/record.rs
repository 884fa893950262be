//! Record payloads: how series, samples and tombstones become bytes.
//!
//! Payloads are the part of a frame the CRC protects (see `segment.rs` for the
//! framing). They are built for cheap encoding and fast replay: integers are
//! LEB128 varints, signed ones zigzagged, and each sample's reference and
//! timestamp are deltas from the previous sample of the same record, so a
//! scrape's batch (increasing refs, one shared timestamp) costs about two
//! bytes plus the eight-byte value per sample before compression. Values are
//! stored as their raw IEEE-754 bits (little-endian), so NaN payloads such as
//! the staleness marker survive bit-exactly.
//!
//! Invariant: decoding never panics and never allocates more than a small
//! multiple of the input length, whatever bytes it is given; bad input is a
//! [`DecodeError`].

use crate::model::{Labels, SeriesRef};

use super::{RefSample, SeriesRecord, Tombstone};

/// Frame type byte of a series record.
pub(crate) const TYPE_SERIES: u8 = 1;
/// Frame type byte of a samples record.
pub(crate) const TYPE_SAMPLES: u8 = 2;
/// Frame type byte of a tombstones record.
pub(crate) const TYPE_TOMBSTONES: u8 = 3;

/// Why a payload could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The payload ended inside a field.
    #[error("payload ends inside a field")]
    Truncated,
    /// A varint is longer than ten bytes.
    #[error("varint overflows 64 bits")]
    VarintOverflow,
    /// A label set's encoding is not canonical.
    #[error("invalid label set encoding")]
    BadLabels,
    /// Bytes remain after the declared entries.
    #[error("{0} trailing bytes after the last entry")]
    Trailing(usize),
    /// The frame type byte is unknown.
    #[error("unknown record type {0}")]
    UnknownType(u8),
    /// A compressed payload did not decompress.
    #[error("decompression failed: {0}")]
    Decompress(String),
}

/// Appends `v` as an unsigned LEB128 varint.
#[inline]
pub(crate) fn put_uvarint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push((v as u8) | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

/// Appends `v` zigzag-encoded as a varint.
#[inline]
pub(crate) fn put_varint(buf: &mut Vec<u8>, v: i64) {
    put_uvarint(buf, ((v << 1) ^ (v >> 63)) as u64);
}

/// Reverses the zigzag mapping of [`put_varint`].
#[inline(always)]
fn unzigzag(u: u64) -> i64 {
    ((u >> 1) as i64) ^ -((u & 1) as i64)
}

/// A cursor over a payload.
pub(crate) struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(data: &'a [u8]) -> Self {
        Cursor { data, pos: 0 }
    }

    pub(crate) fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    #[inline(always)]
    pub(crate) fn uvarint(&mut self) -> Result<u64, DecodeError> {
        // The one-byte case is by far the most common (deltas of 0 or 1).
        let first = *self.data.get(self.pos).ok_or(DecodeError::Truncated)?;
        if first < 0x80 {
            self.pos += 1;
            return Ok(u64::from(first));
        }
        let mut v = 0u64;
        let mut shift = 0u32;
        loop {
            let b = *self.data.get(self.pos).ok_or(DecodeError::Truncated)?;
            self.pos += 1;
            if shift == 63 && b > 1 {
                return Err(DecodeError::VarintOverflow);
            }
            v |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Ok(v);
            }
            shift += 7;
            if shift > 63 {
                return Err(DecodeError::VarintOverflow);
            }
        }
    }

    #[inline(always)]
    pub(crate) fn varint(&mut self) -> Result<i64, DecodeError> {
        Ok(unzigzag(self.uvarint()?))
    }

    fn bytes(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self.pos.checked_add(n).ok_or(DecodeError::Truncated)?;
        let b = self.data.get(self.pos..end).ok_or(DecodeError::Truncated)?;
        self.pos = end;
        Ok(b)
    }

    /// A count that must be plausible for the bytes left (each entry takes
    /// at least `min_entry_bytes`), so garbage cannot make us allocate much.
    fn count(&mut self, min_entry_bytes: usize) -> Result<usize, DecodeError> {
        let n = self.uvarint()?;
        let n = usize::try_from(n).map_err(|_| DecodeError::Truncated)?;
        if n.saturating_mul(min_entry_bytes) > self.remaining() {
            return Err(DecodeError::Truncated);
        }
        Ok(n)
    }

    fn finish(&self) -> Result<(), DecodeError> {
        match self.remaining() {
            0 => Ok(()),
            n => Err(DecodeError::Trailing(n)),
        }
    }
}

/// Series: `count`, then per series the zigzag delta of its ref from the
/// previous one (the first from 0) and its canonical label bytes with a
/// length prefix.
pub(crate) fn encode_series(series: &[SeriesRecord], buf: &mut Vec<u8>) {
    put_uvarint(buf, series.len() as u64);
    let mut prev = 0u64;
    for s in series {
        put_varint(buf, s.series_ref.0.wrapping_sub(prev) as i64);
        prev = s.series_ref.0;
        let l = s.labels.as_bytes();
        put_uvarint(buf, l.len() as u64);
        buf.extend_from_slice(l);
    }
}

pub(crate) fn decode_series(payload: &[u8]) -> Result<Vec<SeriesRecord>, DecodeError> {
    let mut c = Cursor::new(payload);
    let n = c.count(2)?;
    let mut out = Vec::with_capacity(n);
    let mut prev = 0u64;
    for _ in 0..n {
        let r = prev.wrapping_add(c.varint()? as u64);
        prev = r;
        let len = usize::try_from(c.uvarint()?).map_err(|_| DecodeError::Truncated)?;
        let labels = Labels::from_bytes(c.bytes(len)?).ok_or(DecodeError::BadLabels)?;
        out.push(SeriesRecord { series_ref: SeriesRef(r), labels });
    }
    c.finish()?;
    Ok(out)
}

/// Samples are stored by column: `count`, the byte lengths of the ref and
/// timestamp columns, then the refs (zigzag varint deltas from the previous
/// sample's, the first from 0), the timestamps (likewise) and the values
/// (eight bytes each). Columns matter for zstd: a scrape's refs and
/// timestamps become long runs of identical bytes that it codes in a few
/// sequences, where interleaving them with values made every sample a few
/// short matches, and decompressing sequences was half the replay time.
pub(crate) fn encode_samples(samples: &[RefSample], buf: &mut Vec<u8>) {
    let n = samples.len();
    let mut refs = Vec::with_capacity(n * 2);
    let mut ts = Vec::with_capacity(n * 2);
    let (mut prev_ref, mut prev_t) = (0u64, 0i64);
    for s in samples {
        put_varint(&mut refs, s.series_ref.0.wrapping_sub(prev_ref) as i64);
        put_varint(&mut ts, s.t_ms.wrapping_sub(prev_t));
        prev_ref = s.series_ref.0;
        prev_t = s.t_ms;
    }
    buf.reserve(30 + refs.len() + ts.len() + n * 8);
    put_uvarint(buf, n as u64);
    put_uvarint(buf, refs.len() as u64);
    put_uvarint(buf, ts.len() as u64);
    buf.extend_from_slice(&refs);
    buf.extend_from_slice(&ts);
    for s in samples {
        buf.extend_from_slice(&s.value.to_bits().to_le_bytes());
    }
}

/// Decodes a samples payload, appending to `out`.
pub(crate) fn decode_samples_into(
    payload: &[u8],
    out: &mut Vec<RefSample>,
) -> Result<(), DecodeError> {
    let mut c = Cursor::new(payload);
    let n = c.count(10)?;
    let refs_len = usize::try_from(c.uvarint()?).map_err(|_| DecodeError::Truncated)?;
    let ts_len = usize::try_from(c.uvarint()?).map_err(|_| DecodeError::Truncated)?;
    let mut refs = Cursor::new(c.bytes(refs_len)?);
    let mut ts = Cursor::new(c.bytes(ts_len)?);
    let values = c.bytes(n.checked_mul(8).ok_or(DecodeError::Truncated)?)?;
    c.finish()?;
    out.reserve(n);
    let (mut prev_ref, mut prev_t) = (0u64, 0i64);
    if refs.remaining() == n && ts.remaining() == n {
        // Fast path, the common case of a scrape: every delta fits one byte
        // (a column of n varints in n bytes can hold nothing else), so no
        // varint loop. A byte with the continuation bit would make the
        // column malformed; that is checked once at the end.
        let (rb, tb) = (refs.bytes(n)?, ts.bytes(n)?);
        let start = out.len();
        let mut high = 0u8;
        for ((&r, &t), v) in rb.iter().zip(tb).zip(values.chunks_exact(8)) {
            high |= r | t;
            prev_ref = prev_ref.wrapping_add(unzigzag(u64::from(r)) as u64);
            prev_t = prev_t.wrapping_add(unzigzag(u64::from(t)));
            let value = f64::from_bits(u64::from_le_bytes(v.try_into().expect("chunks of 8")));
            out.push(RefSample { series_ref: SeriesRef(prev_ref), t_ms: prev_t, value });
        }
        if high & 0x80 != 0 {
            out.truncate(start);
            return Err(DecodeError::Truncated);
        }
        return Ok(());
    }
    for v in values.chunks_exact(8) {
        prev_ref = prev_ref.wrapping_add(refs.varint()? as u64);
        prev_t = prev_t.wrapping_add(ts.varint()?);
        let value = f64::from_bits(u64::from_le_bytes(v.try_into().expect("chunks of 8")));
        out.push(RefSample { series_ref: SeriesRef(prev_ref), t_ms: prev_t, value });
    }
    refs.finish()?;
    ts.finish()
}

/// Tombstones: `count`, then per entry the ref (uvarint), the minimum time
/// (zigzag varint) and the range length `max - min` (zigzag varint).
pub(crate) fn encode_tombstones(tombstones: &[Tombstone], buf: &mut Vec<u8>) {
    put_uvarint(buf, tombstones.len() as u64);
    for t in tombstones {
        put_uvarint(buf, t.series_ref.0);
        put_varint(buf, t.min_t_ms);
        put_varint(buf, t.max_t_ms.wrapping_sub(t.min_t_ms));
    }
}

pub(crate) fn decode_tombstones(payload: &[u8]) -> Result<Vec<Tombstone>, DecodeError> {
    let mut c = Cursor::new(payload);
    let n = c.count(3)?;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let r = c.uvarint()?;
        let min = c.varint()?;
        let max = min.wrapping_add(c.varint()?);
        out.push(Tombstone { series_ref: SeriesRef(r), min_t_ms: min, max_t_ms: max });
    }
    c.finish()?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::STALE_NAN_BITS;

    #[test]
    fn varints_round_trip_extremes() {
        for v in [0i64, 1, -1, 63, -64, 64, i64::MAX, i64::MIN, 1 << 40] {
            let mut b = Vec::new();
            put_varint(&mut b, v);
            assert_eq!(Cursor::new(&b).varint().unwrap(), v);
        }
        for v in [0u64, 127, 128, u64::MAX] {
            let mut b = Vec::new();
            put_uvarint(&mut b, v);
            let mut c = Cursor::new(&b);
            assert_eq!(c.uvarint().unwrap(), v);
            assert_eq!(c.remaining(), 0);
        }
    }

    #[test]
    fn overlong_varint_is_an_error() {
        assert_eq!(Cursor::new(&[0xff; 11]).uvarint(), Err(DecodeError::VarintOverflow));
        assert_eq!(Cursor::new(&[0x80, 0x80]).uvarint(), Err(DecodeError::Truncated));
    }

    #[test]
    fn samples_round_trip_bit_exactly() {
        let values = [
            0.0,
            -0.0,
            f64::NAN,
            f64::from_bits(STALE_NAN_BITS),
            f64::INFINITY,
            f64::MIN_POSITIVE,
            1e300,
        ];
        let samples: Vec<RefSample> = values
            .iter()
            .enumerate()
            .map(|(i, &v)| RefSample {
                series_ref: SeriesRef(if i % 2 == 0 { u64::MAX - i as u64 } else { i as u64 }),
                t_ms: if i == 3 { i64::MIN } else { i as i64 * 15_000 - 7 },
                value: v,
            })
            .collect();
        let mut buf = Vec::new();
        encode_samples(&samples, &mut buf);
        let mut out = Vec::new();
        decode_samples_into(&buf, &mut out).unwrap();
        assert_eq!(out.len(), samples.len());
        for (a, b) in out.iter().zip(&samples) {
            assert_eq!(a.series_ref, b.series_ref);
            assert_eq!(a.t_ms, b.t_ms);
            assert_eq!(a.value.to_bits(), b.value.to_bits());
        }
    }

    #[test]
    fn scrape_shaped_samples_are_compact() {
        let samples: Vec<RefSample> = (0..1000)
            .map(|i| RefSample {
                series_ref: SeriesRef(5000 + i),
                t_ms: 1_700_000_000_000,
                value: 1.0,
            })
            .collect();
        let mut buf = Vec::new();
        encode_samples(&samples, &mut buf);
        // Two one-byte deltas and eight value bytes per sample.
        assert!(buf.len() <= 1000 * 10 + 20, "{} bytes", buf.len());
    }

    #[test]
    fn one_byte_columns_with_a_continuation_bit_are_rejected() {
        // count 2, refs_len 2, ts_len 2, refs [0x80, 0x01]: the first ref's
        // varint claims a second byte, so the column cannot hold 2 varints.
        let mut p = vec![2, 2, 2, 0x80, 0x01, 0, 0];
        p.extend_from_slice(&[0; 16]);
        assert!(decode_samples_into(&p, &mut Vec::new()).is_err());
        let mut ok = vec![2, 2, 2, 0x00, 0x02, 0, 0x01];
        ok.extend_from_slice(&[0; 16]);
        let mut out = Vec::new();
        decode_samples_into(&ok, &mut out).unwrap();
        assert_eq!((out[1].series_ref, out[1].t_ms), (SeriesRef(1), -1));
    }

    #[test]
    fn series_and_tombstones_round_trip() {
        let series = vec![
            SeriesRecord {
                series_ref: SeriesRef(7),
                labels: Labels::new([("__name__", "up"), ("job", "node")]),
            },
            SeriesRecord { series_ref: SeriesRef(3), labels: Labels::new([("a", "b")]) },
        ];
        let mut buf = Vec::new();
        encode_series(&series, &mut buf);
        assert_eq!(decode_series(&buf).unwrap(), series);

        let ts = vec![
            Tombstone { series_ref: SeriesRef(1), min_t_ms: i64::MIN, max_t_ms: i64::MAX },
            Tombstone { series_ref: SeriesRef(u64::MAX), min_t_ms: -5, max_t_ms: 10 },
        ];
        let mut buf = Vec::new();
        encode_tombstones(&ts, &mut buf);
        assert_eq!(decode_tombstones(&buf).unwrap(), ts);
    }

    #[test]
    fn garbage_never_panics() {
        // Every prefix of a valid payload, and a few arbitrary byte strings,
        // either decode or fail cleanly.
        let samples: Vec<RefSample> = (0..20)
            .map(|i| RefSample { series_ref: SeriesRef(i), t_ms: i as i64, value: i as f64 })
            .collect();
        let mut buf = Vec::new();
        encode_samples(&samples, &mut buf);
        for cut in 0..buf.len() {
            let mut out = Vec::new();
            assert!(decode_samples_into(&buf[..cut], &mut out).is_err());
            let _ = decode_series(&buf[..cut]);
            let _ = decode_tombstones(&buf[..cut]);
        }
        let huge_count = [0xff, 0xff, 0xff, 0xff, 0x0f];
        assert!(decode_series(&huge_count).is_err());
        assert!(decode_samples_into(&huge_count, &mut Vec::new()).is_err());
    }
}
