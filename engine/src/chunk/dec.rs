//! The decimal chunk: a denser encoding for closed chunks.
//!
//! Most sample values come from text expositions, so they are decimals:
//! `1234.56` is stored as the `f64` nearest to it, which is exactly
//! `123456 / 10^2` rounded once. XOR compression sees only the noisy binary
//! mantissa of such values (40+ bits a sample for a CPU-seconds counter); this
//! encoding recovers the integer `m` and stores integer deltas instead. It is
//! used only when every value of a chunk round-trips bit-exactly through
//! `m / 10^e` (so NaN, stale markers, ±Inf and -0.0 keep a chunk in XOR), and
//! only when it comes out smaller than the XOR form.
//!
//! Timestamps are coded against a grid (`t0 + i·step`, `step` the chunk's most
//! common interval): a sample that is as far off the grid as its predecessor
//! costs one bit, a scrape that returns to the grid two. A jittered scrape thus
//! costs two short codes instead of the two delta-of-deltas of XOR.
//!
//! Values: the first mantissa as a varint, then for each sample either the
//! delta or the delta-of-delta of the mantissas (whichever the chunk favours),
//! divided by the greatest common divisor of all deltas (4096 for page-sized
//! byte gauges), with a bit width that is reused while it fits.
//!
//! Layout in docs/format/chunks.md. Only the head's chunk cutting creates
//! these chunks ([`super::compact`]); open chunks are always XOR.

use super::bstream::{BitReader, BitWriter};
use super::xor::{
    HEADER_BYTES, chunk_num_samples, fits, read_uvarint, read_varint, sign_extend, write_uvarint,
    write_varint,
};
use crate::model::Sample;

/// Largest decimal exponent tried (nanosecond-resolution seconds).
pub const MAX_EXPONENT: u32 = 9;

const POW10: [f64; MAX_EXPONENT as usize + 1] = [1.0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9];

/// Largest mantissa magnitude: integers up to 2^53 are exact in an `f64`.
const MAX_MANTISSA: f64 = 9_007_199_254_740_992.0;

/// The mantissa of `v` at exponent `e`, if `v` is exactly `m / 10^e`.
#[inline]
fn mantissa(v: f64, e: u32) -> Option<i64> {
    let x = (v * POW10[e as usize]).round();
    // NaN and ±Inf fail the comparison; -0.0 fails the bit check below
    // (the check decodes exactly as the iterator does, from the integer).
    if x.is_nan() || x.abs() >= MAX_MANTISSA {
        return None;
    }
    let exact = |m: i64| (m as f64 / POW10[e as usize]).to_bits() == v.to_bits();
    let m = x as i64;
    if exact(m) {
        return Some(m);
    }
    // Above 2^50 the product `v * 10^e` can be off by more than half a unit,
    // so the rounded candidate may miss by one.
    if x.abs() >= (1u64 << 50) as f64 {
        return [m - 1, m + 1].into_iter().find(|&c| c.unsigned_abs() < 1 << 53 && exact(c));
    }
    None
}

#[inline]
fn zigzag(x: i64) -> u64 {
    ((x << 1) ^ (x >> 63)) as u64
}

#[inline]
fn unzigzag(z: u64) -> i64 {
    ((z >> 1) as i64) ^ -((z & 1) as i64)
}

