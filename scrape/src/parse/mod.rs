//! Exposition-format parsers: the bytes a target serves, turned into
//! metadata and samples.
//!
//! Each format is a plugin behind [`ExpositionParser`], chosen from the
//! response's `Content-Type` by [`parser_for`]. A parser is a pull iterator in
//! the spirit of Prometheus' `textparse.Parser`: [`ExpositionParser::next_entry`]
//! yields one [`Entry`] per meaningful line and never allocates per sample.
//! Everything an entry carries borrows from the body.
//!
//! The hot path is the scrape loop's steady state, where almost every series
//! was seen in the previous scrape. A [`Sample`] therefore exposes
//! [`Sample::series`], the exact bytes that identify the series in the body
//! (`name{labels}`), so the loop can look them up in its cache and skip label
//! parsing entirely. Only on a cache miss does it call [`Sample::labels`] to
//! decode the metric name and labels into a reusable [`LabelBuf`] (or
//! [`Sample::labels_into_builder`] for an engine [`LabelsBuilder`]).
//!
//! Two levels of checking exist. The default, [`Validation::Prometheus`],
//! accepts and rejects exactly what Prometheus' scrape parsers
//! (`model/textparse`) do, which is more lenient than the specifications on
//! semantic rules (family grouping, histogram bucket order, counter values).
//! [`Validation::Strict`] adds those rules, so the OpenMetrics test suite and
//! the Go client library's strict text parser are matched; it is meant for
//! linting, not scraping.
//!
//! ```
//! use promethium_scrape::parse::{parser_for, Entry, LabelBuf};
//!
//! let body = b"# TYPE up gauge\nup{job=\"node\"} 1\n";
//! let mut parser = parser_for("text/plain; version=0.0.4", body).unwrap();
//! let mut labels = LabelBuf::new();
//! while let Some(entry) = parser.next_entry().unwrap() {
//!     if let Entry::Sample(sample) = entry {
//!         assert_eq!(sample.series(), b"up{job=\"node\"}");
//!         sample.labels(&mut labels).unwrap();
//!         assert_eq!(labels.get("job"), Some("node"));
//!         assert_eq!(sample.value(), 1.0);
//!     }
//! }
//! ```

mod content_type;
mod gzip;
mod labels;
mod lex;
mod openmetrics;
#[cfg(test)]
mod proptests;
mod strict;
mod text;

use std::borrow::Cow;

use promethium_engine::model::{Exemplar, Labels, LabelsBuilder, MetricType};

pub use content_type::{Format, SCRAPE_ACCEPT_HEADER, ScrapeProtocol, accept_header, format_for};
pub use gzip::{BodyDecoder, decode_body};
pub use labels::LabelBuf;
pub use openmetrics::OpenMetricsParser;
pub use text::TextParser;

/// A streaming parser over one scrape body.
///
/// Invariant: an `Err` is final. After an error the parser's position is
/// unspecified and callers must drop it (the scrape fails as a whole, as in
/// Prometheus).
pub trait ExpositionParser<'a> {
    /// The next entry, `Ok(None)` at the end of the body (after `# EOF` in
    /// OpenMetrics).
    fn next_entry(&mut self) -> Result<Option<Entry<'a>>, ParseError>;

    /// The format this parser reads.
    fn format(&self) -> Format;
}

/// One meaningful line of an exposition.
#[derive(Debug, Clone, PartialEq)]
pub enum Entry<'a> {
    /// `# HELP name text`.
    Help {
        /// The metric family name.
        name: Text<'a>,
        /// The help text (possibly empty).
        help: Text<'a>,
    },
    /// `# TYPE name type`.
    Type {
        /// The metric family name.
        name: Text<'a>,
        /// The declared type.
        metric_type: MetricType,
    },
    /// `# UNIT name unit` (OpenMetrics only).
    Unit {
        /// The metric family name.
        name: Text<'a>,
        /// The unit, possibly empty.
        unit: Text<'a>,
    },
    /// Any other comment line, from its `#` to the end of the line (text
    /// format only; OpenMetrics has no free comments).
    Comment(&'a [u8]),
    /// A sample line.
    Sample(Sample<'a>),
}

/// How a [`Text`] is escaped in the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Escaping {
    /// Raw bytes, nothing to decode.
    None,
    /// Text-format HELP: `\\` and `\n` are escapes, any other backslash is literal.
    TextHelp,
    /// Quoted strings (label values, quoted names, OpenMetrics HELP):
    /// `\\`, `\"` and `\n`.
    Quoted,
}

