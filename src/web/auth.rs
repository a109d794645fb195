//! Login, accounts and roles, sessions, CSRF, trusted proxies and the login rate limit.
//!
//! On a loopback `http.listen` nobody logs in, but every browser still gets a session: its
//! CSRF token is what stops another web site from making the browser POST a restore to
//! 127.0.0.1. On any other address, and for every request that came through a trusted
//! reverse proxy (`http.trusted_proxies`, see [`Client`]), a login is required: a user of
//! the catalog (`camvault user add`; the config's `http.password_hash`, set by `camvault
//! passwd`, is the password of the user `admin`), each with a role (viewer or admin, see
//! [`Role`]). Login sessions are kept in the catalog as the SHA-256 of the cookie, so they
//! survive a restart and `camvault user revoke|passwd|del` ends them; loopback sessions
//! (no login) live in memory. The cookie is HttpOnly, SameSite=Strict and, by default,
//! Secure. Every POST must carry the session's CSRF token (`X-CSRF-Token`, or the form
//! field on the login page) and, when the browser sends one, an `Origin` of this host. The
//! password is never logged or echoed. `/metrics` and `/healthz` answer local clients
//! without a login (Prometheus on the box) — a request forwarded by a proxy is never local.
//!
//! What a client that is not logged in can make the server hold is bounded (issue 13):
//! - the login form's state is stateless: its CSRF token is an HMAC, under a key made at
//!   start, of the pre-login cookie (which carries its own expiry), so a flood of
//!   `GET /login` stores nothing and cannot push the owner's form out;
//! - every login attempt is counted *before* its password is hashed, per client address
//!   and overall, so a burst of parallel attempts gets only [`MAX_FAILURES_PER_CLIENT`]
//!   hashes;
//! - hashes run one at a time on one thread ([`hasher`]), with a short queue: Argon2 takes
//!   ~19 MiB per hash, and one thread means one malloc arena, so memory stays at one hash's
//!   worth however many attempts arrive; a full queue answers 503.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;
use tracing::{info, warn};

use super::App;
pub use crate::catalog::users::Role;
use crate::catalog::Catalog;
use crate::config::Config;

pub const COOKIE: &str = "camvault_session";
/// Failed logins allowed per client address within [`WINDOW`].
pub const MAX_FAILURES_PER_CLIENT: usize = 5;
/// Failed logins allowed from all clients together within [`WINDOW`].
pub const MAX_FAILURES_TOTAL: usize = 50;
pub const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Sessions kept at most; when full, expired ones go, then the one that expires first.
/// Only logins (and, on loopback, page loads) make sessions: the login form makes none.
const MAX_SESSIONS: usize = 10_000;
/// How long a login form stays valid.
const FORM_LIFETIME: Duration = Duration::from_secs(3600);
/// Login attempts waiting for the hasher at most (at least one client's whole allowance);
/// more are answered 503 at once.
pub const HASH_QUEUE: usize = 8;
/// The prefix of a pre-login cookie value (sessions are 64 hex digits).
const FORM_PREFIX: &str = "form.";

/// Hashes a password for `http.password_hash`.
pub fn hash_password(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::encode_b64(&random_bytes::<16>()?).map_err(|e| anyhow::anyhow!("salt: {e}"))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("cannot hash the password: {e}"))
}

/// Whether `hash` is a PHC string this build can verify against (checked when the
/// config is loaded, so it lives in `config`).
pub use crate::config::valid_hash;

fn verify_password(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

fn random_bytes<const N: usize>() -> anyhow::Result<[u8; N]> {
    use std::io::Read;
    let mut b = [0u8; N];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut b)?;
    Ok(b)
}

