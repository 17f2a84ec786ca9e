//! `remove`: take files and folders off the device by moving them into the run's quarantine.
//! Paths may start with `{home}` (every local user) or `{user}` (the console user). A path that
//! is absent is already done; a path behind a symlink is refused; a path macOS will not let go
//! of is an exception. Neither stops the step: everything else is still removed.

use std::collections::BTreeSet;

use anyhow::Result;
use serde::{Deserialize, Serialize};

use super::family::{self, Family};
use super::{expand_path, Env, Op, Outcome, PlannedChange, Recorder, StepPlan};
use crate::device::fs::{self, FsError, Probe, Restored};
use crate::journal::{Change, Undo};

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    #[serde(default)]
    pub paths: Vec<String>,
    /// App families found by bundle identifier in the Library folders (`action::family`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub families: Vec<Family>,
}

/// What a `remove` step would act on (see `Spec::targets`).
#[derive(Debug, Default)]
pub struct Targets {
    /// Each path, and the family that selected it (None: named in `paths`).
    pub paths: Vec<(String, Option<String>)>,
    pub skipped: super::Skipped,
}

/// Privacy-protected locations: even root needs Full Disk Access there.
pub fn needs_full_disk_access(path: &str) -> bool {
    path.contains("/Library/Containers/") || path.contains("/Library/Group Containers/")
}

impl Spec {
    pub fn validate(&self) -> Result<()> {
        anyhow::ensure!(
            !self.paths.is_empty() || !self.families.is_empty(),
            "a `remove` step names no `paths` and no `families`"
        );
        for f in &self.families {
            f.validate()?;
        }
        Ok(())
    }

    /// The concrete paths (with the family that selected each, for those found by a family
    /// selector), and what was skipped: users whose home is not a plain path and folders that
    /// could not be searched (each with why). An error when the users or a folder cannot be
    /// read.
    pub fn targets(&self, env: &Env, notes: &mut Vec<String>) -> Result<Targets> {
        let mut seen = BTreeSet::new();
        let mut out = Targets::default();
        for t in &self.paths {
            let e = expand_path(env, t, notes)?;
            for p in e.paths {
                if seen.insert(p.clone()) {
                    out.paths.push((p, None));
                }
            }
            out.skipped.extend(e.skipped);
        }
        let sel = family::select(env, &self.families, notes)?;
        for (p, fam) in sel.paths {
            if seen.insert(p.clone()) {
                out.paths.push((p, Some(fam)));
            }
        }
        out.skipped.extend(sel.skipped);
        out.skipped.extend(
            sel.refused
                .into_iter()
                .map(|(dir, why)| (format!("{dir} (searched for app families)"), why)),
        );
        Ok(out)
    }

    pub fn plan(&self, env: &Env) -> Result<StepPlan> {
        let mut plan = StepPlan::default();
        let Targets { paths, skipped } = match self.targets(env, &mut plan.notes) {
            Ok(t) => t,
            Err(e) => {
                plan.unseen.push(format!("{e:#}"));
                return Ok(plan);
            }
        };
        for (target, why) in skipped {
            plan.changes
                .push(PlannedChange::new(Op::Refuse, target, false).reason(why));
        }
        for (path, fam) in paths {
            match fs::probe(env.device, &path) {
                Ok(Probe::Absent) => plan.already.push(format!("{path} is absent")),
                Ok(Probe::Refused(reason)) => plan
                    .changes
                    .push(PlannedChange::new(Op::Refuse, &path, false).reason(reason)),
                Ok(Probe::Present(entry)) => {
                    let mut c = PlannedChange::new(Op::Remove, &path, env.reversible);
                    c.bytes = Some(entry.bytes);
                    c.entries = Some(entry.entries);
                    let mut why = Vec::new();
                    if let Some(f) = &fam {
                        why.push(format!("family {f}"));
                    }
                    if needs_full_disk_access(&path) {
                        why.push("needs Full Disk Access (PPPC profile) on macOS".into());
                    }
                    if !why.is_empty() {
                        c.reason = Some(why.join("; "));
                    }
                    plan.changes.push(c);
                }
                Err(e) => plan.unseen.push(format!("{path}: {e:#}")),
            }
        }
        Ok(plan)
    }

