//! Sandbox tests: create a device in a temporary folder and drive it through `Device`, the way
//! reenroll will.

use super::*;
use crate::device::{Capture, LocalUser, Output, RunOpts};
use crate::keychain::{ItemClass, KeychainItem};

struct Fixture {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    device: Device,
    summary: Summary,
}

/// A temporary folder the sandbox's users can cross (tempfile makes 0700 ones; run as root, the
/// fake `sudo -u USER` drops to USER's uid).
pub(crate) fn traversable_tempdir() -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    tmp
}

fn sandbox(opts: SandboxOptions) -> Fixture {
    let tmp = traversable_tempdir();
    // A folder that does not exist yet, with a space in its name.
    let dir = tmp.path().join("fake mac");
    let summary = create(&dir, &opts).unwrap();
    let device = Device::sandbox(&dir).unwrap();
    Fixture {
        _tmp: tmp,
        dir,
        device,
        summary,
    }
}

fn default_sandbox() -> Fixture {
    sandbox(SandboxOptions::default())
}

impl Fixture {
    fn run(&self, program: &str, args: &[&str]) -> Output {
        self.run_with(program, args, RunOpts::default())
    }

    fn run_with(&self, program: &str, args: &[&str], opts: RunOpts) -> Output {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        self.device.run(program, &args, &opts).unwrap()
    }

    /// `shutdown -r +1` the way reenroll runs it (output into a log, never through pipes: its
    /// child holds them until the restart); the pid of that child.
    fn schedule_restart(&self) -> i32 {
        let opts = RunOpts {
            output: Capture::AppendTo("/var/log/shutdown.log".into()),
            ..Default::default()
        };
        let out = self.run_with("/sbin/shutdown", &["-r", "+1"], opts);
        assert!(out.success(), "{out:?}");
        let pid: i32 = out
            .stdout
            .lines()
            .find_map(|l| l.strip_prefix("shutdown: [pid ")?.strip_suffix(']'))
            .unwrap_or_else(|| panic!("no pid in {out:?}"))
            .parse()
            .unwrap();
        assert!(self.is_shutdown_child(pid));
        pid
    }

    /// Whether `pid` is still the child this sandbox's fake shutdown left (by its command line).
    fn is_shutdown_child(&self, pid: i32) -> bool {
        let state = std::fs::canonicalize(self.device.host_path(STATE_DIR).unwrap()).unwrap();
        std::fs::read(format!("/proc/{pid}/cmdline"))
            .map(|b| {
                let args: Vec<_> = b.split(|c| *c == 0).filter(|a| !a.is_empty()).collect();
                args.len() >= 2
                    && args[args.len() - 2] == b"reenroll-sandbox-shutdown"
                    && args[args.len() - 1] == state.as_os_str().as_encoded_bytes()
            })
            .unwrap_or(false)
    }

    fn exists(&self, mac: &str) -> bool {
        self.device
            .host_path(mac)
            .unwrap()
            .symlink_metadata()
            .is_ok()
    }

    fn state(&self, name: &str) -> Option<String> {
        std::fs::read_to_string(
            self.device
                .host_path(&format!("{STATE_DIR}/{name}"))
                .unwrap(),
        )
        .ok()
    }

    fn log(&self) -> Vec<String> {
        std::fs::read_to_string(self.device.host_path(COMMAND_LOG).unwrap())
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect()
    }

    fn keychain(&self, user: Option<&str>) -> Vec<KeychainItem> {
        let location = match user {
            None => KeychainLocation::System,
            Some(name) => {
                let u = self
                    .device
                    .users()
                    .unwrap()
                    .into_iter()
                    .find(|u| u.name == name)
                    .unwrap();
                KeychainLocation::User {
                    name: u.name,
                    uid: u.uid,
                    home: u.home,
                }
            }
        };
        crate::keychain::backend(&self.device, &location)
            .unwrap()
            .list()
            .unwrap()
    }
}

fn user(name: &str, uid: u32, home: &str) -> LocalUser {
    LocalUser {
        name: name.into(),
        uid,
        home: home.into(),
    }
}

#[test]
fn user_specs_parse() {
    let a: UserSpec = "alice".parse().unwrap();
    assert_eq!(a.home(), "/Users/alice");
    let z: UserSpec = "zoë:/Users/Shared/homes/zoe/".parse().unwrap();
    assert_eq!(z.name, "zoë");
    assert_eq!(z.home(), "/Users/Shared/homes/zoe");
    assert_eq!(z.realname(), "Zoë");
    assert!("".parse::<UserSpec>().is_err());
    assert!("root".parse::<UserSpec>().is_err());
    assert!("_mbsetupuser".parse::<UserSpec>().is_err());
    assert!("a b".parse::<UserSpec>().is_err());
    assert!("eve:relative/home".parse::<UserSpec>().is_err());
    assert!("eve:/Users/../etc".parse::<UserSpec>().is_err());
    assert_eq!(parse_users("alice, bob,").unwrap().len(), 2);
}

