//! Running parsed scripts and checking results.

use promethium_engine::model::{Labels, is_stale_nan, matches_all};
use promethium_engine::{Appendable, MemStorage, Queryable};

use super::script::{Command, EvalCommand, EvalTime, LoadCommand, MessageMatch, parse_script};
use super::series_desc::SeqValue;
use crate::parser::ast::{AtModifier, Expr};
use crate::value::{QueryResult, Value};
use crate::{Engine, EngineOptions, PromqlError};

/// What happened to one eval command.
#[derive(Debug, Clone, PartialEq)]
pub enum CommandOutcome {
    /// It passed.
    Passed,
    /// It failed, with why.
    Failed(String),
    /// It was not run, with why.
    Skipped(String),
}

/// Results of one script.
#[derive(Debug, Default)]
pub struct FileReport {
    /// `(line, expression, outcome)` per eval command.
    pub evals: Vec<(usize, String, CommandOutcome)>,
    /// A script that could not be read at all.
    pub script_error: Option<String>,
}

impl FileReport {
    /// Number of passed evals.
    pub fn passed(&self) -> usize {
        self.evals.iter().filter(|e| e.2 == CommandOutcome::Passed).count()
    }
    /// Failed evals.
    pub fn failed(&self) -> Vec<&(usize, String, CommandOutcome)> {
        self.evals.iter().filter(|e| matches!(e.2, CommandOutcome::Failed(_))).collect()
    }
    /// Skipped evals.
    pub fn skipped(&self) -> Vec<&(usize, String, CommandOutcome)> {
        self.evals.iter().filter(|e| matches!(e.2, CommandOutcome::Skipped(_))).collect()
    }
}

/// Which commands are not run, and why.
#[derive(Debug, Clone)]
pub struct SkipPolicy {
    /// Whole files, with the reason.
    pub files: Vec<(&'static str, &'static str)>,
    /// Functions whose use skips an eval, with the reason.
    pub functions: Vec<(&'static str, &'static str)>,
}

impl Default for SkipPolicy {
    fn default() -> Self {
        SkipPolicy {
            files: vec![
                ("native_histograms.test", "native histograms are not evaluated"),
                (
                    "start_timestamps.test",
                    "experimental: start timestamps (created-timestamp-zero-ingestion)",
                ),
            ],
            functions: vec![("start_timestamp", "experimental: start timestamps")],
        }
    }
}

/// Runs a script's text; `file_name` selects file-level skips.
pub fn run_script(file_name: &str, text: &str, policy: &SkipPolicy) -> FileReport {
    run_script_on(file_name, text, policy, MemStorage::new)
}

/// Runs a script against storages made by `new_storage` (one at the start
/// and one per `clear`), so other storages can be checked with the same
/// scripts.
pub fn run_script_on<S, F>(
    file_name: &str,
    text: &str,
    policy: &SkipPolicy,
    mut new_storage: F,
) -> FileReport
where
    S: Appendable + Queryable,
    F: FnMut() -> S,
{
    let mut report = FileReport::default();
    let commands = match parse_script(text) {
        Ok(c) => c,
        Err(e) => {
            report.script_error = Some(e.to_string());
            return report;
        }
    };
    let file_skip = policy.files.iter().find(|(f, _)| *f == file_name).map(|(_, r)| *r);
    let options = EngineOptions {
        max_samples: 10_000,
        timeout: std::time::Duration::from_secs(100),
        ..EngineOptions::default()
    };
    let engine = Engine::new(options);
    let mut storage = new_storage();
    // Series holding native histogram samples in the current storage.
    let mut histogram_series: Vec<Labels> = Vec::new();
    for cmd in commands {
        match cmd {
            Command::Clear => {
                storage = new_storage();
                histogram_series.clear();
            }
            Command::Load(load) => {
                if let Err(e) = load_into(&storage, &load, &mut histogram_series) {
                    report.script_error = Some(format!("line {}: {e}", load.line));
                    return report;
                }
            }
            Command::Eval(eval) => {
                let outcome = if let Some(reason) = file_skip {
                    CommandOutcome::Skipped(reason.to_owned())
                } else if let Some(reason) = skip_reason(&eval, &histogram_series, policy) {
                    CommandOutcome::Skipped(reason)
                } else {
                    match run_eval(&engine, &storage, &eval) {
                        Ok(()) => CommandOutcome::Passed,
                        Err(e) => CommandOutcome::Failed(e),
                    }
                };
                report.evals.push((eval.line, eval.expr.clone(), outcome));
            }
        }
    }
    report
}

