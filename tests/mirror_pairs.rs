//! The mirror scenarios of issue 21's "Done means", each run with every pair of stores:
//! an `fs` main store with an `fs` mirror (a directory standing for a USB disk), moto (S3)
//! with an `fs` mirror, and the OSS test server with a second OSS bucket (another server,
//! signing with `credentials = "same-as-primary"`). Plus OSS Cross-Region Replication: a
//! replica declared as a read-only mirror, verified and never written.
//!
//! Each scenario is one function over a [`Pair`]; `pairs!` makes one test per pair.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::oss::{server_of, writes, Server};
use common::s3::S3;
use common::*;
use sha2::{Digest, Sha256};

#[derive(Clone, Copy, Debug)]
enum Kind {
    FsFs,
    MotoFs,
    OssOss,
}

enum Main {
    Fs,
    Moto(S3),
    Oss(Server),
}

enum Copy {
    Disk(PathBuf),
    Oss(Server),
}

struct Pair {
    env: Env,
    main: Main,
    mirror: Copy,
    /// The mirror's name in the config.
    name: &'static str,
    /// The mirror's `[[store.mirror]]` entry (for a second one at the same place).
    entry: String,
}

fn sha(data: &[u8]) -> String {
    Sha256::digest(data).iter().map(|b| format!("{b:02x}")).collect()
}

/// Recordings under `root` (key → SHA-256), not camvault's own objects.
fn under(root: &Path) -> BTreeMap<String, String> {
    files_under(root)
        .into_iter()
        .filter_map(|p| {
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            let own = ["manifests/", "catalog/", "thumbs/", "index/", ".camvault"]
                .iter()
                .any(|o| rel.starts_with(o));
            (!own).then(|| (rel, sha(&std::fs::read(&p).unwrap())))
        })
        .collect()
}

impl Pair {
    fn new(kind: Kind, extra: &str) -> Pair {
        let base = format!("upload.retry_max_secs = 2\n{extra}");
        let disk = |env: &Env| {
            let root = env.root().join("usb");
            std::fs::create_dir_all(&root).unwrap();
            root
        };
        let usb = "[[store.mirror]]\nname = \"usb\"\nkind = \"fs\"\n[store.mirror.fs]\nroot = \"usb\"\nfsync = false\n"
            .to_string();
        match kind {
            Kind::FsFs => {
                let env = Env::new(1, &format!("{base}\n{usb}"));
                let root = disk(&env);
                Pair {
                    env,
                    main: Main::Fs,
                    mirror: Copy::Disk(root),
                    name: "usb",
                    entry: usb,
                }
            }
            Kind::MotoFs => {
                let s3 = S3::start("");
                let env = s3.env(&format!("{base}\n{usb}"));
                let root = disk(&env);
                Pair {
                    env,
                    main: Main::Moto(s3),
                    mirror: Copy::Disk(root),
                    name: "usb",
                    entry: usb,
                }
            }
            Kind::OssOss => {
                let (a, b) = (
                    server_of("cam-archive", &[]),
                    server_of("cam-copy", &["--region", "cn-shanghai"]),
                );
                let entry = format!(
                    "[[store.mirror]]\nname = \"shanghai\"\nkind = \"oss\"\ncredentials = \"same-as-primary\"\n[store.mirror.oss]\n\
                     bucket = \"cam-copy\"\nregion = \"cn-shanghai\"\nendpoint = \"http://127.0.0.1:{}\"\ncname = true\n",
                    b.port
                );
                let env = Env::new(
                    1,
                    &format!(
                        "store.kind = \"oss\"\nstore.oss.bucket = \"cam-archive\"\nstore.oss.region = \"cn-beijing\"\n\
                         store.oss.endpoint = \"http://127.0.0.1:{}\"\nstore.oss.cname = true\nstore.oss.credentials_file = \"oss.key\"\n\
                         cache.max_days = 36500\n{base}\n{entry}",
                        a.port
                    ),
                );
                std::fs::write(
                    env.root().join("oss.key"),
                    "access_key_id = LTAI5tCamvaultTest\naccess_key_secret = camvault-test-secret\n",
                )
                .unwrap();
                Pair {
                    env,
                    main: Main::Oss(a),
                    mirror: Copy::Oss(b),
                    name: "shanghai",
                    entry,
                }
            }
        }
    }

