//! API credentials for the server steps. Where they come from, first found wins:
//!
//! 1. the run's own file, `<state>/runs/<run-id>/credentials.toml` (0600 in a 0700 folder):
//!    what a Jamf policy passed as parameters (`jamf_client_id=…`), moved there by the policy
//!    at once and read by the LaunchDaemon and by `resume`; deleted when the run ends, is
//!    rolled back or purged;
//! 2. the file a package places at `DEFAULT_CREDENTIALS_PATH` (0600, root's), the recommended way;
//! 3. the `REENROLL_*` environment variables, for an admin's interactive shell.
//!
//! Never from the command line of anything reenroll starts, never in a child's environment,
//! never from managed preferences (world-readable). Without credentials the server steps stay
//! operator steps.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{bail, Context, Result};
use serde::Deserialize;

use super::secret::Secret;
use crate::device::Device;

/// Where the credentials file lives on the Mac (mode 0600, owned by root).
pub const DEFAULT_CREDENTIALS_PATH: &str = "/Library/Application Support/reenroll/credentials.toml";

pub const DEFAULT_GRAPH_URL: &str = "https://graph.microsoft.com";
pub const DEFAULT_LOGIN_URL: &str = "https://login.microsoftonline.com";

/// Every environment variable the server steps read (declared with the others in `env_vars`).
pub use crate::env_vars::SERVER as ENV_VARS;

/// The name of a run's own credentials file inside its folder (`<state>/runs/<run-id>/`).
pub const RUN_CREDENTIALS_FILE: &str = "credentials.toml";

/// The Jamf policy parameter key of each credential: the environment variable's name without
/// `REENROLL_`, in lower case (`jamf_client_secret=` for `REENROLL_JAMF_CLIENT_SECRET`).
pub fn parameter_key(env_name: &str) -> String {
    env_name
        .strip_prefix("REENROLL_")
        .unwrap_or(env_name)
        .to_ascii_lowercase()
}

/// Every credential key a Jamf policy parameter may carry, in `ENV_VARS` order.
pub fn parameter_keys() -> Vec<String> {
    ENV_VARS.iter().map(|v| parameter_key(v.name)).collect()
}

/// A credential key (`jamf_client_secret`, …).
pub fn is_credential_key(key: &str) -> bool {
    ENV_VARS.iter().any(|v| parameter_key(v.name) == key)
}

/// A key that is not a credential key but reads like one was meant (`jamf_client_secert`,
/// `graph_secret`, `api_secret`): refused, so its value (likely a secret) never becomes a
/// playbook variable that the policy log would print.
pub fn looks_like_credential_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    !is_credential_key(&k)
        && (k.starts_with("jamf_client")
            || k.starts_with("jamf_url")
            || k.starts_with("graph_")
            || k.starts_with("login_url")
            || k.starts_with("tenant")
            || k.starts_with("client_")
            || k.contains("secret")
            || k.contains("password")
            || k.contains("token"))
}

/// The credentials this process's run uses before any other source (see the module's list):
/// one run per process (the run lock), so one slot for the process.
#[derive(Clone, Debug)]
pub enum RunCredentials {
    /// The run's own 0600 file (or, before the run exists, the file a policy staged).
    File(PathBuf),
    /// Held in memory only: a policy's dry run (`action=plan`) writes nothing.
    Given(Credentials),
}

static RUN_CREDENTIALS: Mutex<Option<RunCredentials>> = Mutex::new(None);

/// Make `load` use these credentials first, for the rest of this process (`None`: no longer).
pub fn use_for_this_run(source: Option<RunCredentials>) {
    *RUN_CREDENTIALS.lock().unwrap_or_else(|p| p.into_inner()) = source;
}

fn this_run() -> Option<RunCredentials> {
    RUN_CREDENTIALS
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone()
}

