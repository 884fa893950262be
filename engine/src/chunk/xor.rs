//! The XOR chunk: Gorilla's delta-of-delta timestamps and XOR floats.
//!
//! The layout (docs/format/chunks.md) follows Prometheus' `chunkenc.XORChunk`
//! with one change: the delta-of-delta classes are shifted down so the
//! common case of a few milliseconds of scrape jitter costs 10 bits instead
//! of 16 (`10` + 8 bits), which is worth about a fifth of a byte per sample
//! on jittery loads.
//!
//! Encoding and decoding are the engine's hottest loops (every ingested and
//! every queried sample passes through them): neither allocates per sample,
//! and both fold a control prefix and its payload into one bit-I/O call.

use super::bstream::{BitReader, BitWriter};
use crate::model::Sample;

/// Samples per chunk before the head cuts a new one, as in Prometheus.
pub const SAMPLES_PER_CHUNK: u16 = 120;

/// Bytes of the chunk header (the big-endian `u16` sample count).
pub const HEADER_BYTES: usize = 2;

/// A sentinel for "no leading/trailing window yet".
const NO_WINDOW: u8 = 0xff;

/// Appends samples to an open XOR chunk.
///
/// Timestamps must strictly increase; the head checks that before calling
/// [`XorEncoder::append`] (an out-of-order sample is an append error, not an
/// encoding concern).
#[derive(Debug, Clone)]
pub struct XorEncoder {
    stream: BitWriter,
    t: i64,
    t_delta: i64,
    v_bits: u64,
    count: u16,
    leading: u8,
    trailing: u8,
}

impl Default for XorEncoder {
    fn default() -> Self {
        Self::new()
    }
}

impl XorEncoder {
    /// An empty chunk with no buffer yet: the buffer grows by small steps
    /// as samples arrive, so a head of many series holds each open chunk in
    /// about what its samples take, not a full chunk's worth from the start.
    pub fn new() -> Self {
        Self::with_capacity(0)
    }

    /// An empty chunk whose stream can hold `bytes` before growing.
    pub fn with_capacity(bytes: usize) -> Self {
        XorEncoder {
            stream: BitWriter::with_capacity(bytes),
            t: 0,
            t_delta: 0,
            v_bits: 0,
            count: 0,
            leading: NO_WINDOW,
            trailing: 0,
        }
    }

    /// Number of samples appended.
    pub fn num_samples(&self) -> u16 {
        self.count
    }

    /// Timestamp of the oldest sample, `None` while empty. Decoded from the
    /// stream's first bytes rather than kept in a field: the head holds an
    /// encoder per series and asks for this once per chunk cut or query.
    pub fn first_t(&self) -> Option<i64> {
        if self.count == 0 {
            return None;
        }
        let prefix = self.stream.prefix16();
        read_varint(&mut BitReader::new(&prefix))
    }

    /// Timestamp of the newest sample (meaningless while empty).
    pub fn last_t(&self) -> i64 {
        self.t
    }

    /// Value of the newest sample (meaningless while empty).
    pub fn last_value(&self) -> f64 {
        f64::from_bits(self.v_bits)
    }

    /// Appends a sample whose timestamp is greater than the last one's.
    #[inline]
    pub fn append(&mut self, t: i64, v: f64) {
        let v_bits = v.to_bits();
        if self.count >= 2 {
            let delta = t.wrapping_sub(self.t);
            let (code, len) = self.dod_code(delta.wrapping_sub(self.t_delta));
            self.write_value(v_bits, code, len);
            self.t_delta = delta;
        } else if self.count == 0 {
            write_varint(&mut self.stream, t);
            self.stream.write_bits(v_bits, 64);
        } else {
            let delta = t.wrapping_sub(self.t);
            write_uvarint(&mut self.stream, delta as u64);
            self.write_value(v_bits, 0, 0);
            self.t_delta = delta;
        }
        self.t = t;
        self.v_bits = v_bits;
        self.count += 1;
    }

