//! The recursive-descent PromQL parser.
//!
//! Prometheus generates its parser with yacc; this one is written by hand
//! but resolves every ambiguity the way the yacc grammar does:
//!
//! * binary operators by precedence (`or` < `and`/`unless` < comparisons <
//!   `+ -` < `* / % atan2` < `^`), all left associative except `^`;
//! * a sign binds like `*`, so `-a ^ b` is `-(a ^ b)` and `-a * b` is `(-a) * b`;
//!   a sign on a number literal folds into the literal;
//! * `[...]`, `offset`, `@`, `anchored` and `smoothed` bind tighter than any
//!   operator, to the primary expression right before them;
//! * after `offset`, a single literal, `step()`, `range()`, `min_of(...)`,
//!   `max_of(...)` or a signed parenthesised duration is the whole offset
//!   (`x offset 100 + 2` adds 2 to the selector), while a parenthesised
//!   duration may continue with duration arithmetic;
//! * syntax errors name the token and the innermost construct that has an
//!   error rule in the grammar (aggregation, label matching, grouping,
//!   range/subquery, offset, `@`).
//!
//! Parsing stops at the first error, which is the one Prometheus reports.
//! Type checking ([`super::check`]) runs once the whole tree is built.

use promethium_engine::model::{MatchType, Matcher};

use super::ParseError;
use super::ast::*;
use super::functions::get_function;
use super::lexer::{Keyword, Token, TokenKind, tokenize};
use super::quote::{go_quote, unquote};

type PResult<T> = Result<T, ParseError>;

/// Precedence of `^`, the only level that binds tighter than a sign.
const POW_PRECEDENCE: u8 = 6;

/// How deeply sub-expressions may nest (parentheses, calls, signs, `^`).
/// Prometheus has no limit; we need one so that a hostile query cannot
/// overflow the stack of the parser, the type checker or the evaluator,
/// which all recurse over the tree. Real queries stay far below it.
pub(crate) const MAX_NESTING: usize = 128;

/// How deep the tree may get. Left-nested operator chains (`a or b or c
/// ...`) and postfix chains are built by loops, not recursion, so they are
/// bounded separately; the type checker and printer walk long left chains
/// without recursion.
pub(crate) const MAX_DEPTH: usize = 1000;

/// Parses `input` into an untyped-checked tree.
pub(crate) fn parse_expr(input: &str) -> PResult<Expr> {
    let mut p = Parser {
        input,
        tokens: tokenize(input),
        pos: 0,
        last_closing: 0,
        contexts: Vec::new(),
        nesting: 0,
    };
    if p.peek().kind == TokenKind::Eof {
        return Err(ParseError::new(input, Span::new(0, 0), "no expression found in input"));
    }
    let expr = p.expr(0)?;
    if p.peek().kind != TokenKind::Eof {
        return Err(p.unexpected("", ""));
    }
    Ok(expr)
}

/// Parses a bare series selector (`match[]` of the HTTP API): a metric name
/// and/or `{...}`, nothing else. Unlike an expression, an all-empty
/// selector is not rejected here (the API checks that itself).
pub(crate) fn parse_metric_selector(input: &str) -> PResult<VectorSelector> {
    let mut p = Parser {
        input,
        tokens: tokenize(input),
        pos: 0,
        last_closing: 0,
        contexts: Vec::new(),
        nesting: 0,
    };
    let kind = p.peek_kind().clone();
    let vs = if kind == TokenKind::LeftBrace {
        let (matchers, span) = p.label_matchers()?;
        p.vector_selector(None, matchers, span)
    } else if is_metric_identifier(&kind) {
        p.named_selector()?
    } else {
        return Err(p.unexpected("", ""));
    };
    if p.peek().kind != TokenKind::Eof {
        return Err(p.unexpected("", ""));
    }
    Ok(vs)
}

struct Parser<'a> {
    input: &'a str,
    tokens: Vec<Token>,
    pos: usize,
    /// End of the last consumed closing token (`)`, `}`, `]`, number,
    /// duration): Prometheus ends modifier-extended nodes there.
    last_closing: usize,
    /// Error contexts of enclosing constructs, innermost last.
    contexts: Vec<(&'static str, &'static str)>,
    /// Current recursion depth of `expr`/`duration_expr`.
    nesting: usize,
}

/// The modifiers between a binary operator and its right operand.
struct BinModifiers {
    return_bool: bool,
    matching: VectorMatching,
}

/// An intermediate duration: a constant literal or an expression.
fn is_literal(d: &DurationExpr) -> Option<&NumberLiteral> {
    match d {
        DurationExpr::Number(n) => Some(n),
        _ => None,
    }
}

/// `time.Duration(math.Round(seconds * 1e9))` truncated to milliseconds.
fn seconds_to_millis(seconds: f64) -> i64 {
    let nanos = (seconds * 1e9).round();
    let nanos = if nanos >= 9.223_372_036_854_776e18 {
        i64::MAX
    } else if nanos <= -9.223_372_036_854_776e18 {
        i64::MIN
    } else {
        nanos as i64
    };
    nanos / 1_000_000
}

fn duration_literal_out_of_range(seconds: f64) -> bool {
    let limit = 9.223_372_036_854_776e18 / 1e9;
    seconds > limit || seconds < -limit
}

impl<'a> Parser<'a> {
    // ---- token plumbing -------------------------------------------------

    fn peek(&self) -> &Token {
        &self.tokens[self.pos.min(self.tokens.len() - 1)]
    }

    fn peek_at(&self, ahead: usize) -> &Token {
        &self.tokens[(self.pos + ahead).min(self.tokens.len() - 1)]
    }

    fn peek_kind(&self) -> &TokenKind {
        &self.peek().kind
    }

    fn advance(&mut self) -> Token {
        let t = self.peek().clone();
        if !matches!(t.kind, TokenKind::Eof | TokenKind::Error(_)) {
            self.pos += 1;
        }
        if matches!(
            t.kind,
            TokenKind::RightBrace
                | TokenKind::RightParen
                | TokenKind::RightBracket
                | TokenKind::Number
                | TokenKind::Duration
        ) {
            self.last_closing = t.end;
        }
        t
    }

    fn accept(&mut self, kind: &TokenKind) -> Option<Token> {
        if self.peek_kind() == kind { Some(self.advance()) } else { None }
    }

    fn err(&self, span: Span, message: impl Into<String>) -> ParseError {
        ParseError::new(self.input, span, message)
    }

