//! The forward path: start a run, resume one, and the step loop with its reconciliation of
//! interrupted changes.

use super::*;

/// Start a new run of a playbook.
#[allow(clippy::too_many_arguments)]
pub fn run(
    ctx: &Ctx,
    pb: Playbook,
    vars: BTreeMap<String, String>,
    sources: BTreeMap<String, String>,
    options: BTreeMap<String, String>,
    confirms: &[String],
    prompt: Option<&dyn StepPrompt>,
    printer: &Printer,
) -> Result<Ended> {
    check_confirms(&pb, confirms, "--confirm", "the new run")?;
    let lock = take_lock(ctx)?;
    super::damage::mention_skipped(ctx, printer)?;
    refuse_if_unfinished(
        ctx,
        &pb.name,
        &format!(
            "continue it with `{}` or undo it with `{}`",
            ctx.device.hint("resume {id}"),
            ctx.device.hint("rollback {id}")
        ),
    )?;
    let mut runner = Runner::create(ctx, lock, pb, vars, sources, options, printer)?;
    tracing::info!(run = %runner.run_id, playbook = %runner.pb.name, "run started");
    printer.line(&format!(
        "run {}: playbook {} on {}",
        runner.run_id,
        runner.pb.name,
        crate::plan::describe_device(ctx)
    ));
    for w in runner.pb.below_advised(&runner.vars) {
        tracing::warn!(run = %runner.run_id, "{w}");
        printer.line(&format!("warning: {w}"));
    }
    for c in confirms {
        runner.append(Record::Confirmed {
            step: c.clone(),
            at: now_rfc3339(),
        })?;
        printer.line(&format!("recorded: the operator did or acknowledges `{c}`"));
    }
    runner.prompt = prompt;
    runner.created_here = true;
    runner.execute()
}

/// Find a run by id, or the newest one matching `pick`.
pub fn find_run(
    ctx: &Ctx,
    id: Option<&str>,
    pick: impl Fn(RunState) -> bool,
    what: &str,
) -> Result<(RunView, RunState, Vec<Record>)> {
    let runs = all_runs(ctx)?;
    match id {
        Some(id) => runs
            .into_iter()
            .find(|(v, _, _)| v.id == id)
            .ok_or_else(|| {
                error::invalid(format!(
                    "no run `{id}` in {} (see `reenroll status`)",
                    ctx.state.path.display()
                ))
            }),
        None => runs
            .into_iter()
            .rev()
            .find(|(_, s, _)| pick(*s))
            .ok_or_else(|| {
                error::refused(format!("there is no run to {what} (see `reenroll status`)"))
            }),
    }
}

/// Continue a paused, interrupted or failed run.
/// What `resume` was asked to do besides continuing.
#[derive(Default)]
pub struct ResumeOptions<'p> {
    pub confirms: Vec<String>,
    pub sets: Vec<String>,
    /// Options for this invocation only (`force`, `allow_multiple`), as `key = "true"`.
    pub flags: BTreeMap<String, String>,
    pub from_daemon: bool,
    /// `run --step`: asked before each step (the commands layer's terminal prompt).
    pub prompt: Option<&'p dyn StepPrompt>,
}

