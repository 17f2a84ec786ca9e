//! The complete Cause 6 playbook (issue 3) on sandbox devices, as an admin would live it: run to
//! the restart, the restart resuming it, the server steps confirmed, re-enrollment; what is gone,
//! what survives, a re-run, rollback; and the variants (non-removable MDM profile, Jamf Pro
//! offline, a locked keychain, Platform SSO).

mod support;

use std::collections::BTreeMap;

use reenroll::action::reboot::DAEMON_PLIST;
use reenroll::keychain::sandbox::{LOCKED_MARKER, SYSTEM_KEYCHAIN, USER_KEYCHAIN};
use reenroll::sandbox::keychains::{SURVIVOR_LABELS_SYSTEM, SURVIVOR_LABELS_USER};
use reenroll::sandbox::{
    FAMILY_PATHS_SYSTEM, FAMILY_PATHS_USER, PURGE_PATHS_SYSTEM, PURGE_PATHS_USER,
    SURVIVOR_PATHS_SYSTEM, SURVIVOR_PATHS_USER,
};
use support::{Device, Sandbox};

const CAUSE6: &str = include_str!("../playbooks/cause6.toml");
const USERS: &[&str] = &["zoë", "jdoe:/Users/Shared/homes/jdoe"];
const SERVER_STEPS: &[&str] = &[
    "delete-jamf-record",
    "delete-entra-device",
    "delete-intune-records",
];
/// Uninstalled by step 10: it survives the file purges, not the whole sequence.
const APP: &str = "/Applications/Company Portal.app";

/// One keychain item, every attribute as text (data as hex), so lists compare as multisets.
type Item = BTreeMap<String, String>;

fn keychain(dev: &Device, mac: &str) -> Vec<Item> {
    let p = dev.path(mac);
    if !p.exists() {
        return Vec::new();
    }
    let v = plist::Value::from_file(&p).unwrap_or_else(|e| panic!("{mac}: {e}"));
    let mut items: Vec<Item> = v
        .as_array()
        .expect("a sandbox keychain is an array")
        .iter()
        .map(|d| {
            d.as_dictionary()
                .unwrap()
                .iter()
                .map(|(k, v)| {
                    let text = match v {
                        plist::Value::Data(b) => b.iter().map(|x| format!("{x:02x}")).collect(),
                        plist::Value::String(s) => s.clone(),
                        other => format!("{other:?}"),
                    };
                    (k.clone(), text)
                })
                .collect()
        })
        .collect();
    items.sort();
    items
}

/// Every keychain of the device: the System one and each user's login keychain.
fn keychains(dev: &Device) -> BTreeMap<String, Vec<Item>> {
    let mut all = BTreeMap::new();
    all.insert(SYSTEM_KEYCHAIN.to_string(), keychain(dev, SYSTEM_KEYCHAIN));
    for (_, home) in dev.users() {
        let mac = format!("{home}/{USER_KEYCHAIN}");
        all.insert(mac.clone(), keychain(dev, &mac));
    }
    all
}

fn label(i: &Item) -> &str {
    i.get("label").map(String::as_str).unwrap_or("")
}

fn extractable(i: &Item) -> bool {
    i.get("extractable").is_none_or(|v| v.contains("true"))
}

/// Index of the first command-log line containing `needle`.
fn first(log: &[String], needle: &str) -> usize {
    log.iter()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("the fakes never saw `{needle}`:\n{}", log.join("\n")))
}

/// A playbook of only the cause6 steps named, taken from the real file.
fn cause6_subset(ids: &[&str]) -> String {
    let mut doc: toml::Table = toml::from_str(CAUSE6).unwrap();
    let steps = doc["steps"].as_array().unwrap().clone();
    let kept: Vec<toml::Value> = steps
        .into_iter()
        .filter(|s| ids.contains(&s["id"].as_str().unwrap()))
        .collect();
    assert_eq!(kept.len(), ids.len(), "cause6 lacks one of {ids:?}");
    doc.insert("name".into(), "cause6-subset".into());
    doc.insert("steps".into(), toml::Value::Array(kept));
    toml::to_string(&doc).unwrap()
}

