//! Human renderings of plans, runs and the Jamf extension attribute (printed by the commands
//! through the `Printer` of `output`).

use crate::output::{human_bytes, width, wrap};
use crate::plan::PlanReport;

/// How much of a plan to show: `plan --summary`, the default, `plan --full`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Detail {
    /// The summary table, totals and warnings only.
    Summary,
    /// The summary, then per step what it changes, a path found in several homes on one line
    /// (`~/Library/… × 2 users`).
    Grouped,
    /// The summary, then every path and item one by one.
    Full,
}

/// How human output may look where it goes: colours and symbols only on a terminal that allows
/// them (`output::styled`), wrapped to its width (`output::width`); plain and unwrapped in logs.
#[derive(Clone, Copy, Debug)]
pub struct Style {
    pub color: bool,
    pub width: usize,
}

impl Style {
    /// For stdout as it is.
    pub fn stdout() -> Self {
        Style {
            color: crate::output::styled(),
            width: width(),
        }
    }

    /// For a log (the Jamf policy log): no colours, no symbols, no wrapping.
    pub fn log() -> Self {
        Style {
            color: false,
            width: usize::MAX,
        }
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.color && !text.is_empty() {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    fn bold(&self, text: &str) -> String {
        self.paint("1", text)
    }

    /// `text` wrapped after `first`/`rest`, the first line's `first` painted with `code`
    /// (`first` must be plain text: wrapping counts its characters).
    fn wrap_marked(&self, first: &str, code: &str, rest: &str, text: &str) -> String {
        let w = wrap(first, rest, text, self.width);
        if self.color {
            w.replacen(first, &self.paint(code, first), 1)
        } else {
            w
        }
    }

    /// A warning line: `⚠ ` in yellow on a terminal, `warning: ` elsewhere.
    fn warning(&self, text: &str) -> String {
        if self.color {
            self.wrap_marked("⚠ ", "33;1", "  ", text)
        } else {
            wrap("warning: ", "  ", text, self.width)
        }
    }
}

/// A run on this device that has not ended (paused, waiting, interrupted, failed, running, or
/// with a rollback to finish): `plan` says so before anything else. `app` finds it.
#[derive(Clone, Debug)]
pub struct Unfinished {
    pub id: String,
    /// The run's state (`paused`, `interrupted`, ...).
    pub state: String,
    /// Why it is paused or waiting (the first line of the reason), if it is.
    pub why: Option<String>,
    /// The step it stopped at, if known.
    pub step: Option<String>,
    /// The commands that continue it and that roll it back (empty: not offered).
    pub resume: Option<String>,
    pub rollback: Option<String>,
}

/// How `render_plan` shows a plan.
#[derive(Clone, Copy, Debug)]
pub struct PlanView<'a> {
    pub detail: Detail,
    pub style: Style,
    /// `run` before its question: the details first, the summary last (next to the question).
    pub summary_last: bool,
    pub unfinished: Option<&'a Unfinished>,
}

impl PlanView<'_> {
    /// `plan` at a terminal or into a pipe.
    pub fn stdout(detail: Detail) -> Self {
        PlanView {
            detail,
            style: Style::stdout(),
            summary_last: false,
            unfinished: None,
        }
    }
}

/// The human plan: what is unfinished first, the device, then a summary an admin reads in
/// seconds (one line per step, totals, warnings), then the details (`Detail`).
pub fn render_plan(p: &PlanReport, v: &PlanView) -> String {
    let st = v.style;
    let mut s = String::new();
    if let Some(u) = v.unfinished {
        s.push_str(&unfinished_lines(u, st));
        s.push('\n');
    }
    s.push_str(&header(p, st));
    s.push_str(&access_lines(&p.server_access, st));
    s.push('\n');
    let summary = summary(p, st);
    let details = match v.detail {
        Detail::Summary => String::new(),
        d => details(p, d == Detail::Full, st),
    };
    if v.summary_last {
        if !details.is_empty() {
            s.push_str(&details);
            s.push('\n');
        }
        s.push_str(&summary);
    } else {
        s.push_str(&summary);
        if !details.is_empty() {
            s.push('\n');
            s.push_str(&details);
        }
    }
    s.push_str(&access_lines(&p.server_access, st));
    s
}

