//! The video index (issue 15): motion activity of every captured clip, found while the
//! clip is still on local disk, so that years of footage can be searched without
//! restoring any of it.
//!
//! - `decode.rs` runs ffmpeg (low priority, a deadline) for grey analysis frames, the
//!   preview sprite and a frame per segment;
//! - `analysis.rs` turns frames into per-second activity and segments;
//! - `calendar.rs` the month calendar's activity per local day;
//! - `zones.rs` the camera's named zones and the grid cells they cover;
//! - `detector.rs` and `yolo.rs` the optional object detector (labels for segments);
//! - `worker.rs` the queue in the catalog and `serve`'s indexing worker.
//!
//! This file ties one clip's run together: [`index_file`] gives the catalog row
//! ([`ClipResult`]) and leaves its pictures under `index.dir`.

pub mod analysis;
pub mod calendar;
pub mod days;
pub mod decode;
pub mod detector;
pub mod notify;
pub mod worker;
pub mod yolo;
pub mod zones;

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::catalog::index::{ClipResult, Detection, SegmentRow};
use crate::config::Config;
use analysis::{Analyzer, Params, COLS, ROWS};
use decode::DecodeError;
use detector::Detector;
use zones::CellSet;

/// Where a clip's pictures live: `index.dir/<id / 10000>/<id>/` (a fan-out, so no
/// directory holds millions of entries).
pub fn clip_dir(cfg: &Config, file_id: i64) -> PathBuf {
    media_dir(&cfg.index_dir(), file_id)
}

pub fn media_dir(root: &Path, file_id: i64) -> PathBuf {
    root.join(format!("{}", file_id / 10_000)).join(file_id.to_string())
}
pub const SPRITE: &str = "sprite.jpg";
pub fn frame_name(ordinal: usize) -> String {
    format!("seg-{ordinal}.jpg")
}

/// The zones of a camera as grid cells.
pub fn zone_cells(cfg: &Config, camera: &str) -> Vec<(String, CellSet)> {
    cfg.zones_of(camera)
        .iter()
        .map(|z| (z.name.clone(), z.cells(COLS, ROWS)))
        .collect()
}

/// The result of analysing one clip file, before it has a place in the catalog.
#[derive(Debug)]
pub struct Outcome {
    pub probe: decode::Probe,
    pub analysis: analysis::Analysis,
    /// Zones per segment, in segment order.
    pub zones: Vec<Vec<String>>,
    /// Whether each segment's frame was written.
    pub frames: Vec<bool>,
    /// The detector's objects per segment, in segment order (empty without a detector).
    pub detections: Vec<Vec<Detection>>,
    pub note: Option<String>,
}

/// Runs the detector on the frame at `at_s` of `clip` (`width`×`height`).
pub fn detect_at(d: &Detector, clip: &Path, at_s: f64, width: u32, height: u32) -> Result<Vec<Detection>, String> {
    let lb = d.letterbox(width as usize, height as usize);
    let rgb = decode::rgb_frame(clip, at_s, lb.w, lb.h).map_err(|e| e.to_string())?;
    d.detect_rgb(&rgb, &lb).map_err(|e| format!("{e:#}"))
}

/// Analyses `clip`, writing the sprite and segment frames into `out` (created).
/// `duration_hint`: the catalog's duration, for clips whose container does not say.
pub fn analyse(
    clip: &Path,
    out: &Path,
    params: Params,
    zones: &[(String, CellSet)],
    duration_hint: Option<f64>,
) -> Result<Outcome, DecodeError> {
    analyse_with(clip, out, params, zones, duration_hint, None)
}

/// [`analyse`], and runs `detector` (if any) on each segment's frame.
pub fn analyse_with(
    clip: &Path,
    out: &Path,
    params: Params,
    zones: &[(String, CellSet)],
    duration_hint: Option<f64>,
    detector: Option<&Detector>,
) -> Result<Outcome, DecodeError> {
    let probe = decode::probe(clip)?;
    let duration = probe.duration.or(duration_hint).unwrap_or(60.0);
    std::fs::create_dir_all(out)
        .map_err(|e| DecodeError::Transient(format!("cannot create {}: {e}", out.display())))?;
    // A deadline in wall time for a process at nice 19: on a busy box it may get little
    // CPU (the benchmark saw a 30 s clip at 2304×1296 pass 120 s under a load of 18), so
    // the limit is generous: twenty times the clip, at least 10 minutes.
    let limit = Duration::from_secs_f64((duration * 20.0).clamp(600.0, 4.0 * 3600.0));
    let mut a = Analyzer::new(params);
    let decoded = decode::frames(clip, params.fps, duration, &out.join(SPRITE), limit, |f| a.push(f))?;
    let analysis = a.finish();
    let mut frames = Vec::new();
    let mut seg_zones = Vec::new();
    let mut detections = Vec::new();
    let mut note = decoded.note;
    for (i, s) in analysis.segments.iter().enumerate() {
        seg_zones.push(zones::touched(zones, &s.cells));
        let at = s.peak_s as f64 + 0.5;
        frames.push(decode::still(clip, at, &out.join(frame_name(i))).is_ok());
        // The same moment as the segment's frame, at the model's input size.
        let found = match detector {
            Some(d) => detect_at(d, clip, at, probe.width, probe.height).unwrap_or_else(|why| {
                tracing::warn!("index: {}: detector on segment {i}: {why}", clip.display());
                note.get_or_insert_with(|| format!("detector: {why}"));
                Vec::new()
            }),
            None => Vec::new(),
        };
        detections.push(found);
    }
    Ok(Outcome {
        probe,
        analysis,
        zones: seg_zones,
        frames,
        detections,
        note,
    })
}