#[test]
fn the_whole_sequence_on_two_users_with_unusual_names() {
    let dev = Sandbox::new().users(USERS).build();
    let users = dev.users();
    assert_eq!(users[1].1, "/Users/Shared/homes/jdoe");
    let before = dev.tree_hash();
    let keychains_before = keychains(&dev);
    let plan = dev.reenroll(&["plan", "--json"]).exit(0).json();
    let removals: Vec<String> = plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["changes"].as_array().unwrap())
        .filter(|c| c["op"] == "remove")
        .map(|c| c["target"].as_str().unwrap().to_string())
        .collect();
    assert!(removals.iter().any(|r| r.starts_with("/Users/zoë/")));
    assert!(removals
        .iter()
        .any(|r| r.starts_with("/Users/Shared/homes/jdoe/")));

    // The run goes as far as the restart and pauses there, a LaunchDaemon ready to resume it.
    let run = dev
        .reenroll(&["run", "--yes", "--set", "intune_settle_minutes=0"])
        .exit(3);
    run.stdout_contains("restart");
    let id = run.run_id();
    assert!(
        dev.exists(DAEMON_PLIST),
        "no LaunchDaemon after the restart was scheduled"
    );
    let st = dev.last_run_status();
    assert_eq!(st["state"], "paused");
    assert_eq!(st["paused_at_step"], "restart");

    // The restart: the daemon resumes the run, which then blocks on the server steps.
    dev.boot().exit(0).stdout_contains("com.github.reenroll");
    let st = dev.last_run_status();
    assert_eq!(st["state"], "paused", "{st:#}");
    assert_eq!(st["paused_at_step"], "wait-for-server-cleanup");
    let states = dev.step_states();
    for s in [
        "restart",
        "uninstall-company-portal",
        "forget-company-portal-receipt",
    ] {
        assert_eq!(states[s], "done", "{states:?}");
    }
    assert_eq!(states["reenroll-web"], "pending");
    // The operator instructions name what the admin needs.
    let status = dev.reenroll(&["status"]).exit(0);
    status
        .stdout_contains(&dev.serial())
        .stdout_contains("Zoë's MacBook Pro");

    // Two of three confirmations are not enough.
    dev.reenroll(&[
        "resume",
        "--confirm",
        SERVER_STEPS[0],
        "--confirm",
        SERVER_STEPS[1],
    ])
    .exit(3)
    .stdout_contains(SERVER_STEPS[2]);
    dev.reenroll(&[
        "resume",
        "--confirm",
        SERVER_STEPS[2],
        "--confirm",
        "check-filevault-escrow",
        "--confirm",
        "run-registration-policy",
    ])
    .exit(0);
    let st = dev.last_run_status();
    assert_eq!(st["state"], "completed", "{st:#}");
    // Journal, keychain exports and all: root-only.
    dev.assert_private_state();
    assert_eq!(st["id"], id.as_str());

    // Every program, in the documented order.
    let log = dev.command_log();
    let order = [
        "jamf removeMdmProfile",
        "jamf removeFramework",
        "/sbin/shutdown -r",
        "pkgutil --forget com.microsoft.CompanyPortalMac",
        "/usr/bin/open https://example.jamfcloud.com/enroll",
    ];
    let at: Vec<usize> = order.iter().map(|n| first(&log, n)).collect();
    assert!(
        at.windows(2).all(|w| w[0] < w[1]),
        "{order:?} came at {at:?}"
    );
    assert!(
        first(&log, "sysctl -n kern.bootsessionuuid") < at[2],
        "the boot session is recorded before the restart"
    );

    // Every artifact is gone, everything else is still there.
    for p in PURGE_PATHS_SYSTEM.iter().chain(FAMILY_PATHS_SYSTEM) {
        assert!(!dev.exists(p), "{p} survived");
    }
    for (_, home) in &users {
        for p in PURGE_PATHS_USER.iter().chain(FAMILY_PATHS_USER) {
            assert!(!dev.exists(&format!("{home}/{p}")), "{home}/{p} survived");
        }
        for p in SURVIVOR_PATHS_USER {
            assert!(dev.exists(&format!("{home}/{p}")), "{home}/{p} was removed");
        }
    }
    for p in SURVIVOR_PATHS_SYSTEM.iter().filter(|p| **p != APP) {
        assert!(dev.exists(p), "{p} was removed");
    }
    assert!(!dev.exists(APP));
    assert!(
        !dev.exists("/var/db/receipts/com.microsoft.CompanyPortalMac.plist"),
        "the receipt was not forgotten"
    );
    // Re-enrolled: the framework is back.
    assert!(dev.exists("/usr/local/jamf/bin/jamf"));
    // The LaunchDaemon removed itself.
    assert!(!dev.exists(DAEMON_PLIST));
    assert!(!dev.exists("/var/db/sandbox/launchd/system/com.github.reenroll"));

    // Keychains: only the survivors are left.
    let keychains_after = keychains(&dev);
    for (mac, items) in &keychains_after {
        let survivors = if mac == SYSTEM_KEYCHAIN {
            SURVIVOR_LABELS_SYSTEM
        } else {
            SURVIVOR_LABELS_USER
        };
        for i in items {
            assert!(survivors.contains(&label(i)), "{mac} still holds {i:?}");
        }
        for s in survivors {
            assert!(
                items.iter().any(|i| label(i) == *s),
                "{mac} lost the survivor {s}"
            );
        }
        if mac != SYSTEM_KEYCHAIN {
            let jamf: Vec<_> = items.iter().filter(|i| label(i) == "JAMF").collect();
            assert_eq!(
                jamf.len(),
                2,
                "the JAMF public and private keys stay: {jamf:?}"
            );
        }
    }

    // A re-run of the purge steps finds nothing to do and changes nothing.
    let purges = dev.playbook(
        "purges",
        &cause6_subset(&[
            "purge-system-files",
            "purge-user-files",
            "purge-keychains",
            "uninstall-company-portal",
        ]),
    );
    let clean = dev.tree_hash();
    let rerun = dev.reenroll(&["run", &purges, "--yes"]).exit(0).run_id();
    clean.assert_same(&dev.tree_hash(), "a re-run of the purge steps");
    assert!(dev.journal(&rerun).iter().all(|r| r["type"] != "applied"));
    assert!(dev.step_states().values().all(|s| s == "skipped"));

    // Rollback of the Cause 6 run: files, the app and extractable keychain items come back.
    let rb = dev
        .reenroll(&["rollback", &id, "--yes", "--even-after-reregistration"])
        .exit(0);
    rb.stdout_contains("cannot be undone")
        .stdout_contains("private-key");
    let after = dev.tree_hash();
    for t in &removals {
        before
            .subtree(t)
            .assert_same(&after.subtree(t), &format!("rollback of {t}"));
    }
    assert!(dev.exists(APP));
    let keychains_back = keychains(&dev);
    for (mac, was) in &keychains_before {
        // What could not be exported (private keys) and was deleted stays deleted.
        let expected: Vec<Item> = was
            .iter()
            .filter(|i| extractable(i) || keychains_after[mac].contains(i))
            .cloned()
            .collect();
        assert_eq!(&keychains_back[mac], &expected, "{mac} after rollback");
        assert!(was.len() > expected.len() || mac == SYSTEM_KEYCHAIN);
    }
    assert!(!dev.exists(DAEMON_PLIST));
}

