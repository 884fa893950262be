//! From a discovered target to a scrape target's labels.
//!
//! Discovery hands over plain label maps. Before a target is scraped,
//! Prometheus fills in the job's settings as reserved labels (`job`,
//! `__scheme__`, `__metrics_path__`, `__scrape_interval__`,
//! `__scrape_timeout__`, `__param_<name>`), runs the job's
//! `relabel_configs` (which may rewrite any of them, so one job can scrape
//! targets on different paths or intervals), checks the result and drops
//! the `__meta_*` labels. This module does exactly that; the scrape loop
//! reads the URL, interval and timeout back from the labels it returns.
//!
//! Port handling follows Prometheus 3: no default port is added to
//! `__address__`; a target without one is scraped on the scheme's port.

use std::time::Duration;

use promethium_discovery::config::{format_duration, parse_duration};
use promethium_discovery::{ADDRESS_LABEL, LabelSet, META_LABEL_PREFIX};
use promethium_engine::model::{Labels, LabelsBuilder, RESERVED_PREFIX};

use crate::config::ScrapeConfig;
use crate::relabel;

/// The label naming the job.
pub const JOB_LABEL: &str = "job";
/// The label naming the instance; defaults to `__address__`.
pub const INSTANCE_LABEL: &str = "instance";
/// `http` or `https`.
pub const SCHEME_LABEL: &str = "__scheme__";
/// The HTTP path to scrape.
pub const METRICS_PATH_LABEL: &str = "__metrics_path__";
/// The target's scrape interval, as a Prometheus duration.
pub const SCRAPE_INTERVAL_LABEL: &str = "__scrape_interval__";
/// The target's scrape timeout, as a Prometheus duration.
pub const SCRAPE_TIMEOUT_LABEL: &str = "__scrape_timeout__";
/// Prefix of labels that become URL query parameters.
pub const PARAM_LABEL_PREFIX: &str = "__param_";

/// Why a discovered target cannot be scraped. Messages are Prometheus'.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// `__address__` is missing or empty after relabeling.
    #[error("no address")]
    NoAddress,
    /// `__address__` is not a `host[:port]`.
    #[error("{0:?} is not a valid hostname")]
    InvalidAddress(String),
    /// `__scrape_interval__` is not a duration.
    #[error("error parsing scrape interval: not a valid duration string: {0:?}")]
    InvalidInterval(String),
    /// `__scrape_interval__` is zero.
    #[error("scrape interval cannot be 0")]
    ZeroInterval,
    /// `__scrape_timeout__` is not a duration.
    #[error("error parsing scrape timeout: not a valid duration string: {0:?}")]
    InvalidTimeout(String),
    /// `__scrape_timeout__` is zero.
    #[error("scrape timeout cannot be 0")]
    ZeroTimeout,
    /// `__scrape_timeout__` exceeds `__scrape_interval__`.
    #[error("scrape timeout cannot be greater than scrape interval ({timeout:?} > {interval:?})")]
    TimeoutOverInterval {
        /// The timeout as written.
        timeout: String,
        /// The interval as written.
        interval: String,
    },
}

/// The labels a target has before relabeling, as the targets page shows
/// them: the target's own labels, then its group's (the target wins), then
/// the job's settings for every reserved label not already set.
pub fn discovered_labels(
    target: &LabelSet,
    group_labels: &LabelSet,
    cfg: &ScrapeConfig,
) -> LabelSet {
    let mut out = target.clone();
    for (k, v) in group_labels {
        out.entry(k.clone()).or_insert_with(|| v.clone());
    }
    // An empty value means "unset", as in Prometheus' label builder.
    out.retain(|_, v| !v.is_empty());
    let defaults = [
        (JOB_LABEL, cfg.job_name.clone()),
        (SCRAPE_INTERVAL_LABEL, format_duration(cfg.scrape_interval)),
        (SCRAPE_TIMEOUT_LABEL, format_duration(cfg.scrape_timeout)),
        (METRICS_PATH_LABEL, cfg.metrics_path.clone()),
        (SCHEME_LABEL, cfg.scheme.as_str().to_owned()),
    ];
    for (name, value) in defaults {
        out.entry(name.to_owned()).or_insert(value);
    }
    for (name, values) in &cfg.params {
        if let Some(first) = values.first().filter(|v| !v.is_empty()) {
            out.entry(format!("{PARAM_LABEL_PREFIX}{name}")).or_insert_with(|| first.clone());
        }
    }
    out
}

