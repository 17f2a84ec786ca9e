//! `keychain-purge`: delete the keychain items the rules select (article steps 6–8), in every
//! local user's login keychain and/or the System keychain. Which items go is data in the playbook
//! (`[[steps.action.remove]]` and `[[steps.action.keep]]` rules, see `keychain::rules`).
//!
//! On a Mac a login keychain is unlocked only in its user's session, so user keychains are
//! reached through the keychain helper (`launchctl asuser UID sudo -u USER reenroll
//! keychain-helper`); a sandbox device goes through the same helper and its fake `launchctl`.
//! Extractable items are exported into the run's journal folder (0600) before they are deleted;
//! private keys cannot be, so their deletion is irreversible. Every delete is verified by a
//! re-query (`keychain::purge`). A user whose keychain cannot be reached (logged out, locked)
//! pauses their part of the step instead of claiming success; a user who never logged in has no
//! login keychain at all, which is an empty keychain: nothing to purge, nothing to wait for
//! (`keychain::open_existing` decides, the same way on a Mac and on a sandbox device).
//!
//! The purge sees file-based keychains only: items in the data-protection keychain are neither
//! listed nor deleted, and `plan` says so (`keychain::DATA_PROTECTION_NOTE`, docs/keychain.md).

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use super::{Env, Kept, Op, Outcome, PlannedChange, Recorder, StepPlan};
use crate::journal::{Change, Undo};
use crate::keychain::helper::KeychainUnreachable;
use crate::keychain::purge::{self, PurgeEvent};
use crate::keychain::rules::{PurgeRules, Rule};
use crate::keychain::{KeychainItem, KeychainLocation, KeychainLocked, DATA_PROTECTION_NOTE};

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// `users` (every local user's login keychain), `console` (the console user's), `system`.
    pub keychains: Vec<String>,
    #[serde(default)]
    pub remove: Vec<Rule>,
    #[serde(default)]
    pub keep: Vec<Rule>,
    /// How long to wait for a user whose login keychain is locked (no session: another account,
    /// the management admin) before purging the others and naming that user as an exception.
    /// Without it the step pauses until every keychain could be reached.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_for_user_minutes: Option<String>,
}

/// How often a locked keychain is tried again while waiting for its user.
const RETRY_EVERY: std::time::Duration = std::time::Duration::from_secs(15);

impl Spec {
    pub fn rules(&self) -> PurgeRules {
        PurgeRules {
            remove: self.remove.clone(),
            keep: self.keep.clone(),
        }
    }

    pub fn validate(&self) -> Result<()> {
        for k in &self.keychains {
            if !matches!(k.as_str(), "users" | "console" | "system") {
                anyhow::bail!("unknown keychain `{k}` (use \"users\", \"console\" or \"system\")");
            }
        }
        if self.keychains.is_empty() {
            anyhow::bail!("`keychains` is empty: name \"users\", \"console\" and/or \"system\"");
        }
        self.rules().validate()
    }

    /// The keychains to purge, and the users skipped because their record's home is not a
    /// plain absolute path (who, why). Err: the local users could not be read (the step fails
    /// rather than report "done" having looked at nobody).
    fn locations(
        &self,
        env: &Env,
        notes: &mut Vec<String>,
    ) -> Result<(Vec<KeychainLocation>, super::Skipped)> {
        let mut out = Vec::new();
        let mut skipped = Vec::new();
        let mut user = |name: String, uid: u32, home: String, out: &mut Vec<KeychainLocation>| {
            match crate::device::check_mac_path(&home) {
                Ok(()) if !home.trim_end_matches('/').is_empty() => {
                    out.push(KeychainLocation::User { name, uid, home })
                }
                Ok(()) => skipped.push((
                    format!("{name}'s login keychain"),
                    format!("the user record `{name}` gives `/` as its home folder; skipped"),
                )),
                Err(e) => skipped.push((
                    format!("{name}'s login keychain"),
                    format!("the user record `{name}` has the home folder `{home}`, which is not a plain absolute path ({e:#}); skipped, its keychain was not touched"),
                )),
            }
        };
        for k in &self.keychains {
            match k.as_str() {
                "users" => {
                    let us = env
                        .device
                        .users()
                        .context("could not list the local users whose keychains to purge")?;
                    for u in us {
                        user(u.name, u.uid, u.home, &mut out);
                    }
                }
                "console" => match env
                    .device
                    .console_user()
                    .context("could not read the console user whose keychain to purge")?
                {
                    Some(u) => match u.home.clone() {
                        Some(home) => user(u.name, u.uid, home, &mut out),
                        None => notes.push(format!("the console user {} has no local home folder: their keychain is skipped", u.name)),
                    },
                    None => notes.push("nobody is logged in at the console".into()),
                },
                _ => out.push(KeychainLocation::System),
            }
        }
        out.dedup();
        Ok((out, skipped))
    }

