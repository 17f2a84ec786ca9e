//! Journal records. The serialized form is the on-disk format: changing a field's name or
//! meaning needs a new `FORMAT_VERSION`, a fixture of the old one in tests/fixtures, and a reader
//! that still understands it. New optional fields (`#[serde(default)]`) keep the version.

use std::collections::BTreeMap;

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};

use super::FORMAT_VERSION;
use crate::device::fs::Moved;
use crate::keychain::{KeychainItem, KeychainLocation};

pub const FORMAT_NAME: &str = "reenroll-journal";
pub const READABLE_VERSIONS: &[u32] = &[1];

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
