//! The scrape loop: one tokio task per target that fetches its body every
//! interval and appends the samples in one batch.
//!
//! The loop is split in two so the hot part can be measured and tested
//! without a network: [`ScrapeLoop::append_scrape`] takes a fetched body (or
//! the fetch's error) and does everything from parsing to commit, and
//! [`ScrapeLoop::run`] is the timing and HTTP around it.
//!
//! Per scrape, in one [`Appender`] batch:
//! 1. every sample, through the [`ScrapeCache`] (cache hit: append with the
//!    cached reference and labels; miss: decode labels, add target labels
//!    with `honor_labels` rules, apply `metric_relabel_configs`, check names
//!    and label limits, cache the result);
//! 2. staleness markers for series the previous scrape had and this one
//!    does not;
//! 3. the report series (`up`, `scrape_duration_seconds`, ...).
//!
//! A failed scrape (fetch error, parse error, a limit, a storage error) rolls
//! back the samples and commits only staleness markers for every series the
//! last successful scrape wrote, plus the report with `up` 0. Samples the
//! storage rejects as out of order, duplicate or out of bounds are counted
//! and skipped, and the scrape still succeeds, as in Prometheus.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use promethium_engine::model::{Labels, LabelsBuilder, METRIC_NAME, SeriesRef, stale_nan};
use promethium_engine::{AppendError, AppendOptions, Appendable, Appender};
use tokio::sync::watch;

use crate::cache::ScrapeCache;
use crate::error::ScrapeError;
use crate::http::{FetchRequest, ScrapeClient};
use crate::manager::ScrapeMetrics;
use crate::parse::{Entry, LabelBuf, ParseOptions, Sample, parser_for_with};
use crate::relabel::{NameValidationScheme, RelabelConfig, process_builder};
use crate::target::{Health, Target, TargetStatus};

/// Prefix given to a scraped label that collides with a target label when
/// `honor_labels` is false.
pub const EXPORTED_LABEL_PREFIX: &str = "exported_";

/// Scrape timestamps within this distance of the ideal grid are snapped to
/// it, so timestamps are exactly one interval apart and compress better (the
/// same workaround for timer jitter as Prometheus' `ScrapeTimestampTolerance`).
pub const SCRAPE_TIMESTAMP_TOLERANCE: Duration = Duration::from_millis(2);

/// The names of the report series, in the order they are appended.
pub const REPORT_SERIES: [&str; 5] = [
    "up",
    "scrape_duration_seconds",
    "scrape_samples_scraped",
    "scrape_samples_post_metric_relabeling",
    "scrape_series_added",
];

/// Limits checked on every new series; 0 means no limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LabelLimits {
    /// Maximum number of labels (including `__name__`).
    pub label_limit: usize,
    /// Maximum label name length in bytes.
    pub label_name_length_limit: usize,
    /// Maximum label value length in bytes.
    pub label_value_length_limit: usize,
}

/// How a loop treats samples: everything from the scrape config that
/// matters after the body is fetched.
#[derive(Debug, Clone)]
pub struct LoopOptions {
    /// Keep scraped labels on conflict with target labels.
    pub honor_labels: bool,
    /// Use timestamps the target exposes.
    pub honor_timestamps: bool,
    /// Also write staleness markers for series with explicit timestamps.
    pub track_timestamps_staleness: bool,
    /// Samples per scrape after metric relabeling; 0 = none.
    pub sample_limit: usize,
    /// Per-series label limits.
    pub label_limits: LabelLimits,
    /// Decompressed body size limit in bytes; 0 = none.
    pub body_size_limit_bytes: usize,
    /// Rules applied to each new series.
    pub metric_relabel_configs: Arc<[RelabelConfig]>,
    /// Which metric and label names are valid.
    pub name_validation: NameValidationScheme,
    /// The `Accept` header to send.
    pub accept: Arc<str>,
    /// Parser options (fallback format when the content type is unknown).
    pub parse_options: ParseOptions,
    /// Seed mixed into every target's offset.
    pub offset_seed: u64,
}

impl Default for LoopOptions {
    fn default() -> Self {
        LoopOptions {
            honor_labels: false,
            honor_timestamps: true,
            track_timestamps_staleness: false,
            sample_limit: 0,
            label_limits: LabelLimits::default(),
            body_size_limit_bytes: 0,
            metric_relabel_configs: Arc::from(Vec::new()),
            name_validation: NameValidationScheme::default(),
            accept: Arc::from(crate::parse::SCRAPE_ACCEPT_HEADER),
            parse_options: ParseOptions::default(),
            offset_seed: 0,
        }
    }
}

/// What one scrape did, for logs, tests and self-metrics.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ScrapeReport {
    /// Samples in the body (before metric relabeling).
    pub samples_scraped: usize,
    /// Samples left after metric relabeling.
    pub samples_post_relabeling: usize,
    /// Series new to the cache that were appended.
    pub series_added: usize,
    /// Samples the storage rejected as out of order.
    pub out_of_order: usize,
    /// Samples the storage rejected as duplicates for their timestamp.
    pub duplicate_timestamp: usize,
    /// Samples the storage rejected as too old.
    pub out_of_bounds: usize,
    /// Staleness markers written.
    pub stale_markers: usize,
    /// Why the scrape failed, `None` when it succeeded.
    pub error: Option<ScrapeError>,
}

/// How a loop is asked to end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopMode {
    /// Keep running.
    Running,
    /// End and write staleness markers for every series of the target (the
    /// target went away, or the server shuts down).
    WithStaleness,
    /// End without markers: a reload restarts the target with a new loop
    /// that inherits the cache.
    Handover,
}

