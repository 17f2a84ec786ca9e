//! P1 from the Jamf client log: when did the Mac last check in with Jamf Pro?
//!
//! Lines look like `Sun Apr 26 22:06:14 test-mbp jamf[1480]: Executing Policy Register With AAD`
//! (local time, no year). Other lines (script output, continuation lines) are ignored. Markers:
//! - a check-in *attempt*: `Checking for policies triggered by "<trigger>"` (any trigger contacts
//!   the server). It counts as successful unless the same process then logs a failure marker;
//!   the process going on to `Executing Policy` or to another success marker confirms it;
//! - a success on its own: `Submitting log to`, `Submitting data to` (the server took a policy
//!   log or an inventory), `The JSS is available` (`jamf checkJSSConnection`);
//! - a failure: `Could not connect to the JSS` (then "Looking for cached policies"),
//!   `Device Signature Error`, `The JSS is not available`, `could not be reached`.
//!
//! Jamf Pro marks a Mac unresponsive after 24 hours without a check-in (they are due every
//! 15 minutes). Files are read newest first (`jamf.log`, `jamf.log.0.gz`, …) and reading stops
//! at the first file holding a successful check-in: nothing older can be more recent.

use super::clock::{self, age_text, Clock, DAY};
use super::{lines, norm};
use super::{Confidence, Ctx, Evidence, Finding, Remedy};

pub const LOG_DIR: &str = "/var/log";
pub const LOG_NAME: &str = "jamf.log";

const CHECK_IN: &str = "Checking for policies triggered by \"";
const CONFIRMS: &[&str] = &["Executing Policy"];
const SUCCESS: &[&str] = &[
    "Submitting log to",
    "Submitting data to",
    "The JSS is available",
];
const FAILURE: &[&str] = &[
    "Could not connect to the JSS",
    "Device Signature Error",
    "The JSS is not available",
    "could not be reached",
];

/// Failures shown as evidence after the last success (the most recent ones).
const MAX_FAILURES_SHOWN: usize = 3;

/// One parsed jamf.log line.
#[derive(Debug, PartialEq, Eq)]
pub struct Line<'a> {
    pub time: i64,
    /// `jamf[1480]`: check-in outcomes are matched within one process.
    pub process: &'a str,
    pub message: &'a str,
}

/// What one line of jamf.log is.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed<'a> {
    Entry(Line<'a>),
    /// No stamp at the start: script output, a continuation line, a blank line.
    NotAnEntry,
    /// Stamped like an entry, but the rest could not be read (no `process[pid]:`, an impossible
    /// date or time): counted and reported, never skipped silently.
    Unparsed,
}

/// `[Day] Mon DD HH:MM:SS host process[pid]: message`, read by its fixed parts: the stamp at
/// the start, then the first `name[digits]:` token; the computer name is whatever lies between,
/// so names with spaces, apostrophes, parentheses or non-ASCII letters (`Alice's MacBook Pro`,
/// `MacBook Air (2)`, `Zoë’s Mac`) read like any other. Whitespace is Unicode's (a no-break
/// space separates too).
pub fn parse_line<'a>(clock: &Clock, line: &'a str) -> Parsed<'a> {
    let mut rest = line;
    let mut token = || {
        let s = rest.trim_start();
        let end = s.find(char::is_whitespace).unwrap_or(s.len());
        let (tok, r) = s.split_at(end);
        rest = r;
        (!tok.is_empty()).then_some(tok)
    };
    let Some(mut first) = token() else {
        return Parsed::NotAnEntry;
    };
    if clock::month_number(first).is_none() {
        if !clock::is_weekday(first) {
            return Parsed::NotAnEntry;
        }
        // The weekday; its value adds nothing once the year is inferred.
        match token() {
            Some(t) => first = t,
            None => return Parsed::NotAnEntry,
        }
    }
    let Some(month) = clock::month_number(first) else {
        return Parsed::NotAnEntry;
    };
    let Some(day) = token().and_then(|t| t.parse::<u32>().ok()) else {
        return Parsed::NotAnEntry;
    };
    // From here on the line is stamped: whatever fails is an entry that could not be read.
    let hms = token().and_then(clock::parse_hms);
    let entry = (|| {
        let hms = hms?;
        let (start, end) = process_token(rest)?;
        let time = clock.syslog_time(month, day, hms)?;
        Some(Line {
            time,
            process: &rest[start..end - 1],
            message: rest[end..].trim(),
        })
    })();
    entry.map_or(Parsed::Unparsed, Parsed::Entry)
}