    /// Makes the mirror usable: a disk gets its marker.
    fn plug_in(&self) {
        if let Copy::Disk(_) = self.mirror {
            self.env.ok(&["mirror", "init", self.name]);
        }
    }

    fn main_objects(&self) -> BTreeMap<String, String> {
        match &self.main {
            Main::Fs => under(&self.env.store()),
            Main::Oss(s) => under(&s.data.path().join("objects")),
            Main::Moto(s3) => s3
                .dump()
                .into_iter()
                .filter(|(k, _)| !k.starts_with('_') && !k.starts_with("manifests/") && !k.starts_with("catalog/"))
                .map(|(k, v)| (k, v["sha256"].as_str().unwrap_or_default().to_string()))
                .collect(),
        }
    }

    fn mirror_root(&self) -> PathBuf {
        match &self.mirror {
            Copy::Disk(root) => root.clone(),
            Copy::Oss(s) => s.data.path().join("objects"),
        }
    }

    fn mirror_objects(&self) -> BTreeMap<String, String> {
        under(&self.mirror_root())
    }

    /// The mirror loses the object `key`.
    fn lose(&self, key: &str) {
        std::fs::remove_file(self.mirror_root().join(key)).unwrap();
        if let Copy::Oss(s) = &self.mirror {
            let _ = std::fs::remove_file(s.data.path().join("meta").join(format!("{key}.json")));
        }
    }

    /// The mirror's object `key` gets other bytes of the same size (its metadata kept).
    fn rot(&self, key: &str) {
        let p = self.mirror_root().join(key);
        let mut data = std::fs::read(&p).unwrap();
        data[100] ^= 0xff;
        std::fs::write(&p, data).unwrap();
    }
}

macro_rules! pairs {
    ($scenario:ident) => {
        mod $scenario {
            use super::*;
            #[test]
            fn fs_and_fs() {
                super::$scenario(Kind::FsFs);
            }
            #[test]
            fn moto_and_fs() {
                needs!(PYTHON);
                super::$scenario(Kind::MotoFs);
            }
            #[test]
            fn oss_and_oss() {
                needs!(PYTHON);
                super::$scenario(Kind::OssOss);
            }
        }
    };
}

/// Three recordings three days old, in the inbox.
fn three_old(p: &Pair) -> Vec<String> {
    let t = now_unix() - 3 * 86_400;
    (0..3)
        .map(|i| {
            let rel = old_clip(t + i * 60);
            p.env.put_old(&rel, &bytes(300 + i as u64, 150_000 + i as usize * 1000));
            rel
        })
        .collect()
}

