//! Camera file layouts: turns a path inside the inbox into a camera id and a time span.
//!
//! Xiaomi cameras write the layouts listed in `docs/cameras.md` (old hourly folders, the
//! new flat folder, its dual-lens `0/` `1/` subfolders, and the SD card's
//! `MIJIA_RECORD_VIDEO`); anything else is the generic layout, timed by the file's mtime.
//! Parsing never fails: a name that does not parse, or parses into an implausible time,
//! becomes a warning on the catalog row and the file is still archived.
//!
//! [`parse`] is a pure function of the relative path, so that capture (inbox paths),
//! `import` (SD-card paths) and `adopt` (object keys) read names the same way.

use jiff::{civil, tz::TimeZone, Timestamp};

/// Which naming scheme a file follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// `xiaomi_camera_videos/<MAC>/<YYYYMMDDHH>/<MM>M<SS>S_<unix10>.mp4`
    XiaomiOld,
    /// `XiaomiCamera_<NN>_<MAC>/<CH>_<start>_<end>.mp4` or `xiaomi_camera_videos/<MAC>/<CH>_…`
    XiaomiNew,
    /// `MIJIA_RECORD_VIDEO/<YYYYMMDDHH>/<MM>M<SS>S_<unix10>.mp4` on the camera's SD card
    /// (no MAC in the path: `import --camera` names the camera).
    SdCard,
    /// Anything else; timed by mtime.
    Generic,
}

impl Layout {
    pub fn as_str(self) -> &'static str {
        match self {
            Layout::XiaomiOld => "xiaomi-old",
            Layout::XiaomiNew => "xiaomi-new",
            Layout::SdCard => "sd-card",
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
    /// The lens folder of a dual-lens camera (`0`, `1`), when the file is in one.
    pub lens: Option<String>,
    pub time: NameTime,
    /// Why the name did not give a usable time, if it did not.
    pub warning: Option<String>,
    /// A new-layout name whose end is not after its start: the camera is still recording
    /// it and renames it when the clip ends (see docs/cameras.md).
    pub in_progress: bool,
    /// What the file is, by its extension.
    pub kind: Kind,
}

/// Video clips are recordings; everything else beside them is kept but is not one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `.mp4` (any case).
    Video,
    /// `.jpg` / `.jpeg`: the camera's snapshot of the clip with the same base name.
    Image,
    /// Anything else (`.cached`, hidden metadata, stray files).
    Other,
}

impl Kind {
    pub fn of(file: &[u8]) -> Kind {
        let ext = file.rsplit(|b| *b == b'.').next().unwrap_or(b"");
        if file.contains(&b'.') && ext.eq_ignore_ascii_case(b"mp4") {
            Kind::Video
        } else if file.contains(&b'.') && (ext.eq_ignore_ascii_case(b"jpg") || ext.eq_ignore_ascii_case(b"jpeg")) {
            Kind::Image
        } else {
            Kind::Other
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Video => "video",
            Kind::Image => "image",
            Kind::Other => "other",
        }
    }
}