/// Delete a credentials file (a run's, or a staged one). `Ok(true)`: there was one.
pub fn delete_file(path: &Path) -> Result<bool> {
    match std::fs::remove_file(path) {
        Ok(()) => {
            if let Some(dir) = path.parent() {
                if let Ok(d) = std::fs::File::open(dir) {
                    let _ = d.sync_all();
                }
            }
            Ok(true)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e).with_context(|| {
            format!(
                "deleting the API credentials file {}; delete it by hand",
                path.display()
            )
        }),
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Credentials {
    pub jamf: Option<JamfCredentials>,
    pub graph: Option<GraphCredentials>,
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JamfCredentials {
    /// The Jamf Pro server, without a trailing `/`.
    pub url: String,
    pub client_id: String,
    pub client_secret: Secret,
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GraphCredentials {
    pub tenant_id: String,
    pub client_id: String,
    pub client_secret: Secret,
    #[serde(default = "default_graph_url")]
    pub graph_url: String,
    #[serde(default = "default_login_url")]
    pub login_url: String,
}

fn default_graph_url() -> String {
    DEFAULT_GRAPH_URL.into()
}

fn default_login_url() -> String {
    DEFAULT_LOGIN_URL.into()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileFormat {
    jamf: Option<JamfCredentials>,
    graph: Option<GraphCredentials>,
}

impl Credentials {
    pub fn is_empty(&self) -> bool {
        self.jamf.is_none() && self.graph.is_none()
    }

    /// The credentials for a run on `device`, first found: the run's own file (or what a
    /// policy's dry run was given, see `use_for_this_run`), the file at
    /// `DEFAULT_CREDENTIALS_PATH` (inside the sandbox root under `--root`), the `REENROLL_*`
    /// environment variables; else none.
    pub fn load(device: &Device) -> Result<Credentials> {
        Self::load_with_run(device, this_run().as_ref(), |name| std::env::var(name).ok())
    }

    /// `load` without a run's credentials and with another variable source than the process
    /// environment.
    pub fn load_with(device: &Device, get: impl Fn(&str) -> Option<String>) -> Result<Credentials> {
        Self::load_with_run(device, None, get)
    }

    /// `load` with the run's credentials and the variable source given.
    pub fn load_with_run(
        device: &Device,
        run: Option<&RunCredentials>,
        get: impl Fn(&str) -> Option<String>,
    ) -> Result<Credentials> {
        match run {
            Some(RunCredentials::Given(c)) => return Ok(c.clone()),
            Some(RunCredentials::File(path)) if path.symlink_metadata().is_ok() => {
                return Self::from_file(path).context("the run's own API credentials")
            }
            _ => {}
        }
        let path = device.host_path(DEFAULT_CREDENTIALS_PATH)?;
        if path.symlink_metadata().is_ok() {
            return Self::from_file(&path);
        }
        Self::from_vars(get)
    }

    /// Credentials a Jamf policy passed as parameters (`jamf_client_id=…`, see `parameter_key`),
    /// checked like the environment's; errors name the keys, never a value.
    pub fn from_parameters(
        pairs: &std::collections::BTreeMap<String, Secret>,
    ) -> Result<Credentials> {
        Self::from_source(
            |name| {
                pairs
                    .get(&parameter_key(name))
                    .map(|s| s.expose().to_string())
            },
            parameter_key,
            "in the policy parameters",
        )
    }

    /// Writes the credentials as a credentials file (the format `parse` reads): a new file,
    /// 0600, never through a link, synced. Used for a run's own file.
    pub fn write_new_file(&self, path: &Path) -> Result<()> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(nix::libc::O_NOFOLLOW)
            .open(path)
            .with_context(|| format!("creating the credentials file {}", path.display()))?;
        f.write_all(self.to_toml().as_bytes())
            .and_then(|_| f.sync_all())
            .with_context(|| format!("writing the credentials file {}", path.display()))
    }

    /// The file format's text (holds the secrets: only for `write_new_file`).
    fn to_toml(&self) -> String {
        let mut doc = toml::Table::new();
        let s = |v: &str| toml::Value::String(v.to_string());
        if let Some(j) = &self.jamf {
            let mut t = toml::Table::new();
            t.insert("url".into(), s(&j.url));
            t.insert("client_id".into(), s(&j.client_id));
            t.insert("client_secret".into(), s(j.client_secret.expose()));
            doc.insert("jamf".into(), toml::Value::Table(t));
        }
        if let Some(g) = &self.graph {
            let mut t = toml::Table::new();
            t.insert("tenant_id".into(), s(&g.tenant_id));
            t.insert("client_id".into(), s(&g.client_id));
            t.insert("client_secret".into(), s(g.client_secret.expose()));
            t.insert("graph_url".into(), s(&g.graph_url));
            t.insert("login_url".into(), s(&g.login_url));
            doc.insert("graph".into(), toml::Value::Table(t));
        }
        doc.to_string()
    }

    /// Reads a credentials file, refusing one that others could read or change.
    pub fn from_file(path: &Path) -> Result<Credentials> {
        check_file_access(path)?;
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the credentials file {}", path.display()))?;
        Self::parse(&text).with_context(|| format!("in the credentials file {}", path.display()))
    }

    /// Parses the file format. Errors give line and column and never quote the file: its
    /// lines hold secrets.
    pub fn parse(text: &str) -> Result<Credentials> {
        let file: FileFormat = toml::from_str(text).map_err(|e| {
            let at = e
                .span()
                .map(|s| {
                    let (line, col) = line_col(text, s.start);
                    format!(" at line {line}, column {col}")
                })
                .unwrap_or_default();
            anyhow::anyhow!("invalid credentials{at}: {}", e.message())
        })?;
        let creds = Credentials {
            jamf: file.jamf,
            graph: file.graph,
        };
        creds.validated()
    }

    /// From the process environment (see `ENV_VARS`).
    pub fn from_env() -> Result<Credentials> {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// From any variable source; `from_env` with the real environment.
    pub fn from_vars(get: impl Fn(&str) -> Option<String>) -> Result<Credentials> {
        Self::from_source(get, str::to_string, "in the environment")
    }

    /// From a source keyed by the environment variables' names; `shown` names a variable in
    /// errors as its source calls it, `place` says where they were.
    fn from_source(
        get: impl Fn(&str) -> Option<String>,
        shown: impl Fn(&str) -> String,
        place: &str,
    ) -> Result<Credentials> {
        let get = |name: &str| get(name).filter(|v| !v.trim().is_empty());
        let group = |names: &[&str]| -> Result<Option<Vec<String>>> {
            let values: Vec<Option<String>> = names.iter().map(|n| get(n)).collect();
            if values.iter().all(Option::is_none) {
                return Ok(None);
            }
            let missing: Vec<String> = names
                .iter()
                .zip(&values)
                .filter(|(_, v)| v.is_none())
                .map(|(n, _)| shown(n))
                .collect();
            if !missing.is_empty() {
                bail!(
                    "incomplete credentials {place}: {} set but {} missing; set all of them or none",
                    names
                        .iter()
                        .zip(&values)
                        .filter(|(_, v)| v.is_some())
                        .map(|(n, _)| shown(n))
                        .collect::<Vec<_>>()
                        .join(", "),
                    missing.join(", ")
                );
            }
            Ok(Some(values.into_iter().flatten().collect()))
        };
        let jamf = group(&[
            "REENROLL_JAMF_URL",
            "REENROLL_JAMF_CLIENT_ID",
            "REENROLL_JAMF_CLIENT_SECRET",
        ])?
        .map(|v| JamfCredentials {
            url: v[0].clone(),
            client_id: v[1].clone(),
            client_secret: Secret::new(v[2].clone()),
        });
        let graph = group(&[
            "REENROLL_GRAPH_TENANT_ID",
            "REENROLL_GRAPH_CLIENT_ID",
            "REENROLL_GRAPH_CLIENT_SECRET",
        ])?
        .map(|v| GraphCredentials {
            tenant_id: v[0].clone(),
            client_id: v[1].clone(),
            client_secret: Secret::new(v[2].clone()),
            graph_url: get("REENROLL_GRAPH_URL").unwrap_or_else(default_graph_url),
            login_url: get("REENROLL_LOGIN_URL").unwrap_or_else(default_login_url),
        });
        if graph.is_none()
            && (get("REENROLL_GRAPH_URL").is_some() || get("REENROLL_LOGIN_URL").is_some())
        {
            bail!(
                "{} or {} is set without {}, {} and {}",
                shown("REENROLL_GRAPH_URL"),
                shown("REENROLL_LOGIN_URL"),
                shown("REENROLL_GRAPH_TENANT_ID"),
                shown("REENROLL_GRAPH_CLIENT_ID"),
                shown("REENROLL_GRAPH_CLIENT_SECRET")
            );
        }
        Credentials { jamf, graph }.validated()
    }

    fn validated(mut self) -> Result<Credentials> {
        if let Some(j) = &mut self.jamf {
            j.url = check_url("the Jamf Pro URL", &j.url)?;
            require("the Jamf Pro client_id", &j.client_id)?;
            require("the Jamf Pro client_secret", j.client_secret.expose())?;
        }
        if let Some(g) = &mut self.graph {
            g.graph_url = check_url("the Graph URL", &g.graph_url)?;
            g.login_url = check_url("the login URL", &g.login_url)?;
            require("the Graph tenant_id", &g.tenant_id)?;
            require("the Graph client_id", &g.client_id)?;
            require("the Graph client_secret", g.client_secret.expose())?;
            if !g
                .tenant_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.'))
            {
                bail!("the Graph tenant_id must be a tenant GUID or domain name");
            }
        }
        Ok(self)
    }
}

fn require(what: &str, value: &str) -> Result<()> {
    if value.trim().is_empty() {
        bail!("{what} is empty");
    }
    Ok(())
}

/// Accepts https URLs, and plain http only to this machine (the test server): a client secret
/// must not cross a network in clear text.
fn check_url(what: &str, url: &str) -> Result<String> {
    let url = url.trim().trim_end_matches('/').to_string();
    if let Some(rest) = url.strip_prefix("https://") {
        if !rest.is_empty() {
            return Ok(url);
        }
    }
    if let Some(rest) = url.strip_prefix("http://") {
        let host = rest.split(['/', ':']).next().unwrap_or("");
        if matches!(host, "127.0.0.1" | "localhost") || rest.starts_with("[::1]") {
            return Ok(url);
        }
        bail!(
            "{what} {url} is not https; only https is allowed (http only to 127.0.0.1 for tests)"
        );
    }
    bail!("{what} {url:?} is not an https URL");
}

/// Refuses a credentials file that is a symlink, is not a regular file, can be read or written
/// by group or others, or belongs to another user than the one running reenroll (root on a Mac):
/// whoever can change the file can point the secret at a server of their own.
fn check_file_access(path: &Path) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    let meta = path
        .symlink_metadata()
        .with_context(|| format!("reading the credentials file {}", path.display()))?;
    if meta.file_type().is_symlink() || !meta.is_file() {
        bail!(
            "the credentials file {} is not a regular file; replace it with a file (not a symlink)",
            path.display()
        );
    }
    let mode = meta.mode() & 0o7777;
    if mode & 0o077 != 0 {
        bail!(
            "the credentials file {} has mode {:04o}, which lets other users read it; run `sudo chmod 600 '{}'`",
            path.display(),
            mode,
            path.display()
        );
    }
    let me = nix::unistd::geteuid().as_raw();
    if meta.uid() != me {
        bail!(
            "the credentials file {} belongs to uid {}, not to uid {} running reenroll; run `sudo chown root:wheel '{}'`",
            path.display(),
            meta.uid(),
            me,
            path.display()
        );
    }
    Ok(())
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// Where the credentials come from, for `--help` (generated from `ENV_VARS`).
pub fn credentials_help() -> String {
    let mut s = format!(
        "Credentials (never on the command line): the file {DEFAULT_CREDENTIALS_PATH} \
         (mode 0600; inside DIR with --root DIR), else these environment variables:\n"
    );
    for v in ENV_VARS {
        s.push_str(&format!("  {:<30} {}\n", v.name, v.description));
    }
    s.push_str("Exit codes: 0 done (or nothing to delete), 1 a request failed, 2 invalid, 4 refused (no credentials, a credentials file others can read, several matches without --allow-multiple)");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::os::unix::fs::PermissionsExt;

    const FULL: &str = r#"
[jamf]
url = "https://example.jamfcloud.com/"
client_id = "jamf-id"
client_secret = "jamf-secret-value"

[graph]
tenant_id = "contoso.onmicrosoft.com"
client_id = "graph-id"
client_secret = "graph-secret-value"
"#;

    fn write(dir: &Path, text: &str, mode: u32) -> std::path::PathBuf {
        let p = dir.join("credentials.toml");
        std::fs::write(&p, text).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        p
    }

    #[test]
    fn reads_a_private_file() {
        let dir = tempfile::tempdir().unwrap();
        let c = Credentials::from_file(&write(dir.path(), FULL, 0o600)).unwrap();
        let j = c.jamf.unwrap();
        assert_eq!(j.url, "https://example.jamfcloud.com");
        assert_eq!(j.client_secret.expose(), "jamf-secret-value");
        let g = c.graph.unwrap();
        assert_eq!(g.graph_url, DEFAULT_GRAPH_URL);
        assert_eq!(g.login_url, DEFAULT_LOGIN_URL);
    }

    #[test]
    fn refuses_a_file_others_can_read_and_says_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        for mode in [0o644, 0o640, 0o604, 0o660] {
            let p = write(dir.path(), FULL, mode);
            let err = format!("{:#}", Credentials::from_file(&p).unwrap_err());
            assert!(err.contains(&format!("{mode:04o}")), "{err}");
            assert!(err.contains("chmod 600"), "{err}");
        }
    }

    #[test]
    fn refuses_a_symlink() {
        let dir = tempfile::tempdir().unwrap();
        let target = write(dir.path(), FULL, 0o600);
        let link = dir.path().join("link.toml");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(Credentials::from_file(&link).is_err());
    }

    #[test]
    fn each_part_is_optional() {
        let c = Credentials::parse(
            "[graph]\ntenant_id = \"t\"\nclient_id = \"c\"\nclient_secret = \"s\"\ngraph_url = \"https://graph.microsoft.us\"\n",
        )
        .unwrap();
        assert!(c.jamf.is_none());
        assert_eq!(c.graph.unwrap().graph_url, "https://graph.microsoft.us");
        assert!(Credentials::parse("").unwrap().is_empty());
    }

    #[test]
    fn parse_errors_never_quote_the_file() {
        let text = "[jamf]\nurl = \"https://j\"\nclient_id = \"id\"\nclient_secret = \"topsecret-1\"\npasword = \"topsecret-2\"\n";
        let err = format!("{:#}", Credentials::parse(text).unwrap_err());
        assert!(err.contains("line 5"), "{err}");
        assert!(!err.contains("topsecret"), "{err}");
        let err = format!(
            "{:#}",
            Credentials::parse("[jamf]\nclient_secret = \"topsecret-3\n").unwrap_err()
        );
        assert!(!err.contains("topsecret"), "{err}");
    }

    #[test]
    fn plain_http_only_to_this_machine() {
        let ok =
            "[jamf]\nurl = \"http://127.0.0.1:8080\"\nclient_id = \"i\"\nclient_secret = \"s\"\n";
        assert!(Credentials::parse(ok).is_ok());
        let bad = ok.replace("127.0.0.1:8080", "jamf.example.com");
        let err = format!("{:#}", Credentials::parse(&bad).unwrap_err());
        assert!(err.contains("not https"), "{err}");
    }

    #[test]
    fn reads_environment_variables() {
        let vars: HashMap<&str, &str> = [
            ("REENROLL_JAMF_URL", "https://j.example.com"),
            ("REENROLL_JAMF_CLIENT_ID", "id"),
            ("REENROLL_JAMF_CLIENT_SECRET", "sec"),
        ]
        .into();
        let c = Credentials::from_vars(|n| vars.get(n).map(|v| v.to_string())).unwrap();
        assert_eq!(c.jamf.unwrap().client_id, "id");
        assert!(c.graph.is_none());
        for name in vars.keys() {
            assert!(ENV_VARS.iter().any(|v| v.name == *name));
        }
    }

    #[test]
    fn incomplete_environment_names_what_is_missing_not_values() {
        let vars: HashMap<&str, &str> = [
            ("REENROLL_GRAPH_TENANT_ID", "t"),
            ("REENROLL_GRAPH_CLIENT_SECRET", "very-secret-value"),
        ]
        .into();
        let err = Credentials::from_vars(|n| vars.get(n).map(|v| v.to_string()))
            .unwrap_err()
            .to_string();
        assert!(err.contains("REENROLL_GRAPH_CLIENT_ID missing"), "{err}");
        assert!(!err.contains("very-secret-value"), "{err}");
    }

    #[test]
    fn load_uses_the_file_inside_the_sandbox_root() {
        let dir = tempfile::tempdir().unwrap();
        let device = Device::sandbox(dir.path()).unwrap();
        let no_env = |_: &str| None;
        assert!(Credentials::load_with(&device, no_env).unwrap().is_empty());
        let path = device.host_path(DEFAULT_CREDENTIALS_PATH).unwrap();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        write(path.parent().unwrap(), FULL, 0o600);
        assert!(Credentials::load_with(&device, no_env)
            .unwrap()
            .jamf
            .is_some());
        // The file wins over the environment (an interactive shell's fallback).
        let env = |n: &str| {
            n.starts_with("REENROLL_GRAPH_")
                .then(|| "value-1".to_string())
                .filter(|_| !n.ends_with("_URL"))
        };
        let c = Credentials::load_with(&device, env).unwrap();
        assert!(c.jamf.is_some() && c.graph.is_some());
        assert_eq!(c.graph.unwrap().client_id, "graph-id");
        std::fs::remove_file(&path).unwrap();
        let c = Credentials::load_with(&device, env).unwrap();
        assert!(c.jamf.is_none() && c.graph.is_some());
    }

    #[test]
    fn the_runs_own_file_comes_first() {
        let dir = tempfile::tempdir().unwrap();
        let device = Device::sandbox(dir.path()).unwrap();
        let path = device.host_path(DEFAULT_CREDENTIALS_PATH).unwrap();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        write(path.parent().unwrap(), FULL, 0o600);
        let run_dir = tempfile::tempdir().unwrap();
        let own = run_dir.path().join(RUN_CREDENTIALS_FILE);
        let given = Credentials::parse(
            "[jamf]\nurl = \"https://own.example.com\"\nclient_id = \"own-id\"\nclient_secret = \"own-secret\"\n",
        )
        .unwrap();
        given.write_new_file(&own).unwrap();
        use std::os::unix::fs::MetadataExt;
        assert_eq!(std::fs::metadata(&own).unwrap().mode() & 0o777, 0o600);
        let run = RunCredentials::File(own.clone());
        let c = Credentials::load_with_run(&device, Some(&run), |_| None).unwrap();
        assert_eq!(c, given, "the run's file is read back whole");
        // Never over an existing file (a link planted in its place included).
        assert!(given.write_new_file(&own).is_err());
        // Gone (the run ended): the package's file again.
        assert!(delete_file(&own).unwrap());
        assert!(!delete_file(&own).unwrap());
        let c = Credentials::load_with_run(&device, Some(&run), |_| None).unwrap();
        assert_eq!(c.jamf.unwrap().client_id, "jamf-id");
        // In memory (a policy's dry run).
        let run = RunCredentials::Given(given.clone());
        assert_eq!(
            Credentials::load_with_run(&device, Some(&run), |_| None).unwrap(),
            given
        );
    }

    #[test]
    fn parameters_use_the_variables_names_and_errors_never_show_a_value() {
        let pairs = |kv: &[(&str, &str)]| -> std::collections::BTreeMap<String, Secret> {
            kv.iter()
                .map(|(k, v)| (k.to_string(), Secret::new(*v)))
                .collect()
        };
        let c = Credentials::from_parameters(&pairs(&[
            ("jamf_url", "https://j.example.com"),
            ("jamf_client_id", "id"),
            ("jamf_client_secret", "Abc~1.2_3-4"),
        ]))
        .unwrap();
        assert_eq!(c.jamf.unwrap().client_secret.expose(), "Abc~1.2_3-4");
        let err = format!(
            "{:#}",
            Credentials::from_parameters(&pairs(&[
                ("graph_tenant_id", "contoso.onmicrosoft.com"),
                ("graph_client_secret", "Very~Secret.Value_1"),
            ]))
            .unwrap_err()
        );
        assert!(
            err.contains("in the policy parameters") && err.contains("graph_client_id missing"),
            "{err}"
        );
        assert!(
            !err.contains("Very~Secret") && !err.contains("REENROLL_"),
            "{err}"
        );
        assert_eq!(parameter_keys().len(), ENV_VARS.len());
        assert!(is_credential_key("graph_client_secret") && is_credential_key("login_url"));
        assert!(looks_like_credential_key("jamf_client_secert"));
        assert!(looks_like_credential_key("api_secret"));
        assert!(!looks_like_credential_key("jamf_client_secret"));
        assert!(!looks_like_credential_key("intune_settle_minutes"));
    }

    #[test]
    fn debug_output_has_no_secret() {
        let c = Credentials::parse(FULL).unwrap();
        let d = format!("{c:?}");
        assert!(
            !d.contains("jamf-secret-value") && !d.contains("graph-secret-value"),
            "{d}"
        );
    }
}
