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

use promethium_engine::Queryable;
use promethium_engine::db::{Db, DbOptions};
use promethium_engine::model::{Labels, Matcher, SeriesRef};
use promethium_engine::wal::{SyncPolicy, WalOptions};
use promethium_tests::crash::harness::{Rng, copy_dir, kill_and_check_rounds};
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
    kill_and_check_rounds(&exe, &dir, &scratch, ROUNDS, WRITERS, query_copy);
}

/// Commits `n` commits of writer 0 through a fresh `Db` in `dir` and closes it.
fn write_db(dir: &Path, n: u32) {
    let db = Db::open(dir, DbOptions::default()).expect("open");
    for seq in 0..n {
        let id = promethium_tests::crash::commit_id(0, 0, seq);
        let mut app = promethium_engine::Appendable::appender(&db);
        for s in commit_samples(id) {
            app.append(None, &promethium_tests::crash::labels(s.series_ref), s.t_ms, s.value)
                .expect("append");
        }
        app.commit().expect("commit");
    }
    db.close().expect("close");
}

/// Which of the commits `0..n` of writer 0 a reopened `Db` holds in full;
/// panics on a partly present commit or a sample the workload never wrote.
fn commits_present(got: &HashMap<(u64, i64), u64>, n: u32) -> Vec<bool> {
    (0..n)
        .map(|seq| {
            let id = promethium_tests::crash::commit_id(0, 0, seq);
            let samples = commit_samples(id);
            let found =
                samples.iter().filter(|s| got.contains_key(&(s.series_ref.0, s.t_ms))).count();
            assert!(found == 0 || found == samples.len(), "commit {seq} is partly present");
            found == samples.len()
        })
        .collect()
}

#[test]
fn db_opens_a_damaged_wal_and_keeps_everything_before_the_damage() {
    const COMMITS: u32 = 200;
    let tmp = tempfile::tempdir().expect("tempdir");
    let pristine = tmp.path().join("pristine");
    write_db(&pristine, COMMITS);
    let segment = pristine.join("wal").join("00000000");
    let data = std::fs::read(&segment).expect("segment");
    // Where the first commit (its series and samples) ends.
    let one = tmp.path().join("one");
    write_db(&one, 1);
    let first_end =
        std::fs::metadata(one.join("wal").join("00000000")).expect("segment").len() as usize;
    let mut rng = Rng::from_env();

    for trial in 0..12 {
        let dir = tmp.path().join(format!("trial{trial}"));
        copy_dir(&pristine, &dir);
        let seg = dir.join("wal").join("00000000");
        let at = rng.range(8, data.len() as u64) as usize;
        if trial % 2 == 0 {
            let mut bad = data.clone();
            bad[at] ^= 1 << rng.range(0, 8);
            std::fs::write(&seg, &bad).expect("write flipped segment");
        } else {
            std::fs::write(&seg, &data[..at]).expect("write cut segment");
        }
        let got = query_copy(&dir, &tmp.path().join("check"));
        let present = commits_present(&got, COMMITS);
        let kept = present.iter().take_while(|&&p| p).count();
        assert!(
            present[kept..].iter().all(|&p| !p),
            "trial {trial}: commits after the damage survived"
        );
        assert!(kept < COMMITS as usize, "trial {trial}: damage at byte {at} went unnoticed");
        // Everything wholly before the damaged byte survives: commits after
        // the first (which also carries the series) are about the same size.
        let rest = (data.len() - first_end) / (COMMITS as usize - 1);
        let expected_at_least = if at < first_end { 0 } else { 1 + (at - first_end) / rest };
        assert!(
            kept + 2 >= expected_at_least,
            "trial {trial}: only {kept} commits kept before byte {at}, expected about {expected_at_least}"
        );
    }
}
