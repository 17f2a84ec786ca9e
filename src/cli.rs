//! The command line (clap definitions only).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "reenroll",
    version,
    about = "Resumable, reversible remediation of Jamf Pro + Microsoft Entra/Intune registration on macOS",
    long_about = "reenroll runs remediation playbooks (Microsoft's \"Cause 6\" re-registration fix and lighter ones) \
through an idempotent step executor with a write-ahead journal: every change can be previewed (plan), \
resumed after a crash or restart (resume) and, where the platform allows, undone (rollback).",
    after_help = crate::error::EXIT_CODES_HELP,
    max_term_width = 80
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Args, Debug, Clone)]
pub struct Global {
    /// Act on a sandbox device under DIR: every absolute path a playbook names resolves inside it.
    #[arg(long, global = true, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Where journals live (default /Library/Application Support/reenroll, inside --root if given).
    #[arg(long, global = true, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// More log output on stderr (-v, -vv).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only errors on stderr.
    #[arg(short, long, global = true)]
    pub quiet: bool,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Preview what `run` would change (dry run; changes nothing, needs no root).
    Plan(PlanArgs),
    /// Execute a playbook.
    Run(RunArgs),
    /// Continue a paused or interrupted run from its journal.
    Resume(ResumeArgs),
    /// Undo, newest first, every reversible change a run made.
    Rollback(RollbackArgs),
    /// Show runs and the state of each step.
    Status(StatusArgs),
    /// List the embedded playbooks, or print one.
    Playbooks {
        /// Print one JSON document: each playbook's name, description and steps.
        #[arg(long)]
        json: bool,
        #[command(subcommand)]
        cmd: Option<PlaybooksCmd>,
    },
    /// Run from a Jamf Pro policy script: `reenroll jamf-policy "$@"` ($4..$11 are key=value).
    #[command(
        after_help = "Parameters 4-11, each key=value: playbook=NAME, action=run|resume|rollback|status, confirm=STEP[,STEP], or any playbook variable (intune_settle_minutes=45). Empty ones are ignored."
    )]
    JamfPolicy {
        /// $1 target volume, $2 computer name, $3 user name, $4..$11 key=value parameters.
        #[arg(allow_hyphen_values = true, num_args = 0..)]
        params: Vec<String>,
    },
    /// Build a throwaway fake Mac under DIR for tests and demos (`sandbox boot DIR` simulates a restart).
    #[command(args_conflicts_with_subcommands = true)]
    Sandbox(SandboxArgs),
    /// Walk through plan, run, status and rollback against a throwaway sandbox.
    Demo,
    /// Read the device and say which documented problem and cause it shows, with evidence.
    Diagnose {
        /// A Jamf Pro server log to read for the server-side messages.
        #[arg(long, value_name = "FILE")]
        server_log: Option<PathBuf>,
        /// Print one JSON document.
        #[arg(long)]
        json: bool,
        /// How far back to search the unified log (`log show --last`): e.g. 24h, 2d, 90min; at
        /// most 30d (searching days of the log is slow).
        #[arg(long, value_name = "DURATION", default_value = "24h")]
        log_window: String,
    },
    /// Server-side cleanup through the Jamf Pro API and Microsoft Graph.
    Server {
        #[command(subcommand)]
        cmd: ServerCmd,
    },
    /// Delete the quarantine of finished runs older than DURATION (e.g. 30d).
    Purge {
        /// Only runs that ended longer ago than this (e.g. 30d, 12h, 90min).
        #[arg(long, value_name = "DURATION")]
        older_than: String,
        /// Do not ask for confirmation.
        #[arg(long, short = 'y')]
        yes: bool,
    },
    /// Internal: serve keychain requests in a user's session (JSON lines on stdin/stdout).
    #[command(hide = true)]
    KeychainHelper {
        /// The user whose login keychain to serve.
        #[arg(long)]
        user: Option<String>,
        /// That user's uid.
        #[arg(long)]
        uid: Option<u32>,
        /// That user's home folder (Mac path).
        #[arg(long)]
        home: Option<String>,
        /// Serve the System keychain instead.
        #[arg(long)]
        system: bool,
    },
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) to stdout.
    #[command(hide = true)]
    Completions {
        /// The shell to write the script for.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) to stdout, or write it and one page per subcommand into DIR.
    #[command(hide = true)]
    Man {
        /// Write reenroll.1 and reenroll-SUBCOMMAND.1 files here instead of printing reenroll.1.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

#[derive(Args, Debug)]
pub struct PlanArgs {
    /// An embedded playbook's name or a playbook file (default: cause6).
    #[arg(value_parser = playbook_names(), hide_possible_values = true)]
    pub playbook: Option<String>,
    /// Set a playbook variable (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Print one JSON document (every change, one per path).
    #[arg(long)]
    pub json: bool,
    /// Show every path and keychain item one by one, after the summary (by default a path found
    /// in every home is one line: `~/Library/… × 2 users`).
    #[arg(long, conflicts_with_all = ["json", "summary"])]
    pub full: bool,
    /// Show only the summary: one line per step, the totals and the warnings.
    #[arg(long, conflicts_with = "json")]
    pub summary: bool,
    /// Also save the plan, with a fingerprint of what it observed, for `run --plan FILE`.
    #[arg(long, value_name = "FILE")]
    pub out: Option<std::path::PathBuf>,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    /// An embedded playbook's name or a playbook file (default: cause6).
    #[arg(value_parser = playbook_names(), hide_possible_values = true)]
    pub playbook: Option<String>,
    /// Set a playbook variable (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Record up front that the operator did this step or acknowledges it (repeatable), e.g.
    /// `--confirm escrow-deleted`: what Jamf Pro escrowed is deleted with the record.
    #[arg(long = "confirm", value_name = "STEP_ID", value_parser = step_ids(), hide_possible_values = true)]
    pub confirm: Vec<String>,
    /// Do not ask for confirmation.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Go on even when the Jamf Pro server does not answer.
    #[arg(long)]
    pub force: bool,
    /// Walk through it step by step: show each step's plan, then ask (do it, skip, details, stop).
    #[arg(long, conflicts_with = "yes")]
    pub step: bool,
    /// Execute exactly the plan saved by `plan --out FILE`; refuse if the device no longer matches it.
    #[arg(long, value_name = "FILE", conflicts_with = "playbook")]
    pub plan: Option<std::path::PathBuf>,
    /// Server steps: act on every match where one is expected (several Jamf Pro computers with
    /// the serial, several Entra devices with one device id); without it the run pauses there.
    #[arg(long)]
    pub allow_multiple: bool,
}

#[derive(Args, Debug)]
pub struct ResumeArgs {
    /// The run id (default: the newest run that can be resumed).
    pub run: Option<String>,
    /// Record that the operator did this step (repeatable).
    #[arg(long = "confirm", value_name = "STEP_ID", value_parser = step_ids(), hide_possible_values = true)]
    pub confirm: Vec<String>,
    /// Change a timer variable (only timers may change after the run started).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Accepted for symmetry; resume never asks (the run was confirmed when it started).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Go on even when the Jamf Pro server does not answer.
    #[arg(long)]
    pub force: bool,
    /// Step by step, asking before each step (needs a terminal).
    #[arg(long)]
    pub step: bool,
    /// Server steps: act on every match where one is expected (see `run --allow-multiple`).
    #[arg(long)]
    pub allow_multiple: bool,
    /// Set by the LaunchDaemon: counts attempts so a crash loop gives up.
    #[arg(long, hide = true)]
    pub from_daemon: bool,
}

#[derive(Args, Debug)]
pub struct RollbackArgs {
    /// The run id (default: the newest run).
    pub run: Option<String>,
    /// Do not ask for confirmation (the preview is still shown).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Show what would be restored and what cannot be, then stop; changes nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Roll back even a run that got past re-enrollment, putting the old registration's keychain
    /// items back onto a freshly registered Mac (refused without it).
    #[arg(long)]
    pub even_after_reregistration: bool,
}

#[derive(Args, Debug)]
pub struct StatusArgs {
    /// Only this run.
    pub run: Option<String>,
    /// Print one JSON document (runs oldest first).
    #[arg(long)]
    pub json: bool,
    /// Print a Jamf Pro extension attribute for the newest run: <result>STATE STEP DATE</result>.
    #[arg(long, conflicts_with = "json")]
    pub jamf_ea: bool,
}

#[derive(Subcommand, Debug)]
pub enum PlaybooksCmd {
    /// List the embedded playbooks (what `reenroll playbooks` does).
    List,
    /// Print a playbook's TOML (an embedded name, or a file, which is validated first).
    Show {
        /// An embedded playbook's name or a playbook file.
        #[arg(value_parser = playbook_names(), hide_possible_values = true)]
        name: String,
        /// Print one JSON document: name, description, variables and steps instead of the TOML.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args, Debug)]
pub struct SandboxArgs {
    #[command(subcommand)]
    pub cmd: Option<SandboxCmd>,
    /// The folder to build the fake Mac in (must be empty or absent).
    pub dir: Option<PathBuf>,
    /// Users to create (name or name:/home/path), comma-separated (default alice,bob).
    #[arg(long, value_delimiter = ',')]
    pub users: Vec<String>,
    /// Enrolled through Automated Device Enrollment (ADE/DEP).
    #[arg(long)]
    pub ade: bool,
    /// The MDM profile cannot be removed locally (macOS 11+ non-removable profile).
    #[arg(long)]
    pub mdm_removal_disallowed: bool,
    /// Registered through Platform SSO (device key in the Secure Enclave).
    #[arg(long)]
    pub psso: bool,
    /// The Jamf Pro server does not answer.
    #[arg(long)]
    pub jss_offline: bool,
    /// Users who never logged in: no login keychain file (comma-separated; not the first user).
    #[arg(long, value_delimiter = ',', value_name = "USERS")]
    pub never_logged_in: Vec<String>,
    /// Users whose login keychain is locked (logged out), comma-separated.
    #[arg(long, value_delimiter = ',', value_name = "USERS")]
    pub locked_keychain: Vec<String>,
    /// Add keychain items that trip naive code to the first user's login keychain: a certificate
    /// without subject, label or issuer; a password and a private key sharing one label; JAMF
    /// keys labelled otherwise than `JAMF` or tagged only; ADFS identity preferences and
    /// look-alikes that must stay.
    #[arg(long)]
    pub keychain_edge_cases: bool,
    /// Plant the evidence of one documented problem (see `reenroll sandbox --symptom help`).
    #[arg(long, value_name = "NAME")]
    pub symptom: Option<String>,
    /// Computer-level profiles the MDM installed that carry the Mac's network or trust, which
    /// go with the MDM profile: wifi (802.1X), ethernet (802.1X), vpn, root-cert; comma-separated.
    #[arg(long, value_delimiter = ',', value_name = "KINDS")]
    pub managed_network: Vec<String>,
    /// The Mac's computer name (default "<First user>'s MacBook Pro"); jamf.log lines carry it.
    #[arg(long, value_name = "NAME")]
    pub computer_name: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum SandboxCmd {
    /// Simulate a restart: new boot session id, then run RunAtLoad LaunchDaemons inside DIR.
    Boot {
        /// The sandbox to restart (default: --root).
        dir: Option<PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
pub enum ServerCmd {
    /// Delete one Mac's Jamf Pro record, Entra device(s) and Intune records, e.g. from an admin's
    /// workstation for a Mac too broken to run anything: plan (GET requests only), confirm, apply.
    #[command(after_help = crate::server::creds::credentials_help())]
    Cleanup(ServerCleanupArgs),
}

#[derive(Args, Debug)]
pub struct ServerCleanupArgs {
    /// The Mac's serial number.
    #[arg(long)]
    pub serial: String,
    /// An Entra device id of the Mac (the CN of its MS-Organization-Access certificate; repeatable).
    #[arg(long = "device-id", value_name = "ID")]
    pub device_ids: Vec<String>,
    /// The Mac's computer name, to warn when a Jamf Pro record carries another one.
    #[arg(long, value_name = "NAME")]
    pub computer_name: Option<String>,
    /// Delete every match where one is expected (several Jamf Pro computers or Entra devices).
    #[arg(long)]
    pub allow_multiple: bool,
    /// Delete Intune records of every management agent, not only those the Jamf partnership made.
    #[arg(long)]
    pub all_agents: bool,
    /// Do not ask for confirmation.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Print one JSON document.
    #[arg(long)]
    pub json: bool,
}

/// A value that is any text, with `names` offered by shell completion (clap_complete's static
/// scripts complete an argument's possible values). The parser itself accepts anything: a
/// playbook argument may also be a file, and `--confirm` may name a step of a playbook file,
/// so these are hints, never a closed list (`hide_possible_values` keeps them out of `--help`,
/// which would read them as the only choices).
#[derive(Clone)]
pub struct Hinted {
    names: fn() -> Vec<String>,
}

impl clap::builder::TypedValueParser for Hinted {
    type Value = String;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<String, clap::Error> {
        clap::builder::TypedValueParser::parse_ref(
            &clap::builder::StringValueParser::new(),
            cmd,
            arg,
            value,
        )
    }

    fn possible_values(
        &self,
    ) -> Option<Box<dyn Iterator<Item = clap::builder::PossibleValue> + '_>> {
        Some(Box::new(
            (self.names)()
                .into_iter()
                .map(clap::builder::PossibleValue::new),
        ))
    }
}

/// Playbook arguments: the embedded playbooks' names are offered, a file is accepted too.
pub fn playbook_names() -> Hinted {
    Hinted {
        names: || {
            crate::playbook::embedded::EMBEDDED
                .iter()
                .map(|(name, _)| name.to_string())
                .collect()
        },
    }
}

/// `--confirm STEP_ID`: every step id of the embedded playbooks is offered (sorted, once).
pub fn step_ids() -> Hinted {
    Hinted {
        names: || {
            let ids: std::collections::BTreeSet<String> = crate::playbook::embedded::EMBEDDED
                .iter()
                .filter_map(|(name, src)| crate::playbook::Playbook::parse(src, name).ok())
                .flat_map(|pb| pb.steps.into_iter().map(|s| s.id))
                .collect();
            ids.into_iter().collect()
        },
    }
}
