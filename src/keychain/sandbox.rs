//! The sandbox keychain: a property list standing for a keychain on a sandbox device (and on any
//! host that is not a Mac). `<home>/Library/Keychains/sandbox-keychain.plist` stands for a user's
//! login keychain, `/Library/Keychains/sandbox-keychain.plist` for the System keychain. The file is
//! an array of dictionaries with the keys `class`, `label`, `account`, `service`, `server`,
//! `issuer`, `subject`, `application_tag`, `identity_issuer` (strings), `data` (data) and
//! `extractable` (bool, default true). A Mac stores a key's application tag as bytes and an
//! identity preference's preferred identity as a reference to a certificate (whose issuer the
//! Mac backend reads); the sandbox stores both as the strings reenroll reads from them.
//!
//! What it reproduces of a Mac's keychains:
//! - A user whose keychain file does not exist never logged in: opening it fails as opening a
//!   missing `login.keychain-db` does (`keychain::open_existing` decides "nothing to purge"
//!   before it gets here). A System keychain file that does not exist is an empty keychain.
//! - A user whose home holds `Library/Keychains/.sandbox-locked` has a locked login keychain
//!   (logged out): it opens, but listing, exporting, deleting and adding fail with
//!   errSecInteractionNotAllowed (-25308), as they do for a process outside the user's session.
//! - A delete removes one item per call, like `SecItemDelete` on a search matching several.
//! - Items may lack any attribute (a SCEP certificate with no subject, label or issuer), and two
//!   classes may share a label.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};

use super::{
    ItemClass, Keychain, KeychainItem, KeychainLocation, KeychainLocked,
    ERR_INTERACTION_NOT_ALLOWED,
};
use crate::device::Device;

pub const USER_KEYCHAIN: &str = "Library/Keychains/sandbox-keychain.plist";
pub const SYSTEM_KEYCHAIN: &str = "/Library/Keychains/sandbox-keychain.plist";
pub const LOCKED_MARKER: &str = "Library/Keychains/.sandbox-locked";

pub struct SandboxKeychain {
    device: Device,
    path: PathBuf,
    mac_path: String,
    location: KeychainLocation,
    locked: bool,
}

impl SandboxKeychain {
    /// Open a keychain as reenroll does: a user's keychain file must exist (a Mac's
    /// `login.keychain-db` does once its user has logged in).
    pub fn open(device: &Device, location: &KeychainLocation) -> Result<Self> {
        let kc = Self::at(device, location)?;
        if matches!(location, KeychainLocation::User { .. }) && kc.path.symlink_metadata().is_err()
        {
            bail!(
                "{} does not exist at {} (its user never logged in)",
                location.describe(),
                kc.mac_path
            );
        }
        Ok(kc)
    }

    /// Open a keychain to plant items in (sandbox creation, symptoms, tests): a user's keychain
    /// file is created by the first `add`. A locked keychain is refused.
    pub fn create(device: &Device, location: &KeychainLocation) -> Result<Self> {
        let kc = Self::at(device, location)?;
        if kc.locked {
            return Err(kc.locked_error()).context("planting items");
        }
        Ok(kc)
    }

    fn at(device: &Device, location: &KeychainLocation) -> Result<Self> {
        let (mac_path, locked) = match location {
            KeychainLocation::System => (SYSTEM_KEYCHAIN.to_string(), false),
            KeychainLocation::User { home, .. } => {
                let home = home.trim_end_matches('/');
                let marker = format!("{home}/{LOCKED_MARKER}");
                let locked = device.host_path(&marker)?.symlink_metadata().is_ok();
                (format!("{home}/{USER_KEYCHAIN}"), locked)
            }
        };
        Ok(SandboxKeychain {
            device: device.clone(),
            path: device.host_path(&mac_path)?,
            mac_path,
            location: location.clone(),
            locked,
        })
    }

    pub fn is_locked(&self) -> bool {
        self.locked
    }

    fn locked_error(&self) -> anyhow::Error {
        KeychainLocked {
            location: self.location.clone(),
            detail: format!(
                "errSecInteractionNotAllowed ({ERR_INTERACTION_NOT_ALLOWED}): user interaction is \
                 not allowed"
            ),
        }
        .into()
    }

    fn unlocked(&self) -> Result<()> {
        if self.locked {
            return Err(self.locked_error());
        }
        Ok(())
    }

