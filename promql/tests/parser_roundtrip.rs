//! Property tests of the parser and printer.
//!
//! * Random well-typed expressions print to text that parses back to the
//!   same tree (`parse(format(e)) == e`, positions and matcher order aside).
//! * Arbitrary strings, and strings made of PromQL tokens, never make the
//!   parser panic.
//!
//! Expressions are built from a proptest-chosen seed by a small generator
//! that knows PromQL's typing rules and adds parentheses only where the
//! printed text would otherwise group differently.

use promethium_engine::model::{MatchType, Matcher};
use promethium_promql::parser::ast::*;
use promethium_promql::parser::printer::{format_matcher, pretty_with_width};
use promethium_promql::parser::{FUNCTIONS, parse};
use proptest::prelude::*;

struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        // splitmix64
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    // ---- leaves -----------------------------------------------------------

    fn ident(&mut self) -> String {
        const WORDS: &[&str] = &[
            "foo",
            "http_requests_total",
            "up",
            "job:rate5m",
            "a",
            "x_1",
            "node_cpu",
            "_hidden",
            "metric",
            "instance",
            "le",
            "A",
            "b:c:d",
        ];
        self.pick(WORDS).to_string()
    }

    fn label_name(&mut self) -> String {
        const NAMES: &[&str] = &[
            "job",
            "instance",
            "le",
            "a",
            "_x",
            "B2",
            "service.name",
            "ünï",
            "with space",
            "0lead",
        ];
        self.pick(NAMES).to_string()
    }

    fn string_value(&mut self) -> String {
        const VALUES: &[&str] = &[
            "",
            "api",
            "a\"b",
            "back\\slash",
            "new\nline",
            "tab\t",
            "ünïcødé",
            "✓",
            "\u{1}",
            "\u{7f}",
            "'",
            "`",
            "{}",
            "a,b",
        ];
        self.pick(VALUES).to_string()
    }

    fn regex(&mut self) -> String {
        const RES: &[&str] = &["a.*", ".+", "api|web", "[0-9]+", "x\\d", "(a|b)c?", ".*"];
        self.pick(RES).to_string()
    }

    fn number(&mut self) -> f64 {
        const NUMS: &[f64] =
            &[0.0, 1.0, 2.5, 1e6, 1e-7, 123456789.0, 0.1, f64::INFINITY, f64::NAN, 42.0, 1e21];
        let v = *self.pick(NUMS);
        if self.chance(20) { -v } else { v }
    }

    fn millis(&mut self) -> i64 {
        const MS: &[i64] = &[
            1,
            1000,
            60_000,
            90_000,
            300_000,
            3_600_000,
            86_400_000,
            604_800_000,
            31_536_000_000,
            1_500,
        ];
        *self.pick(MS)
    }

    fn number_literal(&mut self) -> Expr {
        if self.chance(20) {
            let ms = self.millis();
            let v = ms as f64 / 1000.0;
            let v = if self.chance(20) { -v } else { v };
            return Expr::NumberLiteral(NumberLiteral {
                value: v,
                duration: true,
                span: Span::default(),
            });
        }
        Expr::NumberLiteral(NumberLiteral {
            value: self.number(),
            duration: false,
            span: Span::default(),
        })
    }

    fn matcher(&mut self) -> Matcher {
        let name = self.label_name();
        match self.below(4) {
            0 => Matcher::equal(name, self.string_value()),
            1 => Matcher::new(MatchType::NotEqual, name, self.string_value())
                .expect("!= never fails"),
            2 => Matcher::new(MatchType::Regex, name, self.regex()).expect("valid regex"),
            _ => Matcher::new(MatchType::NotRegex, name, self.regex()).expect("valid regex"),
        }
    }

    fn vector_selector(&mut self) -> VectorSelector {
        let name = if self.chance(80) { Some(self.ident()) } else { None };
        let mut matchers: Vec<Matcher> = (0..self.below(3)).map(|_| self.matcher()).collect();
        if name.is_none() {
            // At least one matcher that does not match the empty string.
            matchers.push(Matcher::equal("__name__", self.ident()));
        }
        matchers.sort_by_key(format_matcher);
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
            span: Span::default(),
        }
    }

    fn at(&mut self) -> Option<AtModifier> {
        match self.below(6) {
            0 => Some(AtModifier::Timestamp(
                (self.next() % 4_000_000_000_000) as i64 - 1_000_000_000_000,
            )),
            1 => Some(AtModifier::Start),
            2 => Some(AtModifier::End),
            _ => None,
        }
    }

    // ---- durations --------------------------------------------------------

    fn duration_expr(&mut self, depth: usize) -> DurationExpr {
        let leaf = depth == 0 || self.chance(30);
        if leaf {
            return match self.below(4) {
                0 => DurationExpr::Step(Span::default()),
                1 => DurationExpr::Range(Span::default()),
                _ => {
                    let duration = self.chance(50);
                    let value = if duration {
                        self.millis() as f64 / 1000.0
                    } else {
                        self.below(100) as f64 + 1.0
                    };
                    DurationExpr::Number(NumberLiteral { value, duration, span: Span::default() })
                }
            };
        }
        match self.below(5) {
            0 => {
                let a = self.duration_expr(depth - 1);
                let b = self.duration_expr(depth - 1);
                if self.chance(50) {
                    DurationExpr::MinOf(Box::new(a), Box::new(b), Span::default())
                } else {
                    DurationExpr::MaxOf(Box::new(a), Box::new(b), Span::default())
                }
            }
            1 => {
                let inner = self.duration_expr(depth - 1);
                DurationExpr::Unary(
                    UnaryOp::Neg,
                    Box::new(self.wrap_for_duration_unary(inner)),
                    Span::default(),
                )
            }
            2 => {
                let inner = self.duration_expr(depth - 1);
                duration_paren(inner)
            }
            _ => {
                let op = *self.pick(&[
                    DurationOp::Add,
                    DurationOp::Sub,
                    DurationOp::Mul,
                    DurationOp::Div,
                    DurationOp::Mod,
                    DurationOp::Pow,
                ]);
                let lhs = self.duration_expr(depth - 1);
                let rhs = self.duration_expr(depth - 1);
                let rhs = match (&rhs, op) {
                    // A literal zero divisor is a parse error.
                    (DurationExpr::Number(n), DurationOp::Div | DurationOp::Mod)
                        if n.value == 0.0 =>
                    {
                        duration_paren(rhs)
                    }
                    _ => rhs,
                };
                DurationExpr::Binary(
                    op,
                    Box::new(wrap_duration_operand(lhs, op, true)),
                    Box::new(wrap_duration_operand(rhs, op, false)),
                )
            }
        }
    }

    /// `-x` where x is a literal would fold into the literal.
    fn wrap_for_duration_unary(&mut self, e: DurationExpr) -> DurationExpr {
        match e {
            DurationExpr::Number(_) | DurationExpr::Binary(..) => duration_paren(e),
            other => other,
        }
    }

    /// A duration inside `[...]`: a positive constant or a non-literal expression.
    fn bracket_duration(&mut self) -> DurationArg {
        if self.chance(60) {
            return DurationArg::Millis(self.millis());
        }
        match self.duration_expr(3) {
            DurationExpr::Number(n) => {
                DurationArg::Expr(Box::new(duration_paren(DurationExpr::Number(n))))
            }
            e => DurationArg::Expr(Box::new(e)),
        }
    }

    /// A duration after `offset`: only shapes that `offset` reads back whole.
    fn offset(&mut self) -> Option<DurationArg> {
        match self.below(8) {
            0 | 1 => {
                let ms = self.millis();
                Some(DurationArg::Millis(if self.chance(30) { -ms } else { ms }))
            }
            2 => Some(DurationArg::Expr(Box::new(DurationExpr::Step(Span::default())))),
            // A bare `(d)` is left out: Prometheus (and we) read `offset (d) + 1`
            // as `offset ((d) + 1)`, so the printed form of such a selector
            // followed by an operator is ambiguous.
            3 | 4 => {
                let inner = self.duration_expr(2);
                let neg = DurationExpr::Unary(
                    UnaryOp::Neg,
                    Box::new(duration_paren(inner)),
                    Span::default(),
                );
                Some(DurationArg::Expr(Box::new(neg)))
            }
            5 => {
                let a = self.duration_expr(1);
                let b = self.duration_expr(1);
                Some(DurationArg::Expr(Box::new(DurationExpr::MinOf(
                    Box::new(a),
                    Box::new(b),
                    Span::default(),
                ))))
            }
            _ => None,
        }
    }

    // ---- expressions ------------------------------------------------------

    fn expr(&mut self, want: ValueType, depth: usize) -> Expr {
        match want {
            ValueType::String => Expr::StringLiteral(StringLiteral {
                value: self.string_value(),
                invalid_utf8: None,
                span: Span::default(),
            }),
            ValueType::Matrix => self.matrix(depth),
            ValueType::Scalar => self.scalar(depth),
            ValueType::Vector => self.vector(depth),
        }
    }

    fn matrix(&mut self, depth: usize) -> Expr {
        if depth > 0 && self.chance(30) {
            let inner = self.vector(depth - 1);
            let inner = match inner {
                e @ (Expr::VectorSelector(_)
                | Expr::Call(_)
                | Expr::Aggregate(_)
                | Expr::Paren(_)) => e,
                other => paren(other),
            };
            let step = if self.chance(50) { Some(self.bracket_duration()) } else { None };
            return Expr::Subquery(SubqueryExpr {
                expr: Box::new(inner),
                range: self.bracket_duration(),
                step,
                offset: self.offset(),
                at: self.at(),
                span: Span::default(),
            });
        }
        let mut vs = self.vector_selector();
        vs.offset = self.offset();
        vs.at = self.at();
        match self.below(6) {
            0 => vs.anchored = true,
            1 => vs.smoothed = true,
            _ => {}
        }
        Expr::MatrixSelector(MatrixSelector {
            vector_selector: vs,
            range: self.bracket_duration(),
            span: Span::default(),
        })
    }

    fn scalar(&mut self, depth: usize) -> Expr {
        if depth == 0 {
            return self.number_literal();
        }
        match self.below(6) {
            0 => self.number_literal(),
            1 => self.call_returning(ValueType::Scalar, depth),
            2 => {
                let e = self.scalar(depth - 1);
                paren(e)
            }
            3 => self.unary(ValueType::Scalar, depth),
            _ => self.binary(ValueType::Scalar, depth),
        }
    }

    fn vector(&mut self, depth: usize) -> Expr {
        if depth == 0 {
            let mut vs = self.vector_selector();
            vs.offset = self.offset();
            vs.at = self.at();
            return Expr::VectorSelector(vs);
        }
        match self.below(7) {
            0 => self.vector(0),
            1 | 2 => self.call_returning(ValueType::Vector, depth),
            3 => self.aggregate(depth),
            4 => self.unary(ValueType::Vector, depth),
            5 => {
                let e = self.vector(depth - 1);
                paren(e)
            }
            _ => self.binary(ValueType::Vector, depth),
        }
    }

    fn unary(&mut self, want: ValueType, depth: usize) -> Expr {
        let op = if self.chance(50) { UnaryOp::Neg } else { UnaryOp::Pos };
        let inner = self.expr(want, depth - 1);
        let inner = match inner {
            // A sign on a literal folds into it; a sign binds tighter than
            // everything but `^`.
            Expr::NumberLiteral(_) => paren(inner),
            Expr::Binary(ref b) if b.op != BinaryOp::Pow => paren(inner),
            other => other,
        };
        Expr::Unary(UnaryExpr { op, expr: Box::new(inner), span: Span::default() })
    }

    fn binary(&mut self, want: ValueType, depth: usize) -> Expr {
        const ARITH: &[BinaryOp] = &[
            BinaryOp::Add,
            BinaryOp::Sub,
            BinaryOp::Mul,
            BinaryOp::Div,
            BinaryOp::Mod,
            BinaryOp::Pow,
            BinaryOp::Atan2,
        ];
        const CMP: &[BinaryOp] = &[
            BinaryOp::Eql,
            BinaryOp::Neq,
            BinaryOp::Gtr,
            BinaryOp::Lss,
            BinaryOp::Gte,
            BinaryOp::Lte,
        ];
        const SET: &[BinaryOp] = &[BinaryOp::And, BinaryOp::Or, BinaryOp::Unless];
        let (lt, rt) = match want {
            ValueType::Scalar => (ValueType::Scalar, ValueType::Scalar),
            _ => match self.below(3) {
                0 => (ValueType::Vector, ValueType::Scalar),
                1 => (ValueType::Scalar, ValueType::Vector),
                _ => (ValueType::Vector, ValueType::Vector),
            },
        };
        let both_vectors = lt == ValueType::Vector && rt == ValueType::Vector;
        let op = match self.below(if both_vectors { 4 } else { 3 }) {
            0 | 1 => *self.pick(ARITH),
            2 => *self.pick(CMP),
            _ => *self.pick(SET),
        };
        let return_bool = op.is_comparison() && (want == ValueType::Scalar || self.chance(50));
        let matching = if both_vectors { Some(self.matching(op)) } else { None };
        let lhs = self.expr(lt, depth - 1);
        let rhs = self.expr(rt, depth - 1);
        Expr::Binary(BinaryExpr {
            op,
            lhs: Box::new(wrap_operand(lhs, op, true)),
            rhs: Box::new(wrap_operand(rhs, op, false)),
            return_bool,
            matching,
        })
    }

    fn matching(&mut self, op: BinaryOp) -> VectorMatching {
        let mut m = VectorMatching::default();
        if op.is_set_operator() {
            m.card = VectorMatchCardinality::ManyToMany;
        }
        if self.chance(50) {
            m.on = self.chance(50);
            m.matching_labels = (0..self.below(3)).map(|_| self.label_name()).collect();
        }
        let grouping_allowed = !op.is_set_operator() && (m.on || !m.matching_labels.is_empty());
        if grouping_allowed && self.chance(40) {
            m.card = if self.chance(50) {
                VectorMatchCardinality::ManyToOne
            } else {
                VectorMatchCardinality::OneToMany
            };
            m.include = (0..self.below(3))
                .map(|_| self.label_name())
                .filter(|l| !m.matching_labels.contains(l))
                .collect();
        }
        if !op.is_set_operator() && self.chance(25) {
            match self.below(3) {
                0 => {
                    let v = self.number();
                    m.fill = FillValues { lhs: Some(v), rhs: Some(v) };
                }
                1 => m.fill.lhs = Some(self.number()),
                _ => {
                    m.fill.lhs = Some(self.number());
                    m.fill.rhs = Some(self.number());
                }
            }
        }
        m
    }

    fn aggregate(&mut self, depth: usize) -> Expr {
        let op = *self.pick(&AggregateOp::ALL);
        let param = op.param_type().map(|t| Box::new(self.expr(t, depth - 1)));
        let without = self.chance(30);
        let grouping = if without || self.chance(50) {
            (0..self.below(3)).map(|_| self.label_name()).collect()
        } else {
            Vec::new()
        };
        Expr::Aggregate(AggregateExpr {
            op,
            expr: Box::new(self.vector(depth - 1)),
            param,
            grouping,
            without,
            span: Span::default(),
        })
    }

    fn call_returning(&mut self, want: ValueType, depth: usize) -> Expr {
        let candidates: Vec<_> =
            FUNCTIONS.iter().filter(|f| f.return_type == want && f.name != "info").collect();
        let func = *self.pick(&candidates);
        let mut count = func.arg_types.len();
        if func.variadic != 0 && count > 0 {
            let extra = if func.variadic > 0 { func.variadic as usize } else { 2 };
            count = count - 1 + self.below(extra + 2);
            if func.variadic > 0 {
                count = count.min(func.arg_types.len() - 1 + func.variadic as usize);
            }
        }
        let args = (0..count)
            .map(|i| {
                let t = func.arg_types[i.min(func.arg_types.len() - 1)];
                self.expr(t, depth - 1)
            })
            .collect();
        Expr::Call(Call { func, args, span: Span::default() })
    }
}

