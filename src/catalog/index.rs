//! Catalog queries of the video index (migration 6): the indexer's queue, each clip's
//! result and its activity segments, and search over them.
//!
//! Search must stay fast over years of one camera (millions of segments): it reads
//! `index_segments` by `(camera, start_ms)` newest first and stops at the limit; the
//! other filters (time of day, zone, label, activity, duration) are cheap per row.

use anyhow::Result;
use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};

use super::Catalog;

/// A clip the indexer should look at.
#[derive(Debug, Clone)]
pub struct Queued {
    pub file_id: i64,
    pub camera: String,
    pub key: String,
    pub start_ms: i64,
    pub duration_ms: Option<i64>,
    /// The vault copy is on local disk.
    pub local: bool,
    /// Tries so far (this one not counted yet).
    pub attempts: u32,
    pub last_error: Option<String>,
}

/// One segment as stored.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SegmentRow {
    pub start_ms: i64,
    pub end_ms: i64,
    pub tod_s: i64,
    pub peak: u8,
    pub peak_ms: i64,
    pub cells: String,
    pub zones: Vec<String>,
    pub labels: Vec<String>,
    /// What the detector found in the segment's frame (empty without a detector).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub detections: Vec<Detection>,
}

/// One object the detector found in a segment's frame.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Detection {
    pub label: String,
    /// 0-1, rounded to 3 decimals.
    pub confidence: f64,
    /// `x0, y0, x1, y1` in the clip's pixels.
    pub bbox: [u32; 4],
}

/// Detections as stored in `index_segments.detections` ('' for none).
fn detections_json(d: &[Detection]) -> String {
    if d.is_empty() {
        String::new()
    } else {
        serde_json::to_string(d).unwrap_or_default()
    }
}

fn detections_of(text: &str) -> Vec<Detection> {
    serde_json::from_str(text).unwrap_or_default()
}

/// What the indexer found for one clip.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ClipResult {
    pub file_id: i64,
    pub camera: String,
    pub start_ms: i64,
    /// `indexed`, `undecodable` or `unavailable`.
    pub state: String,
    pub reason: Option<String>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub duration_ms: Option<i64>,
    pub frames: Option<u32>,
    #[serde(with = "hex_bytes")]
    pub activity: Vec<u8>,
    pub segments: Vec<SegmentRow>,
}

/// Activity bytes as hex in JSON (the day object), compact and exact.
mod hex_bytes {
    pub fn serialize<S: serde::Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&v.iter().map(|b| format!("{b:02x}")).collect::<String>())
    }
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s: String = serde::Deserialize::deserialize(d)?;
        (0..s.len() / 2)
            .map(|i| u8::from_str_radix(s.get(i * 2..i * 2 + 2).unwrap_or("zz"), 16))
            .collect::<Result<_, _>>()
            .map_err(serde::de::Error::custom)
    }
}

/// A search.
#[derive(Debug, Clone, Default)]
pub struct Query {
    pub camera: Option<String>,
    pub from_ms: i64,
    pub to_ms: i64,
    /// Seconds of the day `[from, to)`; `from > to` wraps midnight (23:00–06:00).
    pub tod: Option<(i64, i64)>,
    pub zone: Option<String>,
    pub label: Option<String>,
    pub min_peak: u8,
    pub min_duration_ms: i64,
    pub limit: usize,
}

/// One search result: the segment, its clip and where the clip lives.
#[derive(Debug, Clone, Serialize)]
pub struct Hit {
    pub segment_id: i64,
    pub file_id: i64,
    pub camera: String,
    pub key: String,
    pub clip_start_ms: i64,
    pub start_ms: i64,
    pub end_ms: i64,
    /// The moment inside the clip, seconds from its start.
    pub offset_s: f64,
    pub peak: u8,
    pub peak_ms: i64,
    pub zones: Vec<String>,
    pub labels: Vec<String>,
    /// `local`, `store` (Standard/IA), `archived`, `restoring`, `restored` or `pending`
    /// (not uploaded yet).
    pub lives: String,
    pub storage_class: Option<String>,
    /// Ordinal of the segment in its clip (names its frame).
    pub ordinal: i64,
    /// The detector's objects in the segment's frame (label, confidence, box).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub detections: Vec<Detection>,
}

/// Counts for `status` and `camvault index`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct IndexCounts {
    pub queued: u64,
    pub indexed: u64,
    pub undecodable: u64,
    pub unavailable: u64,
    pub segments: u64,
}

