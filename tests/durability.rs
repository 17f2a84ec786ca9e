//! The order of writes that makes a removal survive a power loss: a rename into the quarantine
//! changes two folders, and both are fsync'ed before the journal's `applied` record is written
//! (the record itself is fsync'ed when appended). Watched with strace (`-y` shows each
//! descriptor's path), so the test sees the system calls the binary really makes; skipped where
//! strace is missing or ptrace is not allowed.

mod support;

use std::process::Command;

use support::{Sandbox, BIN};

const PLAYBOOK: &str = r#"name = "durable"
description = "d"

[[steps]]
id = "remove-prefs"
title = "Remove two preference files"
[steps.action]
kind = "remove"
paths = [
  "/Library/Preferences/com.jamf.management.jamfAAD.plist",
  "/Library/Preferences/com.jamfsoftware.jamf.plist",
]
"#;

fn strace_works() -> bool {
    Command::new("strace")
        .args(["-f", "-o", "/dev/null", "true"])
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn each_rename_into_the_quarantine_is_flushed_in_both_folders_before_it_is_journaled() {
    if !strace_works() {
        eprintln!("skipped: strace is missing or ptrace is not permitted here");
        return;
    }
    let dev = Sandbox::new().build();
    for p in [
        "/Library/Preferences/com.jamf.management.jamfAAD.plist",
        "/Library/Preferences/com.jamfsoftware.jamf.plist",
    ] {
        if !dev.exists(p) {
            dev.write(p, "x");
        }
    }
    let playbook = dev.playbook("durable", PLAYBOOK);
    let trace = dev.outside().join("trace.txt");
    let status = Command::new("strace")
        .arg("-f")
        .arg("-y")
        .args([
            "-e",
            "trace=renameat,renameat2,rename,fsync,fdatasync,write,pwrite64",
        ])
        .arg("-o")
        .arg(&trace)
        .arg(BIN)
        .arg("--root")
        .arg(dev.root())
        .args(["run", &playbook, "--yes"])
        .status()
        .expect("running reenroll under strace");
    assert_eq!(status.code(), Some(0), "the run did not complete");
    let text = std::fs::read_to_string(&trace).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    // The folder paths strace prints for a descriptor: `3</host/path>`.
    let fd_path = |arg: &str| -> Option<String> {
        let start = arg.find('<')? + 1;
        let end = arg[start..].find('>')? + start;
        Some(arg[start..end].to_string())
    };
    let mut renames = 0;
    for (i, l) in lines.iter().enumerate() {
        let is_rename = l.contains("renameat(") || l.contains("renameat2(");
        if !is_rename || !l.contains("/quarantine>") || !l.trim_end().ends_with("= 0") {
            continue;
        }
        renames += 1;
        let args: Vec<&str> = l.split(", ").collect();
        let from_dir = fd_path(args[0]).expect("the source folder's descriptor");
        let to_dir = fd_path(args[2]).expect("the quarantine's descriptor");
        // Up to the next write to the journal, both folders must have been fsync'ed.
        let until = lines[i + 1..]
            .iter()
            .position(|l| l.contains("write(") && l.contains("journal.jsonl>"))
            .map(|p| i + 1 + p)
            .unwrap_or_else(|| panic!("no journal write after the rename: {l}"));
        let synced = |dir: &str| {
            lines[i + 1..until]
                .iter()
                .any(|l| l.contains("fsync(") && l.contains(&format!("<{dir}>")))
        };
        assert!(
            synced(&from_dir) && synced(&to_dir),
            "the rename\n  {l}\nwas journaled before both folders were fsync'ed:\n  {}",
            lines[i + 1..=until].join("\n  ")
        );
    }
    assert_eq!(
        renames, 2,
        "two renames into the quarantine expected:\n{text}"
    );
}

/// `reenroll --root DEV rollback --yes` under strace with `inject` (one fault kind for the whole
/// command, as a failing disk would give it).
fn rollback_under_fault(dev: &support::Device, inject: &str) -> std::process::Output {
    Command::new("strace")
        .args(["-f", "-o", "/dev/null", "-e", inject])
        .arg(BIN)
        .arg("--root")
        .arg(dev.root())
        .args(["rollback", "--yes"])
        .env_remove("REENROLL_FAULT")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("running reenroll under strace")
}

fn removed_and_ready_to_roll_back() -> (support::Device, support::TreeHash, String) {
    let dev = Sandbox::new().build();
    for p in [
        "/Library/Preferences/com.jamf.management.jamfAAD.plist",
        "/Library/Preferences/com.jamfsoftware.jamf.plist",
    ] {
        if !dev.exists(p) {
            dev.write(p, "x");
        }
    }
    let before = dev.tree_hash();
    let playbook = dev.playbook("durable", PLAYBOOK);
    let id = dev.reenroll(&["run", &playbook, "--yes"]).exit(0).run_id();
    assert_ne!(dev.tree_hash(), before);
    (dev, before, id)
}

#[test]
fn eio_on_every_rename_during_rollback_leaves_the_run_rollback_incomplete_and_a_retry_restores_it()
{
    if !strace_works() {
        eprintln!("skipped: strace is missing or ptrace is not permitted here");
        return;
    }
    let (dev, before, id) = removed_and_ready_to_roll_back();
    let out = rollback_under_fault(&dev, "inject=rename,renameat,renameat2:error=EIO");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("rollback incomplete: 2 items not restored"),
        "{stdout}"
    );
    let st = dev.last_run_status();
    assert_eq!(st["state"], "rollback-incomplete", "{st:#}");
    assert_eq!(st["not_restored"].as_array().unwrap().len(), 2, "{st:#}");
    // Nothing the failed restores still need may be purged.
    dev.reenroll(&["purge", "--older-than", "0s", "--yes"])
        .exit(0)
        .stdout_contains(&format!("kept run {id}: rollback incomplete"));
    // The disk is healthy again: the retry restores both, byte for byte.
    dev.reenroll(&["rollback", "--yes"])
        .exit(0)
        .stdout_contains("2 restored");
    assert_eq!(dev.last_run_status()["state"], "rolled-back");
    assert_eq!(dev.tree_hash(), before);
}

