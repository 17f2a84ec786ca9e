//! The engine (issue 2) as an admin meets it: plan, run, re-run, rollback, crashes and resume,
//! the cross-device fallback, and what `status`, `plan --json`, the journal and `purge` show.
//!
//! Most tests drive a small playbook of remove and run steps against a sandbox device (the full
//! Cause 6 sequence, with its keychains and restart, is tests/cause6.rs): it exercises the same
//! executor in a fraction of the time, so crashes can be injected at every boundary.

mod support;

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;

use serde_json::Value;
use support::{under, Device, Sandbox, TreeHash};

/// Remove steps (system and per-user, files and folders) and run steps (fake programs that act
/// on the sandbox and are judged by state), so every kind of change the engine journals shows up.
const MINI: &str = r#"
name = "mini"
description = "Remove and run steps for the engine tests."

[vars.label]
default = "plain"
description = "Not a timer: frozen when the run starts."

[vars.settle_minutes]
default = 0
timer = true
description = "A timer variable."

[[steps]]
id = "purge-system"
title = "Remove Company Portal files in /Library"
[steps.action]
kind = "remove"
paths = [
  "/Library/Application Support/com.microsoft.CompanyPortalMac",
  "/Library/Preferences/com.microsoft.CompanyPortalMac.plist",
  "/Library/Application Support/com.jamfsoftware.selfservice.mac",
  "/Library/Preferences/com.jamf.management.jamfAAD.plist",
]

[[steps]]
id = "purge-users"
title = "Remove each user's Company Portal files"
[steps.action]
kind = "remove"
paths = [
  "{home}/Library/Application Support/com.microsoft.CompanyPortalMac",
  "{home}/Library/Cookies/com.microsoft.CompanyPortalMac.binarycookies",
  "{home}/Library/Preferences/com.microsoft.CompanyPortalMac.plist",
]

[[steps]]
id = "remove-framework"
title = "jamf removeFramework"
[steps.action]
kind = "run"
program = "/usr/local/jamf/bin/jamf"
args = ["removeFramework"]
done_when = { absent = ["/usr/local/jamf/bin/jamf", "/Library/LaunchDaemons/com.jamfsoftware.jamf.daemon.plist"] }

[[steps]]
id = "forget-receipt"
title = "pkgutil --forget"
[steps.action]
kind = "run"
program = "/usr/sbin/pkgutil"
args = ["--forget", "com.microsoft.CompanyPortalMac"]
done_when = { command = { program = "/usr/sbin/pkgutil", args = ["--pkg-info", "com.microsoft.CompanyPortalMac"], exit = 1 } }

[[steps]]
id = "uninstall-app"
title = "Remove the app"
[steps.action]
kind = "remove"
paths = ["/Applications/Company Portal.app"]
"#;

const USERS: &[&str] = &["zoë", "jdoe:/Users/Shared/homes/jdoe"];

/// What the fake programs of MINI change by design (besides the planned removals): the Jamf
/// framework, the receipt, and the fakes' own state (launchd jobs, enrollment).
fn fake_effect(rel: &str) -> bool {
    reenroll::sandbox::FRAMEWORK_PATHS
        .iter()
        .any(|p| under(rel, p))
        || under(rel, "usr/local/jamf")
        || rel.starts_with("var/db/receipts/com.microsoft.CompanyPortalMac.")
        || under(rel, "var/db/sandbox/launchd")
}

/// A sandbox whose targets carry unusual modes, owners and times, so a rollback that loses any
/// of them shows in the tree hash.
fn device() -> Device {
    let dev = Sandbox::new().users(USERS).build();
    let odd = |mac: &str, mode: u32, owner: Option<(u32, u32)>| {
        let p = dev.path(mac);
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        // 2001-09-09: far from "now", so a restore that touches the time is caught.
        let t = std::time::UNIX_EPOCH + std::time::Duration::new(1_000_000_000, 123_456_789);
        if !p.is_dir() {
            std::fs::File::options()
                .write(true)
                .open(&p)
                .unwrap()
                .set_times(std::fs::FileTimes::new().set_modified(t).set_accessed(t))
                .unwrap();
        }
        if let (Some((u, g)), true) = (owner, nix::unistd::geteuid().is_root()) {
            std::os::unix::fs::chown(&p, Some(u), Some(g)).unwrap();
        }
    };
    odd(
        "/Library/Preferences/com.microsoft.CompanyPortalMac.plist",
        0o600,
        Some((0, 80)),
    );
    odd(
        "/Users/zoë/Library/Application Support/com.microsoft.CompanyPortalMac",
        0o700,
        Some((501, 20)),
    );
    odd(
        "/Users/zoë/Library/Application Support/com.microsoft.CompanyPortalMac/settings.json",
        0o640,
        Some((501, 20)),
    );
    odd(
        "/Users/Shared/homes/jdoe/Library/Cookies/com.microsoft.CompanyPortalMac.binarycookies",
        0o444,
        Some((502, 20)),
    );
    dev
}

