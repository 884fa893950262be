//! The experimental `info()` function: adds the data labels of info series
//! (`target_info` by default) to the series they describe, joined on the
//! identifying labels `instance` and `job`.

use std::collections::{HashMap, HashSet};

use promethium_engine::model::{Labels, LabelsBuilder, METRIC_NAME, MatchType, Matcher};

use crate::PromqlError;
use crate::eval::range::by_step;
use crate::eval::{EvalValue, Evaluator, SeriesCollector};
use crate::parser::ast::{AtModifier, DurationArg, Expr, Span, SubqueryExpr, VectorSelector};

const TARGET_INFO: &str = "target_info";
const IDENTIFYING: [&str; 2] = ["instance", "job"];

/// Name matchers as Prometheus completes them: without an `=` or `=~`
/// matcher on the name, only `*_info` metrics qualify; without any, only
/// `target_info`.
fn effective_name_matchers(matchers: Vec<Matcher>) -> Vec<Matcher> {
    if matchers.iter().any(|m| matches!(m.kind, MatchType::Equal | MatchType::Regex)) {
        return matchers;
    }
    if !matchers.is_empty() {
        let mut out =
            vec![Matcher::new(MatchType::Regex, METRIC_NAME, ".+_info").expect("a valid pattern")];
        out.extend(matchers);
        return out;
    }
    vec![Matcher::equal(METRIC_NAME, TARGET_INFO)]
}

/// `@` and offset of the first selector of the argument, applied to the
/// info series too. Without its own `@`, the selector takes the offsets and
/// the `@` of the subqueries around it, innermost first.
fn first_selector_time(
    ev: &Evaluator<'_, '_>,
    expr: &Expr,
) -> Result<(Option<AtModifier>, i64), PromqlError> {
    fn find<'a>(
        e: &'a Expr,
        path: &mut Vec<&'a SubqueryExpr>,
    ) -> Option<(&'a VectorSelector, Vec<&'a SubqueryExpr>)> {
        match e {
            Expr::VectorSelector(vs) => Some((vs, path.clone())),
            Expr::MatrixSelector(ms) => Some((&ms.vector_selector, path.clone())),
            Expr::Subquery(sq) => {
                path.push(sq);
                let r = find(&sq.expr, path);
                path.pop();
                r
            }
            other => other.children().into_iter().find_map(|c| find(c, path)),
        }
    }
    let Some((vs, path)) = find(expr, &mut Vec::new()) else { return Ok((None, 0)) };
    let mut at = vs.at;
    let mut offset = ev.offset(vs.offset.as_ref())?;
    for sq in path.iter().rev() {
        if at.is_some() {
            break;
        }
        offset += ev.offset(sq.offset.as_ref())?;
        at = sq.at;
    }
    Ok((at, offset))
}

