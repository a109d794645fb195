//! Where a mirror's copy is made again from (issue 21: "a mirror that loses an object
//! later: the scrub finds it and copies it again from another copy"), and where `mirror
//! backfill` reads: the cheapest good copy among all stores (`mirror::sources`), so that a
//! main store holding a recording only in Deep Cold Archive does not stop it when another
//! mirror has it readable. An `fs` main store whose emulated lifecycle archives the clips,
//! with two `fs` mirrors (disks); and with an `fs` disk plus an S3 mirror on moto.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::s3::{BUCKET, KEY_ID, S3, SECRET};
use common::*;

const DAY: i64 = 86_400;

fn disk(name: &str) -> String {
    format!("[[store.mirror]]\nname = \"{name}\"\nkind = \"fs\"\n[store.mirror.fs]\nroot = \"{name}\"\nfsync = false\n")
}

/// Plugs in disk mirror `name`: its folder and its marker.
fn plug_in(env: &Env, name: &str) {
    std::fs::create_dir_all(env.root().join(name)).unwrap();
    env.ok(&["mirror", "init", name]);
}

fn add_to_config(env: &Env, entry: &str) {
    let cfg = std::fs::read_to_string(env.config()).unwrap();
    std::fs::write(env.config(), format!("{cfg}\n{entry}")).unwrap();
}

/// The main store's metadata of `key` (class, restore requests).
fn store_meta(env: &Env, key: &str) -> serde_json::Value {
    let p = env.store().join(".camvault/meta").join(format!("{key}.json"));
    serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap()
}

/// A month passes on the main store, whose lifecycle rule (the default plan: Deep Cold
/// Archive after 30 days) archives the clips `keys`: `verify` looks at each (the emulated
/// lifecycle moves an object when it is looked at), and each is archived.
fn archive_main_store<'a>(env: &Env, keys: impl IntoIterator<Item = &'a String>) {
    env.ok(&["lifecycle", "apply"]);
    let p = env.store().join(".camvault/clock");
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, (31 * DAY).to_string()).unwrap();
    env.run(&["verify"]);
    for key in keys {
        assert_eq!(store_meta(env, key)["storage_class"], "DeepColdArchive", "{key}");
    }
}

/// Recordings under `root` (key → bytes), not camvault's own files.
fn objects(root: &Path) -> BTreeMap<String, Vec<u8>> {
    files_under(root)
        .into_iter()
        .filter_map(|p| {
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            let own = ["manifests/", "catalog/", "thumbs/", "index/", ".camvault"]
                .iter()
                .any(|o| rel.starts_with(o));
            (!own).then(|| (rel, std::fs::read(&p).unwrap()))
        })
        .collect()
}

/// Three clips of 40 days ago, ingested into the main store and every mirror configured
/// (and plugged in) now; the local cache lets go of them.
fn ingest_three(env: &Env) -> BTreeMap<String, Vec<u8>> {
    let t0 = now_unix() - 40 * DAY;
    for i in 0..3 {
        env.put_old(&old_clip(t0 + i * 60), &bytes(50 + i as u64, 30_000 + i as usize * 700));
    }
    env.ok(&["ingest", "--once"]);
    assert_eq!(env.status()["files"]["cached"], 0);
    let main = objects(&env.store());
    assert_eq!(main.len(), 3, "{:?}", main.keys());
    main
}

fn verified(env: &Env, store: &str) -> i64 {
    catalog_count(
        env,
        &format!("SELECT count(*) FROM copies WHERE store = '{store}' AND state = 'verified'"),
    )
}

/// One scrub pass of mirror `name`, as `serve`'s `scrub:<name>` runs it.
async fn scrub(env: &Env, name: &str) -> anyhow::Result<camvault::mirror::scrub::Scrubbed> {
    let cfg = camvault::config::Config::load(&env.config())?;
    let cat = std::sync::Arc::new(camvault::catalog::Catalog::open(&cfg.catalog(), false)?);
    let m = cfg.store.mirror.iter().find(|m| m.name == name).unwrap();
    let up = camvault::mirror::backfill::uploader(&cfg, m, cat)?;
    let main = camvault::store::open(&cfg)?;
    let mut sources = camvault::mirror::sources::Sources::new(&cfg, &*main);
    camvault::mirror::scrub::pass(&up, &mut sources, 10, 0).await
}

