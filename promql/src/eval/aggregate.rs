//! Aggregation operators (`sum`, `avg`, `topk`, `quantile`, ...).
//!
//! Each input series is assigned to its group once; then every step folds
//! the values present at that step, in input order (the order matters for
//! float summation, and Prometheus folds in the same order).

use std::cmp::Ordering;
use std::collections::HashMap;

use promethium_engine::model::{Labels, METRIC_NAME, Sample};

use super::range::by_step;
use super::{EvalSeries, EvalValue, Evaluator, SeriesCollector};
use crate::PromqlError;
use crate::functions::stats::{go_float, go_float_plain, kahan_inc, quantile};
use crate::parser::ast::{AggregateExpr, AggregateOp, Expr};

/// Quotes bytes as Go's `strconv.Quote` does: invalid UTF-8 as `\xNN`.
fn go_quote_bytes(bytes: &[u8]) -> String {
    let mut out = String::from("\"");
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\t' => out.push_str("\\t"),
                c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out.push('"');
    out
}

/// The grouping labels of a series: `by` keeps the listed labels, `without`
/// drops them and the metric name.
fn group_labels(labels: &Labels, grouping: &[String], without: bool) -> Labels {
    if without {
        let mut drop: Vec<&str> = grouping.iter().map(String::as_str).collect();
        drop.extend(["__name__", "__type__", "__unit__"]);
        labels.drop_names(&drop)
    } else if grouping.is_empty() {
        Labels::empty()
    } else {
        labels.keep_only(grouping)
    }
}

#[derive(Default, Clone)]
struct Group {
    seen: bool,
    value: f64,
    mean: f64,
    comp: f64,
    count: f64,
    incremental: bool,
    values: Vec<f64>,
    drop_name: bool,
}

/// The order `topk` (`top`) or `bottomk` ranks values in: best first, NaN
/// last, ties in input order. Members are `(series index, value)` in input
/// order, so the index breaks ties and the order is total.
fn rank(top: bool, x: (usize, f64), y: (usize, f64)) -> Ordering {
    let by_value = match (x.1.is_nan(), y.1.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        _ if top => y.1.partial_cmp(&x.1).unwrap_or(Ordering::Equal),
        _ => x.1.partial_cmp(&y.1).unwrap_or(Ordering::Equal),
    };
    by_value.then(x.0.cmp(&y.0))
}

/// Keeps the `k` best members of `m` (input order), best first: the same
/// members and order as a stable sort followed by truncation, which is
/// what Prometheus' heap yields (a later equal value never displaces an
/// earlier one). Partitioning around the k-th member first makes this
/// linear in the group size plus `k log k`, instead of sorting the whole
/// group at every step (measured: `topk(10, ...)` over 80k series spent
/// most of its aggregation time sorting).
fn select_k(m: &mut Vec<(usize, f64)>, k: usize, top: bool) {
    if k < m.len() {
        m.select_nth_unstable_by(k - 1, |&x, &y| rank(top, x, y));
        m.truncate(k);
    }
    m.sort_unstable_by(|&x, &y| rank(top, x, y));
}

impl Evaluator<'_, '_> {
    pub(crate) fn eval_aggregate(&self, a: &AggregateExpr) -> Result<EvalValue, PromqlError> {
        let mut grouping = a.grouping.clone();
        grouping.sort();
        if a.op == AggregateOp::CountValues {
            let param = a
                .param
                .as_ref()
                .ok_or_else(|| PromqlError::Execution("count_values needs a label".into()))?;
            let label = self.eval_string(param)?;
            if let Expr::StringLiteral(lit) = param.unwrap_parens()
                && let Some(bytes) = &lit.invalid_utf8
            {
                return Err(PromqlError::Execution(format!(
                    "invalid label name {}",
                    go_quote_bytes(bytes)
                )));
            }
            if label.is_empty() {
                return Err(PromqlError::Execution(format!("invalid label name {label:?}")));
            }
            let input = self.eval_vector(&a.expr)?;
            return self.count_values(a, &grouping, &label, &input);
        }
        let param = match &a.param {
            Some(p) => Some(self.eval_scalar(p)?),
            None => None,
        };
        let input = self.eval_vector(&a.expr)?;
        match a.op {
            AggregateOp::Topk
            | AggregateOp::Bottomk
            | AggregateOp::Limitk
            | AggregateOp::LimitRatio => {
                let param = param.unwrap_or_default();
                self.aggregate_k(a, &grouping, &param, &input)
            }
            _ => {
                if a.op == AggregateOp::Quantile
                    && let (Some(p), Some(expr)) = (&param, &a.param)
                {
                    let worst = [
                        p.iter().copied().find(|q| q.is_nan()),
                        p.iter().copied().filter(|q| *q > 1.0).reduce(f64::max),
                        p.iter().copied().filter(|q| *q < 0.0).reduce(f64::min),
                    ];
                    for q in worst.into_iter().flatten() {
                        self.ctx.warn(
                            &format!(
                                "quantile value should be between 0 and 1, got {}",
                                go_float(q)
                            ),
                            expr.span(),
                        );
                    }
                }
                self.aggregate_fold(a, &grouping, param.as_deref(), &input)
            }
        }
    }