/// Byte range of the first `name[digits]:` token of `rest` that ends at a space or the end of
/// the line (the range includes the colon).
fn process_token(rest: &str) -> Option<(usize, usize)> {
    let mut from = 0;
    while let Some(i) = rest[from..].find("]:") {
        let close = from + i;
        let end = close + 2;
        from = end;
        if !rest[end..].chars().next().is_none_or(char::is_whitespace) {
            continue;
        }
        let Some(open) = rest[..close].rfind('[') else {
            continue;
        };
        let pid = &rest[open + 1..close];
        if pid.is_empty() || !pid.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let start = rest[..open]
            .char_indices()
            .rev()
            .find(|(_, c)| c.is_whitespace())
            .map_or(0, |(i, c)| i + c.len_utf8());
        if start < open {
            return Some((start, end));
        }
    }
    None
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    CheckIn,
    Confirms,
    Success,
    Failure,
    Other,
}

/// `message` must be folded (`norm::fold`); the markers are folded as they are matched.
fn classify(message: &str) -> Kind {
    let has = |list: &[&str]| list.iter().any(|m| norm::contains(message, m));
    if norm::contains(message, CHECK_IN) {
        Kind::CheckIn
    } else if has(FAILURE) {
        Kind::Failure
    } else if has(SUCCESS) {
        Kind::Success
    } else if has(CONFIRMS) {
        Kind::Confirms
    } else {
        Kind::Other
    }
}

#[derive(Clone, Debug)]
struct Hit {
    time: i64,
    evidence: Evidence,
}

/// What the scan of the logs established.
#[derive(Debug, Default)]
struct CheckIns {
    last_success: Option<Hit>,
    /// Most recent last; only those after `last_success`.
    failures_after: Vec<Hit>,
    failures_after_count: u64,
    earliest: Option<i64>,
    /// Stamped lines that could not be parsed, and the first of them (number, text).
    unparsed: u64,
    first_unparsed: Option<(u64, String)>,
}

/// Scan one file (chronological) into a fresh `CheckIns`.
fn scan_file(ctx: &Ctx, path: &std::path::Path, source: &str) -> std::io::Result<CheckIns> {
    let mut out = CheckIns::default();
    let mut pending: Option<(String, Hit)> = None;
    let succeed = |out: &mut CheckIns, hit: Hit| {
        out.last_success = Some(hit);
        out.failures_after.clear();
        out.failures_after_count = 0;
    };
    lines::for_each_line(path, |n, text| {
        // Parsed as written (whitespace includes no-break spaces); only a line that fails that
        // way and is not ASCII is parsed again folded (a full-width colon after the pid).
        let folded_line;
        let line = match parse_line(&ctx.clock, text) {
            Parsed::Entry(line) => line,
            Parsed::NotAnEntry => return,
            Parsed::Unparsed => {
                folded_line = (!text.is_ascii()).then(|| norm::fold(text));
                match folded_line.as_deref().map(|f| parse_line(&ctx.clock, f)) {
                    Some(Parsed::Entry(line)) => line,
                    _ => {
                        out.unparsed += 1;
                        if out.first_unparsed.is_none() {
                            out.first_unparsed = Some((n, text.to_string()));
                        }
                        return;
                    }
                }
            }
        };
        // Only the message is matched, so only the message is folded.
        let message = norm::fold(line.message);
        out.earliest = Some(out.earliest.map_or(line.time, |e| e.min(line.time)));
        let hit = || Hit {
            time: line.time,
            evidence: ctx.log_evidence(source, n, Some(line.time), text),
        };
        let same_process = pending.as_ref().is_some_and(|(p, _)| p == line.process);
        match classify(&message) {
            Kind::CheckIn => {
                if let Some((_, p)) = pending.take() {
                    succeed(&mut out, p);
                }
                pending = Some((line.process.to_string(), hit()));
            }
            Kind::Success => {
                if let Some((_, p)) = pending.take() {
                    succeed(&mut out, p);
                }
                succeed(&mut out, hit());
            }
            Kind::Confirms if same_process => {
                if let Some((_, p)) = pending.take() {
                    succeed(&mut out, p);
                }
            }
            Kind::Failure => {
                if same_process {
                    pending = None;
                }
                out.failures_after_count += 1;
                out.failures_after.push(hit());
                if out.failures_after.len() > MAX_FAILURES_SHOWN {
                    out.failures_after.remove(0);
                }
            }
            Kind::Confirms | Kind::Other => {}
        }
    })?;
    if let Some((_, p)) = pending {
        succeed(&mut out, p);
    }
    Ok(out)
}