/// The `remove` targets a plan lists (Mac paths).
fn planned_removals(plan: &Value) -> Vec<String> {
    plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["changes"].as_array().unwrap().iter())
        .filter(|c| c["op"] == "remove")
        .map(|c| c["target"].as_str().unwrap().to_string())
        .collect()
}

fn applied_count(dev: &Device, run: &str) -> usize {
    dev.journal(run)
        .iter()
        .filter(|r| r["type"] == "applied")
        .count()
}

#[test]
fn plan_changes_nothing_and_run_removes_exactly_what_it_listed() {
    let dev = device();
    let pb = dev.playbook("mini", MINI);
    let before = dev.tree_hash();

    let plan = dev.reenroll(&["plan", &pb, "--json"]).exit(0).json();
    before.assert_same(&dev.tree_hash(), "plan must change nothing");
    assert!(
        !dev.state_dir().exists(),
        "plan must not even create the state directory"
    );

    let targets = planned_removals(&plan);
    // 4 system paths, 3 per user for 2 users, the app.
    assert_eq!(targets.len(), 4 + 3 * 2 + 1, "{targets:#?}");
    for t in &targets {
        assert!(
            before.contains(t),
            "plan lists {t}, which is not on the device"
        );
    }

    dev.reenroll(&["run", &pb, "--yes"]).exit(0);
    let after = dev.tree_hash();
    let diff = before.diff(&after);
    assert!(diff.added.is_empty(), "the run created files:\n{diff}");
    for t in &targets {
        assert!(!after.contains(t), "{t} was planned but is still there");
    }
    let unexplained: Vec<_> = diff
        .removed
        .iter()
        .filter(|r| !targets.iter().any(|t| under(r, t)) && !fake_effect(r))
        .collect();
    assert!(
        unexplained.is_empty(),
        "removed but neither planned nor done by a fake program: {unexplained:#?}"
    );
    let changed: Vec<_> = diff.changed.keys().filter(|p| !fake_effect(p)).collect();
    assert!(changed.is_empty(), "changed:\n{diff}");
    // The fake programs did run, and through the sandbox.
    let log = dev.command_log().join("\n");
    assert!(
        log.contains("/usr/local/jamf/bin/jamf removeFramework"),
        "{log}"
    );
    assert!(
        log.contains("/usr/sbin/pkgutil --forget com.microsoft.CompanyPortalMac"),
        "{log}"
    );
}

#[test]
fn a_device_already_in_every_end_state_is_left_alone() {
    let dev = device();
    let pb = dev.playbook("mini", MINI);
    let first = dev.reenroll(&["run", &pb, "--yes"]).exit(0).run_id();
    assert!(applied_count(&dev, &first) > 0);
    let clean = dev.tree_hash();

    let again = dev.reenroll(&["run", &pb, "--yes"]).exit(0);
    again.stdout_contains("skipped");
    let second = again.run_id();
    assert_ne!(first, second);
    clean.assert_same(&dev.tree_hash(), "a re-run on a clean device");
    let journal = dev.journal(&second);
    assert_eq!(
        applied_count(&dev, &second),
        0,
        "the second run changed something: {journal:#?}"
    );
    assert!(journal.iter().all(|r| r["type"] != "intent"));
    let states = dev.step_states();
    assert!(
        states.values().all(|s| s == "skipped"),
        "every step is already done: {states:?}"
    );

    // After a partial manual cleanup a run does only what is left.
    let dev = device();
    let pb = dev.playbook("mini", MINI);
    dev.remove("/Library/Application Support/com.microsoft.CompanyPortalMac");
    dev.remove("/Applications/Company Portal.app");
    let plan = dev.reenroll(&["plan", &pb, "--json"]).exit(0).json();
    assert_eq!(planned_removals(&plan).len(), 4 + 3 * 2 + 1 - 2);
    let run = dev.reenroll(&["run", &pb, "--yes"]).exit(0).run_id();
    let removed: Vec<_> = dev
        .journal(&run)
        .into_iter()
        .filter(|r| r["type"] == "applied" && r["undo"]["kind"] == "restore")
        .collect();
    assert_eq!(removed.len(), 4 + 3 * 2 + 1 - 2);
}

