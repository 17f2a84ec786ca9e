//! The write-ahead journal: one folder per run in the root-only state directory.
//!
//! ```text
//! <state>/                      0755 root: the users' keychain helper must reach bin/
//!   lock                        0600, the run lock (flock), holds the id of the run that has it
//!   bin/                        0755 root
//!     reenroll                  0755 root:wheel, the binary the LaunchDaemon runs after a
//!                               restart, and the keychain helper it starts as each user
//!   runs/                       0700
//!     .credentials-<pid>.toml   0600, API credentials a Jamf policy passed, until its run
//!                               takes them over (a rename); `purge` deletes abandoned ones
//!     <run-id>/                 0700
//!     journal.jsonl             0600, append-only JSON lines (format below)
//!     credentials.toml          0600, the run's own API credentials (from a policy), deleted
//!                               when the run ends, is rolled back or purged
//!     quarantine/<n>            removed paths, renamed here (same volume)
//!     keychain/<n>.json         0600, exported keychain items for rollback
//! ```
//!
//! Every record is one JSON line, appended, flushed and fsync'ed before the change it announces.
//! The first record is the header with the format version. Since version 2 every line ends with
//! its checksum (`"sum"`, see `record::checksum`). A last line without its newline is a torn
//! write from a crash: it is ignored when reading and cut off before the next append. Any other
//! line that does not parse or check out is damage, reported with its line number, never guessed:
//! `load` keeps the records before it and the run is reported as damaged (`damage.rs`).

pub mod damage;
pub mod lock;
pub mod record;
pub mod state;

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::device::fs::secure_dir;

pub use record::{Change, Record, Undo};
pub use state::{RunState, RunView, StepState};

/// The journal format version written by this build. Readers accept every version listed in
/// `record::READABLE_VERSIONS` (fixtures of each live in tests/fixtures/journal-v*).
pub const FORMAT_VERSION: u32 = 2;
pub const JOURNAL_FILE: &str = "journal.jsonl";

/// Create a folder (and its parents) that others may cross and read but not change (0755), for
/// the state folder and `bin/`; when root, owned by root. Refuses a link in its place.
pub fn reachable_dir(path: &Path) -> Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(path)
        .with_context(|| format!("creating {}", path.display()))?;
    let meta = std::fs::symlink_metadata(path)
        .with_context(|| format!("looking at {}", path.display()))?;
    if !meta.is_dir() {
        bail!(
            "{} is not a folder (a link or a file stands there); move it away and run again",
            path.display()
        );
    }
    own_by_root(path, &meta)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).with_context(|| {
        format!(
            "making {} readable by every user (0755), which the keychain helper needs",
            path.display()
        )
    })
}

/// When running as root, give `path` (not a link) to root:wheel (0:0) if it is not root's.
fn own_by_root(path: &Path, meta: &std::fs::Metadata) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    if nix::unistd::geteuid().is_root() && (meta.uid() != 0 || meta.gid() != 0) {
        std::os::unix::fs::lchown(path, Some(0), Some(0))
            .with_context(|| format!("giving {} to root:wheel", path.display()))?;
    }
    Ok(())
}

