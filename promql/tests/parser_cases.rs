//! Table tests of tricky PromQL inputs: grouping, modifiers, literals and
//! the exact error messages and positions Prometheus reports.

use promethium_promql::parser::ast::*;
use promethium_promql::parser::{parse, to_json};

/// The tree with every binary and unary expression in explicit brackets,
/// so tests can state how an input groups.
fn grouped(e: &Expr) -> String {
    match e {
        Expr::Binary(b) => format!("[{} {} {}]", grouped(&b.lhs), b.op.as_str(), grouped(&b.rhs)),
        Expr::Unary(u) => format!("[{}{}]", u.op.as_str(), grouped(&u.expr)),
        Expr::Paren(p) => format!("({})", grouped(&p.expr)),
        Expr::Call(c) => {
            let args: Vec<String> = c.args.iter().map(grouped).collect();
            format!("{}({})", c.func.name, args.join(", "))
        }
        other => other.to_string(),
    }
}

fn ok(input: &str) -> Expr {
    parse(input).unwrap_or_else(|e| panic!("{input:?} should parse: {e}"))
}

#[test]
fn operators_group_with_prometheus_precedence_and_associativity() {
    let cases = [
        ("a + b * c", "[a + [b * c]]"),
        ("a * b + c", "[[a * b] + c]"),
        ("a - b - c", "[[a - b] - c]"),
        ("a / b / c", "[[a / b] / c]"),
        ("a ^ b ^ c", "[a ^ [b ^ c]]"),
        ("-a ^ b", "[-[a ^ b]]"),
        ("-a * b", "[[-a] * b]"),
        ("-a + b", "[[-a] + b]"),
        ("a * -b ^ c", "[a * [-[b ^ c]]]"),
        ("2 ^ -1 * 3", "[[2 ^ -1] * 3]"),
        ("-1 ^ 2", "[-[1 ^ 2]]"),
        ("--a", "[-[-a]]"),
        ("- -1", "1"),
        ("a or b and c", "[a or [b and c]]"),
        ("a and b unless c", "[[a and b] unless c]"),
        ("a or b unless c", "[a or [b unless c]]"),
        ("a > b + c", "[a > [b + c]]"),
        ("a == b or c", "[[a == b] or c]"),
        ("a atan2 b * c", "[[a atan2 b] * c]"),
        ("a + b atan2 c", "[a + [b atan2 c]]"),
        ("a </ b + c", "[a </ [b + c]]"),
        ("a + b offset 5m", "[a + b offset 5m]"),
        ("-a offset 5m", "[-a offset 5m]"),
        ("a + b @ 10", "[a + b @ 10.000]"),
        ("sum(a) by (x) / sum(b)", "[sum by (x) (a) / sum(b)]"),
        ("(a + b) * c", "[([a + b]) * c]"),
        ("a offset 100 + 2", "[a offset 1m40s + 2]"),
        ("a offset 2 ^ 2", "[a offset 2s ^ 2]"),
        ("a offset -2 ^ 2", "[a offset -2s ^ 2]"),
        ("a offset -2 * 2", "[a offset -2s * 2]"),
        ("a offset (2 ^ 2)", "a offset (2 ^ 2)"),
        ("a offset step() * 0", "[a offset step() * 0]"),
        ("a offset -step() * 2", "[a offset -step() * 2]"),
        ("a offset min_of(step(), 1s) + 8000", "[a offset min_of(step(), 1s) + 8000]"),
        ("a offset -(min_of(step(), 1s)) + 8000", "[a offset -(min_of(step(), 1s)) + 8000]"),
        ("a offset (1h) + 1", "a offset (1h) + 1"),
    ];
    for (input, want) in cases {
        assert_eq!(grouped(&ok(input)), want, "grouping of {input:?}");
    }
}

