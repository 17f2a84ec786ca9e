//! Jamf Pro: delete the computer record (unmanaging it first while it is managed), or send the
//! unmanage command alone while the MDM profile is still installed.

use std::time::{Instant, SystemTime};

use anyhow::{Context, Result};

use super::{
    finished, mdm_profile_installed, send, several_or_none, sleep_unless_cancelled, Request, Spec,
    System, INTUNE_POLL, PROFILE_POLL,
};
use crate::action::{Env, Op, Outcome, PlannedChange, Recorder, StepPlan};
use crate::server::cleanup::{jamf_step, JamfPlan};
use crate::server::jamf::{Escrow, Holding, JamfClient, JamfComputer};
use crate::server::{ApplyOptions, Clients, ServerTarget};

impl Spec {
    pub(super) fn apply_jamf(
        &self,
        env: &Env,
        rec: &mut dyn Recorder,
        clients: &Clients,
        target: &ServerTarget,
    ) -> Result<Outcome> {
        let jamf = clients.jamf.as_ref().context("no Jamf Pro client")?;
        let plan = jamf_step::preview(jamf, target)?;
        let none = format!("Jamf Pro has no computer with serial {}", target.serial);
        if let Some(end) = several_or_none(
            env,
            rec,
            plan.computers.is_empty().then_some(none),
            several(&plan),
            &plan.records(),
        )? {
            return Ok(end);
        }
        let mut done = Vec::new();
        for mut one in plan.each() {
            let shown = one.records().remove(0);
            // A managed record is unmanaged first: deleting it would strand the MDM profile.
            if one.computers[0].managed != Some(false) {
                let r = send(rec, Request::Unmanage, &shown, &mut done, || {
                    jamf_step::unmanage(jamf, &one, true)
                })?;
                if r.record_was_gone() {
                    continue;
                }
                one.computers[0].managed = Some(false);
            }
            send(rec, Request::DeleteJamf, &shown, &mut done, || {
                jamf_step::apply(jamf, &one, &ApplyOptions::default())
            })?;
        }
        finished(rec, env.step_id, SystemTime::now())?;
        Ok(Outcome::Done(done.join("; ")))
    }

    pub(super) fn apply_unmanage(
        &self,
        env: &Env,
        rec: &mut dyn Recorder,
        clients: &Clients,
        target: &ServerTarget,
    ) -> Result<Outcome> {
        let sent_key = format!("unmanage-sent:{}", env.step_id);
        let sent = match rec.get_note(&sent_key) {
            // Sent by an earlier attempt: wait for it rather than queue it again.
            Some(at) => at,
            None => {
                let jamf = clients.jamf.as_ref().context("no Jamf Pro client")?;
                let plan = jamf_step::preview(jamf, target)?;
                if plan.computers.is_empty() {
                    tracing::info!(
                        step = env.step_id,
                        "Jamf Pro has no computer with serial {}: no unmanage command can be sent",
                        target.serial
                    );
                    return self.operator_step().apply(env, rec);
                }
                if let Some(end) = several_or_none(env, rec, None, several(&plan), &plan.records())?
                {
                    return Ok(end);
                }
                let mut done = Vec::new();
                for one in plan.each() {
                    let shown = one.records().remove(0);
                    send(rec, Request::Unmanage, &shown, &mut done, || {
                        jamf_step::unmanage(jamf, &one, true)
                    })?;
                }
                let at = crate::action::now_rfc3339();
                rec.note(&sent_key, &at)?;
                at
            }
        };
        let start = Instant::now();
        let bound = self.wait_bound()?;
        loop {
            if !mdm_profile_installed(env)? {
                return Ok(Outcome::Done(format!(
                    "unmanage command sent at {sent}; the MDM profile is gone"
                )));
            }
            if start.elapsed() >= bound {
                break;
            }
            if !sleep_unless_cancelled(PROFILE_POLL, rec) {
                break;
            }
        }
        let reason = format!(
            "the unmanage command was sent at {sent} but the MDM profile is still installed (the Mac must be online to receive it); `{}` checks again. If it stays: {}\n  then: `{}`",
            env.device.hint("resume"),
            self.operator.trim(),
            env.device.hint(&format!("resume --confirm {}", env.step_id))
        );
        Ok(self.not_yet(reason))
    }
}

