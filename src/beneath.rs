//! Files beneath a directory handle, never through a symlink: how capture and the cache
//! keeper touch the inbox, which the camera account (hostile, see docs/security.md) can
//! rearrange at any moment.
//!
//! Checking a path and then using it by name is a race: a folder swapped for a symlink
//! between the check and the use sends the use anywhere on the disk (issue 13, finding 3).
//! So a path is resolved once, by the kernel, into a handle, and everything after that
//! works on the handle:
//! - [`open_beneath`] resolves a relative path under an open directory with `openat2(2)`
//!   and `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS`: no `..` out,
//!   no symlink anywhere on the way, including the last component. Kernels before 5.6
//!   lack `openat2` (`ENOSYS`): then each component is opened with
//!   `openat(O_NOFOLLOW | O_DIRECTORY)` from the one before, which gives the same answer.
//! - [`link_fd`] hard-links an opened file by its handle. `linkat(fd, "", AT_EMPTY_PATH)`
//!   needs `CAP_DAC_READ_SEARCH` on kernels before 6.10 (linkat(2): "The caller must have
//!   the CAP_DAC_READ_SEARCH capability in order to use this flag"; 6.10 relaxed it for a
//!   file opened with the caller's own credentials), which a hardened unit does not
//!   grant, and Debian 12 runs 6.1. `linkat(AT_FDCWD, "/proc/self/fd/N", …,
//!   AT_SYMLINK_FOLLOW)` links the same open file on every kernel without it: the /proc
//!   entry is the kernel's reference to the open file, not a path resolved again (the form
//!   the AT_EMPTY_PATH discussions on linux-fsdevel call the unprivileged flink). It is
//!   tried first; `AT_EMPTY_PATH` is the fallback when /proc is not mounted. Both were run
//!   as `nobody` without capabilities (`setpriv --reuid=65534 --inh-caps=-all`) on 6.18:
//!   both link.
//! - [`remove_if_same`] unlinks an entry of an opened folder only when its device and
//!   inode are the ones the catalog recorded.

use std::ffi::OsStr;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Component, Path};

use rustix::fs::{AtFlags, Mode, OFlags, ResolveFlags, CWD};
use rustix::io::Errno;

/// Why a path could not be opened beneath the root.
#[derive(Debug)]
pub enum Refusal {
    /// A component is missing (the file or a folder was deleted or renamed).
    Gone,
    /// `..`, an absolute path, or a component that is `.`: it would leave the root.
    Escapes,
    /// A component is a symlink, or a folder on the way is not a folder.
    Link,
    /// Any other error of the system call.
    Io(io::Error),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Gone => f.write_str("it is gone"),
            Refusal::Escapes => f.write_str("the path leaves its folder ('..' or absolute)"),
            Refusal::Link => f.write_str("a symlink, or a non-folder where a folder should be, is on the way"),
            Refusal::Io(e) => write!(f, "{e}"),
        }
    }
}

impl Refusal {
    fn from_errno(e: Errno) -> Refusal {
        match e {
            Errno::NOENT => Refusal::Gone,
            // ELOOP: a symlink (RESOLVE_NO_SYMLINKS / O_NOFOLLOW); ENOTDIR: a file or a
            // symlink where a folder should be; EXDEV: RESOLVE_BENEATH caught an escape.
            Errno::LOOP | Errno::NOTDIR | Errno::XDEV => Refusal::Link,
            e => Refusal::Io(e.into()),
        }
    }
}

