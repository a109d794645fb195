//! `camvault import DIR --camera MAC`: backfill from the camera's SD card (mounted, or a
//! copy of it) after the share was down.
//!
//! The card holds `MIJIA_RECORD_VIDEO/<YYYYMMDDHH>/<MM>M<SS>S_<unix10>.mp4` with a `.jpeg`
//! snapshot beside each clip, and no MAC anywhere (docs/cameras.md), so the camera is
//! given. Each clip camvault does not have yet (same camera, start time and bytes) is
//! copied into the vault and cataloged with its real time, exactly like a captured file,
//! and uploaded by `serve`. A clip's row and its vault copy are made in one step (the copy
//! goes through a temporary file and is fsynced first), so an interrupted import run again
//! loses and duplicates nothing. Hidden files and the camera's working files (`.cached`,
//! `.record_msg`) are not recordings: counted as skipped, left alone.

use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use jiff::Timestamp;

use crate::capture::{copy_no_overwrite, probe_mp4, same_bytes, Capturer};
use crate::catalog::{Catalog, NewFile};
use crate::config::{normalize_mac, Config};
use crate::inbox::layout::{self, Kind};
use crate::keys::KeyInput;

/// The SD card's recordings folder.
const ROOT: &str = "MIJIA_RECORD_VIDEO";

#[derive(Debug, Default, serde::Serialize)]
pub struct Counts {
    pub imported: u64,
    pub snapshots: u64,
    pub already: u64,
    pub skipped: u64,
    pub errors: Vec<(String, String)>,
}

pub fn run(cfg: Config, dir: &Path, camera: &str, json: bool) -> Result<ExitCode> {
    let root = card_root(dir)?;
    let cam = match normalize_mac(camera) {
        Some(mac) => cfg.camera(Some(&mac), None),
        None if cfg.cameras.values().any(|c| c.name == camera) => cfg.camera_by_id(camera),
        None => bail!(
            "--camera {camera:?} is neither a MAC (12 hex digits) nor the name of a camera in the config; the SD card does not say whose it is"
        ),
    };
    let mac = normalize_mac(camera).or_else(|| {
        cfg.cameras
            .iter()
            .find(|(_, c)| c.name == camera)
            .and_then(|(m, _)| normalize_mac(m))
    });
    let cat = Catalog::open(&cfg.catalog(), true)?;
    let cap = Capturer::new(&cfg)?;
    let mut files = Vec::new();
    walk(&root, &mut files).with_context(|| format!("cannot read {}", root.display()))?;
    // Clips before their snapshots, so that each snapshot finds its clip.
    files.sort_by_key(|p| (layout::Kind::of(p.as_os_str().as_bytes()) != Kind::Video, p.clone()));
    let mut n = Counts::default();
    let now = Timestamp::now();
    for path in files {
        let rel = Path::new(ROOT).join(path.strip_prefix(&root).unwrap_or(&path));
        match import_one(&cap, &cat, &cam, mac.as_deref(), &path, &rel, now) {
            Ok(Outcome::Imported(Kind::Video)) => n.imported += 1,
            Ok(Outcome::Imported(_)) => n.snapshots += 1,
            Ok(Outcome::Already) => n.already += 1,
            Ok(Outcome::Skipped) => n.skipped += 1,
            Err(e) => n.errors.push((path.display().to_string(), format!("{e:#}"))),
        }
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&n)?);
    } else {
        println!(
            "imported {} clip(s) and {} snapshot(s) for camera {}; {} already in camvault; {} skipped (hidden or the camera's working files)",
            n.imported, n.snapshots, cam.id, n.already, n.skipped
        );
        for (p, e) in &n.errors {
            eprintln!("cannot import {p}: {e}");
        }
        if !n.errors.is_empty() {
            eprintln!("run import again once fixed: what is imported is not imported twice");
        }
    }
    Ok(if n.errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// `DIR/MIJIA_RECORD_VIDEO`, or `DIR` itself when it is that folder.
fn card_root(dir: &Path) -> Result<PathBuf> {
    let inner = dir.join(ROOT);
    if inner.is_dir() {
        return Ok(inner);
    }
    if dir.file_name().is_some_and(|n| n.eq_ignore_ascii_case(ROOT)) && dir.is_dir() {
        return Ok(dir.to_path_buf());
    }
    bail!(
        "{} holds no {ROOT} folder: give the SD card's root (or a copy of it) or its {ROOT} folder",
        dir.display()
    )
}

/// Regular files below `dir`, not following symlinks.
fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        let ft = e.file_type()?;
        if ft.is_dir() {
            walk(&e.path(), out)?;
        } else if ft.is_file() {
            out.push(e.path());
        }
    }
    Ok(())
}

