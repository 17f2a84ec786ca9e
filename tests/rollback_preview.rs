//! Rollback is previewed and honest about the end state (issue 14, section 1): it shows what it
//! will put back and what it cannot before asking, `--dry-run` stops there, it refuses a run
//! that got past re-enrollment unless told, it says how the Mac is managed afterwards, a second
//! rollback says the run is already rolled back, and a rollback after `purge` is one refusal.

mod support;

use std::io::Write;
use std::process::{Command, Stdio};

use support::{Device, Sandbox, BIN, REMOVE_REBOOT_REMOVE};

const REMOVE_ONLY: &str = r#"
name = "remove-only"
description = "One removal."

[[steps]]
id = "first"
title = "Remove the preferences"
[steps.action]
kind = "remove"
paths = ["{home}/Library/Preferences/com.microsoft.CompanyPortalMac.plist"]
"#;

const PREFS: &str = "/Users/alice/Library/Preferences/com.microsoft.CompanyPortalMac.plist";
const SERVER_STEPS: &[&str] = &[
    "delete-jamf-record",
    "delete-entra-device",
    "delete-intune-records",
    "check-filevault-escrow",
    "run-registration-policy",
];

/// `reenroll --root DIR ARGS` on a pseudo-terminal (`script`), answering `answer`.
fn on_a_terminal(dev: &Device, args: &str, answer: &str) -> (Option<i32>, String) {
    let cmd = format!("{BIN} --root '{}' {args}", dev.root().display());
    let mut child = Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running script");
    // The terminal holds the answer until the question reads it: no wait is needed.
    child
        .stdin
        .take()
        .unwrap()
        .write_all(answer.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[test]
fn rollback_shows_what_it_will_do_before_asking_and_dry_run_changes_nothing() {
    let dev = Sandbox::new().build();
    let pb = dev.playbook("rrr", REMOVE_REBOOT_REMOVE);
    let id = dev.reenroll(&["run", &pb, "--yes"]).exit(3).run_id();
    let before = dev.tree_hash();
    dev.reenroll(&["rollback", "--dry-run"])
        .exit(0)
        .stdout_contains(&format!("rollback of run {id}"))
        .stdout_contains("first")
        .stdout_contains("puts back 2 paths")
        .stdout_contains("removes 1 file the run created")
        .stdout_contains("dry run: nothing was changed");
    before.assert_same(&dev.tree_hash(), "rollback --dry-run");
    assert_eq!(dev.last_run_status()["state"], "paused");
    // Without a terminal and without --yes nobody can confirm: exit 2, after the preview.
    dev.reenroll(&["rollback"])
        .exit(2)
        .stdout_contains("puts back 2 paths")
        .stderr_contains("--yes");
    before.assert_same(&dev.tree_hash(), "rollback without a terminal");
    // On a terminal, declining is a refusal (exit 4) and changes nothing.
    let (code, out) = on_a_terminal(&dev, "rollback", "n\n");
    assert!(out.contains("[y/N]"), "{out}");
    assert!(out.contains("nothing was changed"), "{out}");
    assert_eq!(code, Some(4), "{out}");
    before.assert_same(&dev.tree_hash(), "a declined rollback");
    assert_eq!(dev.last_run_status()["state"], "paused");
    // Accepting rolls it back.
    let (code, out) = on_a_terminal(&dev, "rollback", "y\n");
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(dev.last_run_status()["state"], "rolled-back");
    assert!(dev.exists(PREFS));
}

#[test]
fn a_run_rolled_back_at_the_restart_is_no_longer_waiting() {
    let dev = Sandbox::new().build();
    let pb = dev.playbook("rrr", REMOVE_REBOOT_REMOVE);
    dev.reenroll(&["run", &pb, "--yes"]).exit(3);
    dev.reenroll(&["rollback", "--yes"]).exit(0);
    let st = dev.last_run_status();
    assert_eq!(st["state"], "rolled-back", "{st:#}");
    let states = dev.step_states();
    assert_ne!(states["restart"], "waiting", "{states:?}");
    let status = dev.reenroll(&["status"]).exit(0);
    assert!(!status.stdout.contains("waiting"), "{status}");
    let ea = dev.reenroll(&["status", "--jamf-ea"]).exit(0);
    assert!(ea.stdout.starts_with("<result>rolled-back "), "{ea}");
}

#[test]
fn rolling_back_twice_says_already_rolled_back() {
    let dev = Sandbox::new().build();
    let pb = dev.playbook("one", REMOVE_ONLY);
    let id = dev.reenroll(&["run", &pb, "--yes"]).exit(0).run_id();
    dev.reenroll(&["rollback", "--yes"]).exit(0);
    let again = dev.reenroll(&["rollback", "--yes"]).exit(4);
    again
        .stderr_contains(&format!("run {id} is already rolled back"))
        .stderr_contains("its rollback ended 20");
    assert_eq!(again.stderr.lines().count(), 1, "{again}");
    let named = dev.reenroll(&["rollback", &id, "--yes"]).exit(4);
    named.stderr_contains("already rolled back");
    // Nothing was appended to the journal by either.
    let journal = dev.journal(&id);
    let starts = journal
        .iter()
        .filter(|r| r["type"] == "rollback-start")
        .count();
    assert_eq!(starts, 1);
}

#[test]
fn a_rollback_after_purge_is_one_refusal() {
    let dev = Sandbox::new().build();
    let pb = dev.playbook("one", REMOVE_ONLY);
    let id = dev.reenroll(&["run", &pb, "--yes"]).exit(0).run_id();
    dev.reenroll(&["purge", "--older-than", "0s", "--yes"])
        .exit(0)
        .stdout_contains("purged");
    let r = dev.reenroll(&["rollback", "--yes"]).exit(4);
    r.stderr_contains(&format!("run {id} cannot be rolled back"))
        .stderr_contains("deleted by `reenroll purge`");
    let lines = r.stdout.lines().count() + r.stderr.lines().count();
    assert!(lines <= 2, "more than one line:\n{r}");
    assert!(!dev.exists(PREFS));
    assert_eq!(dev.last_run_status()["state"], "completed");
}

#[test]
fn a_re_registered_run_keeps_the_old_registration_out_unless_told() {
    let dev = Sandbox::new().build();
    let id = dev
        .reenroll(&["run", "--yes", "--set", "intune_settle_minutes=0"])
        .exit(3)
        .run_id();
    dev.boot().exit(0);
    let mut args = vec!["resume"];
    for s in SERVER_STEPS {
        args.extend(["--confirm", s]);
    }
    dev.reenroll(&args).exit(0);
    assert_eq!(dev.step_states()["wait-for-enrollment"], "done");
    let before = dev.tree_hash();
    let dry = dev.reenroll(&["rollback", "--dry-run"]).exit(0);
    dry.stdout_contains(&format!("rollback of run {id}"))
        .stdout_contains("purge-user-files")
        .stdout_contains("got past re-enrollment (step `wait-for-enrollment` is done)")
        .stdout_contains("duplicate registration")
        .stdout_contains("--even-after-reregistration");
    before.assert_same(&dev.tree_hash(), "a dry run");
    // Files and the app come back; the old registration's keychain items stay out.
    dev.reenroll(&["rollback", "--yes"])
        .exit(0)
        .stdout_contains("not put back: the Mac is registered again");
    let keychain = dev.read("/Users/alice/Library/Keychains/sandbox-keychain.plist");
    assert!(
        !keychain.contains("MS-Organization-Access"),
        "the old Workplace Join certificate was put back onto a registered Mac"
    );
    assert!(dev.exists("/Users/alice/Library/Preferences/com.microsoft.CompanyPortalMac.plist"));
    assert_eq!(dev.last_run_status()["state"], "rolled-back");
}

#[test]
fn after_rollback_the_end_state_is_said_and_a_new_run_blames_no_network() {
    let dev = Sandbox::new().build();
    let id = dev
        .reenroll(&["run", "--yes", "--set", "intune_settle_minutes=0"])
        .exit(3)
        .run_id();
    dev.reenroll(&["rollback", "--dry-run"])
        .exit(0)
        .stdout_contains("cannot be undone")
        .stdout_contains("remove-framework");
    let rb = dev.reenroll(&["rollback", "--yes"]).exit(0);
    rb.stdout_contains("end state: this Mac has no Jamf framework")
        .stdout_contains("no Jamf MDM profile")
        .stdout_contains("https://example.jamfcloud.com/enroll")
        .stdout_contains("profiles renew -type enrollment");
    let st = dev.last_run_status();
    assert_eq!(st["state"], "rolled-back", "{st:#}");
    assert_eq!(st["id"], id.as_str());
    assert_ne!(dev.step_states()["restart"], "waiting");
    // A new run: the preflight says the framework is gone, not that the network is down.
    let run = dev
        .reenroll(&["run", "--yes", "--set", "intune_settle_minutes=0"])
        .exit(1);
    run.says("the Jamf framework is not on this Mac")
        .says("profiles renew -type enrollment");
    assert!(!run.stdout.contains("does not answer"), "{run}");
    assert!(!run.stderr.contains("does not answer"), "{run}");
    dev.reenroll(&["plan"])
        .exit(0)
        .stdout_contains("the Jamf framework is not on this Mac");
}
