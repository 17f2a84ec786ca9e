//! The sandbox device: a fake Mac under a folder, for tests and demos on any host.
//!
//! `create` plants what a Mac that needs the Cause 6 fix holds (user records, every file the purge
//! removes and unrelated neighbours that must survive, the Jamf framework, apps and receipts,
//! keychains) and installs fake programs (`jamf`, `profiles`, `launchctl`, ...) at their Mac paths.
//! The fakes act only on files inside the sandbox, record every call in
//! `/var/log/sandbox-commands.log`, and keep the device's state as one-value text files in
//! `/var/db/sandbox/` (see `STATE_DIR`). `boot` simulates a restart.
//!
//! Nothing here needs root. Created by root, the sandbox is owned like a Mac: system files by
//! root, each home by its user's uid and group 20 (staff), and the fake `sudo -u` drops to those
//! ids. Created by anyone else, everything belongs to the caller and the fakes run as the caller.

mod boot;
pub mod fakes;
pub mod keychains;
pub mod layout;
mod plant;

#[cfg(test)]
mod tests;

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::{bail, Context, Result};

pub use boot::{boot, BootReport, DaemonOutcome, DaemonRun};
pub use fakes::COMMAND_LOG;
pub use layout::{
    FAMILY_PATHS_SYSTEM, FAMILY_PATHS_USER, FRAMEWORK_PATHS, PURGE_PATHS_SYSTEM, PURGE_PATHS_USER,
    SURVIVOR_PATHS_SYSTEM, SURVIVOR_PATHS_USER,
};

use crate::device::Device;
use crate::keychain::KeychainLocation;
use plant::Planter;

/// The primary group of the sandbox's users: macOS's default, 20 `staff`.
pub const STAFF_GID: u32 = 20;
/// Where the fakes keep the device's state (Mac path).
pub const STATE_DIR: &str = "/var/db/sandbox";
/// Present in every sandbox: fakes refuse to run without it above them, `boot` refuses a folder
/// without it.
pub const MARKER: &str = "/var/db/sandbox/device";
/// The pristine framework the fakes restore on re-enrollment (a mirror of the device's tree).
pub const FRAMEWORK_MIRROR: &str = "/var/db/sandbox/framework";

/// One user account of the sandbox: `alice`, or `zoë:/Users/Shared/homes/zoe` (name:home).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserSpec {
    pub name: String,
    /// The home folder as the Mac sees it; `/Users/<name>` when not given.
    pub home: Option<String>,
}

impl UserSpec {
    pub fn home(&self) -> String {
        self.home
            .clone()
            .unwrap_or_else(|| format!("/Users/{}", self.name))
    }

    /// "Alice" for alice: the record's realname.
    pub fn realname(&self) -> String {
        let mut chars = self.name.chars();
        match chars.next() {
            Some(first) => first.to_uppercase().chain(chars).collect(),
            None => String::new(),
        }
    }
}

impl FromStr for UserSpec {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> Result<Self> {
        let (name, home) = match s.split_once(':') {
            Some((n, h)) => (n.trim(), Some(h.trim().trim_end_matches('/').to_string())),
            None => (s.trim(), None),
        };
        if name.is_empty() {
            bail!("`{s}`: a user needs a name (`alice` or `alice:/Users/alice`)");
        }
        if name
            .chars()
            .any(|c| c.is_whitespace() || c == '/' || c.is_control())
        {
            bail!("`{name}`: a short user name cannot contain spaces or `/`");
        }
        if name.starts_with('_') || ["root", "daemon", "nobody", "Guest", "Shared"].contains(&name)
        {
            bail!("`{name}` is a system account name; choose another user name");
        }
        if let Some(h) = &home {
            crate::device::check_mac_path(h)
                .with_context(|| format!("the home folder of user `{name}`"))?;
            if h == "/" {
                bail!("user `{name}`: the home folder cannot be `/`");
            }
        }
        Ok(UserSpec {
            name: name.to_string(),
            home,
        })
    }
}

