//! Dispatch: each subcommand resolved into settings, run, and mapped to an exit code.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::cli::{Cli, Command, Global, PlaybooksCmd, SandboxCmd};
use crate::device::LOG_FILE;
use crate::engine::{self, Ctx};
use crate::error;
use crate::executor;
use crate::output::Printer;
use crate::report;

pub fn main(cli: Cli) -> i32 {
    let g = &cli.global;
    let changes = matches!(
        cli.command,
        Command::Run(_)
            | Command::Resume(_)
            | Command::Rollback(_)
            | Command::Purge { .. }
            | Command::JamfPolicy { .. }
    );
    // A --root that is not a sandbox device: no log folder is created inside it (the command
    // refuses it in `ctx_of`).
    let sandbox_root = g.root.as_deref().is_none_or(is_sandbox);
    let log_file = if changes && sandbox_root {
        match &g.root {
            Some(r) => Some(r.join(LOG_FILE.trim_start_matches('/'))),
            None if cfg!(target_os = "macos") && nix::unistd::geteuid().is_root() => {
                Some(PathBuf::from(LOG_FILE))
            }
            None => None,
        }
    } else {
        None
    };
    crate::logging::init(g.verbose, g.quiet, log_file.as_deref());
    if !changes {
        // Read-only commands end quietly when their reader goes away (`reenroll plan | head`),
        // as Unix tools do. Commands that change a device keep ignoring it: their output goes
        // through the Printer, which never stops a step for a closed pipe.
        // SAFETY: restoring the default disposition of SIGPIPE before any thread is started.
        let _ = unsafe {
            nix::sys::signal::signal(
                nix::sys::signal::Signal::SIGPIPE,
                nix::sys::signal::SigHandler::SigDfl,
            )
        };
    }
    match dispatch(cli) {
        Ok(code) => code,
        Err(e) => {
            let e = permission_refusal(e, nix::unistd::geteuid().is_root());
            let code = error::code_of(&e);
            eprintln!("reenroll: {e:#}");
            code
        }
    }
}

/// Whether DIR is a sandbox device `reenroll sandbox` built (it holds the marker).
fn is_sandbox(dir: &std::path::Path) -> bool {
    dir.join(crate::sandbox::MARKER.trim_start_matches('/'))
        .is_file()
}

/// Not root, and refused by the file system (a state folder or a sandbox that belongs to root):
/// one message and exit 4 rather than a raw "Permission denied (os error 13)" and exit 1. As
/// root, a permission error is a real failure and stays one.
fn permission_refusal(e: anyhow::Error, root: bool) -> anyhow::Error {
    if root || error::code_of(&e) != error::FAILED {
        return e;
    }
    let denied = e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::PermissionDenied)
            || c.downcast_ref::<nix::errno::Errno>()
                .is_some_and(|n| matches!(n, nix::errno::Errno::EACCES | nix::errno::Errno::EPERM))
    });
    if !denied {
        return e;
    }
    error::refused(format!(
        "permission denied ({e}): this needs root; run reenroll with sudo (or as the owner of the sandbox device)"
    ))
}

/// The command tree the completion scripts are generated from: the clap definitions the binary
/// parses with (so they never drift), minus what `--help` hides. clap_complete offers hidden
/// subcommands and arguments too (clap-rs/clap#1335) and clap cannot remove either, so the tree
/// is re-assembled from the visible parts; only the names, abouts and arguments matter to it.
fn completion_command() -> clap::Command {
    fn visible(c: &clap::Command) -> clap::Command {
        let mut out = clap::Command::new(c.get_name().to_string())
            .args(c.get_arguments().filter(|a| !a.is_hide_set()).cloned())
            .subcommands(
                c.get_subcommands()
                    .filter(|s| !s.is_hide_set())
                    .map(visible),
            );
        if let Some(about) = c.get_about() {
            out = out.about(about.clone());
        }
        out
    }
    // The same version string `#[command(version)]` gives the parser.
    visible(&<Cli as clap::CommandFactory>::command()).version(env!("CARGO_PKG_VERSION"))
}

/// The device and state folder the global options name. Every command refuses a `--root` that
/// is missing or not a sandbox device the same way (exit 2), before it creates anything there.
fn ctx_of(g: &Global) -> Result<Ctx> {
    if let Some(r) = &g.root {
        if !r.exists() {
            return Err(error::invalid(format!(
                "--root {}: no such folder; create a sandbox device with `reenroll sandbox {}`",
                r.display(),
                r.display()
            )));
        }
        if !is_sandbox(r) {
            return Err(error::invalid(format!(
                "--root {}: not a sandbox device (no {} inside); create one with `reenroll sandbox DIR`",
                r.display(),
                crate::sandbox::MARKER.trim_start_matches('/')
            )));
        }
    }
    Ctx::new(g.root.as_deref(), g.state_dir.as_deref())
}

