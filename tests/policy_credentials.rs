//! API credentials a Jamf Pro policy passes as parameters (issue 13 §2): several `key=value`
//! pairs in one parameter, moved at once into a 0600 file in the run's folder, read by the
//! LaunchDaemon through the restart (the server steps done against the local test server),
//! never in a log, the journal, the policy log or any program's arguments, and deleted when
//! the run ends, fails, is rolled back or purged.

mod support;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use reenroll::sandbox::{self, SandboxOptions, Summary};
use reenroll::server::graph::{EntraDevice, IntuneDevice};
use reenroll::server::jamf::JamfComputer;
use reenroll::server::testserver::{Config, EscrowData, Model, TestServer};
use serde_json::Value;
use support::{text, walk, TreeHash, EXCLUDED};

const STATE: &str = "Library/Application Support/reenroll";
const DAEMON: &str = "Library/LaunchDaemons/com.github.reenroll.plist";
/// An Entra-style secret (letters, digits and `~ . _ -`), as the separator rule must carry.
const GRAPH_SECRET: &str = "Qx8~t.Yz_4-Kp0~LmNo.PqRs_TuVw-XyZ012345";
const JAMF_SECRET: &str = "jamfSecret-0123456789_abcdefXYZ";

struct Mac {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    summary: Summary,
    server: TestServer,
    /// Everything the binary printed (the policy log included), checked for secrets.
    printed: std::cell::RefCell<String>,
}

impl Mac {
    fn new() -> Mac {
        let tmp = support::traversable_tempdir();
        let root = tmp.path().join("mac");
        let summary = sandbox::create(&root, &SandboxOptions::default()).unwrap();
        let config = Config {
            jamf_client_secret: JAMF_SECRET.into(),
            graph_client_secret: GRAPH_SECRET.into(),
            ..Config::default()
        };
        let server = TestServer::start_with(model_for(&summary), config).unwrap();
        Mac {
            _tmp: tmp,
            root,
            summary,
            server,
            printed: Default::default(),
        }
    }

    /// The credentials as policy parameters: Jamf's in one, Graph's in another.
    fn credential_params(&self) -> [String; 2] {
        let c = self.server.config();
        let url = self.server.url();
        [
            format!(
                "jamf_url={url}  jamf_client_id={} jamf_client_secret={}",
                c.jamf_client_id, c.jamf_client_secret
            ),
            format!(
                "graph_tenant_id={} graph_client_id={}\tgraph_client_secret={} graph_url={url} login_url={url}",
                c.tenant_id, c.graph_client_id, c.graph_client_secret
            ),
        ]
    }

    fn secrets(&self) -> Vec<String> {
        let c = self.server.config();
        vec![c.jamf_client_secret, c.graph_client_secret]
    }

    /// `reenroll --root ROOT jamf-policy / NAME alice PARAMS…`
    fn policy(&self, params: &[&str]) -> Output {
        let mut args = vec!["jamf-policy", "/", "Alice's MacBook Pro", "alice"];
        args.extend_from_slice(params);
        self.reenroll(&args)
    }

    fn reenroll(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_reenroll"));
        cmd.arg("--root").arg(&self.root).args(args);
        self.output(cmd)
    }

