//! PromQL functions: dispatch by name, plus the element-wise and
//! vector-level functions. Range-vector kernels live in [`range_fns`].

pub(crate) mod date;
pub(crate) mod histogram;
mod info;
pub(crate) mod labels;
pub(crate) mod range_fns;
pub(crate) mod stats;

use std::collections::HashMap;

use promethium_engine::model::{Labels, LabelsBuilder, METRIC_NAME, MatchType, Sample};

use crate::PromqlError;
use crate::eval::range::{RangeInput, by_step};
use crate::eval::{EvalSeries, EvalValue, Evaluator, SeriesCollector};
use crate::parser::ast::{Call, Expr};
use date::DatePart;
use histogram::{Bucket, bucket_quantile};
use range_fns::Window;
use stats::go_float;

/// Go's `math.Max`: NaN wins.
pub(crate) fn go_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() { f64::NAN } else { a.max(b) }
}

/// Go's `math.Min`: NaN wins.
pub(crate) fn go_min(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() { f64::NAN } else { a.min(b) }
}

fn math_fn(name: &str) -> Option<fn(f64) -> f64> {
    Some(match name {
        "abs" => f64::abs,
        "ceil" => f64::ceil,
        "floor" => f64::floor,
        "exp" => f64::exp,
        "sqrt" => f64::sqrt,
        "ln" => f64::ln,
        "log2" => f64::log2,
        "log10" => f64::log10,
        "sin" => f64::sin,
        "cos" => f64::cos,
        "tan" => f64::tan,
        "asin" => f64::asin,
        "acos" => f64::acos,
        "atan" => f64::atan,
        "sinh" => f64::sinh,
        "cosh" => f64::cosh,
        "tanh" => f64::tanh,
        "asinh" => f64::asinh,
        "acosh" => f64::acosh,
        "atanh" => f64::atanh,
        "rad" => |v| v * std::f64::consts::PI / 180.0,
        "deg" => |v| v * 180.0 / std::f64::consts::PI,
        "sgn" => |v: f64| {
            if v > 0.0 {
                1.0
            } else if v < 0.0 {
                -1.0
            } else {
                v
            }
        },
        _ => return None,
    })
}

/// Functions taking a range vector, and whether they keep the metric name.
fn is_range_function(name: &str) -> bool {
    matches!(
        name,
        "rate"
            | "increase"
            | "delta"
            | "irate"
            | "idelta"
            | "avg_over_time"
            | "sum_over_time"
            | "count_over_time"
            | "min_over_time"
            | "max_over_time"
            | "stddev_over_time"
            | "stdvar_over_time"
            | "quantile_over_time"
            | "last_over_time"
            | "first_over_time"
            | "mad_over_time"
            | "ts_of_first_over_time"
            | "ts_of_last_over_time"
            | "ts_of_max_over_time"
            | "ts_of_min_over_time"
            | "present_over_time"
            | "deriv"
            | "predict_linear"
            | "resets"
            | "changes"
            | "double_exponential_smoothing"
            | "holt_winters"
    )
}

