//! The real Mac: keychain access through `security-framework`. Compiled on macOS, and
//! type-checked and linted for both Apple targets on Linux by `scripts/check-apple`.
//!
//! Thin on purpose: which items go is decided by `keychain::rules`, the loop that verifies
//! deletes is `keychain::purge`; this file only lists, exports, deletes and adds, each through
//! one `SecItem*` call limited to one keychain file. What these calls do on a real Mac is listed
//! in docs/verified-on-macos.md: none of it can be checked on Linux.
//!
//! - Listing asks for attributes and references, never data, so it cannot prompt.
//! - User interaction is switched off for the process (`SecKeychainSetUserInteractionAllowed`),
//!   so reading data that would need a prompt fails with errSecInteractionNotAllowed instead of
//!   hanging an unattended run; such an item is "not exportable" and deleted irreversibly.
//! - A delete names exactly one item: the reference a search returned, through
//!   `kSecMatchItemList` (a key such as the Session Transport Key is deleted as the key it is).
//! - Identity preferences are, in a file keychain, generic-password items of type `iprf` whose
//!   label and service are the URL; they are listed and deleted as such, the equivalent of
//!   `security set-identity-preference -n -s URL`, and are not put back by rollback. Their
//!   generic attribute (`kSecAttrGeneric`) holds a persistent reference to the preferred
//!   certificate (Security's `SecIdentity.cpp` reads it the same way); the listing resolves it
//!   to that certificate's issuer (`identity_issuer`), and anything missing is "none".
//! - A key's application tag (`kSecAttrApplicationTag`, bytes) is read as text, lossily.
//! - Keys are never exported (private keys cannot be; a public key alone is of no use), so
//!   their deletion cannot be undone.

use std::ffi::c_void;
use std::path::{Path, PathBuf};
use std::ptr;

use anyhow::{bail, Context, Result};
use core_foundation::array::CFArray;
use core_foundation::base::{CFType, TCFType};
use core_foundation::boolean::CFBoolean;
use core_foundation::data::CFData;
use core_foundation::dictionary::CFDictionary;
use core_foundation::number::CFNumber;
use core_foundation::string::CFString;
use core_foundation_sys::base::{CFTypeRef, OSStatus};
use core_foundation_sys::data::CFDataRef;
use core_foundation_sys::string::CFStringRef;
use security_framework::certificate::SecCertificate;
use security_framework::os::macos::keychain::{KeychainUserInteractionLock, SecKeychain};
use security_framework_sys::base::{
    errSecItemNotFound, SecCertificateRef, SecKeychainItemRef, SecKeychainRef,
};
use security_framework_sys::certificate::{
    SecCertificateCopyData, SecCertificateCopyNormalizedIssuerSequence,
    SecCertificateCopySubjectSummary,
};
use security_framework_sys::item::{
    kSecAttrAccount, kSecAttrKeyClass, kSecAttrKeyClassPrivate, kSecAttrKeyClassPublic,
    kSecAttrLabel, kSecAttrServer, kSecAttrService, kSecClass, kSecClassCertificate,
    kSecClassGenericPassword, kSecClassInternetPassword, kSecClassKey, kSecMatchLimit,
    kSecMatchLimitAll, kSecMatchSearchList, kSecReturnAttributes, kSecReturnData, kSecReturnRef,
    kSecUseKeychain, kSecValueData, kSecValueRef,
};
use security_framework_sys::keychain_item::{SecItemAdd, SecItemCopyMatching, SecItemDelete};

use crate::keychain::{
    ItemClass, Keychain, KeychainItem, KeychainLocation, KeychainLocked,
    ERR_INTERACTION_NOT_ALLOWED, LOGIN_KEYCHAIN,
};

