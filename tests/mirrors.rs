//! Mirror stores (issue 21), in-process: the main store and mirrors are real `fs` stores in
//! temporary directories, a mirror's faults come from the seeded fault backend
//! (`store::fault`), and backoff runs on tokio's paused clock.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use camvault::cache::CacheKeeper;
use camvault::catalog::{Catalog, NewFile};
use camvault::mirror::sources::Sources;
use camvault::mirror::{self, DiskMirror, MirrorUploader, Pass};
use camvault::store::fault::{Fault, FaultStore, Op};
use camvault::store::limit::RateLimiter;
use camvault::store::{fs::FsStore, Backend, ErrorKind};
use camvault::upload::{drain, Uploader};
use tokio_util::sync::CancellationToken;

struct Rig {
    dir: tempfile::TempDir,
    catalog: Arc<Catalog>,
    keys: Vec<String>,
}

impl Rig {
    fn vault(&self) -> std::path::PathBuf {
        self.dir.path().join("vault")
    }
}

/// A catalog that knows mirror "usb", with `n` captured recordings in the vault.
fn rig(n: u32) -> Rig {
    let dir = tempfile::tempdir().unwrap();
    let vault = dir.path().join("vault");
    let catalog = Arc::new(Catalog::open(&dir.path().join("catalog.sqlite"), true).unwrap());
    catalog.sync_mirrors(&["usb"], 1).unwrap();
    let mut keys = Vec::new();
    for i in 0..n {
        let data: Vec<u8> = (0..20_000u32).map(|b| (b * 7 + i) as u8).collect();
        let path = format!("door/clip{i}.mp4");
        let base = format!("videos/door/2025-10-03/14/clip{i}.mp4");
        let row = NewFile {
            camera: "door",
            mac: None,
            tz: "UTC",
            inbox_path: path.as_bytes(),
            base_key: &base,
            layout: "generic",
            channel: None,
            start_ms: 1_700_000_000_000 + i as i64,
            end_ms: None,
            size: data.len() as u64,
            mtime_ns: 5,
            dev: 1,
            ino: 100 + i as u64,
            duration_ms: None,
            codec: None,
            width: None,
            height: None,
            warning: None,
            now_ms: 1,
            kind: "video",
            hold_until_ms: 0,
            supersedes: None,
        };
        let (_, key) = catalog
            .insert_captured(&row, |key| {
                let p = vault.join(key);
                std::fs::create_dir_all(p.parent().unwrap())?;
                std::fs::write(p, &data)?;
                Ok(())
            })
            .unwrap();
        keys.push(key);
    }
    Rig { dir, catalog, keys }
}

fn primary(r: &Rig) -> Arc<Uploader> {
    let root = r.dir.path().join("primary");
    std::fs::create_dir_all(&root).unwrap();
    Arc::new(Uploader {
        catalog: r.catalog.clone(),
        store: Arc::new(FsStore::new(&root, false)),
        vault: r.vault(),
        limiter: Arc::new(RateLimiter::new(&Default::default())),
        storage_class: "Standard".into(),
        retry_initial: Duration::from_secs(1),
        retry_max: Duration::from_secs(3600),
        metrics: Default::default(),
    })
}

fn mirror_of(r: &Rig, store: Arc<dyn Backend>, disk: Option<DiskMirror>) -> Arc<MirrorUploader> {
    Arc::new(MirrorUploader {
        name: "usb".into(),
        catalog: r.catalog.clone(),
        store,
        vault: r.vault(),
        limiter: None,
        storage_class: "Standard".into(),
        retry_initial: Duration::from_secs(1),
        retry_max: Duration::from_secs(60),
        disk,
        clock: Default::default(),
        read_only: false,
    })
}

/// A keeper that wants every verified local copy gone at once.
fn eager_keeper(r: &Rig, mirrors_needed: u32) -> CacheKeeper {
    CacheKeeper {
        inbox: r.dir.path().join("inbox"),
        vault: r.vault(),
        max_bytes: 0,
        max_days: 0,
        min_free: 0,
        min_days: 0,
        mirrors_needed,
    }
}

fn in_vault(r: &Rig) -> usize {
    r.keys.iter().filter(|k| r.vault().join(k).exists()).count()
}

fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            if e.path().is_dir() {
                stack.push(e.path());
            } else {
                out.push(e.path());
            }
        }
    }
    out
}

