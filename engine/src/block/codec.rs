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

use super::bitpack::{self, packed_len};
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
const VALUES_DECIMAL_DELTA_PACKED: u8 = 3;
const VALUES_DECIMAL_RAW_PACKED: u8 = 4;

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
    uvarint_len(((v << 1) ^ (v >> 63)) as u64)
}

/// Bytes `u` takes as an unsigned varint.
#[inline]
fn uvarint_len(u: u64) -> usize {
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
            let ms: Vec<i64> = samples.iter().map(|s| (s.value * scale).round() as i64).collect();
            let start = out.len();
            encode_varint_mantissas(&ms, e as u8, out);
            // Bit-packed mantissas when they beat what the varint bytes
            // would cost under an ideal byte-wise entropy coder (what zstd's
            // literal coding gets near; its matches only help varints more,
            // so the estimate favours packing only when it clearly wins).
            let varint_cost = 2 + entropy_bytes(&out[start + 2..]);
            let mut packed = Vec::new();
            if encode_packed_mantissas(&ms, e as u8, &mut packed) && packed.len() < varint_cost {
                out.truncate(start);
                out.extend_from_slice(&packed);
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

/// Mantissas as varints: deltas, or as they are when that is shorter
/// (values redrawn every scrape, whose deltas take one more bit).
fn encode_varint_mantissas(ms: &[i64], e: u8, out: &mut Vec<u8>) {
    let (mut delta_len, mut raw_len, mut prev) = (0usize, 0usize, 0i64);
    for &m in ms {
        delta_len += varint_len(m.wrapping_sub(prev));
        raw_len += varint_len(m);
        prev = m;
    }
    if raw_len < delta_len {
        out.push(VALUES_DECIMAL_RAW);
        out.push(e);
        for &m in ms {
            put_varint(out, m);
        }
    } else {
        out.push(VALUES_DECIMAL_DELTA);
        out.push(e);
        let mut prev = 0i64;
        for &m in ms {
            put_varint(out, m.wrapping_sub(prev));
            prev = m;
        }
    }
}

/// How packed entries map to integers: `base + entry · step`.
#[derive(Debug, Clone, Copy)]
struct Packing {
    base: i64,
    /// The greatest common divisor of every integer's distance from
    /// `base` (1 if all are equal): gauges moving in pages of 4096 bytes
    /// pack twelve bits narrower.
    step: u64,
    width: u32,
}

impl Packing {
    fn of(vals: impl Iterator<Item = i64> + Clone) -> Packing {
        let (mut lo, mut hi) = (i64::MAX, i64::MIN);
        for v in vals.clone() {
            (lo, hi) = (lo.min(v), hi.max(v));
        }
        if lo > hi {
            return Packing { base: 0, step: 1, width: 0 };
        }
        let step = vals.fold(0u64, |g, v| gcd(g, v.wrapping_sub(lo) as u64)).max(1);
        let width = bitpack::width(hi.wrapping_sub(lo) as u64 / step);
        Packing { base: lo, step, width }
    }

    /// Bytes of the header fields and `n` entries.
    fn len(&self, n: usize) -> usize {
        varint_len(self.base) + uvarint_len(self.step) + 1 + packed_len(n, self.width)
    }

    fn put(&self, vals: impl Iterator<Item = i64>, out: &mut Vec<u8>) {
        put_varint(out, self.base);
        put_uvarint(out, self.step);
        out.push(self.width as u8);
        let entries = vals.map(|v| v.wrapping_sub(self.base) as u64 / self.step);
        bitpack::pack(entries, self.width, out);
    }
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// Mantissas bit-packed (see [`Packing`]), as deltas after the first or
/// as they are, whichever is shorter. False if neither fits the packer.
fn encode_packed_mantissas(ms: &[i64], e: u8, out: &mut Vec<u8>) -> bool {
    let Some((&first, rest)) = ms.split_first() else { return false };
    let deltas = ms.windows(2).map(|p| p[1].wrapping_sub(p[0]));
    let raw = Packing::of(ms.iter().copied());
    let delta = Packing::of(deltas.clone());
    if varint_len(first) + delta.len(rest.len()) <= raw.len(ms.len())
        && delta.width <= bitpack::MAX_WIDTH
    {
        out.extend_from_slice(&[VALUES_DECIMAL_DELTA_PACKED, e]);
        put_varint(out, first);
        delta.put(deltas, out);
        true
    } else if raw.width <= bitpack::MAX_WIDTH {
        out.extend_from_slice(&[VALUES_DECIMAL_RAW_PACKED, e]);
        raw.put(ms.iter().copied(), out);
        true
    } else {
        false
    }
}

/// Bytes `data` would take under an ideal order-0 byte coder.
fn entropy_bytes(data: &[u8]) -> usize {
    let mut counts = [0u32; 256];
    for &b in data {
        counts[usize::from(b)] += 1;
    }
    let n = data.len() as f64;
    let bits: f64 = counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let c = f64::from(c);
            -c * (c / n).log2()
        })
        .sum();
    (bits / 8.0).ceil() as usize
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
        VALUES_DECIMAL_DELTA_PACKED | VALUES_DECIMAL_RAW_PACKED => {
            let e = *data.get(pos)?;
            let scale = *POW10.get(usize::from(e))?;
            pos += 1;
            let delta = kind == VALUES_DECIMAL_DELTA_PACKED;
            match (delta, e) {
                (true, 0) => decode_packed::<true>(&data[pos..], ts, lo, hi, out, |m| m as f64)?,
                (true, _) => {
                    decode_packed::<true>(&data[pos..], ts, lo, hi, out, |m| m as f64 / scale)?
                }
                (false, 0) => decode_packed::<false>(&data[pos..], ts, lo, hi, out, |m| m as f64)?,
                (false, _) => {
                    decode_packed::<false>(&data[pos..], ts, lo, hi, out, |m| m as f64 / scale)?
                }
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

/// Whether a value column written by [`encode_values`] holds exactly `n`
/// entries and decodes: varint columns by counting varint ends (a
/// vectorisable pass over its bytes), packed ones from their header.
/// Readers check it before handing out an iterator that decodes lazily.
pub fn value_column_fits(data: &[u8], n: usize) -> bool {
    let count_varints = |body: &[u8]| {
        // The last byte must end a varint, or the count is one short.
        body.last().is_none_or(|&b| b < 0x80) && body.iter().filter(|&&b| b < 0x80).count() == n
    };
    let Some(&kind) = data.first() else { return false };
    let exponent_ok = data.get(1).is_some_and(|&e| e <= 9);
    match kind {
        VALUES_XOR => count_varints(&data[1..]),
        VALUES_DECIMAL_DELTA | VALUES_DECIMAL_RAW => exponent_ok && count_varints(&data[2..]),
        VALUES_DECIMAL_DELTA_PACKED | VALUES_DECIMAL_RAW_PACKED if exponent_ok => {
            packed_header(&data[2..], kind == VALUES_DECIMAL_DELTA_PACKED, n).is_some()
        }
        _ => false,
    }
}

/// Splits a packed column after its exponent: (first mantissa, its
/// packing, packed bytes), checking the packed bytes' length for `n`
/// entries.
fn packed_header(data: &[u8], delta: bool, n: usize) -> Option<(i64, Packing, &[u8])> {
    let mut pos = 0;
    let first = if delta { get_varint(data, &mut pos)? } else { 0 };
    let base = get_varint(data, &mut pos)?;
    let step = get_uvarint(data, &mut pos)?;
    let width = u32::from(*data.get(pos)?);
    let body = &data[pos + 1..];
    let packed = if delta { n.checked_sub(1)? } else { n };
    (step >= 1 && width <= bitpack::MAX_WIDTH && body.len() == packed_len(packed, width))
        .then_some((first, Packing { base, step, width }, body))
}

/// Decodes a packed column's mantissas (deltas after the first if
/// `DELTA`) for `ts`, pushing the samples at positions `lo..hi`.
#[inline(always)]
fn decode_packed<const DELTA: bool>(
    data: &[u8],
    ts: &[i64],
    lo: usize,
    hi: usize,
    out: &mut Vec<Sample>,
    value: impl Fn(i64) -> f64,
) -> Option<()> {
    if lo >= hi {
        return Some(());
    }
    let (first, Packing { base, step, width: w }, body) = packed_header(data, DELTA, ts.len())?;
    let at = |u: u64| base.wrapping_add(u.wrapping_mul(step) as i64);
    if DELTA {
        let mut m = first;
        if lo == 0 {
            out.push(Sample { t_ms: ts[0], value: value(m) });
        }
        // Sample i > 0 is packed entry i - 1.
        let from = lo.max(1);
        bitpack::unpack(body, w, 0, from - 1, |u| m = m.wrapping_add(at(u)));
        let mut j = from;
        bitpack::unpack(body, w, from - 1, hi - 1, |u| {
            m = m.wrapping_add(at(u));
            out.push(Sample { t_ms: ts[j], value: value(m) });
            j += 1;
        });
    } else {
        let mut j = lo;
        bitpack::unpack(body, w, lo, hi, |u| {
            out.push(Sample { t_ms: ts[j], value: value(at(u)) });
            j += 1;
        });
    }
    Some(())
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
        fn decimal_columns_round_trip(
            scale in 0u32..4,
            quantum in 1i64..5000,
            steps in proptest::collection::vec(-1000i64..1000, 1..300),
            cut in 0usize..300,
        ) {
            let mut m = 0i64;
            let samples: Vec<Sample> = steps
                .iter()
                .enumerate()
                .map(|(i, &k)| {
                    m += k * quantum;
                    Sample { t_ms: i as i64, value: m as f64 / POW10[scale as usize] }
                })
                .collect();
            let min_t = cut.min(samples.len()) as i64;
            let out = round_trip(&samples, min_t, i64::MAX);
            prop_assert_eq!(&out[..], &samples[min_t as usize..]);
        }

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
    fn column_kinds_follow_the_values() {
        let kind = |values: &[f64]| {
            let samples: Vec<Sample> = values
                .iter()
                .enumerate()
                .map(|(i, &value)| Sample { t_ms: i as i64, value })
                .collect();
            let mut vbuf = Vec::new();
            encode_values(&samples, &mut vbuf);
            let ts: Vec<i64> = samples.iter().map(|s| s.t_ms).collect();
            assert!(value_column_fits(&vbuf, ts.len()));
            assert!(!value_column_fits(&vbuf, ts.len() + 1));
            let mut out = Vec::new();
            decode_values(&vbuf, &ts, 3, ts.len(), &mut out).expect("decodes");
            assert_eq!(out, samples[3..]);
            vbuf[0]
        };
        // A pseudo-random sequence (a linear congruential generator).
        let mut x = 12345u64;
        let mut rand = |n: u64| {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (x >> 33) % n
        };
        // Redrawn every scrape, evenly over a range: packed as they are.
        let durations: Vec<f64> = (0..200).map(|_| (250 + rand(2000)) as f64 / 1000.0).collect();
        assert_eq!(kind(&durations), VALUES_DECIMAL_RAW_PACKED);
        // A counter stepping by 1000 ± 250: packed deltas.
        let mut c = 1e9;
        let counter: Vec<f64> = (0..200)
            .map(|_| {
                c += (750 + rand(501)) as f64;
                c
            })
            .collect();
        assert_eq!(kind(&counter), VALUES_DECIMAL_DELTA_PACKED);
        // Constant steps and rare changes: varint deltas (zstd takes the rest).
        let steady: Vec<f64> = (0..200).map(|i| (1_000_000 + i * 3) as f64).collect();
        assert_eq!(kind(&steady), VALUES_DECIMAL_DELTA);
        let rare: Vec<f64> = (0..200).map(|i| (i / 50 * 4096) as f64).collect();
        assert_eq!(kind(&rare), VALUES_DECIMAL_DELTA);
        // A gauge moving by whole pages: packed deltas in pages.
        let mut g = 1_000_000i64 * 4096;
        let pages: Vec<f64> = (0..200)
            .map(|_| {
                g += (rand(201) as i64 - 100) * 4096;
                g as f64
            })
            .collect();
        let mut vbuf = Vec::new();
        let samples: Vec<Sample> =
            pages.iter().enumerate().map(|(i, &value)| Sample { t_ms: i as i64, value }).collect();
        encode_values(&samples, &mut vbuf);
        assert_eq!(vbuf[0], VALUES_DECIMAL_DELTA_PACKED);
        assert!(vbuf.len() < 2 + 4 + 4 + 3 + 1 + 200, "8 bits an entry, not 20: {}", vbuf.len());
        assert_eq!(kind(&pages), VALUES_DECIMAL_DELTA_PACKED);
        assert_eq!(kind(&[0.1, f64::NAN, 3.0, 4.0]), VALUES_XOR);
    }
}