    /// The timestamp code for `dod` as `(bits, length)`, to be written in
    /// front of the value code. The rare 64-bit class is written here and
    /// returns length 0.
    #[inline]
    fn dod_code(&mut self, dod: i64) -> (u64, u32) {
        if dod == 0 {
            (0, 1)
        } else if fits(dod, 8) {
            ((0b10 << 8) | (dod as u64 & 0xff), 10)
        } else if fits(dod, 14) {
            ((0b110 << 14) | (dod as u64 & 0x3fff), 17)
        } else if fits(dod, 20) {
            ((0b1110 << 20) | (dod as u64 & 0xf_ffff), 24)
        } else {
            self.stream.write_bits(0b1111, 4);
            self.stream.write_bits(dod as u64, 64);
            (0, 0)
        }
    }

    /// Writes `prefix` (`prefix_len` bits, the timestamp code) and the value
    /// code, as one write when together they fit in 64 bits, which is the
    /// common case (a steady sample is `0` `0`: two bits, one write).
    #[inline]
    fn write_value(&mut self, v_bits: u64, prefix: u64, prefix_len: u32) {
        let delta = v_bits ^ self.v_bits;
        let s = &mut self.stream;
        let (code, len) = if delta == 0 {
            (0, 1)
        } else {
            let lead = (delta.leading_zeros() as u8).min(31);
            let trail = delta.trailing_zeros() as u8;
            if self.leading != NO_WINDOW && lead >= self.leading && trail >= self.trailing {
                // Reuse the previous window: `10` + the meaningful bits.
                let sig = 64 - u32::from(self.leading) - u32::from(self.trailing);
                let payload = delta >> self.trailing;
                if sig > 62 {
                    s.write_bits(prefix, prefix_len);
                    s.write_bits(0b10, 2);
                    s.write_bits(payload, sig);
                    return;
                }
                ((0b10 << sig) | payload, sig + 2)
            } else {
                // New window: `11`, 5 bits of leading zeros, 6 bits of length
                // (64 written as 0), then the meaningful bits.
                self.leading = lead;
                self.trailing = trail;
                let sig = 64 - u32::from(lead) - u32::from(trail);
                let head = (0b11 << 11) | (u64::from(lead) << 6) | u64::from(sig & 63);
                let payload = delta >> trail;
                if sig > 51 {
                    s.write_bits(prefix, prefix_len);
                    s.write_bits(head, 13);
                    s.write_bits(payload, sig);
                    return;
                }
                ((head << sig) | payload, 13 + sig)
            }
        };
        if prefix_len == 0 {
            s.write_bits(code, len);
        } else if prefix_len + len <= 64 {
            s.write_bits((prefix << len) | code, prefix_len + len);
        } else {
            s.write_bits(prefix, prefix_len);
            s.write_bits(code, len);
        }
    }

    /// Bytes of the chunk in its closed form (header plus stream).
    pub fn len_bytes(&self) -> usize {
        HEADER_BYTES + self.stream.len_bytes()
    }

    /// Appends the chunk in its closed form to `out`.
    pub fn copy_to(&self, out: &mut Vec<u8>) {
        out.reserve(self.len_bytes());
        out.extend_from_slice(&self.count.to_be_bytes());
        self.stream.copy_to(out);
    }

    /// The chunk in its closed form.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.len_bytes());
        self.copy_to(&mut out);
        out
    }

    /// Heap bytes held by the encoder.
    pub fn heap_bytes(&self) -> usize {
        self.stream.heap_bytes()
    }

    /// Empties the encoder for the next chunk, keeping its buffer.
    pub fn reset(&mut self) {
        self.stream.clear();
        self.t = 0;
        self.t_delta = 0;
        self.v_bits = 0;
        self.count = 0;
        self.leading = NO_WINDOW;
        self.trailing = 0;
    }
}

/// Whether `dod` fits the `bits`-wide class, `-(2^(bits-1)) < dod <= 2^(bits-1)`
/// (Prometheus' `bitRange`; the most negative value is left out so that the
/// decoder can tell signs apart with one comparison).
#[inline]
pub(super) fn fits(dod: i64, bits: u32) -> bool {
    let half = 1i64 << (bits - 1);
    -half < dod && dod <= half
}

pub(super) fn write_uvarint(s: &mut BitWriter, mut v: u64) {
    while v >= 0x80 {
        s.write_byte((v as u8) | 0x80);
        v >>= 7;
    }
    s.write_byte(v as u8);
}

pub(super) fn write_varint(s: &mut BitWriter, v: i64) {
    write_uvarint(s, ((v << 1) ^ (v >> 63)) as u64);
}

