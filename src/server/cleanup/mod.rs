//! The server side of the Cause 6 sequence for one Mac: unmanage it and delete its Jamf Pro
//! record (step 4), delete its Entra device (step 5), delete its Intune records (step 11).
//!
//! `plan` only reads (GET) and says exactly which records would go; `apply` acts on a plan in
//! the safe order (Jamf unmanage → Jamf delete → Entra → Intune), re-reading every record right
//! before deleting it. Each step is also callable on its own (`jamf_step`, `entra_step`,
//! `intune_step`), as the playbook runs them at different points, and returns a `StepReport`
//! the journal can keep.

pub mod entra_step;
pub mod intune_step;
pub mod jamf_step;

use std::time::{Duration, SystemTime};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use super::creds::Credentials;
use super::graph::{GraphClient, IntuneDevice};
use super::http::ClientOptions;
use super::jamf::JamfClient;

pub use entra_step::{EntraLookup, EntraPlan};
pub use intune_step::IntunePlan;
pub use jamf_step::JamfPlan;

/// The API clients there are credentials for. A missing one leaves its steps to the operator.
#[derive(Debug, Default)]
pub struct Clients {
    pub jamf: Option<JamfClient>,
    pub graph: Option<GraphClient>,
}

impl Clients {
    pub fn from_credentials(creds: &Credentials, opts: &ClientOptions) -> Clients {
        Clients {
            jamf: creds.jamf.as_ref().map(|c| JamfClient::new(c, opts)),
            graph: creds.graph.as_ref().map(|c| GraphClient::new(c, opts)),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.jamf.is_none() && self.graph.is_none()
    }
}

/// The Mac whose server records are cleaned up.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerTarget {
    pub serial: String,
    /// Entra device ids read in preflight (common names of `MS-Organization-Access` certificates).
    #[serde(default)]
    pub entra_device_ids: Vec<String>,
    /// The Mac's computer name, to warn when the Jamf record carries another one.
    #[serde(default)]
    pub computer_name: Option<String>,
    /// Delete Intune records of every management agent, not only those the Jamf partnership
    /// created (`managementAgent == "jamf"`).
    #[serde(default)]
    pub intune_all_agents: bool,
}

/// The systems the server steps touch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum System {
    JamfPro,
    Entra,
    Intune,
}

impl std::fmt::Display for System {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            System::JamfPro => "Jamf Pro",
            System::Entra => "Entra ID",
            System::Intune => "Intune",
        })
    }
}

/// What a plan says would happen to one record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedRecord {
    pub system: System,
    /// `true`: would be deleted; `false`: found but left alone (see `note`).
    pub delete: bool,
    pub id: String,
    pub name: Option<String>,
    pub serial: Option<String>,
    pub enrolled: Option<String>,
    /// Last contact (Jamf), last sync (Intune), last sign-in (Entra).
    pub last_sync: Option<String>,
    pub note: Option<String>,
}

impl PlannedRecord {
    pub fn describe(&self) -> String {
        let mut s = format!(
            "{} {} {}",
            if self.delete { "delete" } else { "keep  " },
            self.system,
            self.id
        );
        let mut field = |label: &str, v: &Option<String>| {
            if let Some(v) = v {
                s.push_str(&format!(", {label} {v}"));
            }
        };
        field("name", &self.name);
        field("serial", &self.serial);
        field("enrolled", &self.enrolled);
        field("last seen", &self.last_sync);
        if let Some(n) = &self.note {
            s.push_str(&format!(" ({n})"));
        }
        s
    }
}

/// What the server steps would do, from GET requests only.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerPlan {
    pub target: ServerTarget,
    /// `None`: no Jamf Pro credentials, the step stays an operator step.
    pub jamf: Option<JamfPlan>,
    /// `None`: no Graph credentials, or no Entra device id to look for.
    pub entra: Option<EntraPlan>,
    /// `None`: no Graph credentials.
    pub intune: Option<IntunePlan>,
    pub warnings: Vec<String>,
}

impl ServerPlan {
    /// More than one match where one is expected: `apply` refuses without `allow_multiple`.
    pub fn needs_allow_multiple(&self) -> bool {
        self.jamf.as_ref().is_some_and(|j| j.needs_allow_multiple)
            || self.entra.as_ref().is_some_and(|e| e.needs_allow_multiple)
    }

    pub fn records(&self) -> Vec<PlannedRecord> {
        let mut out = Vec::new();
        if let Some(j) = &self.jamf {
            out.extend(j.records());
        }
        if let Some(e) = &self.entra {
            out.extend(e.records());
        }
        if let Some(i) = &self.intune {
            out.extend(i.records());
        }
        out
    }

    pub fn has_deletions(&self) -> bool {
        self.records().iter().any(|r| r.delete)
    }

