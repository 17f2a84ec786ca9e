//! A minimal sandbox device for the tests, built here so they depend on no other module's
//! sandbox: user records, homes, and fake programs that print the state files `plant_symptom`
//! writes (`profiles`, Jamf Conditional Access, `log`), plus `scutil` (the console user),
//! `launchctl asuser` and `sudo -u` (which only record the user in SANDBOX_USER: the
//! integration tests' sandbox drops privileges for real).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use tempfile::TempDir;

use super::registration::PSSO_TOOL;
use crate::device::users::USER_RECORDS;
use crate::device::Device;

pub struct TestDevice {
    pub dir: TempDir,
    pub device: Device,
}

fn record(dir: &Path, name: &str, uid: u32, home: &str) {
    let mut d = plist::Dictionary::new();
    for (k, v) in [
        ("name", name.to_string()),
        ("uid", uid.to_string()),
        ("home", home.to_string()),
    ] {
        d.insert(k.into(), plist::Value::Array(vec![v.into()]));
    }
    let path = dir
        .join(USER_RECORDS.trim_start_matches('/'))
        .join(format!("{name}.plist"));
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    plist::Value::Dictionary(d).to_file_binary(path).unwrap();
    std::fs::create_dir_all(dir.join(home.trim_start_matches('/'))).unwrap();
}

fn script(dir: &Path, mac: &str, body: &str) {
    let host = dir.join(mac.trim_start_matches('/'));
    std::fs::create_dir_all(host.parent().unwrap()).unwrap();
    std::fs::write(&host, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&host, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// alice (501, the console user) and zoë (502, home outside /Users), plus root to be skipped.
pub fn minimal() -> TestDevice {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    record(root, "alice", 501, "/Users/alice");
    record(root, "zoë", 502, "/Users/Shared/homes/zoe");
    record(root, "root", 0, "/var/root");
    let state = root.join("var/db/sandbox");
    std::fs::create_dir_all(&state).unwrap();
    std::fs::write(state.join("console-user"), "alice 501\n").unwrap();
    let state = state.display().to_string();
    script(
        root,
        "/usr/bin/profiles",
        &format!(
            "[ \"$1 $2 $3\" = 'status -type enrollment' ] || exit 1\ncat '{state}/enrollment'"
        ),
    );
    let r = root.display().to_string();
    script(
        root,
        PSSO_TOOL,
        &format!(
            "[ \"$1\" = getPSSOStatus ] || exit 1\n\
             status=$(cat '{state}/psso-status' 2>/dev/null || echo 0)\necho \"$status\"\n\
             if [ \"$status\" = 2 ] && [ -n \"${{SANDBOX_USER:-}}\" ] && [ -f '{state}/psso-device-id' ]; then\n\
             printf 'extraDeviceInformation [AnyHashable(\"primary_registration_metadata_device_id\"): \"%s\"]\\n' \"$(cat '{state}/psso-device-id')\"\nfi"
        ),
    );
    script(
        root,
        "/usr/sbin/scutil",
        &format!(
            "read -r name uid < '{state}/console-user' 2>/dev/null || {{ name=loginwindow; uid=0; }}\n\
             printf '<dictionary> {{\\n  Name : %s\\n  UID : %s\\n}}\\n' \"$name\" \"$uid\""
        ),
    );
    // `launchctl asuser UID [/usr/bin/sudo -u USER] PROGRAM ARGS…`: the sudo part is done here,
    // recording USER in SANDBOX_USER, and there is no /usr/bin/sudo, so the keychain is read
    // directly rather than through the keychain helper (which needs reenroll's own binary).
    script(
        root,
        "/bin/launchctl",
        &format!(
            "[ \"$1\" = asuser ] || exit 64\nshift 2\n\
             if [ \"$1\" = /usr/bin/sudo ] && [ \"$2\" = -u ]; then SANDBOX_USER=$3; export SANDBOX_USER; shift 3; fi\n\
             p=$1\nshift\nexec '{r}'\"$p\" \"$@\""
        ),
    );
    // `log show …`: the planted entries (the seconds column dropped), then the trailer.
    script(
        root,
        "/usr/bin/log",
        &format!(
            "[ \"$1\" = show ] || exit 64\n\
             cut -f2- '{state}/unified-log.ndjson' 2>/dev/null\necho '{{\"count\":0,\"finished\":1}}'"
        ),
    );
    let device = Device::sandbox(root).unwrap();
    TestDevice { dir, device }
}
