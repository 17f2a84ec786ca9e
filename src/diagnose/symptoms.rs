//! `reenroll sandbox DIR --symptom NAME`: plant the evidence of one documented problem into an
//! existing sandbox device, for the demo and the tests.
//!
//! Every symptom first brings the device to the healthy baseline (what `diagnose` finds nothing
//! wrong with: recent check-ins and token, exactly one registration per user, MDM enrolled,
//! Company Portal and Self Service installed, Platform SSO off), then adds its own evidence, so
//! a sandbox shows exactly the one problem asked for, whatever was planted before.
//!
//! The log lines are modelled on the article's messages and the captured samples; the Company
//! Portal lines around the quoted messages (file and function names) are illustrative.

use std::path::Path;
use std::time::SystemTime;

use anyhow::{bail, Context, Result};

use super::clock::{Clock, DAY, HOUR};
use super::registration::{CERT_ISSUER, WPJ_KEY};
use super::{aad, enrollment, jamf_log, lines, portal_log};
use crate::device::{Device, LocalUser};
use crate::keychain::{ItemClass, Keychain, KeychainItem, KeychainLocation};

/// Where a planted Jamf Pro server log goes (a Mac path inside the sandbox): run
/// `reenroll --root DIR diagnose --server-log DIR/var/db/sandbox/JAMFSoftwareServer.log`.
pub const SERVER_LOG: &str = "/var/db/sandbox/JAMFSoftwareServer.log";

/// The unified log entries the sandbox's fake `log show` prints (a Mac path): one entry a line,
/// `UNIX-SECONDS<TAB>{ndjson object}`, the seconds letting the fake honour `--last`.
pub const UNIFIED_LOG: &str = "/var/db/sandbox/unified-log.ndjson";

const STATE: &str = "/var/db/sandbox";
const JAMF_CA_PROCESS: &str = "/Library/Application Support/JAMF/Jamf.app/Contents/MacOS/Jamf Conditional Access.app/Contents/MacOS/Jamf Conditional Access";
const PORTAL_PROCESS: &str = "/Applications/Company Portal.app/Contents/MacOS/Company Portal";
const PORTAL_LOG_NAME: &str = "Company Portal.log";
/// The name jamf.log lines carry when the sandbox records none.
const HOST: &str = "sandbox-mac";

/// (name, description) of every symptom `plant_symptom` knows.
pub const SYMPTOMS: &[(&str, &str)] = &[
    ("healthy", "no documented problem: recent check-ins and Azure AD token, one registration, MDM enrolled, apps installed"),
    ("p1-checkin", "P1: no successful Jamf Pro check-in for 3 days (jamf.log, last success in jamf.log.0.gz)"),
    ("p1-aad-token", "P1: the console user's Azure AD token was last refreshed 3 days ago"),
    ("p2-keychain-prompt", "P2: Microsoft Teams asked for the login keychain password (Company Portal log)"),
    ("mdm-not-enrolled", "P3: the Mac is not enrolled in MDM"),
    ("company-portal-missing", "P3: Company Portal is not installed"),
    ("self-service-missing", "P3: Jamf Self Service is not installed"),
    ("wpj-key-without-cert", "P4: a Workplace Join key without its MS-Organization-Access certificate"),
    ("p7-graph-token", "P7: the server log cannot get a Microsoft Graph API token (use --server-log)"),
    ("c3-licence", "C3: the server log says \"Unable to connect to Microsoft Intune\" (use --server-log)"),
    ("c4-direct-enrollment", "C4: Company Portal was started without Self Service, enrolling in Intune directly"),
    ("c5-integration-off", "C5: Company Portal refused the registration-only flag -r (integration off)"),
    ("c6-duplicate-registration", "C6 (P4, P5): two MS-Organization-Access certificates and two Workplace Join keys"),
    ("c6-keychain-owner-error", "C6: Company Portal could not replace leftover Workplace Join items (-25244)"),
    ("c7-jamfaad-keychain", "C7: JamfAAD asked for access to \"Microsoft Workplace Join Key\""),
    ("psso-registered", "registered through Platform SSO: nothing in the keychain (diagnose says what it cannot see)"),
    ("c5-unified-log", "C5: Company Portal's refusal of the registration-only flag -r, in the unified log only"),
];

