//! Purge rules: which keychain items a purge removes. Data from the playbook, not code.
//!
//! A playbook's keychain step carries `remove` and `keep` rules. An item goes when any
//! remove-rule matches it and no keep-rule does. A rule matches when the item's class is in
//! `class` (any class when absent) and every attribute matcher it names matches:
//!
//! ```toml
//! [[steps.action.remove]]
//! name = "identity preferences for device registration"
//! class = ["identity-preference"]
//! label = { prefix = "https://enterpriseregistration.windows.net" }
//! [[steps.action.keep]]
//! name = "the JAMF public and private key"
//! class = ["public-key", "private-key"]
//! label = { equals = "JAMF" }
//! ```
//!
//! Matching ignores letter case everywhere: real keychains spell the same issuer
//! `MS-Organization-Access` and `ms-organization-access`.

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};

use super::{ItemClass, KeychainItem};

/// The remove and keep rules of one keychain purge.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PurgeRules {
    #[serde(default)]
    pub remove: Vec<Rule>,
    #[serde(default)]
    pub keep: Vec<Rule>,
}

/// One rule: a class filter and attribute matchers, all of which must match.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Shown in plans and reports ("removed by rule …").
    pub name: String,
    /// The classes this rule applies to; any class when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<Vec<ItemClass>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<Matcher>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<Matcher>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<Matcher>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<Matcher>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<Matcher>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Matcher>,
    /// Matches when any one of label, account, service, server, issuer or subject matches:
    /// "everything that refers to Microsoft".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub any: Option<Matcher>,
}

/// How one attribute is compared, ignoring case. An empty string matches nothing, so a rule
/// built from an unset playbook variable (`{adfs_url}` on a Mac without ADFS) stays inert.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum Matcher {
    Equals(String),
    Prefix(String),
    Contains(String),
    Suffix(String),
}

/// What the rules say about one item.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "decision", rename_all = "kebab-case")]
pub enum Decision {
    /// A remove-rule matched and no keep-rule protects the item.
    Remove { rule: String },
    /// A remove-rule matched, but this keep-rule protects the item.
    Keep { rule: String },
    /// No remove-rule matched.
    Ignore,
}

impl Matcher {
    fn pattern(&self) -> &str {
        match self {
            Matcher::Equals(s) | Matcher::Prefix(s) | Matcher::Contains(s) | Matcher::Suffix(s) => {
                s
            }
        }
    }

    pub fn matches(&self, value: Option<&str>) -> bool {
        let (Some(value), pattern) = (value, self.pattern()) else {
            return false;
        };
        if pattern.is_empty() {
            return false;
        }
        let value = value.to_lowercase();
        let pattern = pattern.to_lowercase();
        match self {
            Matcher::Equals(_) => value == pattern,
            Matcher::Prefix(_) => value.starts_with(&pattern),
            Matcher::Contains(_) => value.contains(&pattern),
            Matcher::Suffix(_) => value.ends_with(&pattern),
        }
    }
}

impl Rule {
    fn attribute_matchers<'a>(
        &'a self,
        item: &'a KeychainItem,
    ) -> [(&'a Option<Matcher>, Option<&'a str>); 6] {
        [
            (&self.label, item.label.as_deref()),
            (&self.account, item.account.as_deref()),
            (&self.service, item.service.as_deref()),
            (&self.server, item.server.as_deref()),
            (&self.issuer, item.issuer.as_deref()),
            (&self.subject, item.subject.as_deref()),
        ]
    }

    fn has_matcher(&self) -> bool {
        self.any.is_some()
            || [
                &self.label,
                &self.account,
                &self.service,
                &self.server,
                &self.issuer,
                &self.subject,
            ]
            .iter()
            .any(|m| m.is_some())
    }

    pub fn matches(&self, item: &KeychainItem) -> bool {
        if let Some(classes) = &self.class {
            if !item.class.is_some_and(|c| classes.contains(&c)) {
                return false;
            }
        }
        let pairs = self.attribute_matchers(item);
        let named_ok = pairs
            .iter()
            .all(|(m, v)| m.as_ref().is_none_or(|m| m.matches(*v)));
        let any_ok = self
            .any
            .as_ref()
            .is_none_or(|m| pairs.iter().any(|(_, v)| m.matches(*v)));
        named_ok && any_ok
    }
}

