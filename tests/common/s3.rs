//! An S3 server for the tests: moto's server (PyPI `moto[server]`, installed by
//! `.ci/run`) behind tests/fault_proxy.py, which checks every request's SigV4 signature
//! with botocore and injects faults on request; boto3 (tests/s3_tool.py) reads and
//! writes straight to moto.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::*;

pub const BUCKET: &str = "cam-archive";
pub const KEY_ID: &str = "AKIDCAMVAULTTEST";
pub const SECRET: &str = "camvault-test-secret";

pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// moto, and the proxy camvault talks to.
pub struct S3 {
    _moto: Proc,
    _proxy: Proc,
    pub moto_port: u16,
    pub port: u16,
    pub dir: tempfile::TempDir,
}

fn tests_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests"))
}

impl S3 {
    /// moto and a proxy injecting `faults` (see tests/fault_proxy.py) into PUTs and POSTs,
    /// checking S3's additional checksums as AWS does.
    pub fn start(faults: &str) -> S3 {
        S3::start_with(faults, "verify")
    }

    /// Like [`S3::start`], the proxy treating `x-amz-checksum-*` as `checksums` says
    /// (verify, refuse, ignore).
    pub fn start_with(faults: &str, checksums: &str) -> S3 {
        S3::start_full(faults, "PUT,POST", checksums)
    }

    /// Like [`S3::start_with`], the faults going to the requests whose method is in
    /// `methods` (e.g. "GET").
    pub fn start_full(faults: &str, methods: &str, checksums: &str) -> S3 {
        let py = test_python();
        let moto_port = free_port();
        let moto = Command::new(py.parent().unwrap().join("moto_server"))
            .args(["-H", "127.0.0.1", "-p", &moto_port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto_server (pip install 'moto[server]' into .venv-test; .ci/run does)");
        let moto = Proc(moto);
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let proxy = Command::new(&py)
            .arg(tests_dir().join("fault_proxy.py"))
            .args([&port.to_string(), &moto_port.to_string()])
            .arg(dir.path().join("requests.log"))
            .args(["--faults", faults, "--sigv4", KEY_ID, SECRET, "us-east-1"])
            .args(["--checksums", checksums, "--fault-methods", methods])
            .spawn()
            .unwrap();
        let proxy = Proc(proxy);
        wait_port("127.0.0.1", moto_port, "moto", Duration::from_secs(60));
        wait_port("127.0.0.1", port, "the fault proxy", Duration::from_secs(30));
        let s = S3 {
            _moto: moto,
            _proxy: proxy,
            moto_port,
            port,
            dir,
        };
        s.tool(&["create", BUCKET]);
        s
    }

    /// Runs tests/s3_tool.py (boto3, straight to moto).
    pub fn tool(&self, args: &[&str]) -> String {
        let out = Command::new(test_python())
            .arg(tests_dir().join("s3_tool.py"))
            .arg(self.moto_port.to_string())
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "s3_tool {args:?}: {}", stderr(&out));
        stdout(&out)
    }

    /// Every object as boto3 sees it (key → size, sha256, class, etag, meta, restore),
    /// plus `_uploads`: the keys of unfinished multipart uploads.
    pub fn dump(&self) -> serde_json::Map<String, serde_json::Value> {
        serde_json::from_str(&self.tool(&["dump", BUCKET])).unwrap()
    }

    /// Someone else's object, written straight to moto.
    pub fn put(&self, key: &str, data: &[u8], class: &str) {
        let f = self.dir.path().join("upload");
        std::fs::write(&f, data).unwrap();
        self.tool(&["put", BUCKET, key, f.to_str().unwrap(), class]);
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("requests.log")).unwrap_or_default()
    }

    /// A camvault data directory whose store is this server, through the proxy.
    pub fn env(&self, extra: &str) -> Env {
        let env = Env::new(
            1,
            &format!(
                "store.kind = \"s3\"\nstore.s3.bucket = \"{BUCKET}\"\nstore.s3.region = \"us-east-1\"\n\
                 store.s3.endpoint = \"http://127.0.0.1:{}\"\nstore.s3.path_style = true\n\
                 store.s3.credentials_file = \"s3.key\"\ncache.max_days = 36500\n{extra}",
                self.port
            ),
        );
        let key = env.root().join("s3.key");
        std::fs::write(
            &key,
            format!("access_key_id = {KEY_ID}\nsecret_access_key = {SECRET}\n"),
        )
        .unwrap();
        std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
        env
    }
}
