//! Property tests: the parsers never panic on mutated bodies, and what a
//! correct writer renders parses back to the same series and values.

use proptest::prelude::*;

use super::*;
use crate::parse::lex::GO_NAN_BITS;

/// Valid bodies of both formats that mutations start from.
const SEEDS: &[&[u8]] = &[
    b"# HELP go_gc A summary.\n# TYPE go_gc summary\ngo_gc{quantile=\"0.5\"} 4.9e-05\ngo_gc_sum 2 1000\ngo_gc_count 7\n",
    b"# TYPE h histogram\nh_bucket{le=\"1\",a=\"x\\\"y\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 3\nh_count 2\n# a comment\n",
    b"m{ a = \"1\" , } 1\nm { a= \"2\" b = \"x\" } 2 17\n{\"my.metric\", \"label.name\"=\"v\"} NaN\nx -Inf\n",
    b"# TYPE a counter\n# UNIT a_seconds seconds\n# HELP a help \\\"x\\\"\na_total{foo=\"b\\\\a\\nr\"} 1 1.5 # {trace_id=\"abc\"} 0.5 123.4\na_created 17\n# EOF\n",
    b"# TYPE s stateset\ns{s=\"a\"} 1\ns{s=\"b\"} 0\n# TYPE i info\ni_info{v=\"1\"} 1\n{\"q.x\",\"l.y\"=\"z\"} +Inf 3\n# EOF\n",
    b"# TYPE g gaugehistogram\ng_bucket{le=\"1.0\"} 0 # {a=\"b\"} 0.5\ng_bucket{le=\"+Inf\"} 3\ng_gcount 3\ng_gsum 2\n# EOF",
];

/// Bytes that matter to the grammars, so mutations hit interesting paths.
const ALPHABET: &[u8] = b"{}\"\\=,# \t\n\x000123456789aeEfInNx+-._:\xc3\xa9";

/// Parses `body` completely with every parser and mode, decoding all labels
/// and exemplars. Only panics matter here; errors are fine.
fn exercise(body: &[u8]) {
    for validation in [Validation::Prometheus, Validation::Strict] {
        drain(&mut TextParser::with_validation(body, validation), body.len());
        drain(&mut OpenMetricsParser::with_validation(body, validation), body.len());
    }
}

fn drain(p: &mut dyn ExpositionParser<'_>, body_len: usize) {
    let mut buf = LabelBuf::new();
    let mut builder = LabelsBuilder::new();
    // Every entry consumes at least one byte, so this bound catches a parser
    // that stopped advancing.
    for _ in 0..=body_len + 1 {
        match p.next_entry() {
            Ok(Some(Entry::Sample(s))) => {
                let _ = s.labels_into_builder(&mut buf, &mut builder);
                let _ = buf.to_labels();
                if let Some(ex) = s.exemplar() {
                    let _ = ex.to_exemplar();
                }
                let _ = s.family().help.map(|h| h.decode());
            }
            Ok(Some(Entry::Help { name, help })) => {
                let _ = (name.decode(), help.decode());
            }
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => return,
        }
    }
    panic!("parser did not finish a {body_len}-byte body");
}

