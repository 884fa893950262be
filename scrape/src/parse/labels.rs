//! Decoding a series' bytes (`name{labels}`) into names and values, and the
//! reusable buffer they are decoded into.
//!
//! The parsers have already checked the syntax when they yielded the sample,
//! so decoding is a second, cheap pass that only runs on a scrape-cache miss.
//! It still reports malformed input instead of trusting the caller, because
//! [`parse_series`] is also reachable through exemplars and tests.

use promethium_engine::model::{Labels, LabelsBuilder, METRIC_NAME};

use super::ParseError;
use super::lex::{
    format_openmetrics_float, label_name_len, metric_name_len, parse_float, quoted_len,
};

/// A reusable buffer of decoded label pairs, in body order.
///
/// All names and values live in one `String`, so decoding a series costs no
/// allocation once the buffer has grown to the largest series seen.
#[derive(Debug, Clone, Default)]
pub struct LabelBuf {
    text: String,
    /// (name start, name end, value end); the value starts at name end.
    spans: Vec<(u32, u32, u32)>,
}

impl LabelBuf {
    /// An empty buffer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Removes every pair, keeping capacity.
    pub fn clear(&mut self) {
        self.text.clear();
        self.spans.clear();
    }

    /// Appends a pair.
    pub fn push(&mut self, name: &str, value: &str) {
        let start = self.text.len() as u32;
        self.text.push_str(name);
        let mid = self.text.len() as u32;
        self.text.push_str(value);
        self.spans.push((start, mid, self.text.len() as u32));
    }

    /// Number of pairs.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// Whether there are no pairs.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// The pairs in the order they were pushed.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.spans.iter().map(|&(s, m, e)| {
            (&self.text[s as usize..m as usize], &self.text[m as usize..e as usize])
        })
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    /// The metric name (`__name__`).
    pub fn metric_name(&self) -> Option<&str> {
        self.get(METRIC_NAME)
    }

    /// Sorts the pairs by name and builds a [`Labels`], dropping empty values
    /// (an empty value means "no label", as in Prometheus). A repeated name
    /// is an error, as in Prometheus' scrape (`duplicate label names`).
    pub fn to_labels(&mut self) -> Result<Labels, ParseError> {
        let text = &self.text;
        let name = |&(s, m, _): &(u32, u32, u32)| &text[s as usize..m as usize];
        self.spans.sort_unstable_by(|a, b| name(a).cmp(name(b)));
        for w in self.spans.windows(2) {
            if name(&w[0]) == name(&w[1]) {
                return Err(ParseError::new(0, format!("duplicate label name {:?}", name(&w[0]))));
            }
        }
        Ok(Labels::from_sorted_unique(
            self.spans
                .iter()
                .filter(|&&(_, m, e)| m < e)
                .map(|&(s, m, e)| (&text[s as usize..m as usize], &text[m as usize..e as usize])),
        ))
    }

    /// Replaces `builder`'s contents with these pairs (later duplicates win,
    /// empty values are dropped, as the builder does).
    pub fn write_into(&self, builder: &mut LabelsBuilder) {
        builder.retain(|_, _| false);
        for (n, v) in self.iter() {
            builder.set(n, v);
        }
    }

    /// Appends `raw` (a quoted string's content) to the text, unescaping
    /// `\\`, `\"` and `\n`; other backslashes stay literal, as in Prometheus.
    fn push_unescaped(&mut self, raw: &str) {
        let mut rest = raw;
        while let Some(i) = rest.find('\\') {
            self.text.push_str(&rest[..i]);
            let decoded = match rest.as_bytes().get(i + 1) {
                Some(b'\\') => Some('\\'),
                Some(b'"') => Some('"'),
                Some(b'n') => Some('\n'),
                _ => None,
            };
            match decoded {
                Some(c) => {
                    self.text.push(c);
                    rest = &rest[i + 2..];
                }
                None => {
                    self.text.push('\\');
                    rest = &rest[i + 1..];
                }
            }
        }
        self.text.push_str(rest);
    }

    /// Pushes a pair; `name` is unescaped when it was quoted, `value` always.
    fn push_pair(&mut self, name: &str, name_quoted: bool, value: &str) {
        let start = self.text.len() as u32;
        if name_quoted {
            self.push_unescaped(name);
        } else {
            self.text.push_str(name);
        }
        let mid = self.text.len() as u32;
        self.push_unescaped(value);
        self.spans.push((start, mid, self.text.len() as u32));
    }
}

