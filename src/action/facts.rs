//! `facts`: read, before anything changes, what later steps and the admin need and what the
//! cleanup destroys (serial, computer name, console user, `jss_url`, MDM/ADE state, the Entra
//! device ids, Platform SSO). Kept in the journal; `plan` and `status` show them. With
//! `require_jss = true` the run stops before its first change when the Jamf Pro server does not
//! answer (`--force` overrides): re-enrollment needs it.

use std::time::Duration;

use anyhow::Result;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{Env, Facts, Outcome, Recorder, StepPlan};
use crate::device::RunOpts;
use crate::keychain::{ItemClass, KeychainLocation};

pub const JAMF_PLIST: &str = "/Library/Preferences/com.jamfsoftware.jamf.plist";
pub const JAMF_MDM_PROFILE_UUID: &str = "00000000-0000-0000-A000-4A414D460003";
pub const JAMF_BINARY: &str = "/usr/local/jamf/bin/jamf";
pub const CONDITIONAL_ACCESS: &str = "/Library/Application Support/JAMF/Jamf.app/Contents/MacOS/Jamf Conditional Access.app/Contents/MacOS/Jamf Conditional Access";

/// Every fact the preflight step may record: the names a step's `when = { fact = ... }` or
/// `not_fact` may use (playbook validation refuses any other). A test keeps it in step with
/// what `gather` records.
pub const FACTS: &[&str] = &[
    "serial",
    "computer_name",
    "console_user",
    "console_uid",
    "console_home",
    "jss_url",
    "jss_reachable",
    "mdm_profile",
    "ade",
    "mdm_enrolled",
    "psso_registered",
    "entra_device_ids",
    "upn",
    "keychains_unreachable",
    "unreadable",
    "managed_payloads",
];

/// The facts as the JSON documents (`plan --json`, `status --json`) show them: lists as arrays
/// and numbers as numbers. The journal keeps them as recorded (`entra_device_ids` joined with
/// ", ", `console_uid` as text: `{placeholders}` expand them so, and old journals hold them so);
/// only the documents are typed.
pub fn json_view(facts: &Facts) -> Facts {
    let mut out = facts.clone();
    if let Some(Value::String(ids)) = facts.get("entra_device_ids") {
        let ids: Vec<&str> = ids
            .split(',')
            .map(str::trim)
            .filter(|id| !id.is_empty())
            .collect();
        out.insert("entra_device_ids".into(), json!(ids));
    }
    if let Some(Value::String(uid)) = facts.get("console_uid") {
        match uid.trim().parse::<u32>() {
            Ok(n) => out.insert("console_uid".into(), json!(n)),
            // No console user: none, rather than a text a script must test for.
            Err(_) => out.insert("console_uid".into(), Value::Null),
        };
    }
    out
}

/// `#[serde(serialize_with)]` for a document's facts: `json_view`.
pub fn serialize_json_view<S: serde::Serializer>(facts: &Facts, s: S) -> Result<S::Ok, S::Error> {
    json_view(facts).serialize(s)
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// Stop before any change when `jamf checkJSSConnection` fails.
    #[serde(default)]
    pub require_jss: bool,
}

fn run_quiet(env: &Env, program: &str, args: &[&str]) -> Option<crate::device::Output> {
    if !env.device.has_program(program) {
        return None;
    }
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    env.device
        .run(
            program,
            &args,
            &RunOpts {
                timeout: Some(Duration::from_secs(60)),
                ..Default::default()
            },
        )
        .ok()
}

