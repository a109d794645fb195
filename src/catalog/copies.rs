//! The copies of each recording in the mirror stores (issue 21): one row per file and
//! mirror, with its own state, key, class, checksum, attempts and times.
//!
//! **The invariants.**
//! - The main store's copy is the file's own row in `files` (state, crc64, class, times),
//!   unchanged by mirrors: every query from before mirrors reads it as it did. A mirror's
//!   copy is a row in `copies`; the main store never has one.
//! - `mirrors` lists the mirrors of the running config ([`Catalog::sync_mirrors`] at each
//!   start). A file captured while a mirror is listed gets a `pending` copy for it in the
//!   same transaction (a trigger), so no recording can be missed by a mirror's worker; a
//!   mirror added later gets a `pending` copy of every file the vault still holds.
//! - A copy goes `pending → uploading → verified`; `failed` (with the reason, the retry
//!   count and the next attempt) when a try fails; `missing` when the store no longer has
//!   an object that was verified (it is uploaded again). `uploading` with a checksum means
//!   the bytes were sent and only the verification is left.
//! - The local copy is removed only when the main store has verified the file **and** at
//!   least `need` listed mirrors have ([`Catalog::purgeable_oldest_first`] picks only such
//!   rows and [`Catalog::mark_purged_copied`] refuses any other). A mirror removed from the
//!   config no longer counts, and its rows stay as history.

use anyhow::{bail, Result};
use rusqlite::{params, OptionalExtension};
use serde::Serialize;

use super::files::FileRow;
use super::Catalog;

/// A copy that a mirror's worker has to upload or verify.
#[derive(Debug, Clone)]
pub struct CopyRow {
    pub file_id: i64,
    pub store: String,
    /// The key in the mirror (today always the file's key, which is also its vault path).
    pub key: String,
    /// The file's key, its path under the vault.
    pub vault_key: String,
    pub size: u64,
    /// CRC-64 of the bytes sent to this mirror, once sent.
    pub crc64: Option<String>,
    pub attempts: u32,
    /// The vault still holds the file.
    pub local: bool,
}

/// A verified copy as a manifest lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct CopyRef {
    pub store: String,
    pub key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<String>,
    /// When it was last verified, Unix milliseconds.
    pub verified_ms: i64,
}

/// Copies of one store by state, for `status`, `/metrics` and `/api/status`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StoreCopies {
    pub store: String,
    pub verified: u64,
    pub verified_bytes: u64,
    /// Not yet verified and not failing (pending, uploading).
    pub pending: u64,
    /// The last try failed (retried with backoff), or the object went missing.
    pub failing: u64,
    /// Recordings of the catalog that have no copy row at all (captured before the
    /// mirror was added and no longer in the vault): `camvault mirror backfill` copies them.
    pub without_copy: u64,
}

const COPY_COLS: &str = "c.file_id, c.store, c.key, f.key, f.size, c.crc64, c.attempts, f.purged_ms IS NULL";

fn row_to_copy(r: &rusqlite::Row) -> rusqlite::Result<CopyRow> {
    Ok(CopyRow {
        file_id: r.get(0)?,
        store: r.get(1)?,
        key: r.get(2)?,
        vault_key: r.get(3)?,
        size: r.get::<_, i64>(4)? as u64,
        crc64: r.get(5)?,
        attempts: r.get::<_, i64>(6)? as u32,
        local: r.get(7)?,
    })
}