/// Number of samples in a closed chunk, from its header.
pub fn chunk_num_samples(chunk: &[u8]) -> u16 {
    match chunk {
        [a, b, ..] => u16::from_be_bytes([*a, *b]),
        _ => 0,
    }
}

/// Decodes a closed XOR chunk; a [`SampleIterator`] with `seek`.
///
/// Corrupt input never panics: decoding stops at the first inconsistent
/// field (and the head-chunk files' CRC32C catches corruption before that).
#[derive(Debug, Clone)]
pub struct XorIterator<'a> {
    r: BitReader<'a>,
    total: u16,
    read: u16,
    t: i64,
    t_delta: i64,
    v_bits: u64,
    leading: u8,
    trailing: u8,
    /// The sample at `(t, v_bits)` was decoded by `seek` and not yet returned.
    pending: bool,
}

impl<'a> XorIterator<'a> {
    /// Iterates the closed chunk `chunk` (header included).
    pub fn new(chunk: &'a [u8]) -> Self {
        let total = chunk_num_samples(chunk);
        let body = chunk.get(HEADER_BYTES..).unwrap_or(&[]);
        XorIterator {
            r: BitReader::new(body),
            total,
            read: 0,
            t: 0,
            t_delta: 0,
            v_bits: 0,
            leading: NO_WINDOW,
            trailing: 0,
            pending: false,
        }
    }

    /// Decodes the next sample into the cursor; false when exhausted.
    #[inline]
    pub fn advance(&mut self) -> bool {
        if self.read >= self.total {
            return false;
        }
        // The common case first: every sample after the second.
        let ok = if self.read >= 2 {
            self.read_sample()
        } else if self.read == 0 {
            self.read_first()
        } else {
            self.read_second()
        };
        if ok {
            self.read += 1;
        } else {
            self.total = 0;
        }
        ok
    }

    #[cold]
    fn read_second(&mut self) -> bool {
        match read_uvarint(&mut self.r) {
            Some(d) => {
                self.t_delta = d as i64;
                self.t = self.t.wrapping_add(d as i64);
                self.read_value()
            }
            None => false,
        }
    }

    /// The sample at the cursor (after a successful [`XorIterator::advance`]).
    #[inline]
    pub fn at(&self) -> Sample {
        Sample { t_ms: self.t, value: f64::from_bits(self.v_bits) }
    }

    #[cold]
    fn read_first(&mut self) -> bool {
        let Some(t) = read_varint(&mut self.r) else { return false };
        self.t = t;
        self.v_bits = self.r.read_bits_wide(64);
        true
    }

    /// Decodes a sample after the second, taking both its codes from one
    /// 64-bit window when they fit (nearly always: a steady sample is 2
    /// bits, a jittered counter under 40). Falls back to a load per field.
    #[inline]
    fn read_sample(&mut self) -> bool {
        let w = self.r.peek();
        let (dod, n) = if w >> 63 == 0 {
            (0, 1)
        } else {
            match (!w).leading_zeros() {
                1 => (sign_extend((w >> 54) & 0xff, 8), 10),
                2 => (sign_extend((w >> 47) & 0x3fff, 14), 17),
                3 => (sign_extend((w >> 40) & 0xf_ffff, 20), 24),
                _ => {
                    self.read_dod();
                    return self.read_value();
                }
            }
        };
        self.t_delta = self.t_delta.wrapping_add(dod);
        self.t = self.t.wrapping_add(self.t_delta);
        // `w` holds 57 exact bits; `n` are used, so `v` has `57 - n` left.
        let v = w << n;
        let left = 57 - n;
        if v >> 63 == 0 {
            self.r.skip(n + 1);
            return true;
        }
        if (v >> 62) & 1 == 0 {
            if self.leading != NO_WINDOW {
                let sig = 64 - u32::from(self.leading) - u32::from(self.trailing);
                if 2 + sig <= left {
                    self.r.skip(n + 2 + sig);
                    self.v_bits ^= ((v << 2) >> (64 - sig)) << self.trailing;
                    return true;
                }
            }
        } else {
            let lead = ((v >> 57) & 31) as u32;
            let sig = match ((v >> 51) & 63) as u32 {
                0 => 64,
                s => s,
            };
            if lead + sig <= 64 && 13 + sig <= left {
                let trail = 64 - lead - sig;
                self.r.skip(n + 13 + sig);
                self.leading = lead as u8;
                self.trailing = trail as u8;
                self.v_bits ^= ((v << 13) >> (64 - sig)) << trail;
                return true;
            }
        }
        self.r.skip(n);
        self.read_value()
    }

