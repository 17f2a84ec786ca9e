//! `reboot`: restart the Mac and carry on afterwards (article step 9).
//!
//! Before the restart: copy the running binary to `<state>/bin/reenroll` (a stable path the
//! LaunchDaemon can run even if the admin's copy moves; root:wheel 0755 in 0755 folders, since
//! the keychain helper is that copy run as each user), write the LaunchDaemon
//! `/Library/LaunchDaemons/com.github.reenroll.plist` (root:wheel 0644, `RunAtLoad`, written with
//! the `plist` crate) whose program runs `reenroll resume RUN` for this run, record the boot
//! session id, schedule the restart with `shutdown -r +N`, and pause (exit 3). After the restart
//! the daemon resumes the run; this step sees a new boot session id and is done. The daemon
//! removes itself when the run completes, fails or is rolled back (`launchctl bootout` last).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use super::{Env, Op, Outcome, PlannedChange, Recorder, StepPlan};
use crate::device::{Capture, Device, RunOpts};
use crate::journal::{Change, Undo};

pub const LABEL: &str = "com.github.reenroll";
pub const DAEMON_PLIST: &str = "/Library/LaunchDaemons/com.github.reenroll.plist";
/// The temporary sibling `fs::write_file` writes the plist to before renaming it into place.
const DAEMON_PLIST_NEW: &str = "/Library/LaunchDaemons/.com.github.reenroll.plist.new";
/// The daemon's own output (the step lines a terminal would show), beside the log, which keeps
/// one timestamped line per event.
pub const DAEMON_OUTPUT: &str = "/var/log/reenroll-daemon.log";
/// How many daemon starts in a row may find the run interrupted (the previous start died) before
/// the daemon gives up: a crash loop must not keep a Mac busy forever.
pub const MAX_DAEMON_ATTEMPTS: u32 = 5;

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// Minutes between scheduling and the restart (`shutdown -r +N`).
    pub delay_minutes: String,
}

/// The LaunchDaemon property list (serde, written with the `plist` crate).
#[derive(Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct LaunchDaemon {
    pub label: String,
    pub program_arguments: Vec<String>,
    pub run_at_load: bool,
    pub standard_out_path: String,
    pub standard_error_path: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub environment_variables: BTreeMap<String, String>,
}

/// Where a run's daemon and its binary live, and what it runs.
pub struct DaemonSetup {
    pub device: Device,
    pub binary: PathBuf,
    pub daemon: LaunchDaemon,
}

/// Copy reenroll to the state directory and describe the daemon that resumes `run_id`.
pub fn prepare_daemon(device: &Device, state_dir: &Path, run_id: &str) -> Result<DaemonSetup> {
    let bin_dir = state_dir.join("bin");
    // NOTE: the daemon runs as root, and the keychain helper it starts is this same copy run as
    // each user (`sudo -u USER <state>/bin/reenroll keychain-helper`): the state folder and bin/
    // are 0755 and the copy root:wheel 0755, so users can run it but not change it. Journals,
    // quarantines and exports stay in the 0700 runs/.
    crate::journal::reachable_dir(state_dir)?;
    crate::journal::reachable_dir(&bin_dir)?;
    let binary = bin_dir.join("reenroll");
    let exe = std::env::current_exe().context("finding reenroll's own binary")?;
    if exe != binary {
        crate::journal::install_executable(&exe, &binary)?;
    }
    let mut args = vec![binary.display().to_string()];
    if device.is_sandbox() {
        args.push("--root".into());
        args.push(device.root().display().to_string());
    }
    args.push("--state-dir".into());
    args.push(state_dir.display().to_string());
    args.extend([
        "resume".to_string(),
        run_id.to_string(),
        "--yes".into(),
        "--from-daemon".into(),
    ]);
    let log = device.host_path(DAEMON_OUTPUT)?.display().to_string();
    Ok(DaemonSetup {
        device: device.clone(),
        binary,
        daemon: LaunchDaemon {
            label: LABEL.into(),
            program_arguments: args,
            run_at_load: true,
            standard_out_path: log.clone(),
            standard_error_path: log,
            environment_variables: BTreeMap::new(),
        },
    })
}

/// Write the daemon's plist (root:wheel 0644 on a Mac) through the journal.
pub fn install_daemon(setup: &DaemonSetup, rec: &mut dyn Recorder) -> Result<()> {
    let n = rec.intent(Change::Other {
        what: "install the LaunchDaemon".into(),
        target: DAEMON_PLIST.into(),
    })?;
    let mut bytes = Vec::new();
    plist::to_writer_xml(&mut bytes, &setup.daemon).context("encoding the LaunchDaemon")?;
    // root:wheel 0644, or launchd refuses it; written without following any link.
    crate::device::fs::write_file(&setup.device, DAEMON_PLIST, &bytes, 0o644)?;
    rec.applied(
        n,
        Undo::RemoveCreated {
            target: DAEMON_PLIST.into(),
        },
    )
}

