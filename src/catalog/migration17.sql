-- Migration 17 (issue 21): multipart uploads to a mirror resume after a crash like the
-- main store's (migration 4's tables, which are keyed by file only): the same journal,
-- keyed by file and mirror. See `catalog::mirror_multipart`.
CREATE TABLE mirror_multipart_uploads (
    file_id     INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    store       TEXT NOT NULL,
    key         TEXT NOT NULL,
    upload_id   TEXT NOT NULL,
    part_size   INTEGER NOT NULL,
    started_ms  INTEGER NOT NULL,
    PRIMARY KEY (file_id, store)
) WITHOUT ROWID;

CREATE TABLE mirror_multipart_parts (
    file_id     INTEGER NOT NULL,
    store       TEXT NOT NULL,
    part        INTEGER NOT NULL,
    size        INTEGER NOT NULL,
    etag        TEXT NOT NULL,
    checksum    TEXT,
    PRIMARY KEY (file_id, store, part),
    FOREIGN KEY (file_id, store) REFERENCES mirror_multipart_uploads(file_id, store) ON DELETE CASCADE
) WITHOUT ROWID;
