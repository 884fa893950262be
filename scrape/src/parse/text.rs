//! The Prometheus text format 0.0.4 (and 1.0.0, which only adds quoted
//! UTF-8 names), accepting and rejecting what Prometheus' `promparse` does.
//!
//! The parser is a hand-written cursor over the body that follows the token
//! rules of Prometheus' `promlex.l`, including its quirks:
//!
//! * Spaces and tabs are allowed between all tokens, also inside braces, and
//!   a comma between label pairs is optional (`{a="1" b="2"}`).
//! * The body may end without a newline.
//! * A NUL byte where a line (or a `#` comment) starts ends the body.
//! * `# HELP name` with no text gives an empty help; the help text is the
//!   rest of the line minus its first character (one separator).
//! * Label values and quoted names may contain raw newlines and any `\x`
//!   escape; only `\\`, `\"` and `\n` are decoded.
//! * Timestamps are digits only (no sign), integer milliseconds.
//! * HELP and TYPE lines may repeat and appear anywhere.
//!
//! [`Validation::Strict`] follows the Go client library's `expfmt` parser
//! instead where it is stricter (final newline, escapes, unique and leading
//! metadata, numeric `le`/`quantile`, `__name__` in braces), and where it is
//! laxer (a signed timestamp, a HELP or TYPE line without a name).

use std::collections::HashSet;

use promethium_engine::model::MetricType;

use super::labels::LabelNorm;
use super::lex::{
    Quoted, has_only_standard_escapes, is_label_start, is_metric_start, label_name_len,
    metric_name_len, parse_float, parse_int_ms, quoted_len, quoted_scan,
};
use super::{
    Entry, Escaping, ExpositionParser, FamilyInfo, Format, ParseError, Sample, Text, Validation,
};

/// Parser for `text/plain; version=0.0.4`.
#[derive(Debug)]
pub struct TextParser<'a> {
    b: &'a [u8],
    pos: usize,
    /// 1-based line of `pos`.
    line: usize,
    /// Metadata of the family named by the latest HELP/TYPE lines.
    family: FamilyInfo<'a>,
    /// The latest declared type whatever family it named: Prometheus keeps
    /// it across families and uses it to normalise `le`/`quantile`.
    last_type: MetricType,
    strict: Option<Box<StrictState>>,
}

/// Bookkeeping for [`Validation::Strict`] only.
#[derive(Debug, Default)]
struct StrictState {
    helps: HashSet<Vec<u8>>,
    types: HashSet<Vec<u8>>,
    /// Metric names that had samples, and for histogram/summary families
    /// also the family name.
    sampled: HashSet<Vec<u8>>,
}

enum Name {
    Plain(usize, usize),
    Quoted(usize, usize),
}

impl<'a> TextParser<'a> {
    /// A parser with Prometheus' checks.
    pub fn new(body: &'a [u8]) -> Self {
        Self::with_validation(body, Validation::Prometheus)
    }

    /// A parser with the given checks.
    pub fn with_validation(body: &'a [u8], validation: Validation) -> Self {
        TextParser {
            b: body,
            pos: 0,
            line: 1,
            family: FamilyInfo::default(),
            last_type: MetricType::Unknown,
            strict: (validation == Validation::Strict).then(Box::default),
        }
    }