#[test]
fn a_non_removable_mdm_profile_pauses_for_the_operator() {
    let dev = Sandbox::new().mdm_removal_disallowed().build();
    // Locked keychains (not waited for) make the purge end with exceptions; this test is about
    // what comes before.
    for (_, home) in dev.users() {
        dev.write(&format!("{home}/{LOCKED_MARKER}"), "");
    }
    let run = dev
        .reenroll(&["run", "--yes", "--set", "login_wait_minutes=0"])
        .exit(3);
    // `jamf removeMdmProfile` ran (best effort); without Jamf Pro API credentials the next step
    // asks an operator to send Remove MDM Profile from the server.
    run.stdout_contains(&dev.serial())
        .stdout_contains("Remove MDM Profile")
        .stdout_contains("--confirm unmanage-via-jamf-api");
    let st = dev.last_run_status();
    assert_eq!(st["paused_at_step"], "unmanage-via-jamf-api");
    assert_eq!(dev.step_states()["remove-framework"], "pending");
    // Still there: a plain resume waits again.
    dev.reenroll(&["resume"]).exit(3);
    assert_eq!(
        dev.last_run_status()["paused_at_step"],
        "unmanage-via-jamf-api"
    );

    dev.reenroll(&["resume", "--confirm", "unmanage-via-jamf-api"])
        .exit(3);
    let states = dev.step_states();
    assert_eq!(states["unmanage-via-jamf-api"], "done", "{states:?}");
    assert_eq!(states["remove-framework"], "done", "{states:?}");
    assert_eq!(states["purge-keychains"], "done", "{states:?}");
    assert_eq!(dev.last_run_status()["paused_at_step"], "restart");
}

