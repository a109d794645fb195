//! Catalog queries of the web interface: clips with where each one lives (cache, store
//! class, restore), the newest clip per camera, and files still lacking a thumbnail.

use anyhow::Result;
use rusqlite::params;
use serde::Serialize;

use super::Catalog;

/// One clip as the timeline, search and player see it.
#[derive(Debug, Clone, Serialize)]
pub struct Clip {
    pub id: i64,
    pub camera: String,
    pub key: String,
    pub start_ms: i64,
    pub end_ms: Option<i64>,
    pub duration_ms: Option<i64>,
    pub size: u64,
    pub state: String,
    /// The vault copy is on local disk.
    pub local: bool,
    pub storage_class: Option<String>,
    pub codec: Option<String>,
    /// The state of the newest restore item of this clip, if any.
    pub restore_state: Option<String>,
    /// The verified restored copy, once a restore brought it back.
    pub restored_path: Option<String>,
    /// Listed mirrors that hold a verified copy (issue 21), comma-separated.
    #[serde(skip)]
    pub mirror_copies: Option<String>,
}

const CLIP_COLS: &str = "f.id, f.camera, f.key, f.start_ms, f.end_ms, f.duration_ms, f.size, f.state,
    f.purged_ms IS NULL, f.storage_class, f.codec,
    (SELECT ri.state FROM restore_items ri WHERE ri.file_id = f.id ORDER BY ri.restore_id DESC LIMIT 1),
    (SELECT ri.path FROM restore_items ri WHERE ri.file_id = f.id AND ri.state = 'done' AND ri.path IS NOT NULL
     ORDER BY ri.restore_id DESC LIMIT 1),
    (SELECT group_concat(c.store) FROM copies c JOIN mirrors m ON m.name = c.store
     WHERE c.file_id = f.id AND c.state = 'verified')";

fn clip_row(r: &rusqlite::Row) -> rusqlite::Result<Clip> {
    Ok(Clip {
        id: r.get(0)?,
        camera: r.get(1)?,
        key: r.get(2)?,
        start_ms: r.get(3)?,
        end_ms: r.get(4)?,
        duration_ms: r.get(5)?,
        size: r.get::<_, i64>(6)? as u64,
        state: r.get(7)?,
        local: r.get(8)?,
        storage_class: r.get(9)?,
        codec: r.get(10)?,
        restore_state: r.get(11)?,
        restored_path: r.get(12)?,
        mirror_copies: r.get(13)?,
    })
}

impl Catalog {
    /// Clips of `camera` (or all) starting in `[from, to)`, oldest first.
    pub fn clips(&self, camera: Option<&str>, from_ms: i64, to_ms: i64, limit: usize) -> Result<Vec<Clip>> {
        let c = self.lock();
        let sql = format!(
            "SELECT {CLIP_COLS} FROM files f
             WHERE (?1 IS NULL OR f.camera = ?1) AND f.start_ms >= ?2 AND f.start_ms < ?3
               AND f.superseded_by IS NULL AND f.kind = 'video'
             ORDER BY f.start_ms, f.id LIMIT ?4"
        );
        let mut st = c.prepare_cached(&sql)?;
        let rows = st
            .query_map(params![camera, from_ms, to_ms, limit as i64], clip_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// One clip by id.
    pub fn clip(&self, id: i64) -> Result<Option<Clip>> {
        let c = self.lock();
        let sql = format!("SELECT {CLIP_COLS} FROM files f WHERE f.id = ?1");
        let mut st = c.prepare_cached(&sql)?;
        let mut rows = st.query_map([id], clip_row)?;
        Ok(rows.next().transpose()?)
    }

    /// The newest clip of a camera.
    pub fn last_clip(&self, camera: &str) -> Result<Option<Clip>> {
        let c = self.lock();
        let sql =
            format!("SELECT {CLIP_COLS} FROM files f WHERE f.camera = ?1 AND f.superseded_by IS NULL AND f.kind = 'video' ORDER BY f.start_ms DESC, f.id DESC LIMIT 1");
        let mut st = c.prepare_cached(&sql)?;
        let mut rows = st.query_map([camera], clip_row)?;
        Ok(rows.next().transpose()?)
    }

    /// Local clips with an id above `after_id`, in id order: (id, key).
    pub fn local_after(&self, after_id: i64, limit: usize) -> Result<Vec<(i64, String)>> {
        let c = self.lock();
        let mut st =
            c.prepare_cached("SELECT id, key FROM files WHERE id > ?1 AND purged_ms IS NULL ORDER BY id LIMIT ?2")?;
        let rows = st
            .query_map(params![after_id, limit as i64], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Every camera and its zone: (id, tz).
    pub fn camera_zones(&self) -> Result<Vec<(String, String)>> {
        let c = self.lock();
        let mut st = c.prepare_cached("SELECT id, tz FROM cameras ORDER BY id")?;
        let rows = st
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }
}
