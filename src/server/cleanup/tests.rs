//! Scenario tests of the server steps against the local test server.

use std::cell::RefCell;
use std::time::Duration;

use super::*;
use crate::server::graph::{EntraDevice, IntuneDevice};
use crate::server::jamf::JamfComputer;
use crate::server::testserver::{demo_model, Model, RecordedRequest, TestServer, Throttle};

const SERIAL: &str = "C02DEMO12345";
const ENTRA_ID: &str = "6fa60d52-01e7-4b18-8055-4759461fc16b";

fn target() -> ServerTarget {
    ServerTarget {
        serial: SERIAL.into(),
        entra_device_ids: vec![ENTRA_ID.into()],
        computer_name: Some("Demo-MacBook".into()),
        intune_all_agents: false,
    }
}

fn demo() -> TestServer {
    TestServer::start(demo_model(SERIAL)).unwrap()
}

/// The requests that change something, as "METHOD path".
fn writes(reqs: &[RecordedRequest]) -> Vec<String> {
    reqs.iter()
        .filter(|r| r.method != "GET" && !r.path.ends_with("/token"))
        .map(|r| format!("{} {}", r.method, r.path))
        .collect()
}

#[test]
fn plan_only_reads() {
    let server = demo();
    let plan = plan(&server.clients(), &target()).unwrap();
    assert!(
        writes(&server.requests()).is_empty(),
        "{:#?}",
        server.requests()
    );
    assert!(server
        .requests()
        .iter()
        .all(|r| r.method == "GET" || r.path.ends_with("/token")));

    let records = plan.records();
    let deletes: Vec<(System, &str)> = records
        .iter()
        .filter(|r| r.delete)
        .map(|r| (r.system, r.id.as_str()))
        .collect();
    assert_eq!(
        deletes,
        [
            (System::JamfPro, "42"),
            (System::Entra, "000005c3-b7a6-4c61-89fc-80bf5ccfc366"),
            (System::Intune, "705c034c-034c-705c-4c03-5c704c035c70"),
        ]
    );
    let jamf = &records[0];
    assert_eq!(jamf.name.as_deref(), Some("Demo-MacBook"));
    assert_eq!(jamf.serial.as_deref(), Some(SERIAL));
    assert!(jamf.enrolled.is_some() && jamf.last_sync.is_some());
    assert!(!plan.needs_allow_multiple());
    let text = plan.describe().join("\n");
    assert!(
        text.contains("keep   Intune 11111111-2222-3333-4444-555555555555"),
        "{text}"
    );
    assert!(text.contains("not deleted: managed by mdm"), "{text}");
    // The demo model is unchanged.
    assert_eq!(server.model().computers.len(), 2);
}

#[test]
fn apply_unmanages_then_deletes_in_the_safe_order() {
    let server = demo();
    let clients = server.clients();
    let plan = plan(&clients, &target()).unwrap();
    server.clear_requests();
    let report = apply(&clients, &plan, &ApplyOptions::default()).unwrap();
    assert_eq!(
        writes(&server.requests()),
        [
            "POST /api/v4/computers-inventory/42/remove-mdm-profile",
            "DELETE /api/v4/computers-inventory/42",
            "DELETE /v1.0/devices/000005c3-b7a6-4c61-89fc-80bf5ccfc366",
            "DELETE /v1.0/deviceManagement/managedDevices/705c034c-034c-705c-4c03-5c704c035c70",
        ]
    );
    // Every delete was preceded by a re-read of the same record.
    let reqs = server.requests();
    for (i, r) in reqs
        .iter()
        .enumerate()
        .filter(|(_, r)| r.method == "DELETE")
    {
        let prev = &reqs[i - 1];
        assert_eq!(
            (prev.method.as_str(), prev.path.as_str()),
            ("GET", r.path.as_str())
        );
    }
    let model = server.model();
    assert_eq!(model.computers.len(), 1, "the other Mac stays");
    assert!(model.entra_devices.is_empty());
    assert_eq!(model.managed_devices.len(), 1, "the mdm record stays");
    assert_eq!(model.unmanage_commands, ["42"]);

    let jamf = report.jamf.as_ref().unwrap();
    assert_eq!(jamf.actions[0].kind, ActionKind::Unmanage);
    assert!(matches!(
        jamf.actions[0].result,
        ActionResult::Accepted {
            command_uuid: Some(_)
        }
    ));
    assert_eq!(jamf.actions[1].result, ActionResult::Deleted);
    assert!(report.intune_settle_start().is_some());
    assert_eq!(report.intune.as_ref().unwrap().notes.len(), 1);
}

