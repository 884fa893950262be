//! Request parameters: the URL query and, for form-encoded POSTs, the body,
//! merged as Go's `Request.Form` merges them (body values first).

use std::time::Duration;

use super::error::ApiError;
use crate::duration::{parse_api_duration, parse_api_time_ms};

/// Prometheus' lowest and highest representable timestamps, the defaults of
/// optional `start`/`end` parameters.
pub const MIN_TIME_MS: i64 = -9_223_309_901_257_974;
/// See [`MIN_TIME_MS`].
pub const MAX_TIME_MS: i64 = 9_223_309_901_257_974;

/// Decoded request parameters.
#[derive(Debug, Clone, Default)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    /// Parameters from a form-encoded body followed by the URL query.
    pub fn from_parts(body_form: Option<&[u8]>, query: Option<&str>) -> Self {
        let mut pairs = Vec::new();
        if let Some(body) = body_form {
            pairs.extend(form_urlencoded::parse(body).into_owned());
        }
        if let Some(q) = query {
            pairs.extend(form_urlencoded::parse(q.as_bytes()).into_owned());
        }
        Params { pairs }
    }

    /// The first value of `name` (Go's `FormValue`), `None` when absent.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The first value of `name`, empty when absent.
    pub fn value(&self, name: &str) -> &str {
        self.get(name).unwrap_or("")
    }

    /// Every value of `name` (`match[]`).
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.pairs.iter().filter(|(k, _)| k == name).map(|(_, v)| v.as_str()).collect()
    }

    /// A required timestamp parameter.
    pub fn time(&self, name: &str) -> Result<i64, ApiError> {
        parse_api_time_ms(self.value(name)).map_err(|e| ApiError::invalid_param(name, e))
    }

    /// An optional timestamp parameter with a default.
    pub fn time_or(&self, name: &str, default_ms: i64) -> Result<i64, ApiError> {
        match self.get(name) {
            None | Some("") => Ok(default_ms),
            Some(v) => parse_api_time_ms(v).map_err(|e| ApiError::invalid_param(name, e)),
        }
    }

    /// An optional duration parameter.
    pub fn duration(&self, name: &str) -> Result<Option<Duration>, ApiError> {
        match self.get(name) {
            None | Some("") => Ok(None),
            Some(v) => {
                parse_api_duration(v).map(Some).map_err(|e| ApiError::invalid_param(name, e))
            }
        }
    }

    /// The `limit` parameter: `None` when absent or 0 (no limit).
    pub fn limit(&self) -> Result<Option<usize>, ApiError> {
        match self.get("limit") {
            None | Some("") => Ok(None),
            Some(v) => match v.parse::<i64>() {
                Ok(0) => Ok(None),
                Ok(n) if n > 0 => Ok(Some(usize::try_from(n).unwrap_or(usize::MAX))),
                Ok(_) => Err(ApiError::bad_data("limit must be non-negative")),
                Err(_) => Err(ApiError::invalid_param(
                    "limit",
                    format!("cannot parse {v:?} to a valid limit"),
                )),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_values_come_first_and_repeat() {
        let p = Params::from_parts(
            Some(b"query=up&match%5B%5D=a"),
            Some("query=down&match[]=b&time=1.5"),
        );
        assert_eq!(p.get("query"), Some("up"));
        assert_eq!(p.all("match[]"), vec!["a", "b"]);
        assert_eq!(p.time("time").unwrap(), 1500);
        assert_eq!(p.time_or("start", 7).unwrap(), 7);
    }

    #[test]
    fn bad_values_name_the_parameter() {
        let p = Params::from_parts(None, Some("time=abc&timeout=zz&limit=-1"));
        assert_eq!(
            p.time("time").unwrap_err().message,
            "invalid parameter \"time\": cannot parse \"abc\" to a valid timestamp"
        );
        assert!(p.duration("timeout").is_err());
        assert!(p.limit().is_err());
        assert_eq!(Params::from_parts(None, Some("limit=0")).limit().unwrap(), None);
    }
}
