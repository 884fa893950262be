//! Prometheus durations and timestamps as they appear in flags, config and
//! API parameters.
//!
//! Prometheus parses `1y2w3d4h5m6s7ms` (units in that order, each at most
//! once, `0` alone allowed) and prints the same form back; API parameters
//! also accept float seconds and RFC 3339 timestamps.

use std::time::Duration;

/// Why a duration or timestamp did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseTimeError {
    /// Empty input.
    #[error("empty duration string")]
    EmptyDuration,
    /// Not a Prometheus duration.
    #[error("not a valid duration string: {0:?}")]
    BadDuration(String),
    /// Not a float, Prometheus duration or valid in range.
    #[error("cannot parse {0:?} to a valid duration")]
    BadApiDuration(String),
    /// Float seconds outside the representable range.
    #[error("cannot parse {0:?} to a valid duration. It overflows int64")]
    DurationOverflow(String),
    /// Not a float or RFC 3339 timestamp.
    #[error("cannot parse {0:?} to a valid timestamp")]
    BadTimestamp(String),
}

/// Parses a Prometheus duration (`model.ParseDuration`): `0`, or units
/// `y w d h m s ms` in that order, each at most once. The grammar lives in
/// the discovery crate's config module (config files use it too); this
/// wrapper only gives it the API's error type.
pub fn parse_prom_duration(s: &str) -> Result<Duration, ParseTimeError> {
    if s.is_empty() {
        return Err(ParseTimeError::EmptyDuration);
    }
    promethium_discovery::config::parse_duration(s)
        .map_err(|_| ParseTimeError::BadDuration(s.to_string()))
}

/// Formats a duration the way Prometheus prints one (`model.Duration.String`).
pub fn format_prom_duration(d: Duration) -> String {
    promethium_discovery::config::format_duration(d)
}

/// Parses an API duration parameter: float seconds or a Prometheus duration.
pub fn parse_api_duration(s: &str) -> Result<Duration, ParseTimeError> {
    if let Ok(secs) = s.parse::<f64>() {
        let ns = secs * 1e9;
        if !ns.is_finite() || ns > i64::MAX as f64 || ns < i64::MIN as f64 {
            return Err(ParseTimeError::DurationOverflow(s.to_string()));
        }
        // Negative durations are representable in Go; callers reject them
        // with their own message, so clamp to zero here.
        return Ok(Duration::from_nanos(ns.max(0.0) as u64));
    }
    parse_prom_duration(s).map_err(|_| ParseTimeError::BadApiDuration(s.to_string()))
}

/// Like [`parse_api_duration`] but keeps the sign, in milliseconds, so
/// `step=-1` can be told apart from `step=0`.
pub fn parse_api_duration_ms(s: &str) -> Result<i64, ParseTimeError> {
    if let Ok(secs) = s.parse::<f64>() {
        let ns = secs * 1e9;
        if !ns.is_finite() || ns > i64::MAX as f64 || ns < i64::MIN as f64 {
            return Err(ParseTimeError::DurationOverflow(s.to_string()));
        }
        return Ok((ns / 1e6) as i64);
    }
    parse_prom_duration(s)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .map_err(|_| ParseTimeError::BadApiDuration(s.to_string()))
}

/// Parses an API timestamp: Unix float seconds (rounded to milliseconds) or
/// RFC 3339 with optional fractional seconds. Returns milliseconds.
pub fn parse_api_time_ms(s: &str) -> Result<i64, ParseTimeError> {
    if let Ok(secs) = s.parse::<f64>() {
        if secs.is_finite() {
            let whole = secs.trunc();
            let frac = ((secs - whole) * 1000.0).round();
            return Ok((whole as i64).saturating_mul(1000).saturating_add(frac as i64));
        }
        return Err(ParseTimeError::BadTimestamp(s.to_string()));
    }
    parse_rfc3339_ms(s).ok_or_else(|| ParseTimeError::BadTimestamp(s.to_string()))
}

