//! Running ffmpeg for the index: one decoding pass per clip that yields the analysis
//! frames (grey, `analysis::WIDTH`×`HEIGHT`, a few per second, on a pipe) and writes the
//! preview sprite (a strip of eight small colour frames) from the same decode, plus one
//! JPEG per segment at its peak second.
//!
//! Every ffmpeg here runs at the lowest CPU priority (nice 19), in the idle IO class
//! (ioprio_set, like `ionice -c3`) and with one decoding thread, so capture, upload and
//! verification never wait for it; each run has a deadline and is killed past it.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use super::analysis::{HEIGHT, WIDTH};

/// Frames of the preview sprite (tiled left to right).
pub const SPRITE_FRAMES: u32 = 8;
/// Width of one sprite frame and of a segment's frame.
pub const SPRITE_W: u32 = 160;
pub const FRAME_W: u32 = 320;
/// The largest picture the index decodes: HEVC's largest level (6.2) is 8192×4320; a
/// header claiming more is damage or an attack on memory, not a camera.
pub const MAX_PIXELS: u64 = 8192 * 4320;
pub const MAX_SIDE: u32 = 8192;

/// Why a clip could not be indexed.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The file is not something the index can ever read: recorded as "undecodable".
    #[error("{0}")]
    Undecodable(String),
    /// ffmpeg missing, a timeout, an IO error: tried again later (a few times).
    #[error("{0}")]
    Transient(String),
}

/// What ffprobe says about the clip's video.
#[derive(Debug, Clone, Default)]
pub struct Probe {
    pub width: u32,
    pub height: u32,
    pub codec: String,
    /// Seconds, when the container says (fragmented MP4 may not).
    pub duration: Option<f64>,
}

/// Sets the child's priority before it runs ffmpeg.
fn low_priority(c: &mut Command) -> &mut Command {
    // SAFETY: setpriority and the ioprio_set syscall are async-signal-safe and touch only
    // the child between fork and exec; failures are ignored (the clip is still indexed).
    unsafe {
        c.pre_exec(|| {
            libc::setpriority(libc::PRIO_PROCESS, 0, 19);
            // IOPRIO_WHO_PROCESS = 1, class IDLE = 3 in the top bits (linux/ioprio.h).
            libc::syscall(libc::SYS_ioprio_set, 1, 0, 3 << 13);
            Ok(())
        })
    };
    c
}

fn missing(prog: &str, e: std::io::Error) -> DecodeError {
    if e.kind() == std::io::ErrorKind::NotFound {
        DecodeError::Transient(format!(
            "{prog} is not installed: install ffmpeg (apt-get install ffmpeg) for the index"
        ))
    } else {
        DecodeError::Transient(format!("cannot run {prog}: {e}"))
    }
}

/// Runs `c` with a deadline; returns (status, stdout, the end of stderr).
fn run_limited(mut c: Command, limit: Duration, prog: &str) -> Result<(bool, Vec<u8>, String), DecodeError> {
    let child = c
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| missing(prog, e))?;
    let (ok, out, err) = drain(child, limit, |r, out| r.read_to_end(out).map(|_| ()))?;
    Ok((ok, out, err))
}

/// Reads the child's stdout with `read`, its stderr on a thread (kept to the last 2 KiB),
/// and kills it at the deadline.
fn drain(
    mut child: std::process::Child,
    limit: Duration,
    read: impl FnOnce(&mut std::process::ChildStdout, &mut Vec<u8>) -> std::io::Result<()>,
) -> Result<(bool, Vec<u8>, String), DecodeError> {
    let pid = child.id() as libc::pid_t;
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let killer = std::thread::spawn(move || {
        if done_rx.recv_timeout(limit) == Err(std::sync::mpsc::RecvTimeoutError::Timeout) {
            // SAFETY: plain kill(2) of our own child, which we have not reaped yet.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            return true;
        }
        false
    });
    let mut stderr = child.stderr.take();
    let err_thread = std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(e) = stderr.as_mut() {
            let mut chunk = [0u8; 4096];
            while let Ok(n) = e.read(&mut chunk) {
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(&chunk[..n]);
                if buf.len() > 2048 {
                    buf.drain(..buf.len() - 2048);
                }
            }
        }
        String::from_utf8_lossy(&buf).trim().to_string()
    });
    let mut out = Vec::new();
    let read_result = match child.stdout.as_mut() {
        Some(s) => read(s, &mut out),
        None => Ok(()),
    };
    let status = child.wait();
    let _ = done_tx.send(());
    let killed = killer.join().unwrap_or(false);
    let err = err_thread.join().unwrap_or_default();
    if killed {
        return Err(DecodeError::Transient(format!(
            "ffmpeg took longer than {} s and was stopped",
            limit.as_secs()
        )));
    }
    read_result.map_err(|e| DecodeError::Transient(format!("reading ffmpeg's output: {e}")))?;
    let ok = status.map(|s| s.success()).unwrap_or(false);
    Ok((ok, out, err))
}

