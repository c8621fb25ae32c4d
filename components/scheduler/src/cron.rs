//! Cron expressions (croner, OCPS rules) evaluated in an IANA time zone.

use std::fmt;
use std::str::FromStr;
use std::time::SystemTime;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use croner::Cron;
use croner::parser::{CronParser, Seconds};

use crate::error::SchedulerError;

/// A validated cron expression in a time zone.
///
/// Five fields (`minute hour day-of-month month day-of-week`) or six (a leading seconds
/// field); `@hourly`-style nicknames; weekday 0 and 7 are Sunday; when both day-of-month and
/// day-of-week are restricted either may match (Vixie OR); `L`, `W` and `#` are accepted.
/// Occurrences are computed on the wall clock of the zone with croner's OCPS rules: a time
/// that does not exist on a spring-forward day runs at the end of the gap, a time that occurs
/// twice on a fall-back day runs once (the first pass).
#[derive(Clone)]
pub struct CronSchedule {
    expr: String,
    tz: Tz,
    cron: Cron,
}

impl fmt::Debug for CronSchedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CronSchedule")
            .field("expr", &self.expr)
            .field("tz", &self.tz.name())
            .finish()
    }
}

impl CronSchedule {
    /// Parse `expr` for the IANA zone `tz` (e.g. `"Europe/Zurich"`, `"UTC"`).
    ///
    /// An expression that never matches (e.g. `0 0 31 2 *`) is an error, not a silent "never".
    pub fn parse(expr: &str, tz: &str) -> Result<Self, SchedulerError> {
        let tz = Tz::from_str(tz).map_err(|_| SchedulerError::UnknownTimeZone {
            zone: tz.to_owned(),
        })?;
        let parser = CronParser::builder().seconds(Seconds::Optional).build();
        let cron = parser
            .parse(expr)
            .map_err(|e| SchedulerError::InvalidCron {
                expr: expr.to_owned(),
                detail: e.to_string(),
            })?;
        let schedule = Self {
            expr: expr.trim().to_owned(),
            tz,
            cron,
        };
        // Reject never-matching expressions: croner only says so by finding nothing.
        if schedule
            .next_after(SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000))
            .is_none()
        {
            return Err(SchedulerError::InvalidCron {
                expr: expr.to_owned(),
                detail: "the expression never matches".to_owned(),
            });
        }
        Ok(schedule)
    }

    /// The expression as given (trimmed).
    pub fn expr(&self) -> &str {
        &self.expr
    }

    /// The IANA name of the zone.
    pub fn time_zone(&self) -> &str {
        self.tz.name()
    }

    /// The first occurrence strictly after `t`.
    pub fn next_after(&self, t: SystemTime) -> Option<SystemTime> {
        let local = DateTime::<Utc>::from(t).with_timezone(&self.tz);
        self.cron
            .find_next_occurrence(&local, false)
            .ok()
            .map(|d| SystemTime::from(d.with_timezone(&Utc)))
    }

    /// The last occurrence at or before `t`.
    pub(crate) fn latest_at_or_before(&self, t: SystemTime) -> Option<SystemTime> {
        let local = DateTime::<Utc>::from(t).with_timezone(&self.tz);
        self.cron
            .find_previous_occurrence(&local, true)
            .ok()
            .map(|d| SystemTime::from(d.with_timezone(&Utc)))
    }

    /// The last occurrence strictly before `t`.
    pub(crate) fn previous_before(&self, t: SystemTime) -> Option<SystemTime> {
        let local = DateTime::<Utc>::from(t).with_timezone(&self.tz);
        self.cron
            .find_previous_occurrence(&local, false)
            .ok()
            .map(|d| SystemTime::from(d.with_timezone(&Utc)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> SystemTime {
        SystemTime::from(DateTime::parse_from_rfc3339(s).expect("rfc3339"))
    }

    fn show(t: SystemTime) -> String {
        DateTime::<Utc>::from(t).to_rfc3339()
    }

    #[test]
    fn five_and_six_fields_parse() {
        let five = CronSchedule::parse("*/5 * * * *", "UTC").expect("5 fields");
        assert_eq!(
            show(
                five.next_after(utc("2025-01-01T00:01:02.5Z"))
                    .expect("next")
            ),
            "2025-01-01T00:05:00+00:00"
        );
        let six = CronSchedule::parse("*/10 * * * * *", "UTC").expect("6 fields");
        assert_eq!(
            show(six.next_after(utc("2025-01-01T00:00:01.5Z")).expect("next")),
            "2025-01-01T00:00:10+00:00"
        );
        let hourly = CronSchedule::parse("@hourly", "UTC").expect("nickname");
        assert_eq!(
            show(
                hourly
                    .next_after(utc("2025-01-01T00:00:00Z"))
                    .expect("next")
            ),
            "2025-01-01T01:00:00+00:00"
        );
    }

    #[test]
    fn weekday_zero_and_seven_are_sunday_and_dom_dow_are_ored() {
        // 2025-01-05 is a Sunday.
        for expr in ["0 0 * * 0", "0 0 * * 7", "0 0 * * SUN"] {
            let c = CronSchedule::parse(expr, "UTC").expect(expr);
            assert_eq!(
                show(c.next_after(utc("2025-01-01T00:00:00Z")).expect("next")),
                "2025-01-05T00:00:00+00:00",
                "{expr}"
            );
        }
        // Vixie OR: the 1st of the month OR any Monday (2025-01-06).
        let c = CronSchedule::parse("0 0 1 * MON", "UTC").expect("or");
        assert_eq!(
            show(c.next_after(utc("2025-01-01T00:00:00Z")).expect("next")),
            "2025-01-06T00:00:00+00:00"
        );
    }

    #[test]
    fn invalid_never_matching_and_unknown_zone_are_errors() {
        let e = CronSchedule::parse("61 * * * *", "UTC").expect_err("bad minute");
        assert!(matches!(e, SchedulerError::InvalidCron { .. }), "{e:?}");
        let e = CronSchedule::parse("0 0 31 2 *", "UTC").expect_err("never");
        assert!(e.to_string().contains("never matches"), "{e}");
        let e = CronSchedule::parse("0 0 * * *", "Mars/Olympus").expect_err("zone");
        assert!(matches!(e, SchedulerError::UnknownTimeZone { .. }), "{e:?}");
        let e = CronSchedule::parse("", "UTC").expect_err("empty");
        assert!(matches!(e, SchedulerError::InvalidCron { .. }), "{e:?}");
    }

    #[test]
    fn dst_spring_forward_runs_at_the_end_of_the_gap() {
        // Europe/Zurich 2025-03-30: 02:00 CET -> 03:00 CEST; 02:30 does not exist.
        let c = CronSchedule::parse("30 2 * * *", "Europe/Zurich").expect("parse");
        let first = c.next_after(utc("2025-03-29T12:00:00Z")).expect("next");
        assert_eq!(show(first), "2025-03-30T01:00:00+00:00"); // 03:00 CEST
        let second = c.next_after(first).expect("next");
        assert_eq!(show(second), "2025-03-31T00:30:00+00:00"); // 02:30 CEST
    }

    #[test]
    fn dst_fall_back_runs_a_fixed_time_once() {
        // Europe/Zurich 2025-10-26: 03:00 CEST -> 02:00 CET; 02:30 happens twice.
        let c = CronSchedule::parse("30 2 * * *", "Europe/Zurich").expect("parse");
        let first = c.next_after(utc("2025-10-25T12:00:00Z")).expect("next");
        assert_eq!(show(first), "2025-10-26T00:30:00+00:00"); // 02:30 CEST, first pass
        let second = c.next_after(first).expect("next");
        assert_eq!(show(second), "2025-10-27T01:30:00+00:00"); // next day, 02:30 CET
    }

    #[test]
    fn latest_and_previous() {
        let c = CronSchedule::parse("0 * * * *", "UTC").expect("parse");
        let t = utc("2025-01-01T05:00:00Z");
        assert_eq!(
            show(c.latest_at_or_before(t).expect("latest")),
            "2025-01-01T05:00:00+00:00"
        );
        assert_eq!(
            show(c.previous_before(t).expect("prev")),
            "2025-01-01T04:00:00+00:00"
        );
    }
}
