//! Blocks through the `Db`: several simulated days cut into blocks,
//! compacted, restarted, deleted from, snapshotted and retained, always
//! compared with the in-memory reference model.

use promethium_engine::block::{self, Block};
use promethium_engine::db::{Db, DbOptions};
use promethium_engine::head::HeadOptions;
use promethium_engine::model::{Labels, MatchType, Matcher, STALE_NAN_BITS, Sample, SeriesRef};
use promethium_engine::retention::Retention;
use promethium_engine::wal::WalOptions;
use promethium_engine::{AppendError, Appendable, MemStorage, Queryable};

const HOUR: i64 = 3_600_000;
const RANGE: i64 = 2 * HOUR;
const STEP: i64 = 60_000;
const START: i64 = 1_700_000_000_000 - 1_700_000_000_000 % RANGE;

type Dump = Vec<(Labels, Vec<(i64, u64)>)>;

fn opts(retention: Retention) -> DbOptions {
    DbOptions {
        wal: Some(WalOptions { segment_size_bytes: 256 << 10, ..WalOptions::default() }),
        head: HeadOptions {
            chunk_range_ms: RANGE,
            chunk_segment_bytes: 1 << 20,
            ..HeadOptions::default()
        },
        retention,
        compaction_interval: None,
    }
}

fn no_retention() -> Retention {
    Retention { time_ms: None, size_bytes: None }
}

fn series() -> Vec<Labels> {
    let mut v = Vec::new();
    for inst in 0..4 {
        let inst = format!("host{inst}:9100");
        for cpu in 0..4 {
            for mode in ["idle", "user", "system"] {
                v.push(Labels::new([
                    ("__name__", "node_cpu_seconds_total"),
                    ("cpu", &cpu.to_string()),
                    ("instance", &inst),
                    ("job", "node"),
                    ("mode", mode),
                ]));
            }
        }
        for name in ["node_load1", "node_memory_MemFree_bytes", "up"] {
            v.push(Labels::new([("__name__", name), ("instance", &inst), ("job", "node")]));
        }
    }
    v
}

/// A node_exporter-like value: counters in hundredths, gauges with
/// decimals, the odd stale marker, and a series that stops half way.
fn value(i: usize, step: i64) -> Option<f64> {
    if i == 5 && step > 1500 {
        return None;
    }
    Some(match i % 15 {
        12 => ((step * 7 + i as i64) % 400) as f64 / 100.0,
        13 => (8_000_000_000 - (step * 4096 * (i as i64 + 1)) % 1_000_000_000) as f64,
        14 if step % 333 == 0 => f64::from_bits(STALE_NAN_BITS),
        14 => 1.0,
        _ => (step * (i as i64 % 7 + 1) * 37) as f64 / 100.0,
    })
}

fn select(q: &dyn Queryable, min: i64, max: i64, m: &[Matcher]) -> Dump {
    let querier = q.querier(min, max).unwrap();
    let set = querier.select(m, None).unwrap();
    set.iter()
        .map(|s| {
            let mut it = s.iter();
            let samples =
                std::iter::from_fn(|| it.next()).map(|x: Sample| (x.t_ms, x.value.to_bits()));
            (s.labels().clone(), samples.collect())
        })
        .collect()
}

fn matchers() -> Vec<Vec<Matcher>> {
    let m = |k, n: &str, v: &str| Matcher::new(k, n, v).unwrap();
    vec![
        vec![m(MatchType::Equal, "job", "node")],
        vec![
            m(MatchType::Equal, "__name__", "node_cpu_seconds_total"),
            m(MatchType::Regex, "mode", "idle|user"),
        ],
        vec![m(MatchType::NotEqual, "cpu", ""), m(MatchType::NotRegex, "instance", "host[01].*")],
        vec![m(MatchType::Equal, "mode", ""), m(MatchType::Regex, "job", ".+")],
        vec![m(MatchType::Equal, "job", "nope")],
    ]
}

fn assert_same(db: &Db, model: &MemStorage, end: i64, what: &str) {
    let ranges = [
        (i64::MIN, i64::MAX),
        (START + 3 * HOUR + 17, START + 9 * HOUR),
        (START + RANGE - 1, START + RANGE),
        (end - HOUR, end),
        (START + 30 * HOUR, START + 31 * HOUR - 1),
    ];
    for (min, max) in ranges {
        for m in matchers() {
            let got = select(db, min, max, &m);
            let want = select(model, min, max, &m);
            assert_eq!(got.len(), want.len(), "{what}: series for {m:?} in [{min}, {max}]");
            assert!(got == want, "{what}: samples differ for {m:?} in [{min}, {max}]");
        }
        let (dq, mq) = (db.querier(min, max).unwrap(), model.querier(min, max).unwrap());
        assert_eq!(
            dq.label_values("instance", &[]).unwrap(),
            mq.label_values("instance", &[]).unwrap()
        );
        assert_eq!(
            dq.label_names(&matchers()[1]).unwrap(),
            mq.label_names(&matchers()[1]).unwrap()
        );
    }
}

