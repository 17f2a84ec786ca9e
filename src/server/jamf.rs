//! The Jamf Pro API calls the server steps need: find computers by serial number, send the
//! unmanage (remove MDM profile) command, delete an inventory record.

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::sync::OnceLock;

use serde_json::Value;

use super::creds::JamfCredentials;
use super::http::{
    encode_component, ApiError, Body, ClientOptions, HttpClient, Service, TokenGrant,
};
use super::DeleteOutcome;

/// A computer inventory record, reduced to what identifies it to an admin.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JamfComputer {
    pub id: String,
    pub name: Option<String>,
    pub serial: Option<String>,
    pub udid: Option<String>,
    pub last_contact: Option<String>,
    /// Last inventory report.
    pub report_date: Option<String>,
    pub enrolled: Option<String>,
    /// Jamf's `general.remoteManagement.managed`; `None` when the server did not say.
    pub managed: Option<bool>,
    /// Jamf's `general.managementId` (the LAPS routes' `clientManagementId`).
    #[serde(default)]
    pub management_id: Option<String>,
}

impl JamfComputer {
    /// Reads one record of `GET /api/vN/computers-inventory` (sections GENERAL and HARDWARE; the
    /// same fields in v1, v3 and v4).
    pub fn from_api(v: &Value) -> Option<JamfComputer> {
        let s = |ptr: &str| v.pointer(ptr).and_then(Value::as_str).map(str::to_string);
        // The API documents the id as a string; older servers sent a number.
        let id = match v.get("id")? {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            _ => return None,
        };
        Some(JamfComputer {
            id,
            name: s("/general/name"),
            serial: s("/hardware/serialNumber"),
            udid: s("/udid"),
            last_contact: s("/general/lastContactTime"),
            report_date: s("/general/reportDate"),
            enrolled: s("/general/lastEnrolledDate"),
            managed: v
                .pointer("/general/remoteManagement/managed")
                .and_then(Value::as_bool),
            management_id: s("/general/managementId"),
        })
    }

    /// The shape the API sends (used by the test server).
    pub fn to_api(&self) -> Value {
        serde_json::json!({
            "id": self.id,
            "udid": self.udid,
            "general": {
                "name": self.name,
                "lastContactTime": self.last_contact,
                "reportDate": self.report_date,
                "lastEnrolledDate": self.enrolled,
                "remoteManagement": { "managed": self.managed },
                "managementId": self.management_id,
            },
            "hardware": { "serialNumber": self.serial },
        })
    }
}

/// What the server answered to the unmanage command.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum UnmanageOutcome {
    /// The command was queued for the Mac.
    Accepted { command_uuid: Option<String> },
    /// There is no such computer: the server answered `INVALID_ID`.
    NotFound,
}

/// A Jamf Pro server version, from `GET /api/v1/jamf-pro-version` (`"11.25.0-t1712345678"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct JamfVersion {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
}

impl JamfVersion {
    pub const fn new(major: u32, minor: u32, patch: u32) -> JamfVersion {
        JamfVersion {
            major,
            minor,
            patch,
        }
    }

    /// `11.25.0-t1712345678`, `11.30.1`, `11.33`: the numbers before any `-` suffix.
    pub fn parse(text: &str) -> Option<JamfVersion> {
        let core = text.trim().split(['-', ' ']).next()?;
        let mut parts = core.split('.');
        let num = |p: Option<&str>| p.and_then(|p| p.parse::<u32>().ok());
        let major = num(parts.next())?;
        let minor = num(parts.next())?;
        let patch = match parts.next() {
            Some(p) => p.parse().ok()?,
            None => 0,
        };
        Some(JamfVersion::new(major, minor, patch))
    }
}

impl std::fmt::Display for JamfVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// The journal note (and header option) that keeps the server's version for the whole run.
pub const VERSION_NOTE: &str = "jamf-pro-version";

/// Which version of the computer inventory routes a server has, chosen only on the boundaries
/// Jamf documents (docs/server.md, "Routes by version"): `/v3/computers-inventory` first listed
/// in the 11.23.0 additions, `/v4/computers-inventory` (with `remove-mdm-profile`) in the
/// 11.30.0 additions. The newest the server has is used; nothing is tried "to see".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum InventoryApi {
    V1,
    V3,
    V4,
}

