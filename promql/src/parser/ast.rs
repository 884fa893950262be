//! The PromQL abstract syntax tree.
//!
//! The shape follows Prometheus' `promql/parser/ast.go` so that evaluation,
//! `format_query` and `parse_query` can mirror Prometheus node for node:
//! literals, selectors, subqueries, unary/binary operators, aggregations,
//! calls and parentheses. Every node carries a [`Span`] (byte offsets into the
//! query) because annotations and errors report `line:column` positions of
//! sub-expressions.
//!
//! Durations after `[`, `:` and `offset` are either a constant
//! ([`DurationArg::Millis`]) or, with Prometheus 3's duration expressions, a
//! [`DurationExpr`] that may use `step()` and `range()` and is therefore only
//! known once the query's step and range are: resolve it with
//! [`DurationArg::resolve`].

use std::fmt;

use promethium_engine::model::Matcher;

pub use super::functions::Function;

/// Byte offsets `[start, end)` of a node in the query string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Span {
    /// Offset of the first byte.
    pub start: usize,
    /// Offset one past the last byte.
    pub end: usize,
}

impl Span {
    /// A span from `start` to `end`.
    pub fn new(start: usize, end: usize) -> Self {
        Span { start, end }
    }

    /// The smallest span covering both.
    pub fn merge(self, other: Span) -> Span {
        Span { start: self.start.min(other.start), end: self.end.max(other.end) }
    }

    /// 1-based `(line, column)` of `start` in `input`, as Prometheus reports
    /// positions (columns count bytes from the start of the line).
    pub fn line_col(&self, input: &str) -> (usize, usize) {
        line_col(input, self.start)
    }
}

/// 1-based `(line, column)` of byte offset `pos` in `input`.
pub fn line_col(input: &str, pos: usize) -> (usize, usize) {
    let pos = pos.min(input.len());
    let before = &input.as_bytes()[..pos];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = before.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    (line, pos - line_start + 1)
}

/// The type a PromQL expression evaluates to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ValueType {
    /// A single float.
    Scalar,
    /// A string.
    String,
    /// An instant vector: one sample per series.
    Vector,
    /// A range vector: samples over a window per series.
    Matrix,
}

impl ValueType {
    /// The name Prometheus uses in error messages (`"instant vector"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            ValueType::Scalar => "scalar",
            ValueType::String => "string",
            ValueType::Vector => "instant vector",
            ValueType::Matrix => "range vector",
        }
    }

    /// The name used in the HTTP API's `resultType` (`"vector"`, `"matrix"`, ...).
    pub fn api_name(self) -> &'static str {
        match self {
            ValueType::Scalar => "scalar",
            ValueType::String => "string",
            ValueType::Vector => "vector",
            ValueType::Matrix => "matrix",
        }
    }
}

impl fmt::Display for ValueType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A PromQL expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// `1`, `0x1f`, `Inf`, `5m` (a duration used as a number of seconds).
    NumberLiteral(NumberLiteral),
    /// `"text"`.
    StringLiteral(StringLiteral),
    /// `metric{label="value"} offset 5m @ 100`.
    VectorSelector(VectorSelector),
    /// `metric[5m]`.
    MatrixSelector(MatrixSelector),
    /// `expr[1h:1m]`.
    Subquery(SubqueryExpr),
    /// `-expr`, `+expr` (a sign on a number literal is folded into the literal).
    Unary(UnaryExpr),
    /// `lhs op lhs` with modifiers.
    Binary(BinaryExpr),
    /// `sum by (job) (expr)`, `topk(3, expr)`.
    Aggregate(AggregateExpr),
    /// `rate(x[5m])`.
    Call(Call),
    /// `(expr)`.
    Paren(ParenExpr),
}

impl Expr {
    /// The type the expression evaluates to (checked at parse time).
    pub fn value_type(&self) -> ValueType {
        match self {
            Expr::NumberLiteral(_) => ValueType::Scalar,
            Expr::StringLiteral(_) => ValueType::String,
            Expr::VectorSelector(_) => ValueType::Vector,
            Expr::MatrixSelector(_) | Expr::Subquery(_) => ValueType::Matrix,
            Expr::Unary(u) => u.expr.value_type(),
            Expr::Binary(b) => {
                if b.lhs.value_type() == ValueType::Scalar
                    && b.rhs.value_type() == ValueType::Scalar
                {
                    ValueType::Scalar
                } else {
                    ValueType::Vector
                }
            }
            Expr::Aggregate(_) => ValueType::Vector,
            Expr::Call(c) => c.func.return_type,
            Expr::Paren(p) => p.expr.value_type(),
        }
    }

