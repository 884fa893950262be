//! Byte-level helpers shared by the text and OpenMetrics parsers: character
//! classes, quoted strings, unescaping and Go-compatible number parsing.

use std::borrow::Cow;

use super::Escaping;

/// Go's `math.NaN()` bit pattern, which Prometheus stores for a `NaN` value.
pub(crate) const GO_NAN_BITS: u64 = 0x7ff8_0000_0000_0001;

const METRIC_START: u8 = 1;
const METRIC_CHAR: u8 = 2;
const LABEL_START: u8 = 4;
const LABEL_CHAR: u8 = 8;
/// A byte that ends the plain run of a quoted string: `"`, `\\`, newline,
/// or a non-ASCII byte (which needs UTF-8 validation).
const QUOTED_STOP: u8 = 16;

/// Character classes by byte. A table lookup per byte measured faster than
/// the chained comparisons in name and quoted-string scanning, which
/// dominate parsing time.
static CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        let alpha = b.is_ascii_alphabetic() || b == b'_';
        let digit = b.is_ascii_digit();
        let mut c = 0;
        if alpha || b == b':' {
            c |= METRIC_START | METRIC_CHAR;
        }
        if digit {
            c |= METRIC_CHAR | LABEL_CHAR;
        }
        if alpha {
            c |= LABEL_START | LABEL_CHAR;
        }
        if b == b'"' || b == b'\\' || b == b'\n' || b >= 0x80 {
            c |= QUOTED_STOP;
        }
        t[i] = c;
        i += 1;
    }
    t
};

/// `[a-zA-Z_:]`: first byte of an unquoted metric name.
pub(crate) fn is_metric_start(b: u8) -> bool {
    CLASS[b as usize] & METRIC_START != 0
}

/// `[a-zA-Z_]`: first byte of an unquoted label name.
pub(crate) fn is_label_start(b: u8) -> bool {
    CLASS[b as usize] & LABEL_START != 0
}

fn run_len(s: &[u8], start: u8, rest: u8) -> usize {
    match s.first() {
        Some(&b) if CLASS[b as usize] & start != 0 => {
            1 + s[1..].iter().take_while(|&&b| CLASS[b as usize] & rest != 0).count()
        }
        _ => 0,
    }
}

/// Length of the unquoted metric name at the start of `s` (0 if none).
pub(crate) fn metric_name_len(s: &[u8]) -> usize {
    run_len(s, METRIC_START, METRIC_CHAR)
}

/// Length of the unquoted label name at the start of `s` (0 if none).
pub(crate) fn label_name_len(s: &[u8]) -> usize {
    run_len(s, LABEL_START, LABEL_CHAR)
}

/// A quoted string found by [`quoted_scan`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Quoted {
    /// Length including both quotes.
    pub(crate) len: usize,
    /// Raw newlines inside.
    pub(crate) newlines: usize,
    /// Whether every byte is ASCII (so no UTF-8 validation is needed).
    pub(crate) ascii: bool,
}

/// Scans the quoted string at the start of `s`. The grammar is Prometheus'
/// lexer's `"(\\.|[^\\"])*"`; with `allow_newline` false (OpenMetrics) raw
/// newlines are excluded too. A backslash escapes any byte except a
/// newline, since the lexer's `.` does not match one. `None` when `s` does
/// not start with a complete quoted string.
pub(crate) fn quoted_scan(s: &[u8], allow_newline: bool) -> Option<Quoted> {
    if s.first() != Some(&b'"') {
        return None;
    }
    let mut newlines = 0;
    let mut ascii = true;
    let mut i = 1;
    loop {
        while i < s.len() && CLASS[s[i] as usize] & QUOTED_STOP == 0 {
            i += 1;
        }
        match *s.get(i)? {
            b'"' => return Some(Quoted { len: i + 1, newlines, ascii }),
            b'\\' => match s.get(i + 1) {
                None | Some(b'\n') => return None,
                Some(&c) => {
                    ascii &= c < 0x80;
                    i += 2;
                }
            },
            b'\n' if !allow_newline => return None,
            b'\n' => {
                newlines += 1;
                i += 1;
            }
            _ => {
                ascii = false;
                i += 1;
            }
        }
    }
}

