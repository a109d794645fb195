//! Proof that nothing was lost: daily manifests and their hash chain, and a catalog
//! rebuilt from the store alone.

mod common;

use common::*;

fn subset(ls: &[serde_json::Value]) -> Vec<String> {
    let mut v: Vec<String> = ls
        .iter()
        .map(|r| {
            format!(
                "{} {} {} {} {} {}",
                r["camera"], r["start"], r["end"], r["key"], r["size"], r["state"]
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn manifests_chain_detects_tampering_and_rebuild_round_trips() {
    let env = Env::new(
        1,
        "cache.max_days = 36500\n[cameras.78df72a1b2c3]\nname = \"door\"\ntimezone = \"Asia/Shanghai\"",
    );
    // Three days of recordings, each day at least two days old: three manifests.
    for day in 3..6 {
        for i in 0..3 {
            env.put_old(
                &old_clip(now_unix() - day * 86_400 + i * 60),
                &bytes((day * 10 + i) as u64, 2000),
            );
        }
    }
    env.put_old(
        &format!("XiaomiCamera_00_{NEW_MAC}/00_20251003141500_20251003141600.mp4"),
        b"other camera",
    );
    env.put_old(&old_clip(now_unix() - 600), b"today: not in a manifest yet");
    env.ok(&["ingest", "--once"]);
    let manifests: Vec<String> = env
        .all_objects()
        .into_keys()
        .filter(|k| k.starts_with("manifests/"))
        .collect();
    assert_eq!(
        manifests.iter().filter(|k| k.starts_with("manifests/door/")).count(),
        3,
        "{manifests:?}"
    );
    assert_eq!(
        manifests
            .iter()
            .filter(|k| k.starts_with("manifests/5c02148a9e01/"))
            .count(),
        1
    );
    env.ok(&["verify", "--manifests", "--deep"]);
    // Running again writes nothing new.
    env.ok(&["ingest", "--once"]);
    assert_eq!(
        env.all_objects()
            .into_keys()
            .filter(|k| k.starts_with("manifests/"))
            .count(),
        4
    );

    // The catalog is lost: rebuild from the store gives the same recordings.
    let before = subset(&env.ls());
    let out = env.run(&["catalog", "rebuild"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "an existing catalog is not replaced without --force"
    );
    let out = env.ok(&["catalog", "rebuild", "--force"]);
    assert!(out.contains("10 recording(s) from 4 manifest(s), 1 more"), "{out}");
    assert_eq!(subset(&env.ls()), before, "rebuilt catalog lists the same recordings");
    assert!(
        std::fs::read_dir(env.root())
            .unwrap()
            .flatten()
            .any(|e| e.file_name().to_string_lossy().contains("before-rebuild")),
        "old catalog kept aside"
    );
    env.ok(&["verify", "--manifests"]);

    // Someone edits the first day's manifest: the next link no longer matches.
    let first = env.store().join(
        manifests
            .iter()
            .filter(|k| k.starts_with("manifests/door/"))
            .min()
            .unwrap(),
    );
    let text = std::fs::read_to_string(&first)
        .unwrap()
        .replacen("\"size\":2000", "\"size\":2001", 1);
    std::fs::write(&first, text).unwrap();
    let out = env.run(&["verify", "--manifests"]);
    assert_eq!(out.status.code(), Some(1));
    let o = stdout(&out);
    assert!(o.contains("chain is broken") && o.contains("differs"), "{o}");

    // A recording disappears from the store: its manifest shows it.
    std::fs::write(
        &first,
        std::fs::read_to_string(&first)
            .unwrap()
            .replacen("\"size\":2001", "\"size\":2000", 1),
    )
    .unwrap();
    let victim = env.ls().into_iter().find(|r| r["camera"] == "door").unwrap()["key"]
        .as_str()
        .unwrap()
        .to_string();
    std::fs::remove_file(env.store().join(&victim)).unwrap();
    let out = env.run(&["verify", "--manifests"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains(&format!("{victim} is listed in")) && stdout(&out).contains("missing"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn the_catalog_is_backed_up_to_the_store() {
    let env = Env::new(1, "");
    env.put_old(&old_clip(now_unix() - 600), b"clip");
    env.ok(&["ingest", "--once"]);
    let backups: Vec<String> = env
        .all_objects()
        .into_keys()
        .filter(|k| k.starts_with("catalog/"))
        .collect();
    assert_eq!(backups.len(), 1, "{backups:?}");
    let db = rusqlite::Connection::open(env.store().join(&backups[0])).unwrap();
    let n: i64 = db
        .query_row("SELECT count(*) FROM files WHERE state = 'verified'", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 1, "a consistent copy with the verified file");
    env.ok(&["ingest", "--once"]);
    assert_eq!(
        env.all_objects()
            .into_keys()
            .filter(|k| k.starts_with("catalog/"))
            .count(),
        1,
        "once a day, not every run"
    );
}
