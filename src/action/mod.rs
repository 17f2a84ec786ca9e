//! Action kinds. Each kind is one file with, in this order: the doc comment, the `Spec` a
//! playbook gives, `plan` (look at the device, say what would change; read-only), `apply`
//! (change it through the journal), `undo` where it can be undone, and its tests.
//!
//! Adding a kind: a new file beside these, one line in `ActionSpec`, one arm in each `match`
//! below (the compiler lists them).

pub mod facts;
pub mod family;
pub mod gate;
pub mod keychain_purge;
pub mod notify;
pub mod operator;
pub mod payloads;
pub mod reboot;
pub mod remove;
pub mod run;
pub mod server;
pub mod template;
pub mod timer;
pub mod verify;
pub mod wait_for;

use std::collections::BTreeMap;
use std::os::fd::OwnedFd;
use std::path::Path;
use std::time::SystemTime;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::device::Device;
use crate::journal::{Change, Undo};

#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum ActionSpec {
    Facts(facts::Spec),
    Remove(remove::Spec),
    Run(run::Spec),
    Operator(operator::Spec),
    KeychainPurge(keychain_purge::Spec),
    Reboot(reboot::Spec),
    Gate(gate::Spec),
    WaitFor(wait_for::Spec),
    Server(server::Spec),
    VerifyRemoved(verify::Spec),
    Notify(notify::Spec),
}

/// The `op` of a planned change, as `plan --json` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Op {
    Remove,
    Refuse,
    Run,
    Delete,
    Operator,
    Wait,
    Reboot,
    Request,
}

impl Op {
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Remove => "remove",
            Op::Refuse => "refuse",
            Op::Run => "run",
            Op::Delete => "delete",
            Op::Operator => "operator",
            Op::Wait => "wait",
            Op::Reboot => "reboot",
            Op::Request => "request",
        }
    }
}

/// One change `run` would make (or a path it will not touch).
#[derive(Clone, Debug, Serialize)]
pub struct PlannedChange {
    pub op: Op,
    /// The path or name as the Mac sees it.
    pub target: String,
    pub reversible: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entries: Option<u64>,
    /// Why (for `refuse`), or a note (needs Full Disk Access, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl PlannedChange {
    pub fn new(op: Op, target: impl Into<String>, reversible: bool) -> Self {
        PlannedChange {
            op,
            target: target.into(),
            reversible,
            bytes: None,
            entries: None,
            reason: None,
        }
    }
    pub fn reason(mut self, r: impl Into<String>) -> Self {
        self.reason = Some(r.into());
        self
    }
}

/// Something a step leaves in place on purpose, and the rule that says so (an item a keychain
/// keep-rule protects from a remove-rule).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Kept {
    pub target: String,
    pub rule: String,
}

/// What `plan` learned about one step.
#[derive(Clone, Debug, Default, Serialize)]
pub struct StepPlan {
    pub changes: Vec<PlannedChange>,
    /// What a rule of the step protects (shown, so an admin sees what stays and why).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub kept: Vec<Kept>,
    /// What is already in the wanted state.
    pub already: Vec<String>,
    /// What could not be seen (another user's keychain, a folder needing root) instead of a guess.
    pub unseen: Vec<String>,
    /// Anything else the admin should know.
    pub notes: Vec<String>,
    /// The kind the step acts as on this device, when not its own (a `server` step without
    /// credentials is an `operator` step): `plan` shows this as the step's action.
    #[serde(skip)]
    pub acts_as: Option<&'static str>,
}

/// The facts read by the preflight step, kept in the journal.
pub type Facts = BTreeMap<String, serde_json::Value>;

/// What an action sees: the device, the frozen variables and the facts.
pub struct Env<'a> {
    pub device: &'a Device,
    /// Variables and facts flattened to strings, for `{placeholder}` expansion.
    pub values: BTreeMap<String, String>,
    pub facts: &'a Facts,
    pub step_id: &'a str,
    pub reversible: bool,
    pub now: SystemTime,
}