/// Appends `steps` rounds starting at round `from` to both stores,
/// cutting the head after every simulated hour.
fn ingest(db: &Db, model: &MemStorage, labels: &[Labels], from: i64, steps: i64) -> i64 {
    let mut refs: Vec<Option<SeriesRef>> = vec![None; labels.len()];
    let mut end = 0;
    for step in from..from + steps {
        let t = START + step * STEP + (step * 13 % 7);
        let (mut a, mut b) = (db.appender(), model.appender());
        for (i, l) in labels.iter().enumerate() {
            if let Some(v) = value(i, step) {
                refs[i] = Some(a.append(refs[i], l, t, v).unwrap());
                b.append(None, l, t, v).unwrap();
            }
        }
        a.commit().unwrap();
        b.commit().unwrap();
        end = t;
        if step % 60 == 59 {
            db.cut_head().unwrap();
        }
    }
    end
}

#[test]
fn days_of_data_survive_cutting_restart_and_compaction() {
    let dir = tempfile::tempdir().unwrap();
    let labels = series();
    let model = MemStorage::new();
    let db = Db::open(dir.path(), opts(no_retention())).unwrap();
    // Three simulated days at one sample a minute.
    let end = ingest(&db, &model, &labels, 0, 3 * 24 * 60);
    let blocks = db.block_stats();
    assert!(blocks.len() >= 30, "head cut into 2 h blocks: {}", blocks.len());
    assert!(blocks.iter().all(|b| b.level == 1 && b.max_t_ms - b.min_t_ms <= RANGE));
    let head = db.head_stats();
    assert!(head.max_t_ms.unwrap() - head.min_t_ms.unwrap() <= RANGE * 3 / 2, "{head:?}");
    assert!(db.compaction_stats().checkpoints_total > 0);
    // Samples older than the newest block are refused.
    let mut app = db.appender();
    assert!(matches!(app.append(None, &labels[0], START, 1.0), Err(AppendError::OutOfBounds)));
    app.rollback();
    assert_same(&db, &model, end, "after cutting");

    db.close().unwrap();
    drop(db);
    let db = Db::open(dir.path(), opts(no_retention())).unwrap();
    assert_eq!(db.replay_report().samples_in_blocks, 0, "the WAL was truncated behind the blocks");
    assert_same(&db, &model, end, "after restart");

    db.compact_blocks().unwrap();
    let after = db.block_stats();
    assert!(after.len() < blocks.len() / 4, "{} blocks left of {}", after.len(), blocks.len());
    assert!(after.iter().any(|b| b.level >= 3));
    assert!(db.compaction_stats().compactions_total > 0);
    assert_same(&db, &model, end, "after compaction");
    let on_disk: u64 = after.iter().map(|b| b.bytes).sum();
    let samples: u64 = after.iter().map(|b| b.num_samples).sum();
    eprintln!("{samples} samples in blocks, {:.3} bytes/sample", on_disk as f64 / samples as f64);

    // More data after the restart and compaction, then another restart.
    let end = ingest(&db, &model, &labels, 3 * 24 * 60, 300);
    db.close().unwrap();
    drop(db);
    let db = Db::open(dir.path(), opts(no_retention())).unwrap();
    assert_same(&db, &model, end, "after the second restart");
    for b in db.block_stats() {
        Block::open(&dir.path().join(&b.ulid)).unwrap().verify().unwrap();
    }
}

#[test]
fn start_up_removes_unfinished_and_superseded_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let labels = series();
    let model = MemStorage::new();
    let db = Db::open(dir.path(), opts(no_retention())).unwrap();
    let end = ingest(&db, &model, &labels, 0, 10 * 60);
    let before = db.block_stats();
    assert!(before.len() >= 3);
    db.close().unwrap();
    drop(db);
    // A block write cut short, and a deletion cut short.
    std::fs::create_dir_all(dir.path().join("01JUNKJUNKJUNKJUNKJUNKJUNK.tmp/chunks")).unwrap();
    std::fs::create_dir_all(dir.path().join("01JUNKJUNKJUNKJUNKJUNKJUNJ.deleted")).unwrap();
    // A compaction that finished writing but not deleting its inputs.
    let blocks: Vec<std::sync::Arc<Block>> = before
        .iter()
        .take(2)
        .map(|b| std::sync::Arc::new(Block::open(&dir.path().join(&b.ulid)).unwrap()))
        .collect();
    promethium_engine::compact::merge_blocks(dir.path(), &blocks).unwrap();
    drop(blocks);
    let db = Db::open(dir.path(), opts(no_retention())).unwrap();
    assert!(!dir.path().join("01JUNKJUNKJUNKJUNKJUNKJUNK.tmp").exists());
    assert!(!dir.path().join("01JUNKJUNKJUNKJUNKJUNKJUNJ.deleted").exists());
    assert_eq!(db.block_stats().len(), before.len() - 1);
    assert_same(&db, &model, end, "after repair");
}