#[test]
fn rollback_restores_every_reversible_path_exactly_and_lists_the_rest() {
    let dev = device();
    let pb = dev.playbook("mini", MINI);
    let before = dev.tree_hash();
    let targets = planned_removals(&dev.reenroll(&["plan", &pb, "--json"]).exit(0).json());
    dev.reenroll(&["run", &pb, "--yes"]).exit(0);

    let rb = dev.reenroll(&["rollback", "--yes"]).exit(0);
    rb.stdout_contains("cannot be undone")
        .stdout_contains("jamf removeFramework")
        .stdout_contains("pkgutil --forget");
    let after = dev.tree_hash();
    for t in &targets {
        before
            .subtree(t)
            .assert_same(&after.subtree(t), &format!("rollback of {t}"));
    }
    // Everything else is as the run left it: only the fake programs' irreversible effects differ.
    let diff = before.diff(&after);
    let odd: Vec<_> = diff
        .removed
        .iter()
        .chain(&diff.added)
        .chain(diff.changed.keys())
        .filter(|p| !fake_effect(p))
        .collect();
    assert!(odd.is_empty(), "{diff}");
    assert_eq!(dev.last_run_status()["state"], "rolled-back");

    // A second rollback has nothing left to do.
    dev.reenroll(&["rollback", "--yes"]).exit(4);
}

#[test]
fn rollback_never_overwrites_what_appeared_after_the_run() {
    let dev = device();
    let pb = dev.playbook("mini", MINI);
    dev.reenroll(&["run", &pb, "--yes"]).exit(0);
    let new = "/Library/Preferences/com.microsoft.CompanyPortalMac.plist";
    dev.write(new, "written after the run");
    let r = dev.reenroll(&["rollback", "--yes"]).exit(1);
    r.says("conflict");
    assert_eq!(dev.read(new), "written after the run");
}

/// Every crash point of the reference run: before and after each step, and after the intent and
/// after the change of the first, a middle and the last change of each step.
fn crash_points(reference: &[Value]) -> Vec<String> {
    let mut points = Vec::new();
    let mut steps: Vec<String> = Vec::new();
    for r in reference {
        if r["type"] == "step-start" {
            steps.push(r["step"].as_str().unwrap().into());
        }
    }
    for step in &steps {
        points.push(format!("before-step:{step}"));
        let ns: Vec<u64> = reference
            .iter()
            .filter(|r| r["type"] == "intent" && r["step"] == step.as_str())
            .map(|r| r["n"].as_u64().unwrap())
            .collect();
        let picked: BTreeSet<u64> = [ns.first(), ns.get(ns.len() / 2), ns.last()]
            .into_iter()
            .flatten()
            .copied()
            .collect();
        for n in picked {
            points.push(format!("after-intent:{step}#{n}"));
            points.push(format!("after-change:{step}#{n}"));
        }
        points.push(format!("after-step:{step}"));
    }
    points
}

#[test]
fn a_crash_at_any_boundary_then_resume_ends_like_an_uninterrupted_run() {
    let template = device();
    let pb = template.playbook("mini", MINI);
    let start = template.tree_hash();

    let reference = template.copy();
    let id = reference.reenroll(&["run", &pb, "--yes"]).exit(0).run_id();
    let end = reference.tree_hash();
    let points = crash_points(&reference.journal(&id));
    assert!(points.len() >= 20, "{points:#?}");

    for point in &points {
        let dev = template.copy();
        dev.reenroll(&["run", &pb, "--yes"])
            .fault(&format!("crash@{point}"))
            .killed()
            .stderr_contains(&format!("crashing at {point}"));
        let st = dev.last_run_status();
        assert_eq!(st["state"], "interrupted", "after a crash at {point}");
        dev.reenroll(&["resume"]).exit(0);
        end.assert_same(&dev.tree_hash(), &format!("crash at {point}, then resume"));
        let states = dev.step_states();
        assert!(
            states.values().all(|s| s == "done" || s == "skipped"),
            "crash at {point}: {states:?}"
        );
    }

    // A crash during the removals, then rollback straight away: the device is as it was.
    for point in points
        .iter()
        .filter(|p| p.contains("purge-") && !p.starts_with("before-step:purge-system"))
    {
        let dev = template.copy();
        dev.reenroll(&["run", &pb, "--yes"])
            .fault(&format!("crash@{point}"))
            .killed();
        dev.reenroll(&["rollback", "--yes"]).exit(0);
        start.assert_same(
            &dev.tree_hash(),
            &format!("crash at {point}, then rollback"),
        );
    }
}

