//! Family selectors for `remove`: find every artifact of an app family by bundle identifier
//! inside the standard Library folders, system and per user, instead of enumerating names.
//!
//! An entry of a searched folder belongs to a family when its name, compared without regard
//! to ASCII case (APFS and HFS+ are case-insensitive by default), is one of the family's
//! identifiers, or an identifier followed by `.` and anything (`ID.plist`, `ID.savedState`,
//! `ID.binarycookies`, `ID.<host UUID>.plist` in `ByHost`, `ID.ssoextension`, `ID.agent.plist`,
//! `ID.usercontext.info`). A team-identifier prefix (ten capital letters or digits and a dot,
//! `UBF8T346G9.ID…`) or `group.` in front is allowed, for Group Containers and Application
//! Scripts. Nothing else matches: `com.microsoft.Word` is not in the family
//! `com.microsoft.CompanyPortalMac`, and neither is `com.microsoft.CompanyPortalMacX`.
//!
//! Only the folder's direct entries are considered, listed with the no-follow walk; the
//! selected entries are then removed like any other path of the step.

use anyhow::Result;
use serde::{Deserialize, Serialize};

use super::{expand_path, Env};
use crate::device::fs::{self, Listing};

/// The Library folders searched when a family names none (inside each of its `libraries`).
/// Never `Keychains` (only `keychain-purge` touches keychains) and never the LaunchDaemons of
/// other vendors: the allowed roots are checked on these at validation.
pub const STANDARD_FOLDERS: &[&str] = &[
    "Application Scripts",
    "Application Support",
    "Caches",
    "Containers",
    "Cookies",
    "Group Containers",
    "HTTPStorages",
    "LaunchAgents",
    "Logs",
    "Preferences",
    "Preferences/ByHost",
    "Saved Application State",
    "WebKit",
];

/// The Library folders searched when a family names none: the system's and every user's.
pub const STANDARD_LIBRARIES: &[&str] = &["/Library", "{home}/Library"];

/// One family: a name for the plan, its bundle identifiers, and where to look.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Family {
    pub name: String,
    pub ids: Vec<String>,
    /// Library folders to look in (`/Library`, `{home}/Library`); default both.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub libraries: Vec<String>,
    /// Folders inside each library (`Caches`, `Preferences/ByHost`); default
    /// [`STANDARD_FOLDERS`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub folders: Vec<String>,
}

impl Family {
    pub fn libraries(&self) -> Vec<&str> {
        if self.libraries.is_empty() {
            STANDARD_LIBRARIES.to_vec()
        } else {
            self.libraries.iter().map(String::as_str).collect()
        }
    }

    pub fn folders(&self) -> Vec<&str> {
        if self.folders.is_empty() {
            STANDARD_FOLDERS.to_vec()
        } else {
            self.folders.iter().map(String::as_str).collect()
        }
    }

    /// The folder templates searched (`{home}/Library/Caches`, ...).
    pub fn searched(&self) -> Vec<String> {
        let mut out = Vec::new();
        for lib in self.libraries() {
            for folder in self.folders() {
                out.push(format!("{}/{}", lib.trim_end_matches('/'), folder));
            }
        }
        out
    }

    /// A path template standing for every entry the family could select, one per searched
    /// folder and identifier (`{home}/Library/Caches/com.microsoft.CompanyPortalMac`): what
    /// validation checks against the allowed roots.
    pub fn representatives(&self) -> Vec<String> {
        let mut out = Vec::new();
        for dir in self.searched() {
            for id in &self.ids {
                out.push(format!("{dir}/{id}"));
            }
        }
        out
    }

    pub fn validate(&self) -> Result<()> {
        anyhow::ensure!(
            !self.ids.is_empty(),
            "family `{}` names no bundle identifier (ids = [...])",
            self.name
        );
        for id in &self.ids {
            anyhow::ensure!(
                is_bundle_id(id),
                "family `{}`: `{id}` is not a bundle identifier (letters, digits, `-` and `.`, with at least one dot, such as com.microsoft.CompanyPortalMac)",
                self.name
            );
        }
        for f in &self.folders {
            anyhow::ensure!(
                !f.is_empty()
                    && !f.starts_with('/')
                    && f.split('/').all(|c| !c.is_empty() && c != "." && c != ".."),
                "family `{}`: folder `{f}` must be a folder inside a Library, such as `Caches` or `Preferences/ByHost`",
                self.name
            );
        }
        Ok(())
    }

    /// Whether a folder entry named `name` belongs to this family.
    pub fn matches(&self, name: &str) -> bool {
        self.ids.iter().any(|id| matches_id(name, id))
    }
}

fn is_bundle_id(id: &str) -> bool {
    id.contains('.')
        && !id.starts_with('.')
        && !id.ends_with('.')
        && !id.contains("..")
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_')
}

