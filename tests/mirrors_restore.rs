//! Restores and playback from the best copy (issue 21, item 4), through the real binary:
//! an `fs` main store whose emulated lifecycle archives the clips, and an `fs` mirror (a
//! disk at home) that holds them readable. The plan prices each copy and takes the free,
//! immediate one; the bytes are checked against the catalog, and a damaged mirror copy
//! never reaches the user; the web player plays the mirror's copy with no restore.

mod common;

use std::path::Path;
use std::time::Duration;

use common::archive::*;
use common::web::http;
use common::*;

const MIRROR: &str =
    "[[store.mirror]]\nname = \"usb\"\nkind = \"fs\"\n[store.mirror.fs]\nroot = \"usb\"\nfsync = false\n";

/// Three clips of 40 days ago, in the main store only (they left the cache at ingest),
/// then a disk mirror added and backfilled from the main store.
fn mirrored_site(edits: &str) -> (Env, Vec<(String, Vec<u8>)>, i64) {
    let (env, clips, t0) = old_clips(edits, 3, 7, 40_000);
    env.ok(&["ingest", "--once"]);
    assert_eq!(env.status()["files"]["cached"], 0);
    let cfg = std::fs::read_to_string(env.config()).unwrap();
    std::fs::write(env.config(), format!("{cfg}\n{MIRROR}")).unwrap();
    std::fs::create_dir_all(env.root().join("usb")).unwrap();
    env.ok(&["mirror", "init", "usb"]);
    let out = env.ok(&["mirror", "backfill", "usb"]);
    assert!(out.contains("3 copied and verified"), "{out}");
    (env, clips, t0)
}

fn range(t0: i64) -> [String; 2] {
    let fmt = |t: i64| jiff::Timestamp::from_second(t).unwrap().to_string();
    [fmt(t0 - 60), fmt(t0 + 3600)]
}

fn restored(dir: &Path, key: &str) -> Option<Vec<u8>> {
    let name = key.rsplit('/').next().unwrap();
    files_under(dir)
        .into_iter()
        .find(|p| p.file_name().unwrap().to_str() == Some(name))
        .map(|p| std::fs::read(p).unwrap())
}

