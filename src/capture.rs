//! Capture: makes a finished inbox file camvault's own.
//!
//! The file is hard-linked into `vault/<key>` (copied when the vault is on another
//! filesystem) and its catalog row inserted in the same step, so that from then on a
//! delete in the inbox, by the camera's retention job or anyone, cannot lose it. Symlinks
//! are never followed and nothing outside the inbox is ever touched.

use std::ffi::OsStr;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{anyhow, bail, Context, Result};
use jiff::Timestamp;
use tracing::{info, warn};

use crate::catalog::{Catalog, NewFile};
use crate::config::Config;
use crate::inbox::{layout, mp4meta};
use crate::keys::{KeyInput, Template};

/// What capture did with a file.
#[derive(Debug, PartialEq, Eq)]
pub enum Captured {
    /// New row with this key.
    New(String),
    /// This exact file (inode, size, mtime) is already in the catalog.
    Already,
    /// The file disappeared before it could be captured (deleted or renamed).
    Vanished,
}

/// The fixed parts capture needs, built once.
pub struct Capturer {
    pub config: Config,
    pub inbox: PathBuf,
    pub vault: PathBuf,
    template: Template,
    warned_copy: AtomicBool,
}

/// Facts about a file as seen by `lstat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    pub size: u64,
    pub mtime_ns: i64,
    pub dev: u64,
    pub ino: u64,
}

impl Stat {
    pub fn of(m: &std::fs::Metadata) -> Stat {
        Stat {
            size: m.len(),
            mtime_ns: m.mtime() * 1_000_000_000 + m.mtime_nsec(),
            dev: m.dev(),
            ino: m.ino(),
        }
    }
}

impl Capturer {
    pub fn new(config: &Config) -> Result<Capturer> {
        let template = Template::parse(&config.store.key_template).map_err(|e| anyhow!("`store.key_template`: {e}"))?;
        Ok(Capturer {
            config: config.clone(),
            inbox: config.inbox(),
            vault: config.vault(),
            template,
            warned_copy: AtomicBool::new(false),
        })
    }

