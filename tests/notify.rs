//! Issue 13 §3: the person at the Mac is told, and may defer. Each test drives cause6 through
//! `reenroll jamf-policy` on a sandbox device; the LaunchDaemon (started by `sandbox boot`)
//! shows the dialogs. The fake `dialog` (swiftDialog) and `osascript` answer as
//! `/var/db/sandbox/dialog-answers` says, one line per dialog, and record each dialog in
//! `/var/log/sandbox-dialogs.log`. Waits are fractions of a minute; nothing here sleeps.

mod support;

use std::time::{Duration, Instant};

use support::{Device, Run, Sandbox};

const DIALOGS: &str = "/var/log/sandbox-dialogs.log";

/// A policy run of cause6 that needs nobody until the restart, with `params` added.
fn policy(dev: &Device, params: &[&str]) -> Run {
    let mut all = vec![
        "jamf-policy",
        "/",
        "Alice's MacBook Pro",
        "alice",
        "playbook=cause6",
        "intune_settle_minutes=0",
        "operator=remote",
        "settle_override=yes",
    ];
    all.extend_from_slice(params);
    let out = dev.reenroll(&all).run();
    assert_eq!(out.code, Some(0), "{out}");
    out
}

fn answers(dev: &Device, lines: &[&str]) {
    dev.write("/var/db/sandbox/dialog-answers", lines.join("\n") + "\n");
}

/// The dialogs shown: (program, session uid, who ran it, answer, arguments).
fn dialogs(dev: &Device) -> Vec<[String; 5]> {
    dev.read(DIALOGS)
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.splitn(5, '\t').collect();
            assert_eq!(f.len(), 5, "{l}");
            [0, 1, 2, 3, 4].map(|i| f[i].to_string())
        })
        .collect()
}

fn ea(dev: &Device) -> String {
    dev.reenroll(&["status", "--jamf-ea"])
        .exit(0)
        .stdout
        .trim()
        .to_string()
}

