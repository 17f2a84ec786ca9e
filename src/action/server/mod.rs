//! `server`: a Cause 6 step that happens on a server — delete the Mac's Jamf Pro record
//! (`system = "jamf"`), its Entra device(s) (`"entra"`), its Intune records (`"intune"`), or send
//! Jamf's unmanage (remove MDM profile) command (`"jamf-unmanage"`) — done through the Jamf Pro API
//! and Microsoft Graph when credentials are configured (`server::creds`).
//!
//! Without the credentials a step needs, it is exactly an operator step with the `operator`
//! instructions (non-blocking unless `blocking = true`): it waits for
//! `reenroll resume --confirm STEP_ID`, and `plan` shows it as an `operator` step.
//!
//! With them, `plan` only sends GET requests and lists each record that would be deleted;
//! `apply` journals an intent before every request and its result after (irreversible), then
//! records `finished-at:STEP_ID` for the `gate` (for Intune: when the last deletion was accepted,
//! and only once the Intune search for the serial comes back empty, polled up to
//! `wait_minutes`). `jamf-unmanage` acts only while the MDM profile is still installed (it follows
//! `jamf removeMdmProfile`, which cannot remove a non-removable profile on macOS 11+), then polls
//! up to `wait_minutes` for the profile to go.
//!
//! More than one match where one is expected (two Jamf Pro computers with the serial, two Entra
//! devices with one device id) pauses the run before anything is deleted, whatever `blocking`
//! says: nothing failed, an admin must decide (`resume --allow-multiple`, or delete by hand and
//! `resume --confirm STEP_ID`). A pause (exit 3) says exactly that, keeps the run resumable
//! without marking it failed, and cannot be mistaken for a broken server or network (exit 1).

//!
//! One file per system (`jamf.rs`, `entra.rs`, `intune.rs`) holds what is its own: how to read
//! what was found and in what order to send. This file holds the sequence they share: API or
//! operator (`mode`), "nothing found / several found" before anything is sent
//! (`several_or_none`), and one journaled request per record (`send`: intent, request, result).
//! A new system is a `System` variant, its `Request` kinds and a small file.

mod entra;
mod intune;
mod jamf;

use std::time::{Duration, Instant, SystemTime};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use super::{operator, Env, Op, Outcome, PlannedChange, Recorder, StepPlan};
use crate::device::RunOpts;
use crate::journal::{Change, Undo};
use crate::server::cleanup::{
    entra_step, intune_step, jamf_step, ActionRecord, ActionResult, PlannedRecord, StepReport,
};
use crate::server::http::ClientOptions;
use crate::server::jamf::{InventoryApi, JamfClient, JamfVersion, VERSION_NOTE};
use crate::server::{Clients, Credentials, ServerTarget};

/// Which server record the step deals with.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum System {
    /// Delete the Jamf Pro computer record (unmanaging it first while it is managed).
    Jamf,
    /// Delete the Entra ID device(s) whose device ids preflight read.
    Entra,
    /// Delete the Intune records of the serial (those the Jamf partnership created).
    Intune,
    /// Send the unmanage command while the MDM profile is still installed.
    JamfUnmanage,
    /// Before anything changes: say what Jamf Pro escrowed for this Mac (FileVault personal
    /// recovery key, LAPS password, Recovery Lock password), deleted with its record, and hold
    /// the run until that is acknowledged (`--confirm STEP_ID`). Sends GET requests only.
    JamfEscrow,
    /// After re-enrollment: wait until Jamf Pro holds a FileVault personal recovery key again.
    JamfEscrowCheck,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    pub system: System,
    /// What an operator does instead when there are no credentials for this system.
    pub operator: String,
    /// Without credentials (or when the unmanage command was not received in time): pause the run
    /// (`true`) or let later steps go on while the step waits (`false`, the default).
    #[serde(default)]
    pub blocking: bool,
    /// Intune only: delete records of every management agent, not only the partnership's.
    #[serde(default)]
    pub all_agents: bool,
    /// Intune and jamf-unmanage: minutes to poll for the result before waiting for a resume.
    #[serde(default)]
    pub wait_minutes: Option<String>,
}

