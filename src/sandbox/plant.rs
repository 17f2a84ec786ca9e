//! Writing a fake Mac's files under a host folder, and counting what was planted so the summary
//! can say so. Every path given here is a Mac path, joined under the planter's base.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::device::check_mac_path;

pub(crate) struct Planter {
    base: PathBuf,
    pub files: usize,
    pub folders: usize,
    pub links: usize,
}

impl Planter {
    pub fn new(base: &Path) -> Self {
        Planter {
            base: base.to_path_buf(),
            files: 0,
            folders: 0,
            links: 0,
        }
    }

    pub fn host(&self, mac: &str) -> Result<PathBuf> {
        check_mac_path(mac)?;
        Ok(self.base.join(mac.trim_start_matches('/')))
    }

    pub fn dir(&mut self, mac: &str) -> Result<PathBuf> {
        let host = self.host(mac)?;
        if !host.is_dir() {
            std::fs::create_dir_all(&host)
                .with_context(|| format!("creating the folder {mac} ({})", host.display()))?;
            self.folders += 1;
        }
        Ok(host)
    }

    pub fn file(&mut self, mac: &str, contents: impl AsRef<[u8]>) -> Result<PathBuf> {
        let host = self.host(mac)?;
        self.parent(mac)?;
        std::fs::write(&host, contents)
            .with_context(|| format!("writing {mac} ({})", host.display()))?;
        self.files += 1;
        Ok(host)
    }

    pub fn executable(&mut self, mac: &str, contents: impl AsRef<[u8]>) -> Result<PathBuf> {
        let host = self.file(mac, contents)?;
        std::fs::set_permissions(&host, std::fs::Permissions::from_mode(0o755))
            .with_context(|| format!("making {mac} executable ({})", host.display()))?;
        Ok(host)
    }

    /// `target` is relative to the link's folder, so the link stays inside the sandbox wherever
    /// the sandbox is moved.
    pub fn symlink(&mut self, mac: &str, target: &str) -> Result<PathBuf> {
        let host = self.host(mac)?;
        self.parent(mac)?;
        std::os::unix::fs::symlink(target, &host)
            .with_context(|| format!("linking {mac} to {target} ({})", host.display()))?;
        self.links += 1;
        Ok(host)
    }

    pub fn binary_plist(&mut self, mac: &str, value: &plist::Value) -> Result<PathBuf> {
        let mut bytes = Vec::new();
        value
            .to_writer_binary(&mut bytes)
            .with_context(|| format!("encoding {mac} as a binary property list"))?;
        self.file(mac, bytes)
    }

    pub fn xml_plist(&mut self, mac: &str, value: &plist::Value) -> Result<PathBuf> {
        let mut bytes = Vec::new();
        value
            .to_writer_xml(&mut bytes)
            .with_context(|| format!("encoding {mac} as an XML property list"))?;
        bytes.push(b'\n');
        self.file(mac, bytes)
    }

    /// An application's data folder: a few files and a subfolder, like the real ones hold.
    pub fn app_folder(&mut self, mac: &str) -> Result<()> {
        let host = self.dir(mac)?;
        let name = mac.rsplit('/').next().unwrap_or("data");
        self.file(
            &format!("{mac}/settings.json"),
            format!("{{\"owner\": \"{name}\", \"schema\": 3}}\n"),
        )?;
        let db = self.file(&format!("{mac}/Cache.db"), sqlite_header())?;
        self.file(
            &format!("{mac}/Data/session.bin"),
            b"\x00\x01sandbox\x02\x03",
        )?;
        self.file(
            &format!("{mac}/Data/Logs/events.log"),
            format!("{name} started\n"),
        )?;
        tag(&db);
        tag(&host);
        Ok(())
    }

    fn parent(&mut self, mac: &str) -> Result<()> {
        if let Some((parent, _)) = mac.rsplit_once('/') {
            if !parent.is_empty() {
                self.dir(parent)?;
            }
        }
        Ok(())
    }
}

/// Set a mode exactly (the umask does not apply).
pub(crate) fn set_mode(host: &Path, mode: u32) -> Result<()> {
    std::fs::set_permissions(host, std::fs::Permissions::from_mode(mode))
        .with_context(|| format!("setting the mode {mode:o} on {}", host.display()))
}

/// Give a folder and everything below it to `uid:gid`, links themselves (never followed).
pub(crate) fn chown_tree(host: &Path, uid: u32, gid: u32) -> Result<()> {
    std::os::unix::fs::lchown(host, Some(uid), Some(gid))
        .with_context(|| format!("giving {} to uid {uid} gid {gid}", host.display()))?;
    let meta = std::fs::symlink_metadata(host)
        .with_context(|| format!("looking at {}", host.display()))?;
    if meta.is_dir() {
        for entry in
            std::fs::read_dir(host).with_context(|| format!("listing {}", host.display()))?
        {
            let entry = entry.with_context(|| format!("listing {}", host.display()))?;
            chown_tree(&entry.path(), uid, gid)?;
        }
    }
    Ok(())
}

fn sqlite_header() -> Vec<u8> {
    let mut v = b"SQLite format 3\0".to_vec();
    v.resize(512, 0);
    v
}

/// Give a planted file the extended attributes a Mac would: `com.apple.*` where the filesystem
/// takes any name, `user.com.apple.*` on Linux. Best effort: some filesystems take none.
pub(crate) fn tag(path: &Path) {
    for name in ["com.apple.quarantine", "user.com.apple.quarantine"] {
        if xattr::set(path, name, b"0081;65e59c4d;Company Portal;").is_ok() {
            break;
        }
    }
    for name in [
        "com.apple.metadata:kMDItemWhereFroms",
        "user.com.apple.metadata:kMDItemWhereFroms",
    ] {
        if xattr::set(
            path,
            name,
            b"bplist00\xa0\x08\x00\x00\x00\x00\x00\x00\x01\x01",
        )
        .is_ok()
        {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plants_and_counts() {
        let dir = tempfile::tempdir().unwrap();
        let mut p = Planter::new(dir.path());
        p.app_folder("/Library/Application Support/X").unwrap();
        p.executable("/usr/bin/x", "#!/bin/sh\n").unwrap();
        p.symlink("/usr/local/bin/x", "../../bin/x").unwrap();
        assert!(dir
            .path()
            .join("Library/Application Support/X/Data/Logs/events.log")
            .is_file());
        assert_eq!(p.files, 5);
        assert_eq!(p.links, 1);
        assert!(dir.path().join("usr/local/bin/x").exists());
        assert!(p.host("/a/../b").is_err());
    }
}
