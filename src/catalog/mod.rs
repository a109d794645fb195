//! The catalog: SQLite (WAL), the single source of truth for every stage.
//!
//! A file's life: `captured → uploaded → verified`, with `failed` (plus the reason, the
//! retry count and the next attempt) when a stage fails; the local copy is `purged` only
//! after `verified`. Every stage reads its work from here, so a crash at any point resumes
//! from the catalog alone. Counters per camera and state are kept by triggers (see
//! `schema.sql`) so that `status` stays instant with millions of rows.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use anyhow::{anyhow, bail, Context, Result};
use rusqlite::{Connection, OpenFlags};

pub mod audit;
pub mod best_copy;
pub mod copies;
pub mod files;
pub mod index;
pub mod index_days;
pub mod kv;
pub mod manifests;
pub mod multipart;
pub mod notify;
pub mod prefixes;
pub mod recordings;
pub mod restores;
pub mod summary;
pub mod users;
pub mod web;

pub use audit::{Burst, DeletionAttempt, DeletionSummary};
pub use files::{FileRow, Listing, NewFile, State, StoredFile};
pub use manifests::ManifestEntry;
pub use summary::{learn_active_hours, CameraSummary, Counts, StatsRow, Summary};

/// Versioned migrations, applied in order; `PRAGMA user_version` records how many ran.
/// Hand-rolled rather than a migration crate: it is this loop and nothing more.
const MIGRATIONS: &[&str] = &[
    include_str!("schema.sql"),
    include_str!("migration2.sql"),
    include_str!("migration3.sql"),
    include_str!("migration4.sql"),
    include_str!("migration5.sql"),
    // issue 15 (the video index).
    include_str!("migration6.sql"),
    // issue 17 (web accounts).
    include_str!("migration7.sql"),
    // The catalog's own speed-ups (issue 18).
    include_str!("migration8.sql"),
    // issue 21 (mirror stores).
    include_str!("migration9.sql"),
    // issue 15: the index objects in the store, search's hour summary.
    include_str!("migration10.sql"),
    // Each web user's language (issue 17).
    include_str!("migration11.sql"),
    // issue 15: the detector's boxes and confidences per segment.
    include_str!("migration12.sql"),
    // issue 15: notifications on activity.
    include_str!("migration13.sql"),
    // issue 21: restores from a mirror's copy, backfill restores (mirror21c).
    include_str!("migration16.sql"),
    // issue 21: multipart uploads to mirrors resume.
    include_str!("migration17.sql"),
    // One multipart journal for the main store and the mirrors (mpunify).
    include_str!("migration18.sql"),
];

/// Runs the migrations after the catalog's version up to schema version `to` (all of them
/// but in tests, which build a catalog as an older camvault left it).
fn migrate(c: &mut Connection, to: usize) -> Result<()> {
    let version: usize = c.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0))? as usize;
    if version > MIGRATIONS.len() {
        bail!(
            "catalog schema version {version} is newer than this camvault knows ({}); upgrade camvault",
            MIGRATIONS.len()
        );
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().take(to).skip(version) {
        let tx = c.transaction()?;
        tx.execute_batch(sql).with_context(|| format!("migration {}", i + 1))?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        tx.commit()?;
    }
    Ok(())
}

pub struct Catalog {
    conn: Mutex<Connection>,
    path: PathBuf,
}

impl Catalog {
    /// Opens the catalog, creating it when `create` is set, and runs pending migrations.
    pub fn open(path: &Path, create: bool) -> Result<Catalog> {
        if !create && !path.exists() {
            bail!(
                "no catalog at {}; run `camvault init` (or `camvault serve`, which creates it) first, or fix `paths.catalog`",
                path.display()
            );
        }
        let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        if create {
            flags |= OpenFlags::SQLITE_OPEN_CREATE;
        }
        let conn = Connection::open_with_flags(path, flags)
            .with_context(|| format!("cannot open catalog {}", path.display()))?;
        let cat = Catalog {
            conn: Mutex::new(conn),
            path: path.to_path_buf(),
        };
        cat.setup().map_err(|e| cat.explain(e))?;
        Ok(cat)
    }

    /// Turns SQLite's terse errors into what the user should do.
    fn explain(&self, e: anyhow::Error) -> anyhow::Error {
        let p = self.path.display();
        let text = format!("{e:#}");
        if text.contains("not a database") || text.contains("malformed") || text.contains("corrupt") {
            anyhow!(
                "catalog {p} is damaged ({text}). Nothing in the vault or the store is lost: move the file aside and restore a backup of it; the vault and store still hold every recording"
            )
        } else if text.contains("locked") || text.contains("busy") {
            anyhow!("catalog {p} is locked by another process ({text}); is another camvault running? Stop it, or wait and retry")
        } else if text.contains("readonly") || text.contains("read-only") {
            anyhow!("catalog {p} is read-only ({text}); give the camvault user write access to it and its directory")
        } else {
            e.context(format!("catalog {p}"))
        }
    }

