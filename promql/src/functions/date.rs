//! Calendar functions over Unix seconds, in UTC.

/// Days since the epoch to (year, month 1-12, day 1-31) (Howard Hinnant's algorithm).
pub(crate) fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(y) => 29,
        _ => 28,
    }
}

/// A calendar function of PromQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DatePart {
    DayOfMonth,
    DayOfWeek,
    DayOfYear,
    DaysInMonth,
    Hour,
    Minute,
    Month,
    Year,
}

impl DatePart {
    pub(crate) fn from_name(name: &str) -> Option<DatePart> {
        Some(match name {
            "day_of_month" => DatePart::DayOfMonth,
            "day_of_week" => DatePart::DayOfWeek,
            "day_of_year" => DatePart::DayOfYear,
            "days_in_month" => DatePart::DaysInMonth,
            "hour" => DatePart::Hour,
            "minute" => DatePart::Minute,
            "month" => DatePart::Month,
            "year" => DatePart::Year,
            _ => return None,
        })
    }

    /// The part of the UTC time `secs` seconds after the epoch.
    pub(crate) fn of(self, secs: i64) -> f64 {
        let days = secs.div_euclid(86_400);
        let sod = secs.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        match self {
            DatePart::DayOfMonth => f64::from(d),
            DatePart::DayOfWeek => (days + 4).rem_euclid(7) as f64,
            DatePart::DayOfYear => {
                let before: u32 = (1..m).map(|mm| days_in(y, mm)).sum();
                f64::from(before + d)
            }
            DatePart::DaysInMonth => f64::from(days_in(y, m)),
            DatePart::Hour => (sod / 3600) as f64,
            DatePart::Minute => (sod % 3600 / 60) as f64,
            DatePart::Month => f64::from(m),
            DatePart::Year => y as f64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates() {
        // 2021-02-28T23:59:59Z
        let t = 1_614_556_799;
        assert_eq!(DatePart::Year.of(t), 2021.0);
        assert_eq!(DatePart::Month.of(t), 2.0);
        assert_eq!(DatePart::DayOfMonth.of(t), 28.0);
        assert_eq!(DatePart::DaysInMonth.of(t), 28.0);
        assert_eq!(DatePart::DayOfYear.of(t), 59.0);
        assert_eq!(DatePart::Hour.of(t), 23.0);
        assert_eq!(DatePart::Minute.of(t), 59.0);
        assert_eq!(DatePart::DayOfWeek.of(t), 0.0);
        assert_eq!(DatePart::DayOfWeek.of(0), 4.0);
        assert_eq!(DatePart::Year.of(-1), 1969.0);
    }
}
