//! Hostile input values and playbooks (issue 11, §3): timers that are not finite, negative or
//! beyond their maximum, paths outside the allowed roots, unknown facts, NUL bytes, invalid
//! UTF-8, and user records that cannot be read or point elsewhere. Each is refused before
//! anything changes (exit 2, file:line:column for a playbook), or confined to what it concerns.

mod support;

use support::Sandbox;

/// Every way to give a timer a value that cannot be waited: plan, run, the Jamf policy and the
/// managed preferences refuse it with exit 2 and nothing changed, naming the variable.
#[test]
fn timers_that_are_not_finite_or_beyond_their_maximum_are_refused_before_anything_changes() {
    let dev = Sandbox::new().build();
    let before = dev.tree_hash();
    let cases = [
        "login_wait_minutes=inf",
        "login_wait_minutes=1e300",
        "login_wait_minutes=9223372036854775807",
        "intune_settle_minutes=inf",
        "intune_settle_minutes=NaN",
        "intune_settle_minutes=-5",
        "intune_settle_minutes=10081",
        "reboot_delay_minutes=9223372036854775807",
        "reboot_delay_minutes=1441",
        "enrollment_timeout_minutes=-1",
        "server_wait_minutes=1e300",
    ];
    for set in cases {
        let var = set.split('=').next().unwrap();
        dev.reenroll(&["plan", "--set", set])
            .exit(2)
            .stderr_contains(var);
        dev.reenroll(&["run", "--yes", "--set", set])
            .exit(2)
            .stderr_contains(var)
            .stderr_contains("nothing was changed");
        before.assert_same(&dev.tree_hash(), set);
    }
    // A Jamf policy parameter names its parameter number.
    dev.reenroll(&["jamf-policy", "/", "Mac", "alice", "login_wait_minutes=inf"])
        .exit(2)
        .stderr_contains("parameter 4");
    // The managed preferences (a configuration profile) too.
    let mut d = plist::Dictionary::new();
    d.insert(
        "intune_settle_minutes".into(),
        plist::Value::Integer(i64::MAX.into()),
    );
    let prefs = dev.path("/Library/Managed Preferences/com.github.reenroll.plist");
    std::fs::create_dir_all(prefs.parent().unwrap()).unwrap();
    plist::Value::Dictionary(d).to_file_binary(&prefs).unwrap();
    let before = dev.tree_hash();
    dev.reenroll(&["plan"])
        .exit(2)
        .stderr_contains("managed preferences");
    dev.reenroll(&["run", "--yes"]).exit(2);
    before.assert_same(&dev.tree_hash(), "managed preferences");
    assert!(dev.status()["runs"].as_array().unwrap().is_empty());
    // The maxima themselves are accepted.
    std::fs::remove_file(&prefs).unwrap();
    dev.reenroll(&[
        "plan",
        "--set",
        "intune_settle_minutes=10080",
        "--set",
        "reboot_delay_minutes=1440",
    ])
    .exit(0);
}

#[test]
fn resume_set_refuses_a_timer_that_cannot_be_waited() {
    let dev = Sandbox::new().build();
    // The run goes as far as the restart and pauses there.
    dev.reenroll(&["run", "--yes"]).exit(3);
    let journal_before = dev.journal(&dev.last_run()).len();
    for set in [
        "intune_settle_minutes=inf",
        "login_wait_minutes=1e300",
        "login_wait_minutes=-1",
    ] {
        dev.reenroll(&["resume", "--set", set])
            .exit(2)
            .stderr_contains(set.split('=').next().unwrap());
    }
    assert_eq!(
        dev.journal(&dev.last_run()).len(),
        journal_before,
        "a refused --set recorded something"
    );
}

fn timer_playbook(field_line: &str) -> String {
    format!(
        r#"name = "t"
description = "d"
[vars.wait]
default = 5
timer = true
[[steps]]
id = "settle"
title = "Settle"
[steps.action]
kind = "gate"
after = []
{field_line}
"#
    )
}

