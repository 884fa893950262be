//! Strict OpenMetrics checks layered over the Prometheus-compatible parser.
//!
//! Prometheus' scrape parser checks syntax only. The OpenMetrics
//! specification also has semantic rules, which its test suite enforces and
//! which [`super::Validation::Strict`] turns on through this checker:
//!
//! * a family's metadata comes once each, before its samples, and a family
//!   (or a sample name one declares, such as `a_created` for counter `a`)
//!   appears in one contiguous block;
//! * within a family, each label set (minus `le`/`quantile`) is contiguous and
//!   a series' timestamps never go back or come and go;
//! * counters, histogram counts and buckets are not NaN or negative;
//!   histogram buckets increase in `le` and value, end at `+Inf`, match
//!   `_count`, and come with both or neither of `_sum`/`_count`
//!   (`_gsum`/`_gcount`); no `_sum` beside negative buckets;
//! * summaries have `quantile` labels in [0, 1]; info values are 1;
//!   stateset values are 0 or 1 and carry the label named after the family;
//! * exemplars only on counter `_total` and histogram `_bucket` samples, with
//!   at most 128 code points of label names and values; info and stateset
//!   families have no unit.
//!
//! It runs on the slow path (it decodes labels and allocates per sample), so
//! it is for validation, never for scraping.

use std::collections::{HashMap, HashSet};

use promethium_engine::model::MetricType;

use super::labels::{LabelBuf, LabelNorm, parse_label_pairs, parse_series};
use super::lex::parse_float;
use super::{Entry, Sample};

/// The longest exemplar label set, in code points of names and values.
const MAX_EXEMPLAR_LABEL_CHARS: usize = 128;

/// Sample-name suffixes each type allows after the family name.
fn suffixes(t: MetricType) -> &'static [&'static str] {
    match t {
        MetricType::Counter => &["_total", "_created"],
        MetricType::Histogram => &["_bucket", "_count", "_sum", "_created"],
        MetricType::GaugeHistogram => &["_bucket", "_gcount", "_gsum"],
        MetricType::Summary => &["", "_count", "_sum", "_created"],
        MetricType::Info => &["_info"],
        MetricType::Gauge | MetricType::StateSet | MetricType::Unknown => &[""],
    }
}

/// Semantic OpenMetrics checks, fed every entry in order.
#[derive(Debug, Default)]
pub(crate) struct OpenMetricsChecker {
    /// Every family name begun so far.
    families: HashSet<Vec<u8>>,
    /// Every sample name the families before the current one may produce.
    reserved: HashSet<Vec<u8>>,
    current: Option<Family>,
    buf: LabelBuf,
}

#[derive(Debug, Default)]
struct Family {
    name: Vec<u8>,
    metric_type: Option<MetricType>,
    has_help: bool,
    has_unit: bool,
    sampled: bool,
    groups_done: HashSet<String>,
    group: Option<Group>,
    /// Last timestamp per series (`None`: the series has none).
    last_ts: HashMap<Vec<u8>, Option<i64>>,
}

impl Family {
    fn metric_type(&self) -> MetricType {
        self.metric_type.unwrap_or(MetricType::Unknown)
    }

    /// The suffix `metric_name` has in this family, if it belongs to it.
    fn suffix_of<'n>(&self, metric_name: &'n [u8]) -> Option<&'n [u8]> {
        let rest = metric_name.strip_prefix(self.name.as_slice())?;
        suffixes(self.metric_type()).iter().any(|s| s.as_bytes() == rest).then_some(rest)
    }

    fn sample_names(&self) -> impl Iterator<Item = Vec<u8>> + '_ {
        suffixes(self.metric_type()).iter().map(|s| [self.name.as_slice(), s.as_bytes()].concat())
    }
}

/// One label set's samples within a histogram-like family.
#[derive(Debug, Default)]
struct Group {
    key: String,
    /// (le, raw le, value) in order of appearance.
    buckets: Vec<(f64, String, f64)>,
    count: Option<f64>,
    sum: Option<f64>,
}

