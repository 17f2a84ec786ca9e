//! Purge rules: which keychain items a purge removes. Data from the playbook, not code.
//! (The full rule engine is being written; see issue 3.)

use super::{ItemClass, KeychainItem};

/// The Entra device ids: the subject common name of every certificate issued by
/// `MS-Organization-Access` (any letter case), deduplicated and sorted.
pub fn entra_device_ids(items: &[KeychainItem]) -> Vec<String> {
    let mut ids: Vec<String> = items
        .iter()
        .filter(|i| i.class == Some(ItemClass::Certificate))
        .filter(|i| {
            i.issuer
                .as_deref()
                .is_some_and(|s| s.to_ascii_lowercase().contains("ms-organization-access"))
        })
        .filter_map(|i| i.subject.as_deref())
        .map(|s| s.trim().strip_prefix("CN=").unwrap_or(s.trim()).to_string())
        .collect();
    ids.sort();
    ids.dedup();
    ids
}
