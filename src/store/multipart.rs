//! The multipart upload flow the HTTP backends (`s3`, `oss`) share, resumable after a
//! crash; each backend supplies its requests through [`Multipart`].
//!
//! **The invariants.** The catalog journal records the upload id as soon as the store
//! answered it, then each part once the store has confirmed it; so the journal can lag
//! behind the store by one part, never the other way. After a crash the next attempt asks
//! the store which parts it holds (ListParts decides, not the journal), keeps those the
//! backend recognises as the local bytes ([`Multipart::keep`]), uploads the rest, and
//! completes the same upload, conditionally (an existing key is never overwritten). An
//! upload the store no longer has was either completed (its answer lost) or aborted: the
//! key decides. Unfinished uploads to the key that no journal knows (an attempt died
//! before recording the id) are aborted before a new one starts, so that no parts stay
//! billed forever. A body without a journal is uploaded the same way but aborted on
//! failure, so it leaves no parts behind. Aborting an upload drops its parts, never an
//! object.

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::Deserialize;
use tracing::{info, warn};

use super::transfer::{catalog, part_len, sent_what_we_hashed, settle, skip, Digests, Journal};
use super::{ErrorKind, PartDone, StoreError, StoreResult};
use crate::store::body::Body;

/// How many times the parts of an interrupted upload are asked for (ListParts) before
/// camvault gives the upload up and starts it over: a store that cannot answer usably
/// (not implemented, refused, an answer without the fields camvault needs, or failing
/// every time) must not hold the recording back forever.
pub(crate) const LIST_PARTS_TRIES: u32 = 3;

/// S3 and OSS take at most this many parts per upload.
pub(crate) const MAX_PARTS: usize = 10_000;

/// A part the store holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Held {
    pub size: u64,
    pub etag: String,
    /// Hex CRC-64, when the store's ListParts gives it (OSS).
    pub crc64: Option<String>,
}

/// The parts a store holds, by number.
pub(crate) type Parts = BTreeMap<u32, Held>;

/// InitiateMultipartUpload's answer (S3 and OSS write it alike): the upload id.
pub(crate) fn parse_upload_id(xml: &str, what: &str) -> StoreResult<String> {
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct InitiateResult {
        upload_id: String,
    }
    quick_xml::de::from_str::<InitiateResult>(xml)
        .map(|r| r.upload_id)
        .map_err(|e| StoreError::new(ErrorKind::Transient, format!("{what}: unreadable answer ({e})")))
}

