//! The keychain helper: reaching a user's login keychain from root.
//!
//! A login keychain is unlocked only inside its user's session, and root calling the keychain
//! API searches root's keychains, not the user's. So reenroll runs a copy of itself in the
//! user's session, `launchctl asuser UID sudo -u USER <reenroll> keychain-helper --user USER
//! --uid UID --home HOME` (every argument separate: one string silently fails), and talks to
//! it in JSON lines over a pipe: one request line in, one response line out. `HelperKeychain`
//! is the root side (a `Keychain` like any other), `serve` the helper side.
//!
//! Secret data crosses the pipe (exports, and adds during rollback) and nothing else: never the
//! command line, never a log, never an error message.

use std::fmt;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use super::{Keychain, KeychainItem, KeychainLocation, KeychainLocked, Unreachable};
use crate::device::programs::{self, LineAnswer, LineSession};
use crate::device::Device;

/// The hidden CLI subcommand that runs `serve_location`.
pub const SUBCOMMAND: &str = "keychain-helper";
pub const LAUNCHCTL: &str = "/bin/launchctl";
pub const SUDO: &str = "/usr/bin/sudo";
/// How long one request may take before the user's keychain counts as unreachable.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// An item as it crosses the pipe: its attributes and, for add and export, its data.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireItem {
    #[serde(flatten)]
    pub item: KeychainItem,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Vec<u8>>,
}

impl fmt::Debug for WireItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.clone().into_item().fmt(f)
    }
}

impl WireItem {
    pub fn new(item: &KeychainItem) -> Self {
        WireItem {
            item: item.clone(),
            data: item.data.clone(),
        }
    }

    pub fn into_item(self) -> KeychainItem {
        KeychainItem {
            data: self.data,
            ..self.item
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case")]
pub enum Request {
    List,
    Export {
        item: WireItem,
    },
    /// The data of every copy of one identity (rollback tells copies apart by it).
    ExportCopies {
        item: WireItem,
    },
    Delete {
        item: WireItem,
    },
    Add {
        item: WireItem,
    },
}

/// One answer per request. `error` is set when the operation failed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case")]
pub enum Response {
    List {
        #[serde(default)]
        items: Vec<KeychainItem>,
        error: Option<String>,
    },
    Export {
        #[serde(default)]
        data: Option<Secret>,
        error: Option<String>,
    },
    ExportCopies {
        #[serde(default)]
        data: Vec<Option<Secret>>,
        error: Option<String>,
    },
    Delete {
        error: Option<String>,
    },
    Add {
        error: Option<String>,
    },
    /// The keychain cannot be opened at all (locked, the user is logged out): whatever was asked.
    Unreachable {
        error: Option<String>,
    },
    /// The request line could not be read (a helper of another version?).
    Invalid {
        error: Option<String>,
    },
}

/// Exported bytes on the pipe: serialized as a byte array, redacted from `Debug`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(pub Vec<u8>);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{} bytes redacted>", self.0.len())
    }
}

/// The error `HelperKeychain` returns when the user's keychain cannot be reached, so callers can
/// pause that user's part of a step (`err.downcast_ref::<KeychainUnreachable>()`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeychainUnreachable(pub Unreachable);

impl fmt::Display for KeychainUnreachable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match &self.0.location {
            KeychainLocation::User { name, .. } => name.as_str(),
            KeychainLocation::System => "the System keychain",
        };
        write!(
            f,
            "{} cannot be reached ({}): {name}'s part of this step pauses until {name} logs in \
             and the keychain is unlocked; then run `reenroll resume`",
            self.0.location.describe(),
            self.0.reason
        )
    }
}

impl std::error::Error for KeychainUnreachable {}

/// The helper side: answer each request line from `input` with one response line on `output`,
/// until `input` ends. Keychain failures become `error` fields; only I/O errors end the loop.
pub fn serve(kc: &dyn Keychain, input: impl BufRead, output: impl Write) -> Result<()> {
    answer_lines(input, output, |request| handle(kc, request))
}

/// The helper subcommand: open `location`'s keychain on `device` and serve it. A keychain that
/// cannot be opened answers every request with `Unreachable`, so the root side can tell "not
/// logged in" from a failure.
pub fn serve_location(
    device: &Device,
    location: &KeychainLocation,
    input: impl BufRead,
    output: impl Write,
) -> Result<()> {
    match super::backend(device, location) {
        Ok(kc) => serve(kc.as_ref(), input, output),
        Err(e) => {
            let reason = format!("{e:#}");
            answer_lines(input, output, |_| Response::Unreachable {
                error: Some(reason.clone()),
            })
        }
    }
}

