//! `reenroll jamf-policy "$@"`: the arguments exactly as a Jamf Pro policy passes them to a script.
//! `$1` the target volume, `$2` the computer name, `$3` the user name (may be empty), `$4`..`$11`
//! the admin's parameters, each one or more `key=value` pairs separated by spaces (see
//! `pairs_of`): `playbook=`, `action=run|plan|resume|rollback|status` (default run),
//! `confirm=STEP[,STEP]`, `operator=remote`, `settle_override=yes`, `managed_network=acknowledged`, API credentials (`jamf_url=`, `jamf_client_id=`,
//! `jamf_client_secret=`, `graph_tenant_id=`, … : Jamf gives eight parameters, so one may carry
//! several), or any playbook variable. Empty parameters are ignored.
//!
//! Credentials passed as parameters are visible in a process listing while the policy runs
//! (docs/server.md): the policy moves them into the run's 0600 file at once, and from then on
//! nothing reenroll starts sees them in its arguments or environment.
//!
//! A run handed to the LaunchDaemon from a policy must never strand the Mac: before anything
//! changes, [`unpassable`] finds every pause that only a policy could pass once a step has cut
//! the management channel (`channel = "cuts"` in the playbook: the framework is gone, so no
//! policy reaches the Mac until a step that `restores` it), and the run is refused (exit 4)
//! unless each is covered: done ahead (`confirm=`), passed by the device itself (server steps
//! with API credentials are `server`, not `operator`, in the plan), or explicitly left to an
//! operator over SSH or Screen Sharing (`operator=remote`, and the policy log prints the exact
//! commands). A Mac with managed Wi-Fi, 802.1X, VPN or certificate payloads that may go with the
//! MDM profile is refused too (exit 4) unless `managed_network=acknowledged`.
//!
//! What the policy log shows once a run is handed over is [`summary`]; `action=resume` is
//! checked by [`check_resume`] (confirmations name steps of that run still waiting or to come).

use std::collections::BTreeMap;

use anyhow::Result;

