//! Intune: delete the records of the serial (those the Jamf partnership created, or every
//! agent's with `all_agents`), then poll until the Intune search comes back empty; the settle
//! period starts when the last deletion was accepted.

use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result};

use super::{finished, send, sleep_unless_cancelled, Request, Spec, INTUNE_POLL};
use crate::action::{Env, Outcome, Recorder};
use crate::server::cleanup::intune_step;
use crate::server::{Clients, ServerTarget};

impl Spec {
    pub(super) fn apply_intune(
        &self,
        env: &Env,
        rec: &mut dyn Recorder,
        clients: &Clients,
        target: &ServerTarget,
    ) -> Result<Outcome> {
        let graph = clients.graph.as_ref().context("no Graph client")?;
        let plan = intune_step::preview(graph, target)?;
        let deleted_key = format!("deleted-at:{}", env.step_id);
        let mut done = Vec::new();
        for one in plan.each() {
            let shown = one.records().remove(0);
            let r = send(rec, Request::DeleteIntune, &shown, &mut done, || {
                intune_step::apply(graph, &one)
            })?;
            // The settle period before re-enrolling starts when the last deletion is accepted.
            if let Some(at) = r.last_deletion_accepted() {
                rec.note(
                    &deleted_key,
                    &humantime::format_rfc3339_millis(at).to_string(),
                )?;
            }
            done.extend(r.notes.iter().cloned());
        }
        done.extend(plan.keep.iter().map(|d| {
            format!(
                "kept Intune record {} (managed by {})",
                d.id,
                d.management_agent.as_deref().unwrap_or("an unknown agent")
            )
        }));
        let start = Instant::now();
        let bound = self.wait_bound()?;
        loop {
            let w = crate::server::wait_until_intune_clear(
                clients,
                &target.serial,
                target.intune_all_agents,
                Duration::ZERO,
                INTUNE_POLL,
                &|_| {},
            )?;
            if w.clear {
                break;
            }
            if start.elapsed() >= bound || !sleep_unless_cancelled(INTUNE_POLL, rec) {
                return Ok(self.not_yet(format!(
                    "Intune still lists {} record(s) of serial {} ({}); `{}` checks again. If they stay: {}\n  then: `{}`",
                    w.remaining.len(),
                    target.serial,
                    w.remaining.iter().map(|d| d.id.as_str()).collect::<Vec<_>>().join(", "),
                    env.device.hint("resume"),
                    self.operator.trim(),
                    env.device.hint(&format!("resume --confirm {}", env.step_id))
                )));
            }
        }
        let settle_start = rec
            .get_note(&deleted_key)
            .and_then(|t| humantime::parse_rfc3339(&t).ok());
        finished(
            rec,
            env.step_id,
            settle_start.unwrap_or_else(SystemTime::now),
        )?;
        if plan.delete.is_empty() && settle_start.is_none() {
            let mut summary = format!("Intune has no record of serial {} to delete", target.serial);
            for d in done {
                summary.push_str("; ");
                summary.push_str(&d);
            }
            return Ok(Outcome::AlreadyDone(summary));
        }
        done.push("the Intune search for the serial is empty".into());
        Ok(Outcome::Done(done.join("; ")))
    }
}
