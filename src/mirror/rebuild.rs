//! `catalog rebuild` for the mirrors: a rebuilt catalog learns which copies each mirror
//! holds by listing it, so that `cache.require_copies`, `status` and the scrub know them.
//!
//! A copy is recorded as verified only when the mirror's object has the catalog's size
//! and, by a HEAD, its CRC-64 (a store that reports none gets no row: nothing is claimed
//! that was not checked). Everything else gets no row: `camvault mirror backfill` copies
//! what is missing, and a different object under the key is reported there, never
//! overwritten. A disk mirror without its marker is not listed (its mount point may be
//! empty): it is rebuilt the next time, or its copies are checked by backfill.

use std::collections::HashMap;

use anyhow::{anyhow, Result};
use futures_util::StreamExt;

use crate::catalog::Catalog;
use crate::store::Backend;

/// What listing one mirror found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Found {
    /// Copies recorded as verified.
    pub verified: u64,
    /// Objects under a recording's key with other bytes (key, why).
    pub differ: Vec<(String, String)>,
    /// Recordings the mirror does not hold.
    pub absent: u64,
}

/// Lists mirror `name` and records the copies of the catalog's verified recordings it holds.
pub async fn copies(cat: &Catalog, name: &str, store: &dyn Backend, now_ms: i64) -> Result<Found> {
    let mut files: HashMap<String, (i64, u64, String)> = HashMap::new();
    let mut after = 0;
    loop {
        let page = cat.stored_after(after, 1000)?;
        let Some(last) = page.last() else { break };
        after = last.id;
        for f in page {
            if let Some(crc) = f.crc64 {
                files.insert(f.key, (f.id, f.size, crc));
            }
        }
    }
    let mut out = Found::default();
    let listed = store
        .list("")
        .await
        .map_err(|e| anyhow!("listing mirror {name:?}: {e}"))?;
    let mut same_size = Vec::new();
    for o in listed {
        let Some((id, size, crc)) = files.remove(&o.key) else {
            continue;
        };
        if o.size != size {
            out.differ
                .push((o.key, format!("{} bytes there, {size} in the catalog", o.size)));
            continue;
        }
        same_size.push((o.key, id, crc));
    }
    // A HEAD each for the CRC-64, 16 at a time as a restore's plan makes them: a year of a
    // camera's clips is some 50,000 HEADs, hours one after another to a remote region.
    let mut heads = futures_util::stream::iter(same_size)
        .map(|(key, id, crc)| async move {
            let h = store.head(&key).await;
            (key, id, crc, h)
        })
        .buffered(16);
    while let Some((key, id, crc, h)) = heads.next().await {
        match h.map_err(|e| anyhow!("mirror {name:?}: {e}"))? {
            Some(h) if h.crc64.as_deref() == Some(crc.as_str()) && h.damaged.is_none() => {
                cat.copy_found(id, name, &key, &crc, &h.storage_class, now_ms)?;
                out.verified += 1;
            }
            Some(h) => out.differ.push((
                key,
                format!("CRC-64 {:?} there, {crc} in the catalog", h.crc64.unwrap_or_default()),
            )),
            None => out.absent += 1,
        }
    }
    out.absent += files.len() as u64;
    Ok(out)
}
