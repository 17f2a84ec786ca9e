//! Recovery edge cases found in review: an interrupted rollback is never carried forward, a
//! restart that was never scheduled is scheduled again, the LaunchDaemon leaves on rollback, and
//! purge keeps what a failed run may still need.

mod support;

use support::Sandbox;

const REMOVE_REBOOT_REMOVE: &str = r#"
name = "remove-reboot-remove"
description = "A removal, a restart, another removal."

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
id = "second"
title = "Remove the app"
[steps.action]
kind = "remove"
paths = ["/Applications/Company Portal.app"]
"#;

const DAEMON: &str = "/Library/LaunchDaemons/com.github.reenroll.plist";

#[test]
fn an_interrupted_rollback_is_never_resumed_forward() {
    let dev = Sandbox::new().build();
    let pb = dev.playbook("rrr", REMOVE_REBOOT_REMOVE);
    dev.reenroll(&["run", &pb, "--yes"]).exit(3);
    assert!(dev.exists(DAEMON));
    // The rollback dies after its first restore.
    dev.reenroll(&["rollback", "--yes"])
        .fault("crash@rollback-after:1")
        .killed();
    // Neither an admin nor the daemon at the next boot may carry the run forward now.
    dev.reenroll(&["resume"])
        .exit(4)
        .stderr_contains("rollback");
    dev.boot().exit(0);
    assert!(
        dev.exists("/Applications/Company Portal.app"),
        "the daemon carried the run forward"
    );
    assert_eq!(dev.step_states()["second"], "pending");
    // Rolling back again finishes the job.
    dev.reenroll(&["rollback", "--yes"]).exit(0);
    assert_eq!(dev.last_run_status()["state"], "rolled-back");
    assert!(dev.exists("/Users/alice/Library/Preferences/com.microsoft.CompanyPortalMac.plist"));
    assert!(!dev.exists(DAEMON));
}

#[test]
fn a_crash_before_shutdown_ran_schedules_the_restart_again() {
    let dev = Sandbox::new().build();
    let pb = dev.playbook("rrr", REMOVE_REBOOT_REMOVE);
    // Die inside the restart step, before `shutdown` ran (change 2: installing the daemon).
    dev.reenroll(&["run", &pb, "--yes"])
        .fault("crash@after-intent:restart#2")
        .killed();
    assert!(!dev
        .command_log()
        .iter()
        .any(|l| l.starts_with("/sbin/shutdown")));
    // resume sees no restart was scheduled and schedules it.
    dev.reenroll(&["resume"])
        .exit(3)
        .stdout_contains("restart scheduled");
    assert!(dev
        .command_log()
        .iter()
        .any(|l| l == "/sbin/shutdown -r +1"));
    assert!(dev.exists(DAEMON));
    // and after the restart the daemon finishes the run
    dev.boot().exit(0);
    assert_eq!(dev.last_run_status()["state"], "completed");
    assert!(!dev.exists(DAEMON));
}

#[test]
fn rollback_boots_the_daemon_out_and_cancels_a_pending_restart() {
    let dev = Sandbox::new().build();
    let pb = dev.playbook("rrr", REMOVE_REBOOT_REMOVE);
    dev.reenroll(&["run", &pb, "--yes"]).exit(3);
    dev.clear_command_log();
    dev.reenroll(&["rollback", "--yes"])
        .exit(0)
        .stdout_contains("restart scheduled for");
    let log = dev.command_log();
    assert!(
        log.iter().any(|l| l == "/usr/bin/killall shutdown"),
        "{log:?}"
    );
    assert!(
        log.iter()
            .any(|l| l == "/bin/launchctl bootout system/com.github.reenroll"),
        "{log:?}"
    );
    assert!(!dev.exists(DAEMON));
}

#[test]
fn purge_keeps_the_quarantine_of_a_failed_run() {
    let dev = Sandbox::new().build();
    let pb = dev.playbook(
        "fails",
        r#"
name = "fails"
description = "A removal, then a step that fails."
[[steps]]
id = "first"
title = "Remove the preferences"
[steps.action]
kind = "remove"
paths = ["{home}/Library/Preferences/com.microsoft.CompanyPortalMac.plist"]
[[steps]]
id = "broken"
title = "A program that fails"
[steps.action]
kind = "run"
program = "/usr/bin/pkill"
args = ["-x", "nothing"]
"#,
    );
    let id = dev.reenroll(&["run", &pb, "--yes"]).exit(1).run_id();
    dev.reenroll(&["purge", "--older-than", "0s", "--yes"])
        .exit(0)
        .stdout_contains("0 run(s) purged");
    assert!(dev.run_dir(&id).join("quarantine").is_dir());
    dev.reenroll(&["rollback", "--yes"]).exit(0);
    assert!(dev.exists("/Users/alice/Library/Preferences/com.microsoft.CompanyPortalMac.plist"));
}