#[test]
fn an_unmanaged_record_is_deleted_without_the_command_unless_asked() {
    let server = demo();
    server.update_model(|m| m.computers[0].managed = Some(false));
    let clients = server.clients();
    let p = plan(&clients, &target()).unwrap();
    jamf_step::apply(
        clients.jamf.as_ref().unwrap(),
        p.jamf.as_ref().unwrap(),
        &ApplyOptions::default(),
    )
    .unwrap();
    assert!(server.model().unmanage_commands.is_empty());

    let server = demo();
    server.update_model(|m| m.computers[0].managed = Some(false));
    let clients = server.clients();
    let p = plan(&clients, &target()).unwrap();
    let opts = ApplyOptions {
        mdm_profile_present: true,
        ..Default::default()
    };
    jamf_step::apply(
        clients.jamf.as_ref().unwrap(),
        p.jamf.as_ref().unwrap(),
        &opts,
    )
    .unwrap();
    assert_eq!(server.model().unmanage_commands, ["42"]);
}

#[test]
fn a_failed_unmanage_keeps_the_record() {
    let server = demo();
    let clients = server.clients();
    let p = plan(&clients, &target()).unwrap();
    server.fail_next(
        "POST",
        "/api/v4/computers-inventory/42/remove-mdm-profile",
        403,
        r#"{"httpStatus":403,"errors":[{"code":"INVALID_PRIVILEGE","description":"Forbidden","id":"0","field":null}]}"#,
    );
    let err = format!(
        "{:#}",
        apply(&clients, &p, &ApplyOptions::default()).unwrap_err()
    );
    assert!(
        err.contains("POST /api/v4/computers-inventory/42/remove-mdm-profile"),
        "{err}"
    );
    assert!(
        err.contains("HTTP 403") && err.contains("INVALID_PRIVILEGE"),
        "{err}"
    );
    assert!(err.contains("Send Computer Unmanage Command"), "{err}");
    assert_eq!(server.model().computers.len(), 2);
    assert!(writes(&server.requests())
        .iter()
        .all(|w| !w.starts_with("DELETE")));
}

#[test]
fn a_404_without_invalid_id_from_the_unmanage_route_is_not_read_as_gone() {
    let server = demo();
    let clients = server.clients();
    let p = plan(&clients, &target()).unwrap();
    // A missing route (a proxy, a server without it): 404 with no INVALID_ID body.
    server.fail_next(
        "POST",
        "/api/v4/computers-inventory/42/remove-mdm-profile",
        404,
        "<html><body>Not Found</body></html>",
    );
    let err = format!(
        "{:#}",
        apply(&clients, &p, &ApplyOptions::default()).unwrap_err()
    );
    assert!(err.contains("route is missing"), "{err}");
    assert!(!err.contains("already gone"), "{err}");
    assert_eq!(server.model().computers.len(), 2, "the record stays");
    assert!(writes(&server.requests())
        .iter()
        .all(|w| !w.starts_with("DELETE")));
}

#[test]
fn invalid_id_is_confirmed_by_a_re_read_before_it_counts_as_gone() {
    // INVALID_ID while the record is still there: not gone, nothing deleted.
    let server = demo();
    let clients = server.clients();
    let p = plan(&clients, &target()).unwrap();
    server.fail_next(
        "POST",
        "/api/v4/computers-inventory/42/remove-mdm-profile",
        404,
        r#"{"httpStatus":404,"errors":[{"code":"INVALID_ID","description":"Computer not found","id":"0","field":null}]}"#,
    );
    let err = format!(
        "{:#}",
        apply(&clients, &p, &ApplyOptions::default()).unwrap_err()
    );
    assert!(err.contains("still there"), "{err}");
    assert_eq!(server.model().computers.len(), 2);

    // A DELETE answered 204 that left the record: the re-read says so, the step fails.
    let server = demo();
    server.update_model(|m| m.computers[0].managed = Some(false));
    let clients = server.clients();
    let p = plan(&clients, &target()).unwrap();
    server.fail_next("DELETE", "/api/v4/computers-inventory/42", 204, "");
    let err = format!(
        "{:#}",
        jamf_step::apply(
            clients.jamf.as_ref().unwrap(),
            p.jamf.as_ref().unwrap(),
            &ApplyOptions::default()
        )
        .unwrap_err()
    );
    assert!(err.contains("still there after the DELETE"), "{err}");

    // Gone for real (deleted elsewhere): INVALID_ID, then the re-read agrees.
    let server = demo();
    let clients = server.clients();
    let p = plan(&clients, &target()).unwrap();
    server.update_model(|m| m.computers.retain(|c| c.id != "42"));
    let r = jamf_step::apply(
        clients.jamf.as_ref().unwrap(),
        p.jamf.as_ref().unwrap(),
        &ApplyOptions::default(),
    )
    .unwrap();
    assert_eq!(r.actions[0].result, ActionResult::AlreadyGone);
}