#[test]
fn canonical_printing_matches_format_query() {
    let cases = [
        ("sum(foo) by (job)", "sum by (job) (foo)"),
        ("SUM by(job)(foo)", "sum by (job) (foo)"),
        ("sum without(a,b) (foo)", "sum without (a, b) (foo)"),
        ("sum by () (foo)", "sum(foo)"),
        ("foo{b=\"2\",a=\"1\"}", "foo{a=\"1\",b=\"2\"}"),
        ("{__name__=\"foo\"}", "{__name__=\"foo\"}"),
        ("{\"foo.bar\"}", "{__name__=\"foo.bar\"}"),
        ("foo{\"a.b\"='c'}", "foo{\"a.b\"=\"c\"}"),
        ("sum by (\"a.b\", c) (x)", "sum by (\"a.b\", c) (x)"),
        ("foo[90s]", "foo[1m30s]"),
        ("foo[90]", "foo[1m30s]"),
        ("foo[1h:]", "foo[1h:]"),
        ("foo offset 7d", "foo offset 1w"),
        ("foo offset -1h30m", "foo offset -1h30m"),
        ("foo offset 0s", "foo"),
        ("foo @ 1", "foo @ 1.000"),
        ("foo @ start()", "foo @ start()"),
        ("foo[5m] @ end() offset 1m", "foo[5m] @ end() offset 1m"),
        ("foo offset 1m @ 5", "foo @ 5.000 offset 1m"),
        ("rate(foo[5m] anchored)", "rate(foo[5m] anchored)"),
        ("a>bool on(x)group_left(y)b", "a > bool on (x) group_left (y) b"),
        ("a + ignoring(x) group_right b", "a + ignoring (x) group_right () b"),
        ("a + on() b", "a + on () b"),
        ("a + fill(0) b", "a + fill (0) b"),
        ("a + fill_right(1e6) fill_left(-1) b", "a + fill_left (-1) fill_right (1e+06) b"),
        ("x[5m+1m]", "x[5m + 1m]"),
        ("x[(5m)]", "x[(5m)]"),
        ("x[((1h))]", "x[(1h)]"),
        ("x[-5m+35m]", "x[-5m + 35m]"),
        ("x[1h:step()*2]", "x[1h:step() * 2]"),
        ("0x10 + 010 + 1_0 + 1e2 + .5", "16 + 8 + 10 + 100 + 0.5"),
        ("Inf + -inf + nAn", "+Inf + -Inf + NaN"),
        ("5m", "5m"),
        ("-5m", "-5m"),
        ("'it\\'s' ", "\"it's\""),
        ("`a\\b`", "\"a\\\\b\""),
        ("\"\\u00e9\\x41\"", "\"éA\""),
        ("foo # trailing comment", "foo"),
        ("topk(3, foo)", "topk(3, foo)"),
        ("count_values(\"v\", foo)", "count_values(\"v\", foo)"),
        ("label_join(foo, \"a\", \",\", \"b\")", "label_join(foo, \"a\", \",\", \"b\")"),
    ];
    for (input, want) in cases {
        assert_eq!(ok(input).to_string(), want, "format of {input:?}");
    }
}

#[test]
fn selectors_carry_matchers_offsets_and_at() {
    let Expr::VectorSelector(vs) = ok("foo{a=~\"x.*\", b!=\"\"} offset -5m @ 1.5") else {
        panic!("selector expected")
    };
    assert_eq!(vs.name.as_deref(), Some("foo"));
    let m: Vec<String> = vs.matchers.iter().map(|m| m.to_string()).collect();
    assert_eq!(m, ["a=~\"x.*\"", "b!=\"\"", "__name__=\"foo\""]);
    assert_eq!(vs.offset, Some(DurationArg::Millis(-300_000)));
    assert_eq!(vs.offset_ms(), Some(-300_000));
    assert_eq!(vs.at, Some(AtModifier::Timestamp(1500)));
    assert!(vs.matchers[0].matches("xyz") && !vs.matchers[0].matches("yx"));

    let Expr::MatrixSelector(m) = ok("{\"my.metric\"}[5m] smoothed") else {
        panic!("matrix expected")
    };
    assert_eq!(m.vector_selector.name, None);
    assert_eq!(m.vector_selector.matchers[0].to_string(), "__name__=\"my.metric\"");
    assert_eq!(m.range, DurationArg::Millis(300_000));
    assert!(m.vector_selector.smoothed && !m.vector_selector.anchored);

    let Expr::Subquery(s) = ok("rate(x[5m])[1h:step()] offset step() @ end()") else {
        panic!("subquery expected")
    };
    let ctx = DurationContext { step_ms: 15_000, range_ms: 0 };
    assert_eq!(s.range, DurationArg::Millis(3_600_000));
    assert_eq!(s.step.as_ref().map(|d| d.resolve(&ctx, false)), Some(Ok(15_000)));
    assert_eq!(s.offset.as_ref().map(|d| d.resolve(&ctx, true)), Some(Ok(15_000)));
    assert_eq!(s.at, Some(AtModifier::End));
}

