//! Scrubbing a mirror: each verified copy is checked again (HEAD: size and CRC-64) within
//! `verify.period_days`, an hour's share at a time (`scrub:<name>` in `serve`), as the
//! main store's scheduled verification does, plus `verify.deep_sample` random copies
//! read back each pass. A copy found missing or different is copied
//! again from a good copy ([`super::check`], shared with `camvault verify`; the source is
//! the cheapest good one among the other stores, [`super::sources`]).
//!
//! A disk mirror without its marker is not scrubbed at all: its empty mount point would
//! make every copy look lost (and receive the copies made again).

use anyhow::{bail, Result};

use super::check::Checked;
use super::sources::Sources;
use super::MirrorUploader;

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
    /// Copied again from another store.
    pub recopied: u64,
    /// Where each of those came from: (key, store: `primary` or a mirror's name).
    pub from: Vec<(String, String)>,
}

/// Checks the next `batch` verified copies of `m`, and reads back `sample` random ones
/// (`verify.deep_sample`, as the main store's schedule does: a HEAD cannot see other bytes
/// under the same size and checksum); copies a lost one again (see `check`).
pub async fn pass(m: &MirrorUploader, sources: &mut Sources<'_>, batch: usize, sample: usize) -> Result<Scrubbed> {
    if let Some(d) = &m.disk {
        if let Err(why) = super::disk::present(&d.root, &m.name) {
            bail!("not scrubbed: {why}");
        }
    }
    let key = cursor_key(&m.name);
    let after: i64 = m.catalog.kv_get(&key)?.and_then(|v| v.parse().ok()).unwrap_or(0);
    let copies = m.catalog.copies_to_scrub(&m.name, after, batch)?;
    let mut out = Scrubbed::default();
    let next = copies.last().map_or(0, |c| c.file_id); // 0: start over next time
    for copy in copies {
        // A store that does not answer fails the pass: the same copies are checked at the
        // next one.
        let checked = super::check::copy(m, sources, &copy, false).await?;
        out.add(copy.key, checked);
    }
    m.catalog.kv_set(&key, &next.to_string())?;
    for copy in m.catalog.random_copies(&m.name, sample)? {
        let checked = super::check::copy(m, sources, &copy, true).await?;
        out.add(copy.key, checked);
    }
    Ok(out)
}

impl Scrubbed {
    fn add(&mut self, key: String, checked: Checked) {
        self.checked += 1;
        if let Checked::Lost { why, from } = checked {
            if let Some(store) = from {
                self.recopied += 1;
                self.from.push((key.clone(), store));
            }
            self.bad.push((key, why));
        }
    }
}

/// How many copies one hourly pass checks so that every copy is checked within `days`.
pub fn batch(verified: u64, days: u64) -> usize {
    (verified / (days * 24).max(1) + 1) as usize
}
