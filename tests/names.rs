//! Every file name the camera can produce (issue 13, finding 8) — up to 255 bytes, any byte
//! but '/' and NUL: invalid UTF-8, leading dots, `..mp4`, spaces, `%`, newlines, control
//! characters, URL and XML metacharacters — is captured, stored, verified and restored
//! (`ingest --once`, `get`, `restore --wait`) on every backend: `fs`, `s3` (moto, behind
//! tests/fault_proxy.py, which checks each request's SigV4 signature, so a key encoded one
//! way and signed another fails) and `oss` (tests/oss_server.py, which checks V4
//! signatures with Aliyun's SDK). The clips are 40 days old, so ingest purges the local
//! copies (the inbox ones too) and every read comes from the store.

mod common;

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::*;

const DAY: u64 = 86_400;
const CAMERA: &str = "xiaomi_camera_videos/78DF72A1B2C3";

/// Names a camera (or anyone with its SMB account) can write.
fn names() -> Vec<Vec<u8>> {
    let mut v: Vec<Vec<u8>> = [
        &b"..mp4"[..],
        b".mp4",
        b".hidden",
        b".camvault",
        b"...",
        b" lead space.mp4",
        b"trail space.mp4 ",
        b"100%.mp4",
        b"%FF%2F.mp4",
        b"new\nline.mp4",
        b"tab\tcr\r.mp4",
        b"\x01\x7fctl.mp4",
        b"a+b=c&d?e#f;g'h\"i<j>k*l~m:n@o$p!q(r)s[t]u{v}w|x^y`z,.mp4",
        b"back\\slash.mp4",
        b"\xff\xfe invalid \xc3(.mp4",
        "夜间 录像 ✓.mp4".as_bytes(),
        "bom\u{feff}rtl\u{202e}nonchar\u{ffff}.mp4".as_bytes(),
        b"-dash.mp4",
        b"ends.with.dot.",
    ]
    .iter()
    .map(|n| n.to_vec())
    .collect();
    let mut long = vec![b'a'; 250];
    long.extend_from_slice(b".mp4"); // the 250-character name, 254 bytes
    v.push(long);
    for last in [b'1', b'2'] {
        // 255 bytes, differing only at the end: shortened keys must stay distinct
        let mut n = vec![b'b'; 250];
        n.extend_from_slice(&[last, b'.', b'm', b'p', b'4']);
        v.push(n);
    }
    v.push(vec![0xff; 255]); // 765 bytes once escaped
    let mut cjk = "录".repeat(83).into_bytes(); // 249 bytes of 3-byte characters
    cjk.extend_from_slice(b"%.mp4\n");
    v.push(cjk);
    v
}

/// Writes every name into the camera's folder, each with its own bytes, 40 days old.
fn put_names(env: &Env) -> Vec<(Vec<u8>, Vec<u8>)> {
    let dir = env.inbox().join(CAMERA);
    std::fs::create_dir_all(&dir).unwrap();
    names()
        .into_iter()
        .enumerate()
        .map(|(i, name)| {
            let data = bytes(i as u64 + 7, 3000 + i * 17);
            let p = dir.join(OsStr::from_bytes(&name));
            std::fs::write(&p, &data).unwrap_or_else(|e| panic!("{:?}: {e}", p));
            age(&p, 40 * DAY);
            (name, data)
        })
        .collect()
}

/// The contents of every file under `dir`, and the paths.
fn contents(dir: &Path) -> (BTreeSet<Vec<u8>>, Vec<PathBuf>) {
    let files = files_under(dir);
    (files.iter().map(|p| std::fs::read(p).unwrap()).collect(), files)
}

