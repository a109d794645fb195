//! Tiers: are the bucket's lifecycle rules there for every prefix holding recordings, and
//! are they moving objects?
//!
//! `serve` runs this hourly. Results go to the catalog (`probe.lifecycle`,
//! `tiering.late`) where the health rules `lifecycle` and `transition_late` read them.

use anyhow::Result;

use crate::catalog::Catalog;
use crate::config::{Config, StoreKind};
use crate::store::{lifecycle, Backend};

pub use crate::catalog::kv::LIFECYCLE_PROBE;

/// What is wrong with the bucket's lifecycle configuration, `None` when every prefix that
/// holds recordings (the key template's and every adopted one in the catalog) is under a
/// rule to the configured class and no rule deletes recordings. On `fs`, tiering is
/// emulated only once `lifecycle apply` ran, so no configuration at all is fine there.
pub async fn lifecycle_problem(
    cfg: &Config,
    cat: Option<&Catalog>,
    store: &dyn Backend,
) -> Result<Option<crate::msg::Msg>> {
    let rules = match store.get_lifecycle().await.map_err(|e| anyhow::anyhow!("{e}"))? {
        Some(xml) => {
            lifecycle::parse(&xml).map_err(|e| anyhow::anyhow!("the bucket's lifecycle configuration: {e}"))?
        }
        None if cfg.store.kind == StoreKind::Fs => return Ok(None),
        None => Vec::new(),
    };
    let prefixes = crate::coverage::known_prefixes(cfg, cat)?;
    let states = crate::coverage::assess(cfg, &prefixes, &rules);
    Ok(crate::coverage::problem(cfg, &states))
}

/// Catalog key of the verdict on the bucket's numbers against the catalog's.
pub use crate::catalog::kv::BUCKET_PROBE;

/// The bucket's numbers (GetBucketStat, or a listing's sums) and what a listing says that
/// the catalog does not: recordings it does not know, and verified objects that are gone.
/// The catalog is read before the listing for what must be there (a verified object
/// cannot be listed late) and after it for what is known (an upload finishing meanwhile
/// is in flight, not unknown).
pub async fn bucket_numbers(
    cfg: &Config,
    cat: &Catalog,
    store: &dyn Backend,
) -> Result<(crate::store::usage::BucketUsage, Vec<crate::msg::Msg>)> {
    let verified: Vec<String> = cat
        .all_keys()?
        .into_iter()
        .filter(|(_, _, state)| state == "verified")
        .map(|(k, _, _)| k)
        .collect();
    let listing = store
        .list("")
        .await
        .map_err(|e| anyhow::anyhow!("listing the bucket: {e}"))?;
    let usage = match store.bucket_stat().await {
        Ok(Some(u)) => u,
        Ok(None) => crate::store::usage::from_listing(&listing, store.now_ms()),
        Err(e) => {
            tracing::warn!("GetBucketStat: {e}; summing a listing instead");
            crate::store::usage::from_listing(&listing, store.now_ms())
        }
    };
    let known: std::collections::HashSet<String> = cat.all_keys()?.into_iter().map(|(k, _, _)| k).collect();
    let listed: std::collections::HashSet<&str> = listing.iter().map(|o| o.key.as_str()).collect();
    let template = &cfg.store.key_template;
    let unknown: Vec<&str> = listing
        .iter()
        .filter(|o| crate::recordings::is_recording(template, &o.key, o.size) && !known.contains(&o.key))
        .map(|o| o.key.as_str())
        .collect();
    let missing: Vec<&String> = verified.iter().filter(|k| !listed.contains(k.as_str())).collect();
    let drift = match (unknown.first(), missing.first()) {
        (Some(k), Some(g)) => vec![crate::msg!(
            "health.detail.bucket_both",
            n = unknown.len(),
            key = k,
            gone_n = missing.len(),
            gone = g
        )],
        (Some(k), None) => vec![crate::msg!("health.detail.bucket_unknown", n = unknown.len(), key = k)],
        (None, Some(g)) => vec![crate::msg!("health.detail.bucket_missing", n = missing.len(), key = g)],
        (None, None) => Vec::new(),
    };
    Ok((usage, drift))
}

/// The hourly check. A store that cannot be reached leaves the last verdict standing.
pub async fn check(cfg: &Config, cat: &Catalog, store: &dyn Backend) -> Result<()> {
    // The bucket's settings that keep the rules from working (ZRS and an archive class,
    // versioning, the wrong region) belong to the same verdict.
    let settings = match store.bucket_settings().await {
        Ok(Some(b)) => crate::store::settings::problem(cfg, &b),
        Ok(None) => None,
        Err(e) => {
            tracing::warn!("reading the bucket's settings: {e}");
            None
        }
    };
    match lifecycle_problem(cfg, Some(cat), store).await {
        Ok(p) => {
            // With their keys: each page and alert shows them in its language.
            let parts: Vec<crate::msg::Msg> = [p, settings].into_iter().flatten().collect();
            cat.set_slot(&LIFECYCLE_PROBE, &crate::msg::to_stored(&parts))?
        }
        Err(e) => tracing::warn!("lifecycle check: {e:#}"),
    }
    match bucket_numbers(cfg, cat, store).await {
        Ok((usage, drift)) => {
            cat.set_slot(&crate::catalog::kv::STORE_USAGE, &usage)?;
            cat.set_slot(&BUCKET_PROBE, &crate::msg::to_stored(&drift))?;
        }
        Err(e) => tracing::warn!("bucket numbers: {e:#}"),
    }
    let late_ms = (cfg.tiering.transition_days as i64 + cfg.health.transition_grace_days as i64) * 86_400_000;
    cat.record_transition_late(late_ms)?;
    Ok(())
}
