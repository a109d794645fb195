//! The ledger: per camera and hour, what the camera recorded, what arrived, what is
//! verified, and why any part of the hour is missing.
//!
//! Recording times come from the file names (start, and end or duration), arrival from the
//! catalog. Gaps are explained from what the catalog can tell: an hour the camera is
//! usually quiet in (event mode), a camera that sent nothing for a long stretch (silent),
//! a gap next to files that arrived hours late (the camera was catching up from its SD
//! card, which had already overwritten that footage), or a plain gap in continuous
//! recording. The camera's own SD card cannot be read over SMB, so this is inference, and
//! the words say so.

use serde::Serialize;

use crate::catalog::{Listing, State};

const HOUR_MS: i64 = 3_600_000;
/// Files arriving this long after they ended were sent from the camera's SD card backlog.
const BACKLOG_LAG_MS: i64 = HOUR_MS;

/// One hour of one camera.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Hour {
    pub camera: String,
    /// Start of the hour (UTC ms); shown in the camera's zone.
    pub hour_ms: i64,
    pub files: u32,
    pub verified: u32,
    pub bytes: u64,
    /// Minutes of the hour covered by recordings.
    pub recorded_min: f64,
    /// Largest arrival lag among the hour's files, minutes.
    pub max_lag_min: i64,
    /// Why part of the hour is missing or not yet safe; empty when complete.
    pub note: String,
}

/// What the ledger knows about the camera's habits.
pub struct Habits<'a> {
    /// Usual active hours of the day, in the camera's zone (learned; `None` = unknown).
    pub active: Option<&'a [bool; 24]>,
    pub tz: jiff::tz::TimeZone,
    /// Hours without any file after which the camera counts as silent.
    pub silent_hours: u64,
    /// Now: the hour still running is not judged.
    pub now_ms: i64,
}

/// Builds the hours from `from_ms` to `to_ms` for the files of one camera (sorted by start).
pub fn hours(camera: &str, files: &[Listing], from_ms: i64, to_ms: i64, habits: &Habits) -> Vec<Hour> {
    if to_ms <= from_ms {
        return Vec::new();
    }
    let first = from_ms.div_euclid(HOUR_MS) * HOUR_MS;
    // Continuous recorders cover most of their active hours; event cameras do not.
    let mut out: Vec<Hour> = (0..)
        .map(|i| first + i * HOUR_MS)
        .take_while(|h| *h < to_ms)
        .map(|h| Hour {
            camera: camera.to_string(),
            hour_ms: h,
            files: 0,
            verified: 0,
            bytes: 0,
            recorded_min: 0.0,
            max_lag_min: 0,
            note: String::new(),
        })
        .collect();
    if out.is_empty() {
        return out;
    }
    for f in files {
        // The clip's own duration (read from the MP4, fragmented or not) is what it
        // covers; the name's end is only a claim (and absent while recording).
        let end = f
            .duration_ms
            .filter(|d| *d > 0)
            .map(|d| f.start_ms + d)
            .or(f.end_ms)
            .unwrap_or(f.start_ms + 60_000)
            .max(f.start_ms);
        let idx = (f.start_ms - first).div_euclid(HOUR_MS);
        if let Some(h) = usize::try_from(idx).ok().and_then(|i| out.get_mut(i)) {
            h.files += 1;
            h.bytes += f.size;
            if f.state == State::Verified {
                h.verified += 1;
            }
            h.max_lag_min = h.max_lag_min.max((f.captured_ms - end).max(0) / 60_000);
        }
        // Coverage may run into the next hours.
        let mut t = f.start_ms.max(first);
        while t < end {
            let i = (t - first).div_euclid(HOUR_MS);
            let Some(h) = usize::try_from(i).ok().and_then(|i| out.get_mut(i)) else {
                break;
            };
            let hour_end = first + (i + 1) * HOUR_MS;
            let piece = end.min(hour_end) - t;
            h.recorded_min = (h.recorded_min + piece as f64 / 60_000.0).min(60.0);
            t = hour_end;
        }
    }
    let continuous = {
        let active: Vec<&Hour> = out.iter().filter(|h| h.files > 0).collect();
        !active.is_empty() && active.iter().filter(|h| h.recorded_min >= 50.0).count() * 2 >= active.len()
    };
    let n = out.len();
    for i in 0..n {
        let note = explain(&out, i, continuous, habits);
        out[i].note = note;
    }
    out
}

/// Whether the camera usually records in this hour (`None` when not learned).
fn usual_hour(h: &Hour, habits: &Habits) -> Option<bool> {
    habits.active.map(|a| {
        let local = jiff::Timestamp::from_millisecond(h.hour_ms)
            .map(|t| t.to_zoned(habits.tz.clone()).hour())
            .unwrap_or(0);
        a[local as usize]
    })
}

