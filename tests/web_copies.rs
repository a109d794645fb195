//! The restore plan's copies on the web page (issue 21, item 4): with a main `fs` store
//! whose emulated lifecycle has archived three clips, a disk mirror `usb` that holds them
//! readable and a disk mirror `attic` whose disk is unplugged, `/api/restore/plan` sums each
//! store's copies and says which copy each clip is taken from; real Chromium shows that
//! table, the count of the stores and mirrors, and each clip's copy, in English and in
//! Chinese, on a desktop and a phone, with no word of a table cell broken in the middle.

mod common;

use common::web::*;
use common::*;

const DAY: i64 = 86_400;
const CAM: &str = "78df72a1b2c3";
const MIRRORS: &str =
    "[[store.mirror]]\nname = \"usb\"\nkind = \"fs\"\n[store.mirror.fs]\nroot = \"usb\"\nfsync = false\n\
     [[store.mirror]]\nname = \"attic\"\nkind = \"fs\"\n[store.mirror.fs]\nroot = \"attic\"\nfsync = false\n";

/// Local noon (Asia/Shanghai) `days` days ago, as a Unix time: the clips of one day.
fn noon_days_ago(days: i64) -> (i64, String) {
    let tz = jiff::tz::TimeZone::get("Asia/Shanghai").unwrap();
    let date = jiff::Timestamp::from_second(now_unix() - days * DAY)
        .unwrap()
        .to_zoned(tz.clone())
        .date();
    let noon = date.to_zoned(tz).unwrap().timestamp().as_second() + 12 * 3600;
    (noon, date.to_string())
}

#[test]
fn the_plan_shows_every_stores_copies_and_each_clips_copy_in_both_languages() {
    needs!(PYTHON, CHROMIUM);
    let port = free_port();
    let env = Env::new(
        1,
        &format!("restore.drill_days = 0\nhttp.enabled = true\nhttp.listen = \"127.0.0.1:{port}\""),
    );
    let (t0, day) = noon_days_ago(40);
    for i in 0..3 {
        env.put_old(&old_clip(t0 + i * 60), &bytes(i as u64 + 3, 30_000 + i as usize * 1000));
    }
    env.ok(&["ingest", "--once"]);
    let cfg = std::fs::read_to_string(env.config()).unwrap();
    std::fs::write(env.config(), format!("{cfg}\n{MIRRORS}")).unwrap();
    for m in ["usb", "attic"] {
        std::fs::create_dir_all(env.root().join(m)).unwrap();
        env.ok(&["mirror", "init", m]);
        let out = env.ok(&["mirror", "backfill", m]);
        assert!(out.contains("3 copied and verified"), "{m}: {out}");
    }
    // A month on, the main store has archived them; the attic's disk is unplugged.
    env.ok(&["lifecycle", "apply"]);
    set_store_clock(&env, 31 * DAY);
    std::fs::rename(
        env.root().join("attic/.camvault/mirror"),
        env.root().join("attic-marker.bak"),
    )
    .unwrap();
    let _serve = serve_on(&env, port);

    // The plan over HTTP: the same request the day page makes.
    let shell = http(port, "GET", "/", &[], "");
    let (cookie, csrf) = (shell.cookie(), csrf_of(&shell.text()));
    let d = http(port, "GET", &format!("/api/day?camera={CAM}&date={day}"), &[], "");
    assert_eq!(d.code, 200, "{}", d.text());
    let d: serde_json::Value = serde_json::from_slice(&d.body).unwrap();
    let body = format!(
        r#"{{"camera":"{CAM}","from_ms":{},"to_ms":{},"tier":"standard"}}"#,
        d["start_ms"], d["end_ms"]
    );
    let r = http(
        port,
        "POST",
        "/api/restore/plan",
        &[
            ("Content-Type", "application/json"),
            ("Cookie", &cookie),
            ("X-CSRF-Token", &csrf),
        ],
        &body,
    );
    assert_eq!(r.code, 200, "{}", r.text());
    let p: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(
        (p["mirror"]["clips"].as_u64(), p["mirrors"].as_u64()),
        (Some(3), Some(2)),
        "{p:#}"
    );
    assert_eq!(p["total_cny"], 0.0, "the disk is free: {p:#}");
    let copies = p["copies"].as_array().unwrap();
    let stores: Vec<&str> = copies.iter().map(|c| c["store"].as_str().unwrap()).collect();
    assert_eq!(stores, ["primary", "attic", "usb"], "the main store first: {p:#}");
    let (primary, attic, usb) = (&copies[0], &copies[1], &copies[2]);
    assert_eq!(primary["classes"], serde_json::json!(["DeepColdArchive"]));
    assert_eq!(
        (
            primary["clips"].as_u64(),
            primary["readable"].as_u64(),
            primary["usable"].as_u64(),
            primary["hours"].as_f64(),
            primary["chosen"].as_u64()
        ),
        (Some(3), Some(0), Some(3), Some(48.0), Some(0)),
        "{primary:#}"
    );
    assert!(
        primary["cny"].as_f64().unwrap() > 0.0,
        "the archive's restore is priced: {primary:#}"
    );
    assert_eq!(
        (
            usb["kind"].as_str(),
            usb["clips"].as_u64(),
            usb["readable"].as_u64(),
            usb["usable"].as_u64(),
            usb["cny"].as_f64(),
            usb["hours"].as_f64(),
            usb["chosen"].as_u64()
        ),
        (Some("fs"), Some(3), Some(3), Some(3), Some(0.0), Some(0.0), Some(3)),
        "{usb:#}"
    );
    assert_eq!(
        (
            attic["clips"].as_u64(),
            attic["usable"].as_u64(),
            attic["chosen"].as_u64()
        ),
        (Some(3), Some(0), Some(0)),
        "{attic:#}"
    );
    assert_eq!(
        attic["notes"][0]["key"], "health.detail.mirror_unplugged",
        "the unplugged disk, as a catalogue message: {attic:#}"
    );
    for i in p["items"].as_array().unwrap() {
        assert_eq!(
            (
                i["source"].as_str(),
                i["store"].as_str(),
                i["copies"].as_array().map(Vec::len)
            ),
            (Some("mirror"), Some("usb"), Some(3)),
            "{i:#}"
        );
    }

    browser(
        "copies",
        serde_json::json!({
            "base": format!("http://127.0.0.1:{port}"),
            "camera": CAM,
            "day": day,
            "copies": p["copies"],
            "keys": p["items"].as_array().unwrap().iter().map(|i| i["key"].clone()).collect::<Vec<_>>(),
        }),
    );
}
