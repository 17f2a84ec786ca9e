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