    fn boot(&self) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_reenroll"));
        cmd.arg("sandbox").arg("boot").arg(&self.root);
        self.output(cmd)
    }

    fn output(&self, mut cmd: Command) -> Output {
        for v in reenroll::server::creds::ENV_VARS {
            cmd.env_remove(v.name);
        }
        let out = cmd
            .env_remove("REENROLL_FAULT")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let mut p = self.printed.borrow_mut();
        p.push_str(&String::from_utf8_lossy(&out.stdout));
        p.push_str(&String::from_utf8_lossy(&out.stderr));
        out
    }

    fn state(&self) -> PathBuf {
        self.root.join(STATE)
    }

    fn runs(&self) -> Vec<String> {
        let mut ids: Vec<String> = std::fs::read_dir(self.state().join("runs"))
            .map(|rd| {
                rd.flatten()
                    .filter(|e| e.path().join("journal.jsonl").exists())
                    .filter_map(|e| e.file_name().into_string().ok())
                    .collect()
            })
            .unwrap_or_default();
        ids.sort();
        ids
    }

    fn run_credentials(&self) -> PathBuf {
        let runs = self.runs();
        let id = runs.last().expect("a run");
        self.state().join("runs").join(id).join("credentials.toml")
    }

    /// Every credentials file under the state folder (a run's, or one staged by a policy).
    fn credential_files(&self) -> Vec<PathBuf> {
        walk(&self.state())
            .into_iter()
            .filter(|p| {
                let name = p.file_name().unwrap().to_string_lossy();
                name == "credentials.toml" || name.starts_with(".credentials-")
            })
            .collect()
    }

    fn status(&self) -> Value {
        let out = self.reenroll(&["status", "--json"]);
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        v["runs"].as_array().unwrap().last().unwrap().clone()
    }

    fn step_state(&self, step: &str) -> String {
        self.status()["steps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == step)
            .map(|s| s["state"].as_str().unwrap().to_string())
            .unwrap()
    }

    /// No secret in anything printed, nor in any file of the device (logs, journals, the
    /// LaunchDaemon's plist, the fakes' record of every program call with its arguments), but
    /// the run's own credentials file while it lives.
    fn assert_no_secret_outside_the_credentials_file(&self) {
        let printed = self.printed.borrow();
        for s in self.secrets() {
            assert!(!printed.contains(&s), "a secret was printed:\n{printed}");
        }
        let mut looked = 0;
        for entry in walk(&self.root) {
            if entry.file_name().unwrap() == "credentials.toml" {
                continue;
            }
            let text =
                String::from_utf8_lossy(&std::fs::read(&entry).unwrap_or_default()).into_owned();
            for s in self.secrets() {
                assert!(!text.contains(&s), "a secret is in {}", entry.display());
            }
            looked += 1;
        }
        // The places named in the issue were among them.
        for must in ["var/log/reenroll.log", "var/log/sandbox-commands.log"] {
            assert!(self.root.join(must).exists(), "{must} was not written");
        }
        assert!(looked > 20, "only {looked} files looked at");
    }
}

/// The Mac's records in Jamf Pro, Entra and Intune, and another Mac's that must stay.
fn model_for(s: &Summary) -> Model {
    let ids: Vec<String> = s
        .users
        .iter()
        .flat_map(|u| u.entra_device_ids.clone())
        .collect();
    let intune = |id: &str, agent: &str, serial: &str| IntuneDevice {
        id: id.into(),
        device_name: Some(s.computer_name.clone()),
        serial: Some(serial.into()),
        management_agent: Some(agent.into()),
        azure_ad_device_id: ids.first().cloned(),
        operating_system: Some("macOS".into()),
        ..Default::default()
    };
    Model {
        computers: vec![
            JamfComputer {
                id: "42".into(),
                name: Some(s.computer_name.clone()),
                serial: Some(s.serial.clone()),
                managed: Some(true),
                management_id: Some("3f1c9a2e-4242-4242-8242-000000000042".into()),
                ..Default::default()
            },
            JamfComputer {
                id: "43".into(),
                name: Some("Other-Mac".into()),
                serial: Some("C02OTHER0001".into()),
                managed: Some(true),
                ..Default::default()
            },
        ],
        managed_devices: vec![
            intune("aaaaaaaa-0000-0000-0000-000000000001", "jamf", &s.serial),
            intune(
                "cccccccc-0000-0000-0000-000000000004",
                "jamf",
                "C02OTHER0001",
            ),
        ],
        entra_devices: ids
            .iter()
            .enumerate()
            .map(|(i, id)| EntraDevice {
                id: format!("dddddddd-0000-0000-0000-{i:012}"),
                device_id: Some(id.clone()),
                display_name: Some(s.computer_name.clone()),
                operating_system: Some("MacMDM".into()),
                registered: None,
                last_sign_in: None,
            })
            .chain(std::iter::once(EntraDevice {
                id: "eeeeeeee-0000-0000-0000-000000000000".into(),
                device_id: Some("11111111-1111-1111-1111-111111111111".into()),
                display_name: Some("Other-Mac".into()),
                operating_system: Some("MacMDM".into()),
                registered: None,
                last_sign_in: None,
            }))
            .collect(),
        unmanage_commands: Vec::new(),
        escrow: Default::default(),
    }
}

/// The run's parameters besides the credentials: no wait, escrow confirmed ahead.
const RUN: &[&str] = &[
    "intune_settle_minutes=0 settle_override=yes server_wait_minutes=0",
    "confirm=escrow-deleted",
];