/// `ingest --once` copies every recording to both stores and verifies it in each, lets
/// the local copies go only then, and writes manifests that list every copy. The mirror
/// then loses one copy: `verify --manifests` and `verify` name it in that store, `verify`
/// copies it again from the main store (the vault no longer has it), and everything
/// checks out again. A copy with other bytes of the same size is found by `verify --deep`.
fn copies_are_verified_listed_and_a_lost_one_copied_again(kind: Kind) {
    let p = Pair::new(kind, "cache.max_bytes = 0");
    p.plug_in();
    three_old(&p);
    let out = p.env.run(&["ingest", "--once"]);
    assert!(out.status.success(), "{kind:?}: {}\n{}", stdout(&out), stderr(&out));
    let (main, copies) = (p.main_objects(), p.mirror_objects());
    assert_eq!(main.len(), 3, "{kind:?}: {main:?}");
    assert_eq!(
        copies, main,
        "{kind:?}: the same keys with the same bytes in both stores"
    );
    let s = p.env.status();
    assert_eq!(
        s["files"]["cached"], 0,
        "{kind:?}: the cache let go once both had them: {s:#}"
    );
    assert_eq!(
        catalog_count(
            &p.env,
            &format!(
                "SELECT count(*) FROM copies WHERE store = '{}' AND state = 'verified'",
                p.name
            )
        ),
        3
    );
    // The manifests list each copy: chains, objects and copies check out.
    let out = p.env.ok(&["verify", "--manifests"]);
    assert!(
        out.contains("its 6 listed object(s) and copies match"),
        "{kind:?}: {out}"
    );
    let out = p.env.ok(&["verify"]);
    assert!(
        out.contains(&format!("ok: store {}: 3 copy(ies) checked", p.name)),
        "{kind:?}: {out}"
    );

    let lost = main.keys().nth(1).unwrap().clone();
    p.lose(&lost);
    let out = p.env.run(&["verify", "--manifests"]);
    assert!(
        !out.status.success() && stdout(&out).contains(&format!("{lost} in mirror \"{}\"", p.name)),
        "{kind:?}: {}",
        stdout(&out)
    );
    let out = p.env.run(&["verify"]);
    let text = stdout(&out);
    assert!(!out.status.success(), "{kind:?}: {text}");
    assert!(
        text.contains(&format!("BAD  {}  {lost}", p.name)) && text.contains("copied again from the main store"),
        "{kind:?}: {text}"
    );
    assert!(
        text.contains("ok: 3 object(s) checked"),
        "{kind:?}: the main store is fine: {text}"
    );
    assert_eq!(p.mirror_objects(), main, "{kind:?}: copied again, same bytes");
    let out = p.env.ok(&["verify"]);
    assert!(
        out.contains(&format!("ok: store {}: 3 copy(ies) checked", p.name)),
        "{kind:?}: {out}"
    );
    p.env.ok(&["verify", "--manifests"]);

    // A catalog rebuilt from the store learns each copy by listing the mirror: the ones
    // there (size and CRC-64 checked), not a lost one, which backfill then copies.
    p.lose(&lost);
    let out = p.env.run(&["catalog", "rebuild", "--force"]);
    assert!(
        stdout(&out).contains(&format!(
            "mirror \"{}\": 2 copy(ies) found and checked (size, CRC-64), 1 recording(s) not there",
            p.name
        )),
        "{kind:?}: {}\n{}",
        stdout(&out),
        stderr(&out)
    );
    let mirror_line = |s: &serde_json::Value| {
        s["stores"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["store"] == p.name)
            .cloned()
            .unwrap()
    };
    let s = p.env.status();
    assert_eq!(
        (
            mirror_line(&s)["verified"].as_u64(),
            mirror_line(&s)["without_copy"].as_u64()
        ),
        (Some(2), Some(1)),
        "{kind:?}: {s:#}"
    );
    let out = p.env.ok(&["mirror", "backfill", p.name]);
    assert!(
        out.contains("1 recording(s) queued, 1 copied and verified"),
        "{kind:?}: {out}"
    );
    assert_eq!(p.mirror_objects(), main, "{kind:?}");

    // Other bytes, same size: only reading them back finds it.
    let rotten = main.keys().next().unwrap().clone();
    p.rot(&rotten);
    let out = p.env.run(&["verify", "--deep"]);
    let text = stdout(&out);
    assert!(
        !out.status.success() && text.contains(&format!("BAD  {}  {rotten}", p.name)) && text.contains("bytes differ"),
        "{kind:?}: {text}"
    );
    assert!(
        text.contains(&format!(
            "store {}: 1 of 3 copy(ies) missing or different (bytes re-read)",
            p.name
        )),
        "{kind:?}: {text}"
    );
}
pairs!(copies_are_verified_listed_and_a_lost_one_copied_again);