    /// Where the expression sits in the query, computed as Prometheus'
    /// `PositionRange()` does (e.g. a binary expression spans both operands).
    pub fn span(&self) -> Span {
        match self {
            Expr::NumberLiteral(n) => n.span,
            Expr::StringLiteral(s) => s.span,
            Expr::VectorSelector(v) => v.span,
            Expr::MatrixSelector(m) => m.span,
            Expr::Subquery(s) => s.span,
            Expr::Unary(u) => u.span,
            Expr::Binary(b) => {
                // Walk the left spine iteratively: chains can be long.
                let mut left = &*b.lhs;
                while let Expr::Binary(inner) = left {
                    left = &inner.lhs;
                }
                left.span().merge(b.rhs.span())
            }
            Expr::Aggregate(a) => a.span,
            Expr::Call(c) => c.span,
            Expr::Paren(p) => p.span,
        }
    }

    /// The name of the node kind as Prometheus' `/api/v1/parse_query` JSON
    /// tree names it (`"vectorSelector"`, `"binaryExpr"`, ...).
    pub fn kind_name(&self) -> &'static str {
        match self {
            Expr::NumberLiteral(_) => "numberLiteral",
            Expr::StringLiteral(_) => "stringLiteral",
            Expr::VectorSelector(_) => "vectorSelector",
            Expr::MatrixSelector(_) => "matrixSelector",
            Expr::Subquery(_) => "subquery",
            Expr::Unary(_) => "unaryExpr",
            Expr::Binary(_) => "binaryExpr",
            Expr::Aggregate(_) => "aggregation",
            Expr::Call(_) => "call",
            Expr::Paren(_) => "parenExpr",
        }
    }

    /// The direct sub-expressions, in source order (aggregation parameter
    /// before the aggregated expression, call arguments in order).
    pub fn children(&self) -> Vec<&Expr> {
        match self {
            Expr::NumberLiteral(_)
            | Expr::StringLiteral(_)
            | Expr::VectorSelector(_)
            | Expr::MatrixSelector(_) => Vec::new(),
            Expr::Subquery(s) => vec![&*s.expr],
            Expr::Unary(u) => vec![&*u.expr],
            Expr::Binary(b) => vec![&*b.lhs, &*b.rhs],
            Expr::Aggregate(a) => {
                a.param.iter().map(|p| &**p).chain(std::iter::once(&*a.expr)).collect()
            }
            Expr::Call(c) => c.args.iter().collect(),
            Expr::Paren(p) => vec![&*p.expr],
        }
    }

    /// Calls `f` on this node and then on every descendant, depth first.
    pub fn walk<'a>(&'a self, f: &mut dyn FnMut(&'a Expr)) {
        f(self);
        if let Expr::MatrixSelector(_) = self {
            return;
        }
        for child in self.children() {
            child.walk(f);
        }
    }

    /// The expression without any enclosing parentheses.
    pub fn unwrap_parens(&self) -> &Expr {
        let mut e = self;
        while let Expr::Paren(p) = e {
            e = &p.expr;
        }
        e
    }
}

/// A number. Prometheus folds a leading sign into the literal, so `-1` is a
/// literal with value `-1`.
#[derive(Debug, Clone)]
pub struct NumberLiteral {
    /// The value; durations are in seconds (`5m` is `300`).
    pub value: f64,
    /// Written as a duration (`5m`); the printer writes it back that way.
    pub duration: bool,
    /// Position in the query.
    pub span: Span,
}

/// Equal when the values are the same float (NaN equals NaN) and the rest
/// matches, so ASTs containing `NaN` compare equal to themselves.
impl PartialEq for NumberLiteral {
    fn eq(&self, other: &Self) -> bool {
        float_eq(self.value, other.value)
            && self.duration == other.duration
            && self.span == other.span
    }
}