/// Opens a directory that camvault itself configured (the inbox, the vault), following
/// symlinks: its path comes from the owner's config, not from the camera.
pub fn open_root(path: &Path) -> io::Result<OwnedFd> {
    Ok(rustix::fs::open(
        path,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?)
}

/// The normal components of `rel`, or `Escapes` for anything else.
pub fn components(rel: &Path) -> Result<Vec<&OsStr>, Refusal> {
    let mut out = Vec::new();
    for c in rel.components() {
        match c {
            Component::Normal(n) => out.push(n),
            _ => return Err(Refusal::Escapes),
        }
    }
    if out.is_empty() {
        return Err(Refusal::Escapes);
    }
    Ok(out)
}

/// Opens `rel` beneath `root` without following any symlink. `flags` are the open flags
/// for the last component (`O_NOFOLLOW` and `O_CLOEXEC` are always added).
pub fn open_beneath(root: impl AsFd, rel: &Path, flags: OFlags) -> Result<OwnedFd, Refusal> {
    let comps = components(rel)?;
    let flags = flags | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let how = ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS;
    match rustix::fs::openat2(root.as_fd(), rel, flags, Mode::empty(), how) {
        Ok(fd) => Ok(fd),
        // No openat2 (Linux < 5.6) or a seccomp filter that hides it: step by step.
        Err(Errno::NOSYS) | Err(Errno::PERM) => open_stepwise(root, &comps, flags),
        Err(Errno::AGAIN) => open_stepwise(root, &comps, flags), // RESOLVE_* raced a rename
        Err(e) => Err(Refusal::from_errno(e)),
    }
}

fn open_stepwise(root: impl AsFd, comps: &[&OsStr], flags: OFlags) -> Result<OwnedFd, Refusal> {
    let dir_flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let mut dir: Option<OwnedFd> = None;
    for (i, c) in comps.iter().enumerate() {
        let at = match &dir {
            Some(d) => d.as_fd(),
            None => root.as_fd(),
        };
        let last = i + 1 == comps.len();
        let fd = rustix::fs::openat(at, *c, if last { flags } else { dir_flags }, Mode::empty())
            .map_err(Refusal::from_errno)?;
        if last {
            return Ok(fd);
        }
        dir = Some(fd);
    }
    Err(Refusal::Escapes)
}

/// Opens the folder holding `rel` beneath `root`, and returns it with `rel`'s last name.
pub fn open_parent(root: impl AsFd, rel: &Path) -> Result<(OwnedFd, &OsStr), Refusal> {
    let comps = components(rel)?;
    let (name, dirs) = comps.split_last().ok_or(Refusal::Escapes)?;
    let dir_flags = OFlags::RDONLY | OFlags::DIRECTORY;
    let parent = if dirs.is_empty() {
        rustix::fs::openat(root.as_fd(), ".", dir_flags | OFlags::CLOEXEC, Mode::empty())
            .map_err(Refusal::from_errno)?
    } else {
        let p: std::path::PathBuf = dirs.iter().collect();
        open_beneath(root, &p, dir_flags)?
    };
    Ok((parent, name))
}

/// Hard-links the open file `fd` as `name` in the folder `dir` (see the module doc for
/// why through /proc first).
pub fn link_fd(fd: impl AsFd, dir: impl AsFd, name: &OsStr) -> io::Result<()> {
    let proc = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&fd.as_fd()));
    match rustix::fs::linkat(CWD, proc.as_str(), dir.as_fd(), name, AtFlags::SYMLINK_FOLLOW) {
        // /proc is not mounted (a minimal container): the capability-needing form.
        Err(Errno::NOENT) if !Path::new("/proc/self/fd").exists() => Ok(rustix::fs::linkat(
            fd.as_fd(),
            "",
            dir.as_fd(),
            name,
            AtFlags::EMPTY_PATH,
        )?),
        r => Ok(r?),
    }
}

/// What [`remove_if_same`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Removed {
    Yes,
    /// Nothing by that name.
    Gone,
    /// Something else is there now (another file, a folder, a symlink): left alone.
    Different,
}

/// Removes `rel` beneath `root` only when it is a regular file with device `dev` and inode
/// `ino`. The folder is opened once without symlinks, and the check and the unlink both go
/// through that handle, so a folder swapped on the way cannot redirect the unlink. What is
/// left is a swap of the entry itself inside that folder between the check and the
/// unlink: only a file the camera account wrote can be moved there, and that account can
/// delete such a file itself (vfs_worm refuses renames of files past its grace).
pub fn remove_if_same(root: impl AsFd, rel: &Path, dev: u64, ino: u64) -> Result<Removed, Refusal> {
    let (parent, name) = match open_parent(root, rel) {
        Ok(p) => p,
        Err(Refusal::Gone) => return Ok(Removed::Gone),
        Err(e) => return Err(e),
    };
    let st = match rustix::fs::statat(&parent, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) => st,
        Err(Errno::NOENT) => return Ok(Removed::Gone),
        Err(e) => return Err(Refusal::from_errno(e)),
    };
    let is_file = rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::RegularFile;
    if !is_file || st.st_dev != dev || st.st_ino != ino {
        return Ok(Removed::Different);
    }
    match rustix::fs::unlinkat(&parent, name, AtFlags::empty()) {
        Ok(()) => Ok(Removed::Yes),
        Err(Errno::NOENT) => Ok(Removed::Gone),
        Err(e) => Err(Refusal::Io(e.into())),
    }
}