fn dispatch(cli: Cli) -> Result<i32> {
    let g = cli.global.clone();
    match cli.command {
        Command::Plan(a) => plan(&g, a),
        Command::Run(a) => run(&g, a),
        Command::Resume(a) => resume(&g, a),
        Command::Rollback(a) => rollback(&g, a),
        Command::Status(a) => status(&g, a),
        Command::Playbooks { json, cmd } => playbooks(json, cmd),
        Command::Sandbox(a) => sandbox(&g, a),
        Command::Demo => crate::demo::run(),
        Command::JamfPolicy { params } => jamf_policy(&g, &params),
        Command::Diagnose {
            server_log,
            json,
            log_window,
        } => diagnose(&g, server_log, json, &log_window),
        Command::Server {
            cmd: crate::cli::ServerCmd::Cleanup(a),
        } => server_cleanup(&g, a),
        Command::Purge { older_than, yes } => purge(&g, older_than, yes),
        Command::KeychainHelper {
            user,
            uid,
            home,
            system,
        } => keychain_helper(&g, user, uid, home, system),
        Command::Completions { shell } => {
            let mut cmd = completion_command();
            clap_complete::generate(shell, &mut cmd, "reenroll", &mut std::io::stdout());
            Ok(error::OK)
        }
        Command::Man { dir } => man(dir),
    }
}

fn plan(g: &Global, a: crate::cli::PlanArgs) -> Result<i32> {
    let pb = engine::load_playbook(a.playbook.as_deref())?;
    let ctx = ctx_of(g)?;
    let (vars, sources, notes) = engine::resolve_vars(&ctx.device, &pb, &a.set, &[])?;
    // A run that has not ended comes first: finishing it is resume or rollback, not a new run.
    let runs = executor::all_runs(&ctx).unwrap_or_default();
    let unfinished = unfinished_run(&ctx, &runs);
    let mut report = crate::plan::plan(&ctx, &pb, &vars, &sources)?;
    report.warnings.extend(notes);
    report.warnings.extend(survivors(&runs));
    if a.json {
        Printer::new(true).json(&report)?;
    } else {
        let detail = if a.full {
            report::Detail::Full
        } else if a.summary {
            report::Detail::Summary
        } else {
            report::Detail::Grouped
        };
        let view = report::PlanView {
            unfinished: unfinished.as_ref(),
            ..report::PlanView::stdout(detail)
        };
        print!("{}", report::render_plan(&report, &view));
    }
    if !report.server_access.is_empty() {
        // Credentials are configured but do not work: `run` would refuse (exit 4), so does plan.
        // A plan is still written with --out (nothing depends on it before it is run).
        tracing::warn!(
            "server credentials do not work: {}",
            report.server_access.join("; ")
        );
    }
    if let Some(out) = &a.out {
        let fp = crate::planfile::save(out, &report, &pb, &vars, &sources)?;
        if !a.json {
            println!("saved to {} (fingerprint {})", out.display(), &fp[..16]);
            println!(
                "execute exactly this plan with `{}`",
                ctx.device.hint(&format!("run --plan {}", out.display()))
            );
        }
    }
    Ok(if report.server_access.is_empty() {
        error::OK
    } else {
        error::REFUSED
    })
}

/// The newest run that has not ended (paused, waiting, interrupted, failed, still running, or
/// owing a rollback), with the commands that finish it.
fn unfinished_run(
    ctx: &Ctx,
    runs: &[(
        crate::journal::state::RunView,
        crate::journal::state::RunState,
        Vec<crate::journal::Record>,
    )],
) -> Option<report::Unfinished> {
    use crate::journal::state::RunState;
    let (view, state, _) = runs.iter().rev().find(|(_, s, _)| {
        matches!(
            s,
            RunState::Paused
                | RunState::Interrupted
                | RunState::Failed
                | RunState::Running
                | RunState::RollbackIncomplete
        )
    })?;
    let sudo = |args: &str| {
        let hint = ctx.device.hint(args);
        if ctx.device.is_sandbox() {
            hint
        } else {
            format!("sudo {hint}")
        }
    };
    let (resume, rollback) = match state {
        // Another process has it: only `status` can say more.
        RunState::Running => (None, None),
        // A rollback was started: it is finished by rollback, never carried forward.
        _ if view.rollback_started || *state == RunState::RollbackIncomplete => {
            (None, Some(sudo(&format!("rollback {}", view.id))))
        }
        _ => (
            Some(sudo(&format!("resume {}", view.id))),
            Some(sudo(&format!("rollback {}", view.id))),
        ),
    };
    let paused = (*state == RunState::Paused)
        .then_some(view.paused.as_ref())
        .flatten();
    Some(report::Unfinished {
        id: view.id.clone(),
        state: match state {
            RunState::Running => {
                "running (another reenroll process has it; see `reenroll status`)".to_string()
            }
            s => s.as_str().to_string(),
        },
        why: paused.and_then(|(_, why)| why.lines().next().map(str::to_string)),
        step: paused.and_then(|(step, _)| step.clone()).or_else(|| {
            (*state != RunState::Running)
                .then(|| view.last_step_started.clone())
                .flatten()
        }),
        resume,
        rollback,
    })
}

