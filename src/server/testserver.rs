//! A local stand-in for Jamf Pro, the Entra login endpoint and Microsoft Graph, so tests (unit
//! and integration) and demos exercise the server steps without reaching the internet.
//!
//! One small HTTP/1.1 server on 127.0.0.1 answers all three APIs from an in-memory model, with
//! their status codes, paging (`page`/`page-size`, `@odata.nextLink`), error bodies, throttling
//! (429 with `Retry-After`, 503) and expiring tokens, and records every request it saw.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{Context, Result};
use serde_json::{json, Value};

use super::cleanup::Clients;
use super::creds::{Credentials, GraphCredentials, JamfCredentials};
use super::graph::{EntraDevice, IntuneDevice};
use super::http::{encode_component, ClientOptions, RetryPolicy};
use super::jamf::{JamfComputer, JamfVersion, V3_SINCE, V4_SINCE};
use super::secret::Secret;

/// What the servers hold.
#[derive(Clone, Debug, Default)]
pub struct Model {
    pub computers: Vec<JamfComputer>,
    pub managed_devices: Vec<IntuneDevice>,
    pub entra_devices: Vec<EntraDevice>,
    /// Computer ids an unmanage command was queued for, in order.
    pub unmanage_commands: Vec<String>,
    /// What Jamf Pro escrowed, by computer id (absent: nothing).
    pub escrow: HashMap<String, EscrowData>,
}

/// Secrets Jamf Pro keeps for a computer; deleted with its record.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EscrowData {
    pub filevault_key: Option<String>,
    pub recovery_lock: Option<String>,
    /// Usernames of the LAPS-managed accounts.
    pub laps_accounts: Vec<String>,
}

/// How the servers behave.
#[derive(Clone, Debug)]
pub struct Config {
    pub jamf_client_id: String,
    pub jamf_client_secret: String,
    pub tenant_id: String,
    pub graph_client_id: String,
    pub graph_client_secret: String,
    /// `expires_in` of issued tokens, in seconds.
    pub token_expires_in: u64,
    /// Tokens stop working (401) after this many requests: token expiry without waiting.
    pub token_max_uses: Option<u32>,
    /// Records per Graph page before an `@odata.nextLink`.
    pub graph_page_size: usize,
    /// What `GET /api/v1/jamf-pro-version` answers; decides which inventory routes exist
    /// (v1 always; v3 from 11.23.0; v4 from 11.30.0, as Jamf's changelog lists them).
    pub jamf_version: String,
    /// Jamf Pro privileges the API client lacks: their routes answer 403.
    pub jamf_denied: Vec<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            jamf_client_id: "jamf-client-id".into(),
            jamf_client_secret: "jamf-client-secret-0123456789".into(),
            tenant_id: "tenant-1".into(),
            graph_client_id: "graph-client-id".into(),
            graph_client_secret: "graph-client-secret-0123456789".into(),
            token_expires_in: 3600,
            token_max_uses: None,
            graph_page_size: 100,
            jamf_version: "11.30.0-t1750000000".into(),
            jamf_denied: Vec::new(),
        }
    }
}

/// A throttling answer.
#[derive(Clone, Copy, Debug)]
pub enum Throttle {
    /// 429 with `Retry-After: N` seconds.
    TooManyRequests { retry_after: u64 },
    /// 503 without `Retry-After`.
    ServiceUnavailable,
}

/// One request the server answered. Bodies are not kept: token requests carry secrets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    /// The raw (still percent-encoded) query string.
    pub query: String,
    pub status: u16,
}

struct Rule {
    method: String,
    path_prefix: String,
    remaining: u32,
    answer: Answer,
}

