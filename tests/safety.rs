//! Safety (issue 2): symlink traps are refused, not followed; malformed playbooks and invalid
//! invocations change nothing; one run at a time; a paused run is not silently replaced.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use support::{Cmd, Device, Sandbox, TreeHash};

const USERS: &[&str] = &["zoë", "jdoe:/Users/Shared/homes/jdoe"];

const PURGE_USERS: &str = r#"
name = "purge-users"
description = "Per-user removals."

[[steps]]
id = "purge-users"
title = "Remove each user's Company Portal files"
[steps.action]
kind = "remove"
paths = [
  "{home}/Library/Preferences/com.microsoft.CompanyPortalMac.plist",
  "{home}/Library/Application Support/com.microsoft.CompanyPortalMac",
  "{home}/Library/Cookies/com.microsoft.CompanyPortalMac.binarycookies",
]
"#;

fn outside_hash(dev: &Device) -> TreeHash {
    TreeHash::of(dev.outside(), &[])
}

#[test]
fn symlink_traps_are_refused_not_followed() {
    let dev = Sandbox::new().users(USERS).build();
    let pb = dev.playbook("purge-users", PURGE_USERS);
    let outside = dev.outside();
    // Outside the sandbox: a Library that looks like jdoe's, and a lone canary.
    let fake_lib = outside.join("Library");
    for rel in [
        "Preferences/com.microsoft.CompanyPortalMac.plist",
        "Application Support/com.microsoft.CompanyPortalMac/settings.json",
        "Cookies/com.microsoft.CompanyPortalMac.binarycookies",
    ] {
        let p = fake_lib.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, "canary: must survive").unwrap();
    }
    std::fs::write(outside.join("canary"), "canary: must survive").unwrap();

    // jdoe's Library is a link out of the sandbox.
    let jdoe_lib = "/Users/Shared/homes/jdoe/Library";
    std::fs::rename(
        dev.path(jdoe_lib),
        dev.path("/Users/Shared/homes/jdoe/Library.real"),
    )
    .unwrap();
    std::os::unix::fs::symlink(&fake_lib, dev.path(jdoe_lib)).unwrap();
    // zoë's preferences file is a link to the canary.
    let zoe_pref = "/Users/zoë/Library/Preferences/com.microsoft.CompanyPortalMac.plist";
    dev.remove(zoe_pref);
    std::os::unix::fs::symlink(outside.join("canary"), dev.path(zoe_pref)).unwrap();
    let before_outside = outside_hash(&dev);
    let before = dev.tree_hash();

    let plan = dev.reenroll(&["plan", &pb, "--json"]).exit(0).json();
    let changes = plan["steps"][0]["changes"].as_array().unwrap().clone();
    let refused: Vec<&str> = changes
        .iter()
        .filter(|c| c["op"] == "refuse")
        .map(|c| c["target"].as_str().unwrap())
        .collect();
    assert_eq!(refused.len(), 3, "{changes:#?}");
    for c in changes.iter().filter(|c| c["op"] == "refuse") {
        assert!(c["target"].as_str().unwrap().starts_with(jdoe_lib));
        assert!(c["reason"].as_str().unwrap().contains("symlink"), "{c}");
        assert_eq!(c["reversible"], false);
    }
    // A link that is itself the target is removed as a link.
    assert!(changes
        .iter()
        .any(|c| c["op"] == "remove" && c["target"] == zoe_pref));
    before.assert_same(&dev.tree_hash(), "plan");

    let run = dev.reenroll(&["run", &pb, "--yes"]).exit(6);
    run.stdout_contains("exception");
    for t in &refused {
        run.stdout_contains(t);
    }
    let st = dev.last_run_status();
    assert_eq!(st["state"], "completed");
    assert_eq!(st["exceptions"].as_array().unwrap().len(), 3, "{st:#}");
    before_outside.assert_same(&outside_hash(&dev), "outside the sandbox after the run");
    assert!(!dev.exists(zoe_pref), "the link itself is removed");
    assert!(!dev.exists("/Users/zoë/Library/Application Support/com.microsoft.CompanyPortalMac"));

    dev.reenroll(&["rollback", "--yes"]).exit(0);
    before.assert_same(&dev.tree_hash(), "after rollback");
    before_outside.assert_same(&outside_hash(&dev), "outside the sandbox after rollback");
}