/// A disk mirror loses copies after the vault let go of them. With the main store
/// readable, `verify` passes over the other disk's damaged copy (its bytes fail the
/// catalog's CRC-64) and takes the main store's; once the main store has archived
/// everything, the scrub takes the other disk's copy, with no restore; a recording lost
/// by both disks while archived in the main store is left to the restore path.
#[tokio::test]
async fn a_lost_copy_comes_back_from_another_mirror_when_the_main_store_has_it_archived() {
    let env = Env::new(1, &format!("cache.max_bytes = 0\n{}\n{}", disk("usb"), disk("usb2")));
    plug_in(&env, "usb");
    plug_in(&env, "usb2");
    let main = ingest_three(&env);
    let (usb, usb2) = (env.root().join("usb"), env.root().join("usb2"));
    assert_eq!(objects(&usb), main);
    assert_eq!(objects(&usb2), main);
    let keys: Vec<String> = main.keys().cloned().collect();

    // usb loses clip 2; usb2's copy of it has rotted (same size, other bytes: its HEAD
    // still looks right). The disk comes first, fails the check, the main store gives it.
    std::fs::remove_file(usb.join(&keys[2])).unwrap();
    let mut rotten = main[&keys[2]].clone();
    rotten[1000] ^= 0xff;
    std::fs::write(usb2.join(&keys[2]), &rotten).unwrap();
    let out = env.run(&["verify"]);
    let (text, log) = (stdout(&out), stderr(&out));
    assert!(
        text.contains(&format!("BAD  usb  {}", keys[2])) && text.contains("copied again from the main store"),
        "{text}"
    );
    assert!(
        log.contains("usb2") && log.contains("do not match the catalog's CRC-64"),
        "the damaged source is named and passed over: {log}"
    );
    assert_eq!(std::fs::read(usb.join(&keys[2])).unwrap(), main[&keys[2]]);
    std::fs::write(usb2.join(&keys[2]), &main[&keys[2]]).unwrap();

    // A month later the main store holds everything in Deep Cold Archive only.
    archive_main_store(&env, &keys);
    std::fs::remove_file(usb.join(&keys[0])).unwrap();

    // The scrub (as `serve` runs it, `scrub:usb`) finds it and copies it from usb2.
    let s = scrub(&env, "usb").await.unwrap();
    assert_eq!((s.checked, s.bad.len(), s.recopied), (3, 1, 1), "{s:?}");
    assert_eq!(s.from, [(keys[0].clone(), "usb2".to_string())], "{s:?}");
    assert_eq!(objects(&usb), main, "copied again, the same bytes");
    assert_eq!(verified(&env, "usb"), 3);
    let meta = store_meta(&env, &keys[0]);
    assert_eq!(meta["storage_class"], "DeepColdArchive", "{meta}");
    assert_eq!(
        meta["restore_requests"].as_u64().unwrap_or(0),
        0,
        "no restore asked: {meta}"
    );

    // Lost from both disks while the main store has it archived: nothing to copy from;
    // reported, and left to `mirror backfill` (which plans a restore).
    std::fs::remove_file(usb.join(&keys[1])).unwrap();
    std::fs::remove_file(usb2.join(&keys[1])).unwrap();
    let out = env.run(&["verify"]);
    let text = stdout(&out);
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains(&format!("BAD  usb  {}", keys[1])) && text.contains("not copied again"),
        "{text}"
    );
    assert!(!usb.join(&keys[1]).exists() && !usb2.join(&keys[1]).exists());
    let out = env.run(&["mirror", "backfill", "usb"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("1 recording(s)")
            && text.contains("archived in the main store")
            && text.contains("nothing restored"),
        "{text}"
    );
    assert_eq!(store_meta(&env, &keys[1])["restore_requests"].as_u64().unwrap_or(0), 0);
}

/// A disk mirror added when the main store has archived everything: `mirror backfill`
/// copies each recording from the disk mirror that has it, with no restore and no plan.
#[test]
fn backfill_of_a_new_mirror_reads_another_mirror_when_the_main_store_has_it_archived() {
    let env = Env::new(1, &format!("cache.max_bytes = 0\n{}", disk("usb")));
    plug_in(&env, "usb");
    let main = ingest_three(&env);
    archive_main_store(&env, main.keys());

    add_to_config(&env, &disk("usb2"));
    plug_in(&env, "usb2");
    let out = env.ok(&["mirror", "backfill", "usb2"]);
    assert!(out.contains("3 recording(s) queued, 3 copied and verified"), "{out}");
    assert!(out.contains("3 from mirror \"usb\""), "{out}");
    assert!(
        !out.contains("archived") && !out.contains("--yes"),
        "no restore plan: {out}"
    );
    assert_eq!(objects(&env.root().join("usb2")), main, "byte for byte");
    assert_eq!(verified(&env, "usb2"), 3);
    for key in main.keys() {
        let meta = store_meta(&env, key);
        assert_eq!(meta["storage_class"], "DeepColdArchive", "{meta}");
        assert_eq!(meta["restore_requests"].as_u64().unwrap_or(0), 0, "{meta}");
    }
    assert_eq!(catalog_count(&env, "SELECT count(*) FROM restores"), 0);
}

