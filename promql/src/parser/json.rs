//! The AST as the JSON tree of Prometheus' `/api/v1/parse_query`.
//!
//! Prometheus builds Go maps and lets `encoding/json` write them, so keys
//! come out sorted and strings are escaped HTML-safe; this module writes
//! the same text without a serialisation library.

use std::collections::BTreeMap;

use super::ast::*;
use super::printer::format_go_float;

/// A JSON value with Go's map ordering (keys sorted).
enum Json {
    Null,
    Bool(bool),
    /// A number, already formatted.
    Num(String),
    Str(String),
    Arr(Vec<Json>),
    Obj(BTreeMap<&'static str, Json>),
    /// Already serialised JSON.
    Raw(String),
}

/// The `data` of a `/api/v1/parse_query` response for `expr`.
pub fn to_json(expr: &Expr) -> String {
    let mut out = String::new();
    write(&mut out, &node(expr));
    out
}

fn obj<const N: usize>(entries: [(&'static str, Json); N]) -> Json {
    Json::Obj(entries.into_iter().collect())
}

fn s(v: &str) -> Json {
    Json::Str(v.to_string())
}

fn int(v: i64) -> Json {
    Json::Num(v.to_string())
}

fn list(v: &[String]) -> Json {
    Json::Arr(v.iter().map(|l| s(l)).collect())
}

/// Go's `encoding/json` float format; NaN and infinities (which Go refuses
/// to encode) become `null`.
fn float(v: f64) -> Json {
    if !v.is_finite() {
        return Json::Null;
    }
    let a = v.abs();
    if a != 0.0 && !(1e-6..1e21).contains(&a) {
        let e = format!("{v:e}");
        let (m, exp) = e.split_once('e').expect("`{:e}` output always has an exponent");
        let exp = if exp.starts_with('-') { exp.to_string() } else { format!("+{exp}") };
        return Json::Num(format!("{m}e{exp}"));
    }
    Json::Num(format!("{v}"))
}

fn millis(d: &DurationArg) -> (Json, Json) {
    match d {
        DurationArg::Millis(ms) => (int(*ms), Json::Null),
        DurationArg::Expr(e) => (int(0), duration(e)),
    }
}

fn optional_millis(d: &Option<DurationArg>) -> (Json, Json) {
    match d {
        None => (int(0), Json::Null),
        Some(d) => millis(d),
    }
}

fn at(at: Option<AtModifier>) -> (Json, Json) {
    match at {
        Some(AtModifier::Timestamp(ms)) => (int(ms), Json::Null),
        Some(AtModifier::Start) => (Json::Null, s("start")),
        Some(AtModifier::End) => (Json::Null, s("end")),
        None => (Json::Null, Json::Null),
    }
}

fn value_type(t: ValueType) -> Json {
    s(t.api_name())
}

fn matchers(vs: &VectorSelector) -> Json {
    Json::Arr(
        vs.matchers
            .iter()
            .map(|m| {
                obj([("name", s(&m.name)), ("type", s(m.kind.as_str())), ("value", s(&m.value))])
            })
            .collect(),
    )
}

fn duration_node(op: &str, lhs: Json, rhs: Json, wrapped: bool) -> Json {
    obj([
        ("type", s("durationExpr")),
        ("op", s(op)),
        ("lhs", lhs),
        ("rhs", rhs),
        ("wrapped", Json::Bool(wrapped)),
    ])
}

fn duration(d: &DurationExpr) -> Json {
    match d {
        DurationExpr::Number(n) => obj([
            ("type", s("numberLiteral")),
            ("val", s(&format_go_float(n.value))),
            ("duration", Json::Bool(n.duration)),
        ]),
        DurationExpr::Step(_) => duration_node("step", Json::Null, Json::Null, false),
        DurationExpr::Range(_) => duration_node("range", Json::Null, Json::Null, false),
        DurationExpr::MinOf(a, b, _) => duration_node("min_of", duration(a), duration(b), false),
        DurationExpr::MaxOf(a, b, _) => duration_node("max_of", duration(a), duration(b), false),
        DurationExpr::Unary(op, e, _) => duration_node(op.as_str(), Json::Null, duration(e), false),
        DurationExpr::Binary(op, a, b) => {
            duration_node(op.as_str(), duration(a), duration(b), false)
        }
        DurationExpr::Paren(e, _) => match duration(e) {
            // Prometheus marks the inner expression as wrapped; a wrapped
            // literal becomes a unary `+` around it.
            Json::Obj(mut m) if !matches!(**e, DurationExpr::Number(_)) => {
                m.insert("wrapped", Json::Bool(true));
                Json::Obj(m)
            }
            inner => duration_node("+", Json::Null, inner, true),
        },
    }
}

fn matching(m: Option<&VectorMatching>) -> Json {
    m.map_or(Json::Null, |m| {
        obj([
            ("card", s(m.card.as_str())),
            ("labels", list(&m.matching_labels)),
            ("on", Json::Bool(m.on)),
            ("include", list(&m.include)),
            (
                "fillValues",
                obj([
                    ("lhs", m.fill.lhs.map_or(Json::Null, float)),
                    ("rhs", m.fill.rhs.map_or(Json::Null, float)),
                ]),
            ),
        ])
    })
}

fn node(e: &Expr) -> Json {
    match e {
        Expr::Aggregate(a) => obj([
            ("type", s("aggregation")),
            ("op", s(a.op.as_str())),
            ("expr", node(&a.expr)),
            ("param", a.param.as_ref().map_or(Json::Null, |p| node(p))),
            ("grouping", list(&a.grouping)),
            ("without", Json::Bool(a.without)),
        ]),
        Expr::Binary(b) => {
            // Left-nested chains are written without recursing down the
            // left spine: all the openings, the innermost operand, then the
            // rest of each node from the inside out. Keys are in Go's order.
            let mut spine = vec![b];
            let mut bottom = &*b.lhs;
            while let Expr::Binary(inner) = bottom {
                spine.push(inner);
                bottom = &inner.lhs;
            }
            let mut out = String::new();
            for b in &spine {
                out.push_str(if b.return_bool {
                    r#"{"bool":true,"lhs":"#
                } else {
                    r#"{"bool":false,"lhs":"#
                });
            }
            write(&mut out, &node(bottom));
            for b in spine.iter().rev() {
                out.push_str(r#","matching":"#);
                write(&mut out, &matching(b.matching.as_ref()));
                out.push_str(r#","op":"#);
                write_str(&mut out, b.op.as_str());
                out.push_str(r#","rhs":"#);
                write(&mut out, &node(&b.rhs));
                out.push_str(r#","type":"binaryExpr"}"#);
            }
            Json::Raw(out)
        }
        Expr::Call(c) => obj([
            ("type", s("call")),
            (
                "func",
                obj([
                    ("name", s(c.func.name)),
                    (
                        "argTypes",
                        Json::Arr(c.func.arg_types.iter().map(|t| value_type(*t)).collect()),
                    ),
                    ("variadic", int(i64::from(c.func.variadic))),
                    ("returnType", value_type(c.func.return_type)),
                ]),
            ),
            ("args", Json::Arr(c.args.iter().map(node).collect())),
        ]),
        Expr::MatrixSelector(m) => {
            let vs = &m.vector_selector;
            let (range, range_expr) = millis(&m.range);
            let (offset, offset_expr) = optional_millis(&vs.offset);
            let (timestamp, start_or_end) = at(vs.at);
            obj([
                ("type", s("matrixSelector")),
                ("name", s(vs.name.as_deref().unwrap_or(""))),
                ("range", range),
                ("rangeExpr", range_expr),
                ("offset", offset),
                ("offsetExpr", offset_expr),
                ("matchers", matchers(vs)),
                ("timestamp", timestamp),
                ("startOrEnd", start_or_end),
                ("anchored", Json::Bool(vs.anchored)),
                ("smoothed", Json::Bool(vs.smoothed)),
            ])
        }
        Expr::Subquery(sq) => {
            let (range, range_expr) = millis(&sq.range);
            let (offset, offset_expr) = optional_millis(&sq.offset);
            let (step, step_expr) = optional_millis(&sq.step);
            let (timestamp, start_or_end) = at(sq.at);
            obj([
                ("type", s("subquery")),
                ("expr", node(&sq.expr)),
                ("range", range),
                ("rangeExpr", range_expr),
                ("offset", offset),
                ("offsetExpr", offset_expr),
                ("step", step),
                ("stepExpr", step_expr),
                ("timestamp", timestamp),
                ("startOrEnd", start_or_end),
            ])
        }
        Expr::NumberLiteral(n) => {
            obj([("type", s("numberLiteral")), ("val", s(&format_go_float(n.value)))])
        }
        Expr::Paren(p) => obj([("type", s("parenExpr")), ("expr", node(&p.expr))]),
        Expr::StringLiteral(l) => obj([("type", s("stringLiteral")), ("val", s(&l.value))]),
        Expr::Unary(u) => {
            obj([("type", s("unaryExpr")), ("op", s(u.op.as_str())), ("expr", node(&u.expr))])
        }
        Expr::VectorSelector(vs) => {
            let (offset, offset_expr) = optional_millis(&vs.offset);
            let (timestamp, start_or_end) = at(vs.at);
            obj([
                ("type", s("vectorSelector")),
                ("name", s(vs.name.as_deref().unwrap_or(""))),
                ("offset", offset),
                ("offsetExpr", offset_expr),
                ("matchers", matchers(vs)),
                ("timestamp", timestamp),
                ("startOrEnd", start_or_end),
                ("anchored", Json::Bool(vs.anchored)),
                ("smoothed", Json::Bool(vs.smoothed)),
            ])
        }
    }
}

fn write(out: &mut String, j: &Json) {
    match j {
        Json::Null => out.push_str("null"),
        Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Json::Num(n) | Json::Raw(n) => out.push_str(n),
        Json::Str(v) => write_str(out, v),
        Json::Arr(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write(out, item);
            }
            out.push(']');
        }
        Json::Obj(map) => {
            out.push('{');
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_str(out, k);
                out.push(':');
                write(out, v);
            }
            out.push('}');
        }
    }
}

/// A JSON string escaped as Go's `encoding/json` does (HTML-safe).
pub(crate) fn write_str(out: &mut String, v: &str) {
    out.push('"');
    for c in v.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::super::parse;
    use super::*;

    #[test]
    fn selector_tree_matches_prometheus_shape() {
        let json = to_json(&parse("foo{a=\"<b>\"} offset 5m").unwrap());
        assert_eq!(
            json,
            r#"{"anchored":false,"matchers":[{"name":"a","type":"=","value":"\u003cb\u003e"},{"name":"__name__","type":"=","value":"foo"}],"name":"foo","offset":300000,"offsetExpr":null,"smoothed":false,"startOrEnd":null,"timestamp":null,"type":"vectorSelector"}"#
        );
    }

    #[test]
    fn binary_and_call_trees() {
        let json = to_json(&parse("rate(x[step()]) + on(a) fill(1e6) y").unwrap());
        assert!(json.starts_with(r#"{"bool":false,"lhs":{"args":[{"anchored":false"#), "{json}");
        assert!(json.contains(r#""rangeExpr":{"lhs":null,"op":"step","rhs":null,"type":"durationExpr","wrapped":false}"#));
        assert!(json.contains(
            r#""func":{"argTypes":["matrix"],"name":"rate","returnType":"vector","variadic":0}"#
        ));
        assert!(json.contains(
            r#""matching":{"card":"one-to-one","fillValues":{"lhs":1000000,"rhs":1000000},"include":[],"labels":["a"],"on":true}"#
        ));
    }

    #[test]
    fn wrapped_duration_literal_is_a_unary_plus() {
        let json = to_json(&parse("x[(5m)]").unwrap());
        assert!(json.contains(
            r#""rangeExpr":{"lhs":null,"op":"+","rhs":{"duration":true,"type":"numberLiteral","val":"300"},"type":"durationExpr","wrapped":true}"#
        ), "{json}");
    }
}
