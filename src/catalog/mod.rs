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
use rusqlite::{params, Connection, OpenFlags};
use serde::Serialize;

pub mod index;
pub mod prefixes;
pub mod recordings;
pub mod restores;
pub mod web;

/// Versioned migrations, applied in order; `PRAGMA user_version` records how many ran.
/// Hand-rolled rather than a migration crate: it is this loop and nothing more.
const MIGRATIONS: &[&str] = &[
    include_str!("schema.sql"),
    include_str!("migration2.sql"),
    include_str!("migration3.sql"),
    include_str!("migration4.sql"),
    include_str!("migration5.sql"),
    include_str!("migration6.sql"),
];

pub struct Catalog {
    conn: Mutex<Connection>,
    path: PathBuf,
}

/// A state in a file's life (purging is a separate flag: it only follows `verified`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Captured,
    Uploaded,
    Verified,
    Failed,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Captured => "captured",
            State::Uploaded => "uploaded",
            State::Verified => "verified",
            State::Failed => "failed",
        }
    }
    fn parse(s: &str) -> State {
        match s {
            "uploaded" => State::Uploaded,
            "verified" => State::Verified,
            "failed" => State::Failed,
            _ => State::Captured,
        }
    }
}

/// A new row, written in the same step as the vault link.
pub struct NewFile<'a> {
    pub camera: &'a str,
    pub mac: Option<&'a str>,
    pub tz: &'a str,
    pub inbox_path: &'a [u8],
    pub base_key: &'a str,
    pub layout: &'a str,
    pub channel: Option<&'a str>,
    pub start_ms: i64,
    pub end_ms: Option<i64>,
    pub size: u64,
    pub mtime_ns: i64,
    pub dev: u64,
    pub ino: u64,
    pub duration_ms: Option<i64>,
    pub codec: Option<&'a str>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub warning: Option<&'a str>,
    pub now_ms: i64,
    /// `video`, `image` or `other` (see `layout::Kind`).
    pub kind: &'a str,
    /// Not uploaded before this time (a file the camera may still append to).
    pub hold_until_ms: i64,
    /// The earlier, partial copy of the same file this row replaces.
    pub supersedes: Option<i64>,
}

/// An object already in the store that no capture produced (adopted, or rebuilt from a
/// manifest): verified, no local copy, its key also standing for its inbox path.
pub struct StoredFile<'a> {
    pub camera: &'a str,
    pub mac: Option<&'a str>,
    pub tz: &'a str,
    pub key: &'a str,
    pub layout: &'a str,
    pub channel: Option<&'a str>,
    pub start_ms: i64,
    pub end_ms: Option<i64>,
    pub size: u64,
    pub crc64: Option<&'a str>,
    pub storage_class: &'a str,
    pub warning: Option<&'a str>,
    pub now_ms: i64,
}

/// One row as the stages need it.
#[derive(Debug, Clone)]
pub struct FileRow {
    pub id: i64,
    pub key: String,
    pub inbox_path: Vec<u8>,
    pub size: u64,
    pub dev: u64,
    pub ino: u64,
    pub crc64: Option<String>,
    pub attempts: u32,
    pub uploaded: bool,
    pub start_ms: i64,
}

/// One row as `ls` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Listing {
    pub camera: String,
    pub start_ms: i64,
    pub end_ms: Option<i64>,
    pub tz: String,
    pub key: String,
    pub size: u64,
    pub state: State,
    pub local: bool,
    pub warning: Option<String>,
    pub last_error: Option<String>,
    pub codec: Option<String>,
    pub duration_ms: Option<i64>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    /// When camvault captured it (arrival).
    pub captured_ms: i64,
}

#[derive(Debug, Default, Clone, Serialize)]
pub struct Counts {
    pub files: u64,
    pub bytes: u64,
}

#[derive(Debug, Default, Clone, Serialize)]
pub struct CameraSummary {
    pub id: String,
    pub mac: Option<String>,
    pub tz: String,
    pub files: u64,
    pub bytes: u64,
    pub last_start_ms: Option<i64>,
    pub last_capture_ms: Option<i64>,
    /// The smallest arrival lag (arrival minus the recording's end by its name) over the
    /// last files: below zero the camera's clock runs ahead; far above, behind.
    pub min_lag_ms: Option<i64>,
    /// Hours of the day (camera's zone) in which the camera recorded on at least half of
    /// the last 14 days; `None` until it has 3 days of history.
    pub active_hours: Option<[bool; 24]>,
}

/// A verified file as a manifest lists it.
#[derive(Debug, Clone)]
pub struct ManifestEntry {
    pub id: i64,
    pub camera: String,
    pub tz: String,
    pub key: String,
    pub size: u64,
    pub crc64: String,
    pub start_ms: i64,
    pub end_ms: Option<i64>,
}

/// Files and bytes of one camera in one state.
#[derive(Debug, Clone)]
pub struct StatsRow {
    pub camera: String,
    pub state: String,
    pub files: u64,
    pub bytes: u64,
}

/// One delete, rename or overwrite seen in the share's audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeletionAttempt {
    pub at_ms: i64,
    pub client: String,
    pub user: String,
    /// `delete`, `rename` or `overwrite`.
    pub op: String,
    pub path: String,
    pub denied: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Burst {
    pub client: String,
    pub user: String,
    pub first_ms: i64,
    pub last_ms: i64,
    pub attempts: u64,
    pub denied: u64,
    pub sample: String,
}