// Not declared by security-framework-sys; Security.framework itself is linked by that crate.
extern "C" {
    static kSecMatchItemList: CFStringRef;
    static kSecAttrType: CFStringRef;
    static kSecAttrApplicationTag: CFStringRef;
    static kSecAttrGeneric: CFStringRef;
    fn SecKeychainGetStatus(keychain: SecKeychainRef, status: *mut u32) -> OSStatus;
    fn SecKeychainItemCopyFromPersistentReference(
        persistent_item_ref: CFDataRef,
        item_ref: *mut SecKeychainItemRef,
    ) -> OSStatus;
}

pub const SYSTEM_KEYCHAIN: &str = "/Library/Keychains/System.keychain";

const ERR_AUTH_FAILED: OSStatus = -25293;
/// `kSecUnlockStateStatus` in `SecKeychainGetStatus`'s bit mask.
const UNLOCKED: u32 = 1;
/// The item type (`kSecAttrType`, a FourCharCode) of an identity preference: 'iprf'.
const IDENTITY_PREFERENCE_TYPE: i64 = 0x6970_7266;

pub fn keychain(location: &KeychainLocation) -> Result<Box<dyn Keychain>> {
    Ok(Box::new(MacKeychain::open(location)?))
}

pub fn keychain_path(location: &KeychainLocation) -> PathBuf {
    match location {
        KeychainLocation::System => PathBuf::from(SYSTEM_KEYCHAIN),
        KeychainLocation::User { home, .. } => Path::new(home).join(LOGIN_KEYCHAIN),
    }
}

/// One keychain file, searched and changed on its own (never the whole search list).
pub struct MacKeychain {
    keychain: SecKeychain,
    path: PathBuf,
    /// `None` for a keychain a test created.
    location: Option<KeychainLocation>,
    _no_prompts: KeychainUserInteractionLock,
}

/// The searches that together list a keychain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Generic,
    Internet,
    Certificate,
    PublicKey,
    PrivateKey,
}

const KINDS: [Kind; 5] = [
    Kind::Generic,
    Kind::Internet,
    Kind::Certificate,
    Kind::PublicKey,
    Kind::PrivateKey,
];

impl Kind {
    fn of(class: Option<ItemClass>) -> Result<Kind> {
        Ok(match class {
            Some(ItemClass::GenericPassword | ItemClass::IdentityPreference) => Kind::Generic,
            Some(ItemClass::InternetPassword) => Kind::Internet,
            Some(ItemClass::Certificate) => Kind::Certificate,
            Some(ItemClass::PublicKey) => Kind::PublicKey,
            Some(ItemClass::PrivateKey) => Kind::PrivateKey,
            None => bail!("a keychain item without a class cannot be looked up on a Mac"),
        })
    }

    fn class_constant(self) -> CFStringRef {
        // SAFETY: extern statics of Security.framework, initialised before main.
        unsafe {
            match self {
                Kind::Generic => kSecClassGenericPassword,
                Kind::Internet => kSecClassInternetPassword,
                Kind::Certificate => kSecClassCertificate,
                Kind::PublicKey | Kind::PrivateKey => kSecClassKey,
            }
        }
    }
}

/// A `CFString` for one of Security.framework's constant keys.
fn key(constant: CFStringRef) -> CFString {
    // SAFETY: the constants are valid CFStrings for the life of the process.
    unsafe { CFString::wrap_under_get_rule(constant) }
}

fn status_error(status: OSStatus) -> anyhow::Error {
    let err = security_framework::base::Error::from_code(status);
    anyhow::anyhow!("{err} (OSStatus {status})")
}

fn check(status: OSStatus) -> Result<()> {
    if status == 0 {
        Ok(())
    } else {
        Err(status_error(status))
    }
}

