//! The HTTP client both server APIs share: a bearer token from OAuth client credentials, cached
//! and refreshed before it expires (and once more on a 401), bounded retries with exponential
//! backoff for 429 and 5xx answers that honour `Retry-After`, and errors that name the endpoint,
//! the status and the server's own error code and message, never a secret.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::secret::{redact, Secret};

/// How the client waits between retries. Tests inject one that records the waits instead.
pub type Sleeper = Arc<dyn Fn(Duration) + Send + Sync>;

/// The sleeper for real runs.
pub fn real_sleeper() -> Sleeper {
    Arc::new(std::thread::sleep)
}

/// Which API a client talks to: decides the error body format and the names in messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Service {
    JamfPro,
    Graph,
}

impl std::fmt::Display for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Service::JamfPro => "Jamf Pro API",
            Service::Graph => "Microsoft Graph",
        })
    }
}

/// Bounded retries for throttling (429), server errors (5xx) and transport failures.
#[derive(Clone, Debug)]
pub struct RetryPolicy {
    /// Total tries of one request, the first included.
    pub max_attempts: u32,
    /// The first backoff when the server gives no `Retry-After`; doubled at every retry.
    pub base_delay: Duration,
    /// No single wait is longer, whatever `Retry-After` asks for.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(120),
        }
    }
}

impl RetryPolicy {
    fn backoff(&self, retry: u32) -> Duration {
        let factor = 1u32 << retry.saturating_sub(1).min(16);
        self.base_delay.saturating_mul(factor).min(self.max_delay)
    }
}

/// Settings shared by the Jamf and Graph clients.
#[derive(Clone)]
pub struct ClientOptions {
    pub retry: RetryPolicy,
    pub sleeper: Sleeper,
    /// Per-request timeout (connect + read + write).
    pub timeout: Duration,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            retry: RetryPolicy::default(),
            sleeper: real_sleeper(),
            timeout: Duration::from_secs(60),
        }
    }
}

impl std::fmt::Debug for ClientOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientOptions")
            .field("retry", &self.retry)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// An OAuth 2.0 client-credentials grant (RFC 6749 §4.4), as both Jamf Pro and Entra ID take it.
#[derive(Clone, Debug)]
pub struct TokenGrant {
    pub token_url: String,
    pub client_id: String,
    pub client_secret: Secret,
    /// Entra ID needs `{graph}/.default`; Jamf Pro takes none.
    pub scope: Option<String>,
}

/// A failed API call. `Display` names the service, method, path (never the query), status and
/// the server's error code and message, with secrets removed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    pub service: Service,
    pub method: String,
    pub path: String,
    /// `None` when no HTTP answer came (connection refused, timeout, TLS).
    pub status: Option<u16>,
    pub code: Option<String>,
    pub message: Option<String>,
    /// How many times the request was sent.
    pub attempts: u32,
}

impl ApiError {
    pub fn is_not_found(&self) -> bool {
        self.status == Some(404)
    }

    /// Jamf Pro's answer for a record that does not exist: 404 with an error body whose code is
    /// `INVALID_ID`. A 404 without it is a route the server does not have, not a missing record.
    pub fn is_invalid_id(&self) -> bool {
        self.is_not_found()
            && self
                .code
                .as_deref()
                .is_some_and(|c| c.split("; ").any(|c| c == "INVALID_ID"))
    }

