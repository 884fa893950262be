//! Go RE2 regular expressions, evaluated with Rust's `regex` crate.
//!
//! Prometheus' matchers and relabel rules are written in Go's RE2 syntax and
//! are fully anchored. Rust's `regex` is close to RE2 but not the same: its
//! Perl classes (`\d`, `\w`, `\s`, `\b`) are Unicode-aware while Go's are
//! ASCII-only, it has no `\Q...\E` quoting, and it rejects a `{` that does not
//! start a repetition where Go reads it as a literal. [`GoRegex`] rewrites a
//! Go pattern into an equivalent Rust pattern and anchors it as
//! `^(?s:...)$` (Prometheus 3: `.` also matches a newline), so both servers
//! accept the same patterns and match the same strings.
//!
//! Matching is hot (postings for `=~`, relabeling every target), so common
//! shapes skip the regex engine: a literal, an alternation of literals, `.*`
//! and `.+`.

use std::collections::HashSet;
use std::sync::Arc;

/// A pattern Go's RE2 would reject or we cannot translate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("error parsing regexp: {message}")]
pub struct RegexError {
    /// What is wrong, in the regex library's words.
    pub message: String,
}

/// A fully anchored regex with Go RE2 semantics.
#[derive(Clone)]
pub struct GoRegex {
    source: Arc<str>,
    regex: regex::Regex,
    fast: FastPath,
}

#[derive(Clone)]
enum FastPath {
    None,
    /// `.*`: matches every string.
    Any,
    /// `.+`: matches every non-empty string.
    NonEmpty,
    /// A literal or an alternation of literals.
    Set(Arc<HashSet<String>>),
}

impl GoRegex {
    /// Compiles `pattern` (Go syntax, unanchored as written) anchored at both ends.
    pub fn new(pattern: &str) -> Result<Self, RegexError> {
        let translated = translate(pattern)?;
        let anchored = format!("^(?s:{translated})$");
        let regex = regex::RegexBuilder::new(&anchored)
            .octal(true)
            .size_limit(64 << 20)
            .build()
            .map_err(|e| RegexError { message: e.to_string() })?;
        let fast = fast_path(pattern, &translated);
        Ok(GoRegex { source: Arc::from(pattern), regex, fast })
    }

    /// The pattern as the user wrote it.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether the whole of `s` matches.
    pub fn is_match(&self, s: &str) -> bool {
        match &self.fast {
            FastPath::Any => true,
            FastPath::NonEmpty => !s.is_empty(),
            FastPath::Set(set) => set.contains(s),
            FastPath::None => self.regex.is_match(s),
        }
    }

    /// The compiled, anchored Rust regex, for capture groups and `$1`
    /// expansion (relabeling, `label_replace`). Rust's `Captures::expand`
    /// follows the same rules as Go's `Regexp.Expand` (`$1x` names group `1x`).
    pub fn regex(&self) -> &regex::Regex {
        &self.regex
    }
}

impl std::fmt::Debug for GoRegex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "GoRegex({:?})", self.source)
    }
}

