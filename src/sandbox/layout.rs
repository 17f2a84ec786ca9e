//! What a sandbox device holds: the lists of paths (shared with tests that cross-check the
//! playbooks) and the code that plants them.

use anyhow::Result;
use plist::{Dictionary, Value};

use super::plant::{tag, Planter};
use super::{fakes, UserSpec};

/// What the Cause 6 purge removes system-wide (Mac paths). Folders have no trailing `/`.
pub const PURGE_PATHS_SYSTEM: &[&str] = &[
    "/Library/Application Support/com.microsoft.CompanyPortal.usercontext.info",
    "/Library/Application Support/com.microsoft.CompanyPortal",
    "/Library/Application Support/com.microsoft.CompanyPortalMac",
    "/Library/Application Support/com.microsoft.CompanyPortalMac.usercontext.info",
    "/Library/Application Support/com.jamfsoftware.selfservice.mac",
    "/Library/Saved Application State/com.jamfsoftware.selfservice.mac.savedState",
    "/Library/Saved Application State/com.microsoft.CompanyPortal.savedState",
    "/Library/Saved Application State/com.microsoft.CompanyPortalMac.savedState",
    "/Library/Preferences/com.microsoft.CompanyPortal.plist",
    "/Library/Preferences/com.microsoft.CompanyPortalMac.plist",
    "/Library/Preferences/com.jamfsoftware.selfservice.mac.plist",
    "/Library/Preferences/com.jamfsoftware.management.jamfAAD.plist",
    "/Library/Preferences/com.jamf.management.jamfAAD.plist",
    "/Library/LaunchAgents/com.jamf.management.jamfAAD.agent.plist",
];

/// What the Cause 6 purge removes in every user's home (relative to the home folder).
pub const PURGE_PATHS_USER: &[&str] = &[
    "Library/Cookies/com.microsoft.CompanyPortal.binarycookies",
    "Library/Cookies/com.microsoft.CompanyPortalMac.binarycookies",
    "Library/Cookies/com.jamf.management.jamfAAD.binarycookies",
    "Library/Cookies/com.jamfsoftware.selfservice.mac.binarycookies",
    "Library/Application Support/com.microsoft.CompanyPortal.usercontext.info",
    "Library/Application Support/com.microsoft.CompanyPortal",
    "Library/Application Support/com.microsoft.CompanyPortalMac",
    "Library/Application Support/com.microsoft.CompanyPortalMac.usercontext.info",
    "Library/Application Support/Company Portal",
    "Library/Application Support/com.jamfsoftware.selfservice.mac",
    "Library/Saved Application State/com.jamfsoftware.selfservice.mac.savedState",
    "Library/Saved Application State/com.microsoft.CompanyPortal.savedState",
    "Library/Saved Application State/com.microsoft.CompanyPortalMac.savedState",
    "Library/Saved Application State/com.jamf.management.jamfAAD.savedState",
    "Library/Preferences/com.microsoft.CompanyPortal.plist",
    "Library/Preferences/com.microsoft.CompanyPortalMac.plist",
    "Library/Preferences/com.jamfsoftware.selfservice.mac.plist",
    "Library/Preferences/com.jamfsoftware.management.jamfAAD.plist",
    "Library/Preferences/com.jamf.management.jamfAAD.plist",
    "Library/Containers/com.microsoft.CompanyPortalMac.Mac-Autofill-Extension",
    "Library/Containers/com.microsoft.entrabroker.BrokerApp",
    "Library/Group Containers/UBF8T346G9.com.microsoft.entrabroker",
    "Library/Group Containers/UBF8T346G9.com.microsoft.oneauth",
    "Library/Application Scripts/UBF8T346G9.com.microsoft.oneauth",
    "Library/WebKit/com.microsoft.CompanyPortal",
    "Library/WebKit/com.microsoft.CompanyPortalMac",
    "Library/Caches/com.microsoft.CompanyPortalMac",
    "Library/Caches/com.microsoft.CompanyPortal",
    "Library/HTTPStorages/com.microsoft.CompanyPortalMac",
];