/// The per-target state that lives across scrapes.
pub struct ScrapeLoop {
    target: Arc<Target>,
    target_labels: Labels,
    appendable: Arc<dyn Appendable>,
    options: Arc<LoopOptions>,
    metrics: Arc<ScrapeMetrics>,
    cache: ScrapeCache,
    label_buf: LabelBuf,
    report_labels: [Labels; 5],
    report_refs: [Option<SeriesRef>; 5],
    forced_error: Option<ForcedError>,
}

/// An error every loop of a pool reports instead of scraping while it is
/// set: Prometheus' `target_limit` makes every target of a pool that has
/// too many fail with the same error.
pub type ForcedError = Arc<parking_lot::RwLock<Option<ScrapeError>>>;

impl std::fmt::Debug for ScrapeLoop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScrapeLoop").field("target", &self.target.url()).finish_non_exhaustive()
    }
}

impl ScrapeLoop {
    /// A loop for `target`, appending into `appendable`; `cache` is the
    /// cache of the loop it replaces, if any.
    pub fn new(
        target: Arc<Target>,
        appendable: Arc<dyn Appendable>,
        options: Arc<LoopOptions>,
        metrics: Arc<ScrapeMetrics>,
        cache: Option<ScrapeCache>,
    ) -> Self {
        let target_labels = target.labels();
        let report_labels = REPORT_SERIES.map(|name| {
            let mut b = target_labels.to_builder();
            b.set(METRIC_NAME, name);
            b.build()
        });
        ScrapeLoop {
            target,
            target_labels,
            appendable,
            options,
            metrics,
            cache: cache.unwrap_or_default(),
            label_buf: LabelBuf::new(),
            report_labels,
            report_refs: [None; 5],
            forced_error: None,
        }
    }

    /// Makes the loop report the error in `forced` (when set) instead of
    /// scraping.
    pub fn with_forced_error(mut self, forced: ForcedError) -> Self {
        self.forced_error = Some(forced);
        self
    }

    /// The target this loop scrapes.
    pub fn target(&self) -> &Arc<Target> {
        &self.target
    }

    /// The loop's cache (for handing over to a successor).
    pub fn into_cache(self) -> ScrapeCache {
        self.cache
    }

    /// Runs until `stop` says otherwise, then returns the cache so a
    /// successor loop can reuse it.
    pub async fn run(
        mut self,
        client: ScrapeClient,
        mut stop: watch::Receiver<StopMode>,
    ) -> ScrapeCache {
        let interval = self.target.interval();
        let first = first_scrape_delay(
            interval,
            self.target.offset(self.options.offset_seed),
            SystemTime::now(),
        );
        let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + first, interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut aligned: Option<i64> = None;
        let mut last_start: Option<Instant> = None;
        let mut last_t_ms = i64::MIN;
        let mode = loop {
            tokio::select! {
                biased;
                changed = stop.changed() => {
                    let mode = if changed.is_ok() { *stop.borrow() } else { StopMode::WithStaleness };
                    if mode != StopMode::Running { break mode; }
                    continue;
                }
                _ = ticker.tick() => {}
            }
            let start = Instant::now();
            if let Some(prev) = last_start {
                self.metrics.observe_interval(interval, start - prev);
            }
            last_start = Some(start);
            let t_ms = aligned_timestamp(&mut aligned, unix_ms(SystemTime::now()), interval);
            last_t_ms = t_ms;
            let request = FetchRequest {
                url: self.target.url(),
                accept: &self.options.accept,
                timeout: self.target.timeout(),
                body_size_limit_bytes: self.options.body_size_limit_bytes,
            };
            if let Some(err) = self.forced_error.as_ref().and_then(|f| f.read().clone()) {
                self.append_scrape(&[], "", t_ms, Err(err), start);
                continue;
            }
            // The body buffers are borrowed from a process-wide pool for the
            // length of one scrape, not owned by the loop: a few hundred
            // targets then share as many buffers as scrapes run at once,
            // instead of each pinning its last body between scrapes.
            let (mut body, mut scratch) = BODY_POOL.take();
            let fetched = tokio::select! {
                biased;
                changed = stop.changed() => {
                    let mode = if changed.is_ok() { *stop.borrow() } else { StopMode::WithStaleness };
                    BODY_POOL.put(body, scratch);
                    if mode != StopMode::Running { break mode; }
                    // A spurious wake-up: do this scrape again next tick.
                    continue;
                }
                r = client.fetch(&request, &mut body, &mut scratch) => r,
            };
            let (content_type, fetch) = match fetched {
                Ok(resp) => (resp.content_type, Ok(())),
                Err(e) => (String::new(), Err(e)),
            };
            let report = self.append_scrape(&body, &content_type, t_ms, fetch, start);
            if let Some(e) = &report.error {
                tracing::debug!(target_url = %self.target.url(), error = %e, "scrape failed");
            }
            // Large one-off bodies should not pin memory for the target's life.
            shrink_if_oversized(&mut body);
            shrink_if_oversized(&mut scratch);
            BODY_POOL.put(body, scratch);
        };
        if mode == StopMode::WithStaleness {
            // After the last scrape's timestamp, even when the stop comes
            // within the same millisecond (or the scrape's time was aligned
            // a little ahead): a marker at that very time would be refused
            // as a duplicate and the series would never go stale.
            let t_ms = unix_ms(SystemTime::now()).max(last_t_ms.saturating_add(1));
            self.write_end_of_run_staleness(t_ms);
        }
        self.cache
    }

