//! The one boundary to the machine. Every file path, program and user record that a playbook
//! names goes through a `Device`, which maps the Mac path (`/Library/...`) to where it lives on
//! this host: the same path on a real Mac, or `DIR/Library/...` under `--root DIR` (a sandbox
//! device). Actions never call `std::fs` on Mac paths or spawn programs themselves.

pub mod fs;
pub mod programs;
pub mod users;

use std::path::{Component, Path, PathBuf};

use anyhow::{bail, Context, Result};

pub use programs::{Capture, Output, RunOpts};
pub use users::{ConsoleUser, LocalUser};

/// reenroll's own log on the device (commands that change it, the LaunchDaemon, the output
/// of `shutdown`).
pub const LOG_FILE: &str = "/var/log/reenroll.log";

/// The machine reenroll acts on.
#[derive(Clone, Debug)]
pub struct Device {
    /// `None`: the real machine (`/`). `Some(DIR)`: a sandbox device living under DIR.
    root: Option<PathBuf>,
    /// `Some` only on the copy a read-only command looks through (`read_only_memo`): what each
    /// program answered, so each fact is asked once per look. Never on a device that acts.
    memo: Option<std::sync::Arc<programs::Memo>>,
}

impl Device {
    pub fn real() -> Self {
        Device {
            root: None,
            memo: None,
        }
    }

    pub fn sandbox(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        let root = std::fs::canonicalize(&root).with_context(|| {
            format!(
                "the device root {} does not exist; create a sandbox with `reenroll sandbox {}`",
                root.display(),
                root.display()
            )
        })?;
        Ok(Device {
            root: Some(root),
            memo: None,
        })
    }

    /// A copy of this device for one read-only look (`plan`, `status`, `diagnose`, a rollback
    /// preview): a program run with the same arguments, input and environment (so as the same
    /// user: `sudo -u`/`launchctl asuser` are arguments) answers what it answered the first time
    /// without running again, a keychain helper's `list` of one keychain is asked once, and the
    /// local user records (which every `{home}` path expands over) are read once. The
    /// memo lives as long as this copy and its clones; the device a command acts through never
    /// has one, so `run` and `resume` look again after they act. Nothing that changes the device
    /// may be done through this copy: the memo would hide the change.
    pub fn read_only_memo(&self) -> Device {
        Device {
            root: self.root.clone(),
            memo: Some(std::sync::Arc::default()),
        }
    }

    /// The memo of a read-only look, `None` on a device that acts.
    pub fn memo(&self) -> Option<&programs::Memo> {
        self.memo.as_deref()
    }

    pub fn new(root: Option<PathBuf>) -> Result<Self> {
        match root {
            Some(r) => Self::sandbox(r),
            None => Ok(Self::real()),
        }
    }

    /// The host folder that stands for the Mac's `/`.
    pub fn root(&self) -> &Path {
        self.root.as_deref().unwrap_or(Path::new("/"))
    }

    pub fn is_sandbox(&self) -> bool {
        self.root.is_some()
    }

    /// A reenroll command line to show the admin, with `--root DIR` when this is a sandbox, so
    /// that copying it acts on the same device.
    pub fn hint(&self, args: &str) -> String {
        match &self.root {
            Some(r) => format!(
                "reenroll --root {} {args}",
                shell_word(&r.to_string_lossy())
            ),
            None => format!("reenroll {args}"),
        }
    }

    /// Where a Mac path lives on this host. The path must be absolute and free of `..`; it is
    /// joined lexically (symlinks are dealt with by `fs`, which never follows them).
    pub fn host_path(&self, mac_path: &str) -> Result<PathBuf> {
        check_mac_path(mac_path)?;
        match &self.root {
            None => Ok(PathBuf::from(mac_path)),
            Some(root) => Ok(root.join(mac_path.trim_start_matches('/'))),
        }
    }

    /// The Mac path for a host path inside the device (the inverse of `host_path`).
    pub fn mac_path(&self, host: &Path) -> Option<String> {
        let rel = host.strip_prefix(self.root()).ok()?;
        Some(format!("/{}", rel.to_string_lossy()))
    }

    /// Local user accounts (not system accounts, not Shared or Guest), from the local directory.
    pub fn users(&self) -> Result<Vec<LocalUser>> {
        match self.memo() {
            Some(memo) => memo.users(|| users::local_users(self)),
            None => users::local_users(self),
        }
    }