    fn hint(&self) -> Option<&'static str> {
        match (self.service, self.status) {
            (Service::JamfPro, Some(401)) => Some(
                "check the Jamf Pro API client id and secret and that the API client is enabled",
            ),
            (Service::Graph, Some(400 | 401)) if self.path.contains("/oauth2/") => Some(
                "check the tenant id, the app registration's client id and that its secret has not expired",
            ),
            (Service::Graph, Some(401)) => Some("check the app registration's credentials"),
            (Service::JamfPro, Some(403)) => Some(
                "give the API role the privileges Read Computers, Delete Computers and Send Computer Unmanage Command",
            ),
            (Service::Graph, Some(403)) => Some(
                "grant the app admin-consented application permissions DeviceManagementManagedDevices.ReadWrite.All and Device.ReadWrite.All",
            ),
            (_, Some(429)) | (_, Some(500..=599)) => {
                Some("the server is throttling or failing; try again later")
            }
            (_, None) => Some("check the server URL and the network connection"),
            _ => None,
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} {} failed", self.service, self.method, self.path)?;
        match self.status {
            Some(s) => write!(f, ": HTTP {s}")?,
            None => write!(f, ": no answer")?,
        }
        match (&self.code, &self.message) {
            (Some(c), Some(m)) => write!(f, ", {c}: {m}")?,
            (Some(c), None) => write!(f, ", {c}")?,
            (None, Some(m)) => write!(f, ", {m}")?,
            (None, None) => {}
        }
        if self.attempts > 1 {
            write!(f, " (after {} attempts)", self.attempts)?;
        }
        if let Some(h) = self.hint() {
            write!(f, "; {h}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ApiError {}

/// A successful (2xx) answer.
#[derive(Clone, Debug)]
pub struct ApiResponse {
    pub status: u16,
    pub body: String,
    service: Service,
    method: String,
    path: String,
}

impl ApiResponse {
    /// The body as JSON; a body that does not parse is an error naming the endpoint.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        serde_json::from_str(&self.body).map_err(|e| ApiError {
            service: self.service,
            method: self.method.clone(),
            path: self.path.clone(),
            status: Some(self.status),
            code: Some("UnexpectedBody".into()),
            message: Some(format!("the answer is not the JSON expected: {e}")),
            attempts: 1,
        })
    }
}

/// A request body.
pub enum Body<'a> {
    Empty,
    Json(&'a Value),
}

struct CachedToken {
    value: Secret,
    refresh_at: Instant,
}

