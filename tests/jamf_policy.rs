//! Unattended use from a Jamf Pro policy: the policy validates, refuses a run that could strand
//! the Mac, journals, installs and starts the LaunchDaemon, and exits 0 at once; the daemon
//! (started here by `sandbox boot`, as launchd would) does the work; operator steps are done
//! ahead, over SSH, or by a second policy once the Mac is enrolled again; the extension
//! attribute follows along.

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

/// After `remove-framework` no policy reaches the Mac: a policy run whose server steps would
/// wait for an operator there is refused before anything changes.
#[test]
fn a_policy_run_that_could_strand_the_mac_is_refused_before_anything_changes() {
    let dev = Sandbox::new().build();
    let before = dev.tree_hash();
    let out = policy(
        &dev,
        &[
            "playbook=cause6",
            "intune_settle_minutes=0",
            "settle_override=yes",
        ],
    );
    assert_eq!(out.code, Some(4), "{out}");
    out.stderr_contains("could strand the Mac")
        .stderr_contains("`remove-framework`")
        .stderr_contains("delete-jamf-record, delete-entra-device, delete-intune-records")
        .stderr_contains("operator=remote")
        .stderr_contains("reenroll server cleanup");
    before.assert_same(&dev.tree_hash(), "a refused policy");
    assert!(!dev.exists(DAEMON));
    assert_eq!(ea(&dev), "<result>none</result>");
    assert!(dev
        .read("/var/log/reenroll.log")
        .contains("jamf policy refused"));
    // An admin's own run in a shell is itself a channel: not refused.
    let plan = dev.reenroll(&["plan"]).exit(0);
    plan.stdout_contains("delete-jamf-record");
    // The reregister playbook keeps the framework: nothing can strand the Mac.
    let out = policy(&dev, &["playbook=reregister"]);
    assert_eq!(out.code, Some(0), "{out}");
}

#[test]
fn a_remote_operator_policy_prints_the_commands_and_the_daemon_carries_it_out() {
    let dev = Sandbox::new().build();
    assert_eq!(ea(&dev), "<result>none</result>");
    let out = policy(
        &dev,
        &[
            "playbook=cause6",
            "",
            "intune_settle_minutes=0",
            "operator=remote",
            "settle_override=yes",
            "",
            "",
            "",
        ],
    );
    assert_eq!(out.code, Some(0), "{out}");
    out.stdout_contains("remediation scheduled")
        .stdout_contains("sudo reenroll resume --confirm delete-jamf-record")
        .stdout_contains("sudo reenroll resume --confirm delete-intune-records")
        .stdout_contains("sudo reenroll resume --confirm run-registration-policy");
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

    // Over SSH, the operator confirms what they did, with the printed commands.
    dev.reenroll(&[
        "resume",
        "--confirm",
        "delete-jamf-record",
        "--confirm",
        "delete-entra-device",
        "--confirm",
        "delete-intune-records",
        "--confirm",
        "check-filevault-escrow",
        "--confirm",
        "run-registration-policy",
    ])
    .exit(0);
    assert!(ea(&dev).starts_with("<result>completed "), "{}", ea(&dev));
    assert!(!dev.exists(DAEMON), "the daemon was removed at the end");
    // Re-enrolled: inventory is sent once the run has ended, so Jamf Pro sees "completed".
    let log = dev.command_log();
    let recon = log
        .iter()
        .rposition(|l| l.contains("jamf recon"))
        .unwrap_or_else(|| panic!("no jamf recon after re-enrollment:\n{}", log.join("\n")));
    let enrolled = log
        .iter()
        .rposition(|l| l.contains("profiles status -type enrollment"))
        .unwrap();
    assert!(recon > enrolled, "recon before the enrollment was back");
    assert!(dev.read("/var/log/reenroll.log").contains("run completed"));
}

