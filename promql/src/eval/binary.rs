//! Binary operators: arithmetic, comparison (with and without `bool`) and
//! set operators, with Prometheus' vector matching rules and errors.

use std::collections::HashMap;

use promethium_engine::model::{Labels, Sample};

use super::range::by_step;
use super::{EvalSeries, EvalValue, Evaluator, SeriesCollector};
use crate::PromqlError;
use crate::parser::ast::{BinaryExpr, BinaryOp, VectorMatchCardinality, VectorMatching};

/// Go's `math.Mod`: the result has the sign of `x`, like Rust's `%`.
fn go_mod(x: f64, y: f64) -> f64 {
    x % y
}

/// Go's `math.Pow` special cases that differ from Rust's `powf`.
fn go_pow(x: f64, y: f64) -> f64 {
    if x == 1.0 || y == 0.0 {
        return 1.0;
    }
    x.powf(y)
}

/// The arithmetic result, or for comparisons the kept value (`lhs`) and
/// whether the comparison holds.
fn elem_op(op: BinaryOp, lhs: f64, rhs: f64) -> (f64, bool) {
    match op {
        BinaryOp::Add => (lhs + rhs, true),
        BinaryOp::Sub => (lhs - rhs, true),
        BinaryOp::Mul => (lhs * rhs, true),
        BinaryOp::Div => (lhs / rhs, true),
        BinaryOp::Pow => (go_pow(lhs, rhs), true),
        BinaryOp::Mod => (go_mod(lhs, rhs), true),
        BinaryOp::Atan2 => (lhs.atan2(rhs), true),
        BinaryOp::Eql => (lhs, lhs == rhs),
        BinaryOp::Neq => (lhs, lhs != rhs),
        BinaryOp::Gtr => (lhs, lhs > rhs),
        BinaryOp::Lss => (lhs, lhs < rhs),
        BinaryOp::Gte => (lhs, lhs >= rhs),
        BinaryOp::Lte => (lhs, lhs <= rhs),
        BinaryOp::And
        | BinaryOp::Or
        | BinaryOp::Unless
        | BinaryOp::TrimUpper
        | BinaryOp::TrimLower => (lhs, false),
    }
}

/// Whether the operator changes what the metric means (so its name goes).
fn changes_metric_schema(op: BinaryOp) -> bool {
    matches!(
        op,
        BinaryOp::Add
            | BinaryOp::Sub
            | BinaryOp::Mul
            | BinaryOp::Div
            | BinaryOp::Pow
            | BinaryOp::Mod
            | BinaryOp::Atan2
    )
}

/// The matching signature of a series.
fn signature(labels: &Labels, m: &VectorMatching) -> Labels {
    if m.on {
        labels.keep_only(&m.matching_labels)
    } else {
        let mut drop: Vec<&str> = m.matching_labels.iter().map(String::as_str).collect();
        drop.push("__name__");
        labels.drop_names(&drop)
    }
}

fn result_labels(lhs: &Labels, rhs: &Labels, op: BinaryOp, m: &VectorMatching) -> Labels {
    let mut b = if changes_metric_schema(op) {
        let mut b = lhs.to_builder();
        b.del("__name__").del("__type__").del("__unit__");
        b
    } else {
        lhs.to_builder()
    };
    if m.card == VectorMatchCardinality::OneToOne {
        if m.on {
            b.retain(|n, _| m.matching_labels.iter().any(|l| l == n));
        } else {
            for l in &m.matching_labels {
                b.del(l);
            }
        }
    }
    for l in &m.include {
        match rhs.get(l) {
            Some(v) => b.set(l, v),
            None => b.del(l),
        };
    }
    b.build()
}

/// The labels a filled-in sample gets: the matching labels of its partner.
fn match_labels(labels: &Labels, m: &VectorMatching) -> Labels {
    if m.on {
        labels.keep_only(&m.matching_labels)
    } else {
        let mut drop: Vec<&str> = m.matching_labels.iter().map(String::as_str).collect();
        drop.push("__name__");
        labels.drop_names(&drop)
    }
}

