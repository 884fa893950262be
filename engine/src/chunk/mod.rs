//! Chunks: compressed runs of one series' samples.
//!
//! The head appends to an open [`XorEncoder`] per series. When it cuts the
//! chunk, [`compact`] re-encodes it as a [`dec`] chunk if its values are all
//! short decimals and that is smaller, else keeps the XOR bytes. Readers get
//! a [`ChunkIterator`] for either. Byte layouts are in docs/format/chunks.md.
//!
//! Invariant: a closed chunk is self-describing given its [`Encoding`] (its
//! header holds the sample count), so it can be copied into head chunk files
//! and, later, blocks without re-encoding.

/// Implements [`SampleIterator`] for a chunk decoder with a cursor
/// (`advance`, `at`, field `t`) and a `pending` flag: `seek` stops on the
/// first sample at or after its target and leaves it pending for `next`.
macro_rules! impl_seeking_iterator {
    ($ty:ident) => {
        impl crate::query::SampleIterator for $ty<'_> {
            #[inline]
            fn next(&mut self) -> Option<crate::model::Sample> {
                if self.pending {
                    self.pending = false;
                    return Some(self.at());
                }
                self.advance().then(|| self.at())
            }

            fn seek(&mut self, t_ms: i64) {
                if self.pending && self.t >= t_ms {
                    return;
                }
                self.pending = false;
                while self.advance() {
                    if self.t >= t_ms {
                        self.pending = true;
                        return;
                    }
                }
            }
        }
    };
}
use impl_seeking_iterator;

pub mod bstream;
pub mod dec;
pub mod xor;

pub use dec::DecIterator;
pub use xor::{HEADER_BYTES, SAMPLES_PER_CHUNK, XorEncoder, XorIterator, chunk_num_samples};

use crate::model::Sample;
use crate::query::SampleIterator;

/// Chunk encodings, as stored beside chunks in files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Encoding {
    /// Gorilla XOR floats (Prometheus' `EncXOR` has the same number).
    Xor = 1,
    /// Decimal mantissas with grid timestamps ([`dec`]); closed chunks only.
    Dec = 0x81,
}

impl Encoding {
    /// The encoding stored as `byte`, if known.
    pub fn from_u8(byte: u8) -> Option<Self> {
        match byte {
            1 => Some(Encoding::Xor),
            0x81 => Some(Encoding::Dec),
            _ => None,
        }
    }
}

/// Reusable buffers for [`compact`], so cutting a chunk does not allocate.
#[derive(Debug, Default)]
pub struct CompactScratch {
    ts: Vec<i64>,
    vs: Vec<f64>,
    mantissas: Vec<i64>,
    xor: Vec<u8>,
    dec: Vec<u8>,
}

/// Closes an open chunk: the smaller of its XOR bytes and its decimal
/// re-encoding, with the encoding used. The bytes borrow from `scratch`.
pub fn compact<'s>(open: &XorEncoder, scratch: &'s mut CompactScratch) -> (Encoding, &'s [u8]) {
    let s = scratch;
    s.xor.clear();
    open.copy_to(&mut s.xor);
    s.ts.clear();
    s.vs.clear();
    let mut it = XorIterator::new(&s.xor);
    while it.advance() {
        let Sample { t_ms, value } = it.at();
        s.ts.push(t_ms);
        s.vs.push(value);
    }
    s.dec.clear();
    if dec::encode(&s.ts, &s.vs, &mut s.dec, &mut s.mantissas) && s.dec.len() < s.xor.len() {
        (Encoding::Dec, &s.dec)
    } else {
        (Encoding::Xor, &s.xor)
    }
}

/// Iterates a closed chunk of either encoding.
#[derive(Debug, Clone)]
pub enum ChunkIterator<'a> {
    /// An XOR chunk.
    Xor(XorIterator<'a>),
    /// A decimal chunk.
    Dec(DecIterator<'a>),
}

impl<'a> ChunkIterator<'a> {
    /// Iterates `bytes`, a closed chunk in `encoding`.
    pub fn new(encoding: Encoding, bytes: &'a [u8]) -> Self {
        match encoding {
            Encoding::Xor => ChunkIterator::Xor(XorIterator::new(bytes)),
            Encoding::Dec => ChunkIterator::Dec(DecIterator::new(bytes)),
        }
    }
}

impl SampleIterator for ChunkIterator<'_> {
    #[inline]
    fn next(&mut self) -> Option<Sample> {
        match self {
            ChunkIterator::Xor(it) => it.next(),
            ChunkIterator::Dec(it) => it.next(),
        }
    }

    fn seek(&mut self, t_ms: i64) {
        match self {
            ChunkIterator::Xor(it) => it.seek(t_ms),
            ChunkIterator::Dec(it) => it.seek(t_ms),
        }
    }
}
