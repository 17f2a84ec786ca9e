//! Property tests for the journal reader. A journal is read after crashes, power loss and
//! upgrades, so `journal::parse` must never panic on any bytes, must accept a journal cut off
//! anywhere (a torn last line) by returning exactly the complete records before the cut, and must
//! refuse, naming the line, a journal damaged anywhere before its last line. Since format
//! version 2 every line carries a checksum: any changed byte of a complete line is refused.

use std::collections::BTreeMap;

use proptest::prelude::*;
use reenroll::device::fs::Moved;
use reenroll::journal::{self, record, Change, Record, RunState, StepState, Undo};

const FIXTURE: &[u8] = include_bytes!("fixtures/journal-v1/journal.jsonl");
const FIXTURE_V2: &[u8] = include_bytes!("fixtures/journal-v2/journal.jsonl");

fn text() -> impl Strategy<Value = String> {
    // Arbitrary Unicode, newlines, quotes and control characters included: serde_json must
    // escape them so that one record stays one line.
    prop_oneof![any::<String>(), "[a-z0-9 /.\\-\"\\\\\n\t{}]{0,24}"]
}

fn header() -> impl Strategy<Value = Record> {
    (
        text(),
        text(),
        text(),
        prop::collection::btree_map(text(), text(), 0..4),
    )
        .prop_map(|(run_id, playbook, source, vars)| Record::Header {
            format: record::FORMAT_NAME.into(),
            version: journal::FORMAT_VERSION,
            run_id,
            playbook,
            origin: "embedded:cause6".into(),
            source,
            vars,
            var_sources: BTreeMap::new(),
            root: Some("/tmp/fixture".into()),
            started: "2026-11-26T00:00:00Z".into(),
            reenroll_version: "0.1.0".into(),
            options: BTreeMap::new(),
        })
}

fn step_state() -> impl Strategy<Value = StepState> {
    prop_oneof![
        Just(StepState::Pending),
        Just(StepState::Running),
        Just(StepState::Done),
        Just(StepState::Skipped),
        Just(StepState::SkippedByAdmin),
        Just(StepState::Waiting),
        Just(StepState::Failed),
        Just(StepState::RolledBack),
    ]
}

fn run_state() -> impl Strategy<Value = RunState> {
    prop_oneof![
        Just(RunState::Paused),
        Just(RunState::Completed),
        Just(RunState::Failed),
    ]
}

fn change() -> impl Strategy<Value = Change> {
    prop_oneof![
        (text(), text()).prop_map(|(target, qname)| Change::Remove { target, qname }),
        (text(), prop::collection::vec(text(), 0..3))
            .prop_map(|(program, args)| Change::Run { program, args }),
        (text(), text()).prop_map(|(what, target)| Change::Other { what, target }),
    ]
}

fn undo() -> impl Strategy<Value = Undo> {
    prop_oneof![
        (text(), text(), any::<bool>()).prop_map(|(target, qname, copied)| Undo::Restore {
            target,
            qname,
            moved: if copied {
                Moved::Copied
            } else {
                Moved::Renamed
            },
        }),
        text().prop_map(|target| Undo::RemoveCreated { target }),
        (text(), text()).prop_map(|(what, why)| Undo::Irreversible { what, why }),
    ]
}

/// Any record after the header (the reader checks syntax and the header, not the story).
fn body_record() -> impl Strategy<Value = Record> {
    prop_oneof![
        (text(), text()).prop_map(|(key, value)| Record::Note { key, value }),
        (text(), text()).prop_map(|(step, at)| Record::StepStart { step, at }),
        (text(), any::<u64>(), change()).prop_map(|(step, n, change)| Record::Intent {
            step,
            n,
            change
        }),
        (text(), any::<u64>(), undo()).prop_map(|(step, n, undo)| Record::Applied {
            step,
            n,
            undo
        }),
        (text(), any::<u64>(), text(), text(), any::<bool>()).prop_map(
            |(step, n, target, error, exception)| Record::ChangeFailed {
                step,
                n,
                target,
                error,
                exception
            }
        ),
        (text(), step_state(), text()).prop_map(|(step, state, summary)| Record::StepEnd {
            step,
            state,
            at: "2026-11-26T00:00:01Z".into(),
            summary,
        }),
        (prop::option::of(text()), text()).prop_map(|(step, reason)| Record::Paused {
            step,
            reason,
            at: "2026-11-26T00:00:02Z".into(),
            until: None,
        }),
        text().prop_map(|step| Record::Confirmed {
            step,
            at: "2026-11-26T00:00:03Z".into()
        }),
        (run_state(), prop::collection::vec(text(), 0..2)).prop_map(|(state, exceptions)| {
            Record::RunEnd {
                state,
                at: "2026-11-26T00:00:04Z".into(),
                exceptions,
            }
        }),
        Just(Record::RollbackStart {
            at: "2026-11-26T00:00:05Z".into()
        }),
        (text(), any::<u64>(), text()).prop_map(|(step, n, outcome)| Record::Restored {
            step,
            n,
            outcome
        }),
        prop::collection::vec(text(), 0..2).prop_map(|failures| Record::RollbackEnd {
            at: "2026-11-26T00:00:06Z".into(),
            failures,
            irreversible: Vec::new(),
        }),
    ]
}

