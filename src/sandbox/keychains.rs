//! The sandbox keychains' contents: what a Mac registered with Entra ID through Jamf holds, next
//! to unrelated items a purge must keep.

use anyhow::{Context, Result};

use super::plant::Planter;
use crate::device::Device;
use crate::keychain::sandbox::{SandboxKeychain, LOCKED_MARKER};
use crate::keychain::{ItemClass, Keychain, KeychainItem, KeychainLocation};

pub const MS_ORGANIZATION_ACCESS: &str = "MS-Organization-Access";
pub const WORKPLACE_JOIN_KEY: &str = "Microsoft Workplace Join Key";
pub const SESSION_TRANSPORT_KEY: &str = "Microsoft Session Transport Key";

/// Labels of the items that must survive a purge, in every user's keychain.
pub const SURVIVOR_LABELS_USER: &[&str] = &["JAMF", "HomeNetwork", "Chrome Safe Storage"];
/// Labels of the items that must survive a purge, in the System keychain.
pub const SURVIVOR_LABELS_SYSTEM: &[&str] = &["com.apple.systemdefault"];

fn item(class: ItemClass) -> KeychainItem {
    KeychainItem {
        class: Some(class),
        extractable: true,
        ..Default::default()
    }
}

fn generic_account(account: &str, data: &str) -> KeychainItem {
    KeychainItem {
        account: Some(account.into()),
        service: Some(account.into()),
        data: Some(data.as_bytes().to_vec()),
        ..item(ItemClass::GenericPassword)
    }
}

fn labelled(class: ItemClass, label: &str, data: &[u8]) -> KeychainItem {
    KeychainItem {
        label: Some(label.into()),
        service: Some(label.into()),
        data: Some(data.to_vec()),
        ..item(class)
    }
}

fn key_pair(label: &str) -> [KeychainItem; 2] {
    let public = KeychainItem {
        label: Some(label.into()),
        data: Some(fake_der(label, 0x30)),
        ..item(ItemClass::PublicKey)
    };
    let private = KeychainItem {
        class: Some(ItemClass::PrivateKey),
        extractable: false,
        data: Some(fake_der(label, 0x31)),
        ..public.clone()
    };
    [public, private]
}

fn device_certificate(device_id: &str, issuer: &str) -> KeychainItem {
    KeychainItem {
        label: Some(device_id.into()),
        issuer: Some(issuer.into()),
        subject: Some(format!("CN={device_id}")),
        data: Some(fake_der(device_id, 0x30)),
        ..item(ItemClass::Certificate)
    }
}

/// Bytes shaped like a DER SEQUENCE; nothing parses them, they only have to round-trip.
fn fake_der(seed: &str, tag: u8) -> Vec<u8> {
    let mut v = vec![tag, 0x82, 0x01, 0x0a];
    v.extend_from_slice(seed.as_bytes());
    v.resize(270, 0x5a);
    v
}

