//! Kill -9 at random moments, many times; every acknowledged commit must
//! come back bit-exactly and the log must open every time.
//!
//! The child (`wal-crash-child`) logs commits from several threads through
//! `Wal::log` under `SyncPolicy::EveryCommit` and prints each id after `log`
//! returns. After every kill the parent replays a copy of the directory and
//! checks (1) every replayed sample is one the workload could have produced,
//! bit for bit, and (2) every reported commit is there in full. Some rounds
//! kill the child during start-up (replay and repair), so the next start
//! faces a crash in the middle of recovery too.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use promethium_engine::wal::{Record, Wal};
use promethium_tests::crash::expected_bits;
use promethium_tests::crash::harness::{copy_dir, kill_and_check_rounds};

const ROUNDS: u32 = 20;
const WRITERS: u8 = 3;

/// Replays a copy of `dir` and returns every sample as (ref, t) -> bits,
/// failing on any sample the workload could not have written.
fn replay_copy(dir: &Path, scratch: &Path) -> HashMap<(u64, i64), u64> {
    let _ = std::fs::remove_dir_all(scratch);
    copy_dir(dir, scratch);
    let mut got = HashMap::new();
    let mut bad = Vec::new();
    Wal::replay(scratch, &mut |r| {
        if let Record::Samples(s) = r {
            for x in s {
                if expected_bits(x.series_ref, x.t_ms) != Some(x.value.to_bits()) {
                    bad.push(x);
                }
                got.insert((x.series_ref.0, x.t_ms), x.value.to_bits());
            }
        }
    })
    .expect("replay never fails on a crashed log");
    assert!(
        bad.is_empty(),
        "replayed samples the child never wrote: {:?}",
        &bad[..bad.len().min(5)]
    );
    got
}

#[test]
fn wal_survives_sigkill_at_random_moments() {
    let exe = PathBuf::from(env!("CARGO_BIN_EXE_wal-crash-child"));
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("wal");
    let scratch = tmp.path().join("check");
    kill_and_check_rounds(&exe, &dir, &scratch, ROUNDS, WRITERS, replay_copy);
}