enum Answer {
    Throttle(Throttle),
    Fail(u16, String),
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Api {
    Jamf,
    Graph,
}

struct Token {
    api: Api,
    uses: u32,
}

struct State {
    model: Model,
    config: Config,
    requests: Vec<RecordedRequest>,
    rules: Vec<Rule>,
    tokens: HashMap<String, Token>,
    issued: u64,
}

/// A running server; stopped when dropped.
pub struct TestServer {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    waits: Arc<Mutex<Vec<Duration>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl TestServer {
    pub fn start(model: Model) -> Result<TestServer> {
        Self::start_with(model, Config::default())
    }

    pub fn start_with(model: Model, config: Config) -> Result<TestServer> {
        let listener = TcpListener::bind("127.0.0.1:0").context("starting the test server")?;
        let addr = listener.local_addr()?;
        let state = Arc::new(Mutex::new(State::new(model, config)));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (state, stop) = (state.clone(), stop.clone());
            let base = format!("http://{addr}");
            std::thread::spawn(move || accept_loop(listener, &state, &base, &stop))
        };
        Ok(TestServer {
            addr,
            state,
            waits: Arc::default(),
            stop,
            thread: Some(thread),
        })
    }

    /// `http://127.0.0.1:PORT`: the base of all three APIs.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn jamf_credentials(&self) -> JamfCredentials {
        let c = self.config();
        JamfCredentials {
            url: self.url(),
            client_id: c.jamf_client_id,
            client_secret: Secret::new(c.jamf_client_secret),
        }
    }

    pub fn graph_credentials(&self) -> GraphCredentials {
        let c = self.config();
        GraphCredentials {
            tenant_id: c.tenant_id,
            client_id: c.graph_client_id,
            client_secret: Secret::new(c.graph_client_secret),
            graph_url: self.url(),
            login_url: self.url(),
        }
    }

    pub fn credentials(&self) -> Credentials {
        Credentials {
            jamf: Some(self.jamf_credentials()),
            graph: Some(self.graph_credentials()),
        }
    }

    /// Client options whose sleeper records the waits (see `waits`) instead of sleeping.
    pub fn client_options(&self) -> ClientOptions {
        let waits = self.waits.clone();
        ClientOptions {
            retry: RetryPolicy::default(),
            sleeper: Arc::new(move |d| waits.lock().unwrap_or_else(|p| p.into_inner()).push(d)),
            timeout: Duration::from_secs(10),
        }
    }

    /// Jamf and Graph clients for this server, with `client_options`.
    pub fn clients(&self) -> Clients {
        Clients::from_credentials(&self.credentials(), &self.client_options())
    }

    /// The waits clients made with `client_options` sleepers.
    pub fn waits(&self) -> Vec<Duration> {
        self.waits.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.lock().requests.clone()
    }

    pub fn clear_requests(&self) {
        self.lock().requests.clear();
    }

    pub fn model(&self) -> Model {
        self.lock().model.clone()
    }

    pub fn update_model(&self, f: impl FnOnce(&mut Model)) {
        f(&mut self.lock().model)
    }

    pub fn config(&self) -> Config {
        self.lock().config.clone()
    }

    pub fn configure(&self, f: impl FnOnce(&mut Config)) {
        f(&mut self.lock().config)
    }

    /// The next `count` requests with this method (`*` for any) to a path starting with
    /// `path_prefix` are throttled.
    pub fn throttle(&self, method: &str, path_prefix: &str, count: u32, throttle: Throttle) {
        self.add_rule(method, path_prefix, count, Answer::Throttle(throttle));
    }

    /// The next request with this method to a path starting with `path_prefix` gets `status`
    /// with `body` (JSON or plain text).
    pub fn fail_next(&self, method: &str, path_prefix: &str, status: u16, body: &str) {
        self.add_rule(
            method,
            path_prefix,
            1,
            Answer::Fail(status, body.to_string()),
        );
    }