/// The server steps done centrally first (`reenroll server cleanup`) and confirmed ahead: the
/// run needs nobody until re-enrollment gives the policy channel back.
#[test]
fn server_steps_confirmed_ahead_let_the_daemon_run_to_re_enrollment() {
    let dev = Sandbox::new().build();
    // confirm= names only operator or server steps of the playbook.
    let out = policy(&dev, &["confirm=remove-framework"]);
    assert_eq!(out.code, Some(2), "{out}");
    out.stderr_contains("not an operator or server step")
        .stderr_contains("delete-jamf-record");
    let out = policy(
        &dev,
        &[
            "intune_settle_minutes=0",
            "settle_override=yes",
            "confirm=delete-jamf-record,delete-entra-device,delete-intune-records",
        ],
    );
    assert_eq!(out.code, Some(0), "{out}");
    out.stdout_contains("done ahead (confirm=): delete-intune-records");
    dev.boot().exit(0);
    dev.boot().exit(0);
    let states = dev.step_states();
    assert_eq!(states["delete-intune-records"], "done", "{states:?}");
    assert_eq!(states["wait-for-server-cleanup"], "done", "{states:?}");
    assert_eq!(states["wait-for-enrollment"], "done", "{states:?}");
    // Re-enrolled: the policy channel is back, and a second policy confirms the last step.
    assert!(
        ea(&dev).starts_with("<result>paused run-registration-policy "),
        "{}",
        ea(&dev)
    );
    // confirm= with action=resume names only operator or server steps of this run that are
    // waiting or still to come: anything else is refused (exit 2) listing those, and logged.
    let run = dev.last_run();
    for (bad, why) in [
        ("remove-framework", "is not an operator or server step"),
        (
            "delete-jamf-record",
            "is done, not waiting or still to come",
        ),
        ("no-such-step", "has no step `no-such-step`"),
    ] {
        let out = policy(&dev, &["action=resume", &format!("confirm={bad}")]);
        assert_eq!(out.code, Some(2), "{out}");
        out.stderr_contains(why)
            .stderr_contains("(waiting or not yet reached) are: ")
            .stderr_contains("run-registration-policy");
        assert!(
            !out.stderr.contains("delete-intune-records,")
                && !out.stderr.contains(", delete-intune-records"),
            "a done step is offered: {out}"
        );
        let log = dev.read("/var/log/reenroll.log");
        assert!(
            log.lines().any(
                |l| l.contains("jamf policy rejected") && l.contains(&format!("confirm={bad}"))
            ),
            "{log}"
        );
    }
    assert!(
        ea(&dev).starts_with("<result>paused run-registration-policy "),
        "a rejected confirmation changed the run: {}",
        ea(&dev)
    );
    let out = policy(
        &dev,
        &[
            "action=resume",
            "confirm=check-filevault-escrow,run-registration-policy",
        ],
    );
    assert_eq!(out.code, Some(0), "{out}");
    dev.boot().exit(0);
    assert!(ea(&dev).starts_with("<result>completed "), "{}", ea(&dev));
    // Nothing left to resume: said plainly, which run and its state; a confirmation then has
    // nothing to be recorded in (exit 2).
    let out = policy(&dev, &["action=resume"]);
    assert_eq!(out.code, Some(0), "{out}");
    out.stdout_contains(&format!(
        "nothing to resume: the newest run, {run} of playbook cause6, is completed"
    ));
    let out = policy(&dev, &["action=resume", "confirm=run-registration-policy"]);
    assert_eq!(out.code, Some(2), "{out}");
    out.stderr_contains("nothing to resume")
        .stderr_contains("nothing was recorded");
    assert!(dev
        .read("/var/log/reenroll.log")
        .contains("jamf policy rejected: confirm=run-registration-policy: nothing to resume"));
}

#[test]
fn action_resume_without_a_run_says_there_is_nothing_to_resume() {
    let dev = Sandbox::new().build();
    let before = dev.tree_hash();
    let out = policy(&dev, &["action=resume"]);
    assert_eq!(out.code, Some(0), "{out}");
    out.stdout_contains("nothing to resume: there is no reenroll run on this Mac");
    let out = policy(&dev, &["action=resume", "confirm=delete-jamf-record"]);
    assert_eq!(out.code, Some(2), "{out}");
    out.stderr_contains("nothing was recorded");
    before.assert_same(
        &dev.tree_hash()
            .without("var/log/reenroll.log")
            .without("Library/Application Support/reenroll"),
        "action=resume with nothing to resume",
    );
    assert!(!dev.exists(DAEMON));
}