#[test]
fn restores_take_the_disk_mirror_first_check_its_bytes_and_fall_back() {
    let (env, clips, t0) = mirrored_site("");
    let [from, to] = range(t0);
    let dry = ["restore", "--from", &from, "--to", &to, "--dry-run", "--json"];

    // The main store is readable (Standard, billed download); the disk is free: the disk.
    let plan = json(&env, &dry);
    let items = plan["items"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    for i in items {
        assert_eq!(
            (i["source"].as_str(), i["store"].as_str()),
            (Some("mirror"), Some("usb")),
            "{plan:#}"
        );
        let copies = i["copies"].as_array().unwrap();
        let primary = copies.iter().find(|c| c["store"] == "primary").unwrap();
        assert!(
            primary["cny"].as_f64().unwrap() > 0.0,
            "the main store's download is priced: {i:#}"
        );
        let usb = copies.iter().find(|c| c["store"] == "usb").unwrap();
        assert_eq!(
            (usb["cny"].as_f64(), usb["hours"].as_f64(), usb["kind"].as_str()),
            (Some(0.0), Some(0.0), Some("fs"))
        );
    }
    assert_eq!(plan["total_cny"], 0.0, "{plan:#}");
    // The store's keys, in the clips' order (by time).
    let clips: Vec<(String, Vec<u8>)> = items
        .iter()
        .zip(clips)
        .map(|(i, (_, data))| (i["key"].as_str().unwrap().to_string(), data))
        .collect();

    // A damaged mirror copy (same size, other bytes): the restore reads it, sees the
    // CRC-64 differ, and takes the main store's (readable) copy instead.
    let (bad_key, bad_data) = &clips[1];
    let on_disk = env.root().join("usb").join(bad_key);
    let mut junk = bad_data.clone();
    junk[100] ^= 0xff;
    std::fs::write(&on_disk, &junk).unwrap();
    let out_dir = env.root().join("out1");
    let out = env.ok(&[
        "restore",
        "--from",
        &from,
        "--to",
        &to,
        "--wait",
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    assert!(out.contains("done"), "{out}");
    for (key, data) in &clips {
        assert_eq!(restored(&out_dir, key).as_ref(), Some(data), "{key} byte for byte");
    }
    assert_eq!(
        catalog_count(
            &env,
            "SELECT count(*) FROM events WHERE kind = 'verify_mismatch' AND message LIKE '%mirror \"usb\"%'"
        ),
        1
    );
    assert_eq!(
        catalog_count(
            &env,
            "SELECT count(*) FROM copies WHERE store = 'usb' AND state = 'missing'"
        ),
        1,
        "the damaged copy is no longer counted as verified"
    );
    // The backfill copies it again (from the main store), so the mirror is whole.
    std::fs::remove_file(&on_disk).unwrap();
    let meta = env.root().join("usb/.camvault/meta").join(format!("{bad_key}.json"));
    std::fs::remove_file(meta).unwrap();
    let out = env.ok(&["mirror", "backfill", "usb"]);
    assert!(out.contains("1 copied and verified"), "{out}");
    assert_eq!(&std::fs::read(&on_disk).unwrap(), bad_data);

    // A month later the main store has archived them; the disk still holds them.
    env.ok(&["lifecycle", "apply"]);
    set_store_clock(&env, 31 * DAY);
    let plan = json(&env, &dry);
    for i in plan["items"].as_array().unwrap() {
        assert_eq!(i["store"], "usb", "{plan:#}");
        let primary = i["copies"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["store"] == "primary")
            .unwrap()
            .clone();
        assert_eq!(primary["class"], "DeepColdArchive");
        assert!(
            primary["hours"].as_f64().unwrap() >= 12.0 && primary["cny"].as_f64().unwrap() > 0.0,
            "{primary:#}"
        );
    }
    assert_eq!(
        (plan["total_cny"].as_f64(), plan["hours"].as_f64()),
        (Some(0.0), Some(0.0))
    );
    let text = env.ok(&["restore", "--from", &from, "--to", &to, "--dry-run"]);
    assert!(
        text.contains("from mirror usb") && text.contains("estimated cost: ¥0.00"),
        "{text}"
    );
    assert!(
        text.contains("primary") && text.contains("immediate"),
        "each copy's price and time: {text}"
    );

    // Restored from the disk at once, without --yes (nothing is billed), nothing asked of
    // the archive.
    let out_dir = env.root().join("out2");
    env.ok(&[
        "restore",
        "--from",
        &from,
        "--to",
        &to,
        "--wait",
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    for (key, data) in &clips {
        assert_eq!(restored(&out_dir, key).as_ref(), Some(data));
        assert!(
            store_meta(&env, key)["restore_requests"].as_u64().unwrap_or(0) == 0,
            "no restore of {key}"
        );
    }

    // A damaged mirror copy with the main store's archived: the clip fails with what to
    // do, no wrong bytes are written, and no restore is asked for behind the user's back.
    let (key0, data0) = &clips[0];
    let mut junk = data0.clone();
    junk[10] ^= 0x01;
    std::fs::write(env.root().join("usb").join(key0), &junk).unwrap();
    let out_dir = env.root().join("out3");
    let o = env.run(&[
        "restore",
        "--from",
        &from,
        "--to",
        &to,
        "--wait",
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    assert!(!o.status.success(), "{}", stdout(&o));
    let text = stdout(&o);
    assert!(text.contains("does not match") || text.contains("expected"), "{text}");
    assert!(text.contains("archived"), "{text}");
    assert_eq!(restored(&out_dir, key0), None, "no damaged bytes delivered");
    assert_eq!(restored(&out_dir, &clips[2].0).as_ref(), Some(&clips[2].1));
    assert_eq!(store_meta(&env, key0)["restore_requests"].as_u64().unwrap_or(0), 0);
    // With --max-wait 0 and the damaged copy no longer verified, nothing can be had at once.
    let plan = json(
        &env,
        &[
            "restore",
            "--from",
            &from,
            "--to",
            &to,
            "--dry-run",
            "--json",
            "--max-wait",
            "0",
        ],
    );
    assert_eq!(plan["items"][0]["source"], "archive", "{plan:#}");
    assert!(
        plan["items"][0]["note"]
            .as_str()
            .unwrap()
            .contains("no copy is ready within 0 h"),
        "{plan:#}"
    );
    assert_eq!(plan["items"][1]["source"], "mirror");
}

#[test]
fn the_web_player_plays_a_clip_from_the_disk_mirror_with_no_restore() {
    let port = free_port();
    let (env, clips, t0) = mirrored_site(&format!(
        "restore.drill_days = 0\nhttp.enabled = true\nhttp.listen = \"127.0.0.1:{port}\""
    ));
    env.ok(&["lifecycle", "apply"]);
    set_store_clock(&env, 31 * DAY);
    // The main store's class as the catalog knows it: archived.
    let [from, to] = range(t0);
    env.ok(&["restore", "--from", &from, "--to", &to, "--dry-run", "--max-wait", "0"]);
    let mut serve = env.serve();
    wait_port("127.0.0.1", port, "serve's web endpoint", Duration::from_secs(30));
    let day = jiff::Timestamp::from_second(t0)
        .unwrap()
        .to_zoned(jiff::tz::TimeZone::get("Asia/Shanghai").unwrap())
        .date()
        .to_string();
    let cams = env.status();
    let cam = camera_ids(&cams)[0].clone();
    let d: serde_json::Value =
        serde_json::from_slice(&http(port, "GET", &format!("/api/day?camera={cam}&date={day}"), &[], "").body).unwrap();
    let list = d["clips"].as_array().unwrap();
    assert_eq!(list.len(), 3, "{d:#}");
    for c in list {
        assert_eq!(
            (c["tier"].as_str(), c["playable"].as_bool(), c["mirror"].as_bool()),
            (Some("archived"), Some(true), Some(true)),
            "{c:#}"
        );
    }
    let id = list[0]["id"].as_i64().unwrap();
    let key0 = list[0]["key"].as_str().unwrap().to_string();
    let r = http(port, "GET", &format!("/media/clip/{id}"), &[], "");
    assert_eq!(r.code, 200);
    assert_eq!(&r.body, &clips[0].1, "the mirror's bytes");
    // The disk unplugged (its marker gone): not playable, never the empty mount point.
    std::fs::rename(env.root().join("usb/.camvault/mirror"), env.root().join("marker.bak")).unwrap();
    let r = http(port, "GET", &format!("/media/clip/{id}"), &[], "");
    assert_eq!(r.code, 409, "{}", String::from_utf8_lossy(&r.body));
    serve.kill().unwrap();
    serve.wait().unwrap();
    assert!(store_meta(&env, &key0)["restore_requests"].as_u64().unwrap_or(0) == 0);
}

/// The mirror's folder's recordings (key → bytes), without its metadata.
fn mirror_objects(env: &Env) -> std::collections::BTreeMap<String, Vec<u8>> {
    let root = env.root().join("usb");
    files_under(&root)
        .into_iter()
        .filter_map(|p| {
            let rel = p.strip_prefix(&root).unwrap().to_string_lossy().into_owned();
            (!rel.starts_with(".camvault")).then(|| (rel, std::fs::read(&p).unwrap()))
        })
        .collect()
}

/// Item 3: a disk mirror added when the main store has archived everything old. The plan
/// (clips, bytes, cost and time per tier) comes first and nothing is restored without
/// --yes; with --yes the restore runs through the restore flow into the mirror; killed
/// while the store restores and run again, it resumes without asking the store twice.
#[test]
fn backfill_of_archived_recordings_shows_the_plan_then_restores_into_the_mirror_once() {
    // Restores take an hour of the store's clock: the test moves the clock.
    let env = Env::new(
        1,
        "restore.poll_secs = 1\nrestore.poll_max_secs = 1\nrestore.drill_days = 0\nstore.fs.restore_standard_secs = 3600\nstore.fs.restore_expedited_secs = 3600",
    );
    let t0 = now_unix() - 40 * DAY;
    let mut datas = Vec::new();
    for i in 0..3 {
        let data = bytes(i as u64 + 21, 30_000 + i * 500);
        env.put_old(&old_clip(t0 + i as i64 * 60), &data);
        datas.push(data);
    }
    // One recent recording, still in the local cache: `serve` copies that one, not this.
    env.put_old(&old_clip(now_unix() - 600), &bytes(99, 10_000));
    env.ok(&["ingest", "--once"]);
    assert_eq!(env.status()["files"]["cached"], 1);
    env.ok(&["lifecycle", "apply"]);
    set_store_clock(&env, 31 * DAY);
    let [from, to] = range(t0);
    let plan = json(&env, &["restore", "--from", &from, "--to", &to, "--dry-run", "--json"]);
    let keys: Vec<String> = plan["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["key"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(keys.len(), 3);
    let requests = |env: &Env| -> Vec<u64> {
        keys.iter()
            .map(|k| store_meta(env, k)["restore_requests"].as_u64().unwrap_or(0))
            .collect()
    };

    let cfg = std::fs::read_to_string(env.config()).unwrap();
    std::fs::write(env.config(), format!("{cfg}\n{MIRROR}")).unwrap();
    std::fs::create_dir_all(env.root().join("usb")).unwrap();
    env.ok(&["mirror", "init", "usb"]);

    // Without --yes: the plan, and nothing restored, nothing copied.
    let o = env.run(&["mirror", "backfill", "usb"]);
    let text = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{text}");
    assert!(text.contains("3 recording(s)") && text.contains("archived"), "{text}");
    assert!(
        text.contains("expedited") && text.contains("standard") && text.contains("48 hour(s)"),
        "per tier: {text}"
    );
    assert!(text.contains("--yes") && text.contains("nothing restored"), "{text}");
    assert_eq!(requests(&env), [0, 0, 0]);
    assert!(mirror_objects(&env).is_empty());

    // With --yes: requested once each, then killed while the store restores.
    let mut child = env.cmd(&["mirror", "backfill", "usb", "--yes"]).spawn().unwrap();
    wait_for(Duration::from_secs(30), "three restore requests", || {
        requests(&env) == [1, 1, 1]
    });
    // The catalog records them as requested before the kill.
    wait_for(Duration::from_secs(30), "the items recorded as requested", || {
        catalog_count(&env, "SELECT count(*) FROM restore_items WHERE state = 'requested'") == 3
    });
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(mirror_objects(&env).is_empty());

    // Run again before the store is done: it resumes the same restore (no new request),
    // and is stopped again (its wait goes on until the store's clock moves).
    let mut child = env
        .cmd(&["mirror", "backfill", "usb", "--yes"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(child.stdout.take().unwrap()));
    let resumed = lines.find(|l| l.as_ref().is_ok_and(|l| l.contains("resuming restore(s) [1]")));
    assert!(resumed.is_some(), "the rerun resumes restore #1");
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(requests(&env), [1, 1, 1], "asked once");
    assert_eq!(catalog_count(&env, "SELECT count(*) FROM restores"), 1, "one restore");

    // The store has restored them: the rerun downloads, checks, copies and verifies.
    set_store_clock(&env, 31 * DAY + 2 * 3600);
    let out = env.ok(&["mirror", "backfill", "usb", "--yes"]);
    assert!(out.contains("restored and copied to \"usb\": 3 recording(s)"), "{out}");
    assert_eq!(requests(&env), [1, 1, 1], "never asked twice");
    let got = mirror_objects(&env);
    let want: std::collections::BTreeMap<String, Vec<u8>> = keys.iter().cloned().zip(datas).collect();
    assert_eq!(got, want, "exactly the archived clips, byte for byte");
    assert_eq!(
        catalog_count(
            &env,
            "SELECT count(*) FROM copies WHERE store = 'usb' AND state = 'verified'"
        ),
        3
    );
    assert!(
        files_under(&env.vault().join(".camvault-backfill")).is_empty(),
        "no restored file left beside the vault"
    );
    // Nothing left: a third run asks nothing.
    let out = env.ok(&["mirror", "backfill", "usb", "--yes"]);
    assert!(!out.contains("archived"), "{out}");
    assert_eq!(requests(&env), [1, 1, 1]);
}

/// Item 6: `cost --model`, `cost plan` and `cost` price each copy from `[prices]`: a second
/// Deep Cold Archive copy in another region by its own plan, a disk mirror as whole disks
/// bought once, and what the disk saves on expected restores.
#[test]
fn cost_prices_each_copy_and_the_disk_s_savings_from_the_table() {
    let env = Env::new(
        1,
        "prices.disk_cny_per_tb = 100\nprices.disk_tb = 2\nprices.deep_cold_archive_gb_month = 0.01\n\
         tiering.transition_days = 30\ntiering.storage_class = \"DeepColdArchive\"\n\
         [[store.mirror]]\nname = \"usb\"\nkind = \"fs\"\n[store.mirror.fs]\nroot = \"usb\"\n\
         [[store.mirror]]\nname = \"sh\"\nkind = \"oss\"\n[store.mirror.oss]\nbucket = \"cam-copy\"\nregion = \"cn-shanghai\"\n\
         access_key_id = \"LTAI-test\"\naccess_key_secret = \"test-secret\"\n\
         [store.mirror.tiering]\ntransition_days = 1\nstorage_class = \"DeepColdArchive\"\n",
    );
    // 10 GB a day for 12 months: 3600 GB, on 2 TB disks at ¥100/TB: 2 disks, ¥400.
    let m = json(
        &env,
        &["cost", "--model", "--daily-gb", "10", "--months", "12", "--json"],
    );
    let last = &m.as_array().unwrap()[11];
    let copies = last["copies"].as_array().unwrap();
    let usb = copies.iter().find(|c| c["store"] == "usb").unwrap();
    assert_eq!(
        (
            usb["disks"].as_u64(),
            usb["one_off_cny"].as_f64(),
            usb["monthly_cny"].as_f64()
        ),
        (Some(2), Some(400.0), Some(0.0)),
        "{usb:#}"
    );
    // The Shanghai copy: 2 days in Standard (1 + the day OSS takes), the rest Deep Cold.
    let sh = copies.iter().find(|c| c["store"] == "sh").unwrap();
    let want = ((20.0 * 0.12 + 3580.0 * 0.01) * 100.0_f64).round() / 100.0;
    assert_eq!(sh["monthly_cny"].as_f64(), Some(want), "{sh:#}");
    assert_eq!(sh["class"], "DeepColdArchive");
    let primary = last["total_cny"].as_f64().unwrap();
    assert_eq!(primary, ((310.0 * 0.12 + 3290.0 * 0.01) * 100.0_f64).round() / 100.0);
    assert_eq!(
        last["all_copies_monthly_cny"].as_f64(),
        Some(((primary + want) * 100.0).round() / 100.0)
    );
    let text = env.ok(&["cost", "--model", "--daily-gb", "10", "--months", "12"]);
    assert!(
        text.contains("prices.disk_cny_per_tb") && text.contains("¥400.00 once"),
        "{text}"
    );

    // cost plan: replays of footage two months old come from Deep Cold Archive: the disk saves them.
    let p = json(
        &env,
        &[
            "cost",
            "plan",
            "--daily-gb",
            "10",
            "--restores-per-month",
            "2",
            "--restore-gb",
            "1",
            "--restore-age-days",
            "60",
            "--json",
        ],
    );
    let s = &p["disk_mirror_savings"];
    let objects = (1.0e3_f64 / 7.0).ceil();
    let one = objects / 1e4 * 5.0 + 0.03 + 0.12 / 30.0 + objects / 1e4 * 0.01 + 0.5;
    let round = |x: f64| (x * 100.0).round() / 100.0;
    assert_eq!(s["restores_per_year"].as_f64(), Some(24.0));
    assert_eq!(s["restore_cny"].as_f64(), Some(round(one)), "{s:#}");
    assert_eq!(
        s["saved_cny_year"].as_f64(),
        Some(round(round(one * 2.0) * 12.0)),
        "{s:#}"
    );
    assert_eq!(
        (s["disks"].as_u64(), s["disk_one_off_cny"].as_f64()),
        (Some(2), Some(400.0)),
        "a year, 3650 GB, on 2 TB disks: {s:#}"
    );
    let text = env.ok(&[
        "cost",
        "plan",
        "--daily-gb",
        "10",
        "--restores-per-month",
        "2",
        "--restore-gb",
        "1",
        "--restore-age-days",
        "60",
    ]);
    assert!(
        text.contains("a disk mirror at home saves about") && text.contains("24 restore(s) a year"),
        "{text}"
    );

    // `cost` (the bill now): one line per copy, a disk with nothing on it yet costs nothing.
    let now = json(&env, &["cost", "--json"]);
    let stores: Vec<&str> = now["copies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["store"].as_str().unwrap())
        .collect();
    assert_eq!(stores, ["usb", "sh"], "{now:#}");
    assert_eq!(now["copies"][0]["disks"], 0);

    // Bad disk keys are refused, naming the key.
    let cfg = std::fs::read_to_string(env.config()).unwrap();
    std::fs::write(env.config(), set_key(&cfg, "prices", "disk_tb", "0")).unwrap();
    let o = env.run(&["cost", "plan"]);
    assert!(
        !o.status.success() && stderr(&o).contains("prices.disk_tb"),
        "{}",
        stderr(&o)
    );
}

/// A mirror's own archived copy (issue 21, item 4), with the OSS test server as the main
/// store and a second OSS bucket (another server) as mirror "sh" whose lifecycle moved the
/// clips to Cold Archive. Where the main copy is missing, or archived deeper than the wait
/// accepted allows, the plan takes the mirror's and the restore is asked of the mirror,
/// never of the main store; killed while the mirror restores and run again (`serve`), it
/// goes on polling the same request; a restored copy with the wrong bytes never reaches
/// the user.
#[test]
fn a_mirror_s_archived_copy_is_restored_in_the_mirror_resumes_and_is_checked() {
    needs!(PYTHON);
    use common::oss::{edit_meta, mirror_entry, oss_env_with, requests, server, server_of};
    let main = server(&[]);
    // The mirror's restores end when the test says so (their `ready_at`), not by a timer.
    let copy = server_of("cam-copy", &["--region", "cn-shanghai", "--restore-secs", "86400"]);
    let env = oss_env_with(
        &main,
        "camvault-test-secret",
        "cache.max_days = 30\nrestore.poll_secs = 1\nrestore.poll_max_secs = 1\nrestore.drill_days = 0",
    );
    let t0 = now_unix() - 40 * DAY;
    let datas: Vec<Vec<u8>> = (0..3).map(|i| bytes(31 + i as u64, 30_000 + i * 700)).collect();
    for (i, d) in datas.iter().enumerate() {
        env.put_old(&old_clip(t0 + i as i64 * 60), d);
    }
    env.ok(&["ingest", "--once"]);
    assert_eq!(env.status()["files"]["cached"], 0, "only the stores hold them");
    let cfg = std::fs::read_to_string(env.config()).unwrap();
    std::fs::write(
        env.config(),
        format!("{cfg}\n{}", mirror_entry("sh", &copy, "cam-copy")),
    )
    .unwrap();
    let out = env.ok(&["mirror", "backfill", "sh"]);
    assert!(out.contains("3 copied and verified"), "{out}");
    let ls = env.ls();
    let keys: Vec<String> = ls.iter().map(|f| f["key"].as_str().unwrap().to_string()).collect();
    let sizes: Vec<u64> = ls.iter().map(|f| f["size"].as_u64().unwrap()).collect();
    assert_eq!(
        sizes,
        datas.iter().map(|d| d.len() as u64).collect::<Vec<_>>(),
        "in time order"
    );

    // The mirror's lifecycle moved every copy to Cold Archive. The main store lost the
    // first two clips and holds the third in Deep Cold Archive (48 h at the Standard
    // tier, 5 h for Cold Archive); the second clip's mirror copy rotted (same size).
    for k in &keys {
        edit_meta(&copy, k, |m| m["class"] = "ColdArchive".into());
    }
    for k in &keys[..2] {
        std::fs::remove_file(main.data.path().join("objects").join(k)).unwrap();
        std::fs::remove_file(main.data.path().join("meta").join(format!("{k}.json"))).unwrap();
    }
    edit_meta(&main, &keys[2], |m| m["class"] = "DeepColdArchive".into());
    let rotten = copy.data.path().join("objects").join(&keys[1]);
    let mut junk = std::fs::read(&rotten).unwrap();
    junk[200] ^= 0x55;
    std::fs::write(&rotten, junk).unwrap();

    let fmt = |t: i64| jiff::Timestamp::from_second(t).unwrap().to_string();
    let (from, to) = (fmt(t0 - 60), fmt(t0 + 3600));
    let ask = [
        "restore",
        "--from",
        &from,
        "--to",
        &to,
        "--tier",
        "standard",
        "--max-wait",
        "12",
    ];
    let plan = json(&env, &[&ask[..], &["--dry-run", "--json"]].concat());
    let items = plan["items"].as_array().unwrap();
    for i in items {
        assert_eq!(
            (i["source"].as_str(), i["store"].as_str(), i["class"].as_str()),
            (Some("archive"), Some("sh"), Some("ColdArchive")),
            "restored in the mirror: {plan:#}"
        );
        let sh = i["copies"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["store"] == "sh")
            .unwrap();
        assert_eq!(
            (sh["usable"].as_bool(), sh["hours"].as_f64()),
            (Some(true), Some(5.0)),
            "{i:#}"
        );
        assert!(
            sh["cny"].as_f64().unwrap() > 0.0,
            "the mirror's restore is priced: {i:#}"
        );
    }
    let primary: Vec<_> = items[2]["copies"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["store"] == "primary")
        .collect();
    assert_eq!(
        (primary[0]["class"].as_str(), primary[0]["hours"].as_f64()),
        (Some("DeepColdArchive"), Some(48.0)),
        "the main store's copy takes longer than the 12 h accepted: {plan:#}"
    );
    assert!(
        items[..2].iter().all(|i| i["copies"].as_array().unwrap().len() == 1),
        "no main copy: {plan:#}"
    );
    assert_eq!(plan["hours"], 5.0, "{plan:#}");
    let keys_priced: Vec<&str> = plan["estimate"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["price"]["key"].as_str().unwrap())
        .collect();
    assert!(
        keys_priced.iter().any(|k| k.starts_with("cold_archive_standard")),
        "priced as the mirror's Cold Archive restore: {keys_priced:?}"
    );
    let text = env.ok(&[&ask[..], &["--dry-run"]].concat());
    assert!(text.contains("restored in that mirror"), "{text}");

    // Requested (billed: --yes) and waited for; killed while the mirror restores.
    let out_dir = env.root().join("out");
    let out = out_dir.to_str().unwrap();
    let mut child = env
        .cmd(&[&ask[..], &["--yes", "--wait", "--out", out]].concat())
        .spawn()
        .unwrap();
    let asked = || {
        requests(&copy, "?restore ")
            .iter()
            .filter(|l| l.starts_with("POST"))
            .count()
    };
    wait_for(Duration::from_secs(60), "three restores asked of the mirror", || {
        asked() == 3
    });
    wait_for(Duration::from_secs(30), "the items recorded as requested", || {
        catalog_count(&env, "SELECT count(*) FROM restore_items WHERE state = 'requested'") == 3
    });
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(requests(&main, "restore").is_empty(), "nothing asked of the main store");
    assert_eq!(
        catalog_count(&env, "SELECT count(*) FROM restore_item_stores WHERE store = 'sh'"),
        3,
        "each clip records the store it is restored in"
    );

    // Run again (`serve`): it polls the mirror's running restores and asks nothing again.
    let polls = |env: &Env| catalog_count(env, "SELECT sum(polls) FROM restore_items");
    let before = polls(&env);
    let mut serve = env.serve();
    wait_for(Duration::from_secs(60), "serve polling the mirror", || {
        polls(&env) >= before + 6
    });
    let s = json(&env, &["restore", "status", "1", "--json"]);
    assert_eq!(s["restore"]["state"], "active", "{s:#}");
    assert_eq!(asked(), 3, "asked once per clip");

    // The mirror has restored them: downloaded, checked, and the rotten one refused.
    for k in &keys {
        edit_meta(&copy, k, |m| m["restore"]["ready_at"] = 0.into());
    }
    let s = poll(Duration::from_secs(60), || {
        let s = json(&env, &["restore", "status", "1", "--json"]);
        if s["restore"]["state"] != "active" {
            Ok(s)
        } else {
            Err(format!("restore #1 did not finish: {s:#}"))
        }
    });
    serve.kill().unwrap();
    serve.wait().unwrap();
    let items = s["items"].as_array().unwrap();
    let states: Vec<&str> = items.iter().map(|i| i["state"].as_str().unwrap()).collect();
    assert_eq!(states, ["done", "failed", "done"], "{s:#}");
    for i in [0, 2] {
        let got = std::fs::read(items[i]["path"].as_str().unwrap()).unwrap();
        assert_eq!(got, datas[i], "{} byte for byte", keys[i]);
    }
    let err = items[1]["error"].as_str().unwrap();
    assert!(err.contains("mirror \"sh\"") && err.contains("checksum"), "{err}");
    assert!(err.contains("main store"), "says the main store lacks it too: {err}");
    let name = keys[1].rsplit('/').next().unwrap();
    assert!(
        files_under(&out_dir).iter().all(|p| !p.ends_with(name)),
        "no wrong bytes delivered"
    );
    assert!(
        catalog_count(
            &env,
            "SELECT count(*) FROM events WHERE kind = 'verify_mismatch' AND message LIKE '%mirror \"sh\"''s restored copy%'"
        ) >= 1
    );
    assert_eq!(
        catalog_count(
            &env,
            "SELECT count(*) FROM copies WHERE store = 'sh' AND state = 'missing'"
        ),
        1,
        "the rotten copy is no longer counted as verified"
    );
    assert_eq!(asked(), 3, "never asked twice");
    assert!(requests(&main, "restore").is_empty(), "nothing asked of the main store");

    // `cost` bills the three restore requests to the mirror, at its prices, none to the
    // main store.
    let c = json(&env, &["cost", "--json"]);
    assert_eq!(c["so_far"]["restore_requests"], 0, "{c:#}");
    let sh = &c["so_far"]["mirrors"][0];
    assert_eq!(
        (sh["store"].as_str(), sh["restore_requests"].as_u64()),
        (Some("sh"), Some(3)),
        "{c:#}"
    );
    assert!(sh["requests_cny"].as_f64().unwrap() > 0.0, "{c:#}");
    assert!(sh["price_key"].as_str().unwrap().ends_with("_per_10k"), "{c:#}");
    let text = env.ok(&["cost"]);
    assert!(
        text.contains("restore requests sent to mirror \"sh\" (3 requests"),
        "{text}"
    );
}
