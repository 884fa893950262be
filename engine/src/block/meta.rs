//! `meta.json`: what a block holds, and block ids (ULIDs).
//!
//! The file is small JSON in Prometheus' shape (`ulid`, `minTime`,
//! `maxTime`, `stats`, `compaction`, `version`), written and read here
//! without a JSON library: the writer emits a fixed layout and the reader
//! picks fields by key, which is all a file this program writes needs.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Block format version written to `meta.json` (Promethium's own format).
///
/// 1: one column run per series and window, frames mixing windows.
/// 2: time-major frames (one window each) with a shared timestamp section.
/// 3: value columns may be bit-packed (kinds 3 and 4).
/// 4: sparse value columns (kind 5: which deltas are nonzero, then those
///    packed); the index names frames by number, not byte offset, and
///    stores postings as gaps in uvarints.
/// See docs/format/blocks.md. Only version 4 is read.
pub const META_VERSION: u32 = 4;

/// A block's `meta.json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockMeta {
    /// The block's id, also its directory name.
    pub ulid: String,
    /// First timestamp covered (inclusive), milliseconds.
    pub min_t_ms: i64,
    /// End of the covered range (exclusive), as in Prometheus.
    pub max_t_ms: i64,
    /// Samples stored.
    pub num_samples: u64,
    /// Series stored.
    pub num_series: u64,
    /// Column runs stored (one per series in this format).
    pub num_chunks: u64,
    /// Tombstone intervals recorded.
    pub num_tombstones: u64,
    /// 1 for blocks cut from the head, +1 per compaction.
    pub level: u32,
    /// Level-1 blocks whose data this block holds.
    pub sources: Vec<String>,
    /// Blocks this one was compacted from: start-up deletes any still present.
    pub parents: Vec<String>,
}

impl BlockMeta {
    /// The JSON text of the file.
    pub fn to_json(&self) -> String {
        let list =
            |v: &[String]| v.iter().map(|s| format!("\"{s}\"")).collect::<Vec<_>>().join(", ");
        format!(
            "{{\n  \"ulid\": \"{}\",\n  \"minTime\": {},\n  \"maxTime\": {},\n  \"stats\": {{\n    \"numSamples\": {},\n    \"numSeries\": {},\n    \"numChunks\": {},\n    \"numTombstones\": {}\n  }},\n  \"compaction\": {{\n    \"level\": {},\n    \"sources\": [{}],\n    \"parents\": [{}]\n  }},\n  \"version\": {}\n}}\n",
            self.ulid,
            self.min_t_ms,
            self.max_t_ms,
            self.num_samples,
            self.num_series,
            self.num_chunks,
            self.num_tombstones,
            self.level,
            list(&self.sources),
            list(&self.parents),
            META_VERSION
        )
    }

    /// Parses a file written by [`BlockMeta::to_json`].
    pub fn from_json(text: &str) -> Result<BlockMeta, String> {
        let int = |key: &str| -> Result<i64, String> {
            let rest = after_key(text, key)?;
            let end = rest.find(|c: char| !(c == '-' || c.is_ascii_digit())).unwrap_or(rest.len());
            rest[..end].parse().map_err(|e| format!("{key}: {e}"))
        };
        let list = |key: &str| -> Result<Vec<String>, String> {
            let rest = after_key(text, key)?;
            let rest = rest.strip_prefix('[').ok_or_else(|| format!("{key}: not a list"))?;
            let end = rest.find(']').ok_or_else(|| format!("{key}: unterminated list"))?;
            Ok(rest[..end]
                .split(',')
                .map(|s| s.trim().trim_matches('"').to_owned())
                .filter(|s| !s.is_empty())
                .collect())
        };
        let ulid = after_key(text, "ulid")?
            .strip_prefix('"')
            .and_then(|r| r.split('"').next())
            .ok_or("ulid: not a string")?
            .to_owned();
        let u = |key: &str| int(key).map(|v| v as u64);
        Ok(BlockMeta {
            ulid,
            min_t_ms: int("minTime")?,
            max_t_ms: int("maxTime")?,
            num_samples: u("numSamples")?,
            num_series: u("numSeries")?,
            num_chunks: u("numChunks")?,
            num_tombstones: u("numTombstones")?,
            level: int("level")? as u32,
            sources: list("sources")?,
            parents: list("parents")?,
        })
    }
}

/// The `version` field of a `meta.json` text (1 if absent: the first
/// format).
pub fn format_version(text: &str) -> Result<u32, String> {
    let Ok(rest) = after_key(text, "version") else { return Ok(1) };
    let end = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
    rest[..end].parse().map_err(|e| format!("version: {e}"))
}

/// The text after `"key":` with leading blanks skipped.
fn after_key<'a>(text: &'a str, key: &str) -> Result<&'a str, String> {
    let pat = format!("\"{key}\":");
    let at = text.find(&pat).ok_or_else(|| format!("missing {key}"))?;
    Ok(text[at + pat.len()..].trim_start())
}

/// A new ULID: 48 bits of milliseconds then 80 bits of entropy, in
/// Crockford base32 (26 characters), so ids sort by creation time.
pub fn new_ulid() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let ms = now.as_millis() as u64 & ((1 << 48) - 1);
    let seed = format!(
        "{}-{}-{}",
        now.as_nanos(),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    let entropy = u128::from(xxhash_rust::xxh3::xxh3_64(seed.as_bytes())) << 16
        ^ u128::from(xxhash_rust::xxh3::xxh3_64(&seed.as_bytes()[1..]) & 0xffff);
    let value: u128 = (u128::from(ms) << 80) | (entropy & ((1u128 << 80) - 1));
    const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    (0..26).map(|i| ALPHABET[((value >> (125 - 5 * i)) & 31) as usize] as char).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_round_trips_and_ulids_are_distinct() {
        let meta = BlockMeta {
            ulid: new_ulid(),
            min_t_ms: -5,
            max_t_ms: 7_200_000,
            num_samples: 10,
            num_series: 2,
            num_chunks: 2,
            num_tombstones: 0,
            level: 2,
            sources: vec!["A".into(), "B".into()],
            parents: vec![],
        };
        assert_eq!(BlockMeta::from_json(&meta.to_json()).unwrap(), meta);
        assert_eq!(format_version(&meta.to_json()), Ok(META_VERSION));
        assert_eq!(format_version("{}"), Ok(1));
        assert_eq!(meta.ulid.len(), 26);
        assert_ne!(new_ulid(), new_ulid());
        assert!(BlockMeta::from_json("{}").is_err());
    }
}
