//! Managed network and trust payloads: the computer-level configuration profiles that give a Mac
//! its network (Wi-Fi, 802.1X Ethernet, VPN) or its trust in servers (root and intermediate
//! certificates, the identities 802.1X and VPN authenticate with). Removing the MDM profile
//! removes every profile the MDM installed, so a Mac whose only network is a managed Wi-Fi, or
//! whose trust in Jamf Pro or Microsoft comes from a managed root certificate, is stranded after
//! `remove-mdm-profile`. Which profiles go with the MDM profile cannot be told from the listing
//! (a profile installed by hand stays; [verify] on a Mac), so every computer-level profile
//! carrying such a payload is listed as one that *may* be removed with it.
//!
//! Read from `profiles show -type configuration` (the verbose computer-level listing:
//! `_computerlevel[N] attribute: name: …`, `… attribute: profileIdentifier: …`, then one line per
//! payload field, `… payload[M] type = com.apple.wifi.managed`). No real capture of the payload
//! lines was found ([verify]): the reader therefore looks for a known payload type anywhere on a
//! line naming `payload[`, so the verbose form and the short `payload[M] TYPE: NAME` form of
//! `samples/profiles_list_jamf_mdm_profile.txt` both read.

use std::time::Duration;

use serde_json::{json, Value};

use crate::device::{Device, RunOpts};

/// `profiles show -type configuration`, read: `None` when `profiles` is not there or does not
/// answer (nothing is guessed).
pub fn read(device: &Device) -> Option<Vec<ManagedPayload>> {
    const PROFILES: &str = "/usr/bin/profiles";
    if !device.has_program(PROFILES) {
        return None;
    }
    let args: Vec<String> = ["show", "-type", "configuration"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let out = device
        .run(
            PROFILES,
            &args,
            &RunOpts {
                timeout: Some(Duration::from_secs(60)),
                ..Default::default()
            },
        )
        .ok()?;
    out.success().then(|| parse(&out.stdout))
}

/// The payload types that carry a Mac's network or its trust, with what an admin calls them.
/// `…ethernet.managed` covers every 802.1X Ethernet variant (first active, first, second,
/// global).
const KINDS: &[(&str, &str)] = &[
    ("com.apple.wifi.managed", "Wi-Fi"),
    ("com.apple.vpn.managed", "VPN"),
    ("com.apple.vpn.managed.applayer", "per-app VPN"),
    ("com.apple.security.root", "root certificate"),
    ("com.apple.security.pkcs1", "certificate"),
    ("com.apple.security.pem", "certificate"),
    ("com.apple.security.pkcs12", "identity (PKCS #12)"),
    ("com.apple.security.scep", "identity (SCEP)"),
    ("com.apple.security.acme", "identity (ACME)"),
];

/// The Jamf MDM profile itself is not listed: its own certificates go and come back with it.
const JAMF_MDM_PROFILE_UUID: &str = "00000000-0000-0000-A000-4A414D460003";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManagedPayload {
    /// What an admin calls it: "Wi-Fi", "root certificate", …
    pub kind: String,
    /// The payload type, e.g. `com.apple.wifi.managed`.
    pub payload_type: String,
    /// The profile's name (`attribute: name:`), empty when the listing has none.
    pub profile: String,
    /// The profile's identifier (`attribute: profileIdentifier:`).
    pub identifier: String,
}

impl ManagedPayload {
    /// `Wi-Fi (com.apple.wifi.managed) in profile "Contoso Wi-Fi" (com.contoso.wifi)`.
    pub fn describe(&self) -> String {
        let name = if self.profile.is_empty() {
            "(no name)"
        } else {
            &self.profile
        };
        format!(
            "{} ({}) in profile \"{name}\" ({})",
            self.kind, self.payload_type, self.identifier
        )
    }
}

fn kind_of(token: &str) -> Option<&'static str> {
    let token = token.trim_matches(|c: char| !(c.is_ascii_alphanumeric() || c == '.'));
    if let Some((_, k)) = KINDS.iter().find(|(t, _)| t.eq_ignore_ascii_case(token)) {
        return Some(k);
    }
    let t = token.to_ascii_lowercase();
    (t.starts_with("com.apple.") && t.ends_with("ethernet.managed")).then_some("Ethernet (802.1X)")
}

