//! The human plan (issue 14 §2): a summary first (one line per step, totals, warnings), then the
//! details with a path found in several homes on one line (`× 2 users`); `--full` lists every
//! path, `--summary` nothing but the summary; colours and symbols only on a terminal that allows
//! them, wrapped to its width (`COLUMNS`, the terminal), never in a pipe or a log; a run that
//! has not ended is said first. The JSON document keeps one change per path.

mod support;

use std::process::Command;

use support::{Device, Sandbox, BIN, REMOVE_REBOOT_REMOVE};

const PREFS: &str = "Library/Preferences/com.microsoft.CompanyPortalMac.plist";
const COOKIES: &str = "Library/Cookies/com.microsoft.CompanyPortalMac.binarycookies";

fn lines_with<'a>(out: &'a str, needle: &str) -> Vec<&'a str> {
    out.lines().filter(|l| l.contains(needle)).collect()
}

fn position(out: &str, needle: &str) -> usize {
    out.find(needle)
        .unwrap_or_else(|| panic!("no `{needle}` in:\n{out}"))
}

/// Three users (names of one length: the sandbox's files carry them); frank has no Company
/// Portal preferences and carol's are bigger than alice's.
fn three_users() -> Device {
    let dev = Sandbox::new().users(&["alice", "carol", "frank"]).build();
    dev.remove(&format!("/Users/frank/{PREFS}"));
    dev.write(&format!("/Users/carol/{PREFS}"), vec![b'x'; 50_000]);
    dev
}

#[test]
fn the_summary_comes_first_and_a_path_in_every_home_is_one_line() {
    let dev = Sandbox::new().users(&["alice", "bob"]).build();
    let out = dev.reenroll(&["plan"]).exit(0).stdout;
    // The summary, its totals and warnings, then the details.
    let summary = position(&out, "Summary: ");
    let total = position(&out, "Total: ");
    let warnings = position(&out, "Warnings:");
    let details = position(&out, "Details ");
    assert!(
        summary < total && total < warnings && warnings < details,
        "{out}"
    );
    // One line per step in the summary, with its kind, count, undo and needs.
    let table = &out[summary..total];
    let row = lines_with(table, " purge-user-files ");
    assert_eq!(row.len(), 1, "{table}");
    assert!(row[0].contains(" remove "), "{}", row[0]);
    assert!(row[0].contains("needs root"), "{}", row[0]);
    assert!(
        row[0].contains(" yes ") || row[0].contains(" partly "),
        "{}",
        row[0]
    );
    let row = lines_with(table, " remove-framework ");
    assert!(row[0].contains(" no "), "{}", row[0]);
    // The containers are privacy-protected: Full Disk Access is named in the summary.
    let row = lines_with(table, " purge-user-containers ");
    assert!(row[0].contains("needs Full Disk Access"), "{}", row[0]);
    // The warnings name what rollback cannot undo and what the keychain purge cannot see.
    let warn = &out[warnings..details];
    assert!(
        warn.contains("warning: rollback cannot undo these steps: "),
        "{warn}"
    );
    assert!(warn.contains("remove-framework"), "{warn}");
    assert!(warn.contains("data-protection keychain"), "{warn}");

    // The details: every per-user path once, with both homes.
    let detail = &out[details..];
    for rel in [PREFS, COOKIES] {
        let grouped = lines_with(detail, &format!("~/{rel} × 2 users"));
        assert_eq!(grouped.len(), 1, "~/{rel}:\n{detail}");
        assert!(!out.contains(&format!("/Users/alice/{rel}")), "{out}");
        assert!(!out.contains(&format!("/Users/bob/{rel}")), "{out}");
    }
    // The same keychain item in both users' login keychains is one line too.
    assert!(
        detail.contains("\"com.microsoft.CompanyPortal\" in the login keychain × 2 users"),
        "{detail}"
    );
    // System paths stay as they are.
    assert!(
        detail.contains("    remove   /Library/Preferences/com.microsoft.CompanyPortalMac.plist ("),
        "{detail}"
    );

    // --full lists each home's path; the default is far shorter.
    let full = dev.reenroll(&["plan", "--full"]).exit(0).stdout;
    for rel in [PREFS, COOKIES] {
        for user in ["alice", "bob"] {
            assert_eq!(
                lines_with(&full, &format!("/Users/{user}/{rel}")).len(),
                1,
                "{user} {rel}:\n{full}"
            );
        }
    }
    assert!(!full.contains(" × 2 users"), "{full}");
    assert!(full.find("Summary: ") < full.find("Details "), "{full}");
    // Each grouped line stands for both homes' lines.
    let grouped = lines_with(&out, " × 2 users").len();
    let per_home = full
        .lines()
        .filter(|l| l.contains("/Users/") || l.contains("'s login keychain"))
        .count();
    assert!(grouped > 30, "{out}");
    assert!(
        per_home >= 2 * grouped,
        "{grouped} grouped, {per_home} per home"
    );
    assert!(out.lines().count() + grouped <= full.lines().count());

    // --summary: the table, totals and warnings, no details.
    let summary_only = dev.reenroll(&["plan", "--summary"]).exit(0).stdout;
    assert!(summary_only.contains("Summary: ") && summary_only.contains("Total: "));
    assert!(summary_only.contains("warning: rollback cannot undo"));
    assert!(!summary_only.contains("Details"), "{summary_only}");
    assert!(!summary_only.contains("/Users/"), "{summary_only}");
    assert!(summary_only.lines().count() < 60, "{summary_only}");
}

