//! Output. The `Printer` owns stdout: one plain line per step event (no escape codes when stdout
//! is not a terminal), nothing at all with `--json` (the JSON document is printed once at the
//! end), and the indicatif draw target for progress and countdowns.

use std::io::{IsTerminal, Write};

use crate::plan::PlanReport;

pub struct Printer {
    json: bool,
    tty: bool,
}

impl Printer {
    pub fn new(json: bool) -> Self {
        Printer {
            json,
            tty: std::io::stdout().is_terminal(),
        }
    }

    pub fn is_tty(&self) -> bool {
        self.tty && !self.json
    }

    pub fn line(&self, s: &str) {
        if !self.json {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{s}");
        }
    }

    pub fn begin(&self, id: &str, title: &str) {
        if self.is_tty() {
            self.line(&format!("  ...      {id}: {title}"));
        }
    }

    pub fn step(&self, what: &str, id: &str, summary: &str) {
        let first = summary.lines().next().unwrap_or("");
        let mark = if self.is_tty() {
            match what {
                "done" | "restored" => format!("\x1b[32m{what:<8}\x1b[0m"),
                "failed" => format!("\x1b[31m{what:<8}\x1b[0m"),
                "paused" | "waiting" => format!("\x1b[33m{what:<8}\x1b[0m"),
                _ => format!("{what:<8}"),
            }
        } else {
            format!("{what:<8}")
        };
        self.line(&format!("  {mark} {id}: {first}"));
        for more in summary.lines().skip(1) {
            self.line(&format!("           {more}"));
        }
    }

    pub fn detail(&self, s: &str) {
        self.line(&format!("           {s}"));
    }

    pub fn json<T: serde::Serialize>(&self, value: &T) {
        let mut out = std::io::stdout().lock();
        let _ = serde_json::to_writer_pretty(&mut out, value);
        let _ = writeln!(out);
    }
}

pub fn human_bytes(b: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = b as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{b} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// The human plan, readable at 80 columns.
pub fn render_plan(p: &PlanReport) -> String {
    let mut s = String::new();
    s.push_str(&format!("Plan: {} on {}\n", p.playbook, p.device));
    if let Some(first) = p.description.lines().next() {
        s.push_str(&format!("  {first}\n"));
    }
    if !p.facts.is_empty() {
        let f = |k: &str| {
            p.facts
                .get(k)
                .and_then(|v| v.as_str())
                .filter(|v| !v.is_empty())
                .unwrap_or("?")
                .to_string()
        };
        s.push_str(&format!(
            "Device: serial {}, \"{}\", console user {}\n",
            f("serial"),
            f("computer_name"),
            f("console_user")
        ));
        s.push_str(&format!(
            "        Jamf Pro {}, Entra device id(s) {}\n",
            f("jss_url"),
            f("entra_device_ids")
        ));
        let b = |k: &str| p.facts.get(k).and_then(|v| v.as_bool());
        s.push_str(&format!(
            "        MDM profile {}, ADE {}, Platform SSO registered {}\n",
            yes_no(b("mdm_profile")),
            yes_no(b("ade")),
            yes_no(b("psso_registered"))
        ));
    }
    if !p.vars.is_empty() {
        s.push_str("Variables:\n");
        for (k, v) in &p.vars {
            s.push_str(&format!("  {k} = {:?}  ({})\n", v.value, v.source));
        }
    }
    s.push('\n');
    for (i, st) in p.steps.iter().enumerate() {
        let mut tags = Vec::new();
        if st.needs_root {
            tags.push("root");
        }
        tags.push(if st.reversible {
            "reversible"
        } else {
            "irreversible"
        });
        s.push_str(&format!(
            "{:>2}. {} [{}] {}\n",
            i + 1,
            st.id,
            st.action,
            tags.join(", ")
        ));
        s.push_str(&format!("    {}\n", st.title));
        if let Some(r) = &st.not_applicable {
            s.push_str(&format!("    - {r}\n"));
            continue;
        }
        for c in &st.changes {
            let size = match (c.bytes, c.entries) {
                (Some(b), Some(e)) if e > 1 => format!(" ({}, {e} entries)", human_bytes(b)),
                (Some(b), _) => format!(" ({})", human_bytes(b)),
                _ => String::new(),
            };
            let rev = if c.reversible
                || matches!(
                    c.op,
                    crate::action::Op::Refuse | crate::action::Op::Operator
                ) {
                ""
            } else {
                " [cannot be undone]"
            };
            let target = c.target.lines().next().unwrap_or("");
            s.push_str(&format!("    {:<8} {target}{size}{rev}\n", c.op.as_str()));
            for more in c.target.lines().skip(1) {
                s.push_str(&format!("             {more}\n"));
            }
            if let Some(r) = &c.reason {
                s.push_str(&format!("             ({r})\n"));
            }
        }
        if st.changes.is_empty() && st.unseen.is_empty() {
            s.push_str("    nothing to do\n");
        }
        if !st.already.is_empty() {
            if st.already.len() <= 3 {
                for a in &st.already {
                    s.push_str(&format!("    already: {a}\n"));
                }
            } else {
                s.push_str(&format!(
                    "    already done: {} item(s) absent or in the wanted state\n",
                    st.already.len()
                ));
            }
        }
        for u in &st.unseen {
            s.push_str(&format!("    could not see: {u}\n"));
        }
        for n in &st.notes {
            s.push_str(&format!("    note: {n}\n"));
        }
    }
    let t = &p.totals;
    s.push_str(&format!(
        "\nTotal: {} path(s) to remove ({}), {} refused, {} program(s) to run, {} keychain item(s) to delete, {} operator step(s); {} change(s) cannot be undone.\n",
        t.remove,
        human_bytes(t.bytes),
        t.refuse,
        t.run,
        t.delete,
        t.operator,
        t.irreversible
    ));
    for w in &p.warnings {
        s.push_str(&format!("warning: {w}\n"));
    }
    s
}

fn yes_no(b: Option<bool>) -> &'static str {
    match b {
        Some(true) => "yes",
        Some(false) => "no",
        None => "unknown",
    }
}