/// A mirror that refuses every write: the main store verifies everything regardless, the
/// mirror's pass ends at the first refusal (one try, not one per file), its copies wait,
/// and the cache keeps every local copy; once it accepts writes, everything is copied,
/// verified byte for byte, and only then does the cache let go.
#[tokio::test(start_paused = true)]
async fn a_mirror_that_refuses_writes_holds_back_only_its_own_copies_and_the_cache() {
    let r = rig(3);
    let root = r.dir.path().join("mirror");
    std::fs::create_dir_all(&root).unwrap();
    let faulty = Arc::new(FaultStore::new(Arc::new(FsStore::new(&root, false)), 7));
    faulty.inject(Op::Put, Fault::Fail(ErrorKind::Refused), 1.0, 2);
    let m = mirror_of(&r, faulty.clone(), None);
    let stop = CancellationToken::new();

    assert!(
        drain(primary(&r), 2, 3).await.is_empty(),
        "the main store is not held up"
    );
    let out = m.pass(&stop).await.unwrap();
    let Pass::Away(why) = out else { panic!("{out:?}") };
    let why = why.en();
    assert!(
        why.contains("\"usb\"") && why.contains("injected fault (Refused)"),
        "{why}"
    );
    assert_eq!(faulty.calls(Op::Put), 1, "the pass stops at the store's first refusal");
    let keeper = eager_keeper(&r, 1);
    assert_eq!(keeper.pass(&r.catalog, i64::MAX / 2, &|_| None).unwrap().purged, 0);
    assert_eq!(in_vault(&r), 3, "nothing leaves the vault before the mirror has it");
    let counts = r.catalog.copy_counts().unwrap();
    assert_eq!(
        (counts[0].verified, counts[0].failing, counts[0].pending),
        (0, 1, 2),
        "{counts:?}"
    );

    // The next pass meets the second refusal on the copy due first; then the store
    // takes writes again and the backed-off copy comes due after its wait.
    assert!(matches!(m.pass(&stop).await.unwrap(), Pass::Away(_)));
    let mut copied = 0;
    for _ in 0..10 {
        if let Pass::Done { copied: n } = m.pass(&stop).await.unwrap() {
            copied += n;
        }
        if copied == 3 {
            break;
        }
        tokio::time::advance(Duration::from_secs(5)).await;
    }
    assert_eq!(copied, 3);
    for k in &r.keys {
        assert_eq!(
            std::fs::read(root.join(k)).unwrap(),
            std::fs::read(r.vault().join(k)).unwrap(),
            "{k}"
        );
    }
    assert_eq!(keeper.pass(&r.catalog, i64::MAX / 2, &|_| None).unwrap().purged, 3);
    assert_eq!(in_vault(&r), 0);
}

/// A store that fails every request for an hour: the worker tries with a doubling wait
/// (bounded by `retry_max`), not in a loop; it raises its own health problem, named by
/// the mirror, and clears it once the store is back.
#[tokio::test(start_paused = true)]
async fn a_mirror_that_is_away_backs_off_and_raises_its_own_problem() {
    let r = rig(2);
    let root = r.dir.path().join("mirror");
    std::fs::create_dir_all(&root).unwrap();
    let faulty = Arc::new(FaultStore::new(Arc::new(FsStore::new(&root, false)), 3));
    faulty.inject(Op::Put, Fault::Fail(ErrorKind::Transient), 1.0, u32::MAX);
    let m = mirror_of(&r, faulty.clone(), None);
    let stop = CancellationToken::new();
    let worker = tokio::spawn(mirror::run(m.clone(), stop.clone()));
    tokio::time::sleep(Duration::from_secs(3600)).await;
    let tries = faulty.calls(Op::Put);
    // 1, 2, 4, 8, 16, 32, then every 60 s (±50 % jitter): about 60 tries in an hour;
    // a hot loop would make millions.
    assert!((10..=130).contains(&tries), "{tries} PUTs in an hour");
    let s = r.catalog.summary().unwrap();
    let problems = camvault::health::evaluate(&camvault::config::Config::default(), &s, 0, None);
    let p = problems.iter().find(|p| p.rule == "mirror").expect("a mirror problem");
    assert_eq!(p.subject, "usb");
    assert!(p.message.contains("injected fault (Transient)"), "{}", p.message);

    // Back: the faults stop, the copies are made, the problem is cleared.
    stop.cancel();
    worker.await.unwrap();
    let ok = mirror_of(&r, Arc::new(FsStore::new(&root, false)), None);
    let stop = CancellationToken::new();
    let worker = tokio::spawn(mirror::run(ok, stop.clone()));
    // The new worker's clock starts at the wall clock, an hour of virtual time behind the
    // retry times the first one recorded.
    tokio::time::sleep(Duration::from_secs(2 * 3600)).await;
    stop.cancel();
    worker.await.unwrap();
    assert_eq!(r.catalog.copy_counts().unwrap()[0].verified, 2);
    let s = r.catalog.summary().unwrap();
    let problems = camvault::health::evaluate(&camvault::config::Config::default(), &s, 0, None);
    assert!(problems.iter().all(|p| p.rule != "mirror"), "{problems:?}");
}

