//! The backend conformance suite (tests/common/conformance.rs) against every store
//! camvault talks to: `fs`; moto, directly and through the fault proxy (which checks each
//! SigV4 signature with botocore); s3s-fs, a second S3 implementation; and the OSS test
//! server. In-process, through `&dyn Backend`. Below the suite: how camvault falls back
//! where a store's answer is unusable, with a bounded number of tries.

mod common;

use std::sync::Arc;

use camvault::store::oss::OssStore;
use camvault::store::s3::S3Store;
use camvault::store::{fs::FsStore, Backend};
use common::conformance::{self as suite, body, read_all, Caps, MemJournal, LARGE};
use common::*;

const PAGE: u32 = 7;

fn s3_config(port: u16, bucket: &str, key_id: &str, secret: &str) -> camvault::config::Config {
    suite::config(&format!(
        "[store]\nkind = \"s3\"\n[store.s3]\nbucket = \"{bucket}\"\nregion = \"us-east-1\"\n\
         endpoint = \"http://127.0.0.1:{port}\"\npath_style = true\naccess_key_id = \"{key_id}\"\n\
         secret_access_key = \"{secret}\"\nmultipart_threshold_mb = 5\npart_size_mb = 5\ntimeout_secs = 20\n"
    ))
}

fn s3_store(port: u16, bucket: &str, key_id: &str, secret: &str) -> S3Store {
    S3Store::new(&s3_config(port, bucket, key_id, secret))
        .unwrap()
        .with_list_page(PAGE)
}

#[tokio::test]
async fn fs_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsStore::new(dir.path(), false);
    let caps = Caps {
        multipart: false,
        archive: true,
        lifecycle: true,
        resumes: true,
    };
    suite::run(&store, caps, "fs/").await;
}