#[test]
fn refuses_a_folder_that_is_not_empty_and_duplicate_users() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("keep.txt"), "mine").unwrap();
    let err = create(tmp.path(), &SandboxOptions::default()).unwrap_err();
    assert!(format!("{err:#}").contains("not empty"), "{err:#}");
    assert!(tmp.path().join("keep.txt").exists());

    let empty = tempfile::tempdir().unwrap();
    let opts = SandboxOptions {
        users: parse_users("alice,alice").unwrap(),
        ..Default::default()
    };
    assert!(create(empty.path(), &opts).is_err());
    // An existing empty folder is fine.
    create(empty.path(), &SandboxOptions::default()).unwrap();
}

#[test]
fn records_list_the_people_and_skip_system_accounts() {
    let f = default_sandbox();
    assert_eq!(
        f.device.users().unwrap(),
        vec![
            user("alice", 501, "/Users/alice"),
            user("bob", 502, "/Users/bob")
        ]
    );
    let records = f
        .device
        .host_path(crate::device::users::USER_RECORDS)
        .unwrap();
    for name in ["root", "daemon", "nobody", "_mbsetupuser", "Guest"] {
        assert!(records.join(format!("{name}.plist")).is_file(), "{name}");
    }
    let bytes = std::fs::read(records.join("alice.plist")).unwrap();
    assert!(bytes.starts_with(b"bplist00"), "records are binary plists");
    assert!(f.exists("/Users/Shared"));
    let c = f.device.console_user().unwrap().unwrap();
    assert_eq!((c.name.as_str(), c.uid), ("alice", 501));
    assert_eq!(c.home.as_deref(), Some("/Users/alice"));
    assert!(f.summary.to_string().contains("alice (uid 501"));
}

#[test]
fn non_ascii_names_and_homes_outside_users_work() {
    let f = sandbox(SandboxOptions {
        users: parse_users("zoë:/Users/Shared/homes/zoe,bob").unwrap(),
        ..Default::default()
    });
    let home = "/Users/Shared/homes/zoe";
    assert_eq!(
        f.device.users().unwrap(),
        vec![user("zoë", 501, home), user("bob", 502, "/Users/bob")]
    );
    let c = f.device.console_user().unwrap().unwrap();
    assert_eq!(c.name, "zoë");
    assert_eq!(c.home.as_deref(), Some(home));
    for rel in PURGE_PATHS_USER.iter().chain(SURVIVOR_PATHS_USER) {
        assert!(f.exists(&format!("{home}/{rel}")), "{rel}");
    }
    assert!(!f.exists("/Users/zoë"));
    let pref = format!("{home}/{}", layout::USER_AAD_PREFERENCES);
    let out = f.run(
        "/usr/bin/sudo",
        &["-u", "zoë", "/usr/local/jamf/bin/jamfAAD", "clean"],
    );
    assert!(out.success(), "{out:?}");
    assert!(!f.exists(&pref));
    assert!(f.exists(&format!("/Users/bob/{}", layout::USER_AAD_PREFERENCES)));
    assert_eq!(
        f.summary.computer_name, "Zoë's MacBook Pro",
        "named after the console user"
    );
}

#[test]
fn plants_every_target_and_survivor() {
    let f = default_sandbox();
    for mac in PURGE_PATHS_SYSTEM
        .iter()
        .chain(SURVIVOR_PATHS_SYSTEM)
        .chain(FRAMEWORK_PATHS)
    {
        assert!(f.exists(mac), "{mac}");
    }
    for home in ["/Users/alice", "/Users/bob"] {
        for rel in PURGE_PATHS_USER.iter().chain(SURVIVOR_PATHS_USER) {
            assert!(f.exists(&format!("{home}/{rel}")), "{home}/{rel}");
        }
    }
    // Folders hold files and a subfolder, so a purge has something to move.
    let folder = f
        .device
        .host_path("/Users/bob/Library/Group Containers/UBF8T346G9.com.microsoft.oneauth")
        .unwrap();
    assert!(folder.join("Data/Logs/events.log").is_file());

    let aad = plist::Value::from_file(
        f.device
            .host_path(&format!("/Users/alice/{}", layout::USER_AAD_PREFERENCES))
            .unwrap(),
    )
    .unwrap();
    let aad = aad.as_dictionary().unwrap();
    assert_eq!(aad["have_an_Azure_id"].as_boolean(), Some(true));
    assert!(aad["last_aad_token_timestamp"].as_signed_integer().unwrap() > 1_700_000_000);

    let jamf_plist = f
        .device
        .host_path("/Library/Preferences/com.jamfsoftware.jamf.plist")
        .unwrap();
    assert!(std::fs::read(&jamf_plist).unwrap().starts_with(b"bplist00"));
    let jamf = plist::Value::from_file(&jamf_plist).unwrap();
    assert_eq!(
        jamf.as_dictionary().unwrap()["jss_url"].as_string(),
        Some("https://example.jamfcloud.com/")
    );
    // Links stay inside the sandbox wherever it lives.
    let link = f.device.host_path("/usr/local/bin/jamf").unwrap();
    assert_eq!(
        std::fs::read_link(&link).unwrap(),
        PathBuf::from("../jamf/bin/jamf")
    );
    assert!(std::fs::canonicalize(&link)
        .unwrap()
        .starts_with(f.device.root()));
    for mac in FRAMEWORK_PATHS {
        assert!(
            f.exists(&format!("{FRAMEWORK_MIRROR}{mac}")),
            "mirror {mac}"
        );
    }
}

