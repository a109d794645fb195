//! The backend conformance suite (after restic's backend tests): the invariants of
//! `store/mod.rs` checked on any `&dyn Backend`, in-process. tests/conformance.rs runs it
//! against `fs`, moto (directly and through the fault proxy), s3s-fs (a second S3
//! implementation nobody here wrote) and the OSS test server. What a store does not
//! implement is declared in its [`Caps`], and the suite then checks that camvault's
//! answer is the classified error (or the fallback), not that the feature works.
#![allow(dead_code)]

use std::path::Path;
use std::sync::{Arc, Mutex};

use camvault::store::body::Body;
use camvault::store::{
    delete_probe, Backend, ErrorKind, MultipartJournal, MultipartProgress, PartDone, RestoreAnswer, RestoreState,
    RestoreTier, PROBE_PREFIX,
};
use tokio::io::AsyncReadExt;

/// What a store implements beyond the invariants every store keeps.
#[derive(Debug, Clone, Copy)]
pub struct Caps {
    /// Large bodies go up in parts (the HTTP backends), so resume can be checked.
    pub multipart: bool,
    /// Keeps archive classes and restores them.
    pub archive: bool,
    /// Keeps a lifecycle configuration.
    pub lifecycle: bool,
    /// Answers ListParts with what a resume needs (each part's number, size and ETag);
    /// otherwise an interrupted upload is started over after a few tries.
    pub resumes: bool,
}

/// A config from TOML text, as `camvault` would load it.
pub fn config(text: &str) -> camvault::config::Config {
    camvault::config::Config::parse(text).unwrap_or_else(|e| panic!("config {text}: {e:#}"))
}

/// A vault file of `data` and a body to send it (with `journal` under file id 1).
pub async fn body(dir: &Path, name: &str, data: &[u8], journal: Option<Arc<MemJournal>>) -> Body {
    let p = dir.join(name);
    std::fs::write(&p, data).unwrap();
    let b = Body::open(&p, data.len() as u64, None).await.unwrap();
    match journal {
        Some(j) => b.with_journal(1, j),
        None => b,
    }
}

pub async fn read_all(store: &dyn Backend, key: &str, range: Option<std::ops::Range<u64>>) -> Vec<u8> {
    let mut r = store
        .get_range(key, range)
        .await
        .unwrap_or_else(|e| panic!("GET {key}: {e}"));
    let mut out = Vec::new();
    r.read_to_end(&mut out).await.unwrap();
    out
}

/// A multipart journal in memory, which can fail after recording `fail_after` parts
/// (the catalog's disk filling up mid-upload: the upload stops there, as after a crash).
#[derive(Default)]
pub struct MemJournal {
    pub progress: Mutex<Option<MultipartProgress>>,
    pub fail_after: Mutex<Option<usize>>,
    /// Every part recorded, in order.
    pub recorded: Mutex<Vec<u32>>,
}

impl MemJournal {
    pub fn failing_after(parts: usize) -> Arc<MemJournal> {
        let j = MemJournal::default();
        *j.fail_after.lock().unwrap() = Some(parts);
        Arc::new(j)
    }

    /// A journal remembering an upload the store never had (or already dropped).
    pub fn stale(key: &str, part_size: u64) -> Arc<MemJournal> {
        let j = MemJournal::default();
        *j.progress.lock().unwrap() = Some(MultipartProgress {
            key: key.into(),
            upload_id: "stale-upload-the-store-never-had".into(),
            part_size,
            parts: Vec::new(),
        });
        Arc::new(j)
    }

    pub fn recorded(&self) -> Vec<u32> {
        self.recorded.lock().unwrap().clone()
    }

    /// From now on it records everything.
    pub fn heal(&self) {
        *self.fail_after.lock().unwrap() = None;
        self.recorded.lock().unwrap().clear();
    }
}

