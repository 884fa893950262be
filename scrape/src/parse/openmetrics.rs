//! The OpenMetrics 1.0 text format, accepting and rejecting what
//! Prometheus' `openmetricsparse` does.
//!
//! OpenMetrics is line-strict where the Prometheus text format is lax, and
//! this parser follows the token rules of Prometheus' `openmetricslex.l`:
//!
//! * Exactly one space separates tokens; no whitespace inside braces.
//! * Lines starting with `#` must be `# HELP`, `# TYPE`, `# UNIT` or
//!   `# EOF`; there are no free comments. Metadata needs a space after the
//!   name even when the text is empty, and a newline.
//! * The body must end with `# EOF` (a final newline is optional) and nothing
//!   may follow it.
//! * Label pairs need commas (a trailing one is allowed); quoted strings may
//!   not contain raw newlines.
//! * Timestamps are float seconds, converted to milliseconds by truncation.
//! * An exemplar follows ` # ` after the value or timestamp.
//! * A `# UNIT` must be a suffix of its metric name after an underscore.
//!
//! Prometheus checks no semantic rules here (family grouping, histogram
//! buckets, counter values); [`Validation::Strict`] adds them through
//! [`super::strict`].

use promethium_engine::model::MetricType;

use super::labels::LabelNorm;
use super::lex::{
    Quoted, is_label_start, is_metric_start, label_name_len, metric_name_len, parse_float,
    quoted_len, quoted_scan, seconds_to_ms,
};
use super::strict::OpenMetricsChecker;
use super::{
    Entry, Escaping, ExpositionParser, FamilyInfo, Format, ParseError, RawExemplar, Sample, Text,
    Validation,
};

/// Parser for `application/openmetrics-text; version=1.0.0`.
#[derive(Debug)]
pub struct OpenMetricsParser<'a> {
    b: &'a [u8],
    pos: usize,
    /// 1-based line of `pos`.
    line: usize,
    family: FamilyInfo<'a>,
    /// The latest declared type whatever family it named (see the text
    /// parser: Prometheus keeps it for `le`/`quantile` normalisation).
    last_type: MetricType,
    done: bool,
    strict: Option<Box<OpenMetricsChecker>>,
}

impl<'a> OpenMetricsParser<'a> {
    /// A parser with Prometheus' checks.
    pub fn new(body: &'a [u8]) -> Self {
        Self::with_validation(body, Validation::Prometheus)
    }

    /// A parser with the given checks.
    pub fn with_validation(body: &'a [u8], validation: Validation) -> Self {
        OpenMetricsParser {
            b: body,
            pos: 0,
            line: 1,
            family: FamilyInfo::default(),
            last_type: MetricType::Unknown,
            done: false,
            strict: (validation == Validation::Strict).then(Box::default),
        }
    }

    /// The byte at the cursor, 0 at the end (which no rule accepts).
    fn cur(&self) -> u8 {
        self.b.get(self.pos).copied().unwrap_or(0)
    }

    fn err(&self, message: impl Into<String>) -> ParseError {
        ParseError::new(self.line, message.into())
    }

    fn expected(&self, what: &str, line_start: usize) -> ParseError {
        if self.pos >= self.b.len() {
            return self.err(format!("{what}, got end of input: data does not end with # EOF"));
        }
        let end = (self.pos + 1).min(self.b.len());
        let got = String::from_utf8_lossy(&self.b[self.pos..end]);
        let so_far = String::from_utf8_lossy(&self.b[line_start.min(end)..end]);
        self.err(format!("{what}, got {got:?} while parsing {so_far:?}"))
    }

    /// Consumes the newline ending a line.
    fn newline(&mut self, line_start: usize, what: &str) -> Result<(), ParseError> {
        if self.cur() == b'\n' && self.pos < self.b.len() {
            self.pos += 1;
            self.line += 1;
            Ok(())
        } else {
            Err(self.expected(what, line_start))
        }
    }

