//! The keychain purge against what real Macs hold besides the happy path: a user who never
//! logged in (no login keychain file), a locked login keychain, a certificate without subject,
//! label or issuer, and items of different classes sharing one label.

mod support;

use reenroll::keychain::sandbox::USER_KEYCHAIN;
use reenroll::sandbox::keychains::SHARED_LABEL;
use serde_json::Value;
use support::{Device, Sandbox};

const CAUSE6: &str = include_str!("../playbooks/cause6.toml");

/// Every item of a sandbox keychain as (class, label, account), sorted.
fn items(dev: &Device, mac: &str) -> Vec<(String, String, String)> {
    let v = plist::Value::from_file(dev.path(mac)).unwrap_or_else(|e| panic!("{mac}: {e}"));
    let mut out: Vec<_> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            let d = d.as_dictionary().unwrap();
            let s = |k: &str| {
                d.get(k)
                    .and_then(|v| v.as_string())
                    .unwrap_or("")
                    .to_string()
            };
            (s("class"), s("label"), s("account"))
        })
        .collect();
    out.sort();
    out
}

fn has(items: &[(String, String, String)], class: &str, label: &str) -> bool {
    items.iter().any(|(c, l, _)| c == class && l == label)
}

/// The cause6 playbook's keychain step alone, with its own rules.
fn purge_playbook(rules: &str) -> String {
    format!(
        r#"name = "keychain-only"
description = "one keychain purge"
[[steps]]
id = "purge-keychains"
title = "Purge the keychains"
[steps.action]
kind = "keychain-purge"
keychains = ["users"]
{rules}"#
    )
}

/// The cause6 keychain step, taken from the real file.
fn cause6_purge() -> String {
    let mut doc: toml::Table = toml::from_str(CAUSE6).unwrap();
    let step = doc["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"].as_str() == Some("purge-keychains"))
        .unwrap()
        .clone();
    doc.insert("name".into(), "cause6-keychains".into());
    doc.insert("steps".into(), toml::Value::Array(vec![step]));
    toml::to_string(&doc).unwrap()
}

fn step<'a>(plan: &'a Value, id: &str) -> &'a Value {
    plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == id)
        .unwrap_or_else(|| panic!("no step {id}"))
}

