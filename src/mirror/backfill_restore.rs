//! `camvault mirror backfill NAME --yes` for recordings the main store holds only in an
//! archive class (issue 21, item 3): a restore through the existing restore flow whose
//! clips go to the mirror, not to the user.
//!
//! Without `--yes` only the plan is shown: how many clips and bytes, and what the
//! restores cost and take at each tier the classes offer (`crate::cost`, `[prices]`).
//! With it, a restore is recorded (`restores`, `restore_items`) and remembered as this
//! mirror's (`mirror_backfill_restores`); `restore::step` requests, polls, downloads each
//! clip into a private folder beside the vault and checks its CRC-64; each finished clip
//! is then checked again, sent to the mirror, verified there, and its file removed.
//!
//! Resumable, never paying twice: a rerun (after a kill, a reboot, or `serve` driving it
//! meanwhile) finds the mirror's restore still active and drives the same one, whose
//! items remember what was requested; a clip an earlier restore already asked for is only
//! polled (the store answers "in progress" or "already restored"), and clips already in
//! a running backfill restore are not planned again.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Result};

use super::MirrorUploader;
use crate::catalog::restores::{ItemState, RestoreStatus};
use crate::catalog::Catalog;
use crate::config::Config;
use crate::restore::{self, Plan, Request, Source};
use crate::store::{Backend, RestoreTier};

/// Where a mirror's backfill restores put their clips until they are sent: beside the
/// vault (same disk, the service user's only), never the user's restore folder.
pub fn dir(cfg: &Config, mirror: &str) -> PathBuf {
    cfg.vault().join(".camvault-backfill").join(format!("restore-{mirror}"))
}

/// The active backfill restores of `mirror` and the keys they hold.
pub fn in_flight(cat: &Catalog, mirror: &str) -> Result<(Vec<i64>, BTreeSet<String>)> {
    let mut ids = Vec::new();
    let mut keys = BTreeSet::new();
    for id in cat.mirror_backfill_restores(mirror)? {
        if cat.restore(id)?.is_some_and(|r| r.state == RestoreStatus::Active) {
            ids.push(id);
            keys.extend(cat.restore_items(id)?.into_iter().map(|i| i.key));
        }
    }
    Ok((ids, keys))
}

/// The restore of `keys` as `restore::plan` prices it.
pub async fn plan(
    cfg: &Config,
    cat: &Catalog,
    main: &dyn Backend,
    mirror: &str,
    keys: Vec<String>,
    tier: RestoreTier,
) -> Result<(Request, Plan)> {
    let req = Request {
        camera: None,
        from_ms: 0,
        to_ms: 0,
        key: None,
        keys,
        tier,
        days: cfg.restore.days.clamp(1, 365),
        merge: false,
        out_dir: dir(cfg, mirror).to_string_lossy().into_owned(),
        drill: false,
        max_wait_hours: None,
    };
    let plan = restore::plan(cfg, cat, main, &req).await?;
    Ok((req, plan))
}

/// What the archived clips of `plan` cost and take at each tier their classes offer:
/// (tier, CNY, longest hours).
pub fn tiers(cfg: &Config, plan: &Plan) -> Vec<(RestoreTier, f64, f64)> {
    let archived: Vec<_> = plan.items.iter().filter(|i| i.source == Source::Archive).collect();
    let has = |c: &str| archived.iter().any(|i| i.class == c);
    let mut tiers = vec![RestoreTier::Standard];
    if has("ColdArchive") || has("DeepColdArchive") {
        tiers.insert(0, RestoreTier::Expedited);
    }
    if has("ColdArchive") {
        tiers.push(RestoreTier::Bulk);
    }
    tiers
        .into_iter()
        .map(|t| {
            let (mut cny, mut hours) = (0.0, 0.0f64);
            for i in &archived {
                let tier = crate::cost::tier_for(&i.class, t);
                let lines =
                    crate::cost::restore_estimate(&cfg.prices, &i.class, tier, 1, i.clip.size as f64 / 1e9, plan.days);
                cny += lines.iter().map(|l| l.cny).sum::<f64>();
                hours = hours.max(crate::cost::restore_hours(&i.class, tier));
            }
            (t, (cny * 100.0).round() / 100.0, hours)
        })
        .collect()
}

/// Records the restore of `plan` as `mirror`'s backfill.
pub fn start(cat: &Catalog, mirror: &str, req: &Request, plan: &Plan, now_ms: i64) -> Result<i64> {
    let id = restore::start(cat, req, plan, now_ms)?;
    cat.add_mirror_backfill_restore(id, mirror)?;
    Ok(id)
}

/// What sending the restored clips did.
#[derive(Debug, Default)]
pub struct Sent {
    pub copied: u64,
    pub bytes: u64,
    /// (key, why): restores that failed, or clips the mirror refused.
    pub failed: Vec<(String, String)>,
}

/// Drives `mirror`'s active backfill restores to their end (or waits while `serve` drives
/// them), then sends every downloaded clip to the mirror. Ctrl-C stops the waiting only.
pub async fn finish(cfg: &Config, m: &MirrorUploader, main: &dyn Backend, serving: bool) -> Result<Sent> {
    let cat = &*m.catalog;
    let (ids, _) = in_flight(cat, &m.name)?;
    for id in &ids {
        loop {
            let now = jiff::Timestamp::now().as_millisecond();
            if !serving {
                restore::step(cfg, cat, main, now).await?;
            }
            if cat.restore(*id)?.is_none_or(|r| r.state != RestoreStatus::Active) {
                break;
            }
            let next = cat.next_restore_poll_ms()?.unwrap_or(now + 1000);
            let wait = (next - now).clamp(200, 60_000) as u64;
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(wait)) => {}
                _ = tokio::signal::ctrl_c() => {
                    bail!("stopped waiting for restore #{id}; it goes on (`camvault serve` drives it): run `camvault mirror backfill {} --yes` again to send what it brings back", m.name);
                }
            }
        }
    }
    // Every backfill restore of this mirror, finished now or earlier: send what it brought.
    let mut out = Sent::default();
    for id in cat.mirror_backfill_restores(&m.name)? {
        for item in cat.restore_items(id)? {
            let Some(copy) = cat.copy(item.file_id, &m.name)? else {
                // Verified already (or no copy row): only the file is left to remove.
                if let Some(p) = &item.path {
                    let _ = std::fs::remove_file(p);
                }
                continue;
            };
            match (item.state, &item.path) {
                (ItemState::Done, Some(p)) if std::path::Path::new(p).is_file() => {
                    match super::backfill::send_file(m, &copy, std::path::Path::new(p), "its restored copy").await {
                        Ok(Some(n)) => {
                            out.copied += 1;
                            out.bytes += n;
                            let _ = std::fs::remove_file(p);
                        }
                        Ok(None) => {}
                        Err(e) => {
                            let why = format!("{e:#}");
                            let now = m.clock.now_ms();
                            cat.copy_failed(copy.file_id, &m.name, &why, now, now)?;
                            out.failed.push((item.key, why));
                        }
                    }
                }
                (ItemState::Failed, _) if ids.contains(&id) => out.failed.push((
                    item.key,
                    format!("restore #{id}: {}", item.error.unwrap_or_else(|| "failed".into())),
                )),
                _ => {}
            }
        }
    }
    Ok(out)
}
