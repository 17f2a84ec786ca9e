//! The state of a run, derived by replaying its journal. Nothing else stores state: what the
//! journal says happened is the only record, and the device is re-checked before trusting it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::record::{Change, Record, Undo};

/// The note a `notify` step writes when the user deferred (`deferred-until:<step>` = the time
/// of the next prompt): the run is `deferred` from it until the step ends or the run pauses.
pub const NOTE_DEFERRED_UNTIL: &str = "deferred-until:";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunState {
    Running,
    /// Running, and waiting because the user at the Mac deferred (a `notify` step): the process
    /// holds the lock and prompts again at the time its `deferred-until:<step>` note gives.
    Deferred,
    Paused,
    /// The process died (crash, kill -9, power loss) without pausing.
    Interrupted,
    Completed,
    Failed,
    RolledBack,
    /// A rollback ended with changes it could not put back (a conflict, a locked keychain, a
    /// disk error): the run still owes them; `rollback` retries exactly those, `purge` keeps
    /// what they need.
    RollbackIncomplete,
}

impl RunState {
    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Running => "running",
            RunState::Deferred => "deferred",
            RunState::Paused => "paused",
            RunState::Interrupted => "interrupted",
            RunState::Completed => "completed",
            RunState::Failed => "failed",
            RunState::RolledBack => "rolled-back",
            RunState::RollbackIncomplete => "rollback-incomplete",
        }
    }
    /// A run that `resume` can continue.
    pub fn resumable(self) -> bool {
        matches!(
            self,
            RunState::Paused | RunState::Interrupted | RunState::Failed
        )
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepState {
    Pending,
    Running,
    Done,
    /// Already in the wanted state (or not applicable): nothing was changed.
    Skipped,
    SkippedByAdmin,
    Waiting,
    Failed,
    RolledBack,
}

impl StepState {
    pub fn as_str(self) -> &'static str {
        match self {
            StepState::Pending => "pending",
            StepState::Running => "running",
            StepState::Done => "done",
            StepState::Skipped => "skipped",
            StepState::SkippedByAdmin => "skipped-by-admin",
            StepState::Waiting => "waiting",
            StepState::Failed => "failed",
            StepState::RolledBack => "rolled-back",
        }
    }
    pub fn finished(self) -> bool {
        matches!(
            self,
            StepState::Done | StepState::Skipped | StepState::SkippedByAdmin
        )
    }
}

/// One applied change and whether rollback has put it back.
#[derive(Clone, Debug)]
pub struct AppliedChange {
    pub step: String,
    pub n: u64,
    pub undo: Undo,
    pub restored: bool,
}

#[derive(Clone, Debug, Default)]
pub struct RunView {
    pub id: String,
    pub playbook: String,
    pub started: String,
    pub ended: Option<String>,
    pub ended_state: Option<RunState>,
    pub paused: Option<(Option<String>, String)>,
    pub steps: BTreeMap<String, StepState>,
    pub step_summaries: BTreeMap<String, String>,
    /// Intents without a matching Applied/ChangeFailed (a crash between them).
    pub dangling: Vec<(String, u64, Change)>,
    pub applied: Vec<AppliedChange>,
    pub confirmed: BTreeMap<String, String>,
    pub skipped_by_admin: Vec<String>,
    pub notes: BTreeMap<String, String>,
    pub facts: BTreeMap<String, serde_json::Value>,
    pub exceptions: Vec<String>,
    pub rollback_started: bool,
    /// How the newest rollback ended: what it could not put back (empty: everything is back).
    /// `None` while no rollback ended, or since another one started.
    pub rollback_ended: Option<Vec<String>>,
    pub last_step_started: Option<String>,
    pub next_n: u64,
    /// The user deferred a `notify` step: (step, the time of the next prompt), from its
    /// `deferred-until:<step>` note until the step ends, the run pauses, ends or rolls back.
    pub deferred: Option<(String, String)>,
}