/// How an applied step ended.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// Changed what it had to (exceptions, if any, were recorded through the recorder).
    Done(String),
    /// Everything was already in the wanted state: nothing changed.
    AlreadyDone(String),
    /// Stop the run here until something happens (operator, restart, timer, user): exit 3.
    Pause {
        reason: String,
        until: Option<String>,
    },
    /// Not finished, but later steps may go on (a server step an operator will confirm).
    Waiting(String),
    Failed(String),
}

/// The journal as an action sees it while applying.
pub trait Recorder {
    /// Record the intent durably; returns the change's number.
    fn intent(&mut self, change: Change) -> Result<u64>;
    /// The number the next `intent` will get (to name a file before announcing its change).
    fn next_change(&self) -> u64;
    fn applied(&mut self, n: u64, undo: Undo) -> Result<()>;
    fn failed(&mut self, n: u64, target: &str, error: &str, exception: bool) -> Result<()>;
    fn note(&mut self, key: &str, value: &str) -> Result<()>;
    fn get_note(&self, key: &str) -> Option<String>;
    fn confirmed(&self, step: &str) -> Option<String>;
    fn quarantine(&mut self) -> Result<&OwnedFd>;
    fn run_dir(&self) -> &Path;
    fn record_facts(&mut self, facts: Facts) -> Result<()>;
    /// SIGINT/SIGTERM/SIGHUP arrived: long waits should return a pause.
    fn cancelled(&self) -> bool;
    /// Where a long step shows its progress (the run's Printer): actions never print.
    fn out(&self) -> &crate::output::Printer;
}

