//! The `oss` backend against a local OSS test server that checks every request's V4
//! signature with Aliyun's official SDK (tests/oss_server.py). No real cloud is called.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::*;

struct Server {
    child: Child,
    port: u16,
    data: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn server(extra: &[&str]) -> Server {
    let port = free_port();
    let data = tempfile::tempdir().unwrap();
    let child = Command::new(test_python())
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/oss_server.py"))
        .args([&port.to_string(), "cam-archive", data.path().to_str().unwrap()])
        .args(extra)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    wait_port("127.0.0.1", port, "the OSS test server", Duration::from_secs(30));
    Server { child, port, data }
}

fn oss_env(srv: &Server, secret: &str) -> Env {
    let env = Env::new(
        1,
        &format!(
            "store.kind = \"oss\"\nstore.oss.bucket = \"cam-archive\"\nstore.oss.region = \"cn-beijing\"\n\
             store.oss.endpoint = \"http://127.0.0.1:{}\"\nstore.oss.cname = true\nstore.oss.credentials_file = \"oss.key\"\n\
             cache.max_days = 36500",
            srv.port
        ),
    );
    let key = env.root().join("oss.key");
    std::fs::write(
        &key,
        format!("access_key_id = LTAI5tCamvaultTest\naccess_key_secret = {secret}\n"),
    )
    .unwrap();
    env
}

fn stored(srv: &Server) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let root = srv.data.path().join("objects");
    let mut stack = vec![root.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(d).unwrap().flatten() {
            let rel = e.path().strip_prefix(&root).unwrap().to_string_lossy().into_owned();
            if rel.starts_with("catalog") || rel.starts_with("manifests") {
                continue; // camvault's own objects, not recordings
            }
            if e.path().is_dir() {
                stack.push(e.path());
            } else {
                out.push(std::fs::read(e.path()).unwrap());
            }
        }
    }
    out.sort();
    out
}

#[test]
fn pipeline_into_oss_signed_and_verified() {
    let srv = server(&["--fail-puts", "2"]);
    let env = oss_env(&srv, "camvault-test-secret");
    let mut inputs = Vec::new();
    for i in 0..5 {
        let data = bytes(i, 300_000 + i as usize * 1000);
        env.put_old(&old_clip(now_unix() - 3600 - i as i64 * 60), &data);
        inputs.push(data);
    }
    env.put_old("garage/夜间 录像 #1.mp4", b"odd name");
    inputs.push(b"odd name".to_vec());
    inputs.sort();
    env.ok(&["doctor"]);
    let out = env.run(&["ingest", "--once"]);
    assert!(
        out.status.success(),
        "two 503s are retried: {}\n{}",
        stdout(&out),
        stderr(&out)
    );
    let s = env.status();
    assert_eq!(s["files"]["verified"], 6, "{s:#}");
    assert_eq!(stored(&srv), inputs, "OSS holds the bytes");
    let log = std::fs::read_to_string(srv.data.path().join("requests.log")).unwrap();
    assert!(log.lines().filter(|l| l.starts_with("PUT ")).count() >= 8, "{log}");
    assert_eq!(
        log.lines().filter(|l| l.ends_with(" 403")).count(),
        0,
        "every signature checked out: {log}"
    );
    assert!(
        log.contains("%E5%A4%9C%E9%97%B4%20%E5%BD%95%E5%83%8F%20%231.mp4"),
        "keys are encoded: {log}"
    );
    env.ok(&["verify", "--deep"]);
}