/// Install `source` as `target` (a file of a root-owned 0755 folder): 0755, root:wheel when
/// root, written to `<target>.new` (never through a link: created anew, `O_NOFOLLOW`), synced,
/// then renamed over `target`, so the LaunchDaemon and the keychain helper never see half a file.
pub fn install_executable(source: &Path, target: &Path) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = target.with_extension("new");
    match std::fs::remove_file(&tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(e).with_context(|| format!("removing the leftover {}", tmp.display()))
        }
    }
    let mut from = File::open(source)
        .with_context(|| format!("opening reenroll's own binary {}", source.display()))?;
    let mut to = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o700)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(&tmp)
        .with_context(|| format!("creating {}", tmp.display()))?;
    // From here on the temporary copy is ours: a failure (ENOSPC half-way, a folder in the
    // target's place) removes it, so no partial binary is left beside the real one.
    let installed = (|| -> Result<()> {
        copy_whole(&mut from, &mut to)
            .with_context(|| format!("copying {} to {}", source.display(), tmp.display()))?;
        if nix::unistd::geteuid().is_root() {
            std::os::unix::fs::fchown(&to, Some(0), Some(0))
                .with_context(|| format!("giving {} to root:wheel", tmp.display()))?;
        }
        to.set_permissions(std::fs::Permissions::from_mode(0o755))
            .with_context(|| format!("making {} executable by every user (0755)", tmp.display()))?;
        std::fs::rename(&tmp, target)
            .with_context(|| format!("installing {} as {}", tmp.display(), target.display()))
    })();
    drop(to);
    if let Err(e) = installed {
        return Err(match std::fs::remove_file(&tmp) {
            Ok(()) => e,
            Err(r) if r.kind() == std::io::ErrorKind::NotFound => e,
            Err(r) => e.context(format!(
                "the partial copy {} could not be removed either ({r}); delete it by hand",
                tmp.display()
            )),
        });
    }
    if let Some(dir) = target.parent() {
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

/// Copy a file's bytes and sync them (a fault-injection point can fail it half-way with ENOSPC).
fn copy_whole(from: &mut File, to: &mut File) -> std::io::Result<()> {
    if crate::fault::enospc("install-executable") {
        let mut half = Vec::new();
        from.read_to_end(&mut half)?;
        to.write_all(&half[..half.len() / 2])?;
        return Err(std::io::Error::from_raw_os_error(nix::libc::ENOSPC));
    }
    std::io::copy(from, to)?;
    to.sync_all()
}

/// Write a whole file, 0600, durably.
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.write_all(bytes)
        .and_then(|_| f.sync_all())
        .with_context(|| format!("writing {}", path.display()))
}

/// The layout of the state directory.
#[derive(Clone, Debug)]
pub struct StateDir {
    pub path: PathBuf,
}

impl StateDir {
    pub fn new(path: PathBuf) -> Self {
        StateDir { path }
    }
    pub fn runs(&self) -> PathBuf {
        self.path.join("runs")
    }
    pub fn run_dir(&self, id: &str) -> PathBuf {
        self.runs().join(id)
    }
    pub fn lock_file(&self) -> PathBuf {
        self.path.join("lock")
    }
    pub fn bin(&self) -> PathBuf {
        self.path.join("bin")
    }

    /// Create the state folder, or bring one left by an older version (all 0700) to this
    /// layout: the folder itself 0755 and root's, `runs/` 0700, `bin/` and its binary 0755 when
    /// they exist, the lock 0600. Called before each run takes the lock.
    pub fn prepare(&self) -> Result<()> {
        reachable_dir(&self.path)?;
        secure_dir(&self.runs())?;
        let bin = self.bin();
        // NOTE: a link or a file in place of bin/ is left alone here and refused when the
        // daemon is prepared.
        if std::fs::symlink_metadata(&bin).is_ok_and(|m| m.is_dir()) {
            reachable_dir(&bin)?;
            let binary = bin.join("reenroll");
            if let Ok(m) = std::fs::symlink_metadata(&binary) {
                if m.is_file() {
                    own_by_root(&binary, &m)?;
                    std::fs::set_permissions(&binary, std::fs::Permissions::from_mode(0o755))
                        .with_context(|| format!("making {} 0755", binary.display()))?;
                }
            }
        }
        let lock = self.lock_file();
        if let Ok(m) = std::fs::symlink_metadata(&lock) {
            if m.is_file() && m.permissions().mode() & 0o777 != 0o600 {
                std::fs::set_permissions(&lock, std::fs::Permissions::from_mode(0o600))
                    .with_context(|| format!("making the run lock {} 0600", lock.display()))?;
            }
        }
        Ok(())
    }
    /// Every run id, oldest first (ids start with their UTC start time).
    pub fn run_ids(&self) -> Result<Vec<String>> {
        let dir = self.runs();
        let rd = match std::fs::read_dir(&dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => {
                return Err(e).with_context(|| {
                    format!("reading the runs in {} (run as root?)", dir.display())
                })
            }
        };
        let mut ids: Vec<String> = rd
            .filter_map(|e| e.ok())
            .filter(|e| e.path().join(JOURNAL_FILE).exists())
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        // Start second first, then the suffix (milliseconds within that second), so runs of
        // different playbooks started in the same second still come oldest first.
        ids.sort_by(|a, b| {
            let key = |id: &str| {
                (
                    id.get(..15).unwrap_or(id).to_string(),
                    id.rsplit('-').next().unwrap_or("").to_string(),
                    id.to_string(),
                )
            };
            key(a).cmp(&key(b))
        });
        Ok(ids)
    }
}