#[inline]
fn bit_len(z: u64) -> u32 {
    64 - z.leading_zeros()
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// The most common interval if one is a majority (Boyer-Moore vote), else
/// some interval; either way a valid grid, only compression depends on it.
fn grid_step(ts: &[i64]) -> i64 {
    let (mut cand, mut votes) = (0i64, 0u32);
    for w in ts.windows(2) {
        let d = w[1].wrapping_sub(w[0]);
        if votes == 0 {
            cand = d;
            votes = 1;
        } else if d == cand {
            votes += 1;
        } else {
            votes -= 1;
        }
    }
    cand
}

/// Encodes samples into a closed decimal chunk appended to `out`. Returns
/// false (leaving `out` as it was) when some value is not a decimal with at
/// most [`MAX_EXPONENT`] places or fewer than two samples are given.
/// `mantissas` is scratch space.
pub fn encode(ts: &[i64], vs: &[f64], out: &mut Vec<u8>, mantissas: &mut Vec<i64>) -> bool {
    let n = ts.len();
    if n < 2 || n != vs.len() || n > usize::from(u16::MAX) {
        return false;
    }
    // The exponent: representable at e implies representable at any larger
    // e while the mantissa stays under 2^53, so scan upwards only.
    let mut e = 0;
    for &v in vs {
        while mantissa(v, e).is_none() {
            e += 1;
            if e > MAX_EXPONENT {
                return false;
            }
        }
    }
    mantissas.clear();
    for &v in vs {
        match mantissa(v, e) {
            Some(m) => mantissas.push(m),
            None => return false,
        }
    }
    let ms = &mantissas[..];
    let g = ms.windows(2).fold(0u64, |g, w| gcd(g, (w[1] - w[0]).unsigned_abs())).max(1) as i64;
    // Pick delta or delta-of-delta by the bits their values need.
    let (mut cost_delta, mut cost_dod, mut prev_d) = (0u32, 0u32, 0i64);
    for w in ms.windows(2) {
        let d = (w[1] - w[0]) / g;
        cost_delta += bit_len(zigzag(d));
        cost_dod += bit_len(zigzag(d - prev_d));
        prev_d = d;
    }
    let dod_mode = cost_dod < cost_delta;
    let step = grid_step(ts);

    let mut w = BitWriter::with_capacity(n * 2 + 32);
    write_varint(&mut w, ts[0]);
    write_uvarint(&mut w, step as u64);
    w.write_bits(u64::from(e), 4);
    write_uvarint(&mut w, g as u64);
    w.write_bit(dod_mode);
    write_varint(&mut w, ms[0]);
    let (mut grid, mut off, mut prev_d, mut width) = (ts[0], 0i64, 0i64, 0u32);
    for i in 1..n {
        grid = grid.wrapping_add(step);
        let o = ts[i].wrapping_sub(grid);
        if o == off {
            w.write_bits(0, 1);
        } else if o == 0 {
            w.write_bits(0b10, 2);
        } else {
            write_offset_change(&mut w, o.wrapping_sub(off));
        }
        off = o;
        let d = (ms[i] - ms[i - 1]) / g;
        let x = if dod_mode { d - prev_d } else { d };
        prev_d = d;
        write_value(&mut w, x, &mut width);
    }
    out.extend_from_slice(&(n as u16).to_be_bytes());
    w.copy_to(out);
    true
}

/// `11` then a class: `0`+5 bits, `10`+9, `110`+16, `1110`+24, `1111`+64.
fn write_offset_change(w: &mut BitWriter, x: i64) {
    let u = x as u64;
    if fits(x, 5) {
        w.write_bits((0b110 << 5) | (u & 0x1f), 8);
    } else if fits(x, 9) {
        w.write_bits((0b1110 << 9) | (u & 0x1ff), 13);
    } else if fits(x, 16) {
        w.write_bits((0b11110 << 16) | (u & 0xffff), 21);
    } else if fits(x, 24) {
        w.write_bits((0b111110 << 24) | (u & 0xff_ffff), 30);
    } else {
        w.write_bits(0b111111, 6);
        w.write_bits(u, 64);
    }
}

/// `0` for zero; `10` + `width` bits while the zig-zagged value fits the
/// current width (and that is not much wider than needed); else `11`, six
/// bits of new width minus one, and the value in that width.
#[inline]
fn write_value(w: &mut BitWriter, x: i64, width: &mut u32) {
    if x == 0 {
        w.write_bits(0, 1);
        return;
    }
    let z = zigzag(x);
    let need = bit_len(z);
    if need <= *width && *width <= need + 6 {
        if *width <= 62 {
            w.write_bits((0b10 << *width) | z, *width + 2);
        } else {
            w.write_bits(0b10, 2);
            w.write_bits(z, *width);
        }
    } else {
        *width = need;
        w.write_bits((0b11 << 6) | u64::from(need - 1), 8);
        w.write_bits(z, need);
    }
}

/// Decodes a closed decimal chunk; a [`SampleIterator`] with `seek`.
#[derive(Debug, Clone)]
pub struct DecIterator<'a> {
    r: BitReader<'a>,
    total: u16,
    read: u16,
    t: i64,
    grid: i64,
    step: i64,
    off: i64,
    scale: f64,
    g: i64,
    dod_mode: bool,
    m: i64,
    d: i64,
    width: u32,
    pending: bool,
}

