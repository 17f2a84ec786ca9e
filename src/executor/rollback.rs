//! Rollback: undo, newest first, every reversible change of a run; and its preview (what it
//! would restore, what it cannot, and whether it should not be done at all).

use super::*;

#[derive(Serialize, Default)]
pub struct RollbackReport {
    pub run: String,
    pub restored: Vec<String>,
    pub already_back: Vec<String>,
    pub failures: Vec<String>,
    pub irreversible: Vec<String>,
    /// Set when the run was rolled back before: when that rollback ended (nothing was done).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub already_rolled_back: Option<String>,
    /// How the device is managed after the rollback, looked at on the device.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_state: Option<EndState>,
}

/// What `rollback` was asked besides undoing.
#[derive(Default, Clone, Copy)]
pub struct RollbackOptions {
    /// Roll back a run that got past re-enrollment (a `channel = "restores"` step is done).
    pub even_after_reregistration: bool,
}

/// What a rollback of a run would do, read from its journal; changes nothing.
#[derive(Serialize, Default)]
pub struct RollbackPreview {
    pub run: String,
    pub playbook: String,
    pub state: String,
    pub started: String,
    /// Per step, newest first: what it would put back.
    pub steps: Vec<PreviewStep>,
    /// `STEP: what (why)`: what stays undone.
    pub irreversible: Vec<String>,
    /// The done step that re-enrolled the Mac (`channel = "restores"`): rolling back would put
    /// the old registration's keychain items back onto a freshly registered Mac.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reregistered_by: Option<String>,
    /// Set when the run was rolled back before: when that rollback ended.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub already_rolled_back: Option<String>,
    /// The Jamf Pro URL the run found (`jss_url`, ending in `/`), to enroll again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jss_url: Option<String>,
    /// Whether the run found the Mac enrolled through Automated Device Enrollment.
    pub ade: bool,
}

#[derive(Serialize, Default)]
pub struct PreviewStep {
    pub id: String,
    pub title: String,
    /// Paths moved back from the quarantine.
    pub files: usize,
    /// Keychain items added back from their exports.
    pub keychain_items: usize,
    /// Files the run created, removed again (the LaunchDaemon).
    pub created: usize,
    pub irreversible: usize,
}

/// The device after a rollback, looked at rather than assumed.
#[derive(Serialize, Default, Clone)]
pub struct EndState {
    /// `/usr/local/jamf/bin/jamf` is present.
    pub framework: bool,
    /// The Jamf MDM profile is installed (`None`: `profiles` could not tell).
    pub mdm_profile: Option<bool>,
    pub jss_url: Option<String>,
    pub ade: bool,
}

impl EndState {
    /// Whether Jamf Pro has lost this Mac (no framework, or no MDM profile).
    pub fn unmanaged(&self) -> bool {
        !self.framework || self.mdm_profile == Some(false)
    }
}

/// The run a rollback without a run id acts on: the newest run (a rolled-back one is reported
/// as such, never passed over for an older run).
fn pick(ctx: &Ctx, id: Option<&str>) -> Result<(RunView, RunState, Vec<Record>)> {
    super::damage::refuse_damaged(ctx, id)?;
    find_run(ctx, id, |_| true, "roll back")
}

/// When the newest rollback of the run ended.
fn rolled_back_at(records: &[Record]) -> String {
    records
        .iter()
        .rev()
        .find_map(|r| match r {
            Record::RollbackEnd { at, .. } => Some(at.clone()),
            _ => None,
        })
        .unwrap_or_default()
}

/// What a rollback of the run would do. Refuses (exit 4) a run that is running or whose
/// quarantine was purged; a run past re-enrollment is reported (`reregistered_by`), the
/// caller decides.
fn examine(
    view: &RunView,
    state: RunState,
    records: &[Record],
    pb: &Playbook,
) -> Result<RollbackPreview> {
    let fact = |k: &str| view.facts.get(k);
    let mut p = RollbackPreview {
        run: view.id.clone(),
        playbook: view.playbook.clone(),
        state: state.as_str().to_string(),
        started: view.started.clone(),
        jss_url: fact("jss_url")
            .and_then(|v| v.as_str())
            .filter(|s| !s.is_empty())
            .map(str::to_string),
        ade: fact("ade").and_then(|v| v.as_bool()).unwrap_or(false),
        ..Default::default()
    };
    if state == RunState::RolledBack {
        p.already_rolled_back = Some(rolled_back_at(records));
        return Ok(p);
    }
    if matches!(state, RunState::Running | RunState::Deferred) {
        return Err(error::refused(format!(
            "run {} is running; wait for it or stop it first",
            view.id
        )));
    }
    let pending: Vec<_> = view.applied.iter().filter(|a| !a.restored).collect();
    if let Some(at) = view.notes.get("purged") {
        let owed = pending
            .iter()
            .filter(|a| matches!(a.undo, Undo::Restore { .. } | Undo::AddKeychainItem { .. }))
            .count();
        if owed > 0 {
            return Err(error::refused(format!(
                "run {} cannot be rolled back: its quarantine and exported keychain items were deleted by `reenroll purge` on {at}, so the {owed} change{} it made cannot be put back; nothing was changed",
                view.id,
                if owed == 1 { "" } else { "s" }
            )));
        }
    }
    // Once a rollback has started, that decision was made: its retry is not refused again.
    p.reregistered_by = super::reenrolled_by(pb, view)
        .filter(|_| !view.rollback_started)
        .map(str::to_string);
    for a in pending.iter().rev() {
        let i = match p.steps.iter().position(|s| s.id == a.step) {
            Some(i) => i,
            None => {
                p.steps.push(PreviewStep {
                    id: a.step.clone(),
                    title: pb
                        .step(&a.step)
                        .map(|s| s.title.clone())
                        .unwrap_or_default(),
                    ..Default::default()
                });
                p.steps.len() - 1
            }
        };
        let s = &mut p.steps[i];
        match &a.undo {
            Undo::Restore { .. } => s.files += 1,
            Undo::AddKeychainItem { .. } => s.keychain_items += 1,
            Undo::RemoveCreated { .. } => s.created += 1,
            Undo::Irreversible { what, why } => {
                s.irreversible += 1;
                p.irreversible.push(format!("{}: {what} ({why})", a.step));
            }
        }
    }
    Ok(p)
}

