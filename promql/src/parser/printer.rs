//! Canonical text of an AST, as Prometheus' `Expr.String()` (and so
//! `/api/v1/format_query`) writes it: single spaces around binary
//! operators, sorted matchers, durations normalised (`90s` becomes `1m30s`),
//! strings re-quoted with Go escapes, `@` timestamps with three decimals.
//! Parsing the output gives the same tree back.

use std::fmt::{self, Write};

use promethium_engine::model::Matcher;

use super::ast::*;
use super::quote::go_quote;

/// The canonical text of `expr` (same as `expr.to_string()`).
pub fn format(expr: &Expr) -> String {
    expr.to_string()
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::NumberLiteral(n) => f.write_str(&format_number_literal(n)),
            Expr::StringLiteral(s) => match &s.invalid_utf8 {
                Some(bytes) => f.write_str(&super::quote::go_quote_bytes(bytes)),
                None => f.write_str(&go_quote(&s.value)),
            },
            Expr::VectorSelector(vs) => {
                write_selector_base(f, vs)?;
                write_at(f, vs.at)?;
                write_extended(f, vs)?;
                write_offset(f, &vs.offset)
            }
            Expr::MatrixSelector(m) => {
                write_selector_base(f, &m.vector_selector)?;
                write!(f, "[{}]", DurationArgDisplay(&m.range))?;
                write_extended(f, &m.vector_selector)?;
                write_at(f, m.vector_selector.at)?;
                write_offset(f, &m.vector_selector.offset)
            }
            Expr::Subquery(s) => {
                write!(f, "{}[{}:", s.expr, DurationArgDisplay(&s.range))?;
                match &s.step {
                    Some(DurationArg::Millis(0)) | None => {}
                    Some(step) => write!(f, "{}", DurationArgDisplay(step))?,
                }
                f.write_char(']')?;
                write_at(f, s.at)?;
                write_offset(f, &s.offset)
            }
            Expr::Unary(u) => write!(f, "{}{}", u.op.as_str(), u.expr),
            Expr::Binary(b) => {
                // Left-nested chains (`a + b + c ...`) are printed without
                // recursing down the left spine.
                let mut spine = vec![b];
                let mut bottom = &*b.lhs;
                while let Expr::Binary(inner) = bottom {
                    spine.push(inner);
                    bottom = &inner.lhs;
                }
                write!(f, "{bottom}")?;
                for b in spine.iter().rev() {
                    write!(f, " {}", b.op.as_str())?;
                    if b.return_bool {
                        f.write_str(" bool")?;
                    }
                    if let Some(m) = &b.matching {
                        write_matching(f, m)?;
                    }
                    write!(f, " {}", b.rhs)?;
                }
                Ok(())
            }
            Expr::Aggregate(a) => {
                f.write_str(a.op.as_str())?;
                if a.without {
                    write!(f, " without ({}) ", LabelList(&a.grouping))?;
                } else if !a.grouping.is_empty() {
                    write!(f, " by ({}) ", LabelList(&a.grouping))?;
                }
                f.write_char('(')?;
                if let Some(p) = &a.param {
                    write!(f, "{p}, ")?;
                }
                write!(f, "{})", a.expr)
            }
            Expr::Call(c) => {
                write!(f, "{}(", c.func.name)?;
                for (i, a) in c.args.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{a}")?;
                }
                f.write_char(')')
            }
            Expr::Paren(p) => write!(f, "({})", p.expr),
        }
    }
}

impl fmt::Display for DurationExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DurationExpr::Number(n) => f.write_str(&format_number_literal(n)),
            DurationExpr::Step(_) => f.write_str("step()"),
            DurationExpr::Range(_) => f.write_str("range()"),
            DurationExpr::MinOf(a, b, _) => write!(f, "min_of({a}, {b})"),
            DurationExpr::MaxOf(a, b, _) => write!(f, "max_of({a}, {b})"),
            DurationExpr::Unary(UnaryOp::Neg, e, _) => write!(f, "-{e}"),
            DurationExpr::Unary(UnaryOp::Pos, e, _) => write!(f, "{e}"),
            DurationExpr::Binary(op, a, b) => write!(f, "{a} {} {b}", op.as_str()),
            DurationExpr::Paren(e, _) => write!(f, "({e})"),
        }
    }
}

