//! Mirror stores (issue 21): every recording is also copied to each `[[store.mirror]]`
//! and verified there, by one worker per mirror (`upload:<name>` on `serve`'s runner).
//!
//! What a mirror's worker promises:
//! - **It never holds up anything else.** It reads only its own copies
//!   (`catalog::copies`), from the vault, with its own store: the main store's uploads and
//!   the other mirrors go on whatever happens to it.
//! - **A store that is away pauses only that store.** A failure of the store itself (an
//!   unplugged disk, a region down, refused credentials) ends the pass; the worker waits
//!   with backoff (doubling from `upload.retry_initial_secs` up to `upload.retry_max_secs`),
//!   raises its own health problem (`mirror`, subject the mirror's name, from the probe
//!   `probe.mirror.<name>`), and logs once per streak, never in a hot loop. A problem of one
//!   object (other bytes under the key) backs off that copy alone.
//! - **A disk mirror must be its disk** ([`disk`]): without its marker it is away and
//!   nothing is written; below its `min_free` copying stops; camvault never deletes there.
//! - Uploads never overwrite and an object is accepted only when size and CRC-64 match
//!   (the same steps as the main store's, `upload::put_new` / `upload::check_object`). A
//!   crash anywhere resumes from the copy's row: a put that landed answers `AlreadyExists`
//!   and is accepted only with the vault's bytes, so a restart never makes a duplicate.
//!
//! - **A read-only mirror is never written** (`read_only = true`: a bucket OSS Cross-Region
//!   Replication fills). Its store is opened only by [`open_store`], through
//!   `store::readonly`, which refuses every write; its worker never puts, it waits for
//!   each recording to appear there (replication lags) and verifies it against the main
//!   store's CRC-64.
//!
//! - A multipart upload to a mirror resumes after a crash like the main store's
//!   (`store::multipart`), from its own rows of the journal (`catalog::multipart`).

pub mod backfill;
pub mod backfill_restore;
pub mod check;
pub mod cost;
pub mod disk;
pub mod rebuild;
pub mod scrub;
pub mod sources;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::catalog::copies::CopyRow;
use crate::catalog::Catalog;
use crate::msg;
use crate::msg::Msg;
use crate::store::body::Body;
use crate::store::limit::RateLimiter;
use crate::store::Backend;
use crate::upload::{backoff, check_object, put_new, PutError, VerifyError};
use crate::workers::{blocking, Streak};

/// The health probe of mirror `name` (read by `health` as the rule `mirror`).
pub fn probe_key(name: &str) -> String {
    format!("{}mirror.{name}", crate::catalog::kv::PROBE_PREFIX)
}

/// The mirror's name in a probe key, if it is one.
pub fn probe_name(key: &str) -> Option<&str> {
    key.strip_prefix(crate::catalog::kv::PROBE_PREFIX)?
        .strip_prefix("mirror.")
}

/// Free bytes on the disk holding a path (`cache::free_bytes`, or a test's own).
pub type FreeBytes = Arc<dyn Fn(&Path) -> Option<u64> + Send + Sync>;

/// A mirror on a local disk: where, and how much room to leave.
pub struct DiskMirror {
    pub root: PathBuf,
    pub min_free: u64,
    pub warn_days: u64,
    /// Free bytes on the disk (a parameter so that tests can fill it).
    pub free: FreeBytes,
}

/// One mirror's uploader; see the module doc.
pub struct MirrorUploader {
    pub name: String,
    pub catalog: Arc<Catalog>,
    pub store: Arc<dyn Backend>,
    pub vault: PathBuf,
    /// The upload bandwidth limit, shared with the main store (remote mirrors only: a
    /// local disk does not use the internet link).
    pub limiter: Option<Arc<RateLimiter>>,
    pub storage_class: String,
    pub retry_initial: Duration,
    pub retry_max: Duration,
    pub disk: Option<DiskMirror>,
    pub clock: Clock,
    /// A replica camvault only verifies (see the module doc); its `store` is a
    /// `store::readonly::ReadOnly` whenever this is set ([`open_store`]).
    pub read_only: bool,
}

