//! Human renderings of plans, runs and the Jamf extension attribute (printed by the commands
//! through the `Printer` of `output`).

use crate::output::{human_bytes, width, wrap};
use crate::plan::PlanReport;

/// The human plan, readable at 80 columns.
pub fn render_plan(p: &PlanReport) -> String {
    let mut s = String::new();
    s.push_str(&wrap(
        "Plan: ",
        "  ",
        &format!("{} on {}", p.playbook, p.device),
        width(),
    ));
    if let Some(first) = p.description.lines().next() {
        s.push_str(&wrap("  ", "  ", first, width()));
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
        s.push_str(&format!("        Jamf Pro {}\n", f("jss_url")));
        s.push_str(&wrap(
            "        Entra device id(s) ",
            "          ",
            &f("entra_device_ids"),
            width(),
        ));
        let b = |k: &str| p.facts.get(k).and_then(|v| v.as_bool());
        s.push_str(&format!(
            "        MDM profile {}, ADE {}, Platform SSO registered {}\n",
            yes_no(b("mdm_profile")),
            yes_no(b("ade")),
            yes_no(b("psso_registered"))
        ));
    }
    s.push_str(&server_access_lines(&p.server_access));
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
            tags.push("needs root");
        }
        match st.action.as_str() {
            "facts" | "verify-removed" => tags.push("read-only"),
            "operator" | "gate" | "wait-for" => tags.push("changes nothing here"),
            _ => tags.push(if st.reversible {
                "can be undone"
            } else {
                "cannot be undone"
            }),
        }
        s.push_str(&format!(
            "{:>2}. {} [{}] {}\n",
            i + 1,
            st.id,
            st.action,
            tags.join(", ")
        ));
        s.push_str(&wrap("    ", "    ", &st.title, width()));
        if let Some(r) = &st.not_applicable {
            s.push_str(&wrap("    - ", "      ", r, width()));
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
            // A path breaks only after a '/', never at a space inside it.
            let target = if target.starts_with('/') {
                target.replace(' ', "\u{a0}")
            } else {
                target.to_string()
            };
            let line = wrap(
                &format!("    {:<8} ", c.op.as_str()),
                "             ",
                &format!("{target}{size}{rev}"),
                width(),
            );
            s.push_str(&line.replace('\u{a0}', " "));
            for more in c.target.lines().skip(1) {
                s.push_str(&wrap("             ", "             ", more, width()));
            }
            if let Some(r) = &c.reason {
                s.push_str(&wrap(
                    "             (",
                    "              ",
                    &format!("{r})"),
                    width(),
                ));
            }
        }
        for k in &st.kept {
            s.push_str(&wrap("    keep     ", "             ", &k.target, width()));
            s.push_str(&wrap(
                "             (",
                "              ",
                &format!("kept by rule: {})", k.rule),
                width(),
            ));
        }
        if st.changes.is_empty() && st.unseen.is_empty() {
            s.push_str("    nothing to do\n");
        }
        if !st.already.is_empty() {
            if st.already.len() <= 3 {
                for a in &st.already {
                    s.push_str(&wrap("    already: ", "      ", a, width()));
                }
            } else {
                s.push_str(&format!(
                    "    already done: {} item(s) absent or in the wanted state\n",
                    st.already.len()
                ));
            }
        }
        for u in &st.unseen {
            s.push_str(&wrap("    could not see: ", "      ", u, width()));
        }
        for n in &st.notes {
            s.push_str(&wrap("    note: ", "      ", n, width()));
        }
    }
    let t = &p.totals;
    let totals = format!(
        "Total: {} path(s) to remove ({}), {} refused, {} program(s) to run, {} keychain item(s) to delete, {} operator step(s); {} change(s) cannot be undone.",
        t.remove,
        human_bytes(t.bytes),
        t.refuse,
        t.run,
        t.delete,
        t.operator,
        t.irreversible
    );
    s.push('\n');
    s.push_str(&wrap("", "  ", &totals, width()));
    for w in &p.warnings {
        s.push_str(&wrap("warning: ", "  ", w, width()));
    }
    s.push_str(&server_access_lines(&p.server_access));
    s
}