/// Removing the MDM profile removes the profiles it installed: a Mac whose only network is a
/// managed Wi-Fi would be stranded. Preflight lists such payloads, plan warns in every mode, and
/// a policy refuses unless the admin acknowledges.
#[test]
fn a_managed_wifi_only_mac_is_refused_unless_the_policy_acknowledges_it() {
    let dev = Sandbox::new()
        .managed_network(&["wifi", "root-cert"])
        .build();
    let warning = "managed network or trust payloads may be removed with the MDM profile (step `remove-mdm-profile`)";
    let wifi = "Wi-Fi (com.apple.wifi.managed) in profile \"Contoso Wi-Fi\" (com.contoso.wifi)";
    // A shell's plan, human and JSON.
    dev.reenroll(&["plan"])
        .exit(0)
        .stdout_contains(warning)
        .stdout_contains("com.apple.security.root");
    let plan = dev.reenroll(&["plan", "--json"]).exit(0).json();
    let warnings = plan["warnings"].to_string();
    assert!(warnings.contains("remove-mdm-profile"), "{warnings}");
    let facts = &plan["facts"]["managed_payloads"];
    assert!(
        facts
            .as_array()
            .is_some_and(|a| a.iter().any(|p| p == wifi)),
        "{facts}"
    );
    // A policy's dry run shows it too.
    policy(&dev, &["action=plan"])
        .stdout_contains("nothing was changed")
        .stdout_contains(warning);

    let before = dev.tree_hash();
    let params = [
        "operator=remote",
        "intune_settle_minutes=0",
        "settle_override=yes",
    ];
    let out = policy(&dev, &params);
    assert_eq!(out.code, Some(4), "{out}");
    out.stderr_contains("refused: this Mac has managed network or trust payloads")
        .stderr_contains(wifi)
        .stderr_contains("com.apple.security.root")
        .stderr_contains("managed_network=acknowledged");
    before.assert_same(
        &dev.tree_hash().without("var/log/reenroll.log"),
        "a refused policy",
    );
    assert!(!dev.exists(DAEMON));
    assert_eq!(ea(&dev), "<result>none</result>");
    let log = dev.read("/var/log/reenroll.log");
    assert!(
        log.lines().any(|l| l
            .contains("jamf policy refused: this Mac has managed network or trust payloads")
            && l.contains("com.apple.wifi.managed")),
        "{log}"
    );
    // A value other than `acknowledged` is a usage error, logged too.
    let out = policy(&dev, &["managed_network=yes"]);
    assert_eq!(out.code, Some(2), "{out}");
    out.stderr_contains("parameter 4");
    assert!(dev
        .read("/var/log/reenroll.log")
        .contains("jamf policy rejected: parameter 4 (`managed_network=yes`)"));
    // The reregister playbook keeps the MDM profile: nothing to acknowledge.
    let out = policy(&dev, &["playbook=reregister", "action=plan"]);
    assert_eq!(out.code, Some(0), "{out}");
    assert!(!out.stdout.contains(warning), "{out}");

    // Acknowledged: scheduled, and the policy log says what was acknowledged.
    let mut acknowledged = params.to_vec();
    acknowledged.push("managed_network=acknowledged");
    let out = policy(&dev, &acknowledged);
    assert_eq!(out.code, Some(0), "{out}");
    out.stdout_contains("remediation scheduled")
        .stdout_contains(&format!("  warning: {warning}"));
    assert!(dev.read("/var/log/reenroll.log").contains(
        "managed_network=acknowledged: the policy runs although Wi-Fi (com.apple.wifi.managed)"
    ));
    assert!(dev.exists(DAEMON));
    // The daemon removes the MDM profile, and the managed profiles go with it.
    dev.boot().exit(0);
    let facts = dev.last_run_status()["facts"]["managed_payloads"].clone();
    assert!(
        facts.to_string().contains("com.apple.wifi.managed"),
        "{facts}"
    );
    let profiles = std::process::Command::new(dev.path("/usr/bin/profiles"))
        .args(["show", "-type", "configuration"])
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&profiles.stdout);
    assert!(!listing.contains("com.apple.wifi.managed"), "{listing}");
}

/// A shell's `run --yes` shows no plan, but the managed network warning all the same; it is not
/// refused (the admin at the shell has a channel to the Mac).
#[test]
fn run_yes_in_a_shell_is_warned_of_managed_network_payloads() {
    let dev = Sandbox::new().managed_network(&["vpn"]).build();
    let out = dev
        .reenroll(&["run", "--yes", "--set", "intune_settle_minutes=30"])
        .run();
    assert_eq!(out.code, Some(3), "paused at the restart: {out}");
    out.stdout_contains("warning: managed network or trust payloads may be removed with the MDM profile (step `remove-mdm-profile`): VPN (com.apple.vpn.managed)");
}

