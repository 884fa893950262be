//! Vector and matrix selectors: one select per selector for the whole
//! query range, then cursors over each series' samples.

use promethium_engine::model::{Labels, Sample, is_stale_nan};
use promethium_engine::{SampleIterator, SelectHints};

use super::{EvalSeries, Evaluator};
use crate::PromqlError;
use crate::functions::range_fns;
use crate::parser::ast::{MatrixSelector, VectorSelector};

/// The next sample of `it` with `mint <= t <= maxt`; `None` once past `maxt`.
fn next_in_range(it: &mut dyn SampleIterator, mint: i64, maxt: i64) -> Option<Sample> {
    loop {
        let s = it.next()?;
        if s.t_ms > maxt {
            return None;
        }
        if s.t_ms >= mint {
            return Some(s);
        }
    }
}

/// The samples of one selected series inside the needed time range.
pub(crate) struct LoadedSeries {
    pub(crate) labels: Labels,
    pub(crate) samples: Vec<Sample>,
}

impl Evaluator<'_, '_> {
    /// What a select over `[mint, maxt]` is for.
    fn hints(&self, mint: i64, maxt: i64, range_ms: i64, func: Option<&str>) -> SelectHints {
        SelectHints {
            start_ms: mint,
            end_ms: maxt,
            step_ms: if self.start_ms == self.end_ms { 0 } else { self.interval_ms },
            range_ms,
            func: func.map(str::to_owned),
        }
    }

    /// Selects the series of `vs` and reads their samples with
    /// `mint <= t <= maxt`, dropping staleness markers when `drop_stale`.
    pub(crate) fn load_series(
        &self,
        vs: &VectorSelector,
        mint: i64,
        maxt: i64,
        range_ms: i64,
        func: Option<&str>,
        drop_stale: bool,
    ) -> Result<Vec<LoadedSeries>, PromqlError> {
        let set =
            self.ctx.querier.select(&vs.matchers, Some(&self.hints(mint, maxt, range_ms, func)))?;
        let mut out = Vec::with_capacity(set.len());
        let mut total = 0usize;
        for series in &set {
            let mut it = series.iter();
            it.seek(mint);
            let mut samples = Vec::new();
            while let Some(s) = it.next() {
                if s.t_ms > maxt {
                    break;
                }
                if s.t_ms < mint || (drop_stale && is_stale_nan(s.value)) {
                    continue;
                }
                samples.push(s);
            }
            total += samples.len();
            if !samples.is_empty() {
                out.push(LoadedSeries { labels: series.labels().clone(), samples });
            }
            if out.len().is_multiple_of(256) {
                self.ctx.check_deadline("query execution")?;
            }
        }
        self.ctx.count_loaded(total);
        self.ctx.hold_samples(total)?;
        Ok(out)
    }

    /// An instant vector selector at every step: the newest sample in the
    /// left-open lookback window `(ref - lookback, ref]`, unless it is a
    /// staleness marker. With `timestamps`, the value is the sample's
    /// timestamp in seconds (the `timestamp()` function).
    pub(crate) fn eval_vector_selector(
        &self,
        vs: &VectorSelector,
        timestamps: bool,
    ) -> Result<Vec<EvalSeries>, PromqlError> {
        let offset = self.offset(vs.offset.as_ref())?;
        let at = self.at_time(vs.at);
        let lookback = self.ctx.lookback_ms;
        let (first_ref, last_ref) = match at {
            Some(a) => (a - offset, a - offset),
            None => (self.start_ms - offset, self.end_ms - offset),
        };
        if vs.smoothed {
            return self.eval_smoothed_selector(vs, first_ref, last_ref, offset, at);
        }
        let mint = first_ref - lookback + 1;
        let set =
            self.ctx.querier.select(&vs.matchers, Some(&self.hints(mint, last_ref, 0, None)))?;
        let steps = self.steps();
        let mut out = Vec::with_capacity(set.len());
        let (mut held, mut total) = (0usize, 0usize);
        // Each series is walked once, straight from storage: only the
        // newest sample at or before each step's reference time matters,
        // so no per-series sample buffer is built (an instant query over
        // 80k series would otherwise copy every sample of the lookback
        // window once more).
        for (n, series) in set.iter().enumerate() {
            if n % 256 == 255 {
                self.ctx.check_deadline("query execution")?;
            }
            let mut it = series.iter();
            it.seek(mint);
            let mut pending = next_in_range(it.as_mut(), mint, last_ref);
            let mut newest: Option<Sample> = None;
            let mut points = Vec::new();
            for i in 0..steps {
                let t = self.step_ts(i);
                let reference = at.unwrap_or(t) - offset;
                while let Some(s) = pending.filter(|s| s.t_ms <= reference) {
                    total += 1;
                    newest = Some(s);
                    pending = next_in_range(it.as_mut(), mint, last_ref);
                }
                if let Some(s) = newest
                    && s.t_ms > reference - lookback
                    && !is_stale_nan(s.value)
                {
                    let value = if timestamps { s.t_ms as f64 / 1000.0 } else { s.value };
                    points.push(Sample::new(t, value));
                }
            }
            // Samples after the last reference still count as loaded.
            while pending.is_some() {
                total += 1;
                pending = next_in_range(it.as_mut(), mint, last_ref);
            }
            held += points.len();
            if !points.is_empty() {
                out.push(EvalSeries::new(series.labels().clone(), false, points));
            }
        }
        self.ctx.count_loaded(total);
        self.ctx.hold_samples(total)?;
        self.ctx.hold_samples(held)?;
        Ok(out)
    }

