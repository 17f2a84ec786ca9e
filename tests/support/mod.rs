//! The integration-test harness: sandbox devices built by the real binary, a fluent way to run
//! `reenroll --root DIR ...` against them, and tree hashes to prove what changed and what did not.
//!
//! ```ignore
//! let dev = Sandbox::new().users(&["zoë", "jdoe:/Users/Shared/homes/jdoe"]).build();
//! let before = dev.tree_hash();
//! let plan = dev.reenroll(&["plan", "--json"]).exit(0).json();
//! assert_eq!(dev.tree_hash(), before);
//! dev.reenroll(&["run", "--yes"]).env("REENROLL_FAULT", "crash@before-step:x").killed();
//! ```
//!
//! Every command runs the binary Cargo built for these tests (`CARGO_BIN_EXE_reenroll`, compiled
//! with the `fault-injection` feature), with stdin null (never a terminal) and `REENROLL_FAULT`
//! cleared unless a test sets it.

// Each test file uses a different part of the harness.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::Value;
use sha2::{Digest, Sha256};

/// The reenroll binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_reenroll");

/// Folders a tree hash leaves out: reenroll's own state (journal, quarantine, lock, the copied
/// binary) and logs (the fakes' command log, reenroll.log). They are examined on their own.
pub const EXCLUDED: &[&str] = &["Library/Application Support/reenroll", "var/log"];

/// The state directory of a sandbox device (Mac path).
pub const STATE_DIR: &str = "/Library/Application Support/reenroll";

/// A small playbook around a restart: a removal, the restart, another removal.
pub const REMOVE_REBOOT_REMOVE: &str = r#"
name = "remove-reboot-remove"
description = "A removal, a restart, another removal."

[[steps]]
id = "first"
title = "Remove the preferences"
[steps.action]
kind = "remove"
paths = ["{home}/Library/Preferences/com.microsoft.CompanyPortalMac.plist"]

[[steps]]
id = "restart"
title = "Restart"
[steps.action]
kind = "reboot"
delay_minutes = "1"

[[steps]]
id = "second"
title = "Remove the app"
[steps.action]
kind = "remove"
paths = ["/Applications/Company Portal.app"]
"#;

/// Builds a sandbox device with `reenroll sandbox DIR [options]`.
#[derive(Default, Clone)]
pub struct Sandbox {
    users: Vec<String>,
    flags: Vec<String>,
}

impl Sandbox {
    pub fn new() -> Self {
        Sandbox::default()
    }

    /// `name` or `name:/home/path`; the first one is at the console.
    pub fn users(mut self, users: &[&str]) -> Self {
        self.users = users.iter().map(|u| u.to_string()).collect();
        self
    }

    pub fn ade(mut self) -> Self {
        self.flags.push("--ade".into());
        self
    }

    pub fn mdm_removal_disallowed(mut self) -> Self {
        self.flags.push("--mdm-removal-disallowed".into());
        self
    }

    pub fn psso(mut self) -> Self {
        self.flags.push("--psso".into());
        self
    }

    pub fn jss_offline(mut self) -> Self {
        self.flags.push("--jss-offline".into());
        self
    }

    /// Users who never logged in: no login keychain file (`sandbox --never-logged-in`).
    pub fn never_logged_in(mut self, users: &[&str]) -> Self {
        self.flags.push("--never-logged-in".into());
        self.flags.push(users.join(","));
        self
    }

    /// Users whose login keychain is locked (`sandbox --locked-keychain`).
    pub fn locked_keychain(mut self, users: &[&str]) -> Self {
        self.flags.push("--locked-keychain".into());
        self.flags.push(users.join(","));
        self
    }

    /// A certificate without subject/label/issuer, items of two classes sharing a label, JAMF
    /// keys labelled otherwise or tagged only, ADFS identity preferences and look-alikes, in the
    /// first user's keychain (`sandbox --keychain-edge-cases`).
    pub fn keychain_edge_cases(mut self) -> Self {
        self.flags.push("--keychain-edge-cases".into());
        self
    }

