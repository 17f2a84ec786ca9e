//! Where a playbook may remove things: a fixed list of allowed roots, widened only by the
//! playbook's own top-level `allow_paths` (which `plan` shows), and a list of places no playbook
//! may touch at all. Checked at validation, on the path templates, so a playbook naming `/etc`
//! is refused (exit 2, file:line:column) before any step runs.
//!
//! Allowed without `allow_paths` (`{home}` and `{user}` stand for every user's / the console
//! user's home; `/Users/NAME` is treated as a home):
//! - an entry inside a folder of `/Library` or `{home}/Library` (`/Library/Preferences/x.plist`,
//!   `{home}/Library/Caches/x`), never the folder itself, never `Keychains` (only the
//!   `keychain-purge` action touches keychains) and never reenroll's state folder;
//! - in `/Library/LaunchDaemons` and `/Library/LaunchAgents` (and `{home}/Library/LaunchAgents`),
//!   entries of the named families only: [`FAMILIES`];
//! - an application bundle `/Applications/NAME.app` (and what it holds);
//! - `/usr/local/jamf` (and what it holds) and `/usr/local/bin/jamf`.
//!
//! Never, even with `allow_paths` (equal to, inside or above any of these): [`NEVER`].

/// LaunchDaemons/LaunchAgents families a playbook may remove.
pub const FAMILIES: &[&str] = &["com.jamf", "com.jamfsoftware", "com.microsoft"];

/// Places no playbook may name, nor anything inside or above them. `/private/etc` and
/// `/private/var` are read as `/etc` and `/var`; `/Users/NAME` as `{home}`.
pub const NEVER: &[&str] = &[
    "/System",
    "/etc",
    "/var/db/dslocal",
    "/Users",
    "{home}/Documents",
    "{home}/Library/Keychains",
    "/Library/Keychains",
    "/Library/Application Support/reenroll",
    "/Library/LaunchDaemons/com.github.reenroll.plist",
    "/bin",
    "/sbin",
    "/usr/bin",
    "/usr/sbin",
    "/usr/lib",
];

/// The components of a path template, with the aliases macOS has resolved: `/private/etc` is
/// `/etc`, `/Users/NAME` and `{user}` are `{home}`.
fn normalized(path: &str) -> Vec<String> {
    let mut c: Vec<String> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    if c.first().map(String::as_str) == Some("private")
        && matches!(c.get(1).map(String::as_str), Some("etc" | "var" | "tmp"))
    {
        c.remove(0);
    }
    if c.first().map(String::as_str) == Some("{user}") {
        c[0] = "{home}".into();
    }
    if c.first().map(String::as_str) == Some("Users") && c.len() >= 2 && c[1] != "Shared" {
        c.drain(..2);
        c.insert(0, "{home}".into());
    }
    c
}

fn shown(c: &[String]) -> String {
    match c.first() {
        Some(f) if f.starts_with('{') => c.join("/"),
        _ => format!("/{}", c.join("/")),
    }
}

fn starts_with(path: &[String], prefix: &[String]) -> bool {
    path.len() >= prefix.len() && path.iter().zip(prefix).all(|(a, b)| a == b)
}

/// Why `path` (a template) is never allowed, if it is not.
fn never(path: &[String]) -> Option<String> {
    if path.is_empty() {
        return Some("`/` is the whole disk".into());
    }
    if path == ["private"] {
        return Some("`/private` holds `/etc` and `/var`".into());
    }
    if path == ["{home}"] {
        return Some("a whole home folder".into());
    }
    for n in NEVER {
        let n = normalized(n);
        if starts_with(path, &n) || starts_with(&n, path) {
            return Some(format!(
                "it is, holds or lies inside `{}`, which no playbook may touch",
                shown(&n)
            ));
        }
    }
    None
}

fn is_literal(c: &str) -> bool {
    !c.contains('{')
}

/// Whether the default roots allow `path`.
fn default_allowed(c: &[String]) -> bool {
    let s = |i: usize| c.get(i).map(String::as_str);
    // An entry inside a Library folder: /Library/F/E, {home}/Library/F/E.
    let library = match (s(0), s(1)) {
        (Some("Library"), _) => Some(1),
        (Some("{home}"), Some("Library")) => Some(2),
        _ => None,
    };
    if let Some(f) = library {
        let (Some(folder), Some(entry)) = (s(f), s(f + 1)) else {
            return false;
        };
        if !is_literal(folder) {
            return false;
        }
        return match folder {
            "Keychains" => false,
            "LaunchDaemons" | "LaunchAgents" => FAMILIES.iter().any(|fam| entry.starts_with(fam)),
            _ => true,
        };
    }
    match (s(0), s(1), s(2)) {
        (Some("Applications"), Some(app), _) => {
            is_literal(app) && app.ends_with(".app") && app.len() > ".app".len()
        }
        (Some("usr"), Some("local"), Some("jamf")) => true,
        (Some("usr"), Some("local"), Some("bin")) => c.len() == 4 && s(3) == Some("jamf"),
        _ => false,
    }
}

