//! The cache keeper: removes local copies of verified recordings past the cache limits.
//!
//! Invariant: nothing is removed locally before the store has verified it, and with
//! mirrors (issue 21) before `cache.require_copies` stores have. Candidates come only from
//! rows in state `verified` with enough verified mirror copies
//! ([`Catalog::purgeable_oldest_first`]), and [`Catalog::mark_purged_copied`] refuses any
//! other row. The inbox link is removed too (so the
//! share does not fill the disk), but only when it is still the same inode as the vault
//! copy: a new file the camera wrote under the same name is never touched.

use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use anyhow::Result;
use tracing::{info, warn};

use crate::beneath::{self, Removed};
use crate::catalog::{Catalog, FileRow};
use crate::config::{human_bytes, Config};

const DAY_MS: i64 = 86_400_000;

pub struct CacheKeeper {
    pub inbox: PathBuf,
    pub vault: PathBuf,
    pub max_bytes: u64,
    pub max_days: u64,
    pub min_free: u64,
    pub min_days: u64,
    /// Mirrors that must also hold a verified copy (`cache.require_copies`, issue 21).
    pub mirrors_needed: u32,
}

/// What one pass did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Pass {
    pub purged: u64,
    pub bytes: u64,
    pub low_disk: bool,
}

impl CacheKeeper {
    pub fn new(cfg: &Config) -> CacheKeeper {
        CacheKeeper {
            inbox: cfg.inbox(),
            vault: cfg.vault(),
            max_bytes: cfg.cache.max_bytes.0,
            max_days: cfg.cache.max_days,
            min_free: cfg.cache.min_free.0,
            min_days: cfg.cache.min_days,
            mirrors_needed: cfg.mirrors_required(),
        }
    }

    /// Purges what the limits and free space call for. `free` reports free bytes on the
    /// vault's disk (a parameter so that tests can simulate a full disk).
    pub fn pass(&self, catalog: &Catalog, now_ms: i64, free: &dyn Fn(&Path) -> Option<u64>) -> Result<Pass> {
        let mut out = Pass::default();
        let mut cached = catalog.cached_bytes()?;
        let mut low = free(&self.vault).is_some_and(|f| f < self.min_free);
        out.low_disk = low;
        loop {
            let batch = catalog.purgeable_oldest_first(self.mirrors_needed, 256)?;
            if batch.is_empty() {
                break;
            }
            let mut progressed = false;
            for row in batch {
                let age_ms = now_ms - row.start_ms;
                let too_many = cached > self.max_bytes;
                let too_old = age_ms > self.max_days as i64 * DAY_MS;
                let make_room = low && age_ms > self.min_days as i64 * DAY_MS;
                if !(too_many || too_old || make_room) {
                    // Rows are oldest first: nothing after this one qualifies either,
                    // except by size, which `too_many` already covers.
                    return self.finish(catalog, out, low, free);
                }
                self.purge(catalog, &row, now_ms)?;
                cached = cached.saturating_sub(row.size);
                out.purged += 1;
                out.bytes += row.size;
                progressed = true;
                if make_room && !too_many && !too_old {
                    low = free(&self.vault).is_some_and(|f| f < self.min_free);
                }
            }
            if !progressed {
                break;
            }
        }
        self.finish(catalog, out, low, free)
    }

    fn finish(&self, catalog: &Catalog, out: Pass, low: bool, free: &dyn Fn(&Path) -> Option<u64>) -> Result<Pass> {
        if out.purged > 0 {
            info!(files = out.purged, bytes = out.bytes, "purged verified local copies");
        }
        if low {
            let s = catalog.summary()?;
            let unverified = s.captured.bytes + s.uploaded.bytes + s.failed.bytes;
            warn!(
                "LOW DISK: {} free on the vault's disk ({}), below `cache.min_free` = {}. The vault holds {} of verified recordings kept for `cache.min_days` and {} not yet verified in the store (upload backlog{}). Free space on that disk, raise the upload bandwidth, or lower `cache.min_days`.",
                free(&self.vault).map(human_bytes).unwrap_or_else(|| "?".into()),
                self.vault.display(),
                human_bytes(self.min_free),
                human_bytes(s.cached.bytes),
                human_bytes(unverified),
                if s.failed.files > 0 { format!(", {} files failing: see `camvault status`", s.failed.files) } else { String::new() }
            );
        }
        Ok(out)
    }

    fn purge(&self, catalog: &Catalog, row: &FileRow, now_ms: i64) -> Result<()> {
        let vault_path = self.vault.join(&row.key);
        let rel = Path::new(std::ffi::OsStr::from_bytes(&row.inbox_path));
        let inbox_path = self.inbox.join(rel);
        // Through a handle of the inbox and of the file's folder, never by path: the
        // camera can swap any folder of its share for a symlink at any moment (see
        // `beneath`), and this runs as the service user.
        if let Ok(root) = beneath::open_root(&self.inbox) {
            match beneath::remove_if_same(&root, rel, row.dev, row.ino) {
                // The camera may be about to write into the folder of a recent clip.
                Ok(Removed::Yes) if now_ms - row.start_ms > 2 * 3_600_000 => beneath::remove_empty_dirs(&root, rel, 2),
                Ok(_) => {}
                Err(e) => {
                    warn!(path = %inbox_path.display(), "cannot remove the inbox copy of a purged recording: {e}")
                }
            }
        }
        match std::fs::remove_file(&vault_path) {
            Ok(()) => remove_empty_dirs(&self.vault, &vault_path, 0),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => anyhow::bail!("cannot remove {} from the vault: {e}", vault_path.display()),
        }
        catalog.mark_purged_copied(row.id, self.mirrors_needed, now_ms)
    }
}