    pub fn apply(&self, env: &Env, rec: &mut dyn Recorder) -> Result<Outcome> {
        let mut notes = Vec::new();
        let Targets { paths, skipped } = match self.targets(env, &mut notes) {
            Ok(t) => t,
            Err(e) => return Ok(Outcome::Failed(format!("{e:#}"))),
        };
        let (mut removed, mut exceptions, mut errors) = (0usize, 0usize, Vec::new());
        for (target, why) in skipped {
            let n = rec.intent(Change::Remove {
                target: target.clone(),
                qname: String::new(),
            })?;
            rec.failed(n, &target, &why, true)?;
            exceptions += 1;
        }
        for (path, _) in paths {
            match fs::probe_shallow(env.device, &path) {
                Ok(Probe::Absent) => continue,
                Ok(Probe::Refused(reason)) => {
                    let n = rec.intent(Change::Remove {
                        target: path.clone(),
                        qname: String::new(),
                    })?;
                    rec.failed(n, &path, &format!("refused: {reason}"), true)?;
                    exceptions += 1;
                    continue;
                }
                Ok(Probe::Present(_)) => {}
                Err(e) => {
                    errors.push(format!("{path}: {e:#}"));
                    continue;
                }
            }
            let n = rec.intent(Change::Remove {
                target: path.clone(),
                qname: String::new(),
            })?;
            let qname = n.to_string();
            let q = rec.quarantine()?;
            match fs::quarantine(env.device, &path, q, &qname) {
                Ok(Some(moved)) => {
                    rec.applied(
                        n,
                        Undo::Restore {
                            target: path.clone(),
                            qname,
                            moved,
                        },
                    )?;
                    removed += 1;
                }
                Ok(None) => rec.failed(n, &path, "already absent", false)?,
                Err(FsError::Refused(r)) => {
                    rec.failed(n, &path, &format!("refused: {r}"), true)?;
                    exceptions += 1;
                }
                Err(FsError::NotPermitted(r)) => {
                    let hint = if needs_full_disk_access(&path) {
                        " Grant reenroll Full Disk Access with the PPPC profile in packaging/ (com.github.reenroll)."
                    } else {
                        ""
                    };
                    rec.failed(n, &path, &format!("{r}.{hint}"), true)?;
                    exceptions += 1;
                }
                Err(FsError::Other(e)) => {
                    rec.failed(n, &path, &format!("{e:#}"), false)?;
                    errors.push(format!("{path}: {e:#}"));
                }
            }
        }
        if !errors.is_empty() {
            return Ok(Outcome::Failed(errors.join("; ")));
        }
        let mut summary = format!("{removed} path(s) moved to quarantine");
        if exceptions > 0 {
            summary.push_str(&format!(", {exceptions} exception(s)"));
        }
        if removed == 0 && exceptions == 0 {
            return Ok(Outcome::AlreadyDone("every path is already absent".into()));
        }
        Ok(Outcome::Done(summary))
    }
}

/// Put a quarantined path back, never over something new.
pub fn undo(
    env_device: &crate::device::Device,
    run_dir: &std::path::Path,
    target: &str,
    qname: &str,
) -> Result<String> {
    let q = fs::open_quarantine(&run_dir.join("quarantine"))?;
    Ok(match fs::restore(env_device, target, &q, qname)? {
        Restored::Restored => "restored".into(),
        Restored::QuarantineMissing => {
            if matches!(fs::probe_shallow(env_device, target)?, Probe::Present(_)) {
                "already back".into()
            } else {
                anyhow::bail!(
                    "the quarantined copy of {target} is gone (purged?); it cannot be restored"
                )
            }
        }
        Restored::Conflict => anyhow::bail!(
            "conflict: something new stands at {target}; both are kept (the original is in {})",
            run_dir.join("quarantine").join(qname).display()
        ),
        Restored::ParentMissing(r) => anyhow::bail!("cannot restore {target}: {r}"),
    })
}
