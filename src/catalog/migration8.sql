-- Migration 8: `status` at millions of rows (docs/benchmarks.md). The counts of sidecars
-- and of superseded partial copies read these small partial indexes instead of scanning
-- every row of `files`; the recordings are the trigger-kept total minus both.
CREATE INDEX files_sidecars ON files (kind) WHERE kind != 'video';
CREATE INDEX files_superseded ON files (superseded_by) WHERE superseded_by IS NOT NULL;
-- The oldest file not yet verified, read from this index alone: the failed files lie all
-- over `files`, and reading each one's page cost `status` most of its time.
CREATE INDEX files_pending_since ON files (attempts, captured_ms, next_attempt_ms) WHERE state != 'verified';
