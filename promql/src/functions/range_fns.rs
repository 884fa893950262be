//! Kernels of the range-vector functions: each takes the samples of one
//! series inside one window and returns the output value, if any.
//!
//! They work on float samples only, in increasing time order, with
//! staleness markers already removed (Prometheus drops them from range
//! windows too).

use promethium_engine::model::Sample;

use super::stats::{kahan_inc, quantile};

/// Where a window sits: `(start_ms, end_ms]`, and the step it belongs to.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Window {
    /// Exclusive lower bound.
    pub(crate) start_ms: i64,
    /// Inclusive upper bound.
    pub(crate) end_ms: i64,
    /// The evaluation timestamp of the step.
    pub(crate) step_ms: i64,
    /// The selector's range.
    pub(crate) range_ms: i64,
}

/// `rate`, `increase` and `delta`: the change over the window, corrected
/// for counter resets and extrapolated towards the window's edges (at most
/// half an average sample interval beyond the outermost samples, and never
/// below a counter's zero point).
pub(crate) fn extrapolated_rate(
    samples: &[Sample],
    w: &Window,
    is_counter: bool,
    is_rate: bool,
) -> Option<f64> {
    if samples.len() < 2 {
        return None;
    }
    let first = samples[0];
    let last = samples[samples.len() - 1];
    let mut result = last.value - first.value;
    if is_counter {
        for pair in samples.windows(2) {
            if pair[1].value < pair[0].value {
                result += pair[0].value;
            }
        }
    }
    let mut duration_to_start = (first.t_ms - w.start_ms) as f64 / 1000.0;
    let mut duration_to_end = (w.end_ms - last.t_ms) as f64 / 1000.0;
    let sampled_interval = (last.t_ms - first.t_ms) as f64 / 1000.0;
    let average = sampled_interval / (samples.len() - 1) as f64;
    let threshold = average * 1.1;
    if duration_to_start >= threshold {
        duration_to_start = average / 2.0;
    }
    if is_counter && result > 0.0 && first.value >= 0.0 {
        let duration_to_zero = sampled_interval * (first.value / result);
        if duration_to_zero < duration_to_start {
            duration_to_start = duration_to_zero;
        }
    }
    if duration_to_end >= threshold {
        duration_to_end = average / 2.0;
    }
    let mut factor = if sampled_interval != 0.0 {
        (sampled_interval + duration_to_start + duration_to_end) / sampled_interval
    } else {
        1.0
    };
    if is_rate {
        factor /= w.range_ms as f64 / 1000.0;
    }
    Some(result * factor)
}

/// `irate` and `idelta`: from the last two samples.
pub(crate) fn instant_value(samples: &[Sample], is_rate: bool) -> Option<f64> {
    if samples.len() < 2 {
        return None;
    }
    let prev = samples[samples.len() - 2];
    let last = samples[samples.len() - 1];
    let interval_ms = last.t_ms - prev.t_ms;
    if interval_ms == 0 {
        return None;
    }
    let mut result =
        if is_rate && last.value < prev.value { last.value } else { last.value - prev.value };
    if is_rate {
        result /= interval_ms as f64 / 1000.0;
    }
    Some(result)
}

/// `avg_over_time`: Kahan-compensated direct mean, switching to an
/// incremental mean if the running sum would overflow.
pub(crate) fn avg_over_time(samples: &[Sample]) -> Option<f64> {
    let (first, rest) = samples.split_first()?;
    let (mut sum, mut count) = (first.value, 1.0);
    let (mut mean, mut c) = (0.0, 0.0);
    let mut incremental = false;
    for (i, s) in rest.iter().enumerate() {
        count = (i + 2) as f64;
        if !incremental {
            let (ns, nc) = kahan_inc(s.value, sum, c);
            if !ns.is_infinite() {
                sum = ns;
                c = nc;
                continue;
            }
            incremental = true;
            mean = sum / (count - 1.0);
            c /= count - 1.0;
        }
        let q = (count - 1.0) / count;
        let (m, nc) = kahan_inc(s.value / count, q * mean, q * c);
        mean = m;
        c = nc;
    }
    Some(if incremental { mean + c } else { sum / count + c / count })
}

/// `sum_over_time` with Kahan summation.
pub(crate) fn sum_over_time(samples: &[Sample]) -> Option<f64> {
    if samples.is_empty() {
        return None;
    }
    let (mut sum, mut c) = (0.0, 0.0);
    for s in samples {
        (sum, c) = kahan_inc(s.value, sum, c);
    }
    Some(if sum.is_infinite() { sum } else { sum + c })
}