fn bad(msg: impl Into<String>) -> Result<(), String> {
    Err(msg.into())
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

impl OpenMetricsChecker {
    /// Checks a metadata line.
    pub(crate) fn metadata(&mut self, entry: &Entry<'_>) -> Result<(), String> {
        let (name, kind) = match entry {
            Entry::Help { name, .. } => (name.raw(), "HELP"),
            Entry::Type { name, .. } => (name.raw(), "TYPE"),
            Entry::Unit { name, .. } => (name.raw(), "UNIT"),
            _ => return Ok(()),
        };
        if self.current.as_ref().is_none_or(|f| f.name != name) {
            self.begin_family(name)?;
        }
        let family = self.current.as_mut().expect("begin_family sets the current family");
        if family.sampled {
            return bad(format!("{kind} for metric family {:?} after its samples", lossy(name)));
        }
        match entry {
            Entry::Help { .. } if std::mem::replace(&mut family.has_help, true) => {
                return bad(format!("second HELP for metric family {:?}", lossy(name)));
            }
            Entry::Unit { .. } => {
                if std::mem::replace(&mut family.has_unit, true) {
                    return bad(format!("second UNIT for metric family {:?}", lossy(name)));
                }
                if matches!(family.metric_type, Some(MetricType::Info | MetricType::StateSet)) {
                    return bad(format!(
                        "metric family {:?} of this type cannot have a unit",
                        lossy(name)
                    ));
                }
            }
            Entry::Type { metric_type, .. } => {
                if family.metric_type.is_some() {
                    return bad(format!("second TYPE for metric family {:?}", lossy(name)));
                }
                family.metric_type = Some(*metric_type);
                if family.has_unit && matches!(metric_type, MetricType::Info | MetricType::StateSet)
                {
                    return bad(format!(
                        "metric family {:?} of this type cannot have a unit",
                        lossy(name)
                    ));
                }
                for sample_name in family.sample_names() {
                    if self.reserved.contains(&sample_name) {
                        return bad(format!(
                            "metric family {:?} clashes with an earlier family",
                            lossy(name)
                        ));
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Ends the current family and starts one named `name`.
    fn begin_family(&mut self, name: &[u8]) -> Result<(), String> {
        self.end_family()?;
        if !self.families.insert(name.to_vec()) || self.reserved.contains(name) {
            return bad(format!(
                "metric family {:?} is not contiguous or clashes with another",
                lossy(name)
            ));
        }
        self.current = Some(Family { name: name.to_vec(), ..Family::default() });
        Ok(())
    }

    fn end_family(&mut self) -> Result<(), String> {
        if let Some(mut family) = self.current.take() {
            if let Some(group) = family.group.take() {
                check_group(&family, &group)?;
            }
            self.reserved.extend(family.sample_names());
            self.reserved.insert(family.name);
        }
        Ok(())
    }

    /// Checks a sample line.
    pub(crate) fn sample(&mut self, sample: &Sample<'_>, metric_name: &[u8]) -> Result<(), String> {
        let belongs = self.current.as_ref().and_then(|f| f.suffix_of(metric_name)).is_some();
        if !belongs {
            self.begin_family(metric_name)?;
        }
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        let result = self.check_sample(sample, metric_name, &mut buf);
        self.buf = buf;
        result
    }

    fn check_sample(
        &mut self,
        sample: &Sample<'_>,
        metric_name: &[u8],
        buf: &mut LabelBuf,
    ) -> Result<(), String> {
        let family = self.current.as_mut().expect("sample() sets the current family");
        family.sampled = true;
        let t = family.metric_type();
        let suffix =
            family.suffix_of(metric_name).expect("the sample belongs to the current family");
        let suffix = std::str::from_utf8(suffix).expect("suffixes are ASCII");
        parse_series(sample.series(), buf, LabelNorm::None).map_err(|e| e.to_string())?;
        let v = sample.value();

        // Timestamps per series: present on all lines or none, never decreasing.
        match family.last_ts.get(sample.series()) {
            Some(prev) if prev.is_some() != sample.timestamp_ms().is_some() => {
                return bad("a series mixes lines with and without timestamps");
            }
            Some(Some(prev)) if sample.timestamp_ms().is_some_and(|ts| ts < *prev) => {
                return bad("timestamps of a series go backwards");
            }
            _ => {}
        }
        family.last_ts.insert(sample.series().to_vec(), sample.timestamp_ms());

        // Label groups are contiguous.
        let skip = match (t, suffix) {
            (MetricType::Histogram | MetricType::GaugeHistogram, "_bucket") => Some("le"),
            (MetricType::Summary, "") => Some("quantile"),
            _ => None,
        };
        let mut pairs: Vec<(&str, &str)> =
            buf.iter().filter(|(n, _)| *n != "__name__" && Some(*n) != skip).collect();
        pairs.sort_unstable();
        let key = pairs.iter().map(|(n, v)| format!("{n}={v:?}")).collect::<Vec<_>>().join(",");
        if family.group.as_ref().is_none_or(|g| g.key != key) {
            if let Some(done) = family.group.take() {
                check_group(family, &done)?;
                family.groups_done.insert(done.key);
            }
            if family.groups_done.contains(&key) {
                return bad(format!("label set {{{key}}} is not contiguous within its family"));
            }
            family.group = Some(Group { key, ..Group::default() });
        }
        let group = family.group.as_mut().expect("set above");

        let exemplar_allowed = matches!(
            (t, suffix),
            (MetricType::Counter, "_total")
                | (MetricType::Histogram | MetricType::GaugeHistogram, "_bucket")
        );
        if let Some(ex) = sample.exemplar() {
            if !exemplar_allowed {
                return bad("exemplars are only allowed on counter totals and histogram buckets");
            }
            let mut ebuf = LabelBuf::new();
            parse_label_pairs(ex.labels, &mut ebuf).map_err(|e| e.to_string())?;
            let chars: usize =
                ebuf.iter().map(|(n, v)| n.chars().count() + v.chars().count()).sum();
            if chars > MAX_EXEMPLAR_LABEL_CHARS {
                return bad(format!(
                    "exemplar labels have {chars} characters, more than {MAX_EXEMPLAR_LABEL_CHARS}"
                ));
            }
        }

        let not_negative = |what: &str| {
            if v.is_nan() || v < 0.0 {
                bad(format!("{what} must not be NaN or negative, got {v}"))
            } else {
                Ok(())
            }
        };
        match (t, suffix) {
            (MetricType::Counter, "_total") => not_negative("a counter value")?,
            (MetricType::Histogram | MetricType::GaugeHistogram, "_bucket") => {
                not_negative("a bucket value")?;
                let Some(raw_le) = buf.get("le") else {
                    return bad("a histogram bucket needs an le label");
                };
                let le = parse_float(raw_le.as_bytes())
                    .filter(|f| !f.is_nan())
                    .ok_or_else(|| format!("invalid le label value {raw_le:?}"))?;
                if let Some(&(prev_le, _, prev_v)) = group.buckets.last() {
                    if le <= prev_le {
                        return bad("histogram buckets must be in increasing le order");
                    }
                    if v < prev_v {
                        return bad("histogram bucket values must not decrease");
                    }
                }
                group.buckets.push((le, raw_le.to_owned(), v));
            }
            (MetricType::Histogram, "_count") | (MetricType::GaugeHistogram, "_gcount") => {
                not_negative("a histogram count")?;
                group.count = Some(v);
            }
            (MetricType::Histogram, "_sum") | (MetricType::GaugeHistogram, "_gsum") => {
                if v.is_nan() {
                    return bad("a histogram sum must not be NaN");
                }
                group.sum = Some(v);
            }
            (MetricType::Summary, "_count" | "_sum") => not_negative("a summary count or sum")?,
            (MetricType::Summary, "") => {
                let Some(q) = buf.get("quantile") else {
                    return bad("a summary quantile needs a quantile label");
                };
                match parse_float(q.as_bytes()) {
                    Some(q) if (0.0..=1.0).contains(&q) => {}
                    _ => return bad(format!("invalid quantile {q:?}")),
                }
                if v < 0.0 {
                    return bad("a quantile value must not be negative");
                }
            }
            (MetricType::Info, _) if v != 1.0 => {
                return bad("an info value must be 1");
            }
            (MetricType::StateSet, _) => {
                if v != 0.0 && v != 1.0 {
                    return bad("a stateset value must be 0 or 1");
                }
                let name = std::str::from_utf8(&family.name).unwrap_or("");
                if buf.get(name).is_none() {
                    return bad(format!("a stateset sample needs a {name:?} label"));
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Checks at `# EOF`.
    pub(crate) fn finish(&mut self) -> Result<(), String> {
        self.end_family()
    }
}

/// Checks a finished label group of a histogram-like family.
fn check_group(family: &Family, group: &Group) -> Result<(), String> {
    let t = family.metric_type();
    if !matches!(t, MetricType::Histogram | MetricType::GaugeHistogram) {
        return Ok(());
    }
    let Some((_, raw_le, inf_value)) = group.buckets.last() else {
        return bad("a histogram needs buckets");
    };
    if raw_le != "+Inf" {
        return bad("a histogram's last bucket must be le=\"+Inf\"");
    }
    if group.count.is_some() != group.sum.is_some() {
        return bad("a histogram needs both or neither of its count and sum");
    }
    if group.count.is_some_and(|c| c != *inf_value) {
        return bad("a histogram count must equal its +Inf bucket");
    }
    let negative_buckets = group.buckets.iter().any(|(le, _, _)| *le < 0.0);
    if let Some(sum) = group.sum {
        if t == MetricType::Histogram && negative_buckets {
            return bad("a histogram with negative buckets must not have a sum");
        }
        if sum < 0.0 && !negative_buckets {
            return bad("a histogram sum must not be negative");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::parse::{ExpositionParser, OpenMetricsParser, ParseError, Validation};

    fn strict(body: &str) -> Result<usize, ParseError> {
        let mut p = OpenMetricsParser::with_validation(body.as_bytes(), Validation::Strict);
        let mut n = 0;
        while p.next_entry()?.is_some() {
            n += 1;
        }
        Ok(n)
    }

    fn rejects(body: &str, why: &str) {
        let err = strict(body).expect_err(body);
        assert!(err.to_string().contains(why), "{body:?}: {err}");
    }

    #[test]
    fn accepts_well_formed_families() {
        let body = "# TYPE h_seconds histogram\n# UNIT h_seconds seconds\nh_seconds_bucket{a=\"1\",le=\"0.5\"} 1 # {t=\"x\"} 0.2\nh_seconds_bucket{a=\"1\",le=\"+Inf\"} 2\nh_seconds_sum{a=\"1\"} 3\nh_seconds_count{a=\"1\"} 2\nh_seconds_bucket{a=\"2\",le=\"+Inf\"} 0\n# TYPE c counter\nc_total 1 1\nc_total 2 2\nc_created 0\n# TYPE s stateset\ns{s=\"on\"} 1\n# TYPE i info\ni_info{v=\"1\"} 1\n# TYPE q summary\nq{quantile=\"0.5\"} 1\nq_sum 1\nq_count 1\n# EOF\n";
        assert_eq!(strict(body).unwrap(), 19);
    }

    #[test]
    fn rejects_semantic_violations() {
        rejects("# TYPE a counter\n# TYPE a counter\n# EOF\n", "second TYPE");
        rejects("# TYPE a gauge\na 1\n# HELP a x\n# EOF\n", "after its samples");
        rejects("# TYPE a_created gauge\n# TYPE a counter\n# EOF\n", "clashes");
        rejects(
            "# TYPE a gauge\na 1\n# TYPE b gauge\nb 1\n# TYPE a gauge\n# EOF\n",
            "not contiguous",
        );
        rejects("# TYPE a counter\na_total -1\n# EOF\n", "negative");
        rejects(
            "# TYPE a histogram\na_bucket{le=\"2\"} 0\na_bucket{le=\"1\"} 0\n# EOF\n",
            "increasing le",
        );
        rejects("# TYPE a histogram\na_bucket{le=\"1\"} 0\n# EOF\n", "+Inf");
        rejects(
            "# TYPE a histogram\na_bucket{le=\"+Inf\"} 1\na_count 2\na_sum 1\n# EOF\n",
            "must equal",
        );
        rejects("# TYPE a histogram\na_sum 1\n# EOF\n", "needs buckets");
        rejects("# TYPE a summary\na{quantile=\"1.5\"} 0\n# EOF\n", "invalid quantile");
        rejects("# TYPE a stateset\na{b=\"x\"} 1\n# EOF\n", "needs a \"a\" label");
        rejects("# TYPE a info\na_info 2\n# EOF\n", "must be 1");
        rejects("# TYPE a gauge\na 1 # {x=\"y\"} 1\n# EOF\n", "exemplars are only allowed");
        rejects("# TYPE a gauge\na 0 2\na 0 1\n# EOF\n", "backwards");
        rejects(
            "# TYPE a gauge\na{x=\"1\"} 0\na{x=\"2\"} 0\na{x=\"1\"} 0\n# EOF\n",
            "not contiguous",
        );
        rejects("a{x=\"1\",} 0\n# EOF\n", "trailing comma");
        rejects("# TYPE a_u info\n# UNIT a_u u\n# EOF\n", "cannot have a unit");
    }
}
