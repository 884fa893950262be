//! The receiver's series cache: a 128-bit hash of a series' raw label bytes
//! (as the sender encoded them) to the storage's reference for the series.
//!
//! Remote-write senders resend the same series in every request. With the
//! reference in hand the receiver neither checks the labels again, nor
//! builds a `Labels`, nor has the head look the series up by its label set.
//! The key is xxh3-128 of bytes that are identical only for an identical
//! label list, so a hit means "this exact label list was validated and
//! appended before"; a collision (odds about n²/2¹²⁹) is the only way to
//! reach a wrong series. A stale reference (the head dropped the series) is
//! the caller's to detect and replace.
//!
//! Memory is bounded: the cache holds at most [`MAX_ENTRIES`] series. Each
//! entry is a 16-byte key and an 8-byte reference in a hash table that is
//! between 7/16 and 7/8 full, i.e. 29 to 57 bytes per series with the
//! table's control byte (about 3.3 MB for 100k series). A full shard is
//! emptied and refills from the following requests, which costs one label
//! validation and one head lookup per series it held.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use parking_lot::Mutex;
use promethium_engine::model::SeriesRef;

/// Most series the cache remembers (about 29-57 MB at the limit).
pub const MAX_ENTRIES: usize = 1 << 20;
const SHARDS: usize = 64;

/// The key is already a strong hash: its low 64 bits serve as the table's.
#[derive(Default)]
struct KeyBits(u64);

impl Hasher for KeyBits {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u128` is used; fold anything else in anyway.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u128(&mut self, n: u128) {
        self.0 = n as u64;
    }
}

/// The table uses the key's low bits; shard by the high ones.
#[inline]
fn shard_of(key: u128) -> usize {
    (key >> 122) as usize % SHARDS
}

type Shard = HashMap<u128, SeriesRef, BuildHasherDefault<KeyBits>>;

/// Raw-label hash to series reference, shared by every remote-write request
/// to one storage.
pub struct SeriesCache {
    shards: Box<[Mutex<Shard>]>,
    per_shard: usize,
}

impl Default for SeriesCache {
    fn default() -> Self {
        Self::with_capacity(MAX_ENTRIES)
    }
}

impl SeriesCache {
    /// A cache holding at most about `max_entries` series.
    pub fn with_capacity(max_entries: usize) -> Self {
        SeriesCache {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            per_shard: (max_entries / SHARDS).max(1),
        }
    }

    fn shard(&self, key: u128) -> &Mutex<Shard> {
        &self.shards[shard_of(key)]
    }

    /// The reference cached for each of `keys`, into `refs` (same order).
    /// Takes each shard's lock once for all its keys rather than once per
    /// key, and the lookups under one lock are independent loads the CPU
    /// can overlap. `order` is scratch (key indices grouped by shard).
    pub fn get_many(&self, keys: &[u128], refs: &mut Vec<Option<SeriesRef>>, order: &mut Vec<u32>) {
        refs.clear();
        refs.resize(keys.len(), None);
        // Counting sort of the key indices by shard.
        let mut starts = [0u32; SHARDS + 1];
        for &k in keys {
            starts[shard_of(k) + 1] += 1;
        }
        for i in 1..=SHARDS {
            starts[i] += starts[i - 1];
        }
        order.clear();
        order.resize(keys.len(), 0);
        let mut next = starts;
        for (i, &k) in keys.iter().enumerate() {
            let s = shard_of(k);
            order[next[s] as usize] = i as u32;
            next[s] += 1;
        }
        for (s, shard) in self.shards.iter().enumerate() {
            let mine = &order[starts[s] as usize..starts[s + 1] as usize];
            if mine.is_empty() {
                continue;
            }
            let shard = shard.lock();
            for &i in mine {
                refs[i as usize] = shard.get(&keys[i as usize]).copied();
            }
        }
    }

    /// The reference cached for `key`.
    #[inline]
    pub fn get(&self, key: u128) -> Option<SeriesRef> {
        self.shard(key).lock().get(&key).copied()
    }

    /// Remembers `key`'s reference, emptying the shard first when it is full.
    pub fn insert(&self, key: u128, r: SeriesRef) {
        let mut shard = self.shard(key).lock();
        if shard.len() >= self.per_shard && !shard.contains_key(&key) {
            shard.clear();
        }
        shard.insert(key, r);
    }

    /// Forgets `key` (its reference went stale).
    pub fn remove(&self, key: u128) {
        self.shard(key).lock().remove(&key);
    }

    /// Series cached.
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().len()).sum()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_and_forgets() {
        let c = SeriesCache::default();
        c.insert(7, SeriesRef(3));
        assert_eq!(c.get(7), Some(SeriesRef(3)));
        assert_eq!(c.get(8), None);
        c.remove(7);
        assert!(c.is_empty());
    }

    #[test]
    fn get_many_agrees_with_get() {
        let c = SeriesCache::default();
        let spread = |k: u128| k.wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835);
        for k in (0..1000u128).step_by(2) {
            c.insert(spread(k), SeriesRef(k as u64 + 1));
        }
        // Unsorted, with a repeat, hits and misses mixed.
        let keys: Vec<u128> = [999u128, 4, 3, 4, 0, 500, 17].into_iter().map(spread).collect();
        let (mut refs, mut order) = (vec![Some(SeriesRef(42))], Vec::new());
        c.get_many(&keys, &mut refs, &mut order);
        let one_by_one: Vec<_> = keys.iter().map(|&k| c.get(k)).collect();
        assert_eq!(refs, one_by_one);
        assert_eq!(refs[1], Some(SeriesRef(5)));
        assert_eq!(refs[0], None);
        c.get_many(&[], &mut refs, &mut order);
        assert!(refs.is_empty());
    }

    #[test]
    fn stays_within_its_bound() {
        let c = SeriesCache::with_capacity(SHARDS * 4);
        for k in 0..10_000u128 {
            c.insert(k.wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835), SeriesRef(1));
        }
        assert!(c.len() <= SHARDS * 4, "{}", c.len());
    }
}