#[test]
fn a_full_disk_while_journaling_a_rollback_never_reports_it_rolled_back_and_a_retry_finishes_it() {
    if !strace_works() {
        eprintln!("skipped: strace is missing or ptrace is not permitted here");
        return;
    }
    for when in ["1+", "2+", "3+"] {
        let (dev, before, _id) = removed_and_ready_to_roll_back();
        // Every journal record from the WHEN-th on fails to reach the disk.
        let out = rollback_under_fault(&dev, &format!("inject=fdatasync:error=ENOSPC:when={when}"));
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_ne!(
            out.status.code(),
            Some(0),
            "when={when}\n{stdout}\n{stderr}"
        );
        assert!(
            stderr.contains("No space left on device"),
            "when={when}: the error should say what happened\n{stderr}"
        );
        let st = dev.last_run_status();
        assert_ne!(st["state"], "rolled-back", "when={when}: {st:#}");
        // The journal is still sound (no torn or unchecksummed line) and the retry finishes.
        dev.reenroll(&["rollback", "--yes"]).exit(0);
        assert_eq!(dev.last_run_status()["state"], "rolled-back", "when={when}");
        assert_eq!(dev.tree_hash(), before, "when={when}");
    }
}

/// The keychain step of the shipped Cause 6 playbook, alone.
fn cause6_keychain_step() -> String {
    let mut doc: toml::Table =
        toml::from_str(include_str!("../playbooks/cause6.toml")).expect("cause6.toml parses");
    let step = doc["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"].as_str() == Some("purge-keychains"))
        .expect("cause6 has a purge-keychains step")
        .clone();
    doc.insert("name".into(), "cause6-keychains".into());
    doc.insert("steps".into(), toml::Value::Array(vec![step]));
    toml::to_string(&doc).unwrap()
}