/// One API's client: a base URL, its token grant and the retry policy.
pub struct HttpClient {
    service: Service,
    base_url: String,
    grant: TokenGrant,
    agent: ureq::Agent,
    retry: RetryPolicy,
    sleeper: Sleeper,
    token: Mutex<Option<CachedToken>>,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient")
            .field("service", &self.service)
            .field("base_url", &self.base_url)
            .field("token_url", &self.grant.token_url)
            .field("client_id", &self.grant.client_id)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

impl HttpClient {
    pub fn new(service: Service, base_url: &str, grant: TokenGrant, opts: &ClientOptions) -> Self {
        let agent = ureq::AgentBuilder::new()
            .timeout(opts.timeout)
            .user_agent(concat!("reenroll/", env!("CARGO_PKG_VERSION")))
            .build();
        HttpClient {
            service,
            base_url: base_url.trim_end_matches('/').to_string(),
            grant,
            agent,
            retry: opts.retry.clone(),
            sleeper: opts.sleeper.clone(),
            token: Mutex::new(None),
        }
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    pub fn service(&self) -> Service {
        self.service
    }

    pub fn get(&self, target: &str) -> Result<ApiResponse, ApiError> {
        self.send("GET", target, Body::Empty)
    }

    pub fn post(&self, target: &str, body: Body<'_>) -> Result<ApiResponse, ApiError> {
        self.send("POST", target, body)
    }

    pub fn delete(&self, target: &str) -> Result<ApiResponse, ApiError> {
        self.send("DELETE", target, Body::Empty)
    }

    /// Sends an authenticated request. `target` is a path below the base URL (`/v1.0/...`) or
    /// an absolute URL on the same origin (an `@odata.nextLink`).
    pub fn send(
        &self,
        method: &str,
        target: &str,
        body: Body<'_>,
    ) -> Result<ApiResponse, ApiError> {
        let url = self.resolve(method, target)?;
        let path = path_of(&url);
        let mut attempt = 0;
        let mut refreshed = false;
        loop {
            attempt += 1;
            let token = self.bearer()?;
            let req = self
                .agent
                .request(method, &url)
                .set("Accept", "application/json")
                .set("Authorization", &format!("Bearer {}", token.expose()));
            let result = match body {
                Body::Empty if method == "POST" || method == "PUT" => req.send_string(""),
                Body::Empty => req.call(),
                Body::Json(v) => req.send_json(v),
            };
            match self.classify(
                result,
                method,
                &path,
                attempt,
                &[&token, &self.grant.client_secret],
            ) {
                Outcome::Done(r) => return Ok(r),
                // An expired or revoked token: fetch a new one once, then report.
                Outcome::Failed(e) if e.status == Some(401) && !refreshed => {
                    refreshed = true;
                    attempt -= 1;
                    self.forget_token();
                }
                Outcome::Failed(e) => return Err(e),
                Outcome::Retry(wait, e) => self.wait_or_give_up(attempt, wait, e)?,
            }
        }
    }

    /// A GET whose JSON body is parsed.
    pub fn get_json<T: DeserializeOwned>(&self, target: &str) -> Result<T, ApiError> {
        self.get(target)?.json()
    }

    fn wait_or_give_up(
        &self,
        attempt: u32,
        retry_after: Option<Duration>,
        err: ApiError,
    ) -> Result<(), ApiError> {
        if attempt >= self.retry.max_attempts {
            return Err(err);
        }
        let wait = retry_after
            .unwrap_or_else(|| self.retry.backoff(attempt))
            .min(self.retry.max_delay);
        tracing::info!(
            "{} {} {}: {}; retrying in {}s",
            self.service,
            err.method,
            err.path,
            err.status
                .map(|s| format!("HTTP {s}"))
                .unwrap_or_else(|| "no answer".into()),
            wait.as_secs_f64()
        );
        (self.sleeper)(wait);
        Ok(())
    }

    fn resolve(&self, method: &str, target: &str) -> Result<String, ApiError> {
        if target.starts_with('/') {
            return Ok(format!("{}{}", self.base_url, target));
        }
        // A link the server handed back: follow it only on the same origin, so the bearer token
        // never goes to a host the credentials were not meant for.
        let same_origin = target
            .strip_prefix(&self.base_url)
            .is_some_and(|rest| rest.starts_with('/'));
        if same_origin {
            return Ok(target.to_string());
        }
        Err(ApiError {
            service: self.service,
            method: method.to_string(),
            path: path_of(target),
            status: None,
            code: Some("ForeignLink".into()),
            message: Some(format!(
                "refusing to follow a link outside {}",
                self.base_url
            )),
            attempts: 0,
        })
    }

    fn forget_token(&self) {
        *self.token.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// The cached token, or a new one when there is none or it is about to expire.
    fn bearer(&self) -> Result<Secret, ApiError> {
        let mut cache = self.token.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(t) = cache.as_ref() {
            if Instant::now() < t.refresh_at {
                return Ok(t.value.clone());
            }
        }
        let fresh = self.fetch_token()?;
        let value = fresh.value.clone();
        *cache = Some(fresh);
        Ok(value)
    }

    fn fetch_token(&self) -> Result<CachedToken, ApiError> {
        let g = &self.grant;
        let path = path_of(&g.token_url);
        let mut form: Vec<(&str, &str)> = vec![
            ("grant_type", "client_credentials"),
            ("client_id", &g.client_id),
            ("client_secret", g.client_secret.expose()),
        ];
        if let Some(scope) = &g.scope {
            form.push(("scope", scope));
        }
        let mut attempt = 0;
        let response = loop {
            attempt += 1;
            let result = self
                .agent
                .post(&g.token_url)
                .set("Accept", "application/json")
                .send_form(&form);
            match self.classify(result, "POST", &path, attempt, &[&g.client_secret]) {
                Outcome::Done(r) => break r,
                Outcome::Failed(e) => return Err(e),
                Outcome::Retry(wait, e) => self.wait_or_give_up(attempt, wait, e)?,
            }
        };
        let body: Value = response.json()?;
        let bad = |what: &str| ApiError {
            service: self.service,
            method: "POST".into(),
            path: path.clone(),
            status: Some(response.status),
            code: Some("UnexpectedBody".into()),
            message: Some(format!("the token answer has no {what}")),
            attempts: attempt,
        };
        let value = body
            .get("access_token")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| bad("access_token"))?;
        // Entra's v1 endpoint sent expires_in as a string; accept both.
        let lifetime = match body.get("expires_in") {
            Some(Value::Number(n)) => n.as_u64(),
            Some(Value::String(s)) => s.parse().ok(),
            _ => None,
        }
        .ok_or_else(|| bad("expires_in"))?;
        let lifetime = Duration::from_secs(lifetime);
        // Refresh a little early so a token never expires between check and use.
        let margin = (lifetime / 10).min(Duration::from_secs(60));
        Ok(CachedToken {
            value: Secret::new(value),
            refresh_at: Instant::now() + lifetime - margin,
        })
    }

    fn classify(
        &self,
        result: Result<ureq::Response, ureq::Error>,
        method: &str,
        path: &str,
        attempt: u32,
        secrets: &[&Secret],
    ) -> Outcome {
        let mut err = ApiError {
            service: self.service,
            method: method.to_string(),
            path: path.to_string(),
            status: None,
            code: None,
            message: None,
            attempts: attempt,
        };
        match result {
            Ok(resp) => {
                let status = resp.status();
                match resp.into_string() {
                    Ok(body) => Outcome::Done(ApiResponse {
                        status,
                        body,
                        service: self.service,
                        method: method.to_string(),
                        path: path.to_string(),
                    }),
                    Err(e) => {
                        err.status = Some(status);
                        err.message = Some(format!("reading the answer failed: {e}"));
                        Outcome::Retry(None, err)
                    }
                }
            }
            Err(ureq::Error::Status(status, resp)) => {
                err.status = Some(status);
                let retry_after = resp
                    .header("Retry-After")
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(Duration::from_secs);
                let body = resp.into_string().unwrap_or_default();
                let (code, message) = error_details(&body);
                err.code = code.map(|c| redact(&c, secrets));
                err.message = message.map(|m| redact(&m, secrets));
                if status == 429 || (500..=599).contains(&status) {
                    Outcome::Retry(retry_after, err)
                } else {
                    Outcome::Failed(err)
                }
            }
            Err(ureq::Error::Transport(t)) => {
                // Transport's Display includes the full URL; keep only kind and message.
                let msg = match t.message() {
                    Some(m) => format!("{}: {m}", t.kind()),
                    None => t.kind().to_string(),
                };
                err.message = Some(redact(&msg, secrets));
                Outcome::Retry(None, err)
            }
        }
    }
}

enum Outcome {
    Done(ApiResponse),
    Retry(Option<Duration>, ApiError),
    Failed(ApiError),
}

/// The error code and message of an error body: Graph's `{"error":{"code","message"}}`, OAuth's
/// `{"error","error_description"}`, Jamf Pro's `{"httpStatus","errors":[{"code","description"}]}`,
/// or the start of a plain text or HTML body.
fn error_details(body: &str) -> (Option<String>, Option<String>) {
    let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_string);
    if let Ok(v) = serde_json::from_str::<Value>(body) {
        match v.get("error") {
            Some(Value::Object(o)) => return (text(o.get("code")), text(o.get("message"))),
            Some(Value::String(code)) => {
                return (Some(code.clone()), text(v.get("error_description")))
            }
            _ => {}
        }
        if let Some(Value::Array(errors)) = v.get("errors") {
            let codes: Vec<String> = errors.iter().filter_map(|e| text(e.get("code"))).collect();
            let descriptions: Vec<String> = errors
                .iter()
                .filter_map(|e| text(e.get("description")))
                .collect();
            let join = |v: Vec<String>| (!v.is_empty()).then(|| v.join("; "));
            return (join(codes), join(descriptions));
        }
    }
    let plain = strip_tags(body);
    let plain = plain.split_whitespace().collect::<Vec<_>>().join(" ");
    if plain.is_empty() {
        return (None, None);
    }
    let mut short: String = plain.chars().take(200).collect();
    if short.len() < plain.len() {
        short.push('…');
    }
    (None, Some(short))
}

fn strip_tags(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut in_tag = false;
    for c in s.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                out.push(' ');
            }
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

/// The path of a URL without scheme, host and query: what errors and logs show.
pub fn path_of(url: &str) -> String {
    let after_scheme = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let path = match after_scheme.find('/') {
        Some(i) if url.contains("://") => &after_scheme[i..],
        Some(_) => after_scheme,
        None => "/",
    };
    path.split(['?', '#']).next().unwrap_or("/").to_string()
}

/// Percent-encodes everything but RFC 3986 unreserved characters: safe for a query value and a
/// path segment alike (a space becomes `%20`, which OData and Jamf's RSQL both read).
pub fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::testserver::{Model, TestServer, Throttle};

