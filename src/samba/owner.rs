//! Who the camera's share acts as, and who owns the inbox.
//!
//! The camera's password crosses the LAN as NTLMv1, so whoever logs in with it must be
//! treated as hostile (`docs/security.md`). smbd performs every request of a session with
//! the identity of `force user`: if that were root, the camera account could do whatever
//! root can inside the share (and, with SMB1 UNIX extensions, create device nodes, setuid
//! files and symlinks out of it). So the share always acts as an unprivileged user, by
//! default the camera's own system user, and never as root.
//!
//! camvault must still read and hard-link what the camera writes. Hard-linking another
//! user's file needs, with `fs.protected_hardlinks = 1` (Debian's default), ownership,
//! CAP_FOWNER, or read and write access to it (Linux `may_linkat`/`safe_hardlink_source`,
//! fs/namei.c). The share therefore writes files as `force user` with `force group` =
//! camvault's group and mode 0660, in folders of mode 2770: camvault (root with option A,
//! the `camvault` user in that group with option B) reads and links them through the group,
//! and no other local user can read them.

use std::ffi::CStr;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use rustix::fs::{FileType, Mode, OFlags};

use crate::config::Config;

/// Mode of the inbox and of every folder in it: owner and group only, setgid so that what
/// is created locally gets the group too.
pub const DIR_MODE: u32 = 0o2770;
/// Mode of the files the camera writes (`create mask` and `force create mode`).
pub const FILE_MODE: u32 = 0o660;

/// The user and group the share acts as.
#[derive(Debug, Clone)]
pub struct ShareOwner {
    pub user: String,
    /// `None` when the user does not exist (yet): `samba config` prints how to create it.
    pub uid: Option<u32>,
    pub group: String,
    pub gid: Option<u32>,
}

/// The share's user (`force_user`, else `camera_user`) and group; never uid or gid 0.
pub fn resolve(cfg: &Config) -> Result<ShareOwner> {
    let sm = &cfg.samba;
    let (key, user) = if sm.force_user.is_empty() {
        ("camera_user", sm.camera_user.clone())
    } else {
        ("force_user", sm.force_user.clone())
    };
    let account = passwd_entry(&user);
    if let Some((0, _)) = account {
        bail!("`samba.{key}` = {user:?} has uid 0: the camera's share would act as root; set `samba.{key}` to an unprivileged system user (useradd --system --no-create-home --shell /usr/sbin/nologin camera)");
    }
    let (group, gid) = if !sm.force_group.is_empty() {
        (sm.force_group.clone(), group_gid(&sm.force_group))
    } else if let Some(g) = dir_gid(&cfg.vault()).filter(|g| *g != 0) {
        (group_name(g).unwrap_or_else(|| g.to_string()), Some(g))
    } else if let Some((_, g)) = account {
        (group_name(g).unwrap_or_else(|| g.to_string()), Some(g))
    } else {
        // useradd --system creates a group of the same name (Debian's USERGROUPS_ENAB).
        (user.clone(), None)
    };
    if gid == Some(0) || group == "root" {
        bail!("`samba.force_group` resolves to {group:?} (gid 0): the camera's files would belong to root's group; set `samba.force_group` to the group camvault runs as (e.g. \"camvault\") or to the camera user's own group");
    }
    Ok(ShareOwner {
        uid: account.map(|a| a.0),
        user,
        group,
        gid,
    })
}

fn dir_gid(p: &Path) -> Option<u32> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(p).ok().map(|m| m.gid())
}

/// `(uid, primary gid)` of a user, from /etc/passwd.
pub fn passwd_entry(name: &str) -> Option<(u32, u32)> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() > 3 && f[0] == name).then(|| Some((f[2].parse().ok()?, f[3].parse().ok()?)))?
    })
}

pub fn group_gid(name: &str) -> Option<u32> {
    let groups = std::fs::read_to_string("/etc/group").ok()?;
    groups.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() > 2 && f[0] == name).then(|| f[2].parse().ok())?
    })
}

pub fn group_name(gid: u32) -> Option<String> {
    let groups = std::fs::read_to_string("/etc/group").ok()?;
    groups.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() > 2 && f[2].parse() == Ok(gid)).then(|| f[0].to_string())
    })
}

/// The shell commands that give the inbox to the share's owner.
pub fn fix_commands(inbox: &Path, owner: &ShareOwner) -> String {
    format!(
        "chown {u}:{g} {i} && chmod {m:o} {i} && find {i} -mindepth 1 -type d -exec chown {u}:{g} {{}} + -exec chmod {m:o} {{}} +",
        u = owner.user,
        g = owner.group,
        i = inbox.display(),
        m = DIR_MODE
    )
}

