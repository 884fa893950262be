//! The PromQL lexer.
//!
//! It reproduces the token boundaries and error texts of Prometheus' lexer
//! (`promql/parser/lex.go`), including its modes: inside `{...}` only label
//! names, strings, matcher operators and commas exist; right after `[` the
//! duration-expression mode accepts numbers, durations, arithmetic,
//! `step()`, `range()`, `min_of`/`max_of` and `:`. The whole input is
//! tokenized up front; a lexing error ends the token stream with an
//! [`TokenKind::Error`] token, as Prometheus' parser stops at the first one.

use super::ast::AggregateOp;
use super::quote::go_quote_rune;

/// Keywords other than aggregators and operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Keyword {
    Bool,
    By,
    GroupLeft,
    GroupRight,
    Fill,
    FillLeft,
    FillRight,
    Ignoring,
    Offset,
    Smoothed,
    Anchored,
    On,
    Without,
    // "Preprocessors" in Prometheus' terms: they double as function names.
    Start,
    End,
    Step,
    Range,
    MaxOf,
    MinOf,
}

impl Keyword {
    /// Prometheus prints these as `<word>` in "unexpected" errors; the
    /// preprocessors print as a plain quoted string.
    fn is_plain_keyword(self) -> bool {
        !matches!(
            self,
            Keyword::Start
                | Keyword::End
                | Keyword::Step
                | Keyword::Range
                | Keyword::MaxOf
                | Keyword::MinOf
        )
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum TokenKind {
    Eof,
    /// A lexing error with its message.
    Error(String),
    Identifier,
    MetricIdentifier,
    Number,
    Duration,
    String,
    LeftParen,
    RightParen,
    LeftBrace,
    RightBrace,
    LeftBracket,
    RightBracket,
    Comma,
    Colon,
    /// `=` (label matching).
    Eql,
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
    /// `==`
    Eqlc,
    Neq,
    Lte,
    Lss,
    Gte,
    Gtr,
    TrimUpper,
    TrimLower,
    EqlRegex,
    NeqRegex,
    At,
    And,
    Or,
    Unless,
    Atan2,
    Aggregator(AggregateOp),
    Keyword(Keyword),
}

/// One token: its kind and where it sits (`text` is `input[start..end]`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub(crate) kind: TokenKind,
    pub(crate) start: usize,
    pub(crate) end: usize,
}

impl Token {
    pub(crate) fn text<'a>(&self, input: &'a str) -> &'a str {
        &input[self.start..self.end]
    }

    /// How Prometheus describes the token in "unexpected ..." errors.
    pub(crate) fn describe(&self, input: &str) -> String {
        let val = self.text(input);
        let quoted = || super::quote::go_quote(val);
        match &self.kind {
            TokenKind::Eof => "end of input".to_string(),
            TokenKind::Error(msg) => msg.clone(),
            TokenKind::Identifier => format!("identifier {}", quoted()),
            TokenKind::MetricIdentifier => format!("metric identifier {}", quoted()),
            TokenKind::Number => format!("number {}", short_quote(val)),
            TokenKind::Duration => format!("duration {}", short_quote(val)),
            TokenKind::String => format!("string {}", short_quote(val)),
            TokenKind::Keyword(k) if k.is_plain_keyword() => format!("<{val}>"),
            TokenKind::Keyword(_) => short_quote(val),
            TokenKind::Aggregator(_) => format!("<aggr:{val}>"),
            TokenKind::Add
            | TokenKind::Sub
            | TokenKind::Mul
            | TokenKind::Div
            | TokenKind::Mod
            | TokenKind::Pow
            | TokenKind::Eqlc
            | TokenKind::Neq
            | TokenKind::Lte
            | TokenKind::Lss
            | TokenKind::Gte
            | TokenKind::Gtr
            | TokenKind::TrimUpper
            | TokenKind::TrimLower
            | TokenKind::EqlRegex
            | TokenKind::NeqRegex
            | TokenKind::At
            | TokenKind::And
            | TokenKind::Or
            | TokenKind::Unless
            | TokenKind::Atan2 => format!("<op:{val}>"),
            TokenKind::LeftParen
            | TokenKind::RightParen
            | TokenKind::LeftBrace
            | TokenKind::RightBrace
            | TokenKind::LeftBracket
            | TokenKind::RightBracket
            | TokenKind::Comma
            | TokenKind::Colon
            | TokenKind::Eql => short_quote(val),
        }
    }
}

