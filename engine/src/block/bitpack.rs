//! Fixed-width bit packing of unsigned integers, least significant bit
//! first: value `i` occupies bits `i·w .. (i+1)·w` of the byte string read
//! as one little-endian number. Used for value columns whose values are
//! spread evenly over a range (durations redrawn every scrape, counters
//! stepping by a similar amount), where `w` bits a value is close to
//! their entropy and a varint under zstd is not.

/// Widest width packed: a value then fits one unaligned 64-bit read.
pub const MAX_WIDTH: u32 = 56;

/// Bytes `n` values of width `w` take.
pub fn packed_len(n: usize, w: u32) -> usize {
    (n * w as usize).div_ceil(8)
}

/// Bits needed for `v` (0 for 0).
pub fn width(v: u64) -> u32 {
    64 - v.leading_zeros()
}

/// Appends `values` packed at width `w` (each must fit in `w` bits).
pub fn pack(values: impl Iterator<Item = u64>, w: u32, out: &mut Vec<u8>) {
    debug_assert!(w <= MAX_WIDTH);
    let (mut acc, mut bits) = (0u64, 0u32);
    for v in values {
        debug_assert!(w == 64 || v >> w == 0);
        acc |= v << bits;
        bits += w;
        while bits >= 8 {
            out.push(acc as u8);
            acc >>= 8;
            bits -= 8;
        }
        // `w <= 56` and fewer than 8 bits remain, so no bit of `v` was lost.
    }
    if bits > 0 {
        out.push(acc as u8);
    }
}

/// Values `lo..hi` of those packed at width `w` in `data`, in order.
/// `data` should hold [`packed_len`]`(hi, w)` bytes; missing bytes read
/// as zero (callers check lengths first, so this only keeps a bad column
/// from reading out of bounds).
#[inline(always)]
pub fn unpacked(data: &[u8], w: u32, lo: usize, hi: usize) -> Unpacked<'_> {
    debug_assert!(w <= MAX_WIDTH);
    let mask = if w == 0 { 0 } else { u64::MAX >> (64 - w) };
    Unpacked { data, w, mask, bit: lo * w as usize, left: hi.saturating_sub(lo) }
}

/// Iterator over packed values: see [`unpacked`].
#[derive(Debug, Clone)]
pub struct Unpacked<'a> {
    data: &'a [u8],
    w: u32,
    mask: u64,
    bit: usize,
    left: usize,
}

impl Iterator for Unpacked<'_> {
    type Item = u64;

    #[inline(always)]
    fn next(&mut self) -> Option<u64> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let byte = self.bit / 8;
        // One unaligned 8-byte read while it stays inside `data`, else the
        // tail copied into a zeroed word.
        let word = match self.data.get(byte..byte + 8) {
            Some(b) => u64::from_le_bytes(b.try_into().expect("8 bytes")),
            None => {
                let mut buf = [0u8; 8];
                let tail = self.data.get(byte..).unwrap_or(&[]);
                buf[..tail.len().min(8)].copy_from_slice(&tail[..tail.len().min(8)]);
                u64::from_le_bytes(buf)
            }
        };
        let v = (word >> (self.bit % 8)) & self.mask;
        self.bit += self.w as usize;
        Some(v)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn values_round_trip(w in 0u32..=MAX_WIDTH, seeds in proptest::collection::vec(any::<u64>(), 0..200), cut in 0usize..200) {
            let mask = if w == 0 { 0 } else { u64::MAX >> (64 - w) };
            let values: Vec<u64> = seeds.iter().map(|s| s & mask).collect();
            let mut out = Vec::new();
            pack(values.iter().copied(), w, &mut out);
            prop_assert_eq!(out.len(), packed_len(values.len(), w));
            let lo = cut.min(values.len());
            let got: Vec<u64> = unpacked(&out, w, lo, values.len()).collect();
            prop_assert_eq!(&got[..], &values[lo..]);
            // A short buffer reads zeros rather than out of bounds.
            let short: Vec<u64> = unpacked(&out[..out.len() / 2], w, 0, values.len()).collect();
            prop_assert_eq!(short.len(), values.len());
        }
    }
}