/// A warning for the newest run that ended with exceptions (paths it could not remove, or that
/// were still there when it checked): a new run meets them again.
fn survivors(
    runs: &[(
        crate::journal::state::RunView,
        crate::journal::state::RunState,
        Vec<crate::journal::Record>,
    )],
) -> Option<String> {
    let (view, state, _) = runs.last()?;
    if *state != crate::journal::state::RunState::Completed || view.exceptions.is_empty() {
        return None;
    }
    let shown: Vec<&str> = view.exceptions.iter().take(3).map(String::as_str).collect();
    let more = view.exceptions.len() - shown.len();
    Some(format!(
        "the previous run {} completed with {} exception(s), what it could not remove or found still there: {}{}",
        view.id,
        view.exceptions.len(),
        shown.join("; "),
        if more > 0 {
            format!("; and {more} more (`reenroll status {}`)", view.id)
        } else {
            String::new()
        }
    ))
}

/// Before a run changes anything: the configured API credentials must work for what the server
/// steps do themselves (token, reachability, read privilege; GET requests and token POSTs only).
/// Refused (exit 4) otherwise, nothing changed. The Jamf Pro version learned here is handed to
/// the run (`jamf-pro-version`), which journals it.
fn preflight_servers(
    ctx: &Ctx,
    pb: &crate::playbook::Playbook,
    vars: &BTreeMap<String, String>,
    options: &mut BTreeMap<String, String>,
) -> Result<()> {
    let facts = crate::plan::gather_facts(ctx, pb, vars);
    let access = crate::plan::server_access(ctx, pb, vars, &facts);
    if !access.problems.is_empty() {
        return Err(error::refused(format!(
            "the server credentials are configured but do not work, so the server steps could not be done once the device is changed; nothing was changed:\n  {}\nFix the credentials (docs/server.md), or remove them to leave the server steps to an operator",
            access.problems.join("\n  ")
        )));
    }
    if let Some(v) = access.jamf_version {
        options.insert(crate::server::jamf::VERSION_NOTE.to_string(), v);
    }
    Ok(())
}

