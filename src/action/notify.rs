//! `notify`: tell the person at the Mac what is about to happen, in their session, and let them
//! defer it a limited number of times (issue 13 §3).
//!
//! Nobody logged in at the console: nobody to tell, the step is done at once. Otherwise the
//! console user sees swiftDialog (`/usr/local/bin/dialog`, as root in their session:
//! `launchctl asuser UID dialog …`) when it is installed, else an AppleScript dialog
//! (`launchctl asuser UID sudo -u USER osascript -e 'display dialog …'`). jamfHelper is not
//! used: it goes with the Jamf framework, so it could not serve after `remove-framework`.
//!
//! While deferrals are left and the deadline has not come, the dialog offers the go-ahead button
//! and a defer button and gives up after `timeout_minutes`; `timeout_means` says whether an
//! unanswered dialog (or one that could not be shown, or a Focus mode that hid it) counts as
//! consent or as a deferral. Each deferral is journaled (`deferrals:<step>` the count, and
//! `deferral:<step>:<k>` when and how) with `deferred-until:<step>`, which makes the run's
//! state `deferred` while the process waits for the re-prompt (`reprompt_minutes`, never past
//! the deadline). A resume after a crash keeps the count and the time of the next prompt. Once
//! no deferral is left or the deadline has passed, the user gets a notice with a countdown
//! (`countdown_minutes`, the dialog's own timer) and the run goes ahead when it ends.
//!
//! The decisions (what an answer means, when the deadline is, whether a deferral is left) are
//! plain functions tested here; the dialogs are programs run through the device.

use std::time::{Duration, SystemTime};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use super::{Env, Op, Outcome, PlannedChange, Recorder, StepPlan};
use crate::device::users::ConsoleUser;
use crate::device::RunOpts;

/// swiftDialog's command-line tool.
pub const DIALOG: &str = "/usr/local/bin/dialog";
pub const OSASCRIPT: &str = "/usr/bin/osascript";
/// The fields that are not timers but are checked like them once variables are filled in.
pub const VALUE_FIELDS: &[&str] = &["deferrals", "deadline", "timeout_means"];
/// The most deferrals a step may allow.
pub const MAX_DEFERRALS: u32 = 100;
/// Note key prefixes (the journal's `note` records).
pub use crate::journal::state::NOTE_DEFERRED_UNTIL;
pub const NOTE_DEFERRALS: &str = "deferrals:";

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// The dialog's title.
    pub title: String,
    /// What will happen and when, in the user's words.
    pub message: String,
    /// The go-ahead button (default "Continue").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub button: Option<String>,
    /// How many times the user may defer (a whole number, default 0: a notice with a countdown).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deferrals: Option<String>,
    /// After this no deferral is offered: an RFC 3339 time (UTC when no offset is given), or a
    /// duration (`4h`, `2days`) counted from the first prompt; empty: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline: Option<String>,
    /// Minutes between a deferral and the next prompt (default 60).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reprompt_minutes: Option<String>,
    /// Minutes a prompt waits for an answer (default 5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_minutes: Option<String>,
    /// `consent` or `defer` (default): what an unanswered prompt means.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_means: Option<String>,
    /// Minutes of the final notice's countdown (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub countdown_minutes: Option<String>,
}

/// What an unanswered prompt means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeoutMeans {
    Consent,
    Defer,
}

/// How the user answered a prompt (as the dialog's exit status and output tell it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    /// The go-ahead button.
    Proceed,
    /// The defer button.
    Defer,
    /// The dialog gave up (`--timer` / `giving up after`).
    TimedOut,
    /// Closed without a button (swiftDialog's quit key, exit 10; AppleScript's "User canceled").
    Dismissed,
    /// swiftDialog did not show because of a Focus / Do Not Disturb mode (exit 20).
    Focus,
    /// The dialog could not be shown.
    NotShown,
}

impl Answer {
    pub fn describe(self) -> &'static str {
        match self {
            Answer::Proceed => "the user agreed",
            Answer::Defer => "the user deferred",
            Answer::TimedOut => "no answer before the prompt timed out",
            Answer::Dismissed => "the user closed the prompt",
            Answer::Focus => "a Focus mode kept the prompt from showing",
            Answer::NotShown => "the prompt could not be shown",
        }
    }
}

/// What the run does after an answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    GoAhead,
    Defer,
}