/// A mirror that is not usable when camvault starts (a disk without its marker: the empty
/// mount point; an OSS bucket whose key is refused) holds up nothing but its own copies:
/// the main store verifies everything, nothing reaches the mirror, the local files stay,
/// `ingest --once` says so and exits 1. Once usable, the next run copies everything.
fn a_mirror_unusable_at_start_delays_only_its_own_copies(kind: Kind) {
    let p = Pair::new(kind, "cache.max_bytes = 0");
    if let Copy::Oss(_) = p.mirror {
        // Its own, wrong key instead of the main store's.
        let cfg = std::fs::read_to_string(p.env.config()).unwrap();
        let cfg = cfg.replace(
            "credentials = \"same-as-primary\"\n[store.mirror.oss]\n",
            "[store.mirror.oss]\ncredentials_file = \"wrong.key\"\n",
        );
        std::fs::write(p.env.config(), cfg).unwrap();
        std::fs::write(
            p.env.root().join("wrong.key"),
            "access_key_id = LTAI5tCamvaultTest\naccess_key_secret = not-the-secret\n",
        )
        .unwrap();
    }
    three_old(&p);
    let out = p.env.run(&["ingest", "--once"]);
    let err = stderr(&out);
    assert!(!out.status.success(), "{kind:?}: {err}");
    assert!(
        err.contains(&format!("mirror \"{}\": 3 copy(ies) not verified yet", p.name))
            && !err.contains("not-the-secret"),
        "{kind:?}: {err}"
    );
    assert_eq!(p.main_objects().len(), 3, "{kind:?}");
    assert!(p.mirror_objects().is_empty(), "{kind:?}: nothing reached the mirror");
    let s = p.env.status();
    assert_eq!(
        (s["files"]["verified"].as_u64(), s["files"]["cached"].as_u64()),
        (Some(3), Some(3)),
        "{kind:?}: {s:#}"
    );
    // Usable now.
    match p.mirror {
        Copy::Disk(_) => p.plug_in(),
        Copy::Oss(_) => std::fs::write(
            p.env.root().join("wrong.key"),
            "access_key_id = LTAI5tCamvaultTest\naccess_key_secret = camvault-test-secret\n",
        )
        .unwrap(),
    }
    let out = p.env.run(&["ingest", "--once"]);
    assert!(out.status.success(), "{kind:?}: {}", stderr(&out));
    assert_eq!(p.mirror_objects(), p.main_objects(), "{kind:?}");
    assert_eq!(p.env.status()["files"]["cached"], 0, "{kind:?}");
}
pairs!(a_mirror_unusable_at_start_delays_only_its_own_copies);

/// A second mirror at the same place as the first (the same directory, or the same bucket
/// at the same endpoint) is refused at start-up with the reason; nothing runs.
fn two_mirrors_in_one_place_are_refused(kind: Kind) {
    let p = Pair::new(kind, "");
    let cfg = std::fs::read_to_string(p.env.config()).unwrap();
    let twin = p
        .entry
        .replacen(&format!("name = \"{}\"", p.name), "name = \"twin\"", 1);
    std::fs::write(p.env.config(), format!("{cfg}\n{twin}")).unwrap();
    for args in [&["ingest", "--once"][..], &["serve"][..]] {
        let out = p.env.run(args);
        let err = stderr(&out);
        assert!(
            !out.status.success()
                && err.contains(&format!(
                    "mirror \"twin\" points at the same place as mirror \"{}\"",
                    p.name
                )),
            "{kind:?} {args:?}: {err}"
        );
    }
    assert!(p.main_objects().is_empty() && p.mirror_objects().is_empty());
}
pairs!(two_mirrors_in_one_place_are_refused);

fn copy_tree(from: &Path, to: &Path) {
    for p in files_under(from) {
        let dest = to.join(p.strip_prefix(from).unwrap());
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::copy(&p, &dest).unwrap();
    }
}

