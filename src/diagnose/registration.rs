//! The device registration itself, through the Keychain boundary: a registered Mac holds, in the
//! registering user's login keychain, one certificate issued by `MS-Organization-Access` (subject
//! CN = the Entra device id) and one "Microsoft Workplace Join Key" pair. Several of either means
//! the Mac was registered more than once (Cause 6, seen as P4/P5); a key without its certificate
//! (or the reverse) is a broken registration (P4).
//!
//! Platform SSO registrations keep the key in the Secure Enclave instead, where the keychain
//! shows nothing; Jamf's `getPSSOStatus` tells (first line: 0 not enabled, 1 enabled but not
//! registered, 2 registered).

use std::time::Duration;

use super::{Confidence, Ctx, Evidence, Finding, Remedy};
use crate::device::{LocalUser, RunOpts};
use crate::keychain::{ItemClass, KeychainItem, KeychainLocation};

pub const PSSO_TOOL: &str = "/Library/Application Support/JAMF/Jamf.app/Contents/MacOS/Jamf Conditional Access.app/Contents/MacOS/Jamf Conditional Access";
pub const CERT_ISSUER: &str = "MS-Organization-Access";
pub const WPJ_KEY: &str = "Microsoft Workplace Join Key";

const PSSO_REGISTERED: u8 = 2;

pub(super) fn check(ctx: &mut Ctx, users: &[LocalUser]) {
    let psso = psso_status(ctx);
    let psso_registered = psso == Some(PSSO_REGISTERED);
    if psso_registered {
        ctx.could_not_read(
            "Secure Enclave (Platform SSO registration)",
            "Platform SSO is registered (getPSSOStatus 2): the device identity key is in the \
             Secure Enclave, which shows neither duplicates nor leftovers. A keychain purge does \
             not unregister it; to start over, the user removes the device in Company Portal \
             (the device → … → Remove your device).",
        );
    }
    for user in users {
        let location = KeychainLocation::User {
            name: user.name.clone(),
            uid: user.uid,
            home: user.home.clone(),
        };
        // A user who never logged in has no login keychain: an empty one, nothing registered.
        let listed = crate::keychain::open_existing(ctx.device, &location)
            .and_then(|k| k.map_or(Ok(Vec::new()), |k| k.list()));
        match listed {
            Ok(items) => judge(ctx, &location.describe(), &items, psso_registered),
            Err(e) => ctx.could_not_read(
                location.describe(),
                format!("{e:#}; run diagnose while {} is logged in", user.name),
            ),
        }
    }
}

fn is_registration_cert(item: &KeychainItem) -> bool {
    item.class == Some(ItemClass::Certificate)
        && item.issuer.as_deref().is_some_and(|i| {
            i.to_ascii_lowercase()
                .contains(&CERT_ISSUER.to_ascii_lowercase())
        })
}

fn is_wpj_key(item: &KeychainItem, class: ItemClass) -> bool {
    item.class == Some(class)
        && item
            .label
            .as_deref()
            .is_some_and(|l| l.trim().eq_ignore_ascii_case(WPJ_KEY))
}

/// Secret-free, with the certificate's subject (the Entra device id the admin looks up).
fn describe(item: &KeychainItem) -> String {
    let mut s = item.describe();
    if let Some(subject) = &item.subject {
        if !s.contains(subject.as_str()) {
            s.push_str(&format!(" subject \"{subject}\""));
        }
    }
    s
}

fn device_ids(certs: &[&KeychainItem]) -> Vec<String> {
    certs
        .iter()
        .filter_map(|c| c.subject.as_deref().or(c.label.as_deref()))
        .map(|s| s.trim_start_matches("CN=").to_string())
        .collect()
}

