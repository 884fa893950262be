//! Retention: which whole blocks are past the time or size limit.
//!
//! As in Prometheus, time retention keeps blocks that end within
//! `retention` of the newest block's end; size retention counts block
//! bytes from the newest block backwards and drops every block from the
//! first one that no longer fits. Deletion is always of whole blocks,
//! oldest first.

/// Retention limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Keep blocks ending within this many milliseconds of the newest
    /// block's end (`--storage.tsdb.retention.time`, default 15 d).
    pub time_ms: Option<i64>,
    /// Keep at most this many bytes of blocks
    /// (`--storage.tsdb.retention.size`, default unlimited).
    pub size_bytes: Option<u64>,
}

impl Default for Retention {
    fn default() -> Self {
        Retention { time_ms: Some(15 * 24 * 3600 * 1000), size_bytes: None }
    }
}

/// Indices of blocks to delete, given `(min_t, max_t, bytes)` per block
/// sorted by min time.
pub fn blocks_beyond(blocks: &[(i64, i64, u64)], r: &Retention) -> Vec<usize> {
    let Some(newest_end) = blocks.iter().map(|b| b.1).max() else { return Vec::new() };
    let mut doomed = vec![false; blocks.len()];
    if let Some(t) = r.time_ms {
        for (k, b) in blocks.iter().enumerate() {
            doomed[k] |= newest_end - b.1 >= t;
        }
    }
    if let Some(limit) = r.size_bytes {
        let mut total = 0u64;
        let mut over = false;
        for k in (0..blocks.len()).rev() {
            total += blocks[k].2;
            over |= total > limit;
            doomed[k] |= over;
        }
    }
    (0..blocks.len()).filter(|&k| doomed[k]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_and_size_limits_drop_oldest_blocks() {
        let b = [(0, 10, 100), (10, 20, 100), (20, 30, 100)];
        let r = |t, s| Retention { time_ms: t, size_bytes: s };
        assert_eq!(blocks_beyond(&b, &r(Some(15), None)), vec![0]);
        assert_eq!(blocks_beyond(&b, &r(Some(100), None)), Vec::<usize>::new());
        assert_eq!(blocks_beyond(&b, &r(None, Some(250))), vec![0]);
        assert_eq!(blocks_beyond(&b, &r(None, Some(50))), vec![0, 1, 2]);
        assert_eq!(blocks_beyond(&b, &r(Some(5), Some(1000))), vec![0, 1]);
    }
}
