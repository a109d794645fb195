//! Capture: makes a finished inbox file camvault's own.
//!
//! The file is hard-linked into `vault/<key>` (copied when the vault is on another
//! filesystem) and its catalog row inserted in the same step, so that from then on a
//! delete in the inbox, by the camera's retention job or anyone, cannot lose it. Symlinks
//! are never followed and nothing outside the inbox is ever touched.

use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{bail, Context, Result};
use jiff::Timestamp;
use tracing::{info, warn};

use rustix::fs::OFlags;

use crate::beneath::{self, Refusal};
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
    /// A recording camvault already has, renamed and/or grown: its row followed it (the
    /// key, when it changed, is this one). No new recording, no second upload.
    Followed(String),
    /// The same bytes as this recording, under another name: remembered, not stored again.
    Duplicate(String),
    /// An in-progress name the camera is still writing: captured once renamed, or once
    /// quiet for `capture.hold_secs`.
    Deferred,
}

/// The fixed parts capture needs, built once.
pub struct Capturer {
    pub config: Config,
    pub inbox: PathBuf,
    pub vault: PathBuf,
    pub(crate) template: Template,
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
        let template = config.store.key_template.clone();
        Ok(Capturer {
            config: config.clone(),
            inbox: config.inbox(),
            vault: config.vault(),
            template,
            warned_copy: AtomicBool::new(false),
        })
    }

    /// Captures `rel` (a path relative to the inbox) if it is a regular file not yet captured.
    ///
    /// The file is opened once, beneath the inbox and through no symlink ([`beneath`]);
    /// everything after that (its facts, the MP4 probe, the vault link or copy) uses that
    /// handle, so a folder the camera swaps for a symlink meanwhile changes nothing.
    pub fn capture(&self, catalog: &Catalog, rel: &Path, now: Timestamp) -> Result<Captured> {
        let full = self.inbox.join(rel);
        let Some(file) = self.open_in_inbox(rel)? else {
            return Ok(Captured::Vanished);
        };
        let meta = file
            .metadata()
            .with_context(|| format!("cannot read {}", full.display()))?;
        if !meta.is_file() {
            bail!("{} is not a regular file; left alone", full.display());
        }
        let stat = Stat::of(&meta);
        let rel_bytes = rel.as_os_str().as_bytes();
        if catalog.already_captured(stat.dev, stat.ino, rel_bytes, stat.size, stat.mtime_ns)? {
            return Ok(Captured::Already);
        }

        let parsed = layout::parse_path(rel);
        let hold = std::time::Duration::from_secs(self.config.capture.hold_secs);
        if parsed.in_progress && !crate::inbox::old_enough(&stat, now, hold) {
            return Ok(Captured::Deferred);
        }
        let cam = self.config.camera(parsed.mac.as_deref(), parsed.folder.as_deref());
        let mtime = Timestamp::from_nanosecond(stat.mtime_ns as i128).unwrap_or(now);
        let span = layout::resolve(&parsed, &cam.tz, mtime, now);
        let mp4 = probe_mp4(&file, stat.size);
        let end = span.end.or_else(|| {
            let d = mp4.as_ref()?.duration_ms?;
            Timestamp::from_millisecond(span.start.as_millisecond().checked_add(d)?).ok()
        });
        let mut warnings: Vec<String> = span.warning.into_iter().collect();
        if stat.size == 0 {
            warnings.push("empty file (0 bytes)".into());
        } else if mp4.is_none() && parsed.kind == layout::Kind::Video {
            warnings.push("no readable MP4 header (truncated or not a video)".into());
        }
        if parsed.in_progress {
            warnings.push(format!(
                "in-progress name never renamed; captured after {} s without a write",
                hold.as_secs()
            ));
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
        // A fragmented MP4 can be appended to: the camera syncs in bursts (docs/cameras.md),
        // so its upload waits until it has been quiet for `hold`.
        let hold_until_ms = if parsed.kind == layout::Kind::Video && (info.fragmented || parsed.in_progress) {
            let until = mtime.as_millisecond().saturating_add(hold.as_millis() as i64);
            if until > now.as_millisecond() {
                until
            } else {
                0
            }
        } else {
            0
        };
        let mut row = NewFile {
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
            kind: parsed.kind.as_str(),
            hold_until_ms,
            supersedes: None,
        };
        if let Some(prev) = self.known_inode(catalog, rel_bytes, stat, now)? {
            if prev.movable {
                let key = catalog.follow_in_place(prev.id, &row, |old, new| self.move_vault_link(old, new, stat))?;
                catalog.attach_sidecars(prev.id)?;
                info!(%key, size = stat.size, "followed a rename or growth of a recording not yet uploaded");
                return Ok(Captured::Followed(key));
            }
            if prev.size == stat.size && prev.mtime_ns == stat.mtime_ns {
                catalog.follow_rename(prev.id, rel_bytes)?;
                info!(key = %prev.key, "followed a rename of a recording already in the store");
                return Ok(Captured::Followed(prev.key));
            }
            // Grew (or changed) after its upload began: a new revision replaces the copy.
            row.supersedes = Some(prev.id);
        } else if parsed.kind == layout::Kind::Video {
            // Only clips: snapshots and other small files can be byte-identical for
            // different clips (two black night frames), so each keeps its own name.
            if let Some(key) = self.duplicate_of(catalog, &cam.id, row.start_ms, &file, stat, rel_bytes, now)? {
                info!(path = %full.display(), %key, "same bytes as a recording camvault has: not stored again");
                return Ok(Captured::Duplicate(key));
            }
        }
        let (id, key) = catalog.insert_captured(&row, |key| self.link_into_vault(&file, &full, stat, key))?;
        catalog.attach_sidecars(id)?;
        if let Some(old) = row.supersedes {
            info!(%key, superseded = old, "the file grew after its upload: stored as a new revision");
        }
        match &warning {
            Some(w) => warn!(path = %full.display(), %key, "captured with a warning: {w}"),
            None => info!(%key, size = stat.size, "captured"),
        }
        Ok(Captured::New(key))
    }

    /// The catalog's row for this very file (same device and inode): a rename or growth,
    /// not a new recording. The proof that the inode was not reused for another file is
    /// the vault link still holding it, or, once the local copy was purged, the same inbox
    /// path (the file grew after it was verified). A copied vault on another filesystem
    /// proves nothing, so there a new name is a new recording.
    fn known_inode(
        &self,
        catalog: &Catalog,
        rel: &[u8],
        stat: Stat,
        now: Timestamp,
    ) -> Result<Option<crate::catalog::recordings::SameInode>> {
        let Some(mut prev) = catalog.same_inode(stat.dev, stat.ino, now.as_millisecond())? else {
            return Ok(None);
        };
        let linked = !prev.purged
            && std::fs::symlink_metadata(self.vault.join(&prev.key))
                .is_ok_and(|m| m.ino() == stat.ino && m.dev() == stat.dev);
        if !linked {
            // Purged: only ever a new revision of it, never an in-place change.
            prev.movable = false;
        }
        Ok((linked || (prev.purged && prev.inbox_path == rel)).then_some(prev))
    }

    /// A recording of the same camera, start time and bytes, still in the vault: the camera
    /// wrote the clip twice (e.g. again into a new `XiaomiCamera_<NN>_` folder after a
    /// reboot). Identical bytes at another time are another recording.
    #[allow(clippy::too_many_arguments)]
    fn duplicate_of(
        &self,
        catalog: &Catalog,
        camera: &str,
        start_ms: i64,
        file: &std::fs::File,
        stat: Stat,
        rel: &[u8],
        now: Timestamp,
    ) -> Result<Option<String>> {
        if stat.size == 0 {
            return Ok(None);
        }
        for (id, key) in catalog.same_size_local(camera, start_ms, stat.size)? {
            let vaulted = self.vault.join(&key);
            if same_bytes(file, &vaulted).unwrap_or(false) {
                catalog.add_alias(rel, stat, id, now.as_millisecond())?;
                return Ok(Some(key));
            }
        }
        Ok(None)
    }

    /// Moves a vault link to a recording's new key (its name changed before upload); never
    /// replaces another file.
    fn move_vault_link(&self, old: &str, new: &str, stat: Stat) -> Result<()> {
        let (from, to) = (self.vault.join(old), self.vault.join(new));
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create vault directory {}", parent.display()))?;
        }
        match std::fs::hard_link(&from, &to) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                let m = std::fs::symlink_metadata(&to)?;
                if m.ino() != stat.ino || m.dev() != stat.dev {
                    bail!(
                        "vault already has a different file at {} that the catalog does not know; move it aside and capture again",
                        to.display()
                    );
                }
            }
            Err(e) => return Err(e).with_context(|| format!("cannot link {} to {}", from.display(), to.display())),
        }
        std::fs::remove_file(&from).with_context(|| format!("cannot remove the old vault link {}", from.display()))
    }

    /// Opens `rel` beneath the inbox for reading, refusing `..`, absolute paths and
    /// symlinks anywhere on the way; `None` when it or a folder on the way is gone.
    fn open_in_inbox(&self, rel: &Path) -> Result<Option<std::fs::File>> {
        let shown = self.inbox.join(rel);
        let root = beneath::open_root(&self.inbox)
            .with_context(|| format!("cannot open the inbox {}", self.inbox.display()))?;
        // O_NONBLOCK: a FIFO the camera left must not block capture forever.
        match beneath::open_beneath(&root, rel, OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOCTTY) {
            Ok(fd) => Ok(Some(std::fs::File::from(fd))),
            Err(Refusal::Gone) => Ok(None),
            Err(Refusal::Escapes) => bail!("{} escapes the inbox; ignored", rel.display()),
            Err(Refusal::Link) => bail!(
                "{} is a symlink, or a folder on its way is a symlink or not a directory; camvault never follows links out of the inbox, so it is left alone",
                shown.display()
            ),
            Err(Refusal::Io(e)) => Err(e).with_context(|| format!("cannot read {}", shown.display())),
        }
    }

    /// Creates `vault/<key>` as a hard link to the opened inbox file (or a copy across
    /// filesystems); `src` only names it in messages.
    fn link_into_vault(&self, file: &std::fs::File, src: &Path, stat: Stat, key: &str) -> Result<()> {
        let dest = self.vault.join(key);
        let (Some(parent), Some(name)) = (dest.parent(), dest.file_name()) else {
            bail!("vault path {} has no file name", dest.display());
        };
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create vault directory {}", parent.display()))?;
        let dir = beneath::open_root(parent).with_context(|| format!("cannot open {}", parent.display()))?;
        match beneath::link_fd(file, &dir, name) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                // Left by a capture that crashed before its commit: fine if it is this file.
                let m = std::fs::symlink_metadata(&dest)?;
                if m.ino() == stat.ino && m.dev() == stat.dev || (m.len() == stat.size && same_bytes(file, &dest)?) {
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
                copy_no_overwrite(file, src, &dest, stat.size)
            }
            Err(e) => {
                Err(e).with_context(|| format!("cannot link {} into the vault at {}", src.display(), dest.display()))
            }
        }
    }
}