fn float_eq(a: f64, b: f64) -> bool {
    a == b || (a.is_nan() && b.is_nan())
}

/// A string (quotes removed, escapes resolved).
#[derive(Debug, Clone, PartialEq)]
pub struct StringLiteral {
    /// The unquoted value.
    pub value: String,
    /// The exact bytes, set only when the unquoted value is not valid UTF-8
    /// (Go escapes like `"\xc5"` can produce that); `value` then holds a
    /// lossy copy. Needed to report such strings as Prometheus does.
    pub invalid_utf8: Option<Vec<u8>>,
    /// Position in the query.
    pub span: Span,
}

/// The `@` modifier of a selector or subquery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AtModifier {
    /// `@ 1609746000` (stored in milliseconds since the epoch).
    Timestamp(i64),
    /// `@ start()`: the start of the range query (the eval time for instant queries).
    Start,
    /// `@ end()`: the end of the range query (the eval time for instant queries).
    End,
}

/// An instant vector selector.
#[derive(Debug, Clone, PartialEq)]
pub struct VectorSelector {
    /// The metric name as written before `{`, if any; a `__name__` matcher
    /// for it is also present in `matchers` (last). A quoted name inside the
    /// braces (`{"metric.name"}`) is only a `__name__` matcher, as in Prometheus.
    pub name: Option<String>,
    /// All matchers, including the `__name__="<name>"` one derived from
    /// `name`. Pass these to the querier as they are.
    pub matchers: Vec<Matcher>,
    /// `offset` as written; `None` when absent or zero. Positive looks back.
    pub offset: Option<DurationArg>,
    /// `@` modifier.
    pub at: Option<AtModifier>,
    /// `anchored` modifier of an extended range selector (set on the vector
    /// selector inside a [`MatrixSelector`]).
    pub anchored: bool,
    /// `smoothed` modifier of an extended range selector.
    pub smoothed: bool,
    /// Position in the query.
    pub span: Span,
}

impl VectorSelector {
    /// The constant offset in milliseconds, or 0 without one. `None` when
    /// the offset is a duration expression that needs [`DurationArg::resolve`].
    pub fn offset_ms(&self) -> Option<i64> {
        match &self.offset {
            None => Some(0),
            Some(d) => d.as_millis(),
        }
    }
}

/// A range vector selector: `selector[range]`.
#[derive(Debug, Clone, PartialEq)]
pub struct MatrixSelector {
    /// The selector (carrying offset, `@`, `anchored`/`smoothed`).
    pub vector_selector: VectorSelector,
    /// The range; always positive.
    pub range: DurationArg,
    /// Position in the query (selector start to after `]` or the last modifier).
    pub span: Span,
}

/// A subquery: `expr[range:step]`.
#[derive(Debug, Clone, PartialEq)]
pub struct SubqueryExpr {
    /// The inner expression (an instant vector or scalar).
    pub expr: Box<Expr>,
    /// The range; always positive.
    pub range: DurationArg,
    /// The step; `None` means the engine's default evaluation interval.
    pub step: Option<DurationArg>,
    /// `offset` as written; `None` when absent or zero.
    pub offset: Option<DurationArg>,
    /// `@` modifier.
    pub at: Option<AtModifier>,
    /// Position in the query.
    pub span: Span,
}

/// Sign operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UnaryOp {
    /// `-`
    Neg,
    /// `+`
    Pos,
}

impl UnaryOp {
    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            UnaryOp::Neg => "-",
            UnaryOp::Pos => "+",
        }
    }
}

/// `-expr` or `+expr` on a non-literal.
#[derive(Debug, Clone, PartialEq)]
pub struct UnaryExpr {
    /// The operator.
    pub op: UnaryOp,
    /// The operand (scalar or instant vector).
    pub expr: Box<Expr>,
    /// Position in the query (from the sign to the end of the operand).
    pub span: Span,
}