enum Outcome {
    Imported(Kind),
    Already,
    Skipped,
}

fn import_one(
    cap: &Capturer,
    cat: &Catalog,
    cam: &crate::config::CameraInfo,
    mac: Option<&str>,
    full: &Path,
    rel: &Path,
    now: Timestamp,
) -> Result<Outcome> {
    let name = rel.file_name().map(|n| n.as_bytes()).unwrap_or_default();
    let parsed = layout::parse_path(rel);
    if name.starts_with(b".") || parsed.kind == Kind::Other || parsed.layout != layout::Layout::SdCard {
        return Ok(Outcome::Skipped);
    }
    let meta = std::fs::symlink_metadata(full)?;
    let size = meta.len();
    let mtime = Timestamp::from_second(meta.mtime()).unwrap_or(now);
    let span = layout::resolve(&parsed, &cam.tz, mtime, now);
    // The same clip camvault already has (captured from the share, or imported before)?
    for (key, local, crc) in cat.same_recording(&cam.id, span.start.as_millisecond(), size)? {
        let same = if local {
            std::fs::File::open(full).is_ok_and(|f| same_bytes(&f, &cap.vault.join(&key)).unwrap_or(false))
        } else {
            crc.is_some_and(|c| crc_of(full).is_ok_and(|mine| mine == c))
        };
        if same {
            return Ok(Outcome::Already);
        }
    }
    let mp4 = if parsed.kind == Kind::Video {
        std::fs::File::open(full).ok().and_then(|f| probe_mp4(&f, size))
    } else {
        None
    };
    let end = span.end.or_else(|| {
        let d = mp4.as_ref()?.duration_ms?;
        Timestamp::from_millisecond(span.start.as_millisecond().checked_add(d)?).ok()
    });
    let info = mp4.unwrap_or_default();
    let start_z = span.start.to_zoned(cam.tz.clone());
    let base_key = cap.template.render(&KeyInput {
        camera: &cam.id,
        mac,
        channel: None,
        start: &start_z,
        file: name,
    });
    // Where the clip came from, so `ls` and the catalog tell imports apart.
    let origin = [b"import/".as_slice(), rel.as_os_str().as_bytes()].concat();
    let row = NewFile {
        camera: &cam.id,
        mac,
        tz: &cam.tz_name,
        inbox_path: &origin,
        base_key: &base_key,
        layout: parsed.layout.as_str(),
        channel: None,
        start_ms: span.start.as_millisecond(),
        end_ms: end.map(|e| e.as_millisecond()),
        size,
        mtime_ns: meta.mtime() * 1_000_000_000 + meta.mtime_nsec(),
        dev: meta.dev(),
        ino: meta.ino(),
        duration_ms: info.duration_ms,
        codec: info.codec.as_deref(),
        width: info.width,
        height: info.height,
        warning: span.warning.as_deref(),
        now_ms: now.as_millisecond(),
        kind: parsed.kind.as_str(),
        hold_until_ms: 0,
        supersedes: None,
    };
    let (id, _key) = cat.insert_captured(&row, |key| {
        let dest = cap.vault.join(key);
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create vault directory {}", parent.display()))?;
        }
        let file = std::fs::File::open(full).with_context(|| format!("cannot read {}", full.display()))?;
        copy_no_overwrite(&file, full, &dest, size)
    })?;
    cat.attach_sidecars(id)?;
    Ok(Outcome::Imported(parsed.kind))
}

/// CRC-64/XZ of a file, as the catalog keeps it.
fn crc_of(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    let mut f = std::fs::File::open(path)?;
    let mut crc = crc64fast::Digest::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            return Ok(crate::store::crc_hex(crc.sum64()));
        }
        crc.write(&buf[..n]);
    }
}