    pub fn plan(&self, env: &Env) -> Result<StepPlan> {
        let mut plan = StepPlan::default();
        let rules = self.rules();
        if env.facts.get("psso_registered").and_then(|v| v.as_bool()) == Some(true) {
            plan.notes.push(
                "Platform SSO / Secure Enclave registration: its device key is not in the login keychain, so this purge cannot unregister the Mac; the user must remove the device in Company Portal".into(),
            );
        }
        let mut notes = Vec::new();
        let (locations, skipped) = match self.locations(env, &mut notes) {
            Ok(l) => l,
            Err(e) => {
                plan.unseen.push(format!("{e:#}"));
                return Ok(plan);
            }
        };
        for (target, why) in skipped {
            plan.changes
                .push(PlannedChange::new(Op::Refuse, target, false).reason(why));
        }
        for loc in locations {
            let preview = crate::keychain::open_existing(env.device, &loc)
                .and_then(|kc| kc.map(|kc| purge::preview(kc.as_ref(), &rules)).transpose());
            match preview {
                Ok(None) => plan.already.push(loc.never_logged_in()),
                Ok(Some(preview)) => {
                    if preview.delete.is_empty() {
                        plan.already
                            .push(format!("{}: nothing to delete", loc.describe()));
                    }
                    for (item, rule) in preview.kept {
                        plan.kept.push(Kept {
                            target: format!("{} in {}", item.describe(), loc.describe()),
                            rule,
                        });
                    }
                    for p in preview.delete {
                        let mut c = PlannedChange::new(
                            Op::Delete,
                            format!("{} in {}", p.item.describe(), loc.describe()),
                            p.reversible && env.reversible,
                        );
                        c.reason = Some(if p.reversible {
                            format!("rule: {}", p.rule)
                        } else {
                            format!(
                                "rule: {}; cannot be exported, so it cannot be put back",
                                p.rule
                            )
                        });
                        plan.changes.push(c);
                    }
                }
                Err(e) => plan
                    .unseen
                    .push(format!("{}: {}", loc.describe(), unreachable_text(&e))),
            }
        }
        plan.notes.extend(notes);
        plan.notes.push(DATA_PROTECTION_NOTE.to_string());
        Ok(plan)
    }