fn skip_ws(s: &[u8], mut i: usize) -> usize {
    while i < s.len() && (s[i] == b' ' || s[i] == b'\t') {
        i += 1;
    }
    i
}

fn malformed(what: &str) -> ParseError {
    ParseError::new(0, format!("malformed series: {what}"))
}

/// Which label value Prometheus rewrites into canonical float form, decided
/// by the last `# TYPE` line it saw (its parsers keep that type across
/// families, so this is deliberately not per family).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum LabelNorm {
    /// Nothing is rewritten.
    #[default]
    None,
    /// `le` (after a histogram `# TYPE`).
    Le,
    /// `quantile` (after a summary `# TYPE`).
    Quantile,
}

impl LabelNorm {
    pub(crate) fn for_type(t: promethium_engine::model::MetricType) -> Self {
        use promethium_engine::model::MetricType;
        match t {
            MetricType::Histogram => LabelNorm::Le,
            MetricType::Summary => LabelNorm::Quantile,
            _ => LabelNorm::None,
        }
    }
}

/// Decodes a whole series (`name`, `name{…}` or `{"name", …}`) into `buf`,
/// the metric name first as `__name__`. With `norm`, an `le`/`quantile`
/// value that parses as a float is rewritten as Prometheus does (`1` becomes
/// `1.0`), so the same bucket always has the same label.
pub(crate) fn parse_series(
    series: &[u8],
    buf: &mut LabelBuf,
    norm: LabelNorm,
) -> Result<(), ParseError> {
    parse_series_raw(series, buf)?;
    let target = match norm {
        LabelNorm::None => return Ok(()),
        LabelNorm::Le => "le",
        LabelNorm::Quantile => "quantile",
    };
    let found = buf.iter().position(|(n, _)| n == target);
    if let Some(i) = found {
        let (_, m, e) = buf.spans[i];
        // Go's ParseFloat would also take hex floats here; exporters never
        // write them in `le` or `quantile`.
        if let Some(v) = parse_float(&buf.text.as_bytes()[m as usize..e as usize]) {
            // Appending the new value and repointing the span keeps every
            // other span valid; the old bytes are just unused.
            let name_start = buf.text.len() as u32;
            buf.text.push_str(target);
            let mid = buf.text.len() as u32;
            format_openmetrics_float(v, &mut buf.text);
            buf.spans[i] = (name_start, mid, buf.text.len() as u32);
        }
    }
    Ok(())
}

/// The series is validated as UTF-8 once; every later slice boundary is an
/// ASCII delimiter, so slicing the `&str` never splits a character.
fn parse_series_raw(series: &[u8], buf: &mut LabelBuf) -> Result<(), ParseError> {
    let series = std::str::from_utf8(series)
        .map_err(|_| ParseError::new(0, "invalid UTF-8 in series".to_owned()))?;
    let bytes = series.as_bytes();
    let n = metric_name_len(bytes);
    if n > 0 {
        buf.push_pair(METRIC_NAME, false, &series[..n]);
    }
    let i = skip_ws(bytes, n);
    if i == bytes.len() {
        return if n > 0 { Ok(()) } else { Err(malformed("no metric name")) };
    }
    if bytes[i] != b'{' || bytes.last() != Some(&b'}') {
        return Err(malformed("expected label set"));
    }
    parse_pairs(&series[i + 1..series.len() - 1], buf, n == 0)
}

/// Decodes the inside of a label set (between the braces) into `buf`.
pub(crate) fn parse_label_pairs(inner: &[u8], buf: &mut LabelBuf) -> Result<(), ParseError> {
    let inner = std::str::from_utf8(inner)
        .map_err(|_| ParseError::new(0, "invalid UTF-8 in labels".to_owned()))?;
    parse_pairs(inner, buf, false)
}

