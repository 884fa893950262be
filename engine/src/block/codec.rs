//! Varints and the columnar sample codec of block chunk frames.
//!
//! A block stores each series' samples per 2 h window as two columns: a
//! timestamp column (delta-of-deltas; series scraped together share one,
//! see [`super::writer`]) and a value column (integer mantissas at a
//! shared decimal exponent, as deltas or as they are, when every value is
//! a short decimal, as counters and most gauges of exporters are; else
//! XORs with the previous value). Frames of columns are then compressed
//! with zstd. Column layouts compress far better under zstd than
//! bit-packed Gorilla, whose streams look random to a byte compressor.
//! Lossless: every value round-trips bit for bit (NaN payloads included).

use crate::model::Sample;

/// Appends `v` as an unsigned LEB128 varint.
#[inline]
pub fn put_uvarint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Appends `v` zig-zag encoded as a varint.
#[inline]
pub fn put_varint(out: &mut Vec<u8>, v: i64) {
    put_uvarint(out, ((v << 1) ^ (v >> 63)) as u64);
}

/// Reads an unsigned varint at `*pos`, advancing it.
#[inline]
pub fn get_uvarint(data: &[u8], pos: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    let mut shift = 0u32;
    loop {
        let b = *data.get(*pos)?;
        *pos += 1;
        if shift >= 64 {
            return None;
        }
        v |= u64::from(b & 0x7f) << shift;
        if b < 0x80 {
            return Some(v);
        }
        shift += 7;
    }
}

/// Reads a zig-zag varint at `*pos`, advancing it.
#[inline]
pub fn get_varint(data: &[u8], pos: &mut usize) -> Option<i64> {
    let u = get_uvarint(data, pos)?;
    Some(((u >> 1) as i64) ^ -((u & 1) as i64))
}

/// Value column kinds.
const VALUES_XOR: u8 = 0;
const VALUES_DECIMAL_DELTA: u8 = 1;
const VALUES_DECIMAL_RAW: u8 = 2;

/// The exponent `e` (0..=9) such that every value is `m / 10^e` exactly for
/// an integer `m` below 2^53, if there is one.
fn decimal_exponent(samples: &[Sample]) -> Option<u32> {
    'e: for e in 0..=9u32 {
        let scale = POW10[e as usize];
        for s in samples {
            let v = s.value;
            let m = (v * scale).round();
            // The check mirrors the decoder exactly (integer mantissa, then
            // divide), so `-0.0` and anything else that does not survive
            // the round trip bit for bit falls back to XOR.
            if !v.is_finite()
                || m.abs() >= 9.0e15
                || ((m as i64) as f64 / scale).to_bits() != v.to_bits()
            {
                continue 'e;
            }
        }
        return Some(e);
    }
    None
}

const POW10: [f64; 10] = [1.0, 10.0, 100.0, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9];

/// Bytes `v` takes as a zig-zag varint.
#[inline]
fn varint_len(v: i64) -> usize {
    let u = ((v << 1) ^ (v >> 63)) as u64;
    (64 - u.max(1).leading_zeros() as usize).div_ceil(7)
}

/// Encodes the timestamps of sorted samples as a timestamp column, appended
/// to `out`: `n`, `t[0]`, `t[1]-t[0]`, then delta-of-deltas.
pub fn encode_timestamps(samples: &[Sample], out: &mut Vec<u8>) {
    put_uvarint(out, samples.len() as u64);
    let (mut prev_t, mut prev_d) = (0i64, 0i64);
    for (i, s) in samples.iter().enumerate() {
        match i {
            0 => put_varint(out, s.t_ms),
            1 => {
                prev_d = s.t_ms.wrapping_sub(prev_t);
                put_varint(out, prev_d);
            }
            _ => {
                let d = s.t_ms.wrapping_sub(prev_t);
                put_varint(out, d.wrapping_sub(prev_d));
                prev_d = d;
            }
        }
        prev_t = s.t_ms;
    }
}

/// Decodes a timestamp column written by [`encode_timestamps`] into `out`
/// (cleared first). Returns the bytes consumed, or `None` if corrupt.
pub fn decode_timestamps(data: &[u8], out: &mut Vec<i64>) -> Option<usize> {
    out.clear();
    let mut pos = 0;
    let n = usize::try_from(get_uvarint(data, &mut pos)?).ok()?;
    if n > data.len() {
        return None;
    }
    out.reserve(n);
    let (mut t, mut d) = (0i64, 0i64);
    for i in 0..n {
        let x = get_varint(data, &mut pos)?;
        match i {
            0 => t = x,
            1 => {
                d = x;
                t = t.wrapping_add(d);
            }
            _ => {
                d = d.wrapping_add(x);
                t = t.wrapping_add(d);
            }
        }
        out.push(t);
    }
    Some(pos)
}