fn count(items: &[KeychainItem], pred: impl Fn(&KeychainItem) -> bool) -> usize {
    items.iter().filter(|i| pred(i)).count()
}

fn label_is(i: &KeychainItem, class: ItemClass, label: &str) -> bool {
    i.class == Some(class) && i.label.as_deref() == Some(label)
}

fn is_device_cert(i: &KeychainItem) -> bool {
    i.class == Some(ItemClass::Certificate)
        && i.issuer
            .as_deref()
            .is_some_and(|s| s.eq_ignore_ascii_case("MS-Organization-Access"))
}

#[test]
fn keychains_hold_the_registration_and_the_survivors() {
    let f = default_sandbox();
    let alice = f.keychain(Some("alice"));
    let bob = f.keychain(Some("bob"));
    let system = f.keychain(None);
    assert_eq!(
        count(&alice, |i| i.account.as_deref()
            == Some(
                "com.microsoft.workplacejoin.devicePatchAttemptTimestamp"
            )),
        2
    );
    assert_eq!(count(&alice, is_device_cert), 2);
    assert_eq!(count(&bob, is_device_cert), 1);
    let ids = &f.summary.users[0].entra_device_ids;
    assert!(alice
        .iter()
        .any(|i| i.subject.as_deref() == Some(&format!("CN={}", ids[1]))
            && i.issuer.as_deref() == Some("ms-organization-access")));
    for items in [&alice, &bob] {
        for (class, label) in [
            (ItemClass::PublicKey, keychains::WORKPLACE_JOIN_KEY),
            (ItemClass::PrivateKey, keychains::WORKPLACE_JOIN_KEY),
            (ItemClass::PublicKey, keychains::SESSION_TRANSPORT_KEY),
            (ItemClass::PrivateKey, keychains::SESSION_TRANSPORT_KEY),
            (ItemClass::PublicKey, "JAMF"),
            (ItemClass::PrivateKey, "JAMF"),
            (ItemClass::InternetPassword, "HomeNetwork"),
            (ItemClass::GenericPassword, "Chrome Safe Storage"),
            (
                ItemClass::IdentityPreference,
                "https://enterpriseregistration.windows.net (UBF8T346G9.com.microsoft.CompanyPortalMac)",
            ),
        ] {
            assert_eq!(count(items, |i| label_is(i, class, label)), 1, "{label}");
        }
        assert!(items
            .iter()
            .filter(|i| i.class == Some(ItemClass::PrivateKey))
            .all(|i| !i.extractable));
    }
    assert_eq!(count(&system, is_device_cert), 1);
    assert!(system
        .iter()
        .any(|i| i.label.as_deref() == Some("com.apple.systemdefault")));
    let upn = KeychainItem {
        class: Some(ItemClass::GenericPassword),
        account: Some("com.microsoft.workplacejoin.registeredUserPrincipalName".into()),
        service: Some("com.microsoft.workplacejoin.registeredUserPrincipalName".into()),
        ..Default::default()
    };
    let kc = crate::keychain::backend(
        &f.device,
        &KeychainLocation::User {
            name: "bob".into(),
            uid: 502,
            home: "/Users/bob".into(),
        },
    )
    .unwrap();
    assert_eq!(
        kc.export(&upn).unwrap().as_deref(),
        Some(&b"bob@contoso.com"[..])
    );
}

#[test]
fn platform_sso_leaves_no_device_certificate_in_the_keychain() {
    let f = sandbox(SandboxOptions {
        psso: true,
        ..Default::default()
    });
    assert_eq!(count(&f.keychain(Some("alice")), is_device_cert), 0);
    assert_eq!(count(&f.keychain(None), is_device_cert), 0);
    let out = f.run(layout::CONDITIONAL_ACCESS, &["getPSSOStatus"]);
    assert_eq!(out.stdout.lines().next(), Some("2"));
    let sso = f.run("/usr/bin/app-sso", &["platform", "-s"]);
    assert!(
        sso.stdout.contains("registrationCompleted = true"),
        "{sso:?}"
    );
}

#[test]
fn every_call_is_one_line_in_the_command_log() {
    let f = default_sandbox();
    assert!(f.log().is_empty());
    assert!(f.run("/usr/local/bin/jamf", &["version"]).success());
    f.run("/usr/bin/pkill", &["-x", "Company Portal"]);
    f.run("/usr/sbin/scutil", &["--get", "ComputerName"]);
    f.run("/usr/bin/open", &["a\nb"]);
    assert_eq!(
        f.log(),
        vec![
            "/usr/local/bin/jamf version",
            "/usr/bin/pkill -x Company Portal",
            "/usr/sbin/scutil --get ComputerName",
            "/usr/bin/open a b",
        ]
    );
}

