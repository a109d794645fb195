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
    needs!(FFMPEG);
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

use common::samba::{PASS as SMB_PASS, USER as SMB_USER};

/// A data dir whose `serve` runs the generated share on the real smbd.
fn share(grace: u64) -> (Env, u16, std::process::Child) {
    common::samba::managed_share(1, grace, "[\"127.0.0.1\"]", "capture.rescan_secs = 2")
}

/// The camera appends `data` to `remote` over SMB1 (pysmb); false when the share refused.
fn camera_append(port: u16, remote: &str, data: &[u8]) -> bool {
    let dir = tempfile::tempdir().unwrap();
    let chunk = dir.path().join("chunk");
    std::fs::write(&chunk, data).unwrap();
    Command::new(test_python())
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/smb_append.py"))
        .args(["127.0.0.1", &port.to_string(), SMB_USER, SMB_PASS, "camera", remote])
        .arg(&chunk)
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap()
        .success()
}

/// `vfs_worm` judges a file by its ctime against `worm:grace_period` and refuses writes too
/// (samba source3/modules/vfs_worm.c). An append after a pause within the grace goes
/// through; one after the grace is refused, and camvault says so: a health problem and an
/// alert event of its own, not counted as a deletion attempt.
#[test]
fn the_share_refusing_the_cameras_write_is_a_problem_and_an_alert() {
    needs!(PYTHON);
    if !common::samba::prerequisites() {
        return;
    }
    // Long enough that a loaded machine's pysmb start-up stays inside it.
    let grace = 15;
    let (env, port, serve) = share(grace);
    let rel = format!("XiaomiCamera_00_{NEW_MAC}/00_20251003141500_20251003141600.mp4");
    let path = env.inbox().join(&rel);
    let dir = Command::new("smbclient")
        .arg("//127.0.0.1/camera")
        .args(["-p", &port.to_string(), "-U", &format!("{SMB_USER}%{SMB_PASS}")])
        .args(["--option=client min protocol=NT1", "--option=client max protocol=NT1"])
        .args(["-c", &format!("mkdir XiaomiCamera_00_{NEW_MAC}")])
        .output()
        .unwrap();
    assert!(dir.status.success(), "{}", stdout(&dir));
    let mut all = bytes(1, 50_000);
    assert!(camera_append(port, &rel, &all));
    // The camera's next sync comes after a pause shorter than the grace: allowed.
    std::thread::sleep(Duration::from_secs(4));
    let b = bytes(2, 50_000);
    assert!(
        camera_append(port, &rel, &b),
        "an append within the grace must go through"
    );
    all.extend(b);
    assert_eq!(std::fs::read(&path).unwrap(), all);
    // A pause longer than the grace (the file's ctime ages past it): refused.
    let ctime_age = || {
        let m = std::fs::metadata(&path).unwrap();
        now_unix() - std::os::unix::fs::MetadataExt::ctime(&m)
    };
    wait_for(
        Duration::from_secs(60),
        "the clip's ctime to age past the grace",
        || ctime_age() > grace as i64 + 1,
    );
    assert!(
        !camera_append(port, &rel, &bytes(3, 50_000)),
        "worm refuses the write after the grace"
    );
    assert_eq!(std::fs::read(&path).unwrap(), all, "nothing written");
    let s = env.wait_status(Duration::from_secs(60), |s| {
        s["health"]["problems"]
            .as_array()
            .is_some_and(|p| p.iter().any(|p| p["rule"] == "share_refused_write"))
    });
    let problem = s["health"]["problems"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["rule"] == "share_refused_write")
        .unwrap()
        .clone();
    let msg = problem["message"].as_str().unwrap();
    assert!(msg.contains("not reaching camvault") && msg.contains(&rel), "{msg}");
    assert_eq!(
        catalog_count(&env, "SELECT count(*) FROM events WHERE kind = 'share_refused_write'"),
        1,
        "one alert event"
    );
    assert_eq!(
        s["deletion_attempts"]["total"], 0,
        "a refused write is not a deletion attempt: {s:#}"
    );
    killed(serve);
}