    /// "unexpected <token> in <context>, expected <what>", or the lexer's
    /// error when the current token is one.
    fn unexpected(&self, context: &str, expected: &str) -> ParseError {
        let tok = self.peek();
        if let TokenKind::Error(msg) = &tok.kind {
            return self.err(Span::new(tok.start, tok.end), msg.clone());
        }
        let mut msg = format!("unexpected {}", tok.describe(self.input));
        if !context.is_empty() {
            msg.push_str(" in ");
            msg.push_str(context);
        }
        if !expected.is_empty() {
            msg.push_str(", expected ");
            msg.push_str(expected);
        }
        self.err(Span::new(tok.start, tok.end), msg)
    }

    /// An unexpected token reported in the innermost enclosing context.
    fn unexpected_in_context(&self) -> ParseError {
        let (context, expected) = self.contexts.last().copied().unwrap_or(("", ""));
        self.unexpected(context, expected)
    }

    fn expect(&mut self, kind: &TokenKind) -> PResult<Token> {
        self.accept(kind).ok_or_else(|| self.unexpected_in_context())
    }

    fn with_context<T>(
        &mut self,
        context: (&'static str, &'static str),
        f: impl FnOnce(&mut Self) -> PResult<T>,
    ) -> PResult<T> {
        self.contexts.push(context);
        let r = f(self);
        self.contexts.pop();
        r
    }

    // ---- expressions ----------------------------------------------------

    fn binary_op(kind: &TokenKind) -> Option<BinaryOp> {
        Some(match kind {
            TokenKind::Add => BinaryOp::Add,
            TokenKind::Sub => BinaryOp::Sub,
            TokenKind::Mul => BinaryOp::Mul,
            TokenKind::Div => BinaryOp::Div,
            TokenKind::Mod => BinaryOp::Mod,
            TokenKind::Pow => BinaryOp::Pow,
            TokenKind::Atan2 => BinaryOp::Atan2,
            TokenKind::Eqlc => BinaryOp::Eql,
            TokenKind::Neq => BinaryOp::Neq,
            TokenKind::Gtr => BinaryOp::Gtr,
            TokenKind::Lss => BinaryOp::Lss,
            TokenKind::Gte => BinaryOp::Gte,
            TokenKind::Lte => BinaryOp::Lte,
            TokenKind::And => BinaryOp::And,
            TokenKind::Or => BinaryOp::Or,
            TokenKind::Unless => BinaryOp::Unless,
            TokenKind::TrimUpper => BinaryOp::TrimUpper,
            TokenKind::TrimLower => BinaryOp::TrimLower,
            _ => return None,
        })
    }

    fn enter(&mut self) -> PResult<()> {
        self.nesting += 1;
        if self.nesting > MAX_NESTING {
            let tok = self.peek();
            return Err(self.err(
                Span::new(tok.start, tok.end),
                format!("expression nesting too deep (more than {MAX_NESTING} levels)"),
            ));
        }
        Ok(())
    }

    fn check_depth(&self, depth: usize) -> PResult<()> {
        if depth > MAX_DEPTH {
            let tok = self.peek();
            return Err(self.err(
                Span::new(tok.start, tok.end),
                format!("expression nesting too deep (more than {MAX_DEPTH} levels)"),
            ));
        }
        Ok(())
    }

    /// Precedence climbing over binary operators.
    fn expr(&mut self, min_precedence: u8) -> PResult<Expr> {
        self.enter()?;
        let r = self.expr_inner(min_precedence);
        self.nesting -= 1;
        r
    }

    fn expr_inner(&mut self, min_precedence: u8) -> PResult<Expr> {
        let start = self.pos;
        let mut lhs = self.unary()?;
        // Exact depth of `lhs`, only tracked once the expression has more
        // tokens than MAX_DEPTH (every node consumes a token, so a shorter
        // one cannot be too deep).
        let mut depth: Option<usize> = None;
        while let Some(op) = Self::binary_op(self.peek_kind()) {
            let precedence = op.precedence();
            if precedence < min_precedence {
                break;
            }
            self.advance();
            let modifiers = self.bin_modifiers()?;
            let next_min = if op.is_right_associative() { precedence } else { precedence + 1 };
            let rhs = self.expr(next_min)?;
            if self.pos - start > MAX_DEPTH {
                let d = 1 + depth.unwrap_or_else(|| tree_depth(&lhs)).max(tree_depth(&rhs));
                self.check_depth(d)?;
                depth = Some(d);
            }
            lhs = Expr::Binary(BinaryExpr {
                op,
                lhs: Box::new(lhs),
                rhs: Box::new(rhs),
                return_bool: modifiers.return_bool,
                matching: Some(modifiers.matching),
            });
        }
        Ok(lhs)
    }

    fn unary(&mut self) -> PResult<Expr> {
        let op = match self.peek_kind() {
            TokenKind::Add => UnaryOp::Pos,
            TokenKind::Sub => UnaryOp::Neg,
            _ => {
                let start = self.pos;
                let primary = self.primary()?;
                return self.postfix(primary, start);
            }
        };
        let op_tok = self.advance();
        let operand = self.expr(POW_PRECEDENCE)?;
        Ok(match operand {
            Expr::NumberLiteral(mut n) => {
                if op == UnaryOp::Neg {
                    n.value = -n.value;
                }
                n.span.start = op_tok.start;
                Expr::NumberLiteral(n)
            }
            other => {
                let span = Span::new(op_tok.start, other.span().end);
                Expr::Unary(UnaryExpr { op, expr: Box::new(other), span })
            }
        })
    }

    fn primary(&mut self) -> PResult<Expr> {
        let tok = self.peek().clone();
        match &tok.kind {
            TokenKind::Number | TokenKind::Duration => {
                Ok(Expr::NumberLiteral(self.number_literal()?))
            }
            TokenKind::String => {
                self.advance();
                Ok(Expr::StringLiteral(self.string_literal(&tok)?))
            }
            TokenKind::LeftParen => {
                self.advance();
                let inner = self.expr(0)?;
                let close = self.expect(&TokenKind::RightParen)?;
                Ok(Expr::Paren(ParenExpr {
                    expr: Box::new(inner),
                    span: Span::new(tok.start, close.end),
                }))
            }
            TokenKind::LeftBrace => {
                let (matchers, span) = self.label_matchers()?;
                Ok(Expr::VectorSelector(self.vector_selector(None, matchers, span)))
            }
            TokenKind::Aggregator(op) => {
                let op = *op;
                let next = &self.peek_at(1).kind;
                if matches!(
                    next,
                    TokenKind::LeftParen
                        | TokenKind::Keyword(Keyword::By)
                        | TokenKind::Keyword(Keyword::Without)
                ) {
                    self.aggregate(op)
                } else {
                    // Anywhere else an aggregator keyword is a metric name.
                    self.metric_selector()
                }
            }
            TokenKind::Identifier => {
                if self.peek_at(1).kind == TokenKind::LeftParen {
                    self.call()
                } else {
                    self.metric_selector()
                }
            }
            TokenKind::Keyword(
                Keyword::Start
                | Keyword::End
                | Keyword::Step
                | Keyword::Range
                | Keyword::MaxOf
                | Keyword::MinOf,
            ) if self.peek_at(1).kind == TokenKind::LeftParen => self.call(),
            k if is_metric_identifier(k) => self.metric_selector(),
            _ => Err(self.unexpected_in_context()),
        }
    }