impl MultipartJournal for MemJournal {
    fn load(&self, _: i64) -> anyhow::Result<Option<MultipartProgress>> {
        Ok(self.progress.lock().unwrap().clone())
    }
    fn begin(&self, _: i64, key: &str, upload_id: &str, part_size: u64) -> anyhow::Result<()> {
        *self.progress.lock().unwrap() = Some(MultipartProgress {
            key: key.into(),
            upload_id: upload_id.into(),
            part_size,
            parts: Vec::new(),
        });
        Ok(())
    }
    fn part_done(&self, _: i64, part: &PartDone) -> anyhow::Result<()> {
        let mut rec = self.recorded.lock().unwrap();
        if let Some(n) = *self.fail_after.lock().unwrap() {
            if rec.len() >= n {
                anyhow::bail!("catalog: disk full (injected) while recording part {}", part.part);
            }
        }
        rec.push(part.part);
        if let Some(p) = self.progress.lock().unwrap().as_mut() {
            p.parts.push(part.clone());
        }
        Ok(())
    }
    fn finish(&self, _: i64) -> anyhow::Result<()> {
        *self.progress.lock().unwrap() = None;
        Ok(())
    }
}

/// `lifecycle check`, `show` and `apply` through the CLI on a bucket that already holds
/// someone else's rule: not covered, their rule shown (`shown`, in camvault's class
/// names), apply keeps it (`stored` checks the bucket), then covered, and applying again
/// changes nothing. Shared by tests/s3.rs and tests/oss.rs, which seed the rule.
pub fn cli_lifecycle_keeps_their_rule(env: &super::Env, shown: &str, stored: impl Fn()) {
    use super::stdout;
    let out = env.run(&["lifecycle", "check"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("NOT COVERED: \"videos/\" (key template)"),
        "{}",
        stdout(&out)
    );
    let out = env.ok(&["lifecycle", "show"]);
    assert!(out.contains(shown), "{out}");
    let out = env.ok(&["lifecycle", "apply"]);
    assert!(out.contains("1 other rule(s) of the bucket kept unchanged"), "{out}");
    stored();
    env.ok(&["lifecycle", "check"]);
    let out = env.ok(&["lifecycle", "apply"]);
    assert!(out.contains("already in place"), "{out}");
}

/// Lifts the bandwidth limit of a data directory whose multipart upload was interrupted
/// and runs `ingest --once`, which must resume the upload and verify the recording.
/// Shared by tests/s3.rs and tests/oss.rs (killed with SIGKILL mid-upload).
pub fn cli_resume_unthrottled(env: &super::Env) {
    use super::{set_key, stderr};
    let cfg = std::fs::read_to_string(env.config()).unwrap();
    std::fs::write(env.config(), set_key(&cfg, "upload", "bandwidth_limit", "0")).unwrap();
    let out = env.run(&["ingest", "--once"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("resuming a multipart upload"), "{}", stderr(&out));
    assert_eq!(env.status()["files"]["verified"], 1);
}

/// A large body: three parts of 5 MiB, 5 MiB and 1 MiB (the backends' part size is 5 MiB).
pub const LARGE: usize = 11 << 20;
pub const PART: u64 = 5 << 20;

/// Every case, on `store`; keys under `prefix` (unique per store, e.g. "conf/").
pub async fn run(store: &dyn Backend, caps: Caps, prefix: &str) {
    let dir = tempfile::tempdir().unwrap();
    put_never_overwrites(store, dir.path(), prefix).await;
    head_sees_only_complete_objects(store, dir.path(), prefix).await;
    ranged_get(store, dir.path(), prefix).await;
    listing_is_sorted_and_paginated(store, dir.path(), prefix).await;
    errors_are_classified(store, prefix).await;
    only_probes_are_deletable(store, dir.path(), prefix).await;
    lifecycle_round_trip(store, caps).await;
    restore_states(store, dir.path(), caps, prefix).await;
    if caps.multipart {
        multipart_resumes(store, dir.path(), caps, prefix).await;
    }
}

/// `put` never overwrites: an existing key answers AlreadyExists and keeps its bytes, for
/// a single PUT and a multipart upload alike.
pub async fn put_never_overwrites(store: &dyn Backend, dir: &Path, prefix: &str) {
    for (name, first, second) in [
        ("small.mp4", super::bytes(1, 1000), super::bytes(2, 1000)),
        ("large.mp4", super::bytes(3, LARGE), super::bytes(4, LARGE)),
    ] {
        let key = format!("{prefix}overwrite/{name}");
        let mut b = body(dir, name, &first, None).await;
        store.put(&key, &mut b, "Standard").await.unwrap();
        let mut b = body(dir, name, &second, None).await;
        let e = store.put(&key, &mut b, "Standard").await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::AlreadyExists, "{key}: {e}");
        assert!(
            read_all(store, &key, None).await == first,
            "{key}: the first bytes are kept"
        );
    }
}

/// An object is visible to `head` and `list` only once all its bytes are stored: a body
/// whose vault file lost its tail mid-upload leaves nothing behind.
pub async fn head_sees_only_complete_objects(store: &dyn Backend, dir: &Path, prefix: &str) {
    let key = format!("{prefix}partial/cut.mp4");
    let data = super::bytes(5, 3 << 20);
    let mut b = body(dir, "cut.mp4", &data, None).await;
    // The vault copy is cut short after the body was opened for 3 MiB.
    std::fs::OpenOptions::new()
        .write(true)
        .open(dir.join("cut.mp4"))
        .unwrap()
        .set_len(1 << 20)
        .unwrap();
    assert!(
        store.put(&key, &mut b, "Standard").await.is_err(),
        "a short body is refused"
    );
    assert_eq!(store.head(&key).await.unwrap(), None, "no partial object");
    assert!(store.list(&format!("{prefix}partial/")).await.unwrap().is_empty());
    let whole = format!("{prefix}partial/whole.mp4");
    let mut b = body(dir, "whole.mp4", &data, None).await;
    store.put(&whole, &mut b, "Standard").await.unwrap();
    let h = store.head(&whole).await.unwrap().expect("a complete object is seen");
    assert_eq!(h.size, data.len() as u64);
    assert_eq!(h.storage_class, "Standard");
    assert!(h.readable());
}

pub async fn ranged_get(store: &dyn Backend, dir: &Path, prefix: &str) {
    let key = format!("{prefix}range/clip.mp4");
    let data = super::bytes(4, 100_000);
    let mut b = body(dir, "range.mp4", &data, None).await;
    store.put(&key, &mut b, "Standard").await.unwrap();
    assert_eq!(read_all(store, &key, Some(99_000..100_000)).await, &data[99_000..]);
    assert_eq!(read_all(store, &key, Some(0..10)).await, &data[..10]);
    assert_eq!(read_all(store, &key, Some(1000..2000)).await, &data[1000..2000]);
    assert_eq!(read_all(store, &key, None).await, data);
    let e = store
        .get_range(&key, Some(5..5))
        .await
        .err()
        .expect("an empty range is refused");
    assert_eq!(e.kind, ErrorKind::Refused, "{e}");
}

/// Keys put out of order come back sorted, all of them, across pages (the HTTP backends
/// under test list 7 keys a page), and only under the prefix asked for.
pub async fn listing_is_sorted_and_paginated(store: &dyn Backend, dir: &Path, prefix: &str) {
    let base = format!("{prefix}list/");
    let mut want: Vec<String> = (0..23).map(|i| format!("{base}{:02}/c.mp4", (i * 7) % 23)).collect();
    for k in &want {
        let mut b = body(dir, "l.mp4", k.as_bytes(), None).await;
        store.put(k, &mut b, "Standard").await.unwrap();
    }
    let mut b = body(dir, "l.mp4", b"beside", None).await;
    store
        .put(&format!("{prefix}listing-beside.mp4"), &mut b, "Standard")
        .await
        .unwrap();
    want.sort();
    let got = store.list(&base).await.unwrap();
    let keys: Vec<&str> = got.iter().map(|m| m.key.as_str()).collect();
    assert_eq!(keys, want, "sorted, complete, under the prefix only");
    for m in &got {
        assert_eq!(m.size, m.key.len() as u64, "{}", m.key);
        assert!(m.modified_ms > 0, "{}", m.key);
    }
}

/// Errors carry the kind callers act on: a missing key is NotFound (GET) or `None`
/// (HEAD), and an HTTP store's answer keeps its status and code.
pub async fn errors_are_classified(store: &dyn Backend, prefix: &str) {
    let key = format!("{prefix}missing/none.mp4");
    assert_eq!(store.head(&key).await.unwrap(), None);
    let e = store.get(&key).await.err().expect("GET of a missing key fails");
    assert_eq!(e.kind, ErrorKind::NotFound, "{e}");
    if let Some(status) = e.status {
        assert_eq!(status, 404, "{e}");
        assert_eq!(e.code, Some(camvault::store::Code::NoSuchKey), "{e}");
    }
    assert!(e.to_string().contains(&key), "the message names the key: {e}");
    store.check().await.unwrap();
}

/// Only `store test`'s probes can be deleted; anything else is refused and stays.
pub async fn only_probes_are_deletable(store: &dyn Backend, dir: &Path, prefix: &str) {
    let rec = format!("{prefix}keep/clip.mp4");
    let mut b = body(dir, "keep.mp4", b"recording", None).await;
    store.put(&rec, &mut b, "Standard").await.unwrap();
    for key in [
        rec.clone(),
        format!("{PROBE_PREFIX}../{rec}"),
        PROBE_PREFIX.trim_end_matches('/').into(),
    ] {
        let e = delete_probe(store, &key).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::Refused, "{key}");
    }
    assert!(store.head(&rec).await.unwrap().is_some(), "no recording can be deleted");
    let probe = format!("{PROBE_PREFIX}{}", prefix.replace('/', "-"));
    let mut b = body(dir, "probe", b"probe", None).await;
    store.put(&probe, &mut b, "Standard").await.unwrap();
    delete_probe(store, &probe).await.unwrap();
    assert_eq!(store.head(&probe).await.unwrap(), None, "a probe is deleted");
}