/// A piece of text as it appears in the body, decoded on demand so that
/// callers who only need bytes (cache keys, metadata comparisons) never pay
/// for unescaping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Text<'a> {
    raw: &'a [u8],
    escaping: Escaping,
}

impl<'a> Text<'a> {
    pub(crate) fn new(raw: &'a [u8], escaping: Escaping) -> Self {
        Text { raw, escaping }
    }

    /// The bytes exactly as in the body, without surrounding quotes.
    pub fn raw(&self) -> &'a [u8] {
        self.raw
    }

    /// The decoded text. Borrows when there is nothing to unescape.
    pub fn decode(&self) -> Result<Cow<'a, str>, ParseError> {
        lex::unescape(self.raw, self.escaping)
            .ok_or_else(|| ParseError::new(0, "invalid UTF-8 in text".to_owned()))
    }
}

impl<'a> FamilyInfo<'a> {
    /// This family's metadata if `metric_name` (raw bytes) belongs to it:
    /// equal to the family name or the name plus one of the suffixes the
    /// formats give sample names (`_total`, `_bucket`, `_gsum`, ...).
    /// Otherwise the empty default, meaning "no metadata".
    pub(crate) fn for_metric(&self, metric_name: &[u8]) -> FamilyInfo<'a> {
        const SUFFIXES: [&[u8]; 9] = [
            b"",
            b"_total",
            b"_created",
            b"_bucket",
            b"_sum",
            b"_count",
            b"_gcount",
            b"_gsum",
            b"_info",
        ];
        match metric_name.strip_prefix(self.name) {
            Some(rest) if !self.name.is_empty() && SUFFIXES.contains(&rest) => *self,
            _ => FamilyInfo::default(),
        }
    }
}

/// What the parser knows about the family a sample belongs to, from the
/// `# TYPE`, `# HELP` and `# UNIT` lines seen before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FamilyInfo<'a> {
    /// The family name as declared (raw bytes), empty when no metadata line
    /// named this sample's family.
    pub name: &'a [u8],
    /// The declared type, [`MetricType::Unknown`] when none.
    pub metric_type: MetricType,
    /// The help text, if declared.
    pub help: Option<Text<'a>>,
    /// The unit, if declared (OpenMetrics).
    pub unit: Option<Text<'a>>,
}

/// An exemplar as written after a sample (OpenMetrics), decoded on demand.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RawExemplar<'a> {
    /// The text between the exemplar's braces.
    pub labels: &'a [u8],
    /// The exemplar value.
    pub value: f64,
    /// The exemplar timestamp in milliseconds, if given.
    pub timestamp_ms: Option<i64>,
}

impl RawExemplar<'_> {
    /// Decodes into the engine's exemplar type (allocates; exemplars are rare).
    pub fn to_exemplar(&self) -> Result<Exemplar, ParseError> {
        let mut buf = LabelBuf::new();
        labels::parse_label_pairs(self.labels, &mut buf)?;
        let labels = buf.to_labels()?;
        Ok(Exemplar { labels, value: self.value, t_ms: self.timestamp_ms })
    }
}

/// One sample line. Cheap to copy: it only borrows from the body.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample<'a> {
    pub(crate) series: &'a [u8],
    pub(crate) value: f64,
    pub(crate) timestamp_ms: Option<i64>,
    pub(crate) exemplar: Option<RawExemplar<'a>>,
    pub(crate) family: FamilyInfo<'a>,
    pub(crate) line: usize,
    pub(crate) norm: labels::LabelNorm,
}