/// Seconds between polls of the Intune search and of the MDM profile.
const INTUNE_POLL: Duration = Duration::from_secs(30);
const PROFILE_POLL: Duration = Duration::from_secs(10);

const WHY_JAMF: &str = "a deleted Jamf Pro computer record cannot be restored; the Mac gets a new one when it enrolls again";
const WHY_UNMANAGE: &str =
    "an MDM command cannot be recalled; the Mac enrolls again later in the run";
const WHY_ENTRA: &str = "restore it within 30 days in the Entra admin center (Devices > Deleted devices); reenroll cannot";
const WHY_INTUNE: &str =
    "a deleted Intune record cannot be restored; the Mac registers again at the end of the run";

/// How the step acts on this device.
enum Mode {
    /// As an operator step; the string says why (for the plan and the log).
    Operator(String),
    Api(Box<Clients>, ServerTarget),
}

impl Spec {
    pub fn validate(&self) -> Result<()> {
        if self.operator.trim().is_empty() {
            bail!("a server step needs `operator` instructions for when there are no credentials");
        }
        if self.all_agents && self.system != System::Intune {
            bail!("`all_agents` applies only to `system = \"intune\"`");
        }
        if self.wait_minutes.is_some()
            && !matches!(
                self.system,
                System::Intune | System::JamfUnmanage | System::JamfEscrowCheck
            )
        {
            bail!("`wait_minutes` applies only to `system = \"intune\"`, `\"jamf-unmanage\"` and `\"jamf-escrow-check\"`");
        }
        Ok(())
    }

    fn operator_step(&self) -> operator::Spec {
        operator::Spec {
            instructions: self.operator.clone(),
            blocking: self.blocking,
        }
    }

    fn wait_bound(&self) -> Result<Duration> {
        let default = match self.system {
            System::Intune => "15",
            _ => "10",
        };
        let text = self.wait_minutes.as_deref().unwrap_or(default);
        crate::action::timer::minutes("wait_minutes", text, crate::action::timer::WEEK, false)
    }

    /// API or operator, from the credentials and the facts. `Err`: the credentials exist but
    /// cannot be used (e.g. a file others can read) — never silently an operator step.
    fn mode(&self, env: &Env) -> Result<Mode> {
        let creds = Credentials::load(env.device).context("reading the API credentials")?;
        let clients = Clients::from_credentials(&creds, &ClientOptions::default());
        let fact = |k: &str| {
            env.facts
                .get(k)
                .and_then(|v| v.as_str())
                .map(str::trim)
                .filter(|s| !s.is_empty() && *s != "?")
                .map(str::to_string)
        };
        match self.system {
            System::Jamf | System::JamfUnmanage | System::JamfEscrow | System::JamfEscrowCheck
                if clients.jamf.is_none() =>
            {
                return Ok(Mode::Operator(
                    "no Jamf Pro API credentials (see docs/server.md): an operator does this step"
                        .into(),
                ))
            }
            System::Entra | System::Intune if clients.graph.is_none() => {
                return Ok(Mode::Operator(
                    "no Microsoft Graph credentials (see docs/server.md): an operator does this step"
                        .into(),
                ))
            }
            _ => {}
        }
        let Some(serial) = fact("serial") else {
            return Ok(Mode::Operator(
                "the serial number is unknown (preflight could not read it): an operator does this step"
                    .into(),
            ));
        };
        let entra_device_ids: Vec<String> = fact("entra_device_ids")
            .unwrap_or_default()
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        if self.system == System::Entra && entra_device_ids.is_empty() {
            return Ok(Mode::Operator(
                "preflight found no Entra device id on this Mac (no MS-Organization-Access certificate; Platform SSO keeps it in the Secure Enclave): an operator finds and deletes the device"
                    .into(),
            ));
        }
        Ok(Mode::Api(
            Box::new(clients),
            ServerTarget {
                serial,
                entra_device_ids,
                computer_name: fact("computer_name"),
                intune_all_agents: self.all_agents,
            },
        ))
    }