const RULES: &str = "<LifecycleConfiguration><Rule><ID>camvault</ID><Prefix>videos/</Prefix><Status>Enabled</Status>\
<Transition><Days>30</Days><StorageClass>DeepColdArchive</StorageClass></Transition></Rule></LifecycleConfiguration>";

/// What `lifecycle apply` puts is what `lifecycle check` reads back (in camvault's class
/// names); a store without lifecycles says so with a classified error.
pub async fn lifecycle_round_trip(store: &dyn Backend, caps: Caps) {
    if !caps.lifecycle {
        let e = store.put_lifecycle(RULES).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::Refused, "{e}");
        assert!(e.not_implemented(), "classified as not implemented: {e:?}");
        return;
    }
    store.put_lifecycle(RULES).await.unwrap();
    let got = store.get_lifecycle().await.unwrap().expect("the lifecycle just stored");
    let rules = camvault::store::lifecycle::parse(&got).unwrap();
    let ours = rules
        .iter()
        .find(|r| r.id == "camvault")
        .unwrap_or_else(|| panic!("{got}"));
    assert!(ours.xml.contains("videos/"), "{got}");
    assert!(ours.xml.contains("DeepColdArchive"), "camvault's class name: {got}");
}

/// An object put in an archive class is not readable until restored; a restore is
/// started, then answered as in progress or ready; asking twice is harmless.
pub async fn restore_states(store: &dyn Backend, dir: &Path, caps: Caps, prefix: &str) {
    let key = format!("{prefix}cold/clip.mp4");
    let mut b = body(dir, "cold.mp4", b"cold clip", None).await;
    if !caps.archive {
        // A store without archive classes refuses the class by name (the message names
        // the config keys that choose it), and has nothing to restore.
        let e = store.put(&key, &mut b, "DeepColdArchive").await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::Refused, "{e}");
        assert!(e.to_string().contains("tiering.storage_class"), "{e}");
        let mut b = body(dir, "cold.mp4", b"cold clip", None).await;
        store.put(&key, &mut b, "Standard").await.unwrap();
        let e = store.restore(&key, 2, RestoreTier::Standard).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::Refused, "{e:?}");
        assert!(e.not_implemented(), "{e:?}");
        return;
    }
    store.put(&key, &mut b, "DeepColdArchive").await.unwrap();
    let h = store.head(&key).await.unwrap().unwrap();
    assert_eq!(h.storage_class, "DeepColdArchive");
    assert!(!h.readable() && h.restore == RestoreState::None, "{h:?}");
    let e = store.get(&key).await.err().expect("an archived object cannot be read");
    assert_eq!(e.kind, ErrorKind::Archived, "{e}");
    let a = store.restore(&key, 2, RestoreTier::Standard).await.unwrap();
    assert_eq!(a, RestoreAnswer::Started);
    let h = store.head(&key).await.unwrap().unwrap();
    let again = store.restore(&key, 2, RestoreTier::Standard).await.unwrap();
    match h.restore {
        RestoreState::InProgress => assert_eq!(again, RestoreAnswer::AlreadyInProgress),
        RestoreState::Ready { .. } => {
            assert_eq!(again, RestoreAnswer::AlreadyRestored);
            assert_eq!(read_all(store, &key, None).await, b"cold clip");
        }
        RestoreState::None => panic!("a started restore shows: {h:?}"),
    }
    let e = store
        .restore(&format!("{prefix}cold/missing.mp4"), 2, RestoreTier::Standard)
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound, "{e}");
}

