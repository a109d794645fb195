-- Migration 2: what the SMB share's audit log says, and events for alerts.

-- Every delete, rename or overwrite the camera (or anyone) tried over SMB.
CREATE TABLE deletion_attempts (
    id       INTEGER PRIMARY KEY,
    at_ms    INTEGER NOT NULL,
    client   TEXT NOT NULL,           -- address the request came from
    user     TEXT NOT NULL,
    op       TEXT NOT NULL CHECK (op IN ('delete', 'rename', 'overwrite')),
    path     TEXT NOT NULL,           -- as Samba logged it
    denied   INTEGER NOT NULL,        -- 1: refused by the share's protection
    burst_id INTEGER NOT NULL REFERENCES deletion_bursts(id)
);
CREATE INDEX deletion_attempts_at ON deletion_attempts (at_ms);

-- Attempts from one client close together are one burst (a retention job's run).
CREATE TABLE deletion_bursts (
    id       INTEGER PRIMARY KEY,
    client   TEXT NOT NULL,
    user     TEXT NOT NULL,
    first_ms INTEGER NOT NULL,
    last_ms  INTEGER NOT NULL,
    attempts INTEGER NOT NULL,
    denied   INTEGER NOT NULL,
    sample   TEXT NOT NULL            -- the first path, to show what was targeted
);

-- Things someone should hear about; the monitoring surface turns them into alerts.
CREATE TABLE events (
    id      INTEGER PRIMARY KEY,
    at_ms   INTEGER NOT NULL,
    kind    TEXT NOT NULL,
    message TEXT NOT NULL
);

-- Small bits of state that must survive restarts (e.g. how far the audit log was read).
CREATE TABLE kv (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