    /// Plant the evidence of one documented problem (`sandbox --symptom NAME`).
    pub fn symptom(mut self, name: &str) -> Self {
        self.flags.push("--symptom".into());
        self.flags.push(name.into());
        self
    }

    /// The Mac's computer name, which planted jamf.log lines carry (`sandbox --computer-name`).
    pub fn computer_name(mut self, name: &str) -> Self {
        self.flags.push("--computer-name".into());
        self.flags.push(name.into());
        self
    }

    /// Computer-level profiles the MDM installed carrying the Mac's network or trust
    /// (`sandbox --managed-network wifi,ethernet,vpn,root-cert`).
    pub fn managed_network(mut self, kinds: &[&str]) -> Self {
        self.flags.push("--managed-network".into());
        self.flags.push(kinds.join(","));
        self
    }

    pub fn build(self) -> Device {
        let tmp = traversable_tempdir();
        let root = tmp.path().join("mac");
        let mut args: Vec<OsString> = vec!["sandbox".into(), root.clone().into()];
        if !self.users.is_empty() {
            args.push("--users".into());
            args.push(self.users.join(",").into());
        }
        args.extend(self.flags.iter().map(OsString::from));
        Cmd::new(args).exit(0);
        Device::at(tmp, root)
    }
}

/// A temporary folder for a sandbox device, 0755 like the folders above a Mac's `/`: tempfile
/// makes 0700 ones, which the fake `sudo -u USER` (run as root, it drops to USER's uid) could
/// not cross to reach the user's home or reenroll's binary.
pub fn traversable_tempdir() -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::Builder::new()
        .prefix("reenroll-test-")
        .tempdir()
        .expect("creating a temporary folder for a sandbox device");
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755))
        .expect("making the temporary folder traversable (0755)");
    tmp
}

/// A sandbox device in a temporary folder (deleted when dropped). Beside the device's root lies
/// `outside()`, a folder that is not part of the device: playbook files and canaries go there.
pub struct Device {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    outside: PathBuf,
}

impl Device {
    fn at(tmp: tempfile::TempDir, root: PathBuf) -> Device {
        let outside = tmp.path().join("outside");
        std::fs::create_dir_all(&outside).expect("creating the folder beside the sandbox");
        Device {
            _tmp: tmp,
            root,
            outside,
        }
    }

    /// An exact copy in a new temporary folder (bytes, modes, owners, times, xattrs, links), so
    /// several runs can start from one and the same device and their end states be compared.
    pub fn copy(&self) -> Device {
        let tmp = traversable_tempdir();
        let root = tmp.path().join("mac");
        let status = Command::new("cp")
            .arg("-a")
            .arg(&self.root)
            .arg(&root)
            .status()
            .expect("running cp -a");
        assert!(status.success(), "cp -a {} failed", self.root.display());
        let copy = Device::at(tmp, root);
        assert_eq!(copy.tree_hash(), self.tree_hash(), "the copy differs");
        copy
    }

    /// The host folder standing for the Mac's `/`.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// A folder outside the device (not under `root()`).
    pub fn outside(&self) -> &Path {
        &self.outside
    }

    /// `reenroll --root DIR ARGS...`
    pub fn reenroll(&self, args: &[&str]) -> Cmd {
        let mut all: Vec<OsString> = vec!["--root".into(), self.root.clone().into()];
        all.extend(args.iter().map(OsString::from));
        Cmd::new(all)
    }

    /// `reenroll sandbox boot DIR`: a simulated restart.
    pub fn boot(&self) -> Cmd {
        Cmd::new(vec![
            "sandbox".into(),
            "boot".into(),
            self.root.clone().into(),
        ])
    }

    /// The host path of a Mac path.
    pub fn path(&self, mac: &str) -> PathBuf {
        assert!(mac.starts_with('/'), "{mac} is not a Mac path");
        self.root.join(mac.trim_start_matches('/'))
    }

    /// Whether something (even a dangling link) stands at the Mac path.
    pub fn exists(&self, mac: &str) -> bool {
        std::fs::symlink_metadata(self.path(mac)).is_ok()
    }