/// A disk mirror without its marker (the disk unplugged: the mount point is an empty
/// directory) is away: nothing at all is written to the mount point; copying starts when
/// the marked disk is there, and stops again, before the next file, when it goes.
#[tokio::test(start_paused = true)]
async fn a_disk_mirror_without_its_marker_is_away_and_the_empty_mount_point_gets_nothing() {
    let r = rig(2);
    let mount = r.dir.path().join("media-usb");
    std::fs::create_dir_all(&mount).unwrap();
    let disk = || DiskMirror {
        root: mount.clone(),
        min_free: 0,
        warn_days: 30,
        free: Arc::new(|_: &Path| Some(1 << 40)),
    };
    let m = mirror_of(&r, Arc::new(FsStore::new(&mount, false)), Some(disk()));
    let stop = CancellationToken::new();
    let out = m.pass(&stop).await.unwrap();
    let Pass::Away(why) = out else { panic!("{out:?}") };
    let why = why.en();
    assert!(
        why.contains("marker") && why.contains("camvault mirror init usb"),
        "{why}"
    );
    assert!(
        files_under(&mount).is_empty(),
        "the empty mount point got {:?}",
        files_under(&mount)
    );
    assert_eq!(
        r.catalog.copy_counts().unwrap()[0].pending,
        2,
        "the copies wait, not failed"
    );

    mirror::disk::init(&mount, "usb").unwrap();
    assert_eq!(m.pass(&stop).await.unwrap(), Pass::Done { copied: 2 });
    for k in &r.keys {
        assert!(mount.join(k).is_file(), "{k}");
    }
    // Unplugged again: the disk's folder moves away, an empty mount point stays.
    let unplugged = r.dir.path().join("disk-on-the-shelf");
    std::fs::rename(&mount, &unplugged).unwrap();
    std::fs::create_dir_all(&mount).unwrap();
    let more = rig_more(&r, 2);
    assert!(matches!(m.pass(&stop).await.unwrap(), Pass::Away(_)));
    assert!(files_under(&mount).is_empty(), "{:?}", files_under(&mount));
    assert!(!unplugged.join(&more).exists());
    // Plugged back in: the new file follows.
    std::fs::remove_dir(&mount).unwrap();
    std::fs::rename(&unplugged, &mount).unwrap();
    assert_eq!(m.pass(&stop).await.unwrap(), Pass::Done { copied: 1 });
    assert!(mount.join(&more).is_file());
}

/// A full disk mirror stops copying (nothing is deleted there, nothing more written) and
/// says so; before that, it warns days ahead at the rate it filled.
#[tokio::test(start_paused = true)]
async fn a_full_disk_mirror_stops_copying_loudly_and_warns_days_ahead() {
    let r = rig(2);
    let mount = r.dir.path().join("usb");
    std::fs::create_dir_all(&mount).unwrap();
    mirror::disk::init(&mount, "usb").unwrap();
    let free = Arc::new(AtomicU64::new(10 << 30));
    let f = free.clone();
    let m = mirror_of(
        &r,
        Arc::new(FsStore::new(&mount, false)),
        Some(DiskMirror {
            root: mount.clone(),
            min_free: 1 << 30,
            warn_days: 30,
            free: Arc::new(move |_: &Path| Some(f.load(Ordering::SeqCst))),
        }),
    );
    let stop = CancellationToken::new();
    assert_eq!(m.pass(&stop).await.unwrap(), Pass::Done { copied: 2 });
    // 40 kB copied this week: years of room on 10 GiB, no warning.
    let probe = mirror::probe_key("usb");
    assert_eq!(r.catalog.kv_get(&probe).unwrap().as_deref(), Some(""));
    // 100 kB left above min_free at ~5.7 kB a day: about 17 days.
    free.store((1 << 30) + 100_000, Ordering::SeqCst);
    assert_eq!(m.pass(&stop).await.unwrap(), Pass::Done { copied: 0 });
    // Kept as a catalogue message (the page shows it in its reader's language).
    let warning = camvault::msg::from_stored(&r.catalog.kv_get(&probe).unwrap().unwrap()).unwrap()[0].en();
    assert!(
        warning.contains("nearly full") && warning.contains("17 day(s) left"),
        "{warning}"
    );
    // Below min_free: a new recording is not copied, nothing there is touched.
    let before = files_under(&mount).len();
    let more = rig_more(&r, 2);
    free.store(1 << 20, Ordering::SeqCst);
    let out = m.pass(&stop).await.unwrap();
    let Pass::Away(why) = out else { panic!("{out:?}") };
    let why = why.en();
    assert!(why.contains("FULL") && why.contains("STOPPED"), "{why}");
    assert_eq!(files_under(&mount).len(), before);
    assert!(!mount.join(&more).exists());
}

