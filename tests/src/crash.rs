//! The deterministic workload of the kill-and-recover tests.
//!
//! A commit is named by a 64-bit id and its contents are a pure function of
//! that id, so the parent process can check what it reads back against what
//! the child said it committed without any other channel between them, and
//! can tell a corrupted sample from a correct one.
//!
//! Ids are `round << 32 | writer << 24 | seq`: each run of the child is a new
//! round and each writer thread of the child owns its own series, so per
//! series the timestamps (the id itself) only grow, across threads and
//! across restarts. That keeps the workload valid for the head as well as
//! for the bare WAL (the head rejects out-of-order samples).

use promethium_engine::model::{Labels, STALE_NAN_BITS, SeriesRef};
use promethium_engine::wal::RefSample;

/// Series owned by each writer thread; also the samples per commit.
pub const SERIES_PER_WRITER: u64 = 16;

/// The id of commit `seq` of `writer` in `round`.
pub fn commit_id(round: u32, writer: u8, seq: u32) -> u64 {
    (u64::from(round) << 32) | (u64::from(writer) << 24) | u64::from(seq & 0x00ff_ffff)
}

/// The writer thread that made commit `id`.
pub fn writer_of(id: u64) -> u64 {
    (id >> 24) & 0xff
}

/// The reference the child uses for series `k` of `writer`.
pub fn series_ref(writer: u64, k: u64) -> SeriesRef {
    SeriesRef(writer * SERIES_PER_WRITER + k + 1)
}

/// The labels of a series reference.
pub fn labels(r: SeriesRef) -> Labels {
    Labels::new([("__name__", "crash_test_value"), ("series", &r.0.to_string()), ("job", "crash")])
}

/// Sample `k` of commit `id`: timestamp `id`, a value with awkward bit
/// patterns mixed in (the stale marker, -0.0, other NaNs, infinities).
pub fn value_bits(id: u64, k: u64) -> u64 {
    let mut x = id.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ k.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x ^= x >> 31;
    match x % 8 {
        0 => STALE_NAN_BITS,
        1 => (-0.0f64).to_bits(),
        2 => 0x7ff8_0000_dead_beef,
        3 => f64::NEG_INFINITY.to_bits(),
        _ => x,
    }
}

/// The samples of commit `id`, one per series of its writer.
pub fn commit_samples(id: u64) -> Vec<RefSample> {
    let w = writer_of(id);
    (0..SERIES_PER_WRITER)
        .map(|k| RefSample {
            series_ref: series_ref(w, k),
            t_ms: id as i64,
            value: f64::from_bits(value_bits(id, k)),
        })
        .collect()
}

/// Checks one replayed sample against the workload: returns the expected
/// value bits if the sample is well-formed.
pub fn expected_bits(r: SeriesRef, t_ms: i64) -> Option<u64> {
    let id = u64::try_from(t_ms).ok()?;
    let w = writer_of(id);
    let k = r.0.checked_sub(w * SERIES_PER_WRITER + 1)?;
    (k < SERIES_PER_WRITER).then(|| value_bits(id, k))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_samples_are_self_describing() {
        let id = commit_id(3, 2, 77);
        assert_eq!(writer_of(id), 2);
        let s = commit_samples(id);
        assert_eq!(s.len() as u64, SERIES_PER_WRITER);
        for x in &s {
            assert_eq!(expected_bits(x.series_ref, x.t_ms), Some(x.value.to_bits()));
        }
        assert_eq!(expected_bits(SeriesRef(0), id as i64), None);
        assert!(commit_id(4, 0, 0) > commit_id(3, 255, 0xff_ffff));
    }
}

/// Running a child process and killing it.
pub mod harness {
    use std::io::{BufRead, BufReader, Read};
    use std::path::Path;
    use std::process::{Command, Stdio};
    use std::sync::mpsc;
    use std::time::Duration;

    /// What one run of a child said before it died.
    #[derive(Debug, Default)]
    pub struct Run {
        /// The `ready ...` line, if the child got that far.
        pub ready: Option<String>,
        /// Ids of commits the child reported as returned.
        pub committed: Vec<u64>,
    }

    /// A small deterministic generator (xorshift64*), seeded per test run so
    /// a failure can be replayed with `PROMETHIUM_CRASH_SEED`.
    pub struct Rng(u64);

    impl Rng {
        /// Seeds from `PROMETHIUM_CRASH_SEED`, else from the clock; prints
        /// the seed so a failing run can be repeated.
        pub fn from_env() -> Rng {
            let seed = std::env::var("PROMETHIUM_CRASH_SEED")
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or_else(|| {
                    std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(1, |d| d.as_nanos() as u64)
                });
            eprintln!("crash test seed: PROMETHIUM_CRASH_SEED={seed}");
            Rng(seed | 1)
        }

