-- Migration 7: web accounts, their sessions, and restores waiting for an admin (issue 17).

-- One row per person who logs into the web interface. `hash` is an Argon2 PHC string.
CREATE TABLE users (
    name       TEXT PRIMARY KEY,
    hash       TEXT NOT NULL,
    role       TEXT NOT NULL CHECK (role IN ('viewer', 'admin')),
    created_ms INTEGER NOT NULL,
    changed_ms INTEGER NOT NULL
) WITHOUT ROWID;

-- Login sessions, so that they survive a restart of `serve`. Only the SHA-256 of the
-- cookie is kept: reading the catalog gives no session. Deleting a user ends theirs.
CREATE TABLE sessions (
    id_sha256  TEXT PRIMARY KEY,
    user       TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
    csrf       TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX sessions_user ON sessions (user);
CREATE INDEX sessions_expires ON sessions (expires_ms);

-- A restore above `restore.approval_cny` that a viewer asked for, and what an admin decided.
CREATE TABLE approvals (
    id           INTEGER PRIMARY KEY,
    created_ms   INTEGER NOT NULL,
    requested_by TEXT NOT NULL,
    camera       TEXT NOT NULL,
    from_ms      INTEGER NOT NULL,
    to_ms        INTEGER NOT NULL,
    tier         TEXT NOT NULL,
    est_cost_cny REAL NOT NULL,
    hours        REAL NOT NULL,
    -- pending, approved, refused or expired
    state        TEXT NOT NULL DEFAULT 'pending',
    decided_by   TEXT,
    decided_ms   INTEGER,
    restore_id   INTEGER REFERENCES restores(id)
);
CREATE INDEX approvals_state ON approvals (state);
