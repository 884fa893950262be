//! Runs the shared exposition conformance cases through the parsers.
//!
//! * `openmetrics/parsers/*`: the OpenMetrics 1.0 test suite. Every case must
//!   be accepted or rejected as its `test.json` says under
//!   [`Validation::Strict`]. Under Prometheus' own checks, every valid case
//!   must parse; the invalid ones Prometheus accepts are counted and printed
//!   (Prometheus' scraper does not enforce the semantic rules either).
//! * `exposition/common-expfmt/{valid,invalid}`: the Go client library's text
//!   parser cases, matched exactly in strict mode. In Prometheus mode the
//!   outcome must equal what Prometheus' `promparse` does, listed in
//!   [`PROMETHEUS_TEXT_ACCEPTS_INVALID`] and [`PROMETHEUS_TEXT_REJECTS_VALID`]
//!   with the reason for each.
//! * `exposition/prometheus-textparse/*`: real payloads that must parse in
//!   both modes, with the family and sample counts the README states.
//! * `exposition/common-expfmt/samples/text{,.gz}`: the same body plain and
//!   gzipped must decode and parse to the same samples.
//!
//! A body "is accepted" when every entry parses and every sample's labels
//! decode into a valid label set, which is what a Prometheus scrape needs.
//!
//! The data lives outside the repository: set `PROMETHIUM_CONFORMANCE_DIR`,
//! or place it at `<workspace>/../shared/conformance`. A missing directory
//! fails the test.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use promethium_engine::model::MetricType;
use promethium_scrape::parse::{
    BodyDecoder, Entry, ExpositionParser, Format, OpenMetricsParser, ParseError, TextParser, Validation,
    parser_for,
};

/// Invalid `common-expfmt` cases that Prometheus' scrape parser accepts. The
/// Go client library's parser is stricter than the scraper on these.
const PROMETHEUS_TEXT_ACCEPTS_INVALID: &[(&str, &str)] = &[
    ("from_test_parse_error_0", "promparse appends a newline to every body"),
    ("from_test_parse_error_1", "promlex takes any backslash escape in a label value"),
    ("from_test_parse_error_12", "promparse does not check HELP uniqueness"),
    ("from_test_parse_error_13", "promparse does not check TYPE uniqueness"),
    ("from_test_parse_error_14", "promparse does not check metadata order"),
    ("from_test_parse_error_19", "promparse does not check that le is a float"),
    ("from_test_parse_error_2", "promlex allows raw newlines in label values"),
    ("from_test_parse_error_7", "promparse does not check that quantile is a float"),
];

/// Valid `common-expfmt` cases that Prometheus' scrape parser rejects.
const PROMETHEUS_TEXT_REJECTS_VALID: &[(&str, &str)] = &[(
    "from_test_parse_3",
    "promlex takes only digits as a timestamp (`decoy -1 -2`) and needs a name after `# HELP `",
)];

fn conformance_dir() -> PathBuf {
    let dir = match std::env::var_os("PROMETHIUM_CONFORMANCE_DIR") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/conformance"),
    };
    assert!(
        dir.is_dir(),
        "conformance data not found at {}: set PROMETHIUM_CONFORMANCE_DIR to the shared conformance directory",
        dir.display()
    );
    dir
}

/// Parses a whole body, decoding every sample's labels and exemplar.
fn accept(parser: &mut dyn ExpositionParser<'_>) -> Result<Stats, ParseError> {
    let mut stats = Stats::default();
    while let Some(entry) = parser.next_entry()? {
        match entry {
            Entry::Type { metric_type, .. } => {
                stats.types += 1;
                if metric_type == MetricType::Unknown {
                    stats.unknown_types += 1;
                }
            }
            Entry::Sample(s) => {
                stats.samples += 1;
                let labels = s.to_labels()?;
                if labels.metric_name().is_none() {
                    return Err(ParseError::Invalid { line: s.line(), message: "no metric name".into() });
                }
                if s.family().metric_type == MetricType::Unknown {
                    stats.untyped_samples += 1;
                }
                if let Some(ex) = s.exemplar() {
                    ex.to_exemplar()?;
                    stats.exemplars += 1;
                }
            }
            _ => {}
        }
    }
    Ok(stats)
}

#[derive(Debug, Default, PartialEq)]
struct Stats {
    types: usize,
    unknown_types: usize,
    samples: usize,
    untyped_samples: usize,
    exemplars: usize,
}

fn parse_text(body: &[u8], v: Validation) -> Result<Stats, ParseError> {
    accept(&mut TextParser::with_validation(body, v))
}

fn parse_om(body: &[u8], v: Validation) -> Result<Stats, ParseError> {
    accept(&mut OpenMetricsParser::with_validation(body, v))
}

fn sorted_dirs(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .collect();
    v.sort();
    v
}

fn name_of(p: &Path) -> String {
    p.file_name().expect("case path has a name").to_string_lossy().into_owned()
}

