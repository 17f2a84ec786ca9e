//! `reenroll completions SHELL` and `reenroll man`: what the installer package ships in
//! /usr/local/share/zsh/site-functions/_reenroll and /usr/local/share/man/man1/.

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
        !page.contains("keychain"),
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