#[test]
fn a_user_who_never_logged_in_has_nothing_to_purge_and_the_run_goes_on() {
    let dev = Sandbox::new()
        .users(&["zoë", "jdoe"])
        .never_logged_in(&["jdoe"])
        .build();
    assert!(!dev.exists(&format!("/Users/jdoe/{USER_KEYCHAIN}")));

    let plan = dev.reenroll(&["plan", "--json"]).exit(0).json();
    let purge = step(&plan, "purge-keychains");
    let already = purge["already"].to_string();
    assert!(
        already.contains("nothing to purge: jdoe never logged in"),
        "{purge:#}"
    );
    assert!(purge["unseen"].as_array().unwrap().is_empty(), "{purge:#}");
    dev.reenroll(&["plan"])
        .exit(0)
        .stdout_contains("jdoe never logged in");

    // The whole cause6 run goes past the purge (to the restart) instead of waiting for jdoe.
    dev.reenroll(&["run", "--yes"]).exit(3);
    let st = dev.last_run_status();
    assert_eq!(st["paused_at_step"], "restart", "{st:#}");
    assert_eq!(dev.step_states()["purge-keychains"], "done");
    let summary = st["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "purge-keychains")
        .unwrap()["summary"]
        .to_string();
    assert!(summary.contains("jdoe never logged in"), "{summary}");
    // Nothing was created for jdoe.
    assert!(!dev.exists(&format!("/Users/jdoe/{USER_KEYCHAIN}")));
}

#[test]
fn a_locked_keychain_still_pauses_its_users_part_and_says_why() {
    let dev = Sandbox::new()
        .users(&["zoë", "jdoe"])
        .locked_keychain(&["jdoe"])
        .build();
    let kc = format!("/Users/jdoe/{USER_KEYCHAIN}");
    let before = items(&dev, &kc);

    let plan = dev.reenroll(&["plan", "--json"]).exit(0).json();
    let unseen = step(&plan, "purge-keychains")["unseen"].to_string();
    assert!(unseen.contains("jdoe's login keychain"), "{unseen}");
    assert!(unseen.contains("-25308"), "{unseen}");

    // Waited for (here: not at all), then the others are purged and jdoe is an exception.
    dev.reenroll(&["run", "--yes", "--set", "login_wait_minutes=0"])
        .exit(3)
        .stdout_contains("jdoe's login keychain");
    let st = dev.last_run_status();
    assert_eq!(st["paused_at_step"], "restart", "{st:#}");
    let exceptions = st["exceptions"].to_string();
    assert!(exceptions.contains("jdoe's login keychain"), "{st:#}");
    assert!(exceptions.contains("locked"), "{st:#}");
    assert!(
        exceptions.contains("sudo reenroll run reregister"),
        "{st:#}"
    );
    assert!(!exceptions.contains("never logged in"), "{st:#}");
    assert_eq!(items(&dev, &kc), before, "a locked keychain was touched");
}

/// A purge step without `wait_for_user_minutes` still pauses for a locked keychain.
#[test]
fn without_a_wait_a_locked_keychain_pauses_its_users_part() {
    let dev = Sandbox::new()
        .users(&["zoë", "jdoe"])
        .locked_keychain(&["jdoe"])
        .build();
    let pb = dev.playbook("keychain-only", &purge_playbook(""));
    dev.reenroll(&["run", &pb, "--yes"]).exit(3);
    let st = dev.last_run_status();
    assert_eq!(st["paused_at_step"], "purge-keychains", "{st:#}");
    let paused = st["paused"].as_str().unwrap();
    assert!(paused.contains("jdoe's login keychain"), "{paused}");
    assert!(paused.contains("locked"), "{paused}");
}

#[test]
fn each_class_is_judged_by_its_own_rule_when_labels_are_shared() {
    let dev = Sandbox::new().users(&["zoë"]).keychain_edge_cases().build();
    let kc = format!("/Users/zoë/{USER_KEYCHAIN}");
    let before = items(&dev, &kc);
    assert!(has(&before, "generic-password", "JAMF") && has(&before, "private-key", "JAMF"));
    assert!(has(&before, "generic-password", SHARED_LABEL));
    assert!(has(&before, "private-key", SHARED_LABEL));

    // cause6: "everything that refers to JAMF" goes, but its keep-rule spares only the keys.
    let cause6 = dev.playbook("cause6-keychains", &cause6_purge());
    dev.reenroll(&["run", &cause6, "--yes"]).exit(0);
    let after = items(&dev, &kc);
    assert!(!has(&after, "generic-password", "JAMF"), "{after:?}");
    assert!(has(&after, "private-key", "JAMF") && has(&after, "public-key", "JAMF"));
    // Nothing in cause6 refers to the shared label or to the unnamed certificate.
    assert!(has(&after, "generic-password", SHARED_LABEL));
    assert!(has(&after, "private-key", SHARED_LABEL));
    assert!(has(&after, "certificate", ""), "{after:?}");

    // A keep-rule for the password does not spare the key...
    let keep_password = dev.playbook(
        "keep-password",
        &purge_playbook(&format!(
            r#"[[steps.action.remove]]
name = "shared"
label = {{ equals = "{SHARED_LABEL}" }}
[[steps.action.keep]]
name = "the VPN password"
class = ["generic-password"]
label = {{ equals = "{SHARED_LABEL}" }}
"#
        )),
    );
    let copy = dev.copy();
    let kc_copy = items(&copy, &kc);
    dev.reenroll(&["run", &keep_password, "--yes"]).exit(0);
    let after = items(&dev, &kc);
    assert!(has(&after, "generic-password", SHARED_LABEL), "{after:?}");
    assert!(!has(&after, "private-key", SHARED_LABEL), "{after:?}");

    // ...and a keep-rule for keys does not spare the password.
    let keep_key = copy.playbook(
        "keep-key",
        &purge_playbook(&format!(
            r#"[[steps.action.remove]]
name = "shared"
label = {{ equals = "{SHARED_LABEL}" }}
[[steps.action.keep]]
name = "the VPN key"
class = ["private-key"]
label = {{ equals = "{SHARED_LABEL}" }}
"#
        )),
    );
    copy.reenroll(&["run", &keep_key, "--yes"]).exit(0);
    let after = items(&copy, &kc);
    assert!(!has(&after, "generic-password", SHARED_LABEL), "{after:?}");
    assert!(has(&after, "private-key", SHARED_LABEL), "{after:?}");
    assert_eq!(after.len(), kc_copy.len() - 1);
}

#[test]
fn a_certificate_without_subject_label_or_issuer_flows_through_plan_purge_and_rollback() {
    let dev = Sandbox::new().users(&["zoë"]).keychain_edge_cases().build();
    let kc = format!("/Users/zoë/{USER_KEYCHAIN}");
    let unnamed = |items: &[(String, String, String)]| {
        items
            .iter()
            .filter(|(c, l, a)| c == "certificate" && l.is_empty() && a.is_empty())
            .count()
    };
    // The sandbox keychain holds it with no subject and no issuer at all.
    let raw = plist::Value::from_file(dev.path(&kc)).unwrap();
    let cert = raw
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_dictionary().unwrap())
        .find(|d| {
            d.get("class").and_then(|c| c.as_string()) == Some("certificate")
                && d.get("label").is_none()
        })
        .expect("the unnamed certificate");
    assert!(cert.get("subject").is_none() && cert.get("issuer").is_none());
    assert_eq!(unnamed(&items(&dev, &kc)), 1);

    // A subject rule never matches it; a class rule does.
    let by_subject = dev.playbook(
        "by-subject",
        &purge_playbook(
            r#"[[steps.action.remove]]
name = "empty subjects"
class = ["certificate"]
subject = { contains = "" }
[[steps.action.remove]]
name = "SCEP subjects"
subject = { contains = "scep" }
"#,
        ),
    );
    let plan = dev
        .reenroll(&["plan", &by_subject, "--json"])
        .exit(0)
        .json();
    assert!(
        step(&plan, "purge-keychains")["changes"]
            .as_array()
            .unwrap()
            .is_empty(),
        "{plan:#}"
    );

    let all_certs = dev.playbook(
        "all-certificates",
        &purge_playbook(
            r#"[[steps.action.remove]]
name = "every certificate"
class = ["certificate"]
"#,
        ),
    );
    let plan = dev.reenroll(&["plan", &all_certs, "--json"]).exit(0).json();
    let targets = step(&plan, "purge-keychains")["changes"].to_string();
    assert!(
        targets.contains(r#"certificate \"(unnamed)\" in zoë's login keychain"#),
        "{targets}"
    );
    let run = dev.reenroll(&["run", &all_certs, "--yes"]).exit(0).run_id();
    assert_eq!(unnamed(&items(&dev, &kc)), 0);
    assert!(!items(&dev, &kc).iter().any(|(c, _, _)| c == "certificate"));

    // Exported before the delete (through the helper's pipe) and put back by rollback.
    dev.reenroll(&["rollback", &run, "--yes"]).exit(0);
    assert_eq!(unnamed(&items(&dev, &kc)), 1);
    let back = plist::Value::from_file(dev.path(&kc)).unwrap();
    let data = back
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_dictionary().unwrap())
        .find(|d| {
            d.get("class").and_then(|c| c.as_string()) == Some("certificate")
                && d.get("label").is_none()
        })
        .and_then(|d| d.get("data"))
        .and_then(|d| d.as_data())
        .unwrap()
        .to_vec();
    assert_eq!(
        data,
        reenroll::sandbox::keychains::SCEP_CERTIFICATE_DER.to_vec()
    );
}