/// First version whose API reference lists `/v3/computers-inventory`.
pub const V3_SINCE: JamfVersion = JamfVersion::new(11, 23, 0);
/// First version whose API reference lists `/v4/computers-inventory`.
pub const V4_SINCE: JamfVersion = JamfVersion::new(11, 30, 0);

impl InventoryApi {
    pub fn for_version(v: JamfVersion) -> InventoryApi {
        if v >= V4_SINCE {
            InventoryApi::V4
        } else if v >= V3_SINCE {
            InventoryApi::V3
        } else {
            InventoryApi::V1
        }
    }

    /// `/api/vN/computers-inventory`.
    pub fn inventory(self) -> &'static str {
        match self {
            InventoryApi::V1 => "/api/v1/computers-inventory",
            InventoryApi::V3 => "/api/v3/computers-inventory",
            InventoryApi::V4 => "/api/v4/computers-inventory",
        }
    }

    /// The unmanage (remove MDM profile) command: `/v4/computers-inventory/{id}/remove-mdm-profile`
    /// from 11.30.0, before that `/v1/computer-inventory/{id}/remove-mdm-profile` (v3 has none).
    pub fn unmanage(self, id: &str) -> String {
        match self {
            InventoryApi::V4 => format!(
                "/api/v4/computers-inventory/{}/remove-mdm-profile",
                encode_component(id)
            ),
            _ => format!(
                "/api/v1/computer-inventory/{}/remove-mdm-profile",
                encode_component(id)
            ),
        }
    }
}

/// Whether Jamf Pro holds a secret it escrowed for the Mac. Learned from read-only requests;
/// the secret itself is read only where the API gives no other way to know, and dropped at once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Holding {
    Held,
    NotHeld,
    /// Could not tell (no privilege, no answer, an answer not understood): it may exist.
    Unknown(String),
}

impl Holding {
    fn describe(&self) -> String {
        match self {
            Holding::Held => "held".into(),
            Holding::NotHeld => "none".into(),
            Holding::Unknown(why) => format!("may exist (could not check: {why})"),
        }
    }
}

/// What Jamf Pro escrowed for one computer, lost when its record is deleted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Escrow {
    pub filevault_key: Holding,
    pub laps: Holding,
    pub recovery_lock: Holding,
}

impl Escrow {
    /// One line: `FileVault personal recovery key: held; managed local administrator (LAPS)
    /// password: none; Recovery Lock password: may exist (…)`.
    pub fn describe(&self) -> String {
        format!(
            "FileVault personal recovery key: {}; managed local administrator (LAPS) password: {}; Recovery Lock password: {}",
            self.filevault_key.describe(),
            self.laps.describe(),
            self.recovery_lock.describe()
        )
    }

    pub fn anything_may_be_lost(&self) -> bool {
        [&self.filevault_key, &self.laps, &self.recovery_lock]
            .iter()
            .any(|h| **h != Holding::NotHeld)
    }
}

#[derive(Debug)]
pub struct JamfClient {
    http: HttpClient,
    page_size: u32,
    version: OnceLock<JamfVersion>,
}

impl JamfClient {
    pub fn new(creds: &JamfCredentials, opts: &ClientOptions) -> Self {
        let base = creds.url.trim_end_matches('/');
        let grant = TokenGrant {
            token_url: format!("{base}/api/oauth/token"),
            client_id: creds.client_id.clone(),
            client_secret: creds.client_secret.clone(),
            scope: None,
        };
        JamfClient {
            http: HttpClient::new(Service::JamfPro, base, grant, opts),
            page_size: 100,
            version: OnceLock::new(),
        }
    }

    /// Records per page of inventory searches (tests use small pages to exercise paging).
    pub fn with_page_size(mut self, page_size: u32) -> Self {
        self.page_size = page_size.max(1);
        self
    }

    pub fn base_url(&self) -> &str {
        self.http.base_url()
    }

    /// The server's version, asked once (`GET /api/v1/jamf-pro-version`) unless `use_version`
    /// gave it (the run journals it and asks once).
    pub fn version(&self) -> Result<JamfVersion> {
        if let Some(v) = self.version.get() {
            return Ok(*v);
        }
        let body: Value = self.http.get_json(VERSION_ROUTE)?;
        let text = body
            .get("version")
            .and_then(Value::as_str)
            .with_context(|| {
                format!("Jamf Pro API GET {VERSION_ROUTE}: the answer has no version")
            })?;
        let v = JamfVersion::parse(text).with_context(|| {
            format!("Jamf Pro API GET {VERSION_ROUTE}: {text:?} is not a version this client reads")
        })?;
        Ok(*self.version.get_or_init(|| v))
    }

