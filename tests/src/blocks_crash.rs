//! The workload of the block crash test: a few series, one sample per
//! series per round, timestamps and values a pure function of (series,
//! round), so the parent can check what it reads back.

use std::time::Duration;

use promethium_engine::db::DbOptions;
use promethium_engine::head::HeadOptions;
use promethium_engine::model::Labels;
use promethium_engine::retention::Retention;
use promethium_engine::wal::{SyncPolicy, WalOptions};

/// Series in the workload.
pub const SERIES: u64 = 6;
/// Rounds the child appends when not crashed.
pub const ROUNDS: u64 = 600;
/// Block range: small so the child cuts many blocks.
pub const BLOCK_RANGE_MS: i64 = 10_000;
/// Milliseconds between rounds.
pub const STEP_MS: i64 = 250;
/// Time retention of the `short` mode.
pub const SHORT_RETENTION_MS: i64 = 60_000;

/// The labels of series `k`.
pub fn labels(k: u64) -> Labels {
    Labels::new([("__name__", "crash_block"), ("job", "crash"), ("series", &k.to_string())])
}

/// Sample of series `k` in `round`: `(t, value)`.
pub fn sample(k: u64, round: u64) -> (i64, f64) {
    let t = round as i64 * STEP_MS;
    let v = match k % 3 {
        0 => round as f64,
        1 => (round * 37 % 1000) as f64 / 100.0,
        _ => {
            f64::from_bits(0x4000_0000_0000_0000 ^ round.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 12)
        }
    };
    (t, v)
}

/// The database options child and parent use.
pub fn db_options(short_retention: bool) -> DbOptions {
    DbOptions {
        wal: Some(WalOptions {
            sync: SyncPolicy::EveryCommit,
            segment_size_bytes: 8 << 10,
            ..WalOptions::default()
        }),
        head: HeadOptions {
            chunk_range_ms: BLOCK_RANGE_MS,
            samples_per_chunk: 16,
            chunk_segment_bytes: 64 << 10,
        },
        retention: Retention {
            time_ms: short_retention.then_some(SHORT_RETENTION_MS),
            size_bytes: None,
        },
        compaction_interval: None::<Duration>,
    }
}
