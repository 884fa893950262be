//! Byte-level helpers shared by the text and OpenMetrics parsers: character
//! classes, quoted strings, unescaping and Go-compatible number parsing.

use std::borrow::Cow;

use super::Escaping;

/// Go's `math.NaN()` bit pattern, which Prometheus stores for a `NaN` value.
pub(crate) const GO_NAN_BITS: u64 = 0x7ff8_0000_0000_0001;

/// `[a-zA-Z_:]`: first byte of an unquoted metric name.
pub(crate) fn is_metric_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b == b':'
}

/// `[a-zA-Z0-9_:]`: later bytes of an unquoted metric name.
pub(crate) fn is_metric_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b':'
}

/// `[a-zA-Z_]`: first byte of an unquoted label name.
pub(crate) fn is_label_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

/// `[a-zA-Z0-9_]`: later bytes of an unquoted label name.
pub(crate) fn is_label_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Length of the unquoted metric name at the start of `s` (0 if none).
pub(crate) fn metric_name_len(s: &[u8]) -> usize {
    match s.first() {
        Some(&b) if is_metric_start(b) => 1 + s[1..].iter().take_while(|&&b| is_metric_char(b)).count(),
        _ => 0,
    }
}

/// Length of the unquoted label name at the start of `s` (0 if none).
pub(crate) fn label_name_len(s: &[u8]) -> usize {
    match s.first() {
        Some(&b) if is_label_start(b) => 1 + s[1..].iter().take_while(|&&b| is_label_char(b)).count(),
        _ => 0,
    }
}

/// Length of the quoted string at the start of `s`, quotes included:
/// `"(\\.|[^\\"])*"`, or with `allow_newline` false also without raw
/// newlines. `None` when `s` does not start with a complete quoted string.
pub(crate) fn quoted_len(s: &[u8], allow_newline: bool) -> Option<usize> {
    if s.first() != Some(&b'"') {
        return None;
    }
    let mut i = 1;
    while i < s.len() {
        match s[i] {
            b'"' => return Some(i + 1),
            b'\\' => {
                // An escape takes the next byte whatever it is, but a
                // backslash-newline still counts as a raw newline.
                match s.get(i + 1) {
                    None => return None,
                    Some(b'\n') if !allow_newline => return None,
                    Some(_) => i += 2,
                }
            }
            b'\n' if !allow_newline => return None,
            _ => i += 1,
        }
    }
    None
}

/// Decodes `raw` per `escaping`; `None` when the result is not UTF-8.
/// Only the escapes Prometheus replaces are decoded (`\\`, `\"`, `\n`; in
/// text HELP `\\` and `\n`). Any other backslash stays literally, exactly as
/// Prometheus' string replacers leave it.
pub(crate) fn unescape(raw: &[u8], escaping: Escaping) -> Option<Cow<'_, str>> {
    if escaping == Escaping::None || !raw.contains(&b'\\') {
        return std::str::from_utf8(raw).ok().map(Cow::Borrowed);
    }
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        let b = raw[i];
        if b == b'\\' && i + 1 < raw.len() {
            let n = raw[i + 1];
            let decoded = match n {
                b'\\' => Some(b'\\'),
                b'n' => Some(b'\n'),
                b'"' if escaping == Escaping::Quoted => Some(b'"'),
                _ => None,
            };
            if let Some(d) = decoded {
                out.push(d);
                i += 2;
                continue;
            }
        }
        out.push(b);
        i += 1;
    }
    String::from_utf8(out).ok().map(Cow::Owned)
}

/// Whether `raw` (a quoted string's content) uses only the escapes the
/// specifications define (`\\`, `\"`, `\n`), for strict validation.
pub(crate) fn has_only_standard_escapes(raw: &[u8]) -> bool {
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'\\' {
            if !matches!(raw.get(i + 1), Some(b'\\' | b'"' | b'n')) {
                return false;
            }
            i += 2;
        } else {
            i += 1;
        }
    }
    true
}

