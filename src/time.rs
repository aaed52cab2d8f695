//! The one grammar of times and durations that people type (flags, `config.toml`).
//!
//! # Forms
//!
//! * **Instant**: a date `YYYY-MM-DD` (midnight UTC that day, e.g. `2026-11-01`) or an RFC 3339
//!   timestamp with any offset (`2026-11-01T12:30:00Z`, `2026-11-01T14:30:00.250+02:00`).
//!   Read by `chrono`; the result is milliseconds since the Unix epoch (sub-millisecond digits
//!   are dropped).
//! * **Duration**: whole numbers with units, read by `humantime`: `45s`, `90m`, `12h`, `30d`,
//!   `2w`, also combined (`1h 30m`) and with the unit spelled out (`3min`, `2 days`). Units are
//!   `ms`, `s`, `m` (minutes), `h`, `d` and `w`; months and years are refused because they
//!   have no fixed length, fractions (`1.5d`) because a whole number of a smaller unit says
//!   the same exactly. A duration is at least one millisecond.
//! * **Since**: a duration, meaning that long before "now", or an instant.
//!
//! Errors are [`Error::Invalid`] naming the kind of value (`time`, `duration`, `since`) and
//! listing the forms accepted; a caller with a name for the parameter (a CLI flag) puts its
//! own name in front.
//!
//! Entry timestamps inside the ledger have one fixed layout, `YYYY-MM-DDTHH:MM:SS.mmmZ`
//! ([`format_ts`]); reading them is format parsing, done where entries are read.

use crate::error::{Error, Result};

/// What an instant may look like, for error messages.
const INSTANT_FORMS: &str = "YYYY-MM-DD or an RFC 3339 time like 2026-11-01T12:00:00Z";

/// What a duration may look like, for error messages.
const DURATION_FORMS: &str =
    "whole numbers with units ms, s, m, h, d or w, like 45s, 90m, 12h, 30d, 2w or 1h 30m";

/// Unit words humantime knows whose length varies (months, years): refused.
const VARIABLE_UNITS: &[&str] = &["M", "month", "months", "y", "yr", "yrs", "year", "years"];

/// Unit words below a millisecond: refused, since every time here is in whole milliseconds.
const TINY_UNITS: &[&str] = &["ns", "nsec", "nanos", "us", "usec", "µs"];

/// Milliseconds since the epoch of an instant: `YYYY-MM-DD` (midnight UTC) or RFC 3339.
pub fn parse_instant(s: &str) -> Result<i64> {
    instant(s).ok_or_else(|| {
        Error::invalid(
            "time",
            format!("`{s}` is not a time: expected {INSTANT_FORMS}"),
        )
    })
}

fn instant(s: &str) -> Option<i64> {
    // chrono's `%Y-%m-%d` also takes one-digit days and signed years (`+2026-11-1`); a date
    // here is exactly four, two and two digits, so such text is refused rather than guessed.
    let date_shape = s.len() == 10
        && s.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    if date_shape {
        let d = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
        return Some(d.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis());
    }
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.timestamp_millis())
}

/// Why a text is not an acceptable duration.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Refusal {
    /// Not in the grammar at all.
    Unreadable,
    /// A fraction, e.g. `1.5d`.
    Fraction,
    /// A unit of varying length (the word).
    Variable(String),
    /// A unit below a millisecond.
    Tiny,
    /// More milliseconds than an `i64` holds.
    TooLong,
    /// Zero (or less than a millisecond).
    NotPositive,
}

impl Refusal {
    fn reason(&self, s: &str) -> String {
        let why = match self {
            Refusal::Unreadable => "is not a duration".to_string(),
            Refusal::Fraction => "has a fraction".to_string(),
            Refusal::Variable(w) => format!("uses `{w}`, which has no fixed length"),
            Refusal::Tiny => "uses a unit below a millisecond".to_string(),
            Refusal::TooLong => "is too long".to_string(),
            Refusal::NotPositive => "is not positive".to_string(),
        };
        format!("`{s}` {why}: expected {DURATION_FORMS}")
    }
}

