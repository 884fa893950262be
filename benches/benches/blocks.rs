//! Blocks: bytes per sample on disk and query decode speed, blocks vs head.
//!
//! Setup (not timed): the seeded node_exporter-like load (`NodeLoad`, 10k
//! series scraped every 15 s) is ingested for `BLOCKS_BENCH_HOURS`
//! simulated hours (default 24) into a `Db` whose head is cut into 2 h
//! blocks as it goes; blocks are then compacted (leveled, 6 h and 18 h).
//! RSS is printed every simulated 2 h (memory must stay flat: the head
//! holds at most ~3 h). Reported: bytes per sample of every block
//! directory (total) and of the chunk files alone.
//!
//! Timed: selecting every series over one 2 h range and decoding every
//! sample, once from blocks and once from a head holding the same 2 h;
//! throughput is in samples. Timed in CPU time of the process (the target
//! is per core, and the machines running it are shared, so wall time
//! mostly measures the neighbours); the queries run on one thread.
//!
//! Run: `cargo bench -p promethium-benches --bench blocks -- --warm-up-time 1 --measurement-time 3`.
//! With `BLOCKS_BENCH_BREAKDOWN=1` it prints instead where the bytes of
//! the value columns go, by metric family, against a bound (see
//! `breakdown`).

use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use promethium_benches::{NodeLoad, cpu_timed};
use promethium_engine::db::{Db, DbOptions};
use promethium_engine::model::{Matcher, SeriesRef};
use promethium_engine::{Appendable, Queryable};

const SERIES: usize = 10_000;
const HOUR: i64 = 3_600_000;

/// (anonymous, file-backed) resident MiB: heap growth shows in the first;
/// mapped head chunk files and blocks (reclaimable page cache) in the second.
fn rss_mib() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    };
    (field("RssAnon:"), field("RssFile:"))
}

fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| match e.metadata() {
                    Ok(m) if m.is_dir() => dir_bytes(&e.path()),
                    Ok(m) => m.len(),
                    Err(_) => 0,
                })
                .sum()
        })
        .unwrap_or(0)
}

/// Ingests `rounds` scrapes of `load`, calling `every_2h` after each
/// simulated 2 h.
fn ingest(db: &Db, load: &mut NodeLoad, rounds: usize, mut every_2h: impl FnMut(usize)) {
    let mut refs: Vec<Option<SeriesRef>> = vec![None; load.len()];
    let mut round = Vec::new();
    let per_2h = (2 * HOUR / load.interval_ms) as usize;
    for r in 0..rounds {
        load.next_round(&mut round);
        for target in 0..load.targets() {
            let mut app = db.appender();
            for i in load.target_series(target) {
                let (t, v) = round[i];
                refs[i] = Some(app.append(refs[i], &load.labels[i], t, v).expect("in order"));
            }
            app.commit().expect("commit");
        }
        if r % per_2h == per_2h - 1 {
            every_2h(r);
        }
    }
}

fn count_samples(db: &Db, min: i64, max: i64) -> u64 {
    let q = db.querier(min, max).expect("querier");
    let set = q.select(&[Matcher::equal("job", "node")], None).expect("select");
    let mut n = 0u64;
    for s in &set {
        let mut it = s.iter();
        while it.next().is_some() {
            n += 1;
        }
    }
    n
}

