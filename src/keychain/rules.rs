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
//! [[steps.action.remove]]
//! name = "identity preferences for an ADFS sign-in URL"
//! class = ["identity-preference"]
//! any = { url_path = "/adfs/ls" }
//! [[steps.action.keep]]
//! name = "the JAMF public and private key"
//! class = ["public-key", "private-key"]
//! any = { contains = "jamf" }
//! ```
//!
//! The attributes: `label`, `account`, `service`, `server`, `issuer`, `subject`,
//! `application_tag` (a key's), and `identity_issuer` (an identity preference's: the issuer of
//! the certificate it prefers). `any` matches when one of the item's own attributes matches
//! (every one of them but `identity_issuer`, which belongs to another item).
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
    /// A key's application tag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application_tag: Option<Matcher>,
    /// An identity preference's preferred identity: its certificate's issuer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_issuer: Option<Matcher>,
    /// Matches when any one of the item's own attributes (label, account, service, server,
    /// issuer, subject, application tag) matches: "everything that refers to Microsoft".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub any: Option<Matcher>,
}

/// How one attribute is compared, ignoring case. An empty string matches nothing, so a rule
/// built from an unset playbook variable (`{adfs_url}` on a Mac without ADFS) stays inert.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Matcher {
    Equals(String),
    Prefix(String),
    Contains(String),
    Suffix(String),
    /// The value is a URL (`scheme://host[:port]/path`, as identity preferences are named)
    /// whose path is this one, on any host: a trailing `/`, a query, a fragment and the
    /// ` (app id)` suffix of a per-app identity preference are ignored. A value that is not
    /// such a URL never matches.
    UrlPath(String),
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
            Matcher::Equals(s)
            | Matcher::Prefix(s)
            | Matcher::Contains(s)
            | Matcher::Suffix(s)
            | Matcher::UrlPath(s) => s,
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
            Matcher::UrlPath(_) => url_path(&value)
                .is_some_and(|p| p.trim_end_matches('/') == pattern.trim_end_matches('/')),
        }
    }
}