/// Artifacts of the same app families that no playbook names one by one, as real Macs carry
/// them: only the family selectors (`remove` with `families`) find these (issue 12).
pub const FAMILY_PATHS_SYSTEM: &[&str] = &[
    "/Library/Caches/com.jamf.management.jamfAAD",
    "/Library/Saved Application State/com.jamf.selfserviceplus.savedState",
];

/// The same, in every home (relative to it).
pub const FAMILY_PATHS_USER: &[&str] = &[
    "Library/Preferences/ByHost/com.microsoft.CompanyPortalMac.8E2F4B1C-6D3A-4F5E-9A7B-0C1D2E3F4A5B.plist",
    "Library/Containers/com.microsoft.CompanyPortalMac.ssoextension",
    "Library/Application Scripts/com.microsoft.CompanyPortalMac.ssoextension",
    "Library/HTTPStorages/com.microsoft.CompanyPortalMac.binarycookies",
    "Library/Caches/com.jamf.management.jamfAAD",
    "Library/HTTPStorages/com.jamf.management.jamfAAD",
    "Library/WebKit/com.jamfsoftware.selfservice.mac",
    "Library/Caches/com.jamfsoftware.selfservice.mac",
    "Library/Preferences/com.jamf.selfserviceplus.plist",
    "Library/Caches/com.jamf.selfserviceplus",
];

/// Unrelated system files planted next to the targets: a purge must leave them alone.
pub const SURVIVOR_PATHS_SYSTEM: &[&str] = &[
    "/Library/Preferences/com.apple.loginwindow.plist",
    "/Library/LaunchDaemons/com.microsoft.autoupdate.helper.plist",
    "/var/db/receipts/com.microsoft.package.Microsoft_Outlook.app.plist",
    "/Applications/Company Portal.app",
    "/Applications/Self Service.app",
];

/// Unrelated files in every home (relative to it): a purge must leave them alone.
pub const SURVIVOR_PATHS_USER: &[&str] = &[
    "Library/Preferences/com.apple.finder.plist",
    "Library/Group Containers/UBF8T346G9.Office",
    "Library/Cookies/Cookies.binarycookies",
    "Library/Logs/Company Portal",
    "Documents/notes.txt",
    // Look-alikes of the families: other Microsoft apps, Jamf Connect (whose preference
    // domain Self Service+ shares), names that only begin like a family's identifier.
    "Library/Preferences/com.microsoft.Word.plist",
    "Library/Application Support/Microsoft/Teams",
    "Library/Containers/com.microsoft.Outlook",
    "Library/Caches/com.microsoft.CompanyPortalMacHelper",
    "Library/Preferences/com.jamf.connect.plist",
    "Library/Caches/com.jamfsoftware.selfservice.macos-helper",
];

/// The Jamf management framework: removed by `jamf removeFramework`, restored by re-enrolling.
pub const FRAMEWORK_PATHS: &[&str] = &[
    "/Library/Preferences/com.jamfsoftware.jamf.plist",
    "/usr/local/jamf/bin/jamf",
    "/usr/local/jamf/bin/jamfAAD",
    "/usr/local/bin/jamf",
    "/Library/Application Support/JAMF",
    "/Library/LaunchDaemons/com.jamfsoftware.task.1.plist",
    "/Library/LaunchDaemons/com.jamfsoftware.jamf.daemon.plist",
    "/Library/LaunchDaemons/com.jamf.management.daemon.plist",
    "/Library/LaunchAgents/com.jamf.management.agent.plist",
    "/Library/LaunchAgents/com.jamfsoftware.jamf.agent.plist",
];

pub const USER_AAD_PREFERENCES: &str = "Library/Preferences/com.jamf.management.jamfAAD.plist";
pub const JSS_URL: &str = "https://example.jamfcloud.com/";
pub const JAMF_BINARY: &str = "/usr/local/jamf/bin/jamf";
pub const CONDITIONAL_ACCESS: &str = "/Library/Application Support/JAMF/Jamf.app/Contents/MacOS/Jamf Conditional Access.app/Contents/MacOS/Jamf Conditional Access";
const JAMF_APP_BINARY: &str = "/Library/Application Support/JAMF/Jamf.app/Contents/MacOS/Jamf";

fn dict<const N: usize>(entries: [(&str, Value); N]) -> Value {
    Value::Dictionary(
        entries
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect::<Dictionary>(),
    )
}

