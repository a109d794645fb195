//! Test harness: drives the real `camvault` binary on temporary directories.
#![allow(dead_code)]

pub mod adopt;
pub mod archive;
pub mod conformance;
pub mod oss;
pub mod receiver;
pub mod s3;
pub mod s3s;
pub mod samba;
pub mod scenes;
pub mod web;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime};

pub const OLD_MAC: &str = "78DF72A1B2C3";
pub const NEW_MAC: &str = "5C02148A9E01";

pub struct Env {
    pub dir: tempfile::TempDir,
}

impl Env {
    /// `camvault init` plus config edits: `settle_secs`, zone Asia/Shanghai, fast retries.
    /// `edits` are `section.key = value` lines set in place, or raw TOML (a `[cameras.…]`
    /// block) appended.
    pub fn new(settle: u64, edits: &str) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let env = Env { dir };
        let out = env.run(&["init", "--dir", env.root().to_str().unwrap()]);
        assert!(out.status.success(), "init: {}", stderr(&out));
        let mut cfg = std::fs::read_to_string(env.config()).unwrap();
        let settle = format!("capture.settle_secs = {settle}");
        let defaults = [
            settle.as_str(),
            "cache.interval_secs = 1",
            "upload.retry_initial_secs = 1",
            "http.enabled = false",
            "capture.timezone = \"Asia/Shanghai\"",
        ];
        let mut raw = String::new();
        let mut in_raw = false;
        for line in defaults.iter().copied().chain(edits.lines()) {
            in_raw |= line.starts_with('[');
            if in_raw {
                raw.push_str(line);
                raw.push('\n');
            } else if let Some((path, value)) = line.split_once(" = ") {
                let (section, key) = path.rsplit_once('.').unwrap();
                cfg = set_key(&cfg, section, key, value);
            }
        }
        std::fs::write(env.config(), format!("{cfg}\n{raw}")).unwrap();
        env
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }
    pub fn config(&self) -> PathBuf {
        self.root().join("camvault.toml")
    }
    pub fn inbox(&self) -> PathBuf {
        self.root().join("inbox")
    }
    pub fn vault(&self) -> PathBuf {
        self.root().join("vault")
    }
    pub fn store(&self) -> PathBuf {
        self.root().join("store")
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_camvault"));
        c.arg("--config")
            .arg(self.config())
            .args(args)
            .env("TZ", "UTC")
            .env_remove("CAMVAULT_CONFIG");
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    /// Runs a command that must succeed.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "camvault {args:?} failed ({:?}):\n{}\n{}",
            out.status,
            stdout(&out),
            stderr(&out)
        );
        stdout(&out)
    }

    pub fn status(&self) -> serde_json::Value {
        serde_json::from_str(&self.ok(&["status", "--json"])).unwrap()
    }

    pub fn ls(&self) -> Vec<serde_json::Value> {
        serde_json::from_str(&self.ok(&["ls", "--json"])).unwrap()
    }

    /// Every archived file (`ls --all`): also sidecars and superseded copies.
    pub fn ls_all(&self) -> Vec<serde_json::Value> {
        serde_json::from_str(&self.ok(&["ls", "--all", "--json"])).unwrap()
    }

    /// Writes a file into the inbox with an mtime an hour ago, so it is complete at once.
    pub fn put_old(&self, rel: &str, data: &[u8]) -> PathBuf {
        let p = self.inbox().join(rel);
        write(&p, data);
        age(&p, 3600);
        p
    }

    /// Starts `serve`; its log goes to `serve.log` (a pipe nobody reads would fill and block it).
    pub fn serve(&self) -> Child {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.serve_log())
            .unwrap();
        self.cmd(&["serve"]).stdout(Stdio::null()).stderr(log).spawn().unwrap()
    }

    pub fn serve_log(&self) -> PathBuf {
        self.root().join("serve.log")
    }

    /// Every recording in the store (key → bytes): not camvault's metadata, manifests,
    /// catalog backups or thumbnails.
    pub fn objects(&self) -> std::collections::BTreeMap<String, Vec<u8>> {
        let mut all = self.all_objects();
        all.retain(|k, _| {
            !k.starts_with("manifests/")
                && !k.starts_with("catalog/")
                && !k.starts_with("thumbs/")
                && !k.starts_with("index/")
        });
        all
    }

    /// Every object in the store, manifests (and index objects) included.
    pub fn all_objects(&self) -> std::collections::BTreeMap<String, Vec<u8>> {
        let mut out = std::collections::BTreeMap::new();
        let root = self.store();
        let mut stack = vec![root.clone()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap().flatten() {
                let p = e.path();
                let rel = p.strip_prefix(&root).unwrap().to_string_lossy().into_owned();
                if rel.starts_with(".camvault") {
                    continue;
                }
                if p.is_dir() {
                    stack.push(p);
                } else {
                    out.insert(rel, std::fs::read(&p).unwrap());
                }
            }
        }
        out
    }

    /// Polls `status --json` until `pred` holds; panics with the last status after `limit`.
    pub fn wait_status(&self, limit: Duration, pred: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
        poll(limit, || {
            let out = self.run(&["status", "--json"]);
            if !out.status.success() {
                return Err(format!("status kept failing: {}", stderr(&out)));
            }
            let s: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
            if pred(&s) {
                Ok(s)
            } else {
                Err(format!("timed out waiting; last status: {s:#}"))
            }
        })
    }
}

