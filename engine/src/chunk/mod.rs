//! Chunks: compressed runs of one series' samples.
//!
//! The head appends to an open [`XorEncoder`] per series and cuts it after
//! [`SAMPLES_PER_CHUNK`] samples; closed chunks are plain byte slices read
//! with [`XorIterator`]. The byte layout is in docs/format/chunks.md.
//!
//! Invariant: a closed chunk is self-describing (its header holds the sample
//! count), so it can be copied into head-chunk files and, later, blocks
//! without re-encoding.

pub mod bstream;
pub mod xor;

pub use xor::{HEADER_BYTES, SAMPLES_PER_CHUNK, XorEncoder, XorIterator, chunk_num_samples};

/// Chunk encodings, as stored beside chunks in files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Encoding {
    /// Gorilla XOR floats (Prometheus' `EncXOR` has the same number).
    Xor = 1,
}

impl Encoding {
    /// The encoding stored as `byte`, if known.
    pub fn from_u8(byte: u8) -> Option<Self> {
        match byte {
            1 => Some(Encoding::Xor),
            _ => None,
        }
    }
}