/// Removes the now-empty folders above a purged file, so that years of hour folders do not
/// pile up (each costs an inotify watch). Stops at `root` and keeps the first `keep_depth`
/// levels under it (the camera's own folders). `remove_dir` only ever removes an empty
/// folder, so nothing else can be lost here.
fn remove_empty_dirs(root: &Path, file: &Path, keep_depth: usize) {
    let mut dir = file.parent();
    while let Some(d) = dir {
        let Ok(rel) = d.strip_prefix(root) else {
            return;
        };
        if rel.components().count() <= keep_depth || std::fs::remove_dir(d).is_err() {
            return;
        }
        dir = d.parent();
    }
}

/// Free bytes for unprivileged users on the filesystem holding `path`.
pub fn free_bytes(path: &Path) -> Option<u64> {
    let s = rustix::fs::statvfs(path).ok()?;
    Some(s.f_bavail.saturating_mul(s.f_frsize))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::{Captured, Capturer};

    /// Captures `n` files a day apart (oldest first), all verified, in a fresh data dir.
    fn setup(n: i64, verified: bool) -> (tempfile::TempDir, CacheKeeper, Catalog, Vec<String>, i64) {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = Config::parse("[capture]\ntimezone = \"UTC\"\n[cache]\nmax_days = 365\nmin_days = 2\n").unwrap();
        cfg.source = dir.path().join("camvault.toml");
        std::fs::create_dir_all(cfg.inbox().join("cam")).unwrap();
        let cat = Catalog::open(&cfg.catalog(), true).unwrap();
        let cap = Capturer::new(&cfg).unwrap();
        let now = jiff::Timestamp::now();
        let mut keys = Vec::new();
        for i in 0..n {
            let p = cfg.inbox().join(format!("cam/{i}.bin"));
            std::fs::write(&p, vec![0u8; 1000]).unwrap();
            let f = std::fs::File::options().write(true).open(&p).unwrap();
            f.set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(((n - i) * 86_400) as u64))
                .unwrap();
            let Captured::New(k) = cap.capture(&cat, Path::new(&format!("cam/{i}.bin")), now).unwrap() else {
                panic!()
            };
            keys.push(k);
        }
        if verified {
            for row in cat.due(i64::MAX, 100).unwrap() {
                cat.mark_uploaded(row.id, "0", "Standard", 0).unwrap();
                cat.mark_verified(row.id, 0).unwrap();
            }
        }
        (dir, CacheKeeper::new(&cfg), cat, keys, now.as_millisecond())
    }

    #[test]
    fn low_disk_purges_beyond_min_days_and_stops_when_enough() {
        let (_d, keeper, cat, keys, now) = setup(6, true);
        let purged = std::cell::Cell::new(0u64);
        // Free space grows by 1000 bytes per purge; 2 purges are enough.
        let free = |_: &Path| Some(keeper.min_free - 2000 + purged.get() * 1000);
        let cat_ref = &cat;
        let counting = |p: &Path| {
            purged.set(6 - cat_ref.summary().unwrap().cached.files);
            free(p)
        };
        let pass = keeper.pass(&cat, now, &counting).unwrap();
        assert!(pass.low_disk);
        assert_eq!(pass.purged, 2, "only as many as needed");
        assert!(!keeper.vault.join(&keys[0]).exists() && !keeper.vault.join(&keys[1]).exists());
        assert!(keeper.vault.join(&keys[2]).exists());
    }

    #[test]
    fn empty_folders_go_with_the_last_file_but_not_the_camera_folder() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let hour = root.join("xiaomi_camera_videos/ABC/2024010100");
        std::fs::create_dir_all(&hour).unwrap();
        for f in ["a.mp4", "b.mp4"] {
            std::fs::write(hour.join(f), b"x").unwrap();
        }
        std::fs::remove_file(hour.join("a.mp4")).unwrap();
        remove_empty_dirs(root, &hour.join("a.mp4"), 2);
        assert!(hour.exists(), "not empty yet");
        std::fs::remove_file(hour.join("b.mp4")).unwrap();
        remove_empty_dirs(root, &hour.join("b.mp4"), 2);
        assert!(!hour.exists());
        assert!(root.join("xiaomi_camera_videos/ABC").exists(), "camera folder kept");
    }

    #[test]
    fn low_disk_never_touches_min_days_or_unverified() {
        let (_d, keeper, cat, keys, now) = setup(4, true);
        let pass = keeper.pass(&cat, now, &|_| Some(0)).unwrap();
        // Files are 4, 3, 2 and 1 days old; min_days = 2 keeps the last two.
        assert_eq!(pass.purged, 2);
        assert!(keeper.vault.join(&keys[2]).exists() && keeper.vault.join(&keys[3]).exists());

        let (_d, keeper, cat, keys, now) = setup(3, false);
        let pass = keeper.pass(&cat, now, &|_| Some(0)).unwrap();
        assert_eq!(pass.purged, 0, "nothing unverified is purged, however full the disk");
        assert!(keys.iter().all(|k| keeper.vault.join(k).exists()));
    }
}