impl ActionSpec {
    pub fn kind(&self) -> &'static str {
        match self {
            ActionSpec::Facts(_) => "facts",
            ActionSpec::Remove(_) => "remove",
            ActionSpec::Run(_) => "run",
            ActionSpec::Operator(_) => "operator",
            ActionSpec::KeychainPurge(_) => "keychain-purge",
            ActionSpec::Reboot(_) => "reboot",
            ActionSpec::Gate(_) => "gate",
            ActionSpec::WaitFor(_) => "wait-for",
            ActionSpec::Server(_) => "server",
            ActionSpec::VerifyRemoved(_) => "verify-removed",
            ActionSpec::Notify(_) => "notify",
        }
    }

    /// Every string in the spec (for placeholder validation), through its serialized form.
    pub fn strings(&self) -> Vec<String> {
        let mut out = Vec::new();
        collect_strings(&serde_json::to_value(self).unwrap_or_default(), &mut out);
        out
    }

    /// The path templates the spec names.
    pub fn paths(&self) -> Vec<String> {
        match self {
            ActionSpec::Remove(s) => s.paths.clone(),
            ActionSpec::VerifyRemoved(s) => s.paths.clone(),
            ActionSpec::Run(s) => s.paths(),
            ActionSpec::WaitFor(s) => s.paths(),
            ActionSpec::Facts(_)
            | ActionSpec::Operator(_)
            | ActionSpec::KeychainPurge(_)
            | ActionSpec::Reboot(_)
            | ActionSpec::Gate(_)
            | ActionSpec::Server(_)
            | ActionSpec::Notify(_) => Vec::new(),
        }
    }

    /// The timer fields the spec sets (a number or a `{variable}`), with their maxima.
    pub fn timers(&self) -> Vec<timer::Timer> {
        use timer::{Timer, DAY, WEEK};
        match self {
            ActionSpec::Gate(s) => {
                vec![Timer::new("settle_minutes", &s.settle_minutes, WEEK, false)]
            }
            ActionSpec::Reboot(s) => vec![Timer::new("delay_minutes", &s.delay_minutes, DAY, true)],
            ActionSpec::WaitFor(s) => {
                vec![Timer::new(
                    "timeout_minutes",
                    &s.timeout_minutes,
                    WEEK,
                    false,
                )]
            }
            ActionSpec::Run(s) => {
                let mut t = Vec::new();
                if let Some(m) = &s.timeout_minutes {
                    t.push(Timer::new("timeout_minutes", m, DAY, true));
                }
                if let Some(m) = &s.wait_for_user_minutes {
                    t.push(Timer::new("wait_for_user_minutes", m, WEEK, false));
                }
                t
            }
            ActionSpec::Server(s) => s
                .wait_minutes
                .as_deref()
                .map(|m| vec![Timer::new("wait_minutes", m, WEEK, false)])
                .unwrap_or_default(),
            ActionSpec::KeychainPurge(s) => s
                .wait_for_user_minutes
                .as_deref()
                .map(|m| vec![Timer::new("wait_for_user_minutes", m, WEEK, false)])
                .unwrap_or_default(),
            ActionSpec::Notify(s) => s
                .timer_fields()
                .into_iter()
                .map(|(field, text, max)| Timer::new(field, &text, max, false))
                .collect(),
            ActionSpec::Facts(_)
            | ActionSpec::Remove(_)
            | ActionSpec::Operator(_)
            | ActionSpec::VerifyRemoved(_) => Vec::new(),
        }
    }

    pub fn validate(&self) -> Result<()> {
        match self {
            ActionSpec::Run(s) => s.validate(),
            ActionSpec::KeychainPurge(s) => s.validate(),
            ActionSpec::Server(s) => s.validate(),
            ActionSpec::Remove(s) => s.validate(),
            ActionSpec::VerifyRemoved(s) => s.validate(),
            ActionSpec::Notify(s) => s.validate(),
            _ => Ok(()),
        }
    }

    pub fn reversible_by_default(&self) -> bool {
        matches!(self, ActionSpec::Remove(_) | ActionSpec::KeychainPurge(_))
    }

    pub fn can_be_reversible(&self) -> bool {
        match self {
            ActionSpec::Remove(_) | ActionSpec::KeychainPurge(_) => true,
            ActionSpec::Run(_) => false,
            ActionSpec::Facts(_)
            | ActionSpec::Operator(_)
            | ActionSpec::Reboot(_)
            | ActionSpec::Gate(_)
            | ActionSpec::WaitFor(_)
            | ActionSpec::Server(_)
            | ActionSpec::VerifyRemoved(_)
            | ActionSpec::Notify(_) => false,
        }
    }

    pub fn needs_root_by_default(&self) -> bool {
        !matches!(
            self,
            ActionSpec::Operator(_)
                | ActionSpec::Facts(_)
                | ActionSpec::Gate(_)
                | ActionSpec::WaitFor(_)
        )
    }

    /// The spec with `{variables}` and facts filled in (`{home}`/`{user}` stay for paths).
    pub fn expand(&self, values: &BTreeMap<String, String>) -> Result<ActionSpec> {
        let mut v = serde_json::to_value(self).context("expanding the step's variables")?;
        expand_strings(&mut v, values);
        serde_json::from_value(v).context("expanding the step's variables")
    }

    pub fn plan(&self, env: &Env) -> Result<StepPlan> {
        match self {
            ActionSpec::Facts(s) => s.plan(env),
            ActionSpec::Remove(s) => s.plan(env),
            ActionSpec::Run(s) => s.plan(env),
            ActionSpec::Operator(s) => s.plan(env),
            ActionSpec::KeychainPurge(s) => s.plan(env),
            ActionSpec::Reboot(s) => s.plan(env),
            ActionSpec::Gate(s) => s.plan(env),
            ActionSpec::WaitFor(s) => s.plan(env),
            ActionSpec::Server(s) => s.plan(env),
            ActionSpec::VerifyRemoved(s) => s.plan(env),
            ActionSpec::Notify(s) => s.plan(env),
        }
    }

    pub fn apply(&self, env: &Env, rec: &mut dyn Recorder) -> Result<Outcome> {
        match self {
            ActionSpec::Facts(s) => s.apply(env, rec),
            ActionSpec::Remove(s) => s.apply(env, rec),
            ActionSpec::Run(s) => s.apply(env, rec),
            ActionSpec::Operator(s) => s.apply(env, rec),
            ActionSpec::KeychainPurge(s) => s.apply(env, rec),
            ActionSpec::Reboot(s) => s.apply(env, rec),
            ActionSpec::Gate(s) => s.apply(env, rec),
            ActionSpec::WaitFor(s) => s.apply(env, rec),
            ActionSpec::Server(s) => s.apply(env, rec),
            ActionSpec::VerifyRemoved(s) => s.apply(env, rec),
            ActionSpec::Notify(s) => s.apply(env, rec),
        }
    }
}

