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
        match file.try_lock() {
            Ok(()) => {
                // A run killed while holding the lock (crash, power loss) never ran Drop, so the
                // file still names it; left there, `status`/`resume` in this process would see
                // the lock held by that run and call it running instead of interrupted.
                file.set_len(0)
                    .with_context(|| format!("clearing the run lock {}", path.display()))?;
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
        let mut file = OpenOptions::new().read(true).write(true).open(path).ok()?;
        match file.try_lock() {
            Ok(()) => None,
            Err(_) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                Some(holder.trim().to_string())
            }
        }
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        let _ = self.file.set_len(0);
    }
}
