//! The keychain boundary: the item model, the purge rules that decide which items go (portable,
//! data-driven), and the `Keychain` trait with two backends: the sandbox keychain (a property
//! list, used under `--root` and on every host that is not a Mac) and the real login/System
//! keychains through `security-framework` (macOS only, `macos.rs`).
//!
//! Secret data never leaves this module in a printable form: `KeychainItem`'s `Debug` and
//! `Serialize` skip `data`, and exports go straight to 0600 files in the run's journal folder.

pub mod helper;
#[cfg(target_os = "macos")]
pub mod macos;
pub mod purge;
pub mod rules;
pub mod sandbox;

use std::fmt;

use anyhow::Result;

use crate::device::Device;
use serde::{Deserialize, Serialize};

/// The item classes reenroll reasons about. The names are the sandbox keychain's `class` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum ItemClass {
    GenericPassword,
    InternetPassword,
    Certificate,
    PublicKey,
    PrivateKey,
    IdentityPreference,
}

impl ItemClass {
    pub fn as_str(self) -> &'static str {
        match self {
            ItemClass::GenericPassword => "generic-password",
            ItemClass::InternetPassword => "internet-password",
            ItemClass::Certificate => "certificate",
            ItemClass::PublicKey => "public-key",
            ItemClass::PrivateKey => "private-key",
            ItemClass::IdentityPreference => "identity-preference",
        }
    }
}

impl fmt::Display for ItemClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One keychain item as listed (attributes only) or as exported (with `data`).
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeychainItem {
    pub class: Option<ItemClass>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// A key's application tag (`kSecAttrApplicationTag`, bytes on a Mac, read as UTF-8 with
    /// invalid sequences replaced): how an app finds its keys whatever their label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application_tag: Option<String>,
    /// An identity preference's preferred identity: the issuer (common name) of the
    /// certificate it points at. Read from that certificate, not from the preference itself,
    /// so it is not part of the item's identity (it is gone once the certificate is).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_issuer: Option<String>,
    /// Secret bytes (password, certificate DER, key). Never serialized with the item's
    /// description; exported separately into the journal's 0600 files.
    #[serde(skip)]
    pub data: Option<Vec<u8>>,
    /// False for private keys and anything else that cannot leave the keychain.
    #[serde(default = "default_true")]
    pub extractable: bool,
}

fn default_true() -> bool {
    true
}

impl fmt::Debug for KeychainItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeychainItem")
            .field("class", &self.class)
            .field("label", &self.label)
            .field("account", &self.account)
            .field("service", &self.service)
            .field("server", &self.server)
            .field("issuer", &self.issuer)
            .field("subject", &self.subject)
            .field("application_tag", &self.application_tag)
            .field("identity_issuer", &self.identity_issuer)
            .field("data", &self.data.as_ref().map(|_| "<redacted>"))
            .field("extractable", &self.extractable)
            .finish()
    }
}

impl KeychainItem {
    /// A short, secret-free description for plan lines and logs:
    /// `generic-password "com.microsoft.workplacejoin.thumbprint"`.
    pub fn describe(&self) -> String {
        let class = self.class.map(|c| c.as_str()).unwrap_or("item");
        let name = self
            .label
            .as_deref()
            .or(self.account.as_deref())
            .or(self.service.as_deref())
            .or(self.server.as_deref())
            .or(self.subject.as_deref())
            .unwrap_or("(unnamed)");
        let mut s = format!("{class} \"{name}\"");
        if let (Some(acct), Some(label)) = (&self.account, &self.label) {
            if acct != label {
                s.push_str(&format!(" account \"{acct}\""));
            }
        }
        if let Some(issuer) = &self.issuer {
            s.push_str(&format!(" issued by \"{issuer}\""));
        }
        if let Some(tag) = &self.application_tag {
            if self.label.as_deref() != Some(tag.as_str()) {
                s.push_str(&format!(" tag \"{tag}\""));
            }
        }
        if let Some(issuer) = &self.identity_issuer {
            s.push_str(&format!(" for a certificate issued by \"{issuer}\""));
        }
        s
    }

    /// The attributes that identify an item for a delete or a re-query: its own attributes,
    /// not its data and not `identity_issuer` (an attribute of another item, the certificate,
    /// which a purge may delete first).
    pub fn same_identity(&self, other: &KeychainItem) -> bool {
        self.class == other.class
            && self.label == other.label
            && self.account == other.account
            && self.service == other.service
            && self.server == other.server
            && self.issuer == other.issuer
            && self.subject == other.subject
            && self.application_tag == other.application_tag
    }
}