/// Plant symptom `name` into the sandbox device at host folder `dir`, dated now.
pub fn plant_symptom(dir: &Path, name: &str) -> Result<()> {
    plant_symptom_at(dir, name, SystemTime::now())
}

/// `plant_symptom` with log times relative to `now`.
pub fn plant_symptom_at(dir: &Path, name: &str, now: SystemTime) -> Result<()> {
    if !SYMPTOMS.iter().any(|(n, _)| *n == name) {
        let known: Vec<_> = SYMPTOMS.iter().map(|(n, _)| *n).collect();
        bail!("unknown symptom `{name}`; known: {}", known.join(", "));
    }
    let device = Device::sandbox(dir)?;
    // Planting writes and deletes Mac paths under `dir`: never let it act on a real Mac's root.
    if !device.host_path(STATE)?.is_dir() {
        bail!(
            "{} is not a sandbox device (it has no {STATE}); create one with `reenroll sandbox {}`",
            dir.display(),
            dir.display()
        );
    }
    // jamf.log lines carry the Mac's computer name, spaces, apostrophes and all.
    let host = std::fs::read_to_string(device.host_path(&format!("{STATE}/computer-name"))?)
        .ok()
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| HOST.to_string());
    let p = Planter {
        host,
        clock: Clock::local(now),
        users: device.users().with_context(|| {
            format!(
                "reading the users of the sandbox device {}; is it a sandbox from `reenroll sandbox`?",
                dir.display()
            )
        })?,
        device,
    };
    p.baseline()?;
    p.plant(name)
        .with_context(|| format!("planting `{name}` into {}", dir.display()))
}

struct Planter {
    device: Device,
    host: String,
    clock: Clock,
    users: Vec<LocalUser>,
}

impl Planter {
    fn write(&self, mac: &str, bytes: impl AsRef<[u8]>) -> Result<()> {
        let host = self.device.host_path(mac)?;
        if let Some(parent) = host.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        std::fs::write(&host, bytes).with_context(|| format!("writing {}", host.display()))
    }

    fn append(&self, mac: &str, text: &str) -> Result<()> {
        use std::io::Write;
        let host = self.device.host_path(mac)?;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(&host)
            .with_context(|| format!("opening {}", host.display()))?;
        f.write_all(text.as_bytes())
            .with_context(|| format!("appending to {}", host.display()))
    }

    fn remove(&self, mac: &str) -> Result<()> {
        let host = self.device.host_path(mac)?;
        let result = match host.symlink_metadata() {
            Ok(m) if m.is_dir() => std::fs::remove_dir_all(&host),
            Ok(_) => std::fs::remove_file(&host),
            Err(_) => return Ok(()),
        };
        result.with_context(|| format!("removing {}", host.display()))
    }

    /// The user the symptoms are about: the console user, else the first user.
    fn console(&self) -> Result<&LocalUser> {
        let recorded =
            std::fs::read_to_string(self.device.host_path(&format!("{STATE}/console-user"))?)
                .unwrap_or_default();
        let uid = recorded
            .split_whitespace()
            .nth(1)
            .and_then(|u| u.parse::<u32>().ok());
        self.users
            .iter()
            .find(|u| Some(u.uid) == uid)
            .or(self.users.first())
            .context("the sandbox device has no local user to plant the symptom for")
    }

    fn jamf_line(&self, t: i64, pid: u32, msg: &str) -> String {
        format!(
            "{} {} jamf[{pid}]: {msg}\n",
            self.clock.syslog_stamp(t),
            self.host
        )
    }

