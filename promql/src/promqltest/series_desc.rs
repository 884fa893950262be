//! Series descriptions: `metric{a="b"} 0+10x5 _ stale 1`.
//!
//! The same notation describes data to load and expected results, so one
//! reader serves both. Native histogram items (`{{...}}`) are recognised
//! and counted but not decoded: their evaluation is not implemented, and
//! the runner only needs to know where they are to skip the commands that
//! depend on them.

use promethium_engine::model::{Labels, METRIC_NAME};

/// One slot of an expanded value sequence.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SeqValue {
    /// `_`: no sample at this slot.
    Omitted,
    /// A float sample (the stale marker included, bit-exact).
    Float(f64),
    /// A native histogram sample (not decoded).
    Histogram,
}

/// A parsed series description.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesDesc {
    /// The label set, `__name__` included.
    pub labels: Labels,
    /// The expanded values, one per slot.
    pub values: Vec<SeqValue>,
}

impl SeriesDesc {
    /// Whether any slot holds a native histogram.
    pub fn has_histograms(&self) -> bool {
        self.values.iter().any(|v| matches!(v, SeqValue::Histogram))
    }
}

/// Why a series description could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DescError(pub String);

fn err<T>(msg: impl Into<String>) -> Result<T, DescError> {
    Err(DescError(msg.into()))
}

/// Parses `<labels> <value-sequence>`.
pub fn parse_series_desc(line: &str) -> Result<SeriesDesc, DescError> {
    let (labels, rest) = parse_labels(line)?;
    let values = parse_values(rest)?;
    Ok(SeriesDesc { labels, values })
}

/// Parses a label set at the start of `s` (`name`, `name{...}` or `{...}`)
/// and returns it with the remaining text.
pub fn parse_labels(s: &str) -> Result<(Labels, &str), DescError> {
    let s = s.trim_start();
    let mut pairs: Vec<(String, String)> = Vec::new();
    let name_len =
        s.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':')).unwrap_or(s.len());
    if name_len > 0 {
        pairs.push((METRIC_NAME.to_owned(), s[..name_len].to_owned()));
    }
    let mut rest = &s[name_len..];
    if let Some(body) = rest.strip_prefix('{') {
        rest = body;
        loop {
            rest = rest.trim_start();
            if let Some(r) = rest.strip_prefix('}') {
                rest = r;
                break;
            }
            let (name, r) = if rest.starts_with(['"', '\'', '`']) {
                let (v, r) = parse_quoted(rest)?;
                (v, r)
            } else {
                let n = rest
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(rest.len());
                if n == 0 {
                    return err(format!("unexpected character in label set: {rest:?}"));
                }
                (rest[..n].to_owned(), &rest[n..])
            };
            let r = r.trim_start();
            if let Some(r) = r.strip_prefix('=') {
                let (value, r) = parse_quoted(r.trim_start())?;
                pairs.push((name, value));
                rest = r;
            } else {
                // A quoted name alone sets the metric name: {"my.metric"}.
                pairs.push((METRIC_NAME.to_owned(), name));
                rest = r;
            }
            rest = rest.trim_start();
            if let Some(r) = rest.strip_prefix(',') {
                rest = r;
            } else if !rest.starts_with('}') {
                return err(format!("expected ',' or '}}' in label set: {rest:?}"));
            }
        }
    } else if name_len == 0 {
        return err(format!("expected a metric name or label set: {s:?}"));
    }
    let labels =
        Labels::try_from_pairs(pairs).map_err(|e| DescError(format!("duplicate label {}", e.0)))?;
    Ok((labels, rest))
}