/// Binary operators, arithmetic, comparison and set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `%`
    Mod,
    /// `^`
    Pow,
    /// `atan2`
    Atan2,
    /// `==`
    Eql,
    /// `!=`
    Neq,
    /// `>`
    Gtr,
    /// `<`
    Lss,
    /// `>=`
    Gte,
    /// `<=`
    Lte,
    /// `and`
    And,
    /// `or`
    Or,
    /// `unless`
    Unless,
    /// `</` (native histograms: trim buckets above the bound).
    TrimUpper,
    /// `>/` (native histograms: trim buckets below the bound).
    TrimLower,
}

impl BinaryOp {
    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Mod => "%",
            BinaryOp::Pow => "^",
            BinaryOp::Atan2 => "atan2",
            BinaryOp::Eql => "==",
            BinaryOp::Neq => "!=",
            BinaryOp::Gtr => ">",
            BinaryOp::Lss => "<",
            BinaryOp::Gte => ">=",
            BinaryOp::Lte => "<=",
            BinaryOp::And => "and",
            BinaryOp::Or => "or",
            BinaryOp::Unless => "unless",
            BinaryOp::TrimUpper => "</",
            BinaryOp::TrimLower => ">/",
        }
    }

    /// `==`, `!=`, `>`, `<`, `>=`, `<=` (the operators `bool` applies to).
    pub fn is_comparison(self) -> bool {
        matches!(
            self,
            BinaryOp::Eql
                | BinaryOp::Neq
                | BinaryOp::Gtr
                | BinaryOp::Lss
                | BinaryOp::Gte
                | BinaryOp::Lte
        )
    }

    /// `and`, `or`, `unless`.
    pub fn is_set_operator(self) -> bool {
        matches!(self, BinaryOp::And | BinaryOp::Or | BinaryOp::Unless)
    }

    /// Binding strength, higher binds tighter (Prometheus' `Precedence()`).
    pub fn precedence(self) -> u8 {
        match self {
            BinaryOp::Or => 1,
            BinaryOp::And | BinaryOp::Unless => 2,
            BinaryOp::Eql
            | BinaryOp::Neq
            | BinaryOp::Gtr
            | BinaryOp::Lss
            | BinaryOp::Gte
            | BinaryOp::Lte
            | BinaryOp::TrimUpper
            | BinaryOp::TrimLower => 3,
            BinaryOp::Add | BinaryOp::Sub => 4,
            BinaryOp::Mul | BinaryOp::Div | BinaryOp::Mod | BinaryOp::Atan2 => 5,
            BinaryOp::Pow => 6,
        }
    }

    /// Only `^` is right associative.
    pub fn is_right_associative(self) -> bool {
        self == BinaryOp::Pow
    }
}

/// How the series of the two sides pair up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VectorMatchCardinality {
    /// Default for arithmetic and comparison.
    OneToOne,
    /// `group_left`.
    ManyToOne,
    /// `group_right`.
    OneToMany,
    /// Set operators.
    ManyToMany,
}

impl VectorMatchCardinality {
    /// Prometheus' spelling (`"one-to-one"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            VectorMatchCardinality::OneToOne => "one-to-one",
            VectorMatchCardinality::ManyToOne => "many-to-one",
            VectorMatchCardinality::OneToMany => "one-to-many",
            VectorMatchCardinality::ManyToMany => "many-to-many",
        }
    }
}

/// Values to use for a side that has no match (`fill`, `fill_left`, `fill_right`).
#[derive(Debug, Clone, Copy, Default)]
pub struct FillValues {
    /// Value for a missing left-hand side sample.
    pub lhs: Option<f64>,
    /// Value for a missing right-hand side sample.
    pub rhs: Option<f64>,
}

impl PartialEq for FillValues {
    fn eq(&self, other: &Self) -> bool {
        let same = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (Some(a), Some(b)) => float_eq(a, b),
            (None, None) => true,
            _ => false,
        };
        same(self.lhs, other.lhs) && same(self.rhs, other.rhs)
    }
}

/// Vector matching of a binary expression between two instant vectors.
#[derive(Debug, Clone, PartialEq)]
pub struct VectorMatching {
    /// Cardinality (`group_left`/`group_right`, many-to-many for set operators).
    pub card: VectorMatchCardinality,
    /// The labels of `on(...)` or `ignoring(...)`.
    pub matching_labels: Vec<String>,
    /// `on` (true) or `ignoring`/nothing (false).
    pub on: bool,
    /// Labels of `group_left(...)`/`group_right(...)` copied from the "one" side.
    pub include: Vec<String>,
    /// Fill values for unmatched series.
    pub fill: FillValues,
}

