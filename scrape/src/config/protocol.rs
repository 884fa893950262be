//! Exposition protocols a job may negotiate and name escaping schemes.

use serde::{Deserialize, Serialize};

/// An exposition format the scraper may ask for, in `Accept` order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
pub enum ScrapeProtocol {
    /// Protobuf exposition.
    #[serde(rename = "PrometheusProto")]
    PrometheusProto,
    /// OpenMetrics text 0.0.1.
    #[serde(rename = "OpenMetricsText0.0.1")]
    OpenMetricsText0_0_1,
    /// OpenMetrics text 1.0.0.
    #[serde(rename = "OpenMetricsText1.0.0")]
    OpenMetricsText1_0_0,
    /// Prometheus text 0.0.4.
    #[serde(rename = "PrometheusText0.0.4")]
    PrometheusText0_0_4,
    /// Prometheus text 1.0.0 (0.0.4 with UTF-8 names).
    #[serde(rename = "PrometheusText1.0.0")]
    PrometheusText1_0_0,
}

impl ScrapeProtocol {
    /// The protocol's name as written in configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            ScrapeProtocol::PrometheusProto => "PrometheusProto",
            ScrapeProtocol::OpenMetricsText0_0_1 => "OpenMetricsText0.0.1",
            ScrapeProtocol::OpenMetricsText1_0_0 => "OpenMetricsText1.0.0",
            ScrapeProtocol::PrometheusText0_0_4 => "PrometheusText0.0.4",
            ScrapeProtocol::PrometheusText1_0_0 => "PrometheusText1.0.0",
        }
    }

    /// The media type header value Prometheus sends for it in `Accept`.
    pub fn header_media_type(self) -> &'static str {
        match self {
            ScrapeProtocol::PrometheusProto => {
                "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited"
            }
            ScrapeProtocol::OpenMetricsText0_0_1 => "application/openmetrics-text;version=0.0.1",
            ScrapeProtocol::OpenMetricsText1_0_0 => "application/openmetrics-text;version=1.0.0",
            ScrapeProtocol::PrometheusText0_0_4 => "text/plain;version=0.0.4",
            ScrapeProtocol::PrometheusText1_0_0 => "text/plain;version=1.0.0;escaping=allow-utf-8",
        }
    }
}

/// The protocols asked for when a config sets none (Prometheus 3).
pub const DEFAULT_SCRAPE_PROTOCOLS: [ScrapeProtocol; 4] = [
    ScrapeProtocol::OpenMetricsText1_0_0,
    ScrapeProtocol::OpenMetricsText0_0_1,
    ScrapeProtocol::PrometheusText1_0_0,
    ScrapeProtocol::PrometheusText0_0_4,
];

/// How metric names that are not legacy-valid are escaped when the
/// exposition is requested with `escaping=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EscapingScheme {
    /// Names are sent as they are.
    AllowUtf8,
    /// Invalid characters become underscores.
    Underscores,
    /// Invalid characters are written as `_<hex>_`.
    Dots,
    /// Values-style escaping (`U__...`).
    Values,
}
