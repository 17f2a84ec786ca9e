//! Time as the device's logs write it. `jamf.log` stamps lines in the Mac's local time without a
//! year (`Sun Apr 26 22:06:14`); Company Portal writes `2020-04-27 03:07:10.363` in UTC (the
//! captured sample shows a jamf.log line at 22:06 CDT next to the same event at 03:07 in the
//! Company Portal log). Everything is turned into Unix seconds here and shown as RFC 3339 in local
//! time, without a date-time dependency.

use std::time::{SystemTime, UNIX_EPOCH};

pub const HOUR: i64 = 3600;
pub const DAY: i64 = 24 * HOUR;

/// A line dated up to this far after `now` still counts as this year: the local offset is
/// taken at `now` for every line, so a daylight-saving change in between shifts lines by an hour.
const FUTURE_SLACK: i64 = 2 * HOUR;

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
const WEEKDAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];

/// `now` and the local UTC offset that log times are read and written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Clock {
    /// Unix seconds.
    pub now: i64,
    /// Seconds east of UTC.
    pub offset: i64,
}

impl Clock {
    /// The host's local offset at `now` (on a Mac: the Mac's time zone, which jamf.log uses).
    pub fn local(now: SystemTime) -> Clock {
        let now = unix_seconds(now);
        Clock {
            now,
            offset: local_offset(now),
        }
    }

    /// A syslog-style time without a year, read as local time in the most recent year that
    /// does not put it in the future (so in January, `Dec 31` is last year).
    pub fn syslog_time(&self, month: u32, day: u32, hms: (u32, u32, u32)) -> Option<i64> {
        let (this_year, _, _) = civil_from_days((self.now + self.offset).div_euclid(DAY));
        // Feb 29 needs a leap year: look back far enough to find one.
        (this_year - 8..=this_year).rev().find_map(|year| {
            if day == 0 || day > days_in_month(year, month)? {
                return None;
            }
            let t = local_to_unix(year, month, day, hms, self.offset);
            (t <= self.now + FUTURE_SLACK).then_some(t)
        })
    }

    /// RFC 3339 in local time: `2025-01-04T10:00:01+01:00`.
    pub fn rfc3339(&self, t: i64) -> String {
        let local = t + self.offset;
        let (y, m, d) = civil_from_days(local.div_euclid(DAY));
        let secs = local.rem_euclid(DAY);
        let sign = if self.offset < 0 { '-' } else { '+' };
        let off = self.offset.abs();
        format!(
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}{sign}{:02}:{:02}",
            secs / HOUR,
            secs % HOUR / 60,
            secs % 60,
            off / HOUR,
            off % HOUR / 60
        )
    }

    /// The jamf.log stamp for `t`: `Sun Apr 26 22:06:14`.
    pub fn syslog_stamp(&self, t: i64) -> String {
        let local = t + self.offset;
        let days = local.div_euclid(DAY);
        let (_, m, d) = civil_from_days(days);
        let secs = local.rem_euclid(DAY);
        format!(
            "{} {} {d:02} {:02}:{:02}:{:02}",
            WEEKDAYS[(days + 4).rem_euclid(7) as usize],
            MONTHS[m as usize - 1],
            secs / HOUR,
            secs % HOUR / 60,
            secs % 60
        )
    }

    /// The unified log's stamp for `t` (`log show --style ndjson`), in local time with its
    /// offset: `2026-11-20 10:15:32.000000+0100`.
    pub fn unified_stamp(&self, t: i64) -> String {
        let rfc = self.rfc3339(t);
        format!(
            "{} {}.000000{}{}",
            &rfc[..10],
            &rfc[11..19],
            &rfc[19..22],
            &rfc[23..25]
        )
    }

    /// The Company Portal stamp for `t` (UTC): `2020-04-27 03:07:10.363`.
    pub fn portal_stamp(t: i64) -> String {
        let (y, m, d) = civil_from_days(t.div_euclid(DAY));
        let secs = t.rem_euclid(DAY);
        format!(
            "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}.{:03}",
            secs / HOUR,
            secs % HOUR / 60,
            secs % 60,
            t.rem_euclid(1000)
        )
    }
}

