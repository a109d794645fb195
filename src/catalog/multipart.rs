//! Multipart uploads in progress (migration 4): the upload id and the parts the store
//! has, so that an upload interrupted by a crash resumes instead of starting over.

use anyhow::Result;
use rusqlite::params;

use super::Catalog;

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
mod multipart_journal_tests {
    use crate::catalog::Catalog;
    use crate::store::{MultipartJournal, PartDone};

    #[test]
    fn remembers_an_upload_until_it_finishes() {
        let dir = tempfile::tempdir().unwrap();
        let cat = Catalog::open(&dir.path().join("c.sqlite"), true).unwrap();
        let (id, _) = cat
            .insert_captured(&crate::catalog::tests::new_file(b"a.mp4", "v/a.mp4", 7), |_| Ok(()))
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
