//! HTTP API v1: the same paths, parameters, JSON shapes, status codes and
//! `errorType` values as Prometheus.

pub mod ast_json;
pub mod error;
pub mod federate;
pub mod json;
pub mod params;
pub mod selector;
pub mod v1;

use std::sync::Arc;

use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, StatusCode};

use self::error::ApiError;
use self::params::Params;
use crate::http::{ReqBody, Resp, read_body, with_type};
use crate::router::{method_not_allowed, not_found, unavailable};
use crate::state::AppState;

/// Largest form-encoded POST body accepted (long `match[]` lists).
const MAX_FORM_BYTES: usize = 16 << 20;

/// A successful API answer.
#[derive(Debug, Default)]
pub struct Success {
    /// The `data` field, already JSON.
    pub data: String,
    /// The `warnings` field.
    pub warnings: Vec<String>,
    /// The `infos` field.
    pub infos: Vec<String>,
}

impl Success {
    /// `data` without annotations.
    pub fn data(data: String) -> Self {
        Success { data, ..Success::default() }
    }
}

/// What a handler returns: data, 204 No Content, or an error.
pub type ApiResult = Result<Option<Success>, ApiError>;

/// The JSON envelope of a success.
pub fn success_body(s: &Success) -> String {
    let mut out = String::with_capacity(s.data.len() + 64);
    out.push_str("{\"status\":\"success\",\"data\":");
    out.push_str(&s.data);
    if !s.warnings.is_empty() {
        out.push_str(",\"warnings\":");
        json::push_str_array(&mut out, &s.warnings);
    }
    if !s.infos.is_empty() {
        out.push_str(",\"infos\":");
        json::push_str_array(&mut out, &s.infos);
    }
    out.push('}');
    out
}

/// Turns a handler result into a response.
pub fn respond(result: ApiResult) -> Resp {
    match result {
        Ok(Some(s)) => with_type(StatusCode::OK, "application/json", success_body(&s)),
        Ok(None) => {
            let mut r = with_type(StatusCode::NO_CONTENT, "application/json", "");
            r.headers_mut().remove(header::CONTENT_TYPE);
            r
        }
        Err(e) => {
            if e.kind.status().is_server_error() && e.kind != error::ErrorType::Timeout {
                tracing::warn!(error_type = e.kind.as_str(), error = %e.message, "API request failed");
            }
            with_type(e.kind.status(), "application/json", e.to_json())
        }
    }
}

/// Which methods a v1 route takes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Methods {
    GetPost,
    Get,
    PostPut,
    Post,
}

impl Methods {
    fn allows(self, m: &Method) -> bool {
        match self {
            Methods::GetPost => m == Method::GET || m == Method::POST || m == Method::HEAD,
            Methods::Get => m == Method::GET || m == Method::HEAD,
            Methods::PostPut => m == Method::POST || m == Method::PUT,
            Methods::Post => m == Method::POST,
        }
    }
}

/// Dispatches `/api/v1` + `path`.
pub async fn dispatch<B: ReqBody>(
    state: &Arc<AppState>,
    req: Request<B>,
    path: &str,
) -> (&'static str, Resp) {
    let (pattern, methods, ready_gated): (&'static str, Methods, bool) = match path {
        "/query" => ("/api/v1/query", Methods::GetPost, true),
        "/query_range" => ("/api/v1/query_range", Methods::GetPost, true),
        "/query_exemplars" => ("/api/v1/query_exemplars", Methods::GetPost, true),
        "/format_query" => ("/api/v1/format_query", Methods::GetPost, true),
        "/parse_query" => ("/api/v1/parse_query", Methods::GetPost, true),
        "/series" => ("/api/v1/series", Methods::GetPost, true),
        "/labels" => ("/api/v1/labels", Methods::GetPost, true),
        p if p.starts_with("/label/")
            && p.ends_with("/values")
            && p.len() > "/label//values".len() =>
        {
            ("/api/v1/label/:name/values", Methods::Get, true)
        }
        "/targets" => ("/api/v1/targets", Methods::Get, true),
        "/scrape_pools" => ("/api/v1/scrape_pools", Methods::Get, true),
        "/targets/metadata" => ("/api/v1/targets/metadata", Methods::Get, true),
        "/metadata" => ("/api/v1/metadata", Methods::Get, true),
        "/rules" => ("/api/v1/rules", Methods::Get, true),
        "/alerts" => ("/api/v1/alerts", Methods::Get, true),
        "/alertmanagers" => ("/api/v1/alertmanagers", Methods::Get, true),
        "/status/config" => ("/api/v1/status/config", Methods::Get, true),
        "/status/flags" => ("/api/v1/status/flags", Methods::Get, true),
        "/status/buildinfo" => ("/api/v1/status/buildinfo", Methods::Get, true),
        "/status/runtimeinfo" => ("/api/v1/status/runtimeinfo", Methods::Get, true),
        "/status/tsdb" => ("/api/v1/status/tsdb", Methods::Get, true),
        "/status/walreplay" => ("/api/v1/status/walreplay", Methods::Get, false),
        "/write" => ("/api/v1/write", Methods::Post, true),
        "/read" => ("/api/v1/read", Methods::Post, true),
        "/admin/tsdb/snapshot" => ("/api/v1/admin/tsdb/snapshot", Methods::PostPut, true),
        "/admin/tsdb/delete_series" => ("/api/v1/admin/tsdb/delete_series", Methods::PostPut, true),
        "/admin/tsdb/clean_tombstones" => {
            ("/api/v1/admin/tsdb/clean_tombstones", Methods::PostPut, true)
        }
        _ => return ("other", not_found()),
    };
    if req.method() == Method::OPTIONS {
        return (pattern, with_type(StatusCode::NO_CONTENT, "text/plain", ""));
    }
    if !methods.allows(req.method()) {
        return (pattern, method_not_allowed());
    }
    if ready_gated && !state.is_ready() {
        return (pattern, unavailable());
    }
    if pattern == "/api/v1/write" {
        return (pattern, crate::remote::write::handle(state, req).await);
    }
    if pattern == "/api/v1/read" {
        return (
            pattern,
            respond(Err(ApiError::new(
                error::ErrorType::Unavailable,
                "remote read is not implemented yet",
            ))),
        );
    }
    if pattern == "/api/v1/targets" {
        let gzip = req.extensions().get::<crate::http::AcceptsGzip>().is_some_and(|g| g.0);
        let filter = v1::TargetFilter::from_params(&Params::from_parts(None, req.uri().query()));
        let source = state.targets();
        let resp = crate::http::streamed("application/json", gzip, move |w| {
            v1::write_targets(&*source, &filter, w)
        });
        return (pattern, resp);
    }
    let (parts, body) = req.into_parts();
    let is_form = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v: &HeaderValue| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
    let body_bytes = if matches!(parts.method, Method::POST | Method::PUT) && is_form {
        match read_body(body, MAX_FORM_BYTES).await {
            Ok(b) => Some(b),
            Err(e) => return (pattern, respond(Err(ApiError::bad_data(e)))),
        }
    } else {
        None
    };
    let params = Params::from_parts(body_bytes.as_deref(), parts.uri.query());
    let result = v1::handle(state, pattern, path, &params).await;
    (pattern, respond(result))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_omits_empty_annotations() {
        assert_eq!(success_body(&Success::data("[]".into())), r#"{"status":"success","data":[]}"#);
        let s = Success { data: "1".into(), warnings: vec!["w".into()], infos: vec!["i".into()] };
        assert_eq!(
            success_body(&s),
            r#"{"status":"success","data":1,"warnings":["w"],"infos":["i"]}"#
        );
    }
}