/// Seconds since local midnight of `ms` in `tz`.
pub fn time_of_day(ms: i64, tz: &jiff::tz::TimeZone) -> i64 {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| {
            let z = t.to_zoned(tz.clone());
            z.hour() as i64 * 3600 + z.minute() as i64 * 60 + z.second() as i64
        })
        .unwrap_or(0)
}

/// The catalog row for a clip that starts at `start_ms`.
pub fn result(file_id: i64, camera: &str, start_ms: i64, tz: &jiff::tz::TimeZone, fps: u32, o: &Outcome) -> ClipResult {
    let segments = o
        .analysis
        .segments
        .iter()
        .zip(&o.zones)
        .enumerate()
        .map(|(i, (s, z))| {
            let at = start_ms + s.start_s as i64 * 1000;
            let detections = o.detections.get(i).cloned().unwrap_or_default();
            SegmentRow {
                start_ms: at,
                end_ms: start_ms + s.end_s as i64 * 1000,
                tod_s: time_of_day(at, tz),
                peak: s.peak,
                peak_ms: start_ms + s.peak_s as i64 * 1000,
                cells: s.cells.to_hex(),
                zones: z.clone(),
                labels: labels_of(&detections),
                detections,
            }
        })
        .collect();
    ClipResult {
        file_id,
        camera: camera.to_string(),
        start_ms,
        state: "indexed".into(),
        reason: o.note.clone(),
        width: Some(o.probe.width),
        height: Some(o.probe.height),
        duration_ms: Some(o.analysis.frames as i64 * 1000 / fps.max(1) as i64),
        frames: Some(o.analysis.frames),
        activity: o.analysis.activity.clone(),
        segments,
    }
}

/// The distinct labels of a segment's detections, most confident first.
pub fn labels_of(d: &[Detection]) -> Vec<String> {
    let mut sorted: Vec<&Detection> = d.iter().collect();
    sorted.sort_by(|a, b| b.confidence.total_cmp(&a.confidence));
    let mut out: Vec<String> = Vec::new();
    for x in sorted {
        // Commas separate labels in the catalog's column: a class name never holds one there.
        let l = x.label.replace(',', " ");
        if !out.contains(&l) {
            out.push(l);
        }
    }
    out
}

/// A clip the index could not read (or could not reach), with the reason.
pub fn failed(file_id: i64, camera: &str, start_ms: i64, state: &str, reason: &str) -> ClipResult {
    ClipResult {
        file_id,
        camera: camera.to_string(),
        start_ms,
        state: state.into(),
        reason: Some(reason.to_string()),
        width: None,
        height: None,
        duration_ms: None,
        frames: None,
        activity: Vec::new(),
        segments: Vec::new(),
    }
}

/// Indexes one catalogued clip from its vault copy: the result to store.
/// `Err` only for transient trouble (the caller retries a few times).
pub fn index_file(
    cfg: &Config,
    cat: &crate::catalog::Catalog,
    q: &crate::catalog::index::Queued,
) -> Result<ClipResult, DecodeError> {
    index_file_with(cfg, cat, q, None)
}

/// [`index_file`] with the detector (if one loaded) labelling each segment.
pub fn index_file_with(
    cfg: &Config,
    cat: &crate::catalog::Catalog,
    q: &crate::catalog::index::Queued,
    detector: Option<&Detector>,
) -> Result<ClipResult, DecodeError> {
    let restored = if q.local {
        None
    } else {
        cat.index_restored_copy(q.file_id)
            .map_err(|e| DecodeError::Transient(format!("{e:#}")))?
            .map(PathBuf::from)
            .filter(|p| p.is_file())
    };
    if !q.local && restored.is_none() {
        return Ok(failed(
            q.file_id,
            &q.camera,
            q.start_ms,
            "unavailable",
            "the local copy was purged before it was indexed; `camvault index --from … --to … --restore` indexes it from the store",
        ));
    }
    let params = Params {
        fps: cfg.index.fps,
        ..Params::default()
    };
    let tz = cfg.camera_by_id(&q.camera).tz;
    let clip = restored.unwrap_or_else(|| cfg.vault().join(&q.key));
    let out = clip_dir(cfg, q.file_id);
    let hint = q.duration_ms.map(|d| d as f64 / 1000.0);
    match analyse_with(&clip, &out, params, &zone_cells(cfg, &q.camera), hint, detector) {
        Ok(o) => Ok(result(q.file_id, &q.camera, q.start_ms, &tz, params.fps, &o)),
        Err(DecodeError::Undecodable(why)) => Ok(failed(q.file_id, &q.camera, q.start_ms, "undecodable", &why)),
        Err(e) => Err(e),
    }
}

/// `HH:MM-HH:MM` → seconds of the day `[from, to)`; `23:00-06:00` wraps midnight.
pub fn parse_window(s: &str) -> anyhow::Result<(i64, i64)> {
    let bad =
        || anyhow::anyhow!("--time {s:?}: write a window of the day as HH:MM-HH:MM, e.g. 14:30-15:30 or 23:00-06:00");
    let (a, b) = s.split_once('-').ok_or_else(bad)?;
    let one = |t: &str| -> anyhow::Result<i64> {
        let (h, m) = t.trim().split_once(':').ok_or_else(bad)?;
        let (h, m): (i64, i64) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
        if !(0..=24).contains(&h) || !(0..60).contains(&m) || (h == 24 && m != 0) {
            return Err(bad());
        }
        Ok(h * 3600 + m * 60)
    };
    let (a, b) = (one(a)?, one(b)?);
    if a == b {
        anyhow::bail!("--time {s:?}: the window is empty; leave --time out to search every hour");
    }
    Ok((a, b))
}