/// Go's `%q`, or `%.10q...` for values longer than 10 bytes (Prometheus'
/// `Item.String`).
fn short_quote(val: &str) -> String {
    if val.len() > 10 {
        let truncated: String = val.chars().take(10).collect();
        format!("{}...", super::quote::go_quote(&truncated))
    } else {
        super::quote::go_quote(val)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Statements,
    InsideBraces,
    DurationExpr,
    Done,
}

struct Lexer<'a> {
    input: &'a str,
    pos: usize,
    start: usize,
    width: usize,
    paren_depth: i64,
    brace_open: bool,
    bracket_open: bool,
    got_colon: bool,
    got_duration: bool,
    string_open: char,
    state: State,
    out: Vec<Token>,
}

/// Tokenizes `input`. Comments are dropped. The result always ends with an
/// `Eof` or an `Error` token.
pub(crate) fn tokenize(input: &str) -> Vec<Token> {
    let mut l = Lexer {
        input,
        pos: 0,
        start: 0,
        width: 0,
        paren_depth: 0,
        brace_open: false,
        bracket_open: false,
        got_colon: false,
        got_duration: false,
        string_open: '"',
        state: State::Statements,
        out: Vec::new(),
    };
    while l.state != State::Done {
        match l.state {
            State::Statements => l.lex_statements(),
            State::InsideBraces => l.lex_inside_braces(),
            State::DurationExpr => l.lex_duration_expr(),
            State::Done => {}
        }
    }
    l.out
}

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

fn is_alpha(c: char) -> bool {
    c == '_' || c.is_ascii_alphabetic()
}

fn is_alnum(c: char) -> bool {
    is_alpha(c) || c.is_ascii_digit()
}

fn keyword(word: &str) -> Option<TokenKind> {
    // No keyword is longer than `count_values`; lowercase into a stack
    // buffer instead of allocating for every identifier.
    let mut buf = [0u8; 12];
    let dst = buf.get_mut(..word.len())?;
    dst.copy_from_slice(word.as_bytes());
    dst.make_ascii_lowercase();
    let lower = std::str::from_utf8(dst).ok()?;
    if let Some(op) = AggregateOp::from_name(lower) {
        return Some(TokenKind::Aggregator(op));
    }
    Some(match lower {
        "and" => TokenKind::And,
        "or" => TokenKind::Or,
        "unless" => TokenKind::Unless,
        "atan2" => TokenKind::Atan2,
        "offset" => TokenKind::Keyword(Keyword::Offset),
        "smoothed" => TokenKind::Keyword(Keyword::Smoothed),
        "anchored" => TokenKind::Keyword(Keyword::Anchored),
        "by" => TokenKind::Keyword(Keyword::By),
        "without" => TokenKind::Keyword(Keyword::Without),
        "on" => TokenKind::Keyword(Keyword::On),
        "ignoring" => TokenKind::Keyword(Keyword::Ignoring),
        "group_left" => TokenKind::Keyword(Keyword::GroupLeft),
        "group_right" => TokenKind::Keyword(Keyword::GroupRight),
        "fill" => TokenKind::Keyword(Keyword::Fill),
        "fill_left" => TokenKind::Keyword(Keyword::FillLeft),
        "fill_right" => TokenKind::Keyword(Keyword::FillRight),
        "bool" => TokenKind::Keyword(Keyword::Bool),
        "start" => TokenKind::Keyword(Keyword::Start),
        "end" => TokenKind::Keyword(Keyword::End),
        "step" => TokenKind::Keyword(Keyword::Step),
        "range" => TokenKind::Keyword(Keyword::Range),
        "max_of" => TokenKind::Keyword(Keyword::MaxOf),
        "min_of" => TokenKind::Keyword(Keyword::MinOf),
        "inf" | "nan" => TokenKind::Number,
        _ => return None,
    })
}