#[test]
fn jamf_pro_offline_stops_before_any_change_unless_forced() {
    let dev = Sandbox::new().jss_offline().build();
    for (_, home) in dev.users() {
        dev.write(&format!("{home}/{LOCKED_MARKER}"), "");
    }
    let before = dev.tree_hash();
    dev.reenroll(&["run", "--yes", "--set", "login_wait_minutes=0"])
        .exit(1)
        .says("does not answer")
        .says("--force");
    before.assert_same(&dev.tree_hash(), "Jamf Pro offline");
    assert_eq!(dev.last_run_status()["state"], "failed");
    assert!(!dev
        .command_log()
        .iter()
        .any(|l| l.contains("removeMdmProfile")));
    dev.reenroll(&["resume"]).exit(1);
    before.assert_same(&dev.tree_hash(), "Jamf Pro still offline");

    dev.reenroll(&["resume", "--force"]).exit(3);
    let states = dev.step_states();
    assert_eq!(states["preflight"], "done");
    assert_eq!(states["remove-mdm-profile"], "done", "{states:?}");
    assert!(dev
        .command_log()
        .iter()
        .any(|l| l.contains("removeMdmProfile")));
}

/// A locked login keychain (a user without a session) is waited for, up to
/// `login_wait_minutes`, retried every 15 s; the other users are purged meanwhile.
#[test]
fn a_locked_keychain_is_waited_for_and_purged_once_it_unlocks() {
    let dev = Sandbox::new().users(USERS).build();
    let users = dev.users();
    let (jdoe, jdoe_home) = &users[1];
    let jdoe_kc = format!("{jdoe_home}/{USER_KEYCHAIN}");
    let zoe_kc = format!("{}/{USER_KEYCHAIN}", users[0].1);
    let marker = format!("{jdoe_home}/{LOCKED_MARKER}");
    dev.write(&marker, "");
    let jdoe_before = keychain(&dev, &jdoe_kc);

    let mut child = dev
        .reenroll(&["run", "--yes", "--set", "login_wait_minutes=5"])
        .spawn();
    // Wait for the purge to have tried jdoe's keychain once (a condition, bounded), then unlock
    // it as jdoe logging in would: the next retry purges it.
    let tried = |dev: &Device| {
        dev.command_log()
            .iter()
            .any(|l| l.contains("keychain-helper") && l.contains(&format!("--user {jdoe}")))
    };
    let mut waited = 0;
    while !tried(&dev) {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before trying jdoe's keychain"
        );
        assert!(waited < 1200, "the purge never tried jdoe's keychain");
        std::thread::sleep(std::time::Duration::from_millis(100));
        waited += 1;
    }
    assert!(
        child.try_wait().unwrap().is_none(),
        "the run did not wait for jdoe"
    );
    assert_eq!(
        keychain(&dev, &jdoe_kc),
        jdoe_before,
        "a locked keychain was touched"
    );
    dev.remove(&marker);
    let out = child.wait_with_output().expect("waiting for the run");
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let st = dev.last_run_status();
    assert_eq!(st["paused_at_step"], "restart", "{st:#}");
    assert_eq!(dev.step_states()["purge-keychains"], "done");
    assert!(st["exceptions"].as_array().unwrap().is_empty(), "{st:#}");
    for kc in [&jdoe_kc, &zoe_kc] {
        let left = keychain(&dev, kc);
        assert!(
            left.iter()
                .all(|i| SURVIVOR_LABELS_USER.contains(&label(i))),
            "{kc}: {left:?}"
        );
    }
}

