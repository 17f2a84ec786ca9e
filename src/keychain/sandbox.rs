//! The sandbox keychain: a property list at `<home>/Library/Keychains/sandbox-keychain.plist`
//! (and `/Library/Keychains/sandbox-keychain.plist` for the System keychain).
//! (Being written: see the keychain work in issue 3.)

use anyhow::{bail, Result};

use super::{Keychain, KeychainItem, KeychainLocation};
use crate::device::Device;

pub struct SandboxKeychain;

impl SandboxKeychain {
    pub fn open(_device: &Device, _location: &KeychainLocation) -> Result<Self> {
        bail!("the sandbox keychain is not written yet")
    }
}

impl Keychain for SandboxKeychain {
    fn list(&self) -> Result<Vec<KeychainItem>> {
        bail!("not written yet")
    }
    fn export(&self, _item: &KeychainItem) -> Result<Option<Vec<u8>>> {
        bail!("not written yet")
    }
    fn delete(&self, _item: &KeychainItem) -> Result<()> {
        bail!("not written yet")
    }
    fn add(&self, _item: &KeychainItem) -> Result<()> {
        bail!("not written yet")
    }
}