/// OSS Cross-Region Replication: the main bucket replicates itself to "cam-copy" in
/// cn-shanghai (GetBucketReplication, answered with the SDK's own XML). `store test` and
/// `doctor` say so and that the replica is declared as read-only mirror "replica". Its
/// copies wait for replication (the local files stay), are verified once it has copied
/// them, and a copy it loses is reported, never written: the replica's server sees not
/// one writing request, whatever camvault runs (ingest, verify, backfill, lifecycle).
#[test]
fn an_oss_replica_is_a_read_only_mirror_verified_and_never_written() {
    needs!(PYTHON);
    let (a, b) = (
        server_of("cam-archive", &[]),
        server_of("cam-copy", &["--region", "cn-shanghai"]),
    );
    let env = Env::new(
        1,
        &format!(
            "store.kind = \"oss\"\nstore.oss.bucket = \"cam-archive\"\nstore.oss.region = \"cn-beijing\"\n\
             store.oss.endpoint = \"http://127.0.0.1:{}\"\nstore.oss.cname = true\nstore.oss.credentials_file = \"oss.key\"\n\
             cache.max_bytes = 0\nupload.retry_max_secs = 2\n\
             [[store.mirror]]\nname = \"replica\"\nkind = \"oss\"\nread_only = true\ncredentials = \"same-as-primary\"\n[store.mirror.oss]\n\
             bucket = \"cam-copy\"\nregion = \"cn-shanghai\"\nendpoint = \"http://127.0.0.1:{}\"\ncname = true\n",
            a.port, b.port
        ),
    );
    std::fs::write(
        env.root().join("oss.key"),
        "access_key_id = LTAI5tCamvaultTest\naccess_key_secret = camvault-test-secret\n",
    )
    .unwrap();
    // Before the bucket has a rule, `store test` says so.
    let out = env.ok(&["store", "test"]);
    assert!(out.contains("the bucket does not replicate itself"), "{out}");
    std::fs::write(
        a.data.path().join("replication.json"),
        r#"[{"id": "to-shanghai", "bucket": "cam-copy", "location": "oss-cn-shanghai", "status": "doing"}]"#,
    )
    .unwrap();
    let out = env.ok(&["store", "test"]);
    let said = "the bucket replicates every object to bucket \"cam-copy\" in oss-cn-shanghai";
    assert!(
        out.contains(said) && out.contains("declared as read-only mirror \"replica\""),
        "{out}"
    );
    let doctor = stdout(&env.run(&["doctor"]));
    assert!(
        doctor.contains(said) && doctor.contains("read-only: camvault verifies its copies"),
        "{doctor}"
    );
    let b_writes = writes(&b);
    assert!(
        b_writes.is_empty(),
        "store test and doctor wrote to the replica: {b_writes:?}"
    );

    let p_objects = |s: &Server| under(&s.data.path().join("objects"));
    let t = now_unix() - 7200;
    for i in 0..3 {
        env.put_old(&old_clip(t + i * 60), &bytes(700 + i as u64, 90_000));
    }
    let out = env.run(&["ingest", "--once"]);
    assert!(
        !out.status.success() && stderr(&out).contains("mirror \"replica\": 3 copy(ies) not verified yet"),
        "{}",
        stderr(&out)
    );
    assert_eq!(env.status()["files"]["cached"], 3, "kept until the replica has them");
    // Replication copies the bucket.
    copy_tree(&a.data.path().join("objects"), &b.data.path().join("objects"));
    copy_tree(&a.data.path().join("meta"), &b.data.path().join("meta"));
    // The next run looks again (a one-off run does not wait out `serve`'s backoff).
    let out = env.run(&["ingest", "--once"]);
    assert!(
        out.status.success(),
        "the replica's copies are verified: {}",
        stderr(&out)
    );
    assert_eq!(env.status()["files"]["cached"], 0);
    let out = env.ok(&["verify"]);
    assert!(out.contains("ok: store replica: 3 copy(ies) checked"), "{out}");

    let lost = p_objects(&a).into_keys().find(|k| k.starts_with("videos/")).unwrap();
    std::fs::remove_file(b.data.path().join("objects").join(&lost)).unwrap();
    let out = env.run(&["verify"]);
    assert!(
        !out.status.success()
            && stdout(&out).contains(&format!("BAD  replica  {lost}"))
            && stdout(&out).contains("read-only mirror: not copied by camvault"),
        "{}",
        stdout(&out)
    );
    assert!(!b.data.path().join("objects").join(&lost).exists());
    let out = env.run(&["mirror", "backfill", "replica"]);
    assert!(
        !out.status.success() && stderr(&out).contains("is read-only"),
        "{}",
        stderr(&out)
    );
    let out = stdout(&env.run(&["lifecycle", "check"]));
    assert!(
        out.contains("mirror \"replica\""),
        "its bucket's rules are checked too: {out}"
    );
    let out = stdout(&env.run(&["lifecycle", "apply"]));
    assert!(
        out.contains("mirror \"replica\": read-only (a replication target)"),
        "apply skips it, saying so: {out}"
    );
    assert_eq!(
        writes(&b),
        Vec::<String>::new(),
        "nothing was ever written to the replica"
    );
}

