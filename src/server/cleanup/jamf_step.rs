//! Step 4 (and the unmanage command): the Mac's Jamf Pro inventory record.
//!
//! On macOS 11+ a non-removable MDM profile can only be removed by the server, and once the
//! record is deleted nothing can send that command any more: so the unmanage command goes
//! first, and the record is deleted only after the server accepted it.

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use super::{
    ActionKind, ActionResult, ApplyOptions, PlannedRecord, ServerTarget, StepReport, System,
};
use crate::server::jamf::{JamfClient, JamfComputer, UnmanageOutcome};
use crate::server::DeleteOutcome;

/// The computers the step would act on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JamfPlan {
    pub serial: String,
    pub computers: Vec<JamfComputer>,
    /// More than one computer has the serial: only with `allow_multiple`.
    pub needs_allow_multiple: bool,
    pub warnings: Vec<String>,
}

impl JamfPlan {
    pub fn records(&self) -> Vec<PlannedRecord> {
        self.computers
            .iter()
            .map(|c| PlannedRecord {
                system: System::JamfPro,
                delete: true,
                id: c.id.clone(),
                name: c.name.clone(),
                serial: c.serial.clone(),
                enrolled: c.enrolled.clone(),
                last_sync: c.last_contact.clone(),
                note: match c.managed {
                    Some(false) => Some("not managed".into()),
                    _ => Some("managed: the unmanage command is sent first".into()),
                },
            })
            .collect()
    }

    /// One plan per computer, in order: each request acts on exactly one record.
    pub fn each(&self) -> Vec<JamfPlan> {
        self.computers
            .iter()
            .map(|c| JamfPlan {
                serial: self.serial.clone(),
                computers: vec![c.clone()],
                needs_allow_multiple: false,
                warnings: Vec::new(),
            })
            .collect()
    }
}

/// Looks the serial up (GET only).
pub fn preview(jamf: &JamfClient, target: &ServerTarget) -> Result<JamfPlan> {
    let computers = jamf
        .find_by_serial(&target.serial)
        .with_context(|| format!("looking up serial {} in Jamf Pro", target.serial))?;
    let mut warnings = Vec::new();
    if computers.is_empty() {
        warnings.push(format!(
            "Jamf Pro has no computer with serial {} (already deleted?)",
            target.serial
        ));
    }
    let needs_allow_multiple = computers.len() > 1;
    if needs_allow_multiple {
        warnings.push(format!(
            "{} Jamf Pro computers have serial {}: deleting them all needs --allow-multiple",
            computers.len(),
            target.serial
        ));
    }
    if let Some(expected) = &target.computer_name {
        for c in &computers {
            if let Some(name) = c.name.as_ref().filter(|n| *n != expected) {
                warnings.push(format!(
                    "Jamf Pro computer {} is named {name:?}, the Mac is named {expected:?}",
                    c.id
                ));
            }
        }
    }
    Ok(JamfPlan {
        serial: target.serial.clone(),
        computers,
        needs_allow_multiple,
        warnings,
    })
}

/// Sends only the unmanage command to every planned computer (the playbook's "unmanage"
/// action, when the profile cannot be removed locally).
pub fn unmanage(jamf: &JamfClient, plan: &JamfPlan, allow_multiple: bool) -> Result<StepReport> {
    check_multiple(plan, allow_multiple)?;
    let mut report = StepReport::new(System::JamfPro);
    for c in &plan.computers {
        send_unmanage(jamf, c, &mut report).with_context(|| report.summary())?;
    }
    Ok(report)
}

/// Unmanages (when needed) and deletes every planned computer.
///
/// The unmanage command is sent when asked, when the Mac still has the profile, or when the
/// record does not say it is unmanaged: deleting a managed record would strand the profile.
pub fn apply(jamf: &JamfClient, plan: &JamfPlan, opts: &ApplyOptions) -> Result<StepReport> {
    check_multiple(plan, opts.allow_multiple)?;
    let mut report = StepReport::new(System::JamfPro);
    for c in &plan.computers {
        apply_one(jamf, c, opts, &mut report).with_context(|| report.summary())?;
    }
    Ok(report)
}

