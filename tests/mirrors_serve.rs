//! Mirror stores (issue 21) through the real `camvault serve`: an `fs` main store and an
//! `fs` mirror in temporary directories (the mirror's directory standing for a USB disk's
//! mount point), the OSS test server for a mirror with wrong credentials.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Child;
use std::time::Duration;

use common::*;

const MIRROR: &str = "upload.retry_max_secs = 4\n[[store.mirror]]\nname = \"usb\"\nkind = \"fs\"\n[store.mirror.fs]\nroot = \"usb\"\nfsync = false\n";

fn sigterm(serve: &mut Child) {
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &serve.id().to_string()])
        .status();
    serve.wait().unwrap();
}

/// The mirror's line of `status --json`'s `stores`.
fn store<'a>(s: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    s["stores"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["store"] == name)
        .unwrap_or_else(|| panic!("no store {name} in {s:#}"))
}

fn recordings_under(root: &Path) -> BTreeMap<String, Vec<u8>> {
    files_under(root)
        .into_iter()
        .filter_map(|p| {
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            (!rel.starts_with(".camvault")).then(|| (rel, std::fs::read(&p).unwrap()))
        })
        .collect()
}

/// The whole story of a USB disk mirror, through `serve`, with a cache that wants every
/// verified local copy gone at once: while the disk is not there (an empty mount point)
/// the main store verifies, nothing is written to the mount point, the mirror's copies
/// wait, status names the problem, and the vault keeps the file; marked with `mirror init`,
/// the disk gets a verified copy and only then does the vault let go. Unplugged mid-run,
/// the same again for the next recording; plugged back in, it catches up.
#[test]
fn an_fs_mirror_gets_every_recording_and_the_cache_waits_for_it() {
    let env = Env::new(1, &format!("cache.max_bytes = 0\n{MIRROR}"));
    let mount = env.root().join("usb");
    std::fs::create_dir_all(&mount).unwrap();
    let mut serve = env.serve();
    let t = now_unix() - 7200;
    let a = old_clip(t);
    env.put_old(&a, &bytes(1, 70_000));
    let s = env.wait_status(Duration::from_secs(30), |s| {
        s["files"]["verified"] == 1
            && s["health"]["problems"]
                .as_array()
                .is_some_and(|p| p.iter().any(|p| p["rule"] == "mirror"))
    });
    assert_eq!(store(&s, "usb")["pending"], 1, "{s:#}");
    assert_eq!(store(&s, "primary")["verified"], 1);
    let problem = s["health"]["problems"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["rule"] == "mirror")
        .unwrap()
        .to_string();
    assert!(problem.contains("marker") && problem.contains("usb"), "{problem}");
    // A cache pass runs every second: the file must still be there after a few.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(env.status()["files"]["cached"], 1, "kept while the mirror lacks it");
    assert!(
        files_under(&mount).is_empty(),
        "the empty mount point got {:?}",
        files_under(&mount)
    );

    // The disk, marked.
    let out = env.ok(&["mirror", "init", "usb"]);
    assert!(out.contains(".camvault/mirror"), "{out}");
    let s = env.wait_status(Duration::from_secs(30), |s| {
        store(s, "usb")["verified"] == 1 && s["files"]["cached"] == 0
    });
    assert_eq!(store(&s, "usb")["failing"], 0);
    let copies = recordings_under(&mount);
    assert_eq!(copies.len(), 1, "{:?}", copies.keys());
    assert_eq!(copies.values().next().unwrap(), &bytes(1, 70_000));
    assert_eq!(env.objects().values().next().unwrap(), &bytes(1, 70_000));
    assert!(files_under(&env.vault()).is_empty(), "purged once both stores had it");

    // Unplugged mid-run: the disk's folder moves away, the empty mount point stays.
    let shelf = env.root().join("shelf");
    std::fs::rename(&mount, &shelf).unwrap();
    std::fs::create_dir_all(&mount).unwrap();
    env.put_old(&old_clip(t + 60), &bytes(2, 50_000));
    let s = env.wait_status(Duration::from_secs(30), |s| s["files"]["verified"] == 2);
    assert_eq!(store(&s, "usb")["verified"], 1, "{s:#}");
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(env.status()["files"]["cached"], 1, "the new clip stays local");
    assert!(files_under(&mount).is_empty(), "{:?}", files_under(&mount));

    // Plugged back in.
    std::fs::remove_dir(&mount).unwrap();
    std::fs::rename(&shelf, &mount).unwrap();
    env.wait_status(Duration::from_secs(30), |s| {
        store(s, "usb")["verified"] == 2
            && s["files"]["cached"] == 0
            && s["health"]["problems"]
                .as_array()
                .is_some_and(|p| p.iter().all(|p| p["rule"] != "mirror"))
    });
    assert_eq!(
        recordings_under(&mount),
        env.objects(),
        "the same keys and bytes in both"
    );
    sigterm(&mut serve);
    let text = env.ok(&["status"]);
    assert!(
        text.contains("store   usb") && text.contains("2 verified"),
        "status shows each store: {text}"
    );
}

// The SIGKILL loop with two stores is in tests/mirror_pairs.rs, run with every pair of stores.