    /// Parses and appends one fetched body (`fetch` is the fetch's outcome;
    /// on `Err` the body is ignored), writes staleness markers and the report
    /// series, commits, and updates the target's state. `started` is when the
    /// scrape began (for `scrape_duration_seconds`).
    pub fn append_scrape(
        &mut self,
        body: &[u8],
        content_type: &str,
        t_ms: i64,
        fetch: Result<(), ScrapeError>,
        started: Instant,
    ) -> ScrapeReport {
        self.cache.begin_scrape();
        let appendable = Arc::clone(&self.appendable);
        let mut app = appendable.appender();
        let mut report = ScrapeReport::default();
        let mut result = fetch
            .and_then(|()| self.append_body(app.as_mut(), body, content_type, t_ms, &mut report));
        if result.is_ok() {
            let stale = self.cache.stale_series(false);
            report.stale_markers = append_stale(app.as_mut(), &stale, t_ms);
        } else {
            app.rollback();
            app = appendable.appender();
            let stale = self.cache.stale_series(true);
            report.stale_markers = append_stale(app.as_mut(), &stale, t_ms);
        }
        let up = result.is_ok();
        let duration = started.elapsed();
        let values = [
            if up { 1.0 } else { 0.0 },
            duration.as_secs_f64(),
            report.samples_scraped as f64,
            report.samples_post_relabeling as f64,
            report.series_added as f64,
        ];
        for (i, v) in values.into_iter().enumerate() {
            match app.append(self.report_refs[i], &self.report_labels[i], t_ms, v) {
                Ok(r) => self.report_refs[i] = Some(r),
                Err(
                    AppendError::OutOfOrder
                    | AppendError::DuplicateTimestamp
                    | AppendError::OutOfBounds,
                ) => {}
                Err(e) => {
                    tracing::warn!(series = %self.report_labels[i], error = %e, "appending report series");
                }
            }
        }
        let committed = match app.commit() {
            Ok(()) => true,
            Err(e) => {
                if result.is_ok() {
                    result = Err(ScrapeError::commit(&e));
                }
                false
            }
        };
        self.cache.end_scrape(committed && up);
        if let Some(m) = self.cache.take_metadata_if_changed() {
            self.target.set_metadata(m);
        }
        report.error = result.err();
        self.record(&report, t_ms, duration);
        report
    }

    fn record(&self, report: &ScrapeReport, t_ms: i64, duration: Duration) {
        let m = &self.metrics;
        m.count_scrape(report);
        if report.out_of_order + report.duplicate_timestamp + report.out_of_bounds > 0 {
            tracing::warn!(
                target_url = %self.target.url(),
                out_of_order = report.out_of_order,
                duplicate_timestamp = report.duplicate_timestamp,
                out_of_bounds = report.out_of_bounds,
                "samples rejected by storage"
            );
        }
        let last_scrape = UNIX_EPOCH + Duration::from_millis(u64::try_from(t_ms).unwrap_or(0));
        self.target.set_status(TargetStatus {
            health: if report.error.is_none() { Health::Up } else { Health::Down },
            last_error: report.error.as_ref().map(ToString::to_string).unwrap_or_default(),
            last_scrape: Some(last_scrape),
            last_scrape_duration: duration,
            last_samples_scraped: report.samples_scraped,
        });
    }

    /// Writes staleness markers for every series of the last successful
    /// scrape and for the report series, as Prometheus does when a target
    /// goes away.
    pub fn write_end_of_run_staleness(&mut self, t_ms: i64) {
        if self.cache.iter() == 0 {
            // Never scraped: there is nothing to mark, not even `up`.
            return;
        }
        let iter_stale = self.cache.stale_series(true);
        let appendable = Arc::clone(&self.appendable);
        let mut app = appendable.appender();
        append_stale(app.as_mut(), &iter_stale, t_ms);
        let report: Vec<(Option<SeriesRef>, Labels)> =
            self.report_refs.iter().copied().zip(self.report_labels.iter().cloned()).collect();
        append_stale(app.as_mut(), &report, t_ms);
        if let Err(e) = app.commit() {
            tracing::warn!(target_url = %self.target.url(), error = %e, "writing end-of-run staleness markers");
        }
        self.cache.forget_live();
    }