#[test]
fn duration_expressions_resolve_with_the_query_step_and_range() {
    let ctx = DurationContext { step_ms: 5_000, range_ms: 10_000 };
    let cases = [
        ("x[26m+4m]", 1_800_000),
        ("x[60*30]", 1_800_000),
        ("x[2m*(10+5)]", 1_800_000),
        ("x[24m+((1.5*2m)+2m)]", 1_740_000),
        ("x[1h30m % 1h]", 1_800_000),
        ("x[30m1s-30m1s % 1m]", 1_800_000),
        ("x[step()+1]", 6_000),
        ("x[max_of(min_of(step()+1,1h),1ms)]", 6_000),
        ("x[range()]", 10_000),
        ("x[1+(STep()-5)*2]", 1_000),
    ];
    for (input, want) in cases {
        let Expr::MatrixSelector(m) = ok(input) else { panic!("{input}: matrix expected") };
        assert_eq!(m.range.resolve(&ctx, false), Ok(want), "{input}");
    }
    let Expr::MatrixSelector(m) = ok("x[step()-5s]") else { panic!("matrix expected") };
    let err = m.range.resolve(&ctx, false).expect_err("zero range");
    assert_eq!(err.to_string(), "2:11: duration must be greater than 0");
}

#[test]
fn value_types_follow_prometheus() {
    let cases = [
        ("1", ValueType::Scalar),
        ("\"s\"", ValueType::String),
        ("foo", ValueType::Vector),
        ("foo[5m]", ValueType::Matrix),
        ("foo[5m:1m]", ValueType::Matrix),
        ("1 + 2", ValueType::Scalar),
        ("1 + foo", ValueType::Vector),
        ("-(1)", ValueType::Scalar),
        ("scalar(foo)", ValueType::Scalar),
        ("time()", ValueType::Scalar),
        ("sum(foo)", ValueType::Vector),
        ("(foo[5m])", ValueType::Matrix),
    ];
    for (input, want) in cases {
        assert_eq!(ok(input).value_type(), want, "{input}");
    }
}

#[test]
fn vector_matching_is_normalised_like_prometheus() {
    let Expr::Binary(b) = ok("a and b") else { panic!("binary expected") };
    assert_eq!(b.matching.map(|m| m.card), Some(VectorMatchCardinality::ManyToMany));
    let Expr::Binary(b) = ok("a + 1") else { panic!("binary expected") };
    assert_eq!(b.matching, None);
    let Expr::Binary(b) = ok("a * on(x) group_left(y, z) b") else { panic!("binary expected") };
    let m = b.matching.expect("both sides are vectors");
    assert_eq!(m.card, VectorMatchCardinality::ManyToOne);
    assert!(m.on);
    assert_eq!(m.matching_labels, ["x"]);
    assert_eq!(m.include, ["y", "z"]);
    let Expr::Binary(b) = ok("a - fill_left(NaN) b") else { panic!("binary expected") };
    let fill = b.matching.expect("both sides are vectors").fill;
    assert!(fill.lhs.is_some_and(f64::is_nan) && fill.rhs.is_none());
}

#[test]
fn spans_point_at_the_source() {
    let input = "sum(rate(foo[5m])) + bar offset 1m";
    let Expr::Binary(b) = ok(input) else { panic!("binary expected") };
    assert_eq!(b.lhs.span(), Span::new(0, 18));
    assert_eq!(b.rhs.span(), Span::new(21, input.len()));
    let Expr::Aggregate(a) = &*b.lhs else { panic!("aggregate expected") };
    assert_eq!(a.expr.span(), Span::new(4, 17));
    assert_eq!(a.expr.span().line_col(input), (1, 5));
}

#[test]
fn string_literals_keep_invalid_utf8_bytes() {
    let Expr::StringLiteral(s) = ok("\"a\\xc5z\"") else { panic!("string expected") };
    assert_eq!(s.invalid_utf8.as_deref(), Some(&b"a\xc5z"[..]));
    assert_eq!(Expr::StringLiteral(s).to_string(), "\"a\\xc5z\"");
}