impl MacKeychain {
    pub fn open(location: &KeychainLocation) -> Result<Self> {
        let path = keychain_path(location);
        // NOTE: whether a user never logged in is decided before this, by
        // `keychain::open_existing` through the no-follow walk; this is the backend's own guard
        // (SecKeychainOpen accepts a path that does not exist), and it follows no link either.
        if path.symlink_metadata().is_err() {
            bail!(
                "{} does not exist at {}; nothing of this user's can be purged",
                location.describe(),
                path.display()
            );
        }
        let keychain = SecKeychain::open(&path)
            .map_err(|e| anyhow::anyhow!("{e}"))
            .with_context(|| format!("opening {} ({})", location.describe(), path.display()))?;
        let mut mac = Self::from_keychain(keychain, path)?;
        mac.location = Some(location.clone());
        if !mac.is_unlocked()? {
            return Err(KeychainLocked {
                location: location.clone(),
                detail: format!("SecKeychainGetStatus: {}", mac.path.display()),
            }
            .into());
        }
        Ok(mac)
    }

    /// A keychain already opened (tests create one of their own).
    pub fn from_keychain(keychain: SecKeychain, path: PathBuf) -> Result<Self> {
        let no_prompts = SecKeychain::disable_user_interaction()
            .map_err(|e| anyhow::anyhow!("{e}"))
            .context("switching off keychain prompts for this process")?;
        Ok(MacKeychain {
            keychain,
            path,
            location: None,
            _no_prompts: no_prompts,
        })
    }

    fn is_unlocked(&self) -> Result<bool> {
        let mut status = 0u32;
        // SAFETY: a valid keychain reference and an out-pointer to a u32.
        check(unsafe { SecKeychainGetStatus(self.keychain.as_concrete_TypeRef(), &mut status) })
            .with_context(|| format!("reading the lock state of {}", self.path.display()))?;
        Ok(status & UNLOCKED != 0)
    }

    fn search_list(&self) -> CFType {
        CFArray::from_CFTypes(std::slice::from_ref(&self.keychain)).as_CFType()
    }

    /// Every item of one kind with its reference, attributes only.
    fn search(&self, kind: Kind) -> Result<Vec<(KeychainItem, CFType)>> {
        let mut pairs = vec![
            (
                key(unsafe { kSecClass }),
                key(kind.class_constant()).as_CFType(),
            ),
            (key(unsafe { kSecMatchSearchList }), self.search_list()),
            (
                key(unsafe { kSecReturnAttributes }),
                CFBoolean::true_value().as_CFType(),
            ),
            (
                key(unsafe { kSecReturnRef }),
                CFBoolean::true_value().as_CFType(),
            ),
            (
                key(unsafe { kSecMatchLimit }),
                key(unsafe { kSecMatchLimitAll }).as_CFType(),
            ),
        ];
        match kind {
            Kind::PublicKey => pairs.push((
                key(unsafe { kSecAttrKeyClass }),
                key(unsafe { kSecAttrKeyClassPublic }).as_CFType(),
            )),
            Kind::PrivateKey => pairs.push((
                key(unsafe { kSecAttrKeyClass }),
                key(unsafe { kSecAttrKeyClassPrivate }).as_CFType(),
            )),
            _ => {}
        }
        let query = CFDictionary::from_CFType_pairs(&pairs);
        let mut result: CFTypeRef = ptr::null();
        // SAFETY: a valid query dictionary and an out-pointer; the result follows the create rule.
        let status = unsafe { SecItemCopyMatching(query.as_concrete_TypeRef(), &mut result) };
        if status == errSecItemNotFound {
            return Ok(Vec::new());
        }
        if status == ERR_INTERACTION_NOT_ALLOWED {
            // The keychain locked itself since it was opened (sleep, logout): wait for the user.
            if let Some(location) = &self.location {
                return Err(KeychainLocked {
                    location: location.clone(),
                    detail: format!("{} listing {kind:?} items", status_error(status)),
                }
                .into());
            }
        }
        check(status)
            .with_context(|| format!("listing {:?} items in {}", kind, self.path.display()))?;
        if result.is_null() {
            return Ok(Vec::new());
        }
        // SAFETY: non-null result of a Copy function.
        let result = unsafe { CFType::wrap_under_create_rule(result) };
        let Some(array) = result.downcast::<CFArray>() else {
            bail!(
                "listing {} returned something other than a list",
                self.path.display()
            );
        };
        let mut items = Vec::new();
        for entry in array.iter() {
            // SAFETY: the array holds CF objects; wrapping under the get rule retains them.
            let entry = unsafe { CFType::wrap_under_get_rule(*entry as CFTypeRef) };
            let Some(dict) = entry.downcast::<CFDictionary>() else {
                continue;
            };
            let Some(reference) = attr(&dict, unsafe { kSecValueRef }) else {
                continue;
            };
            items.push((item_from(kind, &dict, &reference), reference));
        }
        Ok(items)
    }