/// Which keychain a purge acts on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum KeychainLocation {
    /// A user's login keychain (`<home>/Library/Keychains/login.keychain-db`).
    User {
        name: String,
        uid: u32,
        home: String,
    },
    /// `/Library/Keychains/System.keychain`.
    System,
}

impl KeychainLocation {
    pub fn describe(&self) -> String {
        match self {
            KeychainLocation::User { name, .. } => format!("{name}'s login keychain"),
            KeychainLocation::System => "System keychain".to_string(),
        }
    }

    /// What a plan and a step's summary say about a user whose login keychain file does not
    /// exist: `alice's login keychain: nothing to purge: alice never logged in (no login
    /// keychain)`.
    pub fn never_logged_in(&self) -> String {
        match self {
            KeychainLocation::User { name, .. } => format!(
                "{}: nothing to purge: {name} never logged in (no login keychain)",
                self.describe()
            ),
            KeychainLocation::System => format!("{}: nothing to purge", self.describe()),
        }
    }
}

/// The login keychain's file in a home folder on every supported macOS (10.12 and later).
pub const LOGIN_KEYCHAIN: &str = "Library/Keychains/login.keychain-db";
/// The name before macOS 10.12; a home that still holds only this one is not "never logged in".
pub const LOGIN_KEYCHAIN_LEGACY: &str = "Library/Keychains/login.keychain";

/// `errSecInteractionNotAllowed`: what the keychain API answers a non-interactive process for a
/// locked keychain (or an item whose reading would need the user's approval).
pub const ERR_INTERACTION_NOT_ALLOWED: i32 = -25308;

/// One line for `plan` and `status` wherever a keychain-purge step is in the playbook: what the
/// purge cannot see (docs/keychain.md says what to do about it).
pub const DATA_PROTECTION_NOTE: &str = "the keychain purge sees only file-based keychains \
     (login and System); items in the data-protection keychain, Secure Enclave keys included, \
     are neither listed nor deleted (see docs/keychain.md)";

/// Whether the file behind a keychain location is there, looked at through the device's
/// no-follow file functions (never through a link).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeychainFile {
    /// Something stands where the keychain file belongs (it is opened as usual).
    Present,
    /// Nothing there, not even its folder: the user never logged in, the keychain is empty.
    Missing,
    /// Cannot tell without following a link (a symlinked home or Library): opened as usual,
    /// so a failure still counts as unreachable, never as "never logged in".
    Unknown(String),
}

/// A keychain that is locked: listing it from a process without a user session fails with
/// errSecInteractionNotAllowed (-25308). Its user's part of a step waits for them to log in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeychainLocked {
    pub location: KeychainLocation,
    /// What the backend said (an OSStatus text), without secrets.
    pub detail: String,
}

impl fmt::Display for KeychainLocked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} is locked ({}): it is unlocked only while its user is logged in",
            self.location.describe(),
            self.detail
        )
    }
}

impl std::error::Error for KeychainLocked {}

/// Why a keychain could not be reached (so its part of a step pauses instead of claiming success).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unreachable {
    pub location: KeychainLocation,
    pub reason: String,
}

/// A keychain backend. Implementations: `sandbox::SandboxKeychain` and, on macOS,
/// `macos::MacKeychain`.
pub trait Keychain {
    /// Every item's attributes (no secret data; listing never prompts).
    fn list(&self) -> Result<Vec<KeychainItem>>;
    /// The item's secret data when it can be exported without a prompt; `None` when it cannot
    /// (not extractable, or exporting would prompt).
    fn export(&self, item: &KeychainItem) -> Result<Option<Vec<u8>>>;
    /// The data of every copy with this item's identity, in keychain order (`None` for a copy
    /// that cannot be exported without a prompt). Copies of one identity are told apart by it:
    /// rollback and the reconciliation of an interrupted delete match an export file to the one
    /// copy it came from, never to "an item like it".
    fn export_copies(&self, item: &KeychainItem) -> Result<Vec<Option<Vec<u8>>>>;
    /// Delete exactly one item with these attributes. Callers re-query afterwards.
    fn delete(&self, item: &KeychainItem) -> Result<()>;
    /// Put an item back (rollback). `item.data` holds what `export` returned.
    fn add(&self, item: &KeychainItem) -> Result<()>;
}

/// The keychain backend for a location: the sandbox keychain under `--root` or off macOS,
/// the real keychain on a Mac (`macos.rs`).
pub fn backend(device: &Device, location: &KeychainLocation) -> Result<Box<dyn Keychain>> {
    #[cfg(target_os = "macos")]
    if !device.is_sandbox() {
        return macos::keychain(location);
    }
    Ok(Box::new(sandbox::SandboxKeychain::open(device, location)?))
}

