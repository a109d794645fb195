//! `camvault adopt`: catalogs recordings that are already in the bucket.
//!
//! The user's months of clips were put there by an ossfs mount in the camera's own
//! folder layout. adopt lists the bucket, parses each key with the same layout parsers
//! as capture, and records each object as verified (size from the listing, CRC-64 from
//! HEAD), without downloading or uploading anything, so that status, verify, lifecycle
//! and restore cover them. Keys stay as they are. Running it again adds only what is new.

use std::process::ExitCode;

use anyhow::{anyhow, Result};

use crate::catalog::{Catalog, StoredFile};
use crate::config::Config;
use crate::inbox::layout;

pub fn run(cfg: Config, prefix: &str, dry_run: bool) -> Result<ExitCode> {
    let rt = super::runtime()?;
    rt.block_on(async move {
        let cat = Catalog::open(&cfg.catalog(), true)?;
        let store = crate::store::open(&cfg)?;
        let n = adopt_listing(&cfg, &cat, &*store, prefix, dry_run).await?;
        if dry_run {
            println!("(dry run: nothing recorded)");
            return Ok(ExitCode::SUCCESS);
        }
        println!(
            "adopted {} object(s) from the store ({} already in the catalog, {} with names timed by their upload time)",
            n.added, n.known, n.odd
        );
        if n.failed > 0 {
            eprintln!("{} object(s) could not be read; run adopt again to add them", n.failed);
            return Ok(ExitCode::from(1));
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// What an adoption did.
#[derive(Debug, Default)]
pub struct Adopted {
    pub added: u64,
    pub known: u64,
    pub odd: u64,
    pub failed: u64,
}

/// Adopts every object under `prefix` that is not camvault's own and not yet cataloged.
pub async fn adopt_listing(
    cfg: &Config,
    cat: &Catalog,
    store: &dyn crate::store::Backend,
    prefix: &str,
    dry_run: bool,
) -> Result<Adopted> {
    let objects = store
        .list(prefix)
        .await
        .map_err(|e| anyhow!("listing {prefix:?}: {e}"))?;
    let template =
        crate::keys::Template::parse(&cfg.store.key_template).map_err(|e| anyhow!("`store.key_template`: {e}"))?;
    let now = jiff::Timestamp::now();
    let (mut added, mut known, mut odd, mut failed) = (0u64, 0u64, 0u64, 0u64);
    for o in objects {
        // camvault's own objects are not recordings.
        if o.key.starts_with(crate::store::PROBE_PREFIX)
            || o.key.starts_with(crate::manifest::PREFIX)
            || o.key.starts_with(crate::web::thumbs::PREFIX)
            || o.key.starts_with(crate::backup::PREFIX)
        {
            continue;
        }
        let modified = jiff::Timestamp::from_millisecond(o.modified_ms).unwrap_or(now);
        let (parsed, cam, span) = read_key(cfg, &template, &o.key, modified, now);
        if span.warning.is_some() {
            odd += 1;
        }
        if dry_run {
            println!(
                "{}  {}  {}",
                super::local_time(span.start.as_millisecond(), &cam.tz_name),
                cam.id,
                o.key
            );
            continue;
        }
        // HEAD gives the CRC-64 a listing lacks; without it `verify` could not check.
        let crc = match store.head(&o.key).await {
            Ok(Some(h)) => h.crc64,
            Ok(None) => continue, // deleted meanwhile
            Err(e) => {
                eprintln!("cannot read {}: {e}", o.key);
                failed += 1;
                continue;
            }
        };
        let row = StoredFile {
            camera: &cam.id,
            mac: parsed.mac.as_deref(),
            tz: &cam.tz_name,
            key: &o.key,
            layout: parsed.layout.as_str(),
            channel: parsed.channel.as_deref(),
            start_ms: span.start.as_millisecond(),
            end_ms: span.end.map(|e| e.as_millisecond()),
            size: o.size,
            crc64: crc.as_deref(),
            storage_class: &o.storage_class,
            warning: span.warning.as_deref(),
            now_ms: now.as_millisecond(),
        };
        if cat.insert_adopted(&row)?.is_some() {
            added += 1;
        } else {
            known += 1;
        }
    }
    Ok(Adopted {
        added,
        known,
        odd,
        failed,
    })
}

/// Camera and time of an object from its key: camvault's own keys through the key
/// template (camera from `{camera}`, time from the camera's file name, else `{date}` and
/// `{hour}`), anything else through the camera folder layouts.
fn read_key(
    cfg: &Config,
    template: &crate::keys::Template,
    key: &str,
    modified: jiff::Timestamp,
    now: jiff::Timestamp,
) -> (layout::Parsed, crate::config::CameraInfo, layout::Span) {
    if let Some(m) = template.match_key(key) {
        if let Some(camera) = m.get("camera") {
            let mac = crate::config::normalize_mac(camera);
            let cam = match &mac {
                Some(m) => cfg.camera(Some(m), None),
                None => cfg.camera_by_id(camera),
            };
            // The file name as the camera wrote it: without camvault's `.rN` revision mark.
            let file = m.get("file").map(|f| strip_revision(f)).unwrap_or_default();
            let hour_dir = match (m.get("date"), m.get("hour")) {
                (Some(d), Some(h)) => format!("{}{h}", d.replace('-', "")),
                _ => String::new(),
            };
            let old = ["xiaomi_camera_videos", "000000000000", hour_dir.as_str(), file.as_str()];
            let new = ["XiaomiCamera_00_000000000000", file.as_str()];
            for comps in [&old[..], &new[..]] {
                let bytes: Vec<&[u8]> = comps.iter().map(|c| c.as_bytes()).collect();
                let mut parsed = layout::parse(&bytes);
                if parsed.layout != layout::Layout::Generic {
                    parsed.mac = mac.clone();
                    let span = layout::resolve(&parsed, &cam.tz, modified, now);
                    return (parsed, cam, span);
                }
            }
            // Another file name: the hour in the key is better than the upload time.
            let from_key = m.get("date").zip(m.get("hour")).and_then(|(d, h)| {
                let dt: jiff::civil::DateTime = format!("{d}T{h}:00:00").parse().ok()?;
                dt.to_zoned(cam.tz.clone()).ok().map(|z| z.timestamp())
            });
            let comps: Vec<&[u8]> = key.split('/').map(str::as_bytes).collect();
            let parsed = layout::parse(&comps);
            let span = layout::Span {
                start: from_key.unwrap_or(modified),
                end: None,
                warning: None,
            };
            return (parsed, cam, span);
        }
    }
    let comps: Vec<&[u8]> = key.split('/').map(str::as_bytes).collect();
    let parsed = layout::parse(&comps);
    let cam = cfg.camera(parsed.mac.as_deref(), parsed.folder.as_deref());
    let span = layout::resolve(&parsed, &cam.tz, modified, now);
    (parsed, cam, span)
}

/// `clip.r2.mp4` → `clip.mp4`.
fn strip_revision(file: &str) -> String {
    if let Some((stem, ext)) = file.rsplit_once('.') {
        if let Some((base, rev)) = stem.rsplit_once(".r") {
            if !rev.is_empty() && rev.bytes().all(|b| b.is_ascii_digit()) {
                return format!("{base}.{ext}");
            }
        }
    }
    file.to_string()
}
