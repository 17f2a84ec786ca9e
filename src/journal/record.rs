//! Journal records. The serialized form is the on-disk format: changing a field's name or
//! meaning needs a new `FORMAT_VERSION`, a fixture of the old one in tests/fixtures, and a reader
//! that still understands it. New optional fields (`#[serde(default)]`) keep the version.

use std::collections::BTreeMap;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::FORMAT_VERSION;
use crate::device::fs::Moved;
use crate::keychain::{KeychainItem, KeychainLocation};

pub const FORMAT_NAME: &str = "reenroll-journal";
/// Version 1: plain JSON lines. Version 2: every line ends with its checksum (`"sum"`).
pub const READABLE_VERSIONS: &[u32] = &[1, 2];
/// The first version whose every record carries a checksum.
pub const CHECKSUM_VERSION: u32 = 2;

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Record {
    Header {
        format: String,
        version: u32,
        run_id: String,
        playbook: String,
        /// Where the playbook came from: `embedded:NAME` or a file path.
        origin: String,
        /// The full playbook text, so a resume after an upgrade runs the same steps.
        source: String,
        /// Variables frozen when the run started, and where each value came from.
        vars: BTreeMap<String, String>,
        #[serde(default)]
        var_sources: BTreeMap<String, String>,
        /// The device root for a sandbox run (`--root`), `None` on a real Mac.
        root: Option<String>,
        started: String,
        reenroll_version: String,
        #[serde(default)]
        options: BTreeMap<String, String>,
    },
    /// Facts read before anything changed (serial, console user, jss_url, ...).
    Facts {
        facts: BTreeMap<String, serde_json::Value>,
    },
    StepStart {
        step: String,
        at: String,
    },
    /// Written and fsync'ed before a change is made.
    Intent {
        step: String,
        n: u64,
        change: Change,
    },
    /// Written after the change, with what rollback needs.
    Applied {
        step: String,
        n: u64,
        undo: Undo,
    },
    /// A planned change that could not be made; `exception` ones do not fail the step.
    ChangeFailed {
        step: String,
        n: u64,
        target: String,
        error: String,
        exception: bool,
    },
    StepEnd {
        step: String,
        state: super::StepState,
        at: String,
        #[serde(default)]
        summary: String,
    },
    /// The run stopped and waits: for an operator, a restart, a timer, a user, or the admin.
    Paused {
        step: Option<String>,
        reason: String,
        at: String,
        #[serde(default)]
        until: Option<String>,
    },
    /// An operator confirmed that a step was done elsewhere.
    Confirmed {
        step: String,
        at: String,
    },
    /// The admin skipped a step (`run --step`).
    SkippedByAdmin {
        step: String,
        at: String,
    },
    /// A key/value the run keeps (boot session ids, deadlines, attempt counters, resume --set).
    Note {
        key: String,
        value: String,
    },
    RunEnd {
        state: super::RunState,
        at: String,
        #[serde(default)]
        exceptions: Vec<String>,
    },
    RollbackStart {
        at: String,
    },
    /// One change put back (or found already back) by rollback.
    Restored {
        step: String,
        n: u64,
        outcome: String,
    },
    RollbackEnd {
        at: String,
        #[serde(default)]
        failures: Vec<String>,
        #[serde(default)]
        irreversible: Vec<String>,
    },
}

/// What a change is about to do (the intent).
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(tag = "op", rename_all = "kebab-case")]
pub enum Change {
    /// Move a path into quarantine as `quarantine/<qname>`.
    Remove { target: String, qname: String },
    /// Run a program.
    Run { program: String, args: Vec<String> },
    /// Delete a keychain item (its export, if any, is `keychain/<export>.json`).
    Delete {
        location: KeychainLocation,
        item: KeychainItem,
        export: Option<String>,
    },
    /// Anything else an action does (a server request, writing a LaunchDaemon, ...).
    Other { what: String, target: String },
}

impl Change {
    pub fn target(&self) -> String {
        match self {
            Change::Remove { target, .. } => target.clone(),
            Change::Run { program, args } => std::iter::once(program.clone())
                .chain(args.iter().cloned())
                .collect::<Vec<_>>()
                .join(" "),
            Change::Delete { location, item, .. } => {
                format!("{} in {}", item.describe(), location.describe())
            }
            Change::Other { target, .. } => target.clone(),
        }
    }
}

/// How to undo an applied change.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Undo {
    /// Rename `quarantine/<qname>` back to `target`.
    Restore {
        target: String,
        qname: String,
        moved: Moved,
    },
    /// Add the exported item back to the keychain.
    AddKeychainItem {
        location: KeychainLocation,
        item: KeychainItem,
        export: String,
    },
    /// Remove a file this run created (e.g. its LaunchDaemon).
    RemoveCreated { target: String },
    /// Cannot be undone; `why` says so in rollback's report.
    Irreversible { what: String, why: String },
}