        /// A number in `lo..hi`.
        pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            lo + self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % (hi - lo)
        }
    }

    /// Starts `exe args`, waits for its `ready` line when `wait_ready`
    /// (panicking if it does not come: the process failed to start), lets
    /// it run for `run_for`, kills it with SIGKILL and collects what it
    /// reported. Panics if the child exited by itself.
    pub fn run_and_kill(exe: &Path, args: &[String], wait_ready: bool, run_for: Duration) -> Run {
        let mut child = Command::new(exe)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", exe.display()));
        let stdout = child.stdout.take().expect("piped");
        let mut stderr = child.stderr.take().expect("piped");
        let (tx, rx) = mpsc::channel::<String>();
        let reader = std::thread::spawn(move || {
            let mut r = BufReader::new(stdout);
            let mut line = String::new();
            while r.read_line(&mut line).map(|n| n > 0).unwrap_or(false) {
                // Only whole lines: a line cut by the kill was never reported.
                if line.ends_with('\n') && tx.send(line.trim_end().to_owned()).is_err() {
                    break;
                }
                line.clear();
            }
        });
        let err_reader = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = stderr.read_to_string(&mut s);
            s
        });

        let mut run = Run::default();
        if wait_ready {
            match rx.recv_timeout(Duration::from_secs(30)) {
                Ok(l) if l.starts_with("ready") => run.ready = Some(l),
                other => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!(
                        "child did not start: {other:?}; stderr: {}",
                        err_reader.join().unwrap_or_default()
                    );
                }
            }
        }
        std::thread::sleep(run_for);
        let exited_early = child.try_wait().ok().flatten();
        let _ = child.kill();
        let status = child.wait().expect("wait for killed child");
        reader.join().expect("stdout reader");
        let stderr = err_reader.join().unwrap_or_default();
        if let Some(st) = exited_early {
            panic!("child exited by itself ({st}) instead of being killed; stderr: {stderr}");
        }
        #[cfg(unix)]
        {
            use std::os::unix::process::ExitStatusExt;
            assert_eq!(status.signal(), Some(9), "child was killed by SIGKILL; stderr: {stderr}");
        }
        for line in rx.try_iter() {
            if line.starts_with("ready") {
                run.ready = Some(line);
            } else {
                run.committed
                    .push(line.parse().unwrap_or_else(|_| panic!("bad line from child: {line:?}")));
            }
        }
        run
    }

    /// Copies the files of `from` into a fresh `to`, so the parent can
    /// check a crashed directory without repairing the original (the next
    /// child must face the raw state a crash left).
    pub fn copy_dir(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).expect("create copy dir");
        for e in std::fs::read_dir(from).expect("read dir") {
            let e = e.expect("dir entry");
            let p = e.path();
            if e.file_type().expect("file type").is_dir() {
                copy_dir(&p, &to.join(e.file_name()));
            } else {
                std::fs::copy(&p, to.join(e.file_name())).expect("copy file");
            }
        }
    }

    /// Runs `child` for `rounds + 1` rounds, killing it with SIGKILL at
    /// random moments (one round in four during start-up; the last round
    /// always starts), and after every kill asserts that `read` (which
    /// opens a copy of `dir` in `scratch` and returns `(series ref, t) ->
    /// value bits`) holds every sample of every acknowledged commit.
    pub fn kill_and_check_rounds(
        child: &Path,
        dir: &Path,
        scratch: &Path,
        rounds: u32,
        writers: u8,
        read: impl Fn(&Path, &Path) -> std::collections::HashMap<(u64, i64), u64>,
    ) {
        let mut rng = Rng::from_env();
        let mut acknowledged: Vec<u64> = Vec::new();
        let mut started = 0;
        for round in 0..=rounds {
            let during_startup = round < rounds && rng.range(0, 4) == 0;
            let run_for = Duration::from_millis(if during_startup {
                rng.range(0, 15)
            } else {
                rng.range(5, 120)
            });
            let args = vec![dir.display().to_string(), round.to_string(), writers.to_string()];
            let run = run_and_kill(child, &args, !during_startup, run_for);
            if run.ready.is_some() {
                started += 1;
            }
            acknowledged.extend(&run.committed);

            let got = read(dir, scratch);
            for &id in &acknowledged {
                for s in super::commit_samples(id) {
                    assert_eq!(
                        got.get(&(s.series_ref.0, s.t_ms)),
                        Some(&s.value.to_bits()),
                        "round {round}: acknowledged commit {id:#x} lost or changed ({s:?})"
                    );
                }
            }
        }
        eprintln!("{started} starts, {} acknowledged commits checked", acknowledged.len());
        assert!(started > rounds / 2, "too few rounds got past start-up to mean anything");
        assert!(
            acknowledged.len() > 100,
            "too few commits acknowledged ({}) to mean anything",
            acknowledged.len()
        );
    }
}
