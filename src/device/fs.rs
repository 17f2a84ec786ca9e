//! Descriptor-relative, no-follow file operations for removing and restoring paths as root.
//!
//! Every operation walks from the device root one component at a time with
//! `openat(O_DIRECTORY | O_NOFOLLOW)`, so a path is never re-resolved as a string and a symlink
//! anywhere in the parents (`/Users/bob/Library` -> `/etc`) is refused, not followed. The last
//! component is acted on with `renameat`/`unlinkat` relative to its parent's descriptor, so a
//! symlink there is moved or removed as a link.
//!
//! Removal is a rename into the run's quarantine (same volume, so one file or a hundred
//! thousand cost the same and rollback is a rename back). Across volumes (EXDEV) it falls back to
//! a metadata-preserving copy into `<name>.partial`, a rename to `<name>`, then deletion of the
//! original: a crash at any point leaves either the original or a complete quarantine copy.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use anyhow::{Context, Result};
use nix::errno::Errno;
use nix::fcntl::{openat, renameat, AtFlags, OFlag};
use nix::sys::stat::{fstatat, mkdirat, FileStat, Mode, SFlag};
use nix::unistd::{unlinkat, UnlinkatFlags};

use super::Device;

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    File,
    Dir,
    Symlink,
    Other,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub kind: Kind,
    /// Bytes of regular files at or under the path (symlinks are not followed).
    pub bytes: u64,
    /// Number of entries at or under the path, itself included.
    pub entries: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Probe {
    Absent,
    Present(Entry),
    /// Not touched for safety (a symlink in the parents); the reason says which component.
    Refused(String),
}

/// What happened when a path was moved to quarantine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Moved {
    Renamed,
    /// Another volume: copied with its metadata, then deleted.
    Copied,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Restored {
    Restored,
    /// Something now stands at the original path; both are kept.
    Conflict,
    /// The quarantined copy is gone (purged); nothing to restore.
    QuarantineMissing,
    /// The original's parent folder is gone or unsafe.
    ParentMissing(String),
}

/// An error from a removal or restore, classified so the caller can decide between "exception,
/// keep going" (refused, not permitted) and "the step failed".
#[derive(Debug)]
pub enum FsError {
    Refused(String),
    /// EPERM/EACCES: macOS would not let go (privacy protection, SIP, an immutable flag).
    NotPermitted(String),
    Other(anyhow::Error),
}

impl std::fmt::Display for FsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FsError::Refused(r) | FsError::NotPermitted(r) => f.write_str(r),
            FsError::Other(e) => write!(f, "{e:#}"),
        }
    }
}

