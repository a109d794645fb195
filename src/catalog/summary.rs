//! The status document's facts in one read: counters per state and camera (kept by the
//! triggers of `schema.sql`), the oldest pending file, each camera's arrival lag and active
//! hours, recent errors, and what the periodic jobs left in the key-value slots.

use anyhow::Result;
use rusqlite::params;
use serde::Serialize;

use std::collections::BTreeMap;

use super::{kv, restores, Catalog, State};

#[derive(Debug, Default, Clone, Serialize)]
pub struct Counts {
    pub files: u64,
    pub bytes: u64,
}

#[derive(Debug, Default, Clone, Serialize)]
pub struct CameraSummary {
    pub id: String,
    pub mac: Option<String>,
    pub tz: String,
    pub files: u64,
    pub bytes: u64,
    pub last_start_ms: Option<i64>,
    pub last_capture_ms: Option<i64>,
    /// The smallest arrival lag (arrival minus the recording's end by its name) over the
    /// last files: below zero the camera's clock runs ahead; far above, behind.
    pub min_lag_ms: Option<i64>,
    /// Hours of the day (camera's zone) in which the camera recorded on at least half of
    /// the last 14 days; `None` until it has 3 days of history.
    pub active_hours: Option<[bool; 24]>,
}

/// Files and bytes of one camera in one state.
#[derive(Debug, Clone)]
pub struct StatsRow {
    pub camera: String,
    pub state: String,
    pub files: u64,
    pub bytes: u64,
}

#[derive(Debug, Default, Clone)]
pub struct Summary {
    pub captured: Counts,
    pub uploaded: Counts,
    pub verified: Counts,
    pub failed: Counts,
    /// Verified files still in the vault.
    pub cached: Counts,
    pub oldest_pending_ms: Option<i64>,
    pub cameras: Vec<CameraSummary>,
    pub recent_errors: Vec<(String, String)>,
    /// When the catalog was last backed up to the store.
    pub last_backup_ms: Option<i64>,
    /// When the first camera was first seen.
    pub first_capture_ms: Option<i64>,
    /// Objects the scheduled verification found missing or different: key → why.
    pub verify_bad: BTreeMap<String, String>,
    pub restores: restores::InFlight,
    /// The last restore drill: (when, passed, what).
    pub last_drill: Option<(i64, bool, String)>,
    /// Objects the store still showed in Standard well after the transition age:
    /// (how many, one key).
    pub transition_late: (u64, Option<String>),
    /// Failing periodic checks (`probe.lifecycle`, `probe.share`): key → what is wrong.
    pub probes: BTreeMap<String, String>,
}

/// Hours of the day active on at least half of the days seen, from hour buckets
/// (milliseconds / 3,600,000); `None` with fewer than 3 days seen.
pub fn learn_active_hours(hour_buckets: &[i64], tz: &jiff::tz::TimeZone) -> Option<[bool; 24]> {
    let mut days = std::collections::BTreeSet::new();
    let mut per_hour: [std::collections::BTreeSet<jiff::civil::Date>; 24] = std::array::from_fn(|_| Default::default());
    for &h in hour_buckets {
        let Ok(t) = jiff::Timestamp::from_millisecond(h * 3_600_000) else {
            continue;
        };
        let z = t.to_zoned(tz.clone());
        days.insert(z.date());
        per_hour[z.hour() as usize].insert(z.date());
    }
    if days.len() < 3 {
        return None;
    }
    Some(per_hour.map(|d| d.len() * 2 >= days.len()))
}