    fn number_literal(&mut self) -> PResult<NumberLiteral> {
        let tok = self.advance();
        let text = tok.text(self.input);
        let span = Span::new(tok.start, tok.end);
        match tok.kind {
            TokenKind::Duration => {
                let ms = parse_go_duration(text).map_err(|m| self.err(span, m))?;
                Ok(NumberLiteral { value: ms, duration: true, span })
            }
            _ => {
                let value = parse_go_number(text)
                    .map_err(|m| self.err(span, format!("error parsing number: {m}")))?;
                Ok(NumberLiteral { value, duration: false, span })
            }
        }
    }

    fn string_literal(&self, tok: &Token) -> PResult<StringLiteral> {
        let bytes = self.unquote_token(tok)?;
        let span = Span::new(tok.start, tok.end);
        Ok(match String::from_utf8(bytes) {
            Ok(value) => StringLiteral { value, invalid_utf8: None, span },
            Err(e) => {
                let bytes = e.into_bytes();
                StringLiteral {
                    value: String::from_utf8_lossy(&bytes).into_owned(),
                    invalid_utf8: Some(bytes),
                    span,
                }
            }
        })
    }

    fn unquote_token(&self, tok: &Token) -> PResult<Vec<u8>> {
        let text = tok.text(self.input);
        unquote(text).map_err(|e| {
            self.err(
                Span::new(tok.start, tok.end),
                format!("error unquoting string {}: {e}", go_quote(text)),
            )
        })
    }

    fn unquote_lossy(&self, tok: &Token) -> PResult<String> {
        Ok(String::from_utf8_lossy(&self.unquote_token(tok)?).into_owned())
    }

    // ---- selectors --------------------------------------------------------

    /// `name` or `name{...}`.
    fn metric_selector(&mut self) -> PResult<Expr> {
        Ok(Expr::VectorSelector(self.named_selector()?))
    }

    fn named_selector(&mut self) -> PResult<VectorSelector> {
        let name_tok = self.advance();
        let name = name_tok.text(self.input).to_string();
        let (matchers, span) = if self.peek_kind() == &TokenKind::LeftBrace {
            let (m, s) = self.label_matchers()?;
            (m, Span::new(name_tok.start, s.end))
        } else {
            (Vec::new(), Span::new(name_tok.start, name_tok.end))
        };
        Ok(self.vector_selector(Some(name), matchers, span))
    }

    fn vector_selector(
        &self,
        name: Option<String>,
        mut matchers: Vec<Matcher>,
        span: Span,
    ) -> VectorSelector {
        if let Some(n) = &name {
            matchers.push(Matcher::equal("__name__", n.clone()));
        }
        VectorSelector {
            name,
            matchers,
            offset: None,
            at: None,
            anchored: false,
            smoothed: false,
            span,
        }
    }

    /// `{ matcher, ... }` with an optional trailing comma.
    fn label_matchers(&mut self) -> PResult<(Vec<Matcher>, Span)> {
        let open = self.advance();
        let mut matchers = Vec::new();
        if let Some(close) = self.accept(&TokenKind::RightBrace) {
            return Ok((matchers, Span::new(open.start, close.end)));
        }
        loop {
            matchers.push(self.label_matcher()?);
            match self.peek_kind() {
                TokenKind::RightBrace => {
                    let close = self.advance();
                    return Ok((matchers, Span::new(open.start, close.end)));
                }
                TokenKind::Comma => {
                    self.advance();
                    if let Some(close) = self.accept(&TokenKind::RightBrace) {
                        return Ok((matchers, Span::new(open.start, close.end)));
                    }
                }
                _ => return Err(self.unexpected("label matching", "\",\" or \"}\"")),
            }
        }
    }

    fn match_type(kind: &TokenKind) -> Option<MatchType> {
        Some(match kind {
            TokenKind::Eql => MatchType::Equal,
            TokenKind::Neq => MatchType::NotEqual,
            TokenKind::EqlRegex => MatchType::Regex,
            TokenKind::NeqRegex => MatchType::NotRegex,
            _ => return None,
        })
    }

    fn label_matcher(&mut self) -> PResult<Matcher> {
        let name_tok = self.peek().clone();
        let name = match name_tok.kind {
            TokenKind::Identifier => {
                self.advance();
                let name = name_tok.text(self.input).to_string();
                if Self::match_type(self.peek_kind()).is_none() {
                    return Err(self.unexpected("label matching", "label matching operator"));
                }
                name
            }
            TokenKind::String => {
                self.advance();
                let name = self.unquote_lossy(&name_tok)?;
                if Self::match_type(self.peek_kind()).is_none() {
                    // A lone quoted name is the metric name (`{"my.metric"}`).
                    return Ok(Matcher::equal("__name__", name));
                }
                name
            }
            _ => return Err(self.unexpected("label matching", "identifier or \"}\"")),
        };
        let kind =
            Self::match_type(self.peek_kind()).expect("checked above: a matching operator follows");
        self.advance();
        if self.peek_kind() != &TokenKind::String {
            return Err(self.unexpected("label matching", "string"));
        }
        let value_tok = self.advance();
        let value = self.unquote_lossy(&value_tok)?;
        Matcher::new(kind, name, value)
            .map_err(|e| self.err(Span::new(name_tok.start, value_tok.end), e.to_string()))
    }

    // ---- postfix modifiers ------------------------------------------------

