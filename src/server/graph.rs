//! The Microsoft Graph calls the server steps need: Intune managed devices by serial number,
//! Entra devices by device id, and their deletion.

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::creds::GraphCredentials;
use super::http::{encode_component, ClientOptions, HttpClient, Service, TokenGrant};
use super::jamf::{check_serial, delete_outcome};
use super::DeleteOutcome;

/// The management agent of Intune records that the Jamf Pro ↔ Intune partnership created.
pub const JAMF_AGENT: &str = "jamf";

/// An Intune managed device record.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntuneDevice {
    pub id: String,
    pub device_name: Option<String>,
    pub serial: Option<String>,
    pub enrolled: Option<String>,
    pub last_sync: Option<String>,
    /// `managementAgent`: `jamf` for partnership records, `mdm` for Intune's own enrollment…
    pub management_agent: Option<String>,
    /// The Entra device id the record is tied to.
    pub azure_ad_device_id: Option<String>,
    pub user_principal_name: Option<String>,
    pub operating_system: Option<String>,
}

impl IntuneDevice {
    pub fn from_api(v: &Value) -> Option<IntuneDevice> {
        let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        Some(IntuneDevice {
            id: s("id")?,
            device_name: s("deviceName"),
            serial: s("serialNumber"),
            enrolled: s("enrolledDateTime"),
            last_sync: s("lastSyncDateTime"),
            management_agent: s("managementAgent"),
            azure_ad_device_id: s("azureADDeviceId"),
            user_principal_name: s("userPrincipalName"),
            operating_system: s("operatingSystem"),
        })
    }

    pub fn to_api(&self) -> Value {
        serde_json::json!({
            "@odata.type": "#microsoft.graph.managedDevice",
            "id": self.id,
            "deviceName": self.device_name,
            "serialNumber": self.serial,
            "enrolledDateTime": self.enrolled,
            "lastSyncDateTime": self.last_sync,
            "managementAgent": self.management_agent,
            "azureADDeviceId": self.azure_ad_device_id,
            "userPrincipalName": self.user_principal_name,
            "operatingSystem": self.operating_system,
        })
    }

    pub fn is_jamf_partnership(&self) -> bool {
        self.management_agent.as_deref() == Some(JAMF_AGENT)
    }
}

/// An Entra ID (Azure AD) device object.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntraDevice {
    /// The directory object id: what DELETE takes.
    pub id: String,
    /// The device id: the common name of the Mac's `MS-Organization-Access` certificate.
    pub device_id: Option<String>,
    pub display_name: Option<String>,
    pub operating_system: Option<String>,
    pub registered: Option<String>,
    pub last_sign_in: Option<String>,
}

impl EntraDevice {
    pub fn from_api(v: &Value) -> Option<EntraDevice> {
        let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        Some(EntraDevice {
            id: s("id")?,
            device_id: s("deviceId"),
            display_name: s("displayName"),
            operating_system: s("operatingSystem"),
            registered: s("registrationDateTime"),
            last_sign_in: s("approximateLastSignInDateTime"),
        })
    }

    pub fn to_api(&self) -> Value {
        serde_json::json!({
            "id": self.id,
            "deviceId": self.device_id,
            "displayName": self.display_name,
            "operatingSystem": self.operating_system,
            "registrationDateTime": self.registered,
            "approximateLastSignInDateTime": self.last_sign_in,
        })
    }
}

#[derive(Debug)]
pub struct GraphClient {
    http: HttpClient,
}

const MANAGED_DEVICES: &str = "/v1.0/deviceManagement/managedDevices";
const DEVICES: &str = "/v1.0/devices";

impl GraphClient {
    pub fn new(creds: &GraphCredentials, opts: &ClientOptions) -> Self {
        let graph = creds.graph_url.trim_end_matches('/');
        let login = creds.login_url.trim_end_matches('/');
        let grant = TokenGrant {
            token_url: format!(
                "{login}/{}/oauth2/v2.0/token",
                encode_component(&creds.tenant_id)
            ),
            client_id: creds.client_id.clone(),
            client_secret: creds.client_secret.clone(),
            scope: Some(format!("{graph}/.default")),
        };
        GraphClient {
            http: HttpClient::new(Service::Graph, graph, grant, opts),
        }
    }

    pub fn base_url(&self) -> &str {
        self.http.base_url()
    }

    /// Every Intune record with this serial number, whatever its management agent.
    pub fn intune_devices_by_serial(&self, serial: &str) -> Result<Vec<IntuneDevice>> {
        check_serial(serial)?;
        let target = format!(
            "{MANAGED_DEVICES}?$filter={}",
            encode_component(&format!("serialNumber eq {}", odata_string(serial)))
        );
        self.list(&target, IntuneDevice::from_api)
    }