/// The whole round: ingest, verify, fetch each clip by key, restore them all.
fn round_trip(env: &Env) {
    let inputs = put_names(env);
    let want: BTreeSet<Vec<u8>> = inputs.iter().map(|(_, d)| d.clone()).collect();
    env.ok(&["ingest", "--once"]);
    let s = env.status();
    assert_eq!(s["files"]["verified"], inputs.len(), "{s:#}");
    assert_eq!(s["files"]["failed"], 0, "{s:#}");
    assert_eq!(s["files"]["cached"], 0, "40-day-old clips left the cache: {s:#}");
    let left = files_under(&env.inbox().join(CAMERA));
    assert!(left.is_empty(), "the purge removed every inbox copy: {left:?}");

    let ls = env.ls_all();
    let keys: Vec<String> = ls.iter().map(|r| r["key"].as_str().unwrap().to_string()).collect();
    assert_eq!(
        keys.iter().collect::<BTreeSet<_>>().len(),
        inputs.len(),
        "distinct keys: {keys:#?}"
    );
    for k in &keys {
        let name = k.rsplit('/').next().unwrap();
        assert!(
            name.len() <= 200 && !name.is_empty() && name != "." && name != "..",
            "{k}"
        );
        assert!(!k.chars().any(|c| c.is_control()), "{k:?}");
    }

    // `get`: each clip by its key, from the store.
    let mut got = BTreeSet::new();
    for (i, k) in keys.iter().enumerate() {
        let out = env.root().join(format!("get/{i}"));
        env.ok(&["get", k, "--out", out.to_str().unwrap(), "--wait"]);
        let (c, files) = contents(&out);
        assert_eq!(files.len(), 1, "{k}: {files:?}");
        got.extend(c);
    }
    assert!(got == want, "`get` brought back every clip's bytes");

    // `restore`: the whole time range, verified against the catalog.
    let now = now_unix();
    let fmt = |t: i64| jiff::Timestamp::from_second(t).unwrap().to_string();
    let (from, to) = (fmt(now - 41 * DAY as i64), fmt(now - 39 * DAY as i64));
    let out = env.root().join("restored");
    env.ok(&[
        "restore",
        "--from",
        &from,
        "--to",
        &to,
        "--wait",
        "--yes",
        "--out",
        out.to_str().unwrap(),
    ]);
    let (c, files) = contents(&out);
    assert_eq!(files.len(), inputs.len(), "{files:#?}");
    assert!(c == want, "`restore` brought back every clip's bytes");
}

#[test]
fn every_camera_name_round_trips_through_the_fs_store() {
    let env = Env::new(1, "");
    round_trip(&env);
    // The fs store's temporary names are its own: nothing is left in its tmp folder.
    let tmp = env.store().join(".camvault/tmp");
    assert!(files_under(&tmp).is_empty(), "{:?}", files_under(&tmp));
}

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn tests_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests"))
}

