//! End to end on the `fs` store: the real binary, real files, real SQLite.

mod common;

use std::collections::BTreeMap;
use std::os::unix::ffi::OsStrExt;
use std::time::Duration;

use common::*;

#[test]
fn init_refuses_to_overwrite_without_force() {
    let env = Env::new(1, "");
    for d in ["inbox", "vault", "store", "catalog.sqlite"] {
        assert!(env.root().join(d).exists(), "{d} created");
    }
    let out = env.run(&["init", "--dir", env.root().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("refusing to overwrite") && stderr(&out).contains("camvault.toml"),
        "{}",
        stderr(&out)
    );
    let before = std::fs::read_to_string(env.config()).unwrap();
    assert!(before.contains("settle_secs = 1"), "config untouched");
    env.ok(&["init", "--dir", env.root().to_str().unwrap(), "--force"]);
    assert!(std::fs::read_to_string(env.config())
        .unwrap()
        .contains("settle_secs = 120"));
}

#[test]
fn config_errors_name_the_key_and_exit_nonzero() {
    let env = Env::new(1, "[cameras.78df72a1b2c3]\ntimezone = \"Mars/Olympus\"\n");
    let out = env.run(&["status"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("cameras.78df72a1b2c3.timezone") && err.contains("Mars/Olympus") && err.contains("camvault.toml"),
        "{err}"
    );

    let env = Env::new(1, "upload.concurency = 3");
    let err = stderr(&env.run(&["status"]));
    assert!(err.contains("concurency"), "{err}");

    let missing = env.root().join("nope.toml");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_camvault"))
        .args(["--config", missing.to_str().unwrap(), "status"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("nope.toml") && stderr(&out).contains("camvault init"));
}

#[test]
fn config_found_through_environment() {
    let env = Env::new(1, "");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_camvault"))
        .args(["status", "--json"])
        .env("CAMVAULT_CONFIG", env.config())
        .current_dir("/")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn ingest_archives_every_layout_and_every_odd_file() {
    let env = Env::new(1, "[cameras.78df72a1b2c3]\nname = \"front-door\"\n");
    let t = now_unix() - 3 * 3600;
    let mut inputs: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut put = |rel: &str, data: Vec<u8>| {
        env.put_old(rel, &data);
        inputs.insert(rel.to_string(), data);
    };
    for i in 0..5 {
        put(&old_clip(t + i * 60), bytes(i as u64, 50_000 + i as usize));
    }
    put(
        &format!("XiaomiCamera_01_{NEW_MAC}/00_20251003141500_20251003141600.mp4"),
        bytes(10, 70_000),
    );
    put(
        &format!("xiaomi_camera_videos/{NEW_MAC}/10_20251003141500_20251003141600.mp4"),
        bytes(11, 1000),
    );
    put("stray at root.mp4", bytes(12, 10));
    put(
        &format!("XiaomiCamera_00_{NEW_MAC}/00_20251321141500_20251321141600.mp4"),
        bytes(13, 10),
    ); // month 13
    put(
        &format!("XiaomiCamera_00_{NEW_MAC}/00_19700101000000_19700101000100.mp4"),
        bytes(14, 10),
    ); // 1970
    put(
        &format!("XiaomiCamera_00_{NEW_MAC}/00_20991231000000_20991231000100.mp4"),
        bytes(15, 10),
    ); // future
    put(&format!("XiaomiCamera_00_{NEW_MAC}/empty.mp4"), Vec::new());
    put("garage/夜间 录像.mp4", bytes(16, 100));
    put("garage/a directory named like a clip.mp4/inner.bin", bytes(17, 100));
    // A non-UTF-8 name, written through the OS API.
    let raw = std::ffi::OsStr::from_bytes(b"bad\xffname.mp4");
    let raw_path = env.inbox().join("garage").join(raw);
    write(&raw_path, b"not utf8");
    age(&raw_path, 3600);

    let out = env.run(&["ingest", "--once"]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));

    let s = env.status();
    let n = inputs.len() as u64 + 1;
    assert_eq!(s["files"]["total"], n, "{s:#}");
    assert_eq!(s["files"]["verified"], n);
    assert_eq!(s["files"]["pending"], 0);
    assert_eq!(s["files"]["failed"], 0);
    assert_eq!(s["oldest_pending_secs"], serde_json::Value::Null);
    assert_eq!(camera_ids(&s), ["5c02148a9e01", "front-door", "garage", "unsorted"]);
    assert!(s["cameras"][1]["last_start"].as_str().unwrap().ends_with("+08:00"));

    // Every input is in the store once, with identical bytes.
    let objects = env.objects();
    assert_eq!(objects.len() as u64, n);
    let mut stored: Vec<&Vec<u8>> = objects.values().collect();
    let mut expected: Vec<&Vec<u8>> = inputs.values().collect();
    let utf8 = b"not utf8".to_vec();
    expected.push(&utf8);
    stored.sort();
    expected.sort();
    assert_eq!(stored, expected);

    let ls = env.ls();
    let by_key: BTreeMap<&str, &serde_json::Value> = ls.iter().map(|r| (r["key"].as_str().unwrap(), r)).collect();
    let first = by_key
        .values()
        .find(|r| r["camera"] == "front-door")
        .expect("old layout clip listed");
    assert_eq!(first["state"], "verified");
    for k in ["camera", "start", "end", "key", "size", "state"] {
        assert!(first.get(k).is_some(), "ls --json has {k}");
    }
    let new = by_key["videos/5c02148a9e01/2025-10-03/14/00_20251003141500_20251003141600.mp4"];
    assert_eq!(new["start"], "2025-10-03T14:15:00+08:00");
    assert_eq!(new["end"], "2025-10-03T14:16:00+08:00");
    assert!(
        ls.iter()
            .any(|r| r["key"].as_str().unwrap().ends_with("/bad%FFname.mp4")),
        "non-UTF-8 byte escaped in the key"
    );
    assert!(ls
        .iter()
        .any(|r| r["key"].as_str().unwrap().ends_with("/夜间 录像.mp4")));
    for needle in ["valid date", "before 2015", "future", "empty file"] {
        assert!(
            ls.iter().any(|r| r["warning"].as_str().unwrap_or("").contains(needle)),
            "a warning mentions {needle:?}"
        );
    }

    // A second run finds nothing new and changes nothing.
    let again = env.ok(&["ingest", "--once"]);
    assert!(again.contains("captured 0 new file(s)"), "{again}");
    assert_eq!(env.objects().len() as u64, n);
    env.ok(&["verify", "--deep"]);
}

#[test]
fn symlinks_are_never_followed() {
    let env = Env::new(1, "");
    let outside = env.root().join("secret.txt");
    write(&outside, b"do not archive me");
    std::fs::create_dir_all(env.inbox().join("cam")).unwrap();
    std::os::unix::fs::symlink(&outside, env.inbox().join("cam/link.mp4")).unwrap();
    std::os::unix::fs::symlink(env.root(), env.inbox().join("escape")).unwrap();
    env.put_old("cam/real.mp4", b"real");
    let out = env.run(&["ingest", "--once"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("link.mp4") && stderr(&out).contains("symlink"),
        "{}",
        stderr(&out)
    );
    let objects = env.objects();
    assert_eq!(objects.len(), 1, "{:?}", objects.keys());
    assert!(objects.values().all(|v| v == b"real"));
    assert_eq!(std::fs::read(&outside).unwrap(), b"do not archive me");
}

#[test]
fn growing_files_wait_and_later_growth_is_a_new_revision() {
    let env = Env::new(30, "");
    let rel = format!("XiaomiCamera_00_{NEW_MAC}/00_20251003141500_20251003141600.mp4");
    let p = env.inbox().join(&rel);
    write(&p, &bytes(1, 1000)); // fresh mtime: still being written
    let out = env.ok(&["ingest", "--once"]);
    assert!(out.contains("1 file(s) still being written"), "{out}");
    assert_eq!(env.status()["files"]["total"], 0);

    age(&p, 3600);
    env.ok(&["ingest", "--once"]);
    // The camera appends after capture: the longer file is a new revision, the first kept.
    let mut grown = bytes(1, 1000);
    grown.extend(bytes(2, 500));
    std::fs::write(&p, &grown).unwrap();
    age(&p, 3600);
    env.ok(&["ingest", "--once"]);
    let objects = env.objects();
    let base = "videos/5c02148a9e01/2025-10-03/14/00_20251003141500_20251003141600";
    assert_eq!(objects[&format!("{base}.mp4")], bytes(1, 1000));
    assert_eq!(objects[&format!("{base}.r2.mp4")], grown);
}

#[test]
fn same_name_written_twice_keeps_both() {
    let env = Env::new(1, "cache.max_days = 36500");
    let rel = old_clip(now_unix() - 7200);
    let p = env.put_old(&rel, b"first take");
    env.ok(&["ingest", "--once"]);
    std::fs::remove_file(&p).unwrap(); // the camera's retention job
    env.put_old(&rel, b"second take, other bytes");
    env.ok(&["ingest", "--once"]);
    let mut vals: Vec<Vec<u8>> = env.objects().into_values().collect();
    vals.sort();
    assert_eq!(vals, vec![b"first take".to_vec(), b"second take, other bytes".to_vec()]);
    // The vault still has the first take although the camera deleted it.
    let ls = env.ls();
    assert_eq!(ls.len(), 2);
    assert_eq!(
        std::fs::read(env.vault().join(ls[0]["key"].as_str().unwrap())).unwrap(),
        b"first take"
    );
}

#[test]
fn deleted_in_inbox_after_capture_is_not_lost() {
    let env = Env::new(1, "store.fs.root = \"missing-store\"");
    let p = env.put_old(&old_clip(now_unix() - 600), b"precious");
    let out = env.run(&["ingest", "--once"]);
    assert_eq!(out.status.code(), Some(1), "store missing: ingest fails");
    let err = stderr(&out);
    assert!(err.contains("missing-store") && err.contains("does not exist"), "{err}");
    std::fs::remove_file(&p).unwrap();
    std::fs::create_dir(env.root().join("missing-store")).unwrap();
    env.ok(&["ingest", "--once"]);
    let s = env.status();
    assert_eq!(s["files"]["verified"], 1, "{s:#}");
}

#[test]
fn store_errors_keep_everything_and_recover() {
    let env = Env::new(1, "");
    env.put_old(&old_clip(now_unix() - 600), b"clip one");
    // A store root that is a file, not a directory: refused with its path.
    std::fs::remove_dir(env.store()).unwrap();
    std::fs::write(env.store(), b"oops").unwrap();
    let out = env.run(&["ingest", "--once"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("not a directory") && stderr(&out).contains("store"),
        "{}",
        stderr(&out)
    );
    let s = env.status();
    assert_eq!(
        (s["files"]["failed"].as_u64(), s["files"]["verified"].as_u64()),
        (Some(1), Some(0))
    );
    assert!(s["recent_errors"][0]["error"]
        .as_str()
        .unwrap()
        .contains("not a directory"));
    std::fs::remove_file(env.store()).unwrap();
    std::fs::create_dir(env.store()).unwrap();
    env.ok(&["ingest", "--once"]);
    assert_eq!(env.status()["files"]["verified"], 1);
    assert_eq!(env.objects().into_values().next().unwrap(), b"clip one");
}

#[test]
fn read_only_and_full_store() {
    let env = Env::new(1, "");
    if !tmpfs(&env.store(), "64k") {
        eprintln!("SKIPPED: mounting a tmpfs needs root (CI runs as root)");
        return;
    }
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            umount(&self.0);
        }
    }
    let _guard = Unmount(env.store());
    env.put_old(&old_clip(now_unix() - 600), &bytes(1, 200_000));
    let out = env.run(&["ingest", "--once"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("disk is full") || stderr(&out).contains("No space"),
        "{}",
        stderr(&out)
    );
    assert!(
        std::fs::read_dir(env.store())
            .unwrap()
            .flatten()
            .all(|e| e.file_name() == ".camvault"),
        "no partial object"
    );

    let remount = std::process::Command::new("mount")
        .args(["-o", "remount,ro"])
        .arg(env.store())
        .status()
        .unwrap();
    assert!(remount.success());
    let out = env.run(&["ingest", "--once"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).to_lowercase().contains("read-only"), "{}", stderr(&out));
    assert_eq!(env.status()["files"]["failed"], 1, "still there, waiting");
    umount(&env.store());
    env.ok(&["ingest", "--once"]);
    assert_eq!(env.objects().into_values().next().unwrap(), bytes(1, 200_000));
}

#[test]
fn catalog_faults_are_explained() {
    let env = Env::new(1, "");
    std::fs::write(env.root().join("catalog.sqlite"), vec![0x5a; 8192]).unwrap();
    for args in [&["status"][..], &["ingest", "--once"]] {
        let out = env.run(args);
        assert_eq!(out.status.code(), Some(2));
        let err = stderr(&out);
        assert!(err.contains("catalog.sqlite") && err.contains("damaged"), "{err}");
    }
    // A second pipeline on the same catalog is refused while the first runs.
    let env = Env::new(1, "");
    let mut serve = env.serve();
    env.wait_status(Duration::from_secs(20), |_| {
        std::fs::metadata(env.root().join("catalog.lock")).is_ok()
    });
    let t0 = std::time::Instant::now();
    let out = loop {
        let out = env.run(&["ingest", "--once"]);
        if !out.status.success() || t0.elapsed() > Duration::from_secs(20) {
            break out;
        }
    };
    serve.kill().unwrap();
    let _ = serve.wait();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("another camvault"), "{}", stderr(&out));
}

#[test]
fn verify_finds_missing_and_changed_objects() {
    let env = Env::new(1, "");
    for i in 0..3 {
        env.put_old(&old_clip(now_unix() - 600 - i * 60), &bytes(i as u64, 4096));
    }
    env.ok(&["ingest", "--once"]);
    env.ok(&["verify"]);
    let keys: Vec<String> = env.objects().into_keys().collect();
    std::fs::remove_file(env.store().join(&keys[0])).unwrap();
    let mut b = std::fs::read(env.store().join(&keys[1])).unwrap();
    b[100] ^= 0xff; // same size, different bytes: only --deep sees it
    std::fs::write(env.store().join(&keys[1]), &b).unwrap();
    let out = env.run(&["verify"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains(&keys[0]) && stdout(&out).contains("missing"),
        "{}",
        stdout(&out)
    );
    assert!(!stdout(&out).contains(&keys[1]));
    let out = env.run(&["verify", "--deep"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains(&keys[1]) && stdout(&out).contains("bytes differ"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn cache_purges_only_verified_oldest_first() {
    let env = Env::new(1, "cache.max_bytes = 25000");
    let now = now_unix();
    let mut paths = Vec::new();
    for i in 0..5 {
        paths.push(env.put_old(&old_clip(now - 5000 + i * 60), &bytes(i as u64, 10_000)));
    }
    env.ok(&["ingest", "--once"]);
    let ls = env.ls();
    let local: Vec<bool> = ls.iter().map(|r| r["local"].as_bool().unwrap()).collect();
    assert_eq!(
        local,
        [false, false, false, true, true],
        "oldest purged first, 20 kB kept"
    );
    assert!(
        !paths[0].exists() && paths[4].exists(),
        "the inbox link goes with the vault copy"
    );
    assert!(!env.vault().join(ls[0]["key"].as_str().unwrap()).exists());
    assert_eq!(env.objects().len(), 5, "the store keeps everything");

    // With the store away, nothing unverified is ever purged, however full the cache.
    let env = Env::new(1, "cache.max_bytes = 0\nstore.fs.root = \"away\"");
    let p = env.put_old(&old_clip(now - 600), &bytes(9, 10_000));
    assert_eq!(env.run(&["ingest", "--once"]).status.code(), Some(1));
    assert!(p.exists());
    assert!(env.vault().join(env.ls()[0]["key"].as_str().unwrap()).exists());
}

#[test]
fn real_mp4_metadata_is_cataloged() {
    needs!(FFMPEG);
    let env = Env::new(1, "");
    let tmp = env.root().join("clip.mp4");
    hevc_clip(&tmp, 2, "320x240", false);
    env.put_old(
        &format!("XiaomiCamera_00_{NEW_MAC}/00_20251003141500_20251003141602.mp4"),
        &std::fs::read(&tmp).unwrap(),
    );
    env.ok(&["ingest", "--once"]);
    let ls = env.ls();
    assert_eq!(ls[0]["codec"], "hvc1");
    assert_eq!(
        (ls[0]["width"].as_u64(), ls[0]["height"].as_u64()),
        (Some(320), Some(240))
    );
    let d = ls[0]["duration_ms"].as_i64().unwrap();
    assert!((1900..=2100).contains(&d), "{d}");
    assert_eq!(ls[0]["warning"], serde_json::Value::Null);
}

#[test]
fn ls_filters_by_camera_and_time() {
    let env = Env::new(1, "");
    env.put_old(
        &format!("XiaomiCamera_00_{NEW_MAC}/00_20251003141500_20251003141600.mp4"),
        b"a",
    );
    env.put_old(
        &format!("XiaomiCamera_00_{NEW_MAC}/00_20251004090000_20251004090100.mp4"),
        b"b",
    );
    env.put_old(
        &format!("XiaomiCamera_00_{OLD_MAC}/00_20251003150000_20251003150100.mp4"),
        b"c",
    );
    env.ok(&["ingest", "--once"]);
    let day: Vec<serde_json::Value> = serde_json::from_str(&env.ok(&[
        "ls",
        "--camera",
        "5c02148a9e01",
        "--from",
        "2025-10-03",
        "--to",
        "2025-10-04",
        "--json",
    ]))
    .unwrap();
    assert_eq!(day.len(), 1);
    assert_eq!(day[0]["start"], "2025-10-03T14:15:00+08:00");
    let all: Vec<serde_json::Value> =
        serde_json::from_str(&env.ok(&["ls", "--from", "2025-10-03T07:00:00Z", "--json"])).unwrap();
    assert_eq!(all.len(), 2, "from 15:00 Shanghai on");
    let out = env.run(&["ls", "--from", "last tuesday"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--from") && stderr(&out).contains("last tuesday"));
}

#[test]
fn doctor_says_what_to_fix() {
    let env = Env::new(1, "");
    let out = env.ok(&["doctor"]);
    assert!(out.contains("hard links") && out.contains("all good"), "{out}");
    std::fs::remove_dir_all(env.store()).unwrap();
    let out = env.run(&["doctor"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("FAIL") && stdout(&out).contains("store"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn store_test_on_the_fs_store() {
    let env = Env::new(1, "");
    let out = env.ok(&["store", "test"]);
    assert!(
        out.contains("overwriting an existing object is refused") && out.contains("probe removed"),
        "{out}"
    );
    assert!(env.objects().is_empty(), "nothing left behind");
}

#[test]
fn lifecycle_on_the_fs_store_follows_the_config() {
    let env = Env::new(
        1,
        "tiering.transition_days = 3\ntiering.storage_class = \"ColdArchive\"",
    );
    assert_eq!(env.run(&["lifecycle", "check"]).status.code(), Some(1));
    let out = env.ok(&["lifecycle", "apply"]);
    assert!(out.contains("move to ColdArchive 3 days after upload"), "{out}");
    env.ok(&["lifecycle", "check"]);
    // The config changes: check notices, apply updates in place.
    let cfg = std::fs::read_to_string(env.config())
        .unwrap()
        .replace("transition_days = 3", "transition_days = 30");
    std::fs::write(env.config(), cfg).unwrap();
    let out = env.run(&["lifecycle", "check"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("differs"), "{}", stdout(&out));
    env.ok(&["lifecycle", "apply"]);
    env.ok(&["lifecycle", "check"]);
}

#[test]
fn cost_model_reproduces_the_users_plan() {
    // No config needed for a what-if.
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_camvault"))
        .args([
            "cost",
            "--model",
            "--daily-gb",
            "10",
            "--transition-days",
            "30",
            "--months",
            "12",
            "--json",
        ])
        .current_dir(dir.path())
        .env_remove("CAMVAULT_CONFIG")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let months: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(months.len(), 12);
    assert_eq!(months[0]["month"], 1);
    assert_eq!(months[0]["total_cny"], 36.0);
    // The spreadsheet's ¥60.75 counted exactly 30 days in Standard; OSS acts about a day later.
    assert_eq!(months[11]["total_cny"], 61.88);
    assert_eq!(months[11]["standard_gb"], 310.0);
    assert_eq!(months[11]["archive_gb"], 3290.0);
    // Prices come from the config's table.
    let env = Env::new(1, "prices.deep_cold_archive_gb_month = 0.015");
    let months: Vec<serde_json::Value> =
        serde_json::from_str(&env.ok(&["cost", "--model", "--months", "12", "--json"])).unwrap();
    // 310 GB in Standard at ¥0.12, 3290 GB at the config's ¥0.015.
    assert_eq!(months[11]["total_cny"], 86.55);
    // And from the catalog.
    env.put_old(&old_clip(now_unix() - 3600), &bytes(1, 2_000_000));
    env.ok(&["ingest", "--once"]);
    let v: serde_json::Value = serde_json::from_str(&env.ok(&["cost", "--json"])).unwrap();
    assert!((v["standard_gb"].as_f64().unwrap() - 0.002).abs() < 1e-9, "{v}");
    assert!(v["projection"][2]["monthly_cny"].as_f64().is_some());
    // One upload so far, priced from the table.
    assert_eq!(v["so_far"]["puts"], 1, "{v}");
    assert!(
        (v["so_far"]["requests_cny"].as_f64().unwrap() - 0.01 / 10_000.0).abs() < 1e-12,
        "{v}"
    );
    assert!(v["so_far"]["storage_cny"].as_f64().unwrap() >= 0.0);
}

#[test]
fn config_with_secrets_must_be_private() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new(1, "samba.password = \"hunter2hunter2\"");
    assert_eq!(
        std::fs::metadata(env.config()).unwrap().permissions().mode() & 0o777,
        0o600,
        "init writes 0600"
    );
    env.ok(&["doctor"]);
    std::fs::set_permissions(env.config(), std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = env.run(&["doctor"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("chmod 600"), "{}", stdout(&out));
    assert!(!stdout(&out).contains("hunter2hunter2") && !stderr(&out).contains("hunter2hunter2"));
}

#[test]
fn ledger_counts_each_hour_and_explains_the_gaps() {
    let env = Env::new(1, "");
    let h0 = (now_unix() / 3600 - 3) * 3600;
    for m in 0..60 {
        env.put_old(&old_clip(h0 + m * 60), &bytes(m as u64, 500));
    }
    for m in 0..45 {
        env.put_old(&old_clip(h0 + 3600 + m * 60), &bytes(100 + m as u64, 500));
    }
    env.ok(&["ingest", "--once"]);
    let from = jiff::Timestamp::from_second(h0).unwrap().to_string();
    let to = jiff::Timestamp::from_second(h0 + 3 * 3600).unwrap().to_string();
    let v: serde_json::Value =
        serde_json::from_str(&env.ok(&["ledger", "--from", &from, "--to", &to, "--json"])).unwrap();
    let hours = v.as_array().unwrap();
    assert_eq!(hours.len(), 3, "{v:#}");
    assert_eq!(
        (hours[0]["files"].as_u64(), hours[0]["verified"].as_u64()),
        (Some(60), Some(60))
    );
    assert_eq!(hours[0]["note"], "");
    assert_eq!(hours[1]["files"], 45);
    assert!(
        hours[1]["note"].as_str().unwrap().starts_with("15 min missing"),
        "{v:#}"
    );
    assert_eq!(hours[2]["files"], 0);
    // These clips arrived hours after they were recorded, as a camera's SD card backlog
    // does: the ledger says the empty hour next to them was probably overwritten there.
    assert!(hours[1]["max_lag_min"].as_i64().unwrap() >= 60, "{v:#}");
    assert!(
        hours[2]["note"].as_str().unwrap().contains("backlog from its SD card"),
        "{v:#}"
    );
    let text = env.ok(&["ledger", "--from", &from, "--to", &to]);
    assert!(text.contains("15 min missing"), "{text}");
    let out = env.run(&["ledger", "--camera", "nope"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("no camera \"nope\""), "{}", stderr(&out));
}

#[test]
fn store_get_reads_an_object_or_a_range_of_it() {
    let env = Env::new(1, "");
    let data = bytes(5, 50_000);
    env.put_old(&old_clip(now_unix() - 600), &data);
    env.ok(&["ingest", "--once"]);
    let key = env.ls()[0]["key"].as_str().unwrap().to_string();
    let out = env.cmd(&["store", "get", &key, "--range", "10-19"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(out.stdout, &data[10..20]);
    let all = env.cmd(&["store", "get", &key]).output().unwrap();
    assert_eq!(all.stdout, data);
    // From tests/oss.rs: a backwards range is refused with the option named.
    let bad = env.run(&["store", "get", &key, "--range", "9-3"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("--range \"9-3\""), "{}", stderr(&bad));
}
