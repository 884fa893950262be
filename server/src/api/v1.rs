//! The `/api/v1` handlers. Each takes the decoded parameters and returns
//! the `data` JSON or an [`ApiError`]; the envelope, status code and
//! compression are applied by the caller.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper::StatusCode;
use promethium_engine::Queryable;
use promethium_engine::model::{Labels, Matcher};
use promethium_promql::{Engine, PromqlError, QueryResult};
use serde_json::json;

use super::error::{ApiError, ErrorType};
use super::json::{push_float, push_labels, push_str, push_str_array, push_value};
use super::params::{MAX_TIME_MS, MIN_TIME_MS, Params};
use super::selector::parse_selector;
use super::{ApiResult, Success};
use crate::duration::{format_prom_duration, format_rfc3339_ms, now_ms};
use crate::http::{Resp, with_type};
use crate::state::AppState;
use crate::storage::{AdminError, Storage};
use crate::targets::{LabelMap, TargetSource};

/// Range queries may return at most this many points per series.
const MAX_POINTS_PER_SERIES: i64 = 11_000;
/// Extra time the blocking query task gets beyond the engine's own timeout
/// before the API gives up on it.
const TIMEOUT_GRACE: Duration = Duration::from_millis(200);

/// Runs one v1 handler.
pub async fn handle(
    state: &Arc<AppState>,
    pattern: &'static str,
    path: &str,
    p: &Params,
) -> ApiResult {
    match pattern {
        "/api/v1/query" => query(state, p).await,
        "/api/v1/query_range" => query_range(state, p).await,
        "/api/v1/query_exemplars" => query_exemplars(p),
        "/api/v1/format_query" => format_query(p),
        "/api/v1/parse_query" => parse_query(p),
        "/api/v1/series" => series(state, p).await,
        "/api/v1/labels" => labels(state, p).await,
        "/api/v1/label/:name/values" => {
            let name = &path["/label/".len()..path.len() - "/values".len()];
            label_values(state, name, p).await
        }
        "/api/v1/scrape_pools" => scrape_pools(state),
        "/api/v1/targets/metadata" => targets_metadata(state, p),
        "/api/v1/metadata" => metadata(state, p),
        "/api/v1/rules" => ok_json(&json!({"groups": []})),
        "/api/v1/alerts" => ok_json(&json!({"alerts": []})),
        "/api/v1/alertmanagers" => {
            ok_json(&json!({"activeAlertmanagers": [], "droppedAlertmanagers": []}))
        }
        "/api/v1/status/config" => ok_json(&json!({"yaml": state.config().yaml})),
        "/api/v1/status/flags" => ok_json(&state.flags.to_map()),
        "/api/v1/status/buildinfo" => ok_json(&build_info()),
        "/api/v1/status/runtimeinfo" => runtime_info(state),
        "/api/v1/status/tsdb" => tsdb_status(state, p).await,
        "/api/v1/status/walreplay" => {
            let w = state.wal_replay();
            ok_json(&json!({"min": w.min, "max": w.max, "current": w.current}))
        }
        "/api/v1/admin/tsdb/snapshot" => snapshot(state, p).await,
        "/api/v1/admin/tsdb/delete_series" => delete_series(state, p).await,
        "/api/v1/admin/tsdb/clean_tombstones" => clean_tombstones(state).await,
        _ => Err(ApiError::new(ErrorType::NotFound, "unknown API endpoint")),
    }
}

fn ok_json(v: &impl serde::Serialize) -> ApiResult {
    let data = serde_json::to_string(v).map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(Some(Success::data(data)))
}

fn storage(state: &AppState) -> Result<Arc<dyn Storage>, ApiError> {
    state.storage().cloned().ok_or_else(|| ApiError::new(ErrorType::Unavailable, "TSDB not ready"))
}

/// Runs a query on the blocking pool under the concurrency limit and the
/// timeout (which covers the time spent waiting for a slot, as in Prometheus).
/// How long a query waited for a slot and evaluated, for `stats`.
#[derive(Debug, Clone, Copy, Default)]
struct Timings {
    queue_secs: f64,
    eval_secs: f64,
}

