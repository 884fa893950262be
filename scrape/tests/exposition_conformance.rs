//! Runs the shared exposition conformance cases through the parsers.
//!
//! * `openmetrics/parsers/*`: the OpenMetrics 1.0 test suite. Every case must
//!   be accepted or rejected as its `test.json` says under
//!   [`Validation::Strict`]. Under Prometheus' own checks, every valid case
//!   must parse and exactly the invalid cases in
//!   [`PROMETHEUS_OM_ACCEPTS_INVALID`] are accepted (Prometheus' scraper
//!   checks syntax, not the specification's semantic rules).
//! * `exposition/common-expfmt/{valid,invalid}`: the Go client library's text
//!   parser cases, matched exactly in strict mode. In Prometheus mode the
//!   outcome must equal what Prometheus' `promparse` does, listed in
//!   [`PROMETHEUS_TEXT_ACCEPTS_INVALID`] and [`PROMETHEUS_TEXT_REJECTS_VALID`]
//!   with the reason for each.
//! * `exposition/prometheus-textparse/*`: real payloads that must parse in
//!   both modes, with the family and sample counts the README states. The
//!   one exception is `alltypes.5mfs.om.txt` in strict mode: its histogram
//!   has negative buckets and a `_sum`, which the OpenMetrics specification
//!   forbids, so strict mode must reject it for exactly that reason.
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
    BodyDecoder, Entry, ExpositionParser, Format, OpenMetricsParser, ParseError, TextParser,
    Validation, parser_for,
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

