//! The `tombstones` file: deleted time intervals per series of a block.
//!
//! Deletion never rewrites chunk data at once: it records intervals here
//! (file replaced atomically) and readers skip samples inside them;
//! `clean_tombstones` later rewrites the block without them.

use std::collections::BTreeMap;

use crate::model::Sample;

/// Deleted intervals (inclusive) per series id of a block.
pub type Tombstones = BTreeMap<u32, Vec<(i64, i64)>>;

const MAGIC: [u8; 4] = *b"PMBT";

/// The file's bytes.
pub fn encode(t: &Tombstones) -> Vec<u8> {
    let mut out = MAGIC.to_vec();
    let n: usize = t.values().map(Vec::len).sum();
    out.extend_from_slice(&(n as u32).to_le_bytes());
    for (id, ivs) in t {
        for (a, b) in ivs {
            out.extend_from_slice(&id.to_le_bytes());
            out.extend_from_slice(&a.to_le_bytes());
            out.extend_from_slice(&b.to_le_bytes());
        }
    }
    let crc = crc32c::crc32c(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// Parses the file; an error says what was wrong.
pub fn decode(data: &[u8]) -> Result<Tombstones, String> {
    if data.len() < 12 || data[..4] != MAGIC {
        return Err("bad tombstones header".into());
    }
    let (body, crc) = data.split_at(data.len() - 4);
    if crc32c::crc32c(body).to_le_bytes() != crc {
        return Err("tombstones checksum mismatch".into());
    }
    let n = u32::from_le_bytes(body[4..8].try_into().expect("4 bytes")) as usize;
    if body.len() != 8 + n * 20 {
        return Err("tombstones length mismatch".into());
    }
    let mut out = Tombstones::new();
    for rec in body[8..].chunks_exact(20) {
        let id = u32::from_le_bytes(rec[..4].try_into().expect("4 bytes"));
        let a = i64::from_le_bytes(rec[4..12].try_into().expect("8 bytes"));
        let b = i64::from_le_bytes(rec[12..20].try_into().expect("8 bytes"));
        out.entry(id).or_default().push((a, b));
    }
    Ok(out)
}

/// Removes samples inside any of `intervals`.
pub fn apply(intervals: &[(i64, i64)], samples: &mut Vec<Sample>) {
    if !intervals.is_empty() {
        samples.retain(|s| !intervals.iter().any(|&(a, b)| s.t_ms >= a && s.t_ms <= b));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_corruption() {
        let mut t = Tombstones::new();
        t.entry(3).or_default().push((-1, 10));
        t.entry(3).or_default().push((20, 30));
        t.entry(9).or_default().push((i64::MIN, i64::MAX));
        let bytes = encode(&t);
        assert_eq!(decode(&bytes).unwrap(), t);
        let mut bad = bytes.clone();
        bad[10] ^= 1;
        assert!(decode(&bad).is_err());
        let mut s: Vec<Sample> = (0..40).map(|t| Sample { t_ms: t, value: 0.0 }).collect();
        apply(&t[&3], &mut s);
        assert_eq!(s.len(), 40 - 11 - 11);
    }
}
