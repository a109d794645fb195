//! Catalog side of the per camera-day index objects (issue 15, item 3; migration 10): which
//! indexed clips no object lists yet, the objects written, and which manifest names them.

use anyhow::Result;
use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};

use super::Catalog;

/// An indexed clip no index object lists yet.
#[derive(Debug, Clone)]
pub struct Unwritten {
    pub file_id: i64,
    pub camera: String,
    pub tz: String,
    pub start_ms: i64,
}

/// An index object as a manifest names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexRef {
    pub key: String,
    pub size: u64,
    pub crc64: String,
    pub sha256: String,
}

impl Catalog {
    /// Clips indexed (in any state) that no index object lists, starting before `before_ms`.
    pub fn index_unwritten(&self, before_ms: i64) -> Result<Vec<Unwritten>> {
        let c = self.lock();
        let rows = c
            .prepare_cached(
                "SELECT ic.file_id, ic.camera, coalesce(cm.tz, 'UTC'), ic.start_ms
                 FROM index_clips ic LEFT JOIN cameras cm ON cm.id = ic.camera
                 WHERE ic.day_id IS NULL AND ic.start_ms < ?1
                 ORDER BY ic.camera, ic.start_ms, ic.file_id",
            )?
            .query_map([before_ms], |r| {
                Ok(Unwritten {
                    file_id: r.get(0)?,
                    camera: r.get(1)?,
                    tz: r.get(2)?,
                    start_ms: r.get(3)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    /// Clips of a camera in `[from, to)` in the indexer's queue.
    pub fn index_pending(&self, camera: &str, from_ms: i64, to_ms: i64) -> Result<i64> {
        let c = self.lock();
        let n = c
            .prepare_cached(
                "SELECT count(*) FROM index_queue q JOIN files f ON f.id = q.file_id
                 WHERE f.camera = ?1 AND f.start_ms >= ?2 AND f.start_ms < ?3",
            )?
            .query_row(params![camera, from_ms, to_ms], |r| r.get(0))?;
        Ok(n)
    }

    /// Whether a clip of the camera in `[from, to)` is indexed but in no index object yet.
    pub fn index_days_unwritten_in(&self, camera: &str, from_ms: i64, to_ms: i64) -> Result<bool> {
        let c = self.lock();
        let any = c
            .prepare_cached(
                "SELECT 1 FROM index_clips WHERE camera = ?1 AND start_ms >= ?2 AND start_ms < ?3 AND day_id IS NULL",
            )?
            .exists(params![camera, from_ms, to_ms])?;
        Ok(any)
    }

    pub fn index_day_key_taken(&self, key: &str) -> Result<bool> {
        let c = self.lock();
        let taken = c
            .prepare_cached("SELECT 1 FROM index_days WHERE key = ?1")?
            .exists([key])?;
        Ok(taken)
    }

    /// Records a written (or, in `catalog rebuild`, found) index object and the clips it
    /// lists, in one transaction.
    pub fn record_index_day(
        &self,
        camera: &str,
        date: &str,
        r: &IndexRef,
        file_ids: &[i64],
        now_ms: i64,
    ) -> Result<()> {
        let mut c = self.lock();
        let tx = c.transaction()?;
        let id: i64 = match tx
            .query_row("SELECT id FROM index_days WHERE key = ?1", [&r.key], |r| r.get(0))
            .optional()?
        {
            Some(id) => id,
            None => {
                tx.execute(
                    "INSERT INTO index_days (camera, date, key, size, crc64, sha256, clips, written_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                    params![
                        camera,
                        date,
                        r.key,
                        r.size as i64,
                        r.crc64,
                        r.sha256,
                        file_ids.len() as i64,
                        now_ms
                    ],
                )?;
                tx.last_insert_rowid()
            }
        };
        {
            let mut st = tx.prepare_cached("UPDATE index_clips SET day_id = ?1 WHERE file_id = ?2")?;
            for f in file_ids {
                st.execute(params![id, f])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// The camera-day's index objects no manifest names yet.
    pub fn index_days_unlisted(&self, camera: &str, date: &str) -> Result<Vec<IndexRef>> {
        let c = self.lock();
        let rows = c
            .prepare_cached(
                "SELECT key, size, crc64, sha256 FROM index_days
                 WHERE camera = ?1 AND date = ?2 AND manifest_id IS NULL ORDER BY id",
            )?
            .query_map(params![camera, date], |r| {
                Ok(IndexRef {
                    key: r.get(0)?,
                    size: r.get::<_, i64>(1)? as u64,
                    crc64: r.get(2)?,
                    sha256: r.get(3)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    /// Notes that the manifest `manifest_key` names these index objects.
    pub fn index_days_listed(&self, keys: &[String], manifest_key: &str) -> Result<()> {
        let c = self.lock();
        let mut st = c.prepare_cached(
            "UPDATE index_days SET manifest_id = (SELECT id FROM manifests WHERE key = ?2) WHERE key = ?1",
        )?;
        for k in keys {
            st.execute(params![k, manifest_key])?;
        }
        Ok(())
    }
}