    /// Applies `[...]`, `offset`, `@`, `anchored` and `smoothed` to a
    /// primary expression that started at token `start`.
    fn postfix(&mut self, mut expr: Expr, start: usize) -> PResult<Expr> {
        loop {
            expr = match self.peek_kind() {
                TokenKind::LeftBracket => {
                    if self.pos - start > MAX_DEPTH {
                        self.check_depth(1 + tree_depth(&expr))?;
                    }
                    self.range_or_subquery(expr)?
                }
                TokenKind::Keyword(Keyword::Offset) => self.offset(expr)?,
                TokenKind::At => self.at(expr)?,
                TokenKind::Keyword(Keyword::Anchored) => {
                    self.advance();
                    self.set_extended(expr, true)?
                }
                TokenKind::Keyword(Keyword::Smoothed) => {
                    self.advance();
                    self.set_extended(expr, false)?
                }
                _ => return Ok(expr),
            };
        }
    }

    fn range_or_subquery(&mut self, expr: Expr) -> PResult<Expr> {
        let open = self.advance();
        let range = self.with_context(
            ("subquery or range selector", "number, duration, step(), or range()"),
            |p| p.duration_expr(0),
        )?;
        let range = self.positive_duration(range)?;
        match self.peek_kind() {
            TokenKind::RightBracket => {
                let close = self.advance();
                let err_span = Span::new(open.start, close.end);
                let vs = match expr {
                    Expr::VectorSelector(vs) => vs,
                    _ => return Err(self.err(err_span, "ranges only allowed for vector selectors")),
                };
                if vs.offset.is_some() {
                    return Err(self.err(err_span, "no offset modifiers allowed before range"));
                }
                if vs.at.is_some() {
                    return Err(self.err(err_span, "no @ modifiers allowed before range"));
                }
                let span = Span::new(vs.span.start, close.end);
                Ok(Expr::MatrixSelector(MatrixSelector { vector_selector: vs, range, span }))
            }
            TokenKind::Colon => {
                self.advance();
                let step = if self.peek_kind() == &TokenKind::RightBracket {
                    None
                } else {
                    let step = self.with_context(
                        ("subquery selector", "number, duration, step(), range(), or \"]\""),
                        |p| p.duration_expr(0),
                    )?;
                    Some(self.positive_duration(step)?)
                };
                if self.peek_kind() != &TokenKind::RightBracket {
                    return Err(self.unexpected("subquery selector", "\"]\""));
                }
                let close = self.advance();
                let span = Span::new(expr.span().start, close.end);
                Ok(Expr::Subquery(SubqueryExpr {
                    expr: Box::new(expr),
                    range,
                    step,
                    offset: None,
                    at: None,
                    span,
                }))
            }
            _ => Err(self.unexpected("subquery or range", "\":\" or \"]\"")),
        }
    }

    /// Prometheus' `positive_duration_expr`: a literal must be > 0; an
    /// expression is checked when it is evaluated.
    fn positive_duration(&self, d: DurationExpr) -> PResult<DurationArg> {
        if let Some(n) = is_literal(&d) {
            if n.value <= 0.0 {
                return Err(self.err(n.span, "duration must be greater than 0"));
            }
            return Ok(DurationArg::Millis(seconds_to_millis(n.value)));
        }
        Ok(DurationArg::Expr(Box::new(d)))
    }

    fn offset(&mut self, expr: Expr) -> PResult<Expr> {
        self.advance();
        let d = self.with_context(("offset", "number, duration, step(), or range()"), |p| {
            p.offset_duration()
        })?;
        let arg = match &d {
            DurationExpr::Number(n) => {
                let ms = seconds_to_millis(n.value);
                if ms == 0 { None } else { Some(DurationArg::Millis(ms)) }
            }
            _ => Some(DurationArg::Expr(Box::new(d))),
        };
        let end = self.last_closing;
        match expr {
            Expr::VectorSelector(ref vs) if vs.offset.is_some() => {
                Err(self.err(vs.span, "offset may not be set multiple times"))
            }
            Expr::MatrixSelector(ref m) if m.vector_selector.offset.is_some() => {
                Err(self.err(m.span, "offset may not be set multiple times"))
            }
            Expr::Subquery(ref s) if s.offset.is_some() => {
                Err(self.err(s.span, "offset may not be set multiple times"))
            }
            Expr::VectorSelector(mut vs) => {
                vs.offset = arg;
                vs.span.end = end;
                Ok(Expr::VectorSelector(vs))
            }
            Expr::MatrixSelector(mut m) => {
                m.vector_selector.offset = arg;
                m.span.end = end;
                Ok(Expr::MatrixSelector(m))
            }
            Expr::Subquery(mut s) => {
                s.offset = arg;
                s.span.end = end;
                Ok(Expr::Subquery(s))
            }
            other => Err(self.err(
                other.span(),
                "offset modifier must be preceded by an instant vector selector or range vector selector or a subquery",
            )),
        }
    }

    fn at(&mut self, expr: Expr) -> PResult<Expr> {
        self.advance();
        let at = match self.peek_kind() {
            TokenKind::Keyword(k @ (Keyword::Start | Keyword::End)) => {
                let k = *k;
                self.advance();
                for closing in [TokenKind::LeftParen, TokenKind::RightParen] {
                    if self.peek_kind() != &closing {
                        return Err(self.unexpected("@", "timestamp"));
                    }
                    self.advance();
                }
                if k == Keyword::Start { AtModifier::Start } else { AtModifier::End }
            }
            TokenKind::Add | TokenKind::Sub | TokenKind::Number | TokenKind::Duration => {
                let negative = match self.peek_kind() {
                    TokenKind::Sub => {
                        self.advance();
                        true
                    }
                    TokenKind::Add => {
                        self.advance();
                        false
                    }
                    _ => false,
                };
                if !matches!(self.peek_kind(), TokenKind::Number | TokenKind::Duration) {
                    return Err(self.unexpected("@", "timestamp"));
                }
                let n = self.number_literal()?;
                let ts = if negative { -n.value } else { n.value };
                if !ts.is_finite()
                    || ts >= 9.223_372_036_854_776e18
                    || ts <= -9.223_372_036_854_776e18
                {
                    return Err(self.err(
                        expr.span(),
                        format!("timestamp out of bounds for @ modifier: {}", go_f(ts)),
                    ));
                }
                AtModifier::Timestamp(round_to_i64(ts * 1000.0))
            }
            _ => return Err(self.unexpected("@", "timestamp")),
        };
        let end = self.last_closing;
        let existing = match &expr {
            Expr::VectorSelector(vs) => vs.at,
            Expr::MatrixSelector(m) => m.vector_selector.at,
            Expr::Subquery(s) => s.at,
            other => {
                return Err(self.err(
                    other.span(),
                    "@ modifier must be preceded by an instant vector selector or range vector selector or a subquery",
                ));
            }
        };
        if existing.is_some() {
            return Err(self.err(expr.span(), "@ <timestamp> may not be set multiple times"));
        }
        Ok(match expr {
            Expr::VectorSelector(mut vs) => {
                vs.at = Some(at);
                vs.span.end = end;
                Expr::VectorSelector(vs)
            }
            Expr::MatrixSelector(mut m) => {
                m.vector_selector.at = Some(at);
                m.span.end = end;
                Expr::MatrixSelector(m)
            }
            Expr::Subquery(mut s) => {
                s.at = Some(at);
                s.span.end = end;
                Expr::Subquery(s)
            }
            other => other,
        })
    }

