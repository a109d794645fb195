//! Restores and storage classes in the catalog: each restore, each clip in it and where
//! it stands; the class each object was last seen in.
//!
//! Everything a restore needs to go on after a crash is here; `restore::step` only ever
//! moves an item forward from what these rows say.

use anyhow::{bail, Result};
use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};
use rusqlite::{params, OptionalExtension};
use serde::Serialize;

use super::Catalog;

/// Where a restore stands: `active` until every clip is in (or it is cancelled), then one
/// of the three ends, which are final.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RestoreStatus {
    Active,
    Done,
    Failed,
    Cancelled,
}

impl RestoreStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RestoreStatus::Active => "active",
            RestoreStatus::Done => "done",
            RestoreStatus::Failed => "failed",
            RestoreStatus::Cancelled => "cancelled",
        }
    }

    /// Only an active restore ends, and only in one of the ends.
    pub fn can_become(self, to: RestoreStatus) -> bool {
        self == RestoreStatus::Active && to != RestoreStatus::Active
    }
}

/// Where one clip of a restore stands.
///
/// `pending` (nothing asked yet) → `requested` (the store is restoring it) → `ready` (a
/// restored copy is readable until it expires) → `done` (a verified local copy), with
/// `failed` and `cancelled` as the other ends. A step that must try again keeps the state
/// it had; a restored copy that expired before it was read goes back to `requested`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ItemState {
    Pending,
    Requested,
    Ready,
    Done,
    Failed,
    Cancelled,
}

impl ItemState {
    pub fn as_str(self) -> &'static str {
        match self {
            ItemState::Pending => "pending",
            ItemState::Requested => "requested",
            ItemState::Ready => "ready",
            ItemState::Done => "done",
            ItemState::Failed => "failed",
            ItemState::Cancelled => "cancelled",
        }
    }

    /// Still waiting for work (the restore's `serve` step looks at it).
    pub fn is_open(self) -> bool {
        matches!(self, ItemState::Pending | ItemState::Requested | ItemState::Ready)
    }

    /// The moves `restore::step` may make: an end is final, and nothing goes back to
    /// `pending` (the store was asked, or another restore asked for the same copy).
    pub fn can_become(self, to: ItemState) -> bool {
        use ItemState::*;
        match (self, to) {
            (Done | Failed | Cancelled, _) => false,
            (Pending, _) => true,
            (Requested | Ready, Pending) => false,
            (Requested | Ready, _) => true,
        }
    }
}

impl std::fmt::Display for RestoreStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

impl std::fmt::Display for ItemState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// Stored as their lowercase names, as the schema's CHECK constraints list them.
macro_rules! sql_text_enum {
    ($t:ty, $($v:expr),+) => {
        impl FromSql for $t {
            fn column_result(v: ValueRef<'_>) -> FromSqlResult<Self> {
                let s = v.as_str()?;
                [$($v),+]
                    .into_iter()
                    .find(|x| x.as_str() == s)
                    .ok_or_else(|| FromSqlError::Other(format!("unknown {} {s:?}", stringify!($t)).into()))
            }
        }
        impl ToSql for $t {
            fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
                Ok(ToSqlOutput::from(self.as_str()))
            }
        }
    };
}
sql_text_enum!(
    RestoreStatus,
    RestoreStatus::Active,
    RestoreStatus::Done,
    RestoreStatus::Failed,
    RestoreStatus::Cancelled
);
sql_text_enum!(
    ItemState,
    ItemState::Pending,
    ItemState::Requested,
    ItemState::Ready,
    ItemState::Done,
    ItemState::Failed,
    ItemState::Cancelled
);