/// `min_over_time`/`max_over_time` and their `ts_of_` variants. `better`
/// says whether a value replaces the current pick; NaN is always replaced.
pub(crate) fn compare_over_time(
    samples: &[Sample],
    better: fn(f64, f64) -> bool,
    timestamp: bool,
) -> Option<f64> {
    let first = samples.first()?;
    let (mut best, mut best_t) = (first.value, first.t_ms);
    for s in samples {
        if better(s.value, best) || best.is_nan() {
            best = s.value;
            best_t = s.t_ms;
        }
    }
    Some(if timestamp { best_t as f64 / 1000.0 } else { best })
}

/// `stdvar_over_time` (and `stddev_over_time` via a square root).
pub(crate) fn variance_over_time(samples: &[Sample]) -> Option<f64> {
    if samples.is_empty() {
        return None;
    }
    let (mut count, mut mean, mut c_mean, mut aux, mut c_aux) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for s in samples {
        count += 1.0;
        let delta = s.value - (mean + c_mean);
        (mean, c_mean) = kahan_inc(delta / count, mean, c_mean);
        (aux, c_aux) = kahan_inc(delta * (s.value - (mean + c_mean)), aux, c_aux);
    }
    Some((aux + c_aux) / count)
}

/// `quantile_over_time`.
pub(crate) fn quantile_over_time(samples: &[Sample], q: f64) -> Option<f64> {
    if samples.is_empty() {
        return None;
    }
    let mut values: Vec<f64> = samples.iter().map(|s| s.value).collect();
    Some(quantile(q, &mut values))
}

/// `mad_over_time`: the median absolute deviation.
pub(crate) fn mad_over_time(samples: &[Sample]) -> Option<f64> {
    if samples.is_empty() {
        return None;
    }
    if samples.iter().any(|s| s.value.is_nan()) {
        return Some(f64::NAN);
    }
    let mut values: Vec<f64> = samples.iter().map(|s| s.value).collect();
    let median = quantile(0.5, &mut values);
    values.iter_mut().for_each(|v| *v = (*v - median).abs());
    Some(quantile(0.5, &mut values))
}