#[derive(Debug, Clone, Default)]
pub struct DeletionSummary {
    pub total: u64,
    pub denied: u64,
    pub last_24h: u64,
    pub bursts: Vec<Burst>,
    pub latest: Vec<DeletionAttempt>,
}

#[derive(Debug, Default, Clone)]
pub struct Summary {
    pub captured: Counts,
    pub uploaded: Counts,
    pub verified: Counts,
    pub failed: Counts,
    /// Verified files still in the vault.
    pub cached: Counts,
    pub oldest_pending_ms: Option<i64>,
    pub cameras: Vec<CameraSummary>,
    pub recent_errors: Vec<(String, String)>,
    /// When the catalog was last backed up to the store.
    pub last_backup_ms: Option<i64>,
    /// When the first camera was first seen.
    pub first_capture_ms: Option<i64>,
    /// Objects the scheduled verification found missing or different: key → why.
    pub verify_bad: std::collections::BTreeMap<String, String>,
    pub restores: restores::InFlight,
    /// The last restore drill: (when, passed, what).
    pub last_drill: Option<(i64, bool, String)>,
    /// Objects the store still showed in Standard well after the transition age:
    /// (how many, one key).
    pub transition_late: (u64, Option<String>),
    /// Failing periodic checks (`probe.lifecycle`, `probe.share`): key → what is wrong.
    pub probes: std::collections::BTreeMap<String, String>,
}

/// Where `serve` keeps the count of objects late to transition (see `record_transition_late`).
pub(crate) const TRANSITION_LATE_KEY: &str = "tiering.late";

/// Hours of the day active on at least half of the days seen, from hour buckets
/// (milliseconds / 3,600,000); `None` with fewer than 3 days seen.
pub fn learn_active_hours(hour_buckets: &[i64], tz: &jiff::tz::TimeZone) -> Option<[bool; 24]> {
    let mut days = std::collections::BTreeSet::new();
    let mut per_hour: [std::collections::BTreeSet<jiff::civil::Date>; 24] = std::array::from_fn(|_| Default::default());
    for &h in hour_buckets {
        let Ok(t) = jiff::Timestamp::from_millisecond(h * 3_600_000) else {
            continue;
        };
        let z = t.to_zoned(tz.clone());
        days.insert(z.date());
        per_hour[z.hour() as usize].insert(z.date());
    }
    if days.len() < 3 {
        return None;
    }
    Some(per_hour.map(|d| d.len() * 2 >= days.len()))
}