#[test]
fn negative_or_infinite_timers_in_a_playbook_are_refused_at_file_line_column() {
    let dev = Sandbox::new().build();
    let ok = dev.playbook("ok", &timer_playbook("settle_minutes = \"{wait}\""));
    dev.reenroll(&["plan", &ok]).exit(0);
    for (name, text, line) in [
        ("neg", timer_playbook("settle_minutes = \"-3\""), 12),
        ("inf", timer_playbook("settle_minutes = \"inf\""), 12),
        (
            "neg-default",
            timer_playbook("settle_minutes = \"{wait}\"").replace("default = 5", "default = -5"),
            3,
        ),
    ] {
        let pb = dev.playbook(name, &text);
        dev.reenroll(&["plan", &pb])
            .exit(2)
            .stderr_contains(&format!("{pb}:{line}:"))
            .stderr_contains("settle_minutes");
    }
}

const REMOVE_ONE: &str = r#"name = "rm"
description = "d"

[[steps]]
id = "first"
title = "A harmless removal first"
[steps.action]
kind = "remove"
paths = ["/Library/Preferences/com.jamf.management.jamfAAD.plist"]

[[steps]]
id = "second"
title = "The path under test"
[steps.action]
kind = "remove"
paths = ["PATH"]
"#;

/// Places no playbook may remove are refused at validation, naming file:line:column, before
/// the first (harmless) step runs; not at run time after earlier steps changed the device.
#[test]
fn removals_outside_the_allowed_roots_are_refused_at_validation() {
    let dev = Sandbox::new().users(&["zoë"]).build();
    let before = dev.tree_hash();
    for path in [
        "/",
        "/etc",
        "/Users",
        "/System",
        "/var/db/dslocal",
        "/private/etc/sudoers",
        "{home}/Documents",
        "/Users/zoë/Documents",
        "{home}/Library/Keychains",
        "/Library/Application Support/reenroll",
        "/Library/Application Support/reenroll/runs",
        "/Library/LaunchDaemons/com.apple.something.plist",
        "/Library/Preferences",
        "/opt/x",
    ] {
        let pb = dev.playbook("rm", &REMOVE_ONE.replace("PATH", path));
        for cmd in [vec!["plan", pb.as_str()], vec!["run", pb.as_str(), "--yes"]] {
            dev.reenroll(&cmd)
                .exit(2)
                .stderr_contains(&format!("{pb}:16:"))
                .stderr_contains(path);
        }
        before.assert_same(&dev.tree_hash(), path);
    }
    assert!(dev.status()["runs"].as_array().unwrap().is_empty());
    // Allowed roots, and `allow_paths` widening them visibly.
    for path in [
        "/Library/LaunchDaemons/com.jamfsoftware.task.1.plist",
        "/Library/LaunchAgents/com.microsoft.update.agent.plist",
        "{home}/Library/Caches/com.microsoft.CompanyPortalMac",
        "/Applications/Company Portal.app",
        "/usr/local/jamf",
        "/usr/local/bin/jamf",
    ] {
        let pb = dev.playbook("rm", &REMOVE_ONE.replace("PATH", path));
        dev.reenroll(&["plan", &pb]).exit(0);
    }
    let widened = format!(
        "allow_paths = [\"/opt/x\"]\n{}",
        REMOVE_ONE.replace("PATH", "/opt/x/y")
    );
    let pb = dev.playbook("widened", &widened);
    dev.reenroll(&["plan", &pb])
        .exit(0)
        .stdout_contains("allow_paths: /opt/x");
    let plan = dev.reenroll(&["plan", "--json", &pb]).exit(0).json();
    assert!(
        plan["warnings"].to_string().contains("allow_paths"),
        "{plan}"
    );
    // allow_paths cannot open what is never allowed.
    for entry in ["/", "/etc", "/private", "{home}/Library/Keychains"] {
        let pb = dev.playbook(
            "wide",
            &format!(
                "allow_paths = [\"{entry}\"]\n{}",
                REMOVE_ONE.replace("PATH", "/etc/hosts")
            ),
        );
        dev.reenroll(&["plan", &pb])
            .exit(2)
            .stderr_contains(&format!("{pb}:1:"));
    }
    // The embedded playbooks stay valid.
    dev.reenroll(&["plan", "cause6"]).exit(0);
    dev.reenroll(&["plan", "reregister"]).exit(0);
}