/// Check one path a `remove` step names against the roots and `allow_paths`.
pub fn check_removal(path: &str, allow: &[String]) -> Result<(), String> {
    let c = normalized(path);
    if let Some(why) = never(&c) {
        return Err(format!("`{path}` may not be removed: {why}"));
    }
    if default_allowed(&c) {
        return Ok(());
    }
    if allow.iter().any(|a| starts_with(&c, &normalized(a))) {
        return Ok(());
    }
    Err(format!(
        "`{path}` is outside the allowed roots (an entry inside a Library folder, \
         `/Applications/NAME.app`, `/usr/local/jamf`, `/usr/local/bin/jamf`, LaunchDaemons and \
         LaunchAgents of the families {}; see ARCHITECTURE.md); to remove it anyway, name it or \
         its folder in `allow_paths = [...]` at the top of the playbook",
        FAMILIES.join(", ")
    ))
}

/// Check one `allow_paths` entry: an absolute path (or `{home}/...`) that is not `/`, nor
/// inside, equal to or above a place no playbook may touch.
pub fn check_allow(entry: &str) -> Result<(), String> {
    crate::action::template::check_path_template(entry).map_err(|e| format!("{e:#}"))?;
    if let Some(why) = never(&normalized(entry)) {
        return Err(format!("allow_paths cannot name `{entry}`: {why}"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_roots_and_the_refused_ones() {
        for ok in [
            "/Library/Preferences/com.microsoft.CompanyPortal.plist",
            "/Library/Application Support/com.jamfsoftware.selfservice.mac",
            "{home}/Library/Cookies/x.binarycookies",
            "{user}/Library/Preferences/x.plist",
            "/Users/zoë/Library/Preferences/x.plist",
            "/Library/LaunchAgents/com.jamf.management.jamfAAD.agent.plist",
            "/Library/LaunchDaemons/com.jamfsoftware.task.1.plist",
            "/Library/LaunchDaemons/com.microsoft.autoupdate.helper.plist",
            "/Applications/Company Portal.app",
            "/usr/local/jamf/bin/jamf",
            "/usr/local/jamf",
            "/usr/local/bin/jamf",
        ] {
            assert_eq!(check_removal(ok, &[]), Ok(()), "{ok}");
        }
        for bad in [
            "/",
            "/etc",
            "/private/etc/sudoers",
            "/etc/hosts",
            "/Users",
            "/Users/zoë",
            "/System",
            "/System/Library/x",
            "/var/db/dslocal",
            "/private/var/db/dslocal/nodes/Default",
            "{home}/Documents",
            "{home}/Documents/x",
            "/Users/zoë/Documents/notes.txt",
            "{home}/Library/Keychains/login.keychain-db",
            "{home}/Library/Keychains",
            "/Library/Keychains/System.keychain",
            "/Library/Application Support/reenroll",
            "/Library/Application Support/reenroll/runs",
            "/Library/LaunchDaemons/com.github.reenroll.plist",
            "/Library/LaunchDaemons/com.apple.x.plist",
            "/Library/LaunchDaemons",
            "/Library/Preferences",
            "/Library",
            "{home}/Library",
            "{home}",
            "/Applications",
            "/Applications/Utilities",
            "/usr/local/bin/brew",
            "/opt/x",
            "/Library/{x}/y",
        ] {
            assert!(check_removal(bad, &[]).is_err(), "{bad}");
        }
        let allow = vec!["/opt/x".to_string()];
        assert_eq!(check_removal("/opt/x", &allow), Ok(()));
        assert_eq!(check_removal("/opt/x/y", &allow), Ok(()));
        assert!(check_removal("/opt/y", &allow).is_err());
        assert!(check_removal("/etc/hosts", &["/etc".into()]).is_err());
        for bad in [
            "/", "/etc", "/private", "/Users", "{home}", "relative", "/a/../b",
        ] {
            assert!(check_allow(bad).is_err(), "{bad}");
        }
        assert!(check_allow("/opt/x").is_ok());
    }
}