/// The decision for an answer: the go-ahead button goes ahead; the defer button and closing the
/// prompt defer; no answer (a timeout, a Focus mode, a prompt that could not be shown) means what
/// `timeout_means` says. Without a deferral left everything goes ahead.
pub fn decide(answer: Answer, means: TimeoutMeans, can_defer: bool) -> Decision {
    if !can_defer {
        return Decision::GoAhead;
    }
    match answer {
        Answer::Proceed => Decision::GoAhead,
        Answer::Defer | Answer::Dismissed => Decision::Defer,
        Answer::TimedOut | Answer::Focus | Answer::NotShown => match means {
            TimeoutMeans::Consent => Decision::GoAhead,
            TimeoutMeans::Defer => Decision::Defer,
        },
    }
}

/// Whether the user may still defer: deferrals left and the deadline not reached.
pub fn can_defer(used: u32, allowed: u32, now: SystemTime, deadline: Option<SystemTime>) -> bool {
    used < allowed && deadline.is_none_or(|d| now < d)
}

/// When to prompt again after a deferral: `reprompt` later, never after the deadline.
pub fn next_prompt(
    now: SystemTime,
    reprompt: Duration,
    deadline: Option<SystemTime>,
) -> SystemTime {
    let at = now.checked_add(reprompt).unwrap_or(now);
    match deadline {
        Some(d) if d < at => d.max(now),
        _ => at,
    }
}

/// swiftDialog's exit status: 0 button 1, 2 button 2, 4 the timer ran out, 10 the quit key,
/// 20 Do Not Disturb; anything else (a crash, no GUI session) did not show. NOTE: swiftDialog's
/// wiki is not consistent about 20 (its exit-code table says "--timer reached 0", its timer page
/// says 4): both mean "no answer", so the decision is the same either way.
pub fn dialog_answer(code: Option<i32>) -> Answer {
    match code {
        Some(0) => Answer::Proceed,
        Some(2) => Answer::Defer,
        Some(4) => Answer::TimedOut,
        Some(10) => Answer::Dismissed,
        Some(20) => Answer::Focus,
        _ => Answer::NotShown,
    }
}

/// `osascript -e 'display dialog … giving up after N'`: `button returned:X, gave up:false` on
/// stdout; `gave up:true` when it timed out; exit 1 with "User canceled. (-128)" for Cancel.
pub fn osascript_answer(
    code: Option<i32>,
    stdout: &str,
    stderr: &str,
    proceed: &str,
    defer: Option<&str>,
) -> Answer {
    if code == Some(1) && stderr.contains("(-128)") {
        return Answer::Dismissed;
    }
    if code != Some(0) {
        return Answer::NotShown;
    }
    let line = stdout.trim();
    if line.contains("gave up:true") {
        return Answer::TimedOut;
    }
    let button = line
        .strip_prefix("button returned:")
        .map(|r| r.split(", gave up:").next().unwrap_or(r))
        .unwrap_or("");
    if button == proceed {
        Answer::Proceed
    } else if Some(button) == defer {
        Answer::Defer
    } else {
        Answer::NotShown
    }
}

/// An AppleScript string literal.
pub fn applescript_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// One dialog: its text, buttons and how long it stays.
#[derive(Clone, Debug, PartialEq)]
pub struct Prompt {
    pub title: String,
    pub message: String,
    pub proceed: String,
    /// The defer button, when a deferral is offered.
    pub defer: Option<String>,
    /// Seconds until the dialog gives up (its countdown for a final notice).
    pub seconds: u64,
}

impl Prompt {
    /// swiftDialog's arguments.
    pub fn dialog_args(&self) -> Vec<String> {
        let mut a = vec![
            "--title".to_string(),
            self.title.clone(),
            "--message".into(),
            self.message.clone(),
            "--button1text".into(),
            self.proceed.clone(),
        ];
        if let Some(d) = &self.defer {
            a.extend(["--button2text".to_string(), d.clone()]);
        }
        a.extend([
            "--timer".to_string(),
            self.seconds.to_string(),
            "--ontop".into(),
            "--moveable".into(),
        ]);
        a
    }

