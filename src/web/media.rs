//! Footage over HTTP: clips from the vault (or a restore) with range requests, the same
//! clip made playable in a browser as fragmented MP4 (kept in `http.cache_dir`; see
//! [`Variant`]: the camera's HEVC passed through with only its A-law audio made AAC, or
//! H.264 at 720p or full size), thumbnails, a range exported as one MP4, and a finished
//! restore's merged file.
//!
//! Every ffmpeg a request starts goes through [`super::jobs`] (one at a time, a short
//! queue, killed when its request goes away, failures remembered); a `HEAD` starts none.

use std::path::{Path as FsPath, PathBuf};

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use super::jobs::{job_command, Jobs, Kind};
use super::{blocking, internal, App};
use crate::catalog::web::Clip;

pub struct Media {
    pub cache: PathBuf,
    /// Every ffmpeg a request starts: transcodes, thumbnails, exports.
    pub jobs: Jobs,
}

impl Media {
    /// `queue`: `serve`'s one ffmpeg queue, shared with the media stage.
    pub fn new(cfg: &crate::config::Config, queue: std::sync::Arc<crate::media::queue::Queue>) -> Media {
        Media {
            cache: cfg.web_cache(),
            jobs: Jobs(queue),
        }
    }
}

/// Where a playable copy of the clip is: the vault, else a verified restored copy, else a
/// disk mirror's verified copy (issue 21: no restore for a clip a disk at home holds).
pub fn local_path(app: &App, c: &Clip) -> Option<PathBuf> {
    if c.local {
        let p = app.cfg.vault().join(&c.key);
        if p.is_file() {
            return Some(p);
        }
    }
    c.restored_path
        .as_ref()
        .map(PathBuf::from)
        .filter(|p| p.is_file())
        .or_else(|| disk_mirror_path(&app.cfg, c))
}

/// The clip's file on a disk mirror that holds it verified: only on the disk its marker
/// names (never an empty mount point), only a plain key (as the `fs` store accepts), and
/// only with the catalogued size (its scrub checks the CRC-64).
pub fn disk_mirror_path(cfg: &crate::config::Config, c: &Clip) -> Option<PathBuf> {
    let names = c.mirror_copies.as_deref()?;
    let key = c.key.as_str();
    if key.starts_with('/')
        || key.starts_with(".camvault")
        || key.split('/').any(|p| p.is_empty() || p == "." || p == "..")
    {
        return None;
    }
    names.split(',').find_map(|name| {
        let m = cfg
            .store
            .mirror
            .iter()
            .find(|m| m.name == name && m.kind == crate::config::StoreKind::Fs)?;
        let root = cfg.mirror_root(m);
        crate::mirror::disk::present(&root, name).ok()?;
        let p = root.join(key);
        std::fs::metadata(&p)
            .ok()
            .filter(|md| md.is_file() && md.len() == c.size)
            .map(|_| p)
    })
}

/// A `Range` header no byte of the file satisfies (answered with 416).
#[derive(Debug, PartialEq, Eq)]
pub struct Unsatisfiable;

/// The byte range a `Range` header asks for, within `len`; `Err` when unsatisfiable.
pub fn parse_range(h: Option<&HeaderValue>, len: u64) -> Result<Option<(u64, u64)>, Unsatisfiable> {
    let Some(v) = h.and_then(|v| v.to_str().ok()) else {
        return Ok(None);
    };
    let Some(spec) = v.trim().strip_prefix("bytes=") else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None); // multiple ranges: send the whole file
    }
    let (a, b) = spec.split_once('-').ok_or(Unsatisfiable)?;
    let (start, end) = match (a.trim(), b.trim()) {
        ("", n) => {
            let n: u64 = n.parse().map_err(|_| Unsatisfiable)?;
            if n == 0 {
                return Err(Unsatisfiable);
            }
            (len.saturating_sub(n), len.checked_sub(1).ok_or(Unsatisfiable)?)
        }
        (s, "") => (
            s.parse().map_err(|_| Unsatisfiable)?,
            len.checked_sub(1).ok_or(Unsatisfiable)?,
        ),
        (s, e) => {
            let (s, e): (u64, u64) = (
                s.parse().map_err(|_| Unsatisfiable)?,
                e.parse().map_err(|_| Unsatisfiable)?,
            );
            (s, e.min(len.saturating_sub(1)))
        }
    };
    if start > end || start >= len {
        return Err(Unsatisfiable);
    }
    Ok(Some((start, end)))
}