pub(super) fn check(ctx: &mut Ctx) {
    let dir = match ctx.device.host_path(LOG_DIR) {
        Ok(d) => d,
        Err(e) => return ctx.could_not_read(LOG_DIR, format!("{e:#}")),
    };
    let live = format!("{LOG_DIR}/{LOG_NAME}");
    let files =
        match lines::rotations(&dir, LOG_NAME) {
            Ok(f) if f.is_empty() => return ctx.could_not_read(
                live,
                "it does not exist (the Jamf framework is not installed, or the log was removed): \
                 the last check-in is unknown",
            ),
            Ok(f) => f,
            Err(e) => return ctx.could_not_read(LOG_DIR, lines::read_error_reason(&e)),
        };
    let mut total = CheckIns::default();
    for path in files {
        let source = ctx
            .device
            .mac_path(&path)
            .unwrap_or_else(|| path.display().to_string());
        let mut scanned = match scan_file(ctx, &path, &source) {
            Ok(s) => s,
            Err(e) => {
                ctx.could_not_read(source, lines::read_error_reason(&e));
                continue;
            }
        };
        if let Some((first, example)) = scanned.first_unparsed.take() {
            ctx.unparsed(&source, scanned.unparsed, first, &example);
        }
        total.earliest = match (total.earliest, scanned.earliest) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        // Older files go before: their failures only matter while newer ones have not filled
        // the evidence, and their count adds up.
        total.failures_after_count += scanned.failures_after_count;
        let mut older = scanned.failures_after;
        older.append(&mut total.failures_after);
        let keep = older.len().saturating_sub(MAX_FAILURES_SHOWN);
        total.failures_after = older.split_off(keep);
        if scanned.last_success.is_some() {
            total.last_success = scanned.last_success;
            break;
        }
    }
    judge(ctx, total);
}

fn remedy() -> Remedy {
    Remedy {
        manual: Some(
            "Restore the Mac's check-in with Jamf Pro: `sudo jamf checkJSSConnection` must report \
             that the JSS is available, then `sudo jamf policy` checks in (check-ins are due every \
             15 minutes). If it keeps failing (for example with a Device Signature Error), \
             re-enroll the Mac in Jamf Pro."
                .into(),
        ),
        ..Default::default()
    }
}