#[test]
fn small_fakes_answer_like_a_mac() {
    let f = default_sandbox();
    let out = f.run("/usr/sbin/scutil", &["--get", "ComputerName"]);
    assert_eq!(out.stdout, "Alice's MacBook Pro\n");
    let out = f.run("/usr/sbin/ioreg", &["-rd1", "-c", "IOPlatformExpertDevice"]);
    assert!(out
        .stdout
        .contains("\"IOPlatformSerialNumber\" = \"C02ZK0XXMD6R\""));
    let out = f.run("/usr/bin/killall", &["Self Service"]);
    assert_eq!((out.code, out.stdout.as_str()), (Some(1), ""));
    let out = f.run("/usr/local/jamf/bin/jamf", &["checkJSSConnection"]);
    assert!(out.success());
    assert!(out.stdout.contains("The JSS is available."));
    let out = f.run("/usr/local/jamf/bin/jamf", &["frobnicate"]);
    assert_eq!(out.code, Some(1));
    assert!(out.stdout.contains("Usage: jamf verb"));
    let out = f.run("/usr/bin/profiles", &["show", "-type", "enrollment"]);
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.contains("Client is not DEP enabled."));
    let out = f.run(layout::CONDITIONAL_ACCESS, &["getPSSOStatus"]);
    assert_eq!(out.stdout, "0\n");
    let out = f.run("/usr/sbin/sysctl", &["-n", "kern.bootsessionuuid"]);
    assert_eq!(
        out.stdout.trim(),
        f.state("boot-session-uuid").unwrap().trim()
    );
    // Nobody at the console: the loginwindow form, which the device reads as nobody.
    std::fs::write(
        f.device.host_path("/var/db/sandbox/console-user").unwrap(),
        "",
    )
    .unwrap();
    assert_eq!(f.device.console_user().unwrap(), None);
}

#[test]
fn remove_mdm_profile_and_framework_then_enroll_again() {
    let f = default_sandbox();
    let status = |f: &Fixture| f.run("/usr/bin/profiles", &["status", "-type", "enrollment"]);
    assert_eq!(
        status(&f).stdout,
        "Enrolled via DEP: No\nMDM enrollment: Yes (User Approved)\n"
    );
    let listed = f.run("/usr/bin/profiles", &["list"]);
    assert!(listed.stdout.contains(
        "_computerlevel[1] attribute: profileUUID: 00000000-0000-0000-A000-4A414D460003"
    ));

    assert!(f
        .run("/usr/local/jamf/bin/jamf", &["removeMdmProfile"])
        .success());
    assert_eq!(
        status(&f).stdout,
        "Enrolled via DEP: No\nMDM enrollment: No\n"
    );
    let listed = f.run("/usr/bin/profiles", &["-P"]);
    assert!(listed
        .stdout
        .contains("There are no configuration profiles installed"));

    let out = f.run("/usr/local/jamf/bin/jamf", &["removeFramework"]);
    assert!(out.success(), "{out:?}");
    for mac in FRAMEWORK_PATHS {
        assert!(!f.exists(mac), "{mac} survived removeFramework");
    }
    assert!(f.exists(FRAMEWORK_MIRROR), "the pristine copy stays");
    assert!(f.exists("/Library/LaunchDaemons/com.microsoft.autoupdate.helper.plist"));
    let out = f.run(
        "/bin/launchctl",
        &["print", "system/com.jamfsoftware.task.1"],
    );
    assert_eq!(out.code, Some(113), "the Jamf jobs were unloaded");

    // A self-service user enrolls again in the browser.
    let out = f.run(
        "/usr/bin/open",
        &["https://example.jamfcloud.com/enroll?type=computer"],
    );
    assert!(out.success(), "{out:?}");
    for mac in FRAMEWORK_PATHS {
        assert!(f.exists(mac), "{mac} not restored");
    }
    assert_eq!(
        status(&f).stdout,
        "Enrolled via DEP: No\nMDM enrollment: Yes (User Approved)\n"
    );
    assert!(f
        .run("/usr/local/bin/jamf", &["checkJSSConnection"])
        .success());
    assert!(f
        .run(
            "/bin/launchctl",
            &["print", "system/com.jamfsoftware.task.1"]
        )
        .success());
    // Self Service URLs are only recorded.
    let before = f.state("enrollment");
    f.run(
        "/usr/bin/open",
        &["jamfselfservice://content?entity=policy&id=7&action=execute"],
    );
    assert_eq!(f.state("enrollment"), before);
}

