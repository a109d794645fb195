-- Migration 9 (issue 21): mirror stores. The main store's copy stays in `files` (its
-- state, crc64, class, times), so every query written before mirrors stays right; each
-- mirror's copy of a file is a row here. See `catalog::copies` for the invariants.

-- The mirrors `serve` was last started with (the main store is not listed). A file
-- captured while a mirror is listed gets a pending copy for it (trigger below).
CREATE TABLE mirrors (
    name     TEXT PRIMARY KEY,
    added_ms INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE copies (
    file_id         INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    store           TEXT NOT NULL,           -- the mirror's name
    key             TEXT NOT NULL,           -- the object key in that store
    state           TEXT NOT NULL CHECK (state IN ('pending', 'uploading', 'verified', 'failed', 'missing')),
    storage_class   TEXT,
    crc64           TEXT,                    -- CRC-64/XZ of the bytes sent, hex
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_ms INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    uploaded_ms     INTEGER,
    verified_ms     INTEGER,
    PRIMARY KEY (file_id, store)
) WITHOUT ROWID;

CREATE INDEX copies_due ON copies (store, next_attempt_ms) WHERE state != 'verified';
CREATE INDEX copies_state ON copies (store, state);
CREATE INDEX copies_verified ON copies (store, verified_ms) WHERE state = 'verified';

CREATE TRIGGER files_copies_insert AFTER INSERT ON files WHEN new.purged_ms IS NULL BEGIN
    INSERT INTO copies (file_id, store, key, state, next_attempt_ms)
    SELECT new.id, name, new.key, 'pending', new.next_attempt_ms FROM mirrors;
END;