fn paren(e: Expr) -> Expr {
    Expr::Paren(ParenExpr { expr: Box::new(e), span: Span::default() })
}

fn duration_paren(e: DurationExpr) -> DurationExpr {
    match e {
        p @ DurationExpr::Paren(..) => p,
        other => DurationExpr::Paren(Box::new(other), Span::default()),
    }
}

/// Literals printed with a sign (`-1`, `+Inf`) read as a sign applied to
/// whatever `^` expression they start.
fn is_signed_literal(e: &Expr) -> bool {
    matches!(e, Expr::NumberLiteral(n) if (n.value.is_sign_negative() && !n.value.is_nan()) || n.value == f64::INFINITY)
}

/// Parenthesises an operand where printing it bare would regroup it.
fn wrap_operand(e: Expr, op: BinaryOp, left: bool) -> Expr {
    let needs = match &e {
        Expr::Binary(inner) => {
            let (p, q) = (inner.op.precedence(), op.precedence());
            p < q || (p == q && (left == op.is_right_associative()))
        }
        // `-a ^ b` reads as `-(a ^ b)`.
        Expr::Unary(_) => left && op == BinaryOp::Pow,
        _ => left && op == BinaryOp::Pow && is_signed_literal(&e),
    };
    if needs { paren(e) } else { e }
}