/// Parse `alice,bob,zoë:/Users/Shared/homes/zoe` (what `--users` takes).
pub fn parse_users(list: &str) -> Result<Vec<UserSpec>> {
    list.split(',')
        .filter(|s| !s.trim().is_empty())
        .map(UserSpec::from_str)
        .collect()
}

#[derive(Clone, Debug)]
pub struct SandboxOptions {
    /// The first one is the console user. Default: alice, bob.
    pub users: Vec<UserSpec>,
    /// Enrolled through Automated Device Enrollment (`Enrolled via DEP: Yes`).
    pub ade: bool,
    /// The MDM profile cannot be removed from the device (`jamf removeMdmProfile` fails quietly).
    pub mdm_removal_disallowed: bool,
    /// Registered through Platform SSO: the device identity is in the Secure Enclave, so the login
    /// keychains hold no MS-Organization-Access certificate or Workplace Join key.
    pub psso: bool,
    /// Jamf Pro cannot be reached (`jamf checkJSSConnection` fails, enrolling does nothing).
    pub jss_offline: bool,
    /// Users who never logged in: their homes hold no login keychain file at all.
    pub never_logged_in: Vec<String>,
    /// Users whose login keychain is locked (logged out): listing it fails with
    /// errSecInteractionNotAllowed (-25308), as from a process outside their session.
    pub locked_keychains: Vec<String>,
    /// Add the keychain items real Macs hold that trip naive code, to the console user's login
    /// keychain: a SCEP certificate with no subject, label or issuer, items of different
    /// classes sharing one label, JAMF keys labelled otherwise or tagged only, ADFS identity
    /// preferences and look-alikes (`keychains::edge_case_items`).
    pub keychain_edge_cases: bool,
    /// The computer name (`scutil --get ComputerName`, and the name jamf.log lines carry);
    /// default "<First user>'s MacBook Pro".
    pub computer_name: Option<String>,
    /// Computer-level profiles the MDM installed that carry the Mac's network or trust (a
    /// managed Wi-Fi, 802.1X Ethernet, VPN, root certificate): `profiles` lists them while the
    /// MDM profile is installed, and they go with it.
    pub managed_network: Vec<ManagedNetwork>,
}

/// A managed network or trust profile the sandbox can carry (`sandbox --managed-network`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ManagedNetwork {
    /// An 802.1X Wi-Fi (`com.apple.wifi.managed`) with its SCEP identity.
    Wifi,
    /// 802.1X on the first active Ethernet (`com.apple.firstactiveethernet.managed`).
    Ethernet,
    /// A VPN (`com.apple.vpn.managed`).
    Vpn,
    /// A root certificate (`com.apple.security.root`).
    RootCert,
}

impl ManagedNetwork {
    pub const NAMES: &'static [&'static str] = &["wifi", "ethernet", "vpn", "root-cert"];

    /// The name the fake `profiles` reads from the state file `managed-profiles`.
    pub fn name(self) -> &'static str {
        match self {
            ManagedNetwork::Wifi => "wifi",
            ManagedNetwork::Ethernet => "ethernet",
            ManagedNetwork::Vpn => "vpn",
            ManagedNetwork::RootCert => "root-cert",
        }
    }
}

impl FromStr for ManagedNetwork {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> Result<Self> {
        match s.trim() {
            "wifi" => Ok(ManagedNetwork::Wifi),
            "ethernet" => Ok(ManagedNetwork::Ethernet),
            "vpn" => Ok(ManagedNetwork::Vpn),
            "root-cert" => Ok(ManagedNetwork::RootCert),
            other => bail!(
                "`{other}` is not one of {}",
                ManagedNetwork::NAMES.join(", ")
            ),
        }
    }
}

impl Default for SandboxOptions {
    fn default() -> Self {
        SandboxOptions {
            users: vec![
                UserSpec {
                    name: "alice".into(),
                    home: None,
                },
                UserSpec {
                    name: "bob".into(),
                    home: None,
                },
            ],
            ade: false,
            mdm_removal_disallowed: false,
            psso: false,
            jss_offline: false,
            never_logged_in: Vec::new(),
            locked_keychains: Vec::new(),
            keychain_edge_cases: false,
            computer_name: None,
            managed_network: Vec::new(),
        }
    }
}

