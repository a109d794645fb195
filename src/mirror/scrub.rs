//! Scrubbing a mirror: each verified copy is checked again (HEAD: size and CRC-64) within
//! `verify.period_days`, an hour's share at a time (`scrub:<name>` in `serve`), as the
//! main store's scheduled verification does. A copy found missing or different goes back
//! to `missing`: from the vault when the file is still there (the mirror's upload worker
//! does it), else it is copied again here from the main store, checked against the
//! catalog's CRC-64 first (see `backfill`).

use anyhow::Result;
use tracing::warn;

use super::MirrorUploader;
use crate::store::Backend;
use crate::upload::{check_object, VerifyError};

/// Where the scrub of `store` goes on (the next file id).
fn cursor_key(store: &str) -> String {
    format!("mirror.{store}.scrub_after")
}

/// What one scrub pass found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Scrubbed {
    pub checked: u64,
    /// Missing or different (key, why).
    pub bad: Vec<(String, String)>,
    /// Copied again from the main store.
    pub recopied: u64,
}

/// Checks the next `batch` verified copies of `m`; copies a lost one again.
pub async fn pass(m: &MirrorUploader, main: &dyn Backend, batch: usize) -> Result<Scrubbed> {
    let key = cursor_key(&m.name);
    let after: i64 = m.catalog.kv_get(&key)?.and_then(|v| v.parse().ok()).unwrap_or(0);
    let copies = m.catalog.copies_to_scrub(&m.name, after, batch)?;
    let mut out = Scrubbed::default();
    let next = copies.last().map_or(0, |c| c.file_id); // 0: start over next time
    for copy in copies {
        let crc = copy.crc64.clone().unwrap_or_default();
        out.checked += 1;
        if let Err(e) = check_object(&*m.store, &copy.key, copy.size, &crc).await {
            // A store that does not answer is not a lost copy: the pass fails, and the
            // same copies are checked at the next one.
            let lost = !matches!(e, VerifyError::Unreachable(_));
            let why = e.text();
            if lost {
                warn!(mirror = %m.name, key = %copy.key, "scrub: {why}");
                m.catalog.copy_missing(copy.file_id, &m.name, &why)?;
                out.bad.push((copy.key.clone(), why));
                if !copy.local {
                    let tmp_dir = m.vault.join(".camvault-backfill");
                    std::fs::create_dir_all(&tmp_dir)?;
                    let again = m.catalog.copy(copy.file_id, &m.name)?;
                    if let Some(again) = again {
                        match super::backfill::copy_one(m, main, &again, &tmp_dir).await {
                            Ok(Some(_)) => out.recopied += 1,
                            Ok(None) => {
                                warn!(mirror = %m.name, key = %copy.key, "scrub: the main store has it archived only; restore it, then run `camvault mirror backfill {}`", m.name)
                            }
                            Err(e) => warn!(mirror = %m.name, key = %copy.key, "scrub: copying it again failed: {e:#}"),
                        }
                    }
                    let _ = std::fs::remove_dir(&tmp_dir);
                }
            } else {
                anyhow::bail!("mirror {:?}: {why}", m.name);
            }
        }
    }
    m.catalog.kv_set(&key, &next.to_string())?;
    Ok(out)
}

/// How many copies one hourly pass checks so that every copy is checked within `days`.
pub fn batch(verified: u64, days: u64) -> usize {
    (verified / (days * 24).max(1) + 1) as usize
}
