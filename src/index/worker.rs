//! `serve`'s indexing worker: takes every new video clip into the catalog's queue
//! (`index_queue`, by file id after a watermark), indexes one clip at a time while its
//! vault copy is local, and stores each result in one transaction with its removal from
//! the queue, so a crash resumes with the clip it was on and never doubles segments.
//!
//! It never holds up capture, upload or verification: it runs on a blocking thread of its
//! own, its ffmpeg at nice 19 in the idle IO class with one thread (`decode.rs`). A clip
//! is tried at most [`MAX_TRIES`] times (a try is counted before it starts, so a crash
//! counts too); then it is recorded as undecodable with the last reason, never retried
//! forever and never lost (the clip itself is archived as always).

use anyhow::Result;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::detector::Detector;
use crate::catalog::kv::DETECTOR_PROBE;
use crate::catalog::Catalog;
use crate::config::Config;

/// The catalog's note of the last file id taken into the queue.
pub const WATERMARK: &str = "index.after_id";
/// Tries of one clip before it is recorded as undecodable.
pub const MAX_TRIES: u32 = 3;

/// Loads the configured detector once, when the indexer starts. A model that cannot be used
/// is logged and kept as a health problem (`detector`), and indexing goes on without labels;
/// a good one (or none) clears the problem.
pub fn load_detector(cfg: &Config, cat: &Catalog) -> Option<Detector> {
    let (d, problem) = match Detector::from_config(cfg) {
        Ok(Some(d)) => {
            info!(
                "index: detector {} loaded ({}×{} input, {} classes, names from {})",
                d.path.display(),
                d.input.0,
                d.input.1,
                d.layout.classes(),
                d.names_from
            );
            (Some(d), String::new())
        }
        Ok(None) => (None, String::new()),
        Err(e) => {
            let why = format!("{e:#}; indexing goes on without labels");
            warn!("index: {why}");
            (None, why)
        }
    };
    if let Err(e) = cat.set_slot(&DETECTOR_PROBE, &problem) {
        warn!("index: recording the detector's state: {e:#}");
    }
    d
}

/// The wait before a clip is tried again: 10 minutes, doubling.
fn backoff(attempts: u32) -> i64 {
    600_000i64 << attempts.min(10)
}

/// Takes the clips captured since the last call into the queue.
pub fn enqueue_new(cat: &Catalog, now_ms: i64) -> Result<()> {
    let mut after: i64 = cat.kv_get(WATERMARK)?.and_then(|v| v.parse().ok()).unwrap_or(0);
    loop {
        let last = cat.index_enqueue_after(after, 1000, now_ms)?;
        if last == after {
            return Ok(());
        }
        after = last;
        cat.kv_set(WATERMARK, &after.to_string())?;
    }
}

/// One pass: queue new clips, then index every due clip until the queue is empty or
/// `stop`. Returns how many clips were finished. Fails (after recording the try) when
/// ffmpeg is missing: nothing can be indexed then.
///
/// In `serve`, `queue` is its one bounded ffmpeg queue: each clip waits until no web
/// request or thumbnail job runs or waits (a 2-core box; issue 13, finding 6), and then
/// holds only the background turn, so a playback request that comes while a clip is being
/// indexed starts at once (beside the index's nice-19 ffmpeg) instead of waiting for the
/// whole clip. Blocking: runs on the blocking pool, where it may wait with `block_on`.
pub fn pass(
    cfg: &Config,
    cat: &Catalog,
    stop: &CancellationToken,
    queue: Option<&crate::media::queue::Queue>,
) -> Result<usize> {
    pass_with(cfg, cat, stop, queue, None)
}

/// [`pass`] with the detector loaded at start-up ([`load_detector`]) labelling segments.
pub fn pass_with(
    cfg: &Config,
    cat: &Catalog,
    stop: &CancellationToken,
    queue: Option<&crate::media::queue::Queue>,
    detector: Option<&Detector>,
) -> Result<usize> {
    enqueue_new(cat, crate::clock::now().as_millisecond())?;
    let mut done = 0;
    while !stop.is_cancelled() {
        let now = crate::clock::now().as_millisecond();
        let Some(q) = cat.index_next(now)? else { break };
        if q.attempts >= MAX_TRIES {
            let why = format!(
                "given up after {} tries: {}",
                q.attempts,
                q.last_error
                    .as_deref()
                    .unwrap_or("indexing was interrupted each time (a crash?)")
            );
            warn!("index: {}: {why}", q.key);
            cat.index_store(
                &super::failed(q.file_id, &q.camera, q.start_ms, "undecodable", &why),
                now,
            )?;
            done += 1;
            continue;
        }
        cat.index_begin(q.file_id, now + backoff(q.attempts))?;
        let slot = queue.map(|q| tokio::runtime::Handle::current().block_on(q.background_slot()));
        let indexed = super::index_file_with(cfg, cat, &q, detector);
        drop(slot);
        match indexed {
            Ok(r) => {
                if r.state != "indexed" {
                    info!("index: {} is {}: {}", q.key, r.state, r.reason.as_deref().unwrap_or(""));
                }
                cat.index_store(&r, crate::clock::now().as_millisecond())?;
                done += 1;
            }
            Err(e) => {
                let msg = e.to_string();
                cat.index_failed(q.file_id, &msg, now + backoff(q.attempts))?;
                if msg.contains("not installed") {
                    anyhow::bail!("{msg}");
                }
                warn!("index: {}: {msg} (tried again later)", q.key);
            }
        }
    }
    Ok(done)
}