fn run(g: &Global, a: crate::cli::RunArgs) -> Result<i32> {
    let ctx = ctx_of(g)?;
    if a.step && !std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        return Err(error::invalid("--step asks before each step, but standard input is not a terminal: run it in a terminal, or use --yes for an unattended run"));
    }
    let (pb, vars, sources, saved) = match &a.plan {
        Some(file) => {
            if !a.set.is_empty() {
                return Err(error::invalid(
                    "--plan runs the saved plan with its saved variables; --set cannot change them",
                ));
            }
            let saved =
                crate::planfile::load(file).map_err(|e| error::invalid(format!("{e:#}")))?;
            let pb = crate::playbook::Playbook::parse(&saved.source, &saved.origin)
                .map_err(crate::playbook::PlaybookError::coded)?;
            crate::settings::check_timers(&pb, &saved.vars, &saved.var_sources)?;
            (
                pb,
                saved.vars.clone(),
                saved.var_sources.clone(),
                Some((file.clone(), saved)),
            )
        }
        None => {
            let pb = engine::load_playbook(a.playbook.as_deref())?;
            let (vars, sources, _) = engine::resolve_vars(&ctx.device, &pb, &a.set, &[])?;
            (pb, vars, sources, None)
        }
    };
    ctx.guard_changes()?;
    ctx.guard_root(&pb)?;
    let mut options = BTreeMap::new();
    preflight_servers(&ctx, &pb, &vars, &mut options)?;
    let printer = Printer::new(false);
    // Planning walks every folder to size it: only when someone will look at it.
    let needs_plan = saved.is_some() || (!a.yes && !a.step);
    let report = if needs_plan {
        Some(crate::plan::plan(&ctx, &pb, &vars, &sources)?)
    } else {
        None
    };
    if let (Some((file, saved)), Some(report)) = (&saved, &report) {
        let diffs =
            crate::planfile::differences(&saved.observed, &crate::planfile::observed(report));
        if !diffs.is_empty() {
            return Err(error::refused(format!(
                "the device no longer matches the plan in {} ({} difference{}):\n  - {}\nnothing was changed; plan again (`{}`) and review it",
                file.display(),
                diffs.len(),
                if diffs.len() == 1 { "" } else { "s" },
                diffs.join("\n  - "),
                ctx.device.hint(&format!("plan --out {}", file.display()))
            )));
        }
        printer.line(&format!(
            "the device still matches the plan in {} (fingerprint {})",
            file.display(),
            &saved.fingerprint[..16]
        ));
    }
    if let (false, false, Some(report)) = (a.yes, a.step, &report) {
        // The details first and the summary last, next to the question: on a terminal the
        // end of the output is what is in view when it is asked.
        let view = report::PlanView {
            summary_last: true,
            ..report::PlanView::stdout(report::Detail::Grouped)
        };
        print!("{}", report::render_plan(report, &view));
        if !crate::ask::confirm(&format!(
            "Run playbook `{}` on {}?",
            pb.name,
            crate::plan::describe_device(&ctx)
        ))? {
            // Declined: refused (exit 4), not done.
            printer.line("nothing was changed");
            return Ok(error::REFUSED);
        }
    }
    if a.yes || a.step {
        // No plan is shown: the managed network warning is shown all the same.
        let warning = match &report {
            Some(r) => r
                .warnings
                .iter()
                .find(|w| w.starts_with(crate::action::payloads::WARNING_START))
                .cloned(),
            None => crate::plan::managed_payloads_glance(&ctx, &pb),
        };
        if let Some(w) = warning {
            printer.line(&format!("warning: {w}"));
        }
    }
    if a.force {
        options.insert("force".to_string(), "true".to_string());
    }
    if a.allow_multiple {
        options.insert("allow_multiple".to_string(), "true".to_string());
    }
    let ended = executor::run(
        &ctx,
        pb,
        vars,
        sources,
        options,
        &a.confirm,
        a.step
            .then_some(&crate::interactive::Terminal as &dyn executor::StepPrompt),
        &printer,
    )?;
    Ok(ended.exit_code())
}

fn resume(g: &Global, a: crate::cli::ResumeArgs) -> Result<i32> {
    let ctx = ctx_of(g)?;
    if a.step && !std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        return Err(error::invalid("--step needs a terminal on standard input"));
    }
    ctx.guard_changes()?;
    let printer = Printer::new(false);
    let flags = [("force", a.force), ("allow_multiple", a.allow_multiple)]
        .into_iter()
        .filter(|(_, on)| *on)
        .map(|(k, _)| (k.to_string(), "true".to_string()))
        .collect();
    let opts = executor::ResumeOptions {
        confirms: a.confirm.clone(),
        sets: a.set.clone(),
        flags,
        from_daemon: a.from_daemon,
        prompt: a
            .step
            .then_some(&crate::interactive::Terminal as &dyn executor::StepPrompt),
    };
    let ended = executor::resume(&ctx, a.run.as_deref(), &opts, &printer)?;
    Ok(ended.exit_code())
}

fn rollback(g: &Global, a: crate::cli::RollbackArgs) -> Result<i32> {
    let ctx = ctx_of(g)?;
    ctx.guard_changes()?;
    let printer = Printer::new(false);
    // First what it would do, like `plan`; the executor checks it all again under the lock.
    let preview = match executor::rollback_preview(&ctx, a.run.as_deref()) {
        Ok(p) => p,
        // Nobody could have confirmed anyway: the invocation is what to fix first (exit 2).
        Err(e) if !a.yes && !a.dry_run => {
            crate::ask::can_ask()?;
            return Err(e);
        }
        Err(e) => return Err(e),
    };
    if let Some(at) = &preview.already_rolled_back {
        return Err(already_rolled_back(&preview.run, at));
    }
    print!("{}", report::render_rollback_preview(&preview));
    if !a.even_after_reregistration {
        if let Some(w) = executor::reregistered_warning(&preview) {
            printer.line(&format!("warning: {w}"));
        }
    }
    if a.dry_run {
        printer.line("dry run: nothing was changed");
        return Ok(error::OK);
    }
    if !a.yes && !crate::ask::confirm(&format!("Roll back run {}?", preview.run))? {
        printer.line("nothing was changed");
        return Ok(error::REFUSED);
    }
    let opts = executor::RollbackOptions {
        even_after_reregistration: a.even_after_reregistration,
    };
    let report = executor::rollback(&ctx, Some(&preview.run), opts, &printer)?;
    rollback_ended(&report)
}

