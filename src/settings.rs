//! Where settings come from, resolved once before anything runs. Precedence, highest first:
//! the command line (`--set`), Jamf policy parameters (`$4`..`$11`), managed preferences (a
//! configuration profile for the `com.github.reenroll` domain), the playbook's defaults. `plan`
//! shows where each value came from.

use std::collections::BTreeMap;

use anyhow::{Context, Result};

use crate::device::Device;
use crate::error;
use crate::playbook::Playbook;

/// The project's one reverse-DNS identifier: LaunchDaemon label, preferences domain, PPPC, package.
pub const DOMAIN: &str = "com.github.reenroll";
pub const MANAGED_PREFERENCES: &str = "/Library/Managed Preferences/com.github.reenroll.plist";

pub const SOURCE_DEFAULT: &str = "playbook default";
pub const SOURCE_MANAGED: &str = "managed preferences";
pub const SOURCE_JAMF: &str = "Jamf policy parameter";
pub const SOURCE_CLI: &str = "command line";

/// One layer of values: where they came from, and the `key=value` pairs.
pub struct Layer {
    pub source: String,
    pub values: Vec<(String, String)>,
    /// Unknown keys are an error (command line, Jamf parameters) or ignored with a note (a
    /// fleet-wide profile sets variables for several playbooks).
    pub strict: bool,
}

pub fn parse_set(s: &str) -> Result<(String, String)> {
    let (k, v) = s
        .split_once('=')
        .ok_or_else(|| error::invalid(format!("--set {s}: expected KEY=VALUE")))?;
    Ok((k.trim().to_string(), v.to_string()))
}

/// Variables read from the managed preferences profile, if one is installed. Values may be
/// strings, integers, reals or booleans; other keys are ignored.
pub fn managed_preferences(device: &Device) -> Result<Vec<(String, String)>> {
    let path = device.host_path(MANAGED_PREFERENCES)?;
    if !path.exists() {
        return Ok(Vec::new());
    }
    let value = plist::Value::from_file(&path)
        .with_context(|| format!("reading the managed preferences {MANAGED_PREFERENCES}"))?;
    let dict = value
        .as_dictionary()
        .with_context(|| format!("{MANAGED_PREFERENCES} is not a dictionary"))?;
    // Managed preferences are readable by every user of the Mac: a secret there is exposed, so
    // it is refused rather than used (the value is never repeated).
    let secret: Vec<&str> = dict
        .keys()
        .map(String::as_str)
        .filter(|k| {
            crate::server::creds::is_credential_key(&k.to_ascii_lowercase())
                || crate::server::creds::looks_like_credential_key(k)
        })
        .collect();
    if !secret.is_empty() {
        return Err(error::refused(format!(
            "the managed preferences {MANAGED_PREFERENCES} carry API credentials ({}): managed preferences are readable by every user of the Mac, so reenroll never uses credentials from them. Remove them from the configuration profile (and rotate the secret: it was exposed), and place the root-only credentials file with a package instead (docs/server.md); nothing was changed",
            secret.join(", ")
        )));
    }
    let mut out = Vec::new();
    for (k, v) in dict {
        let s = match v {
            plist::Value::String(s) => s.clone(),
            plist::Value::Integer(i) => i.to_string(),
            plist::Value::Real(r) => r.to_string(),
            plist::Value::Boolean(b) => b.to_string(),
            _ => continue,
        };
        out.push((k.clone(), s));
    }
    Ok(out)
}

/// Resolved variables, where each came from, and notes about ignored keys.
pub type Resolved = (
    BTreeMap<String, String>,
    BTreeMap<String, String>,
    Vec<String>,
);

