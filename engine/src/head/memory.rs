//! Memory accounting for the head: heap bytes per structure.
//!
//! The figures are estimates from lengths and capacities (what each
//! structure asked the allocator for, without the allocator's own rounding
//! and fragmentation), so a benchmark can say which structure a series'
//! memory goes to and a change can be checked against them
//! (`benches/benches/head_memory.rs`, docs/decisions/2026-12-05-series-memory.md).

use std::sync::Arc;

use super::Head;
use super::series::MemSeries;

/// Heap bytes of the head, by structure.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HeadMemory {
    /// Live series (aliases counted once).
    pub series: usize,
    /// The per-series structs, with their reference-count headers.
    pub series_structs: usize,
    /// Label sets (one allocation each, with its reference-count header;
    /// shared with whoever else holds the same `Labels`, such as a scrape
    /// cache).
    pub labels: usize,
    /// Buffers of the open chunks.
    pub open_chunks: usize,
    /// Metadata of chunks cut to head chunk files (file ref and time range).
    pub mapped_chunk_refs: usize,
    /// The label-hash shards finding series by label set.
    pub series_shards: usize,
    /// The by-ref table.
    pub by_ref: usize,
    /// Postings lists of the index.
    pub postings_lists: usize,
    /// The index's maps and its copies of label names and values.
    pub postings_maps: usize,
}

impl HeadMemory {
    /// Sum of every structure.
    pub fn total(&self) -> usize {
        self.series_structs
            + self.labels
            + self.open_chunks
            + self.mapped_chunk_refs
            + self.series_shards
            + self.by_ref
            + self.postings_lists
            + self.postings_maps
    }

    /// `(name, bytes)` per structure, for reports.
    pub fn parts(&self) -> [(&'static str, usize); 8] {
        [
            ("series_structs", self.series_structs),
            ("labels", self.labels),
            ("open_chunks", self.open_chunks),
            ("mapped_chunk_refs", self.mapped_chunk_refs),
            ("series_shards", self.series_shards),
            ("by_ref", self.by_ref),
            ("postings_lists", self.postings_lists),
            ("postings_maps", self.postings_maps),
        ]
    }
}

impl Head {
    /// Heap bytes of the head by structure. Walks every series (taking each
    /// one's lock briefly), so it is for benchmarks and diagnostics, not for
    /// a hot path.
    pub fn memory(&self) -> HeadMemory {
        let mut all = self.series.all();
        all.sort_by_key(|s| s.series_ref);
        all.dedup_by(|a, b| Arc::ptr_eq(a, b));
        let mut m = HeadMemory {
            series: all.len(),
            series_structs: all.len() * (std::mem::size_of::<MemSeries>() + 16),
            ..HeadMemory::default()
        };
        for s in &all {
            m.labels += s.labels.heap_bytes();
            let st = s.state.lock();
            m.open_chunks += st.head.heap_bytes();
            m.mapped_chunk_refs += st.mapped.heap_bytes();
        }
        (m.series_shards, m.by_ref) = self.series.map_heap_bytes();
        let p = self.index.read().memory();
        m.postings_lists = p.lists;
        m.postings_maps = p.maps;
        m
    }
}
