//! JSON and text-format encoding that matches Prometheus byte for byte
//! where clients notice: sample values as strings in Go's shortest `'f'`
//! form (`"NaN"`, `"+Inf"`, `"-Inf"`), timestamps as float seconds with
//! millisecond fractions, and strings escaped as Go's `encoding/json`
//! escapes them (HTML-safe).
//!
//! Query results are written by hand into one buffer: they are the largest
//! responses and a generic serializer would build an intermediate tree.

use promethium_engine::model::Labels;
use promethium_promql::Value;

/// Appends `v` as Go's `strconv.FormatFloat(v, 'f', -1, 64)`, with
/// Prometheus' spellings of the special values. Rust's `Display` for `f64`
/// is also the shortest round-trip form without an exponent.
pub fn push_float(out: &mut String, v: f64) {
    use std::fmt::Write;
    if v.is_nan() {
        out.push_str("NaN");
    } else if v == f64::INFINITY {
        out.push_str("+Inf");
    } else if v == f64::NEG_INFINITY {
        out.push_str("-Inf");
    } else {
        let _ = write!(out, "{v}");
    }
}

/// A float as the API prints it.
pub fn format_float(v: f64) -> String {
    let mut s = String::new();
    push_float(&mut s, v);
    s
}

/// Appends `v` as Go's `strconv.FormatFloat(v, 'g', -1, 64)`, the form the
/// text exposition format uses (`1.5e+06`).
pub fn push_float_text(out: &mut String, v: f64) {
    if !v.is_finite() {
        push_float(out, v);
        return;
    }
    if v == 0.0 {
        out.push_str(if v.is_sign_negative() { "-0" } else { "0" });
        return;
    }
    // `{:e}` gives the shortest round-trip digits as `d.ddddeX`.
    let sci = format!("{v:e}");
    let (mantissa, exp) = sci.split_once('e').expect("LowerExp output always has an exponent");
    let exp: i32 = exp.parse().expect("LowerExp exponent is an integer");
    // Go picks the exponent form for the shortest representation when
    // the decimal exponent is below -4 or at least 6.
    if !(-4..6).contains(&exp) {
        push_go_exp(out, mantissa, exp);
    } else {
        push_float(out, v);
    }
}

fn push_go_exp(out: &mut String, mantissa: &str, exp: i32) {
    out.push_str(mantissa);
    out.push('e');
    out.push(if exp < 0 { '-' } else { '+' });
    let abs = exp.unsigned_abs();
    if abs < 10 {
        out.push('0');
    }
    out.push_str(&abs.to_string());
}

/// Appends a millisecond timestamp as Prometheus' float seconds: integer
/// seconds, then `.` and exactly three digits when the fraction is not zero.
pub fn push_timestamp(out: &mut String, t_ms: i64) {
    use std::fmt::Write;
    if t_ms < 0 {
        out.push('-');
    }
    let abs = t_ms.unsigned_abs();
    let _ = write!(out, "{}", abs / 1000);
    let frac = abs % 1000;
    if frac != 0 {
        let _ = write!(out, ".{frac:03}");
    }
}

/// Appends `s` as a JSON string literal escaped as Go does.
pub fn push_str(out: &mut String, s: &str) {
    use std::fmt::Write;
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Appends a label set as a JSON object.
pub fn push_labels(out: &mut String, labels: &Labels) {
    out.push('{');
    for (i, label) in labels.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_str(out, label.name);
        out.push(':');
        push_str(out, label.value);
    }
    out.push('}');
}

fn push_point(out: &mut String, t_ms: i64, v: f64) {
    out.push('[');
    push_timestamp(out, t_ms);
    out.push_str(",\"");
    push_float(out, v);
    out.push_str("\"]");
}