/// The API credentials that do not work, shown first and last in a plan: `run` refuses them.
pub fn server_access_lines(problems: &[String]) -> String {
    let mut s = String::new();
    if problems.is_empty() {
        return s;
    }
    s.push_str(
        "\nSERVER CREDENTIALS DO NOT WORK: `run` refuses to start (exit 4) until this is fixed:\n",
    );
    for p in problems {
        s.push_str(&wrap("  ! ", "    ", p, width()));
    }
    s.push('\n');
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
        s.push_str(&format!("{}  {}  {}\n", run.id, run.playbook, run.state));
        s.push_str(&format!(
            "  started {}, last event {}\n",
            run.started, run.updated
        ));
        if let Some(d) = &run.damage {
            s.push_str(&wrap("  damaged: ", "    ", d, width()));
        }
        for u in &run.unexplained {
            s.push_str(&wrap("  no record explains: ", "    ", u, width()));
        }
        if !run.facts.is_empty() {
            let f = |k: &str| {
                run.facts
                    .get(k)
                    .and_then(|v| v.as_str())
                    .filter(|v| !v.is_empty())
                    .unwrap_or("?")
                    .to_string()
            };
            let facts = format!(
                "serial {}, \"{}\", console user {}, Jamf Pro {}, Entra device id(s) {}",
                f("serial"),
                f("computer_name"),
                f("console_user"),
                f("jss_url"),
                f("entra_device_ids")
            );
            s.push_str(&wrap("  facts: ", "    ", &facts, width()));
            if let Some(u) = run
                .facts
                .get("keychains_unreachable")
                .and_then(|v| v.as_array())
            {
                for k in u.iter().filter_map(|v| v.as_str()) {
                    s.push_str(&wrap("  keychain not reachable: ", "    ", k, width()));
                }
            }
        }
        if !run.not_restored.is_empty() {
            s.push_str(&format!(
                "  {}: `reenroll rollback {}` retries them\n",
                crate::executor::incomplete_text(run.not_restored.len()),
                run.id
            ));
            for f in &run.not_restored {
                s.push_str(&wrap("    not restored: ", "      ", f, width()));
            }
        }
        if let Some(p) = &run.paused {
            s.push_str(&wrap(
                "  paused: ",
                "    ",
                p.lines().next().unwrap_or(""),
                width(),
            ));
        }
        if let Some(d) = &run.deferred {
            s.push_str(&wrap(
                "  deferred: ",
                "    ",
                &format!(
                    "the user at the Mac deferred `{}` ({} time(s)); asked again at {}",
                    d.step, d.deferrals, d.until
                ),
                width(),
            ));
        }
        for st in &run.steps {
            let head = format!("  {:<17}", st.state);
            match st.summary.lines().next().filter(|l| !l.is_empty()) {
                Some(summary) => s.push_str(&wrap(
                    &format!("{head} "),
                    &" ".repeat(head.len() + 3),
                    &format!("{}: {summary}", st.id),
                    width(),
                )),
                None => s.push_str(&format!("{head} {}\n", st.id)),
            }
        }
        for e in &run.exceptions {
            s.push_str(&wrap("  exception: ", "    ", e, width()));
        }
        for n in &run.notes {
            s.push_str(&wrap("  note: ", "    ", n, width()));
        }
    }
    s
}

