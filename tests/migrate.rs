//! Moving in from the ossfs setup (issue 14), on the `fs` store with its emulated lifecycle
//! and clock: a bucket as the seed's ossfs mount left it (camera folders under
//! `camera_videos/`, other people's files beside them, odd names, an empty object), adopted
//! by reading the keys as capture would, then every recording prefix put under a rule.

mod common;

use common::*;

const DAY: i64 = 86_400;
const CAMERAS: &str = "[cameras.78df72a1b2c3]\nname = \"gate\"\ntimezone = \"Asia/Shanghai\"\n[cameras.5c02148a9e01]\nname = \"yard\"\ntimezone = \"Asia/Shanghai\"\n";

/// Writes an object into the fs store as a put would have (bytes and metadata), in Standard.
fn put_object(env: &Env, key: &str, data: &[u8]) {
    put_object_in(env, key, data, "Standard");
}

/// [`put_object`] in `class`, as if the lifecycle had moved it there.
fn put_object_in(env: &Env, key: &str, data: &[u8], class: &str) {
    let p = env.store().join(key);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, data).unwrap();
    let mut crc = crc64fast::Digest::new();
    crc.write(data);
    let meta = env.store().join(".camvault/meta").join(format!("{key}.json"));
    std::fs::create_dir_all(meta.parent().unwrap()).unwrap();
    let created = (now_unix() - 90 * DAY) * 1000;
    std::fs::write(
        meta,
        format!(
            r#"{{"size":{},"crc64":"{:016x}","storage_class":"{class}","created_ms":{created}}}"#,
            data.len(),
            crc.sum64()
        ),
    )
    .unwrap();
}

fn set_store_clock(env: &Env, secs: i64) {
    let p = env.store().join(".camvault/clock");
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, secs.to_string()).unwrap();
}

struct Bucket {
    old: Vec<String>,
    new: Vec<String>,
    odd: String,
    empty: String,
    theirs: Vec<String>,
}

/// The seed's bucket: old-layout clips of camera 78DF72A1B2C3 and new-layout clips (two
/// lenses) of 5C02148A9E01 under `camera_videos/`, one clip whose name ossfs kept with a
/// space, unicode and a literal `%25`, an empty clip, and the family's own files.
fn seed_bucket(env: &Env) -> Bucket {
    let t = 1_716_267_930; // 2024-05-21 13:05:30 in Shanghai
    let old: Vec<String> = (0..3)
        .map(|i| format!("camera_videos/{}", old_clip(t + i * 3600)))
        .collect();
    let new = vec![
        "camera_videos/XiaomiCamera_00_5C02148A9E01/00_20240601080000_20240601080130.mp4".to_string(),
        "camera_videos/XiaomiCamera_00_5C02148A9E01/10_20240601080000_20240601080130.mp4".to_string(),
    ];
    let odd = "camera_videos/XiaomiCamera_00_5C02148A9E01/holiday clip 50%25 é.mp4".to_string();
    let empty = "camera_videos/XiaomiCamera_00_5C02148A9E01/00_20240601090000_20240601090100.mp4".to_string();
    let theirs = vec![
        "camera_videos/家庭共享/照片 1.jpg".to_string(),
        "notes/readme%20.txt".to_string(),
    ];
    for (i, k) in old.iter().chain(&new).chain([&odd]).chain(&theirs).enumerate() {
        put_object(env, k, &bytes(i as u64, 3000 + i * 10));
    }
    put_object(env, &empty, b"");
    Bucket {
        old,
        new,
        odd,
        empty,
        theirs,
    }
}

