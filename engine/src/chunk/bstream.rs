//! Bit streams on 64-bit words: the I/O under the XOR chunk encoding.
//!
//! [`BitWriter`] collects bits in a left-aligned `u64` accumulator and
//! appends it to its byte buffer as eight big-endian bytes once it is full,
//! so a write is a shift, an or and (one time in many) an 8-byte copy.
//! [`BitReader`] reads at a bit position by loading the 8 bytes around it as
//! one big-endian word, so a read of up to 56 bits is one load and a shift.
//!
//! Both were measured against `bitvec` (docs/decisions/2026-11-25-bit-io.md):
//! the hand-rolled word I/O is several times faster for the Gorilla access
//! pattern (many short writes of 1 to 14 bits), which is why it is used here.
//!
//! The stream is big-endian at the bit level: the first bit written is the
//! most significant bit of the first byte, as in Prometheus' `bstream`.

/// Appends bits to a growing byte buffer.
///
/// The head keeps one writer per series for its open chunk, so the writer
/// is small (32 bytes: a boxed slice and a `u32` length instead of a `Vec`)
/// and its buffer grows by about a quarter at a time, not by doubling: a
/// head of many series holds each open chunk in at most ~25 % more than it
/// needs (docs/decisions/2026-12-05-series-memory.md).
#[derive(Debug, Clone, Default)]
pub struct BitWriter {
    /// Completed 64-bit words, each stored as 8 big-endian bytes, in the
    /// first `len` bytes; the rest is spare capacity.
    bytes: Box<[u8]>,
    /// Bytes of `bytes` written (a multiple of 8).
    len: u32,
    /// Number of valid bits in `acc`, 0..=63.
    used: u32,
    /// Pending bits, left-aligned (the next bit goes at `63 - used`).
    acc: u64,
}

/// Smallest buffer a writer allocates.
const MIN_CAPACITY: usize = 24;

/// The buffer size after `cap` when another 8-byte word must fit: about a
/// quarter more, at least 16 bytes more, and 8 less than a multiple of 16
/// so that a size-class allocator with an 8-byte header (glibc) wastes
/// nothing.
fn grown_capacity(cap: usize) -> usize {
    let want = (cap + (cap / 4).max(16)).max(MIN_CAPACITY);
    (want + 8).div_ceil(16) * 16 - 8
}

impl BitWriter {
    /// An empty writer whose buffer can hold `capacity_bytes` without growing.
    pub fn with_capacity(capacity_bytes: usize) -> Self {
        BitWriter { bytes: vec![0; capacity_bytes].into_boxed_slice(), len: 0, used: 0, acc: 0 }
    }

    /// Writes the low `n` bits of `value`, most significant first.
    /// `n` is at most 64 and the bits of `value` above `n` must be zero.
    #[inline]
    pub fn write_bits(&mut self, value: u64, n: u32) {
        debug_assert!(n <= 64);
        debug_assert!(n == 64 || value >> n == 0, "bits above n must be zero");
        if n == 0 {
            return;
        }
        let free = 64 - self.used;
        if n < free {
            self.acc |= value << (free - n);
            self.used += n;
        } else {
            // The top `free` bits of `value` complete the accumulator.
            let rest = n - free;
            self.acc |= value >> rest;
            self.push_word(self.acc);
            self.acc = if rest == 0 { 0 } else { value << (64 - rest) };
            self.used = rest;
        }
    }

    /// Appends a completed word to the buffer.
    #[inline]
    fn push_word(&mut self, word: u64) {
        let at = self.len as usize;
        if at + 8 > self.bytes.len() {
            self.grow();
        }
        self.bytes[at..at + 8].copy_from_slice(&word.to_be_bytes());
        self.len += 8;
    }

    #[cold]
    fn grow(&mut self) {
        let cap = grown_capacity(self.bytes.len());
        let mut v = std::mem::take(&mut self.bytes).into_vec();
        v.resize(cap, 0);
        self.bytes = v.into_boxed_slice();
        assert!(self.bytes.len() <= u32::MAX as usize, "bit stream over 4 GiB");
    }

    /// Writes one bit.
    #[inline]
    pub fn write_bit(&mut self, bit: bool) {
        self.write_bits(u64::from(bit), 1);
    }

    /// Writes a whole byte.
    #[inline]
    pub fn write_byte(&mut self, byte: u8) {
        self.write_bits(u64::from(byte), 8);
    }

    /// Number of bits written.
    pub fn len_bits(&self) -> usize {
        self.len as usize * 8 + self.used as usize
    }

    /// Number of bytes the stream occupies when padded to a whole byte.
    pub fn len_bytes(&self) -> usize {
        self.len_bits().div_ceil(8)
    }

    /// Appends the stream, padded with zero bits to a whole byte, to `out`.
    pub fn copy_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.bytes[..self.len as usize]);
        let tail = (self.used as usize).div_ceil(8);
        out.extend_from_slice(&self.acc.to_be_bytes()[..tail]);
    }

    /// The stream's first 16 bytes, zero-padded past its end (enough for
    /// a reader of a short prefix, such as a chunk's first timestamp).
    pub fn prefix16(&self) -> [u8; 16] {
        let mut out = [0u8; 16];
        let n = (self.len as usize).min(16);
        out[..n].copy_from_slice(&self.bytes[..n]);
        let k = (16 - n).min(8);
        out[n..n + k].copy_from_slice(&self.acc.to_be_bytes()[..k]);
        out
    }

    /// Heap bytes held by the writer.
    pub fn heap_bytes(&self) -> usize {
        self.bytes.len()
    }

    /// Empties the writer, keeping its buffer.
    pub fn clear(&mut self) {
        self.len = 0;
        self.acc = 0;
        self.used = 0;
    }
}