fn row_to_file(r: &rusqlite::Row) -> rusqlite::Result<FileRow> {
    Ok(FileRow {
        id: r.get(0)?,
        key: r.get(1)?,
        inbox_path: r.get(2)?,
        size: r.get::<_, i64>(3)? as u64,
        dev: r.get::<_, i64>(4)? as u64,
        ino: r.get::<_, i64>(5)? as u64,
        crc64: r.get(6)?,
        attempts: r.get::<_, i64>(7)? as u32,
        uploaded: r.get::<_, Option<i64>>(8)?.is_some(),
        start_ms: r.get(9)?,
    })
}
const FILE_COLS: &str = "id, key, inbox_path, size, dev, ino, crc64, attempts, uploaded_ms, start_ms";

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
        let version: usize = c.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0))? as usize;
        if version > MIGRATIONS.len() {
            bail!(
                "catalog schema version {version} is newer than this camvault knows ({}); upgrade camvault",
                MIGRATIONS.len()
            );
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
            let tx = c.transaction()?;
            tx.execute_batch(sql).with_context(|| format!("migration {}", i + 1))?;
            tx.pragma_update(None, "user_version", (i + 1) as i64)?;
            tx.commit()?;
        }
        Ok(())
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

    /// Is this exact file (same inode, path, size and mtime) already captured?
    pub fn already_captured(&self, dev: u64, ino: u64, path: &[u8], size: u64, mtime_ns: i64) -> Result<bool> {
        let c = self.lock();
        let mut st = c.prepare_cached(
            "SELECT 1 FROM files WHERE ino = ?1 AND dev = ?2 AND inbox_path = ?3 AND size = ?4 AND mtime_ns = ?5
             UNION ALL SELECT 1 FROM aliases WHERE ino = ?1 AND dev = ?2 AND inbox_path = ?3 AND size = ?4 AND mtime_ns = ?5 LIMIT 1",
        )?;
        Ok(st.exists(params![ino as i64, dev as i64, path, size as i64, mtime_ns])?)
    }

    /// Inserts the row and creates the vault link in one step: `link(key)` runs inside
    /// the transaction, so a failed link leaves no row and a crash before the commit
    /// leaves at most a vault link that the next capture of the same file reuses.
    /// The key gets the lowest free revision, so no key is ever reused for other bytes.
    pub fn insert_captured(&self, f: &NewFile, link: impl FnOnce(&str) -> Result<()>) -> Result<(i64, String)> {
        let mut c = self.lock();
        let tx = c.transaction()?;
        let mut revision = 1u32;
        let key = loop {
            let k = crate::keys::revision_key(f.base_key, revision);
            let taken: bool = tx.prepare_cached("SELECT 1 FROM files WHERE key = ?1")?.exists([&k])?;
            if !taken {
                break k;
            }
            revision += 1;
        };
        tx.execute(
            "INSERT INTO cameras (id, mac, tz, first_seen_ms, last_start_ms, last_capture_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?4)
             ON CONFLICT (id) DO UPDATE SET mac = coalesce(excluded.mac, mac), tz = excluded.tz,
               last_start_ms = max(coalesce(last_start_ms, excluded.last_start_ms), excluded.last_start_ms),
               last_capture_ms = excluded.last_capture_ms",
            params![f.camera, f.mac, f.tz, f.now_ms, f.start_ms],
        )?;
        tx.execute(
            "INSERT INTO files (camera, inbox_path, key, revision, layout, channel, start_ms, end_ms, size, mtime_ns, dev, ino,
                duration_ms, codec, width, height, warning, state, captured_ms, kind, next_attempt_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, 'captured', ?18, ?19, ?20)",
            params![
                f.camera,
                f.inbox_path,
                key,
                revision,
                f.layout,
                f.channel,
                f.start_ms,
                f.end_ms,
                f.size as i64,
                f.mtime_ns,
                f.dev as i64,
                f.ino as i64,
                f.duration_ms,
                f.codec,
                f.width,
                f.height,
                f.warning,
                f.now_ms,
                f.kind,
                f.hold_until_ms
            ],
        )?;
        let id = tx.last_insert_rowid();
        if let Some(old) = f.supersedes {
            tx.execute("UPDATE files SET superseded_by = ?1 WHERE id = ?2", params![id, old])?;
        }
        link(&key)?;
        tx.commit()?;
        Ok((id, key))
    }

    /// Adds an object that is already in the store (uploaded by another tool) as verified,
    /// without a local copy. Returns the new row's id, `None` when the key is already cataloged.
    pub fn insert_adopted(&self, f: &StoredFile) -> Result<Option<i64>> {
        let mut c = self.lock();
        let tx = c.transaction()?;
        let known: bool = tx
            .prepare_cached("SELECT 1 FROM files WHERE key = ?1")?
            .exists([f.key])?;
        if known {
            return Ok(None);
        }
        tx.execute(
            "INSERT INTO cameras (id, mac, tz, first_seen_ms, last_start_ms, last_capture_ms) VALUES (?1, ?2, ?3, ?4, ?5, NULL)
             ON CONFLICT (id) DO UPDATE SET mac = coalesce(excluded.mac, mac),
               last_start_ms = max(coalesce(last_start_ms, excluded.last_start_ms), excluded.last_start_ms)",
            params![f.camera, f.mac, f.tz, f.now_ms, f.start_ms],
        )?;
        tx.execute(
            "INSERT INTO files (camera, inbox_path, key, revision, layout, channel, start_ms, end_ms, size, mtime_ns, dev, ino,
                warning, state, crc64, storage_class, captured_ms, uploaded_ms, verified_ms, purged_ms)
             VALUES (?1, ?2, ?3, 1, ?4, ?5, ?6, ?7, ?8, 0, 0, 0, ?9, 'verified', ?10, ?11, ?12, ?12, ?12, ?12)",
            params![
                f.camera,
                f.key.as_bytes(),
                f.key,
                f.layout,
                f.channel,
                f.start_ms,
                f.end_ms,
                f.size as i64,
                f.warning,
                f.crc64,
                f.storage_class,
                f.now_ms
            ],
        )?;
        let id = tx.last_insert_rowid();
        tx.commit()?;
        Ok(Some(id))
    }

    /// Files that need the uploader or verifier now, oldest first.
    pub fn due(&self, now_ms: i64, limit: usize) -> Result<Vec<FileRow>> {
        let c = self.lock();
        let mut st = c.prepare_cached(&format!(
            "SELECT {FILE_COLS} FROM files WHERE state != 'verified' AND next_attempt_ms <= ?1 ORDER BY next_attempt_ms, id LIMIT ?2"
        ))?;
        let rows = st
            .query_map(params![now_ms, limit as i64], row_to_file)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// When the next not-yet-due file becomes due, if any.
    pub fn next_due_ms(&self) -> Result<Option<i64>> {
        let c = self.lock();
        Ok(c.query_row(
            "SELECT min(next_attempt_ms) FROM files WHERE state != 'verified'",
            [],
            |r| r.get(0),
        )?)
    }

    /// The row as it is now, `None` once verified (a dispatcher's snapshot may be stale).
    pub fn get(&self, id: i64) -> Result<Option<FileRow>> {
        let c = self.lock();
        let mut st = c.prepare_cached(&format!("SELECT {FILE_COLS}, state FROM files WHERE id = ?1"))?;
        let mut rows = st.query([id])?;
        Ok(match rows.next()? {
            Some(r) if r.get::<_, String>(10)? != "verified" => Some(row_to_file(r)?),
            _ => None,
        })
    }

    pub fn mark_uploaded(&self, id: i64, crc64: &str, class: &str, now_ms: i64) -> Result<()> {
        let c = self.lock();
        c.execute(
            "UPDATE files SET state = 'uploaded', crc64 = ?2, storage_class = ?3, uploaded_ms = ?4, last_error = NULL WHERE id = ?1",
            params![id, crc64, class, now_ms],
        )?;
        Ok(())
    }

    pub fn mark_verified(&self, id: i64, now_ms: i64) -> Result<()> {
        let c = self.lock();
        c.execute(
            "UPDATE files SET state = 'verified', verified_ms = ?2, last_error = NULL WHERE id = ?1",
            params![id, now_ms],
        )?;
        Ok(())
    }

    /// Records a failed attempt; the file becomes due again at `next_attempt_ms`.
    pub fn mark_failed(&self, id: i64, stage: &str, error: &str, now_ms: i64, next_attempt_ms: i64) -> Result<()> {
        let mut c = self.lock();
        let tx = c.transaction()?;
        tx.execute(
            "UPDATE files SET state = 'failed', attempts = attempts + 1, last_error = ?2, next_attempt_ms = ?3 WHERE id = ?1",
            params![id, format!("{stage}: {error}"), next_attempt_ms],
        )?;
        tx.execute(
            "INSERT INTO attempts (file_id, at_ms, stage, error) VALUES (?1, ?2, ?3, ?4)",
            params![id, now_ms, stage, error],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// A file whose stored object is missing or differs goes back to be uploaded again.
    pub fn mark_lost(&self, id: i64, error: &str, now_ms: i64) -> Result<()> {
        let mut c = self.lock();
        let tx = c.transaction()?;
        tx.execute(
            "UPDATE files SET state = 'failed', uploaded_ms = NULL, verified_ms = NULL, last_error = ?2, next_attempt_ms = 0 WHERE id = ?1",
            params![id, format!("verify: {error}")],
        )?;
        tx.execute(
            "INSERT INTO attempts (file_id, at_ms, stage, error) VALUES (?1, ?2, 'verify', ?3)",
            params![id, now_ms, error],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Verified files still in the vault, oldest recording first.
    pub fn cached_oldest_first(&self, limit: usize) -> Result<Vec<FileRow>> {
        let c = self.lock();
        let mut st = c.prepare_cached(&format!(
            "SELECT {FILE_COLS} FROM files WHERE state = 'verified' AND purged_ms IS NULL ORDER BY start_ms LIMIT ?1"
        ))?;
        let rows = st
            .query_map([limit as i64], row_to_file)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Marks the vault copy gone. Only ever called for verified files.
    pub fn mark_purged(&self, id: i64, now_ms: i64) -> Result<()> {
        let c = self.lock();
        let n = c.execute(
            "UPDATE files SET purged_ms = ?2 WHERE id = ?1 AND state = 'verified' AND purged_ms IS NULL",
            params![id, now_ms],
        )?;
        if n != 1 {
            bail!("refusing to mark file {id} purged: it is not verified");
        }
        Ok(())
    }

    /// Files the store should hold (uploaded or verified) with id > `after`, in id order;
    /// paged so that no lock is held while the caller talks to the store.
    pub fn stored_after(&self, after: i64, limit: usize) -> Result<Vec<FileRow>> {
        let c = self.lock();
        let mut st = c.prepare_cached(&format!(
            "SELECT {FILE_COLS} FROM files WHERE id > ?1 AND state IN ('uploaded', 'verified') ORDER BY id LIMIT ?2"
        ))?;
        let rows = st
            .query_map(params![after, limit as i64], row_to_file)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
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

    pub fn kv_get(&self, key: &str) -> Result<Option<String>> {
        let c = self.lock();
        self.kv_get_locked(&c, key)
    }

    fn kv_get_locked(&self, c: &Connection, key: &str) -> Result<Option<String>> {
        let mut st = c.prepare_cached("SELECT value FROM kv WHERE key = ?1")?;
        let mut rows = st.query([key])?;
        Ok(match rows.next()? {
            Some(r) => Some(r.get(0)?),
            None => None,
        })
    }

    pub fn kv_set(&self, key: &str, value: &str) -> Result<()> {
        let c = self.lock();
        c.execute(
            "INSERT INTO kv (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            params![key, value],
        )?;
        Ok(())
    }

    /// Records one deletion attempt. Attempts from the same client and user within
    /// `burst_gap_ms` of the burst's last one join it; otherwise a new burst starts and
    /// one event is recorded for it. Returns the new burst's id when one started.
    pub fn record_deletion_attempt(&self, a: &DeletionAttempt, burst_gap_ms: i64) -> Result<Option<i64>> {
        let mut c = self.lock();
        let tx = c.transaction()?;
        let open: Option<i64> = {
            let mut st = tx.prepare_cached(
                "SELECT id FROM deletion_bursts WHERE client = ?1 AND user = ?2 AND last_ms >= ?3 ORDER BY id DESC LIMIT 1",
            )?;
            let mut rows = st.query(params![a.client, a.user, a.at_ms - burst_gap_ms])?;
            match rows.next()? {
                Some(r) => Some(r.get(0)?),
                None => None,
            }
        };
        let (burst, started) = match open {
            Some(id) => {
                tx.execute(
                    "UPDATE deletion_bursts SET last_ms = max(last_ms, ?2), attempts = attempts + 1, denied = denied + ?3 WHERE id = ?1",
                    params![id, a.at_ms, a.denied as i64],
                )?;
                (id, false)
            }
            None => {
                tx.execute(
                    "INSERT INTO deletion_bursts (client, user, first_ms, last_ms, attempts, denied, sample) VALUES (?1, ?2, ?3, ?3, 1, ?4, ?5)",
                    params![a.client, a.user, a.at_ms, a.denied as i64, a.path],
                )?;
                let id = tx.last_insert_rowid();
                tx.execute(
                    "INSERT INTO events (at_ms, kind, message) VALUES (?1, 'deletion_attempts', ?2)",
                    params![
                        a.at_ms,
                        format!(
                            "{} from {} as {} tried to {} {}{}",
                            if a.denied { "refused" } else { "allowed" },
                            a.client,
                            a.user,
                            a.op,
                            a.path,
                            if a.denied {
                                ""
                            } else {
                                " (inside the grace period; camvault still has its copy if it was captured)"
                            }
                        )
                    ],
                )?;
                (id, true)
            }
        };
        tx.execute(
            "INSERT INTO deletion_attempts (at_ms, client, user, op, path, denied, burst_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![a.at_ms, a.client, a.user, a.op, a.path, a.denied as i64, burst],
        )?;
        tx.commit()?;
        Ok(started.then_some(burst))
    }

    pub fn deletion_summary(&self, since_ms: i64) -> Result<DeletionSummary> {
        let c = self.lock();
        let (total, denied): (i64, i64) = c.query_row(
            "SELECT count(*), coalesce(sum(denied), 0) FROM deletion_attempts",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let recent: i64 = c.query_row(
            "SELECT count(*) FROM deletion_attempts WHERE at_ms >= ?1",
            [since_ms],
            |r| r.get(0),
        )?;
        let mut st = c.prepare_cached(
            "SELECT client, user, first_ms, last_ms, attempts, denied, sample FROM deletion_bursts ORDER BY last_ms DESC LIMIT 5",
        )?;
        let bursts = st
            .query_map([], |r| {
                Ok(Burst {
                    client: r.get(0)?,
                    user: r.get(1)?,
                    first_ms: r.get(2)?,
                    last_ms: r.get(3)?,
                    attempts: r.get::<_, i64>(4)? as u64,
                    denied: r.get::<_, i64>(5)? as u64,
                    sample: r.get(6)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let mut st = c.prepare_cached(
            "SELECT at_ms, client, user, op, path, denied FROM deletion_attempts ORDER BY at_ms DESC, id DESC LIMIT 10",
        )?;
        let latest = st
            .query_map([], |r| {
                Ok(DeletionAttempt {
                    at_ms: r.get(0)?,
                    client: r.get(1)?,
                    user: r.get(2)?,
                    op: r.get(3)?,
                    path: r.get(4)?,
                    denied: r.get(5)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(DeletionSummary {
            total: total as u64,
            denied: denied as u64,
            last_24h: recent as u64,
            bursts,
            latest,
        })
    }

    /// The per-camera, per-state counters as kept by the triggers.
    pub fn stats_rows(&self) -> Result<Vec<StatsRow>> {
        let c = self.lock();
        let mut st = c.prepare_cached(
            "SELECT camera, state, sum(files), sum(bytes) FROM stats GROUP BY camera, state HAVING sum(files) != 0 ORDER BY camera, state",
        )?;
        let rows = st
            .query_map([], |r| {
                Ok(StatsRow {
                    camera: r.get(0)?,
                    state: r.get(1)?,
                    files: r.get::<_, i64>(2)? as u64,
                    bytes: r.get::<_, i64>(3)? as u64,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Bytes of recordings whose start is at or after `since_ms`, and of all recordings.
    pub fn bytes_since(&self, since_ms: i64) -> Result<(u64, u64)> {
        let c = self.lock();
        let (recent, all): (i64, i64) = c.query_row(
            "SELECT coalesce(sum(CASE WHEN start_ms >= ?1 THEN size END), 0), coalesce(sum(size), 0) FROM files",
            [since_ms],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok((recent as u64, all as u64))
    }

    /// Events recorded after `after_id`, oldest first: (id, time, kind, message).
    pub fn events_after(&self, after_id: i64) -> Result<Vec<(i64, i64, String, String)>> {
        let c = self.lock();
        let mut st =
            c.prepare_cached("SELECT id, at_ms, kind, message FROM events WHERE id > ?1 ORDER BY id LIMIT 100")?;
        let rows = st
            .query_map([after_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Verified files not yet in a manifest whose recording starts before `before_ms`.
    pub fn unlisted(&self, before_ms: i64) -> Result<Vec<ManifestEntry>> {
        let c = self.lock();
        let mut st = c.prepare_cached(
            "SELECT f.id, f.camera, coalesce(c.tz, 'UTC'), f.key, f.size, coalesce(f.crc64, ''), f.start_ms, f.end_ms
             FROM files f LEFT JOIN cameras c ON c.id = f.camera
             WHERE f.state = 'verified' AND f.manifest_id IS NULL AND f.start_ms < ?1
             ORDER BY f.camera, f.start_ms, f.key",
        )?;
        let rows = st
            .query_map([before_ms], |r| {
                Ok(ManifestEntry {
                    id: r.get(0)?,
                    camera: r.get(1)?,
                    tz: r.get(2)?,
                    key: r.get(3)?,
                    size: r.get::<_, i64>(4)? as u64,
                    crc64: r.get(5)?,
                    start_ms: r.get(6)?,
                    end_ms: r.get(7)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// The camera's newest manifest: (seq, sha256).
    pub fn last_manifest(&self, camera: &str) -> Result<Option<(i64, String)>> {
        let c = self.lock();
        let mut st =
            c.prepare_cached("SELECT seq, sha256 FROM manifests WHERE camera = ?1 ORDER BY seq DESC LIMIT 1")?;
        let mut rows = st.query([camera])?;
        Ok(match rows.next()? {
            Some(r) => Some((r.get(0)?, r.get(1)?)),
            None => None,
        })
    }

    pub fn manifest_key_taken(&self, key: &str) -> Result<bool> {
        let c = self.lock();
        let taken = c
            .prepare_cached("SELECT 1 FROM manifests WHERE key = ?1")?
            .exists([key])?;
        Ok(taken)
    }

    /// Records a written manifest and marks its files as listed, in one transaction.
    #[allow(clippy::too_many_arguments)]
    pub fn record_manifest(
        &self,
        camera: &str,
        date: &str,
        seq: i64,
        key: &str,
        sha256: &str,
        prev: Option<&str>,
        file_ids: &[i64],
        now_ms: i64,
    ) -> Result<()> {
        let mut c = self.lock();
        let tx = c.transaction()?;
        tx.execute(
            "INSERT INTO manifests (camera, date, seq, key, sha256, prev_sha256, files, written_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![camera, date, seq, key, sha256, prev, file_ids.len() as i64, now_ms],
        )?;
        let id = tx.last_insert_rowid();
        {
            let mut st = tx.prepare_cached("UPDATE files SET manifest_id = ?1 WHERE id = ?2")?;
            for f in file_ids {
                st.execute(params![id, f])?;
            }
        }
        tx.commit()?;
        Ok(())
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

    /// Up to `n` random files the store should hold.
    pub fn random_stored(&self, n: usize) -> Result<Vec<FileRow>> {
        let c = self.lock();
        let (lo, hi): (Option<i64>, Option<i64>) =
            c.query_row("SELECT min(id), max(id) FROM files", [], |r| Ok((r.get(0)?, r.get(1)?)))?;
        let (Some(lo), Some(hi)) = (lo, hi) else {
            return Ok(Vec::new());
        };
        let mut st = c.prepare_cached(&format!(
            "SELECT {FILE_COLS} FROM files WHERE id >= ?1 AND state IN ('uploaded', 'verified') ORDER BY id LIMIT 1"
        ))?;
        let mut out = Vec::new();
        for _ in 0..n {
            let at = fastrand::i64(lo..=hi);
            if let Some(r) = st.query_map([at], row_to_file)?.next() {
                out.push(r?);
            }
        }
        Ok(out)
    }

    /// Records something a person should hear about (sent by the alerts).
    pub fn record_event(&self, kind: &str, message: &str) -> Result<()> {
        let c = self.lock();
        c.execute(
            "INSERT INTO events (at_ms, kind, message) VALUES (?1, ?2, ?3)",
            params![jiff::Timestamp::now().as_millisecond(), kind, message],
        )?;
        Ok(())
    }

    pub fn summary(&self) -> Result<Summary> {
        let c = self.lock();
        let mut s = Summary::default();
        let mut per_camera: std::collections::BTreeMap<String, Counts> = Default::default();
        let mut st = c.prepare_cached("SELECT camera, state, local, files, bytes FROM stats WHERE files != 0")?;
        let mut rows = st.query([])?;
        while let Some(r) = rows.next()? {
            let camera: String = r.get(0)?;
            let state = State::parse(&r.get::<_, String>(1)?);
            let local: bool = r.get(2)?;
            let files = r.get::<_, i64>(3)? as u64;
            let bytes = r.get::<_, i64>(4)? as u64;
            let bucket = match state {
                State::Captured => &mut s.captured,
                State::Uploaded => &mut s.uploaded,
                State::Verified => &mut s.verified,
                State::Failed => &mut s.failed,
            };
            bucket.files += files;
            bucket.bytes += bytes;
            if state == State::Verified && local {
                s.cached.files += files;
                s.cached.bytes += bytes;
            }
            let cam = per_camera.entry(camera).or_default();
            cam.files += files;
            cam.bytes += bytes;
        }
        drop(rows);
        drop(st);
        // A file held back while the camera may still append to it waits from its hold's end.
        s.oldest_pending_ms = c.query_row(
            "SELECT min(CASE WHEN attempts = 0 THEN max(captured_ms, next_attempt_ms) ELSE captured_ms END)
             FROM files WHERE state != 'verified'",
            [],
            |r| r.get(0),
        )?;
        {
            let mut st =
                c.prepare_cached("SELECT id, mac, tz, last_start_ms, last_capture_ms FROM cameras ORDER BY id")?;
            let cams = st.query_map([], |r| {
                Ok(CameraSummary {
                    id: r.get(0)?,
                    mac: r.get(1)?,
                    tz: r.get(2)?,
                    files: 0,
                    bytes: 0,
                    last_start_ms: r.get(3)?,
                    last_capture_ms: r.get(4)?,
                    min_lag_ms: None,
                    active_hours: None,
                })
            })?;
            for cam in cams {
                let mut cam = cam?;
                if let Some(n) = per_camera.get(&cam.id) {
                    cam.files = n.files;
                    cam.bytes = n.bytes;
                }
                s.cameras.push(cam);
            }
        }
        let mut st = c.prepare_cached(
            "SELECT key, coalesce(last_error, '') FROM files WHERE state != 'verified' AND last_error IS NOT NULL ORDER BY next_attempt_ms DESC LIMIT 5",
        )?;
        s.last_backup_ms = c
            .query_row("SELECT value FROM kv WHERE key = 'backup.last_ms'", [], |r| {
                r.get::<_, String>(0)
            })
            .ok()
            .and_then(|v| v.parse().ok());
        s.first_capture_ms = c.query_row("SELECT min(first_seen_ms) FROM cameras", [], |r| r.get(0))?;
        s.verify_bad = c
            .query_row("SELECT value FROM kv WHERE key = 'verify.bad'", [], |r| {
                r.get::<_, String>(0)
            })
            .ok()
            .and_then(|v| serde_json::from_str(&v).ok())
            .unwrap_or_default();
        s.recent_errors = st
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        drop(st);
        for cam in &mut s.cameras {
            cam.min_lag_ms = c.query_row(
                "SELECT min(captured_ms - coalesce(end_ms, start_ms + duration_ms, start_ms)) FROM
                    (SELECT * FROM files WHERE camera = ?1 ORDER BY start_ms DESC LIMIT 20)",
                [&cam.id],
                |r| r.get(0),
            )?;
            if let Some(last) = cam.last_start_ms {
                let since = last - 14 * 86_400_000;
                let mut st = c.prepare_cached(
                    "SELECT DISTINCT start_ms / 3600000 FROM files WHERE camera = ?1 AND start_ms >= ?2",
                )?;
                let hours: Vec<i64> = st
                    .query_map(params![cam.id, since], |r| r.get(0))?
                    .collect::<rusqlite::Result<_>>()?;
                let tz = jiff::tz::TimeZone::get(&cam.tz).unwrap_or(jiff::tz::TimeZone::UTC);
                cam.active_hours = learn_active_hours(&hours, &tz);
            }
        }
        s.transition_late = self
            .kv_get_locked(&c, TRANSITION_LATE_KEY)?
            .and_then(|j| serde_json::from_str(&j).ok())
            .unwrap_or_default();
        s.probes = {
            let mut st = c.prepare_cached("SELECT key, value FROM kv WHERE key LIKE 'probe.%' AND value != ''")?;
            let rows = st
                .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?
                .collect::<rusqlite::Result<_>>()?;
            rows
        };
        drop(c);
        s.restores = self.restores_in_flight()?;
        s.last_drill = self.kv_get(crate::restore::DRILL_KEY)?.and_then(|j| {
            let v: serde_json::Value = serde_json::from_str(&j).ok()?;
            Some((
                v["at_ms"].as_i64()?,
                v["ok"].as_bool()?,
                v["error"].as_str().or(v["key"].as_str()).unwrap_or("").to_string(),
            ))
        });
        Ok(s)
    }

    /// Recordings of a camera (or all) that start in `[from, to)`: videos, not superseded.
    pub fn list(&self, camera: Option<&str>, from_ms: i64, to_ms: i64, limit: usize) -> Result<Vec<Listing>> {
        self.list_files(camera, from_ms, to_ms, limit, false)
    }

    /// As [`Catalog::list`]; with `all`, every archived file: also sidecars (snapshots,
    /// other files) and the partial copies a later revision superseded.
    pub fn list_files(
        &self,
        camera: Option<&str>,
        from_ms: i64,
        to_ms: i64,
        limit: usize,
        all: bool,
    ) -> Result<Vec<Listing>> {
        let c = self.lock();
        let sql =
            format!(
            "SELECT f.camera, f.start_ms, f.end_ms, coalesce(c.tz, 'UTC'), f.key, f.size, f.state, f.purged_ms IS NULL,
                    f.warning, f.last_error, f.codec, f.duration_ms, f.width, f.height, f.captured_ms
             FROM files f LEFT JOIN cameras c ON c.id = f.camera
             WHERE {} f.start_ms >= ?1 AND f.start_ms < ?2 {}
             ORDER BY f.start_ms, f.id LIMIT ?3",
            if camera.is_some() { "f.camera = ?4 AND" } else { "" },
            if all { "" } else { "AND f.superseded_by IS NULL AND f.kind = 'video'" }
        );
        let mut st = c.prepare_cached(&sql)?;
        let map = |r: &rusqlite::Row| {
            Ok(Listing {
                camera: r.get(0)?,
                start_ms: r.get(1)?,
                end_ms: r.get(2)?,
                tz: r.get(3)?,
                key: r.get(4)?,
                size: r.get::<_, i64>(5)? as u64,
                state: State::parse(&r.get::<_, String>(6)?),
                local: r.get(7)?,
                warning: r.get(8)?,
                last_error: r.get(9)?,
                codec: r.get(10)?,
                duration_ms: r.get(11)?,
                width: r.get(12)?,
                height: r.get(13)?,
                captured_ms: r.get(14)?,
            })
        };
        let rows = match camera {
            Some(cam) => st
                .query_map(params![from_ms, to_ms, limit as i64, cam], map)?
                .collect::<rusqlite::Result<Vec<_>>>()?,
            None => st
                .query_map(params![from_ms, to_ms, limit as i64], map)?
                .collect::<rusqlite::Result<Vec<_>>>()?,
        };
        Ok(rows)
    }
}

/// Multipart uploads in progress (migration 4): the upload id and the parts the store
/// has, so that an upload interrupted by a crash resumes instead of starting over.
impl crate::store::MultipartJournal for Catalog {
    fn load(&self, file_id: i64) -> Result<Option<crate::store::MultipartProgress>> {
        let c = self.lock();
        let head = c
            .query_row(
                "SELECT key, upload_id, part_size FROM multipart_uploads WHERE file_id = ?1",
                [file_id],
                |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?)),
            )
            .map(Some)
            .or_else(|e| match e {
                rusqlite::Error::QueryReturnedNoRows => Ok(None),
                e => Err(e),
            })?;
        let Some((key, upload_id, part_size)) = head else {
            return Ok(None);
        };
        let mut st = c.prepare_cached(
            "SELECT part, size, etag, checksum FROM multipart_parts WHERE file_id = ?1 ORDER BY part",
        )?;
        let parts = st
            .query_map([file_id], |r| {
                Ok(crate::store::PartDone {
                    part: r.get(0)?,
                    size: r.get::<_, i64>(1)? as u64,
                    etag: r.get(2)?,
                    checksum: r.get(3)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(Some(crate::store::MultipartProgress {
            key,
            upload_id,
            part_size: part_size as u64,
            parts,
        }))
    }

    fn begin(&self, file_id: i64, key: &str, upload_id: &str, part_size: u64) -> Result<()> {
        let mut c = self.lock();
        let tx = c.transaction()?;
        tx.execute("DELETE FROM multipart_parts WHERE file_id = ?1", [file_id])?;
        tx.execute(
            "INSERT OR REPLACE INTO multipart_uploads (file_id, key, upload_id, part_size, started_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![file_id, key, upload_id, part_size as i64, jiff::Timestamp::now().as_millisecond()],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn part_done(&self, file_id: i64, p: &crate::store::PartDone) -> Result<()> {
        self.lock().execute(
            "INSERT OR REPLACE INTO multipart_parts (file_id, part, size, etag, checksum) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![file_id, p.part, p.size as i64, p.etag, p.checksum],
        )?;
        Ok(())
    }

    fn finish(&self, file_id: i64) -> Result<()> {
        let mut c = self.lock();
        let tx = c.transaction()?;
        tx.execute("DELETE FROM multipart_parts WHERE file_id = ?1", [file_id])?;
        tx.execute("DELETE FROM multipart_uploads WHERE file_id = ?1", [file_id])?;
        tx.commit()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn new_file<'a>(path: &'a [u8], key: &'a str, ino: u64) -> NewFile<'a> {
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
    fn deletion_bursts_group_attempts() {
        let dir = tempfile::tempdir().unwrap();
        let cat = Catalog::open(&dir.path().join("c.sqlite"), true).unwrap();
        let at = |ms: i64, client: &str| DeletionAttempt {
            at_ms: ms,
            client: client.into(),
            user: "camera".into(),
            op: "delete".into(),
            path: format!("/inbox/{ms}.mp4"),
            denied: true,
        };
        let gap = 600_000;
        assert!(cat.record_deletion_attempt(&at(0, "10.0.0.5"), gap).unwrap().is_some());
        for i in 1..1000 {
            assert!(
                cat.record_deletion_attempt(&at(i * 100, "10.0.0.5"), gap)
                    .unwrap()
                    .is_none(),
                "same burst"
            );
        }
        assert!(
            cat.record_deletion_attempt(&at(50, "10.0.0.9"), gap).unwrap().is_some(),
            "another client"
        );
        assert!(
            cat.record_deletion_attempt(&at(100_000 + gap + 1, "10.0.0.5"), gap)
                .unwrap()
                .is_some(),
            "after a pause"
        );
        let s = cat.deletion_summary(0).unwrap();
        assert_eq!((s.total, s.denied, s.bursts.len()), (1002, 1002, 3));
        let events: i64 = cat
            .lock()
            .query_row("SELECT count(*) FROM events", [], |r| r.get(0))
            .unwrap();
        assert_eq!(events, 3, "one event per burst, not per attempt");
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

#[cfg(test)]
mod multipart_journal_tests {
    use super::*;
    use crate::store::{MultipartJournal, PartDone};

    #[test]
    fn remembers_an_upload_until_it_finishes() {
        let dir = tempfile::tempdir().unwrap();
        let cat = Catalog::open(&dir.path().join("c.sqlite"), true).unwrap();
        let (id, _) = cat
            .insert_captured(&tests::new_file(b"a.mp4", "v/a.mp4", 7), |_| Ok(()))
            .unwrap();
        assert_eq!(cat.load(id).unwrap(), None);
        cat.begin(id, "v/a.mp4", "up-1", 5 << 20).unwrap();
        let part = |n: u32| PartDone {
            part: n,
            size: 5 << 20,
            etag: format!("\"e{n}\""),
            checksum: Some(format!("m{n}")),
        };
        cat.part_done(id, &part(2)).unwrap();
        cat.part_done(id, &part(1)).unwrap();
        cat.part_done(id, &part(1)).unwrap(); // sent again: replaced, not doubled
        let p = cat.load(id).unwrap().unwrap();
        assert_eq!(
            (p.key.as_str(), p.upload_id.as_str(), p.part_size),
            ("v/a.mp4", "up-1", 5 << 20)
        );
        assert_eq!(p.parts, vec![part(1), part(2)]);
        // A new upload of the same file forgets the old one's parts.
        cat.begin(id, "v/a.mp4", "up-2", 5 << 20).unwrap();
        let p = cat.load(id).unwrap().unwrap();
        assert_eq!((p.upload_id.as_str(), p.parts.len()), ("up-2", 0));
        cat.finish(id).unwrap();
        assert_eq!(cat.load(id).unwrap(), None);
    }
}