fn load_into(
    storage: &dyn Appendable,
    load: &LoadCommand,
    histogram_series: &mut Vec<Labels>,
) -> Result<(), String> {
    let mut app = storage.appender();
    for s in &load.series {
        if s.has_histograms() {
            histogram_series.push(s.labels.clone());
        }
        if load.with_nhcb {
            // The converted native histogram series: base name, no `le`.
            if let Some(name) = s.labels.metric_name() {
                for suffix in ["_bucket", "_count", "_sum"] {
                    if let Some(base) = name.strip_suffix(suffix) {
                        let mut b = s.labels.to_builder();
                        b.set("__name__", base).del("le");
                        histogram_series.push(b.build());
                    }
                }
            }
        }
        for (k, v) in s.values.iter().enumerate() {
            if let SeqValue::Float(f) = v {
                app.append(None, &s.labels, k as i64 * load.interval_ms, *f)
                    .map_err(|e| e.to_string())?;
            }
        }
    }
    app.commit().map_err(|e| e.to_string())
}

fn skip_reason(
    eval: &EvalCommand,
    histogram_series: &[Labels],
    policy: &SkipPolicy,
) -> Option<String> {
    if eval.expects_histograms() {
        return Some("expects native histogram results".into());
    }
    if let Ok(ast) = crate::parser::parse(&eval.expr) {
        let mut hit: Option<String> = None;
        ast.walk(&mut |e| {
            let matchers = match e {
                Expr::VectorSelector(vs) => &vs.matchers,
                Expr::MatrixSelector(ms) => &ms.vector_selector.matchers,
                _ => return,
            };
            if let Some(l) = histogram_series.iter().find(|l| matches_all(matchers, l)) {
                hit.get_or_insert_with(|| l.metric_name().unwrap_or_default().to_owned());
            }
        });
        if let Some(name) = hit {
            return Some(format!("reads native histogram series {name:?}"));
        }
    }
    let idents = identifiers(&eval.expr);
    for (f, reason) in &policy.functions {
        if idents.iter().any(|i| i == f) && eval.expr.contains(&format!("{f}(")) {
            return Some((*reason).to_owned());
        }
    }
    None
}