/// A second rollback: refused (exit 4) like a rollback with no run to act on; nothing changes.
fn already_rolled_back(run: &str, at: &str) -> anyhow::Error {
    error::refused(format!(
        "run {run} is already rolled back (its rollback ended {at}); nothing to do"
    ))
}

/// The end of a rollback: said plainly, with its exit code.
fn rollback_ended(report: &executor::RollbackReport) -> Result<i32> {
    if let Some(at) = &report.already_rolled_back {
        return Err(already_rolled_back(&report.run, at));
    }
    if let Some(e) = &report.end_state {
        print!("{}", report::render_rollback_end(e));
    }
    Ok(if report.failures.is_empty() {
        error::OK
    } else {
        error::FAILED
    })
}

fn status(g: &Global, a: crate::cli::StatusArgs) -> Result<i32> {
    let ctx = ctx_of(g)?;
    let report = executor::status(&ctx, a.run.as_deref())?;
    if a.jamf_ea {
        println!("{}", report::jamf_extension_attribute(&report));
    } else if a.json {
        Printer::new(true).json(&report)?;
    } else {
        print!("{}", report::render_status(&report));
    }
    Ok(error::OK)
}

fn playbooks(json: bool, cmd: Option<PlaybooksCmd>) -> Result<i32> {
    match cmd {
        None | Some(PlaybooksCmd::List) => {
            let mut list = report::PlaybookList {
                playbooks: Vec::new(),
            };
            for (name, _) in crate::playbook::embedded::EMBEDDED {
                // Loaded as `plan NAME` loads it (so `origin` is the same as `show NAME`'s).
                let pb = engine::load_playbook(Some(name))?;
                if json {
                    list.playbooks.push(report::PlaybookView::of(&pb));
                    continue;
                }
                print!(
                    "{}",
                    crate::output::wrap(
                        &format!("{name:<12} "),
                        "             ",
                        pb.description.lines().next().unwrap_or(""),
                        crate::output::width()
                    )
                );
            }
            if json {
                Printer::new(true).json(&list)?;
            }
        }
        Some(PlaybooksCmd::Show {
            name,
            json: show_json,
        }) => {
            // A name or a file, validated like everywhere a playbook is taken.
            let pb = engine::load_playbook(Some(&name))?;
            if json || show_json {
                Printer::new(true).json(&report::PlaybookView::of(&pb))?;
            } else {
                print!("{}", pb.source);
            }
        }
    }
    Ok(error::OK)
}

fn sandbox(g: &Global, a: crate::cli::SandboxArgs) -> Result<i32> {
    match a.cmd {
        Some(SandboxCmd::Boot { dir }) => {
            let dir = dir.or(g.root.clone()).ok_or_else(|| {
                error::invalid("sandbox boot: which sandbox? give DIR (or --root DIR)")
            })?;
            let report = crate::sandbox::boot(&dir)?;
            Printer::new(false).line(&report.to_string());
        }
        None => {
            let dir = a.dir.ok_or_else(|| {
                error::invalid(
                    "sandbox: give the folder to build the fake Mac in: `reenroll sandbox DIR`",
                )
            })?;
            if a.symptom.as_deref() == Some("help") {
                for (name, what) in crate::diagnose::SYMPTOMS {
                    println!("{name:<28} {what}");
                }
                return Ok(error::OK);
            }
            if let Some(sym) = &a.symptom {
                if !crate::diagnose::SYMPTOMS.iter().any(|(n, _)| n == sym) {
                    return Err(error::invalid(format!(
                        "--symptom {sym}: unknown (see `reenroll sandbox --symptom help`)"
                    )));
                }
            }
            let mut opts = crate::sandbox::SandboxOptions {
                ade: a.ade,
                mdm_removal_disallowed: a.mdm_removal_disallowed,
                psso: a.psso,
                jss_offline: a.jss_offline,
                never_logged_in: a.never_logged_in.clone(),
                locked_keychains: a.locked_keychain.clone(),
                keychain_edge_cases: a.keychain_edge_cases,
                computer_name: a.computer_name.clone(),
                managed_network: a
                    .managed_network
                    .iter()
                    .map(|m| {
                        m.parse()
                            .map_err(|e| error::invalid(format!("--managed-network {m}: {e}")))
                    })
                    .collect::<Result<_>>()?,
                ..Default::default()
            };
            if !a.users.is_empty() {
                opts.users = a
                    .users
                    .iter()
                    .map(|u| {
                        u.parse()
                            .map_err(|e| error::invalid(format!("--users {u}: {e}")))
                    })
                    .collect::<Result<_>>()?;
            }
            let summary = crate::sandbox::create(&dir, &opts)
                .with_context(|| format!("building a sandbox device in {}", dir.display()))?;
            Printer::new(false).line(&summary.to_string());
            if let Some(sym) = &a.symptom {
                crate::diagnose::plant_symptom(&dir, sym)?;
                println!("planted the evidence of `{sym}`");
            }
        }
    }
    Ok(error::OK)
}