    pub fn read(&self, mac: &str) -> String {
        std::fs::read_to_string(self.path(mac)).unwrap_or_else(|e| panic!("reading {mac}: {e}"))
    }

    pub fn write(&self, mac: &str, contents: impl AsRef<[u8]>) {
        let p = self.path(mac);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, contents).unwrap_or_else(|e| panic!("writing {mac}: {e}"));
    }

    /// An executable `#!/bin/sh` script at a Mac path (a fake program for a custom playbook).
    pub fn script(&self, mac: &str, body: &str) {
        use std::os::unix::fs::PermissionsExt;
        self.write(mac, format!("#!/bin/sh\n{body}\n"));
        std::fs::set_permissions(self.path(mac), std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    pub fn remove(&self, mac: &str) {
        let p = self.path(mac);
        let r = match std::fs::symlink_metadata(&p) {
            Ok(m) if m.is_dir() => std::fs::remove_dir_all(&p),
            Ok(_) => std::fs::remove_file(&p),
            Err(e) => Err(e),
        };
        r.unwrap_or_else(|e| panic!("removing {mac}: {e}"));
    }

    /// Write a playbook file outside the device; returns its path for `run PATH`.
    pub fn playbook(&self, name: &str, toml: &str) -> String {
        let dir = self.outside.join("playbooks");
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join(format!("{name}.toml"));
        std::fs::write(&p, toml).unwrap();
        p.to_str().expect("temporary paths are UTF-8").to_string()
    }

    /// The users of the device: (name, home as the Mac sees it), console user first.
    pub fn users(&self) -> Vec<(String, String)> {
        self.read("/var/db/sandbox/users.txt")
            .lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split('\t').collect();
                (f.len() >= 3).then(|| (f[0].to_string(), f[2].to_string()))
            })
            .collect()
    }

    pub fn serial(&self) -> String {
        self.read("/var/db/sandbox/serial").trim().to_string()
    }

    /// The whole device, without reenroll's state and the logs.
    pub fn tree_hash(&self) -> TreeHash {
        TreeHash::of(&self.root, EXCLUDED)
    }

    /// Every program the fakes saw, one call a line (argv joined by spaces).
    pub fn command_log(&self) -> Vec<String> {
        std::fs::read_to_string(self.path("/var/log/sandbox-commands.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// Forget the calls so far (to look only at what the next command does).
    pub fn clear_command_log(&self) {
        std::fs::write(self.path("/var/log/sandbox-commands.log"), "").unwrap();
    }

    pub fn state_dir(&self) -> PathBuf {
        self.path(STATE_DIR)
    }

    pub fn run_dir(&self, run: &str) -> PathBuf {
        self.state_dir().join("runs").join(run)
    }

    /// The journal records of a run, parsed.
    pub fn journal(&self, run: &str) -> Vec<Value> {
        let text = std::fs::read_to_string(self.run_dir(run).join("journal.jsonl"))
            .unwrap_or_else(|e| panic!("reading the journal of {run}: {e}"));
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect()
    }

    /// `status --json`
    pub fn status(&self) -> Value {
        self.reenroll(&["status", "--json"]).exit(0).json()
    }

    /// Every run id, oldest first.
    pub fn run_ids(&self) -> Vec<String> {
        self.status()["runs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_string())
            .collect()
    }

    /// The newest run's id.
    pub fn last_run(&self) -> String {
        self.run_ids().pop().expect("no run yet")
    }

    /// The newest run as `status --json` shows it.
    pub fn last_run_status(&self) -> Value {
        let mut runs = self.status()["runs"].as_array().unwrap().clone();
        runs.pop().expect("no run yet")
    }

    /// step id -> state, for the newest run.
    pub fn step_states(&self) -> BTreeMap<String, String> {
        self.last_run_status()["steps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                (
                    s["id"].as_str().unwrap().to_string(),
                    s["state"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }
}

impl Device {
    /// reenroll's state: the folder itself and `bin/` (the copied binary, which the keychain
    /// helper runs as a user) 0755, the binary 0755; everything else root-only, folders 0700 and
    /// files 0600. The quarantine keeps each removed path's own mode and is not looked into.
    #[track_caller]
    pub fn assert_private_state(&self) {
        fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
            out.push(dir.to_path_buf());
            for e in std::fs::read_dir(dir).unwrap() {
                let p = e.unwrap().path();
                if p.ends_with("quarantine") {
                    continue;
                }
                if std::fs::symlink_metadata(&p).unwrap().is_dir() {
                    walk(&p, out);
                } else {
                    out.push(p);
                }
            }
        }
        let state = self.state_dir();
        let mut all = Vec::new();
        walk(&state, &mut all);
        let mut files = 0;
        for p in &all {
            let m = std::fs::symlink_metadata(p).unwrap();
            let mode = m.mode() & 0o777;
            if *p == state || *p == state.join("bin") {
                assert_eq!(mode, 0o755, "{:o} {}", mode, p.display());
            } else if p.starts_with(state.join("bin")) {
                assert_eq!(mode, 0o755, "{:o} {}", mode, p.display());
                assert!(m.is_file(), "{} is not a plain file", p.display());
            } else if m.is_dir() {
                assert_eq!(mode, 0o700, "{:o} {}", mode, p.display());
            } else {
                assert_eq!(mode, 0o600, "{:o} {}", mode, p.display());
                files += 1;
            }
        }
        assert!(files >= 2, "no journal under {}", state.display());
    }
}

/// A `reenroll` invocation being put together.
pub struct Cmd {
    args: Vec<OsString>,
    env: Vec<(String, String)>,
}

impl Cmd {
    pub fn new(args: Vec<OsString>) -> Cmd {
        Cmd {
            args,
            env: Vec::new(),
        }
    }

    pub fn env(mut self, key: &str, value: &str) -> Cmd {
        self.env.push((key.into(), value.into()));
        self
    }

    /// `REENROLL_FAULT=...`
    pub fn fault(self, spec: &str) -> Cmd {
        self.env("REENROLL_FAULT", spec)
    }

    fn command(&self) -> Command {
        let mut c = Command::new(BIN);
        c.args(&self.args)
            .env_remove("REENROLL_FAULT")
            .env_remove("RUST_LOG")
            .stdin(Stdio::null());
        for (k, v) in &self.env {
            c.env(k, v);
        }
        c
    }

    fn describe(&self) -> String {
        let mut s: String = self.env.iter().map(|(k, v)| format!("{k}={v} ")).collect();
        s.push_str("reenroll");
        for a in &self.args {
            s.push(' ');
            s.push_str(&a.to_string_lossy());
        }
        s
    }

    pub fn run(self) -> Run {
        let out = self
            .command()
            .output()
            .unwrap_or_else(|e| panic!("starting {}: {e}", self.describe()));
        Run {
            command: self.describe(),
            code: out.status.code(),
            signal: out.status.signal(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Run it and insist on the exit code.
    #[track_caller]
    pub fn exit(self, code: i32) -> Run {
        let r = self.run();
        assert_eq!(r.code, Some(code), "unexpected exit status\n{r}");
        r
    }

    /// Run it and insist it died of SIGKILL (an injected crash).
    #[track_caller]
    pub fn killed(self) -> Run {
        let r = self.run();
        assert_eq!(
            r.signal,
            Some(9),
            "expected an injected crash (SIGKILL)\n{r}"
        );
        r
    }

    /// Start it in the background (stdout and stderr piped).
    pub fn spawn(self) -> Child {
        self.command()
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", self.describe()))
    }
}

/// Whether `text` holds `needle`, also when human output wrapped it at 80 columns (a line
/// break and its indentation stand where the needle had a space or nothing).
fn holds(text: &str, needle: &str) -> bool {
    if text.contains(needle) {
        return true;
    }
    let squeeze = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    let (t, n) = (squeeze(text), squeeze(needle));
    t.contains(&n) || t.replace(' ', "").contains(&n.replace(' ', ""))
}

/// What a finished invocation printed and how it ended.
pub struct Run {
    pub command: String,
    pub code: Option<i32>,
    pub signal: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl fmt::Display for Run {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "$ {}", self.command)?;
        writeln!(f, "exit code {:?}, signal {:?}", self.code, self.signal)?;
        writeln!(f, "--- stdout\n{}", self.stdout)?;
        write!(f, "--- stderr\n{}", self.stderr)
    }
}

impl Run {
    /// stdout as one JSON document (and nothing else).
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not one JSON document: {e}\n{self}"))
    }

    #[track_caller]
    pub fn stdout_contains(&self, s: &str) -> &Self {
        assert!(holds(&self.stdout, s), "stdout lacks {s:?}\n{self}");
        self
    }

    #[track_caller]
    pub fn stderr_contains(&self, s: &str) -> &Self {
        assert!(holds(&self.stderr, s), "stderr lacks {s:?}\n{self}");
        self
    }

    /// stdout or stderr holds it (for messages whose stream does not matter).
    #[track_caller]
    pub fn says(&self, s: &str) -> &Self {
        assert!(
            holds(&self.stdout, s) || holds(&self.stderr, s),
            "neither stdout nor stderr says {s:?}\n{self}"
        );
        self
    }

    /// The run id a `run` printed first (`run ID: playbook ...`).
    #[track_caller]
    pub fn run_id(&self) -> String {
        self.stdout
            .lines()
            .find_map(|l| l.strip_prefix("run ")?.split(':').next())
            .map(str::to_string)
            .unwrap_or_else(|| panic!("no run id in the output\n{self}"))
    }
}

/// One entry of a tree hash: what `/work/shared/checks/treehash.py` prints per path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// `f` file, `d` folder, `l` symlink, `s` anything else.
    pub kind: char,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    /// 0 for folders: a folder's mtime changes whenever an entry moves in or out.
    pub mtime_ns: i128,
    pub size: u64,
    /// sha256 (hex) of a file, `->target` of a link, `-` otherwise.
    pub content: String,
    /// `name=hexvalue`, sorted.
    pub xattrs: Vec<String>,
}

impl fmt::Display for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {:o} {}:{} {} {} {} [{}]",
            self.kind,
            self.mode,
            self.uid,
            self.gid,
            self.mtime_ns,
            self.size,
            self.content.get(..20).unwrap_or(&self.content),
            self.xattrs.join(",")
        )
    }
}

/// Every entry of a tree by its path relative to the root (no leading `/`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TreeHash {
    pub entries: BTreeMap<String, Entry>,
}