    /// Hourly check-ins from `from` to `to` seconds ago, each succeeding or failing.
    fn check_ins(&self, from: i64, to: i64, ok: bool, user: &str) -> String {
        let mut out = String::new();
        let mut ago = from;
        let mut pid = 4100;
        while ago >= to {
            let t = self.clock.now - ago;
            pid += 7;
            out += &self.jamf_line(
                t,
                pid,
                &format!("Checking for policies triggered by \"recurring check-in\" for user \"{user}\"..."),
            );
            if ok {
                out += &self.jamf_line(t + 2, pid, "Checking for patches...");
                out += &self.jamf_line(t + 3, pid, "No patch policies were found.");
                if ago % (6 * HOUR) == 0 {
                    out += &self.jamf_line(t + 4, pid, "Executing Policy Update Inventory");
                    out += "Script result: (none)\n";
                    out += &self.jamf_line(
                        t + 40,
                        pid,
                        "Submitting log to https://example.jamfcloud.com/",
                    );
                }
            } else {
                out += &self.jamf_line(
                    t + 1,
                    pid,
                    "Could not connect to the JSS. Looking for cached policies...",
                );
                out += &self.jamf_line(t + 2, pid, "Executing Offline Policy Update Inventory");
            }
            ago -= HOUR;
        }
        out
    }

    fn gzip(text: &str) -> Result<Vec<u8>> {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(text.as_bytes())
            .context("compressing a planted log")?;
        e.finish().context("compressing a planted log")
    }

    fn write_jamf_logs(&self, live: &str, rotated: &str) -> Result<()> {
        let dir = self.device.host_path(jamf_log::LOG_DIR)?;
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        for old in lines::rotations(&dir, jamf_log::LOG_NAME).unwrap_or_default() {
            std::fs::remove_file(&old).with_context(|| format!("removing {}", old.display()))?;
        }
        let base = format!("{}/{}", jamf_log::LOG_DIR, jamf_log::LOG_NAME);
        self.write(&base, live)?;
        self.write(&format!("{base}.0.gz"), Self::gzip(rotated)?)
    }

    fn portal_log(&self, user: &LocalUser) -> String {
        format!(
            "{}/{}/{PORTAL_LOG_NAME}",
            user.home.trim_end_matches('/'),
            portal_log::LOG_DIR
        )
    }

    fn portal_line(&self, ago: i64, level: &str, rest: &str) -> String {
        format!(
            "{} {level} com.microsoft.ssp.application TID=1 {rest}\n",
            Clock::portal_stamp(self.clock.now - ago)
        )
    }

    fn server_line(&self, ago: i64, level: &str, msg: &str) -> String {
        let stamp = self.clock.rfc3339(self.clock.now - ago);
        format!(
            "{} {},{:03} [{level:<5}] [Tomcat-12] [IntuneIntegrationService] - {msg}\n",
            &stamp[..10],
            &stamp[11..19],
            ago.rem_euclid(1000)
        )
    }

    /// One unified log entry, `ago` seconds old, as `log show --style ndjson` prints it.
    fn unified_line(
        &self,
        ago: i64,
        (subsystem, category): (&str, &str),
        (process, pid): (&str, u32),
        message_type: &str,
        message: &str,
    ) -> String {
        let t = self.clock.now - ago;
        let entry = serde_json::json!({
            "timestamp": self.clock.unified_stamp(t),
            "messageType": message_type,
            "eventType": "logEvent",
            "eventMessage": message,
            "subsystem": subsystem,
            "category": category,
            "processImagePath": process,
            "senderImagePath": process,
            "processID": pid,
            "threadID": 1000 + pid,
        });
        format!("{t}\t{entry}\n")
    }

    fn set_aad_token(&self, user: &LocalUser, t: i64) -> Result<()> {
        let mut d = plist::Dictionary::new();
        d.insert("have_an_Azure_id".into(), true.into());
        d.insert(aad::TOKEN_KEY.into(), plist::Value::Integer(t.into()));
        let mac = format!("{}/{}", user.home.trim_end_matches('/'), aad::PREFS);
        let host = self.device.host_path(&mac)?;
        if let Some(parent) = host.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        plist::Value::Dictionary(d)
            .to_file_binary(&host)
            .with_context(|| format!("writing {}", host.display()))
    }