fn diagnose(g: &Global, server_log: Option<PathBuf>, json: bool, log_window: &str) -> Result<i32> {
    let window = humantime::parse_duration(log_window)
        .ok()
        .filter(|d| !d.is_zero() && *d <= crate::diagnose::MAX_LOG_WINDOW)
        .ok_or_else(|| {
            error::invalid(format!(
                "--log-window {log_window}: not a duration from 1 minute to 30 days; write a \
                 number and a unit, e.g. 24h, 2d or 90min"
            ))
        })?;
    if g.root.is_none() && !cfg!(target_os = "macos") {
        return Err(error::refused(
            "this host is not a Mac: diagnose reads a Mac's logs, profiles and keychains, and there are none here; give --root DIR to read a sandbox device (`reenroll sandbox DIR --symptom NAME`)",
        ));
    }
    let ctx = ctx_of(g)?;
    if let Some(f) = &server_log {
        if !f.is_file() {
            return Err(error::invalid(format!(
                "--server-log {}: no such file",
                f.display()
            )));
        }
    }
    let opts = crate::diagnose::DiagnoseOptions {
        server_log,
        now: std::time::SystemTime::now(),
        log_window: window,
    };
    let report = crate::diagnose::diagnose(&ctx.device, &opts)?;
    if json {
        Printer::new(true).json(&report)?;
    } else {
        print!("{}", report.render(80));
    }
    Ok(report.exit_code())
}

fn purge(g: &Global, older_than: String, yes: bool) -> Result<i32> {
    let d = humantime::parse_duration(&older_than).map_err(|e| {
        let _ = e;
        error::invalid(format!("--older-than {older_than}: not a duration; write a number and a unit, e.g. 30d, 12h or 90min"))
    })?;
    let ctx = ctx_of(g)?;
    ctx.guard_changes()?;
    if !yes && !crate::ask::confirm(&format!("Delete the quarantine of finished runs older than {older_than}? Their removals can no longer be rolled back."))? {
        Printer::new(false).line("nothing was purged");
        return Ok(error::REFUSED);
    }
    let printer = Printer::new(false);
    let n = executor::purge(&ctx, d, &printer)?;
    printer.line(&format!("{n} run(s) purged"));
    Ok(error::OK)
}

fn server_cleanup(g: &Global, a: crate::cli::ServerCleanupArgs) -> Result<i32> {
    crate::server_cleanup::cleanup(
        &ctx_of(g)?,
        &crate::server_cleanup::Request {
            serial: a.serial,
            device_ids: a.device_ids,
            computer_name: a.computer_name,
            allow_multiple: a.allow_multiple,
            all_agents: a.all_agents,
            yes: a.yes,
            json: a.json,
        },
    )
}

/// The keychain helper's side: serve one keychain's requests in the user's session.
fn keychain_helper(
    g: &Global,
    user: Option<String>,
    uid: Option<u32>,
    home: Option<String>,
    system: bool,
) -> Result<i32> {
    let ctx = ctx_of(g)?;
    let location = if system {
        crate::keychain::KeychainLocation::System
    } else {
        match (user, uid, home) {
            (Some(name), Some(uid), Some(home)) => {
                crate::keychain::KeychainLocation::User { name, uid, home }
            }
            _ => {
                return Err(error::invalid(
                    "keychain-helper needs --user, --uid and --home (or --system)",
                ))
            }
        }
    };
    let stdin = std::io::stdin();
    crate::keychain::helper::serve_location(
        &ctx.device,
        &location,
        stdin.lock(),
        std::io::stdout(),
    )?;
    Ok(error::OK)
}