    fn add_rule(&self, method: &str, path_prefix: &str, count: u32, answer: Answer) {
        self.lock().rules.push(Rule {
            method: method.to_string(),
            path_prefix: path_prefix.to_string(),
            remaining: count,
            answer,
        });
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept call so the thread sees the flag.
        let _ = TcpStream::connect(self.addr);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Serves on `addr` (e.g. `127.0.0.1:8080`) until the process ends: for demos of
/// `reenroll server cleanup` against a fake tenant.
pub fn serve_forever(addr: &str, model: Model, config: Config) -> Result<()> {
    let listener = TcpListener::bind(addr).with_context(|| format!("binding {addr}"))?;
    let base = format!("http://{}", listener.local_addr()?);
    let state = Mutex::new(State::new(model, config));
    accept_loop(listener, &state, &base, &AtomicBool::new(false));
    Ok(())
}

/// A model for demos: one Mac with a Jamf record, its Entra device and two Intune records (the
/// partnership's and an Intune MDM one that must survive), plus an unrelated Mac.
pub fn demo_model(serial: &str) -> Model {
    let entra_id = "6fa60d52-01e7-4b18-8055-4759461fc16b";
    Model {
        computers: vec![
            JamfComputer {
                id: "42".into(),
                name: Some("Demo-MacBook".into()),
                serial: Some(serial.into()),
                udid: Some("0000FE00-1111-2222-3333-444455556666".into()),
                last_contact: Some("2025-05-02T08:12:00.000Z".into()),
                report_date: Some("2025-05-02T08:12:00.000Z".into()),
                enrolled: Some("2023-09-14T10:00:00.000Z".into()),
                managed: Some(true),
                management_id: Some("5f8a1c2e-0000-4000-8000-000000000042".into()),
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
            IntuneDevice {
                id: "705c034c-034c-705c-4c03-5c704c035c70".into(),
                device_name: Some("Demo-MacBook".into()),
                serial: Some(serial.into()),
                enrolled: Some("2023-09-14T10:05:00Z".into()),
                last_sync: Some("2025-05-01T22:00:00Z".into()),
                management_agent: Some("jamf".into()),
                azure_ad_device_id: Some(entra_id.into()),
                operating_system: Some("macOS".into()),
                ..Default::default()
            },
            IntuneDevice {
                id: "11111111-2222-3333-4444-555555555555".into(),
                device_name: Some("Demo-MacBook".into()),
                serial: Some(serial.into()),
                management_agent: Some("mdm".into()),
                operating_system: Some("macOS".into()),
                ..Default::default()
            },
        ],
        entra_devices: vec![EntraDevice {
            id: "000005c3-b7a6-4c61-89fc-80bf5ccfc366".into(),
            device_id: Some(entra_id.into()),
            display_name: Some("Demo-MacBook".into()),
            operating_system: Some("MacMDM".into()),
            registered: Some("2023-09-14T10:04:00Z".into()),
            last_sign_in: Some("2025-05-01T21:00:00Z".into()),
        }],
        unmanage_commands: vec![],
        escrow: HashMap::new(),
    }
}

fn accept_loop(listener: TcpListener, state: &Mutex<State>, base: &str, stop: &AtomicBool) {
    for stream in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let Ok(mut stream) = stream else { continue };
        // A client that connects and sends nothing must not hang the server.
        let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
        let Ok(Some(req)) = read_request(&mut stream) else {
            continue;
        };
        let resp = {
            let mut st = state.lock().unwrap_or_else(|p| p.into_inner());
            let resp = st.handle(&req, base);
            st.requests.push(RecordedRequest {
                method: req.method.clone(),
                path: req.path.clone(),
                query: req.query.clone(),
                status: resp.status,
            });
            resp
        };
        let _ = write_response(&mut stream, &resp);
    }
}

struct Request {
    method: String,
    path: String,
    query: String,
    headers: HashMap<String, String>,
    body: String,
}

impl Request {
    fn params(&self) -> Vec<(String, String)> {
        parse_pairs(&self.query)
    }

    fn param(&self, name: &str) -> Option<String> {
        self.params()
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }
}

struct Response {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: String,
}

impl Response {
    fn json(status: u16, body: Value) -> Response {
        Response {
            status,
            headers: vec![],
            body: body.to_string(),
        }
    }

    fn no_content() -> Response {
        Response {
            status: 204,
            headers: vec![],
            body: String::new(),
        }
    }
}

fn read_request(stream: &mut TcpStream) -> std::io::Result<Option<Request>> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    let mut parts = line.split_whitespace();
    let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
        return Ok(None);
    };
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut headers = HashMap::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let len: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    reader.read_exact(&mut body)?;
    Ok(Some(Request {
        method: method.to_string(),
        path: path.to_string(),
        query: query.to_string(),
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }))
}