    /// The reference of the first item with exactly this identity.
    fn find(&self, item: &KeychainItem) -> Result<CFType> {
        let kind = Kind::of(item.class)?;
        self.search(kind)?
            .into_iter()
            .find(|(i, _)| i.same_identity(item))
            .map(|(_, r)| r)
            .with_context(|| format!("{} is not in {}", item.describe(), self.path.display()))
    }

    /// One copy's data, the copy given by its reference (`export`, `export_copies`).
    fn export_ref(&self, item: &KeychainItem, reference: CFType) -> Result<Option<Vec<u8>>> {
        match item.class {
            Some(ItemClass::Certificate) => Ok(reference
                .downcast::<SecCertificate>()
                .and_then(|c| certificate_der(&c))),
            Some(ItemClass::GenericPassword | ItemClass::InternetPassword) => {
                let kind = Kind::of(item.class)?;
                let query = CFDictionary::from_CFType_pairs(&[
                    (
                        key(unsafe { kSecClass }),
                        key(kind.class_constant()).as_CFType(),
                    ),
                    (key(unsafe { kSecMatchSearchList }), self.search_list()),
                    (
                        key(unsafe { kSecMatchItemList }),
                        self.item_list(&reference),
                    ),
                    (
                        key(unsafe { kSecReturnData }),
                        CFBoolean::true_value().as_CFType(),
                    ),
                    (
                        key(unsafe { kSecMatchLimit }),
                        CFNumber::from(1i64).as_CFType(),
                    ),
                ]);
                let mut result: CFTypeRef = ptr::null();
                // SAFETY: as in `search`.
                let status =
                    unsafe { SecItemCopyMatching(query.as_concrete_TypeRef(), &mut result) };
                if status == ERR_INTERACTION_NOT_ALLOWED || status == ERR_AUTH_FAILED {
                    // Reading it would prompt the user: not exportable silently.
                    return Ok(None);
                }
                check(status).with_context(|| {
                    format!("exporting {} from {}", item.describe(), self.path.display())
                })?;
                if result.is_null() {
                    return Ok(None);
                }
                // SAFETY: non-null result of a Copy function.
                let result = unsafe { CFType::wrap_under_create_rule(result) };
                Ok(result.downcast::<CFData>().map(|d| d.bytes().to_vec()))
            }
            _ => Ok(None),
        }
    }

    fn item_list(&self, reference: &CFType) -> CFType {
        CFArray::from_CFTypes(std::slice::from_ref(reference)).as_CFType()
    }
}

/// A value of the attribute dictionary, retained.
fn attr(dict: &CFDictionary, constant: CFStringRef) -> Option<CFType> {
    let value = dict.find(constant as *const c_void)?;
    // SAFETY: dictionary values are CF objects; the get rule retains.
    Some(unsafe { CFType::wrap_under_get_rule(*value as CFTypeRef) })
}

fn string_attr(dict: &CFDictionary, constant: CFStringRef) -> Option<String> {
    let value = attr(dict, constant)?;
    if let Some(s) = value.downcast::<CFString>() {
        return Some(s.to_string());
    }
    // Some attributes (an account written by an old tool) come back as bytes.
    value
        .downcast::<CFData>()
        .map(|d| String::from_utf8_lossy(d.bytes()).into_owned())
}

