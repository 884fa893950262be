//! The exporter model: one target's series (counters, gauges, histograms,
//! summaries with realistic labels) and their text exposition, where every
//! value is a deterministic function of the scrape time so all servers under
//! test see the same data.

use std::fmt::Write as _;

/// Values count from this instant (2026-01-01T00:00:00Z) so counters stay in a
/// realistic range instead of growing with the Unix epoch.
const EPOCH_S: f64 = 1_767_225_600.0;

const METHODS: [&str; 4] = ["GET", "POST", "PUT", "DELETE"];
const CODES: [&str; 4] = ["200", "404", "500", "503"];
const BUCKETS: [f64; 10] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];
const QUANTILES: [&str; 3] = ["0.5", "0.9", "0.99"];

#[derive(Clone, Copy)]
enum Kind {
    /// Monotonic counter with a per-series rate.
    Counter,
    /// Integer gauge wandering around a per-series level.
    Gauge,
    /// Cumulative histogram bucket: share of the group's count below `le`.
    Bucket(f64),
    HistogramSum,
    HistogramCount,
    /// Summary quantile value in seconds.
    Quantile(f64),
    SummarySum,
    SummaryCount,
}

struct Line {
    /// `name{labels} `, ready to append the value to.
    prefix: String,
    kind: Kind,
    /// Per-series rate/level seed.
    seed: u32,
}

/// One family's `# HELP`/`# TYPE` header followed by its lines.
struct Family {
    header: String,
    lines: Vec<Line>,
}

/// A target's full set of series, with headers, laid out once at start-up.
pub(crate) struct Target {
    families: Vec<Family>,
    series: usize,
}

impl Target {
    /// Lays out about `series` series for target `index`: the mix repeats
    /// 400 counters, 400 gauges, 650 histogram and 250 summary series, and a
    /// 300-series gauge family, per 2,000, and is cut at whole label groups.
    pub(crate) fn new(index: usize, series: usize) -> Self {
        let mut b = Builder { families: Vec::new(), series: 0, target: index };
        let mut round = 0;
        while b.series < series {
            b.round(round, series);
            round += 1;
        }
        Self { families: b.families, series: b.series }
    }

    /// Number of series this target exposes.
    pub(crate) fn series(&self) -> usize {
        self.series
    }

    /// Renders the text exposition at time `t_s` (Unix seconds).
    pub(crate) fn render(&self, t_s: f64, out: &mut String) {
        let t = (t_s - EPOCH_S).max(0.0);
        for f in &self.families {
            out.push_str(&f.header);
            for line in &f.lines {
                out.push_str(&line.prefix);
                let rate = 1.0 + f64::from(line.seed % 40) * 0.25;
                match line.kind {
                    Kind::Counter => push_num(out, (t * rate).floor()),
                    Kind::Gauge => {
                        let level = f64::from(100 + line.seed % 900);
                        let phase = f64::from(line.seed % 97);
                        push_num(out, (level + level * 0.2 * (t / 300.0 + phase).sin()).round());
                    }
                    Kind::Bucket(share) => push_num(out, ((t * rate).floor() * share).floor()),
                    Kind::HistogramSum | Kind::SummarySum => {
                        let count = (t * rate).floor();
                        push_num(out, (count * 0.137 * 1000.0).round() / 1000.0);
                    }
                    Kind::HistogramCount | Kind::SummaryCount => push_num(out, (t * rate).floor()),
                    Kind::Quantile(q) => {
                        let phase = f64::from(line.seed % 13);
                        let v = q * 0.2 * (1.0 + 0.1 * (t / 60.0 + phase).sin());
                        push_num(out, (v * 1e4).round() / 1e4);
                    }
                }
                out.push('\n');
            }
        }
    }
}

fn push_num(out: &mut String, v: f64) {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        let _ = write!(out, "{}", v as i64);
    } else {
        let _ = write!(out, "{v}");
    }
}

struct Builder {
    families: Vec<Family>,
    series: usize,
    target: usize,
}

impl Builder {
    fn family(&mut self, name: &str, kind: &str, help: &str) -> usize {
        self.families.push(Family {
            header: format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"),
            lines: Vec::new(),
        });
        self.families.len() - 1
    }

    /// A fresh seed from the series position and the target.
    fn seed(&self) -> u32 {
        (self.series as u32).wrapping_mul(2_654_435_761).wrapping_add(self.target as u32 * 7919)
            >> 8
    }

    fn line(&mut self, family: usize, prefix: String, kind: Kind) {
        let seed = self.seed();
        self.seeded(family, prefix, kind, seed);
    }

    /// A line of a histogram or summary: the whole group shares one seed so
    /// buckets, sum and count stay consistent.
    fn seeded(&mut self, family: usize, prefix: String, kind: Kind, seed: u32) {
        self.families[family].lines.push(Line { prefix, kind, seed });
        self.series += 1;
    }