#[test]
fn a_crash_during_rollback_then_rollback_again_restores_everything() {
    let dev = device();
    // Only removals, so a finished rollback gives back the very device it started from.
    let pb = dev.playbook(
        "removals",
        &MINI[..MINI.find("[[steps]]\nid = \"remove-framework\"").unwrap()],
    );
    let before = dev.tree_hash();
    dev.reenroll(&["run", &pb, "--yes"]).exit(0);
    dev.reenroll(&["rollback", "--yes"])
        .fault("crash@rollback-after:3")
        .killed();
    dev.reenroll(&["rollback", "--yes"])
        .exit(0)
        .says("already back");
    before.assert_same(&dev.tree_hash(), "rollback, crash, rollback");
}

#[test]
fn the_cross_device_fallback_round_trips() {
    let template = device();
    let pb = template.playbook("mini", MINI);
    let start = template.tree_hash();
    let reference = template.copy();
    reference.reenroll(&["run", &pb, "--yes"]).exit(0);

    let dev = template.copy();
    let id = dev
        .reenroll(&["run", &pb, "--yes"])
        .fault("exdev")
        .exit(0)
        .run_id();
    reference
        .tree_hash()
        .assert_same(&dev.tree_hash(), "a run that copies instead of renaming");
    let copied = dev
        .journal(&id)
        .iter()
        .filter(|r| r["type"] == "applied" && r["undo"]["kind"] == "restore")
        .filter(|r| r["undo"]["moved"] != "renamed")
        .count();
    assert!(copied > 0, "exdev did not force the copy fallback");

    dev.reenroll(&["rollback", "--yes"]).fault("exdev").exit(0);
    let diff = start.diff(&dev.tree_hash());
    let odd: Vec<_> = diff
        .removed
        .iter()
        .chain(&diff.added)
        .chain(diff.changed.keys())
        .filter(|p| !fake_effect(p))
        .collect();
    assert!(odd.is_empty(), "exdev rollback:\n{diff}");
}

#[test]
fn plan_json_has_the_documented_shape() {
    let dev = Sandbox::new().users(USERS).build();
    let plan = dev.reenroll(&["plan", "--json"]).exit(0).json();
    assert_eq!(plan["playbook"], "cause6");
    let root = dev.root().to_str().unwrap();
    let ops: BTreeSet<&str> = [
        "remove", "refuse", "run", "delete", "operator", "wait", "reboot", "request",
    ]
    .into();
    let mut seen = BTreeSet::new();
    for s in plan["steps"].as_array().unwrap() {
        for key in ["id", "title", "action"] {
            assert!(s[key].is_string(), "step without {key}: {s}");
        }
        for c in s["changes"].as_array().expect("changes is an array") {
            let op = c["op"].as_str().unwrap();
            assert!(ops.contains(op), "unknown op {op}");
            seen.insert(op.to_string());
            assert!(c["reversible"].is_boolean(), "{c}");
            let target = c["target"].as_str().unwrap();
            assert!(
                !target.contains(root),
                "a host path leaked into the plan: {target}"
            );
            if op == "remove" {
                assert!(target.starts_with('/'), "{target}");
                assert!(dev.exists(target), "{target} is not on the device");
            }
        }
    }
    for op in ["remove", "run", "delete", "operator", "wait", "reboot"] {
        assert!(
            seen.contains(op),
            "the cause6 plan shows no `{op}`: {seen:?}"
        );
    }
    // A step with nothing to do has an empty `changes`.
    let pre = &plan["steps"][0];
    assert_eq!(pre["id"], "preflight");
    assert_eq!(pre["changes"], serde_json::json!([]));
    // Private keys cannot be exported: their deletions are irreversible.
    let irreversible_delete = plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["changes"].as_array().unwrap())
        .any(|c| c["op"] == "delete" && c["reversible"] == false);
    assert!(irreversible_delete);
}