impl<'a> Sample<'a> {
    /// The exact bytes identifying the series: metric name and label set as
    /// written (`foo{a="b"}`, `{"my.metric",a="b"}`), without the value. Two
    /// lines with equal series bytes are the same series, so this is the
    /// scrape cache key.
    pub fn series(&self) -> &'a [u8] {
        self.series
    }

    /// The value, bit-exact (NaN payloads are kept).
    pub fn value(&self) -> f64 {
        self.value
    }

    /// The timestamp in milliseconds, if the line had one.
    pub fn timestamp_ms(&self) -> Option<i64> {
        self.timestamp_ms
    }

    /// The exemplar attached to this line, if any.
    pub fn exemplar(&self) -> Option<RawExemplar<'a>> {
        self.exemplar
    }

    /// Metadata of this sample's family known so far.
    pub fn family(&self) -> FamilyInfo<'a> {
        self.family
    }

    /// The 1-based line number, for error messages.
    pub fn line(&self) -> usize {
        self.line
    }

    /// Decodes the metric name (as `__name__`) and labels into `buf`, which is
    /// cleared first. Labels appear in body order; [`LabelBuf::to_labels`]
    /// sorts and checks for duplicates. As in Prometheus, after a histogram
    /// (summary) `# TYPE` line an `le` (`quantile`) value is rewritten in
    /// canonical float form (`le="1"` becomes `le="1.0"`).
    pub fn labels(&self, buf: &mut LabelBuf) -> Result<(), ParseError> {
        buf.clear();
        labels::parse_series(self.series, buf, self.norm).map_err(|e| e.at_line(self.line))
    }

    /// Decodes the series into an engine [`LabelsBuilder`], replacing its
    /// contents. Empty label values are dropped, as the builder always does.
    pub fn labels_into_builder(
        &self,
        buf: &mut LabelBuf,
        builder: &mut LabelsBuilder,
    ) -> Result<(), ParseError> {
        self.labels(buf)?;
        buf.write_into(builder);
        Ok(())
    }

    /// Decodes the series into a [`Labels`] (allocates; convenience for tests
    /// and cold paths).
    pub fn to_labels(&self) -> Result<Labels, ParseError> {
        let mut buf = LabelBuf::new();
        self.labels(&mut buf)?;
        buf.to_labels().map_err(|e| e.at_line(self.line))
    }
}

/// How much of the specification a parser enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Validation {
    /// Accept and reject what Prometheus' scrape parsers do.
    #[default]
    Prometheus,
    /// Also enforce the specification's semantic rules (OpenMetrics family
    /// grouping, histogram and counter rules; unique HELP/TYPE in the text
    /// format), as the OpenMetrics test suite and Go's `expfmt` parser do.
    Strict,
}

/// Options for [`parser_for_with`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ParseOptions {
    /// Format to use when the content type is missing or unknown
    /// (Prometheus' `fallback_scrape_protocol`); `None` makes that an error.
    pub fallback: Option<Format>,
    /// How strictly to check the body.
    pub validation: Validation,
}

/// Why a body could not be parsed. Messages are lowercase and name the line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// A syntax or semantic error at a 1-based line (0 when unknown).
    #[error("line {line}: {message}")]
    Invalid {
        /// The 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// The content type names no format we can parse.
    #[error("unsupported content type {0:?}")]
    UnsupportedContentType(String),
    /// A gzip body could not be decoded.
    #[error("gzip body: {0}")]
    Gzip(String),
    /// The decoded body is larger than the configured limit.
    #[error("body size limit of {limit_bytes} bytes exceeded")]
    BodyTooLarge {
        /// The limit.
        limit_bytes: usize,
    },
}

impl ParseError {
    pub(crate) fn new(line: usize, message: String) -> Self {
        ParseError::Invalid { line, message }
    }