/// Sends a file, honouring a single byte range.
pub async fn send_file(path: &FsPath, headers: &HeaderMap, kind: &'static str, download: Option<&str>) -> Response {
    let mut f = match tokio::fs::File::open(path).await {
        Ok(f) => f,
        Err(_) => return super::fail_msg(StatusCode::NOT_FOUND, crate::msg!("api.file_not_here")),
    };
    let len = match f.metadata().await {
        Ok(m) => m.len(),
        Err(e) => return internal(e.to_string()),
    };
    let range = match parse_range(headers.get(header::RANGE), len) {
        Ok(r) => r,
        Err(Unsatisfiable) => {
            return (
                StatusCode::RANGE_NOT_SATISFIABLE,
                [(header::CONTENT_RANGE, format!("bytes */{len}"))],
            )
                .into_response()
        }
    };
    let (code, start, end) = match range {
        Some((s, e)) => (StatusCode::PARTIAL_CONTENT, s, e),
        None => (StatusCode::OK, 0, len.saturating_sub(1)),
    };
    let count = if len == 0 { 0 } else { end - start + 1 };
    if start > 0 && f.seek(std::io::SeekFrom::Start(start)).await.is_err() {
        return internal("cannot seek");
    }
    let body = Body::from_stream(tokio_util::io::ReaderStream::new(f.take(count)));
    let mut res = (code, body).into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(count));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, max-age=3600"));
    if code == StatusCode::PARTIAL_CONTENT {
        if let Ok(v) = format!("bytes {start}-{end}/{len}").parse() {
            h.insert(header::CONTENT_RANGE, v);
        }
    }
    if let Some(name) = download {
        if let Ok(v) = format!("attachment; filename=\"{name}\"").parse() {
            h.insert(header::CONTENT_DISPOSITION, v);
        }
    }
    res
}

async fn clip_of(app: &App, id: i64) -> Result<Clip, Response> {
    let cat = app.catalog.clone();
    match blocking(move || cat.clip(id)).await? {
        Some(c) => Ok(c),
        None => Err(super::fail_msg(
            StatusCode::NOT_FOUND,
            crate::msg!("api.no_clip", id = id),
        )),
    }
}

fn not_here(c: &Clip) -> Response {
    super::fail_msg(
        StatusCode::CONFLICT,
        crate::msg!("api.clip_not_here", key = c.key, tier = super::api::tier(c)),
    )
}

/// The original clip, with range requests.
pub async fn clip(State(app): State<App>, Path(id): Path<i64>, headers: HeaderMap) -> Response {
    let c = match clip_of(&app, id).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    match local_path(&app, &c) {
        Some(p) => send_file(&p, &headers, "video/mp4", None).await,
        None => not_here(&c),
    }
}

/// How a clip is made playable for a browser (`/media/play/ID?v=…`).
///
/// Measured on the 2-core box (docs/benchmarks.md, `bench/playback.sh`): H.264 at the
/// cameras' 2304×1296 with `veryfast` ran at 0.94× real time, so playback stalled; at 720p
/// with `superfast` it keeps well ahead, and the HEVC pass-through costs almost nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
pub enum Variant {
    /// H.264 scaled to at most 720 lines: the default for browsers without HEVC.
    #[default]
    #[serde(rename = "720p")]
    P720,
    /// H.264 at the camera's size, when the viewer asks for it (slower than real time on a
    /// small box for the cameras' 3 MP).
    #[serde(rename = "full")]
    Full,
    /// The camera's HEVC untouched (remuxed, `hvc1`), only the A-law audio made AAC: for
    /// browsers that decode HEVC (the page asks `MediaSource.isTypeSupported`).
    #[serde(rename = "hevc")]
    Hevc,
}