impl Default for VectorMatching {
    fn default() -> Self {
        VectorMatching {
            card: VectorMatchCardinality::OneToOne,
            matching_labels: Vec::new(),
            on: false,
            include: Vec::new(),
            fill: FillValues::default(),
        }
    }
}

/// `lhs op rhs`.
#[derive(Debug, Clone, PartialEq)]
pub struct BinaryExpr {
    /// The operator.
    pub op: BinaryOp,
    /// Left operand.
    pub lhs: Box<Expr>,
    /// Right operand.
    pub rhs: Box<Expr>,
    /// `bool` modifier of a comparison.
    pub return_bool: bool,
    /// Vector matching; `Some` exactly when both sides are instant vectors
    /// (as in Prometheus, where it is nil otherwise).
    pub matching: Option<VectorMatching>,
}

/// Aggregation operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AggregateOp {
    /// `sum`
    Sum,
    /// `avg`
    Avg,
    /// `count`
    Count,
    /// `min`
    Min,
    /// `max`
    Max,
    /// `group`
    Group,
    /// `stddev`
    Stddev,
    /// `stdvar`
    Stdvar,
    /// `topk(k, v)`
    Topk,
    /// `bottomk(k, v)`
    Bottomk,
    /// `count_values("label", v)`
    CountValues,
    /// `quantile(q, v)`
    Quantile,
    /// `limitk(k, v)` (experimental)
    Limitk,
    /// `limit_ratio(r, v)` (experimental)
    LimitRatio,
}

impl AggregateOp {
    /// Every aggregation operator.
    pub const ALL: [AggregateOp; 14] = [
        AggregateOp::Sum,
        AggregateOp::Avg,
        AggregateOp::Count,
        AggregateOp::Min,
        AggregateOp::Max,
        AggregateOp::Group,
        AggregateOp::Stddev,
        AggregateOp::Stdvar,
        AggregateOp::Topk,
        AggregateOp::Bottomk,
        AggregateOp::CountValues,
        AggregateOp::Quantile,
        AggregateOp::Limitk,
        AggregateOp::LimitRatio,
    ];

    /// The keyword as written.
    pub fn as_str(self) -> &'static str {
        match self {
            AggregateOp::Sum => "sum",
            AggregateOp::Avg => "avg",
            AggregateOp::Count => "count",
            AggregateOp::Min => "min",
            AggregateOp::Max => "max",
            AggregateOp::Group => "group",
            AggregateOp::Stddev => "stddev",
            AggregateOp::Stdvar => "stdvar",
            AggregateOp::Topk => "topk",
            AggregateOp::Bottomk => "bottomk",
            AggregateOp::CountValues => "count_values",
            AggregateOp::Quantile => "quantile",
            AggregateOp::Limitk => "limitk",
            AggregateOp::LimitRatio => "limit_ratio",
        }
    }

    /// The operator for a keyword (case-insensitive, as the lexer treats keywords).
    pub fn from_name(name: &str) -> Option<AggregateOp> {
        AggregateOp::ALL.into_iter().find(|op| op.as_str().eq_ignore_ascii_case(name))
    }

    /// Whether the operator takes a parameter before the vector.
    pub fn takes_param(self) -> bool {
        matches!(
            self,
            AggregateOp::Topk
                | AggregateOp::Bottomk
                | AggregateOp::CountValues
                | AggregateOp::Quantile
                | AggregateOp::Limitk
                | AggregateOp::LimitRatio
        )
    }

    /// The type the parameter must have (`count_values` takes a string).
    pub fn param_type(self) -> Option<ValueType> {
        match self {
            AggregateOp::CountValues => Some(ValueType::String),
            op if op.takes_param() => Some(ValueType::Scalar),
            _ => None,
        }
    }
}