/// Identifier-like words of an expression (metric and function names).
fn identifiers(expr: &str) -> Vec<String> {
    expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

fn message_matches(m: &MessageMatch, text: &str) -> bool {
    match m {
        MessageMatch::Any => true,
        MessageMatch::Exact(e) => e == text,
        MessageMatch::Regex(r) => promethium_engine::model::GoRegex::new(&format!(".*(?:{r}).*"))
            .is_ok_and(|re| re.is_match(text)),
    }
}

fn run_eval(engine: &Engine, storage: &dyn Queryable, eval: &EvalCommand) -> Result<(), String> {
    let result = match eval.time {
        EvalTime::Instant { t_ms } => engine.instant_query(storage, &eval.expr, t_ms),
        EvalTime::Range { start_ms, end_ms, step_ms } => {
            engine.range_query(storage, &eval.expr, start_ms, end_ms, step_ms)
        }
    };
    check_result(eval, result)?;
    if let EvalTime::Instant { t_ms } = eval.time {
        check_step_invariance(engine, storage, eval, t_ms)
            .map_err(|e| format!("@ consistency check: {e}"))?;
    }
    // The range-mode consistency check of the reference runner.
    if let EvalTime::Instant { t_ms } = eval.time {
        let uses_bounds =
            ["start()", "end()", "range()", "step()"].iter().any(|f| eval.expr.contains(f));
        if eval.fail.is_none()
            && !eval.ordered
            && eval.range_vector.is_none()
            && eval.string.is_none()
            && !uses_bounds
        {
            let r = engine.range_query(storage, &eval.expr, t_ms - 60_000, t_ms + 60_000, 60_000);
            check_range_mode(eval, t_ms, r).map_err(|e| format!("range-mode check: {e}"))?;
        }
    }
    Ok(())
}

/// Functions whose value depends on the evaluation time even when their
/// arguments do not.
const AT_UNSAFE_FUNCTIONS: [&str; 15] = [
    "time",
    "timestamp",
    "day_of_month",
    "day_of_week",
    "day_of_year",
    "days_in_month",
    "hour",
    "minute",
    "month",
    "year",
    "predict_linear",
    "start",
    "end",
    "range",
    "step",
];

/// Pins every selector and subquery (outside subqueries already pinned)
/// to `@ t_ms`; returns false when a time-dependent function occurs.
fn pin_to(expr: &mut Expr, t_ms: i64) -> bool {
    match expr {
        Expr::VectorSelector(vs) => {
            vs.at.get_or_insert(AtModifier::Timestamp(t_ms));
            true
        }
        Expr::MatrixSelector(ms) => {
            ms.vector_selector.at.get_or_insert(AtModifier::Timestamp(t_ms));
            true
        }
        Expr::Subquery(sq) => {
            if sq.at.is_some() {
                return true;
            }
            sq.at = Some(AtModifier::Timestamp(t_ms));
            // The inner expression is not pinned, but must not depend on time either.
            let mut inner_safe = true;
            sq.expr.walk(&mut |e| {
                if let Expr::Call(c) = e
                    && AT_UNSAFE_FUNCTIONS.contains(&c.func.name)
                {
                    inner_safe = false;
                }
            });
            inner_safe
        }
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) => true,
        Expr::Paren(p) => pin_to(&mut p.expr, t_ms),
        Expr::Unary(u) => pin_to(&mut u.expr, t_ms),
        Expr::Binary(b) => pin_to(&mut b.lhs, t_ms) & pin_to(&mut b.rhs, t_ms),
        Expr::Aggregate(a) => {
            let param = a.param.as_mut().is_none_or(|p| pin_to(p, t_ms));
            pin_to(&mut a.expr, t_ms) & param
        }
        Expr::Call(c) => {
            let safe = !AT_UNSAFE_FUNCTIONS.contains(&c.func.name);
            c.args.iter_mut().fold(safe, |ok, a| pin_to(a, t_ms) & ok)
        }
    }
}

/// The reference runner's step-invariance check: with every selector
/// pinned to the eval time by `@`, the result must be the same at other
/// evaluation times.
fn check_step_invariance(
    engine: &Engine,
    storage: &dyn Queryable,
    eval: &EvalCommand,
    t_ms: i64,
) -> Result<(), String> {
    if eval.fail.is_some() {
        return Ok(());
    }
    let Ok(mut ast) = crate::parser::parse(&eval.expr) else { return Ok(()) };
    if !pin_to(&mut ast, t_ms) {
        return Ok(());
    }
    let times = if t_ms == 0 {
        vec![-1000, 0, 1000]
    } else {
        vec![-10 * t_ms, 0, t_ms / 5, t_ms, 10 * t_ms]
    };
    // Annotations are not compared here: their positions refer to the original text.
    let relaxed = EvalCommand {
        warn: Vec::new(),
        info: Vec::new(),
        no_warn: false,
        no_info: false,
        ..eval.clone()
    };
    for at in times {
        let r = engine.run(storage, &eval.expr, &ast, at, at, 0);
        check_result(&relaxed, r).map_err(|e| format!("evaluated at {at} ms: {e}"))?;
    }
    Ok(())
}