impl Variant {
    fn name(self) -> &'static str {
        match self {
            Variant::P720 => "720p",
            Variant::Full => "full",
            Variant::Hevc => "hevc",
        }
    }

    /// ffmpeg's output options for this variant, streamed as fragmented MP4 to stdout.
    pub fn ffmpeg_args(self) -> Vec<&'static str> {
        let mut a = vec!["-map", "0:v:0", "-map", "0:a:0?"];
        match self {
            Variant::Hevc => a.extend(["-c:v", "copy", "-tag:v", "hvc1"]),
            Variant::P720 | Variant::Full => {
                if self == Variant::P720 {
                    // Never upscale; -2 keeps the width even, as H.264 needs.
                    a.extend(["-vf", "scale=-2:'min(720,ih)'"]);
                }
                a.extend([
                    "-c:v",
                    "libx264",
                    "-preset",
                    H264_PRESET,
                    // No B-frames or look-ahead: the first fragment leaves sooner.
                    "-tune",
                    "zerolatency",
                    "-crf",
                    "23",
                    "-pix_fmt",
                    "yuv420p",
                    // A keyframe (so a fragment) every 2 s whatever the camera's GOP.
                    "-force_key_frames",
                    "expr:gte(t,n_forced*2)",
                ]);
            }
        }
        a.extend([
            "-c:a",
            "aac",
            "-b:a",
            "48k",
            "-movflags",
            "+frag_keyframe+empty_moov+default_base_moof",
            // The first fragment (the first frame the player can show) within a second of
            // video, not a whole camera GOP.
            "-frag_duration",
            "1000000",
            "-f",
            "mp4",
            "pipe:1",
        ]);
        a
    }
}

/// x264's preset for the browser's H.264 (see [`Variant`] for the measurements).
pub const H264_PRESET: &str = "superfast";

#[derive(Deserialize, Default)]
pub struct PlayQuery {
    #[serde(default)]
    v: Variant,
}

