-- Migration 16 (issue 21, items 3 and 4): restores that read a mirror's copy, and the
-- restores that backfill a mirror.

-- The store a restore item reads, when it is a mirror (no row: the main store, or the
-- cache as `restore_items.source` says). Kept beside `restore_items`, whose `source`
-- CHECK cannot be widened in SQLite without rebuilding the table.
CREATE TABLE restore_item_stores (
    restore_id INTEGER NOT NULL REFERENCES restores(id) ON DELETE CASCADE,
    file_id    INTEGER NOT NULL,
    store      TEXT NOT NULL,
    PRIMARY KEY (restore_id, file_id)
) WITHOUT ROWID;

-- Restores started by `camvault mirror backfill NAME --yes`: their clips are uploaded to
-- mirror `mirror` once downloaded, and a rerun resumes the same restore (never asks
-- the store twice).
CREATE TABLE mirror_backfill_restores (
    restore_id INTEGER PRIMARY KEY REFERENCES restores(id) ON DELETE CASCADE,
    mirror     TEXT NOT NULL
);