/// A journal record that cannot be made durable during the keychain purge is this run's own
/// failure: the step fails (and `resume` retries it), never "the keychain could not be reached,
/// waiting for the user to log in" (found by the crash sweep, run:fdatasync:eio). Records spread
/// over the whole run are tried in turn.
#[test]
fn a_journal_write_failing_during_the_keychain_purge_fails_the_step_and_resume_finishes_it() {
    if !strace_works() {
        eprintln!("skipped: strace is missing or ptrace is not permitted here");
        return;
    }
    let toml = cause6_keychain_step();
    // The uninterrupted run: how many records it makes durable, and where it ends.
    let reference = Sandbox::new().build();
    let pb = reference.playbook("cause6-keychains", &toml);
    let trace = reference.outside().join("trace.txt");
    let ok = Command::new("strace")
        .args(["-f", "-e", "trace=fdatasync", "-o"])
        .arg(&trace)
        .arg(BIN)
        .arg("--root")
        .arg(reference.root())
        .args(["run", &pb, "--yes"])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(ok.status.code(), Some(0));
    let syncs = std::fs::read_to_string(&trace)
        .unwrap()
        .lines()
        .filter(|l| l.contains("fdatasync("))
        .count();
    assert!(syncs > 9, "too few journal records to test: {syncs}");
    eprintln!("{syncs} journal records");
    let expected = keychains(&reference);
    let mut failed_steps = 0;
    // Nine records spread over the run (each trial builds a sandbox: every record would take
    // minutes); the crash sweep covers the rest.
    let sample: std::collections::BTreeSet<usize> =
        (0..9).map(|i| 1 + i * (syncs - 1) / 8).collect();
    for n in sample {
        let dev = Sandbox::new().build();
        let pb = dev.playbook("cause6-keychains", &toml);
        let out = Command::new("strace")
            .args(["-f", "-o", "/dev/null", "-e"])
            .arg(format!("inject=fdatasync:error=EIO:when={n}"))
            .arg(BIN)
            .arg("--root")
            .arg(dev.root())
            .args(["run", &pb, "--yes"])
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !stdout.contains("could not be reached") && !stderr.contains("could not be reached"),
            "record {n}: a journal failure was reported as an unreachable keychain\n{stdout}\n{stderr}"
        );
        assert_ne!(
            out.status.code(),
            Some(0),
            "record {n}: the failure was not reported\n{stdout}"
        );
        assert_ne!(
            out.status.code(),
            Some(3),
            "record {n}: paused instead of failing\n{stdout}"
        );
        if dev.run_ids().is_empty() {
            // The header never became durable: nothing was done, and a new run starts over.
            dev.reenroll(&["run", &pb, "--yes"]).exit(0);
        } else {
            if dev.step_states().get("purge-keychains").map(String::as_str) == Some("failed") {
                failed_steps += 1;
            }
            dev.reenroll(&["resume", "--yes"]).exit(0);
        }
        assert_eq!(dev.last_run_status()["state"], "completed", "record {n}");
        assert_eq!(
            keychains(&dev),
            expected,
            "record {n}: the keychains differ from an uninterrupted run's"
        );
    }
    assert!(failed_steps > 0, "no fault landed inside the keychain step");
}

/// Every sandbox keychain of the device (the System keychain and each user's login keychain),
/// by path inside the device, as parsed property lists.
fn keychains(dev: &support::Device) -> std::collections::BTreeMap<String, plist::Value> {
    let mut out = std::collections::BTreeMap::new();
    let mut places = vec!["/Library/Keychains".to_string()];
    for (user, _) in dev.users() {
        places.push(format!("/Users/{user}/Library/Keychains"));
    }
    for dir in places {
        let Ok(entries) = std::fs::read_dir(dev.path(&dir)) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.ends_with(".plist") {
                let v = plist::Value::from_file(e.path()).unwrap();
                out.insert(format!("{dir}/{name}"), v);
            }
        }
    }
    assert!(!out.is_empty(), "no sandbox keychain found");
    out
}