/// The `note` records of the newest run: (key, value), in order.
fn notes(dev: &Device) -> Vec<(String, String)> {
    dev.journal(&dev.last_run())
        .iter()
        .filter(|r| r["type"] == "note")
        .map(|r| {
            (
                r["key"].as_str().unwrap().to_string(),
                r["value"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn note(dev: &Device, key: &str) -> Option<String> {
    notes(dev)
        .into_iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
}

/// Where in the command log the first line containing `needle` is.
fn position(dev: &Device, needle: &str) -> usize {
    let log = dev.command_log();
    log.iter()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("`{needle}` is not in the command log:\n{}", log.join("\n")))
}

fn summary(dev: &Device, step: &str) -> String {
    dev.last_run_status()["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == step)
        .map(|s| s["summary"].as_str().unwrap_or("").to_string())
        .unwrap()
}

#[test]
fn the_user_is_told_in_their_session_and_consents_before_anything_changes() {
    let dev = Sandbox::new().build();
    policy(&dev, &["restart_deferrals=2"]);
    // The policy itself shows nothing: the daemon does.
    assert!(dialogs(&dev).is_empty());
    answers(&dev, &["button1", "button1"]);
    dev.clear_command_log();
    dev.boot().exit(0);
    assert!(
        ea(&dev).starts_with("<result>paused restart "),
        "{}",
        ea(&dev)
    );

    let shown = dialogs(&dev);
    assert_eq!(shown.len(), 2, "{shown:?}");
    // swiftDialog, as root in alice's session (uid 501): `launchctl asuser 501 dialog …`.
    let [prog, uid, who, _, args] = &shown[0];
    assert_eq!(
        (prog.as_str(), uid.as_str(), who.as_str()),
        ("dialog", "uid=501", "user=root")
    );
    assert!(args.contains("--title Your Mac needs a repair"), "{args}");
    assert!(
        args.contains("signed out of Company Portal, Teams and Office"),
        "{args}"
    );
    assert!(args.contains("--button1text Start now"), "{args}");
    assert!(args.contains("--button2text Defer (2 left)"), "{args}");
    assert!(args.contains("You can defer 2 more time(s)."), "{args}");
    // notify_timeout_minutes = 5: the prompt gives up after 300 seconds.
    assert!(args.contains("--timer 300"), "{args}");
    assert!(
        position(&dev, "/bin/launchctl asuser 501 /usr/local/bin/dialog")
            < position(&dev, "pgrep -x Company Portal")
    );
    // Before the restart: a notice with a countdown (restart_countdown_minutes = 2), no defer.
    let [_, _, _, _, args] = &shown[1];
    assert!(args.contains("--title Your Mac restarts"), "{args}");
    assert!(
        args.contains("--timer 120") && !args.contains("--button2text"),
        "{args}"
    );
    assert!(
        args.contains("restarts 1 minute(s) after this countdown ends"),
        "{args}"
    );
    let log = dev.command_log();
    let second = log
        .iter()
        .rposition(|l| l.contains("/usr/local/bin/dialog"))
        .unwrap();
    assert!(second < position(&dev, "/sbin/shutdown -r +1"));
    assert!(second > position(&dev, "removeFramework"));

    assert!(note(&dev, "consent:tell-user")
        .unwrap()
        .contains("the user agreed (swiftDialog, alice)"));
    assert_eq!(note(&dev, "deferrals:tell-user"), None);
    assert!(summary(&dev, "tell-user").contains("told alice (swiftDialog); the user agreed"));
    assert!(summary(&dev, "tell-user-restart").contains("countdown"));
}

#[test]
fn deferrals_are_journaled_and_the_deadline_restarts_with_a_countdown() {
    let dev = Sandbox::new().build();
    policy(
        &dev,
        &["restart_deferrals=2", "restart_reprompt_minutes=0.01"],
    );
    // Defer, close the dialog (cmd+Q, a deferral too), then no deferral is left.
    answers(&dev, &["button2", "quit", "button1", "timeout"]);
    dev.boot().exit(0);
    assert!(
        ea(&dev).starts_with("<result>paused restart "),
        "{}",
        ea(&dev)
    );
    let shown = dialogs(&dev);
    assert_eq!(shown.len(), 4, "{shown:?}");
    assert!(shown[0][4].contains("--button2text Defer (2 left)"));
    assert!(shown[1][4].contains("--button2text Defer (1 left)"));
    // The third prompt is the final notice: no defer button, the countdown, why.
    let third = &shown[2][4];
    assert!(!third.contains("--button2text"), "{third}");
    assert!(
        third.contains("No deferral is left (2 of 2). This starts when the countdown ends (2:00)."),
        "{third}"
    );
    assert!(third.contains("--timer 120"), "{third}");
    // Each deferral journaled, with its time and how; the count kept.
    assert_eq!(note(&dev, "deferrals:tell-user").as_deref(), Some("2"));
    let first = note(&dev, "deferral:tell-user:1").unwrap();
    assert!(
        first.contains("the user deferred (swiftDialog, alice); deferral 1 of 2; next prompt at "),
        "{first}"
    );
    let second = note(&dev, "deferral:tell-user:2").unwrap();
    assert!(second.contains("the user closed the prompt"), "{second}");
    assert!(note(&dev, "deferred-until:tell-user").is_some());
    assert!(summary(&dev, "tell-user").contains("going ahead: no deferral is left (2 of 2)"));
    // A timed-out restart countdown still restarts.
    assert!(
        dev.exists("/var/db/sandbox/pending-reboot")
            || dev
                .command_log()
                .iter()
                .any(|l| l.contains("/sbin/shutdown -r +1"))
    );
}

#[test]
fn a_deadline_that_has_passed_leaves_no_deferral() {
    let dev = Sandbox::new().build();
    policy(
        &dev,
        &[
            "restart_deferrals=5",
            "restart_deadline=2020-01-01T00:00:00Z",
        ],
    );
    dev.boot().exit(0);
    let shown = dialogs(&dev);
    assert_eq!(shown.len(), 2, "{shown:?}");
    assert!(!shown[0][4].contains("--button2text"));
    assert!(
        shown[0][4].contains("The deadline has come."),
        "{}",
        shown[0][4]
    );
    assert_eq!(note(&dev, "deferrals:tell-user"), None);
    assert!(summary(&dev, "tell-user").contains("going ahead: the deadline has come"));
}

#[test]
fn an_unanswered_prompt_means_what_the_admin_chose() {
    // consent: the first timeout goes ahead.
    let dev = Sandbox::new().build();
    policy(
        &dev,
        &["restart_deferrals=1", "notify_timeout_means=consent"],
    );
    answers(&dev, &["timeout"]);
    dev.boot().exit(0);
    assert!(
        ea(&dev).starts_with("<result>paused restart "),
        "{}",
        ea(&dev)
    );
    assert_eq!(dialogs(&dev).len(), 2);
    assert_eq!(note(&dev, "deferrals:tell-user"), None);
    assert!(
        summary(&dev, "tell-user").contains("which counts as consent (timeout_means = consent)")
    );

    // defer: the timeout is a deferral; re-prompted, the next timeout finds none left.
    let dev = Sandbox::new().build();
    policy(
        &dev,
        &[
            "restart_deferrals=1",
            "notify_timeout_means=defer",
            "restart_reprompt_minutes=0.01",
        ],
    );
    answers(&dev, &["timeout", "timeout", "timeout"]);
    dev.boot().exit(0);
    assert!(
        ea(&dev).starts_with("<result>paused restart "),
        "{}",
        ea(&dev)
    );
    assert_eq!(dialogs(&dev).len(), 3);
    assert_eq!(note(&dev, "deferrals:tell-user").as_deref(), Some("1"));
    assert!(note(&dev, "deferral:tell-user:1")
        .unwrap()
        .contains("no answer before the prompt timed out"));

    // A bad value is refused by the policy before anything changes (exit 2).
    let dev = Sandbox::new().build();
    for (bad, says) in [
        (
            "notify_timeout_means=maybe",
            "timeout_means must be `consent` or `defer`, not `maybe`",
        ),
        ("restart_deferrals=-1", "restart_deferrals=-1"),
        ("restart_deadline=soon", "deadline must be empty, a time"),
    ] {
        let out = dev
            .reenroll(&[
                "jamf-policy",
                "/",
                "Mac",
                "alice",
                "intune_settle_minutes=0",
                "operator=remote",
                "settle_override=yes",
                bad,
            ])
            .run();
        assert_eq!(out.code, Some(2), "{out}");
        out.stderr_contains(says);
    }
    assert!(dev.run_ids().is_empty());
}

#[test]
fn nobody_logged_in_means_no_prompt_and_the_run_goes_ahead() {
    let dev = Sandbox::new().build();
    dev.write("/var/db/sandbox/console-user", "");
    policy(&dev, &["restart_deferrals=3"]);
    dev.boot().exit(0);
    assert!(
        ea(&dev).starts_with("<result>paused restart "),
        "{}",
        ea(&dev)
    );
    assert!(dialogs(&dev).is_empty());
    assert!(!dev
        .command_log()
        .iter()
        .any(|l| l.contains("dialog") || l.contains("osascript")));
    assert!(summary(&dev, "tell-user").contains("nobody is logged in at the console"));
    assert!(summary(&dev, "tell-user-restart").contains("nobody is logged in at the console"));
}

#[test]
fn without_swiftdialog_an_applescript_dialog_runs_as_the_user() {
    let dev = Sandbox::new().build();
    dev.remove("/usr/local/bin/dialog");
    policy(
        &dev,
        &["restart_deferrals=1", "restart_reprompt_minutes=0.01"],
    );
    answers(&dev, &["button2", "button1", "button1"]);
    dev.boot().exit(0);
    assert!(
        ea(&dev).starts_with("<result>paused restart "),
        "{}",
        ea(&dev)
    );
    let shown = dialogs(&dev);
    assert_eq!(shown.len(), 3, "{shown:?}");
    // As alice, in her session: `launchctl asuser 501 sudo -u alice osascript -e …`.
    let [prog, uid, who, _, args] = &shown[0];
    assert_eq!(
        (prog.as_str(), uid.as_str(), who.as_str()),
        ("osascript", "uid=501", "user=alice")
    );
    assert!(args.starts_with("-e display dialog "), "{args}");
    assert!(args.contains(r#"buttons {"Defer (1 left)", "Start now"} default button "Start now" giving up after 300"#), "{args}");
    position(
        &dev,
        "/bin/launchctl asuser 501 /usr/bin/sudo -u alice /usr/bin/osascript -e display dialog",
    );
    assert!(note(&dev, "deferral:tell-user:1")
        .unwrap()
        .contains("(AppleScript, alice)"));
    // The final notice: one button, giving up after the countdown.
    assert!(
        shown[1][4].contains(r#"buttons {"Start now"}"#)
            && shown[1][4].contains("giving up after 120")
    );
    assert!(summary(&dev, "tell-user").contains("(AppleScript)"));
}

#[test]
fn the_fakes_refuse_a_dialog_outside_the_users_session() {
    let dev = Sandbox::new().build();
    // Root outside any session: macOS shows nothing.
    let out = std::process::Command::new(dev.path("/usr/bin/osascript"))
        .args(["-e", "display dialog \"x\" buttons {\"OK\"}"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("No user interaction allowed. (-1713)"));
    let out = std::process::Command::new(dev.path("/usr/local/bin/dialog"))
        .args(["--title", "x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    // In the session but as root: AppleScript still refuses (it must run as the user).
    let out = std::process::Command::new(dev.path("/bin/launchctl"))
        .args([
            "asuser",
            "501",
            "/usr/bin/osascript",
            "-e",
            "display dialog \"x\" buttons {\"OK\"}",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(dialogs(&dev).is_empty());
}

/// While deferred the daemon waits in the state `deferred` (status, JSON, extension attribute);
/// a signal pauses it, and a resume keeps the count; so does a crash.
#[test]
fn the_deferred_state_is_shown_and_survives_a_signal_and_a_crash() {
    let dev = Sandbox::new().build();
    policy(
        &dev,
        &["restart_deferrals=3", "restart_reprompt_minutes=60"],
    );
    let run = dev.last_run();
    answers(&dev, &["button2", "button2", "button1"]);
    // What the LaunchDaemon runs, started here so the test can signal it.
    let mut daemon = dev
        .reenroll(&["resume", &run, "--yes", "--from-daemon"])
        .spawn();
    let started = Instant::now();
    let status = loop {
        let s = dev.last_run_status();
        if s["state"] == "deferred" {
            break s;
        }
        if let Ok(Some(exit)) = daemon.try_wait() {
            panic!("the daemon ended ({exit}) without deferring: {s:#}");
        }
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "never deferred: {s:#}"
        );
        std::thread::yield_now();
    };
    // The document, with its new state and `deferred`, matches docs/schemas/status.schema.json.
    let doc = dev.status();
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("docs/schemas/status.schema.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let validator = jsonschema::draft202012::new(&schema).unwrap();
    let errors: Vec<String> = validator.iter_errors(&doc).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:?}\n{doc:#}");
    assert_eq!(status["deferred"]["step"], "tell-user");
    assert_eq!(status["deferred"]["deferrals"], 1);
    assert!(status["deferred"]["until"].as_str().unwrap().ends_with('Z'));
    assert!(
        ea(&dev).starts_with("<result>deferred tell-user "),
        "{}",
        ea(&dev)
    );
    dev.reenroll(&["status"])
        .exit(0)
        .stdout_contains("deferred")
        .stdout_contains("the user at the Mac deferred `tell-user` (1 time(s))");
    // A rollback now would race the live run: refused.
    assert_eq!(dev.reenroll(&["rollback", "--yes"]).run().code, Some(4));

    // SIGTERM (logout, shutdown): the wait pauses the run.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(daemon.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let exit = daemon.wait().unwrap();
    assert_eq!(exit.code(), Some(3));
    let s = dev.last_run_status();
    assert_eq!(s["state"], "paused", "{s:#}");
    assert!(s["paused"]
        .as_str()
        .unwrap()
        .contains("deferred by the user until"));
    assert!(s.get("deferred").is_none());

    // The next start (the daemon at the restart) waits out the rest of the re-prompt interval,
    // here cut short; the count is kept: one deferral used, two left; a crash right after the
    // second deferral is journaled keeps it too.
    dev.reenroll(&["resume", "--yes", "--set", "restart_reprompt_minutes=0.01"])
        .fault("crash@deferred:tell-user")
        .killed();
    assert_eq!(note(&dev, "deferrals:tell-user").as_deref(), Some("2"));
    assert_eq!(dev.last_run_status()["state"], "interrupted");
    dev.boot().exit(0);
    assert!(
        ea(&dev).starts_with("<result>paused restart "),
        "{}",
        ea(&dev)
    );
    let shown = dialogs(&dev);
    assert_eq!(shown.len(), 4, "{shown:?}");
    assert!(shown[0][4].contains("Defer (3 left)"));
    assert!(shown[1][4].contains("Defer (2 left)"));
    assert!(shown[2][4].contains("Defer (1 left)"), "{}", shown[2][4]);
    assert_eq!(note(&dev, "deferrals:tell-user").as_deref(), Some("2"));
    assert!(note(&dev, "consent:tell-user").is_some());
    // A start that finds the run interrupted while the user had deferred (the Mac restarted, the
    // user logged out) is no crash: the daemon's crash-loop count starts again.
    assert_eq!(note(&dev, "daemon-crashes").as_deref(), Some("0"));
}

/// reregister also signs the user out (the keychain purge): it tells them first, with the same
/// variables, and a deferral holds everything back.
#[test]
fn reregister_tells_the_user_before_signing_them_out() {
    let dev = Sandbox::new().build();
    let out = dev
        .reenroll(&[
            "jamf-policy",
            "/",
            "Alice's MacBook Pro",
            "alice",
            "playbook=reregister",
            "restart_deferrals=1 restart_reprompt_minutes=0.01",
        ])
        .run();
    assert_eq!(out.code, Some(0), "{out}");
    answers(&dev, &["button2", "button1"]);
    dev.clear_command_log();
    dev.boot().exit(0);
    let shown = dialogs(&dev);
    assert_eq!(shown.len(), 2, "{shown:?}");
    let [prog, uid, _, answer, args] = &shown[0];
    assert_eq!((prog.as_str(), uid.as_str()), ("dialog", "uid=501"));
    assert_eq!(answer, "button2");
    assert!(
        args.contains("--title Your Mac's registration needs a repair"),
        "{args}"
    );
    assert!(args.contains("--button2text Defer (1 left)"), "{args}");
    assert_eq!(note(&dev, "deferrals:tell-user").as_deref(), Some("1"));
    // Both prompts came before the first change that affects the user.
    let log = dev.command_log();
    let last_dialog = log
        .iter()
        .rposition(|l| l.contains("/usr/local/bin/dialog"))
        .unwrap();
    assert!(last_dialog < position(&dev, "pgrep -x Company Portal"));
    let said = summary(&dev, "tell-user");
    assert!(said.contains("no deferral is left (1 of 1)"), "{said}");
}
