//! `reenroll diagnose`: read the device (read-only) and say which documented problem (P1–P7) and
//! cause (C1–C7) of shared/reference/troubleshooting.md this Mac shows, with evidence, and which
//! playbook or server-side change resolves it.
//!
//! Each source of evidence has its own file; each adds findings and says what it could not read
//! instead of guessing:
//! - `jamf_log`: last successful Jamf Pro check-in in `/var/log/jamf.log` and its rotations (P1);
//! - `aad`: each user's jamfAAD token time (P1);
//! - `portal_log`: Company Portal logs (C4, C5, C6 keychain errors, P2/C7 prompts);
//! - `registration`: Workplace Join items in each login keychain and Platform SSO (C6/P4/P5);
//! - `enrollment`: MDM/ADE state, Company Portal and Self Service installed (P3);
//! - `server_log`: a Jamf Pro server log given with `--server-log` (C3, P7);
//! - `unified_log`: JamfAAD's and Company Portal's entries in the unified log, over
//!   `--log-window` (C4, C5, C6 keychain errors, P2/C7 prompts);
//! - `not_visible`: what only the servers show (C1, C2, P6, and C3/P7 without a server log).
//!
//! `symptoms` plants each documented problem into a sandbox device for the demo and the tests.

mod aad;
mod clock;
mod enrollment;
mod jamf_log;
mod lines;
mod norm;
mod not_visible;
mod portal_log;
mod registration;
mod report;
mod server_log;
mod symptoms;
mod unified_log;

#[cfg(test)]
mod testdev;

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use anyhow::Result;

pub use report::{
    Confidence, CouldNotRead, Evidence, Finding, NotVisible, Remedy, Report, UnparsedLines,
    EXIT_FOUND,
};
pub use symptoms::{plant_symptom, plant_symptom_at, SERVER_LOG, SYMPTOMS, UNIFIED_LOG};

use crate::device::{Device, LocalUser};
use clock::Clock;

/// Log evidence older than this no longer describes the Mac's current state with certainty.
const STALE_EVIDENCE_DAYS: i64 = 30;

/// Text of a log line shown as evidence is cut to this many characters.
const MAX_EVIDENCE_TEXT: usize = 300;

#[derive(Clone, Debug)]
pub struct DiagnoseOptions {
    /// A Jamf Pro server log (`JAMFSoftwareServer.log`), a host path read as given.
    pub server_log: Option<PathBuf>,
    /// Ages (check-in, token) are measured from here.
    pub now: SystemTime,
    /// How far back the unified log is searched (`log show --last`).
    pub log_window: Duration,
}

/// The default `--log-window`: a day (`log show` over days is slow).
pub const DEFAULT_LOG_WINDOW: Duration = Duration::from_secs(24 * 3600);
/// The longest `--log-window` accepted.
pub const MAX_LOG_WINDOW: Duration = Duration::from_secs(30 * 24 * 3600);

/// Read every source of evidence and report. Unreadable sources are listed in the report's
/// `could_not_read`, never an error.
pub fn diagnose(device: &Device, opts: &DiagnoseOptions) -> Result<Report> {
    // Read-only: each program's answer is asked once (`Device::read_only_memo`).
    let look = device.read_only_memo();
    let device = &look;
    let mut ctx = Ctx {
        device,
        clock: Clock::local(opts.now),
        report: Report::default(),
    };
    let users = match device.users() {
        Ok(users) => users,
        Err(e) => {
            ctx.could_not_read(
                crate::device::users::USER_RECORDS,
                format!(
                    "{e:#}; per-user evidence (jamfAAD, Company Portal, keychains) was not read"
                ),
            );
            Vec::new()
        }
    };
    jamf_log::check(&mut ctx);
    for user in &users {
        aad::check(&mut ctx, user);
        portal_log::check(&mut ctx, user);
    }
    unified_log::check(&mut ctx, opts.log_window);
    registration::check(&mut ctx, &users);
    enrollment::check(&mut ctx);
    let server_log_read = match &opts.server_log {
        Some(path) => server_log::check(&mut ctx, path),
        None => false,
    };
    not_visible::add(&mut ctx, server_log_read);
    let mut report = ctx.report;
    report.sort();
    Ok(report)
}

/// What every evidence reader gets: the device, the clock, the report being built.
pub(crate) struct Ctx<'a> {
    pub device: &'a Device,
    pub clock: Clock,
    pub report: Report,
}

