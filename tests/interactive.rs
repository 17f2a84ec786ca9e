//! `run --step` in a pseudo-terminal: an admin answers y, s, d and q at the prompts; the journal
//! and the sandbox are checked after each.

use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_reenroll");

fn sandbox() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("mac");
    let out = Command::new(BIN)
        .arg("sandbox")
        .arg(&root)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (dir, root)
}

fn status_json(root: &Path) -> serde_json::Value {
    let out = Command::new(BIN)
        .arg("--root")
        .arg(root)
        .args(["status", "--json"])
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout).unwrap()
}

fn step_state(status: &serde_json::Value, id: &str) -> String {
    status["runs"][0]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == id)
        .unwrap()["state"]
        .as_str()
        .unwrap()
        .to_string()
}

fn pty(root: &Path, args: &[&str]) -> rexpect::session::PtySession {
    let mut cmd = Command::new(BIN);
    cmd.arg("--root").arg(root).args(args).env("NO_COLOR", "1");
    rexpect::session::spawn_command(cmd, Some(30_000)).unwrap()
}

#[test]
fn an_admin_walks_through_reregister_answering_y_s_d_and_q() {
    let (_dir, root) = sandbox();
    let mut p = pty(&root, &["run", "--step", "reregister"]);
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

    let st = status_json(&root);
    assert_eq!(st["runs"][0]["state"], "paused");
    assert_eq!(step_state(&st, "preflight"), "done");
    assert_eq!(step_state(&st, "purge-user-containers"), "skipped-by-admin");
    assert_eq!(step_state(&st, "clean-jamfaad"), "pending");
    // skipped: the containers are still there; nothing later ran
    assert!(root
        .join("Users/alice/Library/Containers/com.microsoft.entrabroker.BrokerApp")
        .exists());
    assert!(root
        .join("Users/alice/Library/Preferences/com.jamf.management.jamfAAD.plist")
        .exists());

    // resume step by step: confirm the rest with y, the operator step too
    let mut p = pty(&root, &["resume", "--step"]);
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
    let st = status_json(&root);
    assert_eq!(st["runs"][0]["state"], "completed");
    assert_eq!(step_state(&st, "purge-user-containers"), "skipped-by-admin");
    assert_eq!(step_state(&st, "run-registration-policy"), "done");
    assert!(!root
        .join("Users/alice/Library/Preferences/com.jamf.management.jamfAAD.plist")
        .exists());
    assert!(root
        .join("Users/alice/Library/Containers/com.microsoft.entrabroker.BrokerApp")
        .exists());
}

#[test]
fn the_settle_wait_is_cut_short_only_by_typing_the_confirmation() {
    let (dir, root) = sandbox();
    // A small playbook: an operator step and a gate after it with a long settle.
    let pb = dir.path().join("gate.toml");
    std::fs::write(
        &pb,
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
    )
    .unwrap();
    let mut p = pty(&root, &["run", "--step", pb.to_str().unwrap()]);
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
    assert_eq!(status_json(&root)["runs"][0]["state"], "completed");
}

#[test]
fn step_mode_without_a_terminal_exits_2() {
    let (_dir, root) = sandbox();
    let out = Command::new(BIN)
        .arg("--root")
        .arg(&root)
        .args(["run", "--step", "reregister"])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a terminal"));
}