/// Removes the empty folders of `rel` beneath `root`, deepest first, keeping the first
/// `keep_depth` levels; each removal goes through a handle of its parent opened without
/// symlinks. `AT_REMOVEDIR` only ever removes an empty folder.
pub fn remove_empty_dirs(root: impl AsFd, rel: &Path, keep_depth: usize) {
    let Ok(comps) = components(rel) else {
        return;
    };
    // comps[..n] is the folder of depth n; the last component is the file itself.
    let mut n = comps.len().saturating_sub(1);
    while n > keep_depth {
        let dir: std::path::PathBuf = comps[..n].iter().collect();
        let Ok((parent, name)) = open_parent(root.as_fd(), &dir) else {
            return;
        };
        if rustix::fs::unlinkat(&parent, name, AtFlags::REMOVEDIR).is_err() {
            return;
        }
        n -= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn symlinks_anywhere_are_refused_and_escapes_too() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("root");
        std::fs::create_dir_all(root.join("a/b")).unwrap();
        std::fs::write(root.join("a/b/f"), b"in").unwrap();
        std::fs::write(d.path().join("secret"), b"out").unwrap();
        std::os::unix::fs::symlink(d.path(), root.join("up")).unwrap();
        std::os::unix::fs::symlink(d.path().join("secret"), root.join("a/link")).unwrap();
        let r = open_root(&root).unwrap();
        assert!(open_beneath(&r, Path::new("a/b/f"), OFlags::RDONLY).is_ok());
        for (rel, want) in [
            ("up/secret", "Link"),
            ("a/link", "Link"),
            ("../secret", "Escapes"),
            ("a/../../secret", "Escapes"),
            ("a/b/f/x", "Link"),
            ("a/none", "Gone"),
        ] {
            let got = format!("{:?}", open_beneath(&r, Path::new(rel), OFlags::RDONLY).unwrap_err());
            assert!(got.starts_with(want), "{rel}: {got}");
            let got = format!(
                "{:?}",
                open_stepwise(
                    &r,
                    &components(Path::new(rel)).unwrap_or_default(),
                    OFlags::RDONLY | OFlags::NOFOLLOW
                )
                .unwrap_err()
            );
            assert!(rel.contains("..") || got.starts_with(want), "stepwise {rel}: {got}");
        }
    }

    #[test]
    fn link_by_handle_and_remove_only_the_same_inode() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("in/cam")).unwrap();
        std::fs::create_dir_all(d.path().join("vault")).unwrap();
        std::fs::write(d.path().join("in/cam/f"), b"clip").unwrap();
        let r = open_root(&d.path().join("in")).unwrap();
        let fd = open_beneath(&r, Path::new("cam/f"), OFlags::RDONLY).unwrap();
        let v = open_root(&d.path().join("vault")).unwrap();
        link_fd(&fd, &v, OsStr::new("k")).unwrap();
        // The capability-needing form works too when we have it (tests run as root in CI).
        if rustix::process::geteuid().is_root() {
            rustix::fs::linkat(&fd, "", &v, "k2", AtFlags::EMPTY_PATH).unwrap();
        }
        let m = std::fs::metadata(d.path().join("in/cam/f")).unwrap();
        assert_eq!(std::fs::metadata(d.path().join("vault/k")).unwrap().ino(), m.ino());
        assert_eq!(
            remove_if_same(&r, Path::new("cam/f"), m.dev(), m.ino() + 1).unwrap(),
            Removed::Different
        );
        assert!(d.path().join("in/cam/f").exists());
        assert_eq!(
            remove_if_same(&r, Path::new("cam/f"), m.dev(), m.ino()).unwrap(),
            Removed::Yes
        );
        assert_eq!(
            remove_if_same(&r, Path::new("cam/f"), m.dev(), m.ino()).unwrap(),
            Removed::Gone
        );
        remove_empty_dirs(&r, Path::new("cam/f"), 0);
        assert!(!d.path().join("in/cam").exists());
        assert!(d.path().join("in").exists());
    }
}

/// The attacks of issue 13, finding 3, performed: a thread swaps a folder of the inbox for
/// a symlink to a folder outside it, in a tight loop, while capture and the cache keeper run.
#[cfg(test)]
mod race_tests {
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::MetadataExt;
    use std::path::{Path, PathBuf};
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::sync::Arc;

    use crate::cache::CacheKeeper;
    use crate::capture::{Captured, Capturer};
    use crate::catalog::Catalog;
    use crate::config::Config;

    /// Captures per capture race; the keeper's race purges more (its window is smaller).
    const N: usize = 300;
    const PURGES: usize = 1000;

    struct Scene {
        n: usize,
        _dir: tempfile::TempDir,
        cfg: Config,
        outside: PathBuf,
        hour: PathBuf,
    }

