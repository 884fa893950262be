//! WAL benchmarks.
//!
//! - `wal_append/<io>/<policy>`: samples per second through `Wal::log`, one
//!   commit being one scrape of a node_exporter-shaped target (1,000 series:
//!   counters, gauges, histogram buckets) with zstd on. `every_commit_4t`
//!   runs four committers at once to show group commit sharing fsyncs.
//! - `wal_replay/samples`: samples per second replaying a log of 100k series
//!   scraped 50 times (5 M samples) into a sink that only counts, i.e. the
//!   WAL's own read, check and decode cost.
//! - `wal_replay/series`: series records per second replaying a log of 200k
//!   series; seconds per million series is 1e6 divided by that rate.
//!
//! Both groups also print figures per CPU-second (`getrusage`, all threads):
//! on a shared machine those say what the code costs, while wall-clock
//! throughput says as much about the other tenants.
//!
//! Inputs are deterministic. The io_uring variants run only where io_uring
//! works; otherwise the bench prints why and skips them.
//!
//! Run: `cargo bench -p promethium-benches --bench wal -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use promethium_engine::model::{Labels, SeriesRef};
use promethium_engine::wal::{
    Record, RefSample, SeriesRecord, SyncPolicy, Wal, WalIo, WalOptions, uring_probe,
};

const SERIES_PER_TARGET: u64 = 1_000;
const SCRAPE_INTERVAL_MS: i64 = 15_000;

/// A small deterministic generator.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Labels shaped like node_exporter's: a metric name, instance and job,
/// plus a per-kind label.
fn series_labels(target: u64, i: u64) -> Labels {
    let instance = format!("10.0.{}.{}:9100", target / 250, target % 250);
    match i % 10 {
        0..=3 => Labels::new([
            ("__name__", "node_cpu_seconds_total"),
            ("cpu", &(i / 8).to_string()),
            ("instance", &instance),
            ("job", "node"),
            (
                "mode",
                ["idle", "user", "system", "iowait", "irq", "softirq", "steal", "nice"]
                    [(i % 8) as usize],
            ),
        ]),
        4..=6 => Labels::new([
            ("__name__", "node_filesystem_avail_bytes"),
            ("device", &format!("/dev/sd{}", i)),
            ("fstype", "ext4"),
            ("instance", &instance),
            ("job", "node"),
            ("mountpoint", &format!("/mnt/{i}")),
        ]),
        _ => Labels::new([
            ("__name__", "http_request_duration_seconds_bucket"),
            ("handler", &format!("/api/v1/{}", i / 12)),
            ("instance", &instance),
            ("job", "node"),
            (
                "le",
                [
                    "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10",
                    "+Inf",
                ][(i % 12) as usize],
            ),
        ]),
    }
}

/// One scrape of `target`: its series refs are contiguous, the timestamp is
/// the scrape time with jitter, values follow the kind of series.
fn scrape(target: u64, scrape_no: u64, rng: &mut Rng) -> Vec<RefSample> {
    let t = 1_700_000_000_000 + scrape_no as i64 * SCRAPE_INTERVAL_MS + (rng.next() % 50) as i64;
    (0..SERIES_PER_TARGET)
        .map(|i| {
            let value = match i % 10 {
                // Counters: grow by a small, varying amount each scrape.
                0..=3 => (scrape_no * 15 + i) as f64 + (rng.next() % 1000) as f64 / 1000.0,
                // Gauges: large, slowly changing.
                4..=6 => (1u64 << 34) as f64 - (scrape_no * 4096 + (rng.next() % 8) * 512) as f64,
                // Histogram buckets: integer counts.
                _ => (scrape_no * (i % 12 + 1)) as f64,
            };
            RefSample { series_ref: SeriesRef(target * SERIES_PER_TARGET + i), t_ms: t, value }
        })
        .collect()
}

fn options(io: WalIo, sync: SyncPolicy) -> WalOptions {
    WalOptions { io, sync, ..WalOptions::default() }
}

fn backends() -> Vec<(&'static str, WalIo)> {
    let mut v = vec![("file", WalIo::File)];
    let probe_dir = tempfile::tempdir().expect("tempdir");
    match uring_probe(probe_dir.path()) {
        Ok(()) => v.push(("io_uring", WalIo::Uring)),
        Err(e) => eprintln!("io_uring unavailable, skipping its benches: {e}"),
    }
    v
}

/// CPU time (user + system, all threads) this process has used, in seconds.
fn cpu_secs() -> f64 {
    // SAFETY: getrusage only writes the struct we pass, which is zeroed and
    // sized for it.
    let ru = unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut ru);
        ru
    };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