#[test]
fn errors_have_prometheus_messages_and_positions() {
    let cases = [
        ("", "unknown position: parse error: no expression found in input"),
        ("# just a comment", "1:1: parse error: no expression found in input"),
        ("1+", "1:3: parse error: unexpected end of input"),
        ("(1))", "1:5: parse error: unexpected right parenthesis ')'"),
        ("((1)", "1:5: parse error: unclosed left parenthesis"),
        ("foo bar", "1:5: parse error: unexpected identifier \"bar\""),
        ("1 == 1", "1:3: parse error: comparisons between scalars must use BOOL modifier"),
        ("1 + bool 1", "1:3: parse error: bool modifier can only be used on comparison operators"),
        (
            "1 and 1",
            "1:1: parse error: set operator \"and\" not allowed in binary scalar expression",
        ),
        (
            "foo and on(x) group_left bar",
            "1:1: parse error: no grouping allowed for \"and\" operation",
        ),
        (
            "foo + on(x) group_left(x) bar",
            "1:5: parse error: label \"x\" must not occur in ON and GROUP clause at once",
        ),
        ("1 + on(x) 2", "1:1: parse error: vector matching only allowed between instant vectors"),
        (
            "\"a\" + 1",
            "1:1: parse error: binary expression must contain only scalar and instant vector types",
        ),
        (
            "foo[5m] + 1",
            "1:1: parse error: binary expression must contain only scalar and instant vector types",
        ),
        (
            "-\"a\"",
            "1:1: parse error: unary expression only allowed on expressions of type scalar or instant vector, got \"string\"",
        ),
        ("{}", "1:1: parse error: vector selector must contain at least one non-empty matcher"),
        (
            "{x=~\".*\"}",
            "1:1: parse error: vector selector must contain at least one non-empty matcher",
        ),
        (
            "foo{__name__=\"bar\"}",
            "1:1: parse error: metric name must not be set twice: \"foo\" or \"bar\"",
        ),
        (
            "foo{a}",
            "1:6: parse error: unexpected \"}\" in label matching, expected label matching operator",
        ),
        ("foo{a=}", "1:7: parse error: unexpected \"}\" in label matching, expected string"),
        (
            "foo{a=\"b\" c=\"d\"}",
            "1:11: parse error: unexpected identifier \"c\" in label matching, expected \",\" or \"}\"",
        ),
        (
            "foo{,}",
            "1:5: parse error: unexpected \",\" in label matching, expected identifier or \"}\"",
        ),
        ("foo{a=\"b\"", "1:10: parse error: unexpected end of input inside braces"),
        ("foo{1=\"b\"}", "1:5: parse error: unexpected character inside braces: '1'"),
        ("foo[5m", "1:7: parse error: unclosed left bracket"),
        (
            "foo[]",
            "1:5: parse error: unexpected \"]\" in subquery or range selector, expected number, duration, step(), or range()",
        ),
        (
            "foo[5m 1m]",
            "1:8: parse error: unexpected duration \"1m\" in subquery or range, expected \":\" or \"]\"",
        ),
        (
            "foo[5m:1m 1m]",
            "1:11: parse error: unexpected duration \"1m\" in subquery selector, expected \"]\"",
        ),
        ("foo[:5m]", "1:6: parse error: unexpected colon before duration in duration expression"),
        ("foo[x]", "1:5: parse error: unexpected character in duration expression: 'x'"),
        ("foo[0s]", "1:5: parse error: duration must be greater than 0"),
        ("foo[5m:0]", "1:8: parse error: duration must be greater than 0"),
        ("foo[5m/0]", "1:7: parse error: division by zero"),
        ("foo[5m%0]", "1:7: parse error: modulo by zero"),
        ("foo[5m][5m]", "1:8: parse error: ranges only allowed for vector selectors"),
        ("(foo)[5m]", "1:6: parse error: ranges only allowed for vector selectors"),
        ("foo offset 5m[5m]", "1:14: parse error: no offset modifiers allowed before range"),
        ("foo @ 5 [5m]", "1:9: parse error: no @ modifiers allowed before range"),
        (
            "foo offset",
            "1:11: parse error: unexpected end of input in offset, expected number, duration, step(), or range()",
        ),
        ("foo offset 1m offset 2m", "1:1: parse error: offset may not be set multiple times"),
        (
            "1 offset 1m",
            "1:1: parse error: offset modifier must be preceded by an instant vector selector or range vector selector or a subquery",
        ),
        ("foo @ bar", "1:7: parse error: unexpected identifier \"bar\" in @, expected timestamp"),
        ("foo @ 1 @ 2", "1:1: parse error: @ <timestamp> may not be set multiple times"),
        ("foo @ Inf", "1:1: parse error: timestamp out of bounds for @ modifier: +Inf"),
        (
            "sum(1) @ 5",
            "1:1: parse error: @ modifier must be preceded by an instant vector selector or range vector selector or a subquery",
        ),
        (
            "foo[1m:] anchored",
            "1:1: parse error: anchored modifier is not supported for subqueries",
        ),
        (
            "foo[1m] smoothed anchored",
            "1:1: parse error: anchored and smoothed modifiers cannot be used together",
        ),
        ("sum()", "1:1: parse error: no arguments for aggregate expression provided"),
        (
            "topk(foo)",
            "1:1: parse error: wrong number of arguments for aggregate expression provided, expected 2, got 1",
        ),
        (
            "sum(a, b)",
            "1:1: parse error: wrong number of arguments for aggregate expression provided, expected 1, got 2",
        ),
        (
            "topk(\"x\", foo)",
            "1:6: parse error: expected type scalar in aggregation parameter, got string",
        ),
        (
            "count_values(5, foo)",
            "1:14: parse error: expected type string in aggregation parameter, got scalar",
        ),
        (
            "sum(1)",
            "1:5: parse error: expected type instant vector in aggregation expression, got scalar",
        ),
        (
            "sum by foo (x)",
            "1:8: parse error: unexpected identifier \"foo\" in grouping opts, expected \"(\"",
        ),
        (
            "sum by (a b) (x)",
            "1:11: parse error: unexpected identifier \"b\" in grouping opts, expected \",\" or \")\"",
        ),
        (
            "sum by (1) (x)",
            "1:9: parse error: unexpected number \"1\" in grouping opts, expected label",
        ),
        ("sum by (a) x", "1:12: parse error: unexpected identifier \"x\" in aggregation"),
        ("sum(x y)", "1:7: parse error: unexpected identifier \"y\" in aggregation"),
        ("rate(x y)", "1:8: parse error: unexpected identifier \"y\""),
        ("rate(x[5m],)", "1:11: parse error: trailing commas not allowed in function call args"),
        ("nope(x)", "1:1: parse error: unknown function with name \"nope\""),
        (
            "rate(x)",
            "1:6: parse error: expected type range vector in call to function \"rate\", got instant vector",
        ),
        ("rate(x[5m], 1)", "1:1: parse error: expected 1 argument(s) in call to \"rate\", got 2"),
        (
            "label_join(x)",
            "1:1: parse error: expected at least 3 argument(s) in call to \"label_join\", got 1",
        ),
        (
            "round(x, 1, 2)",
            "1:1: parse error: expected at most 2 argument(s) in call to \"round\", got 3",
        ),
        (
            "info(x, y{a=\"b\"})",
            "1:9: parse error: expected label selectors only, got vector selector instead",
        ),
        (
            "1[5m:]",
            "1:1: parse error: subquery is only allowed on instant vector, got scalar instead",
        ),
        ("foo !~ bar", "1:5: parse error: unexpected character after '!': '~'"),
        ("foo =~ bar", "1:5: parse error: unexpected character after '=': '~'"),
        ("\"abc", "1:1: parse error: unterminated quoted string"),
        ("`abc", "1:1: parse error: unterminated raw string"),
        ("\"\\q\"", "1:1: parse error: unknown escape sequence U+0071 'q'"),
        ("1e", "1:1: parse error: bad number or duration syntax: \"1e\""),
        ("5mm", "1:1: parse error: bad number or duration syntax: \"5mm\""),
        ("1m1h", "1:1: parse error: not a valid duration string: \"1m1h\""),
        ("foo$", "1:4: parse error: unexpected character: '$'"),
        ("on", "1:1: parse error: unexpected <on>"),
        (
            "a + fill(0) 1",
            "1:1: parse error: filling in missing series only allowed between instant vectors",
        ),
        (
            "a or fill(0) b",
            "1:1: parse error: filling in missing series not allowed for set operators",
        ),
        (
            "foo\n+ \"x\"",
            "2:3: parse error: binary expression must contain only scalar and instant vector types",
        ),
    ];
    let mut failures = Vec::new();
    for (input, want) in cases {
        match parse(input) {
            Ok(e) => failures.push(format!("{input:?} parsed as {e}, want error {want:?}")),
            Err(e) if e.to_string() == want => {}
            Err(e) => failures.push(format!("{input:?}\n   want {want}\n   got  {e}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn json_tree_for_parse_query() {
    let json = to_json(&ok("sum by (job) (rate(foo[5m]))"));
    assert!(json.starts_with(r#"{"expr":{"args":[{"anchored":false,"matchers":[{"name":"__name__","type":"=","value":"foo"}],"name":"foo","offset":0,"#), "{json}");
    assert!(
        json.ends_with(
            r#""grouping":["job"],"op":"sum","param":null,"type":"aggregation","without":false}"#
        ),
        "{json}"
    );
}

#[test]
fn pretty_splits_long_expressions_like_format_query() {
    use promethium_promql::parser::printer::pretty_with_width;
    let e = ok(
        "sum by (job) (rate(http_requests_total{job=\"api\"}[5m])) / on(job) group_left sum(up)",
    );
    assert_eq!(
        pretty_with_width(&e, 30),
        "  sum by (job) (\n    rate(\n      http_requests_total{job=\"api\"}[5m]\n    )\n  )\n/ on (job) group_left ()\n  sum(up)"
    );
    let short = ok("sum(rate(x[5m]))");
    assert_eq!(promethium_promql::parser::pretty(&short), "sum(rate(x[5m]))");
    let neg = ok("-foo_bar_baz");
    assert_eq!(pretty_with_width(&neg, 5), "-foo_bar_baz");
}

#[test]
fn metric_selectors_for_the_http_api() {
    use promethium_promql::parser::parse_metric_selector;
    let m: Vec<String> = parse_metric_selector("up{job=~\"a.*\"}")
        .expect("valid")
        .iter()
        .map(|m| m.to_string())
        .collect();
    assert_eq!(m, ["job=~\"a.*\"", "__name__=\"up\""]);
    assert_eq!(
        parse_metric_selector("{a=\"\"}").expect("empty matchers are the API's business").len(),
        1
    );
    assert_eq!(
        parse_metric_selector("{\"my.metric\"}").expect("quoted name")[0].value,
        "my.metric"
    );
    let err = parse_metric_selector("up + 1").expect_err("not a selector");
    assert_eq!(err.to_string(), "1:4: parse error: unexpected <op:+>");
    assert!(parse_metric_selector("rate(x[5m])").is_err());
}

/// Runs `f` on a thread with a 2 MiB stack, the default for spawned threads
/// (and tokio workers), so stack exhaustion shows up here.
fn on_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(f)
        .expect("spawn")
        .join()
        .expect("no stack overflow")
}

#[test]
fn long_chains_work_and_hostile_nesting_is_rejected() {
    on_small_stack(|| {
        let chain = format!("a{}", " or b".repeat(900));
        let e = parse(&chain).expect("900 terms are fine");
        assert_eq!(e.to_string(), chain);
        assert!(promethium_promql::parser::pretty(&e).lines().count() > 900);
        assert!(to_json(&e).starts_with(r#"{"bool":false,"lhs":{"bool":false"#));
        let durations = format!("x[1m{}]", " + 1s".repeat(900));
        assert_eq!(parse(&durations).expect("900 terms are fine").to_string(), durations);

        let too_long = format!("a{}", " + b".repeat(5000));
        let err = parse(&too_long).expect_err("too deep");
        assert_eq!(err.message, "expression nesting too deep (more than 1000 levels)");
        let parens = format!("{}1{}", "(".repeat(10_000), ")".repeat(10_000));
        assert_eq!(
            parse(&parens).expect_err("too deep").message,
            "expression nesting too deep (more than 128 levels)"
        );
        let signs = format!("{}1", "-".repeat(100_000));
        assert!(parse(&signs).is_err());
        let subqueries = format!("x{}", "[1m:]".repeat(900));
        assert_eq!(
            parse(&subqueries).expect_err("type error").to_string(),
            "1:1: parse error: subquery is only allowed on instant vector, got matrix instead"
        );
    });
}
