//! Catalog reads for "the best copy" (issue 21, items 3 and 4): which mirrors hold a
//! verified copy of a file (restores and playback read the cheapest), and which restore
//! backfills which mirror (so that a rerun resumes it instead of asking the store again).

use anyhow::Result;
use rusqlite::params;

use super::Catalog;

/// A verified copy of a file in a mirror that the running config lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MirrorCopy {
    pub store: String,
    pub key: String,
    /// The class it was written in (its lifecycle may have moved it since).
    pub storage_class: Option<String>,
}

impl Catalog {
    /// The verified copies of file `file_id` in listed mirrors, by mirror name.
    pub fn verified_mirror_copies(&self, file_id: i64) -> Result<Vec<MirrorCopy>> {
        let c = self.lock();
        let mut st = c.prepare_cached(
            "SELECT c.store, c.key, c.storage_class FROM copies c JOIN mirrors m ON m.name = c.store
             WHERE c.file_id = ?1 AND c.state = 'verified' ORDER BY c.store",
        )?;
        let rows = st
            .query_map([file_id], |r| {
                Ok(MirrorCopy {
                    store: r.get(0)?,
                    key: r.get(1)?,
                    storage_class: r.get(2)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Records restore `restore_id` as the one that backfills `mirror`.
    pub fn add_mirror_backfill_restore(&self, restore_id: i64, mirror: &str) -> Result<()> {
        let c = self.lock();
        c.execute(
            "INSERT OR REPLACE INTO mirror_backfill_restores (restore_id, mirror) VALUES (?1, ?2)",
            params![restore_id, mirror],
        )?;
        Ok(())
    }

    /// The restores that backfill `mirror`, newest first.
    pub fn mirror_backfill_restores(&self, mirror: &str) -> Result<Vec<i64>> {
        let c = self.lock();
        let mut st = c.prepare_cached(
            "SELECT restore_id FROM mirror_backfill_restores WHERE mirror = ?1 ORDER BY restore_id DESC",
        )?;
        let rows = st
            .query_map([mirror], |r| r.get(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }
}
