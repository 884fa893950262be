//! Varints and the columnar sample codec of block chunk frames.
//!
//! A block stores each series' samples for its whole time range as one
//! column run: timestamps as delta-of-deltas, values either as integer
//! mantissa deltas at a shared decimal exponent (counters and most gauges
//! of exporters are short decimals) or as XORs with the previous value.
//! Runs of series are then compressed together with zstd
//! ([`super::chunks`]). Column layouts compress far better under zstd than
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
const VALUES_DECIMAL: u8 = 1;

/// The exponent `e` (0..=9) such that every value is `m / 10^e` exactly for
/// an integer `m` below 2^53, if there is one.
fn decimal_exponent(values: &[f64]) -> Option<u32> {
    'e: for e in 0..=9u32 {
        let scale = 10f64.powi(e as i32);
        for &v in values {
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

/// Encodes sorted samples as one column run, appended to `out`.
pub fn encode_run(samples: &[Sample], out: &mut Vec<u8>) {
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
    let values: Vec<f64> = samples.iter().map(|s| s.value).collect();
    match decimal_exponent(&values) {
        Some(e) => {
            out.push(VALUES_DECIMAL);
            out.push(e as u8);
            let scale = 10f64.powi(e as i32);
            let mut prev = 0i64;
            for v in values {
                let m = (v * scale).round() as i64;
                put_varint(out, m.wrapping_sub(prev));
                prev = m;
            }
        }
        None => {
            out.push(VALUES_XOR);
            let mut prev = 0u64;
            for v in values {
                let x = v.to_bits() ^ prev;
                // Varint of the byte-reversed XOR: nearby floats differ in
                // their low mantissa bits, which reversal moves to the top,
                // leaving the varint short when only a few bytes change.
                put_uvarint(out, x.swap_bytes());
                prev = v.to_bits();
            }
        }
    }
}

/// Decodes a run written by [`encode_run`], pushing samples with
/// `min_t <= t <= max_t`. Returns the bytes consumed, or `None` if corrupt.
pub fn decode_run(data: &[u8], min_t: i64, max_t: i64, out: &mut Vec<Sample>) -> Option<usize> {
    let mut pos = 0;
    let n = usize::try_from(get_uvarint(data, &mut pos)?).ok()?;
    if n > data.len() {
        return None;
    }
    let base = out.len();
    let mut ts = Vec::with_capacity(n);
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
        ts.push(t);
    }
    let kind = *data.get(pos)?;
    pos += 1;
    let lo = ts.partition_point(|&t| t < min_t);
    let hi = ts.partition_point(|&t| t <= max_t);
    out.reserve(hi.saturating_sub(lo));
    match kind {
        VALUES_DECIMAL => {
            let e = *data.get(pos)?;
            pos += 1;
            let scale = 10f64.powi(i32::from(e));
            let mut m = 0i64;
            for (i, &t) in ts.iter().enumerate() {
                m = m.wrapping_add(get_varint(data, &mut pos)?);
                if i >= lo && i < hi {
                    out.push(Sample { t_ms: t, value: m as f64 / scale });
                }
            }
        }
        VALUES_XOR => {
            let mut prev = 0u64;
            for (i, &t) in ts.iter().enumerate() {
                prev ^= get_uvarint(data, &mut pos)?.swap_bytes();
                if i >= lo && i < hi {
                    out.push(Sample { t_ms: t, value: f64::from_bits(prev) });
                }
            }
        }
        _ => {
            out.truncate(base);
            return None;
        }
    }
    Some(pos)
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

    proptest! {
        #[test]
        fn runs_round_trip_bit_for_bit(
            start in -1_000_000i64..1_000_000,
            steps in proptest::collection::vec((1i64..100_000, value()), 0..300),
        ) {
            let mut t = start;
            let samples: Vec<Sample> = steps.iter().map(|&(d, v)| { t += d; Sample { t_ms: t, value: v } }).collect();
            let mut buf = Vec::new();
            encode_run(&samples, &mut buf);
            let mut out = Vec::new();
            prop_assert_eq!(decode_run(&buf, i64::MIN, i64::MAX, &mut out), Some(buf.len()));
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
        let mut buf = Vec::new();
        encode_run(&samples, &mut buf);
        let mut out = Vec::new();
        decode_run(&buf, 25, 60, &mut out).unwrap();
        assert_eq!(out.iter().map(|s| s.t_ms).collect::<Vec<_>>(), vec![30, 40, 50, 60]);
        assert!(decode_run(&buf[..buf.len() - 1], 0, 100, &mut Vec::new()).is_none());
    }
}
