//! Type checking of a parsed tree, as Prometheus' `checkAST` does it.
//!
//! Runs after a syntactically valid parse. Children are checked before
//! their parent's own rules, so the first error found is the one Prometheus
//! reports. It also normalises vector matching: set operators become
//! many-to-many and `matching` is dropped unless both sides are instant
//! vectors.

use super::ParseError;
use super::ast::*;

pub(crate) struct Checker<'a> {
    pub(crate) input: &'a str,
}

type CResult<T> = Result<T, ParseError>;

impl Checker<'_> {
    fn err(&self, span: Span, message: impl Into<String>) -> ParseError {
        ParseError::new(self.input, span, message)
    }

    fn expect_type(&self, expr: &mut Expr, want: ValueType, context: &str) -> CResult<()> {
        let t = self.check(expr)?;
        if t != want {
            return Err(
                self.err(expr.span(), format!("expected type {want} in {context}, got {t}"))
            );
        }
        Ok(())
    }

    /// Checks `expr` and returns its type.
    pub(crate) fn check(&self, expr: &mut Expr) -> CResult<ValueType> {
        self.check_with(expr, false)
    }

    fn check_with(&self, expr: &mut Expr, bypass_empty_matcher_check: bool) -> CResult<ValueType> {
        let typ = expr.value_type();
        match expr {
            Expr::Aggregate(a) => {
                self.expect_type(&mut a.expr, ValueType::Vector, "aggregation expression")?;
                if let (Some(want), Some(param)) = (a.op.param_type(), a.param.as_mut()) {
                    self.expect_type(param, want, "aggregation parameter")?;
                }
            }
            Expr::Binary(_) => self.check_binary_chain(expr)?,
            Expr::Call(c) => self.check_call(c)?,
            Expr::Paren(p) => {
                self.check(&mut p.expr)?;
            }
            Expr::Unary(u) => {
                let t = self.check(&mut u.expr)?;
                if t != ValueType::Scalar && t != ValueType::Vector {
                    return Err(self.err(
                        u.span,
                        format!(
                            "unary expression only allowed on expressions of type scalar or instant vector, got {}",
                            super::quote::go_quote(t.as_str())
                        ),
                    ));
                }
            }
            Expr::Subquery(_) => self.check_subquery_chain(expr)?,
            Expr::MatrixSelector(m) => self.check_selector(&m.vector_selector, false)?,
            Expr::VectorSelector(vs) => self.check_selector(vs, bypass_empty_matcher_check)?,
            Expr::NumberLiteral(_) | Expr::StringLiteral(_) => {}
        }
        Ok(typ)
    }

    fn check_selector(&self, vs: &VectorSelector, bypass_empty_matcher_check: bool) -> CResult<()> {
        if let Some(name) = &vs.name {
            // The last matcher is the one derived from the name.
            let explicit = &vs.matchers[..vs.matchers.len().saturating_sub(1)];
            if let Some(m) = explicit.iter().find(|m| m.name == "__name__") {
                return Err(self.err(
                    vs.span,
                    format!(
                        "metric name must not be set twice: {} or {}",
                        super::quote::go_quote(name),
                        super::quote::go_quote(&m.value)
                    ),
                ));
            }
            return Ok(());
        }
        if !bypass_empty_matcher_check && vs.matchers.iter().all(|m| m.matches_empty()) {
            return Err(
                self.err(vs.span, "vector selector must contain at least one non-empty matcher")
            );
        }
        Ok(())
    }

    /// The operator's position: from the end of the left operand to the
    /// start of the right one, without surrounding spaces.
    fn op_span(&self, b: &BinaryExpr) -> Span {
        let bytes = self.input.as_bytes();
        let is_space = |c: u8| matches!(c, b' ' | b'\t' | b'\n' | b'\r');
        let mut start = b.lhs.span().end;
        while start < bytes.len() && is_space(bytes[start]) {
            start += 1;
        }
        let mut end = b.rhs.span().start.saturating_sub(1);
        while end > start && end < bytes.len() && is_space(bytes[end]) {
            end -= 1;
        }
        Span::new(start, end)
    }

    /// Checks nested subqueries (`x[1h:][1h:]...`, always a type error past
    /// the first) innermost first, without recursion.
    fn check_subquery_chain(&self, root: &mut Expr) -> CResult<()> {
        let mut chain = 0;
        let mut e = &*root;
        while let Expr::Subquery(s) = e {
            chain += 1;
            e = &s.expr;
        }
        let mut t = self.check(nth_inner(root, chain))?;
        for level in (0..chain).rev() {
            if let (Expr::Subquery(s), false) = (nth_inner(root, level), t == ValueType::Vector) {
                return Err(self.err(
                    s.span,
                    format!(
                        "subquery is only allowed on instant vector, got {} instead",
                        t.api_name()
                    ),
                ));
            }
            t = ValueType::Matrix;
        }
        Ok(())
    }

    /// Checks a chain of left-nested binary expressions (`a + b + c ...`)
    /// bottom-up without recursing down the left spine, which can be as
    /// long as the query is.
    fn check_binary_chain(&self, root: &mut Expr) -> CResult<()> {
        let mut spine = 0;
        let mut e = &*root;
        while let Expr::Binary(b) = e {
            spine += 1;
            e = &b.lhs;
        }
        let mut lt = self.check(nth_left(root, spine))?;
        for level in (0..spine).rev() {
            if let Expr::Binary(b) = nth_left(root, level) {
                lt = self.check_binary(b, lt)?;
            }
        }
        Ok(())
    }

    /// Checks one binary expression whose left operand (of type `lt`) is
    /// already checked; returns the expression's type.
    fn check_binary(&self, b: &mut BinaryExpr, lt: ValueType) -> CResult<ValueType> {
        let rt = self.check(&mut b.rhs)?;
        if b.return_bool && !b.op.is_comparison() {
            return Err(
                self.err(self.op_span(b), "bool modifier can only be used on comparison operators")
            );
        }
        if b.op.is_comparison()
            && !b.return_bool
            && lt == ValueType::Scalar
            && rt == ValueType::Scalar
        {
            return Err(
                self.err(self.op_span(b), "comparisons between scalars must use BOOL modifier")
            );
        }
        let whole = b.lhs.span().merge(b.rhs.span());
        if let Some(m) = b.matching.as_mut() {
            if b.op.is_set_operator() && m.card == VectorMatchCardinality::OneToOne {
                m.card = VectorMatchCardinality::ManyToMany;
            }
            if let Some(l) = m.matching_labels.iter().find(|l| m.on && m.include.contains(l)) {
                let msg = format!(
                    "label {} must not occur in ON and GROUP clause at once",
                    super::quote::go_quote(l)
                );
                return Err(self.err(self.op_span(b), msg));
            }
        }
        for (t, side) in [(lt, &b.lhs), (rt, &b.rhs)] {
            if t != ValueType::Scalar && t != ValueType::Vector {
                return Err(self.err(
                    side.span(),
                    "binary expression must contain only scalar and instant vector types",
                ));
            }
        }
        let both_vectors = lt == ValueType::Vector && rt == ValueType::Vector;
        if let Some(m) = &b.matching {
            let has_fill = m.fill.lhs.is_some() || m.fill.rhs.is_some();
            if !both_vectors {
                if !m.matching_labels.is_empty() {
                    return Err(
                        self.err(whole, "vector matching only allowed between instant vectors")
                    );
                }
                if has_fill {
                    return Err(self.err(
                        whole,
                        "filling in missing series only allowed between instant vectors",
                    ));
                }
            } else if b.op.is_set_operator() {
                if matches!(
                    m.card,
                    VectorMatchCardinality::OneToMany | VectorMatchCardinality::ManyToOne
                ) {
                    return Err(self.err(
                        whole,
                        format!(
                            "no grouping allowed for {} operation",
                            super::quote::go_quote(b.op.as_str())
                        ),
                    ));
                }
                if has_fill {
                    return Err(
                        self.err(whole, "filling in missing series not allowed for set operators")
                    );
                }
            }
        }
        if !both_vectors {
            b.matching = None;
        }
        if (lt == ValueType::Scalar || rt == ValueType::Scalar) && b.op.is_set_operator() {
            return Err(self.err(
                whole,
                format!(
                    "set operator {} not allowed in binary scalar expression",
                    super::quote::go_quote(b.op.as_str())
                ),
            ));
        }
        Ok(if lt == ValueType::Scalar && rt == ValueType::Scalar {
            ValueType::Scalar
        } else {
            ValueType::Vector
        })
    }

    fn check_call(&self, c: &mut Call) -> CResult<()> {
        let f = c.func;
        let nargs = f.arg_types.len();
        let name = super::quote::go_quote(f.name);
        if f.variadic == 0 {
            if nargs != c.args.len() {
                return Err(self.err(
                    c.span,
                    format!("expected {nargs} argument(s) in call to {name}, got {}", c.args.len()),
                ));
            }
        } else {
            let required = nargs - 1;
            if required > c.args.len() {
                return Err(self.err(
                    c.span,
                    format!(
                        "expected at least {required} argument(s) in call to {name}, got {}",
                        c.args.len()
                    ),
                ));
            }
            let max = required as i64 + i64::from(f.variadic);
            if f.variadic > 0 && max < c.args.len() as i64 {
                return Err(self.err(
                    c.span,
                    format!(
                        "expected at most {max} argument(s) in call to {name}, got {}",
                        c.args.len()
                    ),
                ));
            }
        }
        let mut bypass_second = false;
        if f.name == "info" && c.args.len() > 1 {
            let t = c.args[1].value_type();
            if t != ValueType::Vector {
                return Err(self.err(
                    c.span,
                    format!("expected type instant vector in call to function {name}, got {t}"),
                ));
            }
            match &c.args[1] {
                Expr::VectorSelector(vs) if vs.name.is_some() => {
                    return Err(self.err(
                        vs.span,
                        "expected label selectors only, got vector selector instead",
                    ));
                }
                Expr::VectorSelector(_) => bypass_second = true,
                other => return Err(self.err(other.span(), "expected label selectors only")),
            }
        }
        for (i, arg) in c.args.iter_mut().enumerate() {
            let idx = if i >= nargs {
                if f.variadic == 0 {
                    break;
                }
                nargs - 1
            } else {
                i
            };
            let t = self.check_with(arg, bypass_second && i == 1)?;
            let want = f.arg_types[idx];
            if t != want {
                return Err(self.err(
                    arg.span(),
                    format!("expected type {want} in call to function {name}, got {t}"),
                ));
            }
        }
        Ok(())
    }
}

/// The expression `n` steps down the left spine of binary expressions.
fn nth_left(e: &mut Expr, n: usize) -> &mut Expr {
    let mut e = e;
    for _ in 0..n {
        match e {
            Expr::Binary(b) => e = &mut b.lhs,
            _ => break,
        }
    }
    e
}

/// The expression `n` subqueries further in.
fn nth_inner(e: &mut Expr, n: usize) -> &mut Expr {
    let mut e = e;
    for _ in 0..n {
        match e {
            Expr::Subquery(s) => e = &mut s.expr,
            _ => break,
        }
    }
    e
}