/// The clip as fragmented MP4 the browser can play (see [`Variant`]). The first request
/// streams ffmpeg's output as it comes (playback starts at once) while it is written to the
/// cache; later requests get the cached file, with ranges.
pub async fn play(
    State(app): State<App>,
    Path(id): Path<i64>,
    Query(q): Query<PlayQuery>,
    method: Method,
    headers: HeaderMap,
) -> Response {
    let c = match clip_of(&app, id).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let Some(src) = local_path(&app, &c) else {
        return not_here(&c);
    };
    let out = app.media.cache.join("play").join(format!("{id}-{}.mp4", q.v.name()));
    if out.is_file() {
        return send_file(&out, &headers, "video/mp4", None).await;
    }
    if method == Method::HEAD {
        return head_only();
    }
    if app.media.jobs.failed(Kind::Play, id) {
        return failed_before(&c);
    }
    // One job at a time; a second request for the same clip then finds it cached.
    let permit = match app.media.jobs.slot().await {
        Ok(p) => p,
        Err(r) => return r,
    };
    if app.media.jobs.failed(Kind::Play, id) {
        return failed_before(&c);
    }
    if out.is_file() {
        drop(permit);
        return send_file(&out, &headers, "video/mp4", None).await;
    }
    if let Err(e) = std::fs::create_dir_all(out.parent().unwrap()) {
        return internal(format!("cache: {e}"));
    }
    let mut ffmpeg = std::process::Command::new("ffmpeg");
    ffmpeg
        .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-i"])
        .arg(&src)
        .args(q.v.ffmpeg_args())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = job_command(ffmpeg).spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return super::fail_msg(StatusCode::NOT_IMPLEMENTED, crate::msg!("err.no_ffmpeg"))
        }
        Err(e) => return internal(format!("cannot run ffmpeg: {e}")),
    };
    let mut stdout = child.stdout.take().expect("piped");
    let mut first = vec![0u8; 64 * 1024];
    let n = match stdout.read(&mut first).await {
        Ok(n) => n,
        Err(e) => return internal(format!("ffmpeg: {e}")),
    };
    if n == 0 {
        let o = child.wait_with_output().await;
        let why = o
            .map(|o| {
                String::from_utf8_lossy(&o.stderr)
                    .trim()
                    .lines()
                    .last()
                    .unwrap_or("")
                    .to_string()
            })
            .unwrap_or_default();
        app.media.jobs.remember_failure(Kind::Play, id);
        return super::fail_msg(
            StatusCode::INTERNAL_SERVER_ERROR,
            crate::msg!("api.ffmpeg_failed", detail = why),
        );
    }
    first.truncate(n);
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<bytes::Bytes, std::io::Error>>(16);
    tokio::spawn(async move {
        let _permit = permit;
        let part = out.with_extension("part.mp4");
        let mut file = tokio::fs::File::create(&part).await.ok();
        let mut chunk = first;
        loop {
            if let Some(f) = file.as_mut() {
                if tokio::io::AsyncWriteExt::write_all(f, &chunk).await.is_err() {
                    file = None;
                }
            }
            // The viewer has gone (or stopped reading for a minute: a paused player
            // must not hold the only slot): ffmpeg is killed, the half-made file goes below.
            let sent = tokio::time::timeout(STALLED, tx.send(Ok(bytes::Bytes::from(chunk)))).await;
            if !matches!(sent, Ok(Ok(()))) {
                let _ = child.start_kill();
                file = None;
                break;
            }
            let mut buf = vec![0u8; 64 * 1024];
            // ffmpeg can be silent for a while (a fragment per keyframe): a viewer who
            // leaves meanwhile must not wait for the next one.
            let read = tokio::select! {
                r = stdout.read(&mut buf) => r,
                _ = tx.closed() => {
                    let _ = child.start_kill();
                    file = None;
                    break;
                }
            };
            match read {
                Ok(0) => break,
                Ok(n) => {
                    buf.truncate(n);
                    chunk = buf;
                }
                Err(e) => {
                    let _ = tx.send(Err(e)).await;
                    file = None;
                    break;
                }
            }
        }
        let ok = child.wait().await.is_ok_and(|s| s.success());
        match file {
            Some(f) if ok && f.sync_all().await.is_ok() => {
                let _ = tokio::fs::rename(&part, &out).await;
                if let Some(dir) = out.parent().map(FsPath::to_path_buf) {
                    let _ = tokio::task::spawn_blocking(move || trim(&dir, PLAY_CACHE_BYTES)).await;
                }
            }
            _ => {
                let _ = tokio::fs::remove_file(&part).await;
            }
        }
    });
    let body = Body::from_stream(tokio_stream_of(rx));
    let mut res = (StatusCode::OK, body).into_response();
    res.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("video/mp4"));
    res
}

/// A transcode whose viewer reads nothing for this long is stopped.
const STALLED: std::time::Duration = std::time::Duration::from_secs(60);

/// The transcoded clips kept, at most (the oldest go first).
pub const PLAY_CACHE_BYTES: u64 = 2_000_000_000;

/// Removes the least recently written files of `dir` until it holds at most `max` bytes.
pub fn trim(dir: &FsPath, max: u64) -> std::io::Result<usize> {
    let mut files: Vec<(std::time::SystemTime, u64, PathBuf)> = std::fs::read_dir(dir)?
        .flatten()
        .filter_map(|e| {
            let m = e.metadata().ok()?;
            let modified = m.modified().ok()?;
            m.is_file().then(|| (modified, m.len(), e.path()))
        })
        .collect();
    let mut total: u64 = files.iter().map(|f| f.1).sum();
    files.sort();
    let mut removed = 0;
    for (_, len, p) in files {
        if total <= max {
            break;
        }
        if std::fs::remove_file(&p).is_ok() {
            total -= len;
            removed += 1;
        }
    }
    Ok(removed)
}

