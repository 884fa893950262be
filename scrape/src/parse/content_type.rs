//! Content negotiation: the `Accept` header Prometheus sends and the format
//! chosen from a response's `Content-Type`.

/// The exposition formats a target can answer with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// `text/plain; version=0.0.4` (and `version=1.0.0`, which only adds
    /// quoted UTF-8 names, handled by the same parser).
    PrometheusText,
    /// `application/openmetrics-text; version=1.0.0` (or `0.0.1`).
    OpenMetrics,
    /// `application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily`.
    /// Recognised but not parsed yet.
    Protobuf,
}

/// The `Accept` header Prometheus 3 sends with its default
/// `scrape_protocols` (OpenMetrics 1.0.0, OpenMetrics 0.0.1, text 1.0.0,
/// text 0.0.4) and the default `allow-utf-8` name escaping. Weights count down
/// from 0.6 because Prometheus starts at one more than the number of known
/// protocols (five).
pub const SCRAPE_ACCEPT_HEADER: &str = "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,\
application/openmetrics-text;version=0.0.1;q=0.5,\
text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,\
text/plain;version=0.0.4;q=0.3,\
*/*;q=0.2";

/// A scrape protocol as named in `scrape_protocols`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScrapeProtocol {
    /// `PrometheusProto`.
    PrometheusProto,
    /// `PrometheusText0.0.4`.
    PrometheusText0_0_4,
    /// `PrometheusText1.0.0`.
    PrometheusText1_0_0,
    /// `OpenMetricsText0.0.1`.
    OpenMetricsText0_0_1,
    /// `OpenMetricsText1.0.0`.
    OpenMetricsText1_0_0,
}

impl ScrapeProtocol {
    /// The media type Prometheus sends for this protocol.
    pub fn media_type(self) -> &'static str {
        match self {
            ScrapeProtocol::PrometheusProto => {
                "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited"
            }
            ScrapeProtocol::PrometheusText0_0_4 => "text/plain;version=0.0.4",
            ScrapeProtocol::PrometheusText1_0_0 => "text/plain;version=1.0.0",
            ScrapeProtocol::OpenMetricsText0_0_1 => "application/openmetrics-text;version=0.0.1",
            ScrapeProtocol::OpenMetricsText1_0_0 => "application/openmetrics-text;version=1.0.0",
        }
    }

    /// Whether Prometheus appends the `escaping` parameter for this protocol.
    fn takes_escaping(self) -> bool {
        matches!(self, ScrapeProtocol::PrometheusText1_0_0 | ScrapeProtocol::OpenMetricsText1_0_0)
    }
}

/// Builds the `Accept` header for `protocols` in preference order, as
/// Prometheus' `acceptHeader` does: each gets a weight one lower than the
/// previous, starting at `0.6`, and `*/*` closes the list. `escaping` is
/// the name-escaping scheme (`allow-utf-8`, `underscores`, `dots`, `values`).
pub fn accept_header(protocols: &[ScrapeProtocol], escaping: &str) -> String {
    let mut weight = 6usize;
    let mut out = String::new();
    for p in protocols {
        out.push_str(p.media_type());
        if p.takes_escaping() {
            out.push_str(";escaping=");
            out.push_str(escaping);
        }
        out.push_str(&format!(";q=0.{weight},"));
        weight = weight.saturating_sub(1);
    }
    out.push_str(&format!("*/*;q=0.{weight}"));
    out
}

/// The format for a `Content-Type` value, `None` when it is missing or not
/// an exposition format. Only the media type is looked at (case-insensitively),
/// as Prometheus does; parameters such as `version` and `charset` are ignored.
pub fn format_for(content_type: &str) -> Option<Format> {
    let media = content_type.split(';').next().unwrap_or("").trim();
    if media.eq_ignore_ascii_case("application/openmetrics-text") {
        Some(Format::OpenMetrics)
    } else if media.eq_ignore_ascii_case("text/plain") {
        Some(Format::PrometheusText)
    } else if media.eq_ignore_ascii_case("application/vnd.google.protobuf") {
        Some(Format::Protobuf)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_accept_header_matches_prometheus_defaults() {
        let built = accept_header(
            &[
                ScrapeProtocol::OpenMetricsText1_0_0,
                ScrapeProtocol::OpenMetricsText0_0_1,
                ScrapeProtocol::PrometheusText1_0_0,
                ScrapeProtocol::PrometheusText0_0_4,
            ],
            "allow-utf-8",
        );
        assert_eq!(built, SCRAPE_ACCEPT_HEADER);
    }

    #[test]
    fn content_types_pick_formats() {
        assert_eq!(
            format_for("text/plain; version=0.0.4; charset=utf-8"),
            Some(Format::PrometheusText)
        );
        assert_eq!(
            format_for("application/openmetrics-text; version=1.0.0"),
            Some(Format::OpenMetrics)
        );
        assert_eq!(format_for("Application/OpenMetrics-Text"), Some(Format::OpenMetrics));
        assert_eq!(
            format_for("application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily"),
            Some(Format::Protobuf)
        );
        assert_eq!(format_for(""), None);
        assert_eq!(format_for("text/html"), None);
    }
}
