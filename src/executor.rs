//! Applying a playbook step by step through the journal; resume; rollback; status; purge.
//!
//! Every step re-checks the device before acting (a recorded "done" is never trusted over what
//! the device shows): a re-run on a clean device changes nothing, a run after a partial manual
//! cleanup does only what is left, and a resume re-checks the step that was in progress.

use std::collections::BTreeMap;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::SystemTime;

use anyhow::{Context, Result};
use serde::Serialize;

use crate::action::{self, now_rfc3339, ActionSpec, Env, Facts, Outcome, Recorder};
use crate::device::fs;
use crate::engine::{self, Ctx};
use crate::error;
use crate::fault;
use crate::journal::lock::{Acquired, RunLock};
use crate::journal::record::FORMAT_NAME;
use crate::journal::{
    self, Change, Journal, Record, RunState, RunView, StepState, Undo, FORMAT_VERSION,
};
use crate::playbook::Playbook;
use crate::report::Printer;

/// How a run (or resume) session ended, and its exit code.
#[derive(Debug, Clone, PartialEq)]
pub enum Ended {
    Completed { exceptions: Vec<String> },
    Paused(String),
    Failed(String),
}

impl Ended {
    pub fn exit_code(&self) -> i32 {
        match self {
            Ended::Completed { exceptions } if exceptions.is_empty() => error::OK,
            Ended::Completed { .. } => error::EXCEPTIONS,
            Ended::Paused(_) => error::PAUSED,
            Ended::Failed(_) => error::FAILED,
        }
    }
}

/// A run being executed: the journal, the lock, and what the recorder hands to actions.
pub struct Runner<'a> {
    ctx: &'a Ctx,
    pub pb: Playbook,
    pub run_id: String,
    run_dir: PathBuf,
    journal: Journal,
    _lock: RunLock,
    pub view: RunView,
    records: Vec<Record>,
    vars: BTreeMap<String, String>,
    quarantine: Option<OwnedFd>,
    cancel: Arc<AtomicBool>,
    printer: &'a Printer,
    options: BTreeMap<String, String>,
    current_step: String,
    /// `run --step`: ask before each step.
    pub interactive: bool,
}

fn install_signal_flag() -> Arc<AtomicBool> {
    let flag = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        let _ = signal_hook::flag::register(sig, Arc::clone(&flag));
    }
    flag
}

fn take_lock(ctx: &Ctx) -> Result<RunLock> {
    ctx.state.prepare()?;
    match RunLock::acquire(&ctx.state.lock_file())? {
        Acquired::Held(l) => Ok(l),
        Acquired::Busy(holder) => Err(error::refused(format!(
            "another reenroll holds the run lock{}: wait for it, or see `reenroll status`",
            if holder.is_empty() {
                String::new()
            } else {
                format!(" (run {holder})")
            }
        ))),
    }
}

/// Every run with its derived state, oldest first.
pub fn all_runs(ctx: &Ctx) -> Result<Vec<(RunView, RunState, Vec<Record>)>> {
    let holder = RunLock::is_held(&ctx.state.lock_file());
    let mut out = Vec::new();
    for id in ctx.state.run_ids()? {
        let records = journal::read(&ctx.state.run_dir(&id).join(journal::JOURNAL_FILE))?;
        let view = RunView::from_records(&records);
        let state = view.state(holder.as_deref() == Some(id.as_str()));
        out.push((view, state, records));
    }
    Ok(out)
}

/// What a run froze in its journal header: the playbook's text, the variables, the options.
struct Frozen {
    pb: Playbook,
    vars: BTreeMap<String, String>,
    options: BTreeMap<String, String>,
}

fn frozen(view: &RunView, records: &[Record]) -> Result<Frozen> {
    let Some(Record::Header {
        source,
        origin,
        vars,
        options,
        ..
    }) = records.first()
    else {
        anyhow::bail!("run {} has no header", view.id);
    };
    let pb = Playbook::parse(source, origin)
        .with_context(|| format!("re-reading the playbook frozen in run {}", view.id))?;
    Ok(Frozen {
        pb,
        vars: vars.clone(),
        options: options.clone(),
    })
}