    /// Which credentials and service the step uses (steps sharing one are checked once).
    pub fn service(&self) -> &'static str {
        match self.system {
            System::Jamf | System::JamfUnmanage | System::JamfEscrow | System::JamfEscrowCheck => {
                "Jamf Pro API"
            }
            System::Entra => "Microsoft Graph (Entra ID devices)",
            System::Intune => "Microsoft Graph (Intune managed devices)",
        }
    }

    /// Before a run changes anything: do the configured credentials work for what this step
    /// does itself? `None`: the step is an operator step here (no credentials for it), nothing to
    /// check. Only GET requests (and the token POST): the token, the server's answer and the
    /// read privilege. What only a write could prove (Delete Computers, the unmanage command)
    /// is left to the step, which stops on a 403 before the next request.
    pub fn check_access(&self, env: &Env) -> Option<AccessCheck> {
        let (clients, target) = match self.mode(env) {
            Ok(Mode::Api(c, t)) => (c, t),
            Ok(Mode::Operator(_)) => return None,
            Err(e) => {
                return Some(AccessCheck {
                    service: self.service(),
                    problem: Some(format!("{e:#}")),
                    jamf_version: None,
                })
            }
        };
        let mut jamf_version = None;
        let result: Result<()> = match self.system {
            System::Jamf | System::JamfUnmanage | System::JamfEscrow | System::JamfEscrowCheck => {
                match clients.jamf.as_ref() {
                    Some(jamf) => jamf
                        .version()
                        .context("asking Jamf Pro its version")
                        .and_then(|v| {
                            jamf_version = Some(v);
                            jamf.find_by_serial(&target.serial)
                                .context("reading computers (privilege Read Computers)")
                        })
                        .map(|_| ()),
                    None => Ok(()),
                }
            }
            System::Entra => match clients.graph.as_ref() {
                Some(g) => entra_step::preview(g, &target).map(|_| ()),
                None => Ok(()),
            },
            System::Intune => match clients.graph.as_ref() {
                Some(g) => intune_step::preview(g, &target).map(|_| ()),
                None => Ok(()),
            },
        };
        Some(AccessCheck {
            service: self.service(),
            problem: result.err().map(|e| format!("{e:#}")),
            jamf_version,
        })
    }

    pub fn plan(&self, env: &Env) -> Result<StepPlan> {
        if self.system == System::JamfUnmanage && !mdm_profile_installed(env)? {
            let mut plan = StepPlan::default();
            plan.already
                .push("the Jamf MDM profile is not installed: nothing to unmanage".into());
            return Ok(plan);
        }
        let (clients, target) = match self.mode(env) {
            Ok(Mode::Api(c, t)) => (c, t),
            Ok(Mode::Operator(why)) if self.system == System::JamfEscrow => {
                return Ok(StepPlan {
                    acts_as: Some("operator"),
                    already: vec![escrow_without_api(&why)],
                    ..Default::default()
                });
            }
            Ok(Mode::Operator(why)) => {
                let mut plan = self.operator_step().plan(env)?;
                plan.acts_as = Some("operator");
                plan.notes.push(why);
                if self.system == System::JamfUnmanage {
                    plan.notes.push(
                        "only if the MDM profile is still installed after remove-mdm-profile"
                            .into(),
                    );
                }
                return Ok(plan);
            }
            Err(e) => {
                let mut plan = self.operator_step().plan(env)?;
                plan.acts_as = Some("operator");
                plan.unseen.push(format!(
                    "{e:#}; the run fails at this step until this is fixed (or the step is confirmed by hand)"
                ));
                return Ok(plan);
            }
        };
        if matches!(self.system, System::JamfEscrow | System::JamfEscrowCheck) {
            let jamf = clients.jamf.as_ref().context("no Jamf Pro client")?;
            // Neither sends anything that changes a record: shown as what they are.
            let mut plan = self.plan_escrow(jamf, &target)?;
            plan.acts_as = Some(if self.system == System::JamfEscrow {
                "operator"
            } else {
                "wait-for"
            });
            return Ok(plan);
        }
        let mut plan = StepPlan::default();
        let (records, warnings, multiple) = match self.system {
            System::Jamf | System::JamfUnmanage | System::JamfEscrow | System::JamfEscrowCheck => {
                let jamf = clients.jamf.as_ref().context("no Jamf Pro client")?;
                let p = jamf_step::preview(jamf, &target)?;
                (p.records(), p.warnings.clone(), p.needs_allow_multiple)
            }
            System::Entra => {
                let graph = clients.graph.as_ref().context("no Graph client")?;
                let p = entra_step::preview(graph, &target)?;
                (p.records(), p.warnings.clone(), p.needs_allow_multiple)
            }
            System::Intune => {
                let graph = clients.graph.as_ref().context("no Graph client")?;
                let p = intune_step::preview(graph, &target)?;
                (p.records(), p.warnings.clone(), false)
            }
        };
        for r in &records {
            if !r.delete {
                plan.notes.push(r.describe());
                continue;
            }
            let change = if self.system == System::JamfUnmanage {
                PlannedChange::new(Op::Request, unmanage_target(r), false)
                    .reason("only if the MDM profile is still installed after remove-mdm-profile")
            } else {
                let c = PlannedChange::new(Op::Request, delete_target(r), false);
                match &r.note {
                    Some(n) => c.reason(n.clone()),
                    None => c,
                }
            };
            plan.changes.push(change);
        }
        if records.iter().all(|r| !r.delete) {
            plan.already.push(match self.system {
                System::JamfUnmanage => format!(
                    "Jamf Pro has no computer with serial {}: no unmanage command can be sent",
                    target.serial
                ),
                System::Entra => format!(
                    "no Entra device to delete for device id {}",
                    target.entra_device_ids.join(", ")
                ),
                _ => format!("no record to delete for serial {}", target.serial),
            });
        }
        plan.notes.extend(warnings);
        if multiple {
            plan.notes.push(
                "more than one match where one is expected: the run pauses here, deleting nothing, unless started or resumed with --allow-multiple"
                    .into(),
            );
        }
        plan.notes.push(match self.system {
            System::JamfUnmanage => {
                "with API credentials: sends the command, then waits for the profile to go".into()
            }
            System::Intune => "with API credentials: GET requests only in plan; the settle period starts when the last deletion is accepted".into(),
            _ => "with API credentials: GET requests only in plan; each record is re-read right before it is deleted".into(),
        });
        Ok(plan)
    }

    pub fn apply(&self, env: &Env, rec: &mut dyn Recorder) -> Result<Outcome> {
        let sent_key = format!("unmanage-sent:{}", env.step_id);
        if self.system == System::JamfUnmanage && !mdm_profile_installed(env)? {
            return Ok(match rec.get_note(&sent_key) {
                Some(at) => Outcome::Done(format!(
                    "the MDM profile is gone after the unmanage command sent at {at}"
                )),
                None => Outcome::AlreadyDone(
                    "the Jamf MDM profile is not installed: nothing to unmanage".into(),
                ),
            });
        }
        if let Some(at) = rec.confirmed(env.step_id) {
            return Ok(Outcome::Done(format!("confirmed by the operator at {at}")));
        }
        let (clients, target) = match self.mode(env) {
            Ok(Mode::Api(c, t)) => (c, t),
            Ok(Mode::Operator(why)) if self.system == System::JamfEscrow => {
                return Ok(Outcome::AlreadyDone(escrow_without_api(&why)));
            }
            Ok(Mode::Operator(why)) => {
                tracing::info!(step = env.step_id, "{why}");
                return self.operator_step().apply(env, rec);
            }
            Err(e) => {
                return Ok(Outcome::Failed(format!(
                    "{e:#}. Fix it and `reenroll resume`, or do the step by hand and `reenroll resume --confirm {}`",
                    env.step_id
                )))
            }
        };
        let version = match clients.jamf.as_ref() {
            Some(jamf) if self.service() == "Jamf Pro API" => use_run_jamf_version(env, rec, jamf),
            _ => Ok(()),
        };
        let done = version.and_then(|()| match self.system {
            System::Jamf => self.apply_jamf(env, rec, &clients, &target),
            System::JamfUnmanage => self.apply_unmanage(env, rec, &clients, &target),
            System::JamfEscrow => self.apply_escrow(env, &clients, &target),
            System::JamfEscrowCheck => self.apply_escrow_check(env, rec, &clients, &target),
            System::Entra => self.apply_entra(env, rec, &clients, &target),
            System::Intune => self.apply_intune(env, rec, &clients, &target),
        });
        done.with_context(|| {
            format!(
                "the server step failed; nothing more was sent (the journal lists what was). `reenroll resume` tries again, or do it by hand and `reenroll resume --confirm {}`",
                env.step_id
            )
        })
    }

    /// Not finished yet: pause, or wait while later steps go on.
    fn not_yet(&self, reason: String) -> Outcome {
        if self.blocking {
            Outcome::Pause {
                reason,
                until: None,
            }
        } else {
            Outcome::Waiting(reason)
        }
    }
}