/// The path of `scheme://host[:port]/path[?query][#fragment][ (app id)]`: `Some("")` for a URL
/// without one, `None` for anything that is not such a URL.
fn url_path(value: &str) -> Option<&str> {
    // A per-app identity preference is named `URL (app id)`; a URL holds no space.
    let url = value.trim().split(' ').next()?;
    let (scheme, rest) = url.split_once("://")?;
    if scheme.is_empty()
        || !scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    {
        return None;
    }
    let rest = rest.split(['?', '#']).next().unwrap_or("");
    let (host, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    if host.is_empty() {
        return None;
    }
    Some(path)
}

impl Rule {
    fn attribute_matchers<'a>(
        &'a self,
        item: &'a KeychainItem,
    ) -> [(&'a Option<Matcher>, Option<&'a str>); 7] {
        [
            (&self.label, item.label.as_deref()),
            (&self.account, item.account.as_deref()),
            (&self.service, item.service.as_deref()),
            (&self.server, item.server.as_deref()),
            (&self.issuer, item.issuer.as_deref()),
            (&self.subject, item.subject.as_deref()),
            (&self.application_tag, item.application_tag.as_deref()),
        ]
    }

    fn matchers(&self) -> [&Option<Matcher>; 9] {
        [
            &self.label,
            &self.account,
            &self.service,
            &self.server,
            &self.issuer,
            &self.subject,
            &self.application_tag,
            &self.identity_issuer,
            &self.any,
        ]
    }

    fn has_matcher(&self) -> bool {
        self.matchers().iter().any(|m| m.is_some())
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
            .all(|(m, v)| m.as_ref().is_none_or(|m| m.matches(*v)))
            && self
                .identity_issuer
                .as_ref()
                .is_none_or(|m| m.matches(item.identity_issuer.as_deref()));
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
                         service, server, issuer, subject, application_tag, identity_issuer, \
                         any), so it would match every item"
                    );
                }
                for m in rule.matchers().into_iter().flatten() {
                    if let Matcher::UrlPath(p) = m {
                        if !p.is_empty() && !p.starts_with('/') {
                            bail!(
                                "{which}: `url_path = \"{p}\"` is not a path; write it from its \
                                 first `/` (\"/adfs/ls\"), without scheme or host"
                            );
                        }
                    }
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

    /// The rules of cause6's keychain step, read from the playbook itself (`{adfs_url}` left
    /// unexpanded: a prefix no label starts with).
    fn rules() -> PurgeRules {
        let doc: toml::Table = toml::from_str(include_str!("../../playbooks/cause6.toml")).unwrap();
        let step = doc["steps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"].as_str() == Some("purge-keychains"))
            .unwrap();
        let action = step["action"].as_table().unwrap();
        let rules = PurgeRules {
            remove: action["remove"].clone().try_into().unwrap(),
            keep: action["keep"].clone().try_into().unwrap(),
        };
        rules.validate().unwrap();
        rules
    }

    const JAMF_KEEP: &str =
        "the JAMF public and private key, and JAMF identities: removing them breaks the device's registration";

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
                    rule: JAMF_KEEP.into()
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
        // cause6's `label = { prefix = "{adfs_url}" }` with adfs_url unset.
        let unset: Rule = toml::from_str(
            "name = \"adfs\"\nclass = [\"identity-preference\"]\nlabel = { prefix = \"\" }\n",
        )
        .unwrap();
        let mut p = item(ItemClass::IdentityPreference);
        p.label = Some("https://sso.contoso.com/saml".into());
        assert!(!unset.matches(&p));
        assert_eq!(rules().decide(&p), Decision::Ignore);
        assert!(!Matcher::UrlPath(String::new()).matches(Some("https://a/")));
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

    fn key(class: ItemClass, label: Option<&str>, tag: Option<&str>) -> KeychainItem {
        let mut k = item(class);
        k.label = label.map(Into::into);
        k.application_tag = tag.map(Into::into);
        k
    }

    /// The article: remove what refers to JAMF "except the JAMF public and private key". Their
    /// real label is unconfirmed: any spelling, in any case, or only the application tag.
    #[test]
    fn every_key_that_mentions_jamf_in_its_label_or_tag_is_kept() {
        let r = rules();
        let kept = Decision::Keep {
            rule: JAMF_KEEP.into(),
        };
        for class in [ItemClass::PublicKey, ItemClass::PrivateKey] {
            for (label, tag) in [
                (Some("JAMF public key"), None),
                (Some("JAMF private key"), None),
                (Some("jamf"), None),
                (Some("Jamf Connect"), Some("")),
                (
                    Some("Device Management Signing Key"),
                    Some("com.jamfsoftware.jss.signing"),
                ),
                (None, Some("JAMF")),
            ] {
                let k = key(class, label, tag);
                assert_eq!(r.decide(&k), kept, "{k:?}");
            }
        }
        // An identity: its certificate stays with its private key.
        let mut cert = item(ItemClass::Certificate);
        cert.label = Some("JAMF device identity".into());
        assert_eq!(r.decide(&cert), kept);
        // What is not a key still goes; other vendors' keys are not touched; a Microsoft key
        // found by its tag goes.
        let mut password = item(ItemClass::GenericPassword);
        password.label = Some("jamf".into());
        assert!(matches!(r.decide(&password), Decision::Remove { .. }));
        let other = key(
            ItemClass::PrivateKey,
            Some("Fabrikam VPN Key"),
            Some("com.fabrikam.vpn"),
        );
        assert_eq!(r.decide(&other), Decision::Ignore);
        let wpj = key(
            ItemClass::PrivateKey,
            Some("Device Key"),
            Some("com.microsoft.workplacejoin"),
        );
        assert_eq!(
            r.decide(&wpj),
            Decision::Remove {
                rule: "everything that refers to Microsoft".into()
            }
        );
    }

    #[test]
    fn any_reads_the_application_tag_but_not_the_preferred_identity() {
        let rule: Rule = toml::from_str("name = \"r\"\nany = { contains = \"jamf\" }\n").unwrap();
        assert!(rule.matches(&key(ItemClass::PublicKey, Some("x"), Some("com.JAMF.x"))));
        let mut pref = item(ItemClass::IdentityPreference);
        pref.label = Some("https://x/".into());
        pref.identity_issuer = Some("JAMF CA".into());
        assert!(!rule.matches(&pref));
        let by_issuer: Rule =
            toml::from_str("name = \"r\"\nidentity_issuer = { equals = \"jamf ca\" }\n").unwrap();
        assert!(by_issuer.matches(&pref));
        let by_tag: Rule =
            toml::from_str("name = \"r\"\napplication_tag = { prefix = \"com.jamf\" }\n").unwrap();
        assert!(by_tag.matches(&key(ItemClass::PublicKey, None, Some("COM.JAMF.x"))));
        assert!(!by_tag.matches(&key(ItemClass::PublicKey, Some("com.jamf.x"), None)));
        // Either is a matcher: a rule with only one of them and no class is not a catch-all.
        PurgeRules {
            remove: vec![by_issuer, by_tag],
            keep: vec![],
        }
        .validate()
        .unwrap();
    }

    #[test]
    fn url_path_matches_that_path_on_any_host_and_nothing_else() {
        let m = Matcher::UrlPath("/adfs/ls".into());
        for yes in [
            "https://adfs.contoso.com/adfs/ls",
            "https://adfs.contoso.com/adfs/ls/",
            "HTTPS://STS.Fabrikam.example:443/ADFS/LS/?wa=wsignin1.0",
            "https://adfs.contoso.com/adfs/ls/#x",
            "https://adfs.contoso.com/adfs/ls/ (UBF8T346G9.com.microsoft.CompanyPortalMac)",
        ] {
            assert!(m.matches(Some(yes)), "{yes}");
        }
        for no in [
            "https://adfs.contoso.com/adfs/lsx",
            "https://adfs.contoso.com/adfs/ls/extra",
            "https://adfs.contoso.com/other/adfs/ls",
            "https://adfs.contoso.com/adfs",
            "https://adfs.contoso.com/",
            "https:///adfs/ls",
            "adfs.contoso.com/adfs/ls",
            "/adfs/ls",
            "https://sso.fabrikam.com/idp/SSO.saml2",
        ] {
            assert!(!m.matches(Some(no)), "{no}");
        }
        assert!(!m.matches(None));
        let bad: PurgeRules = toml::from_str(
            "[[remove]]\nname = \"x\"\nclass = [\"identity-preference\"]\nlabel = { url_path = \"adfs/ls\" }\n",
        )
        .unwrap();
        assert!(bad
            .validate()
            .unwrap_err()
            .to_string()
            .contains("not a path"));
    }

    /// Article step 8: "identity preference named by the ADFS STS URL, where there is one",
    /// found without configuration: by its `/adfs/ls` path on any host, or by the Workplace Join
    /// certificate it prefers. Other vendors' identity preferences stay.
    #[test]
    fn adfs_identity_preferences_are_found_without_adfs_url() {
        let pref = |url: &str, issuer: Option<&str>| {
            let mut p = item(ItemClass::IdentityPreference);
            p.label = Some(url.into());
            p.service = Some(url.into());
            p.identity_issuer = issuer.map(Into::into);
            p
        };
        let by_path = "identity preferences for an ADFS sign-in URL: path /adfs/ls, any host";
        let by_cert = "identity preferences for the Workplace Join certificate, issued by MS-Organization-Access";
        for (p, rule) in [
            (pref("https://adfs.contoso.com/adfs/ls/", None), by_path),
            (
                pref("https://sts.fabrikam.example/adfs/ls", Some("Fabrikam CA")),
                by_path,
            ),
            (
                pref(
                    "https://portal.contoso.com/",
                    Some("MS-Organization-Access"),
                ),
                by_cert,
            ),
            (
                pref(
                    "https://portal.contoso.com/",
                    Some("ms-organization-access"),
                ),
                by_cert,
            ),
        ] {
            assert_eq!(removed_by(&p).as_deref(), Some(rule), "{p:?}");
        }
        // Found by either, named by the first rule that matches.
        assert!(removed_by(&pref(
            "https://adfs.contoso.com/adfs/ls",
            Some("MS-Organization-Access")
        ))
        .is_some());
        for p in [
            pref(
                "https://sso.fabrikam.com/idp/SSO.saml2",
                Some("Fabrikam Issuing CA"),
            ),
            pref(
                "https://adfs.fabrikam.com/adfs/lsx/",
                Some("Fabrikam Issuing CA"),
            ),
            pref("https://vpn.contoso.com/", None),
        ] {
            assert_eq!(rules().decide(&p), Decision::Ignore, "{p:?}");
        }
        // Only identity preferences: a password for an ADFS URL is no concern of these rules.
        let mut password = pref("https://adfs.contoso.com/adfs/ls/", None);
        password.class = Some(ItemClass::InternetPassword);
        assert_eq!(rules().decide(&password), Decision::Ignore);
    }
}
