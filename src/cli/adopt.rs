//! `camvault adopt`: catalogs recordings that are already in the bucket.
//!
//! The user's months of clips were put there by an ossfs mount in the camera's own
//! folder layout. adopt lists the bucket, parses each key with the same layout parsers
//! as capture, and records each object as verified (size from the listing, CRC-64 from
//! HEAD), without downloading or uploading anything, so that status, verify, lifecycle
//! and restore cover them. Keys stay as they are. Running it again adds only what is new.

use std::process::ExitCode;

use anyhow::{anyhow, Result};

use crate::catalog::{Catalog, NewFile};
use crate::config::Config;
use crate::inbox::layout;

pub fn run(cfg: Config, prefix: &str, dry_run: bool) -> Result<ExitCode> {
    let rt = super::runtime()?;
    rt.block_on(async move {
        let cat = Catalog::open(&cfg.catalog(), true)?;
        let store = crate::store::open(&cfg)?;
        let objects = store.list(prefix).await.map_err(|e| anyhow!("listing {prefix:?}: {e}"))?;
        let now = jiff::Timestamp::now();
        let (mut added, mut known, mut odd, mut failed) = (0u64, 0u64, 0u64, 0u64);
        for o in objects {
            // camvault's own objects are not recordings.
            if o.key.starts_with(crate::store::PROBE_PREFIX) || o.key.starts_with("manifests/") || o.key.starts_with("catalog/") {
                continue;
            }
            let comps: Vec<&[u8]> = o.key.split('/').map(str::as_bytes).collect();
            let parsed = layout::parse(&comps);
            let cam = cfg.camera(parsed.mac.as_deref(), parsed.folder.as_deref());
            let modified = jiff::Timestamp::from_millisecond(o.modified_ms).unwrap_or(now);
            let span = layout::resolve(&parsed, &cam.tz, modified, now);
            if span.warning.is_some() {
                odd += 1;
            }
            if dry_run {
                println!("{}  {}  {}", super::local_time(span.start.as_millisecond(), &cam.tz_name), cam.id, o.key);
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
            let row = NewFile {
                camera: &cam.id,
                mac: parsed.mac.as_deref(),
                tz: &cam.tz_name,
                inbox_path: o.key.as_bytes(),
                base_key: &o.key,
                layout: parsed.layout.as_str(),
                channel: parsed.channel.as_deref(),
                start_ms: span.start.as_millisecond(),
                end_ms: span.end.map(|e| e.as_millisecond()),
                size: o.size,
                mtime_ns: 0,
                dev: 0,
                ino: 0,
                duration_ms: None,
                codec: None,
                width: None,
                height: None,
                warning: span.warning.as_deref(),
                now_ms: now.as_millisecond(),
            };
            if cat.insert_adopted(&row, crc.as_deref(), &o.storage_class)? {
                added += 1;
            } else {
                known += 1;
            }
        }
        if dry_run {
            println!("(dry run: nothing recorded)");
            return Ok(ExitCode::SUCCESS);
        }
        println!("adopted {added} object(s) from the store ({known} already in the catalog, {odd} with names timed by their upload time)");
        if failed > 0 {
            eprintln!("{failed} object(s) could not be read; run adopt again to add them");
            return Ok(ExitCode::from(1));
        }
        Ok(ExitCode::SUCCESS)
    })
}
