//! Recovery edge cases found in review: an interrupted rollback is never carried forward, a
//! restart that was never scheduled is scheduled again, the LaunchDaemon leaves on rollback, and
//! purge keeps what a failed run may still need.

mod support;

use support::{Sandbox, REMOVE_REBOOT_REMOVE};

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

const PURGE_TESTSVC: &str = r#"
name = "purge-testsvc"
description = "Delete the testsvc items."
[[steps]]
id = "purge-kc"
title = "Delete the testsvc items"
[steps.action]
kind = "keychain-purge"
keychains = ["users"]
[[steps.action.remove]]
name = "testsvc"
any = { contains = "testsvc" }
"#;

/// Every `applied` record has its `intent` earlier in the journal.
fn assert_write_ahead(journal: &[serde_json::Value]) {
    let mut intents = std::collections::BTreeSet::new();
    for r in journal {
        let key = (r["step"].to_string(), r["n"].to_string());
        match r["type"].as_str() {
            Some("intent") => {
                intents.insert(key);
            }
            Some("applied") => assert!(
                intents.contains(&key),
                "applied without an intent first: {r}"
            ),
            _ => {}
        }
    }
}

#[test]
fn every_keychain_delete_is_journaled_before_it_happens_copy_by_copy() {
    let dev = Sandbox::new().build();
    // Two copies of one identity: the first cannot be exported, the second can.
    let kc = dev.path("/Users/alice/Library/Keychains/sandbox-keychain.plist");
    let mut items = plist::Value::from_file(&kc).unwrap().into_array().unwrap();
    for (data, extractable) in [(&b"COPY-A"[..], false), (&b"COPY-B-SECRET"[..], true)] {
        let mut d = plist::Dictionary::new();
        d.insert("class".into(), "generic-password".into());
        d.insert("account".into(), "acct".into());
        d.insert("service".into(), "testsvc".into());
        d.insert("data".into(), plist::Value::Data(data.to_vec()));
        d.insert("extractable".into(), extractable.into());
        items.push(plist::Value::Dictionary(d));
    }
    plist::Value::Array(items).to_file_xml(&kc).unwrap();
    let pb = dev.playbook("purge-testsvc", PURGE_TESTSVC);
    let id = dev.reenroll(&["run", &pb, "--yes"]).exit(0).run_id();
    let journal = dev.journal(&id);
    assert_write_ahead(&journal);
    let deletes = journal
        .iter()
        .filter(|r| r["type"] == "intent" && r["change"]["op"] == "delete")
        .count();
    assert_eq!(deletes, 2, "one intent per copy");
    assert!(!dev
        .read("/Users/alice/Library/Keychains/sandbox-keychain.plist")
        .contains("testsvc"));
    // Rollback puts back what could be exported, with its data; the other is listed.
    dev.reenroll(&["rollback", "--yes"])
        .exit(0)
        .stdout_contains("cannot be undone");
    let text = dev.read("/Users/alice/Library/Keychains/sandbox-keychain.plist");
    assert_eq!(text.matches("testsvc").count(), 1, "{text}");
    // The exported secret lives only in the run's 0600 files, never in the journal.
    assert!(!serde_json::to_string(&dev.journal(&id))
        .unwrap()
        .contains("COPY-B-SECRET"));
}

const PURGE_PORTAL: &str = r#"
name = "purge-portal"
description = "Remove alice's Company Portal folder."
[[steps]]
id = "purge"
title = "Remove the folder"
[steps.action]
kind = "remove"
paths = ["/Users/alice/Library/Application Support/com.microsoft.CompanyPortalMac"]
"#;

const PORTAL: &str = "Users/alice/Library/Application Support/com.microsoft.CompanyPortalMac";

#[test]
fn a_crash_inside_a_move_across_volumes_loses_nothing() {
    for point in ["move-staged:0", "move-copied:0"] {
        let dev = Sandbox::new().build();
        let before = dev.tree_hash();
        let pb = dev.playbook("purge-portal", PURGE_PORTAL);
        dev.reenroll(&["run", &pb, "--yes"])
            .fault(&format!("exdev,crash@{point}"))
            .killed();
        // resume finishes (or redoes) the move; the folder is gone, nothing is left beside it
        dev.reenroll(&["resume"]).fault("exdev").exit(0);
        assert!(!dev.exists(&format!("/{PORTAL}")), "{point}");
        let after = dev.tree_hash();
        let diff = before.diff(&after);
        assert!(
            diff.added.is_empty(),
            "{point}: leftovers beside the path:\n{diff}"
        );
        // and rollback brings back exactly what was there
        dev.reenroll(&["rollback", "--yes"]).fault("exdev").exit(0);
        before
            .subtree(PORTAL)
            .assert_same(&dev.tree_hash().subtree(PORTAL), point);
    }
}

#[test]
fn a_restore_across_volumes_never_touches_a_users_look_alike_file() {
    let dev = Sandbox::new().build();
    let lookalike = format!("/{PORTAL}.partial/doc.txt");
    dev.write(&lookalike, "the user's own file");
    let pb = dev.playbook("purge-portal", PURGE_PORTAL);
    dev.reenroll(&["run", &pb, "--yes"]).fault("exdev").exit(0);
    dev.reenroll(&["rollback", "--yes"]).fault("exdev").exit(0);
    assert_eq!(dev.read(&lookalike), "the user's own file");
    assert!(dev.exists(&format!("/{PORTAL}")));
}