/// The policy log reads like a summary: the serial, the playbook and run, what the daemon was
/// given, when the restart comes, what the admin does next with the real step ids. One line
/// per item: no wrapping off a terminal.
#[test]
fn the_policy_log_is_a_summary_an_admin_scans() {
    let dev = Sandbox::new().build();
    // A normal sandbox has no managed network payloads: nothing to acknowledge.
    assert!(!dev
        .reenroll(&["plan"])
        .exit(0)
        .stdout
        .contains("managed network or trust payloads"));
    let out = policy(
        &dev,
        &[
            "operator=remote",
            "intune_settle_minutes=0",
            "settle_override=yes",
            "reboot_delay_minutes=5",
        ],
    );
    assert_eq!(out.code, Some(0), "{out}");
    let run = dev.last_run();
    let serial = dev.serial();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(
        lines[0].starts_with(&format!(
            "remediation scheduled: run {run} of playbook cause6 ("
        )) && lines[0].ends_with(&format!("on serial {serial} (\"Alice's MacBook Pro\")")),
        "{out}"
    );
    out.stdout_contains("handed to the LaunchDaemon com.github.reenroll")
        .stdout_contains("  restart: step `restart` schedules it 5 minutes after the daemon reaches it (reboot_delay_minutes = 5); an estimate")
        .stdout_contains("  reboot_delay_minutes = \"5\" (Jamf policy parameter)")
        .stdout_contains("other variables at the playbook's default")
        .stdout_contains("  next (operator=remote): ")
        .stdout_contains("    sudo reenroll resume --confirm delete-jamf-record")
        .stdout_contains("    sudo reenroll resume --confirm run-registration-policy")
        .stdout_contains("  warning: intune_settle_minutes = 0 is below the 30 minutes");
    // Not wrapped at 80 columns: each warning is one line.
    let warning = lines
        .iter()
        .find(|l| l.starts_with("  warning: intune_settle_minutes"))
        .unwrap();
    assert!(warning.len() > 80, "{warning}");
    assert!(
        lines
            .iter()
            .all(|l| l.starts_with("remediation") || l.starts_with("  ")),
        "{out}"
    );
    // Jamf escrow without credentials only says what may be lost: nobody confirms it.
    assert!(!out.stdout.contains("--confirm escrow-deleted"), "{out}");

    // Everything done ahead but the step after re-enrollment: a second policy confirms it.
    let dev = Sandbox::new().build();
    let out = policy(
        &dev,
        &[
            "confirm=delete-jamf-record,delete-entra-device,delete-intune-records,check-filevault-escrow",
        ],
    );
    assert_eq!(out.code, Some(0), "{out}");
    out.stdout_contains("  next: the run may wait for an operator at unmanage-via-jamf-api, run-registration-policy; when the extension attribute says `paused STEP`, do that step and confirm it with a second policy: action=resume confirm=STEP");
    assert!(!out.stdout.contains("  warning:"), "{out}");
}

/// Cutting the settle wait below the article's 30 minutes is a warning everywhere, and a policy
/// must acknowledge it.
#[test]
fn a_settle_wait_below_30_minutes_needs_settle_override_from_a_policy() {
    let dev = Sandbox::new().build();
    let out = policy(&dev, &["operator=remote", "intune_settle_minutes=10"]);
    assert_eq!(out.code, Some(2), "{out}");
    out.stderr_contains("intune_settle_minutes = 10 is below the 30 minutes")
        .stderr_contains("settle_override=yes");
    assert!(!dev.exists(DAEMON));
    assert!(dev
        .read("/var/log/reenroll.log")
        .contains("jamf policy rejected"));
    dev.reenroll(&["plan", "--set", "intune_settle_minutes=10"])
        .exit(0)
        .stdout_contains("below the 30 minutes");
    let out = policy(
        &dev,
        &[
            "operator=remote",
            "intune_settle_minutes=10",
            "settle_override=yes",
        ],
    );
    assert_eq!(out.code, Some(0), "{out}");
    let st = dev.last_run_status();
    assert!(
        st["notes"].to_string().contains("below the 30 minutes"),
        "{st:#}"
    );
    assert!(dev
        .read("/var/log/reenroll.log")
        .contains("below the 30 minutes"));
    // At the article's 30, nothing to acknowledge.
    assert!(policy(&dev, &["action=plan", "intune_settle_minutes=30"])
        .stdout
        .contains("nothing was changed"));
}

#[test]
fn action_plan_is_a_dry_run() {
    let dev = Sandbox::new().build();
    let before = dev.tree_hash();
    let out = policy(&dev, &["action=plan"]);
    assert_eq!(out.code, Some(0), "{out}");
    out.stdout_contains("nothing was changed")
        .stdout_contains("remove-framework");
    before.assert_same(&dev.tree_hash(), "action=plan");
    assert!(!dev.exists(DAEMON));
    assert_eq!(ea(&dev), "<result>none</result>");
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
    // Each rejected call is logged with its reason, parsing errors included.
    let log = dev.read("/var/log/reenroll.log");
    for reason in [
        "jamf policy rejected: parameter 5 (`action=jump`)",
        "jamf policy rejected: parameter 6",
        "jamf policy rejected: parameter 4: expected key=value",
    ] {
        assert!(log.contains(reason), "no `{reason}` in the log:\n{log}");
    }
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
    assert_eq!(
        policy(&dev, &["intune_settle_minutes=50", "operator=remote"]).code,
        Some(0)
    );
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
    let out = policy(
        &dev,
        &[
            "playbook=cause6",
            "operator=remote",
            "intune_settle_minutes=0",
            "settle_override=yes",
        ],
    );
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