#[derive(Debug, Clone)]
enum Mutation {
    Insert(usize, u8),
    Delete(usize),
    Replace(usize, u8),
    Duplicate(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let byte = prop_oneof![prop::sample::select(ALPHABET), any::<u8>()];
    prop_oneof![
        (any::<usize>(), byte.clone()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        any::<usize>().prop_map(Mutation::Delete),
        (any::<usize>(), byte).prop_map(|(i, b)| Mutation::Replace(i, b)),
        (any::<usize>(), 1usize..20).prop_map(|(i, n)| Mutation::Duplicate(i, n)),
    ]
}

fn apply(seed: &[u8], mutations: &[Mutation]) -> Vec<u8> {
    let mut body = seed.to_vec();
    for m in mutations {
        let len = body.len();
        match *m {
            Mutation::Insert(i, b) => body.insert(i % (len + 1), b),
            Mutation::Delete(i) if len > 0 => {
                body.remove(i % len);
            }
            Mutation::Replace(i, b) if len > 0 => body[i % len] = b,
            Mutation::Duplicate(i, n) if len > 0 => {
                let start = i % len;
                let chunk = body[start..(start + n).min(len)].to_vec();
                body.splice(start..start, chunk);
            }
            _ => {}
        }
    }
    body
}

/// A series as a correct writer would produce it.
#[derive(Debug, Clone)]
struct Series {
    name: String,
    labels: Vec<(String, String)>,
    value: f64,
    timestamp_secs: Option<i64>,
}

fn series() -> impl Strategy<Value = Series> {
    let name = prop_oneof!["[a-zA-Z_:][a-zA-Z0-9_:]{0,12}", "[a-z][a-z0-9_.é-]{0,8}"];
    let label_name = prop_oneof!["[a-zA-Z_][a-zA-Z0-9_]{0,8}", "[a-z][a-z.é-]{0,6}"];
    let label_value = "(\\PC|[\"\\\\\n])*";
    let value = prop_oneof![
        any::<f64>(),
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        (-1_000_000i64..1_000_000).prop_map(|v| v as f64),
    ];
    (
        name,
        prop::collection::btree_map(label_name, label_value, 0..5),
        value,
        prop::option::of(0i64..4_000_000_000),
    )
        .prop_map(|(name, labels, value, timestamp_secs)| Series {
            name,
            labels: labels.into_iter().filter(|(n, _)| n != "__name__").collect(),
            value,
            timestamp_secs,
        })
}

fn is_legacy_metric_name(s: &str) -> bool {
    lex::metric_name_len(s.as_bytes()) == s.len()
}

fn is_legacy_label_name(s: &str) -> bool {
    lex::label_name_len(s.as_bytes()) == s.len()
}

fn quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn format_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf".into() } else { "-Inf".into() }
    } else {
        format!("{v:?}")
    }
}

fn render(series: &[Series], om: bool) -> String {
    let mut out = String::new();
    for s in series {
        let mut parts = Vec::new();
        let legacy = is_legacy_metric_name(&s.name);
        if !legacy {
            parts.push(quote(&s.name));
        }
        for (n, v) in &s.labels {
            let n = if is_legacy_label_name(n) { n.clone() } else { quote(n) };
            parts.push(format!("{n}={}", quote(v)));
        }
        if legacy {
            out.push_str(&s.name);
        }
        if !parts.is_empty() || !legacy {
            out.push('{');
            out.push_str(&parts.join(","));
            out.push('}');
        }
        out.push(' ');
        out.push_str(&format_value(s.value));
        if let Some(ts) = s.timestamp_secs {
            // Text timestamps are milliseconds, OpenMetrics ones seconds.
            if om {
                out.push_str(&format!(" {ts}"))
            } else {
                out.push_str(&format!(" {}", ts * 1000))
            }
        }
        out.push('\n');
    }
    if om {
        out.push_str("# EOF\n");
    }
    out
}

fn expected_labels(s: &Series) -> Labels {
    let mut pairs = vec![("__name__".to_owned(), s.name.clone())];
    pairs.extend(s.labels.iter().cloned());
    Labels::new(pairs)
}

fn check_round_trip(series: &[Series], om: bool) -> Result<(), TestCaseError> {
    let body = render(series, om);
    let mut p: Box<dyn ExpositionParser<'_>> = if om {
        Box::new(OpenMetricsParser::new(body.as_bytes()))
    } else {
        Box::new(TextParser::new(body.as_bytes()))
    };
    let mut got = Vec::new();
    while let Some(e) = p.next_entry().map_err(|e| TestCaseError::fail(format!("{e}\n{body}")))? {
        if let Entry::Sample(s) = e {
            got.push(s);
        }
    }
    prop_assert_eq!(got.len(), series.len());
    for (s, want) in got.iter().zip(series) {
        prop_assert_eq!(
            s.to_labels().map_err(|e| TestCaseError::fail(e.to_string()))?,
            expected_labels(want)
        );
        let want_bits = if want.value.is_nan() { GO_NAN_BITS } else { want.value.to_bits() };
        prop_assert_eq!(s.value().to_bits(), want_bits);
        prop_assert_eq!(s.timestamp_ms(), want.timestamp_secs.map(|t| t * 1000));
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1500, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn mutated_bodies_never_panic(
        seed in prop::sample::select(SEEDS),
        mutations in prop::collection::vec(mutation(), 1..8),
    ) {
        exercise(&apply(seed, &mutations));
    }

    #[test]
    fn random_bytes_never_panic(body in prop::collection::vec(prop_oneof![prop::sample::select(ALPHABET), any::<u8>()], 0..200)) {
        exercise(&body);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn text_round_trips(series in prop::collection::vec(series(), 1..10)) {
        check_round_trip(&series, false)?;
    }

    #[test]
    fn openmetrics_round_trips(series in prop::collection::vec(series(), 1..10)) {
        check_round_trip(&series, true)?;
    }
}