/// Appends a query result value (the `result` field).
pub fn push_value(out: &mut String, value: &Value) {
    match value {
        Value::Scalar { t_ms, value } => push_point(out, *t_ms, *value),
        Value::String { t_ms, value } => {
            out.push('[');
            push_timestamp(out, *t_ms);
            out.push(',');
            push_str(out, value);
            out.push(']');
        }
        Value::Vector(samples) => {
            out.push('[');
            for (i, s) in samples.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str("{\"metric\":");
                push_labels(out, &s.labels);
                out.push_str(",\"value\":");
                push_point(out, s.t_ms, s.value);
                out.push('}');
            }
            out.push(']');
        }
        Value::Matrix(series) => {
            out.push('[');
            for (i, s) in series.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str("{\"metric\":");
                push_labels(out, &s.labels);
                out.push_str(",\"values\":[");
                for (j, p) in s.samples.iter().enumerate() {
                    if j > 0 {
                        out.push(',');
                    }
                    push_point(out, p.t_ms, p.value);
                }
                out.push_str("]}");
            }
            out.push(']');
        }
    }
}

/// Appends a JSON array of strings.
pub fn push_str_array(out: &mut String, items: &[impl AsRef<str>]) {
    out.push('[');
    for (i, s) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_str(out, s.as_ref());
    }
    out.push(']');
}

#[cfg(test)]
mod tests {
    use super::*;
    use promethium_engine::model::Sample;
    use promethium_promql::{RangeSeries, VectorSample};

    #[test]
    fn floats_match_go_f_format() {
        assert_eq!(format_float(1.0), "1");
        assert_eq!(format_float(0.1), "0.1");
        assert_eq!(format_float(1e21), "1000000000000000000000");
        assert_eq!(format_float(1e-7), "0.0000001");
        assert_eq!(format_float(f64::NAN), "NaN");
        assert_eq!(format_float(f64::INFINITY), "+Inf");
        assert_eq!(format_float(f64::NEG_INFINITY), "-Inf");
        assert_eq!(format_float(-0.0), "-0");
        assert_eq!(format_float(123456.789), "123456.789");
    }

    #[test]
    fn text_floats_match_go_g_format() {
        let g = |v: f64| {
            let mut s = String::new();
            push_float_text(&mut s, v);
            s
        };
        assert_eq!(g(1.0), "1");
        assert_eq!(g(1234567.0), "1.234567e+06");
        assert_eq!(g(123456.0), "123456");
        assert_eq!(g(0.0001), "0.0001");
        assert_eq!(g(0.00001), "1e-05");
        assert_eq!(g(1.5e300), "1.5e+300");
        assert_eq!(g(f64::NAN), "NaN");
    }

    #[test]
    fn timestamps_keep_three_fraction_digits() {
        let ts = |t| {
            let mut s = String::new();
            push_timestamp(&mut s, t);
            s
        };
        assert_eq!(ts(1_435_781_451_781), "1435781451.781");
        assert_eq!(ts(1_500), "1.500");
        assert_eq!(ts(1_005), "1.005");
        assert_eq!(ts(2_000), "2");
        assert_eq!(ts(-1_500), "-1.500");
    }

    #[test]
    fn strings_escape_like_go() {
        let mut s = String::new();
        push_str(&mut s, "a\"b<c>&\n\u{1}");
        assert_eq!(s, r#""a\"b\u003cc\u003e\u0026\n\u0001""#);
    }

    #[test]
    fn values_have_prometheus_shapes() {
        let labels = Labels::new([("__name__", "up"), ("job", "x")]);
        let mut out = String::new();
        push_value(
            &mut out,
            &Value::Vector(vec![VectorSample { labels: labels.clone(), t_ms: 1000, value: 1.0 }]),
        );
        assert_eq!(out, r#"[{"metric":{"__name__":"up","job":"x"},"value":[1,"1"]}]"#);
        out.clear();
        push_value(
            &mut out,
            &Value::Matrix(vec![RangeSeries {
                labels,
                samples: vec![Sample::new(1000, 1.0), Sample::new(2500, f64::INFINITY)],
            }]),
        );
        assert_eq!(
            out,
            r#"[{"metric":{"__name__":"up","job":"x"},"values":[[1,"1"],[2.500,"+Inf"]]}]"#
        );
        out.clear();
        push_value(&mut out, &Value::Scalar { t_ms: 1000, value: 2.0 });
        assert_eq!(out, r#"[1,"2"]"#);
        out.clear();
        push_value(&mut out, &Value::String { t_ms: 1000, value: "hi".into() });
        assert_eq!(out, r#"[1,"hi"]"#);
    }
}