/// `op [by|without (labels)] ([param,] expr)`.
#[derive(Debug, Clone, PartialEq)]
pub struct AggregateExpr {
    /// The operator.
    pub op: AggregateOp,
    /// The aggregated instant vector.
    pub expr: Box<Expr>,
    /// The parameter of `topk`, `quantile`, `count_values`, ...
    pub param: Option<Box<Expr>>,
    /// Labels of `by (...)` or `without (...)`.
    pub grouping: Vec<String>,
    /// `without` rather than `by`.
    pub without: bool,
    /// Position in the query.
    pub span: Span,
}

/// A function call.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// The function's signature (name, argument and return types).
    pub func: &'static Function,
    /// Arguments, type-checked against `func`.
    pub args: Vec<Expr>,
    /// Position in the query.
    pub span: Span,
}

/// `(expr)`.
#[derive(Debug, Clone, PartialEq)]
pub struct ParenExpr {
    /// The wrapped expression.
    pub expr: Box<Expr>,
    /// Position in the query, parentheses included.
    pub span: Span,
}

/// A duration after `[`, `:` or `offset`.
#[derive(Debug, Clone, PartialEq)]
pub enum DurationArg {
    /// A constant: a duration literal (`5m`) or a plain number of seconds
    /// (`300`), in milliseconds. Negative only for offsets.
    Millis(i64),
    /// A duration expression (`5m + 1m`, `step() * 2`, `min_of(range(), 1h)`),
    /// evaluated once the query's step and range are known.
    Expr(Box<DurationExpr>),
}

/// What a duration expression may refer to: the query's step and range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DurationContext {
    /// `step()`: the range query's step in milliseconds (0 for instant queries).
    pub step_ms: i64,
    /// `range()`: end minus start of the range query in milliseconds (0 for instant queries).
    pub range_ms: i64,
}

/// Why a duration expression has no valid value. `Display` matches
/// Prometheus' messages (`"<start>:<end>: duration must be greater than 0"`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{start}:{end}: {message}")]
pub struct DurationError {
    /// Byte offset where the duration expression starts.
    pub start: usize,
    /// Byte offset where it ends.
    pub end: usize,
    /// What is wrong.
    pub message: String,
}

impl DurationArg {
    /// The value in milliseconds when it is a constant.
    pub fn as_millis(&self) -> Option<i64> {
        match self {
            DurationArg::Millis(ms) => Some(*ms),
            DurationArg::Expr(_) => None,
        }
    }

    /// The value in milliseconds. Expressions are evaluated as Prometheus'
    /// engine does before running a query: in float seconds, then checked
    /// (finite, positive unless `allow_negative`, in range) and truncated to
    /// milliseconds. Use `allow_negative` for offsets.
    pub fn resolve(
        &self,
        ctx: &DurationContext,
        allow_negative: bool,
    ) -> Result<i64, DurationError> {
        match self {
            DurationArg::Millis(ms) => Ok(*ms),
            DurationArg::Expr(e) => e.resolve(ctx, allow_negative),
        }
    }
}

/// Operators allowed between durations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DurationOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `%`
    Mod,
    /// `^`
    Pow,
}

impl DurationOp {
    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            DurationOp::Add => "+",
            DurationOp::Sub => "-",
            DurationOp::Mul => "*",
            DurationOp::Div => "/",
            DurationOp::Mod => "%",
            DurationOp::Pow => "^",
        }
    }
}

/// An arithmetic expression over durations (Prometheus 3 duration expressions).
/// Values are seconds as `f64`, like Prometheus evaluates them.
#[derive(Debug, Clone, PartialEq)]
pub enum DurationExpr {
    /// A number of seconds (`30`, `1.5`) or a duration literal (`5m`).
    Number(NumberLiteral),
    /// `step()`.
    Step(Span),
    /// `range()`.
    Range(Span),
    /// `min_of(a, b)`.
    MinOf(Box<DurationExpr>, Box<DurationExpr>, Span),
    /// `max_of(a, b)`.
    MaxOf(Box<DurationExpr>, Box<DurationExpr>, Span),
    /// `-d` or `+d`.
    Unary(UnaryOp, Box<DurationExpr>, Span),
    /// `a op b`.
    Binary(DurationOp, Box<DurationExpr>, Box<DurationExpr>),
    /// `(d)`.
    Paren(Box<DurationExpr>, Span),
}