/// Without Jamf Pro credentials reenroll deletes nothing in Jamf Pro: whoever deletes the record
/// by hand decides. What may be lost is said all the same.
fn escrow_without_api(why: &str) -> String {
    format!(
        "{why}. Jamf Pro may hold a FileVault personal recovery key, a managed local administrator (LAPS) password and a Recovery Lock password for this Mac: deleting its record by hand (step delete-jamf-record) deletes them; save what you need first"
    )
}

/// What `Spec::check_access` found.
#[derive(Clone, Debug)]
pub struct AccessCheck {
    pub service: &'static str,
    /// `None`: the credentials work for what the step reads.
    pub problem: Option<String>,
    /// The Jamf Pro server's version, when asked.
    pub jamf_version: Option<JamfVersion>,
}

/// The Jamf Pro version for this run: asked once (in the preflight before the run, handed down
/// as an option, or here), journaled as the note `jamf-pro-version`, then reused by every step.
fn use_run_jamf_version(env: &Env, rec: &mut dyn Recorder, jamf: &JamfClient) -> Result<()> {
    if let Some(v) = rec
        .get_note(VERSION_NOTE)
        .and_then(|v| JamfVersion::parse(&v))
    {
        jamf.use_version(v);
        return Ok(());
    }
    if let Some(v) = env
        .values
        .get(VERSION_NOTE)
        .and_then(|v| JamfVersion::parse(v))
    {
        jamf.use_version(v);
    }
    let v = jamf.version().context("asking Jamf Pro its version")?;
    rec.note(VERSION_NOTE, &v.to_string())?;
    tracing::info!(
        step = env.step_id,
        "Jamf Pro {v}: using the {:?} computer inventory routes",
        InventoryApi::for_version(v)
    );
    Ok(())
}

