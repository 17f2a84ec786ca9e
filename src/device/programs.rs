//! Running the device's programs: always by absolute Mac path (never a `PATH` search), resolved
//! inside the sandbox under `--root`, in their own process group (a Ctrl-C at the terminal reaches
//! reenroll, which lets the step finish, not the child), stdin closed unless the step talks to the
//! program over a pipe, argv logged, stdout/stderr/status kept for the error.
//!
//! Output is captured through pipes unless `RunOpts::output` says otherwise. A program that
//! leaves a background child holding its stdout/stderr (Apple's `shutdown -r +N` does, until the
//! restart) must not be captured that way: reading the pipes to their end would wait for the
//! child. `Capture::Discard`/`Capture::AppendTo` give it no pipe, so `run` returns when the
//! program itself exits.

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
    /// Where stdout and stderr go (pipes, read to their end, unless told otherwise).
    pub output: Capture,
}

/// Where a program's stdout and stderr go.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Capture {
    /// Through pipes, read to their end into `Output::stdout`/`stderr`. NOTE: that end comes
    /// only when every process holding the pipes has closed them, a background child included.
    #[default]
    Pipes,
    /// Not captured: both to /dev/null. `run` returns when the program itself exits.
    Discard,
    /// Not captured: both appended to a log file of the device (a Mac path, opened without
    /// following a link, created 0600). `run` returns when the program itself exits, with what
    /// was appended to the file until then in `Output::stdout` (stdout and stderr as they came)
    /// and `Output::stderr` empty.
    AppendTo(String),
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

/// What the programs of one read-only look answered (`Device::read_only_memo`): keyed by the
/// program's Mac path, its arguments (which name the user it runs as: `sudo -u`, `launchctl
/// asuser`), its input and its environment. Only captured runs that finished are kept (an error
/// starting a program is asked again); a keychain helper's answers are kept per request line,
/// for the requests the caller says are read-only.
#[derive(Debug, Default)]
pub struct Memo {
    runs: std::sync::Mutex<std::collections::HashMap<RunKey, Output>>,
    lines: std::sync::Mutex<std::collections::HashMap<(RunKey, Vec<u8>), String>>,
    /// The local user records, read once (every `{home}` path expands over them).
    users: std::sync::OnceLock<Vec<super::LocalUser>>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct RunKey {
    program: String,
    args: Vec<String>,
    stdin: Option<Vec<u8>>,
    env: Vec<(String, String)>,
}

impl RunKey {
    fn new(program: &str, args: &[String], opts: &RunOpts) -> RunKey {
        RunKey {
            program: program.to_string(),
            args: args.to_vec(),
            stdin: opts.stdin.clone(),
            env: opts.env.clone(),
        }
    }
}

impl Memo {
    /// The local users, read by `read` the first time it succeeds in this look.
    pub fn users(
        &self,
        read: impl FnOnce() -> Result<Vec<super::LocalUser>>,
    ) -> Result<Vec<super::LocalUser>> {
        if let Some(users) = self.users.get() {
            return Ok(users.clone());
        }
        let users = read()?;
        Ok(self.users.get_or_init(|| users).clone())
    }

    /// The answer a session (`program args`) gave to `line` earlier in this look.
    pub fn line(&self, program: &str, args: &[String], line: &[u8]) -> Option<String> {
        let key = (
            RunKey::new(program, args, &RunOpts::default()),
            line.to_vec(),
        );
        lock(&self.lines).get(&key).cloned()
    }