/// SIGKILL at random moments while recordings arrive and go to two stores; after a
/// restart every recording is verified in both, each stored exactly once, byte for byte.
fn sigkill_with_two_stores_loses_nothing_and_duplicates_nothing(kind: Kind) {
    use std::io::Write;
    let p = Pair::new(kind, "upload.concurrency = 3");
    p.plug_in();
    let inbox = p.env.inbox();
    let writer = std::thread::spawn(move || {
        let mut written = BTreeMap::new();
        let t = now_unix() - 3600;
        for i in 0..24u64 {
            let rel = old_clip(t + i as i64 * 60);
            let path = inbox.join(&rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            let data = bytes(100 + i, 30_000 + (i as usize * 997) % 40_000);
            std::fs::File::create(&path).unwrap().write_all(&data).unwrap();
            written.insert(rel, sha(&data));
            std::thread::sleep(std::time::Duration::from_millis(120));
        }
        written
    });
    let mut rng = 0x9E3779B97F4A7C15u64;
    let mut kills = 0;
    while !writer.is_finished() || kills < 6 {
        let mut serve = p.env.serve();
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        std::thread::sleep(std::time::Duration::from_millis(200 + rng % 1000));
        serve.kill().unwrap(); // SIGKILL
        serve.wait().unwrap();
        kills += 1;
    }
    let inputs = writer.join().unwrap();
    let n = inputs.len();
    let mut serve = p.env.serve();
    let name = p.name;
    let mirror_line = move |s: &serde_json::Value| {
        s["stores"]
            .as_array()
            .and_then(|a| a.iter().find(|x| x["store"] == name).cloned())
            .unwrap_or_default()
    };
    let s = p.env.wait_status(std::time::Duration::from_secs(180), |s| {
        s["files"]["verified"] == n && mirror_line(s)["verified"] == n
    });
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &serve.id().to_string()])
        .status();
    serve.wait().unwrap();
    assert_eq!(s["files"]["total"], n, "{kind:?}: {s:#}");
    assert_eq!(
        (mirror_line(&s)["failing"].as_u64(), mirror_line(&s)["pending"].as_u64()),
        (Some(0), Some(0)),
        "{kind:?}"
    );
    let (main, copies) = (p.main_objects(), p.mirror_objects());
    assert_eq!(main.len(), n, "{kind:?}: each stored once in the main store");
    assert_eq!(
        copies, main,
        "{kind:?}: the mirror holds the same keys with the same bytes, nothing more"
    );
    let mut stored: Vec<&String> = copies.values().collect();
    let mut expected: Vec<&String> = inputs.values().collect();
    stored.sort();
    expected.sort();
    assert_eq!(stored, expected, "{kind:?}: stored bytes equal the inputs");
}
pairs!(sigkill_with_two_stores_loses_nothing_and_duplicates_nothing);

