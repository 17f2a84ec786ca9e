//! `purge`: delete the quarantine of finished runs; never what a run still owes (an unfinished
//! run, or a rollback that could not put everything back). The API credentials of every run
//! that cannot go on (whatever its age), and credentials a policy staged but no run took over,
//! are deleted too: a run deletes its own when it ends, `purge` whatever a crash left.

use super::*;

/// Delete the quarantine of finished runs older than `older_than`.
pub fn purge(ctx: &Ctx, older_than: std::time::Duration, printer: &Printer) -> Result<usize> {
    let _lock = take_lock(ctx)?;
    purge_credentials(ctx, printer)?;
    let cutoff = SystemTime::now() - older_than;
    let mut purged = 0;
    for (view, state, _) in all_runs(ctx)? {
        // A rollback that could not put everything back still needs the quarantine and the
        // exported items for its retry: say so, whatever the run's age.
        if state == RunState::RollbackIncomplete {
            let owed = view.rollback_ended.as_ref().map_or(0, Vec::len);
            printer.line(&format!(
                "kept run {}: {}; its quarantine and exported items stay for `{}`, which retries them",
                view.id,
                super::rollback::incomplete_text(owed),
                ctx.device.hint(&format!("rollback {}", view.id))
            ));
            continue;
        }
        // A failed run can still be resumed or rolled back: its quarantine stays.
        if !matches!(state, RunState::Completed | RunState::RolledBack) {
            continue;
        }
        let ended = view
            .ended
            .as_deref()
            .or(Some(view.started.as_str()))
            .and_then(|t| humantime::parse_rfc3339(t).ok());
        if ended.is_none_or(|t| t > cutoff) {
            continue;
        }
        let run_dir = ctx.state.run_dir(&view.id);
        let qdir = run_dir.join("quarantine");
        let exports = run_dir.join("keychain");
        if qdir.exists() || exports.exists() {
            let parent = fs::open_quarantine(&run_dir)?;
            // Removed files, and the exported keychain secrets kept for rollback.
            for name in ["quarantine", "keychain"] {
                fs::delete_tree(&parent, std::ffi::OsStr::new(name))
                    .with_context(|| format!("deleting {}", run_dir.join(name).display()))?;
            }
            let mut journal = Journal::reopen(&run_dir)?;
            journal.append(&Record::Note {
                key: "purged".into(),
                value: now_rfc3339(),
            })?;
            printer.line(&format!(
                "purged the quarantine of run {} ({})",
                view.id,
                state.as_str()
            ));
            purged += 1;
        }
    }
    Ok(purged)
}

/// Delete the credentials of every run that is not paused, interrupted or running (a damaged
/// run is never acted on: its go too), and staged ones no process holds any more.
fn purge_credentials(ctx: &Ctx, printer: &Printer) -> Result<()> {
    for run in super::damage::load_all(ctx)? {
        let (id, keep) = match &run {
            super::damage::Run::Sound(view, state, _) => (
                view.id.clone(),
                matches!(
                    state,
                    RunState::Paused | RunState::Interrupted | RunState::Running
                ),
            ),
            super::damage::Run::Damaged(d) => (d.id.clone(), false),
        };
        let file = ctx
            .state
            .run_dir(&id)
            .join(crate::server::creds::RUN_CREDENTIALS_FILE);
        if !keep && crate::server::creds::delete_file(&file)? {
            tracing::info!(run = %id, "purge: deleted the run's API credentials");
            printer.line(&format!("deleted the API credentials left in run {id}"));
        }
    }
    for file in StagedCredentials::abandoned(ctx) {
        if crate::server::creds::delete_file(&file)? {
            printer.line(&format!(
                "deleted API credentials a Jamf policy left behind ({})",
                file.display()
            ));
        }
    }
    Ok(())
}