/// Reads a PromQL string literal (`"..."`, `'...'` or `` `...` ``) at the
/// start of `s`, returning its value and the rest.
pub fn parse_quoted(s: &str) -> Result<(String, &str), DescError> {
    let mut chars = s.char_indices();
    let Some((_, quote)) = chars.next() else { return err("expected a string") };
    if !matches!(quote, '"' | '\'' | '`') {
        return err(format!("expected a string: {s:?}"));
    }
    let mut out = String::new();
    while let Some((i, c)) = chars.next() {
        if c == quote {
            return Ok((out, &s[i + 1..]));
        }
        if c == '\\' && quote != '`' {
            let Some((_, e)) = chars.next() else { break };
            match e {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'r' => out.push('\r'),
                'a' => out.push('\x07'),
                'b' => out.push('\x08'),
                'f' => out.push('\x0c'),
                'v' => out.push('\x0b'),
                '\\' | '"' | '\'' => out.push(e),
                'x' | 'u' | 'U' => {
                    let n = match e {
                        'x' => 2,
                        'u' => 4,
                        _ => 8,
                    };
                    let hex: String = chars.by_ref().take(n).map(|(_, c)| c).collect();
                    let code = u32::from_str_radix(&hex, 16)
                        .map_err(|_| DescError(format!("bad escape \\{e}{hex}")))?;
                    if e == 'x' {
                        // Go's \x is a byte; only ASCII is meaningful in test data.
                        out.push(char::from_u32(code).unwrap_or('\u{fffd}'));
                    } else {
                        out.push(
                            char::from_u32(code)
                                .ok_or_else(|| DescError(format!("bad code point {code:x}")))?,
                        );
                    }
                }
                '0'..='7' => {
                    let rest: String = chars.by_ref().take(2).map(|(_, c)| c).collect();
                    let code = u32::from_str_radix(&format!("{e}{rest}"), 8)
                        .map_err(|_| DescError("bad octal escape".to_owned()))?;
                    out.push(char::from_u32(code).unwrap_or('\u{fffd}'));
                }
                other => return err(format!("unknown escape sequence \\{other}")),
            }
        } else {
            out.push(c);
        }
    }
    err(format!("unterminated string: {s:?}"))
}

/// Splits a value sequence into items on whitespace, keeping `{{...}}`
/// histogram literals (which contain spaces) whole.
fn split_items(s: &str) -> Result<Vec<&str>, DescError> {
    let bytes = s.as_bytes();
    let mut items = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !bytes[i].is_ascii_whitespace() {
            if bytes[i..].starts_with(b"{{") {
                match s[i..].find("}}") {
                    Some(end) => i += end + 2,
                    None => return err("unterminated native histogram literal"),
                }
            } else {
                i += 1;
            }
        }
        items.push(&s[start..i]);
    }
    Ok(items)
}

/// Parses a float as series descriptions write it (no hexadecimal).
pub fn parse_number(s: &str) -> Option<f64> {
    let lower = s.to_ascii_lowercase();
    let body = lower.trim_start_matches(['+', '-']);
    if body.starts_with("0x") || body.is_empty() || body.starts_with("infinity") {
        return None;
    }
    if !body
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | '+' | '-' | 'i' | 'n' | 'f' | 'a'))
    {
        return None;
    }
    lower.parse::<f64>().ok()
}

/// Splits `a+b` / `a-b` at the sign between the two numbers (not a leading
/// sign, not an exponent sign).
fn split_increment(s: &str) -> Option<(&str, char, &str)> {
    let bytes = s.as_bytes();
    for i in 1..bytes.len() {
        let c = bytes[i];
        if (c == b'+' || c == b'-') && !matches!(bytes[i - 1], b'e' | b'E') {
            return Some((&s[..i], c as char, &s[i + 1..]));
        }
    }
    None
}

/// Expands a value sequence.
pub fn parse_values(s: &str) -> Result<Vec<SeqValue>, DescError> {
    let mut out = Vec::new();
    for item in split_items(s)? {
        expand_item(item, &mut out)?;
    }
    Ok(out)
}

