//! Login, sessions, CSRF and the login rate limit.
//!
//! On a loopback `http.listen` nobody logs in, but every browser still gets a session: its
//! CSRF token is what stops another web site from making the browser POST a restore to
//! 127.0.0.1. On any other address a password is required (an Argon2 hash in
//! `http.password_hash`, set by `camvault passwd`). Sessions live in memory (a restart logs
//! everyone out); the cookie is HttpOnly, SameSite=Strict and, by default, Secure. Every
//! POST must carry the session's CSRF token (`X-CSRF-Token`, or the form field on the login
//! page) and, when the browser sends one, an `Origin` of this host. Failed logins are
//! limited per client address and overall; the password is never logged or echoed.
//! `/metrics` and `/healthz` answer local clients without a login (Prometheus on the box).

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
/// Sessions kept at most (unauthenticated ones are dropped first).
const MAX_SESSIONS: usize = 10_000;

/// Hashes a password for `http.password_hash`.
pub fn hash_password(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::encode_b64(&random_bytes::<16>()?).map_err(|e| anyhow::anyhow!("salt: {e}"))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("cannot hash the password: {e}"))
}

/// Whether `hash` is a PHC string this build can verify against.
pub fn valid_hash(hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| h.algorithm.as_str().starts_with("argon2"))
}

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

/// Times of failed logins within the window: per client address, and all together.
type Failures = (HashMap<IpAddr, VecDeque<Instant>>, VecDeque<Instant>);

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
    sessions: Mutex<HashMap<String, Session>>,
    failures: Mutex<Failures>,
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
        }
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
            s.retain(|_, v| v.expires > now && v.authed);
            if s.len() >= MAX_SESSIONS {
                s.clear();
            }
        }
        let lifetime = if authed {
            self.lifetime
        } else {
            Duration::from_secs(3600)
        };
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

    fn failed(&self, ip: IpAddr) {
        let now = Instant::now();
        let mut f = self.failures.lock().unwrap();
        f.0.entry(ip).or_default().push_back(now);
        f.1.push_back(now);
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
        // scripts polling the API do not pile up sessions.
        None if !wants_html(&req) => return next.run(req).await,
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
        .is_some_and(|c| c.0.ip().is_loopback());
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
    let current = cookie_value(&headers).and_then(|id| auth.session(&id).map(|s| (id, s)));
    if current.as_ref().is_some_and(|(_, s)| s.authed) {
        return Redirect::to("/").into_response();
    }
    // A pre-login session whose token the form carries: login CSRF is refused too. A
    // reload (or a second tab) keeps the one it has.
    let (id, s) = current.unwrap_or_else(|| auth.create(false));
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
    let mut res = Html(login_form(&s.csrf, note)).into_response();
    if let Ok(v) = auth.cookie(&id, 3600).parse() {
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
    let ip = peer.ip();
    let pre = cookie_value(&headers).and_then(|id| auth.session(&id).map(|s| (id, s)));
    let Some((pre_id, pre)) = pre.filter(|(_, s)| same(&form.csrf, &s.csrf)) else {
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
        return (StatusCode::FORBIDDEN, Html(login_form(&pre.csrf, "Wrong origin."))).into_response();
    }
    if let Some(wait) = auth.blocked(ip) {
        warn!(client = %ip, "login refused: too many failed attempts");
        let mut res = (
            StatusCode::TOO_MANY_REQUESTS,
            Html(login_form(
                &pre.csrf,
                &format!("Too many failed attempts: try again in {} minutes.", wait.div_ceil(60)),
            )),
        )
            .into_response();
        if let Ok(v) = wait.to_string().parse() {
            res.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return res;
    }
    let (hash, password) = (auth.hash.clone(), form.password);
    let ok = tokio::task::spawn_blocking(move || verify_password(&hash, &password))
        .await
        .unwrap_or(false);
    if !ok {
        auth.failed(ip);
        warn!(client = %ip, "failed web login");
        return (StatusCode::UNAUTHORIZED, Html(login_form(&pre.csrf, "Wrong password."))).into_response();
    }
    // A fresh session id after login: a planted pre-login cookie is worth nothing.
    auth.drop_session(&pre_id);
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