fn excluded(rel: &str, excl: &[&str]) -> bool {
    excl.iter()
        .any(|e| rel == *e || rel.starts_with(&format!("{}/", e.trim_end_matches('/'))))
}

impl TreeHash {
    /// Walk `root` without following links, leaving out `exclude` (relative paths).
    pub fn of(root: &Path, exclude: &[&str]) -> TreeHash {
        let mut entries = BTreeMap::new();
        let mut stack = vec![(root.to_path_buf(), String::new())];
        while let Some((dir, rel_dir)) = stack.pop() {
            let rd = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
            for e in rd {
                let e = e.unwrap();
                let name = e.file_name().into_string().expect("UTF-8 names");
                let rel = if rel_dir.is_empty() {
                    name
                } else {
                    format!("{rel_dir}/{name}")
                };
                if excluded(&rel, exclude) {
                    continue;
                }
                let path = e.path();
                let entry = Entry::of(&path);
                if entry.kind == 'd' {
                    stack.push((path, rel.clone()));
                }
                entries.insert(rel, entry);
            }
        }
        TreeHash { entries }
    }

    /// Only `rel` and what lies below it.
    pub fn subtree(&self, rel: &str) -> TreeHash {
        let rel = rel.trim_start_matches('/');
        TreeHash {
            entries: self
                .entries
                .iter()
                .filter(|(p, _)| *p == rel || p.starts_with(&format!("{rel}/")))
                .map(|(p, e)| (p.clone(), e.clone()))
                .collect(),
        }
    }