#[test]
fn homes_that_differ_are_named() {
    let dev = three_users();
    let out = dev.reenroll(&["plan"]).exit(0).stdout;
    // Present in two homes of three: those are named; carol's copy is bigger: sizes per home.
    let line = lines_with(&out, &format!("~/{PREFS} × 2 of 3 users: alice, carol"));
    assert_eq!(line.len(), 1, "{out}");
    assert!(line[0].contains("in all; differs: alice "), "{}", line[0]);
    assert!(line[0].contains(", carol 48.8 KiB)"), "{}", line[0]);
    // A path every home has, of one size: "each".
    let line = lines_with(&out, &format!("~/{COOKIES} × 3 users"));
    assert_eq!(line.len(), 1, "{out}");
    assert!(line[0].contains(" each)"), "{}", line[0]);
    assert!(!out.contains("/Users/frank/Library/Cookies"), "{out}");
    // The home without it is named where the step says what is already done.
    assert!(
        out.contains(&format!("already: /Users/frank/{PREFS} is absent")),
        "{out}"
    );
}

#[test]
fn json_keeps_one_change_per_path_and_the_detail_flags_do_not_apply_to_it() {
    let dev = Sandbox::new().users(&["alice", "bob"]).build();
    let plan = dev.reenroll(&["plan", "--json"]).exit(0).json();
    assert_eq!(plan["format_version"], 1);
    let step = plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "purge-user-files")
        .unwrap();
    assert_eq!(step["action"], "remove");
    let targets: Vec<&str> = step["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["target"].as_str().unwrap())
        .collect();
    for user in ["alice", "bob"] {
        assert!(
            targets.contains(&format!("/Users/{user}/{PREFS}").as_str()),
            "{targets:?}"
        );
    }
    assert!(!plan.to_string().contains('×'));
    assert!(plan.get("users").is_none());
    dev.reenroll(&["plan", "--json", "--full"])
        .exit(2)
        .stderr_contains("--full");
    dev.reenroll(&["plan", "--json", "--summary"]).exit(2);
    dev.reenroll(&["plan", "--full", "--summary"]).exit(2);
}

#[test]
fn a_pipe_gets_no_colour_no_symbols_and_no_wrapping() {
    let dev = Sandbox::new().users(&["alice", "bob"]).build();
    // COLUMNS is for terminals: a pipe (a log) is never wrapped.
    let out = dev
        .reenroll(&["plan", "--full"])
        .env("COLUMNS", "60")
        .env("TERM", "xterm-256color")
        .exit(0)
        .stdout;
    assert!(!out.contains('\x1b'), "{out}");
    assert!(!out.contains('⚠'), "{out}");
    let long = format!("/Users/alice/{PREFS}");
    let line = lines_with(&out, &long);
    assert!(line[0].chars().count() > 60, "{}", line[0]);
    assert!(out.lines().any(|l| l.chars().count() > 100));
}

