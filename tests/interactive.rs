//! `run --step` in a pseudo-terminal: an admin answers y, s, d and q at the prompts; the journal
//! and the sandbox are checked after each.

mod support;

use std::process::Command;

use rexpect::process::wait::WaitStatus;
use rexpect::session::PtySession;
use support::{Device, Sandbox, BIN};

fn pty(dev: &Device, args: &[&str]) -> rexpect::session::PtySession {
    let mut cmd = Command::new(BIN);
    cmd.arg("--root")
        .arg(dev.root())
        .args(args)
        .env("NO_COLOR", "1");
    rexpect::session::spawn_command(cmd, Some(30_000)).unwrap()
}

/// The exit status of a session whose output has ended (`exp_eof`).
#[track_caller]
fn exit_code(p: &PtySession) -> i32 {
    match p.process.wait().unwrap() {
        WaitStatus::Exited(_, code) => code,
        other => panic!("reenroll did not exit normally: {other:?}"),
    }
}

const PREFS: &str = "/Users/alice/Library/Preferences/com.microsoft.CompanyPortalMac.plist";
const APP: &str = "/Applications/Company Portal.app";

/// Two removals: the preferences, then the app.
const TWO_REMOVALS: &str = r#"name = "two-removals"
description = "Two removals."
[[steps]]
id = "first"
title = "Remove the preferences"
[steps.action]
kind = "remove"
paths = ["{home}/Library/Preferences/com.microsoft.CompanyPortalMac.plist"]
[[steps]]
id = "second"
title = "Remove the app"
[steps.action]
kind = "remove"
paths = ["/Applications/Company Portal.app"]
"#;

/// A server step (an operator step here: no credentials) that a gate waits for.
const SERVER_AND_GATE: &str = r#"name = "gate-test"
description = "d"
[vars.settle]
default = 30
timer = true
[[steps]]
id = "first"
title = "Remove the preferences"
[steps.action]
kind = "remove"
paths = ["{home}/Library/Preferences/com.microsoft.CompanyPortalMac.plist"]
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
"#;

