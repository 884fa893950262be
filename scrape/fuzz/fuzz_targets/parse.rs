//! Feeds arbitrary bytes to both exposition parsers in both validation
//! modes and decodes everything they yield. Any panic is a bug: a scrape
//! target controls these bytes.
//!
//! Run with `cargo +nightly fuzz run parse` from `scrape/`.
//!
//! The parse module is included by path rather than through the
//! `promethium-scrape` crate: it depends only on the engine's model, so fuzz
//! builds (which instrument every dependency) skip the HTTP and TLS stack.

#![no_main]

#[allow(dead_code, unreachable_pub, unused_imports)]
#[path = "../../src/parse/mod.rs"]
mod parse;

use libfuzzer_sys::fuzz_target;
use parse::{Entry, ExpositionParser, LabelBuf, OpenMetricsParser, TextParser, Validation};

fn drain(parser: &mut dyn ExpositionParser<'_>, body_len: usize) {
    let mut buf = LabelBuf::new();
    // Every entry consumes at least one byte.
    for _ in 0..=body_len + 1 {
        match parser.next_entry() {
            Ok(Some(Entry::Sample(s))) => {
                if s.labels(&mut buf).is_ok() {
                    let _ = buf.to_labels();
                }
                if let Some(ex) = s.exemplar() {
                    let _ = ex.to_exemplar();
                }
            }
            Ok(Some(Entry::Help { name, help })) => {
                let _ = (name.decode(), help.decode());
            }
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => return,
        }
    }
    panic!("parser did not finish a {body_len}-byte body");
}

fuzz_target!(|body: &[u8]| {
    for validation in [Validation::Prometheus, Validation::Strict] {
        drain(&mut TextParser::with_validation(body, validation), body.len());
        drain(&mut OpenMetricsParser::with_validation(body, validation), body.len());
    }
});
