//! Damaged runs, for the commands that list, start and undo runs: a damaged journal is
//! reported (with what its run's folder holds and how to restore it by hand) and skipped where
//! skipping is safe; rollback never acts on one. See `journal::damage`.

use super::*;
use crate::journal::damage::{self as jd, DamagedRun, Entry, Explained, Loaded};

/// A run as read from its folder.
#[allow(clippy::large_enum_variant)]
pub(super) enum Run {
    Sound(RunView, RunState, Vec<Record>),
    Damaged(DamagedRun),
}

/// Every run, oldest first; runs that never started are left out.
pub(super) fn load_all(ctx: &Ctx) -> Result<Vec<Run>> {
    let holder = RunLock::is_held(&ctx.state.lock_file());
    let mut out = Vec::new();
    for id in ctx.state.run_ids()? {
        match jd::load(&ctx.state.run_dir(&id), &id) {
            Loaded::Sound(records) => {
                let view = RunView::from_records(&records);
                let state = view.state(holder.as_deref() == Some(id.as_str()));
                out.push(Run::Sound(view, state, records));
            }
            Loaded::NeverStarted => {}
            Loaded::Damaged(d) => {
                tracing::warn!(run = %id, "{}", d.describe());
                out.push(Run::Damaged(d));
            }
        }
    }
    Ok(out)
}

/// Under the run lock: remove the folders of runs whose header was never written whole (a full
/// disk while starting). They hold nothing; left alone they would stand in every list.
pub(super) fn discard_never_started(ctx: &Ctx) {
    let Ok(ids) = ctx.state.run_ids() else {
        return;
    };
    for id in ids {
        let dir = ctx.state.run_dir(&id);
        // Only a journal without one complete line can be one (cheap to tell).
        let header_less =
            std::fs::read(dir.join(journal::JOURNAL_FILE)).is_ok_and(|b| !b.contains(&b'\n'));
        if header_less && matches!(jd::load(&dir, &id), Loaded::NeverStarted) {
            match jd::discard_never_started(&dir) {
                Ok(()) => tracing::warn!(
                    run = %id,
                    "removed the folder of a run that never started (its journal's header was never written whole)"
                ),
                Err(e) => tracing::warn!(run = %id, "{e:#}"),
            }
        }
    }
}

/// What a run's folder holds and what its trusted records say of each entry: the folder is
/// listed first, then the journal read (see `journal::damage::list`).
pub(super) fn account(ctx: &Ctx, id: &str) -> Result<Vec<Entry>> {
    let dir = ctx.state.run_dir(id);
    let listed = jd::list(&dir)?;
    let (records, sound) = match jd::load(&dir, id) {
        Loaded::Sound(r) => (r, true),
        Loaded::Damaged(d) => (d.trusted, false),
        Loaded::NeverStarted => (Vec::new(), false),
    };
    Ok(jd::explain(&listed, &records, sound))
}

fn quote(p: &Path) -> String {
    format!("'{}'", p.display().to_string().replace('\'', r"'\''"))
}

/// How to put each entry back by hand, one line each.
pub(super) fn by_hand(ctx: &Ctx, id: &str, entries: &[Entry]) -> Vec<String> {
    let dir = ctx.state.run_dir(id);
    entries
        .iter()
        .map(|e| {
            let here = dir.join(&e.rel);
            match &e.explained {
                Explained::Removed { target } => {
                    let to = ctx
                        .device
                        .host_path(target)
                        .unwrap_or_else(|_| PathBuf::from(target));
                    format!(
                        "{} was {target}: sudo mv -n {} {}",
                        e.rel,
                        quote(&here),
                        quote(&to)
                    )
                }
                Explained::Exported { item } => format!(
                    "{}: the data of {item}, deleted by the run; add it back with Keychain Access or `security add-generic-password`",
                    e.rel
                ),
                Explained::ExportedBeforeItsDelete => format!(
                    "{}: exported just before its delete was announced (the run stopped there, or its journal was cut there); if the item is missing from its keychain, add it back from this file",
                    e.rel
                ),
                Explained::No => format!(
                    "{}: no trusted record says what it was or where it was: look inside {}, then move it back by hand",
                    e.rel,
                    quote(&here)
                ),
            }
        })
        .collect()
}

/// The one-line hint `status` shows for a damaged run or unexplained entries.
pub(super) fn hint(ctx: &Ctx, id: &str) -> String {
    format!(
        "restore by hand from {}/quarantine/ (removed paths) and keychain/ (the data of deleted keychain items); `reenroll rollback {id}` lists each entry with what is known of it; `purge` keeps this run's folder",
        ctx.state.run_dir(id).display()
    )
}