    /// The AppleScript of the same dialog (the defer button first, the go-ahead button last and
    /// default).
    pub fn applescript(&self) -> String {
        let mut buttons = Vec::new();
        if let Some(d) = &self.defer {
            buttons.push(applescript_string(d));
        }
        buttons.push(applescript_string(&self.proceed));
        format!(
            "display dialog {} with title {} buttons {{{}}} default button {} giving up after {} with icon caution",
            applescript_string(&self.message),
            applescript_string(&self.title),
            buttons.join(", "),
            applescript_string(&self.proceed),
            self.seconds
        )
    }
}

/// The spec's values, checked.
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    pub deferrals: u32,
    pub deadline: Option<Deadline>,
    pub reprompt: Duration,
    pub timeout: Duration,
    pub means: TimeoutMeans,
    pub countdown: Duration,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Deadline {
    At(SystemTime),
    AfterFirstPrompt(Duration),
}

impl Deadline {
    pub fn parse(text: &str) -> Result<Option<Deadline>> {
        let t = text.trim();
        if t.is_empty() {
            return Ok(None);
        }
        if let Ok(at) = humantime::parse_rfc3339_weak(t) {
            return Ok(Some(Deadline::At(at)));
        }
        match humantime::parse_duration(t) {
            Ok(d) if d <= Duration::from_secs(super::timer::WEEK * 60 * 4) => {
                Ok(Some(Deadline::AfterFirstPrompt(d)))
            }
            Ok(_) => bail!("deadline `{t}` is more than 4 weeks after the first prompt"),
            Err(_) => bail!(
                "deadline must be empty, a time (2026-12-01T17:00:00Z; UTC without an offset) or a duration after the first prompt (8h, 2days), not `{t}`"
            ),
        }
    }

    pub fn resolve(&self, first_prompt: SystemTime) -> SystemTime {
        match self {
            Deadline::At(t) => *t,
            Deadline::AfterFirstPrompt(d) => first_prompt.checked_add(*d).unwrap_or(first_prompt),
        }
    }
}

fn seconds_of(d: Duration) -> u64 {
    d.as_secs_f64().ceil().max(1.0) as u64
}

impl Spec {
    pub fn proceed_button(&self) -> String {
        self.button
            .clone()
            .filter(|b| !b.trim().is_empty())
            .unwrap_or_else(|| "Continue".into())
    }

