//! Upload retries in-process, through the seeded fault-injecting backend
//! (`store::fault`) and tokio's paused clock: the backoff between tries is waited in
//! virtual time, so these tests are deterministic and do not sleep.

mod common;

use std::sync::Arc;
use std::time::Duration;

use camvault::catalog::Catalog;
use camvault::store::fault::{Fault, FaultStore, Op};
use camvault::store::limit::RateLimiter;
use camvault::store::{fs::FsStore, Backend, ErrorKind};
use camvault::upload::{drain, Uploader};

struct Rig {
    _dir: tempfile::TempDir,
    catalog: Arc<Catalog>,
    store: Arc<FaultStore>,
    key: String,
    data: Vec<u8>,
}

/// A catalog with one captured recording in the vault, and an `fs` store behind faults.
fn rig(seed: u64) -> Rig {
    let dir = tempfile::tempdir().unwrap();
    let vault = dir.path().join("vault");
    let root = dir.path().join("store");
    std::fs::create_dir_all(&root).unwrap();
    let catalog = Arc::new(Catalog::open(&dir.path().join("catalog.sqlite"), true).unwrap());
    let data: Vec<u8> = (0..50_000u32).map(|i| (i * 31 + seed as u32) as u8).collect();
    let row = common::door_clip(
        "videos/door/2025-10-03/14/clip.mp4",
        data.len() as u64,
        1_700_000_000_000,
        1,
    );
    let (_, key) = catalog
        .insert_captured(&row, |key| {
            let p = vault.join(key);
            std::fs::create_dir_all(p.parent().unwrap())?;
            std::fs::write(p, &data)?;
            Ok(())
        })
        .unwrap();
    let inner: Arc<dyn Backend> = Arc::new(FsStore::new(&root, false));
    let store = Arc::new(FaultStore::new(inner, seed));
    Rig {
        _dir: dir,
        catalog,
        store,
        key,
        data,
    }
}

fn uploader(r: &Rig) -> Arc<Uploader> {
    Arc::new(Uploader {
        catalog: r.catalog.clone(),
        store: r.store.clone(),
        vault: r._dir.path().join("vault"),
        limiter: Arc::new(RateLimiter::new(&Default::default())),
        storage_class: "Standard".into(),
        retry_initial: Duration::from_secs(1),
        retry_max: Duration::from_secs(3600),
        metrics: Default::default(),
    })
}

/// Two failed PUTs, then one whose answer is lost after the store kept the object: the
/// fourth try finds the key taken by the same bytes and accepts it; nothing is
/// overwritten, the recording ends verified, and the backoff passed in virtual time.
#[tokio::test(start_paused = true)]
async fn an_upload_survives_failures_and_a_lost_answer_without_sleeping() {
    let r = rig(1);
    r.store
        .inject(Op::Put, Fault::Fail(ErrorKind::Transient), 1.0, 2)
        .inject(Op::Put, Fault::Lose, 1.0, 1);
    let (real, virt) = (std::time::Instant::now(), tokio::time::Instant::now());
    let failed = drain(uploader(&r), 1, 5).await;
    assert!(failed.is_empty(), "{failed:?}");
    assert_eq!((r.store.calls(Op::Put), r.store.injected(Op::Put)), (4, 3));
    // drain waits 1 s, 2 s and 4 s between its rounds: 7 s of tokio's clock.
    assert!(virt.elapsed() >= Duration::from_secs(7), "{:?}", virt.elapsed());
    assert!(
        real.elapsed() < Duration::from_secs(5),
        "no real waiting: {:?}",
        real.elapsed()
    );
    let got = camvault::store::body::crc_of_reader(r.store.get(&r.key).await.unwrap())
        .await
        .unwrap();
    assert_eq!(
        got,
        camvault::store::body::crc_of_reader(std::io::Cursor::new(r.data.clone()))
            .await
            .unwrap()
    );
    assert!(r.catalog.due(i64::MAX, 10).unwrap().is_empty(), "verified, nothing due");
}

/// The same seed draws the same faults: with a 50 % chance per PUT, two runs fail on the
/// same tries and end alike.
#[tokio::test(start_paused = true)]
async fn a_seed_replays_the_same_faults() {
    // A seed whose first draw fails the first PUT.
    let seed = (0..).find(|s| fastrand::Rng::with_seed(*s).f64() < 0.5).unwrap();
    let mut runs = Vec::new();
    for _ in 0..2 {
        let r = rig(seed);
        r.store.inject(Op::Put, Fault::Fail(ErrorKind::Transient), 0.5, 3);
        let failed = drain(uploader(&r), 1, 6).await;
        assert!(failed.is_empty(), "{failed:?}");
        runs.push((r.store.calls(Op::Put), r.store.injected(Op::Put)));
    }
    assert_eq!(runs[0], runs[1]);
    assert!(runs[0].1 > 0, "the seed drew at least one fault: {runs:?}");
}

/// A slow store (an hour per PUT) delays the upload by an hour of tokio's clock, not of
/// the test's.
#[tokio::test(start_paused = true)]
async fn a_slow_store_is_waited_for_in_virtual_time() {
    let r = rig(3);
    r.store.inject(Op::Put, Fault::Slow(Duration::from_secs(3600)), 1.0, 1);
    let (real, virt) = (std::time::Instant::now(), tokio::time::Instant::now());
    assert!(drain(uploader(&r), 1, 1).await.is_empty());
    assert!(virt.elapsed() >= Duration::from_secs(3600));
    assert!(real.elapsed() < Duration::from_secs(5));
}
