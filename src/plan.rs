//! `plan`: look at the device and describe, step by step, what `run` would change. Never changes
//! anything (programs it runs are read-only probes: `profiles status`, `scutil`, `sysctl`...).

use std::collections::BTreeMap;
use std::time::SystemTime;

use anyhow::Result;
use serde::Serialize;

use crate::action::{facts, ActionSpec, Env, Facts, Op, StepPlan};
use crate::engine::{self, Ctx, Sources};
use crate::playbook::Playbook;

#[derive(Serialize)]
pub struct PlanReport {
    pub playbook: String,
    pub description: String,
    pub device: String,
    #[serde(serialize_with = "crate::action::facts::serialize_json_view")]
    pub facts: Facts,
    pub vars: BTreeMap<String, VarView>,
    pub steps: Vec<PlannedStep>,
    pub totals: Totals,
    pub warnings: Vec<String>,
    /// API credentials that are configured but do not work (`run` would refuse): one line per
    /// service. Empty when they work or none are configured.
    pub server_access: Vec<String>,
    /// The local users (name, home as the Mac sees it): human output groups a path found in
    /// every home on one line. Not in the JSON document, whose changes stay one per path.
    #[serde(skip)]
    pub users: Vec<(String, String)>,
}

#[derive(Serialize)]
pub struct VarView {
    pub value: String,
    pub source: String,
}

#[derive(Clone, Serialize)]
pub struct PlannedStep {
    pub id: String,
    pub title: String,
    pub action: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub article: Option<String>,
    pub needs_root: bool,
    pub reversible: bool,
    pub changes: Vec<crate::action::PlannedChange>,
    /// What the step leaves in place on purpose, with the rule that keeps it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub kept: Vec<crate::action::Kept>,
    pub already: Vec<String>,
    pub unseen: Vec<String>,
    pub notes: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_applicable: Option<String>,
}

#[derive(Serialize, Default)]
pub struct Totals {
    pub remove: usize,
    pub bytes: u64,
    pub refuse: usize,
    pub run: usize,
    pub delete: usize,
    pub operator: usize,
    pub irreversible: usize,
}

/// What the preflight of the server credentials found (`server_access`).
#[derive(Clone, Debug, Default)]
pub struct ServerAccess {
    /// "SERVICE: what is wrong", one per service whose configured credentials do not work.
    pub problems: Vec<String>,
    /// The services checked, for the record.
    pub checked: Vec<String>,
    /// The Jamf Pro version the server gave, to hand to the run.
    pub jamf_version: Option<String>,
}

/// Checks, with GET requests only (and token POSTs), that the API credentials the playbook's
/// applicable server steps would use work: token, reachability, the read privilege. Each
/// service once. Steps without credentials (operator steps) are not checked.
pub fn server_access(
    ctx: &Ctx,
    pb: &Playbook,
    vars: &BTreeMap<String, String>,
    facts: &Facts,
) -> ServerAccess {
    let mut out = ServerAccess::default();
    let values = engine::values_with_facts(vars, facts);
    for step in &pb.steps {
        if !matches!(step.action, ActionSpec::Server(_))
            || engine::applies(step.when.as_ref(), vars, facts).is_err()
        {
            continue;
        }
        let Ok(ActionSpec::Server(spec)) = pb.expand_step(step, &values) else {
            continue;
        };
        if out.checked.iter().any(|c| c == spec.service()) {
            continue;
        }
        let env = Env {
            device: &ctx.device,
            values: values.clone(),
            facts,
            step_id: &step.id,
            reversible: false,
            now: SystemTime::now(),
        };
        let Some(check) = spec.check_access(&env) else {
            continue;
        };
        out.checked.push(check.service.to_string());
        if let Some(v) = check.jamf_version {
            out.jamf_version = Some(v.to_string());
        }
        if let Some(p) = check.problem {
            out.problems.push(format!("{}: {p}", check.service));
        }
    }
    out
}