/// `<result>STATE STEP DATE</result>` for the newest run, `<result>none</result>` without one.
pub fn jamf_extension_attribute(r: &crate::executor::StatusReport) -> String {
    let Some(run) = r.runs.last() else {
        return "<result>none</result>".to_string();
    };
    // A rollback left incomplete names the (first) step it still owes a change of.
    let owed = run
        .not_restored
        .first()
        .and_then(|f| f.split_once(": "))
        .map(|(step, _)| step.to_string());
    let step = owed
        .or_else(|| run.paused_at_step.clone())
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
    // Handed to the LaunchDaemon and not picked up yet: say so, with the step it starts from.
    if run
        .paused
        .as_deref()
        .is_some_and(|p| p.starts_with("handed to the LaunchDaemon"))
    {
        let next = run
            .steps
            .iter()
            .find(|s| matches!(s.state.as_str(), "pending" | "waiting" | "failed"))
            .map_or("-", |s| s.id.as_str());
        return format!("<result>scheduled {next} {}</result>", run.updated);
    }
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
    for k in &p.kept {
        s.push_str(&format!(
            "   keep     {}\n            (kept by rule: {})\n",
            k.target, k.rule
        ));
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

/// `playbooks --json` and `playbooks show NAME --json`: what a playbook is and does, for scripts
/// (the TOML itself is `playbooks show NAME`).
#[derive(serde::Serialize)]
pub struct PlaybookView {
    pub name: String,
    pub description: String,
    /// `playbooks/NAME.toml` for an embedded playbook, else the file's path as given.
    pub origin: String,
    pub vars: std::collections::BTreeMap<String, PlaybookVar>,
    pub steps: Vec<PlaybookStep>,
}

/// A variable: its default as text (values are text: `--set KEY=VALUE` and `{placeholders}`).
#[derive(serde::Serialize)]
pub struct PlaybookVar {
    pub default: String,
    pub description: String,
    pub timer: bool,
    /// The smallest value the article advises (minutes), or null.
    pub advised_minimum: Option<f64>,
}

#[derive(serde::Serialize)]
pub struct PlaybookStep {
    pub id: String,
    pub title: String,
    /// The action kind (`remove`, `server`, ...).
    pub action: String,
    /// The article's step, or null.
    pub article: Option<String>,
    pub needs_root: bool,
    pub reversible: bool,
}

impl PlaybookView {
    pub fn of(pb: &crate::playbook::Playbook) -> Self {
        PlaybookView {
            name: pb.name.clone(),
            description: pb.description.trim().to_string(),
            origin: pb.origin.clone(),
            vars: pb
                .vars
                .iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        PlaybookVar {
                            default: v.default.clone(),
                            description: v.description.clone(),
                            timer: v.timer,
                            advised_minimum: v.advised_minimum,
                        },
                    )
                })
                .collect(),
            steps: pb
                .steps
                .iter()
                .map(|s| PlaybookStep {
                    id: s.id.clone(),
                    title: s.title.clone(),
                    action: s.action.kind().to_string(),
                    article: s.article.clone(),
                    needs_root: s.needs_root,
                    reversible: s.reversible,
                })
                .collect(),
        }
    }
}

/// `playbooks --json`: every embedded playbook, in the order `playbooks` lists them.
#[derive(serde::Serialize)]
pub struct PlaybookList {
    pub playbooks: Vec<PlaybookView>,
}

fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// What `rollback` would do: per step what it puts back, then what stays undone.
pub fn render_rollback_preview(p: &crate::executor::RollbackPreview) -> String {
    let mut s = String::new();
    s.push_str(&wrap(
        "",
        "  ",
        &format!(
            "rollback of run {} (playbook {}, {}, started {}):",
            p.run, p.playbook, p.state, p.started
        ),
        width(),
    ));
    let mut any = false;
    for st in &p.steps {
        let mut what = Vec::new();
        if st.files > 0 {
            what.push(format!("puts back {}", count(st.files, "path", "paths")));
        }
        if st.keychain_items > 0 {
            what.push(format!(
                "adds back {}",
                count(st.keychain_items, "keychain item", "keychain items")
            ));
        }
        if st.created > 0 {
            what.push(format!(
                "removes {} the run created",
                count(st.created, "file", "files")
            ));
        }
        if what.is_empty() {
            continue;
        }
        any = true;
        s.push_str(&wrap(
            &format!("  {:<30} ", st.id),
            "                                 ",
            &what.join(", "),
            width(),
        ));
    }
    if !any {
        s.push_str("  nothing to put back\n");
    }
    if !p.irreversible.is_empty() {
        s.push_str(&format!(
            "  cannot be undone ({}), stays as the run left it:\n",
            p.irreversible.len()
        ));
        for i in &p.irreversible {
            s.push_str(&wrap("    ", "      ", i, width()));
        }
    }
    s
}

/// After a rollback: how the Mac is managed now, said plainly, and how to get management back.
pub fn render_rollback_end(e: &crate::executor::EndState) -> String {
    let mut missing = Vec::new();
    if !e.framework {
        missing.push("no Jamf framework (/usr/local/jamf/bin/jamf)");
    }
    if e.mdm_profile == Some(false) {
        missing.push("no Jamf MDM profile");
    }
    if missing.is_empty() {
        return wrap(
            "end state: ",
            "  ",
            "the Jamf framework is installed and the MDM profile is not missing; Jamf Pro still manages this Mac",
            width(),
        );
    }
    let mut s = wrap(
        "end state: ",
        "  ",
        &format!(
            "this Mac has {}: rollback cannot put those back, so Jamf Pro does not manage it (no policies, no inventory, no MDM commands)",
            missing.join(" and ")
        ),
        width(),
    );
    s.push_str(&wrap(
        "to manage it again: ",
        "  ",
        &crate::action::facts::enroll_again(e.jss_url.as_deref(), e.ade),
        width(),
    ));
    s
}
