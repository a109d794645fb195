//! What real cameras do to files after writing them, in catalog terms (docs/cameras.md):
//! a rename is the same recording (the row follows it), a file that grows again after it
//! was uploaded gets a new revision that supersedes the partial copy, identical bytes
//! under a second name are an alias rather than a second upload, and a snapshot (`.jpeg`)
//! or other sidecar is attached to the clip with its base name.

use anyhow::Result;
use rusqlite::{params, OptionalExtension};

use super::{Catalog, NewFile};

/// The newest recording of an inode, as capture needs it to recognise a rename or growth.
#[derive(Debug, Clone)]
pub struct SameInode {
    pub id: i64,
    pub key: String,
    pub inbox_path: Vec<u8>,
    /// The vault no longer holds it (verified and purged from the local cache).
    pub purged: bool,
    pub size: u64,
    pub mtime_ns: i64,
    /// Nothing has been sent to any store for it (the main store nor a mirror) and no
    /// uploader will pick it up before its hold ends: its key and facts can still change in
    /// place ([`UNTOUCHED`]).
    pub movable: bool,
}

/// The SQL condition on `files` (as itself, `?now` the time) under which a row is still
/// movable: no store was sent anything for it — no upload attempt or multipart upload to
/// the main store, no mirror's copy past `pending` or tried — and its hold has not ended,
/// so no worker picks it up meanwhile (a mirror's pending copy is due with the file, and
/// [`Catalog::follow_in_place`] moves both). Checked when capture looks, and again in the
/// update, so an upload that begins in between wins.
const UNTOUCHED: &str = "files.uploaded_ms IS NULL AND files.attempts = 0 AND files.next_attempt_ms > ?now
    AND NOT EXISTS (SELECT 1 FROM multipart_uploads m WHERE m.file_id = files.id)
    AND NOT EXISTS (SELECT 1 FROM copies k WHERE k.file_id = files.id AND (k.state != 'pending' OR k.attempts > 0))";

impl Catalog {
    /// The newest row, not superseded, for this device and inode (the caller proves it is
    /// the same file: see `Capturer::known_inode`).
    pub fn same_inode(&self, dev: u64, ino: u64, now_ms: i64) -> Result<Option<SameInode>> {
        let c = self.lock();
        let mut st = c.prepare_cached(&format!(
            "SELECT id, key, inbox_path, purged_ms IS NOT NULL, size, mtime_ns, {}
             FROM files WHERE dev = ?1 AND ino = ?2 AND superseded_by IS NULL
             ORDER BY id DESC LIMIT 1",
            UNTOUCHED.replace("?now", "?3")
        ))?;
        Ok(st
            .query_row(params![dev as i64, ino as i64, now_ms], |r| {
                Ok(SameInode {
                    id: r.get(0)?,
                    key: r.get(1)?,
                    inbox_path: r.get(2)?,
                    purged: r.get(3)?,
                    size: r.get::<_, i64>(4)? as u64,
                    mtime_ns: r.get(5)?,
                    movable: r.get(6)?,
                })
            })
            .optional()?)
    }