/// An open journal, appending.
pub struct Journal {
    file: File,
    path: PathBuf,
    /// Complete lines in the file: the next record is line `lines + 1` (its checksum says so).
    lines: u64,
    /// A failed write could not be cut off again: no more appends.
    broken: Option<String>,
}

impl Journal {
    /// Start a new journal with its header record. When the header cannot be written whole
    /// (a full disk), the run never started: its journal and folder are removed again.
    pub fn create(run_dir: &Path, header: &Record) -> Result<Self> {
        secure_dir(run_dir)?;
        let path = run_dir.join(JOURNAL_FILE);
        let file = OpenOptions::new()
            .append(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .with_context(|| format!("creating the journal {}", path.display()))?;
        let mut j = Journal {
            file,
            path,
            lines: 0,
            broken: None,
        };
        let written = if crate::fault::enospc("journal-header") {
            j.append_torn(header)
        } else {
            j.append(header)
        };
        if let Err(e) = written {
            let path = j.path.clone();
            drop(j);
            let discarded = std::fs::remove_file(&path).and_then(|_| std::fs::remove_dir(run_dir));
            return Err(match discarded {
                Ok(()) => e.context(format!(
                    "the run could not start: its journal's header was not written, so nothing \
                     was changed and its folder {} was removed",
                    run_dir.display()
                )),
                Err(r) => e.context(format!(
                    "the run could not start: its journal's header was not written, so nothing \
                     was changed; its folder {} could not be removed ({r}): the next reenroll \
                     command removes it",
                    run_dir.display()
                )),
            });
        }
        if let Ok(d) = File::open(run_dir) {
            let _ = d.sync_all();
        }
        Ok(j)
    }

    /// Reopen an existing journal for appending, cutting off a torn last line first.
    pub fn reopen(run_dir: &Path) -> Result<Self> {
        let path = run_dir.join(JOURNAL_FILE);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .with_context(|| format!("opening the journal {}", path.display()))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)
            .with_context(|| format!("reading the journal {}", path.display()))?;
        if !bytes.is_empty() && !bytes.ends_with(b"\n") {
            let keep = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |p| p + 1);
            tracing::warn!(journal = %path.display(), "cutting off a torn last record left by a crash");
            file.set_len(keep as u64)
                .with_context(|| format!("repairing the torn end of {}", path.display()))?;
            file.sync_all()?;
            bytes.truncate(keep);
        }
        file.seek(SeekFrom::End(0))?;
        let lines = bytes.iter().filter(|b| **b == b'\n').count() as u64;
        Ok(Journal {
            file,
            path,
            lines,
            broken: None,
        })
    }

    /// Append one record durably (write, flush, fsync) before returning. A write or fsync that
    /// fails leaves the journal as it was: what reached the file is cut off again, so the next
    /// record is numbered (and checksummed) after the last one that was really recorded. If even
    /// that cut fails, the journal refuses every later append rather than write past a record
    /// the caller believes missing.
    pub fn append(&mut self, record: &Record) -> Result<()> {
        if let Some(why) = &self.broken {
            anyhow::bail!(
                "the journal {} could not be repaired after a failed write ({why}); nothing more is recorded: stop and `reenroll resume` later",
                self.path.display()
            );
        }
        let mut line = record::encode_line(self.lines + 1, record)?;
        line.push(b'\n');
        self.append_line(&line, |f, l| f.write_all(l).and_then(|_| f.sync_data()))
    }

    /// `append` with the write itself given (tests make it fail half-way).
    fn append_line(
        &mut self,
        line: &[u8],
        write: impl FnOnce(&mut File, &[u8]) -> std::io::Result<()>,
    ) -> Result<()> {
        let before = self
            .file
            .seek(SeekFrom::End(0))
            .with_context(|| format!("finding the end of the journal {}", self.path.display()))?;
        if let Err(e) = write(&mut self.file, line) {
            let cut = self
                .file
                .set_len(before)
                .and_then(|_| self.file.seek(SeekFrom::Start(before)).map(|_| ()))
                .and_then(|_| self.file.sync_data());
            if let Err(c) = cut {
                self.broken = Some(format!("{e}; cutting it back: {c}"));
            }
            return Err(e).with_context(|| format!("writing the journal {}", self.path.display()));
        }
        self.lines += 1;
        Ok(())
    }

    /// Fault injection: half a record written, then the disk is full.
    fn append_torn(&mut self, record: &Record) -> Result<()> {
        let line = record::encode_line(self.lines + 1, record)?;
        self.file
            .write_all(&line[..line.len() / 2])
            .and_then(|_| Err(std::io::Error::from_raw_os_error(nix::libc::ENOSPC)))
            .with_context(|| format!("writing the journal {}", self.path.display()))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Every record as the journal's lines, checksums included (what `Journal::append` writes).
pub fn encode(records: &[Record]) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    for (i, r) in records.iter().enumerate() {
        bytes.extend(record::encode_line(i as u64 + 1, r)?);
        bytes.push(b'\n');
    }
    Ok(bytes)
}

