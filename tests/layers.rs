//! The structure of the code, kept: every top-level module of `src/` sits in one layer of the
//! table below, and a module may use only modules of lower layers (or of its own layer, as long
//! as no cycle forms). ARCHITECTURE.md draws the same table. A new module must be added here, in
//! the layer it belongs to; an arrow that points up fails this test with the file and line.
//!
//! Reads the sources as text, like `shared/checks/layers.py`: `crate::a::b` paths (in `use`
//! lines, `use crate::{a, b::c}` groups and inline), and `super::` paths of nested files. The
//! `#[cfg(test)] mod tests` at the end of a file is skipped: tests may reach anywhere.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Lowest first. Within a layer, modules may use each other, but never in a cycle.
const LAYERS: &[(&str, &[&str])] = &[
    (
        "the smallest pieces: exit codes, environment variables, fault injection, output",
        &["error", "env_vars", "fault", "output"],
    ),
    (
        "the device boundary: Mac paths, no-follow files, programs, users",
        &["device"],
    ),
    (
        "beside the device: keychains, the journal, the server clients",
        &["keychain", "journal", "server"],
    ),
    ("actions: one file per kind", &["action"]),
    ("playbooks and settings", &["playbook", "settings"]),
    ("the engine: context, loading, variables", &["engine"]),
    ("plan", &["plan", "planfile"]),
    ("the executor: run, resume, rollback, status", &["executor"]),
    (
        "commands and their output",
        &[
            "ask",
            "demo",
            "diagnose",
            "interactive",
            "jamf_policy",
            "logging",
            "manpage",
            "report",
            "sandbox",
            "server_cleanup",
        ],
    ),
    (
        "the command line, parsed and dispatched",
        &["app", "cli", "lib", "main"],
    ),
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module path of a file under src/: `src/action/mod.rs` is `["action"]`.
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts
}

/// The code of a file without comments and without its trailing test module.
fn code_of(text: &str) -> Vec<(usize, String)> {
    let end = text.find("#[cfg(test)]\nmod tests").unwrap_or(text.len());
    text[..end]
        .lines()
        .enumerate()
        .map(|(i, l)| {
            let code = match l.find("//") {
                Some(c) => &l[..c],
                None => l,
            };
            (i + 1, code.to_string())
        })
        .collect()
}

fn ident_at(s: &str) -> &str {
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    &s[..end]
}

/// The top-level modules a line of `module`'s code names through `crate::` paths, and through
/// `super::` paths when `module` is itself a top-level module (its parent is the crate root).
fn referenced(line: &str, module: &[String]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = line;
    while let Some(i) = rest.find("crate::") {
        let after = &rest[i + "crate::".len()..];
        if let Some(group) = after.strip_prefix('{') {
            // use crate::{a, b::c, d::{e, f}}: the first name of each top-level entry.
            let mut depth = 0;
            let mut entry_start = true;
            for (j, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => entry_start = true,
                    c if entry_start && !c.is_whitespace() => {
                        entry_start = false;
                        let name = ident_at(&group[j..]);
                        if !name.is_empty() {
                            out.insert(name.to_string());
                        }
                    }
                    _ => {}
                }
            }
        } else {
            let name = ident_at(after);
            if !name.is_empty() {
                out.insert(name.to_string());
            }
        }
        rest = after;
    }
    // super:: in src/a/b.rs (or src/a/b/mod.rs) stays inside `a`.
    if line.contains("super::") && module.len() == 1 {
        let mut rest = line;
        while let Some(i) = rest.find("super::") {
            let after = &rest[i + "super::".len()..];
            let name = ident_at(after);
            if !name.is_empty() && name != "super" {
                out.insert(name.to_string());
            }
            rest = after;
        }
    }
    out
}

#[test]
fn every_arrow_between_top_level_modules_points_down_and_none_forms_a_cycle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();

    let layer_of: BTreeMap<&str, usize> = LAYERS
        .iter()
        .enumerate()
        .flat_map(|(i, (_, mods))| mods.iter().map(move |m| (*m, i)))
        .collect();
    let modules: BTreeSet<String> = files
        .iter()
        .filter_map(|f| module_of(&src, f).first().cloned())
        .collect();

    let mut problems = Vec::new();
    for m in &modules {
        if !layer_of.contains_key(m.as_str()) {
            problems.push(format!(
                "src/{m}: a top-level module missing from LAYERS in tests/layers.rs (and from ARCHITECTURE.md): add it to the layer it belongs to"
            ));
        }
    }
    // edges[a][b] = where a uses b first
    let mut edges: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for f in &files {
        let module = module_of(&src, f);
        let Some(me) = module.first().cloned() else {
            continue;
        };
        let text = std::fs::read_to_string(f).unwrap();
        for (n, line) in code_of(&text) {
            for used in referenced(&line, &module) {
                if used == me || !modules.contains(&used) {
                    continue;
                }
                edges
                    .entry(me.clone())
                    .or_default()
                    .entry(used.clone())
                    .or_insert_with(|| format!("{}:{n}", f.strip_prefix(&src).unwrap().display()));
            }
        }
    }
    for (from, tos) in &edges {
        for (to, at) in tos {
            let (Some(&lf), Some(&lt)) = (layer_of.get(from.as_str()), layer_of.get(to.as_str()))
            else {
                continue;
            };
            if lt > lf {
                problems.push(format!(
                    "{from} (layer {lf}: {}) uses {to} (layer {lt}: {}), which is above it, at src/{at}: pass a plain value or a trait down instead",
                    LAYERS[lf].0, LAYERS[lt].0
                ));
            }
        }
    }
    // Cycles within a layer: depth-first search for a back edge.
    fn visit(
        v: &str,
        edges: &BTreeMap<String, BTreeMap<String, String>>,
        state: &mut BTreeMap<String, u8>,
        path: &mut Vec<String>,
        found: &mut Vec<String>,
    ) {
        state.insert(v.to_string(), 1);
        path.push(v.to_string());
        for (w, at) in edges.get(v).into_iter().flatten() {
            match state.get(w.as_str()) {
                Some(1) => {
                    let start = path.iter().position(|p| p == w).unwrap();
                    found.push(format!(
                        "cycle: {} -> {w} (closed at src/{at})",
                        path[start..].join(" -> ")
                    ));
                }
                Some(_) => {}
                None => visit(w, edges, state, path, found),
            }
        }
        path.pop();
        state.insert(v.to_string(), 2);
    }
    let mut state = BTreeMap::new();
    for m in &modules {
        if !state.contains_key(m.as_str()) {
            visit(m, &edges, &mut state, &mut Vec::new(), &mut problems);
        }
    }
    assert!(
        problems.is_empty(),
        "the module structure drifted from ARCHITECTURE.md:\n  {}",
        problems.join("\n  ")
    );
}

#[test]
fn the_reader_sees_groups_inline_paths_and_super() {
    let here = vec!["app".to_string()];
    assert_eq!(
        referenced(
            "use crate::{action::{self, Env}, device, journal::Record};",
            &here
        ),
        ["action", "device", "journal"]
            .into_iter()
            .map(String::from)
            .collect()
    );
    assert_eq!(
        referenced(
            "let x = crate::plan::plan(&ctx); crate::report::wrap()",
            &here
        ),
        ["plan", "report"].into_iter().map(String::from).collect()
    );
    assert_eq!(
        referenced("use super::engine::Ctx;", &here),
        ["engine"].into_iter().map(String::from).collect()
    );
    // Inside a module, super:: stays in it.
    assert!(referenced("use super::Env;", &["action".into(), "run".into()]).is_empty());
}