/// The pids the sandbox's fake `pgrep -x shutdown` reports: the children a fake `shutdown -r +N`
/// left waiting for the restart, while they live (like Apple's, they hold the caller's stdout
/// and stderr open until then, at most 30 s in the sandbox).
fn shutdown_children(dev: &support::Device) -> Vec<String> {
    let out = std::process::Command::new(dev.path("/usr/bin/pgrep"))
        .args(["-x", "shutdown"])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("running the sandbox's fake pgrep");
    let pids: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(
        out.status.code(),
        Some(if pids.is_empty() { 1 } else { 0 }),
        "{out:?}"
    );
    pids
}

#[test]
fn the_restart_step_returns_while_shutdown_waits_and_rollback_cancels_it() {
    let dev = Sandbox::new().build();
    let pb = dev.playbook("rrr", REMOVE_REBOOT_REMOVE);
    let id = dev.reenroll(&["run", &pb, "--yes"]).exit(3).run_id();
    // The run paused while shutdown's child still waits for the restart: it did not wait for
    // the child (which would have given up after 30 s).
    let children = shutdown_children(&dev);
    assert_eq!(children.len(), 1, "{children:?}");
    let journal = dev.journal(&id);
    assert!(
        journal
            .iter()
            .any(|r| r["type"] == "note" && r["key"] == "reboot-at:restart"),
        "the restart was not journaled: {journal:?}"
    );
    // reenroll checked that the restart is scheduled, and kept shutdown's output in its log.
    assert!(dev
        .command_log()
        .iter()
        .any(|l| l == "/usr/bin/pgrep -x shutdown"));
    let log = dev.read("/var/log/reenroll.log");
    assert!(
        log.contains(&format!("shutdown: [pid {}]", children[0])),
        "{log}"
    );
    // The run lock is free: status reads the run, rollback takes the lock and cancels the
    // restart, ending shutdown's child.
    assert_eq!(dev.last_run_status()["state"], "paused");
    dev.reenroll(&["rollback", "--yes"])
        .exit(0)
        .stdout_contains("cancelled the restart scheduled for");
    assert_eq!(shutdown_children(&dev), Vec::<String>::new());
    assert!(!dev.exists("/var/db/sandbox/pending-reboot"));
    assert_eq!(dev.last_run_status()["state"], "rolled-back");
    // Nothing left to restart: a simulated restart finds nothing scheduled.
    dev.boot()
        .exit(0)
        .stdout_contains("no restart was scheduled");
}

#[test]
fn a_restart_not_scheduled_despite_shutdown_exiting_0_fails_the_step() {
    let dev = Sandbox::new().build();
    // A shutdown that says it scheduled the restart but leaves no process waiting for it.
    dev.script("/sbin/shutdown", "echo \"Shutdown at $(date).\"\nexit 0");
    let pb = dev.playbook("rrr", REMOVE_REBOOT_REMOVE);
    let run = dev.reenroll(&["run", &pb, "--yes"]).exit(1);
    run.stdout_contains("no `shutdown` process");
    let id = run.run_id();
    assert!(!dev
        .journal(&id)
        .iter()
        .any(|r| r["type"] == "note" && r["key"] == "reboot-at:restart"));
    assert_eq!(dev.step_states()["restart"], "failed");
}

const REMOVE_PREFS: &str = r#"
name = "remove-prefs"
description = "Remove alice's Company Portal preferences."
[[steps]]
id = "first"
title = "Remove the preferences"
[steps.action]
kind = "remove"
paths = ["/Users/alice/Library/Preferences/com.microsoft.CompanyPortalMac.plist"]
"#;

#[test]
fn a_rollback_that_cannot_restore_everything_leaves_the_run_open_and_purge_keeps_it() {
    let prefs = "/Users/alice/Library/Preferences/com.microsoft.CompanyPortalMac.plist";
    let dev = Sandbox::new().build();
    let original = std::fs::read(dev.path(prefs)).unwrap();
    let pb = dev.playbook("remove-prefs", REMOVE_PREFS);
    let id = dev.reenroll(&["run", &pb, "--yes"]).exit(0).run_id();
    assert!(!dev.exists(prefs));
    // Something new stands at the original path: the restore conflicts, both are kept.
    dev.write(prefs, "written by Company Portal since");
    dev.reenroll(&["rollback", "--yes"])
        .exit(1)
        .stdout_contains("both are kept")
        .stdout_contains("rollback incomplete: 1 item not restored");
    let st = dev.last_run_status();
    assert_eq!(st["state"], "rollback-incomplete", "{st:#}");
    assert!(
        st["not_restored"][0]
            .as_str()
            .unwrap()
            .starts_with("first: conflict"),
        "{st:#}"
    );
    let ea = dev.reenroll(&["status", "--jamf-ea"]).exit(0).stdout;
    assert!(ea.starts_with("<result>rollback-incomplete first "), "{ea}");
    dev.reenroll(&["status"])
        .exit(0)
        .stdout_contains("rollback incomplete: 1 item not restored");
    // purge keeps the quarantine the retry needs, and says so.
    dev.reenroll(&["purge", "--older-than", "0s", "--yes"])
        .exit(0)
        .stdout_contains(&format!("kept run {id}: rollback incomplete"))
        .stdout_contains("0 run(s) purged");
    assert!(dev.run_dir(&id).join("quarantine").join("0").exists());
    // The run is still open: a new run of the playbook is refused until it is finished.
    dev.reenroll(&["run", &pb, "--yes"])
        .exit(4)
        .stderr_contains("rollback-incomplete");
    // The conflict resolved, `rollback` (no id: the open run) retries it and completes.
    dev.remove(prefs);
    dev.reenroll(&["rollback", "--yes"])
        .exit(0)
        .stdout_contains("1 restored");
    assert_eq!(std::fs::read(dev.path(prefs)).unwrap(), original);
    assert_eq!(dev.last_run_status()["state"], "rolled-back");
    dev.reenroll(&["rollback", "--yes"])
        .exit(4)
        .stderr_contains("is already rolled back");
}