fn collect_strings(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::String(s) => out.push(s.clone()),
        serde_json::Value::Array(a) => a.iter().for_each(|x| collect_strings(x, out)),
        serde_json::Value::Object(o) => o.values().for_each(|x| collect_strings(x, out)),
        _ => {}
    }
}

fn expand_strings(v: &mut serde_json::Value, values: &BTreeMap<String, String>) {
    match v {
        serde_json::Value::String(s) => *s = template::expand(s, values, true),
        serde_json::Value::Array(a) => a.iter_mut().for_each(|x| expand_strings(x, values)),
        serde_json::Value::Object(o) => o.values_mut().for_each(|x| expand_strings(x, values)),
        _ => {}
    }
}

/// Users an action skipped: (what it would have touched for them, why, naming the record).
pub type Skipped = Vec<(String, String)>;

/// A path template expanded for the device: the concrete Mac paths, and the users skipped
/// because their record's home is not a plain absolute path (each naming the record).
#[derive(Debug, Default)]
pub struct Expanded {
    pub paths: Vec<String>,
    /// (the template for that user, why it was skipped).
    pub skipped: Skipped,
}

/// Expand a path template into concrete Mac paths: `{home}` for every local user, `{user}` for
/// the console user. Notes say what there was nothing to expand to (nobody logged in); a failure
/// to read the users is an error (a step must not report "done" having looked at nobody); a
/// user whose home is not a plain absolute path (`/Users/../etc`) is skipped, named in
/// `skipped`.
pub fn expand_path(env: &Env, template: &str, notes: &mut Vec<String>) -> Result<Expanded> {
    let mut out = Expanded::default();
    let add = |name: &str, home: &str, rest: &str, out: &mut Expanded| {
        let home = home.trim_end_matches('/');
        match crate::device::check_mac_path(home) {
            Ok(()) if !home.is_empty() => out.paths.push(format!("{home}{rest}")),
            Ok(()) => out.skipped.push((
                format!("{template} for user {name}"),
                format!("the user record `{name}` gives `/` as its home folder; skipped"),
            )),
            Err(e) => out.skipped.push((
                format!("{template} for user {name}"),
                format!("the user record `{name}` has the home folder `{home}`, which is not a plain absolute path ({e:#}); skipped, nothing of it was touched"),
            )),
        }
    };
    if let Some(rest) = template.strip_prefix("{home}") {
        let users = env
            .device
            .users()
            .with_context(|| format!("could not list the local users to expand `{template}`"))?;
        for u in &users {
            add(&u.name, &u.home, rest, &mut out);
        }
    } else if let Some(rest) = template.strip_prefix("{user}") {
        let console = env
            .device
            .console_user()
            .with_context(|| format!("could not read the console user to expand `{template}`"))?;
        match console {
            Some(u) => match &u.home {
                Some(h) => add(&u.name, h, rest, &mut out),
                None => note_once(
                    notes,
                    format!("the console user {} has no local home folder", u.name),
                ),
            },
            None => note_once(
                notes,
                "nobody is logged in at the console: {user} paths were skipped".into(),
            ),
        }
    } else {
        out.paths
            .push(template::expand(template, &BTreeMap::new(), false));
    }
    Ok(out)
}

