//! Errors are consistent (issue 14, section 5): each case ends with its documented exit code and
//! one clear message. (A second rollback is in tests/rollback_preview.rs.)

mod support;

use std::io::Write;
use std::process::{Command, Stdio};

use support::{Cmd, Sandbox, BIN, REMOVE_REBOOT_REMOVE};

const COMMANDS: &[&[&str]] = &[
    &["plan"],
    &["run", "--yes"],
    &["resume"],
    &["rollback", "--yes"],
    &["status"],
    &["purge", "--older-than", "1d", "--yes"],
    &["diagnose"],
];

fn with_root(root: &std::path::Path, args: &[&str]) -> Cmd {
    let mut all: Vec<std::ffi::OsString> = vec!["--root".into(), root.into()];
    all.extend(args.iter().map(std::ffi::OsString::from));
    Cmd::new(all)
}

#[test]
fn every_command_refuses_a_missing_or_non_sandbox_root_alike() {
    let tmp = support::traversable_tempdir();
    let missing = tmp.path().join("no-such-mac");
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    for args in COMMANDS {
        with_root(&missing, args)
            .exit(2)
            .stderr_contains("no such folder")
            .stderr_contains("reenroll sandbox");
        assert!(!missing.exists(), "{args:?} created {}", missing.display());
        with_root(&empty, args)
            .exit(2)
            .stderr_contains("not a sandbox device");
        assert_eq!(
            std::fs::read_dir(&empty).unwrap().count(),
            0,
            "{args:?} created something in a folder that is not a sandbox"
        );
    }
}

#[test]
fn a_user_who_is_not_root_on_a_root_sandbox_is_refused_plainly() {
    if !nix::unistd::geteuid().is_root() || Command::new("setpriv").arg("--help").output().is_err()
    {
        eprintln!("skipped: needs root and setpriv");
        return;
    }
    let dev = Sandbox::new().build();
    let pb = dev.playbook("rrr", REMOVE_REBOOT_REMOVE);
    dev.reenroll(&["run", &pb, "--yes"]).exit(3);
    let before = dev.tree_hash();
    for args in [
        &["status"][..],
        &["run", "--yes"],
        &["resume"],
        &["rollback", "--yes"],
        &["purge", "--older-than", "1d", "--yes"],
    ] {
        let out = Command::new("setpriv")
            .args([
                "--reuid",
                "65534",
                "--regid",
                "65534",
                "--clear-groups",
                BIN,
            ])
            .arg("--root")
            .arg(dev.root())
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(4), "{args:?}: {stderr}");
        assert!(
            stderr.starts_with("reenroll: permission denied"),
            "{args:?}: {stderr}"
        );
        assert!(stderr.contains("sudo"), "{args:?}: {stderr}");
        assert!(!stderr.contains("os error"), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
    }
    before.assert_same(&dev.tree_hash(), "refused as a user");
}

#[test]
fn diagnose_on_a_host_that_is_not_a_mac_says_so() {
    if cfg!(target_os = "macos") {
        return;
    }
    let r = Cmd::new(vec!["diagnose".into()]).exit(4);
    r.stderr_contains("this host is not a Mac")
        .stderr_contains("--root");
    assert!(!r.stdout.contains("problems found"), "{r}");
}

#[test]
fn playbooks_list_is_an_alias_and_a_misspelt_name_gets_a_suggestion() {
    let list = Cmd::new(vec!["playbooks".into(), "list".into()]).exit(0);
    let plain = Cmd::new(vec!["playbooks".into()]).exit(0);
    assert_eq!(list.stdout, plain.stdout);
    list.stdout_contains("cause6");
    let dev = Sandbox::new().build();
    dev.reenroll(&["plan", "casue6"])
        .exit(2)
        .stderr_contains("did you mean `cause6`?");
    Cmd::new(vec!["playbooks".into(), "show".into(), "cause".into()])
        .exit(2)
        .stderr_contains("did you mean `cause6`?");
}

#[test]
fn a_stale_saved_plan_lists_every_difference() {
    let dev = Sandbox::new().build();
    let pb = dev.playbook("rrr", REMOVE_REBOOT_REMOVE);
    let file = dev.outside().join("plan.json");
    let file = file.to_str().unwrap();
    dev.reenroll(&["plan", &pb, "--out", file]).exit(0);
    // Two differences: one user's preferences are gone, the app grew.
    dev.remove("/Users/alice/Library/Preferences/com.microsoft.CompanyPortalMac.plist");
    dev.write(
        "/Applications/Company Portal.app/Contents/extra",
        vec![0u8; 4096],
    );
    let before = dev.tree_hash();
    let r = dev.reenroll(&["run", "--plan", file]).exit(4);
    r.stderr_contains("(2 differences)")
        .stderr_contains(
            "step `first` would no longer remove /Users/alice/Library/Preferences/com.microsoft.CompanyPortalMac.plist",
        )
        .stderr_contains("step `second`: /Applications/Company Portal.app changed size")
        .stderr_contains("nothing was changed");
    before.assert_same(&dev.tree_hash(), "a stale plan");
}

/// `reenroll ARGS` on a pseudo-terminal (`script`): what it printed, stdout and stderr together.
fn on_a_terminal(args: &str) -> (Option<i32>, String) {
    let cmd = format!("{BIN} {args}");
    let mut child = Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running script");
    child.stdin.take().unwrap().write_all(b"").unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[test]
fn a_failed_step_is_said_once_on_a_terminal() {
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("skipped: needs script(1)");
        return;
    }
    let dev = Sandbox::new().jss_offline().build();
    let (code, out) = on_a_terminal(&format!(
        "--root '{}' run --yes --set intune_settle_minutes=0",
        dev.root().display()
    ));
    assert_eq!(code, Some(1), "{out}");
    let flat = out.split_whitespace().collect::<Vec<_>>().join(" ");
    assert_eq!(
        flat.matches("the Jamf Pro server does not answer").count(),
        1,
        "{out}"
    );
    assert!(!out.contains("ERROR"), "{out}");
    // Off a terminal (a pipe, a policy log) the error event is still on stderr.
    dev.reenroll(&["run", "--yes", "--set", "intune_settle_minutes=0"])
        .exit(1)
        .stderr_contains("ERROR");
}
