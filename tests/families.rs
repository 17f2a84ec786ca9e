//! Files by family (issue 12, §4): `remove` steps select every artifact of an app family by
//! bundle identifier in the Library folders, never a look-alike, never through a symlink; a
//! `verify-removed` step looks again with the same selectors and names every survivor, so such
//! a run ends "completed with exceptions" (exit 6), never 0.

mod support;

use reenroll::sandbox::{FAMILY_PATHS_SYSTEM, FAMILY_PATHS_USER, SURVIVOR_PATHS_USER};
use support::Sandbox;

const CAUSE6: &str = include_str!("../playbooks/cause6.toml");

/// The purge steps of cause6 and its verification, alone.
fn purge_and_verify() -> String {
    let mut doc: toml::Table = toml::from_str(CAUSE6).unwrap();
    let ids = [
        "purge-user-containers",
        "purge-system-files",
        "purge-user-files",
        "verify-purge",
    ];
    let kept: Vec<toml::Value> = doc["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| ids.contains(&s["id"].as_str().unwrap()))
        .cloned()
        .collect();
    assert_eq!(kept.len(), ids.len());
    doc.insert("name".into(), "purge-verify".into());
    doc.insert("steps".into(), toml::Value::Array(kept));
    toml::to_string(&doc).unwrap()
}

#[test]
fn families_take_every_artifact_of_the_family_and_no_look_alike_and_verify_finds_none_left() {
    let dev = Sandbox::new().users(&["zoë"]).build();
    let pb = dev.playbook("purge-verify", &purge_and_verify());
    let plan = dev.reenroll(&["plan", "--json", &pb]).exit(0).json();
    let text = plan.to_string();
    for p in FAMILY_PATHS_SYSTEM {
        assert!(text.contains(p), "plan does not show {p}");
    }
    for rel in FAMILY_PATHS_USER {
        assert!(
            text.contains(&format!("/Users/zoë/{rel}")),
            "plan does not show {rel}"
        );
    }
    assert!(text.contains("family Company Portal"), "{text}");
    dev.reenroll(&["run", &pb, "--yes"])
        .exit(0)
        .stdout_contains("nothing the purge steps select is left on the device");
    for p in FAMILY_PATHS_SYSTEM {
        assert!(!dev.exists(p), "{p} survived");
    }
    for (_, home) in dev.users() {
        for rel in FAMILY_PATHS_USER {
            assert!(
                !dev.exists(&format!("{home}/{rel}")),
                "{home}/{rel} survived"
            );
        }
        for rel in SURVIVOR_PATHS_USER {
            assert!(
                dev.exists(&format!("{home}/{rel}")),
                "{home}/{rel} was removed"
            );
        }
    }
    // Everything a family took comes back.
    dev.reenroll(&["rollback", "--yes"]).exit(0);
    for p in FAMILY_PATHS_SYSTEM {
        assert!(dev.exists(p), "{p} was not restored");
    }
}

const PREFS_ONLY: &str = r#"name = "prefs"
description = "d"

[[steps]]
id = "purge-prefs"
title = "Remove the Company Portal family from alice's Preferences"
[steps.action]
kind = "remove"
[[steps.action.families]]
name = "Company Portal"
ids = ["com.microsoft.CompanyPortalMac"]
libraries = ["{home}/Library"]
folders = ["Preferences"]

[[steps]]
id = "verify"
title = "Look again"
[steps.action]
kind = "verify-removed"
steps = ["purge-prefs"]
paths = ["/Library/Preferences/com.microsoft.CompanyPortalMac.plist"]
[[steps.action.families]]
name = "Company Portal in ByHost"
ids = ["com.microsoft.CompanyPortalMac"]
libraries = ["{home}/Library"]
folders = ["Preferences/ByHost"]
"#;

#[test]
fn survivors_are_named_as_exceptions_and_the_run_ends_exit_6() {
    let dev = Sandbox::new().build();
    let pb = dev.playbook("prefs", PREFS_ONLY);
    let run = dev.reenroll(&["run", &pb, "--yes"]).exit(6);
    // The system preference and every user's ByHost file were not the step's to take.
    run.stdout_contains("survivor(s) of the purge");
    let st = dev.last_run_status();
    let exceptions = st.to_string();
    assert!(
        exceptions.contains("/Library/Preferences/com.microsoft.CompanyPortalMac.plist"),
        "{st:#}"
    );
    assert!(
        exceptions.contains("Preferences/ByHost/com.microsoft.CompanyPortalMac."),
        "{st:#}"
    );
    assert!(
        exceptions.contains("still present after the purge"),
        "{st:#}"
    );
    // What the step did select is gone.
    for (_, home) in dev.users() {
        assert!(!dev.exists(&format!(
            "{home}/Library/Preferences/com.microsoft.CompanyPortalMac.plist"
        )));
    }
}

#[test]
fn a_symlinked_library_folder_is_never_searched_through() {
    let dev = Sandbox::new().build();
    let (_, home) = dev.users()[0].clone();
    // alice's Caches is a link to a folder outside the device holding a family member.
    let outside = dev.outside().join("elsewhere");
    std::fs::create_dir_all(outside.join("com.jamf.management.jamfAAD")).unwrap();
    let caches = dev.path(&format!("{home}/Library/Caches"));
    std::fs::remove_dir_all(&caches).unwrap();
    std::os::unix::fs::symlink(&outside, &caches).unwrap();
    let pb = dev.playbook(
        "caches",
        r#"name = "caches"
description = "d"
[[steps]]
id = "purge-caches"
title = "Remove jamfAAD caches"
[steps.action]
kind = "remove"
[[steps.action.families]]
name = "jamfAAD"
ids = ["com.jamf.management.jamfAAD"]
libraries = ["{home}/Library"]
folders = ["Caches"]
"#,
    );
    dev.reenroll(&["run", &pb, "--yes"])
        .exit(6)
        .stdout_contains("is a symlink");
    assert!(outside.join("com.jamf.management.jamfAAD").exists());
}

#[test]
fn families_and_verify_steps_are_validated_at_file_line_column() {
    let dev = Sandbox::new().build();
    let family = |ids: &str, folders: &str| {
        format!(
            "name = \"f\"\ndescription = \"d\"\n[[steps]]\nid = \"one\"\ntitle = \"t\"\n[steps.action]\nkind = \"remove\"\n[[steps.action.families]]\nname = \"Fam\"\nids = {ids}\nfolders = {folders}\n"
        )
    };
    for (toml, says) in [
        (
            family("[\"com.microsoft.CompanyPortalMac\"]", "[\"Keychains\"]"),
            "Keychains",
        ),
        (family("[\"*\"]", "[]"), "not a bundle identifier"),
        (family("[]", "[]"), "names no bundle identifier"),
        (
            family("[\"com.microsoft.CompanyPortalMac\"]", "[\"../Keychains\"]"),
            "inside a Library",
        ),
        (
            family("[\"com.apple.something\"]", "[\"LaunchAgents\"]"),
            "outside the allowed roots",
        ),
    ] {
        let pb = dev.playbook("f", &toml);
        dev.reenroll(&["plan", &pb])
            .exit(2)
            .stderr_contains(&format!("{pb}:"))
            .stderr_contains(says);
    }
    let verify = |steps: &str| {
        format!(
            "name = \"v\"\ndescription = \"d\"\n[[steps]]\nid = \"facts\"\ntitle = \"t\"\n[steps.action]\nkind = \"facts\"\n[[steps]]\nid = \"check\"\ntitle = \"t\"\n[steps.action]\nkind = \"verify-removed\"\nsteps = {steps}\n"
        )
    };
    for (steps, says) in [
        ("[\"facts\"]", "is not a `remove` step"),
        ("[\"later\"]", "no earlier step `later`"),
        ("[]", "names no `steps`"),
    ] {
        let pb = dev.playbook("v", &verify(steps));
        dev.reenroll(&["plan", &pb]).exit(2).stderr_contains(says);
    }
    // `playbooks show` shows the selectors: they are data in the playbook.
    dev.reenroll(&["playbooks", "show", "cause6"])
        .exit(0)
        .stdout_contains("[[steps.action.families]]")
        .stdout_contains("kind = \"verify-removed\"");
}
