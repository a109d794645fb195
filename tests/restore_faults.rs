//! Restores and drills in-process, through the seeded fault-injecting backend
//! (`store::fault`) over the `fs` store's emulated archive, on tokio's paused clock: the
//! store's clock ([`FsStore::with_clock`]) and the catalog's `now` both follow tokio's, so
//! two days of "restore in progress" pass in no time, deterministically, without sleeping.
//!
//! Each test drives [`restore::pass`], the pass `serve`'s restores worker makes, and waits
//! what it asks for, as the worker does.

mod common;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use camvault::catalog::restores::{ItemRow, ItemState, RestoreStatus};
use camvault::catalog::{kv, Catalog};
use camvault::config::Config;
use camvault::restore::{self, Request, Source};
use camvault::store::body::Body;
use camvault::store::fault::{Fault, FaultStore, Op};
use camvault::store::fs::FsStore;
use camvault::store::{Backend, Code, ErrorKind, RestoreTier};

const HOUR: Duration = Duration::from_secs(3600);
const CLASS: &str = "DeepColdArchive";

struct Rig {
    dir: tempfile::TempDir,
    cfg: Config,
    catalog: Catalog,
    store: Arc<FaultStore>,
    key: String,
    file_id: i64,
    data: Vec<u8>,
    /// Unix ms at tokio's clock's start.
    base_ms: i64,
    t0: tokio::time::Instant,
}

impl Rig {
    /// Now, by tokio's (paused) clock.
    fn now(&self) -> i64 {
        self.base_ms + self.t0.elapsed().as_millis() as i64
    }

    fn events(&self) -> Vec<(String, String)> {
        self.catalog
            .events_after(0)
            .unwrap()
            .into_iter()
            .map(|(_, _, k, m)| (k, m))
            .collect()
    }

    fn item(&self, id: i64) -> ItemRow {
        let items = self.catalog.restore_items(id).unwrap();
        assert_eq!(items.len(), 1, "{items:?}");
        items.into_iter().next().unwrap()
    }

    /// RestoreObject requests the store received, as its bill would count them.
    fn billed(&self) -> u64 {
        let meta = self
            .cfg
            .fs_root()
            .join(".camvault/meta")
            .join(format!("{}.json", self.key));
        let meta: serde_json::Value = serde_json::from_slice(&std::fs::read(meta).unwrap()).unwrap();
        meta["restore_requests"].as_u64().unwrap()
    }

    /// Starts a user restore of the one clip, `days` readable, planned from the archive.
    async fn start(&self, days: u32) -> i64 {
        self.start_from(days, Source::Archive).await
    }

    /// Starts a user restore of the one clip, `days` readable, planned from `source`.
    async fn start_from(&self, days: u32, source: Source) -> i64 {
        let req = Request {
            camera: None,
            from_ms: 0,
            to_ms: 0,
            key: Some(self.key.clone()),
            keys: Vec::new(),
            tier: RestoreTier::Standard,
            days,
            merge: false,
            out_dir: String::new(),
            drill: false,
            max_wait_hours: None,
        };
        let plan = restore::plan(&self.cfg, &self.catalog, &*self.store, &req)
            .await
            .unwrap();
        assert_eq!(plan.count(source).0, 1, "{plan:?}");
        restore::start(&self.catalog, &req, &plan, self.now()).unwrap()
    }
}

/// One clip, uploaded in Deep Cold Archive, no longer on local disk; restores kept for
/// good (no drill) unless a test asks for one.
async fn rig(seed: u64) -> Rig {
    rig_with(seed, "").await
}

/// [`rig`] with `config` (TOML) as the configuration.
async fn rig_with(seed: u64, config: &str) -> Rig {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = Config::parse(config).unwrap();
    cfg.source = dir.path().join("camvault.toml");
    cfg.restore.drill_days = 0;
    let catalog = Catalog::open(&cfg.catalog(), true).unwrap();
    let data: Vec<u8> = (0..40_000u32).map(|i| (i * 7 + seed as u32) as u8).collect();
    let start_ms = 1_700_000_000_000;
    let row = common::door_clip(
        "videos/door/2023-11-14/22/clip.mp4",
        data.len() as u64,
        start_ms,
        start_ms,
    );
    let vault = cfg.vault();
    let (id, key) = catalog
        .insert_captured(&row, |key| {
            let p = vault.join(key);
            std::fs::create_dir_all(p.parent().unwrap())?;
            std::fs::write(p, &data)?;
            Ok(())
        })
        .unwrap();

    std::fs::create_dir_all(cfg.fs_root()).unwrap();
    let (base_ms, t0) = (jiff::Timestamp::now().as_millisecond(), tokio::time::Instant::now());
    let fs =
        FsStore::new(&cfg.fs_root(), false).with_clock(Arc::new(move || base_ms + t0.elapsed().as_millis() as i64));
    let local = vault.join(&key);
    let mut body = Body::open(&local, data.len() as u64, None).await.unwrap();
    fs.put(&key, &mut body, CLASS).await.unwrap();
    let crc = camvault::store::crc_hex(body.crc64());
    catalog.mark_uploaded(id, &crc, CLASS, start_ms).unwrap();
    catalog.mark_verified(id, start_ms).unwrap();
    catalog.mark_purged(id, start_ms).unwrap();
    std::fs::remove_file(&local).unwrap();

    let store = Arc::new(FaultStore::new(Arc::new(fs), seed));
    Rig {
        dir,
        cfg,
        catalog,
        store,
        key,
        file_id: id,
        data,
        base_ms,
        t0,
    }
}

