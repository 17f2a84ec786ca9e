//! Every released journal format stays readable: each tests/fixtures/journal-v*/journal.jsonl
//! (a real journal written by that version) is parsed with today's reader and replayed into a
//! `RunView`, whose derived state must match the fixture's expected.json. A run paused by an old
//! reenroll must still resume or roll back after an upgrade, so a failure here is a
//! compatibility break, not a fixture to regenerate. See tests/fixtures/README.md.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use reenroll::journal::{self, Record, RunState, RunView};
use serde_json::Value;

fn fixture_dirs() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("reading {}: {e}", root.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("journal-v"))
        })
        .collect();
    dirs.sort();
    dirs
}

fn version_of(dir: &Path) -> u32 {
    let name = dir.file_name().unwrap().to_str().unwrap();
    name["journal-v".len()..]
        .parse()
        .unwrap_or_else(|_| panic!("{name}: fixture folders are named journal-v<VERSION>"))
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_fixture_exists_for_every_readable_version_and_the_current_one() {
    let versions: Vec<u32> = fixture_dirs().iter().map(|d| version_of(d)).collect();
    assert!(
        versions.contains(&journal::FORMAT_VERSION),
        "no tests/fixtures/journal-v{} for the format this build writes; add one (README.md there)",
        journal::FORMAT_VERSION
    );
    for v in journal::record::READABLE_VERSIONS {
        assert!(
            versions.contains(v),
            "reenroll claims to read journal v{v} but has no fixture of it"
        );
    }
}

#[test]
fn every_fixture_journal_is_read_and_replayed_as_expected() {
    let dirs = fixture_dirs();
    assert!(!dirs.is_empty());
    for dir in dirs {
        let name = dir.display().to_string();
        let records = journal::read(&dir.join(journal::JOURNAL_FILE))
            .unwrap_or_else(|e| panic!("{name}: today's reader rejects it: {e:#}"));
        let expected: Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join("expected.json"))
                .unwrap_or_else(|e| panic!("{name}/expected.json: {e}")),
        )
        .unwrap_or_else(|e| panic!("{name}/expected.json: {e}"));

        // The header says which version wrote it, and that is the folder's version.
        match &records[0] {
            Record::Header { version, .. } => assert_eq!(*version, version_of(&dir), "{name}"),
            other => panic!("{name}: first record is not a header: {other:?}"),
        }
        assert_eq!(
            records.len() as u64,
            expected["records"].as_u64().unwrap(),
            "{name}: record count"
        );

        let view = RunView::from_records(&records);
        assert_eq!(view.id, expected["run_id"], "{name}");
        assert_eq!(view.playbook, expected["playbook"], "{name}");
        // Nobody holds the lock of a fixture: the state is what the journal alone says.
        let state: RunState = serde_json::from_value(expected["state"].clone()).unwrap();
        assert_eq!(view.state(false), state, "{name}: run state");

        let want_steps: BTreeMap<String, String> =
            serde_json::from_value(expected["steps"].clone()).unwrap();
        let got_steps: BTreeMap<String, String> = view
            .steps
            .iter()
            .map(|(id, s)| (id.clone(), s.as_str().to_string()))
            .collect();
        assert_eq!(got_steps, want_steps, "{name}: step states");

        assert_eq!(
            view.applied.len() as u64,
            expected["applied"].as_u64().unwrap(),
            "{name}: applied changes"
        );
        assert_eq!(
            view.applied.iter().filter(|a| a.restored).count() as u64,
            expected["restored"].as_u64().unwrap(),
            "{name}: changes rollback put back"
        );
        let mut confirmed: Vec<String> = view.confirmed.keys().cloned().collect();
        confirmed.sort();
        assert_eq!(confirmed, strings(&expected["confirmed"]), "{name}");
        assert_eq!(
            view.rollback_ended,
            Some(strings(&expected["rollback_failures"])),
            "{name}: rollback failures"
        );
        assert_eq!(view.exceptions, strings(&expected["exceptions"]), "{name}");
        assert_eq!(
            view.dangling.len() as u64,
            expected["dangling"].as_u64().unwrap(),
            "{name}: intents without a result"
        );
        for (k, v) in expected["facts"].as_object().unwrap() {
            assert_eq!(view.facts.get(k), Some(v), "{name}: fact {k}");
        }
    }
}

#[test]
fn fixture_records_survive_a_write_and_read_with_todays_code() {
    // What today's reader understands, today's writer must write the same way: an old journal
    // that is resumed gets new records appended after the old ones, and both must read back.
    for dir in fixture_dirs() {
        let records = journal::read(&dir.join(journal::JOURNAL_FILE)).unwrap();
        let bytes = journal::encode(&records).unwrap();
        assert_eq!(
            journal::parse(&bytes).unwrap(),
            records,
            "{}",
            dir.display()
        );
    }
}

#[test]
fn fixtures_hold_no_host_paths() {
    // Fixtures are generated in a sandbox at /tmp/fixture; any other absolute host path that
    // slipped in (a developer's home, a worktree, a temp dir) would make them machine-specific.
    for dir in fixture_dirs() {
        let text = std::fs::read_to_string(dir.join(journal::JOURNAL_FILE)).unwrap();
        for needle in [
            "/home/",
            "/work/",
            "/root/",
            "/private/var/",
            "/var/folders/",
        ] {
            assert!(
                !text.contains(needle),
                "{}: holds a host path ({needle}...)",
                dir.display()
            );
        }
        for (i, _) in text.match_indices("/tmp/") {
            assert!(
                text[i..].starts_with("/tmp/fixture"),
                "{}: holds a host temp path at byte {i}: {}",
                dir.display(),
                &text[i..(i + 40).min(text.len())]
            );
        }
    }
}

#[test]
fn a_version_1_journal_continued_by_this_build_reads_and_its_new_records_are_checked() {
    // A run paused by a version-1 reenroll and resumed after an upgrade: the old lines carry no
    // checksum, the new ones do, and from the first of them on every line must.
    let fixture = fixture_dirs()
        .into_iter()
        .find(|d| version_of(d) == 1)
        .expect("the v1 fixture");
    let tmp = tempfile::tempdir().unwrap();
    let journal_path = tmp.path().join(journal::JOURNAL_FILE);
    std::fs::copy(fixture.join(journal::JOURNAL_FILE), &journal_path).unwrap();
    let old = journal::read(&journal_path).unwrap();
    let mut j = journal::Journal::reopen(tmp.path()).unwrap();
    j.append(&Record::Note {
        key: "upgraded".into(),
        value: "yes".into(),
    })
    .unwrap();
    drop(j);
    let records = journal::read(&journal_path).unwrap();
    assert_eq!(records.len(), old.len() + 1);
    assert_eq!(records[..old.len()], old[..]);

    // A changed byte in the new line is damage, named by its line.
    let text = std::fs::read_to_string(&journal_path).unwrap();
    let damaged = text.replacen("\"upgraded\"", "\"upgradeD\"", 1);
    std::fs::write(&journal_path, &damaged).unwrap();
    let err = format!("{:#}", journal::read(&journal_path).unwrap_err());
    assert!(err.contains(&format!("line {} ", old.len() + 1)), "{err}");
}