/// Evaluates a function call.
pub(crate) fn eval_call(ev: &Evaluator<'_, '_>, call: &Call) -> Result<EvalValue, PromqlError> {
    let name = call.func.name;
    let args = &call.args;
    let steps = ev.steps();
    if matches!(name, "sort" | "sort_desc" | "sort_by_label" | "sort_by_label_desc")
        && ev.start_ms != ev.end_ms
    {
        ev.ctx.warn(
            "sort is ineffective for range queries since results are always ordered by labels",
            call.span,
        );
    }
    if is_range_function(name) {
        return eval_range_function(ev, call);
    }
    if let Some(f) = math_fn(name) {
        let series = ev.eval_vector(&args[0])?;
        return Ok(EvalValue::Vector(map_values(series, true, |_, v| Some(f(v)))));
    }
    if let Some(part) = DatePart::from_name(name) {
        if args.is_empty() {
            let points = (0..steps)
                .map(|i| Sample::new(ev.step_ts(i), part.of(ev.step_ts(i).div_euclid(1000))))
                .collect();
            return Ok(EvalValue::Vector(vec![EvalSeries::new(Labels::empty(), false, points)]));
        }
        let series = ev.eval_vector(&args[0])?;
        return Ok(EvalValue::Vector(map_values(series, true, |_, v| Some(part.of(v as i64)))));
    }
    match name {
        "time" => {
            Ok(EvalValue::Scalar((0..steps).map(|i| ev.step_ts(i) as f64 / 1000.0).collect()))
        }
        "pi" => Ok(EvalValue::Scalar(vec![std::f64::consts::PI; steps])),
        "start" => Ok(EvalValue::Scalar(vec![ev.ctx.query_start_ms as f64 / 1000.0; steps])),
        "end" => Ok(EvalValue::Scalar(vec![ev.ctx.query_end_ms as f64 / 1000.0; steps])),
        "range" => Ok(EvalValue::Scalar(vec![
            (ev.ctx.query_end_ms - ev.ctx.query_start_ms) as f64
                / 1000.0;
            steps
        ])),
        "step" => Ok(EvalValue::Scalar(vec![ev.ctx.durations.step_ms as f64 / 1000.0; steps])),
        "max_of" | "min_of" => {
            let a = ev.eval_scalar(&args[0])?;
            let b = ev.eval_scalar(&args[1])?;
            let f = if name == "max_of" { go_max } else { go_min };
            Ok(EvalValue::Scalar(a.iter().zip(&b).map(|(&x, &y)| f(x, y)).collect()))
        }
        "vector" => {
            let values = ev.eval_scalar(&args[0])?;
            let points =
                values.iter().enumerate().map(|(i, &v)| Sample::new(ev.step_ts(i), v)).collect();
            Ok(EvalValue::Vector(vec![EvalSeries::new(Labels::empty(), false, points)]))
        }
        "scalar" => {
            let series = ev.eval_vector(&args[0])?;
            let mut out = vec![f64::NAN; steps];
            let mut seen = vec![0u32; steps];
            for s in &series {
                for p in &s.points {
                    let i = ev.step_index(p.t_ms);
                    seen[i] += 1;
                    out[i] = if seen[i] == 1 { p.value } else { f64::NAN };
                }
            }
            Ok(EvalValue::Scalar(out))
        }
        "timestamp" => {
            if let Expr::VectorSelector(vs) = &args[0] {
                let series = ev.eval_vector_selector(vs, true)?;
                return Ok(EvalValue::Vector(
                    series
                        .into_iter()
                        .map(|mut s| {
                            s.drop_name = true;
                            s
                        })
                        .collect(),
                ));
            }
            let series = ev.eval_vector(&args[0])?;
            Ok(EvalValue::Vector(map_values(series, true, |t, _| Some(t as f64 / 1000.0))))
        }
        "round" => {
            let series = ev.eval_vector(&args[0])?;
            let to = match args.get(1) {
                Some(a) => ev.eval_scalar(a)?,
                None => vec![1.0; steps],
            };
            Ok(EvalValue::Vector(map_values(series, true, |t, v| {
                let inv = 1.0 / to[ev.step_index(t)];
                Some((v * inv + 0.5).floor() / inv)
            })))
        }
        "clamp" | "clamp_min" | "clamp_max" => {
            let series = ev.eval_vector(&args[0])?;
            let (lo, hi) = match name {
                "clamp" => (Some(ev.eval_scalar(&args[1])?), Some(ev.eval_scalar(&args[2])?)),
                "clamp_min" => (Some(ev.eval_scalar(&args[1])?), None),
                _ => (None, Some(ev.eval_scalar(&args[1])?)),
            };
            Ok(EvalValue::Vector(map_values(series, true, |t, v| {
                let i = ev.step_index(t);
                let lo = lo.as_ref().map_or(f64::NEG_INFINITY, |l| l[i]);
                let hi = hi.as_ref().map_or(f64::INFINITY, |h| h[i]);
                if hi < lo {
                    return None;
                }
                Some(go_max(lo, go_min(hi, v)))
            })))
        }
        "absent" => {
            let series = ev.eval_vector(&args[0])?;
            let mut present = vec![false; steps];
            for s in &series {
                for p in &s.points {
                    present[ev.step_index(p.t_ms)] = true;
                }
            }
            let labels = absent_labels(&args[0]);
            let points: Vec<Sample> = (0..steps)
                .filter(|&i| !present[i])
                .map(|i| Sample::new(ev.step_ts(i), 1.0))
                .collect();
            Ok(EvalValue::Vector(if points.is_empty() {
                Vec::new()
            } else {
                vec![EvalSeries::new(labels, false, points)]
            }))
        }
        "absent_over_time" => {
            check_extended_modifiers(name, &args[0])?;
            let input = ev.range_input(&args[0], name)?;
            let empty = ev.empty_window_steps(&input);
            let labels = absent_labels(&args[0]);
            let points: Vec<Sample> =
                (0..steps).filter(|&i| empty[i]).map(|i| Sample::new(ev.step_ts(i), 1.0)).collect();
            Ok(EvalValue::Vector(if points.is_empty() {
                Vec::new()
            } else {
                vec![EvalSeries::new(labels, false, points)]
            }))
        }
        "sort" | "sort_desc" | "sort_by_label" | "sort_by_label_desc" => {
            let mut series = ev.eval_vector(&args[0])?;
            if ev.start_ms == ev.end_ms {
                match name {
                    "sort" => series.sort_by(|a, b| cmp_nan_last(first_value(a), first_value(b))),
                    "sort_desc" => {
                        series.sort_by(|a, b| cmp_nan_last_desc(first_value(a), first_value(b)))
                    }
                    _ => {
                        let names: Vec<String> = args[1..]
                            .iter()
                            .map(|a| ev.eval_string(a))
                            .collect::<Result<_, _>>()?;
                        let desc = name == "sort_by_label_desc";
                        series.sort_by(|a, b| {
                            let ord = labels::compare_by_labels(&a.labels, &b.labels, &names);
                            if desc { ord.reverse() } else { ord }
                        });
                    }
                }
            }
            Ok(EvalValue::Vector(series))
        }
        "label_replace" => labels::label_replace(ev, args),
        "info" => info::eval_info(ev, args),
        "label_join" => labels::label_join(ev, args),
        "histogram_quantile" => histogram_quantile(ev, call),
        "histogram_fraction" => histogram_fraction(ev, call),
        "histogram_quantiles" => histogram_quantiles(ev, call),
        "histogram_count" | "histogram_sum" | "histogram_avg" | "histogram_stddev"
        | "histogram_stdvar" => {
            // These read native histograms only; float samples are ignored.
            for a in args {
                ev.eval(a)?;
            }
            Ok(EvalValue::Vector(Vec::new()))
        }
        other => Err(PromqlError::Execution(format!("function {other:?} is not implemented"))),
    }
}