/// What a run of passes saw.
#[derive(Debug, Default)]
struct Run {
    passes: u32,
    /// Virtual time of each pass that sent the store a HEAD.
    heads_at: Vec<Duration>,
    /// Item errors seen along the way, in order, without repeats.
    errors: Vec<String>,
}

/// Makes `serve`'s restore passes, waiting between them what each asks for, until
/// `done` holds or `limit` of virtual time passed.
async fn drive(r: &Rig, limit: Duration, mut done: impl FnMut(&Rig) -> bool) -> Run {
    let mut run = Run::default();
    let end = r.t0.elapsed() + limit;
    while r.t0.elapsed() < end {
        let heads = r.store.calls(Op::Head);
        let wait = restore::pass(&r.cfg, &r.catalog, &*r.store, r.now()).await.unwrap();
        run.passes += 1;
        if r.store.calls(Op::Head) > heads {
            run.heads_at.push(r.t0.elapsed());
        }
        for restore in r.catalog.restores(10).unwrap() {
            for e in r
                .catalog
                .restore_items(restore.id)
                .unwrap()
                .into_iter()
                .filter_map(|i| i.error)
            {
                if run.errors.last() != Some(&e) {
                    run.errors.push(e);
                }
            }
        }
        if done(r) {
            break;
        }
        tokio::time::sleep(wait).await;
    }
    run
}

fn settled(id: i64) -> impl FnMut(&Rig) -> bool {
    move |r| r.catalog.restore(id).unwrap().unwrap().state != RestoreStatus::Active
}

/// The restored clip, as `restore` left it.
fn restored_bytes(r: &Rig, item: &ItemRow) -> Vec<u8> {
    assert_eq!(item.state, ItemState::Done, "{item:?}");
    let path = PathBuf::from(item.path.as_deref().expect("a done clip has its path"));
    assert!(path.starts_with(r.cfg.restore_dir()), "{path:?}");
    std::fs::read(path).unwrap()
}

fn no_real_waiting(real: std::time::Instant) {
    assert!(
        real.elapsed() < Duration::from_secs(60),
        "real time: {:?}",
        real.elapsed()
    );
}

/// The store starts the restore but the answer is lost on the way: the next pass sees
/// the restore running (HEAD) and waits for it instead of asking (and paying) again; two
/// days later the clip arrives, checked against the catalog's CRC-64.
#[tokio::test(start_paused = true)]
async fn a_lost_restore_answer_is_not_asked_again_and_the_clip_arrives() {
    let r = rig(1).await;
    r.store.inject(Op::Restore, Fault::Lose, 1.0, 1);
    let real = std::time::Instant::now();
    let id = r.start(1).await;
    let run = drive(&r, 96 * HOUR, settled(id)).await;
    assert_eq!(r.store.injected(Op::Restore), 1, "the fault was met");
    assert_eq!(r.store.calls(Op::Restore), 1, "asked once: {run:?}");
    assert_eq!(r.billed(), 1);
    assert!(
        run.errors.iter().any(|e| e.contains("answer was lost")),
        "the lost answer was recorded as a retry: {run:?}"
    );
    assert_eq!(r.catalog.restore(id).unwrap().unwrap().state, RestoreStatus::Done);
    let item = r.item(id);
    assert_eq!(restored_bytes(&r, &item), r.data);
    assert_eq!(item.error, None);
    // fs emulates Deep Cold Archive's Standard tier: 48 h.
    assert!(r.t0.elapsed() >= 48 * HOUR, "{:?}", r.t0.elapsed());
    no_real_waiting(real);
    assert!(r.events().iter().any(|(k, _)| k == "restore_ready"), "{:?}", r.events());
}