impl PurgeRules {
    /// Reject rules that would match too much or nothing by construction. Run it when the
    /// playbook is loaded, so a typo stops the plan instead of emptying a keychain.
    pub fn validate(&self) -> Result<()> {
        for (kind, rules) in [("remove", &self.remove), ("keep", &self.keep)] {
            for (i, rule) in rules.iter().enumerate() {
                let which = if rule.name.trim().is_empty() {
                    format!("{kind}-rule #{}", i + 1)
                } else {
                    format!("{kind}-rule \"{}\"", rule.name)
                };
                if rule.name.trim().is_empty() {
                    bail!("{which} has no `name`; give every keychain rule a name for the plan");
                }
                if rule.class.as_ref().is_some_and(Vec::is_empty) {
                    bail!("{which} has an empty `class` list, so it matches nothing; remove `class` to match every class");
                }
                if rule.class.is_none() && !rule.has_matcher() {
                    bail!(
                        "{which} has neither a `class` nor an attribute matcher (label, account, \
                         service, server, issuer, subject, any), so it would match every item"
                    );
                }
            }
        }
        Ok(())
    }

    pub fn decide(&self, item: &KeychainItem) -> Decision {
        let Some(remove) = self.remove.iter().find(|r| r.matches(item)) else {
            return Decision::Ignore;
        };
        match self.keep.iter().find(|r| r.matches(item)) {
            Some(keep) => Decision::Keep {
                rule: keep.name.clone(),
            },
            None => Decision::Remove {
                rule: remove.name.clone(),
            },
        }
    }
}

