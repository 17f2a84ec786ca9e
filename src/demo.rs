//! `reenroll demo`: build a throwaway sandbox Mac and walk through the whole Cause 6 fix against
//! it: plan → run (pauses for the restart) → simulated restart (the LaunchDaemon resumes) →
//! operator confirmations → status → rollback, explaining each stage. Any OS, no root.

use anyhow::{Context, Result};

const OPERATOR_STEPS: &[&str] = &[
    "delete-jamf-record",
    "delete-entra-device",
    "delete-intune-records",
    "check-filevault-escrow",
    "run-registration-policy",
];

pub fn run() -> Result<i32> {
    let exe = std::env::current_exe().context("finding reenroll's own binary")?;
    let base = std::env::temp_dir().join(format!("reenroll-demo-{}", std::process::id()));
    std::fs::create_dir_all(&base).with_context(|| format!("creating {}", base.display()))?;
    // NOTE: run as root, the sandbox's `sudo -u USER` drops to USER, who must cross this folder.
    std::fs::set_permissions(&base, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .with_context(|| format!("making {} traversable (0755)", base.display()))?;
    let root = base.join("mac");
    let r = root.to_string_lossy().to_string();
    let step = |title: &str, text: &str, args: &[&str]| -> Result<i32> {
        let text = text.replace('\n', " ");
        print!(
            "\n=== {title}\n{}",
            crate::output::wrap("", "", &text, crate::output::width())
        );
        println!("$ reenroll {}", args.join(" "));
        let status = std::process::Command::new(&exe)
            .args(args)
            .stdin(std::process::Stdio::null())
            .status()
            .with_context(|| format!("running reenroll {}", args.join(" ")))?;
        let code = status.code().unwrap_or(1);
        println!("(exit code {code})");
        Ok(code)
    };
    step(
        "1. A sandbox Mac",
        "A fake Mac in a temporary folder: two users, Company Portal, Jamf, keychains, and fake\nprograms (jamf, profiles, launchctl, shutdown...) that act only inside it.",
        &["sandbox", &r],
    )?;
    step(
        "2. Preview",
        "`plan` reads the device and lists every change the cause6 playbook would make, with\nsizes and what cannot be undone. It changes nothing and needs no root.",
        &["--root", &r, "plan", "--set", "intune_settle_minutes=0"],
    )?;
    step(
        "3. Run",
        "`run --yes` applies it step by step, journaling every change before making it. It pauses\n(exit 3) at the restart, after installing a LaunchDaemon that will resume it.",
        &["--root", &r, "run", "--yes", "--set", "intune_settle_minutes=0"],
    )?;
    step(
        "4. The restart",
        "`sandbox boot` simulates the restart: a new boot session, then launchd starts reenroll's\nLaunchDaemon, which resumes the run until the server steps need a person.",
        &["sandbox", "boot", &r],
    )?;
    let mut args = vec!["--root", r.as_str(), "resume"];
    for s in OPERATOR_STEPS {
        args.extend(["--confirm", s]);
    }
    step(
        "5. The server steps",
        "An admin deletes the Jamf Pro, Entra and Intune records (reenroll can do it with API\ncredentials) and confirms; the run waits the settle time, re-enrolls and finishes.",
        &args,
    )?;
    step(
        "6. Status",
        "`status` shows the run and each step's state, from the journal.",
        &["--root", &r, "status"],
    )?;
    step(
        "7. Rollback, previewed",
        "`rollback --dry-run` shows what rollback would put back and what it cannot. This run got\npast re-enrollment, so rollback would leave the old registration's keychain items out:\nputting them back onto a freshly registered Mac would recreate the duplicate.",
        &["--root", &r, "rollback", "--dry-run"],
    )?;
    step(
        "8. Rollback",
        "On a sandbox we insist: `rollback` puts back, newest first, everything the run removed\n(files, the app, keychain items that could be exported), lists what cannot be undone, and\nsays how the Mac is managed afterwards.",
        &[
            "--root",
            &r,
            "rollback",
            "--yes",
            "--even-after-reregistration",
        ],
    )?;
    println!("\nThe sandbox stays in {} for you to look at (journal: {}/Library/Application Support/reenroll); delete it when done.", root.display(), root.display());
    Ok(0)
}