    /// Leave out `rel` and what lies below it.
    pub fn without(&self, rel: &str) -> TreeHash {
        let rel = rel.trim_start_matches('/');
        TreeHash {
            entries: self
                .entries
                .iter()
                .filter(|(p, _)| !(*p == rel || p.starts_with(&format!("{rel}/"))))
                .map(|(p, e)| (p.clone(), e.clone()))
                .collect(),
        }
    }

    pub fn contains(&self, rel: &str) -> bool {
        self.entries.contains_key(rel.trim_start_matches('/'))
    }

    /// What changed from `self` to `after`.
    pub fn diff(&self, after: &TreeHash) -> Diff {
        let mut d = Diff::default();
        for (p, e) in &self.entries {
            match after.entries.get(p) {
                None => {
                    d.removed.insert(p.clone());
                }
                Some(a) if a != e => {
                    d.changed.insert(p.clone(), format!("{e}\n      -> {a}"));
                }
                Some(_) => {}
            }
        }
        for p in after.entries.keys() {
            if !self.entries.contains_key(p) {
                d.added.insert(p.clone());
            }
        }
        d
    }

    /// Panic with a readable diff unless both are equal.
    #[track_caller]
    pub fn assert_same(&self, other: &TreeHash, what: &str) {
        let d = self.diff(other);
        assert!(d.is_empty(), "{what}: the trees differ\n{d}");
    }
}

