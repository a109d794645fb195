//! The multipart journal of a mirror's uploads (migration 17): what `catalog::multipart`
//! is for the main store, keyed by file **and** mirror, so that an upload to a mirror
//! interrupted by a crash resumes (the invariants of `store::multipart`) and two stores'
//! uploads of one file never mix their parts.

use std::sync::Arc;

use anyhow::Result;
use rusqlite::params;

use super::Catalog;
use crate::store::{MultipartJournal, MultipartProgress, PartDone};

/// Mirror `store`'s journal in the catalog.
pub struct MirrorJournal {
    pub catalog: Arc<Catalog>,
    pub store: String,
}

impl MultipartJournal for MirrorJournal {
    fn load(&self, file_id: i64) -> Result<Option<MultipartProgress>> {
        let c = self.catalog.lock();
        let mut st = c.prepare_cached(
            "SELECT key, upload_id, part_size FROM mirror_multipart_uploads WHERE file_id = ?1 AND store = ?2",
        )?;
        let mut rows = st.query(params![file_id, self.store])?;
        let Some(r) = rows.next()? else { return Ok(None) };
        let (key, upload_id, part_size): (String, String, i64) = (r.get(0)?, r.get(1)?, r.get(2)?);
        drop(rows);
        let mut st = c.prepare_cached(
            "SELECT part, size, etag, checksum FROM mirror_multipart_parts WHERE file_id = ?1 AND store = ?2 ORDER BY part",
        )?;
        let parts = st
            .query_map(params![file_id, self.store], |r| {
                Ok(PartDone {
                    part: r.get(0)?,
                    size: r.get::<_, i64>(1)? as u64,
                    etag: r.get(2)?,
                    checksum: r.get(3)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(Some(MultipartProgress {
            key,
            upload_id,
            part_size: part_size as u64,
            parts,
        }))
    }

    fn begin(&self, file_id: i64, key: &str, upload_id: &str, part_size: u64) -> Result<()> {
        let mut c = self.catalog.lock();
        let tx = c.transaction()?;
        tx.execute(
            "DELETE FROM mirror_multipart_parts WHERE file_id = ?1 AND store = ?2",
            params![file_id, self.store],
        )?;
        tx.execute(
            "INSERT OR REPLACE INTO mirror_multipart_uploads (file_id, store, key, upload_id, part_size, started_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                file_id,
                self.store,
                key,
                upload_id,
                part_size as i64,
                jiff::Timestamp::now().as_millisecond()
            ],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn part_done(&self, file_id: i64, p: &PartDone) -> Result<()> {
        self.catalog.lock().execute(
            "INSERT OR REPLACE INTO mirror_multipart_parts (file_id, store, part, size, etag, checksum)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![file_id, self.store, p.part, p.size as i64, p.etag, p.checksum],
        )?;
        Ok(())
    }

    fn finish(&self, file_id: i64) -> Result<()> {
        let mut c = self.catalog.lock();
        let tx = c.transaction()?;
        tx.execute(
            "DELETE FROM mirror_multipart_parts WHERE file_id = ?1 AND store = ?2",
            params![file_id, self.store],
        )?;
        tx.execute(
            "DELETE FROM mirror_multipart_uploads WHERE file_id = ?1 AND store = ?2",
            params![file_id, self.store],
        )?;
        tx.commit()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::tests::new_file;

    /// Each mirror's journal is its own and outlives the process (a reopened catalog).
    #[test]
    fn journals_are_kept_per_mirror_and_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.sqlite");
        let cat = Arc::new(Catalog::open(&path, true).unwrap());
        let (id, _) = cat
            .insert_captured(&new_file(b"a.mp4", "v/a.mp4", 1), |_| Ok(()))
            .unwrap();
        let j = |s: &str, cat: &Arc<Catalog>| MirrorJournal {
            catalog: cat.clone(),
            store: s.into(),
        };
        let part = |n: u32| PartDone {
            part: n,
            size: 5,
            etag: format!("e{n}"),
            checksum: None,
        };
        j("usb", &cat).begin(id, "v/a.mp4", "up-1", 5).unwrap();
        j("usb", &cat).part_done(id, &part(1)).unwrap();
        j("sh", &cat).begin(id, "v/a.mp4", "up-2", 5).unwrap();
        drop(cat);
        let cat = Arc::new(Catalog::open(&path, true).unwrap());
        let usb = j("usb", &cat).load(id).unwrap().unwrap();
        assert_eq!((usb.upload_id.as_str(), usb.parts.len()), ("up-1", 1));
        let sh = j("sh", &cat).load(id).unwrap().unwrap();
        assert_eq!((sh.upload_id.as_str(), sh.parts.len()), ("up-2", 0));
        assert!(
            crate::store::MultipartJournal::load(&*cat, id).unwrap().is_none(),
            "not the main store's"
        );
        j("usb", &cat).finish(id).unwrap();
        assert!(j("usb", &cat).load(id).unwrap().is_none());
        assert!(j("sh", &cat).load(id).unwrap().is_some());
    }
}