fn answer_lines(
    input: impl BufRead,
    mut output: impl Write,
    mut answer: impl FnMut(Request) -> Response,
) -> Result<()> {
    for line in input.lines() {
        let line = line.context("reading a request from the keychain pipe")?;
        if line.trim().is_empty() {
            continue;
        }
        let response = match serde_json::from_str::<Request>(&line) {
            Ok(request) => answer(request),
            // NOTE: the serde error names the line and column only, never the line's content
            // (an add request carries secret data).
            Err(e) => Response::Invalid {
                error: Some(format!("unreadable request: {e}")),
            },
        };
        let mut text = serde_json::to_string(&response).context("encoding a keychain response")?;
        text.push('\n');
        output
            .write_all(text.as_bytes())
            .and_then(|()| output.flush())
            .context("writing a response to the keychain pipe")?;
    }
    Ok(())
}

fn handle(kc: &dyn Keychain, request: Request) -> Response {
    let response = answer(kc, request);
    if let Some(locked) = response.locked.clone() {
        // A keychain that is (or became) locked: the root side pauses this user's part.
        return Response::Unreachable {
            error: Some(locked),
        };
    }
    response.response
}

struct Answer {
    response: Response,
    /// Set when the operation failed because the keychain is locked (`KeychainLocked`).
    locked: Option<String>,
}

fn answer(kc: &dyn Keychain, request: Request) -> Answer {
    let mut locked = None;
    let mut err = |e: anyhow::Error| {
        if let Some(l) = e.downcast_ref::<KeychainLocked>() {
            locked = Some(l.to_string());
        }
        Some(format!("{e:#}"))
    };
    let response = match request {
        Request::List => match kc.list() {
            Ok(items) => Response::List { items, error: None },
            Err(e) => Response::List {
                items: Vec::new(),
                error: err(e),
            },
        },
        Request::Export { item } => match kc.export(&item.into_item()) {
            Ok(data) => Response::Export {
                data: data.map(Secret),
                error: None,
            },
            Err(e) => Response::Export {
                data: None,
                error: err(e),
            },
        },
        Request::ExportCopies { item } => match kc.export_copies(&item.into_item()) {
            Ok(data) => Response::ExportCopies {
                data: data.into_iter().map(|d| d.map(Secret)).collect(),
                error: None,
            },
            Err(e) => Response::ExportCopies {
                data: Vec::new(),
                error: err(e),
            },
        },
        Request::Delete { item } => Response::Delete {
            error: kc.delete(&item.into_item()).err().and_then(err),
        },
        Request::Add { item } => Response::Add {
            error: kc.add(&item.into_item()).err().and_then(err),
        },
    };
    Answer { response, locked }
}

/// The root side: a user's login keychain reached through the helper. One helper process serves
/// every call of this value (a purge lists, exports and deletes dozens of times), started at the
/// first call and ended when the value is dropped.
pub struct HelperKeychain {
    device: Device,
    binary: PathBuf,
    user: String,
    uid: u32,
    home: String,
    timeout: Duration,
    session: std::cell::RefCell<Option<LineSession>>,
}

impl fmt::Debug for HelperKeychain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HelperKeychain")
            .field("user", &self.user)
            .field("uid", &self.uid)
            .field("binary", &self.binary)
            .finish()
    }
}

impl HelperKeychain {
    /// `binary` is the reenroll executable to run as the helper (normally
    /// `std::env::current_exe()`). Only user keychains need a helper.
    pub fn new(
        device: &Device,
        binary: impl Into<PathBuf>,
        location: &KeychainLocation,
    ) -> Result<Self> {
        let KeychainLocation::User { name, uid, home } = location else {
            bail!("the System keychain is opened directly by root; it needs no keychain helper");
        };
        Ok(HelperKeychain {
            device: device.clone(),
            binary: binary.into(),
            user: name.clone(),
            uid: *uid,
            home: home.clone(),
            timeout: DEFAULT_TIMEOUT,
            session: std::cell::RefCell::new(None),
        })
    }

    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    fn location(&self) -> KeychainLocation {
        KeychainLocation::User {
            name: self.user.clone(),
            uid: self.uid,
            home: self.home.clone(),
        }
    }

