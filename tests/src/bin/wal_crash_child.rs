//! Child process of the WAL crash test.
//!
//! Usage: `wal-crash-child <wal dir> <round> <writers>`. Replays and opens
//! the WAL as a database would at start-up, prints `ready`, then runs
//! `writers` threads that each log commits forever under
//! `SyncPolicy::EveryCommit` and print a commit's id on stdout only after
//! `Wal::log` returned Ok. The parent kills it with SIGKILL.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use promethium_engine::wal::{SeriesRecord, SyncPolicy, Wal, WalOptions};
use promethium_tests::crash::{SERIES_PER_WRITER, commit_id, commit_samples, labels, series_ref};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 4 {
        eprintln!("usage: wal-crash-child <wal dir> <round> <writers>");
        std::process::exit(2);
    }
    let dir = PathBuf::from(&args[1]);
    let round: u32 = args[2].parse().expect("round is a number");
    let writers: u8 = args[3].parse().expect("writers is a number");

    let stats = match Wal::replay(&dir, &mut |_| {}) {
        Ok(s) => s,
        Err(e) => fail(&format!("replay failed: {e}")),
    };
    // Small segments so the test also crosses segment rollovers.
    let options = WalOptions {
        sync: SyncPolicy::EveryCommit,
        segment_size_bytes: 256 << 10,
        ..WalOptions::default()
    };
    let wal = match Wal::open(&dir, options) {
        Ok(w) => Arc::new(w),
        Err(e) => fail(&format!("open failed: {e}")),
    };
    println!("ready {} {}", stats.samples, wal.io_backend());

    let threads: Vec<_> = (0..writers)
        .map(|w| {
            let wal = wal.clone();
            std::thread::spawn(move || {
                let series: Vec<SeriesRecord> = (0..SERIES_PER_WRITER)
                    .map(|k| {
                        let r = series_ref(u64::from(w), k);
                        SeriesRecord { series_ref: r, labels: labels(r) }
                    })
                    .collect();
                for seq in 0u32.. {
                    let id = commit_id(round, w, seq);
                    let new = if seq == 0 { &series[..] } else { &[][..] };
                    if let Err(e) = wal.log(new, &commit_samples(id)) {
                        fail(&format!("log failed: {e}"));
                    }
                    let mut out = std::io::stdout().lock();
                    if writeln!(out, "{id}").and_then(|()| out.flush()).is_err() {
                        // The parent stopped reading; nothing left to do.
                        std::process::exit(0);
                    }
                }
            })
        })
        .collect();
    for t in threads {
        let _ = t.join();
    }
}

fn fail(msg: &str) -> ! {
    eprintln!("wal-crash-child: {msg}");
    std::process::exit(1);
}