fn check_annotations(
    kind: &str,
    expected: &[MessageMatch],
    forbid: bool,
    got: &[String],
) -> Result<(), String> {
    if forbid && !got.is_empty() {
        return Err(format!("unexpected {kind} annotations: {got:?}"));
    }
    if expected.is_empty() {
        return Ok(());
    }
    if got.is_empty() {
        return Err(format!("expected {kind} annotations, got none"));
    }
    for g in got {
        if !expected.iter().any(|m| message_matches(m, g)) {
            return Err(format!("unexpected {kind} annotation {g:?}, expected {expected:?}"));
        }
    }
    for m in expected {
        if !got.iter().any(|g| message_matches(m, g)) {
            return Err(format!("expected {kind} annotation {m:?} not returned; got {got:?}"));
        }
    }
    Ok(())
}

fn check_result(
    eval: &EvalCommand,
    result: Result<QueryResult, PromqlError>,
) -> Result<(), String> {
    let res = match (result, &eval.fail) {
        (Err(e), Some(m)) => {
            return if message_matches(m, &e.to_string()) {
                Ok(())
            } else {
                Err(format!("error {:?} does not match {m:?}", e.to_string()))
            };
        }
        (Err(e), None) => return Err(format!("unexpected error: {e}")),
        (Ok(_), Some(_)) => return Err("expected an error, the query succeeded".into()),
        (Ok(r), None) => r,
    };
    check_annotations("warn", &eval.warn, eval.no_warn, &res.warnings)?;
    check_annotations("info", &eval.info, eval.no_info, &res.infos)?;
    match (&res.value, eval.time.clone()) {
        (Value::String { value, .. }, _) => match &eval.string {
            Some(s) if s == value => Ok(()),
            other => Err(format!("got string {value:?}, expected {other:?}")),
        },
        (Value::Scalar { value, .. }, _) => match eval.scalar {
            Some(s) if float_eq(s, *value) => Ok(()),
            other => Err(format!("got scalar {value}, expected {other:?}")),
        },
        (Value::Vector(v), EvalTime::Instant { .. }) => {
            if eval.scalar.is_some() || eval.string.is_some() || eval.range_vector.is_some() {
                return Err(format!("got an instant vector {v:?}"));
            }
            let got: Vec<(Labels, f64)> = v.iter().map(|s| (s.labels.clone(), s.value)).collect();
            compare_instant(eval, &got)
        }
        (Value::Matrix(m), time) => {
            let (start, step) = match (time, eval.range_vector) {
                (_, Some((a, _, s))) => (a, s),
                (EvalTime::Range { start_ms, step_ms, .. }, None) => (start_ms, step_ms),
                (EvalTime::Instant { .. }, None) => {
                    return Err(format!("got a range vector {m:?}"));
                }
            };
            if eval.scalar.is_some() || eval.string.is_some() {
                return Err(format!("got a matrix {m:?}"));
            }
            for w in m.windows(2) {
                if w[0].labels >= w[1].labels {
                    return Err("matrix result is not sorted by labels".into());
                }
            }
            compare_matrix(
                eval,
                m.iter()
                    .map(|s| {
                        (s.labels.clone(), s.samples.iter().map(|p| (p.t_ms, p.value)).collect())
                    })
                    .collect(),
                start,
                step,
            )
        }
        (Value::Vector(_), EvalTime::Range { .. }) => {
            Err("range query returned an instant vector".into())
        }
    }
}

fn compare_instant(eval: &EvalCommand, got: &[(Labels, f64)]) -> Result<(), String> {
    if got.len() != eval.series.len() {
        return Err(format!("expected {} series, got {}: {got:?}", eval.series.len(), got.len()));
    }
    for (k, exp) in eval.series.iter().enumerate() {
        let want = exp
            .values
            .iter()
            .find_map(|v| if let SeqValue::Float(f) = v { Some(*f) } else { None });
        let found = if eval.ordered {
            got.get(k).filter(|g| g.0 == exp.labels)
        } else {
            got.iter().find(|g| g.0 == exp.labels)
        };
        match (found, want) {
            (Some((_, v)), Some(w)) if float_eq(w, *v) => {}
            (Some((l, v)), w) => return Err(format!("series {l}: got {v}, expected {w:?}")),
            (None, _) => {
                return Err(format!(
                    "expected series {} not found (or out of order) in {got:?}",
                    exp.labels
                ));
            }
        }
    }
    Ok(())
}