fn token() -> String {
    let b = random_bytes::<32>().expect("/dev/urandom");
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Compares without stopping at the first difference.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Times of login attempts (counted before the password is checked, taken back when it
/// was right) within the window: per client address, and all together. Bounded: an
/// attempt is only recorded while fewer than [`MAX_FAILURES_TOTAL`] are, so the map holds
/// at most that many addresses; entries older than [`WINDOW`] are dropped on every check.
type Failures = (HashMap<IpAddr, VecDeque<Instant>>, VecDeque<Instant>);

/// The address a client is known by: `::ffff:a.b.c.d` (an IPv4 client of a `[::]`
/// listener) is `a.b.c.d`, so loopback and the rate limit see one address.
pub fn client_ip(peer: SocketAddr) -> IpAddr {
    peer.ip().to_canonical()
}

/// Who sent a request, as far as this server can tell; set on every request by
/// [`identify`].
///
/// Without trusted proxies it is the TCP peer. A peer listed in `http.trusted_proxies`
/// that sends any forwarding header (`X-Forwarded-For`, `Forwarded`, `X-Real-IP`,
/// `X-Forwarded-Proto`, `X-Forwarded-Host`) is a proxy: the client is the rightmost
/// `X-Forwarded-For` entry that is not itself a trusted proxy (entries to its left were
/// written by the client and prove nothing), and the request is never local, even when
/// that address is 127.0.0.1 — a proxy on this machine must not make everyone local. From
/// any other peer the headers are ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Client {
    pub ip: IpAddr,
    /// Came through a trusted proxy.
    pub proxied: bool,
}

impl Client {
    /// A program on this machine talking to camvault directly (the CLI, Prometheus).
    pub fn local(&self) -> bool {
        !self.proxied && self.ip.is_loopback()
    }
}

const FORWARDING: [&str; 5] = [
    "x-forwarded-for",
    "forwarded",
    "x-real-ip",
    "x-forwarded-proto",
    "x-forwarded-host",
];

pub fn client_of(peer: SocketAddr, headers: &HeaderMap, trusted: &[ipnet::IpNet]) -> Client {
    let ip = client_ip(peer);
    let is_trusted = |a: &IpAddr| trusted.iter().any(|n| n.contains(&a.to_canonical()));
    if !is_trusted(&ip) || !FORWARDING.iter().any(|h| headers.contains_key(*h)) {
        return Client { ip, proxied: false };
    }
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    let mut client = ip;
    for hop in hops.iter().rev() {
        // "[::1]:1234" / "1.2.3.4:80" / "::1" / "1.2.3.4"
        let bare = hop
            .parse::<SocketAddr>()
            .map(|a| a.ip())
            .or_else(|_| hop.trim_matches(['[', ']']).parse::<IpAddr>());
        let Ok(a) = bare else {
            break; // garbage (or "unknown"): the last good hop is all we know
        };
        client = a.to_canonical();
        if !is_trusted(&client) {
            break;
        }
    }
    Client {
        ip: client,
        proxied: true,
    }
}

/// Works out the [`Client`] of every request once (the outermost layer).
pub async fn identify(State(app): State<App>, mut req: Request, next: Next) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0)
        .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)));
    let client = client_of(peer, req.headers(), &app.auth.trusted);
    req.extensions_mut().insert(client);
    next.run(req).await
}

/// The client [`identify`] found (none means a test router without it: not local).
pub fn client(req: &Request) -> Client {
    req.extensions().get::<Client>().copied().unwrap_or(Client {
        ip: IpAddr::from([0, 0, 0, 0]),
        proxied: true,
    })
}

fn sha256_hex(s: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(s.as_bytes())
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

/// Refuses a viewer (403): for every admin-only endpoint.
pub fn admin_only(s: &Session) -> Option<Response> {
    (s.role != Role::Admin).then(|| {
        warn!(
            user = s.user.as_deref().unwrap_or("-"),
            "refused an admin-only request to a viewer"
        );
        super::fail_msg(StatusCode::FORBIDDEN, crate::msg!("api.admin_only"))
    })
}

/// One thread that checks passwords, one at a time, fed through a short queue.
pub mod hasher {
    use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};

    type Job = (String, String, tokio::sync::oneshot::Sender<bool>);

    pub struct Hasher(SyncSender<Job>);

    /// Returns the hash's freed memory to the system: glibc keeps a freed block that big
    /// in the thread's arena (its mmap threshold grows to the largest block freed), so an
    /// idle `serve` would otherwise hold the last hash's ~19 MiB for good.
    fn give_back_memory() {
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        // SAFETY: malloc_trim only releases free memory; it takes no pointers.
        unsafe {
            libc::malloc_trim(0);
        }
    }

    impl Hasher {
        pub fn start(queue: usize) -> Hasher {
            let (tx, rx) = sync_channel::<Job>(queue);
            // Ends when the Hasher (the only sender) is dropped.
            let _ = std::thread::Builder::new().name("login-hash".into()).spawn(move || {
                for (hash, password, reply) in rx {
                    let _ = reply.send(super::verify_password(&hash, &password));
                    give_back_memory();
                }
            });
            Hasher(tx)
        }

        /// Whether `password` matches `hash`; `None` when the queue is full.
        pub async fn verify(&self, hash: &str, password: String) -> Option<bool> {
            let (tx, rx) = tokio::sync::oneshot::channel();
            match self.0.try_send((hash.to_string(), password, tx)) {
                Ok(()) => Some(rx.await.unwrap_or(false)),
                Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => None,
            }
        }
    }
}

