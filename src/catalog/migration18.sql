-- Migration 18: one multipart journal for every store. Migration 4's tables (the main
-- store's uploads, keyed by file) and migration 17's (the mirrors', keyed by file and
-- mirror) become one pair keyed by file and store, the main store being `primary` as in
-- `catalog::copies`. Every row moves over, so an upload in progress during the upgrade
-- resumes. See `catalog::multipart`.
CREATE TABLE multipart_uploads_18 (
    file_id     INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    store       TEXT NOT NULL,            -- `primary` or a mirror's name
    key         TEXT NOT NULL,
    upload_id   TEXT NOT NULL,
    part_size   INTEGER NOT NULL,
    started_ms  INTEGER NOT NULL,
    PRIMARY KEY (file_id, store)
) WITHOUT ROWID;

CREATE TABLE multipart_parts_18 (
    file_id     INTEGER NOT NULL,
    store       TEXT NOT NULL,
    part        INTEGER NOT NULL,         -- 1-based part number
    size        INTEGER NOT NULL,
    etag        TEXT NOT NULL,
    checksum    TEXT,                     -- the part's CRC-64 (OSS, combined at the end) or MD5
    PRIMARY KEY (file_id, store, part),
    FOREIGN KEY (file_id, store) REFERENCES multipart_uploads_18(file_id, store) ON DELETE CASCADE
) WITHOUT ROWID;

-- A mirror is never named `primary` (the config refuses it), so the two never collide.
INSERT INTO multipart_uploads_18 (file_id, store, key, upload_id, part_size, started_ms)
    SELECT file_id, 'primary', key, upload_id, part_size, started_ms FROM multipart_uploads;
INSERT INTO multipart_uploads_18 (file_id, store, key, upload_id, part_size, started_ms)
    SELECT file_id, store, key, upload_id, part_size, started_ms FROM mirror_multipart_uploads;
INSERT INTO multipart_parts_18 (file_id, store, part, size, etag, checksum)
    SELECT p.file_id, 'primary', p.part, p.size, p.etag, p.checksum
    FROM multipart_parts p JOIN multipart_uploads u ON u.file_id = p.file_id;
INSERT INTO multipart_parts_18 (file_id, store, part, size, etag, checksum)
    SELECT file_id, store, part, size, etag, checksum FROM mirror_multipart_parts;

-- Children before parents: the foreign keys are on.
DROP TABLE multipart_parts;
DROP TABLE multipart_uploads;
DROP TABLE mirror_multipart_parts;
DROP TABLE mirror_multipart_uploads;

-- The old names (renaming the parent rewrites the parts' foreign key too).
ALTER TABLE multipart_uploads_18 RENAME TO multipart_uploads;
ALTER TABLE multipart_parts_18 RENAME TO multipart_parts;