struct DurationArgDisplay<'a>(&'a DurationArg);

impl fmt::Display for DurationArgDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            DurationArg::Millis(ms) if *ms < 0 => write!(f, "-{}", format_duration_ms(-ms)),
            DurationArg::Millis(ms) => f.write_str(&format_duration_ms(*ms)),
            DurationArg::Expr(e) => write!(f, "{e}"),
        }
    }
}

fn write_selector_base(f: &mut fmt::Formatter<'_>, vs: &VectorSelector) -> fmt::Result {
    let mut parts: Vec<String> = vs
        .matchers
        .iter()
        .filter(|m| {
            !(m.name == "__name__"
                && m.kind == promethium_engine::model::MatchType::Equal
                && Some(&m.value) == vs.name.as_ref()
                && !m.value.is_empty())
        })
        .map(format_matcher)
        .collect();
    if let Some(name) = &vs.name {
        f.write_str(name)?;
    }
    if !parts.is_empty() {
        parts.sort();
        write!(f, "{{{}}}", parts.join(","))?;
    } else if vs.name.is_none() {
        // Only `info`'s second argument may be empty; Prometheus prints
        // nothing there, which does not parse back, so we print `{}`.
        f.write_str("{}")?;
    }
    Ok(())
}

fn write_at(f: &mut fmt::Formatter<'_>, at: Option<AtModifier>) -> fmt::Result {
    match at {
        Some(AtModifier::Timestamp(ms)) => write!(f, " @ {}", format_timestamp_ms(ms)),
        Some(AtModifier::Start) => f.write_str(" @ start()"),
        Some(AtModifier::End) => f.write_str(" @ end()"),
        None => Ok(()),
    }
}

fn write_extended(f: &mut fmt::Formatter<'_>, vs: &VectorSelector) -> fmt::Result {
    if vs.anchored {
        f.write_str(" anchored")
    } else if vs.smoothed {
        f.write_str(" smoothed")
    } else {
        Ok(())
    }
}

fn write_offset(f: &mut fmt::Formatter<'_>, offset: &Option<DurationArg>) -> fmt::Result {
    match offset {
        None | Some(DurationArg::Millis(0)) => Ok(()),
        Some(d) => write!(f, " offset {}", DurationArgDisplay(d)),
    }
}

fn write_matching(f: &mut fmt::Formatter<'_>, m: &VectorMatching) -> fmt::Result {
    let grouped =
        matches!(m.card, VectorMatchCardinality::ManyToOne | VectorMatchCardinality::OneToMany);
    if !m.matching_labels.is_empty() || m.on || grouped {
        let tag = if m.on { "on" } else { "ignoring" };
        write!(f, " {tag} ({})", LabelList(&m.matching_labels))?;
    }
    if grouped {
        let side = if m.card == VectorMatchCardinality::ManyToOne { "left" } else { "right" };
        write!(f, " group_{side} ({})", LabelList(&m.include))?;
    }
    match (m.fill.lhs, m.fill.rhs) {
        (Some(l), Some(r)) if l == r => write!(f, " fill ({})", format_go_g(l))?,
        (l, r) => {
            if let Some(l) = l {
                write!(f, " fill_left ({})", format_go_g(l))?;
            }
            if let Some(r) = r {
                write!(f, " fill_right ({})", format_go_g(r))?;
            }
        }
    }
    Ok(())
}

struct LabelList<'a>(&'a [String]);

impl fmt::Display for LabelList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, l) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            if is_legacy_label_name(l) {
                f.write_str(l)?;
            } else {
                f.write_str(&go_quote(l))?;
            }
        }
        Ok(())
    }
}