/// Read every fact that can be read now; what cannot be read is recorded as such, not guessed.
pub fn gather(env: &Env) -> Facts {
    let mut f = Facts::new();
    let mut unreadable = Vec::new();

    match run_quiet(
        env,
        "/usr/sbin/ioreg",
        &["-rd1", "-c", "IOPlatformExpertDevice"],
    ) {
        Some(out) => match parse_ioreg_serial(&out.stdout) {
            Some(s) => {
                f.insert("serial".into(), json!(s));
            }
            None => {
                unreadable.push("serial: ioreg did not show IOPlatformSerialNumber".to_string())
            }
        },
        None => unreadable.push("serial: ioreg could not run".into()),
    }
    if let Some(out) = run_quiet(env, "/usr/sbin/scutil", &["--get", "ComputerName"]) {
        if out.success() {
            f.insert("computer_name".into(), json!(out.stdout.trim()));
        }
    }
    match env.device.console_user() {
        Ok(Some(u)) => {
            f.insert("console_user".into(), json!(u.name));
            f.insert("console_uid".into(), json!(u.uid.to_string()));
            if let Some(h) = &u.home {
                f.insert("console_home".into(), json!(h));
            }
        }
        Ok(None) => {
            f.insert("console_user".into(), json!(""));
        }
        Err(e) => unreadable.push(format!("console user: {e:#}")),
    }
    match env
        .device
        .host_path(JAMF_PLIST)
        .map(plist::Value::from_file)
    {
        Ok(Ok(v)) => {
            if let Some(url) = v
                .as_dictionary()
                .and_then(|d| d.get("jss_url"))
                .and_then(|u| u.as_string())
            {
                let url = if url.ends_with('/') {
                    url.to_string()
                } else {
                    format!("{url}/")
                };
                f.insert("jss_url".into(), json!(url));
            }
        }
        Ok(Err(e)) => unreadable.push(format!("jss_url: {JAMF_PLIST}: {e}")),
        Err(e) => unreadable.push(format!("jss_url: {e:#}")),
    }
    if let Some(out) = run_quiet(env, "/usr/bin/profiles", &["list"]) {
        f.insert(
            "mdm_profile".into(),
            json!(out.stdout.contains(JAMF_MDM_PROFILE_UUID)),
        );
    }
    // Network and trust payloads the MDM profile's removal may take with it (action::payloads).
    if let Some(found) = super::payloads::read(env.device).filter(|p| !p.is_empty()) {
        f.insert("managed_payloads".into(), super::payloads::fact(&found));
    }
    if let Some(out) = run_quiet(env, "/usr/bin/profiles", &["status", "-type", "enrollment"]) {
        let ade = out
            .stdout
            .lines()
            .any(|l| l.trim().eq_ignore_ascii_case("Enrolled via DEP: Yes"));
        let mdm = out
            .stdout
            .lines()
            .any(|l| l.trim().starts_with("MDM enrollment: Yes"));
        f.insert("ade".into(), json!(ade));
        f.insert("mdm_enrolled".into(), json!(mdm));
    }
    // Platform SSO state is the console user's: asked in their session as them (as Microsoft's
    // and the community's extension attributes do); as root only when nobody is logged in.
    let psso = match env.device.console_user().ok().flatten() {
        Some(u) if env.device.has_program(CONDITIONAL_ACCESS) => {
            let (program, args) =
                super::run::as_console_user(&u, CONDITIONAL_ACCESS, &["getPSSOStatus".to_string()]);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            run_quiet(env, &program, &args)
        }
        _ => run_quiet(env, CONDITIONAL_ACCESS, &["getPSSOStatus"]),
    };
    if let Some(out) = psso {
        let code = out.stdout.lines().next().unwrap_or("").trim().to_string();
        f.insert("psso_registered".into(), json!(code == "2"));
    } else {
        // Unknown, not "no": without Jamf Conditional Access there is nothing to ask.
        unreadable
            .push("Platform SSO state: Jamf Conditional Access is not on the device".to_string());
    }

    // The Entra device id(s) and the registered UPN live in the users' keychains.
    let mut ids = Vec::new();
    let mut upn = None;
    let mut unreachable = Vec::new();
    if let Ok(users) = env.device.users() {
        for u in users {
            let loc = KeychainLocation::User {
                name: u.name.clone(),
                uid: u.uid,
                home: u.home.clone(),
            };
            // A user who never logged in has no keychain: nothing to read, nothing unreachable.
            let kc = match crate::keychain::open_existing(env.device, &loc) {
                Ok(None) => continue,
                Ok(Some(kc)) => Ok(kc),
                Err(e) => Err(e),
            };
            match kc.and_then(|kc| {
                let items = kc.list()?;
                let upn_item = items.iter().find(|i| {
                    i.class == Some(ItemClass::GenericPassword)
                        && i.account.as_deref()
                            == Some("com.microsoft.workplacejoin.registeredUserPrincipalName")
                });
                let upn = match upn_item {
                    Some(i) => kc
                        .export(i)
                        .ok()
                        .flatten()
                        .map(|d| String::from_utf8_lossy(&d).trim().to_string()),
                    None => None,
                };
                Ok((items, upn))
            }) {
                Ok((items, u_upn)) => {
                    ids.extend(crate::keychain::rules::entra_device_ids(&items));
                    if upn.is_none() {
                        upn = u_upn;
                    }
                }
                Err(e) => unreachable.push(format!("{}: {e:#}", u.name)),
            }
        }
    }
    ids.sort();
    ids.dedup();
    f.insert("entra_device_ids".into(), json!(ids.join(", ")));
    f.insert("upn".into(), json!(upn.unwrap_or_default()));
    if !unreachable.is_empty() {
        f.insert("keychains_unreachable".into(), json!(unreachable));
    }
    if !unreadable.is_empty() {
        f.insert("unreadable".into(), json!(unreadable));
    }
    f
}

