-- Migration 8: `status` at millions of rows (docs/benchmarks.md). The counts of sidecars
-- and of superseded partial copies read these small partial indexes instead of scanning
-- every row of `files`; the recordings are the trigger-kept total minus both.
CREATE INDEX files_sidecars ON files (kind) WHERE kind != 'video';
CREATE INDEX files_superseded ON files (superseded_by) WHERE superseded_by IS NOT NULL;
