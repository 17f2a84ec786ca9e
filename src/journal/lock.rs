//! One run at a time: an exclusive `flock` on `<state>/lock`, held for the whole run. The file
//! names the run that holds it, so a refused second run can say which one.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use anyhow::{Context, Result};

pub struct RunLock {
    file: File,
}

pub enum Acquired {
    Held(RunLock),
    /// Another process holds it; the id it wrote, if any.
    Busy(String),
}

impl RunLock {
    pub fn acquire(path: &Path) -> Result<Acquired> {
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path)
            .with_context(|| format!("opening the run lock {}", path.display()))?;
        // A reader (`status`, the extension attribute) may hold a shared lock for an instant:
        // try for a moment before calling the lock busy.
        let mut tries = 0;
        let locked = loop {
            match file.try_lock() {
                Err(TryLockError::WouldBlock) if tries < 20 && !held_exclusively(path) => {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                other => break other,
            }
        };
        match locked {
            Ok(()) => {
                // A holder id still in the file was left by a process that died without
                // releasing it (SIGKILL, power loss). Clear it: `all_runs`, called while we
                // hold the lock, would otherwise take that dead run for a running one.
                file.set_len(0)
                    .with_context(|| format!("clearing the stale holder of {}", path.display()))?;
                Ok(Acquired::Held(RunLock { file }))
            }
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                Ok(Acquired::Busy(holder.trim().to_string()))
            }
            Err(TryLockError::Error(e)) => {
                Err(e).with_context(|| format!("locking {}", path.display()))
            }
        }
    }

    /// Record which run holds the lock.
    pub fn set_holder(&mut self, run_id: &str) -> Result<()> {
        self.file.set_len(0)?;
        self.file.seek(SeekFrom::Start(0))?;
        self.file.write_all(run_id.as_bytes())?;
        self.file.sync_data()?;
        Ok(())
    }

    /// Whether some process holds the lock right now (for telling `running` from `interrupted`).
    pub fn is_held(path: &Path) -> Option<String> {
        // A shared lock is enough to ask, and never stands in a writer's way for long.
        let mut file = OpenOptions::new().read(true).open(path).ok()?;
        match file.try_lock_shared() {
            Ok(()) => None,
            Err(_) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                Some(holder.trim().to_string())
            }
        }
    }
}

/// Whether a writer (not a passing reader) holds the lock: a shared attempt fails only then.
fn held_exclusively(path: &Path) -> bool {
    match OpenOptions::new().read(true).open(path) {
        Ok(f) => matches!(f.try_lock_shared(), Err(TryLockError::WouldBlock)),
        Err(_) => false,
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        let _ = self.file.set_len(0);
    }
}