fn strings(items: &[&str]) -> Value {
    Value::Array(items.iter().map(|s| Value::String(s.to_string())).collect())
}

pub(crate) fn now_epoch() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The file or folder a purge target stands for. Files are told apart by their extension.
fn plant_target(p: &mut Planter, mac: &str, owner: &str) -> Result<()> {
    let name = mac.rsplit('/').next().unwrap_or(mac);
    if mac.starts_with("/Library/LaunchAgents/") {
        let label = name.trim_end_matches(".plist");
        p.xml_plist(
            mac,
            &launchd_plist(label, &[CONDITIONAL_ACCESS, "agent_entry"], None),
        )?;
    } else if name.ends_with(".plist") {
        let pref = dict([
            ("SUEnableAutomaticChecks", Value::Boolean(false)),
            ("LastUser", Value::String(owner.to_string())),
            ("LaunchCount", Value::Integer(7.into())),
        ]);
        p.binary_plist(mac, &pref)?;
    } else if name.ends_with(".usercontext.info") {
        let info = dict([
            (
                "UserPrincipalName",
                Value::String(format!("{owner}@contoso.com")),
            ),
            ("Environment", Value::String("PROD".into())),
        ]);
        let host = p.xml_plist(mac, &info)?;
        tag(&host);
    } else if name.ends_with(".binarycookies") {
        let mut cookies = b"cook\x00\x00\x00\x01".to_vec();
        cookies.extend_from_slice(format!("login.microsoftonline.com ESTSAUTH {owner}").as_bytes());
        p.file(mac, cookies)?;
    } else {
        p.app_folder(mac)?;
    }
    Ok(())
}

pub(crate) fn plant_system(p: &mut Planter, console: &str) -> Result<()> {
    for mac in PURGE_PATHS_SYSTEM.iter().chain(FAMILY_PATHS_SYSTEM) {
        plant_target(p, mac, console)?;
    }
    p.binary_plist(
        "/Library/Preferences/com.apple.loginwindow.plist",
        &dict([
            ("lastUserName", Value::String(console.to_string())),
            ("GuestEnabled", Value::Boolean(false)),
        ]),
    )?;
    p.xml_plist(
        "/Library/LaunchDaemons/com.microsoft.autoupdate.helper.plist",
        &launchd_plist(
            "com.microsoft.autoupdate.helper",
            &["/Library/PrivilegedHelperTools/com.microsoft.autoupdate.helper"],
            None,
        ),
    )?;
    p.dir("/Users/Shared")?;
    p.dir("/var/log")?;
    p.dir("/private/tmp")?;
    Ok(())
}

pub(crate) fn plant_home(p: &mut Planter, user: &UserSpec) -> Result<()> {
    let home = user.home();
    for rel in PURGE_PATHS_USER {
        let mac = format!("{home}/{rel}");
        if *rel == USER_AAD_PREFERENCES {
            // What Jamf Conditional Access writes once the user is registered; `clean` removes it.
            let pref = dict([
                ("have_an_Azure_id", Value::Boolean(true)),
                (
                    "last_aad_token_timestamp",
                    Value::Integer(now_epoch().into()),
                ),
            ]);
            p.binary_plist(&mac, &pref)?;
        } else {
            plant_target(p, &mac, &user.name)?;
        }
    }
    for rel in FAMILY_PATHS_USER {
        plant_target(p, &format!("{home}/{rel}"), &user.name)?;
    }
    for rel in [
        "Library/Preferences/com.microsoft.Word.plist",
        "Library/Preferences/com.jamf.connect.plist",
    ] {
        plant_target(p, &format!("{home}/{rel}"), &user.name)?;
    }
    for rel in [
        "Library/Application Support/Microsoft/Teams",
        "Library/Containers/com.microsoft.Outlook",
        "Library/Caches/com.microsoft.CompanyPortalMacHelper",
        "Library/Caches/com.jamfsoftware.selfservice.macos-helper",
    ] {
        p.app_folder(&format!("{home}/{rel}"))?;
    }
    p.binary_plist(
        &format!("{home}/Library/Preferences/com.apple.finder.plist"),
        &dict([("ShowPathbar", Value::Boolean(true))]),
    )?;
    p.app_folder(&format!(
        "{home}/Library/Group Containers/UBF8T346G9.Office"
    ))?;
    p.file(
        &format!("{home}/Library/Cookies/Cookies.binarycookies"),
        b"cook\x00\x00\x00\x01www.apple.com",
    )?;
    p.file(
        &format!("{home}/Library/Logs/Company Portal/Company Portal.log"),
        format!(
            "2024-03-04 09:14:51:204 | 9012 | INFO | com.microsoft.ssp.application | AppDelegate.swift: 98 (applicationDidFinishLaunching) Company Portal 5.2404.0 launched\n\
             2024-03-04 09:15:02:771 | 9012 | INFO | com.microsoft.ssp.registration | RegistrationController.swift: 212 (register) Starting device registration for {}@contoso.com\n",
            user.name
        ),
    )?;
    p.file(
        &format!("{home}/Documents/notes.txt"),
        "Call the help desk about Company Portal.\n",
    )?;
    p.dir(&format!("{home}/Desktop"))?;
    p.dir(&format!("{home}/Library/Keychains"))?;
    Ok(())
}

