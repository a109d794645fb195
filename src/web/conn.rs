//! `serve`'s HTTP connections: accepted by our own loop instead of `axum::serve`, which
//! has neither a header timeout nor a connection limit (issue 13, finding 4: twenty
//! connections trickling a header line every 5 s stayed open for good, and every one
//! holds a file descriptor that capture, SQLite and uploads need).
//!
//! - A client must send a request's whole header within [`HEADER_TIMEOUT`] of the
//!   connection becoming ready for it, which also ends idle keep-alive connections
//!   (hyper's `header_read_timeout`, whose timer starts when it waits for a header).
//! - At most `http.max_connections` connections are open; more wait in the kernel's
//!   accept queue until one closes.
//! - One client address holds at most [`PER_CLIENT`] of them; more are closed at once,
//!   so one machine cannot take every slot from the others. Loopback clients are not
//!   counted: a reverse proxy on this machine brings everyone's requests from 127.0.0.1.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

/// The whole header of a request must arrive within this time (and an idle keep-alive
/// connection is closed after it).
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Open connections from one client address at most.
pub const PER_CLIENT: usize = 32;

/// Open connections per client address; an entry goes when its last connection closes,
/// so the map holds at most `max_connections` entries.
#[derive(Default)]
struct PerClient(Mutex<HashMap<IpAddr, usize>>);

struct Slot {
    map: Arc<PerClient>,
    ip: IpAddr,
}

impl PerClient {
    fn take(self: &Arc<Self>, ip: IpAddr) -> Option<Slot> {
        let mut m = self.0.lock().unwrap();
        let n = m.entry(ip).or_insert(0);
        if *n >= PER_CLIENT {
            return None;
        }
        *n += 1;
        Some(Slot { map: self.clone(), ip })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut m = self.map.0.lock().unwrap();
        if let Some(n) = m.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                m.remove(&self.ip);
            }
        }
    }
}

/// Serves `router` on `listener` until `stop`, then lets open requests finish.
pub async fn serve(listener: TcpListener, router: Router, max_connections: usize, stop: CancellationToken) {
    let max = max_connections.clamp(1, Semaphore::MAX_PERMITS) as u32;
    let open = Arc::new(Semaphore::new(max as usize));
    let clients = Arc::new(PerClient::default());
    loop {
        // A slot first: while all are taken, new connections wait in the accept queue.
        let permit = tokio::select! {
            _ = stop.cancelled() => break,
            p = open.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
        };
        let (stream, peer) = tokio::select! {
            _ = stop.cancelled() => break,
            a = listener.accept() => match a {
                Ok(a) => a,
                Err(e) => {
                    // Out of descriptors, or the client left: wait a little, do not spin.
                    warn!("http: cannot accept a connection: {e}");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                }
            },
        };
        let ip = super::auth::client_ip(peer);
        let slot = if ip.is_loopback() {
            None
        } else {
            match clients.take(ip) {
                Some(s) => Some(s),
                None => {
                    debug!(client = %ip, "http: too many connections from one client, closed");
                    continue;
                }
            }
        };
        let router = router.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            let _held = (permit, slot);
            connection(stream, peer, router, stop).await;
        });
    }
    // Every connection gives its slot back when done (each ends within 5 s of `stop`).
    let _ = tokio::time::timeout(Duration::from_secs(10), open.acquire_many(max)).await;
}

async fn connection(stream: tokio::net::TcpStream, peer: SocketAddr, router: Router, stop: CancellationToken) {
    let _ = stream.set_nodelay(true);
    let service = hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
        req.extensions_mut().insert(ConnectInfo(peer));
        let mut router = router.clone();
        tower_service::Service::call(&mut router, req)
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(HEADER_TIMEOUT);
    let conn = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    tokio::select! {
        r = conn.as_mut() => {
            if let Err(e) = r {
                debug!(client = %peer, "http connection: {e}");
            }
        }
        _ = stop.cancelled() => {
            conn.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(Duration::from_secs(5), conn).await;
        }
    }
}
