//! Fault injection for the crash and cross-device tests. Compiled in only with the
//! `fault-injection` feature, which only test builds enable (through the crate's
//! dev-dependency on itself); in a release build every function here is a no-op.
//!
//! `REENROLL_FAULT` holds comma-separated tokens:
//! - `crash@POINT`: SIGKILL this process when it reaches POINT (`before-step:ID`,
//!   `after-intent:ID#N`, `before-applied:ID#N` (the change done, its `applied` record not yet
//!   written), `after-change:ID#N`, `after-step:ID`, `rollback-after:N`, and inside
//!   a move across volumes `move-staged:N` and `move-copied:N`);
//! - `enospc@POINT`: the write at POINT (`journal-header`, `install-executable`) stops half-way
//!   with ENOSPC, as on a full disk;
//! - `exdev`: every rename into or out of quarantine fails with EXDEV, forcing copy + delete;
//! - `eperm@MAC_PATH`: moving that path fails with EPERM, as a privacy-protected folder does
//!   without Full Disk Access (root bypasses file permissions, so tests cannot cause it otherwise).

#[cfg(feature = "fault-injection")]
fn tokens() -> Vec<String> {
    std::env::var("REENROLL_FAULT")
        .unwrap_or_default()
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// Crash here (SIGKILL, no cleanup, like a power loss) when asked to.
#[inline]
pub fn point(name: &str) {
    #[cfg(feature = "fault-injection")]
    if tokens()
        .iter()
        .any(|t| t.strip_prefix("crash@") == Some(name))
    {
        eprintln!("fault injection: crashing at {name}");
        let _ = nix::sys::signal::kill(nix::unistd::getpid(), nix::sys::signal::Signal::SIGKILL);
    }
    let _ = name;
}

/// Pretend that the disk fills up during the write at `point`.
#[inline]
pub fn enospc(point: &str) -> bool {
    #[cfg(feature = "fault-injection")]
    return tokens()
        .iter()
        .any(|t| t.strip_prefix("enospc@") == Some(point));
    #[cfg(not(feature = "fault-injection"))]
    {
        let _ = point;
        false
    }
}

/// Pretend that renames cross a volume boundary.
#[inline]
pub fn exdev() -> bool {
    #[cfg(feature = "fault-injection")]
    return tokens().iter().any(|t| t == "exdev");
    #[cfg(not(feature = "fault-injection"))]
    false
}

/// Pretend that macOS refuses to let go of this path.
#[inline]
pub fn eperm(mac_path: &str) -> bool {
    #[cfg(feature = "fault-injection")]
    return tokens()
        .iter()
        .any(|t| t.strip_prefix("eperm@") == Some(mac_path));
    #[cfg(not(feature = "fault-injection"))]
    {
        let _ = mac_path;
        false
    }
}