pub fn resume(
    ctx: &Ctx,
    id: Option<&str>,
    opts: &ResumeOptions,
    printer: &Printer,
) -> Result<Ended> {
    let ResumeOptions {
        confirms,
        sets,
        flags,
        from_daemon,
        prompt,
    } = opts;
    let (from_daemon, prompt) = (*from_daemon, *prompt);
    let lock = take_lock(ctx)?;
    let (view, state, records) = find_run(ctx, id, |s| s.resumable(), "resume")?;
    if view.rollback_started {
        // A rollback that was interrupted must never be carried forward again.
        if from_daemon {
            crate::action::reboot::remove_daemon(&ctx.device)?;
        }
        let how = if state == RunState::RollbackIncomplete {
            "is rollback-incomplete (its rollback could not put everything back)"
        } else {
            "was being rolled back when it stopped"
        };
        return Err(error::refused(format!(
            "run {} {how}: finish that with `reenroll rollback {}`; it cannot be resumed",
            view.id, view.id
        )));
    }
    if from_daemon && !state.resumable() {
        // A daemon left behind by a run that has ended: remove it and stop quietly, with any
        // credentials of the run a crash kept from being deleted at its end.
        crate::server::creds::delete_file(
            &ctx.state
                .run_dir(&view.id)
                .join(crate::server::creds::RUN_CREDENTIALS_FILE),
        )?;
        crate::action::reboot::remove_daemon(&ctx.device)?;
        printer.line(&format!(
            "run {} is {}; the LaunchDaemon removed itself",
            view.id,
            state.as_str()
        ));
        return Ok(Ended::Completed {
            exceptions: Vec::new(),
        });
    }
    if !state.resumable() {
        return Err(error::refused(format!(
            "run {} is {}: there is nothing to resume",
            view.id,
            state.as_str()
        )));
    }
    let Frozen { pb, vars, options } = frozen(&view, &records)?;
    check_confirms(&pb, confirms, "--confirm", &view.id)?;
    let mut vars = vars;
    let mut new_sets = Vec::new();
    for s in sets {
        let (k, v) = s
            .split_once('=')
            .ok_or_else(|| error::invalid(format!("--set {s}: expected KEY=VALUE")))?;
        match pb.vars.get(k) {
            Some(def) if def.timer => {
                if v.trim().parse::<f64>().is_err() {
                    return Err(error::invalid(format!("--set {k}={v}: `{k}` is a number of minutes")));
                }
                new_sets.push((k.to_string(), v.to_string()));
            }
            Some(_) => {
                return Err(error::invalid(format!(
                    "--set {k}: the variables were frozen when run {} started; only timer variables can change on resume",
                    view.id
                )))
            }
            None => return Err(error::invalid(format!("--set {k}: playbook `{}` has no variable `{k}`", pb.name))),
        }
    }
    let mut options = options;
    // Flags given to this resume (--force, --allow-multiple) hold for this invocation only.
    options.extend(flags.clone());
    for (k, v) in view
        .notes
        .iter()
        .filter_map(|(k, v)| k.strip_prefix("set:").map(|k| (k.to_string(), v.clone())))
    {
        vars.insert(k, v);
    }
    // The timers with this resume's values, before anything is recorded (exit 2).
    let mut with_sets = vars.clone();
    let mut sources: BTreeMap<String, String> = BTreeMap::new();
    for (k, v) in &new_sets {
        with_sets.insert(k.clone(), v.clone());
        sources.insert(k.clone(), "resume --set".into());
    }
    if !new_sets.is_empty() {
        crate::settings::check_timers(&pb, &with_sets, &sources)?;
    }
    let mut runner = Runner::open(ctx, lock, pb, &view.id, records, vars, options, printer)?;
    for (k, v) in new_sets {
        runner.append(Record::Note {
            key: format!("set:{k}"),
            value: v.clone(),
        })?;
        runner.vars.insert(k.clone(), v.clone());
        printer.line(&format!("{k} set to {v} for the rest of this run"));
    }
    for c in confirms {
        runner.append(Record::Confirmed {
            step: c.clone(),
            at: now_rfc3339(),
        })?;
        printer.line(&format!("recorded: the operator did `{c}`"));
    }
    if from_daemon {
        // A crash loop: consecutive daemon starts that found the run interrupted (the previous
        // start died). A start that finds it paused (a restart, an operator) resets the count,
        // and so does one that finds it interrupted while the user had deferred (the process
        // was waiting, not crashing: the user restarted the Mac or logged out).
        let attempts = if state == RunState::Interrupted && runner.view.deferred.is_none() {
            runner
                .view
                .notes
                .get("daemon-crashes")
                .and_then(|v| v.parse::<u32>().ok())
                .unwrap_or(0)
                + 1
        } else {
            0
        };
        runner.append(Record::Note {
            key: "daemon-crashes".into(),
            value: attempts.to_string(),
        })?;
        if attempts >= crate::action::reboot::MAX_DAEMON_ATTEMPTS {
            // Record why first: `bootout` in remove_daemon ends this very process on a Mac.
            let ended = runner.pause(
                None,
                format!(
                    "the LaunchDaemon found this run interrupted {attempts} times in a row and removed itself; see /var/log/reenroll.log, then `reenroll resume {}` by hand",
                    runner.run_id
                ),
                None,
            );
            crate::action::reboot::remove_daemon(&ctx.device)?;
            return ended;
        }
    }
    runner.reconcile()?;
    printer.line(&format!(
        "resuming run {} ({}) of {}",
        runner.run_id,
        state.as_str(),
        runner.pb.name
    ));
    tracing::info!(run = %runner.run_id, "run resumed");
    runner.prompt = prompt;
    runner.execute()
}

