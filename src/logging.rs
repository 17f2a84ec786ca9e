//! tracing to stderr (`-v`, `-q`) and, for commands that change a device, to the log file
//! (`/var/log/reenroll.log`, inside `--root` for a sandbox): plain text, one line per event with
//! the time, the run id and the step id as fields; on macOS also to the unified log (subsystem
//! `com.github.reenroll`). Secrets are never passed to tracing.

use std::path::Path;

use tracing_subscriber::prelude::*;
use tracing_subscriber::{fmt, EnvFilter};

/// The tracing target of events for the log file (and the unified log) only, never stderr: a
/// rejected `jamf-policy` call is recorded there with its reason, while stderr (the policy log)
/// already carries the `reenroll: reason` line.
pub const FILE_ONLY: &str = "reenroll::file_only";

pub fn init(verbose: u8, quiet: bool, log_file: Option<&Path>) {
    let level = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        _ => "debug",
    };
    // On a terminal the person already reads what went wrong in the Printer's lines (`failed
    // STEP: why`) and the final `reenroll: message`: the events that repeat them
    // (`target: SHOWN`) stay out of stderr there, and go to the log file (and a pipe) as ever.
    use std::io::IsTerminal;
    let terminal = std::io::stderr().is_terminal() && std::io::stdout().is_terminal();
    let directives = if terminal {
        format!(
            "reenroll={level},{}=off,{FILE_ONLY}=off",
            crate::output::SHOWN
        )
    } else {
        format!("reenroll={level},{FILE_ONLY}=off")
    };
    let stderr = fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .with_filter(EnvFilter::new(directives));
    let file = log_file.and_then(|p| {
        if let Some(dir) = p.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        // 0644 whatever the umask (a umask of 000 made it world-writable), never through a
        // link; an existing log is put back to 0644.
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        let f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o644)
            .custom_flags(nix::fcntl::OFlag::O_NOFOLLOW.bits())
            .open(p)
            .ok()?;
        let _ = f.set_permissions(std::fs::Permissions::from_mode(0o644));
        Some(
            fmt::layer()
                .with_writer(std::sync::Mutex::new(f))
                .with_ansi(false)
                .with_target(false)
                .with_filter(EnvFilter::new("reenroll=info")),
        )
    });
    // The unified log: `log show --predicate 'subsystem == "com.github.reenroll"'`.
    #[cfg(target_os = "macos")]
    let oslog = Some(
        tracing_oslog::OsLogger::new(crate::settings::DOMAIN, "default")
            .with_filter(EnvFilter::new("reenroll=info")),
    );
    #[cfg(not(target_os = "macos"))]
    let oslog: Option<tracing_subscriber::layer::Identity> = None;
    let _ = tracing_subscriber::registry()
        .with(stderr)
        .with(file)
        .with(oslog)
        .try_init();
}
