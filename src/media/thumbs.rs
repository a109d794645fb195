//! Thumbnails: one JPEG frame per clip, extracted with ffmpeg by a small stage that follows
//! capture (`serve`'s `thumbnails` worker runs [`Stage::pass`] every few seconds over the
//! clips captured since its last pass, its ffmpegs in the one queue of [`super::queue`]),
//! kept in `http.cache_dir/thumbs/` and uploaded to the store under `thumbs/` in the
//! upload class (Standard: the lifecycle rule only moves `videos/`), so search and the
//! timeline keep showing them after the clip left the local cache or this box.

use std::path::{Path, PathBuf};
use std::time::Duration;

use std::sync::Arc;

use anyhow::{bail, Result};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::queue::Queue;
use crate::catalog::Catalog;
use crate::config::Config;
use crate::workers::Next;

// The catalog's note of the last file id the stage has looked at.
use crate::catalog::kv::THUMBS_AFTER_ID as WATERMARK;
// ... and of the last file id whose thumbnail is in the store (or has none).
use crate::catalog::kv::THUMBS_UPLOADED_ID as UPLOADED;
/// Where thumbnails go in the store.
pub const PREFIX: &str = "thumbs/";

/// The store key of a clip's thumbnail: `thumbs/` + the clip's key without the template's
/// fixed prefix, `.jpg` for its extension.
pub fn store_key(cfg: &Config, key: &str) -> String {
    let fixed = cfg.store.key_template.prefix();
    let rest = key.strip_prefix(fixed).unwrap_or(key);
    let stem = rest.strip_suffix(".mp4").unwrap_or(rest);
    format!("{PREFIX}{stem}.jpg")
}

/// Copies a clip's thumbnail from the store to `out`; false when the store has none.
pub async fn fetch(cfg: &Config, store: &dyn crate::store::Backend, key: &str, out: &Path) -> bool {
    let Ok(mut r) = store.get(&store_key(cfg, key)).await else {
        return false;
    };
    let mut buf = Vec::new();
    if tokio::io::AsyncReadExt::read_to_end(&mut r, &mut buf).await.is_err() || buf.is_empty() {
        return false;
    }
    // A temporary name of its own: the capture stage and a page asking for the same
    // thumbnail can extract it at the same time, and must not write one file together.
    let tmp = out.with_extension(format!("{}.part.jpg", fastrand::u64(..)));
    let ok = out.parent().is_some_and(|d| std::fs::create_dir_all(d).is_ok())
        && std::fs::write(&tmp, &buf).is_ok()
        && std::fs::rename(&tmp, out).is_ok();
    ok
}

/// Uploads the thumbnails made since the last upload, in file order; stops at the first
/// failure (retried next pass). Returns how many went up.
pub async fn upload(cfg: &Config, cat: &Catalog, store: &dyn crate::store::Backend) -> Result<usize> {
    let done: i64 = cat.slot(&UPLOADED)?.unwrap_or(0);
    let upto: i64 = cat.slot(&WATERMARK)?.unwrap_or(0);
    let mut n = 0;
    let mut after = done;
    while after < upto {
        let batch: Vec<_> = cat
            .local_after(after, 100)?
            .into_iter()
            .filter(|(id, _)| *id <= upto)
            .collect();
        if batch.is_empty() {
            break;
        }
        for (id, key) in batch {
            let file = path(cfg, id);
            if let Ok(m) = std::fs::metadata(&file) {
                let mut body = crate::upload::body::Body::open(&file, m.len(), None).await?;
                match store
                    .put(&store_key(cfg, &key), &mut body, cfg.store.storage_class.as_str())
                    .await
                {
                    Ok(()) => n += 1,
                    Err(e) if e.kind == crate::store::ErrorKind::AlreadyExists => {}
                    Err(e) => {
                        return Err(Stuck {
                            id,
                            key,
                            message: e.to_string(),
                        }
                        .into())
                    }
                }
            }
            after = id;
            cat.set_slot(&UPLOADED, &after)?;
        }
    }
    Ok(n)
}

/// A thumbnail the store did not take: uploads stop there and resume from it.
#[derive(Debug, thiserror::Error)]
#[error("uploading the thumbnail of {key}: {message}")]
pub struct Stuck {
    pub id: i64,
    pub key: String,
    pub message: String,
}

/// Failed tries of one thumbnail before it is skipped: the store refusing one key (a name
/// too long for it, say) must not block every later thumbnail or be retried forever.
/// With the backoff below that is about 8 minutes of trying.
const MAX_TRIES: u32 = 8;
/// The longest wait between upload tries while they fail.
const MAX_BACKOFF: Duration = Duration::from_secs(3600);

/// Upload retries: the stage's period while uploads work, doubling per failure up to
/// [`MAX_BACKOFF`]; the first failure of a streak is logged, the rest only counted.
struct Retry {
    every: Duration,
    failures: u32,
    next: tokio::time::Instant,
    /// The thumbnail failing and how often it failed in a row.
    stuck: Option<(i64, u32)>,
}