impl Spec {
    /// `plan` of the two escrow steps (GET only).
    pub(super) fn plan_escrow(&self, jamf: &JamfClient, target: &ServerTarget) -> Result<StepPlan> {
        let mut plan = StepPlan::default();
        if self.system == System::JamfEscrowCheck {
            plan.changes.push(PlannedChange::new(
                Op::Wait,
                format!(
                    "after re-enrollment: until Jamf Pro holds a FileVault personal recovery key for serial {} (up to wait_minutes), else an operator checks: {}",
                    target.serial,
                    self.operator.trim()
                ),
                true,
            ));
            return Ok(plan);
        }
        let found = escrow_of(jamf, target)?;
        if found.is_empty() {
            plan.already.push(format!(
                "Jamf Pro has no computer with serial {}: nothing escrowed to lose",
                target.serial
            ));
            return Ok(plan);
        }
        for (c, e) in &found {
            plan.notes.push(format!(
                "Jamf Pro computer {} ({:?}) holds: {}",
                c.id,
                c.name.as_deref().unwrap_or("-"),
                e.describe()
            ));
        }
        if found.iter().all(|(_, e)| !e.anything_may_be_lost()) {
            plan.already.push(
                "Jamf Pro holds no escrowed secret for this Mac: nothing to acknowledge".into(),
            );
        } else {
            plan.changes.push(PlannedChange::new(
                Op::Operator,
                "acknowledge that deleting the Jamf Pro record (delete-jamf-record) deletes what it escrowed: `--confirm STEP_ID` on run or resume",
                true,
            ));
        }
        Ok(plan)
    }

    /// Holds the run until the loss of what Jamf Pro escrowed is acknowledged (`--confirm`, seen
    /// before this is called). Nothing escrowed: done.
    pub(super) fn apply_escrow(
        &self,
        env: &Env,
        clients: &Clients,
        target: &ServerTarget,
    ) -> Result<Outcome> {
        let jamf = clients.jamf.as_ref().context("no Jamf Pro client")?;
        let found = escrow_of(jamf, target)?;
        if found.iter().all(|(_, e)| !e.anything_may_be_lost()) {
            return Ok(Outcome::AlreadyDone(if found.is_empty() {
                format!(
                    "Jamf Pro has no computer with serial {}: nothing escrowed to lose",
                    target.serial
                )
            } else {
                "Jamf Pro holds no escrowed secret for this Mac".into()
            }));
        }
        let held: Vec<String> = found
            .iter()
            .map(|(c, e)| {
                format!(
                    "    computer {} ({:?}): {}",
                    c.id,
                    c.name.as_deref().unwrap_or("-"),
                    e.describe()
                )
            })
            .collect();
        Ok(Outcome::Pause {
            reason: format!(
                "deleting the Jamf Pro record (step delete-jamf-record) also deletes what Jamf Pro escrowed for this Mac; nothing was changed yet:\n{}\n  {}\n  then acknowledge: `{}` (or start the run with `run --confirm {}`)",
                held.join("\n"),
                self.operator.trim(),
                env.device.hint(&format!("resume --confirm {}", env.step_id)),
                env.step_id
            ),
            until: None,
        })
    }

    /// After re-enrollment: done once Jamf Pro holds a FileVault personal recovery key for the
    /// serial again; polled up to `wait_minutes`, then left to an operator.
    pub(super) fn apply_escrow_check(
        &self,
        env: &Env,
        rec: &mut dyn Recorder,
        clients: &Clients,
        target: &ServerTarget,
    ) -> Result<Outcome> {
        let jamf = clients.jamf.as_ref().context("no Jamf Pro client")?;
        let start = Instant::now();
        let bound = self.wait_bound()?;
        loop {
            for (c, e) in escrow_of(jamf, target)? {
                if e.filevault_key == Holding::Held {
                    return Ok(Outcome::Done(format!(
                        "Jamf Pro holds a FileVault personal recovery key for computer {} (serial {})",
                        c.id, target.serial
                    )));
                }
            }
            if start.elapsed() >= bound || !sleep_unless_cancelled(INTUNE_POLL, rec) {
                break;
            }
        }
        Ok(self.not_yet(format!(
            "Jamf Pro holds no FileVault personal recovery key for serial {} yet: {}\n  then: `{}`",
            target.serial,
            self.operator.trim(),
            env.device
                .hint(&format!("resume --confirm {}", env.step_id))
        )))
    }
}

/// Every computer with the serial and what Jamf Pro escrowed for it (GET only).
fn escrow_of(jamf: &JamfClient, target: &ServerTarget) -> Result<Vec<(JamfComputer, Escrow)>> {
    let computers = jamf
        .find_by_serial(&target.serial)
        .with_context(|| format!("looking up serial {} in Jamf Pro", target.serial))?;
    computers
        .into_iter()
        .map(|c| {
            let e = jamf
                .escrow(&c)
                .with_context(|| format!("reading what Jamf Pro escrowed for computer {}", c.id))?;
            Ok((c, e))
        })
        .collect()
}

/// Several computers with the serial, where one is expected: what to say when pausing.
fn several(plan: &JamfPlan) -> Option<String> {
    plan.needs_allow_multiple.then(|| {
        format!(
            "{} Jamf Pro computers have serial {}",
            plan.computers.len(),
            plan.serial
        )
    })
}
