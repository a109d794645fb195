//! The web interface's files, embedded in the binary: one HTML shell for every page (the
//! script renders the view the path names), the style sheet and the script, the offline
//! page, and what makes it an installable app (the manifest, the service worker, icons).
//! No build step.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::Extension;

use super::auth::Session;
use super::i18n::{self, Lang};
use super::App;

const SHELL: &str = include_str!("assets/index.html");
const OFFLINE: &str = include_str!("assets/offline.html");
const APP_JS: &str = include_str!("assets/app.js");
const APP_CSS: &str = include_str!("assets/app.css");
const SW_JS: &str = include_str!("assets/sw.js");
const ICON_SVG: &str = include_str!("assets/icon.svg");
const ICON_192: &[u8] = include_bytes!("assets/icon-192.png");
const ICON_512: &[u8] = include_bytes!("assets/icon-512.png");

/// The language of this request (see [`i18n::negotiate`]).
pub fn lang(app: &App, headers: &HeaderMap) -> Lang {
    i18n::negotiate(headers, app.cfg.http.language)
}

/// The page shell, carrying the session's CSRF token for the script's POSTs and the
/// language's catalogue.
pub async fn shell(State(app): State<App>, Extension(session): Extension<Session>, headers: HeaderMap) -> Response {
    // A logged-in user's own language, on any browser; else what this browser asks for.
    let lang = session.lang.unwrap_or_else(|| lang(&app, &headers));
    let html = i18n::fill_html(SHELL, lang)
        .replace("{{lang}}", lang.tag())
        .replace("{{csrf}}", &session.csrf)
        .replace("{{login}}", if app.auth.required { "1" } else { "0" })
        .replace("{{strings}}", &i18n::json_block(lang));
    let mut res = Html(html).into_response();
    res.headers_mut().insert(
        header::VARY,
        header::HeaderValue::from_static("cookie, accept-language"),
    );
    res
}

/// What the service worker shows when camvault cannot be reached. No session, no data.
pub async fn offline(State(app): State<App>, headers: HeaderMap) -> Response {
    let lang = lang(&app, &headers);
    Html(i18n::fill_html(OFFLINE, lang).replace("{{lang}}", lang.tag())).into_response()
}

/// The web app manifest (https://www.w3.org/TR/appmanifest/): the name, icons, and that it
/// opens full screen on the dashboard.
pub async fn manifest(State(app): State<App>, headers: HeaderMap) -> Response {
    let lang = lang(&app, &headers);
    let body = serde_json::json!({
        "name": "camvault",
        "short_name": "camvault",
        "description": lang.t("app.description"),
        "lang": lang.tag(),
        "id": "/",
        "start_url": "/",
        "scope": "/",
        "display": "standalone",
        "orientation": "any",
        "background_color": "#f6f7f9",
        "theme_color": "#111827",
        "icons": [
            {"src": "/assets/icon-192.png", "sizes": "192x192", "type": "image/png", "purpose": "any maskable"},
            {"src": "/assets/icon-512.png", "sizes": "512x512", "type": "image/png", "purpose": "any maskable"},
            {"src": "/assets/icon.svg", "sizes": "any", "type": "image/svg+xml"},
        ],
    });
    (
        [
            (header::CONTENT_TYPE, "application/manifest+json"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body.to_string(),
    )
        .into_response()
}

/// The service worker, at the root so that its scope is the whole site. `no-cache`: a new
/// camvault's worker replaces the old one at the next visit.
pub async fn service_worker() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        SW_JS,
    )
        .into_response()
}

pub async fn asset(Path(name): Path<String>) -> Response {
    let (body, kind): (Body, &str) = match name.as_str() {
        "app.js" => (APP_JS.into(), "text/javascript; charset=utf-8"),
        "app.css" => (APP_CSS.into(), "text/css; charset=utf-8"),
        "icon.svg" => (ICON_SVG.into(), "image/svg+xml"),
        "icon-192.png" => (ICON_192.into(), "image/png"),
        "icon-512.png" => (ICON_512.into(), "image/png"),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    (
        [(header::CONTENT_TYPE, kind), (header::CACHE_CONTROL, "no-cache")],
        body,
    )
        .into_response()
}

/// Fills the login page's `{{t:…}}` placeholders and puts its message (written in English
/// by `auth`) in the request's language. A layer, so that `auth` needs no change.
pub async fn localize_login(
    State(app): State<App>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let lang = lang(&app, req.headers());
    let res = next.run(req).await;
    let is_html = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if !is_html {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    // The login page is a few KB; anything larger is not it.
    let Ok(bytes) = axum::body::to_bytes(body, 64 * 1024).await else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let html = String::from_utf8_lossy(&bytes);
    let html = i18n::fill_html(&login_message(&html, lang), lang).replace("{{lang}}", lang.tag());
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(html))
}

/// `auth`'s English messages in `lang`.
fn login_message(html: &str, lang: Lang) -> String {
    if lang == Lang::En {
        return html.to_string();
    }
    let mut out = html.to_string();
    for key in [
        "login.wrong",
        "login.expired",
        "login.origin",
        "login.busy",
        "login.plain_http",
        "login.store_failed",
    ] {
        out = out.replace(&i18n::escape(Lang::En.t(key)), &i18n::escape(lang.t(key)));
    }
    // "Too many failed attempts: try again in N minutes."
    let (pre, post) = Lang::En
        .t("login.too_many")
        .split_once("{min}")
        .unwrap_or(("\u{0}", ""));
    if let Some(at) = out.find(pre) {
        let digits: String = out[at + pre.len()..].chars().take_while(char::is_ascii_digit).collect();
        let end = at + pre.len() + digits.len();
        if out[end..].starts_with(post) {
            let zh = i18n::escape(&lang.fmt("login.too_many", &[("min", &digits)]));
            out.replace_range(at..end + post.len(), &zh);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_messages_are_translated() {
        let page = i18n::fill_html(include_str!("assets/login.html"), Lang::Zh);
        let wrong = page.replace("{{message}}", "Wrong password, or no such user.");
        assert!(login_message(&wrong, Lang::Zh).contains("密码错误"));
        let many = page.replace("{{message}}", "Too many failed attempts: try again in 14 minutes.");
        let zh = login_message(&many, Lang::Zh);
        assert!(zh.contains("请 14 分钟后再试"), "{zh}");
        assert!(!zh.contains("Too many"));
        assert!(!page.contains("{{t:"));
    }
}