/// A valid journal's records: generated ones, or a real fixture.
fn valid_records() -> impl Strategy<Value = Vec<Record>> {
    prop_oneof![
        3 => (header(), prop::collection::vec(body_record(), 0..12)).prop_map(|(h, mut body)| {
            body.insert(0, h);
            body
        }),
        1 => Just(journal::parse(FIXTURE).expect("the v1 fixture reads")),
        1 => Just(journal::parse(FIXTURE_V2).expect("the v2 fixture reads")),
    ]
}

/// What the journal writes: one line per record, each with its checksum.
fn encode(records: &[Record]) -> Vec<u8> {
    let bytes = journal::encode(records).unwrap();
    assert_eq!(
        bytes.iter().filter(|b| **b == b'\n').count(),
        records.len(),
        "a record spans two lines"
    );
    bytes
}

/// Where each line starts and ends (end = index of its newline).
fn line_spans(bytes: &[u8]) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut start = 0;
    for (i, b) in bytes.iter().enumerate() {
        if *b == b'\n' {
            spans.push((start, i));
            start = i + 1;
        }
    }
    spans
}

/// Ways to damage one complete line so that it can no longer be a record.
#[derive(Clone, Debug)]
enum Damage {
    /// Cut the line short (what a lost write in the middle of the file looks like).
    Cut(usize),
    /// Split it with a newline.
    Split(usize),
    /// Overwrite one byte with a control character, invalid anywhere in JSON.
    Control(usize, u8),
    /// Overwrite one byte with a byte that is never valid UTF-8.
    NotUtf8(usize, u8),
    /// Remove its newline, joining it to the next line.
    Join,
}

fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        any::<usize>().prop_map(Damage::Cut),
        any::<usize>().prop_map(Damage::Split),
        (
            any::<usize>(),
            prop_oneof![0x00u8..0x09, 0x0bu8..0x0d, 0x0eu8..0x20]
        )
            .prop_map(|(p, b)| Damage::Control(p, b)),
        (
            any::<usize>(),
            prop_oneof![Just(0xC0u8), Just(0xC1u8), 0xF5u8..=0xFF]
        )
            .prop_map(|(p, b)| Damage::NotUtf8(p, b)),
        Just(Damage::Join),
    ]
}