fn item_from(kind: Kind, dict: &CFDictionary, reference: &CFType) -> KeychainItem {
    let label = string_attr(dict, unsafe { kSecAttrLabel });
    let mut item = KeychainItem {
        label,
        extractable: false,
        ..Default::default()
    };
    match kind {
        Kind::Generic => {
            let item_type = attr(dict, unsafe { kSecAttrType })
                .and_then(|v| v.downcast::<CFNumber>())
                .and_then(|n| n.to_i64());
            let preference = item_type == Some(IDENTITY_PREFERENCE_TYPE);
            item.class = Some(if preference {
                ItemClass::IdentityPreference
            } else {
                ItemClass::GenericPassword
            });
            item.account = string_attr(dict, unsafe { kSecAttrAccount });
            item.service = string_attr(dict, unsafe { kSecAttrService });
            item.extractable = !preference;
            if preference {
                item.identity_issuer = preferred_certificate_issuer(dict);
            }
        }
        Kind::Internet => {
            item.class = Some(ItemClass::InternetPassword);
            item.account = string_attr(dict, unsafe { kSecAttrAccount });
            item.server = string_attr(dict, unsafe { kSecAttrServer });
            item.extractable = true;
        }
        Kind::Certificate => {
            item.class = Some(ItemClass::Certificate);
            if let Some(cert) = reference.downcast::<SecCertificate>() {
                item.subject = subject_summary(&cert);
                item.issuer = issuer_common_name(&cert);
            }
            item.extractable = true;
        }
        Kind::PublicKey | Kind::PrivateKey => {
            item.class = Some(if kind == Kind::PublicKey {
                ItemClass::PublicKey
            } else {
                ItemClass::PrivateKey
            });
            item.application_tag = string_attr(dict, unsafe { kSecAttrApplicationTag })
                .filter(|t| !t.trim_matches(char::from(0)).trim().is_empty());
        }
    }
    item
}

/// The issuer (common name) of the certificate an identity preference prefers: its generic
/// attribute holds a persistent reference to the certificate. `None` when the attribute is
/// missing or not bytes, when the reference resolves to nothing (the certificate is gone, or
/// Apple returns NULL) or to something that is not a certificate.
fn preferred_certificate_issuer(dict: &CFDictionary) -> Option<String> {
    let reference = attr(dict, unsafe { kSecAttrGeneric })?.downcast::<CFData>()?;
    let mut found: SecKeychainItemRef = ptr::null_mut();
    // SAFETY: a valid CFData and an out-pointer; the result follows the create rule and may be
    // NULL even on success.
    let status = unsafe {
        SecKeychainItemCopyFromPersistentReference(reference.as_concrete_TypeRef(), &mut found)
    };
    if status != 0 || found.is_null() {
        return None;
    }
    // SAFETY: a non-NULL result of a Copy function, released when dropped.
    let found = unsafe { CFType::wrap_under_create_rule(found as CFTypeRef) };
    issuer_common_name(&found.downcast::<SecCertificate>()?)
}

// security-framework's `subject_summary()`, `issuer()` and `to_der()` wrap what Apple returns
// under the create rule, which asserts non-NULL: a certificate without a common name, e-mail
// address or DNS name (SCEP certificates) makes `SecCertificateCopySubjectSummary` return NULL
// and the process panic (kornelski/rust-security-framework#259). These call the functions
// themselves and take NULL for "none".

fn cert_ref(cert: &SecCertificate) -> SecCertificateRef {
    cert.as_concrete_TypeRef()
}

/// The certificate's subject summary (its common name, else e-mail address, else DNS name);
/// `None` when Apple has none to give.
pub fn subject_summary(cert: &SecCertificate) -> Option<String> {
    // SAFETY: a valid certificate reference; the result follows the create rule, may be NULL.
    let summary = unsafe { SecCertificateCopySubjectSummary(cert_ref(cert)) };
    if summary.is_null() {
        return None;
    }
    // SAFETY: non-NULL result of a Copy function.
    let summary = unsafe { CFString::wrap_under_create_rule(summary) }.to_string();
    (!summary.trim().is_empty()).then_some(summary)
}