    /// `anchored` (`anchored == true`) or `smoothed`.
    fn set_extended(&self, expr: Expr, anchored: bool) -> PResult<Expr> {
        let word = if anchored { "anchored" } else { "smoothed" };
        let apply = |vs: &mut VectorSelector, span: Span| -> PResult<()> {
            if anchored {
                vs.anchored = true;
            } else {
                vs.smoothed = true;
            }
            if vs.anchored && vs.smoothed {
                return Err(
                    self.err(span, "anchored and smoothed modifiers cannot be used together")
                );
            }
            Ok(())
        };
        match expr {
            Expr::VectorSelector(mut vs) => {
                let span = vs.span;
                apply(&mut vs, span)?;
                Ok(Expr::VectorSelector(vs))
            }
            Expr::MatrixSelector(mut m) => {
                apply(&mut m.vector_selector, m.span)?;
                Ok(Expr::MatrixSelector(m))
            }
            Expr::Subquery(s) => {
                Err(self.err(s.span, format!("{word} modifier is not supported for subqueries")))
            }
            other => Err(self.err(other.span(), format!("{word} modifier not implemented"))),
        }
    }

    // ---- durations --------------------------------------------------------

    fn duration_op(kind: &TokenKind) -> Option<DurationOp> {
        Some(match kind {
            TokenKind::Add => DurationOp::Add,
            TokenKind::Sub => DurationOp::Sub,
            TokenKind::Mul => DurationOp::Mul,
            TokenKind::Div => DurationOp::Div,
            TokenKind::Mod => DurationOp::Mod,
            TokenKind::Pow => DurationOp::Pow,
            _ => return None,
        })
    }

    fn duration_precedence(op: DurationOp) -> u8 {
        match op {
            DurationOp::Add | DurationOp::Sub => 4,
            DurationOp::Mul | DurationOp::Div | DurationOp::Mod => 5,
            DurationOp::Pow => POW_PRECEDENCE,
        }
    }

    /// A duration expression (inside `[...]`, or continuing an offset).
    fn duration_expr(&mut self, min_precedence: u8) -> PResult<DurationExpr> {
        self.enter()?;
        let start = self.pos;
        let r = self
            .duration_unary()
            .and_then(|lhs| self.duration_binary_rest(lhs, min_precedence, start));
        self.nesting -= 1;
        r
    }

    fn duration_binary_rest(
        &mut self,
        mut lhs: DurationExpr,
        min_precedence: u8,
        start: usize,
    ) -> PResult<DurationExpr> {
        let mut depth: Option<usize> = None;
        while let Some(op) = Self::duration_op(self.peek_kind()) {
            let precedence = Self::duration_precedence(op);
            if precedence < min_precedence {
                break;
            }
            let op_tok = self.advance();
            let next_min = if op == DurationOp::Pow { precedence } else { precedence + 1 };
            let rhs = self.duration_expr(next_min)?;
            if self.pos - start > MAX_DEPTH {
                let d = 1 + depth.unwrap_or_else(|| duration_depth(&lhs)).max(duration_depth(&rhs));
                self.check_depth(d)?;
                depth = Some(d);
            }
            if let Some(n) = is_literal(&rhs) {
                if n.value == 0.0 && op == DurationOp::Div {
                    return Err(self.err(Span::new(op_tok.start, op_tok.end), "division by zero"));
                }
                if n.value == 0.0 && op == DurationOp::Mod {
                    return Err(self.err(Span::new(op_tok.start, op_tok.end), "modulo by zero"));
                }
            }
            lhs = DurationExpr::Binary(op, Box::new(lhs), Box::new(rhs));
        }
        Ok(lhs)
    }

    fn duration_unary(&mut self) -> PResult<DurationExpr> {
        let op = match self.peek_kind() {
            TokenKind::Add => UnaryOp::Pos,
            TokenKind::Sub => UnaryOp::Neg,
            _ => return self.duration_primary(),
        };
        let op_tok = self.advance();
        let operand = self.duration_expr(POW_PRECEDENCE)?;
        self.apply_duration_sign(op, &op_tok, operand)
    }

    /// Prometheus' `applyUnaryOpToDurationExpr`: a sign folds into a
    /// literal, `+` vanishes, `-` wraps anything else.
    fn apply_duration_sign(
        &self,
        op: UnaryOp,
        op_tok: &Token,
        operand: DurationExpr,
    ) -> PResult<DurationExpr> {
        match operand {
            DurationExpr::Number(mut n) => {
                if op == UnaryOp::Neg {
                    n.value = -n.value;
                }
                if duration_literal_out_of_range(n.value) {
                    return Err(
                        self.err(Span::new(op_tok.start, op_tok.end), "duration out of range")
                    );
                }
                n.span.start = op_tok.start;
                Ok(DurationExpr::Number(n))
            }
            other if op == UnaryOp::Pos => Ok(other),
            other => {
                let span = Span::new(op_tok.start, other.span().end);
                Ok(DurationExpr::Unary(UnaryOp::Neg, Box::new(other), span))
            }
        }
    }

    fn duration_literal(&mut self) -> PResult<DurationExpr> {
        let n = self.number_literal()?;
        if duration_literal_out_of_range(n.value) {
            return Err(self.err(n.span, "duration out of range"));
        }
        Ok(DurationExpr::Number(n))
    }