pub(crate) fn probe_mp4(mut f: &std::fs::File, size: u64) -> Option<mp4meta::Mp4Info> {
    mp4meta::probe(&mut f, size)
}

/// Whether the opened file `a` (read from its start) holds the same bytes as the file at `b`.
pub(crate) fn same_bytes(mut fa: &std::fs::File, b: &Path) -> io::Result<bool> {
    use std::io::{Read, Seek};
    fa.seek(io::SeekFrom::Start(0))?;
    let mut fb = std::fs::File::open(b)?;
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

/// Copies the first `len` bytes of the opened file to `dest` through a temporary file,
/// fsynced, and never replaces an existing `dest`; `src` only names it in messages.
pub(crate) fn copy_no_overwrite(file: &std::fs::File, src: &Path, dest: &Path, len: u64) -> Result<()> {
    use std::io::{Read, Seek, Write};
    if let Ok(m) = std::fs::symlink_metadata(dest) {
        if m.len() == len && same_bytes(file, dest)? {
            return Ok(()); // left by a copy that crashed before its catalog commit
        }
    }
    let tmp = dest.with_file_name(format!(".camvault-tmp.{}", fastrand::u64(..)));
    let result = (|| -> Result<()> {
        let mut input = file;
        input
            .seek(io::SeekFrom::Start(0))
            .with_context(|| format!("cannot read {}", src.display()))?;
        let mut input = input.take(len);
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

    /// A camera-like fragmented clip (ffmpeg, HEVC + A-law), made once per test run.
    fn fmp4() -> &'static [u8] {
        static F: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
        F.get_or_init(|| crate::inbox::mp4meta::ffmpeg_fragmented(3, ""))
    }

    const CAM: &str = "XiaomiCamera_00_78DF72A1B2C3";

    fn put(cap: &Capturer, rel: &str, bytes: &[u8]) -> PathBuf {
        let p = cap.inbox.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, bytes).unwrap();
        p
    }

    fn new_key(c: Result<Captured>) -> String {
        match c.unwrap() {
            Captured::New(k) => k,
            other => panic!("expected a new recording, got {other:?}"),
        }
    }

    fn rows(cat: &Catalog) -> (u64, u64, u64, u64) {
        cat.file_kinds().unwrap()
    }

    fn listed(cat: &Catalog) -> Vec<String> {
        cat.list(None, 0, i64::MAX, 100)
            .unwrap()
            .into_iter()
            .map(|l| l.key)
            .collect()
    }

    #[test]
    fn a_rename_before_upload_is_the_same_recording_under_the_final_name() {
        let (_d, cap, cat) = setup();
        let a = format!("{CAM}/00_20240521130000_20240521130100.mp4");
        let b = format!("{CAM}/00_20240521130000_20240521130500.mp4");
        put(&cap, &a, fmp4());
        let now = Timestamp::now();
        let k1 = new_key(cap.capture(&cat, Path::new(&a), now));
        std::fs::rename(cap.inbox.join(&a), cap.inbox.join(&b)).unwrap();
        let Captured::Followed(k2) = cap.capture(&cat, Path::new(&b), now).unwrap() else {
            panic!("a rename must not be a new recording")
        };
        assert!(
            k2.ends_with("00_20240521130000_20240521130500.mp4"),
            "key from the final name: {k2}"
        );
        assert!(!cap.vault.join(&k1).exists(), "the old key's link moved");
        assert_eq!(std::fs::read(cap.vault.join(&k2)).unwrap(), fmp4());
        assert_eq!(listed(&cat), vec![k2.clone()]);
        let l = &cat.list(None, 0, i64::MAX, 10).unwrap()[0];
        assert_eq!(l.end_ms.unwrap() - l.start_ms, 300_000, "times from the final name");
        assert_eq!(l.duration_ms, Some(3000), "and the clip's own duration");
        assert_eq!(cap.capture(&cat, Path::new(&a), now).unwrap(), Captured::Vanished);
        assert_eq!(cap.capture(&cat, Path::new(&b), now).unwrap(), Captured::Already);
        assert_eq!(rows(&cat), (1, 0, 0, 0));
        assert_eq!(cat.due(i64::MAX, 10).unwrap().len(), 1, "one upload, not two");
        assert!(
            cat.due(now.as_millisecond(), 10).unwrap().is_empty(),
            "held while the camera may append"
        );
    }

    #[test]
    fn a_rename_after_the_upload_keeps_the_key_and_a_later_growth_supersedes() {
        let (_d, cap, cat) = setup();
        let a = format!("{CAM}/00_20240521130000_20240521130100.mp4");
        let b = format!("{CAM}/00_20240521130000_20240521130200.mp4");
        put(&cap, &a, fmp4());
        let now = Timestamp::now();
        let k1 = new_key(cap.capture(&cat, Path::new(&a), now));
        let row = cat.due(i64::MAX, 10).unwrap().remove(0);
        cat.mark_uploaded(row.id, "00", "Standard", now.as_millisecond())
            .unwrap();
        cat.mark_verified(row.id, now.as_millisecond()).unwrap();
        std::fs::rename(cap.inbox.join(&a), cap.inbox.join(&b)).unwrap();
        assert_eq!(
            cap.capture(&cat, Path::new(&b), now).unwrap(),
            Captured::Followed(k1.clone()),
            "already in the store: the key stays, nothing is uploaded again"
        );
        assert!(cat.due(i64::MAX, 10).unwrap().is_empty());
        assert_eq!(cap.capture(&cat, Path::new(&b), now).unwrap(), Captured::Already);
        // The camera appends after the upload: a new revision, the partial copy superseded.
        use std::io::Write;
        std::fs::OpenOptions::new()
            .append(true)
            .open(cap.inbox.join(&b))
            .unwrap()
            .write_all(&[0u8; 1000])
            .unwrap();
        let k3 = new_key(cap.capture(&cat, Path::new(&b), now));
        assert_ne!(k3, k1);
        assert_eq!(listed(&cat), vec![k3], "only the finished file is a recording");
        assert_eq!(rows(&cat), (1, 0, 1, 0));
        assert!(cap.vault.join(&k1).exists(), "the superseded copy is never deleted");
    }

    #[test]
    fn a_rename_onto_an_existing_recordings_name_keeps_both() {
        let (_d, cap, cat) = setup();
        let a = format!("{CAM}/00_20240521130000_20240521130100.mp4");
        let b = format!("{CAM}/00_20240521130200_20240521130300.mp4");
        put(&cap, &a, b"first recording");
        let mut other = fmp4().to_vec();
        other.extend_from_slice(b"second");
        put(&cap, &b, &other);
        let now = Timestamp::now();
        let ka = new_key(cap.capture(&cat, Path::new(&a), now));
        new_key(cap.capture(&cat, Path::new(&b), now));
        // b is renamed over a's name (a's inbox entry is replaced).
        std::fs::rename(cap.inbox.join(&b), cap.inbox.join(&a)).unwrap();
        let Captured::Followed(kb) = cap.capture(&cat, Path::new(&a), now).unwrap() else {
            panic!("a rename, even onto a taken name, is not a new recording")
        };
        assert_ne!(kb, ka, "never the key of another recording");
        assert!(kb.contains(".r2."), "{kb}");
        assert_eq!(std::fs::read(cap.vault.join(&ka)).unwrap(), b"first recording");
        assert_eq!(std::fs::read(cap.vault.join(&kb)).unwrap(), other);
        assert_eq!(rows(&cat).0, 2);
    }

    #[test]
    fn a_file_renamed_then_grown_is_one_recording_with_the_final_size() {
        let (_d, cap, cat) = setup();
        let a = format!("{CAM}/00_20240521130000_20240521130100.mp4");
        let b = format!("{CAM}/00_20240521130000_20240521130400.mp4");
        let f = fmp4();
        put(&cap, &a, &f[..f.len() / 2]);
        let now = Timestamp::now();
        new_key(cap.capture(&cat, Path::new(&a), now));
        std::fs::rename(cap.inbox.join(&a), cap.inbox.join(&b)).unwrap();
        use std::io::Write;
        std::fs::OpenOptions::new()
            .append(true)
            .open(cap.inbox.join(&b))
            .unwrap()
            .write_all(&f[f.len() / 2..])
            .unwrap();
        let Captured::Followed(k) = cap.capture(&cat, Path::new(&b), now).unwrap() else {
            panic!()
        };
        let l = cat.list(None, 0, i64::MAX, 10).unwrap();
        assert_eq!(l.len(), 1);
        assert_eq!((l[0].key.as_str(), l[0].size), (k.as_str(), f.len() as u64));
        assert_eq!(l[0].duration_ms, Some(3000), "duration re-read from the grown file");
        let due = cat.due(i64::MAX, 10).unwrap();
        assert_eq!((due.len(), due[0].size), (1, f.len() as u64));
    }

    /// A mirror's pending copy follows the file's rename and growth: its key and its hold
    /// are the file's, so the mirror never uploads a clip before it is finished, nor under
    /// the name it had while the camera was writing it. Once a mirror began its copy, a
    /// growth is a new revision, as after the main store's upload.
    #[test]
    fn a_mirror_s_pending_copy_follows_a_rename_and_a_begun_copy_stops_following() {
        let (_d, cap, cat) = setup();
        let now = Timestamp::now();
        cat.sync_mirrors(&["usb"], now.as_millisecond()).unwrap();
        let a = format!("{CAM}/00_20240521130000_20240521130100.mp4");
        let b = format!("{CAM}/00_20240521130000_20240521130400.mp4");
        let f = fmp4();
        // Last written half an hour ago: held until 30 min before the end of `hold_secs`.
        let half_hour = std::time::Duration::from_secs(1800);
        let set_mtime = |rel: &str, t: std::time::SystemTime| {
            std::fs::File::options()
                .append(true)
                .open(cap.inbox.join(rel))
                .unwrap()
                .set_modified(t)
                .unwrap()
        };
        put(&cap, &a, &f[..f.len() / 2]);
        set_mtime(&a, std::time::SystemTime::now() - half_hour);
        new_key(cap.capture(&cat, Path::new(&a), now));
        let first_hold = cat.next_copy_due_ms("usb").unwrap().unwrap();
        // Now the camera renames it and appends: the hold starts again from now.
        std::fs::rename(cap.inbox.join(&a), cap.inbox.join(&b)).unwrap();
        use std::io::Write;
        let append = |bytes: &[u8]| {
            std::fs::OpenOptions::new()
                .append(true)
                .open(cap.inbox.join(&b))
                .unwrap()
                .write_all(bytes)
                .unwrap()
        };
        append(&f[f.len() / 2..]);
        let Captured::Followed(k) = cap.capture(&cat, Path::new(&b), now).unwrap() else {
            panic!("a rename before any upload is followed")
        };
        let file_due = cat.next_due_ms().unwrap().unwrap();
        assert!(file_due >= first_hold + 1_700_000, "{file_due} {first_hold}");
        let copies = cat.copies_due("usb", i64::MAX, 10).unwrap();
        assert_eq!(copies.len(), 1);
        assert_eq!(
            (copies[0].key.as_str(), copies[0].vault_key.as_str()),
            (k.as_str(), k.as_str())
        );
        assert_eq!(copies[0].size, f.len() as u64);
        assert!(
            cat.copies_due("usb", file_due - 1, 10).unwrap().is_empty(),
            "the mirror's copy is held as long as the file"
        );
        assert_eq!(cat.next_copy_due_ms("usb").unwrap(), Some(file_due));

        // The mirror's worker begins its copy: a growth now is a new revision.
        cat.copy_uploading(copies[0].file_id, "usb", None, "Standard", now.as_millisecond())
            .unwrap();
        append(b"more");
        let k2 = new_key(cap.capture(&cat, Path::new(&b), now));
        assert_ne!(k2, k);
        assert!(cap.vault.join(&k).exists(), "the copy being sent is left as it is");
    }

    #[test]
    fn identical_bytes_under_two_names_are_stored_once() {
        let (_d, cap, cat) = setup();
        let a = format!("{CAM}/00_20240521130000_20240521130100.mp4");
        // The camera synced the clip again into a new folder number after a reboot.
        let b = "XiaomiCamera_01_78DF72A1B2C3/00_20240521130000_20240521130100.mp4".to_string();
        put(&cap, &a, fmp4());
        put(&cap, &b, fmp4());
        let now = Timestamp::now();
        let k = new_key(cap.capture(&cat, Path::new(&a), now));
        assert_eq!(cap.capture(&cat, Path::new(&b), now).unwrap(), Captured::Duplicate(k));
        assert_eq!(cap.capture(&cat, Path::new(&b), now).unwrap(), Captured::Already);
        assert_eq!(rows(&cat), (1, 0, 0, 1));
        // Another camera's identical bytes are that camera's recording.
        let c = "XiaomiCamera_00_78DF72A1B2C4/00_20240521130000_20240521130100.mp4";
        put(&cap, c, fmp4());
        new_key(cap.capture(&cat, Path::new(c), now));
    }

    #[test]
    fn an_in_progress_name_waits_for_its_rename_or_the_hold() {
        let (_d, cap, cat) = setup();
        let a = format!("{CAM}/00_20240521130000_20240521130000.mp4");
        let p = put(&cap, &a, fmp4());
        let now = Timestamp::now();
        assert_eq!(cap.capture(&cat, Path::new(&a), now).unwrap(), Captured::Deferred);
        assert_eq!(rows(&cat).0, 0);
        // The camera never renamed it: once quiet for the hold it is captured anyway.
        let old = std::time::SystemTime::now() - std::time::Duration::from_secs(cap.config.capture.hold_secs + 5);
        std::fs::File::options()
            .write(true)
            .open(&p)
            .unwrap()
            .set_modified(old)
            .unwrap();
        let k = new_key(cap.capture(&cat, Path::new(&a), now));
        let l = &cat.list(None, 0, i64::MAX, 10).unwrap()[0];
        assert_eq!(l.key, k);
        assert!(
            l.warning.as_deref().unwrap_or("").contains("in-progress name"),
            "{:?}",
            l.warning
        );
        assert_eq!(l.end_ms.unwrap() - l.start_ms, 3000, "end from the clip's duration");
    }

    #[test]
    fn a_snapshot_is_archived_and_attached_not_a_recording() {
        let (_d, cap, cat) = setup();
        let hour = "xiaomi_camera_videos/78DF72A1B2C3/2024052113";
        // A .jpeg without its clip (yet): archived, no coverage, not a recording.
        let jpeg = format!("{hour}/05M30S_1716267930.jpeg");
        put(&cap, &jpeg, b"\xFF\xD8 snapshot");
        let now = Timestamp::now();
        let kj = new_key(cap.capture(&cat, Path::new(&jpeg), now));
        assert!(listed(&cat).is_empty(), "a snapshot covers no time");
        assert_eq!(rows(&cat), (0, 1, 0, 0));
        assert_eq!(
            cat.due(i64::MAX, 10).unwrap().len(),
            1,
            "but it is uploaded like everything else"
        );
        // Its clip arrives: the snapshot becomes the clip's thumbnail.
        let clip = format!("{hour}/05M30S_1716267930.mp4");
        put(&cap, &clip, b"clip bytes");
        new_key(cap.capture(&cat, Path::new(&clip), now));
        let clip_id = cat.list(None, 0, i64::MAX, 10).unwrap().len();
        assert_eq!(clip_id, 1);
        let id = cat
            .due(i64::MAX, 10)
            .unwrap()
            .into_iter()
            .find(|r| !r.key.ends_with(".jpeg"))
            .unwrap()
            .id;
        assert_eq!(cat.snapshot_of(id).unwrap(), Some((kj, true)));
        // Other files beside clips: kept, not recordings.
        put(&cap, &format!("{hour}/.record_msg"), b"state");
        new_key(cap.capture(&cat, Path::new(&format!("{hour}/.record_msg")), now));
        assert_eq!(rows(&cat), (1, 2, 0, 0));
        assert_eq!(listed(&cat).len(), 1);
    }
}
