//! Jamf Pro: delete the computer record (unmanaging it first while it is managed), or send the
//! unmanage command alone while the MDM profile is still installed.

use std::time::{Instant, SystemTime};

use anyhow::{Context, Result};

use super::{
    finished, mdm_profile_installed, send, several_or_none, sleep_unless_cancelled, Request, Spec,
    PROFILE_POLL,
};
use crate::action::{Env, Outcome, Recorder};
use crate::server::cleanup::{jamf_step, JamfPlan};
use crate::server::{ApplyOptions, Clients, ServerTarget};

impl Spec {
    pub(super) fn apply_jamf(
        &self,
        env: &Env,
        rec: &mut dyn Recorder,
        clients: &Clients,
        target: &ServerTarget,
    ) -> Result<Outcome> {
        let jamf = clients.jamf.as_ref().context("no Jamf Pro client")?;
        let plan = jamf_step::preview(jamf, target)?;
        let none = format!("Jamf Pro has no computer with serial {}", target.serial);
        if let Some(end) = several_or_none(
            env,
            rec,
            plan.computers.is_empty().then_some(none),
            several(&plan),
            &plan.records(),
        )? {
            return Ok(end);
        }
        let mut done = Vec::new();
        for mut one in plan.each() {
            let shown = one.records().remove(0);
            // A managed record is unmanaged first: deleting it would strand the MDM profile.
            if one.computers[0].managed != Some(false) {
                let r = send(rec, Request::Unmanage, &shown, &mut done, || {
                    jamf_step::unmanage(jamf, &one, true)
                })?;
                if r.record_was_gone() {
                    continue;
                }
                one.computers[0].managed = Some(false);
            }
            send(rec, Request::DeleteJamf, &shown, &mut done, || {
                jamf_step::apply(jamf, &one, &ApplyOptions::default())
            })?;
        }
        finished(rec, env.step_id, SystemTime::now())?;
        Ok(Outcome::Done(done.join("; ")))
    }

    pub(super) fn apply_unmanage(
        &self,
        env: &Env,
        rec: &mut dyn Recorder,
        clients: &Clients,
        target: &ServerTarget,
    ) -> Result<Outcome> {
        let sent_key = format!("unmanage-sent:{}", env.step_id);
        let sent = match rec.get_note(&sent_key) {
            // Sent by an earlier attempt: wait for it rather than queue it again.
            Some(at) => at,
            None => {
                let jamf = clients.jamf.as_ref().context("no Jamf Pro client")?;
                let plan = jamf_step::preview(jamf, target)?;
                if plan.computers.is_empty() {
                    tracing::info!(
                        step = env.step_id,
                        "Jamf Pro has no computer with serial {}: no unmanage command can be sent",
                        target.serial
                    );
                    return self.operator_step().apply(env, rec);
                }
                if let Some(end) = several_or_none(env, rec, None, several(&plan), &plan.records())?
                {
                    return Ok(end);
                }
                let mut done = Vec::new();
                for one in plan.each() {
                    let shown = one.records().remove(0);
                    send(rec, Request::Unmanage, &shown, &mut done, || {
                        jamf_step::unmanage(jamf, &one, true)
                    })?;
                }
                let at = crate::action::now_rfc3339();
                rec.note(&sent_key, &at)?;
                at
            }
        };
        let start = Instant::now();
        let bound = self.wait_bound()?;
        loop {
            if !mdm_profile_installed(env)? {
                return Ok(Outcome::Done(format!(
                    "unmanage command sent at {sent}; the MDM profile is gone"
                )));
            }
            if start.elapsed() >= bound {
                break;
            }
            if !sleep_unless_cancelled(PROFILE_POLL, rec) {
                break;
            }
        }
        let reason = format!(
            "the unmanage command was sent at {sent} but the MDM profile is still installed (the Mac must be online to receive it); `{}` checks again. If it stays: {}\n  then: `{}`",
            env.device.hint("resume"),
            self.operator.trim(),
            env.device.hint(&format!("resume --confirm {}", env.step_id))
        );
        Ok(self.not_yet(reason))
    }
}

/// Several computers with the serial, where one is expected: what to say when pausing.
fn several(plan: &JamfPlan) -> Option<String> {
    plan.needs_allow_multiple.then(|| {
        format!(
            "{} Jamf Pro computers have serial {}",
            plan.computers.len(),
            plan.serial
        )
    })
}