impl DurationExpr {
    /// Where the expression sits in the query.
    pub fn span(&self) -> Span {
        match self {
            DurationExpr::Number(n) => n.span,
            DurationExpr::Step(s) | DurationExpr::Range(s) => *s,
            DurationExpr::MinOf(_, _, s)
            | DurationExpr::MaxOf(_, _, s)
            | DurationExpr::Unary(_, _, s)
            | DurationExpr::Paren(_, s) => *s,
            DurationExpr::Binary(_, l, r) => l.span().merge(r.span()),
        }
    }

    /// Whether the value depends on the query (`step()` or `range()` occur).
    pub fn uses_query_params(&self) -> bool {
        match self {
            DurationExpr::Number(_) => false,
            DurationExpr::Step(_) | DurationExpr::Range(_) => true,
            DurationExpr::MinOf(a, b, _)
            | DurationExpr::MaxOf(a, b, _)
            | DurationExpr::Binary(_, a, b) => a.uses_query_params() || b.uses_query_params(),
            DurationExpr::Unary(_, e, _) | DurationExpr::Paren(e, _) => e.uses_query_params(),
        }
    }

    /// The value in seconds.
    pub fn eval_seconds(&self, ctx: &DurationContext) -> Result<f64, DurationError> {
        Ok(match self {
            DurationExpr::Number(n) => n.value,
            DurationExpr::Step(_) => ctx.step_ms as f64 / 1000.0,
            DurationExpr::Range(_) => ctx.range_ms as f64 / 1000.0,
            DurationExpr::MinOf(a, b, _) => a.eval_seconds(ctx)?.min(b.eval_seconds(ctx)?),
            DurationExpr::MaxOf(a, b, _) => a.eval_seconds(ctx)?.max(b.eval_seconds(ctx)?),
            DurationExpr::Unary(UnaryOp::Neg, e, _) => -e.eval_seconds(ctx)?,
            DurationExpr::Unary(UnaryOp::Pos, e, _) | DurationExpr::Paren(e, _) => {
                e.eval_seconds(ctx)?
            }
            DurationExpr::Binary(op, a, b) => {
                let (l, r) = (a.eval_seconds(ctx)?, b.eval_seconds(ctx)?);
                match op {
                    DurationOp::Add => l + r,
                    DurationOp::Sub => l - r,
                    DurationOp::Mul => l * r,
                    DurationOp::Div if r == 0.0 => return Err(self.error("division by zero")),
                    DurationOp::Div => l / r,
                    DurationOp::Mod if r == 0.0 => return Err(self.error("modulo by zero")),
                    DurationOp::Mod => l % r,
                    DurationOp::Pow => l.powf(r),
                }
            }
        })
    }

    /// The value in milliseconds, checked as Prometheus' engine checks it.
    pub fn resolve(
        &self,
        ctx: &DurationContext,
        allow_negative: bool,
    ) -> Result<i64, DurationError> {
        let seconds = self.eval_seconds(ctx)?;
        if !seconds.is_finite() {
            return Err(self.error("duration is NaN or infinite"));
        }
        if seconds <= 0.0 && !allow_negative {
            return Err(self.error("duration must be greater than 0"));
        }
        // time.Duration holds nanoseconds in an i64.
        let limit = (i64::MAX as f64) / 1e9;
        if seconds > limit || seconds < -limit {
            return Err(self.error("duration is out of range"));
        }
        Ok((seconds * 1000.0) as i64)
    }

    fn error(&self, message: &str) -> DurationError {
        let span = self.span();
        DurationError { start: span.start, end: span.end, message: message.to_string() }
    }
}

