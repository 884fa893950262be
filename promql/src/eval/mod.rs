//! Evaluation of a parsed expression over a [`Querier`].
//!
//! Every node is evaluated once for the whole query range, not once per
//! step, as Prometheus' engine does: a selector is selected once and its
//! samples walked with moving cursors; an instant-vector node yields, per
//! series, the points it has at the query's steps. An instant query is a
//! range query with a single step.
//!
//! Names are removed late ("delayed `__name__` removal", as Prometheus 3
//! does with the feature enabled): operations that drop the metric name
//! only mark their output series, and the marks are applied when the final
//! result is built. That lets `label_replace` revive a name and makes
//! duplicate label sets an error only when they really collide in the
//! result.

mod aggregate;
mod binary;
pub(crate) mod range;
mod selectors;
mod subquery;

use std::cell::RefCell;
use std::collections::HashMap;
use std::time::Instant;

use promethium_engine::Querier;
use promethium_engine::model::{Labels, Sample};

use crate::PromqlError;
use crate::parser::ast::{AtModifier, DurationArg, DurationContext, Expr, Span, UnaryOp};

/// One series of an evaluated instant vector (points at step timestamps)
/// or range vector (raw samples).
#[derive(Debug, Clone)]
pub(crate) struct EvalSeries {
    /// Labels, `__name__` still included when `drop_name` is set.
    pub(crate) labels: Labels,
    /// The metric name (and metadata labels) must be removed from the final result.
    pub(crate) drop_name: bool,
    /// Points in increasing time order.
    pub(crate) points: Vec<Sample>,
}

impl EvalSeries {
    pub(crate) fn new(labels: Labels, drop_name: bool, points: Vec<Sample>) -> Self {
        EvalSeries { labels, drop_name, points }
    }
}

/// The value of a node over all steps.
#[derive(Debug, Clone)]
pub(crate) enum EvalValue {
    /// One value per step.
    Scalar(Vec<f64>),
    /// A string (the same at every step).
    String(String),
    /// An instant vector: per series, points at (a subset of) the steps.
    Vector(Vec<EvalSeries>),
    /// A range vector (only as the top-level result of an instant query).
    Matrix(Vec<EvalSeries>),
}

/// Annotations collected during evaluation, deduplicated like Prometheus'.
#[derive(Debug, Default)]
pub(crate) struct Annotations {
    pub(crate) warnings: Vec<String>,
    pub(crate) infos: Vec<String>,
}

/// Shared, query-wide state: the querier, limits, annotations.
pub(crate) struct QueryContext<'q> {
    pub(crate) querier: &'q dyn Querier,
    pub(crate) query: &'q str,
    pub(crate) lookback_ms: i64,
    pub(crate) default_subquery_step_ms: i64,
    pub(crate) max_samples: u64,
    pub(crate) deadline: Option<Instant>,
    pub(crate) durations: DurationContext,
    /// The outermost query's start and end, for `@ start()` / `@ end()`.
    pub(crate) query_start_ms: i64,
    pub(crate) query_end_ms: i64,
    pub(crate) annotations: RefCell<Annotations>,
    pub(crate) samples_loaded: RefCell<u64>,
}

impl QueryContext<'_> {
    fn position(&self, span: Span) -> String {
        let (line, col) = span.line_col(self.query);
        format!("({line}:{col})")
    }

    /// Adds a warning about the expression at `span`.
    pub(crate) fn warn(&self, message: &str, span: Span) {
        let text = format!("PromQL warning: {message} {}", self.position(span));
        let mut a = self.annotations.borrow_mut();
        if !a.warnings.contains(&text) {
            a.warnings.push(text);
        }
    }

    /// Adds an informational annotation about the expression at `span`.
    pub(crate) fn info(&self, message: &str, span: Span) {
        let text = format!("PromQL info: {message} {}", self.position(span));
        let mut a = self.annotations.borrow_mut();
        if !a.infos.contains(&text) {
            a.infos.push(text);
        }
    }

    /// Fails once the query's deadline has passed.
    pub(crate) fn check_deadline(&self, stage: &'static str) -> Result<(), PromqlError> {
        match self.deadline {
            Some(d) if Instant::now() > d => Err(PromqlError::Timeout(stage)),
            _ => Ok(()),
        }
    }

    /// Accounts samples held by one node's result or window against the limit.
    pub(crate) fn hold_samples(&self, n: usize) -> Result<(), PromqlError> {
        if n as u64 > self.max_samples {
            return Err(PromqlError::TooManySamples("query execution"));
        }
        Ok(())
    }

    /// Counts samples read from storage (reported in the result).
    pub(crate) fn count_loaded(&self, n: usize) {
        *self.samples_loaded.borrow_mut() += n as u64;
    }
}

