//! Company Portal's own logs (`~/Library/Logs/Company Portal/*.log`, rotations compressed or not):
//! the messages the article quotes for Causes 4 and 5, keychain errors that leave an old
//! registration behind, and the keychain prompts of P2 / Cause 7 when they were logged.
//! Company Portal stamps lines `2020-04-27 03:07:10.363` in UTC; unstamped lines still count.

use super::clock::parse_iso_utc;
use super::{in_home, lines, norm, Confidence, Ctx, Evidence, Finding, Remedy};
use crate::device::LocalUser;

pub const LOG_DIR: &str = "Library/Logs/Company Portal";

/// Matching lines kept as evidence per finding (the most recent).
const MAX_SHOWN: usize = 3;

/// A documented message, wherever it is found (Company Portal's files, the unified log).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Sign {
    DirectEnrollment,
    IntegrationOff,
    KeychainOwner,
    JamfAadPrompt,
    AppPrompt,
}

pub(super) const ALL: [Sign; 5] = [
    Sign::DirectEnrollment,
    Sign::IntegrationOff,
    Sign::KeychainOwner,
    Sign::JamfAadPrompt,
    Sign::AppPrompt,
];

const WPJ_PROMPTS: &[&str] = &[
    "wants to access key \"Microsoft Workplace Join Key\"",
    "wants to sign using key \"Microsoft Workplace Join Key\"",
];

impl Sign {
    /// `line` must be folded (`norm::fold`); the markers are folded as they are matched.
    pub(super) fn matches(self, line: &str) -> bool {
        let has = |marker: &str| norm::contains(line, marker);
        match self {
            Sign::DirectEnrollment => has(
                "Portal launched without WPJ only arg while account is under partner management",
            ),
            Sign::IntegrationOff => has(
                "Registration-only command line flag (-r) can only be used when partner management is enabled",
            ),
            Sign::KeychainOwner => has("-25244") || has("errSecInvalidOwnerEdit"),
            Sign::JamfAadPrompt => {
                is_prompt(line) && (has("JamfAAD wants") || has("Jamf Conditional Access wants"))
            }
            Sign::AppPrompt => is_prompt(line) && !Sign::JamfAadPrompt.matches(line),
        }
    }

    /// Id, title and remedy; `user` names where it was logged (a user, or the unified log).
    pub(super) fn finding(self, user: &str, count: usize) -> (&'static str, String, Remedy) {
        let times = if count == 1 {
            "once".to_string()
        } else {
            format!("{count} times")
        };
        match self {
            Sign::DirectEnrollment => (
                "C4",
                format!(
                    "Company Portal was not started from Jamf Self Service, so the Mac enrolled in \
                     Intune directly ({user}, logged {times})"
                ),
                Remedy {
                    playbook: Some("reregister".into()),
                    server: Some(
                        "Unenroll the Mac from Intune (delete its Intune record; if it was \
                         registered several times, run cause6 instead). Make sure Jamf Pro deploys \
                         the Company Portal app and has the Intune registration policy in Self \
                         Service."
                            .into(),
                    ),
                    manual: Some(
                        "The user opens Company Portal through Jamf Self Service (never directly), \
                         signs in with the work account and registers."
                            .into(),
                    ),
                },
            ),
            Sign::IntegrationOff => (
                "C5",
                format!(
                    "The Intune integration is switched off in Jamf Pro: Company Portal refused \
                     the registration-only flag -r ({user}, logged {times})"
                ),
                Remedy {
                    server: Some(
                        "In Jamf Pro, enable the macOS Intune integration (Conditional Access \
                         settings) and save; then the user runs the registration policy from Self \
                         Service again."
                            .into(),
                    ),
                    ..Default::default()
                },
            ),
            Sign::KeychainOwner => (
                "C6",
                format!(
                    "Company Portal could not replace Workplace Join items left by an earlier \
                     registration (-25244 errSecInvalidOwnerEdit; {user}, logged {times})"
                ),
                Remedy {
                    playbook: Some("cause6".into()),
                    ..Default::default()
                },
            ),
            Sign::JamfAadPrompt => (
                "C7",
                format!(
                    "JamfAAD asked for the login keychain password to use \"Microsoft Workplace \
                     Join Key\" ({user}, logged {times})"
                ),
                Remedy {
                    manual: Some(
                        "When JamfAAD asks for \"Microsoft Workplace Join Key\", the user enters \
                         the login keychain password and chooses Allow."
                            .into(),
                    ),
                    ..Default::default()
                },
            ),
            Sign::AppPrompt => (
                "P2",
                format!(
                    "An app asked for the login keychain password to use \"Microsoft Workplace \
                     Join Key\" ({user}, logged {times})"
                ),
                Remedy {
                    manual: Some(
                        "Expected once per app: the user enters the login keychain password and \
                         chooses Always Allow (remembered for that app only)."
                            .into(),
                    ),
                    ..Default::default()
                },
            ),
        }
    }