fn names(list: &str) -> Vec<String> {
    list.split(',').filter(|s| !s.is_empty()).map(str::to_string).collect()
}

fn joined(list: &[String]) -> String {
    if list.is_empty() {
        String::new()
    } else {
        format!(",{},", list.join(","))
    }
}

const QUEUED_COLS: &str =
    "q.file_id, f.camera, f.key, f.start_ms, f.duration_ms, f.purged_ms IS NULL, q.attempts, q.last_error";

fn queued_row(r: &rusqlite::Row) -> rusqlite::Result<Queued> {
    Ok(Queued {
        file_id: r.get(0)?,
        camera: r.get(1)?,
        key: r.get(2)?,
        start_ms: r.get(3)?,
        duration_ms: r.get(4)?,
        local: r.get(5)?,
        attempts: r.get(6)?,
        last_error: r.get(7)?,
    })
}

impl Catalog {
    /// Queues the video files after `after_id` (at most `limit`); returns the last id looked at.
    pub fn index_enqueue_after(&self, after_id: i64, limit: usize, now_ms: i64) -> Result<i64> {
        let c = self.lock();
        let ids: Vec<i64> = c
            .prepare_cached("SELECT id FROM files WHERE id > ?1 ORDER BY id LIMIT ?2")?
            .query_map(params![after_id, limit as i64], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        c.execute(
            "INSERT OR IGNORE INTO index_queue (file_id, queued_ms)
             SELECT id, ?3 FROM files
             WHERE id > ?1 AND id <= ?2 AND kind = 'video' AND superseded_by IS NULL
               AND id NOT IN (SELECT file_id FROM index_clips)",
            params![after_id, ids.last().copied().unwrap_or(after_id), now_ms],
        )?;
        Ok(ids.last().copied().unwrap_or(after_id))
    }

    /// Queues the video clips of a range not indexed yet (backfill); `local_only` leaves out
    /// clips whose local copy is gone. Returns how many were queued.
    pub fn index_enqueue_range(
        &self,
        camera: Option<&str>,
        from_ms: i64,
        to_ms: i64,
        local_only: bool,
        now_ms: i64,
    ) -> Result<usize> {
        let c = self.lock();
        let n = c.execute(
            "INSERT OR IGNORE INTO index_queue (file_id, queued_ms)
             SELECT id, ?4 FROM files
             WHERE (?1 IS NULL OR camera = ?1) AND start_ms >= ?2 AND start_ms < ?3
               AND kind = 'video' AND superseded_by IS NULL
               AND (?5 = 0 OR purged_ms IS NULL)
               AND id NOT IN (SELECT file_id FROM index_clips WHERE state != 'unavailable')",
            params![camera, from_ms, to_ms, now_ms, local_only],
        )?;
        // A clip that was unavailable (purged before indexing) and is queued again gets
        // its tries back.
        c.execute(
            "UPDATE index_queue SET attempts = 0, next_ms = 0 WHERE file_id IN
               (SELECT file_id FROM index_clips WHERE state = 'unavailable')",
            [],
        )?;
        Ok(n)
    }

    /// Clips of a range that are not indexed: (on local disk, only in the store).
    pub fn index_missing(&self, camera: Option<&str>, from_ms: i64, to_ms: i64) -> Result<(Vec<Queued>, Vec<i64>)> {
        let c = self.lock();
        let mut st = c.prepare_cached(
            "SELECT f.id, f.camera, f.key, f.start_ms, f.duration_ms, f.purged_ms IS NULL, 0, NULL
             FROM files f
             WHERE (?1 IS NULL OR f.camera = ?1) AND f.start_ms >= ?2 AND f.start_ms < ?3
               AND f.kind = 'video' AND f.superseded_by IS NULL
               AND f.id NOT IN (SELECT file_id FROM index_clips WHERE state != 'unavailable')
             ORDER BY f.start_ms",
        )?;
        let rows: Vec<Queued> = st
            .query_map(params![camera, from_ms, to_ms], queued_row)?
            .collect::<rusqlite::Result<_>>()?;
        let (local, remote): (Vec<_>, Vec<_>) = rows.into_iter().partition(|q| q.local);
        Ok((local, remote.into_iter().map(|q| q.file_id).collect()))
    }

    /// The next queued clip due at `now_ms`, in file order.
    pub fn index_next(&self, now_ms: i64) -> Result<Option<Queued>> {
        let c = self.lock();
        let sql = format!(
            "SELECT {QUEUED_COLS} FROM index_queue q JOIN files f ON f.id = q.file_id
             WHERE q.next_ms <= ?1 ORDER BY q.next_ms, q.file_id LIMIT 1"
        );
        let row = c.prepare_cached(&sql)?.query_row([now_ms], queued_row).optional()?;
        Ok(row)
    }

    /// Counts a try before it starts (so a crash in the middle counts) and sets when the
    /// clip is due again should this try not finish.
    pub fn index_begin(&self, file_id: i64, retry_ms: i64) -> Result<()> {
        self.lock().execute(
            "UPDATE index_queue SET attempts = attempts + 1, next_ms = ?2 WHERE file_id = ?1",
            params![file_id, retry_ms],
        )?;
        Ok(())
    }

    /// Notes a failed try; the clip stays queued until `next_ms`.
    pub fn index_failed(&self, file_id: i64, error: &str, next_ms: i64) -> Result<()> {
        self.lock().execute(
            "UPDATE index_queue SET last_error = ?2, next_ms = ?3 WHERE file_id = ?1",
            params![file_id, error, next_ms],
        )?;
        Ok(())
    }

    /// Stores a clip's result and takes it off the queue, in one transaction: its earlier
    /// segments (a repeated run after a crash, a re-index) are replaced, never doubled.
    pub fn index_store(&self, r: &ClipResult, now_ms: i64) -> Result<()> {
        let mut c = self.lock();
        let tx = c.transaction()?;
        // The hours whose summary changes: those of the clip's old segments and new ones.
        let mut hours: std::collections::BTreeSet<i64> = tx
            .prepare_cached("SELECT DISTINCT start_ms / 3600000 FROM index_segments WHERE file_id = ?1")?
            .query_map([r.file_id], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        hours.extend(r.segments.iter().map(|s| s.start_ms.div_euclid(HOUR)));
        tx.execute(
            "DELETE FROM index_tags WHERE segment_id IN (SELECT id FROM index_segments WHERE file_id = ?1)",
            [r.file_id],
        )?;
        tx.execute("DELETE FROM index_segments WHERE file_id = ?1", [r.file_id])?;
        tx.execute(
            "INSERT OR REPLACE INTO index_clips
               (file_id, camera, start_ms, state, reason, width, height, duration_ms, frames, activity, indexed_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            params![
                r.file_id,
                r.camera,
                r.start_ms,
                r.state,
                r.reason,
                r.width,
                r.height,
                r.duration_ms,
                r.frames,
                r.activity,
                now_ms
            ],
        )?;
        {
            let mut st = tx.prepare_cached(
                "INSERT INTO index_segments (file_id, camera, start_ms, end_ms, tod_s, peak, peak_ms, cells, zones, labels, detections)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            )?;
            let mut tag = tx.prepare_cached(
                "INSERT OR IGNORE INTO index_tags (tag, start_ms, segment_id, camera) VALUES (?1, ?2, ?3, ?4)",
            )?;
            for s in &r.segments {
                st.execute(params![
                    r.file_id,
                    r.camera,
                    s.start_ms,
                    s.end_ms,
                    s.tod_s,
                    s.peak,
                    s.peak_ms,
                    s.cells,
                    joined(&s.zones),
                    joined(&s.labels),
                    detections_json(&s.detections)
                ])?;
                let id = tx.last_insert_rowid();
                let tags = s
                    .zones
                    .iter()
                    .map(|z| format!("z:{z}"))
                    .chain(s.labels.iter().map(|l| format!("l:{l}")));
                for t in tags {
                    tag.execute(params![t, s.start_ms, id, r.camera])?;
                }
            }
        }
        refresh_hours(&tx, &r.camera, &hours)?;
        tx.execute("DELETE FROM index_queue WHERE file_id = ?1", [r.file_id])?;
        tx.commit()?;
        Ok(())
    }

    /// Labels for one segment (the detector runs after motion analysis).
    pub fn index_set_labels(&self, file_id: i64, ordinal: usize, labels: &[String]) -> Result<()> {
        let mut c = self.lock();
        let tx = c.transaction()?;
        let seg: Option<(i64, i64, String)> = tx
            .query_row(
                "SELECT id, start_ms, camera FROM index_segments WHERE file_id = ?1 ORDER BY start_ms, id LIMIT 1 OFFSET ?2",
                params![file_id, ordinal as i64],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        if let Some((id, start, camera)) = seg {
            tx.execute(
                "UPDATE index_segments SET labels = ?2 WHERE id = ?1",
                params![id, joined(labels)],
            )?;
            tx.execute("DELETE FROM index_tags WHERE segment_id = ?1 AND tag LIKE 'l:%'", [id])?;
            for l in labels {
                tx.execute(
                    "INSERT OR IGNORE INTO index_tags (tag, start_ms, segment_id, camera) VALUES (?1, ?2, ?3, ?4)",
                    params![format!("l:{l}"), start, id, camera],
                )?;
            }
            refresh_hours(&tx, &camera, &[start.div_euclid(HOUR)].into())?;
        }
        tx.commit()?;
        Ok(())
    }

    /// A clip's stored result, if it was indexed.
    pub fn index_clip(&self, file_id: i64) -> Result<Option<ClipResult>> {
        let c = self.lock();
        let head = c
            .query_row(
                "SELECT camera, start_ms, state, reason, width, height, duration_ms, frames, activity
                 FROM index_clips WHERE file_id = ?1",
                [file_id],
                |r| {
                    Ok(ClipResult {
                        file_id,
                        camera: r.get(0)?,
                        start_ms: r.get(1)?,
                        state: r.get(2)?,
                        reason: r.get(3)?,
                        width: r.get(4)?,
                        height: r.get(5)?,
                        duration_ms: r.get(6)?,
                        frames: r.get(7)?,
                        activity: r.get::<_, Option<Vec<u8>>>(8)?.unwrap_or_default(),
                        segments: Vec::new(),
                    })
                },
            )
            .optional()?;
        let Some(mut head) = head else { return Ok(None) };
        let mut st = c.prepare_cached(
            "SELECT start_ms, end_ms, tod_s, peak, peak_ms, cells, zones, labels, detections
             FROM index_segments WHERE file_id = ?1 ORDER BY start_ms, id",
        )?;
        head.segments = st
            .query_map([file_id], |r| {
                Ok(SegmentRow {
                    start_ms: r.get(0)?,
                    end_ms: r.get(1)?,
                    tod_s: r.get(2)?,
                    peak: r.get(3)?,
                    peak_ms: r.get(4)?,
                    cells: r.get(5)?,
                    zones: names(&r.get::<_, String>(6)?),
                    labels: names(&r.get::<_, String>(7)?),
                    detections: detections_of(&r.get::<_, String>(8)?),
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(Some(head))
    }

    /// The file ids of a camera's clips indexed in `[from, to)`, oldest first (the day object).
    pub fn index_clip_ids(&self, camera: &str, from_ms: i64, to_ms: i64) -> Result<Vec<i64>> {
        let c = self.lock();
        let ids = c
            .prepare_cached(
                "SELECT file_id FROM index_clips WHERE camera = ?1 AND start_ms >= ?2 AND start_ms < ?3
                 ORDER BY start_ms, file_id",
            )?
            .query_map(params![camera, from_ms, to_ms], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(ids)
    }

    /// The file id of a key, for results restored from a day object.
    pub fn file_id_of(&self, key: &str) -> Result<Option<i64>> {
        let c = self.lock();
        let id = c
            .prepare_cached("SELECT id FROM files WHERE key = ?1")?
            .query_row([key], |r| r.get(0))
            .optional()?;
        Ok(id)
    }

    pub fn index_counts(&self) -> Result<IndexCounts> {
        let c = self.lock();
        let mut n = IndexCounts {
            queued: c.query_row("SELECT count(*) FROM index_queue", [], |r| r.get::<_, i64>(0))? as u64,
            segments: c.query_row("SELECT count(*) FROM index_segments", [], |r| r.get::<_, i64>(0))? as u64,
            ..Default::default()
        };
        let mut st = c.prepare("SELECT state, count(*) FROM index_clips GROUP BY state")?;
        for row in st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64)))? {
            let (state, k) = row?;
            match state.as_str() {
                "indexed" => n.indexed = k,
                "undecodable" => n.undecodable = k,
                _ => n.unavailable = k,
            }
        }
        Ok(n)
    }

    /// Searches the segments, newest first.
    ///
    /// Two steps, so that years of segments are never read one by one (issue 15: < 200 ms
    /// over ≈ 2.6 M clips): the hour summary (`index_hours`, migration 10) names the hours
    /// that can match — some segment long enough, active enough, in the zone, with the
    /// label, starting in the time-of-day window — and only those hours' segments are read,
    /// newest first, until the limit is reached.
    pub fn search(&self, q: &Query) -> Result<Vec<Hit>> {
        let limit = q.limit.max(1);
        let ranges = self.search_hours(q)?;
        let (sql, args) = search_sql(q);
        let c = self.lock();
        let mut st = c.prepare_cached(&sql)?;
        let mut hits = Vec::new();
        for (from, to) in ranges {
            let mut a: Vec<rusqlite::types::Value> = vec![from.into(), to.into(), ((limit - hits.len()) as i64).into()];
            a.extend(args.iter().cloned());
            let rows = st.query_map(rusqlite::params_from_iter(a.iter()), hit_row)?;
            for h in rows {
                hits.push(h?);
            }
            if hits.len() >= limit {
                break;
            }
        }
        Ok(hits)
    }

    /// Segments per UTC hour of a camera in `[from, to)` (the calendar's activity per day).
    pub fn index_hour_counts(&self, camera: &str, from_ms: i64, to_ms: i64) -> Result<Vec<(i64, u64)>> {
        let c = self.lock();
        let rows = c
            .prepare_cached(
                "SELECT hour, segments FROM index_hours WHERE camera = ?1 AND hour >= ?2 AND hour < ?3 ORDER BY hour",
            )?
            .query_map(
                params![camera, from_ms.div_euclid(HOUR), (to_ms + HOUR - 1).div_euclid(HOUR)],
                |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)),
            )?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    /// Segments of `camera` that start in `[from, to)` (the calendar's hours that a local
    /// midnight cuts: `index::calendar`).
    pub fn index_segment_count(&self, camera: &str, from_ms: i64, to_ms: i64) -> Result<u64> {
        let c = self.lock();
        let n: i64 = c
            .prepare_cached(
                "SELECT count(*) FROM index_segments WHERE camera = ?1 AND start_ms >= ?2 AND start_ms < ?3",
            )?
            .query_row(params![camera, from_ms, to_ms], |r| r.get(0))?;
        Ok(n as u64)
    }

    /// Recomputes the whole hour summary from the segments (a catalog filled by other
    /// means: the benchmark's generated years).
    pub fn index_rebuild_hours(&self) -> Result<()> {
        self.lock().execute_batch(
            "BEGIN; DELETE FROM index_hours;
             INSERT INTO index_hours
             SELECT camera, start_ms / 3600000, count(*), max(peak), max(end_ms - start_ms),
                    sum(DISTINCT 1 << (tod_s / 3600)), coalesce(group_concat(DISTINCT zones), ''),
                    coalesce(group_concat(DISTINCT labels), '')
             FROM index_segments GROUP BY camera, start_ms / 3600000; COMMIT;",
        )?;
        Ok(())
    }

    /// The time ranges `[from, to)` whose hours may hold a match, newest first, adjacent
    /// hours merged.
    fn search_hours(&self, q: &Query) -> Result<Vec<(i64, i64)>> {
        if q.to_ms <= q.from_ms {
            return Ok(Vec::new());
        }
        let mut sql = String::from(
            "SELECT DISTINCT hour FROM index_hours WHERE hour >= ?1 AND hour <= ?2 AND max_peak >= ?3 AND max_dur_ms >= ?4 AND (tod_mask & ?5) != 0",
        );
        let mut args: Vec<rusqlite::types::Value> = vec![
            q.from_ms.div_euclid(HOUR).into(),
            (q.to_ms - 1).div_euclid(HOUR).into(),
            (q.min_peak as i64).into(),
            q.min_duration_ms.into(),
            tod_mask(q.tod).into(),
        ];
        let mut arg = |clause: &str, v: rusqlite::types::Value| {
            args.push(v);
            sql.push_str(&clause.replace('?', &format!("?{}", args.len())));
        };
        if let Some(cam) = &q.camera {
            arg(" AND camera = ?", cam.clone().into());
        }
        if let Some(z) = &q.zone {
            arg(" AND instr(zones, ?) > 0", format!(",{z},").into());
        }
        if let Some(l) = &q.label {
            arg(" AND instr(labels, ?) > 0", format!(",{l},").into());
        }
        sql.push_str(" ORDER BY hour DESC");
        let c = self.lock();
        let mut st = c.prepare_cached(&sql)?;
        let hours = st.query_map(rusqlite::params_from_iter(args.iter()), |r| r.get::<_, i64>(0))?;
        let mut ranges: Vec<(i64, i64)> = Vec::new();
        for h in hours {
            let h = h?;
            let (from, to) = ((h * HOUR).max(q.from_ms), ((h + 1) * HOUR).min(q.to_ms));
            match ranges.last_mut() {
                Some(last) if last.0 == to => last.0 = from,
                _ => ranges.push((from, to)),
            }
        }
        Ok(ranges)
    }
}

const HOUR: i64 = 3_600_000;

/// The local hours of the day a window `[a, b)` (seconds, may wrap midnight) touches, as bits.
fn tod_mask(tod: Option<(i64, i64)>) -> i64 {
    let Some((a, b)) = tod else { return (1 << 24) - 1 };
    let (a, b) = (a.rem_euclid(86_400), b.rem_euclid(86_400));
    let mut mask = 0;
    for h in 0..24i64 {
        let (hs, he) = (h * 3600, h * 3600 + 3600);
        let touches = |x: i64, y: i64| hs < y && x < he;
        if (a < b && touches(a, b)) || (a > b && (touches(a, 86_400) || touches(0, b))) {
            mask |= 1 << h;
        }
    }
    mask
}

/// The search over one time range: `?1`/`?2` the range, `?3` the limit, then the returned
/// arguments. The segment filters run on an index alone (the covering `index_segments_search`,
/// or `index_tags` for a zone or label: a rare one stays fast over years); only the rows that
/// made the limit are joined with their clips.
fn search_sql(q: &Query) -> (String, Vec<rusqlite::types::Value>) {
    let tag = q
        .zone
        .as_ref()
        .map(|z| format!("z:{z}"))
        .or_else(|| q.label.as_ref().map(|l| format!("l:{l}")));
    let (from, order) = match tag {
        Some(_) => (
            "index_tags t JOIN index_segments s ON s.id = t.segment_id WHERE t.start_ms >= ?1 AND t.start_ms < ?2",
            "t.start_ms",
        ),
        None => (
            "index_segments s INDEXED BY index_segments_search WHERE s.start_ms >= ?1 AND s.start_ms < ?2",
            "s.start_ms",
        ),
    };
    let mut sql =
        format!("SELECT s.id, s.file_id, s.camera, s.start_ms, s.end_ms, s.peak, s.zones, s.labels FROM {from}");
    let mut args: Vec<rusqlite::types::Value> = Vec::new();
    let mut arg = |sql: &mut String, clause: &str, v: rusqlite::types::Value| {
        args.push(v);
        sql.push_str(&clause.replace('?', &format!("?{}", args.len() + 3)));
    };
    if let Some(t) = tag {
        arg(&mut sql, " AND t.tag = ?", t.into());
    }
    if let Some(cam) = &q.camera {
        arg(&mut sql, " AND s.camera = ?", cam.clone().into());
    }
    if let Some((a, b)) = q.tod {
        let (a, b) = (a.rem_euclid(86_400), b.rem_euclid(86_400));
        let join = if a <= b { " AND" } else { " OR" };
        arg(&mut sql, " AND (s.tod_s >= ?", a.into());
        arg(&mut sql, &format!("{join} s.tod_s < ?)"), b.into());
    }
    if let Some(z) = &q.zone {
        arg(&mut sql, " AND instr(s.zones, ?) > 0", format!(",{z},").into());
    }
    if let Some(l) = &q.label {
        arg(&mut sql, " AND instr(s.labels, ?) > 0", format!(",{l},").into());
    }
    if q.min_peak > 0 {
        arg(&mut sql, " AND s.peak >= ?", (q.min_peak as i64).into());
    }
    if q.min_duration_ms > 0 {
        arg(&mut sql, " AND s.end_ms - s.start_ms >= ?", q.min_duration_ms.into());
    }
    sql.push_str(&format!(" ORDER BY {order} DESC LIMIT ?3"));
    let sql = format!(
        "SELECT s.id, s.file_id, s.camera, f.key, f.start_ms, s.start_ms, s.end_ms, s.peak, p.peak_ms, s.zones, s.labels,
                f.purged_ms IS NULL, f.state, f.storage_class,
                (SELECT ri.state FROM restore_items ri WHERE ri.file_id = f.id ORDER BY ri.restore_id DESC LIMIT 1),
                (SELECT count(*) FROM index_segments o WHERE o.file_id = s.file_id AND (o.start_ms < s.start_ms OR (o.start_ms = s.start_ms AND o.id < s.id))),
                p.detections
         FROM ({sql}) s JOIN files f ON f.id = s.file_id JOIN index_segments p ON p.id = s.id
         ORDER BY s.start_ms DESC"
    );
    (sql, args)
}

fn hit_row(r: &rusqlite::Row) -> rusqlite::Result<Hit> {
    let clip_start: i64 = r.get(4)?;
    let start: i64 = r.get(5)?;
    let (local, state, class, restore): (bool, String, Option<String>, Option<String>) =
        (r.get(11)?, r.get(12)?, r.get(13)?, r.get(14)?);
    let archived = class.as_deref().is_some_and(crate::store::is_archive_class);
    let lives = if local {
        "local"
    } else if restore.as_deref() == Some("done") {
        "restored"
    } else if restore.as_deref().is_some_and(|s| s != "failed" && s != "cancelled") && archived {
        "restoring"
    } else if archived {
        "archived"
    } else if state == "uploaded" || state == "verified" {
        "store"
    } else {
        "pending"
    };
    Ok(Hit {
        segment_id: r.get(0)?,
        file_id: r.get(1)?,
        camera: r.get(2)?,
        key: r.get(3)?,
        clip_start_ms: clip_start,
        start_ms: start,
        end_ms: r.get(6)?,
        offset_s: (start - clip_start) as f64 / 1000.0,
        peak: r.get(7)?,
        peak_ms: r.get(8)?,
        zones: names(&r.get::<_, String>(9)?),
        labels: names(&r.get::<_, String>(10)?),
        lives: lives.to_string(),
        storage_class: class,
        ordinal: r.get(15)?,
        detections: detections_of(&r.get::<_, String>(16)?),
    })
}

/// Recomputes the hour summary of `camera` for `hours` from their segments (after a clip
/// was stored or relabelled).
fn refresh_hours(tx: &rusqlite::Transaction, camera: &str, hours: &std::collections::BTreeSet<i64>) -> Result<()> {
    let mut del = tx.prepare_cached("DELETE FROM index_hours WHERE camera = ?1 AND hour = ?2")?;
    let mut ins = tx.prepare_cached(
        "INSERT INTO index_hours
         SELECT camera, ?2, count(*), max(peak), max(end_ms - start_ms), sum(DISTINCT 1 << (tod_s / 3600)),
                coalesce(group_concat(DISTINCT zones), ''), coalesce(group_concat(DISTINCT labels), '')
         FROM index_segments WHERE camera = ?1 AND start_ms >= ?2 * 3600000 AND start_ms < (?2 + 1) * 3600000
         GROUP BY camera",
    )?;
    for h in hours {
        del.execute(params![camera, h])?;
        ins.execute(params![camera, h])?;
    }
    Ok(())
}

impl Catalog {
    /// Queues these clips (backfill of clips already captured).
    pub fn index_enqueue_ids(&self, ids: &[i64], now_ms: i64) -> Result<()> {
        let mut c = self.lock();
        let tx = c.transaction()?;
        for id in ids {
            tx.execute(
                "INSERT INTO index_queue (file_id, queued_ms) VALUES (?1, ?2)
                 ON CONFLICT (file_id) DO UPDATE SET attempts = 0, next_ms = 0",
                params![id, now_ms],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// The verified copy a finished restore brought back, if any.
    pub fn index_restored_copy(&self, file_id: i64) -> Result<Option<String>> {
        let c = self.lock();
        let path = c
            .prepare_cached(
                "SELECT path FROM restore_items WHERE file_id = ?1 AND state = 'done' AND path IS NOT NULL
                 ORDER BY restore_id DESC LIMIT 1",
            )?
            .query_row([file_id], |r| r.get(0))
            .optional()?;
        Ok(path)
    }

    /// The keys of these files.
    pub fn keys_of(&self, ids: &[i64]) -> Result<Vec<String>> {
        let c = self.lock();
        let mut st = c.prepare_cached("SELECT key FROM files WHERE id = ?1")?;
        let mut out = Vec::new();
        for id in ids {
            if let Some(k) = st.query_row([id], |r| r.get(0)).optional()? {
                out.push(k);
            }
        }
        Ok(out)
    }
}