/// Applies `f(t, v)` to every point, dropping points where it returns `None`.
fn map_values(
    series: Vec<EvalSeries>,
    drop_name: bool,
    mut f: impl FnMut(i64, f64) -> Option<f64>,
) -> Vec<EvalSeries> {
    series
        .into_iter()
        .filter_map(|mut s| {
            s.points = s
                .points
                .iter()
                .filter_map(|p| f(p.t_ms, p.value).map(|v| Sample::new(p.t_ms, v)))
                .collect();
            s.drop_name |= drop_name;
            (!s.points.is_empty()).then_some(s)
        })
        .collect()
}

/// The value of an instant query's series (its only point).
fn first_value(s: &EvalSeries) -> f64 {
    s.points.first().map_or(f64::NAN, |p| p.value)
}

fn cmp_nan_last(a: f64, b: f64) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        _ => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
    }
}

fn cmp_nan_last_desc(a: f64, b: f64) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        _ => b.partial_cmp(&a).unwrap_or(Ordering::Equal),
    }
}

/// The labels `absent` reports: the equality matchers of a selector
/// argument (a label matched twice is left out), nothing otherwise.
fn absent_labels(arg: &Expr) -> Labels {
    let matchers = match arg {
        Expr::VectorSelector(vs) => &vs.matchers,
        Expr::MatrixSelector(ms) => &ms.vector_selector.matchers,
        _ => return Labels::empty(),
    };
    let mut b = LabelsBuilder::new();
    let mut has: HashMap<&str, bool> = HashMap::new();
    for m in matchers {
        if m.name == METRIC_NAME {
            continue;
        }
        if m.kind == MatchType::Equal && !has.contains_key(m.name.as_str()) {
            b.set(&m.name, &m.value);
            has.insert(&m.name, true);
        } else {
            b.del(&m.name);
        }
    }
    b.build()
}