async fn run_query<F>(
    state: &Arc<AppState>,
    p: &Params,
    f: F,
) -> Result<(QueryResult, Timings), ApiError>
where
    F: FnOnce(&Engine, &dyn Queryable) -> Result<QueryResult, PromqlError> + Send + 'static,
{
    let timeout = p.duration("timeout")?;
    // Prometheus accepts a per-query `lookback_delta` overriding the flag.
    let lookback = p.duration("lookback_delta")?;
    let storage = storage(state)?;
    let mut options = state.engine_options(timeout);
    if let Some(l) = lookback.filter(|l| !l.is_zero()) {
        options.lookback_delta_ms = i64::try_from(l.as_millis()).unwrap_or(i64::MAX);
    }
    let deadline = options.timeout;
    let _running = state.telemetry.query_started();
    let queued = Instant::now();
    let permit = tokio::time::timeout(deadline, state.query_slots.clone().acquire_owned())
        .await
        .map_err(|_| ApiError::from(PromqlError::Timeout("query queue")))?
        .map_err(|_| ApiError::new(ErrorType::Unavailable, "query engine is shutting down"))?;
    let waited = queued.elapsed();
    state.telemetry.query_slice("queue_time", waited.as_secs_f64());
    let remaining = deadline.saturating_sub(waited);
    if remaining.is_zero() {
        return Err(PromqlError::Timeout("query queue").into());
    }
    options.timeout = remaining;
    let engine = Engine::new(options);
    let task = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let started = Instant::now();
        let result = f(&engine, &*storage);
        (result, started.elapsed())
    });
    match tokio::time::timeout(remaining + TIMEOUT_GRACE, task).await {
        Err(_) => Err(PromqlError::Timeout("expression evaluation").into()),
        Ok(Err(join)) => Err(ApiError::internal(format!("query evaluation panicked: {join}"))),
        Ok(Ok((result, took))) => {
            state.telemetry.query_slice("inner_eval", took.as_secs_f64());
            Ok((
                result?,
                Timings { queue_secs: waited.as_secs_f64(), eval_secs: took.as_secs_f64() },
            ))
        }
    }
}

fn query_success(
    res: QueryResult,
    timings: Timings,
    with_stats: bool,
    started: Instant,
) -> ApiResult {
    let mut data = String::with_capacity(256);
    data.push_str("{\"resultType\":\"");
    data.push_str(res.value.type_name());
    data.push_str("\",\"result\":");
    push_value(&mut data, &res.value);
    if with_stats {
        let _ = write!(
            data,
            ",\"stats\":{{\"timings\":{{\"evalTotalTime\":{},\"resultSortTime\":0,\"queryPreparationTime\":0,\"innerEvalTime\":{},\"execQueueTime\":{},\"execTotalTime\":{}}},\"samples\":{{\"totalQueryableSamples\":{},\"peakSamples\":{}}}}}",
            timings.eval_secs,
            timings.eval_secs,
            timings.queue_secs,
            started.elapsed().as_secs_f64(),
            res.samples_loaded,
            res.samples_loaded
        );
    }
    data.push('}');
    Ok(Some(Success { data, warnings: res.warnings, infos: res.infos }))
}

async fn query(state: &Arc<AppState>, p: &Params) -> ApiResult {
    let started = Instant::now();
    let t_ms = p.time_or("time", now_ms())?;
    let expr = p.value("query").to_string();
    let (res, timings) =
        run_query(state, p, move |engine, storage| engine.instant_query(storage, &expr, t_ms))
            .await
            .map_err(|e| match e.kind {
                // Prometheus reports parse errors of instant queries as an
                // invalid `query` parameter.
                ErrorType::BadData if !e.message.starts_with("invalid parameter") => {
                    ApiError::invalid_param("query", &e.message)
                }
                _ => e,
            })?;
    query_success(res, timings, p.get("stats").is_some(), started)
}