impl<'a> DecIterator<'a> {
    /// Iterates the closed chunk `chunk` (header included).
    pub fn new(chunk: &'a [u8]) -> Self {
        let total = chunk_num_samples(chunk);
        let body = chunk.get(HEADER_BYTES..).unwrap_or(&[]);
        let mut it = DecIterator {
            r: BitReader::new(body),
            total,
            read: 0,
            t: 0,
            grid: 0,
            step: 0,
            off: 0,
            scale: 1.0,
            g: 1,
            dod_mode: false,
            m: 0,
            d: 0,
            width: 0,
            pending: false,
        };
        if total > 0 && !it.read_header() {
            it.total = 0;
        }
        it
    }

    fn read_header(&mut self) -> bool {
        let r = &mut self.r;
        let (Some(t0), Some(step)) = (read_varint(r), read_uvarint(r)) else { return false };
        let e = r.read_bits(4) as usize;
        let (Some(&scale), Some(g), dod_mode) = (POW10.get(e), read_uvarint(r), r.read_bit())
        else {
            return false;
        };
        let Some(m0) = read_varint(r) else { return false };
        self.t = t0;
        self.grid = t0;
        self.step = step as i64;
        self.scale = scale;
        self.g = g as i64;
        self.dod_mode = dod_mode;
        self.m = m0;
        true
    }

    /// Decodes the next sample into the cursor; false when exhausted.
    #[inline]
    pub fn advance(&mut self) -> bool {
        if self.read >= self.total {
            return false;
        }
        if self.read > 0 {
            self.read_time();
            match self.read_value() {
                Some(x) => {
                    let d = if self.dod_mode { self.d.wrapping_add(x) } else { x };
                    self.d = d;
                    self.m = self.m.wrapping_add(d.wrapping_mul(self.g));
                }
                None => {
                    self.total = 0;
                    return false;
                }
            }
        }
        self.read += 1;
        true
    }

    #[inline]
    fn read_time(&mut self) {
        self.grid = self.grid.wrapping_add(self.step);
        let w = self.r.peek();
        if w >> 63 == 0 {
            self.r.skip(1);
        } else if (w >> 62) & 1 == 0 {
            self.r.skip(2);
            self.off = 0;
        } else {
            let diff = match (!(w << 2)).leading_zeros() {
                0 => {
                    self.r.skip(8);
                    sign_extend((w >> 56) & 0x1f, 5)
                }
                1 => {
                    self.r.skip(13);
                    sign_extend((w >> 51) & 0x1ff, 9)
                }
                2 => {
                    self.r.skip(21);
                    sign_extend((w >> 43) & 0xffff, 16)
                }
                3 => {
                    self.r.skip(30);
                    sign_extend((w >> 34) & 0xff_ffff, 24)
                }
                _ => {
                    self.r.skip(6);
                    self.r.read_bits_wide(64) as i64
                }
            };
            self.off = self.off.wrapping_add(diff);
        }
        self.t = self.grid.wrapping_add(self.off);
    }

    #[inline]
    fn read_value(&mut self) -> Option<i64> {
        let w = self.r.peek();
        if w >> 63 == 0 {
            self.r.skip(1);
            return Some(0);
        }
        let z = if (w >> 62) & 1 == 0 {
            let width = self.width;
            if width == 0 {
                return None;
            }
            if width <= 55 {
                self.r.skip(2 + width);
                (w << 2) >> (64 - width)
            } else {
                self.r.skip(2);
                self.r.read_bits_wide(width)
            }
        } else {
            let width = ((w >> 56) & 63) as u32 + 1;
            self.width = width;
            if width <= 49 {
                self.r.skip(8 + width);
                (w << 8) >> (64 - width)
            } else {
                self.r.skip(8);
                self.r.read_bits_wide(width)
            }
        };
        Some(unzigzag(z))
    }

