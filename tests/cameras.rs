//! What real Xiaomi cameras do (docs/cameras.md), end to end through `serve`: clips that
//! grow in bursts at the camera's NAS sync interval, renames, snapshots beside clips, and
//! `import` from an SD card copy. Clips are real ffmpeg-made fragmented HEVC + A-law.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::*;

/// A fragmented clip as the new-layout cameras write it: `moov` with `mvex`, `moof`/`mdat`
/// pairs, HEVC `hvc1`, G.711 A-law; `secs` long.
fn fragmented_clip(secs: u32) -> Vec<u8> {
    assert!(has("ffmpeg"), "ffmpeg is needed: apt-get install ffmpeg (.ci/run does)");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("clip.mp4");
    let st = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i"])
        .arg(format!("testsrc=duration={secs}:size=320x240:rate=10"))
        .args(["-f", "lavfi", "-i"])
        .arg(format!("sine=duration={secs}:sample_rate=8000"))
        .args([
            "-c:v",
            "libx265",
            "-x265-params",
            "log-level=error",
            "-tag:v",
            "hvc1",
            "-g",
            "10",
        ])
        .args([
            "-c:a",
            "pcm_alaw",
            "-movflags",
            "frag_keyframe+empty_moov+default_base_moof",
            "-f",
            "mov",
        ])
        .arg(&out)
        .status()
        .unwrap();
    assert!(st.success(), "ffmpeg");
    std::fs::read(out).unwrap()
}

/// An `mdat` box of `len` bytes in all (what a burst of the camera's sync appends).
fn mdat(seed: u64, len: usize) -> Vec<u8> {
    let mut v = (len as u32).to_be_bytes().to_vec();
    v.extend_from_slice(b"mdat");
    v.extend(bytes(seed, len - 8));
    v
}

fn append(p: &Path, data: &[u8]) {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(p)
        .unwrap()
        .write_all(data)
        .unwrap();
}

/// Bytes of every stored object under `videos/` (each one upload).
fn uploaded_video_bytes(env: &Env) -> (usize, u64) {
    let o = env.objects();
    let v: Vec<_> = o.iter().filter(|(k, _)| k.starts_with("videos/")).collect();
    (v.len(), v.iter().map(|(_, b)| b.len() as u64).sum())
}

fn killed(mut c: std::process::Child) {
    let _ = Command::new("kill").args(["-TERM", &c.id().to_string()]).status();
    let _ = c.wait();
}

/// A 128 MiB clip written in four bursts, each gap longer than `settle_secs` (so every
/// burst is captured) but within `hold_secs` (the camera's sync interval): uploaded once,
/// finished. A burst after a gap longer than the hold is a new revision; the partial copy
/// stays in the store, superseded, and only the finished file is a recording.
#[test]
fn a_clip_growing_in_bursts_is_uploaded_once_finished() {
    let env = Env::new(
        1,
        "capture.hold_secs = 8\ncapture.rescan_secs = 2\ncache.max_days = 36500",
    );
    let rel = format!("XiaomiCamera_00_{NEW_MAC}/00_20251003141500_20251003143000.mp4");
    let path = env.inbox().join(&rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let head = fragmented_clip(4);
    const BURST: usize = 32 << 20;
    // Made before the first write: the gaps between bursts are the camera's, not ours.
    let bursts: Vec<Vec<u8>> = (2..=4).map(|seed| mdat(seed, BURST)).collect();
    let mut all = head.clone();
    all.extend(mdat(1, BURST - head.len()));
    append(&path, &all);
    let serve = env.serve();
    // The first burst is captured (the gap to the next is longer than settle) ...
    env.wait_status(Duration::from_secs(60), |s| s["files"]["total"] == 1);
    for b in bursts {
        std::thread::sleep(Duration::from_secs(3)); // the camera's gap between syncs (> settle 1 s)
        append(&path, &b);
        all.extend(b);
    }
    let dump = || {
        let out = Command::new("sqlite3")
            .arg(env.root().join("catalog.sqlite"))
            .arg("select id, key, size, state, next_attempt_ms, superseded_by from files")
            .output()
            .unwrap();
        format!(
            "{}\n{}",
            stdout(&out),
            std::fs::read_to_string(env.serve_log()).unwrap_or_default()
        )
    };
    wait_for(Duration::from_secs(120), "the finished clip verified", || {
        catalog_count(
            &env,
            "SELECT count(*) FROM files WHERE state = 'verified' AND size = 134217728",
        ) == 1
            || catalog_count(&env, "SELECT count(*) FROM files") > 1
    });
    assert_eq!(catalog_count(&env, "SELECT count(*) FROM files"), 1, "{}", dump());
    assert_eq!(all.len(), 128 << 20);
    let s = env.wait_status(Duration::from_secs(120), |s| s["files"]["verified"] == 1);
    assert_eq!(s["files"]["total"], 1, "no chain of revisions: {s:#}");
    let (objects, bytes) = uploaded_video_bytes(&env);
    let size = all.len() as u64;
    eprintln!("finished file {size} bytes; uploaded {bytes} bytes in {objects} object(s)");
    assert!(
        bytes as f64 <= 1.25 * size as f64,
        "uploaded {bytes} for a {size}-byte file"
    );
    assert_eq!(objects, 1);
    let stored = env
        .objects()
        .into_iter()
        .find(|(k, _)| k.starts_with("videos/"))
        .unwrap();
    assert!(stored.1 == all, "the finished bytes are what is stored");
    let ls = env.ls();
    assert_eq!(ls.len(), 1);
    assert_eq!(ls[0]["size"], size);
    assert_eq!(ls[0]["duration_ms"], 4000, "duration from the fragments, not mvhd's 0");

    // A burst after a gap longer than the hold: stored again, the first copy superseded.
    std::thread::sleep(Duration::from_secs(9));
    let b = mdat(9, 1 << 20);
    append(&path, &b);
    all.extend(b);
    env.wait_status(Duration::from_secs(120), |s| s["files"]["verified"] == 2);
    let ls = env.ls();
    assert_eq!(ls.len(), 1, "only the finished file is a recording: {ls:#?}");
    assert_eq!(ls[0]["size"], all.len() as u64);
    let (objects, _) = uploaded_video_bytes(&env);
    assert_eq!(objects, 2, "the partial copy is kept, never deleted");
    let ledger: serde_json::Value = serde_json::from_str(&env.ok(&[
        "ledger",
        "--from",
        "2025-10-03T06:00:00Z",
        "--to",
        "2025-10-03T07:00:00Z",
        "--json",
    ]))
    .unwrap();
    let files: u64 = ledger
        .as_array()
        .map(|hours| hours.iter().map(|h| h["files"].as_u64().unwrap_or(0)).sum())
        .unwrap_or(0);
    assert_eq!(files, 1, "the ledger counts one recording: {ledger:#}");
    killed(serve);
}
