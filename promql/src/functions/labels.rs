//! `label_replace`, `label_join` and label ordering for `sort_by_label`.

use std::cmp::Ordering;

use promethium_engine::model::{GoRegex, Labels, METRIC_NAME};

use crate::PromqlError;
use crate::eval::{EvalValue, Evaluator, merge_same_labels};
use crate::parser::ast::Expr;

/// Whether `name` is a valid label name (UTF-8, non-empty), as Prometheus 3 checks.
fn valid_label_name(name: &str) -> bool {
    !name.is_empty()
}

/// A string literal argument that is not valid UTF-8 (Go escapes such as
/// `"\xff"` allow that); such a string is never a valid label name.
pub(crate) fn invalid_utf8_literal(e: &Expr) -> bool {
    matches!(e.unwrap_parens(), Expr::StringLiteral(s) if s.invalid_utf8.is_some())
}

fn set_label(labels: &Labels, name: &str, value: &str) -> Labels {
    let mut b = labels.to_builder();
    if value.is_empty() {
        b.del(name);
    } else {
        b.set(name, value);
    }
    b.build()
}

pub(super) fn label_replace(
    ev: &Evaluator<'_, '_>,
    args: &[Expr],
) -> Result<EvalValue, PromqlError> {
    let dst = ev.eval_string(&args[1])?;
    let repl = ev.eval_string(&args[2])?;
    let src = ev.eval_string(&args[3])?;
    let pattern = ev.eval_string(&args[4])?;
    let regex = GoRegex::new(&pattern).map_err(|_| {
        PromqlError::Execution(format!("invalid regular expression in label_replace(): {pattern}"))
    })?;
    if !valid_label_name(&dst) || invalid_utf8_literal(&args[1]) {
        return Err(PromqlError::Execution(format!(
            "invalid destination label name in label_replace(): {dst}"
        )));
    }
    let mut series = ev.eval_vector(&args[0])?;
    for s in &mut series {
        let value = s.labels.get(&src).unwrap_or("");
        if let Some(caps) = regex.regex().captures(value) {
            let mut out = String::new();
            caps.expand(&repl, &mut out);
            s.labels = set_label(&s.labels, &dst, &out);
            if dst == METRIC_NAME {
                s.drop_name = false;
            }
        }
    }
    Ok(EvalValue::Vector(merge_same_labels(series)?))
}

pub(super) fn label_join(ev: &Evaluator<'_, '_>, args: &[Expr]) -> Result<EvalValue, PromqlError> {
    let dst = ev.eval_string(&args[1])?;
    let sep = ev.eval_string(&args[2])?;
    let mut srcs = Vec::with_capacity(args.len().saturating_sub(3));
    for a in &args[3..] {
        let src = ev.eval_string(a)?;
        if !valid_label_name(&src) || invalid_utf8_literal(a) {
            return Err(PromqlError::Execution(format!(
                "invalid source label name in label_join(): {src}"
            )));
        }
        srcs.push(src);
    }
    if !valid_label_name(&dst) || invalid_utf8_literal(&args[1]) {
        return Err(PromqlError::Execution(format!(
            "invalid destination label name in label_join(): {dst}"
        )));
    }
    let mut series = ev.eval_vector(&args[0])?;
    for s in &mut series {
        let joined =
            srcs.iter().map(|n| s.labels.get(n).unwrap_or("")).collect::<Vec<_>>().join(&sep);
        s.labels = set_label(&s.labels, &dst, &joined);
        if dst == METRIC_NAME {
            s.drop_name = false;
        }
    }
    Ok(EvalValue::Vector(merge_same_labels(series)?))
}

/// Orders by the values of `names` (natural order, so `a2 < a10`), then by
/// the full label set.
pub(super) fn compare_by_labels(a: &Labels, b: &Labels, names: &[String]) -> Ordering {
    for n in names {
        let (x, y) = (a.get(n).unwrap_or(""), b.get(n).unwrap_or(""));
        if x == y {
            continue;
        }
        return natural_cmp(x, y);
    }
    a.cmp(b)
}

/// Natural string order: runs of digits compare by numeric value.
pub(super) fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (ab, bb) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < ab.len() && j < bb.len() {
        if ab[i].is_ascii_digit() && bb[j].is_ascii_digit() {
            let si = i;
            while i < ab.len() && ab[i].is_ascii_digit() {
                i += 1;
            }
            let sj = j;
            while j < bb.len() && bb[j].is_ascii_digit() {
                j += 1;
            }
            let x = a[si..i].trim_start_matches('0');
            let y = b[sj..j].trim_start_matches('0');
            let ord = x.len().cmp(&y.len()).then_with(|| x.cmp(y));
            if ord != Ordering::Equal {
                return ord;
            }
        } else {
            let ord = ab[i].cmp(&bb[j]);
            if ord != Ordering::Equal {
                return ord;
            }
            i += 1;
            j += 1;
        }
    }
    (ab.len() - i).cmp(&(bb.len() - j))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn natural_order() {
        assert_eq!(natural_cmp("a2", "a10"), Ordering::Less);
        assert_eq!(natural_cmp("b", "a10"), Ordering::Greater);
        assert_eq!(natural_cmp("abc", "abc"), Ordering::Equal);
        assert_eq!(natural_cmp("ab", "abc"), Ordering::Less);
    }
}