/// Parses a sample or exemplar value as Prometheus does: Go's
/// `strconv.ParseFloat` restricted to pre-Go-1.13 syntax (no hex floats, no
/// underscores). Overflow (`1e400`) is an error, as Go reports `ErrRange`.
/// `NaN` yields Go's NaN bit pattern so stored values match Prometheus.
pub(crate) fn parse_float(s: &[u8]) -> Option<f64> {
    if s.is_empty() || s.iter().any(|&b| matches!(b, b'p' | b'P' | b'_')) {
        return None;
    }
    let (neg, unsigned) = match s[0] {
        b'+' => (false, &s[1..]),
        b'-' => (true, &s[1..]),
        _ => (false, s),
    };
    if unsigned.eq_ignore_ascii_case(b"inf") || unsigned.eq_ignore_ascii_case(b"infinity") {
        return Some(if neg { f64::NEG_INFINITY } else { f64::INFINITY });
    }
    if unsigned.eq_ignore_ascii_case(b"nan") {
        // Go accepts no sign before NaN.
        return if unsigned.len() == s.len() { Some(f64::from_bits(GO_NAN_BITS)) } else { None };
    }
    // Decimal syntax only: digits, one '.', an exponent. Rust's parser would
    // also accept "inf"/"nan" spellings, which were handled above.
    let first = *unsigned.first()?;
    if !(first.is_ascii_digit() || first == b'.') {
        return None;
    }
    if unsigned.len() > 1 && unsigned[0] == b'0' && matches!(unsigned[1], b'x' | b'X' | b'o' | b'O' | b'b' | b'B') {
        return None;
    }
    let text = std::str::from_utf8(s).ok()?;
    let v: f64 = text.parse().ok()?;
    if v.is_infinite() { None } else { Some(v) }
}

/// Parses a text-format timestamp: a Go `strconv.ParseInt(s, 10, 64)`
/// (optional sign, decimal digits, no overflow).
pub(crate) fn parse_int_ms(s: &[u8]) -> Option<i64> {
    let text = std::str::from_utf8(s).ok()?;
    if text.starts_with('+') && text.len() > 1 && text.as_bytes()[1] == b'-' {
        return None;
    }
    text.parse().ok()
}

/// Converts OpenMetrics float seconds to integer milliseconds the way
/// Prometheus does: `int64(math.Round(ts * 1000))` after a finite check.
pub(crate) fn seconds_to_ms(secs: f64) -> Option<i64> {
    if !secs.is_finite() {
        return None;
    }
    let ms = (secs * 1000.0).round();
    // Out-of-range values saturate in Rust but are undefined in Go; reject them.
    if ms >= -9.223_372_036_854_776e18 && ms < 9.223_372_036_854_776e18 { Some(ms as i64) } else { None }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_follow_go_syntax() {
        assert_eq!(parse_float(b"1.5"), Some(1.5));
        assert_eq!(parse_float(b"-1e3"), Some(-1000.0));
        assert_eq!(parse_float(b".5"), Some(0.5));
        assert_eq!(parse_float(b"5."), Some(5.0));
        assert_eq!(parse_float(b"+Inf"), Some(f64::INFINITY));
        assert_eq!(parse_float(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_float(b"Infinity"), Some(f64::INFINITY));
        assert_eq!(parse_float(b"NaN").map(f64::to_bits), Some(GO_NAN_BITS));
        assert_eq!(parse_float(b"nan").map(f64::to_bits), Some(GO_NAN_BITS));
        for bad in [&b"-NaN"[..], b"0x1p3", b"1_000", b"", b"abc", b"1e400", b"Infin", b"0x10", b"--1", b"1.2.3"] {
            assert_eq!(parse_float(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn ints_and_seconds() {
        assert_eq!(parse_int_ms(b"-12"), Some(-12));
        assert_eq!(parse_int_ms(b"+12"), Some(12));
        assert_eq!(parse_int_ms(b"1.5"), None);
        assert_eq!(parse_int_ms(b"99999999999999999999"), None);
        assert_eq!(seconds_to_ms(1.5), Some(1500));
        assert_eq!(seconds_to_ms(f64::NAN), None);
    }

    #[test]
    fn quoted_strings_and_unescaping() {
        assert_eq!(quoted_len(br#""a\"b" rest"#, false), Some(6));
        assert_eq!(quoted_len(b"\"a\nb\"", false), None);
        assert_eq!(quoted_len(b"\"a\nb\"", true), Some(5));
        assert_eq!(quoted_len(br#""abc"#, true), None);
        assert_eq!(unescape(br#"a\"b\\c\nd\t"#, Escaping::Quoted).unwrap(), "a\"b\\c\nd\\t");
        assert_eq!(unescape(br#"a\"b\\c\n"#, Escaping::TextHelp).unwrap(), "a\\\"b\\c\n");
        assert!(unescape(b"\xff", Escaping::None).is_none());
        assert!(has_only_standard_escapes(br#"a\"\\\n"#));
        assert!(!has_only_standard_escapes(br#"a\t"#));
    }
}
