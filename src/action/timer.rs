//! Timers: the minutes a step waits (`settle_minutes`, `timeout_minutes`, `wait_minutes`,
//! `wait_for_user_minutes`) or schedules (`delay_minutes`). Every timer is read through
//! [`minutes`], which refuses what is not a finite, non-negative number at most the timer's
//! maximum, so no arithmetic on the resulting `Duration` can overflow. Playbook validation and
//! `settings` check every timer with these same rules before anything changes (exit 2); an
//! action that still meets a bad value (a journal written by an older version) fails its step
//! instead of panicking.

use std::time::{Duration, Instant, SystemTime};

use anyhow::{bail, Result};

/// A week, in minutes: the maximum of every wait.
pub const WEEK: u64 = 7 * 24 * 60;
/// A day, in minutes: the maximum delay of a restart and of one program's run.
pub const DAY: u64 = 24 * 60;

/// One timer field of an action: its name, its text (a number or a `{variable}`), its rules.
#[derive(Clone, Debug, PartialEq)]
pub struct Timer {
    pub field: &'static str,
    pub text: String,
    pub max_minutes: u64,
    /// Whole minutes only (`shutdown -r +N`, a program's timeout).
    pub whole: bool,
}

impl Timer {
    pub fn new(field: &'static str, text: &str, max_minutes: u64, whole: bool) -> Timer {
        Timer {
            field,
            text: text.to_string(),
            max_minutes,
            whole,
        }
    }

    /// The timer's value as a duration, or why it is refused.
    pub fn duration(&self) -> Result<Duration> {
        minutes(self.field, &self.text, self.max_minutes, self.whole)
    }
}

/// How a maximum reads: "10080 minutes (a week)".
pub fn describe_max(max: u64) -> String {
    match max {
        WEEK => format!("{WEEK} minutes (a week)"),
        DAY => format!("{DAY} minutes (a day)"),
        m => format!("{m} minutes"),
    }
}

/// Parse `text` as a number of minutes for `field`: finite, not negative, at most `max`, whole
/// when `whole`.
pub fn minutes(field: &str, text: &str, max: u64, whole: bool) -> Result<Duration> {
    let t = text.trim();
    let kind = if whole {
        "a whole number of minutes"
    } else {
        "a number of minutes"
    };
    let Ok(m) = t.parse::<f64>() else {
        bail!("{field} must be {kind}, not `{text}`");
    };
    if !m.is_finite() {
        bail!(
            "{field} must be {kind}, not `{text}` (at most {})",
            describe_max(max)
        );
    }
    if m < 0.0 {
        bail!("{field} must not be negative (`{text}`)");
    }
    if m > max as f64 {
        bail!(
            "{field} = {t} is more than the maximum, {}",
            describe_max(max)
        );
    }
    if whole && m.fract() != 0.0 {
        bail!("{field} must be {kind}, not `{text}`");
    }
    // NOTE: m <= max (at most a week), so the product is small and finite.
    Ok(Duration::from_secs_f64(m * 60.0))
}

/// `start + d`, or a refusal naming what was being computed (never a panic).
pub fn add_system(start: SystemTime, d: Duration, what: &str) -> Result<SystemTime> {
    match start.checked_add(d) {
        Some(t) => Ok(t),
        None => bail!("{what}: {d:?} after {start:?} is beyond what the clock can represent"),
    }
}

/// `Instant::now() + d`, saturating at a far future instead of panicking.
pub fn deadline(d: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(d)
        .or_else(|| now.checked_add(Duration::from_secs(WEEK * 60 * 52 * 100)))
        .unwrap_or(now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_what_is_not_a_finite_bounded_number() {
        for bad in [
            "inf",
            "-inf",
            "NaN",
            "1e300",
            "9223372036854775807",
            "-1",
            "10081",
            "x",
            "",
        ] {
            assert!(minutes("t", bad, WEEK, false).is_err(), "{bad}");
        }
        assert!(minutes("t", "1.5", DAY, true).is_err());
        assert_eq!(
            minutes("t", " 30 ", WEEK, false).unwrap(),
            Duration::from_secs(1800)
        );
        assert_eq!(
            minutes("t", "0.5", WEEK, false).unwrap(),
            Duration::from_secs(30)
        );
        assert_eq!(
            minutes("t", &WEEK.to_string(), WEEK, false).unwrap(),
            Duration::from_secs(WEEK * 60)
        );
        assert!(add_system(SystemTime::now(), Duration::MAX, "x").is_err());
        let _ = deadline(Duration::MAX);
    }
}
