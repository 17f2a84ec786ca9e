//! Damaged journals (issue 11, section 2): a changed byte, a journal cut in the middle, a damaged
//! old run and a header that was never written. Damage is detected (each record carries a
//! checksum), never acted on (rollback refuses and says how to restore by hand), confined to its
//! run (every other command goes on), and what the quarantine holds is always accounted for.

mod support;

use support::{Device, Sandbox};

/// Two removals and the deletion of an exportable keychain item, each its own step.
const THREE_CHANGES: &str = r#"
name = "three-changes"
description = "Two removals and a keychain item."

[[steps]]
id = "prefs"
title = "Remove the preferences"
[steps.action]
kind = "remove"
paths = ["{home}/Library/Preferences/com.microsoft.CompanyPortalMac.plist"]

[[steps]]
id = "app"
title = "Remove the app"
[steps.action]
kind = "remove"
paths = ["/Applications/Company Portal.app"]

[[steps]]
id = "purge-kc"
title = "Delete the testsvc item"
[steps.action]
kind = "keychain-purge"
keychains = ["users"]
[[steps.action.remove]]
name = "testsvc"
any = { contains = "testsvc" }
"#;

const APP: &str = "/Applications/Company Portal.app";
const PREFS: &str = "/Users/alice/Library/Preferences/com.microsoft.CompanyPortalMac.plist";

/// A device with an exportable `testsvc` item in alice's keychain.
fn device() -> Device {
    let dev = Sandbox::new().build();
    let kc = dev.path("/Users/alice/Library/Keychains/sandbox-keychain.plist");
    let mut items = plist::Value::from_file(&kc).unwrap().into_array().unwrap();
    let mut d = plist::Dictionary::new();
    d.insert("class".into(), "generic-password".into());
    d.insert("account".into(), "acct".into());
    d.insert("service".into(), "testsvc".into());
    d.insert("data".into(), plist::Value::Data(b"SECRET".to_vec()));
    d.insert("extractable".into(), true.into());
    items.push(plist::Value::Dictionary(d));
    plist::Value::Array(items).to_file_xml(&kc).unwrap();
    dev
}

fn journal_path(dev: &Device, id: &str) -> std::path::PathBuf {
    dev.run_dir(id).join("journal.jsonl")
}

/// The journal's lines, each with its newline.
fn lines(dev: &Device, id: &str) -> Vec<String> {
    std::fs::read_to_string(journal_path(dev, id))
        .unwrap()
        .split_inclusive('\n')
        .map(str::to_string)
        .collect()
}

/// The 1-based number of the first line holding every needle.
fn line_of(lines: &[String], needles: &[&str]) -> usize {
    lines
        .iter()
        .position(|l| needles.iter().all(|n| l.contains(n)))
        .unwrap_or_else(|| panic!("no line holds {needles:?}"))
        + 1
}

fn write_lines(dev: &Device, id: &str, lines: &[String]) {
    std::fs::write(journal_path(dev, id), lines.concat()).unwrap();
}

#[test]
fn a_changed_byte_in_a_target_makes_rollback_refuse_instead_of_restoring_under_another_name() {
    let dev = device();
    let pb = dev.playbook("three", THREE_CHANGES);
    let id = dev.reenroll(&["run", &pb, "--yes"]).exit(0).run_id();
    assert!(!dev.exists(APP));
    let mut l = lines(&dev, &id);
    let k = line_of(&l, &["\"applied\"", "Company Portal.app"]);
    l[k - 1] = l[k - 1].replace("Company Portal.app", "Company Portel.app");
    write_lines(&dev, &id, &l);

    let r = dev.reenroll(&["rollback", "--yes"]).run();
    assert_eq!(r.code, Some(4), "rollback acted on a damaged journal\n{r}");
    r.says(&id)
        .says(&format!("line {k}"))
        .says("damaged")
        .says(&format!("runs/{id}/quarantine/"));
    assert!(
        !dev.exists("/Applications/Company Portel.app"),
        "restored under the damaged name"
    );
    assert!(!dev.exists(APP), "rollback acted on a damaged journal");
    // Nothing was appended to a journal it does not trust.
    assert_eq!(lines(&dev, &id).concat(), l.concat());
    // status shows the run as damaged, naming the line, and does not fail.
    let run = dev.last_run_status();
    assert_eq!(run["id"], id.as_str());
    assert_eq!(run["state"], "damaged");
    assert!(
        run["damage"]
            .as_str()
            .unwrap()
            .contains(&format!("line {k}")),
        "{run}"
    );
    dev.reenroll(&["status"])
        .exit(0)
        .stdout_contains("damaged")
        .stdout_contains(&format!("line {k}"));
}