const S3_CAPS: Caps = Caps {
    multipart: true,
    archive: true,
    lifecycle: true,
    resumes: true,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moto_conforms() {
    needs!(PYTHON);
    let s = common::s3::S3::start("");
    let store = s3_store(s.moto_port, common::s3::BUCKET, "AKIDANY", "any-secret");
    suite::run(&store, S3_CAPS, "moto/").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moto_through_the_signature_checking_proxy_conforms() {
    needs!(PYTHON);
    let s = common::s3::S3::start("");
    let store = s3_store(s.port, common::s3::BUCKET, common::s3::KEY_ID, common::s3::SECRET);
    suite::run(&store, S3_CAPS, "proxy/").await;
    let log = s.log();
    assert!(!log.contains("SIGFAIL"), "every signature checked by botocore: {log}");
    assert!(log.contains("?uploadId="), "the multipart cases went through the proxy");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3s_fs_conforms() {
    needs!(S3S_FS);
    // camvault's warnings (its fallbacks) in the test's output.
    let _ = tracing_subscriber::fmt().with_test_writer().try_init();
    let s = common::s3s::S3s::start();
    let store = s3_store(s.port, common::s3s::BUCKET, common::s3s::KEY_ID, common::s3s::SECRET);
    // s3s-fs keeps no storage classes and has no lifecycle configuration.
    let caps = Caps {
        multipart: true,
        archive: false,
        lifecycle: false,
        // Its ListParts leaves out each part's ETag (and ListMultipartUploads is 501).
        resumes: false,
    };
    suite::run(&store, caps, "s3s/").await;
    // A wrong secret is refused, classified by the store's code.
    let bad = s3_store(s.port, common::s3s::BUCKET, common::s3s::KEY_ID, "wrong");
    let e = bad.check().await.unwrap_err();
    assert_eq!(e.kind, camvault::store::ErrorKind::Refused, "{e}");
    assert_eq!(e.status, Some(403), "{e:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oss_test_server_conforms() {
    needs!(PYTHON);
    let srv = common::oss::server(&[]);
    let cfg = suite::config(&format!(
        "[store]\nkind = \"oss\"\n[store.oss]\nbucket = \"cam-archive\"\nregion = \"cn-beijing\"\n\
         endpoint = \"http://127.0.0.1:{}\"\ncname = true\naccess_key_id = \"LTAI5tCamvaultTest\"\n\
         access_key_secret = \"camvault-test-secret\"\nmultipart_threshold_mb = 5\npart_size_mb = 5\n",
        srv.port
    ));
    let store = OssStore::new(&cfg).unwrap().with_list_page(PAGE);
    suite::run(&store, S3_CAPS, "oss/").await;
    let log = std::fs::read_to_string(srv.data.path().join("requests.log")).unwrap();
    assert!(
        log.lines()
            .any(|l| l.starts_with("GET /oss/range/") && l.ends_with(" 206")),
        "a ranged GET is answered 206 Partial Content: {log}"
    );
    assert!(
        log.lines()
            .any(|l| l.starts_with("PUT /oss/overwrite/small.mp4") && l.ends_with(" 409")),
        "x-oss-forbid-overwrite refused the second PUT: {log}"
    );
}

/// An upload interrupted after two parts (its journal one part behind), resumed against a
/// proxy that injects `faults` into `methods`: answers the requests for the upload's parts
/// (ListParts, UploadPart) that met `status`.
async fn resume_through(faults: &str, methods: &str, status: &str, seed: u64) -> usize {
    let s = common::s3::S3::start_full(faults, methods, "verify");
    let store = s3_store(s.port, common::s3::BUCKET, common::s3::KEY_ID, common::s3::SECRET);
    let dir = tempfile::tempdir().unwrap();
    let key = format!("videos/door/2025-10-03/14/{seed}.mp4");
    let data = bytes(seed, LARGE);
    let j = MemJournal::failing_after(1);
    let mut b = body(dir.path(), "big", &data, Some(j.clone())).await;
    store.put(&key, &mut b, "Standard").await.unwrap_err();
    j.heal();
    let mut b = body(dir.path(), "big", &data, Some(j.clone())).await;
    store.put(&key, &mut b, "Standard").await.unwrap();
    assert_eq!(j.recorded(), vec![1, 2, 3], "started over");
    assert!(read_all(&store, &key, None).await == data);
    assert_eq!(
        s.dump()["_uploads"],
        serde_json::json!([]),
        "the old upload was aborted"
    );
    let log = s.log();
    log.lines()
        .filter(|l| {
            l.starts_with(&format!("{methods} ")) && l.contains("uploadId=") && l.contains(&format!(" {status} "))
        })
        .count()
}

/// A store whose ListParts answers 501 NotImplemented (some S3-compatible stores): the
/// interrupted upload is asked about once, then aborted and started over; never asked
/// again and again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_without_list_parts_starts_over_after_one_try() {
    needs!(PYTHON);
    let faults = ["status:501:NotImplemented@uploadId="; 5].join(",");
    assert_eq!(
        resume_through(&faults, "GET", "501", 11).await,
        1,
        "ListParts asked once"
    );
}

/// A store whose ListParts keeps failing (500; an unreadable answer counts the same):
/// asked at most three times, then the upload starts over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_with_a_failing_list_parts_starts_over_after_three_tries() {
    needs!(PYTHON);
    let faults = ["500@uploadId="; 6].join(",");
    assert_eq!(
        resume_through(&faults, "GET", "500", 12).await,
        3,
        "ListParts asked three times"
    );
}

/// A store that lists an upload's parts, then refuses to go on with it (NoSuchUpload for
/// its next part): the upload is given up and started over at once, not retried.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resumed_upload_the_store_refuses_starts_over_once() {
    needs!(PYTHON);
    let faults = "status:404:NoSuchUpload@partNumber=3";
    assert_eq!(
        resume_through(faults, "PUT", "404", 14).await,
        1,
        "refused once, then started over"
    );
}

/// A store without multipart uploads (CreateMultipartUpload answers NotImplemented): a
/// large recording goes up in one PUT instead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_without_multipart_gets_one_put() {
    needs!(PYTHON);
    let s = common::s3::S3::start_full("status:501:NotImplemented@?uploads", "POST", "verify");
    let store = s3_store(s.port, common::s3::BUCKET, common::s3::KEY_ID, common::s3::SECRET);
    let dir = tempfile::tempdir().unwrap();
    let key = "videos/door/2025-10-03/14/single.mp4";
    let data = bytes(13, LARGE);
    let mut b = body(dir.path(), "big", &data, None).await;
    store.put(key, &mut b, "Standard").await.unwrap();
    assert!(read_all(&store, key, None).await == data);
    let log = s.log();
    assert!(log.contains(&format!("PUT /{}/{key} 200", common::s3::BUCKET)), "{log}");
}

/// The fault-injecting backend drives the same suite's invariants through retries.
#[tokio::test]
async fn fault_backend_keeps_the_invariants() {
    use camvault::store::fault::{Fault, FaultStore, Op};
    let dir = tempfile::tempdir().unwrap();
    let inner: Arc<dyn Backend> = Arc::new(FsStore::new(dir.path(), false));
    let store = FaultStore::new(inner, 7);
    store.inject(Op::Put, Fault::Lose, 1.0, 1);
    let tmp = tempfile::tempdir().unwrap();
    let mut b = body(tmp.path(), "x", b"clip", None).await;
    let e = store.put("videos/x.mp4", &mut b, "Standard").await.unwrap_err();
    assert_eq!(e.kind, camvault::store::ErrorKind::Transient, "{e}");
    // The store kept it: a retry is refused as existing, never overwritten.
    let mut b = body(tmp.path(), "x", b"other", None).await;
    let e = store.put("videos/x.mp4", &mut b, "Standard").await.unwrap_err();
    assert_eq!(e.kind, camvault::store::ErrorKind::AlreadyExists, "{e}");
    assert_eq!(read_all(&store, "videos/x.mp4", None).await, b"clip");
    assert_eq!((store.calls(Op::Put), store.injected(Op::Put)), (2, 1));
}
