-- Migration 1: the catalog of every captured file.
-- Times are milliseconds since the Unix epoch (UTC). Sizes are bytes.

CREATE TABLE cameras (
    id              TEXT PRIMARY KEY,        -- configured name, else the MAC, else the folder
    mac             TEXT,
    tz              TEXT NOT NULL,           -- IANA zone of the camera's clock
    first_seen_ms   INTEGER NOT NULL,
    last_start_ms   INTEGER,                 -- start of the newest recording
    last_capture_ms INTEGER                  -- when camvault last captured a file of it
);

CREATE TABLE files (
    id              INTEGER PRIMARY KEY,
    camera          TEXT NOT NULL REFERENCES cameras(id),
    inbox_path      BLOB NOT NULL,           -- relative to the inbox, raw bytes (need not be UTF-8)
    key             TEXT NOT NULL UNIQUE,    -- object key; also the path under the vault
    revision        INTEGER NOT NULL,
    layout          TEXT NOT NULL,
    channel         TEXT,
    start_ms        INTEGER NOT NULL,
    end_ms          INTEGER,
    size            INTEGER NOT NULL,
    mtime_ns        INTEGER NOT NULL,
    dev             INTEGER NOT NULL,
    ino             INTEGER NOT NULL,
    duration_ms     INTEGER,
    codec           TEXT,
    width           INTEGER,
    height          INTEGER,
    warning         TEXT,                    -- why the name or content was odd; never a reason to drop
    state           TEXT NOT NULL CHECK (state IN ('captured', 'uploaded', 'verified', 'failed')),
    crc64           TEXT,                    -- CRC-64/XZ of the bytes uploaded, hex
    storage_class   TEXT,
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    next_attempt_ms INTEGER NOT NULL DEFAULT 0,
    captured_ms     INTEGER NOT NULL,
    uploaded_ms     INTEGER,
    verified_ms     INTEGER,
    purged_ms       INTEGER                  -- local copy removed (only ever after verified)
);

CREATE INDEX files_camera_start ON files (camera, start_ms);
CREATE INDEX files_ino ON files (ino);
CREATE INDEX files_pending ON files (next_attempt_ms, captured_ms) WHERE state != 'verified';
CREATE INDEX files_cached ON files (start_ms) WHERE state = 'verified' AND purged_ms IS NULL;

-- Every failed attempt at a stage, for `status` and for the person debugging.
CREATE TABLE attempts (
    id      INTEGER PRIMARY KEY,
    file_id INTEGER NOT NULL REFERENCES files(id),
    at_ms   INTEGER NOT NULL,
    stage   TEXT NOT NULL,
    error   TEXT NOT NULL
);
CREATE INDEX attempts_file ON attempts (file_id);

-- Counters kept by triggers so `status` stays instant at millions of rows.
CREATE TABLE stats (
    camera TEXT NOT NULL,
    state  TEXT NOT NULL,
    local  INTEGER NOT NULL,                 -- 1 while the vault still holds the file
    files  INTEGER NOT NULL,
    bytes  INTEGER NOT NULL,
    PRIMARY KEY (camera, state, local)
) WITHOUT ROWID;

CREATE TRIGGER files_stats_insert AFTER INSERT ON files BEGIN
    INSERT INTO stats (camera, state, local, files, bytes)
    VALUES (new.camera, new.state, new.purged_ms IS NULL, 1, new.size)
    ON CONFLICT (camera, state, local) DO UPDATE SET files = files + 1, bytes = bytes + excluded.bytes;
END;

CREATE TRIGGER files_stats_delete AFTER DELETE ON files BEGIN
    UPDATE stats SET files = files - 1, bytes = bytes - old.size
    WHERE camera = old.camera AND state = old.state AND local = (old.purged_ms IS NULL);
END;

CREATE TRIGGER files_stats_update AFTER UPDATE OF camera, state, size, purged_ms ON files BEGIN
    UPDATE stats SET files = files - 1, bytes = bytes - old.size
    WHERE camera = old.camera AND state = old.state AND local = (old.purged_ms IS NULL);
    INSERT INTO stats (camera, state, local, files, bytes)
    VALUES (new.camera, new.state, new.purged_ms IS NULL, 1, new.size)
    ON CONFLICT (camera, state, local) DO UPDATE SET files = files + 1, bytes = bytes + excluded.bytes;
END;
