//! The acceptance test of the storage engine's durability: a process
//! appending through the `Db` is killed with SIGKILL at random moments, many
//! times; after every kill the database opens, and every sample whose
//! `commit` returned (WAL under `SyncPolicy::EveryCommit`) is read back
//! bit-exactly through `Queryable`.
//!
//! The child (`db-crash-child`) commits from several threads and prints each
//! commit's id after `commit` returns. After each kill the parent opens a
//! copy of the data directory as a `Db` (replaying the WAL into the head) and
//! queries every series. Some rounds kill the child during its own start-up
//! (while it replays), so the next start faces a crash during recovery too.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use promethium_engine::Queryable;
use promethium_engine::db::{Db, DbOptions};
use promethium_engine::model::{Labels, Matcher, SeriesRef};
use promethium_engine::wal::{SyncPolicy, WalOptions};
use promethium_tests::crash::harness::{Rng, copy_dir, run_and_kill};
use promethium_tests::crash::{commit_samples, expected_bits};

const ROUNDS: u32 = 20;
const WRITERS: u8 = 3;

/// Opens a copy of `dir` as a `Db` and returns every sample as
/// (workload series number, t) -> bits, failing on any sample the workload
/// could not have written.
fn query_copy(dir: &Path, scratch: &Path) -> HashMap<(u64, i64), u64> {
    let _ = std::fs::remove_dir_all(scratch);
    copy_dir(dir, scratch);
    let wal = WalOptions { sync: SyncPolicy::EveryCommit, ..WalOptions::default() };
    let db = Db::open(scratch, DbOptions { wal: Some(wal), ..DbOptions::default() })
        .expect("the database opens after every crash");
    let q = db.querier(i64::MIN, i64::MAX).expect("querier");
    let set = q.select(&[Matcher::equal("job", "crash")], None).expect("select");
    let mut got = HashMap::new();
    for series in &set {
        let l: &Labels = series.labels();
        let n: u64 = l
            .get("series")
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("unexpected series {l}"));
        let mut it = series.iter();
        while let Some(s) = it.next() {
            let bits = s.value.to_bits();
            assert_eq!(
                expected_bits(SeriesRef(n), s.t_ms),
                Some(bits),
                "series {n} at {}: a sample the child never wrote",
                s.t_ms
            );
            got.insert((n, s.t_ms), bits);
        }
    }
    drop(set);
    drop(q);
    db.close().expect("close");
    got
}

#[test]
fn db_survives_sigkill_at_random_moments() {
    let exe = PathBuf::from(env!("CARGO_BIN_EXE_db-crash-child"));
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("data");
    let scratch = tmp.path().join("check");
    let mut rng = Rng::from_env();
    let mut acknowledged: Vec<u64> = Vec::new();
    let mut started = 0;

    for round in 0..=ROUNDS {
        let during_startup = round < ROUNDS && rng.range(0, 4) == 0;
        let run_for = Duration::from_millis(if during_startup {
            rng.range(0, 15)
        } else {
            rng.range(5, 120)
        });
        let args = vec![dir.display().to_string(), round.to_string(), WRITERS.to_string()];
        let run = run_and_kill(&exe, &args, !during_startup, run_for);
        if run.ready.is_some() {
            started += 1;
        }
        acknowledged.extend(&run.committed);

        let got = query_copy(&dir, &scratch);
        for &id in &acknowledged {
            for s in commit_samples(id) {
                assert_eq!(
                    got.get(&(s.series_ref.0, s.t_ms)),
                    Some(&s.value.to_bits()),
                    "round {round}: acknowledged commit {id:#x} lost or changed ({s:?})"
                );
            }
        }
    }
    eprintln!("{started} starts, {} acknowledged commits checked", acknowledged.len());
    assert!(started > ROUNDS / 2, "too few rounds got past start-up to mean anything");
    assert!(
        acknowledged.len() > 100,
        "too few commits acknowledged ({}) to mean anything",
        acknowledged.len()
    );
}
