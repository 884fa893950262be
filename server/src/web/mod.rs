//! The web UI: a single-page application from embedded assets. Every UI
//! route answers with the same HTML shell (carrying the route prefix); the
//! JavaScript modules render the page from the public HTTP API, as
//! Prometheus' own UI does.

mod assets;

use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, StatusCode};

use crate::http::{Resp, redirect, with_type};
use crate::state::AppState;

/// UI routes served by the single-page shell.
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

/// Answers a UI path (below the route prefix), or `None` when it is not one.
pub fn page<B>(state: &AppState, req: &Request<B>, path: &str) -> Option<Resp> {
    let method = req.method();
    if method != Method::GET && method != Method::HEAD {
        return None;
    }
    if path == "/graph" {
        // Prometheus 3 moved the page; old links keep their panels.
        let query = req.uri().query().map(|q| format!("?{q}")).unwrap_or_default();
        return Some(redirect(&format!("{}/query{query}", state.prefix)));
    }
    let if_none_match = req.headers().get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok());
    if let Some(name) = path.strip_prefix("/assets/") {
        let asset = assets::find(name)?;
        return Some(cached(asset.content_type, asset.body.to_string(), if_none_match));
    }
    if path == "/favicon.ico" || path == "/favicon.svg" {
        let asset = assets::find("favicon.svg")?;
        return Some(cached(asset.content_type, asset.body.to_string(), if_none_match));
    }
    if !PAGES.contains(&path) {
        return None;
    }
    Some(cached("text/html; charset=utf-8", shell(&state.prefix), if_none_match))
}

/// The HTML shell with the route prefix filled in (HTML-escaped: it comes
/// from a flag, but a stray quote must not break the page).
fn shell(prefix: &str) -> String {
    assets::INDEX_HTML.replace("%PREFIX%", &escape_attr(prefix))
}

fn escape_attr(s: &str) -> String {
    s.replace('&', "&amp;").replace('"', "&quot;").replace('<', "&lt;").replace('>', "&gt;")
}

/// A response the browser may keep but must revalidate (`no-cache` with a
/// strong ETag): a new binary's UI is picked up at once, an unchanged one
/// costs a 304.
fn cached(content_type: &'static str, body: String, if_none_match: Option<&str>) -> Resp {
    let tag = assets::etag(&body);
    let fresh =
        if_none_match.is_some_and(|v| v.split(',').any(|t| t.trim() == tag || t.trim() == "*"));
    let mut r = if fresh {
        with_type(StatusCode::NOT_MODIFIED, content_type, "")
    } else {
        with_type(StatusCode::OK, content_type, body)
    };
    let h = r.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if let Ok(v) = HeaderValue::from_str(&tag) {
        h.insert(header::ETAG, v);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn state(extra: &[&str]) -> Arc<AppState> {
        let args = ["promethium", "--web.listen-address=127.0.0.1:0"]
            .iter()
            .chain(extra)
            .map(|s| s.to_string());
        let flags = crate::flags::Flags::parse_from_args(args).unwrap();
        let config = crate::config::load(None, &flags.listen_address).unwrap();
        let (tx, _rx) = tokio::sync::mpsc::channel(1);
        Arc::new(AppState::new(flags, config, crate::web_config::WebConfig::default(), tx))
    }

    fn get(uri: &str, headers: &[(&str, &str)]) -> Request<()> {
        let mut b = Request::builder().uri(uri);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(()).unwrap()
    }

    #[test]
    fn graph_redirects_to_query_keeping_panels() {
        let s = state(&["--web.route-prefix=/prom"]);
        let r = page(&s, &get("/prom/graph?g0.expr=up&g0.tab=0", &[]), "/graph").unwrap();
        assert_eq!(r.status(), StatusCode::FOUND);
        assert_eq!(r.headers()[header::LOCATION], "/prom/query?g0.expr=up&g0.tab=0");
        let r = page(&s, &get("/prom/graph", &[]), "/graph").unwrap();
        assert_eq!(r.headers()[header::LOCATION], "/prom/query");
    }

    #[test]
    fn pages_carry_the_prefix_and_assets_their_types() {
        let s = state(&["--web.external-url=http://example.com/p/"]);
        let r = page(&s, &get("/p/targets", &[]), "/targets").unwrap();
        assert_eq!(r.headers()[header::CONTENT_TYPE], "text/html; charset=utf-8");
        assert!(shell("/p").matches("\"/p/assets/").count() >= 2);
        assert!(!shell("").contains("%PREFIX%"));
        let r = page(&s, &get("/p/assets/js/app.js", &[]), "/assets/js/app.js").unwrap();
        assert_eq!(r.headers()[header::CONTENT_TYPE], "text/javascript; charset=utf-8");
        let r = page(&s, &get("/p/assets/style.css", &[]), "/assets/style.css").unwrap();
        assert_eq!(r.headers()[header::CONTENT_TYPE], "text/css; charset=utf-8");
        assert_eq!(r.headers()[header::CACHE_CONTROL], "no-cache");
        assert!(page(&s, &get("/p/assets/nope.js", &[]), "/assets/nope.js").is_none());
        assert!(page(&s, &get("/p/nope", &[]), "/nope").is_none());
        let post = Request::builder().method("POST").uri("/p/query").body(()).unwrap();
        assert!(page(&s, &post, "/query").is_none());
    }

    #[test]
    fn etag_revalidation_answers_304() {
        let s = state(&[]);
        let r = page(&s, &get("/assets/style.css", &[]), "/assets/style.css").unwrap();
        let tag = r.headers()[header::ETAG].to_str().unwrap().to_string();
        let r =
            page(&s, &get("/assets/style.css", &[("if-none-match", &tag)]), "/assets/style.css")
                .unwrap();
        assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
        let r =
            page(&s, &get("/assets/style.css", &[("if-none-match", "\"x\"")]), "/assets/style.css")
                .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
    }

    #[test]
    fn prefix_is_escaped_in_the_shell() {
        assert!(shell("/a\"b").contains("/a&quot;b"));
    }
}