fn parse_ioreg_serial(text: &str) -> Option<String> {
    text.lines().find_map(|l| {
        let (_, rest) = l.split_once("\"IOPlatformSerialNumber\" = \"")?;
        rest.split('"').next().map(str::to_string)
    })
}

/// What `jamf checkJSSConnection` said: the server answers, it does not, or there is no
/// framework to ask with (the Mac is not managed by Jamf Pro).
enum JssCheck {
    Available,
    NoFramework,
    NoAnswer(String),
}

fn jss_check(env: &Env) -> JssCheck {
    if !env.device.has_program(JAMF_BINARY) {
        return JssCheck::NoFramework;
    }
    match run_quiet(env, JAMF_BINARY, &["checkJSSConnection"]) {
        Some(out) if out.success() && out.stdout.contains("is available") => JssCheck::Available,
        Some(out) => JssCheck::NoAnswer(format!(
            "`jamf checkJSSConnection` exited {}: {}",
            out.status_text(),
            format!("{}{}", out.stdout, out.stderr).trim()
        )),
        None => JssCheck::NoAnswer(format!("{JAMF_BINARY} could not run")),
    }
}

/// How to bring a Mac back under Jamf Pro management (`jss_url` ends in `/`).
pub fn enroll_again(jss_url: Option<&str>, ade: bool) -> String {
    let web = match jss_url {
        Some(u) => format!(
            "enroll it at {u}enroll (the user opens it in a browser and installs the profile)"
        ),
        None => "enroll it at your Jamf Pro server's /enroll page (the user opens it in a browser)"
            .to_string(),
    };
    if ade {
        format!("this Mac was enrolled through Automated Device Enrollment: `sudo profiles renew -type enrollment` enrolls it again; or {web}")
    } else {
        format!("{web}; on a Mac in Automated Device Enrollment, `sudo profiles renew -type enrollment`")
    }
}

fn no_framework(facts: &Facts) -> String {
    format!(
        "the Jamf framework is not on this Mac ({JAMF_BINARY} is missing): Jamf Pro does not manage it (a rollback, or an earlier removal of the framework, leaves it so), and the server cannot be asked",
    ) + &format!(
        "; to manage it again, {}",
        enroll_again(
            facts
                .get("jss_url")
                .and_then(|v| v.as_str())
                .filter(|s| !s.is_empty()),
            facts.get("ade").and_then(|v| v.as_bool()).unwrap_or(false)
        )
    )
}

