//! The real Mac: keychain access through `security-framework`. Compiled on macOS, and
//! type-checked on Linux by `scripts/check-macos` (cfg `reenroll_check_macos`).

use anyhow::{bail, Result};

use crate::keychain::{Keychain, KeychainLocation};

pub fn keychain(_location: &KeychainLocation) -> Result<Box<dyn Keychain>> {
    bail!("the macOS keychain backend is not written yet")
}
