//! Joins restored clips into one MP4 with ffmpeg: video stream-copied, audio transcoded
//! to AAC because the cameras' A-law audio cannot go into MP4.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

/// Merges `clips` (in order) into `out`.
pub fn merge(clips: &[PathBuf], out: &Path) -> Result<()> {
    if clips.is_empty() {
        bail!("nothing to merge");
    }
    let list = out.with_extension("txt");
    let mut text = String::new();
    for c in clips {
        let abs = std::path::absolute(c).unwrap_or_else(|_| c.clone());
        // The concat demuxer's quoting: a single quote ends the string.
        text.push_str(&format!("file '{}'\n", abs.to_string_lossy().replace('\'', r"'\''")));
    }
    std::fs::write(&list, text).with_context(|| format!("cannot write {}", list.display()))?;
    let result = Command::new("ffmpeg")
        .args([
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "concat",
            "-safe",
            "0",
            "-i",
        ])
        .arg(&list)
        .args([
            "-map",
            "0:v",
            "-map",
            "0:a?",
            "-c:v",
            "copy",
            "-c:a",
            "aac",
            "-movflags",
            "+faststart",
        ])
        .arg(out)
        .output();
    let _ = std::fs::remove_file(&list);
    match result {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!(
            "cannot merge: ffmpeg is not installed (`apt-get install ffmpeg`); the clips themselves are restored in {}",
            out.parent().unwrap_or(Path::new(".")).display()
        ),
        Err(e) => bail!("cannot run ffmpeg: {e}"),
        Ok(o) if !o.status.success() => {
            let _ = std::fs::remove_file(out);
            bail!(
                "ffmpeg could not merge the clips: {}; the clips themselves are restored beside {}",
                String::from_utf8_lossy(&o.stderr).trim(),
                out.display()
            )
        }
        Ok(_) => Ok(()),
    }
}
