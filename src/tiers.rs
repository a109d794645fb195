//! Tiers: are the bucket's lifecycle rules there for every prefix holding recordings, and
//! are they moving objects?
//!
//! `serve` runs this hourly. Results go to the catalog (`probe.lifecycle`,
//! `tiering.late`) where the health rules `lifecycle` and `transition_late` read them.

use anyhow::Result;

use crate::catalog::Catalog;
use crate::config::{Config, StoreKind};
use crate::store::{lifecycle, Backend};

pub const LIFECYCLE_PROBE: &str = "probe.lifecycle";

/// What is wrong with the bucket's lifecycle configuration, `None` when every prefix that
/// holds recordings (the key template's and every adopted one in the catalog) is under a
/// rule to the configured class and no rule deletes recordings. On `fs`, tiering is
/// emulated only once `lifecycle apply` ran, so no configuration at all is fine there.
pub async fn lifecycle_problem(cfg: &Config, cat: Option<&Catalog>, store: &dyn Backend) -> Result<Option<String>> {
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
            let parts: Vec<String> = [p, settings].into_iter().flatten().collect();
            cat.kv_set(LIFECYCLE_PROBE, &parts.join(" | "))?
        }
        Err(e) => tracing::warn!("lifecycle check: {e:#}"),
    }
    let late_ms = (cfg.tiering.transition_days as i64 + cfg.health.transition_grace_days as i64) * 86_400_000;
    cat.record_transition_late(late_ms)?;
    Ok(())
}