/// A path that passes validation as a template may not leave the allowed roots once its
/// `{variables}` are filled in: `plan` and `run` refuse the value (exit 2) before the first,
/// harmless step runs, naming the variable and what the path became.
#[test]
fn a_variable_cannot_carry_a_removal_outside_the_allowed_roots() {
    let dev = Sandbox::new().build();
    let templated = REMOVE_ONE
        .replace(
            "\n[[steps]]\nid = \"first\"",
            "\n[vars.app]\ndefault = \"com.microsoft.CompanyPortal\"\ndescription = \"the app's support folder\"\n\n[[steps]]\nid = \"first\"",
        )
        .replace("PATH", "/Library/Application Support/{app}");
    let pb = dev.playbook("rm", &templated);
    dev.reenroll(&["plan", &pb]).exit(0);
    let before = dev.tree_hash();
    for (set, says) in [
        (
            "app=reenroll",
            "becomes `/Library/Application Support/reenroll`",
        ),
        ("app=reenroll/runs", "no playbook may touch"),
        ("app=../Keychains", "`..`"),
    ] {
        for cmd in [
            vec!["plan", pb.as_str(), "--set", set],
            vec!["run", pb.as_str(), "--yes", "--set", set],
        ] {
            dev.reenroll(&cmd)
                .exit(2)
                .stderr_contains("step `second`")
                .stderr_contains(set)
                .stderr_contains(says)
                .stderr_contains("nothing was changed");
        }
        before.assert_same(&dev.tree_hash(), set);
    }
    assert!(dev.status()["runs"].as_array().unwrap().is_empty());
}

#[test]
fn unknown_facts_nul_characters_and_invalid_utf8_are_refused_at_file_line_column() {
    let dev = Sandbox::new().build();
    let base = REMOVE_ONE.replace("PATH", "/Library/Preferences/x.plist");
    let fact = base.replace(
        "title = \"The path under test\"",
        "title = \"The path under test\"\nwhen = { fact = \"is_tuesday\" }",
    );
    let pb = dev.playbook("fact", &fact);
    dev.reenroll(&["plan", &pb])
        .exit(2)
        .stderr_contains(&format!("{pb}:14:"))
        .stderr_contains("is_tuesday");
    let known = fact.replace("is_tuesday", "mdm_profile");
    dev.reenroll(&["plan", &dev.playbook("known", &known)])
        .exit(0);
    let nul = base.replace(
        "/Library/Preferences/x.plist",
        "/Library/Preferences/x\\u0000.plist",
    );
    let pb = dev.playbook("nul", &nul);
    dev.reenroll(&["plan", &pb])
        .exit(2)
        .stderr_contains(&format!("{pb}:16:"))
        .stderr_contains("NUL");
    // Invalid UTF-8 on line 6, column 12 (the `h` of "A harmless").
    let mut bytes = base.clone().into_bytes();
    let at = base.find("A harmless").unwrap() + 2;
    bytes[at] = 0xff;
    let path = dev.outside().join("latin1.toml");
    std::fs::write(&path, &bytes).unwrap();
    let p = path.to_str().unwrap();
    dev.reenroll(&["plan", p])
        .exit(2)
        .stderr_contains(&format!("{p}:6:12:"))
        .stderr_contains("UTF-8");
}

const PURGE_USERS: &str = r#"name = "purge-users"
description = "Per-user removals."

[[steps]]
id = "purge-users"
title = "Remove each user's Company Portal preferences"
[steps.action]
kind = "remove"
paths = ["{home}/Library/Preferences/com.microsoft.CompanyPortalMac.plist"]
"#;

const USER_RECORDS: &str = "/var/db/dslocal/nodes/Default/users";
const PREFS: &str = "Library/Preferences/com.microsoft.CompanyPortalMac.plist";

