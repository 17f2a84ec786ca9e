//! `run --step` in a pseudo-terminal: an admin answers y, s, d and q at the prompts; the journal
//! and the sandbox are checked after each.

mod support;

use std::process::Command;

use support::{Device, Sandbox, BIN};

fn pty(dev: &Device, args: &[&str]) -> rexpect::session::PtySession {
    let mut cmd = Command::new(BIN);
    cmd.arg("--root")
        .arg(dev.root())
        .args(args)
        .env("NO_COLOR", "1");
    rexpect::session::spawn_command(cmd, Some(30_000)).unwrap()
}

#[test]
fn an_admin_walks_through_reregister_answering_y_s_d_and_q() {
    let dev = Sandbox::new().build();
    let mut p = pty(&dev, &["run", "--step", "reregister"]);
    // preflight: details first, then do it
    p.exp_string("preflight ").unwrap();
    p.exp_string("[q] stop here: ").unwrap();
    p.send_line("d").unwrap();
    p.exp_string("action: facts").unwrap();
    p.exp_string("[q] stop here: ").unwrap();
    p.send_line("y").unwrap();
    p.exp_string("done").unwrap();
    // the Platform SSO step does not apply; the quit steps: do them
    p.exp_string("quit-company-portal ").unwrap();
    p.exp_string("[q] stop here: ").unwrap();
    p.send_line("y").unwrap();
    p.exp_string("quit-conditional-access ").unwrap();
    p.exp_string("[q] stop here: ").unwrap();
    p.send_line("y").unwrap();
    // the containers: skip them
    p.exp_string("purge-user-containers ").unwrap();
    p.exp_string("[q] stop here: ").unwrap();
    p.send_line("s").unwrap();
    p.exp_string("skipped by the admin").unwrap();
    // jamfAAD clean: stop here
    p.exp_string("clean-jamfaad ").unwrap();
    p.exp_string("[q] stop here: ").unwrap();
    p.send_line("q").unwrap();
    p.exp_string("is paused").unwrap();
    p.exp_eof().unwrap();

    let st = dev.status();
    assert_eq!(st["runs"][0]["state"], "paused");
    assert_eq!(dev.step_states()["preflight"], "done");
    assert_eq!(
        dev.step_states()["purge-user-containers"],
        "skipped-by-admin"
    );
    assert_eq!(dev.step_states()["clean-jamfaad"], "pending");
    // skipped: the containers are still there; nothing later ran
    assert!(dev.exists("/Users/alice/Library/Containers/com.microsoft.entrabroker.BrokerApp"));
    assert!(dev.exists("/Users/alice/Library/Preferences/com.jamf.management.jamfAAD.plist"));

    // resume step by step: confirm the rest with y, the operator step too
    let mut p = pty(&dev, &["resume", "--step"]);
    for id in [
        "clean-jamfaad",
        "purge-system-files",
        "purge-user-files",
        "purge-keychains",
    ] {
        p.exp_string(&format!("{id} ")).unwrap();
        p.exp_string("[q] stop here: ").unwrap();
        p.send_line("y").unwrap();
    }
    p.exp_string("run-registration-policy ").unwrap();
    p.exp_string("Has this been done?").unwrap();
    p.send_line("y").unwrap();
    p.exp_string("completed").unwrap();
    p.exp_eof().unwrap();
    let st = dev.status();
    assert_eq!(st["runs"][0]["state"], "completed");
    assert_eq!(
        dev.step_states()["purge-user-containers"],
        "skipped-by-admin"
    );
    assert_eq!(dev.step_states()["run-registration-policy"], "done");
    assert!(!dev.exists("/Users/alice/Library/Preferences/com.jamf.management.jamfAAD.plist"));
    assert!(dev.exists("/Users/alice/Library/Containers/com.microsoft.entrabroker.BrokerApp"));
}

#[test]
fn the_settle_wait_is_cut_short_only_by_typing_the_confirmation() {
    let dev = Sandbox::new().build();
    // A small playbook: an operator step and a gate after it with a long settle.
    let pb = dev.playbook(
        "gate-test",
        r#"name = "gate-test"
description = "d"
[vars.settle]
default = 30
timer = true
[[steps]]
id = "server"
title = "Delete the records"
[steps.action]
kind = "operator"
blocking = false
instructions = "Delete them."
[[steps]]
id = "settle"
title = "Wait"
[steps.action]
kind = "gate"
after = ["server"]
settle_minutes = "{settle}"
"#,
    );
    let mut p = pty(&dev, &["run", "--step", &pb]);
    p.exp_string("Has this been done?").unwrap();
    p.send_line("y").unwrap();
    p.exp_string("settle ").unwrap();
    p.exp_string("[q] stop here: ").unwrap();
    p.send_line("y").unwrap();
    p.exp_string("at least 30 minutes").unwrap();
    p.exp_string("[q] stop here: ").unwrap();
    p.send_line("c").unwrap();
    p.exp_string("WARNING").unwrap();
    p.exp_string("to go on without waiting: ").unwrap();
    p.send_line("yes").unwrap(); // not the words: not cut short
    p.exp_string("not cut short").unwrap();
    p.exp_string("[q] stop here: ").unwrap();
    p.send_line("c").unwrap();
    p.exp_string("to go on without waiting: ").unwrap();
    p.send_line("skip the wait").unwrap();
    p.exp_string("cut the settle wait short").unwrap();
    p.exp_string("completed").unwrap();
    p.exp_eof().unwrap();
    assert_eq!(dev.status()["runs"][0]["state"], "completed");
}

#[test]
fn step_mode_without_a_terminal_exits_2() {
    let dev = Sandbox::new().build();
    dev.reenroll(&["run", "--step", "reregister"])
        .exit(2)
        .stderr_contains("not a terminal");
}
