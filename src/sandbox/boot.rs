//! Simulating a restart of a sandbox device: a new boot session, the pending restart consumed
//! (the child the fake `shutdown` left waiting for it ended), launchd's loaded jobs reset, and every LaunchDaemon with `RunAtLoad` run the way launchd would,
//! provided its program lies inside the sandbox. Programs outside it (the Jamf daemons name
//! `/usr/local/jamf/bin/jamf`, a Mac path that is not a host path inside the sandbox) are
//! reported and never run: the host must not be touched.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};

use super::{MARKER, STATE_DIR};
use crate::device::{Device, RunOpts};

/// How long one daemon may run before it is killed (launchd itself would wait forever).
const DAEMON_TIMEOUT: Duration = Duration::from_secs(600);
const TAIL_LINES: usize = 20;
/// The fake `shutdown`'s waiting children, one pid a line (in `STATE_DIR`).
const SHUTDOWN_PIDS: &str = "shutdown-pids";
/// The argument (`$0` of its `sh -c`) that names such a child on its command line.
const SHUTDOWN_MARKER: &str = "reenroll-sandbox-shutdown";

#[derive(Clone, Debug)]
pub struct BootReport {
    pub root: PathBuf,
    pub previous_boot_session: Option<String>,
    pub boot_session: String,
    /// What `shutdown -r` had scheduled (`+1`), if anything.
    pub pending_reboot: Option<String>,
    /// One per `/Library/LaunchDaemons/*.plist`, in file name order.
    pub daemons: Vec<DaemonRun>,
}

#[derive(Clone, Debug)]
pub struct DaemonRun {
    /// The plist's Mac path.
    pub plist: String,
    pub label: Option<String>,
    pub outcome: DaemonOutcome,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DaemonOutcome {
    /// Ran to the end (or to the timeout: `code` is `None`).
    Ran {
        program: String,
        code: Option<i32>,
        timed_out: bool,
        /// The last lines of stdout, then of stderr.
        output_tail: String,
    },
    /// The program is not inside the sandbox: never run.
    Refused { program: String, reason: String },
    /// Not run at load, or not a job launchd could start.
    Skipped { reason: String },
    /// Could not be started.
    Failed { program: String, error: String },
}

impl fmt::Display for BootReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "Restarted the sandbox device in {}: boot session {} (was {})",
            self.root.display(),
            self.boot_session,
            self.previous_boot_session.as_deref().unwrap_or("unknown")
        )?;
        match &self.pending_reboot {
            Some(when) => writeln!(
                f,
                "  the restart scheduled by `shutdown -r {when}` happened"
            )?,
            None => writeln!(f, "  no restart was scheduled")?,
        }
        for d in &self.daemons {
            let name = d.label.as_deref().unwrap_or(&d.plist);
            match &d.outcome {
                DaemonOutcome::Ran {
                    program,
                    code,
                    timed_out,
                    output_tail,
                } => {
                    let status = match (code, timed_out) {
                        (_, true) => "killed after the timeout".to_string(),
                        (Some(c), _) => format!("exited {c}"),
                        (None, _) => "killed by a signal".to_string(),
                    };
                    writeln!(f, "  {name}: ran {program}, {status}")?;
                    for line in output_tail.lines() {
                        writeln!(f, "      | {line}")?;
                    }
                }
                DaemonOutcome::Refused { program, reason } => {
                    writeln!(f, "  {name}: not run ({program}: {reason})")?
                }
                DaemonOutcome::Skipped { reason } => writeln!(f, "  {name}: skipped ({reason})")?,
                DaemonOutcome::Failed { program, error } => {
                    writeln!(f, "  {name}: could not start {program}: {error}")?
                }
            }
        }
        Ok(())
    }
}

