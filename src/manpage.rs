//! `reenroll man`: the clap_mangen pages, with the sections clap knows nothing of: EXIT STATUS
//! (every page), and FILES, ENVIRONMENT and EXAMPLES (reenroll.1). Each is built from the
//! constants the code uses (`error::EXIT_CODES_HELP`, `env_vars`, the paths), so the page cannot
//! drift from the program.

use std::path::Path;

use anyhow::{Context, Result};

/// The files reenroll reads or writes, with what each is.
fn files() -> Vec<(String, String)> {
    vec![
        (
            crate::engine::DEFAULT_STATE_DIR.to_string(),
            "The state folder: runs/<id>/journal.jsonl (the write-ahead journal), quarantine/ \
             (removed paths) and keychain/ (exported items) of each run, the run lock, and \
             bin/reenroll, the copy the LaunchDaemon and the keychain helper run. Change it with \
             --state-dir."
                .to_string(),
        ),
        (
            crate::server::creds::DEFAULT_CREDENTIALS_PATH.to_string(),
            "API credentials for the server steps (Jamf Pro, Microsoft Graph); mode 0600, owned \
             by root, or it is refused."
                .to_string(),
        ),
        (
            crate::device::LOG_FILE.to_string(),
            "The log of commands that change the device (run, resume, rollback, purge, \
             jamf-policy), and the output of the restart it schedules."
                .to_string(),
        ),
        (
            crate::action::reboot::DAEMON_PLIST.to_string(),
            "The LaunchDaemon that resumes a run after a restart or a Jamf Pro policy's hand-off; \
             it removes itself when the run ends."
                .to_string(),
        ),
        (
            crate::settings::MANAGED_PREFERENCES.to_string(),
            "Managed preferences (a configuration profile): playbook variable values, below the \
             command line and Jamf Pro policy parameters, above the playbook's defaults."
                .to_string(),
        ),
    ]
}

const EXAMPLES: &[(&str, &str)] = &[
    (
        "reenroll plan",
        "Preview what the default playbook (cause6) would change on this Mac; changes nothing.",
    ),
    (
        "sudo reenroll run cause6",
        "Show the plan, ask, then run it; exit 3 when it pauses for a restart or an operator.",
    ),
    (
        "sudo reenroll resume --confirm escrow-deleted",
        "Record that an operator did a step, and continue the paused run.",
    ),
    (
        "reenroll status --json",
        "Every run and the state of each step, as one JSON document (docs/json.md).",
    ),
    (
        "sudo reenroll rollback",
        "Undo, newest first, every reversible change of the newest run.",
    ),
    (
        "reenroll diagnose --json",
        "Which documented problem the Mac shows, with evidence; exit 5 when one is found.",
    ),
    (
        "reenroll sandbox /tmp/mac && reenroll --root /tmp/mac plan",
        "Build a throwaway fake Mac and plan against it.",
    ),
];

/// Text for roff: backslashes and hyphens escaped, no line starting with a control character.
fn esc(text: &str) -> String {
    let t = text.replace('\\', "\\e").replace('-', "\\-");
    if t.starts_with('.') || t.starts_with('\'') {
        format!("\\&{t}")
    } else {
        t
    }
}

/// One `.TP` entry: a bold tag and its paragraph.
fn entry(tag: &str, text: &str) -> String {
    format!(".TP\n\\fB{}\\fR\n{}\n", esc(tag), esc(text))
}

/// EXIT STATUS, from the table `--help` prints (`error::EXIT_CODES_HELP`).
fn exit_status() -> String {
    let mut s = String::from(".SH \"EXIT STATUS\"\n");
    for line in crate::error::EXIT_CODES_HELP.lines().skip(1) {
        if let Some((code, what)) = line.trim().split_once(char::is_whitespace) {
            s.push_str(&entry(code, what.trim()));
        }
    }
    s
}

/// The sections a page gets besides clap_mangen's: EXIT STATUS on every page, FILES,
/// ENVIRONMENT and EXAMPLES on the top page.
fn extra_sections(top: bool) -> String {
    let mut s = exit_status();
    if !top {
        s.push_str(".SH \"SEE ALSO\"\n\\fBreenroll\\fR(1): files, environment and examples\n");
        return s;
    }
    s.push_str(".SH ENVIRONMENT\n");
    for (name, what) in crate::env_vars::all() {
        s.push_str(&entry(name, what));
    }
    s.push_str(".SH FILES\n");
    for (path, what) in files() {
        s.push_str(&entry(&path, &what));
    }
    s.push_str(".SH EXAMPLES\n");
    for (command, what) in EXAMPLES {
        s.push_str(&entry(command, what));
    }
    s
}

/// One page: clap_mangen's, with the extra sections before VERSION (or at the end).
pub fn render(cmd: clap::Command, top: bool) -> Result<String> {
    let mut bytes = Vec::new();
    clap_mangen::Man::new(cmd)
        .render(&mut bytes)
        .context("rendering the man page")?;
    let mut page = String::from_utf8(bytes).context("the man page is not UTF-8")?;
    let extra = extra_sections(top);
    match page.find("\n.SH VERSION") {
        Some(at) => page.insert_str(at + 1, &extra),
        None => {
            if !page.ends_with('\n') {
                page.push('\n');
            }
            page.push_str(&extra);
        }
    }
    Ok(page)
}

/// reenroll.1 and one page per visible subcommand (reenroll-plan.1, reenroll-sandbox-boot.1...),
/// as `clap_mangen::generate_to` writes them, each with its extra sections.
pub fn write_all(cmd: clap::Command, dir: &Path) -> Result<()> {
    fn write(cmd: clap::Command, dir: &Path, top: bool) -> Result<()> {
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()).cloned() {
            write(sub, dir, false)?;
        }
        let file = dir.join(clap_mangen::Man::new(cmd.clone()).get_filename());
        std::fs::write(&file, render(cmd, top)?)
            .with_context(|| format!("writing {}", file.display()))
    }
    let mut cmd = cmd.disable_help_subcommand(true);
    cmd.build();
    write(cmd, dir, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roff_control_characters_are_escaped() {
        assert_eq!(esc(".hidden"), "\\&.hidden");
        assert_eq!(esc("--root C:\\x"), "\\-\\-root C:\\ex");
    }

    #[test]
    fn the_exit_status_section_lists_every_code() {
        let s = exit_status();
        for code in 0..=6 {
            assert!(s.contains(&format!(".TP\n\\fB{code}\\fR\n")), "{code}: {s}");
        }
    }
}