/// Sets `key = value` in `[section]` of a TOML text, replacing the line that sets it.
pub fn set_key(text: &str, section: &str, key: &str, value: &str) -> String {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut done = false;
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with('[') && !t.starts_with("[[") {
            current = t.trim_matches(|c| c == '[' || c == ']').to_string();
            out.push(line.to_string());
            if current == section && !done {
                out.push(format!("{key} = {value}"));
                done = true;
            }
            continue;
        }
        if current == section && t.split_once('=').is_some_and(|(k, _)| k.trim() == key) {
            continue;
        }
        out.push(line.to_string());
    }
    assert!(done, "section [{section}] not in the config");
    out.join("\n")
}

pub fn write(p: &Path, data: &[u8]) {
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    let mut f = std::fs::File::create(p).unwrap();
    f.write_all(data).unwrap();
}

/// Sets a file's mtime `secs` into the past.
pub fn age(p: &Path, secs: u64) {
    let f = std::fs::OpenOptions::new().write(true).open(p).unwrap();
    f.set_modified(SystemTime::now() - Duration::from_secs(secs)).unwrap();
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs `camvault ARGS` with `stdin` as its input line (a password).
pub fn with_stdin(env: &Env, args: &[&str], stdin: &str) -> Output {
    let mut p = env
        .cmd(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(p.stdin.take().unwrap(), "{stdin}").unwrap();
    p.wait_with_output().unwrap()
}

/// Deterministic pseudo-random bytes.
pub fn bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Old-layout path for a clip starting at `unix` (folder in Asia/Shanghai local time).
pub fn old_clip(unix: i64) -> String {
    let local = unix + 8 * 3600;
    let (days, rem) = (local.div_euclid(86_400), local.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "xiaomi_camera_videos/{OLD_MAC}/{y:04}{m:02}{d:02}{:02}/{:02}M{:02}S_{unix}.mp4",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Howard Hinnant's days → civil date.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

pub fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Mounts a tmpfs of `size` at `dir` when the test runs as root (as CI does).
pub fn tmpfs(dir: &Path, size: &str) -> bool {
    std::fs::create_dir_all(dir).unwrap();
    Command::new("mount")
        .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
        .arg(dir)
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

pub fn umount(dir: &Path) {
    let _ = Command::new("umount").arg("-l").arg(dir).status();
}

/// A tool some tests need, and how to install it.
pub struct Tool {
    pub name: &'static str,
    pub ready: fn() -> bool,
    pub install: &'static str,
}

pub const FFMPEG: Tool = Tool {
    name: "ffmpeg",
    ready: || has("ffmpeg"),
    install: "apt-get install ffmpeg",
};
pub const SAMBA: Tool = Tool {
    name: "smbd (with vfs_worm) and smbclient",
    ready: || Path::new("/usr/sbin/smbd").exists() && has_on_path("smbclient"),
    install: "apt-get install samba samba-vfs-modules smbclient",
};
pub const CHROMIUM: Tool = Tool {
    name: "Debian's chromium and chromium-driver",
    ready: || Path::new("/usr/bin/chromium").exists() && Path::new("/usr/bin/chromedriver").exists(),
    install: "apt-get install chromium chromium-driver",
};
/// The test venv: moto's S3 server, pysmb, the OSS SDK, aiosmtpd, selenium.
pub const PYTHON: Tool = Tool {
    name: "the test venv (moto[server], pysmb, alibabacloud-oss-v2, aiosmtpd, selenium)",
    ready: || test_python_path().exists() && test_python_path().with_file_name("moto_server").exists(),
    install: "python3 -m venv .venv-test && .venv-test/bin/pip install pysmb alibabacloud-oss-v2 aiosmtpd 'moto[server]' awscrt crc32c selenium, or CAMVAULT_TEST_PYTHON=<venv>/bin/python",
};

/// s3s-fs, the second S3 server implementation (tests/common/s3s.rs).
pub const S3S_FS: Tool = Tool {
    name: "s3s-fs (a second S3 server)",
    ready: || s3s::binary().exists() || has_on_path("s3s-fs"),
    install: "cargo install --locked s3s-fs@0.14.1 --features binary, or CAMVAULT_S3S_FS=<path>",
};

/// Set by `.ci/run`: a test whose tool is missing fails instead of being skipped.
pub const REQUIRE_TOOLS: &str = "CAMVAULT_REQUIRE_TOOLS";

/// Whether `tool` is here. When it is not: under `.ci/run` ([`REQUIRE_TOOLS`] = 1) the test
/// fails saying what to install; elsewhere it says the same and is skipped (see [`needs!`]).
pub fn ready(tool: &Tool) -> bool {
    ready_or(tool, std::env::var(REQUIRE_TOOLS).is_ok_and(|v| v == "1"))
}

/// [`ready`] with the requirement given.
pub fn ready_or(tool: &Tool, required: bool) -> bool {
    if (tool.ready)() {
        return true;
    }
    let msg = format!("{} is needed for this test: {}", tool.name, tool.install);
    assert!(!required, "{msg} ({REQUIRE_TOOLS}=1: .ci/run requires every test tool)");
    eprintln!("SKIPPED: {msg} (with {REQUIRE_TOOLS}=1, as .ci/run sets, this fails)");
    false
}

/// `needs!(FFMPEG, PYTHON);` at the top of a test: returns (skips the test) when a tool is
/// missing, or fails under `.ci/run`; see [`ready`].
#[macro_export]
macro_rules! needs {
    ($($tool:expr),+ $(,)?) => {
        if !($($crate::common::ready(&$tool))&&+) {
            return;
        }
    };
}

pub fn has_on_path(prog: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|paths| std::env::split_paths(&paths).any(|d| d.join(prog).is_file()))
}

pub fn has(prog: &str) -> bool {
    Command::new(prog)
        .arg("-version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// The camera ids in a `status --json`.
pub fn camera_ids(status: &serde_json::Value) -> Vec<String> {
    status["cameras"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect()
}

/// Python from the venv `.ci/run` makes (pysmb, alibabacloud-oss-v2, moto), or `$CAMVAULT_TEST_PYTHON`.
pub fn test_python() -> PathBuf {
    let p = test_python_path();
    assert!(
        p.exists(),
        "{} missing: python3 -m venv .venv-test && .venv-test/bin/pip install pysmb alibabacloud-oss-v2 'moto[server]' selenium (.ci/run does)",
        p.display()
    );
    p
}

fn test_python_path() -> PathBuf {
    std::env::var_os("CAMVAULT_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv-test/bin/python"))
}

/// A port on 127.0.0.1 that nothing listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until something accepts connections on `addr:port`; panics naming `what` after `limit`.
pub fn wait_port(addr: &str, port: u16, what: &str, limit: Duration) {
    wait_for(limit, &format!("{what} to listen on {addr}:{port}"), || {
        std::net::TcpStream::connect((addr, port)).is_ok()
    });
}

/// Polls `cond` until it holds, failing the test after `limit`.
pub fn wait_for(limit: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    poll(limit, || {
        if cond() {
            Ok(())
        } else {
            Err(format!("timed out waiting for {what}"))
        }
    })
}

/// Polls `f` until it gives a value, every 50 ms; after `limit` the test fails with the
/// last `Err` (say there what was waited for and what was seen). The one place tests sleep
/// to wait for something another process does.
pub fn poll<T>(limit: Duration, mut f: impl FnMut() -> Result<T, String>) -> T {
    let t0 = Instant::now();
    loop {
        match f() {
            Ok(v) => return v,
            Err(e) if t0.elapsed() > limit => panic!("{e} (after {limit:?})"),
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

/// One number from the catalog, read-only, while camvault may be writing it.
pub fn catalog_count(env: &Env, sql: &str) -> i64 {
    let c = rusqlite::Connection::open_with_flags(
        env.root().join("catalog.sqlite"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    c.busy_timeout(Duration::from_secs(5)).unwrap();
    c.query_row(sql, [], |r| r.get(0)).unwrap_or(0)
}

/// A real camera-like clip made by ffmpeg: HEVC video (`hvc1`), and A-law audio when
/// `audio` is set, as the cameras record; `secs` long at `size` (e.g. "320x240").
pub fn hevc_clip(path: &Path, secs: u32, size: &str, audio: bool) {
    assert!(
        has("ffmpeg"),
        "ffmpeg is needed for this test: apt-get install ffmpeg (.ci/run does)"
    );
    let mut c = Command::new("ffmpeg");
    c.args(["-y", "-loglevel", "error", "-f", "lavfi", "-i"])
        .arg(format!("testsrc=duration={secs}:size={size}:rate=10"));
    if audio {
        c.args(["-f", "lavfi", "-i"])
            .arg(format!("sine=frequency=440:duration={secs}:sample_rate=8000"))
            .args(["-c:a", "pcm_alaw"]);
    }
    c.args(["-c:v", "libx265", "-tag:v", "hvc1", "-x265-params", "log-level=error"]);
    if audio {
        // MP4 cannot carry A-law; the cameras' files are MOV-style.
        c.args(["-f", "mov"]);
    }
    let st = c.arg(path).status().unwrap();
    assert!(st.success(), "ffmpeg could not make {}", path.display());
}

/// Every file below `dir` (not directories), sorted.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// The catalog row of one captured clip of camera `door` (for in-process tests that put a
/// recording in the catalog without a camera).
pub fn door_clip(base_key: &str, size: u64, start_ms: i64, now_ms: i64) -> camvault::catalog::NewFile<'_> {
    camvault::catalog::NewFile {
        camera: "door",
        mac: None,
        tz: "UTC",
        inbox_path: b"door/clip.mp4",
        base_key,
        layout: "generic",
        channel: None,
        start_ms,
        end_ms: None,
        size,
        mtime_ns: 5,
        dev: 1,
        ino: 1,
        duration_ms: None,
        codec: None,
        width: None,
        height: None,
        warning: None,
        now_ms,
        kind: "video",
        hold_until_ms: 0,
        supersedes: None,
    }
}