const BASE: &str = r#"name = "bad"
description = "d"
[vars.label]
default = "x"
[[steps]]
id = "one"
title = "One"
[steps.action]
kind = "remove"
paths = ["/Library/Preferences/com.microsoft.CompanyPortalMac.plist"]
[[steps]]
id = "two"
title = "Two"
[steps.action]
kind = "remove"
paths = ["/Library/Preferences/com.jamf.management.jamfAAD.plist"]
"#;

#[test]
fn malformed_playbooks_exit_2_naming_file_line_and_column_and_change_nothing() {
    let dev = Sandbox::new().build();
    let before = dev.tree_hash();
    let second = "/Library/Preferences/com.jamf.management.jamfAAD.plist";
    // (name, playbook, 1-based line of the fault, what the message names)
    let cases: Vec<(&str, String, usize, &str)> = vec![
        (
            "bad-toml",
            BASE.replace("description = \"d\"", "description = "),
            2,
            "",
        ),
        (
            "unknown-key",
            BASE.replace("title = \"Two\"", "title = \"Two\"\nsurprise = 1"),
            14,
            "surprise",
        ),
        (
            "unknown-kind",
            BASE.replacen("kind = \"remove\"", "kind = \"explode\"", 1),
            9,
            "explode",
        ),
        (
            "duplicate-id",
            BASE.replace("id = \"two\"", "id = \"one\""),
            12,
            "duplicate step id",
        ),
        (
            "undefined-var",
            BASE.replace(second, "/Library/{nope}/x.plist"),
            16,
            "{nope}",
        ),
        (
            "relative-path",
            BASE.replace(second, "Library/Preferences/x.plist"),
            16,
            "absolute",
        ),
        (
            "dot-dot",
            BASE.replace(second, "/Library/../etc/x.plist"),
            16,
            "..",
        ),
    ];
    let ok = dev.playbook("ok", BASE);
    dev.reenroll(&["plan", &ok]).exit(0);
    for (name, text, line, names) in &cases {
        let pb = dev.playbook(name, text);
        for cmd in [vec!["plan", pb.as_str()], vec!["run", pb.as_str(), "--yes"]] {
            let r = dev.reenroll(&cmd).exit(2);
            let at = format!("{pb}:{line}:");
            r.stderr_contains(&at).stderr_contains(names);
            // file:line:column, the column a number
            let col = r.stderr[r.stderr.find(&at).unwrap() + at.len()..]
                .split(':')
                .next()
                .unwrap();
            assert!(col.parse::<usize>().is_ok(), "{name}: no column\n{r}");
        }
        before.assert_same(&dev.tree_hash(), name);
    }
    assert!(
        !dev.state_dir().exists(),
        "an invalid playbook must not reach the state directory"
    );
}

#[test]
fn invalid_invocations_exit_2_and_change_nothing() {
    let dev = Sandbox::new().build();
    let pb = dev.playbook("purge-users", PURGE_USERS);
    let before = dev.tree_hash();
    // stdin is not a terminal: nobody can confirm.
    dev.reenroll(&["run", &pb]).exit(2).stderr_contains("--yes");
    dev.reenroll(&["rollback"]).exit(2).stderr_contains("--yes");
    // Unknown variables.
    dev.reenroll(&["plan", "--set", "no_such_var=1"])
        .exit(2)
        .stderr_contains("no_such_var");
    dev.reenroll(&["run", "--yes", "--set", "no_such_var=1"])
        .exit(2)
        .stderr_contains("no_such_var");
    dev.reenroll(&["run", "--yes", "--set", "nokeyvalue"])
        .exit(2);
    dev.reenroll(&["run", "no-such-playbook", "--yes"]).exit(2);
    before.assert_same(&dev.tree_hash(), "invalid invocations");
    assert!(dev.status()["runs"].as_array().unwrap().is_empty());
    // Global options before or after the subcommand.
    Cmd::new(vec![
        "plan".into(),
        pb.clone().into(),
        "--root".into(),
        dev.root().into(),
        "-q".into(),
    ])
    .exit(0);
}

#[test]
fn a_host_that_is_not_a_mac_refuses_changes_without_root() {
    if cfg!(target_os = "macos") {
        return;
    }
    // NOTE: --state-dir and a playbook naming nothing that exists keep the host safe even if
    // the guard were broken.
    let tmp = tempfile::tempdir().unwrap();
    let pb = tmp.path().join("pb.toml");
    std::fs::write(
        &pb,
        format!(
            "allow_paths = [\"/reenroll-test-does-not-exist\"]\n{}",
            PURGE_USERS.replace("{home}/Library", "/reenroll-test-does-not-exist")
        ),
    )
    .unwrap();
    let state = tmp.path().join("state");
    let r = Cmd::new(vec![
        "run".into(),
        pb.clone().into(),
        "--yes".into(),
        "--state-dir".into(),
        state.clone().into(),
    ])
    .exit(4);
    r.stderr_contains("--root");
    assert!(!state.exists());
}

