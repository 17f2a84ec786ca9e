//! Property tests for the playbook parser: whatever text it is given (a user's file, an edited
//! embedded playbook), `Playbook::parse` returns, never panics, and every error names the file,
//! a line that exists and a column inside that line (`file:line:col: message`).

use proptest::prelude::*;
use reenroll::playbook::{embedded::EMBEDDED, Playbook, PlaybookError};

const ORIGIN: &str = "fuzz.toml";

/// The error's location must point into `source`: a line that exists, a column within it (one
/// past its last character is where "expected more" errors point).
fn check_location(source: &str, e: &PlaybookError) -> Result<(), TestCaseError> {
    let shown = e.to_string();
    let prefix = format!("{ORIGIN}:{}:{}: ", e.line, e.column);
    prop_assert!(
        shown.starts_with(&prefix),
        "error does not start with file:line:col: {shown}"
    );
    prop_assert!(!e.message.trim().is_empty(), "empty message: {shown}");
    let lines: Vec<&str> = source.split('\n').collect();
    prop_assert!(
        e.line >= 1 && e.line <= lines.len(),
        "line {} outside 1..={}: {shown}",
        e.line,
        lines.len()
    );
    let width = lines[e.line - 1].chars().count();
    prop_assert!(
        e.column >= 1 && e.column <= width + 1,
        "column {} outside 1..={} of line {}: {shown}",
        e.column,
        width + 1,
        e.line
    );
    Ok(())
}

fn parse_checked(source: &str) -> Result<Option<Playbook>, TestCaseError> {
    match Playbook::parse(source, ORIGIN) {
        Ok(p) => Ok(Some(p)),
        Err(e) => {
            check_location(source, &e)?;
            Ok(None)
        }
    }
}

/// Text that looks like TOML often enough to get past the tokenizer: keys, tables, strings,
/// placeholders and paths, with some multi-byte characters to catch byte/char confusion.
fn tomlish() -> impl Strategy<Value = String> {
    let atom = prop_oneof![
        Just("name = \"x\"\n".to_string()),
        Just("description = \"d\"\n".to_string()),
        Just("[[steps]]\n".to_string()),
        Just("[steps.action]\n".to_string()),
        Just("[vars.v]\n".to_string()),
        Just("default = 1\n".to_string()),
        Just("kind = \"remove\"\n".to_string()),
        Just("kind = \"run\"\n".to_string()),
        Just("kind = \"operator\"\n".to_string()),
        Just("paths = [\"/Library/a\", \"{home}/b\"]\n".to_string()),
        Just("program = \"/bin/x\"\n".to_string()),
        Just("instructions = \"do {serial}\"\n".to_string()),
        Just("id = \"s\"\n".to_string()),
        Just("title = \"t\"\n".to_string()),
        Just("when = { set = \"v\" }\n".to_string()),
        Just("\"é{ü}\" = '…'\n".to_string()),
        "[a-z_]{1,8} = \"[^\"\\\\\n]{0,12}\"\n",
        "[ -~é…\n]{0,16}",
    ];
    prop::collection::vec(atom, 0..24).prop_map(|v| v.concat())
}

