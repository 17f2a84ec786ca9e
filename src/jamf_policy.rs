//! `reenroll jamf-policy "$@"`: the arguments exactly as a Jamf Pro policy passes them to a script.
//! `$1` the target volume, `$2` the computer name, `$3` the user name (may be empty), `$4`..`$11`
//! the admin's parameters, each `key=value`: `playbook=`, `action=run|resume|rollback|status`
//! (default run), `confirm=STEP[,STEP]`, `operator=remote`, or any playbook variable. Empty
//! parameters are ignored.
//!
//! A run handed to the LaunchDaemon from a policy must never strand the Mac: before anything
//! changes, [`unpassable`] finds every pause that only a policy could pass once a step has cut
//! the management channel (`channel = "cuts"` in the playbook: the framework is gone, so no
//! policy reaches the Mac until a step that `restores` it), and the run is refused (exit 4)
//! unless each is covered: done ahead (`confirm=`), passed by the device itself (server steps
//! with API credentials are `server`, not `operator`, in the plan), or explicitly left to an
//! operator over SSH or Screen Sharing (`operator=remote`, and the policy log prints the exact
//! commands).

use anyhow::Result;

use crate::action::ActionSpec;
use crate::error;
use crate::plan::PlannedStep;
use crate::playbook::{Channel, Playbook};

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
    /// Playbook variables with the parameter number each came from.
    pub vars: Vec<(usize, String, String)>,
}

/// The keys a parameter may use besides playbook variables (README's table).
pub const KEYS: &[(&str, &str)] = &[
    ("playbook", "an embedded playbook's name (default cause6)"),
    ("action", "run (default), plan (a dry run: prints the plan, changes nothing), resume, rollback or status"),
    ("confirm", "operator or server step id(s), comma-separated, already done (action=run: done ahead, e.g. by `reenroll server cleanup`; action=resume: done since)"),
    ("settle_override", "`yes`: acknowledge a timer set below the article's minimum (intune_settle_minutes under 30); without it such a policy exits 2"),
    ("operator", "`remote`: operator steps that no policy could reach (after the framework is removed) will be confirmed over SSH or Screen Sharing; the policy log prints the commands"),
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
        vars: Vec::new(),
    };
    for n in 4..=11 {
        let raw = get(n);
        let p = raw.trim();
        if p.is_empty() {
            continue;
        }
        let Some((k, v)) = p.split_once('=') else {
            return Err(error::invalid(format!(
                "parameter {n} (`{p}`): expected key=value, e.g. action=run"
            )));
        };
        let (k, v) = (k.trim(), v.trim());
        if k.is_empty() {
            return Err(error::invalid(format!(
                "parameter {n} (`{p}`): the key before `=` is empty"
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
                    other => {
                        return Err(error::invalid(format!(
                            "parameter {n} (`{p}`): action `{other}` is not one of run, plan, resume, rollback, status"
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
                    other => {
                        return Err(error::invalid(format!(
                            "parameter {n} (`{p}`): settle_override `{other}` is not yes or no"
                        )))
                    }
                }
            }
            "operator" => {
                req.remote_operator = match v {
                    "remote" => true,
                    "policy" => false,
                    other => {
                        return Err(error::invalid(format!(
                            "parameter {n} (`{p}`): operator `{other}` is not `remote` (operator steps confirmed over SSH or Screen Sharing) or `policy`"
                        )))
                    }
                }
            }
            _ => {
                if req.vars.iter().any(|(_, key, _)| key == k) {
                    return Err(error::invalid(format!("parameter {n}: `{k}` is given twice")));
                }
                req.vars.push((n, k.to_string(), v.to_string()));
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

/// The operator steps of a plan that will wait for someone (not confirmed ahead).
pub fn operator_steps(planned: &[PlannedStep], confirmed: &[String]) -> Vec<String> {
    planned
        .iter()
        .filter(|p| p.not_applicable.is_none() && p.action == "operator")
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
