//! Upload and verify: moves captured files from the vault to the store and proves them.
//!
//! For each due file: stream `vault/<key>` to the store (never overwriting), mark it
//! `uploaded` with the CRC-64 of the bytes sent, then read the object's metadata back
//! and mark it `verified` only when size and checksum match. A crash anywhere resumes
//! here: a put that landed before the crash answers `AlreadyExists`, and the object is
//! accepted only if its bytes are the ones in the vault.

// The upload body and its rate limiter live in `store` (the backends consume them); the old
// paths stay for callers.
pub use crate::store::{body, limit};

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::catalog::multipart::Journal;
use crate::catalog::{Catalog, FileRow};
use crate::store::{crc_hex, Backend, ErrorKind};
use body::Body;
use limit::RateLimiter;

/// Everything a worker needs; shared by all of them.
pub struct Uploader {
    pub catalog: Arc<Catalog>,
    pub store: Arc<dyn Backend>,
    pub vault: PathBuf,
    pub limiter: Arc<RateLimiter>,
    pub storage_class: String,
    pub retry_initial: Duration,
    pub retry_max: Duration,
    pub metrics: crate::metrics::PipelineMetrics,
}

/// How a file came out of one pass.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Verified,
    Failed(String),
}

fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

/// Exponential backoff with ±50% jitter, so that many failed files do not retry in lockstep.
pub fn backoff(attempts: u32, initial: Duration, max: Duration) -> Duration {
    let exp = initial.saturating_mul(1u32 << attempts.min(20));
    let base = exp.min(max);
    base.mul_f64(0.5 + fastrand::f64())
}

impl Uploader {
    /// Uploads (if needed) and verifies one file, recording the outcome in the catalog.
    pub async fn process(&self, row: &FileRow) -> Outcome {
        let crc = match (&row.crc64, row.uploaded) {
            (Some(crc), true) => crc.clone(),
            _ => match self.timed_upload(row).await {
                Ok(crc) => {
                    if let Err(e) = self.catalog.mark_uploaded(row.id, &crc, &self.storage_class, now_ms()) {
                        return Outcome::Failed(format!("catalog: {e:#}"));
                    }
                    crc
                }
                Err(e) => return self.fail(row, "upload", e),
            },
        };
        match self.verify(row, &crc).await {
            Ok(()) => match self.catalog.mark_verified(row.id, now_ms()) {
                Ok(()) => {
                    debug!(key = %row.key, size = row.size, "verified");
                    self.metrics.verified.inc();
                    Outcome::Verified
                }
                Err(e) => Outcome::Failed(format!("catalog: {e:#}")),
            },
            Err(VerifyError::Missing(e)) => {
                self.metrics.verify_failures.inc();
                let _ = self.catalog.mark_lost(row.id, &e, now_ms());
                Outcome::Failed(e)
            }
            Err(VerifyError::Other(e) | VerifyError::Unreachable(e)) => {
                self.metrics.verify_failures.inc();
                self.fail(row, "verify", e)
            }
        }
    }

    fn fail(&self, row: &FileRow, stage: &str, error: String) -> Outcome {
        let wait = backoff(row.attempts, self.retry_initial, self.retry_max);
        warn!(key = %row.key, attempt = row.attempts + 1, retry_in_secs = wait.as_secs(), "{stage} failed: {error}");
        if let Err(e) = self
            .catalog
            .mark_failed(row.id, stage, &error, now_ms(), now_ms() + wait.as_millis() as i64)
        {
            warn!(key = %row.key, "cannot record failure in the catalog: {e:#}");
        }
        Outcome::Failed(error)
    }

    async fn timed_upload(&self, row: &FileRow) -> Result<String, String> {
        let t0 = std::time::Instant::now();
        let r = self.upload(row).await;
        match &r {
            Ok(_) => {
                self.metrics.upload_bytes.inc_by(row.size);
                self.metrics.upload_seconds.inc_by(t0.elapsed().as_secs_f64());
            }
            Err(_) => {
                self.metrics.upload_errors.inc();
            }
        }
        r
    }