#[test]
fn a_duplicated_record_is_damage() {
    let dev = device();
    let pb = dev.playbook("three", THREE_CHANGES);
    let id = dev.reenroll(&["run", &pb, "--yes"]).exit(0).run_id();
    let mut l = lines(&dev, &id);
    let k = line_of(&l, &["\"applied\"", "add-keychain-item"]);
    let dup = l[k - 1].clone();
    l.insert(k, dup);
    write_lines(&dev, &id, &l);
    dev.reenroll(&["rollback", "--yes", &id])
        .exit(4)
        .says(&format!("line {}", k + 1));
    let text = dev.read("/Users/alice/Library/Keychains/sandbox-keychain.plist");
    assert!(!text.contains("testsvc"), "an item was added back: {text}");
}

#[test]
fn a_journal_cut_in_the_middle_makes_rollback_and_status_list_what_no_record_explains() {
    let dev = device();
    let pb = dev.playbook("three", THREE_CHANGES);
    let id = dev.reenroll(&["run", &pb, "--yes"]).exit(0).run_id();
    let l = lines(&dev, &id);
    // Keep everything up to the first removal's result, and half of the next line.
    let k = line_of(&l, &["\"applied\"", "CompanyPortalMac.plist"]);
    let mut cut = l[..k].concat();
    cut.push_str(&l[k][..l[k].len() / 2]);
    std::fs::write(journal_path(&dev, &id), &cut).unwrap();
    // What the kept records do not name: the other removals (the app, bob's preferences) and
    // the keychain export.
    let mut missing: Vec<String> = std::fs::read_dir(dev.run_dir(&id).join("quarantine"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| {
            !l[..k]
                .iter()
                .any(|line| line.contains(&format!("\"qname\":\"{n}\"")))
        })
        .map(|n| format!("quarantine/{n}"))
        .collect();
    assert!(!missing.is_empty());
    let exports: Vec<String> = std::fs::read_dir(dev.run_dir(&id).join("keychain"))
        .unwrap()
        .map(|e| format!("keychain/{}", e.unwrap().file_name().into_string().unwrap()))
        .collect();
    assert_eq!(exports.len(), 1);
    missing.extend(exports);

    // status lists them (in JSON and in words) and says how to put them back.
    let run = dev.last_run_status();
    let mut unexplained: Vec<String> = run["unexplained"]
        .as_array()
        .unwrap_or_else(|| panic!("no unexplained entries: {run}"))
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    unexplained.sort();
    missing.sort();
    assert_eq!(unexplained, missing, "{run}");
    let human = dev.reenroll(&["status"]).exit(0);
    human.stdout_contains("by hand");
    for m in &missing {
        human.stdout_contains(m);
    }

    // rollback refuses: restoring the part the journal explains would leave the rest behind.
    let refused = dev.reenroll(&["rollback", "--yes"]).exit(4);
    refused
        .says("by hand")
        .says(&format!("runs/{id}/quarantine/"));
    for m in &missing {
        refused.says(m);
        assert!(dev.run_dir(&id).join(m).exists(), "{m}");
    }
    assert!(!dev.exists(APP));
    assert!(!dev.exists(PREFS));
}

#[test]
fn a_damaged_old_run_does_not_stop_status_run_rollback_or_purge() {
    let dev = device();
    let pb = dev.playbook("three", THREE_CHANGES);
    let old = dev.reenroll(&["run", &pb, "--yes"]).exit(0).run_id();
    let mut l = lines(&dev, &old);
    let k = line_of(&l, &["\"step-start\""]);
    l[k - 1] = l[k - 1].replacen('"', "#", 1);
    write_lines(&dev, &old, &l);

    // Another run, of another playbook.
    let other = dev.playbook(
        "other",
        r#"
name = "other"
description = "Remove the Self Service preferences."
[[steps]]
id = "prefs"
title = "Remove them"
[steps.action]
kind = "remove"
paths = ["{home}/Library/Preferences/com.jamfsoftware.selfservice.mac.plist"]
"#,
    );
    let new = dev.reenroll(&["run", &other, "--yes"]).exit(0).run_id();
    let status = dev.status();
    let runs = status["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2, "{status}");
    assert_eq!(runs[0]["id"], old.as_str());
    assert_eq!(runs[0]["state"], "damaged");
    assert_eq!(runs[1]["state"], "completed");
    dev.reenroll(&["status", "--jamf-ea"]).exit(0);
    dev.reenroll(&["rollback", "--yes", &new]).exit(0);
    dev.reenroll(&["purge", "--older-than", "0s", "--yes"])
        .exit(0)
        .stdout_contains("1 run(s) purged");
    // The damaged run keeps its quarantine: nothing that could still be needed is deleted.
    assert!(dev.run_dir(&old).join("quarantine").is_dir());
    assert!(dev.run_dir(&old).join("keychain").is_dir());
    // A rollback that would pick the damaged run refuses, naming it.
    dev.reenroll(&["rollback", "--yes"]).exit(4).says(&old);
    // The same playbook runs again (the device is re-checked, nothing is left to do).
    dev.reenroll(&["run", &pb, "--yes"])
        .exit(0)
        .says(&format!("{old} is damaged"));
}

#[test]
fn a_run_folder_whose_header_never_completed_blocks_nothing() {
    let dev = device();
    let pb = dev.playbook("three", THREE_CHANGES);
    let done = dev.reenroll(&["run", &pb, "--yes"]).exit(0).run_id();
    // What ENOSPC while writing a header leaves: a journal holding part of its first line.
    let stuck = "20200101-000000-three-changes-0000";
    let dir = dev.state_dir().join("runs").join(stuck);
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(
        dir.join("journal.jsonl"),
        r#"{"type":"header","format":"reenroll-journal","vers"#,
    )
    .unwrap();
    let status = dev.status();
    assert_eq!(status["runs"].as_array().unwrap().len(), 1, "{status}");
    dev.reenroll(&["rollback", "--yes", &done]).exit(0);
    assert!(!dir.exists(), "the header-less run folder was kept");
    dev.reenroll(&["run", &pb, "--yes"]).exit(0);
}

#[test]
fn enospc_while_writing_the_header_leaves_no_run_behind() {
    let dev = device();
    let pb = dev.playbook("three", THREE_CHANGES);
    dev.reenroll(&["run", &pb, "--yes"])
        .fault("enospc@journal-header")
        .exit(1)
        .says("No space left on device");
    let runs = dev.state_dir().join("runs");
    assert_eq!(std::fs::read_dir(&runs).unwrap().count(), 0);
    assert!(
        dev.exists(APP),
        "a run without a journal changed the device"
    );
    dev.reenroll(&["status"])
        .exit(0)
        .stdout_contains("no runs yet");
    dev.reenroll(&["run", &pb, "--yes"]).exit(0);
}

#[test]
fn a_failed_copy_of_the_binary_leaves_no_partial_file() {
    let dev = Sandbox::new().build();
    let pb = dev.playbook(
        "restart",
        r#"
name = "restart"
description = "A restart."
[[steps]]
id = "restart"
title = "Restart"
[steps.action]
kind = "reboot"
delay_minutes = "1"
"#,
    );
    // The copy fails after part of it was written.
    dev.reenroll(&["run", &pb, "--yes"])
        .fault("enospc@install-executable")
        .exit(1)
        .says("No space left on device");
    let bin = dev.state_dir().join("bin");
    assert!(
        !bin.join("reenroll.new").exists(),
        "a partial copy was left"
    );
    // A folder where the copy goes: the rename fails; the complete temporary copy goes too.
    std::fs::create_dir_all(bin.join("reenroll")).unwrap();
    dev.reenroll(&["resume"]).exit(1);
    assert!(
        !bin.join("reenroll.new").exists(),
        "the temporary copy was left"
    );
}