    fn append_body(
        &mut self,
        app: &mut dyn Appender,
        body: &[u8],
        content_type: &str,
        default_t_ms: i64,
        report: &mut ScrapeReport,
    ) -> Result<(), ScrapeError> {
        let iter = self.cache.iter();
        let options = Arc::clone(&self.options);
        let mut parser = parser_for_with(content_type, body, options.parse_options)
            .map_err(|e| ScrapeError::Parse(e.to_string()))?;
        let no_options = AppendOptions::default();
        let mut limit_exceeded = false;
        while let Some(entry) =
            parser.next_entry().map_err(|e| ScrapeError::Parse(e.to_string()))?
        {
            let sample = match entry {
                Entry::Sample(s) => s,
                Entry::Type { name, metric_type } => {
                    self.cache.set_type(name.raw(), metric_type);
                    continue;
                }
                Entry::Help { name, help } => {
                    let help = help.decode().map_err(|e| ScrapeError::Parse(e.to_string()))?;
                    self.cache.set_help(name.raw(), &help);
                    continue;
                }
                Entry::Unit { name, unit } => {
                    let unit = unit.decode().map_err(|e| ScrapeError::Parse(e.to_string()))?;
                    self.cache.set_unit(name.raw(), &unit);
                    continue;
                }
                Entry::Comment(_) => continue,
            };
            report.samples_scraped += 1;
            let explicit_t = if options.honor_timestamps { sample.timestamp_ms() } else { None };
            let t_ms = explicit_t.unwrap_or(default_t_ms);
            let track_staleness = explicit_t.is_none() || options.track_timestamps_staleness;
            let raw = sample.series();
            let cached = match self.cache.get_mut(raw) {
                Some(e) => {
                    // With explicit timestamps a series may legitimately
                    // repeat (OpenMetrics allows several points per series,
                    // federation sends them); storage orders those.
                    if e.last_seen_iter == iter && explicit_t.is_none() {
                        return Err(ScrapeError::DuplicateSeries(
                            String::from_utf8_lossy(raw).into_owned(),
                        ));
                    }
                    e.last_seen_iter = iter;
                    true
                }
                None => false,
            };
            if !cached && self.cache.is_dropped(raw) {
                continue;
            }
            if !cached {
                match self.resolve_labels(&sample)? {
                    Some(labels) => {
                        self.cache.insert(raw, labels);
                    }
                    None => {
                        self.cache.insert_dropped(raw);
                        continue;
                    }
                }
            }
            report.samples_post_relabeling += 1;
            if options.sample_limit > 0 && report.samples_post_relabeling > options.sample_limit {
                // Keep counting, as Prometheus does, so the report says how
                // many samples the target really has.
                limit_exceeded = true;
                continue;
            }
            // Exemplars are rare, so decoding one allocates; a malformed
            // exemplar is dropped without failing the sample, as in Prometheus.
            let exemplar = sample.exemplar().and_then(|e| e.to_exemplar().ok());
            let with_exemplar = AppendOptions { exemplar: exemplar.as_ref(), ..no_options };
            let entry = self.cache.get_mut(raw).expect("the entry was found or inserted above");
            match app.append_with(
                entry.series_ref(),
                &entry.labels,
                t_ms,
                sample.value(),
                &with_exemplar,
            ) {
                Ok(r) => {
                    entry.set_series_ref(Some(r));
                    if track_staleness {
                        entry.mark_appended(iter);
                    }
                    if !cached {
                        report.series_added += 1;
                    }
                }
                Err(AppendError::OutOfOrder) => report.out_of_order += 1,
                Err(AppendError::DuplicateTimestamp) => report.duplicate_timestamp += 1,
                Err(AppendError::OutOfBounds) => report.out_of_bounds += 1,
                Err(e) => return Err(ScrapeError::append(&entry.labels, &e)),
            }
        }
        if limit_exceeded {
            return Err(ScrapeError::SampleLimit {
                samples: report.samples_post_relabeling,
                limit: options.sample_limit,
            });
        }
        Ok(())
    }

    /// The slow path for a series not in the cache: decode, add target
    /// labels, relabel, validate. `None` when metric relabeling drops it.
    fn resolve_labels(&mut self, sample: &Sample<'_>) -> Result<Option<Labels>, ScrapeError> {
        let series_text = || String::from_utf8_lossy(sample.series()).into_owned();
        sample.labels(&mut self.label_buf).map_err(|e| ScrapeError::Parse(e.to_string()))?;
        let exposed = self.label_buf.to_labels().map_err(|_| {
            let name = duplicate_name(&self.label_buf).unwrap_or_default();
            ScrapeError::DuplicateLabelName { name, series: series_text() }
        })?;
        let mut builder = exposed.to_builder();
        mutate_sample_labels(&mut builder, &self.target_labels, self.options.honor_labels);
        if !process_builder(&mut builder, &self.options.metric_relabel_configs) {
            return Ok(None);
        }
        let labels = builder.build();
        if labels.is_empty() {
            return Ok(None);
        }
        validate(&labels, self.options.name_validation, &self.options.label_limits)?;
        Ok(Some(labels))
    }
}

/// Adds the target's labels to a scraped series. With `honor_labels` the
/// scraped values win; otherwise the target's win and each conflicting
/// scraped label is kept as `exported_<name>` (more prefixes until the name
/// is free), shorter names first, as Prometheus resolves them.
pub fn mutate_sample_labels(
    builder: &mut LabelsBuilder,
    target_labels: &Labels,
    honor_labels: bool,
) {
    if honor_labels {
        for l in target_labels.iter() {
            if builder.get(l.name).is_none() {
                builder.set(l.name, l.value);
            }
        }
        return;
    }
    let mut conflicts: Vec<(String, String)> = Vec::new();
    for l in target_labels.iter() {
        if let Some(v) = builder.get(l.name) {
            conflicts.push((l.name.to_owned(), v.to_owned()));
        }
        builder.set(l.name, l.value);
    }
    conflicts.sort_by_key(|(n, _)| n.len());
    for (name, value) in conflicts {
        let mut new_name = name;
        loop {
            new_name.insert_str(0, EXPORTED_LABEL_PREFIX);
            if builder.get(&new_name).is_none() {
                builder.set(&new_name, &value);
                break;
            }
        }
    }
}