/// Validates `query_range`'s start, end and step as Prometheus does.
pub fn range_params(p: &Params) -> Result<(i64, i64, i64), ApiError> {
    let start = p.time("start")?;
    let end = p.time("end")?;
    if end < start {
        return Err(ApiError::invalid_param("end", "end timestamp must not be before start time"));
    }
    let step = crate::duration::parse_api_duration_ms(p.value("step"))
        .map_err(|e| ApiError::invalid_param("step", e))?;
    if step <= 0 {
        return Err(ApiError::invalid_param(
            "step",
            "zero or negative query resolution step widths are not accepted. Try a positive integer",
        ));
    }
    if (end - start) / step > MAX_POINTS_PER_SERIES {
        return Err(ApiError::bad_data(
            "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)",
        ));
    }
    Ok((start, end, step))
}

async fn query_range(state: &Arc<AppState>, p: &Params) -> ApiResult {
    let started = Instant::now();
    let (start, end, step) = range_params(p)?;
    let expr = p.value("query").to_string();
    let (res, timings) = run_query(state, p, move |engine, storage| {
        engine.range_query(storage, &expr, start, end, step)
    })
    .await?;
    query_success(res, timings, p.get("stats").is_some(), started)
}

fn query_exemplars(p: &Params) -> ApiResult {
    let start = p.time_or("start", MIN_TIME_MS)?;
    let end = p.time_or("end", MAX_TIME_MS)?;
    if end < start {
        return Err(ApiError::bad_data("end timestamp must not be before start timestamp"));
    }
    promethium_promql::parser::parse(p.value("query"))
        .map_err(|e| ApiError::bad_data(e.to_string()))?;
    // Exemplars are not stored yet: every selector has none.
    Ok(Some(Success::data("[]".into())))
}

fn format_query(p: &Params) -> ApiResult {
    let expr = promethium_promql::parser::parse(p.value("query"))
        .map_err(|e| ApiError::invalid_param("query", e))?;
    let mut data = String::new();
    push_str(&mut data, &expr.to_string());
    Ok(Some(Success::data(data)))
}

fn parse_query(p: &Params) -> ApiResult {
    let expr = promethium_promql::parser::parse(p.value("query"))
        .map_err(|e| ApiError::invalid_param("query", e))?;
    ok_json(&super::ast_json::translate(&expr))
}

fn parse_matchers(values: &[&str]) -> Result<Vec<Vec<Matcher>>, ApiError> {
    values
        .iter()
        .map(|v| {
            parse_selector(v).map_err(|e| {
                if e.reason.contains("at least one non-empty matcher") {
                    ApiError::invalid_param(
                        "match[]",
                        "match[] must contain at least one non-empty matcher",
                    )
                } else {
                    ApiError::invalid_param("match[]", e)
                }
            })
        })
        .collect()
}

fn truncate_with_warning<T>(items: &mut Vec<T>, limit: Option<usize>, warnings: &mut Vec<String>) {
    if let Some(limit) = limit
        && items.len() > limit
    {
        items.truncate(limit);
        warnings.push("results truncated due to limit".to_string());
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::internal(format!("handler panicked: {e}")))?
}

async fn series(state: &Arc<AppState>, p: &Params) -> ApiResult {
    let matches = p.all("match[]");
    if matches.is_empty() {
        return Err(ApiError::bad_data("no match[] parameter provided"));
    }
    let sets = parse_matchers(&matches)?;
    let start = p.time_or("start", MIN_TIME_MS)?;
    let end = p.time_or("end", MAX_TIME_MS)?;
    let limit = p.limit()?;
    let storage = storage(state)?;
    let mut found: Vec<Labels> = blocking(move || {
        let q = storage
            .querier(start, end)
            .map_err(|e| ApiError::new(ErrorType::Execution, e.to_string()))?;
        let mut all = BTreeSet::new();
        for set in &sets {
            for s in q
                .select(set, None)
                .map_err(|e| ApiError::new(ErrorType::Execution, e.to_string()))?
            {
                all.insert(s.labels().clone());
            }
        }
        Ok(all.into_iter().collect())
    })
    .await?;
    let mut warnings = Vec::new();
    truncate_with_warning(&mut found, limit, &mut warnings);
    let mut data = String::from("[");
    for (i, l) in found.iter().enumerate() {
        if i > 0 {
            data.push(',');
        }
        push_labels(&mut data, l);
    }
    data.push(']');
    Ok(Some(Success { data, warnings, infos: Vec::new() }))
}

