//! `reenroll server cleanup`: the server steps for one Mac without a playbook run, e.g. from an
//! admin's workstation for a Mac too broken to run anything. Plan first (GET requests only) and
//! show it, then confirm, apply in the safe order and report.

use anyhow::{Context, Result};
use serde::Serialize;

use super::creds::{DEFAULT_CREDENTIALS_PATH, ENV_VARS};
use super::http::ClientOptions;
use super::{ApplyOptions, Clients, Credentials, ServerPlan, ServerReport, ServerTarget};
use crate::cli::ServerCleanupArgs;
use crate::engine::{self, Ctx};
use crate::error;
use crate::report::Printer;

/// Where the credentials come from, for `--help` (generated from `ENV_VARS`).
pub fn credentials_help() -> String {
    let mut s = format!(
        "Credentials (never on the command line): the file {DEFAULT_CREDENTIALS_PATH} \
         (mode 0600; inside DIR with --root DIR), or these environment variables, which win over the file:\n"
    );
    for v in ENV_VARS {
        s.push_str(&format!("  {:<30} {}\n", v.name, v.description));
    }
    s.push_str("Exit codes: 0 done (or nothing to delete), 1 a request failed, 2 invalid, 4 refused (no credentials, a credentials file others can read, several matches without --allow-multiple)");
    s
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

pub fn cleanup(ctx: &Ctx, a: &ServerCleanupArgs) -> Result<i32> {
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
    let plan = super::plan(&clients, &target)
        .context("looking up the server records (GET requests only; nothing was changed)")?;
    let printer = Printer::new(a.json);
    let json = |report: Option<&ServerReport>| {
        if a.json {
            printer.json(&CleanupJson {
                plan: &plan,
                applied: report.is_some(),
                report,
                settle_start: report
                    .and_then(ServerReport::intune_settle_start)
                    .map(|t| humantime::format_rfc3339_seconds(t).to_string()),
            });
        }
    };
    printer.line(&format!("Server records of serial {serial}:"));
    for l in plan.describe() {
        printer.line(&format!("  {l}"));
    }
    if !plan.has_deletions() {
        json(None);
        printer.line("nothing to delete");
        return Ok(error::OK);
    }
    if plan.needs_allow_multiple() && !a.allow_multiple {
        json(None);
        return Err(error::refused(
            "more than one match where one is expected (listed above); check them in the consoles, then run again with --allow-multiple to delete them all; nothing was deleted",
        ));
    }
    if !a.yes
        && !engine::confirm(
            "Delete the records marked `delete`? This cannot be undone (deleted Entra devices stay restorable for 30 days)",
        )?
    {
        json(None);
        printer.line("nothing was deleted");
        return Ok(error::OK);
    }
    let report = super::apply(
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
    json(Some(&report));
    Ok(error::OK)
}