#[derive(Clone)]
pub struct Session {
    pub csrf: String,
    /// Logged in (always true-equivalent when no login is required).
    pub authed: bool,
    /// Who logged in; `None` on loopback without a login (which acts as an admin: it is
    /// the box's own user, see docs/security.md).
    pub user: Option<String>,
    pub role: Role,
    /// The user's own language (`None`: as the browser asks), see [`super::account`].
    pub lang: Option<super::i18n::Lang>,
    expires: Instant,
}

pub struct Auth {
    /// A password is required for every request (non-loopback listen address); requests
    /// through a trusted proxy need one anyway, see [`Auth::login_required`].
    pub required: bool,
    /// `http.trusted_proxies`.
    pub trusted: Vec<ipnet::IpNet>,
    catalog: std::sync::Arc<Catalog>,
    /// Checked against when the user does not exist, so that the answer takes as long.
    dummy_hash: String,
    secure: bool,
    lifetime: Duration,
    /// Bounded by [`MAX_SESSIONS`] (see [`Auth::create`]).
    sessions: Mutex<HashMap<String, Session>>,
    failures: Mutex<Failures>,
    /// Signs the login forms' tokens; made at start (a restart voids open forms).
    form_key: [u8; 32],
    hasher: hasher::Hasher,
}

impl Auth {
    pub fn new(cfg: &Config, required: bool, catalog: std::sync::Arc<Catalog>) -> Auth {
        Auth {
            required,
            trusted: cfg.http.trusted_proxies.clone(),
            catalog,
            dummy_hash: hash_password("no such user").unwrap_or_default(),
            secure: cfg.http.secure_cookie,
            lifetime: Duration::from_secs(cfg.http.session_hours * 3600),
            sessions: Mutex::new(HashMap::new()),
            failures: Mutex::new((HashMap::new(), VecDeque::new())),
            form_key: random_bytes::<32>().expect("/dev/urandom"),
            hasher: hasher::Hasher::start(HASH_QUEUE),
        }
    }

    /// Whether this client must log in: always off loopback, and through a proxy.
    pub fn login_required(&self, c: &Client) -> bool {
        self.required || c.proxied
    }

    /// The login session of a cookie, from the catalog.
    /// The logged-in user's own language, if the request carries their session and they
    /// chose one (for answers outside the pages, see [`super::errors`]).
    pub async fn language_of(&self, headers: &HeaderMap) -> Option<super::i18n::Lang> {
        let cookie = cookie_value(headers)?;
        if let Some(s) = self.session(&cookie) {
            return s.lang;
        }
        self.user_session(Some(&cookie)).await?.lang
    }

    async fn user_session(&self, cookie: Option<&str>) -> Option<Session> {
        let id = cookie?.to_string();
        if id.starts_with(FORM_PREFIX) {
            return None;
        }
        let cat = self.catalog.clone();
        let now = jiff::Timestamp::now().as_millisecond();
        let s = tokio::task::spawn_blocking(move || cat.session(&sha256_hex(&id), now))
            .await
            .ok()?
            .map_err(|e| warn!("cannot read sessions from the catalog: {e:#}"))
            .ok()??;
        Some(Session {
            csrf: s.csrf,
            authed: true,
            user: Some(s.user),
            role: s.role,
            lang: s.language.as_deref().and_then(super::i18n::Lang::parse),
            expires: Instant::now(),
        })
    }

