//! `wait-for`: wait, with a bound, until the device shows a state (re-enrollment finished: the
//! MDM enrollment and the jamf binary are back). Polls a read-only check; on timeout the run
//! pauses and `resume` waits again.

use std::time::{Duration, Instant};

use anyhow::Result;
use serde::{Deserialize, Serialize};

use super::run::Check;
use super::{Env, Op, Outcome, PlannedChange, Recorder, StepPlan};

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    pub until: Check,
    pub timeout_minutes: String,
    #[serde(default = "default_poll")]
    pub poll_seconds: u64,
}

fn default_poll() -> u64 {
    10
}

impl Spec {
    pub fn paths(&self) -> Vec<String> {
        let mut p: Vec<String> = self
            .until
            .absent
            .iter()
            .chain(&self.until.present)
            .cloned()
            .collect();
        if let Some(c) = &self.until.command {
            p.push(c.program.clone());
        }
        p
    }

    pub fn plan(&self, env: &Env) -> Result<StepPlan> {
        let mut plan = StepPlan::default();
        match self.until.holds(env) {
            Ok(true) => plan.already.push(self.until.describe()),
            _ => plan.changes.push(PlannedChange::new(
                Op::Wait,
                format!(
                    "wait up to {} minute(s) until {}",
                    self.timeout_minutes.trim(),
                    self.until.describe()
                ),
                true,
            )),
        }
        Ok(plan)
    }

    pub fn apply(&self, env: &Env, rec: &mut dyn Recorder) -> Result<Outcome> {
        let wait = super::timer::minutes(
            "timeout_minutes",
            &self.timeout_minutes,
            super::timer::WEEK,
            false,
        )?;
        let minutes = self.timeout_minutes.trim();
        let end = super::timer::deadline(wait);
        loop {
            if self.until.holds(env).unwrap_or(false) {
                return Ok(Outcome::Done(format!(
                    "the device shows it: {}",
                    self.until.describe()
                )));
            }
            if Instant::now() >= end {
                return Ok(Outcome::Pause { reason: format!("still waiting after {minutes} minute(s) for: {}; `reenroll resume` waits again", self.until.describe()), until: None });
            }
            if rec.cancelled() {
                return Ok(Outcome::Pause {
                    reason: format!("interrupted while waiting for: {}", self.until.describe()),
                    until: None,
                });
            }
            std::thread::sleep(
                Duration::from_secs(self.poll_seconds.max(1)).min(
                    end.saturating_duration_since(Instant::now())
                        .max(Duration::from_millis(100)),
                ),
            );
        }
    }
}