/// Restart the sandbox device in `dir`.
pub fn boot(dir: &Path) -> Result<BootReport> {
    let device = Device::sandbox(dir)?;
    let root = device.root().to_path_buf();
    if !device.host_path(MARKER)?.is_file() {
        bail!(
            "{} is not a sandbox device (no {MARKER}); create one with `reenroll sandbox DIR`",
            root.display()
        );
    }
    let state = |name: &str| device.host_path(&format!("{STATE_DIR}/{name}"));
    let read = |name: &str| -> Result<Option<String>> {
        let path = state(name)?;
        match std::fs::read_to_string(&path) {
            Ok(s) => Ok(Some(s.trim().to_string())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    };

    let previous_boot_session = read("boot-session-uuid")?;
    let boot_session = super::new_uuid();
    let path = state("boot-session-uuid")?;
    std::fs::write(&path, format!("{boot_session}\n"))
        .with_context(|| format!("writing the new boot session id to {}", path.display()))?;

    // A restart ends every process: the fake `shutdown`'s waiting child among them.
    end_shutdown_children(&device)?;
    let pending_reboot = read("pending-reboot")?;
    if pending_reboot.is_some() {
        let path = state("pending-reboot")?;
        std::fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))?;
    }

    let console_uid = read("console-user")?.and_then(|s| {
        s.split_whitespace()
            .nth(1)
            .and_then(|u| u.parse::<u32>().ok())
    });
    load_launchd_jobs(&device, console_uid)?;

    let mut daemons = Vec::new();
    for plist in launchd_plists(&device, "/Library/LaunchDaemons")? {
        daemons.push(run_at_load(&device, &plist));
    }
    Ok(BootReport {
        root,
        previous_boot_session,
        boot_session,
        pending_reboot,
        daemons,
    })
}

