//! The journal of multipart uploads in progress, for the main store and every mirror
//! alike (migration 18): per file and store, the upload id and the parts the store has
//! confirmed, so that an upload interrupted by a crash resumes instead of starting over
//! (the invariants are `store::multipart`'s). Keyed by store as well as file, so that two
//! stores' uploads of one file never mix their parts.

use std::sync::Arc;

use anyhow::Result;
use rusqlite::{params, OptionalExtension};

use super::Catalog;
use crate::store::{MultipartJournal, MultipartProgress, PartDone};

/// One store's multipart journal in the catalog.
pub struct Journal {
    catalog: Arc<Catalog>,
    store: String,
}

impl Journal {
    /// The main store's journal (the store `primary`).
    pub fn primary(catalog: Arc<Catalog>) -> Journal {
        Journal::of(catalog, crate::config::PRIMARY)
    }

    /// Store `store`'s journal: a mirror's name, or `primary`.
    pub fn of(catalog: Arc<Catalog>, store: &str) -> Journal {
        Journal {
            catalog,
            store: store.to_string(),
        }
    }
}

impl MultipartJournal for Journal {
    fn load(&self, file_id: i64) -> Result<Option<MultipartProgress>> {
        let c = self.catalog.lock();
        let head = c
            .prepare_cached(
                "SELECT key, upload_id, part_size FROM multipart_uploads WHERE file_id = ?1 AND store = ?2",
            )?
            .query_row(params![file_id, self.store], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?))
            })
            .optional()?;
        let Some((key, upload_id, part_size)) = head else {
            return Ok(None);
        };
        let mut st = c.prepare_cached(
            "SELECT part, size, etag, checksum FROM multipart_parts WHERE file_id = ?1 AND store = ?2 ORDER BY part",
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
        // The parts go with the upload they belong to (ON DELETE CASCADE): a new upload of
        // the file forgets the old one's.
        tx.execute(
            "DELETE FROM multipart_uploads WHERE file_id = ?1 AND store = ?2",
            params![file_id, self.store],
        )?;
        tx.execute(
            "INSERT INTO multipart_uploads (file_id, store, key, upload_id, part_size, started_ms)
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
            "INSERT OR REPLACE INTO multipart_parts (file_id, store, part, size, etag, checksum)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![file_id, self.store, p.part, p.size as i64, p.etag, p.checksum],
        )?;
        Ok(())
    }

    fn finish(&self, file_id: i64) -> Result<()> {
        // The parts go with it (ON DELETE CASCADE).
        self.catalog.lock().execute(
            "DELETE FROM multipart_uploads WHERE file_id = ?1 AND store = ?2",
            params![file_id, self.store],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::tests::new_file;

    fn part(n: u32) -> PartDone {
        PartDone {
            part: n,
            size: 5 << 20,
            etag: format!("\"e{n}\""),
            checksum: Some(format!("m{n}")),
        }
    }

    #[test]
    fn remembers_an_upload_until_it_finishes() {
        let dir = tempfile::tempdir().unwrap();
        let cat = Arc::new(Catalog::open(&dir.path().join("c.sqlite"), true).unwrap());
        let (id, _) = cat
            .insert_captured(&new_file(b"a.mp4", "v/a.mp4", 7), |_| Ok(()))
            .unwrap();
        let j = Journal::primary(cat.clone());
        assert_eq!(j.load(id).unwrap(), None);
        j.begin(id, "v/a.mp4", "up-1", 5 << 20).unwrap();
        j.part_done(id, &part(2)).unwrap();
        j.part_done(id, &part(1)).unwrap();
        j.part_done(id, &part(1)).unwrap(); // sent again: replaced, not doubled
        let p = j.load(id).unwrap().unwrap();
        assert_eq!(
            (p.key.as_str(), p.upload_id.as_str(), p.part_size),
            ("v/a.mp4", "up-1", 5 << 20)
        );
        assert_eq!(p.parts, vec![part(1), part(2)]);
        // A new upload of the same file forgets the old one's parts.
        j.begin(id, "v/a.mp4", "up-2", 5 << 20).unwrap();
        let p = j.load(id).unwrap().unwrap();
        assert_eq!((p.upload_id.as_str(), p.parts.len()), ("up-2", 0));
        j.finish(id).unwrap();
        assert_eq!(j.load(id).unwrap(), None);
    }

    /// Each store's journal is its own and outlives the process (a reopened catalog).
    #[test]
    fn journals_are_kept_per_store_and_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.sqlite");
        let cat = Arc::new(Catalog::open(&path, true).unwrap());
        let (id, _) = cat
            .insert_captured(&new_file(b"a.mp4", "v/a.mp4", 1), |_| Ok(()))
            .unwrap();
        Journal::of(cat.clone(), "usb").begin(id, "v/a.mp4", "up-1", 5).unwrap();
        Journal::of(cat.clone(), "usb").part_done(id, &part(1)).unwrap();
        Journal::of(cat.clone(), "sh").begin(id, "v/a.mp4", "up-2", 5).unwrap();
        drop(cat);
        let cat = Arc::new(Catalog::open(&path, true).unwrap());
        let j = |s: &str| Journal::of(cat.clone(), s);
        let usb = j("usb").load(id).unwrap().unwrap();
        assert_eq!((usb.upload_id.as_str(), usb.parts.len()), ("up-1", 1));
        let sh = j("sh").load(id).unwrap().unwrap();
        assert_eq!((sh.upload_id.as_str(), sh.parts.len()), ("up-2", 0));
        assert!(
            Journal::primary(cat.clone()).load(id).unwrap().is_none(),
            "not the main store's"
        );
        j("usb").finish(id).unwrap();
        assert!(j("usb").load(id).unwrap().is_none());
        assert!(j("sh").load(id).unwrap().is_some());
    }

    /// An upload in progress while camvault is upgraded (one to the main store, one to a
    /// mirror, each in its own table before migration 18) resumes afterwards: each
    /// store's journal still has its upload id and parts.
    #[test]
    fn uploads_in_progress_survive_migration_18() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.sqlite");
        let m18 = super::super::MIGRATIONS
            .iter()
            .position(|m| *m == include_str!("migration18.sql"))
            .expect("migration 18 is listed");
        {
            let mut c = rusqlite::Connection::open(&path).unwrap();
            c.pragma_update(None, "foreign_keys", "ON").unwrap();
            super::super::migrate(&mut c, m18).unwrap();
            c.execute_batch(
                "INSERT INTO cameras (id, tz, first_seen_ms) VALUES ('door', 'UTC', 0);
                 INSERT INTO files (id, camera, inbox_path, key, revision, layout, start_ms, size,
                                    mtime_ns, dev, ino, state, captured_ms)
                     VALUES (7, 'door', x'612e6d7034', 'v/a.mp4', 0, 'generic', 0, 20971520,
                             0, 1, 1, 'captured', 0);
                 INSERT INTO multipart_uploads (file_id, key, upload_id, part_size, started_ms)
                     VALUES (7, 'v/a.mp4', 'up-main', 5242880, 1);
                 INSERT INTO multipart_parts (file_id, part, size, etag, checksum) VALUES
                     (7, 1, 5242880, '\"e1\"', 'm1'), (7, 2, 5242880, '\"e2\"', 'm2');
                 INSERT INTO mirror_multipart_uploads (file_id, store, key, upload_id, part_size, started_ms)
                     VALUES (7, 'usb', 'v/a.mp4', 'up-usb', 5242880, 1);
                 INSERT INTO mirror_multipart_parts (file_id, store, part, size, etag, checksum)
                     VALUES (7, 'usb', 2, 5242880, '\"e2\"', 'm2');",
            )
            .unwrap();
        }
        let cat = Arc::new(Catalog::open(&path, false).unwrap());
        let main = Journal::primary(cat.clone())
            .load(7)
            .unwrap()
            .expect("the main store's upload");
        assert_eq!(
            (main.key.as_str(), main.upload_id.as_str(), main.part_size),
            ("v/a.mp4", "up-main", 5 << 20)
        );
        assert_eq!(main.parts, vec![part(1), part(2)]);
        let usb = Journal::of(cat.clone(), "usb")
            .load(7)
            .unwrap()
            .expect("the mirror's upload");
        assert_eq!(usb.upload_id, "up-usb");
        assert_eq!(usb.parts, vec![part(2)]);
        // The resumed uploads go on and end in the one table.
        Journal::primary(cat.clone()).part_done(7, &part(3)).unwrap();
        assert_eq!(Journal::primary(cat.clone()).load(7).unwrap().unwrap().parts.len(), 3);
        Journal::primary(cat.clone()).finish(7).unwrap();
        assert!(Journal::primary(cat.clone()).load(7).unwrap().is_none());
        assert_eq!(Journal::of(cat.clone(), "usb").load(7).unwrap().unwrap().parts.len(), 1);
    }
}
