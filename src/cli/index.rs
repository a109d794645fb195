//! `camvault index`: what the index holds, and backfill of footage captured before it
//! (`--from --to`): clips on local disk (or restored) are indexed now; for the others it
//! says what bringing them back would cost and restores only with `--restore`.

use std::process::ExitCode;

use anyhow::{bail, Result};
use tokio_util::sync::CancellationToken;

use crate::catalog::Catalog;
use crate::config::Config;

pub struct Args {
    pub camera: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub restore: bool,
    pub yes: bool,
    pub json: bool,
}

pub fn run(cfg: Config, a: Args) -> Result<ExitCode> {
    let cat = Catalog::open(&cfg.catalog(), false)?;
    let (Some(from), Some(to)) = (&a.from, &a.to) else {
        if a.from.is_some() || a.to.is_some() {
            bail!("give both --from and --to (e.g. --from 2026-01-01 --to 2026-02-01), or neither to see what the index holds");
        }
        let n = cat.index_counts()?;
        if a.json {
            println!("{}", serde_json::to_string_pretty(&n)?);
        } else {
            println!(
                "index: {} clip(s) indexed ({} segment(s)), {} undecodable, {} unavailable, {} queued",
                n.indexed, n.segments, n.undecodable, n.unavailable, n.queued
            );
        }
        return Ok(ExitCode::SUCCESS);
    };
    let tz = cfg.zone_of(a.camera.as_deref());
    let from_ms = super::times::parse(from, &tz, "--from")?.as_millisecond();
    let to_ms = super::times::parse(to, &tz, "--to")?.as_millisecond();
    if to_ms <= from_ms {
        bail!("--to {to:?} must be after --from {from:?}");
    }
    let now = crate::clock::now().as_millisecond();
    let (local, remote) = cat.index_missing(a.camera.as_deref(), from_ms, to_ms)?;
    let mut readable: Vec<i64> = local.iter().map(|q| q.file_id).collect();
    let mut away = Vec::new();
    for id in remote {
        match cat.index_restored_copy(id)? {
            Some(p) if std::path::Path::new(&p).is_file() => readable.push(id),
            _ => away.push(id),
        }
    }
    cat.index_enqueue_ids(&readable, now)?;
    let stop = CancellationToken::new();
    let detector = crate::index::worker::load_detector(&cfg, &cat);
    if let (Some(d), false) = (&detector, a.json) {
        println!("detector: {} ({} classes)", d.path.display(), d.layout.classes());
    } else if let (Some(why), false) = (
        cat.slot(&crate::catalog::kv::DETECTOR_PROBE)?.filter(|w| !w.is_empty()),
        a.json,
    ) {
        eprintln!("warning: {why}");
    }
    let done = crate::index::worker::pass_with(&cfg, &cat, &stop, None, detector.as_ref())?;
    let n = cat.index_counts()?;
    if !a.json {
        println!(
            "indexed {done} clip(s) of the range from local or restored copies; the index now holds {} clip(s), {} undecodable",
            n.indexed, n.undecodable
        );
    }
    if away.is_empty() {
        if a.json {
            println!("{}", serde_json::json!({"indexed": done, "not_local": 0}));
        }
        return Ok(ExitCode::SUCCESS);
    }
    // The rest is only in the store: priced by the restore planner, fetched only on --restore.
    let keys = cat.keys_of(&away)?;
    let req = crate::restore::Request {
        camera: a.camera.clone(),
        from_ms,
        to_ms,
        key: None,
        keys,
        tier: cfg.restore.tier,
        days: cfg.restore.days,
        merge: false,
        out_dir: String::new(),
        drill: false,
        max_wait_hours: None,
    };
    if !a.json {
        println!(
            "{} clip(s) of the range are not on local disk{}:",
            away.len(),
            if a.restore {
                "; restoring them"
            } else {
                "; restoring them would be"
            }
        );
    }
    let code = super::restore::plan_and_start(cfg, req, !a.restore, false, a.yes, a.json)?;
    if !a.restore && !a.json {
        println!("nothing was restored: run again with --restore to bring them back, then `camvault index` again once the restore is done");
    }
    Ok(code)
}