/// Whether a user's login keychain file exists, looked at with the device's no-follow walk
/// (a link anywhere on the way is never followed: the answer is then `Unknown`). On a Mac
/// that is `login.keychain-db` (or the pre-10.12 `login.keychain`), on a sandbox device the
/// sandbox keychain file. The System keychain always counts as present. Anything that
/// prevents looking (a link, a folder reenroll may not read) is `Unknown`, never `Missing`.
pub fn file_of(device: &Device, location: &KeychainLocation) -> KeychainFile {
    use crate::device::fs;
    let KeychainLocation::User { home, .. } = location else {
        return KeychainFile::Present;
    };
    let home = home.trim_end_matches('/');
    let names: &[&str] = if device.is_sandbox() {
        &[sandbox::USER_KEYCHAIN]
    } else {
        &[LOGIN_KEYCHAIN, LOGIN_KEYCHAIN_LEGACY]
    };
    let mut unknown = None;
    for name in names {
        let mac = format!("{home}/{name}");
        match fs::probe_shallow(device, &mac) {
            Ok(fs::Probe::Absent) => {}
            Ok(fs::Probe::Present(_)) => return KeychainFile::Present,
            Ok(fs::Probe::Refused(why)) => unknown = Some(why),
            // Not allowed to look (reenroll is not root): let the keychain backend decide.
            Err(e) => unknown = Some(format!("{e:#}")),
        }
    }
    match unknown {
        Some(why) => KeychainFile::Unknown(why),
        None => KeychainFile::Missing,
    }
}

/// The keychain backend for a location whose keychain file exists, or `None` when the device
/// shows no keychain file at all (a user who never logged in: an empty keychain, nothing to
/// purge). Decided here, before any backend or helper is involved, the same way for a Mac and a
/// sandbox device; a locked or unreachable keychain is still an error from `open`.
pub fn open_existing(
    device: &crate::device::Device,
    location: &KeychainLocation,
) -> Result<Option<Box<dyn Keychain>>> {
    if file_of(device, location) == KeychainFile::Missing {
        return Ok(None);
    }
    open(device, location).map(Some)
}

/// The keychain backend for reading or purging a location. A user's login keychain is unlocked
/// only in that user's session, so when reenroll is not that user (root on a Mac; or a sandbox
/// device with its fake `launchctl`, exercising the same path) it goes through the keychain
/// helper in the user's session; otherwise, and for the System keychain, directly.
pub fn open(
    device: &crate::device::Device,
    location: &KeychainLocation,
) -> Result<Box<dyn Keychain>> {
    match location {
        KeychainLocation::User { uid, .. } if needs_helper(device, *uid) => {
            let exe = std::env::current_exe().map_err(|e| {
                anyhow::anyhow!("finding reenroll's own binary for the keychain helper: {e}")
            })?;
            Ok(Box::new(helper::HelperKeychain::new(
                device, exe, location,
            )?))
        }
        _ => backend(device, location),
    }
}

fn needs_helper(device: &crate::device::Device, uid: u32) -> bool {
    if device.is_sandbox() {
        // NOTE: a minimal sandbox without the fake launchctl and sudo the helper is started
        // through (unit-test trees) is opened directly.
        return device.has_program("/bin/launchctl") && device.has_program(helper::SUDO);
    }
    nix::unistd::geteuid().as_raw() != uid
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_login_keychain_file_is_looked_for_without_following_links() {
        let dir = tempfile::tempdir().unwrap();
        let d = Device::sandbox(dir.path()).unwrap();
        let user = |home: &str| KeychainLocation::User {
            name: "alice".into(),
            uid: 501,
            home: home.into(),
        };
        assert_eq!(
            file_of(&d, &KeychainLocation::System),
            KeychainFile::Present
        );
        // No home at all, or a home without the file: never logged in.
        assert_eq!(file_of(&d, &user("/Users/alice")), KeychainFile::Missing);
        let kc = dir.path().join("Users/alice/Library/Keychains");
        std::fs::create_dir_all(&kc).unwrap();
        assert_eq!(file_of(&d, &user("/Users/alice/")), KeychainFile::Missing);
        std::fs::write(kc.join("sandbox-keychain.plist"), "").unwrap();
        assert_eq!(file_of(&d, &user("/Users/alice")), KeychainFile::Present);
        // A home reached through a link: cannot tell, so never "never logged in".
        std::os::unix::fs::symlink(
            dir.path().join("Users/alice"),
            dir.path().join("Users/link"),
        )
        .unwrap();
        assert!(matches!(
            file_of(&d, &user("/Users/link")),
            KeychainFile::Unknown(_)
        ));
    }
}