/// Least-squares fit of the samples; returns `(slope, intercept at intercept_t)`.
pub(crate) fn linear_regression(samples: &[Sample], intercept_ms: i64) -> (f64, f64) {
    let init_y = samples[0].value;
    let mut const_y = true;
    let (mut n, mut sx, mut cx, mut sy, mut cy, mut sxy, mut cxy, mut sx2, mut cx2) =
        (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    for (i, s) in samples.iter().enumerate() {
        if const_y && i > 0 && s.value != init_y {
            const_y = false;
        }
        n += 1.0;
        let x = (s.t_ms - intercept_ms) as f64 / 1e3;
        (sx, cx) = kahan_inc(x, sx, cx);
        (sy, cy) = kahan_inc(s.value, sy, cy);
        (sxy, cxy) = kahan_inc(x * s.value, sxy, cxy);
        (sx2, cx2) = kahan_inc(x * x, sx2, cx2);
    }
    if const_y {
        if init_y.is_infinite() {
            return (f64::NAN, f64::NAN);
        }
        return (0.0, init_y);
    }
    let (sx, sy, sxy, sx2) = (sx + cx, sy + cy, sxy + cxy, sx2 + cx2);
    let cov_xy = sxy - sx * sy / n;
    let var_x = sx2 - sx * sx / n;
    let slope = cov_xy / var_x;
    let intercept = sy / n - slope * sx / n;
    (slope, intercept)
}

/// `deriv`: the regression slope per second.
pub(crate) fn deriv(samples: &[Sample]) -> Option<f64> {
    if samples.len() < 2 {
        return None;
    }
    Some(linear_regression(samples, samples[0].t_ms).0)
}

/// `predict_linear`: the regression line `seconds` after the step time.
pub(crate) fn predict_linear(samples: &[Sample], step_ms: i64, seconds: f64) -> Option<f64> {
    if samples.len() < 2 {
        return None;
    }
    let (slope, intercept) = linear_regression(samples, step_ms);
    Some(slope * seconds + intercept)
}

/// `resets`: how often a value is lower than the one before.
pub(crate) fn resets(samples: &[Sample]) -> Option<f64> {
    if samples.is_empty() {
        return None;
    }
    Some(samples.windows(2).filter(|p| p[1].value < p[0].value).count() as f64)
}

/// `changes`: how often the value differs from the one before (NaN to NaN is no change).
pub(crate) fn changes(samples: &[Sample]) -> Option<f64> {
    if samples.is_empty() {
        return None;
    }
    Some(
        samples
            .windows(2)
            .filter(|p| p[1].value != p[0].value && !(p[1].value.is_nan() && p[0].value.is_nan()))
            .count() as f64,
    )
}

/// `double_exponential_smoothing` (formerly `holt_winters`) with smoothing
/// factor `sf` and trend factor `tf`, both in (0, 1) (checked by the caller).
pub(crate) fn double_exponential_smoothing(samples: &[Sample], sf: f64, tf: f64) -> Option<f64> {
    if samples.len() < 2 {
        return None;
    }
    let trend = |i: usize, s0: f64, s1: f64, b: f64| {
        if i == 0 { b } else { tf * (s1 - s0) + (1.0 - tf) * b }
    };
    let mut s0 = 0.0;
    let mut s1 = samples[0].value;
    let mut b = samples[1].value - samples[0].value;
    for (i, s) in samples.iter().enumerate().skip(1) {
        let x = sf * s.value;
        b = trend(i - 1, s0, s1, b);
        let y = (1.0 - sf) * (s1 + b);
        s0 = s1;
        s1 = x + y;
    }
    Some(s1)
}

/// Linear interpolation between two samples at `t`; for counters a drop
/// between them is a reset, so the line starts from zero.
pub(crate) fn interpolate(p1: Sample, p2: Sample, t: i64, is_counter: bool) -> f64 {
    let y1 = if is_counter && p2.value < p1.value { 0.0 } else { p1.value };
    y1 + (p2.value - y1) * (t - p1.t_ms) as f64 / (p2.t_ms - p1.t_ms) as f64
}

/// Index of the first sample with `pred` true among the first `n`, else `n`
/// (Go's `sort.Search`).
fn search(samples: &[Sample], n: usize, pred: impl Fn(&Sample) -> bool) -> usize {
    samples[..n].partition_point(|s| !pred(s))
}

/// `rate`/`increase`/`delta` over an `anchored` or `smoothed` window.
/// `samples` reach one lookback delta before the window (and after it when
/// smoothed). The value at the window start is the last sample at or before
/// it (anchored) or interpolated there (smoothed); likewise at the end. No
/// extrapolation happens.
pub(crate) fn extended_rate(
    samples: &[Sample],
    w: &Window,
    smoothed: bool,
    is_counter: bool,
    is_rate: bool,
) -> Option<f64> {
    if samples.is_empty() {
        return None;
    }
    let mut last = samples.len() - 1;
    let mut first = search(samples, last, |s| s.t_ms > w.start_ms).saturating_sub(1);
    if smoothed {
        last = search(samples, last, |s| s.t_ms >= w.end_ms);
    }
    if samples[last].t_ms <= w.start_ms {
        return None;
    }
    if smoothed && samples[first].t_ms > w.end_ms {
        return None;
    }
    let left = if smoothed && samples[first].t_ms < w.start_ms {
        interpolate(samples[first], samples[first + 1], w.start_ms, is_counter)
    } else {
        samples[first].value
    };
    let right = if smoothed && last > 0 && samples[last].t_ms > w.end_ms {
        interpolate(samples[last - 1], samples[last], w.end_ms, is_counter)
    } else {
        samples[last].value
    };
    let mut result = right - left;
    if is_counter {
        if samples[first].t_ms <= w.start_ms {
            first += 1;
        }
        if samples[last].t_ms >= w.end_ms {
            last = last.wrapping_sub(1);
        }
        let inner =
            if last == usize::MAX || first > last { &[][..] } else { &samples[first..=last] };
        let mut prev = left;
        for p in inner {
            if p.value < prev {
                result += prev;
            }
            prev = p.value;
        }
        if right < prev {
            result += prev;
        }
    }
    if is_rate {
        result /= w.range_ms as f64 / 1000.0;
    }
    Some(result)
}

/// For `changes`/`resets` over an `anchored` window: the samples from the
/// last one at or before the window start (the anchor) on, or `None` when
/// no sample lies inside the window.
pub(crate) fn anchored_samples<'a>(samples: &'a [Sample], w: &Window) -> Option<&'a [Sample]> {
    let after = samples.partition_point(|s| s.t_ms <= w.start_ms);
    if after >= samples.len() {
        return None;
    }
    Some(&samples[after.saturating_sub(1)..])
}