    /// The sample at the cursor (after a successful [`DecIterator::advance`]).
    #[inline]
    pub fn at(&self) -> Sample {
        Sample { t_ms: self.t, value: self.m as f64 / self.scale }
    }
}

super::impl_seeking_iterator!(DecIterator);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::SampleIterator;
    use proptest::prelude::*;

    fn round_trip(ts: &[i64], vs: &[f64]) -> Option<Vec<Sample>> {
        let mut out = Vec::new();
        if !encode(ts, vs, &mut out, &mut Vec::new()) {
            return None;
        }
        let mut it = DecIterator::new(&out);
        Some(std::iter::from_fn(|| it.next()).collect())
    }

    /// Decimals with at most `e` places whose mantissas at `e` stay exact.
    fn decimal(e: u32) -> impl Strategy<Value = f64> {
        let p = POW10[e as usize];
        prop_oneof![
            any::<i32>().prop_map(move |m| f64::from(m) / p),
            (-(1i64 << 52)..(1i64 << 52)).prop_map(move |m| m as f64 / p),
            (0u32..20).prop_map(|k| f64::from(k) * 4096.0),
            Just(0.0),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]
        #[test]
        fn decimals_round_trip_bit_exactly(
            (e, samples) in (0u32..=9).prop_flat_map(|e| (Just(e), proptest::collection::vec(
                (prop_oneof![Just(15_000i64), 14_990i64..15_010, 1i64..1_000_000_000_000], decimal(e)), 2..200))),
            start in any::<i32>(),
        ) {
            let _ = e;
            let mut t = i64::from(start);
            let ts: Vec<i64> = samples.iter().map(|(d, _)| { t += d; t }).collect();
            let vs: Vec<f64> = samples.iter().map(|(_, v)| *v).collect();
            let back = round_trip(&ts, &vs).expect("decimal values encode");
            prop_assert_eq!(back.len(), ts.len());
            for ((s, t), v) in back.iter().zip(&ts).zip(&vs) {
                prop_assert_eq!(s.t_ms, *t);
                prop_assert_eq!(s.value.to_bits(), v.to_bits());
            }
        }

        #[test]
        fn anything_that_encodes_round_trips(vs in proptest::collection::vec(any::<f64>(), 2..50)) {
            let ts: Vec<i64> = (0..vs.len() as i64).map(|i| i * 1000).collect();
            if let Some(back) = round_trip(&ts, &vs) {
                for (s, v) in back.iter().zip(&vs) {
                    prop_assert_eq!(s.value.to_bits(), v.to_bits());
                }
            }
        }

        #[test]
        fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let mut it = DecIterator::new(&bytes);
            while it.advance() {}
        }
    }

    #[test]
    fn non_decimals_are_refused() {
        let ts = [1, 2, 3];
        for bad in [
            f64::NAN,
            f64::INFINITY,
            -0.0,
            f64::from_bits(crate::model::STALE_NAN_BITS),
            0.1 + 0.2,
            1e300,
        ] {
            assert!(round_trip(&ts, &[1.0, bad, 2.0]).is_none(), "{bad}");
        }
    }

    #[test]
    fn cpu_counter_is_much_smaller_than_xor() {
        let ts: Vec<i64> = (0..120)
            .map(|i| 1_700_000_000_000 + i * 15_000 + if i % 9 == 4 { 3 } else { 0 })
            .collect();
        let vs: Vec<f64> =
            (0..120).map(|i| (12_345_678 + i * 1_350 + (i * 37 % 11)) as f64 / 100.0).collect();
        let mut dec = Vec::new();
        assert!(encode(&ts, &vs, &mut dec, &mut Vec::new()));
        let mut xor = crate::chunk::XorEncoder::new();
        for (t, v) in ts.iter().zip(&vs) {
            xor.append(*t, *v);
        }
        assert!(
            dec.len() * 3 < xor.len_bytes(),
            "dec {} bytes, xor {}",
            dec.len(),
            xor.len_bytes()
        );
    }
}
