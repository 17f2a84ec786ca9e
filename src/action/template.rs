//! Variables and `{placeholder}` expansion. `{{` and `}}` stand for literal braces.

use std::collections::BTreeMap;

use anyhow::{bail, Result};

/// The names of the placeholders in `text`.
pub fn placeholders(text: &str) -> Result<Vec<String>, String> {
    let mut names = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find(['{', '}']) {
        let c = rest.as_bytes()[i];
        if rest[i + 1..].starts_with(c as char) {
            rest = &rest[i + 2..];
            continue;
        }
        if c == b'}' {
            return Err(format!(
                "unmatched `}}` in `{text}` (write `}}}}` for a literal brace)"
            ));
        }
        let Some(end) = rest[i + 1..].find('}') else {
            return Err(format!("unclosed `{{` in `{text}`"));
        };
        names.push(rest[i + 1..i + 1 + end].to_string());
        rest = &rest[i + 2 + end..];
    }
    Ok(names)
}

/// Replace placeholders whose names are in `values`; leave the others (`{home}`, `{user}`)
/// for path expansion. Literal braces are kept doubled when `keep_escapes` (a later pass will
/// expand them), otherwise they become single.
pub fn expand(text: &str, values: &BTreeMap<String, String>, keep_unknown: bool) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find(['{', '}']) {
        out.push_str(&rest[..i]);
        let c = rest.as_bytes()[i] as char;
        if rest[i + 1..].starts_with(c) {
            if keep_unknown {
                out.push(c);
            }
            out.push(c);
            rest = &rest[i + 2..];
            continue;
        }
        match rest[i + 1..].find('}') {
            Some(end) if c == '{' => {
                let name = &rest[i + 1..i + 1 + end];
                match values.get(name) {
                    Some(v) => out.push_str(v),
                    None => out.push_str(&rest[i..i + 2 + end]),
                }
                rest = &rest[i + 2 + end..];
            }
            _ => {
                out.push(c);
                rest = &rest[i + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// A path in a playbook: absolute, or starting with `{home}/` or `{user}/`; no `..` or `.`.
pub fn check_path_template(path: &str) -> Result<()> {
    let rest = path
        .strip_prefix("{home}")
        .or_else(|| path.strip_prefix("{user}"))
        .unwrap_or(path);
    if rest.contains("{home}") || rest.contains("{user}") {
        bail!("`{path}`: {{home}} and {{user}} may only start a path");
    }
    if rest.is_empty() {
        bail!("`{path}` names a whole home folder; name something inside it");
    }
    crate::device::check_mac_path(rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_and_expands_placeholders() {
        assert_eq!(placeholders("a {x} b {{lit}} {y}").unwrap(), vec!["x", "y"]);
        assert!(placeholders("a {x").is_err());
        let mut v = BTreeMap::new();
        v.insert("x".to_string(), "1".to_string());
        assert_eq!(expand("{x}/{home}/{{x}}", &v, true), "1/{home}/{{x}}");
        assert_eq!(expand("{x}{{y}}", &v, false), "1{y}");
    }

    #[test]
    fn path_templates() {
        assert!(check_path_template("{home}/Library/x").is_ok());
        assert!(check_path_template("/Library/x").is_ok());
        assert!(check_path_template("Library/x").is_err());
        assert!(check_path_template("/a/{home}/x").is_err());
        assert!(check_path_template("{home}").is_err());
        assert!(check_path_template("{home}/../x").is_err());
    }
}