fn tokio_stream_of(
    mut rx: tokio::sync::mpsc::Receiver<Result<bytes::Bytes, std::io::Error>>,
) -> impl futures_util::Stream<Item = Result<bytes::Bytes, std::io::Error>> {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

/// `HEAD` of something not made yet: what a `GET` would send, without making it.
fn head_only() -> Response {
    ([(header::CONTENT_TYPE, "video/mp4")], Body::empty()).into_response()
}

fn failed_before(c: &Clip) -> Response {
    super::fail_msg(
        StatusCode::INTERNAL_SERVER_ERROR,
        crate::msg!("api.ffmpeg_failed_before", key = c.key),
    )
}

/// The clip's thumbnail (made now when the capture-time stage has not got to it yet).
pub async fn thumb(State(app): State<App>, Path(id): Path<i64>, method: Method, headers: HeaderMap) -> Response {
    let path = crate::media::thumbs::path(&app.cfg, id);
    if !path.is_file() {
        // Nothing is fetched or made for a HEAD, or for a clip that had no frame.
        if method == Method::HEAD || app.media.jobs.failed(Kind::Thumb, id) {
            return StatusCode::NOT_FOUND.into_response();
        }
        let c = match clip_of(&app, id).await {
            Ok(c) => c,
            Err(r) => return r,
        };
        // The store's copy (this box lost its cache, or the catalog was rebuilt), else
        // one made now from the clip on disk.
        let fetched = crate::media::thumbs::fetch(&app.cfg, &*app.store, &c.key, &path).await;
        if !fetched {
            let Some(src) = local_path(&app, &c) else {
                return StatusCode::NOT_FOUND.into_response();
            };
            if let Err(r) = make_thumb(&app, id, &src, &path).await {
                return r;
            }
        }
    }
    let mut res = send_file(&path, &headers, "image/jpeg", None).await;
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=86400"),
    );
    res
}

/// An export covers at most this many days.
pub const EXPORT_MAX_DAYS: i64 = 2;

/// Extracts the thumbnail as a job (see [`crate::media::thumbs::extract`], which the capture-time
/// stage runs); a clip without a frame is remembered and answered 404 from then on.
async fn make_thumb(app: &App, id: i64, src: &FsPath, out: &FsPath) -> Result<(), Response> {
    let _slot = app.media.jobs.slot().await?;
    if out.is_file() {
        return Ok(()); // made while this request waited
    }
    if app.media.jobs.failed(Kind::Thumb, id) {
        return Err(StatusCode::NOT_FOUND.into_response());
    }
    if let Some(dir) = out.parent() {
        if let Err(e) = std::fs::create_dir_all(dir) {
            return Err(internal(format!("cache: {e}")));
        }
    }
    let tmp = out.with_extension(format!("{}.part.jpg", fastrand::u64(..)));
    for seek in crate::media::thumbs::SEEKS {
        match job_command(crate::media::thumbs::command(src, seek, &tmp))
            .output()
            .await
        {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(super::fail_msg(
                    StatusCode::NOT_IMPLEMENTED,
                    crate::msg!("err.no_ffmpeg"),
                ));
            }
            Err(e) => return Err(internal(format!("cannot run ffmpeg: {e}"))),
            Ok(o) if o.status.success() && std::fs::metadata(&tmp).is_ok_and(|m| m.len() > 0) => {
                return std::fs::rename(&tmp, out).map_err(|e| internal(format!("cache: {e}")));
            }
            Ok(_) => {}
        }
    }
    let _ = std::fs::remove_file(&tmp);
    app.media.jobs.remember_failure(Kind::Thumb, id);
    Err(StatusCode::NOT_FOUND.into_response())
}

#[derive(Deserialize)]
pub struct ExportQuery {
    camera: String,
    from_ms: i64,
    to_ms: i64,
}

