use promethium_engine::model::{Labels, MetricType};

use super::*;
use crate::parse::lex::GO_NAN_BITS;

/// Parses `body` fully, returning the entries or the first error.
fn parse(body: &[u8]) -> Result<Vec<Entry<'_>>, ParseError> {
    parse_with(body, Validation::Prometheus)
}

fn parse_with(body: &[u8], validation: Validation) -> Result<Vec<Entry<'_>>, ParseError> {
    let mut p = TextParser::with_validation(body, validation);
    let mut out = Vec::new();
    while let Some(e) = p.next_entry()? {
        out.push(e);
    }
    Ok(out)
}

fn samples(body: &[u8]) -> Vec<(Labels, f64, Option<i64>)> {
    parse(body)
        .unwrap()
        .into_iter()
        .filter_map(|e| match e {
            Entry::Sample(s) => Some((s.to_labels().unwrap(), s.value(), s.timestamp_ms())),
            _ => None,
        })
        .collect()
}

fn l(pairs: &[(&str, &str)]) -> Labels {
    Labels::new(pairs.iter().copied())
}

#[test]
fn parses_metadata_samples_and_comments() {
    let body = b"# HELP go_gc Some help.\n# \tTYPE go_gc summary\ngo_gc{quantile=\"0.5\"} 4.9e-05\ngo_gc_sum 2 1000\n# a comment\nup 1\n";
    let entries = parse(body).unwrap();
    assert_eq!(entries.len(), 6);
    match &entries[0] {
        Entry::Help { name, help } => {
            assert_eq!(name.raw(), b"go_gc");
            assert_eq!(help.decode().unwrap(), "Some help.");
        }
        e => panic!("{e:?}"),
    }
    assert!(matches!(&entries[1], Entry::Type { metric_type: MetricType::Summary, .. }));
    let Entry::Sample(s) = &entries[2] else { panic!() };
    assert_eq!(s.series(), b"go_gc{quantile=\"0.5\"}");
    assert_eq!(s.family().metric_type, MetricType::Summary);
    assert_eq!(s.family().help.unwrap().decode().unwrap(), "Some help.");
    assert_eq!(s.to_labels().unwrap(), l(&[("__name__", "go_gc"), ("quantile", "0.5")]));
    let Entry::Sample(s) = &entries[3] else { panic!() };
    assert_eq!(s.timestamp_ms(), Some(1000));
    assert_eq!(s.family().metric_type, MetricType::Summary);
    assert_eq!(entries[4], Entry::Comment(b"# a comment"));
    let Entry::Sample(s) = &entries[5] else { panic!() };
    assert_eq!(s.family(), FamilyInfo::default());
    assert_eq!(s.line(), 6);
}

#[test]
fn whitespace_and_comma_quirks_match_prometheus() {
    let got = samples(
        b"m{ a = \"1\" , } 1\nm { a= \"2\" b = \"x\" } 2\n  m\t3\t 7\nm{a=\"3\"}4\n{\"my.metric\", \"label.name\"=\"v\"} 5\nlast 6",
    );
    assert_eq!(got[0], (l(&[("__name__", "m"), ("a", "1")]), 1.0, None));
    assert_eq!(got[1], (l(&[("__name__", "m"), ("a", "2"), ("b", "x")]), 2.0, None));
    assert_eq!(got[2], (l(&[("__name__", "m")]), 3.0, Some(7)));
    assert_eq!(got[3], (l(&[("__name__", "m"), ("a", "3")]), 4.0, None));
    assert_eq!(got[4], (l(&[("__name__", "my.metric"), ("label.name", "v")]), 5.0, None));
    assert_eq!(got[5], (l(&[("__name__", "last")]), 6.0, None));
}

#[test]
fn help_text_rules() {
    let entries = parse(b"# HELP a\n# HELP b \n# HELP c  two\n# HELP d x\\\\y\\nz\\t\n").unwrap();
    let helps: Vec<String> = entries
        .iter()
        .map(|e| match e {
            Entry::Help { help, .. } => help.decode().unwrap().into_owned(),
            e => panic!("{e:?}"),
        })
        .collect();
    assert_eq!(helps, ["", "", " two", "x\\y\nz\\t"]);
    // `# HELP` with nothing after it is an ordinary comment; with a space it
    // needs a name.
    assert!(matches!(parse(b"# HELP\n").unwrap()[0], Entry::Comment(_)));
    assert!(parse(b"# HELP \n").is_err());
    assert!(parse(b"# HELP #\n").is_err());
}

