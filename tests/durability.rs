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
