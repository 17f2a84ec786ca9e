//! The Jamf Pro API calls the server steps need: find computers by serial number, send the
//! unmanage (remove MDM profile) command, delete an inventory record.

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
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
}

impl JamfComputer {
    /// Reads one record of `GET /api/v1/computers-inventory` (sections GENERAL and HARDWARE).
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
    /// There is no such computer (any more).
    NotFound,
}

#[derive(Debug)]
pub struct JamfClient {
    http: HttpClient,
    page_size: u32,
}

const INVENTORY: &str = "/api/v1/computers-inventory";

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

    /// Every computer whose hardware serial number is `serial`, all pages read.
    pub fn find_by_serial(&self, serial: &str) -> Result<Vec<JamfComputer>> {
        check_serial(serial)?;
        let filter = encode_component(&format!("hardware.serialNumber=={}", rsql_quote(serial)));
        let mut found = Vec::new();
        for page in 0.. {
            let target = format!(
                "{INVENTORY}?section=GENERAL&section=HARDWARE&page={page}&page-size={}&sort=id%3Aasc&filter={filter}",
                self.page_size
            );
            let body: Value = self.http.get_json(&target)?;
            let results = body
                .get("results")
                .and_then(Value::as_array)
                .with_context(|| {
                    format!("Jamf Pro API GET {INVENTORY}: the answer has no results list")
                })?;
            let total = body.get("totalCount").and_then(Value::as_u64).unwrap_or(0);
            for r in results {
                found.push(JamfComputer::from_api(r).with_context(|| {
                    format!("Jamf Pro API GET {INVENTORY}: a result has no id")
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

    /// One computer by id; `None` when it does not exist (any more).
    pub fn get(&self, id: &str) -> Result<Option<JamfComputer>> {
        let target = format!(
            "{INVENTORY}/{}?section=GENERAL&section=HARDWARE",
            encode_component(id)
        );
        match self.http.get_json::<Value>(&target) {
            Ok(v) => Ok(JamfComputer::from_api(&v)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Asks the server to remove its MDM profile from the Mac (the only way on macOS 11+ for a
    /// non-removable profile). Accepted means queued, not yet done on the Mac.
    pub fn unmanage(&self, id: &str) -> Result<UnmanageOutcome> {
        let target = format!(
            "/api/v1/computer-inventory/{}/remove-mdm-profile",
            encode_component(id)
        );
        match self.http.post(&target, Body::Empty) {
            Ok(r) => {
                let uuid = serde_json::from_str::<Value>(&r.body).ok().and_then(|v| {
                    v.get("commandUuid")
                        .and_then(Value::as_str)
                        .map(str::to_string)
                });
                Ok(UnmanageOutcome::Accepted { command_uuid: uuid })
            }
            Err(e) if e.is_not_found() => Ok(UnmanageOutcome::NotFound),
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes an inventory record; one already gone counts as done.
    pub fn delete(&self, id: &str) -> Result<DeleteOutcome> {
        let target = format!("{INVENTORY}/{}", encode_component(id));
        delete_outcome(self.http.delete(&target))
    }
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
    use crate::server::testserver::{Model, TestServer};

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
            .filter(|r| r.path == INVENTORY)
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