    async fn upload(&self, row: &FileRow) -> Result<String, String> {
        let path = self.vault.join(&row.key);
        let mut body = Body::open(&path, row.size, Some(self.limiter.clone()))
            .await
            .map_err(|e| format!("{e:#}"))?
            .with_journal(row.id, Arc::new(Journal::primary(self.catalog.clone())));
        put_new(&*self.store, &path, &row.key, row.size, &mut body, &self.storage_class)
            .await
            .map_err(PutError::into_text)
    }

    async fn verify(&self, row: &FileRow, crc: &str) -> Result<(), VerifyError> {
        check_object(&*self.store, &row.key, row.size, crc).await
    }
}

/// Why [`put_new`] failed: the store (away, refusing, failing) or this one object (the
/// key holds other bytes). A mirror's worker pauses the whole store on the first kind.
#[derive(Debug)]
pub(crate) enum PutError {
    Store(String),
    Object(String),
}

impl PutError {
    pub(crate) fn into_text(self) -> String {
        match self {
            PutError::Store(e) | PutError::Object(e) => e,
        }
    }
}

/// Stores the vault file at `path` under `key` from `body`, never overwriting; returns the
/// CRC-64 (hex) of the bytes sent. A key already taken is accepted only when it holds
/// these very bytes (an earlier attempt that landed before a crash).
pub(crate) async fn put_new(
    store: &dyn Backend,
    path: &std::path::Path,
    key: &str,
    size: u64,
    body: &mut Body,
    class: &str,
) -> Result<String, PutError> {
    match store.put(key, body, class).await {
        Ok(()) => Ok(crc_hex(body.crc64())),
        Err(e) if e.kind == ErrorKind::AlreadyExists => {
            // Either our own earlier attempt landed before a crash, or the key holds
            // other bytes. Accept only the former; never overwrite.
            let local = crc_hex(
                body::crc_of_file(path, size)
                    .await
                    .map_err(|e| PutError::Store(format!("{e:#}")))?,
            );
            let head = store.head(key).await.map_err(|e| PutError::Store(e.to_string()))?;
            match head {
                Some(h) if h.size == size && h.crc64.as_deref() == Some(local.as_str()) => {
                    info!(key = %key, "object already in the store with the same bytes (earlier attempt)");
                    Ok(local)
                }
                Some(h) => Err(PutError::Object(format!(
                    "the store already holds different bytes at {} ({} bytes, crc {:?}); camvault never overwrites: move that object aside or change `store.key_template`",
                    key, h.size, h.crc64
                ))),
                None => Err(PutError::Store(format!("{key} was reported existing, then missing; will retry"))),
            }
        }
        Err(e) => Err(PutError::Store(e.to_string())),
    }
}

/// Reads the object's metadata back and checks size, the store's own checks and CRC-64.
pub(crate) async fn check_object(store: &dyn Backend, key: &str, size: u64, crc: &str) -> Result<(), VerifyError> {
    let head = store
        .head(key)
        .await
        .map_err(|e| VerifyError::Unreachable(e.to_string()))?;
    let Some(h) = head else {
        return Err(VerifyError::Missing(format!(
            "{key} is missing from the store after upload; will upload again"
        )));
    };
    if h.size != size {
        return Err(VerifyError::Other(format!(
            "{key}: store has {} bytes, expected {size}",
            h.size
        )));
    }
    if let Some(why) = &h.damaged {
        return Err(VerifyError::Other(format!("{key}: {why}")));
    }
    match h.crc64.as_deref() {
        Some(c) if c == crc => Ok(()),
        Some(c) => Err(VerifyError::Other(format!(
            "{key}: store checksum {c} differs from {crc}"
        ))),
        None => Err(VerifyError::Other(format!("{key}: the store reports no checksum"))),
    }
}

pub(crate) enum VerifyError {
    Missing(String),
    /// The store did not answer the HEAD (nothing is known about the object).
    Unreachable(String),
    Other(String),
}

impl VerifyError {
    pub(crate) fn text(self) -> String {
        match self {
            VerifyError::Missing(e) | VerifyError::Unreachable(e) | VerifyError::Other(e) => e,
        }
    }
}