fn write_response(stream: &mut TcpStream, r: &Response) -> std::io::Result<()> {
    let reason = match r.status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    };
    let mut head = format!(
        "HTTP/1.1 {} {reason}\r\nContent-Length: {}\r\nConnection: close\r\n",
        r.status,
        r.body.len()
    );
    if !r.body.is_empty() {
        let ct = if r.body.starts_with(['{', '[']) {
            "application/json"
        } else {
            "text/plain"
        };
        head.push_str(&format!("Content-Type: {ct}\r\n"));
    }
    for (k, v) in &r.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    stream.write_all(r.body.as_bytes())?;
    stream.flush()
}

fn parse_pairs(s: &str) -> Vec<(String, String)> {
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                match u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or(""), 16) {
                    Ok(v) => {
                        out.push(v);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn jamf_error(status: u16, code: &str, description: &str) -> Response {
    Response::json(
        status,
        json!({"httpStatus": status, "errors": [{"code": code, "description": description, "id": "0", "field": null}]}),
    )
}

fn graph_error(status: u16, code: &str, message: &str) -> Response {
    Response::json(
        status,
        json!({"error": {"code": code, "message": message, "innerError": {"date": "2025-01-01T00:00:00", "request-id": "00000000-0000-0000-0000-000000000000"}}}),
    )
}

fn graph_not_found(id: &str) -> Response {
    graph_error(
        404,
        "Request_ResourceNotFound",
        &format!("Resource '{id}' does not exist or one of its queried reference-property objects are not present."),
    )
}

impl State {
    fn new(model: Model, config: Config) -> State {
        State {
            model,
            config,
            requests: Vec::new(),
            rules: Vec::new(),
            tokens: HashMap::new(),
            issued: 0,
        }
    }

    fn handle(&mut self, req: &Request, base: &str) -> Response {
        if let Some(r) = self.injected(req) {
            return r;
        }
        let m = req.method.as_str();
        let segs: Vec<String> = req.path.split('/').skip(1).map(decode).collect();
        let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
        match (m, segs.as_slice()) {
            ("POST", ["api", "oauth", "token"]) => return self.jamf_token(req),
            ("POST", [tenant, "oauth2", "v2.0", "token"]) => return self.graph_token(req, tenant),
            _ => {}
        }
        let api = match segs.first() {
            Some(&"api") => Api::Jamf,
            Some(&"v1.0") => Api::Graph,
            _ => return Response::json(404, json!({"error": "no such endpoint"})),
        };
        if let Some(r) = self.authorize(req, api) {
            return r;
        }
        match (m, segs.as_slice()) {
            ("GET", ["api", "v1", "jamf-pro-version"]) => {
                Response::json(200, json!({"version": self.config.jamf_version}))
            }
            (_, ["api", ..]) => self.jamf(req, m, &segs),
            ("GET", ["v1.0", "deviceManagement", "managedDevices"]) => {
                let f = req.param("$filter").unwrap_or_default();
                let Some(serial) = odata_eq(&f, "serialNumber") else {
                    return graph_error(400, "BadRequest", &format!("Unsupported filter: {f}"));
                };
                let items: Vec<Value> = self
                    .model
                    .managed_devices
                    .iter()
                    .filter(|d| d.serial.as_deref() == Some(serial.as_str()))
                    .map(IntuneDevice::to_api)
                    .collect();
                self.graph_page(req, base, items, "deviceManagement/managedDevices")
            }
            ("GET", ["v1.0", "deviceManagement", "managedDevices", id]) => {
                match self.model.managed_devices.iter().find(|d| d.id == *id) {
                    Some(d) => Response::json(200, d.to_api()),
                    None => graph_error(
                        404,
                        "ResourceNotFound",
                        &format!("{{\"_version\": 3, \"Message\": \"Resource not found: {id}\"}}"),
                    ),
                }
            }
            ("DELETE", ["v1.0", "deviceManagement", "managedDevices", id]) => {
                let before = self.model.managed_devices.len();
                self.model.managed_devices.retain(|d| d.id != *id);
                if self.model.managed_devices.len() < before {
                    Response::no_content()
                } else {
                    graph_error(
                        404,
                        "ResourceNotFound",
                        &format!("Resource not found: {id}"),
                    )
                }
            }
            ("GET", ["v1.0", "devices"]) => {
                let f = req.param("$filter").unwrap_or_default();
                let Some(device_id) = odata_eq(&f, "deviceId") else {
                    return graph_error(
                        400,
                        "Request_UnsupportedQuery",
                        &format!("Unsupported query: {f}"),
                    );
                };
                let items: Vec<Value> = self
                    .model
                    .entra_devices
                    .iter()
                    .filter(|d| d.device_id.as_deref() == Some(device_id.as_str()))
                    .map(EntraDevice::to_api)
                    .collect();
                self.graph_page(req, base, items, "devices")
            }
            ("GET", ["v1.0", "devices", id]) => {
                match self.model.entra_devices.iter().find(|d| d.id == *id) {
                    Some(d) => Response::json(200, d.to_api()),
                    None => graph_not_found(id),
                }
            }
            ("DELETE", ["v1.0", "devices", id]) => {
                let before = self.model.entra_devices.len();
                self.model.entra_devices.retain(|d| d.id != *id);
                if self.model.entra_devices.len() < before {
                    Response::no_content()
                } else {
                    graph_not_found(id)
                }
            }
            _ => graph_error(
                400,
                "BadRequest",
                &format!("Resource not found for the segment '{}'.", req.path),
            ),
        }
    }

    fn injected(&mut self, req: &Request) -> Option<Response> {
        let i = self.rules.iter().position(|r| {
            r.remaining > 0
                && (r.method == "*" || r.method == req.method)
                && req.path.starts_with(&r.path_prefix)
        })?;
        let rule = &mut self.rules[i];
        rule.remaining -= 1;
        let resp = match &rule.answer {
            Answer::Throttle(Throttle::TooManyRequests { retry_after }) => Response {
                status: 429,
                headers: vec![("Retry-After", retry_after.to_string())],
                body:
                    json!({"error": {"code": "TooManyRequests", "message": "Too many requests."}})
                        .to_string(),
            },
            Answer::Throttle(Throttle::ServiceUnavailable) => Response {
                status: 503,
                headers: vec![],
                body: "<html><body>Service Unavailable</body></html>".into(),
            },
            Answer::Fail(status, body) => Response {
                status: *status,
                headers: vec![],
                body: body.clone(),
            },
        };
        if rule.remaining == 0 {
            self.rules.remove(i);
        }
        Some(resp)
    }

    fn issue_token(&mut self, api: Api) -> Response {
        self.issued += 1;
        let token = format!(
            "tok-{}-{:08}",
            if api == Api::Jamf { "jamf" } else { "graph" },
            self.issued
        );
        self.tokens.insert(token.clone(), Token { api, uses: 0 });
        Response::json(
            200,
            json!({"access_token": token, "token_type": "Bearer", "expires_in": self.config.token_expires_in}),
        )
    }

    fn jamf_token(&mut self, req: &Request) -> Response {
        let form: HashMap<String, String> = parse_pairs(&req.body).into_iter().collect();
        let ok = form.get("grant_type").map(String::as_str) == Some("client_credentials")
            && form.get("client_id") == Some(&self.config.jamf_client_id)
            && form.get("client_secret") == Some(&self.config.jamf_client_secret);
        if !ok {
            return Response::json(401, json!({"error": "invalid_client"}));
        }
        self.issue_token(Api::Jamf)
    }

    fn graph_token(&mut self, req: &Request, tenant: &str) -> Response {
        if tenant != self.config.tenant_id {
            return Response::json(
                400,
                json!({"error": "invalid_request", "error_description": format!("AADSTS90002: Tenant '{tenant}' not found.")}),
            );
        }
        let form: HashMap<String, String> = parse_pairs(&req.body).into_iter().collect();
        if form.get("grant_type").map(String::as_str) != Some("client_credentials")
            || !form.get("scope").is_some_and(|s| s.ends_with("/.default"))
        {
            return Response::json(
                400,
                json!({"error": "invalid_request", "error_description": "AADSTS1002012: The provided value for scope is not valid."}),
            );
        }
        if form.get("client_id") != Some(&self.config.graph_client_id)
            || form.get("client_secret") != Some(&self.config.graph_client_secret)
        {
            return Response::json(
                401,
                json!({"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID."}),
            );
        }
        self.issue_token(Api::Graph)
    }

    fn authorize(&mut self, req: &Request, api: Api) -> Option<Response> {
        let token = req
            .headers
            .get("authorization")
            .and_then(|h| h.strip_prefix("Bearer "))
            .unwrap_or("");
        let max = self.config.token_max_uses;
        let valid = match self.tokens.get_mut(token) {
            Some(t) if t.api == api => {
                t.uses += 1;
                max.is_none_or(|m| t.uses <= m)
            }
            _ => false,
        };
        if valid {
            return None;
        }
        Some(match api {
            Api::Jamf => jamf_error(401, "INVALID_TOKEN", "Unauthorized"),
            Api::Graph => graph_error(
                401,
                "InvalidAuthenticationToken",
                "Lifetime validation failed, the token is expired.",
            ),
        })
    }

    /// The Jamf Pro inventory routes the configured version has; any other is a 404 without
    /// `INVALID_ID` (a missing route), unlike a missing record.
    fn jamf(&mut self, req: &Request, m: &str, segs: &[&str]) -> Response {
        let version =
            JamfVersion::parse(&self.config.jamf_version).unwrap_or(JamfVersion::new(0, 0, 0));
        let has = |api: &str| match api {
            "v1" => true,
            "v3" => version >= V3_SINCE,
            "v4" => version >= V4_SINCE,
            _ => false,
        };
        let route = match (m, segs) {
            ("GET", ["api", v, "computers-inventory"]) if has(v) => JamfRoute::Search,
            ("GET", ["api", v, "computers-inventory", id]) if has(v) => JamfRoute::Get(id),
            ("DELETE", ["api", v, "computers-inventory", id]) if has(v) => JamfRoute::Delete(id),
            ("GET", ["api", v, "computers-inventory", id, "filevault"]) if has(v) => {
                JamfRoute::FileVault(id)
            }
            ("GET", ["api", v, "computers-inventory", id, "view-recovery-lock-password"])
                if has(v) =>
            {
                JamfRoute::RecoveryLock(id)
            }
            ("POST", ["api", "v1", "computer-inventory", id, "remove-mdm-profile"]) => {
                JamfRoute::Unmanage(id)
            }
            ("POST", ["api", "v4", "computers-inventory", id, "remove-mdm-profile"])
                if has("v4") =>
            {
                JamfRoute::Unmanage(id)
            }
            ("GET", ["api", "v2", "local-admin-password", mid, "accounts"]) => {
                JamfRoute::LapsAccounts(mid)
            }
            _ => return jamf_error(404, "NOT_FOUND", "No such endpoint"),
        };
        let privilege = route.privilege();
        if self.config.jamf_denied.iter().any(|p| p == privilege) {
            return jamf_error(403, "INVALID_PRIVILEGE", "Forbidden");
        }
        let not_found = |id: &str| {
            jamf_error(
                404,
                "INVALID_ID",
                &format!("Computer with id {id} not found"),
            )
        };
        match route {
            JamfRoute::Search => self.jamf_search(req),
            JamfRoute::Get(id) => match self.model.computers.iter().find(|c| c.id == id) {
                Some(c) => Response::json(200, c.to_api()),
                None => not_found(id),
            },
            JamfRoute::Delete(id) => {
                let before = self.model.computers.len();
                self.model.computers.retain(|c| c.id != id);
                if self.model.computers.len() < before {
                    // Jamf keeps the escrowed secrets with the record: they go with it.
                    self.model.escrow.remove(id);
                    Response::no_content()
                } else {
                    not_found(id)
                }
            }
            JamfRoute::Unmanage(id) => match self.model.computers.iter_mut().find(|c| c.id == id) {
                Some(c) => {
                    c.managed = Some(false);
                    self.model.unmanage_commands.push(id.to_string());
                    let n = self.model.unmanage_commands.len();
                    Response::json(
                        201,
                        json!({"deviceId": id, "commandUuid": format!("aaaaaaaa-0000-0000-0000-{n:012}")}),
                    )
                }
                None => not_found(id),
            },
            JamfRoute::FileVault(id) => match self.model.computers.iter().find(|c| c.id == id) {
                Some(c) => {
                    let key = self
                        .model
                        .escrow
                        .get(id)
                        .and_then(|e| e.filevault_key.clone());
                    Response::json(
                        200,
                        json!({"computerId": id, "name": c.name, "personalRecoveryKey": key.unwrap_or_default(), "individualRecoveryKeyValidityStatus": "VALID"}),
                    )
                }
                None => not_found(id),
            },
            JamfRoute::RecoveryLock(id) => {
                if !self.model.computers.iter().any(|c| c.id == id) {
                    return not_found(id);
                }
                let pw = self
                    .model
                    .escrow
                    .get(id)
                    .and_then(|e| e.recovery_lock.clone());
                Response::json(200, json!({"recoveryLockPassword": pw.unwrap_or_default()}))
            }
            JamfRoute::LapsAccounts(mid) => {
                let Some(c) = self
                    .model
                    .computers
                    .iter()
                    .find(|c| c.management_id.as_deref() == Some(mid))
                else {
                    return jamf_error(
                        404,
                        "INVALID_ID",
                        &format!("No device with management id {mid}"),
                    );
                };
                let accounts: Vec<Value> = self
                    .model
                    .escrow
                    .get(&c.id)
                    .map(|e| e.laps_accounts.clone())
                    .unwrap_or_default()
                    .into_iter()
                    .map(|u| json!({"clientManagementId": mid, "guid": format!("guid-{u}"), "username": u, "userSource": "MDM"}))
                    .collect();
                Response::json(
                    200,
                    json!({"totalCount": accounts.len(), "results": accounts}),
                )
            }
        }
    }

    fn jamf_search(&self, req: &Request) -> Response {
        let filter = req.param("filter").unwrap_or_default();
        let Some(serial) = rsql_eq(&filter, "hardware.serialNumber") else {
            return jamf_error(
                400,
                "INVALID_FIELD",
                &format!("Unsupported filter: {filter}"),
            );
        };
        let page: usize = req.param("page").and_then(|p| p.parse().ok()).unwrap_or(0);
        let size: usize = req
            .param("page-size")
            .and_then(|p| p.parse().ok())
            .unwrap_or(100)
            .max(1);
        let matching: Vec<&JamfComputer> = self
            .model
            .computers
            .iter()
            .filter(|c| c.serial.as_deref() == Some(serial.as_str()))
            .collect();
        let results: Vec<Value> = matching
            .iter()
            .skip(page * size)
            .take(size)
            .map(|c| c.to_api())
            .collect();
        Response::json(
            200,
            json!({"totalCount": matching.len(), "results": results}),
        )
    }

    fn graph_page(&self, req: &Request, base: &str, items: Vec<Value>, entity: &str) -> Response {
        let skip: usize = req
            .param("$skiptoken")
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let size = self.config.graph_page_size.max(1);
        let page: Vec<Value> = items.iter().skip(skip).take(size).cloned().collect();
        let mut body = json!({
            "@odata.context": format!("{base}/v1.0/$metadata#{entity}"),
            "value": page,
        });
        if skip + size < items.len() {
            let kept: Vec<&str> = req
                .query
                .split('&')
                .filter(|p| !p.starts_with("$skiptoken="))
                .collect();
            body["@odata.nextLink"] = json!(format!(
                "{base}{}?{}&$skiptoken={}",
                req.path,
                kept.join("&"),
                encode_component(&(skip + size).to_string())
            ));
        }
        Response::json(200, body)
    }
}

/// A Jamf Pro route the test server answers.
enum JamfRoute<'a> {
    Search,
    Get(&'a str),
    Delete(&'a str),
    Unmanage(&'a str),
    FileVault(&'a str),
    RecoveryLock(&'a str),
    LapsAccounts(&'a str),
}

impl JamfRoute<'_> {
    /// The privilege Jamf's API reference names for the route (docs/server.md).
    fn privilege(&self) -> &'static str {
        match self {
            JamfRoute::Search | JamfRoute::Get(_) => "Read Computers",
            JamfRoute::Delete(_) => "Delete Computers",
            JamfRoute::Unmanage(_) => "Send Computer Unmanage Command",
            JamfRoute::FileVault(_) => "View Disk Encryption Recovery Key",
            JamfRoute::RecoveryLock(_) => "View Recovery Lock",
            JamfRoute::LapsAccounts(_) => "View Local Admin Password",
        }
    }
}

/// The value of `field=="value"` (RSQL, backslash escapes).
fn rsql_eq(filter: &str, field: &str) -> Option<String> {
    let quoted = filter.strip_prefix(field)?.strip_prefix("==")?;
    let inner = quoted.strip_prefix('"')?.strip_suffix('"')?;
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        out.push(if c == '\\' { chars.next()? } else { c });
    }
    Some(out)
}

/// The value of `field eq 'value'` (OData, quotes doubled).
fn odata_eq(filter: &str, field: &str) -> Option<String> {
    let quoted = filter.strip_prefix(field)?.strip_prefix(" eq ")?;
    let inner = quoted.strip_prefix('\'')?.strip_suffix('\'')?;
    Some(inner.replace("''", "'"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_handles_escapes_and_plus() {
        assert_eq!(decode("a%20b+c%27%27"), "a b c''");
        assert_eq!(decode("100%"), "100%");
        assert_eq!(decode("%zz"), "%zz");
    }

    #[test]
    fn filters_parse() {
        assert_eq!(
            rsql_eq(r#"hardware.serialNumber=="A\"B""#, "hardware.serialNumber").as_deref(),
            Some("A\"B")
        );
        assert_eq!(
            odata_eq("deviceId eq 'it''s'", "deviceId").as_deref(),
            Some("it's")
        );
        assert_eq!(odata_eq("deviceId ne 'x'", "deviceId"), None);
    }

    #[test]
    fn unauthenticated_requests_get_401_and_are_recorded() {
        let server = TestServer::start(Model::default()).unwrap();
        let err = ureq::get(&format!("{}/v1.0/devices?$filter=x", server.url()))
            .call()
            .unwrap_err();
        assert!(matches!(err, ureq::Error::Status(401, _)));
        let reqs = server.requests();
        assert_eq!(reqs.len(), 1);
        assert_eq!(reqs[0].path, "/v1.0/devices");
        assert_eq!(reqs[0].status, 401);
    }
}