/// The common name of the certificate's issuer; `None` when the issuer has none (or Apple
/// cannot give the issuer's name at all).
pub fn issuer_common_name(cert: &SecCertificate) -> Option<String> {
    // SAFETY: a valid certificate reference; the result follows the create rule, may be NULL.
    let issuer = unsafe { SecCertificateCopyNormalizedIssuerSequence(cert_ref(cert)) };
    if issuer.is_null() {
        return None;
    }
    // SAFETY: non-NULL result of a Copy function.
    let issuer = unsafe { CFData::wrap_under_create_rule(issuer) };
    der_common_name(issuer.bytes()).filter(|cn| !cn.trim().is_empty())
}

/// The certificate's DER bytes (for the export before a delete).
fn certificate_der(cert: &SecCertificate) -> Option<Vec<u8>> {
    // SAFETY: a valid certificate reference; the result follows the create rule, may be NULL.
    let data = unsafe { SecCertificateCopyData(cert_ref(cert)) };
    if data.is_null() {
        return None;
    }
    // SAFETY: non-NULL result of a Copy function.
    Some(
        unsafe { CFData::wrap_under_create_rule(data) }
            .bytes()
            .to_vec(),
    )
}

/// The first common name (OID 2.5.4.3) in a DER-encoded X.501 name. Security.framework gives
/// the issuer only as DER (normalized: upper case), and the rules need it as text.
pub fn der_common_name(name: &[u8]) -> Option<String> {
    const CN_OID: [u8; 5] = [0x06, 0x03, 0x55, 0x04, 0x03];
    let at = name.windows(CN_OID.len()).position(|w| w == CN_OID)?;
    let rest = &name[at + CN_OID.len()..];
    let (&tag, rest) = rest.split_first()?;
    let (&len, rest) = rest.split_first()?;
    let (len, rest) = match len {
        0..=0x7f => (usize::from(len), rest),
        0x81 => {
            let (&l, r) = rest.split_first()?;
            (usize::from(l), r)
        }
        0x82 => {
            let (l, r) = rest.split_at_checked(2)?;
            (usize::from(u16::from_be_bytes([l[0], l[1]])), r)
        }
        _ => return None,
    };
    let value = rest.get(..len)?;
    Some(match tag {
        // BMPString: UTF-16 big-endian.
        0x1e => String::from_utf16_lossy(
            &value
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect::<Vec<_>>(),
        ),
        _ => String::from_utf8_lossy(value).into_owned(),
    })
}

impl Keychain for MacKeychain {
    fn list(&self) -> Result<Vec<KeychainItem>> {
        let mut items = Vec::new();
        for kind in KINDS {
            items.extend(self.search(kind)?.into_iter().map(|(i, _)| i));
        }
        Ok(items)
    }

    fn export(&self, item: &KeychainItem) -> Result<Option<Vec<u8>>> {
        match item.class {
            Some(
                ItemClass::Certificate | ItemClass::GenericPassword | ItemClass::InternetPassword,
            ) => {
                let reference = self.find(item)?;
                self.export_ref(item, reference)
            }
            _ => Ok(None),
        }
    }

    fn export_copies(&self, item: &KeychainItem) -> Result<Vec<Option<Vec<u8>>>> {
        let kind = Kind::of(item.class)?;
        self.search(kind)?
            .into_iter()
            .filter(|(i, _)| i.same_identity(item))
            .map(|(_, reference)| self.export_ref(item, reference))
            .collect()
    }

    fn delete(&self, item: &KeychainItem) -> Result<()> {
        let kind = Kind::of(item.class)?;
        let reference = self.find(item)?;
        let query = CFDictionary::from_CFType_pairs(&[
            (
                key(unsafe { kSecClass }),
                key(kind.class_constant()).as_CFType(),
            ),
            (key(unsafe { kSecMatchSearchList }), self.search_list()),
            (
                key(unsafe { kSecMatchItemList }),
                self.item_list(&reference),
            ),
        ]);
        // SAFETY: a valid query dictionary.
        check(unsafe { SecItemDelete(query.as_concrete_TypeRef()) })
            .with_context(|| format!("deleting {} from {}", item.describe(), self.path.display()))
    }