impl Catalog {
    /// The per-camera, per-state counters as kept by the triggers.
    pub fn stats_rows(&self) -> Result<Vec<StatsRow>> {
        let c = self.lock();
        let mut st = c.prepare_cached(
            "SELECT camera, state, sum(files), sum(bytes) FROM stats GROUP BY camera, state HAVING sum(files) != 0 ORDER BY camera, state",
        )?;
        let rows = st
            .query_map([], |r| {
                Ok(StatsRow {
                    camera: r.get(0)?,
                    state: r.get(1)?,
                    files: r.get::<_, i64>(2)? as u64,
                    bytes: r.get::<_, i64>(3)? as u64,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Bytes of verified files still in the vault: what the cache keeper weighs against
    /// `cache.max_bytes` each pass (one read of the trigger-kept counters).
    pub fn cached_bytes(&self) -> Result<u64> {
        let c = self.lock();
        let n: i64 = c
            .prepare_cached("SELECT coalesce(sum(bytes), 0) FROM stats WHERE state = 'verified' AND local = 1")?
            .query_row([], |r| r.get(0))?;
        Ok(n as u64)
    }

    /// The whole status document's facts.
    ///
    /// Every query here reads the trigger-kept counters, a small table, or a bounded
    /// stretch of an index, so that it costs the same at 5 million rows as at 50
    /// (docs/benchmarks.md): no query may scan `files`.
    pub fn summary(&self) -> Result<Summary> {
        let c = self.lock();
        let mut s = Summary::default();
        let mut per_camera: BTreeMap<String, Counts> = Default::default();
        {
            let mut st = c.prepare_cached("SELECT camera, state, local, files, bytes FROM stats WHERE files != 0")?;
            let mut rows = st.query([])?;
            while let Some(r) = rows.next()? {
                let camera: String = r.get(0)?;
                let state = State::parse(&r.get::<_, String>(1)?);
                let local: bool = r.get(2)?;
                let files = r.get::<_, i64>(3)? as u64;
                let bytes = r.get::<_, i64>(4)? as u64;
                let bucket = match state {
                    State::Captured => &mut s.captured,
                    State::Uploaded => &mut s.uploaded,
                    State::Verified => &mut s.verified,
                    State::Failed => &mut s.failed,
                };
                bucket.files += files;
                bucket.bytes += bytes;
                if state == State::Verified && local {
                    s.cached.files += files;
                    s.cached.bytes += bytes;
                }
                let cam = per_camera.entry(camera).or_default();
                cam.files += files;
                cam.bytes += bytes;
            }
        }
        // A file held back while the camera may still append to it waits from its hold's end.
        s.oldest_pending_ms = c
            .prepare_cached(
                // SQLite's planner prefers `files_pending` (no ANALYZE); this one covers the query.
                "SELECT min(CASE WHEN attempts = 0 THEN max(captured_ms, next_attempt_ms) ELSE captured_ms END)
                 FROM files INDEXED BY files_pending_since WHERE state != 'verified'",
            )?
            .query_row([], |r| r.get(0))?;
        {
            let mut st =
                c.prepare_cached("SELECT id, mac, tz, last_start_ms, last_capture_ms FROM cameras ORDER BY id")?;
            let cams = st.query_map([], |r| {
                Ok(CameraSummary {
                    id: r.get(0)?,
                    mac: r.get(1)?,
                    tz: r.get(2)?,
                    files: 0,
                    bytes: 0,
                    last_start_ms: r.get(3)?,
                    last_capture_ms: r.get(4)?,
                    min_lag_ms: None,
                    active_hours: None,
                })
            })?;
            for cam in cams {
                let mut cam = cam?;
                if let Some(n) = per_camera.get(&cam.id) {
                    cam.files = n.files;
                    cam.bytes = n.bytes;
                }
                s.cameras.push(cam);
            }
        }
        s.last_backup_ms = kv::get_locked(&c, &kv::BACKUP_LAST_MS)?;
        s.first_capture_ms = c
            .prepare_cached("SELECT min(first_seen_ms) FROM cameras")?
            .query_row([], |r| r.get(0))?;
        s.verify_bad = kv::get_locked(&c, &kv::VERIFY_BAD)?.unwrap_or_default();
        s.recent_errors = c
            .prepare_cached(
                "SELECT key, coalesce(last_error, '') FROM files WHERE state != 'verified' AND last_error IS NOT NULL ORDER BY next_attempt_ms DESC LIMIT 5",
            )?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        for cam in &mut s.cameras {
            cam.min_lag_ms = c
                .prepare_cached(
                    "SELECT min(captured_ms - coalesce(end_ms, start_ms + duration_ms, start_ms)) FROM
                        (SELECT * FROM files WHERE camera = ?1 ORDER BY start_ms DESC LIMIT 20)",
                )?
                .query_row([&cam.id], |r| r.get(0))?;
            if let Some(last) = cam.last_start_ms {
                let hours = recorded_hours(&c, &cam.id, last - 14 * 86_400_000)?;
                let tz = crate::config::time_zone(&cam.tz).unwrap_or(jiff::tz::TimeZone::UTC);
                cam.active_hours = learn_active_hours(&hours, &tz);
            }
        }
        s.transition_late = kv::get_locked(&c, &kv::TRANSITION_LATE)?.unwrap_or_default();
        s.probes = {
            // `>= 'probe.' AND < 'probe/'` is the prefix as a range of the primary key.
            let mut st = c.prepare_cached("SELECT key, value FROM kv WHERE key >= ?1 AND key < ?2 AND value != ''")?;
            let end = format!("{}/", kv::PROBE_PREFIX.trim_end_matches('.'));
            let rows = st
                .query_map(params![kv::PROBE_PREFIX, end], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
                })?
                .collect::<rusqlite::Result<_>>()?;
            rows
        };
        s.last_drill = kv::get_locked(&c, &kv::DRILL)?.map(|d| (d.at_ms, d.ok, d.what()));
        drop(c);
        s.restores = self.restores_in_flight()?;
        Ok(s)
    }
}

/// The distinct hour buckets (start / 3,600,000) in which `camera` has a recording starting
/// at or after `since_ms`. A skip scan: one index seek per hour that has recordings (at most
/// 24 a day), instead of reading every row of the last 14 days (20,000 a camera at one clip
/// a minute).
fn recorded_hours(c: &rusqlite::Connection, camera: &str, since_ms: i64) -> Result<Vec<i64>> {
    // SQLite's integer division truncates toward zero, so the hour after bucket `h` begins
    // at (h + 1) * 3600000 for h >= 0 and at h * 3600000 + 1 below zero.
    let mut st = c.prepare_cached(
        "WITH RECURSIVE h(x) AS (
             SELECT (SELECT min(start_ms) FROM files WHERE camera = ?1 AND start_ms >= ?2) / 3600000
             UNION ALL
             SELECT (SELECT min(start_ms) FROM files WHERE camera = ?1
                       AND start_ms >= CASE WHEN x >= 0 THEN (x + 1) * 3600000 ELSE x * 3600000 + 1 END) / 3600000
             FROM h WHERE x IS NOT NULL
         )
         SELECT x FROM h WHERE x IS NOT NULL",
    )?;
    let hours = st
        .query_map(params![camera, since_ms], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<i64>>>()?;
    Ok(hours)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::tests::new_file;

    #[test]
    fn the_skip_scan_finds_the_same_hours_as_reading_every_row() {
        let dir = tempfile::tempdir().unwrap();
        let cat = Catalog::open(&dir.path().join("c.sqlite"), true).unwrap();
        const H: i64 = 3_600_000;
        // Several clips an hour, gaps of hours and days, clips on an hour's first and last
        // millisecond, and times before 1970 (where division truncates toward zero).
        let mut starts = vec![-3 * H - 1, -H, -H + 1, -1, 0, 1, H - 1, H, 5 * H + 30, 5 * H + 60];
        for d in 0..5 {
            for m in (0..180).step_by(7) {
                starts.push(1_700_000_000_000 + d * 24 * H + 20 * H + m * 60_000);
            }
        }
        for (i, &start) in starts.iter().enumerate() {
            let key = format!("v/{i}.mp4");
            let f = crate::catalog::NewFile {
                start_ms: start,
                ..new_file(key.as_bytes(), &key, i as u64)
            };
            cat.insert_captured(&f, |_| Ok(())).unwrap();
        }
        let c = cat.lock();
        for since in [i64::MIN, -2 * H, 0, H, 1_700_000_000_000 + 2 * 24 * H + 21 * H] {
            let mut want: Vec<i64> = c
                .prepare("SELECT DISTINCT start_ms / 3600000 FROM files WHERE camera = 'door' AND start_ms >= ?1")
                .unwrap()
                .query_map([since], |r| r.get(0))
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap();
            let mut got = recorded_hours(&c, "door", since).unwrap();
            want.sort();
            got.sort();
            assert!(want.len() > 3, "the case has hours to find");
            assert_eq!(got, want, "since {since}");
        }
        assert!(recorded_hours(&c, "other", i64::MIN).unwrap().is_empty());
    }

    #[test]
    fn cached_bytes_are_the_summarys() {
        let dir = tempfile::tempdir().unwrap();
        let cat = Catalog::open(&dir.path().join("c.sqlite"), true).unwrap();
        assert_eq!(cat.cached_bytes().unwrap(), 0);
        let mut ids = Vec::new();
        for i in 0..3u64 {
            let key = format!("v/{i}.mp4");
            let f = crate::catalog::NewFile {
                size: 100 + i,
                ..new_file(key.as_bytes(), &key, i)
            };
            ids.push(cat.insert_captured(&f, |_| Ok(())).unwrap().0);
        }
        assert_eq!(cat.cached_bytes().unwrap(), 0, "not verified yet");
        for &id in &ids {
            cat.mark_uploaded(id, "00", "Standard", 2).unwrap();
            cat.mark_verified(id, 3).unwrap();
        }
        cat.mark_purged(ids[0], 4).unwrap();
        assert_eq!(cat.cached_bytes().unwrap(), 101 + 102);
        assert_eq!(cat.cached_bytes().unwrap(), cat.summary().unwrap().cached.bytes);
    }
}