fn explain(all: &[Hour], i: usize, continuous: bool, habits: &Habits) -> String {
    let h = &all[i];
    if h.hour_ms + HOUR_MS > habits.now_ms {
        return "hour in progress".into();
    }
    let usual = usual_hour(h, habits);
    let pending = h.files - h.verified;
    let pending_note = if pending > 0 {
        format!("; {pending} file(s) not yet verified in the store")
    } else {
        String::new()
    };
    let late_nearby = all[i.saturating_sub(1)..(i + 2).min(all.len())]
        .iter()
        .any(|n| n.max_lag_min * 60_000 >= BACKLOG_LAG_MS);
    if h.files == 0 {
        // How long the silence around this hour lasts, in the hours the camera usually records.
        let empty = |j: &usize| all[*j].files == 0;
        let start = (0..i).rev().take_while(empty).last().unwrap_or(i);
        let end = (i + 1..all.len()).take_while(empty).last().unwrap_or(i);
        let silence = (start..=end)
            .filter(|j| usual_hour(&all[*j], habits) != Some(false))
            .count();
        return if usual == Some(false) {
            "no recording: the camera is usually quiet at this hour (event mode)".into()
        } else if late_nearby {
            "nothing arrived: the camera sent a backlog from its SD card nearby; this hour was probably overwritten there before it could be sent".into()
        } else if silence as u64 >= habits.silent_hours {
            format!("camera silent for {silence} h: check its power, network and NAS settings")
        } else if continuous {
            "no recording in an hour the camera usually records: camera offline or restarted?".into()
        } else {
            "no recording (no motion, or the camera was off)".into()
        };
    }
    if continuous && h.recorded_min < 57.0 && usual != Some(false) {
        let missing = (60.0 - h.recorded_min).round();
        let why = if late_nearby {
            "files arrived late from the SD card; the camera probably overwrote the rest before sending it"
        } else {
            "the camera did not record or did not send them"
        };
        return format!("{missing:.0} min missing: {why}{pending_note}");
    }
    pending_note.trim_start_matches("; ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clip(start_min: i64, len_min: i64, lag_min: i64, verified: bool) -> Listing {
        let start = start_min * 60_000;
        Listing {
            camera: "door".into(),
            start_ms: start,
            end_ms: Some(start + len_min * 60_000),
            tz: "UTC".into(),
            key: format!("k{start_min}"),
            size: 1000,
            state: if verified { State::Verified } else { State::Uploaded },
            local: false,
            warning: None,
            last_error: None,
            codec: None,
            duration_ms: None,
            width: None,
            height: None,
            captured_ms: start + (len_min + lag_min) * 60_000,
        }
    }

    fn habits(active: Option<&[bool; 24]>) -> Habits<'_> {
        Habits {
            active,
            tz: jiff::tz::TimeZone::UTC,
            silent_hours: 3,
            now_ms: i64::MAX,
        }
    }

    #[test]
    fn continuous_camera_gaps_are_counted_and_explained() {
        let mut files = Vec::new();
        // Hour 0: complete. Hour 1: 10 minutes missing. Hour 2: nothing. Hour 3: complete
        // but sent 3 h late from the SD card, with its last 20 minutes missing.
        files.extend((0..60).map(|m| clip(m, 1, 0, true)));
        files.extend((60..110).map(|m| clip(m, 1, 0, true)));
        files.extend((180..220).map(|m| clip(m, 1, 180, m != 219)));
        let h = hours("door", &files, 0, 4 * HOUR_MS, &habits(None));
        assert_eq!(h.len(), 4);
        assert_eq!((h[0].files, h[0].recorded_min, h[0].note.as_str()), (60, 60.0, ""));
        assert_eq!(h[1].files, 50);
        assert!(
            h[1].note.starts_with("10 min missing: the camera did not record"),
            "{}",
            h[1].note
        );
        assert!(h[2].note.contains("backlog from its SD card"), "{}", h[2].note);
        assert!(
            h[3].note.starts_with("20 min missing: files arrived late"),
            "{}",
            h[3].note
        );
        assert!(
            h[3].note.ends_with("1 file(s) not yet verified in the store"),
            "{}",
            h[3].note
        );
        assert_eq!(h[3].max_lag_min, 180);
    }

    #[test]
    fn coverage_is_the_clips_own_duration_not_its_names_span() {
        // A fragmented clip named 13:00–13:40 that holds 25 minutes of video.
        let mut c = clip(0, 40, 0, true);
        c.duration_ms = Some(25 * 60_000);
        let h = hours("door", &[c.clone()], 0, HOUR_MS, &habits(None));
        assert_eq!(h[0].recorded_min, 25.0);
        // Without a readable duration the name's span is all there is.
        c.duration_ms = None;
        let h = hours("door", &[c], 0, HOUR_MS, &habits(None));
        assert_eq!(h[0].recorded_min, 40.0);
    }

    #[test]
    fn an_event_camera_at_night_is_not_a_gap_but_a_long_silence_is() {
        let mut active = [false; 24];
        active[8..20].iter_mut().for_each(|a| *a = true);
        let files = vec![clip(8 * 60 + 5, 1, 0, true), clip(9 * 60 + 30, 2, 0, true)];
        let h = hours("door", &files, 0, 24 * HOUR_MS, &habits(Some(&active)));
        assert_eq!(h.len(), 24);
        assert!(h[3].note.contains("usually quiet"), "{}", h[3].note);
        assert_eq!(h[8].note, "", "an event camera's partial hour is not a gap");
        // 10:00-19:59 usual hours without files: ten hours, beyond the 3 h silence limit.
        assert!(h[12].note.starts_with("camera silent for 10 h"), "{}", h[12].note);
        // A recording that crosses the hour counts in both.
        let h = hours("door", &[clip(50, 20, 0, true)], 0, 2 * HOUR_MS, &habits(None));
        assert_eq!((h[0].recorded_min, h[1].recorded_min), (10.0, 10.0));
        assert!(hours("door", &[], 10, 10, &habits(None)).is_empty());
    }
}