#[derive(Clone, Debug)]
enum Mutation {
    Drop(usize),
    Duplicate(usize),
    Swap(usize, usize),
    /// Insert `key = value` before line i.
    Insert(usize, String, String),
    /// Replace one character at a char index with another.
    Replace(usize, char),
    /// Cut the text at a char index.
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let value = prop_oneof![
        Just("1".to_string()),
        Just("true".to_string()),
        Just("\"/etc/../x\"".to_string()),
        Just("\"{nope}\"".to_string()),
        Just("[\"a\", 2]".to_string()),
        Just("{ x = 1 }".to_string()),
        "\"[ -~]{0,10}\"",
    ];
    prop_oneof![
        any::<usize>().prop_map(Mutation::Drop),
        any::<usize>().prop_map(Mutation::Duplicate),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::Swap(a, b)),
        (
            any::<usize>(),
            prop_oneof![
                "[a-z_]{1,10}",
                Just("id".to_string()),
                Just("kind".to_string()),
                Just("paths".to_string()),
                Just("reversible".to_string()),
            ],
            value
        )
            .prop_map(|(i, k, v)| Mutation::Insert(i, k, v)),
        (
            any::<usize>(),
            prop_oneof![
                Just('"'),
                Just('['),
                Just(']'),
                Just('{'),
                Just('}'),
                Just('='),
                Just('\n'),
                Just('.'),
                Just('é'),
                any::<char>()
            ]
        )
            .prop_map(|(i, c)| Mutation::Replace(i, c)),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

fn apply(source: &str, m: &Mutation) -> String {
    let mut lines: Vec<String> = source.lines().map(str::to_string).collect();
    let n = lines.len().max(1);
    match m {
        Mutation::Drop(i) if !lines.is_empty() => {
            lines.remove(i % n);
        }
        Mutation::Duplicate(i) if !lines.is_empty() => {
            let l = lines[i % n].clone();
            lines.insert(i % n, l);
        }
        Mutation::Swap(a, b) if !lines.is_empty() => lines.swap(a % n, b % n),
        Mutation::Insert(i, k, v) => lines.insert(i % (lines.len() + 1), format!("{k} = {v}")),
        Mutation::Replace(i, c) => {
            let mut chars: Vec<char> = source.chars().collect();
            if !chars.is_empty() {
                let at = i % chars.len();
                chars[at] = *c;
            }
            return chars.into_iter().collect();
        }
        Mutation::Truncate(i) => {
            let count = source.chars().count();
            return source.chars().take(i % (count + 1)).collect();
        }
        _ => {}
    }
    let mut out = lines.join("\n");
    out.push('\n');
    out
}

#[test]
fn embedded_playbooks_parse() {
    // The mutation tests start from these; they must be valid to begin with.
    for (name, src) in EMBEDDED {
        Playbook::parse(src, name).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_strings_never_panic(s in any::<String>()) {
        parse_checked(&s)?;
    }

    #[test]
    fn tomlish_text_never_panics(s in tomlish()) {
        parse_checked(&s)?;
    }

    #[test]
    fn mutated_playbooks_never_panic(
        which in 0..EMBEDDED.len(),
        muts in prop::collection::vec(mutation(), 1..6),
    ) {
        let mut src = EMBEDDED[which].1.to_string();
        for m in &muts {
            src = apply(&src, m);
        }
        if let Some(p) = parse_checked(&src)? {
            // Whatever still parses is still a valid playbook: unique ids, at least one step.
            prop_assert!(!p.steps.is_empty());
            let mut ids: Vec<&str> = p.steps.iter().map(|s| s.id.as_str()).collect();
            ids.sort();
            ids.dedup();
            prop_assert_eq!(ids.len(), p.steps.len());
        }
    }

    /// An unknown key inserted into a step is always an error, and it points at that key's line.
    #[test]
    fn an_unknown_key_in_a_step_is_reported_at_its_line(
        which in 0..EMBEDDED.len(),
        nth in any::<usize>(),
        key in "zz[a-z_]{0,8}",
    ) {
        let src = EMBEDDED[which].1;
        let id_lines: Vec<usize> = src
            .lines()
            .enumerate()
            .filter(|(_, l)| l.starts_with("id = "))
            .map(|(i, _)| i)
            .collect();
        let after = id_lines[nth % id_lines.len()];
        let mut lines: Vec<&str> = src.lines().collect();
        let inserted = format!("{key} = 1");
        lines.insert(after + 1, &inserted);
        let mutated = lines.join("\n") + "\n";
        let e = Playbook::parse(&mutated, ORIGIN).expect_err("unknown key accepted");
        check_location(&mutated, &e)?;
        prop_assert!(e.message.contains(&key), "{}", e);
        prop_assert_eq!(e.line, after + 2, "{}", e);
    }

    /// A duplicated step id is always an error at the second occurrence.
    #[test]
    fn a_duplicated_step_is_reported(which in 0..EMBEDDED.len(), nth in any::<usize>()) {
        let src = EMBEDDED[which].1;
        let blocks: Vec<&str> = src.split("\n[[steps]]\n").collect();
        prop_assume!(blocks.len() > 1);
        let i = 1 + nth % (blocks.len() - 1);
        let mutated = format!("{src}\n[[steps]]\n{}", blocks[i]);
        let e = Playbook::parse(&mutated, ORIGIN).expect_err("duplicate id accepted");
        check_location(&mutated, &e)?;
        prop_assert!(e.message.contains("duplicate step id"), "{}", e);
        let first_line_of_copy = src.lines().count() + 3;
        prop_assert!(e.line >= first_line_of_copy, "{}", e);
    }
}