pub fn render_status(r: &crate::executor::StatusReport) -> String {
    let mut s = String::new();
    if r.runs.is_empty() {
        s.push_str("no runs yet\n");
    }
    for run in &r.runs {
        s.push_str(&format!(
            "{}  {}  {}  (started {})\n",
            run.id, run.playbook, run.state, run.started
        ));
        if let Some(p) = &run.paused {
            s.push_str(&format!("  paused: {}\n", p.lines().next().unwrap_or("")));
        }
        for st in &run.steps {
            s.push_str(&format!("  {:<17} {}", st.state, st.id));
            if !st.summary.is_empty() {
                s.push_str(&format!(": {}", st.summary.lines().next().unwrap_or("")));
            }
            s.push('\n');
        }
        for e in &run.exceptions {
            s.push_str(&format!("  exception: {e}\n"));
        }
    }
    s
}

/// `<result>STATE STEP DATE</result>` for the newest run, `<result>none</result>` without one.
pub fn jamf_extension_attribute(r: &crate::executor::StatusReport) -> String {
    let Some(run) = r.runs.last() else {
        return "<result>none</result>".to_string();
    };
    let step = run
        .paused_at_step
        .clone()
        .or_else(|| {
            run.steps
                .iter()
                .find(|s| matches!(s.state.as_str(), "failed" | "running" | "waiting"))
                .map(|s| s.id.clone())
        })
        .or_else(|| {
            (run.state == "paused" || run.state == "interrupted")
                .then(|| {
                    run.steps
                        .iter()
                        .find(|s| s.state == "pending")
                        .map(|s| s.id.clone())
                })
                .flatten()
        })
        .or_else(|| {
            run.steps
                .iter()
                .rev()
                .find(|s| s.state != "pending")
                .map(|s| s.id.clone())
        })
        .unwrap_or_else(|| "-".to_string());
    format!("<result>{} {} {}</result>", run.state, step, run.updated)
}

/// A step's plan lines (for `run --step`), at most `max` changes.
pub fn render_step_lines(p: &crate::action::StepPlan, max: usize) -> String {
    let mut s = String::new();
    for c in p.changes.iter().take(max) {
        let size = c
            .bytes
            .map(|b| format!(" ({})", human_bytes(b)))
            .unwrap_or_default();
        let rev = if c.reversible
            || matches!(
                c.op,
                crate::action::Op::Refuse | crate::action::Op::Operator | crate::action::Op::Wait
            ) {
            ""
        } else {
            " [cannot be undone]"
        };
        s.push_str(&format!(
            "   {:<8} {}{size}{rev}\n",
            c.op.as_str(),
            c.target.lines().next().unwrap_or("")
        ));
        if let Some(r) = &c.reason {
            s.push_str(&format!("            ({r})\n"));
        }
    }
    if p.changes.len() > max {
        s.push_str(&format!(
            "   … and {} more ([d] shows all)\n",
            p.changes.len() - max
        ));
    }
    if p.changes.is_empty() {
        s.push_str("   nothing to change\n");
    }
    for a in p.already.iter().take(max.min(3)) {
        s.push_str(&format!("   already: {a}\n"));
    }
    for u in &p.unseen {
        s.push_str(&format!("   could not see: {u}\n"));
    }
    for n in &p.notes {
        s.push_str(&format!("   note: {n}\n"));
    }
    s
}
