//! Each store priced at its own region's (or disk's) prices (issue 21): a mirror's
//! `[store.mirror.prices]` holds the `[prices]` keys that differ there, and `cost`,
//! `cost --model` and `cost plan` price that mirror's copies with them; a key that is not
//! a price is refused at load, naming the mirror and the key.

mod common;

use common::*;

/// Two OSS mirrors on the same plan, "shanghai" at `[prices]` and "dear" at twice the
/// Deep Cold Archive price, and two disks, "usb" at its own price per TB.
fn config() -> String {
    let oss = |name: &str, bucket: &str, prices: &str| {
        format!(
            "[[store.mirror]]\nname = \"{name}\"\nkind = \"oss\"\n[store.mirror.oss]\nbucket = \"{bucket}\"\nregion = \"cn-shanghai\"\n\
             credentials_file = \"{name}.key\"\n{prices}"
        )
    };
    let disk = |name: &str, prices: &str| {
        format!("[[store.mirror]]\nname = \"{name}\"\nkind = \"fs\"\n[store.mirror.fs]\nroot = \"{name}\"\nfsync = false\n{prices}")
    };
    [
        "tiering.transition_days = 30\ntiering.storage_class = \"DeepColdArchive\"\n".to_string(),
        oss("shanghai", "cam-sh", ""),
        oss(
            "dear",
            "cam-dear",
            "[store.mirror.prices]\ntaken = \"2026-12 (test)\"\ndeep_cold_archive_gb_month = 0.015\n",
        ),
        disk("usb", "[store.mirror.prices]\ndisk_cny_per_tb = 300\n"),
        disk("usb2", ""),
    ]
    .concat()
}

fn copy<'a>(copies: &'a serde_json::Value, store: &str) -> &'a serde_json::Value {
    copies
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["store"] == store)
        .unwrap_or_else(|| panic!("{store} in {copies:#}"))
}

#[test]
fn model_and_plan_price_each_mirror_at_its_own_prices() {
    let env = Env::new(1, &config());
    let out = env.ok(&["cost", "--model", "--daily-gb", "10", "--months", "12", "--json"]);
    let months: serde_json::Value = serde_json::from_str(&out).unwrap();
    let last = &months.as_array().unwrap()[11];
    let (sh, dear) = (copy(&last["copies"], "shanghai"), copy(&last["copies"], "dear"));
    assert_eq!(sh["monthly_cny"], last["total_cny"], "same plan, same prices: {last:#}");
    assert_eq!(
        (sh["own_prices"].as_bool(), dear["own_prices"].as_bool()),
        (Some(false), Some(true))
    );
    // Only the Deep Cold Archive price differs: ¥0.0075 more per archived GB-month.
    let archive_gb = last["archive_gb"].as_f64().unwrap();
    let diff = dear["monthly_cny"].as_f64().unwrap() - sh["monthly_cny"].as_f64().unwrap();
    assert!(archive_gb > 1000.0, "{last:#}");
    assert!(
        (diff - archive_gb * 0.0075).abs() < 0.011,
        "{diff} vs {archive_gb} GB: {last:#}"
    );
    // A disk at its own price per TB: one 4 TB disk holds 12 months of 10 GB a day.
    assert_eq!(copy(&last["copies"], "usb")["one_off_cny"], 1200.0);
    assert_eq!(copy(&last["copies"], "usb2")["one_off_cny"], 600.0);

    let out = env.ok(&["cost", "--model", "--daily-gb", "10", "--months", "12"]);
    assert!(
        out.contains("dear") && out.contains("(its own prices, as of 2026-12 (test): `[store.mirror.prices]`)"),
        "{out}"
    );
    assert!(out.contains("at ¥300/TB"), "{out}");

    let plan: serde_json::Value =
        serde_json::from_str(&env.ok(&["cost", "plan", "--daily-gb", "10", "--json"])).unwrap();
    let (sh, dear) = (copy(&plan["copies"], "shanghai"), copy(&plan["copies"], "dear"));
    assert!(
        dear["monthly_cny"].as_f64().unwrap() > sh["monthly_cny"].as_f64().unwrap() + 10.0,
        "{plan:#}"
    );
    // What a disk at home saves is set against the price of that disk (the first disk
    // mirror's, "usb": ¥300 per TB).
    assert_eq!(plan["disk_mirror_savings"]["disk_one_off_cny"], 1200.0, "{plan:#}");
}