/// Length of the quoted string at the start of `s`, quotes included, and
/// the number of raw newlines inside it (see [`quoted_scan`]).
pub(crate) fn quoted_len(s: &[u8], allow_newline: bool) -> Option<(usize, usize)> {
    quoted_scan(s, allow_newline).map(|q| (q.len, q.newlines))
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
    if let Some(v) = fast_decimal(s) {
        return Some(v);
    }
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
    if unsigned.len() > 1
        && unsigned[0] == b'0'
        && matches!(unsigned[1], b'x' | b'X' | b'o' | b'O' | b'b' | b'B')
    {
        return None;
    }
    let text = std::str::from_utf8(s).ok()?;
    let v: f64 = text.parse().ok()?;
    if v.is_infinite() { None } else { Some(v) }
}

/// Exact powers of ten representable in an `f64`.
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// The common case of [`parse_float`]: `[+-]digits[.digits]` without an
/// exponent whose significant digits fit in 53 bits. Then the mantissa and
/// the power of ten are both exact and one IEEE division rounds correctly
/// (Clinger's fast path), so the result equals the full parser's. `None`
/// means "use the full parser", never "invalid".
fn fast_decimal(s: &[u8]) -> Option<f64> {
    let (neg, digits) = match s.first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let mut mantissa: u64 = 0;
    let mut frac_digits = 0usize;
    let mut seen_dot = false;
    let mut seen_digit = false;
    for &c in digits {
        match c {
            b'0'..=b'9' => {
                mantissa = mantissa.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
                seen_digit = true;
                if seen_dot {
                    frac_digits += 1;
                }
            }
            b'.' if !seen_dot => seen_dot = true,
            _ => return None,
        }
    }
    if !seen_digit || mantissa > (1 << 53) || frac_digits >= POW10.len() {
        return None;
    }
    let v = mantissa as f64 / POW10[frac_digits];
    Some(if neg { -v } else { v })
}