    /// The arguments of `launchctl`, each one separate. Under `--root` the helper is told the
    /// same root, so it opens the sandbox keychain.
    pub fn launchctl_args(&self) -> Vec<String> {
        let uid = self.uid.to_string();
        let mut args = vec![
            "asuser".to_string(),
            uid.clone(),
            SUDO.to_string(),
            "-u".to_string(),
            self.user.clone(),
            self.binary.to_string_lossy().into_owned(),
            SUBCOMMAND.to_string(),
            "--user".to_string(),
            self.user.clone(),
            "--uid".to_string(),
            uid,
            "--home".to_string(),
            self.home.clone(),
        ];
        if self.device.is_sandbox() {
            args.push("--root".to_string());
            args.push(path_arg(self.device.root()));
        }
        args
    }

    fn call(&self, request: &Request) -> Result<Response> {
        let mut line = serde_json::to_vec(request).context("encoding a keychain request")?;
        line.push(b'\n');
        // In a read-only look (`Device::read_only_memo`) a keychain is listed once: the preflight's
        // facts and the purge's plan read the same list. Exports (secret data) are never kept.
        let memo = self
            .device
            .memo()
            .filter(|_| matches!(request, Request::List));
        let args = self.launchctl_args();
        if let Some(text) = memo.and_then(|m| m.line(LAUNCHCTL, &args, &line)) {
            return self.answer(&text);
        }
        let text = self.ask(&line)?;
        let response = self.answer(&text)?;
        // Only a whole list is kept: a failure is asked again.
        if let (Some(m), Response::List { error: None, .. }) = (memo, &response) {
            m.keep_line(LAUNCHCTL, &args, &line, &text);
        }
        Ok(response)
    }

    /// Send one request line to the helper (started at the first) and return its answer line.
    fn ask(&self, line: &[u8]) -> Result<String> {
        let mut slot = self.session.borrow_mut();
        let session = match slot.as_mut() {
            Some(s) => s,
            None => slot.insert(
                programs::spawn_lines(&self.device, LAUNCHCTL, &self.launchctl_args()).with_context(|| {
                    format!(
                        "could not start the keychain helper for {} (`launchctl asuser {} sudo -u {} …`)",
                        self.user, self.uid, self.user
                    )
                })?,
            ),
        };
        let text = match session.request(line, self.timeout) {
            LineAnswer::Line(text) => text,
            LineAnswer::TimedOut => {
                *slot = None;
                return Err(KeychainUnreachable(Unreachable {
                    location: self.location(),
                    reason: format!(
                        "the keychain helper did not answer within {}s (a keychain prompt may be \
                         waiting on {}'s screen)",
                        self.timeout.as_secs(),
                        self.user
                    ),
                })
                .into());
            }
            LineAnswer::Closed { status, stderr } => {
                *slot = None;
                bail!(
                    "the keychain helper for {} gave no answer: `launchctl asuser {} sudo -u {} {} {}` \
                     exited {} ({}). Check that {} has a login session and that the binary runs as \
                     that user",
                    self.user,
                    self.uid,
                    self.user,
                    self.binary.display(),
                    SUBCOMMAND,
                    status,
                    stderr,
                    self.user
                )
            }
        };
        Ok(text)
    }

    /// What an answer line says.
    fn answer(&self, text: &str) -> Result<Response> {
        match serde_json::from_str::<Response>(text) {
            Ok(Response::Unreachable { error }) => Err(KeychainUnreachable(Unreachable {
                location: self.location(),
                reason: error.unwrap_or_else(|| "no reason given".into()),
            })
            .into()),
            Ok(Response::Invalid { error }) => bail!(
                "the keychain helper for {} did not understand the request ({}); is the helper \
                 binary {} the same reenroll version?",
                self.user,
                error.unwrap_or_default(),
                self.binary.display()
            ),
            Ok(r) => Ok(r),
            // NOTE: the answer may hold secret data; say how much came, never what.
            Err(e) => {
                *self.session.borrow_mut() = None;
                bail!(
                    "the keychain helper for {} answered something unreadable ({} bytes, {e})",
                    self.user,
                    text.len()
                )
            }
        }
    }

    fn failed(&self, what: &str, item: Option<&KeychainItem>, error: String) -> anyhow::Error {
        let target = item
            .map(|i| format!(" {}", i.describe()))
            .unwrap_or_default();
        anyhow::anyhow!(
            "{what}{target} in {}'s login keychain failed: {error}",
            self.user
        )
    }
}