/// Escapes regex metacharacters like Go's `regexp.QuoteMeta`.
fn quote_meta(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn join_key(name: &str, labels: &Labels) -> (String, String, String) {
    (
        name.to_owned(),
        labels.get("instance").unwrap_or("").to_owned(),
        labels.get("job").unwrap_or("").to_owned(),
    )
}

pub(super) fn eval_info(ev: &Evaluator<'_, '_>, args: &[Expr]) -> Result<EvalValue, PromqlError> {
    let (at, offset_ms) = first_selector_time(ev, &args[0])?;
    let base = ev.eval_vector(&args[0])?;
    let mut data_matchers: HashMap<String, Vec<Matcher>> = HashMap::new();
    let mut name_matchers = Vec::new();
    if let Some(Expr::VectorSelector(sel)) = args.get(1).map(Expr::unwrap_parens) {
        for m in &sel.matchers {
            data_matchers.entry(m.name.clone()).or_default().push(m.clone());
            if m.name == METRIC_NAME {
                name_matchers.push(m.clone());
            }
        }
    } else {
        name_matchers.push(Matcher::equal(METRIC_NAME, TARGET_INFO));
    }
    let effective = effective_name_matchers(name_matchers);
    let ignored: Vec<bool> = base
        .iter()
        .map(|s| {
            let name = s.labels.metric_name().unwrap_or("");
            effective.iter().all(|m| m.matches(name))
        })
        .collect();

    // Identifying label values of the series to enrich.
    let mut id_values: HashMap<&str, HashSet<String>> = HashMap::new();
    for (s, _) in base.iter().zip(&ignored).filter(|(_, ig)| !**ig) {
        for l in IDENTIFYING {
            if let Some(v) = s.labels.get(l) {
                id_values.entry(l).or_default().insert(v.to_owned());
            }
        }
    }
    let info_name_matchers: Vec<Matcher> =
        data_matchers.get(METRIC_NAME).cloned().unwrap_or_default();
    data_matchers.remove(METRIC_NAME);
    let info_series = if id_values.is_empty() {
        Vec::new()
    } else {
        let mut matchers = Vec::new();
        let mut names: Vec<&&str> = id_values.keys().collect();
        names.sort();
        for name in names {
            let mut values: Vec<&String> = id_values[*name].iter().collect();
            values.sort();
            let pattern = values.iter().map(|v| quote_meta(v)).collect::<Vec<_>>().join("|");
            matchers.push(
                Matcher::new(MatchType::Regex, *name, pattern)
                    .map_err(|e| PromqlError::Execution(e.to_string()))?,
            );
        }
        for ms in data_matchers.values() {
            matchers.extend(ms.iter().cloned());
        }
        matchers.extend(effective_name_matchers(info_name_matchers));
        let selector = VectorSelector {
            name: None,
            matchers,
            offset: Some(DurationArg::Millis(offset_ms)),
            at,
            anchored: false,
            smoothed: false,
            span: Span::default(),
        };
        // Values are the original sample timestamps: the newest info sample wins.
        ev.eval_vector_selector(&selector, true)?
    };

    let info_names: HashSet<&str> =
        info_series.iter().filter_map(|s| s.labels.metric_name()).collect();
    let base_keys: Vec<Vec<(String, String, String)>> =
        base.iter().map(|s| info_names.iter().map(|n| join_key(n, &s.labels)).collect()).collect();
    let info_keys: Vec<(String, String, String)> = info_series
        .iter()
        .map(|s| join_key(s.labels.metric_name().unwrap_or(""), &s.labels))
        .collect();
    let base_steps = by_step(ev, &base);
    let info_steps = by_step(ev, &info_series);
    let all_match_empty = data_matchers.values().flatten().all(|m| m.matches(""));
    let mut out = SeriesCollector::default();
    for (step, values) in base_steps.iter().enumerate() {
        let t = ev.step_ts(step);
        let mut by_key: HashMap<&(String, String, String), (usize, f64)> = HashMap::new();
        for &(ii, orig_t) in &info_steps[step] {
            let key = &info_keys[ii];
            match by_key.get(key) {
                Some(&(prev, prev_t)) if prev_t == orig_t => {
                    return Err(PromqlError::Execution(format!(
                        "found duplicate series for info metric: existing {} @ {}, new {} @ {}",
                        info_series[prev].labels,
                        (prev_t * 1000.0) as i64,
                        info_series[ii].labels,
                        (orig_t * 1000.0) as i64
                    )));
                }
                Some(&(_, prev_t)) if prev_t > orig_t => {}
                _ => {
                    by_key.insert(key, (ii, orig_t));
                }
            }
        }
        for &(si, v) in values {
            let series = &base[si];
            if ignored[si] {
                out.push(series.labels.clone(), series.drop_name, t, v)?;
                continue;
            }
            let mut added = LabelsBuilder::new();
            let mut seen = false;
            for key in &base_keys[si] {
                let Some(&(ii, _)) = by_key.get(key) else { continue };
                seen = true;
                for l in info_series[ii].labels.iter() {
                    if l.name == METRIC_NAME
                        || (!data_matchers.is_empty() && !data_matchers.contains_key(l.name))
                    {
                        continue;
                    }
                    if added.get(l.name).is_some_and(|v| v != l.value) {
                        return Err(PromqlError::Execution(format!(
                            "conflicting label: {}",
                            l.name
                        )));
                    }
                    if series.labels.get(l.name).is_some() {
                        continue;
                    }
                    added.set(l.name, l.value);
                }
            }
            if !seen && !all_match_empty {
                continue;
            }
            let mut b = series.labels.to_builder();
            for l in added.iter() {
                b.set(l.name, l.value);
            }
            out.push(b.build(), series.drop_name, t, v)?;
        }
    }
    Ok(EvalValue::Vector(out.finish()))
}
