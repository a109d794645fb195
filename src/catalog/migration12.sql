-- Migration 12 (issue 15, item 2): what the object detector found in each segment's
-- frame, as JSON `[{"label":"person","confidence":0.87,"bbox":[x0,y0,x1,y1]}, …]` (box in
-- the clip's pixels); '' when no detector ran. `labels` keeps the distinct names for search.
ALTER TABLE index_segments ADD COLUMN detections TEXT NOT NULL DEFAULT '';