/// Parses a text-format timestamp. Prometheus' lexer only takes digits
/// (`{D}+`) and then `strconv.ParseInt`, so a sign is an error unless
/// `allow_sign` (the Go client library's stricter parser allows one).
pub(crate) fn parse_int_ms(s: &[u8], allow_sign: bool) -> Option<i64> {
    let digits = match s.first() {
        Some(b'+' | b'-') if allow_sign => &s[1..],
        _ => s,
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(s).ok()?.parse().ok()
}

/// Converts OpenMetrics float seconds to integer milliseconds the way
/// Prometheus does: `int64(ts * 1000)`, which truncates toward zero. NaN and
/// infinities are errors. Go leaves out-of-range conversions to the
/// hardware; Rust saturates, which keeps such (absurd) timestamps accepted,
/// as the OpenMetrics `timestamps` case requires.
pub(crate) fn seconds_to_ms(secs: f64) -> Option<i64> {
    if !secs.is_finite() {
        return None;
    }
    Some((secs * 1000.0) as i64)
}

/// Formats a float as Prometheus' `FormatOpenMetricsFloat`: Go's shortest
/// `%g` (exponent form when the decimal exponent is below -4 or at least 6,
/// two-digit exponents with a sign), then `.0` appended when the result has
/// neither a `.` nor an `e`. Used to normalise `le` and `quantile` values.
pub(crate) fn format_openmetrics_float(f: f64, out: &mut String) {
    use std::fmt::Write;
    if f.is_nan() {
        out.push_str("NaN");
        return;
    }
    if f.is_infinite() {
        out.push_str(if f > 0.0 { "+Inf" } else { "-Inf" });
        return;
    }
    // Rust's `{:e}` is the shortest round-tripping form: `d[.ddd]e[-]x`.
    let sci = format!("{:e}", f.abs());
    let (mant, exp) = sci.split_once('e').expect("{:e} always has an exponent");
    let exp: i32 = exp.parse().expect("{:e} exponent is an integer");
    let digits: String = mant.chars().filter(|c| *c != '.').collect();
    let start = out.len();
    if f.is_sign_negative() {
        out.push('-');
    }
    if !(-4..6).contains(&exp) {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let _ = write!(out, "e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs());
    } else if exp >= 0 {
        let int_len = exp as usize + 1;
        if digits.len() <= int_len {
            out.push_str(&digits);
            out.extend(std::iter::repeat_n('0', int_len - digits.len()));
        } else {
            out.push_str(&digits[..int_len]);
            out.push('.');
            out.push_str(&digits[int_len..]);
        }
    } else {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-exp - 1) as usize));
        out.push_str(&digits);
    }
    if !out[start..].contains(['.', 'e']) {
        out.push_str(".0");
    }
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
        for bad in [
            &b"-NaN"[..],
            b"0x1p3",
            b"1_000",
            b"",
            b"abc",
            b"1e400",
            b"Infin",
            b"0x10",
            b"--1",
            b"1.2.3",
        ] {
            assert_eq!(parse_float(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn fast_path_agrees_with_the_full_parser() {
        for s in [
            "0",
            "-0",
            "1",
            "42",
            "0.1",
            "123.456",
            "-9007199254740992",
            "9007199254740993",
            "0.30000000000000004",
            "1.7976931348623157",
            ".5",
            "5.",
            "00012.50",
            "+3.25",
            "1234567890123456789012",
            "0.0000000000000000000001",
        ] {
            let full: f64 = s.parse().unwrap();
            assert_eq!(parse_float(s.as_bytes()).map(f64::to_bits), Some(full.to_bits()), "{s}");
        }
        assert_eq!(fast_decimal(b"."), None);
        assert_eq!(fast_decimal(b"1.2.3"), None);
        assert_eq!(parse_float(b"1.2.3"), None);
    }

    #[test]
    fn ints_and_seconds() {
        assert_eq!(parse_int_ms(b"12", false), Some(12));
        assert_eq!(parse_int_ms(b"-12", false), None);
        assert_eq!(parse_int_ms(b"-12", true), Some(-12));
        assert_eq!(parse_int_ms(b"+12", true), Some(12));
        assert_eq!(parse_int_ms(b"+-12", true), None);
        assert_eq!(parse_int_ms(b"1.5", true), None);
        assert_eq!(parse_int_ms(b"99999999999999999999", false), None);
        assert_eq!(seconds_to_ms(1.5), Some(1500));
        assert_eq!(seconds_to_ms(-0.0015), Some(-1));
        assert_eq!(seconds_to_ms(f64::NAN), None);
    }

    #[test]
    fn openmetrics_float_formatting_matches_go() {
        let f = |v: f64| {
            let mut s = String::new();
            format_openmetrics_float(v, &mut s);
            s
        };
        assert_eq!(f(1.0), "1.0");
        assert_eq!(f(0.5), "0.5");
        assert_eq!(f(100000.0), "100000.0");
        assert_eq!(f(1e6), "1e+06");
        assert_eq!(f(1.5e6), "1.5e+06");
        assert_eq!(f(0.0001), "0.0001");
        assert_eq!(f(0.00001), "1e-05");
        assert_eq!(f(-2.5e-7), "-2.5e-07");
        assert_eq!(f(123.456), "123.456");
        assert_eq!(f(1e100), "1e+100");
        assert_eq!(f(0.0), "0.0");
        assert_eq!(f(-0.0), "-0.0");
        assert_eq!(f(f64::INFINITY), "+Inf");
        assert_eq!(f(f64::NAN), "NaN");
    }

    #[test]
    fn quoted_strings_and_unescaping() {
        assert_eq!(quoted_len(br#""a\"b" rest"#, false), Some((6, 0)));
        assert_eq!(quoted_len(b"\"a\nb\"", false), None);
        assert_eq!(quoted_len(b"\"a\nb\"", true), Some((5, 1)));
        assert_eq!(quoted_len(b"\"a\\\nb\"", true), None);
        assert_eq!(quoted_len(br#""abc"#, true), None);
        assert_eq!(unescape(br#"a\"b\\c\nd\t"#, Escaping::Quoted).unwrap(), "a\"b\\c\nd\\t");
        assert_eq!(unescape(br#"a\"b\\c\n"#, Escaping::TextHelp).unwrap(), "a\\\"b\\c\n");
        assert!(unescape(b"\xff", Escaping::None).is_none());
        assert!(has_only_standard_escapes(br#"a\"\\\n"#));
        assert!(!has_only_standard_escapes(br#"a\t"#));
    }
}