/// Keywords recognised inside `[...]` where other identifiers are errors.
fn duration_keyword(word: &str) -> Option<Keyword> {
    match word.to_ascii_lowercase().as_str() {
        "step" => Some(Keyword::Step),
        "range" => Some(Keyword::Range),
        "max_of" => Some(Keyword::MaxOf),
        "min_of" => Some(Keyword::MinOf),
        _ => None,
    }
}

fn is_duration_keyword_start(c: char) -> bool {
    matches!(c.to_ascii_lowercase(), 's' | 'r' | 'm')
}

impl Lexer<'_> {
    fn next(&mut self) -> Option<char> {
        match self.input[self.pos..].chars().next() {
            Some(c) => {
                self.width = c.len_utf8();
                self.pos += self.width;
                Some(c)
            }
            None => {
                self.width = 0;
                None
            }
        }
    }

    fn peek(&self) -> Option<char> {
        self.input[self.pos..].chars().next()
    }

    fn backup(&mut self) {
        self.pos -= self.width;
        self.width = 0;
    }

    fn accept(&mut self, valid: &str) -> bool {
        match self.next() {
            Some(c) if valid.contains(c) => true,
            _ => {
                self.backup();
                false
            }
        }
    }

    fn is(&self, valid: &str) -> bool {
        self.peek().is_some_and(|c| valid.contains(c))
    }

    fn accept_run(&mut self, valid: &str) {
        while self.accept(valid) {}
    }

    fn emit(&mut self, kind: TokenKind) {
        self.out.push(Token { kind, start: self.start, end: self.pos });
        self.start = self.pos;
    }

    fn error(&mut self, message: String) {
        self.out.push(Token {
            kind: TokenKind::Error(message),
            start: self.start,
            end: self.input.len(),
        });
        self.state = State::Done;
    }

    fn skip_spaces(&mut self) {
        while self.peek().is_some_and(is_space) {
            self.next();
        }
        self.start = self.pos;
    }

    fn skip_comment(&mut self) {
        self.pos += 1;
        while let Some(c) = self.peek() {
            if c == '\r' || c == '\n' {
                break;
            }
            self.next();
        }
        self.start = self.pos;
    }

    fn lex_statements(&mut self) {
        if self.brace_open {
            self.state = State::InsideBraces;
            return;
        }
        if self.input[self.pos..].starts_with('#') {
            self.skip_comment();
            return;
        }
        let Some(r) = self.next() else {
            if self.paren_depth != 0 {
                self.error("unclosed left parenthesis".into());
            } else if self.bracket_open {
                self.error("unclosed left bracket".into());
            } else {
                self.emit(TokenKind::Eof);
                self.state = State::Done;
            }
            return;
        };
        match r {
            ',' => self.emit(TokenKind::Comma),
            c if is_space(c) => self.skip_spaces(),
            '*' => self.emit(TokenKind::Mul),
            '/' => self.emit(TokenKind::Div),
            '%' => self.emit(TokenKind::Mod),
            '+' => self.emit(TokenKind::Add),
            '-' => self.emit(TokenKind::Sub),
            '^' => self.emit(TokenKind::Pow),
            '=' => match self.peek() {
                Some('=') => {
                    self.next();
                    self.emit(TokenKind::Eqlc);
                }
                Some('~') => self
                    .error(format!("unexpected character after '=': {}", go_quote_rune(Some('~')))),
                _ => self.emit(TokenKind::Eql),
            },
            '!' => {
                let t = self.next();
                if t != Some('=') {
                    self.error(format!("unexpected character after '!': {}", go_quote_rune(t)));
                    return;
                }
                self.emit(TokenKind::Neq);
            }
            '<' => match self.peek() {
                Some('=') => {
                    self.next();
                    self.emit(TokenKind::Lte);
                }
                Some('/') => {
                    self.next();
                    self.emit(TokenKind::TrimUpper);
                }
                _ => self.emit(TokenKind::Lss),
            },
            '>' => match self.peek() {
                Some('=') => {
                    self.next();
                    self.emit(TokenKind::Gte);
                }
                Some('/') => {
                    self.next();
                    self.emit(TokenKind::TrimLower);
                }
                _ => self.emit(TokenKind::Gtr),
            },
            c if c.is_ascii_digit()
                || (c == '.' && self.peek().is_some_and(|d| d.is_ascii_digit())) =>
            {
                self.backup();
                self.lex_number_or_duration();
            }
            '"' | '\'' => {
                self.string_open = r;
                self.lex_string();
            }
            '`' => {
                self.string_open = r;
                self.lex_raw_string();
            }
            c if is_alpha(c) || c == ':' => {
                if !self.bracket_open {
                    self.backup();
                    self.lex_keyword_or_identifier();
                    return;
                }
                if c == ':' {
                    if self.got_colon {
                        self.error(format!("unexpected colon {}", go_quote_rune(Some(c))));
                        return;
                    }
                    self.emit(TokenKind::Colon);
                    self.got_colon = true;
                    return;
                }
                if is_duration_keyword_start(c) && self.scan_duration_keyword() {
                    return;
                }
                self.error(format!(
                    "unexpected character: {}, expected {}",
                    go_quote_rune(Some(c)),
                    go_quote_rune(Some(':'))
                ));
            }
            '(' => {
                self.emit(TokenKind::LeftParen);
                self.paren_depth += 1;
            }
            ')' => {
                self.emit(TokenKind::RightParen);
                self.paren_depth -= 1;
                if self.paren_depth < 0 {
                    // Prometheus' lexer overwrites the emitted token with the error.
                    self.out.pop();
                    self.error(format!("unexpected right parenthesis {}", go_quote_rune(Some(r))));
                }
            }
            '{' => {
                self.emit(TokenKind::LeftBrace);
                self.brace_open = true;
                self.state = State::InsideBraces;
            }
            '[' => {
                if self.bracket_open {
                    self.error(format!("unexpected left bracket {}", go_quote_rune(Some(r))));
                    return;
                }
                self.got_colon = false;
                self.emit(TokenKind::LeftBracket);
                self.skip_spaces();
                self.bracket_open = true;
                self.state = State::DurationExpr;
            }
            ']' => {
                if !self.bracket_open {
                    self.error(format!("unexpected right bracket {}", go_quote_rune(Some(r))));
                    return;
                }
                self.emit(TokenKind::RightBracket);
                self.bracket_open = false;
            }
            '@' => self.emit(TokenKind::At),
            c => self.error(format!("unexpected character: {}", go_quote_rune(Some(c)))),
        }
    }

    fn lex_duration_expr(&mut self) {
        let Some(r) = self.next() else {
            self.error("unexpected end of input in duration expression".into());
            return;
        };
        match r {
            ']' => {
                self.emit(TokenKind::RightBracket);
                self.bracket_open = false;
                self.got_colon = false;
                self.state = State::Statements;
            }
            ':' => {
                self.emit(TokenKind::Colon);
                if !self.got_duration {
                    self.out.pop();
                    self.error("unexpected colon before duration in duration expression".into());
                    return;
                }
                if self.got_colon {
                    self.out.pop();
                    self.error("unexpected repeated colon in duration expression".into());
                    return;
                }
                self.got_colon = true;
            }
            '(' => {
                self.emit(TokenKind::LeftParen);
                self.paren_depth += 1;
            }
            ')' => {
                self.emit(TokenKind::RightParen);
                self.paren_depth -= 1;
                if self.paren_depth < 0 {
                    // Prometheus' lexer overwrites the emitted token with the error.
                    self.out.pop();
                    self.error(format!("unexpected right parenthesis {}", go_quote_rune(Some(r))));
                }
            }
            c if is_space(c) => self.skip_spaces(),
            '+' => self.emit(TokenKind::Add),
            '-' => self.emit(TokenKind::Sub),
            '*' => self.emit(TokenKind::Mul),
            '/' => self.emit(TokenKind::Div),
            '%' => self.emit(TokenKind::Mod),
            '^' => self.emit(TokenKind::Pow),
            ',' => self.emit(TokenKind::Comma),
            c if is_duration_keyword_start(c) => {
                // Prometheus only counts digits as "a duration was seen", so it
                // rejects `x[step():1m]`; we count `step()` and friends too.
                self.got_duration = true;
                if !self.scan_duration_keyword() {
                    self.error(format!(
                        "unexpected character in duration expression: {}",
                        go_quote_rune(Some(c))
                    ));
                }
            }
            c if c.is_ascii_digit()
                || (c == '.' && self.peek().is_some_and(|d| d.is_ascii_digit())) =>
            {
                self.backup();
                self.got_duration = true;
                self.state = State::Statements;
                self.lex_number_or_duration();
            }
            c => self.error(format!(
                "unexpected character in duration expression: {}",
                go_quote_rune(Some(c))
            )),
        }
    }

    fn scan_duration_keyword(&mut self) -> bool {
        while self.peek().is_some_and(is_alpha) {
            self.next();
        }
        match duration_keyword(&self.input[self.start..self.pos]) {
            Some(k) => {
                self.emit(TokenKind::Keyword(k));
                true
            }
            None => false,
        }
    }

    fn lex_inside_braces(&mut self) {
        if self.input[self.pos..].starts_with('#') {
            self.skip_comment();
            return;
        }
        let Some(r) = self.next() else {
            self.error("unexpected end of input inside braces".into());
            return;
        };
        match r {
            c if is_space(c) => self.skip_spaces(),
            c if is_alpha(c) => {
                while self.peek().is_some_and(is_alnum) {
                    self.next();
                }
                self.emit(TokenKind::Identifier);
            }
            ',' => self.emit(TokenKind::Comma),
            '"' | '\'' => {
                self.string_open = r;
                self.lex_string();
            }
            '`' => {
                self.string_open = r;
                self.lex_raw_string();
            }
            '=' => {
                if self.next() == Some('~') {
                    self.emit(TokenKind::EqlRegex);
                } else {
                    self.backup();
                    self.emit(TokenKind::Eql);
                }
            }
            '!' => match self.next() {
                Some('~') => self.emit(TokenKind::NeqRegex),
                Some('=') => self.emit(TokenKind::Neq),
                nr => self.error(format!(
                    "unexpected character after '!' inside braces: {}",
                    go_quote_rune(nr)
                )),
            },
            '{' => self.error(format!("unexpected left brace {}", go_quote_rune(Some(r)))),
            '}' => {
                self.emit(TokenKind::RightBrace);
                self.brace_open = false;
                self.state = State::Statements;
            }
            c => self
                .error(format!("unexpected character inside braces: {}", go_quote_rune(Some(c)))),
        }
    }

    /// Reads a quoted string, checking escapes as Go does; the value is
    /// unquoted later by the parser.
    fn lex_string(&mut self) {
        loop {
            match self.next() {
                Some('\\') => {
                    if let Err(msg) = self.lex_escape() {
                        self.error(msg);
                        return;
                    }
                }
                // Go decodes U+FFFD (and invalid bytes) as utf8.RuneError.
                Some('\u{FFFD}') => {
                    self.error("invalid UTF-8 rune".into());
                    return;
                }
                None | Some('\n') => {
                    self.error("unterminated quoted string".into());
                    return;
                }
                Some(c) if c == self.string_open => break,
                Some(_) => {}
            }
        }
        self.emit(TokenKind::String);
    }

    fn lex_escape(&mut self) -> Result<(), String> {
        let mut ch = self.next();
        let (mut n, base, max): (u32, u32, u32) = match ch {
            Some('a' | 'b' | 'f' | 'n' | 'r' | 't' | 'v' | '\\') => return Ok(()),
            Some(c) if c == self.string_open => return Ok(()),
            Some('0'..='7') => (3, 8, 255),
            Some('x') => {
                ch = self.next();
                (2, 16, 255)
            }
            Some('u') => {
                ch = self.next();
                (4, 16, 0x10FFFF)
            }
            Some('U') => {
                ch = self.next();
                (8, 16, 0x10FFFF)
            }
            None => return Err("escape sequence not terminated".into()),
            Some(c) => return Err(format!("unknown escape sequence {}", go_sharp_u(c))),
        };
        let mut x: u32 = 0;
        while n > 0 {
            let d = ch.and_then(|c| c.to_digit(16)).unwrap_or(16);
            if d >= base {
                return Err(match ch {
                    None => "escape sequence not terminated".into(),
                    Some(c) => format!("illegal character {} in escape sequence", go_sharp_u(c)),
                });
            }
            x = x.wrapping_mul(base).wrapping_add(d);
            n -= 1;
            if n > 0 {
                ch = self.next();
            }
        }
        if x > max || (0xD800..0xE000).contains(&x) {
            return Err("escape sequence is an invalid Unicode code point".into());
        }
        Ok(())
    }

    fn lex_raw_string(&mut self) {
        loop {
            match self.next() {
                Some('\u{FFFD}') => {
                    self.error("invalid UTF-8 rune".into());
                    return;
                }
                None => {
                    self.error("unterminated raw string".into());
                    return;
                }
                Some(c) if c == self.string_open => break,
                Some(_) => {}
            }
        }
        self.emit(TokenKind::String);
    }

    fn lex_number_or_duration(&mut self) {
        if self.scan_number() {
            self.emit(TokenKind::Number);
            return;
        }
        if self.accept_remaining_duration() {
            self.backup();
            self.emit(TokenKind::Duration);
            return;
        }
        let text = self.input[self.start..self.pos].to_string();
        self.error(format!("bad number or duration syntax: {}", super::quote::go_quote(&text)));
    }

    fn accept_remaining_duration(&mut self) -> bool {
        if !self.accept("smhdwy") {
            return false;
        }
        self.accept("s");
        while self.accept("0123456789") {
            while self.accept("0123456789") {}
            if !self.accept("smhdw") {
                return false;
            }
            self.accept("s");
        }
        !self.next().is_some_and(is_alnum)
    }

    /// Scans a number the way Prometheus' lexer does: decimal or `0x` hex,
    /// with `.`, exponents and `_` separators, and no letter right after it.
    fn scan_number(&mut self) -> bool {
        let initial = self.pos;
        let mut digits = "0123456789";
        if self.accept("0") && self.accept("xX") {
            self.accept("_");
            digits = "0123456789abcdefABCDEF";
        }
        self.accept(".");
        self.accept(digits);
        let mut dot_consumed = false;
        let mut exponent_consumed = false;
        loop {
            let any = format!("{digits}._eE");
            if !self.is(&any) {
                break;
            }
            if self.is(".") && dot_consumed {
                self.accept(".");
                return false;
            }
            if self.is("eE") && exponent_consumed {
                self.accept("eE");
                return false;
            }
            if self.accept(".") {
                dot_consumed = true;
                if self.accept("_.") {
                    return false;
                }
                if digits.len() > 10 {
                    return false;
                }
                continue;
            }
            if self.accept("eE") {
                exponent_consumed = true;
                self.accept("+-");
                if self.accept("._eE") || self.peek().is_none() {
                    return false;
                }
                continue;
            }
            if self.accept("_") {
                if self.accept("._eE") || self.peek().is_none() {
                    return false;
                }
                continue;
            }
            self.accept_run(digits);
        }
        if self.pos == initial {
            return false;
        }
        !self.peek().is_some_and(is_alnum)
    }

    fn lex_keyword_or_identifier(&mut self) {
        while self.peek().is_some_and(|c| is_alnum(c) || c == ':') {
            self.next();
        }
        let word = &self.input[self.start..self.pos];
        match keyword(word) {
            Some(TokenKind::Keyword(Keyword::Fill | Keyword::FillLeft | Keyword::FillRight))
                if !self.followed_by_left_paren() =>
            {
                self.emit(TokenKind::Identifier)
            }
            Some(kind) => self.emit(kind),
            None if word.contains(':') => self.emit(TokenKind::MetricIdentifier),
            None => self.emit(TokenKind::Identifier),
        }
    }

    fn followed_by_left_paren(&self) -> bool {
        self.input[self.pos..].chars().find(|&c| !is_space(c)) == Some('(')
    }
}