/// The fake `shutdown -r +N` leaves a child waiting for the restart, holding its caller's
/// stdout/stderr, its pid in `STATE_DIR/shutdown-pids`. End those children (SIGTERM to the
/// session's process group, then wait until they are gone) and forget them. Only a pid whose
/// command line is still that child's (pids get reused) is ever signalled.
fn end_shutdown_children(device: &Device) -> Result<()> {
    use nix::sys::signal::{kill, killpg, Signal};
    use nix::unistd::Pid;
    let list = device.host_path(&format!("{STATE_DIR}/{SHUTDOWN_PIDS}"))?;
    let text = match std::fs::read_to_string(&list) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", list.display())),
    };
    let state = device.host_path(STATE_DIR)?;
    let state =
        std::fs::canonicalize(&state).with_context(|| format!("resolving {}", state.display()))?;
    for pid in text
        .split_whitespace()
        .filter_map(|p| p.parse::<i32>().ok())
    {
        if pid <= 1 || !is_shutdown_child(pid, &state) {
            continue;
        }
        let pid = Pid::from_raw(pid);
        // NOTE: with setsid the child leads its own process group, which holds its `sleep`
        // too; without, killpg fails (no such group) and the child's trap ends its `sleep`.
        let signal = |sig| {
            if killpg(pid, sig).is_err() {
                let _ = kill(pid, sig);
            }
        };
        signal(Signal::SIGTERM);
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while is_shutdown_child(pid.as_raw(), &state) {
            if std::time::Instant::now() >= deadline {
                signal(Signal::SIGKILL);
                break;
            }
            // Waiting for it to be gone, not for a time to pass.
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    std::fs::remove_file(&list).with_context(|| format!("removing {}", list.display()))
}

/// Whether `pid` is a child the fake `shutdown` of the sandbox whose state folder is `state`
/// left: its command line ends `reenroll-sandbox-shutdown STATE` (`sh -c SCRIPT MARKER STATE`).
/// A zombie's command line is empty, so one that has ended does not count.
fn is_shutdown_child(pid: i32, state: &Path) -> bool {
    let args: Vec<String> = if cfg!(target_os = "linux") {
        match std::fs::read(format!("/proc/{pid}/cmdline")) {
            Ok(bytes) => bytes
                .split(|b| *b == 0)
                .filter(|a| !a.is_empty())
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect(),
            Err(_) => return false,
        }
    } else {
        // NOTE: no /proc (a Mac): `ps` joins the arguments with spaces; compare the ending.
        let Ok(out) = std::process::Command::new("/bin/ps")
            .args(["-ww", "-o", "args=", "-p", &pid.to_string()])
            .stdin(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .output()
        else {
            return false;
        };
        let text = String::from_utf8_lossy(&out.stdout);
        let ending = format!(" {SHUTDOWN_MARKER} {}", state.display());
        return out.status.success() && text.trim_end().ends_with(&ending);
    };
    match args.as_slice() {
        [.., marker, dir] if marker == SHUTDOWN_MARKER => {
            std::fs::canonicalize(dir).is_ok_and(|d| d == state)
        }
        _ => false,
    }
}

/// The `*.plist` files of a launchd folder, as host paths in name order.
fn launchd_plists(device: &Device, mac_dir: &str) -> Result<Vec<PathBuf>> {
    let dir = device.host_path(mac_dir)?;
    let mut out = Vec::new();
    match std::fs::read_dir(&dir) {
        Ok(entries) => {
            for e in entries {
                let path = e.with_context(|| format!("listing {mac_dir}"))?.path();
                if path.extension().and_then(|x| x.to_str()) == Some("plist") {
                    out.push(path);
                }
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("listing {}", dir.display())),
    }
    out.sort();
    Ok(out)
}

fn label_of(plist: &Path) -> String {
    plist::Value::from_file(plist)
        .ok()
        .and_then(|v| {
            v.as_dictionary()?
                .get("Label")?
                .as_string()
                .map(str::to_string)
        })
        .unwrap_or_else(|| {
            plist
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default()
        })
}

/// What launchd has loaded after a boot: every LaunchDaemon in `system`, and every LaunchAgent in
/// the console user's `gui/UID` domain. The fake `launchctl` keeps this in `STATE_DIR/launchd`.
pub(crate) fn load_launchd_jobs(device: &Device, console_uid: Option<u32>) -> Result<()> {
    let state = device.host_path(&format!("{STATE_DIR}/launchd"))?;
    if state.exists() {
        std::fs::remove_dir_all(&state)
            .with_context(|| format!("resetting launchd's jobs in {}", state.display()))?;
    }
    let mut domains = vec![("system".to_string(), "/Library/LaunchDaemons")];
    if let Some(uid) = console_uid {
        domains.push((format!("gui/{uid}"), "/Library/LaunchAgents"));
    }
    for (domain, mac_dir) in domains {
        let dir = state.join(&domain);
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        for plist in launchd_plists(device, mac_dir)? {
            let mac = device.mac_path(&plist).unwrap_or_default();
            let job = dir.join(label_of(&plist));
            std::fs::write(&job, format!("{mac}\n"))
                .with_context(|| format!("writing {}", job.display()))?;
        }
    }
    Ok(())
}

fn run_at_load(device: &Device, plist: &Path) -> DaemonRun {
    let mac_plist = device.mac_path(plist).unwrap_or_default();
    let job = match plist::Value::from_file(plist) {
        Ok(v) => v,
        Err(e) => {
            return DaemonRun {
                plist: mac_plist,
                label: None,
                outcome: DaemonOutcome::Skipped {
                    reason: if plist.exists() {
                        format!(
                            "not a readable property list ({})",
                            e.to_string().lines().next().unwrap_or("")
                        )
                    } else {
                        "its file is gone (a dangling link)".to_string()
                    },
                },
            }
        }
    };
    let dict = job.as_dictionary().cloned().unwrap_or_default();
    let label = dict
        .get("Label")
        .and_then(|v| v.as_string())
        .map(str::to_string);
    let outcome = outcome_of(device, &dict);
    DaemonRun {
        plist: mac_plist,
        label,
        outcome,
    }
}

fn outcome_of(device: &Device, job: &plist::Dictionary) -> DaemonOutcome {
    if job.get("RunAtLoad").and_then(|v| v.as_boolean()) != Some(true) {
        return DaemonOutcome::Skipped {
            reason: "RunAtLoad is not true".into(),
        };
    }
    let argv: Vec<String> = job
        .get("ProgramArguments")
        .and_then(|v| v.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_string().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let program = job
        .get("Program")
        .and_then(|v| v.as_string())
        .map(str::to_string)
        .or_else(|| argv.first().cloned());
    let Some(program) = program else {
        return DaemonOutcome::Skipped {
            reason: "neither Program nor ProgramArguments".into(),
        };
    };
    let mac_program = match inside(device, Path::new(&program)) {
        Ok(mac) => mac,
        Err(reason) => return DaemonOutcome::Refused { program, reason },
    };
    let args = argv.get(1..).unwrap_or_default().to_vec();
    let opts = RunOpts {
        timeout: Some(DAEMON_TIMEOUT),
        ..Default::default()
    };
    let out = match device.run(&mac_program, &args, &opts) {
        Ok(out) => out,
        Err(e) => {
            return DaemonOutcome::Failed {
                program,
                error: format!("{e:#}"),
            }
        }
    };
    let mut notes = Vec::new();
    for (key, text) in [
        ("StandardOutPath", &out.stdout),
        ("StandardErrorPath", &out.stderr),
    ] {
        if let Some(path) = job.get(key).and_then(|v| v.as_string()) {
            if let Err(e) = append_inside(device, Path::new(path), text) {
                notes.push(format!("(not written to {key} {path}: {e:#})"));
            }
        }
    }
    let mut output_tail = tail(&out.stdout);
    let err_tail = tail(&out.stderr);
    if !err_tail.is_empty() {
        if !output_tail.is_empty() {
            output_tail.push('\n');
        }
        output_tail.push_str(&err_tail);
    }
    for n in notes {
        if !output_tail.is_empty() {
            output_tail.push('\n');
        }
        output_tail.push_str(&n);
    }
    DaemonOutcome::Ran {
        program,
        code: out.code,
        timed_out: out.timed_out,
        output_tail,
    }
}

/// The Mac path of a host path when it resolves (symlinks followed) to a file inside the
/// sandbox; why not otherwise.
fn inside(device: &Device, host: &Path) -> std::result::Result<String, String> {
    if !host.is_absolute() {
        return Err("not an absolute path".into());
    }
    let real = std::fs::canonicalize(host).map_err(|_| {
        format!(
            "not in the sandbox: only programs inside {} run at boot",
            device.root().display()
        )
    })?;
    if !real.starts_with(device.root()) {
        return Err(format!(
            "lies outside the sandbox {}; a sandbox boot never runs host programs",
            device.root().display()
        ));
    }
    device
        .mac_path(&real)
        .ok_or_else(|| "cannot be named as a Mac path".to_string())
}

/// Append launchd-style to a log file named by a host path, only inside the sandbox.
fn append_inside(device: &Device, path: &Path, text: &str) -> Result<()> {
    let parent = path
        .parent()
        .filter(|p| path.is_absolute() && !p.as_os_str().is_empty())
        .context("not an absolute path")?;
    let real_parent = std::fs::canonicalize(parent)
        .with_context(|| format!("its folder {} does not exist", parent.display()))?;
    if !real_parent.starts_with(device.root()) {
        bail!("it lies outside the sandbox");
    }
    let target = real_parent.join(path.file_name().context("no file name")?);
    if target
        .symlink_metadata()
        .is_ok_and(|m| m.file_type().is_symlink())
    {
        bail!("it is a symlink, which could lead outside the sandbox");
    }
    // The daemon's output log: 0644 whatever the umask, as launchd leaves it.
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o644)
        .custom_flags(nix::fcntl::OFlag::O_NOFOLLOW.bits())
        .open(&target)
        .with_context(|| format!("opening {}", target.display()))?;
    f.set_permissions(std::fs::Permissions::from_mode(0o644))
        .with_context(|| format!("making {} 0644", target.display()))?;
    f.write_all(text.as_bytes())
        .with_context(|| format!("writing {}", target.display()))
}

fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(TAIL_LINES)..].join("\n")
}