    /// Uses this version instead of asking (from the run's journal).
    pub fn use_version(&self, v: JamfVersion) {
        let _ = self.version.set(v);
    }

    /// The inventory routes for the server's version.
    pub fn api(&self) -> Result<InventoryApi> {
        Ok(InventoryApi::for_version(self.version()?))
    }

    /// A 404 without `INVALID_ID`: the server does not have this route. Never read as "gone".
    fn route_missing(&self, e: ApiError) -> anyhow::Error {
        let version = self
            .version
            .get()
            .map(|v| v.to_string())
            .unwrap_or_else(|| "of unknown version".into());
        anyhow::Error::new(e).context(format!(
            "Jamf Pro {version} answered 404 without INVALID_ID: the route is missing on this server (not the record); nothing is taken as deleted"
        ))
    }

    /// Every computer whose hardware serial number is `serial`, all pages read.
    pub fn find_by_serial(&self, serial: &str) -> Result<Vec<JamfComputer>> {
        check_serial(serial)?;
        let inventory = self.api()?.inventory();
        let filter = encode_component(&format!("hardware.serialNumber=={}", rsql_quote(serial)));
        let mut found = Vec::new();
        for page in 0.. {
            let target = format!(
                "{inventory}?section=GENERAL&section=HARDWARE&page={page}&page-size={}&sort=id%3Aasc&filter={filter}",
                self.page_size
            );
            let body: Value = match self.http.get_json(&target) {
                Ok(b) => b,
                Err(e) if e.is_not_found() => return Err(self.route_missing(e)),
                Err(e) => return Err(e.into()),
            };
            let results = body
                .get("results")
                .and_then(Value::as_array)
                .with_context(|| {
                    format!("Jamf Pro API GET {inventory}: the answer has no results list")
                })?;
            let total = body.get("totalCount").and_then(Value::as_u64).unwrap_or(0);
            for r in results {
                found.push(JamfComputer::from_api(r).with_context(|| {
                    format!("Jamf Pro API GET {inventory}: a result has no id")
                })?);
            }
            // An empty page ends the loop even if totalCount disagrees, so a server that
            // miscounts cannot keep us paging forever.
            if results.is_empty() || found.len() as u64 >= total {
                break;
            }
        }
        Ok(found)
    }

    /// One computer by id; `None` only when the server says `INVALID_ID` (no such computer).
    pub fn get(&self, id: &str) -> Result<Option<JamfComputer>> {
        let target = format!(
            "{}/{}?section=GENERAL&section=HARDWARE",
            self.api()?.inventory(),
            encode_component(id)
        );
        match self.http.get_json::<Value>(&target) {
            Ok(v) => JamfComputer::from_api(&v)
                .map(Some)
                .with_context(|| format!("Jamf Pro API GET computer {id}: the answer has no id")),
            Err(e) if e.is_invalid_id() => Ok(None),
            Err(e) if e.is_not_found() => Err(self.route_missing(e)),
            Err(e) => Err(e.into()),
        }
    }

