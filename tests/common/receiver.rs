//! A chat robot on 127.0.0.1 for the alert and notification tests (tests/alerts.rs,
//! tests/notify.rs): it keeps every request it gets and answers each with one status and
//! the "ok" body the chat APIs send.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::sync::{Arc, Mutex};

/// One request as the receiver got it.
#[derive(Clone)]
pub struct Req {
    pub path: String,
    /// By lower-case name.
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
}

/// The body as text, so that a failed assertion shows what came.
impl std::fmt::Debug for Req {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Req")
            .field("path", &self.path)
            .field("headers", &self.headers)
            .field("body", &self.text())
            .finish()
    }
}

impl Req {
    /// The body as text (JSON, form fields).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn content_type(&self) -> &str {
        self.headers.get("content-type").map_or("", String::as_str)
    }
}

/// Starts a receiver that answers `status` to everything: its port, and what it got.
pub fn receiver(status: u16) -> (u16, Arc<Mutex<Vec<Req>>>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let got: Arc<Mutex<Vec<Req>>> = Arc::default();
    let store = got.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut r = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            if r.read_line(&mut line).is_err() {
                continue;
            }
            let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
            let mut headers = BTreeMap::new();
            loop {
                let mut h = String::new();
                r.read_line(&mut h).unwrap();
                let h = h.trim_end();
                if h.is_empty() {
                    break;
                }
                if let Some((k, v)) = h.split_once(':') {
                    headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
                }
            }
            let len: usize = headers.get("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
            let mut body = vec![0u8; len];
            r.read_exact(&mut body).unwrap();
            store.lock().unwrap().push(Req { path, headers, body });
            let reply = r#"{"errcode":0,"ok":true}"#;
            let mut s = stream;
            let _ = write!(
                s,
                "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reply}",
                reply.len()
            );
        }
    });
    (port, got)
}
