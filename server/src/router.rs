//! Maps a request to its handler. Returns the handler's route pattern too,
//! which labels `prometheus_http_requests_total` as Prometheus labels it.

use std::sync::Arc;

use hyper::{Method, Request, StatusCode};

use crate::http::{ReqBody, Resp, redirect, text};
use crate::state::{AppState, Control};

/// Routes one request; returns `(handler pattern, response)`.
pub async fn route<B: ReqBody>(state: &Arc<AppState>, req: Request<B>) -> (&'static str, Resp) {
    let full_path = req.uri().path().to_string();
    let Some(path) = strip_prefix(&full_path, &state.prefix) else {
        return ("other", not_found());
    };
    let path = path.to_string();
    let method = req.method().clone();
    match path.as_str() {
        "" | "/" => ("/", redirect(&format!("{}/query", state.prefix))),
        "/-/healthy" => (
            "/-/healthy",
            get_only(&method, || text(StatusCode::OK, "Prometheus Server is Healthy.\n")),
        ),
        "/-/ready" => (
            "/-/ready",
            get_only(&method, || {
                if state.is_ready() {
                    text(StatusCode::OK, "Prometheus Server is Ready.\n")
                } else {
                    text(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable\n")
                }
            }),
        ),
        "/-/reload" => ("/-/reload", reload(state, &method).await),
        "/-/quit" => ("/-/quit", quit(state, &method).await),
        "/metrics" => ("/metrics", get_only(&method, || crate::api::v1::metrics(state))),
        "/federate" => {
            if !state.is_ready() {
                return ("/federate", unavailable());
            }
            ("/federate", crate::api::federate::federate(state, req).await)
        }
        p if p.starts_with("/api/v1/") => {
            crate::api::dispatch(state, req, &p["/api/v1".len()..]).await
        }
        p => match crate::web::page(state, &req, p) {
            Some(r) => ("/", r),
            None => ("other", not_found()),
        },
    }
}

fn strip_prefix<'a>(path: &'a str, prefix: &str) -> Option<&'a str> {
    if prefix.is_empty() {
        return Some(path);
    }
    let rest = path.strip_prefix(prefix)?;
    (rest.is_empty() || rest.starts_with('/')).then_some(rest)
}

/// Prometheus' plain 404.
pub fn not_found() -> Resp {
    text(StatusCode::NOT_FOUND, "404 page not found\n")
}