#[test]
fn jamf_unmanage_alone_sends_only_the_command() {
    let server = demo();
    let clients = server.clients();
    let p = plan(&clients, &target()).unwrap();
    let r = jamf_step::unmanage(
        clients.jamf.as_ref().unwrap(),
        p.jamf.as_ref().unwrap(),
        false,
    )
    .unwrap();
    assert_eq!(r.actions.len(), 1);
    assert_eq!(
        writes(&server.requests()),
        ["POST /api/v4/computers-inventory/42/remove-mdm-profile"]
    );
}

fn with_duplicates() -> TestServer {
    let server = demo();
    server.update_model(|m| {
        m.computers.push(JamfComputer {
            id: "77".into(),
            serial: Some(SERIAL.into()),
            name: Some("Demo-MacBook (old)".into()),
            managed: Some(false),
            ..Default::default()
        });
        m.entra_devices.push(EntraDevice {
            id: "second-object".into(),
            device_id: Some(ENTRA_ID.into()),
            ..Default::default()
        });
    });
    server
}

#[test]
fn multiple_matches_need_allow_multiple_and_nothing_is_deleted_without() {
    let server = with_duplicates();
    let clients = server.clients();
    let p = plan(&clients, &target()).unwrap();
    assert!(p.needs_allow_multiple());
    assert!(p.jamf.as_ref().unwrap().needs_allow_multiple);
    assert!(p.entra.as_ref().unwrap().needs_allow_multiple);
    server.clear_requests();
    let err = apply(&clients, &p, &ApplyOptions::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("--allow-multiple"), "{err}");
    assert!(
        err.contains("2 Jamf Pro computers") && err.contains("2 Entra devices"),
        "{err}"
    );
    assert!(server.requests().is_empty(), "{:#?}", server.requests());
    // Each step refuses on its own too.
    assert!(entra_step::apply(
        clients.graph.as_ref().unwrap(),
        p.entra.as_ref().unwrap(),
        false
    )
    .is_err());
    assert!(jamf_step::unmanage(
        clients.jamf.as_ref().unwrap(),
        p.jamf.as_ref().unwrap(),
        false
    )
    .is_err());
    assert!(server.requests().is_empty());

    let opts = ApplyOptions {
        allow_multiple: true,
        ..Default::default()
    };
    let report = apply(&clients, &p, &opts).unwrap();
    assert_eq!(server.model().computers.len(), 1);
    assert!(server.model().entra_devices.is_empty());
    assert_eq!(
        report
            .actions()
            .filter(|a| a.result == ActionResult::Deleted)
            .count(),
        5
    );
}

#[test]
fn records_gone_since_the_plan_count_as_done() {
    let server = demo();
    let clients = server.clients();
    let p = plan(&clients, &target()).unwrap();
    server.update_model(|m| {
        m.computers.retain(|c| c.id != "42");
        m.entra_devices.clear();
        m.managed_devices
            .retain(|d| d.management_agent.as_deref() != Some("jamf"));
    });
    let report = apply(&clients, &p, &ApplyOptions::default()).unwrap();
    assert!(
        report
            .actions()
            .all(|a| a.result == ActionResult::AlreadyGone),
        "{report:#?}"
    );
    assert!(writes(&server.requests())
        .iter()
        .all(|w| !w.starts_with("DELETE")));
    assert_eq!(report.intune_settle_start(), None);
    // Applying the same plan again is harmless.
    apply(&clients, &p, &ApplyOptions::default()).unwrap();
}

#[test]
fn a_reused_id_is_not_deleted() {
    let server = demo();
    let clients = server.clients();
    let p = plan(&clients, &target()).unwrap();
    server.update_model(|m| m.managed_devices[0].serial = Some("C02SOMEONEELSE".into()));
    let err = format!(
        "{:#}",
        apply(&clients, &p, &ApplyOptions::default()).unwrap_err()
    );
    assert!(err.contains("plan again"), "{err}");
    assert!(err.contains("already done"), "{err}");
    assert_eq!(server.model().managed_devices.len(), 2);
}

#[test]
fn non_jamf_intune_records_are_untouched_unless_all_agents() {
    let server = demo();
    let clients = server.clients();
    let p = plan(&clients, &target()).unwrap();
    let i = p.intune.as_ref().unwrap();
    assert_eq!((i.delete.len(), i.keep.len()), (1, 1));
    intune_step::apply(clients.graph.as_ref().unwrap(), i).unwrap();
    assert_eq!(
        server.model().managed_devices[0]
            .management_agent
            .as_deref(),
        Some("mdm")
    );

    let all = ServerTarget {
        intune_all_agents: true,
        ..target()
    };
    let p = plan(&clients, &all).unwrap();
    intune_step::apply(clients.graph.as_ref().unwrap(), p.intune.as_ref().unwrap()).unwrap();
    assert!(server.model().managed_devices.is_empty());
}