#[test]
fn plan_and_status_say_what_the_purge_cannot_see() {
    let dev = Sandbox::new().users(&["zoë"]).build();
    dev.reenroll(&["plan"])
        .exit(0)
        .stdout_contains("data-protection keychain");
    let plan = dev.reenroll(&["plan", "--json"]).exit(0).json();
    let notes = step(&plan, "purge-keychains")["notes"].to_string();
    assert!(notes.contains("data-protection keychain"), "{notes}");
    // Once, on the keychain step only.
    assert_eq!(
        plan.to_string().matches("data-protection keychain").count(),
        1
    );

    let only = dev.playbook("cause6-keychains", &cause6_purge());
    dev.reenroll(&["run", &only, "--yes"]).exit(0);
    dev.reenroll(&["status"])
        .exit(0)
        .stdout_contains("data-protection keychain");
    assert!(dev.last_run_status()["notes"]
        .to_string()
        .contains("data-protection keychain"));

    // A playbook without a keychain purge says nothing about it.
    let files = dev.playbook(
        "files-only",
        r#"name = "files-only"
description = "no keychain step"
[[steps]]
id = "remove-a-file"
title = "Remove a file"
[steps.action]
kind = "remove"
paths = ["/Users/zoë/Library/Preferences/notes.plist"]
"#,
    );
    dev.reenroll(&["run", &files, "--yes"]).exit(0);
    assert!(dev.last_run_status().get("notes").is_none());
}