#[derive(Clone, Debug)]
pub struct SummaryUser {
    pub name: String,
    pub uid: u32,
    pub home: String,
    /// Subjects (CN) of the MS-Organization-Access certificates in the user's login keychain.
    pub entra_device_ids: Vec<String>,
    /// No login keychain file (the user never logged in).
    pub never_logged_in: bool,
    /// The login keychain is locked.
    pub keychain_locked: bool,
}

/// What `create` planted.
#[derive(Clone, Debug)]
pub struct Summary {
    pub root: PathBuf,
    pub serial: String,
    pub computer_name: String,
    pub users: Vec<SummaryUser>,
    pub files: usize,
    pub folders: usize,
    pub links: usize,
    pub keychain_items: usize,
    pub keychains: usize,
    pub fake_programs: usize,
    pub options: SandboxOptions,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let o = &self.options;
        writeln!(f, "Sandbox device created in {}", self.root.display())?;
        writeln!(
            f,
            "  {} (serial {}), Jamf Pro {}{}",
            self.computer_name,
            self.serial,
            layout::JSS_URL,
            if o.jss_offline { " (offline)" } else { "" }
        )?;
        writeln!(
            f,
            "  enrolled via {}, MDM profile {}removable{}",
            if o.ade { "ADE" } else { "user approval" },
            if o.mdm_removal_disallowed { "not " } else { "" },
            if o.psso {
                ", registered with Platform SSO"
            } else {
                ""
            }
        )?;
        if !o.managed_network.is_empty() {
            let names: Vec<&str> = o.managed_network.iter().map(|m| m.name()).collect();
            writeln!(
                f,
                "  managed network and trust profiles (installed by the MDM): {}",
                names.join(", ")
            )?;
        }
        writeln!(f, "  users:")?;
        for (i, u) in self.users.iter().enumerate() {
            write!(f, "    {} (uid {}, home {})", u.name, u.uid, u.home)?;
            if i == 0 {
                write!(f, ", at the console")?;
            }
            if !u.entra_device_ids.is_empty() {
                write!(f, ", Entra device id {}", u.entra_device_ids.join(", "))?;
            }
            if u.never_logged_in {
                write!(f, ", never logged in (no login keychain)")?;
            }
            if u.keychain_locked {
                write!(f, ", login keychain locked")?;
            }
            writeln!(f)?;
        }
        writeln!(
            f,
            "  planted {} files, {} folders, {} symlinks; {} keychain items in {} keychains; {} fake programs",
            self.files, self.folders, self.links, self.keychain_items, self.keychains, self.fake_programs
        )?;
        write!(
            f,
            "  fakes record every call in {COMMAND_LOG}; `reenroll sandbox boot {}` restarts it",
            self.root.display()
        )
    }
}

/// Create a sandbox device in `dir`, which must not exist or be an empty folder.
pub fn create(dir: &Path, opts: &SandboxOptions) -> Result<Summary> {
    if opts.users.is_empty() {
        bail!("a sandbox device needs at least one user");
    }
    for (i, u) in opts.users.iter().enumerate() {
        if opts.users[..i].iter().any(|o| o.name == u.name) {
            bail!("user `{}` is given twice", u.name);
        }
        if opts.users[..i].iter().any(|o| o.home() == u.home()) {
            bail!("users share the home folder {}", u.home());
        }
    }
    for (what, names) in [
        ("--never-logged-in", &opts.never_logged_in),
        ("--locked-keychain", &opts.locked_keychains),
    ] {
        for name in names {
            if !opts.users.iter().any(|u| &u.name == name) {
                bail!("{what} {name}: there is no user `{name}` in this sandbox");
            }
        }
    }
    if opts
        .never_logged_in
        .iter()
        .any(|n| *n == opts.users[0].name)
    {
        bail!(
            "--never-logged-in {}: the first user is logged in at the console; name another",
            opts.users[0].name
        );
    }
    if let Some(both) = opts
        .never_logged_in
        .iter()
        .find(|n| opts.locked_keychains.contains(n))
    {
        bail!("user `{both}` cannot both have never logged in and have a locked keychain");
    }
    prepare_dir(dir)?;
    let device = Device::sandbox(dir)?;
    let root = device.root().to_path_buf();
    create_in(&device, opts).with_context(|| {
        format!(
            "creating the sandbox device in {} failed; delete that folder and try again",
            root.display()
        )
    })
}

