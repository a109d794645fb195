//! What the web tests share: `serve` as a guard, HTTP answers, the CSRF token, a real clip.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command};
use std::time::Duration;

use super::{hevc_clip, wait_port, Env};

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