fn own(fd: RawFd) -> OwnedFd {
    // SAFETY: `fd` was just returned by a successful open and is owned by no one else.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

fn open_dir_at(dir: Option<&OwnedFd>, name: &OsStr) -> nix::Result<OwnedFd> {
    openat(
        dir.map(|d| d.as_raw_fd()),
        name,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map(own)
}

fn lstat_at(dir: &OwnedFd, name: &OsStr) -> nix::Result<FileStat> {
    fstatat(Some(dir.as_raw_fd()), name, AtFlags::AT_SYMLINK_NOFOLLOW)
}

fn kind_of(st: &FileStat) -> Kind {
    match SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT {
        SFlag::S_IFREG => Kind::File,
        SFlag::S_IFDIR => Kind::Dir,
        SFlag::S_IFLNK => Kind::Symlink,
        _ => Kind::Other,
    }
}

/// The parent folder of a Mac path, opened without following any symlink, and the last
/// component's name. `Ok(None)`: a parent does not exist (so the path is absent).
pub enum Parent {
    Open(OwnedFd, OsString),
    Missing,
    Refused(String),
}

pub fn open_parent(device: &Device, mac_path: &str) -> Result<Parent> {
    super::check_mac_path(mac_path)?;
    let comps: Vec<&str> = mac_path.split('/').filter(|c| !c.is_empty()).collect();
    let Some((last, parents)) = comps.split_last() else {
        anyhow::bail!("refusing to act on the device root `/`");
    };
    let root = device.root();
    let mut fd = open_dir_at(None, root.as_os_str())
        .with_context(|| format!("opening the device root {}", root.display()))?;
    let mut walked = String::new();
    for comp in parents {
        walked.push('/');
        walked.push_str(comp);
        match open_dir_at(Some(&fd), OsStr::new(comp)) {
            Ok(next) => fd = next,
            Err(Errno::ENOENT) => return Ok(Parent::Missing),
            Err(e @ (Errno::ELOOP | Errno::ENOTDIR | Errno::EMLINK)) => {
                return match lstat_at(&fd, OsStr::new(comp)) {
                    Ok(st) if kind_of(&st) == Kind::Symlink => Ok(Parent::Refused(format!(
                        "{walked} is a symlink; reenroll never follows a symlink out of the tree it cleans"
                    ))),
                    Ok(_) => Ok(Parent::Refused(format!("{walked} is not a folder"))),
                    Err(_) => Err(e).with_context(|| format!("opening {walked}")),
                }
            }
            Err(e) => return Err(e).with_context(|| format!("opening {walked}")),
        }
    }
    Ok(Parent::Open(fd, OsString::from(*last)))
}

/// Look at a path without following symlinks and without changing anything, measuring a
/// folder's size (for `plan`).
pub fn probe(device: &Device, mac_path: &str) -> Result<Probe> {
    probe_with(device, mac_path, true)
}

/// Like `probe`, but only the path itself (one `lstat`): what `run` needs before moving it, so
/// removing a folder costs the same whatever it holds.
pub fn probe_shallow(device: &Device, mac_path: &str) -> Result<Probe> {
    probe_with(device, mac_path, false)
}

fn probe_with(device: &Device, mac_path: &str, measure: bool) -> Result<Probe> {
    let (dir, name) = match open_parent(device, mac_path)? {
        Parent::Missing => return Ok(Probe::Absent),
        Parent::Refused(r) => return Ok(Probe::Refused(r)),
        Parent::Open(d, n) => (d, n),
    };
    let st = match lstat_at(&dir, &name) {
        Ok(st) => st,
        Err(Errno::ENOENT) => return Ok(Probe::Absent),
        Err(e) => return Err(e).with_context(|| format!("looking at {mac_path}")),
    };
    let kind = kind_of(&st);
    let (bytes, entries) = if kind == Kind::Dir && !measure {
        (0, 1)
    } else if kind == Kind::Dir {
        measure_dir(&dir, &name).with_context(|| format!("measuring {mac_path}"))?
    } else {
        (
            if kind == Kind::File {
                st.st_size as u64
            } else {
                0
            },
            1,
        )
    };
    Ok(Probe::Present(Entry {
        kind,
        bytes,
        entries,
    }))
}

fn measure_dir(parent: &OwnedFd, name: &OsStr) -> Result<(u64, u64)> {
    measure_open_dir(open_dir_at(Some(parent), name)?)
}

/// The bytes of the regular files under an open folder and its entries (itself included), in
/// one pass over each folder as `du` makes: the names are read in the folder's own buffer, never
/// copied, and the kind `getdents` gives is trusted to save a system call where it can (a folder
/// is opened straight away, a symlink or a special file is only counted); only a regular file,
/// for its size, or an entry whose kind the file system did not give, is `lstat`ed. Never
/// follows a symlink: a folder is opened `O_NOFOLLOW|O_DIRECTORY` relative to its parent's
/// descriptor, so one replaced by a link between the listing and the open fails to open and is
/// counted as an entry, not entered.
fn measure_open_dir(fd: OwnedFd) -> Result<(u64, u64)> {
    use nix::dir::Type;
    let mut listing = nix::dir::Dir::from(fd)?.into_iter();
    let (mut bytes, mut entries) = (0u64, 1u64);
    while let Some(entry) = listing.next() {
        let entry = entry?;
        let name = entry.file_name();
        if matches!(name.to_bytes(), b"." | b"..") {
            continue;
        }
        let dir = listing.as_raw_fd();
        let is_dir = match entry.file_type() {
            Some(Type::Directory) => true,
            Some(Type::File) | None => {
                let st = fstatat(Some(dir), name, AtFlags::AT_SYMLINK_NOFOLLOW)?;
                match kind_of(&st) {
                    Kind::File => {
                        bytes += st.st_size as u64;
                        false
                    }
                    Kind::Dir => true,
                    _ => false,
                }
            }
            Some(_) => false,
        };
        if !is_dir {
            entries += 1;
            continue;
        }
        let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
        match openat(Some(dir), name, flags, Mode::empty()) {
            Ok(child) => {
                let (b, e) = measure_open_dir(own(child))?;
                bytes += b;
                entries += e;
            }
            // Replaced by a symlink or a file since it was listed: not followed, one entry.
            Err(Errno::ELOOP | Errno::ENOTDIR) => entries += 1,
            Err(e) => return Err(e.into()),
        }
    }
    Ok((bytes, entries))
}

/// What a folder holds, looked at without following a symlink anywhere on the way.
#[derive(Debug, PartialEq)]
pub enum Listing {
    /// The folder (or a parent) does not exist.
    Absent,
    /// A symlink or something that is not a folder stands on the way.
    Refused(String),
    /// The names of its entries (`.` and `..` left out), unsorted.
    Names(Vec<OsString>),
}

/// List a folder on the device with the same no-follow walk as every removal: a family
/// selector (`remove` with `families`) chooses among these names. An error reading it is an
/// error, never an empty folder.
pub fn list_folder(device: &Device, mac_path: &str) -> Result<Listing> {
    let (parent, name) = match open_parent(device, mac_path)? {
        Parent::Missing => return Ok(Listing::Absent),
        Parent::Refused(r) => return Ok(Listing::Refused(r)),
        Parent::Open(d, n) => (d, n),
    };
    let fd = match open_dir_at(Some(&parent), &name) {
        Ok(fd) => fd,
        Err(Errno::ENOENT) => return Ok(Listing::Absent),
        Err(e @ (Errno::ELOOP | Errno::ENOTDIR | Errno::EMLINK)) => {
            return match lstat_at(&parent, &name) {
                Ok(st) if kind_of(&st) == Kind::Symlink => Ok(Listing::Refused(format!(
                    "{mac_path} is a symlink; reenroll never follows a symlink out of the tree it cleans"
                ))),
                Ok(_) => Ok(Listing::Refused(format!("{mac_path} is not a folder"))),
                Err(_) => Err(e).with_context(|| format!("opening {mac_path}")),
            }
        }
        Err(e) => return Err(e).with_context(|| format!("opening {mac_path}")),
    };
    Ok(Listing::Names(
        list_dir(&fd).with_context(|| format!("listing {mac_path}"))?,
    ))
}

fn list_dir(fd: &OwnedFd) -> Result<Vec<OsString>> {
    let dup = nix::unistd::dup(fd.as_raw_fd())?;
    let mut dir = nix::dir::Dir::from_fd(dup)?;
    let mut names = Vec::new();
    for entry in dir.iter() {
        let entry = entry?;
        let name = entry.file_name().to_bytes();
        if name != b"." && name != b".." {
            names.push(OsStr::from_bytes(name).to_os_string());
        }
    }
    Ok(names)
}

/// Create a folder (and its parents) and make it root-only (0700).
pub fn secure_dir(path: &Path) -> Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
        .with_context(|| format!("creating {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))
        .with_context(|| format!("making {} root-only (0700)", path.display()))
}

/// Open (creating it 0700 if needed) a quarantine folder given by host path. The state
/// directory is reenroll's own, so a plain path is fine here.
pub fn open_quarantine(host_dir: &Path) -> Result<OwnedFd> {
    secure_dir(host_dir)?;
    open_dir_at(None, host_dir.as_os_str())
        .with_context(|| format!("opening the quarantine folder {}", host_dir.display()))
}

/// Move a path into quarantine as `qname`. `Ok(None)`: the path was already absent.
pub fn quarantine(
    device: &Device,
    mac_path: &str,
    qdir: &OwnedFd,
    qname: &str,
) -> std::result::Result<Option<Moved>, FsError> {
    let (dir, name) = match open_parent(device, mac_path).map_err(FsError::Other)? {
        Parent::Missing => return Ok(None),
        Parent::Refused(r) => return Err(FsError::Refused(r)),
        Parent::Open(d, n) => (d, n),
    };
    match lstat_at(&dir, &name) {
        Err(Errno::ENOENT) => return Ok(None),
        Err(e) => return Err(classify(e, mac_path, "looking at")),
        Ok(_) => {}
    }
    let renamed = if crate::fault::eperm(mac_path) {
        Err(Errno::EPERM)
    } else if crate::fault::exdev() {
        Err(Errno::EXDEV)
    } else {
        renameat(
            Some(dir.as_raw_fd()),
            &*name,
            Some(qdir.as_raw_fd()),
            OsStr::new(qname),
        )
    };
    match renamed {
        Ok(()) => {
            flush_after_move(&[&dir, qdir], mac_path, "moved into the quarantine");
            Ok(Some(Moved::Renamed))
        }
        Err(Errno::EXDEV) => {
            move_across_volumes(&dir, &name, qdir, qname, mac_path)?;
            flush_after_move(&[&dir, qdir], mac_path, "moved into the quarantine");
            Ok(Some(Moved::Copied))
        }
        Err(e) => Err(classify(e, mac_path, "moving to quarantine")),
    }
}

/// After a rename that happened: fsync its folders, so the rename is on disk before the journal
/// says it happened. NOTE: a rename changes two directories; without this, a power loss after
/// the `applied` record reached the disk could still lose the rename, and a resume would trust a
/// record of a move the file system forgot. When the flush fails, say so but report the move as
/// done: the move did happen, so the journal must record it (its undo is what rollback needs);
/// reporting it as failed would leave the path in the quarantine with no record to bring it back
/// (the crash sweep found exactly that: `run:fsync:enospc`).
fn flush_after_move(dirs: &[&OwnedFd], mac_path: &str, what: &str) {
    for d in dirs {
        if let Err(e) = nix::unistd::fsync(d.as_raw_fd()) {
            tracing::warn!(
                path = mac_path,
                error = %e,
                "{what}, but flushing the folders failed; the journal records the move"
            );
            return;
        }
    }
}

fn classify(e: Errno, mac_path: &str, what: &str) -> FsError {
    match e {
        Errno::EPERM | Errno::EACCES => FsError::NotPermitted(format!(
            "{what} {mac_path}: operation not permitted ({e}); macOS protects it"
        )),
        _ => FsError::Other(anyhow::Error::new(e).context(format!("{what} {mac_path}"))),
    }
}

/// Whether the quarantine holds `qname` (a complete copy; `.partial` leftovers do not count).
pub fn quarantine_has(qdir: &OwnedFd, qname: &str) -> bool {
    lstat_at(qdir, OsStr::new(qname)).is_ok()
}

/// Remove a `.partial` copy left by a crash during a cross-volume move.
pub fn discard_partial(qdir: &OwnedFd, qname: &str) -> Result<()> {
    let partial = OsString::from(format!("{qname}.partial"));
    if lstat_at(qdir, &partial).is_ok() {
        delete_tree(qdir, &partial)?;
    }
    Ok(())
}

/// Put `qname` back at `mac_path`, never overwriting what stands there now.
pub fn restore(device: &Device, mac_path: &str, qdir: &OwnedFd, qname: &str) -> Result<Restored> {
    let qname = OsStr::new(qname);
    if lstat_at(qdir, qname).is_err() {
        return Ok(Restored::QuarantineMissing);
    }
    let (dir, name) = match open_parent(device, mac_path)? {
        Parent::Missing => {
            return Ok(Restored::ParentMissing(format!(
                "the folder that held {mac_path} no longer exists"
            )))
        }
        Parent::Refused(r) => return Ok(Restored::ParentMissing(r)),
        Parent::Open(d, n) => (d, n),
    };
    if lstat_at(&dir, &name).is_ok() {
        return Ok(Restored::Conflict);
    }
    let renamed = if crate::fault::exdev() {
        Err(Errno::EXDEV)
    } else {
        renameat(Some(qdir.as_raw_fd()), qname, Some(dir.as_raw_fd()), &*name)
    };
    match renamed {
        Ok(()) => {
            flush_after_move(&[qdir, &dir], mac_path, "restored from the quarantine");
            Ok(Restored::Restored)
        }
        Err(Errno::EXDEV) => {
            restore_across_volumes(qdir, qname, &dir, &name)
                .with_context(|| format!("restoring {mac_path} across volumes"))?;
            flush_after_move(&[qdir, &dir], mac_path, "restored from the quarantine");
            Ok(Restored::Restored)
        }
        Err(e) => Err(e).with_context(|| format!("restoring {mac_path} from quarantine")),
    }
}

/// The permission bits of `mode` as nix's `Mode`. NOTE: `mode_t` is `u16` on macOS and `u32` on
/// Linux, so a `u32` mode is masked to the permission bits and narrowed here, in one place.
fn permission_bits(mode: u32) -> Mode {
    Mode::from_bits_truncate((mode & 0o7777) as nix::libc::mode_t)
}

/// Write a small file of reenroll's own (its LaunchDaemon) at a Mac path through the no-follow
/// walk: a temporary sibling created exclusively (never through a link), fsync'ed, then renamed
/// over the path. Root-owned when reenroll runs as root.
pub fn write_file(device: &Device, mac_path: &str, bytes: &[u8], mode: u32) -> Result<()> {
    write_owned(device, mac_path, bytes, mode, Owner::Root)
}

/// Replace a file the device's user owns (the sandbox keychain) through the no-follow walk, like
/// `write_file`, keeping the owner of the file it replaces (created as the caller when absent).
pub fn replace_file(device: &Device, mac_path: &str, bytes: &[u8], mode: u32) -> Result<()> {
    write_owned(device, mac_path, bytes, mode, Owner::Keep)
}

/// Whose a file written by `write_owned` becomes.
enum Owner {
    /// root:wheel when reenroll is root (its own files).
    Root,
    /// Whoever owned the file it replaces.
    Keep,
}

fn write_owned(
    device: &Device,
    mac_path: &str,
    bytes: &[u8],
    mode: u32,
    owner: Owner,
) -> Result<()> {
    use std::io::Write;
    let (dir, name) = match open_parent(device, mac_path)? {
        Parent::Open(d, n) => (d, n),
        Parent::Missing => anyhow::bail!("the folder of {mac_path} does not exist"),
        Parent::Refused(r) => anyhow::bail!("refusing to write {mac_path}: {r}"),
    };
    let mut tmp = OsString::from(".");
    tmp.push(&name);
    tmp.push(".new");
    let _ = unlinkat(Some(dir.as_raw_fd()), &*tmp, UnlinkatFlags::NoRemoveDir);
    let fd = own(openat(
        Some(dir.as_raw_fd()),
        &*tmp,
        OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        permission_bits(mode),
    )
    .with_context(|| format!("creating the new {mac_path}"))?);
    let mut f = File::from(fd);
    f.write_all(bytes)
        .and_then(|_| f.sync_all())
        .with_context(|| format!("writing {mac_path}"))?;
    nix::sys::stat::fchmod(f.as_raw_fd(), permission_bits(mode))?;
    let ids = match owner {
        Owner::Root => Some((0, 0)),
        Owner::Keep => lstat_at(&dir, &name)
            .ok()
            .filter(|st| kind_of(st) == Kind::File)
            .map(|st| (st.st_uid, st.st_gid)),
    };
    if let (Some((uid, gid)), true) = (ids, nix::unistd::geteuid().is_root()) {
        nix::unistd::fchown(
            f.as_raw_fd(),
            Some(nix::unistd::Uid::from_raw(uid)),
            Some(nix::unistd::Gid::from_raw(gid)),
        )
        .with_context(|| format!("giving {mac_path} to {uid}:{gid}"))?;
    }
    renameat(Some(dir.as_raw_fd()), &*tmp, Some(dir.as_raw_fd()), &*name)
        .with_context(|| format!("installing {mac_path}"))?;
    flush_after_move(&[&dir], mac_path, "written");
    Ok(())
}

/// What `read_if_regular` found at a Mac path.
enum Found {
    Bytes(Vec<u8>),
    Absent,
    /// A link on the way or at the path, or something that is not a regular file: why.
    Refused(String),
}

/// Read a regular file at a Mac path without following a link anywhere and without blocking
/// (a FIFO planted there would otherwise hang the reader); the two readers below differ only in
/// what they make of a refusal.
fn read_if_regular(device: &Device, mac_path: &str) -> Result<Found> {
    use std::io::Read;
    let (dir, name) = match open_parent(device, mac_path)? {
        Parent::Open(d, n) => (d, n),
        Parent::Missing => return Ok(Found::Absent),
        Parent::Refused(r) => return Ok(Found::Refused(r)),
    };
    let not_regular = || {
        Found::Refused(format!(
            "{mac_path} is not a regular file (a link, a FIFO, a folder or a device stands there)"
        ))
    };
    match lstat_at(&dir, &name) {
        Err(Errno::ENOENT) => return Ok(Found::Absent),
        Err(e) => return Err(e).with_context(|| format!("looking at {mac_path}")),
        Ok(st) if kind_of(&st) == Kind::File => {}
        Ok(_) => return Ok(not_regular()),
    }
    let fd = own(openat(
        Some(dir.as_raw_fd()),
        &*name,
        OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .with_context(|| format!("opening {mac_path}"))?);
    let st =
        nix::sys::stat::fstat(fd.as_raw_fd()).with_context(|| format!("looking at {mac_path}"))?;
    if kind_of(&st) != Kind::File {
        return Ok(not_regular());
    }
    let mut bytes = Vec::new();
    File::from(fd)
        .read_to_end(&mut bytes)
        .with_context(|| format!("reading {mac_path}"))?;
    Ok(Found::Bytes(bytes))
}

/// Read a regular file at a Mac path without following a link anywhere (`None`: absent, or not
/// a regular file).
pub fn read_file(device: &Device, mac_path: &str) -> Result<Option<Vec<u8>>> {
    Ok(match read_if_regular(device, mac_path)? {
        Found::Bytes(b) => Some(b),
        Found::Absent | Found::Refused(_) => None,
    })
}

/// Read a file at a Mac path that must be a regular file when it exists: `None` when absent; an
/// error for a link, a FIFO, a folder or a device.
pub fn read_regular(device: &Device, mac_path: &str) -> Result<Option<Vec<u8>>> {
    match read_if_regular(device, mac_path)? {
        Found::Bytes(b) => Ok(Some(b)),
        Found::Absent => Ok(None),
        Found::Refused(why) => anyhow::bail!("refusing to read {mac_path}: {why}"),
    }
}

/// Open a log file at a Mac path for appending (and reading back what was appended), created
/// 0600 when absent, through the no-follow walk: a link at the path or in its parents is
/// refused, and so is anything but a regular file (a FIFO would block its writers).
pub fn open_append(device: &Device, mac_path: &str) -> Result<File> {
    let (dir, name) = match open_parent(device, mac_path)? {
        Parent::Open(d, n) => (d, n),
        Parent::Missing => anyhow::bail!("the folder of {mac_path} does not exist"),
        Parent::Refused(r) => anyhow::bail!("refusing to open {mac_path}: {r}"),
    };
    let fd = own(openat(
        Some(dir.as_raw_fd()),
        &*name,
        OFlag::O_RDWR
            | OFlag::O_APPEND
            | OFlag::O_CREAT
            | OFlag::O_NOFOLLOW
            | OFlag::O_NONBLOCK
            | OFlag::O_CLOEXEC,
        permission_bits(0o600),
    )
    .with_context(|| format!("opening {mac_path}"))?);
    let f = File::from(fd);
    let meta = f
        .metadata()
        .with_context(|| format!("reading what {mac_path} is"))?;
    if !meta.is_file() {
        anyhow::bail!("refusing to write to {mac_path}: it is not a regular file");
    }
    // Blocking again for the programs that write to it (O_NONBLOCK only kept the open itself
    // from waiting on a FIFO).
    let flags = nix::fcntl::fcntl(f.as_raw_fd(), nix::fcntl::FcntlArg::F_GETFL)
        .with_context(|| format!("reading the flags of {mac_path}"))?;
    nix::fcntl::fcntl(
        f.as_raw_fd(),
        nix::fcntl::FcntlArg::F_SETFL(OFlag::from_bits_truncate(flags) & !OFlag::O_NONBLOCK),
    )
    .with_context(|| format!("setting the flags of {mac_path}"))?;
    Ok(f)
}

/// Remove a file of reenroll's own at a Mac path (a link is removed as a link). `Ok(false)`:
/// it was not there.
pub fn remove_file(device: &Device, mac_path: &str) -> Result<bool> {
    let Parent::Open(dir, name) = open_parent(device, mac_path)? else {
        return Ok(false);
    };
    match unlinkat(Some(dir.as_raw_fd()), &*name, UnlinkatFlags::NoRemoveDir) {
        Ok(()) => Ok(true),
        Err(Errno::ENOENT) => Ok(false),
        Err(e) => Err(e).with_context(|| format!("removing {mac_path}")),
    }
}

/// Delete a quarantined entry for good (`reenroll purge`).
pub fn delete_tree(dir: &OwnedFd, name: &OsStr) -> Result<()> {
    let st = match lstat_at(dir, name) {
        Ok(st) => st,
        Err(Errno::ENOENT) => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    if kind_of(&st) == Kind::Dir {
        let fd = open_dir_at(Some(dir), name)?;
        for child in list_dir(&fd)? {
            delete_tree(&fd, &child)?;
        }
        unlinkat(Some(dir.as_raw_fd()), name, UnlinkatFlags::RemoveDir)?;
    } else {
        unlinkat(Some(dir.as_raw_fd()), name, UnlinkatFlags::NoRemoveDir)?;
    }
    Ok(())
}

/// The hidden name an original waits under, in its own folder, while it is copied to a
/// quarantine on another volume.
pub fn staged_name(qname: &str) -> OsString {
    OsString::from(format!(".reenroll-moving-{qname}"))
}

fn restoring_name(qname: &OsStr) -> OsString {
    let mut n = OsString::from(".reenroll-restoring-");
    n.push(qname);
    n
}

/// Move across volumes so that a failure or a crash at any point leaves either the original
/// (at its path, or staged under a hidden name beside it: `recover_move` puts it back) or a
/// complete copy in quarantine: 1. rename the original to its staged name (same folder, atomic);
/// 2. copy it into `<qname>.partial` in the quarantine; 3. rename that to `<qname>`; 4. delete
/// the staged original. A failure in 4 leaves leftovers beside the path, reported, but the move
/// has happened and rollback restores the complete copy.
fn move_across_volumes(
    dir: &OwnedFd,
    name: &OsStr,
    qdir: &OwnedFd,
    qname: &str,
    mac_path: &str,
) -> std::result::Result<(), FsError> {
    let staged = staged_name(qname);
    let partial = OsString::from(format!("{qname}.partial"));
    renameat(Some(dir.as_raw_fd()), name, Some(dir.as_raw_fd()), &*staged)
        .map_err(|e| classify(e, mac_path, "staging for a move across volumes"))?;
    crate::fault::point(&format!("move-staged:{qname}"));
    let copied = delete_tree(qdir, &partial)
        .and_then(|_| copy_tree(dir, &staged, qdir, &partial))
        .and_then(|_| {
            Ok(renameat(
                Some(qdir.as_raw_fd()),
                &*partial,
                Some(qdir.as_raw_fd()),
                qname,
            )?)
        });
    if let Err(e) = copied {
        // Nothing moved: put the original back where it was.
        let _ = delete_tree(qdir, &partial);
        let back = renameat(Some(dir.as_raw_fd()), &*staged, Some(dir.as_raw_fd()), name);
        let e = e.context(format!(
            "copying {mac_path} to the quarantine on another volume"
        ));
        return Err(FsError::Other(match back {
            Ok(()) => e,
            Err(b) => e.context(format!(
                "and putting it back failed ({b}); it waits beside its path as {}",
                staged.to_string_lossy()
            )),
        }));
    }
    crate::fault::point(&format!("move-copied:{qname}"));
    if let Err(e) = delete_tree(dir, &staged) {
        tracing::warn!(
            path = mac_path,
            "moved to quarantine across volumes, but deleting the original left {} beside it: {e:#}",
            staged.to_string_lossy()
        );
    }
    Ok(())
}

/// After a crash in the middle of a move across volumes: `Ok(true)` if the move had completed
/// (a complete copy is in quarantine; leftovers of the original are deleted), `Ok(false)` if not
/// (the original is put back at its path and any partial copy discarded).
pub fn recover_move(device: &Device, mac_path: &str, qdir: &OwnedFd, qname: &str) -> Result<bool> {
    discard_partial(qdir, qname)?;
    let complete = quarantine_has(qdir, qname);
    let Parent::Open(dir, name) = open_parent(device, mac_path)? else {
        return Ok(complete);
    };
    let staged = staged_name(qname);
    if lstat_at(&dir, &staged).is_ok() {
        if complete {
            delete_tree(&dir, &staged)
                .with_context(|| format!("deleting the staged original of {mac_path}"))?;
        } else if lstat_at(&dir, &name).is_err() {
            renameat(
                Some(dir.as_raw_fd()),
                &*staged,
                Some(dir.as_raw_fd()),
                &*name,
            )
            .with_context(|| format!("putting {mac_path} back after an interrupted move"))?;
        }
    }
    Ok(complete)
}

/// Restore across volumes through a hidden name of reenroll's own beside the target (never a
/// name a user's file could have), so nothing but our own leftovers is ever deleted there.
fn restore_across_volumes(
    qdir: &OwnedFd,
    qname: &OsStr,
    dir: &OwnedFd,
    name: &OsStr,
) -> Result<()> {
    let tmp = restoring_name(qname);
    delete_tree(dir, &tmp)?;
    copy_tree(qdir, qname, dir, &tmp)?;
    if lstat_at(dir, name).is_ok() {
        delete_tree(dir, &tmp)?;
        anyhow::bail!("something appeared at the path while it was being restored; both are kept");
    }
    renameat(Some(dir.as_raw_fd()), &*tmp, Some(dir.as_raw_fd()), name)?;
    delete_tree(qdir, qname)
}

fn copy_tree(src_dir: &OwnedFd, src: &OsStr, dst_dir: &OwnedFd, dst: &OsStr) -> Result<()> {
    let st = lstat_at(src_dir, src)?;
    match kind_of(&st) {
        Kind::Dir => {
            mkdirat(
                Some(dst_dir.as_raw_fd()),
                dst,
                Mode::from_bits_truncate(0o700),
            )?;
            let sfd = open_dir_at(Some(src_dir), src)?;
            let dfd = open_dir_at(Some(dst_dir), dst)?;
            for child in list_dir(&sfd)? {
                copy_tree(&sfd, &child, &dfd, &child)?;
            }
            copy_xattrs_fd(&sfd, &dfd);
            set_meta(dst_dir, dst, &st, false)?;
        }
        Kind::File => {
            let sfd = own(openat(
                Some(src_dir.as_raw_fd()),
                src,
                OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                Mode::empty(),
            )?);
            let dfd = own(openat(
                Some(dst_dir.as_raw_fd()),
                dst,
                OFlag::O_WRONLY
                    | OFlag::O_CREAT
                    | OFlag::O_EXCL
                    | OFlag::O_NOFOLLOW
                    | OFlag::O_CLOEXEC,
                Mode::from_bits_truncate(0o600),
            )?);
            let mut s = File::from(sfd);
            let mut d = File::from(dfd);
            io::copy(&mut s, &mut d)?;
            copy_xattrs_fd(&s, &d);
            d.sync_all()?;
            set_meta(dst_dir, dst, &st, false)?;
        }
        Kind::Symlink => {
            let target = nix::fcntl::readlinkat(Some(src_dir.as_raw_fd()), src)?;
            nix::unistd::symlinkat(target.as_os_str(), Some(dst_dir.as_raw_fd()), dst)?;
            set_meta(dst_dir, dst, &st, true)?;
        }
        Kind::Other => anyhow::bail!("cannot copy a special file across volumes"),
    }
    Ok(())
}

fn copy_xattrs_fd(src: &impl AsRawFd, dst: &impl AsRawFd) {
    use xattr::FileExt;
    // SAFETY: the descriptors stay open for the duration; ManuallyDrop keeps them from closing.
    let s = std::mem::ManuallyDrop::new(unsafe { File::from_raw_fd(src.as_raw_fd()) });
    let d = std::mem::ManuallyDrop::new(unsafe { File::from_raw_fd(dst.as_raw_fd()) });
    if let Ok(names) = s.list_xattr() {
        for n in names {
            if let Ok(Some(v)) = s.get_xattr(&n) {
                let _ = d.set_xattr(&n, &v);
            }
        }
    }
}

/// Owner, mode and times of a copy, like the original's. Changing the owner needs root; without
/// it (a sandbox owned by its user) the owner is already the same.
fn set_meta(dir: &OwnedFd, name: &OsStr, st: &FileStat, is_link: bool) -> Result<()> {
    use nix::sys::stat::{utimensat, UtimensatFlags};
    use nix::sys::time::TimeSpec;
    use nix::unistd::{fchownat, Gid, Uid};
    let _ = fchownat(
        Some(dir.as_raw_fd()),
        name,
        Some(Uid::from_raw(st.st_uid)),
        Some(Gid::from_raw(st.st_gid)),
        AtFlags::AT_SYMLINK_NOFOLLOW,
    );
    if !is_link {
        nix::sys::stat::fchmodat(
            Some(dir.as_raw_fd()),
            name,
            Mode::from_bits_truncate(st.st_mode & 0o7777),
            nix::sys::stat::FchmodatFlags::FollowSymlink,
        )?;
    }
    let atime = TimeSpec::new(st.st_atime, st.st_atime_nsec);
    let mtime = TimeSpec::new(st.st_mtime, st.st_mtime_nsec);
    utimensat(
        Some(dir.as_raw_fd()),
        name,
        &atime,
        &mtime,
        UtimensatFlags::NoFollowSymlink,
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    fn device() -> (tempfile::TempDir, Device) {
        let dir = tempfile::tempdir().unwrap();
        let d = Device::sandbox(dir.path()).unwrap();
        (dir, d)
    }

    #[test]
    fn measuring_a_folder_counts_its_files_and_never_follows_a_link() {
        let (dir, d) = device();
        let root = dir.path();
        let top = root.join("Users/a/Library/Caches/x");
        std::fs::create_dir_all(top.join("a/b/c")).unwrap();
        std::fs::write(top.join("one"), b"12345").unwrap();
        std::fs::write(top.join("a/two"), b"123").unwrap();
        std::fs::write(top.join("a/b/c/three"), b"1234567").unwrap();
        std::fs::create_dir(top.join("empty")).unwrap();
        // Outside the tree, 1 MB behind a link to a folder and a link to a file: never counted.
        std::fs::create_dir(root.join("outside")).unwrap();
        std::fs::write(root.join("outside/big"), vec![0u8; 1 << 20]).unwrap();
        std::os::unix::fs::symlink(root.join("outside"), top.join("a/to-dir")).unwrap();
        std::os::unix::fs::symlink(root.join("outside/big"), top.join("to-file")).unwrap();
        nix::unistd::mkfifo(&top.join("a/b/fifo"), Mode::from_bits_truncate(0o600)).unwrap();
        let Probe::Present(e) = probe(&d, "/Users/a/Library/Caches/x").unwrap() else {
            panic!("absent");
        };
        // x, one, a, two, b, c, three, empty, to-dir, to-file, fifo
        assert_eq!((e.kind, e.bytes, e.entries), (Kind::Dir, 15, 11));
        // A symlinked folder is a link, not its target's tree.
        std::os::unix::fs::symlink(root.join("outside"), root.join("Users/a/Library/Caches/y"))
            .unwrap();
        let Probe::Present(e) = probe(&d, "/Users/a/Library/Caches/y").unwrap() else {
            panic!("absent");
        };
        assert_eq!((e.kind, e.bytes, e.entries), (Kind::Symlink, 0, 1));
        // The shallow probe does not walk.
        let Probe::Present(e) = probe_shallow(&d, "/Users/a/Library/Caches/x").unwrap() else {
            panic!("absent");
        };
        assert_eq!((e.bytes, e.entries), (0, 1));
    }

    #[test]
    fn refuses_a_symlink_in_the_parents_and_removes_a_final_symlink_as_a_link() {
        let (dir, d) = device();
        let outside = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(outside.path().join("Cookies")).unwrap();
        std::fs::write(outside.path().join("Cookies/x"), b"canary").unwrap();
        std::fs::create_dir_all(dir.path().join("Users/bob")).unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("Users/bob/Library")).unwrap();
        match probe(&d, "/Users/bob/Library/Cookies/x").unwrap() {
            Probe::Refused(r) => assert!(r.contains("/Users/bob/Library is a symlink"), "{r}"),
            p => panic!("{p:?}"),
        }
        let q = open_quarantine(&dir.path().join("q")).unwrap();
        assert!(matches!(
            quarantine(&d, "/Users/bob/Library/Cookies/x", &q, "1"),
            Err(FsError::Refused(_))
        ));
        // A symlink as the last component is moved as a link; its target survives.
        std::os::unix::fs::symlink(
            outside.path().join("Cookies/x"),
            dir.path().join("Users/bob/link"),
        )
        .unwrap();
        assert_eq!(
            quarantine(&d, "/Users/bob/link", &q, "2").unwrap(),
            Some(Moved::Renamed)
        );
        assert_eq!(
            std::fs::read(outside.path().join("Cookies/x")).unwrap(),
            b"canary"
        );
        assert!(std::fs::symlink_metadata(dir.path().join("q/2"))
            .unwrap()
            .file_type()
            .is_symlink());
    }

    #[test]
    fn cross_volume_copy_keeps_bytes_modes_and_times() {
        let (dir, d) = device();
        let src = dir.path().join("Library/App");
        std::fs::create_dir_all(src.join("sub")).unwrap();
        std::fs::write(src.join("sub/f"), b"hello").unwrap();
        std::os::unix::fs::symlink("sub/f", src.join("l")).unwrap();
        std::fs::set_permissions(
            src.join("sub/f"),
            std::os::unix::fs::PermissionsExt::from_mode(0o640),
        )
        .unwrap();
        let before = std::fs::symlink_metadata(src.join("sub/f")).unwrap();
        let (pdir, name) = match open_parent(&d, "/Library/App").unwrap() {
            Parent::Open(p, n) => (p, n),
            _ => panic!(),
        };
        let q = open_quarantine(&dir.path().join("q")).unwrap();
        move_across_volumes(&pdir, &name, &q, "1", "/Library/App").unwrap();
        assert!(!src.exists());
        let after = std::fs::symlink_metadata(dir.path().join("q/1/sub/f")).unwrap();
        assert_eq!(
            std::fs::read(dir.path().join("q/1/sub/f")).unwrap(),
            b"hello"
        );
        assert_eq!(after.mode(), before.mode());
        assert_eq!(after.mtime(), before.mtime());
        assert_eq!(after.mtime_nsec(), before.mtime_nsec());
        assert_eq!(
            std::fs::read_link(dir.path().join("q/1/l")).unwrap(),
            Path::new("sub/f")
        );
        assert_eq!(
            restore(&d, "/Library/App", &q, "1").unwrap(),
            Restored::Restored
        );
        assert_eq!(std::fs::read(src.join("sub/f")).unwrap(), b"hello");
    }

    #[test]
    fn own_files_are_written_and_removed_without_following_links() {
        let (dir, d) = device();
        let outside = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("Library")).unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("Library/LaunchDaemons"))
            .unwrap();
        let err = write_file(&d, "/Library/LaunchDaemons/x.plist", b"x", 0o644).unwrap_err();
        assert!(format!("{err:#}").contains("symlink"), "{err:#}");
        assert!(
            std::fs::read_dir(outside.path()).unwrap().next().is_none(),
            "nothing written outside"
        );
        std::fs::remove_file(dir.path().join("Library/LaunchDaemons")).unwrap();
        std::fs::create_dir_all(dir.path().join("Library/LaunchDaemons")).unwrap();
        write_file(&d, "/Library/LaunchDaemons/x.plist", b"hello", 0o644).unwrap();
        assert_eq!(
            read_file(&d, "/Library/LaunchDaemons/x.plist")
                .unwrap()
                .as_deref(),
            Some(&b"hello"[..])
        );
        // a link in its place is removed as a link; its target survives
        std::fs::write(outside.path().join("keep"), b"keep").unwrap();
        std::fs::remove_file(dir.path().join("Library/LaunchDaemons/x.plist")).unwrap();
        std::os::unix::fs::symlink(
            outside.path().join("keep"),
            dir.path().join("Library/LaunchDaemons/x.plist"),
        )
        .unwrap();
        assert_eq!(
            read_file(&d, "/Library/LaunchDaemons/x.plist").unwrap(),
            None
        );
        assert!(remove_file(&d, "/Library/LaunchDaemons/x.plist").unwrap());
        assert_eq!(std::fs::read(outside.path().join("keep")).unwrap(), b"keep");
    }

    #[test]
    fn restore_never_overwrites() {
        let (dir, d) = device();
        std::fs::create_dir_all(dir.path().join("Library")).unwrap();
        std::fs::write(dir.path().join("Library/f"), b"old").unwrap();
        let q = open_quarantine(&dir.path().join("q")).unwrap();
        quarantine(&d, "/Library/f", &q, "1").unwrap();
        std::fs::write(dir.path().join("Library/f"), b"new").unwrap();
        assert_eq!(
            restore(&d, "/Library/f", &q, "1").unwrap(),
            Restored::Conflict
        );
        assert_eq!(std::fs::read(dir.path().join("Library/f")).unwrap(), b"new");
        assert!(quarantine_has(&q, "1"));
        assert_eq!(probe(&d, "/Library/missing/x").unwrap(), Probe::Absent);
    }
}