fn duration(s: &str) -> std::result::Result<i64, Refusal> {
    if s.contains('.') {
        return Err(Refusal::Fraction);
    }
    // humantime knows more units than the grammar has; the unit words are the runs of
    // letters (numbers and spaces separate them), checked before humantime reads the text.
    let mut words = s
        .split(|c: char| !c.is_alphabetic())
        .filter(|w| !w.is_empty());
    if let Some(w) = words.clone().find(|w| VARIABLE_UNITS.contains(w)) {
        return Err(Refusal::Variable(w.to_string()));
    }
    if words.any(|w| TINY_UNITS.contains(&w)) {
        return Err(Refusal::Tiny);
    }
    let d = humantime::parse_duration(s).map_err(|e| match e {
        humantime::DurationError::NumberOverflow => Refusal::TooLong,
        _ => Refusal::Unreadable,
    })?;
    let ms = i64::try_from(d.as_millis()).map_err(|_| Refusal::TooLong)?;
    if ms <= 0 {
        return Err(Refusal::NotPositive);
    }
    Ok(ms)
}

/// Milliseconds of a duration (at least 1); see the module docs for the forms.
pub fn parse_duration(s: &str) -> Result<i64> {
    duration(s).map_err(|r| Error::invalid("duration", r.reason(s)))
}

/// Milliseconds since the epoch of a "since" value: a duration before `now_ms`, or an instant.
pub fn parse_since(s: &str, now_ms: i64) -> Result<i64> {
    let bad = |why: &str| {
        Error::invalid(
            "since",
            format!(
                "`{s}` {why}: expected a duration ({DURATION_FORMS}) or a time ({INSTANT_FORMS})"
            ),
        )
    };
    if let Some(t) = instant(s) {
        return Ok(t);
    }
    let d = match duration(s) {
        Ok(d) => d,
        Err(Refusal::Unreadable) => return Err(bad("is neither a duration nor a time")),
        // A duration that reads but is refused (zero, a fraction, months) says why.
        Err(r) => return Err(Error::invalid("since", r.reason(s))),
    };
    now_ms
        .checked_sub(d)
        .filter(|&t| chrono::DateTime::from_timestamp_millis(t).is_some())
        .ok_or_else(|| bad("reaches back before the earliest time that can be written"))
}

/// A window start as `--since` gives it: [`parse_since`], except that a zero duration (`0s`,
/// `0d`, …) means "no window": `None`, the window starts where the data does.
pub fn parse_window_start(s: &str, now_ms: i64) -> Result<Option<i64>> {
    if instant(s).is_none() && matches!(duration(s), Err(Refusal::NotPositive)) {
        return Ok(None);
    }
    parse_since(s, now_ms).map(Some)
}