/// Nobody unlocks it: after the wait the others are done and the user is an exception (exit 6)
/// naming how to finish later.
#[test]
fn a_keychain_that_stays_locked_is_an_exception_after_the_wait() {
    let dev = Sandbox::new().users(USERS).build();
    let users = dev.users();
    let (jdoe, jdoe_home) = &users[1];
    let jdoe_kc = format!("{jdoe_home}/{USER_KEYCHAIN}");
    dev.write(&format!("{jdoe_home}/{LOCKED_MARKER}"), "");
    let jdoe_before = keychain(&dev, &jdoe_kc);
    dev.reenroll(&["run", "--yes", "--set", "login_wait_minutes=0"])
        .exit(3)
        .stdout_contains(&format!("{jdoe}'s login keychain"));
    let st = dev.last_run_status();
    assert_eq!(st["paused_at_step"], "restart", "{st:#}");
    let ex = st["exceptions"].to_string();
    assert!(ex.contains(&format!("{jdoe}'s login keychain")), "{st:#}");
    assert!(ex.contains("sudo reenroll run reregister"), "{st:#}");
    assert_eq!(keychain(&dev, &jdoe_kc), jdoe_before);
}

#[test]
fn a_platform_sso_mac_gets_the_operator_step() {
    let dev = Sandbox::new().psso().build();
    let plan = dev.reenroll(&["plan", "--json"]).exit(0).json();
    let step = plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "remove-psso-registration")
        .unwrap();
    assert!(step.get("not_applicable").is_none(), "{step:#}");
    assert_eq!(step["changes"][0]["op"], "operator");
    assert!(step["changes"][0]["target"]
        .as_str()
        .unwrap()
        .contains("Company Portal"));
    dev.reenroll(&["plan"])
        .exit(0)
        .stdout_contains("cannot unregister");

    let before = dev.tree_hash();
    dev.reenroll(&["run", "--yes"])
        .exit(3)
        .stdout_contains("--confirm remove-psso-registration");
    assert_eq!(
        dev.last_run_status()["paused_at_step"],
        "remove-psso-registration"
    );
    before.assert_same(&dev.tree_hash(), "paused before the first change");
}

#[test]
fn the_playbook_removes_every_purge_path() {
    let doc: toml::Table = toml::from_str(CAUSE6).unwrap();
    let mut paths = Vec::new();
    for s in doc["steps"].as_array().unwrap() {
        if s["action"]["kind"].as_str() == Some("remove") {
            for p in s["action"]["paths"].as_array().unwrap() {
                paths.push(p.as_str().unwrap().to_string());
            }
        }
    }
    for p in PURGE_PATHS_SYSTEM {
        assert!(paths.iter().any(|x| x == p), "cause6 does not remove {p}");
    }
    for p in PURGE_PATHS_USER {
        let want = format!("{{home}}/{p}");
        assert!(paths.contains(&want), "cause6 does not remove {want}");
    }
    // The embedded playbook is this file.
    let dev = Sandbox::new().build();
    assert_eq!(
        dev.reenroll(&["playbooks", "show", "cause6"])
            .exit(0)
            .stdout,
        CAUSE6
    );
}