impl Ctx<'_> {
    fn find(&mut self, finding: Finding) {
        self.report.findings.push(finding);
    }

    /// `count` lines of `source` looked like entries but could not be parsed.
    fn unparsed(&mut self, source: &str, count: u64, first_line: u64, example: &str) {
        if count > 0 {
            self.report.unparsed_lines.push(UnparsedLines {
                source: source.to_string(),
                count,
                first_line,
                example: clip(example),
            });
        }
    }

    fn could_not_read(&mut self, source: impl Into<String>, reason: impl Into<String>) {
        self.report.could_not_read.push(CouldNotRead {
            source: source.into(),
            reason: reason.into(),
        });
    }

    /// Evidence from a log line, its time shown in local time.
    fn log_evidence(&self, source: &str, line: u64, time: Option<i64>, text: &str) -> Evidence {
        Evidence {
            source: source.to_string(),
            line: Some(line),
            time: time.map(|t| self.clock.rfc3339(t)),
            text: clip(text),
        }
    }

    /// High when the evidence is recent, low when it is older than `STALE_EVIDENCE_DAYS` (the
    /// Mac may have been fixed since), medium when the line carries no time.
    fn recency_confidence(&self, time: Option<i64>) -> Confidence {
        match time {
            Some(t) if self.clock.now - t > STALE_EVIDENCE_DAYS * clock::DAY => Confidence::Low,
            Some(_) => Confidence::High,
            None => Confidence::Medium,
        }
    }
}

/// `home` + `rel` as a Mac path.
fn in_home(user: &LocalUser, rel: &str) -> String {
    format!("{}/{rel}", user.home.trim_end_matches('/'))
}