    #[inline]
    fn read_dod(&mut self) {
        let w = self.r.peek();
        let dod = if w >> 63 == 0 {
            self.r.skip(1);
            0
        } else {
            match (!w).leading_zeros() {
                1 => {
                    self.r.skip(10);
                    sign_extend((w >> 54) & 0xff, 8)
                }
                2 => {
                    self.r.skip(17);
                    sign_extend((w >> 47) & 0x3fff, 14)
                }
                3 => {
                    self.r.skip(24);
                    sign_extend((w >> 40) & 0xf_ffff, 20)
                }
                _ => {
                    self.r.skip(4);
                    self.r.read_bits_wide(64) as i64
                }
            }
        };
        self.t_delta = self.t_delta.wrapping_add(dod);
        self.t = self.t.wrapping_add(self.t_delta);
    }

    #[inline]
    fn read_value(&mut self) -> bool {
        let w = self.r.peek();
        if w >> 63 == 0 {
            self.r.skip(1);
            return true;
        }
        if (w >> 62) & 1 == 0 {
            // `10`: reuse the window.
            if self.leading == NO_WINDOW {
                return false;
            }
            let sig = 64 - u32::from(self.leading) - u32::from(self.trailing);
            let bits = if sig <= 55 {
                self.r.skip(2 + sig);
                (w << 2) >> (64 - sig)
            } else {
                self.r.skip(2);
                self.read_payload(sig)
            };
            self.v_bits ^= bits << self.trailing;
            return true;
        }
        // `11`: a new window.
        let lead = ((w >> 57) & 31) as u32;
        let mut sig = ((w >> 51) & 63) as u32;
        if sig == 0 {
            sig = 64;
        }
        if lead + sig > 64 {
            return false;
        }
        let trail = 64 - lead - sig;
        let bits = if sig <= 44 {
            self.r.skip(13 + sig);
            (w << 13) >> (64 - sig)
        } else {
            self.r.skip(13);
            self.read_payload(sig)
        };
        self.leading = lead as u8;
        self.trailing = trail as u8;
        self.v_bits ^= if trail == 64 { 0 } else { bits << trail };
        true
    }
}

impl XorIterator<'_> {
    /// Reads a value payload of `sig` bits (1..=64); one load below 58 bits.
    #[inline]
    fn read_payload(&mut self, sig: u32) -> u64 {
        if sig <= 57 { self.r.read_bits(sig) } else { self.r.read_bits_wide(sig) }
    }
}

#[inline]
pub(super) fn sign_extend(bits: u64, width: u32) -> i64 {
    // Values above 2^(width-1) are negative (see `fits`).
    if bits > (1 << (width - 1)) { bits as i64 - (1i64 << width) } else { bits as i64 }
}

pub(super) fn read_varint(r: &mut BitReader<'_>) -> Option<i64> {
    read_uvarint(r).map(|zz| ((zz >> 1) as i64) ^ -((zz & 1) as i64))
}

pub(super) fn read_uvarint(r: &mut BitReader<'_>) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..70).step_by(7) {
        let b = r.read_byte();
        v |= u64::from(b & 0x7f) << shift;
        if b < 0x80 {
            return Some(v);
        }
    }
    None
}

