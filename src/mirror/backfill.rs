//! `camvault mirror backfill NAME`: a mirror added later gets the recordings that had
//! already left the local cache, read back from the cheapest good copy among the other
//! stores ([`super::sources`]: a disk mirror, else the main store, else another mirror).
//!
//! Recordings still in the vault need nothing here: `serve` queues them for a new mirror
//! at its next start and copies them from the vault. For the others a `pending` copy is
//! queued, then each is read into a temporary file beside the vault, uploaded to the
//! mirror (never overwriting, accepted only with the same bytes) and verified. The
//! temporary file is checked against the catalog's CRC-64 before it is sent, so a damaged
//! read never becomes a "verified" copy (a source with other bytes is passed over and the
//! next one tried). Run again after an interruption: it resumes where the catalog says.
//!
//! Recordings that no store holds readable (the main store only in an archive class, no
//! other mirror with a readable copy) are listed here; with `--yes` they are restored and
//! sent by [`super::backfill_restore`].

use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Context, Result};

use super::sources::Sources;
use super::MirrorUploader;
use crate::catalog::copies::CopyRow;
use crate::store::body::Body;
use crate::store::crc_hex;
use crate::upload::{check_object, put_new, PutError};

/// What a backfill did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    pub queued: u64,
    pub copied: u64,
    pub copied_bytes: u64,
    /// How many were copied from each store (`primary` or a mirror's name).
    pub from: std::collections::BTreeMap<String, u64>,
    /// Sources passed over for a recording that was then copied from another:
    /// (key, store, why).
    pub skipped: Vec<(String, String, String)>,
    /// Readable nowhere, archived in the main store (key, bytes): need a restore first.
    pub archived: Vec<(String, u64)>,
    /// Could not be copied now (key, why).
    pub failed: Vec<(String, String)>,
}

/// Copies to mirror `m` every recording that left the vault, from the best of `sources`.
pub async fn run(m: &MirrorUploader, sources: &mut Sources<'_>) -> Result<Outcome> {
    run_skipping(m, sources, &Default::default()).await
}

/// [`run`], leaving out the keys in `skip` (those a running backfill restore brings back:
/// they are sent from its download, not read a second time).
pub async fn run_skipping(
    m: &MirrorUploader,
    sources: &mut Sources<'_>,
    skip: &std::collections::BTreeSet<String>,
) -> Result<Outcome> {
    if m.read_only {
        bail!(
            "mirror {:?} is read-only (`read_only = true`): its bucket's replication fills it, camvault only verifies it (`camvault verify`)",
            m.name
        );
    }
    if let Some(d) = &m.disk {
        if let Err(why) = super::disk::present(&d.root, &m.name) {
            bail!("{why}");
        }
    }
    let mut out = Outcome {
        queued: m.catalog.queue_backfill(&m.name)?,
        ..Outcome::default()
    };
    let tmp_dir = m.vault.join(".camvault-backfill");
    std::fs::create_dir_all(&tmp_dir).with_context(|| format!("cannot create {}", tmp_dir.display()))?;
    let mut after = 0;
    loop {
        let batch = m.catalog.copies_to_backfill(&m.name, after, 64)?;
        let Some(last) = batch.last() else { break };
        after = last.file_id;
        for copy in batch {
            if skip.contains(&copy.vault_key) {
                continue;
            }
            match copy_one(m, sources, &copy, &tmp_dir).await {
                Ok(Copied::Sent { from, bytes, skipped }) => {
                    out.copied += 1;
                    out.copied_bytes += bytes;
                    *out.from.entry(from).or_default() += 1;
                    out.skipped
                        .extend(skipped.into_iter().map(|(s, why)| (copy.key.clone(), s, why)));
                }
                Ok(Copied::Archived) => out.archived.push((copy.key.clone(), copy.size)),
                Err(e) => {
                    let why = format!("{e:#}");
                    let now = m.clock.now_ms();
                    m.catalog.copy_failed(copy.file_id, &m.name, &why, now, now)?;
                    out.failed.push((copy.key.clone(), why));
                }
            }
        }
    }
    let _ = std::fs::remove_dir(&tmp_dir);
    Ok(out)
}

/// What [`copy_one`] did.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Copied {
    /// Verified in the mirror, `bytes` read from store `from`, after passing over
    /// `skipped` (store, why).
    Sent {
        from: String,
        bytes: u64,
        skipped: Vec<(String, String)>,
    },
    /// Readable nowhere; the main store holds it in an archive class (a restore first).
    Archived,
}