/// The first lines of a plan on a device with a run that has not ended.
fn unfinished_lines(u: &Unfinished, st: Style) -> String {
    let mut what = format!("run {} is {}", u.id, u.state);
    if let Some(step) = &u.step {
        what.push_str(&format!(" at step {step}"));
    }
    if let Some(why) = &u.why {
        what.push_str(&format!(": {why}"));
    }
    let mut s = if st.color {
        st.wrap_marked("⏸ ", "33;1", "  ", &what)
    } else {
        wrap("UNFINISHED RUN: ", "  ", &what, st.width)
    };
    let mut next = Vec::new();
    if let Some(r) = &u.resume {
        next.push(format!("continue it with `{r}`"));
    }
    if let Some(r) = &u.rollback {
        next.push(format!("undo it with `{r}`"));
    }
    if !next.is_empty() {
        s.push_str(&wrap(
            "  ",
            "  ",
            &format!(
                "{}; a new run is not the way to finish it. The plan below is what a new run would do.",
                next.join(", or ")
            ),
            st.width,
        ));
    }
    s
}

fn header(p: &PlanReport, st: Style) -> String {
    let w = st.width;
    let mut s = String::new();
    let first = "Plan: ";
    let line = wrap(first, "  ", &format!("{} on {}", p.playbook, p.device), w);
    s.push_str(&if st.color {
        line.replacen(first, &st.bold(first), 1)
    } else {
        line
    });
    if let Some(first) = p.description.lines().next() {
        s.push_str(&wrap("  ", "  ", first, w));
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
        s.push_str(&wrap(
            "Device: ",
            "        ",
            &format!(
                "serial {}, \"{}\", console user {}",
                f("serial"),
                f("computer_name"),
                f("console_user")
            ),
            w,
        ));
        s.push_str(&wrap("        Jamf Pro ", "          ", &f("jss_url"), w));
        s.push_str(&wrap(
            "        ",
            "          ",
            &format!("Entra device id(s) {}", f("entra_device_ids")),
            w,
        ));
        let b = |k: &str| p.facts.get(k).and_then(|v| v.as_bool());
        s.push_str(&wrap(
            "        ",
            "          ",
            &format!(
                "MDM profile {}, ADE {}, Platform SSO registered {}",
                yes_no(b("mdm_profile")),
                yes_no(b("ade")),
                yes_no(b("psso_registered"))
            ),
            w,
        ));
    }
    if !p.vars.is_empty() {
        s.push_str("Variables:\n");
        for (k, v) in &p.vars {
            s.push_str(&wrap(
                "  ",
                "    ",
                &format!("{k} = {:?}  ({})", v.value, v.source),
                w,
            ));
        }
    }
    s
}

/// Kinds that only read the device, and kinds that change nothing on it (they ask or wait).
fn read_only(kind: &str) -> bool {
    matches!(kind, "facts" | "verify-removed")
}
fn changes_nothing_here(kind: &str) -> bool {
    matches!(kind, "operator" | "gate" | "wait-for")
}

/// A change the run makes on the device (not a refusal, an operator's part or a wait).
fn is_change(c: &crate::action::PlannedChange) -> bool {
    !matches!(
        c.op,
        crate::action::Op::Refuse | crate::action::Op::Operator | crate::action::Op::Wait
    )
}

/// What a step needs beyond root: Full Disk Access when one of its paths is privacy-protected.
fn needs_full_disk_access(st: &crate::plan::PlannedStep) -> bool {
    st.changes.iter().any(|c| {
        c.reason
            .as_deref()
            .is_some_and(|r| r.contains("Full Disk Access"))
    })
}