#[test]
fn throttled_deletes_are_retried_and_waits_recorded() {
    let server = demo();
    let clients = server.clients();
    let p = plan(&clients, &target()).unwrap();
    server.throttle(
        "DELETE",
        "/v1.0/deviceManagement/",
        2,
        Throttle::TooManyRequests { retry_after: 1 },
    );
    server.throttle("DELETE", "/v1.0/devices/", 1, Throttle::ServiceUnavailable);
    apply(&clients, &p, &ApplyOptions::default()).unwrap();
    assert_eq!(
        server.waits(),
        [1, 1, 1].map(Duration::from_secs).to_vec(),
        "503 waits the first backoff (1 s), 429 waits Retry-After"
    );
    assert_eq!(server.model().managed_devices.len(), 1);
}

#[test]
fn jamf_paging_and_graph_next_links_in_a_plan() {
    let server = demo();
    server.update_model(|m| {
        for n in 0..4 {
            m.managed_devices.push(IntuneDevice {
                id: format!("extra-{n}"),
                serial: Some(SERIAL.into()),
                management_agent: Some("jamf".into()),
                ..Default::default()
            });
        }
    });
    server.configure(|c| c.graph_page_size = 2);
    let p = plan(&server.clients(), &target()).unwrap();
    assert_eq!(p.intune.as_ref().unwrap().delete.len(), 5);
    let pages = server
        .requests()
        .iter()
        .filter(|r| r.path == "/v1.0/deviceManagement/managedDevices")
        .count();
    assert_eq!(pages, 3);
}

#[test]
fn without_credentials_the_steps_stay_operator_steps() {
    let p = plan(&Clients::default(), &target()).unwrap();
    assert!(p.jamf.is_none() && p.entra.is_none() && p.intune.is_none());
    assert_eq!(p.warnings.len(), 2);
    let report = apply(&Clients::default(), &p, &ApplyOptions::default()).unwrap();
    assert_eq!(report, ServerReport::default());
}

#[test]
fn wait_polls_until_intune_is_clear() {
    let server = demo();
    let clients = server.clients();
    let slept = RefCell::new(Vec::new());
    let polls_before_gone = 3;
    let count = RefCell::new(0);
    let sleep = |d: Duration| {
        slept.borrow_mut().push(d);
        *count.borrow_mut() += 1;
        if *count.borrow() == polls_before_gone - 1 {
            server.update_model(|m| {
                m.managed_devices
                    .retain(|d| d.management_agent.as_deref() != Some("jamf"))
            });
        }
    };
    let w = wait_until_intune_clear(
        &clients,
        SERIAL,
        false,
        Duration::from_secs(600),
        Duration::from_secs(30),
        &sleep,
    )
    .unwrap();
    assert!(w.clear, "{w:?}");
    assert_eq!(w.polls, 3);
    assert_eq!(*slept.borrow(), vec![Duration::from_secs(30); 2]);
}

#[test]
fn wait_gives_up_after_the_timeout() {
    let server = demo();
    let clients = server.clients();
    let w = wait_until_intune_clear(
        &clients,
        SERIAL,
        false,
        Duration::from_secs(90),
        Duration::from_secs(30),
        &|_| {},
    )
    .unwrap();
    assert!(!w.clear);
    assert_eq!(w.polls, 4);
    assert_eq!(w.remaining.len(), 1);
}

#[test]
fn reports_round_trip_through_json() {
    let server = demo();
    let clients = server.clients();
    let p = plan(&clients, &target()).unwrap();
    let report = apply(&clients, &p, &ApplyOptions::default()).unwrap();
    let json = serde_json::to_string(&report).unwrap();
    let back: ServerReport = serde_json::from_str(&json).unwrap();
    assert_eq!(back, report);
    let plan_json = serde_json::to_string(&p).unwrap();
    assert!(!plan_json.contains("secret"), "{plan_json}");
    assert_eq!(serde_json::from_str::<ServerPlan>(&plan_json).unwrap(), p);
}

#[test]
fn no_secret_in_client_debug_output() {
    let server = demo();
    let clients = server.clients();
    let debug = format!("{clients:?}");
    let c = server.config();
    assert!(
        !debug.contains(&c.jamf_client_secret) && !debug.contains(&c.graph_client_secret),
        "{debug}"
    );
}

#[test]
fn the_other_model_is_empty_by_default() {
    let server = TestServer::start(Model::default()).unwrap();
    let p = plan(&server.clients(), &target()).unwrap();
    assert!(!p.has_deletions());
    assert!(p.describe()[0].starts_with("no server record"));
}