fn duration_precedence(op: DurationOp) -> u8 {
    match op {
        DurationOp::Add | DurationOp::Sub => 4,
        DurationOp::Mul | DurationOp::Div | DurationOp::Mod => 5,
        DurationOp::Pow => 6,
    }
}

fn wrap_duration_operand(e: DurationExpr, op: DurationOp, left: bool) -> DurationExpr {
    let needs = match &e {
        DurationExpr::Binary(inner, _, _) => {
            let (p, q) = (duration_precedence(*inner), duration_precedence(op));
            p < q || (p == q && (left == (op == DurationOp::Pow)))
        }
        DurationExpr::Unary(..) => left && op == DurationOp::Pow,
        _ => false,
    };
    if needs { duration_paren(e) } else { e }
}

/// Positions cleared and matchers sorted as the printer writes them.
fn canonical(expr: &Expr) -> Expr {
    fn go(e: &mut Expr) {
        match e {
            Expr::VectorSelector(vs) => vs.matchers.sort_by_key(format_matcher),
            Expr::MatrixSelector(m) => m.vector_selector.matchers.sort_by_key(format_matcher),
            Expr::Subquery(s) => go(&mut s.expr),
            Expr::Unary(u) => go(&mut u.expr),
            Expr::Binary(b) => {
                go(&mut b.lhs);
                go(&mut b.rhs);
            }
            Expr::Aggregate(a) => {
                go(&mut a.expr);
                if let Some(p) = &mut a.param {
                    go(p);
                }
            }
            Expr::Call(c) => c.args.iter_mut().for_each(go),
            Expr::Paren(p) => go(&mut p.expr),
            Expr::NumberLiteral(_) | Expr::StringLiteral(_) => {}
        }
    }
    let mut e = expr.clone();
    clear_spans(&mut e);
    go(&mut e);
    e
}