async fn labels(state: &Arc<AppState>, p: &Params) -> ApiResult {
    let sets = parse_matchers(&p.all("match[]"))?;
    let start = p.time_or("start", MIN_TIME_MS)?;
    let end = p.time_or("end", MAX_TIME_MS)?;
    let limit = p.limit()?;
    let storage = storage(state)?;
    let mut names: Vec<String> = blocking(move || {
        let q = storage
            .querier(start, end)
            .map_err(|e| ApiError::new(ErrorType::Execution, e.to_string()))?;
        let exec =
            |e: promethium_engine::QueryError| ApiError::new(ErrorType::Execution, e.to_string());
        if sets.is_empty() {
            return q.label_names(&[]).map_err(exec);
        }
        let mut all = BTreeSet::new();
        for set in &sets {
            all.extend(q.label_names(set).map_err(exec)?);
        }
        Ok(all.into_iter().collect())
    })
    .await?;
    let mut warnings = Vec::new();
    truncate_with_warning(&mut names, limit, &mut warnings);
    let mut data = String::new();
    push_str_array(&mut data, &names);
    Ok(Some(Success { data, warnings, infos: Vec::new() }))
}

/// Percent-decodes a path segment (`+` stays a plus, unlike in forms).
fn percent_decode_path(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && let Some(v) = s.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Decodes Prometheus' `U__` escaping of label names in URL paths.
fn unescape_label_name(name: &str) -> String {
    let Some(rest) = name.strip_prefix("U__") else { return name.to_string() };
    let mut out = String::new();
    let mut chars = rest.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '_' {
            out.push(c);
            continue;
        }
        if chars.peek() == Some(&'_') {
            chars.next();
            out.push('_');
            continue;
        }
        let hex: String = chars.by_ref().take_while(|c| *c != '_').collect();
        match u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
            Some(ch) => out.push(ch),
            None => return name.to_string(),
        }
    }
    out
}

async fn label_values(state: &Arc<AppState>, raw_name: &str, p: &Params) -> ApiResult {
    let name = unescape_label_name(&percent_decode_path(raw_name));
    if name.is_empty() || name.contains('\u{fffd}') {
        return Err(ApiError::bad_data(format!("invalid label name: {name:?}")));
    }
    let sets = parse_matchers(&p.all("match[]"))?;
    let start = p.time_or("start", MIN_TIME_MS)?;
    let end = p.time_or("end", MAX_TIME_MS)?;
    let limit = p.limit()?;
    let storage = storage(state)?;
    let mut values: Vec<String> = blocking(move || {
        let q = storage
            .querier(start, end)
            .map_err(|e| ApiError::new(ErrorType::Execution, e.to_string()))?;
        let exec =
            |e: promethium_engine::QueryError| ApiError::new(ErrorType::Execution, e.to_string());
        if sets.is_empty() {
            return q.label_values(&name, &[]).map_err(exec);
        }
        let mut all = BTreeSet::new();
        for set in &sets {
            all.extend(q.label_values(&name, set).map_err(exec)?);
        }
        Ok(all.into_iter().collect())
    })
    .await?;
    let mut warnings = Vec::new();
    truncate_with_warning(&mut values, limit, &mut warnings);
    let mut data = String::new();
    push_str_array(&mut data, &values);
    Ok(Some(Success { data, warnings, infos: Vec::new() }))
}

fn push_label_map(out: &mut String, m: &LabelMap) {
    out.push('{');
    for (i, (k, v)) in m.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_str(out, k);
        out.push(':');
        push_str(out, v);
    }
    out.push('}');
}

/// `/api/v1/targets` filters.
#[derive(Debug, Clone)]
pub struct TargetFilter {
    show_active: bool,
    show_dropped: bool,
    pool: Option<String>,
}

impl TargetFilter {
    /// From the `state` and `scrapePool` parameters.
    pub fn from_params(p: &Params) -> Self {
        let state = p.value("state").to_ascii_lowercase();
        TargetFilter {
            show_active: state.is_empty() || state == "active" || state == "any",
            show_dropped: state.is_empty() || state == "dropped" || state == "any",
            pool: p.get("scrapePool").filter(|s| !s.is_empty()).map(str::to_string),
        }
    }