/// Two days "in progress": the store is asked how it goes with a backoff that doubles
/// from `restore.poll_secs` to `restore.poll_max_secs` (never faster, never slower), and
/// the worker wakes at most once a minute in between (no busy loop).
#[tokio::test(start_paused = true)]
async fn a_restore_in_progress_for_two_days_is_polled_with_bounded_backoff() {
    let r = rig(2).await;
    let (min, max) = (r.cfg.restore.poll_secs, r.cfg.restore.poll_max_secs);
    let id = r.start(1).await;
    let heads_before = r.store.calls(Op::Head);
    let run = drive(&r, 96 * HOUR, settled(id)).await;
    assert_eq!(r.store.calls(Op::Restore), 1);
    let gaps: Vec<u64> = run.heads_at.windows(2).map(|w| (w[1] - w[0]).as_secs()).collect();
    assert!(gaps.len() > 10, "{run:?}");
    // One minute of slack: the worker's longest sleep.
    assert!(
        gaps.iter().all(|&g| g >= min && g <= max + 60),
        "HEADs {min}..{max} s apart: {gaps:?}"
    );
    assert!(
        gaps.windows(2).all(|w| w[1] >= w[0] || w[1] >= max),
        "the backoff grows: {gaps:?}"
    );
    // 48 h at one HEAD an hour once the backoff is at its top, plus the first ones.
    let heads = r.store.calls(Op::Head) - heads_before;
    assert!((45..=60).contains(&heads), "{heads} HEADs in two days");
    // At most a pass a minute, not a loop.
    assert!(run.passes <= 49 * 60, "{} passes", run.passes);
    assert_eq!(restored_bytes(&r, &r.item(id)), r.data);
}

/// The restored copy is readable for a day, but every download fails for longer than
/// that: when the store has dropped the copy, camvault says so and asks once more; the
/// second copy is downloaded and checked.
#[tokio::test(start_paused = true)]
async fn a_copy_that_expires_before_its_download_is_asked_for_once_more() {
    let r = rig(3).await;
    // From the copy's readiness (48 h) to past its expiry (72 h): a retry each 10 min.
    r.store.inject(Op::Get, Fault::Fail(ErrorKind::Transient), 1.0, 150);
    let id = r.start(1).await;
    let run = drive(&r, 200 * HOUR, settled(id)).await;
    assert_eq!(r.store.injected(Op::Get), 150);
    assert_eq!((r.store.calls(Op::Restore), r.billed()), (2, 2), "{run:?}");
    assert!(
        run.errors
            .iter()
            .any(|e| e.contains("restored copy expired") && e.contains("asked the store again")),
        "{run:?}"
    );
    assert_eq!(r.catalog.restore(id).unwrap().unwrap().state, RestoreStatus::Done);
    assert_eq!(restored_bytes(&r, &r.item(id)), r.data);
}

/// If the second copy expires too, the clip fails with the reason, and the store is not
/// asked a third time.
#[tokio::test(start_paused = true)]
async fn a_copy_that_expires_twice_fails_without_a_third_request() {
    let r = rig(4).await;
    r.store.inject(Op::Get, Fault::Fail(ErrorKind::Transient), 1.0, 10_000);
    let id = r.start(1).await;
    drive(&r, 400 * HOUR, settled(id)).await;
    let item = r.item(id);
    assert_eq!(item.state, ItemState::Failed, "{item:?}");
    assert!(
        item.error.as_deref().unwrap_or("").contains("expired again"),
        "{item:?}"
    );
    assert_eq!((r.store.calls(Op::Restore), r.billed()), (2, 2));
    let restore = r.catalog.restore(id).unwrap().unwrap();
    assert_eq!(restore.state, RestoreStatus::Failed, "{restore:?}");
    assert!(
        r.events().iter().any(|(k, _)| k == "restore_failed"),
        "{:?}",
        r.events()
    );
}

/// A store that refuses the RestoreObject (403 AccessDenied) is not asked again: the clip
/// fails with the store's status and code, the restore ends failed, and a day more of
/// passes sends the store nothing.
#[tokio::test(start_paused = true)]
async fn a_refused_restore_fails_with_the_stores_code_and_is_not_retried() {
    let r = rig(5).await;
    let refusal = Fault::Answer {
        kind: ErrorKind::Refused,
        status: 403,
        code: Code::AccessDenied,
    };
    r.store.inject(Op::Restore, refusal, 1.0, 1000);
    let id = r.start(1).await;
    drive(&r, 24 * HOUR, settled(id)).await;
    let item = r.item(id);
    assert_eq!(item.state, ItemState::Failed, "{item:?}");
    let error = item.error.unwrap_or_default();
    assert!(error.contains("403") && error.contains("AccessDenied"), "{error}");
    assert_eq!(r.catalog.restore(id).unwrap().unwrap().state, RestoreStatus::Failed);
    assert!(
        r.events()
            .iter()
            .any(|(k, m)| k == "restore_failed" && m.contains("AccessDenied")),
        "{:?}",
        r.events()
    );
    let (restores, heads) = (r.store.calls(Op::Restore), r.store.calls(Op::Head));
    assert_eq!(restores, 1);
    let run = drive(&r, 24 * HOUR, |_| false).await;
    assert!(run.passes > 0);
    assert_eq!((r.store.calls(Op::Restore), r.store.calls(Op::Head)), (restores, heads));
}

