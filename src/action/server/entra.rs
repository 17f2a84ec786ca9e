//! Entra ID: delete the device object(s) whose device ids preflight read.

use std::time::SystemTime;

use anyhow::{Context, Result};

use super::{finished, send, several_or_none, Request, Spec};
use crate::action::{Env, Outcome, Recorder};
use crate::server::cleanup::entra_step;
use crate::server::{Clients, ServerTarget};

impl Spec {
    pub(super) fn apply_entra(
        &self,
        env: &Env,
        rec: &mut dyn Recorder,
        clients: &Clients,
        target: &ServerTarget,
    ) -> Result<Outcome> {
        let graph = clients.graph.as_ref().context("no Graph client")?;
        let plan = entra_step::preview(graph, target)?;
        let none = format!(
            "Entra ID has no device with device id {}",
            target.entra_device_ids.join(", ")
        );
        let several = plan
            .lookups
            .iter()
            .filter(|l| l.matches.len() > 1)
            .map(|l| {
                format!(
                    "{} Entra devices have device id {}",
                    l.matches.len(),
                    l.device_id
                )
            })
            .collect::<Vec<_>>()
            .join(", ");
        if let Some(end) = several_or_none(
            env,
            rec,
            plan.lookups
                .iter()
                .all(|l| l.matches.is_empty())
                .then_some(none),
            plan.needs_allow_multiple.then_some(several),
            &plan.records(),
        )? {
            return Ok(end);
        }
        let mut done = Vec::new();
        for one in plan.each() {
            let shown = one.records().remove(0);
            send(rec, Request::DeleteEntra, &shown, &mut done, || {
                entra_step::apply(graph, &one, true)
            })?;
        }
        finished(rec, env.step_id, SystemTime::now())?;
        Ok(Outcome::Done(done.join("; ")))
    }
}