    fn setup(&self) -> Result<()> {
        let mut c = self.lock();
        c.busy_timeout(std::time::Duration::from_secs(10))?;
        c.pragma_update(None, "journal_mode", "WAL")?;
        c.pragma_update(None, "synchronous", "NORMAL")?;
        c.pragma_update(None, "foreign_keys", "ON")?;
        migrate(&mut c, MIGRATIONS.len())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite half-written (transactions
        // roll back on drop), so a poisoned lock is still safe to use.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs SQLite's own consistency check; for `doctor`.
    pub fn quick_check(&self) -> Result<String> {
        let c = self.lock();
        Ok(c.query_row("PRAGMA quick_check", [], |r| r.get::<_, String>(0))?)
    }

    /// Takes the single-writer lock for this catalog: one `serve` or `ingest` at a time,
    /// or two would capture and upload the same files. Held until the file is dropped.
    pub fn lock_exclusive(&self) -> Result<std::fs::File> {
        let lock_path = self.path.with_extension("lock");
        let f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .with_context(|| format!("cannot create lock file {}", lock_path.display()))?;
        rustix::fs::flock(&f, rustix::fs::FlockOperation::NonBlockingLockExclusive).map_err(|_| {
            anyhow!(
                "another camvault (serve or ingest) is already running on catalog {}; stop it first, or wait for it",
                self.path.display()
            )
        })?;
        Ok(f)
    }

    /// A consistent copy of the whole catalog at `dest` (which must not exist).
    pub fn snapshot(&self, dest: &Path) -> Result<()> {
        let c = self.lock();
        let d = dest
            .to_str()
            .ok_or_else(|| anyhow!("snapshot path {} is not UTF-8", dest.display()))?;
        c.execute("VACUUM INTO ?1", [d])?;
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn new_file<'a>(path: &'a [u8], key: &'a str, ino: u64) -> NewFile<'a> {
        NewFile {
            camera: "door",
            mac: Some("78df72a1b2c3"),
            tz: "UTC",
            inbox_path: path,
            base_key: key,
            layout: "generic",
            channel: None,
            start_ms: 1_700_000_000_000,
            end_ms: None,
            size: 10,
            mtime_ns: 5,
            dev: 1,
            ino,
            duration_ms: None,
            codec: None,
            width: None,
            height: None,
            warning: None,
            now_ms: 1,
            kind: "video",
            hold_until_ms: 0,
            supersedes: None,
        }
    }

    #[test]
    fn lifecycle_and_counters() {
        let dir = tempfile::tempdir().unwrap();
        let cat = Catalog::open(&dir.path().join("c.sqlite"), true).unwrap();
        let (id, key) = cat
            .insert_captured(&new_file(b"a.mp4", "v/a.mp4", 7), |_| Ok(()))
            .unwrap();
        assert_eq!(key, "v/a.mp4");
        let (_, key2) = cat
            .insert_captured(&new_file(b"a.mp4", "v/a.mp4", 8), |_| Ok(()))
            .unwrap();
        assert_eq!(key2, "v/a.r2.mp4", "a second revision never reuses the key");
        assert!(cat.already_captured(1, 7, b"a.mp4", 10, 5).unwrap());
        assert!(!cat.already_captured(1, 7, b"a.mp4", 11, 5).unwrap());
        assert!(
            cat.mark_purged(id, 2).is_err(),
            "an unverified file can never be purged"
        );
        cat.mark_uploaded(id, "00", "Standard", 2).unwrap();
        cat.mark_verified(id, 3).unwrap();
        cat.mark_purged(id, 4).unwrap();
        let s = cat.summary().unwrap();
        assert_eq!((s.verified.files, s.captured.files, s.cached.files), (1, 1, 0));
        assert_eq!(s.cameras[0].files, 2);
        assert_eq!(cat.due(i64::MAX, 10).unwrap().len(), 1);
    }

    #[test]
    fn failed_link_leaves_no_row() {
        let dir = tempfile::tempdir().unwrap();
        let cat = Catalog::open(&dir.path().join("c.sqlite"), true).unwrap();
        assert!(cat
            .insert_captured(&new_file(b"a.mp4", "v/a.mp4", 7), |_| bail!("disk full"))
            .is_err());
        assert_eq!(cat.summary().unwrap().captured.files, 0);
    }

    #[test]
    fn corrupt_catalog_is_explained() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.sqlite");
        std::fs::write(&p, vec![0x42u8; 8192]).unwrap();
        let err = format!("{:#}", Catalog::open(&p, false).err().unwrap());
        assert!(err.contains("damaged") && err.contains("c.sqlite"), "{err}");
    }
}