/// ListMultipartUploads' answer (S3 and OSS write it alike): the ids of the unfinished
/// uploads to exactly `key` (the listing is by prefix).
pub(crate) fn parse_uploads(xml: &str, key: &str, what: &str) -> StoreResult<Vec<String>> {
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct ListUploadsResult {
        #[serde(default)]
        upload: Vec<UploadItem>,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct UploadItem {
        key: String,
        upload_id: String,
    }
    let list: ListUploadsResult = quick_xml::de::from_str(xml)
        .map_err(|e| StoreError::new(ErrorKind::Transient, format!("{what}: unreadable answer ({e})")))?;
    Ok(list
        .upload
        .into_iter()
        .filter(|u| u.key == key)
        .map(|u| u.upload_id)
        .collect())
}

/// Whether an object exists at `key`: after an upload vanished, it tells a completed one
/// (its answer lost) from an aborted one.
pub(crate) async fn exists(store: &dyn super::Backend, key: &str) -> StoreResult<bool> {
    Ok(store.head(key).await?.is_some())
}

/// One store's multipart requests.
#[async_trait]
pub(crate) trait Multipart: super::Backend {
    /// The store, in messages ("S3", "OSS").
    fn name(&self) -> &'static str;

    /// The part size of new uploads, and the key that sets it.
    fn part_size(&self) -> (u64, &'static str);

    /// Reads the vault copy once for the checksums of the whole and of each part.
    async fn digest(&self, body: &Body, part_size: u64) -> StoreResult<Digests>;

    /// Starts an upload; answers its id.
    async fn create(&self, key: &str, class: &str, d: &Digests) -> StoreResult<String>;

    /// The parts the store holds; `None` when the upload cannot be resumed as it is (it
    /// is then aborted and started over); NotFound when the store no longer has it.
    async fn list_parts(&self, key: &str, upload_id: &str) -> StoreResult<Option<Parts>>;

    /// Whether part `i`, which the store holds as `held`, is the local one.
    fn keep(&self, held: &Held, i: usize, size: u64, d: &Digests, journaled: Option<&PartDone>) -> bool;

    /// Sends part `i` (number `i + 1`, `size` bytes of `body`); answers its ETag and the
    /// checksum the journal records for it.
    #[allow(clippy::too_many_arguments)]
    async fn upload_part(
        &self,
        key: &str,
        upload_id: &str,
        i: usize,
        body: &mut Body,
        size: u64,
        d: &Digests,
    ) -> StoreResult<(String, Option<String>)>;

    /// Completes the upload, conditionally; AlreadyExists when the key exists.
    async fn complete(&self, key: &str, upload_id: &str, etags: &[String], d: &Digests) -> StoreResult<()>;

    /// Gives the upload up (the store drops its parts); failures are only logged.
    async fn abort(&self, key: &str, upload_id: &str);

    /// Sends the whole body in one PUT: for a store that does not implement multipart
    /// uploads (CreateMultipartUpload answers NotImplemented).
    async fn put_whole(&self, key: &str, body: &mut Body, class: &str) -> StoreResult<()>;

    /// The ids of the unfinished uploads to exactly `key`.
    async fn uploads(&self, key: &str) -> StoreResult<Vec<String>>;
}

struct Resume {
    upload_id: String,
    part_size: u64,
    held: Parts,
    journaled: Vec<PartDone>,
}

/// Uploads `body` to `key` in parts, resuming the upload its journal remembers.
pub(crate) async fn upload(m: &dyn Multipart, key: &str, body: &mut Body, class: &str) -> StoreResult<()> {
    let journal: Journal = body.journal();
    let mut resume: Option<Resume> = None;
    if let Some((id, j)) = &journal {
        match j.load(*id).map_err(catalog)? {
            Some(p) if p.key == key => match list_parts(m, key, &p.upload_id).await {
                // The journal lags behind the store, never the other way: a store that
                // holds none of the upload's parts, or not all the journal recorded, is
                // not going on with it (some stores list an upload they do not have,
                // then refuse its parts). Nothing is lost by starting over.
                Ok(Some(held)) if held.is_empty() || p.parts.iter().any(|d| !held.contains_key(&d.part)) => {
                    info!(
                        key,
                        upload_id = %p.upload_id,
                        "the store holds {} of the {} parts the journal recorded: starting over",
                        held.len(),
                        p.parts.len()
                    );
                    m.abort(key, &p.upload_id).await;
                    j.finish(*id).map_err(catalog)?;
                }
                Ok(Some(held)) => {
                    resume = Some(Resume {
                        upload_id: p.upload_id,
                        part_size: p.part_size,
                        held,
                        journaled: p.parts,
                    })
                }
                Ok(None) => {
                    m.abort(key, &p.upload_id).await;
                    j.finish(*id).map_err(catalog)?;
                }
                Err(e) if e.kind == ErrorKind::NotFound => {
                    // Completed (its answer lost in a crash) or aborted: the key decides.
                    j.finish(*id).map_err(catalog)?;
                    if m.head(key).await?.is_some() {
                        return Err(StoreError::new(
                            ErrorKind::AlreadyExists,
                            format!("PUT {key}: the multipart upload interrupted earlier was completed"),
                        ));
                    }
                }
                // No answer (the network): the journal is kept for the next attempt.
                Err(e) if e.kind == ErrorKind::Transient && e.status.is_none() => return Err(e),
                Err(e) => {
                    // The store answered, but nothing usable: start over rather than ask again.
                    warn!(
                        key,
                        upload_id = %p.upload_id,
                        "{e} (after {LIST_PARTS_TRIES} tries): the interrupted upload is given up and started over"
                    );
                    m.abort(key, &p.upload_id).await;
                    j.finish(*id).map_err(catalog)?;
                }
            },
            Some(p) => {
                m.abort(&p.key, &p.upload_id).await;
                j.finish(*id).map_err(catalog)?;
            }
            None => {}
        }
    }
    let (new_part_size, part_size_key) = m.part_size();
    let part_size = resume.as_ref().map_or(new_part_size, |r| r.part_size);
    let d = m.digest(body, part_size).await?;
    if d.parts() > MAX_PARTS {
        return Err(StoreError::new(
            ErrorKind::Refused,
            format!(
                "PUT {key}: {} parts, {} takes at most {MAX_PARTS}: raise `{part_size_key}`",
                d.parts(),
                m.name()
            ),
        ));
    }
    let resumed = resume.is_some();
    let (upload_id, held, journaled) = match resume {
        Some(r) => {
            info!(
                key,
                upload_id = %r.upload_id,
                "resuming a multipart upload: {} holds {} of {} parts",
                m.name(),
                r.held.len(),
                d.parts()
            );
            (r.upload_id, r.held, r.journaled)
        }
        None => {
            if let Err(e) = abort_strays(m, key).await {
                warn!(
                    key,
                    "{e} (unfinished uploads an interrupted attempt left are not cleaned up)"
                );
            }
            let u = match m.create(key, class, &d).await {
                Ok(u) => u,
                Err(e) if e.not_implemented() => {
                    warn!(key, "{e}: the store has no multipart uploads; sent in one PUT instead");
                    return m.put_whole(key, body, class).await;
                }
                Err(e) => return Err(e),
            };
            if let Some((id, j)) = &journal {
                if let Err(e) = j.begin(*id, key, &u, part_size) {
                    m.abort(key, &u).await;
                    return Err(catalog(e));
                }
            }
            (u, BTreeMap::new(), Vec::new())
        }
    };
    let parts = Upload {
        key,
        upload_id: &upload_id,
        part_size,
        d: &d,
        held: &held,
        journaled: &journaled,
        journal: &journal,
    };
    let result = match upload_parts(m, body, &parts).await {
        Ok(etags) => m.complete(key, &upload_id, &etags, &d).await,
        Err(e) => Err(e),
    };
    if resumed && matches!(&result, Err(e) if matches!(e.kind, ErrorKind::Refused | ErrorKind::NotFound)) {
        // The store listed the upload's parts but refuses to go on with it (s3s-fs answers
        // ListParts for an upload it does not have, then refuses its parts): give it up
        // and start over now. The journal is finished first, so this happens once.
        if let Err(e) = &result {
            warn!(key, %upload_id, "{e}: the resumed upload is given up and started over");
        }
        m.abort(key, &upload_id).await;
        if let Some((id, j)) = &journal {
            j.finish(*id).map_err(catalog)?;
        }
        body.rewind()
            .await
            .map_err(|e| StoreError::new(ErrorKind::Transient, format!("PUT {key}: {e:#}")))?;
        return Box::pin(upload(m, key, body, class)).await;
    }
    settle(result, &journal, m.abort(key, &upload_id)).await
}

/// The parts the store holds of `upload_id`, asked for at most [`LIST_PARTS_TRIES`]
/// times: answers at once when the store no longer has the upload (NotFound) or calls it
/// one to start over (`None`); any other error is the last one's, after the tries.
async fn list_parts(m: &dyn Multipart, key: &str, upload_id: &str) -> StoreResult<Option<Parts>> {
    let mut tries = 0;
    loop {
        tries += 1;
        match m.list_parts(key, upload_id).await {
            Err(e) if e.kind == ErrorKind::Transient && tries < LIST_PARTS_TRIES => {
                warn!(key, upload_id, "{e}; asked again");
                tokio::time::sleep(std::time::Duration::from_millis(200 << tries)).await;
            }
            r => return r,
        }
    }
}

/// One upload's state while its parts go up.
struct Upload<'a> {
    key: &'a str,
    upload_id: &'a str,
    part_size: u64,
    d: &'a Digests,
    held: &'a Parts,
    journaled: &'a [PartDone],
    journal: &'a Journal,
}

/// Sends the parts the store does not hold (reading past the ones it does, to keep the
/// body's CRC-64 whole); answers every part's ETag, in order.
async fn upload_parts(m: &dyn Multipart, body: &mut Body, u: &Upload<'_>) -> StoreResult<Vec<String>> {
    let len = body.len();
    let mut etags = Vec::with_capacity(u.d.parts());
    for i in 0..u.d.parts() {
        let part = i as u32 + 1;
        let size = part_len(len, u.part_size, i);
        if let Some(h) = u.held.get(&part) {
            if m.keep(h, i, size, u.d, u.journaled.iter().find(|j| j.part == part)) {
                skip(body, size).await?;
                etags.push(h.etag.clone());
                continue;
            }
        }
        let (etag, checksum) = m.upload_part(u.key, u.upload_id, i, body, size, u.d).await?;
        if let Some((id, j)) = u.journal {
            j.part_done(
                *id,
                &PartDone {
                    part,
                    size,
                    etag: etag.clone(),
                    checksum,
                },
            )
            .map_err(catalog)?;
        }
        etags.push(etag);
    }
    sent_what_we_hashed(u.key, body, u.d)?;
    Ok(etags)
}

/// Aborts unfinished uploads to exactly `key` that no journal knows: started by an
/// attempt that died (or lost its answer) before recording the upload id. camvault owns
/// its keys, so they can only be its own; their parts would be billed forever.
async fn abort_strays(m: &dyn Multipart, key: &str) -> StoreResult<()> {
    for id in m.uploads(key).await? {
        info!(key, upload_id = %id, "aborting an unfinished upload an interrupted attempt left behind");
        m.abort(key, &id).await;
    }
    Ok(())
}