impl Retry {
    fn due(&self) -> bool {
        tokio::time::Instant::now() >= self.next
    }

    fn succeeded(&mut self) {
        if self.failures > 0 {
            info!("thumbnails: uploads work again");
        }
        (self.failures, self.stuck) = (0, None);
        self.next = tokio::time::Instant::now();
    }

    /// Counts a failure and says whether the thumbnail should now be skipped.
    fn failed(&mut self, e: &anyhow::Error) -> Option<i64> {
        if self.failures == 0 {
            warn!(
                "thumbnails: {e:#}; retried with backoff (up to {} min)",
                MAX_BACKOFF.as_secs() / 60
            );
        }
        self.failures = self.failures.saturating_add(1);
        let wait = self.every.saturating_mul(1 << self.failures.min(20)).min(MAX_BACKOFF);
        self.next = tokio::time::Instant::now() + wait;
        let s = e.downcast_ref::<Stuck>()?;
        let tries = match self.stuck {
            Some((id, n)) if id == s.id => n + 1,
            _ => 1,
        };
        self.stuck = Some((s.id, tries));
        if tries < MAX_TRIES {
            return None;
        }
        warn!(
            "thumbnails: {e:#}; skipped after {tries} tries (the web interface makes it from the clip while the clip is cached)"
        );
        self.stuck = None;
        Some(s.id)
    }
}

pub fn path(cfg: &Config, id: i64) -> PathBuf {
    cfg.web_cache().join("thumbs").join(format!("{id}.jpg"))
}

/// Where [`command`] looks for a frame, in order: a second in, else the first frame.
pub const SEEKS: [&str; 2] = ["1", "0"];

/// The ffmpeg that writes the frame at `seek` seconds of `video`, 320 pixels wide, to `out`
/// (the web interface runs it in the same queue when asked for a thumbnail not made yet).
pub fn command(video: &Path, seek: &str, out: &Path) -> std::process::Command {
    let mut c = super::ffmpeg::command();
    c.args(["-ss", seek, "-i"])
        .arg(video)
        .args(["-frames:v", "1", "-vf", "scale=320:-2", "-q:v", "5", "-f", "image2"])
        .arg(out);
    c
}

/// Writes one frame of `video` (a second in, or the first frame of a shorter clip),
/// 320 pixels wide, to `out`.
pub fn extract(video: &Path, out: &Path) -> Result<()> {
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    // A temporary name of its own: the capture stage and a page asking for the same
    // thumbnail can extract it at the same time, and must not write one file together.
    let tmp = out.with_extension(format!("{}.part.jpg", fastrand::u64(..)));
    for seek in SEEKS {
        let o = command(video, seek, &tmp).output();
        match o {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(super::ffmpeg::Missing.into()),
            Err(e) => bail!("cannot run ffmpeg: {e}"),
            Ok(o) if o.status.success() && std::fs::metadata(&tmp).is_ok_and(|m| m.len() > 0) => {
                std::fs::rename(&tmp, out)?;
                return Ok(());
            }
            Ok(_) => {}
        }
    }
    let _ = std::fs::remove_file(&tmp);
    bail!("no frame could be read from {}", video.display())
}

/// Whether `path` starts like an MP4 (an `ftyp` box, fragmented files too): anything else
/// is not worth two ffmpeg runs.
fn looks_like_mp4(path: &Path) -> bool {
    let mut head = [0u8; 8];
    std::fs::File::open(path)
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut head))
        .is_ok_and(|()| &head[4..] == b"ftyp")
}

/// One pass: a thumbnail for every local clip captured since the last pass, until `stop`,
/// each ffmpeg in a slot of `queue`. Returns how many were made; a clip that is not a
/// readable video is skipped, not retried. Blocking: runs on the blocking pool (a worker's
/// pass), so it may wait for its slot with `Handle::block_on`.
pub fn pass(cfg: &Config, cat: &Catalog, queue: &Queue, stop: &CancellationToken) -> Result<usize> {
    let mut after: i64 = cat.slot(&WATERMARK)?.unwrap_or(0);
    let mut made = 0;
    loop {
        let batch = cat.local_after(after, 100)?;
        if batch.is_empty() {
            return Ok(made);
        }
        for (id, key) in batch {
            if stop.is_cancelled() {
                // A backlog of thousands of clips must not hold up shutdown.
                return Ok(made);
            }
            let out = path(cfg, id);
            // The camera's own snapshot of the clip (its `.jpeg` sidecar) is the thumbnail.
            let snapshot = match cat.snapshot_of(id)? {
                Some((snap, true)) => Some(cfg.vault().join(snap)),
                _ => None,
            };
            if let (false, Some(snap)) = (out.is_file(), snapshot) {
                if let Some(dir) = out.parent() {
                    std::fs::create_dir_all(dir)?;
                }
                match std::fs::copy(&snap, &out) {
                    Ok(_) => made += 1,
                    Err(e) => debug!("cannot use the snapshot {} of {key}: {e}", snap.display()),
                }
            }
            let video = cfg.vault().join(&key);
            if !out.is_file() && !looks_like_mp4(&video) {
                debug!("no thumbnail for {key}: not an MP4");
            } else if !out.is_file() {
                let slot = tokio::runtime::Handle::current().block_on(queue.stage_slot());
                let made_now = extract(&video, &out);
                drop(slot);
                match made_now {
                    Ok(()) => made += 1,
                    Err(e) if e.is::<super::ffmpeg::Missing>() => return Err(e),
                    Err(e) => debug!("no thumbnail for {key}: {e:#}"),
                }
            }
            after = id;
            cat.set_slot(&WATERMARK, &after)?;
        }
    }
}