impl Evaluator<'_, '_> {
    pub(crate) fn eval_binary(&self, b: &BinaryExpr) -> Result<EvalValue, PromqlError> {
        let lhs = self.eval(&b.lhs)?;
        let rhs = self.eval(&b.rhs)?;
        match (lhs, rhs) {
            (EvalValue::Scalar(l), EvalValue::Scalar(r)) => Ok(EvalValue::Scalar(
                l.iter()
                    .zip(&r)
                    .map(|(&x, &y)| {
                        let (v, keep) = elem_op(b.op, x, y);
                        if b.op.is_comparison() { if keep { 1.0 } else { 0.0 } } else { v }
                    })
                    .collect(),
            )),
            (EvalValue::Vector(v), EvalValue::Scalar(s)) => {
                Ok(EvalValue::Vector(self.vector_scalar(b, v, &s, false)))
            }
            (EvalValue::Scalar(s), EvalValue::Vector(v)) => {
                Ok(EvalValue::Vector(self.vector_scalar(b, v, &s, true)))
            }
            (EvalValue::Vector(l), EvalValue::Vector(r)) => {
                let default = VectorMatching {
                    card: if b.op.is_set_operator() {
                        VectorMatchCardinality::ManyToMany
                    } else {
                        VectorMatchCardinality::OneToOne
                    },
                    ..VectorMatching::default()
                };
                let m = b.matching.as_ref().unwrap_or(&default);
                if b.op.is_set_operator() {
                    self.set_op(b.op, m, l, r).map(EvalValue::Vector)
                } else {
                    self.vector_vector(b, m, l, r).map(EvalValue::Vector)
                }
            }
            _ => Err(PromqlError::Execution(format!(
                "invalid operands for binary operator {}",
                b.op.as_str()
            ))),
        }
    }

    fn vector_scalar(
        &self,
        b: &BinaryExpr,
        series: Vec<EvalSeries>,
        scalar: &[f64],
        swap: bool,
    ) -> Vec<EvalSeries> {
        let drop = changes_metric_schema(b.op) || b.return_bool;
        series
            .into_iter()
            .filter_map(|mut s| {
                s.points = s
                    .points
                    .iter()
                    .filter_map(|p| {
                        let sv = scalar[self.step_index(p.t_ms)];
                        let (l, r) = if swap { (sv, p.value) } else { (p.value, sv) };
                        let (mut v, keep) = elem_op(b.op, l, r);
                        if b.op.is_comparison() && swap {
                            v = p.value;
                        }
                        if b.return_bool {
                            return Some(Sample::new(p.t_ms, if keep { 1.0 } else { 0.0 }));
                        }
                        keep.then(|| Sample::new(p.t_ms, v))
                    })
                    .collect();
                s.drop_name |= drop;
                (!s.points.is_empty()).then_some(s)
            })
            .collect()
    }

    /// Assigns each series of both sides a signature ordinal.
    fn signatures(
        m: &VectorMatching,
        l: &[EvalSeries],
        r: &[EvalSeries],
    ) -> (Vec<usize>, Vec<usize>, Vec<Labels>) {
        let mut index: HashMap<Labels, usize> = HashMap::new();
        let mut sigs: Vec<Labels> = Vec::new();
        let mut ord = |labels: &Labels| {
            let sig = signature(labels, m);
            *index.entry(sig.clone()).or_insert_with(|| {
                sigs.push(sig);
                sigs.len() - 1
            })
        };
        let ls = l.iter().map(|s| ord(&s.labels)).collect();
        let rs = r.iter().map(|s| ord(&s.labels)).collect();
        (ls, rs, sigs)
    }

    fn set_op(
        &self,
        op: BinaryOp,
        m: &VectorMatching,
        l: Vec<EvalSeries>,
        r: Vec<EvalSeries>,
    ) -> Result<Vec<EvalSeries>, PromqlError> {
        let (lsig, rsig, sigs) = Self::signatures(m, &l, &r);
        let (lsteps, rsteps) = (by_step(self, &l), by_step(self, &r));
        let mut present = vec![false; sigs.len()];
        let mut out = SeriesCollector::default();
        for step in 0..self.steps() {
            let t = self.step_ts(step);
            let (lv, rv) = (&lsteps[step], &rsteps[step]);
            match op {
                BinaryOp::And | BinaryOp::Unless => {
                    present.iter_mut().for_each(|p| *p = false);
                    for &(si, _) in rv {
                        present[rsig[si]] = true;
                    }
                    let want = op == BinaryOp::And;
                    if want && rv.is_empty() {
                        continue;
                    }
                    for &(si, v) in lv {
                        if present[lsig[si]] == want {
                            out.push(l[si].labels.clone(), l[si].drop_name, t, v)?;
                        }
                    }
                }
                _ => {
                    present.iter_mut().for_each(|p| *p = false);
                    for &(si, v) in lv {
                        present[lsig[si]] = true;
                        out.push(l[si].labels.clone(), l[si].drop_name, t, v)?;
                    }
                    for &(si, v) in rv {
                        if lv.is_empty() || !present[rsig[si]] {
                            out.push(r[si].labels.clone(), r[si].drop_name, t, v)?;
                        }
                    }
                }
            }
        }
        Ok(out.finish())
    }

