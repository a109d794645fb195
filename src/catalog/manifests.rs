//! Daily manifests: which verified files are not yet listed, and the per-camera chain of
//! manifests written (seq, sha256 of the previous one).

use anyhow::Result;
use rusqlite::params;

use super::Catalog;

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

impl Catalog {
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
}