/// Strips every position from an AST, so trees parsed from differently
/// spelled but equivalent queries compare equal.
pub fn clear_spans(expr: &mut Expr) {
    fn dur(d: &mut DurationExpr) {
        match d {
            DurationExpr::Number(n) => n.span = Span::default(),
            DurationExpr::Step(s) | DurationExpr::Range(s) => *s = Span::default(),
            DurationExpr::MinOf(a, b, s) | DurationExpr::MaxOf(a, b, s) => {
                dur(a);
                dur(b);
                *s = Span::default();
            }
            DurationExpr::Unary(_, e, s) | DurationExpr::Paren(e, s) => {
                dur(e);
                *s = Span::default();
            }
            DurationExpr::Binary(_, a, b) => {
                dur(a);
                dur(b);
            }
        }
    }
    fn arg(a: &mut Option<DurationArg>) {
        if let Some(DurationArg::Expr(e)) = a {
            dur(e);
        }
    }
    fn vs(v: &mut VectorSelector) {
        v.span = Span::default();
        arg(&mut v.offset);
    }
    match expr {
        Expr::NumberLiteral(n) => n.span = Span::default(),
        Expr::StringLiteral(s) => s.span = Span::default(),
        Expr::VectorSelector(v) => vs(v),
        Expr::MatrixSelector(m) => {
            vs(&mut m.vector_selector);
            if let DurationArg::Expr(e) = &mut m.range {
                dur(e);
            }
            m.span = Span::default();
        }
        Expr::Subquery(s) => {
            clear_spans(&mut s.expr);
            if let DurationArg::Expr(e) = &mut s.range {
                dur(e);
            }
            arg(&mut s.step);
            arg(&mut s.offset);
            s.span = Span::default();
        }
        Expr::Unary(u) => {
            clear_spans(&mut u.expr);
            u.span = Span::default();
        }
        Expr::Binary(b) => {
            clear_spans(&mut b.lhs);
            clear_spans(&mut b.rhs);
        }
        Expr::Aggregate(a) => {
            clear_spans(&mut a.expr);
            if let Some(p) = &mut a.param {
                clear_spans(p);
            }
            a.span = Span::default();
        }
        Expr::Call(c) => {
            c.args.iter_mut().for_each(clear_spans);
            c.span = Span::default();
        }
        Expr::Paren(p) => {
            clear_spans(&mut p.expr);
            p.span = Span::default();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn num(v: f64) -> Expr {
        Expr::NumberLiteral(NumberLiteral { value: v, duration: false, span: Span::default() })
    }

    #[test]
    fn binary_type_is_scalar_only_between_scalars() {
        let b = |lhs: Expr, rhs: Expr| {
            Expr::Binary(BinaryExpr {
                op: BinaryOp::Add,
                lhs: Box::new(lhs),
                rhs: Box::new(rhs),
                return_bool: false,
                matching: None,
            })
        };
        assert_eq!(b(num(1.0), num(2.0)).value_type(), ValueType::Scalar);
        let vs = Expr::VectorSelector(VectorSelector {
            name: Some("x".into()),
            matchers: vec![Matcher::equal("__name__", "x")],
            offset: None,
            at: None,
            anchored: false,
            smoothed: false,
            span: Span::default(),
        });
        assert_eq!(b(num(1.0), vs).value_type(), ValueType::Vector);
    }

    #[test]
    fn nan_literals_compare_equal() {
        assert_eq!(num(f64::NAN), num(f64::NAN));
        assert_ne!(num(1.0), num(2.0));
    }

    #[test]
    fn line_col_is_one_based_and_counts_lines() {
        assert_eq!(line_col("abc", 0), (1, 1));
        assert_eq!(line_col("ab\ncd", 4), (2, 2));
    }

    #[test]
    fn duration_expressions_evaluate_like_prometheus() {
        let n = |s: f64| {
            Box::new(DurationExpr::Number(NumberLiteral {
                value: s,
                duration: true,
                span: Span::default(),
            }))
        };
        let ctx = DurationContext { step_ms: 15_000, range_ms: 3_600_000 };
        let e = DurationExpr::Binary(
            DurationOp::Mul,
            Box::new(DurationExpr::Step(Span::default())),
            n(2.0),
        );
        assert_eq!(e.resolve(&ctx, false), Ok(30_000));
        let zero = DurationExpr::Binary(DurationOp::Sub, n(60.0), n(60.0));
        assert_eq!(
            zero.resolve(&ctx, false).map_err(|e| e.message),
            Err("duration must be greater than 0".into())
        );
        assert_eq!(zero.resolve(&ctx, true), Ok(0));
        let div = DurationExpr::Binary(DurationOp::Div, n(60.0), n(0.0));
        assert_eq!(div.resolve(&ctx, true).map_err(|e| e.message), Err("division by zero".into()));
    }
}