/// Every network or trust payload of a computer-level profile other than the Jamf MDM profile,
/// in listing order, one entry per payload.
pub fn parse(listing: &str) -> Vec<ManagedPayload> {
    struct Profile {
        index: String,
        name: String,
        identifier: String,
        uuid: String,
        payloads: Vec<(String, &'static str)>,
    }
    let mut profiles: Vec<Profile> = Vec::new();
    for line in listing.lines() {
        let line = line.trim();
        let Some(rest) = line.strip_prefix("_computerlevel[") else {
            continue;
        };
        let Some((index, body)) = rest.split_once(']') else {
            continue;
        };
        if profiles.last().is_none_or(|p| p.index != index) {
            profiles.push(Profile {
                index: index.to_string(),
                name: String::new(),
                identifier: String::new(),
                uuid: String::new(),
                payloads: Vec::new(),
            });
        }
        let Some(p) = profiles.last_mut() else {
            continue;
        };
        let body = body.trim();
        if let Some(attr) = body.strip_prefix("attribute:") {
            let attr = attr.trim();
            if let Some(v) = attr.strip_prefix("name:") {
                p.name = v.trim().to_string();
            } else if let Some(v) = attr.strip_prefix("profileIdentifier:") {
                p.identifier = v.trim().to_string();
            } else if let Some(v) = attr.strip_prefix("profileUUID:") {
                p.uuid = v.trim().to_string();
            }
        } else if body.starts_with("payload[") {
            for token in body.split(|c: char| c.is_whitespace() || c == '=') {
                if let Some(kind) = kind_of(token) {
                    let t = token
                        .trim_matches(|c: char| !(c.is_ascii_alphanumeric() || c == '.'))
                        .to_string();
                    if !p.payloads.iter().any(|(seen, _)| *seen == t) {
                        p.payloads.push((t, kind));
                    }
                }
            }
        }
    }
    profiles
        .into_iter()
        .filter(|p| {
            !p.identifier.eq_ignore_ascii_case(JAMF_MDM_PROFILE_UUID)
                && !p.uuid.eq_ignore_ascii_case(JAMF_MDM_PROFILE_UUID)
        })
        .flat_map(|p| {
            let (name, identifier) = (p.name, p.identifier);
            p.payloads
                .into_iter()
                .map(move |(payload_type, kind)| ManagedPayload {
                    kind: kind.to_string(),
                    payload_type,
                    profile: name.clone(),
                    identifier: identifier.clone(),
                })
        })
        .collect()
}

/// The fact `managed_payloads` records: one line per payload ([`ManagedPayload::describe`]).
pub fn fact(payloads: &[ManagedPayload]) -> Value {
    json!(payloads.iter().map(|p| p.describe()).collect::<Vec<_>>())
}

/// The lines of the fact, whatever the journal holds (absent: none).
pub fn from_fact(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

/// How the warning starts (`run --yes` finds it among a plan's warnings).
pub const WARNING_START: &str =
    "managed network or trust payloads may be removed with the MDM profile";

/// The warning `plan` shows (every mode) and `run` repeats: `step` is the first step that may
/// remove the MDM profile.
pub fn warning(step: &str, lines: &[String]) -> String {
    format!(
        "{WARNING_START} (step `{step}`): {}. A Mac whose only network is such a Wi-Fi, 802.1X or VPN, or whose trust in the Jamf Pro or Microsoft servers comes from such a certificate, cannot re-enroll after that step: give it another network (Ethernet without 802.1X, an open or personal Wi-Fi) and check that it trusts the servers without the profile",
        lines.join("; ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const LISTING: &str = "\
_computerlevel[1] attribute: name: MDM Profile
_computerlevel[1] attribute: profileIdentifier: 00000000-0000-0000-A000-4A414D460003
_computerlevel[1] attribute: profileUUID: 00000000-0000-0000-A000-4A414D460003
_computerlevel[1] payload count = 2
_computerlevel[1]            payload[1] JAMF Manual Enrollment Payload: MDM
_computerlevel[1]            payload[2] com.apple.security.root: Jamf Pro CA
_computerlevel[2] attribute: name: Contoso Wi-Fi
_computerlevel[2] attribute: profileIdentifier: com.contoso.wifi
_computerlevel[2] payload count = 2
_computerlevel[2]      payload[1] name\t= Contoso Corp
_computerlevel[2]      payload[1] type\t= com.apple.wifi.managed
_computerlevel[2]      payload[2] type\t= com.apple.security.scep
_computerlevel[3] attribute: name: Printers
_computerlevel[3] attribute: profileIdentifier: com.contoso.printers
_computerlevel[3]      payload[1] type\t= com.apple.mcxprinting
_computerlevel[4] attribute: name: Wired
_computerlevel[4] attribute: profileIdentifier: com.contoso.wired
_computerlevel[4]      payload[1] com.apple.firstactiveethernet.managed: Wired 802.1X
There are 4 configuration profiles installed
";

    #[test]
    fn lists_network_and_trust_payloads_but_not_the_mdm_profiles_own() {
        let p = parse(LISTING);
        let d: Vec<String> = p.iter().map(ManagedPayload::describe).collect();
        assert_eq!(
            d,
            vec![
                "Wi-Fi (com.apple.wifi.managed) in profile \"Contoso Wi-Fi\" (com.contoso.wifi)",
                "identity (SCEP) (com.apple.security.scep) in profile \"Contoso Wi-Fi\" (com.contoso.wifi)",
                "Ethernet (802.1X) (com.apple.firstactiveethernet.managed) in profile \"Wired\" (com.contoso.wired)",
            ]
        );
        assert!(parse("There are no configuration profiles installed\n").is_empty());
        // A user-level profile is the user's: not listed.
        assert!(parse(
            "alice[1] attribute: name: W\nalice[1]  payload[1] type = com.apple.wifi.managed\n"
        )
        .is_empty());
        assert_eq!(from_fact(Some(&fact(&p))).len(), 3);
        assert!(from_fact(None).is_empty());
    }
}
