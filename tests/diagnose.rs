//! `reenroll diagnose` through the binary: one sandbox per documented problem, planted with
//! `sandbox --symptom`, and a healthy device that yields no finding.

mod support;

use serde_json::Value;
use support::{Device, Sandbox};

fn diagnose(dev: &Device) -> (Option<i32>, Value) {
    let server_log = dev.path(reenroll::diagnose::SERVER_LOG);
    let run = dev
        .reenroll(&[
            "diagnose",
            "--json",
            "--server-log",
            server_log.to_str().unwrap(),
        ])
        .run();
    (run.code, run.json())
}

#[test]
fn a_healthy_device_yields_no_finding() {
    let dev = Sandbox::new().symptom("healthy").build();
    let (code, report) = diagnose(&dev);
    assert_eq!(
        report["findings"].as_array().unwrap().len(),
        0,
        "{report:#}"
    );
    assert_eq!(code, Some(0));
    // the server-only problems are listed as not visible from the device
    let ids: Vec<&str> = report["not_visible_from_device"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    for id in ["C1", "C2", "P6"] {
        assert!(ids.contains(&id), "{ids:?}");
    }
}

#[test]
fn every_planted_symptom_is_found_with_evidence_and_a_remedy() {
    for (name, _) in reenroll::diagnose::SYMPTOMS
        .iter()
        .filter(|(n, _)| !matches!(*n, "healthy" | "psso-registered"))
    {
        let dev = Sandbox::new().symptom(name).build();
        let (code, report) = diagnose(&dev);
        let findings = report["findings"].as_array().unwrap();
        assert!(!findings.is_empty(), "{name}: no finding\n{report:#}");
        assert_eq!(code, Some(5), "{name}");
        for f in findings {
            assert!(
                f["id"].as_str().unwrap().starts_with(['P', 'C']),
                "{name}: {f}"
            );
            assert!(
                !f["evidence"].as_array().unwrap().is_empty(),
                "{name}: a finding without evidence: {f}"
            );
            let r = &f["remedy"];
            assert!(
                !(r["playbook"].is_null() && r["server"].is_null() && r["manual"].is_null()),
                "{name}: no remedy: {f}"
            );
        }
    }
}

#[test]
fn the_human_report_fits_80_columns() {
    let dev = Sandbox::new().symptom("c6-duplicate-registration").build();
    let run = dev.reenroll(&["diagnose"]).exit(5);
    run.stdout_contains("C6");
    for line in run.stdout.lines() {
        assert!(line.chars().count() <= 80, "too wide: {line}");
    }
}

#[test]
fn a_platform_sso_mac_says_what_it_cannot_see_instead_of_guessing() {
    let dev = Sandbox::new().symptom("psso-registered").build();
    let (_code, report) = diagnose(&dev);
    assert!(
        report["could_not_read"]
            .to_string()
            .contains("Secure Enclave"),
        "{report:#}"
    );
}

/// Computer names as real Macs carry them (spaces, straight and curly apostrophes, parentheses,
/// non-ASCII): jamf.log lines that name them are read like any other, so P1 is found.
const NAMES: &[&str] = &[
    "Alice's MacBook Pro",
    "m3ir\u{2019}s MacBook Pro",
    "MacBook Air (2)",
    "Zoë\u{2019}s Mac",
];

#[test]
fn p1_is_found_whatever_the_computer_name() {
    for name in NAMES {
        let dev = Sandbox::new()
            .computer_name(name)
            .symptom("p1-checkin")
            .build();
        let live = dev.read("/var/log/jamf.log");
        assert!(live.contains(&format!(" {name} jamf[")), "{name}: {live}");
        let (code, report) = diagnose(&dev);
        let p1: Vec<&Value> = report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["id"] == "P1")
            .collect();
        assert_eq!(p1.len(), 1, "{name}: {report:#}");
        assert_eq!(p1[0]["confidence"], "high", "{name}");
        assert!(
            p1[0]["title"].as_str().unwrap().contains("3 days"),
            "{name}: {}",
            p1[0]["title"]
        );
        assert_eq!(
            p1[0]["evidence"][0]["source"], "/var/log/jamf.log.0.gz",
            "{name}"
        );
        assert_eq!(code, Some(5), "{name}");
        assert_eq!(
            report["unparsed_lines"].as_array().unwrap().len(),
            0,
            "{name}: {report:#}"
        );
    }
}