/// The `anchored`/`smoothed` modifiers of a range argument, rejected for
/// functions that cannot handle the samples outside the window they bring.
fn check_extended_modifiers(name: &str, arg: &Expr) -> Result<(bool, bool), PromqlError> {
    let (anchored, smoothed) = match arg.unwrap_parens() {
        Expr::MatrixSelector(ms) => (ms.vector_selector.anchored, ms.vector_selector.smoothed),
        _ => (false, false),
    };
    if anchored && !matches!(name, "changes" | "delta" | "increase" | "rate" | "resets") {
        return Err(PromqlError::Execution(format!(
            "anchored modifier can only be used with: changes, delta, increase, rate, resets - not with {name}"
        )));
    }
    if smoothed && !matches!(name, "delta" | "increase" | "rate") {
        return Err(PromqlError::Execution(format!(
            "smoothed modifier can only be used with: delta, increase, rate - not with {name}"
        )));
    }
    Ok((anchored, smoothed))
}

/// The computation a range function applies to each window.
#[derive(Debug, Clone, Copy)]
enum Kernel {
    ExtendedRate { counter: bool, per_second: bool },
    AnchoredResets,
    AnchoredChanges,
    Rate { counter: bool, per_second: bool },
    Instant { per_second: bool },
    Avg,
    Sum,
    Count,
    Present,
    Min,
    Max,
    TsOfMin,
    TsOfMax,
    Stdvar,
    Stddev,
    Quantile,
    Mad,
    Last,
    First,
    TsOfLast,
    TsOfFirst,
    Deriv,
    PredictLinear,
    Resets,
    Changes,
    Smoothing,
}

