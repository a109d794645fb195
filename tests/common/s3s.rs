//! A second S3 implementation nobody here wrote: s3s-fs, the file-system S3 server of the
//! s3s project (crates.io `s3s-fs`, `cargo install s3s-fs --features binary`, as
//! `.ci/run` does). Not a moto: it checks SigV4 itself, and leaves out what an
//! S3-compatible store may leave out (lifecycle, storage classes, restore, Object Lock),
//! answering `NotImplemented`, so camvault's fallbacks meet a real server.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use super::s3::Proc;
use super::*;

pub const KEY_ID: &str = "AKIDCAMVAULTS3S";
pub const SECRET: &str = "camvault-s3s-secret";
pub const BUCKET: &str = "cam-archive";

pub struct S3s {
    _proc: Proc,
    pub port: u16,
    pub root: tempfile::TempDir,
}

/// The s3s-fs binary: `$CAMVAULT_S3S_FS`, else on PATH, else in cargo's bin directory.
pub fn binary() -> PathBuf {
    if let Some(p) = std::env::var_os("CAMVAULT_S3S_FS") {
        return PathBuf::from(p);
    }
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
    let in_cargo = home.map(|h| h.join("bin/s3s-fs")).filter(|p| p.exists());
    in_cargo.unwrap_or_else(|| PathBuf::from("s3s-fs"))
}

impl S3s {
    pub fn start() -> S3s {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join(BUCKET)).unwrap();
        let port = free_port();
        let child = Command::new(binary())
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--access-key", KEY_ID, "--secret-key", SECRET])
            .arg(root.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("s3s-fs (cargo install --locked s3s-fs@0.14.1 --features binary; .ci/run does), or set $CAMVAULT_S3S_FS");
        let proc = Proc(child);
        wait_port("127.0.0.1", port, "s3s-fs", Duration::from_secs(30));
        S3s {
            _proc: proc,
            port,
            root,
        }
    }
}