    pub fn intune_device(&self, id: &str) -> Result<Option<IntuneDevice>> {
        self.get_one(
            &format!("{MANAGED_DEVICES}/{}", encode_component(id)),
            IntuneDevice::from_api,
        )
    }

    pub fn delete_intune_device(&self, id: &str) -> Result<DeleteOutcome> {
        delete_outcome(
            self.http
                .delete(&format!("{MANAGED_DEVICES}/{}", encode_component(id))),
        )
    }

    /// Entra devices with this device id (one is expected).
    pub fn entra_devices_by_device_id(&self, device_id: &str) -> Result<Vec<EntraDevice>> {
        if device_id.trim().is_empty() {
            anyhow::bail!("an empty Entra device id");
        }
        let target = format!(
            "{DEVICES}?$filter={}",
            encode_component(&format!("deviceId eq {}", odata_string(device_id)))
        );
        self.list(&target, EntraDevice::from_api)
    }

    /// One Entra device by object id; `None` when it does not exist (any more).
    pub fn entra_device(&self, object_id: &str) -> Result<Option<EntraDevice>> {
        self.get_one(
            &format!("{DEVICES}/{}", encode_component(object_id)),
            EntraDevice::from_api,
        )
    }

    /// Deletes an Entra device by object id (it stays restorable for 30 days).
    pub fn delete_entra_device(&self, object_id: &str) -> Result<DeleteOutcome> {
        delete_outcome(
            self.http
                .delete(&format!("{DEVICES}/{}", encode_component(object_id))),
        )
    }

    /// Reads a collection, following `@odata.nextLink` until the last page.
    fn list<T>(&self, first: &str, parse: fn(&Value) -> Option<T>) -> Result<Vec<T>> {
        let mut out = Vec::new();
        let mut next = Some(first.to_string());
        let mut pages = 0;
        while let Some(target) = next.take() {
            pages += 1;
            // Graph pages are at most 1000 records; a loop this long is a server bug.
            if pages > 1000 {
                anyhow::bail!(
                    "Microsoft Graph {}: more than 1000 pages; giving up",
                    super::http::path_of(first)
                );
            }
            let body: Value = self.http.get_json(&target)?;
            let values = body
                .get("value")
                .and_then(Value::as_array)
                .with_context(|| {
                    format!(
                        "Microsoft Graph GET {}: the answer has no value list",
                        super::http::path_of(first)
                    )
                })?;
            for v in values {
                out.push(parse(v).with_context(|| {
                    format!(
                        "Microsoft Graph GET {}: a record has no id",
                        super::http::path_of(first)
                    )
                })?);
            }
            next = body
                .get("@odata.nextLink")
                .and_then(Value::as_str)
                .map(str::to_string);
        }
        Ok(out)
    }

    fn get_one<T>(&self, target: &str, parse: fn(&Value) -> Option<T>) -> Result<Option<T>> {
        match self.http.get_json::<Value>(target) {
            Ok(v) => Ok(parse(&v)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}

/// An OData string literal: single quotes, a quote inside doubled.
pub fn odata_string(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::testserver::{Model, TestServer};

    fn intune(id: &str, serial: &str, agent: &str) -> IntuneDevice {
        IntuneDevice {
            id: id.into(),
            serial: Some(serial.into()),
            management_agent: Some(agent.into()),
            ..Default::default()
        }
    }

    #[test]
    fn follows_next_links() {
        let model = Model {
            managed_devices: (0..5)
                .map(|i| intune(&format!("m{i}"), "C02AAA", "jamf"))
                .collect(),
            ..Default::default()
        };
        let server = TestServer::start(model).unwrap();
        server.configure(|c| c.graph_page_size = 2);
        let graph = GraphClient::new(&server.graph_credentials(), &server.client_options());
        let found = graph.intune_devices_by_serial("C02AAA").unwrap();
        assert_eq!(found.len(), 5);
        let pages = server
            .requests()
            .iter()
            .filter(|r| r.path == MANAGED_DEVICES)
            .count();
        assert_eq!(pages, 3);
    }

    #[test]
    fn entra_lookup_escapes_quotes() {
        let model = Model {
            entra_devices: vec![EntraDevice {
                id: "obj-1".into(),
                device_id: Some("it's-odd".into()),
                ..Default::default()
            }],
            ..Default::default()
        };
        let server = TestServer::start(model).unwrap();
        let graph = GraphClient::new(&server.graph_credentials(), &server.client_options());
        let found = graph.entra_devices_by_device_id("it's-odd").unwrap();
        assert_eq!(found.len(), 1);
        let query = server.requests().last().unwrap().query.clone();
        assert!(query.contains("%27it%27%27s-odd%27"), "{query}");
    }

    #[test]
    fn odata_string_doubles_quotes() {
        assert_eq!(odata_string("a'b"), "'a''b'");
    }
}