    /// Captures `rel` (a path relative to the inbox) if it is a regular file not yet captured.
    pub fn capture(&self, catalog: &Catalog, rel: &Path, now: Timestamp) -> Result<Captured> {
        let Some(full) = self.checked_path(rel)? else {
            return Ok(Captured::Vanished);
        };
        let meta = match std::fs::symlink_metadata(&full) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Captured::Vanished),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", full.display())),
        };
        if meta.file_type().is_symlink() {
            bail!(
                "{} is a symlink; camvault never follows links out of the inbox, so it is left alone",
                full.display()
            );
        }
        if !meta.is_file() {
            bail!("{} is not a regular file; left alone", full.display());
        }
        let stat = Stat::of(&meta);
        let rel_bytes = rel.as_os_str().as_bytes();
        if catalog.already_captured(stat.dev, stat.ino, rel_bytes, stat.size, stat.mtime_ns)? {
            return Ok(Captured::Already);
        }

        let parsed = layout::parse_path(rel);
        let cam = self.config.camera(parsed.mac.as_deref(), parsed.folder.as_deref());
        let mtime = Timestamp::from_nanosecond(stat.mtime_ns as i128).unwrap_or(now);
        let span = layout::resolve(&parsed, &cam.tz, mtime, now);
        let mp4 = probe_mp4(&full, stat.size);
        let end = span.end.or_else(|| {
            let d = mp4.as_ref()?.duration_ms?;
            Timestamp::from_millisecond(span.start.as_millisecond().checked_add(d)?).ok()
        });
        let mut warnings: Vec<String> = span.warning.into_iter().collect();
        if stat.size == 0 {
            warnings.push("empty file (0 bytes)".into());
        } else if mp4.is_none() && full.extension() == Some(OsStr::new("mp4")) {
            warnings.push("no readable MP4 header (truncated or not a video)".into());
        }
        let warning = (!warnings.is_empty()).then(|| warnings.join("; "));
        let start_z = span.start.to_zoned(cam.tz.clone());
        let file_name = layout::key_file_name(&parsed, rel.file_name().map_or(b"unnamed", |f| f.as_bytes()));
        let base_key = self.template.render(&KeyInput {
            camera: &cam.id,
            mac: parsed.mac.as_deref(),
            channel: parsed.channel.as_deref(),
            start: &start_z,
            file: &file_name,
        });
        let info = mp4.unwrap_or_default();
        let row = NewFile {
            camera: &cam.id,
            mac: parsed.mac.as_deref(),
            tz: &cam.tz_name,
            inbox_path: rel_bytes,
            base_key: &base_key,
            layout: parsed.layout.as_str(),
            channel: parsed.channel.as_deref(),
            start_ms: span.start.as_millisecond(),
            end_ms: end.map(|e| e.as_millisecond()),
            size: stat.size,
            mtime_ns: stat.mtime_ns,
            dev: stat.dev,
            ino: stat.ino,
            duration_ms: info.duration_ms,
            codec: info.codec.as_deref(),
            width: info.width,
            height: info.height,
            warning: warning.as_deref(),
            now_ms: now.as_millisecond(),
        };
        let (_, key) = catalog.insert_captured(&row, |key| self.link_into_vault(&full, stat, key))?;
        match &warning {
            Some(w) => warn!(path = %full.display(), %key, "captured with a warning: {w}"),
            None => info!(%key, size = stat.size, "captured"),
        }
        Ok(Captured::New(key))
    }

    /// Joins `rel` to the inbox, refusing `..`, absolute paths and symlinked directories;
    /// `None` when a folder on the way is gone.
    fn checked_path(&self, rel: &Path) -> Result<Option<PathBuf>> {
        let mut p = self.inbox.clone();
        let n = rel.components().count();
        for (i, c) in rel.components().enumerate() {
            match c {
                Component::Normal(name) => p.push(name),
                _ => bail!("{} escapes the inbox; ignored", rel.display()),
            }
            if i + 1 < n {
                let m = match std::fs::symlink_metadata(&p) {
                    Ok(m) => m,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
                    Err(e) => return Err(e).with_context(|| format!("cannot read {}", p.display())),
                };
                if !m.is_dir() {
                    bail!(
                        "{} is a symlink or not a directory; camvault does not follow it",
                        p.display()
                    );
                }
            }
        }
        Ok(Some(p))
    }

    /// Creates `vault/<key>` as a hard link to the inbox file (or a copy across filesystems).
    fn link_into_vault(&self, src: &Path, stat: Stat, key: &str) -> Result<()> {
        let dest = self.vault.join(key);
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create vault directory {}", parent.display()))?;
        }
        match std::fs::hard_link(src, &dest) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                // Left by a capture that crashed before its commit: fine if it is this file.
                let m = std::fs::symlink_metadata(&dest)?;
                if m.ino() == stat.ino && m.dev() == stat.dev || (m.len() == stat.size && same_bytes(src, &dest)?) {
                    Ok(())
                } else {
                    bail!(
                        "vault already has a different file at {} that the catalog does not know; move it aside (it may be a recording from a crashed run) and capture again",
                        dest.display()
                    )
                }
            }
            Err(e) if e.raw_os_error() == Some(rustix::io::Errno::XDEV.raw_os_error()) => {
                if !self.warned_copy.swap(true, Ordering::Relaxed) {
                    warn!("the vault is on another filesystem than the inbox: copying instead of hard-linking (slower, uses twice the space; see `camvault doctor`)");
                }
                copy_no_overwrite(src, &dest, stat.size)
            }
            Err(e) => {
                Err(e).with_context(|| format!("cannot link {} into the vault at {}", src.display(), dest.display()))
            }
        }
    }
}

fn probe_mp4(path: &Path, size: u64) -> Option<mp4meta::Mp4Info> {
    let mut f = std::fs::File::open(path).ok()?;
    mp4meta::probe(&mut f, size)
}

fn same_bytes(a: &Path, b: &Path) -> io::Result<bool> {
    use std::io::Read;
    let (mut fa, mut fb) = (std::fs::File::open(a)?, std::fs::File::open(b)?);
    let (mut ba, mut bb) = (vec![0u8; 1 << 16], vec![0u8; 1 << 16]);
    loop {
        let na = fa.read(&mut ba)?;
        let mut nb = 0;
        while nb < na {
            let n = fb.read(&mut bb[nb..na])?;
            if n == 0 {
                return Ok(false);
            }
            nb += n;
        }
        if ba[..na] != bb[..na] {
            return Ok(false);
        }
        if na == 0 {
            return Ok(fb.read(&mut bb)? == 0);
        }
    }
}