impl Catalog {
    /// Records the mirrors of the running config: a new one gets a `pending` copy of every
    /// file the vault still holds; one no longer configured is unlisted (its copies stay,
    /// but no longer count). Returns each new mirror with the number of copies queued.
    pub fn sync_mirrors(&self, names: &[&str], now_ms: i64) -> Result<Vec<(String, u64)>> {
        let mut c = self.lock();
        let tx = c.transaction()?;
        let listed: Vec<String> = tx
            .prepare("SELECT name FROM mirrors")?
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        for old in &listed {
            if !names.contains(&old.as_str()) {
                tx.execute("DELETE FROM mirrors WHERE name = ?1", [old])?;
                // Its health problem (`mirror::probe_key`) goes with it: nothing will
                // clear it any more.
                tx.execute("DELETE FROM kv WHERE key = 'probe.mirror.' || ?1", [old])?;
            }
        }
        let mut added = Vec::new();
        for name in names {
            if listed.iter().any(|l| l == name) {
                continue;
            }
            tx.execute(
                "INSERT INTO mirrors (name, added_ms) VALUES (?1, ?2)",
                params![name, now_ms],
            )?;
            let n = tx.execute(
                "INSERT OR IGNORE INTO copies (file_id, store, key, state, next_attempt_ms)
                 SELECT id, ?1, key, 'pending', next_attempt_ms FROM files WHERE purged_ms IS NULL",
                [name],
            )?;
            added.push((name.to_string(), n as u64));
        }
        tx.commit()?;
        Ok(added)
    }