/// Mirror `m`'s store: the only place a mirror's backend is built, so that a read-only
/// mirror is always wrapped in `store::readonly::ReadOnly` (no write can reach it).
pub fn open_store(cfg: &crate::config::Config, m: &crate::config::Mirror) -> Result<Arc<dyn Backend>> {
    use anyhow::Context;
    let inner =
        crate::store::open(&cfg.for_mirror(m)).with_context(|| format!("mirror {:?} (`[[store.mirror]]`)", m.name))?;
    Ok(if m.read_only {
        Arc::new(crate::store::readonly::ReadOnly::new(&m.name, inner))
    } else {
        Arc::from(inner)
    })
}

/// The worker's time: the wall clock when first asked, then moved on by tokio's clock, so
/// that backoff recorded in the catalog follows tokio's paused clock in tests (and a
/// wall-clock step does not stretch or cut a wait).
#[derive(Default)]
pub struct Clock(std::sync::OnceLock<(i64, tokio::time::Instant)>);

impl Clock {
    pub fn now_ms(&self) -> i64 {
        let (wall, at) = *self
            .0
            .get_or_init(|| (jiff::Timestamp::now().as_millisecond(), tokio::time::Instant::now()));
        wall + tokio::time::Instant::now().saturating_duration_since(at).as_millis() as i64
    }
}

/// How a pass ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Pass {
    /// Every due copy was tried; `copied` verified now.
    Done { copied: u64 },
    /// The store is away (or full): why, as the health problem's message (`.en()` for
    /// logs). Nothing more is tried until the backoff passes.
    Away(Msg),
}

/// How one copy went wrong.
enum Failure {
    /// The store itself: the pass ends.
    Store(Msg),
    /// This copy only (recorded with its own backoff).
    Copy,
}

/// At most this many batches per pass, so a catalog that cannot record progress cannot
/// keep a pass going for ever.
const BATCHES: usize = 64;
const BATCH: usize = 32;

