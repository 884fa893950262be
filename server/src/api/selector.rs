//! Series selectors (`match[]` parameters): `name{label="value", ...}`.
//!
//! The series, labels, federation and delete endpoints take bare metric
//! selectors rather than full PromQL, so they are parsed here with a small
//! recursive-descent parser that needs nothing from the PromQL crate.

use promethium_engine::model::{MatchType, Matcher};

/// Why a selector did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("1:{col}: parse error: {reason}")]
pub struct SelectorError {
    /// 1-based column of the problem.
    pub col: usize,
    /// What was wrong.
    pub reason: String,
}

struct Cursor<'a> {
    src: &'a str,
    pos: usize,
}

impl Cursor<'_> {
    fn err(&self, reason: impl Into<String>) -> SelectorError {
        SelectorError { col: self.pos + 1, reason: reason.into() }
    }

    fn skip_ws(&mut self) {
        while let Some(c) = self.peek() {
            if c.is_whitespace() {
                self.pos += c.len_utf8();
            } else {
                break;
            }
        }
    }

    fn peek(&self) -> Option<char> {
        self.src[self.pos..].chars().next()
    }

    fn eat(&mut self, s: &str) -> bool {
        if self.src[self.pos..].starts_with(s) {
            self.pos += s.len();
            true
        } else {
            false
        }
    }

    fn ident(&mut self, allow_colon: bool) -> Option<String> {
        let start = self.pos;
        for (i, c) in self.src[start..].char_indices() {
            let ok = c == '_'
                || c.is_ascii_alphabetic()
                || (allow_colon && c == ':')
                || (i > 0 && c.is_ascii_digit());
            if !ok {
                break;
            }
            self.pos = start + i + c.len_utf8();
        }
        (self.pos > start).then(|| self.src[start..self.pos].to_string())
    }

    fn string(&mut self) -> Result<String, SelectorError> {
        let quote = self.peek().ok_or_else(|| self.err("unexpected end of input"))?;
        if !matches!(quote, '"' | '\'' | '`') {
            return Err(self.err(format!("unexpected character {quote:?}, expected string")));
        }
        self.pos += 1;
        let mut out = String::new();
        loop {
            let c = self.peek().ok_or_else(|| self.err("unterminated quoted string"))?;
            self.pos += c.len_utf8();
            if c == quote {
                return Ok(out);
            }
            if c == '\\' && quote != '`' {
                let e = self.peek().ok_or_else(|| self.err("unterminated quoted string"))?;
                self.pos += e.len_utf8();
                match e {
                    'n' => out.push('\n'),
                    't' => out.push('\t'),
                    'r' => out.push('\r'),
                    '\\' => out.push('\\'),
                    '"' => out.push('"'),
                    '\'' => out.push('\''),
                    'a' => out.push('\u{7}'),
                    'b' => out.push('\u{8}'),
                    'f' => out.push('\u{c}'),
                    'v' => out.push('\u{b}'),
                    'x' | 'u' | 'U' => {
                        let len = match e {
                            'x' => 2,
                            'u' => 4,
                            _ => 8,
                        };
                        let hex = self
                            .src
                            .get(self.pos..self.pos + len)
                            .ok_or_else(|| self.err("invalid escape sequence"))?;
                        let code = u32::from_str_radix(hex, 16)
                            .map_err(|_| self.err("invalid escape sequence"))?;
                        out.push(
                            char::from_u32(code)
                                .ok_or_else(|| self.err("invalid escape sequence"))?,
                        );
                        self.pos += len;
                    }
                    _ => return Err(self.err(format!("unknown escape sequence {e:?}"))),
                }
            } else {
                out.push(c);
            }
        }
    }
}

