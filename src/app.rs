//! Dispatch: each subcommand resolved into settings, run, and mapped to an exit code.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::cli::{Cli, Command, PlaybooksCmd, SandboxCmd};
use crate::engine::{self, Ctx, LOG_FILE};
use crate::error;
use crate::executor;
use crate::report::{self, Printer};

pub fn main(cli: Cli) -> i32 {
    let g = &cli.global;
    let changes = matches!(
        cli.command,
        Command::Run(_) | Command::Resume(_) | Command::Rollback(_) | Command::Purge { .. }
    );
    let log_file = if changes {
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
    match dispatch(cli) {
        Ok(code) => code,
        Err(e) => {
            let code = error::code_of(&e);
            eprintln!("reenroll: {e:#}");
            code
        }
    }
}

fn dispatch(cli: Cli) -> Result<i32> {
    let g = cli.global.clone();
    match cli.command {
        Command::Plan(a) => {
            let pb = engine::load_playbook(a.playbook.as_deref())?;
            let (vars, sources) = engine::resolve_vars(&pb, &a.set, "command line")?;
            let ctx = Ctx::new(&g)?;
            let report = crate::plan::plan(&ctx, &pb, &vars, &sources)?;
            if a.json {
                Printer::new(true).json(&report);
            } else {
                print!("{}", report::render_plan(&report));
            }
            Ok(error::OK)
        }
        Command::Run(a) => {
            let pb = engine::load_playbook(a.playbook.as_deref())?;
            let (vars, sources) = engine::resolve_vars(&pb, &a.set, "command line")?;
            let ctx = Ctx::new(&g)?;
            ctx.guard_changes()?;
            ctx.guard_root(&pb)?;
            let printer = Printer::new(false);
            if !a.yes {
                let report = crate::plan::plan(&ctx, &pb, &vars, &sources)?;
                print!("{}", report::render_plan(&report));
                if !engine::confirm(&format!(
                    "Run playbook `{}` on {}?",
                    pb.name,
                    crate::plan::describe_device(&ctx)
                ))? {
                    printer.line("nothing was changed");
                    return Ok(error::OK);
                }
            }
            let mut options = BTreeMap::new();
            if a.force {
                options.insert("force".to_string(), "true".to_string());
            }
            if a.allow_multiple {
                options.insert("allow_multiple".to_string(), "true".to_string());
            }
            let ended = executor::run(&ctx, pb, vars, sources, options, &printer)?;
            Ok(ended.exit_code())
        }
        Command::Resume(a) => {
            let ctx = Ctx::new(&g)?;
            ctx.guard_changes()?;
            let printer = Printer::new(false);
            let flags = [("force", a.force), ("allow_multiple", a.allow_multiple)]
                .into_iter()
                .filter(|(_, on)| *on)
                .map(|(k, _)| (k.to_string(), "true".to_string()))
                .collect();
            let ended = executor::resume(
                &ctx,
                a.run.as_deref(),
                &a.confirm,
                &a.set,
                flags,
                a.from_daemon,
                &printer,
            )?;
            Ok(ended.exit_code())
        }
        Command::Rollback(a) => {
            let ctx = Ctx::new(&g)?;
            ctx.guard_changes()?;
            if !a.yes && !engine::confirm("Roll back the run, restoring every reversible change?")?
            {
                return Ok(error::OK);
            }
            let printer = Printer::new(false);
            let report = executor::rollback(&ctx, a.run.as_deref(), &printer)?;
            Ok(if report.failures.is_empty() {
                error::OK
            } else {
                error::FAILED
            })
        }
        Command::Status(a) => {
            let ctx = Ctx::new(&g)?;
            let report = executor::status(&ctx, a.run.as_deref())?;
            if a.json {
                Printer::new(true).json(&report);
            } else {
                print!("{}", report::render_status(&report));
            }
            Ok(error::OK)
        }
        Command::Playbooks { cmd } => {
            match cmd {
                None => {
                    for (name, src) in crate::playbook::embedded::EMBEDDED {
                        let pb = crate::playbook::Playbook::parse(src, name)?;
                        println!("{name:<12} {}", pb.description.lines().next().unwrap_or(""));
                    }
                }
                Some(PlaybooksCmd::Show { name }) => match crate::playbook::embedded::get(&name) {
                    Some(src) => print!("{src}"),
                    None => {
                        return Err(error::invalid(format!(
                            "no embedded playbook `{name}` (see `reenroll playbooks`)"
                        )))
                    }
                },
            }
            Ok(error::OK)
        }
        Command::Sandbox(a) => {
            match a.cmd {
                Some(SandboxCmd::Boot { dir }) => {
                    let dir = dir.or(g.root.clone()).ok_or_else(|| {
                        error::invalid("sandbox boot: which sandbox? give DIR (or --root DIR)")
                    })?;
                    let report = crate::sandbox::boot(&dir)?;
                    println!("{report}");
                }
                None => {
                    let dir = a.dir.ok_or_else(|| error::invalid("sandbox: give the folder to build the fake Mac in: `reenroll sandbox DIR`"))?;
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
                    let summary = crate::sandbox::create(&dir, &opts).with_context(|| {
                        format!("building a sandbox device in {}", dir.display())
                    })?;
                    println!("{summary}");
                    if let Some(sym) = &a.symptom {
                        crate::diagnose::plant_symptom(&dir, sym)?;
                        println!("planted the evidence of `{sym}`");
                    }
                }
            }
            Ok(error::OK)
        }
        Command::Demo => crate::demo::run(),
        Command::Diagnose { server_log, json } => {
            let ctx = Ctx::new(&g)?;
            let opts = crate::diagnose::DiagnoseOptions {
                server_log,
                now: std::time::SystemTime::now(),
            };
            let report = crate::diagnose::diagnose(&ctx.device, &opts)?;
            if json {
                Printer::new(true).json(&report);
            } else {
                print!("{}", report.render(80));
            }
            Ok(report.exit_code())
        }
        Command::Server {
            cmd: crate::cli::ServerCmd::Cleanup(a),
        } => crate::server::command::cleanup(&Ctx::new(&g)?, &a),
        Command::Purge { older_than, yes } => {
            let d = humantime::parse_duration(&older_than).map_err(|e| {
                error::invalid(format!("--older-than {older_than}: {e} (e.g. 30d, 12h)"))
            })?;
            let ctx = Ctx::new(&g)?;
            ctx.guard_changes()?;
            if !yes && !engine::confirm(&format!("Delete the quarantine of finished runs older than {older_than}? Their removals can no longer be rolled back."))? {
                return Ok(error::OK);
            }
            let printer = Printer::new(false);
            let n = executor::purge(&ctx, d, &printer)?;
            printer.line(&format!("{n} run(s) purged"));
            Ok(error::OK)
        }
        Command::KeychainHelper {
            user,
            uid,
            home,
            system,
        } => {
            let ctx = Ctx::new(&g)?;
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
    }
}