    fn vector_vector(
        &self,
        b: &BinaryExpr,
        m: &VectorMatching,
        l: Vec<EvalSeries>,
        r: Vec<EvalSeries>,
    ) -> Result<Vec<EvalSeries>, PromqlError> {
        let (lsig, rsig, sigs) = Self::signatures(m, &l, &r);
        let (lsteps, rsteps) = (by_step(self, &l), by_step(self, &r));
        let one_to_many = m.card == VectorMatchCardinality::OneToMany;
        // The "many" side is iterated; the "one" side is looked up.
        let (many, one, many_sig, one_sig, many_steps, one_steps) = if one_to_many {
            (&r, &l, &rsig, &lsig, &rsteps, &lsteps)
        } else {
            (&l, &r, &lsig, &rsig, &lsteps, &rsteps)
        };
        let mut one_at: Vec<Option<(usize, f64)>> = vec![None; sigs.len()];
        let mut matched: Vec<bool> = vec![false; sigs.len()];
        let mut inserted: Vec<HashMap<Labels, ()>> = Vec::new();
        let mut out = SeriesCollector::default();
        let mut label_cache: HashMap<(usize, usize), Labels> = HashMap::new();
        for step in 0..self.steps() {
            let t = self.step_ts(step);
            let (mv, ov) = (&many_steps[step], &one_steps[step]);
            if mv.is_empty() && ov.is_empty() {
                continue;
            }
            if (mv.is_empty() || ov.is_empty()) && m.fill.lhs.is_none() && m.fill.rhs.is_none() {
                continue;
            }
            one_at.iter_mut().for_each(|x| *x = None);
            for &(si, v) in ov {
                let sig = one_sig[si];
                if let Some((prev, _)) = one_at[sig] {
                    let side = if one_to_many { "left" } else { "right" };
                    let matched_labels = if m.on {
                        one[si].labels.keep_only(&m.matching_labels)
                    } else {
                        one[si].labels.drop_names(&m.matching_labels)
                    };
                    let (mut d1, mut d2) =
                        (one[si].labels.to_string(), one[prev].labels.to_string());
                    if d1 > d2 {
                        std::mem::swap(&mut d1, &mut d2);
                    }
                    return Err(PromqlError::Execution(format!(
                        "found duplicate series for the match group {matched_labels} on the {side} hand-side of the operation: [{d1}, {d2}];many-to-many matching not allowed: matching labels must be unique on one side"
                    )));
                }
                one_at[sig] = Some((si, v));
            }
            matched.iter_mut().for_each(|x| *x = false);
            if m.card != VectorMatchCardinality::OneToOne {
                inserted.clear();
                inserted.resize(sigs.len(), HashMap::new());
            }
            let mut apply = |matched: &mut Vec<bool>,
                             inserted: &mut Vec<HashMap<Labels, ()>>,
                             ml: &Labels,
                             ol: &Labels,
                             mv: f64,
                             ov: f64,
                             sig: usize,
                             cache: Option<(usize, usize)>| {
                let (lv, rv) = if one_to_many { (ov, mv) } else { (mv, ov) };
                let (mut value, keep) = elem_op(b.op, lv, rv);
                if b.return_bool {
                    value = if keep { 1.0 } else { 0.0 };
                }
                let labels = match cache {
                    Some(key) => label_cache
                        .entry(key)
                        .or_insert_with(|| result_labels(ml, ol, b.op, m))
                        .clone(),
                    None => result_labels(ml, ol, b.op, m),
                };
                if m.card == VectorMatchCardinality::OneToOne {
                    if matched[sig] {
                        return Err(PromqlError::Execution(
                            "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)"
                                .into(),
                        ));
                    }
                    matched[sig] = true;
                } else if inserted[sig].insert(labels.clone(), ()).is_some() {
                    return Err(PromqlError::Execution(
                        "multiple matches for labels: grouping labels must ensure unique matches"
                            .into(),
                    ));
                }
                if !keep && !b.return_bool {
                    return Ok(());
                }
                out.push(labels, b.return_bool, t, value)
            };
            for &(si, v) in mv {
                let sig = many_sig[si];
                match one_at[sig] {
                    Some((oi, ov)) => apply(
                        &mut matched,
                        &mut inserted,
                        &many[si].labels,
                        &one[oi].labels,
                        v,
                        ov,
                        sig,
                        Some((si, oi)),
                    )?,
                    None => {
                        if let Some(fill) = m.fill.rhs {
                            let ol = match_labels(&many[si].labels, m);
                            apply(
                                &mut matched,
                                &mut inserted,
                                &many[si].labels,
                                &ol,
                                v,
                                fill,
                                sig,
                                None,
                            )?;
                        }
                    }
                }
            }
            if let Some(fill) = m.fill.lhs {
                for &(oi, ov) in ov {
                    let sig = one_sig[oi];
                    let done = if m.card == VectorMatchCardinality::OneToOne {
                        matched[sig]
                    } else {
                        !inserted[sig].is_empty()
                    };
                    if done {
                        continue;
                    }
                    let ml = match_labels(&one[oi].labels, m);
                    apply(&mut matched, &mut inserted, &ml, &one[oi].labels, fill, ov, sig, None)?;
                }
            }
        }
        Ok(out.finish())
    }
}
