//! The HTTP surface of `serve`: the web interface, `/metrics`, `/healthz` and the JSON API,
//! all on `http.listen`.
//!
//! The parts, one job each: [`auth`] (login, sessions, CSRF, rate limiting), [`api`] (the
//! JSON the pages read), [`pages`] (the embedded HTML, CSS and JavaScript), [`media`] (clips
//! with range requests, transcoding, thumbnails, exports). Thumbnails are made by the media
//! stage below it ([`crate::media`]); the web only serves them (or makes one on request
//! through the same ffmpeg queue). Every response carries the security headers set here.

pub mod account;
pub mod api;
pub mod approvals;
pub mod auth;
pub mod conn;
pub mod errors;
pub mod i18n;
pub mod jobs;
pub mod media;
pub mod pages;
pub mod range;
pub mod startup;

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{Context, Result};
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use tokio_util::sync::CancellationToken;
use tracing::info;

use crate::catalog::Catalog;
use crate::config::Config;
use crate::metrics::PipelineMetrics;
use crate::store::Backend;

#[derive(Clone)]
pub struct App {
    pub cfg: Arc<Config>,
    pub catalog: Arc<Catalog>,
    pub metrics: PipelineMetrics,
    pub store: Arc<dyn Backend>,
    pub auth: Arc<auth::Auth>,
    pub media: Arc<media::Media>,
    /// Wakes `serve`'s restore loop when the web interface starts a restore.
    pub restore_wake: Arc<tokio::sync::Notify>,
}

fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

/// An error in English only (the page shows it marked as English, and the Chinese page
/// fails the browser test): prefer [`fail_msg`].
pub fn fail(code: StatusCode, msg: impl Into<String>) -> Response {
    (code, Json(serde_json::json!({ "error": msg.into() }))).into_response()
}

/// An error the page shows in its own language: the English text for other clients, and
/// the catalogue key with its arguments ([`crate::msg`]).
pub fn fail_msg(code: StatusCode, msg: crate::msg::Msg) -> Response {
    let body = serde_json::json!({ "error": msg.en(), "key": msg.key, "args": msg.args });
    (code, Json(body)).into_response()
}

/// An unexpected failure: 500, its cause as the message's argument (camvault's or another
/// system's words, in English), the sentence around it in the reader's language.
pub fn internal(detail: impl std::fmt::Display) -> Response {
    fail_msg(
        StatusCode::INTERNAL_SERVER_ERROR,
        crate::msg!("api.internal", detail = detail),
    )
}

/// Runs catalog work off the async threads; errors become 500 with the message.
pub async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T, Response> {
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(internal(format!("{e:#}"))),
        Err(e) => Err(internal(e)),
    }
}