    /// A file that is still `movable` was renamed or grew: the row takes the new facts
    /// (path, times from the final name, size) and, when the name changed, a key from it;
    /// its mirrors' pending copies take the key and the hold too, so that none uploads the
    /// file before it is finished, or under its old name. `move_link(old, new)` moves the
    /// vault link inside the transaction. Returns the key.
    pub fn follow_in_place(
        &self,
        id: i64,
        f: &NewFile,
        move_link: impl FnOnce(&str, &str) -> Result<()>,
    ) -> Result<String> {
        let mut c = self.lock();
        let tx = c.transaction()?;
        let old_key: String = tx.query_row("SELECT key FROM files WHERE id = ?1", [id], |r| r.get(0))?;
        let mut revision = 1u32;
        let key = loop {
            let k = crate::keys::revision_key(f.base_key, revision);
            let taken: bool = tx
                .prepare_cached("SELECT 1 FROM files WHERE key = ?1 AND id != ?2")?
                .exists(params![k, id])?;
            if !taken {
                break k;
            }
            revision += 1;
        };
        let changed = tx.execute(
            &format!(
                "UPDATE files SET inbox_path = ?2, key = ?3, revision = ?4, layout = ?5, channel = ?6, start_ms = ?7,
                end_ms = ?8, size = ?9, mtime_ns = ?10, duration_ms = ?11, codec = ?12, width = ?13, height = ?14,
                warning = ?15, next_attempt_ms = max(next_attempt_ms, ?16), stem = ?17
             WHERE id = ?1 AND {}",
                UNTOUCHED.replace("?now", "?18")
            ),
            params![
                id,
                f.inbox_path,
                key,
                revision,
                f.layout,
                f.channel,
                f.start_ms,
                f.end_ms,
                f.size as i64,
                f.mtime_ns,
                f.duration_ms,
                f.codec,
                f.width,
                f.height,
                f.warning,
                f.hold_until_ms,
                stem(f.camera, f.inbox_path),
                f.now_ms,
            ],
        )?;
        if changed == 0 {
            anyhow::bail!(
                "{} became due for upload while camvault followed its rename; it is looked at again at the next scan",
                String::from_utf8_lossy(f.inbox_path)
            );
        }
        tx.execute(
            "UPDATE copies SET key = ?2, next_attempt_ms = max(next_attempt_ms, ?3) WHERE file_id = ?1",
            params![id, key, f.hold_until_ms],
        )?;
        if key != old_key {
            move_link(&old_key, &key)?;
        }
        tx.commit()?;
        Ok(key)
    }

    /// A file already sent to the store was renamed without changing: the row follows
    /// the name (its key, already in the store, stays).
    pub fn follow_rename(&self, id: i64, inbox_path: &[u8]) -> Result<()> {
        let c = self.lock();
        let camera: String = c.query_row("SELECT camera FROM files WHERE id = ?1", [id], |r| r.get(0))?;
        c.execute(
            "UPDATE files SET inbox_path = ?2, stem = ?3 WHERE id = ?1",
            params![id, inbox_path, stem(&camera, inbox_path)],
        )?;
        Ok(())
    }