    /// The byte at the cursor; the end of the body reads as the newline
    /// Prometheus appends to every body.
    fn cur(&self) -> u8 {
        self.b.get(self.pos).copied().unwrap_or(b'\n')
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t') = self.b.get(self.pos) {
            self.pos += 1;
        }
    }

    /// Consumes a line end (a real newline or the end of the body).
    fn end_line(&mut self) {
        if self.pos < self.b.len() {
            self.pos += 1;
            self.line += 1;
        }
    }

    fn line_end(&self) -> usize {
        self.b[self.pos.min(self.b.len())..]
            .iter()
            .position(|&c| c == b'\n')
            .map_or(self.b.len(), |i| self.pos + i)
    }

    fn err(&self, message: impl Into<String>) -> ParseError {
        ParseError::new(self.line, message.into())
    }

    /// An error naming what was expected, what was found and the line so far.
    fn expected(&self, what: &str, line_start: usize) -> ParseError {
        let end = (self.pos + 1).min(self.b.len());
        let got = String::from_utf8_lossy(&self.b[self.pos.min(end)..end]);
        let so_far = String::from_utf8_lossy(&self.b[line_start.min(end)..end]);
        self.err(format!("{what}, got {got:?} while parsing {so_far:?}"))
    }

    fn comment(&mut self) -> Result<Option<Entry<'a>>, ParseError> {
        let start = self.pos;
        self.pos += 1;
        let after_hash = self.pos;
        self.skip_ws();
        if self.pos > after_hash {
            let rest = &self.b[self.pos..];
            let kind = if rest.starts_with(b"HELP") {
                Some(true)
            } else if rest.starts_with(b"TYPE") {
                Some(false)
            } else {
                None
            };
            if let Some(is_help) = kind
                && matches!(rest.get(4), Some(b' ' | b'\t'))
            {
                self.pos += 4;
                self.skip_ws();
                if let Some(entry) = self.metadata(is_help, start)? {
                    return Ok(Some(entry));
                }
                // Strict mode ignores a HELP/TYPE line without a name.
                return self.free_comment(start);
            }
        }
        // Prometheus' lexer reads the comment's first byte as end-of-input
        // when it is NUL, and for `#` directly followed by text every NUL does.
        if self.b.get(self.pos) == Some(&0) {
            self.pos = self.b.len();
            return Ok(None);
        }
        if self.pos == after_hash {
            let end = self.line_end();
            if let Some(nul) = self.b[self.pos..end].iter().position(|&c| c == 0) {
                let text = &self.b[start..self.pos + nul];
                self.pos = self.b.len();
                return Ok(Some(Entry::Comment(text)));
            }
        }
        self.free_comment(start)
    }

    fn free_comment(&mut self, start: usize) -> Result<Option<Entry<'a>>, ParseError> {
        self.pos = self.line_end();
        let text = &self.b[start..self.pos];
        self.end_line();
        Ok(Some(Entry::Comment(text)))
    }

    /// `# HELP`/`# TYPE` after the keyword and its whitespace. `Ok(None)`
    /// means "treat as a plain comment" (strict mode only).
    fn metadata(&mut self, is_help: bool, start: usize) -> Result<Option<Entry<'a>>, ParseError> {
        let keyword = if is_help { "HELP" } else { "TYPE" };
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
            b'\n' if self.strict.is_some() => return Ok(None),
            _ => return Err(self.expected(&format!("expected metric name after {keyword}"), start)),
        };
        let end = self.line_end();
        if self.strict.is_some() && self.pos == end {
            // expfmt ignores a HELP or TYPE line that ends right after the
            // name; only one with (possibly blank) text counts.
            return Ok(None);
        }
        let rest = &self.b[self.pos..end];
        // The lexer's `{C}*` text token loses a tie against the whitespace
        // token, so an all-blank rest is no text; otherwise the text is the
        // rest minus its first byte (normally the separating space).
        let text =
            if rest.iter().all(|&c| c == b' ' || c == b'\t') { &rest[..0] } else { &rest[1..] };
        self.pos = end;
        let line = self.line;
        self.end_line();
        if name != self.family.name {
            self.family = FamilyInfo { name, ..FamilyInfo::default() };
        }
        if is_help {
            if std::str::from_utf8(text).is_err() {
                return Err(ParseError::new(line, "help text is not valid UTF-8".to_owned()));
            }
            if let Some(strict) = &mut self.strict
                && !strict.helps.insert(name.to_vec())
            {
                return Err(ParseError::new(
                    line,
                    format!("second HELP line for metric name {:?}", String::from_utf8_lossy(name)),
                ));
            }
            let help = Text::new(text, Escaping::TextHelp);
            self.family.help = Some(help);
            Ok(Some(Entry::Help { name: Text::new(name, escaping), help }))
        } else {
            let metric_type = match (text, self.strict.is_some()) {
                (b"counter", _) => MetricType::Counter,
                (b"gauge", _) => MetricType::Gauge,
                (b"histogram", _) => MetricType::Histogram,
                (b"summary", _) => MetricType::Summary,
                (b"untyped", _) => MetricType::Unknown,
                _ => {
                    return Err(ParseError::new(
                        line,
                        format!("invalid metric type {:?}", String::from_utf8_lossy(text)),
                    ));
                }
            };
            if let Some(strict) = &mut self.strict {
                if !strict.types.insert(name.to_vec()) {
                    return Err(ParseError::new(
                        line,
                        format!(
                            "second TYPE line for metric name {:?}",
                            String::from_utf8_lossy(name)
                        ),
                    ));
                }
                if strict.sampled.contains(name) {
                    return Err(ParseError::new(
                        line,
                        format!(
                            "TYPE line for metric name {:?} after its samples",
                            String::from_utf8_lossy(name)
                        ),
                    ));
                }
            }
            self.family.metric_type = metric_type;
            self.last_type = metric_type;
            Ok(Some(Entry::Type { name: Text::new(name, escaping), metric_type }))
        }
    }

    /// Label pairs after `{`, up to and including `}`. Returns the metric
    /// name if a bare quoted string gave one.
    fn label_set(
        &mut self,
        start: usize,
        mut name: Option<Name>,
        family_type: MetricType,
    ) -> Result<Option<Name>, ParseError> {
        loop {
            self.skip_ws();
            let c = self.cur();
            if c == b'}' {
                self.pos += 1;
                return Ok(name);
            }
            let (lstart, lend, quoted) = if c == b'"' {
                let (len, newlines) = quoted_len(&self.b[self.pos..], true)
                    .ok_or_else(|| self.expected("expected label name", start))?;
                let span = (self.pos + 1, self.pos + len - 1, true);
                self.pos += len;
                self.line += newlines;
                span
            } else if is_label_start(c) {
                let len = label_name_len(&self.b[self.pos..]);
                let span = (self.pos, self.pos + len, false);
                self.pos += len;
                span
            } else {
                return Err(self.expected("expected label name", start));
            };
            self.skip_ws();
            let c = self.cur();
            if quoted && (c == b',' || c == b'}') {
                if name.is_some() {
                    return Err(self.err(format!(
                        "metric name already set while parsing {:?}",
                        String::from_utf8_lossy(&self.b[start..self.pos])
                    )));
                }
                name = Some(Name::Quoted(lstart, lend));
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
            self.skip_ws();
            let value_start = self.pos;
            let Quoted { len, newlines, ascii } = quoted_scan(&self.b[self.pos..], true)
                .ok_or_else(|| self.expected("expected label value", start))?;
            let value = &self.b[value_start + 1..value_start + len - 1];
            if !ascii && std::str::from_utf8(value).is_err() {
                return Err(self.err(format!(
                    "invalid UTF-8 label value {:?}",
                    String::from_utf8_lossy(value)
                )));
            }
            if self.strict.is_some() {
                self.check_label_strictly(&self.b[lstart..lend], value, newlines, family_type)?;
            }
            self.pos += len;
            self.line += newlines;
            self.skip_ws();
            if self.cur() == b',' {
                self.pos += 1;
            }
        }
    }

    fn check_label_strictly(
        &self,
        name: &[u8],
        value: &[u8],
        newlines: usize,
        family_type: MetricType,
    ) -> Result<(), ParseError> {
        if newlines > 0 {
            return Err(self.err("raw newline in label value"));
        }
        if !has_only_standard_escapes(value) {
            return Err(self.err("invalid escape sequence in label value"));
        }
        if name == b"__name__" {
            return Err(self.err("label name \"__name__\" is reserved"));
        }
        let numeric = matches!(
            (family_type, name),
            (MetricType::Histogram, b"le") | (MetricType::Summary, b"quantile")
        );
        if numeric && parse_float(value).is_none() {
            return Err(self.err(format!(
                "expected float as value for {:?} label, got {:?}",
                String::from_utf8_lossy(name),
                String::from_utf8_lossy(value)
            )));
        }
        Ok(())
    }

    fn sample(&mut self) -> Result<Option<Entry<'a>>, ParseError> {
        let start = self.pos;
        let line = self.line;
        let mut name = None;
        let mut series_end;
        if is_metric_start(self.cur()) {
            let len = metric_name_len(&self.b[self.pos..]);
            name = Some(Name::Plain(self.pos, self.pos + len));
            self.pos += len;
            series_end = self.pos;
            self.skip_ws();
        } else {
            series_end = self.pos;
        }
        let metric = if self.cur() == b'{' {
            self.pos += 1;
            // Strict checks of `le`/`quantile` need the sample's family type.
            let family_type = match name {
                Some(Name::Plain(s, e)) if self.strict.is_some() => {
                    self.family.for_metric(&self.b[s..e]).metric_type
                }
                _ => MetricType::Unknown,
            };
            let n = self.label_set(start, name, family_type)?;
            series_end = self.pos;
            n
        } else {
            name
        };
        let (ns, ne) = match metric {
            Some(Name::Plain(s, e) | Name::Quoted(s, e)) => (s, e),
            None => {
                return Err(self.err(format!(
                    "metric name not set while parsing {:?}",
                    String::from_utf8_lossy(&self.b[start..self.pos])
                )));
            }
        };
        let metric_name = &self.b[ns..ne];
        let series = &self.b[start..series_end];
        self.skip_ws();
        let value_start = self.pos;
        while let Some(&c) = self.b.get(self.pos) {
            if matches!(c, b'{' | b' ' | b'\t' | b'\n' | 0) {
                break;
            }
            self.pos += 1;
        }
        if self.pos == value_start {
            return Err(self.expected("expected value after metric", start));
        }
        let raw_value = &self.b[value_start..self.pos];
        let value = parse_float(raw_value).ok_or_else(|| {
            self.err(format!(
                "invalid value {:?} while parsing {:?}",
                String::from_utf8_lossy(raw_value),
                String::from_utf8_lossy(&self.b[start..self.pos])
            ))
        })?;
        self.skip_ws();
        let mut timestamp_ms = None;
        if self.cur() != b'\n' {
            let ts_start = self.pos;
            let strict = self.strict.is_some();
            if strict && matches!(self.cur(), b'+' | b'-') {
                self.pos += 1;
            }
            while self.cur().is_ascii_digit() && self.pos < self.b.len() {
                self.pos += 1;
            }
            let raw_ts = &self.b[ts_start..self.pos];
            if raw_ts.is_empty() || !raw_ts.iter().any(u8::is_ascii_digit) {
                self.pos = ts_start;
                return Err(self.expected("expected timestamp or new record", start));
            }
            timestamp_ms = Some(parse_int_ms(raw_ts, strict).ok_or_else(|| {
                self.err(format!("invalid timestamp {:?}", String::from_utf8_lossy(raw_ts)))
            })?);
            self.skip_ws();
            if self.cur() != b'\n' {
                return Err(self.expected("expected next entry after timestamp", start));
            }
        }
        self.end_line();
        let family = self.sample_family(metric_name);
        Ok(Some(Entry::Sample(Sample {
            series,
            value,
            timestamp_ms,
            exemplar: None,
            family,
            line,
            norm: LabelNorm::for_type(self.last_type),
        })))
    }

    /// Records, in strict mode, that `metric_name` had samples.
    fn set_sample_family(&mut self, metric_name: &[u8]) {
        if let Some(strict) = &mut self.strict {
            if !strict.sampled.contains(metric_name) {
                strict.sampled.insert(metric_name.to_vec());
            }
            let family = self.family.for_metric(metric_name);
            if matches!(family.metric_type, MetricType::Histogram | MetricType::Summary)
                && !strict.sampled.contains(family.name)
            {
                strict.sampled.insert(family.name.to_vec());
            }
        }
    }

    fn sample_family(&mut self, metric_name: &'a [u8]) -> FamilyInfo<'a> {
        if self.strict.is_some() {
            self.set_sample_family(metric_name);
        }
        self.family.for_metric(metric_name)
    }
}

impl<'a> ExpositionParser<'a> for TextParser<'a> {
    fn next_entry(&mut self) -> Result<Option<Entry<'a>>, ParseError> {
        loop {
            self.skip_ws();
            let Some(&c) = self.b.get(self.pos) else {
                if self.strict.is_some() && self.b.last().is_some_and(|&l| l != b'\n') {
                    return Err(self.err("unexpected end of input: no newline after the last line"));
                }
                return Ok(None);
            };
            match c {
                // Prometheus' lexer treats a NUL at the start of a token as
                // the end of the input.
                0 => {
                    self.pos = self.b.len();
                    return Ok(None);
                }
                b'\n' => self.end_line(),
                b'#' => {
                    if let Some(entry) = self.comment()? {
                        return Ok(Some(entry));
                    }
                }
                c if c == b'{' || is_metric_start(c) => return self.sample(),
                _ => return Err(self.expected("expected a valid start token", self.pos)),
            }
        }
    }

    fn format(&self) -> Format {
        Format::PrometheusText
    }
}

#[cfg(test)]
mod tests;