/// A range selector's samples with `anchored`/`smoothed` applied, as an
/// instant query returns them: a point at each window edge (the anchor or
/// the interpolated value) around the samples strictly inside.
pub(crate) fn extend_samples(
    samples: &[Sample],
    mint: i64,
    maxt: i64,
    smoothed: bool,
) -> Vec<Sample> {
    if samples.is_empty() {
        return Vec::new();
    }
    let mut last = samples.len() - 1;
    let mut first = search(samples, last, |s| s.t_ms > mint).saturating_sub(1);
    if smoothed {
        last = search(samples, last, |s| s.t_ms >= maxt);
    }
    if samples[last].t_ms <= mint {
        return Vec::new();
    }
    let left = if smoothed && samples[first].t_ms < mint {
        interpolate(samples[first], samples[first + 1], mint, false)
    } else {
        samples[first].value
    };
    let right = if smoothed && last > 0 && samples[last].t_ms > maxt {
        interpolate(samples[last - 1], samples[last], maxt, false)
    } else {
        samples[last].value
    };
    if samples[first].t_ms <= mint {
        first += 1;
    }
    let end = if samples[last].t_ms >= maxt { last } else { last + 1 };
    let mut out = Vec::with_capacity(end.saturating_sub(first) + 2);
    out.push(Sample::new(mint, left));
    if first < end {
        out.extend_from_slice(&samples[first..end]);
    }
    out.push(Sample::new(maxt, right));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(points: &[(i64, f64)]) -> Vec<Sample> {
        points.iter().map(|&(t, v)| Sample::new(t, v)).collect()
    }

    #[test]
    fn rate_extrapolates_to_window_edges() {
        // Samples every 5m from 45m..50m in a 10m window ending at 50m:
        // (40m, 50m] holds 45m and 50m; extrapolated over the whole 10m.
        let s = series(&[(2_700_000, 90.0), (3_000_000, 100.0)]);
        let w = Window {
            start_ms: 2_400_000,
            end_ms: 3_000_000,
            step_ms: 3_000_000,
            range_ms: 600_000,
        };
        // 10 over 300 s of samples; extrapolated by 300 s towards the start
        // but only as far as the zero point (2700 s back is further), so
        // the increase is 10 * 600 / 300 = 20, i.e. 1/30 per second.
        let r = extrapolated_rate(&s, &w, true, true).unwrap();
        assert!((r - 20.0 / 600.0).abs() < 1e-12, "{r}");
    }

    #[test]
    fn counter_resets_add_the_value_before_the_drop() {
        let s = series(&[(0, 5.0), (10_000, 10.0), (20_000, 2.0), (30_000, 6.0)]);
        let w = Window { start_ms: 0, end_ms: 30_000, step_ms: 30_000, range_ms: 30_000 };
        // Raw increase 1 + reset correction 10 = 11; the samples touch both
        // window edges, so nothing is extrapolated.
        assert_eq!(extrapolated_rate(&s, &w, true, false), Some(11.0));
        assert_eq!(resets(&s), Some(1.0));
        assert_eq!(changes(&s), Some(3.0));
    }

    #[test]
    fn irate_uses_last_two_samples() {
        let s = series(&[(0, 1.0), (10_000, 5.0), (20_000, 25.0)]);
        assert_eq!(instant_value(&s, true), Some(2.0));
        assert_eq!(instant_value(&s, false), Some(20.0));
        let reset = series(&[(0, 10.0), (10_000, 4.0)]);
        assert_eq!(instant_value(&reset, true), Some(0.4));
    }

    #[test]
    fn regression_of_a_line_is_exact() {
        let s = series(&[(0, 1.0), (1_000, 3.0), (2_000, 5.0)]);
        assert_eq!(deriv(&s), Some(2.0));
        assert_eq!(predict_linear(&s, 2_000, 1.0), Some(7.0));
    }

    #[test]
    fn over_time_aggregates() {
        let s = series(&[(0, 1.0), (1, 2.0), (2, 3.0), (3, 4.0)]);
        assert_eq!(avg_over_time(&s), Some(2.5));
        assert_eq!(sum_over_time(&s), Some(10.0));
        assert_eq!(variance_over_time(&s), Some(1.25));
        assert_eq!(quantile_over_time(&s, 0.5), Some(2.5));
        assert_eq!(compare_over_time(&s, |a, b| a > b, false), Some(4.0));
        assert_eq!(mad_over_time(&s), Some(1.0));
    }
}
