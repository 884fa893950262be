//! The Prometheus text format 0.0.4 (and 1.0.0, which adds quoted names).

use super::{Entry, ExpositionParser, Format, ParseError, Validation};

/// Parser for `text/plain; version=0.0.4`.
#[derive(Debug)]
pub struct TextParser<'a> {
    body: &'a [u8],
    validation: Validation,
}

impl<'a> TextParser<'a> {
    /// A parser with Prometheus' checks.
    pub fn new(body: &'a [u8]) -> Self {
        Self::with_validation(body, Validation::Prometheus)
    }

    /// A parser with the given checks.
    pub fn with_validation(body: &'a [u8], validation: Validation) -> Self {
        TextParser { body, validation }
    }
}

impl<'a> ExpositionParser<'a> for TextParser<'a> {
    fn next_entry(&mut self) -> Result<Option<Entry<'a>>, ParseError> {
        let _ = (self.body, self.validation);
        Err(ParseError::new(0, "text parser not implemented yet".to_owned()))
    }

    fn format(&self) -> Format {
        Format::PrometheusText
    }
}