/// `name` is `id`, or `id.` followed by anything, possibly behind a team identifier
/// (`ABCDE12345.`) or `group.`; ASCII case is ignored.
pub fn matches_id(name: &str, id: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    let id = id.to_ascii_lowercase();
    let bare = |n: &str| {
        n == id || (n.len() > id.len() + 1 && n.starts_with(&id) && n.as_bytes()[id.len()] == b'.')
    };
    if bare(&lower) {
        return true;
    }
    if let Some(rest) = lower.strip_prefix("group.") {
        if bare(rest) {
            return true;
        }
    }
    // A team identifier: ten characters, capital letters or digits, then a dot.
    let team = name.len() > 11
        && name.as_bytes()[10] == b'.'
        && name[..10]
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
    team && bare(&lower[11..])
}

/// What the families of a step select on this device: the paths (with the family that chose
/// each), the folders that could not be searched (why), and the users skipped.
#[derive(Debug, Default)]
pub struct Selection {
    pub paths: Vec<(String, String)>,
    pub refused: Vec<(String, String)>,
    pub skipped: super::Skipped,
}

/// Search every folder of every family. A folder that cannot be read (an I/O error, not
/// "absent") is an error: a step must not report "done" having looked at nothing.
pub fn select(env: &Env, families: &[Family], notes: &mut Vec<String>) -> Result<Selection> {
    let mut sel = Selection::default();
    for family in families {
        for template in family.searched() {
            let expanded = expand_path(env, &template, notes)?;
            sel.skipped.extend(expanded.skipped);
            for dir in expanded.paths {
                let mut names = match fs::list_folder(env.device, &dir)? {
                    Listing::Absent => continue,
                    Listing::Refused(why) => {
                        sel.refused.push((dir.clone(), why));
                        continue;
                    }
                    Listing::Names(n) => n,
                };
                names.sort();
                for name in names {
                    let Some(name) = name.to_str() else {
                        continue; // not UTF-8: no bundle identifier can be spelled so
                    };
                    // Two families may name the same entry: `remove::Spec::targets` keeps the
                    // first.
                    if family.matches(name) {
                        sel.paths
                            .push((format!("{dir}/{name}"), family.name.clone()));
                    }
                }
            }
        }
    }
    Ok(sel)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CP: &str = "com.microsoft.CompanyPortalMac";

    #[test]
    fn a_family_takes_its_identifier_and_its_dotted_suffixes_only() {
        for name in [
            "com.microsoft.CompanyPortalMac",
            "com.microsoft.CompanyPortalMac.plist",
            "com.microsoft.companyportalmac.plist",
            "com.microsoft.CompanyPortalMac.5A1B2C3D-0000-1111-2222-333344445555.plist",
            "com.microsoft.CompanyPortalMac.savedState",
            "com.microsoft.CompanyPortalMac.binarycookies",
            "com.microsoft.CompanyPortalMac.ssoextension",
            "com.microsoft.CompanyPortalMac.Mac-Autofill-Extension",
            "UBF8T346G9.com.microsoft.CompanyPortalMac.ssoextension",
            "group.com.microsoft.CompanyPortalMac",
        ] {
            assert!(matches_id(name, CP), "{name} should match");
        }
        for name in [
            "com.microsoft.Word",
            "com.microsoft.Word.plist",
            "com.microsoft.CompanyPortalMacX",
            "com.microsoft.CompanyPortalMac.",
            "xcom.microsoft.CompanyPortalMac",
            "com.microsoft.CompanyPortal",
            "Microsoft",
            "Teams",
            "UBF8T346G9.com.microsoft.entrabroker",
            "ubf8t346g9.com.microsoft.CompanyPortalMac",
            "UBF8T346G9com.microsoft.CompanyPortalMac",
        ] {
            assert!(!matches_id(name, CP), "{name} must not match");
        }
    }

    #[test]
    fn families_are_validated() {
        let f = |ids: &[&str], folders: &[&str]| Family {
            name: "x".into(),
            ids: ids.iter().map(|s| s.to_string()).collect(),
            libraries: Vec::new(),
            folders: folders.iter().map(|s| s.to_string()).collect(),
        };
        assert!(f(&[CP], &[]).validate().is_ok());
        assert!(f(&[], &[]).validate().is_err());
        assert!(f(&["*"], &[]).validate().is_err());
        assert!(f(&["com"], &[]).validate().is_err());
        assert!(f(&["com.x/../y"], &[]).validate().is_err());
        assert!(f(&[CP], &["../Keychains"]).validate().is_err());
        assert!(f(&[CP], &["/Caches"]).validate().is_err());
        assert!(f(&[CP], &["Preferences/ByHost"]).validate().is_ok());
        let fam = f(&[CP], &["Caches"]);
        assert_eq!(
            fam.representatives(),
            vec![
                format!("/Library/Caches/{CP}"),
                format!("{{home}}/Library/Caches/{CP}")
            ]
        );
    }
}
