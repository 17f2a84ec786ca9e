//! `plan --out FILE` / `run --plan FILE`: a reviewed plan, executed exactly. The file keeps the
//! playbook text, the variables and what the plan observed (every change's op, target and size)
//! with a SHA-256 fingerprint of it; `run --plan` plans again and refuses, naming the first
//! difference, when the device no longer matches.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::plan::PlanReport;

pub const FORMAT: &str = "reenroll-plan";
pub const VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
pub struct PlanFile {
    pub format: String,
    pub version: u32,
    pub created: String,
    pub device: String,
    pub playbook: String,
    pub origin: String,
    pub source: String,
    pub vars: BTreeMap<String, String>,
    pub var_sources: BTreeMap<String, String>,
    pub fingerprint: String,
    pub observed: Vec<ObservedStep>,
    /// The whole plan as `plan --json` printed it, for people and tools.
    pub plan: serde_json::Value,
}

#[derive(Serialize, Deserialize, PartialEq, Eq, Clone, Debug)]
pub struct ObservedStep {
    pub id: String,
    pub applies: bool,
    pub changes: Vec<ObservedChange>,
}

#[derive(Serialize, Deserialize, PartialEq, Eq, Clone, Debug)]
pub struct ObservedChange {
    pub op: String,
    pub target: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
}

pub fn observed(report: &PlanReport) -> Vec<ObservedStep> {
    report
        .steps
        .iter()
        .map(|s| ObservedStep {
            id: s.id.clone(),
            applies: s.not_applicable.is_none(),
            changes: s
                .changes
                .iter()
                .map(|c| ObservedChange {
                    op: c.op.as_str().to_string(),
                    target: c.target.clone(),
                    bytes: c.bytes,
                })
                .collect(),
        })
        .collect()
}

pub fn fingerprint(observed: &[ObservedStep]) -> String {
    let bytes = serde_json::to_vec(observed).unwrap_or_default();
    Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub fn save(
    path: &Path,
    report: &PlanReport,
    pb: &crate::playbook::Playbook,
    vars: &BTreeMap<String, String>,
    sources: &BTreeMap<String, String>,
) -> Result<String> {
    let obs = observed(report);
    let fp = fingerprint(&obs);
    let file = PlanFile {
        format: FORMAT.into(),
        version: VERSION,
        created: crate::action::now_rfc3339(),
        device: report.device.clone(),
        playbook: pb.name.clone(),
        origin: pb.origin.clone(),
        source: pb.source.clone(),
        vars: vars.clone(),
        var_sources: sources.clone(),
        fingerprint: fp.clone(),
        observed: obs,
        plan: serde_json::to_value(report)?,
    };
    let text = serde_json::to_vec_pretty(&file)?;
    std::fs::write(path, text)
        .with_context(|| format!("writing the plan to {}", path.display()))?;
    Ok(fp)
}

pub fn load(path: &Path) -> Result<PlanFile> {
    let bytes =
        std::fs::read(path).with_context(|| format!("reading the plan {}", path.display()))?;
    let file: PlanFile = serde_json::from_slice(&bytes).with_context(|| {
        format!(
            "{} is not a plan saved by `reenroll plan --out`",
            path.display()
        )
    })?;
    if file.format != FORMAT || file.version != VERSION {
        anyhow::bail!(
            "{} is a `{}` v{} file, not a reenroll plan v{VERSION}",
            path.display(),
            file.format,
            file.version
        );
    }
    if fingerprint(&file.observed) != file.fingerprint {
        anyhow::bail!(
            "{} was changed after it was saved (its fingerprint does not match)",
            path.display()
        );
    }
    Ok(file)
}

/// Every difference between what was planned and what the device shows now, one line each
/// (empty: the device still matches).
pub fn differences(saved: &[ObservedStep], now: &[ObservedStep]) -> Vec<String> {
    let mut out = Vec::new();
    let ids = |v: &[ObservedStep]| v.iter().map(|s| s.id.clone()).collect::<Vec<_>>();
    if ids(saved) != ids(now) {
        out.push(format!(
            "the playbook's steps differ: planned {}, now {}",
            ids(saved).join(", "),
            ids(now).join(", ")
        ));
    }
    for a in saved {
        let Some(b) = now.iter().find(|b| b.id == a.id) else {
            continue;
        };
        if a.applies != b.applies {
            out.push(format!(
                "step `{}` {} applies",
                a.id,
                if b.applies { "now" } else { "no longer" }
            ));
        }
        for c in &b.changes {
            match a
                .changes
                .iter()
                .find(|x| x.op == c.op && x.target == c.target)
            {
                None => out.push(format!(
                    "step `{}` would now also {} {}",
                    a.id, c.op, c.target
                )),
                Some(x) if x.bytes != c.bytes => out.push(format!(
                    "step `{}`: {} changed size ({} -> {} bytes)",
                    a.id,
                    c.target,
                    x.bytes.unwrap_or(0),
                    c.bytes.unwrap_or(0)
                )),
                _ => {}
            }
        }
        for c in &a.changes {
            if !b
                .changes
                .iter()
                .any(|x| x.op == c.op && x.target == c.target)
            {
                out.push(format!(
                    "step `{}` would no longer {} {}",
                    a.id, c.op, c.target
                ));
            }
        }
    }
    out
}