/// With moto: an `fs` main store (archived) and two mirrors, a disk and an S3 bucket. The
/// disk loses a copy; with no other disk and the main store archived, it comes back from
/// the S3 mirror (a download), checked against the catalog.
#[test]
fn a_lost_disk_copy_comes_back_from_an_s3_mirror_on_moto() {
    needs!(PYTHON);
    let s3 = S3::start("");
    let cloud = format!(
        "[[store.mirror]]\nname = \"cloud\"\nkind = \"s3\"\n[store.mirror.s3]\nbucket = \"{BUCKET}\"\n\
         region = \"us-east-1\"\nendpoint = \"http://127.0.0.1:{}\"\npath_style = true\ncredentials_file = \"s3.key\"\n",
        s3.port
    );
    let env = Env::new(1, &format!("cache.max_bytes = 0\n{}\n{cloud}", disk("usb")));
    let key_file = env.root().join("s3.key");
    std::fs::write(
        &key_file,
        format!("access_key_id = {KEY_ID}\nsecret_access_key = {SECRET}\n"),
    )
    .unwrap();
    std::fs::set_permissions(&key_file, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    plug_in(&env, "usb");
    let main = ingest_three(&env);
    assert_eq!(verified(&env, "cloud"), 3);
    assert_eq!(verified(&env, "usb"), 3);
    archive_main_store(&env, main.keys());

    let usb = env.root().join("usb");
    let lost = main.keys().next().unwrap().clone();
    std::fs::remove_file(usb.join(&lost)).unwrap();
    let gets_before = s3.log().matches(&format!("GET /{BUCKET}/{lost}")).count();
    let out = env.run(&["verify"]);
    let text = stdout(&out);
    assert!(
        text.contains(&format!("BAD  usb  {lost}")) && text.contains("copied again from mirror \"cloud\""),
        "{text}\n{}",
        stderr(&out)
    );
    assert_eq!(objects(&usb), main, "the S3 mirror's bytes, checked");
    assert_eq!(verified(&env, "usb"), 3);
    assert_eq!(store_meta(&env, &lost)["restore_requests"].as_u64().unwrap_or(0), 0);
    assert!(
        s3.log().matches(&format!("GET /{BUCKET}/{lost}")).count() > gets_before,
        "read from the S3 mirror: {}",
        s3.log()
    );
    env.ok(&["verify"]);
}

/// A disk mirror without its marker (an empty mount point) is not scrubbed: nothing is
/// marked lost and nothing is written there; once the disk is back, the scrub runs.
#[tokio::test]
async fn the_scrub_leaves_an_unmarked_disk_alone() {
    let env = Env::new(1, &format!("cache.max_bytes = 0\n{}\n{}", disk("usb"), disk("usb2")));
    plug_in(&env, "usb");
    plug_in(&env, "usb2");
    let main = ingest_three(&env);
    // The disk is unmounted: its folder is an empty directory on the system disk.
    let usb = env.root().join("usb");
    std::fs::rename(&usb, env.root().join("usb-unplugged")).unwrap();
    std::fs::create_dir(&usb).unwrap();
    let e = scrub(&env, "usb").await.unwrap_err();
    assert!(format!("{e:#}").contains("not scrubbed"), "{e:#}");
    assert!(files_under(&usb).is_empty(), "the empty mount point got nothing");
    assert_eq!(verified(&env, "usb"), 3, "no copy marked lost");
    // Plugged in again: the scrub checks every copy and finds them right.
    std::fs::remove_dir(&usb).unwrap();
    std::fs::rename(env.root().join("usb-unplugged"), &usb).unwrap();
    let s = scrub(&env, "usb").await.unwrap();
    assert_eq!((s.checked, s.bad.len()), (3, 0), "{s:?}");
    assert_eq!(objects(&usb), main);
}
