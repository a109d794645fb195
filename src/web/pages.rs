//! The web interface's files, embedded in the binary: one HTML shell for every page (the
//! script renders the view the path names), the style sheet and the script. No build step.

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::Extension;

use super::auth::Session;
use super::App;

const SHELL: &str = include_str!("assets/index.html");
const APP_JS: &str = include_str!("assets/app.js");
const APP_CSS: &str = include_str!("assets/app.css");

/// The page shell, carrying the session's CSRF token for the script's POSTs.
pub async fn shell(State(app): State<App>, Extension(session): Extension<Session>) -> Response {
    let html = SHELL
        .replace("{{csrf}}", &session.csrf)
        .replace("{{login}}", if app.auth.required { "1" } else { "0" });
    Html(html).into_response()
}

pub async fn asset(Path(name): Path<String>) -> Response {
    let (body, kind) = match name.as_str() {
        "app.js" => (APP_JS, "text/javascript; charset=utf-8"),
        "app.css" => (APP_CSS, "text/css; charset=utf-8"),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    (
        [(header::CONTENT_TYPE, kind), (header::CACHE_CONTROL, "no-cache")],
        body,
    )
        .into_response()
}