/// The ledger's timestamp layout, `YYYY-MM-DDTHH:MM:SS.mmmZ`, of ms since the epoch; empty for
/// a time outside chrono's range (about ±262,000 years), which no parser here returns.
pub fn format_ts(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;
    const HOUR: i64 = 60 * MIN;
    const DAY: i64 = 24 * HOUR;

    fn reason(e: Error) -> (String, String) {
        match e {
            Error::Invalid { what, reason } => (what, reason),
            other => panic!("not an Invalid error: {other}"),
        }
    }

    #[test]
    fn instants() {
        let nov1 = 1_793_491_200_000; // 2026-11-01T00:00:00Z
        for (s, want) in [
            ("2026-11-01", nov1),
            ("2026-11-01T00:00:00Z", nov1),
            ("2026-11-01T00:00:00z", nov1),
            ("2026-11-01t00:00:00Z", nov1),
            ("2026-11-01T02:00:00+02:00", nov1),
            ("2026-10-31T19:00:00-05:00", nov1),
            ("2026-11-01T00:00:00.250Z", nov1 + 250),
            // Digits below the millisecond are dropped.
            ("2026-11-01T00:00:00.999999Z", nov1 + 999),
            ("2028-02-29", 1_835_395_200_000),
            ("1970-01-01", 0),
            ("1969-12-31", -DAY),
        ] {
            assert_eq!(parse_instant(s).unwrap(), want, "{s}");
        }
        for bad in [
            "",
            "2026-13-01",
            "2026-02-29",
            "2026-11-31",
            "2026-1-05",
            "+2026-11-1",
            "26-11-01",
            "2026/11/01",
            "2026-11-01T00:00:00",
            "2026-11-01T25:00:00Z",
            "2026-11-01 00:00",
            "2026-11-01T00:00:00+25:00",
            "yesterday",
            "30d",
            " 2026-11-01",
        ] {
            let (what, why) = reason(parse_instant(bad).unwrap_err());
            assert_eq!(what, "time", "{bad}");
            assert!(
                why.contains("YYYY-MM-DD") && why.contains("RFC 3339"),
                "{why}"
            );
        }
    }

    #[test]
    fn a_zero_window_start_is_no_window() {
        for s in ["0s", "0d", "0w", "0h 0m"] {
            assert_eq!(parse_window_start(s, 1_000_000).unwrap(), None, "{s}");
        }
        assert_eq!(parse_window_start("1s", 1_000_000).unwrap(), Some(999_000));
        assert!(parse_window_start("-1s", 1_000_000).is_err());
        assert!(parse_window_start("1.5d", 1_000_000).is_err());
    }

    #[test]
    fn durations() {
        for (s, want) in [
            ("45s", 45_000),
            ("90m", 90 * MIN),
            ("12h", 12 * HOUR),
            ("30d", 30 * DAY),
            ("2w", 14 * DAY),
            ("1h 30m", 90 * MIN),
            ("1h30m", 90 * MIN),
            ("3min", 3 * MIN),
            ("2 days", 2 * DAY),
            ("250ms", 250),
            ("0d 1s", 1_000),
            // The longest a duration can be: i64::MAX ms is about 292 million years.
            ("15250284452w", 15_250_284_452 * 7 * DAY),
        ] {
            assert_eq!(parse_duration(s).unwrap(), want, "{s}");
        }
        for (bad, why) in [
            ("", "is not a duration"),
            ("d", "is not a duration"),
            ("30", "is not a duration"),
            ("30x", "is not a duration"),
            ("-1d", "is not a duration"),
            ("+1d", "is not a duration"),
            ("h1", "is not a duration"),
            ("１d", "is not a duration"),
            ("0", "is not positive"),
            ("0d", "is not positive"),
            ("0s 0m", "is not positive"),
            ("1.5d", "has a fraction"),
            ("2y", "no fixed length"),
            ("1M", "no fixed length"),
            ("1 year", "no fixed length"),
            ("10ns", "below a millisecond"),
            ("99999999999999w", "is too long"),
            ("99999999999999999999d", "is too long"),
            ("15250284453w", "is too long"),
        ] {
            let (what, reason) = reason(parse_duration(bad).unwrap_err());
            assert_eq!(what, "duration", "{bad}");
            assert!(reason.contains(why), "{bad}: {reason}");
            assert!(reason.contains("30d"), "{reason}");
        }
    }

    #[test]
    fn since_is_a_duration_back_from_now_or_an_instant() {
        let now = 1_793_491_200_000 + 10 * DAY;
        assert_eq!(parse_since("30d", now).unwrap(), now - 30 * DAY);
        assert_eq!(parse_since("12h", now).unwrap(), now - 12 * HOUR);
        assert_eq!(parse_since("2026-11-01", now).unwrap(), 1_793_491_200_000);
        assert_eq!(
            parse_since("2026-11-01T06:00:00+06:00", now).unwrap(),
            1_793_491_200_000
        );
        // Far back is fine while it can still be written as a timestamp.
        assert!(parse_since("10000000w", now).unwrap() < 0);
        for (bad, why) in [
            ("", "neither a duration nor a time"),
            ("30x", "neither a duration nor a time"),
            ("2026-13-01", "neither a duration nor a time"),
            ("0d", "is not positive"),
            ("1.5d", "has a fraction"),
            ("2y", "no fixed length"),
            ("15000000000w", "reaches back before"),
        ] {
            let (what, reason) = reason(parse_since(bad, now).unwrap_err());
            assert_eq!(what, "since", "{bad}");
            assert!(reason.contains(why), "{bad}: {reason}");
        }
    }

    #[test]
    fn format_ts_is_the_entry_layout() {
        assert_eq!(format_ts(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format_ts(1_793_491_200_250), "2026-11-01T00:00:00.250Z");
        assert_eq!(format_ts(i64::MAX), "");
        let t = parse_instant("2028-02-29T23:59:59.999Z").unwrap();
        assert_eq!(format_ts(t), "2028-02-29T23:59:59.999Z");
    }
}