    /// Every warning of the plan and its steps.
    pub fn all_warnings(&self) -> Vec<String> {
        let mut w = self.warnings.clone();
        w.extend(self.jamf.iter().flat_map(|j| j.warnings.clone()));
        w.extend(self.entra.iter().flat_map(|e| e.warnings.clone()));
        w.extend(self.intune.iter().flat_map(|i| i.warnings.clone()));
        w
    }

    /// Lines for a human: one per record, then the warnings.
    pub fn describe(&self) -> Vec<String> {
        let mut lines: Vec<String> = self.records().iter().map(PlannedRecord::describe).collect();
        if lines.is_empty() {
            lines.push(format!(
                "no server record of serial {} to delete",
                self.target.serial
            ));
        }
        lines.extend(
            self.all_warnings()
                .into_iter()
                .map(|w| format!("warning: {w}")),
        );
        lines
    }
}

/// Looks up every record the server steps would delete. Only GET requests.
pub fn plan(clients: &Clients, target: &ServerTarget) -> Result<ServerPlan> {
    let mut warnings = Vec::new();
    let jamf = match &clients.jamf {
        Some(j) => Some(jamf_step::preview(j, target)?),
        None => {
            warnings.push("no Jamf Pro API credentials: unmanaging and deleting the Jamf Pro record stay operator steps".into());
            None
        }
    };
    let (entra, intune) = match &clients.graph {
        Some(g) => {
            let entra = if target.entra_device_ids.is_empty() {
                warnings.push("no Entra device id known for this Mac (preflight found no MS-Organization-Access certificate): delete its Entra device by hand if there is one".into());
                None
            } else {
                Some(entra_step::preview(g, target)?)
            };
            (entra, Some(intune_step::preview(g, target)?))
        }
        None => {
            warnings.push("no Microsoft Graph credentials: deleting the Entra device and the Intune records stay operator steps".into());
            (None, None)
        }
    };
    Ok(ServerPlan {
        target: target.clone(),
        jamf,
        entra,
        intune,
        warnings,
    })
}

/// How `apply` may act.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplyOptions {
    /// Delete every record of a multiple match where one is expected.
    pub allow_multiple: bool,
    /// Send the Jamf unmanage command before deleting the record, whatever the record says.
    pub unmanage: bool,
    /// The Mac still has the Jamf MDM profile (it could not be removed locally): unmanage first.
    pub mdm_profile_present: bool,
}

/// What `apply` did, per system; `None` where there was nothing to do or no credentials.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerReport {
    pub jamf: Option<StepReport>,
    pub entra: Option<StepReport>,
    pub intune: Option<StepReport>,
}

impl ServerReport {
    /// When the last Intune deletion was accepted: the 30-minute settle before re-enrolling
    /// starts then.
    pub fn intune_settle_start(&self) -> Option<SystemTime> {
        self.intune
            .as_ref()
            .and_then(StepReport::last_deletion_accepted)
    }

    pub fn actions(&self) -> impl Iterator<Item = &ActionRecord> {
        [&self.jamf, &self.entra, &self.intune]
            .into_iter()
            .flatten()
            .flat_map(|s| s.actions.iter())
    }
}

/// What one step did: the journal record of a server step.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepReport {
    pub system: System,
    pub actions: Vec<ActionRecord>,
    /// Records found but left alone, and why.
    pub notes: Vec<String>,
}

impl StepReport {
    /// The last request found its record already gone (deleted elsewhere, or earlier).
    pub fn record_was_gone(&self) -> bool {
        self.actions
            .last()
            .is_some_and(|a| a.result == ActionResult::AlreadyGone)
    }

