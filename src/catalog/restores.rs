//! Restores and storage classes in the catalog: each restore, each clip in it and where
//! it stands; the class each object was last seen in.
//!
//! Everything a restore needs to go on after a crash is here; `restore::step` only ever
//! moves an item forward from what these rows say.

use anyhow::Result;
use rusqlite::{params, OptionalExtension};
use serde::Serialize;

use super::Catalog;

/// A clip that falls in a restore's range.
#[derive(Debug, Clone, Serialize)]
pub struct Candidate {
    pub file_id: i64,
    pub camera: String,
    pub key: String,
    pub start_ms: i64,
    pub size: u64,
    pub crc64: Option<String>,
    /// The vault copy is still on local disk.
    pub cached: bool,
    /// The object is in the store (uploaded or verified).
    pub stored: bool,
    pub storage_class: Option<String>,
}

/// A restore as recorded.
#[derive(Debug, Clone, Serialize)]
pub struct RestoreRow {
    pub id: i64,
    pub created_ms: i64,
    pub camera: Option<String>,
    pub from_ms: i64,
    pub to_ms: i64,
    pub tier: String,
    pub days: u32,
    pub out_dir: String,
    pub merge: bool,
    pub kind: String,
    pub state: String,
    pub est_cost_cny: f64,
    pub done_ms: Option<i64>,
    pub error: Option<String>,
}

/// One clip of a restore.
#[derive(Debug, Clone, Serialize)]
pub struct ItemRow {
    pub restore_id: i64,
    pub file_id: i64,
    pub key: String,
    pub size: u64,
    pub crc64: Option<String>,
    pub source: String,
    pub state: String,
    pub requested_ms: Option<i64>,
    pub expires_ms: Option<i64>,
    pub polls: u32,
    pub path: Option<String>,
    pub error: Option<String>,
}

/// What a new restore asks for.
pub struct NewRestore<'a> {
    pub camera: Option<&'a str>,
    pub from_ms: i64,
    pub to_ms: i64,
    pub tier: &'a str,
    pub days: u32,
    pub out_dir: &'a str,
    pub merge: bool,
    pub kind: &'a str,
    pub est_cost_cny: f64,
}

/// How many restores and clips are in flight, for metrics and health.
#[derive(Debug, Default, Clone, Serialize)]
pub struct InFlight {
    pub restores: u64,
    pub waiting: u64,
    /// Earliest expiry of a restored copy not yet downloaded.
    pub first_expiry_ms: Option<i64>,
}

const RESTORE_COLS: &str =
    "id, created_ms, camera, from_ms, to_ms, tier, days, out_dir, merge, kind, state, est_cost_cny, done_ms, error";
const ITEM_COLS: &str = "i.restore_id, i.file_id, f.key, f.size, f.crc64, i.source, i.state, i.requested_ms,
     i.expires_ms, i.polls, i.path, i.error";

fn candidate_row(r: &rusqlite::Row) -> rusqlite::Result<Candidate> {
    Ok(Candidate {
        file_id: r.get(0)?,
        camera: r.get(1)?,
        key: r.get(2)?,
        start_ms: r.get(3)?,
        size: r.get::<_, i64>(4)? as u64,
        crc64: r.get(5)?,
        cached: r.get(6)?,
        stored: r.get(7)?,
        storage_class: r.get(8)?,
    })
}

fn restore_row(r: &rusqlite::Row) -> rusqlite::Result<RestoreRow> {
    Ok(RestoreRow {
        id: r.get(0)?,
        created_ms: r.get(1)?,
        camera: r.get(2)?,
        from_ms: r.get(3)?,
        to_ms: r.get(4)?,
        tier: r.get(5)?,
        days: r.get(6)?,
        out_dir: r.get(7)?,
        merge: r.get(8)?,
        kind: r.get(9)?,
        state: r.get(10)?,
        est_cost_cny: r.get(11)?,
        done_ms: r.get(12)?,
        error: r.get(13)?,
    })
}

