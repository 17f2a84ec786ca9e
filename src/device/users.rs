//! Local users and the console user.
//!
//! Local users come from the local directory's records,
//! `/var/db/dslocal/nodes/Default/users/<name>.plist` (binary plists whose values are arrays of
//! strings: `name`, `uid`, `home`), which a sandbox device carries too. System accounts (uid below
//! 500, names starting with `_`), `Shared` and `Guest` are skipped. The console user comes from
//! `scutil` (`show State:/Users/ConsoleUser`); its home is resolved from its uid, never assumed to
//! be `/Users/<name>` (with IdP-backed accounts the name can be an alias).

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use super::{Device, RunOpts};

pub const USER_RECORDS: &str = "/var/db/dslocal/nodes/Default/users";

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalUser {
    pub name: String,
    pub uid: u32,
    /// The home folder as the Mac sees it.
    pub home: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsoleUser {
    pub name: String,
    pub uid: u32,
    /// Resolved from the uid; `None` when no local record has that uid.
    pub home: Option<String>,
}

const SKIPPED_NAMES: &[&str] = &["Shared", "Guest", "nobody", "root", "daemon"];

pub fn local_users(device: &Device) -> Result<Vec<LocalUser>> {
    let dir = device.host_path(USER_RECORDS)?;
    let entries = std::fs::read_dir(&dir).with_context(|| {
        format!(
            "could not read the local user records in {USER_RECORDS} ({}); run as root",
            dir.display()
        )
    })?;
    let mut users = BTreeMap::new();
    for entry in entries {
        let entry = entry.with_context(|| format!("listing {USER_RECORDS}"))?;
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) != Some("plist") {
            continue;
        }
        // NOTE: a record that cannot be read fails the whole listing rather than dropping that
        // user: a step that acts on every home must never report "done" with one left out (an
        // I/O error here once left a user's keychain unpurged in a run that exited 0).
        let value = plist::Value::from_file(&path).with_context(|| {
            format!(
                "reading the user record {}: every local user must be known before acting on their homes",
                path.display()
            )
        })?;
        if let Some(user) = parse_record(&value) {
            if is_local_person(&user) {
                users.insert(user.uid, user);
            }
        }
    }
    Ok(users.into_values().collect())
}

fn first_string(dict: &plist::Dictionary, key: &str) -> Option<String> {
    match dict.get(key)? {
        plist::Value::Array(a) => a.first()?.as_string().map(str::to_string),
        plist::Value::String(s) => Some(s.clone()),
        _ => None,
    }
}

fn parse_record(value: &plist::Value) -> Option<LocalUser> {
    let dict = value.as_dictionary()?;
    let name = first_string(dict, "name")?;
    let uid = first_string(dict, "uid")?.trim().parse::<i64>().ok()?;
    let home = first_string(dict, "home")?;
    Some(LocalUser {
        name,
        uid: u32::try_from(uid).ok()?,
        home,
    })
}

fn is_local_person(u: &LocalUser) -> bool {
    u.uid >= 500
        && !u.name.starts_with('_')
        && !SKIPPED_NAMES.contains(&u.name.as_str())
        && u.home.starts_with('/')
        && u.home != "/var/empty"
        && u.home != "/dev/null"
}

pub fn console_user(device: &Device) -> Result<Option<ConsoleUser>> {
    let out = device.run(
        "/usr/sbin/scutil",
        &[],
        &RunOpts {
            stdin: Some(b"show State:/Users/ConsoleUser\n".to_vec()),
            timeout: Some(std::time::Duration::from_secs(20)),
            ..Default::default()
        },
    )?;
    let Some((name, uid)) = parse_scutil_console_user(&out.stdout) else {
        return Ok(None);
    };
    let home = local_users(device)
        .ok()
        .and_then(|us| us.into_iter().find(|u| u.uid == uid).map(|u| u.home));
    Ok(Some(ConsoleUser { name, uid, home }))
}

/// Parse `scutil`'s `show State:/Users/ConsoleUser`: the top-level `Name` and `UID` (the nested
/// `SessionInfo` dictionaries are indented deeper and ignored). `loginwindow` means nobody.
pub fn parse_scutil_console_user(text: &str) -> Option<(String, u32)> {
    let mut name = None;
    let mut uid = None;
    for line in text.lines() {
        // Top-level keys are indented by exactly two spaces inside `<dictionary> {`.
        let Some(rest) = line.strip_prefix("  ") else {
            continue;
        };
        if rest.starts_with(' ') {
            continue;
        }
        if let Some(v) = rest.strip_prefix("Name : ") {
            name = Some(v.trim().to_string());
        } else if let Some(v) = rest.strip_prefix("UID : ") {
            uid = v.trim().parse::<u32>().ok();
        }
    }
    let name = name?;
    if name.is_empty() || name == "loginwindow" || uid == Some(0) {
        return None;
    }
    Some((name, uid?))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ONE_USER: &str = "<dictionary> {\n  GID : 20\n  Name : erikberglund\n  SessionInfo : <array> {\n    0 : <dictionary> {\n      kCGSSessionUserIDKey : 501\n      kCGSSessionUserNameKey : erikberglund\n    }\n  }\n  UID : 501\n}\n";
    const NOBODY: &str = "<dictionary> {\n  Name : loginwindow\n  UID : 0\n}\n";

    #[test]
    fn parses_the_console_user_like_the_captured_output() {
        assert_eq!(
            parse_scutil_console_user(ONE_USER),
            Some(("erikberglund".to_string(), 501))
        );
        assert_eq!(parse_scutil_console_user(NOBODY), None);
        assert_eq!(parse_scutil_console_user(""), None);
    }

    #[test]
    fn skips_system_accounts() {
        let u = |name: &str, uid, home: &str| LocalUser {
            name: name.into(),
            uid,
            home: home.into(),
        };
        assert!(is_local_person(&u("alice", 501, "/Users/alice")));
        assert!(!is_local_person(&u("_mbsetupuser", 248, "/var/setup")));
        assert!(!is_local_person(&u("Guest", 201, "/Users/Guest")));
        assert!(!is_local_person(&u("root", 0, "/var/root")));
    }

    #[test]
    fn a_record_that_cannot_be_read_fails_the_listing_instead_of_dropping_its_user() {
        let dir = tempfile::tempdir().unwrap();
        let records = dir.path().join(USER_RECORDS.trim_start_matches('/'));
        std::fs::create_dir_all(&records).unwrap();
        let device = Device::sandbox(dir.path()).unwrap();
        assert!(local_users(&device).unwrap().is_empty());
        std::fs::write(records.join("bob.plist"), b"\x00 not a property list").unwrap();
        let err = local_users(&device).unwrap_err();
        assert!(format!("{err:#}").contains("bob.plist"), "{err:#}");
    }
}