/// The facts `plan` and the preflight read (read-only probes).
pub fn gather_facts(ctx: &Ctx, pb: &Playbook, vars: &BTreeMap<String, String>) -> Facts {
    if !pb
        .steps
        .iter()
        .any(|s| matches!(s.action, ActionSpec::Facts(_)))
    {
        return Facts::new();
    }
    let empty = Facts::new();
    facts::gather(&Env {
        device: &ctx.device,
        values: vars.clone(),
        facts: &empty,
        step_id: "",
        reversible: false,
        now: SystemTime::now(),
    })
}

pub fn plan(
    ctx: &Ctx,
    pb: &Playbook,
    vars: &BTreeMap<String, String>,
    sources: &Sources,
) -> Result<PlanReport> {
    // One look: each program's answer is asked once for all the steps (never changes anything).
    let look = ctx.read_only();
    let ctx = &look;
    let mut warnings = Vec::new();
    fn base_env<'a>(ctx: &'a Ctx, values: BTreeMap<String, String>, facts: &'a Facts) -> Env<'a> {
        Env {
            device: &ctx.device,
            values,
            facts,
            step_id: "",
            reversible: false,
            now: SystemTime::now(),
        }
    }
    let facts = gather_facts(ctx, pb, vars);
    if let Some(serde_json::Value::Array(u)) = facts.get("unreadable") {
        warnings.extend(
            u.iter()
                .filter_map(|v| v.as_str())
                .map(|s| format!("could not read {s}")),
        );
    }
    let values = engine::values_with_facts(vars, &facts);
    let mut steps = Vec::new();
    let mut totals = Totals::default();
    let mut changes_before = false;
    for step in &pb.steps {
        let action = step.action.kind().to_string();
        let mut ps = PlannedStep {
            id: step.id.clone(),
            title: step.title.clone(),
            action,
            article: step.article.clone(),
            needs_root: step.needs_root,
            reversible: step.reversible,
            changes: Vec::new(),
            kept: Vec::new(),
            already: Vec::new(),
            unseen: Vec::new(),
            notes: Vec::new(),
            not_applicable: None,
        };
        if let Err(reason) = engine::applies(step.when.as_ref(), vars, &facts) {
            ps.not_applicable = Some(reason);
            steps.push(ps);
            continue;
        }
        let env = Env {
            step_id: &step.id,
            reversible: step.reversible,
            ..base_env(ctx, values.clone(), &facts)
        };
        let sp: StepPlan = match pb.expand_step(step, &values).and_then(|a| a.plan(&env)) {
            Ok(p) => p,
            Err(e) => StepPlan {
                unseen: vec![format!("could not plan this step: {e:#}")],
                ..Default::default()
            },
        };
        for c in &sp.changes {
            match c.op {
                Op::Remove => {
                    totals.remove += 1;
                    totals.bytes += c.bytes.unwrap_or(0);
                }
                Op::Refuse => totals.refuse += 1,
                Op::Run => totals.run += 1,
                Op::Delete => totals.delete += 1,
                Op::Operator => totals.operator += 1,
                _ => {}
            }
            if !c.reversible && !matches!(c.op, Op::Refuse | Op::Operator | Op::Wait) {
                totals.irreversible += 1;
            }
        }
        if let Some(kind) = sp.acts_as {
            ps.action = kind.to_string();
        }
        ps.changes = sp.changes;
        ps.kept = sp.kept;
        ps.already = sp.already;
        ps.unseen = sp.unseen;
        ps.notes = sp.notes;
        if ps.changes.is_empty() && !ps.already.is_empty() && changes_before {
            // What holds now may not hold by then: re-enrollment looks done on a Mac that is
            // still enrolled, until the earlier steps unenroll it.
            ps.notes.push("true now, but earlier steps change the device first: checked again when the run gets here".into());
        }
        changes_before |= ps
            .changes
            .iter()
            .any(|c| !matches!(c.op, Op::Refuse | Op::Operator | Op::Wait));
        steps.push(ps);
    }
    let vars_view = vars
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                VarView {
                    value: v.clone(),
                    source: sources.get(k).cloned().unwrap_or_default(),
                },
            )
        })
        .collect();
    warnings.extend(pb.below_advised(vars));
    if let Some(w) = managed_payloads_warning(pb, &steps, &facts) {
        warnings.push(w);
    }
    if !pb.allow_paths.is_empty() {
        warnings.push(format!(
            "this playbook widens where it may remove things with allow_paths: {}",
            pb.allow_paths.join(", ")
        ));
    }
    let server_access = server_access(ctx, pb, vars, &facts).problems;
    Ok(PlanReport {
        playbook: pb.name.clone(),
        description: pb.description.trim().to_string(),
        device: describe_device(ctx),
        facts,
        vars: vars_view,
        steps,
        totals,
        warnings,
        server_access,
        users: crate::device::users::local_users(&ctx.device)
            .map(|u| u.into_iter().map(|u| (u.name, u.home)).collect())
            .unwrap_or_default(),
    })
}