/// `status` of a damaged run: what its trusted records say, the damage, and its folder.
pub(super) fn status_of(ctx: &Ctx, d: &DamagedRun) -> RunStatus {
    let view = RunView::from_records(&d.trusted);
    let unexplained = account(ctx, &d.id)
        .map(|e| jd::unexplained(&e))
        .unwrap_or_default();
    RunStatus {
        id: d.id.clone(),
        playbook: if view.playbook.is_empty() {
            "?".into()
        } else {
            view.playbook.clone()
        },
        state: "damaged".into(),
        started: view.started.clone(),
        updated: view.started.clone(),
        ended: None,
        paused: None,
        paused_at_step: None,
        deferred: None,
        steps: Vec::new(),
        exceptions: Vec::new(),
        facts: view.facts.clone(),
        notes: vec![hint(ctx, &d.id)],
        not_restored: Vec::new(),
        damage: Some(d.describe()),
        unexplained,
    }
}

/// What `rollback` says instead of acting: the damage or the unexplained entries, and every
/// entry of the run's folder with how to restore it by hand.
fn refusal(ctx: &Ctx, id: &str, why: String) -> anyhow::Error {
    let dir = ctx.state.run_dir(id);
    let mut msg = format!(
        "run {id} cannot be rolled back: {why}. Nothing was restored: rollback never acts on a journal it cannot trust."
    );
    match account(ctx, id) {
        Ok(entries) if entries.is_empty() => {
            msg.push_str(&format!(
                "\nIts folder {} holds no quarantine and no keychain export.",
                dir.display()
            ));
        }
        Ok(entries) => {
            msg.push_str(&format!(
                "\nRestore by hand what is in {}/quarantine/ and {}/keychain/ (move each path back where it was; keep the folder until you are done):",
                dir.display(),
                dir.display()
            ));
            for line in by_hand(ctx, id, &entries) {
                msg.push_str("\n  ");
                msg.push_str(&line);
            }
        }
        Err(e) => msg.push_str(&format!(
            "\nIts folder {} could not be listed ({e:#}); look into quarantine/ and keychain/ there and restore by hand.",
            dir.display()
        )),
    }
    error::refused(msg)
}

/// Before a rollback: refuse when the run named (or, without a name, the newest run that is not
/// rolled back) is damaged.
pub(super) fn refuse_damaged(ctx: &Ctx, id: Option<&str>) -> Result<()> {
    let runs = load_all(ctx)?;
    let target = match id {
        Some(id) => runs.iter().find(|r| match r {
            Run::Damaged(d) => d.id == id,
            Run::Sound(v, _, _) => v.id == id,
        }),
        None => runs.iter().rev().find(|r| match r {
            Run::Damaged(_) => true,
            Run::Sound(_, s, _) => *s != RunState::RolledBack,
        }),
    };
    match target {
        Some(Run::Damaged(d)) => {
            let why = if id.is_some() {
                d.describe()
            } else {
                format!(
                    "it is the newest run and {}; name the run to roll back (`reenroll rollback RUN-ID`, see `reenroll status`)",
                    d.describe()
                )
            };
            Err(refusal(ctx, &d.id, why))
        }
        _ => Ok(()),
    }
}

/// Before a rollback: refuse when the run's folder holds entries no record explains (its journal
/// was cut short): putting back only what the journal remembers would leave the rest behind, and
/// the run would look rolled back.
pub(super) fn refuse_unexplained(ctx: &Ctx, id: &str) -> Result<()> {
    let entries = account(ctx, id)?;
    let lost = jd::unexplained(&entries);
    if lost.is_empty() {
        return Ok(());
    }
    Err(refusal(
        ctx,
        id,
        format!(
            "its folder holds {} entr{} that no record of its journal explains ({}): the journal was cut short and what it recorded after the cut is lost",
            lost.len(),
            if lost.len() == 1 { "y" } else { "ies" },
            lost.join(", ")
        ),
    ))
}

/// `run`: say which damaged runs were left aside.
pub(super) fn mention_skipped(ctx: &Ctx, printer: &Printer) -> Result<()> {
    for r in load_all(ctx)? {
        if let Run::Damaged(d) = r {
            printer.line(&format!(
                "note: run {} is damaged and was skipped ({}); see `reenroll status`",
                d.id,
                d.describe()
            ));
        }
    }
    Ok(())
}