/// Checks a new series' names and the label limits.
fn validate(
    labels: &Labels,
    scheme: NameValidationScheme,
    limits: &LabelLimits,
) -> Result<(), ScrapeError> {
    let Some(name) = labels.metric_name() else {
        return Err(ScrapeError::InvalidLabels(format!("no metric name in {labels}")));
    };
    if !scheme.is_valid_metric_name(name) {
        return Err(ScrapeError::InvalidLabels(format!(
            "invalid metric name {name:?} in {labels}"
        )));
    }
    for l in labels.iter() {
        if l.name != METRIC_NAME && !scheme.is_valid_label_name(l.name) {
            return Err(ScrapeError::InvalidLabels(format!(
                "invalid label name {:?} in {labels}",
                l.name
            )));
        }
    }
    // The same checks, in the same order, as Prometheus' `verifyLabelLimits`.
    let count = labels.len();
    if limits.label_limit > 0 && count > limits.label_limit {
        return Err(ScrapeError::LabelLimit {
            metric: prefix50(name),
            count,
            limit: limits.label_limit,
        });
    }
    for l in labels.iter() {
        if limits.label_name_length_limit > 0 && l.name.len() > limits.label_name_length_limit {
            return Err(ScrapeError::LabelNameLength {
                metric: prefix50(name),
                name: prefix50(l.name),
                length: l.name.len(),
                limit: limits.label_name_length_limit,
            });
        }
        if limits.label_value_length_limit > 0 && l.value.len() > limits.label_value_length_limit {
            return Err(ScrapeError::LabelValueLength {
                metric: prefix50(name),
                name: prefix50(l.name),
                value: prefix50(l.value),
                length: l.value.len(),
                limit: limits.label_value_length_limit,
            });
        }
    }
    Ok(())
}

/// The first 50 characters, as Prometheus' `%.50s` prints them.
fn prefix50(s: &str) -> String {
    s.chars().take(50).collect()
}

fn duplicate_name(buf: &LabelBuf) -> Option<String> {
    let mut names: Vec<&str> = buf.iter().map(|(n, _)| n).collect();
    names.sort_unstable();
    names.windows(2).find(|w| w[0] == w[1]).map(|w| w[0].to_owned())
}

/// Appends staleness markers; rejections are expected (the series may have
/// been written by a newer loop of the same target) and ignored, as in
/// Prometheus. Returns how many were accepted.
fn append_stale(
    app: &mut dyn Appender,
    series: &[(Option<SeriesRef>, Labels)],
    t_ms: i64,
) -> usize {
    let mut n = 0;
    for (r, labels) in series {
        match app.append(*r, labels, t_ms, stale_nan()) {
            Ok(_) => n += 1,
            Err(
                AppendError::OutOfOrder
                | AppendError::DuplicateTimestamp
                | AppendError::OutOfBounds,
            ) => {}
            Err(e) => tracing::warn!(series = %labels, error = %e, "appending staleness marker"),
        }
    }
    n
}

/// Milliseconds since the Unix epoch.
pub fn unix_ms(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_millis()).unwrap_or(i64::MAX),
    }
}

/// How long to wait before a target's first scrape: until the next point
/// of the interval grid (Unix time modulo interval) plus the target's
/// offset, so each target is scraped at the same phase of every interval.
pub fn first_scrape_delay(interval: Duration, offset: Duration, now: SystemTime) -> Duration {
    let interval_ns = interval.as_nanos().max(1);
    let now_ns = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let base = interval_ns - now_ns % interval_ns;
    let mut next = base + offset.as_nanos() % interval_ns;
    if next > interval_ns {
        next -= interval_ns;
    }
    Duration::from_nanos(u64::try_from(next).expect("below the interval, which fits u64"))
}

/// Snaps `now_ms` to the ideal grid (`aligned` + n intervals) when it is
/// within [`SCRAPE_TIMESTAMP_TOLERANCE`], as Prometheus does for intervals
/// above 100 tolerances; `aligned` tracks the grid between calls.
pub fn aligned_timestamp(aligned: &mut Option<i64>, now_ms: i64, interval: Duration) -> i64 {
    let interval_ms = i64::try_from(interval.as_millis()).unwrap_or(i64::MAX);
    let tolerance_ms =
        i64::try_from(SCRAPE_TIMESTAMP_TOLERANCE.as_millis()).expect("small constant");
    let Some(grid) = aligned.as_mut() else {
        *aligned = Some(now_ms);
        return now_ms;
    };
    if interval_ms <= 100 * tolerance_ms {
        return now_ms;
    }
    if now_ms < *grid - interval_ms {
        // The clock went backwards: start a new grid.
        *grid = now_ms;
        return now_ms;
    }
    if now_ms - *grid >= interval_ms {
        *grid += (now_ms - *grid) / interval_ms * interval_ms;
    }
    if (now_ms - *grid).abs() <= tolerance_ms {
        *grid
    } else if (*grid + interval_ms - now_ms).abs() <= tolerance_ms {
        // The timer fired a little early.
        *grid += interval_ms;
        *grid
    } else {
        now_ms
    }
}

/// Body and decompression buffers shared by every scrape loop of the
/// process. A scrape takes a pair and gives it back when its samples are
/// appended, so the buffers held are about as many as scrapes overlap (a
/// handful), not one pair per target: with 200 targets of 2,000 series a
/// kept body is ~250 KiB a target, ~130 bytes per active series.
struct BufferPool {
    free: parking_lot::Mutex<Vec<(Vec<u8>, Vec<u8>)>>,
}

/// Buffers kept beyond this many are dropped when returned.
const MAX_POOLED_BUFFERS: usize = 16;

static BODY_POOL: BufferPool = BufferPool { free: parking_lot::Mutex::new(Vec::new()) };

impl BufferPool {
    fn take(&self) -> (Vec<u8>, Vec<u8>) {
        self.free.lock().pop().unwrap_or_default()
    }