/// One step of a restore item: the state it moves to and what it learned. `None` fields
/// keep their value; `error` replaces the last one (`None` clears it).
#[derive(Debug, Clone, Default)]
pub struct ItemUpdate<'a> {
    pub requested_ms: Option<i64>,
    pub expires_ms: Option<i64>,
    /// When the item is due again (0: at once, or never for an end).
    pub next_poll_ms: i64,
    /// The verified local copy.
    pub path: Option<&'a str>,
    pub error: Option<&'a str>,
}

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
    pub state: RestoreStatus,
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
    pub state: ItemState,
    pub requested_ms: Option<i64>,
    pub expires_ms: Option<i64>,
    pub polls: u32,
    pub path: Option<String>,
    pub error: Option<String>,
    /// RestoreObject requests this item sent that the store acknowledged (billed).
    #[serde(skip)]
    pub sent: u32,
    /// The mirror this clip is read from (issue 21); `None`: the cache or the main store.
    pub store: Option<String>,
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
     i.expires_ms, i.polls, i.path, i.error, i.sent,
     (SELECT s.store FROM restore_item_stores s WHERE s.restore_id = i.restore_id AND s.file_id = i.file_id)";

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
        sent: r.get(12)?,
        store: r.get(13)?,
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
        self.create_restore_from(r, items, &[], now_ms)
    }

    /// [`Catalog::create_restore`], with the clips read from a mirror (`(file_id, mirror)`)
    /// recorded in the same transaction.
    pub fn create_restore_from(
        &self,
        r: &NewRestore,
        items: &[(i64, &str)],
        mirrors: &[(i64, &str)],
        now_ms: i64,
    ) -> Result<i64> {
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
        for (file_id, store) in mirrors {
            tx.execute(
                "INSERT INTO restore_item_stores (restore_id, file_id, store) VALUES (?1, ?2, ?3)",
                params![id, file_id, store],
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

    /// When another active restore already asked store `store` (`primary` or a mirror's
    /// name) for this file: asking again would only bill another request. A restore in
    /// another store does not count: its restored copy is not readable here.
    pub fn restore_requested_elsewhere(&self, file_id: i64, restore_id: i64, store: &str) -> Result<Option<i64>> {
        let c = self.lock();
        Ok(c.query_row(
            "SELECT max(i.requested_ms) FROM restore_items i JOIN restores r ON r.id = i.restore_id
             WHERE i.file_id = ?1 AND i.restore_id != ?2 AND r.state = 'active'
               AND i.state IN ('requested', 'ready') AND i.requested_ms IS NOT NULL
               AND coalesce((SELECT s.store FROM restore_item_stores s
                             WHERE s.restore_id = i.restore_id AND s.file_id = i.file_id), ?3) = ?4",
            params![file_id, restore_id, crate::config::PRIMARY, store],
            |r| r.get(0),
        )?)
    }

    /// Moves `item` (as read) to `to`. Refuses a move [`ItemState::can_become`] forbids;
    /// returns `false`, writing nothing, when the row is no longer in the state it was read
    /// in (the restore was cancelled meanwhile): a step never overwrites a newer state.
    pub fn update_restore_item(&self, item: &ItemRow, to: ItemState, u: &ItemUpdate) -> Result<bool> {
        if !item.state.can_become(to) {
            bail!(
                "restore {} clip {}: a {} clip cannot become {}",
                item.restore_id,
                item.key,
                item.state.as_str(),
                to.as_str()
            );
        }
        let c = self.lock();
        let changed = c.execute(
            "UPDATE restore_items SET state = ?3, requested_ms = coalesce(?4, requested_ms),
                 expires_ms = coalesce(?5, expires_ms), next_poll_ms = ?6, path = coalesce(?7, path), error = ?8,
                 polls = polls + (CASE WHEN ?3 = 'requested' AND state = 'requested' THEN 1 ELSE 0 END)
             WHERE restore_id = ?1 AND file_id = ?2 AND state = ?9",
            params![
                item.restore_id,
                item.file_id,
                to,
                u.requested_ms,
                u.expires_ms,
                u.next_poll_ms,
                u.path,
                u.error,
                item.state
            ],
        )?;
        Ok(changed == 1)
    }

    /// Ends an active restore (`done`, `failed` or `cancelled`); items still open become
    /// cancelled. `false` when it had already ended.
    pub fn finish_restore(&self, id: i64, state: RestoreStatus, error: Option<&str>, now_ms: i64) -> Result<bool> {
        if !RestoreStatus::Active.can_become(state) {
            bail!("restore {id} cannot end as {}", state.as_str());
        }
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
        self.set_slot(&super::kv::TRANSITION_LATE, &found)?;
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

    /// What the main store has held so far, for the bill: (byte-days in Standard,
    /// byte-days past the transition age, objects uploaded, RestoreObject requests sent to
    /// it — not those sent to a mirror), counting each object from its upload and moving it
    /// after `transition_ms`.
    pub fn usage_so_far(&self, now_ms: i64, transition_ms: i64) -> Result<(f64, f64, u64, u64)> {
        let c = self.lock();
        let (std, arch, n): (f64, f64, i64) = c.query_row(
            "SELECT coalesce(sum(size * min(?1 - uploaded_ms, ?2) / 86400000.0), 0),
                    coalesce(sum(size * max(?1 - uploaded_ms - ?2, 0) / 86400000.0), 0), count(*)
             FROM files WHERE uploaded_ms IS NOT NULL",
            params![now_ms, transition_ms],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        let restores: i64 = c.query_row(
            "SELECT coalesce(sum(i.sent), 0) FROM restore_items i WHERE NOT EXISTS
                (SELECT 1 FROM restore_item_stores s WHERE s.restore_id = i.restore_id AND s.file_id = i.file_id)",
            [],
            |r| r.get(0),
        )?;
        Ok((std, arch, n as u64, restores as u64))
    }

    /// RestoreObject requests sent to each mirror that was asked for any (issue 21): the
    /// part of the bill [`Catalog::usage_so_far`] leaves out, by mirror name.
    pub fn mirror_restore_requests(&self) -> Result<Vec<(String, u64)>> {
        let c = self.lock();
        let mut st = c.prepare(
            "SELECT s.store, sum(i.sent) FROM restore_items i
             JOIN restore_item_stores s ON s.restore_id = i.restore_id AND s.file_id = i.file_id
             GROUP BY s.store HAVING sum(i.sent) > 0 ORDER BY s.store",
        )?;
        let rows = st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::tests::new_file;

    const ALL_ITEM: [ItemState; 6] = [
        ItemState::Pending,
        ItemState::Requested,
        ItemState::Ready,
        ItemState::Done,
        ItemState::Failed,
        ItemState::Cancelled,
    ];

    #[test]
    fn item_transitions() {
        use ItemState::*;
        for to in ALL_ITEM {
            assert!(Pending.can_become(to), "pending → {to}");
            for end in [Done, Failed, Cancelled] {
                assert!(!end.can_become(to), "an end is final: {end} → {to}");
            }
        }
        for from in [Requested, Ready] {
            assert!(!from.can_become(Pending), "{from} never goes back to pending");
            for to in [Requested, Ready, Done, Failed, Cancelled] {
                assert!(from.can_become(to), "{from} → {to}");
            }
        }
        assert_eq!(
            ALL_ITEM.iter().filter(|s| s.is_open()).count(),
            3,
            "pending, requested, ready"
        );
    }

    #[test]
    fn restore_transitions() {
        use RestoreStatus::*;
        for to in [Done, Failed, Cancelled] {
            assert!(Active.can_become(to));
            for end in [Done, Failed, Cancelled] {
                assert!(!end.can_become(to), "{end} → {to}");
            }
        }
        assert!(!Active.can_become(Active));
        assert!(!Done.can_become(Active), "an ended restore never starts again");
    }

    fn one_restore() -> (tempfile::TempDir, Catalog, i64) {
        let dir = tempfile::tempdir().unwrap();
        let cat = Catalog::open(&dir.path().join("c.sqlite"), true).unwrap();
        let (file_id, _) = cat
            .insert_captured(&new_file(b"a.mp4", "v/a.mp4", 7), |_| Ok(()))
            .unwrap();
        let r = NewRestore {
            camera: Some("door"),
            from_ms: 0,
            to_ms: i64::MAX,
            tier: "standard",
            days: 1,
            out_dir: "/tmp/x",
            merge: false,
            kind: "user",
            est_cost_cny: 0.0,
        };
        let id = cat.create_restore(&r, &[(file_id, "archive")], 1).unwrap();
        (dir, cat, id)
    }

    #[test]
    fn an_item_moves_only_forward_and_only_from_what_was_read() {
        let (_d, cat, id) = one_restore();
        let item = cat.restore_items(id).unwrap().remove(0);
        assert_eq!(item.state, ItemState::Pending);
        let asked = ItemUpdate {
            requested_ms: Some(10),
            next_poll_ms: 20,
            ..Default::default()
        };
        assert!(cat.update_restore_item(&item, ItemState::Requested, &asked).unwrap());
        let item = cat.restore_items(id).unwrap().remove(0);
        assert_eq!(
            (item.state, item.requested_ms, item.polls),
            (ItemState::Requested, Some(10), 0)
        );
        // Polled again: same state, one more poll, `None` keeps the request time.
        let polled = ItemUpdate {
            next_poll_ms: 30,
            ..Default::default()
        };
        assert!(cat.update_restore_item(&item, ItemState::Requested, &polled).unwrap());
        let item = cat.restore_items(id).unwrap().remove(0);
        assert_eq!((item.requested_ms, item.polls), (Some(10), 1));
        // Back to pending is refused, and nothing is written.
        let err = cat.update_restore_item(&item, ItemState::Pending, &polled).unwrap_err();
        assert!(
            format!("{err}").contains("a requested clip cannot become pending"),
            "{err}"
        );
        assert_eq!(cat.restore_items(id).unwrap()[0].state, ItemState::Requested);
        // The user cancels while a step holds the row as it was: the step writes nothing.
        let stale = item.clone();
        assert!(cat
            .finish_restore(id, RestoreStatus::Cancelled, Some("cancelled by the user"), 40)
            .unwrap());
        let done = ItemUpdate {
            path: Some("/tmp/x/a.mp4"),
            ..Default::default()
        };
        assert!(!cat.update_restore_item(&stale, ItemState::Done, &done).unwrap());
        let item = cat.restore_items(id).unwrap().remove(0);
        assert_eq!((item.state, item.path.as_deref()), (ItemState::Cancelled, None));
        // An end is final.
        assert!(cat.update_restore_item(&item, ItemState::Done, &done).is_err());
        assert_eq!(cat.restore(id).unwrap().unwrap().state, RestoreStatus::Cancelled);
    }

    #[test]
    fn a_request_counts_for_overlapping_restores_of_the_same_store_only() {
        let (_d, cat, first) = one_restore();
        let item = cat.restore_items(first).unwrap().remove(0);
        let asked = ItemUpdate {
            requested_ms: Some(10),
            ..Default::default()
        };
        assert!(cat.update_restore_item(&item, ItemState::Requested, &asked).unwrap());
        let r = NewRestore {
            camera: None,
            from_ms: 0,
            to_ms: i64::MAX,
            tier: "standard",
            days: 1,
            out_dir: "/tmp/y",
            merge: false,
            kind: "user",
            est_cost_cny: 0.0,
        };
        // A second restore of the same clip, restored in mirror "sh".
        let second = cat
            .create_restore_from(&r, &[(item.file_id, "archive")], &[(item.file_id, "sh")], 2)
            .unwrap();
        let id = item.file_id;
        assert_eq!(cat.restore_items(second).unwrap()[0].store.as_deref(), Some("sh"));
        assert_eq!(
            cat.restore_requested_elsewhere(id, second, "primary").unwrap(),
            Some(10)
        );
        assert_eq!(
            cat.restore_requested_elsewhere(id, second, "sh").unwrap(),
            None,
            "the main store's restore is not the mirror's"
        );
        let sh = cat.restore_items(second).unwrap().remove(0);
        let asked = ItemUpdate {
            requested_ms: Some(20),
            ..Default::default()
        };
        assert!(cat.update_restore_item(&sh, ItemState::Requested, &asked).unwrap());
        let third = cat.create_restore(&r, &[(id, "archive")], 3).unwrap();
        assert_eq!(cat.restore_requested_elsewhere(id, third, "sh").unwrap(), Some(20));
        assert_eq!(cat.restore_requested_elsewhere(id, third, "primary").unwrap(), Some(10));
        // The main store's bill counts its own requests, not the mirror's.
        cat.count_restore_request(first, id).unwrap();
        cat.count_restore_request(second, id).unwrap();
        cat.count_restore_request(second, id).unwrap();
        assert_eq!(cat.usage_so_far(0, 0).unwrap().3, 1);
    }

    #[test]
    fn a_restore_ends_once_and_only_in_an_end() {
        let (_d, cat, id) = one_restore();
        assert!(cat.finish_restore(id, RestoreStatus::Active, None, 1).is_err());
        assert_eq!(cat.restore(id).unwrap().unwrap().state, RestoreStatus::Active);
        assert!(cat.finish_restore(id, RestoreStatus::Done, None, 2).unwrap());
        assert!(
            !cat.finish_restore(id, RestoreStatus::Failed, Some("late"), 3).unwrap(),
            "already ended"
        );
        let r = cat.restore(id).unwrap().unwrap();
        assert_eq!((r.state, r.error, r.done_ms), (RestoreStatus::Done, None, Some(2)));
    }

    #[test]
    fn states_are_stored_as_their_names() {
        let (_d, cat, id) = one_restore();
        let item = cat.restore_items(id).unwrap().remove(0);
        cat.update_restore_item(&item, ItemState::Ready, &ItemUpdate::default())
            .unwrap();
        let (r, i): (String, String) = cat
            .lock()
            .query_row(
                "SELECT r.state, i.state FROM restores r JOIN restore_items i ON i.restore_id = r.id",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!((r.as_str(), i.as_str()), ("active", "ready"));
        let json = serde_json::to_value(cat.restore_items(id).unwrap()).unwrap();
        assert_eq!(json[0]["state"], "ready", "the JSON shape is unchanged");
        // A state this camvault does not know is an error, not a silent default.
        cat.lock()
            .execute_batch("PRAGMA ignore_check_constraints = ON; UPDATE restore_items SET state = 'lost';")
            .unwrap();
        assert!(cat.restore_items(id).is_err());
    }
}