/// `reenroll --root DIR ARGS` in a pseudo-terminal of `cols` columns (0: the size the pty
/// starts with), with `env`; returns what it printed, escape codes and all.
fn in_pty(dev: &Device, cols: u16, env: &[(&str, &str)], args: &[&str]) -> String {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(r#"[ "$0" = 0 ] || stty cols "$0" rows 50; exec "$@""#)
        .arg(cols.to_string())
        .arg(BIN)
        .arg("--root")
        .arg(dev.root())
        .args(args)
        .env_remove("NO_COLOR")
        .env_remove("COLUMNS")
        .env_remove("REENROLL_FAULT")
        .env_remove("RUST_LOG");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut p = rexpect::session::spawn_command(cmd, Some(60_000)).unwrap();
    utf8(&p.exp_eof().unwrap())
}

/// What rexpect read (one char per byte) as the UTF-8 text it was, with `\n` for `\r\n`.
fn utf8(read: &str) -> String {
    let bytes: Vec<u8> = read.chars().map(|c| c as u32 as u8).collect();
    String::from_utf8_lossy(&bytes).replace("\r\n", "\n")
}

/// The text without its escape codes.
fn plain(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\x1b' && chars.peek() == Some(&'[') {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn widest(s: &str) -> usize {
    plain(s)
        .lines()
        .map(|l| l.chars().count())
        .max()
        .unwrap_or(0)
}

#[test]
fn a_terminal_gets_colours_and_symbols_unless_no_color_or_a_dumb_terminal() {
    let dev = Sandbox::new().users(&["alice", "bob"]).build();
    let term = [("TERM", "xterm-256color")];
    let out = in_pty(&dev, 120, &term, &["plan"]);
    assert!(out.contains("\x1b["), "no colours on a terminal:\n{out}");
    assert!(out.contains("⚠ "), "no warning symbol:\n{out}");
    let text = plain(&out);
    assert!(text.contains("~/Library/Preferences/com.microsoft.CompanyPortalMac.plist × 2 users"));
    assert!(text.find("Summary: ") < text.find("Details "), "{text}");

    for env in [
        vec![("TERM", "xterm-256color"), ("NO_COLOR", "1")],
        vec![("TERM", "dumb")],
    ] {
        let out = in_pty(&dev, 120, &env, &["plan"]);
        assert!(!out.contains('\x1b'), "{env:?}:\n{out}");
        assert!(!out.contains('⚠'), "{env:?}:\n{out}");
        assert!(
            out.contains("warning: rollback cannot undo"),
            "{env:?}:\n{out}"
        );
        // Still wrapped to the terminal: that is not a colour.
        assert!(widest(&out) <= 120, "{env:?}:\n{out}");
    }
    // An empty NO_COLOR is no request (no-color.org).
    let out = in_pty(
        &dev,
        120,
        &[("TERM", "xterm-256color"), ("NO_COLOR", "")],
        &["plan", "--summary"],
    );
    assert!(out.contains("\x1b["), "{out}");
}

#[test]
fn a_terminal_wraps_at_its_width_or_columns_never_at_a_fixed_80() {
    let dev = Sandbox::new().users(&["alice", "bob"]).build();
    let term = ("TERM", "xterm-256color");
    // The terminal's own width, wide and narrow.
    let wide = in_pty(&dev, 150, &[term], &["plan", "--full"]);
    let w = widest(&wide);
    assert!(w > 100 && w <= 150, "widest line {w}:\n{}", plain(&wide));
    let narrow = in_pty(&dev, 70, &[term], &["plan", "--full"]);
    let w = widest(&narrow);
    assert!(w <= 70 && w > 60, "widest line {w}:\n{}", plain(&narrow));
    // Wrapped, not cut: every path is still there.
    let joined: String = plain(&narrow).split_whitespace().collect();
    assert!(joined.contains("/Users/bob/Library/Preferences/com.microsoft.CompanyPortalMac.plist"));
    // COLUMNS says the width when set.
    let out = in_pty(&dev, 150, &[term, ("COLUMNS", "90")], &["plan", "--full"]);
    let w = widest(&out);
    assert!(w <= 90 && w > 80, "widest line {w}:\n{}", plain(&out));
    let out = in_pty(&dev, 0, &[term, ("COLUMNS", "130")], &["plan", "--full"]);
    let w = widest(&out);
    assert!(w <= 130 && w > 100, "widest line {w}:\n{}", plain(&out));
}

#[test]
fn a_paused_or_interrupted_run_is_said_first_with_how_to_resume_or_roll_it_back() {
    let dev = Sandbox::new().build();
    let pb = dev.playbook("rrr", REMOVE_REBOOT_REMOVE);
    // No run yet: nothing said.
    let out = dev.reenroll(&["plan", &pb]).exit(0).stdout;
    assert!(out.starts_with("Plan: "), "{out}");
    // Paused, waiting for the restart.
    dev.reenroll(&["run", &pb, "--yes"]).exit(3);
    let id = dev.last_run();
    let root = dev.root().to_str().unwrap().to_string();
    let out = dev.reenroll(&["plan", &pb]).exit(0).stdout;
    let first = out.lines().next().unwrap();
    assert!(
        first.starts_with(&format!(
            "UNFINISHED RUN: run {id} is paused at step restart"
        )),
        "{out}"
    );
    let head = &out[..position(&out, "Plan: ")];
    assert!(
        head.contains(&format!("`reenroll --root {root} resume {id}`")),
        "{head}"
    );
    assert!(
        head.contains(&format!("`reenroll --root {root} rollback {id}`")),
        "{head}"
    );
    // Also in --summary, and on a terminal with its symbol.
    let out = dev.reenroll(&["plan", &pb, "--summary"]).exit(0).stdout;
    assert!(out.starts_with("UNFINISHED RUN: "), "{out}");
    let out = plain(&in_pty(&dev, 120, &[("TERM", "xterm")], &["plan", &pb]));
    assert!(out.starts_with(&format!("⏸ run {id} is paused")), "{out}");
    // JSON stays as it is.
    dev.reenroll(&["plan", &pb, "--json"]).exit(0).json();

    // Interrupted: a crash inside the restart step.
    let dev = Sandbox::new().build();
    let pb = dev.playbook("rrr", REMOVE_REBOOT_REMOVE);
    dev.reenroll(&["run", &pb, "--yes"])
        .fault("crash@after-intent:restart#2")
        .killed();
    let id = dev.last_run();
    let out = dev.reenroll(&["plan", &pb]).exit(0).stdout;
    assert!(
        out.starts_with(&format!(
            "UNFINISHED RUN: run {id} is interrupted at step restart"
        )),
        "{out}"
    );
    assert!(out.contains(&format!("resume {id}`")), "{out}");
    // Rolled back: ended, nothing said.
    dev.reenroll(&["rollback", "--yes"]).exit(0);
    let out = dev.reenroll(&["plan", &pb]).exit(0).stdout;
    assert!(out.starts_with("Plan: "), "{out}");
}

const SURVIVORS: &str = r#"name = "survivors"
description = "Leaves one behind."

[[steps]]
id = "purge"
title = "Remove each user's preferences"
[steps.action]
kind = "remove"
paths = ["{home}/Library/Preferences/com.microsoft.CompanyPortalMac.plist"]

[[steps]]
id = "verify"
title = "Look again, and at the system's copy too"
[steps.action]
kind = "verify-removed"
steps = ["purge"]
paths = ["/Library/Preferences/com.microsoft.CompanyPortalMac.plist"]
"#;

#[test]
fn the_survivors_of_the_previous_run_are_a_warning() {
    let dev = Sandbox::new().build();
    let pb = dev.playbook("survivors", SURVIVORS);
    let out = dev.reenroll(&["plan", &pb]).exit(0).stdout;
    assert!(!out.contains("previous run"), "{out}");
    dev.reenroll(&["run", &pb, "--yes"]).exit(6);
    let id = dev.last_run();
    let out = dev.reenroll(&["plan", &pb, "--summary"]).exit(0).stdout;
    // A completed run is not unfinished; what survived it is a warning, after the totals.
    assert!(out.starts_with("Plan: "), "{out}");
    let warning = position(
        &out,
        &format!("warning: the previous run {id} completed with 1 exception(s)"),
    );
    assert!(position(&out, "Total: ") < warning, "{out}");
    assert!(
        out[warning..].contains(
            "verify: /Library/Preferences/com.microsoft.CompanyPortalMac.plist: still present"
        ),
        "{out}"
    );
    // In the JSON document's warnings too.
    let plan = dev.reenroll(&["plan", &pb, "--json"]).exit(0).json();
    assert!(plan["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|w| w.as_str().unwrap().contains(&id)));
}

#[test]
fn run_shows_the_details_then_the_summary_next_to_its_question() {
    let dev = Sandbox::new().users(&["alice", "bob"]).build();
    let mut cmd = Command::new(BIN);
    cmd.arg("--root")
        .arg(dev.root())
        .args(["run", "reregister"])
        .env("NO_COLOR", "1");
    let mut p = rexpect::session::spawn_command(cmd, Some(60_000)).unwrap();
    let shown = utf8(&p.exp_string("Run playbook `reregister`").unwrap());
    p.send_line("n").unwrap();
    p.exp_string("nothing was changed").unwrap();
    p.exp_eof().unwrap();
    let details = position(&shown, "Details ");
    let summary = position(&shown, "Summary: ");
    assert!(details < summary, "{shown}");
    assert!(shown.contains(" × 2 users"), "{shown}");
    assert!(dev.run_ids().is_empty());
}

#[test]
fn a_policy_plan_logs_the_summary_plain_and_unwrapped() {
    let dev = Sandbox::new().users(&["alice", "bob"]).build();
    let out = dev
        .reenroll(&[
            "jamf-policy",
            "/",
            "Alice's MacBook Pro",
            "alice",
            "playbook=cause6",
            "action=plan",
        ])
        .env("COLUMNS", "60")
        .env("TERM", "xterm-256color")
        .exit(0)
        .stdout;
    assert!(out.contains("action=plan"), "{out}");
    assert!(
        out.contains("Summary: ") && out.contains("Total: "),
        "{out}"
    );
    assert!(!out.contains("Details"), "{out}");
    assert!(!out.contains('\x1b') && !out.contains('⚠'), "{out}");
    assert!(out.lines().any(|l| l.chars().count() > 100), "{out}");
}