/// The stage as `serve`'s `thumbnails` worker runs it: a pass, then the uploads while they
/// are due (they back off on their own while failing, see [`Retry`]).
pub struct Stage {
    pub cfg: Config,
    pub cat: Arc<Catalog>,
    pub store: Arc<dyn crate::store::Backend>,
    pub queue: Arc<Queue>,
    pub stop: CancellationToken,
    retry: Retry,
}

impl Stage {
    /// `every`: the worker's period, the first step of the uploads' backoff.
    pub fn new(
        cfg: Config,
        cat: Arc<Catalog>,
        store: Arc<dyn crate::store::Backend>,
        queue: Arc<Queue>,
        every: Duration,
        stop: CancellationToken,
    ) -> Stage {
        let retry = Retry {
            every,
            failures: 0,
            next: tokio::time::Instant::now(),
            stuck: None,
        };
        Stage {
            cfg,
            cat,
            store,
            queue,
            stop,
            retry,
        }
    }

    /// One pass (blocking; the uploads are driven with `Handle::block_on`). Without ffmpeg
    /// it says so once and the worker ends ([`Next::Done`]); other failures of the pass
    /// are the worker's errors (logged and backed off by the runner).
    pub fn pass(&mut self) -> Result<Next> {
        let made = pass(&self.cfg, &self.cat, &self.queue, &self.stop);
        if self.retry.due() {
            let up = tokio::runtime::Handle::current().block_on(upload(&self.cfg, &self.cat, &*self.store));
            match up {
                Ok(_) => self.retry.succeeded(),
                Err(e) => {
                    if let Some(id) = self.retry.failed(&e) {
                        self.cat.set_slot(&UPLOADED, &id)?;
                    }
                }
            }
        }
        match made {
            Ok(_) => Ok(Next::Period),
            Err(e) if e.is::<super::ffmpeg::Missing>() => {
                warn!("thumbnails: {e:#}; the web interface shows clips without them");
                Ok(Next::Done)
            }
            Err(e) => Err(e.context("thumbnails (the web interface shows clips without them meanwhile)")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_refused_thumbnail_backs_off_and_is_skipped_not_retried_forever() {
        let every = Duration::from_secs(2);
        let mut r = Retry {
            every,
            failures: 0,
            next: tokio::time::Instant::now(),
            stuck: None,
        };
        let e = anyhow::Error::new(Stuck {
            id: 7,
            key: "videos/door/long.mp4".into(),
            message: "File name too long".into(),
        });
        let mut waits = Vec::new();
        let mut skipped = None;
        for _ in 0..MAX_TRIES {
            assert!(r.due() && skipped.is_none());
            skipped = r.failed(&e);
            assert!(!r.due(), "a failure is not retried at once");
            let wait = r.next - tokio::time::Instant::now();
            waits.push(wait);
            tokio::time::advance(wait).await;
        }
        assert_eq!(skipped, Some(7), "given up after {MAX_TRIES} tries: {waits:?}");
        assert!(waits.windows(2).all(|w| w[1] > w[0]), "each wait longer: {waits:?}");
        assert!(waits[0] >= every * 2);
        // The store still failing (an outage, not one bad key): waits keep growing, capped.
        let other = anyhow::anyhow!("connection refused");
        for _ in 0..30 {
            assert_eq!(r.failed(&other), None);
        }
        assert_eq!(r.next - tokio::time::Instant::now(), MAX_BACKOFF);
        r.succeeded();
        assert!(r.due() && r.failures == 0);
    }

    #[test]
    fn store_keys_mirror_the_clip_keys() {
        let cfg = crate::config::Config::default();
        assert_eq!(
            super::store_key(&cfg, "videos/door/2024-05-21/13/05M30S_1716267930.mp4"),
            "thumbs/door/2024-05-21/13/05M30S_1716267930.jpg"
        );
        assert_eq!(
            super::store_key(&cfg, "videos/door/x/clip.r2.mp4"),
            "thumbs/door/x/clip.r2.jpg"
        );
        assert_eq!(
            super::store_key(&cfg, "videos/door/x/odd.avi"),
            "thumbs/door/x/odd.avi.jpg"
        );
    }
}
