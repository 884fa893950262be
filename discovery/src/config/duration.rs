//! Prometheus durations (`1h30m`, `15s`, `2w`) and their serde adapters.

use std::fmt;
use std::time::Duration;

use serde::{Deserializer, Serializer};

/// Why a duration string is not a Prometheus duration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a valid duration string: {0:?}")]
pub struct DurationError(pub String);

/// Parses a duration in Prometheus' format: one or more `<number><unit>`
/// pairs with units `y`, `w`, `d`, `h`, `m`, `s`, `ms`, largest first, each
/// at most once (`1h30m`, `15s`, `2w`, `0`). A year is 365 days.
pub fn parse_duration(s: &str) -> Result<Duration, DurationError> {
    let err = || DurationError(s.to_owned());
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    if s.is_empty() {
        return Err(err());
    }
    const UNITS: [(&str, u64); 7] = [
        ("y", 365 * 24 * 3_600_000),
        ("w", 7 * 24 * 3_600_000),
        ("d", 24 * 3_600_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
        ("ms", 1),
    ];
    let bytes = s.as_bytes();
    let mut i = 0;
    let mut total_ms: u64 = 0;
    // Index into UNITS of the last unit used; units must strictly decrease.
    let mut last_unit: Option<usize> = None;
    while i < bytes.len() {
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        if start == i {
            return Err(err());
        }
        let n: u64 = s[start..i].parse().map_err(|_| err())?;
        let unit_start = i;
        while i < bytes.len() && !bytes[i].is_ascii_digit() {
            i += 1;
        }
        let unit = &s[unit_start..i];
        let idx = UNITS.iter().position(|(u, _)| *u == unit).ok_or_else(err)?;
        if last_unit.is_some_and(|l| idx <= l) {
            return Err(err());
        }
        last_unit = Some(idx);
        let ms = n.checked_mul(UNITS[idx].1).ok_or_else(err)?;
        total_ms = total_ms.checked_add(ms).ok_or_else(err)?;
    }
    // Go's time.Duration is an int64 of nanoseconds.
    if total_ms > (i64::MAX as u64) / 1_000_000 {
        return Err(err());
    }
    Ok(Duration::from_millis(total_ms))
}

/// Formats a duration the way Prometheus prints it (`1m`, `1h30m`, `500ms`,
/// `0s`), using the largest units that divide it exactly. The result is what
/// `__scrape_interval__` and `/api/v1/status/config` show.
pub fn format_duration(d: Duration) -> String {
    let mut ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    if ms == 0 {
        return "0s".to_owned();
    }
    let mut out = String::new();
    const UNITS: [(&str, u64); 7] = [
        ("y", 365 * 24 * 3_600_000),
        ("w", 7 * 24 * 3_600_000),
        ("d", 24 * 3_600_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
        ("ms", 1),
    ];
    // Prometheus only uses weeks and years when they divide the whole value.
    let start = if ms % UNITS[0].1 == 0 {
        0
    } else if ms % UNITS[1].1 == 0 {
        1
    } else {
        2
    };
    for (unit, size) in &UNITS[start..] {
        if ms >= *size {
            let n = ms / size;
            ms %= size;
            out.push_str(&n.to_string());
            out.push_str(unit);
        }
    }
    out
}

/// Reads a duration from a YAML scalar. Errors are raised inside the
/// visitor so the YAML deserializer attaches the value's own line and the
/// field's path to them.
struct DurationVisitor;

impl serde::de::Visitor<'_> for DurationVisitor {
    type Value = Duration;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a duration such as 1h30m")
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Duration, E> {
        parse_duration(v).map_err(E::custom)
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Duration, E> {
        // Only a bare `0` is a valid unitless duration.
        if v == 0 { Ok(Duration::ZERO) } else { Err(E::custom(DurationError(v.to_string()))) }
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Duration, E> {
        if v == 0 { Ok(Duration::ZERO) } else { Err(E::custom(DurationError(v.to_string()))) }
    }
}

/// Serde adapter for `Duration` fields written as Prometheus durations.
pub mod duration_serde {
    use super::*;

    /// Deserializes a Prometheus duration string.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        d.deserialize_str(DurationVisitor)
    }

    /// Serializes as a Prometheus duration string.
    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_duration(*d))
    }
}

/// Serde adapter for optional durations.
pub mod opt_duration_serde {
    use super::*;

    /// Deserializes an optional Prometheus duration string.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        struct Opt;
        impl<'de> serde::de::Visitor<'de> for Opt {
            type Value = Option<Duration>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration such as 1h30m")
            }
            fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                d.deserialize_str(DurationVisitor).map(Some)
            }
        }
        d.deserialize_option(Opt)
    }

    /// Serializes as a Prometheus duration string or null.
    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_str(&format_duration(*d)),
            None => s.serialize_none(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_like_prometheus() {
        let ok = [
            ("0", 0),
            ("0s", 0),
            ("15s", 15_000),
            ("1m", 60_000),
            ("1h30m", 5_400_000),
            ("1d", 86_400_000),
            ("2w", 14 * 86_400_000),
            ("1y", 365 * 86_400_000),
            ("500ms", 500),
            ("1s500ms", 1_500),
            ("1y2w3d4h5m6s7ms", ((((365 + 14 + 3) * 24 + 4) * 60 + 5) * 60 + 6) * 1000 + 7),
        ];
        for (s, ms) in ok {
            assert_eq!(parse_duration(s), Ok(Duration::from_millis(ms)), "{s}");
        }
        for bad in ["", "1", "1.5s", "s", "1m1h", "1s1s", "-1s", "1 s", "1S", "10x", "1h 30m"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} should fail");
        }
    }

    #[test]
    fn durations_format_like_prometheus() {
        let cases = [
            (0, "0s"),
            (15_000, "15s"),
            (60_000, "1m"),
            (5_400_000, "1h30m"),
            (86_400_000, "1d"),
            (7 * 86_400_000, "1w"),
            (8 * 86_400_000, "8d"),
            (365 * 86_400_000, "1y"),
            (1_500, "1s500ms"),
        ];
        for (ms, s) in cases {
            assert_eq!(format_duration(Duration::from_millis(ms)), s);
            assert_eq!(parse_duration(s), Ok(Duration::from_millis(ms)));
        }
    }
}