    fn recording_sleeper() -> (Sleeper, Arc<Mutex<Vec<Duration>>>) {
        let waits = Arc::new(Mutex::new(Vec::new()));
        let w = waits.clone();
        (Arc::new(move |d| w.lock().unwrap().push(d)), waits)
    }

    fn graph_client(server: &TestServer, sleeper: Sleeper) -> HttpClient {
        let c = server.graph_credentials();
        let opts = ClientOptions {
            sleeper,
            ..ClientOptions::default()
        };
        HttpClient::new(
            Service::Graph,
            &c.graph_url,
            TokenGrant {
                token_url: format!("{}/{}/oauth2/v2.0/token", c.login_url, c.tenant_id),
                client_id: c.client_id.clone(),
                client_secret: c.client_secret.clone(),
                scope: Some(format!("{}/.default", c.graph_url)),
            },
            &opts,
        )
    }

    const DEVICES: &str = "/v1.0/deviceManagement/managedDevices";
    const SEARCH: &str =
        "/v1.0/deviceManagement/managedDevices?$filter=serialNumber%20eq%20%27C02AAA%27";

    #[test]
    fn throttling_is_retried_honouring_retry_after() {
        let server = TestServer::start(Model::default()).unwrap();
        server.throttle(
            "GET",
            DEVICES,
            2,
            Throttle::TooManyRequests { retry_after: 1 },
        );
        let (sleeper, waits) = recording_sleeper();
        let client = graph_client(&server, sleeper);
        client.get(SEARCH).unwrap();
        assert_eq!(*waits.lock().unwrap(), vec![Duration::from_secs(1); 2]);
        let gets = server
            .requests()
            .iter()
            .filter(|r| r.method == "GET" && r.path == DEVICES)
            .count();
        assert_eq!(gets, 3);
    }