/// What `user`'s login keychain holds. `device_ids` are the Entra device ids of its
/// MS-Organization-Access certificates (empty for a Platform SSO registration, whose device
/// identity lives in the Secure Enclave instead).
pub fn user_items(
    user: &str,
    computer_name: &str,
    tenant_id: &str,
    device_ids: &[String],
) -> Vec<KeychainItem> {
    let mut items = vec![
        generic_account(
            "com.microsoft.workplacejoin.thumbprint",
            "3C8F0A5B19E2D4C7A6F1B0E9D8C7B6A5F4E3D2C1",
        ),
        generic_account(
            "com.microsoft.workplacejoin.registeredUserPrincipalName",
            &format!("{user}@contoso.com"),
        ),
        generic_account("com.microsoft.workplacejoin.deviceName", computer_name),
        generic_account("com.microsoft.workplacejoin.tenantId", tenant_id),
        // Two with one account: a purge that deletes once per account leaves the second behind.
        generic_account(
            "com.microsoft.workplacejoin.devicePatchAttemptTimestamp",
            "1709543700",
        ),
        generic_account(
            "com.microsoft.workplacejoin.devicePatchAttemptTimestamp",
            "1712221800",
        ),
    ];
    for label in [
        "com.microsoft.CompanyPortal",
        "com.microsoft.CompanyPortalMac",
        "com.microsoft.CompanyPortal.HockeySDK",
        "enterpriseregistration.windows.net",
        "com.microsoft.adalcache",
        "https://device.login.microsoftonline.com/",
        "com.jamf.management.jamfAAD",
    ] {
        items.push(labelled(ItemClass::GenericPassword, label, b"token"));
    }
    items.push(KeychainItem {
        server: Some("device.login.microsoftonline.com".into()),
        account: Some(format!("{user}@contoso.com")),
        ..labelled(
            ItemClass::InternetPassword,
            "https://device.login.microsoftonline.com",
            b"refresh-token",
        )
    });
    if !device_ids.is_empty() {
        items.extend(key_pair(WORKPLACE_JOIN_KEY));
    }
    items.extend(key_pair(SESSION_TRANSPORT_KEY));
    for (i, id) in device_ids.iter().enumerate() {
        // Older registrations wrote the issuer in lower case; match it case-insensitively.
        let issuer = if i == 0 {
            MS_ORGANIZATION_ACCESS.to_string()
        } else {
            MS_ORGANIZATION_ACCESS.to_ascii_lowercase()
        };
        items.push(device_certificate(id, &issuer));
    }
    items.push(KeychainItem {
        label: Some("DeviceLogin.microsoft.com".into()),
        issuer: Some("DeviceLogin.microsoft.com".into()),
        subject: Some("CN=DeviceLogin.microsoft.com".into()),
        data: Some(fake_der("DeviceLogin", 0x30)),
        ..item(ItemClass::Certificate)
    });
    for pref in [
        "https://enterpriseregistration.windows.net",
        "https://enterpriseregistration.windows.net/",
        "https://enterpriseregistration.windows.net (UBF8T346G9.com.microsoft.CompanyPortalMac)",
    ] {
        items.push(labelled(ItemClass::IdentityPreference, pref, b""));
    }
    // Survivors.
    items.extend(key_pair("JAMF"));
    items.push(KeychainItem {
        server: Some("router.home.arpa".into()),
        account: Some(user.into()),
        ..labelled(ItemClass::InternetPassword, "HomeNetwork", b"correct horse")
    });
    items.push(KeychainItem {
        account: Some("Chrome".into()),
        ..labelled(
            ItemClass::GenericPassword,
            "Chrome Safe Storage",
            b"c2FmZQ==",
        )
    });
    items
}

/// What the System keychain holds: copies of the first user's device identity, and a survivor.
pub fn system_items(device_id: Option<&str>) -> Vec<KeychainItem> {
    let mut items = Vec::new();
    if let Some(id) = device_id {
        items.push(device_certificate(id, MS_ORGANIZATION_ACCESS));
        items.push(key_pair(WORKPLACE_JOIN_KEY)[0].clone());
    }
    items.push(KeychainItem {
        label: Some("com.apple.systemdefault".into()),
        subject: Some("CN=com.apple.systemdefault".into()),
        data: Some(fake_der("systemdefault", 0x30)),
        ..item(ItemClass::Certificate)
    });
    items.push(KeychainItem {
        extractable: false,
        ..key_pair("com.apple.systemdefault")[1].clone()
    });
    items
}

/// The label shared by a generic password and a private key in `edge_case_items`: a rule for
/// one class must not decide for the other.
pub const SHARED_LABEL: &str = "Contoso VPN";
/// The DER of a SCEP-style certificate whose subject has no common name, e-mail or DNS name
/// (`O=Contoso SCEP`): a Mac's `SecCertificateCopySubjectSummary` returns NULL for it.
pub const SCEP_CERTIFICATE_DER: &[u8] =
    include_bytes!("../keychain/testdata/scep-no-common-name.der");

/// Keys the JAMF keep-rule must spare although their label is not `JAMF`: the article's
/// "JAMF public and private key" under other spellings, and a key whose only JAMF mention is
/// its application tag (`JAMF_TAGGED_KEY_LABEL`, tag `JAMF_TAG`).
pub const JAMF_KEY_LABELS: &[&str] = &["JAMF public key", "JAMF private key"];
pub const JAMF_TAGGED_KEY_LABEL: &str = "Device Management Signing Key";
pub const JAMF_TAG: &str = "com.jamfsoftware.jss.signing";
/// Another vendor's key pair: no rule of cause6 concerns it.
pub const OTHER_VENDOR_KEY: &str = "Fabrikam VPN Key";
/// Identity preferences cause6 finds without `adfs_url`: (URL, issuer of the preferred
/// certificate). The first two by their `/adfs/ls` path (any host), the first and third by
/// their Workplace Join certificate.
pub const ADFS_PREFERENCES: &[(&str, &str)] = &[
    ("https://adfs.contoso.com/adfs/ls/", MS_ORGANIZATION_ACCESS),
    ("https://sts.contoso.com/adfs/ls", "Contoso Issuing CA"),
    ("https://portal.contoso.com/", MS_ORGANIZATION_ACCESS),
];
/// Identity preferences that look like those and must stay: another vendor's sign-in URL,
/// and a path that only starts like ADFS's.
pub const LOOK_ALIKE_PREFERENCES: &[(&str, &str)] = &[
    (
        "https://sso.fabrikam.com/idp/SSO.saml2",
        "Fabrikam Issuing CA",
    ),
    ("https://adfs.fabrikam.com/adfs/lsx/", "Fabrikam Issuing CA"),
];