use crate::action::ActionSpec;
use crate::error;
use crate::journal::{Record, RunState, StepState};
use crate::plan::{PlanReport, PlannedStep};
use crate::playbook::{Channel, Playbook};
use crate::server::creds::{self, Credentials};
use crate::server::secret::Secret;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyAction {
    Run,
    Plan,
    Resume,
    Rollback,
    Status,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyRequest {
    pub volume: String,
    pub computer_name: String,
    pub user: String,
    pub playbook: Option<String>,
    /// The parameter number `playbook=` came in (for error messages).
    pub playbook_param: Option<usize>,
    pub action: PolicyAction,
    pub confirm: Vec<String>,
    /// `operator=remote`: operator steps the policy cannot reach are done over SSH or Screen
    /// Sharing with `sudo reenroll resume --confirm STEP`.
    pub remote_operator: bool,
    /// `settle_override=yes`: the admin knows a timer is below the article's minimum.
    pub settle_override: bool,
    /// `managed_network=acknowledged`: the admin knows the MDM profile's removal may take the
    /// Mac's managed Wi-Fi, 802.1X, VPN or certificates with it (`action::payloads`).
    pub managed_network_acknowledged: bool,
    /// Playbook variables with the parameter number each came from.
    pub vars: Vec<(usize, String, String)>,
    /// API credentials (`jamf_client_secret=`, … see `creds::parameter_key`) with the parameter
    /// number each came from. `Secret` keeps them out of `Debug`.
    pub credentials: BTreeMap<String, (usize, Secret)>,
}

impl PolicyRequest {
    /// The credentials given as parameters, checked (`None`: none given). Exit 2 naming the
    /// parameters, never a value.
    pub fn given_credentials(&self) -> Result<Option<Credentials>> {
        if self.credentials.is_empty() {
            return Ok(None);
        }
        let pairs = self
            .credentials
            .iter()
            .map(|(k, (_, v))| (k.clone(), v.clone()))
            .collect();
        let mut params: Vec<usize> = self.credentials.values().map(|(n, _)| *n).collect();
        params.sort_unstable();
        params.dedup();
        Credentials::from_parameters(&pairs).map(Some).map_err(|e| {
            error::invalid(format!(
                "parameter{} {}: {e:#}",
                if params.len() == 1 { "" } else { "s" },
                params
                    .iter()
                    .map(usize::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })
    }
}

/// The keys a parameter may use besides playbook variables (README's table).
pub const KEYS: &[(&str, &str)] = &[
    ("playbook", "an embedded playbook's name (default cause6)"),
    ("action", "run (default), plan (a dry run: prints the plan, changes nothing), resume, rollback or status"),
    ("confirm", "operator or server step id(s), comma-separated, already done (action=run: done ahead, e.g. by `reenroll server cleanup`; action=resume: done since)"),
    ("settle_override", "`yes`: acknowledge a timer set below the article's minimum (intune_settle_minutes under 30); without it such a policy exits 2"),
    ("jamf_url, jamf_client_id, jamf_client_secret", "Jamf Pro API client credentials (docs/server.md: a package placing the 0600 credentials file is safer; parameters show in a process listing while the policy runs); several pairs may share one parameter, separated by spaces"),
    ("graph_tenant_id, graph_client_id, graph_client_secret, graph_url, login_url", "Microsoft Graph app credentials, likewise; graph_url and login_url only for national clouds"),
    ("operator", "`remote`: operator steps that no policy could reach (after the framework is removed) will be confirmed over SSH or Screen Sharing; the policy log prints the commands"),
    ("managed_network", "`acknowledged`: run although the Mac has managed Wi-Fi, 802.1X, VPN or certificate payloads that may be removed with the MDM profile (preflight lists them); without it such a policy exits 4"),
    ("<variable>", "any playbook variable, e.g. intune_settle_minutes=45, self_service_policy_id=42, reboot_delay_minutes=5"),
];

pub fn parse(args: &[String]) -> Result<PolicyRequest> {
    if args.len() > 11 {
        return Err(error::invalid(format!(
            "jamf-policy takes at most 11 parameters as Jamf passes them ($1..$11), got {}",
            args.len()
        )));
    }
    if args.len() < 3 {
        return Err(error::invalid(
            "jamf-policy takes the parameters a Jamf Pro policy passes ($1 target volume, $2 computer name, $3 user name, then $4..$11 key=value); it is meant for a policy script: `reenroll jamf-policy \"$@\"`. By hand, use `reenroll plan` / `reenroll run`",
        ));
    }
    let get = |i: usize| args.get(i - 1).cloned().unwrap_or_default();
    let volume = get(1);
    if !(volume.is_empty() || volume == "/") {
        return Err(error::invalid(format!(
            "parameter 1 (target volume) is `{volume}`: reenroll acts on the running system only (\"/\")"
        )));
    }
    let mut req = PolicyRequest {
        volume,
        computer_name: get(2),
        user: get(3),
        playbook: None,
        playbook_param: None,
        action: PolicyAction::Run,
        confirm: Vec::new(),
        remote_operator: false,
        settle_override: false,
        managed_network_acknowledged: false,
        vars: Vec::new(),
        credentials: BTreeMap::new(),
    };
    for n in 4..=11 {
        let raw = get(n);
        for (k, v) in pairs_of(n, &raw)? {
            let (k, v) = (k.as_str(), v.as_str());
            let p = format!("{k}={}", shown(v));
            if creds::is_credential_key(k) {
                if v.is_empty() {
                    return Err(error::invalid(format!(
                        "parameter {n}: `{k}` is empty; leave it out or give its value"
                    )));
                }
                if v.contains(char::is_whitespace) {
                    // No credential holds white space: a word without its `KEY=` followed.
                    return Err(error::invalid(format!(
                        "parameter {n}: a word without KEY= follows `{k}=` (credentials hold no spaces; the text is not repeated: it may hold a secret)"
                    )));
                }
                if req
                    .credentials
                    .insert(k.to_string(), (n, Secret::new(v)))
                    .is_some()
                {
                    return Err(error::invalid(format!(
                        "parameter {n}: `{k}` is given twice"
                    )));
                }
                continue;
            }
            if creds::looks_like_credential_key(k) {
                // Its value is likely a secret: never a playbook variable (printed in the log).
                return Err(error::invalid(format!(
                    "parameter {n}: `{k}` is not a credential key (the value is not shown); the credential keys are {}",
                    creds::parameter_keys().join(", ")
                )));
            }
            match k {
                "playbook" => {
                    req.playbook_param = Some(n);
                    if req.playbook.replace(v.to_string()).is_some() {
                        return Err(error::invalid(format!("parameter {n}: `playbook` is given twice")));
                    }
                }
                "action" => {
                    req.action = match v {
                        "run" => PolicyAction::Run,
                        "plan" => PolicyAction::Plan,
                        "resume" => PolicyAction::Resume,
                        "rollback" => PolicyAction::Rollback,
                        "status" => PolicyAction::Status,
                        _ => {
                            return Err(error::invalid(format!(
                                "parameter {n} (`{p}`): action `{}` is not one of run, plan, resume, rollback, status", shown(v)
                            )))
                        }
                    }
                }
                "confirm" => {
                    for id in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                        req.confirm.push(id.to_string());
                    }
                }
                "settle_override" => {
                    req.settle_override = match v {
                        "yes" | "true" | "1" => true,
                        "no" | "false" | "0" => false,
                        _ => {
                            return Err(error::invalid(format!(
                                "parameter {n} (`{p}`): settle_override `{}` is not yes or no", shown(v)
                            )))
                        }
                    }
                }
                "operator" => {
                    req.remote_operator = match v {
                        "remote" => true,
                        "policy" => false,
                        _ => {
                            return Err(error::invalid(format!(
                                "parameter {n} (`{p}`): operator `{}` is not `remote` (operator steps confirmed over SSH or Screen Sharing) or `policy`", shown(v)
                            )))
                        }
                    }
                }
                "managed_network" => {
                    req.managed_network_acknowledged = managed_network_value(n, &p, v)?;
                }
                _ => {
                    if req.vars.iter().any(|(_, key, _)| key == k) {
                        return Err(error::invalid(format!("parameter {n}: `{k}` is given twice")));
                    }
                    req.vars.push((n, k.to_string(), v.to_string()));
                }
            }
        }
    }
    if !req.confirm.is_empty()
        && matches!(req.action, PolicyAction::Rollback | PolicyAction::Status)
    {
        return Err(error::invalid(
            "confirm= goes with action=run (steps done ahead) or action=resume (steps done since)",
        ));
    }
    Ok(req)
}

/// A value as an error may repeat it: a short lower-case word (`jump`), else a placeholder. A
/// value with several words may have taken in a secret that lost its key (`action=run SECRET`).
fn shown(v: &str) -> &str {
    if !v.is_empty()
        && v.len() <= 16
        && v.chars()
            .all(|c| c.is_ascii_lowercase() || c == '_' || c == '-')
    {
        v
    } else {
        "<not repeated: it may hold a secret>"
    }
}

/// A word that starts a new pair: `KEY=` with KEY made of ASCII letters, digits and `_`.
fn starts_pair(word: &str) -> bool {
    word.split_once('=').is_some_and(|(k, _)| {
        !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    })
}

/// The `key=value` pairs of parameter `n`. Several pairs are separated by whitespace: a new pair
/// starts at each word that begins with `KEY=`; any other word continues the previous pair's
/// value (so `confirm=a, b` stays one pair). No quoting: a value holds no word that begins with
/// `KEY=`, and the first `=` ends the key (values may contain `=`). API client ids and secrets
/// (Jamf Pro's, Entra's: letters, digits, `~ . _ -`) never contain whitespace. A parameter
/// without any such word is one `key = value` (spaces around `=` allowed). Errors never repeat
/// the parameter's text: it may hold a secret.
fn pairs_of(n: usize, raw: &str) -> Result<Vec<(String, String)>> {
    let p = raw.trim();
    if p.is_empty() {
        return Ok(Vec::new());
    }
    let words: Vec<&str> = p.split_whitespace().collect();
    if !words.iter().any(|w| starts_pair(w)) {
        let Some((k, v)) = p.split_once('=') else {
            return Err(error::invalid(format!(
                "parameter {n}: expected key=value, e.g. action=run (the text is not repeated: it may hold a secret)"
            )));
        };
        let (k, v) = (k.trim(), v.trim());
        if k.is_empty() {
            return Err(error::invalid(format!(
                "parameter {n}: the key before `=` is empty (the text is not repeated: it may hold a secret)"
            )));
        }
        return Ok(vec![(k.to_string(), v.to_string())]);
    }
    let mut out: Vec<(String, String)> = Vec::new();
    for (i, w) in words.iter().enumerate() {
        if starts_pair(w) {
            let (k, v) = w.split_once('=').unwrap_or((w, ""));
            out.push((k.to_string(), v.to_string()));
        } else if let Some((_, v)) = out.last_mut() {
            if !v.is_empty() {
                v.push(' ');
            }
            v.push_str(w);
        } else {
            return Err(error::invalid(format!(
                "parameter {n}: word {} does not start with KEY= (several key=value pairs are separated by spaces; the text is not repeated: it may hold a secret)",
                i + 1
            )));
        }
    }
    Ok(out)
}

/// The steps a policy may confirm: operator steps, and server steps (an operator does them when
/// the Mac has no API credentials).
pub fn confirmable(pb: &Playbook) -> Vec<String> {
    pb.steps
        .iter()
        .filter(|s| matches!(s.action, ActionSpec::Operator(_) | ActionSpec::Server(_)))
        .map(|s| s.id.clone())
        .collect()
}

/// Refuse (exit 2) a `confirm=` naming anything but an operator or server step of `pb`.
pub fn check_confirm(pb: &Playbook, confirm: &[String]) -> Result<()> {
    let valid = confirmable(pb);
    if let Some(bad) = confirm.iter().find(|c| !valid.contains(c)) {
        return Err(error::invalid(format!(
            "confirm={bad}: not an operator or server step of playbook `{}`; the steps an operator can confirm are: {}",
            pb.name,
            valid.join(", ")
        )));
    }
    Ok(())
}

/// A pause that no policy could pass: the step, and what it waits for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unpassable {
    pub step: String,
    /// The step that cut the management channel before it.
    pub cut_by: String,
}

/// Walk the playbook in order with the plan's view of each step (`action` is what the step
/// acts as on this device: a server step without credentials is an `operator` step) and list
/// the operator pauses that come after the management channel is cut and before it is
/// restored, unless confirmed ahead or left to a remote operator. Steps that do not apply on
/// this device (`when`) neither pause nor cut.
pub fn unpassable(
    pb: &Playbook,
    planned: &[PlannedStep],
    confirmed: &[String],
    remote: bool,
) -> Vec<Unpassable> {
    let mut cut_by: Option<&str> = None;
    let mut out = Vec::new();
    for step in &pb.steps {
        let Some(ps) = planned.iter().find(|p| p.id == step.id) else {
            continue;
        };
        if ps.not_applicable.is_some() {
            continue;
        }
        if let Some(cut) = cut_by {
            if ps.action == "operator" && !remote && !confirmed.contains(&step.id) {
                out.push(Unpassable {
                    step: step.id.clone(),
                    cut_by: cut.to_string(),
                });
            }
        }
        match step.channel {
            Some(Channel::Cuts) => cut_by = Some(&step.id),
            Some(Channel::Restores) => cut_by = None,
            None => {}
        }
    }
    out
}

/// The operator steps of a plan that may wait for someone (not confirmed ahead). A step acting
/// as `operator` that plans no operator change (Jamf escrow without credentials only says what
/// may be lost) waits for nobody.
pub fn operator_steps(planned: &[PlannedStep], confirmed: &[String]) -> Vec<String> {
    planned
        .iter()
        .filter(|p| p.not_applicable.is_none() && p.action == "operator")
        .filter(|p| {
            p.changes
                .iter()
                .any(|c| matches!(c.op, crate::action::Op::Operator))
        })
        .filter(|p| !confirmed.contains(&p.id))
        .map(|p| p.id.clone())
        .collect()
}

/// The one paragraph a refused policy prints (and logs).
pub fn refusal(pb: &Playbook, blocked: &[Unpassable]) -> String {
    let ids: Vec<&str> = blocked.iter().map(|b| b.step.as_str()).collect();
    let cut = blocked.first().map(|b| b.cut_by.as_str()).unwrap_or("");
    let restore = pb
        .steps
        .iter()
        .find(|s| s.channel == Some(Channel::Restores))
        .map(|s| format!("`{}`", s.id))
        .unwrap_or_else(|| "the end of the run".into());
    format!(
        "refused: this run could strand the Mac, so nothing was changed. After `{cut}` removes the Jamf framework, no policy can reach this Mac until {restore}, but {} would wait there for an operator ({}). Choose one: give the Mac Jamf Pro and Microsoft Graph API credentials (docs/server.md) so it does the server steps itself; or do them centrally first (`reenroll server cleanup --serial SERIAL` on your workstation) and pass confirm={}; or pass operator=remote and confirm them over SSH or Screen Sharing with the commands the policy log prints.",
        if ids.len() == 1 { "this step" } else { "these steps" },
        ids.join(", "),
        ids.join(",")
    )
}

fn managed_network_value(n: usize, p: &str, v: &str) -> Result<bool> {
    match v {
        "acknowledged" => Ok(true),
        other => Err(error::invalid(format!(
            "parameter {n} (`{p}`): managed_network `{other}` is not `acknowledged` (run although managed Wi-Fi, 802.1X, VPN or certificate payloads may be removed with the MDM profile)"
        ))),
    }
}

/// The one paragraph a policy refused for managed network or trust payloads prints (and logs).
pub fn payload_refusal(step: &str, lines: &[String]) -> String {
    format!(
        "refused: this Mac has managed network or trust payloads that may be removed with the MDM profile (step `{step}`), so nothing was changed: {}. A Mac whose only network is such a Wi-Fi, 802.1X or VPN, or whose trust in the Jamf Pro or Microsoft servers comes from such a certificate, cannot reach them to re-enroll, and no policy can reach it either. Make sure it has another network (Ethernet without 802.1X, an open or personal Wi-Fi) and trusts the servers without the profile, then acknowledge with the parameter managed_network=acknowledged.",
        lines.join("; ")
    )
}

/// What a policy handed to the LaunchDaemon, for the policy log's summary.
pub struct Handoff<'a> {
    pub run_id: &'a str,
    pub pb: &'a Playbook,
    pub planned: &'a PlanReport,
    pub vars: &'a BTreeMap<String, String>,
    pub sources: &'a BTreeMap<String, String>,
    pub confirm: &'a [String],
    pub remote: bool,
    /// API credentials came in the parameters (kept in the run's 0600 file, never shown).
    pub credentials: bool,
}

/// The policy log of a scheduled run: what an admin scans in Jamf Pro. The device (serial),
/// the playbook and run, what the daemon was given, when the restart comes, what the admin must
/// do next with the real step ids, and the warnings. One line per item: the Printer wraps only
/// on a terminal.
pub fn summary(h: &Handoff) -> Vec<String> {
    let fact = |k: &str| {
        h.planned
            .facts
            .get(k)
            .and_then(|v| v.as_str())
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let applies = h
        .planned
        .steps
        .iter()
        .filter(|p| p.not_applicable.is_none())
        .count();
    let mut out = vec![format!(
        "remediation scheduled: run {} of playbook {} ({} steps, {applies} apply on this Mac) on serial {}{}",
        h.run_id,
        h.pb.name,
        h.pb.steps.len(),
        fact("serial").unwrap_or_else(|| "unknown".into()),
        fact("computer_name")
            .map(|n| format!(" (\"{n}\")"))
            .unwrap_or_default()
    )];
    out.push(format!(
        "  handed to the LaunchDaemon {}: it carries out every step, survives the restart and removes itself at the end; this policy changed nothing else",
        crate::action::reboot::LABEL
    ));
    out.push(format!("  restart: {}", restart_estimate(h)));
    // The values the admin set (parameters, managed preferences); the defaults only counted.
    let mut defaults = 0;
    for (k, v) in h.vars {
        match h.sources.get(k).map(String::as_str) {
            Some(crate::settings::SOURCE_DEFAULT) | None => defaults += 1,
            Some(from) => out.push(format!("  {k} = {v:?} ({from})")),
        }
    }
    if defaults > 0 {
        out.push(format!(
            "  {defaults} other variable{} at the playbook's default (`reenroll plan` lists them)",
            if defaults == 1 { "" } else { "s" }
        ));
    }
    for c in h.confirm {
        out.push(format!("  done ahead (confirm=): {c}"));
    }
    if h.credentials {
        out.push("  API credentials from the parameters: kept in the run's 0600 file for the LaunchDaemon, deleted when the run ends".into());
    }
    let waits = operator_steps(&h.planned.steps, h.confirm);
    if waits.is_empty() {
        out.push("  next: nothing; the run is unattended-safe (no step waits for an operator); the extension attribute says `completed` at the end".into());
    } else if h.remote {
        out.push("  next (operator=remote): the run may wait for an operator at these steps; when it does (`reenroll status` says which), confirm each over SSH or Screen Sharing once it is done:".into());
        for id in &waits {
            out.push(format!("    sudo reenroll resume --confirm {id}"));
        }
    } else {
        out.push(format!(
            "  next: the run may wait for an operator at {}; when the extension attribute says `paused STEP`, do that step and confirm it with a second policy: action=resume confirm=STEP (several: comma-separated)",
            waits.join(", ")
        ));
    }
    for w in &h.planned.warnings {
        out.push(format!("  warning: {w}"));
    }
    out.push(format!(
        "  follow it in {}, with `reenroll status`, or the extension attribute (`reenroll status --jamf-ea`)",
        crate::device::LOG_FILE
    ));
    out
}

/// When the restart comes: the first reboot step that applies, with its delay (the variable
/// the playbook gives it, expanded). An estimate: the steps before it decide when it is reached.
fn restart_estimate(h: &Handoff) -> String {
    let values = crate::engine::values_with_facts(h.vars, &h.planned.facts);
    let step = h.pb.steps.iter().find(|s| {
        matches!(s.action, ActionSpec::Reboot(_))
            && h.planned
                .steps
                .iter()
                .any(|p| p.id == s.id && p.not_applicable.is_none())
    });
    let Some(step) = step else {
        return "none: no step of this run restarts the Mac".into();
    };
    let delay = match h.pb.expand_step(step, &values) {
        Ok(ActionSpec::Reboot(r)) => r.delay_minutes,
        _ => "?".into(),
    };
    let var = match &step.action {
        ActionSpec::Reboot(r) => r
            .delay_minutes
            .trim()
            .strip_prefix('{')
            .and_then(|v| v.strip_suffix('}'))
            .map(|v| format!(" ({v} = {delay})"))
            .unwrap_or_default(),
        _ => String::new(),
    };
    let unit = if delay.trim() == "1" {
        "minute"
    } else {
        "minutes"
    };
    format!(
        "step `{}` schedules it {delay} {unit} after the daemon reaches it{var}; an estimate, since the steps before it decide when that is (minutes, unless one waits for someone)",
        step.id
    )
}

/// What `action=resume` found.
#[derive(Debug, PartialEq, Eq)]
pub enum ResumeCheck {
    /// A run to confirm and hand to the daemon again.
    Go,
    /// Nothing waits: the sentence to print.
    Nothing(String),
}

/// `action=resume`: the run it would continue (the newest paused, interrupted or failed one),
/// and whether each `confirm=` names an operator or server step of that run's playbook that is
/// waiting or not yet reached (else exit 2 listing the ones that are). With no such run,
/// nothing to resume: said plainly (exit 0), unless confirmations were given, which could not
/// be recorded (exit 2), or the run is running in the daemon right now (exit 4: try again).
pub fn check_resume(ctx: &crate::engine::Ctx, confirm: &[String]) -> Result<ResumeCheck> {
    let runs = crate::executor::all_runs(ctx)?;
    let Some((view, _, records)) = runs.iter().rev().find(|(_, s, _)| s.resumable()) else {
        let what = match runs.last() {
            Some((v, state, _)) => format!(
                "nothing to resume: the newest run, {} of playbook {}, is {}",
                v.id,
                v.playbook,
                state.as_str()
            ),
            None => "nothing to resume: there is no reenroll run on this Mac".to_string(),
        };
        let running = runs.last().is_some_and(|(_, s, _)| *s == RunState::Running);
        if !confirm.is_empty() {
            let e = format!(
                "confirm={}: {what}; nothing was recorded",
                confirm.join(",")
            );
            return Err(if running {
                error::refused(format!(
                    "{e}. The LaunchDaemon is carrying the run out now: confirm again once it waits"
                ))
            } else {
                error::invalid(e)
            });
        }
        return Ok(ResumeCheck::Nothing(if running {
            format!(
                "{what} (the LaunchDaemon carries it out; nothing waits for a confirmation now)"
            )
        } else {
            what
        }));
    };
    if confirm.is_empty() {
        return Ok(ResumeCheck::Go);
    }
    let Some(Record::Header { source, origin, .. }) = records.first() else {
        anyhow::bail!("run {} has no header", view.id);
    };
    let pb =
        Playbook::parse_recorded(source, origin).map_err(crate::playbook::PlaybookError::coded)?;
    let state_of = |id: &str| view.steps.get(id).copied().unwrap_or(StepState::Pending);
    let open = |id: &str| matches!(state_of(id), StepState::Waiting | StepState::Pending);
    let valid: Vec<String> = confirmable(&pb).into_iter().filter(|id| open(id)).collect();
    if let Some(bad) = confirm.iter().find(|c| !valid.contains(c)) {
        let why = match pb.step(bad) {
            None => format!("run {} (playbook {}) has no step `{bad}`", view.id, pb.name),
            Some(_) if !confirmable(&pb).contains(bad) => format!(
                "`{bad}` is not an operator or server step of playbook {}",
                pb.name
            ),
            Some(_) => format!(
                "step `{bad}` of run {} is {}, not waiting or still to come",
                view.id,
                state_of(bad).as_str()
            ),
        };
        return Err(error::invalid(format!(
            "confirm={bad}: {why}; the steps this run can be given (waiting or not yet reached) are: {}",
            if valid.is_empty() {
                "none".to_string()
            } else {
                valid.join(", ")
            }
        )));
    }
    Ok(ResumeCheck::Go)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn parses_what_jamf_passes() {
        let r = parse(&args(&[
            "/",
            "Alice's Mac",
            "",
            "playbook=cause6",
            "",
            "intune_settle_minutes=45",
            "",
            "",
            "",
            "",
            "",
        ]))
        .unwrap();
        assert_eq!(r.playbook.as_deref(), Some("cause6"));
        assert_eq!(r.action, PolicyAction::Run);
        assert_eq!(
            r.vars,
            vec![(6, "intune_settle_minutes".to_string(), "45".to_string())]
        );
        let r = parse(&args(&[
            "/",
            "m",
            "u",
            "action=resume",
            "confirm=delete-jamf-record, delete-entra-device",
        ]))
        .unwrap();
        assert_eq!(r.confirm, vec!["delete-jamf-record", "delete-entra-device"]);
        // Jamf always passes $1..$3: fewer is a person typing it, never a policy.
        assert!(parse(&args(&[])).is_err());
        assert!(parse(&args(&["/", "", ""])).is_ok());
    }

    fn planned(id: &str, action: &str, applies: bool) -> PlannedStep {
        PlannedStep {
            id: id.into(),
            title: String::new(),
            action: action.into(),
            article: None,
            needs_root: true,
            reversible: false,
            changes: Vec::new(),
            already: Vec::new(),
            unseen: Vec::new(),
            notes: Vec::new(),
            not_applicable: (!applies).then(|| "not here".to_string()),
            kept: Vec::new(),
        }
    }

    #[test]
    fn only_operator_pauses_between_a_cut_and_a_restore_are_unpassable() {
        let op = |id: &str, channel: &str| {
            format!("[[steps]]\nid = \"{id}\"\ntitle = \"t\"\n{channel}[steps.action]\nkind = \"operator\"\ninstructions = \"do it\"\n")
        };
        let src = format!(
            "name = \"p\"\ndescription = \"d\"\n{}{}{}{}{}{}",
            op("before", ""),
            op("cut", "channel = \"cuts\"\n"),
            op("stranded", ""),
            op("skipped-here", ""),
            op("restore", "channel = \"restores\"\n"),
            op("after", ""),
        );
        let pb = Playbook::parse(&src, "p.toml").unwrap();
        let plan = vec![
            planned("before", "operator", true),
            planned("cut", "operator", true),
            planned("stranded", "operator", true),
            planned("skipped-here", "operator", false),
            planned("restore", "operator", true),
            planned("after", "operator", true),
        ];
        let ids = |v: Vec<Unpassable>| v.into_iter().map(|u| u.step).collect::<Vec<_>>();
        // The cutting step itself pauses before it cuts; the restoring one after the cut.
        assert_eq!(
            ids(unpassable(&pb, &plan, &[], false)),
            vec!["stranded", "restore"]
        );
        assert_eq!(
            ids(unpassable(&pb, &plan, &["stranded".into()], false)),
            vec!["restore"]
        );
        assert!(unpassable(&pb, &plan, &[], true).is_empty());
        // A server step with credentials acts as `server`: it pauses for nobody.
        let mut with_creds = plan.clone();
        with_creds[2].action = "server".into();
        with_creds[4].action = "server".into();
        assert!(unpassable(&pb, &with_creds, &[], false).is_empty());
        let why = refusal(&pb, &unpassable(&pb, &plan, &[], false));
        assert!(
            why.contains("After `cut`") && why.contains("until `restore`"),
            "{why}"
        );
    }

    #[test]
    fn managed_network_takes_only_acknowledged() {
        assert!(
            parse(&args(&["/", "m", "u", "managed_network=acknowledged"]))
                .unwrap()
                .managed_network_acknowledged
        );
        assert!(
            !parse(&args(&["/", "m", "u"]))
                .unwrap()
                .managed_network_acknowledged
        );
        let e = parse(&args(&["/", "m", "u", "", "managed_network=yes"]))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("parameter 5") && e.contains("acknowledged"),
            "{e}"
        );
        assert!(KEYS.iter().any(|(k, _)| *k == "managed_network"));
        let why = payload_refusal(
            "remove-mdm-profile",
            &["Wi-Fi (com.apple.wifi.managed)".into()],
        );
        assert!(
            why.contains("`remove-mdm-profile`")
                && why.contains("com.apple.wifi.managed")
                && why.contains("managed_network=acknowledged")
                && why.contains("nothing was changed"),
            "{why}"
        );
    }

    #[test]
    fn one_parameter_carries_several_pairs() {
        let r = parse(&args(&[
            "/",
            "m",
            "u",
            "  intune_settle_minutes=45\tsettle_override=yes ",
            "jamf_url=https://j.example.com jamf_client_id=abc jamf_client_secret=Se~c.r_e-t=1",
            "confirm=delete-jamf-record, delete-entra-device operator=remote",
            "adfs_url = https://adfs.example.com",
        ]))
        .unwrap();
        assert!(r.settle_override && r.remote_operator);
        assert_eq!(r.confirm, vec!["delete-jamf-record", "delete-entra-device"]);
        assert_eq!(
            r.vars,
            vec![
                (4, "intune_settle_minutes".to_string(), "45".to_string()),
                (
                    7,
                    "adfs_url".to_string(),
                    "https://adfs.example.com".to_string()
                ),
            ]
        );
        let (n, secret) = &r.credentials["jamf_client_secret"];
        assert_eq!((*n, secret.expose()), (5, "Se~c.r_e-t=1"));
        let c = r.given_credentials().unwrap().unwrap();
        assert_eq!(c.jamf.unwrap().client_id, "abc");
        assert!(c.graph.is_none());
        // No secret in the request's Debug form.
        assert!(!format!("{r:?}").contains("Se~c"));
    }

    #[test]
    fn credential_errors_name_parameters_never_values() {
        let secret = "Xy~9.secret_value-0";
        let cases = [
            vec![format!("jamf_client_secret={secret}")],
            vec![format!("jamf_client_secert={secret}")],
            vec![secret.to_string()],
            vec![format!("action=run {secret}")],
            vec![format!("={secret}")],
            vec![format!("jamf_client_id=abc {secret}")],
            vec![
                String::new(),
                format!("jamf_client_secret={secret} jamf_client_secret=x"),
            ],
        ];
        for extra in cases {
            let mut a = args(&["/", "m", "u"]);
            a.extend(extra.iter().cloned());
            let err = match parse(&a) {
                Err(e) => e,
                Ok(r) => r.given_credentials().unwrap_err(),
            };
            assert_eq!(crate::error::code_of(&err), crate::error::INVALID);
            let e = format!("{err:#}");
            assert!(e.contains("parameter"), "{e}");
            assert!(!e.contains(secret), "{e}");
        }
        let e = parse(&args(&["/", "m", "u", "", "jamf_client_secret=", ""]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("parameter 5") && e.contains("empty"), "{e}");
    }

    #[test]
    fn errors_name_the_parameter_number() {
        let e = parse(&args(&["/", "m", "u", "", "action=jump"]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("parameter 5") && e.contains("jump"), "{e}");
        let e = parse(&args(&["/", "m", "u", "oops"]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("parameter 4"), "{e}");
        let e = parse(&args(&["/Volumes/Other", "m", "u"]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("parameter 1"), "{e}");
        assert!(parse(&args(&["/", "m", "u", "confirm=x"])).is_ok());
        assert!(parse(&args(&["/", "m", "u", "action=status", "confirm=x"])).is_err());
        assert!(parse(&args(&["/", "m", "u", "operator=nearby"])).is_err());
        assert!(
            parse(&args(&["/", "m", "u", "operator=remote"]))
                .unwrap()
                .remote_operator
        );
    }
}
