-- Migration 4: restores from the archive classes, and multipart uploads to resume.

-- One restore request as the user made it (`camvault restore`, the web UI, a drill).
CREATE TABLE restores (
    id           INTEGER PRIMARY KEY,
    created_ms   INTEGER NOT NULL,
    camera       TEXT,                    -- NULL: every camera (or a single `get`)
    from_ms      INTEGER NOT NULL,        -- the range asked for, recording start times
    to_ms        INTEGER NOT NULL,
    tier         TEXT NOT NULL,           -- expedited | standard | bulk
    days         INTEGER NOT NULL,        -- how long restored copies stay readable
    out_dir      TEXT NOT NULL,           -- where the clips are put
    merge        INTEGER NOT NULL DEFAULT 0,
    kind         TEXT NOT NULL DEFAULT 'user' CHECK (kind IN ('user', 'drill')),
    state        TEXT NOT NULL CHECK (state IN ('active', 'done', 'failed', 'cancelled')),
    est_cost_cny REAL NOT NULL DEFAULT 0,
    done_ms      INTEGER,
    notified_ms  INTEGER,                 -- when "ready" went out through the alert channels
    error        TEXT
);

-- Each clip of a restore and where it stands.
CREATE TABLE restore_items (
    restore_id   INTEGER NOT NULL REFERENCES restores(id),
    file_id      INTEGER NOT NULL REFERENCES files(id),
    source       TEXT NOT NULL CHECK (source IN ('cache', 'store', 'archive')),
    state        TEXT NOT NULL CHECK (state IN ('pending', 'requested', 'ready', 'done', 'failed', 'cancelled')),
    requested_ms INTEGER,                 -- when RestoreObject was sent (by this or an overlapping restore)
    expires_ms   INTEGER,                 -- when the store drops the restored copy
    next_poll_ms INTEGER NOT NULL DEFAULT 0,
    polls        INTEGER NOT NULL DEFAULT 0,
    sent         INTEGER NOT NULL DEFAULT 0,  -- RestoreObject requests this item sent (billed)
    path         TEXT,                    -- the verified local copy once done
    error        TEXT,
    PRIMARY KEY (restore_id, file_id)
);
CREATE INDEX restore_items_file ON restore_items (file_id);
CREATE INDEX restore_items_due ON restore_items (next_poll_ms) WHERE state IN ('pending', 'requested', 'ready');

-- A multipart upload in progress: after a crash the upload resumes at the first part
-- not listed here instead of starting over.
CREATE TABLE multipart_uploads (
    file_id     INTEGER PRIMARY KEY REFERENCES files(id),
    key         TEXT NOT NULL,
    upload_id   TEXT NOT NULL,
    part_size   INTEGER NOT NULL,
    started_ms  INTEGER NOT NULL
);

CREATE TABLE multipart_parts (
    file_id     INTEGER NOT NULL REFERENCES multipart_uploads(file_id),
    part        INTEGER NOT NULL,         -- 1-based part number
    size        INTEGER NOT NULL,
    etag        TEXT NOT NULL,
    checksum    TEXT,                     -- the part's CRC-64 (OSS, combined at the end) or MD5
    PRIMARY KEY (file_id, part)
);

-- When a HEAD last told the object's storage class (lifecycle moves objects without
-- telling anyone): an object seen in Standard long after the transition age means the
-- bucket's rule is not working.
ALTER TABLE files ADD COLUMN class_checked_ms INTEGER;
