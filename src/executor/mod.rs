//! Applying a playbook step by step through the journal, and everything else done with runs:
//!
//! - `run.rs`: the forward path: `run`, `resume`, and the step loop (`Runner::execute`);
//! - `rollback.rs`: undo a run, newest change first;
//! - `status.rs`: what each run is doing (`status`, the extension attribute's source);
//! - `purge.rs`: delete old quarantines;
//! - `daemon.rs`: the hand-off to the LaunchDaemon (Jamf policies, the restart).
//!
//! This file holds what they share: the `Runner` (journal, lock, recorder), the run lock, how a
//! session ended, the frozen header, and the `StepPrompt` the commands layer passes down.
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
use crate::output::Printer;
use crate::playbook::{Playbook, Step};

/// How a run (or resume) session ended, and its exit code.
#[derive(Debug, Clone, PartialEq)]
pub enum Ended {
    Completed {
        exceptions: Vec<String>,
    },
    Paused(String),
    Failed(String),
    /// `run --step` stopped (`q`) before the admin accepted any step and before anything was
    /// changed: the new run was removed again, as if never created (exit 4, like a declined
    /// confirmation), so it blocks no later `run`.
    Discarded(String),
}

impl Ended {
    pub fn exit_code(&self) -> i32 {
        match self {
            Ended::Completed { exceptions } if exceptions.is_empty() => error::OK,
            Ended::Completed { .. } => error::EXCEPTIONS,
            Ended::Paused(_) => error::PAUSED,
            Ended::Failed(_) => error::FAILED,
            Ended::Discarded(_) => error::REFUSED,
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
    /// `run --step`: asked before each step (the commands layer's terminal prompt).
    prompt: Option<&'a dyn StepPrompt>,
    /// Created by this session (`run`, not `resume`): a `q` before the admin accepted any step
    /// discards it.
    created_here: bool,
    /// The admin answered a step's question (`y`, `s`) in this session (`mark_answered`).
    answered: bool,
}

/// What the person at the terminal chose before a step (`run --step`).
pub enum Choice {
    Do,
    Skip,
    Stop,
    /// Ctrl-C (SIGINT), SIGTERM or SIGHUP arrived while the prompt waited for an answer: the run
    /// pauses before the step, like a signal between steps.
    Interrupted,
}

/// The question before each step of `run --step`. The commands layer owns the implementation
/// (`interactive::Terminal`) and passes it down; the prompt may record a confirmation or a note
/// through the runner before answering.
pub trait StepPrompt {
    fn ask(
        &self,
        runner: &mut Runner,
        step: &Step,
        values: &BTreeMap<String, String>,
        facts: &Facts,
    ) -> Result<Choice>;
}

fn install_signal_flag() -> Arc<AtomicBool> {
    let flag = Arc::new(AtomicBool::new(false));
    // SIGHUP (the terminal closed, an ssh session dropped) is handled like SIGTERM: the
    // current step finishes, then the run pauses.
    for sig in [
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGHUP,
    ] {
        let _ = signal_hook::flag::register(sig, Arc::clone(&flag));
    }
    flag
}

fn take_lock(ctx: &Ctx) -> Result<RunLock> {
    ctx.state.prepare()?;
    match RunLock::acquire(&ctx.state.lock_file())? {
        Acquired::Held(l) => {
            damage::discard_never_started(ctx);
            Ok(l)
        }
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

/// Every run whose journal is sound, with its derived state, oldest first. Damaged runs are
/// left out (`damage::load_all` has them): damage stays confined to its run.
pub fn all_runs(ctx: &Ctx) -> Result<Vec<(RunView, RunState, Vec<Record>)>> {
    Ok(damage::load_all(ctx)?
        .into_iter()
        .filter_map(|r| match r {
            damage::Run::Sound(view, state, records) => Some((view, state, records)),
            damage::Run::Damaged(_) => None,
        })
        .collect())
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
    let pb = Playbook::parse_recorded(source, origin)
        .map_err(crate::playbook::PlaybookError::coded)
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

/// The done step that gave the management channel back (`channel = "restores"`: the Mac was
/// re-enrolled), if the run got that far.
fn reenrolled_by<'a>(pb: &'a Playbook, view: &RunView) -> Option<&'a str> {
    pb.steps
        .iter()
        .filter(|s| s.channel == Some(crate::playbook::Channel::Restores))
        .find(|s| view.steps.get(&s.id) == Some(&crate::journal::StepState::Done))
        .map(|s| s.id.as_str())
}

/// Refuse a new run while another run of the same playbook is unfinished.
fn refuse_if_unfinished(ctx: &Ctx, playbook: &str, hint: &str) -> Result<()> {
    for (view, state, _) in all_runs(ctx)? {
        if view.playbook == playbook && state == RunState::RollbackIncomplete {
            return Err(error::refused(format!(
                "run {} of `{playbook}` is {}: its rollback could not put everything back; finish it with `{}` first",
                view.id,
                state.as_str(),
                ctx.device.hint(&format!("rollback {}", view.id))
            )));
        }
        if view.playbook == playbook
            && matches!(
                state,
                RunState::Paused | RunState::Interrupted | RunState::Running | RunState::Deferred
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
        // The run's own credentials (a policy's parameters) come first for everything this
        // process does for the run: the server steps and their preflight.
        let own = run_dir.join(crate::server::creds::RUN_CREDENTIALS_FILE);
        if own.symlink_metadata().is_ok() {
            crate::server::creds::use_for_this_run(Some(
                crate::server::creds::RunCredentials::File(own),
            ));
        }
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
            prompt: None,
            created_here: false,
            answered: false,
        }
    }
}

impl Runner<'_> {
    /// The run's own credentials file (`<run>/credentials.toml`, 0600 in the 0700 run folder).
    fn credentials_file(&self) -> PathBuf {
        self.run_dir
            .join(crate::server::creds::RUN_CREDENTIALS_FILE)
    }

    /// Move credentials a policy staged into the run's folder (replacing the run's earlier
    /// ones: a resume given new credentials) and use them from now on. A rename within `runs/`:
    /// the secret is never copied, and never in the journal (a note says only that they exist).
    fn adopt_credentials(&mut self, staged: &StagedCredentials) -> Result<()> {
        let own = self.credentials_file();
        std::fs::rename(&staged.path, &own).with_context(|| {
            format!(
                "moving the API credentials into the run's folder {}",
                self.run_dir.display()
            )
        })?;
        for dir in [self.ctx.state.runs(), self.run_dir.clone()] {
            std::fs::File::open(&dir)
                .and_then(|d| d.sync_all())
                .with_context(|| format!("syncing {}", dir.display()))?;
        }
        crate::server::creds::use_for_this_run(Some(crate::server::creds::RunCredentials::File(
            own,
        )));
        tracing::info!(run = %self.run_id, "API credentials from the policy's parameters kept in the run's 0600 file until the run ends");
        self.append(Record::Note {
            key: CREDENTIALS_NOTE.into(),
            value: "from the Jamf policy's parameters; deleted when the run ends".into(),
        })
    }

    /// Delete the run's own credentials (the run ended or is rolled back). A failure is logged
    /// and shown, never fatal: `purge` deletes what is left.
    pub(super) fn forget_credentials(&mut self) {
        let own = self.credentials_file();
        match crate::server::creds::delete_file(&own) {
            Ok(true) => {
                tracing::info!(run = %self.run_id, "deleted the run's API credentials");
                crate::server::creds::use_for_this_run(None);
            }
            Ok(false) => {}
            Err(e) => {
                tracing::error!(target: crate::output::SHOWN, run = %self.run_id, "{e:#}");
                self.printer.line(&format!("{e:#} (or `reenroll purge`)"));
            }
        }
    }
}

/// The journal note saying a run has its own credentials (never their values).
pub const CREDENTIALS_NOTE: &str = "credentials";

/// Credentials a Jamf policy passed as parameters, written at once to a 0600 file in the
/// root-only `runs/` folder (`.credentials-<pid>.toml`) until a run takes them over
/// (`schedule`, `confirm_and_hand_off`); deleted when dropped if none did.
pub struct StagedCredentials {
    path: PathBuf,
}

/// The name prefix of a staged credentials file in `runs/` (never a run id: ids start with a digit).
const STAGED_PREFIX: &str = ".credentials-";

impl StagedCredentials {
    pub fn write(ctx: &Ctx, creds: &crate::server::Credentials) -> Result<StagedCredentials> {
        ctx.state.prepare()?;
        let path = ctx
            .state
            .runs()
            .join(format!("{STAGED_PREFIX}{}.toml", std::process::id()));
        // A leftover of a process that had this pid and died before cleaning up.
        crate::server::creds::delete_file(&path)?;
        let staged = StagedCredentials { path };
        creds.write_new_file(&staged.path)?;
        crate::server::creds::use_for_this_run(Some(crate::server::creds::RunCredentials::File(
            staged.path.clone(),
        )));
        Ok(staged)
    }

    /// Staged files whose process is gone (`purge` deletes them).
    fn abandoned(ctx: &Ctx) -> Vec<PathBuf> {
        let Ok(rd) = std::fs::read_dir(ctx.state.runs()) else {
            return Vec::new();
        };
        rd.filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                let pid: i32 = name
                    .strip_prefix(STAGED_PREFIX)?
                    .strip_suffix(".toml")?
                    .parse()
                    .ok()?;
                let alive = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok();
                (!alive || pid == std::process::id() as i32).then(|| e.path())
            })
            .collect()
    }
}

impl Drop for StagedCredentials {
    fn drop(&mut self) {
        if let Err(e) = crate::server::creds::delete_file(&self.path) {
            tracing::error!("{e:#}");
        }
    }
}

mod daemon;
mod damage;
mod purge;
mod rollback;
mod run;
mod status;

pub use daemon::{confirm_and_hand_off, schedule};
pub use purge::purge;
pub use rollback::{
    incomplete_text, preview as rollback_preview, reregistered_warning, rollback, EndState,
    PreviewStep, RollbackOptions, RollbackPreview, RollbackReport,
};
pub use run::{find_run, resume, run, ResumeOptions};
pub use status::{status, RunStatus, StatusReport, StepStatus};

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
        // The change happened (and was verified) but is not journaled yet: its intent is open.
        fault::point(&format!("before-applied:{step}#{n}"));
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
    fn out(&self) -> &Printer {
        self.printer
    }
}