fn parse_rfc3339_ms(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = s.get(range)?;
        if !part.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        part.parse().ok()
    };
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    let mut pos = 19;
    let mut frac_ms = 0;
    if b.get(pos) == Some(&b'.') {
        let start = pos + 1;
        pos = start;
        while pos < b.len() && b[pos].is_ascii_digit() {
            pos += 1;
        }
        if pos == start {
            return None;
        }
        let digits = &s[start..pos];
        let padded: String = digits.chars().chain(std::iter::repeat('0')).take(3).collect();
        frac_ms = padded.parse::<i64>().ok()?;
    }
    let offset_secs = match s.get(pos..)? {
        "Z" => 0,
        rest if rest.len() == 6
            && (rest.starts_with('+') || rest.starts_with('-'))
            && &rest[3..4] == ":" =>
        {
            let hours = num(pos + 1..pos + 3)?;
            let minutes = num(pos + 4..pos + 6)?;
            if hours > 23 || minutes > 59 {
                return None;
            }
            let sign = if rest.starts_with('-') { -1 } else { 1 };
            sign * (hours * 3600 + minutes * 60)
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset_secs;
    Some(secs * 1000 + frac_ms)
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Formats milliseconds since the epoch as RFC 3339 in UTC, with the
/// fraction trimmed the way Go's `RFC3339Nano` trims it.
pub fn format_rfc3339_ms(t_ms: i64) -> String {
    let secs = t_ms.div_euclid(1000);
    let ms = t_ms.rem_euclid(1000);
    let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
    let rem = secs.rem_euclid(86_400);
    let mut out = format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    );
    if ms != 0 {
        let frac = format!("{ms:03}");
        out.push('.');
        out.push_str(frac.trim_end_matches('0'));
    }
    out.push('Z');
    out
}

/// Milliseconds since the Unix epoch now.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prom_durations_parse_and_print() {
        assert_eq!(parse_prom_duration("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_prom_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_prom_duration("15d").unwrap(), Duration::from_secs(15 * 86_400));
        assert_eq!(parse_prom_duration("1s500ms").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_prom_duration("0").unwrap(), Duration::ZERO);
        assert!(parse_prom_duration("").is_err());
        assert!(parse_prom_duration("5x").is_err());
        assert!(parse_prom_duration("1m1h").is_err(), "units out of order");
        assert!(parse_prom_duration("1.5m").is_err());
        assert_eq!(format_prom_duration(Duration::from_secs(5400)), "1h30m");
        assert_eq!(format_prom_duration(Duration::from_secs(15 * 86_400)), "15d");
        assert_eq!(format_prom_duration(Duration::from_secs(14 * 86_400)), "2w");
        assert_eq!(format_prom_duration(Duration::from_secs(365 * 86_400 + 3600)), "365d1h");
        assert_eq!(format_prom_duration(Duration::ZERO), "0s");
    }

    #[test]
    fn api_durations_accept_floats() {
        assert_eq!(parse_api_duration("1.5").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_api_duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_api_duration_ms("-1").unwrap(), -1000);
        assert_eq!(
            parse_api_duration("abc").unwrap_err().to_string(),
            "cannot parse \"abc\" to a valid duration"
        );
    }

    #[test]
    fn api_times_accept_floats_and_rfc3339() {
        assert_eq!(parse_api_time_ms("1435781451.781").unwrap(), 1_435_781_451_781);
        assert_eq!(parse_api_time_ms("0").unwrap(), 0);
        assert_eq!(parse_api_time_ms("2015-07-01T20:10:51.781Z").unwrap(), 1_435_781_451_781);
        assert_eq!(parse_api_time_ms("2015-07-01T22:10:51+02:00").unwrap(), 1_435_781_451_000);
        assert_eq!(parse_api_time_ms("1970-01-01T00:00:00.5Z").unwrap(), 500);
        assert_eq!(
            parse_api_time_ms("yesterday").unwrap_err().to_string(),
            "cannot parse \"yesterday\" to a valid timestamp"
        );
        assert!(parse_api_time_ms("2015-02-30T00:00:00Z").is_err());
    }

    #[test]
    fn rfc3339_round_trips() {
        for t in [0, 1_435_781_451_781, 1_700_000_000_000, -1500] {
            assert_eq!(parse_api_time_ms(&format_rfc3339_ms(t)).unwrap(), t);
        }
        assert_eq!(format_rfc3339_ms(1_435_781_451_780), "2015-07-01T20:10:51.78Z");
    }
}