    fn aggregate_fold(
        &self,
        a: &AggregateExpr,
        grouping: &[String],
        param: Option<&[f64]>,
        input: &[EvalSeries],
    ) -> Result<EvalValue, PromqlError> {
        let mut index: HashMap<Labels, usize> = HashMap::new();
        let mut outputs: Vec<EvalSeries> = Vec::new();
        let mut group_of = Vec::with_capacity(input.len());
        for s in input {
            let key = group_labels(&s.labels, grouping, a.without);
            // Most series join an existing group: look up before cloning the key.
            let g = match index.get(&key) {
                Some(&g) => g,
                None => {
                    index.insert(key.clone(), outputs.len());
                    outputs.push(EvalSeries::new(key, false, Vec::new()));
                    outputs.len() - 1
                }
            };
            group_of.push(g);
        }
        let mut groups = vec![Group::default(); outputs.len()];
        let per_step = by_step(self, input);
        for (step, values) in per_step.iter().enumerate() {
            for g in groups.iter_mut() {
                g.seen = false;
            }
            for &(si, f) in values {
                let g = &mut groups[group_of[si]];
                let drop = input[si].drop_name;
                if !g.seen {
                    *g = Group {
                        seen: true,
                        value: f,
                        mean: f,
                        count: 1.0,
                        drop_name: drop,
                        ..Group::default()
                    };
                    match a.op {
                        AggregateOp::Stddev | AggregateOp::Stdvar => {
                            g.value = if f.is_nan() || f.is_infinite() { f64::NAN } else { 0.0 };
                        }
                        AggregateOp::Quantile => g.values = vec![f],
                        AggregateOp::Group => g.value = 1.0,
                        _ => {}
                    }
                    continue;
                }
                g.drop_name |= drop;
                match a.op {
                    AggregateOp::Sum => (g.value, g.comp) = kahan_inc(f, g.value, g.comp),
                    AggregateOp::Avg => {
                        g.count += 1.0;
                        if !g.incremental {
                            let (nv, nc) = kahan_inc(f, g.value, g.comp);
                            if !nv.is_infinite() {
                                g.value = nv;
                                g.comp = nc;
                                continue;
                            }
                            g.incremental = true;
                            g.mean = g.value / (g.count - 1.0);
                            g.comp /= g.count - 1.0;
                        }
                        let q = (g.count - 1.0) / g.count;
                        (g.mean, g.comp) = kahan_inc(f / g.count, q * g.mean, q * g.comp);
                    }
                    AggregateOp::Max if g.value < f || g.value.is_nan() => g.value = f,
                    AggregateOp::Min if g.value > f || g.value.is_nan() => g.value = f,
                    AggregateOp::Count => g.count += 1.0,
                    AggregateOp::Stddev | AggregateOp::Stdvar => {
                        g.count += 1.0;
                        let delta = f - g.mean;
                        g.mean += delta / g.count;
                        g.value += delta * (f - g.mean);
                    }
                    AggregateOp::Quantile => g.values.push(f),
                    _ => {}
                }
            }
            let t = self.step_ts(step);
            for (gi, g) in groups.iter_mut().enumerate() {
                if !g.seen {
                    continue;
                }
                let v = match a.op {
                    AggregateOp::Sum => g.value + g.comp,
                    AggregateOp::Avg if g.incremental => g.mean + g.comp,
                    AggregateOp::Avg => g.value / g.count + g.comp / g.count,
                    AggregateOp::Count => g.count,
                    AggregateOp::Stdvar => g.value / g.count,
                    AggregateOp::Stddev => (g.value / g.count).sqrt(),
                    AggregateOp::Quantile => {
                        quantile(param.map_or(f64::NAN, |p| p[step]), &mut g.values)
                    }
                    _ => g.value,
                };
                let out = &mut outputs[gi];
                out.points.push(Sample::new(t, v));
                out.drop_name |= g.drop_name;
            }
        }
        let outputs: Vec<EvalSeries> =
            outputs.into_iter().filter(|s| !s.points.is_empty()).collect();
        self.ctx.hold_samples(outputs.iter().map(|s| s.points.len()).sum())?;
        Ok(EvalValue::Vector(outputs))
    }

