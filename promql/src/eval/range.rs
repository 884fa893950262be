//! Range-vector inputs of functions: windows over a matrix selector's
//! samples or a subquery's points, one per step, found with two cursors
//! that only move forward.

use promethium_engine::model::Sample;

use super::{EvalSeries, Evaluator};
use crate::PromqlError;
use crate::functions::range_fns::Window;
use crate::parser::ast::Expr;

/// The series feeding a range function, with how to place its windows.
pub(crate) struct RangeInput {
    pub(crate) series: Vec<EvalSeries>,
    pub(crate) range_ms: i64,
    pub(crate) offset_ms: i64,
    pub(crate) at_ms: Option<i64>,
    /// How far windows reach before their start (`anchored`, `smoothed`:
    /// one lookback delta, to find the sample to anchor or interpolate at).
    pub(crate) extend_left_ms: i64,
    /// How far windows reach after their end (`smoothed`: one lookback delta).
    pub(crate) extend_right_ms: i64,
}

impl Evaluator<'_, '_> {
    /// Loads the range-vector argument `arg` (a matrix selector or a
    /// subquery, possibly in parentheses) for the whole query.
    pub(crate) fn range_input(&self, arg: &Expr, func: &str) -> Result<RangeInput, PromqlError> {
        match arg.unwrap_parens() {
            Expr::MatrixSelector(ms) => {
                let vs = &ms.vector_selector;
                let offset_ms = self.offset(vs.offset.as_ref())?;
                let range_ms = self.duration(&ms.range, false)?;
                let at_ms = self.at_time(vs.at);
                let (first, last) = match at_ms {
                    Some(a) => (a - offset_ms, a - offset_ms),
                    None => (self.start_ms - offset_ms, self.end_ms - offset_ms),
                };
                let lookback = self.ctx.lookback_ms;
                let (extend_left_ms, extend_right_ms) = match (vs.anchored, vs.smoothed) {
                    (true, _) => (lookback, 0),
                    (_, true) => (lookback, lookback),
                    _ => (0, 0),
                };
                let loaded = self.load_series(
                    vs,
                    first - range_ms - extend_left_ms + 1,
                    last + extend_right_ms,
                    range_ms,
                    Some(func),
                    true,
                )?;
                let series = loaded
                    .into_iter()
                    .map(|s| EvalSeries::new(s.labels, false, s.samples))
                    .collect();
                Ok(RangeInput {
                    series,
                    range_ms,
                    offset_ms,
                    at_ms,
                    extend_left_ms,
                    extend_right_ms,
                })
            }
            Expr::Subquery(sq) => {
                let offset_ms = self.offset(sq.offset.as_ref())?;
                let (series, range_ms) = self.eval_subquery_points(sq)?;
                Ok(RangeInput {
                    series,
                    range_ms,
                    offset_ms,
                    at_ms: self.at_time(sq.at),
                    extend_left_ms: 0,
                    extend_right_ms: 0,
                })
            }
            other => Err(PromqlError::Execution(format!(
                "expected a range vector argument, got {}",
                other.value_type().as_str()
            ))),
        }
    }

    /// Calls `f(series index, step index, window samples, window)` for every
    /// series and step whose window is non-empty, collecting the returned
    /// values as points at the step timestamps.
    pub(crate) fn map_windows(
        &self,
        input: &RangeInput,
        mut f: impl FnMut(usize, usize, &[Sample], &Window) -> Result<Option<f64>, PromqlError>,
    ) -> Result<Vec<Vec<Sample>>, PromqlError> {
        let steps = self.steps();
        let mut out = Vec::with_capacity(input.series.len());
        for (si, series) in input.series.iter().enumerate() {
            if si % 256 == 0 {
                self.ctx.check_deadline("query execution")?;
            }
            let samples = &series.points;
            let mut points = Vec::new();
            let (mut lo, mut hi) = (0usize, 0usize);
            for step in 0..steps {
                if step % 4096 == 4095 {
                    self.ctx.check_deadline("query execution")?;
                }
                let t = self.step_ts(step);
                let end = input.at_ms.unwrap_or(t) - input.offset_ms;
                let start = end - input.range_ms;
                while hi < samples.len() && samples[hi].t_ms <= end + input.extend_right_ms {
                    hi += 1;
                }
                while lo < hi && samples[lo].t_ms <= start - input.extend_left_ms {
                    lo += 1;
                }
                if lo >= hi {
                    continue;
                }
                let window =
                    Window { start_ms: start, end_ms: end, step_ms: t, range_ms: input.range_ms };
                if let Some(v) = f(si, step, &samples[lo..hi], &window)? {
                    points.push(Sample::new(t, v));
                }
            }
            out.push(points);
        }
        Ok(out)
    }

    /// Steps at which `input` has no sample in the window (for `absent_over_time`).
    pub(crate) fn empty_window_steps(&self, input: &RangeInput) -> Vec<bool> {
        let mut present = vec![false; self.steps()];
        for series in &input.series {
            let samples = &series.points;
            let (mut lo, mut hi) = (0usize, 0usize);
            for (step, p) in present.iter_mut().enumerate() {
                let end = input.at_ms.unwrap_or(self.step_ts(step)) - input.offset_ms;
                let start = end - input.range_ms;
                while hi < samples.len() && samples[hi].t_ms <= end {
                    hi += 1;
                }
                while lo < hi && samples[lo].t_ms <= start {
                    lo += 1;
                }
                if lo < hi {
                    *p = true;
                }
            }
        }
        present.into_iter().map(|p| !p).collect()
    }
}

/// The values of a vector per step: `(series index, value)` lists.
pub(crate) fn by_step(ev: &Evaluator<'_, '_>, series: &[EvalSeries]) -> Vec<Vec<(usize, f64)>> {
    let mut steps: Vec<Vec<(usize, f64)>> = vec![Vec::new(); ev.steps()];
    for (si, s) in series.iter().enumerate() {
        for p in &s.points {
            steps[ev.step_index(p.t_ms)].push((si, p.value));
        }
    }
    steps
}
