//! The hand-off to the LaunchDaemon: a Jamf policy schedules the run instead of executing it
//! (`jamf removeFramework` would kill the policy's own process, and a restart loses its log).

use super::*;

/// Create a run and hand it to the LaunchDaemon instead of executing it here (a Jamf policy:
/// `jamf removeFramework` would kill the policy's own process, and a restart loses its log).
/// Returns the run id; the caller starts the daemon once the lock is released.
#[allow(clippy::too_many_arguments)]
pub fn schedule(
    ctx: &Ctx,
    pb: Playbook,
    vars: BTreeMap<String, String>,
    sources: BTreeMap<String, String>,
    options: BTreeMap<String, String>,
    confirms: &[String],
    credentials: Option<&StagedCredentials>,
    printer: &Printer,
) -> Result<String> {
    let lock = take_lock(ctx)?;
    refuse_if_unfinished(
        ctx,
        &pb.name,
        "resume it (action=resume) or roll it back (action=rollback)",
    )?;
    check_confirms(&pb, confirms, "confirm=", "the new run")?;
    let mut runner = Runner::create(ctx, lock, pb, vars, sources, options, printer)?;
    tracing::info!(run = %runner.run_id, playbook = %runner.pb.name, "run scheduled for the LaunchDaemon");
    for w in runner.pb.below_advised(&runner.vars) {
        tracing::warn!(run = %runner.run_id, "{w}");
    }
    runner.current_step = "handoff".into();
    if let Some(staged) = credentials {
        runner.adopt_credentials(staged)?;
    }
    // Steps the admin did ahead (e.g. the server steps, centrally): recorded before any step.
    for c in confirms {
        runner.append(Record::Confirmed {
            step: c.clone(),
            at: now_rfc3339(),
        })?;
    }
    runner.hand_to_daemon()?;
    Ok(runner.run_id.clone())
}

/// Record confirmations for the newest resumable run and hand it to the LaunchDaemon again,
/// with the credentials the policy passed (they replace the run's own).
pub fn confirm_and_hand_off(
    ctx: &Ctx,
    confirms: &[String],
    credentials: Option<&StagedCredentials>,
    printer: &Printer,
) -> Result<String> {
    let lock = take_lock(ctx)?;
    let (view, _, records) = find_run(ctx, None, |s| s.resumable(), "resume")?;
    let Frozen { pb, vars, options } = frozen(&view, &records)?;
    check_confirms(&pb, confirms, "confirm=", &view.id)?;
    let mut runner = Runner::open(ctx, lock, pb, &view.id, records, vars, options, printer)?;
    runner.current_step = "handoff".into();
    if let Some(staged) = credentials {
        runner.adopt_credentials(staged)?;
    }
    for c in confirms {
        runner.append(Record::Confirmed {
            step: c.clone(),
            at: now_rfc3339(),
        })?;
        printer.line(&format!("recorded: the operator did `{c}`"));
    }
    runner.hand_to_daemon()?;
    Ok(runner.run_id.clone())
}

impl Runner<'_> {
    fn hand_to_daemon(&mut self) -> Result<()> {
        let setup = crate::action::reboot::prepare_daemon(
            &self.ctx.device,
            &self.ctx.state.path,
            &self.run_id,
        )?;
        crate::action::reboot::install_daemon(&setup, self)?;
        self.append(Record::Paused {
            step: None,
            reason: format!(
                "handed to the LaunchDaemon {}; follow it in {} or with `reenroll status`",
                crate::action::reboot::LABEL,
                crate::device::LOG_FILE
            ),
            at: now_rfc3339(),
            until: None,
        })
    }
}