proptest! {
    // Failures print the seed; integration tests have no source directory
    // for proptest's regression files.
    #![proptest_config(ProptestConfig { cases: 3000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn printed_expressions_parse_back_to_the_same_tree(seed in any::<u64>(), depth in 0usize..5) {
        let mut g = Gen(seed);
        let want = *g.pick(&[ValueType::Vector, ValueType::Scalar, ValueType::Matrix, ValueType::String]);
        let expr = g.expr(want, depth);
        let text = expr.to_string();
        let parsed = parse(&text).map_err(|e| TestCaseError::fail(format!("{text:?} does not parse: {e}")))?;
        prop_assert_eq!(canonical(&parsed), canonical(&expr), "text: {}", text);
        prop_assert_eq!(parsed.to_string(), text);
        prop_assert_eq!(parsed.value_type(), want);
        // The multi-line form of format_query reads back the same way.
        let pretty = pretty_with_width(&expr, 20);
        let reparsed = parse(&pretty).map_err(|e| TestCaseError::fail(format!("{pretty:?} does not parse: {e}")))?;
        prop_assert_eq!(canonical(&reparsed), canonical(&expr), "pretty: {}", pretty);
    }

    #[test]
    fn arbitrary_strings_never_panic(input in any::<String>()) {
        let _ = parse(&input);
    }

    #[test]
    fn token_soup_never_panics(tokens in proptest::collection::vec(proptest::sample::select(vec![
        "foo", "{", "}", "(", ")", "[", "]", ",", ":", "=", "=~", "!=", "!~", "\"x\"", "'y'", "`z`", "5m",
        "1", "0x1f", "1e3", "Inf", "NaN", "+", "-", "*", "/", "%", "^", "==", ">", "<=", "and", "or", "unless",
        "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset", "@", "start()", "end()",
        "step()", "range()", "min_of", "sum", "topk", "count_values", "rate", "fill", "fill_left", "anchored",
        "smoothed", "atan2", "#c\n", " ", "label_replace", "info", "__name__", "\"a.b\"",
    ]), 0..24)) {
        let input = tokens.join(" ");
        if let Ok(e) = parse(&input) {
            let printed = e.to_string();
            prop_assert!(parse(&printed).is_ok(), "{input:?} parsed but {printed:?} does not");
        }
    }
}
