//! Damaged journals and what a run's folder holds that its journal does not explain.
//!
//! A journal is read leniently here: the records before the first damaged line are kept (they
//! check out, so they are what the run wrote) and the damage is reported with its line, so that
//! one damaged run never stops commands about the others. Nothing is ever done from a damaged
//! journal: rollback refuses and lists, for restoring by hand, what the trusted records say and
//! what the quarantine and the keychain exports hold.
//!
//! A journal cut short at a line boundary reads as a sound, shorter journal. What gives it away is
//! the run's folder: `quarantine/<n>` and `keychain/<name>.json` entries that no record explains
//! (every removal and every export is announced by an intent before it happens).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::record::{Change, Record, Undo};
use super::{parse_lenient, JOURNAL_FILE};

/// A run whose journal could not be read whole.
#[derive(Debug)]
pub struct DamagedRun {
    pub id: String,
    pub journal: PathBuf,
    /// The first damaged line (1-based); `None` when the file could not be read at all.
    pub line: Option<usize>,
    pub error: String,
    /// The records before the damage: they check out, but the story they tell is cut short.
    pub trusted: Vec<Record>,
}

impl DamagedRun {
    /// One sentence: which journal, which line, what is wrong.
    pub fn describe(&self) -> String {
        match self.line {
            // The reader's errors name their line already.
            Some(l) if self.error.starts_with(&format!("line {l} ")) => {
                format!(
                    "the journal {} is damaged: {}",
                    self.journal.display(),
                    self.error
                )
            }
            Some(l) => format!(
                "the journal {} is damaged at line {l}: {}",
                self.journal.display(),
                self.error
            ),
            None => format!(
                "the journal {} cannot be read: {}",
                self.journal.display(),
                self.error
            ),
        }
    }
}

/// A run's journal, as far as it can be trusted.
#[derive(Debug)]
pub enum Loaded {
    /// Every complete line checks out (a torn last line aside).
    Sound(Vec<Record>),
    /// Its header was never written whole (a full disk, a crash while starting) and the folder
    /// holds nothing else: the run never started, nothing was changed.
    NeverStarted,
    Damaged(DamagedRun),
}

/// Read a run's journal without failing on damage.
pub fn load(run_dir: &Path, id: &str) -> Loaded {
    let path = run_dir.join(JOURNAL_FILE);
    let damaged = |line, error: String, trusted| {
        Loaded::Damaged(DamagedRun {
            id: id.to_string(),
            journal: path.clone(),
            line,
            error,
            trusted,
        })
    };
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) => return damaged(None, e.to_string(), Vec::new()),
    };
    let read = parse_lenient(&bytes);
    match (read.damage, read.records.is_empty()) {
        (Some(d), _) => damaged(Some(d.line), format!("{:#}", d.error), read.records),
        (None, false) => Loaded::Sound(read.records),
        (None, true) => match holds_only_its_journal(run_dir) {
            Ok(true) => Loaded::NeverStarted,
            Ok(false) => damaged(
                Some(1),
                "the journal has no complete header, yet the run's folder holds more than it"
                    .into(),
                Vec::new(),
            ),
            Err(e) => damaged(Some(1), format!("{e:#}"), Vec::new()),
        },
    }
}

/// Whether the folder holds its journal and nothing else (empty `quarantine/` and `keychain/`
/// folders aside).
fn holds_only_its_journal(run_dir: &Path) -> Result<bool> {
    for e in std::fs::read_dir(run_dir)
        .with_context(|| format!("reading the run folder {}", run_dir.display()))?
    {
        let e = e.with_context(|| format!("reading the run folder {}", run_dir.display()))?;
        let name = e.file_name();
        if name == JOURNAL_FILE {
            continue;
        }
        let empty_folder = (name == "quarantine" || name == "keychain")
            && e.file_type().is_ok_and(|t| t.is_dir())
            && std::fs::read_dir(e.path()).is_ok_and(|mut d| d.next().is_none());
        if !empty_folder {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Remove the folder of a run that never started (see `Loaded::NeverStarted`). Only under the
/// run lock: a run being created right now looks the same for an instant.
pub fn discard_never_started(run_dir: &Path) -> Result<()> {
    for name in ["quarantine", "keychain"] {
        match std::fs::remove_dir(run_dir.join(name)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(e).with_context(|| format!("removing {}", run_dir.join(name).display()))
            }
            _ => {}
        }
    }
    std::fs::remove_file(run_dir.join(JOURNAL_FILE))
        .and_then(|_| std::fs::remove_dir(run_dir))
        .with_context(|| {
            format!(
                "removing the folder of a run that never started, {}; remove it by hand",
                run_dir.display()
            )
        })
}

/// One entry of a run's quarantine or keychain exports.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// Relative to the run's folder: `quarantine/3`, `keychain/purge-keychains-12.json`.
    pub rel: String,
    pub explained: Explained,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Explained {
    /// A trusted record says where this was (a Mac path).
    Removed { target: String },
    /// The data of a deleted keychain item: which item, in which keychain.
    Exported { item: String },
    /// Named like the export of the change after the last one of a sound journal: written
    /// just before its delete was announced, and the run stopped in between (the delete never
    /// happened), or the journal was cut exactly there. Never assumed of a damaged journal.
    ExportedBeforeItsDelete,
    /// No trusted record names it: the journal was cut short, or damaged before its record.
    No,
}

/// What the run's folder holds (`quarantine/*`, `keychain/*.json`), sorted. List the folder
/// before reading the journal: every entry is announced by a record before it appears, so an
/// entry listed first is always explained by a journal read afterwards (a live run appending in
/// between cannot make one look unexplained).
pub fn list(run_dir: &Path) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for sub in ["quarantine", "keychain"] {
        let dir = run_dir.join(sub);
        let rd = match std::fs::read_dir(&dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e).with_context(|| format!("listing {}", dir.display())),
        };
        for e in rd {
            let e = e.with_context(|| format!("listing {}", dir.display()))?;
            out.push(format!("{sub}/{}", e.file_name().to_string_lossy()));
        }
    }
    out.sort_by_key(|r| {
        // quarantine/2 before quarantine/10
        let (dir, name) = r.split_once('/').unwrap_or(("", r));
        let n: u64 = name
            .split('.')
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or(u64::MAX);
        (dir.to_string(), n, r.clone())
    });
    Ok(out)
}