impl MirrorUploader {
    /// Uploads and verifies every due copy, unless the store is away.
    pub async fn pass(&self, stop: &CancellationToken) -> Result<Pass> {
        let mut warning = None;
        if let Some(d) = &self.disk {
            if let Err(why) = self.disk_present().await {
                return Ok(Pass::Away(why));
            }
            if let Some(free) = (d.free)(&d.root) {
                let (cat, name) = (self.catalog.clone(), self.name.clone());
                let now = self.clock.now_ms();
                let week = blocking(move || disk::week_bytes(&cat, &name, now)).await?;
                let room = disk::room(free, d.min_free, week, d.warn_days);
                if let Some(msg) = room.problem(&self.name, d.min_free) {
                    if matches!(room, disk::Room::Full { .. }) {
                        return Ok(Pass::Away(msg));
                    }
                    warning = Some(msg);
                }
            }
        }
        let (mut copied, mut tried) = (0, 0);
        'batches: for _ in 0..BATCHES {
            let (cat, name) = (self.catalog.clone(), self.name.clone());
            let now = self.clock.now_ms();
            let due = blocking(move || cat.copies_due(&name, now, BATCH)).await?;
            if due.is_empty() {
                break;
            }
            for copy in due {
                if stop.is_cancelled() {
                    break 'batches;
                }
                tried += 1;
                match self.process(&copy).await {
                    Ok(()) => copied += 1,
                    Err(Failure::Copy) => {}
                    Err(Failure::Store(why)) => return Ok(Pass::Away(why)),
                }
            }
        }
        // The problem of an earlier pass stands until the store has answered again: a
        // pass with nothing due (every copy waiting out its backoff) proves nothing.
        if tried > 0 || warning.is_some() {
            self.set_probe(warning.as_ref()).await?;
        }
        Ok(Pass::Done { copied })
    }

    /// This mirror's multipart journal (resumed after a crash).
    pub fn journal(&self) -> Arc<dyn crate::store::MultipartJournal> {
        Arc::new(crate::catalog::multipart::Journal::of(self.catalog.clone(), &self.name))
    }

    async fn disk_present(&self) -> Result<(), Msg> {
        let Some(d) = &self.disk else { return Ok(()) };
        let (root, name) = (d.root.clone(), self.name.clone());
        tokio::task::spawn_blocking(move || disk::present_msg(&root, &name))
            .await
            .unwrap_or_else(|e| Err(self.away(format!("checking the marker panicked: {e}"))))
    }

    /// A store failure (its text in English: the store's or the catalog's own words) as
    /// this mirror's health problem.
    fn away(&self, why: String) -> Msg {
        msg!(
            "health.detail.mirror_away",
            mirror = format!("{:?}", self.name),
            why = why
        )
    }

    /// Records this mirror's problem (none: cleared) for `health`, keyed so that the
    /// pages and alerts show it in their language.
    async fn set_probe(&self, what: Option<&Msg>) -> Result<()> {
        let what = what
            .map(|m| crate::msg::to_stored(std::slice::from_ref(m)))
            .unwrap_or_default();
        let (cat, key) = (self.catalog.clone(), probe_key(&self.name));
        blocking(move || cat.kv_set(&key, &what)).await
    }

    /// A read-only mirror's copy: there once replication brought it, with the main store's
    /// bytes. Until then it waits (backing off), without a failure: replication lags.
    async fn check_replica(&self, copy: &CopyRow) -> Result<(), Failure> {
        let (id, name) = (copy.file_id, self.name.clone());
        let cat = self.catalog.clone();
        let want = blocking(move || cat.file_crc_verified(id))
            .await
            .map_err(|e| Failure::Store(self.away(format!("catalog: {e:#}"))))?;
        let later = |why: String| {
            let wait = backoff(copy.attempts, self.retry_initial, self.retry_max);
            let (cat, n, now) = (self.catalog.clone(), name.clone(), self.clock.now_ms());
            async move {
                self.record(move || cat.copy_later(id, &n, &why, now + wait.as_millis() as i64))
                    .await
            }
        };
        let Some(crc) = want else {
            later("not verified in the main store yet".into()).await?;
            return Err(Failure::Copy);
        };
        match check_object(&*self.store, &copy.key, copy.size, &crc).await {
            Ok(()) => {
                let (cat, now) = (self.catalog.clone(), self.clock.now_ms());
                let class = self.storage_class.clone();
                self.record(move || {
                    cat.copy_uploading(id, &name, Some(&crc), &class, now)?;
                    cat.copy_verified(id, &name, now)
                })
                .await
            }
            Err(VerifyError::Missing(_)) => {
                later(format!("{} not replicated there yet", copy.key)).await?;
                Err(Failure::Copy)
            }
            Err(VerifyError::Unreachable(e)) => Err(self.fail(copy, e, true).await),
            Err(VerifyError::Other(e)) => Err(self.fail(copy, e, false).await),
        }
    }

    /// Uploads (unless already sent) and verifies one copy.
    async fn process(&self, copy: &CopyRow) -> Result<(), Failure> {
        if self.read_only {
            return self.check_replica(copy).await;
        }
        let (id, name) = (copy.file_id, self.name.clone());
        let crc = match &copy.crc64 {
            Some(crc) => crc.clone(),
            None => {
                // Checked again right before the bytes go: the disk may have gone since
                // the pass began, and its empty mount point must never receive them.
                self.disk_present().await.map_err(Failure::Store)?;
                let (cat, n, class) = (self.catalog.clone(), name.clone(), self.storage_class.clone());
                let now = self.clock.now_ms();
                self.record(move || cat.copy_uploading(id, &n, None, &class, now))
                    .await?;
                let path = self.vault.join(&copy.vault_key);
                let mut body = match Body::open(&path, copy.size, self.limiter.clone()).await {
                    Ok(b) => b.with_journal(copy.file_id, self.journal()),
                    Err(e) => return Err(self.fail(copy, format!("{e:#}"), false).await),
                };
                match put_new(
                    &*self.store,
                    &path,
                    &copy.key,
                    copy.size,
                    &mut body,
                    &self.storage_class,
                )
                .await
                {
                    Ok(crc) => {
                        let (cat, n, class, c) = (
                            self.catalog.clone(),
                            name.clone(),
                            self.storage_class.clone(),
                            crc.clone(),
                        );
                        let now = self.clock.now_ms();
                        self.record(move || cat.copy_uploading(id, &n, Some(&c), &class, now))
                            .await?;
                        crc
                    }
                    Err(PutError::Store(e)) => return Err(self.fail(copy, e, true).await),
                    Err(PutError::Object(e)) => return Err(self.fail(copy, e, false).await),
                }
            }
        };
        match check_object(&*self.store, &copy.key, copy.size, &crc).await {
            Ok(()) => {
                let cat = self.catalog.clone();
                let now = self.clock.now_ms();
                self.record(move || cat.copy_verified(id, &name, now)).await?;
                debug!(mirror = %self.name, key = %copy.key, "copy verified");
                Ok(())
            }
            Err(VerifyError::Missing(e)) => {
                let cat = self.catalog.clone();
                self.record(move || cat.copy_missing(id, &name, &e)).await?;
                Err(Failure::Copy)
            }
            Err(VerifyError::Unreachable(e)) => Err(self.fail(copy, e, true).await),
            Err(VerifyError::Other(e)) => Err(self.fail(copy, e, false).await),
        }
    }

    /// Runs a catalog write; a catalog that fails is the whole worker's problem.
    async fn record(&self, f: impl FnOnce() -> Result<()> + Send + 'static) -> Result<(), Failure> {
        blocking(f)
            .await
            .map_err(|e| Failure::Store(self.away(format!("catalog: {e:#}"))))
    }

    /// Records a failed try of `copy` with its backoff; `store` when the store failed.
    async fn fail(&self, copy: &CopyRow, error: String, store: bool) -> Failure {
        let wait = backoff(copy.attempts, self.retry_initial, self.retry_max);
        if !store {
            warn!(mirror = %self.name, key = %copy.key, attempt = copy.attempts + 1, retry_in_secs = wait.as_secs(), "copy failed: {error}");
        }
        let (cat, name, id, e) = (self.catalog.clone(), self.name.clone(), copy.file_id, error.clone());
        let now = self.clock.now_ms();
        let _ = blocking(move || cat.copy_failed(id, &name, &e, now, now + wait.as_millis() as i64)).await;
        if store {
            Failure::Store(self.away(error))
        } else {
            Failure::Copy
        }
    }
}

