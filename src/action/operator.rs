//! `operator`: something a person does elsewhere (the Jamf Pro console, Entra, Intune), with
//! exact instructions. Confirmed by `reenroll resume --confirm STEP_ID` (at any time, even before
//! the run reaches the step) or at the interactive prompt. A blocking step pauses the run until
//! confirmed; a non-blocking one (`blocking = false`) waits while later steps go on, and a later
//! `gate` step holds the run until it is confirmed.

use anyhow::Result;
use serde::{Deserialize, Serialize};

use super::{Env, Op, Outcome, PlannedChange, Recorder, StepPlan};

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    pub instructions: String,
    #[serde(default = "yes")]
    pub blocking: bool,
}

fn yes() -> bool {
    true
}

impl Spec {
    pub fn plan(&self, _env: &Env) -> Result<StepPlan> {
        let mut plan = StepPlan::default();
        plan.changes.push(PlannedChange::new(
            Op::Operator,
            self.instructions.trim(),
            false,
        ));
        if !self.blocking {
            plan.notes.push(
                "does not hold up the device steps; confirm it with `reenroll resume --confirm`"
                    .into(),
            );
        }
        Ok(plan)
    }

    pub fn apply(&self, env: &Env, rec: &mut dyn Recorder) -> Result<Outcome> {
        if let Some(at) = rec.confirmed(env.step_id) {
            return Ok(Outcome::Done(format!("confirmed by the operator at {at}")));
        }
        let reason = format!(
            "waiting for an operator: {}\n  then: `{}`",
            self.instructions.trim(),
            env.device
                .hint(&format!("resume --confirm {}", env.step_id))
        );
        Ok(if self.blocking {
            Outcome::Pause {
                reason,
                until: None,
            }
        } else {
            Outcome::Waiting(reason)
        })
    }
}