/// Apply the layers (lowest precedence first) over the playbook's defaults.
pub fn resolve(pb: &Playbook, layers: &[Layer]) -> Result<Resolved> {
    let mut values: BTreeMap<String, String> = pb
        .vars
        .iter()
        .map(|(k, v)| (k.clone(), v.default.clone()))
        .collect();
    let mut sources: BTreeMap<String, String> = pb
        .vars
        .keys()
        .map(|k| (k.clone(), SOURCE_DEFAULT.to_string()))
        .collect();
    let mut notes = Vec::new();
    for layer in layers {
        for (k, v) in &layer.values {
            let Some(def) = pb.vars.get(k) else {
                if layer.strict {
                    let known: Vec<&str> = pb.vars.keys().map(String::as_str).collect();
                    return Err(error::invalid(format!(
                        "{} `{k}`: playbook `{}` has no variable `{k}` (it has: {})",
                        layer.source,
                        pb.name,
                        if known.is_empty() {
                            "none".to_string()
                        } else {
                            known.join(", ")
                        }
                    )));
                }
                notes.push(format!(
                    "{}: `{k}` is not a variable of playbook `{}`; ignored",
                    layer.source, pb.name
                ));
                continue;
            };
            if def.timer && v.trim().parse::<f64>().is_err() {
                return Err(error::invalid(format!(
                    "{} {k}={v}: `{k}` is a number of minutes",
                    layer.source
                )));
            }
            values.insert(k.clone(), v.clone());
            sources.insert(k.clone(), layer.source.clone());
        }
    }
    check_timers(pb, &values, &sources)?;
    pb.check_paths(&values).map_err(|m| {
        error::invalid(format!(
            "{m}; nothing was changed. Give a value that keeps the path inside the playbook's allowed roots"
        ))
    })?;
    Ok((values, sources, notes))
}

/// Refuse (exit 2) a timer that is not a finite, non-negative number of minutes within its
/// maximum, naming where the value came from: nothing has changed yet.
pub fn check_timers(
    pb: &Playbook,
    values: &BTreeMap<String, String>,
    sources: &BTreeMap<String, String>,
) -> Result<()> {
    pb.check_timers(values).map_err(|p| {
        let from = p
            .vars
            .iter()
            .map(|v| {
                format!(
                    "{v}={} ({})",
                    values.get(v).map(String::as_str).unwrap_or(""),
                    sources.get(v).map(String::as_str).unwrap_or(SOURCE_DEFAULT)
                )
            })
            .collect::<Vec<_>>()
            .join(", ");
        let from = if from.is_empty() {
            String::new()
        } else {
            format!("{from}: ")
        };
        let give = if crate::action::notify::VALUE_FIELDS.contains(&p.field) {
            "Give a value of the form the message names"
        } else {
            "Give a number of minutes within the maximum"
        };
        error::invalid(format!("{from}{p}; nothing was changed. {give}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PB: &str = "name = \"t\"\ndescription = \"d\"\n[vars.a]\ndefault = 1\ntimer = true\n[vars.b]\ndefault = \"x\"\n[[steps]]\nid = \"s\"\ntitle = \"t\"\n[steps.action]\nkind = \"operator\"\ninstructions = \"i\"\n";

    #[test]
    fn precedence_is_command_line_then_jamf_then_managed_then_default() {
        let pb = Playbook::parse(PB, "t").unwrap();
        let layer = |source: &str, kv: &[(&str, &str)], strict| Layer {
            source: source.into(),
            values: kv
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            strict,
        };
        let (v, s, notes) = resolve(
            &pb,
            &[
                layer(
                    SOURCE_MANAGED,
                    &[("a", "5"), ("b", "m"), ("other", "1")],
                    false,
                ),
                layer(SOURCE_JAMF, &[("a", "7")], true),
                layer(SOURCE_CLI, &[("a", "9")], true),
            ],
        )
        .unwrap();
        assert_eq!(v["a"], "9");
        assert_eq!(s["a"], SOURCE_CLI);
        assert_eq!(v["b"], "m");
        assert_eq!(s["b"], SOURCE_MANAGED);
        assert_eq!(notes.len(), 1);
        assert!(resolve(&pb, &[layer(SOURCE_CLI, &[("nope", "1")], true)]).is_err());
        assert!(resolve(&pb, &[layer(SOURCE_CLI, &[("a", "soon")], true)]).is_err());
    }
}
