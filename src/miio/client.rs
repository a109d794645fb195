//! A miIO client over UDP: hello handshake, one request, its reply, bounded retries.
//!
//! What python-miio's `MiIOProtocol.send` does (`miio/miioprotocol.py`), with the checks it
//! leaves out: a reply counts only when its checksum holds for our token, it comes from the
//! device that answered the hello, and its `id` is one of the ids this call sent. Anything
//! else — a stale reply to an earlier request, a replayed packet, a damaged or forged one —
//! is ignored and the wait goes on until the attempt's deadline.
//!
//! A device given a request made with the wrong token does not answer at all (python-miio's
//! own simulator drops it: `Message.parse` fails on the checksum). So a device that answers
//! the hello but none of the requests most likely has another token: the error says so.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::net::UdpSocket;

use super::packet::{self, PacketError, Token};

/// How long one attempt waits for an answer.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(3);
/// Attempts per call (hello and request each); then the call fails.
pub const ATTEMPTS: u32 = 3;

/// Why a call failed. Never contains the token.
#[derive(Debug, thiserror::Error)]
pub enum MiioError {
    #[error("no answer to the miIO hello from {addr} ({tries} tries, {secs} s): is the address right, is the camera on and on this LAN (UDP {port})?", port = packet::PORT)]
    Silent { addr: SocketAddr, tries: u32, secs: u64 },
    #[error("{addr} answered the miIO hello but not `{method}` ({tries} tries){why}: the token is most likely wrong (tokens change when the camera is reset or re-paired in the Mi Home app)")]
    NoReply {
        addr: SocketAddr,
        method: String,
        tries: u32,
        why: String,
    },
    #[error("{addr} refused `{method}`: {message} (code {code})")]
    Device {
        addr: SocketAddr,
        method: String,
        code: i64,
        message: String,
    },
    #[error("{addr}: the reply to `{method}` is not the JSON-RPC answer expected: {why}")]
    Malformed {
        addr: SocketAddr,
        method: String,
        why: String,
    },
    #[error("cannot talk UDP to {addr}: {source}")]
    Io {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// One device: its address and token; remembers the message id between calls.
pub struct Client {
    addr: SocketAddr,
    token: Token,
    next_id: u32,
    timeout: Duration,
}

impl Client {
    pub fn new(addr: SocketAddr, token: Token) -> Client {
        Client {
            addr,
            token,
            // Like python-miio, ids stay in 1..9999; a random start keeps a restarted
            // camvault from reusing the ids a device saw just before.
            next_id: fastrand::u32(1..9000),
            timeout: ATTEMPT_TIMEOUT,
        }
    }

    /// A shorter wait per attempt (tests of silent devices).
    pub fn with_timeout(mut self, t: Duration) -> Client {
        self.timeout = t;
        self
    }

    fn take_id(&mut self) -> u32 {
        let id = self.next_id;
        self.next_id = if id >= 9998 { 1 } else { id + 1 };
        id
    }

    /// Calls `method` with `params`; returns the reply's `result`.
    pub async fn call(&mut self, method: &str, params: Value) -> Result<Value, MiioError> {
        let addr = self.addr;
        let io = |source| MiioError::Io { addr, source };
        let bind: SocketAddr = if addr.is_ipv4() {
            "0.0.0.0:0".parse().expect("literal")
        } else {
            "[::]:0".parse().expect("literal")
        };
        let sock = UdpSocket::bind(bind).await.map_err(io)?;
        // Connected: the kernel drops datagrams from any other address or port.
        sock.connect(addr).await.map_err(io)?;
        let (device_id, stamp, at) = self.handshake(&sock).await?;
        let mut sent_ids = Vec::new();
        let mut rejected: Vec<String> = Vec::new();
        for _ in 0..ATTEMPTS {
            let id = self.take_id();
            sent_ids.push(id);
            let req = json!({"id": id, "method": method, "params": params});
            let elapsed = at.elapsed().as_secs() as u32;
            // The device's clock as it answered the hello, moved on by the time since.
            let p = packet::encode(
                &self.token,
                device_id,
                stamp.wrapping_add(elapsed + 1),
                req.to_string().as_bytes(),
            );
            sock.send(&p).await.map_err(io)?;
            let deadline = Instant::now() + self.timeout;
            while let Some(buf) = recv_until(&sock, deadline).await.map_err(io)? {
                match self.accept(&buf, device_id, &sent_ids) {
                    Ok(reply) => return reply_result(addr, method, reply),
                    Err(why) => {
                        tracing::debug!("miIO {addr}: ignored a packet: {why}");
                        if rejected.len() < 4 && !rejected.contains(&why) {
                            rejected.push(why);
                        }
                    }
                }
            }
        }
        Err(MiioError::NoReply {
            addr,
            method: method.to_string(),
            tries: ATTEMPTS,
            why: if rejected.is_empty() {
                String::new()
            } else {
                format!("; ignored: {}", rejected.join("; "))
            },
        })
    }

    /// Sends hellos until one is answered: the device's id and stamp, and when.
    async fn handshake(&self, sock: &UdpSocket) -> Result<(u32, u32, Instant), MiioError> {
        let addr = self.addr;
        let t0 = Instant::now();
        for _ in 0..ATTEMPTS {
            sock.send(&packet::hello())
                .await
                .map_err(|source| MiioError::Io { addr, source })?;
            let deadline = Instant::now() + self.timeout;
            while let Some(buf) = recv_until(sock, deadline)
                .await
                .map_err(|source| MiioError::Io { addr, source })?
            {
                // A hello reply is a bare header; anything longer is a late reply to
                // something else, ignored here.
                if buf.len() == packet::HEADER_LEN {
                    if let Ok(h) = packet::header(&buf) {
                        return Ok((h.device_id, h.stamp, Instant::now()));
                    }
                }
            }
        }
        Err(MiioError::Silent {
            addr,
            tries: ATTEMPTS,
            secs: t0.elapsed().as_secs(),
        })
    }

    /// The reply, if this packet is one: checksum, device, and one of our ids.
    fn accept(&self, buf: &[u8], device_id: u32, ids: &[u32]) -> Result<Value, String> {
        if buf.len() == packet::HEADER_LEN {
            return Err("a second hello reply".into());
        }
        let (h, json) = packet::decode(&self.token, buf).map_err(|e| match e {
            PacketError::Checksum => "a reply with a bad checksum".to_string(),
            e => e.to_string(),
        })?;
        if h.device_id != device_id {
            return Err(format!(
                "a reply from device id {} (the hello came from {device_id})",
                h.device_id
            ));
        }
        let v: Value = serde_json::from_slice(&json).map_err(|e| format!("a reply that is not JSON ({e})"))?;
        match v.get("id").and_then(Value::as_u64) {
            Some(id) if ids.contains(&(id as u32)) => Ok(v),
            Some(id) => Err(format!(
                "a reply to message {id}, not to this request (late or replayed)"
            )),
            None => Err("a reply without an id".into()),
        }
    }
}

/// Waits for one datagram until `deadline`; `None` when it passes.
async fn recv_until(sock: &UdpSocket, deadline: Instant) -> std::io::Result<Option<Vec<u8>>> {
    let mut buf = vec![0u8; packet::MAX_PACKET];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(None);
        }
        match tokio::time::timeout(left, sock.recv(&mut buf)).await {
            Err(_) => return Ok(None),
            Ok(Ok(n)) => {
                buf.truncate(n);
                return Ok(Some(buf));
            }
            // ICMP port unreachable on a connected socket: nothing listens there (yet);
            // the same as silence for the caller, who retries with the next attempt.
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                tokio::time::sleep(left.min(Duration::from_millis(200))).await;
            }
            Ok(Err(e)) => return Err(e),
        }
    }
}

fn reply_result(addr: SocketAddr, method: &str, v: Value) -> Result<Value, MiioError> {
    if let Some(err) = v.get("error") {
        return Err(MiioError::Device {
            addr,
            method: method.to_string(),
            code: err.get("code").and_then(Value::as_i64).unwrap_or(0),
            message: err
                .get("message")
                .or_else(|| err.get("error"))
                .and_then(Value::as_str)
                .unwrap_or("no message")
                .chars()
                .take(200)
                .collect(),
        });
    }
    match v.get("result") {
        Some(r) => Ok(r.clone()),
        None => Err(MiioError::Malformed {
            addr,
            method: method.to_string(),
            why: "no `result` and no `error`".into(),
        }),
    }
}