/// Remove the daemon when its run has finished: the plist first, `launchctl bootout` last
/// (bootout kills the job, which may be this very process).
pub fn remove_daemon(device: &Device) -> Result<()> {
    use crate::device::fs;
    // A crash between writing the plist's temporary sibling and renaming it leaves a complete
    // `.com.github.reenroll.plist.new` behind; it goes with the daemon (a new install replaces it).
    if fs::remove_file(device, DAEMON_PLIST_NEW)? {
        tracing::info!("removed the leftover {DAEMON_PLIST_NEW}");
    }
    let Some(bytes) = fs::read_file(device, DAEMON_PLIST)? else {
        return Ok(());
    };
    let ours = plist::from_bytes::<LaunchDaemon>(&bytes)
        .map(|d| d.label == LABEL)
        .unwrap_or(false);
    if !ours {
        return Ok(());
    }
    fs::remove_file(device, DAEMON_PLIST)?;
    tracing::info!("removed the LaunchDaemon {DAEMON_PLIST}");
    if crate::device::programs::may_execute(device) && device.has_program("/bin/launchctl") {
        // NOTE: "Could not find service" when it was never loaded is fine.
        let _ = device.run(
            "/bin/launchctl",
            &["bootout".into(), format!("system/{LABEL}")],
            &RunOpts::default(),
        );
    }
    Ok(())
}

impl Spec {
    fn delay(&self) -> Result<u64> {
        let d = super::timer::minutes(
            "delay_minutes",
            &self.delay_minutes,
            super::timer::DAY,
            true,
        )?;
        Ok(d.as_secs() / 60)
    }

    pub fn plan(&self, env: &Env) -> Result<StepPlan> {
        let mut plan = StepPlan::default();
        let delay = self.delay()?;
        plan.changes.push(PlannedChange::new(
            Op::Reboot,
            format!("restart the Mac in {delay} minute(s) (shutdown -r +{delay})"),
            false,
        ));
        plan.changes.push(PlannedChange::new(Op::Run, format!("install {DAEMON_PLIST} to resume the run after the restart (removed when the run ends)"), true));
        if !env.device.has_program("/sbin/shutdown") {
            plan.notes
                .push("/sbin/shutdown is not on the device".into());
        }
        Ok(plan)
    }

    pub fn apply(&self, env: &Env, rec: &mut dyn Recorder) -> Result<Outcome> {
        let key = format!("boot-before:{}", env.step_id);
        let now_boot = env.device.boot_session()?;
        // The restart counts as scheduled only once `shutdown` ran (`reboot-at` is noted after it):
        // a crash or a failing `shutdown` before that schedules it again.
        let scheduled = rec
            .get_note(&format!("reboot-at:{}", env.step_id))
            .is_some();
        if let Some(before) = rec.get_note(&key) {
            if before != now_boot {
                return Ok(Outcome::Done(format!(
                    "the Mac restarted (boot session {before} -> {now_boot})"
                )));
            }
        }
        if scheduled {
            return Ok(Outcome::Pause {
                reason: format!(
                    "waiting for the restart scheduled at {} (the LaunchDaemon {LABEL} resumes the run afterwards)",
                    rec.get_note(&format!("reboot-at:{}", env.step_id)).unwrap_or_default()
                ),
                until: None,
            });
        }
        let delay = self.delay()?;
        let state_dir = PathBuf::from(env.values.get("state_dir").cloned().unwrap_or_default());
        let run_id = env.values.get("run_id").cloned().unwrap_or_default();
        let setup = prepare_daemon(env.device, &state_dir, &run_id)?;
        install_daemon(&setup, rec)?;
        rec.note(&key, &now_boot)?;
        let args = vec!["-r".to_string(), format!("+{delay}")];
        let n = rec.intent(Change::Run {
            program: "/sbin/shutdown".into(),
            args: args.clone(),
        })?;
        // NOTE: Apple's shutdown forks; its child calls setsid() and keeps our stdout/stderr
        // open until the restart, so capturing them through pipes would wait for the restart.
        // Its output goes to the log file; it is judged by its exit status, then by its child.
        let out = env.device.run(
            "/sbin/shutdown",
            &args,
            &RunOpts {
                timeout: Some(SHUTDOWN_TIMEOUT),
                output: Capture::AppendTo(crate::device::LOG_FILE.into()),
                ..Default::default()
            },
        )?;
        if !out.success() {
            let said = out.stdout.trim();
            rec.failed(
                n,
                "/sbin/shutdown",
                &format!("exited {}: {said}", out.status_text()),
                false,
            )?;
            return Ok(Outcome::Failed(format!(
                "`shutdown -r +{delay}` exited {}: {said}",
                out.status_text()
            )));
        }
        if let Err(e) = confirm_scheduled(env.device, delay) {
            let error = format!("{e:#}");
            rec.failed(n, "/sbin/shutdown", &error, false)?;
            return Ok(Outcome::Failed(error));
        }
        rec.applied(
            n,
            Undo::Irreversible {
                what: format!("shutdown -r +{delay}"),
                why: "a restart cannot be taken back".into(),
            },
        )?;
        let at = super::timer::add_system(
            env.now,
            std::time::Duration::from_secs(delay.saturating_mul(60)),
            "the time of the restart",
        )?;
        let at = humantime::format_rfc3339_seconds(at).to_string();
        rec.note(&format!("reboot-at:{}", env.step_id), &at)?;
        Ok(Outcome::Pause {
            reason: format!("restart scheduled for {at} (in {delay} minute(s)); the LaunchDaemon {LABEL} resumes this run after it"),
            until: Some(at),
        })
    }
}