    fn duration_primary(&mut self) -> PResult<DurationExpr> {
        match self.peek_kind().clone() {
            TokenKind::Number | TokenKind::Duration => self.duration_literal(),
            TokenKind::Keyword(k @ (Keyword::Step | Keyword::Range)) => {
                let tok = self.advance();
                self.expect(&TokenKind::LeftParen)?;
                let close = self.expect(&TokenKind::RightParen)?;
                let span = Span::new(tok.start, close.end);
                Ok(if k == Keyword::Step {
                    DurationExpr::Step(span)
                } else {
                    DurationExpr::Range(span)
                })
            }
            TokenKind::Keyword(k @ (Keyword::MaxOf | Keyword::MinOf)) => {
                let tok = self.advance();
                self.expect(&TokenKind::LeftParen)?;
                let a = self.duration_expr(0)?;
                self.expect(&TokenKind::Comma)?;
                let b = self.duration_expr(0)?;
                let close = self.expect(&TokenKind::RightParen)?;
                let span = Span::new(tok.start, close.end);
                Ok(if k == Keyword::MaxOf {
                    DurationExpr::MaxOf(Box::new(a), Box::new(b), span)
                } else {
                    DurationExpr::MinOf(Box::new(a), Box::new(b), span)
                })
            }
            TokenKind::LeftParen => self.paren_duration(),
            _ => Err(self.unexpected_in_context()),
        }
    }

    /// `( d )`; parentheses around parentheses collapse, as Prometheus'
    /// `Wrapped` flag does.
    fn paren_duration(&mut self) -> PResult<DurationExpr> {
        let open = self.advance();
        let inner = self.duration_expr(0)?;
        let close = self.expect(&TokenKind::RightParen)?;
        let span = Span::new(open.start, close.end);
        Ok(match inner {
            DurationExpr::Paren(e, _) => DurationExpr::Paren(e, span),
            other => DurationExpr::Paren(Box::new(other), span),
        })
    }

    /// What follows `offset` (Prometheus' `offset_duration_expr`).
    fn offset_duration(&mut self) -> PResult<DurationExpr> {
        let sign = match self.peek_kind() {
            TokenKind::Add => Some(UnaryOp::Pos),
            TokenKind::Sub => Some(UnaryOp::Neg),
            _ => None,
        };
        let after_sign = &self.peek_at(usize::from(sign.is_some())).kind;
        let complete = matches!(
            after_sign,
            TokenKind::Number
                | TokenKind::Duration
                | TokenKind::Keyword(
                    Keyword::Step | Keyword::Range | Keyword::MaxOf | Keyword::MinOf
                )
        ) || (sign.is_some() && after_sign == &TokenKind::LeftParen);
        if complete {
            let op_tok = sign.map(|_| self.advance());
            let operand = if self.peek_kind() == &TokenKind::LeftParen {
                self.paren_duration()?
            } else {
                self.duration_primary()?
            };
            return match (sign, op_tok) {
                (Some(op), Some(tok)) => self.apply_duration_sign(op, &tok, operand),
                _ => Ok(operand),
            };
        }
        // A parenthesised or doubly signed duration may continue with arithmetic.
        match self.peek_kind() {
            TokenKind::LeftParen | TokenKind::Add | TokenKind::Sub => self.duration_expr(0),
            _ => Err(self.unexpected_in_context()),
        }
    }

    // ---- binary modifiers -------------------------------------------------

    fn bin_modifiers(&mut self) -> PResult<BinModifiers> {
        let return_bool = self.accept(&TokenKind::Keyword(Keyword::Bool)).is_some();
        let mut matching = VectorMatching::default();
        if let TokenKind::Keyword(k @ (Keyword::On | Keyword::Ignoring)) = self.peek_kind() {
            matching.on = *k == Keyword::On;
            self.advance();
            matching.matching_labels = self.grouping_labels()?;
            if let TokenKind::Keyword(k @ (Keyword::GroupLeft | Keyword::GroupRight)) =
                self.peek_kind()
            {
                matching.card = if *k == Keyword::GroupLeft {
                    VectorMatchCardinality::ManyToOne
                } else {
                    VectorMatchCardinality::OneToMany
                };
                self.advance();
                if self.peek_kind() == &TokenKind::LeftParen {
                    matching.include = self.grouping_labels()?;
                }
            }
        }
        match self.peek_kind() {
            TokenKind::Keyword(Keyword::Fill) => {
                self.advance();
                let v = self.fill_value()?;
                matching.fill = FillValues { lhs: Some(v), rhs: Some(v) };
            }
            TokenKind::Keyword(Keyword::FillLeft) => {
                self.advance();
                matching.fill.lhs = Some(self.fill_value()?);
                if self.accept(&TokenKind::Keyword(Keyword::FillRight)).is_some() {
                    matching.fill.rhs = Some(self.fill_value()?);
                }
            }
            TokenKind::Keyword(Keyword::FillRight) => {
                self.advance();
                matching.fill.rhs = Some(self.fill_value()?);
                if self.accept(&TokenKind::Keyword(Keyword::FillLeft)).is_some() {
                    matching.fill.lhs = Some(self.fill_value()?);
                }
            }
            _ => {}
        }
        Ok(BinModifiers { return_bool, matching })
    }

    /// `( [sign] number )` after `fill`, `fill_left` or `fill_right`.
    fn fill_value(&mut self) -> PResult<f64> {
        self.expect(&TokenKind::LeftParen)?;
        let negative = match self.peek_kind() {
            TokenKind::Sub => {
                self.advance();
                true
            }
            TokenKind::Add => {
                self.advance();
                false
            }
            _ => false,
        };
        if !matches!(self.peek_kind(), TokenKind::Number | TokenKind::Duration) {
            return Err(self.unexpected_in_context());
        }
        let n = self.number_literal()?;
        self.expect(&TokenKind::RightParen)?;
        Ok(if negative { -n.value } else { n.value })
    }

    /// `( label, ... )` of `by`, `without`, `on`, `ignoring`, `group_*`.
    fn grouping_labels(&mut self) -> PResult<Vec<String>> {
        if self.peek_kind() != &TokenKind::LeftParen {
            return Err(self.unexpected("grouping opts", "\"(\""));
        }
        self.advance();
        let mut labels = Vec::new();
        if self.accept(&TokenKind::RightParen).is_some() {
            return Ok(labels);
        }
        loop {
            labels.push(self.grouping_label()?);
            match self.peek_kind() {
                TokenKind::RightParen => {
                    self.advance();
                    return Ok(labels);
                }
                TokenKind::Comma => {
                    self.advance();
                    if self.accept(&TokenKind::RightParen).is_some() {
                        return Ok(labels);
                    }
                }
                _ => return Err(self.unexpected("grouping opts", "\",\" or \")\"")),
            }
        }
    }