/// Encodes the values of `samples` as a value column, appended to `out`.
///
/// Short decimals (every value exactly `m / 10^e`) are stored as integer
/// mantissas, either as deltas (counters, slow gauges) or as they are
/// (values redrawn every scrape, such as durations, whose deltas would
/// take one more bit), whichever is shorter; anything else as XORs.
pub fn encode_values(samples: &[Sample], out: &mut Vec<u8>) {
    match decimal_exponent(samples) {
        Some(e) => {
            let scale = POW10[e as usize];
            let ms = samples.iter().map(|s| (s.value * scale).round() as i64);
            let (mut delta_len, mut raw_len, mut prev) = (0usize, 0usize, 0i64);
            for m in ms.clone() {
                delta_len += varint_len(m.wrapping_sub(prev));
                raw_len += varint_len(m);
                prev = m;
            }
            if raw_len < delta_len {
                out.push(VALUES_DECIMAL_RAW);
                out.push(e as u8);
                for m in ms {
                    put_varint(out, m);
                }
            } else {
                out.push(VALUES_DECIMAL_DELTA);
                out.push(e as u8);
                let mut prev = 0i64;
                for m in ms {
                    put_varint(out, m.wrapping_sub(prev));
                    prev = m;
                }
            }
        }
        None => {
            out.push(VALUES_XOR);
            let mut prev = 0u64;
            for s in samples {
                let bits = s.value.to_bits();
                // Varint of the byte-reversed XOR: nearby floats differ in
                // their low mantissa bits, which reversal moves to the top,
                // leaving the varint short when only a few bytes change.
                put_uvarint(out, (bits ^ prev).swap_bytes());
                prev = bits;
            }
        }
    }
}

/// Decodes a value column written by [`encode_values`] for the timestamps
/// `ts` (its column), pushing the samples at positions `lo..hi`. Returns
/// `None` if corrupt.
pub fn decode_values(
    data: &[u8],
    ts: &[i64],
    lo: usize,
    hi: usize,
    out: &mut Vec<Sample>,
) -> Option<()> {
    let kind = *data.first()?;
    let mut pos = 1;
    out.reserve(hi.saturating_sub(lo));
    match kind {
        VALUES_DECIMAL_DELTA | VALUES_DECIMAL_RAW => {
            let e = *data.get(pos)?;
            pos += 1;
            let scale = *POW10.get(usize::from(e))?;
            let rest = &data[pos..];
            // One loop per case, so the per-sample work has no branch on
            // the kind and integers (most columns) skip the division.
            match (kind == VALUES_DECIMAL_DELTA, e) {
                (true, 0) => decode_decimal::<true>(rest, ts, lo, hi, out, |m| m as f64)?,
                (true, _) => decode_decimal::<true>(rest, ts, lo, hi, out, |m| m as f64 / scale)?,
                (false, 0) => decode_decimal::<false>(rest, ts, lo, hi, out, |m| m as f64)?,
                (false, _) => decode_decimal::<false>(rest, ts, lo, hi, out, |m| m as f64 / scale)?,
            }
        }
        VALUES_XOR => {
            let mut prev = 0u64;
            for (i, &t) in ts[..hi].iter().enumerate() {
                prev ^= get_uvarint_fast(data, &mut pos)?.swap_bytes();
                if i >= lo {
                    out.push(Sample { t_ms: t, value: f64::from_bits(prev) });
                }
            }
        }
        _ => return None,
    }
    Some(())
}

/// Number of entries of a value column written by [`encode_values`], found
/// by counting varint ends (a vectorisable pass over its bytes), or `None`
/// if its kind or exponent is unknown. Readers check it against the run's
/// sample count before handing out an iterator that decodes lazily.
pub fn value_column_len(data: &[u8]) -> Option<usize> {
    let body = match *data.first()? {
        VALUES_XOR => &data[1..],
        VALUES_DECIMAL_DELTA | VALUES_DECIMAL_RAW if *data.get(1)? <= 9 => &data[2..],
        _ => return None,
    };
    // The last byte must end a varint, or the count is one short.
    if body.last().is_some_and(|&b| b >= 0x80) {
        return None;
    }
    Some(body.iter().filter(|&&b| b < 0x80).count())
}