impl Entry {
    fn of(path: &Path) -> Entry {
        let m =
            std::fs::symlink_metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let ft = m.file_type();
        let kind = if ft.is_symlink() {
            'l'
        } else if ft.is_dir() {
            'd'
        } else if ft.is_file() {
            'f'
        } else {
            's'
        };
        let content = match kind {
            'f' => {
                let bytes = std::fs::read(path).unwrap();
                hex(&Sha256::digest(&bytes))
            }
            'l' => format!("->{}", std::fs::read_link(path).unwrap().to_string_lossy()),
            _ => "-".into(),
        };
        let mut xattrs: Vec<String> = xattr::list(path)
            .map(|names| {
                names
                    .map(|n| {
                        let v = xattr::get(path, &n).ok().flatten().unwrap_or_default();
                        format!("{}={}", n.to_string_lossy(), hex(&v))
                    })
                    .collect()
            })
            .unwrap_or_default();
        xattrs.sort();
        Entry {
            kind,
            mode: m.mode() & 0o7777,
            uid: m.uid(),
            gid: m.gid(),
            mtime_ns: if kind == 'd' {
                0
            } else {
                i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec())
            },
            size: if kind == 'f' { m.len() } else { 0 },
            content,
            xattrs,
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Paths (relative) that appeared, disappeared or changed between two tree hashes.
#[derive(Default, Debug)]
pub struct Diff {
    pub added: std::collections::BTreeSet<String>,
    pub removed: std::collections::BTreeSet<String>,
    pub changed: BTreeMap<String, String>,
}

impl Diff {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }
}

impl fmt::Display for Diff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for p in &self.removed {
            writeln!(f, "  removed {p}")?;
        }
        for p in &self.added {
            writeln!(f, "  added   {p}")?;
        }
        for (p, c) in &self.changed {
            writeln!(f, "  changed {p}\n      {c}")?;
        }
        Ok(())
    }
}

/// Whether `rel` is `top` or lies below it (relative paths).
pub fn under(rel: &str, top: &str) -> bool {
    let top = top.trim_start_matches('/');
    rel == top || rel.starts_with(&format!("{top}/"))
}

/// Every regular file under `dir`, never following a link.
pub fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in rd.flatten() {
        let p = e.path();
        let Ok(meta) = p.symlink_metadata() else {
            continue;
        };
        if meta.is_dir() {
            out.extend(walk(&p));
        } else if meta.is_file() {
            out.push(p);
        }
    }
    out
}

/// stdout and stderr, with the wrapping of human output undone (runs of white space become one
/// space), so messages can be matched whole.
pub fn text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
    .split_whitespace()
    .collect::<Vec<_>>()
    .join(" ")
}