async fn metrics_page(State(app): State<App>) -> Response {
    let body = blocking(move || crate::metrics::render(&app.cfg, &app.catalog, &app.metrics, now_ms())).await;
    match body {
        Ok(text) => (
            [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
            text,
        )
            .into_response(),
        Err(r) => r,
    }
}

async fn healthz(State(app): State<App>) -> Response {
    let problems = blocking(move || {
        let s = app.catalog.summary()?;
        Ok(crate::health::check(&app.cfg, &s, now_ms()))
    })
    .await;
    match problems {
        Ok(p) => {
            let code = if p.is_empty() {
                StatusCode::OK
            } else {
                StatusCode::SERVICE_UNAVAILABLE
            };
            let body = serde_json::json!({
                "status": if p.is_empty() { "ok" } else { "problem" },
                "problems": p.iter().map(|p| serde_json::json!({"rule": p.rule, "message": p.message, "detail": p.detail})).collect::<Vec<_>>(),
            });
            (code, Json(body)).into_response()
        }
        Err(r) => r,
    }
}

/// Security headers on every response: no framing, no sniffing, no referrer, and a CSP
/// that allows only this origin's own scripts and styles (none inline).
async fn security_headers(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    let set = |h: &mut axum::http::HeaderMap, k: &'static str, v: &'static str| {
        h.insert(k, HeaderValue::from_static(v));
    };
    set(
        h,
        "content-security-policy",
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; media-src 'self'; \
         connect-src 'self'; manifest-src 'self'; worker-src 'self'; form-action 'self'; base-uri 'none'; \
         frame-ancestors 'none'",
    );
    set(h, "x-frame-options", "DENY");
    set(h, "x-content-type-options", "nosniff");
    // same-origin, not no-referrer: with no-referrer browsers send `Origin: null` on form posts.
    set(h, "referrer-policy", "same-origin");
    set(h, "cross-origin-opener-policy", "same-origin");
    if !h.contains_key(header::CACHE_CONTROL) {
        set(h, "cache-control", "no-store");
    }
    res
}

/// On loopback (no login) only requests naming this machine in `Host` are answered: a web
/// page whose name was re-pointed at 127.0.0.1 (DNS rebinding) gets nothing. Requests
/// through a trusted proxy log in, and carry the proxy's public name.
async fn loopback_host(State(app): State<App>, req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    if !app.auth.login_required(&auth::client(&req)) {
        let host = req
            .headers()
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let name = match host.rsplit_once(':') {
            Some((n, p)) if p.bytes().all(|b| b.is_ascii_digit()) => n,
            _ => host,
        };
        let ok = name.is_empty()
            || name.eq_ignore_ascii_case("localhost")
            || name
                .trim_matches(['[', ']'])
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        if !ok {
            return fail_msg(StatusCode::MISDIRECTED_REQUEST, crate::msg!("api.host_refused"));
        }
    }
    next.run(req).await
}

/// The router with every route; `auth` guards all but the login page and the assets, and
/// lets local clients (Prometheus) read `/metrics` and `/healthz` without a login.
pub fn router(app: App) -> Router {
    let guarded = Router::new()
        .route("/", get(pages::shell))
        .route("/day/{camera}/{date}", get(pages::shell))
        .route("/month/{camera}/{month}", get(pages::shell))
        .route("/search", get(pages::shell))
        .route("/activity", get(pages::shell))
        .route("/restores/{id}", get(pages::shell))
        .route("/approve/{id}", get(pages::shell))
        .route("/account", get(pages::shell))
        .route("/api/me", get(approvals::me))
        .route("/api/me/language", post(account::set_language))
        .route("/api/approvals", get(approvals::list).post(approvals::request))
        .route("/api/approvals/{id}", get(approvals::show).post(approvals::decide))
        .route("/api/users", get(approvals::users))
        .route("/api/users/{name}/revoke", post(approvals::revoke))
        .route("/api/status", get(api::status))
        .route("/api/dashboard", get(api::dashboard))
        .route("/api/cameras", get(api::cameras))
        .route("/api/day", get(api::day))
        .route("/api/month", get(api::month))
        .route("/api/search", get(api::search))
        .route("/api/activity", get(api::activity))
        .route("/api/activity/month", get(api::activity_month))
        .route("/media/index/{id}/{name}", get(api::index_picture))
        .route("/api/restore/plan", post(api::restore_plan))
        .route("/api/restore", post(api::restore_start))
        .route("/api/restore/{id}", get(api::restore_progress))
        .route("/media/clip/{id}", get(media::clip))
        .route("/media/play/{id}", get(media::play))
        .route("/media/thumb/{id}", get(media::thumb))
        .route("/media/export", get(media::export))
        .route("/media/restore/{id}/merged.mp4", get(media::restored_merged))
        .route("/logout", post(auth::logout))
        .layer(axum::middleware::from_fn_with_state(app.clone(), auth::guard));
    let probes = Router::new()
        .route("/metrics", get(metrics_page))
        .route("/healthz", get(healthz))
        .layer(axum::middleware::from_fn_with_state(app.clone(), auth::local_or_login));
    Router::new()
        .merge(probes)
        .route(
            "/login",
            get(auth::login_page)
                .post(auth::login)
                .layer(axum::middleware::from_fn_with_state(app.clone(), pages::localize_login)),
        )
        .route("/assets/{name}", get(pages::asset))
        .route("/manifest.webmanifest", get(pages::manifest))
        .route("/sw.js", get(pages::service_worker))
        .route("/offline", get(pages::offline))
        .merge(guarded)
        .layer(axum::middleware::from_fn_with_state(app.clone(), loopback_host))
        .layer(axum::middleware::from_fn_with_state(app.clone(), errors::localize))
        .layer(axum::middleware::from_fn_with_state(app.clone(), auth::identify))
        .layer(axum::middleware::from_fn(security_headers))
        .with_state(app)
}

/// Serves until `stop`.
pub async fn serve(
    cfg: Config,
    catalog: Arc<Catalog>,
    metrics: PipelineMetrics,
    store: Arc<dyn Backend>,
    restore_wake: Arc<tokio::sync::Notify>,
    ffmpeg: Arc<crate::media::queue::Queue>,
    stop: CancellationToken,
) -> Result<()> {
    let addr: SocketAddr = cfg.http.listen;
    let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| {
        format!("cannot listen on `http.listen` = {addr}: is another program (or camvault) using the port?")
    })?;
    // `[::ffff:127.0.0.1]` is loopback too.
    let login = !addr.ip().to_canonical().is_loopback();
    info!(%addr, login, "web interface and HTTP endpoint: / /metrics /healthz /api/");
    // A camvault with one password (`camvault passwd`) gets an admin user `admin` with it.
    let (cat, hash) = (catalog.clone(), cfg.http.password_hash.0.clone());
    if tokio::task::spawn_blocking(move || cat.import_config_password(&hash, now_ms()))
        .await
        .context("importing `http.password_hash`")?
        .context("cannot make `http.password_hash` the password of the web user `admin`")?
    {
        info!("`http.password_hash` is now the password of the web user `admin` (an admin); its sessions ended");
    }
    let app = App {
        auth: Arc::new(auth::Auth::new(&cfg, login, catalog.clone())),
        media: Arc::new(media::Media::new(&cfg, ffmpeg)),
        cfg: Arc::new(cfg),
        catalog,
        metrics,
        store,
        restore_wake,
    };
    let max_connections = app.cfg.http.max_connections;
    conn::serve(listener, router(app), max_connections, stop).await;
    Ok(())
}
