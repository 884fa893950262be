//! Head memory per active series: a measurement, not a timed benchmark.
//!
//! Loads 100k node_exporter-like series (seeded `NodeLoad`) into a `Db`
//! (WAL off: its buffers do not grow with series), appends one hour of
//! 15 s scrapes (240 samples a series: two chunks cut to head chunk files,
//! one open), and reports live heap bytes per series as counted by a
//! counting global allocator, with and without the label strings
//! (each series' `Labels` allocation, and the index's copies of label names
//! and values). Also prints the change of resident memory.
//!
//! It also prints the head's own accounting by structure
//! (`Head::memory`: series structs, labels, open chunk buffers, cut chunk
//! refs, label-hash shards, by-ref table, postings lists and maps) after 30
//! samples a series (what a 150 s run at 5 s holds) and at the end, and the
//! scrape loop's per-target cache (`ScrapeCache`, one per target of the
//! load, keyed by each series' text) measured the same two ways.
//!
//! Run: `cargo bench -p promethium-benches --bench head_memory`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use promethium_benches::NodeLoad;
use promethium_engine::Appendable;
use promethium_engine::db::{Db, DbOptions};
use promethium_engine::head::HeadMemory;
use promethium_engine::model::{Labels, SeriesRef};
use promethium_scrape::cache::ScrapeCache;

struct Counting;

static LIVE_BYTES: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards to the system allocator unchanged, only counting sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE_BYTES.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE_BYTES.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE_BYTES.fetch_add(new_size as isize - layout.size() as isize, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const SERIES: usize = 100_000;
const ROUNDS: usize = 240;

fn rss_bytes() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<usize>().ok())
        .map_or(0, |kb| kb * 1024)
}

fn main() {
    // `cargo test --benches` runs bench targets with `--bench`-less args; a
    // measurement this long only runs under `cargo bench`.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let mut load = NodeLoad::new(SERIES, 11);
    let n = load.len();
    let label_bytes: usize = load.labels.iter().map(Labels::heap_bytes).sum();
    let dir = tempfile::tempdir().expect("temp dir");
    let mut round = Vec::new();
    let mut refs: Vec<Option<SeriesRef>> = vec![None; n];

    let heap_before = LIVE_BYTES.load(Ordering::Relaxed);
    let rss_before = rss_bytes();
    let db =
        Db::open(dir.path(), DbOptions { wal: None, ..DbOptions::default() }).expect("open db");
    for r in 0..ROUNDS {
        if r == 30 {
            print_breakdown("after 30 samples a series", &db.head().memory());
        }
        load.next_round(&mut round);
        for target in 0..load.targets() {
            let mut app = db.appender();
            for i in load.target_series(target) {
                let (t, v) = round[i];
                refs[i] =
                    Some(app.append(refs[i], &load.labels[i], t, v).expect("in-order samples"));
            }
            app.commit().expect("commit");
        }
    }
    drop(round);
    let heap = (LIVE_BYTES.load(Ordering::Relaxed) - heap_before) as usize;
    let rss = rss_bytes().saturating_sub(rss_before);
    let stats = db.head_stats();
    // The series share their `Labels` allocations with `load.labels` (a clone
    // is a reference count), so those were allocated before `heap_before` and
    // are not in `heap`; only the index's copies of names and values are.
    let index_strings: usize = {
        let q = promethium_engine::Queryable::querier(&db, i64::MIN, i64::MAX).expect("querier");
        let names = q.label_names(&[]).expect("names");
        names
            .iter()
            .map(|name| {
                name.len()
                    + 16
                    + q.label_values(name, &[])
                        .expect("values")
                        .iter()
                        .map(|v| v.len() + 16)
                        .sum::<usize>()
            })
            .sum()
    };
    let per_series = heap as f64 / n as f64;
    let per_series_no_labels = (heap - index_strings.min(heap)) as f64 / n as f64;
    println!(
        "head_memory: {n} series, {} samples each, {} chunks cut",
        ROUNDS, stats.chunks_created
    );
    println!(
        "head_memory/heap_bytes_per_series (excluding Labels allocations, {label_bytes} B held by the caller): {per_series:.0}"
    );
    println!(
        "head_memory/heap_bytes_per_series_excluding_label_strings: {per_series_no_labels:.0}"
    );
    println!("head_memory/rss_delta_bytes_per_series: {:.0}", rss as f64 / n as f64);
    println!(
        "head_memory/label_bytes_per_series (for reference): {:.0}",
        label_bytes as f64 / n as f64
    );
    print_breakdown(&format!("after {ROUNDS} samples a series"), &db.head().memory());
    scrape_caches(&load, &refs);
    db.close().expect("close");
}

fn print_breakdown(when: &str, m: &HeadMemory) {
    let n = m.series.max(1) as f64;
    println!("head_memory/by_structure ({when}, {} series), bytes per series:", m.series);
    for (name, bytes) in m.parts() {
        println!("  {name:<18} {:>7.1}", bytes as f64 / n);
    }
    println!("  {:<18} {:>7.1}", "total", m.total() as f64 / n);
}

/// One scrape cache per target holding every series under its text form
/// (`name{labels}`, about the exposition's bytes) with the labels and refs
/// the head holds: the cache's own bytes, counted by the allocator and by
/// `ScrapeCache::series_heap_bytes`.
fn scrape_caches(load: &NodeLoad, refs: &[Option<SeriesRef>]) {
    let texts: Vec<Vec<u8>> = load.labels.iter().map(|l| l.to_string().into_bytes()).collect();
    let before = LIVE_BYTES.load(Ordering::Relaxed);
    let mut caches = Vec::with_capacity(load.targets());
    for target in 0..load.targets() {
        let mut cache = ScrapeCache::new();
        cache.begin_scrape();
        for i in load.target_series(target) {
            cache.insert(&texts[i], load.labels[i].clone()).set_series_ref(refs[i]);
        }
        cache.end_scrape(true);
        caches.push(cache);
    }
    let heap = (LIVE_BYTES.load(Ordering::Relaxed) - before) as f64;
    let own: usize = caches.iter().map(ScrapeCache::series_heap_bytes).sum();
    let n = load.len() as f64;
    println!(
        "head_memory/scrape_cache_bytes_per_series: {:.1} counted, {:.1} by its accounting ({} targets)",
        heap / n,
        own as f64 / n,
        caches.len()
    );
}