/// Evaluates nodes over the steps `start, start+interval, ..., end`.
pub(crate) struct Evaluator<'c, 'q> {
    pub(crate) ctx: &'c QueryContext<'q>,
    pub(crate) start_ms: i64,
    pub(crate) end_ms: i64,
    /// Step width; 1 for instant evaluation, never 0.
    pub(crate) interval_ms: i64,
}

impl<'c, 'q> Evaluator<'c, 'q> {
    pub(crate) fn new(
        ctx: &'c QueryContext<'q>,
        start_ms: i64,
        end_ms: i64,
        interval_ms: i64,
    ) -> Self {
        Evaluator { ctx, start_ms, end_ms, interval_ms: interval_ms.max(1) }
    }

    /// Number of steps.
    pub(crate) fn steps(&self) -> usize {
        ((self.end_ms - self.start_ms) / self.interval_ms) as usize + 1
    }

    /// Timestamp of step `i`.
    pub(crate) fn step_ts(&self, i: usize) -> i64 {
        self.start_ms + i as i64 * self.interval_ms
    }

    /// Step index of a step timestamp.
    pub(crate) fn step_index(&self, t: i64) -> usize {
        ((t - self.start_ms) / self.interval_ms) as usize
    }

    /// The fixed evaluation time of an `@` modifier.
    pub(crate) fn at_time(&self, at: Option<AtModifier>) -> Option<i64> {
        at.map(|a| match a {
            AtModifier::Timestamp(t) => clamp_time(t),
            AtModifier::Start => self.ctx.query_start_ms,
            AtModifier::End => self.ctx.query_end_ms,
        })
    }

    /// Resolves an offset or range duration.
    pub(crate) fn duration(
        &self,
        d: &DurationArg,
        allow_negative: bool,
    ) -> Result<i64, PromqlError> {
        d.resolve(&self.ctx.durations, allow_negative)
            .map(clamp_time)
            .map_err(|e| PromqlError::BadData(e.to_string()))
    }

    pub(crate) fn offset(&self, d: Option<&DurationArg>) -> Result<i64, PromqlError> {
        d.map_or(Ok(0), |d| self.duration(d, true))
    }

    /// Evaluates `expr` over all steps.
    pub(crate) fn eval(&self, expr: &Expr) -> Result<EvalValue, PromqlError> {
        self.ctx.check_deadline("expression evaluation")?;
        match expr {
            Expr::NumberLiteral(n) => Ok(EvalValue::Scalar(vec![n.value; self.steps()])),
            Expr::StringLiteral(s) => Ok(EvalValue::String(s.value.clone())),
            Expr::Paren(p) => self.eval(&p.expr),
            Expr::Unary(u) => {
                let v = self.eval(&u.expr)?;
                if u.op == UnaryOp::Pos {
                    return Ok(v);
                }
                Ok(match v {
                    EvalValue::Scalar(mut s) => {
                        s.iter_mut().for_each(|x| *x = -*x);
                        EvalValue::Scalar(s)
                    }
                    EvalValue::Vector(mut series) => {
                        for s in &mut series {
                            s.drop_name = true;
                            s.points.iter_mut().for_each(|p| p.value = -p.value);
                        }
                        EvalValue::Vector(series)
                    }
                    other => other,
                })
            }
            Expr::VectorSelector(vs) => self.eval_vector_selector(vs, false).map(EvalValue::Vector),
            Expr::MatrixSelector(ms) => self.eval_matrix_selector_raw(ms).map(EvalValue::Matrix),
            Expr::Subquery(sq) => {
                let (series, _) = self.eval_subquery_points(sq)?;
                Ok(EvalValue::Matrix(series))
            }
            Expr::Binary(b) => self.eval_binary(b),
            Expr::Aggregate(a) => self.eval_aggregate(a),
            Expr::Call(c) => crate::functions::eval_call(self, c),
        }
    }

    /// Evaluates an expression that must be a scalar.
    pub(crate) fn eval_scalar(&self, expr: &Expr) -> Result<Vec<f64>, PromqlError> {
        match self.eval(expr)? {
            EvalValue::Scalar(v) => Ok(v),
            other => {
                Err(PromqlError::Execution(format!("expected scalar, got {}", type_name(&other))))
            }
        }
    }

    /// Evaluates an expression that must be an instant vector.
    pub(crate) fn eval_vector(&self, expr: &Expr) -> Result<Vec<EvalSeries>, PromqlError> {
        match self.eval(expr)? {
            EvalValue::Vector(v) => Ok(v),
            other => Err(PromqlError::Execution(format!(
                "expected instant vector, got {}",
                type_name(&other)
            ))),
        }
    }

