//! The OSS test server (tests/oss_server.py), which checks every request's V4 (or V1)
//! signature with Aliyun's official SDK.
#![allow(dead_code)]

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::*;

pub struct Server {
    pub child: Child,
    pub port: u16,
    pub data: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn server(extra: &[&str]) -> Server {
    server_of("cam-archive", extra)
}

/// A test server for bucket `bucket` (a second bucket: another server on another port).
pub fn server_of(bucket: &str, extra: &[&str]) -> Server {
    let port = free_port();
    let data = tempfile::tempdir().unwrap();
    let child = Command::new(test_python())
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/oss_server.py"))
        .args([&port.to_string(), bucket, data.path().to_str().unwrap()])
        .args(extra)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    wait_port("127.0.0.1", port, "the OSS test server", Duration::from_secs(30));
    Server { child, port, data }
}

pub fn oss_env(srv: &Server, secret: &str) -> Env {
    oss_env_with(srv, secret, "")
}

/// [`oss_env`] with more config `edits` (as [`Env::new`] takes them) after its own.
pub fn oss_env_with(srv: &Server, secret: &str, edits: &str) -> Env {
    let env = Env::new(
        1,
        &format!(
            "store.kind = \"oss\"\nstore.oss.bucket = \"cam-archive\"\nstore.oss.region = \"cn-beijing\"\n\
             store.oss.endpoint = \"http://127.0.0.1:{}\"\nstore.oss.cname = true\nstore.oss.credentials_file = \"oss.key\"\n\
             cache.max_days = 36500\n{edits}",
            srv.port
        ),
    );
    let key = env.root().join("oss.key");
    std::fs::write(
        &key,
        format!("access_key_id = LTAI5tCamvaultTest\naccess_key_secret = {secret}\n"),
    )
    .unwrap();
    env
}

/// A `[[store.mirror]]` entry for `srv`'s bucket as mirror `name` (in Shanghai, signed with
/// the main store's keys).
pub fn mirror_entry(name: &str, srv: &Server, bucket: &str) -> String {
    format!(
        "[[store.mirror]]\nname = \"{name}\"\nkind = \"oss\"\ncredentials = \"same-as-primary\"\n[store.mirror.oss]\n\
         bucket = \"{bucket}\"\nregion = \"cn-shanghai\"\nendpoint = \"http://127.0.0.1:{}\"\ncname = true\n",
        srv.port
    )
}

/// Sets the metadata of `key` in `srv` (its class, its restore's times) as a test edits it.
pub fn edit_meta(srv: &Server, key: &str, edit: impl FnOnce(&mut serde_json::Value)) {
    let p = srv.data.path().join("meta").join(format!("{key}.json"));
    let mut m: serde_json::Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
    edit(&mut m);
    std::fs::write(&p, serde_json::to_vec(&m).unwrap()).unwrap();
}

/// The requests `srv` answered ("METHOD PATH STATUS" lines) that contain `part`.
pub fn requests(srv: &Server, part: &str) -> Vec<String> {
    answered(srv, |l| l.contains(part))
}

/// The requests `srv` answered that write (PUT, POST, DELETE).
pub fn writes(srv: &Server) -> Vec<String> {
    answered(srv, |l| {
        l.starts_with("PUT") || l.starts_with("POST") || l.starts_with("DELETE")
    })
}

fn answered(srv: &Server, keep: impl Fn(&str) -> bool) -> Vec<String> {
    std::fs::read_to_string(srv.data.path().join("requests.log"))
        .unwrap_or_default()
        .lines()
        .filter(|l| keep(l))
        .map(str::to_string)
        .collect()
}