/// The Entra device ids on this keychain: the subject common name of every certificate issued
/// by MS-Organization-Access (a Mac registered more than once holds several), deduplicated.
pub fn entra_device_ids(items: &[KeychainItem]) -> Vec<String> {
    let mut ids: Vec<String> = items
        .iter()
        .filter(|i| i.class == Some(ItemClass::Certificate))
        .filter(|i| {
            i.issuer.as_deref().is_some_and(|issuer| {
                common_name(issuer).eq_ignore_ascii_case("MS-Organization-Access")
            })
        })
        .filter_map(|i| i.subject.as_deref())
        .map(|s| common_name(s).to_string())
        .filter(|s| !s.is_empty())
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

/// The `CN=` value of a distinguished name (`CN=x, O=y` or `/CN=x/O=y`), or the whole string
/// when it names no attributes (a summary such as the bare device id).
fn common_name(dn: &str) -> &str {
    let parts = dn.split([',', '/']).map(str::trim);
    for part in parts {
        if let Some((key, value)) = part.split_once('=') {
            if key.trim().eq_ignore_ascii_case("CN") {
                return value.trim();
            }
        }
    }
    if dn.contains('=') {
        ""
    } else {
        dn.trim()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_item_without_subject_label_or_issuer_is_never_matched_by_an_attribute_rule() {
        let cert = KeychainItem {
            class: Some(ItemClass::Certificate),
            ..Default::default()
        };
        let rules: PurgeRules = toml::from_str(
            r#"
[[remove]]
name = "empty subject"
subject = { equals = "" }
[[remove]]
name = "any subject"
class = ["certificate"]
subject = { contains = "o=" }
[[remove]]
name = "any issuer"
issuer = { suffix = "" }
[[remove]]
name = "anything"
any = { contains = "scep" }
"#,
        )
        .unwrap();
        rules.validate().unwrap();
        assert_eq!(rules.decide(&cert), Decision::Ignore);
        assert!(entra_device_ids(std::slice::from_ref(&cert)).is_empty());
        let by_class: PurgeRules =
            toml::from_str("[[remove]]\nname = \"certs\"\nclass = [\"certificate\"]\n").unwrap();
        assert_eq!(
            by_class.decide(&cert),
            Decision::Remove {
                rule: "certs".into()
            }
        );
    }

    /// The shape the cause6 playbook uses (the lead copies it into playbooks/).
    const CAUSE6_RULES: &str = r#"
[[remove]]
name = "Workplace Join application passwords"
class = ["generic-password"]
account = { prefix = "com.microsoft.workplacejoin." }
[[remove]]
name = "identity preferences for device registration"
class = ["identity-preference"]
label = { prefix = "https://enterpriseregistration.windows.net" }
[[remove]]
name = "identity preference for the ADFS URL"
class = ["identity-preference"]
label = { prefix = "" }
[[remove]]
name = "certificates issued by MS-Organization-Access"
class = ["certificate"]
issuer = { contains = "ms-organization-access" }
[[remove]]
name = "everything that refers to Microsoft"
any = { contains = "microsoft" }
[[remove]]
name = "everything that refers to Intune"
any = { contains = "intune" }
[[remove]]
name = "everything that refers to Company Portal"
any = { contains = "company portal" }
[[remove]]
name = "device registration service items"
any = { contains = "enterpriseregistration.windows.net" }
[[remove]]
name = "everything that refers to JAMF"
any = { contains = "jamf" }
[[keep]]
name = "the JAMF public and private key"
class = ["public-key", "private-key"]
label = { equals = "JAMF" }
"#;

    fn rules() -> PurgeRules {
        let rules: PurgeRules = toml::from_str(CAUSE6_RULES).unwrap();
        rules.validate().unwrap();
        rules
    }

    fn item(class: ItemClass) -> KeychainItem {
        KeychainItem {
            class: Some(class),
            extractable: true,
            ..Default::default()
        }
    }

    fn removed_by(item: &KeychainItem) -> Option<String> {
        match rules().decide(item) {
            Decision::Remove { rule } => Some(rule),
            _ => None,
        }
    }

    #[test]
    fn workplace_join_passwords_go_even_when_two_share_an_account() {
        let mut a = item(ItemClass::GenericPassword);
        a.account = Some("com.microsoft.workplacejoin.devicePatchAttemptTimestamp".into());
        a.service = Some("com.microsoft.workplacejoin".into());
        let b = a.clone();
        assert_eq!(
            removed_by(&a).as_deref(),
            Some("Workplace Join application passwords")
        );
        assert_eq!(removed_by(&a), removed_by(&b));
    }

    #[test]
    fn identity_preferences_go_with_or_without_slash_or_team_suffix() {
        for label in [
            "https://enterpriseregistration.windows.net",
            "https://enterpriseregistration.windows.net/",
            "https://enterpriseregistration.windows.net (UBF8T346G9.com.microsoft.CompanyPortalMac)",
            "HTTPS://EnterpriseRegistration.windows.net/",
        ] {
            let mut p = item(ItemClass::IdentityPreference);
            p.label = Some(label.into());
            assert_eq!(
                removed_by(&p).as_deref(),
                Some("identity preferences for device registration"),
                "{label}"
            );
        }
    }

    #[test]
    fn the_registration_certificate_goes_whatever_the_issuer_case() {
        for issuer in ["MS-Organization-Access", "ms-organization-access"] {
            let mut c = item(ItemClass::Certificate);
            c.label = Some("0b7e4c3a-aaaa-bbbb-cccc-123456789abc".into());
            c.issuer = Some(issuer.into());
            c.subject = Some("CN=0b7e4c3a-aaaa-bbbb-cccc-123456789abc".into());
            assert_eq!(
                removed_by(&c).as_deref(),
                Some("certificates issued by MS-Organization-Access")
            );
        }
        let mut login = item(ItemClass::Certificate);
        login.label = Some("DeviceLogin.microsoft.com".into());
        assert!(removed_by(&login).is_some());
    }

    #[test]
    fn the_session_transport_key_goes_as_a_key() {
        for class in [ItemClass::PrivateKey, ItemClass::PublicKey] {
            let mut k = item(class);
            k.label = Some("Microsoft Session Transport Key".into());
            assert_eq!(
                removed_by(&k).as_deref(),
                Some("everything that refers to Microsoft")
            );
        }
    }

    #[test]
    fn the_jamf_keys_are_kept_and_other_jamf_items_go() {
        let r = rules();
        for class in [ItemClass::PublicKey, ItemClass::PrivateKey] {
            let mut k = item(class);
            k.label = Some("JAMF".into());
            assert_eq!(
                r.decide(&k),
                Decision::Keep {
                    rule: "the JAMF public and private key".into()
                }
            );
        }
        let mut aad = item(ItemClass::GenericPassword);
        aad.service = Some("com.jamf.management.jamfAAD".into());
        assert!(matches!(r.decide(&aad), Decision::Remove { .. }));
    }

    #[test]
    fn unrelated_items_survive() {
        let r = rules();
        let mut chrome = item(ItemClass::GenericPassword);
        chrome.label = Some("Chrome Safe Storage".into());
        chrome.service = Some("Chrome Safe Storage".into());
        chrome.account = Some("Chrome".into());
        let mut wifi = item(ItemClass::GenericPassword);
        wifi.label = Some("CorpWiFi".into());
        wifi.service = Some("AirPort".into());
        wifi.account = Some("CorpWiFi".into());
        assert_eq!(r.decide(&chrome), Decision::Ignore);
        assert_eq!(r.decide(&wifi), Decision::Ignore);
    }

    #[test]
    fn an_empty_pattern_matches_nothing() {
        let mut p = item(ItemClass::IdentityPreference);
        p.label = Some("https://adfs.contoso.com/adfs/ls".into());
        assert_eq!(rules().decide(&p), Decision::Ignore);
        assert!(!Matcher::Equals(String::new()).matches(Some("")));
        assert!(!Matcher::Contains("x".into()).matches(None));
    }

    #[test]
    fn several_matchers_must_all_match() {
        let rule: Rule = toml::from_str(
            "name = \"r\"\nlabel = { equals = \"a\" }\naccount = { suffix = \"B\" }\n",
        )
        .unwrap();
        let mut i = item(ItemClass::GenericPassword);
        i.label = Some("A".into());
        assert!(!rule.matches(&i));
        i.account = Some("xb".into());
        assert!(rule.matches(&i));
    }

    #[test]
    fn validation_rejects_catch_all_and_unknown_fields() {
        let bad: PurgeRules = toml::from_str("[[remove]]\nname = \"all\"\n").unwrap();
        assert!(bad
            .validate()
            .unwrap_err()
            .to_string()
            .contains("every item"));
        let empty: PurgeRules = toml::from_str("[[remove]]\nname = \"x\"\nclass = []\n").unwrap();
        assert!(empty.validate().is_err());
        let unnamed: PurgeRules =
            toml::from_str("[[keep]]\nname = \"\"\nlabel = { equals = \"JAMF\" }\n").unwrap();
        assert!(unnamed.validate().is_err());
        assert!(toml::from_str::<PurgeRules>(
            "[[remove]]\nname = \"x\"\nlabl = { equals = \"a\" }\n"
        )
        .is_err());
        assert!(toml::from_str::<PurgeRules>(
            "[[remove]]\nname = \"x\"\nlabel = { equals = \"a\", prefix = \"b\" }\n"
        )
        .is_err());
        assert!(toml::from_str::<PurgeRules>(
            "[[remove]]\nname = \"x\"\nlabel = { starts = \"a\" }\n"
        )
        .is_err());
    }

    #[test]
    fn entra_device_ids_are_common_names_of_organization_access_certificates() {
        let cert = |issuer: &str, subject: &str| KeychainItem {
            class: Some(ItemClass::Certificate),
            issuer: Some(issuer.into()),
            subject: Some(subject.into()),
            ..Default::default()
        };
        let items = vec![
            cert("MS-Organization-Access", "CN=bbbb-2"),
            cert("ms-organization-access", "aaaa-1"),
            cert("CN=MS-Organization-Access, DC=windows, DC=net", "CN=aaaa-1"),
            cert("DigiCert", "CN=www.example.com"),
        ];
        assert_eq!(entra_device_ids(&items), vec!["aaaa-1", "bbbb-2"]);
    }
}