/// `import` from an SD card copy: clips camvault lacks are added with their real times and
/// snapshots attached; the one it captured from the share is skipped (same camera, time,
/// bytes); hidden metadata and `.cached` working files are skipped; a rerun adds nothing;
/// a run interrupted between the vault copy and the catalog commit is completed.
#[test]
fn import_backfills_from_an_sd_card_copy_once() {
    needs!(FFMPEG);
    let env = Env::new(1, "cache.max_days = 36500");
    let card = tempfile::tempdir().unwrap();
    let base = now_unix() - 2 * 86_400;
    let mut clips = Vec::new();
    for (i, unix) in [base, base + 60, base + 3600].into_iter().enumerate() {
        // old_clip gives `xiaomi_camera_videos/<MAC>/<hour>/<file>`: the card has the same
        // hour folders and names under MIJIA_RECORD_VIDEO.
        let share_rel = old_clip(unix);
        let tail: Vec<&str> = share_rel.rsplitn(3, '/').collect();
        let card_rel = format!("MIJIA_RECORD_VIDEO/{}/{}", tail[1], tail[0]);
        let clip = card.path().join(&card_rel);
        std::fs::create_dir_all(clip.parent().unwrap()).unwrap();
        hevc_clip(&clip, 2 + i as u32, "160x120", true);
        let jpeg = clip.with_extension("jpeg");
        std::fs::write(&jpeg, [&[0xFF, 0xD8, 0xFF, 0xE0][..], &bytes(i as u64, 2000)].concat()).unwrap();
        clips.push((unix, share_rel, card_rel));
    }
    std::fs::write(card.path().join("MIJIA_RECORD_VIDEO/.record_msg"), b"camera state").unwrap();
    let cached = card.path().join(format!("{}.cached", clips[2].2));
    std::fs::write(&cached, b"half a clip").unwrap();
    // The first clip reached camvault over the share before the outage.
    let (_, share_rel, card_rel) = &clips[0];
    env.put_old(share_rel, &std::fs::read(card.path().join(card_rel)).unwrap());
    env.ok(&["ingest", "--once"]);
    assert_eq!(env.ls().len(), 1);

    let import = |dir: &Path| -> serde_json::Value {
        let out = env.ok(&["import", dir.to_str().unwrap(), "--camera", OLD_MAC, "--json"]);
        serde_json::from_str(&out).unwrap()
    };
    let n = import(card.path());
    assert_eq!(
        (&n["imported"], &n["snapshots"], &n["already"], &n["skipped"]),
        (&2.into(), &3.into(), &1.into(), &2.into()),
        "{n:#}"
    );
    let ls = env.ls();
    assert_eq!(
        ls.len(),
        3,
        "three recordings, the snapshots are not recordings: {ls:#?}"
    );
    for (unix, _, _) in &clips {
        let start = jiff::Timestamp::from_second(*unix).unwrap();
        assert!(
            ls.iter()
                .any(|l| l["start"].as_str().and_then(|s| s.parse::<jiff::Timestamp>().ok()) == Some(start)),
            "a recording at its real time {start}: {ls:#?}"
        );
    }
    assert_eq!(
        catalog_count(
            &env,
            "SELECT count(*) FROM files WHERE kind = 'image' AND clip_id IS NOT NULL"
        ),
        3,
        "each snapshot attached to its clip"
    );
    // Run again: nothing new.
    let n = import(&card.path().join("MIJIA_RECORD_VIDEO"));
    assert_eq!(
        (&n["imported"], &n["snapshots"], &n["already"]),
        (&0.into(), &0.into(), &6.into()),
        "{n:#}"
    );
    // Interrupted between the vault copy and the catalog commit: the row is gone, the copy
    // is there. The rerun completes it without an error and without a duplicate.
    let c = rusqlite::Connection::open(env.root().join("catalog.sqlite")).unwrap();
    let last: i64 = c
        .query_row("SELECT max(id) FROM files WHERE kind = 'video'", [], |r| r.get(0))
        .unwrap();
    c.execute("UPDATE files SET clip_id = NULL WHERE clip_id = ?1", [last])
        .unwrap();
    let removed = c.execute("DELETE FROM files WHERE id = ?1", [last]).unwrap();
    assert_eq!(removed, 1);
    drop(c);
    let n = import(card.path());
    assert_eq!((&n["imported"], &n["already"]), (&1.into(), &5.into()), "{n:#}");
    env.ok(&["ingest", "--once"]);
    let s = env.status();
    assert_eq!(s["files"]["verified"], 6, "3 clips and 3 snapshots, each once: {s:#}");
    let stored: Vec<Vec<u8>> = env.objects().into_values().collect();
    for (_, _, card_rel) in &clips {
        let original = std::fs::read(card.path().join(card_rel)).unwrap();
        assert_eq!(
            stored.iter().filter(|o| **o == original).count(),
            1,
            "{card_rel} stored once"
        );
    }
    assert!(
        card.path().join("MIJIA_RECORD_VIDEO/.record_msg").exists(),
        "the card is left alone"
    );
    // Without --camera there is nothing to say whose card it is.
    let out = env.run(&["import", card.path().to_str().unwrap()]);
    assert!(!out.status.success());
    let out = env.run(&["import", env.root().to_str().unwrap(), "--camera", OLD_MAC]);
    assert!(
        !out.status.success() && stderr(&out).contains("MIJIA_RECORD_VIDEO"),
        "{}",
        stderr(&out)
    );
}
