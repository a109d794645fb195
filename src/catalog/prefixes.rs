//! The prefixes of the bucket that hold recordings camvault did not write under its key
//! template (adopted ones), so that `lifecycle` keeps every one of them under a rule.
//!
//! Its own table, created on first write, so that a catalog without it (older, or opened
//! read-only) simply has no adopted prefixes.

use anyhow::Result;
use rusqlite::params;

use super::Catalog;

/// One adopted prefix and what the catalog holds under it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingPrefix {
    pub prefix: String,
    pub camera: String,
    pub added_ms: i64,
}

/// Objects and bytes of the catalog under one prefix, by whether they are still in Standard.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Under {
    pub objects: u64,
    pub bytes: u64,
    pub standard_objects: u64,
    pub standard_bytes: u64,
}

const TABLE: &str = "CREATE TABLE IF NOT EXISTS recording_prefixes (
    prefix TEXT PRIMARY KEY,
    camera TEXT NOT NULL,
    added_ms INTEGER NOT NULL
)";

impl Catalog {
    /// Remembers that `prefix` holds recordings of `camera` (first camera seen wins).
    pub fn add_recording_prefix(&self, prefix: &str, camera: &str, now_ms: i64) -> Result<()> {
        let c = self.lock();
        c.execute_batch(TABLE)?;
        c.execute(
            "INSERT INTO recording_prefixes (prefix, camera, added_ms) VALUES (?1, ?2, ?3) ON CONFLICT (prefix) DO NOTHING",
            params![prefix, camera, now_ms],
        )?;
        Ok(())
    }

    /// Every adopted prefix, sorted.
    pub fn recording_prefixes(&self) -> Result<Vec<RecordingPrefix>> {
        let c = self.lock();
        let exists: bool = c
            .prepare_cached("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'recording_prefixes'")?
            .exists([])?;
        if !exists {
            return Ok(Vec::new());
        }
        let mut st = c.prepare_cached("SELECT prefix, camera, added_ms FROM recording_prefixes ORDER BY prefix")?;
        let rows = st
            .query_map([], |r| {
                Ok(RecordingPrefix {
                    prefix: r.get(0)?,
                    camera: r.get(1)?,
                    added_ms: r.get(2)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// What the catalog holds under `prefix` (stored objects only: uploaded or verified).
    pub fn under_prefix(&self, prefix: &str) -> Result<Under> {
        let c = self.lock();
        let mut st = c.prepare_cached(
            "SELECT count(*), coalesce(sum(size), 0),
                    coalesce(sum(storage_class = 'Standard'), 0),
                    coalesce(sum(CASE WHEN storage_class = 'Standard' THEN size ELSE 0 END), 0)
             FROM files WHERE substr(key, 1, length(?1)) = ?1 AND state IN ('uploaded', 'verified')",
        )?;
        let u = st.query_row([prefix], |r| {
            Ok(Under {
                objects: r.get::<_, i64>(0)? as u64,
                bytes: r.get::<_, i64>(1)? as u64,
                standard_objects: r.get::<_, i64>(2)? as u64,
                standard_bytes: r.get::<_, i64>(3)? as u64,
            })
        })?;
        Ok(u)
    }

    /// Every cataloged key (for comparing with a bucket listing).
    pub fn all_keys(&self) -> Result<Vec<(String, u64, String)>> {
        let c = self.lock();
        let mut st = c.prepare_cached("SELECT key, size, state FROM files WHERE key IS NOT NULL ORDER BY key")?;
        let rows = st
            .query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64, r.get(2)?)))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }
}
