//! `reenroll completions SHELL` and `reenroll man`: what the installer package ships in
//! /usr/local/share/zsh/site-functions/_reenroll and /usr/local/share/man/man1/.

use std::path::Path;
use std::process::{Command, Output};

fn reenroll(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_reenroll"))
        .args(args)
        .output()
        .expect("starting the reenroll binary")
}

fn stdout_of(args: &[&str]) -> String {
    let out = reenroll(args);
    assert!(
        out.status.success(),
        "reenroll {args:?} exited {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

#[test]
fn completions_name_the_binary_and_its_subcommands_but_not_the_hidden_ones() {
    for shell in ["bash", "zsh", "fish"] {
        let script = stdout_of(&["completions", shell]);
        assert!(!script.trim().is_empty(), "{shell}: empty script");
        assert!(script.contains("reenroll"), "{shell}: no `reenroll`");
        for sub in ["plan", "resume", "rollback", "diagnose", "state-dir"] {
            assert!(script.contains(sub), "{shell}: `{sub}` not offered");
        }
        // Internal and packaging-only subcommands must not show up on <TAB>.
        for hidden in ["keychain-helper", "completions", "from-daemon"] {
            assert!(
                !script.contains(hidden),
                "{shell}: offers hidden `{hidden}`"
            );
        }
    }
    assert!(stdout_of(&["completions", "zsh"]).starts_with("#compdef reenroll"));
}

#[test]
fn bash_completion_parses_and_completes_a_subcommand() {
    let script = stdout_of(&["completions", "bash"]);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("reenroll.bash");
    std::fs::write(&file, &script).unwrap();
    // Drive the generated function the way bash's programmable completion would for `reenroll ro<TAB>`.
    let probe = format!(
        "source '{}' && COMP_WORDS=(reenroll ro) && COMP_CWORD=1 && _reenroll reenroll ro reenroll && echo \"${{COMPREPLY[*]}}\"",
        file.display()
    );
    let out = match Command::new("bash").arg("-c").arg(&probe).output() {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return, // no bash on this host
        Err(e) => panic!("starting bash: {e}"),
    };
    assert!(
        out.status.success(),
        "bash: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "rollback");
}

#[test]
fn an_unknown_shell_is_an_invalid_invocation() {
    let out = reenroll(&["completions", "tcsh"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
}

#[test]
fn man_prints_a_roff_page_listing_the_subcommands() {
    let page = stdout_of(&["man"]);
    assert!(page.contains(".TH reenroll 1"), "no title line:\n{page}");
    assert!(
        page.contains("reenroll\\-rollback(1)"),
        "no rollback:\n{page}"
    );
    assert!(page.contains("Exit codes"), "the exit codes are missing");
    assert!(
        !page.contains("keychain\\-helper"),
        "a hidden subcommand is documented"
    );
}

#[test]
fn man_dir_writes_one_page_per_visible_subcommand() {
    let dir = tempfile::tempdir().unwrap();
    let man1 = dir.path().join("man1");
    stdout_of(&["man", "--dir", man1.to_str().unwrap()]);
    for page in [
        "reenroll.1",
        "reenroll-plan.1",
        "reenroll-rollback.1",
        "reenroll-sandbox-boot.1",
    ] {
        let text =
            std::fs::read_to_string(man1.join(page)).unwrap_or_else(|e| panic!("{page}: {e}"));
        assert!(
            text.starts_with(".ie") && text.contains(".SH NAME"),
            "{page} is not roff"
        );
    }
    for hidden in [
        "reenroll-keychain-helper.1",
        "reenroll-man.1",
        "reenroll-completions.1",
    ] {
        assert!(!man1.join(hidden).exists(), "{hidden} was written");
    }
}

/// Every argument of every command, hidden ones included, with its `--help` line missing.
fn args_without_help(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
    for a in cmd.get_arguments() {
        if a.get_help().is_none() && a.get_long_help().is_none() {
            missing.push(format!("{path}: {}", a.get_id()));
        }
    }
    for sub in cmd.get_subcommands() {
        args_without_help(sub, &format!("{path} {}", sub.get_name()), missing);
    }
}

#[test]
fn every_flag_and_argument_has_a_help_line() {
    let mut cmd = <reenroll::cli::Cli as clap::CommandFactory>::command();
    cmd.build();
    let mut missing = Vec::new();
    args_without_help(&cmd, "reenroll", &mut missing);
    assert!(
        missing.is_empty(),
        "arguments without a help line:\n  {}",
        missing.join("\n  ")
    );
    // The walk sees what it must: an argument without help is found.
    let bare = clap::Command::new("x")
        .arg(clap::Arg::new("documented").long("documented").help("yes"))
        .subcommand(clap::Command::new("sub").arg(clap::Arg::new("bare").long("bare")));
    let mut missing = Vec::new();
    args_without_help(&bare, "x", &mut missing);
    assert_eq!(missing, ["x sub: bare"]);
}

/// What bash's programmable completion offers for `words` (the last one being completed).
fn bash_completes(words: &[&str]) -> Option<Vec<String>> {
    let script = stdout_of(&["completions", "bash"]);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("reenroll.bash");
    std::fs::write(&file, &script).unwrap();
    let cword = words.len() - 1;
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let probe = format!(
        "source '{}' && COMP_WORDS=({}) && COMP_CWORD={cword} && _reenroll reenroll '{}' '{}' && printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        file.display(),
        quoted.join(" "),
        words[cword],
        words[cword - 1],
    );
    let out = match Command::new("bash").arg("-c").arg(&probe).output() {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None, // no bash here
        Err(e) => panic!("starting bash: {e}"),
    };
    assert!(
        out.status.success(),
        "bash: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect(),
    )
}

#[test]
fn completion_offers_the_embedded_playbooks_and_their_step_ids() {
    let names: Vec<String> = reenroll::playbook::embedded::EMBEDDED
        .iter()
        .map(|(n, _)| n.to_string())
        .collect();
    let Some(offered) = bash_completes(&["reenroll", "plan", ""]) else {
        return;
    };
    for name in &names {
        assert!(offered.contains(name), "plan <TAB>: {offered:?}");
    }
    assert_eq!(
        bash_completes(&["reenroll", "playbooks", "show", "rere"]).unwrap(),
        ["reregister"]
    );
    assert_eq!(
        bash_completes(&["reenroll", "run", "--confirm", "escrow-d"]).unwrap(),
        ["escrow-deleted"]
    );
    // Every step id of every embedded playbook, for run and resume alike.
    let resume = bash_completes(&["reenroll", "resume", "--confirm", ""]).unwrap();
    for (name, src) in reenroll::playbook::embedded::EMBEDDED {
        let pb = reenroll::playbook::Playbook::parse(src, name).unwrap();
        for step in &pb.steps {
            assert!(resume.contains(&step.id), "{}: {resume:?}", step.id);
        }
    }
    // zsh offers the same values; fish the step ids (clap_complete's fish script completes no
    // positional argument, so it cannot offer playbook names).
    let zsh = stdout_of(&["completions", "zsh"]);
    for word in ["reregister", "escrow-deleted", "wait-for-enrollment"] {
        assert!(zsh.contains(word), "zsh: `{word}` not offered");
    }
    let fish = stdout_of(&["completions", "fish"]);
    for word in ["escrow-deleted", "wait-for-enrollment"] {
        assert!(fish.contains(word), "fish: `{word}` not offered");
    }
}

#[test]
fn the_hints_do_not_close_the_list_nor_show_in_help() {
    // A playbook file and a step id of one are still accepted (clap does not check them).
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("mine.toml");
    let (_, cause6) = reenroll::playbook::embedded::EMBEDDED[0];
    std::fs::write(
        &file,
        cause6.replace("name = \"cause6\"", "name = \"mine\""),
    )
    .unwrap();
    let shown = stdout_of(&["playbooks", "show", file.to_str().unwrap()]);
    assert!(shown.contains("name = \"mine\""), "{shown}");
    for args in [
        &[
            "--root",
            "/nonexistent-sandbox",
            "resume",
            "--confirm",
            "a-step-of-my-own",
        ][..],
        &["plan", "/nonexistent/mine.toml"][..],
    ] {
        let out = reenroll(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !err.contains("invalid value"),
            "{args:?} refused by clap: {err}"
        );
    }
    let out = reenroll(&["run", "--help"]);
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(
        !help.contains("possible values"),
        "the hints read as the only choices:\n{help}"
    );
}

#[test]
fn man_pages_have_exit_status_files_environment_and_examples() {
    let page = stdout_of(&["man"]);
    for section in [
        ".SH \"EXIT STATUS\"",
        ".SH FILES",
        ".SH ENVIRONMENT",
        ".SH EXAMPLES",
    ] {
        assert!(page.contains(section), "no {section}:\n{page}");
    }
    for text in [
        "/Library/Application Support/reenroll/credentials.toml",
        "/var/log/reenroll.log",
        "/Library/LaunchDaemons/com.github.reenroll.plist",
        "/Library/Managed Preferences/com.github.reenroll.plist",
        "REENROLL_JAMF_CLIENT_ID",
        "NO_COLOR",
    ] {
        assert!(
            page.contains(&text.replace('-', "\\-")),
            "{text} is missing:\n{page}"
        );
    }
    // Every exit code is listed.
    for code in 0..=6 {
        assert!(
            page.contains(&format!(".TP\n\\fB{code}\\fR\n")),
            "exit {code}"
        );
    }
    // A subcommand's page has the exit status and points to reenroll(1).
    let dir = tempfile::tempdir().unwrap();
    stdout_of(&["man", "--dir", dir.path().to_str().unwrap()]);
    let plan = std::fs::read_to_string(dir.path().join("reenroll-plan.1")).unwrap();
    assert!(plan.contains(".SH \"EXIT STATUS\"") && plan.contains("\\fBreenroll\\fR(1)"));
    // With man(1) here, the page renders and shows the sections.
    if Path::new("/usr/bin/man").exists() {
        let file = dir.path().join("reenroll.1");
        let out = Command::new("/usr/bin/man")
            .args(["-l", "-P", "cat"])
            .arg(&file)
            .env("MANWIDTH", "80")
            .env("MAN_KEEP_FORMATTING", "0")
            .output()
            .expect("running man");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // Without a terminal man may still embolden by overstriking (`N\bN`): drop that.
        let mut text = String::new();
        for c in String::from_utf8_lossy(&out.stdout).chars() {
            if c == '\u{8}' {
                text.pop();
            } else {
                text.push(c);
            }
        }
        for section in ["EXIT STATUS", "FILES", "ENVIRONMENT", "EXAMPLES"] {
            assert!(text.contains(section), "man shows no {section}:\n{text}");
        }
    }
}