    /// Asks the server to remove its MDM profile from the Mac (the only way on macOS 11+ for a
    /// non-removable profile). Accepted means queued, not yet done on the Mac.
    pub fn unmanage(&self, id: &str) -> Result<UnmanageOutcome> {
        let target = self.api()?.unmanage(id);
        match self.http.post(&target, Body::Empty) {
            Ok(r) => {
                let uuid = serde_json::from_str::<Value>(&r.body).ok().and_then(|v| {
                    v.get("commandUuid")
                        .and_then(Value::as_str)
                        .map(str::to_string)
                });
                Ok(UnmanageOutcome::Accepted { command_uuid: uuid })
            }
            Err(e) if e.is_invalid_id() => Ok(UnmanageOutcome::NotFound),
            Err(e) if e.is_not_found() => Err(self.route_missing(e)),
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes an inventory record. `AlreadyGone` only on `INVALID_ID`; either way the caller
    /// re-reads the record and judges by what the server says then.
    pub fn delete(&self, id: &str) -> Result<DeleteOutcome> {
        let target = format!("{}/{}", self.api()?.inventory(), encode_component(id));
        match self.http.delete(&target) {
            Ok(_) => Ok(DeleteOutcome::Deleted),
            Err(e) if e.is_invalid_id() => Ok(DeleteOutcome::AlreadyGone),
            Err(e) if e.is_not_found() => Err(self.route_missing(e)),
            Err(e) => Err(e.into()),
        }
    }

    /// What Jamf Pro escrowed for this computer (GET only). Each secret the API returns is
    /// dropped as soon as its presence is known: never kept, logged or journaled.
    pub fn escrow(&self, c: &JamfComputer) -> Result<Escrow> {
        let inventory = self.api()?.inventory();
        let id = encode_component(&c.id);
        let secret_present = |target: String, field: &str| -> Holding {
            match self.http.get_json::<Value>(&target) {
                Ok(v) => match v.get(field) {
                    Some(Value::String(s)) if !s.is_empty() => Holding::Held,
                    Some(Value::String(_)) | Some(Value::Null) => Holding::NotHeld,
                    _ => Holding::Unknown(format!(
                        "the answer of GET {} has no {field}",
                        path_only(&target)
                    )),
                },
                Err(e) => Holding::Unknown(e.to_string()),
            }
        };
        let filevault_key =
            secret_present(format!("{inventory}/{id}/filevault"), "personalRecoveryKey");
        let recovery_lock = secret_present(
            format!("{inventory}/{id}/view-recovery-lock-password"),
            "recoveryLockPassword",
        );
        // LAPS: list the accounts only. Viewing a LAPS password makes Jamf Pro rotate it.
        let laps = match &c.management_id {
            None => Holding::Unknown("the inventory record has no management id".into()),
            Some(mid) => {
                let target = format!(
                    "/api/v2/local-admin-password/{}/accounts",
                    encode_component(mid)
                );
                match self.http.get_json::<Value>(&target) {
                    Ok(v) => match v.get("results").and_then(Value::as_array) {
                        Some(a) if a.is_empty() => Holding::NotHeld,
                        Some(_) => Holding::Held,
                        None => Holding::Unknown(format!(
                            "the answer of GET {} has no results list",
                            path_only(&target)
                        )),
                    },
                    Err(e) => Holding::Unknown(e.to_string()),
                }
            }
        };
        Ok(Escrow {
            filevault_key,
            laps,
            recovery_lock,
        })
    }
}

const VERSION_ROUTE: &str = "/api/v1/jamf-pro-version";

fn path_only(target: &str) -> &str {
    target.split('?').next().unwrap_or(target)
}

pub(crate) fn delete_outcome(
    r: std::result::Result<super::http::ApiResponse, ApiError>,
) -> Result<DeleteOutcome> {
    match r {
        Ok(_) => Ok(DeleteOutcome::Deleted),
        Err(e) if e.is_not_found() => Ok(DeleteOutcome::AlreadyGone),
        Err(e) => Err(e.into()),
    }
}

/// Serial numbers are letters and digits; refusing anything else up front keeps every filter
/// we build trivially safe, whatever the quoting rules of the API.
pub fn check_serial(serial: &str) -> Result<()> {
    let ok = !serial.is_empty()
        && serial.len() <= 64
        && serial
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !ok {
        anyhow::bail!(
            "{serial:?} is not a serial number (expected letters and digits, as `system_profiler SPHardwareDataType` shows it)"
        );
    }
    Ok(())
}

/// An RSQL string literal: double quotes, with `"` and `\` escaped by a backslash.
fn rsql_quote(value: &str) -> String {
    format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::testserver::{Config, EscrowData, Model, TestServer};

    fn computer(id: &str, serial: &str) -> JamfComputer {
        JamfComputer {
            id: id.into(),
            name: Some(format!("Mac {id}")),
            serial: Some(serial.into()),
            managed: Some(true),
            ..Default::default()
        }
    }

    fn client(server: &TestServer) -> JamfClient {
        JamfClient::new(&server.jamf_credentials(), &server.client_options())
    }

    #[test]
    fn find_reads_every_page() {
        let model = Model {
            computers: vec![
                computer("1", "C02AAA"),
                computer("2", "OTHER"),
                computer("3", "C02AAA"),
                computer("4", "C02AAA"),
            ],
            ..Default::default()
        };
        let server = TestServer::start(model).unwrap();
        let found = client(&server)
            .with_page_size(1)
            .find_by_serial("C02AAA")
            .unwrap();
        assert_eq!(
            found.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
            ["1", "3", "4"]
        );
        assert_eq!(found[0].name.as_deref(), Some("Mac 1"));
        let pages = server
            .requests()
            .iter()
            .filter(|r| r.path == "/api/v4/computers-inventory")
            .count();
        assert_eq!(pages, 3);
    }

    #[test]
    fn unmanage_and_delete() {
        let model = Model {
            computers: vec![computer("7", "C02AAA")],
            ..Default::default()
        };
        let server = TestServer::start(model).unwrap();
        let jamf = client(&server);
        assert!(matches!(
            jamf.unmanage("7").unwrap(),
            UnmanageOutcome::Accepted {
                command_uuid: Some(_)
            }
        ));
        assert_eq!(jamf.get("7").unwrap().unwrap().managed, Some(false));
        assert_eq!(jamf.delete("7").unwrap(), DeleteOutcome::Deleted);
        assert_eq!(jamf.delete("7").unwrap(), DeleteOutcome::AlreadyGone);
        assert_eq!(jamf.get("7").unwrap(), None);
        assert_eq!(jamf.unmanage("7").unwrap(), UnmanageOutcome::NotFound);
    }

    fn at_version(version: &str, computers: Vec<JamfComputer>) -> TestServer {
        let config = Config {
            jamf_version: version.into(),
            ..Default::default()
        };
        TestServer::start_with(
            Model {
                computers,
                ..Default::default()
            },
            config,
        )
        .unwrap()
    }

    /// "METHOD path" of every request but the token's.
    fn calls(server: &TestServer) -> Vec<String> {
        server
            .requests()
            .iter()
            .filter(|r| !r.path.ends_with("/token"))
            .map(|r| format!("{} {}", r.method, r.path))
            .collect()
    }

    #[test]
    fn versions_parse_and_pick_the_documented_routes() {
        let v = |s: &str| JamfVersion::parse(s).unwrap();
        assert_eq!(v("11.25.0-t1712345678"), JamfVersion::new(11, 25, 0));
        assert_eq!(v("11.33"), JamfVersion::new(11, 33, 0));
        assert_eq!(v(" 10.49.1 "), JamfVersion::new(10, 49, 1));
        assert_eq!(JamfVersion::parse("eleven"), None);
        assert_eq!(JamfVersion::parse("11"), None);
        assert_eq!(v("11.25.0-t1").to_string(), "11.25.0");
        let api = |s: &str| InventoryApi::for_version(v(s));
        assert_eq!(api("10.49.0"), InventoryApi::V1);
        assert_eq!(api("11.22.9"), InventoryApi::V1);
        assert_eq!(api("11.23.0"), InventoryApi::V3);
        assert_eq!(api("11.29.1"), InventoryApi::V3);
        assert_eq!(api("11.30.0"), InventoryApi::V4);
        assert_eq!(api("12.0.0"), InventoryApi::V4);
        assert_eq!(
            InventoryApi::V3.unmanage("7"),
            "/api/v1/computer-inventory/7/remove-mdm-profile"
        );
        assert_eq!(
            InventoryApi::V4.unmanage("7"),
            "/api/v4/computers-inventory/7/remove-mdm-profile"
        );
    }

    #[test]
    fn each_server_version_gets_its_newest_routes_and_is_asked_once() {
        for (version, inventory, unmanage) in [
            (
                "11.22.0-t1",
                "/api/v1/computers-inventory",
                "/api/v1/computer-inventory/7/remove-mdm-profile",
            ),
            (
                "11.25.0-t1712345678",
                "/api/v3/computers-inventory",
                "/api/v1/computer-inventory/7/remove-mdm-profile",
            ),
            (
                "11.30.0-t1",
                "/api/v4/computers-inventory",
                "/api/v4/computers-inventory/7/remove-mdm-profile",
            ),
        ] {
            let server = at_version(version, vec![computer("7", "C02AAA")]);
            let jamf = client(&server);
            assert_eq!(jamf.find_by_serial("C02AAA").unwrap().len(), 1, "{version}");
            assert!(jamf.get("7").unwrap().is_some());
            assert!(matches!(
                jamf.unmanage("7").unwrap(),
                UnmanageOutcome::Accepted { .. }
            ));
            assert_eq!(jamf.delete("7").unwrap(), DeleteOutcome::Deleted);
            assert_eq!(
                calls(&server),
                [
                    "GET /api/v1/jamf-pro-version".to_string(),
                    format!("GET {inventory}"),
                    format!("GET {inventory}/7"),
                    format!("POST {unmanage}"),
                    format!("DELETE {inventory}/7"),
                ],
                "{version}"
            );
        }
    }

    #[test]
    fn a_missing_route_is_an_error_and_a_missing_record_is_invalid_id() {
        // The client is told 11.30 (v4) but the server is 11.29: every v4 route is missing.
        let server = at_version("11.29.0", vec![computer("7", "C02AAA")]);
        let jamf = client(&server);
        jamf.use_version(JamfVersion::new(11, 30, 0));
        for err in [
            format!("{:#}", jamf.get("7").unwrap_err()),
            format!("{:#}", jamf.unmanage("7").unwrap_err()),
            format!("{:#}", jamf.delete("7").unwrap_err()),
        ] {
            assert!(
                err.contains("route is missing") && err.contains("HTTP 404"),
                "{err}"
            );
            assert!(!err.contains("INVALID_ID,"), "{err}");
        }
        assert_eq!(server.model().computers.len(), 1);
        assert!(server.model().unmanage_commands.is_empty());
        // The routes the server has: a record it does not have is INVALID_ID.
        let jamf = client(&server);
        assert_eq!(jamf.get("8").unwrap(), None);
        assert_eq!(jamf.unmanage("8").unwrap(), UnmanageOutcome::NotFound);
        assert_eq!(jamf.delete("8").unwrap(), DeleteOutcome::AlreadyGone);
    }

    #[test]
    fn escrow_is_read_without_keeping_a_secret() {
        let mut c = computer("7", "C02AAA");
        c.management_id = Some("mid-7".into());
        let server = at_version(
            "11.30.0",
            vec![c.clone(), {
                let mut o = computer("8", "C02BBB");
                o.management_id = Some("mid-8".into());
                o
            }],
        );
        server.update_model(|m| {
            m.escrow.insert(
                "7".into(),
                EscrowData {
                    filevault_key: Some("AAAA-BBBB-CCCC-DDDD".into()),
                    recovery_lock: None,
                    laps_accounts: vec!["ladmin".into()],
                },
            );
        });
        let jamf = client(&server);
        let e = jamf.escrow(&c).unwrap();
        assert_eq!(e.filevault_key, Holding::Held);
        assert_eq!(e.laps, Holding::Held);
        assert_eq!(e.recovery_lock, Holding::NotHeld);
        let shown = format!("{e:?} {}", e.describe());
        assert!(!shown.contains("AAAA-BBBB"), "{shown}");
        assert!(e
            .describe()
            .contains("FileVault personal recovery key: held"));
        // Nothing escrowed for the other Mac; a privilege missing is "may exist", not "none".
        let other = jamf.find_by_serial("C02BBB").unwrap().remove(0);
        let e = jamf.escrow(&other).unwrap();
        assert!(!e.anything_may_be_lost(), "{e:?}");
        server.configure(|c| c.jamf_denied = vec!["View Recovery Lock".into()]);
        let e = jamf.escrow(&other).unwrap();
        assert!(
            matches!(e.recovery_lock, Holding::Unknown(ref why) if why.contains("403")),
            "{e:?}"
        );
        assert!(e.anything_may_be_lost());
        assert!(calls(&server).iter().all(|c| c.starts_with("GET ")));
    }

    #[test]
    fn odd_serials_are_refused_before_any_request() {
        let server = TestServer::start(Model::default()).unwrap();
        for bad in ["", "A\"B", "A B", "x'y"] {
            assert!(client(&server).find_by_serial(bad).is_err(), "{bad}");
        }
        assert!(server.requests().is_empty());
    }

    #[test]
    fn rsql_quote_escapes() {
        assert_eq!(rsql_quote(r#"a"b\c"#), r#""a\"b\\c""#);
    }

    #[test]
    fn from_api_accepts_numeric_ids() {
        let v = serde_json::json!({"id": 12, "general": {"name": "n"}});
        assert_eq!(JamfComputer::from_api(&v).unwrap().id, "12");
    }
}