/// "3 days", "26 hours", "12 minutes".
pub fn age_text(seconds: i64) -> String {
    let s = seconds.max(0);
    if s >= 2 * DAY {
        format!("{} days", s / DAY)
    } else if s >= 2 * HOUR {
        format!("{} hours", s / HOUR)
    } else {
        format!("{} minutes", s / 60)
    }
}

pub fn unix_seconds(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    }
}

pub fn month_number(name: &str) -> Option<u32> {
    MONTHS
        .iter()
        .position(|m| m.eq_ignore_ascii_case(name))
        .map(|i| i as u32 + 1)
}

pub fn is_weekday(name: &str) -> bool {
    WEEKDAYS.iter().any(|d| d.eq_ignore_ascii_case(name))
}

/// Year, month, day.
pub type Date = (i64, u32, u32);
/// Hours, minutes, seconds.
pub type Hms = (u32, u32, u32);

/// `HH:MM:SS`.
pub fn parse_hms(s: &str) -> Option<(u32, u32, u32)> {
    let mut it = s.split(':').map(|p| p.parse::<u32>().ok());
    let (h, m, sec) = (it.next()??, it.next()??, it.next()??);
    (it.next().is_none() && h < 24 && m < 60 && sec < 61).then_some((h, m, sec))
}

/// The leading `YYYY-MM-DD HH:MM:SS` of a line (fractions after it are ignored), as written.
pub fn parse_iso_prefix(line: &str) -> Option<(Date, Hms)> {
    let date = line.get(..10)?;
    let time = line.get(11..19)?;
    if !matches!(line.as_bytes().get(10), Some(b' ') | Some(b'T')) {
        return None;
    }
    let mut parts = date.split('-');
    let y = parts.next()?.parse::<i64>().ok()?;
    let m = parts.next()?.parse::<u32>().ok()?;
    let d = parts.next()?.parse::<u32>().ok()?;
    if d == 0 || d > days_in_month(y, m)? {
        return None;
    }
    Some(((y, m, d), parse_hms(time)?))
}

/// A unified log timestamp, `2026-03-29 13:59:40.572987+0500` (local time, fraction, offset
/// `±hhmm`), as Unix seconds.
pub fn parse_unified_stamp(stamp: &str) -> Option<i64> {
    let ((y, m, d), hms) = parse_iso_prefix(stamp)?;
    let rest = stamp.get(19..)?;
    let rest = rest.trim_start_matches(|c: char| c == '.' || c.is_ascii_digit());
    let sign = match rest.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let digits: String = rest[1..].chars().filter(|c| *c != ':').collect();
    if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let hours: i64 = digits[..2].parse().ok()?;
    let minutes: i64 = digits[2..].parse().ok()?;
    Some(local_to_unix(
        y,
        m,
        d,
        hms,
        sign * (hours * HOUR + minutes * 60),
    ))
}

/// `parse_iso_prefix` read as UTC.
pub fn parse_iso_utc(line: &str) -> Option<i64> {
    let ((y, m, d), hms) = parse_iso_prefix(line)?;
    Some(local_to_unix(y, m, d, hms, 0))
}

fn local_to_unix(y: i64, m: u32, d: u32, (h, mi, s): (u32, u32, u32), offset: i64) -> i64 {
    days_from_civil(y, m, d) * DAY + i64::from(h) * HOUR + i64::from(mi) * 60 + i64::from(s)
        - offset
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: u32) -> Option<u32> {
    Some(match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(y) => 29,
        2 => 28,
        _ => return None,
    })
}

