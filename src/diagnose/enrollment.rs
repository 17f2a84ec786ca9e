//! P3 from the Mac's management state: registration needs the Mac enrolled in Jamf Pro's MDM
//! (`profiles status -type enrollment`), Company Portal deployed and Self Service to start it
//! from (Cause 4's fix depends on both).

use std::time::Duration;

use super::{Confidence, Ctx, Evidence, Finding, Remedy};
use crate::device::RunOpts;

pub const PROFILES: &str = "/usr/bin/profiles";
pub const COMPANY_PORTAL: &str = "/Applications/Company Portal.app";
pub const SELF_SERVICE: &[&str] = &[
    "/Applications/Self Service.app",
    "/Applications/Self Service+.app",
];
pub const JAMF_PREFS: &str = "/Library/Preferences/com.jamfsoftware.jamf.plist";

const STATUS_SOURCE: &str = "profiles status -type enrollment";

/// `profiles status -type enrollment`: `Enrolled via DEP: Yes|No`,
/// `MDM enrollment: Yes (User Approved)|Yes|No`.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct EnrollmentStatus {
    pub ade: Option<bool>,
    pub mdm: Option<bool>,
    pub mdm_line: Option<String>,
}

pub fn parse_status(text: &str) -> EnrollmentStatus {
    let mut s = EnrollmentStatus::default();
    let yes = |v: &str| v.trim_start().to_ascii_lowercase().starts_with("yes");
    for line in text.lines() {
        if let Some(v) = line.trim().strip_prefix("Enrolled via DEP:") {
            s.ade = Some(yes(v));
        } else if let Some(v) = line.trim().strip_prefix("MDM enrollment:") {
            s.mdm = Some(yes(v));
            s.mdm_line = Some(line.trim().to_string());
        }
    }
    s
}

pub(super) fn check(ctx: &mut Ctx) {
    check_mdm(ctx);
    check_apps(ctx);
}

fn check_mdm(ctx: &mut Ctx) {
    let args: Vec<String> = ["status", "-type", "enrollment"].map(String::from).into();
    let out = match ctx.device.run(
        PROFILES,
        &args,
        &RunOpts {
            timeout: Some(Duration::from_secs(60)),
            ..Default::default()
        },
    ) {
        Ok(o) => o,
        Err(e) => return ctx.could_not_read(STATUS_SOURCE, format!("{e:#}")),
    };
    let status = parse_status(&out.stdout);
    let (Some(false), Some(line)) = (status.mdm, &status.mdm_line) else {
        if status.mdm.is_none() {
            ctx.could_not_read(
                STATUS_SOURCE,
                format!(
                    "no `MDM enrollment:` line (exited {}: {})",
                    out.status_text(),
                    out.stderr.trim()
                ),
            );
        }
        return;
    };
    let enroll = if status.ade == Some(true) {
        "this Mac is in Automated Device Enrollment: `sudo profiles renew -type enrollment` and \
         the user approves the notification"
            .to_string()
    } else {
        match jss_url(ctx) {
            Some(url) => format!("the user opens {}enroll and approves the profile", url),
            None => "the user opens <Jamf Pro URL>/enroll and approves the profile".to_string(),
        }
    };
    ctx.find(Finding {
        id: "P3".into(),
        title: "Cannot register: the Mac is not enrolled in MDM (Jamf Pro does not manage it)"
            .into(),
        evidence: vec![Evidence {
            source: STATUS_SOURCE.into(),
            line: None,
            time: None,
            text: line.clone(),
        }],
        confidence: Confidence::High,
        remedy: Remedy {
            manual: Some(format!("Re-enroll the Mac in Jamf Pro: {enroll}.")),
            ..Default::default()
        },
    });
}

/// The Jamf Pro URL (ends with `/`), while the framework is there to say it.
fn jss_url(ctx: &Ctx) -> Option<String> {
    let host = ctx.device.host_path(JAMF_PREFS).ok()?;
    let v = plist::Value::from_file(host).ok()?;
    let url = v.as_dictionary()?.get("jss_url")?.as_string()?.trim();
    Some(if url.ends_with('/') {
        url.to_string()
    } else {
        format!("{url}/")
    })
}

fn installed(ctx: &Ctx, mac: &str) -> bool {
    ctx.device
        .host_path(mac)
        .is_ok_and(|p| p.symlink_metadata().is_ok())
}

fn check_apps(ctx: &mut Ctx) {
    let missing = |what: &str, paths: &[&str]| Evidence {
        source: paths.join(", "),
        line: None,
        time: None,
        text: format!("{what} is not installed"),
    };
    if !installed(ctx, COMPANY_PORTAL) {
        ctx.find(Finding {
            id: "P3".into(),
            title: "Cannot register: Company Portal is not installed".into(),
            evidence: vec![missing("Company Portal", &[COMPANY_PORTAL])],
            confidence: Confidence::Medium,
            remedy: Remedy {
                server: Some(
                    "Deploy Company Portal to this Mac from Jamf Pro and make sure the Intune \
                     registration policy is in Self Service; then the user runs it from Self \
                     Service."
                        .into(),
                ),
                ..Default::default()
            },
        });
    }
    if !SELF_SERVICE.iter().any(|p| installed(ctx, p)) {
        ctx.find(Finding {
            id: "P3".into(),
            title: "Cannot register: Jamf Self Service is not installed (registration must start \
                    from it)"
                .into(),
            evidence: vec![missing("Self Service", SELF_SERVICE)],
            confidence: Confidence::Medium,
            remedy: Remedy {
                server: Some("Deploy Self Service to this Mac from Jamf Pro.".into()),
                ..Default::default()
            },
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_captured_status() {
        let s = parse_status(
            "Enrolled via DEP: Yes\nMDM enrollment: Yes (User Approved)\nMDM server: https://MDMSERVER:8443/mdm/ServerURL\n",
        );
        assert_eq!((s.ade, s.mdm), (Some(true), Some(true)));
        let s = parse_status("Enrolled via DEP: No\nMDM enrollment: No\n");
        assert_eq!((s.ade, s.mdm), (Some(false), Some(false)));
        assert_eq!(
            parse_status("Must be running as root\n"),
            EnrollmentStatus::default()
        );
    }
}