fn eval_range_function(ev: &Evaluator<'_, '_>, call: &Call) -> Result<EvalValue, PromqlError> {
    let name = call.func.name;
    let args = &call.args;
    let matrix_idx = args
        .iter()
        .position(|a| a.value_type() == crate::parser::ast::ValueType::Matrix)
        .unwrap_or(0);
    // Scalar arguments, per step.
    let mut scalars: Vec<Vec<f64>> = Vec::new();
    for (i, a) in args.iter().enumerate() {
        if i != matrix_idx {
            scalars.push(ev.eval_scalar(a)?);
        }
    }
    let (anchored, smoothed) = check_extended_modifiers(name, &args[matrix_idx])?;
    let extended = anchored || smoothed;
    let input: RangeInput = ev.range_input(&args[matrix_idx], name)?;
    let keeps_name = matches!(name, "last_over_time" | "first_over_time");
    let scalar = |k: usize, step: usize| scalars.get(k).map_or(f64::NAN, |s| s[step]);

    if name == "quantile_over_time" {
        let q = &scalars[0];
        if q.iter().any(|q| q.is_nan() || *q < 0.0 || *q > 1.0) && !input.series.is_empty() {
            let bad =
                q.iter().copied().find(|q| q.is_nan() || *q < 0.0 || *q > 1.0).unwrap_or(f64::NAN);
            ev.ctx.warn(
                &format!("quantile value should be between 0 and 1, got {}", go_float(bad)),
                args[0].span(),
            );
        }
    }
    // Resolve the kernel once, not per window.
    let kernel = match name {
        "rate" if extended => Kernel::ExtendedRate { counter: true, per_second: true },
        "increase" if extended => Kernel::ExtendedRate { counter: true, per_second: false },
        "delta" if extended => Kernel::ExtendedRate { counter: false, per_second: false },
        "resets" if anchored => Kernel::AnchoredResets,
        "changes" if anchored => Kernel::AnchoredChanges,
        "rate" => Kernel::Rate { counter: true, per_second: true },
        "increase" => Kernel::Rate { counter: true, per_second: false },
        "delta" => Kernel::Rate { counter: false, per_second: false },
        "irate" => Kernel::Instant { per_second: true },
        "idelta" => Kernel::Instant { per_second: false },
        "avg_over_time" => Kernel::Avg,
        "sum_over_time" => Kernel::Sum,
        "count_over_time" => Kernel::Count,
        "present_over_time" => Kernel::Present,
        "min_over_time" => Kernel::Min,
        "max_over_time" => Kernel::Max,
        "ts_of_min_over_time" => Kernel::TsOfMin,
        "ts_of_max_over_time" => Kernel::TsOfMax,
        "stdvar_over_time" => Kernel::Stdvar,
        "stddev_over_time" => Kernel::Stddev,
        "quantile_over_time" => Kernel::Quantile,
        "mad_over_time" => Kernel::Mad,
        "last_over_time" => Kernel::Last,
        "first_over_time" => Kernel::First,
        "ts_of_last_over_time" => Kernel::TsOfLast,
        "ts_of_first_over_time" => Kernel::TsOfFirst,
        "deriv" => Kernel::Deriv,
        "predict_linear" => Kernel::PredictLinear,
        "resets" => Kernel::Resets,
        "changes" => Kernel::Changes,
        "double_exponential_smoothing" | "holt_winters" => Kernel::Smoothing,
        other => {
            return Err(PromqlError::Execution(format!("function {other:?} is not implemented")));
        }
    };
    let outputs = ev.map_windows(&input, |_, step, samples, w: &Window| {
        Ok(match kernel {
            Kernel::ExtendedRate { counter, per_second } => {
                range_fns::extended_rate(samples, w, smoothed, counter, per_second)
            }
            Kernel::AnchoredResets => {
                range_fns::anchored_samples(samples, w).and_then(range_fns::resets)
            }
            Kernel::AnchoredChanges => {
                range_fns::anchored_samples(samples, w).and_then(range_fns::changes)
            }
            Kernel::Rate { counter, per_second } => {
                range_fns::extrapolated_rate(samples, w, counter, per_second)
            }
            Kernel::Instant { per_second } => range_fns::instant_value(samples, per_second),
            Kernel::Avg => range_fns::avg_over_time(samples),
            Kernel::Sum => range_fns::sum_over_time(samples),
            Kernel::Count => Some(samples.len() as f64),
            Kernel::Present => Some(1.0),
            Kernel::Min => range_fns::compare_over_time(samples, |c, b| c < b, false),
            Kernel::Max => range_fns::compare_over_time(samples, |c, b| c > b, false),
            Kernel::TsOfMin => range_fns::compare_over_time(samples, |c, b| c <= b, true),
            Kernel::TsOfMax => range_fns::compare_over_time(samples, |c, b| c >= b, true),
            Kernel::Stdvar => range_fns::variance_over_time(samples),
            Kernel::Stddev => range_fns::variance_over_time(samples).map(f64::sqrt),
            Kernel::Quantile => range_fns::quantile_over_time(samples, scalar(0, step)),
            Kernel::Mad => range_fns::mad_over_time(samples),
            Kernel::Last => samples.last().map(|s| s.value),
            Kernel::First => samples.first().map(|s| s.value),
            Kernel::TsOfLast => samples.last().map(|s| s.t_ms as f64 / 1000.0),
            Kernel::TsOfFirst => samples.first().map(|s| s.t_ms as f64 / 1000.0),
            Kernel::Deriv => range_fns::deriv(samples),
            Kernel::PredictLinear => range_fns::predict_linear(samples, w.step_ms, scalar(0, step)),
            Kernel::Resets => range_fns::resets(samples),
            Kernel::Changes => range_fns::changes(samples),
            Kernel::Smoothing => {
                let (sf, tf) = (scalar(0, step), scalar(1, step));
                if !(sf > 0.0 && sf < 1.0) {
                    return Err(PromqlError::Execution(format!(
                        "invalid smoothing factor. Expected: 0 < sf < 1, got: {sf:.6}"
                    )));
                }
                if !(tf > 0.0 && tf < 1.0) {
                    return Err(PromqlError::Execution(format!(
                        "invalid trend factor. Expected: 0 < tf < 1, got: {tf:.6}"
                    )));
                }
                range_fns::double_exponential_smoothing(samples, sf, tf)
            }
        })
    })?;
    let mut result = Vec::with_capacity(outputs.len());
    let mut held = 0;
    for (series, points) in input.series.into_iter().zip(outputs) {
        if points.is_empty() {
            continue;
        }
        if matches!(name, "rate" | "increase")
            && let Some(metric) = series.labels.metric_name()
            && !["_total", "_sum", "_count", "_bucket"].iter().any(|s| metric.ends_with(s))
        {
            ev.ctx.info(
                &format!(
                    "metric might not be a counter, name does not end in _total/_sum/_count/_bucket: {metric:?}"
                ),
                args[matrix_idx].span(),
            );
        }
        held += points.len();
        result.push(EvalSeries::new(series.labels, series.drop_name || !keeps_name, points));
    }
    ev.ctx.hold_samples(held)?;
    Ok(EvalValue::Vector(result))
}