/// Whether the Jamf MDM profile is installed, by `profiles list` (read-only).
fn mdm_profile_installed(env: &Env) -> Result<bool> {
    let out = env
        .device
        .run(
            "/usr/bin/profiles",
            &["list".to_string()],
            &RunOpts {
                timeout: Some(Duration::from_secs(60)),
                ..Default::default()
            },
        )
        .context("checking for the Jamf MDM profile with `profiles list`")?;
    Ok(out.stdout.contains(super::facts::JAMF_MDM_PROFILE_UUID))
}

/// The requests server steps send, each journaled as one irreversible change.
#[derive(Clone, Copy, Debug)]
enum Request {
    Unmanage,
    DeleteJamf,
    DeleteEntra,
    DeleteIntune,
}

impl Request {
    /// The change's `what` in the journal.
    fn what(self) -> &'static str {
        match self {
            Request::Unmanage => "POST Jamf Pro unmanage",
            Request::DeleteJamf => "DELETE Jamf Pro record",
            Request::DeleteEntra => "DELETE Entra ID device",
            Request::DeleteIntune => "DELETE Intune record",
        }
    }

    /// Why it cannot be undone (shown by rollback).
    fn why(self) -> &'static str {
        match self {
            Request::Unmanage => WHY_UNMANAGE,
            Request::DeleteJamf => WHY_JAMF,
            Request::DeleteEntra => WHY_ENTRA,
            Request::DeleteIntune => WHY_INTUNE,
        }
    }

    /// The change's target: the record as `plan` showed it.
    fn target(self, r: &PlannedRecord) -> String {
        match self {
            Request::Unmanage => unmanage_target(r),
            _ => delete_target(r),
        }
    }
}