fn bench_append(c: &mut Criterion) {
    let mut g = c.benchmark_group("wal_append");
    g.throughput(Throughput::Elements(SERIES_PER_TARGET));
    let mut rng = Rng(0x1234_5678_9abc_def1);
    // A pool of pre-built scrapes so the bench measures the WAL, not the
    // generator.
    let scrapes: Vec<Vec<RefSample>> = (0..64).map(|n| scrape(n % 16, n, &mut rng)).collect();
    {
        // CPU cost of appending (encode, compress, frame, write) without fsync.
        let dir = tempfile::tempdir().expect("tempdir");
        let wal =
            Wal::open(dir.path(), options(WalIo::File, SyncPolicy::OnSegmentFull)).expect("open");
        let (c0, t0) = (cpu_secs(), Instant::now());
        for i in 0..2_000 {
            wal.log(&[], &scrapes[i % scrapes.len()]).expect("log");
        }
        wal.close().expect("close");
        let n = 2_000.0 * SERIES_PER_TARGET as f64;
        eprintln!(
            "wal append (file, on_segment_full): {:.1} M samples/s wall, {:.1} M samples per CPU-second",
            n / t0.elapsed().as_secs_f64() / 1e6,
            n / (cpu_secs() - c0) / 1e6
        );
    }
    for (io_name, io) in backends() {
        for (policy_name, sync) in [
            ("on_segment_full", SyncPolicy::OnSegmentFull),
            ("every_commit", SyncPolicy::EveryCommit),
        ] {
            let dir = tempfile::tempdir().expect("tempdir");
            let wal = Wal::open(dir.path(), options(io, sync)).expect("open wal");
            let mut n = 0usize;
            g.bench_function(BenchmarkId::new(io_name, policy_name), |b| {
                b.iter(|| {
                    wal.log(&[], &scrapes[n % scrapes.len()]).expect("log");
                    n += 1;
                })
            });
            wal.close().expect("close");
        }
        // Four concurrent committers under EveryCommit: group commit.
        let dir = tempfile::tempdir().expect("tempdir");
        let wal = Arc::new(
            Wal::open(dir.path(), options(io, SyncPolicy::EveryCommit)).expect("open wal"),
        );
        let scrapes = Arc::new(scrapes.clone());
        g.bench_function(BenchmarkId::new(io_name, "every_commit_4t"), |b| {
            b.iter_custom(|iters| {
                let per_thread = iters.div_ceil(4);
                let start = Instant::now();
                let threads: Vec<_> = (0..4)
                    .map(|t| {
                        let (wal, scrapes) = (wal.clone(), scrapes.clone());
                        std::thread::spawn(move || {
                            for i in 0..per_thread as usize {
                                wal.log(&[], &scrapes[(i + t) % scrapes.len()]).expect("log");
                            }
                        })
                    })
                    .collect();
                for t in threads {
                    t.join().expect("committer thread");
                }
                start.elapsed().mul_f64(iters as f64 / (per_thread * 4) as f64)
            })
        });
        wal.close().expect("close");
    }
    g.finish();
}

/// Writes a log of `targets` targets scraped `scrapes` times; returns the
/// number of samples.
fn build_log(dir: &Path, targets: u64, scrapes: u64) -> u64 {
    let wal = Wal::open(dir, options(WalIo::File, SyncPolicy::OnSegmentFull)).expect("open wal");
    let mut rng = Rng(42);
    let mut samples = 0;
    for t in 0..targets {
        let series: Vec<SeriesRecord> = (0..SERIES_PER_TARGET)
            .map(|i| SeriesRecord {
                series_ref: SeriesRef(t * SERIES_PER_TARGET + i),
                labels: series_labels(t, i),
            })
            .collect();
        wal.log(&series, &[]).expect("log series");
    }
    for s in 0..scrapes {
        for t in 0..targets {
            let batch = scrape(t, s, &mut rng);
            samples += batch.len() as u64;
            wal.log(&[], &batch).expect("log samples");
        }
    }
    wal.close().expect("close");
    samples
}

fn bench_replay(c: &mut Criterion) {
    let mut g = c.benchmark_group("wal_replay");
    g.sample_size(10);

    let dir = tempfile::tempdir().expect("tempdir");
    let samples = build_log(dir.path(), 100, 50);
    let bytes: u64 = std::fs::read_dir(dir.path())
        .expect("dir")
        .map(|e| e.expect("entry").metadata().expect("meta").len())
        .sum();
    eprintln!(
        "replay log: {samples} samples in {bytes} bytes ({:.2} bytes/sample)",
        bytes as f64 / samples as f64
    );
    g.throughput(Throughput::Elements(samples));
    g.bench_function("samples", |b| {
        b.iter(|| {
            let mut n = 0u64;
            Wal::replay(dir.path(), &mut |r| {
                if let Record::Samples(s) = r {
                    n += s.len() as u64;
                    black_box(&s);
                }
            })
            .expect("replay");
            assert_eq!(n, samples);
        })
    });

    // Wall-clock figures on a shared machine mostly measure the other
    // tenants, so also report what replay costs in CPU time (all threads).
    let (mut best_wall, mut cpu_at_best) = (f64::MAX, 0.0);
    for _ in 0..5 {
        let (c0, t0) = (cpu_secs(), Instant::now());
        Wal::replay(dir.path(), &mut |r| {
            black_box(&r);
        })
        .expect("replay");
        let wall = t0.elapsed().as_secs_f64();
        if wall < best_wall {
            (best_wall, cpu_at_best) = (wall, cpu_secs() - c0);
        }
    }
    eprintln!(
        "wal replay, best of 5: {:.1} M samples/s wall, {:.1} M samples per CPU-second",
        samples as f64 / best_wall / 1e6,
        samples as f64 / cpu_at_best / 1e6
    );

    let dir = tempfile::tempdir().expect("tempdir");
    build_log(dir.path(), 200, 0);
    g.throughput(Throughput::Elements(200 * SERIES_PER_TARGET));
    g.bench_function("series", |b| {
        b.iter(|| {
            let mut n = 0u64;
            Wal::replay(dir.path(), &mut |r| {
                if let Record::Series(s) = r {
                    n += s.len() as u64;
                    black_box(&s);
                }
            })
            .expect("replay");
            assert_eq!(n, 200 * SERIES_PER_TARGET);
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = bench_append, bench_replay
}
criterion_main!(benches);
