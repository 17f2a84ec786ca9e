//! The server steps wired into the cause6 playbook and `reenroll server cleanup`, driven through
//! the binary against a sandbox device whose credentials file points at the local test server
//! (127.0.0.1): no test reaches the internet.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use reenroll::sandbox::{self, SandboxOptions, Summary};
use reenroll::server::graph::{EntraDevice, IntuneDevice};
use reenroll::server::jamf::JamfComputer;
use reenroll::server::testserver::{Config, EscrowData, Model, TestServer, Throttle};
use serde_json::Value;

mod support;
use support::{text, walk};

const CREDENTIALS: &str = "Library/Application Support/reenroll/credentials.toml";
const JAMF_SEARCH: &str = "/api/v4/computers-inventory";

struct Fixture {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    summary: Summary,
    server: TestServer,
    /// Every stdout and stderr the binary printed, checked for secrets at the end.
    printed: std::cell::RefCell<String>,
}

impl Fixture {
    fn new(opts: SandboxOptions, with_credentials: bool) -> Fixture {
        Self::with_model(opts, with_credentials, model_for)
    }

    fn with_model(
        opts: SandboxOptions,
        with_credentials: bool,
        model: impl FnOnce(&Summary) -> Model,
    ) -> Fixture {
        // 0755: run as root, the fake `sudo -u USER` drops to USER's uid (tempfile makes 0700).
        let tmp = tempfile::tempdir().unwrap();
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let root = tmp.path().join("mac");
        let summary = sandbox::create(&root, &opts).unwrap();
        let server = TestServer::start(model(&summary)).unwrap();
        let f = Fixture {
            _tmp: tmp,
            root,
            summary,
            server,
            printed: Default::default(),
        };
        if with_credentials {
            f.write_credentials(0o600);
        }
        f
    }

    fn write_credentials(&self, mode: u32) {
        let c = self.server.config();
        let url = self.server.url();
        let text = format!(
            "[jamf]\nurl = \"{url}\"\nclient_id = \"{}\"\nclient_secret = \"{}\"\n\n[graph]\ntenant_id = \"{}\"\nclient_id = \"{}\"\nclient_secret = \"{}\"\ngraph_url = \"{url}\"\nlogin_url = \"{url}\"\n",
            c.jamf_client_id, c.jamf_client_secret, c.tenant_id, c.graph_client_id, c.graph_client_secret
        );
        let path = self.root.join(CREDENTIALS);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    /// `reenroll --root ROOT args…`, without a terminal and without credential variables.
    fn reenroll(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_reenroll"));
        cmd.arg("--root").arg(&self.root).args(args);
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

    fn boot(&self) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_reenroll"));
        cmd.arg("sandbox").arg("boot").arg(&self.root);
        self.output(cmd)
    }

    fn status(&self) -> Value {
        let out = self.reenroll(&["status", "--json"]);
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        v["runs"].as_array().unwrap().last().unwrap().clone()
    }

    fn step_state(&self, step: &str) -> String {
        let run = self.status();
        run["steps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == step)
            .map(|s| s["state"].as_str().unwrap().to_string())
            .unwrap()
    }

    fn serial(&self) -> &str {
        &self.summary.serial
    }

    fn device_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .summary
            .users
            .iter()
            .flat_map(|u| u.entra_device_ids.clone())
            .collect();
        ids.sort();
        ids
    }

    /// Methods and paths the server saw, token requests left out.
    fn calls(&self) -> Vec<String> {
        self.server
            .requests()
            .iter()
            .filter(|r| !r.path.ends_with("/token"))
            .map(|r| format!("{} {}", r.method, r.path))
            .collect()
    }

    /// No client secret and no bearer token in anything printed or written inside the device
    /// (but the credentials file itself).
    fn assert_no_secret(&self) {
        // SHOW=1 cargo test --test server -- --nocapture: see what the binary printed.
        if std::env::var_os("SHOW").is_some() {
            eprintln!("{}", self.printed.borrow());
        }
        let c = self.server.config();
        let secrets = [
            c.jamf_client_secret,
            c.graph_client_secret,
            FILEVAULT_KEY.to_string(),
        ];
        let printed = self.printed.borrow();
        for s in &secrets {
            assert!(!printed.contains(s.as_str()), "a secret was printed");
        }
        let creds = self.root.join(CREDENTIALS);
        for entry in walk(&self.root) {
            if entry == creds {
                continue;
            }
            let bytes = std::fs::read(&entry).unwrap_or_default();
            let text = String::from_utf8_lossy(&bytes);
            for s in &secrets {
                assert!(
                    !text.contains(s.as_str()),
                    "a secret is in {}",
                    entry.display()
                );
            }
            // The binary copy in the state folder holds the literal; logs and journals must not.
            if std::str::from_utf8(&bytes).is_ok() {
                assert!(
                    !text.contains("Bearer "),
                    "a token is in {}",
                    entry.display()
                );
            }
        }
    }
}

/// The Mac's server records: its Jamf Pro computer, an Entra device per device id, two Intune
/// records of the Jamf partnership (the duplicate the fix is about) and one of Intune's own MDM
/// that must survive; plus another Mac in each system that must not be touched.
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
        enrolled: Some("2024-03-04T09:12:45Z".into()),
        last_sync: Some("2025-05-01T22:00:00Z".into()),
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
                enrolled: Some("2024-03-04T09:10:00.000Z".into()),
                last_contact: Some("2025-05-02T08:12:00.000Z".into()),
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
            intune("aaaaaaaa-0000-0000-0000-000000000002", "jamf", &s.serial),
            intune("bbbbbbbb-0000-0000-0000-000000000003", "mdm", &s.serial),
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
                registered: Some("2024-03-04T09:11:00Z".into()),
                last_sign_in: Some("2025-05-01T21:00:00Z".into()),
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
        // What Jamf Pro escrowed for the Mac: a FileVault key and a LAPS account.
        escrow: [(
            "42".to_string(),
            EscrowData {
                filevault_key: Some(FILEVAULT_KEY.into()),
                recovery_lock: None,
                laps_accounts: vec!["ladmin".into()],
            },
        )]
        .into_iter()
        .collect(),
    }
}

