//! The sandbox keychain: a property list standing for a keychain on a sandbox device (and on any
//! host that is not a Mac). `<home>/Library/Keychains/sandbox-keychain.plist` stands for a user's
//! login keychain, `/Library/Keychains/sandbox-keychain.plist` for the System keychain. The file is
//! an array of dictionaries with the keys `class`, `label`, `account`, `service`, `server`,
//! `issuer`, `subject` (strings), `data` (data) and `extractable` (bool, default true).
//!
//! A keychain file that does not exist is an empty keychain; a user whose home holds
//! `Library/Keychains/.sandbox-locked` stands for a user whose login keychain is locked (logged
//! out), so tests can exercise the "cannot be reached" path.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};

use super::{ItemClass, Keychain, KeychainItem, KeychainLocation};
use crate::device::Device;

pub const USER_KEYCHAIN: &str = "Library/Keychains/sandbox-keychain.plist";
pub const SYSTEM_KEYCHAIN: &str = "/Library/Keychains/sandbox-keychain.plist";
pub const LOCKED_MARKER: &str = "Library/Keychains/.sandbox-locked";

pub struct SandboxKeychain {
    path: PathBuf,
    mac_path: String,
}

impl SandboxKeychain {
    pub fn open(device: &Device, location: &KeychainLocation) -> Result<Self> {
        let mac_path = match location {
            KeychainLocation::System => SYSTEM_KEYCHAIN.to_string(),
            KeychainLocation::User { home, name, .. } => {
                let locked = format!("{}/{LOCKED_MARKER}", home.trim_end_matches('/'));
                if device.host_path(&locked)?.exists() {
                    bail!("{name}'s login keychain is locked (the user is not logged in)");
                }
                format!("{}/{USER_KEYCHAIN}", home.trim_end_matches('/'))
            }
        };
        Ok(SandboxKeychain {
            path: device.host_path(&mac_path)?,
            mac_path,
        })
    }

    fn load(&self) -> Result<Vec<(KeychainItem, plist::Dictionary)>> {
        if !self.path.exists() {
            return Ok(Vec::new());
        }
        let value = plist::Value::from_file(&self.path)
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
        let value = plist::Value::Array(dicts.into_iter().map(plist::Value::Dictionary).collect());
        let tmp = self.path.with_extension("plist.tmp");
        if let Some(parent) = self.path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        value
            .to_file_xml(&tmp)
            .with_context(|| format!("writing the sandbox keychain {}", self.mac_path))?;
        std::fs::rename(&tmp, &self.path)
            .with_context(|| format!("replacing the sandbox keychain {}", self.mac_path))?;
        Ok(())
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

    fn delete(&self, item: &KeychainItem) -> Result<()> {
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
        let kc = SandboxKeychain::open(&device, &loc).unwrap();
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