    fn aggregate_k(
        &self,
        a: &AggregateExpr,
        grouping: &[String],
        param: &[f64],
        input: &[EvalSeries],
    ) -> Result<EvalValue, PromqlError> {
        let max = param.iter().copied().fold(f64::NEG_INFINITY, |m, p| {
            if p.is_nan() || m.is_nan() { f64::NAN } else { m.max(p) }
        });
        let min = param
            .iter()
            .copied()
            .fold(f64::INFINITY, |m, p| if p.is_nan() || m.is_nan() { f64::NAN } else { m.min(p) });
        let any_nan = param.iter().any(|p| p.is_nan());
        if a.op == AggregateOp::LimitRatio {
            if max == 0.0 && min == 0.0 {
                return Ok(EvalValue::Vector(Vec::new()));
            }
            if any_nan {
                return Err(PromqlError::Execution("Ratio value is NaN".into()));
            }
            if let Some(p) = &a.param {
                if max > 1.0 {
                    self.ctx.warn(
                        &format!(
                            "ratio value should be between -1 and 1, got {}, capping to 1",
                            go_float(max)
                        ),
                        p.span(),
                    );
                }
                if min < -1.0 {
                    self.ctx.warn(
                        &format!(
                            "ratio value should be between -1 and 1, got {}, capping to -1",
                            go_float(min)
                        ),
                        p.span(),
                    );
                }
            }
        } else {
            if max < 1.0 {
                return Ok(EvalValue::Vector(Vec::new()));
            }
            if any_nan {
                return Err(PromqlError::Execution("Parameter value is NaN".into()));
            }
            if min <= -9.223_372_036_854_776e18 {
                return Err(PromqlError::Execution(format!(
                    "Scalar value {} underflows int64",
                    go_float(min)
                )));
            }
            if max >= 9.223_372_036_854_776e18 {
                return Err(PromqlError::Execution(format!(
                    "Scalar value {} overflows int64",
                    go_float(max)
                )));
            }
        }
        let mut index: HashMap<Labels, usize> = HashMap::new();
        let mut group_of = Vec::with_capacity(input.len());
        for s in input {
            let key = group_labels(&s.labels, grouping, a.without);
            let n = index.len();
            group_of.push(*index.entry(key).or_insert(n));
        }
        let n_groups = index.len();
        let per_step = by_step(self, input);
        let mut out = SeriesCollector::default();
        let mut members: Vec<Vec<(usize, f64)>> = vec![Vec::new(); n_groups];
        let mut order: Vec<usize> = Vec::new();
        for (step, values) in per_step.iter().enumerate() {
            let p = param[step];
            order.clear();
            for &(si, f) in values {
                let g = group_of[si];
                if members[g].is_empty() {
                    order.push(g);
                }
                members[g].push((si, f));
            }
            let t = self.step_ts(step);
            let k = (p as i64).min(input.len() as i64);
            for &g in &order {
                let mut m = std::mem::take(&mut members[g]);
                match a.op {
                    AggregateOp::Topk | AggregateOp::Bottomk => {
                        if k < 1 {
                            continue;
                        }
                        select_k(&mut m, k as usize, a.op == AggregateOp::Topk);
                    }
                    AggregateOp::Limitk => {
                        if k < 1 {
                            continue;
                        }
                        m.truncate(k as usize);
                    }
                    _ => {
                        let r = p.clamp(-1.0, 1.0);
                        m.retain(|&(si, _)| {
                            let offset = input[si].labels.stable_hash() as f64 / u64::MAX as f64;
                            (r >= 0.0 && offset < r) || (r < 0.0 && offset >= 1.0 + r)
                        });
                    }
                }
                for (si, f) in m {
                    out.push(input[si].labels.clone(), input[si].drop_name, t, f)?;
                }
            }
        }
        Ok(EvalValue::Vector(out.finish()))
    }

    fn count_values(
        &self,
        a: &AggregateExpr,
        grouping: &[String],
        label: &str,
        input: &[EvalSeries],
    ) -> Result<EvalValue, PromqlError> {
        let mut grouping = grouping.to_vec();
        if !a.without {
            grouping.push(label.to_owned());
            grouping.sort();
        }
        let per_step = by_step(self, input);
        let mut out = SeriesCollector::default();
        for (step, values) in per_step.iter().enumerate() {
            let mut counts: Vec<(Labels, f64)> = Vec::new();
            let mut index: HashMap<Labels, usize> = HashMap::new();
            for &(si, f) in values {
                let mut b = input[si].labels.to_builder();
                b.set(label, &go_float_plain(f));
                let labels = b.build();
                let key = group_labels(&labels, &grouping, a.without);
                match index.get(&key) {
                    Some(&i) => counts[i].1 += 1.0,
                    None => {
                        index.insert(key.clone(), counts.len());
                        counts.push((key, 1.0));
                    }
                }
            }
            for (labels, c) in counts {
                out.push(labels, false, self.step_ts(step), c)?;
            }
        }
        let _ = METRIC_NAME;
        Ok(EvalValue::Vector(out.finish()))
    }
}