/// Decodes decimal mantissas (deltas if `DELTA`) for `ts`, pushing the
/// samples at positions `lo..hi` with values `value(m)`.
#[inline(always)]
fn decode_decimal<const DELTA: bool>(
    data: &[u8],
    ts: &[i64],
    lo: usize,
    hi: usize,
    out: &mut Vec<Sample>,
    value: impl Fn(i64) -> f64,
) -> Option<()> {
    let mut pos = 0;
    let mut m = 0i64;
    for _ in 0..lo {
        let x = get_varint_fast(data, &mut pos)?;
        m = if DELTA { m.wrapping_add(x) } else { x };
    }
    for &t in &ts[lo..hi] {
        let x = get_varint_fast(data, &mut pos)?;
        m = if DELTA { m.wrapping_add(x) } else { x };
        out.push(Sample { t_ms: t, value: value(m) });
    }
    Some(())
}

/// [`get_uvarint`] with the one-byte case (most values of a column: an
/// unchanged value, a regular scrape) taken first.
#[inline(always)]
fn get_uvarint_fast(data: &[u8], pos: &mut usize) -> Option<u64> {
    let b = *data.get(*pos)?;
    if b < 0x80 {
        *pos += 1;
        return Some(u64::from(b));
    }
    get_uvarint(data, pos)
}

#[inline(always)]
fn get_varint_fast(data: &[u8], pos: &mut usize) -> Option<i64> {
    let u = get_uvarint_fast(data, pos)?;
    Some(((u >> 1) as i64) ^ -((u & 1) as i64))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn value() -> impl Strategy<Value = f64> {
        prop_oneof![
            any::<f64>(),
            (-100_000i64..100_000).prop_map(|m| m as f64 / 100.0),
            Just(f64::from_bits(crate::model::STALE_NAN_BITS)),
            Just(-0.0),
        ]
    }

    fn round_trip(samples: &[Sample], min_t: i64, max_t: i64) -> Vec<Sample> {
        let (mut tbuf, mut vbuf) = (Vec::new(), Vec::new());
        encode_timestamps(samples, &mut tbuf);
        encode_values(samples, &mut vbuf);
        let mut ts = Vec::new();
        assert_eq!(decode_timestamps(&tbuf, &mut ts), Some(tbuf.len()));
        let lo = ts.partition_point(|&t| t < min_t);
        let hi = ts.partition_point(|&t| t <= max_t);
        let mut out = Vec::new();
        decode_values(&vbuf, &ts, lo, hi, &mut out).expect("decodes");
        out
    }

    proptest! {
        #[test]
        fn columns_round_trip_bit_for_bit(
            start in -1_000_000i64..1_000_000,
            steps in proptest::collection::vec((1i64..100_000, value()), 0..300),
        ) {
            let mut t = start;
            let samples: Vec<Sample> = steps.iter().map(|&(d, v)| { t += d; Sample { t_ms: t, value: v } }).collect();
            let out = round_trip(&samples, i64::MIN, i64::MAX);
            prop_assert_eq!(out.len(), samples.len());
            for (a, b) in out.iter().zip(&samples) {
                prop_assert_eq!(a.t_ms, b.t_ms);
                prop_assert_eq!(a.value.to_bits(), b.value.to_bits());
            }
        }
    }

    #[test]
    fn decode_clips_to_the_range_and_rejects_garbage() {
        let samples: Vec<Sample> =
            (0..10).map(|i| Sample { t_ms: i * 10, value: i as f64 }).collect();
        let out = round_trip(&samples, 25, 60);
        assert_eq!(out.iter().map(|s| s.t_ms).collect::<Vec<_>>(), vec![30, 40, 50, 60]);
        let mut tbuf = Vec::new();
        encode_timestamps(&samples, &mut tbuf);
        assert!(decode_timestamps(&tbuf[..tbuf.len() - 1], &mut Vec::new()).is_none());
        let mut vbuf = Vec::new();
        encode_values(&samples, &mut vbuf);
        let ts: Vec<i64> = samples.iter().map(|s| s.t_ms).collect();
        assert!(decode_values(&vbuf[..vbuf.len() - 1], &ts, 0, 10, &mut Vec::new()).is_none());
        assert!(decode_values(&[9], &ts, 0, 10, &mut Vec::new()).is_none());
    }

    #[test]
    fn random_decimals_are_stored_without_deltas() {
        let samples: Vec<Sample> = (0..100)
            .map(|i| Sample { t_ms: i, value: ((i * 7919) % 1000) as f64 / 1000.0 })
            .collect();
        let mut vbuf = Vec::new();
        encode_values(&samples, &mut vbuf);
        assert_eq!(vbuf[0], VALUES_DECIMAL_RAW);
        let counter: Vec<Sample> =
            (0..100).map(|i| Sample { t_ms: i, value: (1_000_000 + i * 3) as f64 }).collect();
        vbuf.clear();
        encode_values(&counter, &mut vbuf);
        assert_eq!(vbuf[0], VALUES_DECIMAL_DELTA);
    }
}
