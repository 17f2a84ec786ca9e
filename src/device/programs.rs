//! Running the device's programs: always by absolute Mac path (never a `PATH` search), resolved
//! inside the sandbox under `--root`, in their own process group (a Ctrl-C at the terminal reaches
//! reenroll, which lets the step finish, not the child), stdin closed unless the step talks to the
//! program over a pipe, argv logged, stdout/stderr/status kept for the error.

use std::os::unix::process::CommandExt;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use super::Device;

#[derive(Clone, Debug, Default)]
pub struct RunOpts {
    /// Bytes written to the program's stdin (stdin is closed otherwise).
    pub stdin: Option<Vec<u8>>,
    /// Kill the program's process group after this long.
    pub timeout: Option<Duration>,
    /// Extra environment variables.
    pub env: Vec<(String, String)>,
}

#[derive(Clone, Debug)]
pub struct Output {
    /// `None` when the program was killed by a signal or the timeout.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub timed_out: bool,
}

impl Output {
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }

    pub fn status_text(&self) -> String {
        match (self.code, self.timed_out) {
            (_, true) => "after timing out".to_string(),
            (Some(c), _) => format!("with status {c}"),
            (None, _) => "killed by a signal".to_string(),
        }
    }
}

/// Whether this host may run the device's programs at all: a Mac, or a sandbox device.
pub fn may_execute(device: &Device) -> bool {
    device.is_sandbox() || cfg!(target_os = "macos")
}

pub fn run(device: &Device, program: &str, args: &[String], opts: &RunOpts) -> Result<Output> {
    if !may_execute(device) {
        bail!(
            "refusing to run `{program}`: this host is not a Mac and no sandbox device was given \
             (use --root DIR with a sandbox from `reenroll sandbox DIR`)"
        );
    }
    let host = device.host_path(program)?;
    tracing::debug!(program, ?args, "running");
    let mut cmd = duct::cmd(&host, args)
        .stdout_capture()
        .stderr_capture()
        .unchecked()
        .before_spawn(|c| {
            // NOTE: its own process group, so terminal signals meant for reenroll do not kill
            // a `jamf` or `pkgutil` halfway; timeouts kill the whole group.
            c.process_group(0);
            Ok(())
        });
    for (k, v) in &opts.env {
        cmd = cmd.env(k, v);
    }
    cmd = match &opts.stdin {
        Some(bytes) => cmd.stdin_bytes(bytes.clone()),
        None => cmd.stdin_null(),
    };
    let handle = cmd
        .start()
        .with_context(|| format!("could not start `{program}` ({})", host.display()))?;
    let deadline = opts.timeout.map(|t| Instant::now() + t);
    let mut timed_out = false;
    let output = loop {
        if let Some(out) = handle
            .try_wait()
            .with_context(|| format!("waiting for `{program}`"))?
        {
            break out.clone();
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            timed_out = true;
            for pid in handle.pids() {
                let _ = nix::sys::signal::killpg(
                    nix::unistd::Pid::from_raw(pid as i32),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            break handle
                .wait()
                .with_context(|| format!("waiting for `{program}`"))?
                .clone();
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let out = Output {
        code: if timed_out {
            None
        } else {
            output.status.code()
        },
        stdout: lossy(output.stdout),
        stderr: lossy(output.stderr),
        timed_out,
    };
    tracing::debug!(program, code = ?out.code, "finished");
    Ok(out)
}

fn lossy(bytes: Vec<u8>) -> String {
    match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    }
}

/// A long-lived program that answers one line per request line over pipes (the keychain
/// helper). Started like `run` (absolute Mac path, own process group); stderr is collected for
/// error messages; closing its stdin (on drop) ends it.
pub struct LineSession {
    child: std::process::Child,
    stdin: Option<std::process::ChildStdin>,
    lines: std::sync::mpsc::Receiver<String>,
    /// What the program wrote on stderr, sent once when its stderr closes.
    stderr: std::sync::mpsc::Receiver<String>,
}

/// What a session answered to one request.
pub enum LineAnswer {
    Line(String),
    /// The program ended without answering: its status and what it said on stderr.
    Closed {
        status: String,
        stderr: String,
    },
    TimedOut,
}

pub fn spawn_lines(device: &Device, program: &str, args: &[String]) -> Result<LineSession> {
    use std::io::BufRead;
    use std::process::{Command, Stdio};
    if !may_execute(device) {
        bail!(
            "refusing to run `{program}`: this host is not a Mac and no sandbox device was given"
        );
    }
    let host = device.host_path(program)?;
    tracing::debug!(program, ?args, "starting a session");
    let mut child = Command::new(&host)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .with_context(|| format!("could not start `{program}` ({})", host.display()))?;
    let stdout = child.stdout.take().context("the session's stdout")?;
    let stderr_pipe = child.stderr.take().context("the session's stderr")?;
    let (tx, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(l) = line else { break };
            if tx.send(l).is_err() {
                break;
            }
        }
    });
    let (stderr_tx, stderr) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut std::io::BufReader::new(stderr_pipe), &mut text);
        let _ = stderr_tx.send(text);
    });
    Ok(LineSession {
        stdin: child.stdin.take(),
        child,
        lines,
        stderr,
    })
}

impl LineSession {
    /// Send one line (with its newline) and wait for the next non-empty answer line.
    pub fn request(&mut self, line: &[u8], timeout: Duration) -> LineAnswer {
        use std::io::Write;
        let sent = match self.stdin.as_mut() {
            Some(stdin) => stdin.write_all(line).and_then(|_| stdin.flush()).is_ok(),
            None => false,
        };
        if sent {
            let deadline = Instant::now() + timeout;
            loop {
                match self
                    .lines
                    .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                {
                    Ok(l) if l.trim().is_empty() => continue,
                    Ok(l) => return LineAnswer::Line(l),
                    Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                        self.kill();
                        return LineAnswer::TimedOut;
                    }
                    Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
                }
            }
        }
        // It ended: collect how.
        self.stdin = None;
        let status = match self.child.wait() {
            Ok(s) => match s.code() {
                Some(c) => format!("with status {c}"),
                None => "killed by a signal".into(),
            },
            Err(e) => format!("(could not wait: {e})"),
        };
        // The reader sends everything once stderr closes, which is when the program has ended
        // (no sleeping and hoping). NOTE: bounded, because a grandchild that inherited stderr
        // (a fake `sudo` that forked) could hold it open after the program itself is gone.
        let stderr = self
            .stderr
            .recv_timeout(Duration::from_secs(5))
            .map(|s| s.trim().to_string())
            .unwrap_or_default();
        LineAnswer::Closed { status, stderr }
    }

    fn kill(&mut self) {
        let _ = nix::sys::signal::killpg(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGKILL,
        );
        let _ = self.child.wait();
    }
}

impl Drop for LineSession {
    fn drop(&mut self) {
        // End of input ends the helper's loop; give it a moment, then make sure.
        self.stdin = None;
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        self.kill();
    }
}