fn identity_preference(url: &str, issuer: &str) -> KeychainItem {
    KeychainItem {
        identity_issuer: Some(issuer.into()),
        ..labelled(ItemClass::IdentityPreference, url, b"")
    }
}

/// Items that trip naive keychain code, as real Macs hold them:
/// - a SCEP certificate with no subject summary, no label and no issuer common name (what the
///   Mac backend reads for `scep-no-common-name.der`);
/// - a generic password and a private key both labelled `SHARED_LABEL`;
/// - a generic password labelled `JAMF`, next to the JAMF key pair every user keychain holds
///   (cause6 keeps the keys by a keys-only rule; this one is not a key);
/// - JAMF keys labelled otherwise (`JAMF_KEY_LABELS`) or tagged only (`JAMF_TAG`), and another
///   vendor's key pair (`OTHER_VENDOR_KEY`);
/// - ADFS identity preferences (`ADFS_PREFERENCES`) and look-alikes that must stay
///   (`LOOK_ALIKE_PREFERENCES`).
pub fn edge_case_items() -> Vec<KeychainItem> {
    let mut items = edge_case_basics();
    let [public, _] = key_pair(JAMF_KEY_LABELS[0]);
    let [_, private] = key_pair(JAMF_KEY_LABELS[1]);
    items.extend([public, private]);
    let [_, tagged] = key_pair(JAMF_TAGGED_KEY_LABEL);
    items.push(KeychainItem {
        application_tag: Some(JAMF_TAG.into()),
        ..tagged
    });
    items.extend(key_pair(OTHER_VENDOR_KEY).map(|k| KeychainItem {
        application_tag: Some("com.fabrikam.vpn".into()),
        ..k
    }));
    for (url, issuer) in ADFS_PREFERENCES.iter().chain(LOOK_ALIKE_PREFERENCES) {
        items.push(identity_preference(url, issuer));
    }
    items
}

fn edge_case_basics() -> Vec<KeychainItem> {
    vec![
        KeychainItem {
            data: Some(SCEP_CERTIFICATE_DER.to_vec()),
            ..item(ItemClass::Certificate)
        },
        KeychainItem {
            account: Some("vpn-user".into()),
            ..labelled(ItemClass::GenericPassword, SHARED_LABEL, b"vpn-secret")
        },
        KeychainItem {
            service: None,
            extractable: false,
            ..labelled(
                ItemClass::PrivateKey,
                SHARED_LABEL,
                &fake_der(SHARED_LABEL, 0x31),
            )
        },
        KeychainItem {
            account: Some("jamf-helper".into()),
            ..labelled(ItemClass::GenericPassword, "JAMF", b"jamf-token")
        },
    ]
}

/// Lock a user's sandbox login keychain (the user is logged out).
pub(crate) fn lock(p: &mut Planter, location: &KeychainLocation) -> Result<()> {
    if let KeychainLocation::User { home, .. } = location {
        p.file(
            &format!("{}/{LOCKED_MARKER}", home.trim_end_matches('/')),
            "",
        )?;
    }
    Ok(())
}

/// Write the items into a sandbox keychain (through the same backend reenroll reads it with).
pub fn fill(device: &Device, location: &KeychainLocation, items: &[KeychainItem]) -> Result<()> {
    let kc = SandboxKeychain::create(device, location)
        .with_context(|| format!("opening the sandbox {}", location.describe()))?;
    for it in items {
        kc.add(it)
            .with_context(|| format!("adding {} to the {}", it.describe(), location.describe()))?;
    }
    Ok(())
}