fn expand_item(item: &str, out: &mut Vec<SeqValue>) -> Result<(), DescError> {
    if item == "_" {
        out.push(SeqValue::Omitted);
        return Ok(());
    }
    if item == "stale" {
        out.push(SeqValue::Float(promethium_engine::model::stale_nan()));
        return Ok(());
    }
    if item.starts_with("{{") {
        // `{{A}}`, `{{A}}xN`, `{{A}}+{{B}}xN`.
        let count = match item.rfind("}}") {
            Some(end) if end + 2 < item.len() => {
                let tail = &item[end + 2..];
                let n = tail.strip_prefix('x').and_then(|n| n.parse::<usize>().ok());
                n.map_or(1, |n| n + 1)
            }
            _ => 1,
        };
        out.extend(std::iter::repeat_n(SeqValue::Histogram, count));
        return Ok(());
    }
    // Repetition: `<head>x<N>`.
    if let Some(pos) = item.rfind('x') {
        let (head, n) = (&item[..pos], &item[pos + 1..]);
        if let Ok(n) = n.parse::<usize>() {
            if head == "_" {
                out.extend(std::iter::repeat_n(SeqValue::Omitted, n));
                return Ok(());
            }
            if head == "stale" {
                return err("'stale' cannot be repeated");
            }
            if let Some(v) = parse_number(head) {
                out.extend(std::iter::repeat_n(SeqValue::Float(v), n + 1));
                return Ok(());
            }
            let Some((a, sign, b)) = split_increment(head) else {
                return err(format!("invalid value sequence item {item:?}"));
            };
            let (Some(start), Some(step)) = (parse_number(a), parse_number(b)) else {
                return err(format!("invalid value sequence item {item:?}"));
            };
            let step = if sign == '-' { -step } else { step };
            let mut v = start;
            for _ in 0..=n {
                out.push(SeqValue::Float(v));
                v += step;
            }
            return Ok(());
        }
    }
    match parse_number(item) {
        Some(v) => {
            out.push(SeqValue::Float(v));
            Ok(())
        }
        None => err(format!("invalid value sequence item {item:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn floats(s: &str) -> Vec<Option<f64>> {
        parse_values(s)
            .unwrap()
            .into_iter()
            .map(|v| match v {
                SeqValue::Float(f) => Some(f),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn expands_repetitions_and_increments() {
        assert_eq!(floats("0+10x5"), [0., 10., 20., 30., 40., 50.].map(Some));
        assert_eq!(floats("-2+4x3"), [-2., 2., 6., 10.].map(Some));
        assert_eq!(floats("1-2x4"), [1., -1., -3., -5., -7.].map(Some));
        assert_eq!(floats("1x4"), [1.; 5].map(Some));
        assert_eq!(floats("1 _x3"), [Some(1.), None, None, None]);
        assert_eq!(
            floats("1e3 .5 +3 -Inf"),
            [Some(1000.), Some(0.5), Some(3.), Some(f64::NEG_INFINITY)]
        );
        assert_eq!(floats("1e-3+1e-3x1"), [Some(0.001), Some(0.002)]);
        assert!(parse_values("0x10").is_ok_and(|v| v.len() == 11));
        assert!(parse_values("0xzz").is_err());
    }

    #[test]
    fn stale_is_the_marker() {
        let v = parse_values("stale").unwrap();
        assert!(matches!(v[0], SeqValue::Float(f) if promethium_engine::model::is_stale_nan(f)));
    }

    #[test]
    fn histograms_are_counted() {
        let v = parse_values("{{schema:1 sum:2 buckets:[1 2]}}x2 1 {{}}").unwrap();
        assert_eq!(v.len(), 5);
        assert_eq!(v[3], SeqValue::Float(1.));
    }

    #[test]
    fn reads_label_sets() {
        let d = parse_series_desc(r#"m{a="b", "c.d"='x\n', e=`y`} 1"#).unwrap();
        assert_eq!(
            d.labels,
            Labels::new([("__name__", "m"), ("a", "b"), ("c.d", "x\n"), ("e", "y")])
        );
        let d = parse_series_desc(r#"{"my.metric", a="1"} 2"#).unwrap();
        assert_eq!(d.labels.metric_name(), Some("my.metric"));
        let d = parse_series_desc("{} 3").unwrap();
        assert!(d.labels.is_empty());
    }
}