#[test]
fn adopt_reads_camera_folders_under_any_prefix_and_leaves_other_files_alone() {
    let env = Env::new(1, CAMERAS);
    let b = seed_bucket(&env);
    let theirs_before: Vec<(Vec<u8>, std::time::SystemTime)> = b
        .theirs
        .iter()
        .map(|k| {
            let p = env.store().join(k);
            (std::fs::read(&p).unwrap(), p.metadata().unwrap().modified().unwrap())
        })
        .collect();

    let out = env.ok(&["adopt", "--dry-run"]);
    for needle in [
        "camera_videos/xiaomi_camera_videos/78DF72A1B2C3/ -> gate: 3 object(s)",
        "2024-05-21 13:05:30 +08:00 .. 2024-05-21 15:05:30 +08:00 (Asia/Shanghai)",
        "camera_videos/XiaomiCamera_00_5C02148A9E01/ -> yard: 4 object(s)",
        "1 recording(s) whose names give no time, timed by their upload time",
        "holiday clip 50%25 é.mp4: name \"holiday clip 50%25 é.mp4\" matches no known camera layout",
        "2 object(s) left alone, not in a camera folder",
        "dry run: nothing recorded",
    ] {
        assert!(out.contains(needle), "{needle}:\n{out}");
    }
    assert_eq!(env.status()["files"]["total"], 0, "a dry run records nothing");

    let out = env.ok(&["adopt"]);
    assert!(out.contains("adopted 7 object(s)"), "{out}");
    let ls = env.ls();
    let keys: Vec<&str> = ls.iter().map(|r| r["key"].as_str().unwrap()).collect();
    for k in b.old.iter().chain(&b.new).chain([&b.odd, &b.empty]) {
        assert!(keys.contains(&k.as_str()), "{k} adopted under its own key: {keys:?}");
    }
    for k in &b.theirs {
        assert!(!keys.contains(&k.as_str()), "{k} is not a recording");
    }
    let row = |k: &str| ls.iter().find(|r| r["key"] == k).unwrap().clone();
    // Camera by MAC → configured name, times as capture reads them.
    let first = row(&b.old[0]);
    assert_eq!(first["camera"], "gate");
    assert_eq!(first["start"], "2024-05-21T13:05:30+08:00", "{first}");
    let lens = row(&b.new[1]);
    assert_eq!(lens["camera"], "yard");
    assert_eq!(lens["start"], "2024-06-01T08:00:00+08:00");
    assert_eq!(lens["end"], "2024-06-01T08:01:30+08:00");
    assert_eq!(
        catalog_count(
            &env,
            "SELECT count(*) FROM files WHERE channel = '10' AND camera = 'yard' AND layout = 'xiaomi-new'"
        ),
        1,
        "the lens is kept"
    );
    let odd = row(&b.odd);
    assert_eq!(
        odd["camera"], "yard",
        "an odd name in a camera folder still has its camera"
    );
    assert!(
        odd["warning"].as_str().unwrap().contains("no known camera layout"),
        "{odd}"
    );
    assert!(row(&b.empty)["warning"]
        .as_str()
        .unwrap()
        .contains("empty file (0 bytes)"));
    // `ls --camera` finds them by the configured name.
    let gate: Vec<serde_json::Value> = serde_json::from_str(&env.ok(&["ls", "--json", "--camera", "gate"])).unwrap();
    assert_eq!(gate.len(), 3);

    for (k, (data, mtime)) in b.theirs.iter().zip(&theirs_before) {
        let p = env.store().join(k);
        assert_eq!(&std::fs::read(&p).unwrap(), data, "{k} untouched");
        assert_eq!(&p.metadata().unwrap().modified().unwrap(), mtime, "{k} untouched");
    }

    // The full listing and the catalog agree; a rerun adds only what is new.
    let out = env.ok(&["adopt", "--check"]);
    assert!(
        out.contains("ok: every recording in the bucket is in the catalog"),
        "{out}"
    );
    let late = "camera_videos/XiaomiCamera_00_5C02148A9E01/00_20240602080000_20240602080100.mp4";
    put_object(&env, late, &bytes(99, 4000));
    let out = env.run(&["adopt", "--check"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(stdout(&out).contains(&format!("in the bucket, not in the catalog: {late}")));
    let out = env.ok(&["adopt"]);
    assert!(
        out.contains("adopted 1 object(s) from the store (7 already in the catalog"),
        "{out}"
    );
    env.ok(&["adopt", "--check"]);
    // An object the catalog holds goes missing from the bucket: the check says so.
    std::fs::remove_file(env.store().join(&b.old[1])).unwrap();
    let out = env.run(&["adopt", "--check"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains(&format!("in the catalog (verified), not in the bucket: {}", b.old[1])),
        "{}",
        stdout(&out)
    );
}

const SEED_RULE: &str = "<Rule><ID>seed videos</ID><Prefix>videos/</Prefix><Status>Enabled</Status><Transition><Days>30</Days><StorageClass>DeepColdArchive</StorageClass></Transition></Rule>";

fn set_rules(env: &Env, rules: &str) {
    let p = env.store().join(".camvault/lifecycle.xml");
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, format!("<LifecycleConfiguration>{rules}</LifecycleConfiguration>")).unwrap();
}

#[test]
fn lifecycle_puts_every_adopted_prefix_under_a_rule_and_keeps_the_owners_rules() {
    let env = Env::new(1, CAMERAS);
    let b = seed_bucket(&env);
    set_rules(&env, SEED_RULE);
    // Not adopted yet: the listing alone shows the camera folders the seed's rule misses.
    let out = env.run(&["lifecycle", "check"]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    for needle in [
        "ok: \"videos/\" (key template)",
        "NOT COVERED: \"camera_videos/xiaomi_camera_videos/78DF72A1B2C3/\" (bucket listing, not adopted yet): 3 object(s)",
        "NOT COVERED: \"camera_videos/XiaomiCamera_00_5C02148A9E01/\"",
        "no lifecycle rule covers it",
        "CNY a month more than in DeepColdArchive",
    ] {
        assert!(text.contains(needle), "{needle}:\n{text}");
    }
    env.ok(&["adopt"]);
    // The health check (doctor) says so too.
    let out = env.ok(&["doctor"]);
    assert!(
        out.contains("recordings not under a lifecycle rule to DeepColdArchive"),
        "{out}"
    );

    let out = env.ok(&["lifecycle", "apply"]);
    assert!(out.contains("1 other rule(s) of the bucket kept unchanged"), "{out}");
    let stored = std::fs::read_to_string(env.store().join(".camvault/lifecycle.xml")).unwrap();
    assert!(stored.contains(SEED_RULE), "the owner's rule byte for byte: {stored}");
    assert!(
        !stored.contains("<ID>camvault</ID>"),
        "videos/ is covered by the owner's rule already: {stored}"
    );
    assert!(stored.contains("<Prefix>camera_videos/xiaomi_camera_videos/78DF72A1B2C3/</Prefix>"));
    assert!(stored.contains("<Prefix>camera_videos/XiaomiCamera_00_5C02148A9E01/</Prefix>"));
    assert!(
        !stored.contains("<Prefix>camera_videos/</Prefix>"),
        "no rule reaches the family's files"
    );
    env.ok(&["lifecycle", "check"]);
    let out = env.ok(&["lifecycle", "apply"]);
    assert!(out.contains("already in place"), "{out}");
    let out = env.ok(&["doctor"]);
    assert!(
        out.contains("every prefix holding recordings is under a lifecycle rule"),
        "{out}"
    );

    // The emulated lifecycle moves the recordings after 30 days, and nothing else.
    set_store_clock(&env, 31 * DAY);
    for k in [&b.old[0], &b.new[1], &b.odd] {
        let head: serde_json::Value = serde_json::from_str(&env.ok(&["store", "head", k])).unwrap();
        assert_eq!(head["storage_class"], "DeepColdArchive", "{k}: {head}");
    }
    for k in &b.theirs {
        let head: serde_json::Value = serde_json::from_str(&env.ok(&["store", "head", k])).unwrap();
        assert_eq!(head["storage_class"], "Standard", "{k} is not ours to move: {head}");
    }
}

#[test]
fn rules_that_do_not_cover_or_that_delete_are_named() {
    let env = Env::new(1, CAMERAS);
    seed_bucket(&env);
    env.ok(&["adopt"]);
    let ia = "<Rule><ID>cheap</ID><Prefix>camera_videos/xiaomi_camera_videos/</Prefix><Status>Enabled</Status><Transition><Days>30</Days><StorageClass>IA</StorageClass></Transition></Rule>";
    let off = "<Rule><ID>paused</ID><Prefix>camera_videos/XiaomiCamera_00_5C02148A9E01/</Prefix><Status>Disabled</Status><Transition><Days>30</Days><StorageClass>DeepColdArchive</StorageClass></Transition></Rule>";
    set_rules(&env, &format!("{SEED_RULE}{ia}{off}"));
    let out = env.run(&["lifecycle", "check"]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(
        text.contains("rule \"cheap\" moves it to IA after 30 days, not DeepColdArchive"),
        "{text}"
    );
    assert!(text.contains("rule \"paused\" covers it but is DISABLED"), "{text}");
    let out = env.ok(&["lifecycle", "apply"]);
    assert!(out.contains("3 other rule(s) of the bucket kept unchanged"), "{out}");
    let stored = std::fs::read_to_string(env.store().join(".camvault/lifecycle.xml")).unwrap();
    for r in [SEED_RULE, ia, off] {
        assert!(stored.contains(r), "kept byte for byte: {r}");
    }
    env.ok(&["lifecycle", "check"]);

    // A bucket-wide rule that expires objects: loud, and never fixed silently.
    let purge = "<Rule><ID>purge after a year</ID><Prefix></Prefix><Status>Enabled</Status><Expiration><Days>365</Days></Expiration></Rule>";
    let before = std::fs::read_to_string(env.store().join(".camvault/lifecycle.xml")).unwrap();
    std::fs::write(
        env.store().join(".camvault/lifecycle.xml"),
        before.replace(
            "</LifecycleConfiguration>",
            &format!("{purge}</LifecycleConfiguration>"),
        ),
    )
    .unwrap();
    for args in [&["lifecycle", "check"][..], &["lifecycle", "apply"], &["doctor"]] {
        let out = env.run(args);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stdout(&out));
        assert!(
            stdout(&out).contains("rule \"purge after a year\" DELETES every object under \"(the whole bucket)\" 365 days after upload: it would delete recordings"),
            "{args:?}: {}",
            stdout(&out)
        );
    }
    let after = std::fs::read_to_string(env.store().join(".camvault/lifecycle.xml")).unwrap();
    assert!(after.contains(purge), "the owner's rule is theirs to remove");
}

/// The hourly check in `serve` counts the bucket (a listing's sums on fs) beside the catalog,
/// and the `bucket_drift` health rule fires for a recording the catalog does not know and
/// for a verified object the bucket no longer holds.
#[test]
fn the_buckets_own_numbers_beside_the_catalogs() {
    let env = Env::new(1, CAMERAS);
    let b = seed_bucket(&env);
    env.ok(&["adopt"]);
    let drift = |s: &serde_json::Value| {
        s["health"]["problems"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["rule"] == "bucket_drift")
            .map(|p| p["message"].as_str().unwrap().to_string())
    };
    let mut serve = env.serve();
    let s = env.wait_status(std::time::Duration::from_secs(30), |s| s["bucket"]["objects"].is_u64());
    // 7 recordings, 2 other files, and whatever camvault keeps there itself.
    assert!(s["bucket"]["objects"].as_u64().unwrap() >= 9, "{s:#}");
    assert_eq!(s["bucket"]["source"], "listing");
    assert!(s["bucket"]["classes"]["Standard"]["objects"].as_u64().unwrap() >= 9);
    assert_eq!(drift(&s), None, "{s:#}");
    let metrics = env.ok(&["status"]);
    assert!(metrics.contains("bucket  "), "{metrics}");
    serve.kill().unwrap();
    serve.wait().unwrap();

    let late = "camera_videos/XiaomiCamera_00_5C02148A9E01/00_20240603080000_20240603080100.mp4";
    put_object(&env, late, &bytes(77, 5000));
    std::fs::remove_file(env.store().join(&b.old[2])).unwrap();
    let mut serve = env.serve();
    let s = env.wait_status(std::time::Duration::from_secs(30), |s| drift(s).is_some());
    let msg = drift(&s).unwrap();
    assert!(
        msg.contains(&format!("1 recording(s) the catalog does not know (e.g. {late})")),
        "{msg}"
    );
    assert!(
        msg.contains(&format!(
            "1 object(s) the catalog has verified are not in the bucket (e.g. {})",
            b.old[2]
        )),
        "{msg}"
    );
    serve.kill().unwrap();
    serve.wait().unwrap();
}

/// A listing interrupted half way on the `fs` store (a HEAD of page 2 and the listing of
/// page 3 fail): the rerun adopts the rest, from where the catalog says it stopped.
#[tokio::test]
async fn an_interrupted_listing_is_resumed_on_fs() {
    let env = Env::new(1, CAMERAS);
    let t = now_unix() - 90 * DAY;
    let keys: Vec<String> = (0..7)
        .map(|i| format!("camera_videos/{}", old_clip(t + i * 60)))
        .collect();
    for (i, k) in keys.iter().enumerate() {
        put_object(&env, k, &bytes(i as u64, 1000));
    }
    let cfg = camvault::config::Config::load(&env.config()).unwrap();
    let cat = camvault::catalog::Catalog::open(&cfg.catalog(), true).unwrap();
    let store = std::sync::Arc::new(camvault::store::fs::FsStore::new(&env.store(), false));
    common::adopt::interrupted_listing_resumes(&cfg, &cat, store, &keys).await;
}

/// End times of old-layout clips (`<MM>M<SS>S_<unix10>.mp4` gives only the start), as
/// capture has them: from the MP4 header for a clip in Standard (ranged reads, no
/// download); for archived clips, never read, the next clip's start when it follows within
/// a clip's length, else none. The dry run says which end comes from where.
#[tokio::test]
async fn adopted_old_layout_clips_get_their_end_as_capture_would() {
    let env = Env::new(1, CAMERAS);
    let t = now_unix() - 90 * DAY;
    let mp4 = env.root().join("clip.mp4");
    hevc_clip(&mp4, 3, "160x120", false);
    let with_header = format!("camera_videos/{}", old_clip(t));
    let no_header = format!("camera_videos/{}", old_clip(t + 600));
    put_object(&env, &with_header, &std::fs::read(&mp4).unwrap());
    put_object(&env, &no_header, &bytes(1, 4000));
    // The yard camera's two archived clips, a minute apart.
    let archived: Vec<String> = [t, t + 60]
        .iter()
        .map(|u| format!("camera_videos/{}", old_clip(*u).replace("78DF72A1B2C3", "5C02148A9E01")))
        .collect();
    for (i, k) in archived.iter().enumerate() {
        put_object_in(&env, k, &bytes(i as u64 + 2, 4000), "DeepColdArchive");
    }

    let out = env.ok(&["adopt", "--dry-run"]);
    for needle in [
        "2 clip(s) named by their start only: end from the MP4 header (ranged reads) for 2 in Standard; from the next clip's start (when within 65 s) for 0 archived",
        "2 clip(s) named by their start only: end from the MP4 header (ranged reads) for 0 in Standard; from the next clip's start (when within 65 s) for 2 archived",
    ] {
        assert!(out.contains(needle), "{needle}:\n{out}");
    }

    // The archived clips, in-process: not one GET.
    let cfg = camvault::config::Config::load(&env.config()).unwrap();
    let cat = camvault::catalog::Catalog::open(&cfg.catalog(), true).unwrap();
    let fs: std::sync::Arc<dyn camvault::store::Backend> =
        std::sync::Arc::new(camvault::store::fs::FsStore::new(&env.store(), false));
    let store = camvault::store::fault::FaultStore::new(fs, 1);
    let yard = "camera_videos/xiaomi_camera_videos/5C02148A9E01/";
    let n = camvault::cli::adopt::adopt_listing(&cfg, &cat, &store, yard, false)
        .await
        .unwrap();
    assert_eq!((n.added, n.ends), (2, (0, 1, 1)), "{n:?}");
    assert_eq!(
        store.calls(camvault::store::fault::Op::Get),
        0,
        "archived objects are never read"
    );
    drop(cat);

    let out = env.ok(&["adopt"]);
    assert!(
        out.contains("end times of clips named by their start only: 1 from the MP4 header, 0 from the next clip's start, 1 unknown"),
        "{out}"
    );
    let ls = env.ls_all();
    let span = |k: &str| {
        let r = ls
            .iter()
            .find(|r| r["key"] == k)
            .unwrap_or_else(|| panic!("{k} in {ls:#?}"));
        let ms = |f: &str| {
            r[f].as_str()
                .map(|s| s.parse::<jiff::Timestamp>().unwrap().as_millisecond())
        };
        (ms("start").unwrap(), ms("end"))
    };
    assert_eq!(
        span(&with_header),
        (t * 1000, Some(t * 1000 + 3000)),
        "from the header, as capture"
    );
    assert_eq!(
        span(&no_header),
        (t * 1000 + 600_000, None),
        "no header, a gap after it"
    );
    assert_eq!(
        span(&archived[0]),
        (t * 1000, Some(t * 1000 + 60_000)),
        "the next clip's start"
    );
    assert_eq!(span(&archived[1]).1, None, "the last archived clip: nothing follows");
}
