//! Crash tests of block maintenance: the child (`blocks-crash-child`)
//! appends and runs cutting, compaction and retention with
//! `PROMETHIUM_CRASH_POINT` naming one step, where it sends itself SIGKILL
//! (no destructors, no flushing); the test checks it died of signal 9. The
//! database must then
//! open (removing unfinished blocks, finishing WAL truncation), hold every
//! acknowledged round exactly once with the right values, survive a second
//! child run to the end, and compact cleanly.

#[path = "src/blocks_crash.rs"]
#[allow(dead_code, unreachable_pub)]
mod blocks_crash;

use std::collections::BTreeMap;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use blocks_crash::{SERIES, SHORT_RETENTION_MS, db_options, sample};
use promethium_engine::Queryable;
use promethium_engine::block::CRASH_POINT_ENV;
use promethium_engine::db::Db;
use promethium_engine::model::Matcher;

/// SIGKILL's number: what a child killed at a crash point must die of.
const SIGKILL: i32 = 9;

/// Runs the child to completion or to its crash; returns the rounds it
/// acknowledged and whether it was killed by SIGKILL (any other failure,
/// such as a panic or a non-zero exit, fails the test).
fn run_child(dir: &Path, mode: &str, crash_at: Option<&str>) -> (Vec<u64>, bool) {
    let exe = PathBuf::from(env!("CARGO_BIN_EXE_blocks-crash-child"));
    let mut cmd = Command::new(exe);
    cmd.arg(dir).arg(mode).stdout(Stdio::piped()).stderr(Stdio::piped());
    match crash_at {
        Some(p) => cmd.env(CRASH_POINT_ENV, p),
        None => cmd.env_remove(CRASH_POINT_ENV),
    };
    let out = cmd.output().expect("the child runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("failed"), "child error: {stderr}");
    let rounds = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.parse().expect("a round number"))
        .collect();
    let killed = out.status.signal() == Some(SIGKILL);
    assert!(
        killed || out.status.success(),
        "child ended neither cleanly nor by SIGKILL: {:?}; stderr: {stderr}",
        out.status
    );
    (rounds, killed)
}

/// Every sample in the database: series -> t -> value bits.
fn read_all(db: &Db) -> BTreeMap<u64, Vec<(i64, u64)>> {
    let q = db.querier(i64::MIN, i64::MAX).expect("querier");
    let set = q.select(&[Matcher::equal("job", "crash")], None).expect("select");
    let mut out = BTreeMap::new();
    for s in &set {
        let k: u64 = s.labels().get("series").expect("series label").parse().expect("number");
        let mut it = s.iter();
        let samples =
            std::iter::from_fn(|| it.next()).map(|x| (x.t_ms, x.value.to_bits())).collect();
        out.insert(k, samples);
    }
    out
}

/// Checks that the database holds exactly rounds `first..=last` of every
/// series, with `first` at most `oldest_allowed` (what retention may drop).
fn check(db: &Db, last: u64, retention: bool, what: &str) {
    let all = read_all(db);
    assert_eq!(all.len() as u64, SERIES, "{what}: series");
    for (k, samples) in &all {
        let first = samples.first().map_or(0, |s| s.0) / blocks_crash::STEP_MS;
        if !retention {
            assert_eq!(first, 0, "{what}: series {k} lost its oldest samples");
        } else {
            let newest = last as i64 * blocks_crash::STEP_MS;
            assert!(
                first * blocks_crash::STEP_MS >= 0
                    && (newest - first * blocks_crash::STEP_MS)
                        <= SHORT_RETENTION_MS + 4 * blocks_crash::BLOCK_RANGE_MS,
                "{what}: series {k} keeps data retention should have dropped"
            );
        }
        let want: Vec<(i64, u64)> = (first as u64..=last)
            .map(|r| {
                let (t, v) = sample(*k, r);
                (t, v.to_bits())
            })
            .collect();
        assert!(samples.len() as u64 <= last + 1, "{what}: series {k} has duplicates");
        assert_eq!(samples, &want, "{what}: series {k} differs from what was acknowledged");
    }
}

fn crash_and_recover(point: &str, mode: &str) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("data");
    let (acked, crashed) = run_child(&dir, mode, Some(point));
    assert!(crashed, "the child was not killed by SIGKILL at crash point {point}");
    let last = *acked.last().expect("some rounds acknowledged");
    let retention = mode == "short";
    {
        let db = Db::open(&dir, db_options(retention)).expect("the database opens after the crash");
        check(&db, last, retention, &format!("after crashing at {point}"));
        let leftovers: Vec<String> = std::fs::read_dir(&dir)
            .expect("data dir")
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".tmp") || n.ends_with(".deleted"))
            .collect();
        assert!(leftovers.is_empty(), "{point}: left behind {leftovers:?}");
        db.close().expect("close");
    }
    // The child starts over at round 0: every round up to the last acked
    // is out of bounds or a duplicate... so run a fresh child only to check
    // that maintenance still works on the repaired directory.
    let db = Db::open(&dir, db_options(retention)).expect("reopen");
    db.compact().expect("compaction after repair");
    check(&db, last, retention, &format!("after compacting the repaired state ({point})"));
}

#[test]
fn crash_while_writing_a_block() {
    crash_and_recover("block-write-chunks", "keep");
    crash_and_recover("block-write-before-rename", "keep");
}

#[test]
fn crash_between_block_and_head_truncation() {
    crash_and_recover("head-cut-before-truncate", "keep");
}

#[test]
fn crash_during_wal_checkpoint_and_truncation() {
    crash_and_recover("wal-checkpoint-before-rename", "keep");
    crash_and_recover("wal-truncate-segment", "keep");
}

#[test]
fn crash_during_compaction() {
    crash_and_recover("compaction-before-delete-parents", "keep");
    crash_and_recover("block-delete-after-rename", "keep");
}

#[test]
fn crash_during_retention() {
    crash_and_recover("retention-before-delete", "short");
}
