//! Step 11: every Intune record of the Mac. Only records the Jamf partnership created
//! (`managementAgent == "jamf"`) are deleted unless the target allows all agents: a record
//! Intune enrolled itself belongs to another workflow and is shown, not touched.

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use super::{ActionKind, ActionResult, PlannedRecord, ServerTarget, StepReport, System};
use crate::server::graph::{GraphClient, IntuneDevice};
use crate::server::DeleteOutcome;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntunePlan {
    pub serial: String,
    pub all_agents: bool,
    pub delete: Vec<IntuneDevice>,
    /// Found with the serial but managed by another agent: left alone.
    pub keep: Vec<IntuneDevice>,
    pub warnings: Vec<String>,
}

impl IntunePlan {
    pub fn records(&self) -> Vec<PlannedRecord> {
        let rec = |d: &IntuneDevice, delete: bool| PlannedRecord {
            system: System::Intune,
            delete,
            id: d.id.clone(),
            name: d.device_name.clone(),
            serial: d.serial.clone(),
            enrolled: d.enrolled.clone(),
            last_sync: d.last_sync.clone(),
            note: Some(if delete {
                format!("managed by {}", agent(d))
            } else {
                format!("not deleted: managed by {}", agent(d))
            }),
        };
        let mut out: Vec<PlannedRecord> = self.delete.iter().map(|d| rec(d, true)).collect();
        out.extend(self.keep.iter().map(|d| rec(d, false)));
        out
    }

    /// One plan per record to delete, in order: each request acts on exactly one record.
    pub fn each(&self) -> Vec<IntunePlan> {
        self.delete
            .iter()
            .map(|d| IntunePlan {
                serial: self.serial.clone(),
                all_agents: self.all_agents,
                delete: vec![d.clone()],
                keep: Vec::new(),
                warnings: Vec::new(),
            })
            .collect()
    }
}

fn agent(d: &IntuneDevice) -> &str {
    d.management_agent.as_deref().unwrap_or("an unknown agent")
}

fn deletable(d: &IntuneDevice, all_agents: bool) -> bool {
    all_agents || d.is_jamf_partnership()
}

/// Looks the serial up (GET only).
pub fn preview(graph: &GraphClient, target: &ServerTarget) -> Result<IntunePlan> {
    let found = graph
        .intune_devices_by_serial(&target.serial)
        .with_context(|| format!("looking up serial {} in Intune", target.serial))?;
    let mut warnings = Vec::new();
    let (delete, keep): (Vec<IntuneDevice>, Vec<IntuneDevice>) = found
        .into_iter()
        .partition(|d| deletable(d, target.intune_all_agents));
    if !keep.is_empty() {
        warnings.push(format!(
            "{} Intune record(s) of serial {} are not from the Jamf partnership and are left alone (allow all agents to delete them too)",
            keep.len(),
            target.serial
        ));
    }
    if !target.entra_device_ids.is_empty() {
        for d in &delete {
            if let Some(aad) = d
                .azure_ad_device_id
                .as_ref()
                .filter(|a| !a.is_empty() && !target.entra_device_ids.contains(a))
            {
                warnings.push(format!(
                    "Intune record {} is tied to Entra device id {aad}, which preflight did not find on this Mac",
                    d.id
                ));
            }
        }
    }
    Ok(IntunePlan {
        serial: target.serial.clone(),
        all_agents: target.intune_all_agents,
        delete,
        keep,
        warnings,
    })
}

/// Deletes every planned record, re-reading each first. The report's
/// `last_deletion_accepted` is when the settle period starts.
pub fn apply(graph: &GraphClient, plan: &IntunePlan) -> Result<StepReport> {
    let mut report = StepReport::new(System::Intune);
    for d in &plan.keep {
        report.notes.push(format!(
            "Intune record {} not deleted: managed by {}",
            d.id,
            agent(d)
        ));
    }
    for d in &plan.delete {
        delete_one(graph, plan, d, &mut report).with_context(|| report.summary())?;
    }
    Ok(report)
}

fn delete_one(
    graph: &GraphClient,
    plan: &IntunePlan,
    d: &IntuneDevice,
    report: &mut StepReport,
) -> Result<()> {
    let current = graph
        .intune_device(&d.id)
        .with_context(|| format!("re-reading Intune record {} before deleting it", d.id))?;
    let result = match current {
        None => ActionResult::AlreadyGone,
        Some(now) if now.serial.is_some() && now.serial != d.serial => bail!(
            "Intune record {} now has serial {:?}, not {:?} as planned; not deleting it, plan again",
            d.id,
            now.serial.as_deref().unwrap_or(""),
            d.serial.as_deref().unwrap_or("")
        ),
        Some(now) if !deletable(&now, plan.all_agents) => {
            report.notes.push(format!(
                "Intune record {} not deleted: it is now managed by {}",
                d.id,
                agent(&now)
            ));
            return Ok(());
        }
        Some(_) => match graph
            .delete_intune_device(&d.id)
            .with_context(|| format!("deleting Intune record {}", d.id))?
        {
            DeleteOutcome::Deleted => ActionResult::Deleted,
            DeleteOutcome::AlreadyGone => ActionResult::AlreadyGone,
        },
    };
    report.record(
        ActionKind::Delete,
        &d.id,
        d.device_name.as_ref(),
        d.serial.as_ref(),
        result,
    );
    Ok(())
}