impl Runner<'_> {
    pub fn device(&self) -> &crate::device::Device {
        &self.ctx.device
    }

    /// Append a record from outside the executor (the interactive prompts).
    pub fn record(&mut self, r: Record) -> Result<()> {
        self.append(r)
    }

    /// The prompt says the admin answered a step's question (`y` or `s`), as opposed to a step
    /// run without asking (nothing to change, confirmed on the command line).
    pub fn mark_answered(&mut self) {
        self.answered = true;
    }

    /// A run this session created in which the admin has accepted no step and nothing was
    /// attempted on the device (no intent recorded): a `q` now leaves nothing to resume.
    fn untouched(&self) -> bool {
        self.created_here
            && !self.answered
            && !self
                .records
                .iter()
                .any(|r| matches!(r, Record::Intent { .. } | Record::SkippedByAdmin { .. }))
    }

    /// `q` before the first step of a new run: remove the run again (its folder holds the
    /// journal and nothing else), so that no run stays behind to block the next `run`.
    fn discard(&mut self, before: &str) -> Result<Ended> {
        let reason = format!(
            "stopped by the admin before `{before}`, before any step was accepted; nothing was changed"
        );
        self.quarantine = None;
        crate::journal::damage::discard_never_started(&self.run_dir).with_context(|| {
            format!(
                "removing run {} again after the admin stopped before its first step",
                self.run_id
            )
        })?;
        tracing::info!(run = %self.run_id, "{reason}; the run was removed");
        self.printer.line(&format!(
            "{reason}: run {} was removed again and blocks no later `run`",
            self.run_id
        ));
        Ok(Ended::Discarded(reason))
    }

    pub(super) fn append(&mut self, r: Record) -> Result<()> {
        self.journal.append(&r)?;
        // One definition of the state machine: re-derive the view from every record.
        self.records.push(r);
        self.view = RunView::from_records(&self.records);
        Ok(())
    }

    /// Close intents left open by a crash, by looking at the device and the quarantine.
    pub(super) fn reconcile(&mut self) -> Result<()> {
        let dangling = self.view.dangling.clone();
        for (step, n, change) in dangling {
            match change {
                Change::Remove { target, .. } => {
                    let qname = n.to_string();
                    let q = fs::open_quarantine(&self.run_dir.join("quarantine"))?;
                    // Finishes or undoes a move across volumes that a crash cut short.
                    if fs::recover_move(&self.ctx.device, &target, &q, &qname)? {
                        tracing::info!(%target, "a removal interrupted by a crash had happened; recording it");
                        self.append(Record::Applied {
                            step,
                            n,
                            undo: Undo::Restore {
                                target,
                                qname,
                                moved: fs::Moved::Renamed,
                            },
                        })?;
                    } else {
                        self.append(Record::ChangeFailed {
                            step,
                            n,
                            target,
                            error: "interrupted before the change; re-checked".into(),
                            exception: false,
                        })?;
                    }
                }
                Change::Delete {
                    location,
                    item,
                    export,
                } => {
                    // The copy being deleted is the one holding the exported data: another copy
                    // of the same identity still there says nothing about it.
                    let back = match &export {
                        Some(name) => {
                            crate::action::read_export(&self.run_dir, name).and_then(|data| {
                                crate::action::keychain_undo_probe(
                                    &self.ctx.device,
                                    &location,
                                    &item,
                                    Some(&data),
                                )
                            })
                        }
                        None => crate::action::keychain_undo_probe(
                            &self.ctx.device,
                            &location,
                            &item,
                            None,
                        ),
                    };
                    match (back, export) {
                        // The keychain cannot be reached now (nobody logged in after a restart):
                        // leave the intent open; the next resume or rollback looks again.
                        (Err(e), _) => {
                            tracing::warn!(%step, n, "cannot tell whether an interrupted keychain delete happened yet: {e:#}");
                        }
                        (Ok(false), Some(export)) => self.append(Record::Applied {
                            step,
                            n,
                            undo: Undo::AddKeychainItem {
                                location,
                                item,
                                export,
                            },
                        })?,
                        (Ok(false), None) => self.append(Record::Applied {
                            step,
                            n,
                            undo: Undo::Irreversible {
                                what: format!("{} in {}", item.describe(), location.describe()),
                                why: "it could not be exported before deletion".into(),
                            },
                        })?,
                        // Without an export, any copy of the identity reads as "not deleted";
                        // the step's re-run deletes and journals it again.
                        (Ok(true), _) => self.append(Record::ChangeFailed {
                            step,
                            n,
                            target: item.describe(),
                            error: "interrupted before the delete; re-checked".into(),
                            exception: false,
                        })?,
                    }
                }
                other => {
                    self.append(Record::ChangeFailed {
                        step,
                        n,
                        target: other.target(),
                        error: "interrupted; re-checked against the device".into(),
                        exception: false,
                    })?;
                }
            }
        }
        Ok(())
    }

    pub(super) fn execute(&mut self) -> Result<Ended> {
        let steps = self.pb.steps.clone();
        let mut waiting = Vec::new();
        for step in &steps {
            let state = self
                .view
                .steps
                .get(&step.id)
                .copied()
                .unwrap_or(StepState::Pending);
            if state.finished() {
                continue;
            }
            if self.cancel.load(Ordering::SeqCst) {
                return self.pause(
                    None,
                    "stopped by a signal (SIGINT/SIGTERM/SIGHUP); `reenroll resume` continues"
                        .into(),
                    None,
                );
            }
            fault::point(&format!("before-step:{}", step.id));
            let facts = self.view.facts.clone();
            if let Err(reason) = engine::applies(step.when.as_ref(), &self.vars, &facts) {
                self.append(Record::StepStart {
                    step: step.id.clone(),
                    at: now_rfc3339(),
                })?;
                self.append(Record::StepEnd {
                    step: step.id.clone(),
                    state: StepState::Skipped,
                    at: now_rfc3339(),
                    summary: reason.clone(),
                })?;
                self.printer.step("skipped", &step.id, &reason);
                continue;
            }
            let mut values = engine::values_with_facts(&self.vars, &facts);
            values.insert("run_id".into(), self.run_id.clone());
            values.insert(
                "state_dir".into(),
                self.ctx.state.path.display().to_string(),
            );
            for (k, v) in &self.options {
                values.insert(k.clone(), v.clone());
            }
            if let Some(prompt) = self.prompt {
                match prompt.ask(self, step, &values, &facts)? {
                    Choice::Do => {}
                    Choice::Skip => {
                        self.append(Record::SkippedByAdmin {
                            step: step.id.clone(),
                            at: now_rfc3339(),
                        })?;
                        self.printer
                            .step("skipped", &step.id, "skipped by the admin");
                        continue;
                    }
                    Choice::Stop => {
                        if self.untouched() {
                            return self.discard(&step.id);
                        }
                        // Not started: the step stays pending.
                        return self.pause(
                            None,
                            format!(
                                "stopped by the admin before `{}`; `reenroll resume` continues",
                                step.id
                            ),
                            None,
                        );
                    }
                    Choice::Interrupted => {
                        // Not started: the step stays pending; asked again by `resume --step`.
                        return self.pause(
                            None,
                            format!(
                                "stopped by a signal (Ctrl-C) at the question before `{}`; `reenroll resume` continues",
                                step.id
                            ),
                            None,
                        );
                    }
                }
            }
            self.append(Record::StepStart {
                step: step.id.clone(),
                at: now_rfc3339(),
            })?;
            self.current_step = step.id.clone();
            tracing::info!(run = %self.run_id, step = %step.id, "step started");
            let spin = !matches!(
                step.action,
                ActionSpec::Gate(_) | ActionSpec::WaitFor(_) | ActionSpec::Operator(_)
            );
            self.printer.begin(&step.id, &step.title, spin);
            let outcome = match self.pb.expand_step(step, &values) {
                Ok(spec) => {
                    let env = Env {
                        device: &self.ctx.device,
                        values,
                        facts: &facts,
                        step_id: &step.id,
                        reversible: step.reversible,
                        now: SystemTime::now(),
                    };
                    spec.apply(&env, self)
                        .unwrap_or_else(|e| Outcome::Failed(format!("{e:#}")))
                }
                Err(e) => Outcome::Failed(format!("{e:#}")),
            };
            let at = now_rfc3339();
            match outcome {
                Outcome::Done(summary) => self.end_step(&step.id, StepState::Done, at, &summary)?,
                Outcome::AlreadyDone(summary) => {
                    self.end_step(&step.id, StepState::Skipped, at, &summary)?
                }
                Outcome::Waiting(reason) => {
                    self.end_step(&step.id, StepState::Waiting, at, &reason)?;
                    waiting.push(step.id.clone());
                }
                Outcome::Pause { reason, until } => {
                    return self.pause(Some(step.id.clone()), reason, until);
                }
                Outcome::Failed(error) => {
                    self.append(Record::StepEnd {
                        step: step.id.clone(),
                        state: StepState::Failed,
                        at: at.clone(),
                        summary: error.clone(),
                    })?;
                    self.append(Record::RunEnd {
                        state: RunState::Failed,
                        at,
                        exceptions: Vec::new(),
                    })?;
                    self.printer.step("failed", &step.id, &error);
                    tracing::error!(target: crate::output::SHOWN, run = %self.run_id, step = %step.id, %error, "step failed");
                    self.printer.line(&format!(
                        "run {} failed at `{}`. The journal is intact: fix the cause and `{}`, or `{}`",
                        self.run_id,
                        step.id,
                        self.ctx.device.hint(&format!("resume {}", self.run_id)),
                        self.ctx.device.hint(&format!("rollback {}", self.run_id))
                    ));
                    self.finish_hooks(RunState::Failed);
                    return Ok(Ended::Failed(error));
                }
            }
            fault::point(&format!("after-step:{}", step.id));
        }
        if !waiting.is_empty() {
            return self.pause(None, format!("waiting for operator confirmation of: {} (`reenroll resume --confirm STEP_ID`)", waiting.join(", ")), None);
        }
        let exceptions = self.view.exceptions.clone();
        self.append(Record::RunEnd {
            state: RunState::Completed,
            at: now_rfc3339(),
            exceptions: exceptions.clone(),
        })?;
        tracing::info!(run = %self.run_id, exceptions = exceptions.len(), "run completed");
        if exceptions.is_empty() {
            self.printer.line(&format!("run {} completed", self.run_id));
        } else {
            self.printer.line(&format!(
                "run {} completed with {} exception(s):",
                self.run_id,
                exceptions.len()
            ));
            for e in &exceptions {
                self.printer.line(&format!("  - {e}"));
            }
        }
        self.finish_hooks(RunState::Completed);
        Ok(Ended::Completed { exceptions })
    }

    /// Record how a step ended, log it and show it.
    pub(super) fn end_step(
        &mut self,
        id: &str,
        state: StepState,
        at: String,
        summary: &str,
    ) -> Result<()> {
        self.append(Record::StepEnd {
            step: id.to_string(),
            state,
            at,
            summary: summary.to_string(),
        })?;
        let label = match state {
            StepState::Skipped => "skipped",
            StepState::Waiting => "waiting",
            _ => "done",
        };
        tracing::info!(run = %self.run_id, step = %id, %summary, "step {label}");
        self.printer.step(label, id, summary);
        Ok(())
    }

    pub(super) fn pause(
        &mut self,
        step: Option<String>,
        reason: String,
        until: Option<String>,
    ) -> Result<Ended> {
        self.append(Record::Paused {
            step: step.clone(),
            reason: reason.clone(),
            at: now_rfc3339(),
            until,
        })?;
        tracing::info!(run = %self.run_id, step = step.as_deref().unwrap_or("-"), %reason, "run paused");
        self.printer
            .step("paused", step.as_deref().unwrap_or("-"), &reason);
        // Step by step, the resume that asks again.
        let step_mode = if self.prompt.is_some() { " --step" } else { "" };
        self.printer.line(&format!(
            "run {} is paused; `{}` continues it",
            self.run_id,
            self.ctx
                .device
                .hint(&format!("resume {}{step_mode}", self.run_id))
        ));
        Ok(Ended::Paused(reason))
    }

    /// What follows the end of a run (completed, with exceptions or not; failed) or of its
    /// rollback: its own credentials are deleted, inventory sent, the LaunchDaemon removed.
    pub(super) fn finish_hooks(&mut self, state: RunState) {
        self.forget_credentials();
        if matches!(state, RunState::Completed | RunState::Failed) {
            self.send_inventory();
        }
        if let Err(e) = crate::action::on_run_finished(&self.ctx.device) {
            tracing::warn!(run = %self.run_id, "cleaning up after the run: {e:#}");
        }
    }

    /// Once a step that restores the management channel (re-enrollment) is done, send inventory
    /// (`jamf recon`) when the run ends, so the extension attribute shows the end state in Jamf
    /// Pro rather than the state before the run. A failure is only logged: the run's own
    /// outcome stands.
    fn send_inventory(&mut self) {
        if super::reenrolled_by(&self.pb, &self.view).is_none()
            || !self.ctx.device.has_program(JAMF)
        {
            return;
        }
        self.printer
            .line("sending inventory to Jamf Pro (jamf recon) so the extension attribute shows this end state");
        let opts = crate::device::RunOpts {
            timeout: Some(std::time::Duration::from_secs(15 * 60)),
            output: crate::device::Capture::Discard,
            ..Default::default()
        };
        match self.ctx.device.run(JAMF, &["recon".to_string()], &opts) {
            Ok(out) if out.code == Some(0) => {
                tracing::info!(run = %self.run_id, "inventory sent (jamf recon)");
            }
            Ok(out) => {
                tracing::warn!(run = %self.run_id, code = ?out.code, timed_out = out.timed_out, "jamf recon did not succeed; the extension attribute updates at the next inventory")
            }
            Err(e) => {
                tracing::warn!(run = %self.run_id, "jamf recon could not run: {e:#}; the extension attribute updates at the next inventory")
            }
        }
    }
}

const JAMF: &str = "/usr/local/jamf/bin/jamf";