/// Reads bits from a byte slice written by [`BitWriter`].
///
/// Reading past the end yields zero bits; callers know how many values the
/// stream holds (the chunk header says) and never rely on that padding.
#[derive(Debug, Clone)]
pub struct BitReader<'a> {
    data: &'a [u8],
    /// Position of the next bit to read.
    pos: usize,
}

impl<'a> BitReader<'a> {
    /// A reader at the first bit of `data`.
    pub fn new(data: &'a [u8]) -> Self {
        BitReader { data, pos: 0 }
    }

    /// The next 64 bits without consuming them, zero-padded past the end.
    /// At least the first 57 are exact; the rest are exact too unless the
    /// position is not byte-aligned (see [`BitReader::peek64_full`]).
    #[inline]
    fn peek57(&self) -> u64 {
        let byte = self.pos >> 3;
        let shift = (self.pos & 7) as u32;
        let word = match self.data.get(byte..byte + 8) {
            Some(b) => u64::from_be_bytes(b.try_into().expect("slice of length 8")),
            None => self.load_padded(byte),
        };
        word << shift
    }

    #[cold]
    fn load_padded(&self, byte: usize) -> u64 {
        let mut buf = [0u8; 8];
        if byte < self.data.len() {
            let n = (self.data.len() - byte).min(8);
            buf[..n].copy_from_slice(&self.data[byte..byte + n]);
        }
        u64::from_be_bytes(buf)
    }

    /// The next 64 bits exactly, zero-padded past the end.
    #[inline]
    pub fn peek64_full(&self) -> u64 {
        let shift = (self.pos & 7) as u32;
        let mut v = self.peek57();
        if shift > 0 {
            let next = self.data.get((self.pos >> 3) + 8).copied().unwrap_or(0);
            v |= u64::from(next) >> (8 - shift);
        }
        v
    }

    /// The next up to 57 bits as the high bits of a word, without consuming.
    #[inline]
    pub fn peek(&self) -> u64 {
        self.peek57()
    }

    /// Consumes `n` bits.
    #[inline]
    pub fn skip(&mut self, n: u32) {
        self.pos += n as usize;
    }

    /// Reads `n` bits, `1 <= n <= 57`.
    #[inline]
    pub fn read_bits(&mut self, n: u32) -> u64 {
        debug_assert!((1..=57).contains(&n));
        let v = self.peek57() >> (64 - n);
        self.pos += n as usize;
        v
    }

    /// Reads `n` bits, `0 <= n <= 64`.
    #[inline]
    pub fn read_bits_wide(&mut self, n: u32) -> u64 {
        if n == 0 {
            return 0;
        }
        let v = self.peek64_full() >> (64 - n);
        self.pos += n as usize;
        v
    }

    /// Reads one bit.
    #[inline]
    pub fn read_bit(&mut self) -> bool {
        self.read_bits(1) == 1
    }

    /// Reads 8 bits.
    #[inline]
    pub fn read_byte(&mut self) -> u8 {
        self.read_bits(8) as u8
    }

    /// Bits consumed so far.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Whether fewer than `n` bits remain.
    pub fn exhausted(&self, n: usize) -> bool {
        self.pos + n > self.data.len() * 8
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn writes_read_back(fields in proptest::collection::vec((any::<u64>(), 0u32..=64), 0..200)) {
            let mut w = BitWriter::default();
            let fields: Vec<(u64, u32)> = fields
                .into_iter()
                .map(|(v, n)| (if n == 64 { v } else if n == 0 { 0 } else { v & ((1u64 << n) - 1) }, n))
                .collect();
            for &(v, n) in &fields {
                w.write_bits(v, n);
            }
            let total: u32 = fields.iter().map(|f| f.1).sum();
            prop_assert_eq!(w.len_bits(), total as usize);
            let mut bytes = Vec::new();
            w.copy_to(&mut bytes);
            prop_assert_eq!(bytes.len(), w.len_bytes());
            let mut r = BitReader::new(&bytes);
            for &(v, n) in &fields {
                prop_assert_eq!(r.read_bits_wide(n), v);
            }
        }
    }

    #[test]
    fn buffer_grows_by_about_a_quarter_in_glibc_size_classes() {
        let mut w = BitWriter::default();
        assert_eq!(w.heap_bytes(), 0);
        let mut caps = Vec::new();
        for _ in 0..64 {
            w.write_bits(u64::MAX, 64);
            if caps.last() != Some(&w.heap_bytes()) {
                caps.push(w.heap_bytes());
            }
        }
        assert_eq!(caps[0], MIN_CAPACITY);
        for pair in caps.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            assert!(b >= a + 16 && b <= a + a / 4 + 32, "{a} -> {b}");
        }
        assert!(caps.iter().all(|c| (c + 8) % 16 == 0), "{caps:?}");
        assert!(w.heap_bytes() < 64 * 8 * 5 / 4 + 32, "{}", w.heap_bytes());
    }

    #[test]
    fn first_bit_is_msb_of_first_byte() {
        let mut w = BitWriter::default();
        w.write_bit(true);
        w.write_bits(0b01, 2);
        let mut out = Vec::new();
        w.copy_to(&mut out);
        assert_eq!(out, [0b1010_0000]);
    }
}