fn judge(ctx: &mut Ctx, total: CheckIns) {
    let now = ctx.clock.now;
    let failures = |count: u64| match count {
        0 => String::new(),
        1 => "; 1 failed attempt since".to_string(),
        n => format!("; {n} failed attempts since"),
    };
    let (title, mut evidence, confidence) = match (&total.last_success, total.earliest) {
        (Some(s), _) if now - s.time > DAY => (
            format!(
                "Unresponsive in Jamf Pro: no successful check-in for {} (over 24 hours){}",
                age_text(now - s.time),
                failures(total.failures_after_count)
            ),
            vec![s.evidence.clone()],
            Confidence::High,
        ),
        (Some(_), _) | (None, None) => return,
        (None, Some(earliest)) if now - earliest > DAY => (
            format!(
                "Unresponsive in Jamf Pro: no successful check-in in jamf.log, which goes back {}{}",
                age_text(now - earliest),
                failures(total.failures_after_count)
            ),
            Vec::new(),
            Confidence::High,
        ),
        (None, Some(earliest)) if total.failures_after_count > 0 => (
            format!(
                "Jamf Pro check-ins failing: none succeeded in the {} the log covers (unresponsive \
                 after 24 hours)",
                age_text(now - earliest)
            ),
            Vec::new(),
            Confidence::Low,
        ),
        (None, Some(_)) => return,
    };
    evidence.extend(total.failures_after.into_iter().map(|h| h.evidence));
    ctx.find(Finding {
        id: "P1".into(),
        title,
        evidence,
        confidence,
        remedy: remedy(),
    });
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;
    use crate::device::Device;
    use crate::diagnose::Report;

    const NOW: i64 = 1_735_689_600; // 2025-01-01T00:00:00Z

    fn clock() -> Clock {
        Clock {
            now: NOW,
            offset: 0,
        }
    }

    fn line(c: &Clock, t: i64, pid: u32, msg: &str) -> String {
        format!("{} mac jamf[{pid}]: {msg}\n", c.syslog_stamp(t))
    }

    fn run(dir: &std::path::Path) -> Report {
        let device = Device::sandbox(dir).unwrap();
        let mut ctx = Ctx {
            device: &device,
            clock: clock(),
            report: Report::default(),
        };
        check(&mut ctx);
        ctx.report
    }

    fn write_log(dir: &std::path::Path, name: &str, text: &[u8]) {
        let log = dir.join("var/log");
        std::fs::create_dir_all(&log).unwrap();
        std::fs::write(log.join(name), text).unwrap();
    }

    fn gz(text: &str) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(text.as_bytes()).unwrap();
        e.finish().unwrap()
    }

    const CHECKIN: &str =
        "Checking for policies triggered by \"recurring check-in\" for user \"alice\"...";
    const OFFLINE: &str = "Could not connect to the JSS. Looking for cached policies...";

    fn entry<'a>(c: &Clock, text: &'a str) -> Line<'a> {
        match parse_line(c, text) {
            Parsed::Entry(l) => l,
            other => panic!("{text:?}: {other:?}"),
        }
    }

    #[test]
    fn parses_lines_and_ignores_others() {
        let c = clock();
        let l = entry(
            &c,
            "Tue Dec 31 23:50:00 test-mbp jamf[1480]: Executing Policy X",
        );
        assert_eq!(l.time, NOW - 600);
        assert_eq!(l.process, "jamf[1480]");
        assert_eq!(l.message, "Executing Policy X");
        entry(&c, "Dec  1 08:00:01 mac jamf[2]: no weekday");
        assert_eq!(parse_line(&c, "Script result: hello"), Parsed::NotAnEntry);
        assert_eq!(parse_line(&c, ""), Parsed::NotAnEntry);
        assert_eq!(parse_line(&c, "Monday was fine"), Parsed::NotAnEntry);
        assert_eq!(
            parse_line(&c, "Tue Dec 31 99:50:00 mac jamf[1]: bad"),
            Parsed::Unparsed
        );
        assert_eq!(
            parse_line(&c, "Tue Dec 31 23:50:00 mac jamf: no pid"),
            Parsed::Unparsed
        );
        assert_eq!(
            parse_line(&c, "Tue Dec 31 23:50:00 Alice's MacBook Pro"),
            Parsed::Unparsed
        );
    }

    /// Real lines, as posted in public issues (only the dates matter to the parser):
    /// - macadmins/SplashBuddy#33 (https://github.com/macadmins/SplashBuddy/issues/33): one Mac
    ///   writing its name with a curly apostrophe and, in the same log, a straight one;
    /// - jamf/2016_JNUC_Security_Reporting_Compliance#8
    ///   (https://github.com/jamf/2016_JNUC_Security_Reporting_Compliance/issues/8);
    /// - macadmins/SplashBuddy#77 (https://github.com/macadmins/SplashBuddy/issues/77).
    const REAL: &[(&str, &str, &str)] = &[
        (
            "Sat Jun 03 12:02:11 VM-01-Test\u{2019}s Mac jamf[7578]: Checking for policies triggered by \"recurring check-in\" for user \"vm-01-test\"...",
            "jamf[7578]",
            "Checking for policies triggered by \"recurring check-in\" for user \"vm-01-test\"...",
        ),
        (
            "Sat Jun 03 12:03:59 VM-01-Test's Mac jamf[812]: Verifying package integrity...",
            "jamf[812]",
            "Verifying package integrity...",
        ),
        (
            "Tue Jul 04 11:04:03 m3ir\u{2019}s MacBook Pro jamf[14319]: Checking for policies triggered by \"recurring check-in\" for user \"m3ir\"...",
            "jamf[14319]",
            "Checking for policies triggered by \"recurring check-in\" for user \"m3ir\"...",
        ),
        (
            "Tue Jul 04 11:04:05 m3ir\u{2019}s MacBook Pro jamf[14319]: Executing Policy 3_Security_Remediation.sh",
            "jamf[14319]",
            "Executing Policy 3_Security_Remediation.sh",
        ),
        (
            "Wed Apr 11 07:08:52 MacBook Air (2) jamf[583]: Removing existing launchd task /Library/LaunchDaemons/com.jamfsoftware.task.bgrecon.plist...",
            "jamf[583]",
            "Removing existing launchd task /Library/LaunchDaemons/com.jamfsoftware.task.bgrecon.plist...",
        ),
    ];

    #[test]
    fn real_lines_with_spaces_apostrophes_and_parentheses_parse() {
        let c = clock();
        for (text, process, message) in REAL {
            let folded = norm::fold(text);
            let l = entry(&c, &folded);
            assert_eq!((l.process, l.message), (*process, *message), "{text}");
        }
        // Non-ASCII letters, brackets in the name or the message, a message with `x[1]:` in it.
        let l = entry(
            &c,
            "Mon Dec 30 10:15:32 Zoë’s Mac jamf[1234]: Checking for patches...",
        );
        assert_eq!(l.process, "jamf[1234]");
        let l = entry(
            &c,
            "Mon Dec 30 10:15:32 Lab [B] Mac jamf[9]: Running script a[1]: done",
        );
        assert_eq!(
            (l.process, l.message),
            ("jamf[9]", "Running script a[1]: done")
        );
    }

    #[test]
    fn typographic_quotes_in_a_check_in_still_classify() {
        let folded = norm::fold(
            "Checking for policies triggered by \u{201C}recurring check-in\u{201D} for user \u{201C}alice\u{201D}\u{2026}",
        );
        assert_eq!(classify(&folded), Kind::CheckIn);
        let folded =
            norm::fold("Could not connect to the JSS.\u{00A0}Looking for cached policies\u{2026}");
        assert_eq!(classify(&folded), Kind::Failure);
        let folded = norm::fold("The JSS is available\u{FF0E}");
        assert_eq!(classify(&folded), Kind::Success);
    }

    #[test]
    fn names_with_spaces_quotes_parentheses_and_non_ascii_show_p1() {
        for name in [
            "Alice's MacBook Pro",
            "m3ir\u{2019}s MacBook Pro",
            "MacBook Air (2)",
            "Zoë\u{2019}s Mac",
        ] {
            let dir = tempfile::tempdir().unwrap();
            let c = clock();
            let stamp = |t| c.syslog_stamp(t);
            let text = [
                format!("{} {name} jamf[10]: {CHECKIN}\n", stamp(NOW - 3 * DAY)),
                format!(
                    "{} {name} jamf[10]: Executing Policy Inventory\n",
                    stamp(NOW - 3 * DAY + 2)
                ),
                format!("{} {name} jamf[11]: {CHECKIN}\n", stamp(NOW - 3600)),
                format!("{} {name} jamf[11]: {OFFLINE}\n", stamp(NOW - 3599)),
            ]
            .concat();
            write_log(dir.path(), "jamf.log", text.as_bytes());
            let r = run(dir.path());
            assert_eq!(r.findings.len(), 1, "{name}: {r:?}");
            assert!(r.findings[0].title.contains("3 days"), "{name}: {r:?}");
            assert_eq!(r.findings[0].evidence[0].line, Some(1), "{name}");
            assert!(r.unparsed_lines.is_empty(), "{name}: {r:?}");
        }
    }

    #[test]
    fn stamped_lines_that_cannot_be_parsed_are_counted_not_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let c = clock();
        let text = [
            line(&c, NOW - 3600, 11, CHECKIN),
            "Script result: not an entry, not counted\n".to_string(),
            format!(
                "{} Alice's MacBook Pro jamf: no pid\n",
                c.syslog_stamp(NOW - 60)
            ),
            "Tue Dec 31 99:50:00 mac jamf[1]: impossible time\n".to_string(),
        ]
        .concat();
        write_log(dir.path(), "jamf.log", text.as_bytes());
        let r = run(dir.path());
        assert!(r.findings.is_empty(), "{r:?}");
        assert_eq!(r.unparsed_lines.len(), 1, "{r:?}");
        let u = &r.unparsed_lines[0];
        assert_eq!(
            (u.source.as_str(), u.count, u.first_line),
            ("/var/log/jamf.log", 2, 3)
        );
        assert!(u.example.contains("no pid"), "{u:?}");
    }

    #[test]
    fn recent_check_in_is_no_finding() {
        let dir = tempfile::tempdir().unwrap();
        let c = clock();
        let text = [
            line(&c, NOW - 3 * DAY, 10, OFFLINE),
            line(&c, NOW - 3600, 11, CHECKIN),
            line(&c, NOW - 3590, 11, "Checking for patches..."),
            "some script output without a stamp\n".to_string(),
        ]
        .concat();
        write_log(dir.path(), "jamf.log", text.as_bytes());
        let r = run(dir.path());
        assert!(r.findings.is_empty(), "{r:?}");
        assert!(r.could_not_read.is_empty());
    }

    #[test]
    fn a_rejected_check_in_is_not_a_success_and_the_gz_rotation_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let c = clock();
        let live: String = (0..48)
            .flat_map(|h| {
                let t = NOW - 47 * 3600 + h * 3600;
                [
                    line(&c, t, 100 + h as u32, CHECKIN),
                    line(&c, t + 1, 100 + h as u32, OFFLINE),
                ]
            })
            .collect();
        let mut live = live.into_bytes();
        live.extend_from_slice(b"Tue Dec 31 10:00:00 mac jamf[9]: caf\xe9 \xff unknown\n");
        write_log(dir.path(), "jamf.log", &live);
        let older = [
            line(&c, NOW - 4 * DAY, 5, CHECKIN),
            line(&c, NOW - 3 * DAY, 6, CHECKIN),
            line(&c, NOW - 3 * DAY + 5, 6, "Executing Policy Inventory"),
        ]
        .concat();
        write_log(dir.path(), "jamf.log.0.gz", &gz(&older));
        // Older than what jamf.log.0.gz holds: never read, so its garbage does not matter.
        write_log(dir.path(), "jamf.log.1.gz", b"not gzip at all");
        let r = run(dir.path());
        assert_eq!(r.findings.len(), 1, "{r:?}");
        let f = &r.findings[0];
        assert_eq!(f.id, "P1");
        assert_eq!(f.confidence, Confidence::High);
        assert!(f.title.contains("3 days"), "{}", f.title);
        assert!(f.title.contains("48 failed attempts"), "{}", f.title);
        assert_eq!(f.evidence[0].source, "/var/log/jamf.log.0.gz");
        assert_eq!(f.evidence[0].line, Some(2));
        assert_eq!(f.evidence.len(), 1 + MAX_FAILURES_SHOWN);
        assert!(f.evidence[3].text.contains("Could not connect"));
        assert!(r.could_not_read.is_empty(), "{r:?}");
    }

    #[test]
    fn a_log_that_never_succeeds() {
        let dir = tempfile::tempdir().unwrap();
        let c = clock();
        write_log(
            dir.path(),
            "jamf.log",
            [
                line(&c, NOW - 2 * DAY, 1, OFFLINE),
                line(&c, NOW - 60, 2, OFFLINE),
            ]
            .concat()
            .as_bytes(),
        );
        let r = run(dir.path());
        assert_eq!(r.findings[0].confidence, Confidence::High);
        assert!(r.findings[0].title.contains("goes back 2 days"));

        write_log(
            dir.path(),
            "jamf.log",
            line(&c, NOW - 60, 2, OFFLINE).as_bytes(),
        );
        let r = run(dir.path());
        assert_eq!(r.findings[0].confidence, Confidence::Low);
    }

    #[test]
    fn missing_log_and_unreadable_rotation_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("var/log")).unwrap();
        let r = run(dir.path());
        assert_eq!(r.could_not_read[0].source, "/var/log/jamf.log");
        assert!(r.findings.is_empty());

        let c = clock();
        write_log(
            dir.path(),
            "jamf.log",
            line(&c, NOW - 3 * DAY, 1, OFFLINE).as_bytes(),
        );
        write_log(dir.path(), "jamf.log.0.gz", &[0x1f, 0x8b, 1, 2, 3]);
        let r = run(dir.path());
        assert_eq!(r.could_not_read[0].source, "/var/log/jamf.log.0.gz");
        assert_eq!(r.findings[0].id, "P1");
    }

    #[test]
    fn a_large_log_streams() {
        let dir = tempfile::tempdir().unwrap();
        let c = clock();
        std::fs::create_dir_all(dir.path().join("var/log")).unwrap();
        let mut f = std::io::BufWriter::new(
            std::fs::File::create(dir.path().join("var/log/jamf.log")).unwrap(),
        );
        let start = NOW - 5 * DAY;
        for i in 0..200_000i64 {
            let t = start + i; // one line a second, spanning about 2.3 days
            let msg = if i == 150_000 {
                CHECKIN
            } else {
                "Checking for patches..."
            };
            f.write_all(line(&c, t, (i % 7) as u32, msg).as_bytes())
                .unwrap();
        }
        drop(f);
        let r = run(dir.path());
        let f = &r.findings[0];
        assert_eq!(f.evidence[0].line, Some(150_001));
        assert!(f.title.contains("3 days"), "{}", f.title);
    }
}