/// A run step that holds the run until the test lets it go: it writes `hold.started` beside
/// itself, waits for `hold.release`, then writes `hold.done` (the state its check looks for).
const HOLD: &str = r#"
name = "hold"
description = "A long step."

[[steps]]
id = "hold"
title = "Hold the run"
[steps.action]
kind = "run"
program = "/usr/local/bin/hold"
done_when = { present = ["/usr/local/bin/hold.done"] }
"#;

fn wait_for(path: &Path) {
    // A bound so a broken build fails instead of hanging; nothing is asserted about time.
    let deadline = Instant::now() + Duration::from_secs(120);
    while !path.exists() {
        assert!(
            Instant::now() < deadline,
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn of_two_concurrent_runs_one_is_refused_naming_the_holder() {
    let dev = Sandbox::new().build();
    dev.script(
        "/usr/local/bin/hold",
        r#"d=$(dirname "$0")
: >"$d/hold.started"
while [ ! -e "$d/hold.release" ]; do sleep 0.02; done
: >"$d/hold.done""#,
    );
    let hold = dev.playbook("hold", HOLD);
    let purge = dev.playbook("purge-users", PURGE_USERS);
    let before = dev.tree_hash();

    let first = dev.reenroll(&["run", &hold, "--yes"]).spawn();
    wait_for(&dev.path("/usr/local/bin/hold.started"));
    let st = dev.last_run_status();
    assert_eq!(st["state"], "running");
    let holder = st["id"].as_str().unwrap().to_string();

    dev.reenroll(&["run", &hold, "--yes"])
        .exit(4)
        .stderr_contains(&holder);
    dev.reenroll(&["run", &purge, "--yes"])
        .exit(4)
        .stderr_contains(&holder);
    dev.reenroll(&["rollback", "--yes"]).exit(4);
    dev.reenroll(&["resume"]).exit(4);
    // Nothing of the refused runs touched the device.
    let mid = dev.tree_hash();
    let diff = before.diff(&mid);
    assert!(
        diff.removed.is_empty() && diff.changed.is_empty(),
        "refused runs changed the device:\n{diff}"
    );

    dev.write("/usr/local/bin/hold.release", "");
    let out = first.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(dev.run_ids(), [holder]);
    // Once the lock is free the other playbook runs.
    dev.reenroll(&["run", &purge, "--yes"]).exit(0);
}

const OPERATOR: &str = r#"
name = "operator"
description = "Pauses for a person."

[vars.label]
default = "plain"
description = "Not a timer."

[vars.settle_minutes]
default = 0
timer = true
description = "A timer."

[[steps]]
id = "purge-users"
title = "Remove each user's preferences"
[steps.action]
kind = "remove"
paths = ["{home}/Library/Preferences/com.microsoft.CompanyPortalMac.plist"]

[[steps]]
id = "ask"
title = "Ask a person ({label})"
[steps.action]
kind = "operator"
instructions = "Press the button labelled {label}."
"#;

#[test]
fn a_paused_run_must_be_resumed_or_rolled_back_and_its_variables_stay_frozen() {
    let dev = Sandbox::new().users(USERS).build();
    let pb = dev.playbook("operator", OPERATOR);
    let run = dev.reenroll(&["run", &pb, "--yes"]).exit(3);
    run.stdout_contains("Press the button labelled plain");
    let id = run.run_id();
    assert_eq!(dev.last_run_status()["state"], "paused");

    let again = dev.reenroll(&["run", &pb, "--yes"]).exit(4);
    again
        .stderr_contains(&id)
        .stderr_contains("resume")
        .stderr_contains("rollback");

    // Only timer variables may change on resume.
    dev.reenroll(&["resume", "--set", "label=other"])
        .exit(2)
        .stderr_contains("timer");
    dev.reenroll(&["resume", "--set", "nope=1"]).exit(2);
    dev.reenroll(&["resume", "--confirm", "no-such-step"])
        .exit(2);
    // Still paused, not confirmed, after the refusals.
    dev.reenroll(&["resume"]).exit(3);
    dev.reenroll(&["resume", "--set", "settle_minutes=5", "--confirm", "ask"])
        .exit(0)
        .stdout_contains("settle_minutes set to 5");
    assert_eq!(dev.last_run_status()["state"], "completed");
    // A completed run has nothing to resume.
    dev.reenroll(&["resume", &id]).exit(4);
}

#[test]
fn a_protected_container_macos_will_not_let_go_of_is_an_exception_naming_the_pppc_profile() {
    let dev = Sandbox::new().build();
    let (user, home) = dev.users().into_iter().next().unwrap();
    let container = format!("{home}/Library/Containers/com.microsoft.entrabroker.BrokerApp");
    assert!(dev.exists(&container));
    // plan says which removals need Full Disk Access
    let plan = dev
        .reenroll(&["plan", "--json", "reregister"])
        .exit(0)
        .json();
    let change = plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["changes"].as_array().unwrap().clone())
        .find(|c| c["target"] == container.as_str())
        .expect("the container is planned");
    assert!(
        change["reason"]
            .as_str()
            .unwrap()
            .contains("Full Disk Access"),
        "{change}"
    );
    // Without Full Disk Access macOS answers EPERM even to root (injected here).
    let run = dev
        .reenroll(&["run", "--yes", "reregister"])
        .fault(&format!("eperm@{container}"))
        .run();
    assert_eq!(
        run.code,
        Some(3),
        "paused at the operator step, with the exception recorded\n{run}"
    );
    run.stdout_contains(&container)
        .stdout_contains("com.github.reenroll");
    assert!(
        dev.exists(&container),
        "{user}'s container is still there, never counted as removed"
    );
    dev.reenroll(&["resume", "--confirm", "run-registration-policy"])
        .exit(6);
    let st = dev.last_run_status();
    let exceptions = st["exceptions"].to_string();
    assert!(
        exceptions.contains(&container) && exceptions.contains("not permitted"),
        "{exceptions}"
    );
    assert!(exceptions.contains("Full Disk Access"), "{exceptions}");
}

const HOLD_THEN_PURGE: &str = r#"
name = "hold-then-purge"
description = "A step that takes a while, then a removal."

[[steps]]
id = "hold"
title = "Wait until released"
[steps.action]
kind = "run"
program = "/usr/local/bin/hold"
done_when = { present = ["/usr/local/bin/hold.done"] }

[[steps]]
id = "purge-users"
title = "Remove each user's preferences"
[steps.action]
kind = "remove"
paths = ["{home}/Library/Preferences/com.microsoft.CompanyPortalMac.plist"]
"#;

#[test]
fn sigterm_lets_the_current_step_finish_then_pauses_the_run() {
    a_signal_lets_the_current_step_finish_then_pauses_the_run(nix::sys::signal::Signal::SIGTERM);
}

/// A closed terminal or a dropped ssh session (SIGHUP) is handled like SIGTERM.
#[test]
fn sighup_lets_the_current_step_finish_then_pauses_the_run() {
    a_signal_lets_the_current_step_finish_then_pauses_the_run(nix::sys::signal::Signal::SIGHUP);
}

fn a_signal_lets_the_current_step_finish_then_pauses_the_run(signal: nix::sys::signal::Signal) {
    let dev = Sandbox::new().build();
    dev.script(
        "/usr/local/bin/hold",
        r#"d=$(dirname "$0")
trap ': >"$d/hold.signalled"' TERM INT HUP
: >"$d/hold.started"
while [ ! -e "$d/hold.release" ]; do sleep 0.02; done
: >"$d/hold.done""#,
    );
    let pb = dev.playbook("hold-then-purge", HOLD_THEN_PURGE);
    let child = dev.reenroll(&["run", &pb, "--yes"]).spawn();
    wait_for(&dev.path("/usr/local/bin/hold.started"));
    // What a Ctrl-C or launchd's stop sends to reenroll (not to its own process group).
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), signal).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    dev.write("/usr/local/bin/hold.release", "");
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "paused\n{stdout}");
    assert!(stdout.contains(signal.as_str()), "{stdout}");
    // The step in progress finished and was recorded; its program never saw the signal.
    assert!(dev.exists("/usr/local/bin/hold.done"));
    assert!(
        !dev.exists("/usr/local/bin/hold.signalled"),
        "the child got the signal"
    );
    let states = dev.step_states();
    assert_eq!(states["hold"], "done", "{states:?}");
    assert_eq!(states["purge-users"], "pending", "{states:?}");
    assert_eq!(dev.last_run_status()["state"], "paused");
    // and resume carries on
    dev.reenroll(&["resume"]).exit(0);
    assert_eq!(dev.step_states()["purge-users"], "done");
}