// Howard Hinnant's days_from_civil / civil_from_days (proleptic Gregorian, day 0 = 1970-01-01).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// The host's UTC offset at `t`, from the C library's time zone database (on a Mac, the Mac's
/// own setting; jamf.log is written in it). UTC when the C library cannot say.
fn local_offset(t: i64) -> i64 {
    // time_t is 64-bit on every Mac and on the 64-bit hosts that build reenroll.
    let time = t as nix::libc::time_t;
    // SAFETY: `localtime_r` only writes into the `tm` we own and reads `time`; both outlive the
    // call. A null return means failure, in which case `tm` is not used.
    unsafe {
        let mut tm: nix::libc::tm = std::mem::zeroed();
        if nix::libc::localtime_r(&time, &mut tm).is_null() {
            return 0;
        }
        tm.tm_gmtoff as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clock(y: i64, m: u32, d: u32, hms: (u32, u32, u32), offset: i64) -> Clock {
        Clock {
            now: local_to_unix(y, m, d, hms, offset),
            offset,
        }
    }

    #[test]
    fn civil_round_trips() {
        for z in [-1, 0, 1, 59, 365, 11_016, 19_723, 20_000, 30_000] {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z);
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
    }

    #[test]
    fn no_year_lines_before_new_year_are_last_year() {
        let c = clock(2025, 1, 1, (0, 30, 0), 3600);
        let t = c.syslog_time(12, 31, (23, 50, 0)).unwrap();
        assert_eq!(c.rfc3339(t), "2024-12-31T23:50:00+01:00");
        let t = c.syslog_time(1, 1, (0, 10, 0)).unwrap();
        assert_eq!(c.rfc3339(t), "2025-01-01T00:10:00+01:00");
        // Tomorrow can only be last year's.
        let t = c.syslog_time(1, 2, (9, 0, 0)).unwrap();
        assert!(c.rfc3339(t).starts_with("2024-01-02"));
    }

    #[test]
    fn feb_29_finds_a_leap_year() {
        let c = clock(2027, 3, 10, (12, 0, 0), 0);
        let t = c.syslog_time(2, 29, (8, 0, 0)).unwrap();
        assert!(c.rfc3339(t).starts_with("2024-02-29"));
        assert_eq!(c.syslog_time(2, 30, (8, 0, 0)), None);
        assert_eq!(c.syslog_time(13, 1, (8, 0, 0)), None);
    }

    #[test]
    fn stamps_read_back() {
        let c = clock(2024, 4, 26, (22, 7, 10), -5 * 3600);
        assert_eq!(c.syslog_stamp(c.now), "Fri Apr 26 22:07:10");
        assert_eq!(c.rfc3339(c.now), "2024-04-26T22:07:10-05:00");
        assert_eq!(
            c.syslog_time(4, 26, (22, 7, 10)),
            Some(c.now),
            "written and read with the same offset"
        );
        assert_eq!(parse_iso_utc(&Clock::portal_stamp(c.now)), Some(c.now));
        assert_eq!(parse_iso_utc("2020-04-27 03:07:10.363 VERB x"), {
            Some(local_to_unix(2020, 4, 27, (3, 7, 10), 0))
        });
        assert_eq!(parse_iso_utc("not a date at all"), None);
        assert_eq!(c.unified_stamp(c.now), "2024-04-26 22:07:10.000000-0500");
        assert_eq!(parse_unified_stamp(&c.unified_stamp(c.now)), Some(c.now));
        assert_eq!(
            parse_unified_stamp("2026-03-29 13:59:40.572987+0500"),
            Some(local_to_unix(2026, 3, 29, (13, 59, 40), 5 * HOUR))
        );
        assert_eq!(parse_unified_stamp("2026-03-29 13:59:40.572987"), None);
        assert_eq!(parse_hms("22:06:14"), Some((22, 6, 14)));
        assert_eq!(parse_hms("22:06"), None);
        assert_eq!(age_text(3 * DAY + 5), "3 days");
        assert_eq!(age_text(26 * HOUR), "26 hours");
    }
}