    fn grouping_label(&mut self) -> PResult<String> {
        let tok = self.peek().clone();
        let span = Span::new(tok.start, tok.end);
        let label = match &tok.kind {
            TokenKind::String => {
                self.advance();
                let bytes = self.unquote_token(&tok)?;
                match String::from_utf8(bytes) {
                    Ok(s) if !s.is_empty() => s,
                    Ok(s) => {
                        return Err(self.err(
                            span,
                            format!("invalid label name for grouping: {}", go_quote(&s)),
                        ));
                    }
                    Err(e) => {
                        return Err(self.err(
                            span,
                            format!(
                                "invalid label name for grouping: {}",
                                super::quote::go_quote_bytes(e.as_bytes())
                            ),
                        ));
                    }
                }
            }
            k if is_maybe_label(k) => {
                self.advance();
                tok.text(self.input).to_string()
            }
            _ => return Err(self.unexpected("grouping opts", "label")),
        };
        Ok(label)
    }

    // ---- aggregations and calls -------------------------------------------

    fn aggregate(&mut self, op: AggregateOp) -> PResult<Expr> {
        let op_tok = self.advance();
        self.with_context(("aggregation", ""), |p| {
            let mut grouping = Vec::new();
            let mut without = false;
            let mut modifier_first = false;
            if let TokenKind::Keyword(k @ (Keyword::By | Keyword::Without)) = p.peek_kind() {
                without = *k == Keyword::Without;
                p.advance();
                grouping = p.grouping_labels()?;
                modifier_first = true;
            }
            if p.peek_kind() != &TokenKind::LeftParen {
                return Err(p.unexpected("aggregation", ""));
            }
            let (args, body_end) = p.call_body()?;
            let mut end = body_end;
            if let (false, TokenKind::Keyword(k @ (Keyword::By | Keyword::Without))) =
                (modifier_first, p.peek_kind())
            {
                without = *k == Keyword::Without;
                p.advance();
                grouping = p.grouping_labels()?;
                end = p.last_closing;
            }
            let span = Span::new(op_tok.start, end);
            p.new_aggregate(op, args, grouping, without, span)
        })
    }

    fn new_aggregate(
        &self,
        op: AggregateOp,
        mut args: Vec<Expr>,
        grouping: Vec<String>,
        without: bool,
        span: Span,
    ) -> PResult<Expr> {
        if args.is_empty() {
            return Err(self.err(span, "no arguments for aggregate expression provided"));
        }
        let desired = if op.takes_param() { 2 } else { 1 };
        if args.len() != desired {
            return Err(self.err(
                span,
                format!(
                    "wrong number of arguments for aggregate expression provided, expected {desired}, got {}",
                    args.len()
                ),
            ));
        }
        let expr = args.pop().expect("length checked above");
        let param = args.pop().map(Box::new);
        Ok(Expr::Aggregate(AggregateExpr {
            op,
            expr: Box::new(expr),
            param,
            grouping,
            without,
            span,
        }))
    }

    /// `( [expr {, expr}] )`; returns the arguments and the end of `)`.
    fn call_body(&mut self) -> PResult<(Vec<Expr>, usize)> {
        self.expect(&TokenKind::LeftParen)?;
        let mut args = Vec::new();
        if let Some(close) = self.accept(&TokenKind::RightParen) {
            return Ok((args, close.end));
        }
        loop {
            args.push(self.expr(0)?);
            match self.peek_kind() {
                TokenKind::Comma => {
                    let comma = self.advance();
                    if self.peek_kind() == &TokenKind::RightParen {
                        return Err(self.err(
                            Span::new(comma.start, comma.end),
                            "trailing commas not allowed in function call args",
                        ));
                    }
                }
                TokenKind::RightParen => {
                    let close = self.advance();
                    return Ok((args, close.end));
                }
                _ => return Err(self.unexpected_in_context()),
            }
        }
    }

    fn call(&mut self) -> PResult<Expr> {
        let name_tok = self.advance();
        let name = name_tok.text(self.input);
        let (args, end) = self.call_body()?;
        let func = get_function(name).ok_or_else(|| {
            self.err(
                Span::new(name_tok.start, name_tok.end),
                format!("unknown function with name {}", go_quote(name)),
            )
        })?;
        Ok(Expr::Call(Call { func, args, span: Span::new(name_tok.start, end) }))
    }
}

/// Depth of a tree (a leaf is 1), computed without recursion.
fn tree_depth(root: &Expr) -> usize {
    let mut max = 0;
    let mut stack = vec![(root, 1usize)];
    while let Some((e, d)) = stack.pop() {
        let mut here = d;
        let durations: [Option<&DurationArg>; 3] = match e {
            Expr::VectorSelector(vs) => [vs.offset.as_ref(), None, None],
            Expr::MatrixSelector(m) => [Some(&m.range), m.vector_selector.offset.as_ref(), None],
            Expr::Subquery(s) => [Some(&s.range), s.step.as_ref(), s.offset.as_ref()],
            _ => [None, None, None],
        };
        for arg in durations.into_iter().flatten() {
            if let DurationArg::Expr(de) = arg {
                here = here.max(d + duration_depth(de));
            }
        }
        max = max.max(here);
        stack.extend(e.children().into_iter().map(|c| (c, d + 1)));
    }
    max
}

/// Depth of a duration expression, computed without recursion.
fn duration_depth(root: &DurationExpr) -> usize {
    let mut max = 0;
    let mut stack = vec![(root, 1usize)];
    while let Some((e, d)) = stack.pop() {
        max = max.max(d);
        match e {
            DurationExpr::Number(_) | DurationExpr::Step(_) | DurationExpr::Range(_) => {}
            DurationExpr::MinOf(a, b, _)
            | DurationExpr::MaxOf(a, b, _)
            | DurationExpr::Binary(_, a, b) => {
                stack.push((a, d + 1));
                stack.push((b, d + 1));
            }
            DurationExpr::Unary(_, a, _) | DurationExpr::Paren(a, _) => stack.push((a, d + 1)),
        }
    }
    max
}

/// Tokens Prometheus accepts as a metric name (`metric_identifier`).
fn is_metric_identifier(kind: &TokenKind) -> bool {
    match kind {
        TokenKind::Identifier
        | TokenKind::MetricIdentifier
        | TokenKind::Aggregator(_)
        | TokenKind::And
        | TokenKind::Or
        | TokenKind::Unless => true,
        TokenKind::Keyword(k) => !matches!(
            k,
            Keyword::Bool
                | Keyword::GroupLeft
                | Keyword::GroupRight
                | Keyword::Ignoring
                | Keyword::On
        ),
        _ => false,
    }
}

