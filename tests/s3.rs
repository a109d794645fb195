//! The `s3` backend against a real S3 server on 127.0.0.1: moto's server (PyPI
//! `moto[server]`, installed by `.ci/run`), reached through tests/fault_proxy.py, which
//! checks every request's SigV4 signature with botocore and injects faults on request.
//! The objects are read back with boto3 (tests/s3_tool.py). No real cloud is called.

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::s3::{Proc, BUCKET, KEY_ID, S3};
use common::*;

fn sha256(data: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(data).iter().map(|b| format!("{b:02x}")).collect()
}

/// The recordings in a dump (not camvault's manifests and catalog backups), as sorted sha256s.
fn recordings(dump: &serde_json::Map<String, serde_json::Value>) -> Vec<String> {
    let mut v: Vec<String> = dump
        .iter()
        .filter(|(k, _)| !k.starts_with("manifests/") && !k.starts_with("catalog/") && !k.starts_with('_'))
        .map(|(_, o)| o["sha256"].as_str().unwrap().to_string())
        .collect();
    v.sort();
    v
}

#[test]
fn pipeline_into_s3_through_faults_loses_nothing() {
    needs!(PYTHON);
    // Plain faults hit the first PUTs and POSTs; `@` ones wait for the multipart requests.
    let s = S3::start(
        "reset-after@?uploads,reset-mid@partNumber=2&,reset-after@?uploadId=,\
         503,500,reset,reset-mid,delay:3,reset-after,503,reset-after",
    );
    let env = s.env("store.s3.timeout_secs = 2\nstore.s3.multipart_threshold_mb = 5\nstore.s3.part_size_mb = 5");
    let mut inputs = Vec::new();
    for i in 0..5 {
        let data = bytes(i, 300_000 + i as usize * 1000);
        env.put_old(&old_clip(now_unix() - 3600 - i as i64 * 60), &data);
        inputs.push(sha256(&data));
    }
    // Above the multipart threshold: three parts of 5, 5 and 1 MiB.
    let big = bytes(99, 11 << 20);
    env.put_old(
        &format!("XiaomiCamera_00_{NEW_MAC}/00_20251003141500_20251003141600.mp4"),
        &big,
    );
    inputs.push(sha256(&big));
    env.put_old("garage/夜间 录像 #1.mp4", b"odd name");
    inputs.push(sha256(b"odd name"));
    inputs.sort();

    let serve = Proc(env.serve());
    env.wait_status(Duration::from_secs(120), |st| st["files"]["verified"] == 7);
    drop(serve);

    let dump = s.dump();
    assert_eq!(
        recordings(&dump),
        inputs,
        "the bucket holds exactly the recordings' bytes"
    );
    let log = s.log();
    for fault in ["503", "500", "reset", "reset-mid", "delay:3", "reset-after"] {
        assert!(log.contains(&format!(" {fault} ")), "fault {fault} was injected: {log}");
    }
    assert!(!log.contains("SIGFAIL"), "botocore agrees with every signature: {log}");
    let big_key = "videos/5c02148a9e01/2025-10-03/14/00_20251003141500_20251003141600.mp4";
    let lines = |prefix: &str, has: &str| log.lines().filter(|l| l.starts_with(prefix) && l.contains(has)).count();
    // The `@?uploads` fault loses the first upload's id; a plain `reset-after` may lose a
    // retry's too, depending on timing.
    let lost = lines(&format!("POST /{BUCKET}/{big_key}?uploads "), "200-RESET");
    assert!(lost >= 1, "an upload was started whose id was lost: {log}");
    assert!(
        lines(&format!("DELETE /{BUCKET}/{big_key}?uploadId="), " 204 ") >= lost,
        "later attempts aborted each stray upload: {log}"
    );
    assert!(
        lines(&format!("GET /{BUCKET}/{big_key}?max-parts=1000&uploadId="), "") >= 2,
        "ListParts after the reset in part 2, and after the lost answer to Complete: {log}"
    );
    assert_eq!(
        lines(&format!("PUT /{BUCKET}/{big_key}?partNumber=1&"), " 200 "),
        1,
        "part 1 was stored once and not sent again on resuming: {log}"
    );
    assert_eq!(
        dump["_uploads"],
        serde_json::json!([]),
        "no unfinished multipart upload left"
    );
    let big_key = "videos/5c02148a9e01/2025-10-03/14/00_20251003141500_20251003141600.mp4";
    assert!(
        dump[big_key]["etag"].as_str().unwrap().ends_with("-3"),
        "{:#}",
        dump[big_key]
    );
    let mut crc = crc64fast::Digest::new();
    crc.write(&big);
    assert_eq!(dump[big_key]["meta"]["camvault-crc64"], format!("{:016x}", crc.sum64()));
    for line in log
        .lines()
        .filter(|l| l.starts_with("PUT /cam-archive/videos/") && !l.contains("partNumber"))
    {
        assert!(
            line.contains(" class=STANDARD inm=* sum=crc64nvme"),
            "every PUT is conditional: {line}"
        );
    }
    for line in log
        .lines()
        .filter(|l| l.starts_with("POST ") && l.contains("?uploadId="))
    {
        assert!(
            line.contains(" inm=* sum=crc64nvme"),
            "CompleteMultipartUpload is conditional: {line}"
        );
    }
    // S3's own checksum: each part, each object, checked by the proxy (single PUTs) or
    // computed by moto from the bytes it assembled (multipart), and kept with the object.
    assert!(
        !log.contains("BADSUM"),
        "every x-amz-checksum-crc64nvme was right: {log}"
    );
    assert!(
        log.lines()
            .filter(|l| l.starts_with(&format!("PUT /{BUCKET}/{big_key}?partNumber=")) && l.contains(" 200 "))
            .all(|l| l.ends_with("sum=crc64nvme")),
        "{log}"
    );
    assert_eq!(dump[big_key]["checksum"], format!("CRC64NVME:{}", crc64nvme(&big)));
    // Content-MD5 until the store answered a checksum back (it checks those), then not:
    // MD5 is most of an upload's CPU and adds nothing to CRC64NVME.
    // The first PUT the store took was sent before any answer came back.
    let uploads: Vec<&str> = log
        .lines()
        .filter(|l| l.starts_with("PUT /cam-archive/") && l.contains(" 200 "))
        .collect();
    assert!(uploads.first().is_some_and(|l| l.contains(" md5=1 ")), "{log}");
    // (Which ones go without depends on timing: uploads started before the first answer
    // still carry it.)
    assert!(uploads.iter().any(|l| l.contains(" md5=- ")), "{log}");
    for (key, o) in dump.iter().filter(|(k, _)| k.starts_with("videos/")) {
        assert!(
            o["checksum"].as_str().unwrap().starts_with("CRC64NVME:"),
            "{key}: {o:#}"
        );
        assert_eq!(o["meta"]["camvault-checksum"], o["checksum"], "{key}");
    }
    assert_eq!(catalog_count(&env, "SELECT count(*) FROM multipart_uploads"), 0);
    env.ok(&["verify", "--deep"]);
}

