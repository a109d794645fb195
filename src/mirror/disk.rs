//! A mirror on a local disk (`kind = "fs"`, typically a USB disk at home): is it the disk,
//! and is there room on it.
//!
//! - **The marker.** An empty mount point is a directory like any other: a mirror that
//!   wrote into it would fill the system disk with "copies" that vanish when the disk is
//!   mounted over them. So a mirror's root must hold `.camvault/mirror`, naming the mirror,
//!   written once by `camvault mirror init NAME` on the mounted disk. Without it (or with
//!   another mirror's name in it) the mirror is *away*: nothing is written, its copies wait.
//!   The marker lives under `.camvault/`, which the `fs` backend never lists as an object.
//! - **Room.** camvault never deletes anything on a mirror. Below `min_free` free bytes
//!   copying stops, loudly; before that, at the rate the mirror filled over the last 7
//!   days, it warns `warn_days` ahead.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::config::human_bytes;
use crate::msg;
use crate::msg::Msg;

/// The marker's path under a mirror's root.
pub const MARKER: &str = ".camvault/mirror";

const DAY_MS: i64 = 86_400_000;

/// What the marker holds for mirror `name`.
fn marker_text(name: &str) -> String {
    format!("camvault mirror {name}\n")
}

/// Writes the marker of mirror `name` into `root` (`camvault mirror init`). `root` must
/// exist: creating it here would create it on the system disk when the disk is not mounted.
pub fn init(root: &Path, name: &str) -> Result<PathBuf> {
    if !root.is_dir() {
        bail!(
            "{} does not exist or is not a directory: mount the mirror's disk, create the folder on it (`mkdir {}`), then run this again",
            root.display(),
            root.display()
        );
    }
    let marker = root.join(MARKER);
    if let Ok(text) = std::fs::read_to_string(&marker) {
        if text == marker_text(name) {
            return Ok(marker);
        }
        bail!(
            "{} already marks another mirror ({}); camvault does not take over a disk another mirror uses: use another folder",
            marker.display(),
            text.trim()
        );
    }
    std::fs::create_dir_all(marker.parent().expect("the marker has a parent"))
        .with_context(|| format!("cannot create {}", root.join(".camvault").display()))?;
    std::fs::write(&marker, marker_text(name)).with_context(|| format!("cannot write {}", marker.display()))?;
    Ok(marker)
}

/// Whether `root` is mirror `name`'s disk: `Err` says why not, and what to do.
pub fn present(root: &Path, name: &str) -> Result<(), String> {
    present_msg(root, name).map_err(|m| m.en())
}

/// [`present`], its answer as a catalogue message (the health problem's text in the
/// reader's language).
pub fn present_msg(root: &Path, name: &str) -> Result<(), Msg> {
    let marker = root.join(MARKER);
    match std::fs::read_to_string(&marker) {
        Ok(text) if text == marker_text(name) => Ok(()),
        Ok(text) => Err(msg!(
            "health.detail.mirror_other_disk",
            marker = marker.display(),
            other = text.trim(),
            mirror = format!("{name:?}")
        )),
        Err(_) => Err(msg!(
            "health.detail.mirror_unplugged",
            mirror = format!("{name:?}"),
            marker = marker.display(),
            name = name
        )),
    }
}

/// The room on a disk mirror and how fast it goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Room {
    Enough,
    /// Fills below `min_free` within `days` at the observed rate: a warning, copying goes on.
    Soon {
        free: u64,
        days: u64,
    },
    /// Below `min_free`: copying stops.
    Full {
        free: u64,
    },
}

/// `free` bytes free on the disk, `week_bytes` copied there in the last 7 days.
pub fn room(free: u64, min_free: u64, week_bytes: u64, warn_days: u64) -> Room {
    if free < min_free {
        return Room::Full { free };
    }
    if week_bytes == 0 {
        return Room::Enough;
    }
    let per_day = week_bytes.div_ceil(7);
    let days = (free - min_free) / per_day;
    if days < warn_days {
        Room::Soon { free, days }
    } else {
        Room::Enough
    }
}

impl Room {
    /// The health message, `None` when there is room.
    pub fn problem(&self, name: &str, min_free: u64) -> Option<Msg> {
        let mirror = format!("{name:?}");
        match self {
            Room::Enough => None,
            Room::Soon { free, days } => Some(msg!(
                "health.detail.mirror_disk_soon",
                mirror = mirror,
                free = human_bytes(*free),
                days = days,
                min_free = human_bytes(min_free)
            )),
            Room::Full { free } => Some(msg!(
                "health.detail.mirror_disk_full",
                mirror = mirror,
                free = human_bytes(*free),
                min_free = human_bytes(min_free)
            )),
        }
    }
}

/// The bytes copied to `store` over the last 7 days before `now_ms`.
pub fn week_bytes(cat: &crate::catalog::Catalog, store: &str, now_ms: i64) -> Result<u64> {
    cat.copied_bytes_since(store, now_ms - 7 * DAY_MS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_marker_tells_the_disk_from_an_empty_mount_point() {
        let dir = tempfile::tempdir().unwrap();
        let mount = dir.path().join("usb");
        assert!(
            init(&mount, "usb").is_err(),
            "no folder: not created on the system disk"
        );
        assert!(!mount.exists());
        std::fs::create_dir(&mount).unwrap();
        let e = present(&mount, "usb").unwrap_err();
        assert!(e.contains("is away") && e.contains("camvault mirror init usb"), "{e}");
        init(&mount, "usb").unwrap();
        present(&mount, "usb").unwrap();
        init(&mount, "usb").unwrap();
        let e = present(&mount, "office").unwrap_err();
        assert!(e.contains("names another mirror"), "{e}");
        assert!(
            init(&mount, "office").is_err(),
            "another mirror's disk is not taken over"
        );
    }

    #[test]
    fn room_warns_days_ahead_and_stops_below_min_free() {
        let gib = 1u64 << 30;
        assert_eq!(room(100 * gib, 2 * gib, 0, 30), Room::Enough);
        // 7 GiB a week = 1 GiB a day: 98 days of room.
        assert_eq!(room(100 * gib, 2 * gib, 7 * gib, 30), Room::Enough);
        assert_eq!(
            room(20 * gib, 2 * gib, 7 * gib, 30),
            Room::Soon {
                free: 20 * gib,
                days: 18
            }
        );
        assert_eq!(room(gib, 2 * gib, 7 * gib, 30), Room::Full { free: gib });
        let m = Room::Soon {
            free: 20 * gib,
            days: 18,
        }
        .problem("usb", 2 * gib)
        .unwrap()
        .en();
        assert!(m.contains("18 day(s) left") && m.contains("never deletes"), "{m}");
        let m = Room::Full { free: gib }.problem("usb", 2 * gib).unwrap().en();
        assert!(m.contains("STOPPED"), "{m}");
    }
}