fn note_once(notes: &mut Vec<String>, n: String) {
    if !notes.contains(&n) {
        notes.push(n);
    }
}

pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now()).to_string()
}

/// The secret data of an exported keychain item (`<run>/keychain/<export>.json`).
pub fn read_export(run_dir: &Path, export: &str) -> Result<Vec<u8>> {
    let path = run_dir.join("keychain").join(format!("{export}.json"));
    let bytes = std::fs::read(&path)
        .with_context(|| format!("reading the exported item {}", path.display()))?;
    serde_json::from_slice(&bytes).with_context(|| format!("decoding {}", path.display()))
}

/// Whether the copy an interrupted delete was about to remove is still in the keychain (to
/// reconcile the delete's open intent). With an export, that copy is the one holding the
/// exported data: another copy of the same identity does not count (it was not the one being
/// deleted). Without one, any copy of the identity counts.
pub fn keychain_undo_probe(
    device: &Device,
    location: &crate::keychain::KeychainLocation,
    item: &crate::keychain::KeychainItem,
    exported: Option<&[u8]>,
) -> Result<bool> {
    let kc = crate::keychain::open(device, location)?;
    match exported {
        Some(data) => Ok(kc
            .export_copies(item)?
            .iter()
            .any(|d| d.as_deref() == Some(data))),
        None => Ok(kc.list()?.iter().any(|i| i.same_identity(item))),
    }
}

/// Put exported keychain items of one keychain back (rollback), one result per item. Each
/// export file is one copy: a copy with its identity and data already there counts as back,
/// the others are added (`keychain::purge::restore_copies`), so a rollback interrupted halfway
/// can simply run again and re-adds exactly the copies that are missing.
pub fn keychain_undo(
    device: &Device,
    run_dir: &Path,
    location: &crate::keychain::KeychainLocation,
    items: &[(crate::keychain::KeychainItem, String)],
) -> Vec<Result<String>> {
    // Items whose export cannot be read fail on their own; the others are restored together.
    let read: Vec<Result<crate::keychain::KeychainItem>> = items
        .iter()
        .map(|(item, export)| {
            read_export(run_dir, export).map(|data| crate::keychain::KeychainItem {
                data: Some(data),
                ..item.clone()
            })
        })
        .collect();
    let with_data: Vec<_> = read
        .iter()
        .filter_map(|r| r.as_ref().ok().cloned())
        .collect();
    let mut restored = match crate::keychain::open(device, location) {
        Ok(kc) => crate::keychain::purge::restore_copies(kc.as_ref(), &with_data),
        Err(e) => {
            let msg = format!("{e:#}");
            with_data
                .iter()
                .map(|_| Err(anyhow::anyhow!("{msg}")))
                .collect()
        }
    }
    .into_iter();
    items
        .iter()
        .zip(read.iter())
        .map(|((item, _), r)| match r {
            Err(e) => Err(anyhow::anyhow!("{e:#}")),
            Ok(_) => match restored.next().expect("one outcome per readable export") {
                Ok(crate::keychain::purge::RestoreOutcome::Added) => Ok(format!(
                    "restored {} in {}",
                    item.describe(),
                    location.describe()
                )),
                Ok(crate::keychain::purge::RestoreOutcome::AlreadyPresent) => Ok(format!(
                    "already back: {} in {}",
                    item.describe(),
                    location.describe()
                )),
                Err(e) => Err(e),
            },
        })
        .collect()
}

/// Cleanup when a run completes, fails or is rolled back (the restart LaunchDaemon removes itself).
pub fn on_run_finished(device: &Device) -> Result<()> {
    reboot::remove_daemon(device)
}