/// With `BLOCKS_BENCH_BREAKDOWN` set: 2 h of the load encoded as block
/// columns, bytes per metric family (each family's columns compressed
/// together at the chunk level, so cross-family matches are not counted)
/// against a model bound: per column, the fewer bits of "uniform over the
/// observed range of values / gcd" and "which samples change (binary
/// entropy) plus uniform over the observed range of nonzero changes / gcd".
/// That bound is near the generator's entropy for its uniform draws; it
/// is what a coder without whole-bit rounding would get.
fn breakdown() {
    use promethium_engine::block::codec::{encode_timestamps, encode_values};
    use promethium_engine::model::Sample;
    use std::collections::BTreeMap;
    let mut load = NodeLoad::new(SERIES, 7);
    let rounds = (2 * HOUR / load.interval_ms) as usize;
    let mut cols: Vec<Vec<Sample>> = vec![Vec::with_capacity(rounds); load.len()];
    let mut round = Vec::new();
    for _ in 0..rounds {
        load.next_round(&mut round);
        for (i, &(t, v)) in round.iter().enumerate() {
            cols[i].push(Sample { t_ms: t, value: v });
        }
    }
    fn bound_bits(samples: &[Sample]) -> f64 {
        let Some(e) = (0..=9).find(|&e| {
            let k = 10f64.powi(e);
            samples.iter().all(|s| ((s.value * k).round() / k).to_bits() == s.value.to_bits())
        }) else {
            return 64.0 * samples.len() as f64;
        };
        let k = 10f64.powi(e);
        let ms: Vec<i64> = samples.iter().map(|s| (s.value * k).round() as i64).collect();
        let uniform = |v: &[i64]| {
            let (lo, hi) = (*v.iter().min().unwrap_or(&0), *v.iter().max().unwrap_or(&0));
            let g = v.iter().fold(0u64, |g, &x| {
                let (mut a, mut b) = (g, (x - lo) as u64);
                while b != 0 {
                    (a, b) = (b, a % b);
                }
                a
            });
            (((hi - lo) as u64 / g.max(1)) as f64 + 1.0).log2() * v.len() as f64
        };
        let raw = uniform(&ms);
        let deltas: Vec<i64> = ms.windows(2).map(|w| w[1] - w[0]).collect();
        let nz: Vec<i64> = deltas.iter().copied().filter(|&d| d != 0).collect();
        let n = deltas.len() as f64;
        let p = nz.len() as f64 / n.max(1.0);
        let h =
            if p <= 0.0 || p >= 1.0 { 0.0 } else { -(p * p.log2() + (1.0 - p) * (1.0 - p).log2()) };
        raw.min(n * h + uniform(&nz))
    }
    /// One metric family's columns.
    #[derive(Default)]
    struct Family {
        series: usize,
        samples: usize,
        columns: Vec<u8>,
        zstd: usize,
        bound_bits: f64,
        kinds: [usize; 8],
    }
    let mut fams: BTreeMap<String, Family> = BTreeMap::new();
    let mut ts_raw = Vec::new();
    for (i, samples) in cols.iter().enumerate() {
        let name = load.labels[i].get("__name__").unwrap_or("").to_string();
        let fam = fams.entry(name).or_default();
        let start = fam.columns.len();
        encode_values(samples, &mut fam.columns);
        fam.kinds[usize::from(fam.columns[start]).min(7)] += 1;
        fam.series += 1;
        fam.samples += samples.len();
        fam.bound_bits += bound_bits(samples);
        if i == 0 || load.labels[i].get("instance") != load.labels[i - 1].get("instance") {
            encode_timestamps(samples, &mut ts_raw);
        }
    }
    let total_samples: usize = fams.values().map(|f| f.samples).sum();
    let per = |bytes: f64| bytes / total_samples as f64;
    let mut rows: Vec<(String, Family)> = fams
        .into_iter()
        .map(|(name, mut f)| {
            f.zstd = promethium_engine::block::compressed_len(&f.columns);
            (name, f)
        })
        .collect();
    let excess = |f: &Family| f.zstd as f64 - f.bound_bits / 8.0;
    rows.sort_by(|a, b| excess(&b.1).total_cmp(&excess(&a.1)));
    println!(
        "breakdown: 2 h, {total_samples} samples; bytes/sample of all samples, by family \
         (zstd of the family's columns), sorted by excess over the bound"
    );
    println!(
        "{:<48} {:>6} {:>9} {:>9} {:>9} {:>9}  kinds 0..5",
        "family", "series", "raw", "zstd", "bound", "excess"
    );
    let (mut tz, mut tb) = (0usize, 0.0);
    for (name, f) in &rows {
        tz += f.zstd;
        tb += f.bound_bits / 8.0;
        println!(
            "{name:<48} {:>6} {:>9.4} {:>9.4} {:>9.4} {:>9.4}  {:?}",
            f.series,
            per(f.columns.len() as f64),
            per(f.zstd as f64),
            per(f.bound_bits / 8.0),
            per(excess(f)),
            &f.kinds[..6]
        );
    }
    let tsz = promethium_engine::block::compressed_len(&ts_raw);
    println!(
        "breakdown: values zstd {:.4} bound {:.4} excess {:.4}; timestamps (one column per target) {:.4}",
        per(tz as f64),
        per(tb),
        per(tz as f64 - tb),
        per(tsz as f64)
    );
}