/// The periodic drill on its own: `serve`'s pass picks the archived clip, restores it,
/// checks it byte for byte, records the pass and drops the copy.
#[tokio::test(start_paused = true)]
async fn a_drill_restores_an_archived_clip_and_records_its_pass() {
    let mut r = rig(6).await;
    r.cfg.restore.drill_days = 30;
    let drilled = |r: &Rig| r.catalog.slot(&kv::DRILL).unwrap().is_some();
    drive(&r, 96 * HOUR, drilled).await;
    let d = r.catalog.slot(&kv::DRILL).unwrap().expect("a drill ran");
    assert!(d.ok && d.error.is_none(), "{d:?}");
    assert_eq!(d.key.as_deref(), Some(r.key.as_str()));
    assert_eq!(r.store.calls(Op::Restore), 1);
    assert!(r.events().iter().any(|(k, _)| k == "restore_drill"), "{:?}", r.events());
    let dir = r.cfg.restore_dir().join(d.restore.to_string());
    assert!(!dir.exists(), "the drill's copy is removed: {dir:?}");
}

/// A drill whose download is cut short (the bytes are not the catalogued ones) fails, says
/// why, raises the mismatch, and is not repeated before `restore.drill_days`.
#[tokio::test(start_paused = true)]
async fn a_drill_that_reads_wrong_bytes_fails_and_says_why() {
    let mut r = rig(7).await;
    r.cfg.restore.drill_days = 30;
    r.store.inject(Op::Get, Fault::Truncate(1000), 1.0, 1);
    let drilled = |r: &Rig| r.catalog.slot(&kv::DRILL).unwrap().is_some();
    drive(&r, 96 * HOUR, drilled).await;
    let d = r.catalog.slot(&kv::DRILL).unwrap().expect("a drill ran");
    assert!(!d.ok, "{d:?}");
    let why = d.error.clone().unwrap_or_default();
    assert!(
        why.contains(&format!("size 1000 read, {} expected", r.data.len())),
        "{why}"
    );
    let events = r.events();
    assert!(events.iter().any(|(k, _)| k == "restore_drill_failed"), "{events:?}");
    assert!(events.iter().any(|(k, _)| k == "verify_mismatch"), "{events:?}");
    let restores = r.store.calls(Op::Restore);
    assert_eq!(restores, 1);
    drive(&r, 72 * HOUR, |_| false).await;
    assert_eq!(r.store.calls(Op::Restore), restores, "no new drill within drill_days");
    drop(r.dir);
}

/// [`rig`] with a disk mirror `usb` (marked, as `camvault mirror init` does) that holds a
/// verified copy of the clip: a restore takes it from there, free and at once, rather than
/// from the main store's Deep Cold Archive.
async fn rig_with_disk_mirror(seed: u64) -> Rig {
    let r = rig_with(
        seed,
        "[[store.mirror]]\nname = \"usb\"\nkind = \"fs\"\n[store.mirror.fs]\nroot = \"usb\"\nfsync = false\n",
    )
    .await;
    let m = r.cfg.store.mirror[0].clone();
    let root = r.cfg.mirror_root(&m);
    std::fs::create_dir_all(&root).unwrap();
    camvault::mirror::disk::init(&root, "usb").unwrap();
    let usb = camvault::store::open(&r.cfg.for_mirror(&m)).unwrap();
    let local = r.dir.path().join("copy");
    std::fs::write(&local, &r.data).unwrap();
    let mut body = Body::open(&local, r.data.len() as u64, None).await.unwrap();
    usb.put(&r.key, &mut body, "Standard").await.unwrap();
    let crc = camvault::store::crc_hex(body.crc64());
    r.catalog.sync_mirrors(&["usb"], r.now()).unwrap();
    r.catalog
        .copy_found(r.file_id, "usb", &r.key, &crc, "Standard", r.now())
        .unwrap();
    r
}