/// Parses a metric selector into matchers. A leading metric name becomes a
/// `__name__` equality matcher.
pub fn parse_selector(src: &str) -> Result<Vec<Matcher>, SelectorError> {
    let mut cur = Cursor { src, pos: 0 };
    let mut matchers = Vec::new();
    cur.skip_ws();
    if let Some(name) = cur.ident(true) {
        matchers.push(Matcher::equal("__name__", name));
    }
    cur.skip_ws();
    if cur.eat("{") {
        loop {
            cur.skip_ws();
            if cur.eat("}") {
                break;
            }
            let (name, kind, value) = if matches!(cur.peek(), Some('"' | '\'' | '`')) {
                // A quoted name alone is the metric name (UTF-8 syntax),
                // followed by an operator it is a quoted label name.
                let quoted = cur.string()?;
                cur.skip_ws();
                match op(&mut cur) {
                    Some(kind) => {
                        cur.skip_ws();
                        (quoted, kind, cur.string()?)
                    }
                    None => ("__name__".to_string(), MatchType::Equal, quoted),
                }
            } else {
                let Some(name) = cur.ident(false) else {
                    return Err(match cur.peek() {
                        None => cur.err("unexpected end of input inside braces"),
                        Some(c) => cur.err(format!("unexpected character inside braces: {c:?}")),
                    });
                };
                cur.skip_ws();
                let kind = op(&mut cur).ok_or_else(|| {
                    cur.err(format!("unexpected character after label name {name:?}"))
                })?;
                cur.skip_ws();
                (name, kind, cur.string()?)
            };
            let m = Matcher::new(kind, name, value).map_err(|e| cur.err(e.to_string()))?;
            matchers.push(m);
            cur.skip_ws();
            if cur.eat(",") {
                continue;
            }
            if cur.eat("}") {
                break;
            }
            return Err(match cur.peek() {
                None => cur.err("unexpected end of input inside braces"),
                Some(c) => cur.err(format!("unexpected character inside braces: {c:?}")),
            });
        }
    }
    cur.skip_ws();
    if let Some(c) = cur.peek() {
        return Err(cur.err(format!("unexpected character: {c:?}")));
    }
    if matchers.is_empty() {
        return Err(SelectorError { col: 1, reason: "unexpected end of input".into() });
    }
    if matchers.iter().all(Matcher::matches_empty) {
        return Err(SelectorError {
            col: 1,
            reason: "vector selector must contain at least one non-empty matcher".into(),
        });
    }
    Ok(matchers)
}

fn op(cur: &mut Cursor<'_>) -> Option<MatchType> {
    if cur.eat("=~") {
        Some(MatchType::Regex)
    } else if cur.eat("!~") {
        Some(MatchType::NotRegex)
    } else if cur.eat("!=") {
        Some(MatchType::NotEqual)
    } else if cur.eat("=") {
        Some(MatchType::Equal)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use promethium_engine::model::Labels;

    #[test]
    fn parses_names_and_matchers() {
        let m = parse_selector(r#"up{job="node", instance=~"a.*",x!="y",z!~'q'}"#).unwrap();
        assert_eq!(m.len(), 5);
        assert!(m[0].matches("up"));
        let l = Labels::new([("__name__", "up"), ("job", "node"), ("instance", "abc")]);
        assert!(m.iter().all(|m| m.matches_labels(&l)));
        let m = parse_selector("{__name__=~\"go_.*\"}").unwrap();
        assert_eq!(m.len(), 1);
        let m = parse_selector("{\"my.metric\"}").unwrap();
        assert!(m[0].matches("my.metric"));
        let m = parse_selector("node:cpu:rate5m").unwrap();
        assert!(m[0].matches("node:cpu:rate5m"));
    }

    #[test]
    fn rejects_bad_selectors() {
        for bad in [
            "",
            "up{",
            "up{job}",
            "up{job=\"x\"",
            "{job=\"\"}",
            "up)",
            "{job=~\"(\"}",
            "{a=\"\\q\"}",
        ] {
            assert!(parse_selector(bad).is_err(), "{bad:?} should fail");
        }
        assert_eq!(
            parse_selector("{job=\"\"}").unwrap_err().to_string(),
            "1:1: parse error: vector selector must contain at least one non-empty matcher"
        );
    }
}