#[test]
fn a_non_removable_profile_stays_while_jamf_exits_zero() {
    let f = sandbox(SandboxOptions {
        ade: true,
        mdm_removal_disallowed: true,
        ..Default::default()
    });
    let out = f.run("/usr/local/jamf/bin/jamf", &["removeMdmProfile"]);
    assert!(out.success());
    assert!(out.stdout.contains("Error"));
    assert!(f.state("mdm-profile").is_some());
    let status = f.run("/usr/bin/profiles", &["status", "-type", "enrollment"]);
    assert_eq!(
        status.stdout,
        "Enrolled via DEP: Yes\nMDM enrollment: Yes (User Approved)\n"
    );
    assert!(f
        .run("/usr/bin/profiles", &["show", "-type", "enrollment"])
        .success());
    // On ADE, renewing the enrollment (the user clicks the notification) restores the framework.
    f.run("/usr/local/jamf/bin/jamf", &["removeFramework"]);
    assert!(!f.exists("/usr/local/jamf/bin/jamf"));
    let out = f.run("/usr/bin/profiles", &["renew", "-type", "enrollment"]);
    assert!(out.success(), "{out:?}");
    assert!(f.exists("/usr/local/jamf/bin/jamf"));
}

#[test]
fn renew_needs_ade_and_enrolling_needs_the_server() {
    let f = sandbox(SandboxOptions {
        jss_offline: true,
        ..Default::default()
    });
    let out = f.run("/usr/bin/profiles", &["renew", "-type", "enrollment"]);
    assert_eq!(out.code, Some(1));
    let out = f.run("/usr/local/jamf/bin/jamf", &["checkJSSConnection"]);
    assert_eq!(out.code, Some(1));
    assert!(out.stdout.contains("The JSS is not available"));
    f.run("/usr/local/jamf/bin/jamf", &["removeFramework"]);
    f.run("/usr/bin/open", &["https://example.jamfcloud.com/enroll"]);
    assert!(
        !f.exists("/usr/local/jamf/bin/jamf"),
        "nobody can enroll offline"
    );
}

#[test]
fn pkgutil_forgets_receipts() {
    let f = default_sandbox();
    let id = "com.microsoft.CompanyPortalMac";
    let pkgs = f.run("/usr/sbin/pkgutil", &["--pkgs"]);
    assert!(pkgs.stdout.lines().any(|l| l == id));
    assert!(f.run("/usr/sbin/pkgutil", &["--pkg-info", id]).success());
    let out = f.run("/usr/sbin/pkgutil", &["--forget", id]);
    assert_eq!(out.stdout, format!("Forgot package '{id}' on '/'.\n"));
    assert!(!f.exists(&format!("/var/db/receipts/{id}.plist")));
    assert!(!f.exists(&format!("/var/db/receipts/{id}.bom")));
    let out = f.run("/usr/sbin/pkgutil", &["--pkg-info", id]);
    assert_eq!(out.code, Some(1));
    assert_eq!(out.stderr, format!("No receipt for '{id}' found at '/'.\n"));
    assert!(f.exists("/var/db/receipts/com.microsoft.package.Microsoft_Outlook.app.plist"));
}

#[test]
fn sudo_and_asuser_run_programs_inside_the_sandbox() {
    let f = default_sandbox();
    let bob_pref = format!("/Users/bob/{}", layout::USER_AAD_PREFERENCES);
    let alice_pref = format!("/Users/alice/{}", layout::USER_AAD_PREFERENCES);
    let out = f.run(
        "/bin/launchctl",
        &[
            "asuser",
            "502",
            "/usr/bin/sudo",
            "-u",
            "bob",
            "/usr/local/jamf/bin/jamfAAD",
            "clean",
        ],
    );
    assert!(out.success(), "{out:?}");
    assert!(!f.exists(&bob_pref));
    assert!(f.exists(&alice_pref));
    // Without sudo, Jamf Conditional Access acts for the console user.
    assert!(f.run(layout::CONDITIONAL_ACCESS, &["clean"]).success());
    assert!(!f.exists(&alice_pref));
    // A Mac system program that is not faked is never taken from the host.
    let out = f.run(
        "/usr/bin/sudo",
        &["-u", "bob", "/usr/bin/security", "list-keychains"],
    );
    assert_eq!(out.code, Some(127));
    let out = f.run("/usr/bin/sudo", &["-u", "mallory", "/usr/bin/open", "x"]);
    assert_eq!(out.code, Some(1));
    // launchctl, sudo and the program each record their own call.
    assert_eq!(
        f.log()[..3],
        [
            "/bin/launchctl asuser 502 /usr/bin/sudo -u bob /usr/local/jamf/bin/jamfAAD clean",
            "/usr/bin/sudo -u bob /usr/local/jamf/bin/jamfAAD clean",
            "/usr/local/jamf/bin/jamfAAD clean",
        ]
    );
    assert_eq!(f.log().len(), 6);
}