fn judge(ctx: &mut Ctx, keychain: &str, items: &[KeychainItem], psso_registered: bool) {
    let certs: Vec<_> = items.iter().filter(|i| is_registration_cert(i)).collect();
    let private: Vec<_> = items
        .iter()
        .filter(|i| is_wpj_key(i, ItemClass::PrivateKey))
        .collect();
    let public: Vec<_> = items
        .iter()
        .filter(|i| is_wpj_key(i, ItemClass::PublicKey))
        .collect();
    // A key is a pair; count whichever half is there more often.
    let keys = private.len().max(public.len());
    let evidence: Vec<Evidence> = certs
        .iter()
        .chain(&private)
        .chain(&public)
        .map(|i| Evidence {
            source: keychain.to_string(),
            line: None,
            time: None,
            text: describe(i),
        })
        .collect();
    let platform_sso_note = psso_registered.then(|| {
        "Platform SSO also holds a registration: before the playbook, the user removes the device \
         in Company Portal (the device → … → Remove your device)."
            .to_string()
    });
    let ids = device_ids(&certs);
    let cause6 = |manual: Option<String>| {
        Remedy {
        playbook: Some("cause6".into()),
        server: Some(format!(
            "Part of the cause6 playbook: delete the Mac's Jamf Pro inventory record, the Entra ID \
             device{} {}, and every Intune record of this Mac; wait 30 minutes before re-enrolling.",
            if ids.len() == 1 { "" } else { "s" },
            if ids.is_empty() {
                "(device id unknown)".to_string()
            } else {
                ids.join(", ")
            }
        )),
        manual,
    }
    };
    let (title, confidence, remedy) = if certs.len() >= 2 || keys >= 2 {
        (
            format!(
                "Registered more than once (shows as P4, P5): {} MS-Organization-Access \
                 certificate{} and {} Workplace Join key{} in {keychain}",
                certs.len(),
                plural(certs.len()),
                keys,
                plural(keys)
            ),
            Confidence::High,
            cause6(platform_sso_note),
        )
    } else if certs.len() == 1 && keys == 1 && psso_registered {
        (
            format!(
                "Registered twice: through Platform SSO and with a Workplace Join certificate in \
                 {keychain}"
            ),
            Confidence::Medium,
            cause6(platform_sso_note),
        )
    } else if certs.len() != keys {
        let what = if keys == 0 {
            "an MS-Organization-Access certificate without its Workplace Join key"
        } else {
            "a Workplace Join key without its MS-Organization-Access certificate"
        };
        return ctx.find(Finding {
            id: "P4".into(),
            title: format!(
                "Registration incomplete (compliant in Intune, not in Entra ID): {what} in {keychain}"
            ),
            evidence,
            confidence: Confidence::Medium,
            remedy: Remedy {
                playbook: Some("reregister".into()),
                manual: Some("If it comes back after reregister, run cause6.".into()),
                ..Default::default()
            },
        });
    } else {
        return;
    };
    ctx.find(Finding {
        id: "C6".into(),
        title,
        evidence,
        confidence,
        remedy,
    });
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// Platform SSO state from Jamf's tool, `None` when it cannot be told (said in the report).
fn psso_status(ctx: &mut Ctx) -> Option<u8> {
    if !ctx.device.has_program(PSSO_TOOL) {
        ctx.could_not_read(
            PSSO_TOOL,
            "not installed (Jamf Pro 11.21.1 or later ships it): whether Platform SSO holds the \
             registration is unknown",
        );
        return None;
    }
    let opts = RunOpts {
        timeout: Some(Duration::from_secs(30)),
        ..Default::default()
    };
    let args = ["getPSSOStatus".to_string()];
    let mut last = String::new();
    for attempt in 0..2 {
        let out = match ctx.device.run(PSSO_TOOL, &args, &opts) {
            Ok(o) => o,
            Err(e) => {
                ctx.could_not_read(format!("{PSSO_TOOL} getPSSOStatus"), format!("{e:#}"));
                return None;
            }
        };
        let first = out.stdout.lines().map(str::trim).find(|l| !l.is_empty());
        match first.map(|l| (l, l.parse::<u8>())) {
            Some((_, Ok(n))) if n <= 2 => return Some(n),
            // NOTE: the tool prints "Warning:Timedout" when Microsoft's broker is slow to answer;
            // public extension attributes wait a few seconds and ask again.
            Some((l, _)) if l.contains("Timedout") && attempt == 0 => {
                std::thread::sleep(Duration::from_secs(5));
            }
            _ => {
                last = format!(
                    "exited {} printing {:?}",
                    out.status_text(),
                    first.unwrap_or(out.stderr.trim())
                );
                break;
            }
        }
    }
    ctx.could_not_read(
        format!("{PSSO_TOOL} getPSSOStatus"),
        format!("no status (0, 1 or 2): {last}"),
    );
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuer_in_any_case_and_keys_by_label() {
        let cert = KeychainItem {
            class: Some(ItemClass::Certificate),
            issuer: Some("ms-organization-access".into()),
            subject: Some("CN=1234".into()),
            ..Default::default()
        };
        assert!(is_registration_cert(&cert));
        assert_eq!(device_ids(&[&cert]), ["1234"]);
        assert!(describe(&cert).contains("CN=1234"));
        let key = KeychainItem {
            class: Some(ItemClass::PrivateKey),
            label: Some("microsoft workplace join key".into()),
            ..Default::default()
        };
        assert!(is_wpj_key(&key, ItemClass::PrivateKey));
        assert!(!is_wpj_key(&key, ItemClass::PublicKey));
    }
}