#[test]
fn status_json_lists_runs_oldest_first_with_their_steps() {
    let dev = device();
    let pb = dev.playbook("mini", MINI);
    // No runs yet: an empty list, not an error.
    assert_eq!(
        dev.status(),
        serde_json::json!({"format_version": 1, "runs": []})
    );
    let first = dev.reenroll(&["run", &pb, "--yes"]).exit(0).run_id();
    dev.reenroll(&["rollback", "--yes"]).exit(0);
    let second = dev.reenroll(&["run", &pb, "--yes"]).exit(0).run_id();

    let st = dev.status();
    let runs = st["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2);
    let ids: Vec<&str> = runs.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [first.as_str(), second.as_str()], "oldest first");
    assert_eq!(runs[0]["state"], "rolled-back");
    assert_eq!(runs[1]["state"], "completed");
    for r in runs {
        assert_eq!(r["playbook"], "mini");
        let steps: Vec<&str> = r["steps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["id"].as_str().unwrap())
            .collect();
        assert_eq!(
            steps,
            [
                "purge-system",
                "purge-users",
                "remove-framework",
                "forget-receipt",
                "uninstall-app"
            ]
        );
        for s in r["steps"].as_array().unwrap() {
            let state = s["state"].as_str().unwrap();
            assert!(
                [
                    "pending",
                    "running",
                    "done",
                    "skipped",
                    "skipped-by-admin",
                    "waiting",
                    "failed",
                    "rolled-back"
                ]
                .contains(&state),
                "{state}"
            );
        }
    }
    // One run only.
    let one = dev.reenroll(&["status", &first, "--json"]).exit(0).json();
    assert_eq!(one["runs"].as_array().unwrap().len(), 1);
    dev.reenroll(&["status", "no-such-run"]).exit(2);
}

#[test]
fn journal_files_are_private() {
    let dev = device();
    let pb = dev.playbook("mini", MINI);
    dev.reenroll(&["run", &pb, "--yes"]).exit(0);
    dev.assert_private_state();
}

#[test]
fn a_torn_last_journal_line_is_tolerated() {
    let dev = device();
    let pb = dev.playbook("mini", MINI);
    dev.reenroll(&["run", &pb, "--yes"])
        .fault("crash@after-step:purge-users")
        .killed();
    let id = dev.last_run();
    let journal = dev.run_dir(&id).join("journal.jsonl");
    let mut bytes = std::fs::read(&journal).unwrap();
    bytes.extend_from_slice(br#"{"type":"step-start","step":"remove-fr"#);
    std::fs::write(&journal, bytes).unwrap();

    assert_eq!(dev.last_run_status()["state"], "interrupted");
    dev.reenroll(&["status"]).exit(0);
    dev.reenroll(&["resume"]).exit(0);
    assert_eq!(dev.last_run_status()["state"], "completed");
    // The fragment was cut off before appending: every line is a whole record again.
    assert!(dev.journal(&id).len() > 10);

    // Corruption anywhere else is an error, never a guess.
    let mut text = std::fs::read_to_string(&journal).unwrap();
    text.insert_str(text.find('\n').unwrap() + 1, "{garbage\n");
    std::fs::write(&journal, text).unwrap();
    dev.reenroll(&["status"]).run().says("corrupt");
}

#[test]
fn purge_deletes_the_quarantine_of_finished_runs_only() {
    let dev = device();
    let pb = dev.playbook("mini", MINI);
    let id = dev.reenroll(&["run", &pb, "--yes"]).exit(0).run_id();
    let quarantine = dev.run_dir(&id).join("quarantine");
    assert!(quarantine.is_dir());
    dev.reenroll(&["purge", "--older-than", "30d", "--yes"])
        .exit(0)
        .stdout_contains("0 run(s) purged");
    assert!(quarantine.is_dir());
    dev.reenroll(&["purge", "--older-than", "banana", "--yes"])
        .exit(2);
    dev.reenroll(&["purge", "--older-than", "0s", "--yes"])
        .exit(0)
        .stdout_contains("1 run(s) purged");
    assert!(!quarantine.exists());
    // The journal stays, so status still tells the story.
    assert_eq!(dev.last_run_status()["state"], "completed");
    let _ = TreeHash::of(dev.root(), support::EXCLUDED);
}