#[test]
fn an_existing_object_is_never_overwritten() {
    let srv = server(&[]);
    let env = oss_env(&srv, "camvault-test-secret");
    let rel = format!("XiaomiCamera_00_{NEW_MAC}/00_20251003141500_20251003141600.mp4");
    let key = "videos/5c02148a9e01/2025-10-03/14/00_20251003141500_20251003141600.mp4";
    let obj = srv.data.path().join("objects").join(key);
    std::fs::create_dir_all(obj.parent().unwrap()).unwrap();
    std::fs::write(&obj, b"someone else's bytes").unwrap();
    let meta = srv.data.path().join("meta").join(format!("{key}.json"));
    std::fs::create_dir_all(meta.parent().unwrap()).unwrap();
    std::fs::write(&meta, r#"{"class": "Standard", "crc": "1"}"#).unwrap();
    env.put_old(&rel, b"the camera's bytes");
    let out = env.run(&["ingest", "--once"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("never overwrites"), "{}", stderr(&out));
    assert_eq!(std::fs::read(&obj).unwrap(), b"someone else's bytes");
    assert!(env.vault().join(key).exists(), "the recording is kept locally");
}

#[test]
fn a_wrong_secret_is_explained_and_loses_nothing() {
    let srv = server(&[]);
    let env = oss_env(&srv, "not-the-secret");
    let p = env.put_old(&old_clip(now_unix() - 600), b"clip");
    let out = env.run(&["ingest", "--once"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("SignatureDoesNotMatch") && err.contains("secret is wrong"),
        "{err}"
    );
    assert!(!err.contains("not-the-secret"), "the secret never shows");
    assert!(p.exists());
    assert_eq!(env.status()["files"]["failed"], 1);
    let out = env.run(&["doctor"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("secret is wrong"), "{}", stdout(&out));
}

#[test]
fn store_test_proves_the_bucket_works_and_cleans_up() {
    let srv = server(&[]);
    let env = oss_env(&srv, "camvault-test-secret");
    let out = env.run(&["store", "test"]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    let text = stdout(&out);
    for needle in [
        "size and CRC-64 match",
        "bytes identical",
        "overwriting an existing object is refused",
        "probe removed",
        "MB/s",
    ] {
        assert!(text.contains(needle), "{needle}: {text}");
    }
    assert!(stored(&srv).is_empty(), "the probe is gone");
    let log = std::fs::read_to_string(srv.data.path().join("requests.log")).unwrap();
    assert!(log.lines().any(|l| l.starts_with("DELETE /camvault-probe/")), "{log}");
    assert!(!log
        .lines()
        .any(|l| l.starts_with("DELETE ") && !l.starts_with("DELETE /camvault-probe/")));

    let env = oss_env(&srv, "wrong");
    let out = env.run(&["store", "test"]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert!(stderr(&out).contains("secret is wrong"), "{}", stderr(&out));
}

#[test]
fn adopt_catalogs_what_ossfs_already_put_in_the_bucket() {
    let srv = server(&[]);
    let env = oss_env(&srv, "camvault-test-secret");
    // Months of clips the old ossfs mount wrote, in the camera's own layout.
    let t = now_unix() - 90 * 86_400;
    let mut keys = Vec::new();
    for i in 0..4 {
        let key = old_clip(t + i * 3600);
        let data = bytes(i as u64, 5000);
        let obj = srv.data.path().join("objects").join(&key);
        std::fs::create_dir_all(obj.parent().unwrap()).unwrap();
        std::fs::write(&obj, &data).unwrap();
        let mut crc = crc64fast::Digest::new();
        crc.write(&data);
        let meta = srv.data.path().join("meta").join(format!("{key}.json"));
        std::fs::create_dir_all(meta.parent().unwrap()).unwrap();
        std::fs::write(
            &meta,
            format!(r#"{{"class": "DeepColdArchive", "crc": "{}"}}"#, crc.sum64()),
        )
        .unwrap();
        keys.push(key);
    }
    let out = env.ok(&["adopt", "--dry-run"]);
    assert!(out.contains("dry run") && out.contains(&keys[0]), "{out}");
    assert_eq!(env.status()["files"]["total"], 0, "a dry run records nothing");

    let out = env.ok(&["adopt"]);
    assert!(out.contains("adopted 4 object(s)"), "{out}");
    let ls = env.ls();
    assert_eq!(ls.len(), 4);
    assert!(ls
        .iter()
        .all(|r| r["state"] == "verified" && r["local"] == false && r["camera"] == "78df72a1b2c3"));
    let got: Vec<&str> = ls.iter().map(|r| r["key"].as_str().unwrap()).collect();
    assert_eq!(
        got,
        keys.iter().map(String::as_str).collect::<Vec<_>>(),
        "keys kept as they are, ordered by the time in their names"
    );
    env.ok(&["verify"]);
    let out = env.ok(&["adopt"]);
    assert!(
        out.contains("adopted 0 object(s) from the store (4 already in the catalog"),
        "idempotent: {out}"
    );
    let log = std::fs::read_to_string(srv.data.path().join("requests.log")).unwrap();
    assert!(
        !log.lines().any(|l| l.starts_with("PUT ") || l.starts_with("DELETE ")),
        "nothing uploaded or removed: {log}"
    );
}

#[test]
fn lifecycle_apply_keeps_the_buckets_other_rules() {
    let srv = server(&[]);
    let env = oss_env(&srv, "camvault-test-secret");
    let theirs = "<Rule><ID>user's ossfs rule</ID><Prefix>xiaomi_camera_videos/</Prefix><Status>Enabled</Status><Transition><Days>30</Days><StorageClass>DeepColdArchive</StorageClass></Transition><Tag><Key>k</Key><Value>v</Value></Tag></Rule>";
    std::fs::write(
        srv.data.path().join("lifecycle.xml"),
        format!("<LifecycleConfiguration>{theirs}</LifecycleConfiguration>"),
    )
    .unwrap();
    let out = env.run(&["lifecycle", "check"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("no camvault rule"), "{}", stdout(&out));
    let out = env.ok(&["lifecycle", "show"]);
    assert!(
        out.contains("objects under \"xiaomi_camera_videos/\": move to DeepColdArchive 30 days after upload"),
        "{out}"
    );
    let out = env.ok(&["lifecycle", "apply"]);
    assert!(out.contains("1 other rule(s) of the bucket kept unchanged"), "{out}");
    let stored = std::fs::read_to_string(srv.data.path().join("lifecycle.xml")).unwrap();
    assert!(stored.contains(theirs), "their rule kept byte for byte: {stored}");
    assert!(stored.contains("<Prefix>videos/</Prefix>") && stored.contains("<Days>30</Days>"));
    env.ok(&["lifecycle", "check"]);
    let out = env.ok(&["lifecycle", "apply"]);
    assert!(out.contains("already in place"), "{out}");
}

/// Ingests two clips of 40 days ago (out of the local cache) and archives them in the
/// test server, as the lifecycle rule would.
fn archived_on_oss(srv: &Server) -> (Env, Vec<Vec<u8>>, i64) {
    let env = oss_env(srv, "camvault-test-secret");
    let cfg = std::fs::read_to_string(env.config()).unwrap();
    let cfg = set_key(&cfg, "cache", "max_days", "30");
    let cfg = set_key(&cfg, "restore", "poll_secs", "1");
    std::fs::write(env.config(), set_key(&cfg, "restore", "poll_max_secs", "1")).unwrap();
    let t0 = now_unix() - 40 * 86_400;
    let mut inputs = Vec::new();
    for i in 0..2 {
        let data = bytes(10 + i, 40_000);
        env.put_old(&old_clip(t0 + i as i64 * 60), &data);
        inputs.push(data);
    }
    inputs.sort();
    env.ok(&["ingest", "--once"]);
    assert_eq!(env.status()["files"]["cached"], 0);
    let meta_root = srv.data.path().join("meta/videos");
    let mut stack = vec![meta_root];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(d).unwrap().flatten() {
            if e.path().is_dir() {
                stack.push(e.path());
            } else {
                let mut m: serde_json::Value = serde_json::from_slice(&std::fs::read(e.path()).unwrap()).unwrap();
                m["class"] = "DeepColdArchive".into();
                std::fs::write(e.path(), m.to_string()).unwrap();
            }
        }
    }
    (env, inputs, t0)
}

/// Compares file contents without printing megabytes when they differ.
fn assert_same(got: &[Vec<u8>], want: &[Vec<u8>]) {
    let sizes = |v: &[Vec<u8>]| v.iter().map(Vec::len).collect::<Vec<_>>();
    assert_eq!(sizes(got), sizes(want), "file sizes");
    assert!(got == want, "restored byte for byte");
}

fn restored_files(dir: &std::path::Path) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(d).unwrap().flatten() {
            if e.path().is_dir() {
                stack.push(e.path());
            } else {
                out.push(std::fs::read(e.path()).unwrap());
            }
        }
    }
    out.sort();
    out
}

#[test]
fn restore_from_deep_cold_archive_on_oss() {
    let srv = server(&["--restore-secs", "1"]);
    let (env, inputs, t0) = archived_on_oss(&srv);
    let ts = |t: i64| jiff::Timestamp::from_second(t).unwrap().to_string();
    let (from, to) = (ts(t0 - 60), ts(t0 + 600));
    // Archived objects refuse reads; the plan says so and prices the restore.
    let plan: serde_json::Value =
        serde_json::from_str(&env.ok(&["restore", "--from", &from, "--to", &to, "--dry-run", "--json"])).unwrap();
    let sources: Vec<&str> = plan["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["source"].as_str().unwrap())
        .collect();
    assert_eq!(sources, ["archive", "archive"], "{plan:#}");
    assert_eq!(plan["hours"], 48.0, "Deep Cold Archive, standard tier");
    let out = env.run(&["verify", "--deep"]);
    assert!(
        out.status.success(),
        "archived objects are checked by HEAD: {}",
        stdout(&out)
    );

    let dir = env.root().join("back");
    let out = env.ok(&[
        "restore",
        "--from",
        &from,
        "--to",
        &to,
        "--tier",
        "expedited",
        "--yes",
        "--wait",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert!(out.contains("restore #1: done"), "{out}");
    assert_same(&restored_files(&dir), &inputs);
    let log = std::fs::read_to_string(srv.data.path().join("requests.log")).unwrap();
    let restores: Vec<&str> = log.lines().filter(|l| l.contains("?restore")).collect();
    assert_eq!(restores.len(), 2, "one RestoreObject per clip: {log}");
    assert!(
        restores.iter().all(|l| l.starts_with("POST ") && l.ends_with(" 202")),
        "{log}"
    );
    let gets: Vec<&str> = log.lines().filter(|l| l.starts_with("GET /videos/")).collect();
    assert_eq!(gets.len(), 2, "read once each, only when HEAD said restored: {log}");
    assert!(gets.iter().all(|l| l.ends_with(" 200")), "{log}");
    assert_eq!(
        log.lines()
            .filter(|l| l.ends_with(" 403") && !l.starts_with("GET"))
            .count(),
        0,
        "signatures: {log}"
    );
}

#[test]
fn restore_copes_with_409_and_200_when_head_lags() {
    // HEAD never shows x-oss-restore here, so camvault learns the state from RestoreObject's
    // answers: 202, then 409 RestoreAlreadyInProgress, then 200 once restored.
    let srv = server(&["--restore-secs", "2", "--stale-head"]);
    let (env, inputs, t0) = archived_on_oss(&srv);
    let ts = |t: i64| jiff::Timestamp::from_second(t).unwrap().to_string();
    let (from, to) = (ts(t0 - 60), ts(t0 + 600));
    env.ok(&["restore", "--from", &from, "--to", &to, "--tier", "standard", "--yes"]);
    env.ok(&["restore", "cancel", "1"]);
    let dir = env.root().join("back");
    let out = env.ok(&[
        "restore",
        "--from",
        &from,
        "--to",
        &to,
        "--tier",
        "standard",
        "--yes",
        "--wait",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert!(out.contains("restore #2: done"), "{out}");
    assert_same(&restored_files(&dir), &inputs);
    let log = std::fs::read_to_string(srv.data.path().join("requests.log")).unwrap();
    let codes: std::collections::BTreeSet<&str> = log
        .lines()
        .filter(|l| l.contains("?restore"))
        .map(|l| l.rsplit(' ').next().unwrap())
        .collect();
    assert_eq!(codes, ["200", "202", "409"].into_iter().collect(), "{log}");
}