/// `cost` (from the catalog): each disk's verified copies priced at its own disk price.
#[test]
fn cost_now_prices_each_disk_at_its_own_price() {
    let env = Env::new(
        1,
        "[[store.mirror]]\nname = \"usb\"\nkind = \"fs\"\n[store.mirror.fs]\nroot = \"usb\"\nfsync = false\n\
         [store.mirror.prices]\ndisk_cny_per_tb = 250\ndisk_tb = 2\n\
         [[store.mirror]]\nname = \"usb2\"\nkind = \"fs\"\n[store.mirror.fs]\nroot = \"usb2\"\nfsync = false\n",
    );
    for name in ["usb", "usb2"] {
        std::fs::create_dir_all(env.root().join(name)).unwrap();
        env.ok(&["mirror", "init", name]);
    }
    env.put_old(&old_clip(now_unix() - 7200), &bytes(5, 120_000));
    env.ok(&["ingest", "--once"]);
    let v: serde_json::Value = serde_json::from_str(&env.ok(&["cost", "--json"])).unwrap();
    let (usb, usb2) = (copy(&v["copies"], "usb"), copy(&v["copies"], "usb2"));
    assert_eq!(
        (usb["disks"].as_u64(), usb2["disks"].as_u64()),
        (Some(1), Some(1)),
        "{v:#}"
    );
    assert_eq!(usb["one_off_cny"], 500.0, "one 2 TB disk at ¥250/TB: {v:#}");
    assert_eq!(usb2["one_off_cny"], 600.0, "one 4 TB disk at ¥150/TB ([prices]): {v:#}");
    assert_eq!(
        (usb["own_prices"].as_bool(), usb2["own_prices"].as_bool()),
        (Some(true), Some(false))
    );
    let text = env.ok(&["cost"]);
    assert!(text.contains("1 disk(s) of 2 TB at ¥250/TB"), "{text}");
    assert!(text.contains("1 disk(s) of 4 TB at ¥150/TB"), "{text}");
}

/// A key that is not a price, a value of the wrong type, an unusable disk size: refused
/// at load, naming the mirror's table and the key.
#[test]
fn a_bad_key_in_a_mirror_s_prices_is_named() {
    let mirror = |prices: &str| {
        format!(
            "[[store.mirror]]\nname = \"hk\"\nkind = \"fs\"\n[store.mirror.fs]\nroot = \"hk\"\n[store.mirror.prices]\n{prices}\n"
        )
    };
    for (prices, want) in [
        (
            "deep_cold_archiv_gb_month = 0.01",
            "`store.mirror.prices` of mirror \"hk\": `deep_cold_archiv_gb_month` is not a price; use keys of `[prices]`: ",
        ),
        ("deep_cold_archive_gb_month = \"cheap\"", "`store.mirror.prices` of mirror \"hk\": "),
        ("disk_tb = 0", "`store.mirror.prices` of mirror \"hk\": `prices.disk_tb` = 0"),
    ] {
        let env = Env::new(1, &mirror(prices));
        let out = env.run(&["cost", "--model"]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{prices}: {err}");
        assert!(err.contains(want), "{prices}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    // The type error names the key too.
    let env = Env::new(1, &mirror("deep_cold_archive_gb_month = \"cheap\""));
    let err = stderr(&env.run(&["cost", "--model"]));
    assert!(err.contains("deep_cold_archive_gb_month"), "{err}");
}

/// The restore planner prices a copy in a mirror at that mirror's prices: the OSS test
/// server as main store and a second one as mirror "inside", whose downloads cost nothing
/// there (`outbound_gb = 0`, `get_per_10k = 0`: say, a bucket read over the internal
/// endpoint). Both copies are readable; the plan prices the main store's download at
/// `[prices]` and the mirror's at ¥0, and so takes the mirror's.
#[test]
fn the_restore_planner_prices_a_mirror_copy_at_its_own_prices() {
    needs!(PYTHON);
    use common::oss::{mirror_entry, oss_env_with, server_of};
    let (a, b) = (
        server_of("cam-archive", &[]),
        server_of("cam-copy", &["--region", "cn-shanghai"]),
    );
    let env = oss_env_with(
        &a,
        "camvault-test-secret",
        &format!(
            "cache.max_bytes = 0\nupload.retry_max_secs = 2\n{}[store.mirror.prices]\noutbound_gb = 0\nget_per_10k = 0\n",
            mirror_entry("inside", &b, "cam-copy")
        ),
    );
    let t0 = now_unix() - 7200;
    for i in 0..2 {
        env.put_old(&old_clip(t0 + i * 60), &bytes(40 + i as u64, 200_000));
    }
    env.ok(&["ingest", "--once"]);
    assert_eq!(env.status()["files"]["cached"], 0, "both stores verified them");
    let fmt = |t: i64| jiff::Timestamp::from_second(t).unwrap().to_string();
    let plan: serde_json::Value = serde_json::from_str(&env.ok(&[
        "restore",
        "--from",
        &fmt(t0 - 60),
        "--to",
        &fmt(t0 + 3600),
        "--dry-run",
        "--json",
    ]))
    .unwrap();
    let items = plan["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{plan:#}");
    for i in items {
        let copies = i["copies"].as_array().unwrap();
        let of = |s: &str| {
            copies
                .iter()
                .find(|c| c["store"] == s)
                .unwrap_or_else(|| panic!("{s}: {i:#}"))
        };
        assert!(of("primary")["cny"].as_f64().unwrap() > 0.0, "[prices]: {i:#}");
        assert_eq!(of("inside")["cny"].as_f64(), Some(0.0), "its own prices: {i:#}");
        assert_eq!(
            (i["source"].as_str(), i["store"].as_str()),
            (Some("mirror"), Some("inside")),
            "the cheaper copy: {i:#}"
        );
    }
}
