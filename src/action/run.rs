//! `run`: run a device program with arguments, judged by the device's state rather than by its
//! exit code. `done_when` is a read-only check that says the step is already done (so a re-run
//! changes nothing); `verify` (default: `done_when`) is checked after the program ran. When the
//! program ran but the device does not show the result, `unverified_operator` turns the step into
//! an operator step (e.g. an MDM profile only the server can remove); otherwise the step fails.
//! `as_user = "console"` runs it as the console user, in their session
//! (`launchctl asuser UID sudo -u USER program args…`, arguments passed separately);
//! `as_user = "console-session"` runs it as root in the console user's session
//! (`launchctl asuser UID program args…`): `launchctl asuser` changes no credentials, so a
//! program that needs root (`profiles renew -type enrollment`) still has it, and what it shows
//! (the enrollment notification) appears on the user's screen.

use std::time::Duration;

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};

use super::{Env, Op, Outcome, PlannedChange, Recorder, StepPlan};
use crate::device::fs::{self, Probe};
use crate::device::{ConsoleUser, RunOpts};
use crate::journal::{Change, Undo};

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    pub program: String,
    #[serde(default)]
    pub args: Vec<String>,
    /// `console`: run as the console user in their session; `console-session`: run as root in
    /// the console user's session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub as_user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub done_when: Option<Check>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify: Option<Check>,
    /// Instructions for an operator when the program ran but `verify` does not hold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unverified_operator: Option<String>,
    /// Exit codes that count as success when there is no check (default `[0]`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ok_codes: Vec<i32>,
    /// Run it, but a failure is only noted (quitting an app that is not running).
    #[serde(default)]
    pub best_effort: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_minutes: Option<String>,
    /// With `as_user`: how long to wait for someone to log in before pausing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_for_user_minutes: Option<String>,
    /// Check `verify`/`done_when` right after the program (false when the result comes later,
    /// e.g. a user approving enrollment, and a `wait-for` step follows).
    #[serde(default = "yes")]
    pub check_after: bool,
}

/// `as_user` values: as the console user in their session, or as root in it.
pub const AS_CONSOLE: &str = "console";
pub const AS_CONSOLE_SESSION: &str = "console-session";

fn yes() -> bool {
    true
}

/// A read-only check of the device.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Check {
    /// Every one of these paths is absent.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub absent: Vec<String>,
    /// Every one of these paths exists.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub present: Vec<String>,
    /// A read-only program whose output says it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<CommandCheck>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CommandCheck {
    pub program: String,
    #[serde(default)]
    pub args: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stdout_contains: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stdout_lacks: Option<String>,
    /// The exit status that means "holds" (default: any, when a stdout test is given; else 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit: Option<i32>,
}

impl Check {
    fn paths(&self) -> Vec<String> {
        let mut p: Vec<String> = self.absent.iter().chain(&self.present).cloned().collect();
        if let Some(c) = &self.command {
            p.push(c.program.clone());
        }
        p
    }