    /// `# ...` lines.
    fn hash_line(&mut self) -> Result<Option<Entry<'a>>, ParseError> {
        let start = self.pos;
        let rest = &self.b[self.pos..];
        if rest.starts_with(b"# EOF") {
            self.pos += 5;
            if self.cur() == b'\n' && self.pos < self.b.len() {
                self.pos += 1;
            }
            if self.pos < self.b.len() {
                return Err(self.err("unexpected data after # EOF"));
            }
            if let Some(strict) = &mut self.strict {
                strict.finish().map_err(|m| ParseError::new(self.line, m))?;
            }
            self.done = true;
            return Ok(None);
        }
        let keyword = if rest.starts_with(b"# HELP ") {
            "HELP"
        } else if rest.starts_with(b"# TYPE ") {
            "TYPE"
        } else if rest.starts_with(b"# UNIT ") {
            "UNIT"
        } else {
            return Err(self.expected("expected a valid start token", start));
        };
        self.pos += 7;
        let (name, escaping) = match self.cur() {
            b'"' => {
                let (len, newlines) = quoted_len(&self.b[self.pos..], true).ok_or_else(|| {
                    self.expected(&format!("expected metric name after {keyword}"), start)
                })?;
                let name = &self.b[self.pos + 1..self.pos + len - 1];
                self.pos += len;
                self.line += newlines;
                (name, Escaping::Quoted)
            }
            c if is_metric_start(c) => {
                let len = metric_name_len(&self.b[self.pos..]);
                let name = &self.b[self.pos..self.pos + len];
                self.pos += len;
                (name, Escaping::None)
            }
            _ => return Err(self.expected(&format!("expected metric name after {keyword}"), start)),
        };
        // `{S}{C}*\n`: a space, any text, and a required newline.
        if self.cur() != b' ' || self.pos >= self.b.len() {
            return Err(self.err(format!("expected text in {keyword}")));
        }
        let text_start = self.pos + 1;
        let Some(nl) = self.b[text_start..].iter().position(|&c| c == b'\n') else {
            return Err(self.err(format!("expected text in {keyword}")));
        };
        let text = &self.b[text_start..text_start + nl];
        let line = self.line;
        self.pos = text_start + nl + 1;
        self.line += 1;
        if name != self.family.name {
            self.family = FamilyInfo { name, ..FamilyInfo::default() };
        }
        let entry = match keyword {
            "HELP" => {
                if std::str::from_utf8(text).is_err() {
                    return Err(ParseError::new(line, "help text is not valid UTF-8".to_owned()));
                }
                let help = Text::new(text, Escaping::Quoted);
                self.family.help = Some(help);
                Entry::Help { name: Text::new(name, escaping), help }
            }
            "TYPE" => {
                let metric_type = match text {
                    b"counter" => MetricType::Counter,
                    b"gauge" => MetricType::Gauge,
                    b"histogram" => MetricType::Histogram,
                    b"gaugehistogram" => MetricType::GaugeHistogram,
                    b"summary" => MetricType::Summary,
                    b"info" => MetricType::Info,
                    b"stateset" => MetricType::StateSet,
                    b"unknown" => MetricType::Unknown,
                    _ => {
                        return Err(ParseError::new(
                            line,
                            format!("invalid metric type {:?}", String::from_utf8_lossy(text)),
                        ));
                    }
                };
                self.family.metric_type = metric_type;
                self.last_type = metric_type;
                Entry::Type { name: Text::new(name, escaping), metric_type }
            }
            _ => {
                let unit_ok = text.is_empty()
                    || (name.len() > text.len()
                        && name.ends_with(text)
                        && name[name.len() - text.len() - 1] == b'_');
                if !unit_ok {
                    return Err(ParseError::new(
                        line,
                        format!(
                            "unit {:?} not a suffix of metric {:?}",
                            String::from_utf8_lossy(text),
                            String::from_utf8_lossy(name)
                        ),
                    ));
                }
                let unit = Text::new(text, Escaping::None);
                self.family.unit = Some(unit);
                Entry::Unit { name: Text::new(name, escaping), unit }
            }
        };
        if let Some(strict) = &mut self.strict {
            strict.metadata(&entry).map_err(|m| ParseError::new(line, m))?;
        }
        Ok(Some(entry))
    }

    /// Label pairs after `{`, through `}`. Returns the span of a quoted
    /// metric name given as a bare string (never for exemplars).
    fn label_set(
        &mut self,
        start: usize,
        mut name: Option<(usize, usize)>,
        exemplar: bool,
    ) -> Result<Option<(usize, usize)>, ParseError> {
        loop {
            let c = self.cur();
            if c == b'}' {
                self.pos += 1;
                return Ok(name);
            }
            let quoted = c == b'"';
            let (ns, ne) = if quoted {
                let (len, _) = quoted_len(&self.b[self.pos..], false)
                    .ok_or_else(|| self.expected("expected label name", start))?;
                let span = (self.pos + 1, self.pos + len - 1);
                self.pos += len;
                span
            } else if is_label_start(c) {
                let len = label_name_len(&self.b[self.pos..]);
                let span = (self.pos, self.pos + len);
                self.pos += len;
                span
            } else {
                return Err(self.expected("expected label name", start));
            };
            let c = self.cur();
            if quoted && (c == b',' || c == b'}') {
                if exemplar {
                    return Err(self.expected("expected label name", start));
                }
                if name.is_some() {
                    return Err(self.err(format!(
                        "metric name already set while parsing {:?}",
                        String::from_utf8_lossy(&self.b[start..self.pos])
                    )));
                }
                name = Some((ns, ne));
                self.pos += 1;
                if c == b'}' {
                    return Ok(name);
                }
                continue;
            }
            if c != b'=' {
                return Err(self.expected("expected equal", start));
            }
            self.pos += 1;
            let Quoted { len, ascii, .. } = quoted_scan(&self.b[self.pos..], false)
                .ok_or_else(|| self.expected("expected label value", start))?;
            let value = &self.b[self.pos + 1..self.pos + len - 1];
            if !ascii && std::str::from_utf8(value).is_err() {
                return Err(self.err(format!(
                    "invalid UTF-8 label value {:?}",
                    String::from_utf8_lossy(value)
                )));
            }
            self.pos += len;
            match self.cur() {
                b',' => {
                    self.pos += 1;
                    // The specification's grammar has no trailing comma;
                    // Prometheus accepts one.
                    if self.strict.is_some() && self.cur() == b'}' {
                        return Err(self.err("trailing comma in label set"));
                    }
                }
                b'}' => {}
                _ => return Err(self.expected("expected comma or brace close", start)),
            }
        }
    }

    /// `{S}[^ \n]+`: a space and a token up to the next space or newline.
    /// NUL never belongs to a token (Prometheus' lexer reads it as the end).
    fn spaced_token(&mut self) -> Option<&'a [u8]> {
        if self.cur() != b' ' {
            return None;
        }
        let s = self.pos + 1;
        let len = self.b[s..].iter().take_while(|&&c| c != b' ' && c != b'\n' && c != 0).count();
        if len == 0 {
            return None;
        }
        self.pos = s + len;
        Some(&self.b[s..s + len])
    }

    fn float_token(&mut self, start: usize, after: &str) -> Result<f64, ParseError> {
        let raw = self
            .spaced_token()
            .ok_or_else(|| self.expected(&format!("expected value after {after}"), start))?;
        parse_float(raw).ok_or_else(|| {
            self.err(format!(
                "invalid value {:?} while parsing {:?}",
                String::from_utf8_lossy(raw),
                String::from_utf8_lossy(&self.b[start..self.pos])
            ))
        })
    }

    fn timestamp_token(&mut self, start: usize) -> Result<Option<i64>, ParseError> {
        let Some(raw) = self.spaced_token() else { return Ok(None) };
        let secs = parse_float(raw).ok_or_else(|| {
            self.err(format!(
                "invalid timestamp {:?} while parsing {:?}",
                String::from_utf8_lossy(raw),
                String::from_utf8_lossy(&self.b[start..self.pos])
            ))
        })?;
        seconds_to_ms(secs).map(Some).ok_or_else(|| self.err(format!("invalid timestamp {secs}")))
    }

    fn at_exemplar(&self) -> bool {
        self.b[self.pos.min(self.b.len())..].starts_with(b" # {")
    }

    fn exemplar(&mut self, start: usize) -> Result<RawExemplar<'a>, ParseError> {
        self.pos += 4;
        let labels_start = self.pos;
        self.label_set(start, None, true)?;
        let labels = &self.b[labels_start..self.pos - 1];
        let value = self.float_token(start, "exemplar labels")?;
        let timestamp_ms = self.timestamp_token(start)?;
        self.newline(start, "expected next entry after exemplar")?;
        Ok(RawExemplar { labels, value, timestamp_ms })
    }

    fn sample(&mut self) -> Result<Option<Entry<'a>>, ParseError> {
        let start = self.pos;
        let line = self.line;
        let mut name = None;
        if is_metric_start(self.cur()) {
            let len = metric_name_len(&self.b[self.pos..]);
            name = Some((self.pos, self.pos + len));
            self.pos += len;
        }
        if self.cur() == b'{' {
            self.pos += 1;
            name = self.label_set(start, name, false)?;
        }
        let Some((ns, ne)) = name else {
            return Err(self.err(format!(
                "metric name not set while parsing {:?}",
                String::from_utf8_lossy(&self.b[start..self.pos])
            )));
        };
        let series = &self.b[start..self.pos];
        let value = self.float_token(start, "metric")?;
        let mut timestamp_ms = None;
        let mut exemplar = None;
        if self.at_exemplar() {
            exemplar = Some(self.exemplar(start)?);
        } else if self.cur() == b'\n' {
            self.newline(start, "expected timestamp or new record")?;
        } else {
            timestamp_ms = self.timestamp_token(start)?;
            if timestamp_ms.is_none() {
                return Err(self.expected("expected timestamp or new record", start));
            }
            if self.at_exemplar() {
                exemplar = Some(self.exemplar(start)?);
            } else {
                self.newline(start, "expected next entry after timestamp")?;
            }
        }
        let metric_name = &self.b[ns..ne];
        let family = self.family.for_metric(metric_name);
        let sample = Sample {
            series,
            value,
            timestamp_ms,
            exemplar,
            family,
            line,
            norm: LabelNorm::for_type(self.last_type),
        };
        if let Some(strict) = &mut self.strict {
            strict.sample(&sample, metric_name).map_err(|m| ParseError::new(line, m))?;
        }
        Ok(Some(Entry::Sample(sample)))
    }
}

impl<'a> ExpositionParser<'a> for OpenMetricsParser<'a> {
    fn next_entry(&mut self) -> Result<Option<Entry<'a>>, ParseError> {
        if self.done {
            return Ok(None);
        }
        if self.pos >= self.b.len() {
            return Err(self.err("data does not end with # EOF"));
        }
        match self.cur() {
            b'#' => self.hash_line(),
            c if c == b'{' || is_metric_start(c) => self.sample(),
            _ => Err(self.expected("expected a valid start token", self.pos)),
        }
    }

    fn format(&self) -> Format {
        Format::OpenMetrics
    }
}

#[cfg(test)]
mod tests;