#[test]
fn a_policy_with_credentials_runs_end_to_end_through_the_restart_and_forgets_them() {
    let mac = Mac::new();
    let [jamf, graph] = mac.credential_params();
    let mut params: Vec<&str> = RUN.to_vec();
    params.extend([jamf.as_str(), graph.as_str()]);
    let out = mac.policy(&params);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let said = text(&out);
    assert!(said.contains("remediation scheduled"), "{said}");
    assert!(
        said.contains("API credentials from the parameters"),
        "{said}"
    );
    // Moved into the run's folder at once, root-only; nothing staged is left.
    let own = mac.run_credentials();
    let meta = std::fs::symlink_metadata(&own).expect("the run's credentials file");
    assert_eq!(meta.mode() & 0o777, 0o600);
    assert_eq!(meta.uid(), nix::unistd::geteuid().as_raw());
    let folder = std::fs::metadata(own.parent().unwrap()).unwrap();
    assert_eq!(folder.permissions().mode() & 0o777, 0o700);
    assert_eq!(mac.credential_files(), vec![own.clone()]);
    // The LaunchDaemon's arguments and everything else written so far hold no secret.
    assert!(mac.root.join(DAEMON).exists());
    mac.assert_no_secret_outside_the_credentials_file();
    // The policy did no server call: the daemon does.
    assert!(mac.server.model().computers.iter().any(|c| c.id == "42"));

    // launchd starts the daemon: up to the restart, the Jamf record and Entra devices go.
    let out = mac.boot();
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(mac.step_state("delete-jamf-record"), "done");
    assert_eq!(mac.step_state("delete-entra-device"), "done");
    assert_eq!(mac.status()["state"], "paused");
    assert!(own.exists(), "a paused run keeps its credentials");
    // The restart: the daemon deletes the Intune record, passes the gate, re-enrolls.
    let out = mac.boot();
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(mac.step_state("delete-intune-records"), "done");
    assert_eq!(mac.step_state("wait-for-server-cleanup"), "done");
    assert_eq!(mac.step_state("wait-for-enrollment"), "done");
    let m = mac.server.model();
    assert_eq!(
        m.computers
            .iter()
            .map(|c| c.id.as_str())
            .collect::<Vec<_>>(),
        ["43"]
    );
    assert_eq!(
        m.entra_devices.len(),
        1,
        "only the other Mac's device is left"
    );
    assert_eq!(
        m.managed_devices
            .iter()
            .map(|d| d.id.as_str())
            .collect::<Vec<_>>(),
        ["cccccccc-0000-0000-0000-000000000004"]
    );
    // Re-enrolled; its new record gets its FileVault key, and a second policy (the channel is
    // back) confirms the registration policy. The daemon checks the escrow with the run's file.
    mac.server.update_model(|m| {
        m.computers.push(JamfComputer {
            id: "44".into(),
            name: Some(mac.summary.computer_name.clone()),
            serial: Some(mac.summary.serial.clone()),
            managed: Some(true),
            ..Default::default()
        });
        m.escrow.insert(
            "44".into(),
            EscrowData {
                filevault_key: Some("NEW-KEY-0000-1111".into()),
                ..Default::default()
            },
        );
    });
    let out = mac.policy(&["action=resume confirm=run-registration-policy"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = mac.boot();
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(mac.status()["state"], "completed", "{:#}", mac.status());
    assert_eq!(mac.step_state("check-filevault-escrow"), "done");
    // The run ended: its credentials are gone, and were never anywhere else.
    assert!(!own.exists(), "the run's credentials outlived it");
    assert!(mac.credential_files().is_empty());
    assert!(!mac.root.join(DAEMON).exists());
    let journal = std::fs::read_to_string(own.parent().unwrap().join("journal.jsonl")).unwrap();
    assert!(
        journal.contains("\"credentials\""),
        "the journal notes they existed"
    );
    mac.assert_no_secret_outside_the_credentials_file();
}

#[test]
fn without_credentials_the_same_policy_is_refused_and_changes_nothing() {
    let mac = Mac::new();
    let before = TreeHash::of(&mac.root, EXCLUDED);
    let out = mac.policy(RUN);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    assert!(
        text(&out).contains("could strand the Mac"),
        "{}",
        text(&out)
    );
    before.assert_same(&TreeHash::of(&mac.root, EXCLUDED), "a refused policy");
    assert!(mac.runs().is_empty());
    assert!(mac.server.requests().is_empty());
    // Credentials that do not work are refused too, and leave nothing behind.
    let [jamf, graph] = mac.credential_params();
    let wrong = graph.replace(GRAPH_SECRET, "Wrong~Secret.Value_0123456789");
    let out = mac.policy(&[RUN[0], RUN[1], &jamf, &wrong]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    assert!(text(&out).contains("do not work"), "{}", text(&out));
    before.assert_same(&TreeHash::of(&mac.root, EXCLUDED), "a refused policy");
    assert!(mac.runs().is_empty());
    assert!(
        mac.credential_files().is_empty(),
        "{:?}",
        mac.credential_files()
    );
    mac.assert_no_secret_outside_the_credentials_file();
    assert!(!text(&out).contains("Wrong~Secret"));
}

#[test]
fn parameter_errors_name_the_parameter_and_never_show_a_secret() {
    let mac = Mac::new();
    let secret = "Zz9~never.shown_anywhere-0123";
    for (params, says) in [
        // Incomplete: the id is missing.
        (
            vec![format!(
                "jamf_url=https://j.example.com jamf_client_secret={secret}"
            )],
            "jamf_client_id missing",
        ),
        // A misspelt key: its value is never taken for a variable.
        (
            vec![String::new(), format!("jamf_client_secert={secret}")],
            "parameter 5",
        ),
        // A secret without its key.
        (vec![secret.to_string()], "parameter 4"),
        (vec![format!("action=run {secret}")], "parameter 4"),
        (
            vec![format!(
                "jamf_client_secret={secret} jamf_client_secret={secret}"
            )],
            "given twice",
        ),
    ] {
        let args: Vec<&str> = params.iter().map(String::as_str).collect();
        let out = mac.policy(&args);
        let said = text(&out);
        assert_eq!(out.status.code(), Some(2), "{said}");
        assert!(said.contains(says), "{said}");
        assert!(!said.contains(secret), "a secret was shown: {said}");
    }
    assert!(mac.credential_files().is_empty());
    mac.assert_no_secret_outside_the_credentials_file();
    let log = std::fs::read_to_string(mac.root.join("var/log/reenroll.log")).unwrap_or_default();
    assert!(!log.contains(secret));
}

#[test]
fn a_dry_run_uses_the_credentials_and_keeps_nothing() {
    let mac = Mac::new();
    let [jamf, graph] = mac.credential_params();
    let out = mac.policy(&["action=plan", &jamf, &graph]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    // With the credentials the server steps are the Mac's own, not an operator's.
    let plan = text(&out);
    assert!(plan.contains("delete-jamf-record"), "{plan}");
    assert!(!mac.state().join("runs").exists() || mac.credential_files().is_empty());
    assert!(mac
        .server
        .requests()
        .iter()
        .all(|r| r.method == "GET" || r.path.ends_with("/token")));
    assert!(
        !mac.server.requests().is_empty(),
        "the plan asked the servers"
    );
    mac.assert_no_secret_outside_the_credentials_file();
}

#[test]
fn a_rolled_back_run_forgets_its_credentials() {
    let mac = Mac::new();
    let [jamf, graph] = mac.credential_params();
    let out = mac.policy(&[RUN[0], RUN[1], &jamf, &graph]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let own = mac.run_credentials();
    assert!(own.exists());
    let out = mac.policy(&["action=rollback"]);
    assert!(
        matches!(out.status.code(), Some(0) | Some(6)),
        "{}",
        text(&out)
    );
    assert!(!own.exists(), "a rolled-back run kept its credentials");
    assert!(mac.credential_files().is_empty());
    mac.assert_no_secret_outside_the_credentials_file();
}

#[test]
fn a_failed_run_forgets_its_credentials() {
    let mac = Mac::new();
    let [jamf, graph] = mac.credential_params();
    let out = mac.policy(&[RUN[0], RUN[1], &jamf, &graph]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let own = mac.run_credentials();
    mac.server.fail_next(
        "DELETE",
        "/api/v4/computers-inventory/42",
        403,
        r#"{"httpStatus":403,"errors":[{"code":"INVALID_PRIVILEGE","description":"Forbidden"}]}"#,
    );
    mac.boot();
    assert_eq!(mac.step_state("delete-jamf-record"), "failed");
    assert_eq!(mac.status()["state"], "failed");
    assert!(!own.exists(), "a failed run kept its credentials");
    mac.assert_no_secret_outside_the_credentials_file();
}

#[test]
fn purge_deletes_credentials_a_crash_left_behind() {
    let mac = Mac::new();
    let [jamf, graph] = mac.credential_params();
    let out = mac.policy(&[RUN[0], RUN[1], &jamf, &graph]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let own = mac.run_credentials();
    let kept = std::fs::read(&own).unwrap();
    // A paused (scheduled) run keeps its credentials through purge.
    let out = mac.reenroll(&["purge", "--older-than", "0s", "--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(own.exists(), "purge deleted a live run's credentials");
    // The run is rolled back, then a crash's leftovers: the run's file put back as if the
    // deletion never happened, and a file a policy staged before it died (no such process).
    mac.policy(&["action=rollback"]);
    assert!(!own.exists());
    std::fs::write(&own, &kept).unwrap();
    std::fs::set_permissions(&own, std::fs::Permissions::from_mode(0o600)).unwrap();
    let staged = mac
        .state()
        .join("runs")
        .join(".credentials-2147483646.toml");
    std::fs::write(&staged, &kept).unwrap();
    let out = mac.reenroll(&["purge", "--older-than", "3650d", "--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(!own.exists(), "purge left a finished run's credentials");
    assert!(!staged.exists(), "purge left abandoned staged credentials");
    assert!(
        text(&out).contains("deleted the API credentials"),
        "{}",
        text(&out)
    );
}

#[test]
fn credentials_in_managed_preferences_are_refused() {
    let mac = Mac::new();
    let mut d = plist::Dictionary::new();
    d.insert(
        "jamf_client_secret".into(),
        plist::Value::String(JAMF_SECRET.into()),
    );
    let path = mac
        .root
        .join("Library/Managed Preferences/com.github.reenroll.plist");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    plist::Value::Dictionary(d).to_file_xml(&path).unwrap();
    let before = TreeHash::of(&mac.root, EXCLUDED);
    let out = mac.policy(&["operator=remote"]);
    let said = text(&out);
    assert_eq!(out.status.code(), Some(4), "{said}");
    assert!(
        said.contains("readable by every user") && said.contains("jamf_client_secret"),
        "{said}"
    );
    before.assert_same(&TreeHash::of(&mac.root, EXCLUDED), "refused");
    let out = mac.reenroll(&["plan"]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    // Only the profile itself holds the secret.
    let printed = mac.printed.borrow();
    assert!(!printed.contains(JAMF_SECRET));
}

/// A step's program sees none of the credentials an admin's shell holds in `REENROLL_*`.
#[test]
fn no_program_reenroll_starts_gets_credentials_in_its_environment() {
    let dev = support::Sandbox::new().build();
    dev.script(
        "/usr/local/bin/dump-env",
        r#"env >"$(dirname "$0")/env.txt""#,
    );
    let pb = dev.playbook(
        "dump-env",
        r#"
name = "dump-env"
description = "Writes its environment."

[[steps]]
id = "dump"
title = "Dump the environment"
[steps.action]
kind = "run"
program = "/usr/local/bin/dump-env"
done_when = { present = ["/usr/local/bin/env.txt"] }
"#,
    );
    dev.reenroll(&["run", &pb, "--yes"])
        .env("REENROLL_JAMF_URL", "https://jamf.example.com")
        .env("REENROLL_JAMF_CLIENT_ID", "client-id-in-env")
        .env("REENROLL_JAMF_CLIENT_SECRET", JAMF_SECRET)
        .env("REENROLL_TEST_MARKER", "marker-seen")
        .exit(0);
    let env = dev.read("/usr/local/bin/env.txt");
    // The child got the environment (the test can fail), but no credential.
    assert!(env.contains("REENROLL_TEST_MARKER=marker-seen"), "{env}");
    assert!(!env.contains(JAMF_SECRET), "{env}");
    assert!(!env.contains("REENROLL_JAMF_"), "{env}");
}

/// README's "Jamf Pro credentials only" row: the Mac deletes its Jamf record itself; Entra and
/// Intune must be done ahead, centrally (`confirm=`), or the policy is refused.
#[test]
fn jamf_credentials_alone_need_entra_and_intune_confirmed_ahead() {
    let mac = Mac::new();
    let [jamf, _graph] = mac.credential_params();
    let before = TreeHash::of(&mac.root, EXCLUDED);
    let out = mac.policy(&[RUN[0], RUN[1], &jamf]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    let said = text(&out);
    assert!(said.contains("could strand the Mac"), "{said}");
    // The Jamf step is the Mac's own: only Entra and Intune are left to confirm.
    assert!(
        said.contains("(delete-entra-device, delete-intune-records)")
            && said.contains("confirm=delete-entra-device,delete-intune-records;"),
        "{said}"
    );
    before.assert_same(&TreeHash::of(&mac.root, EXCLUDED), "a refused policy");
    assert!(mac.runs().is_empty());
    assert!(mac.credential_files().is_empty());

    let out = mac.policy(&[
        RUN[0],
        "confirm=escrow-deleted,delete-entra-device,delete-intune-records",
        &jamf,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("remediation scheduled"),
        "{}",
        text(&out)
    );
    assert_eq!(mac.credential_files(), vec![mac.run_credentials()]);
    mac.assert_no_secret_outside_the_credentials_file();
}