/// The account of the two copies every sandbox user's keychain holds (different data).
const STAMP: &str = "com.microsoft.workplacejoin.devicePatchAttemptTimestamp";
const STAMP_DATA: [&str; 2] = ["1709543700", "1712221800"];

/// Only the two copies of `STAMP`: copy 1 is change #0, copy 2 change #1.
fn stamps_playbook() -> String {
    purge_playbook(&format!(
        r#"[[steps.action.remove]]
name = "patch stamps"
account = {{ equals = "{STAMP}" }}
"#
    ))
}

/// The data of every `STAMP` copy in zoë's keychain, sorted.
fn stamps(dev: &Device) -> Vec<String> {
    let kc = format!("/Users/zoë/{USER_KEYCHAIN}");
    let v = plist::Value::from_file(dev.path(&kc)).unwrap_or_else(|e| panic!("{kc}: {e}"));
    let mut out: Vec<String> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_dictionary().unwrap())
        .filter(|d| d.get("account").and_then(|a| a.as_string()) == Some(STAMP))
        .map(|d| {
            String::from_utf8(d.get("data").and_then(|x| x.as_data()).unwrap().to_vec()).unwrap()
        })
        .collect();
    out.sort();
    out
}

#[test]
fn a_crash_between_deleting_two_copies_of_one_item_loses_neither_on_rollback() {
    // before-applied: copy 1 deleted, its intent still open; after-change: copy 1 journaled,
    // copy 2 not reached. Either way copy 2 is still there and must not stand in for copy 1.
    for point in [
        "before-applied:purge-keychains#0",
        "after-change:purge-keychains#0",
    ] {
        let dev = Sandbox::new().users(&["zoë"]).build();
        assert_eq!(stamps(&dev), STAMP_DATA, "the sandbox holds two copies");
        let pb = dev.playbook("stamps", &stamps_playbook());
        dev.reenroll(&["run", &pb, "--yes"])
            .fault(&format!("crash@{point}"))
            .killed();
        assert_eq!(stamps(&dev).len(), 1, "{point}: copy 1 was deleted");
        dev.reenroll(&["rollback", "--yes"]).exit(0);
        assert_eq!(
            stamps(&dev),
            STAMP_DATA,
            "{point}: both copies, with their data"
        );
        assert_eq!(dev.last_run_status()["state"], "rolled-back", "{point}");
        // A second rollback has nothing left to do and adds no third copy.
        dev.reenroll(&["rollback", "--yes"]).exit(4);
        assert_eq!(stamps(&dev), STAMP_DATA, "{point}");
    }
}

#[test]
fn a_resumed_purge_after_a_crash_between_copies_rolls_back_both() {
    let dev = Sandbox::new().users(&["zoë"]).build();
    let pb = dev.playbook("stamps", &stamps_playbook());
    dev.reenroll(&["run", &pb, "--yes"])
        .fault("crash@before-applied:purge-keychains#0")
        .killed();
    dev.reenroll(&["resume"]).exit(0);
    assert!(stamps(&dev).is_empty());
    dev.reenroll(&["rollback", "--yes"]).exit(0);
    assert_eq!(stamps(&dev), STAMP_DATA);
}

#[test]
fn both_copies_deleted_are_both_restored() {
    // A complete purge, and one cut after deleting copy 2 before journaling it.
    for fault in ["", "crash@before-applied:purge-keychains#1"] {
        let dev = Sandbox::new().users(&["zoë"]).build();
        let pb = dev.playbook("stamps", &stamps_playbook());
        let run = dev.reenroll(&["run", &pb, "--yes"]).fault(fault);
        if fault.is_empty() {
            run.exit(0);
        } else {
            run.killed();
        }
        assert!(stamps(&dev).is_empty(), "{fault}");
        dev.reenroll(&["rollback", "--yes"]).exit(0);
        assert_eq!(stamps(&dev), STAMP_DATA, "{fault}");
    }
}

