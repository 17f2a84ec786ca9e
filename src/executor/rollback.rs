//! Rollback: undo, newest first, every reversible change of a run.

use super::*;

#[derive(Serialize, Default)]
pub struct RollbackReport {
    pub run: String,
    pub restored: Vec<String>,
    pub already_back: Vec<String>,
    pub failures: Vec<String>,
    pub irreversible: Vec<String>,
}

/// Undo, newest first, every reversible change of a run.
pub fn rollback(ctx: &Ctx, id: Option<&str>, printer: &Printer) -> Result<RollbackReport> {
    let lock = take_lock(ctx)?;
    super::damage::refuse_damaged(ctx, id)?;
    let (view, state, records) = find_run(ctx, id, |s| s != RunState::RolledBack, "roll back")?;
    super::damage::refuse_unexplained(ctx, &view.id)?;
    if state == RunState::Running {
        return Err(error::refused(format!(
            "run {} is running; wait for it or stop it first",
            view.id
        )));
    }
    let run_dir = ctx.state.run_dir(&view.id);
    let Frozen { pb, vars, .. } = frozen(&view, &records)?;
    let mut runner = Runner::open(
        ctx,
        lock,
        pb,
        &view.id,
        records,
        vars,
        BTreeMap::new(),
        printer,
    )?;
    runner.reconcile()?;
    runner.append(Record::RollbackStart { at: now_rfc3339() })?;
    cancel_pending_restart(ctx, &runner.view, printer);
    printer.line(&format!(
        "rolling back run {} of {}",
        runner.run_id, runner.pb.name
    ));
    let mut report = RollbackReport {
        run: runner.run_id.clone(),
        ..Default::default()
    };
    // Intents the reconciliation could not close (a keychain it could not reach): whether the
    // delete happened is unknown, so the run still owes the item if it did.
    for (step, _, change) in &runner.view.dangling {
        if let Change::Delete {
            location,
            item,
            export,
        } = change
        {
            let what = format!("{} in {}", item.describe(), location.describe());
            if export.is_some() {
                let why = format!("cannot tell whether {what} was deleted before the interruption: the keychain cannot be reached; its export is kept");
                printer.step("failed", step, &why);
                report.failures.push(format!("{step}: {why}"));
            } else {
                report.irreversible.push(format!(
                    "{step}: {what} (it may have been deleted, and it could not be exported)"
                ));
            }
        }
    }
    let applied: Vec<_> = runner
        .view
        .applied
        .iter()
        .filter(|a| !a.restored)
        .cloned()
        .collect();
    let mut keychains_done: Vec<crate::keychain::KeychainLocation> = Vec::new();
    for (i, a) in applied.iter().rev().enumerate() {
        fault::point(&format!("rollback-after:{i}"));
        let results: Vec<(String, u64, Result<String>)> = match &a.undo {
            Undo::Restore { target, qname, .. } => {
                vec![(
                    a.step.clone(),
                    a.n,
                    action::remove::undo(&ctx.device, &run_dir, target, qname).map(|o| {
                        if o == "restored" {
                            target.clone()
                        } else {
                            format!("{o}: {target}")
                        }
                    }),
                )]
            }
            Undo::AddKeychainItem { location, .. } => {
                if keychains_done.contains(location) {
                    continue;
                }
                keychains_done.push(location.clone());
                // Every pending item of this keychain at once (copies of one identity count).
                let group: Vec<_> = applied
                    .iter()
                    .rev()
                    .filter_map(|b| match &b.undo {
                        Undo::AddKeychainItem {
                            location: l,
                            item,
                            export,
                        } if l == location => {
                            Some((b.step.clone(), b.n, item.clone(), export.clone()))
                        }
                        _ => None,
                    })
                    .collect();
                let items: Vec<_> = group
                    .iter()
                    .map(|(_, _, i, e)| (i.clone(), e.clone()))
                    .collect();
                group
                    .iter()
                    .zip(action::keychain_undo(
                        &ctx.device,
                        &run_dir,
                        location,
                        &items,
                    ))
                    .map(|((s, n, _, _), o)| (s.clone(), *n, o))
                    .collect()
            }
            Undo::RemoveCreated { target } => {
                vec![(a.step.clone(), a.n, remove_created(ctx, target))]
            }
            Undo::Irreversible { what, why } => {
                report
                    .irreversible
                    .push(format!("{}: {what} ({why})", a.step));
                continue;
            }
        };
        for (step, n, result) in results {
            match result {
                Ok(outcome) => {
                    runner.append(Record::Restored {
                        step: step.clone(),
                        n,
                        outcome: outcome.clone(),
                    })?;
                    let label = if outcome.starts_with("already") {
                        "already"
                    } else {
                        "restored"
                    };
                    printer.step(label, &step, &outcome);
                    if outcome.starts_with("already") {
                        report.already_back.push(outcome);
                    } else {
                        report.restored.push(outcome);
                    }
                }
                Err(e) => {
                    printer.step("failed", &step, &format!("{e:#}"));
                    tracing::error!(run = %runner.run_id, %step, "rollback: {e:#}");
                    report.failures.push(format!("{step}: {e:#}"));
                }
            }
        }
    }
    runner.append(Record::RollbackEnd {
        at: now_rfc3339(),
        failures: report.failures.clone(),
        irreversible: report.irreversible.clone(),
    })?;
    let state = runner.view.state(false);
    runner.finish_hooks(state);
    printer.line(&format!(
        "rollback of {}: {} restored, {} already back, {} could not be restored, {} cannot be undone",
        report.run,
        report.restored.len(),
        report.already_back.len(),
        report.failures.len(),
        report.irreversible.len()
    ));
    for f in &report.failures {
        printer.line(&format!("  could not restore: {f}"));
    }
    for i in &report.irreversible {
        printer.line(&format!("  cannot be undone: {i}"));
    }
    if !report.failures.is_empty() {
        tracing::warn!(run = %report.run, failures = report.failures.len(), "rollback incomplete");
        printer.line(&format!(
            "{}: the run stays open ({}) and keeps its quarantine and exported items; fix the causes above, then `{}` retries exactly those",
            incomplete_text(report.failures.len()),
            state.as_str(),
            ctx.device.hint(&format!("rollback {}", report.run))
        ));
    }
    Ok(report)
}

