//! `reenroll server cleanup`: the server steps for one Mac without a playbook run, e.g. from an
//! admin's workstation for a Mac too broken to run anything. Plan first (GET requests only) and
//! show it, then confirm, apply in the safe order and report.

use anyhow::{Context, Result};
use serde::Serialize;

use crate::engine::Ctx;
use crate::error;
use crate::output::Printer;
use crate::server::creds::{DEFAULT_CREDENTIALS_PATH, ENV_VARS};
use crate::server::http::ClientOptions;
use crate::server::{
    self, ApplyOptions, Clients, Credentials, ServerPlan, ServerReport, ServerTarget,
};

/// What the admin asked for (resolved from the command line by `app`).
pub struct Request {
    /// The Mac's serial number.
    pub serial: String,
    /// Entra device ids (each may hold several, comma-separated).
    pub device_ids: Vec<String>,
    pub computer_name: Option<String>,
    /// Delete every match where one is expected.
    pub allow_multiple: bool,
    /// Intune records of every management agent, not only the Jamf partnership's.
    pub all_agents: bool,
    /// Do not ask for confirmation.
    pub yes: bool,
    /// One JSON document instead of lines.
    pub json: bool,
}

#[derive(Serialize)]
struct CleanupJson<'a> {
    plan: &'a ServerPlan,
    applied: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    report: Option<&'a ServerReport>,
    /// When the last Intune deletion was accepted: wait the settle period from then.
    #[serde(skip_serializing_if = "Option::is_none")]
    settle_start: Option<String>,
}

pub fn cleanup(ctx: &Ctx, a: &Request) -> Result<i32> {
    let serial = a.serial.trim().to_string();
    if serial.is_empty() {
        return Err(error::invalid("--serial: give the Mac's serial number"));
    }
    // A credentials file others can read is refused (exit 4) with the chmod to fix it.
    let creds = Credentials::load(&ctx.device).map_err(|e| error::refused(format!("{e:#}")))?;
    if creds.is_empty() {
        return Err(error::refused(format!(
            "no API credentials: write {} (mode 0600, see docs/server.md) or set {}",
            ctx.device
                .host_path(DEFAULT_CREDENTIALS_PATH)
                .map(|p| p.display().to_string())
                .unwrap_or_else(|_| DEFAULT_CREDENTIALS_PATH.to_string()),
            ENV_VARS
                .iter()
                .map(|v| v.name)
                .filter(|n| !n.ends_with("_URL") || *n == "REENROLL_JAMF_URL")
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let clients = Clients::from_credentials(&creds, &ClientOptions::default());
    let target = ServerTarget {
        serial: serial.clone(),
        entra_device_ids: a
            .device_ids
            .iter()
            .flat_map(|d| d.split(','))
            .map(|d| d.trim().to_string())
            .filter(|d| !d.is_empty())
            .collect(),
        computer_name: a.computer_name.clone(),
        intune_all_agents: a.all_agents,
    };
    let plan = server::plan(&clients, &target)
        .context("looking up the server records (GET requests only; nothing was changed)")?;
    let printer = Printer::new(a.json);
    let json = |report: Option<&ServerReport>| -> Result<()> {
        if a.json {
            printer.json(&CleanupJson {
                plan: &plan,
                applied: report.is_some(),
                report,
                settle_start: report
                    .and_then(ServerReport::intune_settle_start)
                    .map(|t| humantime::format_rfc3339_seconds(t).to_string()),
            })?;
        }
        Ok(())
    };
    printer.line(&format!("Server records of serial {serial}:"));
    for l in plan.describe() {
        printer.line(&format!("  {l}"));
    }
    if !plan.has_deletions() {
        json(None)?;
        printer.line("nothing to delete");
        return Ok(error::OK);
    }
    if plan.needs_allow_multiple() && !a.allow_multiple {
        json(None)?;
        return Err(error::refused(
            "more than one match where one is expected (listed above); check them in the consoles, then run again with --allow-multiple to delete them all; nothing was deleted",
        ));
    }
    if !a.yes
        && !crate::ask::confirm(
            "Delete the records marked `delete`? This cannot be undone (deleted Entra devices stay restorable for 30 days)",
        )?
    {
        json(None)?;
        printer.line("nothing was deleted");
        return Ok(error::REFUSED);
    }
    let report = server::apply(
        &clients,
        &plan,
        &ApplyOptions {
            allow_multiple: a.allow_multiple,
            ..Default::default()
        },
    )
    .context("deleting the server records")?;
    for step in [&report.jamf, &report.entra, &report.intune]
        .into_iter()
        .flatten()
    {
        for action in &step.actions {
            printer.line(&format!("  {}", action.describe(step.system)));
        }
        for note in &step.notes {
            printer.line(&format!("  {note}"));
        }
    }
    if let Some(t) = report.intune_settle_start() {
        printer.line(&format!(
            "the last Intune deletion was accepted at {}: wait at least 30 minutes from then before re-enrolling the Mac",
            humantime::format_rfc3339_seconds(t)
        ));
    }
    json(Some(&report))?;
    Ok(error::OK)
}
