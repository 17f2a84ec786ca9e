//! The write-ahead journal: one folder per run in the root-only state directory.
//!
//! ```text
//! <state>/                      0700
//!   lock                        the run lock (flock), holds the id of the run that has it
//!   bin/reenroll                the binary the LaunchDaemon runs after a restart
//!   runs/<run-id>/              0700
//!     journal.jsonl             0600, append-only JSON lines (format below)
//!     quarantine/<n>            removed paths, renamed here (same volume)
//!     keychain/<n>.json         0600, exported keychain items for rollback
//! ```
//!
//! Every record is one JSON line, appended, flushed and fsync'ed before the change it announces.
//! The first record is the header with the format version. A last line without its newline is a
//! torn write from a crash: it is ignored when reading and cut off before the next append. Any
//! other line that does not parse is corruption, reported with its line number, never guessed.

pub mod lock;
pub mod record;
pub mod state;

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

pub use record::{Change, Record, Undo};
pub use state::{RunState, RunView, StepState};

/// The journal format version written by this build. Readers accept every version listed in
/// `record::READABLE_VERSIONS` (fixtures of each live in tests/fixtures/journal-v*).
pub const FORMAT_VERSION: u32 = 1;
pub const JOURNAL_FILE: &str = "journal.jsonl";

/// Create a folder (and its parents) and make it root-only (0700).
pub fn secure_dir(path: &Path) -> Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
        .with_context(|| format!("creating {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))
        .with_context(|| format!("making {} root-only (0700)", path.display()))
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
}

impl Journal {
    /// Start a new journal with its header record.
    pub fn create(run_dir: &Path, header: &Record) -> Result<Self> {
        secure_dir(run_dir)?;
        let path = run_dir.join(JOURNAL_FILE);
        let file = OpenOptions::new()
            .append(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .with_context(|| format!("creating the journal {}", path.display()))?;
        let mut j = Journal { file, path };
        j.append(header)?;
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
        }
        file.seek(SeekFrom::End(0))?;
        Ok(Journal { file, path })
    }

    /// Append one record durably (write, flush, fsync) before returning.
    pub fn append(&mut self, record: &Record) -> Result<()> {
        let mut line = serde_json::to_vec(record).context("encoding a journal record")?;
        line.push(b'\n');
        self.file
            .write_all(&line)
            .and_then(|_| self.file.sync_data())
            .with_context(|| format!("writing the journal {}", self.path.display()))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Read every record of a journal file, tolerating only a torn last line.
pub fn read(path: &Path) -> Result<Vec<Record>> {
    let bytes =
        std::fs::read(path).with_context(|| format!("reading the journal {}", path.display()))?;
    parse(&bytes).with_context(|| format!("the journal {} is damaged", path.display()))
}

pub fn parse(bytes: &[u8]) -> Result<Vec<Record>> {
    let mut records = Vec::new();
    // Only what ends with a newline is complete; a trailing fragment is a torn write.
    let complete = match bytes.iter().rposition(|b| *b == b'\n') {
        Some(p) => &bytes[..p],
        None => &bytes[..0],
    };
    if !complete.is_empty() || bytes.first() == Some(&b'\n') {
        for (i, line) in complete.split(|b| *b == b'\n').enumerate() {
            if line.is_empty() {
                bail!(
                    "line {} is empty; the journal was changed by something else",
                    i + 1
                );
            }
            let record: Record = serde_json::from_slice(line).with_context(|| {
                format!(
                    "line {} is not a valid record; the journal is corrupt there (only the last \
                     line may be torn by a crash). Keep the folder for inspection",
                    i + 1
                )
            })?;
            if i == 0 {
                record::check_header(&record)?;
            } else if matches!(record, Record::Header { .. }) {
                bail!("line {} is a second header", i + 1);
            }
            records.push(record);
        }
    }
    if records.is_empty() {
        bail!("the journal has no header (the run never started)");
    }
    Ok(records)
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
}