/// Before anything is sent: `none` (what was not found) ends the step as already done;
/// `several` (several matches where one is expected) pauses it, deleting nothing, unless
/// `--allow-multiple` was given. `None`: go on.
fn several_or_none(
    env: &Env,
    rec: &mut dyn Recorder,
    none: Option<String>,
    several: Option<String>,
    records: &[PlannedRecord],
) -> Result<Option<Outcome>> {
    if let Some(none) = none {
        finished(rec, env.step_id, SystemTime::now())?;
        return Ok(Some(Outcome::AlreadyDone(none)));
    }
    let Some(what) = several else {
        return Ok(None);
    };
    if env.values.get("allow_multiple").map(String::as_str) == Some("true") {
        return Ok(None);
    }
    let shown: Vec<String> = records
        .iter()
        .map(|r| format!("    {}", delete_target(r)))
        .collect();
    Ok(Some(Outcome::Pause {
        reason: format!(
            "{what}; nothing was deleted:\n{}\n  check them in the console, then either `reenroll resume --allow-multiple` (acts on them all) or act on the right one(s) by hand and `reenroll resume --confirm {}`",
            shown.join("\n"),
            env.step_id
        ),
        until: None,
    }))
}

/// Sends one request about one record between its intent and its result in the journal, and
/// adds what it did to `done` (the step's summary). A record already gone closes the intent as
/// not done (nothing changed); an error closes it as failed and is returned.
fn send(
    rec: &mut dyn Recorder,
    request: Request,
    record: &PlannedRecord,
    done: &mut Vec<String>,
    call: impl FnOnce() -> Result<StepReport>,
) -> Result<StepReport> {
    let target = request.target(record);
    let n = rec.intent(Change::Other {
        what: request.what().to_string(),
        target: target.clone(),
    })?;
    let report = match call() {
        Ok(r) => r,
        Err(e) => {
            rec.failed(n, &target, &format!("{e:#}"), false)?;
            return Err(e);
        }
    };
    match report.actions.last().map(|a| &a.result) {
        Some(ActionResult::Deleted | ActionResult::Accepted { .. }) => rec.applied(
            n,
            Undo::Irreversible {
                what: target.clone(),
                why: request.why().to_string(),
            },
        )?,
        Some(ActionResult::AlreadyGone) => rec.failed(
            n,
            &target,
            "already gone (deleted elsewhere or by an earlier attempt): nothing was changed",
            false,
        )?,
        None => rec.failed(
            n,
            &target,
            &format!("not sent: {}", report.notes.join("; ")),
            false,
        )?,
    }
    done.extend(
        report
            .actions
            .iter()
            .map(|a: &ActionRecord| a.describe(report.system)),
    );
    Ok(report)
}

fn finished(rec: &mut dyn Recorder, step: &str, at: SystemTime) -> Result<()> {
    rec.note(
        &format!("finished-at:{step}"),
        &humantime::format_rfc3339_millis(at).to_string(),
    )
}