    fn load(&self) -> Result<Vec<(KeychainItem, plist::Dictionary)>> {
        // NOTE: through the no-follow walk, and never blocking: this stand-in runs as root on a
        // developer's machine, so a link or a FIFO planted at the keychain is refused.
        let Some(bytes) = crate::device::fs::read_regular(&self.device, &self.mac_path)? else {
            return Ok(Vec::new());
        };
        let value = plist::Value::from_reader(std::io::Cursor::new(bytes))
            .with_context(|| format!("reading the sandbox keychain {}", self.mac_path))?;
        let Some(array) = value.as_array() else {
            bail!(
                "the sandbox keychain {} is not an array of items",
                self.mac_path
            );
        };
        array
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let dict = v.as_dictionary().with_context(|| {
                    format!(
                        "item {i} of the sandbox keychain {} is not a dictionary",
                        self.mac_path
                    )
                })?;
                Ok((
                    item_from_dict(dict).with_context(|| {
                        format!("item {i} of the sandbox keychain {}", self.mac_path)
                    })?,
                    dict.clone(),
                ))
            })
            .collect()
    }

    fn save(&self, dicts: Vec<plist::Dictionary>) -> Result<()> {
        use crate::device::fs;
        let value = plist::Value::Array(dicts.into_iter().map(plist::Value::Dictionary).collect());
        let mut bytes = Vec::new();
        value
            .to_writer_xml(&mut bytes)
            .with_context(|| format!("encoding the sandbox keychain {}", self.mac_path))?;
        // A user's first item creates `Library/Keychains` (planting); a folder that is missing
        // has no link in it, so creating what is missing cannot leave the tree.
        if let fs::Parent::Missing = fs::open_parent(&self.device, &self.mac_path)? {
            if let Some(parent) = self.path.parent() {
                std::fs::create_dir_all(parent)
                    .with_context(|| format!("creating {}", parent.display()))?;
            }
        }
        // Written whole through the no-follow walk (a temporary sibling created exclusively,
        // renamed over), keeping the owner: a user's keychain stays the user's.
        fs::replace_file(&self.device, &self.mac_path, &bytes, 0o600)
            .with_context(|| format!("writing the sandbox keychain {}", self.mac_path))
    }
}

fn item_from_dict(dict: &plist::Dictionary) -> Result<KeychainItem> {
    let s = |k: &str| dict.get(k).and_then(|v| v.as_string()).map(str::to_string);
    let class = match s("class").as_deref() {
        Some(c) => Some(
            serde_json::from_value::<ItemClass>(serde_json::Value::String(c.to_string()))
                .with_context(|| format!("unknown keychain item class `{c}`"))?,
        ),
        None => None,
    };
    Ok(KeychainItem {
        class,
        label: s("label"),
        account: s("account"),
        service: s("service"),
        server: s("server"),
        issuer: s("issuer"),
        subject: s("subject"),
        application_tag: s("application_tag"),
        identity_issuer: s("identity_issuer"),
        data: dict
            .get("data")
            .and_then(|v| v.as_data())
            .map(<[u8]>::to_vec),
        extractable: dict
            .get("extractable")
            .and_then(|v| v.as_boolean())
            .unwrap_or(true),
    })
}

fn dict_from_item(item: &KeychainItem) -> plist::Dictionary {
    let mut d = plist::Dictionary::new();
    if let Some(c) = item.class {
        d.insert("class".into(), c.as_str().into());
    }
    for (k, v) in [
        ("label", &item.label),
        ("account", &item.account),
        ("service", &item.service),
        ("server", &item.server),
        ("issuer", &item.issuer),
        ("subject", &item.subject),
        ("application_tag", &item.application_tag),
        ("identity_issuer", &item.identity_issuer),
    ] {
        if let Some(v) = v {
            d.insert(k.into(), v.clone().into());
        }
    }
    if let Some(data) = &item.data {
        d.insert("data".into(), plist::Value::Data(data.clone()));
    }
    if !item.extractable {
        d.insert("extractable".into(), false.into());
    }
    d
}

impl Keychain for SandboxKeychain {
    fn list(&self) -> Result<Vec<KeychainItem>> {
        self.unlocked()?;
        Ok(self
            .load()?
            .into_iter()
            .map(|(mut item, _)| {
                item.data = None;
                item
            })
            .collect())
    }

