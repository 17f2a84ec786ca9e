//! `run --step`: the admin walks a broken Mac through the fix. Before each step: what it will do
//! (its plan lines), then `[y] do it, [s] skip, [d] details, [q] stop here`. Operator steps show
//! their instructions and ask the admin to confirm the work was done. A settle wait can be cut
//! short only by typing an explicit confirmation after a warning.
//!
//! A step with nothing to change, and a step confirmed on the command line (`--confirm`), are
//! shown and run without a question. `[s]` on a step a gate waits for says that the gate still
//! waits for it. Before a restart the question says that the LaunchDaemon carries on unattended
//! afterwards, and how to get the questions back. Ctrl-C (or SIGTERM/SIGHUP) while a question
//! waits for its answer pauses the run before that step (exit 3), like a signal between steps.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, Receiver};
use std::sync::{Mutex, OnceLock};
use std::time::SystemTime;

use anyhow::Result;

use crate::action::{ActionSpec, Env, Facts, Recorder, StepPlan};
use crate::executor::{Choice, Runner, StepPrompt};
use crate::journal::Record;
use crate::output::{width, wrap};
use crate::playbook::Step;
use crate::report::render_step_lines;

/// The prompt on the terminal (stdin/stdout), handed to the executor by `run --step`.
pub struct Terminal;

impl StepPrompt for Terminal {
    fn ask(
        &self,
        runner: &mut Runner,
        step: &Step,
        values: &BTreeMap<String, String>,
        facts: &Facts,
    ) -> Result<Choice> {
        ask(runner, step, values, facts)
    }
}

/// The words that cut a settle wait short.
pub const CUT_SHORT: &str = "skip the wait";

/// What arrives while a question waits: a line typed, the end of input, or a signal.
enum Event {
    Line(String),
    End,
    Signal,
}

/// An answer, or the signal that interrupted the question.
enum Answer {
    Text(String),
    Interrupted,
}

/// Lines from standard input and the stop signals, in the order they arrive, on one channel.
/// A blocking read is restarted after a signal (the handlers are installed with `SA_RESTART`),
/// so the read happens on its own thread and a signal is a message of its own: the question
/// returns on whichever comes first. Started at the first question; a signal that came before
/// it is seen through the runner's flag.
fn events() -> &'static Mutex<Receiver<Event>> {
    static EVENTS: OnceLock<Mutex<Receiver<Event>>> = OnceLock::new();
    EVENTS.get_or_init(|| {
        let (tx, rx) = channel();
        let signals = tx.clone();
        std::thread::spawn(move || loop {
            let mut line = String::new();
            match std::io::stdin().read_line(&mut line) {
                Ok(n) if n > 0 => {
                    if tx.send(Event::Line(line)).is_err() {
                        return;
                    }
                }
                // End of input, or a terminal that went away.
                _ => {
                    let _ = tx.send(Event::End);
                    return;
                }
            }
        });
        match signal_hook::iterator::Signals::new([
            signal_hook::consts::SIGINT,
            signal_hook::consts::SIGTERM,
            signal_hook::consts::SIGHUP,
        ]) {
            Ok(mut it) => {
                std::thread::spawn(move || {
                    for _ in it.forever() {
                        if signals.send(Event::Signal).is_err() {
                            return;
                        }
                    }
                });
            }
            Err(e) => {
                tracing::warn!("Ctrl-C at a question cannot be noticed until it is answered: {e}")
            }
        }
        Mutex::new(rx)
    })
}

/// Standard input has ended: every later question is answered `q` at once (the reading thread
/// is gone, and the signal thread keeps the channel open).
static INPUT_ENDED: AtomicBool = AtomicBool::new(false);

fn read_answer(runner: &Runner, prompt: &str) -> Result<Answer> {
    let events = events();
    // After `events()`: a signal from now on is a message; one before was raised as the flag.
    if runner.cancelled() {
        println!();
        return Ok(Answer::Interrupted);
    }
    if INPUT_ENDED.load(Ordering::SeqCst) {
        return Ok(Answer::Text("q".into()));
    }
    let mut out = std::io::stdout().lock();
    write!(out, "{prompt}")?;
    out.flush()?;
    drop(out);
    let event = events
        .lock()
        .map_err(|_| anyhow::anyhow!("the terminal input is gone"))?
        .recv()
        .unwrap_or(Event::End);
    Ok(match event {
        Event::Line(line) => Answer::Text(line.trim().to_string()),
        // End of input: stop, the run stays resumable.
        Event::End => {
            INPUT_ENDED.store(true, Ordering::SeqCst);
            println!();
            Answer::Text("q".into())
        }
        Event::Signal => {
            println!();
            Answer::Interrupted
        }
    })
}

/// The gates that wait for a step (`after` names it): skipping the step releases none of them.
fn gates_waiting_for<'p>(runner: &'p Runner, step: &Step) -> Vec<&'p str> {
    runner
        .pb
        .steps
        .iter()
        .filter_map(|s| match &s.action {
            ActionSpec::Gate(g) if g.after.iter().any(|a| a == &step.id) => Some(s.id.as_str()),
            _ => None,
        })
        .collect()
}