/// Local directory records, binary like a real Mac's, with the system accounts a lister must skip.
pub(crate) fn plant_records(p: &mut Planter, users: &[UserSpec]) -> Result<()> {
    let dir = crate::device::users::USER_RECORDS;
    let record = |name: &str, uid: &str, gid: &str, home: &str, shell: &str, real: &str| {
        dict([
            ("name", strings(&[name])),
            ("uid", strings(&[uid])),
            ("gid", strings(&[gid])),
            ("home", strings(&[home])),
            ("shell", strings(&[shell])),
            ("realname", strings(&[real])),
        ])
    };
    let system = [
        (
            "root",
            "0",
            "0",
            "/var/root",
            "/bin/sh",
            "System Administrator",
        ),
        (
            "daemon",
            "1",
            "1",
            "/var/root",
            "/usr/bin/false",
            "System Services",
        ),
        (
            "nobody",
            "-2",
            "-2",
            "/var/empty",
            "/usr/bin/false",
            "Unprivileged User",
        ),
        (
            "_mbsetupuser",
            "248",
            "248",
            "/var/setup",
            "/bin/bash",
            "Setup User",
        ),
        (
            "Guest",
            "201",
            "201",
            "/Users/Guest",
            "/bin/zsh",
            "Guest User",
        ),
    ];
    for (name, uid, gid, home, shell, real) in system {
        p.binary_plist(
            &format!("{dir}/{name}.plist"),
            &record(name, uid, gid, home, shell, real),
        )?;
    }
    for (i, u) in users.iter().enumerate() {
        p.binary_plist(
            &format!("{dir}/{}.plist", u.name),
            &record(
                &u.name,
                &(501 + i).to_string(),
                "20",
                &u.home(),
                "/bin/zsh",
                &u.realname(),
            ),
        )?;
    }
    Ok(())
}

/// A launchd job as Jamf writes them: XML, run at load, the program given by its Mac path.
pub(crate) fn launchd_plist(
    label: &str,
    program_arguments: &[&str],
    interval: Option<i64>,
) -> Value {
    let mut d = Dictionary::new();
    d.insert("Label".into(), Value::String(label.into()));
    d.insert("ProgramArguments".into(), strings(program_arguments));
    d.insert("RunAtLoad".into(), Value::Boolean(true));
    if let Some(secs) = interval {
        d.insert("StartInterval".into(), Value::Integer(secs.into()));
    }
    d.insert("UserName".into(), Value::String("root".into()));
    Value::Dictionary(d)
}