    fn wants(&self, pool: &str) -> bool {
        self.pool.as_deref().is_none_or(|p| p == pool)
    }
}

fn push_active_target(data: &mut String, t: &crate::targets::ActiveTarget) {
    data.push_str("{\"discoveredLabels\":");
    push_label_map(data, &t.discovered_labels);
    data.push_str(",\"labels\":");
    push_label_map(data, &t.labels);
    data.push_str(",\"scrapePool\":");
    push_str(data, &t.scrape_pool);
    data.push_str(",\"scrapeUrl\":");
    push_str(data, &t.scrape_url);
    data.push_str(",\"globalUrl\":");
    push_str(data, &t.global_url);
    data.push_str(",\"lastError\":");
    push_str(data, &t.last_error);
    data.push_str(",\"lastScrape\":");
    let last = if t.last_scrape_ms == 0 {
        "0001-01-01T00:00:00Z".to_string()
    } else {
        format_rfc3339_ms(t.last_scrape_ms)
    };
    push_str(data, &last);
    data.push_str(",\"lastScrapeDuration\":");
    push_float(data, t.last_scrape_duration_secs);
    data.push_str(",\"health\":");
    push_str(data, t.health.as_str());
    data.push_str(",\"scrapeInterval\":");
    push_str(data, &t.scrape_interval);
    data.push_str(",\"scrapeTimeout\":");
    push_str(data, &t.scrape_timeout);
    data.push('}');
}

/// Writes the whole `/api/v1/targets` response (envelope included) target
/// by target, so a cluster with many thousands of targets is streamed
/// rather than held in memory as one document.
pub fn write_targets(
    source: &dyn TargetSource,
    filter: &TargetFilter,
    w: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    let mut buf = String::with_capacity(1024);
    w.write_all(b"{\"status\":\"success\",\"data\":{\"activeTargets\":[")?;
    if filter.show_active {
        let mut first = true;
        for t in source.active_targets().filter(|t| filter.wants(&t.scrape_pool)) {
            buf.clear();
            if !first {
                buf.push(',');
            }
            first = false;
            push_active_target(&mut buf, &t);
            w.write_all(buf.as_bytes())?;
        }
    }
    w.write_all(b"],\"droppedTargets\":[")?;
    let (dropped, counts) =
        if filter.show_dropped { source.dropped_targets() } else { (Vec::new(), BTreeMap::new()) };
    let mut first = true;
    for t in dropped
        .iter()
        .filter(|t| filter.wants(&t.scrape_pool))
        .take(crate::targets::MAX_DROPPED_TARGETS)
    {
        buf.clear();
        if !first {
            buf.push(',');
        }
        first = false;
        buf.push_str("{\"discoveredLabels\":");
        push_label_map(&mut buf, &t.discovered_labels);
        buf.push_str(",\"scrapePool\":");
        push_str(&mut buf, &t.scrape_pool);
        buf.push('}');
        w.write_all(buf.as_bytes())?;
    }
    w.write_all(b"],\"droppedTargetCounts\":")?;
    let counts: BTreeMap<&String, &u64> = counts.iter().filter(|(k, _)| filter.wants(k)).collect();
    serde_json::to_writer(&mut *w, &counts).map_err(std::io::Error::other)?;
    w.write_all(b"}}")?;
    w.flush()
}

fn scrape_pools(state: &Arc<AppState>) -> ApiResult {
    let mut pools = state.targets().scrape_pools();
    if pools.is_empty() {
        pools = state.config().config.scrape_configs.iter().map(|c| c.job_name.clone()).collect();
        pools.sort();
    }
    ok_json(&json!({ "scrapePools": pools }))
}