/// The answer of ready-gated endpoints while the WAL replays.
pub fn unavailable() -> Resp {
    text(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable\n")
}

/// 405 for a method the route does not take.
pub fn method_not_allowed() -> Resp {
    text(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed\n")
}

fn get_only(method: &Method, f: impl FnOnce() -> Resp) -> Resp {
    if method == Method::GET || method == Method::HEAD { f() } else { method_not_allowed() }
}

async fn reload(state: &Arc<AppState>, method: &Method) -> Resp {
    if method != Method::POST && method != Method::PUT {
        return text(StatusCode::METHOD_NOT_ALLOWED, "This endpoint requires a POST request.\n");
    }
    if !state.flags.enable_lifecycle {
        return text(StatusCode::FORBIDDEN, "Lifecycle API is not enabled.\n");
    }
    let (tx, rx) = tokio::sync::oneshot::channel();
    if state.control.send(Control::Reload(Some(tx))).await.is_err() {
        return text(StatusCode::SERVICE_UNAVAILABLE, "Server is shutting down.\n");
    }
    match rx.await {
        Ok(Ok(())) => text(StatusCode::OK, ""),
        Ok(Err(reason)) => {
            text(StatusCode::INTERNAL_SERVER_ERROR, format!("failed to reload config: {reason}\n"))
        }
        Err(_) => text(StatusCode::SERVICE_UNAVAILABLE, "Server is shutting down.\n"),
    }
}

async fn quit(state: &Arc<AppState>, method: &Method) -> Resp {
    if method != Method::POST && method != Method::PUT {
        return text(StatusCode::METHOD_NOT_ALLOWED, "This endpoint requires a POST request.\n");
    }
    if !state.flags.enable_lifecycle {
        return text(StatusCode::FORBIDDEN, "Lifecycle API is not enabled.\n");
    }
    let _ = state.control.send(Control::Quit).await;
    text(StatusCode::OK, "Requesting termination... Goodbye!\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use http_body_util::{BodyExt, Full};

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

    async fn call(
        state: &Arc<AppState>,
        method: &str,
        uri: &str,
        body: &'static str,
    ) -> (&'static str, u16, String) {
        let req = Request::builder()
            .method(method)
            .uri(uri)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Full::new(Bytes::from_static(body.as_bytes())))
            .unwrap();
        let (handler, resp) = route(state, req).await;
        let status = resp.status().as_u16();
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        (handler, status, String::from_utf8_lossy(&body).into_owned())
    }

    #[tokio::test]
    async fn not_ready_until_storage_is_installed() {
        let s = state(&[]);
        assert_eq!(call(&s, "GET", "/-/healthy", "").await.1, 200);
        assert_eq!(call(&s, "GET", "/-/ready", "").await.1, 503);
        assert_eq!(call(&s, "GET", "/api/v1/query?query=up", "").await.1, 503);
        assert_eq!(call(&s, "GET", "/federate?match[]=up", "").await.1, 503);
        let (handler, status, body) = call(&s, "GET", "/api/v1/status/walreplay", "").await;
        assert_eq!((handler, status), ("/api/v1/status/walreplay", 200));
        assert_eq!(body, r#"{"status":"success","data":{"current":0,"max":0,"min":0}}"#);
        s.set_storage(Arc::new(crate::storage::MemBackend::new()));
        assert_eq!(call(&s, "GET", "/-/ready", "").await.1, 200);
        let (_, status, body) = call(&s, "POST", "/api/v1/series", "match[]=up").await;
        assert_eq!((status, body.as_str()), (200, r#"{"status":"success","data":[]}"#));
    }

    #[tokio::test]
    async fn methods_paths_and_prefix() {
        let s = state(&["--web.route-prefix=/prom"]);
        s.set_storage(Arc::new(crate::storage::MemBackend::new()));
        let (_, status, _) = call(&s, "GET", "/prom/", "").await;
        assert_eq!(status, 302);
        assert_eq!(call(&s, "GET", "/api/v1/labels", "").await.1, 404, "outside the prefix");
        let (handler, status, body) = call(&s, "GET", "/prom/api/v1/label/job/values", "").await;
        assert_eq!(
            (handler, status, body.as_str()),
            ("/api/v1/label/:name/values", 200, r#"{"status":"success","data":[]}"#)
        );
        assert_eq!(call(&s, "DELETE", "/prom/api/v1/query", "").await.1, 405);
        assert_eq!(call(&s, "GET", "/prom/-/reload", "").await.1, 405);
        assert_eq!(call(&s, "POST", "/prom/-/reload", "").await.1, 403);
        assert_eq!(call(&s, "GET", "/prom/api/v1/nope", "").await.1, 404);
        let (_, status, body) = call(&s, "POST", "/prom/api/v1/admin/tsdb/snapshot", "").await;
        assert_eq!(
            (status, body.as_str()),
            (500, r#"{"status":"error","errorType":"unavailable","error":"admin APIs disabled"}"#)
        );
        assert_eq!(call(&s, "POST", "/prom/api/v1/write", "").await.1, 404, "receiver disabled");
    }

    #[test]
    fn prefixes_strip_on_segment_boundaries() {
        assert_eq!(strip_prefix("/prom/api/v1/query", "/prom"), Some("/api/v1/query"));
        assert_eq!(strip_prefix("/prom", "/prom"), Some(""));
        assert_eq!(strip_prefix("/prometheus/x", "/prom"), None);
        assert_eq!(strip_prefix("/x", ""), Some("/x"));
    }
}
