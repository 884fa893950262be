//! Child process of the block crash test.
//!
//! Usage: `blocks-crash-child <data dir> <retention>` (`retention`: `keep`
//! or `short`). Appends a deterministic workload (see
//! `tests/src/blocks_crash.rs`) through the `Db`, printing each
//! round's number once its commit returned, and runs cutting, compaction
//! and retention (`Db::compact`) every few rounds. The parent sets
//! `PROMETHIUM_CRASH_POINT` so the process kills itself (SIGKILL) at one step of that
//! maintenance; without it the child runs to the end and exits 0.

use std::io::Write;
use std::path::PathBuf;

use promethium_engine::Appendable;
use promethium_engine::db::Db;
use promethium_engine::model::SeriesRef;
#[path = "../blocks_crash.rs"]
#[allow(dead_code, unreachable_pub)]
mod blocks_crash;

use blocks_crash::{ROUNDS, SERIES, db_options, labels, sample};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 3 {
        eprintln!("usage: blocks-crash-child <data dir> keep|short");
        std::process::exit(2);
    }
    let dir = PathBuf::from(&args[1]);
    let db = match Db::open(&dir, db_options(args[2] == "short")) {
        Ok(db) => db,
        Err(e) => fail(&format!("open failed: {e}")),
    };
    let labels: Vec<_> = (0..SERIES).map(labels).collect();
    let mut refs: Vec<Option<SeriesRef>> = vec![None; labels.len()];
    for round in 0..ROUNDS {
        let mut app = db.appender();
        for (k, l) in labels.iter().enumerate() {
            let (t, v) = sample(k as u64, round);
            match app.append(refs[k], l, t, v) {
                Ok(r) => refs[k] = Some(r),
                Err(e) => fail(&format!("append failed: {e}")),
            }
        }
        if let Err(e) = app.commit() {
            fail(&format!("commit failed: {e}"));
        }
        let mut out = std::io::stdout().lock();
        if writeln!(out, "{round}").and_then(|()| out.flush()).is_err() {
            std::process::exit(0);
        }
        drop(out);
        if round % 20 == 19
            && let Err(e) = db.compact()
        {
            fail(&format!("compaction failed: {e}"));
        }
    }
    if let Err(e) = db.close() {
        fail(&format!("close failed: {e}"));
    }
}

fn fail(msg: &str) -> ! {
    eprintln!("blocks-crash-child: {msg}");
    std::process::exit(1);
}
