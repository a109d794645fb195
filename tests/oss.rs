//! The `oss` backend against a local OSS test server that checks every request's V4 (or,
//! when chosen, V1) signature with Aliyun's official SDK (tests/oss_server.py). No real
//! cloud is called.

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::oss::{oss_env, server, Server};
use common::*;

fn stored(srv: &Server) -> Vec<Vec<u8>> {
    let root = srv.data.path().join("objects");
    let mut out: Vec<Vec<u8>> = files_under(&root)
        .iter()
        // camvault's own objects, not recordings
        .filter(|p| {
            !p.strip_prefix(&root)
                .is_ok_and(|r| r.starts_with("catalog") || r.starts_with("manifests"))
        })
        .map(|p| std::fs::read(p).unwrap())
        .collect();
    out.sort();
    out
}

#[test]
fn pipeline_into_oss_signed_and_verified() {
    needs!(PYTHON);
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
    let versions = signature_versions(&srv);
    assert!(
        !versions.is_empty() && versions.iter().all(|v| v == "V4"),
        "V4 unless V1 is chosen: {versions:?}"
    );
}

/// The version of every signature the server accepted, in order.
fn signature_versions(srv: &Server) -> Vec<String> {
    std::fs::read_to_string(srv.data.path().join("signatures.log"))
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// `oss_env` signing with V1, with an STS token (signed as `x-oss-security-token`).
fn v1_env(srv: &Server, secret: &str) -> Env {
    let env = oss_env(srv, secret);
    let cfg = std::fs::read_to_string(env.config()).unwrap();
    let cfg = set_key(&cfg, "store.oss", "signature", "\"v1\"");
    let cfg = set_key(&cfg, "store.oss", "multipart_threshold_mb", "1");
    std::fs::write(env.config(), set_key(&cfg, "store.oss", "part_size_mb", "1")).unwrap();
    let key = env.root().join("oss.key");
    let mut text = std::fs::read_to_string(&key).unwrap();
    text.push_str("security_token = CAIS/sts+token=\n");
    std::fs::write(&key, text).unwrap();
    env
}

#[test]
fn v1_signatures_when_chosen_work_end_to_end() {
    needs!(PYTHON);
    // The server refuses V4 here, like an old OSS-compatible gateway: everything below
    // works only if every request is signed with V1, and the SDK's SignerV1 agrees.
    let srv = server(&["--only-v1"]);
    let env = v1_env(&srv, "camvault-test-secret");
    let out = env.run(&["store", "test"]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("V1 signatures, deprecated"), "{}", stdout(&out));
    let warning = "signed with OSS V1 (HMAC-SHA1), which Aliyun has deprecated";
    assert_eq!(
        stderr(&out).matches(warning).count(),
        1,
        "one warning, saying how to switch: {}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("`store.oss.signature = \"v4\"`"),
        "{}",
        stderr(&out)
    );

    let big = bytes(8, (2 << 20) + 777); // multipart: ?uploads, ?partNumber&uploadId, ?uploadId
    put_big(&env, &big);
    let small = bytes(9, 50_000);
    env.put_old(&old_clip(now_unix() - 600), &small);
    env.put_old("garage/夜间 录像 #1.mp4", b"odd name");
    let out = env.run(&["ingest", "--once"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(env.status()["files"]["verified"], 3);
    assert!(std::fs::read(srv.data.path().join("objects").join(BIG_KEY)).unwrap() == big);
    env.ok(&["lifecycle", "apply"]); // GET and PUT ?lifecycle, with Content-MD5
    env.ok(&["lifecycle", "check"]);
    env.ok(&["verify", "--deep"]);
    let head: serde_json::Value = serde_json::from_str(&env.ok(&["store", "head", BIG_KEY])).unwrap();
    assert_eq!(head["size"], big.len() as u64);
    let got = env.root().join("got");
    env.ok(&["store", "get", BIG_KEY, "--out", got.to_str().unwrap()]);
    assert!(std::fs::read(&got).unwrap() == big, "read back byte for byte");

    let log = requests(&srv);
    assert!(log.contains(&format!("POST /{BIG_KEY}?uploads 200")), "{log}");
    assert!(log.contains("PUT /?lifecycle 200"), "{log}");
    assert_eq!(log.lines().filter(|l| l.ends_with(" 403")).count(), 0, "{log}");
    let versions = signature_versions(&srv);
    assert!(versions.len() >= 20, "{versions:?}");
    assert!(versions.iter().all(|v| v == "V1"), "{versions:?}");

    // A wrong secret fails V1's check as it fails V4's, and is explained.
    let env = v1_env(&srv, "not-the-secret");
    let out = env.run(&["store", "test"]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert!(stderr(&out).contains("SignatureDoesNotMatch") && stderr(&out).contains("secret is wrong"));
    assert!(!stderr(&out).contains("not-the-secret"), "the secret never shows");
}

#[test]
fn head_shows_when_the_lifecycle_archived_an_object() {
    needs!(PYTHON);
    let srv = server(&[]);
    let (env, _, _) = archived_on_oss(&srv);
    let key = env.ls()[0]["key"].as_str().unwrap().to_string();
    let meta_path = srv.data.path().join("meta").join(format!("{key}.json"));
    let mut meta: serde_json::Value = serde_json::from_slice(&std::fs::read(&meta_path).unwrap()).unwrap();
    meta["transitioned"] = 1_745_913_600.into(); // sent as Tue, 29 Apr 2025 08:00:00 GMT
    std::fs::write(&meta_path, meta.to_string()).unwrap();
    let head: serde_json::Value = serde_json::from_str(&env.ok(&["store", "head", &key])).unwrap();
    assert_eq!(head["storage_class"], "DeepColdArchive", "{head:#}");
    assert_eq!(head["transition_ms"], 1_745_913_600_000i64, "{head:#}");

    // Uploaded in Standard and still there: no transition.
    let standard = "videos/other/standard.mp4";
    for (dir, name, body) in [
        ("objects", standard.to_string(), b"x".to_vec()),
        (
            "meta",
            format!("{standard}.json"),
            br#"{"class": "Standard", "crc": "1", "uploaded_class": "Standard"}"#.to_vec(),
        ),
    ] {
        let p = srv.data.path().join(dir).join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, body).unwrap();
    }
    let head: serde_json::Value = serde_json::from_str(&env.ok(&["store", "head", standard])).unwrap();
    assert_eq!(head["storage_class"], "Standard");
    assert!(head["transition_ms"].is_null(), "{head:#}");
}

#[test]
fn a_wrong_secret_is_explained_and_loses_nothing() {
    needs!(PYTHON);
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
    needs!(PYTHON);
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
    needs!(PYTHON);
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
    assert!(
        out.contains("dry run") && out.contains("xiaomi_camera_videos/78DF72A1B2C3/ -> 78df72a1b2c3: 4 object(s)"),
        "{out}"
    );
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
    assert!(
        !log.lines().any(|l| l.starts_with("GET /xiaomi_camera_videos/")),
        "archived objects are never read, not even their headers: {log}"
    );
}

/// The bad rules of the issue on the OSS test server: a rule that covers the camera
/// folders but is disabled does not count, and a bucket-wide rule that expires objects is
/// named loudly by `lifecycle check` and `apply` (exit 1) and kept; an empty object
/// ossfs left is adopted with its warning.
#[test]
fn disabled_and_deleting_rules_are_named_on_oss() {
    needs!(PYTHON);
    let srv = server(&[]);
    let env = oss_env(&srv, "camvault-test-secret");
    let t = now_unix() - 90 * 86_400;
    for i in 0..2 {
        put_raw(
            &srv,
            &format!("camera_videos/{}", old_clip(t + i * 60)),
            &bytes(i as u64, 3000),
            "Standard",
        );
    }
    let empty = "camera_videos/XiaomiCamera_00_5C02148A9E01/00_20240601090000_20240601090100.mp4";
    put_raw(&srv, empty, b"", "Standard");
    let out = env.ok(&["adopt"]);
    assert!(out.contains("adopted 3 object(s)"), "{out}");
    let ls = env.ls_all();
    let row = ls.iter().find(|r| r["key"] == empty).unwrap();
    assert!(
        row["warning"].as_str().unwrap().contains("empty file (0 bytes)"),
        "{row}"
    );

    let paused = "<Rule><ID>paused</ID><Prefix>camera_videos/</Prefix><Status>Disabled</Status><Transition><Days>30</Days><StorageClass>DeepColdArchive</StorageClass></Transition></Rule>";
    let purge = "<Rule><ID>purge after a year</ID><Prefix></Prefix><Status>Enabled</Status><Expiration><Days>365</Days></Expiration></Rule>";
    let xml = format!("<LifecycleConfiguration>{paused}{purge}</LifecycleConfiguration>");
    std::fs::write(srv.data.path().join("lifecycle.xml"), &xml).unwrap();
    common::adopt::owners_deleting_rule_is_refused(&env);
    let kept = std::fs::read_to_string(srv.data.path().join("lifecycle.xml")).unwrap();
    assert!(
        kept.contains(purge) && kept.contains(paused),
        "the owner's rules are theirs: {kept}"
    );
}

#[test]
fn lifecycle_apply_keeps_the_buckets_other_rules() {
    needs!(PYTHON);
    let srv = server(&[]);
    let env = oss_env(&srv, "camvault-test-secret");
    let theirs = "<Rule><ID>user's ossfs rule</ID><Prefix>xiaomi_camera_videos/</Prefix><Status>Enabled</Status><Transition><Days>30</Days><StorageClass>DeepColdArchive</StorageClass></Transition><Tag><Key>k</Key><Value>v</Value></Tag></Rule>";
    std::fs::write(
        srv.data.path().join("lifecycle.xml"),
        format!("<LifecycleConfiguration>{theirs}</LifecycleConfiguration>"),
    )
    .unwrap();
    common::conformance::cli_lifecycle_keeps_their_rule(
        &env,
        "objects under \"xiaomi_camera_videos/\": move to DeepColdArchive 30 days after upload",
        || {
            let stored = std::fs::read_to_string(srv.data.path().join("lifecycle.xml")).unwrap();
            assert!(stored.contains(theirs), "their rule kept byte for byte: {stored}");
            assert!(stored.contains("<Prefix>videos/</Prefix>") && stored.contains("<Days>30</Days>"));
        },
    );
}

/// Ingests two clips of 40 days ago (out of the local cache) and archives them in the
/// test server, as the lifecycle rule would.
fn archived_on_oss(srv: &Server) -> (Env, Vec<Vec<u8>>, i64) {
    archived_on_oss_in(srv, "DeepColdArchive")
}

fn archived_on_oss_in(srv: &Server, class: &str) -> (Env, Vec<Vec<u8>>, i64) {
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
                m["class"] = class.into();
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
    let mut out: Vec<Vec<u8>> = files_under(dir).iter().map(|p| std::fs::read(p).unwrap()).collect();
    out.sort();
    out
}

#[test]
fn restore_from_deep_cold_archive_on_oss() {
    needs!(PYTHON);
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

/// Archive keeps a restored copy 1–7 days and OSS refuses more (the test server too):
/// `restore --days 10` of Archive objects asks for 7, says so in the plan, and gets them.
#[test]
fn an_archive_restore_asks_for_seven_days_at_most() {
    needs!(PYTHON);
    let srv = server(&["--restore-secs", "0"]);
    let (env, inputs, t0) = archived_on_oss_in(&srv, "Archive");
    let ts = |t: i64| jiff::Timestamp::from_second(t).unwrap().to_string();
    let (from, to) = (ts(t0 - 60), ts(t0 + 600));
    let range = ["restore", "--from", &from, "--to", &to, "--days", "10"];
    let plan: serde_json::Value =
        serde_json::from_str(&env.ok(&[&range[..], &["--dry-run", "--json"]].concat())).unwrap();
    for item in plan["items"].as_array().unwrap() {
        assert_eq!(
            item["note"], "Archive keeps a restored copy at most 7 days: asked for 7 instead of 10",
            "{plan:#}"
        );
    }
    let dir = env.root().join("back");
    let out = env.ok(&[&range[..], &["--yes", "--wait", "--out", dir.to_str().unwrap()]].concat());
    assert!(out.contains("restore #1: done"), "{out}");
    assert_same(&restored_files(&dir), &inputs);
    let log = requests(&srv);
    assert!(
        log.lines()
            .filter(|l| l.contains("?restore"))
            .all(|l| l.ends_with(" 202") || l.ends_with(" 200")),
        "no restore refused: {log}"
    );
}

#[test]
fn restore_copes_with_409_and_200_when_head_lags() {
    needs!(PYTHON);
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

/// `oss_env` with multipart from 1 MiB on, in parts of 1 MiB, plus `extra` config lines.
fn multipart_env(srv: &Server, extra: &str) -> Env {
    let env = oss_env(srv, "camvault-test-secret");
    let mut cfg = std::fs::read_to_string(env.config()).unwrap();
    cfg = set_key(&cfg, "store.oss", "multipart_threshold_mb", "1");
    cfg = set_key(&cfg, "store.oss", "part_size_mb", "1");
    for line in extra.lines() {
        let (path, value) = line.split_once(" = ").unwrap();
        let (section, key) = path.rsplit_once('.').unwrap();
        cfg = set_key(&cfg, section, key, value);
    }
    std::fs::write(env.config(), cfg).unwrap();
    env
}

const BIG_REL: &str = "00_20251003141500_20251003141600.mp4";
const BIG_KEY: &str = "videos/5c02148a9e01/2025-10-03/14/00_20251003141500_20251003141600.mp4";

fn put_big(env: &Env, data: &[u8]) {
    env.put_old(&format!("XiaomiCamera_00_{NEW_MAC}/{BIG_REL}"), data);
}

fn requests(srv: &Server) -> String {
    std::fs::read_to_string(srv.data.path().join("requests.log")).unwrap_or_default()
}

/// The part numbers of the UploadPart requests in `log`.
fn parts_sent(log: &str) -> Vec<u32> {
    log.lines()
        .filter(|l| l.starts_with(&format!("PUT /{BIG_KEY}?partNumber=")))
        .map(|l| {
            l.split("partNumber=")
                .nth(1)
                .unwrap()
                .split('&')
                .next()
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect()
}

fn unfinished_uploads(srv: &Server) -> usize {
    std::fs::read_dir(srv.data.path().join("uploads")).map_or(0, |d| d.count())
}

#[test]
fn a_large_file_goes_up_in_parts_and_is_verified() {
    needs!(PYTHON);
    let srv = server(&[]);
    let env = multipart_env(&srv, "");
    let data = bytes(7, (3 << 20) + 12_345); // parts of 1, 1, 1 MiB and 12345 bytes
    put_big(&env, &data);
    env.put_old(&old_clip(now_unix() - 600), b"small clip");
    env.ok(&["ingest", "--once"]);
    assert_eq!(env.status()["files"]["verified"], 2);
    let obj = std::fs::read(srv.data.path().join("objects").join(BIG_KEY)).unwrap();
    assert!(
        obj == data,
        "byte for byte ({} bytes stored, {} sent)",
        obj.len(),
        data.len()
    );
    let log = requests(&srv);
    assert!(log.contains(&format!("POST /{BIG_KEY}?uploads 200")), "{log}");
    assert_eq!(parts_sent(&log), [1, 2, 3, 4], "{log}");
    assert!(
        log.lines()
            .any(|l| l.starts_with(&format!("POST /{BIG_KEY}?uploadId=")) && l.ends_with(" 200")),
        "{log}"
    );
    assert_eq!(
        log.lines().filter(|l| l.ends_with(" 403")).count(),
        0,
        "signatures: {log}"
    );
    assert_eq!(unfinished_uploads(&srv), 0);
    assert_eq!(catalog_count(&env, "SELECT count(*) FROM multipart_uploads"), 0);
    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(srv.data.path().join("meta").join(format!("{BIG_KEY}.json"))).unwrap())
            .unwrap();
    let mut crc = crc64fast::Digest::new();
    crc.write(&data);
    assert_eq!(
        meta["crc"],
        crc.sum64().to_string(),
        "the SDK's CRC-64 of the combined object"
    );
    assert_eq!(meta["class"], "Standard");
    env.ok(&["verify", "--deep"]);
}

#[test]
fn multipart_upload_resumes_after_sigkill() {
    needs!(PYTHON);
    let srv = server(&[]);
    let env = multipart_env(&srv, "upload.bandwidth_limit = \"1 MiB\"");
    let data = bytes(42, 6 << 20); // six parts of 1 MiB
    put_big(&env, &data);
    let mut ingest = env
        .cmd(&["ingest", "--once"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for(Duration::from_secs(60), "the first part in the catalog", || {
        catalog_count(&env, "SELECT count(*) FROM multipart_parts") >= 1
    });
    ingest.kill().unwrap(); // SIGKILL
    ingest.wait().unwrap();
    let (done, upload_id) = {
        let c = rusqlite::Connection::open(env.root().join("catalog.sqlite")).unwrap();
        let mut st = c.prepare("SELECT part FROM multipart_parts ORDER BY part").unwrap();
        let done: Vec<u32> = st.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect();
        let id: String = c
            .query_row("SELECT upload_id FROM multipart_uploads", [], |r| r.get(0))
            .unwrap();
        (done, id)
    };
    assert!(
        !done.is_empty() && done.len() < 6,
        "killed mid-upload with parts {done:?} recorded"
    );
    assert!(!srv.data.path().join("objects").join(BIG_KEY).exists(), "no object yet");
    let cut = requests(&srv).len();

    common::conformance::cli_resume_unthrottled(&env);

    let after = requests(&srv)[cut..].to_string();
    let sent = parts_sent(&after);
    for p in &done {
        assert!(
            !sent.contains(p),
            "part {p}, already stored, was not sent again: {after}"
        );
    }
    assert!(sent.contains(&6), "the rest was sent: {after}");
    assert!(
        after.contains(&format!("GET /{BIG_KEY}?max-parts=1000&uploadId={upload_id} 200")),
        "ListParts reconciled the upload: {after}"
    );
    assert!(
        after.contains(&format!("POST /{BIG_KEY}?uploadId={upload_id} 200")),
        "the same upload completed: {after}"
    );
    assert!(!after.contains("?uploads "), "no new upload started: {after}");
    let obj = std::fs::read(srv.data.path().join("objects").join(BIG_KEY)).unwrap();
    assert!(obj == data, "byte-identical");
    assert_eq!(unfinished_uploads(&srv), 0);
    assert_eq!(catalog_count(&env, "SELECT count(*) FROM multipart_uploads"), 0);
    assert_eq!(catalog_count(&env, "SELECT count(*) FROM multipart_parts"), 0);
    env.ok(&["verify", "--deep"]);
}

#[test]
fn complete_refuses_to_overwrite_an_existing_object() {
    needs!(PYTHON);
    let srv = server(&[]);
    let env = multipart_env(&srv, "");
    let obj = srv.data.path().join("objects").join(BIG_KEY);
    std::fs::create_dir_all(obj.parent().unwrap()).unwrap();
    std::fs::write(&obj, b"someone else's bytes").unwrap();
    let meta = srv.data.path().join("meta").join(format!("{BIG_KEY}.json"));
    std::fs::create_dir_all(meta.parent().unwrap()).unwrap();
    std::fs::write(&meta, r#"{"class": "Standard", "crc": "1"}"#).unwrap();
    put_big(&env, &bytes(3, 2 << 20));
    let out = env.run(&["ingest", "--once"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("never overwrites"), "{}", stderr(&out));
    assert_eq!(std::fs::read(&obj).unwrap(), b"someone else's bytes");
    let log = requests(&srv);
    assert!(
        log.lines()
            .any(|l| l.starts_with(&format!("POST /{BIG_KEY}?uploadId=")) && l.ends_with(" 409")),
        "CompleteMultipartUpload refused with FileAlreadyExists: {log}"
    );
    assert!(
        log.lines()
            .any(|l| l.starts_with(&format!("DELETE /{BIG_KEY}?uploadId=")) && l.ends_with(" 204")),
        "the refused upload was aborted: {log}"
    );
    assert_eq!(unfinished_uploads(&srv), 0);
    assert!(env.vault().join(BIG_KEY).exists(), "the recording is kept locally");
    assert_eq!(catalog_count(&env, "SELECT count(*) FROM multipart_uploads"), 0);
}

#[test]
fn a_slow_upload_is_not_cut_short_by_the_timeout() {
    needs!(PYTHON);
    // 2 MiB at 512 KiB/s take 4 s, four times `timeout_secs`: bytes keep moving, so the
    // upload goes on (a stall is detected by progress, not by a read timeout).
    let srv = server(&[]);
    let env = oss_env(&srv, "camvault-test-secret");
    let cfg = std::fs::read_to_string(env.config()).unwrap();
    let cfg = set_key(&cfg, "store.oss", "timeout_secs", "1");
    std::fs::write(env.config(), set_key(&cfg, "upload", "bandwidth_limit", "\"512 KiB\"")).unwrap();
    let data = bytes(5, 2 << 20);
    put_big(&env, &data);
    let out = env.run(&["ingest", "--once"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let log = requests(&srv);
    assert_eq!(
        log.lines()
            .filter(|l| l.starts_with(&format!("PUT /{BIG_KEY} ")))
            .count(),
        1,
        "one PUT, not retried: {log}"
    );
    assert!(std::fs::read(srv.data.path().join("objects").join(BIG_KEY)).unwrap() == data);
}

#[test]
fn bucket_worm_shown_initiated_and_locked() {
    needs!(PYTHON);
    let srv = server(&[]);
    let env = oss_env(&srv, "camvault-test-secret");
    let out = env.ok(&["store", "test"]);
    assert!(out.contains("no WORM: anyone with the key can delete"), "{out}");
    let out = env.run(&["store", "worm"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("no WORM"), "{}", stdout(&out));
    let out = env.run(&["store", "worm", "--lock", "--yes"]);
    assert!(stderr(&out).contains("no WORM to lock"), "{}", stderr(&out));

    let out = env.ok(&["store", "worm", "--days", "30"]);
    assert!(
        out.contains("WORM of 30 days initiated")
            && out.contains("camvault store worm --lock")
            && out.contains("within 24 hours")
            && out.contains("never be shortened or removed"),
        "{out}"
    );
    let out = env.run(&["store", "worm"]);
    assert!(stdout(&out).contains("initiated but not locked"), "{}", stdout(&out));
    let out = env.ok(&["doctor"]);
    assert!(out.contains("WARN  WORM of 30 days initiated but not locked"), "{out}");

    let out = env.run(&["store", "worm", "--lock"]);
    assert_eq!(out.status.code(), Some(2), "no terminal, no --yes: {}", stdout(&out));
    assert!(stderr(&out).contains("confirm with --yes"), "{}", stderr(&out));
    let w: serde_json::Value =
        serde_json::from_slice(&std::fs::read(srv.data.path().join("worm.json")).unwrap()).unwrap();
    assert_eq!(w["state"], "InProgress", "nothing locked without confirmation");

    let out = env.ok(&["store", "worm", "--lock", "--yes"]);
    assert!(
        out.contains("locked: recordings are protected from deletion for 30 days"),
        "{out}"
    );
    let out = env.ok(&["store", "worm"]);
    assert!(
        out.contains("recordings are protected from deletion for 30 days"),
        "{out}"
    );
    let out = env.ok(&["store", "test"]);
    assert!(
        out.contains("recordings are protected from deletion for 30 days"),
        "{out}"
    );
    let out = env.ok(&["doctor"]);
    assert!(out.contains("ok    WORM locked"), "{out}");
    let out = env.run(&["store", "worm", "--days", "10"]);
    assert_ne!(out.status.code(), Some(0));
    assert!(stderr(&out).contains("is locked"), "{}", stderr(&out));

    let log = requests(&srv);
    let id = w["id"].as_str().unwrap();
    assert!(log.contains("POST /?worm 200"), "{log}");
    assert!(log.contains(&format!("POST /?wormId={id} 200")), "{log}");
    assert_eq!(
        log.lines().filter(|l| l.ends_with(" 403")).count(),
        0,
        "signatures: {log}"
    );

    let fs = Env::new(1, "");
    let out = fs.run(&["store", "worm"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("not supported on fs"), "{}", stderr(&out));
}

#[test]
fn a_stalled_upload_is_abandoned_and_retried() {
    needs!(PYTHON);
    // The server stops reading the first PUT's body for 4 s: after `timeout_secs` without
    // progress camvault drops the request and sends it again.
    let srv = server(&["--stall-puts", "1"]);
    let env = oss_env(&srv, "camvault-test-secret");
    let cfg = std::fs::read_to_string(env.config()).unwrap();
    std::fs::write(env.config(), set_key(&cfg, "store.oss", "timeout_secs", "1")).unwrap();
    let data = bytes(6, 24 << 20); // more than the socket buffers hold
    put_big(&env, &data);
    let out = env.run(&["ingest", "--once"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("no progress for 1 s"), "{}", stderr(&out));
    let log = requests(&srv);
    // (The stalled request is logged, if at all, only once the server wakes up.)
    assert_eq!(
        log.lines()
            .filter(|l| l.starts_with(&format!("PUT /{BIG_KEY} 200")))
            .count(),
        1,
        "{log}"
    );
    assert!(std::fs::read(srv.data.path().join("objects").join(BIG_KEY)).unwrap() == data);
}

/// An object as ossfs left it in the test server: bytes, and metadata with its class and CRC-64.
fn put_raw(srv: &Server, key: &str, data: &[u8], class: &str) {
    let obj = srv.data.path().join("objects").join(key);
    std::fs::create_dir_all(obj.parent().unwrap()).unwrap();
    std::fs::write(&obj, data).unwrap();
    let mut crc = crc64fast::Digest::new();
    crc.write(data);
    let meta = srv.data.path().join("meta").join(format!("{key}.json"));
    std::fs::create_dir_all(meta.parent().unwrap()).unwrap();
    std::fs::write(&meta, format!(r#"{{"class": "{class}", "crc": "{}"}}"#, crc.sum64())).unwrap();
}

/// The seed's bucket on OSS: a listing interrupted half way adopts nothing and says so, the
/// rerun adopts everything; the owner's wider IA rule overlaps camvault's rule for a camera
/// folder with the same action, which OSS refuses unless x-oss-allow-same-action-overlap is
/// sent (the test server refuses it the same way).
#[test]
fn moving_in_from_ossfs_on_oss() {
    needs!(PYTHON);
    let srv = server(&["--page-size", "2"]);
    let env = oss_env(&srv, "camvault-test-secret");
    let t = now_unix() - 90 * 86_400;
    let mut keys: Vec<String> = (0..3)
        .map(|i| format!("camera_videos/{}", old_clip(t + i * 3600)))
        .collect();
    keys.push("camera_videos/XiaomiCamera_00_5C02148A9E01/00_20240601080000_20240601080130.mp4".into());
    keys.push("camera_videos/XiaomiCamera_00_5C02148A9E01/录像 50%25.mp4".into());
    for (i, k) in keys.iter().enumerate() {
        put_raw(&srv, k, &bytes(i as u64, 3000), "Standard");
    }
    put_raw(&srv, "camera_videos/家庭共享/照片 1.jpg", &bytes(9, 100), "Standard");

    // The second page answers 503: the first page (the two new-layout keys, which sort
    // first) is cataloged with the listing's position, and the error says where it stopped.
    std::fs::write(srv.data.path().join("fail-list"), "").unwrap();
    let out = env.run(&["adopt"]);
    assert_ne!(out.status.code(), Some(0));
    assert!(
        stderr(&out).contains("failed on page 2")
            && stderr(&out).contains("2 object(s) added by this run")
            && stderr(&out).contains(&format!("it goes on after {:?}", keys[4])),
        "{}",
        stderr(&out)
    );
    assert_eq!(env.status()["files"]["total"], 2);
    std::fs::remove_file(srv.data.path().join("fail-list")).unwrap();
    let before = requests(&srv).lines().count();
    let out = env.ok(&["adopt"]);
    assert!(out.contains("adopted 3 object(s)"), "{out}");
    assert!(
        out.contains("going on with the listing an earlier run left after"),
        "{out}"
    );
    let lists: Vec<String> = requests(&srv)
        .lines()
        .skip(before)
        .filter(|l| l.contains("list-type=2"))
        .map(str::to_string)
        .collect();
    assert!(
        !lists.is_empty() && lists.iter().all(|l| l.contains("start-after=")),
        "not listed from scratch: {lists:?}"
    );
    assert_eq!(env.status()["files"]["total"], 5, "no duplicates, nothing lost");
    env.ok(&["adopt", "--check"]);
    env.ok(&["verify"]);

    let ia = "<Rule><ID>owner: cheaper after 10 days</ID><Prefix>camera_videos/</Prefix><Status>Enabled</Status><Transition><Days>10</Days><StorageClass>IA</StorageClass></Transition></Rule>";
    std::fs::write(
        srv.data.path().join("lifecycle.xml"),
        format!("<LifecycleConfiguration>{ia}</LifecycleConfiguration>"),
    )
    .unwrap();
    let out = env.run(&["lifecycle", "check"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out)
            .contains("rule \"owner: cheaper after 10 days\" moves it to IA after 10 days, not DeepColdArchive"),
        "{}",
        stdout(&out)
    );
    let out = env.ok(&["lifecycle", "apply"]);
    assert!(out.contains("x-oss-allow-same-action-overlap"), "{out}");
    let stored = std::fs::read_to_string(srv.data.path().join("lifecycle.xml")).unwrap();
    assert!(stored.contains(ia), "the owner's rule byte for byte: {stored}");
    assert!(
        stored.contains("<ID>camvault:camera_videos/XiaomiCamera_00_5C02148A9E01/</ID>"),
        "the server took the overlapping rules only because the header was sent: {stored}"
    );
    env.ok(&["lifecycle", "check"]);

    // The hourly check reads GetBucketStat: the bucket's own count, beside the catalog's.
    let mut serve = env.serve();
    let s = env.wait_status(Duration::from_secs(30), |s| s["bucket"]["source"] == "GetBucketStat");
    // 5 recordings, the family's photo, and what serve keeps there (manifests, catalog backup).
    let objects = s["bucket"]["objects"].as_u64().unwrap();
    assert!(objects >= 6, "{s:#}");
    assert_eq!(s["bucket"]["classes"]["Standard"]["objects"], objects);
    assert!(
        !s["health"]["problems"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["rule"] == "bucket_drift"),
        "{s:#}"
    );
    serve.kill().unwrap();
    serve.wait().unwrap();
}

/// `adopt` killed (SIGKILL) while it waits for the fourth page of a listing: the pages
/// before are cataloged with the listing's position; the rerun goes on after it (its first
/// request lists after that key), adds the rest, and the catalog holds every recording
/// once; the position is forgotten once the listing ends.
#[test]
fn adopt_killed_in_the_middle_of_a_listing_resumes_on_oss() {
    needs!(PYTHON);
    let srv = server(&["--page-size", "2"]);
    let env = oss_env(&srv, "camvault-test-secret");
    let t = now_unix() - 90 * 86_400;
    let keys: Vec<String> = (0..9)
        .map(|i| format!("camera_videos/{}", old_clip(t + i * 60)))
        .collect();
    for (i, k) in keys.iter().enumerate() {
        put_raw(&srv, k, &bytes(i as u64, 2000), "Standard");
    }
    // The fourth page (from the seventh key) waits long; the test kills adopt meanwhile.
    std::fs::write(srv.data.path().join("slow-list"), "60 6").unwrap();
    let mut child = env
        .cmd(&["adopt"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let path = env.root().join("catalog.sqlite");
    let position = || -> Option<String> {
        let cat = camvault::catalog::Catalog::open(&path, false).ok()?;
        let slot = cat.slot(&camvault::catalog::kv::ADOPT_LISTING).ok()??;
        slot.values().next().cloned()
    };
    wait_for(Duration::from_secs(30), "adopt to catalog three pages", || {
        position().as_deref() == Some(keys[5].as_str())
    });
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(
        env.status()["files"]["total"],
        6,
        "three whole pages, nothing of the fourth"
    );
    std::fs::remove_file(srv.data.path().join("slow-list")).unwrap();

    let before = requests(&srv).lines().count();
    let out = env.ok(&["adopt"]);
    assert!(out.contains("adopted 3 object(s)"), "{out}");
    let first_list = requests(&srv)
        .lines()
        .skip(before)
        .find(|l| l.contains("list-type=2"))
        .unwrap()
        .to_string();
    assert!(
        first_list.contains("start-after="),
        "resumed, not listed from scratch: {first_list}"
    );
    let ls = env.ls_all();
    let mut listed: Vec<&str> = ls.iter().map(|f| f["key"].as_str().unwrap()).collect();
    listed.sort();
    assert_eq!(
        listed,
        keys.iter().map(String::as_str).collect::<Vec<_>>(),
        "each recording once"
    );
    assert_eq!(position(), None, "a finished listing forgets its position");
    env.ok(&["adopt", "--check"]);
}

/// The bucket's settings that break the plan, as GetBucketInfo reports them: ZRS (no Deep
/// Cold Archive, and `lifecycle apply` refuses), versioning (forbid-overwrite no longer
/// protects), a region that is not the bucket's; each with the fix.
#[test]
fn bucket_settings_that_break_the_plan_are_named() {
    needs!(PYTHON);
    let srv = server(&[]);
    let env = oss_env(&srv, "camvault-test-secret");
    let out = env.ok(&["store", "test"]);
    assert!(
        out.contains("ok    redundancy LRS: DeepColdArchive is possible"),
        "{out}"
    );
    assert!(out.contains("ok    versioning off"), "{out}");
    assert!(
        out.contains("internal endpoint is oss-cn-beijing-internal.aliyuncs.com"),
        "{out}"
    );

    std::fs::write(
        srv.data.path().join("bucket.json"),
        r#"{"redundancy": "ZRS", "versioning": "Suspended", "location": "oss-cn-hangzhou"}"#,
    )
    .unwrap();
    let out = env.ok(&["store", "test"]);
    for needle in [
        "WARN  the bucket is zone-redundant (ZRS): ZRS holds Standard, IA and Archive only",
        "fix: create a new locally redundant (LRS) bucket",
        "WARN  versioning is Suspended: `x-oss-forbid-overwrite` no longer stops an upload from replacing an object",
        "set `store.oss.region = \"cn-hangzhou\"`",
    ] {
        assert!(out.contains(needle), "{needle}:\n{out}");
    }
    let out = env.ok(&["doctor"]);
    assert!(
        out.contains("zone-redundant (ZRS)") && out.contains("versioning is Suspended"),
        "{out}"
    );
    let out = env.run(&["lifecycle", "apply"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("not applied: the bucket is zone-redundant (ZRS)"),
        "{}",
        stdout(&out)
    );
    assert!(!srv.data.path().join("lifecycle.xml").exists(), "nothing was written");
}