/// A user record whose home climbs out (`/Users/../etc`) is skipped with an exception naming
/// it; the other users' files are still removed (exit 6).
#[test]
fn a_user_record_with_a_climbing_home_is_skipped_with_an_exception_and_the_others_purged() {
    let dev = Sandbox::new().users(&["zoë", "jdoe"]).build();
    let mut d = plist::Dictionary::new();
    for (k, v) in [("name", "evil"), ("uid", "777"), ("home", "/Users/../etc")] {
        d.insert(
            k.into(),
            plist::Value::Array(vec![plist::Value::String(v.into())]),
        );
    }
    plist::Value::Dictionary(d)
        .to_file_binary(dev.path(&format!("{USER_RECORDS}/evil.plist")))
        .unwrap();
    for (_, home) in dev.users() {
        dev.write(&format!("{home}/{PREFS}"), "x");
    }
    let pb = dev.playbook("purge-users", PURGE_USERS);
    let r = dev.reenroll(&["run", &pb, "--yes"]).exit(6);
    r.says("evil").says("/Users/../etc");
    for (name, home) in dev.users() {
        assert!(
            !dev.exists(&format!("{home}/{PREFS}")),
            "{name}'s file was not removed\n{r}"
        );
    }
}

#[test]
fn a_keychain_purge_skips_a_user_record_with_a_climbing_home_with_an_exception() {
    let dev = Sandbox::new().users(&["zoë"]).build();
    let mut d = plist::Dictionary::new();
    for (k, v) in [("name", "evil"), ("uid", "777"), ("home", "/Users/../etc")] {
        d.insert(
            k.into(),
            plist::Value::Array(vec![plist::Value::String(v.into())]),
        );
    }
    plist::Value::Dictionary(d)
        .to_file_binary(dev.path(&format!("{USER_RECORDS}/evil.plist")))
        .unwrap();
    let pb = dev.playbook(
        "kc",
        r#"name = "kc"
description = "d"
[[steps]]
id = "purge-keychains"
title = "Purge"
[steps.action]
kind = "keychain-purge"
keychains = ["users"]
[[steps.action.remove]]
name = "Microsoft"
any = { contains = "microsoft" }
"#,
    );
    let r = dev.reenroll(&["run", &pb, "--yes"]).exit(6);
    r.says("evil");
    assert_eq!(dev.step_states()["purge-keychains"], "done", "{r}");
}

/// Listing the local users fails: the step fails (it never reports "done" having removed
/// nothing), and plan says it could not see.
#[test]
fn a_failure_listing_the_users_fails_the_step() {
    let dev = Sandbox::new().users(&["zoë"]).build();
    let (_, home) = dev.users().remove(0);
    dev.write(&format!("{home}/{PREFS}"), "x");
    // The records folder replaced by a file: read_dir fails with ENOTDIR.
    dev.remove(USER_RECORDS);
    dev.write(USER_RECORDS, "not a folder");
    let pb = dev.playbook("purge-users", PURGE_USERS);
    dev.reenroll(&["plan", &pb])
        .exit(0)
        .says("could not list the local users");
    let r = dev.reenroll(&["run", &pb, "--yes"]).exit(1);
    r.says("local user");
    assert_eq!(dev.step_states()["purge-users"], "failed", "{r}");
}

/// Under a umask of 000, reenroll's log and the daemon's output log are still 0644 (never
/// world-writable).
#[test]
fn log_files_are_0644_whatever_the_umask() {
    use std::os::unix::fs::PermissionsExt;
    let dev = Sandbox::new().build();
    let under_umask_000 = |args: &[&str]| {
        let status = std::process::Command::new("/bin/sh")
            .arg("-c")
            .arg("umask 000 && exec \"$0\" \"$@\"")
            .arg(support::BIN)
            .args(args)
            .env_remove("REENROLL_FAULT")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap();
        status.code()
    };
    let root = dev.root().to_str().unwrap().to_string();
    assert_eq!(under_umask_000(&["--root", &root, "run", "--yes"]), Some(3));
    assert_eq!(under_umask_000(&["sandbox", "boot", &root]), Some(0));
    for log in ["/var/log/reenroll.log", "/var/log/reenroll-daemon.log"] {
        let mode = std::fs::metadata(dev.path(log))
            .unwrap_or_else(|e| panic!("{log}: {e}"))
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o644, "{log} is {mode:o}");
    }
}