    /// The user's sandbox keychain to plant items in (created by the first add; a locked one is
    /// refused, and left as it is).
    fn keychain(&self, user: &LocalUser) -> Result<Box<dyn Keychain>> {
        Ok(Box::new(crate::keychain::sandbox::SandboxKeychain::create(
            &self.device,
            &KeychainLocation::User {
                name: user.name.clone(),
                uid: user.uid,
                home: user.home.clone(),
            },
        )?))
    }

    fn baseline(&self) -> Result<()> {
        let console = self.console().map(|u| u.name.clone()).unwrap_or_default();
        let live = [
            self.jamf_line(self.clock.now - 26 * HOUR, 3990, "Removing existing launchd task /Library/LaunchDaemons/com.jamfsoftware.task.1.plist..."),
            self.check_ins(26 * HOUR, HOUR, true, &console),
        ]
        .concat();
        self.write_jamf_logs(&live, &self.check_ins(4 * DAY, 27 * HOUR, true, &console))?;
        for user in &self.users {
            self.set_aad_token(user, self.clock.now - 2 * HOUR)?;
            let log = [
                self.portal_line(3 * HOUR, "INFO", "AppDelegate.swift: 98 (applicationDidFinishLaunching(_:)) Company Portal launched"),
                self.portal_line(3 * HOUR - 5, "VERB", "AriaTelemetryService.swift: 283 (log(event:)) Telemetry event queued"),
                self.portal_line(3 * HOUR - 9, "INFO", "WorkplaceJoinManager.swift: 141 (registerDevice()) Device registration state: registered"),
            ]
            .concat();
            self.write(&self.portal_log(user), log)?;
            match self.keychain(user) {
                Ok(kc) => one_registration(kc.as_ref(), user)?,
                // A locked keychain is part of the sandbox under test: leave it as it is.
                Err(e) => tracing::debug!("not normalising {}'s keychain: {e:#}", user.name),
            }
        }
        let enrollment_file = format!("{STATE}/enrollment");
        let ade = std::fs::read_to_string(self.device.host_path(&enrollment_file)?)
            .is_ok_and(|t| t.contains("Enrolled via DEP: Yes"));
        self.write(
            &enrollment_file,
            format!(
                "Enrolled via DEP: {}\nMDM enrollment: Yes (User Approved)\n",
                if ade { "Yes" } else { "No" }
            ),
        )?;
        self.write(
            &format!("{STATE}/mdm-profile"),
            "00000000-0000-0000-A000-4A414D460003\n",
        )?;
        // The unified log: JamfAAD launching Company Portal (the line the captured sample shows),
        // then Company Portal registered.
        self.write(
            UNIFIED_LOG,
            [
                self.unified_line(
                    3 * HOUR + 20,
                    ("com.jamf.management.jamfAAD", "default"),
                    (JAMF_CA_PROCESS, 812),
                    "Default",
                    "Launching Company Portal",
                ),
                self.unified_line(
                    3 * HOUR,
                    ("com.microsoft.CompanyPortalMac", "WorkplaceJoin"),
                    (PORTAL_PROCESS, 820),
                    "Default",
                    "Device registration state: registered",
                ),
            ]
            .concat(),
        )?;
        self.write(&format!("{STATE}/psso-status"), "0\n")?;
        self.remove(&format!("{STATE}/psso-device-id"))?;
        for (app, id) in [
            (enrollment::COMPANY_PORTAL, "com.microsoft.CompanyPortalMac"),
            (
                enrollment::SELF_SERVICE[0],
                "com.jamfsoftware.selfservice.mac",
            ),
        ] {
            let info = format!("{app}/Contents/Info.plist");
            if !self.device.host_path(&info)?.exists() {
                let mut d = plist::Dictionary::new();
                d.insert("CFBundleIdentifier".into(), id.into());
                let host = self.device.host_path(&info)?;
                std::fs::create_dir_all(host.parent().expect("Info.plist has a parent"))
                    .with_context(|| format!("creating {app}"))?;
                plist::Value::Dictionary(d)
                    .to_file_xml(&host)
                    .with_context(|| format!("writing {}", host.display()))?;
            }
        }
        self.write(
            SERVER_LOG,
            [
                self.server_line(
                    2 * HOUR,
                    "INFO",
                    "Sending inventory for 1 computer to Microsoft Intune",
                ),
                self.server_line(HOUR, "INFO", "Microsoft Intune integration: inventory sent"),
            ]
            .concat(),
        )
    }