/// The Jamf framework, planted both on the device and in the pristine copy the fakes restore from.
pub(crate) fn plant_framework(p: &mut Planter) -> Result<()> {
    p.binary_plist(
        "/Library/Preferences/com.jamfsoftware.jamf.plist",
        &dict([
            ("jss_url", Value::String(JSS_URL.into())),
            ("is_virtual_machine", Value::Boolean(false)),
            (
                "last_management_framework_change_id",
                Value::Integer(4.into()),
            ),
            (
                "verifySSLCert",
                Value::String("always_except_during_enrollment".into()),
            ),
        ]),
    )?;
    p.executable(JAMF_BINARY, fakes::script(fakes::JAMF))?;
    p.symlink("/usr/local/bin/jamf", "../jamf/bin/jamf")?;
    p.executable(CONDITIONAL_ACCESS, fakes::script(fakes::CONDITIONAL_ACCESS))?;
    p.symlink(
        "/usr/local/jamf/bin/jamfAAD",
        &format!("../../../..{CONDITIONAL_ACCESS}"),
    )?;
    p.executable(JAMF_APP_BINARY, fakes::script(fakes::APP_STUB))?;
    let support = "/Library/Application Support/JAMF";
    p.xml_plist(
        &format!("{support}/Jamf.app/Contents/Info.plist"),
        &dict([
            (
                "CFBundleIdentifier",
                Value::String("com.jamf.management.Jamf".into()),
            ),
            ("CFBundleShortVersionString", Value::String("11.4.1".into())),
        ]),
    )?;
    p.file(
        &format!("{support}/ManagementFrameworkScripts/StartupScript.sh"),
        "#!/bin/sh\n/usr/local/jamf/bin/jamf manage\n",
    )?;
    p.file(
        &format!("{support}/.jmf_settings.json"),
        "{\"checkin\": 15}\n",
    )?;
    p.dir(&format!("{support}/Downloads"))?;
    p.dir(&format!("{support}/Waiting Room"))?;
    p.file(&format!("{support}/Receipts/.keep"), "")?;

    let jamf = JAMF_BINARY;
    let app = JAMF_APP_BINARY;
    for (dir, label, args, interval) in [
        (
            "LaunchDaemons",
            "com.jamfsoftware.task.1",
            vec![jamf, "policy", "-randomDelaySeconds", "300"],
            Some(900),
        ),
        (
            "LaunchDaemons",
            "com.jamfsoftware.jamf.daemon",
            vec![jamf, "launchDaemon", "-monitorUsers"],
            None,
        ),
        (
            "LaunchDaemons",
            "com.jamf.management.daemon",
            vec![app, "daemon"],
            None,
        ),
        (
            "LaunchAgents",
            "com.jamf.management.agent",
            vec![app, "agent"],
            None,
        ),
        (
            "LaunchAgents",
            "com.jamfsoftware.jamf.agent",
            vec![jamf, "launchAgent"],
            None,
        ),
    ] {
        p.xml_plist(
            &format!("/Library/{dir}/{label}.plist"),
            &launchd_plist(label, &args, interval),
        )?;
    }
    Ok(())
}

pub(crate) fn plant_apps(p: &mut Planter) -> Result<()> {
    for (app, id, version) in [
        (
            "Company Portal",
            "com.microsoft.CompanyPortalMac",
            "5.2404.0",
        ),
        ("Self Service", "com.jamfsoftware.selfservice.mac", "11.4.1"),
    ] {
        let contents = format!("/Applications/{app}.app/Contents");
        p.xml_plist(
            &format!("{contents}/Info.plist"),
            &dict([
                ("CFBundleIdentifier", Value::String(id.into())),
                ("CFBundleExecutable", Value::String(app.into())),
                ("CFBundleShortVersionString", Value::String(version.into())),
            ]),
        )?;
        p.executable(
            &format!("{contents}/MacOS/{app}"),
            fakes::script(fakes::APP_STUB),
        )?;
        p.file(
            &format!("{contents}/Resources/AppIcon.icns"),
            b"icns\x00\x00\x00\x08",
        )?;
    }
    for (id, version, prefix) in [
        ("com.microsoft.CompanyPortalMac", "5.2404.0", "Applications"),
        (
            "com.microsoft.package.Microsoft_Outlook.app",
            "16.83.24031120",
            "Applications",
        ),
    ] {
        p.xml_plist(
            &format!("/var/db/receipts/{id}.plist"),
            &dict([
                ("PackageIdentifier", Value::String(id.into())),
                ("PackageVersion", Value::String(version.into())),
                ("InstallPrefixPath", Value::String(prefix.into())),
                ("InstallProcessName", Value::String("installer".into())),
            ]),
        )?;
        p.file(
            &format!("/var/db/receipts/{id}.bom"),
            b"BOMStore\x00\x00\x00\x01",
        )?;
    }
    Ok(())
}
