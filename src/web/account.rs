//! A user's own settings: for now the language of the pages (issue 17), kept with the
//! account in the catalog so that it follows the person to any browser they log in on.
//!
//! Without an account choice a page follows the browser: the `camvault_lang` cookie (set by
//! the header's menu, and the only choice on the login page and for loopback use without a
//! login), then `Accept-Language`, then `http.language`. At login the account's language
//! is also written into that cookie, so the login page after logging out speaks it too.

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::json;

use super::auth::Session;
use super::i18n::{self, Lang};
use super::{blocking, fail_msg, App};

/// The `Set-Cookie` value that makes `lang` this browser's choice (a year, like the menu's).
pub fn lang_cookie(lang: Lang) -> String {
    format!(
        "{}={}; Path=/; Max-Age=31536000; SameSite=Strict",
        i18n::COOKIE,
        lang.tag()
    )
}

#[derive(Deserialize)]
pub struct LanguageBody {
    /// `en`, `zh-CN`, or null/empty to follow the browser.
    language: Option<String>,
}

/// `POST /api/me/language {language}`: the logged-in user's own language.
pub async fn set_language(
    State(app): State<App>,
    Extension(s): Extension<Session>,
    Json(b): Json<LanguageBody>,
) -> Response {
    let Some(user) = s.user.clone() else {
        // Loopback without a login has no account: the cookie is its choice.
        return fail_msg(StatusCode::BAD_REQUEST, crate::msg!("api.no_account"));
    };
    let lang = match b.language.as_deref().map(str::trim).filter(|l| !l.is_empty()) {
        None => None,
        Some(tag) => match Lang::parse(tag).filter(|l| l.tag().eq_ignore_ascii_case(tag)) {
            Some(l) => Some(l),
            None => {
                let tags = i18n::ALL.iter().map(|l| l.tag()).collect::<Vec<_>>().join(", ");
                return fail_msg(
                    StatusCode::BAD_REQUEST,
                    crate::msg!("api.bad_language", value = format!("{tag:?}"), tags = tags),
                );
            }
        },
    };
    let cat = app.catalog.clone();
    let name = user.clone();
    match blocking(move || cat.set_user_language(&name, lang.map(|l| l.tag()))).await {
        Ok(true) => {
            tracing::info!(user = %user, language = lang.map_or("browser", |l| l.tag()), "web user's language set");
            let mut res = Json(json!({"language": lang.map(|l| l.tag())})).into_response();
            if let Some(v) = lang.and_then(|l| HeaderValue::from_str(&lang_cookie(l)).ok()) {
                res.headers_mut().insert(header::SET_COOKIE, v);
            }
            res
        }
        // Deleted meanwhile: its sessions are gone too.
        Ok(false) => fail_msg(StatusCode::UNAUTHORIZED, crate::msg!("api.log_in_first")),
        Err(r) => r,
    }
}
