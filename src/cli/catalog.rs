//! `camvault catalog rebuild`: a catalog from the store alone, for a new machine.
//!
//! The manifests give every listed recording's camera, times, size and CRC-64, and their
//! chain; everything else in the store is adopted by its key, as `adopt` does. The old
//! catalog, if any, is moved aside, never deleted.

use std::process::ExitCode;

use anyhow::{anyhow, bail, Result};

use crate::catalog::{Catalog, StoredFile};
use crate::config::Config;

pub fn rebuild(cfg: Config, force: bool) -> Result<ExitCode> {
    let path = cfg.catalog();
    if path.exists() {
        if !force {
            bail!(
                "{} exists; `catalog rebuild` makes a new one from the store: pass --force to move the old one aside first",
                path.display()
            );
        }
        let aside = path.with_extension(format!("sqlite.before-rebuild-{}", jiff::Timestamp::now().as_second()));
        std::fs::rename(&path, &aside)?;
        for ext in ["sqlite-wal", "sqlite-shm"] {
            let _ = std::fs::rename(path.with_extension(ext), aside.with_extension(ext));
        }
        println!("moved the old catalog to {}", aside.display());
    }
    let rt = super::runtime()?;
    rt.block_on(async move {
        let cat = Catalog::open(&path, true)?;
        let store = crate::store::open(&cfg)?;
        let chains = crate::manifest::load_all(&*store).await?;
        let now = jiff::Timestamp::now().as_millisecond();
        let (mut listed, mut manifests) = (0u64, 0u64);
        for (camera, list) in &chains {
            let tz_name = cfg
                .cameras
                .iter()
                .find(|(mac, c)| {
                    c.name == *camera || crate::config::normalize_mac(mac).as_deref() == Some(camera.as_str())
                })
                .and_then(|(_, c)| c.timezone.as_ref().map(|z| z.name().to_string()))
                .unwrap_or_else(|| cfg.default_zone().1);
            for m in list {
                let mut ids = Vec::new();
                for l in &m.lines {
                    let start: jiff::Timestamp = l
                        .start
                        .parse()
                        .map_err(|e| anyhow!("{}: bad start {:?}: {e}", m.key, l.start))?;
                    let end = l.end.as_deref().and_then(|e| e.parse::<jiff::Timestamp>().ok());
                    let comps: Vec<&[u8]> = l.key.split('/').map(str::as_bytes).collect();
                    let parsed = crate::inbox::layout::parse(&comps);
                    let row = StoredFile {
                        camera,
                        mac: parsed.mac.as_deref(),
                        tz: &tz_name,
                        key: &l.key,
                        layout: parsed.layout.as_str(),
                        channel: parsed.channel.as_deref(),
                        start_ms: start.as_millisecond(),
                        end_ms: end.map(|e| e.as_millisecond()),
                        size: l.size,
                        crc64: Some(&l.crc64),
                        storage_class: "Standard",
                        warning: None,
                        now_ms: now,
                    };
                    if let Some(id) = cat.insert_adopted(&row)? {
                        ids.push(id);
                        listed += 1;
                    }
                }
                cat.record_manifest(
                    camera,
                    &m.header.date,
                    m.header.seq,
                    &m.key,
                    &m.sha256,
                    m.header.prev_sha256.as_deref(),
                    &ids,
                    now,
                )?;
                manifests += 1;
            }
        }
        let rest = super::adopt::adopt_listing(&cfg, &cat, &*store, "", false).await?;
        println!(
            "rebuilt {}: {listed} recording(s) from {manifests} manifest(s), {} more from the store listing",
            path.display(),
            rest.added
        );
        // The video index from its day objects (issue 15), and which manifest names each.
        let ix = crate::index::days::restore_all(&cfg, &cat, &*store, now).await?;
        for list in chains.values() {
            for m in list {
                let keys: Vec<String> = m.header.index.iter().map(|r| r.key.clone()).collect();
                cat.index_days_listed(&keys, &m.key)?;
            }
        }
        println!(
            "index: {} clip(s) from {} index object(s){}",
            ix.clips,
            ix.objects,
            if ix.unknown > 0 {
                format!(", {} clip(s) of recordings not in the store skipped", ix.unknown)
            } else {
                String::new()
            }
        );
        // Each mirror's copies, from a listing of it (issue 21).
        let mut mirrors_ok = true;
        let names: Vec<&str> = cfg.store.mirror.iter().map(|m| m.name.as_str()).collect();
        cat.sync_mirrors(&names, now)?;
        for m in &cfg.store.mirror {
            if m.kind == crate::config::StoreKind::Fs {
                if let Err(why) = crate::mirror::disk::present(&cfg.mirror_root(m), &m.name) {
                    println!(
                        "mirror {:?}: not listed: {why}; mount it and run `camvault mirror backfill {}`",
                        m.name, m.name
                    );
                    mirrors_ok = false;
                    continue;
                }
            }
            let found = crate::mirror::open_store(&cfg, m)?;
            match crate::mirror::rebuild::copies(&cat, &m.name, &*found, now).await {
                Ok(f) => {
                    println!(
                        "mirror {:?}: {} copy(ies) found and checked (size, CRC-64), {} recording(s) not there{}",
                        m.name,
                        f.verified,
                        f.absent,
                        if f.absent > 0 && !m.read_only {
                            format!(" (`camvault mirror backfill {}` copies them)", m.name)
                        } else {
                            String::new()
                        }
                    );
                    for (key, why) in &f.differ {
                        println!("  DIFFERENT  {key}: {why}");
                    }
                    mirrors_ok &= f.differ.is_empty();
                }
                Err(e) => {
                    println!("mirror {:?}: not listed: {e:#}", m.name);
                    mirrors_ok = false;
                }
            }
        }
        println!("local copies are not in the new catalog; check the result with `camvault verify --manifests`.");
        Ok(if rest.failed > 0 || !mirrors_ok {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        })
    })
}