    /// Keep a session's answer to a read-only request for the rest of the look.
    pub fn keep_line(&self, program: &str, args: &[String], line: &[u8], answer: &str) {
        let key = (
            RunKey::new(program, args, &RunOpts::default()),
            line.to_vec(),
        );
        lock(&self.lines).insert(key, answer.to_string());
    }
}

fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic elsewhere while holding it leaves a map that is still whole.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

pub fn run(device: &Device, program: &str, args: &[String], opts: &RunOpts) -> Result<Output> {
    // NOTE: only captured output is remembered: a program run into a log or into /dev/null is
    // run for what it does, which a read-only look never asks for twice on purpose.
    let memo = device.memo().filter(|_| opts.output == Capture::Pipes);
    let Some(memo) = memo else {
        return run_once(device, program, args, opts);
    };
    let key = RunKey::new(program, args, opts);
    if let Some(out) = lock(&memo.runs).get(&key) {
        tracing::debug!(program, ?args, "answered earlier in this look");
        return Ok(out.clone());
    }
    let out = run_once(device, program, args, opts)?;
    lock(&memo.runs).insert(key, out.clone());
    Ok(out)
}

fn run_once(device: &Device, program: &str, args: &[String], opts: &RunOpts) -> Result<Output> {
    if !may_execute(device) {
        bail!(
            "refusing to run `{program}`: this host is not a Mac and no sandbox device was given \
             (use --root DIR with a sandbox from `reenroll sandbox DIR`)"
        );
    }
    let host = device.host_path(program)?;
    tracing::debug!(program, ?args, "running");
    let mut cmd = duct::cmd(&host, args).unchecked().before_spawn(|c| {
        // NOTE: its own process group, so terminal signals meant for reenroll do not kill
        // a `jamf` or `pkgutil` halfway; timeouts kill the whole group.
        c.process_group(0);
        Ok(())
    });
    // API credentials never reach a child through the environment (an admin's shell may hold
    // them as REENROLL_* variables; reenroll reads them itself).
    for v in crate::env_vars::SERVER {
        cmd = cmd.env_remove(v.name);
    }
    for (k, v) in &opts.env {
        cmd = cmd.env(k, v);
    }
    cmd = match &opts.stdin {
        Some(bytes) => cmd.stdin_bytes(bytes.clone()),
        None => cmd.stdin_null(),
    };
    // The log file and where this program's part of it starts.
    let mut log = None;
    cmd = match &opts.output {
        Capture::Pipes => cmd.stdout_capture().stderr_capture(),
        Capture::Discard => cmd.stdout_null().stderr_null(),
        Capture::AppendTo(mac) => {
            let file = super::fs::open_append(device, mac)
                .with_context(|| format!("opening {mac} for the output of `{program}`"))?;
            let start = file
                .metadata()
                .with_context(|| format!("reading the size of {mac}"))?
                .len();
            let clone = || file.try_clone().with_context(|| format!("sharing {mac}"));
            let (out, err) = (clone()?, clone()?);
            log = Some((file, start, mac));
            cmd.stdout_file(out).stderr_file(err)
        }
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
    let stdout = match log {
        Some((file, start, mac)) => {
            read_from(&file, start).with_context(|| format!("reading back {mac}"))?
        }
        None => output.stdout,
    };
    let out = Output {
        code: if timed_out {
            None
        } else {
            output.status.code()
        },
        stdout: lossy(stdout),
        stderr: lossy(output.stderr),
        timed_out,
    };
    tracing::debug!(program, code = ?out.code, "finished");
    Ok(out)
}

/// At most the first 64 KiB of a file from `start` on (what one program appended to a log).
fn read_from(file: &std::fs::File, start: u64) -> std::io::Result<Vec<u8>> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = file;
    file.seek(SeekFrom::Start(start))?;
    let mut bytes = Vec::new();
    file.take(64 * 1024).read_to_end(&mut bytes)?;
    Ok(bytes)
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
    let mut cmd = Command::new(&host);
    // As in `run`: no API credentials in a child's environment.
    for v in crate::env_vars::SERVER {
        cmd.env_remove(v.name);
    }
    let mut child = cmd
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

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::signal::{killpg, Signal};
    use nix::unistd::{getpgid, Pid};

    /// A bare device folder with `/var/log` and executable scripts at Mac paths.
    fn device(programs: &[(&str, &str)]) -> (tempfile::TempDir, Device) {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tmp.path().join("var/log")).unwrap();
        let device = Device::sandbox(tmp.path()).unwrap();
        for (mac, body) in programs {
            let host = device.host_path(mac).unwrap();
            std::fs::create_dir_all(host.parent().unwrap()).unwrap();
            std::fs::write(&host, format!("#!/bin/sh\n{body}\n")).unwrap();
            std::fs::set_permissions(&host, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        (tmp, device)
    }

    /// Leaves a background child (its pid in /child.pid) holding stdout and stderr for 30 s,
    /// like Apple's `shutdown -r +N` until the restart, then speaks on both and exits 0.
    const HOLDER: &str = r#"sh -c 'sleep 30; :' reenroll-test-holder </dev/null &
echo "$!" >"$(dirname "$0")/../../child.pid"
echo out
echo err >&2
exit 0"#;

    /// Whether `pid` is still our test child (its command line names `marker`).
    fn alive(pid: i32, marker: &str) -> bool {
        std::fs::read(format!("/proc/{pid}/cmdline"))
            .map(|b| String::from_utf8_lossy(&b).contains(marker))
            .unwrap_or(false)
    }

    fn child(device: &Device) -> i32 {
        std::fs::read_to_string(device.host_path("/child.pid").unwrap())
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    }

    /// End our test child and its `sleep` (its process group), once we know the pid is ours.
    fn end(pid: i32, marker: &str) {
        if alive(pid, marker) {
            if let Ok(group) = getpgid(Some(Pid::from_raw(pid))) {
                let _ = killpg(group, Signal::SIGKILL);
            }
        }
    }

    /// Counts its calls in /calls (one line each) and prints its arguments and input.
    const COUNTER: &str = r#"echo x >>"$(dirname "$0")/../../calls"
echo "args: $*"
cat"#;

    fn counted(dev: &Device) -> usize {
        std::fs::read_to_string(dev.host_path("/calls").unwrap())
            .map(|s| s.lines().count())
            .unwrap_or(0)
    }

    #[test]
    fn a_read_only_look_runs_each_program_once_and_an_acting_device_every_time() {
        let (_tmp, dev) = device(&[("/usr/bin/counter", COUNTER)]);
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let piped = RunOpts::default();
        // The device a command acts through: every call runs.
        for _ in 0..2 {
            dev.run("/usr/bin/counter", &args(&["a"]), &piped).unwrap();
        }
        assert_eq!(counted(&dev), 2);
        // One look: the same program, arguments, input and environment run once.
        let look = dev.read_only_memo();
        let first = look.run("/usr/bin/counter", &args(&["a"]), &piped).unwrap();
        let again = look.run("/usr/bin/counter", &args(&["a"]), &piped).unwrap();
        assert_eq!(counted(&dev), 3);
        assert_eq!((first.code, first.stdout.as_str()), (Some(0), "args: a\n"));
        assert_eq!((again.code, again.stdout), (first.code, first.stdout));
        // A clone shares the look; the device it came from does not.
        look.clone()
            .run("/usr/bin/counter", &args(&["a"]), &piped)
            .unwrap();
        assert_eq!(counted(&dev), 3);
        dev.run("/usr/bin/counter", &args(&["a"]), &piped).unwrap();
        assert_eq!(counted(&dev), 4);
        // Other arguments (another user: `sudo -u` is an argument), input or environment are
        // another question.
        look.run("/usr/bin/counter", &args(&["b"]), &piped).unwrap();
        let with_input = RunOpts {
            stdin: Some(b"show\n".to_vec()),
            ..Default::default()
        };
        let out = look
            .run("/usr/bin/counter", &args(&["a"]), &with_input)
            .unwrap();
        assert_eq!(out.stdout, "args: a\nshow\n");
        let with_env = RunOpts {
            env: vec![("LANG".into(), "C".into())],
            ..Default::default()
        };
        look.run("/usr/bin/counter", &args(&["a"]), &with_env)
            .unwrap();
        assert_eq!(counted(&dev), 7);
        // A program run for what it does (output not captured) is never answered from memory.
        let discard = RunOpts {
            output: Capture::Discard,
            ..Default::default()
        };
        look.run("/usr/bin/counter", &args(&["a"]), &discard)
            .unwrap();
        look.run("/usr/bin/counter", &args(&["a"]), &discard)
            .unwrap();
        assert_eq!(counted(&dev), 9);
        // A new look asks again.
        dev.read_only_memo()
            .run("/usr/bin/counter", &args(&["a"]), &piped)
            .unwrap();
        assert_eq!(counted(&dev), 10);
    }

    #[test]
    fn a_program_run_without_capture_returns_while_its_child_holds_the_output() {
        let marker = "reenroll-test-holder";
        let (_tmp, dev) = device(&[("/usr/bin/holder", HOLDER)]);
        let opts = RunOpts {
            output: Capture::Discard,
            timeout: Some(Duration::from_secs(60)),
            ..Default::default()
        };
        let out = dev.run("/usr/bin/holder", &[], &opts).unwrap();
        let pid = child(&dev);
        // Returned while the child still holds what was its stdout: run did not wait for it.
        let still_there = alive(pid, marker);
        end(pid, marker);
        assert!(still_there, "run waited for the background child");
        assert_eq!(
            (out.code, out.stdout.as_str(), out.stderr.as_str()),
            (Some(0), "", "")
        );
        assert!(!out.timed_out);
    }

    #[test]
    fn a_program_run_into_a_log_returns_what_it_appended() {
        let marker = "reenroll-test-holder";
        let (_tmp, dev) = device(&[("/usr/bin/holder", HOLDER)]);
        let log = dev.host_path("/var/log/test.log").unwrap();
        std::fs::write(&log, "earlier\n").unwrap();
        let opts = RunOpts {
            output: Capture::AppendTo("/var/log/test.log".into()),
            ..Default::default()
        };
        let out = dev.run("/usr/bin/holder", &[], &opts).unwrap();
        let pid = child(&dev);
        let still_there = alive(pid, marker);
        end(pid, marker);
        assert!(still_there, "run waited for the background child");
        assert_eq!(out.code, Some(0));
        assert_eq!(out.stdout, "out\nerr\n");
        assert_eq!(out.stderr, "");
        assert_eq!(
            std::fs::read_to_string(&log).unwrap(),
            "earlier\nout\nerr\n"
        );
        // Never through a link.
        std::os::unix::fs::symlink("/etc/passwd", dev.host_path("/var/log/link.log").unwrap())
            .unwrap();
        let opts = RunOpts {
            output: Capture::AppendTo("/var/log/link.log".into()),
            ..Default::default()
        };
        let e = dev.run("/usr/bin/holder", &[], &opts).unwrap_err();
        assert!(format!("{e:#}").contains("/var/log/link.log"), "{e:#}");
    }

    #[test]
    fn a_timeout_still_kills_the_process_group_without_capture() {
        let marker = "reenroll-test-hang";
        let (_tmp, dev) = device(&[(
            "/usr/bin/hang",
            r#"sh -c 'sleep 30; :' reenroll-test-hang </dev/null &
echo "$!" >"$(dirname "$0")/../../child.pid"
sleep 30"#,
        )]);
        for output in [
            Capture::Discard,
            Capture::AppendTo("/var/log/hang.log".into()),
        ] {
            let _ = std::fs::remove_file(dev.host_path("/child.pid").unwrap());
            let opts = RunOpts {
                output,
                timeout: Some(Duration::from_secs(2)),
                ..Default::default()
            };
            let out = dev.run("/usr/bin/hang", &[], &opts).unwrap();
            assert!(out.timed_out, "{out:?}");
            assert_eq!(out.code, None);
            // Its background child was in its process group: killed too (waiting for the
            // kernel to finish it off, not for a time to pass).
            let pid = child(&dev);
            let deadline = Instant::now() + Duration::from_secs(10);
            while alive(pid, marker) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            let survived = alive(pid, marker);
            end(pid, marker);
            assert!(!survived, "the timeout left the program's child running");
        }
    }
}
