//! `verify-removed`: after the purge steps, look again with the same selectors (the `paths`
//! and `families` of the `remove` steps it names, copied in when the playbook is read, plus any
//! of its own) and name every survivor. A survivor is an exception, so a run that leaves one
//! ends "completed with exceptions" (exit 6), never exit 0. It changes nothing.

use anyhow::Result;
use serde::{Deserialize, Serialize};

use super::remove::Targets;
use super::{Env, Outcome, Recorder, StepPlan};
use crate::device::fs::{self, Probe};
use crate::journal::Change;

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// The ids of earlier `remove` steps whose selectors are checked again.
    #[serde(default)]
    pub steps: Vec<String>,
    /// The selectors to check: filled in from `steps` when the playbook is read (a step may add
    /// its own), in the same shape as a `remove` step's.
    #[serde(default)]
    pub paths: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub families: Vec<super::family::Family>,
}

impl Spec {
    pub fn validate(&self) -> Result<()> {
        anyhow::ensure!(
            !self.steps.is_empty() || !self.paths.is_empty() || !self.families.is_empty(),
            "a `verify-removed` step names no `steps` (the remove steps to check again), `paths` or `families`"
        );
        for f in &self.families {
            f.validate()?;
        }
        Ok(())
    }

    /// Everything the selectors find present now.
    fn survivors(
        &self,
        env: &Env,
        notes: &mut Vec<String>,
    ) -> Result<(Vec<(String, String)>, super::Skipped)> {
        let selectors = super::remove::Spec {
            paths: self.paths.clone(),
            families: self.families.clone(),
        };
        let Targets { paths, skipped } = selectors.targets(env, notes)?;
        let mut out = Vec::new();
        for (path, fam) in paths {
            let why = match fam {
                Some(f) => format!("family {f}"),
                None => "named by the playbook".into(),
            };
            match fs::probe_shallow(env.device, &path)? {
                Probe::Absent => {}
                Probe::Present(_) => out.push((path, why)),
                Probe::Refused(r) => out.push((path, format!("{why}; {r}"))),
            }
        }
        Ok((out, skipped))
    }

    pub fn plan(&self, env: &Env) -> Result<StepPlan> {
        let mut plan = StepPlan::default();
        let names = if self.steps.is_empty() {
            "its own selectors".to_string()
        } else {
            format!("the selectors of {}", self.steps.join(", "))
        };
        plan.notes.push(format!(
            "changes nothing: after the purge, looks again with {names} ({} path(s), {} app family(ies)); anything still there is named as an exception (exit 6)",
            self.paths.len(),
            self.families.len()
        ));
        let _ = env;
        Ok(plan)
    }

    pub fn apply(&self, env: &Env, rec: &mut dyn Recorder) -> Result<Outcome> {
        let mut notes = Vec::new();
        let (survivors, skipped) = match self.survivors(env, &mut notes) {
            Ok(s) => s,
            Err(e) => return Ok(Outcome::Failed(format!("{e:#}"))),
        };
        let mut n_exceptions = 0;
        for (target, why) in &skipped {
            let n = rec.intent(Change::Other {
                what: "verify the purge".into(),
                target: target.clone(),
            })?;
            rec.failed(n, target, &format!("could not be checked: {why}"), true)?;
            n_exceptions += 1;
        }
        for (target, why) in &survivors {
            let n = rec.intent(Change::Other {
                what: "verify the purge".into(),
                target: target.clone(),
            })?;
            rec.failed(
                n,
                target,
                &format!("still present after the purge ({why})"),
                true,
            )?;
            n_exceptions += 1;
        }
        let _ = notes;
        if n_exceptions == 0 {
            return Ok(Outcome::Done(
                "nothing the purge steps select is left on the device".into(),
            ));
        }
        let shown: Vec<&str> = survivors.iter().map(|(p, _)| p.as_str()).take(5).collect();
        let more = survivors.len().saturating_sub(shown.len());
        Ok(Outcome::Done(format!(
            "{n_exceptions} survivor(s) of the purge, each an exception: {}{}",
            shown.join(", "),
            if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            }
        )))
    }
}