#[test]
fn launchctl_tracks_loaded_jobs() {
    let f = default_sandbox();
    let agent = "gui/501/com.jamf.management.jamfAAD.agent";
    assert!(f.run("/bin/launchctl", &["print", agent]).success());
    assert!(f.run("/bin/launchctl", &["bootout", agent]).success());
    let again = f.run("/bin/launchctl", &["bootout", agent]);
    assert_eq!(again.code, Some(113));
    let plist = "/Library/LaunchDaemons/com.jamfsoftware.task.1.plist";
    let out = f.run("/bin/launchctl", &["bootstrap", "system", plist]);
    assert_eq!(out.code, Some(5), "already loaded");
    assert!(f
        .run("/bin/launchctl", &["bootout", "system", plist])
        .success());
    assert!(f
        .run("/bin/launchctl", &["bootstrap", "system", plist])
        .success());
    assert!(f
        .run(
            "/bin/launchctl",
            &["kickstart", "-k", "system/com.jamfsoftware.task.1"]
        )
        .success());
}

#[test]
fn fakes_refuse_paths_that_climb_out() {
    let f = default_sandbox();
    for (program, args) in [
        ("/bin/launchctl", vec!["bootout", "system/../../../../../x"]),
        (
            "/bin/launchctl",
            vec!["bootstrap", "system", "/Library/../../x.plist"],
        ),
        ("/usr/bin/sudo", vec!["-u", "bob", "/usr/../../bin/true"]),
        ("/usr/sbin/pkgutil", vec!["--forget", "../../x"]),
    ] {
        let out = f.run(program, &args);
        assert!(!out.success(), "{program} {args:?}: {out:?}");
    }
}

#[test]
fn fakes_refuse_to_run_outside_a_sandbox() {
    let f = default_sandbox();
    let tmp = tempfile::tempdir().unwrap();
    let copy = tmp.path().join("usr/bin/profiles");
    std::fs::create_dir_all(copy.parent().unwrap()).unwrap();
    std::fs::copy(f.device.host_path("/usr/bin/profiles").unwrap(), &copy).unwrap();
    let out = duct::cmd(&copy, ["status", "-type", "enrollment"])
        .stderr_capture()
        .stdout_capture()
        .unchecked()
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(70));
    assert!(!tmp.path().join("var").exists());
}

fn write_daemon(f: &Fixture, name: &str, program: &str, extra: &[(&str, plist::Value)]) {
    let mut job = layout::launchd_plist(name, &[program, "from boot"], None);
    for (k, v) in extra {
        job.as_dictionary_mut()
            .unwrap()
            .insert(k.to_string(), v.clone());
    }
    job.to_file_xml(
        f.device
            .host_path(&format!("/Library/LaunchDaemons/{name}.plist"))
            .unwrap(),
    )
    .unwrap();
}

