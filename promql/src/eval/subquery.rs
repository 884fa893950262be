//! Subqueries: the inner expression is evaluated once, as a range query on
//! its own step grid, and its points then serve as a range vector.

use super::{EvalSeries, EvalValue, Evaluator};
use crate::PromqlError;
use crate::parser::ast::SubqueryExpr;

/// The inner evaluation range of a subquery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SubqueryRange {
    pub(crate) start_ms: i64,
    pub(crate) end_ms: i64,
    pub(crate) step_ms: i64,
}

/// The first step is the first multiple of `step` strictly after
/// `start - offset - range` (absolute alignment, as Prometheus does, so the
/// same points are produced whatever the outer step), the last is `end - offset`.
pub(crate) fn subquery_range(
    start_ms: i64,
    end_ms: i64,
    offset_ms: i64,
    range_ms: i64,
    step_ms: i64,
) -> SubqueryRange {
    let lower = super::clamp_time(start_ms.saturating_sub(offset_ms).saturating_sub(range_ms));
    // Division truncates towards zero like Go's, which this formula relies on.
    let mut start = step_ms * (lower / step_ms);
    if start <= lower {
        start += step_ms;
    }
    SubqueryRange {
        start_ms: start,
        end_ms: super::clamp_time(end_ms.saturating_sub(offset_ms)),
        step_ms,
    }
}

impl Evaluator<'_, '_> {
    /// Evaluates the subquery's inner expression; returns its series and the
    /// subquery's range in milliseconds.
    pub(crate) fn eval_subquery_points(
        &self,
        sq: &SubqueryExpr,
    ) -> Result<(Vec<EvalSeries>, i64), PromqlError> {
        let offset = self.offset(sq.offset.as_ref())?;
        let range = self.duration(&sq.range, false)?;
        let step = match &sq.step {
            Some(s) => self.duration(s, false)?,
            None => self.ctx.default_subquery_step_ms,
        };
        if step <= 0 {
            return Err(PromqlError::BadData("subquery step must be greater than 0".into()));
        }
        let (outer_start, outer_end) = match self.at_time(sq.at) {
            Some(a) => (a, a),
            None => (self.start_ms, self.end_ms),
        };
        let r = subquery_range(outer_start, outer_end, offset, range, step);
        if r.end_ms < r.start_ms {
            return Ok((Vec::new(), range));
        }
        // Every step of the inner evaluation can hold a sample: refuse
        // before allocating per-step buffers for an absurd step count.
        if ((r.end_ms - r.start_ms) / r.step_ms) as u64 >= self.ctx.max_samples {
            return Err(PromqlError::TooManySamples("query execution"));
        }
        let inner = Evaluator::new(self.ctx, r.start_ms, r.end_ms, r.step_ms);
        let series = match inner.eval(&sq.expr)? {
            EvalValue::Vector(v) => v,
            EvalValue::Scalar(values) => {
                let points = values
                    .iter()
                    .enumerate()
                    .map(|(i, &v)| promethium_engine::model::Sample::new(inner.step_ts(i), v))
                    .collect();
                vec![EvalSeries::new(promethium_engine::model::Labels::empty(), false, points)]
            }
            _ => {
                return Err(PromqlError::Execution(
                    "subquery is only allowed on instant vector".into(),
                ));
            }
        };
        Ok((series, range))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alignment_is_absolute_and_strictly_after_the_window_start() {
        // Window starts at 10m - 5m = 5m: the first point is the next multiple of 1m after it.
        let r = subquery_range(600_000, 600_000, 0, 300_000, 60_000);
        assert_eq!((r.start_ms, r.end_ms), (360_000, 600_000));
        // Not aligned: 10m7s - 5m = 5m7s, so the first point is at 6m.
        let r = subquery_range(607_000, 607_000, 0, 300_000, 60_000);
        assert_eq!(r.start_ms, 360_000);
        // Negative times truncate like Go.
        let r = subquery_range(0, 0, 0, 150_000, 100_000);
        assert_eq!(r.start_ms, -100_000);
    }
}
