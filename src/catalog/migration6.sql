-- Migration 6: the video index (issue 15): motion segments per clip, searchable without
-- the footage. See src/index/ for how it is made and src/catalog/index.rs for the queries.

-- Clips waiting for the indexer. Capture does not write here: the indexer adds every new
-- video file (by file id, after a watermark) and `camvault index` adds backfill. A row
-- leaves the queue in the same transaction that stores the clip's result, so a crash
-- at any point redoes the clip once, never stores it twice.
CREATE TABLE index_queue (
    file_id    INTEGER PRIMARY KEY REFERENCES files(id),
    queued_ms  INTEGER NOT NULL,
    attempts   INTEGER NOT NULL DEFAULT 0,   -- counted before each try: a crash counts too
    next_ms    INTEGER NOT NULL DEFAULT 0,
    last_error TEXT
);
CREATE INDEX index_queue_next ON index_queue (next_ms, file_id);

-- One row per clip the indexer finished with. Its pictures (the preview strip, a frame per
-- segment) are files under `index.dir` and in the camera-day's index object, not rows here:
-- five years of them would be tens of GB.
CREATE TABLE index_clips (
    file_id     INTEGER PRIMARY KEY REFERENCES files(id),
    camera      TEXT NOT NULL,
    start_ms    INTEGER NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('indexed', 'undecodable', 'unavailable')),
    reason      TEXT,                        -- why undecodable/unavailable, or ffmpeg's note on a damaged clip
    width       INTEGER,
    height      INTEGER,
    duration_ms INTEGER,
    frames      INTEGER,
    activity    BLOB,                        -- one byte per second: percent of the grid active
    indexed_ms  INTEGER NOT NULL
);
CREATE INDEX index_clips_camera_start ON index_clips (camera, start_ms);

-- Activity segments. Times are absolute (ms since the epoch); tod_s is the start's
-- second of the day in the camera's zone, for "between 23:00 and 06:00 on any day".
CREATE TABLE index_segments (
    id       INTEGER PRIMARY KEY,
    file_id  INTEGER NOT NULL REFERENCES files(id),
    camera   TEXT NOT NULL,
    start_ms INTEGER NOT NULL,
    end_ms   INTEGER NOT NULL,
    tod_s    INTEGER NOT NULL,
    peak     INTEGER NOT NULL,               -- most of the grid active in one frame, percent
    peak_ms  INTEGER NOT NULL,
    cells    TEXT NOT NULL,                  -- the grid cells touched (zones::CellSet hex)
    zones    TEXT NOT NULL DEFAULT '',       -- ',gate,door,' (commas around each name)
    labels   TEXT NOT NULL DEFAULT ''        -- ',person,car,' from the detector
);
-- Search reads this index alone (every filter column is in it), newest first, and stops
-- at the limit: no table lookups while scanning years of segments.
CREATE INDEX index_segments_search ON index_segments (camera, start_ms, tod_s, end_ms, peak, zones, labels);
CREATE INDEX index_segments_file ON index_segments (file_id);

-- Zones and labels of each segment as tags ('z:gate', 'l:person'), so a search for a rare
-- zone or label over years reads only the matching segments instead of scanning them all.
CREATE TABLE index_tags (
    tag        TEXT NOT NULL,
    start_ms   INTEGER NOT NULL,
    segment_id INTEGER NOT NULL REFERENCES index_segments(id),
    camera     TEXT NOT NULL,
    PRIMARY KEY (tag, start_ms, segment_id)
) WITHOUT ROWID;
CREATE INDEX index_tags_segment ON index_tags (segment_id);