/// Go's `%#U`: `U+0041 'A'`.
fn go_sharp_u(c: char) -> String {
    format!("U+{:04X} '{}'", c as u32, c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(input: &str) -> Vec<TokenKind> {
        tokenize(input).into_iter().map(|t| t.kind).collect()
    }

    fn texts(input: &str) -> Vec<String> {
        tokenize(input).iter().map(|t| t.text(input).to_string()).collect()
    }

    #[test]
    fn numbers_and_durations_split_like_prometheus() {
        assert_eq!(texts("1h30m 0x1F 1e-3 .5 5m1s"), ["1h30m", "0x1F", "1e-3", ".5", "5m1s", ""]);
        assert_eq!(kinds("1h30m 0x1F"), [TokenKind::Duration, TokenKind::Number, TokenKind::Eof]);
        assert_eq!(kinds("Inf nan"), [TokenKind::Number, TokenKind::Number, TokenKind::Eof]);
        assert!(
            matches!(&kinds("1e")[0], TokenKind::Error(m) if m == "bad number or duration syntax: \"1e\"")
        );
    }

    #[test]
    fn brace_mode_only_knows_matchers() {
        assert_eq!(
            kinds(r#"{a=~"x",b!="y"}"#),
            [
                TokenKind::LeftBrace,
                TokenKind::Identifier,
                TokenKind::EqlRegex,
                TokenKind::String,
                TokenKind::Comma,
                TokenKind::Identifier,
                TokenKind::Neq,
                TokenKind::String,
                TokenKind::RightBrace,
                TokenKind::Eof
            ]
        );
        // Keywords are plain identifiers inside braces.
        assert_eq!(kinds("{by=\"\"}")[1], TokenKind::Identifier);
    }

    #[test]
    fn bracket_mode_lexes_duration_expressions() {
        assert_eq!(
            texts("x[step()+1m:5s]"),
            ["x", "[", "step", "(", ")", "+", "1m", ":", "5s", "]", ""]
        );
        assert!(matches!(&kinds("x[foo]")[2], TokenKind::Error(m)
            if m == "unexpected character in duration expression: 'f'"));
        assert!(matches!(&kinds("x[:5m]")[2], TokenKind::Error(m)
            if m == "unexpected colon before duration in duration expression"));
    }

    #[test]
    fn fill_is_a_keyword_only_before_a_parenthesis() {
        assert_eq!(kinds("fill (1)")[0], TokenKind::Keyword(Keyword::Fill));
        assert_eq!(kinds("fill + 1")[0], TokenKind::Identifier);
    }

    #[test]
    fn comments_are_skipped_and_errors_end_the_stream() {
        assert_eq!(
            kinds("foo # comment\n+ 1"),
            [TokenKind::Identifier, TokenKind::Add, TokenKind::Number, TokenKind::Eof]
        );
        assert_eq!(
            kinds("(foo"),
            [
                TokenKind::LeftParen,
                TokenKind::Identifier,
                TokenKind::Error("unclosed left parenthesis".into())
            ]
        );
        assert_eq!(kinds("\"abc")[0], TokenKind::Error("unterminated quoted string".into()));
        assert_eq!(
            kinds(r#""\q""#)[0],
            TokenKind::Error("unknown escape sequence U+0071 'q'".into())
        );
    }

    #[test]
    fn descriptions_match_prometheus_wording() {
        let d = |s: &str| tokenize(s)[0].describe(s);
        assert_eq!(d("foo"), "identifier \"foo\"");
        assert_eq!(d("by"), "<by>");
        assert_eq!(d("sum"), "<aggr:sum>");
        assert_eq!(d("+"), "<op:+>");
        assert_eq!(d("and"), "<op:and>");
        assert_eq!(d("("), "\"(\"");
        assert_eq!(d("5m"), "duration \"5m\"");
        assert_eq!(d("\"abcdefghijkl\""), r#"string "\"abcdefghi"..."#);
        assert_eq!(d(""), "end of input");
    }
}
