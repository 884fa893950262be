//! `/federate`: the latest sample of every series matching `match[]`, in
//! the text exposition format, with the config's external labels added
//! (series' own labels win), as Prometheus serves it.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;

use hyper::{Request, StatusCode};
use promethium_engine::model::{Labels, is_stale_nan};

use super::json::push_float_text;
use super::params::Params;
use super::selector::parse_selector;
use crate::duration::now_ms;
use crate::http::{Resp, text, with_type};
use crate::state::AppState;

/// Serves one federation request.
pub async fn federate<B>(state: &Arc<AppState>, req: Request<B>) -> Resp {
    let params = Params::from_parts(None, req.uri().query());
    let mut sets = Vec::new();
    for m in params.all("match[]") {
        match parse_selector(m) {
            Ok(s) => sets.push(s),
            Err(e) => return text(StatusCode::BAD_REQUEST, format!("{e}\n")),
        }
    }
    let Some(storage) = state.storage().cloned() else {
        return text(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable\n");
    };
    let lookback_ms =
        i64::try_from(state.flags.query_lookback_delta.as_millis()).unwrap_or(i64::MAX);
    let external = state.config().external_labels();
    let result = tokio::task::spawn_blocking(move || {
        let now = now_ms();
        let querier = storage.querier(now - lookback_ms, now).map_err(|e| e.to_string())?;
        let mut latest: BTreeMap<Labels, (i64, f64)> = BTreeMap::new();
        for set in &sets {
            for series in querier.select(set, None).map_err(|e| e.to_string())? {
                let mut it = series.iter();
                let mut last = None;
                while let Some(s) = it.next() {
                    if s.t_ms <= now {
                        last = Some(s);
                    }
                }
                if let Some(s) = last.filter(|s| !is_stale_nan(s.value)) {
                    latest.insert(series.labels().clone(), (s.t_ms, s.value));
                }
            }
        }
        Ok::<_, String>(render(&latest, &external))
    })
    .await;
    match result {
        Ok(Ok(body)) => with_type(StatusCode::OK, "text/plain; version=0.0.4; charset=utf-8", body),
        Ok(Err(e)) => text(StatusCode::INTERNAL_SERVER_ERROR, format!("federation failed: {e}\n")),
        Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, format!("federation failed: {e}\n")),
    }
}

fn escape_value(v: &str) -> String {
    v.replace('\\', "\\\\").replace('\n', "\\n").replace('"', "\\\"")
}

/// Renders series grouped by metric name, each group under one `# TYPE`.
fn render(latest: &BTreeMap<Labels, (i64, f64)>, external: &[(String, String)]) -> String {
    let mut by_name: BTreeMap<&str, Vec<(&Labels, i64, f64)>> = BTreeMap::new();
    for (labels, (t, v)) in latest {
        by_name.entry(labels.metric_name().unwrap_or("")).or_default().push((labels, *t, *v));
    }
    let mut out = String::new();
    for (name, series) in by_name {
        let _ = writeln!(out, "# TYPE {name} untyped");
        for (labels, t, v) in series {
            let mut pairs: BTreeMap<&str, &str> =
                labels.iter().filter(|l| l.name != "__name__").map(|l| (l.name, l.value)).collect();
            for (k, val) in external {
                pairs.entry(k.as_str()).or_insert(val.as_str());
            }
            out.push_str(name);
            if !pairs.is_empty() {
                out.push('{');
                for (i, (k, val)) in pairs.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    let _ = write!(out, "{k}=\"{}\"", escape_value(val));
                }
                out.push('}');
            }
            out.push(' ');
            push_float_text(&mut out, v);
            let _ = writeln!(out, " {t}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_groups_with_external_labels() {
        let mut latest = BTreeMap::new();
        latest.insert(Labels::new([("__name__", "up"), ("job", "a")]), (1000, 1.0));
        latest.insert(
            Labels::new([("__name__", "up"), ("job", "b"), ("cluster", "own")]),
            (2000, 0.0),
        );
        let text = render(&latest, &[("cluster".into(), "x".into())]);
        assert_eq!(
            text,
            "# TYPE up untyped\nup{cluster=\"own\",job=\"b\"} 0 2000\nup{cluster=\"x\",job=\"a\"} 1 1000\n"
        );
    }
}