fn bench(c: &mut Criterion) {
    if std::env::var_os("BLOCKS_BENCH_POSTINGS_ONLY").is_some() {
        return;
    }
    if std::env::var_os("BLOCKS_BENCH_BREAKDOWN").is_some() {
        breakdown();
        return;
    }
    let hours: i64 =
        std::env::var("BLOCKS_BENCH_HOURS").ok().and_then(|h| h.parse().ok()).unwrap_or(24);
    let opts = DbOptions { wal: None, compaction_interval: None, ..DbOptions::default() };

    // Blocks: `hours` of data, cut and compacted.
    let dir = tempfile::tempdir().expect("temp dir");
    let db = Db::open(dir.path(), opts.clone()).expect("open");
    let mut load = NodeLoad::new(SERIES, 7);
    let start = load.start_ms;
    let rounds = (hours * HOUR / load.interval_ms) as usize;
    println!("blocks: ingesting {} series for {hours} h ({rounds} scrapes)", load.len());
    let interval = load.interval_ms;
    ingest(&db, &mut load, rounds, |r| {
        db.cut_head().expect("cut head");
        let h = db.head_stats();
        println!(
            "blocks/rss: t={:>3} h rss_anon={:.0} MiB rss_file={:.0} MiB head_series={} head_span={:.1} h blocks={}",
            (r + 1) as i64 * interval / HOUR,
            rss_mib().0,
            rss_mib().1,
            h.num_series,
            (h.max_t_ms.unwrap_or(0) - h.min_t_ms.unwrap_or(0)) as f64 / HOUR as f64,
            db.block_stats().len()
        );
    });
    db.compact_blocks().expect("compact");
    let blocks = db.block_stats();
    let samples: u64 = blocks.iter().map(|b| b.num_samples).sum();
    let total: u64 = blocks.iter().map(|b| b.bytes).sum();
    let chunks: u64 =
        blocks.iter().map(|b| dir_bytes(&dir.path().join(&b.ulid).join("chunks"))).sum();
    println!(
        "blocks/bytes_per_sample: total {:.3}, chunks only {:.3} ({samples} samples in {} blocks, {total} bytes)",
        total as f64 / samples as f64,
        chunks as f64 / samples as f64,
        blocks.len()
    );
    for b in &blocks {
        println!(
            "blocks/block: level {} span {:.0} h samples {} bytes {}",
            b.level,
            (b.max_t_ms - b.min_t_ms) as f64 / HOUR as f64,
            b.num_samples,
            b.bytes
        );
    }

    // Head: the same load's first 2 h, still in the head.
    let head_dir = tempfile::tempdir().expect("temp dir");
    let head_db = Db::open(head_dir.path(), opts).expect("open");
    let mut head_load = NodeLoad::new(SERIES, 7);
    let head_rounds = (2 * HOUR / head_load.interval_ms) as usize;
    ingest(&head_db, &mut head_load, head_rounds, |_| {});

    let (min, max) = (start - start.rem_euclid(2 * HOUR) + 2 * HOUR, 0);
    let (min, max) = (min, min + 2 * HOUR - 1 + max);
    let in_blocks = count_samples(&db, min, max);
    let head_min = start;
    let head_max = start + 2 * HOUR - 1;
    let in_head = count_samples(&head_db, head_min, head_max);
    println!("blocks/query: {in_blocks} samples from blocks, {in_head} from the head");

    let mut g = c.benchmark_group("blocks_query");
    g.sample_size(10);
    g.throughput(Throughput::Elements(in_blocks));
    g.bench_function("select_decode_2h_blocks", |b| {
        b.iter_custom(|n| {
            cpu_timed(n, || {
                std::hint::black_box(count_samples(&db, min, max));
            })
        })
    });
    g.throughput(Throughput::Elements(in_head));
    g.bench_function("select_decode_2h_head", |b| {
        b.iter_custom(|n| {
            cpu_timed(n, || {
                std::hint::black_box(count_samples(&head_db, head_min, head_max));
            })
        })
    });
    g.finish();
}

/// Postings intersection: sorted `u64` lists (what the head and blocks
/// use) against `bitvec` bit sets over the series-id universe, for a
/// selective pair (all 10k series ∩ one metric's 10) and a broad pair
/// (two halves overlapping by a quarter).
fn postings(c: &mut Criterion) {
    use bitvec::prelude::*;
    use promethium_engine::head::index::intersect_sorted;
    const N: u64 = 10_000;
    let all: Vec<u64> = (0..N).collect();
    let few: Vec<u64> = (0..10)
        .map(|i| i * 997 % N)
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let evens: Vec<u64> = (0..N).filter(|i| i % 2 == 0).collect();
    let low: Vec<u64> = (0..N / 2).collect();
    let bits = |ids: &[u64]| {
        let mut b = bitvec![u64, Lsb0; 0; N as usize];
        for &i in ids {
            b.set(i as usize, true);
        }
        b
    };
    let mut g = c.benchmark_group("postings_intersection");
    for (name, a, b) in [("selective", &all, &few), ("broad", &evens, &low)] {
        g.bench_function(format!("{name}/sorted_lists"), |bn| {
            bn.iter(|| intersect_sorted(std::hint::black_box(a), std::hint::black_box(b)).len())
        });
        g.bench_function(format!("{name}/bitvec_from_lists"), |bn| {
            bn.iter(|| {
                let mut x = bits(std::hint::black_box(a));
                x &= bits(std::hint::black_box(b));
                x.count_ones()
            })
        });
        let (ba, bb) = (bits(a), bits(b));
        g.bench_function(format!("{name}/bitvec_prebuilt"), |bn| {
            bn.iter(|| {
                let mut x = ba.clone();
                x &= std::hint::black_box(&bb);
                x.iter_ones().count()
            })
        });
    }
    g.finish();
}

criterion_group!(benches, postings, bench);
criterion_main!(benches);