    fn add(&self, item: &KeychainItem) -> Result<()> {
        let Some(data) = &item.data else {
            bail!("{} has no exported data to put back", item.describe());
        };
        let kind = Kind::of(item.class)?;
        let mut pairs = vec![
            (
                key(unsafe { kSecClass }),
                key(kind.class_constant()).as_CFType(),
            ),
            (key(unsafe { kSecUseKeychain }), self.keychain.as_CFType()),
        ];
        let mut text = |constant: CFStringRef, value: &Option<String>| {
            if let Some(v) = value {
                pairs.push((key(constant), CFString::new(v).as_CFType()));
            }
        };
        match item.class {
            Some(ItemClass::GenericPassword) => {
                text(unsafe { kSecAttrLabel }, &item.label);
                text(unsafe { kSecAttrAccount }, &item.account);
                text(unsafe { kSecAttrService }, &item.service);
                pairs.push((
                    key(unsafe { kSecValueData }),
                    CFData::from_buffer(data).as_CFType(),
                ));
            }
            Some(ItemClass::InternetPassword) => {
                text(unsafe { kSecAttrLabel }, &item.label);
                text(unsafe { kSecAttrAccount }, &item.account);
                text(unsafe { kSecAttrServer }, &item.server);
                pairs.push((
                    key(unsafe { kSecValueData }),
                    CFData::from_buffer(data).as_CFType(),
                ));
            }
            Some(ItemClass::Certificate) => {
                text(unsafe { kSecAttrLabel }, &item.label);
                let cert = SecCertificate::from_der(data)
                    .map_err(|e| anyhow::anyhow!("{e}"))
                    .with_context(|| format!("reading the exported {}", item.describe()))?;
                pairs.push((key(unsafe { kSecValueRef }), cert.as_CFType()));
            }
            _ => bail!(
                "{} cannot be put back into a Mac keychain: reenroll exports no keys and no \
                 identity preferences",
                item.describe()
            ),
        }
        let attributes = CFDictionary::from_CFType_pairs(&pairs);
        // SAFETY: a valid attribute dictionary; no result is asked for.
        check(unsafe { SecItemAdd(attributes.as_concrete_TypeRef(), ptr::null_mut()) })
            .with_context(|| format!("adding {} to {}", item.describe(), self.path.display()))
    }
}

#[cfg(all(test, target_os = "macos"))]
mod tests {
    use security_framework::os::macos::keychain::CreateOptions;

    use super::*;
    use crate::keychain::purge;
    use crate::keychain::rules::PurgeRules;