    /// Keychain errors show leftovers but not that they still block registration.
    pub(super) fn max_confidence(self) -> Confidence {
        match self {
            Sign::KeychainOwner => Confidence::Medium,
            _ => Confidence::High,
        }
    }
}

fn is_prompt(line: &str) -> bool {
    WPJ_PROMPTS.iter().any(|p| norm::contains(line, p))
}

#[derive(Default)]
struct Hits {
    count: usize,
    latest: Option<i64>,
    shown: Vec<Evidence>,
}

pub(super) fn check(ctx: &mut Ctx, user: &LocalUser) {
    let mac_dir = in_home(user, LOG_DIR);
    let Ok(dir) = ctx.device.host_path(&mac_dir) else {
        return;
    };
    let mut files: Vec<_> = match std::fs::read_dir(&dir) {
        Ok(entries) => entries
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().contains(".log"))
            .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
        Err(e) => return ctx.could_not_read(mac_dir, lines::read_error_reason(&e)),
    };
    files.sort();
    let mut hits: Vec<Hits> = ALL.iter().map(|_| Hits::default()).collect();
    for name in files {
        let source = format!("{mac_dir}/{name}");
        let result = lines::for_each_line(&dir.join(&name), |n, text| {
            let folded = norm::fold(text);
            for (sign, h) in ALL.iter().zip(hits.iter_mut()) {
                if !sign.matches(&folded) {
                    continue;
                }
                let time = parse_iso_utc(text);
                h.count += 1;
                h.latest = h.latest.max(time);
                h.shown.push(ctx.log_evidence(&source, n, time, text));
                if h.shown.len() > MAX_SHOWN {
                    h.shown.remove(0);
                }
            }
        });
        if let Err(e) = result {
            ctx.could_not_read(source, lines::read_error_reason(&e));
        }
    }
    for (sign, h) in ALL.iter().zip(hits) {
        if h.count == 0 {
            continue;
        }
        let (id, title, remedy) = sign.finding(&user.name, h.count);
        let confidence = ctx.recency_confidence(h.latest).max(sign.max_confidence());
        ctx.find(Finding {
            id: id.into(),
            title,
            evidence: h.shown,
            confidence,
            remedy,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompts_split_between_jamfaad_and_other_apps() {
        let jamf = "JamfAAD wants to access key \"Microsoft Workplace Join Key\" in your keychain.";
        let teams = "Microsoft Teams wants to sign using key \"Microsoft Workplace Join Key\" in your keychain.";
        assert!(Sign::JamfAadPrompt.matches(jamf));
        assert!(!Sign::AppPrompt.matches(jamf));
        assert!(Sign::AppPrompt.matches(teams));
        assert!(!Sign::JamfAadPrompt.matches(teams));
        assert!(!Sign::AppPrompt.matches("Microsoft Workplace Join Key created"));
    }

    #[test]
    fn typographic_variants_of_the_quoted_messages_match() {
        let curly = norm::fold(
            "JamfAAD wants to access key \u{201C}Microsoft Workplace Join Key\u{201D} in your keychain.",
        );
        assert!(Sign::JamfAadPrompt.matches(&curly));
        let nbsp = norm::fold(
            "Invalid command line input\u{FF1A} Registration-only command line flag (-r) can only be used when partner\u{00A0}management is enabled in Intune.",
        );
        assert!(Sign::IntegrationOff.matches(&nbsp));
        let narrow = norm::fold(
            "Portal launched without WPJ only arg while account is under partner\u{202F}management",
        );
        assert!(Sign::DirectEnrollment.matches(&narrow));
        assert!(Sign::KeychainOwner.matches(&norm::fold("OSStatus \u{2212}25244")));
    }
}