/// Confirmations name steps of the run (`flag` is how the admin gave them).
fn check_confirms(pb: &Playbook, confirms: &[String], flag: &str, run: &str) -> Result<()> {
    match confirms.iter().find(|c| pb.step(c).is_none()) {
        Some(c) => Err(error::invalid(format!(
            "{flag}{}{c}: run {run} has no step `{c}`",
            if flag.ends_with('=') { "" } else { " " }
        ))),
        None => Ok(()),
    }
}

/// Refuse a new run while another run of the same playbook is unfinished.
fn refuse_if_unfinished(ctx: &Ctx, playbook: &str, hint: &str) -> Result<()> {
    for (view, state, _) in all_runs(ctx)? {
        if view.playbook == playbook
            && matches!(
                state,
                RunState::Paused | RunState::Interrupted | RunState::Running
            )
        {
            return Err(error::refused(format!(
                "run {} of `{playbook}` is {}: {}",
                view.id,
                state.as_str(),
                hint.replace("{id}", &view.id)
            )));
        }
    }
    Ok(())
}

impl<'a> Runner<'a> {
    /// A new run: its id, its folder and its journal's header, under the lock.
    fn create(
        ctx: &'a Ctx,
        mut lock: RunLock,
        pb: Playbook,
        vars: BTreeMap<String, String>,
        sources: BTreeMap<String, String>,
        options: BTreeMap<String, String>,
        printer: &'a Printer,
    ) -> Result<Runner<'a>> {
        let run_id = engine::new_run_id(&pb.name);
        lock.set_holder(&run_id)?;
        let run_dir = ctx.state.run_dir(&run_id);
        let header = Record::Header {
            format: FORMAT_NAME.into(),
            version: FORMAT_VERSION,
            run_id: run_id.clone(),
            playbook: pb.name.clone(),
            origin: pb.origin.clone(),
            source: pb.source.clone(),
            vars: vars.clone(),
            var_sources: sources,
            root: ctx
                .device
                .is_sandbox()
                .then(|| ctx.device.root().display().to_string()),
            started: now_rfc3339(),
            reenroll_version: env!("CARGO_PKG_VERSION").into(),
            options: options.clone(),
        };
        let journal = Journal::create(&run_dir, &header)?;
        Ok(Self::assemble(
            ctx,
            lock,
            pb,
            run_id,
            run_dir,
            journal,
            vec![header],
            vars,
            options,
            printer,
        ))
    }

    /// An existing run, its journal reopened for appending, under the lock.
    #[allow(clippy::too_many_arguments)]
    fn open(
        ctx: &'a Ctx,
        mut lock: RunLock,
        pb: Playbook,
        run_id: &str,
        records: Vec<Record>,
        vars: BTreeMap<String, String>,
        options: BTreeMap<String, String>,
        printer: &'a Printer,
    ) -> Result<Runner<'a>> {
        lock.set_holder(run_id)?;
        let run_dir = ctx.state.run_dir(run_id);
        let journal = Journal::reopen(&run_dir)?;
        Ok(Self::assemble(
            ctx,
            lock,
            pb,
            run_id.to_string(),
            run_dir,
            journal,
            records,
            vars,
            options,
            printer,
        ))
    }

    #[allow(clippy::too_many_arguments)]
    fn assemble(
        ctx: &'a Ctx,
        lock: RunLock,
        pb: Playbook,
        run_id: String,
        run_dir: PathBuf,
        journal: Journal,
        records: Vec<Record>,
        vars: BTreeMap<String, String>,
        options: BTreeMap<String, String>,
        printer: &'a Printer,
    ) -> Runner<'a> {
        Runner {
            ctx,
            pb,
            run_id,
            run_dir,
            journal,
            _lock: lock,
            view: RunView::from_records(&records),
            records,
            vars,
            quarantine: None,
            cancel: install_signal_flag(),
            printer,
            options,
            current_step: String::new(),
            interactive: false,
        }
    }
}