fn targets_metadata(state: &Arc<AppState>, p: &Params) -> ApiResult {
    let limit = p.limit()?;
    let matchers = match p.get("match_target").filter(|s| !s.is_empty()) {
        Some(m) => Some(parse_selector(m).map_err(|e| ApiError::bad_data(e.to_string()))?),
        None => None,
    };
    let metric = p.get("metric").filter(|s| !s.is_empty());
    let mut out = Vec::new();
    for m in state.targets().metadata() {
        if metric.is_some_and(|name| name != m.metric) {
            continue;
        }
        if let Some(ms) = &matchers {
            let labels = Labels::new(m.target.iter());
            if !ms.iter().all(|mm| mm.matches_labels(&labels)) {
                continue;
            }
        }
        out.push(json!({"target": m.target, "metric": m.metric, "type": m.kind, "help": m.help, "unit": m.unit}));
        if limit.is_some_and(|l| out.len() >= l) {
            break;
        }
    }
    ok_json(&out)
}

fn metadata(state: &Arc<AppState>, p: &Params) -> ApiResult {
    let limit = p.limit()?;
    let per_metric = match p.get("limit_per_metric") {
        None | Some("") => None,
        Some(v) => Some(
            v.parse::<i64>()
                .map_err(|_| ApiError::bad_data("limit_per_metric must be a number"))?,
        )
        .filter(|n| *n > 0),
    };
    let metric = p.get("metric").filter(|s| !s.is_empty());
    let mut by_metric: BTreeMap<String, Vec<serde_json::Value>> = BTreeMap::new();
    for m in state.targets().metadata() {
        if metric.is_some_and(|name| name != m.metric) {
            continue;
        }
        let entry = json!({"type": m.kind, "help": m.help, "unit": m.unit});
        let list = by_metric.entry(m.metric.clone()).or_default();
        if !list.contains(&entry) && per_metric.is_none_or(|n| (list.len() as i64) < n) {
            list.push(entry);
        }
    }
    if let Some(l) = limit {
        by_metric = by_metric.into_iter().take(l).collect();
    }
    ok_json(&by_metric)
}

/// The Prometheus API level this server implements. Clients (Grafana's
/// Prometheus data source above all) read `version` from buildinfo to decide
/// which API features to use, so it carries the Prometheus version whose
/// API is served, as other compatible servers do; Promethium's own version
/// is in `revision`.
pub const PROMETHEUS_API_VERSION: &str = "3.0.0";

fn build_info() -> serde_json::Value {
    json!({
        "version": PROMETHEUS_API_VERSION,
        "revision": format!("promethium-{}{}", env!("CARGO_PKG_VERSION"), option_env!("PROMETHIUM_REVISION").map(|r| format!("-{r}")).unwrap_or_default()),
        "branch": option_env!("PROMETHIUM_BRANCH").unwrap_or(""),
        "buildUser": "",
        "buildDate": "",
        "goVersion": "rust",
    })
}

fn runtime_info(state: &Arc<AppState>) -> ApiResult {
    let (reload_ok, last_config) = state.reload_status();
    let retention = match (state.retention_time(), state.retention_size()) {
        (Some(t), Some(s)) => format!("{} or {}B", format_prom_duration(t), s),
        (Some(t), None) => format_prom_duration(t),
        (None, Some(s)) => format!("{s}B"),
        (None, None) => String::new(),
    };
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let corruption = state.storage().map(|s| s.head_stats().wal_corruptions).unwrap_or(0);
    ok_json(&json!({
        "startTime": format_rfc3339_ms(state.start_time_ms),
        "CWD": std::env::current_dir().map(|p| p.display().to_string()).unwrap_or_default(),
        "hostname": crate::flags::hostname(),
        "serverTime": format_rfc3339_ms(now_ms()),
        "reloadConfigSuccess": reload_ok,
        "lastConfigTime": format_rfc3339_ms(last_config),
        "corruptionCount": corruption,
        "goroutineCount": 0,
        "GOMAXPROCS": threads,
        "GOMEMLIMIT": 0,
        "GOGC": "",
        "GODEBUG": "",
        "storageRetention": retention,
    }))
}

