//! API errors and their mapping to Prometheus' `errorType` strings and HTTP
//! status codes. Every error the API returns goes through [`ApiError`], so
//! the exact strings live here and nowhere else.

use hyper::StatusCode;
use promethium_promql::PromqlError;

/// Prometheus' `errorType` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorType {
    /// `timeout`: 503.
    Timeout,
    /// `canceled`: 499 (client closed request).
    Canceled,
    /// `execution`: 422.
    Execution,
    /// `bad_data`: 400.
    BadData,
    /// `internal`: 500.
    Internal,
    /// `unavailable`: 500 (Prometheus' `respondError` has no case for it
    /// and falls through to 500).
    Unavailable,
    /// `not_found`: 404.
    NotFound,
    /// `not_acceptable`: 406.
    NotAcceptable,
}

impl ErrorType {
    /// The `errorType` string.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorType::Timeout => "timeout",
            ErrorType::Canceled => "canceled",
            ErrorType::Execution => "execution",
            ErrorType::BadData => "bad_data",
            ErrorType::Internal => "internal",
            ErrorType::Unavailable => "unavailable",
            ErrorType::NotFound => "not_found",
            ErrorType::NotAcceptable => "not_acceptable",
        }
    }

    /// The HTTP status Prometheus answers with for this type.
    pub fn status(self) -> StatusCode {
        match self {
            ErrorType::Timeout => StatusCode::SERVICE_UNAVAILABLE,
            ErrorType::Unavailable => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorType::Canceled => StatusCode::from_u16(499).expect("499 is a valid status code"),
            ErrorType::Execution => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorType::BadData => StatusCode::BAD_REQUEST,
            ErrorType::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorType::NotFound => StatusCode::NOT_FOUND,
            ErrorType::NotAcceptable => StatusCode::NOT_ACCEPTABLE,
        }
    }

    fn from_str(s: &str) -> ErrorType {
        match s {
            "timeout" => ErrorType::Timeout,
            "canceled" => ErrorType::Canceled,
            "execution" => ErrorType::Execution,
            "bad_data" => ErrorType::BadData,
            "unavailable" => ErrorType::Unavailable,
            "not_found" => ErrorType::NotFound,
            "not_acceptable" => ErrorType::NotAcceptable,
            _ => ErrorType::Internal,
        }
    }
}

/// An error answered as `{"status":"error","errorType":...,"error":...}`.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{kind:?}: {message}")]
pub struct ApiError {
    /// The type.
    pub kind: ErrorType,
    /// The message shown to the client.
    pub message: String,
}

impl ApiError {
    /// An error of `kind` with `message`.
    pub fn new(kind: ErrorType, message: impl Into<String>) -> Self {
        ApiError { kind, message: message.into() }
    }

    /// `bad_data`.
    pub fn bad_data(message: impl Into<String>) -> Self {
        Self::new(ErrorType::BadData, message)
    }

    /// `internal`.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorType::Internal, message)
    }

    /// `invalid parameter "name": reason`, as Prometheus words it.
    pub fn invalid_param(name: &str, reason: impl std::fmt::Display) -> Self {
        Self::bad_data(format!("invalid parameter {name:?}: {reason}"))
    }

    /// The JSON body.
    pub fn to_json(&self) -> String {
        let mut out = String::from("{\"status\":\"error\",\"errorType\":");
        super::json::push_str(&mut out, self.kind.as_str());
        out.push_str(",\"error\":");
        super::json::push_str(&mut out, &self.message);
        out.push('}');
        out
    }
}

impl From<PromqlError> for ApiError {
    fn from(err: PromqlError) -> Self {
        ApiError::new(ErrorType::from_str(err.error_type()), err.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn promql_errors_map_to_prometheus_types_and_codes() {
        let cases = [
            (PromqlError::Parse("1:1: parse error".into()), "bad_data", 400),
            (PromqlError::BadData("x".into()), "bad_data", 400),
            (PromqlError::Execution("x".into()), "execution", 422),
            (PromqlError::TooManySamples("query execution"), "execution", 422),
            (PromqlError::Timeout("query execution"), "timeout", 503),
            (PromqlError::Canceled("query execution"), "canceled", 499),
        ];
        for (err, kind, code) in cases {
            let api = ApiError::from(err);
            assert_eq!(api.kind.as_str(), kind);
            assert_eq!(api.kind.status().as_u16(), code);
        }
    }

    #[test]
    fn error_body_shape() {
        let e = ApiError::invalid_param("time", "cannot parse \"x\" to a valid timestamp");
        assert_eq!(
            e.to_json(),
            r#"{"status":"error","errorType":"bad_data","error":"invalid parameter \"time\": cannot parse \"x\" to a valid timestamp"}"#
        );
    }
}