impl Spec {
    pub fn plan(&self, env: &Env) -> Result<StepPlan> {
        let mut plan = StepPlan::default();
        plan.notes
            .push("reads the device's facts; changes nothing".into());
        if self.require_jss {
            match jss_check(env) {
                JssCheck::Available => {}
                JssCheck::NoFramework => plan.notes.push(format!(
                    "{}: run stops here before any change unless --force",
                    no_framework(&gather(env))
                )),
                JssCheck::NoAnswer(text) => plan.notes.push(format!("the Jamf Pro server does not answer ({text}): run stops here before any change unless --force")),
            }
        }
        Ok(plan)
    }

    pub fn apply(&self, env: &Env, rec: &mut dyn Recorder) -> Result<Outcome> {
        let mut facts = gather(env);
        if self.require_jss {
            let check = jss_check(env);
            facts.insert(
                "jss_reachable".into(),
                Value::Bool(matches!(check, JssCheck::Available)),
            );
            let forced = env.values.get("force").map(String::as_str) == Some("true");
            let why = match check {
                JssCheck::Available => None,
                JssCheck::NoFramework => Some(format!(
                    "{}; nothing was changed. Enroll it first, or run with --force",
                    no_framework(&facts)
                )),
                JssCheck::NoAnswer(text) => Some(format!(
                    "the Jamf Pro server does not answer ({text}); nothing was changed. Re-enrollment needs it: fix the network or the server, then `reenroll resume`, or run with --force"
                )),
            };
            if let (Some(why), false) = (why, forced) {
                rec.record_facts(facts)?;
                return Ok(Outcome::Failed(why));
            }
        }
        let summary = summarize(&facts);
        rec.record_facts(facts)?;
        Ok(Outcome::Done(summary))
    }
}

pub fn summarize(f: &Facts) -> String {
    let s = |k: &str| {
        f.get(k)
            .and_then(|v| v.as_str())
            .filter(|s| !s.is_empty())
            .unwrap_or("?")
            .to_string()
    };
    format!(
        "serial {}, {}, console user {}, Jamf Pro {}",
        s("serial"),
        s("computer_name"),
        s("console_user"),
        s("jss_url")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_show_device_ids_as_an_array_and_the_uid_as_a_number() {
        let mut f = Facts::new();
        f.insert("entra_device_ids".into(), json!("b-2, a-1"));
        f.insert("console_uid".into(), json!("501"));
        f.insert("serial".into(), json!("C02X"));
        let v = json_view(&f);
        assert_eq!(v["entra_device_ids"], json!(["b-2", "a-1"]));
        assert_eq!(v["console_uid"], json!(501));
        assert_eq!(v["serial"], json!("C02X"));
        f.insert("entra_device_ids".into(), json!(""));
        f.insert("console_uid".into(), json!(""));
        let v = json_view(&f);
        assert_eq!(v["entra_device_ids"], json!([]));
        assert_eq!(v["console_uid"], Value::Null);
    }

    #[test]
    fn parses_ioreg() {
        let t = "+-o J314sAP  <class IOPlatformExpertDevice>\n    {\n      \"IOPlatformSerialNumber\" = \"C02ZK0XXMD6R\"\n    }\n";
        assert_eq!(
            super::parse_ioreg_serial(t).as_deref(),
            Some("C02ZK0XXMD6R")
        );
    }
}

#[cfg(test)]
mod facts_list {
    #[test]
    fn every_recorded_fact_is_in_the_list() {
        let src = include_str!("facts.rs");
        let mut n = 0;
        for part in src.split(".insert(").skip(1) {
            let name = part.trim_start().trim_start_matches('"');
            let Some(end) = name.find('"') else { continue };
            let name = &name[..end];
            if name.chars().all(|c| c.is_ascii_lowercase() || c == '_') && !name.is_empty() {
                assert!(
                    super::FACTS.contains(&name),
                    "`{name}` is recorded but not in FACTS"
                );
                n += 1;
            }
        }
        assert!(n >= 14, "found only {n} facts");
    }
}