    fn export(&self, item: &KeychainItem) -> Result<Option<Vec<u8>>> {
        self.unlocked()?;
        let found = self
            .load()?
            .into_iter()
            .find(|(i, _)| i.same_identity(item))
            .map(|(i, _)| i);
        Ok(match found {
            Some(i) if i.extractable => Some(i.data.unwrap_or_default()),
            _ => None,
        })
    }

    fn export_copies(&self, item: &KeychainItem) -> Result<Vec<Option<Vec<u8>>>> {
        self.unlocked()?;
        Ok(self
            .load()?
            .into_iter()
            .filter(|(i, _)| i.same_identity(item))
            .map(|(i, _)| i.extractable.then(|| i.data.unwrap_or_default()))
            .collect())
    }

    fn delete(&self, item: &KeychainItem) -> Result<()> {
        self.unlocked()?;
        let mut items = self.load()?;
        // Like SecItemDelete on a search that matches several: exactly one goes per call, so the
        // caller must re-query (the trap public scripts fall into).
        let Some(pos) = items.iter().position(|(i, _)| i.same_identity(item)) else {
            bail!(
                "{} is not in the sandbox keychain {}",
                item.describe(),
                self.mac_path
            );
        };
        items.remove(pos);
        self.save(items.into_iter().map(|(_, d)| d).collect())
    }

    fn add(&self, item: &KeychainItem) -> Result<()> {
        self.unlocked()?;
        let mut dicts: Vec<_> = self.load()?.into_iter().map(|(_, d)| d).collect();
        dicts.push(dict_from_item(item));
        self.save(dicts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_deletes_one_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let device = Device::sandbox(dir.path()).unwrap();
        let loc = KeychainLocation::User {
            name: "alice".into(),
            uid: 501,
            home: "/Users/alice".into(),
        };
        let kc = SandboxKeychain::create(&device, &loc).unwrap();
        assert!(kc.list().unwrap().is_empty());
        let item = KeychainItem {
            class: Some(ItemClass::GenericPassword),
            account: Some("com.microsoft.workplacejoin.devicePatchAttemptTimestamp".into()),
            data: Some(b"secret".to_vec()),
            extractable: true,
            ..Default::default()
        };
        kc.add(&item).unwrap();
        kc.add(&item).unwrap();
        let listed = kc.list().unwrap();
        assert_eq!(listed.len(), 2);
        assert!(listed[0].data.is_none(), "list never returns secrets");
        assert_eq!(
            kc.export(&listed[0]).unwrap().as_deref(),
            Some(&b"secret"[..])
        );
        kc.delete(&listed[0]).unwrap();
        assert_eq!(kc.list().unwrap().len(), 1);
        kc.delete(&listed[0]).unwrap();
        assert!(kc.list().unwrap().is_empty());
        assert!(kc.delete(&listed[0]).is_err());
    }

    fn password(label: &str) -> KeychainItem {
        KeychainItem {
            class: Some(ItemClass::GenericPassword),
            label: Some(label.into()),
            data: Some(b"s".to_vec()),
            extractable: true,
            ..Default::default()
        }
    }

    #[test]
    fn it_never_writes_through_a_link_out_of_the_device() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("mac");
        let outside = dir.path().join("outside");
        std::fs::create_dir_all(root.join("Users/alice")).unwrap();
        std::fs::create_dir_all(outside.join("Keychains")).unwrap();
        let victim = outside.join("Keychains/sandbox-keychain.plist");
        std::fs::write(&victim, "precious").unwrap();
        let device = Device::sandbox(&root).unwrap();
        // ~/Library is a link out of the device: refused, and nothing outside changes.
        std::os::unix::fs::symlink(&outside, root.join("Users/alice/Library")).unwrap();
        let kc = SandboxKeychain::create(&device, &alice()).unwrap();
        let err = kc.add(&password("x")).unwrap_err();
        assert!(format!("{err:#}").contains("symlink"), "{err:#}");
        assert!(
            kc.list().is_err(),
            "reading through the link must be refused too"
        );
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");

        // A link planted where the temporary file goes is replaced, never written through.
        std::fs::remove_file(root.join("Users/alice/Library")).unwrap();
        std::fs::create_dir_all(root.join("Users/alice/Library/Keychains")).unwrap();
        for planted in [".sandbox-keychain.plist.new", "sandbox-keychain.plist.tmp"] {
            std::os::unix::fs::symlink(
                &victim,
                root.join("Users/alice/Library/Keychains").join(planted),
            )
            .unwrap();
        }
        kc.add(&password("y")).unwrap();
        assert_eq!(kc.list().unwrap().len(), 1);
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    }

