//! What of packaging/ can be checked off a Mac: the PPPC profile template is a valid property list
//! naming the paths reenroll really runs from, the Jamf scripts behave, and build-pkg.sh refuses
//! to run anywhere but macOS. The package build itself is verified by the macOS CI job only.

use std::path::{Path, PathBuf};
use std::process::Command;

use plist::Value;

fn packaging(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("packaging")
        .join(file)
}

fn dict<'a>(v: &'a Value, what: &str) -> &'a plist::Dictionary {
    v.as_dictionary()
        .unwrap_or_else(|| panic!("{what} is not a dict"))
}

fn string<'a>(d: &'a plist::Dictionary, key: &str) -> &'a str {
    d.get(key)
        .and_then(Value::as_string)
        .unwrap_or_else(|| panic!("no string {key}"))
}

fn is_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
        && groups
            .iter()
            .all(|g| g.chars().all(|c| c.is_ascii_hexdigit()))
}

#[test]
fn pppc_profile_grants_full_disk_access_to_both_paths_reenroll_runs_from() {
    let profile = Value::from_file(packaging("com.github.reenroll.pppc.mobileconfig"))
        .expect("the PPPC template parses as a property list");
    let top = dict(&profile, "the profile");
    assert_eq!(string(top, "PayloadIdentifier"), "com.github.reenroll.pppc");
    assert_eq!(string(top, "PayloadType"), "Configuration");
    assert_eq!(string(top, "PayloadScope"), "System");

    let payloads = top["PayloadContent"].as_array().unwrap();
    assert_eq!(payloads.len(), 1);
    let tcc = dict(&payloads[0], "the TCC payload");
    assert_eq!(
        string(tcc, "PayloadType"),
        "com.apple.TCC.configuration-profile-policy"
    );
    assert!(string(tcc, "PayloadIdentifier").starts_with("com.github.reenroll.pppc."));
    let (outer, inner) = (string(top, "PayloadUUID"), string(tcc, "PayloadUUID"));
    assert!(is_uuid(outer) && is_uuid(inner) && outer != inner);

    let services = dict(&tcc["Services"], "Services");
    assert_eq!(
        services.keys().collect::<Vec<_>>(),
        ["SystemPolicyAllFiles"]
    );
    let entries = services["SystemPolicyAllFiles"].as_array().unwrap();
    let paths: Vec<&str> = entries
        .iter()
        .map(|e| string(dict(e, "an entry"), "Identifier"))
        .collect();
    // The installed binary, and the copy the resuming LaunchDaemon runs (see action::reboot).
    let daemon_copy = format!("{}/bin/reenroll", reenroll::engine::DEFAULT_STATE_DIR);
    assert_eq!(paths, ["/usr/local/bin/reenroll", daemon_copy.as_str()]);
    for e in entries {
        let e = dict(e, "an entry");
        assert_eq!(string(e, "IdentifierType"), "path");
        assert_eq!(string(e, "Authorization"), "Allow");
        // build-pkg.sh signs with this identifier, so the requirement pins it.
        assert!(string(e, "CodeRequirement").starts_with("identifier \"com.github.reenroll\" "));
    }
}

#[test]
fn the_daemon_label_is_the_package_identifier() {
    assert_eq!(reenroll::action::reboot::LABEL, "com.github.reenroll");
    let script = std::fs::read_to_string(packaging("build-pkg.sh")).unwrap();
    assert!(script.contains("IDENTIFIER=com.github.reenroll\n"));
}

#[test]
fn policy_script_hands_every_jamf_parameter_to_jamf_policy() {
    let script = std::fs::read_to_string(packaging("policy-script.sh")).unwrap();
    assert_eq!(
        script,
        "#!/bin/sh\nexec /usr/local/bin/reenroll jamf-policy \"$@\"\n"
    );
}

#[test]
fn extension_attribute_says_not_installed_without_the_binary() {
    if Path::new("/usr/local/bin/reenroll").exists() {
        return; // installed here: the other branch runs, which is the binary's own test
    }
    let out = Command::new("sh")
        .arg(packaging("extension-attribute.sh"))
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "<result>not installed</result>\n"
    );
}

#[cfg(not(target_os = "macos"))]
#[test]
fn build_pkg_refuses_off_macos_with_a_clear_message() {
    let out = Command::new("bash")
        .arg(packaging("build-pkg.sh"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("only") && err.contains("macOS"), "{err}");
    assert!(out.stdout.is_empty(), "it started building: {out:?}");
}