/// One recording, read from the first of `sources` that gives the catalog's bytes, sent
/// to mirror `m` and verified there. `Err` when no store could give it (each one's
/// reason) or the mirror failed.
pub(super) async fn copy_one(
    m: &MirrorUploader,
    sources: &mut Sources<'_>,
    copy: &CopyRow,
    tmp_dir: &Path,
) -> Result<Copied> {
    let tmp = tmp_dir.join(format!("{}", copy.file_id));
    let result = async {
        let got = sources.fetch(m, copy, &tmp).await?;
        let Some(from) = got.from else {
            if got.archived {
                return Ok(Copied::Archived);
            }
            bail!(
                "no store has a good readable copy of {} ({}); run `camvault verify`",
                copy.vault_key,
                got.why_none()
            );
        };
        let bytes = send_file(m, copy, &tmp, &super::sources::whose(&from))
            .await?
            .unwrap_or(copy.size);
        Ok(Copied::Sent {
            from,
            bytes,
            skipped: got.skipped,
        })
    }
    .await;
    let _ = std::fs::remove_file(&tmp);
    result
}

/// Checks the local file `path` (read from `whose` copy) against the catalog's CRC-64
/// of `copy`'s recording.
pub(crate) async fn check_file(m: &MirrorUploader, copy: &CopyRow, path: &Path, whose: &str) -> Result<()> {
    let expected = m.catalog.file_crc(copy.file_id)?;
    let got = crc_hex(crate::store::body::crc_of_file(path, copy.size).await?);
    if expected.as_deref().is_some_and(|e| e != got) {
        bail!(
            "the bytes of {} read from {whose} do not match the catalog's CRC-64 ({got} != {}); run `camvault verify --deep`",
            copy.vault_key,
            expected.unwrap_or_default()
        );
    }
    Ok(())
}

/// Sends the local file `path` (read from `whose` copy) as `copy` to mirror `m`, after
/// checking it against the catalog's CRC-64, and verifies it there: `Some(bytes)`.
pub(crate) async fn send_file(m: &MirrorUploader, copy: &CopyRow, path: &Path, whose: &str) -> Result<Option<u64>> {
    check_file(m, copy, path, whose).await?;
    let now = m.clock.now_ms();
    m.catalog
        .copy_uploading(copy.file_id, &m.name, None, &m.storage_class, now)?;
    let mut body = Body::open(path, copy.size, m.limiter.clone())
        .await?
        .with_journal(copy.file_id, m.journal());
    let crc = put_new(&*m.store, path, &copy.key, copy.size, &mut body, &m.storage_class)
        .await
        .map_err(|e| match e {
            PutError::Store(e) | PutError::Object(e) => anyhow::anyhow!("mirror {:?}: {e}", m.name),
        })?;
    m.catalog
        .copy_uploading(copy.file_id, &m.name, Some(&crc), &m.storage_class, m.clock.now_ms())?;
    check_object(&*m.store, &copy.key, copy.size, &crc)
        .await
        .map_err(|e| anyhow::anyhow!("mirror {:?}: {}", m.name, e.text()))?;
    m.catalog.copy_verified(copy.file_id, &m.name, m.clock.now_ms())?;
    Ok(Some(copy.size))
}

/// The mirror's uploader for a one-off command (no worker).
pub fn uploader(
    cfg: &crate::config::Config,
    m: &crate::config::Mirror,
    catalog: Arc<crate::catalog::Catalog>,
) -> Result<MirrorUploader> {
    let mc = cfg.for_mirror(m);
    let store = super::open_store(cfg, m)?;
    let fs = m.kind == crate::config::StoreKind::Fs;
    Ok(MirrorUploader {
        name: m.name.clone(),
        catalog,
        store,
        vault: cfg.vault(),
        limiter: (!fs).then(|| Arc::new(crate::store::limit::RateLimiter::new(&cfg.upload))),
        storage_class: m.storage_class.as_str().to_string(),
        retry_initial: std::time::Duration::from_secs(cfg.upload.retry_initial_secs),
        retry_max: std::time::Duration::from_secs(cfg.upload.retry_max_secs),
        disk: fs.then(|| super::DiskMirror {
            root: mc.fs_root(),
            min_free: m.min_free.0,
            warn_days: m.warn_days,
            free: Arc::new(crate::cache::free_bytes),
        }),
        clock: Default::default(),
        read_only: m.read_only,
    })
}