/// ffprobe of the first video stream. A file without one (audio only, not a video at
/// all) or with a picture beyond [`MAX_PIXELS`] is undecodable.
pub fn probe(clip: &Path) -> Result<Probe, DecodeError> {
    let mut c = Command::new("ffprobe");
    low_priority(&mut c)
        .args(["-v", "error", "-select_streams", "v:0", "-show_entries"])
        .args(["stream=width,height,codec_name:format=duration", "-of", "json"])
        .arg(clip);
    let (ok, out, err) = run_limited(c, Duration::from_secs(60), "ffprobe")?;
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap_or_default();
    let Some(s) = v["streams"].get(0) else {
        let why = if !ok && !err.is_empty() {
            format!("not a readable video: {}", last_line(&err))
        } else {
            "no video stream (audio only, or not a video)".to_string()
        };
        return Err(DecodeError::Undecodable(why));
    };
    let p = Probe {
        width: s["width"].as_u64().unwrap_or(0) as u32,
        height: s["height"].as_u64().unwrap_or(0) as u32,
        codec: s["codec_name"].as_str().unwrap_or("").to_string(),
        duration: v["format"]["duration"]
            .as_str()
            .and_then(|d| d.parse::<f64>().ok())
            .filter(|d| d.is_finite() && *d > 0.0),
    };
    if p.width == 0 || p.height == 0 {
        return Err(DecodeError::Undecodable(format!(
            "the video stream has no picture size ({}×{})",
            p.width, p.height
        )));
    }
    if p.width > MAX_SIDE || p.height > MAX_SIDE || p.width as u64 * p.height as u64 > MAX_PIXELS {
        return Err(DecodeError::Undecodable(format!(
            "resolution {}×{} is beyond what the index decodes (at most 8192×4320 pixels, HEVC's largest level)",
            p.width, p.height
        )));
    }
    Ok(p)
}

fn last_line(s: &str) -> &str {
    s.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or(s).trim()
}

/// What the decoding pass produced besides the frames.
#[derive(Debug)]
pub struct Decoded {
    pub frames: u32,
    /// ffmpeg's complaint when it stopped early (a truncated or damaged clip that still
    /// gave frames): kept as a note, the frames before it are indexed.
    pub note: Option<String>,
}

/// Decodes `clip` at `fps`, calling `frame` with each grey analysis frame, and writes the
/// preview sprite to `sprite` (`duration`: spreads its frames over the clip).
pub fn frames(
    clip: &Path,
    fps: u32,
    duration: f64,
    sprite: &Path,
    limit: Duration,
    mut frame: impl FnMut(&[u8]),
) -> Result<Decoded, DecodeError> {
    let sprite_rate = format!("{SPRITE_FRAMES}/{:.3}", duration.max(1.0));
    let graph = format!(
        "[0:v]split=2[a][b];[a]fps={fps},scale={WIDTH}:{HEIGHT},format=gray[g];\
         [b]fps={sprite_rate},scale={SPRITE_W}:-2,tile={SPRITE_FRAMES}x1[s]"
    );
    let mut c = Command::new("ffmpeg");
    low_priority(&mut c)
        .args([
            "-hide_banner",
            "-loglevel",
            "error",
            "-nostdin",
            "-y",
            "-threads",
            "1",
            "-i",
        ])
        .arg(clip)
        .args(["-filter_complex", &graph, "-filter_threads", "1"])
        .args(["-map", "[g]", "-f", "rawvideo", "pipe:1"])
        .args(["-map", "[s]", "-frames:v", "1", "-q:v", "6", "-f", "image2"])
        .arg(sprite);
    let child = c
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| missing("ffmpeg", e))?;
    let mut n = 0u32;
    let (ok, _, err) = drain(child, limit, |r, _| {
        let mut buf = vec![0u8; WIDTH * HEIGHT];
        loop {
            match r.read_exact(&mut buf) {
                Ok(()) => {
                    n += 1;
                    frame(&buf);
                }
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
                Err(e) => return Err(e),
            }
        }
    })?;
    if n == 0 {
        let why = if err.is_empty() {
            "no video frame could be decoded (zero frames)".to_string()
        } else {
            format!("no video frame could be decoded: {}", last_line(&err))
        };
        return Err(DecodeError::Undecodable(why));
    }
    let note = (!ok || !err.is_empty()).then(|| format!("decoded {n} frames, then: {}", last_line(&err)));
    Ok(Decoded { frames: n, note })
}

/// One colour frame at `at_s` seconds, `FRAME_W` wide, to `out`.
pub fn still(clip: &Path, at_s: f64, out: &Path) -> Result<(), DecodeError> {
    let mut c = Command::new("ffmpeg");
    low_priority(&mut c)
        .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-threads", "1"])
        .args(["-ss", &format!("{at_s:.2}"), "-i"])
        .arg(clip)
        .args([
            "-frames:v",
            "1",
            "-vf",
            &format!("scale={FRAME_W}:-2"),
            "-q:v",
            "5",
            "-f",
            "image2",
        ])
        .arg(out);
    let (ok, _, err) = run_limited(c, Duration::from_secs(60), "ffmpeg")?;
    if !ok || !out.is_file() {
        return Err(DecodeError::Undecodable(format!(
            "no frame at {at_s:.1} s: {}",
            last_line(&err)
        )));
    }
    Ok(())
}

/// One frame at `at_s` seconds as raw RGB24, scaled to exactly `w`×`h` (the detector's
/// letterbox size: the frame fitted into the model's input, aspect kept).
pub fn rgb_frame(clip: &Path, at_s: f64, w: usize, h: usize) -> Result<Vec<u8>, DecodeError> {
    let mut c = Command::new("ffmpeg");
    low_priority(&mut c)
        .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-threads", "1"])
        .args(["-ss", &format!("{at_s:.2}"), "-i"])
        .arg(clip)
        .args(["-frames:v", "1", "-vf", &format!("scale={w}:{h}:flags=bilinear")])
        .args(["-pix_fmt", "rgb24", "-f", "rawvideo", "pipe:1"]);
    let (ok, out, err) = run_limited(c, Duration::from_secs(60), "ffmpeg")?;
    if !ok || out.len() != w * h * 3 {
        return Err(DecodeError::Undecodable(format!(
            "no frame for the detector at {at_s:.1} s: {}",
            last_line(&err)
        )));
    }
    Ok(out)
}
