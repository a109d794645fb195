//! The per camera-day index object (filled in below).
use anyhow::Result;

use crate::catalog::Catalog;
use crate::config::Config;

pub async fn write_due(
    _cfg: &Config,
    _cat: &Catalog,
    _store: &dyn crate::store::Backend,
    _now_ms: i64,
) -> Result<usize> {
    Ok(0)
}