#[test]
fn deletion_hides_samples_at_once_and_clean_tombstones_rewrites() {
    let dir = tempfile::tempdir().unwrap();
    let labels = series();
    let model = MemStorage::new();
    let db = Db::open(dir.path(), opts(no_retention())).unwrap();
    let end = ingest(&db, &model, &labels, 0, 8 * 60);
    let victim = [Matcher::equal("mode", "idle"), Matcher::equal("cpu", "1")];
    let (from, to) = (START + HOUR, end - 10 * STEP);
    db.delete_series(&victim, from, to).unwrap();
    let expected = |d: Dump| -> Dump {
        d.into_iter()
            .map(|(l, s)| {
                let hit = victim.iter().all(|m| m.matches_labels(&l));
                (l, s.into_iter().filter(|x| !hit || x.0 < from || x.0 > to).collect())
            })
            .filter(|(_, s): &(Labels, Vec<(i64, u64)>)| !s.is_empty())
            .collect()
    };
    let all = [Matcher::equal("job", "node")];
    let want = expected(select(&model, i64::MIN, i64::MAX, &all));
    assert_eq!(select(&db, i64::MIN, i64::MAX, &all), want);
    db.close().unwrap();
    drop(db);
    let db = Db::open(dir.path(), opts(no_retention())).unwrap();
    assert_eq!(select(&db, i64::MIN, i64::MAX, &all), want, "tombstones survive a restart");
    db.clean_tombstones().unwrap();
    assert_eq!(select(&db, i64::MIN, i64::MAX, &all), want, "after rewriting");
    for b in db.block_stats() {
        assert!(Block::open(&dir.path().join(&b.ulid)).unwrap().tombstones().is_empty());
    }
    assert!(db.delete_series(&[], 0, 1).is_err());
}

#[test]
fn retention_deletes_oldest_blocks_and_snapshots_hold_everything() {
    let dir = tempfile::tempdir().unwrap();
    let labels = series();
    let model = MemStorage::new();
    let db = Db::open(dir.path(), opts(no_retention())).unwrap();
    let end = ingest(&db, &model, &labels, 0, 12 * 60);
    let name = db.snapshot(false).unwrap();
    let snap = dir.path().join(block_dirs_parent()).join(&name);
    let all = [Matcher::equal("job", "node")];
    let everything = select(&db, i64::MIN, i64::MAX, &all);
    db.close().unwrap();
    drop(db);

    // The snapshot opens as a database of its own (blocks only, no WAL).
    let snap_db = Db::open(&snap, opts(no_retention())).unwrap();
    assert_eq!(select(&snap_db, i64::MIN, i64::MAX, &all), everything);
    drop(snap_db);

    let keep = Retention { time_ms: Some(4 * HOUR), size_bytes: None };
    let db = Db::open(dir.path(), opts(keep)).unwrap();
    db.apply_retention().unwrap();
    let left = db.block_stats();
    let newest = left.iter().map(|b| b.max_t_ms).max().unwrap();
    assert!(left.iter().all(|b| newest - b.max_t_ms < 4 * HOUR), "{left:?}");
    assert!(db.compaction_stats().retention_deletions > 0);
    let oldest = left[0].min_t_ms;
    assert_same_from(&db, &model, oldest, end);

    let bytes: u64 = left.iter().map(|b| b.bytes).sum();
    let small = Retention { time_ms: None, size_bytes: Some(bytes / 2) };
    drop(db);
    let db = Db::open(dir.path(), opts(small)).unwrap();
    db.apply_retention().unwrap();
    let now: u64 = db.block_stats().iter().map(|b| b.bytes).sum();
    assert!(now <= bytes / 2 && !db.block_stats().is_empty(), "{now} of {bytes}");
}

fn block_dirs_parent() -> &'static str {
    promethium_engine::db::SNAPSHOTS_DIR
}

/// Everything from `min` on is still there.
fn assert_same_from(db: &Db, model: &MemStorage, min: i64, end: i64) {
    let all = [Matcher::equal("job", "node")];
    assert_eq!(select(db, min, end, &all), select(model, min, end, &all));
    assert!(block::is_ulid("01ARZ3NDEKTSV4RRFFQ69G5FAV"));
}