/// The disk mirror the restore was planned from is taken out of the config before it ran:
/// nothing will bring it back, and the main store's copy is archived, so the clip fails at
/// once, saying why and what to do — it is neither waited on for ever nor restored from the
/// archive without the user's yes.
#[tokio::test(start_paused = true)]
async fn a_mirror_removed_from_the_config_fails_its_clips_at_once_and_asks_no_restore() {
    let mut r = rig_with_disk_mirror(7).await;
    let id = r.start_from(1, Source::Mirror).await;
    r.cfg.store.mirror.clear();
    let run = drive(&r, 24 * HOUR, settled(id)).await;
    let item = r.item(id);
    assert_eq!(item.state, ItemState::Failed, "{item:?} {run:?}");
    let error = item.error.unwrap_or_default();
    assert!(
        error.contains("\"usb\" is no longer in the config")
            && error.contains("DeepColdArchive")
            && error.contains("start the restore again"),
        "{error}"
    );
    assert!(run.passes <= 2, "failed on the first pass: {run:?}");
    assert_eq!((r.store.calls(Op::Restore), r.billed()), (0, 0), "no restore asked");
    assert_eq!(r.catalog.restore(id).unwrap().unwrap().state, RestoreStatus::Failed);
}

/// The disk is unplugged (its marker gone) after the restore was planned from it: the clip
/// waits for it, saying why, for a week from the restore's start — then fails, saying how
/// long it waited and what to do, instead of being retried for ever. Plugged back in time,
/// it is read from the disk.
#[tokio::test(start_paused = true)]
async fn an_unplugged_disk_mirror_is_waited_for_a_week_then_its_clip_fails() {
    let r = rig_with_disk_mirror(8).await;
    let marker = r
        .cfg
        .mirror_root(&r.cfg.store.mirror[0])
        .join(camvault::mirror::disk::MARKER);
    let id = r.start_from(1, Source::Mirror).await;
    std::fs::rename(&marker, r.dir.path().join("marker")).unwrap();
    assert_eq!(r.cfg.restore.mirror_wait_days, 7, "the default");
    let week = Duration::from_secs(7 * 86_400);
    let run = drive(&r, week - HOUR, settled(id)).await;
    assert_eq!(
        r.catalog.restore(id).unwrap().unwrap().state,
        RestoreStatus::Active,
        "{run:?}"
    );
    let item = r.item(id);
    assert!(
        item.error.as_deref().unwrap_or("").contains("marker"),
        "says why it waits: {item:?}"
    );
    let run = drive(&r, 2 * HOUR, settled(id)).await;
    let item = r.item(id);
    assert_eq!(item.state, ItemState::Failed, "{item:?} {run:?}");
    let error = item.error.unwrap_or_default();
    assert!(
        error.contains("waited 7 days") && error.contains("start the restore again"),
        "{error}"
    );
    assert!(r.t0.elapsed() >= week, "{:?}", r.t0.elapsed());
    assert_eq!((r.store.calls(Op::Restore), r.billed()), (0, 0), "no restore asked");

    // The same, plugged back in within the week: the clip comes from the disk.
    let r = rig_with_disk_mirror(9).await;
    let marker = r
        .cfg
        .mirror_root(&r.cfg.store.mirror[0])
        .join(camvault::mirror::disk::MARKER);
    let id = r.start_from(1, Source::Mirror).await;
    let away = r.dir.path().join("marker");
    std::fs::rename(&marker, &away).unwrap();
    drive(&r, 3 * 24 * HOUR, settled(id)).await;
    assert_eq!(r.catalog.restore(id).unwrap().unwrap().state, RestoreStatus::Active);
    std::fs::rename(&away, &marker).unwrap();
    drive(&r, 2 * HOUR, settled(id)).await;
    assert_eq!(restored_bytes(&r, &r.item(id)), r.data);
    assert_eq!(r.store.calls(Op::Restore), 0);

    // `restore.mirror_wait_days = 0`: not waited for at all.
    let mut r = rig_with_disk_mirror(10).await;
    r.cfg.restore.mirror_wait_days = 0;
    let marker = r
        .cfg
        .mirror_root(&r.cfg.store.mirror[0])
        .join(camvault::mirror::disk::MARKER);
    let id = r.start_from(1, Source::Mirror).await;
    std::fs::remove_file(&marker).unwrap();
    let run = drive(&r, 24 * HOUR, settled(id)).await;
    assert!(run.passes <= 2, "failed on the first pass: {run:?}");
    let error = r.item(id).error.unwrap_or_default();
    assert!(
        error.contains("waited 0 days") && error.contains("restore.mirror_wait_days"),
        "{error}"
    );
}