    #[test]
    fn server_errors_back_off_exponentially_and_give_up() {
        let server = TestServer::start(Model::default()).unwrap();
        server.throttle("GET", DEVICES, 10, Throttle::ServiceUnavailable);
        let (sleeper, waits) = recording_sleeper();
        let client = graph_client(&server, sleeper);
        let err = client.get(SEARCH).unwrap_err();
        assert_eq!(
            *waits.lock().unwrap(),
            [1, 2, 4, 8].map(Duration::from_secs).to_vec()
        );
        assert_eq!(err.status, Some(503));
        assert_eq!(err.attempts, 5);
        let text = err.to_string();
        assert!(
            text.contains("GET /v1.0/deviceManagement/managedDevices"),
            "{text}"
        );
        assert!(text.contains("after 5 attempts"), "{text}");
    }

    #[test]
    fn expired_token_is_refreshed_once_on_401() {
        let server = TestServer::start(Model::default()).unwrap();
        server.configure(|c| c.token_max_uses = Some(2));
        let (sleeper, _) = recording_sleeper();
        let client = graph_client(&server, sleeper);
        for _ in 0..5 {
            client.get(SEARCH).unwrap();
        }
        let reqs = server.requests();
        let token_posts = reqs.iter().filter(|r| r.path.ends_with("/token")).count();
        let rejected = reqs.iter().filter(|r| r.status == 401).count();
        assert_eq!(token_posts, 3, "{reqs:#?}");
        assert_eq!(rejected, 2, "{reqs:#?}");
    }

    #[test]
    fn token_is_refreshed_before_it_expires() {
        let server = TestServer::start(Model::default()).unwrap();
        // A lifetime of zero seconds: due for refresh at every use, never sent stale.
        server.configure(|c| c.token_expires_in = 0);
        let (sleeper, _) = recording_sleeper();
        let client = graph_client(&server, sleeper);
        client.get(SEARCH).unwrap();
        client.get(SEARCH).unwrap();
        let reqs = server.requests();
        assert_eq!(
            reqs.iter().filter(|r| r.path.ends_with("/token")).count(),
            2
        );
        assert!(reqs.iter().all(|r| r.status != 401), "{reqs:#?}");
    }

    #[test]
    fn token_is_cached() {
        let server = TestServer::start(Model::default()).unwrap();
        let (sleeper, _) = recording_sleeper();
        let client = graph_client(&server, sleeper);
        for _ in 0..3 {
            client.get(SEARCH).unwrap();
        }
        let token_posts = server
            .requests()
            .iter()
            .filter(|r| r.path.ends_with("/token"))
            .count();
        assert_eq!(token_posts, 1);
    }

