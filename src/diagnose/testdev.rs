//! A minimal sandbox device for the tests, built here so they depend on no other module's
//! sandbox: user records, homes, and two fake programs (`profiles`, Jamf Conditional Access)
//! that print the state files `plant_symptom` writes.

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
    script(
        root,
        PSSO_TOOL,
        &format!(
            "[ \"$1\" = getPSSOStatus ] || exit 1\ncat '{state}/psso-status' 2>/dev/null || echo 0"
        ),
    );
    let device = Device::sandbox(root).unwrap();
    TestDevice { dir, device }
}