fn item_row(r: &rusqlite::Row) -> rusqlite::Result<ItemRow> {
    Ok(ItemRow {
        restore_id: r.get(0)?,
        file_id: r.get(1)?,
        key: r.get(2)?,
        size: r.get::<_, i64>(3)? as u64,
        crc64: r.get(4)?,
        source: r.get(5)?,
        state: r.get(6)?,
        requested_ms: r.get(7)?,
        expires_ms: r.get(8)?,
        polls: r.get(9)?,
        path: r.get(10)?,
        error: r.get(11)?,
    })
}

impl Catalog {
    /// Clips of `camera` (or all cameras) starting in `[from, to)`, or the one clip `key`.
    pub fn restore_candidates(
        &self,
        camera: Option<&str>,
        from_ms: i64,
        to_ms: i64,
        key: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Candidate>> {
        let c = self.lock();
        let mut st = c.prepare_cached(
            "SELECT id, camera, key, start_ms, size, crc64, purged_ms IS NULL, state IN ('uploaded', 'verified'), storage_class
             FROM files
             WHERE (?4 IS NOT NULL AND key = ?4)
                OR (?4 IS NULL AND (?1 IS NULL OR camera = ?1) AND start_ms >= ?2 AND start_ms < ?3)
             ORDER BY camera, start_ms, id
             LIMIT ?5",
        )?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = st
            .query_map(params![camera, from_ms, to_ms, key, limit], candidate_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Records a restore and its clips (`(file_id, source)`), all pending; returns its id.
    pub fn create_restore(&self, r: &NewRestore, items: &[(i64, &str)], now_ms: i64) -> Result<i64> {
        let mut c = self.lock();
        let tx = c.transaction()?;
        tx.execute(
            "INSERT INTO restores (created_ms, camera, from_ms, to_ms, tier, days, out_dir, merge, kind, state, est_cost_cny)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'active', ?10)",
            params![now_ms, r.camera, r.from_ms, r.to_ms, r.tier, r.days, r.out_dir, r.merge, r.kind, r.est_cost_cny],
        )?;
        let id = tx.last_insert_rowid();
        for (file_id, source) in items {
            tx.execute(
                "INSERT INTO restore_items (restore_id, file_id, source, state) VALUES (?1, ?2, ?3, 'pending')",
                params![id, file_id, source],
            )?;
        }
        tx.commit()?;
        Ok(id)
    }

    pub fn restores(&self, limit: usize) -> Result<Vec<RestoreRow>> {
        let c = self.lock();
        let mut st = c.prepare_cached(&format!(
            "SELECT {RESTORE_COLS} FROM restores ORDER BY id DESC LIMIT ?1"
        ))?;
        let rows = st
            .query_map([limit as i64], restore_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    pub fn restore(&self, id: i64) -> Result<Option<RestoreRow>> {
        let c = self.lock();
        let mut st = c.prepare_cached(&format!("SELECT {RESTORE_COLS} FROM restores WHERE id = ?1"))?;
        Ok(st.query_row([id], restore_row).optional()?)
    }

    pub fn restore_items(&self, id: i64) -> Result<Vec<ItemRow>> {
        let c = self.lock();
        let mut st = c.prepare_cached(&format!(
            "SELECT {ITEM_COLS} FROM restore_items i JOIN files f ON f.id = i.file_id
             WHERE i.restore_id = ?1 ORDER BY f.start_ms, f.id"
        ))?;
        let rows = st.query_map([id], item_row)?.collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Items of active restores due for work at `now_ms`.
    pub fn due_restore_items(&self, now_ms: i64, limit: usize) -> Result<Vec<ItemRow>> {
        let c = self.lock();
        let mut st = c.prepare_cached(&format!(
            "SELECT {ITEM_COLS} FROM restore_items i JOIN files f ON f.id = i.file_id
             JOIN restores r ON r.id = i.restore_id
             WHERE r.state = 'active' AND i.state IN ('pending', 'requested', 'ready') AND i.next_poll_ms <= ?1
             ORDER BY i.next_poll_ms, i.restore_id, f.start_ms LIMIT ?2"
        ))?;
        let rows = st
            .query_map(params![now_ms, limit as i64], item_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// When the next item of an active restore is due, if any.
    pub fn next_restore_poll_ms(&self) -> Result<Option<i64>> {
        let c = self.lock();
        Ok(c.query_row(
            "SELECT min(i.next_poll_ms) FROM restore_items i JOIN restores r ON r.id = i.restore_id
             WHERE r.state = 'active' AND i.state IN ('pending', 'requested', 'ready')",
            [],
            |r| r.get(0),
        )?)
    }

    /// When another active restore already asked the store for this file: asking again
    /// would only bill another request.
    pub fn restore_requested_elsewhere(&self, file_id: i64, restore_id: i64) -> Result<Option<i64>> {
        let c = self.lock();
        Ok(c.query_row(
            "SELECT max(i.requested_ms) FROM restore_items i JOIN restores r ON r.id = i.restore_id
             WHERE i.file_id = ?1 AND i.restore_id != ?2 AND r.state = 'active'
               AND i.state IN ('requested', 'ready') AND i.requested_ms IS NOT NULL",
            params![file_id, restore_id],
            |r| r.get(0),
        )?)
    }

    /// Moves one item on. `None` fields keep their value.
    #[allow(clippy::too_many_arguments)]
    pub fn update_restore_item(
        &self,
        restore_id: i64,
        file_id: i64,
        state: &str,
        requested_ms: Option<i64>,
        expires_ms: Option<i64>,
        next_poll_ms: i64,
        path: Option<&str>,
        error: Option<&str>,
    ) -> Result<()> {
        let c = self.lock();
        c.execute(
            "UPDATE restore_items SET state = ?3, requested_ms = coalesce(?4, requested_ms),
                 expires_ms = coalesce(?5, expires_ms), next_poll_ms = ?6, path = coalesce(?7, path), error = ?8,
                 polls = polls + (CASE WHEN ?3 = 'requested' AND state = 'requested' THEN 1 ELSE 0 END)
             WHERE restore_id = ?1 AND file_id = ?2",
            params![
                restore_id,
                file_id,
                state,
                requested_ms,
                expires_ms,
                next_poll_ms,
                path,
                error
            ],
        )?;
        Ok(())
    }

    /// Ends a restore (`done`, `failed` or `cancelled`); items still open become cancelled.
    pub fn finish_restore(&self, id: i64, state: &str, error: Option<&str>, now_ms: i64) -> Result<bool> {
        let mut c = self.lock();
        let tx = c.transaction()?;
        let changed = tx.execute(
            "UPDATE restores SET state = ?2, error = ?3, done_ms = ?4 WHERE id = ?1 AND state = 'active'",
            params![id, state, error, now_ms],
        )?;
        tx.execute(
            "UPDATE restore_items SET state = 'cancelled' WHERE restore_id = ?1 AND state IN ('pending', 'requested', 'ready')",
            [id],
        )?;
        tx.commit()?;
        Ok(changed == 1)
    }

    /// Restores whose every item has reached an end state while the restore is still active.
    pub fn restores_settled(&self) -> Result<Vec<i64>> {
        let c = self.lock();
        let mut st = c.prepare_cached(
            "SELECT r.id FROM restores r WHERE r.state = 'active' AND NOT EXISTS
                (SELECT 1 FROM restore_items i WHERE i.restore_id = r.id AND i.state IN ('pending', 'requested', 'ready'))",
        )?;
        let rows = st.query_map([], |r| r.get(0))?.collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    pub fn restores_in_flight(&self) -> Result<InFlight> {
        let c = self.lock();
        let (restores, waiting) = c.query_row(
            "SELECT count(DISTINCT r.id), count(i.file_id) FROM restores r
             LEFT JOIN restore_items i ON i.restore_id = r.id AND i.state IN ('pending', 'requested', 'ready')
             WHERE r.state = 'active'",
            [],
            |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64)),
        )?;
        let first_expiry_ms = c.query_row(
            "SELECT min(i.expires_ms) FROM restore_items i JOIN restores r ON r.id = i.restore_id
             WHERE r.state = 'active' AND i.state = 'ready'",
            [],
            |r| r.get(0),
        )?;
        Ok(InFlight {
            restores,
            waiting,
            first_expiry_ms,
        })
    }

    /// One RestoreObject request the store accepted for this item (a bill line).
    pub fn count_restore_request(&self, restore_id: i64, file_id: i64) -> Result<()> {
        let c = self.lock();
        c.execute(
            "UPDATE restore_items SET sent = sent + 1 WHERE restore_id = ?1 AND file_id = ?2",
            params![restore_id, file_id],
        )?;
        Ok(())
    }

    /// Records the storage class the store reported for an object (lifecycle moves it).
    pub fn set_storage_class(&self, key: &str, class: &str) -> Result<()> {
        let c = self.lock();
        c.execute(
            "UPDATE files SET storage_class = ?2, class_checked_ms = ?3 WHERE key = ?1",
            params![key, class, jiff::Timestamp::now().as_millisecond()],
        )?;
        Ok(())
    }

    /// Counts objects a HEAD still showed in Standard more than `late_ms` after upload
    /// (the transition age plus the grace OSS needs) and keeps the result for `summary`.
    pub fn record_transition_late(&self, late_ms: i64) -> Result<(u64, Option<String>)> {
        let found: (u64, Option<String>) = {
            let c = self.lock();
            c.query_row(
                "SELECT count(*), min(key) FROM files WHERE storage_class = 'Standard'
                 AND class_checked_ms IS NOT NULL AND class_checked_ms > uploaded_ms + ?1",
                [late_ms],
                |r| Ok((r.get::<_, i64>(0)? as u64, r.get(1)?)),
            )?
        };
        self.kv_set(super::TRANSITION_LATE_KEY, &serde_json::to_string(&found)?)?;
        Ok(found)
    }

    /// Up to `n` random stored clips recorded before `before_ms`, smallest first: drill candidates.
    pub fn drill_candidates(&self, before_ms: i64, n: usize) -> Result<Vec<Candidate>> {
        let c = self.lock();
        let mut st = c.prepare_cached(
            "SELECT id, camera, key, start_ms, size, crc64, purged_ms IS NULL, 1, storage_class FROM
                (SELECT * FROM files WHERE state IN ('uploaded', 'verified') AND uploaded_ms < ?1 ORDER BY random() LIMIT ?2)
             ORDER BY size",
        )?;
        let rows = st
            .query_map(params![before_ms, n as i64], candidate_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Stored objects by the class last seen: (class, files, bytes). A scan of the
    /// stored rows; fine for a scrape every few seconds up to millions of rows.
    pub fn stored_by_class(&self) -> Result<Vec<(String, u64, u64)>> {
        let c = self.lock();
        let mut st = c.prepare_cached(
            "SELECT coalesce(storage_class, 'Standard'), count(*), sum(size) FROM files
             WHERE state IN ('uploaded', 'verified') GROUP BY 1 ORDER BY 1",
        )?;
        let rows = st
            .query_map([], |r| {
                Ok((r.get(0)?, r.get::<_, i64>(1)? as u64, r.get::<_, i64>(2)? as u64))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// The longest capture-to-verified time of files verified since `since_ms`.
    pub fn verify_lag_ms(&self, since_ms: i64) -> Result<Option<i64>> {
        let c = self.lock();
        Ok(c.query_row(
            "SELECT max(verified_ms - captured_ms) FROM files WHERE state = 'verified' AND verified_ms >= ?1",
            [since_ms],
            |r| r.get(0),
        )?)
    }

    /// What the store has held so far, for the bill: (byte-days in Standard, byte-days
    /// past the transition age, objects uploaded, RestoreObject requests sent), counting
    /// each object from its upload and moving it after `transition_ms`.
    pub fn usage_so_far(&self, now_ms: i64, transition_ms: i64) -> Result<(f64, f64, u64, u64)> {
        let c = self.lock();
        let (std, arch, n): (f64, f64, i64) = c.query_row(
            "SELECT coalesce(sum(size * min(?1 - uploaded_ms, ?2) / 86400000.0), 0),
                    coalesce(sum(size * max(?1 - uploaded_ms - ?2, 0) / 86400000.0), 0), count(*)
             FROM files WHERE uploaded_ms IS NOT NULL",
            params![now_ms, transition_ms],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        let restores: i64 = c.query_row("SELECT coalesce(sum(sent), 0) FROM restore_items", [], |r| r.get(0))?;
        Ok((std, arch, n as u64, restores as u64))
    }
}