#[test]
fn values_and_timestamps() {
    let got = samples(b"a NaN\nb +Inf\nc -Inf\nd 1e3\ne .5 0\n");
    assert_eq!(got[0].1.to_bits(), GO_NAN_BITS);
    assert_eq!(got[1].1, f64::INFINITY);
    assert_eq!(got[2].1, f64::NEG_INFINITY);
    assert_eq!(got[3].1, 1000.0);
    assert_eq!(got[4], (l(&[("__name__", "e")]), 0.5, Some(0)));
    for bad in [
        &b"a 1_0\n"[..],
        b"a 0x1p3\n",
        b"a true\n",
        b"a 1 -5\n",
        b"a 1 1.5\n",
        b"a 1 2 3\n",
        b"a\n",
        b"a 1 2x\n",
    ] {
        assert!(parse(bad).is_err(), "{}", String::from_utf8_lossy(bad));
    }
}

#[test]
fn label_escapes_and_newlines() {
    let got = samples(b"m{a=\"x\\\"y\\\\z\\nw\\t\",b=\"multi\nline\"} 1\nn 2\n");
    assert_eq!(got[0].0, l(&[("__name__", "m"), ("a", "x\"y\\z\nw\\t"), ("b", "multi\nline")]));
    // Line numbers account for the raw newline inside the label value.
    let entries = parse(b"m{b=\"multi\nline\"} 1\nn 2\n").unwrap();
    let Entry::Sample(s) = &entries[1] else { panic!() };
    assert_eq!(s.line(), 3);
}

#[test]
fn rejects_what_prometheus_rejects() {
    let cases: &[&[u8]] = &[
        b"a{b='c'} 1\n",
        b"a{b=\n",
        b"a{\xff=\"foo\"} 1\n",
        b"a{b=\"\xff\"} 1\n",
        b"{\"a\", \"b = \"c\"}",
        b"something_weird{problem=\"",
        b"empty_label_name{=\"\"} 0",
        b"{A}0",
        b"{a=\"ok\"} 1",
        b"# TYPE #\n",
        b"# TYPE m bogus\n",
        b"# TYPE m  counter\n",
        b"{\"a\",\"b\"} 1\n",
        b"a{b=\x00\"ssss\"} 1\n",
        b"a{b\x00=\"hiih\"}\t1",
        b"a\x00{b=\"ddd\"} 1",
        b"a 0 1\x00",
        b"@metric 1\n",
        b"m{a=\"1\"}{b=\"2\"} 1\n",
        b"# HELP m \xff\n",
    ];
    for c in cases {
        assert!(parse(c).is_err(), "accepted {:?}", String::from_utf8_lossy(c));
    }
}

#[test]
fn nul_bytes() {
    assert_eq!(samples(b"m{a=\"abc\x00\"} 1\n")[0].0, l(&[("__name__", "m"), ("a", "abc\0")]));
    let e = parse(b"# HELP metric foo\x00bar\n").unwrap();
    let Entry::Help { help, .. } = &e[0] else { panic!() };
    assert_eq!(help.decode().unwrap(), "foo\0bar");
    // A NUL where a line starts ends the body.
    assert_eq!(samples(b"a 1\n\x00garbage{\n").len(), 1);
}

#[test]
fn errors_name_the_line() {
    let err = parse(b"a 1\nb 2\nc{ 3\n").unwrap_err();
    assert_eq!(err.line(), Some(3), "{err}");
    assert!(err.to_string().starts_with("line 3: expected label name"), "{err}");
}

#[test]
fn le_is_normalised_after_a_histogram_type() {
    let got = samples(
        b"# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 1\nother{le=\"2\"} 1\n",
    );
    assert_eq!(got[0].0.get("le"), Some("1.0"));
    assert_eq!(got[1].0.get("le"), Some("+Inf"));
    // Prometheus keeps the last TYPE across families.
    assert_eq!(got[2].0.get("le"), Some("2.0"));
}

#[test]
fn strict_mode_follows_expfmt() {
    let strict = |b: &'static [u8]| parse_with(b, Validation::Strict);
    assert!(strict(b"m 1").is_err());
    assert!(strict(b"m{a=\"\\t\"} 1\n").is_err());
    assert!(strict(b"m{a=\"x\ny\"} 1\n").is_err());
    assert!(strict(b"m{__name__=\"x\"} 1\n").is_err());
    assert!(strict(b"# HELP m a\n# HELP m b\n").is_err());
    assert!(strict(b"# TYPE m gauge\n# TYPE m counter\n").is_err());
    assert!(strict(b"m 1\n# TYPE m counter\n").is_err());
    assert!(strict(b"# TYPE m summary\nm{quantile=\"x\"} 1\n").is_err());
    assert!(strict(b"# TYPE m histogram\nm_bucket{le=\"x\"} 1\n").is_err());
    assert!(strict(b"# HELP \n# HELP\n# HELP m\n# TYPE m\nd -1 -2\n").is_ok());
    // Prometheus accepts all but the last of these.
    assert!(parse(b"m{a=\"\\t\"} 1\n# HELP m a\n# HELP m b\nm 1\n# TYPE m counter\n").is_ok());
}