type MatrixRows = Vec<(Labels, Vec<(i64, f64)>)>;

fn compare_matrix(
    eval: &EvalCommand,
    got: MatrixRows,
    start: i64,
    step: i64,
) -> Result<(), String> {
    if got.len() != eval.series.len() {
        return Err(format!(
            "expected {} series, got {}: {:?}",
            eval.series.len(),
            got.len(),
            got.iter().map(|g| g.0.to_string()).collect::<Vec<_>>()
        ));
    }
    for exp in &eval.series {
        let Some((_, points)) = got.iter().find(|g| g.0 == exp.labels) else {
            return Err(format!("expected series {} not found", exp.labels));
        };
        let want: Vec<(i64, f64)> = exp
            .values
            .iter()
            .enumerate()
            .filter_map(|(i, v)| match v {
                SeqValue::Float(f) => Some((start + i as i64 * step, *f)),
                _ => None,
            })
            .collect();
        if want.len() != points.len()
            || want.iter().zip(points).any(|(w, g)| w.0 != g.0 || !float_eq(w.1, g.1))
        {
            return Err(format!("series {}: expected {want:?}, got {points:?}", exp.labels));
        }
    }
    Ok(())
}

fn check_range_mode(
    eval: &EvalCommand,
    t_ms: i64,
    result: Result<QueryResult, PromqlError>,
) -> Result<(), String> {
    let res = result.map_err(|e| format!("unexpected error: {e}"))?;
    let Value::Matrix(m) = res.value else {
        return Err("range query did not return a matrix".into());
    };
    if let Some(s) = eval.scalar {
        let v = m.first().and_then(|r| r.samples.iter().find(|p| p.t_ms == t_ms)).map(|p| p.value);
        return match v {
            Some(v) if float_eq(s, v) => Ok(()),
            other => Err(format!("scalar at t: got {other:?}, expected {s}")),
        };
    }
    let got: Vec<(Labels, f64)> = m
        .iter()
        .filter_map(|r| {
            r.samples.iter().find(|p| p.t_ms == t_ms).map(|p| (r.labels.clone(), p.value))
        })
        .collect();
    compare_instant(eval, &got)
}

/// Float equality of the reference runner: identical, both NaN, or
/// relative difference below 1e-6; the stale marker only equals itself.
pub fn float_eq(a: f64, b: f64) -> bool {
    if is_stale_nan(a) || is_stale_nan(b) {
        return is_stale_nan(a) && is_stale_nan(b);
    }
    crate::functions::stats::almost_equal(a, b, 1e-6)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCRIPT: &str = "load 5m\n  m{a=\"1\"} 0+10x10\n  n{b=\"1\"} 1\n  n{b=\"2\"} 2\n\neval instant at 50m m\n  m{a=\"1\"} 100\n\neval instant at 50m m\n  m{a=\"1\"} 99\n\neval range from 0 to 10m step 5m m * 2\n  {a=\"1\"} 0 20 40\n\neval instant at 0m m + on() n\n  expect fail\n";

    #[test]
    fn reports_passes_and_failures() {
        let report = run_script("x.test", SCRIPT, &SkipPolicy::default());
        assert!(report.script_error.is_none());
        let outcomes: Vec<bool> =
            report.evals.iter().map(|e| e.2 == CommandOutcome::Passed).collect();
        assert_eq!(outcomes, [true, false, true, true], "{:?}", report.evals);
    }

    #[test]
    fn file_skips_apply() {
        let policy = SkipPolicy { files: vec![("x.test", "because")], functions: Vec::new() };
        let report = run_script("x.test", SCRIPT, &policy);
        assert_eq!(report.skipped().len(), 4);
    }

    #[test]
    fn float_comparison_follows_the_reference_runner() {
        assert!(float_eq(1.0, 1.0 + 1e-9));
        assert!(!float_eq(1.0, 1.001));
        assert!(float_eq(f64::NAN, f64::NAN));
        assert!(!float_eq(f64::NAN, promethium_engine::model::stale_nan()));
        assert!(!float_eq(0.0, 1e-300));
    }
}