    /// One 2,000-series round; `r` makes label values unique across rounds.
    fn round(&mut self, r: usize, limit: usize) {
        let sfx = if r == 0 { String::new() } else { format!("_{r}") };
        let f = self.family(
            &format!("http_requests_total{sfx}"),
            "counter",
            "Total HTTP requests handled.",
        );
        for h in 0..25 {
            for m in METHODS {
                for c in CODES {
                    if self.series >= limit {
                        return;
                    }
                    self.line(f, format!("http_requests_total{sfx}{{method=\"{m}\",handler=\"/api/v1/resource{h}\",code=\"{c}\"}} "), Kind::Counter);
                }
            }
        }
        let f = self.family(
            &format!("app_queue_depth{sfx}"),
            "gauge",
            "Items waiting per queue shard.",
        );
        for q in 0..20 {
            for s in 0..20 {
                if self.series >= limit {
                    return;
                }
                self.line(
                    f,
                    format!("app_queue_depth{sfx}{{queue=\"queue-{q}\",shard=\"{s}\"}} "),
                    Kind::Gauge,
                );
            }
        }
        let name = format!("http_request_duration_seconds{sfx}");
        let f = self.family(&name, "histogram", "HTTP request latency.");
        for h in 0..25 {
            for m in ["GET", "POST"] {
                if self.series >= limit {
                    return;
                }
                let labels = format!("handler=\"/api/v1/resource{h}\",method=\"{m}\"");
                let seed = self.seed();
                for (i, le) in BUCKETS.iter().enumerate() {
                    let share = 1.0 - 0.9f64.powi(3 * (i as i32 + 1));
                    self.seeded(
                        f,
                        format!("{name}_bucket{{{labels},le=\"{le}\"}} "),
                        Kind::Bucket(share),
                        seed,
                    );
                }
                self.seeded(
                    f,
                    format!("{name}_bucket{{{labels},le=\"+Inf\"}} "),
                    Kind::Bucket(1.0),
                    seed,
                );
                self.seeded(f, format!("{name}_sum{{{labels}}} "), Kind::HistogramSum, seed);
                self.seeded(f, format!("{name}_count{{{labels}}} "), Kind::HistogramCount, seed);
            }
        }
        let name = format!("rpc_duration_seconds{sfx}");
        let f = self.family(&name, "summary", "RPC latency.");
        for s in 0..10 {
            for m in 0..5 {
                if self.series >= limit {
                    return;
                }
                let labels = format!("service=\"svc-{s}\",rpc=\"Method{m}\"");
                let seed = self.seed();
                for q in QUANTILES {
                    let qv: f64 = q.parse().expect("literal quantile");
                    self.seeded(
                        f,
                        format!("{name}{{{labels},quantile=\"{q}\"}} "),
                        Kind::Quantile(qv),
                        seed,
                    );
                }
                self.seeded(f, format!("{name}_sum{{{labels}}} "), Kind::SummarySum, seed);
                self.seeded(f, format!("{name}_count{{{labels}}} "), Kind::SummaryCount, seed);
            }
        }
        let f =
            self.family(&format!("cache_entries{sfx}"), "gauge", "Entries per cache and region.");
        for c in 0..30 {
            for z in 0..10 {
                if self.series >= limit {
                    return;
                }
                self.line(
                    f,
                    format!("cache_entries{sfx}{{cache=\"cache-{c}\",region=\"region-{z}\"}} "),
                    Kind::Gauge,
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_target_has_two_thousand_series_and_one_line_each() {
        let t = Target::new(3, 2000);
        assert_eq!(t.series(), 2000);
        let mut out = String::new();
        t.render(EPOCH_S + 1000.0, &mut out);
        let samples = out.lines().filter(|l| !l.starts_with('#')).count();
        assert_eq!(samples, 2000);
        assert_eq!(out.lines().filter(|l| l.starts_with("# TYPE")).count(), 5);
    }

    #[test]
    fn values_are_a_function_of_time_and_counters_grow() {
        let t = Target::new(0, 500);
        let (mut a, mut b, mut c) = (String::new(), String::new(), String::new());
        t.render(EPOCH_S + 100.0, &mut a);
        t.render(EPOCH_S + 100.0, &mut b);
        t.render(EPOCH_S + 200.0, &mut c);
        assert_eq!(a, b);
        let first = |s: &str| -> f64 {
            let line = s.lines().find(|l| !l.starts_with('#')).expect("a sample");
            line.rsplit(' ').next().expect("value").parse().expect("number")
        };
        assert!(first(&c) > first(&a));
    }

    #[test]
    fn histogram_buckets_are_cumulative_and_end_at_count() {
        let t = Target::new(0, 2000);
        let mut out = String::new();
        t.render(EPOCH_S + 5000.0, &mut out);
        let prefix =
            "http_request_duration_seconds_bucket{handler=\"/api/v1/resource0\",method=\"GET\"";
        let buckets: Vec<f64> = out
            .lines()
            .filter(|l| l.starts_with(prefix))
            .map(|l| l.rsplit(' ').next().expect("value").parse().expect("number"))
            .collect();
        assert_eq!(buckets.len(), 11);
        assert!(buckets.windows(2).all(|w| w[0] <= w[1]));
        let count_line =
            "http_request_duration_seconds_count{handler=\"/api/v1/resource0\",method=\"GET\"}";
        let count: f64 = out
            .lines()
            .find(|l| l.starts_with(count_line))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .expect("count line");
        assert_eq!(buckets[10], count);
    }

    #[test]
    fn more_series_than_one_round_stay_unique() {
        let t = Target::new(0, 4500);
        assert_eq!(t.series(), 4500);
        let mut out = String::new();
        t.render(EPOCH_S, &mut out);
        let mut keys: Vec<&str> = out
            .lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| l.rsplit_once(' ').expect("value").0)
            .collect();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), 4500);
    }
}