    #[test]
    fn errors_name_endpoint_status_code_message_and_no_secret() {
        let server = TestServer::start(Model::default()).unwrap();
        let secret = server
            .graph_credentials()
            .client_secret
            .expose()
            .to_string();
        server.fail_next(
            "DELETE",
            "/v1.0/devices/",
            403,
            &format!(
                r#"{{"error":{{"code":"Authorization_RequestDenied","message":"Insufficient privileges to complete the operation. {secret}"}}}}"#
            ),
        );
        let (sleeper, _) = recording_sleeper();
        let client = graph_client(&server, sleeper);
        let err = client.delete("/v1.0/devices/abc?x=1").unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("Microsoft Graph DELETE /v1.0/devices/abc failed"),
            "{text}"
        );
        assert!(text.contains("HTTP 403"), "{text}");
        assert!(text.contains("Authorization_RequestDenied"), "{text}");
        assert!(text.contains("Insufficient privileges"), "{text}");
        assert!(!text.contains("x=1"), "{text}");
        assert!(!text.contains(&secret), "{text}");
        assert!(!format!("{client:?}").contains(&secret));
    }

    #[test]
    fn wrong_secret_names_the_token_endpoint() {
        let server = TestServer::start(Model::default()).unwrap();
        let (sleeper, _) = recording_sleeper();
        let mut c = server.graph_credentials();
        c.client_secret = Secret::new("wrong-secret-value");
        let client = HttpClient::new(
            Service::Graph,
            &c.graph_url,
            TokenGrant {
                token_url: format!("{}/{}/oauth2/v2.0/token", c.login_url, c.tenant_id),
                client_id: c.client_id,
                client_secret: c.client_secret,
                scope: Some("x/.default".into()),
            },
            &ClientOptions {
                sleeper,
                ..Default::default()
            },
        );
        let text = client.get(SEARCH).unwrap_err().to_string();
        assert!(text.contains("POST /tenant-1/oauth2/v2.0/token"), "{text}");
        assert!(text.contains("invalid_client"), "{text}");
        assert!(!text.contains("wrong-secret-value"), "{text}");
    }

    #[test]
    fn links_to_other_hosts_are_refused() {
        let server = TestServer::start(Model::default()).unwrap();
        let (sleeper, _) = recording_sleeper();
        let client = graph_client(&server, sleeper);
        let err = client
            .get("https://evil.example/v1.0/devices?$skiptoken=1")
            .unwrap_err();
        assert_eq!(err.code.as_deref(), Some("ForeignLink"));
        assert!(server.requests().is_empty());
    }

    #[test]
    fn error_details_reads_every_format() {
        assert_eq!(
            error_details(r#"{"error":{"code":"C","message":"M"}}"#),
            (Some("C".into()), Some("M".into()))
        );
        assert_eq!(
            error_details(r#"{"error":"invalid_client","error_description":"D"}"#),
            (Some("invalid_client".into()), Some("D".into()))
        );
        assert_eq!(
            error_details(
                r#"{"httpStatus":400,"errors":[{"code":"INVALID_FIELD","description":"bad filter","id":"0","field":"filter"}]}"#
            ),
            (Some("INVALID_FIELD".into()), Some("bad filter".into()))
        );
        assert_eq!(
            error_details("<html><body><h1>Bad   Gateway</h1></body></html>"),
            (None, Some("Bad Gateway".into()))
        );
        assert_eq!(error_details(""), (None, None));
    }

    #[test]
    fn path_of_drops_origin_and_query() {
        assert_eq!(path_of("https://h:1/a/b?c=d"), "/a/b");
        assert_eq!(path_of("https://h"), "/");
        assert_eq!(path_of("/x?y"), "/x");
    }

    #[test]
    fn encode_component_escapes_reserved_characters() {
        assert_eq!(
            encode_component("serialNumber eq 'A''B'"),
            "serialNumber%20eq%20%27A%27%27B%27"
        );
        assert_eq!(encode_component("a==\"b\""), "a%3D%3D%22b%22");
    }
}