/// Start a new run of a playbook.
pub fn run(
    ctx: &Ctx,
    pb: Playbook,
    vars: BTreeMap<String, String>,
    sources: BTreeMap<String, String>,
    options: BTreeMap<String, String>,
    interactive: bool,
    printer: &Printer,
) -> Result<Ended> {
    let lock = take_lock(ctx)?;
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
    runner.interactive = interactive;
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
pub struct ResumeOptions {
    pub confirms: Vec<String>,
    pub sets: Vec<String>,
    /// Options for this invocation only (`force`, `allow_multiple`), as `key = "true"`.
    pub flags: BTreeMap<String, String>,
    pub from_daemon: bool,
    pub interactive: bool,
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
        interactive,
    } = opts;
    let (from_daemon, interactive) = (*from_daemon, *interactive);
    let lock = take_lock(ctx)?;
    let (view, state, records) = find_run(ctx, id, |s| s.resumable(), "resume")?;
    if view.rollback_started {
        // A rollback that was interrupted must never be carried forward again.
        if from_daemon {
            crate::action::reboot::remove_daemon(&ctx.device)?;
        }
        return Err(error::refused(format!(
            "run {} was being rolled back when it stopped: finish that with `reenroll rollback {}`; it cannot be resumed",
            view.id, view.id
        )));
    }
    if from_daemon && !state.resumable() {
        // A daemon left behind by a run that has ended: remove it and stop quietly.
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
        // start died). A start that finds it paused (a restart, an operator) resets the count.
        let attempts = if state == RunState::Interrupted {
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
    runner.interactive = interactive;
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

    fn append(&mut self, r: Record) -> Result<()> {
        self.journal.append(&r)?;
        // One definition of the state machine: re-derive the view from every record.
        self.records.push(r);
        self.view = RunView::from_records(&self.records);
        Ok(())
    }

    /// Close intents left open by a crash, by looking at the device and the quarantine.
    fn reconcile(&mut self) -> Result<()> {
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
                    let back = crate::action::keychain_undo_probe(self.ctx, &location, &item);
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
                        // NOTE: with several copies of one identity, a remaining copy reads as
                        // "not deleted" here; the step's re-run deletes and journals it again.
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

    fn execute(&mut self) -> Result<Ended> {
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
                    "stopped by a signal (SIGINT/SIGTERM); `reenroll resume` continues".into(),
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
            if self.interactive {
                match crate::interactive::ask(self, step, &values, &facts)? {
                    crate::interactive::Choice::Do => {}
                    crate::interactive::Choice::Skip => {
                        self.append(Record::SkippedByAdmin {
                            step: step.id.clone(),
                            at: now_rfc3339(),
                        })?;
                        self.printer
                            .step("skipped", &step.id, "skipped by the admin");
                        continue;
                    }
                    crate::interactive::Choice::Stop => {
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
            let outcome = match step.action.expand(&values) {
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
                    tracing::error!(run = %self.run_id, step = %step.id, %error, "step failed");
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
    fn end_step(&mut self, id: &str, state: StepState, at: String, summary: &str) -> Result<()> {
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

    fn pause(
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
        self.printer.line(&format!(
            "run {} is paused; `{}` continues it",
            self.run_id,
            self.ctx.device.hint(&format!("resume {}", self.run_id))
        ));
        Ok(Ended::Paused(reason))
    }

    /// Things a finished run cleans up after itself (the restart LaunchDaemon).
    fn finish_hooks(&mut self, _state: RunState) {
        if let Err(e) = crate::action::on_run_finished(self.ctx, &self.run_dir, &self.view) {
            tracing::warn!(run = %self.run_id, "cleaning up after the run: {e:#}");
        }
    }
}

impl Recorder for Runner<'_> {
    fn next_change(&self) -> u64 {
        self.view.next_n
    }

    fn intent(&mut self, change: Change) -> Result<u64> {
        let n = self.view.next_n;
        let step = self.current_step.clone();
        self.append(Record::Intent {
            step: step.clone(),
            n,
            change,
        })?;
        fault::point(&format!("after-intent:{step}#{n}"));
        Ok(n)
    }
    fn applied(&mut self, n: u64, undo: Undo) -> Result<()> {
        let step = self.current_step.clone();
        self.append(Record::Applied {
            step: step.clone(),
            n,
            undo,
        })?;
        fault::point(&format!("after-change:{step}#{n}"));
        Ok(())
    }
    fn failed(&mut self, n: u64, target: &str, error: &str, exception: bool) -> Result<()> {
        let step = self.current_step.clone();
        if exception {
            tracing::warn!(run = %self.run_id, %step, %target, %error, "exception");
            self.printer
                .detail(&format!("exception: {target}: {error}"));
        }
        self.append(Record::ChangeFailed {
            step,
            n,
            target: target.into(),
            error: error.into(),
            exception,
        })
    }
    fn note(&mut self, key: &str, value: &str) -> Result<()> {
        self.append(Record::Note {
            key: key.into(),
            value: value.into(),
        })
    }
    fn get_note(&self, key: &str) -> Option<String> {
        self.view.notes.get(key).cloned()
    }
    fn confirmed(&self, step: &str) -> Option<String> {
        self.view.confirmed.get(step).cloned()
    }
    fn quarantine(&mut self) -> Result<&OwnedFd> {
        if self.quarantine.is_none() {
            self.quarantine = Some(fs::open_quarantine(&self.run_dir.join("quarantine"))?);
        }
        Ok(self.quarantine.as_ref().expect("just opened"))
    }
    fn run_dir(&self) -> &Path {
        &self.run_dir
    }
    fn record_facts(&mut self, facts: Facts) -> Result<()> {
        self.append(Record::Facts { facts })
    }
    fn cancelled(&self) -> bool {
        self.cancel.load(Ordering::SeqCst)
    }
}

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
    let (view, state, records) = find_run(ctx, id, |s| s != RunState::RolledBack, "roll back")?;
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
                match action::keychain_undo(ctx, &run_dir, location, &items) {
                    Ok(outcomes) => group
                        .iter()
                        .zip(outcomes)
                        .map(|((s, n, _, _), o)| (s.clone(), *n, Ok(o)))
                        .collect(),
                    Err(e) => {
                        let msg = format!("{e:#}");
                        group
                            .iter()
                            .map(|(s, n, _, _)| (s.clone(), *n, Err(anyhow::anyhow!(msg.clone()))))
                            .collect()
                    }
                }
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
    runner.finish_hooks(RunState::RolledBack);
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
    Ok(report)
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

#[derive(Serialize)]
pub struct StatusReport {
    pub runs: Vec<RunStatus>,
}

#[derive(Serialize)]
pub struct RunStatus {
    pub id: String,
    pub playbook: String,
    pub state: String,
    pub started: String,
    /// The time of the newest event in the journal.
    pub updated: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ended: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paused: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paused_at_step: Option<String>,
    pub steps: Vec<StepStatus>,
    pub exceptions: Vec<String>,
    pub facts: Facts,
}

#[derive(Serialize)]
pub struct StepStatus {
    pub id: String,
    pub state: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub summary: String,
}

pub fn status(ctx: &Ctx, id: Option<&str>) -> Result<StatusReport> {
    let mut runs = Vec::new();
    for (view, state, records) in all_runs(ctx)? {
        if id.is_some_and(|i| i != view.id) {
            continue;
        }
        let step_ids: Vec<String> = match records.first() {
            Some(Record::Header { source, origin, .. }) => match Playbook::parse(source, origin) {
                Ok(pb) => pb.steps.iter().map(|s| s.id.clone()).collect(),
                Err(_) => view.steps.keys().cloned().collect(),
            },
            _ => Vec::new(),
        };
        let steps = step_ids
            .iter()
            .map(|s| StepStatus {
                id: s.clone(),
                state: view
                    .steps
                    .get(s)
                    .copied()
                    .unwrap_or(StepState::Pending)
                    .as_str()
                    .to_string(),
                summary: view.step_summaries.get(s).cloned().unwrap_or_default(),
            })
            .collect();
        let updated = records
            .iter()
            .rev()
            .find_map(|r| match r {
                Record::StepStart { at, .. }
                | Record::StepEnd { at, .. }
                | Record::Paused { at, .. }
                | Record::Confirmed { at, .. }
                | Record::SkippedByAdmin { at, .. }
                | Record::RunEnd { at, .. }
                | Record::RollbackStart { at }
                | Record::RollbackEnd { at, .. } => Some(at.clone()),
                Record::Header { started, .. } => Some(started.clone()),
                _ => None,
            })
            .unwrap_or_default();
        runs.push(RunStatus {
            updated,
            id: view.id.clone(),
            playbook: view.playbook.clone(),
            state: state.as_str().to_string(),
            started: view.started.clone(),
            ended: view.ended.clone(),
            paused: if state == RunState::Paused {
                view.paused.as_ref().map(|p| p.1.clone())
            } else {
                None
            },
            paused_at_step: if state == RunState::Paused {
                view.paused.as_ref().and_then(|p| p.0.clone())
            } else {
                None
            },
            steps,
            exceptions: view.exceptions.clone(),
            facts: view.facts.clone(),
        });
    }
    if let Some(id) = id {
        if runs.is_empty() {
            return Err(error::invalid(format!("no run `{id}`")));
        }
    }
    Ok(StatusReport { runs })
}

/// Delete the quarantine of finished runs older than `older_than`.
pub fn purge(ctx: &Ctx, older_than: std::time::Duration, printer: &Printer) -> Result<usize> {
    let _lock = take_lock(ctx)?;
    let cutoff = SystemTime::now() - older_than;
    let mut purged = 0;
    for (view, state, _) in all_runs(ctx)? {
        // A failed run can still be resumed or rolled back: its quarantine stays.
        if !matches!(state, RunState::Completed | RunState::RolledBack) {
            continue;
        }
        let ended = view
            .ended
            .as_deref()
            .or(Some(view.started.as_str()))
            .and_then(|t| humantime::parse_rfc3339(t).ok());
        if ended.is_none_or(|t| t > cutoff) {
            continue;
        }
        let run_dir = ctx.state.run_dir(&view.id);
        let qdir = run_dir.join("quarantine");
        let exports = run_dir.join("keychain");
        if qdir.exists() || exports.exists() {
            let parent = fs::open_quarantine(&run_dir)?;
            // Removed files, and the exported keychain secrets kept for rollback.
            for name in ["quarantine", "keychain"] {
                fs::delete_tree(&parent, std::ffi::OsStr::new(name))
                    .with_context(|| format!("deleting {}", run_dir.join(name).display()))?;
            }
            let mut journal = Journal::reopen(&run_dir)?;
            journal.append(&Record::Note {
                key: "purged".into(),
                value: now_rfc3339(),
            })?;
            printer.line(&format!(
                "purged the quarantine of run {} ({})",
                view.id,
                state.as_str()
            ));
            purged += 1;
        }
    }
    Ok(purged)
}

/// Create a run and hand it to the LaunchDaemon instead of executing it here (a Jamf policy:
/// `jamf removeFramework` would kill the policy's own process, and a restart loses its log).
/// Returns the run id; the caller starts the daemon once the lock is released.
pub fn schedule(
    ctx: &Ctx,
    pb: Playbook,
    vars: BTreeMap<String, String>,
    sources: BTreeMap<String, String>,
    options: BTreeMap<String, String>,
    printer: &Printer,
) -> Result<String> {
    let lock = take_lock(ctx)?;
    refuse_if_unfinished(
        ctx,
        &pb.name,
        "resume it (action=resume) or roll it back (action=rollback)",
    )?;
    let mut runner = Runner::create(ctx, lock, pb, vars, sources, options, printer)?;
    tracing::info!(run = %runner.run_id, playbook = %runner.pb.name, "run scheduled for the LaunchDaemon");
    runner.current_step = "handoff".into();
    runner.hand_to_daemon()?;
    Ok(runner.run_id.clone())
}

/// Record confirmations for the newest resumable run and hand it to the LaunchDaemon again.
pub fn confirm_and_hand_off(ctx: &Ctx, confirms: &[String], printer: &Printer) -> Result<String> {
    let lock = take_lock(ctx)?;
    let (view, _, records) = find_run(ctx, None, |s| s.resumable(), "resume")?;
    let Frozen { pb, vars, options } = frozen(&view, &records)?;
    check_confirms(&pb, confirms, "confirm=", &view.id)?;
    let mut runner = Runner::open(ctx, lock, pb, &view.id, records, vars, options, printer)?;
    runner.current_step = "handoff".into();
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
                crate::engine::LOG_FILE
            ),
            at: now_rfc3339(),
            until: None,
        })
    }
}
