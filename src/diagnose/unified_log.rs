//! The unified log: JamfAAD / Jamf Conditional Access and Company Portal write there too, and
//! some of the documented messages (the registration-only refusal of Cause 5, keychain errors,
//! the prompts of P2 / Cause 7) may appear only there. Read with
//! `/usr/bin/log show --style ndjson --last WINDOW --predicate …` through the device, so `--root`
//! runs the sandbox's fake; bounded by `--log-window` (24 hours by default: `log show` over days
//! is slow). A missing `log` program, a failing or timed-out query is "could not see", never "no
//! evidence". Subsystem and process names are in docs/diagnose.md (some marked [verify]).
//!
//! `log show --style ndjson` prints one JSON object a line (`timestamp`
//! `2026-11-20 10:15:32.123456+0100`, `messageType`, `eventMessage`, `subsystem`, `category`,
//! `processImagePath`, `processID`, …) and ends with `{"count":N,"finished":1}`. A line that is
//! not such an object is counted as unparsed.

use std::time::Duration;

use serde::Deserialize;

use super::clock::parse_unified_stamp;
use super::portal_log::ALL;
use super::{norm, Ctx, Evidence, Finding};
use crate::device::RunOpts;

pub const LOG_PROGRAM: &str = "/usr/bin/log";
/// How the evidence and the unparsed lines name this source.
pub const SOURCE: &str = "unified log";

/// JamfAAD's subsystem (its preference domain) [verify], Company Portal's (its bundle id, and the
/// `com.microsoft.ssp` prefix its log file's lines carry) [verify], and the processes by name:
/// `JamfAAD` [obs], `Jamf Conditional Access` (the binary's name), `Company Portal`.
pub const PREDICATE: &str = "subsystem == \"com.jamf.management.jamfAAD\" \
    OR subsystem BEGINSWITH \"com.microsoft.CompanyPortal\" \
    OR subsystem BEGINSWITH \"com.microsoft.ssp\" \
    OR process == \"JamfAAD\" OR process == \"Jamf Conditional Access\" \
    OR process == \"Company Portal\"";

/// `log show` over a day usually takes seconds to a minute; give up well after that.
const TIMEOUT: Duration = Duration::from_secs(300);

/// Matching entries kept as evidence per finding (the most recent).
const MAX_SHOWN: usize = 3;

/// The fields of one ndjson entry that diagnose reads.
#[derive(Debug, Deserialize)]
struct Entry {
    timestamp: Option<String>,
    #[serde(rename = "eventMessage")]
    event_message: Option<String>,
    subsystem: Option<String>,
    #[serde(rename = "processImagePath")]
    process_image_path: Option<String>,
    /// Only in the trailer, `{"count":N,"finished":1}`.
    finished: Option<serde_json::Value>,
}

/// `--last` as `log` takes it: whole days, hours or minutes (`24h`, `2d`, `90m`).
pub fn last_arg(window: Duration) -> String {
    let m = window.as_secs().div_ceil(60).max(1);
    if m.is_multiple_of(24 * 60) {
        format!("{}d", m / (24 * 60))
    } else if m.is_multiple_of(60) {
        format!("{}h", m / 60)
    } else {
        format!("{m}m")
    }
}

#[derive(Default)]
struct Hits {
    count: usize,
    latest: Option<i64>,
    shown: Vec<Evidence>,
}

