-- Migration 5: what real cameras do: renames, growing files, duplicates, sidecars.

-- A row whose file grew after it was uploaded is followed by a new revision; the earlier,
-- partial copy stays stored (never deleted) but is no longer a recording of its own.
ALTER TABLE files ADD COLUMN superseded_by INTEGER REFERENCES files(id);
-- 'video' (a recording), 'image' (a clip's snapshot) or 'other' (kept, covers no time).
ALTER TABLE files ADD COLUMN kind TEXT NOT NULL DEFAULT 'video';
-- The clip a sidecar belongs to (same camera, same base name).
ALTER TABLE files ADD COLUMN clip_id INTEGER REFERENCES files(id);
-- The inbox path without its extension: how a sidecar finds its clip.
ALTER TABLE files ADD COLUMN stem BLOB;
CREATE INDEX files_stem ON files (stem) WHERE stem IS NOT NULL;
CREATE INDEX files_dev_ino ON files (dev, ino);
CREATE INDEX files_camera_size ON files (camera, size);

-- Another name for bytes already stored: a second copy the camera wrote of the same clip.
-- Remembered so that rescans do not look at it again; the file itself is never stored twice.
CREATE TABLE aliases (
    inbox_path BLOB NOT NULL,
    dev        INTEGER NOT NULL,
    ino        INTEGER NOT NULL,
    size       INTEGER NOT NULL,
    mtime_ns   INTEGER NOT NULL,
    file_id    INTEGER NOT NULL REFERENCES files(id),
    seen_ms    INTEGER NOT NULL,
    PRIMARY KEY (inbox_path, dev, ino)
) WITHOUT ROWID;