fn ask(
    runner: &mut Runner,
    step: &Step,
    values: &BTreeMap<String, String>,
    facts: &Facts,
) -> Result<Choice> {
    let spec = runner.pb.expand_step(step, values)?;
    let env = Env {
        device: runner.device(),
        values: values.clone(),
        facts,
        step_id: &step.id,
        reversible: step.reversible,
        now: SystemTime::now(),
    };
    let (plan, unplanned) = match spec.plan(&env) {
        Ok(plan) => (plan, None),
        Err(e) => (StepPlan::default(), Some(format!("{e:#}"))),
    };
    println!();
    print!(
        "{}",
        wrap(
            "── ",
            "   ",
            &format!("{} — {}", step.id, step.title),
            width()
        )
    );
    print!("{}", render_step_lines(&plan, 12));
    if let Some(e) = &unplanned {
        say(&format!("could not tell what this step would change: {e}"));
    }
    // Confirmed on the command line (`--confirm`): the admin has answered already.
    if let Some(at) = runner.confirmed(&step.id) {
        say(&format!("confirmed at {at} (--confirm): not asked again"));
        return Ok(Choice::Do);
    }
    // Nothing to change: the step runs (it looks at the device again) without a question.
    if unplanned.is_none() && plan.changes.is_empty() {
        say("nothing to change: not asked");
        return Ok(Choice::Do);
    }
    // An operator step, or a server step without credentials (it acts as one).
    let operator = plan
        .changes
        .iter()
        .any(|c| c.op == crate::action::Op::Operator);
    let gates = gates_waiting_for(runner, step)
        .into_iter()
        .map(|g| format!("`{g}`"))
        .collect::<Vec<_>>()
        .join(", ");
    if matches!(spec, ActionSpec::Reboot(_)) {
        say(&format!(
            "After the restart the LaunchDaemon {} carries this run on unattended, without these questions, until the run pauses (an operator step, a wait), fails or ends; follow it with `{}` or in {}. To get the questions back for what is left, once it has paused: `{}`.",
            crate::action::reboot::LABEL,
            runner.device().hint("status"),
            crate::action::reboot::DAEMON_OUTPUT,
            runner.device().hint("resume --step"),
        ));
    }
    let skip = if gates.is_empty() {
        "[s] skip".to_string()
    } else {
        format!("[s] skip for now ({gates} still waits for it)")
    };
    let prompt = if operator {
        format!("   Has this been done? [y] yes, confirm it  {skip}  [d] details  [q] stop here: ")
    } else {
        format!("   [y] do it  {skip}  [d] details  [q] stop here: ")
    };
    loop {
        let answer = match read_answer(runner, &prompt)? {
            Answer::Text(t) => t,
            Answer::Interrupted => return Ok(Choice::Interrupted),
        };
        match answer.to_lowercase().as_str() {
            "y" | "yes" => {
                runner.mark_answered();
                if operator {
                    runner.record(Record::Confirmed {
                        step: step.id.clone(),
                        at: crate::action::now_rfc3339(),
                    })?;
                }
                if let ActionSpec::Gate(g) = &spec {
                    return settle_choice(runner, step, g);
                }
                return Ok(Choice::Do);
            }
            "s" | "skip" => {
                runner.mark_answered();
                if !gates.is_empty() {
                    say(&format!(
                        "This only postpones it: {gates} still waits for `{}` and holds the run until it is confirmed. Once it is done: `{}`.",
                        step.id,
                        runner
                            .device()
                            .hint(&format!("resume --confirm {}", step.id))
                    ));
                }
                return Ok(Choice::Skip);
            }
            "q" | "quit" | "stop" => return Ok(Choice::Stop),
            "d" | "details" => {
                println!(
                    "   action: {}{}",
                    spec.kind(),
                    step.article
                        .as_ref()
                        .map(|a| format!(" (article step {a})"))
                        .unwrap_or_default()
                );
                println!(
                    "   needs root: {}; can be undone: {}",
                    if step.needs_root { "yes" } else { "no" },
                    if step.reversible { "yes" } else { "no" }
                );
                if let Some(d) = &step.details {
                    println!("   {d}");
                }
                print!("{}", render_step_lines(&plan, usize::MAX));
            }
            other => println!("   `{other}`: answer y, s, d or q"),
        }
    }
}

/// A line under the step's heading, wrapped to the terminal.
fn say(text: &str) {
    print!("{}", wrap("   ", "   ", text, width()));
}

/// Before a settle wait: wait, or cut it short after a warning and an explicit confirmation.
fn settle_choice(
    runner: &mut Runner,
    step: &Step,
    g: &crate::action::gate::Spec,
) -> Result<Choice> {
    // Until the server steps are done the gate pauses anyway: nothing to wait for yet.
    if g.after.iter().any(|id| {
        runner.confirmed(id).is_none() && runner.get_note(&format!("finished-at:{id}")).is_none()
    }) {
        return Ok(Choice::Do);
    }
    println!("   The article asks for at least 30 minutes between deleting the Intune records and re-enrolling (this run: {} minute(s)).", g.settle_minutes.trim());
    loop {
        let answer = match read_answer(
            runner,
            "   [w] wait (countdown)  [c] cut the wait short  [q] stop here: ",
        )? {
            Answer::Text(t) => t,
            Answer::Interrupted => return Ok(Choice::Interrupted),
        };
        match answer.to_lowercase().as_str() {
            "w" | "wait" | "y" | "" => return Ok(Choice::Do),
            "q" => return Ok(Choice::Stop),
            "c" => {
                println!("   WARNING: re-enrolling before Intune has processed the deletions can register the Mac twice again.");
                let typed = match read_answer(
                    runner,
                    &format!("   Type `{CUT_SHORT}` to go on without waiting: "),
                )? {
                    Answer::Text(t) => t,
                    Answer::Interrupted => return Ok(Choice::Interrupted),
                };
                if typed == CUT_SHORT {
                    runner.record(Record::Note {
                        key: format!("settle-cut:{}", step.id),
                        value: crate::action::now_rfc3339(),
                    })?;
                    return Ok(Choice::Do);
                }
                println!("   not cut short");
            }
            other => println!("   `{other}`: answer w, c or q"),
        }
    }
}
