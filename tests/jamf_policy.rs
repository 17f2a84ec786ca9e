//! Unattended use from a Jamf Pro policy: the policy validates, journals, installs and starts the
//! LaunchDaemon, and exits 0 at once; the daemon (started here by `sandbox boot`, as launchd
//! would) does the work; a second policy confirms the server steps; the extension attribute
//! follows along.

mod support;

use support::{Device, Run, Sandbox};

const DAEMON: &str = "/Library/LaunchDaemons/com.github.reenroll.plist";

fn policy(dev: &Device, params: &[&str]) -> Run {
    let mut all = vec!["jamf-policy", "/", "Alice's MacBook Pro", "alice"];
    all.extend_from_slice(params);
    dev.reenroll(&all).run()
}

fn ea(dev: &Device) -> String {
    dev.reenroll(&["status", "--jamf-ea"])
        .exit(0)
        .stdout
        .trim()
        .to_string()
}

#[test]
fn a_policy_schedules_the_run_and_the_daemon_carries_it_out() {
    let dev = Sandbox::new().build();
    assert_eq!(ea(&dev), "<result>none</result>");
    let out = policy(
        &dev,
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
    assert_eq!(out.code, Some(0), "{out}");
    out.stdout_contains("remediation scheduled");
    // Nothing was done in the policy's process: the Jamf framework is still there.
    assert!(dev.exists("/usr/local/jamf/bin/jamf"));
    assert!(dev.exists(DAEMON));
    assert!(dev
        .command_log()
        .iter()
        .any(|l| l == &format!("/bin/launchctl bootstrap system {DAEMON}")));
    assert!(
        ea(&dev).starts_with("<result>scheduled preflight "),
        "{}",
        ea(&dev)
    );

    // launchd starts the daemon: it runs until the restart.
    dev.boot().exit(0);
    assert!(
        ea(&dev).starts_with("<result>paused restart "),
        "{}",
        ea(&dev)
    );
    assert!(
        !dev.exists("/usr/local/jamf/bin/jamf"),
        "the daemon removed the framework"
    );
    // the restart: the daemon resumes and waits for the server steps
    dev.boot().exit(0);
    assert!(
        ea(&dev).starts_with("<result>paused wait-for-server-cleanup "),
        "{}",
        ea(&dev)
    );

    // A second policy confirms the server steps and hands the run back to the daemon.
    let out = policy(
        &dev,
        &[
            "action=resume",
            "confirm=delete-jamf-record,delete-entra-device",
            "confirm=delete-intune-records,check-filevault-escrow,run-registration-policy",
        ],
    );
    assert_eq!(out.code, Some(0), "{out}");
    dev.boot().exit(0);
    assert!(ea(&dev).starts_with("<result>completed "), "{}", ea(&dev));
    assert!(!dev.exists(DAEMON), "the daemon removed itself");
    let log = dev.command_log();
    assert_eq!(
        log.last().map(String::as_str),
        Some("/bin/launchctl bootout system/com.github.reenroll"),
        "bootout last: {log:?}"
    );
    assert!(dev.read("/var/log/reenroll.log").contains("run completed"));
}

#[test]
fn bad_parameters_exit_2_naming_the_parameter() {
    let dev = Sandbox::new().build();
    policy(&dev, &["", "action=jump"]).stderr_contains("parameter 5");
    let out = policy(&dev, &["", "", "intune_settle=5"]);
    assert_eq!(out.code, Some(2));
    out.stderr_contains("parameter 6")
        .stderr_contains("intune_settle");
    let out = policy(&dev, &["nonsense"]);
    assert_eq!(out.code, Some(2));
    out.stderr_contains("parameter 4");
    assert_eq!(policy(&dev, &["", "action=jump"]).code, Some(2));
    // nothing was scheduled
    assert!(!dev.exists(DAEMON));
    assert_eq!(ea(&dev), "<result>none</result>");
}

#[test]
fn managed_preferences_sit_between_jamf_parameters_and_defaults() {
    let dev = Sandbox::new().build();
    let mut d = plist::Dictionary::new();
    d.insert(
        "intune_settle_minutes".into(),
        plist::Value::Integer(45.into()),
    );
    d.insert(
        "reboot_delay_minutes".into(),
        plist::Value::Integer(3.into()),
    );
    let prefs = dev.path("/Library/Managed Preferences/com.github.reenroll.plist");
    std::fs::create_dir_all(prefs.parent().unwrap()).unwrap();
    plist::Value::Dictionary(d).to_file_binary(&prefs).unwrap();
    let plan = dev
        .reenroll(&["plan", "--json", "--set", "reboot_delay_minutes=7"])
        .exit(0)
        .json();
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
    assert_eq!(policy(&dev, &["intune_settle_minutes=50"]).code, Some(0));
    let header = dev.journal(&dev.last_run()).remove(0);
    assert_eq!(header["vars"]["intune_settle_minutes"], "50");
    assert_eq!(
        header["var_sources"]["intune_settle_minutes"],
        "Jamf policy parameter"
    );
    assert_eq!(header["vars"]["reboot_delay_minutes"], "3");
}

/// Under the LaunchDaemon reenroll is the copy in `<state>/bin/reenroll`, and the keychain helper
/// is that copy run as the user (`launchctl asuser UID sudo -u USER <state>/bin/reenroll
/// keychain-helper …`). Run as root, the sandbox's sudo drops to the user's uid as macOS does, so
/// the user must be able to reach and execute the copy: the state folder and `bin/` 0755, the
/// binary root-owned 0755, while everything holding journals and exports stays root-only.
#[test]
fn under_the_daemon_the_keychain_helper_reaches_each_users_keychain() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: only root can drop to the sandbox users' uids (the fake sudo cannot)");
        return;
    }
    let dev = Sandbox::new().build();
    let out = policy(&dev, &["playbook=cause6", "", "intune_settle_minutes=0"]);
    assert_eq!(out.code, Some(0), "{out}");
    dev.boot().exit(0);
    let states = dev.step_states();
    assert_eq!(
        states["purge-keychains"],
        "done",
        "the keychain purge under the daemon: {:#}",
        dev.last_run_status()
    );
    assert!(
        ea(&dev).starts_with("<result>paused restart "),
        "{}",
        ea(&dev)
    );
    let binary = dev.state_dir().join("bin/reenroll");
    let log = dev.command_log();
    for (user, uid) in [("alice", 501), ("bob", 502)] {
        let helper = format!(
            "/bin/launchctl asuser {uid} /usr/bin/sudo -u {user} {} keychain-helper",
            binary.display()
        );
        assert!(
            log.iter().any(|l| l.starts_with(&helper)),
            "no `{helper}` in the command log:\n{}",
            log.join("\n")
        );
        let keychain = dev.read(&format!(
            "/Users/{user}/Library/Keychains/sandbox-keychain.plist"
        ));
        assert!(
            !keychain.contains("MS-Organization-Access"),
            "{user}'s MS-Organization-Access items are still there"
        );
    }
    // The permission layout: reachable binary, private journals.
    use std::os::unix::fs::MetadataExt;
    let mode = |p: &std::path::Path| {
        let m = std::fs::symlink_metadata(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        (m.mode() & 0o7777, m.uid(), m.gid())
    };
    let state = dev.state_dir();
    let run = dev.run_dir(&dev.last_run());
    assert_eq!(mode(&state), (0o755, 0, 0), "the state folder");
    assert_eq!(mode(&state.join("bin")), (0o755, 0, 0), "bin/");
    assert!(std::fs::symlink_metadata(&binary).unwrap().is_file());
    assert_eq!(mode(&binary), (0o755, 0, 0), "bin/reenroll");
    assert_eq!(mode(&state.join("lock")).0, 0o600, "the run lock");
    assert_eq!(mode(&state.join("runs")).0, 0o700, "runs/");
    assert_eq!(mode(&run).0, 0o700, "the run's folder");
    assert_eq!(mode(&run.join("journal.jsonl")).0, 0o600, "the journal");
    assert_eq!(mode(&run.join("keychain")).0, 0o700, "the exports' folder");
    let exports: Vec<_> = std::fs::read_dir(run.join("keychain"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(!exports.is_empty(), "no exported keychain item");
    for e in exports {
        assert_eq!(mode(&e).0, 0o600, "{}", e.display());
    }
    dev.assert_private_state();
}
