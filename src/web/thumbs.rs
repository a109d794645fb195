//! Thumbnails: one JPEG frame per clip, extracted with ffmpeg by a small stage that follows
//! capture (`serve` runs it every few seconds over the clips captured since its last pass),
//! kept in `http.cache_dir/thumbs/`. Search and the timeline show them even after the clip
//! itself left the local cache.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Result};
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use crate::catalog::Catalog;
use crate::config::Config;

/// The catalog's note of the last file id the stage has looked at.
const WATERMARK: &str = "web.thumbs_after_id";

pub fn path(cfg: &Config, id: i64) -> PathBuf {
    cfg.web_cache().join("thumbs").join(format!("{id}.jpg"))
}

/// Writes one frame of `video` (a second in, or the first frame of a shorter clip),
/// 320 pixels wide, to `out`.
pub fn extract(video: &Path, out: &Path) -> Result<()> {
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = out.with_extension("part.jpg");
    for seek in ["1", "0"] {
        let o = std::process::Command::new("ffmpeg")
            .args([
                "-hide_banner",
                "-loglevel",
                "error",
                "-nostdin",
                "-y",
                "-ss",
                seek,
                "-i",
            ])
            .arg(video)
            .args(["-frames:v", "1", "-vf", "scale=320:-2", "-q:v", "5", "-f", "image2"])
            .arg(&tmp)
            .output();
        match o {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!("{}", super::media::NO_FFMPEG),
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

/// One pass: a thumbnail for every local clip captured since the last pass. Returns how
/// many were made; a clip that is not a readable video is skipped, not retried.
pub fn pass(cfg: &Config, cat: &Catalog) -> Result<usize> {
    let mut after: i64 = cat.kv_get(WATERMARK)?.and_then(|v| v.parse().ok()).unwrap_or(0);
    let mut made = 0;
    loop {
        let batch = cat.local_after(after, 100)?;
        if batch.is_empty() {
            return Ok(made);
        }
        for (id, key) in batch {
            let out = path(cfg, id);
            if !out.is_file() {
                match extract(&cfg.vault().join(&key), &out) {
                    Ok(()) => made += 1,
                    Err(e) if e.to_string() == super::media::NO_FFMPEG => return Err(e),
                    Err(e) => debug!("no thumbnail for {key}: {e:#}"),
                }
            }
            after = id;
            cat.kv_set(WATERMARK, &after.to_string())?;
        }
    }
}

/// The stage: a pass every `every` until `stop`. Without ffmpeg it says so once and stops.
pub async fn run(cfg: Config, cat: std::sync::Arc<Catalog>, every: Duration, stop: CancellationToken) {
    loop {
        let (c, k) = (cfg.clone(), cat.clone());
        match tokio::task::spawn_blocking(move || pass(&c, &k)).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                warn!("thumbnails: {e:#}; the web interface shows clips without them");
                if e.to_string() == super::media::NO_FFMPEG {
                    return;
                }
            }
            Err(e) => warn!("thumbnails: {e}"),
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
    }
}