/// One step's summary: its columns and its notes (each with its colour).
struct Row {
    n: usize,
    id: String,
    kind: String,
    count: String,
    size: String,
    undo: (&'static str, &'static str),
    notes: Vec<(String, &'static str)>,
}

impl Row {
    fn of(n: usize, x: &crate::plan::PlannedStep) -> Row {
        let changes: Vec<_> = x.changes.iter().filter(|c| is_change(c)).collect();
        let refused = x
            .changes
            .iter()
            .filter(|c| c.op == crate::action::Op::Refuse)
            .count();
        let applies = x.not_applicable.is_none();
        let count = if !applies || changes_nothing_here(&x.action) || read_only(&x.action) {
            "-".to_string()
        } else {
            changes.len().to_string()
        };
        let bytes: Option<u64> = changes
            .iter()
            .filter_map(|c| c.bytes)
            .fold(None, |a, b| Some(a.unwrap_or(0) + b));
        let irreversible = changes.iter().filter(|c| !c.reversible).count();
        let undo = if changes.is_empty() {
            ("-", "2")
        } else if irreversible == 0 {
            ("yes", "32")
        } else if irreversible == changes.len() {
            ("no", "31")
        } else {
            ("partly", "33")
        };
        let mut notes: Vec<(String, &'static str)> = Vec::new();
        if applies && x.needs_root {
            notes.push(("needs root".into(), ""));
        }
        if applies && needs_full_disk_access(x) {
            notes.push(("needs Full Disk Access".into(), "33"));
        }
        match &x.not_applicable {
            Some(r) => notes.push((
                format!(
                    "not applicable: {}",
                    r.strip_prefix("not applicable: ").unwrap_or(r)
                ),
                "2",
            )),
            None if read_only(&x.action) => notes.push(("read-only".into(), "2")),
            None if changes_nothing_here(&x.action) => {
                notes.push(("changes nothing here".into(), "2"))
            }
            None if x.changes.is_empty() && x.unseen.is_empty() => {
                notes.push(("nothing to do".into(), "2"))
            }
            None => {}
        }
        if refused > 0 {
            notes.push((format!("{refused} refused"), "31"));
        }
        if !x.unseen.is_empty() {
            notes.push((format!("{} could not be seen", x.unseen.len()), "33"));
        }
        Row {
            n,
            id: x.id.clone(),
            kind: x.action.clone(),
            count,
            size: bytes.map(human_bytes).unwrap_or_else(|| "-".to_string()),
            undo,
            notes,
        }
    }

    fn plain_notes(&self) -> String {
        self.notes
            .iter()
            .map(|(n, _)| n.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// `text` with the notes in their colours.
    fn paint_notes(&self, text: &str, st: Style) -> String {
        let mut out = text.to_string();
        if st.color {
            for (n, code) in &self.notes {
                if !code.is_empty() && out.contains(n.as_str()) {
                    out = out.replacen(n.as_str(), &st.paint(code, n), 1);
                }
            }
        }
        out
    }
}

/// One line per step (id, kind, changes, bytes, whether rollback undoes it, what it needs)
/// in a table when the width allows it, else two lines per step; the totals; the warnings.
fn summary(p: &PlanReport, st: Style) -> String {
    let w = st.width;
    let mut s = String::new();
    s.push_str(&st.bold(&format!(
        "Summary: {} step{}",
        p.steps.len(),
        if p.steps.len() == 1 { "" } else { "s" }
    )));
    s.push('\n');
    let rows: Vec<Row> = p
        .steps
        .iter()
        .enumerate()
        .map(|(i, x)| Row::of(i + 1, x))
        .collect();
    let idw = rows
        .iter()
        .map(|r| r.id.chars().count())
        .max()
        .unwrap_or(0)
        .max(4);
    let kindw = rows
        .iter()
        .map(|r| r.kind.chars().count())
        .max()
        .unwrap_or(0)
        .max(4);
    let sizew = rows
        .iter()
        .map(|r| r.size.chars().count())
        .max()
        .unwrap_or(0)
        .max(4);
    let lead = |n: &str, id: &str, kind: &str, count: &str, size: &str| {
        format!("  {n:>2}  {id:<idw$}  {kind:<kindw$}  {count:>7}  {size:>sizew$}  ")
    };
    let undow = 8;
    let leadw = lead("", "", "", "", "").chars().count() + undow;
    // A table when every row fits on one line (always in a pipe or a log), else a sentence
    // per step, wrapped.
    let notesw = rows
        .iter()
        .map(|r| r.plain_notes().chars().count())
        .max()
        .unwrap_or(0);
    if leadw + notesw <= w {
        let head = format!(
            "{}{:<undow$}notes",
            lead("#", "step", "kind", "changes", "size"),
            "undo"
        );
        s.push_str(&st.paint("2", &head));
        s.push('\n');
        let indent = " ".repeat(leadw);
        for r in &rows {
            let lines = wrap("", "", &r.plain_notes(), w - leadw);
            let mut lines = lines.lines();
            let first = lines.next().unwrap_or("");
            let undo = format!("{:<undow$}", r.undo.0);
            let line = format!(
                "{}{}{}",
                lead(&r.n.to_string(), &r.id, &r.kind, &r.count, &r.size),
                st.paint(r.undo.1, &undo),
                r.paint_notes(first, st)
            );
            s.push_str(line.trim_end());
            s.push('\n');
            for more in lines {
                s.push_str(&format!("{indent}{}\n", r.paint_notes(more, st)));
            }
        }
    } else {
        // Narrow: a sentence per step.
        for r in &rows {
            let mut what = vec![r.kind.clone()];
            if r.count != "-" {
                what.push(format!(
                    "{} change{}",
                    r.count,
                    if r.count == "1" { "" } else { "s" }
                ));
            }
            if r.size != "-" {
                what.push(r.size.clone());
            }
            let undo = format!("undo: {}", r.undo.0);
            if r.undo.0 != "-" {
                what.push(undo.clone());
            }
            let notes = r.plain_notes();
            let text = if notes.is_empty() {
                format!("{}: {}", r.id, what.join(", "))
            } else {
                format!("{}: {}; {notes}", r.id, what.join(", "))
            };
            let text = wrap(&format!("  {:>2}  ", r.n), "        ", &text, w);
            let text = if st.color {
                let text = text.replacen(&format!("{}:", r.id), &st.bold(&format!("{}:", r.id)), 1);
                if r.undo.0 != "-" {
                    text.replacen(&undo, &st.paint(r.undo.1, &undo), 1)
                } else {
                    text
                }
            } else {
                text
            };
            s.push_str(&r.paint_notes(&text, st));
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
    s.push_str(&wrap("", "  ", &totals, w));
    let warnings = warnings(p);
    if !warnings.is_empty() {
        s.push_str(&st.bold("Warnings:"));
        s.push('\n');
        for x in &warnings {
            s.push_str(&st.warning(x));
        }
    }
    s
}

/// What an admin must know before running it, in the order they matter: what rollback cannot
/// undo, then `PlanReport::warnings` (a settle time cut below the advised minimum, a previous
/// run's survivors, ... — the list every part of the plan pushes to), then what a keychain
/// purge cannot see.
pub fn warnings(p: &PlanReport) -> Vec<String> {
    let mut out = Vec::new();
    let irreversible: Vec<String> = p
        .steps
        .iter()
        .filter_map(|x| {
            let changes: Vec<_> = x.changes.iter().filter(|c| is_change(c)).collect();
            let n = changes.iter().filter(|c| !c.reversible).count();
            match n {
                0 => None,
                n if n == changes.len() => Some(x.id.clone()),
                n => Some(format!("{} ({n} of {})", x.id, changes.len())),
            }
        })
        .collect();
    if !irreversible.is_empty() {
        out.push(format!(
            "rollback cannot undo {}: {}",
            if irreversible.len() == 1 {
                "this step"
            } else {
                "these steps"
            },
            irreversible.join(", ")
        ));
    }
    out.extend(p.warnings.iter().cloned());
    if p.steps.iter().any(|x| {
        x.notes
            .iter()
            .any(|n| n == crate::keychain::DATA_PROTECTION_NOTE)
    }) {
        out.push(crate::keychain::DATA_PROTECTION_NOTE.to_string());
    }
    out
}

/// Per step: its title and what it changes, keeps, finds done or cannot see.
fn details(p: &PlanReport, full: bool, st: Style) -> String {
    let w = st.width;
    let mut s = String::new();
    let head = wrap(
        "",
        "  ",
        if full {
            "Details (every path and item):"
        } else {
            "Details (a path found in several homes is one line; `plan --full` lists each):"
        },
        w,
    );
    s.push_str(&st.bold(head.trim_end()));
    s.push('\n');
    for (i, x) in p.steps.iter().enumerate() {
        let mut tags = Vec::new();
        if x.needs_root {
            tags.push("needs root");
        }
        if read_only(&x.action) {
            tags.push("read-only");
        } else if changes_nothing_here(&x.action) {
            tags.push("changes nothing here");
        } else {
            tags.push(if x.reversible {
                "can be undone"
            } else {
                "cannot be undone"
            });
        }
        let head = wrap(
            &format!("{:>2}. ", i + 1),
            "      ",
            &format!("{} [{}] {}", x.id, x.action, tags.join(", ")),
            w,
        );
        s.push_str(&if st.color {
            head.replacen(&x.id, &st.bold(&x.id), 1)
        } else {
            head
        });
        s.push_str(&wrap("    ", "    ", &x.title, w));
        if let Some(r) = &x.not_applicable {
            s.push_str(&wrap("    - ", "      ", r, w));
            continue;
        }
        let groups = if full {
            x.changes.iter().map(Grouped::one).collect()
        } else {
            group_changes(&x.changes, &p.users)
        };
        for g in &groups {
            s.push_str(&change_lines(g, &p.users, st));
        }
        let kept: Vec<(String, String)> = if full {
            x.kept
                .iter()
                .map(|k| (k.target.clone(), k.rule.clone()))
                .collect()
        } else {
            group_texts(
                x.kept.iter().map(|k| (k.target.as_str(), k.rule.as_str())),
                &p.users,
            )
        };
        for (target, rule) in kept {
            s.push_str(&wrap("    keep     ", "             ", &target, w));
            s.push_str(&wrap(
                "             (",
                "              ",
                &format!("kept by rule: {rule})"),
                w,
            ));
        }
        if x.changes.is_empty() && x.unseen.is_empty() {
            s.push_str("    nothing to do\n");
        }
        if !x.already.is_empty() {
            if full || x.already.len() <= 3 {
                for a in &x.already {
                    s.push_str(&wrap("    already: ", "      ", a, w));
                }
            } else {
                s.push_str(&format!(
                    "    already done: {} item(s) absent or in the wanted state\n",
                    x.already.len()
                ));
            }
        }
        for u in &x.unseen {
            s.push_str(&wrap("    could not see: ", "      ", u, w));
        }
        for n in &x.notes {
            // Shown once among the warnings, unless every line is asked for.
            if full || n != crate::keychain::DATA_PROTECTION_NOTE {
                s.push_str(&wrap("    note: ", "      ", n, w));
            }
        }
    }
    s
}

/// A change as the details show it: one change, or the same change in several homes.
struct Grouped {
    op: crate::action::Op,
    /// The path or item: as the Mac sees it, or with `~` for the home when grouped.
    target: String,
    reversible: bool,
    reason: Option<String>,
    /// (user, bytes, entries) of each home it was found in; empty for a change of its own.
    homes: Vec<(String, Option<u64>, Option<u64>)>,
    bytes: Option<u64>,
    entries: Option<u64>,
}

impl Grouped {
    fn one(c: &crate::action::PlannedChange) -> Grouped {
        Grouped {
            op: c.op,
            target: c.target.clone(),
            reversible: c.reversible,
            reason: c.reason.clone(),
            homes: Vec::new(),
            bytes: c.bytes,
            entries: c.entries,
        }
    }
}

/// `target` as one user's copy of something every home may have: (user, the target with `~`
/// for the home, or `in each user's login keychain` for a user's keychain).
fn per_user<'u>(target: &str, users: &'u [(String, String)]) -> Option<(&'u str, String)> {
    for (name, home) in users {
        if let Some(rest) = target
            .strip_prefix(home.as_str())
            .filter(|r| r.starts_with('/'))
        {
            return Some((name, format!("~{rest}")));
        }
        if let Some(item) = target.strip_suffix(&format!(" in {name}'s login keychain")) {
            return Some((name, format!("{item} in the login keychain")));
        }
    }
    None
}

/// The same change in several homes becomes one entry, in the order first seen; a change found
/// in one home only stays as it is.
fn group_changes(
    changes: &[crate::action::PlannedChange],
    users: &[(String, String)],
) -> Vec<Grouped> {
    let mut out: Vec<Grouped> = Vec::new();
    // The index in `out` of each group, and the original change while it has one member.
    let mut firsts: Vec<Option<crate::action::PlannedChange>> = Vec::new();
    for c in changes {
        let Some((user, rel)) = per_user(&c.target, users) else {
            out.push(Grouped::one(c));
            firsts.push(None);
            continue;
        };
        let home = users
            .iter()
            .find(|(n, _)| n == user)
            .map(|(_, h)| h.as_str())
            .unwrap_or("");
        let reason = c.reason.as_ref().map(|r| r.replace(home, "~"));
        let found = out.iter().position(|g| {
            !g.homes.is_empty()
                && g.op == c.op
                && g.target == rel
                && g.reversible == c.reversible
                && g.reason == reason
                && !g.homes.iter().any(|(u, _, _)| u == user)
        });
        match found {
            Some(i) => {
                out[i].homes.push((user.to_string(), c.bytes, c.entries));
                firsts[i] = None;
            }
            None => {
                out.push(Grouped {
                    op: c.op,
                    target: rel,
                    reversible: c.reversible,
                    reason,
                    homes: vec![(user.to_string(), c.bytes, c.entries)],
                    bytes: c.bytes,
                    entries: c.entries,
                });
                firsts.push(Some(c.clone()));
            }
        }
    }
    // A group of one is that change as it was.
    out.into_iter()
        .zip(firsts)
        .map(|(g, first)| match first {
            Some(c) if g.homes.len() == 1 => Grouped::one(&c),
            _ => g,
        })
        .collect()
}

/// Texts with a note (kept items and their rules) grouped like changes.
fn group_texts<'a>(
    items: impl Iterator<Item = (&'a str, &'a str)>,
    users: &[(String, String)],
) -> Vec<(String, String)> {
    let changes: Vec<crate::action::PlannedChange> = items
        .map(|(t, r)| {
            crate::action::PlannedChange::new(crate::action::Op::Delete, t, true).reason(r)
        })
        .collect();
    group_changes(&changes, users)
        .into_iter()
        .map(|g| {
            let target = match g.homes.len() {
                0 | 1 => g.target,
                _ => format!("{}{}", g.target, users_suffix(&g.homes, users)),
            };
            (target, g.reason.unwrap_or_default())
        })
        .collect()
}

/// ` × 2 users`, or ` × 2 of 3 users: alice, bob` when not every home has it.
fn users_suffix(
    homes: &[(String, Option<u64>, Option<u64>)],
    users: &[(String, String)],
) -> String {
    let n = homes.len();
    if n == users.len() {
        format!(" × {n} users")
    } else {
        let names: Vec<&str> = homes.iter().map(|(u, _, _)| u.as_str()).collect();
        format!(" × {n} of {} users: {}", users.len(), names.join(", "))
    }
}

fn size_text(bytes: Option<u64>, entries: Option<u64>) -> String {
    match (bytes, entries) {
        (Some(b), Some(e)) if e > 1 => format!("{}, {e} entries", human_bytes(b)),
        (Some(b), _) => human_bytes(b),
        _ => String::new(),
    }
}

/// The lines of one (possibly grouped) change.
fn change_lines(g: &Grouped, users: &[(String, String)], st: Style) -> String {
    use crate::action::Op;
    let w = st.width;
    let mut size = String::new();
    let mut target = g.target.lines().next().unwrap_or("").to_string();
    if g.homes.len() > 1 {
        target.push_str(&users_suffix(&g.homes, users));
        let sizes: Vec<String> = g.homes.iter().map(|(_, b, e)| size_text(*b, *e)).collect();
        if sizes.iter().all(|x| x == &sizes[0]) {
            if !sizes[0].is_empty() {
                size = format!(" ({} each)", sizes[0]);
            }
        } else {
            let total: u64 = g.homes.iter().filter_map(|(_, b, _)| *b).sum();
            let each: Vec<String> = g
                .homes
                .iter()
                .zip(&sizes)
                .map(|((u, _, _), x)| format!("{u} {}", if x.is_empty() { "?" } else { x }))
                .collect();
            size = format!(
                " ({} in all; differs: {})",
                human_bytes(total),
                each.join(", ")
            );
        }
    } else {
        let x = size_text(g.bytes, g.entries);
        if !x.is_empty() {
            size = format!(" ({x})");
        }
    }
    let rev = if g.reversible || matches!(g.op, Op::Refuse | Op::Operator) {
        String::new()
    } else {
        " [cannot be undone]".to_string()
    };
    // A path breaks only after a '/', never at a space inside it.
    let target = if target.starts_with('/') || target.starts_with("~/") {
        target.replace(' ', "\u{a0}")
    } else {
        target
    };
    let head = format!("    {:<8} ", g.op.as_str());
    let mut line =
        wrap(&head, "             ", &format!("{target}{size}{rev}"), w).replace('\u{a0}', " ");
    if st.color {
        let code = match g.op {
            Op::Refuse => "31",
            Op::Remove | Op::Delete | Op::Run | Op::Reboot | Op::Request => "",
            Op::Operator | Op::Wait => "2",
        };
        if !code.is_empty() {
            line = line.replacen(head.trim_end(), &st.paint(code, head.trim_end()), 1);
        }
        if !rev.is_empty() {
            line = line.replacen(rev.trim_start(), &st.paint("31", rev.trim_start()), 1);
        }
    }
    let mut s = line;
    for more in g.target.lines().skip(1) {
        s.push_str(&wrap("             ", "             ", more, w));
    }
    if let Some(r) = &g.reason {
        s.push_str(&wrap(
            "             (",
            "              ",
            &format!("{r})"),
            w,
        ));
    }
    s
}
/// The API credentials that do not work, shown first and last in a plan: `run` refuses them.
fn access_lines(problems: &[String], st: Style) -> String {
    let mut s = String::new();
    if problems.is_empty() {
        return s;
    }
    s.push('\n');
    s.push_str(&st.paint(
        "31;1",
        "SERVER CREDENTIALS DO NOT WORK: `run` refuses to start (exit 4) until this is fixed:",
    ));
    s.push('\n');
    for p in problems {
        s.push_str(&wrap("  ! ", "    ", p, st.width));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::action::{Op, PlannedChange};
    use crate::plan::{PlannedStep, Totals};

    fn users() -> Vec<(String, String)> {
        ["alice", "bob", "carol"]
            .iter()
            .map(|u| (u.to_string(), format!("/Users/{u}")))
            .collect()
    }

    fn remove(path: &str, bytes: u64) -> PlannedChange {
        let mut c = PlannedChange::new(Op::Remove, path, true);
        c.bytes = Some(bytes);
        c
    }

    fn step(id: &str, action: &str, changes: Vec<PlannedChange>) -> PlannedStep {
        PlannedStep {
            id: id.into(),
            title: format!("the {id} step"),
            action: action.into(),
            article: None,
            needs_root: true,
            reversible: true,
            changes,
            kept: Vec::new(),
            already: Vec::new(),
            unseen: Vec::new(),
            notes: Vec::new(),
            not_applicable: None,
        }
    }

    fn report(steps: Vec<PlannedStep>) -> PlanReport {
        PlanReport {
            playbook: "test".into(),
            description: "A test playbook".into(),
            device: "a test device".into(),
            facts: Default::default(),
            vars: Default::default(),
            steps,
            totals: Totals::default(),
            warnings: vec!["intune_settle_minutes is below the advised 30".into()],
            server_access: Vec::new(),
            users: users(),
        }
    }

    #[test]
    fn the_same_path_in_several_homes_is_one_entry_and_one_home_stays_as_it_is() {
        let changes = vec![
            remove("/Users/alice/Library/Caches/x", 10),
            remove("/Library/Caches/x", 5),
            remove("/Users/bob/Library/Caches/x", 10),
            remove("/Users/carol/Library/Caches/x", 10),
            remove("/Users/alice/Library/Cookies/y", 1),
            remove("/Users/carol/Library/Cookies/y", 2),
            remove("/Users/bob/Library/Only", 3),
            PlannedChange::new(Op::Delete, "password \"p\" in alice's login keychain", true),
            PlannedChange::new(Op::Delete, "password \"p\" in bob's login keychain", true),
        ];
        let g = group_changes(&changes, &users());
        let targets: Vec<(&str, usize)> = g
            .iter()
            .map(|g| (g.target.as_str(), g.homes.len()))
            .collect();
        assert_eq!(
            targets,
            [
                ("~/Library/Caches/x", 3),
                ("/Library/Caches/x", 0),
                ("~/Library/Cookies/y", 2),
                ("/Users/bob/Library/Only", 0),
                ("password \"p\" in the login keychain", 2),
            ]
        );
        let lines: Vec<String> = g
            .iter()
            .map(|g| change_lines(g, &users(), Style::log()))
            .collect();
        assert_eq!(
            lines[0],
            "    remove   ~/Library/Caches/x × 3 users (10 B each)\n"
        );
        assert_eq!(
            lines[2],
            "    remove   ~/Library/Cookies/y × 2 of 3 users: alice, carol (3 B in all; differs: alice 1 B, carol 2 B)\n"
        );
        assert_eq!(lines[3], "    remove   /Users/bob/Library/Only (3 B)\n");
        assert_eq!(
            lines[4],
            "    delete   password \"p\" in the login keychain × 2 of 3 users: alice, bob\n"
        );
        // A home is never counted twice: two copies in one keychain are two entries.
        let twice = vec![
            PlannedChange::new(Op::Delete, "password \"p\" in alice's login keychain", true),
            PlannedChange::new(Op::Delete, "password \"p\" in alice's login keychain", true),
        ];
        assert_eq!(group_changes(&twice, &users()).len(), 2);
        // What differs otherwise (undoable or not) is not merged either.
        let mut other = remove("/Users/bob/Library/Caches/x", 10);
        other.reversible = false;
        let mixed = vec![remove("/Users/alice/Library/Caches/x", 10), other];
        assert_eq!(group_changes(&mixed, &users()).len(), 2);
    }

    #[test]
    fn the_summary_has_one_row_per_step_then_totals_then_warnings() {
        let mut irreversible =
            PlannedChange::new(Op::Run, "/usr/local/jamf/bin/jamf removeFramework", false);
        irreversible.reason = Some("verified afterwards".into());
        let mut na = step("not-here", "run", Vec::new());
        na.not_applicable = Some("not applicable: `ade` is not true on this device".into());
        let p = report(vec![
            step(
                "purge",
                "remove",
                vec![
                    remove("/Users/alice/Library/Caches/x", 1024),
                    remove("/Users/bob/Library/Caches/x", 1024),
                ],
            ),
            step("framework", "run", vec![irreversible]),
            na,
            step("nothing", "run", Vec::new()),
        ]);
        let view = PlanView {
            detail: Detail::Summary,
            style: Style::log(),
            summary_last: false,
            unfinished: None,
        };
        let out = render_plan(&p, &view);
        let rows: Vec<&str> = out
            .lines()
            .filter(|l| l.trim_start().starts_with(|c: char| c.is_ascii_digit()))
            .collect();
        assert_eq!(rows.len(), 4, "{out}");
        assert!(
            rows[0].contains("purge") && rows[0].contains("remove"),
            "{out}"
        );
        assert!(rows[0].contains("2  2.0 KiB  yes"), "{out}");
        assert!(
            rows[1].contains(" no ") && rows[1].ends_with("needs root"),
            "{out}"
        );
        assert!(
            rows[2].ends_with("not applicable: `ade` is not true on this device"),
            "{out}"
        );
        assert!(rows[3].ends_with("needs root, nothing to do"), "{out}");
        let total = out.find("Total: ").unwrap();
        let warn = out
            .find("warning: rollback cannot undo this step: framework")
            .unwrap();
        let settle = out.find("warning: intune_settle_minutes").unwrap();
        assert!(total < warn && warn < settle, "{out}");
        assert!(!out.contains("Details"), "{out}");
        assert!(!out.contains('\x1b'), "{out}");

        // Styled: the same text with colours, and the warning symbol.
        let styled = render_plan(
            &p,
            &PlanView {
                style: Style {
                    color: true,
                    width: usize::MAX,
                },
                detail: Detail::Grouped,
                ..view
            },
        );
        assert!(styled.contains("\x1b[31mno"), "{styled}");
        assert!(styled.contains("⚠ "), "{styled}");
        assert!(
            styled.contains("~/Library/Caches/x × 2 of 3 users: alice, bob (1.0 KiB each)"),
            "{styled}"
        );

        // Narrow: a sentence per step, within the width.
        let narrow = render_plan(
            &p,
            &PlanView {
                style: Style {
                    color: false,
                    width: 66,
                },
                ..view
            },
        );
        assert!(
            narrow.contains("   1  purge: remove, 2 changes, 2.0 KiB, undo: yes; needs root\n"),
            "{narrow}"
        );
        assert!(narrow.lines().all(|l| l.chars().count() <= 66), "{narrow}");
    }

    #[test]
    fn an_unfinished_run_comes_first_with_its_commands() {
        let p = report(vec![step("nothing", "run", Vec::new())]);
        let u = Unfinished {
            id: "RUN".into(),
            state: "paused".into(),
            why: Some("waiting for the restart".into()),
            step: Some("restart".into()),
            resume: Some("sudo reenroll resume RUN".into()),
            rollback: Some("sudo reenroll rollback RUN".into()),
        };
        let out = render_plan(
            &p,
            &PlanView {
                detail: Detail::Grouped,
                style: Style::log(),
                summary_last: true,
                unfinished: Some(&u),
            },
        );
        assert!(
            out.starts_with("UNFINISHED RUN: run RUN is paused at step restart: waiting for the restart\n  continue it with `sudo reenroll resume RUN`, or undo it with `sudo reenroll rollback RUN`;"),
            "{out}"
        );
        // run: the details, then the summary.
        assert!(out.find("Details") < out.find("Summary: "), "{out}");
    }
}