/// One more recording in the vault (index `i` of `rig`'s naming, after the first ones).
fn rig_more(r: &Rig, i: u32) -> String {
    let data: Vec<u8> = (0..20_000u32).map(|b| (b * 11 + i) as u8).collect();
    let base = format!("videos/door/2025-10-03/15/late{i}.mp4");
    let path = format!("door/late{i}.mp4");
    let row = NewFile {
        camera: "door",
        mac: None,
        tz: "UTC",
        inbox_path: path.as_bytes(),
        base_key: &base,
        layout: "generic",
        channel: None,
        start_ms: 1_700_000_100_000,
        end_ms: None,
        size: data.len() as u64,
        mtime_ns: 5,
        dev: 1,
        ino: 900 + i as u64,
        duration_ms: None,
        codec: None,
        width: None,
        height: None,
        warning: None,
        now_ms: 2,
        kind: "video",
        hold_until_ms: 0,
        supersedes: None,
    };
    let vault = r.vault();
    r.catalog
        .insert_captured(&row, |key| {
            let p = vault.join(key);
            std::fs::create_dir_all(p.parent().unwrap())?;
            std::fs::write(p, &data)?;
            Ok(())
        })
        .unwrap()
        .1
}

/// A mirror that loses a copy later (after the vault let go of it): the scrub finds it
/// missing and copies it again from the main store, checked against the catalog.
#[tokio::test(start_paused = true)]
async fn a_copy_the_mirror_loses_later_is_found_by_the_scrub_and_copied_again() {
    let r = rig(2);
    let root = r.dir.path().join("mirror");
    std::fs::create_dir_all(&root).unwrap();
    let m = mirror_of(&r, Arc::new(FsStore::new(&root, false)), None);
    let up = primary(&r);
    assert!(drain(up.clone(), 1, 3).await.is_empty());
    assert_eq!(
        m.pass(&CancellationToken::new()).await.unwrap(),
        Pass::Done { copied: 2 }
    );
    assert_eq!(
        eager_keeper(&r, 1)
            .pass(&r.catalog, i64::MAX / 2, &|_| None)
            .unwrap()
            .purged,
        2
    );
    // Lost on the mirror's side (bytes and metadata), and nowhere in the vault.
    std::fs::remove_file(root.join(&r.keys[1])).unwrap();
    // No other mirror in this config: the main store is the only source.
    let cfg = camvault::config::Config::default();
    let s = mirror::scrub::pass(&m, &mut Sources::new(&cfg, &*up.store), 10, 0)
        .await
        .unwrap();
    assert_eq!((s.checked, s.bad.len(), s.recopied), (2, 1, 1), "{s:?}");
    assert_eq!(s.bad[0].0, r.keys[1]);
    assert_eq!(s.from, [(r.keys[1].clone(), "primary".to_string())]);
    assert_eq!(
        std::fs::read(root.join(&r.keys[1])).unwrap(),
        std::fs::read(r.dir.path().join("primary").join(&r.keys[1])).unwrap()
    );
    assert_eq!(r.catalog.copy_counts().unwrap()[0].verified, 2);
    // The next pass starts over and finds everything right.
    let s = mirror::scrub::pass(&m, &mut Sources::new(&cfg, &*up.store), 10, 0)
        .await
        .unwrap();
    assert_eq!((s.checked, s.bad.len()), (0, 0), "the cursor wrapped: {s:?}");
    let s = mirror::scrub::pass(&m, &mut Sources::new(&cfg, &*up.store), 10, 0)
        .await
        .unwrap();
    assert_eq!((s.checked, s.bad.len()), (2, 0), "{s:?}");
    // Other bytes of the same size: the HEAD sees the same size and checksum; the pass's
    // deep sample reads them back and finds it.
    let p = root.join(&r.keys[0]);
    let mut data = std::fs::read(&p).unwrap();
    data[10] ^= 0xff;
    std::fs::write(&p, data).unwrap();
    let s = mirror::scrub::pass(&m, &mut Sources::new(&cfg, &*up.store), 10, 0)
        .await
        .unwrap();
    assert_eq!(s.bad.len(), 0, "HEAD alone does not see it: {s:?}");
    let s = mirror::scrub::pass(&m, &mut Sources::new(&cfg, &*up.store), 0, 8)
        .await
        .unwrap();
    assert_eq!(s.bad.len(), 1, "{s:?}");
    assert!(s.bad[0].0 == r.keys[0] && s.bad[0].1.contains("bytes differ"), "{s:?}");
}