    fn plant(&self, name: &str) -> Result<()> {
        let now = self.clock.now;
        match name {
            "healthy" => Ok(()),
            "p1-checkin" => {
                let user = self.console()?.name.clone();
                self.write_jamf_logs(
                    &self.check_ins(72 * HOUR - HOUR, 0, false, &user),
                    &self.check_ins(6 * DAY, 73 * HOUR, true, &user),
                )
            }
            "p1-aad-token" => self.set_aad_token(self.console()?, now - 3 * DAY - 2 * HOUR),
            "p2-keychain-prompt" => self.append(
                &self.portal_log(self.console()?),
                &self.portal_line(HOUR, "WARN", "KeychainAccessMonitor.swift: 57 (report(_:)) Microsoft Teams wants to sign using key \"Microsoft Workplace Join Key\" in your keychain."),
            ),
            "c7-jamfaad-keychain" => self.append(
                &self.portal_log(self.console()?),
                &self.portal_line(HOUR, "WARN", "KeychainAccessMonitor.swift: 57 (report(_:)) JamfAAD wants to access key \"Microsoft Workplace Join Key\" in your keychain. To allow this, enter the \"login\" keychain password"),
            ),
            "c4-direct-enrollment" => self.append(
                &self.portal_log(self.console()?),
                &self.portal_line(HOUR, "INFO", "WelcomeViewController.swift: 253 (startLogin()) Portal launched without WPJ only arg while account is under partner management"),
            ),
            "c5-unified-log" => self.append(
                UNIFIED_LOG,
                &self.unified_line(
                    HOUR,
                    ("com.microsoft.CompanyPortalMac", "AppDelegate"),
                    (PORTAL_PROCESS, 830),
                    "Error",
                    "Invalid command line input: Registration-only command line flag (-r) can only be used when partner management is enabled in Intune. Please contact your IT admin.",
                ),
            ),
            "c5-integration-off" => self.append(
                &self.portal_log(self.console()?),
                &self.portal_line(HOUR, "ERROR", "AppDelegate.swift: 120 (application(_:open:)) Invalid command line input: Registration-only command line flag (-r) can only be used when partner management is enabled in Intune. Please contact your IT admin."),
            ),
            "c6-keychain-owner-error" => self.append(
                &self.portal_log(self.console()?),
                &[
                    self.portal_line(HOUR, "ERROR", "WPJKeychainHelper.swift: 88 (deleteItem(_:)) Failed to delete keychain item: OSStatus -25244 (errSecInvalidOwnerEdit)"),
                    self.portal_line(HOUR - 1, "ERROR", "WorkplaceJoinManager.swift: 212 (registerDevice()) Device registration failed"),
                ]
                .concat(),
            ),
            "mdm-not-enrolled" => {
                self.remove(&format!("{STATE}/mdm-profile"))?;
                self.write(&format!("{STATE}/enrollment"), "Enrolled via DEP: No\nMDM enrollment: No\n")
            }
            "company-portal-missing" => self.remove(enrollment::COMPANY_PORTAL),
            "self-service-missing" => {
                for app in enrollment::SELF_SERVICE {
                    self.remove(app)?;
                }
                Ok(())
            }
            "c6-duplicate-registration" => {
                let user = self.console()?;
                let kc = self.keychain(user)?;
                let mut cert = registration_cert(user, 2);
                cert.issuer = Some(CERT_ISSUER.to_ascii_lowercase());
                kc.add(&cert)?;
                kc.add(&wpj_key(ItemClass::PrivateKey, 2))?;
                kc.add(&wpj_key(ItemClass::PublicKey, 2))
            }
            "wpj-key-without-cert" => {
                let kc = self.keychain(self.console()?)?;
                remove_where(kc.as_ref(), is_cert)
            }
            "psso-registered" => {
                self.write(&format!("{STATE}/psso-status"), "2\n")?;
                // What getPSSOStatus tells the user: the registration's Entra device id.
                self.write(
                    &format!("{STATE}/psso-device-id"),
                    format!("{}\n", device_id(self.console()?, 9)),
                )?;
                for user in &self.users {
                    if let Ok(kc) = self.keychain(user) {
                        remove_where(kc.as_ref(), |i| is_cert(i) || is_key(i))?;
                    }
                }
                Ok(())
            }
            "c3-licence" => self.append(
                SERVER_LOG,
                &[
                    self.server_line(40 * 60, "ERROR", "Unable to connect to Microsoft Intune. Check your Microsoft Intune Integration configuration."),
                    self.server_line(10 * 60, "ERROR", "Unable to connect to Microsoft Intune. Check your Microsoft Intune Integration configuration."),
                ]
                .concat(),
            ),
            "p7-graph-token" => self.append(
                SERVER_LOG,
                &self.server_line(15 * 60, "ERROR", "Could not retrieve the access token for Microsoft Graph API. Check the configuration for Microsoft Intune Integration."),
            ),
            other => bail!("symptom `{other}` is listed but has no planter (a bug in reenroll)"),
        }
    }
}

