//! `/api/v1/parse_query`: the parsed expression as Prometheus' JSON tree
//! (`web/api/v1/translate_ast.go` shapes), used by the UI's explain view.

use promethium_engine::model::Matcher;
use promethium_promql::parser::{AtModifier, DurationArg, Expr, VectorSelector};
use serde_json::{Value, json};

use super::json::format_float;

fn duration_ms(d: Option<&DurationArg>) -> Value {
    match d {
        None => json!(0),
        Some(d) => d.as_millis().map_or(Value::Null, |ms| json!(ms)),
    }
}

fn at_fields(at: Option<&AtModifier>) -> (Value, Value) {
    match at {
        None => (Value::Null, Value::Null),
        Some(AtModifier::Timestamp(ms)) => (json!(ms), Value::Null),
        Some(AtModifier::Start) => (Value::Null, json!("start")),
        Some(AtModifier::End) => (Value::Null, json!("end")),
    }
}

fn matchers(ms: &[Matcher]) -> Value {
    Value::Array(
        ms.iter()
            .map(|m| json!({"type": m.kind.as_str(), "name": m.name, "value": m.value}))
            .collect(),
    )
}

fn selector(vs: &VectorSelector, kind: &str, range: Option<&DurationArg>) -> Value {
    let (timestamp, start_or_end) = at_fields(vs.at.as_ref());
    let mut v = json!({
        "type": kind,
        "name": vs.name.clone().unwrap_or_default(),
        "offset": duration_ms(vs.offset.as_ref()),
        "matchers": matchers(&vs.matchers),
        "timestamp": timestamp,
        "startOrEnd": start_or_end,
    });
    if let Some(r) = range {
        v["range"] = duration_ms(Some(r));
    }
    v
}

/// Translates an expression into Prometheus' parse_query JSON.
pub fn translate(expr: &Expr) -> Value {
    match expr {
        Expr::NumberLiteral(n) => json!({"type": "numberLiteral", "val": format_float(n.value)}),
        Expr::StringLiteral(s) => json!({"type": "stringLiteral", "val": s.value}),
        Expr::VectorSelector(vs) => selector(vs, "vectorSelector", None),
        Expr::MatrixSelector(m) => selector(&m.vector_selector, "matrixSelector", Some(&m.range)),
        Expr::Subquery(s) => {
            let (timestamp, start_or_end) = at_fields(s.at.as_ref());
            json!({
                "type": "subquery",
                "expr": translate(&s.expr),
                "range": duration_ms(Some(&s.range)),
                "offset": duration_ms(s.offset.as_ref()),
                "step": duration_ms(s.step.as_ref()),
                "timestamp": timestamp,
                "startOrEnd": start_or_end,
            })
        }
        Expr::Unary(u) => {
            json!({"type": "unaryExpr", "op": u.op.as_str(), "expr": translate(&u.expr)})
        }
        Expr::Binary(b) => {
            let matching = b.matching.as_ref().map_or(Value::Null, |m| {
                json!({"card": m.card.as_str(), "labels": m.matching_labels, "on": m.on, "include": m.include})
            });
            json!({
                "type": "binaryExpr",
                "op": b.op.as_str(),
                "lhs": translate(&b.lhs),
                "rhs": translate(&b.rhs),
                "matching": matching,
                "bool": b.return_bool,
            })
        }
        Expr::Aggregate(a) => json!({
            "type": "aggregation",
            "op": a.op.as_str(),
            "expr": translate(&a.expr),
            "param": a.param.as_deref().map_or(Value::Null, translate),
            "grouping": a.grouping,
            "without": a.without,
        }),
        Expr::Call(c) => json!({
            "type": "call",
            "func": {
                "name": c.func.name,
                "argTypes": c.func.arg_types.iter().map(|t| t.as_str()).collect::<Vec<_>>(),
                "variadic": c.func.variadic,
                "returnType": c.func.return_type.as_str(),
            },
            "args": c.args.iter().map(translate).collect::<Vec<_>>(),
        }),
        Expr::Paren(p) => json!({"type": "parenExpr", "expr": translate(&p.expr)}),
    }
}
