//! The engine: resolved settings, playbook loading, and the context shared by plan, run, resume,
//! rollback and status (in `plan.rs` and `executor.rs`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::action::Facts;
use crate::device::Device;
use crate::error;
use crate::journal::StateDir;
use crate::playbook::{embedded, Playbook, PlaybookError, When};

pub const DEFAULT_STATE_DIR: &str = "/Library/Application Support/reenroll";

/// Everything a command needs to act on a device, resolved once from plain values (the command
/// line stays in `app`).
pub struct Ctx {
    pub device: Device,
    pub state: StateDir,
}

impl Ctx {
    /// The device (`root`: a sandbox device, else this Mac) and where its journals live
    /// (`state_dir`, else the default inside the device).
    pub fn new(root: Option<&Path>, state_dir: Option<&Path>) -> Result<Ctx> {
        let device = match root {
            Some(r) => Device::sandbox(r).map_err(|e| error::invalid(format!("{e:#}")))?,
            None => Device::real(),
        };
        let state = match (state_dir, root) {
            (Some(s), _) => s.to_path_buf(),
            (None, Some(_)) => device.host_path(DEFAULT_STATE_DIR)?,
            (None, None) => PathBuf::from(DEFAULT_STATE_DIR),
        };
        Ok(Ctx {
            device,
            state: StateDir::new(state),
        })
    }

    /// The context of one read-only look (`plan`, `status`, a rollback preview): the same device
    /// and state folder, through `Device::read_only_memo`, so each fact is asked once however
    /// many steps read it. Dropped when the look ends; a command that acts never goes through it.
    pub fn read_only(&self) -> Ctx {
        Ctx {
            device: self.device.read_only_memo(),
            state: self.state.clone(),
        }
    }

    /// Commands that change the device refuse on a host that is not a Mac unless it is a sandbox.
    pub fn guard_changes(&self) -> Result<()> {
        if !self.device.is_sandbox() && !cfg!(target_os = "macos") {
            return Err(error::refused(
                "this host is not a Mac: reenroll changes nothing here without --root DIR (a sandbox device from `reenroll sandbox DIR`); `plan` still works",
            ));
        }
        Ok(())
    }

    /// Refuse before anything changes when a step needs root and we are not root (never under --root).
    pub fn guard_root(&self, pb: &Playbook) -> Result<()> {
        if self.device.is_sandbox() || nix::unistd::geteuid().is_root() {
            return Ok(());
        }
        if let Some(step) = pb.steps.iter().find(|s| s.needs_root) {
            return Err(error::refused(format!(
                "step `{}` needs root: run reenroll with sudo (or from a Jamf Pro policy)",
                step.id
            )));
        }
        Ok(())
    }
}

/// An embedded playbook by name, or a playbook file by path.
pub fn load_playbook(name_or_path: Option<&str>) -> Result<Playbook> {
    let spec = name_or_path.unwrap_or(embedded::DEFAULT);
    if let Some(src) = embedded::get(spec) {
        return Playbook::parse(src, &format!("playbooks/{spec}.toml"))
            .map_err(PlaybookError::coded);
    }
    let path = PathBuf::from(spec);
    if !path.exists() {
        let names: Vec<&str> = embedded::EMBEDDED.iter().map(|(n, _)| *n).collect();
        let hint = match did_you_mean(spec, &names) {
            Some(n) => format!("; did you mean `{n}`?"),
            None => String::new(),
        };
        return Err(error::invalid(format!(
            "no playbook `{spec}`: not an embedded playbook ({}) and no such file{hint}",
            names.join(", ")
        )));
    }
    let bytes = std::fs::read(&path)
        .with_context(|| format!("reading the playbook {}", path.display()))
        .map_err(|e| error::invalid(format!("{e:#}")))?;
    let src = match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => {
            // Where the first invalid byte is, as file:line:column of the valid text before it.
            let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
            let valid = std::str::from_utf8(valid).unwrap_or_default();
            let line = valid.matches('\n').count() + 1;
            let column = valid
                .rfind('\n')
                .map_or(valid.chars().count(), |p| valid[p + 1..].chars().count())
                + 1;
            return Err(PlaybookError {
                file: path.display().to_string(),
                line,
                column,
                message: format!(
                    "invalid UTF-8 (byte 0x{:02x}): a playbook is UTF-8 text",
                    e.as_bytes()[e.utf8_error().valid_up_to()]
                ),
            }
            .coded());
        }
    };
    Playbook::parse(&src, &path.display().to_string()).map_err(PlaybookError::coded)
}

/// The embedded name closest to a misspelt one (at most a third of its letters off, and 3).
fn did_you_mean<'a>(spec: &str, names: &[&'a str]) -> Option<&'a str> {
    let spec = spec.to_ascii_lowercase();
    names
        .iter()
        .map(|n| (edit_distance(&spec, n), *n))
        .filter(|(d, n)| *d <= 3 && *d * 3 <= n.chars().count().max(3))
        .min()
        .map(|(_, n)| n)
}