    /// Local recordings of `camera` starting at `start_ms` with exactly `size` bytes:
    /// candidates for a duplicate.
    pub fn same_size_local(&self, camera: &str, start_ms: i64, size: u64) -> Result<Vec<(i64, String)>> {
        let c = self.lock();
        let mut st = c.prepare_cached(
            "SELECT id, key FROM files WHERE camera = ?1 AND size = ?2 AND start_ms = ?3 AND purged_ms IS NULL
               AND superseded_by IS NULL ORDER BY id LIMIT 16",
        )?;
        let rows = st
            .query_map(params![camera, size as i64, start_ms], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Recordings of `camera` that start at `start_ms` with `size` bytes: (key, still in the
    /// vault, CRC-64 once uploaded). What `import` compares a card's clip against.
    pub fn same_recording(
        &self,
        camera: &str,
        start_ms: i64,
        size: u64,
    ) -> Result<Vec<(String, bool, Option<String>)>> {
        let c = self.lock();
        let mut st = c.prepare_cached(
            "SELECT key, purged_ms IS NULL, crc64 FROM files
             WHERE camera = ?1 AND start_ms = ?2 AND size = ?3 AND superseded_by IS NULL LIMIT 8",
        )?;
        let rows = st
            .query_map(params![camera, start_ms, size as i64], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Remembers `inbox_path` as another name for the bytes of `file_id`.
    pub fn add_alias(&self, inbox_path: &[u8], stat: crate::capture::Stat, file_id: i64, now_ms: i64) -> Result<()> {
        let crate::capture::Stat {
            dev,
            ino,
            size,
            mtime_ns,
        } = stat;
        let c = self.lock();
        c.execute(
            "INSERT INTO aliases (inbox_path, dev, ino, size, mtime_ns, file_id, seen_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (inbox_path, dev, ino) DO UPDATE SET size = excluded.size, mtime_ns = excluded.mtime_ns,
               file_id = excluded.file_id, seen_ms = excluded.seen_ms",
            params![inbox_path, dev as i64, ino as i64, size as i64, mtime_ns, file_id, now_ms],
        )?;
        Ok(())
    }

    /// Links sidecars and clips of the same base name (either may arrive first): a
    /// snapshot or other sidecar points at the newest clip with its stem.
    pub fn attach_sidecars(&self, id: i64) -> Result<()> {
        let c = self.lock();
        let (kind, path, camera): (String, Vec<u8>, String) =
            c.query_row("SELECT kind, inbox_path, camera FROM files WHERE id = ?1", [id], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })?;
        let Some(stem) = stem(&camera, &path) else {
            return Ok(());
        };
        c.execute("UPDATE files SET stem = ?2 WHERE id = ?1", params![id, stem])?;
        if kind == "video" {
            c.execute(
                "UPDATE files SET clip_id = ?1 WHERE stem = ?2 AND kind != 'video' AND id != ?1",
                params![id, stem],
            )?;
        } else {
            c.execute(
                "UPDATE files SET clip_id = (SELECT id FROM files WHERE stem = ?2 AND kind = 'video'
                    AND superseded_by IS NULL ORDER BY id DESC LIMIT 1) WHERE id = ?1",
                params![id, stem],
            )?;
        }
        Ok(())
    }

    /// The snapshot camvault holds for a clip: (key, still in the vault).
    pub fn snapshot_of(&self, clip_id: i64) -> Result<Option<(String, bool)>> {
        let c = self.lock();
        Ok(c.query_row(
            "SELECT key, purged_ms IS NULL FROM files WHERE clip_id = ?1 AND kind = 'image' ORDER BY id DESC LIMIT 1",
            [clip_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?)
    }

    /// (recordings, sidecars, superseded copies, aliases): for `status` and tests.
    ///
    /// Sidecars and superseded copies are few and have partial indexes (migration 8); the
    /// recordings are the trigger-kept total less those, so nothing scans `files`.
    pub fn file_kinds(&self) -> Result<(u64, u64, u64, u64)> {
        let c = self.lock();
        let mut st = c.prepare_cached(
            "SELECT (SELECT coalesce(sum(files), 0) FROM stats)
                      - (SELECT count(*) FROM files WHERE kind != 'video')
                      - (SELECT count(*) FROM files WHERE superseded_by IS NOT NULL AND kind = 'video'),
                    (SELECT count(*) FROM files WHERE kind != 'video'),
                    (SELECT count(*) FROM files WHERE superseded_by IS NOT NULL),
                    (SELECT count(*) FROM aliases)",
        )?;
        let kinds = st.query_row([], |r| {
            Ok((
                r.get::<_, i64>(0)? as u64,
                r.get::<_, i64>(1)? as u64,
                r.get::<_, i64>(2)? as u64,
                r.get::<_, i64>(3)? as u64,
            ))
        })?;
        Ok(kinds)
    }
}

/// What a sidecar and its clip share: the camera and the file name without its extension
/// (`door` + `…/05M30S_1716267930.jpeg` → `door/05M30S_1716267930`), whether the clip came
/// over the share and its snapshot from the SD card, or both the same way.
fn stem(camera: &str, path: &[u8]) -> Option<Vec<u8>> {
    let name = &path[path.iter().rposition(|b| *b == b'/').map_or(0, |i| i + 1)..];
    let dot = name.iter().rposition(|b| *b == b'.')?;
    (dot > 0).then(|| [camera.as_bytes(), b"/", &name[..dot]].concat())
}

#[cfg(test)]
mod tests {
    #[test]
    fn stems() {
        assert_eq!(
            super::stem("door", b"MIJIA/2024/05M30S_1.jpeg").unwrap(),
            b"door/05M30S_1"
        );
        assert_eq!(super::stem("door", b"a.b/noext"), None);
        assert_eq!(super::stem("door", b"cam/.hidden"), None);
    }
}