impl PartialEq for GoRegex {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

fn fast_path(pattern: &str, translated: &str) -> FastPath {
    match pattern {
        ".*" => return FastPath::Any,
        ".+" => return FastPath::NonEmpty,
        _ => {}
    }
    // Literal alternations like `GET|POST|PUT` or `node_exporter`.
    let Ok(hir) = regex_syntax::ParserBuilder::new().octal(true).build().parse(translated) else {
        return FastPath::None;
    };
    let mut set = HashSet::new();
    if collect_literals(&hir, &mut set) { FastPath::Set(Arc::new(set)) } else { FastPath::None }
}

fn collect_literals(hir: &regex_syntax::hir::Hir, out: &mut HashSet<String>) -> bool {
    use regex_syntax::hir::HirKind;
    match hir.kind() {
        HirKind::Literal(lit) => match std::str::from_utf8(&lit.0) {
            Ok(s) => {
                out.insert(s.to_owned());
                true
            }
            Err(_) => false,
        },
        HirKind::Empty => {
            out.insert(String::new());
            true
        }
        HirKind::Alternation(alts) => alts.iter().all(|h| collect_literals(h, out)),
        HirKind::Capture(c) => collect_literals(&c.sub, out),
        _ => false,
    }
}

const DIGIT: &str = "0-9";
const NOT_DIGIT: &str = r"\x00-/:-\x{10FFFF}";
const SPACE: &str = r"\t\n\x0C\r ";
const NOT_SPACE: &str = r"\x00-\x08\x0B\x0E-\x1F!-\x{10FFFF}";
const WORD: &str = "0-9A-Za-z_";
const NOT_WORD: &str = r"\x00-/:-@\[-\^`\{-\x{10FFFF}";

/// Rewrites a Go RE2 pattern into Rust `regex` syntax with the same meaning.
pub fn translate(pattern: &str) -> Result<String, RegexError> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::with_capacity(pattern.len() + 8);
    let mut i = 0;
    let mut in_class = false;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\\' => {
                let Some(&next) = chars.get(i + 1) else {
                    return Err(RegexError {
                        message: "trailing backslash at end of expression".into(),
                    });
                };
                i += 2;
                let class = match next {
                    'd' => Some(DIGIT),
                    'D' => Some(NOT_DIGIT),
                    's' => Some(SPACE),
                    'S' => Some(NOT_SPACE),
                    'w' => Some(WORD),
                    'W' => Some(NOT_WORD),
                    _ => None,
                };
                if let Some(class) = class {
                    if in_class {
                        out.push_str(class);
                    } else {
                        out.push('[');
                        out.push_str(class);
                        out.push(']');
                    }
                    continue;
                }
                match next {
                    'b' if !in_class => out.push_str(r"(?-u:\b)"),
                    'B' if !in_class => out.push_str(r"(?-u:\B)"),
                    'Q' => {
                        // Everything up to `\E` (or the end) is literal.
                        let mut lit = String::new();
                        while i < chars.len() {
                            if chars[i] == '\\' && chars.get(i + 1) == Some(&'E') {
                                i += 2;
                                break;
                            }
                            lit.push(chars[i]);
                            i += 1;
                        }
                        for ch in lit.chars() {
                            if in_class {
                                if matches!(ch, '\\' | ']' | '[' | '^' | '-' | '&' | '~') {
                                    out.push('\\');
                                }
                                out.push(ch);
                            } else {
                                out.push_str(&regex::escape(&ch.to_string()));
                            }
                        }
                    }
                    _ => {
                        out.push('\\');
                        out.push(next);
                    }
                }
                continue;
            }
            '[' if !in_class => {
                in_class = true;
                out.push('[');
                i += 1;
                // A leading `^` and a leading `]` are part of the class syntax.
                if chars.get(i) == Some(&'^') {
                    out.push('^');
                    i += 1;
                }
                if chars.get(i) == Some(&']') {
                    out.push_str(r"\]");
                    i += 1;
                }
                continue;
            }
            '[' if in_class => {
                // POSIX classes like `[:alpha:]` pass through; a bare `[` is
                // literal in Go but opens a nested class in Rust.
                if chars.get(i + 1) == Some(&':')
                    && let Some(end) = find_seq(&chars, i + 2, &[':', ']'])
                {
                    out.extend(&chars[i..end + 2]);
                    i = end + 2;
                    continue;
                }
                out.push_str(r"\[");
            }
            ']' if in_class => {
                in_class = false;
                out.push(']');
            }
            '&' | '~' | '-' if in_class => {
                // Rust treats `&&`, `~~` and `--` as class set operations.
                if chars.get(i + 1) == Some(&c) {
                    out.push('\\');
                    out.push(c);
                    out.push('\\');
                    out.push(c);
                    i += 2;
                    continue;
                }
                out.push(c);
            }
            '{' if !in_class => {
                if let Some(end) = repetition_end(&chars, i) {
                    out.extend(&chars[i..=end]);
                    i = end + 1;
                    continue;
                }
                out.push_str(r"\{");
            }
            '}' if !in_class => out.push_str(r"\}"),
            _ => out.push(c),
        }
        i += 1;
    }
    Ok(out)
}

fn find_seq(chars: &[char], from: usize, seq: &[char]) -> Option<usize> {
    (from..chars.len().saturating_sub(seq.len() - 1)).find(|&j| chars[j..].starts_with(seq))
}

/// If a valid Go repetition `{n}`, `{n,}` or `{n,m}` starts at `start`,
/// returns the index of its closing brace.
fn repetition_end(chars: &[char], start: usize) -> Option<usize> {
    let mut j = start + 1;
    let digits_from = j;
    while chars.get(j).is_some_and(char::is_ascii_digit) {
        j += 1;
    }
    if j == digits_from {
        return None;
    }
    match chars.get(j)? {
        '}' => return Some(j),
        ',' => j += 1,
        _ => return None,
    }
    while chars.get(j).is_some_and(char::is_ascii_digit) {
        j += 1;
    }
    (chars.get(j) == Some(&'}')).then_some(j)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, s: &str) -> bool {
        GoRegex::new(p).unwrap().is_match(s)
    }

    #[test]
    fn anchored_and_dot_matches_newline() {
        assert!(m("foo", "foo"));
        assert!(!m("foo", "xfoo"));
        assert!(!m("foo", "foox"));
        assert!(m("a.b", "a\nb"));
        assert!(m(".*", ""));
        assert!(!m(".+", ""));
    }

    #[test]
    fn perl_classes_are_ascii_like_go() {
        assert!(m(r"\d+", "123"));
        assert!(!m(r"\d", "٣")); // Arabic-Indic digit: Unicode \d, not Go's
        assert!(m(r"\D", "٣"));
        assert!(!m(r"\w", "é"));
        assert!(m(r"\W", "é"));
        assert!(m(r"[\w.]+", "a.b_c"));
        assert!(!m(r"\s", "\u{85}"));
        assert!(!m(r"\s", "\x0B"));
        assert!(m(r"\S", "\x0B"));
        assert!(m(r"x\bé", "xé"));
    }

    #[test]
    fn go_only_syntax_translates() {
        assert!(m(r"\Qa.b\E", "a.b"));
        assert!(!m(r"\Qa.b\E", "axb"));
        assert!(m(r"a{", "a{"));
        assert!(m(r"a{,5}", "a{,5}"));
        assert!(m(r"a{2}", "aa"));
        assert!(m(r"[a-c&&b]+", "a&&b"));
        assert!(m(r"[[:alpha:]]+", "abc"));
        assert!(m(r"[]a]", "]"));
        assert!(GoRegex::new("(").is_err());
    }

    #[test]
    fn literal_sets_match_exactly() {
        assert!(m("GET|POST", "POST"));
        assert!(!m("GET|POST", "GETPOST"));
        assert!(m("(?i)get", "GET"));
        assert!(m("|a", ""));
    }
}