    /// The timer fields with their text (defaults filled in).
    pub fn timer_fields(&self) -> [(&'static str, String, u64); 3] {
        use super::timer::{DAY, WEEK};
        [
            (
                "reprompt_minutes",
                self.reprompt_minutes.clone().unwrap_or_else(|| "60".into()),
                WEEK,
            ),
            (
                "timeout_minutes",
                self.timeout_minutes.clone().unwrap_or_else(|| "5".into()),
                DAY,
            ),
            (
                "countdown_minutes",
                self.countdown_minutes.clone().unwrap_or_else(|| "1".into()),
                DAY,
            ),
        ]
    }

    /// The values that are not timers (`deferrals`, `deadline`, `timeout_means`), as
    /// (field, text): checked by `check_values` once variables are filled in.
    pub fn value_fields(&self) -> Vec<(&'static str, String)> {
        vec![
            (
                "deferrals",
                self.deferrals.clone().unwrap_or_else(|| "0".into()),
            ),
            ("deadline", self.deadline.clone().unwrap_or_default()),
            (
                "timeout_means",
                self.timeout_means.clone().unwrap_or_else(|| "defer".into()),
            ),
        ]
    }

    /// Check one non-timer field's expanded text.
    pub fn check_value(field: &str, text: &str) -> Result<()> {
        match field {
            "deferrals" => parse_deferrals(text).map(|_| ()),
            "deadline" => Deadline::parse(text).map(|_| ()),
            "timeout_means" => parse_means(text).map(|_| ()),
            _ => Ok(()),
        }
    }

    /// Literal values (no `{variable}`) are checked when the playbook is validated.
    pub fn validate(&self) -> Result<()> {
        if self.title.trim().is_empty() || self.message.trim().is_empty() {
            bail!("a notify step needs a `title` and a `message`");
        }
        for (field, text) in self.value_fields() {
            if !text.contains('{') {
                Self::check_value(field, &text).with_context(|| format!("`{field}`"))?;
            }
        }
        Ok(())
    }

    pub fn settings(&self) -> Result<Settings> {
        let [r, t, c] = self.timer_fields();
        let minutes =
            |(f, text, max): (&str, String, u64)| super::timer::minutes(f, &text, max, false);
        let values = self.value_fields();
        Ok(Settings {
            deferrals: parse_deferrals(&values[0].1)?,
            deadline: Deadline::parse(&values[1].1)?,
            means: parse_means(&values[2].1)?,
            reprompt: minutes(r)?,
            timeout: minutes(t)?,
            countdown: minutes(c)?,
        })
    }

    pub fn plan(&self, env: &Env) -> Result<StepPlan> {
        let mut plan = StepPlan::default();
        let s = self.settings()?;
        let how = if env.device.has_program(DIALOG) {
            "swiftDialog"
        } else {
            "an AppleScript dialog"
        };
        let who = match env.device.console_user() {
            Ok(Some(u)) => format!("tell {} ({how})", u.name),
            Ok(None) => {
                plan.notes.push(
                    "nobody is logged in at the console now: the run would go ahead without a prompt"
                        .into(),
                );
                "tell the console user, if one is logged in".to_string()
            }
            Err(e) => {
                plan.notes
                    .push(format!("could not read the console user: {e:#}"));
                "tell the console user, if one is logged in".to_string()
            }
        };
        let defer = if s.deferrals == 0 {
            format!("with a {}-second countdown", seconds_of(s.countdown))
        } else {
            format!(
                "who may defer {} time(s){}, re-prompted every {} minute(s); an unanswered prompt means {}",
                s.deferrals,
                match &s.deadline {
                    Some(Deadline::At(t)) =>
                        format!(" until {}", humantime::format_rfc3339_seconds(*t)),
                    Some(Deadline::AfterFirstPrompt(d)) =>
                        format!(" for {} after the first prompt", humantime::format_duration(*d)),
                    None => String::new(),
                },
                s.reprompt.as_secs_f64() / 60.0,
                match s.means {
                    TimeoutMeans::Consent => "consent",
                    TimeoutMeans::Defer => "a deferral",
                }
            )
        };
        plan.changes.push(PlannedChange::new(
            Op::Wait,
            format!("{who}: \"{}\", {defer}", self.title.trim()),
            true,
        ));
        Ok(plan)
    }

    pub fn apply(&self, env: &Env, rec: &mut dyn Recorder) -> Result<Outcome> {
        let s = self.settings()?;
        let step = env.step_id;
        let first_key = format!("notify-first:{step}");
        let count_key = format!("{NOTE_DEFERRALS}{step}");
        let until_key = format!("{NOTE_DEFERRED_UNTIL}{step}");
        let at_key = format!("deferred-at:{step}");
        // A resume while deferred (after a crash or a signal): wait out the deferral first, the
        // re-prompt interval counted from the deferral with today's value (`resume --set`).
        if let Some(deferred_at) = rec
            .get_note(&at_key)
            .and_then(|t| humantime::parse_rfc3339(&t).ok())
        {
            let first = rec
                .get_note(&first_key)
                .and_then(|t| humantime::parse_rfc3339(&t).ok())
                .unwrap_or(deferred_at);
            let deadline = s.deadline.as_ref().map(|d| d.resolve(first));
            let until = next_prompt(deferred_at, s.reprompt, deadline);
            if SystemTime::now() < until {
                if let Some(reason) = self.wait_deferred(rec, &until_key, until)? {
                    return Ok(Outcome::Pause {
                        reason,
                        until: Some(humantime::format_rfc3339_seconds(until).to_string()),
                    });
                }
            }
        }
        loop {
            let used: u32 = rec
                .get_note(&count_key)
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            let Some(user) = env.device.console_user()? else {
                let summary = if used == 0 {
                    "nobody is logged in at the console: nobody to tell, no prompt".to_string()
                } else {
                    format!("nobody is logged in at the console any more (after {used} deferral(s)): going ahead")
                };
                return Ok(Outcome::Done(summary));
            };
            let now = SystemTime::now();
            let first = match rec
                .get_note(&first_key)
                .and_then(|t| humantime::parse_rfc3339(&t).ok())
            {
                Some(t) => t,
                None => {
                    rec.note(
                        &first_key,
                        &humantime::format_rfc3339_seconds(now).to_string(),
                    )?;
                    now
                }
            };
            let deadline = s.deadline.as_ref().map(|d| d.resolve(first));
            if !can_defer(used, s.deferrals, now, deadline) {
                return self.final_notice(env, rec, &user, &s, used, deadline);
            }
            let left = s.deferrals - used;
            let mut message = self.message.trim().to_string();
            message.push_str(&format!(
                "\n\nYou can defer {left} more time(s){}.",
                deadline
                    .map(|d| format!(", until {}", humantime::format_rfc3339_seconds(d)))
                    .unwrap_or_default()
            ));
            let prompt = Prompt {
                title: self.title.trim().to_string(),
                message,
                proceed: self.proceed_button(),
                defer: Some(format!("Defer ({left} left)")),
                seconds: seconds_of(s.timeout),
            };
            let (answer, how) = show(env, &user, &prompt, s.timeout)?;
            let at = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
            match decide(answer, s.means, true) {
                Decision::GoAhead => {
                    let why = answer.describe();
                    rec.note(
                        &format!("consent:{step}"),
                        &format!("{at}: {why} ({how}, {})", user.name),
                    )?;
                    return Ok(Outcome::Done(format!(
                        "told {} ({how}); {why}{}",
                        user.name,
                        if answer == Answer::Proceed {
                            String::new()
                        } else {
                            ", which counts as consent (timeout_means = consent)".into()
                        }
                    )));
                }
                Decision::Defer => {
                    let n = used + 1;
                    let until = next_prompt(SystemTime::now(), s.reprompt, deadline);
                    let until_text = humantime::format_rfc3339_seconds(until).to_string();
                    rec.note(
                        &format!("deferral:{step}:{n}"),
                        &format!(
                            "{at}: {} ({how}, {}); deferral {n} of {}; next prompt at {until_text}",
                            answer.describe(),
                            user.name,
                            s.deferrals
                        ),
                    )?;
                    rec.note(&count_key, &n.to_string())?;
                    rec.note(&at_key, &at)?;
                    tracing::info!(step, deferral = n, allowed = s.deferrals, until = %until_text, "{}", answer.describe());
                    rec.out().line(&format!(
                        "  {} deferred ({}): deferral {n} of {}; next prompt at {until_text}",
                        user.name,
                        answer.describe(),
                        s.deferrals
                    ));
                    if let Some(reason) = self.wait_deferred(rec, &until_key, until)? {
                        return Ok(Outcome::Pause {
                            reason,
                            until: Some(until_text),
                        });
                    }
                }
            }
        }
    }

    /// Wait until the next prompt. `Some(reason)`: cut short by a signal (the run pauses).
    fn wait_deferred(
        &self,
        rec: &mut dyn Recorder,
        until_key: &str,
        until: SystemTime,
    ) -> Result<Option<String>> {
        let text = humantime::format_rfc3339_seconds(until).to_string();
        // The run's state is `deferred` from this note until the step ends or the run pauses
        // (journal::state), so it is written again by a resume.
        rec.note(until_key, &text)?;
        // A test's crash while the user has deferred (a power-off during the wait).
        if let Some(step) = until_key.strip_prefix(NOTE_DEFERRED_UNTIL) {
            crate::fault::point(&format!("deferred:{step}"));
        }
        Ok(super::gate::countdown(until, rec)?.map(|_| {
            format!("deferred by the user until {text}; stopped by a signal: `reenroll resume` prompts again then")
        }))
    }

    /// No deferral left (or the deadline passed): a notice with a countdown, then go ahead.
    fn final_notice(
        &self,
        env: &Env,
        rec: &mut dyn Recorder,
        user: &ConsoleUser,
        s: &Settings,
        used: u32,
        deadline: Option<SystemTime>,
    ) -> Result<Outcome> {
        let secs = seconds_of(s.countdown);
        let why = if deadline.is_some_and(|d| SystemTime::now() >= d) {
            "the deadline has come".to_string()
        } else if s.deferrals == 0 {
            String::new()
        } else {
            format!("no deferral is left ({used} of {})", s.deferrals)
        };
        let mut message = self.message.trim().to_string();
        message.push_str(&format!(
            "\n\n{}This starts when the countdown ends ({}).",
            if why.is_empty() {
                String::new()
            } else {
                let mut w = why.clone();
                w[..1].make_ascii_uppercase();
                format!("{w}. ")
            },
            countdown_text(secs)
        ));
        let prompt = Prompt {
            title: self.title.trim().to_string(),
            message,
            proceed: self.proceed_button(),
            defer: None,
            seconds: secs,
        };
        let (answer, how) = show(env, user, &prompt, s.countdown)?;
        let at = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
        rec.note(
            &format!("notice:{}", env.step_id),
            &format!(
                "{at}: countdown of {secs} s shown ({how}, {}): {}",
                user.name,
                answer.describe()
            ),
        )?;
        Ok(Outcome::Done(format!(
            "told {} ({how}) with a {} countdown{}; going ahead{}",
            user.name,
            countdown_text(secs),
            if answer == Answer::Proceed {
                " (they chose to start now)"
            } else {
                ""
            },
            if why.is_empty() {
                String::new()
            } else {
                format!(": {why}")
            }
        )))
    }
}

fn countdown_text(secs: u64) -> String {
    format!("{}:{:02}", secs / 60, secs % 60)
}

fn parse_deferrals(text: &str) -> Result<u32> {
    match text.trim().parse::<u32>() {
        Ok(n) if n <= MAX_DEFERRALS => Ok(n),
        _ => bail!("deferrals must be a whole number from 0 to {MAX_DEFERRALS}, not `{text}`"),
    }
}

fn parse_means(text: &str) -> Result<TimeoutMeans> {
    match text.trim() {
        "consent" => Ok(TimeoutMeans::Consent),
        "defer" => Ok(TimeoutMeans::Defer),
        _ => bail!("timeout_means must be `consent` or `defer`, not `{text}`"),
    }
}

/// Show a prompt to the console user: swiftDialog when installed (root in their session),
/// else AppleScript (as the user, in their session). Returns the answer and how it was shown.
fn show(
    env: &Env,
    user: &ConsoleUser,
    prompt: &Prompt,
    stays: Duration,
) -> Result<(Answer, &'static str)> {
    // The dialog gives up by itself; this only ends one that hangs.
    let opts = RunOpts {
        timeout: Some(stays + Duration::from_secs(120)),
        ..Default::default()
    };
    if env.device.has_program(DIALOG) {
        let (program, args) = super::run::in_console_session(user, DIALOG, &prompt.dialog_args());
        let out = env.device.run(&program, &args, &opts)?;
        let answer = dialog_answer(out.code);
        if answer != Answer::NotShown {
            return Ok((answer, "swiftDialog"));
        }
        tracing::warn!(
            "swiftDialog exited {}: {}; trying an AppleScript dialog",
            out.status_text(),
            out.stderr.trim()
        );
    }
    if !env.device.has_program(OSASCRIPT) {
        tracing::warn!("neither {DIALOG} nor {OSASCRIPT} is on the device: nobody can be told");
        return Ok((Answer::NotShown, "no dialog program"));
    }
    let (program, args) =
        super::run::as_console_user(user, OSASCRIPT, &["-e".to_string(), prompt.applescript()]);
    let out = env.device.run(&program, &args, &opts)?;
    let answer = osascript_answer(
        out.code,
        &out.stdout,
        &out.stderr,
        &prompt.proceed,
        prompt.defer.as_deref(),
    );
    if answer == Answer::NotShown {
        tracing::warn!(
            "osascript exited {}: {} {}",
            out.status_text(),
            out.stdout.trim(),
            out.stderr.trim()
        );
    }
    Ok((answer, "AppleScript"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> SystemTime {
        humantime::parse_rfc3339(s).unwrap()
    }

    #[test]
    fn answers_decide_by_button_then_by_what_a_timeout_means() {
        use Answer::{Dismissed, Focus, NotShown, Proceed, TimedOut};
        use TimeoutMeans::Consent;
        assert_eq!(
            decide(Proceed, TimeoutMeans::Defer, true),
            Decision::GoAhead
        );
        assert_eq!(decide(Answer::Defer, Consent, true), Decision::Defer);
        assert_eq!(decide(Dismissed, Consent, true), Decision::Defer);
        for a in [TimedOut, Focus, NotShown] {
            assert_eq!(decide(a, Consent, true), Decision::GoAhead, "{a:?}");
            assert_eq!(
                decide(a, TimeoutMeans::Defer, true),
                Decision::Defer,
                "{a:?}"
            );
        }
        // Nothing defers once no deferral is left.
        for a in [Proceed, Answer::Defer, TimedOut, Dismissed, Focus, NotShown] {
            assert_eq!(decide(a, TimeoutMeans::Defer, false), Decision::GoAhead);
        }
    }

    #[test]
    fn deferrals_end_with_the_count_or_the_deadline() {
        let now = t("2026-11-30T10:00:00Z");
        assert!(can_defer(0, 2, now, None));
        assert!(can_defer(1, 2, now, None));
        assert!(!can_defer(2, 2, now, None));
        assert!(!can_defer(0, 0, now, None));
        assert!(can_defer(0, 2, now, Some(t("2026-11-30T10:00:01Z"))));
        assert!(!can_defer(0, 2, now, Some(now)));
        // The next prompt never comes after the deadline.
        let hour = Duration::from_secs(3600);
        assert_eq!(next_prompt(now, hour, None), t("2026-11-30T11:00:00Z"));
        assert_eq!(
            next_prompt(now, hour, Some(t("2026-11-30T10:20:00Z"))),
            t("2026-11-30T10:20:00Z")
        );
    }

    #[test]
    fn deadlines_are_times_or_durations_after_the_first_prompt() {
        assert_eq!(Deadline::parse(" ").unwrap(), None);
        assert_eq!(
            Deadline::parse("2026-12-01T17:00:00Z").unwrap(),
            Some(Deadline::At(t("2026-12-01T17:00:00Z")))
        );
        assert_eq!(
            Deadline::parse("2026-12-01 17:00:00").unwrap(),
            Some(Deadline::At(t("2026-12-01T17:00:00Z")))
        );
        let d = Deadline::parse("8h").unwrap().unwrap();
        assert_eq!(
            d.resolve(t("2026-11-30T10:00:00Z")),
            t("2026-11-30T18:00:00Z")
        );
        assert!(Deadline::parse("tomorrow").is_err());
        assert!(Deadline::parse("100weeks").is_err());
    }

    #[test]
    fn values_are_checked() {
        assert!(parse_deferrals("3").is_ok());
        for bad in ["-1", "1.5", "x", "101", ""] {
            assert!(parse_deferrals(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_means("consent").unwrap(), TimeoutMeans::Consent);
        assert!(parse_means("yes").is_err());
    }

    #[test]
    fn swiftdialog_exit_codes() {
        assert_eq!(dialog_answer(Some(0)), Answer::Proceed);
        assert_eq!(dialog_answer(Some(2)), Answer::Defer);
        assert_eq!(dialog_answer(Some(4)), Answer::TimedOut);
        assert_eq!(dialog_answer(Some(10)), Answer::Dismissed);
        assert_eq!(dialog_answer(Some(20)), Answer::Focus);
        assert_eq!(dialog_answer(Some(1)), Answer::NotShown);
        assert_eq!(dialog_answer(None), Answer::NotShown);
    }

    #[test]
    fn osascript_output() {
        let a = |code, out: &str, err: &str| {
            osascript_answer(code, out, err, "Start now", Some("Defer (1 left)"))
        };
        assert_eq!(
            a(Some(0), "button returned:Start now, gave up:false\n", ""),
            Answer::Proceed
        );
        assert_eq!(
            a(
                Some(0),
                "button returned:Defer (1 left), gave up:false\n",
                ""
            ),
            Answer::Defer
        );
        assert_eq!(
            a(Some(0), "button returned:, gave up:true\n", ""),
            Answer::TimedOut
        );
        assert_eq!(
            a(
                Some(1),
                "",
                "0:120: execution error: User canceled. (-128)\n"
            ),
            Answer::Dismissed
        );
        assert_eq!(
            a(
                Some(1),
                "",
                "execution error: No user interaction allowed. (-1713)\n"
            ),
            Answer::NotShown
        );
    }

    #[test]
    fn the_applescript_quotes_what_it_shows() {
        let p = Prompt {
            title: "IT \"repair\"".into(),
            message: "a\\b".into(),
            proceed: "Start now".into(),
            defer: Some("Defer (2 left)".into()),
            seconds: 300,
        };
        assert_eq!(
            p.applescript(),
            r#"display dialog "a\\b" with title "IT \"repair\"" buttons {"Defer (2 left)", "Start now"} default button "Start now" giving up after 300 with icon caution"#
        );
        let args = p.dialog_args();
        assert!(args.windows(2).any(|w| w == ["--timer", "300"]));
        assert!(args
            .windows(2)
            .any(|w| w == ["--button2text", "Defer (2 left)"]));
    }
}