/// Copies the first `len` bytes of `src` to `dest` through a temporary file, fsynced,
/// and never replaces an existing `dest`.
fn copy_no_overwrite(src: &Path, dest: &Path, len: u64) -> Result<()> {
    use std::io::{Read, Write};
    if let Ok(m) = std::fs::symlink_metadata(dest) {
        if m.len() == len && same_bytes(src, dest)? {
            return Ok(()); // left by a copy that crashed before its catalog commit
        }
    }
    let tmp = dest.with_file_name(format!(".camvault-tmp.{}", fastrand::u64(..)));
    let result = (|| -> Result<()> {
        let mut input = std::fs::File::open(src)
            .with_context(|| format!("cannot read {}", src.display()))?
            .take(len);
        let mut out = std::fs::File::create(&tmp).with_context(|| format!("cannot write {}", tmp.display()))?;
        let n =
            io::copy(&mut input, &mut out).with_context(|| format!("cannot copy {} into the vault", src.display()))?;
        if n != len {
            bail!("{} shrank while it was copied into the vault", src.display());
        }
        out.flush()?;
        out.sync_all()?;
        std::fs::hard_link(&tmp, dest).with_context(|| format!("cannot create {}", dest.display()))?;
        Ok(())
    })();
    let _ = std::fs::remove_file(&tmp);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> (tempfile::TempDir, Capturer, Catalog) {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = Config::parse("[capture]\ntimezone = \"UTC\"\n").unwrap();
        cfg.source = dir.path().join("camvault.toml");
        std::fs::create_dir_all(cfg.inbox()).unwrap();
        let cat = Catalog::open(&cfg.catalog(), true).unwrap();
        (dir, Capturer::new(&cfg).unwrap(), cat)
    }

    #[test]
    fn vanished_file_is_not_an_error() {
        let (_d, cap, cat) = setup();
        assert_eq!(
            cap.capture(&cat, Path::new("cam/gone.mp4"), Timestamp::now()).unwrap(),
            Captured::Vanished
        );
    }

    #[test]
    fn paths_out_of_the_inbox_are_refused() {
        let (d, cap, cat) = setup();
        std::fs::write(d.path().join("outside.mp4"), b"x").unwrap();
        for rel in ["../outside.mp4", "/etc/passwd"] {
            let err = cap
                .capture(&cat, Path::new(rel), Timestamp::now())
                .unwrap_err()
                .to_string();
            assert!(err.contains("escapes the inbox"), "{rel}: {err}");
        }
        std::os::unix::fs::symlink(d.path(), cap.inbox.join("up")).unwrap();
        let err = cap
            .capture(&cat, Path::new("up/outside.mp4"), Timestamp::now())
            .unwrap_err()
            .to_string();
        assert!(err.contains("symlink"), "{err}");
        assert_eq!(cat.summary().unwrap().captured.files, 0);
    }

    #[test]
    fn directory_is_not_captured() {
        let (_d, cap, cat) = setup();
        std::fs::create_dir_all(cap.inbox.join("cam/clip.mp4")).unwrap();
        let err = cap
            .capture(&cat, Path::new("cam/clip.mp4"), Timestamp::now())
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a regular file") && err.contains("clip.mp4"), "{err}");
    }

    #[test]
    fn capture_is_idempotent_and_links() {
        let (_d, cap, cat) = setup();
        std::fs::create_dir_all(cap.inbox.join("cam")).unwrap();
        std::fs::write(cap.inbox.join("cam/a.bin"), b"abc").unwrap();
        let now = Timestamp::now();
        let Captured::New(key) = cap.capture(&cat, Path::new("cam/a.bin"), now).unwrap() else {
            panic!()
        };
        assert_eq!(
            cap.capture(&cat, Path::new("cam/a.bin"), now).unwrap(),
            Captured::Already
        );
        let (a, b) = (
            std::fs::metadata(cap.inbox.join("cam/a.bin")).unwrap(),
            std::fs::metadata(cap.vault.join(&key)).unwrap(),
        );
        assert_eq!(a.ino(), b.ino(), "hard link, not a copy");
    }
}
