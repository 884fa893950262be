//! Maps a request to its handler. Returns the handler's route pattern too,
//! which labels `prometheus_http_requests_total` as Prometheus labels it.

use std::sync::Arc;

use hyper::body::Incoming;
use hyper::{Method, Request, StatusCode};

use crate::http::{Resp, redirect, text};
use crate::state::{AppState, Control};

/// Routes one request; returns `(handler pattern, response)`.
pub async fn route(state: &Arc<AppState>, req: Request<Incoming>) -> (&'static str, Resp) {
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
        p => match crate::web::page(state, &method, p) {
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

    #[test]
    fn prefixes_strip_on_segment_boundaries() {
        assert_eq!(strip_prefix("/prom/api/v1/query", "/prom"), Some("/api/v1/query"));
        assert_eq!(strip_prefix("/prom", "/prom"), Some(""));
        assert_eq!(strip_prefix("/prometheus/x", "/prom"), None);
        assert_eq!(strip_prefix("/x", ""), Some("/x"));
    }
}
