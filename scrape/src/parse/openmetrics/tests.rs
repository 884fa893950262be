use promethium_engine::model::{Labels, MetricType};

use super::*;
use crate::parse::lex::GO_NAN_BITS;

fn parse(body: &[u8]) -> Result<Vec<Entry<'_>>, ParseError> {
    let mut p = OpenMetricsParser::new(body);
    let mut out = Vec::new();
    while let Some(e) = p.next_entry()? {
        out.push(e);
    }
    Ok(out)
}

fn samples(body: &[u8]) -> Vec<Sample<'_>> {
    parse(body)
        .unwrap()
        .into_iter()
        .filter_map(|e| match e {
            Entry::Sample(s) => Some(s),
            _ => None,
        })
        .collect()
}

fn l(pairs: &[(&str, &str)]) -> Labels {
    Labels::new(pairs.iter().copied())
}

#[test]
fn parses_families_units_and_eof() {
    let body = b"# TYPE foo_seconds counter\n# UNIT foo_seconds seconds\n# HELP foo_seconds Help \\\"q\\\" \\n.\nfoo_seconds_total{a=\"b\"} 1 1.5\nfoo_seconds_created{a=\"b\"} 1000\n# EOF\n";
    let e = parse(body).unwrap();
    assert_eq!(e.len(), 5);
    assert!(matches!(e[0], Entry::Type { metric_type: MetricType::Counter, .. }));
    let Entry::Unit { unit, .. } = &e[1] else { panic!() };
    assert_eq!(unit.raw(), b"seconds");
    let Entry::Help { help, .. } = &e[2] else { panic!() };
    assert_eq!(help.decode().unwrap(), "Help \"q\" \n.");
    let Entry::Sample(s) = &e[3] else { panic!() };
    assert_eq!(s.series(), b"foo_seconds_total{a=\"b\"}");
    assert_eq!(s.timestamp_ms(), Some(1500));
    assert_eq!(s.family().metric_type, MetricType::Counter);
    assert_eq!(s.family().unit.unwrap().raw(), b"seconds");
    assert_eq!(s.to_labels().unwrap(), l(&[("__name__", "foo_seconds_total"), ("a", "b")]));
    let Entry::Sample(s) = &e[4] else { panic!() };
    assert_eq!(s.family().metric_type, MetricType::Counter);
}

#[test]
fn eof_rules() {
    assert!(parse(b"a 1\n# EOF").is_ok());
    assert!(parse(b"a 1\n").is_err());
    assert!(parse(b"a 1\n# EOF\n\n").is_err());
    assert!(parse(b"a 1\n# EOF\na 2\n").is_err());
    assert!(parse(b"# EOF\n").unwrap().is_empty());
    assert!(parse(b"").is_err());
}

#[test]
fn exemplars_are_kept() {
    let body = b"# TYPE h histogram\nh_bucket{le=\"1\"} 2 # {trace_id=\"abc\",x=\"y\"} 0.5 123.456\nh_bucket{le=\"+Inf\"} 3 10 # {} 1\nh_count 3\n# EOF\n";
    let s = samples(body);
    let ex = s[0].exemplar().unwrap();
    assert_eq!(ex.value, 0.5);
    assert_eq!(ex.timestamp_ms, Some(123_456));
    let ex = ex.to_exemplar().unwrap();
    assert_eq!(ex.labels, l(&[("trace_id", "abc"), ("x", "y")]));
    assert_eq!(s[0].to_labels().unwrap().get("le"), Some("1.0"));
    assert_eq!(s[1].timestamp_ms(), Some(10_000));
    let ex = s[1].exemplar().unwrap();
    assert_eq!((ex.value, ex.timestamp_ms), (1.0, None));
    assert!(s[2].exemplar().is_none());
}

#[test]
fn values_timestamps_and_utf8_names() {
    let s = samples(b"a NaN\nb +Inf -1.5\n{\"my.metric\",\"l.n\"=\"v\"} 1\n# EOF\n");
    assert_eq!(s[0].value().to_bits(), GO_NAN_BITS);
    assert_eq!(s[1].timestamp_ms(), Some(-1500));
    assert_eq!(s[2].to_labels().unwrap(), l(&[("__name__", "my.metric"), ("l.n", "v")]));
}

#[test]
fn rejects_what_prometheus_rejects() {
    let cases: &[&[u8]] = &[
        b"a  1\n# EOF\n",
        b"a 1 \n# EOF\n",
        b"a{b=\"c\" } 1\n# EOF\n",
        b"a{b=\"c\"d=\"e\"} 1\n# EOF\n",
        b"a{b=\"c\nd\"} 1\n# EOF\n",
        b"# random comment\n# EOF\n",
        b"#EOF\n",
        b"# HELP a\n# EOF\n",
        b"# TYPE a bogus\n# EOF\n",
        b"# UNIT a_seconds bytes\n# EOF\n",
        b"# UNIT seconds seconds\n# EOF\n",
        b"a 1 NaN\n# EOF\n",
        b"a 1 +Inf\n# EOF\n",
        b"a 1 # {\"x\"} 1\n# EOF\n",
        b"a 1 # {x=\"y\"}\n# EOF\n",
        b"a 1 # {x=\"y\"} 1 2 3\n# EOF\n",
        b"a 0x1p3\n# EOF\n",
        b"\n# EOF\n",
        b"a 1\n",
    ];
    for c in cases {
        assert!(parse(c).is_err(), "accepted {:?}", String::from_utf8_lossy(c));
    }
}

#[test]
fn metadata_with_empty_text() {
    let e = parse(b"# HELP a \n# UNIT a \n# EOF\n").unwrap();
    let Entry::Help { help, .. } = &e[0] else { panic!() };
    assert_eq!(help.raw(), b"");
}
