//! Camera file layouts: turns a path inside the inbox into a camera id and a time span.
//!
//! Xiaomi cameras write two layouts (see DESIGN.md, "Camera file layouts"); anything else
//! is the generic layout, timed by the file's mtime. Parsing never fails: a name that does
//! not parse, or parses into an implausible time, becomes a warning on the catalog row and
//! the file is still archived.

use jiff::{civil, tz::TimeZone, Timestamp};

/// Which naming scheme a file follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// `xiaomi_camera_videos/<MAC>/<YYYYMMDDHH>/<MM>M<SS>S_<unix10>.mp4`
    XiaomiOld,
    /// `XiaomiCamera_<NN>_<MAC>/<CH>_<start>_<end>.mp4` or `xiaomi_camera_videos/<MAC>/<CH>_…`
    XiaomiNew,
    /// Anything else; timed by mtime.
    Generic,
}

impl Layout {
    pub fn as_str(self) -> &'static str {
        match self {
            Layout::XiaomiOld => "xiaomi-old",
            Layout::XiaomiNew => "xiaomi-new",
            Layout::Generic => "generic",
        }
    }
}

/// What the path says about a file, before time zones are applied to the camera.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    pub layout: Layout,
    /// The camera's MAC in lower-case hex without separators, when the folder names one.
    pub mac: Option<String>,
    /// The camera folder for files that are not under a MAC folder (generic layout).
    pub folder: Option<String>,
    /// Lens / channel for the new layout (`00`, `10`, …).
    pub channel: Option<String>,
    pub time: NameTime,
    /// Why the name did not give a usable time, if it did not.
    pub warning: Option<String>,
}

/// The time information carried by a name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameTime {
    /// An absolute start (old layout's `unix10`), plus the folder's local hour for a cross-check.
    Absolute {
        start: Timestamp,
        folder_hour: Option<civil::DateTime>,
    },
    /// Start and end in the camera's local time (new layout).
    Local {
        start: civil::DateTime,
        end: civil::DateTime,
    },
    /// Nothing usable: use mtime.
    None,
}

/// A resolved time span for a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    pub start: Timestamp,
    /// `None` when only the start is known (duration may come from the MP4 header).
    pub end: Option<Timestamp>,
    pub warning: Option<String>,
}

/// Earliest time a camera recording can plausibly carry; the C700 line is from 2023 but
/// older Xiaomi models wrote this layout from 2018 on.
const EARLIEST_YEAR: i16 = 2015;

/// Parses a path relative to the inbox, given as its components (raw bytes, since camera
/// names need not be UTF-8).
pub fn parse(components: &[&[u8]]) -> Parsed {
    let names: Vec<Option<&str>> = components.iter().map(|c| std::str::from_utf8(c).ok()).collect();
    let generic = |warning: Option<String>| {
        let (mac, folder) = match names.first() {
            Some(Some(dir)) if components.len() > 1 => match camera_folder(dir) {
                Some(mac) => (Some(mac), None),
                None => (None, Some(dir.to_string())),
            },
            _ => (None, None),
        };
        Parsed {
            layout: Layout::Generic,
            mac,
            folder,
            channel: None,
            time: NameTime::None,
            warning,
        }
    };
    let file = match names.last() {
        Some(Some(f)) => *f,
        Some(None) => return generic(Some("file name is not valid UTF-8; timed by mtime".into())),
        None => return generic(Some("empty path".into())),
    };
    // Camera folder: either `xiaomi_camera_videos/<MAC>` (two components) or `XiaomiCamera_NN_MAC`.
    let (mac, rest): (String, &[Option<&str>]) = match &names[..names.len() - 1] {
        [Some(root), Some(m), rest @ ..] if root.eq_ignore_ascii_case("xiaomi_camera_videos") && is_mac(m) => {
            (m.to_ascii_lowercase(), rest)
        }
        [Some(dir), rest @ ..] => match camera_folder(dir) {
            Some(mac) => (mac, rest),
            None => return generic(None),
        },
        _ => return generic(None),
    };
    let in_camera = |layout, channel, time, warning| Parsed {
        layout,
        mac: Some(mac.clone()),
        folder: None,
        channel,
        time,
        warning,
    };
    match rest {
        [Some(hour_dir)] => match parse_old(hour_dir, file) {
            Ok(time) => in_camera(Layout::XiaomiOld, None, time, None),
            Err(why) => in_camera(Layout::Generic, None, NameTime::None, Some(why)),
        },
        [] => match parse_new(file) {
            Ok((ch, time)) => in_camera(Layout::XiaomiNew, Some(ch), time, None),
            Err(why) => in_camera(Layout::Generic, None, NameTime::None, Some(why)),
        },
        _ => in_camera(
            Layout::Generic,
            None,
            NameTime::None,
            Some("unexpected folder depth under the camera folder; timed by mtime".into()),
        ),
    }
}