fn path_arg(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

fn unexpected(r: &Response) -> anyhow::Error {
    anyhow::anyhow!("the keychain helper answered a different request: {r:?}")
}

impl Keychain for HelperKeychain {
    fn list(&self) -> Result<Vec<KeychainItem>> {
        match self.call(&Request::List)? {
            Response::List { error: Some(e), .. } => Err(self.failed("listing", None, e)),
            Response::List { items, .. } => Ok(items),
            r => Err(unexpected(&r)),
        }
    }

    fn export(&self, item: &KeychainItem) -> Result<Option<Vec<u8>>> {
        let request = Request::Export {
            item: WireItem::new(item),
        };
        match self.call(&request)? {
            Response::Export { error: Some(e), .. } => Err(self.failed("exporting", Some(item), e)),
            Response::Export { data, .. } => Ok(data.map(|Secret(d)| d)),
            r => Err(unexpected(&r)),
        }
    }

    fn export_copies(&self, item: &KeychainItem) -> Result<Vec<Option<Vec<u8>>>> {
        let request = Request::ExportCopies {
            item: WireItem::new(item),
        };
        match self.call(&request)? {
            Response::ExportCopies { error: Some(e), .. } => {
                Err(self.failed("exporting every copy of", Some(item), e))
            }
            Response::ExportCopies { data, .. } => {
                Ok(data.into_iter().map(|d| d.map(|Secret(d)| d)).collect())
            }
            r => Err(unexpected(&r)),
        }
    }

    fn delete(&self, item: &KeychainItem) -> Result<()> {
        let request = Request::Delete {
            item: WireItem::new(item),
        };
        match self.call(&request)? {
            Response::Delete { error: Some(e) } => Err(self.failed("deleting", Some(item), e)),
            Response::Delete { .. } => Ok(()),
            r => Err(unexpected(&r)),
        }
    }

    fn add(&self, item: &KeychainItem) -> Result<()> {
        let request = Request::Add {
            item: WireItem::new(item),
        };
        match self.call(&request)? {
            Response::Add { error: Some(e) } => Err(self.failed("adding", Some(item), e)),
            Response::Add { .. } => Ok(()),
            r => Err(unexpected(&r)),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;
    use std::os::unix::fs::PermissionsExt;

    use super::*;
    use crate::keychain::sandbox::{SandboxKeychain, LOCKED_MARKER};
    use crate::keychain::ItemClass;

    fn alice() -> KeychainLocation {
        KeychainLocation::User {
            name: "alice".into(),
            uid: 501,
            home: "/Users/alice".into(),
        }
    }

    fn secret_item() -> KeychainItem {
        KeychainItem {
            class: Some(ItemClass::GenericPassword),
            account: Some("com.microsoft.workplacejoin.thumbprint".into()),
            data: Some(vec![0, 159, 255, b'x']),
            extractable: true,
            ..Default::default()
        }
    }

    fn exchange(kc: &dyn Keychain, requests: &[Request]) -> Vec<Response> {
        let input: String = requests
            .iter()
            .map(|r| serde_json::to_string(r).unwrap() + "\n")
            .collect();
        let mut out = Vec::new();
        serve(kc, Cursor::new(input), &mut out).unwrap();
        String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    #[test]
    fn serve_answers_each_request_against_the_keychain() {
        let dir = tempfile::tempdir().unwrap();
        let device = Device::sandbox(dir.path()).unwrap();
        let kc = SandboxKeychain::create(&device, &alice()).unwrap();
        let item = secret_item();
        let wire = WireItem::new(&item);
        let answers = exchange(
            &kc,
            &[
                Request::Add { item: wire.clone() },
                Request::List,
                Request::Export { item: wire.clone() },
                Request::Delete { item: wire.clone() },
                Request::Delete { item: wire },
            ],
        );
        assert_eq!(answers.len(), 5);
        assert_eq!(answers[0], Response::Add { error: None });
        let Response::List { items, error: None } = &answers[1] else {
            panic!("{:?}", answers[1]);
        };
        assert!(items[0].same_identity(&item) && items[0].data.is_none());
        assert_eq!(
            answers[2],
            Response::Export {
                data: item.data.clone().map(Secret),
                error: None
            }
        );
        assert_eq!(answers[3], Response::Delete { error: None });
        let Response::Delete { error: Some(e) } = &answers[4] else {
            panic!("{:?}", answers[4]);
        };
        assert!(e.contains("is not in the sandbox keychain"));
    }

    #[test]
    fn serve_survives_a_bad_line_and_data_crosses_as_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let device = Device::sandbox(dir.path()).unwrap();
        let kc = SandboxKeychain::create(&device, &alice()).unwrap();
        let add = serde_json::to_string(&Request::Add {
            item: WireItem::new(&secret_item()),
        })
        .unwrap();
        assert!(add.contains("\"data\":[0,159,255,120]"), "{add}");
        let mut out = Vec::new();
        serve(
            &kc,
            Cursor::new(format!("{{\"op\":\"frobnicate\"}}\n\n{add}\n")),
            &mut out,
        )
        .unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<Response> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert!(matches!(lines[0], Response::Invalid { error: Some(_) }));
        assert_eq!(lines[1], Response::Add { error: None });
        assert_eq!(kc.export(&secret_item()).unwrap(), secret_item().data);
    }

    #[test]
    fn debug_output_never_shows_secret_bytes() {
        let r = Response::Export {
            data: Some(Secret(b"s3cr3t".to_vec())),
            error: None,
        };
        let req = Request::Add {
            item: WireItem::new(&secret_item()),
        };
        for text in [
            format!("{r:?}"),
            format!("{req:?}"),
            format!("{:?}", unexpected(&r)),
        ] {
            assert!(!text.contains("s3cr3t") && !text.contains("159"), "{text}");
        }
    }

    #[test]
    fn a_locked_keychain_answers_unreachable() {
        let dir = tempfile::tempdir().unwrap();
        let device = Device::sandbox(dir.path()).unwrap();
        SandboxKeychain::create(&device, &alice())
            .unwrap()
            .add(&secret_item())
            .unwrap();
        let marker = dir.path().join("Users/alice").join(LOCKED_MARKER);
        std::fs::create_dir_all(marker.parent().unwrap()).unwrap();
        std::fs::write(&marker, "").unwrap();
        let mut out = Vec::new();
        serve_location(
            &device,
            &alice(),
            Cursor::new("{\"op\":\"list\"}\n"),
            &mut out,
        )
        .unwrap();
        let r: Response = serde_json::from_slice(&out).unwrap();
        let Response::Unreachable { error: Some(e) } = r else {
            panic!("{r:?}");
        };
        assert!(e.contains("locked"));
    }

    #[test]
    fn a_keychain_locked_after_opening_answers_unreachable_and_unnamed_items_cross() {
        let dir = tempfile::tempdir().unwrap();
        let device = Device::sandbox(dir.path()).unwrap();
        let kc = SandboxKeychain::create(&device, &alice()).unwrap();
        let unnamed = KeychainItem {
            class: Some(ItemClass::Certificate),
            data: Some(vec![0x30, 0x00]),
            extractable: true,
            ..Default::default()
        };
        kc.add(&unnamed).unwrap();
        let answers = exchange(
            &kc,
            &[
                Request::List,
                Request::Export {
                    item: WireItem::new(&KeychainItem {
                        data: None,
                        ..unnamed.clone()
                    }),
                },
            ],
        );
        let Response::List { items, error: None } = &answers[0] else {
            panic!("{:?}", answers[0]);
        };
        assert!(items[0].same_identity(&unnamed) && items[0].subject.is_none());
        assert_eq!(
            answers[1],
            Response::Export {
                data: Some(Secret(vec![0x30, 0x00])),
                error: None
            }
        );

        std::fs::write(dir.path().join("Users/alice").join(LOCKED_MARKER), "").unwrap();
        let kc = SandboxKeychain::open(&device, &alice()).unwrap();
        let answers = exchange(&kc, &[Request::List]);
        let Response::Unreachable { error: Some(e) } = &answers[0] else {
            panic!("{:?}", answers[0]);
        };
        assert!(e.contains("locked") && e.contains("-25308"), "{e}");
    }

    /// A sandbox with fake `launchctl` and `sudo` (which exec their program as the real ones
    /// would, logging their arguments one per line) and a fake helper that reads one request
    /// line and answers `answer`.
    fn fake_device(answer: &str, exit: i32) -> (tempfile::TempDir, Device, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        let write = |path: &Path, text: &str| {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
        };
        write(
            &root.join("bin/launchctl"),
            &format!(
                "#!/bin/sh\nprintf '%s\\n' \"$@\" > '{r}/launchctl.args'\n[ \"$1\" = asuser ] || exit 64\nshift 2\np=\"$1\"; shift\nexec '{r}'\"$p\" \"$@\"\n",
                r = root.display()
            ),
        );
        write(
            &root.join("usr/bin/sudo"),
            "#!/bin/sh\n[ \"$1\" = -u ] || exit 64\nshift 2\nexec \"$@\"\n",
        );
        let helper = root.join("helper-outside-the-device");
        write(
            &helper,
            &format!(
                "#!/bin/sh\nIFS= read -r line\nprintf '%s\\n' \"$line\" > '{r}/request'\necho 'a message on stderr' >&2\nprintf '%s\\n' '{answer}'\nexit {exit}\n",
                r = root.display()
            ),
        );
        let device = Device::sandbox(&root).unwrap();
        (dir, device, helper)
    }

    #[test]
    fn the_client_passes_each_argument_separately_and_reads_the_answer() {
        let (dir, device, helper) = fake_device(
            r#"{"op":"list","items":[{"class":"certificate","issuer":"MS-Organization-Access","subject":"CN=abc"}],"error":null}"#,
            0,
        );
        let home = KeychainLocation::User {
            name: "Zoë Ångström".into(),
            uid: 502,
            home: "/Volumes/Data/People/zoë".into(),
        };
        let kc = HelperKeychain::new(&device, &helper, &home).unwrap();
        let items = kc.list().unwrap();
        assert_eq!(items[0].subject.as_deref(), Some("CN=abc"));
        let args = std::fs::read_to_string(dir.path().join("launchctl.args")).unwrap();
        let root = dir.path().canonicalize().unwrap();
        let expected = [
            "asuser",
            "502",
            "/usr/bin/sudo",
            "-u",
            "Zoë Ångström",
            &helper.to_string_lossy(),
            "keychain-helper",
            "--user",
            "Zoë Ångström",
            "--uid",
            "502",
            "--home",
            "/Volumes/Data/People/zoë",
            "--root",
            &root.to_string_lossy(),
        ]
        .join("\n");
        assert_eq!(args.trim_end(), expected);
        let request = std::fs::read_to_string(dir.path().join("request")).unwrap();
        assert_eq!(request, "{\"op\":\"list\"}\n");
    }

    #[test]
    fn the_client_turns_unreachable_into_a_typed_error_naming_the_user() {
        let (_dir, device, helper) =
            fake_device(r#"{"op":"unreachable","error":"alice is logged out"}"#, 0);
        let kc = HelperKeychain::new(&device, &helper, &alice()).unwrap();
        let err = kc.list().unwrap_err();
        let unreachable = err.downcast_ref::<KeychainUnreachable>().expect("typed");
        assert_eq!(unreachable.0.location, alice());
        let text = err.to_string();
        assert!(
            text.contains("alice's login keychain cannot be reached"),
            "{text}"
        );
        assert!(text.contains("until alice logs in"), "{text}");
    }

    #[test]
    fn the_client_reports_a_helper_that_fails_without_leaking_its_output() {
        let (_dir, device, helper) = fake_device("", 3);
        let kc = HelperKeychain::new(&device, &helper, &alice()).unwrap();
        let text = format!("{:#}", kc.delete(&secret_item()).unwrap_err());
        assert!(text.contains("gave no answer"), "{text}");
        assert!(text.contains("with status 3"), "{text}");
        assert!(text.contains("a message on stderr"), "{text}");

        let (_dir, device, helper) = fake_device("not json: s3cr3t", 0);
        let kc = HelperKeychain::new(&device, &helper, &alice()).unwrap();
        let text = format!("{:#}", kc.list().unwrap_err());
        assert!(
            text.contains("unreadable") && !text.contains("s3cr3t"),
            "{text}"
        );

        let (_dir, device, helper) = fake_device(
            r#"{"op":"delete","error":"errSecInvalidOwnerEdit (-25244)"}"#,
            0,
        );
        let kc = HelperKeychain::new(&device, &helper, &alice()).unwrap();
        let text = format!("{:#}", kc.delete(&secret_item()).unwrap_err());
        assert!(
            text.contains("deleting generic-password") && text.contains("-25244"),
            "{text}"
        );
    }

    #[test]
    fn the_system_keychain_needs_no_helper() {
        let dir = tempfile::tempdir().unwrap();
        let device = Device::sandbox(dir.path()).unwrap();
        assert!(HelperKeychain::new(&device, "/x", &KeychainLocation::System).is_err());
    }
}