    pub fn apply(&self, env: &Env, rec: &mut dyn Recorder) -> Result<Outcome> {
        let rules = self.rules();
        let mut notes = Vec::new();
        let (mut deleted, mut irreversible, mut exceptions) = (0usize, 0usize, 0usize);
        let mut unreachable = Vec::new();
        let mut never_logged_in = Vec::new();
        let export_dir = rec.run_dir().join("keychain");
        crate::device::fs::secure_dir(&export_dir)?;
        let (locations, skipped) = match self.locations(env, &mut notes) {
            Ok(l) => l,
            Err(e) => return Ok(Outcome::Failed(format!("{e:#}"))),
        };
        for (target, why) in skipped {
            let n = rec.intent(Change::Other {
                what: "purge the keychain".into(),
                target: target.clone(),
            })?;
            rec.failed(n, &target, &why, true)?;
            exceptions += 1;
        }
        let wait = self
            .wait_for_user_minutes
            .as_deref()
            .map(|m| {
                super::timer::minutes("wait_for_user_minutes", m, super::timer::WEEK, false)
                    .map(|d| (m.trim().to_string(), super::timer::deadline(d)))
            })
            .transpose()?;
        let mut pending = locations;
        // Keychains that could not be reached because they are locked (worth waiting for), with
        // what was said; other failures go to `unreachable` at once.
        let locked_at_end: Vec<(KeychainLocation, String)>;
        loop {
            let mut locked: Vec<(KeychainLocation, String)> = Vec::new();
            for loc in std::mem::take(&mut pending) {
                let kc = match crate::keychain::open_existing(env.device, &loc) {
                    Ok(Some(kc)) => kc,
                    Ok(None) => {
                        never_logged_in.push(loc.never_logged_in());
                        continue;
                    }
                    Err(e) => {
                        let why = format!("{}: {}", loc.describe(), unreachable_text(&e));
                        if is_locked(&e) {
                            locked.push((loc.clone(), why));
                        } else {
                            unreachable.push(why);
                        }
                        continue;
                    }
                };
                // Write-ahead: every delete call is announced by `Deleting`, journaled as an intent
                // (with the name of its export file, written first) before the delete happens.
                // (n, item, settled, export file name)
                let mut pending: Vec<(u64, KeychainItem, bool, Option<String>)> = Vec::new();
                let mut staged: Option<Vec<u8>> = None;
                // Set when recording (journal or export file) failed: that is this run's own
                // failure, never "the keychain could not be reached".
                let record_failed = std::cell::Cell::new(false);
                let report = {
                    let mut sink = |ev: PurgeEvent| -> Result<()> {
                        let r = (|| -> Result<()> {
                            match ev {
                                PurgeEvent::Exported { mut item, .. } => {
                                    // Kept in memory until its delete is announced.
                                    staged = item.data.take();
                                }
                                PurgeEvent::Deleting { item, exported, .. } => {
                                    let target =
                                        format!("{} in {}", item.describe(), loc.describe());
                                    // A delete that did not take: close its intent, keep its export.
                                    let mut export = None;
                                    if let Some((n, _, settled, e)) =
                                        pending.iter_mut().find(|(_, i, settled, _)| {
                                            !*settled && i.same_identity(&item)
                                        })
                                    {
                                        *settled = true;
                                        export = e.clone();
                                        rec.failed(
                                    *n,
                                    &target,
                                    "the delete reported success but the item stayed; trying again",
                                    false,
                                )?;
                                    }
                                    if export.is_none() && exported {
                                        if let Some(data) = staged.take() {
                                            let name =
                                                format!("{}-{}", env.step_id, rec.next_change());
                                            crate::journal::write_private(
                                                &export_dir.join(format!("{name}.json")),
                                                &serde_json::to_vec(&data)?,
                                            )?;
                                            export = Some(name);
                                        }
                                    }
                                    let n = rec.intent(Change::Delete {
                                        location: loc.clone(),
                                        item: item.clone(),
                                        export: export.clone(),
                                    })?;
                                    pending.push((n, item, false, export));
                                }
                                PurgeEvent::Deleted { item, .. } => {
                                    let found = pending
                                        .iter_mut()
                                        .find(|(_, i, settled, _)| {
                                            !*settled && i.same_identity(&item)
                                        })
                                        .map(|(n, _, settled, export)| {
                                            *settled = true;
                                            (*n, export.clone())
                                        });
                                    let (n, export) = match found {
                                        Some(f) => f,
                                        // The keychain removed another copy along with the one announced.
                                        None => (
                                            rec.intent(Change::Delete {
                                                location: loc.clone(),
                                                item: item.clone(),
                                                export: None,
                                            })?,
                                            None,
                                        ),
                                    };
                                    let undo = match export {
                                        Some(export) => Undo::AddKeychainItem {
                                            location: loc.clone(),
                                            item: item.clone(),
                                            export,
                                        },
                                        None => {
                                            irreversible += 1;
                                            Undo::Irreversible {
                                        what: format!("{} in {}", item.describe(), loc.describe()),
                                        why: "it could not be exported before deletion (a private key, or an item whose export would prompt)".into(),
                                    }
                                        }
                                    };
                                    rec.applied(n, undo)?;
                                    deleted += 1;
                                }
                            }
                            Ok(())
                        })();
                        if r.is_err() {
                            record_failed.set(true);
                        }
                        r
                    };
                    purge::purge(kc.as_ref(), &rules, &mut sink)
                };
                let report = match report {
                    Ok(r) => r,
                    Err(e) if record_failed.get() => {
                        return Err(e.context(format!(
                        "recording the keychain purge of {} failed; nothing further was deleted, and `reenroll resume` retries the step",
                        loc.describe()
                    )));
                    }
                    Err(e) => {
                        let why = format!("{}: {}", loc.describe(), unreachable_text(&e));
                        if is_locked(&e) {
                            locked.push((loc.clone(), why));
                        } else {
                            unreachable.push(why);
                        }
                        continue;
                    }
                };
                for ex in report.exceptions {
                    let target = format!("{} in {}", ex.item.describe(), loc.describe());
                    let n = match pending
                        .iter_mut()
                        .find(|(_, i, settled, _)| !*settled && i.same_identity(&ex.item))
                    {
                        Some((n, _, settled, _)) => {
                            *settled = true;
                            *n
                        }
                        None => rec.intent(Change::Delete {
                            location: loc.clone(),
                            item: ex.item.clone(),
                            export: None,
                        })?,
                    };
                    rec.failed(n, &target, &ex.reason, true)?;
                    exceptions += 1;
                }
                for (n, item, _, _) in pending.iter().filter(|(_, _, settled, _)| !settled) {
                    rec.failed(*n, &item.describe(), "not deleted (already gone)", false)?;
                }
            }
            // Locked keychains: try again until the wait is over (their users may log in).
            match &wait {
                Some((_, end))
                    if !locked.is_empty()
                        && std::time::Instant::now() < *end
                        && !rec.cancelled() =>
                {
                    let left = end.saturating_duration_since(std::time::Instant::now());
                    std::thread::sleep(left.min(RETRY_EVERY));
                    pending = locked.into_iter().map(|(loc, _)| loc).collect();
                }
                _ => {
                    locked_at_end = locked;
                    break;
                }
            }
        }
        // The wait is over: the users still locked out are exceptions, the others are done.
        // Without a wait their part pauses, as any unreachable keychain's does.
        match &wait {
            Some((minutes, _)) => {
                for (loc, u) in locked_at_end {
                    let target = loc.describe();
                    let n = rec.intent(Change::Other {
                        what: "purge the keychain".into(),
                        target: target.clone(),
                    })?;
                    rec.failed(
                        n,
                        &target,
                        &format!(
                            "not purged: it could not be reached for {minutes} minute(s) (a user without a session keeps a locked login keychain): {u}. When that user is logged in, finish it with `sudo reenroll run reregister` (the same keychain purge, then their registration)"
                        ),
                        true,
                    )?;
                    exceptions += 1;
                }
            }
            None => unreachable.extend(locked_at_end.into_iter().map(|(_, u)| u)),
        }
        // "alice's login keychain: nothing to purge: alice never logged in (no login keychain)"
        let absent = if never_logged_in.is_empty() {
            String::new()
        } else {
            format!("; {}", never_logged_in.join("; "))
        };
        if !unreachable.is_empty() {
            return Ok(Outcome::Pause {
                reason: format!(
                    "{deleted} item(s) deleted; these keychains could not be reached and wait for their users to log in: {}{absent}",
                    unreachable.join("; ")
                ),
                until: None,
            });
        }
        if deleted == 0 && exceptions == 0 {
            return Ok(Outcome::AlreadyDone(format!(
                "no matching keychain items{absent}"
            )));
        }
        let mut s = format!("{deleted} keychain item(s) deleted, each verified by a re-query");
        if irreversible > 0 {
            s.push_str(&format!(
                " ({irreversible} could not be exported and cannot be put back)"
            ));
        }
        if exceptions > 0 {
            s.push_str(&format!(", {exceptions} exception(s)"));
        }
        s.push_str(&absent);
        Ok(Outcome::Done(s))
    }
}

/// Whether the keychain could not be reached because it is locked (its user has no session):
/// worth waiting for, unlike an I/O error.
fn is_locked(e: &anyhow::Error) -> bool {
    e.downcast_ref::<KeychainUnreachable>().is_some()
        || e.chain()
            .any(|c| c.downcast_ref::<KeychainLocked>().is_some())
}

fn unreachable_text(e: &anyhow::Error) -> String {
    if let Some(u) = e.downcast_ref::<KeychainUnreachable>() {
        return format!("cannot be reached: {}", u.0.reason);
    }
    // A keychain opened directly (the System keychain, or reenroll running as that user).
    if let Some(l) = e.chain().find_map(|c| c.downcast_ref::<KeychainLocked>()) {
        return format!("cannot be reached: {l}");
    }
    format!("{e:#}")
}