/// S3's CRC64NVME of `data`, as its headers carry it.
fn crc64nvme(data: &[u8]) -> String {
    use base64::Engine;
    let mut d = crc64fast_nvme::Digest::new();
    d.write(data);
    base64::engine::general_purpose::STANDARD.encode(d.sum64().to_be_bytes())
}

#[test]
fn a_store_that_refuses_or_ignores_checksums_still_gets_every_recording() {
    needs!(PYTHON);
    // Refused: the first upload is retried at once with Content-MD5 alone, and the rest
    // go that way from the start.
    let s = S3::start_with("", "refuse");
    let env = s.env("");
    let out = env.ok(&["store", "test"]);
    assert!(out.contains("ok    the store refuses CRC64NVME checksums"), "{out}");
    let data = bytes(3, 40_000);
    env.put_old(&old_clip(now_unix() - 600), &data);
    let cut = s.log().len();
    env.ok(&["ingest", "--once"]);
    assert_eq!(env.status()["files"]["verified"], 1);
    let dump = s.dump();
    assert_eq!(recordings(&dump), [sha256(&data)]);
    let key = env.ls()[0]["key"].as_str().unwrap().to_string();
    assert!(
        dump[&key]["meta"].get("camvault-checksum").is_none(),
        "{:#}",
        dump[&key]
    );
    let log = s.log()[cut..].to_string();
    let puts: Vec<&str> = log
        .lines()
        .filter(|l| l.starts_with(&format!("PUT /{BUCKET}/{key} ")))
        .collect();
    // The first upload of the run (the clip's, or an object of camvault's) was refused;
    // the clip went without.
    assert!(log.lines().any(|l| l.contains(" 400 NOSUM ")), "{log}");
    assert!(
        puts.last().is_some_and(|l| l.contains(" 200 ") && l.ends_with("sum=-")),
        "{log}"
    );

    // Asked for by name, a refused algorithm is an error that says what to set.
    let pinned = s.env("store.s3.checksum = \"crc32c\"");
    pinned.put_old(&old_clip(now_unix() - 900), b"clip");
    let out = pinned.run(&["ingest", "--once"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("store.s3.checksum"), "{}", stderr(&out));

    // Ignored: nothing answers the checksum back, and `store test` says so.
    let s = S3::start_with("", "ignore");
    let out = s.env("").ok(&["store", "test"]);
    assert!(out.contains("WARN  the store ignored the CRC64NVME checksum"), "{out}");
    let out = s.env("store.s3.checksum = \"md5\"").ok(&["store", "test"]);
    assert!(
        !out.contains("checksum"),
        "md5: no word about additional checksums: {out}"
    );
}

#[test]
fn sha256_and_crc32c_checksums_cover_multipart_objects() {
    needs!(PYTHON);
    let s = S3::start("");
    for (alg, name) in [("sha256", "SHA256"), ("crc32c", "CRC32C")] {
        let env = s.env(&format!(
            "store.s3.checksum = \"{alg}\"\nstore.s3.multipart_threshold_mb = 5\nstore.s3.part_size_mb = 5"
        ));
        let big = bytes(alg.len() as u64, 11 << 20); // parts of 5, 5 and 1 MiB
        let (start, end) = if alg == "sha256" {
            ("141500", "141600")
        } else {
            ("151500", "151600")
        };
        env.put_old(
            &format!("XiaomiCamera_00_{NEW_MAC}/00_20251003{start}_20251003{end}.mp4"),
            &big,
        );
        env.put_old(&old_clip(now_unix() - 600 - alg.len() as i64 * 60), b"small");
        env.ok(&["ingest", "--once"]);
        assert_eq!(env.status()["files"]["verified"], 2);
        let dump = s.dump();
        let big_key = format!(
            "videos/5c02148a9e01/2025-10-03/{}/00_20251003{start}_20251003{end}.mp4",
            &start[..2]
        );
        let o = &dump[&big_key];
        let theirs = o["checksum"].as_str().unwrap_or_else(|| panic!("{o:#}"));
        let ours = o["meta"]["camvault-checksum"].as_str().unwrap();
        assert!(theirs.starts_with(&format!("{name}:")), "{o:#}");
        // SHA-256 of a multipart object is COMPOSITE (a hash of the parts' hashes, then
        // -N; moto answers it without the -N), the CRC FULL_OBJECT.
        assert_eq!(ours.ends_with("-3"), alg == "sha256", "{o:#}");
        assert_eq!(ours.split('-').next(), theirs.split('-').next(), "{o:#}");
        env.ok(&["verify", "--deep"]);
    }
    assert!(!s.log().contains("BADSUM"), "{}", s.log());
}

#[test]
fn an_object_whose_store_checksum_contradicts_camvaults_fails_verification() {
    needs!(PYTHON);
    let s = S3::start("");
    let env = s.env("");
    env.put_old(&old_clip(now_unix() - 600), &bytes(1, 30_000));
    env.ok(&["ingest", "--once"]);
    env.ok(&["verify"]);
    let key = env.ls()[0]["key"].as_str().unwrap().to_string();
    let meta = s.dump()[&key]["meta"].clone();
    // Other bytes under the key, carrying camvault's CRC-64 and checksum metadata (but
    // not its MD5, which would give it away): only the store's own checksum tells.
    let forged = serde_json::json!({
        "camvault-crc64": meta["camvault-crc64"],
        "camvault-checksum": meta["camvault-checksum"],
    });
    let f = env.root().join("forged");
    std::fs::write(&f, bytes(2, 30_000)).unwrap();
    s.tool(&["forge", BUCKET, &key, f.to_str().unwrap(), &forged.to_string()]);
    let out = env.run(&["verify"]);
    assert_eq!(out.status.code(), Some(1), "{}\n{}", stdout(&out), stderr(&out));
    assert!(
        stdout(&out).contains("contradicts the one camvault sent"),
        "{}\n{}",
        stdout(&out),
        stderr(&out)
    );
}

#[test]
fn an_existing_object_is_never_overwritten() {
    needs!(PYTHON);
    let s = S3::start("");
    let env = s.env("store.s3.multipart_threshold_mb = 5\nstore.s3.part_size_mb = 5");
    let small = "videos/5c02148a9e01/2025-10-03/14/00_20251003141500_20251003141600.mp4";
    let large = "videos/5c02148a9e01/2025-10-03/14/00_20251003141600_20251003141700.mp4";
    s.put(small, b"someone else's bytes", "STANDARD");
    s.put(large, b"someone else's large bytes", "STANDARD");
    env.put_old(
        &format!("XiaomiCamera_00_{NEW_MAC}/00_20251003141500_20251003141600.mp4"),
        b"the camera's bytes",
    );
    env.put_old(
        &format!("XiaomiCamera_00_{NEW_MAC}/00_20251003141600_20251003141700.mp4"),
        &bytes(7, 6 << 20),
    );
    let out = env.run(&["ingest", "--once"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("never overwrites"), "{}", stderr(&out));
    let dump = s.dump();
    assert_eq!(dump[small]["sha256"], sha256(b"someone else's bytes"));
    assert_eq!(dump[large]["sha256"], sha256(b"someone else's large bytes"));
    assert_eq!(
        dump["_uploads"],
        serde_json::json!([]),
        "the refused multipart upload was aborted"
    );
    let log = s.log();
    assert!(
        log.lines()
            .any(|l| l.starts_with(&format!("PUT /{BUCKET}/{small} 412"))),
        "{log}"
    );
    assert!(
        log.lines()
            .any(|l| l.starts_with(&format!("POST /{BUCKET}/{large}?uploadId=")) && l.contains(" 412 ")),
        "CompleteMultipartUpload refused: {log}"
    );
    assert!(env.vault().join(small).exists() && env.vault().join(large).exists());
    assert_eq!(env.status()["files"]["failed"], 2);
}

#[test]
fn storage_class_and_restore_from_deep_archive() {
    needs!(PYTHON);
    // moto restores at once; a restore still running is S3's 409, injected for one key.
    let s = S3::start("status:409:RestoreAlreadyInProgress@/busy.mp4?restore");
    let env = s.env("");
    let rel = old_clip(now_unix() - 7200);
    env.put_old(&rel, b"standard clip");
    env.ok(&["ingest", "--once"]);
    let key = env.ls()[0]["key"].as_str().unwrap().to_string();
    assert_eq!(s.dump()[&key]["class"], "STANDARD");
    let head: serde_json::Value = serde_json::from_str(&env.ok(&["store", "head", &key])).unwrap();
    assert_eq!(head["storage_class"], "Standard", "camvault's name for STANDARD");
    assert_eq!(head["readable"], true);

    // A clip the lifecycle (or someone) moved to Deep Archive.
    let cold = "videos/old/2024-01-01/00/cold.mp4";
    s.put(cold, b"cold clip", "DEEP_ARCHIVE");
    let head: serde_json::Value = serde_json::from_str(&env.ok(&["store", "head", cold])).unwrap();
    assert_eq!(head["storage_class"], "DeepColdArchive");
    assert_eq!(
        (head["readable"].as_bool(), head["restore"].as_str()),
        (Some(false), Some("none"))
    );
    let out = env.ok(&["store", "restore", cold, "--days", "2", "--tier", "bulk"]);
    assert!(out.contains("restore started"), "202: {out}");
    let log = s.log();
    assert!(log.contains(&format!("POST /{BUCKET}/{cold}?restore 202")), "{log}");
    let head: serde_json::Value = serde_json::from_str(&env.ok(&["store", "head", cold])).unwrap();
    assert_eq!(head["restore"], "ready", "moto restores at once: {head:#}");
    assert_eq!(head["readable"], true);
    let expires = head["restore_expires_ms"].as_i64().unwrap();
    let days = (expires - now_unix() * 1000) as f64 / 86_400_000.0;
    assert!((1.0..=2.1).contains(&days), "readable for the 2 days asked: {days}");
    let out = env.ok(&["store", "restore", cold, "--days", "2"]);
    assert!(out.contains("already readable"), "200: {out}");
    assert_eq!(s.dump()[cold]["sha256"], sha256(b"cold clip"));
    let busy = "videos/old/2024-01-01/00/busy.mp4";
    s.put(busy, b"busy clip", "DEEP_ARCHIVE");
    let out = env.ok(&["store", "restore", busy]);
    assert!(out.contains("a restore is already in progress"), "409: {out}");
    assert!(s.log().contains(&format!("POST /{BUCKET}/{busy}?restore 409")));
    let out = env.run(&["store", "restore", "videos/old/2024-01-01/00/missing.mp4"]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert!(stderr(&out).contains("NoSuchKey"), "{}", stderr(&out));
}

#[test]
fn lifecycle_round_trip_keeps_the_buckets_other_rule() {
    needs!(PYTHON);
    let s = S3::start("");
    let env = s.env("");
    let theirs = serde_json::json!({
        "ID": "logs: archive then delete",
        "Filter": {"Prefix": "logs/"},
        "Status": "Enabled",
        "Transitions": [{"Days": 30, "StorageClass": "GLACIER"}],
        "Expiration": {"Days": 365}
    });
    s.tool(&[
        "put-lifecycle",
        BUCKET,
        &serde_json::json!({"Rules": [theirs.clone()]}).to_string(),
    ]);
    common::conformance::cli_lifecycle_keeps_their_rule(
        &env,
        "objects under \"logs/\": move to ColdArchive 30 days after upload, then DELETE 365 days",
        || {
            // S3's GLACIER was shown under camvault's name.
            let rules: Vec<serde_json::Value> = serde_json::from_str(&s.tool(&["get-lifecycle", BUCKET])).unwrap();
            assert_eq!(rules.len(), 2, "{rules:#?}");
            assert_eq!(rules[0], theirs, "their rule kept as it was");
            assert_eq!(
                rules[1],
                serde_json::json!({
                    "ID": "camvault",
                    "Filter": {"Prefix": "videos/"},
                    "Status": "Enabled",
                    "Transitions": [{"Days": 30, "StorageClass": "DEEP_ARCHIVE"}]
                })
            );
        },
    );
}

/// A data directory whose 16 MiB recording (parts of 5, 5, 5 and 1 MiB, at 2 MiB/s) was
/// being uploaded by `ingest --once` when it was SIGKILLed, after the first part.
fn killed_after_the_first_part(s: &S3, seed: u64) -> (Env, Vec<u8>) {
    let env =
        s.env("store.s3.multipart_threshold_mb = 5\nstore.s3.part_size_mb = 5\nupload.bandwidth_limit = \"2 MiB\"");
    let data = bytes(seed, 16 << 20);
    env.put_old(
        &format!("XiaomiCamera_00_{NEW_MAC}/00_20251003141500_20251003141600.mp4"),
        &data,
    );
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
    (env, data)
}

/// The upload id the catalog's journal holds.
fn upload_id(env: &Env) -> String {
    let c = rusqlite::Connection::open(env.root().join("catalog.sqlite")).unwrap();
    c.query_row("SELECT upload_id FROM multipart_uploads", [], |r| r.get::<_, String>(0))
        .unwrap()
}

/// The key of that recording.
const BIG_KEY: &str = "videos/5c02148a9e01/2025-10-03/14/00_20251003141500_20251003141600.mp4";

#[test]
fn multipart_upload_resumes_after_sigkill() {
    needs!(PYTHON);
    let s = S3::start("");
    let (env, data) = killed_after_the_first_part(&s, 42);
    let key = BIG_KEY;
    let done = catalog_count(&env, "SELECT count(*) FROM multipart_parts");
    assert!((1..4).contains(&done), "killed mid-upload with {done} part(s) recorded");
    assert!(!s.dump().contains_key(key), "no object yet");
    let cut = s.log().len();
    let upload_id = upload_id(&env);

    common::conformance::cli_resume_unthrottled(&env);

    let after = s.log()[cut..].to_string();
    let parts_sent: Vec<u32> = after
        .lines()
        .filter(|l| l.starts_with(&format!("PUT /{BUCKET}/{key}?partNumber=")))
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
        .collect();
    assert!(!parts_sent.contains(&1), "part 1 was not sent again: {after}");
    assert!(parts_sent.contains(&4), "the rest was sent: {after}");
    assert!(
        after.contains(&format!("GET /{BUCKET}/{key}?max-parts=1000&uploadId={upload_id} 200")),
        "ListParts reconciled the upload: {after}"
    );
    assert!(
        after.contains(&format!(
            "POST /{BUCKET}/{key}?uploadId={upload_id} 200 - md5=- class=- inm=* sum=crc64nvme"
        )),
        "the same upload completed, conditionally: {after}"
    );
    assert!(!after.contains("?uploads "), "no new upload started: {after}");
    let dump = s.dump();
    assert_eq!(dump[key]["sha256"], sha256(&data), "byte-identical");
    assert!(dump[key]["etag"].as_str().unwrap().ends_with("-4"));
    assert_eq!(dump["_uploads"], serde_json::json!([]));
    assert_eq!(catalog_count(&env, "SELECT count(*) FROM multipart_uploads"), 0);
    assert_eq!(catalog_count(&env, "SELECT count(*) FROM multipart_parts"), 0);
    env.ok(&["verify", "--deep"]);
}

#[test]
fn a_resumed_upload_created_with_another_checksum_starts_over() {
    needs!(PYTHON);
    // The proxy names each upload's checksum in ListParts, as AWS does.
    let s = S3::start("");
    let (env, data) = killed_after_the_first_part(&s, 43);
    let key = BIG_KEY;
    let old_upload = upload_id(&env);
    let cut = s.log().len();
    let text = std::fs::read_to_string(env.config()).unwrap();
    let text = set_key(&text, "upload", "bandwidth_limit", "0");
    std::fs::write(env.config(), set_key(&text, "store.s3", "checksum", "\"md5\"")).unwrap();

    let out = env.run(&["ingest", "--once"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("used the CRC64NVME checksum, now another: starting over"),
        "{}",
        stderr(&out)
    );
    let after = s.log()[cut..].to_string();
    assert!(
        after.contains(&format!("DELETE /{BUCKET}/{key}?uploadId={old_upload} 204")),
        "the old upload was aborted: {after}"
    );
    assert!(
        after
            .lines()
            .any(|l| l.starts_with(&format!("POST /{BUCKET}/{key}?uploads 200")) && l.ends_with("sum=-")),
        "a new upload without the checksum: {after}"
    );
    let dump = s.dump();
    assert_eq!(dump[key]["sha256"], sha256(&data));
    assert_eq!(dump["_uploads"], serde_json::json!([]));
    assert_eq!(env.status()["files"]["verified"], 1);
}

#[test]
fn store_test_proves_the_bucket_works_and_a_wrong_secret_is_explained() {
    needs!(PYTHON);
    let s = S3::start("");
    // The 8 MiB probe goes up in parts.
    let env = s.env("store.s3.multipart_threshold_mb = 5\nstore.s3.part_size_mb = 5");
    env.ok(&["doctor"]);
    let key_file = env.root().join("s3.key");
    std::fs::set_permissions(&key_file, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let out = env.ok(&["doctor"]);
    assert!(
        out.contains("WARN  `store.s3.credentials_file`") && out.contains("chmod 600"),
        "{out}"
    );
    std::fs::set_permissions(&key_file, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let out = env.run(&["store", "test"]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    let text = stdout(&out);
    for needle in [
        "size and CRC-64 match",
        "bytes identical",
        "overwriting an existing object is refused",
        "probe removed",
    ] {
        assert!(text.contains(needle), "{needle}: {text}");
    }
    let log = s.log();
    assert!(log.contains("?uploads "), "the probe used multipart: {log}");
    assert!(
        log.lines()
            .any(|l| l.starts_with("DELETE /cam-archive/camvault-probe/")),
        "{log}"
    );
    assert!(!log
        .lines()
        .any(|l| l.starts_with("DELETE ") && !l.starts_with("DELETE /cam-archive/camvault-probe/")));
    assert!(recordings(&s.dump()).is_empty(), "the probe is gone");

    let wrong = s.env("");
    std::fs::write(
        wrong.root().join("s3.key"),
        format!("access_key_id = {KEY_ID}\nsecret_access_key = not-the-secret\n"),
    )
    .unwrap();
    let p = wrong.put_old(&old_clip(now_unix() - 600), b"clip");
    let out = wrong.run(&["ingest", "--once"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("SignatureDoesNotMatch") && err.contains("secret access key is wrong"),
        "{err}"
    );
    assert!(
        !err.contains("not-the-secret") && !err.contains("X-Amz-Signature"),
        "{err}"
    );
    assert!(p.exists());
    let out = wrong.run(&["doctor"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("secret access key is wrong"), "{}", stdout(&out));
}

#[test]
fn adopt_catalogs_what_is_already_in_the_bucket() {
    needs!(PYTHON);
    let s = S3::start("");
    let env = s.env("");
    let t = now_unix() - 90 * 86_400;
    let mut keys = Vec::new();
    for i in 0..3 {
        let key = old_clip(t + i * 3600);
        s.put(&key, &bytes(i as u64, 5000), "DEEP_ARCHIVE");
        keys.push(key);
    }
    let out = env.ok(&["adopt"]);
    assert!(out.contains("adopted 3 object(s)"), "{out}");
    let ls = env.ls();
    assert_eq!(ls.len(), 3);
    assert!(
        ls.iter()
            .all(|r| r["state"] == "verified" && r["camera"] == "78df72a1b2c3"),
        "{ls:#?}"
    );
    env.ok(&["verify"]);
    let out = env.ok(&["adopt"]);
    assert!(out.contains("adopted 0 object(s)"), "idempotent: {out}");
    assert!(
        !s.log()
            .lines()
            .any(|l| l.starts_with("PUT ") || l.starts_with("DELETE ")),
        "nothing uploaded or removed"
    );
}

#[test]
fn object_lock_retains_every_recording() {
    needs!(PYTHON);
    let s3 = S3::start("");
    s3.tool(&["create-locked", "locked-archive"]);
    let env = s3.env("store.s3.bucket = \"locked-archive\"\nstore.s3.object_lock_days = 30");
    let data = bytes(7, 20_000);
    env.put_old(&old_clip(now_unix() - 600), &data);
    env.ok(&["ingest", "--once"]);
    let dump: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&s3.tool(&["dump", "locked-archive"])).unwrap();
    let recs: Vec<_> = dump.iter().filter(|(k, _)| k.starts_with("videos/")).collect();
    assert_eq!(recs.len(), 1, "{dump:#?}");
    let o = recs[0].1;
    assert_eq!(o["sha256"], sha256(&data));
    assert_eq!(o["lock_mode"], "COMPLIANCE", "{o:#}");
    let until: jiff::Timestamp = o["lock_until"].as_str().unwrap().parse().unwrap();
    let days = (until.as_second() - now_unix()) as f64 / 86_400.0;
    assert!((29.9..30.1).contains(&days), "locked for 30 days: {until}");
    // `doctor` (and `store test`) read the bucket's Object Lock and say what it does.
    let out = env.ok(&["doctor"]);
    assert!(
        out.contains("ok    Object Lock: camvault locks each recording for 30 days (COMPLIANCE) after upload"),
        "{out}"
    );
    // (moto takes a default retention on an empty bucket only.)
    let out = env.ok(&["store", "worm"]);
    assert!(out.contains("camvault locks each recording for 30 days"), "{out}");
    let out = env.run(&["store", "worm", "--lock"]);
    assert_eq!(out.status.code(), Some(2), "camvault never sets an Object Lock");
    assert!(
        stderr(&out).contains("S3 Object Lock is a different mechanism"),
        "{}",
        stderr(&out)
    );
    s3.tool(&["create-locked", "locked-default"]);
    s3.tool(&["lock-default", "locked-default", "GOVERNANCE", "7"]);
    let plain = s3.env("store.s3.bucket = \"locked-default\"");
    let out = plain.ok(&["doctor"]);
    assert!(
        out.contains("ok    Object Lock: the bucket's default retention locks each recording for 7 days (GOVERNANCE)"),
        "{out}"
    );
    // Locking uploads on a bucket without Object Lock would fail every upload: said before.
    let out = s3.env("store.s3.object_lock_days = 30").run(&["doctor"]);
    assert!(
        stdout(&out).contains("WARN  `store.s3.object_lock_days` = 30, but the bucket has no Object Lock"),
        "{}",
        stdout(&out)
    );
    let out = s3.env("").run(&["doctor"]);
    assert!(stdout(&out).contains("WARN  no Object Lock"), "{}", stdout(&out));
    // A bad mode names the key.
    let out = s3.env("store.s3.object_lock_mode = \"FOREVER\"").run(&["status"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("store.s3.object_lock_mode"), "{}", stderr(&out));
}

/// The seed's bucket on S3: ossfs's camera folders under `camera_videos/`, a directory
/// marker, keys with unicode, spaces and `%`, the family's files beside them. adopt takes
/// the recordings only; lifecycle apply puts each camera folder under its own rule (with
/// `<Filter>`, as S3 wants) and keeps the owner's `videos/` rule.
#[test]
fn moving_in_from_ossfs() {
    needs!(PYTHON);
    let s = S3::start("");
    let env = s.env("[cameras.78df72a1b2c3]\nname = \"gate\"\n[cameras.5c02148a9e01]\nname = \"yard\"\n");
    let t = now_unix() - 90 * 86_400;
    let old: Vec<String> = (0..2)
        .map(|i| format!("camera_videos/{}", old_clip(t + i * 3600)))
        .collect();
    let new = "camera_videos/XiaomiCamera_00_5C02148A9E01/10_20240601080000_20240601080130.mp4";
    let odd = "camera_videos/XiaomiCamera_00_5C02148A9E01/clip 50%25 é+.mp4";
    let theirs = ["camera_videos/家庭共享/照片 1.jpg", "camera_videos/a%2Fb &c.txt"];
    for (i, k) in old
        .iter()
        .map(String::as_str)
        .chain([new, odd])
        .chain(theirs)
        .enumerate()
    {
        s.put(k, &bytes(i as u64, 2000 + i), "STANDARD");
    }
    s.put("camera_videos/", b"", "STANDARD"); // ossfs's directory marker
    s.put("camera_videos/XiaomiCamera_00_5C02148A9E01/", b"", "STANDARD");
    let rule = serde_json::json!({
        "ID": "seed videos",
        "Filter": {"Prefix": "videos/"},
        "Status": "Enabled",
        "Transitions": [{"Days": 30, "StorageClass": "DEEP_ARCHIVE"}]
    });
    s.tool(&[
        "put-lifecycle",
        BUCKET,
        &serde_json::json!({"Rules": [rule.clone()]}).to_string(),
    ]);

    let out = env.ok(&["adopt", "--dry-run"]);
    for needle in [
        "camera_videos/xiaomi_camera_videos/78DF72A1B2C3/ -> gate: 2 object(s)",
        "camera_videos/XiaomiCamera_00_5C02148A9E01/ -> yard: 2 object(s)",
        "clip 50%25 é+.mp4: name",
        "2 object(s) left alone",
        "2 empty directory marker(s) (`dir/`) skipped",
    ] {
        assert!(out.contains(needle), "{needle}:\n{out}");
    }
    let out = env.ok(&["adopt"]);
    assert!(out.contains("adopted 4 object(s)"), "{out}");
    let ls = env.ls();
    let mut keys: Vec<&str> = ls.iter().map(|r| r["key"].as_str().unwrap()).collect();
    keys.sort();
    let mut want: Vec<&str> = old.iter().map(String::as_str).chain([new, odd]).collect();
    want.sort();
    assert_eq!(keys, want, "exactly the recordings, under their keys as listed");
    env.ok(&["verify"]); // every adopted key HEADs and matches: the odd key survived the round trip
    env.ok(&["adopt", "--check"]);

    let out = env.run(&["lifecycle", "check"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("NOT COVERED: \"camera_videos/XiaomiCamera_00_5C02148A9E01/\""),
        "{}",
        stdout(&out)
    );
    env.ok(&["lifecycle", "apply"]);
    let rules: Vec<serde_json::Value> = serde_json::from_str(&s.tool(&["get-lifecycle", BUCKET])).unwrap();
    assert_eq!(rules.len(), 3, "{rules:#?}");
    assert_eq!(rules[0], rule, "the owner's rule kept as it was");
    for (r, prefix) in rules[1..].iter().zip([
        "camera_videos/XiaomiCamera_00_5C02148A9E01/",
        "camera_videos/xiaomi_camera_videos/78DF72A1B2C3/",
    ]) {
        assert_eq!(
            *r,
            serde_json::json!({
                "ID": format!("camvault:{prefix}"),
                "Filter": {"Prefix": prefix},
                "Status": "Enabled",
                "Transitions": [{"Days": 30, "StorageClass": "DEEP_ARCHIVE"}]
            })
        );
    }
    env.ok(&["lifecycle", "check"]);
    assert!(env.ok(&["lifecycle", "apply"]).contains("already in place"));
    let dump = s.dump();
    for k in theirs {
        assert_eq!(dump[k]["class"], "STANDARD", "{k} untouched");
    }
    assert!(
        !s.log()
            .lines()
            .any(|l| l.starts_with("DELETE ") || (l.starts_with("PUT ") && !l.contains("lifecycle"))),
        "nothing uploaded or removed: {}",
        s.log()
    );
}

/// A listing interrupted half way on moto (a HEAD of page 2 and the listing of page 3
/// fail, in-process): the rerun goes on with `start-after` and adopts the rest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_listing_is_resumed_on_moto() {
    needs!(PYTHON);
    let s = S3::start("");
    let env = s.env("");
    let t = now_unix() - 90 * 86_400;
    let keys: Vec<String> = (0..7)
        .map(|i| format!("camera_videos/{}", old_clip(t + i * 60)))
        .collect();
    for (i, k) in keys.iter().enumerate() {
        s.put(k, &bytes(i as u64, 1000), "STANDARD");
    }
    let cfg = camvault::config::Config::load(&env.config()).unwrap();
    let cat = camvault::catalog::Catalog::open(&cfg.catalog(), true).unwrap();
    let store: std::sync::Arc<dyn camvault::store::Backend> = camvault::store::open(&cfg).unwrap().into();
    common::adopt::interrupted_listing_resumes(&cfg, &cat, store, &keys).await;
    assert!(
        s.log().contains("start-after="),
        "the rerun asked S3 for the keys after the position"
    );
}

/// The bad rules of the issue on moto: a rule covering the camera folders but disabled
/// does not count, and a bucket-wide rule that expires objects is named loudly by
/// `lifecycle check` and `apply` (exit 1), which leave the owner's rules as they were.
#[test]
fn disabled_and_deleting_rules_are_named_on_moto() {
    needs!(PYTHON);
    let s = S3::start("");
    let env = s.env("");
    let t = now_unix() - 90 * 86_400;
    for i in 0..2 {
        s.put(
            &format!("camera_videos/{}", old_clip(t + i * 60)),
            &bytes(i as u64, 2000),
            "STANDARD",
        );
    }
    let out = env.ok(&["adopt"]);
    assert!(out.contains("adopted 2 object(s)"), "{out}");
    let rules = serde_json::json!({"Rules": [
        {"ID": "paused", "Filter": {"Prefix": "camera_videos/"}, "Status": "Disabled",
         "Transitions": [{"Days": 30, "StorageClass": "DEEP_ARCHIVE"}]},
        {"ID": "purge after a year", "Filter": {"Prefix": ""}, "Status": "Enabled", "Expiration": {"Days": 365}}
    ]});
    s.tool(&["put-lifecycle", BUCKET, &rules.to_string()]);
    common::adopt::owners_deleting_rule_is_refused(&env);
    // apply covers the camera folder with its own rule, and leaves the owner's as they were:
    // the deleting rule is theirs to remove.
    let after: Vec<serde_json::Value> = serde_json::from_str(&s.tool(&["get-lifecycle", BUCKET])).unwrap();
    assert_eq!(after[..2], rules["Rules"].as_array().unwrap()[..], "{after:#?}");
}