async fn tsdb_status(state: &Arc<AppState>, p: &Params) -> ApiResult {
    let limit = match p.get("limit") {
        None | Some("") => 10,
        Some(v) => match v.parse::<i64>() {
            Ok(n) if n >= 1 => usize::try_from(n).unwrap_or(usize::MAX),
            _ => return Err(ApiError::bad_data("limit must be a positive number")),
        },
    };
    let storage = storage(state)?;
    let (head, card) = blocking(move || {
        let head = storage.head_stats();
        let card = storage.cardinality(limit).map_err(|e| ApiError::internal(e.to_string()))?;
        Ok((head, card))
    })
    .await?;
    let pairs = |v: &[(String, u64)]| {
        v.iter().map(|(n, c)| json!({"name": n, "value": c})).collect::<Vec<_>>()
    };
    ok_json(&json!({
        "headStats": {
            "numSeries": head.num_series,
            "numLabelPairs": card.num_label_pairs,
            "chunkCount": head.chunk_count,
            "minTime": head.min_time_ms,
            "maxTime": head.max_time_ms,
        },
        "seriesCountByMetricName": pairs(&card.series_count_by_metric_name),
        "labelValueCountByLabelName": pairs(&card.label_value_count_by_label_name),
        "memoryInBytesByLabelName": pairs(&card.memory_in_bytes_by_label_name),
        "seriesCountByLabelValuePair": pairs(&card.series_count_by_label_value_pair),
    }))
}

fn admin_disabled(state: &AppState) -> Result<(), ApiError> {
    if state.flags.enable_admin_api {
        Ok(())
    } else {
        Err(ApiError::new(ErrorType::Unavailable, "admin APIs disabled"))
    }
}

fn admin_error(e: AdminError) -> ApiError {
    match e {
        AdminError::Unsupported(_) => ApiError::new(ErrorType::Unavailable, e.to_string()),
        AdminError::Failed(m) => ApiError::internal(m),
    }
}

async fn snapshot(state: &Arc<AppState>, p: &Params) -> ApiResult {
    admin_disabled(state)?;
    let skip_head = match p.get("skip_head") {
        None | Some("") => false,
        Some(v) => v.parse::<bool>().map_err(|_| {
            ApiError::bad_data(format!("unable to parse boolean 'skip_head' argument: {v:?}"))
        })?,
    };
    let storage = storage(state)?;
    let name = blocking(move || storage.snapshot(!skip_head).map_err(admin_error)).await?;
    ok_json(&json!({ "name": name }))
}

async fn delete_series(state: &Arc<AppState>, p: &Params) -> ApiResult {
    admin_disabled(state)?;
    let matches = p.all("match[]");
    if matches.is_empty() {
        return Err(ApiError::bad_data("no match[] parameter provided"));
    }
    let sets = parse_matchers(&matches)?;
    let start = p.time_or("start", MIN_TIME_MS)?;
    let end = p.time_or("end", MAX_TIME_MS)?;
    let storage = storage(state)?;
    blocking(move || storage.delete_series(&sets, start, end).map_err(admin_error)).await?;
    Ok(None)
}

async fn clean_tombstones(state: &Arc<AppState>) -> ApiResult {
    admin_disabled(state)?;
    let storage = storage(state)?;
    blocking(move || storage.clean_tombstones().map_err(admin_error)).await?;
    Ok(None)
}

