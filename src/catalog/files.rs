//! A recording's life in the catalog: the row written with the vault link, the stages that
//! move it on (`captured → uploaded → verified`, `failed` with its reason and next attempt,
//! `purged` once verified), and the listings `ls` and the stages read.

use anyhow::{bail, Result};
use rusqlite::params;
use serde::Serialize;

use super::Catalog;

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
    pub(crate) fn parse(s: &str) -> State {
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

pub(super) fn row_to_file(r: &rusqlite::Row) -> rusqlite::Result<FileRow> {
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

pub(super) const FILE_COLS: &str = "id, key, inbox_path, size, dev, ino, crc64, attempts, uploaded_ms, start_ms";

impl Catalog {
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
        let id = insert_adopted_in(&tx, f)?;
        tx.commit()?;
        Ok(id)
    }

    /// One page of an adoption: its rows and how far the listing got, in one transaction,
    /// so that a listing interrupted after this page resumes after it and loses nothing.
    /// Returns how many rows were new.
    pub fn insert_adopted_page<S: super::kv::Slot>(
        &self,
        rows: &[StoredFile],
        slot: &S,
        cursor: &S::Value,
    ) -> Result<u64> {
        let text = slot.encode(cursor)?;
        let mut c = self.lock();
        let tx = c.transaction()?;
        let mut added = 0;
        for f in rows {
            added += u64::from(insert_adopted_in(&tx, f)?.is_some());
        }
        tx.execute(
            "INSERT INTO kv (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            params![slot.key(), text],
        )?;
        tx.commit()?;
        Ok(added)
    }
}

impl Catalog {
    /// Ends of adopted clips of `layout` that have none (their names give only the start,
    /// their headers were not read): the next clip's start of the same camera and lens when
    /// it comes at most `max_ms` later. Returns how many clips got an end.
    pub fn end_adopted_by_next(&self, layout: &str, max_ms: i64) -> Result<u64> {
        let c = self.lock();
        let n = c.execute(
            "UPDATE files SET end_ms = (
                SELECT min(n.start_ms) FROM files n WHERE n.camera = files.camera
                  AND n.channel IS files.channel AND n.start_ms > files.start_ms AND n.start_ms <= files.start_ms + ?2)
             WHERE layout = ?1 AND end_ms IS NULL AND dev = 0 AND ino = 0 AND EXISTS (
                SELECT 1 FROM files n WHERE n.camera = files.camera
                  AND n.channel IS files.channel AND n.start_ms > files.start_ms AND n.start_ms <= files.start_ms + ?2)",
            params![layout, max_ms],
        )?;
        Ok(n as u64)
    }
}

/// Adds one adopted object in the caller's transaction; `None` when the key is known.
fn insert_adopted_in(tx: &rusqlite::Transaction, f: &StoredFile) -> Result<Option<i64>> {
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
    Ok(Some(tx.last_insert_rowid()))
}

impl Catalog {
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