/// Invalid OpenMetrics cases that Prometheus' `openmetricsparse` accepts:
/// it checks syntax only, so every semantic rule of the specification is
/// left to strict mode. Any other difference in Prometheus mode fails the test.
const PROMETHEUS_OM_ACCEPTS_INVALID: &[(&str, &str)] = &[
    ("bad_clashing_names_0", "family name clashes are not checked"),
    ("bad_clashing_names_1", "family name clashes are not checked"),
    ("bad_clashing_names_2", "family name clashes are not checked"),
    ("bad_counter_values_0", "sample values are not checked"),
    ("bad_counter_values_1", "sample values are not checked"),
    ("bad_counter_values_10", "sample values are not checked"),
    ("bad_counter_values_11", "sample values are not checked"),
    ("bad_counter_values_12", "sample values are not checked"),
    ("bad_counter_values_13", "sample values are not checked"),
    ("bad_counter_values_14", "sample values are not checked"),
    ("bad_counter_values_15", "sample values are not checked"),
    ("bad_counter_values_16", "sample values are not checked"),
    ("bad_counter_values_17", "sample values are not checked"),
    ("bad_counter_values_18", "sample values are not checked"),
    ("bad_counter_values_19", "sample values are not checked"),
    ("bad_counter_values_2", "sample values are not checked"),
    ("bad_counter_values_3", "sample values are not checked"),
    ("bad_counter_values_4", "sample values are not checked"),
    ("bad_counter_values_5", "sample values are not checked"),
    ("bad_counter_values_6", "sample values are not checked"),
    ("bad_counter_values_7", "sample values are not checked"),
    ("bad_counter_values_8", "sample values are not checked"),
    ("bad_counter_values_9", "sample values are not checked"),
    ("bad_exemplar_complex_chars", "exemplar label length is not checked by the parser"),
    ("bad_exemplars_6", "exemplar label length is not checked by the parser"),
    ("bad_exemplars_on_unallowed_metric_types_0", "exemplars are accepted on any sample"),
    ("bad_exemplars_on_unallowed_metric_types_1", "exemplars are accepted on any sample"),
    ("bad_exemplars_on_unallowed_metric_types_2", "exemplars are accepted on any sample"),
    ("bad_exemplars_on_unallowed_samples_0", "exemplars are accepted on any sample"),
    ("bad_exemplars_on_unallowed_samples_1", "exemplars are accepted on any sample"),
    ("bad_exemplars_on_unallowed_samples_2", "exemplars are accepted on any sample"),
    ("bad_exemplars_on_unallowed_samples_3", "exemplars are accepted on any sample"),
    ("bad_grouping_or_ordering_0", "family grouping and timestamp order are not checked"),
    ("bad_grouping_or_ordering_10", "family grouping and timestamp order are not checked"),
    ("bad_grouping_or_ordering_2", "family grouping and timestamp order are not checked"),
    ("bad_grouping_or_ordering_3", "family grouping and timestamp order are not checked"),
    ("bad_grouping_or_ordering_4", "family grouping and timestamp order are not checked"),
    ("bad_grouping_or_ordering_5", "family grouping and timestamp order are not checked"),
    ("bad_grouping_or_ordering_6", "family grouping and timestamp order are not checked"),
    ("bad_grouping_or_ordering_7", "family grouping and timestamp order are not checked"),
    ("bad_grouping_or_ordering_8", "family grouping and timestamp order are not checked"),
    ("bad_grouping_or_ordering_9", "family grouping and timestamp order are not checked"),
    ("bad_histograms_0", "histogram structure is not checked"),
    ("bad_histograms_1", "histogram structure is not checked"),
    ("bad_histograms_10", "histogram structure is not checked"),
    ("bad_histograms_11", "histogram structure is not checked"),
    ("bad_histograms_12", "histogram structure is not checked"),
    ("bad_histograms_13", "histogram structure is not checked"),
    ("bad_histograms_14", "histogram structure is not checked"),
    ("bad_histograms_2", "histogram structure is not checked"),
    ("bad_histograms_3", "histogram structure is not checked"),
    ("bad_histograms_6", "histogram structure is not checked"),
    ("bad_histograms_7", "histogram structure is not checked"),
    ("bad_histograms_8", "histogram structure is not checked"),
    ("bad_histograms_9", "histogram structure is not checked"),
    ("bad_info_and_stateset_values_0", "sample values are not checked"),
    ("bad_info_and_stateset_values_1", "sample values are not checked"),
    ("bad_metadata_in_wrong_place_0", "metadata order is not checked"),
    ("bad_metadata_in_wrong_place_1", "metadata order is not checked"),
    ("bad_metadata_in_wrong_place_2", "metadata order is not checked"),
    ("bad_missing_or_extra_commas_2", "parseLVals accepts a trailing comma"),
    ("bad_missing_or_invalid_labels_for_a_type_0", "type-specific labels are not checked"),
    ("bad_missing_or_invalid_labels_for_a_type_1", "type-specific labels are not checked"),
    ("bad_missing_or_invalid_labels_for_a_type_2", "type-specific labels are not checked"),
    ("bad_missing_or_invalid_labels_for_a_type_3", "type-specific labels are not checked"),
    ("bad_missing_or_invalid_labels_for_a_type_4", "type-specific labels are not checked"),
    ("bad_missing_or_invalid_labels_for_a_type_5", "type-specific labels are not checked"),
    ("bad_missing_or_invalid_labels_for_a_type_6", "type-specific labels are not checked"),
    ("bad_missing_or_invalid_labels_for_a_type_7", "type-specific labels are not checked"),
    ("bad_repeated_metadata_0", "repeated metadata is not checked"),
    ("bad_repeated_metadata_1", "repeated metadata is not checked"),
    ("bad_repeated_metadata_3", "repeated metadata is not checked"),
    ("bad_stateset_info_values_0", "sample values are not checked"),
    ("bad_stateset_info_values_1", "sample values are not checked"),
    ("bad_stateset_info_values_2", "sample values are not checked"),
    ("bad_stateset_info_values_3", "sample values are not checked"),
    ("bad_unit_6", "units on info/stateset families are not checked"),
    ("bad_unit_7", "units on info/stateset families are not checked"),
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
                    return Err(ParseError::Invalid {
                        line: s.line(),
                        message: "no metric name".into(),
                    });
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
            serde_json::from_slice(&fs::read(case.join("test.json")).expect("test.json"))
                .expect("test.json is JSON");
        assert_eq!(spec["type"], "text", "{name}: only text cases exist");
        let file = spec["file"].as_str().expect("test.json names its file");
        let should_parse = spec["shouldParse"].as_bool().expect("shouldParse is a bool");
        let body = fs::read(case.join(file)).expect("case body");
        *counts.entry(if should_parse { "valid" } else { "invalid" }).or_default() += 1;

        let strict = parse_om(&body, Validation::Strict);
        if strict.is_ok() != should_parse {
            failures.push(format!(
                "{name}: strict expected shouldParse={should_parse}, got {strict:?}"
            ));
        }
        let lenient = parse_om(&body, Validation::Prometheus);
        if should_parse && lenient.is_err() {
            failures.push(format!("{name}: Prometheus mode rejected a valid case: {lenient:?}"));
        }
        let listed = PROMETHEUS_OM_ACCEPTS_INVALID.iter().any(|(c, _)| *c == name);
        if !should_parse && lenient.is_ok() {
            lenient_accepts_invalid.push(name.clone());
            if !listed {
                failures.push(format!(
                    "{name}: Prometheus mode accepted an invalid case not known to be lenient"
                ));
            }
        }
        if !should_parse && lenient.is_err() && listed {
            failures.push(format!(
                "{name}: Prometheus mode rejected a case Prometheus accepts: {lenient:?}"
            ));
        }
        // Whatever the body, the content-type route must agree with the parser.
        let routed = accept(
            &mut *parser_for("application/openmetrics-text; version=1.0.0", &body).expect("route"),
        );
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
        "openmetrics/parsers: Prometheus mode accepts all {} valid cases and {} invalid ones (semantic rules Prometheus does not check), rejects the other {}",
        counts.get("valid").unwrap_or(&0),
        lenient_accepts_invalid.len(),
        counts.get("invalid").unwrap_or(&0) - lenient_accepts_invalid.len()
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
                failures
                    .push(format!("{sub}/{name}: strict expected valid={valid}, got {strict:?}"));
            }
            let prom = parse_text(&body, Validation::Prometheus);
            let listed =
                if valid { PROMETHEUS_TEXT_REJECTS_VALID } else { PROMETHEUS_TEXT_ACCEPTS_INVALID };
            let deviates = listed.iter().any(|(c, _)| *c == name);
            if prom.is_ok() != (valid != deviates) {
                failures.push(format!(
                    "{sub}/{name}: Prometheus mode expected valid={}, got {prom:?}",
                    valid != deviates
                ));
            }
            prom_ok += usize::from(prom.is_ok());
        }
        println!(
            "exposition/common-expfmt/{sub}: {n} cases; strict as expected; Prometheus mode accepts {prom_ok}"
        );
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
        let nometa =
            parse_text(&read("alltypes.237mfs.nometa.prom.txt"), v).expect("nometa parses");
        assert_eq!(
            (nometa.types, nometa.samples, nometa.untyped_samples),
            (0, 1857, 1857),
            "{v:?}"
        );
        let om =
            parse_om(&read("alltypes.5mfs.om.txt"), Validation::Prometheus).expect("5mfs parses");
        assert_eq!(om.types, 5, "{v:?}");
        assert!(om.exemplars > 0, "{v:?}: exemplars are kept");
        // The Go client writes `_sum` beside negative buckets, which the
        // OpenMetrics specification forbids; strict mode says so.
        let strict = parse_om(&read("alltypes.5mfs.om.txt"), Validation::Strict)
            .expect_err("strict rejects 5mfs");
        assert!(strict.to_string().contains("negative buckets"), "{strict}");
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
    let b = accept(&mut *parser_for("text/plain; version=0.0.4", &decoded).expect("route"))
        .expect("parses");
    assert_eq!(a, b);
    assert!(a.samples > 100);
    // Protobuf is recognised but not parsed yet: it must fail loudly.
    let proto = fs::read(base.join("protobuf")).expect("protobuf sample");
    assert!(matches!(
        parser_for(
            "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited",
            &proto
        ),
        Err(ParseError::UnsupportedContentType(_))
    ));
    assert_eq!(
        promethium_scrape::parse::format_for("application/vnd.google.protobuf"),
        Some(Format::Protobuf)
    );
    println!("exposition/common-expfmt/samples: text and text.gz agree ({} samples)", a.samples);
}