#[test]
fn boot_starts_a_new_session_and_runs_daemons_inside_only() {
    let f = default_sandbox();
    let before = f.device.boot_session().unwrap();
    let child = f.schedule_restart();
    assert_eq!(f.state("pending-reboot").as_deref(), Some("+1\n"));

    // A daemon of our own inside the sandbox, by its host path, logging inside the sandbox.
    let script = f.device.host_path("/usr/local/libexec/hello").unwrap();
    std::fs::create_dir_all(script.parent().unwrap()).unwrap();
    std::fs::write(
        &script,
        "#!/bin/sh\necho \"hello $1\"\necho oops >&2\necho ran > \"$(dirname \"$0\")/ran\"\nexit 3\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let log = f.device.host_path("/var/log/hello.log").unwrap();
    write_daemon(
        &f,
        "org.example.hello",
        script.to_str().unwrap(),
        &[(
            "StandardOutPath",
            plist::Value::String(log.to_string_lossy().into_owned()),
        )],
    );
    // One whose program is a real host program outside the sandbox.
    write_daemon(&f, "org.example.outside", "/bin/sh", &[]);

    let report = boot(&f.dir).unwrap();
    assert_eq!(report.pending_reboot.as_deref(), Some("+1"));
    assert_eq!(f.state("pending-reboot"), None);
    // The restart ended the child shutdown left waiting for it.
    assert!(!f.is_shutdown_child(child));
    assert_eq!(f.run("/usr/bin/pgrep", &["-x", "shutdown"]).code, Some(1));
    assert_eq!(f.state("shutdown-pids"), None);
    assert_eq!(
        report.previous_boot_session.as_deref(),
        Some(before.as_str())
    );
    let after = f.device.boot_session().unwrap();
    assert_ne!(before, after);
    assert_eq!(report.boot_session, after);

    let by_label = |l: &str| {
        report
            .daemons
            .iter()
            .find(|d| d.label.as_deref() == Some(l))
            .unwrap()
            .outcome
            .clone()
    };
    match by_label("org.example.hello") {
        DaemonOutcome::Ran {
            code, output_tail, ..
        } => {
            assert_eq!(code, Some(3));
            assert_eq!(output_tail, "hello from boot\noops");
        }
        other => panic!("{other:?}"),
    }
    assert!(script.with_file_name("ran").exists());
    assert_eq!(std::fs::read_to_string(&log).unwrap(), "hello from boot\n");
    assert!(matches!(
        by_label("org.example.outside"),
        DaemonOutcome::Refused { .. }
    ));
    assert!(matches!(
        by_label("com.jamfsoftware.task.1"),
        DaemonOutcome::Refused { .. }
    ));
    let text = report.to_string();
    assert!(text.contains("org.example.hello: ran"), "{text}");
    assert!(text.contains("org.example.outside: not run"), "{text}");
    // launchd's jobs were reloaded from the files present at boot.
    assert!(f
        .run("/bin/launchctl", &["print", "system/org.example.hello"])
        .success());
}

#[test]
fn shutdown_leaves_a_child_that_pgrep_finds_and_killall_or_pkill_cancels() {
    let f = default_sandbox();
    assert_eq!(f.run("/usr/bin/pgrep", &["-x", "shutdown"]).code, Some(1));
    let child = f.schedule_restart();
    let out = f.run("/usr/bin/pgrep", &["-x", "shutdown"]);
    assert_eq!(
        (out.code, out.stdout.clone()),
        (Some(0), format!("{child}\n"))
    );
    // Other names still find no process, as on a Mac where they are not running.
    assert_eq!(
        f.run("/usr/bin/pgrep", &["-x", "Company Portal"]).code,
        Some(1)
    );
    assert_eq!(f.run("/usr/bin/pgrep", &["-x", "shut"]).code, Some(1));
    assert_eq!(
        f.run("/usr/bin/pkill", &["-x", "Self Service"]).code,
        Some(1)
    );
    assert_eq!(f.run("/usr/bin/killall", &["jamf"]).code, Some(1));
    assert!(f.is_shutdown_child(child));
    // killall cancels the restart: the child is gone, nothing is pending.
    let out = f.run("/usr/bin/killall", &["shutdown"]);
    assert!(out.success(), "{out:?}");
    assert!(!f.is_shutdown_child(child));
    assert_eq!(f.state("pending-reboot"), None);
    assert_eq!(f.run("/usr/bin/pgrep", &["-x", "shutdown"]).code, Some(1));
    let out = f.run("/usr/bin/killall", &["shutdown"]);
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.contains("No matching processes"), "{out:?}");
    // and so does pkill
    let child = f.schedule_restart();
    assert!(f.run("/usr/bin/pkill", &["-x", "shutdown"]).success());
    assert!(!f.is_shutdown_child(child));
    assert_eq!(f.state("pending-reboot"), None);
}