super::impl_seeking_iterator!(XorIterator);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::STALE_NAN_BITS;
    use crate::query::SampleIterator;
    use proptest::prelude::*;

    #[test]
    fn first_t_is_the_oldest_timestamp_at_any_length() {
        for first in [0i64, 1, -5, 1_764_979_200_123, i64::MIN, i64::MAX - 10_000] {
            let mut enc = XorEncoder::new();
            assert_eq!(enc.first_t(), None);
            for i in 0..10i64 {
                enc.append(first.saturating_add(i * 1_000), i as f64);
                assert_eq!(enc.first_t(), Some(first), "first {first} after {} samples", i + 1);
            }
        }
    }

    fn encode(samples: &[Sample]) -> Vec<u8> {
        let mut e = XorEncoder::new();
        for s in samples {
            e.append(s.t_ms, s.value);
        }
        e.to_bytes()
    }

    fn decode(chunk: &[u8]) -> Vec<Sample> {
        let mut it = XorIterator::new(chunk);
        std::iter::from_fn(|| it.next()).collect()
    }

    fn special_value() -> impl Strategy<Value = f64> {
        prop_oneof![
            any::<f64>(),
            any::<u64>().prop_map(f64::from_bits),
            Just(f64::from_bits(STALE_NAN_BITS)),
            Just(f64::NAN),
            Just(f64::INFINITY),
            Just(f64::NEG_INFINITY),
            Just(-0.0),
            Just(0.0),
            Just(f64::MIN_POSITIVE),
            Just(f64::MAX),
            (0u32..1000).prop_map(f64::from),
        ]
    }

    /// Increasing timestamps with anything from no jitter to gaps near the
    /// i64 range, so every delta-of-delta class is hit.
    fn timestamps(n: usize) -> impl Strategy<Value = Vec<i64>> {
        let step = prop_oneof![
            Just(15_000i64),
            14_990i64..15_010,
            1i64..300,
            1i64..20_000_000,
            1i64..(1i64 << 40),
            1i64..(i64::MAX / 256),
        ];
        (any::<i64>(), proptest::collection::vec(step, n)).prop_map(|(start, steps)| {
            let mut t = start / 2;
            let mut out = Vec::with_capacity(steps.len());
            for s in steps {
                match t.checked_add(s) {
                    Some(next) => t = next,
                    None => break,
                }
                out.push(t);
            }
            out
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]
        #[test]
        fn round_trips_bit_exactly(
            (ts, vs) in (0usize..=300).prop_flat_map(|n| (timestamps(n), proptest::collection::vec(special_value(), n)))
        ) {
            let samples: Vec<Sample> = ts.iter().zip(&vs).map(|(&t, &v)| Sample::new(t, v)).collect();
            let samples = &samples[..samples.len().min(u16::MAX as usize)];
            let chunk = encode(samples);
            prop_assert_eq!(chunk_num_samples(&chunk) as usize, samples.len());
            let back = decode(&chunk);
            prop_assert_eq!(back.len(), samples.len());
            for (a, b) in back.iter().zip(samples) {
                prop_assert_eq!(a.t_ms, b.t_ms);
                prop_assert_eq!(a.value.to_bits(), b.value.to_bits());
            }
        }

        #[test]
        fn seek_finds_first_at_or_after(ts in timestamps(150), target in any::<i64>(), pre in 0usize..5) {
            let samples: Vec<Sample> = ts.iter().map(|&t| Sample::new(t, t as f64)).collect();
            let chunk = encode(&samples);
            let mut it = XorIterator::new(&chunk);
            for _ in 0..pre { it.next(); }
            let rest = &samples[pre.min(samples.len())..];
            it.seek(target);
            let want: Vec<Sample> = rest.iter().copied().filter(|s| s.t_ms >= target).collect();
            let got: Vec<Sample> = std::iter::from_fn(|| it.next()).collect();
            prop_assert_eq!(got, want);
        }

        #[test]
        fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = decode(&bytes);
        }
    }

    #[test]
    fn regular_scrapes_cost_about_two_bits_for_constant_values() {
        let samples: Vec<Sample> =
            (0..120).map(|i| Sample::new(1_700_000_000_000 + i * 15_000, 1.0)).collect();
        let chunk = encode(&samples);
        // Header, ~6 bytes of first timestamp, 8 of first value, then 2 bits a sample.
        assert!(chunk.len() < 2 + 7 + 8 + 3 + 31, "{} bytes", chunk.len());
        assert_eq!(decode(&chunk), samples);
    }

    #[test]
    fn seek_is_a_no_op_backwards_and_past_the_end_exhausts() {
        let samples: Vec<Sample> = (0..10).map(|i| Sample::new(i * 10, i as f64)).collect();
        let chunk = encode(&samples);
        let mut it = XorIterator::new(&chunk);
        it.seek(35);
        it.seek(0);
        assert_eq!(it.next(), Some(Sample::new(40, 4.0)));
        it.seek(1000);
        assert_eq!(it.next(), None);
    }
}
