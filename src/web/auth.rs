//! Login, sessions, CSRF and the login rate limit.
//!
//! On a loopback `http.listen` nobody logs in, but every browser still gets a session: its
//! CSRF token is what stops another web site from making the browser POST a restore to
//! 127.0.0.1. On any other address a password is required (an Argon2 hash in
//! `http.password_hash`, set by `camvault passwd`). Sessions live in memory (a restart logs
//! everyone out); the cookie is HttpOnly, SameSite=Strict and, by default, Secure. Every
//! POST must carry the session's CSRF token (`X-CSRF-Token`, or the form field on the login
//! page) and, when the browser sends one, an `Origin` of this host. The password is never
//! logged or echoed. `/metrics` and `/healthz` answer local clients without a login
//! (Prometheus on the box).
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

use super::{fail, App};
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
    expires: Instant,
}

pub struct Auth {
    /// A password is required (non-loopback listen address).
    pub required: bool,
    hash: String,
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
    pub fn new(cfg: &Config, required: bool) -> Auth {
        Auth {
            required,
            hash: cfg.http.password_hash.0.clone(),
            secure: cfg.http.secure_cookie,
            lifetime: Duration::from_secs(cfg.http.session_hours * 3600),
            sessions: Mutex::new(HashMap::new()),
            failures: Mutex::new((HashMap::new(), VecDeque::new())),
            form_key: random_bytes::<32>().expect("/dev/urandom"),
            hasher: hasher::Hasher::start(HASH_QUEUE),
        }
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
            expires: now + lifetime,
        };
        let id = token();
        s.insert(id.clone(), session.clone());
        (id, session)
    }

    fn drop_session(&self, id: &str) {
        self.sessions.lock().unwrap().remove(id);
    }

    fn cookie(&self, id: &str, max_age: u64) -> String {
        // On loopback the cookie never leaves the machine, and plain-HTTP localhost must work.
        let secure = if self.secure && self.required { "; Secure" } else { "" };
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

/// Guards every page, API and media route: a session (created on loopback, a login
/// elsewhere), and on state-changing requests the session's CSRF token.
pub async fn guard(State(app): State<App>, mut req: Request, next: Next) -> Response {
    let auth = &app.auth;
    let existing = cookie_value(req.headers()).and_then(|id| auth.session(&id).map(|s| (id, s)));
    let existing = existing.filter(|(_, s)| s.authed);
    let safe = matches!(*req.method(), Method::GET | Method::HEAD);
    let (id, session, new) = match existing {
        Some((id, s)) => (id, s, false),
        None if auth.required => {
            return if wants_html(&req) {
                Redirect::to("/login").into_response()
            } else {
                fail(StatusCode::UNAUTHORIZED, "log in first")
            };
        }
        None if !safe => return fail(StatusCode::FORBIDDEN, "no session: reload the page"),
        // Loopback API and media reads need no session (only pages carry a token), so
        // scripts polling the API do not pile up sessions; but another site's page must
        // not make the browser start transcodes with <video>/<img> (its requests carry
        // no cookie: it is SameSite=Strict).
        None if !wants_html(&req) => {
            if let Some(why) = cross_site(req.headers()) {
                warn!(path = %req.uri().path(), why, "refused a request from another site");
                return fail(
                    StatusCode::FORBIDDEN,
                    "this request came from another web site: open camvault's own pages instead",
                );
            }
            return next.run(req).await;
        }
        None => {
            let (id, s) = auth.create(true);
            (id, s, true)
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
            return fail(StatusCode::FORBIDDEN, "CSRF check failed: reload the page");
        }
    }
    req.extensions_mut().insert(session);
    let mut res = next.run(req).await;
    if new {
        if let Ok(v) = auth.cookie(&id, auth.lifetime.as_secs()).parse() {
            res.headers_mut().insert(header::SET_COOKIE, v);
        }
    }
    res
}

/// `/metrics` and `/healthz`: open on loopback, and to local clients (Prometheus on the
/// same machine) when a login is required; anyone else logs in like for the pages.
pub async fn local_or_login(State(app): State<App>, req: Request, next: Next) -> Response {
    let local = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .is_some_and(|c| client_ip(c.0).is_loopback());
    let allowed = !app.auth.required
        || local
        || cookie_value(req.headers())
            .and_then(|id| app.auth.session(&id))
            .is_some_and(|s| s.authed);
    if !allowed {
        return fail(StatusCode::UNAUTHORIZED, "log in first");
    }
    next.run(req).await
}

const LOGIN_HTML: &str = include_str!("assets/login.html");

fn login_form(csrf: &str, message: &str) -> String {
    let esc = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;").replace('"', "&quot;");
    LOGIN_HTML
        .replace("{{csrf}}", &esc(csrf))
        .replace("{{message}}", &esc(message))
}

/// The login page; on loopback there is nothing to log into.
pub async fn login_page(State(app): State<App>, headers: HeaderMap) -> Response {
    let auth = &app.auth;
    if !auth.required {
        return Redirect::to("/").into_response();
    }
    let cookie = cookie_value(&headers);
    if cookie
        .as_deref()
        .and_then(|id| auth.session(id))
        .is_some_and(|s| s.authed)
    {
        return Redirect::to("/").into_response();
    }
    // A pre-login cookie whose signed token the form carries: login CSRF is refused too.
    // A reload (or a second tab) keeps the one it has. Nothing is stored.
    let (id, csrf) = match cookie.and_then(|c| auth.form_token(&c).map(|t| (c, t))) {
        Some(f) => f,
        None => auth.new_form(),
    };
    // A Secure cookie over plain HTTP is dropped by the browser: say so instead of looping.
    let https = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("https"));
    let note = if auth.secure && !https {
        "If logging in brings you back here: this page came over plain HTTP and the session cookie is HTTPS-only. Put an HTTPS proxy in front, or set http.secure_cookie = false on a trusted LAN."
    } else {
        ""
    };
    let mut res = Html(login_form(&csrf, note)).into_response();
    if let Ok(v) = auth.cookie(&id, FORM_LIFETIME.as_secs()).parse() {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    res
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf: String,
}

pub async fn login(
    State(app): State<App>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let auth = app.auth.clone();
    if !auth.required {
        return Redirect::to("/").into_response();
    }
    let ip = client_ip(peer);
    let form_csrf = cookie_value(&headers).and_then(|c| auth.form_token(&c));
    let Some(csrf) = form_csrf.filter(|t| same(&form.csrf, t)) else {
        return (
            StatusCode::FORBIDDEN,
            Html(login_form(
                "",
                "The form expired or came from elsewhere: reload this page.",
            )),
        )
            .into_response();
    };
    if foreign_origin(&headers) {
        return (StatusCode::FORBIDDEN, Html(login_form(&csrf, "Wrong origin."))).into_response();
    }
    // Counted before the hash: parallel attempts cannot all slip under the limit.
    let at = match auth.attempt(ip) {
        Ok(at) => at,
        Err(wait) => {
            warn!(client = %ip, "login refused: too many failed attempts");
            let mut res = (
                StatusCode::TOO_MANY_REQUESTS,
                Html(login_form(
                    &csrf,
                    &format!("Too many failed attempts: try again in {} minutes.", wait.div_ceil(60)),
                )),
            )
                .into_response();
            if let Ok(v) = wait.to_string().parse() {
                res.headers_mut().insert(header::RETRY_AFTER, v);
            }
            return res;
        }
    };
    let Some(ok) = auth.hasher.verify(&auth.hash, form.password).await else {
        auth.succeeded(ip, at); // not checked: does not count
        warn!(client = %ip, "login refused: too many logins at once");
        let mut res = (
            StatusCode::SERVICE_UNAVAILABLE,
            Html(login_form(
                &csrf,
                "Too many logins at once: try again in a few seconds.",
            )),
        )
            .into_response();
        res.headers_mut()
            .insert(header::RETRY_AFTER, axum::http::HeaderValue::from_static("5"));
        return res;
    };
    if !ok {
        warn!(client = %ip, "failed web login");
        return (StatusCode::UNAUTHORIZED, Html(login_form(&csrf, "Wrong password."))).into_response();
    }
    auth.succeeded(ip, at);
    // A fresh session id after login: a planted pre-login cookie is worth nothing.
    let (id, _) = auth.create(true);
    info!(client = %ip, "web login");
    let mut res = Redirect::to("/").into_response();
    if let Ok(v) = auth.cookie(&id, auth.lifetime.as_secs()).parse() {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    res
}

pub async fn logout(State(app): State<App>, headers: HeaderMap) -> Response {
    if let Some(id) = cookie_value(&headers) {
        app.auth.drop_session(&id);
    }
    let mut res = Redirect::to(if app.auth.required { "/login" } else { "/" }).into_response();
    if let Ok(v) = app.auth.cookie("", 0).parse() {
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
        let a = Auth::new(&cfg, true);
        let (x, y): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        for _ in 0..MAX_FAILURES_PER_CLIENT {
            assert!(a.blocked(x).is_none());
            a.failed(x);
        }
        assert!(a.blocked(x).is_some_and(|s| s > 0 && s <= WINDOW.as_secs()));
        assert!(a.blocked(y).is_none(), "another client is not blocked");
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
