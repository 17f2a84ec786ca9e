//! The device registration itself, through the Keychain boundary: a registered Mac holds, in the
//! registering user's login keychain, one certificate issued by `MS-Organization-Access` (subject
//! CN = the Entra device id) and one "Microsoft Workplace Join Key" pair. Several of either means
//! the Mac was registered more than once (Cause 6, seen as P4/P5); a key without its certificate
//! (or the reverse) is a broken registration (P4).
//!
//! Platform SSO registrations keep the key in the Secure Enclave instead, where the keychain
//! shows nothing; Jamf's `getPSSOStatus` tells (first line: 0 not enabled, 1 enabled but not
//! registered, 2 registered), and for a registration its
//! `primary_registration_metadata_device_id` names the Entra device. It asks Microsoft's broker
//! in the user's session, so it runs as the console user there (`launchctl asuser UID sudo -u
//! USER …`), as Microsoft's and the community's extension attributes run it; as root it would
//! describe root, who has no registration.

use std::time::Duration;

use super::{Confidence, Ctx, Evidence, Finding, Remedy};
use crate::action::run::as_console_user;
use crate::device::{LocalUser, RunOpts};
use crate::keychain::{ItemClass, KeychainItem, KeychainLocation};

pub const PSSO_TOOL: &str = "/Library/Application Support/JAMF/Jamf.app/Contents/MacOS/Jamf Conditional Access.app/Contents/MacOS/Jamf Conditional Access";
pub const CERT_ISSUER: &str = "MS-Organization-Access";
pub const WPJ_KEY: &str = "Microsoft Workplace Join Key";

const PSSO_REGISTERED: u8 = 2;

/// The key of the Entra device id in `getPSSOStatus`'s registration metadata (MSAL's
/// `MSAL_PRIMARY_REGISTRATION_DEVICE_ID`).
const PSSO_DEVICE_ID_KEY: &str = "primary_registration_metadata_device_id";

/// What `getPSSOStatus` said, run as `user`.
#[derive(Clone, Debug, PartialEq, Eq)]
struct PssoStatus {
    code: u8,
    device_id: Option<String>,
    user: String,
}

impl PssoStatus {
    fn source(&self) -> String {
        format!("getPSSOStatus (as {})", self.user)
    }

    /// The registration's device id as evidence.
    fn evidence(&self) -> Option<Evidence> {
        let id = self.device_id.as_ref()?;
        Some(Evidence {
            source: self.source(),
            line: None,
            time: None,
            text: format!("Platform SSO registered; {PSSO_DEVICE_ID_KEY} {id}"),
        })
    }
}

pub(super) fn check(ctx: &mut Ctx, users: &[LocalUser]) {
    let psso = psso_status(ctx);
    let psso_registered = psso.as_ref().is_some_and(|p| p.code == PSSO_REGISTERED);
    let registered = psso.as_ref().filter(|_| psso_registered);
    if let Some(p) = registered {
        let id = match &p.device_id {
            Some(id) => format!(
                "Entra device id {id} ({PSSO_DEVICE_ID_KEY}, {})",
                p.source()
            ),
            None => format!("{} named no device id", p.source()),
        };
        ctx.could_not_read(
            "Secure Enclave (Platform SSO registration)",
            format!(
                "Platform SSO is registered (getPSSOStatus 2; {id}): the device identity key is \
                 in the Secure Enclave, which shows neither duplicates nor leftovers. A keychain \
                 purge does not unregister it; to start over, the user removes the device in \
                 Company Portal (the device → … → Remove your device)."
            ),
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
            Ok(items) => judge(ctx, &location.describe(), &items, registered),
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

/// `psso`: a Platform SSO registration getPSSOStatus reported, if any.
fn judge(ctx: &mut Ctx, keychain: &str, items: &[KeychainItem], psso: Option<&PssoStatus>) {
    let psso_registered = psso.is_some();
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
    let mut evidence: Vec<Evidence> = certs
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
    let mut ids = device_ids(&certs);
    if let Some(id) = psso.and_then(|p| p.device_id.clone()) {
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
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
        evidence.extend(psso.and_then(PssoStatus::evidence));
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

/// Platform SSO state from Jamf's tool, asked as the console user in their session; `None` when
/// it cannot be told (said in the report).
fn psso_status(ctx: &mut Ctx) -> Option<PssoStatus> {
    let what = format!("{PSSO_TOOL} getPSSOStatus");
    if !ctx.device.has_program(PSSO_TOOL) {
        ctx.could_not_read(
            PSSO_TOOL,
            "not installed (Jamf Pro 11.21.1 or later ships it): whether Platform SSO holds the \
             registration is unknown",
        );
        return None;
    }
    let user = match ctx.device.console_user() {
        Ok(Some(u)) => u,
        Ok(None) => {
            ctx.could_not_read(
                what,
                "nobody is logged in at the console: getPSSOStatus answers for a user in their \
                 session, so whether Platform SSO holds the registration is unknown; run \
                 diagnose while the user is logged in",
            );
            return None;
        }
        Err(e) => {
            ctx.could_not_read(what, format!("finding the console user: {e:#}"));
            return None;
        }
    };
    let opts = RunOpts {
        timeout: Some(Duration::from_secs(30)),
        ..Default::default()
    };
    let (program, args) = as_console_user(&user, PSSO_TOOL, &["getPSSOStatus".to_string()]);
    let mut last = String::new();
    for attempt in 0..2 {
        let out = match ctx.device.run(&program, &args, &opts) {
            Ok(o) => o,
            Err(e) => {
                ctx.could_not_read(what, format!("as {}: {e:#}", user.name));
                return None;
            }
        };
        let first = out.stdout.lines().map(str::trim).find(|l| !l.is_empty());
        match first.map(|l| (l, l.parse::<u8>())) {
            Some((_, Ok(code))) if code <= 2 => {
                return Some(PssoStatus {
                    code,
                    device_id: registration_device_id(&out.stdout),
                    user: user.name,
                })
            }
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
        what,
        format!("no status (0, 1 or 2) as {}: {last}", user.name),
    );
    None
}

/// `primary_registration_metadata_device_id` from getPSSOStatus's metadata, printed as a Swift
/// dictionary: `AnyHashable("primary_registration_metadata_device_id"): "ID"` (quoted or not).
fn registration_device_id(text: &str) -> Option<String> {
    let at = text.find(PSSO_DEVICE_ID_KEY)? + PSSO_DEVICE_ID_KEY.len();
    let rest = text[at..].trim_start_matches(['"', ')', ' ']);
    let rest = rest.strip_prefix(':')?.trim_start().trim_start_matches('"');
    let id: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect();
    (!id.is_empty()).then_some(id)
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

    #[test]
    fn the_device_id_comes_from_the_registration_metadata() {
        // The shape public extension attributes parse (AnyHashable keys, quoted values).
        let out = "2\nextraDeviceInformation [AnyHashable(\"isSSOExtensionInFullMode\"): 1, \
                   AnyHashable(\"primary_registration_metadata_device_id\"): \
                   \"0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0\", \
                   AnyHashable(\"primary_registration_metadata_tenant_id\"): \"t\"]\n";
        assert_eq!(
            registration_device_id(out).as_deref(),
            Some("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0")
        );
        assert_eq!(
            registration_device_id("primary_registration_metadata_device_id\"): abc-1, x")
                .as_deref(),
            Some("abc-1")
        );
        assert_eq!(registration_device_id("2\n"), None);
        assert_eq!(
            registration_device_id("primary_registration_metadata_device_id\"): \"\""),
            None
        );
    }
}