/// Runs uploads until `stop`: takes due files from the catalog, at most `concurrency` at
/// once, woken by `wake` when capture adds work.
pub async fn run(up: Arc<Uploader>, concurrency: usize, wake: Arc<Notify>, stop: CancellationToken) {
    let slots = Arc::new(Semaphore::new(concurrency));
    // Bound: at most `concurrency` ids (one per upload slot), removed when the upload ends.
    let in_flight: Arc<Mutex<HashSet<i64>>> = Arc::default();
    let mut tasks = tokio::task::JoinSet::new();
    loop {
        let free = slots.available_permits();
        let due = if free > 0 {
            let (up, n) = (up.clone(), free + in_flight.lock().unwrap().len());
            crate::workers::blocking(move || up.catalog.due(now_ms(), n)).await
        } else {
            Ok(vec![])
        };
        match due {
            Ok(rows) => {
                for row in rows {
                    if !in_flight.lock().unwrap().insert(row.id) {
                        continue;
                    }
                    let Ok(permit) = slots.clone().try_acquire_owned() else {
                        in_flight.lock().unwrap().remove(&row.id);
                        break;
                    };
                    let (up, in_flight, wake) = (up.clone(), in_flight.clone(), wake.clone());
                    // On the blocking pool, driven by `block_on`: an upload calls the
                    // catalog between its store requests (the rule of `crate::workers`).
                    let rt = tokio::runtime::Handle::current();
                    tasks.spawn_blocking(move || {
                        rt.block_on(async move {
                            // The snapshot may predate a finished upload of the same file.
                            if let Ok(Some(row)) = up.catalog.get(row.id) {
                                let _ = up.process(&row).await;
                            }
                            in_flight.lock().unwrap().remove(&row.id);
                            drop(permit);
                            wake.notify_one();
                        })
                    });
                }
            }
            Err(e) => warn!("cannot read pending files from the catalog: {e:#}"),
        }
        while tasks.try_join_next().is_some() {}
        // While uploads run, their completion wakes us; otherwise sleep until the next
        // retry is due (capture wakes us for new files).
        let busy = !in_flight.lock().unwrap().is_empty();
        let idle = if busy {
            Duration::from_secs(1)
        } else {
            let up = up.clone();
            match crate::workers::blocking(move || up.catalog.next_due_ms()).await {
                Ok(Some(t)) => Duration::from_millis((t - now_ms()).clamp(50, 30_000) as u64),
                _ => Duration::from_secs(30),
            }
        };
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = wake.notified() => {}
            _ = tokio::time::sleep(idle) => {}
        }
    }
    // Let uploads in progress finish briefly; an interrupted one is redone from the catalog.
    let _ = tokio::time::timeout(Duration::from_secs(10), async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
}

/// Processes every file that is not verified, now, retrying each a few times; for
/// `ingest --once`. Returns the files still not verified, with their last error.
pub async fn drain(up: Arc<Uploader>, concurrency: usize, tries: u32) -> Vec<(String, String)> {
    let slots = Arc::new(Semaphore::new(concurrency));
    let mut failed = Vec::new();
    for round in 0..tries {
        let rows = match up.catalog.due(i64::MAX, usize::MAX >> 1) {
            Ok(r) => r,
            Err(e) => return vec![("catalog".into(), format!("{e:#}"))],
        };
        if rows.is_empty() {
            return Vec::new();
        }
        if round > 0 {
            tokio::time::sleep(Duration::from_millis(500 << round)).await;
        }
        let mut tasks = tokio::task::JoinSet::new();
        for row in rows {
            let permit = slots.clone().acquire_owned().await.expect("semaphore open");
            let up = up.clone();
            tasks.spawn(async move {
                let out = up.process(&row).await;
                drop(permit);
                (row.key, out)
            });
        }
        failed.clear();
        while let Some(r) = tasks.join_next().await {
            if let Ok((key, Outcome::Failed(e))) = r {
                failed.push((key, e));
            }
        }
        if failed.is_empty() {
            break;
        }
    }
    failed.sort();
    failed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_caps() {
        let (i, m) = (Duration::from_secs(5), Duration::from_secs(3600));
        for _ in 0..100 {
            let b0 = backoff(0, i, m);
            assert!(b0 >= Duration::from_millis(2500) && b0 <= Duration::from_millis(7500));
            let b30 = backoff(30, i, m);
            assert!(b30 >= Duration::from_secs(1800) && b30 <= Duration::from_secs(5400));
        }
    }
}
