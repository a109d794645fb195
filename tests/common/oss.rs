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
    let env = Env::new(
        1,
        &format!(
            "store.kind = \"oss\"\nstore.oss.bucket = \"cam-archive\"\nstore.oss.region = \"cn-beijing\"\n\
             store.oss.endpoint = \"http://127.0.0.1:{}\"\nstore.oss.cname = true\nstore.oss.credentials_file = \"oss.key\"\n\
             cache.max_days = 36500",
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
