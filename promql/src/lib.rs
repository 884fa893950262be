//! PromQL: parsing and evaluation over the engine's [`Queryable`].
//!
//! Invariant: this crate sees storage only through
//! `promethium_engine::{Queryable, Querier}`; it never reads files or the
//! head directly.

mod eval;
mod functions;
pub mod parser;
pub mod promqltest;
pub mod value;

use std::cell::RefCell;
use std::time::{Duration, Instant};

use promethium_engine::model::Labels;
use promethium_engine::{QueryError, Queryable};

use eval::{
    EvalValue, Evaluator, QueryContext, drop_metric_name, merge_same_labels, same_labelset,
};
use parser::ast::{AtModifier, DurationContext, Expr, ValueType};

pub use value::{QueryResult, RangeSeries, Value, VectorSample};

/// Limits and defaults for evaluation, mirroring Prometheus' `--query.*` flags.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// How far back an instant selector looks for a sample (`--query.lookback-delta`, 5 m).
    pub lookback_delta_ms: i64,
    /// Maximum samples a query may hold in memory at once (`--query.max-samples`, 50 M).
    pub max_samples: u64,
    /// Wall-clock limit of one query (`--query.timeout`, 2 m).
    pub timeout: Duration,
    /// Maximum points per series in a range query result (11,000).
    pub max_points_per_series: u64,
    /// Step of subqueries written without one (`x[5m:]`); Prometheus uses
    /// the global evaluation interval, 1 m by default.
    pub default_subquery_step_ms: i64,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            lookback_delta_ms: 5 * 60 * 1000,
            max_samples: 50_000_000,
            timeout: Duration::from_secs(120),
            max_points_per_series: 11_000,
            default_subquery_step_ms: 60_000,
        }
    }
}