    /// Evaluates an expression that must be a string.
    pub(crate) fn eval_string(&self, expr: &Expr) -> Result<String, PromqlError> {
        match self.eval(expr)? {
            EvalValue::String(s) => Ok(s),
            other => {
                Err(PromqlError::Execution(format!("expected string, got {}", type_name(&other))))
            }
        }
    }
}

/// The largest magnitude of a timestamp, offset or range the evaluator
/// works with (about 73 million years in milliseconds). Sums of a few such
/// values cannot overflow an `i64`, so window arithmetic needs no checks;
/// nothing that far from the epoch holds data anyway.
pub(crate) const MAX_TIME_MS: i64 = 1 << 61;

/// Clamps a time or duration into `[-MAX_TIME_MS, MAX_TIME_MS]`.
pub(crate) fn clamp_time(t: i64) -> i64 {
    t.clamp(-MAX_TIME_MS, MAX_TIME_MS)
}

/// Builds result series from outputs produced step by step.
#[derive(Default)]
pub(crate) struct SeriesCollector {
    index: HashMap<Labels, usize>,
    pub(crate) series: Vec<EvalSeries>,
}

impl SeriesCollector {
    /// Adds a point for `labels` at `t`.
    pub(crate) fn push(
        &mut self,
        labels: Labels,
        drop_name: bool,
        t: i64,
        value: f64,
    ) -> Result<(), PromqlError> {
        match self.index.get(&labels) {
            Some(&i) => {
                let s = &mut self.series[i];
                if s.points.last().is_some_and(|p| p.t_ms == t) {
                    return Err(same_labelset());
                }
                s.drop_name |= drop_name;
                s.points.push(Sample::new(t, value));
            }
            None => {
                self.index.insert(labels.clone(), self.series.len());
                self.series.push(EvalSeries::new(labels, drop_name, vec![Sample::new(t, value)]));
            }
        }
        Ok(())
    }

    pub(crate) fn finish(self) -> Vec<EvalSeries> {
        self.series
    }
}

/// Prometheus' error for two result series with identical labels.
pub(crate) fn same_labelset() -> PromqlError {
    PromqlError::Execution("vector cannot contain metrics with the same labelset".into())
}

/// Merges series that ended up with identical labels (after a label
/// change), failing when they have points at the same timestamp.
pub(crate) fn merge_same_labels(series: Vec<EvalSeries>) -> Result<Vec<EvalSeries>, PromqlError> {
    let mut index: HashMap<Labels, usize> = HashMap::with_capacity(series.len());
    let mut out: Vec<EvalSeries> = Vec::with_capacity(series.len());
    for s in series {
        match index.get(&s.labels) {
            Some(&i) => {
                let target = &mut out[i];
                let mut merged = Vec::with_capacity(target.points.len() + s.points.len());
                let (mut a, mut b) = (target.points.iter().peekable(), s.points.iter().peekable());
                loop {
                    match (a.peek(), b.peek()) {
                        (Some(x), Some(y)) => {
                            if x.t_ms == y.t_ms {
                                return Err(same_labelset());
                            }
                            if x.t_ms < y.t_ms {
                                merged.push(**x);
                                a.next();
                            } else {
                                merged.push(**y);
                                b.next();
                            }
                        }
                        (Some(x), None) => {
                            merged.push(**x);
                            a.next();
                        }
                        (None, Some(y)) => {
                            merged.push(**y);
                            b.next();
                        }
                        (None, None) => break,
                    }
                }
                target.points = merged;
                target.drop_name |= s.drop_name;
            }
            None => {
                index.insert(s.labels.clone(), out.len());
                out.push(s);
            }
        }
    }
    Ok(out)
}

/// Removes `__name__` (and the metadata labels `__type__`, `__unit__`)
/// where marked, as the final step of evaluation.
pub(crate) fn drop_metric_name(labels: &Labels) -> Labels {
    if !labels.iter().any(|l| is_metadata_label(l.name)) {
        return labels.clone();
    }
    Labels::from_sorted_unique(
        labels.iter().filter(|l| !is_metadata_label(l.name)).map(|l| (l.name, l.value)),
    )
}

/// Labels that describe the metric rather than the series and go with the name.
pub(crate) fn is_metadata_label(name: &str) -> bool {
    matches!(name, "__name__" | "__type__" | "__unit__")
}

fn type_name(v: &EvalValue) -> &'static str {
    match v {
        EvalValue::Scalar(_) => "scalar",
        EvalValue::String(_) => "string",
        EvalValue::Vector(_) => "instant vector",
        EvalValue::Matrix(_) => "range vector",
    }
}