#[test]
fn a_locked_keychain_during_rollback_leaves_the_run_open_and_its_exports_kept() {
    let dev = Sandbox::new().users(&["zoë"]).build();
    let pb = dev.playbook("stamps", &stamps_playbook());
    let id = dev.reenroll(&["run", &pb, "--yes"]).exit(0).run_id();
    let exports = |dev: &Device| {
        std::fs::read_dir(dev.run_dir(&id).join("keychain"))
            .map(|d| d.count())
            .unwrap_or(0)
    };
    assert_eq!(exports(&dev), 2);
    // zoë logged out: her keychain is locked while the rollback runs.
    let marker = format!("/Users/zoë/{}", reenroll::keychain::sandbox::LOCKED_MARKER);
    dev.write(&marker, "");
    dev.reenroll(&["rollback", "--yes"])
        .exit(1)
        .stdout_contains("rollback incomplete: 2 items not restored");
    let st = dev.last_run_status();
    assert_eq!(st["state"], "rollback-incomplete", "{st:#}");
    assert_eq!(st["not_restored"].as_array().unwrap().len(), 2, "{st:#}");
    let ea = dev.reenroll(&["status", "--jamf-ea"]).exit(0).stdout;
    assert!(
        ea.starts_with("<result>rollback-incomplete purge-keychains "),
        "{ea}"
    );
    // purge keeps the exported items the retry needs, and says why.
    dev.reenroll(&["purge", "--older-than", "0s", "--yes"])
        .exit(0)
        .stdout_contains("rollback incomplete: 2 items not restored");
    assert_eq!(
        exports(&dev),
        2,
        "purge deleted what the rollback still needs"
    );
    // zoë logs in again: the retry puts back both copies and completes the rollback.
    dev.remove(&marker);
    dev.reenroll(&["rollback", "--yes"]).exit(0);
    assert_eq!(stamps(&dev), STAMP_DATA);
    assert_eq!(dev.last_run_status()["state"], "rolled-back");
    dev.reenroll(&["purge", "--older-than", "0s", "--yes"])
        .exit(0)
        .stdout_contains("1 run(s) purged");
    assert_eq!(exports(&dev), 0);
}

/// The article keeps "the JAMF public and private key": under any label that mentions JAMF, or
/// only their application tag. `plan` names each kept key and the rule that keeps it; the run
/// leaves them, and another vendor's keys, in place.
#[test]
fn keys_that_mention_jamf_in_their_label_or_tag_are_kept_and_plan_says_by_which_rule() {
    use reenroll::sandbox::keychains::{JAMF_KEY_LABELS, JAMF_TAGGED_KEY_LABEL, OTHER_VENDOR_KEY};
    let dev = Sandbox::new().users(&["zoë"]).keychain_edge_cases().build();
    let kc = format!("/Users/zoë/{USER_KEYCHAIN}");
    let before = items(&dev, &kc);
    let jamf_keys = [
        ("public-key", "JAMF"),
        ("private-key", "JAMF"),
        ("public-key", JAMF_KEY_LABELS[0]),
        ("private-key", JAMF_KEY_LABELS[1]),
        ("private-key", JAMF_TAGGED_KEY_LABEL),
    ];
    for (class, label) in jamf_keys {
        assert!(has(&before, class, label), "{class} {label}: {before:?}");
    }
    let cause6 = dev.playbook("cause6-keychains", &cause6_purge());

    let plan = dev.reenroll(&["plan", &cause6, "--json"]).exit(0).json();
    let purge = step(&plan, "purge-keychains");
    let kept = purge["kept"].as_array().expect("kept items listed");
    let rule = "the JAMF public and private key, and JAMF identities";
    for (class, label) in jamf_keys {
        let target = format!("{class} \"{label}\"");
        let k = kept
            .iter()
            .find(|k| k["target"].as_str().unwrap().starts_with(&target))
            .unwrap_or_else(|| panic!("{target} not shown as kept: {purge:#}"));
        assert!(
            k["target"]
                .as_str()
                .unwrap()
                .ends_with("in zoë's login keychain"),
            "{k}"
        );
        assert!(k["rule"].as_str().unwrap().starts_with(rule), "{k}");
    }
    assert_eq!(kept.len(), jamf_keys.len(), "{purge:#}");
    let changes = purge["changes"].to_string();
    assert!(!changes.contains("JAMF public key") && !changes.contains(JAMF_TAGGED_KEY_LABEL));
    assert!(!changes.contains(OTHER_VENDOR_KEY), "{changes}");
    // The human plan: one `keep` line per key, each with its rule (lines wrap at 80 columns).
    let human = dev.reenroll(&["plan", &cause6]).exit(0).stdout;
    assert!(
        human.contains(&format!(
            "keep     private-key \"{JAMF_TAGGED_KEY_LABEL}\" tag"
        )),
        "{human}"
    );
    assert_eq!(human.matches("\n    keep     ").count(), 5, "{human}");
    assert_eq!(
        human
            .matches("(kept by rule: the JAMF public and private key")
            .count(),
        5,
        "{human}"
    );

    dev.reenroll(&["run", &cause6, "--yes"]).exit(0);
    let after = items(&dev, &kc);
    for (class, label) in jamf_keys {
        assert!(
            has(&after, class, label),
            "{class} {label} was deleted: {after:?}"
        );
    }
    assert!(
        has(&after, "public-key", OTHER_VENDOR_KEY) && has(&after, "private-key", OTHER_VENDOR_KEY)
    );
    // Everything else that refers to JAMF went.
    assert!(!has(&after, "generic-password", "JAMF"), "{after:?}");
    assert!(!has(
        &after,
        "generic-password",
        "com.jamf.management.jamfAAD"
    ));
    // The tag survives the purge (the kept key is untouched, not re-added).
    let raw = plist::Value::from_file(dev.path(&kc)).unwrap();
    assert!(raw.as_array().unwrap().iter().any(|d| {
        d.as_dictionary()
            .unwrap()
            .get("application_tag")
            .and_then(|t| t.as_string())
            == Some("com.jamfsoftware.jss.signing")
    }));
}