    /// The mirrors listed by the last [`Catalog::sync_mirrors`].
    pub fn mirrors(&self) -> Result<Vec<String>> {
        let c = self.lock();
        let rows = c
            .prepare_cached("SELECT name FROM mirrors ORDER BY name")?
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    /// Copies of `store` due now whose bytes are still in the vault, oldest try first.
    pub fn copies_due(&self, store: &str, now_ms: i64, limit: usize) -> Result<Vec<CopyRow>> {
        let c = self.lock();
        let mut st = c.prepare_cached(&format!(
            "SELECT {COPY_COLS} FROM copies c JOIN files f ON f.id = c.file_id
             WHERE c.store = ?1 AND c.state != 'verified' AND c.next_attempt_ms <= ?2 AND f.purged_ms IS NULL
             ORDER BY c.next_attempt_ms, c.file_id LIMIT ?3"
        ))?;
        let rows = st
            .query_map(params![store, now_ms, limit as i64], row_to_copy)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// When the next copy of `store` that is not yet due becomes due.
    pub fn next_copy_due_ms(&self, store: &str) -> Result<Option<i64>> {
        let c = self.lock();
        Ok(c.query_row(
            "SELECT min(next_attempt_ms) FROM copies WHERE store = ?1 AND state != 'verified'",
            [store],
            |r| r.get(0),
        )?)
    }

    /// One copy as it is now; `None` once verified or gone.
    pub fn copy(&self, file_id: i64, store: &str) -> Result<Option<CopyRow>> {
        let c = self.lock();
        let mut st = c.prepare_cached(&format!(
            "SELECT {COPY_COLS} FROM copies c JOIN files f ON f.id = c.file_id
             WHERE c.file_id = ?1 AND c.store = ?2 AND c.state != 'verified'"
        ))?;
        let mut rows = st.query(params![file_id, store])?;
        Ok(match rows.next()? {
            Some(r) => Some(row_to_copy(r)?),
            None => None,
        })
    }

    /// The copy's bytes are on their way (or, with `crc64`, sent: only verification is left).
    pub fn copy_uploading(
        &self,
        file_id: i64,
        store: &str,
        crc64: Option<&str>,
        class: &str,
        now_ms: i64,
    ) -> Result<()> {
        let c = self.lock();
        c.execute(
            "UPDATE copies SET state = 'uploading', crc64 = coalesce(?3, crc64), storage_class = ?4,
                uploaded_ms = CASE WHEN ?3 IS NULL THEN uploaded_ms ELSE ?5 END
             WHERE file_id = ?1 AND store = ?2 AND state != 'verified'",
            params![file_id, store, crc64, class, now_ms],
        )?;
        Ok(())
    }

    pub fn copy_verified(&self, file_id: i64, store: &str, now_ms: i64) -> Result<()> {
        let c = self.lock();
        c.execute(
            "UPDATE copies SET state = 'verified', verified_ms = ?3, last_error = NULL WHERE file_id = ?1 AND store = ?2",
            params![file_id, store, now_ms],
        )?;
        Ok(())
    }

    /// A failed try; the copy is due again at `next_attempt_ms`. The error is kept in
    /// `attempts` too, named by the store.
    pub fn copy_failed(&self, file_id: i64, store: &str, error: &str, now_ms: i64, next_attempt_ms: i64) -> Result<()> {
        let mut c = self.lock();
        let tx = c.transaction()?;
        tx.execute(
            "UPDATE copies SET state = 'failed', attempts = attempts + 1, last_error = ?3, next_attempt_ms = ?4
             WHERE file_id = ?1 AND store = ?2",
            params![file_id, store, error, next_attempt_ms],
        )?;
        tx.execute(
            "INSERT INTO attempts (file_id, at_ms, stage, error) VALUES (?1, ?2, ?3, ?4)",
            params![file_id, now_ms, format!("mirror {store}"), error],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// `catalog rebuild`: mirror `store` holds file `id` with these bytes (checked).
    pub fn copy_found(
        &self,
        file_id: i64,
        store: &str,
        key: &str,
        crc64: &str,
        class: &str,
        now_ms: i64,
    ) -> Result<()> {
        let c = self.lock();
        c.execute(
            "INSERT OR REPLACE INTO copies (file_id, store, key, state, storage_class, crc64, uploaded_ms, verified_ms)
             VALUES (?1, ?2, ?3, 'verified', ?4, ?5, ?6, ?6)",
            params![file_id, store, key, class, crc64, now_ms],
        )?;
        Ok(())
    }

    /// Every copy of `store` not yet verified is due now: a one-off run (`ingest --once`)
    /// tries each once, whatever `serve`'s backoff had planned.
    pub fn copies_due_now(&self, store: &str) -> Result<()> {
        let c = self.lock();
        c.execute(
            "UPDATE copies SET next_attempt_ms = 0 WHERE store = ?1 AND state != 'verified' AND next_attempt_ms > 0",
            [store],
        )?;
        Ok(())
    }

    /// Not there yet (a read-only mirror's replica lags): looked at again at
    /// `next_attempt_ms`, without counting as a failure.
    pub fn copy_later(&self, file_id: i64, store: &str, why: &str, next_attempt_ms: i64) -> Result<()> {
        let c = self.lock();
        c.execute(
            "UPDATE copies SET attempts = attempts + 1, last_error = ?3, next_attempt_ms = ?4
             WHERE file_id = ?1 AND store = ?2 AND state != 'verified'",
            params![file_id, store, why, next_attempt_ms],
        )?;
        Ok(())
    }

    /// The store no longer has a copy it had: upload it again (from the vault).
    pub fn copy_missing(&self, file_id: i64, store: &str, error: &str) -> Result<()> {
        let c = self.lock();
        c.execute(
            "UPDATE copies SET state = 'missing', crc64 = NULL, uploaded_ms = NULL, verified_ms = NULL,
                last_error = ?3, next_attempt_ms = 0 WHERE file_id = ?1 AND store = ?2",
            params![file_id, store, error],
        )?;
        Ok(())
    }

    /// `mirror backfill`: a `pending` copy for `store` of every verified recording that has
    /// none (those that left the vault before the mirror was added). Returns how many.
    pub fn queue_backfill(&self, store: &str) -> Result<u64> {
        let c = self.lock();
        let n = c.execute(
            "INSERT OR IGNORE INTO copies (file_id, store, key, state, next_attempt_ms)
             SELECT id, ?1, key, 'pending', 0 FROM files WHERE state = 'verified' AND purged_ms IS NOT NULL",
            [store],
        )?;
        Ok(n as u64)
    }

    /// Copies of `store` not verified whose file has left the vault (so must come from
    /// another store), by file id after `after`.
    pub fn copies_to_backfill(&self, store: &str, after: i64, limit: usize) -> Result<Vec<CopyRow>> {
        let c = self.lock();
        let mut st = c.prepare_cached(&format!(
            "SELECT {COPY_COLS} FROM copies c JOIN files f ON f.id = c.file_id
             WHERE c.store = ?1 AND c.state != 'verified' AND f.purged_ms IS NOT NULL AND c.file_id > ?2
             ORDER BY c.file_id LIMIT ?3"
        ))?;
        let rows = st
            .query_map(params![store, after, limit as i64], row_to_copy)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Verified copies of `store` after file id `after`, in id order: the scrub's next batch.
    pub fn copies_to_scrub(&self, store: &str, after: i64, limit: usize) -> Result<Vec<CopyRow>> {
        let c = self.lock();
        let mut st = c.prepare_cached(&format!(
            "SELECT {COPY_COLS} FROM copies c JOIN files f ON f.id = c.file_id
             WHERE c.store = ?1 AND c.state = 'verified' AND c.file_id > ?2 ORDER BY c.file_id LIMIT ?3"
        ))?;
        let rows = st
            .query_map(params![store, after, limit as i64], row_to_copy)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Up to `n` random verified copies of `store` (the scrub's deep sample).
    pub fn random_copies(&self, store: &str, n: usize) -> Result<Vec<CopyRow>> {
        if n == 0 {
            return Ok(Vec::new());
        }
        let c = self.lock();
        let mut st = c.prepare_cached(&format!(
            "SELECT {COPY_COLS} FROM copies c JOIN files f ON f.id = c.file_id
             WHERE c.store = ?1 AND c.state = 'verified' ORDER BY random() LIMIT ?2"
        ))?;
        let rows = st
            .query_map(params![store, n as i64], row_to_copy)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// The CRC-64 the main store verified for file `id`.
    pub fn file_crc(&self, id: i64) -> Result<Option<String>> {
        let c = self.lock();
        Ok(c.query_row("SELECT crc64 FROM files WHERE id = ?1", [id], |r| r.get(0))?)
    }

    /// The verified mirror copies of each of `ids`, by file id, in store order.
    pub fn verified_copies(&self, ids: &[i64]) -> Result<std::collections::HashMap<i64, Vec<CopyRef>>> {
        let c = self.lock();
        let mut st = c.prepare_cached(
            "SELECT store, key, storage_class, verified_ms FROM copies
             WHERE file_id = ?1 AND state = 'verified' ORDER BY store",
        )?;
        let mut out = std::collections::HashMap::new();
        for id in ids {
            let rows = st
                .query_map([id], |r| {
                    Ok(CopyRef {
                        store: r.get(0)?,
                        key: r.get(1)?,
                        class: r.get(2)?,
                        verified_ms: r.get::<_, Option<i64>>(3)?.unwrap_or(0),
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            if !rows.is_empty() {
                out.insert(*id, rows);
            }
        }
        Ok(out)
    }

    /// Whether a listed mirror still lacks a verified copy of a recording of `camera`
    /// starting in [`from_ms`, `to_ms`) (the day's manifest waits for it).
    pub fn copies_unverified_in(&self, camera: &str, from_ms: i64, to_ms: i64) -> Result<bool> {
        let c = self.lock();
        let found = c
            .prepare_cached(
                "SELECT 1 FROM files f JOIN copies c ON c.file_id = f.id JOIN mirrors m ON m.name = c.store
                 WHERE f.camera = ?1 AND f.start_ms >= ?2 AND f.start_ms < ?3 AND c.state != 'verified' LIMIT 1",
            )?
            .exists(params![camera, from_ms, to_ms])?;
        Ok(found)
    }

    /// The CRC-64 of file `id` once the main store has verified it.
    pub fn file_crc_verified(&self, id: i64) -> Result<Option<String>> {
        let c = self.lock();
        Ok(c.query_row(
            "SELECT crc64 FROM files WHERE id = ?1 AND state = 'verified'",
            [id],
            |r| r.get(0),
        )
        .optional()?
        .flatten())
    }

    /// Every listed mirror's copies by state.
    pub fn copy_counts(&self) -> Result<Vec<StoreCopies>> {
        let c = self.lock();
        let mut out: Vec<StoreCopies> = Vec::new();
        let names: Vec<String> = c
            .prepare_cached("SELECT name FROM mirrors ORDER BY name")?
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        let total: i64 = c.query_row("SELECT coalesce(sum(files), 0) FROM stats", [], |r| r.get(0))?;
        for name in names {
            let mut s = StoreCopies {
                store: name.clone(),
                ..Default::default()
            };
            let mut st = c.prepare_cached("SELECT state, count(*) FROM copies WHERE store = ?1 GROUP BY state")?;
            let rows = st.query_map([&name], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64)))?;
            let mut rows_total = 0;
            for row in rows {
                let (state, n) = row?;
                rows_total += n;
                match state.as_str() {
                    "verified" => s.verified += n,
                    "failed" | "missing" => s.failing += n,
                    _ => s.pending += n,
                }
            }
            s.verified_bytes = c
                .prepare_cached(
                    "SELECT coalesce(sum(f.size), 0) FROM copies c JOIN files f ON f.id = c.file_id
                     WHERE c.store = ?1 AND c.state = 'verified'",
                )?
                .query_row([&name], |r| r.get::<_, i64>(0))? as u64;
            s.without_copy = (total as u64).saturating_sub(rows_total);
            out.push(s);
        }
        Ok(out)
    }

    /// Bytes verified in `store` since `since_ms`: the rate a disk mirror fills at.
    pub fn copied_bytes_since(&self, store: &str, since_ms: i64) -> Result<u64> {
        let c = self.lock();
        let n: i64 = c
            .prepare_cached(
                "SELECT coalesce(sum(f.size), 0) FROM copies c JOIN files f ON f.id = c.file_id
                 WHERE c.store = ?1 AND c.state = 'verified' AND c.verified_ms >= ?2",
            )?
            .query_row(params![store, since_ms], |r| r.get(0))?;
        Ok(n as u64)
    }

    /// Verified files still in the vault that at least `need` listed mirrors also hold
    /// verified, oldest recording first: the cache keeper's candidates.
    pub fn purgeable_oldest_first(&self, need: u32, limit: usize) -> Result<Vec<FileRow>> {
        if need == 0 {
            return self.cached_oldest_first(limit);
        }
        let c = self.lock();
        let mut st = c.prepare_cached(&format!(
            "SELECT {} FROM files f WHERE f.state = 'verified' AND f.purged_ms IS NULL AND {ENOUGH}
             ORDER BY f.start_ms LIMIT ?1",
            super::files::FILE_COLS
        ))?;
        let rows = st
            .query_map(params![limit as i64, need], super::files::row_to_file)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Marks the vault copy gone, only if the main store and `need` mirrors have verified it.
    pub fn mark_purged_copied(&self, id: i64, need: u32, now_ms: i64) -> Result<()> {
        if need == 0 {
            return self.mark_purged(id, now_ms);
        }
        let c = self.lock();
        let n = c.execute(
            &format!(
                "UPDATE files AS f SET purged_ms = ?3 WHERE f.id = ?1 AND f.state = 'verified' AND f.purged_ms IS NULL AND {ENOUGH}"
            ),
            params![id, need, now_ms],
        )?;
        if n != 1 {
            bail!("refusing to mark file {id} purged: it is not verified in the main store and {need} mirror(s)");
        }
        Ok(())
    }
}

/// `?2` listed mirrors hold the file `f` verified.
const ENOUGH: &str = "(SELECT count(*) FROM copies c JOIN mirrors m ON m.name = c.store
     WHERE c.file_id = f.id AND c.state = 'verified') >= ?2";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::tests::new_file;

    #[test]
    fn copies_follow_the_mirrors_and_guard_the_cache() {
        let dir = tempfile::tempdir().unwrap();
        let cat = Catalog::open(&dir.path().join("c.sqlite"), true).unwrap();
        // Without mirrors nothing changes: no copy rows, the old purge rule.
        let (a, _) = cat
            .insert_captured(&new_file(b"a.mp4", "v/a.mp4", 1), |_| Ok(()))
            .unwrap();
        assert!(cat.copies_due("usb", i64::MAX, 10).unwrap().is_empty());
        assert!(cat.copy_counts().unwrap().is_empty());
        // A mirror added later queues every file the vault holds.
        assert_eq!(cat.sync_mirrors(&["usb"], 5).unwrap(), vec![("usb".to_string(), 1)]);
        assert_eq!(cat.sync_mirrors(&["usb"], 6).unwrap(), vec![], "listed once");
        // A file captured now gets its copy in the same transaction.
        let (b, _) = cat
            .insert_captured(&new_file(b"b.mp4", "v/b.mp4", 2), |_| Ok(()))
            .unwrap();
        let due = cat.copies_due("usb", i64::MAX, 10).unwrap();
        assert_eq!(due.iter().map(|c| c.file_id).collect::<Vec<_>>(), vec![a, b]);
        assert_eq!(due[1].key, "v/b.mp4");
        // Both verified in the main store: still not purgeable, the mirror has neither.
        for id in [a, b] {
            cat.mark_uploaded(id, "00", "Standard", 7).unwrap();
            cat.mark_verified(id, 8).unwrap();
        }
        assert!(cat.purgeable_oldest_first(1, 10).unwrap().is_empty());
        assert!(
            cat.mark_purged_copied(a, 1, 9).is_err(),
            "refused without the mirror's copy"
        );
        // The mirror: a failure, then a success for `a`.
        cat.copy_uploading(a, "usb", None, "Standard", 9).unwrap();
        cat.copy_failed(a, "usb", "disk away", 10, 1_000).unwrap();
        assert!(
            cat.copies_due("usb", 999, 10).unwrap().iter().all(|c| c.file_id != a),
            "backing off"
        );
        assert_eq!(cat.next_copy_due_ms("usb").unwrap(), Some(0), "b is due");
        let n = cat.copy_counts().unwrap();
        assert_eq!((n[0].verified, n[0].pending, n[0].failing), (0, 1, 1), "{n:?}");
        cat.copy_uploading(a, "usb", Some("00"), "Standard", 11).unwrap();
        cat.copy_verified(a, "usb", 12).unwrap();
        let p = cat.purgeable_oldest_first(1, 10).unwrap();
        assert_eq!(p.iter().map(|r| r.id).collect::<Vec<_>>(), vec![a]);
        cat.mark_purged_copied(a, 1, 13).unwrap();
        assert!(cat.mark_purged_copied(b, 1, 13).is_err());
        let n = cat.copy_counts().unwrap();
        assert_eq!(
            (n[0].verified, n[0].verified_bytes, n[0].pending, n[0].failing),
            (1, 10, 1, 0)
        );
        assert_eq!(cat.copied_bytes_since("usb", 12).unwrap(), 10);
        assert_eq!(cat.copied_bytes_since("usb", 13).unwrap(), 0);
        // A lost object goes back to be copied again.
        cat.copy_missing(a, "usb", "gone").unwrap();
        assert_eq!(cat.copy_counts().unwrap()[0].failing, 1);
        // A mirror dropped from the config no longer counts and gets no new copies, and
        // its health problem goes.
        cat.kv_set(&crate::mirror::probe_key("usb"), "away").unwrap();
        cat.sync_mirrors(&[], 20).unwrap();
        assert_eq!(cat.kv_get(&crate::mirror::probe_key("usb")).unwrap(), None);
        assert!(cat.mirrors().unwrap().is_empty());
        let (c, _) = cat
            .insert_captured(&new_file(b"c.mp4", "v/c.mp4", 3), |_| Ok(()))
            .unwrap();
        assert!(cat.copy(c, "usb").unwrap().is_none());
        cat.mark_uploaded(b, "00", "Standard", 21).unwrap();
        cat.mark_verified(b, 21).unwrap();
        assert_eq!(
            cat.purgeable_oldest_first(0, 10).unwrap().len(),
            1,
            "b, by the old rule"
        );
        // Re-adding it queues what the vault holds and has no copy yet.
        assert_eq!(cat.sync_mirrors(&["usb"], 30).unwrap(), vec![("usb".to_string(), 1)]);
        assert_eq!(cat.copy_counts().unwrap()[0].without_copy, 0);
    }
}
