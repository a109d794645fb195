//! The index survives the box (issue 15, item 3): per camera and day, one small object in
//! the store, `index/{camera}/{date}.json`, with every clip's result (activity, segments,
//! zones, labels) and its pictures (preview sprite, a frame per segment, as base64 JPEG).
//!
//! - Written once the day is complete: when its manifest is due (two days old in the
//!   camera's zone, cameras upload late) and the indexer has no clip of that day left in its
//!   queue (or, should the indexer be stuck, a week later with what there is). Written
//!   before the day's manifest, which names it (`index` in the manifest header), so the
//!   manifest chain also proves the index.
//! - Stored in Standard under its own prefix: `lifecycle` adds rules only for prefixes that
//!   hold recordings, and `index/` is camvault's own (like `manifests/`, `thumbs/`), so it is
//!   never moved to the archive and search stays free for archived footage.
//! - Clips indexed after a day's object (backfill, a re-index) go into a revision,
//!   `{date}.r2.json`; a later revision wins in `catalog rebuild`.
//! - A store that is away fails the pass; nothing is marked written, so the next pass
//!   (the manifests worker's, hourly with backoff) writes it: never lost.
//! - `catalog rebuild` reads every object back ([`restore_all`]): segments into the catalog
//!   (by key, the file ids are new), pictures into `index.dir`.

use std::collections::BTreeMap;

use anyhow::{anyhow, Context, Result};
use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::catalog::index::ClipResult;
use crate::catalog::index_days::IndexRef;
use crate::catalog::Catalog;
use crate::config::Config;
use crate::store::{crc_hex, Backend};

pub const PREFIX: &str = "index/";
/// Days the day's object (and manifest) wait for an indexer that has clips of it queued.
pub const WAIT_DAYS: i64 = 7;

