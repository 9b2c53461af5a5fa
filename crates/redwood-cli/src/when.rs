//! Times as people write them, for `--at`: `2026-11-24 10:15` (local time unless a zone or
//! offset is given), RFC 3339 (`2026-11-24T10:15:00Z`), `now`, relative forms (`10 minutes
//! ago`, `2h ago`), and `today`/`yesterday` with an optional time (`yesterday 14:00`). Parsed
//! with `jiff`; the result is milliseconds since the Unix epoch.

use jiff::civil::{Date, DateTime, Time};
use jiff::{Span, Timestamp, ToSpan, ZonedDateTime as Zoned};

/// Parses `text` relative to `now` (whose time zone is the local one).
pub fn parse_time(text: &str, now: &Zoned) -> Result<u64, String> {
    let trimmed = text.trim();
    let lower = trimmed.to_ascii_lowercase();
    let zoned = if lower == "now" {
        Some(now.clone())
    } else if let Some(rest) = lower.strip_prefix("yesterday") {
        day_and_time(now, now.date().checked_sub(1.day()).ok(), rest)
    } else if let Some(rest) = lower.strip_prefix("today") {
        day_and_time(now, Some(now.date()), rest)
    } else if lower.ends_with(" ago") {
        lower.parse::<Span>().ok().and_then(|span| now.checked_add(span).ok())
    } else if let Ok(timestamp) = trimmed.parse::<Timestamp>() {
        Some(timestamp.to_zoned_datetime(now.time_zone().clone()))
    } else if let Ok(zoned) = trimmed.parse::<Zoned>() {
        Some(zoned)
    } else if let Ok(datetime) = trimmed.parse::<DateTime>() {
        datetime.to_zoned_datetime(now.time_zone().clone()).ok()
    } else if let Ok(date) = trimmed.parse::<Date>() {
        date.to_zoned_datetime(now.time_zone().clone()).ok()
    } else {
        None
    };
    let zoned = zoned.ok_or_else(|| {
        format!(
            "cannot read the time {text:?}: write it as 2026-11-24 10:15 (local time), \
             2026-11-24T10:15:00Z (RFC 3339), '10 minutes ago' or 'yesterday 14:00'"
        )
    })?;
    u64::try_from(zoned.timestamp().as_millisecond())
        .map_err(|_| format!("the time {text:?} is before 1970"))
}

/// `date` at the time in `rest` (midnight if empty), in `now`'s time zone.
fn day_and_time(now: &Zoned, date: Option<Date>, rest: &str) -> Option<Zoned> {
    let rest = rest.trim().trim_start_matches("at ").trim();
    let time = if rest.is_empty() { Time::midnight() } else { rest.parse::<Time>().ok()? };
    date?.to_datetime(time).to_zoned_datetime(now.time_zone().clone()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Zoned {
        "2026-12-03T10:00:00+01:00[Europe/Paris]".parse().unwrap()
    }

    fn ms(text: &str) -> u64 {
        u64::try_from(text.parse::<Timestamp>().unwrap().as_millisecond()).unwrap()
    }

    #[test]
    fn every_documented_form_parses_to_its_instant() {
        let now = now();
        assert_eq!(parse_time("now", &now), Ok(ms("2026-12-03T09:00:00Z")));
        // Local time (the zone of `now`) unless one is given.
        assert_eq!(parse_time("2026-11-24 10:15", &now), Ok(ms("2026-11-24T09:15:00Z")));
        assert_eq!(parse_time("2026-11-24T10:15:00Z", &now), Ok(ms("2026-11-24T10:15:00Z")));
        assert_eq!(parse_time("2026-11-24T10:15:00-05:00", &now), Ok(ms("2026-11-24T15:15:00Z")));
        assert_eq!(parse_time("2026-11-24", &now), Ok(ms("2026-11-23T23:00:00Z")));
        assert_eq!(parse_time("10 minutes ago", &now), Ok(ms("2026-12-03T08:50:00Z")));
        assert_eq!(parse_time("2h ago", &now), Ok(ms("2026-12-03T07:00:00Z")));
        assert_eq!(parse_time("1 day ago", &now), Ok(ms("2026-12-02T09:00:00Z")));
        assert_eq!(parse_time("yesterday 14:00", &now), Ok(ms("2026-12-02T13:00:00Z")));
        assert_eq!(parse_time("Yesterday", &now), Ok(ms("2026-12-01T23:00:00Z")));
        assert_eq!(parse_time("today 08:30:15", &now), Ok(ms("2026-12-03T07:30:15Z")));
    }

    #[test]
    fn what_is_not_a_time_is_an_error_that_shows_the_forms() {
        let now = now();
        for text in
            ["", "soon", "10 minutes", "yesterday 25:00", "2026-13-01", "1969-01-01T00:00:00Z"]
        {
            let error = parse_time(text, &now).unwrap_err();
            assert!(error.contains(&format!("{text:?}")), "{text}: {error}");
        }
    }
}