/// The escrowed FileVault key of the model: never printed or written anywhere.
const FILEVAULT_KEY: &str = "Q7RT-9XKP-2M4N-8HJW-5CVB-3LZD";

fn plan_json(f: &Fixture) -> Value {
    let out = f.reenroll(&["plan", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn step<'a>(plan: &'a Value, id: &str) -> &'a Value {
    plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == id)
        .unwrap()
}

fn requests(step: &Value) -> Vec<String> {
    step["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["op"] == "request")
        .map(|c| {
            assert_eq!(c["reversible"], false);
            c["target"].as_str().unwrap().to_string()
        })
        .collect()
}

#[test]
fn plan_shows_the_records_and_sends_only_gets() {
    let f = Fixture::new(SandboxOptions::default(), true);
    let before = f.server.model();
    let plan = plan_json(&f);

    let jamf = step(&plan, "delete-jamf-record");
    assert_eq!(jamf["action"], "server");
    assert_eq!(
        requests(jamf),
        [format!(
            "DELETE Jamf Pro record {:?} id 42 serial {} enrolled 2024-03-04T09:10:00.000Z last sync 2025-05-02T08:12:00.000Z",
            f.summary.computer_name,
            f.serial()
        )]
    );
    let entra = requests(step(&plan, "delete-entra-device"));
    assert_eq!(entra.len(), f.device_ids().len(), "{entra:?}");
    assert!(entra
        .iter()
        .all(|t| t.starts_with("DELETE Entra ID record")
            && t.contains("enrolled 2024-03-04T09:11:00Z")));
    let intune_step = step(&plan, "delete-intune-records");
    let intune = requests(intune_step);
    assert_eq!(intune.len(), 2, "{intune:?}");
    assert!(intune[0].contains("id aaaaaaaa-0000-0000-0000-000000000001"));
    let notes = intune_step["notes"].to_string();
    assert!(
        notes.contains("bbbbbbbb-0000-0000-0000-000000000003") && notes.contains("mdm"),
        "{notes}"
    );
    let unmanage = step(&plan, "unmanage-via-jamf-api");
    assert!(requests(unmanage)[0]
        .starts_with("POST unmanage (remove MDM profile) to Jamf Pro computer"));

    let calls = f.calls();
    assert!(!calls.is_empty());
    assert!(calls.iter().all(|c| c.starts_with("GET ")), "{calls:?}");
    assert_eq!(f.server.model().computers, before.computers);
    f.assert_no_secret();
}

#[test]
fn a_run_with_credentials_completes_the_server_steps_by_itself() {
    let f = Fixture::new(SandboxOptions::default(), true);
    let out = f.reenroll(&[
        "run",
        "--yes",
        "--confirm",
        "escrow-deleted",
        "--set",
        "intune_settle_minutes=0",
        "--set",
        "server_wait_minutes=0",
    ]);
    // Paused for the restart, with the Jamf Pro record and the Entra devices gone.
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let m = f.server.model();
    assert_eq!(
        m.computers
            .iter()
            .map(|c| c.id.as_str())
            .collect::<Vec<_>>(),
        ["43"]
    );
    assert_eq!(m.unmanage_commands, ["42"]);
    assert_eq!(
        m.entra_devices.len(),
        1,
        "only the other Mac's device is left"
    );
    assert_eq!(f.step_state("delete-jamf-record"), "done");
    assert_eq!(f.step_state("delete-entra-device"), "done");
    assert_eq!(f.step_state("unmanage-via-jamf-api"), "skipped");

    let out = f.boot();
    assert!(out.status.success(), "{}", text(&out));
    // After the restart the daemon's resume deleted the Intune records, passed the gate without
    // any --confirm for the server steps, re-enrolled, and waits for the registration policy.
    let run = f.status();
    assert_eq!(run["state"], "paused", "{run:#}");
    assert_eq!(run["paused_at_step"], "run-registration-policy", "{run:#}");
    assert_eq!(f.step_state("delete-intune-records"), "done");
    assert_eq!(f.step_state("wait-for-server-cleanup"), "done");
    let left: Vec<String> = f
        .server
        .model()
        .managed_devices
        .iter()
        .map(|d| d.id.clone())
        .collect();
    assert_eq!(
        left,
        [
            "bbbbbbbb-0000-0000-0000-000000000003",
            "cccccccc-0000-0000-0000-000000000004"
        ]
    );

    // Jamf Pro has no FileVault key for the Mac yet: the check waits for it.
    assert_eq!(f.step_state("check-filevault-escrow"), "waiting");
    // The Mac enrolled again: its new record, with a new FileVault key escrowed.
    f.server.update_model(|m| {
        let mut again = m.computers[0].clone();
        again.id = "44".into();
        again.serial = Some(f.summary.serial.clone());
        m.computers.push(again);
        m.escrow.insert(
            "44".into(),
            EscrowData {
                filevault_key: Some(FILEVAULT_KEY.into()),
                ..Default::default()
            },
        );
    });
    let out = f.reenroll(&["resume", "--confirm", "run-registration-policy"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(f.status()["state"], "completed");
    assert_eq!(f.step_state("check-filevault-escrow"), "done");
    // Every deletion was re-read first and journaled as irreversible.
    let out = f.reenroll(&["rollback", "--yes"]);
    let rb = text(&out);
    assert!(rb.contains("DELETE Jamf Pro record"), "{rb}");
    assert!(rb.contains("DELETE Intune record"), "{rb}");
    f.assert_no_secret();
}

#[test]
fn several_matches_need_allow_multiple() {
    let f = Fixture::with_model(SandboxOptions::default(), true, |s| {
        let mut m = model_for(s);
        let mut twin = m.computers[0].clone();
        twin.id = "77".into();
        twin.name = Some("Old record".into());
        m.computers.push(twin);
        m
    });
    let out = f.reenroll(&[
        "run",
        "--yes",
        "--confirm",
        "escrow-deleted",
        "--set",
        "server_wait_minutes=0",
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let shown = text(&out);
    assert!(
        shown.contains(&format!("2 Jamf Pro computers have serial {}", f.serial())),
        "{shown}"
    );
    assert!(
        shown.contains("id 77") && shown.contains("--allow-multiple"),
        "{shown}"
    );
    assert_eq!(f.status()["paused_at_step"], "delete-jamf-record");
    assert!(f.calls().iter().all(|c| !c.starts_with("DELETE")));
    assert_eq!(f.server.model().computers.len(), 3);

    // Resuming without the flag still deletes nothing.
    let out = f.reenroll(&["resume"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert_eq!(f.server.model().computers.len(), 3);

    let out = f.reenroll(&["resume", "--allow-multiple"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert_eq!(f.step_state("delete-jamf-record"), "done");
    let ids: Vec<String> = f
        .server
        .model()
        .computers
        .iter()
        .map(|c| c.id.clone())
        .collect();
    assert_eq!(ids, ["43"]);
    f.assert_no_secret();
}

#[test]
fn throttling_is_retried_honouring_retry_after() {
    let f = Fixture::new(SandboxOptions::default(), true);
    f.server.throttle(
        "GET",
        JAMF_SEARCH,
        1,
        Throttle::TooManyRequests { retry_after: 1 },
    );
    let plan = plan_json(&f);
    assert_eq!(requests(step(&plan, "delete-jamf-record")).len(), 1);
    let statuses: Vec<u16> = f
        .server
        .requests()
        .iter()
        .filter(|r| r.path == JAMF_SEARCH)
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses[..2], [429, 200], "{statuses:?}");
    f.assert_no_secret();
}

#[test]
fn without_credentials_the_steps_stay_operator_steps() {
    let f = Fixture::new(SandboxOptions::default(), false);
    let plan = plan_json(&f);
    for id in [
        "delete-jamf-record",
        "delete-entra-device",
        "delete-intune-records",
    ] {
        let s = step(&plan, id);
        assert_eq!(s["action"], "operator", "{s:#}");
        assert_eq!(s["changes"][0]["op"], "operator", "{s:#}");
    }
    let out = f.reenroll(&["run", "--yes", "--set", "intune_settle_minutes=0"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let shown = text(&out);
    assert!(
        shown.contains(&format!(
            "waiting for an operator: In Jamf Pro, delete the computer record with serial {}",
            f.serial()
        )),
        "{shown}"
    );
    assert_eq!(f.step_state("delete-jamf-record"), "waiting");
    assert_eq!(f.step_state("delete-entra-device"), "waiting");
    assert!(f.server.requests().is_empty());
}

#[test]
fn a_profile_only_the_server_can_remove_gets_the_unmanage_command() {
    let f = Fixture::new(
        SandboxOptions {
            mdm_removal_disallowed: true,
            ..Default::default()
        },
        true,
    );
    let out = f.reenroll(&[
        "run",
        "--yes",
        "--confirm",
        "escrow-deleted",
        "--set",
        "server_wait_minutes=0",
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert_eq!(f.status()["paused_at_step"], "unmanage-via-jamf-api");
    assert_eq!(f.server.model().unmanage_commands, ["42"]);
    assert!(text(&out).contains("the unmanage command was sent at"));

    // A resume before the Mac received it sends nothing again.
    let out = f.reenroll(&["resume"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert_eq!(f.server.model().unmanage_commands, ["42"]);

    // The command arrives: the profile goes (what mdmclient would do on a Mac).
    std::fs::remove_file(f.root.join("var/db/sandbox/mdm-profile")).unwrap();
    let out = f.reenroll(&["resume"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert_eq!(f.step_state("unmanage-via-jamf-api"), "done");
    assert_eq!(f.step_state("delete-jamf-record"), "done");
    // The record said unmanaged by then: no second command before the deletion.
    assert_eq!(f.server.model().unmanage_commands, ["42"]);
    f.assert_no_secret();
}

#[test]
fn server_cleanup_plans_then_applies() {
    let f = Fixture::new(SandboxOptions::default(), true);
    let ids = f.device_ids();
    let mut args = vec!["server", "cleanup", "--serial", f.serial()];
    for id in &ids {
        args.extend(["--device-id", id.as_str()]);
    }

    // Without a terminal and without --yes: shown, nothing deleted, exit 2.
    let out = f.reenroll(&args);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let shown = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(shown.contains("delete Jamf Pro 42"), "{shown}");
    assert!(shown.contains("keep   Intune bbbbbbbb"), "{shown}");
    assert!(f.calls().iter().all(|c| c.starts_with("GET ")));

    // On a terminal, declining deletes nothing and is a refusal: exit 4.
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_reenroll"));
    cmd.arg("--root").arg(&f.root).args(&args);
    for v in reenroll::server::creds::ENV_VARS {
        cmd.env_remove(v.name);
    }
    let mut p = rexpect::session::spawn_command(cmd, Some(30_000)).unwrap();
    p.exp_string("[y/N] ").unwrap();
    p.send_line("n").unwrap();
    p.exp_string("nothing was deleted").unwrap();
    p.exp_eof().unwrap();
    match p.process.wait().unwrap() {
        rexpect::process::wait::WaitStatus::Exited(_, code) => assert_eq!(code, 4),
        other => panic!("server cleanup did not exit normally: {other:?}"),
    }
    assert!(f.calls().iter().all(|c| c.starts_with("GET ")));

    args.extend(["--yes", "--json"]);
    let out = f.reenroll(&args);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["applied"], true);
    assert!(v["settle_start"].is_string(), "{v:#}");
    let m = f.server.model();
    assert_eq!(m.computers.len(), 1);
    assert_eq!(m.entra_devices.len(), 1);
    assert_eq!(m.managed_devices.len(), 2);

    // Run again: nothing left to delete.
    let out = f.reenroll(&["server", "cleanup", "--serial", f.serial()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("nothing to delete"));
    f.assert_no_secret();
}

#[test]
fn server_cleanup_without_credentials_is_refused() {
    let f = Fixture::new(SandboxOptions::default(), false);
    let out = f.reenroll(&["server", "cleanup", "--serial", f.serial(), "--yes"]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    assert!(text(&out).contains("no API credentials"));
    assert!(f.server.requests().is_empty());
}

#[test]
fn a_credentials_file_others_can_read_is_refused_with_the_fix() {
    let f = Fixture::new(SandboxOptions::default(), false);
    f.write_credentials(0o644);
    let out = f.reenroll(&["server", "cleanup", "--serial", f.serial(), "--yes"]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    let err = text(&out);
    assert!(
        err.contains("mode 0644") && err.contains("chmod 600"),
        "{err}"
    );
    let out = f.reenroll(&["plan"]);
    assert!(text(&out).contains("chmod 600"), "{}", text(&out));
    assert!(f.server.requests().is_empty());
    f.assert_no_secret();
}

#[test]
fn a_server_error_fails_the_step_naming_the_endpoint_and_the_error() {
    let f = Fixture::with_model(SandboxOptions::default(), true, model_for);
    f.server.configure(|c: &mut Config| c.token_max_uses = None);
    f.server.fail_next(
        "DELETE",
        "/api/v4/computers-inventory/42",
        403,
        r#"{"httpStatus":403,"errors":[{"code":"INVALID_PRIVILEGE","description":"Forbidden"}]}"#,
    );
    let out = f.reenroll(&[
        "run",
        "--yes",
        "--confirm",
        "escrow-deleted",
        "--set",
        "server_wait_minutes=0",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = text(&out);
    assert!(
        err.contains("403") && err.contains("INVALID_PRIVILEGE"),
        "{err}"
    );
    assert_eq!(f.step_state("delete-jamf-record"), "failed");
    // Resume tries again and succeeds.
    let out = f.reenroll(&["resume"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert_eq!(f.step_state("delete-jamf-record"), "done");
    f.assert_no_secret();
}

#[test]
fn a_crash_after_a_request_resumes_without_repeating_it() {
    let f = Fixture::new(SandboxOptions::default(), true);
    // Crash (SIGKILL) right after the first request of delete-jamf-record is journaled as done:
    // the unmanage command. The change number depends on earlier steps, so name them all.
    let crash: Vec<String> = (0..1000)
        .map(|n| format!("crash@after-change:delete-jamf-record#{n}"))
        .collect();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_reenroll"));
    cmd.arg("--root").arg(&f.root).args([
        "run",
        "--yes",
        "--confirm",
        "escrow-deleted",
        "--set",
        "server_wait_minutes=0",
    ]);
    for v in reenroll::server::creds::ENV_VARS {
        cmd.env_remove(v.name);
    }
    let out = cmd
        .env("REENROLL_FAULT", crash.join(","))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("fault injection: crashing"),
        "{}",
        text(&out)
    );
    assert_eq!(f.server.model().unmanage_commands, ["42"]);
    assert_eq!(f.server.model().computers.len(), 2, "not deleted yet");

    let out = f.reenroll(&["resume"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert_eq!(f.step_state("delete-jamf-record"), "done");
    assert_eq!(f.server.model().unmanage_commands, ["42"], "sent once");
    assert_eq!(f.server.model().computers.len(), 1);
    f.assert_no_secret();
}

/// The journal of the (only) run, as text.
fn journal(f: &Fixture) -> String {
    walk(&f.root)
        .into_iter()
        .filter(|p| p.file_name().is_some_and(|n| n == "journal.jsonl"))
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect()
}

#[test]
fn server_steps_use_the_routes_of_the_server_version() {
    for (version, inventory, unmanage) in [
        (
            "11.22.0-t1712345678",
            "/api/v1/computers-inventory",
            "/api/v1/computer-inventory/42/remove-mdm-profile",
        ),
        (
            "11.25.0-t1712345678",
            "/api/v3/computers-inventory",
            "/api/v1/computer-inventory/42/remove-mdm-profile",
        ),
        (
            "11.30.0-t1750000000",
            "/api/v4/computers-inventory",
            "/api/v4/computers-inventory/42/remove-mdm-profile",
        ),
    ] {
        let f = Fixture::new(SandboxOptions::default(), true);
        f.server.configure(|c| c.jamf_version = version.into());
        let out = f.reenroll(&[
            "run",
            "--yes",
            "--confirm",
            "escrow-deleted",
            "--set",
            "server_wait_minutes=0",
        ]);
        assert_eq!(out.status.code(), Some(3), "{version}: {}", text(&out));
        assert_eq!(f.step_state("delete-jamf-record"), "done", "{version}");
        let calls = f.calls();
        let jamf: Vec<&String> = calls.iter().filter(|c| c.contains(" /api/")).collect();
        assert!(
            jamf.iter()
                .filter(|c| !c.ends_with("/jamf-pro-version"))
                .all(|c| c.contains(inventory) || c.ends_with(unmanage)),
            "{version}: {jamf:?}"
        );
        assert!(
            calls.contains(&format!("POST {unmanage}")),
            "{version}: {calls:?}"
        );
        assert!(
            calls.contains(&format!("DELETE {inventory}/42")),
            "{version}: {calls:?}"
        );
        // Asked once for the whole run (before it), journaled once.
        let asked = calls
            .iter()
            .filter(|c| c.ends_with("/jamf-pro-version"))
            .count();
        assert_eq!(asked, 1, "{version}: {calls:?}");
        let j = journal(&f);
        let noted = format!(
            r#""key":"jamf-pro-version","value":"{}""#,
            version.split('-').next().unwrap()
        );
        assert_eq!(j.matches(&noted).count(), 1, "{version}: {j}");
        assert_eq!(f.server.model().computers.len(), 1, "{version}");
        f.assert_no_secret();
    }
}

#[test]
fn a_missing_route_is_not_taken_for_a_deleted_record() {
    let f = Fixture::new(SandboxOptions::default(), true);
    // The unmanage route answers 404 without INVALID_ID (a route this server lacks).
    f.server.fail_next(
        "POST",
        "/api/v4/computers-inventory/42/remove-mdm-profile",
        404,
        "<html><body><h1>Not Found</h1></body></html>",
    );
    let out = f.reenroll(&[
        "run",
        "--yes",
        "--confirm",
        "escrow-deleted",
        "--set",
        "server_wait_minutes=0",
        "--set",
        "intune_settle_minutes=0",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = text(&out);
    assert!(err.contains("route is missing"), "{err}");
    assert_eq!(f.step_state("delete-jamf-record"), "failed");
    assert_ne!(f.step_state("wait-for-server-cleanup"), "done");
    assert!(
        f.server.model().computers.iter().any(|c| c.id == "42"),
        "the record stays"
    );
    assert!(f.calls().iter().all(|c| !c.starts_with("DELETE /api/")));
    f.assert_no_secret();
}

#[test]
fn credentials_that_do_not_work_stop_the_run_before_anything_changes() {
    for broken in ["secret", "privilege"] {
        let f = Fixture::new(SandboxOptions::default(), true);
        match broken {
            // The server no longer takes the configured secret: 401 on the token.
            "secret" => f
                .server
                .configure(|c| c.jamf_client_secret = "rotated-secret-0000000000".into()),
            // The API role lacks Read Computers: 403 on the search.
            _ => f
                .server
                .configure(|c| c.jamf_denied = vec!["Read Computers".into()]),
        }
        let before: Vec<(PathBuf, Vec<u8>)> = walk(&f.root)
            .into_iter()
            .map(|p| {
                let b = std::fs::read(&p).unwrap_or_default();
                (p, b)
            })
            .collect();

        let out = f.reenroll(&["plan"]);
        assert_eq!(out.status.code(), Some(4), "{broken}: {}", text(&out));
        let shown = text(&out);
        assert!(
            shown.contains("SERVER CREDENTIALS DO NOT WORK"),
            "{broken}: {shown}"
        );
        assert!(shown.contains("Jamf Pro API"), "{broken}: {shown}");

        let out = f.reenroll(&[
            "run",
            "--yes",
            "--confirm",
            "escrow-deleted",
            "--set",
            "server_wait_minutes=0",
        ]);
        assert_eq!(out.status.code(), Some(4), "{broken}: {}", text(&out));
        let err = text(&out);
        assert!(
            err.contains("do not work") && err.contains("nothing was changed"),
            "{broken}: {err}"
        );
        assert!(
            err.contains(if broken == "secret" {
                "HTTP 401"
            } else {
                "HTTP 403"
            }),
            "{broken}: {err}"
        );
        // Nothing changed on the device: every file as it was (the MDM profile and the Jamf
        // framework still there), no run started; only token POSTs and GETs were sent.
        let after: Vec<(PathBuf, Vec<u8>)> = walk(&f.root)
            .into_iter()
            .filter(|p| !p.ends_with("var/log/sandbox-commands.log"))
            .map(|p| {
                let b = std::fs::read(&p).unwrap_or_default();
                (p, b)
            })
            .collect();
        let before: Vec<(PathBuf, Vec<u8>)> = before
            .into_iter()
            .filter(|(p, _)| !p.ends_with("var/log/sandbox-commands.log"))
            .collect();
        let changed: Vec<String> = after
            .iter()
            .filter(|a| !before.contains(a))
            .map(|(p, _)| p.display().to_string())
            .chain(
                before
                    .iter()
                    .filter(|b| !after.contains(b))
                    .map(|(p, _)| p.display().to_string()),
            )
            .filter(|p| !p.contains("/reenroll.log") && !p.ends_with("/lock"))
            .collect();
        assert!(changed.is_empty(), "{broken}: {changed:?}");
        assert!(f.root.join("var/db/sandbox/mdm-profile").exists());
        assert!(journal(&f).is_empty(), "{broken}: no run was started");
        assert!(
            f.server
                .requests()
                .iter()
                .all(|r| r.method == "GET" || r.path.ends_with("/token")),
            "{broken}: {:?}",
            f.server.requests()
        );
        f.assert_no_secret();
    }
}

#[test]
fn plan_lists_what_jamf_escrowed_and_the_delete_waits_for_the_acknowledgment() {
    let f = Fixture::new(SandboxOptions::default(), true);
    let plan = plan_json(&f);
    let escrow = step(&plan, "escrow-deleted");
    let notes = escrow["notes"].to_string();
    assert!(
        notes.contains("FileVault personal recovery key: held")
            && notes.contains("(LAPS) password: held")
            && notes.contains("Recovery Lock password: none"),
        "{escrow:#}"
    );
    assert_eq!(escrow["changes"][0]["op"], "operator", "{escrow:#}");

    // Without --confirm escrow-deleted the run stops there, before anything changes.
    let out = f.reenroll(&["run", "--yes", "--set", "server_wait_minutes=0"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let shown = text(&out);
    assert!(
        shown.contains("also deletes what Jamf Pro escrowed")
            && shown.contains("FileVault personal recovery key: held")
            && shown.contains("--confirm escrow-deleted"),
        "{shown}"
    );
    assert_eq!(f.status()["paused_at_step"], "escrow-deleted");
    assert!(f.root.join("var/db/sandbox/mdm-profile").exists());
    assert!(
        f.calls().iter().all(|c| c.starts_with("GET ")),
        "{:?}",
        f.calls()
    );
    assert!(f.server.model().escrow.contains_key("42"));

    // Acknowledged: the run goes on and the record goes, with what Jamf escrowed.
    let out = f.reenroll(&["resume", "--confirm", "escrow-deleted"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert_eq!(f.step_state("escrow-deleted"), "done");
    assert_eq!(f.step_state("delete-jamf-record"), "done");
    assert!(!f.server.model().escrow.contains_key("42"));
    f.assert_no_secret();
}

#[test]
fn without_credentials_the_plan_says_what_jamf_may_hold() {
    let f = Fixture::new(SandboxOptions::default(), false);
    let plan = plan_json(&f);
    let escrow = step(&plan, "escrow-deleted");
    let already = escrow["already"].to_string();
    assert!(
        already.contains("may hold a FileVault personal recovery key")
            && already.contains("(LAPS) password")
            && already.contains("Recovery Lock password"),
        "{escrow:#}"
    );
    let check = step(&plan, "check-filevault-escrow");
    assert_eq!(check["action"], "operator", "{check:#}");
    assert!(f.server.requests().is_empty());
}