pub(super) fn check(ctx: &mut Ctx, window: Duration) {
    let last = last_arg(window);
    let query = format!("log show --style ndjson --last {last}");
    match ctx.device.program_exists(LOG_PROGRAM) {
        Ok(true) => {}
        Ok(false) => {
            return ctx.could_not_read(
                SOURCE,
                format!(
                    "{LOG_PROGRAM} is not on the device: the unified log was not searched (what \
                     JamfAAD and Company Portal logged there is unknown, not absent)"
                ),
            )
        }
        Err(e) => return ctx.could_not_read(SOURCE, format!("{e:#}")),
    }
    let args: Vec<String> = [
        "show",
        "--style",
        "ndjson",
        "--last",
        &last,
        "--predicate",
        PREDICATE,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let opts = RunOpts {
        timeout: Some(TIMEOUT),
        ..Default::default()
    };
    let out = match ctx.device.run(LOG_PROGRAM, &args, &opts) {
        Ok(o) => o,
        Err(e) => return ctx.could_not_read(SOURCE, format!("`{query}`: {e:#}")),
    };
    if !out.success() {
        let said = out.stderr.trim();
        return ctx.could_not_read(
            SOURCE,
            format!(
                "`{query}` exited {}{}: the unified log was not searched (what JamfAAD and \
                 Company Portal logged there is unknown, not absent)",
                out.status_text(),
                if said.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", super::clip(said))
                }
            ),
        );
    }
    let mut hits: Vec<Hits> = ALL.iter().map(|_| Hits::default()).collect();
    let (mut unparsed, mut first_unparsed) = (0u64, None);
    for (i, raw) in out.stdout.lines().enumerate() {
        let n = i as u64 + 1;
        let text = raw.trim();
        if text.is_empty() {
            continue;
        }
        let entry = match serde_json::from_str::<Entry>(text) {
            Ok(e) if e.finished.is_some() && e.event_message.is_none() => continue,
            Ok(e) if e.event_message.is_some() && e.timestamp.is_some() => e,
            _ => {
                unparsed += 1;
                first_unparsed.get_or_insert((n, text.to_string()));
                continue;
            }
        };
        let message = entry.event_message.as_deref().unwrap_or_default();
        let folded = norm::fold(message);
        for (sign, h) in ALL.iter().zip(hits.iter_mut()) {
            if !sign.matches(&folded) {
                continue;
            }
            let stamp = entry.timestamp.as_deref().unwrap_or_default();
            let time = parse_unified_stamp(stamp);
            h.count += 1;
            h.latest = h.latest.max(time);
            h.shown.push(Evidence {
                source: SOURCE.to_string(),
                line: None,
                time: time.map(|t| ctx.clock.rfc3339(t)),
                text: super::clip(&format!(
                    "{} {}: {message}",
                    stamp.get(..19).unwrap_or(stamp),
                    origin(&entry)
                )),
            });
            if h.shown.len() > MAX_SHOWN {
                h.shown.remove(0);
            }
        }
    }
    if let Some((first, example)) = first_unparsed {
        ctx.unparsed(SOURCE, unparsed, first, &example);
    }
    for (sign, h) in ALL.iter().zip(hits) {
        if h.count == 0 {
            continue;
        }
        let (id, title, remedy) = sign.finding(SOURCE, h.count);
        let confidence = ctx.recency_confidence(h.latest).max(sign.max_confidence());
        ctx.find(Finding {
            id: id.into(),
            title,
            evidence: h.shown,
            confidence,
            remedy,
        });
    }
}

/// The subsystem, else the process's name.
fn origin(e: &Entry) -> &str {
    match e.subsystem.as_deref().filter(|s| !s.is_empty()) {
        Some(s) => s,
        None => e
            .process_image_path
            .as_deref()
            .and_then(|p| p.rsplit('/').next())
            .unwrap_or("?"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_written_as_log_takes_them() {
        assert_eq!(last_arg(Duration::from_secs(24 * 3600)), "1d");
        assert_eq!(last_arg(Duration::from_secs(3 * 3600)), "3h");
        assert_eq!(last_arg(Duration::from_secs(90 * 60)), "90m");
        assert_eq!(last_arg(Duration::from_secs(30)), "1m");
    }

    #[test]
    fn entries_read_the_documented_fields_and_the_trailer_is_no_entry() {
        let e: Entry = serde_json::from_str(
            r#"{"timestamp":"2026-11-20 10:15:32.123456+0100","messageType":"Default","eventMessage":"Launching Company Portal","subsystem":"","category":"","processImagePath":"/Library/Application Support/JAMF/Jamf.app/Contents/MacOS/JamfAAD.app/Contents/MacOS/JamfAAD","processID":812}"#,
        )
        .unwrap();
        assert_eq!(origin(&e), "JamfAAD");
        assert!(e.finished.is_none());
        let t: Entry = serde_json::from_str(r#"{"count":0,"finished":1}"#).unwrap();
        assert!(t.finished.is_some() && t.event_message.is_none());
    }
}