#[test]
fn a_crash_inside_the_keychain_purge_then_resume_or_rollback() {
    let template = Sandbox::new().users(&["zoë"]).build();
    let pb = template.playbook("keychains", &cause6_subset(&["purge-keychains"]));
    let start = keychains(&template);
    let reference = template.copy();
    let id = reference.reenroll(&["run", &pb, "--yes"]).exit(0).run_id();
    let end = keychains(&reference);
    let ns: Vec<u64> = reference
        .journal(&id)
        .iter()
        .filter(|r| r["type"] == "intent" && r["change"]["export"].is_string())
        .map(|r| r["n"].as_u64().unwrap())
        .collect();
    assert!(ns.len() > 4, "too few exported deletions to crash between");
    let n = ns[ns.len() / 2];

    // Each crash point ends differently, to keep the keychain helper calls (one process per
    // call) within the suite's budget: one is resumed, the other rolled back.
    let point = format!("after-intent:purge-keychains#{n}");
    let dev = template.copy();
    dev.reenroll(&["run", &pb, "--yes"])
        .fault(&format!("crash@{point}"))
        .killed();
    assert_ne!(
        keychains(&dev),
        start,
        "{point}: nothing was deleted before the crash"
    );
    dev.reenroll(&["resume"]).exit(0);
    assert_eq!(keychains(&dev), end, "crash at {point}, then resume");

    // Rollback straight after a crash: every extractable item is back, once.
    let point = format!("after-change:purge-keychains#{n}");
    let dev = template.copy();
    dev.reenroll(&["run", &pb, "--yes"])
        .fault(&format!("crash@{point}"))
        .killed();
    let mid = keychains(&dev);
    dev.reenroll(&["rollback", "--yes"]).exit(0);
    let back = keychains(&dev);
    for (mac, was) in &start {
        let expected: Vec<Item> = was
            .iter()
            .filter(|i| extractable(i) || mid[mac].contains(i))
            .cloned()
            .collect();
        assert_eq!(
            back[mac], expected,
            "crash at {point}, then rollback: {mac}"
        );
    }
}

/// An ADE Mac re-enrolls with `profiles renew -type enrollment`, which needs root on a Mac
/// ("Must be running as root"): it runs as root in the console user's session, `launchctl asuser
/// UID profiles renew …`, never through `sudo -u`. Run as root, the sandbox's sudo would drop to
/// the user and the fake `profiles` refuse, as macOS does.
#[test]
fn an_ade_mac_renews_its_enrollment_as_root_in_the_users_session() {
    let dev = Sandbox::new().ade().build();
    let id = dev
        .reenroll(&["run", "--yes", "--set", "intune_settle_minutes=0"])
        .exit(3)
        .run_id();
    dev.boot().exit(0);
    let mut args = vec!["resume"];
    for s in SERVER_STEPS
        .iter()
        .chain(&["check-filevault-escrow", "run-registration-policy"])
    {
        args.extend(["--confirm", s]);
    }
    dev.reenroll(&args).exit(0);
    let st = dev.last_run_status();
    assert_eq!(st["id"], id.as_str());
    assert_eq!(st["state"], "completed", "{st:#}");
    let states = dev.step_states();
    assert_eq!(states["reenroll-ade"], "done", "{states:?}");
    assert_eq!(states["reenroll-web"], "skipped", "{states:?}");
    assert!(dev.exists("/usr/local/jamf/bin/jamf"), "not re-enrolled");

    let log = dev.command_log();
    let renew = first(&log, "/bin/launchctl asuser 501 /usr/bin/profiles renew");
    assert_eq!(
        log[renew],
        "/bin/launchctl asuser 501 /usr/bin/profiles renew -type enrollment"
    );
    assert_eq!(log[renew + 1], "/usr/bin/profiles renew -type enrollment");
    assert!(
        !log.iter()
            .any(|l| l.contains("sudo") && l.contains("profiles renew")),
        "profiles renew went through sudo:\n{}",
        log.join("\n")
    );
}
