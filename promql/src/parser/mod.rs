//! The PromQL parser: text to a type-checked [`Expr`].
//!
//! `parse` follows Prometheus 3's grammar (`promql/parser`), with every
//! feature flag the conformance corpus assumes turned on: experimental
//! functions, duration expressions, `anchored`/`smoothed` range selectors and
//! `fill` modifiers. Errors carry Prometheus' message texts and positions.

pub mod ast;
mod check;
pub mod functions;
pub mod json;
mod lexer;
mod parse;
pub mod printer;
pub mod quote;

use std::fmt;

pub use ast::{
    AggregateExpr, AggregateOp, AtModifier, BinaryExpr, BinaryOp, Call, DurationArg,
    DurationContext, DurationError, DurationExpr, DurationOp, Expr, FillValues, MatrixSelector,
    NumberLiteral, ParenExpr, Span, StringLiteral, SubqueryExpr, UnaryExpr, UnaryOp, ValueType,
    VectorMatchCardinality, VectorMatching, VectorSelector, line_col,
};
pub use functions::{FUNCTIONS, Function, get_function};
pub use json::to_json;
pub use printer::{format, pretty};

/// A syntax or type error in a query.
///
/// `Display` is Prometheus' format: `<line>:<col>: parse error: <message>`
/// (`unknown position` instead of `<line>:<col>` for an empty query).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ParseError {
    /// Byte range of the offending part of the query.
    pub span: Span,
    /// 1-based line of `span.start`; 0 when the query is empty.
    pub line: usize,
    /// 1-based column (in bytes) of `span.start`; 0 when the query is empty.
    pub col: usize,
    /// The message without position, as Prometheus words it.
    pub message: String,
}

impl ParseError {
    /// An error at `span` of `input`.
    pub fn new(input: &str, span: Span, message: impl Into<String>) -> Self {
        let (line, col) = if input.is_empty() { (0, 0) } else { line_col(input, span.start) };
        ParseError { span, line, col, message: message.into() }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "unknown position: parse error: {}", self.message)
        } else {
            write!(f, "{}:{}: parse error: {}", self.line, self.col, self.message)
        }
    }
}

/// Parses a series selector such as the HTTP API's `match[]` parameters
/// (`up{job="x"}`, `{__name__=~"a.*"}`) into its matchers, the metric name
/// matcher included. Like Prometheus' `ParseMetricSelector`, it does not
/// require a non-empty matcher.
pub fn parse_metric_selector(
    input: &str,
) -> Result<Vec<promethium_engine::model::Matcher>, ParseError> {
    Ok(parse::parse_metric_selector(input)?.matchers)
}

/// Parses and type-checks a PromQL expression.
pub fn parse(input: &str) -> Result<Expr, ParseError> {
    let mut expr = parse::parse_expr(input)?;
    check::Checker { input }.check(&mut expr)?;
    Ok(expr)
}