fn prepare_dir(dir: &Path) -> Result<()> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                bail!(
                    "{} is not empty; a sandbox device is created in a new or empty folder",
                    dir.display()
                );
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => std::fs::create_dir_all(dir)
            .with_context(|| format!("creating the sandbox folder {}", dir.display())),
        Err(e) => Err(e).with_context(|| {
            format!(
                "{} cannot be used for a sandbox device (it must be a new or empty folder)",
                dir.display()
            )
        }),
    }
}

fn create_in(device: &Device, opts: &SandboxOptions) -> Result<Summary> {
    let root = device.root().to_path_buf();
    let mut p = Planter::new(&root);
    let console = &opts.users[0];
    let computer_name = match &opts.computer_name {
        Some(name) if name.trim().is_empty() || name.chars().any(char::is_control) => {
            bail!("the computer name {name:?} is empty or holds a control character")
        }
        Some(name) => name.clone(),
        None => format!("{}'s MacBook Pro", console.realname()),
    };
    let serial = "C02ZK0XXMD6R".to_string();

    layout::plant_records(&mut p, &opts.users)?;
    layout::plant_system(&mut p, &console.name)?;
    for u in &opts.users {
        layout::plant_home(&mut p, u)?;
    }
    layout::plant_apps(&mut p)?;
    layout::plant_framework(&mut p)?;
    let mut mirror = Planter::new(&p.host(FRAMEWORK_MIRROR)?);
    layout::plant_framework(&mut mirror)?;
    for (mac, body) in fakes::PROGRAMS {
        p.executable(mac, fakes::script(body))?;
    }

    // Keychains.
    let tenant_id = device_id();
    let mut users = Vec::new();
    let mut keychain_items = 0;
    for (i, u) in opts.users.iter().enumerate() {
        let uid = 501 + i as u32;
        let device_ids: Vec<String> = match (opts.psso, i) {
            (true, _) => Vec::new(),
            // A re-registration without cleanup leaves the old certificate next to the new one.
            (false, 0) => vec![device_id(), device_id()],
            (false, _) => vec![device_id()],
        };
        let never_logged_in = opts.never_logged_in.contains(&u.name);
        let keychain_locked = opts.locked_keychains.contains(&u.name);
        let location = KeychainLocation::User {
            name: u.name.clone(),
            uid,
            home: u.home(),
        };
        let device_ids = if never_logged_in {
            // Nothing was ever registered for them: no keychain file at all.
            Vec::new()
        } else {
            let mut items = keychains::user_items(&u.name, &computer_name, &tenant_id, &device_ids);
            if opts.keychain_edge_cases && i == 0 {
                items.extend(keychains::edge_case_items());
            }
            keychain_items += items.len();
            keychains::fill(device, &location, &items)?;
            if keychain_locked {
                keychains::lock(&mut p, &location)?;
            }
            device_ids
        };
        users.push(SummaryUser {
            name: u.name.clone(),
            uid,
            home: u.home(),
            entra_device_ids: device_ids,
            never_logged_in,
            keychain_locked,
        });
    }
    let system = keychains::system_items(users[0].entra_device_ids.first().map(String::as_str));
    keychain_items += system.len();
    keychains::fill(device, &KeychainLocation::System, &system)?;

    // Device state for the fakes.
    let state = |name: &str| format!("{STATE_DIR}/{name}");
    p.file(&state("serial"), &serial)?;
    p.file(&state("platform-uuid"), new_uuid().to_uppercase())?;
    p.file(&state("computer-name"), &computer_name)?;
    p.file(&state("console-user"), format!("{} 501\n", console.name))?;
    p.file(&state("boot-session-uuid"), format!("{}\n", new_uuid()))?;
    p.file(&state("jss-url"), layout::JSS_URL)?;
    p.file(
        &state("enrollment"),
        format!(
            "Enrolled via DEP: {}\nMDM enrollment: Yes (User Approved)\n",
            if opts.ade { "Yes" } else { "No" }
        ),
    )?;
    p.file(&state("mdm-profile"), "")?;
    p.file(&state("psso-status"), if opts.psso { "2\n" } else { "0\n" })?;
    if opts.psso {
        // The Entra device id of the Platform SSO registration (Secure Enclave key), which
        // getPSSOStatus reports to the user as primary_registration_metadata_device_id.
        p.file(&state("psso-device-id"), format!("{}\n", device_id()))?;
        p.file(&state("psso-tenant-id"), format!("{tenant_id}\n"))?;
    }
    for (on, flag) in [
        (opts.ade, "ade"),
        (opts.mdm_removal_disallowed, "mdm-removal-disallowed"),
        (opts.jss_offline, "jss-offline"),
    ] {
        if on {
            p.file(&state(flag), "")?;
        }
    }
    if !opts.managed_network.is_empty() {
        let mut names: Vec<&str> = opts.managed_network.iter().map(|m| m.name()).collect();
        names.dedup();
        p.file(&state("managed-profiles"), names.join("\n") + "\n")?;
    }
    let users_txt: String = users
        .iter()
        .zip(&opts.users)
        .map(|(u, spec)| {
            format!(
                "{}\t{}\t{}\t{}\t{STAFF_GID}\n",
                u.name,
                u.uid,
                u.home,
                spec.realname()
            )
        })
        .collect();
    p.file(&state("users.txt"), users_txt)?;
    boot::load_launchd_jobs(device, Some(501))?;
    // NOTE: the fakes append to it also when the fake sudo runs them as a user.
    let log = p.file(COMMAND_LOG, "")?;
    plant::set_mode(&log, 0o666)?;
    // The fake dialogs' record: osascript appends to it as the user.
    let dialogs = p.file(fakes::DIALOG_LOG, "")?;
    plant::set_mode(&dialogs, 0o666)?;
    // Where a user's program leaves requests for the system (the fake `open` enrolling): sticky
    // and writable by all, like /private/tmp.
    let spool = p.dir(&state("spool"))?;
    plant::set_mode(&spool, 0o1777)?;
    if nix::unistd::geteuid().is_root() {
        // As on a Mac, each home belongs to its user (and group staff), keychains included, so
        // what runs as the user (`sudo -u`) can change it and nothing else.
        for u in &users {
            plant::chown_tree(&p.host(&u.home)?, u.uid, STAFF_GID)?;
        }
    }
    // Last: until the marker exists the fakes refuse to run and `boot` refuses the folder.
    p.file(MARKER, "reenroll sandbox device, format 1\n")?;

    Ok(Summary {
        root,
        serial,
        computer_name,
        users,
        files: p.files + mirror.files,
        folders: p.folders + mirror.folders,
        links: p.links + mirror.links,
        keychain_items,
        keychains: opts.users.len() + 1 - opts.never_logged_in.len(),
        fake_programs: fakes::PROGRAMS.len() + 2,
        options: opts.clone(),
    })
}

/// Entra device ids are printed in lower case (the certificate's subject CN).
fn device_id() -> String {
    new_uuid().to_lowercase()
}

/// A random (version 4) UUID in upper case, as macOS prints them.
pub(crate) fn new_uuid() -> String {
    let mut b = [0u8; 16];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        use std::io::Read;
        let _ = f.read_exact(&mut b);
    }
    // NOTE: a fallback only for hosts without /dev/urandom; uniqueness per call is what matters.
    if b == [0u8; 16] {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        b = (nanos ^ (u128::from(std::process::id()) << 64)).to_le_bytes();
    }
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02X}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}