    fn form_mac(&self, cookie: &str) -> String {
        use hmac::{Hmac, Mac};
        let mut m = Hmac::<sha2::Sha256>::new_from_slice(&self.form_key).expect("any key length");
        m.update(b"camvault login form\n");
        m.update(cookie.as_bytes());
        m.finalize().into_bytes().iter().map(|x| format!("{x:02x}")).collect()
    }

    /// A new login form: the pre-login cookie's value (expiry and a nonce) and its token.
    fn new_form(&self) -> (String, String) {
        let expires = jiff::Timestamp::now().as_second() + FORM_LIFETIME.as_secs() as i64;
        let cookie = format!("{FORM_PREFIX}{expires}.{}", &token()[..32]);
        let csrf = self.form_mac(&cookie);
        (cookie, csrf)
    }

    /// The token of a pre-login cookie that this process made and that has not expired.
    fn form_token(&self, cookie: &str) -> Option<String> {
        let rest = cookie.strip_prefix(FORM_PREFIX)?;
        let expires: i64 = rest.split_once('.')?.0.parse().ok()?;
        (expires > jiff::Timestamp::now().as_second()).then(|| self.form_mac(cookie))
    }

    fn session(&self, id: &str) -> Option<Session> {
        let mut s = self.sessions.lock().unwrap();
        match s.get(id) {
            Some(x) if x.expires > Instant::now() => Some(x.clone()),
            Some(_) => {
                s.remove(id);
                None
            }
            None => None,
        }
    }

    /// A new session; returns its id.
    fn create(&self, authed: bool) -> (String, Session) {
        let mut s = self.sessions.lock().unwrap();
        let now = Instant::now();
        if s.len() >= MAX_SESSIONS {
            s.retain(|_, v| v.expires > now);
            if s.len() >= MAX_SESSIONS {
                if let Some(first) = s.iter().min_by_key(|(_, v)| v.expires).map(|(k, _)| k.clone()) {
                    s.remove(&first);
                }
            }
        }
        let lifetime = if authed { self.lifetime } else { FORM_LIFETIME };
        let session = Session {
            csrf: token(),
            authed,
            user: None,
            role: Role::Admin,
            lang: None,
            expires: now + lifetime,
        };
        let id = token();
        s.insert(id.clone(), session.clone());
        (id, session)
    }

    fn drop_session(&self, id: &str) {
        self.sessions.lock().unwrap().remove(id);
    }

    fn cookie(&self, id: &str, max_age: u64, login: bool) -> String {
        // On loopback the cookie never leaves the machine, and plain-HTTP localhost must work.
        let secure = if self.secure && login { "; Secure" } else { "" };
        format!("{COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}")
    }

    /// Seconds to wait before `ip` may try again, when it (or everyone) failed too often.
    fn blocked(&self, ip: IpAddr) -> Option<u64> {
        let now = Instant::now();
        let mut f = self.failures.lock().unwrap();
        let (per, all) = &mut *f;
        while all.front().is_some_and(|t| now.duration_since(*t) > WINDOW) {
            all.pop_front();
        }
        per.retain(|_, q| {
            while q.front().is_some_and(|t| now.duration_since(*t) > WINDOW) {
                q.pop_front();
            }
            !q.is_empty()
        });
        let oldest = match per.get(&ip) {
            Some(q) if q.len() >= MAX_FAILURES_PER_CLIENT => q.front().copied(),
            _ if all.len() >= MAX_FAILURES_TOTAL => all.front().copied(),
            _ => None,
        }?;
        Some((WINDOW.saturating_sub(now.duration_since(oldest))).as_secs().max(1))
    }

    /// Counts an attempt of `ip` before its password is checked: `Err(wait)` when it is
    /// over the limit, else the attempt's time, for [`Auth::succeeded`].
    fn attempt(&self, ip: IpAddr) -> Result<Instant, u64> {
        if let Some(wait) = self.blocked(ip) {
            return Err(wait);
        }
        // blocked() let the lock go: a parallel attempt may have been counted since, so
        // look again with the lock held before counting this one.
        let now = Instant::now();
        let mut f = self.failures.lock().unwrap();
        let per = f.0.get(&ip).map_or(0, VecDeque::len);
        if per >= MAX_FAILURES_PER_CLIENT || f.1.len() >= MAX_FAILURES_TOTAL {
            drop(f);
            return Err(self.blocked(ip).unwrap_or(1));
        }
        f.0.entry(ip).or_default().push_back(now);
        f.1.push_back(now);
        Ok(now)
    }

