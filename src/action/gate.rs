//! `gate`: hold the run until the listed steps are finished (server steps confirmed by an
//! operator or done through the API), then until `settle_minutes` have passed since the last of
//! them (the article asks for at least 30 minutes after the Intune records are deleted). The
//! deadline follows from times kept in the journal, so the wait survives restarts and crashes;
//! it shows a countdown on a terminal and is cut short only by a signal (the run pauses).

use std::time::{Duration, SystemTime};

use anyhow::Result;
use serde::{Deserialize, Serialize};

use super::{Env, Op, Outcome, PlannedChange, Recorder, StepPlan};

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// Step ids that must be finished first.
    pub after: Vec<String>,
    /// Minutes to wait after the last of them finished.
    pub settle_minutes: String,
}

impl Spec {
    fn settle(&self) -> Result<Duration> {
        super::timer::minutes(
            "settle_minutes",
            &self.settle_minutes,
            super::timer::WEEK,
            false,
        )
    }

    pub fn plan(&self, _env: &Env) -> Result<StepPlan> {
        let mut plan = StepPlan::default();
        plan.changes.push(PlannedChange::new(
            Op::Wait,
            format!(
                "wait until {} are confirmed, then {} minute(s)",
                self.after.join(", "),
                self.settle_minutes.trim()
            ),
            true,
        ));
        Ok(plan)
    }

    pub fn apply(&self, env: &Env, rec: &mut dyn Recorder) -> Result<Outcome> {
        let mut missing = Vec::new();
        let mut last: Option<SystemTime> = None;
        for id in &self.after {
            let at = rec
                .confirmed(id)
                .or_else(|| rec.get_note(&format!("finished-at:{id}")));
            match at.and_then(|t| humantime::parse_rfc3339(&t).ok()) {
                Some(t) => last = Some(last.map_or(t, |l: SystemTime| l.max(t))),
                None => missing.push(id.clone()),
            }
        }
        if !missing.is_empty() {
            return Ok(Outcome::Pause {
                reason: format!(
                    "waiting for the server steps: {} (do them, then `{}`)",
                    missing.join(", "),
                    env.device.hint(&format!(
                        "resume {}",
                        missing
                            .iter()
                            .map(|m| format!("--confirm {m}"))
                            .collect::<Vec<_>>()
                            .join(" ")
                    ))
                ),
                until: None,
            });
        }
        if let Some(at) = rec.get_note(&format!("settle-cut:{}", env.step_id)) {
            return Ok(Outcome::Done(format!(
                "{} confirmed; the admin cut the settle wait short at {at}",
                self.after.join(", ")
            )));
        }
        let deadline = super::timer::add_system(
            last.unwrap_or(env.now),
            self.settle()?,
            "the end of the settle wait",
        )?;
        let deadline_text = humantime::format_rfc3339_seconds(deadline).to_string();
        if rec
            .get_note(&format!("deadline:{}", env.step_id))
            .as_deref()
            != Some(deadline_text.as_str())
        {
            rec.note(&format!("deadline:{}", env.step_id), &deadline_text)?;
        }
        if let Some(reason) = countdown(deadline, rec)? {
            return Ok(Outcome::Pause {
                reason,
                until: Some(deadline_text),
            });
        }
        Ok(Outcome::Done(format!(
            "{} confirmed; settled until {deadline_text}",
            self.after.join(", ")
        )))
    }
}

/// Sleep until `deadline` with a countdown through the run's Printer. `Some(reason)`: cut short
/// by a signal.
pub fn countdown(deadline: SystemTime, rec: &dyn Recorder) -> Result<Option<String>> {
    let Ok(left) = deadline.duration_since(SystemTime::now()) else {
        return Ok(None);
    };
    if left.is_zero() {
        return Ok(None);
    }
    let until = humantime::format_rfc3339_seconds(deadline);
    let shown = rec.out().countdown(left, &format!("until {until}"));
    loop {
        let now = SystemTime::now();
        let Ok(left) = deadline.duration_since(now) else {
            break;
        };
        if left.is_zero() {
            break;
        }
        if rec.cancelled() {
            shown.abandon();
            return Ok(Some(format!(
                "the wait until {until} was interrupted; `reenroll resume` continues it"
            )));
        }
        let secs = left.as_secs();
        shown.left(
            left,
            &format!(
                "{:02}:{:02}:{:02} left, until {until}",
                secs / 3600,
                secs / 60 % 60,
                secs % 60,
            ),
        );
        std::thread::sleep(left.min(Duration::from_millis(500)));
    }
    shown.finish();
    Ok(None)
}