impl RunView {
    pub fn from_records(records: &[Record]) -> RunView {
        let mut v = RunView::default();
        let mut intents: BTreeMap<(String, u64), Change> = BTreeMap::new();
        for r in records {
            match r {
                Record::Header {
                    run_id,
                    playbook,
                    started,
                    ..
                } => {
                    v.id = run_id.clone();
                    v.playbook = playbook.clone();
                    v.started = started.clone();
                }
                Record::Facts { facts } => v.facts.extend(facts.clone()),
                Record::StepStart { step, .. } => {
                    v.steps.insert(step.clone(), StepState::Running);
                    v.last_step_started = Some(step.clone());
                    v.paused = None;
                    v.ended_state = None;
                    v.ended = None;
                }
                Record::Intent { step, n, change } => {
                    intents.insert((step.clone(), *n), change.clone());
                    v.next_n = v.next_n.max(n + 1);
                }
                Record::Applied { step, n, undo } => {
                    intents.remove(&(step.clone(), *n));
                    v.applied.push(AppliedChange {
                        step: step.clone(),
                        n: *n,
                        undo: undo.clone(),
                        restored: false,
                    });
                }
                Record::ChangeFailed {
                    step,
                    n,
                    target,
                    error,
                    exception,
                } => {
                    intents.remove(&(step.clone(), *n));
                    if *exception {
                        v.exceptions.push(format!("{step}: {target}: {error}"));
                    }
                }
                Record::StepEnd {
                    step,
                    state,
                    summary,
                    ..
                } => {
                    v.deferred = None;
                    v.steps.insert(step.clone(), *state);
                    v.step_summaries.insert(step.clone(), summary.clone());
                }
                Record::Paused { step, reason, .. } => {
                    v.deferred = None;
                    v.paused = Some((step.clone(), reason.clone()));
                    if let Some(s) = step {
                        v.steps.insert(s.clone(), StepState::Waiting);
                    }
                }
                Record::Confirmed { step, at } => {
                    v.confirmed.insert(step.clone(), at.clone());
                }
                Record::SkippedByAdmin { step, .. } => {
                    v.skipped_by_admin.push(step.clone());
                    v.steps.insert(step.clone(), StepState::SkippedByAdmin);
                }
                Record::Note { key, value } => {
                    if let Some(step) = key.strip_prefix(NOTE_DEFERRED_UNTIL) {
                        v.deferred = Some((step.to_string(), value.clone()));
                    }
                    v.notes.insert(key.clone(), value.clone());
                }
                Record::RunEnd {
                    state,
                    at,
                    exceptions,
                } => {
                    v.ended_state = Some(*state);
                    v.ended = Some(at.clone());
                    v.paused = None;
                    v.deferred = None;
                    for e in exceptions {
                        if !v.exceptions.contains(e) {
                            v.exceptions.push(e.clone());
                        }
                    }
                }
                Record::RollbackStart { .. } => {
                    v.rollback_started = true;
                    // A retry of a rollback that ended incomplete: open again until it ends.
                    v.rollback_ended = None;
                    v.paused = None;
                    v.deferred = None;
                }
                Record::Restored { step, n, .. } => {
                    if let Some(a) = v.applied.iter_mut().find(|a| &a.step == step && a.n == *n) {
                        a.restored = true;
                    }
                }
                Record::RollbackEnd { failures, .. } => {
                    v.rollback_ended = Some(failures.clone());
                    for (step, state) in v.steps.iter_mut() {
                        let restored = v.applied.iter().any(|a| &a.step == step && a.restored);
                        *state = match *state {
                            // A step paused (at the restart) or cut short that changed something:
                            // put back like a done one.
                            StepState::Done
                            | StepState::Waiting
                            | StepState::Running
                            | StepState::Failed
                                if restored =>
                            {
                                StepState::RolledBack
                            }
                            // Nothing waits any more once the run is rolled back.
                            StepState::Waiting | StepState::Running => StepState::Pending,
                            other => other,
                        };
                    }
                }
            }
        }
        v.dangling = intents.into_iter().map(|((s, n), c)| (s, n, c)).collect();
        v
    }

    /// The run's state; `lock_held` tells a live run from one whose process died.
    pub fn state(&self, lock_held_by_this_run: bool) -> RunState {
        if let Some(failures) = &self.rollback_ended {
            return if failures.is_empty() {
                RunState::RolledBack
            } else {
                RunState::RollbackIncomplete
            };
        }
        if let Some(s) = self.ended_state {
            if !self.rollback_started {
                return s;
            }
        }
        if lock_held_by_this_run {
            if self.deferred.is_some() {
                return RunState::Deferred;
            }
            return RunState::Running;
        }
        if self.paused.is_some() && !self.rollback_started {
            return RunState::Paused;
        }
        RunState::Interrupted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(key: &str, value: &str) -> Record {
        Record::Note {
            key: key.into(),
            value: value.into(),
        }
    }

    #[test]
    fn a_deferral_makes_a_live_run_deferred_until_the_step_ends_or_the_run_pauses() {
        let start = Record::StepStart {
            step: "tell-user".into(),
            at: "t".into(),
        };
        let deferred = note("deferred-until:tell-user", "2026-11-30T11:00:00Z");
        let mut records = vec![start.clone(), note("deferrals:tell-user", "1"), deferred];
        let v = RunView::from_records(&records);
        assert_eq!(v.state(true), RunState::Deferred);
        assert_eq!(
            v.deferred,
            Some(("tell-user".into(), "2026-11-30T11:00:00Z".into()))
        );
        // The process died while deferred: interrupted, resumable, the count still in the notes.
        assert_eq!(v.state(false), RunState::Interrupted);
        assert!(v.state(false).resumable());
        assert!(!RunState::Deferred.resumable());
        assert_eq!(v.notes["deferrals:tell-user"], "1");
        // A resume starts the step again: still deferred until it writes its next note or ends.
        records.push(start);
        assert_eq!(
            RunView::from_records(&records).state(true),
            RunState::Deferred
        );
        let mut paused = records.clone();
        paused.push(Record::Paused {
            step: Some("tell-user".into()),
            reason: "stopped by a signal".into(),
            at: "t".into(),
            until: None,
        });
        let v = RunView::from_records(&paused);
        assert_eq!(
            (v.state(false), v.deferred.clone()),
            (RunState::Paused, None)
        );
        records.push(Record::StepEnd {
            step: "tell-user".into(),
            state: StepState::Done,
            at: "t".into(),
            summary: "the user agreed".into(),
        });
        assert_eq!(
            RunView::from_records(&records).state(true),
            RunState::Running
        );
        assert_eq!(RunState::Deferred.as_str(), "deferred");
    }
}
