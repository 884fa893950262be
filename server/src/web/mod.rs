//! The web UI hook. The UI itself (React assets) is added separately; until
//! then `/query` (and the pages Prometheus serves) answer with a small
//! placeholder page pointing at the API, so links and bookmarks work.

use hyper::{Method, StatusCode};

use crate::http::{Resp, redirect, with_type};
use crate::state::AppState;

/// UI pages Prometheus serves; each gets the placeholder for now.
const PAGES: &[&str] = &[
    "/query",
    "/alerts",
    "/targets",
    "/service-discovery",
    "/status",
    "/flags",
    "/config",
    "/rules",
    "/tsdb-status",
];

/// Answers a UI path, or `None` when it is not a UI path.
pub fn page(state: &AppState, method: &Method, path: &str) -> Option<Resp> {
    if method != Method::GET && method != Method::HEAD {
        return None;
    }
    if path == "/graph" {
        return Some(redirect(&format!("{}/query", state.prefix)));
    }
    if !PAGES.contains(&path) {
        return None;
    }
    let api = format!("{}/api/v1", state.prefix);
    let body = format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>Promethium</title></head>\n<body>\n<h1>Promethium</h1>\n<p>The web UI is not part of this build yet. The HTTP API is at <a href=\"{api}/query?query=up\">{api}</a>.</p>\n</body></html>\n"
    );
    Some(with_type(StatusCode::OK, "text/html; charset=utf-8", body))
}
