//! Joins restored clips into one MP4 with ffmpeg: video stream-copied, audio transcoded
//! to AAC because the cameras' A-law audio cannot go into MP4.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

/// Merges `clips` (in order) into `out`.
pub fn merge(clips: &[PathBuf], out: &Path) -> Result<()> {
    let list = write_list(clips, out)?;
    let result = command(&list, out).output();
    finish(result, &list, out)
}

/// Writes the concat list for `clips` beside `out`; returns its path.
pub fn write_list(clips: &[PathBuf], out: &Path) -> Result<PathBuf> {
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
    Ok(list)
}

/// The ffmpeg that merges the clips of `list` into `out` (the web export runs it as a
/// job that is killed when its request goes away).
pub fn command(list: &Path, out: &Path) -> Command {
    let mut c = crate::media::ffmpeg::command();
    c.args(["-f", "concat", "-safe", "0", "-i"])
        .arg(list)
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
        .arg(out);
    c
}

/// What ffmpeg's `result` means for the merge; removes the list (and a failed `out`).
pub fn finish(result: std::io::Result<std::process::Output>, list: &Path, out: &Path) -> Result<()> {
    let _ = std::fs::remove_file(list);
    match result {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!(
            "cannot merge: {}; the clips themselves are restored in {}",
            crate::media::ffmpeg::INSTALL,
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