fn apply_damage(bytes: &[u8], (start, end): (usize, usize), d: &Damage) -> Vec<u8> {
    let len = end - start; // the line without its newline, never empty
    let mut out = bytes.to_vec();
    match d {
        Damage::Cut(p) => {
            out.drain(start + p % len..end);
        }
        Damage::Split(p) => out.insert(start + p % len, b'\n'),
        Damage::Control(p, b) | Damage::NotUtf8(p, b) => out[start + p % len] = *b,
        Damage::Join => {
            out.remove(end);
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = journal::parse(&bytes);
    }

    #[test]
    fn lines_of_json_and_junk_never_panic(
        lines in prop::collection::vec(prop_oneof![
            body_record().prop_map(|r| serde_json::to_string(&r).unwrap()),
            header().prop_map(|r| serde_json::to_string(&r).unwrap()),
            Just("{}".to_string()),
            Just("{\"type\":\"header\",\"format\":\"reenroll-journal\",\"version\":99}".to_string()),
            Just(String::new()),
            "[ -~]{0,40}",
        ], 0..8),
        torn in any::<bool>(),
    ) {
        let mut text = lines.join("\n");
        if !torn {
            text.push('\n');
        }
        if let Ok(records) = journal::parse(text.as_bytes()) {
            let starts_with_header = matches!(records[0], Record::Header { .. });
            prop_assert!(starts_with_header, "first record: {:?}", records[0]);
            prop_assert!(records.len() <= text.matches('\n').count());
        }
    }

    /// Cut anywhere: the records whose lines are complete come back, exactly; a cut inside the
    /// header (no complete line) is the only error.
    #[test]
    fn a_journal_cut_anywhere_reads_its_complete_records(
        records in valid_records(),
        cut in any::<prop::sample::Index>(),
    ) {
        let bytes = encode(&records);
        let t = cut.index(bytes.len() + 1);
        let complete = bytes[..t].iter().filter(|b| **b == b'\n').count();
        match journal::parse(&bytes[..t]) {
            Ok(got) => {
                prop_assert!(complete >= 1);
                prop_assert_eq!(&got[..], &records[..complete]);
            }
            Err(e) => {
                prop_assert_eq!(complete, 0, "rejected after {} complete lines: {:#}", complete, e);
            }
        }
    }

    /// Damage to any line but the last is an error that names the damaged line, even when the
    /// last line is also torn.
    #[test]
    fn damage_before_the_last_line_is_an_error_naming_it(
        records in valid_records(),
        which in any::<prop::sample::Index>(),
        d in damage(),
        tear in any::<prop::sample::Index>(),
    ) {
        prop_assume!(records.len() >= 2);
        let bytes = encode(&records);
        let spans = line_spans(&bytes);
        let k = which.index(spans.len() - 1); // never the last line
        let mut damaged = apply_damage(&bytes, spans[k], &d);
        // Tear the last line too (or not: tear may land on its end).
        let last_start = damaged[..damaged.len() - 1]
            .iter()
            .rposition(|b| *b == b'\n')
            .map_or(0, |p| p + 1);
        if last_start > spans[k].0 {
            let keep = last_start + tear.index(damaged.len() - last_start + 1);
            damaged.truncate(keep);
        }
        let err = journal::parse(&damaged).expect_err("damage accepted");
        let msg = format!("{:#}", err);
        prop_assert!(msg.contains(&format!("line {} ", k + 1)), "damage at line {}: {}", k + 1, msg);
    }

    /// Any one byte changed anywhere in a version-2 journal but its final newline is refused:
    /// each line's checksum covers its bytes and its line number (issue 11: 177 of 320 such
    /// changes used to go unnoticed).
    #[test]
    fn any_changed_byte_of_a_complete_line_is_refused(
        header in header(),
        body in prop::collection::vec(body_record(), 0..8),
        at in any::<prop::sample::Index>(),
        to in any::<u8>(),
    ) {
        let mut records = vec![header];
        records.extend(body);
        let bytes = encode(&records);
        let i = at.index(bytes.len() - 1);
        prop_assume!(bytes[i] != to);
        let mut changed = bytes.clone();
        changed[i] = to;
        let got = journal::parse(&changed);
        prop_assert!(got.is_err(), "byte {} changed to {:#04x} went unnoticed", i, to);
    }

    /// A line repeated, or two lines swapped, is refused too (the line number is in the sum).
    #[test]
    fn a_repeated_or_moved_line_is_refused(
        records in valid_records(),
        which in any::<prop::sample::Index>(),
        swap in any::<bool>(),
    ) {
        prop_assume!(records.len() >= 3);
        let bytes = encode(&records);
        let mut lines: Vec<&[u8]> = bytes.split_inclusive(|b| *b == b'\n').collect();
        let k = 1 + which.index(lines.len() - 2);
        if swap {
            prop_assume!(lines[k] != lines[k + 1]);
            lines.swap(k, k + 1);
        } else {
            lines.insert(k + 1, lines[k]);
        }
        let msg = format!("{:#}", journal::parse(&lines.concat()).expect_err("accepted"));
        prop_assert!(msg.contains(&format!("line {} ", k + 2)) || msg.contains(&format!("line {} ", k + 1)), "{}", msg);
    }

    /// Random byte flips anywhere: never a panic, and never more records than complete lines.
    #[test]
    fn random_flips_never_panic(
        records in valid_records(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
    ) {
        let mut bytes = encode(&records);
        for (at, b) in flips {
            let i = at.index(bytes.len());
            bytes[i] = b;
        }
        if let Ok(got) = journal::parse(&bytes) {
            prop_assert!(got.len() <= bytes.iter().filter(|b| **b == b'\n').count());
        }
    }

    /// A header of a version this build does not read is refused, whatever follows.
    #[test]
    fn an_unknown_version_is_refused(
        version in any::<u32>(),
        body in prop::collection::vec(body_record(), 0..3),
    ) {
        prop_assume!(!record::READABLE_VERSIONS.contains(&version));
        let mut records = vec![Record::Header {
            format: record::FORMAT_NAME.into(),
            version,
            run_id: "r".into(),
            playbook: "p".into(),
            origin: "embedded:p".into(),
            source: String::new(),
            vars: BTreeMap::new(),
            var_sources: BTreeMap::new(),
            root: None,
            started: "2026-11-26T00:00:00Z".into(),
            reenroll_version: "9".into(),
            options: BTreeMap::new(),
        }];
        records.extend(body);
        let err = journal::parse(&encode(&records)).expect_err("unknown version accepted");
        let msg = format!("{:#}", err);
        prop_assert!(msg.contains(&version.to_string()), "{}", msg);
    }
}