fn man(dir: Option<PathBuf>) -> Result<i32> {
    let cmd = <Cli as clap::CommandFactory>::command();
    match dir {
        // reenroll.1 lists its subcommands as reenroll-plan(1) and so on: the package
        // installs those pages too, so the references resolve.
        Some(dir) => {
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            crate::manpage::write_all(cmd, &dir)
                .with_context(|| format!("writing man pages into {}", dir.display()))?;
        }
        None => {
            let page = crate::manpage::render(cmd, true)?;
            std::io::Write::write_all(&mut std::io::stdout(), page.as_bytes())
                .context("writing the man page to stdout")?;
        }
    }
    Ok(error::OK)
}

/// A Jamf Pro policy: validate, journal, hand the work to the LaunchDaemon, exit 0 within
/// seconds ("remediation scheduled"). rollback and status run right here. Every rejected call
/// (invalid parameters, exit 2; a refusal, exit 4; a failure) is logged with its reason in
/// `/var/log/reenroll.log` (inside `--root` for a sandbox), from parsing on: the policy log in
/// Jamf Pro is not the only record.
fn jamf_policy(g: &Global, params: &[String]) -> Result<i32> {
    jamf_policy_call(g, params).inspect_err(|e| {
        use crate::logging::FILE_ONLY;
        match error::code_of(e) {
            error::INVALID => tracing::warn!(target: FILE_ONLY, "jamf policy rejected: {e:#}"),
            error::REFUSED => {
                let why = format!("{e:#}");
                let why = why.strip_prefix("refused: ").unwrap_or(&why);
                tracing::warn!(target: FILE_ONLY, "jamf policy refused: {why}")
            }
            code => tracing::error!(target: FILE_ONLY, "jamf policy failed (exit {code}): {e:#}"),
        }
    })
}

