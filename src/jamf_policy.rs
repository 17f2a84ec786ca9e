//! `reenroll jamf-policy "$@"`: the arguments exactly as a Jamf Pro policy passes them to a script.
//! `$1` the target volume, `$2` the computer name, `$3` the user name (may be empty), `$4`..`$11`
//! the admin's parameters, each `key=value`: `playbook=`, `action=run|resume|rollback|status`
//! (default run), `confirm=STEP[,STEP]`, or any playbook variable. Empty parameters are ignored.

use anyhow::Result;

use crate::error;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyAction {
    Run,
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
    /// Playbook variables with the parameter number each came from.
    pub vars: Vec<(usize, String, String)>,
}

/// The keys a parameter may use besides playbook variables (README's table).
pub const KEYS: &[(&str, &str)] = &[
    ("playbook", "an embedded playbook's name (default cause6)"),
    ("action", "run (default), resume, rollback or status"),
    ("confirm", "step id(s), comma-separated, that an operator did (server steps): with action=resume"),
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
                    "resume" => PolicyAction::Resume,
                    "rollback" => PolicyAction::Rollback,
                    "status" => PolicyAction::Status,
                    other => {
                        return Err(error::invalid(format!(
                            "parameter {n} (`{p}`): action `{other}` is not one of run, resume, rollback, status"
                        )))
                    }
                }
            }
            "confirm" => {
                for id in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                    req.confirm.push(id.to_string());
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
    if !req.confirm.is_empty() && req.action == PolicyAction::Run {
        return Err(error::invalid(
            "confirm= goes with action=resume (a new run has nothing to confirm yet)",
        ));
    }
    Ok(req)
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
        assert!(parse(&args(&["/", "m", "u", "confirm=x"])).is_err());
    }
}
