//! Tiers and restores on the `fs` store, whose clock the tests move: objects transition by
//! age, archived clips need a restore, restores complete after their tier's delay, are
//! downloaded and verified, survive restarts, and expire.

mod common;

use std::path::Path;
use std::time::Duration;

use common::archive::*;
use common::*;

fn restore_status(env: &Env, id: u64) -> serde_json::Value {
    json(env, &["restore", "status", &id.to_string(), "--json"])
}

fn item_states(s: &serde_json::Value) -> Vec<String> {
    s["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["state"].as_str().unwrap().to_string())
        .collect()
}

/// Polls until restore `id` has ended, while `serve` drives it.
fn wait_restore(env: &Env, id: u64, limit: Duration) -> serde_json::Value {
    poll(limit, || {
        let s = restore_status(env, id);
        if s["restore"]["state"] != "active" {
            Ok(s)
        } else {
            Err(format!("restore #{id} did not finish: {s:#}"))
        }
    })
}

/// Finished passes of serve's `restores` worker, from `/api/status` on 127.0.0.1:`port`.
fn restores_passes(port: u16) -> u64 {
    use std::io::{Read, Write};
    let mut c = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        c,
        "GET /api/status HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    c.read_to_string(&mut out).unwrap();
    let Some((_, body)) = out.split_once("\r\n\r\n") else {
        return 0;
    };
    let s: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
    s["workers"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|w| w["name"] == "restores")
        .map(|w| w["runs"].as_u64().unwrap_or(0) - w["busy"].as_bool().unwrap_or(false) as u64)
        .unwrap_or(0)
}

/// Four clips of 40 days ago (purged from the cache at ingest) and one of an hour ago.
fn archive_site(edits: &str) -> (Env, Vec<(String, Vec<u8>)>, i64) {
    let (env, clips, t0) = old_clips(edits, 4, 1, 50_000);
    let recent = bytes(99, 20_000);
    env.put_old(&old_clip(now_unix() - 3600), &recent);
    env.ok(&["ingest", "--once"]);
    let s = env.status();
    assert_eq!(s["files"]["verified"], 5, "{s:#}");
    assert_eq!(s["files"]["cached"], 1, "the old clips left the cache: {s:#}");
    (env, clips, t0)
}

fn range(t0: i64) -> [String; 2] {
    let fmt = |t: i64| jiff::Timestamp::from_second(t).unwrap().to_string();
    [fmt(t0 - 60), fmt(now_unix() + 60)]
}

#[test]
fn archived_clips_are_planned_restored_verified_and_expire() {
    // The web endpoint's /api/status shows serve's `restores` worker passes (issue 18).
    let port = free_port();
    let (env, clips, t0) = archive_site(&format!("http.enabled = true\nhttp.listen = \"127.0.0.1:{port}\""));
    let [from, to] = range(t0);
    let plan_args = [
        "restore",
        "--from",
        &from,
        "--to",
        &to,
        "--tier",
        "expedited",
        "--dry-run",
        "--json",
    ];

    // Young objects in Standard: downloaded at once, no restore, no retrieval fee.
    let plan = json(&env, &plan_args);
    let sources: Vec<&str> = plan["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["source"].as_str().unwrap())
        .collect();
    assert_eq!(sources, ["store", "store", "store", "store", "cache"]);
    assert_eq!(plan["hours"], 0.0);

    // A month later, with the lifecycle rule applied, the four old clips are archived.
    env.ok(&["lifecycle", "apply"]);
    set_store_clock(&env, 31 * DAY);
    let plan = json(&env, &plan_args);
    let items = plan["items"].as_array().unwrap();
    let sources: Vec<&str> = items.iter().map(|i| i["source"].as_str().unwrap()).collect();
    assert_eq!(sources, ["archive", "archive", "archive", "archive", "cache"]);
    assert!(items[..4].iter().all(|i| i["class"] == "DeepColdArchive"), "{plan:#}");
    assert_eq!(plan["hours"], 12.0, "Deep Cold Archive, expedited");
    // Every line of the estimate names its price in the table, and adds up.
    let lines = plan["estimate"].as_array().unwrap();
    let keys: Vec<&str> = lines.iter().map(|l| l["price"]["key"].as_str().unwrap()).collect();
    assert!(
        keys.contains(&"deep_cold_archive_expedited_gb") && keys.contains(&"deep_cold_archive_expedited_per_10k"),
        "{keys:?}"
    );
    let gb: f64 = clips.iter().map(|(_, d)| d.len() as f64).sum::<f64>() / 1e9;
    let retrieval = lines
        .iter()
        .find(|l| l["price"]["key"] == "deep_cold_archive_expedited_gb")
        .unwrap();
    assert!((retrieval["quantity"].as_f64().unwrap() - gb).abs() < 1e-9);
    assert!((retrieval["cny"].as_f64().unwrap() - gb * 0.2).abs() < 1e-9);
    let sum: f64 = lines.iter().map(|l| l["cny"].as_f64().unwrap()).sum();
    assert!((plan["total_cny"].as_f64().unwrap() - (sum * 100.0).round() / 100.0).abs() < 1e-9);

    // Reading an archived clip fails with a message that says what to do.
    let key = items[0]["key"].as_str().unwrap().to_string();
    let verify = env.run(&["verify", "--deep"]);
    assert!(
        verify.status.success(),
        "archived objects are checked by HEAD, not read: {}",
        stdout(&verify)
    );

    // Request: the cached clip is copied at once, the archived ones are requested.
    let out = env.ok(&["restore", "--from", &from, "--to", &to, "--tier", "expedited", "--yes"]);
    assert!(out.contains("restore #1"), "{out}");
    let s = restore_status(&env, 1);
    assert_eq!(
        item_states(&s),
        ["requested", "requested", "requested", "requested", "done"],
        "{s:#}"
    );
    assert_eq!(store_meta(&env, &key)["restore_requests"], 1);

    // An overlapping restore of the first two clips does not ask the store again.
    let first_two = jiff::Timestamp::from_second(t0 + 90).unwrap().to_string();
    env.ok(&[
        "restore",
        "--from",
        &from,
        "--to",
        &first_two,
        "--tier",
        "expedited",
        "--yes",
    ]);
    assert_eq!(item_states(&restore_status(&env, 2)), ["requested", "requested"]);
    assert_eq!(
        store_meta(&env, &key)["restore_requests"],
        1,
        "asked once for both restores"
    );

    // serve, killed at once and started again, picks up both restores; 11 h later (store
    // clock) they are still in progress, at 12 h they are downloaded and verified.
    set_store_clock(&env, 31 * DAY + 11 * 3600);
    let mut serve = env.serve();
    serve.kill().unwrap();
    serve.wait().unwrap();
    let mut serve = env.serve();
    // A few polls (`restore.poll_secs` = 1): the state must not move.
    wait_port("127.0.0.1", port, "serve's web endpoint", Duration::from_secs(30));
    wait_for(Duration::from_secs(30), "three passes of the restores worker", || {
        restores_passes(port) >= 3
    });
    assert_eq!(restore_status(&env, 1)["restore"]["state"], "active");
    set_store_clock(&env, 31 * DAY + 12 * 3600 + 60);
    let s = wait_restore(&env, 1, Duration::from_secs(30));
    let s2 = wait_restore(&env, 2, Duration::from_secs(30));
    serve.kill().unwrap();
    serve.wait().unwrap();
    assert_eq!(s["restore"]["state"], "done", "{s:#}");
    assert_eq!(item_states(&s), ["done"; 5]);
    assert_eq!(item_states(&s2), ["done"; 2]);
    let dir = Path::new(s["dir"].as_str().unwrap()).to_path_buf();
    for (rel, data) in &clips {
        let file = rel.rsplit('/').next().unwrap();
        let found: Vec<_> = s["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|i| i["path"].as_str())
            .filter(|p| p.ends_with(file))
            .collect();
        assert_eq!(found.len(), 1, "{file} in {s:#}");
        assert!(found[0].starts_with(dir.to_str().unwrap()));
        assert_eq!(&std::fs::read(found[0]).unwrap(), data, "{file} restored byte for byte");
    }
    // The "ready" message went out as an event for the alert channels.
    let log = std::fs::read_to_string(env.serve_log()).unwrap();
    assert!(log.contains("restore(s) finished"), "{log}");

    // After the restored copy's days, the clip is archived again.
    set_store_clock(&env, 31 * DAY + 12 * 3600 + 4 * DAY);
    let plan = json(&env, &plan_args);
    assert_eq!(plan["items"][0]["source"], "archive", "{plan:#}");
    let list = env.ok(&["restore", "list"]);
    assert!(
        list.contains("#1") && list.contains("#2") && list.contains("done"),
        "{list}"
    );
}

#[test]
fn store_head_shows_when_the_emulated_lifecycle_archived_an_object() {
    let (env, _, _) = archive_site("");
    let key = env.ls()[0]["key"].as_str().unwrap().to_string();
    let head = json(&env, &["store", "head", &key]);
    assert_eq!(head["storage_class"], "Standard");
    assert!(head["transition_ms"].is_null(), "not archived: {head:#}");
    env.ok(&["lifecycle", "apply"]);
    set_store_clock(&env, 31 * DAY);
    let head = json(&env, &["store", "head", &key]);
    assert_eq!(head["storage_class"], "DeepColdArchive", "{head:#}");
    let created = store_meta(&env, &key)["created_ms"].as_i64().unwrap();
    assert_eq!(
        head["transition_ms"].as_i64(),
        Some(created + 30 * DAY * 1000),
        "moved on the rule's day 30 after upload, not when first looked at: {head:#}"
    );
}

#[test]
fn a_restore_waited_for_in_the_foreground_and_a_cancelled_one() {
    let (env, clips, t0) = archive_site("");
    env.ok(&["lifecycle", "apply"]);
    set_store_clock(&env, 31 * DAY);
    let [from, _] = range(t0);
    let to = jiff::Timestamp::from_second(t0 + 30).unwrap().to_string();
    let out_dir = env.root().join("out");
    // Standard tier: the config makes it take one second of store time.
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
        out_dir.to_str().unwrap(),
    ]);
    assert!(out.contains("restore #1: done"), "{out}");
    let file = clips[0].0.rsplit('/').next().unwrap();
    let got = files_under(&out_dir);
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(got[0].ends_with(file));
    assert_eq!(std::fs::read(&got[0]).unwrap(), clips[0].1);

    // Cancel: nothing more is downloaded.
    let to = jiff::Timestamp::from_second(t0 + 200).unwrap().to_string();
    env.ok(&["restore", "--from", &from, "--to", &to, "--tier", "expedited", "--yes"]);
    let out = env.ok(&["restore", "cancel", "2"]);
    assert!(out.contains("cancelled"), "{out}");
    let s = restore_status(&env, 2);
    assert_eq!(s["restore"]["state"], "cancelled");
    assert!(
        item_states(&s).iter().all(|st| st == "cancelled" || st == "done"),
        "{s:#}"
    );
    let again = env.run(&["restore", "cancel", "2"]);
    assert_eq!(again.status.code(), Some(1));
    let missing = env.run(&["restore", "status", "99"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(stderr(&missing).contains("no restore #99"), "{}", stderr(&missing));

    // Without a terminal and without --yes, a restore that costs money is not requested.
    let out = env.run(&["restore", "--from", &from, "--to", &to]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--yes"), "{}", stderr(&out));
    // Bad input names the flag.
    let out = env.run(&["restore", "--from", "yesterday", "--to", &to]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--from \"yesterday\""), "{}", stderr(&out));
}

#[test]
fn drill_proves_the_archive_reads_back_and_reports_a_corrupt_one() {
    let (env, _clips, _) = archive_site("");
    let out = env.ok(&["restore", "drill"]);
    assert!(out.contains("nothing to drill"), "nothing is archived yet: {out}");
    env.ok(&["lifecycle", "apply"]);
    set_store_clock(&env, 31 * DAY);
    let out = env.ok(&["restore", "drill", "--wait"]);
    assert!(out.contains("drill passed"), "{out}");
    let s = env.status();
    assert!(
        s["health"]["problems"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["rule"] != "restore_drill"),
        "{s:#}"
    );

    // Damage every archived object (same size): the next drill must notice.
    for key in env.objects().keys().filter(|k| k.starts_with("videos/")) {
        let p = env.store().join(key);
        let mut b = std::fs::read(&p).unwrap();
        b[100] ^= 0xff;
        std::fs::write(&p, b).unwrap();
    }
    let out = env.run(&["restore", "drill", "--wait"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(stdout(&out).contains("drill FAILED"), "{}", stdout(&out));
    let s = env.status();
    let p: Vec<_> = s["health"]["problems"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["rule"] == "restore_drill")
        .collect();
    assert_eq!(p.len(), 1, "{s:#}");
    assert!(p[0]["message"].as_str().unwrap().contains("checksum"), "{s:#}");
}

#[test]
fn get_fetches_one_clip_from_the_cache_or_the_store() {
    let (env, clips, _) = archive_site("");
    let ls = env.ls();
    let key = ls[0]["key"].as_str().unwrap().to_string();
    let out_dir = env.root().join("one");
    let out = env.ok(&["get", &key, "--out", out_dir.to_str().unwrap(), "--wait"]);
    assert!(out.contains("done"), "{out}");
    let got = files_under(&out_dir);
    assert_eq!(got.len(), 1);
    assert_eq!(std::fs::read(&got[0]).unwrap(), clips[0].1);
    let out = env.run(&["get", "videos/nope.mp4"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("no clip with key \"videos/nope.mp4\""),
        "{}",
        stderr(&out)
    );
}

#[test]
fn merged_restore_joins_real_clips_with_ffmpeg() {
    needs!(FFMPEG);
    let env = Env::new(1, "");
    let t0 = now_unix() - 2 * 3600;
    for i in 0..3 {
        let tmp = env.root().join(format!("c{i}.mp4"));
        hevc_clip(&tmp, 1, "160x120", true);
        env.put_old(&old_clip(t0 + i * 60), &std::fs::read(&tmp).unwrap());
    }
    env.ok(&["ingest", "--once"]);
    let [from, to] = range(t0);
    let out_dir = env.root().join("merged");
    let out = env.ok(&[
        "restore",
        "--from",
        &from,
        "--to",
        &to,
        "--merge",
        "--wait",
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    assert!(out.contains("restore #1: done"), "{out}");
    let merged = out_dir.join("merged.mp4");
    let probe = std::process::Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "format=duration:stream=codec_name",
            "-of",
            "json",
        ])
        .arg(&merged)
        .output()
        .unwrap();
    assert!(probe.status.success(), "{}", String::from_utf8_lossy(&probe.stderr));
    let v: serde_json::Value = serde_json::from_slice(&probe.stdout).unwrap();
    let codecs: Vec<&str> = v["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["codec_name"].as_str().unwrap())
        .collect();
    assert_eq!(codecs, ["hevc", "aac"], "video copied, A-law transcoded: {v:#}");
    let d: f64 = v["format"]["duration"].as_str().unwrap().parse().unwrap();
    assert!((2.8..=3.3).contains(&d), "three one-second clips: {d}");
}

#[test]
fn cost_plan_recommends_and_traces_to_the_price_table() {
    let env = Env::new(1, "");
    let plan = json(&env, &["cost", "plan", "--daily-gb", "10", "--json"]);
    assert_eq!(plan["recommended"]["class"], "DeepColdArchive");
    assert_eq!(plan["recommended"]["transition_days"], 1);
    assert_eq!(plan["current"]["transition_days"], 30);
    assert_eq!(
        plan["current"]["storage_cny"], 61.88,
        "the user's current plan at one year"
    );
    assert!(plan["recommended"]["total_cny"].as_f64().unwrap() < 61.88 * 0.55);
    assert_eq!(plan["options"].as_array().unwrap().len(), 24);
    let text = env.ok(&["cost", "plan", "--daily-gb", "10"]);
    assert!(text.contains("recommended: DeepColdArchive after 1 day(s)"), "{text}");
    assert!(text.contains("tiering.transition_days = 1"), "{text}");
    // A price changed in the table changes the answer.
    let env = Env::new(1, "prices.deep_cold_archive_gb_month = 0.2\nprices.cold_archive_gb_month = 0.2\nprices.archive_gb_month = 0.2\nprices.ia_gb_month = 0.2");
    let plan = json(&env, &["cost", "plan", "--daily-gb", "10", "--json"]);
    assert_eq!(
        plan["recommended"]["transition_days"], 90,
        "archiving no longer pays: {plan:#}"
    );
}
