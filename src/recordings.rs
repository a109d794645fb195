//! Which objects in a bucket are camera recordings, and the prefixes that hold them.
//!
//! A bucket that an ossfs mount filled holds the camera's folders under whatever prefix the
//! share was (`camera_videos/xiaomi_camera_videos/<MAC>/…`, `camera_videos/XiaomiCamera_00_<MAC>/…`)
//! and, often, other people's files beside them. An object is a recording when some tail of
//! its key is a camera folder as capture reads it ([`layout::parse`], so every layout capture
//! learns is recognised here too), or when it matches camvault's own key template. The
//! folder must name the camera (a MAC) or the name must parse: a photo album under the same
//! share is nobody's recording, and camvault neither catalogs it nor puts it under a rule.
//!
//! The recording prefix of such a key is everything up to and including the camera folder
//! (`camera_videos/xiaomi_camera_videos/78df72a1b2c3/`): narrow enough that a lifecycle
//! rule on it moves no one else's files, and one prefix per camera for `adopt --dry-run`.

use crate::inbox::layout::{self, Layout, Parsed};

/// A key recognised as a camera recording outside camvault's key template.
#[derive(Debug, Clone)]
pub struct Found {
    /// The key up to and including the camera folder, ending in `/`.
    pub prefix: String,
    /// What the camera layout says, as capture would read the same file in the inbox.
    pub parsed: Parsed,
}

/// An empty object whose key ends in `/`: ossfs (like the console) writes one per
/// directory. It holds no recording.
pub fn is_dir_marker(key: &str, size: u64) -> bool {
    size == 0 && key.ends_with('/')
}

/// Whether an object is a recording: a key of camvault's template, or in a camera folder
/// (not camvault's own bookkeeping, not a `dir/` marker).
pub fn is_recording(template: &crate::keys::Template, key: &str, size: u64) -> bool {
    let own = key.starts_with(crate::store::PROBE_PREFIX)
        || key.starts_with(crate::manifest::PREFIX)
        || key.starts_with(crate::index::days::PREFIX)
        || key.starts_with(crate::media::thumbs::PREFIX)
        || key.starts_with(crate::backup::PREFIX);
    !own && !is_dir_marker(key, size) && (template.match_key(key).is_some() || recognize(key).is_some())
}

/// The camera layout found in `key`, trying every tail of it from the longest down: the
/// first tail that parses into a known layout wins, else the first that at least sits in a
/// camera folder (its name then falls back to the upload time, with the parser's reason).
pub fn recognize(key: &str) -> Option<Found> {
    if key.ends_with('/') {
        return None;
    }
    let comps: Vec<&[u8]> = key.split('/').map(str::as_bytes).collect();
    let mut in_folder: Option<(usize, Parsed)> = None;
    for i in 0..comps.len().saturating_sub(1) {
        // An empty component (`a//b`) can never start a camera folder.
        if comps[i].is_empty() {
            continue;
        }
        let parsed = layout::parse(&comps[i..]);
        if parsed.layout != Layout::Generic {
            return Some(found(&comps, i, parsed));
        }
        if parsed.mac.is_some() && in_folder.is_none() {
            in_folder = Some((i, parsed));
        }
    }
    in_folder.map(|(i, p)| found(&comps, i, p))
}

/// The prefix ends after the first folder of the tail that names the camera's MAC (both
/// Xiaomi roots), or after the tail's first folder when no folder does (an SD-card copy).
fn found(comps: &[&[u8]], start: usize, parsed: Parsed) -> Found {
    let folders = &comps[start..comps.len() - 1];
    let names_mac = |c: &&[u8]| {
        let s = String::from_utf8_lossy(c).to_ascii_lowercase();
        parsed.mac.as_deref().is_some_and(|m| s.contains(m))
    };
    let depth = folders.iter().position(names_mac).map_or(1, |p| p + 1);
    let mut prefix = String::new();
    for c in &comps[..start + depth.min(folders.len()).max(1)] {
        prefix.push_str(&String::from_utf8_lossy(c));
        prefix.push('/');
    }
    Found { prefix, parsed }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn camera_folders_under_any_prefix() {
        let f = recognize("camera_videos/xiaomi_camera_videos/78DF72A1B2C3/2024052113/05M30S_1716267930.mp4").unwrap();
        assert_eq!(f.prefix, "camera_videos/xiaomi_camera_videos/78DF72A1B2C3/");
        assert_eq!(f.parsed.layout, Layout::XiaomiOld);
        assert_eq!(f.parsed.mac.as_deref(), Some("78df72a1b2c3"));
        let f = recognize("camera_videos/XiaomiCamera_00_5C02148A9E01/10_20240521130000_20240521130100.mp4").unwrap();
        assert_eq!(f.prefix, "camera_videos/XiaomiCamera_00_5C02148A9E01/");
        assert_eq!(f.parsed.channel.as_deref(), Some("10"));
        let f = recognize("xiaomi_camera_videos/78df72a1b2c3/00_20240521130000_20240521130100.mp4").unwrap();
        assert_eq!(f.prefix, "xiaomi_camera_videos/78df72a1b2c3/");
        assert_eq!(f.parsed.layout, Layout::XiaomiNew);
        // Deeper: the share itself was inside another folder.
        let f = recognize("a b/家庭/XiaomiCamera_01_5C02148A9E01/00_20240521130000_20240521130100.mp4").unwrap();
        assert_eq!(f.prefix, "a b/家庭/XiaomiCamera_01_5C02148A9E01/");
    }

    #[test]
    fn unparsable_names_in_a_camera_folder_are_recordings_with_a_reason() {
        let f = recognize("camera_videos/XiaomiCamera_00_5C02148A9E01/holiday 50%25.mp4").unwrap();
        assert_eq!(f.parsed.layout, Layout::Generic);
        assert_eq!(f.prefix, "camera_videos/XiaomiCamera_00_5C02148A9E01/");
        assert!(f.parsed.warning.unwrap().contains("no known camera layout"));
    }

    #[test]
    fn other_peoples_files_are_not_recordings() {
        for key in [
            "camera_videos/家庭共享/照片 1.jpg",
            "camera_videos/notes.txt",
            "backup/2024/clip.mp4",
            "camera_videos/xiaomi_camera_videos/",
            "78DF72A1B2C3/2024052113/05M30S_1716267930.mp4",
            "",
            "//",
        ] {
            assert!(recognize(key).is_none(), "{key}");
        }
        assert!(is_dir_marker("camera_videos/", 0));
        assert!(!is_dir_marker("camera_videos/x", 0));
    }

    proptest::proptest! {
        #[test]
        fn never_panics(key in "(camera_videos/|xiaomi_camera_videos/|XiaomiCamera_00_78DF72A1B2C3/|78df72a1b2c3/|2024052113/|/|\\PC){0,12}") {
            if let Some(f) = recognize(&key) {
                proptest::prop_assert!(key.starts_with(&f.prefix));
            }
        }
    }
}