/// Why a query failed. [`PromqlError::error_type`] gives the HTTP API's
/// `errorType` string, so those strings live in one place.
#[derive(Debug, thiserror::Error)]
pub enum PromqlError {
    /// The expression does not parse (or fails type checks).
    #[error("{0}")]
    Parse(String),
    /// Parameters are invalid (e.g. too many points, bad step).
    #[error("{0}")]
    BadData(String),
    /// Evaluation failed (e.g. many-to-many matching, duplicate labelsets).
    #[error("{0}")]
    Execution(String),
    /// The query ran past its timeout.
    #[error("query timed out in {0}")]
    Timeout(&'static str),
    /// The query was cancelled.
    #[error("query was canceled in {0}")]
    Canceled(&'static str),
    /// The query would load more samples than allowed.
    #[error("query processing would load too many samples into memory in {0}")]
    TooManySamples(&'static str),
    /// Storage failed.
    #[error(transparent)]
    Storage(#[from] QueryError),
}

impl PromqlError {
    /// The `errorType` Prometheus' HTTP API reports for this error.
    pub fn error_type(&self) -> &'static str {
        match self {
            PromqlError::Parse(_) | PromqlError::BadData(_) => "bad_data",
            PromqlError::Execution(_) | PromqlError::TooManySamples(_) => "execution",
            PromqlError::Timeout(_) => "timeout",
            PromqlError::Canceled(_) => "canceled",
            PromqlError::Storage(_) => "internal",
        }
    }
}

/// Evaluates PromQL queries with fixed options.
#[derive(Debug, Clone, Default)]
pub struct Engine {
    options: EngineOptions,
}

impl Engine {
    /// An engine with `options`.
    pub fn new(options: EngineOptions) -> Self {
        Engine { options }
    }

    /// The engine's options.
    pub fn options(&self) -> &EngineOptions {
        &self.options
    }

    /// Evaluates `expr` at `t_ms`.
    pub fn instant_query(
        &self,
        storage: &dyn Queryable,
        expr: &str,
        t_ms: i64,
    ) -> Result<QueryResult, PromqlError> {
        let ast = parser::parse(expr).map_err(|e| PromqlError::Parse(e.to_string()))?;
        self.run(storage, expr, &ast, t_ms, t_ms, 0)
    }

    /// Evaluates `expr` at every step from `start_ms` to `end_ms` inclusive.
    pub fn range_query(
        &self,
        storage: &dyn Queryable,
        expr: &str,
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
    ) -> Result<QueryResult, PromqlError> {
        if step_ms <= 0 {
            return Err(PromqlError::BadData(
                "zero or negative query resolution step widths are not accepted. Try a positive integer".into(),
            ));
        }
        if end_ms < start_ms {
            return Err(PromqlError::BadData("end timestamp must not be before start time".into()));
        }
        if ((end_ms - start_ms) / step_ms) as u64 > self.options.max_points_per_series {
            return Err(PromqlError::BadData(
                "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)"
                    .into(),
            ));
        }
        let ast = parser::parse(expr).map_err(|e| PromqlError::Parse(e.to_string()))?;
        let ty = ast.value_type();
        if ty != ValueType::Vector && ty != ValueType::Scalar {
            return Err(PromqlError::BadData(format!(
                "invalid expression type \"{}\" for range query, must be Scalar or instant Vector",
                ty.as_str()
            )));
        }
        self.run(storage, expr, &ast, start_ms, end_ms, step_ms)
    }

    pub(crate) fn run(
        &self,
        storage: &dyn Queryable,
        query: &str,
        ast: &Expr,
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
    ) -> Result<QueryResult, PromqlError> {
        let started = Instant::now();
        if start_ms.abs() > eval::MAX_TIME_MS || end_ms.abs() > eval::MAX_TIME_MS {
            return Err(PromqlError::BadData("query time is out of range".into()));
        }
        let durations = DurationContext { step_ms, range_ms: end_ms - start_ms };
        let (mint, maxt) =
            time_bounds(ast, start_ms, end_ms, self.options.lookback_delta_ms, &durations);
        let querier = storage.querier(mint, maxt)?;
        let ctx = QueryContext {
            querier: querier.as_ref(),
            query,
            lookback_ms: self.options.lookback_delta_ms,
            default_subquery_step_ms: self.options.default_subquery_step_ms,
            max_samples: self.options.max_samples,
            deadline: started.checked_add(self.options.timeout),
            durations,
            query_start_ms: start_ms,
            query_end_ms: end_ms,
            annotations: RefCell::new(eval::Annotations::default()),
            samples_loaded: RefCell::new(0),
        };
        let ev = Evaluator::new(&ctx, start_ms, end_ms, if step_ms == 0 { 1 } else { step_ms });
        let value = ev.eval(ast)?;
        let instant = step_ms == 0;
        let value = match value {
            EvalValue::Scalar(v) if instant => Value::Scalar { t_ms: start_ms, value: v[0] },
            EvalValue::Scalar(v) => Value::Matrix(vec![RangeSeries {
                labels: Labels::empty(),
                samples: v
                    .iter()
                    .enumerate()
                    .map(|(i, &x)| promethium_engine::model::Sample::new(ev.step_ts(i), x))
                    .collect(),
            }]),
            EvalValue::String(s) => Value::String { t_ms: start_ms, value: s },
            EvalValue::Vector(series) if instant => {
                let mut out: Vec<VectorSample> = series
                    .into_iter()
                    .flat_map(|s| {
                        let labels =
                            if s.drop_name { drop_metric_name(&s.labels) } else { s.labels };
                        s.points.into_iter().map(move |p| VectorSample {
                            labels: labels.clone(),
                            t_ms: p.t_ms,
                            value: p.value,
                        })
                    })
                    .collect();
                let mut seen = std::collections::HashSet::with_capacity(out.len());
                for s in &out {
                    if !seen.insert(s.labels.clone()) {
                        return Err(same_labelset());
                    }
                }
                out.shrink_to_fit();
                Value::Vector(out)
            }
            EvalValue::Vector(series) | EvalValue::Matrix(series) => {
                let renamed = series
                    .into_iter()
                    .map(|mut s| {
                        if s.drop_name {
                            s.labels = drop_metric_name(&s.labels);
                            s.drop_name = false;
                        }
                        s
                    })
                    .collect();
                let mut merged = merge_same_labels(renamed)?;
                merged.retain(|s| !s.points.is_empty());
                merged.sort_by(|a, b| a.labels.cmp(&b.labels));
                Value::Matrix(
                    merged
                        .into_iter()
                        .map(|s| RangeSeries { labels: s.labels, samples: s.points })
                        .collect(),
                )
            }
        };
        let annotations = ctx.annotations.into_inner();
        Ok(QueryResult {
            value,
            warnings: annotations.warnings,
            infos: annotations.infos,
            samples_loaded: ctx.samples_loaded.into_inner(),
        })
    }
}

/// The time range the querier must cover: every selector's window, shifted
/// by offsets and `@`, through nested subqueries.
fn time_bounds(
    expr: &Expr,
    start_ms: i64,
    end_ms: i64,
    lookback_ms: i64,
    d: &DurationContext,
) -> (i64, i64) {
    fn at_ms(at: Option<AtModifier>, q: (i64, i64)) -> Option<i64> {
        at.map(|a| match a {
            AtModifier::Timestamp(t) => eval::clamp_time(t),
            AtModifier::Start => q.0,
            AtModifier::End => q.1,
        })
    }
    fn walk(
        e: &Expr,
        s: i64,
        en: i64,
        q: (i64, i64),
        lookback: i64,
        d: &DurationContext,
        b: &mut (i64, i64),
    ) {
        let off = |o: &Option<parser::ast::DurationArg>| {
            eval::clamp_time(o.as_ref().and_then(|o| o.resolve(d, true).ok()).unwrap_or(0))
        };
        match e {
            Expr::VectorSelector(vs) => {
                let o = off(&vs.offset);
                let (a, z) = at_ms(vs.at, q).map_or((s, en), |t| (t, t));
                b.0 = b.0.min(a - o - lookback);
                b.1 = b.1.max(z - o + if vs.smoothed { lookback } else { 0 });
            }
            Expr::MatrixSelector(ms) => {
                let vs = &ms.vector_selector;
                let o = off(&vs.offset);
                let r = eval::clamp_time(ms.range.resolve(d, false).unwrap_or(0));
                let (a, z) = at_ms(vs.at, q).map_or((s, en), |t| (t, t));
                let extended = vs.anchored || vs.smoothed;
                b.0 = b.0.min(a - o - r - if extended { lookback } else { 0 });
                b.1 = b.1.max(z - o + if vs.smoothed { lookback } else { 0 });
            }
            Expr::Subquery(sq) => {
                let o = off(&sq.offset);
                let r = eval::clamp_time(sq.range.resolve(d, false).unwrap_or(0));
                let (a, z) = at_ms(sq.at, q).map_or((s, en), |t| (t, t));
                let inner_start = eval::clamp_time(a.saturating_sub(o).saturating_sub(r));
                walk(
                    &sq.expr,
                    inner_start,
                    eval::clamp_time(z.saturating_sub(o)),
                    q,
                    lookback,
                    d,
                    b,
                );
            }
            other => {
                for c in other.children() {
                    walk(c, s, en, q, lookback, d, b);
                }
            }
        }
    }
    let mut b = (i64::MAX, i64::MIN);
    walk(expr, start_ms, end_ms, (start_ms, end_ms), lookback_ms, d, &mut b);
    if b.0 > b.1 {
        return (start_ms, end_ms);
    }
    b
}

#[cfg(test)]
mod tests {
    use promethium_engine::{Appendable, MemStorage};

    use super::*;

    /// `up{job="a"}` and `up{job="b"}`, one sample every 15 s for 10 minutes.
    fn storage() -> MemStorage {
        let db = MemStorage::new();
        for (job, step) in [("a", 1.0), ("b", 2.0)] {
            let labels = Labels::new([("__name__", "up_total"), ("job", job)]);
            let mut app = db.appender();
            for i in 0..=40 {
                app.append(None, &labels, i * 15_000, i as f64 * step).unwrap();
            }
            app.commit().unwrap();
        }
        db
    }

    #[test]
    fn instant_and_range_queries_agree() {
        let db = storage();
        let engine = Engine::default();
        let instant = engine.instant_query(&db, "sum(rate(up_total[1m]))", 300_000).unwrap();
        let Value::Vector(v) = instant.value else { panic!("expected a vector") };
        assert_eq!(v.len(), 1);
        assert!((v[0].value - 0.2).abs() < 1e-9, "{}", v[0].value);
        let range =
            engine.range_query(&db, "sum(rate(up_total[1m]))", 240_000, 300_000, 30_000).unwrap();
        let Value::Matrix(m) = range.value else { panic!("expected a matrix") };
        assert_eq!(m[0].samples.len(), 3);
        assert!((m[0].samples[2].value - 0.2).abs() < 1e-9);
        assert!(range.samples_loaded > 0);
    }

    #[test]
    fn metric_name_is_dropped_by_functions_but_not_by_selectors() {
        let db = storage();
        let engine = Engine::default();
        let Value::Vector(v) =
            engine.instant_query(&db, "up_total{job=\"a\"}", 60_000).unwrap().value
        else {
            panic!("expected a vector")
        };
        assert_eq!(v[0].labels.metric_name(), Some("up_total"));
        let Value::Vector(v) =
            engine.instant_query(&db, "abs(up_total{job=\"a\"})", 60_000).unwrap().value
        else {
            panic!("expected a vector")
        };
        assert_eq!(v[0].labels, Labels::new([("job", "a")]));
    }

    #[test]
    fn limits_return_prometheus_errors() {
        let db = storage();
        let engine = Engine::new(EngineOptions { max_samples: 10, ..EngineOptions::default() });
        let err = engine.instant_query(&db, "count_over_time(up_total[10m])", 600_000).unwrap_err();
        assert!(matches!(err, PromqlError::TooManySamples(_)), "{err}");
        assert_eq!(err.error_type(), "execution");

        let engine = Engine::default();
        let err = engine.range_query(&db, "up_total", 0, 3_600_000_000, 1_000).unwrap_err();
        assert!(
            err.to_string().starts_with("exceeded maximum resolution of 11,000 points"),
            "{err}"
        );
        assert_eq!(err.error_type(), "bad_data");

        let err = engine.range_query(&db, "up_total[5m]", 0, 60_000, 15_000).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid expression type \"range vector\" for range query, must be Scalar or instant Vector"
        );

        let engine =
            Engine::new(EngineOptions { timeout: Duration::ZERO, ..EngineOptions::default() });
        let err = engine.instant_query(&db, "up_total", 60_000).unwrap_err();
        assert!(matches!(err, PromqlError::Timeout(_)), "{err}");
        assert_eq!(err.error_type(), "timeout");
    }

    #[test]
    fn lookback_delta_is_configurable() {
        let db = storage();
        let short =
            Engine::new(EngineOptions { lookback_delta_ms: 10_000, ..EngineOptions::default() });
        // The last sample is at 600 s; 5 s later it is still visible, 15 s later it is not.
        assert!(
            matches!(short.instant_query(&db, "up_total", 605_000).unwrap().value, Value::Vector(v) if v.len() == 2)
        );
        assert!(
            matches!(short.instant_query(&db, "up_total", 615_000).unwrap().value, Value::Vector(v) if v.is_empty())
        );
    }

    #[test]
    fn extreme_times_and_durations_do_not_overflow() {
        let db = storage();
        let engine = Engine::default();
        for q in [
            "up_total @ -9223372036854775",
            "rate(up_total[292y] @ 9223372036854775 offset -292y)",
            "max_over_time(max_over_time(up_total[292y:292y] offset 292y)[292y:292y] offset 292y)",
            "max_over_time(max_over_time(up_total[292y:292y] offset -292y)[292y:292y] offset -292y)",
        ] {
            assert!(engine.instant_query(&db, q, 0).is_ok(), "{q}");
            assert!(engine.range_query(&db, q, -1_000, 60_000, 1_000).is_ok(), "{q}");
        }
        // A subquery with absurdly many steps is refused before allocating them.
        let err = engine.instant_query(&db, "max_over_time(vector(1)[292y:1ms])", 0).unwrap_err();
        assert!(matches!(err, PromqlError::TooManySamples(_)), "{err}");
        let err = engine.instant_query(&db, "up_total", i64::MAX).unwrap_err();
        assert_eq!(err.error_type(), "bad_data");
    }

    #[test]
    fn parse_errors_are_bad_data() {
        let err = Engine::default().instant_query(&MemStorage::new(), "sum(", 0).unwrap_err();
        assert!(matches!(err, PromqlError::Parse(_)));
        assert_eq!(err.error_type(), "bad_data");
    }
}