/// `[a-zA-Z_][a-zA-Z0-9_]*`: names that need no quotes.
pub(crate) fn is_legacy_label_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

/// A matcher as Prometheus' `Matcher.String()` writes it: the name quoted
/// when it is not a legacy label name, the value always Go-quoted.
pub fn format_matcher(m: &Matcher) -> String {
    let name = if is_legacy_label_name(&m.name) { m.name.clone() } else { go_quote(&m.name) };
    format!("{name}{}{}", m.kind.as_str(), go_quote(&m.value))
}

/// Prometheus' pretty form (`Expr.Pretty(0)`), which `/api/v1/format_query`
/// returns: expressions longer than 100 bytes are split over lines and
/// indented two spaces per level; shorter ones print as [`format`] does.
pub fn pretty(expr: &Expr) -> String {
    pretty_with_width(expr, 100)
}

/// [`pretty`] with another line-length limit (Prometheus' tests use 10).
pub fn pretty_with_width(expr: &Expr, max_line: usize) -> String {
    pretty_at(expr, 0, max_line)
}

fn indent(level: usize) -> String {
    "  ".repeat(level)
}

fn pretty_at(e: &Expr, level: usize, max: usize) -> String {
    let flat = e.to_string();
    let split = flat.len() > max;
    let pad = indent(level);
    match e {
        Expr::Aggregate(a) if split => {
            let mut out = format!("{pad}{}", a.op.as_str());
            if a.without {
                out.push_str(&format!(" without ({}) ", LabelList(&a.grouping)));
            } else if !a.grouping.is_empty() {
                out.push_str(&format!(" by ({}) ", LabelList(&a.grouping)));
            }
            out.push_str("(\n");
            if let Some(p) = &a.param {
                out.push_str(&format!("{},\n", pretty_at(p, level + 1, max)));
            }
            out.push_str(&format!("{}\n{pad})", pretty_at(&a.expr, level + 1, max)));
            out
        }
        Expr::Binary(_) if split => pretty_binary_chain(e, level, max),
        Expr::Call(c) if split => {
            let args: Vec<String> = c.args.iter().map(|a| pretty_at(a, level + 1, max)).collect();
            format!("{pad}{}(\n{}\n{pad})", c.func.name, args.join(",\n"))
        }
        Expr::Paren(p) if split => {
            format!("{pad}(\n{}\n{pad})", pretty_at(&p.expr, level + 1, max))
        }
        // Prometheus writes an unsplit subquery without indentation.
        Expr::Subquery(_) if !split => flat,
        Expr::Subquery(s) => {
            let full = flat;
            let inner = s.expr.to_string();
            let suffix = full.strip_prefix(&inner).unwrap_or("");
            format!("{}{suffix}", pretty_at(&s.expr, level, max))
        }
        Expr::Unary(u) => {
            let child = pretty_at(&u.expr, level, max);
            format!("{pad}{}{}", u.op.as_str(), child.trim())
        }
        _ => format!("{pad}{flat}"),
    }
}

/// Pretty form of a (split) binary expression, walking the left spine of
/// a chain iteratively: node `i` of the spine sits at indentation
/// `level + i`.
fn pretty_binary_chain(e: &Expr, level: usize, max: usize) -> String {
    let mut spine = Vec::new();
    let mut bottom = e;
    while let Expr::Binary(b) = bottom {
        if bottom.to_string().len() <= max && !spine.is_empty() {
            break;
        }
        spine.push(b);
        bottom = &b.lhs;
    }
    let mut out = pretty_at(bottom, level + spine.len(), max);
    for (i, b) in spine.iter().enumerate().rev() {
        let lvl = level + i;
        let mut op = b.op.as_str().to_string();
        if b.return_bool {
            op.push_str(" bool");
        }
        let matching =
            b.matching.as_ref().map(|m| MatchingDisplay(m).to_string()).unwrap_or_default();
        out = format!("{out}\n{}{op}{matching}\n{}", indent(lvl), pretty_at(&b.rhs, lvl + 1, max));
    }
    out
}

