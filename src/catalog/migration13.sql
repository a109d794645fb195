-- Migration 13: notifications on activity (issue 15, item 7; src/index/notify.rs).

-- Clips waiting for the notification rules. A trigger adds each clip the index stores as
-- 'indexed' within a day of its start (in the same transaction as its segments, so a crash
-- cannot lose it); the notifier removes the row once every rule has been looked at, after
-- what it sent is recorded in notify_sent (a crash in between sends that once more, never
-- loses it). Backfill of older footage never lands here.
CREATE TABLE notify_pending (
    file_id    INTEGER PRIMARY KEY REFERENCES files(id),
    start_ms   INTEGER NOT NULL,
    indexed_ms INTEGER NOT NULL
);
CREATE TRIGGER notify_on_index AFTER INSERT ON index_clips
WHEN NEW.state = 'indexed' AND NEW.indexed_ms - NEW.start_ms <= 86400000
BEGIN
    INSERT OR REPLACE INTO notify_pending (file_id, start_ms, indexed_ms)
    VALUES (NEW.file_id, NEW.start_ms, NEW.indexed_ms);
END;

-- What each rule did with each segment (a segment is its clip and start: a re-index
-- gives its segments new ids, the same starts). Kept two days: only fresh clips notify.
CREATE TABLE notify_sent (
    rule     TEXT NOT NULL,
    file_id  INTEGER NOT NULL,
    start_ms INTEGER NOT NULL,
    outcome  TEXT NOT NULL CHECK (outcome IN ('sent', 'suppressed', 'failed', 'quiet')),
    at_ms    INTEGER NOT NULL,
    PRIMARY KEY (rule, file_id, start_ms)
) WITHOUT ROWID;
CREATE INDEX notify_sent_at ON notify_sent (at_ms);

-- Each rule's rate limit and counts.
CREATE TABLE notify_rules (
    rule            TEXT PRIMARY KEY,
    last_try_ms     INTEGER,            -- the last message tried (sent or not): the rate limit
    suppressed      INTEGER NOT NULL DEFAULT 0,  -- matches since the last message, not sent
    suppressed_from INTEGER,            -- the first of them
    sent            INTEGER NOT NULL DEFAULT 0,
    failed          INTEGER NOT NULL DEFAULT 0   -- messages no channel took after the retries
) WITHOUT ROWID;