    fn new(system: System) -> StepReport {
        StepReport {
            system,
            actions: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// The time of the last deletion the server accepted (204), if any.
    pub fn last_deletion_accepted(&self) -> Option<SystemTime> {
        self.actions
            .iter()
            .filter(|a| a.kind == ActionKind::Delete && a.result == ActionResult::Deleted)
            .filter_map(ActionRecord::time)
            .max()
    }

    fn record(
        &mut self,
        kind: ActionKind,
        id: &str,
        name: Option<&String>,
        serial: Option<&String>,
        result: ActionResult,
    ) {
        self.actions.push(ActionRecord {
            kind,
            id: id.to_string(),
            name: name.cloned(),
            serial: serial.cloned(),
            result,
            at: humantime::format_rfc3339_millis(SystemTime::now()).to_string(),
        });
    }

    /// A one-line account of what was done, for errors part-way through.
    fn summary(&self) -> String {
        if self.actions.is_empty() {
            return format!("nothing done in {} yet", self.system);
        }
        let done: Vec<String> = self
            .actions
            .iter()
            .map(|a| a.describe(self.system))
            .collect();
        format!("already done: {}", done.join("; "))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ActionKind {
    /// Jamf's remove-MDM-profile command.
    Unmanage,
    Delete,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ActionResult {
    /// The unmanage command was queued.
    Accepted {
        command_uuid: Option<String>,
    },
    Deleted,
    /// Gone before we acted (deleted by someone else, or by an earlier interrupted run).
    AlreadyGone,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionRecord {
    pub kind: ActionKind,
    pub id: String,
    pub name: Option<String>,
    pub serial: Option<String>,
    pub result: ActionResult,
    /// When the server answered (RFC 3339, UTC).
    pub at: String,
}

impl ActionRecord {
    pub fn time(&self) -> Option<SystemTime> {
        humantime::parse_rfc3339(&self.at).ok()
    }

    pub fn describe(&self, system: System) -> String {
        let what = match (self.kind, &self.result) {
            (ActionKind::Unmanage, ActionResult::Accepted { .. }) => "unmanage command sent to",
            (ActionKind::Unmanage, _) => "nothing to unmanage, already gone:",
            (ActionKind::Delete, ActionResult::Deleted) => "deleted",
            (ActionKind::Delete, _) => "already gone:",
        };
        let name = self
            .name
            .as_deref()
            .map(|n| format!(" {n:?}"))
            .unwrap_or_default();
        format!("{what} {system} {}{name}", self.id)
    }
}

/// Applies a plan in the safe order. Refuses before any request when a multiple match lacks
/// `allow_multiple`. An error part-way says what was already done.
pub fn apply(clients: &Clients, plan: &ServerPlan, opts: &ApplyOptions) -> Result<ServerReport> {
    if plan.needs_allow_multiple() && !opts.allow_multiple {
        let mut which = Vec::new();
        if let Some(j) = plan.jamf.as_ref().filter(|j| j.needs_allow_multiple) {
            which.push(format!(
                "{} Jamf Pro computers have serial {}",
                j.computers.len(),
                j.serial
            ));
        }
        if let Some(e) = plan.entra.as_ref().filter(|e| e.needs_allow_multiple) {
            for l in e.lookups.iter().filter(|l| l.matches.len() > 1) {
                which.push(format!(
                    "{} Entra devices have device id {}",
                    l.matches.len(),
                    l.device_id
                ));
            }
        }
        bail!(
            "refusing to delete: {}; check them in the consoles, then confirm with --allow-multiple; nothing was deleted",
            which.join(", ")
        );
    }
    let mut report = ServerReport::default();
    let done = |r: &ServerReport| {
        let parts: Vec<String> = [&r.jamf, &r.entra, &r.intune]
            .into_iter()
            .flatten()
            .map(StepReport::summary)
            .collect();
        if parts.is_empty() {
            "nothing was changed".to_string()
        } else {
            parts.join("; ")
        }
    };
    if let (Some(client), Some(p)) = (&clients.jamf, &plan.jamf) {
        report.jamf = Some(jamf_step::apply(client, p, opts)?);
    }
    if let (Some(client), Some(p)) = (&clients.graph, &plan.entra) {
        let r = entra_step::apply(client, p, opts.allow_multiple)
            .with_context(|| format!("before this: {}", done(&report)))?;
        report.entra = Some(r);
    }
    if let (Some(client), Some(p)) = (&clients.graph, &plan.intune) {
        let r = intune_step::apply(client, p)
            .with_context(|| format!("before this: {}", done(&report)))?;
        report.intune = Some(r);
    }
    Ok(report)
}

/// How `wait_until_intune_clear` ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntuneWait {
    pub clear: bool,
    pub polls: u32,
    /// The records still found at the last poll.
    pub remaining: Vec<IntuneDevice>,
}

/// Polls the Intune search for `serial` until no record that the cleanup deletes is left
/// (`all_agents` as in `ServerTarget::intune_all_agents`), or `timeout` worth of `poll`
/// intervals have passed. Time is counted in intervals slept, so an injected `sleep` keeps
/// tests instant.
pub fn wait_until_intune_clear(
    clients: &Clients,
    serial: &str,
    all_agents: bool,
    timeout: Duration,
    poll: Duration,
    sleep: &dyn Fn(Duration),
) -> Result<IntuneWait> {
    let graph = clients
        .graph
        .as_ref()
        .context("waiting for Intune needs Microsoft Graph credentials")?;
    let poll = poll.max(Duration::from_millis(1));
    let max_polls =
        u32::try_from(timeout.as_millis() / poll.as_millis()).unwrap_or(u32::MAX - 1) + 1;
    let mut polls = 0;
    loop {
        polls += 1;
        let remaining: Vec<IntuneDevice> = graph
            .intune_devices_by_serial(serial)?
            .into_iter()
            .filter(|d| all_agents || d.is_jamf_partnership())
            .collect();
        if remaining.is_empty() || polls >= max_polls {
            return Ok(IntuneWait {
                clear: remaining.is_empty(),
                polls,
                remaining,
            });
        }
        sleep(poll);
    }
}

#[cfg(test)]
mod tests;
