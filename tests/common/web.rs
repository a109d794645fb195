//! What the web tests share: `serve` as a guard, HTTP answers, the CSRF token, logging in,
//! a real clip, the fs store's clock, and a session of real Chromium (tests/web_browser.py).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command};
use std::time::Duration;

use super::{hevc_clip, stderr, stdout, test_python, wait_port, Env};

/// A running `serve`, stopped with SIGTERM when dropped.
pub struct Serving(pub Child);

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.0.id().to_string()]).status();
        let _ = self.0.wait();
    }
}

/// Starts `serve` and waits until its web interface listens on `port`.
pub fn serve_on(env: &Env, port: u16) -> Serving {
    let s = Serving(env.serve());
    wait_port("127.0.0.1", port, "the web interface", Duration::from_secs(30));
    s
}

/// One HTTP/1.0 request on `s` (to `port`, for the default Host header), read to the end.
pub fn exchange(mut s: TcpStream, port: u16, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Resp {
    s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    let mut req = format!("{method} {path} HTTP/1.0\r\nContent-Length: {}\r\n", body.len());
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        req.push_str(&format!("Host: 127.0.0.1:{port}\r\n"));
    }
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    let split = out.windows(4).position(|w| w == b"\r\n\r\n").expect("a response") + 4;
    let head = String::from_utf8_lossy(&out[..split]).into_owned();
    Resp {
        code: head[9..12].parse().unwrap(),
        head,
        body: out[split..].to_vec(),
    }
}

/// One HTTP request to `serve` on loopback.
pub fn http(port: u16, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Resp {
    exchange(
        TcpStream::connect(("127.0.0.1", port)).unwrap(),
        port,
        method,
        path,
        headers,
        body,
    )
}

/// One HTTP answer: status, raw head, body.
pub struct Resp {
    pub code: u16,
    pub head: String,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    /// `camvault_session=…` from Set-Cookie, ready for a Cookie header.
    pub fn cookie(&self) -> String {
        let c = self.header("set-cookie").expect("a session cookie");
        c.split(';').next().unwrap().to_string()
    }
}

/// The CSRF token a page carries (the shell's meta tag or the login form's field).
pub fn csrf_of(html: &str) -> String {
    let at = html
        .find("name=\"csrf-token\" content=\"")
        .map(|i| i + 27)
        .or_else(|| html.find("name=\"csrf\" value=\"").map(|i| i + 19))
        .expect("a CSRF token in the page");
    html[at..at + 64].to_string()
}

/// A real clip like the cameras record: HEVC video, A-law audio.
pub fn hevc(secs: u32) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("c.mp4");
    hevc_clip(&out, secs, "320x240", true);
    std::fs::read(out).unwrap()
}

/// Runs `serve`, which must refuse to start (exit with an error within 30 s): its stderr.
/// A `serve` that starts instead is stopped, and the test fails.
pub fn serve_refuses(env: &Env) -> String {
    let child = env
        .cmd(&["serve"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut serving = Serving(child);
    let status = super::poll(Duration::from_secs(30), || {
        serving
            .0
            .try_wait()
            .unwrap()
            .ok_or_else(|| "serve started instead of refusing".to_string())
    });
    let mut err = String::new();
    serving.0.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    assert!(!status.success(), "serve started: {err}");
    err
}

/// POSTs the login form `body` with `cookie` (the login page's) and `headers` on `s`
/// (a connection from another address, as a phone on the LAN).
pub fn post_login_on(s: TcpStream, port: u16, cookie: &str, headers: &[(&str, &str)], body: &str) -> Resp {
    let mut h = headers.to_vec();
    h.push(("Cookie", cookie));
    h.push(("Content-Type", "application/x-www-form-urlencoded"));
    exchange(s, port, "POST", "/login", &h, body)
}

/// [`post_login_on`] over loopback.
pub fn post_login(port: u16, cookie: &str, headers: &[(&str, &str)], body: &str) -> Resp {
    post_login_on(
        TcpStream::connect(("127.0.0.1", port)).unwrap(),
        port,
        cookie,
        headers,
        body,
    )
}

/// Opens the login page and posts `user` and `password` with its cookie and CSRF token:
/// the answer (303 when they are right).
pub fn try_login(port: u16, user: &str, password: &str, headers: &[(&str, &str)]) -> Resp {
    let page = http(port, "GET", "/login", headers, "");
    assert_eq!(page.code, 200, "{}", page.text());
    let (pre, token) = (page.cookie(), csrf_of(&page.text()));
    post_login(
        port,
        &pre,
        headers,
        &format!("user={user}&password={password}&csrf={token}"),
    )
}

/// A logged-in browser: its cookie and CSRF token.
pub struct Login {
    pub cookie: String,
    pub csrf: String,
}

/// Logs in (which must succeed) and reads the shell's CSRF token.
pub fn login(port: u16, user: &str, password: &str) -> Login {
    let r = try_login(port, user, password, &[]);
    assert_eq!(r.code, 303, "login as {user:?}: {}", r.text());
    let cookie = r.cookie();
    let shell = http(port, "GET", "/", &[("Cookie", &cookie)], "");
    assert_eq!(shell.code, 200);
    Login {
        csrf: csrf_of(&shell.text()),
        cookie,
    }
}

impl Login {
    pub fn get(&self, port: u16, path: &str) -> Resp {
        http(port, "GET", path, &[("Cookie", &self.cookie)], "")
    }
    /// A JSON POST with this session's cookie and CSRF token.
    pub fn post(&self, port: u16, path: &str, body: &str) -> Resp {
        http(
            port,
            "POST",
            path,
            &[
                ("Cookie", &self.cookie),
                ("X-CSRF-Token", &self.csrf),
                ("Content-Type", "application/json"),
            ],
            body,
        )
    }
}

/// Sets the `fs` store's emulated clock (its lifecycle and restores) `secs` ahead.
pub fn set_store_clock(env: &Env, secs: i64) {
    let p = env.store().join(".camvault/clock");
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, secs.to_string()).unwrap();
}

/// Runs one session of real headless Chromium (tests/web_browser.py) in `mode` over
/// `args` (what the fixture holds); fails the test with the session's output when a check
/// in it fails. Screenshots go to `$CAMVAULT_SCREENSHOTS` (e.g. docs/screenshots, to
/// refresh them), else under target/.
pub fn browser(mode: &str, mut args: serde_json::Value) {
    let (chromium, driver) = (Path::new("/usr/bin/chromium"), Path::new("/usr/bin/chromedriver"));
    assert!(
        chromium.exists() && driver.exists(),
        "the browser tests need Debian's chromium and chromium-driver: apt-get install -y chromium chromium-driver (.ci/run does)"
    );
    args["mode"] = mode.into();
    args["chromium"] = chromium.to_string_lossy().into();
    args["chromedriver"] = driver.to_string_lossy().into();
    let shots = match std::env::var_os("CAMVAULT_SCREENSHOTS") {
        Some(d) => Path::new(env!("CARGO_MANIFEST_DIR")).join(d),
        None => Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots"),
    };
    args["screenshots"] = shots.to_string_lossy().into();
    let out = Command::new(test_python())
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/web_browser.py"))
        .arg(args.to_string())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "browser session ({mode}) failed:\n{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    // What the session measured (playback's first frame, stalls).
    eprint!("{}", stdout(&out));
}
