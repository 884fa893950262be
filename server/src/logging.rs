//! Log output in Prometheus' formats: `logfmt` (the default,
//! `time=... level=INFO source=... msg="..." key=value`) or JSON.

use std::fmt;

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// Formats events as logfmt lines.
#[derive(Debug, Default, Clone, Copy)]
pub struct Logfmt;

/// Appends `value`, quoted when logfmt needs quotes.
fn push_value(out: &mut String, value: &str) {
    let needs_quotes = value.is_empty()
        || value.chars().any(|c| c == ' ' || c == '=' || c == '"' || c.is_control());
    if !needs_quotes {
        out.push_str(value);
        return;
    }
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[derive(Default)]
struct Fields {
    message: String,
    rest: String,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message = value.to_string();
        } else {
            self.rest.push(' ');
            self.rest.push_str(field.name());
            self.rest.push('=');
            push_value(&mut self.rest, value);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.record_str(field, &format!("{value:?}"));
    }
}

impl<S, N> FormatEvent<S, N> for Logfmt
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        let mut fields = Fields::default();
        event.record(&mut fields);
        let mut line = String::with_capacity(128);
        line.push_str("time=");
        line.push_str(&crate::duration::format_rfc3339_ms(crate::duration::now_ms()));
        line.push_str(" level=");
        line.push_str(meta.level().as_str());
        line.push_str(" source=");
        push_value(&mut line, meta.target());
        line.push_str(" msg=");
        push_value(&mut line, &fields.message);
        line.push_str(&fields.rest);
        writeln!(writer, "{line}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_quoted_when_needed() {
        let mut s = String::new();
        push_value(&mut s, "plain");
        s.push(' ');
        push_value(&mut s, "two words");
        s.push(' ');
        push_value(&mut s, "a\"b");
        s.push(' ');
        push_value(&mut s, "");
        assert_eq!(s, r#"plain "two words" "a\"b" """#);
    }
}