/// What the trusted `records` say about each listed entry; `sound`: they are the whole journal
/// (not the part before a damaged line).
pub fn explain(entries: &[String], records: &[Record], sound: bool) -> Vec<Entry> {
    let mut removed: BTreeMap<String, String> = BTreeMap::new();
    let mut exported: BTreeMap<String, String> = BTreeMap::new();
    let mut next_n = 0;
    for r in records {
        match r {
            Record::Intent { n, change, .. } => {
                next_n = next_n.max(n + 1);
                match change {
                    // The quarantine name of a removal is its change number.
                    Change::Remove { target, .. } => {
                        removed.insert(n.to_string(), target.clone());
                    }
                    Change::Delete {
                        location,
                        item,
                        export: Some(export),
                    } => {
                        exported.insert(
                            export.clone(),
                            format!("{} in {}", item.describe(), location.describe()),
                        );
                    }
                    _ => {}
                }
            }
            Record::Applied { undo, .. } => match undo {
                Undo::Restore { target, qname, .. } => {
                    removed.insert(qname.clone(), target.clone());
                }
                Undo::AddKeychainItem {
                    location,
                    item,
                    export,
                } => {
                    exported.insert(
                        export.clone(),
                        format!("{} in {}", item.describe(), location.describe()),
                    );
                }
                _ => {}
            },
            _ => {}
        }
    }
    entries
        .iter()
        .map(|rel| {
            let explained = if let Some(name) = rel.strip_prefix("quarantine/") {
                // `<n>.partial`: a copy across volumes that had not finished.
                let name = name.strip_suffix(".partial").unwrap_or(name);
                match removed.get(name) {
                    Some(target) => Explained::Removed {
                        target: target.clone(),
                    },
                    None => Explained::No,
                }
            } else if let Some(name) = rel
                .strip_prefix("keychain/")
                .and_then(|n| n.strip_suffix(".json"))
            {
                match exported.get(name) {
                    Some(item) => Explained::Exported { item: item.clone() },
                    // The export is written, then its delete announced as change `next_n`.
                    None if sound
                        && name
                            .rsplit_once('-')
                            .is_some_and(|(_, n)| n == next_n.to_string()) =>
                    {
                        Explained::ExportedBeforeItsDelete
                    }
                    None => Explained::No,
                }
            } else {
                Explained::No
            };
            Entry {
                rel: rel.clone(),
                explained,
            }
        })
        .collect()
}

/// The entries no trusted record explains.
pub fn unexplained(entries: &[Entry]) -> Vec<String> {
    entries
        .iter()
        .filter(|e| e.explained == Explained::No)
        .map(|e| e.rel.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::fs::Moved;

    #[test]
    fn entries_are_explained_by_intents_and_results_only() {
        let records = vec![
            Record::header_for_tests(),
            Record::Intent {
                step: "s".into(),
                n: 0,
                change: Change::Remove {
                    target: "/a".into(),
                    qname: String::new(),
                },
            },
            Record::Applied {
                step: "s".into(),
                n: 0,
                undo: Undo::Restore {
                    target: "/a".into(),
                    qname: "0".into(),
                    moved: Moved::Renamed,
                },
            },
            Record::Intent {
                step: "s".into(),
                n: 1,
                change: Change::Remove {
                    target: "/b".into(),
                    qname: String::new(),
                },
            },
        ];
        let listed: Vec<String> = [
            "quarantine/0",
            "quarantine/1.partial",
            "quarantine/2",
            "keychain/k-2.json",
            "keychain/k-7.json",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let e = explain(&listed, &records, true);
        // What a damaged journal's records do not say is never assumed.
        assert_eq!(
            explain(&listed, &records, false)[3].explained,
            Explained::No
        );
        assert_eq!(
            e[0].explained,
            Explained::Removed {
                target: "/a".into()
            }
        );
        assert_eq!(
            e[1].explained,
            Explained::Removed {
                target: "/b".into()
            }
        );
        assert_eq!(e[3].explained, Explained::ExportedBeforeItsDelete);
        assert_eq!(
            unexplained(&e),
            vec!["quarantine/2".to_string(), "keychain/k-7.json".to_string()]
        );
    }
}
