//! Every error the JSON API answers, also in the reader's language.
//!
//! An error is `{"error": "English", "key": "…", "args": {…}}` ([`super::fail_msg`]); the
//! pages render the key through their catalogue. A client that shows the answer as it came
//! (a browser opening an API or media URL, a 421 for a name camvault does not answer to)
//! gets the same message as `"text"` in its language: the logged-in user's own, else the
//! `camvault_lang` cookie or `Accept-Language`, else `http.language`; `Content-Language`
//! says which. `"error"` stays English for scripts. A keyless error (an older path, see
//! [`super::fail`]) gets the `err.server` sentence around its English.

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::i18n::Lang;
use super::App;

/// The largest error body looked at (they are a few hundred bytes).
const MAX_BODY: usize = 64 * 1024;

pub async fn localize(State(app): State<App>, req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let headers = req.headers().clone();
    let res = next.run(req).await;
    let status = res.status();
    let json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || !json {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY).await else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let Ok(mut v) = serde_json::from_slice::<Value>(&bytes) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    let lang = match app.auth.language_of(&headers).await {
        Some(l) => l,
        None => super::pages::lang(&app, &headers),
    };
    let Some(text) = text_in(&v, lang) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    v["text"] = Value::String(text);
    parts.headers.remove(header::CONTENT_LENGTH);
    parts
        .headers
        .insert(header::CONTENT_LANGUAGE, HeaderValue::from_static(lang.tag()));
    parts
        .headers
        .insert(header::VARY, HeaderValue::from_static("cookie, accept-language"));
    Response::from_parts(parts, Body::from(v.to_string()))
}

/// The error's message in `lang`: its key and arguments, else its English in `err.server`.
fn text_in(v: &Value, lang: Lang) -> Option<String> {
    if let Some(key) = v.get("key").and_then(Value::as_str) {
        let stored = serde_json::json!({"key": key, "args": v.get("args").cloned().unwrap_or(Value::Null)});
        if let Some(m) = crate::msg::from_stored(&stored.to_string()).and_then(|m| m.into_iter().next()) {
            return Some(m.render(lang));
        }
    }
    let english = v.get("error").and_then(Value::as_str)?;
    Some(lang.fmt("err.server", &[("detail", english)]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyed_and_keyless_errors_in_chinese() {
        let v = serde_json::json!({"error": "no clip #7", "key": "api.no_clip", "args": {"id": "7"}});
        assert_eq!(
            text_in(&v, Lang::Zh).unwrap(),
            Lang::Zh.fmt("api.no_clip", &[("id", "7")])
        );
        assert_eq!(text_in(&v, Lang::En).unwrap(), "no clip #7");
        let v = serde_json::json!({"error": "disk on fire"});
        assert_eq!(text_in(&v, Lang::Zh).unwrap(), "服务器错误：disk on fire");
        assert_eq!(text_in(&serde_json::json!({"x": 1}), Lang::Zh), None);
    }
}