/// "rollback incomplete: 2 items not restored"
pub fn incomplete_text(n: usize) -> String {
    format!(
        "rollback incomplete: {n} item{} not restored",
        if n == 1 { "" } else { "s" }
    )
}

/// A restart the run scheduled that has not happened yet would interrupt the rollback: cancel it
/// (a scheduled `shutdown` waits in the background; `killall shutdown` ends it), best effort.
fn cancel_pending_restart(ctx: &Ctx, view: &RunView, printer: &Printer) {
    let Ok(now) = ctx.device.boot_session() else {
        return;
    };
    for (key, at) in view
        .notes
        .iter()
        .filter(|(k, _)| k.starts_with("reboot-at:"))
    {
        let step = &key["reboot-at:".len()..];
        if view.notes.get(&format!("boot-before:{step}")) != Some(&now) {
            continue; // that restart already happened
        }
        let out = ctx.device.run(
            "/usr/bin/killall",
            &["shutdown".to_string()],
            &crate::device::RunOpts::default(),
        );
        match out {
            Ok(o) if o.success() => printer.line(&format!("cancelled the restart scheduled for {at}")),
            _ => printer.line(&format!(
                "the restart scheduled for {at} could not be cancelled (no `shutdown` process found); if it is still pending, cancel it with `sudo killall shutdown`"
            )),
        }
    }
}

fn remove_created(ctx: &Ctx, target: &str) -> Result<String> {
    if target == crate::action::reboot::DAEMON_PLIST {
        // Our LaunchDaemon: unload it too (`launchctl bootout`), not just delete its file.
        let existed = ctx.device.host_path(target)?.exists();
        crate::action::reboot::remove_daemon(&ctx.device)?;
        return Ok(if existed {
            format!("removed {target} (and booted it out)")
        } else {
            format!("already gone: {target}")
        });
    }
    let host = ctx.device.host_path(target)?;
    match std::fs::remove_file(&host) {
        Ok(()) => Ok(format!("removed {target}")),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(format!("already gone: {target}")),
        Err(e) => Err(e).with_context(|| format!("removing {target}")),
    }
}
