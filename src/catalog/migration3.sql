-- Migration 3: daily manifests, the signed-by-hash chain of what each camera produced.

CREATE TABLE manifests (
    id          INTEGER PRIMARY KEY,
    camera      TEXT NOT NULL,
    date        TEXT NOT NULL,           -- YYYY-MM-DD in the camera's zone
    seq         INTEGER NOT NULL,        -- 1, 2, … per camera: the chain's order
    key         TEXT NOT NULL UNIQUE,    -- manifests/{camera}/{date}.jsonl (or .rN for late files)
    sha256      TEXT NOT NULL,           -- of the manifest's bytes
    prev_sha256 TEXT,                    -- of the camera's previous manifest
    files       INTEGER NOT NULL,
    written_ms  INTEGER NOT NULL,
    UNIQUE (camera, seq)
);

ALTER TABLE files ADD COLUMN manifest_id INTEGER REFERENCES manifests(id);
CREATE INDEX files_unlisted ON files (camera, start_ms) WHERE state = 'verified' AND manifest_id IS NULL;