/// What `rollback` would do to a run (the newest without an id); changes nothing, takes no lock.
pub fn preview(ctx: &Ctx, id: Option<&str>) -> Result<RollbackPreview> {
    // Read-only: each program's answer is asked once (`Ctx::read_only`).
    let look = ctx.read_only();
    let ctx = &look;
    let (view, state, records) = pick(ctx, id)?;
    let Frozen { pb, .. } = frozen(&view, &records)?;
    examine(&view, state, &records, &pb)
}

/// What a rollback after re-enrollment leaves out, said before it starts (the caller shows the
/// preview first): the old registration's keychain items stay out unless asked for.
pub fn reregistered_warning(p: &RollbackPreview) -> Option<String> {
    let step = p.reregistered_by.as_ref()?;
    Some(format!(
        "run {} got past re-enrollment (step `{step}` is done): this Mac is registered again, so the old registration's keychain items are not put back (that would recreate the duplicate registration the run removed); files and the app are. `--even-after-reregistration` puts the keychain items back too",
        p.run
    ))
}

/// Look at how the device is managed: the Jamf framework, the Jamf MDM profile.
fn end_state(ctx: &Ctx, p: &RollbackPreview) -> EndState {
    let framework = ctx
        .device
        .host_path(crate::action::facts::JAMF_BINARY)
        .is_ok_and(|h| h.exists());
    let mdm_profile = if ctx.device.has_program("/usr/bin/profiles") {
        ctx.device
            .run(
                "/usr/bin/profiles",
                &["list".to_string()],
                &crate::device::RunOpts::default(),
            )
            .ok()
            .filter(|o| o.success())
            .map(|o| {
                o.stdout
                    .contains(crate::action::facts::JAMF_MDM_PROFILE_UUID)
            })
    } else {
        None
    };
    EndState {
        framework,
        mdm_profile,
        jss_url: p.jss_url.clone(),
        ade: p.ade,
    }
}

/// The note that says a rollback leaves the old registration's keychain items out (the run got
/// past re-enrollment): its value names the step that re-enrolled the Mac.
const KEYCHAIN_KEPT_OUT: &str = "rollback:keychain-kept-out";

/// Undo, newest first, every reversible change of a run.
pub fn rollback(
    ctx: &Ctx,
    id: Option<&str>,
    opts: RollbackOptions,
    printer: &Printer,
) -> Result<RollbackReport> {
    let lock = take_lock(ctx)?;
    let (view, state, records) = pick(ctx, id)?;
    super::damage::refuse_unexplained(ctx, &view.id)?;
    let run_dir = ctx.state.run_dir(&view.id);
    let Frozen { pb, vars, .. } = frozen(&view, &records)?;
    let preview = examine(&view, state, &records, &pb)?;
    if let Some(at) = preview.already_rolled_back {
        return Ok(RollbackReport {
            run: view.id.clone(),
            already_rolled_back: Some(at),
            ..Default::default()
        });
    }
    // Past re-enrollment the old registration's keychain items stay out (putting them back
    // would recreate the duplicate registration); files and the app come back as usual.
    // The decision is journaled before the rollback starts, so a retry after a crash keeps it.
    let keep_keychain_out = !opts.even_after_reregistration
        && (preview.reregistered_by.is_some() || view.notes.contains_key(KEYCHAIN_KEPT_OUT));
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
    if keep_keychain_out && !runner.view.notes.contains_key(KEYCHAIN_KEPT_OUT) {
        runner.append(Record::Note {
            key: KEYCHAIN_KEPT_OUT.into(),
            value: preview.reregistered_by.clone().unwrap_or_default(),
        })?;
    }
    runner.append(Record::RollbackStart { at: now_rfc3339() })?;
    // A rolled-back run does no server step again: its own credentials go at once.
    runner.forget_credentials();
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
            Undo::AddKeychainItem { location, item, .. } if keep_keychain_out => {
                report.irreversible.push(format!(
                    "{}: {} in {} (not put back: the Mac is registered again; `--even-after-reregistration` puts the old registration's keychain items back)",
                    a.step,
                    item.describe(),
                    location.describe()
                ));
                continue;
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
                    tracing::error!(target: crate::output::SHOWN, run = %runner.run_id, %step, "rollback: {e:#}");
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
    report.end_state = Some(end_state(ctx, &preview));
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