    /// A `smoothed` instant selector: the value at the reference time,
    /// interpolated linearly between the samples around it (within one
    /// lookback delta either side), or the last value when none follows.
    fn eval_smoothed_selector(
        &self,
        vs: &VectorSelector,
        first_ref: i64,
        last_ref: i64,
        offset: i64,
        at: Option<i64>,
    ) -> Result<Vec<EvalSeries>, PromqlError> {
        let lookback = self.ctx.lookback_ms;
        let loaded =
            self.load_series(vs, first_ref - lookback + 1, last_ref + lookback, 0, None, true)?;
        let mut out = Vec::with_capacity(loaded.len());
        for series in loaded {
            let samples = &series.samples;
            let mut points = Vec::new();
            for i in 0..self.steps() {
                let t = self.step_ts(i);
                let reference = at.unwrap_or(t) - offset;
                let lo = samples.partition_point(|s| s.t_ms <= reference - lookback);
                let hi = samples.partition_point(|s| s.t_ms <= reference + lookback);
                let window = &samples[lo..hi];
                let k = window.partition_point(|s| s.t_ms < reference);
                let value = if k < window.len() && window[k].t_ms == reference {
                    window[k].value
                } else if k > 0 && k < window.len() {
                    range_fns::interpolate(window[k - 1], window[k], reference, false)
                } else if k > 0 {
                    window[k - 1].value
                } else {
                    continue;
                };
                points.push(Sample::new(t, value));
            }
            if !points.is_empty() {
                out.push(EvalSeries::new(series.labels, false, points));
            }
        }
        Ok(out)
    }

    /// A range selector as a result value (instant queries only): the raw
    /// samples in `(ref - range, ref]`, staleness markers excluded; with
    /// `anchored`/`smoothed`, bounded by points at the window edges.
    pub(crate) fn eval_matrix_selector_raw(
        &self,
        ms: &MatrixSelector,
    ) -> Result<Vec<EvalSeries>, PromqlError> {
        let vs = &ms.vector_selector;
        let offset = self.offset(vs.offset.as_ref())?;
        let range = self.duration(&ms.range, false)?;
        let reference = self.at_time(vs.at).unwrap_or(self.start_ms) - offset;
        let lookback = self.ctx.lookback_ms;
        let (left, right) = match (vs.anchored, vs.smoothed) {
            (true, _) => (lookback, 0),
            (_, true) => (lookback, lookback),
            _ => (0, 0),
        };
        let loaded = self.load_series(
            vs,
            reference - range - left + 1,
            reference + right,
            range,
            None,
            true,
        )?;
        Ok(loaded
            .into_iter()
            .filter_map(|s| {
                let samples = if vs.anchored || vs.smoothed {
                    range_fns::extend_samples(&s.samples, reference - range, reference, vs.smoothed)
                } else {
                    s.samples
                };
                (!samples.is_empty()).then(|| EvalSeries::new(s.labels, false, samples))
            })
            .collect())
    }
}
