//! Every JSON document reenroll prints against its schema in docs/schemas/ (JSON Schema draft
//! 2020-12, checked by the `jsonschema` crate), on real outputs of sandbox devices in several
//! states; and the schemas are strict enough to refuse a document that is wrong.

mod support;

use std::path::Path;

use serde_json::{json, Value};
use support::{Device, Sandbox};

const CAUSE6: &str = include_str!("../playbooks/cause6.toml");

fn schema(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("docs/schemas")
        .join(format!("{name}.schema.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let schema: Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    if let Err(e) = jsonschema::meta::validate(&schema) {
        panic!("{} is not a valid JSON Schema: {e}", path.display());
    }
    schema
}

/// What is wrong with `doc` by the schema `name` (empty: nothing).
fn errors(name: &str, doc: &Value) -> Vec<String> {
    let validator = jsonschema::draft202012::new(&schema(name))
        .unwrap_or_else(|e| panic!("{name}.schema.json: {e}"));
    validator
        .iter_errors(doc)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

#[track_caller]
fn valid(name: &str, what: &str, doc: &Value) {
    let errs = errors(name, doc);
    assert!(
        errs.is_empty(),
        "{what} does not match docs/schemas/{name}.schema.json:\n  {}\n{doc:#}",
        errs.join("\n  ")
    );
}

/// The document's text starts with `"format_version": 1`, and it is valid by `name`.
#[track_caller]
fn printed(name: &str, what: &str, stdout: &str) -> Value {
    assert!(
        stdout.starts_with("{\n  \"format_version\": 1,\n"),
        "{what}: format_version is not the first field:\n{stdout}"
    );
    let doc: Value = serde_json::from_str(stdout).unwrap_or_else(|e| panic!("{what}: {e}"));
    valid(name, what, &doc);
    doc
}

fn json_of(dev: &Device, args: &[&str], code: i32, schema_name: &str) -> Value {
    let run = dev.reenroll(args).exit(code);
    printed(schema_name, &format!("{args:?}"), &run.stdout)
}

/// A playbook of only the cause6 steps named.
fn cause6_subset(ids: &[&str]) -> String {
    let mut doc: toml::Table = toml::from_str(CAUSE6).unwrap();
    let steps: Vec<toml::Value> = doc["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| ids.contains(&s["id"].as_str().unwrap()))
        .cloned()
        .collect();
    assert_eq!(steps.len(), ids.len(), "cause6 lacks one of {ids:?}");
    doc.insert("name".into(), "cause6-subset".into());
    doc.insert("steps".into(), toml::Value::Array(steps));
    toml::to_string(&doc).unwrap()
}

fn states(status: &Value) -> Vec<String> {
    status["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["state"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn plans_of_several_devices_match_the_plan_schema() {
    let dev = Sandbox::new().keychain_edge_cases().build();
    let plan = json_of(&dev, &["plan", "--json"], 0, "plan");
    assert!(plan["steps"].as_array().unwrap().len() > 10);
    // Lists are arrays and numbers are numbers, also in the facts.
    assert!(plan["facts"]["entra_device_ids"].is_array(), "{plan:#}");
    assert!(plan["facts"]["console_uid"].is_u64(), "{plan:#}");
    assert!(plan["totals"]["bytes"].is_u64());
    json_of(&dev, &["plan", "reregister", "--json"], 0, "plan");
    json_of(
        &dev,
        &["plan", "--json", "--set", "intune_settle_minutes=5"],
        0,
        "plan",
    );
    let dev = Sandbox::new()
        .ade()
        .psso()
        .mdm_removal_disallowed()
        .jss_offline()
        .managed_network(&["wifi", "root-cert"])
        .build();
    let plan = json_of(&dev, &["plan", "--json"], 0, "plan");
    assert!(plan["facts"]["managed_payloads"].is_array(), "{plan:#}");
}

#[test]
fn status_in_every_state_matches_the_status_schema() {
    let dev = Sandbox::new().users(&["alice"]).build();
    // Fresh: no run yet.
    let s = json_of(&dev, &["status", "--json"], 0, "status");
    assert_eq!(s["runs"], json!([]));

    // Completed.
    let pb = dev.playbook(
        "containers",
        &cause6_subset(&["preflight", "purge-user-containers"]),
    );
    dev.reenroll(&["run", &pb, "--yes"]).exit(0);
    let s = json_of(&dev, &["status", "--json"], 0, "status");
    assert_eq!(states(&s), ["completed"]);

    // Rolled back.
    dev.reenroll(&["rollback", "--yes"]).exit(0);
    let s = json_of(&dev, &["status", "--json"], 0, "status");
    assert_eq!(states(&s), ["rolled-back"]);

    // Paused: cause6 waits for the operator's escrow confirmation.
    dev.reenroll(&["run", "--yes"]).exit(3);
    let s = json_of(&dev, &["status", "--json"], 0, "status");
    assert_eq!(
        states(&s),
        ["rolled-back", "paused"],
        "runs are oldest first"
    );
    let paused = &s["runs"][1];
    assert!(paused["paused"].is_string() && paused["paused_at_step"].is_string());
    let id = paused["id"].as_str().unwrap().to_string();
    json_of(&dev, &["status", &id, "--json"], 0, "status");

    // Interrupted: a crash before a step.
    let dev = Sandbox::new().users(&["alice"]).build();
    let pb = dev.playbook(
        "containers",
        &cause6_subset(&["preflight", "purge-user-containers"]),
    );
    dev.reenroll(&["run", &pb, "--yes"])
        .fault("crash@before-step:purge-user-containers")
        .killed();
    let s = json_of(&dev, &["status", "--json"], 0, "status");
    assert_eq!(states(&s), ["interrupted"]);
}

#[test]
fn diagnose_of_every_planted_symptom_matches_the_diagnose_schema() {
    for (name, _) in reenroll::diagnose::SYMPTOMS {
        let dev = Sandbox::new().symptom(name).build();
        let server_log = dev.path(reenroll::diagnose::SERVER_LOG);
        let run = dev
            .reenroll(&[
                "diagnose",
                "--json",
                "--server-log",
                server_log.to_str().unwrap(),
            ])
            .run();
        assert!(
            matches!(run.code, Some(0 | 5)),
            "{name}: exit {:?}",
            run.code
        );
        printed("diagnose", &format!("diagnose of {name}"), &run.stdout);
    }
}

#[test]
fn playbooks_listed_and_shown_match_the_playbooks_schema() {
    let dev = Sandbox::new().build();
    let list = json_of(&dev, &["playbooks", "--json"], 0, "playbooks");
    let names: Vec<&str> = list["playbooks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    let embedded: Vec<&str> = reenroll::playbook::embedded::EMBEDDED
        .iter()
        .map(|(n, _)| *n)
        .collect();
    assert_eq!(names, embedded);
    for name in embedded {
        let one = json_of(&dev, &["playbooks", "show", name, "--json"], 0, "playbooks");
        assert_eq!(one["name"], name);
        let listed = list["playbooks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap();
        assert_eq!(&one, &{
            let mut l = listed.clone();
            l["format_version"] = json!(1);
            l
        });
        let first = &one["steps"][0];
        assert!(
            first["id"].is_string() && first["action"].is_string(),
            "{one:#}"
        );
    }
    // A file is accepted too, and shown the same way.
    let pb = dev.playbook("subset", &cause6_subset(&["preflight"]));
    let one = json_of(&dev, &["playbooks", "show", &pb, "--json"], 0, "playbooks");
    assert_eq!(one["origin"], pb.as_str());
}

#[test]
fn the_schemas_refuse_wrong_documents() {
    // A plan whose numbers are text, whose lists are joined, with a field too many, or
    // without its format version: each is refused, naming where.
    let plan = json!({
        "format_version": 1,
        "playbook": "cause6",
        "description": "",
        "device": "this Mac",
        "facts": { "serial": "C02X", "console_uid": 501, "entra_device_ids": ["a"] },
        "vars": { "intune_settle_minutes": { "value": "30", "source": "default" } },
        "steps": [{
            "id": "preflight", "title": "t", "action": "facts", "needs_root": false,
            "reversible": false, "changes": [{ "op": "remove", "target": "/x", "reversible": true, "bytes": 3 }],
            "already": [], "unseen": [], "notes": []
        }],
        "totals": { "remove": 1, "bytes": 3, "refuse": 0, "run": 0, "delete": 0, "operator": 0, "irreversible": 0 },
        "warnings": [],
        "server_access": []
    });
    valid("plan", "the good plan", &plan);
    let wrong = |path: &[&str], value: Value| {
        let mut doc = plan.clone();
        let mut at = &mut doc;
        for (i, key) in path.iter().enumerate() {
            if i + 1 == path.len() {
                match key.parse::<usize>() {
                    Ok(n) => at[n] = value.clone(),
                    Err(_) => at[*key] = value.clone(),
                }
            } else {
                at = match key.parse::<usize>() {
                    Ok(n) => &mut at[n],
                    Err(_) => &mut at[*key],
                };
            }
        }
        doc
    };
    for (path, value) in [
        (&["totals", "bytes"][..], json!("3")),
        (&["facts", "entra_device_ids"][..], json!("a, b")),
        (&["facts", "console_uid"][..], json!("501")),
        (&["steps", "0", "changes", "0", "op"][..], json!("erase")),
        (&["steps", "0", "action"][..], json!(7)),
        (&["warnings"][..], json!("one, two")),
        (&["format_version"][..], json!(2)),
        (&["surprise"][..], json!(true)),
    ] {
        let doc = wrong(path, value);
        assert!(
            !errors("plan", &doc).is_empty(),
            "plan.schema.json accepts {path:?} = {}",
            doc.pointer(&format!("/{}", path.join("/"))).unwrap()
        );
    }
    let mut doc = plan.clone();
    doc.as_object_mut().unwrap().remove("format_version");
    assert!(
        !errors("plan", &doc).is_empty(),
        "format_version is optional"
    );

    assert!(!errors("status", &json!({ "format_version": 1, "runs": "none" })).is_empty());
    assert!(!errors("status", &json!({ "runs": [] })).is_empty());
    let finding = json!({
        "format_version": 1,
        "findings": [{ "id": "P1", "title": "t", "confidence": "high",
            "evidence": [{ "source": "/var/log/jamf.log", "line": "12", "time": null, "text": "x" }],
            "remedy": { "playbook": null, "server": null, "manual": null } }],
        "not_visible_from_device": [],
        "could_not_read": []
    });
    let errs = errors("diagnose", &finding);
    assert!(
        errs.iter()
            .any(|e| e.contains("/findings/0/evidence/0/line")),
        "{errs:?}"
    );
    let shown = json!({ "format_version": 1, "name": "x", "description": "", "origin": "playbooks/x.toml",
        "vars": {}, "steps": [{ "id": "a", "title": "t", "action": "remove", "article": null,
        "needs_root": true, "reversible": true }], "extra": 1 });
    assert!(
        !errors("playbooks", &shown).is_empty(),
        "an extra field passes"
    );
}

#[test]
fn status_and_plan_describe_the_facts_alike() {
    assert_eq!(
        schema("plan")["$defs"]["facts"],
        schema("status")["$defs"]["facts"]
    );
}

#[test]
fn server_cleanup_planned_and_applied_matches_its_schema() {
    use reenroll::server::testserver::{demo_model, TestServer};
    let dev = Sandbox::new().build();
    let serial = dev.serial();
    let server = TestServer::start(demo_model(&serial)).unwrap();
    let c = server.config();
    let url = server.url();
    dev.write(
        "/Library/Application Support/reenroll/credentials.toml",
        format!(
            "[jamf]\nurl = \"{url}\"\nclient_id = \"{}\"\nclient_secret = \"{}\"\n\n[graph]\ntenant_id = \"{}\"\nclient_id = \"{}\"\nclient_secret = \"{}\"\ngraph_url = \"{url}\"\nlogin_url = \"{url}\"\n",
            c.jamf_client_id, c.jamf_client_secret, c.tenant_id, c.graph_client_id, c.graph_client_secret
        ),
    );
    std::fs::set_permissions(
        dev.path("/Library/Application Support/reenroll/credentials.toml"),
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    let args = [
        "server",
        "cleanup",
        "--serial",
        &serial,
        "--device-id",
        "6fa60d52-01e7-4b18-8055-4759461fc16b",
        "--json",
        "--yes",
    ];
    let applied = json_of(&dev, &args, 0, "server-cleanup");
    assert_eq!(applied["applied"], true, "{applied:#}");
    assert!(applied["report"]["jamf"]["actions"].is_array());
    // Again: nothing left to delete, the plan alone.
    let again = json_of(&dev, &args, 0, "server-cleanup");
    assert_eq!(again["applied"], false, "{again:#}");
}