/// Tokens Prometheus accepts as a grouping label (`maybe_label`).
fn is_maybe_label(kind: &TokenKind) -> bool {
    match kind {
        TokenKind::Identifier
        | TokenKind::MetricIdentifier
        | TokenKind::Aggregator(_)
        | TokenKind::And
        | TokenKind::Or
        | TokenKind::Unless
        | TokenKind::Atan2 => true,
        TokenKind::Keyword(k) => *k != Keyword::Without,
        _ => false,
    }
}

fn round_to_i64(v: f64) -> i64 {
    v.round() as i64
}

/// Go's `%f` of a float (six decimals, `+Inf`, `-Inf`, `NaN`).
fn go_f(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf".into() } else { "-Inf".into() }
    } else {
        format!("{v:.6}")
    }
}

/// Parses a number token as Prometheus does: Go's `strconv.ParseInt(s, 0, 64)`
/// (so `0x1f` is hex and `010` is octal), then `strconv.ParseFloat`.
pub(crate) fn parse_go_number(text: &str) -> Result<f64, String> {
    let lower = text.to_ascii_lowercase();
    match lower.as_str() {
        "inf" | "+inf" | "infinity" => return Ok(f64::INFINITY),
        "-inf" | "-infinity" => return Ok(f64::NEG_INFINITY),
        "nan" => return Ok(f64::NAN),
        _ => {}
    }
    if let Some(v) = parse_go_int(&lower) {
        return Ok(v as f64);
    }
    let invalid = || format!("strconv.ParseFloat: parsing {}: invalid syntax", go_quote(text));
    if lower.starts_with("0x") || !underscores_ok(&lower) {
        return Err(invalid());
    }
    let cleaned: String = lower.chars().filter(|&c| c != '_').collect();
    match cleaned.parse::<f64>() {
        Ok(v) if v.is_infinite() => {
            Err(format!("strconv.ParseFloat: parsing {}: value out of range", go_quote(text)))
        }
        Ok(v) => Ok(v),
        Err(_) => Err(invalid()),
    }
}

/// Go's rule for `_` in number literals: only between digits (or right after
/// a base prefix).
fn underscores_ok(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    let mut saw = b'^';
    let hex = b.len() >= 2 && b[0] == b'0' && (b[1] == b'x' || b[1] == b'X');
    if hex {
        i = 2;
        saw = b'0';
    }
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_digit() || (hex && c.is_ascii_hexdigit()) {
            saw = b'0';
        } else if c == b'_' {
            if saw != b'0' {
                return false;
            }
            saw = b'_';
        } else {
            if saw == b'_' {
                return false;
            }
            saw = b'!';
        }
        i += 1;
    }
    saw != b'_'
}

/// `strconv.ParseInt(s, 0, 64)` for the shapes the lexer produces.
fn parse_go_int(s: &str) -> Option<i64> {
    if !underscores_ok(s) {
        return None;
    }
    let cleaned: String = s.chars().filter(|&c| c != '_').collect();
    if let Some(hex) = cleaned.strip_prefix("0x") {
        if hex.is_empty() {
            return None;
        }
        return i64::from_str_radix(hex, 16).ok();
    }
    if cleaned.is_empty() || !cleaned.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    if cleaned.len() > 1 && cleaned.starts_with('0') {
        return i64::from_str_radix(&cleaned[1..], 8).ok();
    }
    cleaned.parse::<i64>().ok()
}

/// Prometheus' `model.ParseDuration`, returning seconds.
pub(crate) fn parse_go_duration(s: &str) -> Result<f64, String> {
    const UNITS: [(&str, u64); 7] = [
        ("y", 365 * 24 * 3600 * 1_000_000_000),
        ("w", 7 * 24 * 3600 * 1_000_000_000),
        ("d", 24 * 3600 * 1_000_000_000),
        ("h", 3600 * 1_000_000_000),
        ("m", 60 * 1_000_000_000),
        ("s", 1_000_000_000),
        ("ms", 1_000_000),
    ];
    match s {
        "0" => return Ok(0.0),
        "" => return Err("empty duration string".into()),
        _ => {}
    }
    let invalid = || format!("not a valid duration string: {}", go_quote(s));
    let mut rest = s;
    let mut total: u64 = 0;
    let mut last_unit: Option<usize> = None;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(invalid());
        }
        let v: u64 = rest[..digits].parse().map_err(|_| invalid())?;
        rest = &rest[digits..];
        let unit_len = rest.bytes().take_while(|b| !b.is_ascii_digit()).count();
        if unit_len == 0 {
            return Err(invalid());
        }
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let Some(idx) = UNITS.iter().position(|(u, _)| *u == unit) else {
            return Err(format!("unknown unit {} in duration {}", go_quote(unit), go_quote(s)));
        };
        if last_unit.is_some_and(|l| idx <= l) {
            return Err(invalid());
        }
        last_unit = Some(idx);
        let mult = UNITS[idx].1;
        if v > (1u64 << 63) / mult {
            return Err("duration out of range".into());
        }
        total += v * mult;
        if total > (1u64 << 63) - 1 {
            return Err("duration out of range".into());
        }
    }
    Ok(total as f64 / 1e9)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_numbers() {
        assert_eq!(parse_go_number("0x1f"), Ok(31.0));
        assert_eq!(parse_go_number("010"), Ok(8.0));
        assert_eq!(parse_go_number("08"), Ok(8.0));
        assert_eq!(parse_go_number("1_000"), Ok(1000.0));
        assert_eq!(parse_go_number("1e3"), Ok(1000.0));
        assert_eq!(parse_go_number(".5"), Ok(0.5));
        assert!(parse_go_number("NaN").unwrap().is_nan());
        assert_eq!(parse_go_number("Inf"), Ok(f64::INFINITY));
        assert!(parse_go_number("1e999").is_err());
    }

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("1h30m"), Ok(5400.0));
        assert_eq!(parse_go_duration("1ms"), Ok(0.001));
        assert_eq!(parse_go_duration("1y"), Ok(365.0 * 86400.0));
        assert_eq!(parse_go_duration("1m1h"), Err("not a valid duration string: \"1m1h\"".into()));
        assert_eq!(
            parse_go_duration("1e5m"),
            Err("unknown unit \"e\" in duration \"1e5m\"".into())
        );
        assert_eq!(parse_go_duration("300000y"), Err("duration out of range".into()));
    }
}