fn apply_one(
    jamf: &JamfClient,
    c: &JamfComputer,
    opts: &ApplyOptions,
    report: &mut StepReport,
) -> Result<()> {
    let needs_unmanage = opts.unmanage || opts.mdm_profile_present || c.managed != Some(false);
    if needs_unmanage && !send_unmanage(jamf, c, report)? {
        return Ok(());
    }
    let Some(current) = reread(jamf, c)? else {
        report.record(
            ActionKind::Delete,
            &c.id,
            c.name.as_ref(),
            c.serial.as_ref(),
            ActionResult::AlreadyGone,
        );
        return Ok(());
    };
    let answered = jamf
        .delete(&current.id)
        .with_context(|| format!("deleting Jamf Pro computer {}", c.id))?;
    // Judge by what the server says now, not by the answer to the DELETE.
    let after = jamf
        .get(&c.id)
        .with_context(|| format!("re-reading Jamf Pro computer {} after deleting it", c.id))?;
    if after.is_some() {
        bail!(
            "Jamf Pro computer {} is still there after the DELETE was answered ({}); it was not deleted",
            c.id,
            match answered {
                DeleteOutcome::Deleted => "accepted",
                DeleteOutcome::AlreadyGone => "INVALID_ID",
            }
        );
    }
    let result = match answered {
        DeleteOutcome::Deleted => ActionResult::Deleted,
        DeleteOutcome::AlreadyGone => ActionResult::AlreadyGone,
    };
    report.record(
        ActionKind::Delete,
        &c.id,
        c.name.as_ref(),
        c.serial.as_ref(),
        result,
    );
    Ok(())
}

/// Sends the unmanage command, then re-reads the record; `false` when the server says the
/// computer does not exist (`INVALID_ID`, confirmed by the re-read).
fn send_unmanage(jamf: &JamfClient, c: &JamfComputer, report: &mut StepReport) -> Result<bool> {
    let answered = jamf
        .unmanage(&c.id)
        .with_context(|| format!("sending the unmanage command to Jamf Pro computer {}", c.id))?;
    let now = jamf.get(&c.id).with_context(|| {
        format!(
            "re-reading Jamf Pro computer {} after the unmanage command",
            c.id
        )
    })?;
    let (result, present) = match (answered, now) {
        (UnmanageOutcome::Accepted { command_uuid }, Some(_)) => {
            (ActionResult::Accepted { command_uuid }, true)
        }
        (UnmanageOutcome::NotFound, None) => (ActionResult::AlreadyGone, false),
        (UnmanageOutcome::Accepted { .. }, None) => bail!(
            "Jamf Pro accepted the unmanage command for computer {} but the record is gone now: whether the Mac got the command is unknown; check the Mac's MDM profile",
            c.id
        ),
        (UnmanageOutcome::NotFound, Some(_)) => bail!(
            "Jamf Pro answered INVALID_ID to the unmanage command for computer {}, yet the record is still there: the command was not sent",
            c.id
        ),
    };
    report.record(
        ActionKind::Unmanage,
        &c.id,
        c.name.as_ref(),
        c.serial.as_ref(),
        result,
    );
    Ok(present)
}

/// The record as it is now; refuses when the id now belongs to another Mac.
fn reread(jamf: &JamfClient, c: &JamfComputer) -> Result<Option<JamfComputer>> {
    let current = jamf
        .get(&c.id)
        .with_context(|| format!("re-reading Jamf Pro computer {} before deleting it", c.id))?;
    if let Some(now) = &current {
        if now.serial.is_some() && now.serial != c.serial {
            bail!(
                "Jamf Pro computer {} now has serial {:?}, not {:?} as planned; not deleting it, plan again",
                c.id,
                now.serial.as_deref().unwrap_or(""),
                c.serial.as_deref().unwrap_or("")
            );
        }
    }
    Ok(current)
}

fn check_multiple(plan: &JamfPlan, allow_multiple: bool) -> Result<()> {
    if plan.needs_allow_multiple && !allow_multiple {
        bail!(
            "{} Jamf Pro computers have serial {} ({}); check them in Jamf Pro, then confirm with --allow-multiple; nothing was changed",
            plan.computers.len(),
            plan.serial,
            plan.computers
                .iter()
                .map(|c| format!("id {}", c.id))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Ok(())
}