    /// Whether the check holds on the device now.
    pub fn holds(&self, env: &Env) -> Result<bool> {
        let mut notes = Vec::new();
        for t in &self.absent {
            for p in super::expand_path(env, t, &mut notes)?.paths {
                if !matches!(fs::probe_shallow(env.device, &p)?, Probe::Absent) {
                    return Ok(false);
                }
            }
        }
        for t in &self.present {
            for p in super::expand_path(env, t, &mut notes)?.paths {
                if !matches!(fs::probe_shallow(env.device, &p)?, Probe::Present(_)) {
                    return Ok(false);
                }
            }
        }
        if let Some(c) = &self.command {
            if !env.device.program_exists(&c.program)? {
                bail!("cannot check: {} is not on the device", c.program);
            }
            let out = env.device.run(
                &c.program,
                &c.args,
                &RunOpts {
                    timeout: Some(Duration::from_secs(120)),
                    ..Default::default()
                },
            )?;
            let text_test = c.stdout_contains.is_some() || c.stdout_lacks.is_some();
            if let Some(want) = c.exit.or(if text_test { None } else { Some(0) }) {
                if out.code != Some(want) {
                    return Ok(false);
                }
            }
            if let Some(s) = &c.stdout_contains {
                if !out.stdout.contains(s.as_str()) {
                    return Ok(false);
                }
            }
            if let Some(s) = &c.stdout_lacks {
                if out.stdout.contains(s.as_str()) {
                    return Ok(false);
                }
            }
        }
        Ok(true)
    }

    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if !self.absent.is_empty() {
            parts.push(format!("{} absent", self.absent.join(", ")));
        }
        if !self.present.is_empty() {
            parts.push(format!("{} present", self.present.join(", ")));
        }
        if let Some(c) = &self.command {
            let mut s = format!("`{} {}`", c.program, c.args.join(" "));
            if let Some(x) = &c.stdout_contains {
                s.push_str(&format!(" shows \"{x}\""));
            }
            if let Some(x) = &c.stdout_lacks {
                s.push_str(&format!(" no longer shows \"{x}\""));
            }
            if let Some(code) = c.exit {
                s.push_str(&format!(" exits {code}"));
            }
            parts.push(s);
        }
        parts.join(" and ")
    }
}

impl Spec {
    pub fn paths(&self) -> Vec<String> {
        let mut p = vec![self.program.clone()];
        for c in [&self.done_when, &self.verify].into_iter().flatten() {
            p.extend(c.paths());
        }
        p
    }

    pub fn validate(&self) -> Result<()> {
        if let Some(u) = &self.as_user {
            if u != AS_CONSOLE && u != AS_CONSOLE_SESSION {
                bail!(
                    "`as_user` can be \"{AS_CONSOLE}\" (run as the user logged in at the console, in \
                     their session) or \"{AS_CONSOLE_SESSION}\" (run as root in that user's session, \
                     for programs that need root), not \"{u}\""
                );
            }
        }
        if self.unverified_operator.is_some() && self.verify.is_none() && self.done_when.is_none() {
            bail!("`unverified_operator` needs `verify` or `done_when` to know when the device shows the result");
        }
        Ok(())
    }