    fn put(&self, mut body: Vec<u8>, mut scratch: Vec<u8>) {
        body.clear();
        scratch.clear();
        let mut free = self.free.lock();
        if free.len() < MAX_POOLED_BUFFERS {
            free.push((body, scratch));
        }
    }
}

fn shrink_if_oversized(buf: &mut Vec<u8>) {
    // Keep up to 4x the last body: enough to absorb normal variation
    // without reallocating, while releasing a rare huge body's memory.
    if buf.capacity() > 4 * buf.len().max(64 * 1024) {
        buf.shrink_to(buf.len() * 2);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use promethium_engine::MemStorage;
    use promethium_engine::model::{Sample as StoredSample, is_stale_nan};

    use super::*;
    use crate::relabel::{Action, Regex};

    const TEXT: &str = "text/plain; version=0.0.4";

    struct Fixture {
        db: Arc<MemStorage>,
        lp: ScrapeLoop,
    }

    fn fixture(options: LoopOptions) -> Fixture {
        let db = Arc::new(MemStorage::new());
        let labels = Labels::new([("__address__", "h:1"), ("instance", "h:1"), ("job", "j")]);
        let target = Target::new(
            "j",
            labels.clone(),
            labels,
            &BTreeMap::new(),
            Duration::from_secs(1),
            Duration::from_secs(1),
        )
        .unwrap();
        let lp = ScrapeLoop::new(
            Arc::new(target),
            db.clone(),
            Arc::new(options),
            Arc::new(ScrapeMetrics::default()),
            None,
        );
        Fixture { db, lp }
    }

    impl Fixture {
        fn scrape(&mut self, body: &str, t_ms: i64) -> ScrapeReport {
            self.lp.append_scrape(body.as_bytes(), TEXT, t_ms, Ok(()), Instant::now())
        }

        fn samples(&self, name: &str) -> Vec<(Labels, Vec<StoredSample>)> {
            self.db.dump().into_iter().filter(|(l, _)| l.metric_name() == Some(name)).collect()
        }

        fn values(&self, name: &str) -> Vec<(i64, f64)> {
            let s = self.samples(name);
            assert_eq!(s.len(), 1, "one series named {name}: {s:?}");
            s[0].1.iter().map(|s| (s.t_ms, s.value)).collect()
        }
    }

    #[test]
    fn samples_get_target_labels_and_report_series() {
        let mut f = fixture(LoopOptions::default());
        let r = f.scrape("# TYPE a counter\n# HELP a help of a\na_total 1\nb{x=\"1\"} 2\n", 1000);
        assert_eq!(r.error, None);
        assert_eq!((r.samples_scraped, r.samples_post_relabeling, r.series_added), (2, 2, 2));
        let b = f.samples("b");
        assert_eq!(
            b[0].0,
            Labels::new([("__name__", "b"), ("instance", "h:1"), ("job", "j"), ("x", "1")])
        );
        assert_eq!(f.values("up"), [(1000, 1.0)]);
        assert_eq!(f.values("scrape_samples_scraped"), [(1000, 2.0)]);
        assert_eq!(f.values("scrape_series_added"), [(1000, 2.0)]);
        let r = f.scrape("a_total 2\nb{x=\"1\"} 3\n", 2000);
        assert_eq!(r.series_added, 0, "the second scrape hits the cache");
        assert_eq!(f.values("a_total"), [(1000, 1.0), (2000, 2.0)]);
        assert_eq!(f.lp.target().health(), Health::Up);
        assert_eq!(f.lp.target().metadata_for("a").unwrap().help, "help of a");
    }

    #[test]
    fn vanished_series_get_one_stale_marker() {
        let mut f = fixture(LoopOptions::default());
        f.scrape("a 1\nb 1\n", 1000);
        let r = f.scrape("a 2\n", 2000);
        assert_eq!(r.stale_markers, 1);
        let b = f.values("b");
        assert_eq!(b.len(), 2);
        assert_eq!(b[1].0, 2000);
        assert!(is_stale_nan(b[1].1));
        let r = f.scrape("a 3\n", 3000);
        assert_eq!(r.stale_markers, 0);
    }

    #[test]
    fn failed_scrape_writes_up_zero_and_stales_everything() {
        let mut f = fixture(LoopOptions::default());
        f.scrape("a 1\nb 1\n", 1000);
        let r = f.scrape("a 2\nthis is { not valid\n", 2000);
        let err = r.error.expect("garbage fails the scrape");
        assert!(matches!(err, ScrapeError::Parse(_)), "{err}");
        assert_eq!(f.values("up"), [(1000, 1.0), (2000, 0.0)]);
        for name in ["a", "b"] {
            let v = f.values(name);
            assert_eq!(v.len(), 2, "{name}: the valid prefix of a failed scrape is not kept");
            assert!(is_stale_nan(v[1].1));
        }
        let status = f.lp.target().status();
        assert_eq!(status.health, Health::Down);
        assert!(status.last_error.contains("parsing"), "{}", status.last_error);
        // Recovery appends normally again.
        let r = f.scrape("a 3\n", 3000);
        assert_eq!(r.error, None);
        assert_eq!(f.values("a").last(), Some(&(3000, 3.0)));
    }

    #[test]
    fn fetch_errors_are_reported() {
        let mut f = fixture(LoopOptions::default());
        f.scrape("a 1\n", 1000);
        let r = f.lp.append_scrape(
            b"",
            "",
            2000,
            Err(ScrapeError::HttpStatus("500 Internal Server Error".into())),
            Instant::now(),
        );
        assert!(r.error.is_some());
        assert_eq!(f.values("up"), [(1000, 1.0), (2000, 0.0)]);
        assert!(is_stale_nan(f.values("a")[1].1));
    }

    #[test]
    fn honor_labels_and_exported_prefix() {
        let mut f = fixture(LoopOptions::default());
        f.scrape("a{job=\"other\",exported_job=\"x\"} 1\n", 1000);
        let a = &f.samples("a")[0].0;
        assert_eq!(a.get("job"), Some("j"));
        assert_eq!(a.get("exported_job"), Some("x"));
        assert_eq!(a.get("exported_exported_job"), Some("other"));

        let mut f = fixture(LoopOptions { honor_labels: true, ..LoopOptions::default() });
        f.scrape("a{job=\"other\"} 1\n", 1000);
        let a = &f.samples("a")[0].0;
        assert_eq!(a.get("job"), Some("other"));
        assert_eq!(a.get("instance"), Some("h:1"));
    }

    #[test]
    fn metric_relabeling_drops_and_counts() {
        let drop = crate::relabel::RelabelConfig {
            source_labels: vec!["__name__".into()],
            regex: Regex::new("drop_.*").unwrap(),
            action: Action::Drop,
            ..Default::default()
        };
        let mut f = fixture(LoopOptions {
            metric_relabel_configs: Arc::from(vec![drop]),
            ..LoopOptions::default()
        });
        for t in [1000, 2000] {
            let r = f.scrape("keep 1\ndrop_me 1\n", t);
            assert_eq!((r.samples_scraped, r.samples_post_relabeling), (2, 1));
        }
        assert!(f.samples("drop_me").is_empty());
        assert_eq!(f.values("scrape_samples_post_metric_relabeling"), [(1000, 1.0), (2000, 1.0)]);
    }

    #[test]
    fn limits_fail_the_whole_scrape() {
        let mut f = fixture(LoopOptions { sample_limit: 2, ..LoopOptions::default() });
        let r = f.scrape("a 1\nb 1\nc 1\n", 1000);
        assert_eq!(r.error, Some(ScrapeError::SampleLimit { samples: 3, limit: 2 }));
        assert!(f.samples("a").is_empty(), "nothing of a failed scrape is appended");
        assert_eq!(f.values("up"), [(1000, 0.0)]);
        assert_eq!(f.values("scrape_samples_post_metric_relabeling"), [(1000, 3.0)]);

        let limits =
            LabelLimits { label_limit: 4, label_name_length_limit: 8, label_value_length_limit: 3 };
        let mut f = fixture(LoopOptions { label_limits: limits, ..LoopOptions::default() });
        assert!(matches!(
            f.scrape("a{x=\"1\",y=\"2\"} 1\n", 1000).error,
            Some(ScrapeError::LabelLimit { .. })
        ));
        assert!(matches!(
            f.scrape("a{longername=\"1\"} 1\n", 2000).error,
            Some(ScrapeError::LabelNameLength { .. })
        ));
        assert!(matches!(
            f.scrape("a{x=\"long\"} 1\n", 3000).error,
            Some(ScrapeError::LabelValueLength { .. })
        ));
        assert_eq!(f.scrape("a{x=\"1\"} 1\n", 4000).error, None);
    }

    #[test]
    fn duplicates_and_invalid_names_fail() {
        let mut f = fixture(LoopOptions::default());
        let r = f.scrape("a{x=\"1\"} 1\na{x=\"1\"} 2\n", 1000);
        assert!(matches!(r.error, Some(ScrapeError::DuplicateSeries(_))), "{:?}", r.error);
        let r = f.scrape("a{x=\"1\",x=\"2\"} 1\n", 2000);
        assert!(matches!(r.error, Some(ScrapeError::DuplicateLabelName { .. })), "{:?}", r.error);
        let mut legacy = fixture(LoopOptions {
            name_validation: NameValidationScheme::Legacy,
            ..LoopOptions::default()
        });
        let r = legacy.scrape("{\"my.metric\"} 1\n", 1000);
        assert!(r.error.is_some(), "a UTF-8 name fails under the legacy scheme");
    }

    #[test]
    fn a_series_may_repeat_with_explicit_timestamps() {
        let mut f = fixture(LoopOptions::default());
        let r = f.scrape("a 1 500\na 2 600\n", 1000);
        assert_eq!(r.error, None);
        assert_eq!(f.values("a"), [(500, 1.0), (600, 2.0)]);
    }

    #[test]
    fn storage_rejections_are_counted_not_fatal() {
        let mut f = fixture(LoopOptions::default());
        f.scrape("a 1 5000\n", 1000);
        let r = f.scrape("a 1 4000\nb 1\n", 2000);
        assert_eq!(r.error, None);
        assert_eq!(r.out_of_order, 1);
        assert_eq!(f.values("a"), [(5000, 1.0)]);
        let r = f.scrape("a 2 5000\nb 2\n", 3000);
        assert_eq!(r.duplicate_timestamp, 1);
    }

    #[test]
    fn explicit_timestamps_are_not_staleness_tracked() {
        let mut f = fixture(LoopOptions::default());
        f.scrape("a 1 500\n", 1000);
        let r = f.scrape("", 2000);
        assert_eq!(r.stale_markers, 0);
        let mut f = fixture(LoopOptions { honor_timestamps: false, ..LoopOptions::default() });
        f.scrape("a 1 500\n", 1000);
        assert_eq!(f.values("a"), [(1000, 1.0)]);
        assert_eq!(f.scrape("", 2000).stale_markers, 1);
    }

    #[test]
    fn end_of_run_staleness_covers_series_and_report() {
        let mut f = fixture(LoopOptions::default());
        f.lp.write_end_of_run_staleness(500);
        assert!(f.db.dump().is_empty(), "a target never scraped leaves nothing behind");
        f.scrape("a 1\n", 1000);
        f.lp.write_end_of_run_staleness(1500);
        assert!(is_stale_nan(f.values("a")[1].1));
        assert!(is_stale_nan(f.values("up")[1].1));
    }

    /// Records the exemplars appenders are given.
    #[derive(Default)]
    struct ExemplarRecorder(parking_lot::Mutex<Vec<(Labels, f64)>>);

    struct RecordingAppender<'a>(&'a ExemplarRecorder);

    impl Appender for RecordingAppender<'_> {
        fn append_with(
            &mut self,
            _series: Option<SeriesRef>,
            labels: &Labels,
            _t_ms: i64,
            _value: f64,
            options: &AppendOptions<'_>,
        ) -> Result<SeriesRef, AppendError> {
            if let Some(e) = options.exemplar {
                self.0.0.lock().push((e.labels.clone(), e.value));
            }
            Ok(SeriesRef(labels.stable_hash()))
        }
        fn commit(self: Box<Self>) -> Result<(), promethium_engine::CommitError> {
            Ok(())
        }
        fn rollback(self: Box<Self>) {}
    }

    impl Appendable for ExemplarRecorder {
        fn appender(&self) -> Box<dyn Appender + '_> {
            Box::new(RecordingAppender(self))
        }
    }

    #[test]
    fn exemplars_are_passed_to_the_appender() {
        let rec = Arc::new(ExemplarRecorder::default());
        let labels = Labels::new([("__address__", "h:1"), ("job", "j")]);
        let target = Target::new(
            "j",
            labels.clone(),
            labels,
            &BTreeMap::new(),
            Duration::from_secs(1),
            Duration::from_secs(1),
        )
        .unwrap();
        let mut lp = ScrapeLoop::new(
            Arc::new(target),
            rec.clone(),
            Arc::new(LoopOptions::default()),
            Arc::new(ScrapeMetrics::default()),
            None,
        );
        let body = b"# TYPE foo counter\nfoo_total 17 # {trace_id=\"abc\"} 1.5\n# EOF\n";
        let r = lp.append_scrape(
            body,
            "application/openmetrics-text; version=1.0.0",
            1000,
            Ok(()),
            Instant::now(),
        );
        assert_eq!(r.error, None);
        assert_eq!(*rec.0.lock(), [(Labels::new([("trace_id", "abc")]), 1.5)]);
    }

    #[test]
    fn scrapes_into_the_real_db_with_cached_refs_and_staleness() {
        use promethium_engine::Queryable;
        use promethium_engine::db::{Db, DbOptions};
        use promethium_engine::model::Matcher;

        let dir = tempfile::tempdir().unwrap();
        let db = Arc::new(Db::open(dir.path(), DbOptions::default()).unwrap());
        let labels = Labels::new([("__address__", "h:1"), ("instance", "h:1"), ("job", "j")]);
        let target = Target::new(
            "j",
            labels.clone(),
            labels,
            &BTreeMap::new(),
            Duration::from_secs(1),
            Duration::from_secs(1),
        )
        .unwrap();
        let mut lp = ScrapeLoop::new(
            Arc::new(target),
            db.clone(),
            Arc::new(LoopOptions::default()),
            Arc::new(ScrapeMetrics::default()),
            None,
        );
        let t0 = 1_700_000_000_000;
        for (i, body) in ["a 1\nb 1\n", "a 2\nb 2\n", "a 3\n"].iter().enumerate() {
            let r = lp.append_scrape(
                body.as_bytes(),
                TEXT,
                t0 + i as i64 * 1000,
                Ok(()),
                Instant::now(),
            );
            assert_eq!(r.error, None);
            assert_eq!(r.series_added, if i == 0 { 2 } else { 0 });
        }
        let values = {
            let q = db.querier(t0, t0 + 10_000).unwrap();
            let set = q.select(&[Matcher::equal("__name__", "b")], None).unwrap();
            assert_eq!(set.len(), 1);
            let mut it = set[0].iter();
            let mut values = Vec::new();
            while let Some(s) = it.next() {
                values.push(s);
            }
            values
        };
        assert_eq!(values.len(), 3);
        assert_eq!(values[1], StoredSample::new(t0 + 1000, 2.0));
        assert_eq!(values[2].t_ms, t0 + 2000);
        assert!(is_stale_nan(values[2].value));
        db.close().unwrap();
    }

    #[test]
    fn timing_helpers() {
        let interval = Duration::from_secs(10);
        let now = UNIX_EPOCH + Duration::from_millis(1_000_003_000);
        // 3 s into the interval; offset 5 s: wait 2 s.
        assert_eq!(
            first_scrape_delay(interval, Duration::from_secs(5), now),
            Duration::from_secs(2)
        );
        assert_eq!(
            first_scrape_delay(interval, Duration::from_secs(1), now),
            Duration::from_secs(8)
        );
        let mut grid = None;
        assert_eq!(aligned_timestamp(&mut grid, 10_000, interval), 10_000);
        assert_eq!(aligned_timestamp(&mut grid, 20_001, interval), 20_000);
        assert_eq!(aligned_timestamp(&mut grid, 30_050, interval), 30_050, "outside the tolerance");
        assert_eq!(
            aligned_timestamp(&mut grid, 50_002, interval),
            50_000,
            "a skipped tick keeps the grid"
        );
    }
}
