//! `status`: each run's state and steps, read from its journal.

use super::*;

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
    /// State `deferred`: the step the user deferred, how often, and when they are asked again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deferred: Option<Deferred>,
    pub steps: Vec<StepStatus>,
    /// State `rollback-incomplete`: what the last rollback could not put back (`STEP: why`),
    /// which the next `rollback` retries.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_restored: Vec<String>,
    pub exceptions: Vec<String>,
    #[serde(serialize_with = "crate::action::facts::serialize_json_view")]
    pub facts: Facts,
    /// What the admin should know about the run's steps (what a keychain purge cannot see).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// Why the run's journal cannot be trusted (its state is then `damaged`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub damage: Option<String>,
    /// Entries of the run's folder (`quarantine/<n>`, `keychain/<name>.json`) that no trusted
    /// record explains: the journal was cut short or damaged before their records.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unexplained: Vec<String>,
}

#[derive(Serialize)]
pub struct Deferred {
    pub step: String,
    /// Deferrals so far (journaled, kept across a resume).
    pub deferrals: u32,
    /// The next prompt (RFC 3339).
    pub until: String,
}

#[derive(Serialize)]
pub struct StepStatus {
    pub id: String,
    pub state: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub summary: String,
}

pub fn status(ctx: &Ctx, id: Option<&str>) -> Result<StatusReport> {
    // Read-only: each program's answer is asked once (`Ctx::read_only`).
    let look = ctx.read_only();
    let ctx = &look;
    let mut runs = Vec::new();
    for run in super::damage::load_all(ctx)? {
        let (view, state, records) = match run {
            super::damage::Run::Sound(view, state, records) => (view, state, records),
            super::damage::Run::Damaged(d) => {
                if id.is_none_or(|i| i == d.id) {
                    runs.push(super::damage::status_of(ctx, &d));
                }
                continue;
            }
        };
        if id.is_some_and(|i| i != view.id) {
            continue;
        }
        let mut notes = Vec::new();
        let unexplained = super::damage::account(ctx, &view.id)
            .map(|e| crate::journal::damage::unexplained(&e))
            .unwrap_or_default();
        if !unexplained.is_empty() {
            notes.push(super::damage::hint(ctx, &view.id));
        }
        let step_ids: Vec<String> = match records.first() {
            Some(Record::Header {
                source,
                origin,
                vars,
                ..
            }) => {
                match Playbook::parse_recorded(source, origin) {
                    Ok(pb) => {
                        // A settle wait cut below the article's minimum, with any `resume --set`.
                        let mut values = vars.clone();
                        for (k, v) in &view.notes {
                            if let Some(k) = k.strip_prefix("set:") {
                                values.insert(k.to_string(), v.clone());
                            }
                        }
                        notes.extend(pb.below_advised(&values));
                        if pb
                            .steps
                            .iter()
                            .any(|s| matches!(s.action, ActionSpec::KeychainPurge(_)))
                        {
                            notes.push(crate::keychain::DATA_PROTECTION_NOTE.to_string());
                        }
                        pb.steps.iter().map(|s| s.id.clone()).collect()
                    }
                    Err(_) => view.steps.keys().cloned().collect(),
                }
            }
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
            deferred: if state == RunState::Deferred {
                view.deferred.as_ref().map(|(step, until)| Deferred {
                    deferrals: view
                        .notes
                        .get(&format!("{}{step}", crate::action::notify::NOTE_DEFERRALS))
                        .and_then(|n| n.parse().ok())
                        .unwrap_or(0),
                    step: step.clone(),
                    until: until.clone(),
                })
            } else {
                None
            },
            steps,
            not_restored: if state == RunState::RollbackIncomplete {
                view.rollback_ended.clone().unwrap_or_default()
            } else {
                Vec::new()
            },
            exceptions: view.exceptions.clone(),
            facts: view.facts.clone(),
            notes,
            damage: None,
            unexplained,
        });
    }
    if let Some(id) = id {
        if runs.is_empty() {
            return Err(error::invalid(format!("no run `{id}`")));
        }
    }
    Ok(StatusReport { runs })
}
