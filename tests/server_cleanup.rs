//! The server cleanup as the CLI will drive it, from outside the crate: plan, show, apply.

use reenroll::server::cleanup::{ActionKind, ActionResult, System};
use reenroll::server::testserver::{demo_model, TestServer};
use reenroll::server::{apply, plan, ApplyOptions, ServerTarget};

#[test]
fn plan_then_apply_against_the_local_test_server() {
    let server = TestServer::start(demo_model("C02DEMO12345")).unwrap();
    let clients = server.clients();
    let target = ServerTarget {
        serial: "C02DEMO12345".into(),
        entra_device_ids: vec!["6fa60d52-01e7-4b18-8055-4759461fc16b".into()],
        ..Default::default()
    };

    let plan = plan(&clients, &target).unwrap();
    assert!(server.requests().iter().all(|r| r.method != "DELETE"));
    let shown = plan.describe().join("\n");
    assert!(
        shown.contains("delete Jamf Pro 42, name Demo-MacBook, serial C02DEMO12345"),
        "{shown}"
    );

    let report = apply(&clients, &plan, &ApplyOptions::default()).unwrap();
    let deleted = report
        .actions()
        .filter(|a| a.kind == ActionKind::Delete && a.result == ActionResult::Deleted)
        .count();
    assert_eq!(deleted, 3);
    assert_eq!(report.jamf.as_ref().unwrap().system, System::JamfPro);
    assert!(report.intune_settle_start().is_some());
    assert!(server.model().entra_devices.is_empty());
}