/// `XiaomiCamera_<NN>_<MAC>` → MAC. `NN` is not stable across reboots, so the MAC is the key.
fn camera_folder(dir: &str) -> Option<String> {
    let rest = dir
        .strip_prefix("XiaomiCamera_")
        .or_else(|| dir.strip_prefix("xiaomicamera_"))?;
    let (_nn, mac) = rest.split_once('_')?;
    is_mac(mac).then(|| mac.to_ascii_lowercase())
}

/// Twelve hex digits, the form the camera uses in folder names.
pub fn is_mac(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn digits(s: &str) -> Option<i64> {
    (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

/// Old layout: folder `YYYYMMDDHH`, file `MMmSSs_unix10.mp4`.
fn parse_old(hour_dir: &str, file: &str) -> Result<NameTime, String> {
    let stem = file
        .strip_suffix(".mp4")
        .ok_or("old layout file is not .mp4; timed by mtime")?;
    let (ms, unix) = stem
        .split_once('_')
        .ok_or("old layout name lacks `_<unix time>`; timed by mtime")?;
    let unix = digits(unix)
        .filter(|_| unix.len() == 10)
        .ok_or("old layout unix time is not 10 digits; timed by mtime")?;
    let start = Timestamp::from_second(unix).map_err(|_| "old layout unix time out of range; timed by mtime")?;
    let folder_hour = if hour_dir.len() == 10 {
        civil_from_digits(hour_dir, 10).ok()
    } else {
        None
    };
    // `MMmSSs` is redundant with unix10; it is only checked loosely for shape.
    let shape_ok =
        ms.len() == 6 && ms.as_bytes()[2].eq_ignore_ascii_case(&b'M') && ms.as_bytes()[5].eq_ignore_ascii_case(&b'S');
    if !shape_ok {
        return Err(format!(
            "old layout minute/second part {ms:?} malformed; timed by mtime"
        ));
    }
    Ok(NameTime::Absolute { start, folder_hour })
}

/// New layout: `CH_YYYYMMDDHHMMSS_YYYYMMDDHHMMSS.mp4`.
fn parse_new(file: &str) -> Result<(String, NameTime), String> {
    let stem = file
        .strip_suffix(".mp4")
        .ok_or("new layout file is not .mp4; timed by mtime")?;
    let mut parts = stem.split('_');
    let (Some(ch), Some(a), Some(b), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(format!("name {file:?} matches no known camera layout; timed by mtime"));
    };
    if ch.is_empty() || ch.len() > 4 || !ch.bytes().all(|c| c.is_ascii_digit()) {
        return Err(format!("channel {ch:?} is not numeric; timed by mtime"));
    }
    let start = civil_from_digits(a, 14)?;
    let end = civil_from_digits(b, 14)?;
    if end < start {
        return Err(format!("end {b} is before start {a}; timed by mtime"));
    }
    Ok((ch.to_string(), NameTime::Local { start, end }))
}

/// `YYYYMMDDHH[MMSS]` → civil date-time; rejects month 13 and friends.
fn civil_from_digits(s: &str, len: usize) -> Result<civil::DateTime, String> {
    if s.len() != len || digits(s).is_none() {
        return Err(format!("time {s:?} is not {len} digits; timed by mtime"));
    }
    let n = |r: std::ops::Range<usize>| s[r].parse::<i8>().unwrap_or(-1);
    let year: i16 = s[0..4].parse().map_err(|_| format!("bad year in {s:?}"))?;
    let (sec_min, sec) = if len >= 14 { (n(10..12), n(12..14)) } else { (0, 0) };
    civil::DateTime::new(year, n(4..6), n(6..8), n(8..10), sec_min, sec, 0)
        .map_err(|e| format!("time {s:?} is not a valid date ({e}); timed by mtime"))
}

/// Applies the camera's zone, checks plausibility against `now`, and falls back to `mtime`.
pub fn resolve(p: &Parsed, tz: &TimeZone, mtime: Timestamp, now: Timestamp) -> Span {
    let from_mtime = |warning: Option<String>| Span {
        start: mtime,
        end: None,
        warning,
    };
    let (start, end, mut warning) = match &p.time {
        NameTime::None => return from_mtime(p.warning.clone()),
        NameTime::Absolute { start, folder_hour } => {
            // The folder is the camera's local hour; a mismatch beyond an hour means a
            // wrong zone in the config or a camera clock problem, worth a warning only.
            let warn = folder_hour.and_then(|fh| {
                let local = tz.to_datetime(*start);
                let folder = fh.to_zoned(tz.clone()).ok()?.timestamp();
                let diff = (start.as_second() - folder.as_second()).abs();
                (diff > 2 * 3600).then(|| {
                    format!(
                        "folder hour {fh} disagrees with the name's unix time ({local} local); check the camera's time zone in the config"
                    )
                })
            });
            (*start, None, warn)
        }
        NameTime::Local { start, end } => {
            let s = start.to_zoned(tz.clone()).map(|z| z.timestamp());
            let e = end.to_zoned(tz.clone()).map(|z| z.timestamp());
            match (s, e) {
                (Ok(s), Ok(e)) => (s, Some(e), None),
                _ => {
                    return from_mtime(Some(
                        "name time does not exist in the camera's zone; timed by mtime".into(),
                    ))
                }
            }
        }
    };
    let year = tz.to_datetime(start).year();
    let future = start.as_second() > now.as_second() + 86_400;
    if year < EARLIEST_YEAR || future {
        let what = if future { "in the future" } else { "before 2015" };
        return from_mtime(Some(format!(
            "name time {start} is {what}; camera clock unset? timed by mtime"
        )));
    }
    if let Some(e) = end {
        if e.as_second() - start.as_second() > 6 * 3600 {
            warning = Some("clip longer than 6 h by its name; end ignored".into());
            return Span {
                start,
                end: None,
                warning,
            };
        }
    }
    Span { start, end, warning }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(path: &str) -> Parsed {
        let comps: Vec<&[u8]> = path.split('/').map(|c| c.as_bytes()).collect();
        parse(&comps)
    }
    fn shanghai() -> TimeZone {
        TimeZone::get("Asia/Shanghai").unwrap()
    }
    fn now() -> Timestamp {
        "2026-11-25T00:00:00Z".parse().unwrap()
    }
    fn mtime() -> Timestamp {
        "2026-11-20T12:00:00Z".parse().unwrap()
    }

    #[test]
    fn old_layout() {
        let x = p("xiaomi_camera_videos/78DF72A1B2C3/2024052113/05M30S_1716267930.mp4");
        assert_eq!(x.layout, Layout::XiaomiOld);
        assert_eq!(x.mac.as_deref(), Some("78df72a1b2c3"));
        let s = resolve(&x, &shanghai(), mtime(), now());
        assert_eq!(s.start.as_second(), 1716267930);
        assert_eq!(s.warning, None, "13:05 Shanghai = 05:05 UTC");
    }

    #[test]
    fn old_layout_wrong_zone_warns() {
        let x = p("xiaomi_camera_videos/78DF72A1B2C3/2024052113/05M30S_1716267930.mp4");
        let s = resolve(&x, &TimeZone::get("America/New_York").unwrap(), mtime(), now());
        assert!(s.warning.unwrap().contains("time zone"));
        assert_eq!(s.start.as_second(), 1716267930, "unix10 stays authoritative");
    }

    #[test]
    fn new_layout_both_roots() {
        for path in [
            "XiaomiCamera_00_78DF72A1B2C3/00_20240521130000_20240521130100.mp4",
            "xiaomi_camera_videos/78df72a1b2c3/00_20240521130000_20240521130100.mp4",
        ] {
            let x = p(path);
            assert_eq!(x.layout, Layout::XiaomiNew, "{path}");
            assert_eq!(x.channel.as_deref(), Some("00"));
            let s = resolve(&x, &shanghai(), mtime(), now());
            assert_eq!(s.start.to_string(), "2024-05-21T05:00:00Z");
            assert_eq!(s.end.unwrap().to_string(), "2024-05-21T05:01:00Z");
        }
    }

    #[test]
    fn nonsense_times_fall_back_to_mtime() {
        for (path, needle) in [
            (
                "XiaomiCamera_00_78DF72A1B2C3/00_20241321130000_20241321130100.mp4",
                "valid date",
            ),
            (
                "XiaomiCamera_00_78DF72A1B2C3/00_19700101000000_19700101000100.mp4",
                "before 2015",
            ),
            (
                "XiaomiCamera_00_78DF72A1B2C3/00_20991231000000_20991231000100.mp4",
                "future",
            ),
            (
                "xiaomi_camera_videos/78DF72A1B2C3/1970010100/00M00S_0000000000.mp4",
                "before 2015",
            ),
            (
                "XiaomiCamera_00_78DF72A1B2C3/holiday video.mp4",
                "no known camera layout",
            ),
        ] {
            let x = p(path);
            let s = resolve(&x, &shanghai(), mtime(), now());
            assert_eq!(s.start, mtime(), "{path}");
            assert!(
                s.warning.as_deref().unwrap_or("").contains(needle),
                "{path}: {:?}",
                s.warning
            );
            assert_eq!(x.mac.as_deref(), Some("78df72a1b2c3"), "camera still known for {path}");
        }
    }

    #[test]
    fn generic_files() {
        let x = p("stray.mp4");
        assert_eq!(
            (x.layout, x.mac.clone(), x.folder.clone()),
            (Layout::Generic, None, None)
        );
        let x = p("garage/2024/clip.mp4");
        assert_eq!(x.folder.as_deref(), Some("garage"));
        let bad: &[&[u8]] = &[b"XiaomiCamera_00_78DF72A1B2C3", b"\xff\xfe.mp4"];
        let x = parse(bad);
        assert_eq!(x.mac.as_deref(), Some("78df72a1b2c3"));
        assert!(x.warning.unwrap().contains("UTF-8"));
    }

    proptest::proptest! {
        #[test]
        fn never_panics(parts in proptest::collection::vec(proptest::collection::vec(proptest::num::u8::ANY, 0..40), 0..5)) {
            let comps: Vec<&[u8]> = parts.iter().map(|v| v.as_slice()).collect();
            let x = parse(&comps);
            let s = resolve(&x, &shanghai(), mtime(), now());
            if s.start != mtime() { proptest::prop_assert!(s.start.as_second() > 1_400_000_000); }
        }

        #[test]
        fn never_panics_on_near_misses(a in "[0-9]{10,14}", b in "[0-9]{10,14}", ch in "[0-9]{0,3}") {
            let path = format!("XiaomiCamera_00_78DF72A1B2C3/{ch}_{a}_{b}.mp4");
            let x = p(&path);
            let _ = resolve(&x, &shanghai(), mtime(), now());
            let path = format!("xiaomi_camera_videos/78DF72A1B2C3/{}/00M00S_{}.mp4", &a[..10], &b[..10]);
            let _ = resolve(&p(&path), &shanghai(), mtime(), now());
        }
    }
}