    /// An inbox with `cam/hour/clip{i}.bin` and, outside it, a root-only folder holding
    /// files of the same names.
    fn scene(n: usize) -> Scene {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = Config::parse("[capture]\ntimezone = \"UTC\"\n").unwrap();
        cfg.source = dir.path().join("camvault.toml");
        let hour = cfg.inbox().join("cam/hour");
        let outside = dir.path().join("outside");
        std::fs::create_dir_all(&hour).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        for i in 0..n {
            std::fs::write(hour.join(format!("clip{i}.bin")), format!("inbox {i}")).unwrap();
            let secret = outside.join(format!("clip{i}.bin"));
            std::fs::write(&secret, format!("SECRET {i}")).unwrap();
            std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        Scene {
            n,
            _dir: dir,
            cfg,
            outside,
            hour,
        }
    }

    /// Swaps `hour` for a symlink to `outside` and back until `stop`, each swap atomic
    /// (`renameat2(RENAME_EXCHANGE)`: the name is always one or the other); counts the swaps.
    fn swapper(
        hour: PathBuf,
        outside: PathBuf,
        stop: Arc<AtomicBool>,
        swaps: Arc<AtomicU64>,
    ) -> std::thread::JoinHandle<()> {
        use rustix::fs::{renameat_with, RenameFlags, CWD};
        std::thread::spawn(move || {
            let link = hour.with_file_name("hour.link");
            std::os::unix::fs::symlink(&outside, &link).unwrap();
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) || n % 2 == 1 {
                renameat_with(CWD, &hour, CWD, &link, RenameFlags::EXCHANGE).unwrap();
                n += 1;
                swaps.store(n / 2, Ordering::Relaxed);
            }
            assert!(std::fs::symlink_metadata(&hour).unwrap().is_dir());
        })
    }