    fn command_line(&self) -> String {
        std::iter::once(self.program.as_str())
            .chain(self.args.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join(" ")
    }

    pub fn plan(&self, env: &Env) -> Result<StepPlan> {
        let mut plan = StepPlan::default();
        if let Some(check) = &self.done_when {
            match check.holds(env) {
                Ok(true) => {
                    plan.already.push(check.describe());
                    return Ok(plan);
                }
                Ok(false) => {}
                Err(e) => plan
                    .unseen
                    .push(format!("could not check whether it is already done: {e:#}")),
            }
        }
        let mut target = self.command_line();
        if self.as_user.is_some() {
            match env.device.console_user() {
                Ok(Some(u)) => target = format!("{target}  ({})", self.as_who(&u)),
                Ok(None) => plan
                    .notes
                    .push("needs a user logged in at the console; the step waits for one".into()),
                Err(e) => plan
                    .unseen
                    .push(format!("could not read the console user: {e:#}")),
            }
        }
        let mut c = PlannedChange::new(Op::Run, target, env.reversible);
        if let Some(v) = self.verify.as_ref().or(self.done_when.as_ref()) {
            c.reason = Some(format!("verified afterwards: {}", v.describe()));
        }
        plan.changes.push(c);
        if !env.device.has_program(&self.program) {
            plan.notes
                .push(format!("{} is not on the device", self.program));
        }
        Ok(plan)
    }

    pub fn apply(&self, env: &Env, rec: &mut dyn Recorder) -> Result<Outcome> {
        if let Some(check) = &self.done_when {
            if check.holds(env).unwrap_or(false) {
                return Ok(Outcome::AlreadyDone(format!(
                    "already done: {}",
                    check.describe()
                )));
            }
        }
        let ran_key = format!("ran:{}", env.step_id);
        if self.unverified_operator.is_some() && rec.get_note(&ran_key).is_some() {
            // It ran before and the device did not show the result: the operator's turn.
            return self.after_unverified(env, rec);
        }
        let mut as_who = String::new();
        let (program, args) = match self.as_user {
            Some(_) => match self.wait_for_console_user(env, rec)? {
                Some(u) => {
                    as_who = format!(" {}", self.as_who(&u));
                    if self.as_user.as_deref() == Some(AS_CONSOLE_SESSION) {
                        in_console_session(&u, &self.program, &self.args)
                    } else {
                        as_console_user(&u, &self.program, &self.args)
                    }
                }
                None => {
                    return Ok(Outcome::Pause {
                        reason: format!(
                            "waiting for a user to log in at the console to run `{}`",
                            self.command_line()
                        ),
                        until: None,
                    })
                }
            },
            None => (self.program.clone(), self.args.clone()),
        };
        let present = match env.device.program_exists(&program) {
            Ok(p) => p,
            Err(e) => {
                return Ok(Outcome::Failed(format!(
                    "{e:#}; `reenroll resume` tries again"
                )))
            }
        };
        if !present {
            if self.best_effort {
                return Ok(Outcome::AlreadyDone(format!(
                    "{program} is not on the device"
                )));
            }
            return Ok(Outcome::Failed(format!("{program} is not on the device")));
        }
        let n = rec.intent(Change::Run {
            program: program.clone(),
            args: args.clone(),
        })?;
        let timeout = match &self.timeout_minutes {
            Some(m) => super::timer::minutes("timeout_minutes", m, super::timer::DAY, true)?,
            None => Duration::from_secs(30 * 60),
        };
        let out = env.device.run(
            &program,
            &args,
            &RunOpts {
                timeout: Some(timeout),
                ..Default::default()
            },
        )?;
        rec.applied(
            n,
            Undo::Irreversible {
                what: self.command_line(),
                why: "a program's effects cannot be undone by reenroll".into(),
            },
        )?;
        let tail = |s: &str| s.trim().lines().last().unwrap_or("").to_string();
        let check = if self.check_after {
            self.verify.as_ref().or(self.done_when.as_ref())
        } else {
            None
        };
        if let Some(check) = check {
            if check.holds(env).unwrap_or(false) {
                return Ok(Outcome::Done(format!(
                    "ran `{}`{as_who}; verified: {}",
                    self.command_line(),
                    check.describe()
                )));
            }
            if self.unverified_operator.is_some() {
                rec.note(&ran_key, &super::now_rfc3339())?;
                return self.after_unverified(env, rec);
            }
            if self.best_effort {
                return Ok(Outcome::Done(format!(
                    "ran `{}` (best effort; {} does not hold)",
                    self.command_line(),
                    check.describe()
                )));
            }
            return Ok(Outcome::Failed(format!(
                "ran `{}` ({}) but the device does not show it: {} does not hold. Output: {}",
                self.command_line(),
                out.status_text(),
                check.describe(),
                tail(&format!("{}\n{}", out.stdout, out.stderr))
            )));
        }
        let ok_codes = if self.ok_codes.is_empty() {
            vec![0]
        } else {
            self.ok_codes.clone()
        };
        if out.code.is_some_and(|c| ok_codes.contains(&c)) || self.best_effort {
            Ok(Outcome::Done(format!(
                "ran `{}`{as_who} ({})",
                self.command_line(),
                out.status_text()
            )))
        } else {
            Ok(Outcome::Failed(format!(
                "`{}` exited {}: {}",
                self.command_line(),
                out.status_text(),
                tail(&format!("{}\n{}", out.stdout, out.stderr))
            )))
        }
    }

    /// Who runs the program, for plan and result lines.
    fn as_who(&self, u: &ConsoleUser) -> String {
        if self.as_user.as_deref() == Some(AS_CONSOLE_SESSION) {
            format!("as root in {}'s session", u.name)
        } else {
            format!("as {} in their session", u.name)
        }
    }

    /// The console user, waiting up to `wait_for_user_minutes` for one to log in.
    fn wait_for_console_user(&self, env: &Env, rec: &dyn Recorder) -> Result<Option<ConsoleUser>> {
        let (minutes, wait) = match &self.wait_for_user_minutes {
            Some(m) => (
                m.trim().to_string(),
                super::timer::minutes("wait_for_user_minutes", m, super::timer::WEEK, false)?,
            ),
            None => ("0".to_string(), Duration::ZERO),
        };
        let end = super::timer::deadline(wait);
        let mut told = false;
        loop {
            if let Some(u) = env.device.console_user()? {
                return Ok(Some(u));
            }
            if std::time::Instant::now() >= end || rec.cancelled() {
                return Ok(None);
            }
            if !told {
                tracing::info!(
                    step = env.step_id,
                    "waiting up to {minutes} minute(s) for a user to log in"
                );
                told = true;
            }
            std::thread::sleep(
                Duration::from_secs(5).min(
                    end.saturating_duration_since(std::time::Instant::now())
                        .max(Duration::from_millis(100)),
                ),
            );
        }
    }

    fn after_unverified(&self, env: &Env, rec: &mut dyn Recorder) -> Result<Outcome> {
        let instructions = self.unverified_operator.clone().unwrap_or_default();
        if let Some(at) = rec.confirmed(env.step_id) {
            return Ok(Outcome::Done(format!("confirmed by the operator at {at}")));
        }
        Ok(Outcome::Pause {
            reason: format!(
                "`{}` ran but the device does not show the result; an operator must act: {}\n  then: `{}` (or just resume once the device shows it)",
                self.command_line(),
                instructions.trim(),
                env.device.hint(&format!("resume --confirm {}", env.step_id))
            ),
            until: None,
        })
    }
}

/// `launchctl asuser UID program args…`: root in the user's session (`asuser` changes no
/// credentials), arguments separate.
pub fn in_console_session(
    u: &ConsoleUser,
    program: &str,
    args: &[String],
) -> (String, Vec<String>) {
    let mut a = vec!["asuser".to_string(), u.uid.to_string(), program.to_string()];
    a.extend(args.iter().cloned());
    ("/bin/launchctl".to_string(), a)
}

/// `launchctl asuser UID sudo -u USER program args…`: the user's session, arguments separate.
pub fn as_console_user(u: &ConsoleUser, program: &str, args: &[String]) -> (String, Vec<String>) {
    let mut a = vec![
        "asuser".to_string(),
        u.uid.to_string(),
        "/usr/bin/sudo".into(),
        "-u".into(),
        u.name.clone(),
        program.to_string(),
    ];
    a.extend(args.iter().cloned());
    ("/bin/launchctl".to_string(), a)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn playbook(as_user: &str) -> String {
        format!(
            "name = \"t\"\ndescription = \"t\"\n[[steps]]\nid = \"s\"\ntitle = \"t\"\n[steps.action]\nkind = \"run\"\n\
             as_user = \"{as_user}\"\nprogram = \"/usr/bin/profiles\"\nargs = [\"renew\"]\n"
        )
    }

    #[test]
    fn as_user_takes_console_or_console_session_only() {
        for ok in [AS_CONSOLE, AS_CONSOLE_SESSION] {
            crate::playbook::Playbook::parse(&playbook(ok), "t.toml")
                .unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        let e = crate::playbook::Playbook::parse(&playbook("root"), "t.toml")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("console-session") && e.contains("\"root\""),
            "{e}"
        );
    }

    #[test]
    fn console_session_keeps_root_and_console_drops_to_the_user() {
        let u = ConsoleUser {
            name: "zoë".into(),
            uid: 502,
            home: None,
        };
        let args = vec!["renew".to_string(), "-type".into(), "enrollment".into()];
        assert_eq!(
            in_console_session(&u, "/usr/bin/profiles", &args),
            (
                "/bin/launchctl".to_string(),
                [
                    "asuser",
                    "502",
                    "/usr/bin/profiles",
                    "renew",
                    "-type",
                    "enrollment"
                ]
                .map(String::from)
                .to_vec()
            )
        );
        assert_eq!(
            as_console_user(&u, "/usr/bin/open", &[]).1,
            [
                "asuser",
                "502",
                "/usr/bin/sudo",
                "-u",
                "zoë",
                "/usr/bin/open"
            ]
            .map(String::from)
        );
    }
}