    /// Takes back the attempt made at `at`: the password was right (or never checked).
    fn succeeded(&self, ip: IpAddr, at: Instant) {
        let mut f = self.failures.lock().unwrap();
        let (per, all) = &mut *f;
        if let Some(q) = per.get_mut(&ip) {
            if let Some(i) = q.iter().rposition(|t| *t == at) {
                q.remove(i);
            }
            if q.is_empty() {
                per.remove(&ip);
            }
        }
        if let Some(i) = all.iter().rposition(|t| *t == at) {
            all.remove(i);
        }
    }

    #[cfg(test)]
    fn failed(&self, ip: IpAddr) {
        let _ = self.attempt(ip);
    }
}

fn cookie_value(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_string())
}

/// A POST from another site: its `Origin` (sent by browsers on every POST) is not this host.
fn foreign_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    if origin == "null" {
        return false; // an opaque origin: the CSRF token alone decides
    }
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("");
    let origin_host = origin.split_once("://").map(|(_, h)| h).unwrap_or("");
    origin_host != host
}

/// Why a request without a session is from another site's page, if it is: browsers say so
/// in `Sec-Fetch-Site` (all current ones), else an `Origin` or `Referer` of another host
/// does. A request with none of these (curl, the CLI, a script) is not from a page.
fn cross_site(headers: &HeaderMap) -> Option<&'static str> {
    let get = |h: &str| headers.get(h).and_then(|v| v.to_str().ok());
    if let Some(site) = get("sec-fetch-site") {
        return (!matches!(site, "same-origin" | "none")).then_some("Sec-Fetch-Site");
    }
    let host = get("host").unwrap_or("");
    let host_of = |url: &str| {
        let rest = url.split_once("://").map_or("", |(_, r)| r);
        rest.split(['/', '?', '#']).next().unwrap_or("").to_string()
    };
    if get("origin").is_some_and(|o| o == "null" || host_of(o) != host) {
        return Some("Origin");
    }
    if get("referer").is_some_and(|r| host_of(r) != host) {
        return Some("Referer");
    }
    None
}

fn wants_html(req: &Request) -> bool {
    req.method() == Method::GET && !req.uri().path().starts_with("/api/") && !req.uri().path().starts_with("/media/")
}

