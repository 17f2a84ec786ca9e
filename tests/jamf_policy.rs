//! Unattended use from a Jamf Pro policy: the policy validates, journals, installs and starts the
//! LaunchDaemon, and exits 0 at once; the daemon (started here by `sandbox boot`, as launchd
//! would) does the work; a second policy confirms the server steps; the extension attribute
//! follows along.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_reenroll");

fn sandbox() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("mac");
    let out = Command::new(BIN)
        .arg("sandbox")
        .arg(&root)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (dir, root)
}

fn reenroll(root: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("--root")
        .arg(root)
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap()
}

fn policy(root: &Path, params: &[&str]) -> Output {
    let mut all = vec!["jamf-policy", "/", "Alice's MacBook Pro", "alice"];
    all.extend_from_slice(params);
    reenroll(root, &all)
}

fn ea(root: &Path) -> String {
    String::from_utf8(reenroll(root, &["status", "--jamf-ea"]).stdout)
        .unwrap()
        .trim()
        .to_string()
}

fn command_log(root: &Path) -> String {
    std::fs::read_to_string(root.join("var/log/sandbox-commands.log")).unwrap_or_default()
}

#[test]
fn a_policy_schedules_the_run_and_the_daemon_carries_it_out() {
    let (_dir, root) = sandbox();
    assert_eq!(ea(&root), "<result>none</result>");
    let out = policy(
        &root,
        &[
            "playbook=cause6",
            "",
            "intune_settle_minutes=0",
            "",
            "",
            "",
            "",
            "",
        ],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("remediation scheduled"), "{text}");
    // Nothing was done in the policy's process: the Jamf framework is still there.
    assert!(root.join("usr/local/jamf/bin/jamf").exists());
    assert!(root
        .join("Library/LaunchDaemons/com.github.reenroll.plist")
        .exists());
    assert!(command_log(&root).contains(
        "/bin/launchctl bootstrap system /Library/LaunchDaemons/com.github.reenroll.plist"
    ));
    assert!(
        ea(&root).starts_with("<result>paused preflight "),
        "{}",
        ea(&root)
    );

    // launchd starts the daemon: it runs until the restart.
    let boot = Command::new(BIN)
        .args(["sandbox", "boot"])
        .arg(&root)
        .output()
        .unwrap();
    assert!(boot.status.success());
    assert!(
        ea(&root).starts_with("<result>paused restart "),
        "{}",
        ea(&root)
    );
    assert!(
        !root.join("usr/local/jamf/bin/jamf").exists(),
        "the daemon removed the framework"
    );
    // the restart: the daemon resumes and waits for the server steps
    Command::new(BIN)
        .args(["sandbox", "boot"])
        .arg(&root)
        .output()
        .unwrap();
    assert!(
        ea(&root).starts_with("<result>paused wait-for-server-cleanup "),
        "{}",
        ea(&root)
    );

    // A second policy confirms the server steps and hands the run back to the daemon.
    let out = policy(
        &root,
        &[
            "action=resume",
            "confirm=delete-jamf-record,delete-entra-device",
            "confirm=delete-intune-records,run-registration-policy",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Command::new(BIN)
        .args(["sandbox", "boot"])
        .arg(&root)
        .output()
        .unwrap();
    assert!(ea(&root).starts_with("<result>completed "), "{}", ea(&root));
    assert!(
        !root
            .join("Library/LaunchDaemons/com.github.reenroll.plist")
            .exists(),
        "the daemon removed itself"
    );
    let log = command_log(&root);
    assert!(
        log.trim_end()
            .ends_with("/bin/launchctl bootout system/com.github.reenroll"),
        "bootout last:\n{log}"
    );
    // the daemon's log
    let daemon_log = std::fs::read_to_string(root.join("var/log/reenroll.log")).unwrap();
    assert!(daemon_log.contains("run completed"), "{daemon_log}");
}

#[test]
fn bad_parameters_exit_2_naming_the_parameter() {
    let (_dir, root) = sandbox();
    let out = policy(&root, &["", "action=jump"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("parameter 5"));
    let out = policy(&root, &["", "", "intune_settle=5"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("parameter 6") && err.contains("intune_settle"),
        "{err}"
    );
    let out = policy(&root, &["nonsense"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("parameter 4"));
    // nothing was scheduled
    assert!(!root
        .join("Library/LaunchDaemons/com.github.reenroll.plist")
        .exists());
    assert_eq!(ea(&root), "<result>none</result>");
}

#[test]
fn managed_preferences_sit_between_jamf_parameters_and_defaults() {
    let (_dir, root) = sandbox();
    let prefs = root.join("Library/Managed Preferences");
    std::fs::create_dir_all(&prefs).unwrap();
    let mut d = plist::Dictionary::new();
    d.insert(
        "intune_settle_minutes".into(),
        plist::Value::Integer(45.into()),
    );
    d.insert(
        "reboot_delay_minutes".into(),
        plist::Value::Integer(3.into()),
    );
    plist::Value::Dictionary(d)
        .to_file_binary(prefs.join("com.github.reenroll.plist"))
        .unwrap();
    let out = reenroll(
        &root,
        &["plan", "--json", "--set", "reboot_delay_minutes=7"],
    );
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(plan["vars"]["intune_settle_minutes"]["value"], "45");
    assert_eq!(
        plan["vars"]["intune_settle_minutes"]["source"],
        "managed preferences"
    );
    assert_eq!(plan["vars"]["reboot_delay_minutes"]["value"], "7");
    assert_eq!(
        plan["vars"]["reboot_delay_minutes"]["source"],
        "command line"
    );
    assert_eq!(
        plan["vars"]["self_service_policy_id"]["source"],
        "playbook default"
    );
    // Jamf parameters beat the profile
    let out = policy(&root, &["intune_settle_minutes=50"]);
    assert_eq!(out.status.code(), Some(0));
    let st: serde_json::Value =
        serde_json::from_slice(&reenroll(&root, &["status", "--json"]).stdout).unwrap();
    let id = st["runs"][0]["id"].as_str().unwrap();
    let journal = std::fs::read_to_string(
        root.join("Library/Application Support/reenroll/runs")
            .join(id)
            .join("journal.jsonl"),
    )
    .unwrap();
    let header: serde_json::Value = serde_json::from_str(journal.lines().next().unwrap()).unwrap();
    assert_eq!(header["vars"]["intune_settle_minutes"], "50");
    assert_eq!(
        header["var_sources"]["intune_settle_minutes"],
        "Jamf policy parameter"
    );
    assert_eq!(header["vars"]["reboot_delay_minutes"], "3");
}
