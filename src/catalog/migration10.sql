-- Migration 10: the video index survives the box (issue 15, item 3) and search stays fast
-- over years (issue 15: < 200 ms over ≈ 2.6 M clips).

-- The per camera-day index objects written to the store (`index/{camera}/{date}.json`,
-- revisions `.r2.json`… for clips indexed after the day's first object). A clip belongs to
-- the object that lists it (index_clips.day_id); `manifest_id` is the daily manifest that
-- names the object (NULL until one does).
CREATE TABLE index_days (
    id          INTEGER PRIMARY KEY,
    camera      TEXT NOT NULL,
    date        TEXT NOT NULL,
    key         TEXT NOT NULL UNIQUE,
    size        INTEGER NOT NULL,
    crc64       TEXT NOT NULL,
    sha256      TEXT NOT NULL,
    clips       INTEGER NOT NULL,
    written_ms  INTEGER NOT NULL,
    manifest_id INTEGER REFERENCES manifests(id)
);
CREATE INDEX index_days_camera_date ON index_days (camera, date);
ALTER TABLE index_clips ADD COLUMN day_id INTEGER REFERENCES index_days(id);
CREATE INDEX index_clips_unlisted ON index_clips (start_ms) WHERE day_id IS NULL;

-- A summary per camera and UTC hour of its segments, so that search skips the hours that
-- cannot match (a duration, an activity, a zone, a label or a time of day no segment of
-- the hour has) instead of reading years of segments one by one. Kept by index_store.
-- tod_mask: bit h set when a segment starts in local hour h of the day.
-- zones/labels: the distinct ',a,b,' lists of its segments, joined (searched with instr).
CREATE TABLE index_hours (
    camera      TEXT NOT NULL,
    hour        INTEGER NOT NULL,            -- start_ms / 3 600 000
    segments    INTEGER NOT NULL,
    max_peak    INTEGER NOT NULL,
    max_dur_ms  INTEGER NOT NULL,
    tod_mask    INTEGER NOT NULL,
    zones       TEXT NOT NULL,
    labels      TEXT NOT NULL,
    PRIMARY KEY (camera, hour)
) WITHOUT ROWID;
INSERT INTO index_hours
SELECT camera, start_ms / 3600000, count(*), max(peak), max(end_ms - start_ms),
       sum(DISTINCT 1 << (tod_s / 3600)), coalesce(group_concat(DISTINCT zones), ''),
       coalesce(group_concat(DISTINCT labels), '')
FROM index_segments GROUP BY camera, start_ms / 3600000;