#[test]
fn stamped_lines_that_cannot_be_parsed_are_counted_in_json_and_text() {
    let dev = Sandbox::new()
        .computer_name("Zoë\u{2019}s Mac")
        .symptom("healthy")
        .build();
    let mut log = dev.read("/var/log/jamf.log");
    log.push_str("Mon Nov 20 10:15:32 Zoë\u{2019}s Mac jamf: a line without its pid\n");
    log.push_str("Script result: output, not an entry\n");
    dev.write("/var/log/jamf.log", log.as_bytes());
    let (code, report) = diagnose(&dev);
    assert_eq!(code, Some(0), "{report:#}");
    let u = &report["unparsed_lines"][0];
    assert_eq!(u["source"], "/var/log/jamf.log", "{report:#}");
    assert_eq!(u["count"], 1);
    assert!(u["example"].as_str().unwrap().contains("without its pid"));
    let run = dev.reenroll(&["diagnose"]).exit(0);
    run.stdout_contains("Lines that could not be parsed")
        .stdout_contains("/var/log/jamf.log: 1 line, the first at line");
}

#[test]
fn getpssostatus_runs_as_the_console_user_and_names_the_device() {
    let dev = Sandbox::new().symptom("psso-registered").build();
    let (_code, report) = diagnose(&dev);
    let id = dev.read("/var/db/sandbox/psso-device-id");
    let secure_enclave = report["could_not_read"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["source"].as_str().unwrap().contains("Secure Enclave"))
        .unwrap_or_else(|| panic!("{report:#}"));
    let reason = secure_enclave["reason"].as_str().unwrap();
    assert!(reason.contains(id.trim()), "{reason}");
    assert!(reason.contains("getPSSOStatus (as alice)"), "{reason}");
    // Asked in alice's session, as alice (the fake sudo drops to her uid).
    let calls = dev.command_log();
    assert!(
        calls.iter().any(
            |c| c.starts_with("/bin/launchctl asuser 501 /usr/bin/sudo -u alice ")
                && c.ends_with("Jamf Conditional Access getPSSOStatus")
        ),
        "{calls:#?}"
    );
}

#[test]
fn the_unified_log_is_evidence_within_the_window() {
    let dev = Sandbox::new().symptom("c5-unified-log").build();
    let (code, report) = diagnose(&dev);
    assert_eq!(code, Some(5), "{report:#}");
    let f = &report["findings"][0];
    assert_eq!(f["id"], "C5", "{report:#}");
    let e = &f["evidence"][0];
    assert_eq!(e["source"], "unified log");
    assert!(
        e["text"]
            .as_str()
            .unwrap()
            .contains(" com.microsoft.CompanyPortalMac: Invalid command line input"),
        "{e}"
    );
    let calls = dev.command_log();
    let query = calls
        .iter()
        .find(|c| c.starts_with("/usr/bin/log show --style ndjson --last 1d --predicate "))
        .unwrap_or_else(|| panic!("{calls:#?}"));
    assert!(query.contains("com.jamf.management.jamfAAD"), "{query}");

    // The entry is an hour old: a 30-minute window does not reach it.
    dev.clear_command_log();
    let run = dev
        .reenroll(&["diagnose", "--json", "--log-window", "30m"])
        .exit(0);
    assert!(run.json()["findings"].as_array().unwrap().is_empty());
    assert!(dev.command_log().iter().any(|c| c.contains("--last 30m")));
    dev.reenroll(&["diagnose", "--log-window", "0s"]).exit(2);
    dev.reenroll(&["diagnose", "--log-window", "45d"]).exit(2);
}

#[test]
fn a_unified_log_that_cannot_be_read_is_could_not_see_not_no_evidence() {
    let dev = Sandbox::new().symptom("c5-unified-log").build();
    dev.write("/var/db/sandbox/log-fails", "");
    let (code, report) = diagnose(&dev);
    assert_eq!(code, Some(0), "{report:#}");
    let c = &report["could_not_read"][0];
    assert_eq!(c["source"], "unified log", "{report:#}");
    assert!(c["reason"]
        .as_str()
        .unwrap()
        .contains("Could not open local log store"));

    dev.remove("/usr/bin/log");
    let (_, report) = diagnose(&dev);
    let c = &report["could_not_read"][0];
    assert_eq!(c["source"], "unified log", "{report:#}");
    assert!(c["reason"].as_str().unwrap().contains("not on the device"));
}
