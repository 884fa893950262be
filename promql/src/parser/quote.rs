//! Go-compatible string quoting and unquoting.
//!
//! Prometheus prints strings with Go's `strconv.Quote` (in `format_query`
//! output and in many error messages via `%q`) and reads PromQL string
//! literals with Go escape rules. Both live here so the printer, the parser
//! and the evaluator's error messages agree with Prometheus byte for byte.

/// Go's `strconv.Quote` of a UTF-8 string.
pub fn go_quote(s: &str) -> String {
    go_quote_bytes(s.as_bytes())
}

/// Go's `strconv.Quote` of arbitrary bytes: invalid UTF-8 bytes come out as
/// `\xNN`, as Go prints a string holding them.
pub fn go_quote_bytes(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() + 2);
    out.push('"');
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            push_escaped(&mut out, c, '"');
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out.push('"');
    out
}

/// Go's `%q` of a rune (`'a'`); `None` (end of input) prints as Go prints
/// an invalid rune.
pub fn go_quote_rune(c: Option<char>) -> String {
    let mut out = String::from("'");
    push_escaped(&mut out, c.unwrap_or('\u{FFFD}'), '\'');
    out.push('\'');
    out
}

fn push_escaped(out: &mut String, c: char, quote: char) {
    if c == quote || c == '\\' {
        out.push('\\');
        out.push(c);
        return;
    }
    if is_go_printable(c) {
        out.push(c);
        return;
    }
    match c {
        '\u{7}' => out.push_str("\\a"),
        '\u{8}' => out.push_str("\\b"),
        '\u{c}' => out.push_str("\\f"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\u{b}' => out.push_str("\\v"),
        c if (c as u32) < 0x20 || c == '\u{7f}' => out.push_str(&format!("\\x{:02x}", c as u32)),
        c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
        c => out.push_str(&format!("\\U{:08x}", c as u32)),
    }
}

/// An approximation of Go's `unicode.IsPrint`: letters, marks, numbers,
/// punctuation, symbols and the ASCII space. Rust's standard library has no
/// general-category table, so we exclude the categories Go rejects that
/// occur in practice: controls, separators other than U+0020, format
/// characters, private use and noncharacters.
fn is_go_printable(c: char) -> bool {
    let u = c as u32;
    if c == ' ' {
        return true;
    }
    if c.is_control() || c.is_whitespace() {
        return false;
    }
    !matches!(u,
        0xAD | 0x600..=0x605 | 0x61C | 0x6DD | 0x70F | 0x180E
        | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x206F
        | 0xE000..=0xF8FF | 0xFDD0..=0xFDEF | 0xFEFF | 0xFFF9..=0xFFFB
        | 0xFFFE | 0xFFFF | 0xF0000..=0x10FFFF
    ) && (u & 0xFFFE) != 0xFFFE
}

/// Unquotes a PromQL string token (`"..."`, `'...'` or `` `...` ``) as
/// Prometheus' `strutil.Unquote` does. Octal and `\x` escapes produce raw
/// bytes, so the result may be invalid UTF-8.
pub(crate) fn unquote(token: &str) -> Result<Vec<u8>, &'static str> {
    const SYNTAX: &str = "invalid syntax";
    let bytes = token.as_bytes();
    let n = bytes.len();
    if n < 2 || bytes[0] != bytes[n - 1] {
        return Err(SYNTAX);
    }
    let quote = bytes[0];
    let body = &token[1..n - 1];
    if quote == b'`' {
        if body.contains('`') {
            return Err(SYNTAX);
        }
        return Ok(body.as_bytes().to_vec());
    }
    if quote != b'"' && quote != b'\'' {
        return Err(SYNTAX);
    }
    if body.contains('\n') {
        return Err(SYNTAX);
    }
    let mut out = Vec::with_capacity(body.len());
    let mut chars = body.chars().peekable();
    while let Some(c) = chars.next() {
        if c as u32 == u32::from(quote) {
            return Err(SYNTAX);
        }
        if c != '\\' {
            let mut buf = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            continue;
        }
        let e = chars.next().ok_or(SYNTAX)?;
        let simple = match e {
            'a' => Some(7u8),
            'b' => Some(8),
            'f' => Some(12),
            'n' => Some(b'\n'),
            'r' => Some(b'\r'),
            't' => Some(b'\t'),
            'v' => Some(11),
            '\\' => Some(b'\\'),
            '\'' | '"' => {
                if e as u32 != u32::from(quote) {
                    return Err(SYNTAX);
                }
                Some(e as u8)
            }
            _ => None,
        };
        if let Some(b) = simple {
            out.push(b);
            continue;
        }
        let (digits, base) = match e {
            'x' => (2, 16),
            'u' => (4, 16),
            'U' => (8, 16),
            '0'..='7' => (2, 8),
            _ => return Err(SYNTAX),
        };
        let mut v: u32 = if base == 8 { e.to_digit(8).ok_or(SYNTAX)? } else { 0 };
        for _ in 0..digits {
            let d = chars.next().and_then(|c| c.to_digit(base)).ok_or(SYNTAX)?;
            v = v.checked_mul(base).and_then(|v| v.checked_add(d)).ok_or(SYNTAX)?;
        }
        match e {
            'x' => out.push(v as u8),
            '0'..='7' => out.push(u8::try_from(v).map_err(|_| SYNTAX)?),
            _ => {
                let c = char::from_u32(v).ok_or(SYNTAX)?;
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quote_matches_go() {
        assert_eq!(go_quote("a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(go_quote("tab\there\n"), r#""tab\there\n""#);
        assert_eq!(go_quote("\u{1}\u{7f}é✓"), "\"\\x01\\x7fé✓\"");
        assert_eq!(go_quote("\u{a0}\u{feff}"), r#""\u00a0\ufeff""#);
        assert_eq!(go_quote_bytes(b"a\xc5z"), r#""a\xc5z""#);
        assert_eq!(go_quote_rune(Some('\'')), r"'\''");
    }

    #[test]
    fn unquote_follows_go_escapes() {
        assert_eq!(unquote(r#""a\nb""#).unwrap(), b"a\nb");
        assert_eq!(unquote(r"'it\'s'").unwrap(), b"it's");
        assert_eq!(unquote(r#""\u00e9\x41\101""#).unwrap(), "éAA".as_bytes());
        assert_eq!(unquote(r#""a\xc5z""#).unwrap(), b"a\xc5z");
        assert_eq!(unquote(r"`raw\n`").unwrap(), br"raw\n");
        assert!(unquote(r#""\'""#).is_err());
        assert!(unquote(r#""\400""#).is_err());
    }
}
