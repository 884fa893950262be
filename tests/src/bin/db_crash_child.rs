//! Child process of the database crash test.
//!
//! Usage: `db-crash-child <data dir> <round> <writers>`. Opens the `Db` (which
//! replays its WAL into the head), prints `ready <samples replayed>`, then
//! runs `writers` threads that each append commits through `Appendable`
//! forever, with the WAL under `SyncPolicy::EveryCommit`, printing a
//! commit's id on stdout only after `commit` returned Ok. The parent kills
//! it with SIGKILL.

use std::io::Write;
use std::path::PathBuf;

use promethium_engine::Appendable;
use promethium_engine::db::{Db, DbOptions};
use promethium_engine::model::SeriesRef;
use promethium_engine::wal::{SyncPolicy, WalOptions};
use promethium_tests::crash::{commit_id, commit_samples, labels};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 4 {
        eprintln!("usage: db-crash-child <data dir> <round> <writers>");
        std::process::exit(2);
    }
    let dir = PathBuf::from(&args[1]);
    let round: u32 = args[2].parse().expect("round is a number");
    let writers: u8 = args[3].parse().expect("writers is a number");

    // Small segments so the test also crosses segment rollovers.
    let wal = WalOptions {
        sync: SyncPolicy::EveryCommit,
        segment_size_bytes: 256 << 10,
        ..WalOptions::default()
    };
    let db = match Db::open(&dir, DbOptions { wal: Some(wal), ..DbOptions::default() }) {
        Ok(db) => db,
        Err(e) => fail(&format!("open failed: {e}")),
    };
    println!("ready {}", db.replay_report().wal.samples);

    std::thread::scope(|scope| {
        for w in 0..writers {
            let db = &db;
            scope.spawn(move || {
                // The workload's series numbers, with the Db's refs cached
                // after the first append as a scrape loop does.
                let mut refs: Vec<Option<SeriesRef>> = Vec::new();
                for seq in 0u32.. {
                    let id = commit_id(round, w, seq);
                    let samples = commit_samples(id);
                    refs.resize(samples.len(), None);
                    let mut app = db.appender();
                    for (cached, s) in refs.iter_mut().zip(&samples) {
                        match app.append(*cached, &labels(s.series_ref), s.t_ms, s.value) {
                            Ok(r) => *cached = Some(r),
                            Err(e) => fail(&format!("append failed: {e}")),
                        }
                    }
                    if let Err(e) = app.commit() {
                        fail(&format!("commit failed: {e}"));
                    }
                    let mut out = std::io::stdout().lock();
                    if writeln!(out, "{id}").and_then(|()| out.flush()).is_err() {
                        std::process::exit(0);
                    }
                }
            });
        }
    });
}

fn fail(msg: &str) -> ! {
    eprintln!("db-crash-child: {msg}");
    std::process::exit(1);
}