/// Turns a discovered target into the labels it is scraped with.
///
/// Returns `Ok(None)` when `relabel_configs` drop the target, and
/// otherwise the final labels (still holding the reserved `__address__`,
/// `__scheme__`, `__metrics_path__`, `__param_*`, `__scrape_*__` labels the
/// scrape needs, without `__meta_*`; see [`public_labels`]) together with
/// the discovered labels. An error means the target is unusable and is
/// reported as dropped with that reason.
pub fn populate_labels(
    target: &LabelSet,
    group_labels: &LabelSet,
    cfg: &ScrapeConfig,
) -> Result<Option<(Labels, LabelSet)>, TargetError> {
    let discovered = discovered_labels(target, group_labels, cfg);
    let mut lb = LabelsBuilder::new();
    for (k, v) in &discovered {
        lb.set(k, v);
    }
    if !relabel::process_builder(&mut lb, &cfg.relabel_configs) {
        return Ok(None);
    }
    let addr = lb.get(ADDRESS_LABEL).unwrap_or("").to_owned();
    if addr.is_empty() {
        return Err(TargetError::NoAddress);
    }
    check_address(&addr)?;
    let interval_text = lb.get(SCRAPE_INTERVAL_LABEL).unwrap_or("").to_owned();
    let interval = parse_duration(&interval_text)
        .map_err(|_| TargetError::InvalidInterval(interval_text.clone()))?;
    if interval.is_zero() {
        return Err(TargetError::ZeroInterval);
    }
    let timeout_text = lb.get(SCRAPE_TIMEOUT_LABEL).unwrap_or("").to_owned();
    let timeout = parse_duration(&timeout_text)
        .map_err(|_| TargetError::InvalidTimeout(timeout_text.clone()))?;
    if timeout.is_zero() {
        return Err(TargetError::ZeroTimeout);
    }
    if timeout > interval {
        return Err(TargetError::TimeoutOverInterval {
            timeout: timeout_text,
            interval: interval_text,
        });
    }
    lb.retain(|name, _| !name.starts_with(META_LABEL_PREFIX));
    if lb.get(INSTANCE_LABEL).is_none() {
        lb.set(INSTANCE_LABEL, &addr);
    }
    Ok(Some((lb.build(), discovered)))
}

/// Prometheus' `CheckTargetAddress`: an address is a host with an optional
/// port, so it cannot contain a path.
fn check_address(addr: &str) -> Result<(), TargetError> {
    if addr.contains('/') {
        return Err(TargetError::InvalidAddress(addr.to_owned()));
    }
    Ok(())
}

/// The labels stored with the target's series: the final labels without
/// the reserved `__`-prefixed ones.
pub fn public_labels(labels: &Labels) -> Labels {
    Labels::from_sorted_unique(
        labels.iter().filter(|l| !l.name.starts_with(RESERVED_PREFIX)).map(|l| (l.name, l.value)),
    )
}

/// The scrape interval of populated labels.
pub fn target_interval(labels: &Labels) -> Option<Duration> {
    labels.get(SCRAPE_INTERVAL_LABEL).and_then(|s| parse_duration(s).ok())
}

/// The scrape timeout of populated labels.
pub fn target_timeout(labels: &Labels) -> Option<Duration> {
    labels.get(SCRAPE_TIMEOUT_LABEL).and_then(|s| parse_duration(s).ok())
}

/// The URL to scrape, built as Prometheus' `Target.URL`: scheme, address
/// and path from the labels; query parameters from the job's `params`
/// with each `__param_<name>` label replacing that parameter's first
/// value; keys sorted and values form-encoded like Go's `url.Values`.
pub fn target_url(
    labels: &Labels,
    params: &std::collections::BTreeMap<String, Vec<String>>,
) -> String {
    let mut query: std::collections::BTreeMap<String, Vec<String>> = params.clone();
    for l in labels.iter() {
        if let Some(name) = l.name.strip_prefix(PARAM_LABEL_PREFIX) {
            match query.get_mut(name) {
                Some(values) if !values.is_empty() => values[0] = l.value.to_owned(),
                _ => {
                    query.insert(name.to_owned(), vec![l.value.to_owned()]);
                }
            }
        }
    }
    let scheme = labels.get(SCHEME_LABEL).unwrap_or("http");
    let host = labels.get(ADDRESS_LABEL).unwrap_or("");
    let path = labels.get(METRICS_PATH_LABEL).unwrap_or("");
    let mut url = format!("{scheme}://{host}");
    if !path.is_empty() && !path.starts_with('/') {
        url.push('/');
    }
    escape_path(path, &mut url);
    let mut first = true;
    for (k, values) in &query {
        for v in values {
            url.push(if first { '?' } else { '&' });
            first = false;
            escape_query(k, &mut url);
            url.push('=');
            escape_query(v, &mut url);
        }
    }
    url
}

fn push_hex(b: u8, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.push('%');
    out.push(HEX[usize::from(b >> 4)] as char);
    out.push(HEX[usize::from(b & 15)] as char);
}

/// Go's `url.QueryEscape`.
fn escape_query(s: &str, out: &mut String) {
    for &b in s.as_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => push_hex(b, out),
        }
    }
}

/// Go's path escaping in `url.URL.String` (`EscapedPath`).
fn escape_path(s: &str, out: &mut String) {
    for &b in s.as_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b'/' | b'$' | b'&' | b'+' | b',' | b';' | b'=' | b':' | b'@' => out.push(b as char),
            _ => push_hex(b, out),
        }
    }
}

#[cfg(test)]
mod tests;