pub fn check_header(r: &Record) -> Result<()> {
    let Record::Header {
        format, version, ..
    } = r
    else {
        bail!("line 1 is not a journal header");
    };
    if format != FORMAT_NAME {
        bail!("not a reenroll journal (format `{format}`)");
    }
    if *version < READABLE_VERSIONS.iter().copied().min().unwrap_or(1) {
        bail!(
            "journal format version {version} was never written by reenroll; the file is damaged"
        );
    }
    if !READABLE_VERSIONS.contains(version) {
        bail!(
            "journal format version {version} is newer than this reenroll understands \
             (it reads {READABLE_VERSIONS:?}); use the reenroll that started the run \
             (a copy is in the state directory's bin/)"
        );
    }
    Ok(())
}

/// The checksum of a record's line: the first 8 bytes (16 hex digits) of the SHA-256 of its line
/// number and its JSON without the `sum` field. The line number is part of it, so a line that is
/// duplicated, dropped or moved does not check out either.
pub fn checksum(line_no: u64, json: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(format!("{FORMAT_NAME} line {line_no}\n").as_bytes());
    h.update(json);
    h.finalize()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `,"sum":"` + 16 hex digits + `"}`: how every line of a version-2 journal ends.
const SUM_PREFIX: &[u8] = b",\"sum\":\"";
const SUM_LEN: usize = SUM_PREFIX.len() + 16 + 2;

/// One journal line (without its newline): the record's JSON with its checksum as the last
/// field, `{"type":...,"sum":"0123456789abcdef"}`.
pub fn encode_line(line_no: u64, record: &Record) -> Result<Vec<u8>> {
    let mut json = serde_json::to_vec(record).context("encoding a journal record")?;
    if json.last() != Some(&b'}') || json.len() < 2 {
        bail!("a journal record did not encode as a JSON object");
    }
    let sum = checksum(line_no, &json);
    json.pop();
    json.extend_from_slice(SUM_PREFIX);
    json.extend_from_slice(sum.as_bytes());
    json.extend_from_slice(b"\"}");
    Ok(json)
}

/// The JSON of a line that carries a checksum, with the checksum taken out, if it checks out;
/// `Ok(None)` for a line without one.
fn strip_checksum(line_no: u64, line: &[u8]) -> Result<Option<Vec<u8>>> {
    let has_sum = line.len() > SUM_LEN
        && line.ends_with(b"\"}")
        && line[line.len() - SUM_LEN..].starts_with(SUM_PREFIX);
    if !has_sum {
        return Ok(None);
    }
    let sum = &line[line.len() - 18..line.len() - 2];
    let mut json = line[..line.len() - SUM_LEN].to_vec();
    json.push(b'}');
    if checksum(line_no, &json).as_bytes() != sum {
        bail!(
            "line {line_no} does not match its checksum: it was changed, duplicated or moved \
             after it was written"
        );
    }
    Ok(Some(json))
}

/// Decode one complete line of a journal whose header says `version` (`None`: this is the
/// header). Version 2 lines must carry their checksum; in a version-1 journal, lines appended
/// by a later reenroll carry one (checked), and once one does, every later line must.
pub fn decode_line(
    version: Option<u32>,
    line_no: u64,
    line: &[u8],
    sums_seen: &mut bool,
) -> Result<Record> {
    let (json, summed) = match strip_checksum(line_no, line)? {
        Some(json) => (json, true),
        None => (line.to_vec(), false),
    };
    let record: Record = serde_json::from_slice(&json).with_context(|| {
        format!(
            "line {line_no} is not a valid record; the journal is corrupt there (only the last \
             line may be torn by a crash). Keep the folder for inspection"
        )
    })?;
    let version = match (version, &record) {
        (None, Record::Header { version, .. }) => *version,
        _ => version.unwrap_or(0),
    };
    if !summed && (version >= CHECKSUM_VERSION || *sums_seen) {
        bail!(
            "line {line_no} has no checksum (every record of this journal carries one); it was \
             changed after it was written"
        );
    }
    *sums_seen |= summed;
    Ok(record)
}

impl Record {
    #[cfg(test)]
    pub fn header_for_tests() -> Record {
        Record::Header {
            format: FORMAT_NAME.into(),
            version: FORMAT_VERSION,
            run_id: "test".into(),
            playbook: "test".into(),
            origin: "embedded:test".into(),
            source: String::new(),
            vars: BTreeMap::new(),
            var_sources: BTreeMap::new(),
            root: None,
            started: "2026-11-26T00:00:00Z".into(),
            reenroll_version: "0".into(),
            options: BTreeMap::new(),
        }
    }
}

#[allow(dead_code)]
const _: u32 = FORMAT_VERSION;