fn histogram_quantile(ev: &Evaluator<'_, '_>, call: &Call) -> Result<EvalValue, PromqlError> {
    let q = ev.eval_scalar(&call.args[0])?;
    let series = ev.eval_vector(&call.args[1])?;
    if let Some(&bad) = q.iter().find(|q| q.is_nan() || **q < 0.0 || **q > 1.0) {
        ev.ctx.warn(
            &format!("quantile value should be between 0 and 1, got {}", go_float(bad)),
            call.args[0].span(),
        );
    }
    classic_histograms(ev, &series, call.args[1].span(), |step, labels, buckets| {
        let r = bucket_quantile(q[step], buckets);
        if r.forced_monotonic {
            let name = labels.metric_name().unwrap_or("");
            let base = "input to histogram_quantile needed to be fixed for monotonicity (see https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile)";
            let msg = if name.is_empty() {
                base.to_owned()
            } else {
                format!("{base} for metric name {name:?}")
            };
            ev.ctx.info(&msg, call.args[1].span());
        }
        r.value
    })
}

/// `histogram_quantiles(v, "label", q1, q2, ...)`: one output series per
/// histogram and quantile, the quantile written into `label`.
fn histogram_quantiles(ev: &Evaluator<'_, '_>, call: &Call) -> Result<EvalValue, PromqlError> {
    let series = ev.eval_vector(&call.args[0])?;
    let label = ev.eval_string(&call.args[1])?;
    let mut out = SeriesCollector::default();
    for arg in &call.args[2..] {
        let q = ev.eval_scalar(arg)?;
        if let Some(&bad) = q.iter().find(|q| q.is_nan() || **q < 0.0 || **q > 1.0) {
            ev.ctx.warn(
                &format!("quantile value should be between 0 and 1, got {}", go_float(bad)),
                arg.span(),
            );
        }
        let EvalValue::Vector(result) = classic_histograms(
            ev,
            &series,
            call.args[0].span(),
            |step, labels, buckets| {
                let r = bucket_quantile(q[step], buckets);
                if r.forced_monotonic {
                    let name = labels.metric_name().unwrap_or("");
                    let base = "input to histogram_quantile needed to be fixed for monotonicity (see https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile)";
                    let msg = if name.is_empty() {
                        base.to_owned()
                    } else {
                        format!("{base} for metric name {name:?}")
                    };
                    ev.ctx.info(&msg, call.args[0].span());
                }
                r.value
            },
        )?
        else {
            continue;
        };
        for s in result {
            for p in &s.points {
                let mut b = s.labels.to_builder();
                b.set(&label, &openmetrics_float(q[ev.step_index(p.t_ms)]));
                out.push(b.build(), true, p.t_ms, p.value)?;
            }
        }
    }
    Ok(EvalValue::Vector(out.finish()))
}