#[test]
fn openmetrics_test_suite() {
    let dir = conformance_dir().join("openmetrics/parsers");
    let mut failures = Vec::new();
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    let mut lenient_accepts_invalid = Vec::new();
    for case in sorted_dirs(&dir) {
        let name = name_of(&case);
        let spec: serde_json::Value =
            serde_json::from_slice(&fs::read(case.join("test.json")).expect("test.json")).expect("test.json is JSON");
        assert_eq!(spec["type"], "text", "{name}: only text cases exist");
        let file = spec["file"].as_str().expect("test.json names its file");
        let should_parse = spec["shouldParse"].as_bool().expect("shouldParse is a bool");
        let body = fs::read(case.join(file)).expect("case body");
        *counts.entry(if should_parse { "valid" } else { "invalid" }).or_default() += 1;

        let strict = parse_om(&body, Validation::Strict);
        if strict.is_ok() != should_parse {
            failures.push(format!("{name}: strict expected shouldParse={should_parse}, got {strict:?}"));
        }
        let lenient = parse_om(&body, Validation::Prometheus);
        if should_parse && lenient.is_err() {
            failures.push(format!("{name}: Prometheus mode rejected a valid case: {lenient:?}"));
        }
        if !should_parse && lenient.is_ok() {
            lenient_accepts_invalid.push(name.clone());
        }
        // Whatever the body, the content-type route must agree with the parser.
        let routed = accept(&mut *parser_for("application/openmetrics-text; version=1.0.0", &body).expect("route"));
        assert_eq!(routed.is_ok(), lenient.is_ok(), "{name}: parser_for disagrees");
    }
    let total: usize = counts.values().sum();
    println!(
        "openmetrics/parsers: {total} cases ({} valid, {} invalid); strict: {} match, {} mismatch",
        counts.get("valid").unwrap_or(&0),
        counts.get("invalid").unwrap_or(&0),
        total - failures.len(),
        failures.len()
    );
    println!(
        "openmetrics/parsers: Prometheus mode accepts {} of the invalid cases (semantic rules Prometheus does not check): {}",
        lenient_accepts_invalid.len(),
        lenient_accepts_invalid.join(" ")
    );
    assert!(total >= 200, "expected the full OpenMetrics suite, found {total} cases");
    assert!(failures.is_empty(), "{} mismatches:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn common_expfmt_cases() {
    let base = conformance_dir().join("exposition/common-expfmt");
    let mut failures = Vec::new();
    for (sub, valid) in [("valid", true), ("invalid", false)] {
        let mut n = 0;
        let mut prom_ok = 0;
        for path in sorted_dirs(&base.join(sub)) {
            n += 1;
            let name = name_of(&path);
            let body = fs::read(&path).expect("case body");
            let strict = parse_text(&body, Validation::Strict);
            if strict.is_ok() != valid {
                failures.push(format!("{sub}/{name}: strict expected valid={valid}, got {strict:?}"));
            }
            let prom = parse_text(&body, Validation::Prometheus);
            let listed = if valid { PROMETHEUS_TEXT_REJECTS_VALID } else { PROMETHEUS_TEXT_ACCEPTS_INVALID };
            let deviates = listed.iter().any(|(c, _)| *c == name);
            if prom.is_ok() != (valid != deviates) {
                failures.push(format!(
                    "{sub}/{name}: Prometheus mode expected valid={}, got {prom:?}",
                    valid != deviates
                ));
            }
            prom_ok += usize::from(prom.is_ok());
        }
        println!("exposition/common-expfmt/{sub}: {n} cases; strict as expected; Prometheus mode accepts {prom_ok}");
        assert!(n > 0, "no cases in {sub}");
    }
    assert!(failures.is_empty(), "{} mismatches:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn prometheus_textparse_payloads() {
    let base = conformance_dir().join("exposition/prometheus-textparse");
    let read = |f: &str| fs::read(base.join(f)).unwrap_or_else(|e| panic!("{f}: {e}"));
    for v in [Validation::Prometheus, Validation::Strict] {
        let all = parse_text(&read("alltypes.237mfs.prom.txt"), v).expect("alltypes parses");
        assert_eq!((all.types, all.samples), (237, 1857), "{v:?}");
        let nometa = parse_text(&read("alltypes.237mfs.nometa.prom.txt"), v).expect("nometa parses");
        assert_eq!((nometa.types, nometa.samples, nometa.untyped_samples), (0, 1857, 1857), "{v:?}");
        let om = parse_om(&read("alltypes.5mfs.om.txt"), v).expect("5mfs parses");
        assert_eq!(om.types, 5, "{v:?}");
        assert!(om.exemplars > 0, "{v:?}: exemplars are kept");
        let h = parse_om(&read("1histogram.om.txt"), v).expect("1histogram parses");
        assert_eq!(h.types, 1, "{v:?}");
        println!(
            "exposition/prometheus-textparse ({v:?}): 4 files; {} + {} + {} + {} samples",
            all.samples, nometa.samples, om.samples, h.samples
        );
    }
}

#[test]
fn common_expfmt_samples_plain_and_gzip() {
    let base = conformance_dir().join("exposition/common-expfmt/samples");
    let plain = fs::read(base.join("text")).expect("text sample");
    let gz = fs::read(base.join("text.gz")).expect("text.gz sample");
    let mut decoder = BodyDecoder::new();
    let decoded = decoder.decode(Some("gzip"), &gz, None).expect("gunzip").to_vec();
    assert_eq!(decoded, plain);
    let a = parse_text(&plain, Validation::Prometheus).expect("text parses");
    let b = accept(&mut *parser_for("text/plain; version=0.0.4", &decoded).expect("route")).expect("parses");
    assert_eq!(a, b);
    assert!(a.samples > 100);
    // Protobuf is recognised but not parsed yet: it must fail loudly.
    let proto = fs::read(base.join("protobuf")).expect("protobuf sample");
    assert!(matches!(
        parser_for("application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited", &proto),
        Err(ParseError::UnsupportedContentType(_))
    ));
    assert_eq!(promethium_scrape::parse::format_for("application/vnd.google.protobuf"), Some(Format::Protobuf));
    println!("exposition/common-expfmt/samples: text and text.gz agree ({} samples)", a.samples);
}