/// Runs mirror `m`'s uploads until `stop` (see the module doc for the pacing).
pub async fn run(m: Arc<MirrorUploader>, stop: CancellationToken) {
    // Once per mirror and serve: the log names the worker.
    let what: &'static str = Box::leak(worker_name(&m.name).into_boxed_str());
    let mut streak = Streak::new(what, m.retry_max);
    let mut away: u32 = 0;
    loop {
        let out = m.pass(&stop).await;
        if stop.is_cancelled() {
            break;
        }
        let why = match out {
            Ok(Pass::Done { copied }) => {
                if away > 0 {
                    info!(mirror = %m.name, "mirror {:?} is back: copies go on", m.name);
                }
                away = 0;
                streak.ok();
                if copied > 0 {
                    debug!(mirror = %m.name, copied, "copies verified");
                }
                None
            }
            Ok(Pass::Away(why)) => Some(why),
            Err(e) => Some(m.away(format!("{e:#}"))),
        };
        let wait = match why {
            None => {
                // New recordings appear at capture: look again soon.
                let (cat, name) = (m.catalog.clone(), m.name.clone());
                match blocking(move || cat.next_copy_due_ms(&name)).await {
                    Ok(Some(t)) => Duration::from_millis((t - m.clock.now_ms()).clamp(200, 5_000) as u64),
                    _ => Duration::from_secs(5),
                }
            }
            Some(why) => {
                streak.failed(&anyhow::anyhow!("{}", why.en()));
                if let Err(e) = m.set_probe(Some(&why)).await {
                    warn!(mirror = %m.name, "cannot record the mirror's problem: {e:#}");
                }
                away = away.saturating_add(1);
                backoff(away - 1, m.retry_initial, m.retry_max)
            }
        };
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

/// The worker's name on `serve`'s runner.
pub fn worker_name(mirror: &str) -> String {
    format!("upload:{mirror}")
}

/// Every store's copies (the main store first, as `primary`, then each listed mirror):
/// what `status`, `/api/status` and `/metrics` show per store.
pub fn stores(cat: &Catalog, s: &crate::catalog::Summary) -> Result<Vec<crate::catalog::copies::StoreCopies>> {
    let mut out = vec![crate::catalog::copies::StoreCopies {
        store: crate::config::PRIMARY.to_string(),
        verified: s.verified.files,
        verified_bytes: s.verified.bytes,
        pending: s.captured.files + s.uploaded.files,
        failing: s.failed.files,
        without_copy: 0,
    }];
    out.extend(cat.copy_counts()?);
    Ok(out)
}
