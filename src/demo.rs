//! `reenroll demo`: build a throwaway sandbox and walk through plan → run → status → rollback,
//! explaining each stage. Works on any OS without root.

use anyhow::{Context, Result};

pub fn run() -> Result<i32> {
    let exe = std::env::current_exe().context("finding reenroll's own binary")?;
    let dir = tempfile_dir()?;
    let root = dir.join("mac");
    let step = |title: &str, text: &str, args: &[&str]| -> Result<i32> {
        println!("\n=== {title}\n{text}\n$ reenroll {}", args.join(" "));
        let status = std::process::Command::new(&exe)
            .args(args)
            .stdin(std::process::Stdio::null())
            .status()?;
        Ok(status.code().unwrap_or(1))
    };
    let r = root.to_string_lossy().to_string();
    step("1. A sandbox device", "A fake Mac in a temporary folder: users, Company Portal, Jamf, keychains, and fake programs that act only inside it.", &["sandbox", &r])?;
    step("2. Preview", "`plan` looks at the device and lists every change the cause6 playbook would make. It changes nothing.", &["--root", &r, "plan", "reregister"])?;
    let code = step(
        "3. Run",
        "`run --yes` applies it step by step; every change is journaled before it is made.",
        &["--root", &r, "run", "--yes", "reregister"],
    )?;
    println!("(exit code {code})");
    step(
        "4. Status",
        "`status` shows the run and the state of each step, from the journal.",
        &["--root", &r, "status"],
    )?;
    step("5. Rollback", "`rollback` puts back, newest first, everything the run removed, and lists what cannot be undone.", &["--root", &r, "rollback", "--yes"])?;
    println!(
        "\nThe sandbox stays in {} for you to look at; delete it when done.",
        root.display()
    );
    Ok(0)
}

fn tempfile_dir() -> Result<std::path::PathBuf> {
    let base = std::env::temp_dir().join(format!("reenroll-demo-{}", std::process::id()));
    std::fs::create_dir_all(&base).with_context(|| format!("creating {}", base.display()))?;
    Ok(base)
}