fn is_cert(i: &KeychainItem) -> bool {
    i.class == Some(ItemClass::Certificate)
        && i.issuer
            .as_deref()
            .is_some_and(|s| s.eq_ignore_ascii_case(CERT_ISSUER))
}

fn is_key(i: &KeychainItem) -> bool {
    matches!(i.class, Some(ItemClass::PrivateKey | ItemClass::PublicKey))
        && i.label
            .as_deref()
            .is_some_and(|l| l.eq_ignore_ascii_case(WPJ_KEY))
}

/// A stable made-up Entra device id for `user`'s `n`th registration.
fn device_id(user: &LocalUser, n: u32) -> String {
    use sha2::{Digest, Sha256};
    let h = Sha256::digest(format!("{}:{}:{n}", user.name, user.uid));
    let hex: String = h.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

fn registration_cert(user: &LocalUser, n: u32) -> KeychainItem {
    let id = device_id(user, n);
    KeychainItem {
        class: Some(ItemClass::Certificate),
        label: Some(id.clone()),
        issuer: Some(CERT_ISSUER.into()),
        subject: Some(format!("CN={id}")),
        data: Some(format!("sandbox certificate {id}").into_bytes()),
        extractable: true,
        ..Default::default()
    }
}

fn wpj_key(class: ItemClass, n: u32) -> KeychainItem {
    KeychainItem {
        class: Some(class),
        label: Some(WPJ_KEY.into()),
        data: Some(format!("sandbox key {n}").into_bytes()),
        extractable: class != ItemClass::PrivateKey,
        ..Default::default()
    }
}

fn remove_where(kc: &dyn Keychain, pred: impl Fn(&KeychainItem) -> bool) -> Result<()> {
    for item in kc.list()?.iter().filter(|i| pred(i)) {
        kc.delete(item)?;
    }
    Ok(())
}

/// Exactly one registration certificate and one Workplace Join key pair.
fn one_registration(kc: &dyn Keychain, user: &LocalUser) -> Result<()> {
    let items = kc.list()?;
    type Matches<'a> = &'a dyn Fn(&KeychainItem) -> bool;
    let wanted: [(Matches, KeychainItem); 3] = [
        (&is_cert, registration_cert(user, 1)),
        (
            &|i: &KeychainItem| is_key(i) && i.class == Some(ItemClass::PrivateKey),
            wpj_key(ItemClass::PrivateKey, 1),
        ),
        (
            &|i: &KeychainItem| is_key(i) && i.class == Some(ItemClass::PublicKey),
            wpj_key(ItemClass::PublicKey, 1),
        ),
    ];
    for (matches, fresh) in wanted {
        let found: Vec<_> = items.iter().filter(|i| matches(i)).collect();
        match found.split_first() {
            None => kc.add(&fresh)?,
            Some((_, extra)) => {
                for item in extra {
                    kc.delete(item)?;
                }
            }
        }
    }
    Ok(())
}
