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

/// Calls `f` with values `lo..hi` of `n` packed at width `w` in `data`,
/// which must hold [`packed_len`]`(n, w)` bytes.
#[inline(always)]
pub fn unpack(data: &[u8], w: u32, lo: usize, hi: usize, mut f: impl FnMut(u64)) {
    if w == 0 {
        (lo..hi).for_each(|_| f(0));
        return;
    }
    let mask = if w == 64 { u64::MAX } else { (1u64 << w) - 1 };
    let mut bit = lo * w as usize;
    // Whole 8-byte reads while they stay inside `data`, then the tail.
    let fast_end = data.len().saturating_sub(7);
    let mut i = lo;
    while i < hi {
        let byte = bit / 8;
        if byte >= fast_end {
            break;
        }
        let word = u64::from_le_bytes(data[byte..byte + 8].try_into().expect("8 bytes"));
        f((word >> (bit % 8)) & mask);
        bit += w as usize;
        i += 1;
    }
    while i < hi {
        let byte = bit / 8;
        let mut buf = [0u8; 8];
        let tail = &data[byte.min(data.len())..];
        let k = tail.len().min(8);
        buf[..k].copy_from_slice(&tail[..k]);
        f((u64::from_le_bytes(buf) >> (bit % 8)) & mask);
        bit += w as usize;
        i += 1;
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
            let mut got = Vec::new();
            unpack(&out, w, lo, values.len(), |v| got.push(v));
            prop_assert_eq!(&got[..], &values[lo..]);
        }
    }
}