/// A multipart upload stopped after its second part (the journal, one part behind the
/// store, failed) resumes from what the store holds; with the journal lost it is started
/// over (the stray upload aborted); with a journal naming an upload the store does not
/// have, it is started over too.
pub async fn multipart_resumes(store: &dyn Backend, dir: &Path, caps: Caps, prefix: &str) {
    let data = super::bytes(9, LARGE);
    // Resumed.
    let key = format!("{prefix}multipart/resumed.mp4");
    let j = MemJournal::failing_after(1);
    let mut b = body(dir, "big.mp4", &data, Some(j.clone())).await;
    let e = store.put(&key, &mut b, "Standard").await.unwrap_err();
    assert!(e.to_string().contains("disk full"), "{e}");
    assert_eq!(
        store.head(&key).await.unwrap(),
        None,
        "an unfinished upload is not an object"
    );
    j.heal();
    let mut b = body(dir, "big.mp4", &data, Some(j.clone())).await;
    store.put(&key, &mut b, "Standard").await.unwrap();
    if caps.resumes {
        assert_eq!(j.recorded(), vec![3], "parts 1 and 2 the store held were kept");
    } else {
        assert_eq!(j.recorded(), vec![1, 2, 3], "ListParts unusable: started over");
    }
    assert!(read_all(store, &key, None).await == data);
    assert_eq!(*j.progress.lock().unwrap(), None, "the journal is finished");

    // Journal lost: a new one knows nothing; the stray upload is aborted, all parts sent.
    let key = format!("{prefix}multipart/lost.mp4");
    let j = MemJournal::failing_after(1);
    let mut b = body(dir, "big.mp4", &data, Some(j.clone())).await;
    store.put(&key, &mut b, "Standard").await.unwrap_err();
    let fresh = Arc::new(MemJournal::default());
    let mut b = body(dir, "big.mp4", &data, Some(fresh.clone())).await;
    store.put(&key, &mut b, "Standard").await.unwrap();
    assert_eq!(fresh.recorded(), vec![1, 2, 3]);
    assert!(read_all(store, &key, None).await == data);

    // Stale journal: the upload it names is unknown to the store.
    let key = format!("{prefix}multipart/stale.mp4");
    let j = MemJournal::stale(&key, PART);
    let mut b = body(dir, "big.mp4", &data, Some(j.clone())).await;
    store.put(&key, &mut b, "Standard").await.unwrap();
    assert_eq!(j.recorded(), vec![1, 2, 3], "started over");
    assert!(read_all(store, &key, None).await == data);
}