/// Where the login page sends the user afterwards: a path of this site only.
fn safe_next(next: &str) -> &str {
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && !next.starts_with("/login")
        && next.len() < 2048
        && !next.chars().any(|c| c.is_control() || c == '\\');
    if ok {
        next
    } else {
        "/"
    }
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Guards every page, API and media route: a session (created on loopback, a login
/// elsewhere and through a proxy), and on state-changing requests the session's CSRF token.
pub async fn guard(State(app): State<App>, mut req: Request, next: Next) -> Response {
    let auth = &app.auth;
    let client = client(&req);
    let required = auth.login_required(&client);
    let cookie = cookie_value(req.headers());
    let safe = matches!(*req.method(), Method::GET | Method::HEAD);
    let (id, session, new) = if required {
        match auth.user_session(cookie.as_deref()).await {
            Some(s) => (cookie.unwrap_or_default(), s, false),
            None if wants_html(&req) => {
                let path = req.uri().path_and_query().map_or("/", |p| p.as_str());
                let to = if path == "/" {
                    "/login".to_string()
                } else {
                    format!("/login?next={}", percent_encode(path))
                };
                return Redirect::to(&to).into_response();
            }
            None => return super::fail_msg(StatusCode::UNAUTHORIZED, crate::msg!("api.log_in_first")),
        }
    } else {
        let existing = cookie.and_then(|id| auth.session(&id).map(|s| (id, s)));
        match existing.filter(|(_, s)| s.authed) {
            Some((id, s)) => (id, s, false),
            None if !safe => return super::fail_msg(StatusCode::FORBIDDEN, crate::msg!("api.no_session")),
            // Loopback API and media reads need no session (only pages carry a token), so
            // scripts polling the API do not pile up sessions; but another site's page must
            // not make the browser start transcodes with <video>/<img> (its requests carry
            // no cookie: it is SameSite=Strict).
            None if !wants_html(&req) => {
                if let Some(why) = cross_site(req.headers()) {
                    warn!(path = %req.uri().path(), why, "refused a request from another site");
                    return super::fail_msg(StatusCode::FORBIDDEN, crate::msg!("api.cross_site"));
                }
                req.extensions_mut().insert(Session {
                    csrf: String::new(),
                    authed: true,
                    user: None,
                    role: Role::Admin,
                    lang: None,
                    expires: Instant::now(),
                });
                return next.run(req).await;
            }
            None => {
                let (id, s) = auth.create(true);
                (id, s, true)
            }
        }
    };
    if !safe {
        let token = req
            .headers()
            .get("x-csrf-token")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !same(token, &session.csrf) || foreign_origin(req.headers()) {
            warn!(path = %req.uri().path(), "refused a request without a valid CSRF token");
            return super::fail_msg(StatusCode::FORBIDDEN, crate::msg!("api.csrf"));
        }
    }
    req.extensions_mut().insert(session);
    let mut res = next.run(req).await;
    if new {
        if let Ok(v) = auth.cookie(&id, auth.lifetime.as_secs(), required).parse() {
            res.headers_mut().insert(header::SET_COOKIE, v);
        }
    }
    res
}

/// `/metrics` and `/healthz`: open on loopback, and to local clients (Prometheus on the
/// same machine) when a login is required; anyone else, and anything that came through a
/// trusted proxy, logs in like for the pages.
pub async fn local_or_login(State(app): State<App>, req: Request, next: Next) -> Response {
    let client = client(&req);
    let allowed = client.local()
        || app
            .auth
            .user_session(cookie_value(req.headers()).as_deref())
            .await
            .is_some();
    if !allowed {
        return super::fail_msg(StatusCode::UNAUTHORIZED, crate::msg!("api.log_in_first"));
    }
    next.run(req).await
}

const LOGIN_HTML: &str = include_str!("assets/login.html");

fn login_form(csrf: &str, message: &str, user: &str, next: &str) -> String {
    let esc = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;").replace('"', "&quot;");
    LOGIN_HTML
        .replace("{{csrf}}", &esc(csrf))
        .replace("{{user}}", &esc(user))
        .replace("{{next}}", &esc(safe_next(next)))
        .replace("{{message}}", &esc(message))
}

#[derive(Deserialize, Default)]
pub struct NextQuery {
    #[serde(default)]
    next: String,
}

/// The login page; on loopback there is nothing to log into.
pub async fn login_page(
    State(app): State<App>,
    axum::Extension(client): axum::Extension<Client>,
    axum::extract::Query(q): axum::extract::Query<NextQuery>,
    headers: HeaderMap,
) -> Response {
    let auth = &app.auth;
    if !auth.login_required(&client) {
        return Redirect::to("/").into_response();
    }
    let cookie = cookie_value(&headers);
    if auth.user_session(cookie.as_deref()).await.is_some() {
        return Redirect::to(safe_next(&q.next)).into_response();
    }
    // A pre-login cookie whose signed token the form carries: login CSRF is refused too.
    // A reload (or a second tab) keeps the one it has. Nothing is stored.
    let (id, csrf) = match cookie.and_then(|c| auth.form_token(&c).map(|t| (c, t))) {
        Some(f) => f,
        None => auth.new_form(),
    };
    // A Secure cookie over plain HTTP is dropped by the browser: say so instead of looping.
    let https = client.proxied
        && headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("https"));
    let note = if auth.secure && !https {
        "If logging in brings you back here: this page came over plain HTTP and the session cookie is HTTPS-only. Put an HTTPS proxy in front, or set http.secure_cookie = false on a trusted LAN."
    } else {
        ""
    };
    let mut res = Html(login_form(&csrf, note, "", &q.next)).into_response();
    if let Ok(v) = auth.cookie(&id, FORM_LIFETIME.as_secs(), true).parse() {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    res
}

#[derive(Deserialize)]
pub struct LoginForm {
    /// Empty means `admin` (the config's password, as before accounts existed).
    #[serde(default)]
    user: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    next: String,
}

pub async fn login(
    State(app): State<App>,
    axum::Extension(client): axum::Extension<Client>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let auth = app.auth.clone();
    if !auth.login_required(&client) {
        return Redirect::to("/").into_response();
    }
    let ip = client.ip;
    let user = match form.user.trim() {
        "" => crate::catalog::users::CONFIG_USER.to_string(),
        u => u.to_string(),
    };
    let page = |code: StatusCode, csrf: &str, msg: &str| {
        (code, Html(login_form(csrf, msg, &form.user, &form.next))).into_response()
    };
    let form_csrf = cookie_value(&headers).and_then(|c| auth.form_token(&c));
    let Some(csrf) = form_csrf.filter(|t| same(&form.csrf, t)) else {
        return page(
            StatusCode::FORBIDDEN,
            "",
            "The form expired or came from elsewhere: reload this page.",
        );
    };
    if foreign_origin(&headers) {
        return page(StatusCode::FORBIDDEN, &csrf, "Wrong origin.");
    }
    // Counted before the hash: parallel attempts cannot all slip under the limit.
    let at = match auth.attempt(ip) {
        Ok(at) => at,
        Err(wait) => {
            warn!(client = %ip, "login refused: too many failed attempts");
            let mut res = page(
                StatusCode::TOO_MANY_REQUESTS,
                &csrf,
                &format!("Too many failed attempts: try again in {} minutes.", wait.div_ceil(60)),
            );
            if let Ok(v) = wait.to_string().parse() {
                res.headers_mut().insert(header::RETRY_AFTER, v);
            }
            return res;
        }
    };
    let cat = auth.catalog.clone();
    let lookup = user.clone();
    let known = tokio::task::spawn_blocking(move || cat.user(&lookup))
        .await
        .ok()
        .and_then(|r| r.map_err(|e| warn!("cannot read users from the catalog: {e:#}")).ok())
        .flatten();
    // An unknown user is checked against a dummy hash: the answer takes as long.
    let hash = known.as_ref().map_or(auth.dummy_hash.clone(), |u| u.hash.clone());
    let Some(ok) = auth.hasher.verify(&hash, form.password).await else {
        auth.succeeded(ip, at); // not checked: does not count
        warn!(client = %ip, "login refused: too many logins at once");
        let mut res = page(
            StatusCode::SERVICE_UNAVAILABLE,
            &csrf,
            "Too many logins at once: try again in a few seconds.",
        );
        res.headers_mut()
            .insert(header::RETRY_AFTER, axum::http::HeaderValue::from_static("5"));
        return res;
    };
    let Some(known) = known.filter(|_| ok) else {
        warn!(client = %ip, "failed web login");
        return page(StatusCode::UNAUTHORIZED, &csrf, "Wrong password, or no such user.");
    };
    auth.succeeded(ip, at);
    // A fresh session id after login: a planted pre-login cookie is worth nothing.
    let id = token();
    let now = jiff::Timestamp::now().as_millisecond();
    let expires = now + auth.lifetime.as_millis() as i64;
    let (cat, sid, name, csrf_new) = (auth.catalog.clone(), sha256_hex(&id), known.name.clone(), token());
    let stored = tokio::task::spawn_blocking(move || {
        cat.add_session(&sid, &name, &csrf_new, now, expires)?;
        cat.user_language(&name)
    })
    .await;
    let Ok(Ok(language)) = stored else {
        return page(
            StatusCode::INTERNAL_SERVER_ERROR,
            &csrf,
            "Cannot store the session in the catalog: see the log of camvault serve.",
        );
    };
    info!(client = %ip, user = %known.name, role = known.role.as_str(), "web login");
    let mut res = Redirect::to(safe_next(&form.next)).into_response();
    if let Ok(v) = auth.cookie(&id, auth.lifetime.as_secs(), true).parse() {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    // The account's language becomes this browser's too (its login page, after logging out).
    if let Some(v) = language
        .as_deref()
        .and_then(super::i18n::Lang::parse)
        .and_then(|l| super::account::lang_cookie(l).parse().ok())
    {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    res
}

pub async fn logout(
    State(app): State<App>,
    axum::Extension(client): axum::Extension<Client>,
    headers: HeaderMap,
) -> Response {
    let required = app.auth.login_required(&client);
    if let Some(id) = cookie_value(&headers) {
        app.auth.drop_session(&id);
        let (cat, sid) = (app.auth.catalog.clone(), sha256_hex(&id));
        let _ = tokio::task::spawn_blocking(move || cat.drop_session(&sid)).await;
    }
    let mut res = Redirect::to(if required { "/login" } else { "/" }).into_response();
    if let Ok(v) = app.auth.cookie("", 0, required).parse() {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_differ() {
        let a = hash_password("correct horse").unwrap();
        let b = hash_password("correct horse").unwrap();
        assert_ne!(a, b, "salted");
        assert!(valid_hash(&a) && a.starts_with("$argon2id$"));
        assert!(verify_password(&a, "correct horse"));
        assert!(!verify_password(&a, "correct hors"));
        assert!(!valid_hash("plain text"));
    }

    #[test]
    fn rate_limit_per_client() {
        let cfg = Config::default();
        let d = tempfile::tempdir().unwrap();
        let cat = std::sync::Arc::new(Catalog::open(&d.path().join("c.db"), true).unwrap());
        let a = Auth::new(&cfg, true, cat);
        let (x, y): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        for _ in 0..MAX_FAILURES_PER_CLIENT {
            assert!(a.blocked(x).is_none());
            a.failed(x);
        }
        assert!(a.blocked(x).is_some_and(|s| s > 0 && s <= WINDOW.as_secs()));
        assert!(a.blocked(y).is_none(), "another client is not blocked");
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let trusted: Vec<ipnet::IpNet> = vec!["127.0.0.1/32".parse().unwrap(), "10.9.0.0/16".parse().unwrap()];
        let lo: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        let lan: SocketAddr = "192.168.1.7:5000".parse().unwrap();
        let h = |xff: &str| {
            let mut h = HeaderMap::new();
            h.insert("x-forwarded-for", xff.parse().unwrap());
            h
        };
        // Direct from loopback, no header: local.
        assert!(client_of(lo, &HeaderMap::new(), &trusted).local());
        // Through the local proxy: the forwarded client, never local (even 127.0.0.1).
        let c = client_of(lo, &h("192.168.1.50"), &trusted);
        assert_eq!(
            (c.ip.to_string(), c.proxied, c.local()),
            ("192.168.1.50".into(), true, false)
        );
        assert!(!client_of(lo, &h("127.0.0.1"), &trusted).local());
        // The client's own entries to the left prove nothing; proxy hops to the right are skipped.
        let c = client_of(lo, &h("127.0.0.1, 192.168.1.50, 10.9.1.1"), &trusted);
        assert_eq!(c.ip.to_string(), "192.168.1.50");
        // Any forwarding header from the proxy counts, even without X-Forwarded-For.
        let mut only_proto = HeaderMap::new();
        only_proto.insert("x-forwarded-proto", "https".parse().unwrap());
        assert!(!client_of(lo, &only_proto, &trusted).local());
        // From an untrusted peer the header is ignored.
        let c = client_of(lan, &h("127.0.0.1"), &trusted);
        assert_eq!((c.ip.to_string(), c.proxied), ("192.168.1.7".into(), false));
        assert!(
            !client_of(lo, &h("192.168.1.50"), &[]).proxied,
            "no trusted proxies: ignored"
        );
    }

    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(safe_next("/approve/3?t=x"), "/approve/3?t=x");
        for bad in ["//evil.example", "https://evil.example", "/\\evil", "/login", "", "x"] {
            assert_eq!(safe_next(bad), "/", "{bad}");
        }
    }

    #[test]
    fn csrf_compare_and_origin() {
        assert!(same("abc", "abc") && !same("abc", "abd") && !same("abc", "ab"));
        let mut h = HeaderMap::new();
        h.insert(header::HOST, "cam.lan:8640".parse().unwrap());
        assert!(!foreign_origin(&h));
        h.insert(header::ORIGIN, "http://cam.lan:8640".parse().unwrap());
        assert!(!foreign_origin(&h));
        h.insert(header::ORIGIN, "https://evil.example".parse().unwrap());
        assert!(foreign_origin(&h));
    }
}