/// Article step 8's ADFS identity preference is found without `adfs_url`: by its `/adfs/ls`
/// path on any host, or by the Workplace Join certificate it prefers. Look-alikes stay.
#[test]
fn adfs_identity_preferences_are_found_without_adfs_url_and_look_alikes_stay() {
    use reenroll::sandbox::keychains::{ADFS_PREFERENCES, LOOK_ALIKE_PREFERENCES};
    let dev = Sandbox::new().users(&["zoë"]).keychain_edge_cases().build();
    let kc = format!("/Users/zoë/{USER_KEYCHAIN}");
    let before = items(&dev, &kc);
    for (url, _) in ADFS_PREFERENCES.iter().chain(LOOK_ALIKE_PREFERENCES) {
        assert!(
            has(&before, "identity-preference", url),
            "{url}: {before:?}"
        );
    }
    // The cause6 playbook as shipped, adfs_url unset.
    let plan = dev.reenroll(&["plan", "--json"]).exit(0).json();
    assert_eq!(plan["vars"]["adfs_url"]["value"], "", "{:#}", plan["vars"]);
    let changes = step(&plan, "purge-keychains")["changes"]
        .as_array()
        .unwrap()
        .clone();
    let planned = |url: &str| {
        changes
            .iter()
            .find(|c| {
                c["target"]
                    .as_str()
                    .unwrap()
                    .starts_with(&format!("identity-preference \"{url}\""))
            })
            .map(|c| c["reason"].as_str().unwrap().to_string())
    };
    let reason = planned(ADFS_PREFERENCES[0].0).expect("the ADFS identity preference is planned");
    assert!(reason.contains("identity preferences for"), "{reason}");
    assert!(planned(ADFS_PREFERENCES[1].0).unwrap().contains("/adfs/ls"));
    assert!(planned(ADFS_PREFERENCES[2].0)
        .unwrap()
        .contains("MS-Organization-Access"));
    for (url, _) in LOOK_ALIKE_PREFERENCES {
        assert_eq!(planned(url), None, "{url}");
    }
    dev.reenroll(&["plan"])
        .exit(0)
        .stdout_contains("identity-preference \"https://adfs.contoso.com/adfs/ls/\"");

    let cause6 = dev.playbook("cause6-keychains", &cause6_purge());
    dev.reenroll(&["run", &cause6, "--yes"]).exit(0);
    let after = items(&dev, &kc);
    for (url, _) in ADFS_PREFERENCES {
        assert!(!has(&after, "identity-preference", url), "{url}: {after:?}");
    }
    for (url, _) in LOOK_ALIKE_PREFERENCES {
        assert!(has(&after, "identity-preference", url), "{url}: {after:?}");
    }
}

#[test]
fn playbooks_show_cause6_shows_the_keep_and_find_rules() {
    let dev = Sandbox::new().users(&["zoë"]).build();
    let shown = dev
        .reenroll(&["playbooks", "show", "cause6"])
        .exit(0)
        .stdout;
    for rule in [
        "[[steps.action.keep]]",
        "class = [\"public-key\", \"private-key\", \"certificate\"]\nany = { contains = \"jamf\" }",
        "class = [\"identity-preference\"]\nidentity_issuer = { contains = \"ms-organization-access\" }",
        "class = [\"identity-preference\"]\nany = { url_path = \"/adfs/ls\" }",
        "label = { prefix = \"{adfs_url}\" }",
    ] {
        assert!(shown.contains(rule), "{rule}\n{shown}");
    }
}