/// Levenshtein distance over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// Where each variable's value came from, for `plan`.
pub type Sources = BTreeMap<String, String>;

/// The playbook's variables: managed preferences, then Jamf parameters, then `--set` over the
/// defaults (see `settings`). Unknown keys on the command line or in Jamf parameters exit 2.
pub fn resolve_vars(
    device: &Device,
    pb: &Playbook,
    cli_sets: &[String],
    jamf_sets: &[(String, String)],
) -> Result<crate::settings::Resolved> {
    use crate::settings::{self, Layer};
    let managed = match settings::managed_preferences(device) {
        Ok(m) => m,
        // Credentials found there are refused (exit 4); an unreadable profile is invalid (2).
        Err(e) if error::code_of(&e) == error::REFUSED => return Err(e),
        Err(e) => return Err(error::invalid(format!("{e:#}"))),
    };
    let cli = cli_sets
        .iter()
        .map(|s| settings::parse_set(s))
        .collect::<Result<Vec<_>>>()?;
    settings::resolve(
        pb,
        &[
            Layer {
                source: settings::SOURCE_MANAGED.into(),
                values: managed,
                strict: false,
            },
            Layer {
                source: settings::SOURCE_JAMF.into(),
                values: jamf_sets.to_vec(),
                strict: true,
            },
            Layer {
                source: settings::SOURCE_CLI.into(),
                values: cli,
                strict: true,
            },
        ],
    )
}

/// Variables and facts as strings, for `{placeholder}` expansion.
pub fn values_with_facts(
    vars: &BTreeMap<String, String>,
    facts: &Facts,
) -> BTreeMap<String, String> {
    let mut v = vars.clone();
    for (k, f) in facts {
        let s = match f {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Bool(b) => b.to_string(),
            serde_json::Value::Null => String::new(),
            other => other.to_string(),
        };
        v.entry(k.clone()).or_insert(s);
    }
    v
}

fn truthy(v: Option<&serde_json::Value>) -> bool {
    match v {
        Some(serde_json::Value::Bool(b)) => *b,
        Some(serde_json::Value::String(s)) => !s.is_empty() && s != "false" && s != "0",
        Some(serde_json::Value::Number(n)) => n.as_f64() != Some(0.0),
        Some(serde_json::Value::Array(a)) => !a.is_empty(),
        _ => false,
    }
}

/// Whether a step's `when` holds; `Err(reason)` says why it does not apply.
pub fn applies(
    when: Option<&When>,
    vars: &BTreeMap<String, String>,
    facts: &Facts,
) -> std::result::Result<(), String> {
    let Some(w) = when else { return Ok(()) };
    if let Some(v) = &w.set {
        if vars.get(v).is_none_or(|s| s.is_empty()) {
            return Err(format!("not applicable: `{v}` is not set"));
        }
    }
    if let Some(v) = &w.unset {
        if vars.get(v).is_some_and(|s| !s.is_empty()) {
            return Err(format!("not applicable: `{v}` is set"));
        }
    }
    if let Some(f) = &w.fact {
        if !truthy(facts.get(f)) {
            return Err(format!("not applicable: `{f}` is not true on this device"));
        }
    }
    if let Some(f) = &w.not_fact {
        if truthy(facts.get(f)) {
            return Err(format!("not applicable: `{f}` is true on this device"));
        }
    }
    Ok(())
}

pub fn new_run_id(playbook: &str) -> String {
    use std::hash::{BuildHasher, Hasher};
    let now = std::time::SystemTime::now();
    let stamp: String = humantime::format_rfc3339_seconds(now)
        .to_string()
        .chars()
        .filter(|c| c.is_ascii_digit())
        .collect();
    let millis = now
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::from(d.subsec_millis()));
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    // The suffix orders runs started within the same second (milliseconds x 64, at most
    // 0xf9ff) and keeps 6 random bits; `StateDir::run_ids` sorts on it.
    format!(
        "{}-{}-{}-{:04x}",
        &stamp[..8],
        &stamp[8..14],
        playbook,
        (millis << 6) | (h.finish() & 0x3f)
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_misspelt_playbook_name_finds_the_closest() {
        let names = ["cause6", "mdm-profile", "company-portal"];
        assert_eq!(super::edit_distance("cause7", "cause6"), 1);
        assert_eq!(super::edit_distance("", "abc"), 3);
        assert_eq!(super::did_you_mean("casue6", &names), Some("cause6"));
        assert_eq!(super::did_you_mean("Cause6", &names), Some("cause6"));
        assert_eq!(super::did_you_mean("zzz", &names), None);
    }
}