/// A multipart upload to a mirror (an OSS bucket) killed with SIGKILL half way resumes at
/// the next run like the main store's: the parts the bucket holds are not sent again, the
/// same upload completes, the copy is verified byte for byte, and the journal is empty.
#[test]
fn a_multipart_upload_to_a_mirror_resumes_after_sigkill() {
    needs!(PYTHON);
    let srv = server_of("cam-copy", &["--region", "cn-shanghai"]);
    let env = Env::new(
        1,
        &format!(
            "upload.bandwidth_limit = \"1 MiB\"\ncache.max_days = 36500\n\
             [[store.mirror]]\nname = \"shanghai\"\nkind = \"oss\"\n[store.mirror.oss]\nbucket = \"cam-copy\"\nregion = \"cn-shanghai\"\n\
             endpoint = \"http://127.0.0.1:{}\"\ncname = true\ncredentials_file = \"oss.key\"\nmultipart_threshold_mb = 1\npart_size_mb = 1\n",
            srv.port
        ),
    );
    std::fs::write(
        env.root().join("oss.key"),
        "access_key_id = LTAI5tCamvaultTest\naccess_key_secret = camvault-test-secret\n",
    )
    .unwrap();
    let data = bytes(42, 6 << 20); // six parts of 1 MiB
    env.put_old(&old_clip(now_unix() - 3600), &data);
    let mut ingest = env
        .cmd(&["ingest", "--once"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_for(
        std::time::Duration::from_secs(90),
        "a mirror part in the journal",
        || {
            env.root().join("catalog.sqlite").exists()
                && catalog_count(&env, "SELECT count(*) FROM multipart_parts WHERE store = 'shanghai'") >= 1
        },
    );
    ingest.kill().unwrap(); // SIGKILL
    ingest.wait().unwrap();
    let c = rusqlite::Connection::open(env.root().join("catalog.sqlite")).unwrap();
    let done: Vec<u32> = c
        .prepare("SELECT part FROM multipart_parts WHERE store = 'shanghai' ORDER BY part")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let (key, upload_id): (String, String) = c
        .query_row(
            "SELECT key, upload_id FROM multipart_uploads WHERE store = 'shanghai'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    drop(c);
    assert!(
        !done.is_empty() && done.len() < 6,
        "killed mid-upload with parts {done:?} recorded"
    );
    assert_eq!(
        catalog_count(&env, "SELECT count(*) FROM multipart_uploads WHERE store = 'primary'"),
        0,
        "not in the main store's journal"
    );
    let log = || std::fs::read_to_string(srv.data.path().join("requests.log")).unwrap_or_default();
    let cut = log().len();
    let cfg = std::fs::read_to_string(env.config()).unwrap();
    std::fs::write(env.config(), set_key(&cfg, "upload", "bandwidth_limit", "0")).unwrap();
    let out = env.run(&["ingest", "--once"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("resuming a multipart upload"), "{}", stderr(&out));
    let after = log()[cut..].to_string();
    let sent: Vec<u32> = after
        .lines()
        .filter(|l| l.starts_with(&format!("PUT /{key}?partNumber=")))
        .map(|l| {
            l.split("partNumber=")
                .nth(1)
                .unwrap()
                .split('&')
                .next()
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    for p in &done {
        assert!(
            !sent.contains(p),
            "part {p}, already stored, was not sent again: {after}"
        );
    }
    assert!(sent.contains(&6), "the rest was sent: {after}");
    assert!(
        after.contains(&format!("POST /{key}?uploadId={upload_id} 200")),
        "the same upload completed: {after}"
    );
    assert!(!after.contains("?uploads "), "no new upload started: {after}");
    assert!(
        std::fs::read(srv.data.path().join("objects").join(&key)).unwrap() == data,
        "byte-identical"
    );
    assert_eq!(catalog_count(&env, "SELECT count(*) FROM multipart_uploads"), 0);
    assert_eq!(
        catalog_count(
            &env,
            "SELECT count(*) FROM copies WHERE store = 'shanghai' AND state = 'verified'"
        ),
        1
    );
}
