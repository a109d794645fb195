//! One mirror copy checked again, and copied again when it is lost: what the scrub
//! (`scrub:<name>`, HEAD only) and `camvault verify [--deep]` both do to each mirror's
//! verified copies, so that the two cannot drift apart.
//!
//! A copy is checked against the CRC-64 recorded when it was verified (size, checksum;
//! `deep`: the bytes read back, as `verify::check_object` does for the main store). A copy
//! found missing or different goes back to `missing` (it no longer counts for
//! `cache.require_copies`) and is copied again from a good copy: from the vault when the
//! file is still there (the mirror's upload worker, or [`super::MirrorUploader::pass`]),
//! else from the cheapest good copy among the other stores ([`super::sources`]: a disk
//! mirror, the main store unless archived, another mirror), read back and checked against
//! the catalog's CRC-64 first. A read-only mirror's copy is only reported: camvault never
//! writes there. A store that does not answer is not a lost copy: no verdict.

use anyhow::Result;
use tracing::warn;

use super::backfill::Copied;
use super::sources::Sources;
use super::MirrorUploader;
use crate::catalog::copies::CopyRow;

/// What checking one copy found.
#[derive(Debug, PartialEq, Eq)]
pub enum Checked {
    Good,
    /// Missing or different (why); `from`: the store it was copied again from now
    /// (`primary` or a mirror's name). A lost copy still in the vault is left to the
    /// upload pass.
    Lost {
        why: String,
        from: Option<String>,
    },
}

/// Checks `copy` in mirror `m`; `Err` when the store does not answer (no verdict).
pub async fn copy(m: &MirrorUploader, sources: &mut Sources<'_>, copy: &CopyRow, deep: bool) -> Result<Checked> {
    let crc = copy.crc64.clone().unwrap_or_default();
    let Some(why) = crate::verify::check_object(&*m.store, &copy.key, copy.size, &crc, deep).await else {
        return Ok(Checked::Good);
    };
    if why.starts_with("cannot") {
        anyhow::bail!("mirror {:?}: {}: {why}", m.name, copy.key);
    }
    warn!(mirror = %m.name, key = %copy.key, "copy lost: {why}");
    m.catalog.copy_missing(copy.file_id, &m.name, &why)?;
    let mut from = None;
    if !copy.local && !m.read_only {
        let tmp_dir = m.vault.join(".camvault-backfill");
        std::fs::create_dir_all(&tmp_dir)?;
        if let Some(again) = m.catalog.copy(copy.file_id, &m.name)? {
            match super::backfill::copy_one(m, sources, &again, &tmp_dir).await {
                Ok(Copied::Sent { from: f, .. }) => from = Some(f),
                Ok(Copied::Archived) => {
                    warn!(mirror = %m.name, key = %copy.key, "no store holds it readable (the main store has it archived); run `camvault mirror backfill {}` to restore and copy it", m.name)
                }
                Err(e) => warn!(mirror = %m.name, key = %copy.key, "copying it again failed: {e:#}"),
            }
        }
        let _ = std::fs::remove_dir(&tmp_dir);
    }
    Ok(Checked::Lost { why, from })
}