/// `/metrics`: the server's own metrics in the text format.
pub fn metrics(state: &Arc<AppState>) -> Resp {
    let head = state.storage().map(|s| s.head_stats());
    let retention = state.retention_time().map(|d| d.as_secs_f64());
    let body = state.telemetry.render(head.as_ref(), retention);
    with_type(StatusCode::OK, "text/plain; version=0.0.4; charset=utf-8", body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(q: &str) -> Params {
        Params::from_parts(None, Some(q))
    }

    #[test]
    fn range_validation_matches_prometheus() {
        assert_eq!(range_params(&params("start=0&end=100&step=10")).unwrap(), (0, 100_000, 10_000));
        assert_eq!(range_params(&params("start=0&end=100&step=1m")).unwrap(), (0, 100_000, 60_000));
        let e = range_params(&params("start=0&end=100&step=0")).unwrap_err();
        assert_eq!(
            e.message,
            "invalid parameter \"step\": zero or negative query resolution step widths are not accepted. Try a positive integer"
        );
        let e = range_params(&params("start=10&end=0&step=1")).unwrap_err();
        assert_eq!(
            e.message,
            "invalid parameter \"end\": end timestamp must not be before start time"
        );
        let e = range_params(&params("start=0&end=100000&step=1")).unwrap_err();
        assert!(
            e.message.starts_with("exceeded maximum resolution of 11,000 points per timeseries")
        );
        assert_eq!(e.kind, ErrorType::BadData);
        let e = range_params(&params("start=x&end=1&step=1")).unwrap_err();
        assert_eq!(
            e.message,
            "invalid parameter \"start\": cannot parse \"x\" to a valid timestamp"
        );
        assert!(range_params(&params("start=0&end=1&step=abc")).is_err());
    }

    struct FakeTargets;

    impl TargetSource for FakeTargets {
        fn active_targets(&self) -> Box<dyn Iterator<Item = crate::targets::ActiveTarget> + '_> {
            Box::new((0..3).map(|i| crate::targets::ActiveTarget {
                discovered_labels: [("__address__".to_string(), format!("h{i}:9100"))].into(),
                labels: [("instance".to_string(), format!("h{i}:9100"))].into(),
                scrape_pool: if i == 0 { "a".into() } else { "b".into() },
                scrape_url: format!("http://h{i}:9100/metrics"),
                global_url: format!("http://h{i}:9100/metrics"),
                last_error: String::new(),
                last_scrape_ms: 0,
                last_scrape_duration_secs: 0.5,
                health: crate::targets::Health::Unknown,
                scrape_interval: "15s".into(),
                scrape_timeout: "10s".into(),
            }))
        }
        fn dropped_targets(&self) -> (Vec<crate::targets::DroppedTarget>, BTreeMap<String, u64>) {
            let d = crate::targets::DroppedTarget {
                discovered_labels: [("__address__".to_string(), "x".to_string())].into(),
                scrape_pool: "b".into(),
            };
            (vec![d], [("a".to_string(), 0), ("b".to_string(), 7)].into())
        }
        fn scrape_pools(&self) -> Vec<String> {
            vec!["a".into(), "b".into()]
        }
        fn metadata(&self) -> Vec<crate::targets::TargetMetadata> {
            Vec::new()
        }
    }

    fn targets_json(q: &str) -> serde_json::Value {
        let mut out = Vec::new();
        write_targets(&FakeTargets, &TargetFilter::from_params(&params(q)), &mut out).unwrap();
        serde_json::from_slice(&out).unwrap()
    }

    #[test]
    fn targets_stream_prometheus_shapes_and_filters() {
        let v = targets_json("");
        assert_eq!(v["status"], "success");
        assert_eq!(v["data"]["activeTargets"].as_array().unwrap().len(), 3);
        assert_eq!(v["data"]["activeTargets"][0]["lastScrape"], "0001-01-01T00:00:00Z");
        assert_eq!(v["data"]["activeTargets"][0]["health"], "unknown");
        assert_eq!(v["data"]["droppedTargets"][0]["scrapePool"], "b");
        assert_eq!(v["data"]["droppedTargetCounts"], serde_json::json!({"a": 0, "b": 7}));
        let v = targets_json("scrapePool=a");
        assert_eq!(v["data"]["activeTargets"].as_array().unwrap().len(), 1);
        assert_eq!(v["data"]["droppedTargets"], serde_json::json!([]));
        assert_eq!(v["data"]["droppedTargetCounts"], serde_json::json!({"a": 0}));
        let v = targets_json("state=dropped");
        assert_eq!(v["data"]["activeTargets"], serde_json::json!([]));
        assert_eq!(v["data"]["droppedTargets"].as_array().unwrap().len(), 1);
    }

    #[test]
    fn label_names_unescape() {
        assert_eq!(unescape_label_name("job"), "job");
        assert_eq!(unescape_label_name("U__my_2e_label"), "my.label");
        assert_eq!(unescape_label_name("U__a__b"), "a_b");
        assert_eq!(percent_decode_path("a%2Eb+c"), "a.b+c");
        assert_eq!(percent_decode_path("bad%zz"), "bad%zz");
    }
}
