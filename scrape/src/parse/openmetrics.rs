//! The OpenMetrics 1.0 text format.

use super::{Entry, ExpositionParser, Format, ParseError, Validation};

/// Parser for `application/openmetrics-text; version=1.0.0`.
#[derive(Debug)]
pub struct OpenMetricsParser<'a> {
    body: &'a [u8],
    validation: Validation,
}

impl<'a> OpenMetricsParser<'a> {
    /// A parser with Prometheus' checks.
    pub fn new(body: &'a [u8]) -> Self {
        Self::with_validation(body, Validation::Prometheus)
    }

    /// A parser with the given checks.
    pub fn with_validation(body: &'a [u8], validation: Validation) -> Self {
        OpenMetricsParser { body, validation }
    }
}

impl<'a> ExpositionParser<'a> for OpenMetricsParser<'a> {
    fn next_entry(&mut self) -> Result<Option<Entry<'a>>, ParseError> {
        let _ = (self.body, self.validation);
        Err(ParseError::new(0, "openmetrics parser not implemented yet".to_owned()))
    }

    fn format(&self) -> Format {
        Format::OpenMetrics
    }
}