#[test]
fn every_camera_name_round_trips_through_s3() {
    needs!(PYTHON);
    let py = test_python();
    let moto_port = free_port();
    let _moto = Proc(
        Command::new(py.parent().unwrap().join("moto_server"))
            .args(["-H", "127.0.0.1", "-p", &moto_port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto_server (pip install 'moto[server]' into .venv-test; .ci/run does)"),
    );
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let (key_id, secret) = ("AKIDCAMVAULTTEST", "camvault-test-secret");
    let _proxy = Proc(
        Command::new(&py)
            .arg(tests_dir().join("fault_proxy.py"))
            .args([&port.to_string(), &moto_port.to_string()])
            .arg(dir.path().join("requests.log"))
            .args(["--faults", "", "--sigv4", key_id, secret, "us-east-1"])
            .args(["--checksums", "verify"])
            .spawn()
            .unwrap(),
    );
    wait_port("127.0.0.1", moto_port, "moto", Duration::from_secs(60));
    wait_port("127.0.0.1", port, "the fault proxy", Duration::from_secs(30));
    let tool = Command::new(&py)
        .arg(tests_dir().join("s3_tool.py"))
        .args([&moto_port.to_string(), "create", "cam-archive"])
        .output()
        .unwrap();
    assert!(tool.status.success(), "{}", stderr(&tool));
    let env = Env::new(
        1,
        &format!(
            "store.kind = \"s3\"\nstore.s3.bucket = \"cam-archive\"\nstore.s3.region = \"us-east-1\"\n\
             store.s3.endpoint = \"http://127.0.0.1:{port}\"\nstore.s3.path_style = true\n\
             store.s3.credentials_file = \"s3.key\""
        ),
    );
    let key = env.root().join("s3.key");
    std::fs::write(
        &key,
        format!("access_key_id = {key_id}\nsecret_access_key = {secret}\n"),
    )
    .unwrap();
    std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    round_trip(&env);
    // boto3's own listing holds the same keys camvault's catalog does.
    let dump = Command::new(&py)
        .arg(tests_dir().join("s3_tool.py"))
        .args([&moto_port.to_string(), "dump", "cam-archive"])
        .output()
        .unwrap();
    let dump: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(&dump.stdout).unwrap();
    for r in env.ls_all() {
        let k = r["key"].as_str().unwrap();
        assert!(dump.contains_key(k), "{k:?} not in the bucket as boto3 lists it");
    }
}

#[test]
fn every_camera_name_round_trips_through_oss() {
    needs!(PYTHON);
    let port = free_port();
    let data = tempfile::tempdir().unwrap();
    let _srv = Proc(
        Command::new(test_python())
            .arg(tests_dir().join("oss_server.py"))
            .args([&port.to_string(), "cam-archive", data.path().to_str().unwrap()])
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_port("127.0.0.1", port, "the OSS test server", Duration::from_secs(30));
    let env = Env::new(
        1,
        &format!(
            "store.kind = \"oss\"\nstore.oss.bucket = \"cam-archive\"\nstore.oss.region = \"cn-beijing\"\n\
             store.oss.endpoint = \"http://127.0.0.1:{port}\"\nstore.oss.cname = true\nstore.oss.credentials_file = \"oss.key\""
        ),
    );
    std::fs::write(
        env.root().join("oss.key"),
        "access_key_id = LTAI5tCamvaultTest\naccess_key_secret = camvault-test-secret\n",
    )
    .unwrap();
    round_trip(&env);
    // The server keeps each object under its decoded key: the keys arrived as sent.
    let root = data.path().join("objects");
    for r in env.ls_all() {
        let k = r["key"].as_str().unwrap();
        assert!(root.join(k).is_file(), "{k:?} not stored under its own key");
    }
}

/// A 255-byte name the camera writes again after it was stored: the revision key
/// (`….r2.mp4`) still fits a file name in the vault and the store, and both are kept.
#[test]
fn a_revision_of_a_255_byte_name_fits() {
    let env = Env::new(1, "cache.max_days = 36500");
    let mut name = vec![0xe5u8; 251]; // invalid UTF-8: 753 bytes once escaped
    name.extend_from_slice(b".mp4");
    let p = env.inbox().join(CAMERA).join(OsStr::from_bytes(&name));
    write(&p, b"first take");
    age(&p, 3600);
    env.ok(&["ingest", "--once"]);
    std::fs::remove_file(&p).unwrap(); // the camera's retention job, then the same name again
    write(&p, b"second take, other bytes");
    age(&p, 3600);
    env.ok(&["ingest", "--once"]);
    let s = env.status();
    assert_eq!(
        (s["files"]["verified"].as_u64(), s["files"]["failed"].as_u64()),
        (Some(2), Some(0)),
        "{s:#}"
    );
    let objects = env.objects();
    let keys: Vec<&String> = objects.keys().collect();
    assert_eq!(keys.len(), 2, "{keys:#?}");
    let r2 = keys.iter().find(|k| k.ends_with(".r2.mp4")).expect("a revision key");
    assert!(r2.rsplit('/').next().unwrap().len() <= 255 - ".json".len(), "{r2}");
    let mut vals: Vec<&Vec<u8>> = objects.values().collect();
    vals.sort();
    assert_eq!(vals, [&b"first take".to_vec(), &b"second take, other bytes".to_vec()]);
}
