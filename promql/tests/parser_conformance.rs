//! Parses every `eval` expression of the Prometheus conformance scripts.
//!
//! Prometheus' test loader parses each expression when it reads a script,
//! even when the eval expects the query to fail at run time, so every one
//! of them must parse here too. Each parsed tree must also survive a
//! print/parse round trip unchanged, and mutated copies of the expressions
//! must never make the parser panic.
//!
//! The scripts are found in `$PROMETHIUM_CONFORMANCE_DIR/promql`, by default
//! `<workspace>/../shared/conformance/promql`. A missing directory fails the
//! test.

use std::path::PathBuf;

use promethium_promql::parser::printer::format_matcher;
use promethium_promql::parser::{Expr, VectorSelector, ast::clear_spans, parse};

/// The tree without positions and with matchers in printed order (the
/// printer sorts them, as Prometheus' does).
fn canonical(expr: &Expr) -> Expr {
    fn sort(vs: &mut VectorSelector) {
        vs.matchers.sort_by_key(format_matcher);
    }
    fn go(e: &mut Expr) {
        match e {
            Expr::VectorSelector(vs) => sort(vs),
            Expr::MatrixSelector(m) => sort(&mut m.vector_selector),
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

fn conformance_dir() -> PathBuf {
    let base = match std::env::var_os("PROMETHIUM_CONFORMANCE_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/conformance"),
    };
    let dir = base.join("promql");
    assert!(
        dir.is_dir(),
        "conformance scripts not found at {} (set PROMETHIUM_CONFORMANCE_DIR)",
        dir.display()
    );
    dir
}

/// One `eval` line: file, line number and expression.
struct EvalExpr {
    file: String,
    line: usize,
    expr: String,
}

/// The expression of an `eval` header line, if `line` is one.
fn eval_expression(line: &str) -> Option<&str> {
    let line = line.trim();
    let (cmd, rest) = line.split_once(char::is_whitespace)?;
    if !cmd.starts_with("eval") {
        return None;
    }
    let rest = rest.trim_start();
    if let Some(r) = rest.strip_prefix("instant") {
        // instant at <time> <expr>
        let r = r.trim_start().strip_prefix("at")?.trim_start();
        let (_, expr) = r.split_once(char::is_whitespace)?;
        return Some(expr.trim());
    }
    if let Some(r) = rest.strip_prefix("range") {
        // range from <a> to <b> step <s> <expr>
        let mut words = r.split_whitespace();
        for keyword in ["from", "", "to", "", "step", ""] {
            let w = words.next()?;
            if !keyword.is_empty() && w != keyword {
                return None;
            }
        }
        let step_pos = r.find(" step ")? + " step ".len();
        let after_step = r[step_pos..].trim_start();
        let (_, expr) = after_step.split_once(char::is_whitespace)?;
        return Some(expr.trim());
    }
    None
}

fn corpus() -> Vec<EvalExpr> {
    let dir = conformance_dir();
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("conformance directory is readable")
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "test"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no .test files in {}", dir.display());
    let mut out = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(&path).expect("script is readable UTF-8");
        let file = path.file_name().expect("file name").to_string_lossy().into_owned();
        for (i, line) in text.lines().enumerate() {
            if let Some(expr) = eval_expression(line) {
                out.push(EvalExpr { file: file.clone(), line: i + 1, expr: expr.to_string() });
            }
        }
    }
    out
}

#[test]
fn every_eval_expression_parses_and_round_trips() {
    let corpus = corpus();
    assert!(corpus.len() > 2000, "expected the full corpus, found {} expressions", corpus.len());
    let mut parse_failures = Vec::new();
    let mut round_trip_failures = Vec::new();
    for e in &corpus {
        let ast = match parse(&e.expr) {
            Ok(ast) => ast,
            Err(err) => {
                parse_failures.push(format!("{}:{}: {}\n    {err}", e.file, e.line, e.expr));
                continue;
            }
        };
        let printed = ast.to_string();
        match parse(&printed) {
            Ok(again) => {
                if canonical(&ast) != canonical(&again) || again.to_string() != printed {
                    round_trip_failures.push(format!(
                        "{}:{}: {}\n    printed as {printed}",
                        e.file, e.line, e.expr
                    ));
                }
            }
            Err(err) => round_trip_failures.push(format!(
                "{}:{}: {}\n    printed as {printed}\n    which fails: {err}",
                e.file, e.line, e.expr
            )),
        }
    }
    println!(
        "{} expressions: {} parse failures, {} round-trip failures",
        corpus.len(),
        parse_failures.len(),
        round_trip_failures.len()
    );
    for f in parse_failures.iter().chain(&round_trip_failures) {
        println!("{f}");
    }
    assert!(parse_failures.is_empty(), "{} expressions failed to parse", parse_failures.len());
    assert!(
        round_trip_failures.is_empty(),
        "{} expressions failed the round trip",
        round_trip_failures.len()
    );
}

/// A small deterministic generator, so failures reproduce.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Deletes, duplicates, swaps or inserts characters of corpus expressions
/// and checks that the parser returns (a tree or an error) without
/// panicking, and that whatever it accepts prints to something it accepts.
#[test]
fn mutated_corpus_expressions_never_panic() {
    const INSERTS: &[&str] = &[
        "(",
        ")",
        "[",
        "]",
        "{",
        "}",
        ",",
        ":",
        "@",
        "-",
        "+",
        "*",
        "/",
        "^",
        "%",
        "\"",
        "'",
        "`",
        "\\",
        " ",
        "=~",
        "!=",
        "offset ",
        "by ",
        "on(",
        "bool ",
        "group_left",
        "5m",
        "1e",
        "0x",
        "step()",
        "#",
        "\n",
        "é",
    ];
    let corpus = corpus();
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    let mut accepted = 0;
    for round in 0..6 {
        for e in &corpus {
            let mut chars: Vec<char> = e.expr.chars().collect();
            for _ in 0..=round % 3 {
                if chars.is_empty() {
                    break;
                }
                let i = rng.below(chars.len());
                match rng.below(4) {
                    0 => {
                        chars.remove(i);
                    }
                    1 => chars.insert(i, chars[i]),
                    2 => {
                        let j = rng.below(chars.len());
                        chars.swap(i, j);
                    }
                    _ => {
                        let s = INSERTS[rng.below(INSERTS.len())];
                        for (k, c) in s.chars().enumerate() {
                            chars.insert(i + k, c);
                        }
                    }
                }
            }
            let mutated: String = chars.into_iter().collect();
            let result = std::panic::catch_unwind(|| parse(&mutated));
            let Ok(result) = result else {
                panic!("parser panicked on {mutated:?} (from {}:{})", e.file, e.line);
            };
            if let Ok(ast) = result {
                accepted += 1;
                let printed = ast.to_string();
                if let Err(err) = parse(&printed) {
                    panic!("{mutated:?} parsed, but its printed form {printed:?} does not: {err}");
                }
            }
        }
    }
    println!("mutations accepted by the parser: {accepted}");
}