/// [`parse`] for a relative path.
pub fn parse_path(rel: &std::path::Path) -> Parsed {
    use std::os::unix::ffi::OsStrExt;
    let comps: Vec<&[u8]> = rel.components().map(|c| c.as_os_str().as_bytes()).collect();
    parse(&comps)
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
            lens: None,
            time: NameTime::None,
            warning,
            in_progress: false,
            kind: Kind::of(components.last().copied().unwrap_or(b"")),
        }
    };
    let file = match names.last() {
        Some(Some(f)) => *f,
        Some(None) => return generic(Some("file name is not valid UTF-8; timed by mtime".into())),
        None => return generic(Some("empty path".into())),
    };
    let kind = Kind::of(file.as_bytes());
    // The SD card: `MIJIA_RECORD_VIDEO/<YYYYMMDDHH>/<file>`; no MAC anywhere in the path.
    if let [Some(root), Some(hour_dir), _] = names.as_slice() {
        if root.eq_ignore_ascii_case("MIJIA_RECORD_VIDEO") {
            let (layout, time, warning) = match parse_old(hour_dir, file) {
                Ok(time) => (Layout::SdCard, time, None),
                Err(why) => (Layout::Generic, NameTime::None, Some(why)),
            };
            return Parsed {
                layout,
                mac: None,
                folder: Some(root.to_string()),
                channel: None,
                lens: None,
                time,
                warning,
                in_progress: false,
                kind,
            };
        }
    }
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
    let in_camera = |layout, channel, lens: Option<&str>, time, warning| Parsed {
        layout,
        mac: Some(mac.clone()),
        folder: None,
        channel,
        lens: lens.map(str::to_string),
        in_progress: matches!(&time, NameTime::Local { start, end } if end <= start),
        time,
        warning,
        kind,
    };
    let new_layout = |lens: Option<&str>| match parse_new(file) {
        Ok((ch, name_lens, time)) => in_camera(Layout::XiaomiNew, Some(ch), lens.or(name_lens), time, None),
        Err(why) => in_camera(Layout::Generic, None, lens, NameTime::None, Some(why)),
    };
    match rest {
        // Dual-lens cameras: one folder per lens under the camera folder.
        [Some(lens @ ("0" | "1"))] => new_layout(Some(lens)),
        [Some(hour_dir)] if hour_dir.len() == 10 && hour_dir.bytes().all(|b| b.is_ascii_digit()) => {
            match parse_old(hour_dir, file) {
                Ok(time) => in_camera(Layout::XiaomiOld, None, None, time, None),
                Err(why) => in_camera(Layout::Generic, None, None, NameTime::None, Some(why)),
            }
        }
        [Some(other)] => in_camera(
            Layout::Generic,
            None,
            None,
            NameTime::None,
            Some(format!(
                "unknown subfolder {other:?} under the camera folder (expected an hour folder YYYYMMDDHH or a lens folder 0 or 1); timed by mtime"
            )),
        ),
        [] => new_layout(None),
        _ => in_camera(
            Layout::Generic,
            None,
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
    let stem = media_stem(file).ok_or("old layout file is not .mp4 or .jpeg; timed by mtime")?;
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

/// The name without `.mp4`, `.jpg` or `.jpeg` (the extensions cameras write).
fn media_stem(file: &str) -> Option<&str> {
    let (stem, ext) = file.rsplit_once('.')?;
    ["mp4", "jpg", "jpeg"]
        .iter()
        .any(|e| ext.eq_ignore_ascii_case(e))
        .then_some(stem)
}

/// New layout: `CH_YYYYMMDDHHMMSS_YYYYMMDDHHMMSS.mp4`, optionally prefixed `lens<N>_` (how
/// camvault's own keys name a dual-lens camera's clips, see [`key_file_name`]).
/// Returns the channel, the lens from such a prefix, and the times. An end that is not
/// after the start is kept as is: it marks a clip still being recorded.
fn parse_new(file: &str) -> Result<(String, Option<&str>, NameTime), String> {
    let stem = media_stem(file).ok_or("new layout file is not .mp4 or .jpeg; timed by mtime")?;
    let (lens, stem) = match stem.split_once('_') {
        Some((l, rest)) if l.len() == 5 && l.starts_with("lens") && l.as_bytes()[4].is_ascii_digit() => {
            (Some(&l[4..]), rest)
        }
        _ => (None, stem),
    };
    let mut parts = stem.split('_');
    let (Some(ch), Some(a), Some(b), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(format!("name {file:?} matches no known camera layout; timed by mtime"));
    };
    if ch.is_empty() || ch.len() > 4 || !ch.bytes().all(|c| c.is_ascii_digit()) {
        return Err(format!("channel {ch:?} is not numeric; timed by mtime"));
    }
    let start = civil_from_digits(a, 14)?;
    let end = civil_from_digits(b, 14)?;
    Ok((ch.to_string(), lens, NameTime::Local { start, end }))
}

/// The file part of an object key: the camera's name, prefixed `lens<N>_` for a dual-lens
/// camera's lens folder so that both lenses' clips of the same minute get distinct keys.
pub fn key_file_name(p: &Parsed, file: &[u8]) -> Vec<u8> {
    match &p.lens {
        Some(l) => [format!("lens{l}_").as_bytes(), file].concat(),
        None => file.to_vec(),
    }
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
                // Still being recorded: only the start is known.
                (Ok(s), Ok(_)) if p.in_progress => (s, None, None),
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
    fn dual_lens_folders() {
        for (lens, path) in [
            (
                "0",
                "XiaomiCamera_03_78DF72A1B2C3/0/00_20240521130000_20240521130100.mp4",
            ),
            (
                "1",
                "XiaomiCamera_03_78DF72A1B2C3/1/10_20240521130000_20240521130100.mp4",
            ),
            (
                "1",
                "xiaomi_camera_videos/78DF72A1B2C3/1/00_20240521130000_20240521130100.mp4",
            ),
        ] {
            let x = p(path);
            assert_eq!(x.layout, Layout::XiaomiNew, "{path}");
            assert_eq!(x.mac.as_deref(), Some("78df72a1b2c3"), "camera = MAC, not NN");
            assert_eq!(x.lens.as_deref(), Some(lens), "{path}");
            let s = resolve(&x, &shanghai(), mtime(), now());
            assert_eq!(
                s.start.to_string(),
                "2024-05-21T05:00:00Z",
                "name time in the camera's zone"
            );
            assert_eq!(s.end.unwrap().to_string(), "2024-05-21T05:01:00Z");
            assert_eq!(s.warning, None);
        }
        // The key's file names the lens, and reads back to the same lens and times.
        let x = p("XiaomiCamera_03_78DF72A1B2C3/1/00_20240521130000_20240521130100.mp4");
        let f = key_file_name(&x, b"00_20240521130000_20240521130100.mp4");
        assert_eq!(f, b"lens1_00_20240521130000_20240521130100.mp4");
        let back = parse(&[b"XiaomiCamera_00_000000000000", &f]);
        assert_eq!(
            (back.layout, back.lens.as_deref(), back.time),
            (Layout::XiaomiNew, Some("1"), x.time)
        );
    }

    #[test]
    fn dual_lens_unknown_subfolder_keeps_camera_and_warns() {
        let x = p("XiaomiCamera_03_78DF72A1B2C3/2/00_20240521130000_20240521130100.mp4");
        assert_eq!(x.layout, Layout::Generic);
        assert_eq!(x.mac.as_deref(), Some("78df72a1b2c3"));
        let s = resolve(&x, &shanghai(), mtime(), now());
        assert_eq!(s.start, mtime());
        assert!(s.warning.unwrap().contains("unknown subfolder \"2\""));
    }

    #[test]
    fn in_progress_names() {
        let x = p("XiaomiCamera_00_78DF72A1B2C3/00_20240521130000_20240521130000.mp4");
        assert!(x.in_progress);
        assert_eq!(x.layout, Layout::XiaomiNew);
        let s = resolve(&x, &shanghai(), mtime(), now());
        assert_eq!((s.start.to_string(), s.end), ("2024-05-21T05:00:00Z".to_string(), None));
        let x = p("XiaomiCamera_00_78DF72A1B2C3/00_20240521130000_20240521125959.mp4");
        assert!(
            x.in_progress,
            "an end before the start is still recording, not a bad name"
        );
        assert!(!p("XiaomiCamera_00_78DF72A1B2C3/00_20240521130000_20240521130001.mp4").in_progress);
    }

    #[test]
    fn sd_card_layout_and_sidecars() {
        let x = p("MIJIA_RECORD_VIDEO/2024052113/05M30S_1716267930.mp4");
        assert_eq!((x.layout, x.mac.clone(), x.kind), (Layout::SdCard, None, Kind::Video));
        let s = resolve(&x, &shanghai(), mtime(), now());
        assert_eq!(s.start.as_second(), 1716267930);
        assert_eq!(s.warning, None);
        let j = p("MIJIA_RECORD_VIDEO/2024052113/05M30S_1716267930.jpeg");
        assert_eq!((j.layout, j.kind), (Layout::SdCard, Kind::Image));
        assert_eq!(Kind::of(b"05M30S_1716267930.mp4.cached"), Kind::Other);
        assert_eq!(Kind::of(b".record_msg"), Kind::Other);
        let c = p("MIJIA_RECORD_VIDEO/2024052113/05M30S_1716267930.mp4.cached");
        assert_eq!(c.layout, Layout::Generic);
        assert!(c.warning.is_some());
        let o = p("xiaomi_camera_videos/78DF72A1B2C3/2024052113/05M30S_1716267930.jpg");
        assert_eq!((o.layout, o.kind), (Layout::XiaomiOld, Kind::Image));
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