/// Two mirrors on one directory (or a mirror on the main store's) are refused at start-up
/// with the reason; `serve` does not start.
#[test]
fn two_mirrors_in_one_place_are_refused_at_start_up() {
    let env = Env::new(
        1,
        &format!("{MIRROR}[[store.mirror]]\nname = \"usb-2\"\nkind = \"fs\"\n[store.mirror.fs]\nroot = \"./usb/\"\n"),
    );
    let out = env.run(&["serve"]);
    assert!(!out.status.success());
    let e = stderr(&out);
    assert!(
        e.contains("mirror \"usb-2\" points at the same place as mirror \"usb\""),
        "{e}"
    );
    assert!(!env.root().join("catalog.sqlite").exists() || catalog_count(&env, "SELECT count(*) FROM files") == 0);
}

/// A mirror whose credentials are wrong (the OSS test server checks every signature):
/// `serve` starts, the main store verifies every recording, the mirror's copies wait and
/// its problem names the refusal; nothing is retried in a loop.
#[test]
fn a_mirror_with_wrong_credentials_holds_up_nothing_else() {
    needs!(PYTHON);
    let srv = common::oss::server(&[]);
    let env = Env::new(
        1,
        &format!(
            "cache.max_bytes = 0\nupload.retry_max_secs = 4\n[[store.mirror]]\nname = \"beijing\"\nkind = \"oss\"\n[store.mirror.oss]\n\
             bucket = \"cam-archive\"\nregion = \"cn-beijing\"\nendpoint = \"http://127.0.0.1:{}\"\ncname = true\ncredentials_file = \"oss.key\"\n",
            srv.port
        ),
    );
    std::fs::write(
        env.root().join("oss.key"),
        "access_key_id = LTAI5tCamvaultTest\naccess_key_secret = not-the-secret\n",
    )
    .unwrap();
    let mut serve = env.serve();
    let t = now_unix() - 7200;
    for i in 0..3 {
        env.put_old(&old_clip(t + i * 60), &bytes(i as u64, 20_000));
    }
    let s = env.wait_status(Duration::from_secs(30), |s| {
        s["files"]["verified"] == 3
            && s["health"]["problems"]
                .as_array()
                .is_some_and(|p| p.iter().any(|p| p["rule"] == "mirror"))
    });
    let problem = s["health"]["problems"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["rule"] == "mirror")
        .unwrap()
        .to_string();
    assert!(problem.contains("beijing") && problem.contains("403"), "{problem}");
    assert!(
        !problem.contains("not-the-secret"),
        "no secret in the message: {problem}"
    );
    assert_eq!(store(&s, "beijing")["verified"], 0);
    std::thread::sleep(Duration::from_secs(3));
    let s = env.status();
    assert_eq!(s["files"]["cached"], 3, "kept locally while the mirror lacks them");
    sigterm(&mut serve);
    // Backoff, not a loop: a handful of PUTs over the test's seconds.
    let puts = std::fs::read_to_string(srv.data.path().join("requests.log"))
        .map(|l| l.lines().filter(|l| l.starts_with("PUT")).count())
        .unwrap_or(0);
    assert!(puts <= 20, "{puts} PUTs");
}

/// A mirror added after recordings left the local cache: `mirror backfill` reads each back
/// from the main store, checks it against the catalog, copies and verifies it; a second
/// run has nothing left to do.
#[test]
fn a_mirror_added_later_is_backfilled_from_the_main_store() {
    let env = Env::new(1, "cache.max_bytes = 0");
    let mut serve = env.serve();
    let t = now_unix() - 7200;
    for i in 0..3 {
        env.put_old(&old_clip(t + i * 60), &bytes(50 + i as u64, 30_000));
    }
    env.wait_status(Duration::from_secs(30), |s| {
        s["files"]["verified"] == 3 && s["files"]["cached"] == 0
    });
    sigterm(&mut serve);
    assert!(files_under(&env.vault()).is_empty());
    let cfg = std::fs::read_to_string(env.config()).unwrap();
    let mirror = MIRROR.split_once('\n').unwrap().1;
    std::fs::write(env.config(), format!("{cfg}\n{mirror}")).unwrap();
    let mount = env.root().join("usb");
    std::fs::create_dir_all(&mount).unwrap();
    // Without the marker: refused, nothing written.
    let out = env.run(&["mirror", "backfill", "usb"]);
    assert!(
        !out.status.success() && stderr(&out).contains("marker"),
        "{}",
        stderr(&out)
    );
    assert!(files_under(&mount).is_empty());
    env.ok(&["mirror", "init", "usb"]);
    let out = env.ok(&["mirror", "backfill", "usb"]);
    assert!(out.contains("3 recording(s) queued, 3 copied and verified"), "{out}");
    assert_eq!(recordings_under(&mount), env.objects());
    let s = env.status();
    assert_eq!(
        (
            store(&s, "usb")["verified"].as_u64(),
            store(&s, "usb")["without_copy"].as_u64()
        ),
        (Some(3), Some(0)),
        "{s:#}"
    );
    let out = env.ok(&["mirror", "backfill", "usb"]);
    assert!(out.contains("0 recording(s) queued, 0 copied"), "{out}");
    assert!(
        files_under(&env.vault()).is_empty(),
        "no temporary file left: {:?}",
        files_under(&env.vault())
    );
}