/// Read every record of a journal file, tolerating only a torn last line.
pub fn read(path: &Path) -> Result<Vec<Record>> {
    let bytes =
        std::fs::read(path).with_context(|| format!("reading the journal {}", path.display()))?;
    parse(&bytes).with_context(|| format!("the journal {} is damaged", path.display()))
}

/// Every record of a journal, tolerating only a torn last line; damage anywhere else is an
/// error naming its line.
pub fn parse(bytes: &[u8]) -> Result<Vec<Record>> {
    let read = parse_lenient(bytes);
    if let Some(d) = read.damage {
        return Err(d.error);
    }
    if read.records.is_empty() {
        bail!("the journal has no header (the run never started)");
    }
    Ok(read.records)
}

/// What could be read of a journal: the records before the first damaged line, and that damage.
pub struct Lenient {
    pub records: Vec<Record>,
    pub damage: Option<LineDamage>,
}

/// The first line that does not parse or check out (1-based), and why.
pub struct LineDamage {
    pub line: usize,
    pub error: anyhow::Error,
}

/// Read the complete lines of a journal up to the first damaged one. A last line without its
/// newline is a torn write: it is no record, and no damage.
pub fn parse_lenient(bytes: &[u8]) -> Lenient {
    let mut records = Vec::new();
    // Only what ends with a newline is complete; a trailing fragment is a torn write.
    let complete = match bytes.iter().rposition(|b| *b == b'\n') {
        Some(p) => &bytes[..p],
        None => &bytes[..0],
    };
    let mut version = None;
    let mut sums_seen = false;
    if !complete.is_empty() || bytes.first() == Some(&b'\n') {
        for (i, line) in complete.split(|b| *b == b'\n').enumerate() {
            let line_no = i + 1;
            let decoded = if line.is_empty() {
                Err(anyhow::anyhow!(
                    "line {line_no} is empty; the journal was changed by something else"
                ))
            } else {
                record::decode_line(version, line_no as u64, line, &mut sums_seen).and_then(|r| {
                    if i == 0 {
                        record::check_header(&r)?;
                        if let Record::Header { version: v, .. } = &r {
                            version = Some(*v);
                        }
                    } else if matches!(r, Record::Header { .. }) {
                        bail!("line {line_no} is a second header");
                    }
                    Ok(r)
                })
            };
            match decoded {
                Ok(r) => records.push(r),
                Err(error) => {
                    return Lenient {
                        records,
                        damage: Some(LineDamage {
                            line: line_no,
                            error,
                        }),
                    }
                }
            }
        }
    }
    Lenient {
        records,
        damage: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> Record {
        Record::header_for_tests()
    }

    #[test]
    fn torn_last_line_is_tolerated_and_cut_before_appending() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("r");
        let mut j = Journal::create(&run, &header()).unwrap();
        j.append(&Record::Note {
            key: "a".into(),
            value: "1".into(),
        })
        .unwrap();
        drop(j);
        let path = run.join(JOURNAL_FILE);
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(br#"{"type":"note","key":"b","va"#).unwrap();
        assert_eq!(read(&path).unwrap().len(), 2);
        let mut j = Journal::reopen(&run).unwrap();
        j.append(&Record::Note {
            key: "c".into(),
            value: "3".into(),
        })
        .unwrap();
        let recs = read(&path).unwrap();
        assert_eq!(recs.len(), 3);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(
            std::fs::metadata(&run).unwrap().permissions().mode() & 0o777,
            0o700
        );
    }

    #[test]
    fn a_state_folder_of_an_older_version_is_brought_to_the_new_layout() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::new(dir.path().join("state"));
        // What older versions left: everything root-only.
        secure_dir(&state.run_dir("r")).unwrap();
        secure_dir(&state.bin()).unwrap();
        std::fs::set_permissions(&state.path, std::fs::Permissions::from_mode(0o700)).unwrap();
        let binary = state.bin().join("reenroll");
        write_private(&binary, b"#!/bin/sh\n").unwrap();
        std::fs::write(state.lock_file(), b"").unwrap();
        std::fs::set_permissions(state.lock_file(), std::fs::Permissions::from_mode(0o644))
            .unwrap();
        state.prepare().unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode(&state.path), 0o755);
        assert_eq!(mode(&state.bin()), 0o755);
        assert_eq!(mode(&binary), 0o755);
        assert_eq!(mode(&state.runs()), 0o700);
        assert_eq!(mode(&state.run_dir("r")), 0o700);
        assert_eq!(mode(&state.lock_file()), 0o600);
        // A fresh one.
        let fresh = StateDir::new(dir.path().join("fresh"));
        fresh.prepare().unwrap();
        assert_eq!(mode(&fresh.path), 0o755);
        assert_eq!(mode(&fresh.runs()), 0o700);
        assert!(!fresh.bin().exists());
    }

    #[test]
    fn an_executable_is_installed_whole_and_never_through_a_link() {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("source");
        std::fs::write(&source, b"new binary").unwrap();
        let bin = dir.path().join("bin");
        reachable_dir(&bin).unwrap();
        // A link planted where the temporary copy goes, and one in place of the target: neither
        // is followed; the victim keeps its content.
        let victim = dir.path().join("victim");
        std::fs::write(&victim, b"keep").unwrap();
        std::os::unix::fs::symlink(&victim, bin.join("reenroll.new")).unwrap();
        std::os::unix::fs::symlink(&victim, bin.join("reenroll")).unwrap();
        install_executable(&source, &bin.join("reenroll")).unwrap();
        let m = std::fs::symlink_metadata(bin.join("reenroll")).unwrap();
        assert!(m.is_file());
        assert_eq!(m.permissions().mode() & 0o7777, 0o755);
        assert_eq!(std::fs::read(bin.join("reenroll")).unwrap(), b"new binary");
        assert_eq!(std::fs::read(&victim).unwrap(), b"keep");
        assert!(!bin.join("reenroll.new").exists());
    }

    #[test]
    fn corruption_in_the_middle_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("r");
        let mut j = Journal::create(&run, &header()).unwrap();
        j.append(&Record::Note {
            key: "a".into(),
            value: "1".into(),
        })
        .unwrap();
        let path = run.join(JOURNAL_FILE);
        let mut bytes = std::fs::read(&path).unwrap();
        let first_nl = bytes.iter().position(|b| *b == b'\n').unwrap();
        bytes[first_nl + 3] = b'#';
        std::fs::write(&path, &bytes).unwrap();
        let err = format!("{:#}", read(&path).unwrap_err());
        assert!(err.contains("line 2"), "{err}");
    }

    #[test]
    fn a_failed_append_leaves_the_journal_as_it_was_and_the_next_one_is_numbered_right() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("r");
        let mut j = Journal::create(&run, &header()).unwrap();
        let note = |v: &str| Record::Note {
            key: "k".into(),
            value: v.into(),
        };
        let line = record::encode_line(2, &note("lost")).unwrap();
        // The bytes reach the file, then the fsync fails (EIO): as if never written.
        let err = j
            .append_line(&line, |f, l| {
                f.write_all(&l[..l.len() / 2])?;
                Err(std::io::Error::from_raw_os_error(nix::libc::EIO))
            })
            .unwrap_err();
        assert!(
            format!("{err:#}").contains("writing the journal"),
            "{err:#}"
        );
        j.append(&note("kept")).unwrap();
        let text = std::fs::read_to_string(run.join(JOURNAL_FILE)).unwrap();
        assert_eq!(text.lines().count(), 2, "{text}");
        assert!(!text.contains("lost") && text.contains("kept"), "{text}");
        let read = parse_lenient(text.as_bytes());
        if let Some(d) = &read.damage {
            panic!(
                "the lines must check out after the failed append: {:#}",
                d.error
            );
        }
        assert_eq!(read.records.len(), 2);
    }
}