#[test]
fn a_recorded_pid_that_is_not_shutdowns_child_is_never_signalled() {
    let f = default_sandbox();
    // A process of this test's own stands where a reused pid would: recorded, not ours.
    use std::os::unix::process::CommandExt;
    use std::process::Stdio;
    let mut other = std::process::Command::new("/bin/sh")
        .args(["-c", "sleep 30; :", "reenroll-sandbox-shutdown"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .unwrap();
    let pid = other.id();
    std::fs::write(
        f.device
            .host_path(&format!("{STATE_DIR}/shutdown-pids"))
            .unwrap(),
        format!("{pid}\n"),
    )
    .unwrap();
    std::fs::write(
        f.device
            .host_path(&format!("{STATE_DIR}/pending-reboot"))
            .unwrap(),
        "+1\n",
    )
    .unwrap();
    let pgrep = f.run("/usr/bin/pgrep", &["-x", "shutdown"]);
    let killall = f.run("/usr/bin/killall", &["shutdown"]);
    let pkill = f.run("/usr/bin/pkill", &["shutdown"]);
    boot(&f.dir).unwrap();
    let alive = other.try_wait().unwrap().is_none();
    // Our own process group (the shell and its sleep).
    let _ = nix::sys::signal::killpg(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGKILL,
    );
    let _ = other.wait();
    assert_eq!(
        (pgrep.code, killall.code, pkill.code),
        (Some(1), Some(1), Some(1))
    );
    assert!(
        alive,
        "a process that is not the fake shutdown's child was signalled"
    );
}

#[test]
fn boot_refuses_a_folder_that_is_not_a_sandbox() {
    let tmp = tempfile::tempdir().unwrap();
    let err = boot(tmp.path()).unwrap_err();
    assert!(
        format!("{err:#}").contains("not a sandbox device"),
        "{err:#}"
    );
}

#[test]
fn profiles_refuses_a_user_where_macos_needs_root() {
    let f = sandbox(SandboxOptions {
        ade: true,
        ..SandboxOptions::default()
    });
    for args in [
        vec!["show", "-type", "enrollment"],
        vec!["renew", "-type", "enrollment"],
    ] {
        let mut as_bob = vec!["-u", "bob", "/usr/bin/profiles"];
        as_bob.extend(&args);
        let out = f.run("/usr/bin/sudo", &as_bob);
        assert_eq!(out.code, Some(1), "{args:?}: {out:?}");
        // NOTE: not run as root, the fake sudo first says once that it cannot drop privileges.
        assert!(
            out.stderr.ends_with("Must be running as root\n"),
            "{args:?}: {out:?}"
        );
    }
    // `launchctl asuser` changes no credentials: root (or the sandbox's owner) stays it.
    let out = f.run(
        "/bin/launchctl",
        &[
            "asuser",
            "502",
            "/usr/bin/profiles",
            "show",
            "-type",
            "enrollment",
        ],
    );
    assert!(out.success(), "{out:?}");
    assert!(out.stdout.starts_with("Device Enrollment configuration:"));
    // Reading the status needs no root.
    assert!(f
        .run(
            "/usr/bin/sudo",
            &[
                "-u",
                "bob",
                "/usr/bin/profiles",
                "status",
                "-type",
                "enrollment"
            ]
        )
        .success());
}

#[test]
fn as_root_homes_belong_to_their_users_and_sudo_drops_to_them() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    if !nix::unistd::geteuid().is_root() {
        return;
    }
    let f = default_sandbox();
    for (home, uid) in [("/Users/alice", 501), ("/Users/bob", 502)] {
        for mac in [
            home.to_string(),
            format!("{home}/Library/Keychains/sandbox-keychain.plist"),
            format!("{home}/{}", layout::USER_AAD_PREFERENCES),
        ] {
            let m = std::fs::symlink_metadata(f.device.host_path(&mac).unwrap()).unwrap();
            assert_eq!((m.uid(), m.gid()), (uid, STAFF_GID), "{mac}");
        }
    }
    let root_owned = f.device.host_path("/Library/Preferences").unwrap();
    assert_eq!(std::fs::metadata(root_owned).unwrap().uid(), 0);
    // A program run by `sudo -u bob` is bob: it cannot run what only root may.
    let secret = f.device.host_path("/private/tmp/root-only").unwrap();
    std::fs::create_dir_all(&secret).unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o700)).unwrap();
    let prog = secret.join("tool");
    std::fs::write(&prog, "#!/bin/sh\necho ran\n").unwrap();
    std::fs::set_permissions(&prog, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = f.run(
        "/usr/bin/sudo",
        &["-u", "bob", "/private/tmp/root-only/tool"],
    );
    assert_eq!(out.code, Some(126), "{out:?}");
    assert!(out.stderr.contains("Permission denied"), "{out:?}");
    let out = f.run("/usr/bin/sudo", &["/private/tmp/root-only/tool"]);
    assert_eq!(out.stdout, "ran\n", "{out:?}");
    // Bob's own program may still change bob's home, and the command log.
    let out = f.run(
        "/usr/bin/sudo",
        &["-u", "bob", "/usr/local/jamf/bin/jamfAAD", "clean"],
    );
    assert!(out.success(), "{out:?}");
    assert!(!f.exists(&format!("/Users/bob/{}", layout::USER_AAD_PREFERENCES)));
    assert!(f
        .log()
        .iter()
        .any(|l| l == "/usr/local/jamf/bin/jamfAAD clean"));
}

#[test]
fn managed_network_profiles_are_listed_with_the_mdm_profile_and_go_with_it() {
    let none = default_sandbox();
    let listing = none.run("/usr/bin/profiles", &["show", "-type", "configuration"]);
    assert!(crate::action::payloads::parse(&listing.stdout).is_empty());
    assert!(listing
        .stdout
        .ends_with("There are 1 configuration profiles installed\n"));

    let f = sandbox(SandboxOptions {
        managed_network: vec![
            ManagedNetwork::Wifi,
            ManagedNetwork::Ethernet,
            ManagedNetwork::Vpn,
            ManagedNetwork::RootCert,
        ],
        ..Default::default()
    });
    assert!(f.summary.to_string().contains(
        "managed network and trust profiles (installed by the MDM): wifi, ethernet, vpn, root-cert"
    ));
    let listing = f.run("/usr/bin/profiles", &["show", "-type", "configuration"]);
    assert!(listing.success(), "{listing:?}");
    assert!(listing
        .stdout
        .ends_with("There are 5 configuration profiles installed\n"));
    let types: Vec<String> = crate::action::payloads::parse(&listing.stdout)
        .into_iter()
        .map(|p| p.payload_type)
        .collect();
    assert_eq!(
        types,
        [
            "com.apple.wifi.managed",
            "com.apple.security.scep",
            "com.apple.firstactiveethernet.managed",
            "com.apple.security.pkcs12",
            "com.apple.vpn.managed",
            "com.apple.security.root",
        ]
    );
    // The MDM profile's removal takes them with it.
    assert!(f
        .run("/usr/local/jamf/bin/jamf", &["removeMdmProfile"])
        .success());
    let listing = f.run("/usr/bin/profiles", &["show", "-type", "configuration"]);
    assert!(crate::action::payloads::parse(&listing.stdout).is_empty());
    assert!("wifi,vpn"
        .split(',')
        .all(|k| k.parse::<ManagedNetwork>().is_ok()));
    assert!("802.1x".parse::<ManagedNetwork>().is_err());
}