/// One camera-day's object.
#[derive(Debug, Serialize, Deserialize)]
pub struct DayObject {
    pub camvault_index: u32,
    pub camera: String,
    pub date: String,
    pub clips: Vec<DayClip>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct DayClip {
    /// The clip's store key (file ids are the catalog's own, not kept across rebuilds).
    pub key: String,
    pub result: ClipResult,
    /// The preview sprite, base64 JPEG.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sprite: Option<String>,
    /// A frame per segment (in segment order), base64 JPEG, `null` when none was made.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub frames: Vec<Option<String>>,
}

fn b64(p: &std::path::Path) -> Option<String> {
    std::fs::read(p)
        .ok()
        .map(|b| base64::engine::general_purpose::STANDARD.encode(b))
}

/// The camera-day of `ms` in `tz` and whether it is due at `now`: (date, day start, day end, due, overdue).
pub fn day_of(
    ms: i64,
    tz: &jiff::tz::TimeZone,
    now: jiff::Timestamp,
) -> Option<(jiff::civil::Date, i64, i64, bool, bool)> {
    let date = jiff::Timestamp::from_millisecond(ms).ok()?.to_zoned(tz.clone()).date();
    let start = date.to_zoned(tz.clone()).ok()?.timestamp().as_millisecond();
    let end = date
        .tomorrow()
        .ok()?
        .to_zoned(tz.clone())
        .ok()?
        .timestamp()
        .as_millisecond();
    let today = now.to_zoned(tz.clone()).date();
    let ago = |d: i64| {
        today
            .checked_sub(jiff::Span::new().days(d))
            .is_ok_and(|last| date <= last)
    };
    Some((date, start, end, ago(2), ago(WAIT_DAYS)))
}

/// Writes the index objects that are due; returns how many were written.
pub async fn write_due(cfg: &Config, cat: &Catalog, store: &dyn Backend, now: jiff::Timestamp) -> Result<usize> {
    let rows = cat.index_unwritten(now.as_millisecond() - 86_400_000)?;
    let mut days: BTreeMap<(String, String), (i64, i64, Vec<i64>)> = BTreeMap::new();
    for r in rows {
        let tz = jiff::tz::TimeZone::get(&r.tz).unwrap_or(jiff::tz::TimeZone::UTC);
        let Some((date, from, to, due, overdue)) = day_of(r.start_ms, &tz, now) else {
            continue;
        };
        if !due || (!overdue && cat.index_pending(&r.camera, from, to)? > 0) {
            continue;
        }
        days.entry((r.camera, date.to_string()))
            .or_insert((from, to, Vec::new()))
            .2
            .push(r.file_id);
    }
    let mut written = 0;
    for ((camera, date), (_, _, ids)) in days {
        let keys = cat.keys_of(&ids)?;
        let mut clips = Vec::new();
        let mut listed = Vec::new();
        for (id, key) in ids.iter().zip(keys) {
            let Some(result) = cat.index_clip(*id)? else { continue };
            let dir = super::clip_dir(cfg, *id);
            let frames: Vec<Option<String>> = (0..result.segments.len())
                .map(|i| b64(&dir.join(super::frame_name(i))))
                .collect();
            clips.push(DayClip {
                key,
                sprite: b64(&dir.join(super::SPRITE)),
                frames: if frames.iter().all(Option::is_none) {
                    Vec::new()
                } else {
                    frames
                },
                result,
            });
            listed.push(*id);
        }
        let obj = DayObject {
            camvault_index: 1,
            camera: camera.clone(),
            date: date.clone(),
            clips,
        };
        let bytes = serde_json::to_vec(&obj)?;
        let key = crate::manifest::put_new(
            &|k| cat.index_day_key_taken(k),
            store,
            &format!("{PREFIX}{camera}/{date}.json"),
            &bytes,
        )
        .await
        .context("writing the day's index object (tried again at the next pass)")?;
        let r = IndexRef {
            key: key.clone(),
            size: bytes.len() as u64,
            crc64: crc_of(&bytes),
            sha256: crate::manifest::hex(&Sha256::digest(&bytes)),
        };
        cat.record_index_day(&camera, &date, &r, &listed, now.as_millisecond())?;
        tracing::info!(%key, clips = listed.len(), "index object written");
        written += 1;
    }
    Ok(written)
}

fn crc_of(bytes: &[u8]) -> String {
    let mut crc = crc64fast::Digest::new();
    crc.write(bytes);
    crc_hex(crc.sum64())
}

/// `index/c/d.r2.json` → (`index/c/d.json`, 2); a first object is revision 1.
fn revision_of(key: &str) -> (String, u32) {
    let parsed = key
        .strip_suffix(".json")
        .and_then(|k| k.rsplit_once(".r"))
        .and_then(|(stem, n)| {
            n.parse::<u32>()
                .ok()
                .filter(|n| *n > 1)
                .map(|n| (format!("{stem}.json"), n))
        });
    parsed.unwrap_or_else(|| (key.to_string(), 1))
}

/// What [`restore_all`] brought back.
#[derive(Debug, Default)]
pub struct Restored {
    pub objects: usize,
    pub clips: usize,
    /// Clips whose recording the new catalog does not hold (listed by key, skipped).
    pub unknown: usize,
}

/// Reads every index object in the store into the catalog and `index.dir` (after the
/// recordings were rebuilt): a later revision of a day replaces an earlier one's clips.
pub async fn restore_all(cfg: &Config, cat: &Catalog, store: &dyn Backend, now_ms: i64) -> Result<Restored> {
    let mut objects = store
        .list(PREFIX)
        .await
        .map_err(|e| anyhow!("listing the index objects ({PREFIX}): {e}"))?;
    // Oldest revision first: `x.json` before `x.r2.json` before `x.r10.json`.
    objects.sort_by_key(|o| revision_of(&o.key));
    let mut out = Restored::default();
    for o in objects {
        let bytes = crate::manifest::read_all(store, &o.key).await?;
        let obj: DayObject = serde_json::from_slice(&bytes)
            .with_context(|| format!("{}: not an index object (camvault_index JSON)", o.key))?;
        let mut ids = Vec::new();
        for c in obj.clips {
            let Some(id) = cat.file_id_of(&c.key)? else {
                out.unknown += 1;
                continue;
            };
            let mut r = c.result;
            r.file_id = id;
            let dir = super::clip_dir(cfg, id);
            let pictures = c.sprite.map(|s| (super::SPRITE.to_string(), s)).into_iter().chain(
                c.frames
                    .into_iter()
                    .enumerate()
                    .filter_map(|(i, f)| f.map(|f| (super::frame_name(i), f))),
            );
            for (name, data) in pictures {
                let data = base64::engine::general_purpose::STANDARD
                    .decode(data)
                    .with_context(|| format!("{}: picture {name} of {} is not base64", o.key, c.key))?;
                std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
                std::fs::write(dir.join(&name), data)
                    .with_context(|| format!("writing {}", dir.join(&name).display()))?;
            }
            cat.index_store(&r, now_ms)?;
            ids.push(id);
            out.clips += 1;
        }
        let r = IndexRef {
            key: o.key.clone(),
            size: bytes.len() as u64,
            crc64: crc_of(&bytes),
            sha256: crate::manifest::hex(&Sha256::digest(&bytes)),
        };
        cat.record_index_day(&obj.camera, &obj.date, &r, &ids, now_ms)?;
        out.objects += 1;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revisions_sort_after_their_first_object() {
        assert_eq!(
            revision_of("index/c/2026-11-20.json"),
            ("index/c/2026-11-20.json".into(), 1)
        );
        assert_eq!(
            revision_of("index/c/2026-11-20.r10.json"),
            ("index/c/2026-11-20.json".into(), 10)
        );
        let mut keys = ["index/c/d.r10.json", "index/c/d.r2.json", "index/c/d.json"];
        keys.sort_by_key(|k| revision_of(k));
        assert_eq!(keys, ["index/c/d.json", "index/c/d.r2.json", "index/c/d.r10.json"]);
    }

    #[test]
    fn an_index_object_in_a_folder_named_like_a_camera_is_no_recording() {
        // Named by the camera's MAC, the folder looks like a camera folder; the own-prefix
        // check keeps it out of lifecycle rules and `adopt` whatever the parser says.
        let key = "index/78df72a1b2c3/2026-11-20.json";
        let template = crate::config::Config::default().store.key_template;
        assert!(!crate::recordings::is_recording(&template, key, 1000));
    }

    #[test]
    fn a_day_is_due_two_days_later_in_the_cameras_zone() {
        let sh = jiff::tz::TimeZone::get("Asia/Shanghai").unwrap();
        // 2026-11-20 23:30 in Shanghai.
        let ms = 1_795_190_400_000 - 1_800_000;
        let at = |s: &str| s.parse::<jiff::Timestamp>().unwrap();
        let (date, from, to, due, overdue) = day_of(ms, &sh, at("2026-11-21T15:59:00Z")).unwrap();
        assert_eq!(date.to_string(), "2026-11-20");
        assert_eq!((from, to), (1_795_104_000_000, 1_795_190_400_000));
        assert!(!due && !overdue);
        let (.., due, overdue) = day_of(ms, &sh, at("2026-11-21T16:00:00Z")).unwrap();
        assert!(due && !overdue);
        let (.., overdue) = day_of(ms, &sh, at("2026-11-26T15:59:00Z")).unwrap();
        assert!(!overdue);
        let (.., overdue) = day_of(ms, &sh, at("2026-11-26T16:00:00Z")).unwrap();
        assert!(overdue);
    }
}