fn jamf_policy_call(g: &Global, params: &[String]) -> Result<i32> {
    use crate::jamf_policy::{parse, PolicyAction};
    let req = parse(params)?;
    let ctx = ctx_of(g)?;
    let printer = Printer::new(false);
    // Credentials in the parameters go to a 0600 file in the root-only state at once (kept in
    // memory only by a dry run); the run takes the file over. Never logged or printed.
    let given = req.given_credentials()?;
    let staged = match (&given, req.action) {
        (Some(c), PolicyAction::Run | PolicyAction::Resume) => {
            ctx.guard_changes()?;
            Some(executor::StagedCredentials::write(&ctx, c)?)
        }
        (Some(c), PolicyAction::Plan) => {
            crate::server::creds::use_for_this_run(Some(
                crate::server::creds::RunCredentials::Given(c.clone()),
            ));
            None
        }
        _ => None,
    };
    tracing::info!(computer = %req.computer_name, user = %req.user, action = ?req.action, credentials = given.is_some(), "jamf policy");
    if given.is_some() && matches!(req.action, PolicyAction::Status | PolicyAction::Rollback) {
        printer.line("API credentials in the parameters are not used by this action; nothing was kept of them");
    }
    match req.action {
        PolicyAction::Status => {
            let report = executor::status(&ctx, None)?;
            print!("{}", report::render_status(&report));
            Ok(error::OK)
        }
        PolicyAction::Rollback => {
            ctx.guard_changes()?;
            let report =
                executor::rollback(&ctx, None, executor::RollbackOptions::default(), &printer)?;
            rollback_ended(&report)
        }
        PolicyAction::Resume => {
            ctx.guard_changes()?;
            if let crate::jamf_policy::ResumeCheck::Nothing(what) =
                crate::jamf_policy::check_resume(&ctx, &req.confirm)?
            {
                printer.line(&what);
                return Ok(error::OK);
            }
            let run_id =
                executor::confirm_and_hand_off(&ctx, &req.confirm, staged.as_ref(), &printer)?;
            crate::action::reboot::bootstrap_daemon(&ctx.device)?;
            printer.line(&format!(
                "remediation resumed: run {run_id} continues in the LaunchDaemon {}",
                crate::action::reboot::LABEL
            ));
            printer.line(&format!(
                "follow it in {} or with `reenroll status`",
                LOG_FILE
            ));
            Ok(error::OK)
        }
        PolicyAction::Run | PolicyAction::Plan => {
            let pb = engine::load_playbook(req.playbook.as_deref()).map_err(|e| {
                match req.playbook_param {
                    Some(n) => error::invalid(format!("parameter {n}: {e:#}")),
                    None => e,
                }
            })?;
            let jamf_sets: Vec<(String, String)> = req
                .vars
                .iter()
                .map(|(_, k, v)| (k.clone(), v.clone()))
                .collect();
            let (vars, sources, _) = engine::resolve_vars(&ctx.device, &pb, &[], &jamf_sets)
                .map_err(|e| {
                    // Name the parameter number the admin must fix.
                    let msg = format!("{e:#}");
                    match req
                        .vars
                        .iter()
                        .find(|(_, k, _)| msg.contains(&format!("`{k}`")))
                    {
                        Some((n, _, _)) => error::invalid(format!("parameter {n}: {msg}")),
                        None => e,
                    }
                })?;
            let cut = pb.below_advised(&vars);
            if !cut.is_empty() && !req.settle_override && req.action == PolicyAction::Run {
                return Err(error::invalid(format!(
                    "{}; a policy must acknowledge that with settle_override=yes (nothing was changed)",
                    cut.join("; ")
                )));
            }
            crate::jamf_policy::check_confirm(&pb, &req.confirm)?;
            // What every step will act as on this device (a server step without credentials
            // waits for an operator): the same read-only look `plan` takes.
            let planned = crate::plan::plan(&ctx, &pb, &vars, &sources)?;
            if req.action == PolicyAction::Plan {
                printer.line(&format!(
                    "action=plan: a dry run of playbook {} on this Mac; nothing was changed",
                    pb.name
                ));
                // A log: the summary, plain and unwrapped.
                let view = report::PlanView {
                    detail: report::Detail::Summary,
                    style: report::Style::log(),
                    summary_last: false,
                    unfinished: None,
                };
                print!("{}", report::render_plan(&planned, &view));
                return Ok(error::OK);
            }
            if let Some((step, lines)) =
                crate::plan::managed_payloads_at_risk(&pb, &planned.steps, &planned.facts)
            {
                if !req.managed_network_acknowledged {
                    return Err(error::refused(crate::jamf_policy::payload_refusal(
                        &step, &lines,
                    )));
                }
                tracing::warn!(target: crate::logging::FILE_ONLY, "managed_network=acknowledged: the policy runs although {} may be removed with the MDM profile (step `{step}`)", lines.join("; "));
            }
            let blocked = crate::jamf_policy::unpassable(
                &pb,
                &planned.steps,
                &req.confirm,
                req.remote_operator,
            );
            if !blocked.is_empty() {
                return Err(error::refused(crate::jamf_policy::refusal(&pb, &blocked)));
            }
            ctx.guard_changes()?;
            ctx.guard_root(&pb)?;
            let mut options = BTreeMap::new();
            preflight_servers(&ctx, &pb, &vars, &mut options)?;
            let frozen = pb.clone();
            let run_id = executor::schedule(
                &ctx,
                pb,
                vars.clone(),
                sources.clone(),
                options,
                &req.confirm,
                staged.as_ref(),
                &printer,
            )?;
            crate::action::reboot::bootstrap_daemon(&ctx.device)?;
            let handoff = crate::jamf_policy::Handoff {
                run_id: &run_id,
                pb: &frozen,
                planned: &planned,
                vars: &vars,
                sources: &sources,
                confirm: &req.confirm,
                remote: req.remote_operator,
                credentials: given.is_some(),
            };
            for line in crate::jamf_policy::summary(&handoff) {
                printer.line(&line);
            }
            Ok(error::OK)
        }
    }
}

#[cfg(test)]
mod permission_tests {
    use super::permission_refusal;
    use crate::error;

    fn denied() -> anyhow::Error {
        anyhow::Error::from(std::io::Error::from(std::io::ErrorKind::PermissionDenied))
            .context("reading the runs")
    }

    #[test]
    fn a_user_refused_by_the_file_system_is_refused_plainly() {
        let e = permission_refusal(denied(), false);
        assert_eq!(error::code_of(&e), error::REFUSED);
        let text = format!("{e:#}");
        assert!(
            text.starts_with("permission denied (reading the runs)"),
            "{text}"
        );
        assert!(text.contains("sudo"), "{text}");
        assert!(!text.contains("os error"), "{text}");
    }

    #[test]
    fn root_and_coded_errors_keep_their_own_code() {
        assert_eq!(
            error::code_of(&permission_refusal(denied(), true)),
            error::FAILED
        );
        let invalid = error::invalid("bad");
        assert_eq!(
            error::code_of(&permission_refusal(invalid, false)),
            error::INVALID
        );
        let other = anyhow::anyhow!("something else");
        assert_eq!(
            error::code_of(&permission_refusal(other, false)),
            error::FAILED
        );
    }
}