/// The first step that applies on this device and may remove the MDM profile: `jamf
/// removeMdmProfile` or `removeFramework`, or the server's unmanage (`jamf-unmanage`, `jamf`).
/// Decided on what the steps do, not on their ids, so another playbook is judged the same way.
pub fn mdm_profile_removed_by(pb: &Playbook, steps: &[PlannedStep]) -> Option<String> {
    removes_mdm_profile(pb, |id| {
        steps
            .iter()
            .any(|p| p.id == id && p.not_applicable.is_none())
    })
}

fn removes_mdm_profile(pb: &Playbook, applies: impl Fn(&str) -> bool) -> Option<String> {
    use crate::action::server::System;
    pb.steps
        .iter()
        .filter(|s| applies(&s.id))
        .find(|s| match &s.action {
            ActionSpec::Run(r) => {
                r.program.rsplit('/').next() == Some("jamf")
                    && r.args
                        .iter()
                        .any(|a| a == "removeMdmProfile" || a == "removeFramework")
            }
            ActionSpec::Server(sv) => matches!(sv.system, System::JamfUnmanage | System::Jamf),
            _ => false,
        })
        .map(|s| s.id.clone())
}

/// The managed network and trust payloads (fact `managed_payloads`) when a step of this plan may
/// remove the MDM profile, with that step.
pub fn managed_payloads_at_risk(
    pb: &Playbook,
    steps: &[PlannedStep],
    facts: &Facts,
) -> Option<(String, Vec<String>)> {
    let lines = crate::action::payloads::from_fact(facts.get("managed_payloads"));
    if lines.is_empty() {
        return None;
    }
    mdm_profile_removed_by(pb, steps).map(|step| (step, lines))
}

/// For a run that shows no plan (`run --yes`, `run --step`): the same warning from one look at
/// `profiles`, judging every step (their `when` is decided by the run's preflight). A shell's
/// run is warned, never refused: the admin at it has a channel to the Mac.
pub fn managed_payloads_glance(ctx: &Ctx, pb: &Playbook) -> Option<String> {
    let step = removes_mdm_profile(pb, |_| true)?;
    let found = crate::action::payloads::read(&ctx.device).filter(|p| !p.is_empty())?;
    let lines: Vec<String> = found.iter().map(|p| p.describe()).collect();
    Some(crate::action::payloads::warning(&step, &lines))
}

fn managed_payloads_warning(pb: &Playbook, steps: &[PlannedStep], facts: &Facts) -> Option<String> {
    managed_payloads_at_risk(pb, steps, facts)
        .map(|(step, lines)| crate::action::payloads::warning(&step, &lines))
}

pub fn describe_device(ctx: &Ctx) -> String {
    if ctx.device.is_sandbox() {
        format!("sandbox device at {}", ctx.device.root().display())
    } else {
        if cfg!(target_os = "macos") {
            "this Mac".to_string()
        } else {
            "this host, which is not a Mac (nothing can be read or run here; use --root DIR)"
                .to_string()
        }
    }
}