    /// The user logged in at the console, if any (from `scutil`, home resolved by uid).
    pub fn console_user(&self) -> Result<Option<ConsoleUser>> {
        users::console_user(self)
    }

    /// Run a program named by its Mac path, capturing its output. See `programs`.
    pub fn run(&self, program: &str, args: &[String], opts: &RunOpts) -> Result<Output> {
        programs::run(self, program, args, opts)
    }

    /// Whether a program exists on the device (resolved like `run`); an error looking counts as
    /// absent. For decisions that act on the answer, `program_exists` tells the two apart.
    pub fn has_program(&self, program: &str) -> bool {
        self.program_exists(program).unwrap_or(false)
    }

    /// Whether a program exists on the device: `Ok(false)` only when it is not there. Any other
    /// error looking (EIO, EACCES) is an error, never "not installed": a step must not skip its
    /// work (or report the Mac as already clean) because a disk hiccupped.
    pub fn program_exists(&self, program: &str) -> Result<bool> {
        let host = self.host_path(program)?;
        match host.symlink_metadata() {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e).with_context(|| format!("looking for {program} on the device")),
        }
    }

    /// The boot session id (`sysctl -n kern.bootsessionuuid`), new at every boot.
    pub fn boot_session(&self) -> Result<String> {
        let out = self.run(
            "/usr/sbin/sysctl",
            &["-n".into(), "kern.bootsessionuuid".into()],
            &RunOpts::default(),
        )?;
        let id = out.stdout.trim().to_string();
        if !out.success() || id.is_empty() {
            bail!(
                "could not read the boot session id: `sysctl -n kern.bootsessionuuid` exited {} ({})",
                out.status_text(),
                out.stderr.trim()
            );
        }
        Ok(id)
    }
}

fn shell_word(s: &str) -> String {
    if s.chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-+".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// A Mac path a playbook may name: absolute, no `..`, no `.` components, not empty.
pub fn check_mac_path(p: &str) -> Result<()> {
    if !p.starts_with('/') {
        bail!("`{p}` is not an absolute path (playbook paths start with `/`, `{{home}}` or `{{user}}`)");
    }
    for c in Path::new(p).components() {
        match c {
            Component::ParentDir => bail!("`{p}` contains a `..` component, which is not allowed"),
            Component::CurDir => bail!("`{p}` contains a `.` component, which is not allowed"),
            _ => {}
        }
    }
    if let Some(bad) = p.split('/').find(|s| *s == ".." || *s == ".") {
        bail!("`{p}` contains a `{bad}` component, which is not allowed");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_path_maps_into_the_root() {
        let d = Device {
            root: Some(PathBuf::from("/tmp/dev")),
            memo: None,
        };
        assert_eq!(
            d.host_path("/Library/Preferences/x.plist").unwrap(),
            PathBuf::from("/tmp/dev/Library/Preferences/x.plist")
        );
        assert_eq!(
            d.mac_path(Path::new("/tmp/dev/Users/a")).as_deref(),
            Some("/Users/a")
        );
        assert!(d.host_path("Library/x").is_err());
        assert!(d.host_path("/Library/../etc/passwd").is_err());
        assert!(d.host_path("/Library/./x").is_err());
    }

    #[test]
    fn the_real_device_is_the_identity() {
        let d = Device::real();
        assert_eq!(
            d.host_path("/usr/bin/profiles").unwrap(),
            PathBuf::from("/usr/bin/profiles")
        );
    }

    #[test]
    fn a_program_that_cannot_be_looked_for_is_an_error_not_absent() {
        let dir = tempfile::tempdir().unwrap();
        let d = Device::sandbox(dir.path()).unwrap();
        std::fs::create_dir_all(dir.path().join("usr/bin")).unwrap();
        std::fs::write(dir.path().join("usr/bin/tool"), "").unwrap();
        assert!(d.program_exists("/usr/bin/tool").unwrap());
        assert!(!d.program_exists("/usr/bin/missing").unwrap());
        // Looking fails (here ENOTDIR; on a Mac, EIO or EACCES): not "not installed".
        assert!(d.program_exists("/usr/bin/tool/sub").is_err());
    }
}