    /// Sets the line of an `Invalid` error that did not know it.
    pub(crate) fn at_line(self, line: usize) -> Self {
        match self {
            ParseError::Invalid { line: 0, message } => ParseError::Invalid { line, message },
            other => other,
        }
    }

    /// The line of the error, when it has one.
    pub fn line(&self) -> Option<usize> {
        match self {
            ParseError::Invalid { line, .. } if *line > 0 => Some(*line),
            _ => None,
        }
    }
}

/// Picks the parser for `content_type` (the response's `Content-Type`
/// header value) with Prometheus' default options: an unknown or missing
/// content type is an error, as in Prometheus 3 without a fallback protocol.
pub fn parser_for<'a>(
    content_type: &str,
    body: &'a [u8],
) -> Result<Box<dyn ExpositionParser<'a> + 'a>, ParseError> {
    parser_for_with(content_type, body, ParseOptions::default())
}

/// Like [`parser_for`] with explicit options.
pub fn parser_for_with<'a>(
    content_type: &str,
    body: &'a [u8],
    options: ParseOptions,
) -> Result<Box<dyn ExpositionParser<'a> + 'a>, ParseError> {
    let format = match format_for(content_type) {
        Some(f) => f,
        None => options
            .fallback
            .ok_or_else(|| ParseError::UnsupportedContentType(content_type.to_owned()))?,
    };
    match format {
        Format::PrometheusText => {
            Ok(Box::new(TextParser::with_validation(body, options.validation)))
        }
        Format::OpenMetrics => {
            Ok(Box::new(OpenMetricsParser::with_validation(body, options.validation)))
        }
        Format::Protobuf => Err(ParseError::UnsupportedContentType(content_type.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_type_routes_to_parsers_and_fallback_applies() {
        let p = parser_for("text/plain; version=0.0.4", b"up 1\n").unwrap();
        assert_eq!(p.format(), Format::PrometheusText);
        let p = parser_for("application/openmetrics-text; version=1.0.0", b"# EOF\n").unwrap();
        assert_eq!(p.format(), Format::OpenMetrics);
        assert!(matches!(parser_for("", b"up 1\n"), Err(ParseError::UnsupportedContentType(_))));
        assert!(matches!(
            parser_for("text/html", b"up 1\n"),
            Err(ParseError::UnsupportedContentType(_))
        ));
        let options =
            ParseOptions { fallback: Some(Format::PrometheusText), ..ParseOptions::default() };
        let mut p = parser_for_with("", b"up 1\n", options).unwrap();
        assert!(matches!(p.next_entry(), Ok(Some(Entry::Sample(_)))));
        let strict = ParseOptions { validation: Validation::Strict, ..ParseOptions::default() };
        let mut p = parser_for_with("text/plain", b"up 1", strict).unwrap();
        assert!(p.next_entry().is_ok_and(|e| e.is_some()));
        assert!(p.next_entry().is_err(), "strict text needs a final newline");
    }

    #[test]
    fn family_matching_uses_type_suffixes() {
        let family = FamilyInfo {
            name: b"http",
            metric_type: MetricType::Histogram,
            ..FamilyInfo::default()
        };
        assert_eq!(family.for_metric(b"http_bucket").metric_type, MetricType::Histogram);
        assert_eq!(family.for_metric(b"http").metric_type, MetricType::Histogram);
        assert_eq!(family.for_metric(b"http_requests"), FamilyInfo::default());
        assert_eq!(FamilyInfo::default().for_metric(b"x"), FamilyInfo::default());
    }

    #[test]
    fn errors_carry_lines() {
        let e = ParseError::new(3, "bad".into());
        assert_eq!(e.to_string(), "line 3: bad");
        assert_eq!(e.line(), Some(3));
        assert_eq!(ParseError::new(0, "x".into()).at_line(7).line(), Some(7));
        assert_eq!(ParseError::Gzip("x".into()).line(), None);
    }
}