#[test]
fn an_admin_walks_through_reregister_answering_y_s_d_and_q() {
    let dev = Sandbox::new().build();
    let mut p = pty(&dev, &["run", "--step", "reregister"]);
    // preflight reads the device and changes nothing: shown, not asked about
    p.exp_string("preflight ").unwrap();
    let shown = p.exp_string("nothing to change: not asked").unwrap();
    assert!(!shown.contains("stop here"), "{shown}");
    // telling the user at the Mac is a change to their screen: asked
    p.exp_string("tell-user ").unwrap();
    p.exp_string("tell alice (swiftDialog)").unwrap();
    p.exp_string("[q] stop here: ").unwrap();
    p.send_line("y").unwrap();
    // Company Portal and Conditional Access are not running: shown, not asked about
    for id in ["quit-company-portal", "quit-conditional-access"] {
        p.exp_string(&format!("{id} ")).unwrap();
        let shown = p.exp_string("nothing to change: not asked").unwrap();
        assert!(!shown.contains("stop here"), "{shown}");
    }
    // the containers: details first, then skip them
    p.exp_string("purge-user-containers ").unwrap();
    p.exp_string("[q] stop here: ").unwrap();
    p.send_line("d").unwrap();
    p.exp_string("action: remove (article step 6)").unwrap();
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

#[test]
fn ctrl_c_at_the_question_pauses_the_run_and_resume_continues_it() {
    let dev = Sandbox::new().build();
    let pb = dev.playbook("two-removals", TWO_REMOVALS);
    let mut p = pty(&dev, &["run", "--step", &pb]);
    p.exp_string("first ").unwrap();
    p.exp_string("[q] stop here: ").unwrap();
    p.send_control('c').unwrap();
    p.exp_string("stopped by a signal (Ctrl-C) at the question before")
        .unwrap();
    let id = dev.last_run();
    // The command that continues it, asking again.
    p.exp_string(&format!("resume {id} --step`")).unwrap();
    p.exp_string("continues it").unwrap();
    p.exp_eof().unwrap();
    assert_eq!(exit_code(&p), 3);
    // Paused before the step: nothing changed, the step still pending.
    assert_eq!(dev.last_run_status()["state"], "paused");
    assert_eq!(dev.step_states()["first"], "pending");
    assert!(dev.exists(PREFS));
    dev.reenroll(&["status"]).exit(0).stdout_contains("paused");

    // The same at a later question, after a step was done.
    let mut p = pty(&dev, &["resume", "--step"]);
    p.exp_string("first ").unwrap();
    p.exp_string("[q] stop here: ").unwrap();
    p.send_line("y").unwrap();
    p.exp_string("second ").unwrap();
    p.exp_string("[q] stop here: ").unwrap();
    p.send_control('c').unwrap();
    p.exp_string("at the question before `second`").unwrap();
    p.exp_eof().unwrap();
    assert_eq!(exit_code(&p), 3);
    assert_eq!(dev.step_states()["first"], "done");
    assert_eq!(dev.step_states()["second"], "pending");
    assert!(!dev.exists(PREFS));
    assert!(dev.exists(APP));

    // Nothing ran after the signal: a plain resume does the rest.
    dev.reenroll(&["resume"]).exit(0);
    assert_eq!(dev.last_run_status()["state"], "completed");
    assert!(!dev.exists(APP));
    assert_eq!(dev.run_ids(), vec![id]);
}

#[test]
fn q_before_the_first_step_keeps_no_run_and_exits_4() {
    let dev = Sandbox::new().build();
    let pb = dev.playbook("two-removals", TWO_REMOVALS);
    let before = dev.tree_hash();
    let mut p = pty(&dev, &["run", "--step", &pb]);
    p.exp_string("first ").unwrap();
    p.exp_string("[q] stop here: ").unwrap();
    p.send_line("q").unwrap();
    p.exp_string("before any step was accepted;").unwrap();
    p.exp_string("was removed again").unwrap();
    p.exp_eof().unwrap();
    assert_eq!(exit_code(&p), 4);
    before.assert_same(&dev.tree_hash(), "q before the first step");
    assert!(dev.run_ids().is_empty(), "{:?}", dev.run_ids());
    assert_eq!(dev.status()["runs"].as_array().unwrap().len(), 0);
    // The next run is not blocked.
    dev.reenroll(&["run", &pb, "--yes"]).exit(0);
    assert!(!dev.exists(APP));

    // Once a step was accepted, `q` pauses the run as before.
    let dev = Sandbox::new().build();
    let mut p = pty(&dev, &["run", "--step", &pb]);
    p.exp_string("[q] stop here: ").unwrap();
    p.send_line("y").unwrap();
    p.exp_string("second ").unwrap();
    p.exp_string("[q] stop here: ").unwrap();
    p.send_line("q").unwrap();
    p.exp_string("is paused").unwrap();
    p.exp_eof().unwrap();
    assert_eq!(exit_code(&p), 3);
    assert_eq!(dev.last_run_status()["state"], "paused");
}

#[test]
fn a_step_with_nothing_to_change_is_shown_and_not_asked_about() {
    let dev = Sandbox::new().build();
    dev.remove(PREFS);
    dev.remove("/Users/bob/Library/Preferences/com.microsoft.CompanyPortalMac.plist");
    let pb = dev.playbook("two-removals", TWO_REMOVALS);
    let mut p = pty(&dev, &["run", "--step", &pb]);
    p.exp_string("first ").unwrap();
    p.exp_string("nothing to change: not asked").unwrap();
    // The next thing is the second step's heading: no question came in between.
    let between = p.exp_string("second ").unwrap();
    assert!(!between.contains("stop here"), "{between}");
    p.exp_string("[q] stop here: ").unwrap();
    p.send_line("y").unwrap();
    p.exp_string("completed").unwrap();
    p.exp_eof().unwrap();
    assert_eq!(exit_code(&p), 0);
    assert_eq!(dev.step_states()["first"], "skipped");
    assert_eq!(dev.step_states()["second"], "done");
}

#[test]
fn skipping_a_step_a_gate_waits_for_only_postpones_it() {
    let dev = Sandbox::new().build();
    let pb = dev.playbook("gate-test", SERVER_AND_GATE);
    let mut p = pty(&dev, &["run", "--step", &pb, "--set", "settle=0"]);
    p.exp_string("[q] stop here: ").unwrap();
    p.send_line("y").unwrap();
    p.exp_string("Has this been done?").unwrap();
    p.exp_string("[s] skip for now (`settle` still waits for it)")
        .unwrap();
    p.exp_string("[q] stop here: ").unwrap();
    p.send_line("s").unwrap();
    p.exp_string("This only postpones it: `settle` still waits for")
        .unwrap();
    p.exp_string("resume --confirm server`").unwrap();
    // The gate does wait for it.
    p.exp_string("settle ").unwrap();
    p.exp_string("[q] stop here: ").unwrap();
    p.send_line("y").unwrap();
    p.exp_string("waiting for the server steps: server")
        .unwrap();
    p.exp_eof().unwrap();
    assert_eq!(exit_code(&p), 3);
    assert_eq!(dev.step_states()["server"], "skipped-by-admin");
    assert_eq!(dev.step_states()["settle"], "waiting");
    dev.reenroll(&["resume", "--confirm", "server"]).exit(0);
    assert_eq!(dev.last_run_status()["state"], "completed");
}

#[test]
fn resume_step_confirm_does_not_ask_about_the_confirmed_step_again() {
    let dev = Sandbox::new().build();
    let pb = dev.playbook("gate-test", SERVER_AND_GATE);
    // Unattended: the operator step waits, the gate pauses the run.
    dev.reenroll(&["run", &pb, "--yes", "--set", "settle=0"])
        .exit(3);
    assert_eq!(dev.step_states()["server"], "waiting");
    let mut p = pty(&dev, &["resume", "--step", "--confirm", "server"]);
    p.exp_string("server ").unwrap();
    p.exp_string("(--confirm): not asked again").unwrap();
    let between = p.exp_string("settle ").unwrap();
    assert!(!between.contains("Has this been done?"), "{between}");
    p.exp_string("[q] stop here: ").unwrap();
    p.send_line("y").unwrap();
    p.exp_string("[q] stop here: ").unwrap(); // wait or cut short
    p.send_line("w").unwrap();
    p.exp_string("completed").unwrap();
    p.exp_eof().unwrap();
    assert_eq!(exit_code(&p), 0);
    assert_eq!(dev.step_states()["server"], "done");
}

/// A restart, then an operator step that pauses the run, then a removal.
const REBOOT_THEN_OPERATOR: &str = r#"name = "reboot-then-operator"
description = "d"
[[steps]]
id = "first"
title = "Remove the preferences"
[steps.action]
kind = "remove"
paths = ["{home}/Library/Preferences/com.microsoft.CompanyPortalMac.plist"]
[[steps]]
id = "restart"
title = "Restart"
[steps.action]
kind = "reboot"
delay_minutes = "1"
[[steps]]
id = "enroll"
title = "Enroll"
[steps.action]
kind = "operator"
blocking = true
instructions = "Enroll the Mac."
[[steps]]
id = "second"
title = "Remove the app"
[steps.action]
kind = "remove"
paths = ["/Applications/Company Portal.app"]
"#;

#[test]
fn before_a_restart_the_question_says_the_daemon_goes_on_unattended_and_how_to_get_the_questions_back(
) {
    let dev = Sandbox::new().build();
    let pb = dev.playbook("reboot-then-operator", REBOOT_THEN_OPERATOR);
    let mut p = pty(&dev, &["run", "--step", &pb]);
    p.exp_string("[q] stop here: ").unwrap();
    p.send_line("y").unwrap();
    p.exp_string("restart ").unwrap();
    // (wrapped to the terminal's width: matched a few words at a time)
    p.exp_string("After the restart the LaunchDaemon com.github.reenroll")
        .unwrap();
    p.exp_string("unattended, without these questions").unwrap();
    p.exp_string("To get the questions back").unwrap();
    p.exp_string("resume --step`").unwrap();
    p.exp_string("[q] stop here: ").unwrap();
    p.send_line("y").unwrap();
    p.exp_string("is paused").unwrap();
    p.exp_eof().unwrap();
    assert_eq!(exit_code(&p), 3);

    // The restart: the daemon resumes without a terminal and stops at the operator step.
    dev.boot().exit(0);
    let st = dev.last_run_status();
    assert_eq!(st["state"], "paused", "{st:#}");
    assert_eq!(dev.step_states()["restart"], "done");
    assert_eq!(dev.step_states()["enroll"], "waiting");
    assert!(dev.exists(APP));

    // What the question said: `resume --step` asks again for what is left.
    let mut p = pty(&dev, &["resume", "--step"]);
    p.exp_string("enroll ").unwrap();
    p.exp_string("Has this been done?").unwrap();
    p.send_line("y").unwrap();
    p.exp_string("second ").unwrap();
    p.exp_string("[q] stop here: ").unwrap();
    p.send_line("y").unwrap();
    p.exp_string("completed").unwrap();
    p.exp_eof().unwrap();
    assert_eq!(exit_code(&p), 0);
    assert!(!dev.exists(APP));
}

#[test]
fn declining_a_confirmation_exits_4_and_changes_nothing() {
    let dev = Sandbox::new().build();
    let pb = dev.playbook("two-removals", TWO_REMOVALS);
    let before = dev.tree_hash();
    let mut p = pty(&dev, &["run", &pb]);
    p.exp_string("[y/N] ").unwrap();
    p.send_line("n").unwrap();
    p.exp_string("nothing was changed").unwrap();
    p.exp_eof().unwrap();
    assert_eq!(exit_code(&p), 4);
    before.assert_same(&dev.tree_hash(), "a declined run");
    assert!(dev.run_ids().is_empty());

    // purge's question too.
    dev.reenroll(&["run", &pb, "--yes"]).exit(0);
    let mut p = pty(&dev, &["purge", "--older-than", "1s"]);
    p.exp_string("[y/N] ").unwrap();
    p.send_line("").unwrap();
    p.exp_string("nothing was purged").unwrap();
    p.exp_eof().unwrap();
    assert_eq!(exit_code(&p), 4);
    assert!(dev.run_dir(&dev.last_run()).join("quarantine").exists());
}