    fn temp_keychain() -> (tempfile::TempDir, MacKeychain) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("reenroll-test.keychain-db");
        let keychain = CreateOptions::new()
            .password("reenroll-test")
            .create(&path)
            .unwrap();
        let mac = MacKeychain::from_keychain(keychain, path).unwrap();
        assert!(mac.is_unlocked().unwrap());
        (dir, mac)
    }

    fn genp(account: &str, data: &[u8]) -> KeychainItem {
        KeychainItem {
            class: Some(ItemClass::GenericPassword),
            label: Some(account.into()),
            account: Some(account.into()),
            service: Some("com.microsoft.workplacejoin".into()),
            data: Some(data.to_vec()),
            extractable: true,
            ..Default::default()
        }
    }

    #[test]
    fn adds_lists_exports_and_deletes_exactly_one_item() {
        let (_dir, kc) = temp_keychain();
        let thumb = genp("com.microsoft.workplacejoin.thumbprint", b"thumb");
        let chrome = KeychainItem {
            class: Some(ItemClass::GenericPassword),
            label: Some("Chrome Safe Storage".into()),
            account: Some("Chrome".into()),
            service: Some("Chrome Safe Storage".into()),
            data: Some(b"chrome".to_vec()),
            extractable: true,
            ..Default::default()
        };
        let web = KeychainItem {
            class: Some(ItemClass::InternetPassword),
            label: Some("device.login.microsoftonline.com".into()),
            account: Some("alice@contoso.com".into()),
            server: Some("device.login.microsoftonline.com".into()),
            data: Some(b"pw".to_vec()),
            extractable: true,
            ..Default::default()
        };
        for item in [&thumb, &chrome, &web] {
            kc.add(item).unwrap();
        }
        let listed = kc.list().unwrap();
        assert_eq!(listed.len(), 3, "{listed:?}");
        assert!(listed.iter().all(|i| i.data.is_none()));
        let found = listed.iter().find(|i| i.same_identity(&thumb)).unwrap();
        assert_eq!(kc.export(found).unwrap().as_deref(), Some(&b"thumb"[..]));
        let found_web = listed.iter().find(|i| i.same_identity(&web)).unwrap();
        assert_eq!(kc.export(found_web).unwrap().as_deref(), Some(&b"pw"[..]));

        kc.delete(found).unwrap();
        let left = kc.list().unwrap();
        assert_eq!(left.len(), 2);
        assert!(left.iter().any(|i| i.same_identity(&chrome)));
        assert!(kc.delete(found).is_err(), "a second delete finds nothing");
    }

    #[test]
    fn the_portable_purge_works_on_a_real_keychain() {
        let (_dir, kc) = temp_keychain();
        kc.add(&genp("com.microsoft.workplacejoin.thumbprint", b"a"))
            .unwrap();
        kc.add(&genp(
            "com.microsoft.workplacejoin.registeredUserPrincipalName",
            b"alice@contoso.com",
        ))
        .unwrap();
        let rules: PurgeRules = toml::from_str(
            "[[remove]]\nname = \"wpj\"\naccount = { prefix = \"com.microsoft.workplacejoin.\" }\n",
        )
        .unwrap();
        let mut exported = Vec::new();
        let report = purge::purge(&kc, &rules, &mut |e| {
            if let purge::PurgeEvent::Exported { item, .. } = e {
                exported.push(item);
            }
            Ok(())
        })
        .unwrap();
        assert_eq!(report.deleted.len(), 2);
        assert!(report.exceptions.is_empty());
        assert!(kc.list().unwrap().is_empty());
        purge::restore_all(&kc, &exported).unwrap();
        assert_eq!(kc.list().unwrap().len(), 2);
    }

    /// SCEP-style certificates: no common name, e-mail or DNS name (subject `O=Contoso SCEP`),
    /// and an empty subject. Built from bytes only; no keychain is touched.
    const NO_COMMON_NAME: &[u8] = include_bytes!("testdata/scep-no-common-name.der");
    const EMPTY_SUBJECT: &[u8] = include_bytes!("testdata/scep-empty-subject.der");

    #[test]
    fn a_certificate_without_a_common_name_has_no_subject_and_does_not_panic() {
        for der in [NO_COMMON_NAME, EMPTY_SUBJECT] {
            let cert = SecCertificate::from_der(der).unwrap();
            assert_eq!(subject_summary(&cert), None);
            assert_eq!(issuer_common_name(&cert), None);
            assert_eq!(certificate_der(&cert).as_deref(), Some(der));
        }
    }

    #[test]
    fn reads_the_common_name_of_a_der_name() {
        // SEQUENCE { SET { SEQUENCE { OID 2.5.4.3, UTF8String "MS-Organization-Access" } } }
        let cn = b"MS-Organization-Access";
        let mut der = vec![0x30, 9 + cn.len() as u8, 0x31, 7 + cn.len() as u8, 0x30];
        der.push(5 + cn.len() as u8);
        der.extend([0x06, 0x03, 0x55, 0x04, 0x03, 0x0c, cn.len() as u8]);
        der.extend(cn);
        assert_eq!(
            der_common_name(&der).as_deref(),
            Some("MS-Organization-Access")
        );
        assert_eq!(der_common_name(&[0x30, 0x00]), None);
    }
}