/// How long `shutdown -r +N` itself may take: it forks the child that waits for the restart and
/// exits at once.
const SHUTDOWN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// `shutdown` exited 0: make sure the restart is scheduled, i.e. its child waits for it
/// (`pgrep -x shutdown` finds it). Rollback cancels the restart by ending that process.
fn confirm_scheduled(device: &Device, delay: u64) -> Result<()> {
    let out = device
        .run(
            "/usr/bin/pgrep",
            &["-x".into(), "shutdown".into()],
            &RunOpts {
                timeout: Some(SHUTDOWN_TIMEOUT),
                ..Default::default()
            },
        )
        .context("checking that the restart is scheduled (`pgrep -x shutdown`)")?;
    let pids = out.stdout.split_whitespace().collect::<Vec<_>>().join(" ");
    match out.code {
        Some(0) if !pids.is_empty() => {
            tracing::info!(pids, "the restart is scheduled: shutdown waits for it");
            Ok(())
        }
        Some(0) | Some(1) => anyhow::bail!(
            "`shutdown -r +{delay}` exited 0 but `pgrep -x shutdown` finds no `shutdown` process: \
             the restart is not scheduled (see /var/log/reenroll.log for what shutdown said)"
        ),
        _ => Err(anyhow::anyhow!(
            "`pgrep -x shutdown` exited {}: {}",
            out.status_text(),
            out.stderr.trim()
        ))
        .context("checking that the restart is scheduled"),
    }
}

/// Load and start the daemon now (`launchctl bootstrap system PLIST`), retrying the known
/// transient failures.
pub fn bootstrap_daemon(device: &Device) -> Result<()> {
    let plist = DAEMON_PLIST.to_string();
    let mut last = String::new();
    for attempt in 1..=4 {
        let out = device.run(
            "/bin/launchctl",
            &["bootstrap".into(), "system".into(), plist.clone()],
            &RunOpts::default(),
        )?;
        if out.success() {
            return Ok(());
        }
        last = format!("{} {}", out.stdout.trim(), out.stderr.trim())
            .trim()
            .to_string();
        // NOTE: "Bootstrap failed: 5: Input/output error" usually means a job with this label
        // is still loaded (an earlier run's daemon): boot it out and try again. 37 ("Operation
        // already in progress") clears by itself.
        if matches!(out.code, Some(5) | Some(37)) || last.contains("Bootstrap failed: 5") {
            let _ = device.run(
                "/bin/launchctl",
                &["bootout".into(), format!("system/{LABEL}")],
                &RunOpts::default(),
            );
            std::thread::sleep(std::time::Duration::from_millis(500 * attempt));
            continue;
        }
        break;
    }
    anyhow::bail!("`launchctl bootstrap system {plist}` failed: {last}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn daemon_plist_round_trips_with_launchd_keys() {
        let d = LaunchDaemon {
            label: LABEL.into(),
            program_arguments: vec!["/x/reenroll".into(), "resume".into()],
            run_at_load: true,
            standard_out_path: "/var/log/reenroll.log".into(),
            standard_error_path: "/var/log/reenroll.log".into(),
            environment_variables: BTreeMap::new(),
        };
        let mut buf = Vec::new();
        plist::to_writer_xml(&mut buf, &d).unwrap();
        let text = String::from_utf8(buf.clone()).unwrap();
        assert!(
            text.contains("<key>ProgramArguments</key>") && text.contains("<key>RunAtLoad</key>")
        );
        let back: LaunchDaemon = plist::from_bytes(&buf).unwrap();
        assert_eq!(back, d);
    }

    #[test]
    fn removing_the_daemon_also_removes_a_temporary_plist_a_crash_left() {
        let dir = tempfile::tempdir().unwrap();
        let device = Device::sandbox(dir.path()).unwrap();
        let daemons = dir.path().join("Library/LaunchDaemons");
        std::fs::create_dir_all(&daemons).unwrap();
        let leftover = daemons.join(".com.github.reenroll.plist.new");
        std::fs::write(&leftover, "a complete plist, never renamed").unwrap();
        let other = daemons.join("com.jamf.management.daemon.plist");
        std::fs::write(&other, "not ours").unwrap();
        remove_daemon(&device).unwrap();
        assert!(!leftover.exists(), "the leftover stayed");
        assert!(other.exists(), "someone else's daemon was touched");
    }
}