/// The range's clips on this server's disk, joined into one MP4 download.
pub async fn export(State(app): State<App>, method: Method, Query(q): Query<ExportQuery>) -> Response {
    if let Some(r) = super::range::TimeRange::refusal(q.from_ms, q.to_ms, EXPORT_MAX_DAYS) {
        return r;
    }
    if method == Method::HEAD {
        return head_only();
    }
    let cat = app.catalog.clone();
    let cam = q.camera.clone();
    let clips = match blocking(move || cat.clips(Some(&cam), q.from_ms, q.to_ms, 5000)).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let paths: Vec<PathBuf> = clips.iter().filter_map(|c| local_path(&app, c)).collect();
    if paths.is_empty() {
        return super::fail_msg(StatusCode::NOT_FOUND, crate::msg!("api.range_not_here"));
    }
    // The slot and ffmpeg live in this request: a client that goes away ends both.
    let _slot = match app.media.jobs.slot().await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let dir = match tempfile::tempdir_in(std::env::temp_dir()) {
        Ok(d) => d,
        Err(e) => return internal(e.to_string()),
    };
    let out = dir.path().join("export.mp4");
    use crate::restore::merge;
    let merged = match merge::write_list(&paths, &out) {
        Ok(list) => {
            let r = job_command(merge::command(&list, &out)).output().await;
            merge::finish(r, &list, &out)
        }
        Err(e) => Err(e),
    };
    if let Err(e) = merged {
        return internal(format!("{e:#}"));
    }
    let name = format!(
        "{}-{}.mp4",
        q.camera,
        crate::report::rfc3339(q.from_ms, "UTC").replace(':', "")
    );
    let headers = HeaderMap::new();
    // The open file outlives the directory's removal: the download goes on.
    let res = send_file(&out, &headers, "video/mp4", Some(&name)).await;
    drop(dir);
    res
}

/// A finished restore's merged file.
pub async fn restored_merged(State(app): State<App>, Path(id): Path<i64>, headers: HeaderMap) -> Response {
    let cat = app.catalog.clone();
    let r = match blocking(move || cat.restore(id)).await {
        Ok(Some(r)) => r,
        Ok(None) => return super::fail_msg(StatusCode::NOT_FOUND, crate::msg!("api.no_restore", id = id)),
        Err(r) => return r,
    };
    let p = crate::restore::out_dir(&app.cfg, &r).join("merged.mp4");
    send_file(&p, &headers, "video/mp4", Some(&format!("restore-{id}.mp4"))).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(s: &str, len: u64) -> Result<Option<(u64, u64)>, Unsatisfiable> {
        parse_range(Some(&HeaderValue::from_str(s).unwrap()), len)
    }

    #[test]
    fn trim_removes_the_oldest_first() {
        let d = tempfile::tempdir().unwrap();
        let now = std::time::SystemTime::now();
        for (i, name) in ["a", "b", "c"].iter().enumerate() {
            let p = d.path().join(name);
            std::fs::write(&p, [0u8; 100]).unwrap();
            let f = std::fs::OpenOptions::new().write(true).open(&p).unwrap();
            f.set_modified(now - std::time::Duration::from_secs(100 - i as u64 * 10))
                .unwrap();
        }
        assert_eq!(trim(d.path(), 150).unwrap(), 2);
        assert!(!d.path().join("a").exists() && !d.path().join("b").exists() && d.path().join("c").exists());
        assert_eq!(trim(d.path(), 150).unwrap(), 0);
    }

    #[test]
    fn ranges() {
        assert_eq!(parse_range(None, 10), Ok(None));
        assert_eq!(r("bytes=0-", 10), Ok(Some((0, 9))));
        assert_eq!(r("bytes=2-4", 10), Ok(Some((2, 4))));
        assert_eq!(r("bytes=5-100", 10), Ok(Some((5, 9))));
        assert_eq!(r("bytes=-3", 10), Ok(Some((7, 9))));
        assert_eq!(r("bytes=10-", 10), Err(Unsatisfiable));
        assert_eq!(r("bytes=4-2", 10), Err(Unsatisfiable));
        assert_eq!(r("bytes=0-1,3-4", 10), Ok(None));
        assert_eq!(r("items=0-1", 10), Ok(None));
    }
}
