//! Step 5: the Mac's Entra ID device object(s), found by the device ids read in preflight.
//! Deleted devices stay restorable in Entra for 30 days.

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use super::{ActionKind, ActionResult, PlannedRecord, ServerTarget, StepReport, System};
use crate::server::graph::{EntraDevice, GraphClient};
use crate::server::DeleteOutcome;

/// The devices found for one device id (one is expected).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntraLookup {
    pub device_id: String,
    pub matches: Vec<EntraDevice>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntraPlan {
    pub lookups: Vec<EntraLookup>,
    /// Some device id matched more than one object: only with `allow_multiple`.
    pub needs_allow_multiple: bool,
    pub warnings: Vec<String>,
}

impl EntraPlan {
    pub fn records(&self) -> Vec<PlannedRecord> {
        self.lookups
            .iter()
            .flat_map(|l| l.matches.iter())
            .map(|d| PlannedRecord {
                system: System::Entra,
                delete: true,
                id: d.id.clone(),
                name: d.display_name.clone(),
                serial: None,
                enrolled: d.registered.clone(),
                last_sync: d.last_sign_in.clone(),
                note: d.device_id.as_ref().map(|id| format!("device id {id}")),
            })
            .collect()
    }

    /// One plan per matching device, in order: each request acts on exactly one record.
    pub fn each(&self) -> Vec<EntraPlan> {
        self.lookups
            .iter()
            .flat_map(|l| {
                l.matches.iter().map(|d| EntraPlan {
                    lookups: vec![EntraLookup {
                        device_id: l.device_id.clone(),
                        matches: vec![d.clone()],
                    }],
                    needs_allow_multiple: false,
                    warnings: Vec::new(),
                })
            })
            .collect()
    }
}

/// Looks every device id up (GET only).
pub fn preview(graph: &GraphClient, target: &ServerTarget) -> Result<EntraPlan> {
    let mut ids: Vec<&String> = target.entra_device_ids.iter().collect();
    ids.sort();
    ids.dedup();
    let mut lookups = Vec::new();
    let mut warnings = Vec::new();
    for id in ids {
        let matches = graph
            .entra_devices_by_device_id(id)
            .with_context(|| format!("looking up Entra device id {id}"))?;
        match matches.len() {
            0 => warnings.push(format!(
                "Entra ID has no device with device id {id} (already deleted?)"
            )),
            1 => {}
            n => warnings.push(format!(
                "{n} Entra devices have device id {id}: deleting them all needs --allow-multiple"
            )),
        }
        lookups.push(EntraLookup {
            device_id: id.clone(),
            matches,
        });
    }
    Ok(EntraPlan {
        needs_allow_multiple: lookups.iter().any(|l| l.matches.len() > 1),
        lookups,
        warnings,
    })
}

/// Deletes every planned device, re-reading each first.
pub fn apply(graph: &GraphClient, plan: &EntraPlan, allow_multiple: bool) -> Result<StepReport> {
    if plan.needs_allow_multiple && !allow_multiple {
        let which: Vec<String> = plan
            .lookups
            .iter()
            .filter(|l| l.matches.len() > 1)
            .map(|l| format!("{} devices with device id {}", l.matches.len(), l.device_id))
            .collect();
        bail!(
            "Entra ID has {}; check them in the Entra admin center, then confirm with --allow-multiple; nothing was deleted",
            which.join(", ")
        );
    }
    let mut report = StepReport::new(System::Entra);
    for l in &plan.lookups {
        for d in &l.matches {
            delete_one(graph, d, &mut report).with_context(|| report.summary())?;
        }
    }
    Ok(report)
}

fn delete_one(graph: &GraphClient, d: &EntraDevice, report: &mut StepReport) -> Result<()> {
    let current = graph
        .entra_device(&d.id)
        .with_context(|| format!("re-reading Entra device {} before deleting it", d.id))?;
    let result = match current {
        None => ActionResult::AlreadyGone,
        Some(now) if now.device_id.is_some() && now.device_id != d.device_id => bail!(
            "Entra device {} now has device id {:?}, not {:?} as planned; not deleting it, plan again",
            d.id,
            now.device_id.as_deref().unwrap_or(""),
            d.device_id.as_deref().unwrap_or("")
        ),
        Some(_) => match graph
            .delete_entra_device(&d.id)
            .with_context(|| format!("deleting Entra device {}", d.id))?
        {
            DeleteOutcome::Deleted => ActionResult::Deleted,
            DeleteOutcome::AlreadyGone => ActionResult::AlreadyGone,
        },
    };
    report.record(
        ActionKind::Delete,
        &d.id,
        d.display_name.as_ref(),
        None,
        result,
    );
    Ok(())
}