/// Sleeps `d` in short slices; `false` when a signal asked the run to stop.
fn sleep_unless_cancelled(d: Duration, rec: &dyn Recorder) -> bool {
    let end = crate::action::timer::deadline(d);
    while Instant::now() < end {
        if rec.cancelled() {
            return false;
        }
        std::thread::sleep(
            end.saturating_duration_since(Instant::now())
                .min(Duration::from_millis(500)),
        );
    }
    !rec.cancelled()
}

fn or_dash(v: &Option<String>) -> &str {
    v.as_deref().filter(|s| !s.is_empty()).unwrap_or("-")
}

/// `DELETE <system> record <name> id <id> serial <serial> enrolled <date> last sync <date>`.
/// Entra devices have no serial: their device id follows.
pub fn delete_target(r: &PlannedRecord) -> String {
    let mut s = format!(
        "DELETE {} record {:?} id {} serial {} enrolled {} last sync {}",
        r.system,
        or_dash(&r.name),
        r.id,
        or_dash(&r.serial),
        or_dash(&r.enrolled),
        or_dash(&r.last_sync)
    );
    if let (crate::server::cleanup::System::Entra, Some(note)) = (r.system, &r.note) {
        s.push_str(&format!(" ({note})"));
    }
    s
}

fn unmanage_target(r: &PlannedRecord) -> String {
    format!(
        "POST unmanage (remove MDM profile) to {} computer {:?} id {} serial {}",
        r.system,
        or_dash(&r.name),
        r.id,
        or_dash(&r.serial)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::cleanup::System as S;

    fn spec(toml_text: &str) -> Result<Spec> {
        let s: Spec = toml::from_str(toml_text)?;
        s.validate()?;
        Ok(s)
    }

    #[test]
    fn spec_parses_and_validates() {
        let s = spec("system = \"jamf-unmanage\"\noperator = \"do it\"\nblocking = true\nwait_minutes = \"5\"\n").unwrap();
        assert_eq!(s.system, System::JamfUnmanage);
        assert_eq!(s.wait_bound().unwrap(), Duration::from_secs(300));
        assert!(spec("system = \"jamf\"\noperator = \"\"\n").is_err());
        assert!(spec("system = \"entra\"\noperator = \"x\"\nall_agents = true\n").is_err());
        assert!(spec("system = \"jamf\"\noperator = \"x\"\nwait_minutes = \"1\"\n").is_err());
        assert!(spec("system = \"ldap\"\noperator = \"x\"\n").is_err());
        let s = spec("system = \"intune\"\noperator = \"x\"\n").unwrap();
        assert_eq!(s.wait_bound().unwrap(), Duration::from_secs(15 * 60));
        let s = spec("system = \"jamf-escrow\"\noperator = \"x\"\nblocking = true\n").unwrap();
        assert_eq!(s.system, System::JamfEscrow);
        assert_eq!(s.service(), "Jamf Pro API");
        assert!(
            spec("system = \"jamf-escrow\"\noperator = \"x\"\nwait_minutes = \"1\"\n").is_err()
        );
        let s = spec("system = \"jamf-escrow-check\"\noperator = \"x\"\nwait_minutes = \"2\"\n")
            .unwrap();
        assert_eq!(s.wait_bound().unwrap(), Duration::from_secs(120));
    }

    #[test]
    fn without_credentials_the_escrow_step_still_says_what_may_be_lost() {
        let text = escrow_without_api("no Jamf Pro API credentials");
        for what in [
            "FileVault personal recovery key",
            "(LAPS) password",
            "Recovery Lock password",
            "may hold",
        ] {
            assert!(text.contains(what), "{text}");
        }
    }

    #[test]
    fn delete_target_names_every_field() {
        let r = PlannedRecord {
            system: S::Intune,
            delete: true,
            id: "abc".into(),
            name: Some("Mac".into()),
            serial: Some("C02".into()),
            enrolled: Some("2024-01-01T00:00:00Z".into()),
            last_sync: None,
            note: None,
        };
        assert_eq!(
            delete_target(&r),
            "DELETE Intune record \"Mac\" id abc serial C02 enrolled 2024-01-01T00:00:00Z last sync -"
        );
    }
}