/// What stops the share's owner from writing the inbox, or lets others read it; empty = fine.
pub fn inbox_problems(cfg: &Config, owner: &ShareOwner) -> Vec<String> {
    let inbox = cfg.inbox();
    let (Some(uid), Some(gid)) = (owner.uid, owner.gid) else {
        return vec![format!(
            "the share's user {:?} or group {:?} does not exist: create it (useradd --system --no-create-home --shell /usr/sbin/nologin {})",
            owner.user, owner.group, owner.user
        )];
    };
    let mut out = Vec::new();
    // Every folder above the inbox must let the share's user through.
    for dir in inbox.ancestors().skip(1) {
        if let Ok(st) = rustix::fs::stat(dir) {
            let m = st.st_mode;
            let through =
                m & 0o001 != 0 || (st.st_uid == uid && m & 0o100 != 0) || (st.st_gid == gid && m & 0o010 != 0);
            if !through {
                out.push(format!(
                    "{} (mode {:o}) does not let the share's user {} reach the inbox: chmod o+x {}",
                    dir.display(),
                    m & 0o7777,
                    owner.user,
                    dir.display()
                ));
            }
        }
    }
    match walk_dirs(&inbox, &mut |path, st| {
        let m = st.st_mode & 0o7777;
        if st.st_uid != uid || st.st_gid != gid || m & 0o070 != 0o070 || m & 0o007 != 0 {
            out.push(format!(
                "{} is {}:{} mode {m:o}, not {}:{} mode {DIR_MODE:o}",
                path.display(),
                st.st_uid,
                st.st_gid,
                owner.user,
                owner.group
            ));
        }
        Ok(())
    }) {
        Ok(()) => {}
        Err(e) => out.push(format!("cannot read the inbox {}: {e:#}", inbox.display())),
    }
    if out.len() > 5 {
        let more = out.len() - 5;
        out.truncate(5);
        out.push(format!("… and {more} more folders"));
    }
    out
}

/// As root: gives the inbox and every folder in it to the share's owner (files stay as
/// they are: they are finished recordings). Returns how many folders changed.
pub fn fix_inbox(cfg: &Config, owner: &ShareOwner) -> Result<usize> {
    let (Some(uid), Some(gid)) = (owner.uid, owner.gid) else {
        bail!(
            "the share's user {:?} or group {:?} does not exist: useradd --system --no-create-home --shell /usr/sbin/nologin {}",
            owner.user,
            owner.group,
            owner.user
        );
    };
    let inbox = cfg.inbox();
    std::fs::create_dir_all(&inbox).with_context(|| format!("cannot create {}", inbox.display()))?;
    let mut changed = 0;
    walk_dirs_fd(&inbox, &mut |path, fd, st| {
        if st.st_uid != uid || st.st_gid != gid || st.st_mode & 0o7777 != DIR_MODE {
            rustix::fs::fchown(
                fd,
                Some(rustix::fs::Uid::from_raw(uid)),
                Some(rustix::fs::Gid::from_raw(gid)),
            )
            .with_context(|| format!("cannot chown {}", path.display()))?;
            rustix::fs::fchmod(fd, Mode::from_raw_mode(DIR_MODE))
                .with_context(|| format!("cannot chmod {}", path.display()))?;
            changed += 1;
        }
        Ok(())
    })?;
    Ok(changed)
}

fn walk_dirs(root: &Path, f: &mut dyn FnMut(&Path, &rustix::fs::Stat) -> Result<()>) -> Result<()> {
    walk_dirs_fd(root, &mut |p, _, st| f(p, st))
}

/// Visits `root` and every folder below it through handles opened relative to their parent
/// without following symlinks, so that a folder the camera swaps for a symlink meanwhile is
/// skipped rather than followed (this runs as root).
fn walk_dirs_fd(root: &Path, f: &mut dyn FnMut(&Path, &OwnedFd, &rustix::fs::Stat) -> Result<()>) -> Result<()> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let fd = rustix::fs::open(root, flags, Mode::empty()).with_context(|| format!("cannot open {}", root.display()))?;
    let mut stack: Vec<(PathBuf, OwnedFd)> = vec![(root.to_path_buf(), fd)];
    while let Some((path, fd)) = stack.pop() {
        let st = rustix::fs::fstat(&fd)?;
        f(&path, &fd, &st)?;
        let mut names: Vec<std::ffi::CString> = Vec::new();
        for entry in rustix::fs::Dir::read_from(fd.as_fd())? {
            let entry = entry?;
            let name: &CStr = entry.file_name();
            if name.to_bytes() == b"." || name.to_bytes() == b".." {
                continue;
            }
            if matches!(entry.file_type(), FileType::Directory | FileType::Unknown) {
                names.push(name.to_owned());
            }
        }
        for name in names {
            // Not a folder (any more), or a symlink now: skipped, never followed.
            if let Ok(child) = rustix::fs::openat(&fd, name.as_c_str(), flags, Mode::empty()) {
                let p = path.join(std::ffi::OsStr::new(
                    <std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(name.to_bytes()),
                ));
                stack.push((p, child));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_is_refused_by_name_with_the_key_and_the_fix() {
        for (text, key) in [
            ("[samba]\nforce_user = \"root\"\n", "samba.force_user"),
            ("[samba]\ncamera_user = \"root\"\n", "samba.camera_user"),
            ("[samba]\nforce_group = \"root\"\n", "samba.force_group"),
        ] {
            let e = Config::parse(text).unwrap_err().to_string();
            assert!(
                e.contains(key) && e.contains("never act as root") && e.contains("useradd"),
                "{e}"
            );
        }
    }

    #[test]
    fn a_user_with_uid_0_is_refused_whatever_its_name() {
        // Any name in /etc/passwd with uid 0 is root: the first line of every passwd.
        let passwd = std::fs::read_to_string("/etc/passwd").unwrap();
        let root_name = passwd
            .lines()
            .find(|l| l.split(':').nth(2) == Some("0"))
            .unwrap()
            .split(':')
            .next()
            .unwrap()
            .to_string();
        if root_name == "root" {
            // The by-name refusal covers it at load; check the uid path with a renamed root.
            let mut cfg = Config::parse("").unwrap();
            cfg.samba.force_user = root_name;
            let e = resolve(&cfg).unwrap_err().to_string();
            assert!(e.contains("uid 0") && e.contains("samba.force_user"), "{e}");
        }
    }
}