struct MatchingDisplay<'a>(&'a VectorMatching);

impl fmt::Display for MatchingDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_matching(f, self.0)
    }
}

/// A number literal: Go's shortest `'f'` formatting, or a duration.
fn format_number_literal(n: &NumberLiteral) -> String {
    if n.duration {
        // model.Duration(seconds * 1e9).String(), with the sign in front.
        let ms = |v: f64| ((v * 1e9) as i64) / 1_000_000;
        if n.value < 0.0 {
            return format!("-{}", format_duration_ms(ms(-n.value)));
        }
        return format_duration_ms(ms(n.value));
    }
    format_go_float(n.value)
}

/// Go's `strconv.FormatFloat(v, 'f', -1, 64)`.
pub fn format_go_float(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf".into() } else { "-Inf".into() }
    } else {
        // Rust's Display is the shortest round-tripping decimal without exponent.
        format!("{v}")
    }
}

/// Go's `%v` / `strconv.FormatFloat(v, 'g', -1, 64)`: shortest digits,
/// exponent form when the decimal exponent is < -4 or >= 6.
pub fn format_go_g(v: f64) -> String {
    if !v.is_finite() {
        return format_go_float(v);
    }
    if v == 0.0 {
        return if v.is_sign_negative() { "-0".into() } else { "0".into() };
    }
    let sci = format!("{v:e}");
    let (mantissa, exp) = sci.split_once('e').expect("`{:e}` output always has an exponent");
    let exp: i32 = exp.parse().expect("`{:e}` exponent is an integer");
    if !(-4..6).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        return format!("{mantissa}e{sign}{:02}", exp.abs());
    }
    format!("{v}")
}

/// A timestamp in milliseconds as seconds with three decimals (`%.3f`).
fn format_timestamp_ms(ms: i64) -> String {
    format!("{:.3}", ms as f64 / 1000.0)
}

/// Prometheus' `model.Duration.String()` of a non-negative millisecond count:
/// `1h30m`, `90d` (years and weeks only when exact), `0s` for zero.
pub fn format_duration_ms(ms: i64) -> String {
    if ms == 0 {
        return "0s".into();
    }
    let mut ms = ms;
    let mut out = String::new();
    let units: [(&str, i64, bool); 7] = [
        ("y", 1000 * 60 * 60 * 24 * 365, true),
        ("w", 1000 * 60 * 60 * 24 * 7, true),
        ("d", 1000 * 60 * 60 * 24, false),
        ("h", 1000 * 60 * 60, false),
        ("m", 1000 * 60, false),
        ("s", 1000, false),
        ("ms", 1, false),
    ];
    for (unit, mult, exact) in units {
        if exact && ms % mult != 0 {
            continue;
        }
        let v = ms / mult;
        if v > 0 {
            let _ = write!(out, "{v}{unit}");
            ms -= v * mult;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_format_like_model_duration() {
        assert_eq!(format_duration_ms(90_000), "1m30s");
        assert_eq!(format_duration_ms(0), "0s");
        assert_eq!(format_duration_ms(90 * 86_400_000), "90d");
        assert_eq!(format_duration_ms(14 * 86_400_000), "2w");
        assert_eq!(format_duration_ms(365 * 86_400_000), "1y");
        assert_eq!(format_duration_ms(1_500), "1s500ms");
    }

    #[test]
    fn floats_format_like_go() {
        assert_eq!(format_go_float(1e21), "1000000000000000000000");
        assert_eq!(format_go_float(0.1), "0.1");
        assert_eq!(format_go_float(f64::NEG_INFINITY), "-Inf");
        assert_eq!(format_go_g(1e6), "1e+06");
        assert_eq!(format_go_g(123456.0), "123456");
        assert_eq!(format_go_g(1234567.0), "1.234567e+06");
        assert_eq!(format_go_g(0.0001), "0.0001");
        assert_eq!(format_go_g(0.00001), "1e-05");
    }
}