/// A float as OpenMetrics writes label values (`1.0`, `0.25`, `+Inf`).
fn openmetrics_float(f: f64) -> String {
    let s = go_float(f);
    if f.is_finite() && !s.contains(['.', 'e']) { format!("{s}.0") } else { s }
}

fn histogram_fraction(ev: &Evaluator<'_, '_>, call: &Call) -> Result<EvalValue, PromqlError> {
    let lower = ev.eval_scalar(&call.args[0])?;
    let upper = ev.eval_scalar(&call.args[1])?;
    let series = ev.eval_vector(&call.args[2])?;
    classic_histograms(ev, &series, call.args[2].span(), |step, _, buckets| {
        histogram::bucket_fraction(lower[step], upper[step], buckets)
    })
}

/// Groups the bucket series of classic histograms (by their labels without
/// `le`) and calls `f(step, group labels, buckets)` per group and step.
/// Series with a missing or malformed `le` are reported and ignored.
fn classic_histograms(
    ev: &Evaluator<'_, '_>,
    series: &[EvalSeries],
    arg_span: crate::parser::ast::Span,
    mut f: impl FnMut(usize, &Labels, &mut [Bucket]) -> f64,
) -> Result<EvalValue, PromqlError> {
    let mut group_of: Vec<Option<(usize, f64)>> = Vec::with_capacity(series.len());
    let mut groups: Vec<Labels> = Vec::new();
    let mut index: HashMap<Labels, usize> = HashMap::new();
    for s in series {
        let le = s.labels.get("le").unwrap_or("");
        match parse_go_float(le) {
            Some(bound) => {
                let key = s.labels.drop_names(&["le"]);
                let g = *index.entry(key.clone()).or_insert_with(|| {
                    groups.push(key);
                    groups.len() - 1
                });
                group_of.push(Some((g, bound)));
            }
            None => {
                if !s.points.is_empty() {
                    let name = s.labels.metric_name().unwrap_or("");
                    let msg = if name.is_empty() {
                        format!("bucket label \"le\" is missing or has a malformed value of {le:?}")
                    } else {
                        format!(
                            "bucket label \"le\" is missing or has a malformed value of {le:?} for metric name {name:?}"
                        )
                    };
                    ev.ctx.warn(&msg, arg_span);
                }
                group_of.push(None);
            }
        }
    }
    let per_step = by_step(ev, series);
    let mut out = SeriesCollector::default();
    let mut buckets: Vec<Vec<Bucket>> = vec![Vec::new(); groups.len()];
    let mut order: Vec<usize> = Vec::new();
    for (step, values) in per_step.iter().enumerate() {
        order.clear();
        for &(si, v) in values {
            if let Some((g, bound)) = group_of[si] {
                if buckets[g].is_empty() {
                    order.push(g);
                }
                buckets[g].push(Bucket { upper_bound: bound, count: v });
            }
        }
        let t = ev.step_ts(step);
        for &g in &order {
            let value = f(step, &groups[g], &mut buckets[g]);
            buckets[g].clear();
            out.push(groups[g].clone(), true, t, value)?;
        }
    }
    Ok(EvalValue::Vector(out.finish()))
}

/// Parses a float as Go's `strconv.ParseFloat` accepts it (`+Inf`, `1e3`, ...).
pub(crate) fn parse_go_float(s: &str) -> Option<f64> {
    let lower = s.to_ascii_lowercase();
    let body = lower.trim_start_matches(['+', '-']);
    if body.is_empty() {
        return None;
    }
    if body == "inf" || body == "infinity" || body == "nan" {
        return lower.parse().ok();
    }
    if body.starts_with("0x") {
        return None;
    }
    s.replace('_', "").parse().ok()
}
