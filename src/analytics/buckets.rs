//! buckets: calendar intervals — a day, a week from Monday, two weeks, a month — starting at
//! local midnight in the report time zone (`[reports] time_zone`), as UTC instants.
//!
//! DuckDB here has no time-zone database (the bundled build has no ICU), so the intervals are
//! cut in Rust with `chrono-tz` and handed to SQL as a temp table (`report_buckets`), which
//! queries join with an ASOF join (each session to the interval that started last before it).
//! Fortnights are counted from Monday 1970-01-05, so a two-week interval is the same whatever
//! the range asked for.

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, TimeZone};
use chrono_tz::Tz;
use duckdb::{Connection, params};

/// How a trend groups its days.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
pub enum Interval {
    #[default]
    #[serde(rename = "day")]
    Day,
    #[serde(rename = "week")]
    Week,
    #[serde(rename = "2week")]
    TwoWeeks,
    #[serde(rename = "month")]
    Month,
}

impl Interval {
    pub fn as_str(self) -> &'static str {
        match self {
            Interval::Day => "day",
            Interval::Week => "week",
            Interval::TwoWeeks => "2week",
            Interval::Month => "month",
        }
    }

    /// The first day of the interval holding `d`.
    pub fn floor(self, d: NaiveDate) -> NaiveDate {
        match self {
            Interval::Day => d,
            Interval::Week => d - Duration::days(d.weekday().num_days_from_monday() as i64),
            Interval::TwoWeeks => {
                let epoch = NaiveDate::from_ymd_opt(1970, 1, 5).expect("a Monday");
                d - Duration::days((d - epoch).num_days().rem_euclid(14))
            }
            Interval::Month => d.with_day(1).expect("day 1 exists"),
        }
    }

    /// The first day of the next interval after the one starting `d`.
    pub fn next(self, d: NaiveDate) -> NaiveDate {
        match self {
            Interval::Day => d + Duration::days(1),
            Interval::Week => d + Duration::days(7),
            Interval::TwoWeeks => d + Duration::days(14),
            Interval::Month => d
                .checked_add_months(chrono::Months::new(1))
                .expect("dates before 9999"),
        }
    }
}

impl std::str::FromStr for Interval {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "day" => Ok(Interval::Day),
            "week" => Ok(Interval::Week),
            "2week" => Ok(Interval::TwoWeeks),
            "month" => Ok(Interval::Month),
            other => Err(format!(
                "`interval`: `{other}` is not one of day, week, 2week, month"
            )),
        }
    }
}

/// One interval: the local date it starts on, and its UTC start and end (exclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bucket {
    pub label: NaiveDate,
    pub start: NaiveDateTime,
    pub end: NaiveDateTime,
}

/// The UTC instant of local midnight starting `d` in `tz` (the first instant of the day when
/// a clock change skips midnight).
pub fn midnight(tz: Tz, d: NaiveDate) -> NaiveDateTime {
    let local = d.and_hms_opt(0, 0, 0).expect("midnight exists");
    (0..4)
        .find_map(|h| {
            tz.from_local_datetime(&(local + Duration::hours(h)))
                .earliest()
        })
        .map(|t| t.naive_utc())
        .unwrap_or(local)
}

/// The local date of the UTC instant `t` in `tz`.
pub fn local_date(tz: Tz, t: NaiveDateTime) -> NaiveDate {
    tz.from_utc_datetime(&t).date_naive()
}

/// The intervals that overlap `[from, to)` (UTC), in order.
pub fn cover(tz: Tz, from: NaiveDateTime, to: NaiveDateTime, interval: Interval) -> Vec<Bucket> {
    let mut out = Vec::new();
    let mut day = interval.floor(local_date(tz, from));
    loop {
        let start = midnight(tz, day);
        if start >= to {
            break;
        }
        let next = interval.next(day);
        out.push(Bucket {
            label: day,
            start,
            end: midnight(tz, next),
        });
        day = next;
    }
    out
}

/// Puts `sets` (a name and its intervals) in the temp table `report_buckets` on `conn`
/// (replacing what a previous query left): `kind`, `idx` (from 0), `label`, `start_at`,
/// `end_at`.
pub fn install(conn: &Connection, sets: &[(&str, &[Bucket])]) -> Result<(), duckdb::Error> {
    conn.execute_batch(
        "CREATE OR REPLACE TEMP TABLE report_buckets (kind VARCHAR, idx INTEGER, label DATE, \
         start_at TIMESTAMP, end_at TIMESTAMP)",
    )?;
    let mut app = conn.appender("report_buckets")?;
    for (kind, buckets) in sets {
        for (i, b) in buckets.iter().enumerate() {
            app.append_row(params![kind, i as i32, b.label, b.start, b.end])?;
        }
    }
    app.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn weeks_start_on_monday_and_fortnights_are_fixed() {
        // 2026-12-05 is a Saturday; its week began Monday 2026-11-30.
        assert_eq!(Interval::Week.floor(d("2026-12-05")), d("2026-11-30"));
        assert_eq!(Interval::Week.floor(d("2026-11-30")), d("2026-11-30"));
        // Fortnights from Monday 1970-01-05: 2026-11-30 is 20,783 days later, 1,484 × 14 + 7,
        // so its fortnight began 2026-11-23; 2026-12-07 starts the next.
        assert_eq!(Interval::TwoWeeks.floor(d("2026-11-30")), d("2026-11-23"));
        assert_eq!(Interval::TwoWeeks.floor(d("2026-12-07")), d("2026-12-07"));
        assert_eq!(Interval::Month.next(d("2026-01-01")), d("2026-02-01"));
    }

    #[test]
    fn days_begin_at_local_midnight() {
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        // Winter: UTC+1, so local midnight is 23:00 UTC the day before.
        assert_eq!(
            midnight(berlin, d("2026-12-05")),
            d("2026-12-04").and_hms_opt(23, 0, 0).unwrap()
        );
        // Summer: UTC+2.
        assert_eq!(
            midnight(berlin, d("2026-07-01")),
            d("2026-06-30").and_hms_opt(22, 0, 0).unwrap()
        );
        // The week of the clock change (Sunday 2026-03-29) lasts 167 hours; the next begins
        // at 22:00 UTC that Sunday, after the range's end.
        let weeks = cover(
            berlin,
            d("2026-03-25").and_hms_opt(12, 0, 0).unwrap(),
            d("2026-03-29").and_hms_opt(21, 0, 0).unwrap(),
            Interval::Week,
        );
        assert_eq!(weeks.len(), 1);
        assert_eq!(weeks[0].label, d("2026-03-23"));
        assert_eq!((weeks[0].end - weeks[0].start).num_hours(), 167);
    }
}
