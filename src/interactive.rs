//! `run --step`: the admin walks a broken Mac through the fix. Before each step: what it will do
//! (its plan lines), then `[y] do it, [s] skip, [d] details, [q] stop here`. Operator steps show
//! their instructions and ask the admin to confirm the work was done. A settle wait can be cut
//! short only by typing an explicit confirmation after a warning.

use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::time::SystemTime;

use anyhow::Result;

use crate::action::{ActionSpec, Env, Facts};
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

fn read_answer(prompt: &str) -> Result<String> {
    let mut out = std::io::stdout().lock();
    write!(out, "{prompt}")?;
    out.flush()?;
    let mut line = String::new();
    let n = std::io::stdin().lock().read_line(&mut line)?;
    if n == 0 {
        return Ok("q".into()); // end of input: stop, the run stays resumable
    }
    Ok(line.trim().to_string())
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
    let plan = spec.plan(&env).unwrap_or_default();
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
    loop {
        // An operator step, or a server step without credentials (it acts as one).
        let operator = plan
            .changes
            .iter()
            .any(|c| c.op == crate::action::Op::Operator);
        let prompt = if operator {
            "   Has this been done? [y] yes, confirm it  [s] skip  [d] details  [q] stop here: "
        } else {
            "   [y] do it  [s] skip  [d] details  [q] stop here: "
        };
        match read_answer(prompt)?.to_lowercase().as_str() {
            "y" | "yes" => {
                if operator {
                    runner.record(Record::Confirmed {
                        step: step.id.clone(),
                        at: crate::action::now_rfc3339(),
                    })?;
                }
                if let ActionSpec::Gate(g) = &spec {
                    if !settle_choice(runner, step, g)? {
                        return Ok(Choice::Stop);
                    }
                }
                return Ok(Choice::Do);
            }
            "s" | "skip" => return Ok(Choice::Skip),
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

/// Before a settle wait: wait, or cut it short after a warning and an explicit confirmation.
fn settle_choice(runner: &mut Runner, step: &Step, g: &crate::action::gate::Spec) -> Result<bool> {
    use crate::action::Recorder;
    // Until the server steps are done the gate pauses anyway: nothing to wait for yet.
    if g.after.iter().any(|id| {
        runner.confirmed(id).is_none() && runner.get_note(&format!("finished-at:{id}")).is_none()
    }) {
        return Ok(true);
    }
    println!("   The article asks for at least 30 minutes between deleting the Intune records and re-enrolling (this run: {} minute(s)).", g.settle_minutes.trim());
    loop {
        match read_answer("   [w] wait (countdown)  [c] cut the wait short  [q] stop here: ")?
            .to_lowercase()
            .as_str()
        {
            "w" | "wait" | "y" | "" => return Ok(true),
            "q" => return Ok(false),
            "c" => {
                println!("   WARNING: re-enrolling before Intune has processed the deletions can register the Mac twice again.");
                let typed =
                    read_answer(&format!("   Type `{CUT_SHORT}` to go on without waiting: "))?;
                if typed == CUT_SHORT {
                    runner.record(Record::Note {
                        key: format!("settle-cut:{}", step.id),
                        value: crate::action::now_rfc3339(),
                    })?;
                    return Ok(true);
                }
                println!("   not cut short");
            }
            other => println!("   `{other}`: answer w, c or q"),
        }
    }
}
