//! period: the one parser for report windows (`from`/`to` on every report, the sessions lists
//! and Jira rule times), with the vendor's rules, so every route reads a date the same way.
//!
//! A bound is a date (`2026-01-05`), a timestamp with an offset (`2026-01-05T10:00:00+02:00`,
//! `...Z`) or one without (`2026-01-05T10:00:00`, read as UTC; a space instead of `T` is
//! accepted too). A window is half-open, `from` in and `to` out, except that a date as `to`
//! covers that whole day. `from` must be before `to`, and bounds outside 1970–9999 are refused.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime};

/// A report window: `[from, to)`, either end open.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Period {
    pub from: Option<NaiveDateTime>,
    pub to: Option<NaiveDateTime>,
}

/// Why a bound or window was refused (an HTTP 400 at the API).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeriodError {
    #[error(
        "`{name}`: `{value}` is not a date (2026-01-05) or a time (2026-01-05T10:00:00Z, with an offset or read as UTC)"
    )]
    Unreadable { name: String, value: String },
    #[error("`{name}`: `{value}` is outside 1970-01-01..9999-12-31")]
    OutOfRange { name: String, value: String },
    #[error("`from` must be before `to`")]
    Reversed,
}

/// Which end of a window a bound is: a date as the end covers that whole day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    From,
    To,
}

/// Parses one bound; `name` is the parameter or option named in errors.
pub fn parse_bound(name: &str, value: &str, end: End) -> Result<NaiveDateTime, PeriodError> {
    let s = value.trim();
    let unreadable = || PeriodError::Unreadable {
        name: name.to_string(),
        value: value.to_string(),
    };
    let (t, whole_day) = if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        (d.and_hms_opt(0, 0, 0).ok_or_else(unreadable)?, true)
    } else if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        (t.naive_utc(), false)
    } else {
        let t = [
            "%Y-%m-%dT%H:%M:%S%.f",
            "%Y-%m-%d %H:%M:%S%.f",
            "%Y-%m-%dT%H:%M",
        ]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
        .ok_or_else(unreadable)?;
        (t, false)
    };
    if !(1970..=9999).contains(&t.year()) {
        return Err(PeriodError::OutOfRange {
            name: name.to_string(),
            value: value.to_string(),
        });
    }
    let t = if whole_day && end == End::To {
        t + Duration::days(1)
    } else {
        t
    };
    Ok(t)
}

impl Period {
    /// The window `from`..`to`; an absent or empty bound leaves that end open.
    pub fn parse(from: Option<&str>, to: Option<&str>) -> Result<Period, PeriodError> {
        let bound = |name: &str, v: Option<&str>, end| {
            v.filter(|s| !s.trim().is_empty())
                .map(|s| parse_bound(name, s, end))
                .transpose()
        };
        let period = Period {
            from: bound("from", from, End::From)?,
            to: bound("to", to, End::To)?,
        };
        if let (Some(f), Some(t)) = (period.from, period.to)
            && f >= t
        {
            return Err(PeriodError::Reversed);
        }
        Ok(period)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap()
    }

    #[test]
    fn a_date_as_to_covers_the_whole_day_and_a_time_is_half_open() {
        let p = Period::parse(Some("2026-01-05"), Some("2026-01-07")).unwrap();
        assert_eq!(p.from, Some(t("2026-01-05 00:00:00")));
        assert_eq!(p.to, Some(t("2026-01-08 00:00:00")));
        let p = Period::parse(Some("2026-01-05T10:00:00Z"), Some("2026-01-05T12:30:00")).unwrap();
        assert_eq!(p.from, Some(t("2026-01-05 10:00:00")));
        assert_eq!(
            p.to,
            Some(t("2026-01-05 12:30:00")),
            "no offset: read as UTC"
        );
    }

    #[test]
    fn offsets_are_converted_to_utc() {
        let p = Period::parse(Some("2026-01-05T10:00:00+02:00"), None).unwrap();
        assert_eq!(p.from, Some(t("2026-01-05 08:00:00")));
        assert_eq!(p.to, None);
        let p = Period::parse(None, Some("2026-01-05 23:15:00.5")).unwrap();
        assert_eq!(
            p.to,
            Some(t("2026-01-05 23:15:00") + Duration::milliseconds(500))
        );
    }

    #[test]
    fn empty_bounds_leave_the_window_open() {
        assert_eq!(
            Period::parse(Some(""), Some(" ")).unwrap(),
            Period::default()
        );
    }

    #[test]
    fn reversed_equal_unreadable_and_out_of_range_bounds_are_refused() {
        assert_eq!(
            Period::parse(Some("2026-01-07"), Some("2026-01-05")),
            Err(PeriodError::Reversed)
        );
        let same = "2026-01-05T10:00:00Z";
        assert_eq!(
            Period::parse(Some(same), Some(same)),
            Err(PeriodError::Reversed)
        );
        // A date as `to` covers its day, so the same date on both sides is one day, not empty.
        assert!(Period::parse(Some("2026-01-05"), Some("2026-01-05")).is_ok());
        assert!(matches!(
            Period::parse(Some("yesterday"), None),
            Err(PeriodError::Unreadable { name, .. }) if name == "from"
        ));
        assert!(matches!(
            Period::parse(None, Some("1969-12-31")),
            Err(PeriodError::OutOfRange { name, .. }) if name == "to"
        ));
        assert!(matches!(
            Period::parse(Some("+10000-01-01T00:00:00Z"), None),
            Err(PeriodError::OutOfRange { .. } | PeriodError::Unreadable { .. })
        ));
        assert!(
            Period::parse(None, Some("9999-12-31")).is_ok(),
            "the last day"
        );
    }
}
