//! Daily catalog backup to the store (`catalog/{time}.sqlite`).
//!
//! A consistent copy is made with SQLite's `VACUUM INTO` while camvault keeps running,
//! then uploaded like any object (never overwriting). With the manifests it lets a new
//! machine start again; `catalog rebuild` works even without it.

use anyhow::{anyhow, Result};

use crate::catalog::{kv, Catalog};
use crate::store::Backend;
use crate::upload::body::Body;

pub const PREFIX: &str = "catalog/";

/// When the last backup was stored, if ever.
pub fn last_ms(catalog: &Catalog) -> Result<Option<i64>> {
    catalog.slot(&kv::BACKUP_LAST_MS)
}

/// Backs the catalog up when the last backup is older than `every_ms`; returns the key.
pub async fn run_if_due(catalog: &Catalog, store: &dyn Backend, every_ms: i64) -> Result<Option<String>> {
    let now = crate::clock::now();
    if last_ms(catalog)?.is_some_and(|t| now.as_millisecond() - t < every_ms) {
        return Ok(None);
    }
    let dir = tempfile::tempdir()?;
    let copy = dir.path().join("catalog.sqlite");
    catalog.snapshot(&copy)?;
    let len = std::fs::metadata(&copy)?.len();
    let key = format!("{PREFIX}{}.sqlite", now.strftime("%Y-%m-%dT%H%M%SZ"));
    let mut body = Body::open(&copy, len, None).await?;
    store
        .put(&key, &mut body, "Standard")
        .await
        .map_err(|e| anyhow!("catalog backup {key}: {e}"))?;
    catalog.set_slot(&kv::BACKUP_LAST_MS, &now.as_millisecond())?;
    tracing::info!(%key, bytes = len, "catalog backed up");
    Ok(Some(key))
}