fn clip(text: &str) -> String {
    let text = text.trim();
    match text.char_indices().nth(MAX_EVIDENCE_TEXT) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::time::UNIX_EPOCH;

    use super::*;

    // 2025-01-01T00:30:00Z: planted logs straddle New Year.
    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_735_691_400)
    }

    fn planted(name: &str) -> (testdev::TestDevice, Report, Report) {
        let t = testdev::minimal();
        plant_symptom_at(t.dir.path(), name, now()).unwrap();
        let plain = diagnose(
            &t.device,
            &DiagnoseOptions {
                server_log: None,
                now: now(),
                log_window: DEFAULT_LOG_WINDOW,
            },
        )
        .unwrap();
        let with_server = diagnose(
            &t.device,
            &DiagnoseOptions {
                server_log: Some(t.device.host_path(SERVER_LOG).unwrap()),
                now: now(),
                log_window: DEFAULT_LOG_WINDOW,
            },
        )
        .unwrap();
        (t, plain, with_server)
    }

    fn ids(r: &Report) -> Vec<(&str, Confidence)> {
        r.findings
            .iter()
            .map(|f| (f.id.as_str(), f.confidence))
            .collect()
    }

    /// (symptom, findings expected with --server-log). Without it, C3/P7 are not visible.
    const EXPECTED: &[(&str, &[(&str, Confidence)])] = &[
        ("healthy", &[]),
        ("p1-checkin", &[("P1", Confidence::High)]),
        ("p1-aad-token", &[("P1", Confidence::High)]),
        ("p2-keychain-prompt", &[("P2", Confidence::High)]),
        ("mdm-not-enrolled", &[("P3", Confidence::High)]),
        ("company-portal-missing", &[("P3", Confidence::Medium)]),
        ("self-service-missing", &[("P3", Confidence::Medium)]),
        ("wpj-key-without-cert", &[("P4", Confidence::Medium)]),
        ("p7-graph-token", &[("P7", Confidence::High)]),
        ("c3-licence", &[("C3", Confidence::High)]),
        ("c4-direct-enrollment", &[("C4", Confidence::High)]),
        ("c5-integration-off", &[("C5", Confidence::High)]),
        ("c6-duplicate-registration", &[("C6", Confidence::High)]),
        ("c6-keychain-owner-error", &[("C6", Confidence::Medium)]),
        ("c7-jamfaad-keychain", &[("C7", Confidence::High)]),
        ("psso-registered", &[]),
        ("c5-unified-log", &[("C5", Confidence::High)]),
    ];

    #[test]
    fn every_symptom_yields_exactly_its_finding() {
        assert_eq!(
            SYMPTOMS.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
            EXPECTED.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
            "every symptom has an expectation"
        );
        let mut covered = BTreeSet::new();
        for (name, expected) in EXPECTED {
            let (_t, plain, with_server) = planted(name);
            assert_eq!(ids(&with_server), *expected, "{name}: {with_server:#?}");
            let server_side = ["C3", "P7"];
            let plain_expected: Vec<_> = expected
                .iter()
                .copied()
                .filter(|(id, _)| !server_side.contains(id))
                .collect();
            assert_eq!(ids(&plain), plain_expected, "{name} without --server-log");
            let hidden: Vec<_> = plain
                .not_visible_from_device
                .iter()
                .map(|n| n.id.as_str())
                .collect();
            assert_eq!(hidden, ["C1", "C2", "P6", "C3", "P7"]);
            let hidden: Vec<_> = with_server
                .not_visible_from_device
                .iter()
                .map(|n| n.id.as_str())
                .collect();
            assert_eq!(hidden, ["C1", "C2", "P6"]);
            if *name != "psso-registered" {
                assert!(
                    with_server.could_not_read.is_empty(),
                    "{name}: {:#?}",
                    with_server.could_not_read
                );
            }
            assert_eq!(
                with_server.exit_code(),
                if expected.is_empty() { 0 } else { 5 }
            );
            for f in &with_server.findings {
                assert!(!f.evidence.is_empty(), "{name}: {} has evidence", f.id);
                assert!(!f.title.contains('\n'));
                let r = &f.remedy;
                assert!(
                    r.playbook.is_some() || r.server.is_some() || r.manual.is_some(),
                    "{name}: {} has a remedy",
                    f.id
                );
                covered.insert(f.id.clone());
                for also in ["P4", "P5"] {
                    if f.title.contains(also) {
                        covered.insert(also.to_string());
                    }
                }
            }
            covered.extend(
                with_server
                    .not_visible_from_device
                    .iter()
                    .map(|n| n.id.clone()),
            );
            for line in with_server.render(80).lines() {
                assert!(line.chars().count() <= 80, "{name}: too wide: {line:?}");
            }
        }
        let article: BTreeSet<String> = (1..=7)
            .flat_map(|n| [format!("P{n}"), format!("C{n}")])
            .collect();
        let missing: Vec<_> = article.difference(&covered).collect();
        assert!(missing.is_empty(), "article ids never shown: {missing:?}");
    }

    #[test]
    fn evidence_points_at_the_planted_lines() {
        let (_t, r, _) = planted("p1-checkin");
        let f = &r.findings[0];
        assert_eq!(f.evidence[0].source, "/var/log/jamf.log.0.gz");
        assert!(f.evidence[0]
            .time
            .as_deref()
            .unwrap()
            .starts_with("2024-12-28"));
        assert!(f.title.contains("3 days"), "{}", f.title);

        let (_t, r, _) = planted("c6-duplicate-registration");
        let f = &r.findings[0];
        assert!(
            f.title.contains("2 MS-Organization-Access certificates"),
            "{}",
            f.title
        );
        assert!(f.title.contains("alice's login keychain"));
        assert_eq!(f.remedy.playbook.as_deref(), Some("cause6"));
        assert_eq!(f.evidence.len(), 6, "two certs, two key pairs");

        let (_t, r, _) = planted("c4-direct-enrollment");
        let f = &r.findings[0];
        assert_eq!(
            f.evidence[0].source,
            "/Users/alice/Library/Logs/Company Portal/Company Portal.log"
        );
        assert_eq!(f.evidence[0].line, Some(4));
        assert_eq!(f.remedy.playbook.as_deref(), Some("reregister"));

        let (t, r, _) = planted("psso-registered");
        assert!(r.could_not_read[0].source.contains("Secure Enclave"));
        // The registration's device id, which getPSSOStatus gives the console user only.
        let id =
            std::fs::read_to_string(t.dir.path().join("var/db/sandbox/psso-device-id")).unwrap();
        let reason = &r.could_not_read[0].reason;
        assert!(reason.contains(id.trim()), "{reason}");
        assert!(reason.contains("getPSSOStatus (as alice)"), "{reason}");
    }

    #[test]
    fn a_symptom_planted_after_another_replaces_it() {
        let t = testdev::minimal();
        plant_symptom_at(t.dir.path(), "c6-duplicate-registration", now()).unwrap();
        plant_symptom_at(t.dir.path(), "mdm-not-enrolled", now()).unwrap();
        plant_symptom_at(t.dir.path(), "healthy", now()).unwrap();
        let r = diagnose(
            &t.device,
            &DiagnoseOptions {
                server_log: None,
                now: now(),
                log_window: DEFAULT_LOG_WINDOW,
            },
        )
        .unwrap();
        assert!(r.findings.is_empty(), "{r:#?}");
        assert!(plant_symptom_at(t.dir.path(), "no-such-thing", now()).is_err());
        let not_a_sandbox = tempfile::tempdir().unwrap();
        let err = plant_symptom_at(not_a_sandbox.path(), "healthy", now()).unwrap_err();
        assert!(
            format!("{err:#}").contains("not a sandbox device"),
            "{err:#}"
        );
    }

    fn plain(t: &testdev::TestDevice) -> Report {
        diagnose(
            &t.device,
            &DiagnoseOptions {
                server_log: None,
                now: now(),
                log_window: DEFAULT_LOG_WINDOW,
            },
        )
        .unwrap()
    }

    #[test]
    fn unified_log_entries_are_evidence_and_a_log_that_cannot_be_seen_is_not_no_evidence() {
        let t = testdev::minimal();
        plant_symptom_at(t.dir.path(), "c5-unified-log", now()).unwrap();
        let r = plain(&t);
        assert_eq!(ids(&r), [("C5", Confidence::High)], "{r:#?}");
        let e = &r.findings[0].evidence[0];
        assert_eq!(e.source, "unified log");
        assert!(
            clock::parse_iso_prefix(&e.text).is_some()
                && e.text
                    .contains(" com.microsoft.CompanyPortalMac: Invalid command line input"),
            "{e:?}"
        );
        assert!(e.time.is_some());
        assert!(r.could_not_read.is_empty(), "{:#?}", r.could_not_read);

        // A query that fails: could not see, and no finding made up either way.
        let log = t.dir.path().join("usr/bin/log");
        std::fs::write(
            &log,
            "#!/bin/sh\necho 'log: Could not open local log store' >&2\nexit 1\n",
        )
        .unwrap();
        let r = plain(&t);
        assert!(r.findings.is_empty(), "{r:#?}");
        assert_eq!(r.could_not_read.len(), 1, "{:#?}", r.could_not_read);
        assert_eq!(r.could_not_read[0].source, "unified log");
        assert!(r.could_not_read[0]
            .reason
            .contains("Could not open local log store"));
        assert!(r.could_not_read[0].reason.contains("unknown, not absent"));

        // Lines that are not ndjson entries are counted.
        std::fs::write(
            &log,
            "#!/bin/sh\necho 'not json'\necho '{\"timestamp\":\"x\"}'\necho '{\"count\":0,\"finished\":1}'\n",
        )
        .unwrap();
        let r = plain(&t);
        assert!(r.could_not_read.is_empty(), "{:#?}", r.could_not_read);
        assert_eq!(r.unparsed_lines.len(), 1, "{r:#?}");
        assert_eq!(
            (r.unparsed_lines[0].count, r.unparsed_lines[0].first_line),
            (2, 1)
        );

        // No `log` program at all.
        std::fs::remove_file(&log).unwrap();
        let r = plain(&t);
        assert_eq!(r.could_not_read[0].source, "unified log");
        assert!(r.could_not_read[0].reason.contains("not on the device"));
    }

    #[test]
    fn unreadable_sources_are_named_not_guessed() {
        let t = testdev::minimal();
        plant_symptom_at(t.dir.path(), "healthy", now()).unwrap();
        let marker = t
            .dir
            .path()
            .join("Users/alice")
            .join(crate::keychain::sandbox::LOCKED_MARKER);
        std::fs::write(marker, "").unwrap();
        std::fs::remove_file(t.dir.path().join("usr/bin/profiles")).unwrap();
        let missing = t.dir.path().join("missing-server.log");
        let r = diagnose(
            &t.device,
            &DiagnoseOptions {
                server_log: Some(missing),
                now: now(),
                log_window: DEFAULT_LOG_WINDOW,
            },
        )
        .unwrap();
        assert!(r.findings.is_empty(), "{r:#?}");
        let sources: Vec<_> = r.could_not_read.iter().map(|c| c.source.as_str()).collect();
        assert!(sources.contains(&"alice's login keychain"), "{sources:?}");
        assert!(
            sources.contains(&"profiles status -type enrollment"),
            "{sources:?}"
        );
        assert!(
            sources.iter().any(|s| s.ends_with("missing-server.log")),
            "{sources:?}"
        );
        assert!(r.not_visible_from_device.iter().any(|n| n.id == "C3"));
        let json = serde_json::to_value(&r).unwrap();
        assert!(json["could_not_read"][0]["reason"].is_string());
    }
}