    fn inodes(dir: &Path) -> Vec<(u64, u64)> {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| {
                let m = e.unwrap().metadata().unwrap();
                (m.dev(), m.ino())
            })
            .collect()
    }

    fn vault_files(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                vault_files(&p, out);
            } else {
                out.push(p);
            }
        }
    }

    #[test]
    fn capture_never_links_a_file_outside_the_inbox() {
        capture_race(scene(N));
    }

    /// The same attack when the vault is on another filesystem, so capture copies from the
    /// opened file instead of linking it.
    #[test]
    fn capture_never_copies_a_file_outside_the_inbox() {
        let s = scene(N);
        let vault = s.cfg.vault();
        std::fs::create_dir_all(&vault).unwrap();
        let mounted = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=64m", "tmpfs"])
            .arg(&vault)
            .status()
            .is_ok_and(|st| st.success());
        if !mounted {
            eprintln!("SKIPPED: mounting a tmpfs for the vault needs root (CI runs as root)");
            return;
        }
        struct Unmount(PathBuf);
        impl Drop for Unmount {
            fn drop(&mut self) {
                let _ = std::process::Command::new("umount").arg("-l").arg(&self.0).status();
            }
        }
        let _guard = Unmount(vault.clone());
        let dev = |p: &Path| std::fs::metadata(p).unwrap().dev();
        assert_ne!(dev(&vault), dev(&s.cfg.inbox()), "the vault is on another filesystem");
        capture_race(s);
    }

    fn capture_race(s: Scene) {
        let cat = Catalog::open(&s.cfg.catalog(), true).unwrap();
        let cap = Capturer::new(&s.cfg).unwrap();
        let outside_inodes = inodes(&s.outside);
        let (stop, swaps) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicU64::new(0)));
        let t = swapper(s.hour.clone(), s.outside.clone(), stop.clone(), swaps.clone());
        while swaps.load(Ordering::Relaxed) < 3 {
            std::thread::yield_now(); // the swapping has begun
        }
        let (mut refused, mut captured) = (0, 0);
        let now = jiff::Timestamp::now();
        let (mut outcomes, mut odd_errors) = (std::collections::BTreeMap::new(), Vec::new());
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        for i in 0..N {
            let rel = PathBuf::from(format!("cam/hour/clip{i}.bin"));
            // Until it is captured: while the folder is a symlink, capture must refuse.
            while std::time::Instant::now() < deadline {
                match cap.capture(&cat, &rel, now) {
                    Ok(Captured::New(_)) => {
                        captured += 1;
                        break;
                    }
                    Ok(Captured::Already) => panic!("captured twice: {}", rel.display()),
                    Ok(Captured::Vanished) => *outcomes.entry("vanished").or_insert(0) += 1,
                    Ok(Captured::Followed(k) | Captured::Duplicate(k)) => {
                        panic!("distinct files taken for one recording: {} -> {k}", rel.display())
                    }
                    Ok(Captured::Deferred) => panic!("{} deferred: not an in-progress name", rel.display()),
                    Err(e) => {
                        let e = format!("{e:#}");
                        if !e.contains("symlink") {
                            odd_errors.push(e);
                        }
                        *outcomes.entry("refused").or_insert(0) += 1;
                        refused += 1;
                    }
                }
                std::thread::yield_now(); // let the swapper move on
            }
        }
        stop.store(true, Ordering::Relaxed);
        t.join().unwrap();
        let mut files = Vec::new();
        vault_files(&s.cfg.vault(), &mut files);
        for f in &files {
            let m = std::fs::metadata(f).unwrap();
            assert!(
                !outside_inodes.contains(&(m.dev(), m.ino())),
                "{} links a file outside the inbox",
                f.display()
            );
            let text = std::fs::read_to_string(f).unwrap();
            assert!(text.starts_with("inbox "), "{} holds {text:?}", f.display());
        }
        assert_eq!(
            (captured, files.len()),
            (N, N),
            "every inbox file captured once: {outcomes:?}"
        );
        assert!(odd_errors.is_empty(), "refusals must say why: {odd_errors:?}");
        // The race was on: captures met the symlink (or the moment the folder was away).
        assert!(swaps.load(Ordering::Relaxed) > 100, "swaps: {swaps:?}");
        assert!(
            refused > 0,
            "no capture ever met the swapped folder; the test proves nothing"
        );
        eprintln!("{captured} captured, {refused} refused, {swaps:?} swaps");
    }

    #[test]
    fn cache_keeper_never_removes_a_file_outside_the_inbox() {
        let s = scene(PURGES);
        let n = s.n;
        let cat = Catalog::open(&s.cfg.catalog(), true).unwrap();
        let cap = Capturer::new(&s.cfg).unwrap();
        let now = jiff::Timestamp::now();
        for i in 0..n {
            let rel = PathBuf::from(format!("cam/hour/clip{i}.bin"));
            assert!(matches!(cap.capture(&cat, &rel, now).unwrap(), Captured::New(_)));
        }
        for row in cat.due(i64::MAX, 1000).unwrap() {
            cat.mark_uploaded(row.id, "0", "Standard", 0).unwrap();
            cat.mark_verified(row.id, 0).unwrap();
        }
        let mut keeper = CacheKeeper::new(&s.cfg);
        keeper.max_bytes = 0; // purge everything
        let (stop, swaps) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicU64::new(0)));
        let t = swapper(s.hour.clone(), s.outside.clone(), stop.clone(), swaps.clone());
        while swaps.load(Ordering::Relaxed) < 3 {
            std::thread::yield_now(); // the swapping has begun
        }
        let pass = keeper.pass(&cat, now.as_millisecond(), &|_| None).unwrap();
        stop.store(true, Ordering::Relaxed);
        t.join().unwrap();
        assert_eq!(pass.purged, n as u64);
        let left: Vec<_> = (0..n)
            .filter(|i| !s.outside.join(format!("clip{i}.bin")).exists())
            .collect();
        assert!(left.is_empty(), "files outside the inbox removed: {left:?}");
        // Copies the keeper met behind the symlink stay in the inbox (harmless: the share's
        // own files); the others went.
        let removed = (0..n).filter(|i| !s.hour.join(format!("clip{i}.bin")).exists()).count();
        assert!(
            swaps.load(Ordering::Relaxed) > 3,
            "the folder was not swapped during the pass: {swaps:?}"
        );
        // Once the folder is a real folder again, a second pass's removals go through.
        let db = rusqlite::Connection::open(s.cfg.catalog()).unwrap();
        let mut st = db.prepare("SELECT inbox_path, dev, ino FROM files").unwrap();
        let rows = st
            .query_map([], |r| {
                Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
            })
            .unwrap();
        let root = super::open_root(&s.cfg.inbox()).unwrap();
        for row in rows {
            let (path, dev, ino) = row.unwrap();
            let rel = Path::new(std::ffi::OsStr::from_bytes(&path));
            let r = super::remove_if_same(&root, rel, dev as u64, ino as u64).unwrap();
            assert!(r == super::Removed::Yes || r == super::Removed::Gone, "{r:?}");
        }
        assert_eq!(
            std::fs::read_dir(&s.hour).unwrap().count(),
            0,
            "every inbox copy can be removed"
        );
        eprintln!("{removed} of {n} inbox copies removed, {swaps:?} swaps");
    }
}
