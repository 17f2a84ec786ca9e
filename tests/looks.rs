//! A read-only command asks each fact once (issue 14 §7): `plan`, `diagnose`, `status`, a
//! rollback preview and a Jamf policy's `action=plan` run each program with the same arguments
//! (as the same user) at most once, and list each user's keychain at most once. `run` still
//! looks again after it acts. Counted from the sandbox's command log, where every fake program
//! appends its argv.

mod support;

use std::collections::BTreeMap;

use support::{Device, Sandbox};

/// How many times each command line was run since the log was cleared.
fn calls(dev: &Device) -> BTreeMap<String, usize> {
    let mut n = BTreeMap::new();
    for line in dev.command_log() {
        *n.entry(line).or_default() += 1;
    }
    n
}

/// Every command line that was run more than once, with its count.
fn repeated(dev: &Device) -> Vec<(String, usize)> {
    calls(dev).into_iter().filter(|(_, n)| *n > 1).collect()
}

/// The keychain helper sessions started (through `launchctl asuser`), one entry per call.
fn helper_sessions(dev: &Device) -> Vec<String> {
    dev.command_log()
        .into_iter()
        .filter(|l| l.starts_with("/bin/launchctl asuser") && l.contains("keychain-helper"))
        .collect()
}

#[test]
fn plan_asks_each_fact_once() {
    let dev = Sandbox::new().build();
    dev.clear_command_log();
    dev.reenroll(&["plan"])
        .exit(0)
        .stdout_contains("purge-keychains");
    let log = dev.command_log();
    assert!(
        !log.is_empty(),
        "plan ran no program: the count proves nothing"
    );
    assert_eq!(repeated(&dev), vec![], "plan ran these more than once");
    // `profiles list`, `profiles status -type enrollment` and `profiles show -type configuration`
    // (the managed network and trust payloads), nothing else, once each.
    let profiles: Vec<&String> = log
        .iter()
        .filter(|l| l.starts_with("/usr/bin/profiles "))
        .collect();
    assert_eq!(profiles.len(), 3, "{profiles:?}");
    // The facts and the keychain purge read the same keychains: one helper per user.
    let sessions = helper_sessions(&dev);
    assert_eq!(
        sessions.len(),
        2,
        "one helper for alice, one for bob: {sessions:?}"
    );
    // And the plan still sees the users' keychains (the answers were shared, not lost).
    dev.reenroll(&["plan"])
        .exit(0)
        .stdout_contains("in alice's login keychain");
}

#[test]
fn the_other_read_only_commands_ask_each_fact_once() {
    let dev = Sandbox::new().build();
    dev.clear_command_log();
    dev.reenroll(&["diagnose"]).run();
    assert!(!dev.command_log().is_empty(), "diagnose ran no program");
    assert_eq!(repeated(&dev), vec![], "diagnose ran these more than once");

    // A Jamf policy's dry run takes the same look as `plan`.
    dev.clear_command_log();
    let out = dev
        .reenroll(&[
            "jamf-policy",
            "/",
            "Alice's MacBook Pro",
            "alice",
            "action=plan",
        ])
        .run();
    assert_eq!(out.code, Some(0), "{out}");
    assert!(!dev.command_log().is_empty(), "action=plan ran no program");
    assert_eq!(
        repeated(&dev),
        vec![],
        "action=plan ran these more than once"
    );

    // After a run (paused at its restart): status and the rollback preview.
    let pb = dev.playbook("rrr", support::REMOVE_REBOOT_REMOVE);
    dev.reenroll(&["run", &pb, "--yes"]).exit(3);
    dev.clear_command_log();
    dev.reenroll(&["status"]).exit(0);
    assert_eq!(repeated(&dev), vec![], "status ran these more than once");
    dev.clear_command_log();
    dev.reenroll(&["rollback", "--dry-run"])
        .exit(0)
        .stdout_contains("dry run: nothing was changed");
    assert_eq!(
        repeated(&dev),
        vec![],
        "the rollback preview ran these more than once"
    );
}

/// A run that removes the MDM profile checks `profiles list` before (`done_when`) and after
/// (`verify`, the same check): the second answer must be the device's new state, not the
/// first answer remembered. A remembered answer would still show the profile, and the step
/// (not best-effort) would fail.
#[test]
fn run_looks_again_after_it_acts() {
    let dev = Sandbox::new().build();
    let pb = dev.playbook(
        "unenroll",
        r#"name = "unenroll"
description = "remove the MDM profile and check that it is gone"
[[steps]]
id = "remove-mdm-profile"
title = "Remove the Jamf MDM profile"
[steps.action]
kind = "run"
program = "/usr/local/jamf/bin/jamf"
args = ["removeMdmProfile"]
done_when = { command = { program = "/usr/bin/profiles", args = ["list"], stdout_lacks = "00000000-0000-0000-A000-4A414D460003" } }
"#,
    );
    // The plan looks once, and sees the profile.
    dev.clear_command_log();
    dev.reenroll(&["plan", &pb])
        .exit(0)
        .stdout_contains("removeMdmProfile");
    assert_eq!(repeated(&dev), vec![]);
    dev.clear_command_log();
    dev.reenroll(&["run", &pb, "--yes"]).exit(0);
    let log = dev.command_log();
    let at = |what: &str| -> Vec<usize> {
        log.iter()
            .enumerate()
            .filter(|(_, l)| l.as_str() == what)
            .map(|(i, _)| i)
            .collect()
    };
    let lists = at("/usr/bin/profiles list");
    let removals = at("/usr/local/jamf/bin/jamf removeMdmProfile");
    assert_eq!(removals.len(), 1, "{log:#?}");
    assert!(
        lists.iter().any(|i| *i < removals[0]) && lists.iter().any(|i| *i > removals[0]),
        "run did not ask `profiles list` again after acting: {log:#?}"
    );
    assert_eq!(dev.step_states()["remove-mdm-profile"], "done");
}