    #[test]
    fn a_fifo_as_the_keychain_file_is_refused_without_hanging() {
        let dir = tempfile::tempdir().unwrap();
        let device = Device::sandbox(dir.path()).unwrap();
        let keychains = dir.path().join("Users/alice/Library/Keychains");
        std::fs::create_dir_all(&keychains).unwrap();
        nix::unistd::mkfifo(
            &keychains.join("sandbox-keychain.plist"),
            nix::sys::stat::Mode::from_bits_truncate(0o600),
        )
        .unwrap();
        let kc = SandboxKeychain::open(&device, &alice()).unwrap();
        let err = kc.list().unwrap_err();
        assert!(format!("{err:#}").contains("not a regular file"), "{err:#}");
    }

    fn alice() -> KeychainLocation {
        KeychainLocation::User {
            name: "alice".into(),
            uid: 501,
            home: "/Users/alice".into(),
        }
    }

    #[test]
    fn a_missing_user_keychain_does_not_open_and_a_locked_one_does_not_list() {
        let dir = tempfile::tempdir().unwrap();
        let device = Device::sandbox(dir.path()).unwrap();
        let err = SandboxKeychain::open(&device, &alice()).err().unwrap();
        assert!(format!("{err:#}").contains("does not exist"), "{err:#}");
        // The System keychain file may be missing: an empty keychain.
        assert!(SandboxKeychain::open(&device, &KeychainLocation::System)
            .unwrap()
            .list()
            .unwrap()
            .is_empty());

        let kc = SandboxKeychain::create(&device, &alice()).unwrap();
        kc.add(&KeychainItem {
            class: Some(ItemClass::GenericPassword),
            label: Some("x".into()),
            data: Some(b"s".to_vec()),
            ..Default::default()
        })
        .unwrap();
        let marker = dir.path().join("Users/alice").join(LOCKED_MARKER);
        std::fs::write(&marker, "").unwrap();
        let kc = SandboxKeychain::open(&device, &alice()).unwrap();
        assert!(kc.is_locked());
        let err = kc.list().unwrap_err();
        let locked = err.downcast_ref::<KeychainLocked>().expect("typed");
        assert_eq!(locked.location, alice());
        assert!(err.to_string().contains("-25308"), "{err}");
        assert!(kc.export(&KeychainItem::default()).is_err());
        assert!(kc.delete(&KeychainItem::default()).is_err());
        assert!(kc.add(&KeychainItem::default()).is_err());
        assert!(SandboxKeychain::create(&device, &alice()).is_err());
    }

    #[test]
    fn an_item_with_no_attributes_but_its_class_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let device = Device::sandbox(dir.path()).unwrap();
        let kc = SandboxKeychain::create(&device, &alice()).unwrap();
        let cert = KeychainItem {
            class: Some(ItemClass::Certificate),
            data: Some(vec![0x30, 0x00]),
            extractable: true,
            ..Default::default()
        };
        kc.add(&cert).unwrap();
        let listed = kc.list().unwrap();
        assert_eq!(listed.len(), 1);
        assert!(listed[0].same_identity(&cert));
        assert_eq!(listed[0].subject, None);
        assert_eq!(listed[0].describe(), "certificate \"(unnamed)\"");
        assert_eq!(kc.export(&listed[0]).unwrap(), Some(vec![0x30, 0x00]));
        kc.delete(&listed[0]).unwrap();
        assert!(kc.list().unwrap().is_empty());
    }

    #[test]
    fn private_keys_do_not_export() {
        let dir = tempfile::tempdir().unwrap();
        let device = Device::sandbox(dir.path()).unwrap();
        let kc = SandboxKeychain::open(&device, &KeychainLocation::System).unwrap();
        let key = KeychainItem {
            class: Some(ItemClass::PrivateKey),
            label: Some("Microsoft Workplace Join Key".into()),
            data: Some(vec![1, 2, 3]),
            extractable: false,
            ..Default::default()
        };
        kc.add(&key).unwrap();
        assert_eq!(kc.export(&key).unwrap(), None);
    }
}