/// The comma-separated pairs of a label set. With `allow_name`, one bare
/// quoted string is the metric name (Prometheus 3's UTF-8 syntax).
fn parse_pairs(text: &str, buf: &mut LabelBuf, allow_name: bool) -> Result<(), ParseError> {
    let s = text.as_bytes();
    let mut i = skip_ws(s, 0);
    while i < s.len() {
        let (name, quoted, after) = if s[i] == b'"' {
            let q = quoted_len(&s[i..], true)
                .map(|(l, _)| l)
                .ok_or_else(|| malformed("unterminated quoted name"))?;
            (&text[i + 1..i + q - 1], true, i + q)
        } else {
            let l = label_name_len(&s[i..]);
            if l == 0 {
                return Err(malformed("invalid label name"));
            }
            (&text[i..i + l], false, i + l)
        };
        i = skip_ws(s, after);
        if quoted && (i == s.len() || s[i] == b',') {
            if !allow_name || buf.metric_name().is_some() {
                return Err(malformed("metric name given twice"));
            }
            buf.push_pair(METRIC_NAME, false, name);
        } else {
            if s.get(i) != Some(&b'=') {
                return Err(malformed("expected '='"));
            }
            i = skip_ws(s, i + 1);
            let q = quoted_len(&s[i..], true)
                .map(|(l, _)| l)
                .ok_or_else(|| malformed("expected quoted label value"))?;
            buf.push_pair(name, quoted, &text[i + 1..i + q - 1]);
            i = skip_ws(s, i + q);
        }
        // The text format allows a missing comma between pairs; the
        // parsers have already enforced each format's rule.
        if s.get(i) == Some(&b',') {
            i = skip_ws(s, i + 1);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(series: &str) -> Result<Vec<(String, String)>, ParseError> {
        let mut buf = LabelBuf::new();
        parse_series(series.as_bytes(), &mut buf, LabelNorm::None)?;
        Ok(buf.iter().map(|(n, v)| (n.to_owned(), v.to_owned())).collect())
    }

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter().map(|(n, v)| ((*n).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn decodes_classic_and_utf8_series() {
        assert_eq!(decode("up").unwrap(), pairs(&[("__name__", "up")]));
        assert_eq!(
            decode(r#"up{job="a\"b",x="1\\2\n", }"#).unwrap(),
            pairs(&[("__name__", "up"), ("job", "a\"b"), ("x", "1\\2\n")])
        );
        assert_eq!(
            decode(r#"{"my.metric", "label.name"="v"}"#).unwrap(),
            pairs(&[("__name__", "my.metric"), ("label.name", "v")])
        );
        assert_eq!(decode(r#"{a="1", "m"}"#).unwrap(), pairs(&[("a", "1"), ("__name__", "m")]));
        assert!(decode(r#"up{"x"}"#).is_err());
        assert!(decode(r#"up{a=b}"#).is_err());
        assert!(decode("").is_err());
    }

    #[test]
    fn le_and_quantile_are_normalised_like_prometheus() {
        let mut buf = LabelBuf::new();
        parse_series(br#"h_bucket{a="x",le="1"}"#, &mut buf, LabelNorm::Le).unwrap();
        assert_eq!(buf.get("le"), Some("1.0"));
        assert_eq!(buf.get("a"), Some("x"));
        buf.clear();
        parse_series(br#"h_bucket{le="+Inf"}"#, &mut buf, LabelNorm::Le).unwrap();
        assert_eq!(buf.get("le"), Some("+Inf"));
        buf.clear();
        parse_series(br#"s{quantile="0.50"}"#, &mut buf, LabelNorm::Quantile).unwrap();
        assert_eq!(buf.get("quantile"), Some("0.5"));
        buf.clear();
        parse_series(br#"s{quantile="x"}"#, &mut buf, LabelNorm::Quantile).unwrap();
        assert_eq!(buf.get("quantile"), Some("x"));
        buf.clear();
        parse_series(br#"s{le="1"}"#, &mut buf, LabelNorm::Quantile).unwrap();
        assert_eq!(buf.get("le"), Some("1"));
    }

    #[test]
    fn to_labels_sorts_drops_empty_and_rejects_duplicates() {
        let mut buf = LabelBuf::new();
        parse_series(br#"up{b="2",a="1",c=""}"#, &mut buf, LabelNorm::None).unwrap();
        assert_eq!(
            buf.to_labels().unwrap(),
            Labels::new([("__name__", "up"), ("a", "1"), ("b", "2")])
        );
        buf.clear();
        parse_series(br#"up{a="2",a="1"}"#, &mut buf, LabelNorm::None).unwrap();
        assert!(buf.to_labels().is_err());
        let mut b = LabelsBuilder::new();
        b.set("stale", "x");
        buf.clear();
        buf.push("k", "v");
        buf.write_into(&mut b);
        assert_eq!(b.build(), Labels::new([("k", "v")]));
    }
}
