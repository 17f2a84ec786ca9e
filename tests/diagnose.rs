//! `reenroll diagnose` through the binary: one sandbox per documented problem, planted with
//! `sandbox --symptom`, and a healthy device that yields no finding.

use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_reenroll");

fn sandbox(symptom: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("mac");
    let out = Command::new(BIN)
        .arg("sandbox")
        .arg(&root)
        .args(["--symptom", symptom])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (dir, root)
}

fn diagnose(root: &Path) -> (i32, serde_json::Value) {
    let server_log = root.join(reenroll::diagnose::SERVER_LOG.trim_start_matches('/'));
    let out = Command::new(BIN)
        .arg("--root")
        .arg(root)
        .args(["diagnose", "--json", "--server-log"])
        .arg(server_log)
        .output()
        .unwrap();
    let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is one JSON document: {e}\n{}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    (out.status.code().unwrap(), json)
}

#[test]
fn a_healthy_device_yields_no_finding() {
    let (_d, root) = sandbox("healthy");
    let (code, report) = diagnose(&root);
    assert_eq!(
        report["findings"].as_array().unwrap().len(),
        0,
        "{report:#}"
    );
    assert_eq!(code, 0);
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
        let (_d, root) = sandbox(name);
        let (code, report) = diagnose(&root);
        let findings = report["findings"].as_array().unwrap();
        assert!(!findings.is_empty(), "{name}: no finding\n{report:#}");
        assert_eq!(code, 5, "{name}");
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
    let (_d, root) = sandbox("c6-duplicate-registration");
    let out = Command::new(BIN)
        .arg("--root")
        .arg(&root)
        .arg("diagnose")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(5));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("C6"), "{text}");
    for line in text.lines() {
        assert!(line.chars().count() <= 80, "too wide: {line}");
    }
}

#[test]
fn a_platform_sso_mac_says_what_it_cannot_see_instead_of_guessing() {
    let (_d, root) = sandbox("psso-registered");
    let (_code, report) = diagnose(&root);
    let unseen = report["could_not_read"].to_string();
    assert!(unseen.contains("Secure Enclave"), "{report:#}");
}
