//! The languages of the web interface and of alert messages: English and Simplified
//! Chinese, one catalogue per language (`src/web/i18n/en.json`, `zh-CN.json`).
//!
//! A catalogue is a flat JSON object of key → text with `{name}` placeholders. The same file
//! serves the server (the login page, the offline page, alerts) and the script (the page
//! carries its language's catalogue as a JSON data block), so there is one source of
//! strings and no build step; see docs/web.md for why this is a plain table and not Fluent.
//!
//! The page's language: the `camvault_lang` cookie (the viewer's own choice), else the best
//! of the browser's `Accept-Language`, else `http.language`.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use axum::http::{header, HeaderMap};

pub use crate::config::Lang;

pub const ALL: [Lang; 2] = [Lang::En, Lang::Zh];

/// The cookie holding the viewer's choice.
pub const COOKIE: &str = "camvault_lang";

const EN: &str = include_str!("i18n/en.json");
const ZH: &str = include_str!("i18n/zh-CN.json");

impl Lang {
    /// The BCP 47 tag, as in `<html lang>` and the catalogue's file name.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Zh => "zh-CN",
        }
    }

    /// A tag from a cookie or `Accept-Language` (`zh`, `zh-CN`, `zh-Hans-CN`, `en-GB`…).
    /// Traditional Chinese (`zh-TW`, `zh-HK`, `zh-Hant`) is not Simplified: no match.
    pub fn parse(tag: &str) -> Option<Lang> {
        let t = tag.trim().to_ascii_lowercase();
        let primary = t.split(['-', '_']).next().unwrap_or("");
        match primary {
            "en" => Some(Lang::En),
            "zh" if t.contains("hant") || t.ends_with("-tw") || t.ends_with("-hk") || t.ends_with("-mo") => None,
            "zh" => Some(Lang::Zh),
            _ => None,
        }
    }

    /// The catalogue's raw JSON, for the page's script.
    pub fn json(self) -> &'static str {
        match self {
            Lang::En => EN,
            Lang::Zh => ZH,
        }
    }

    /// The catalogue.
    pub fn strings(self) -> &'static BTreeMap<String, String> {
        static CATALOGUES: OnceLock<[BTreeMap<String, String>; 2]> = OnceLock::new();
        let all = CATALOGUES.get_or_init(|| {
            // Both files are checked by the unit tests below: a broken one never ships.
            let parse = |s: &str| serde_json::from_str(s).unwrap_or_default();
            [parse(EN), parse(ZH)]
        });
        &all[self as usize]
    }

    /// The text of `key`; the key itself when missing (tests look for that).
    pub fn t(self, key: &str) -> &str {
        self.strings().get(key).map(String::as_str).unwrap_or(key)
    }

    /// The text of `key` with its `{name}` placeholders filled.
    pub fn fmt(self, key: &str, vars: &[(&str, &str)]) -> String {
        let mut s = self.t(key).to_string();
        for (k, v) in vars {
            s = s.replace(&format!("{{{k}}}"), v);
        }
        s
    }
}

/// The language of a request: the cookie, else `Accept-Language`, else `default`.
pub fn negotiate(headers: &HeaderMap, default: Lang) -> Lang {
    if let Some(l) = cookie(headers) {
        return l;
    }
    headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .and_then(from_accept_language)
        .unwrap_or(default)
}

fn cookie(headers: &HeaderMap) -> Option<Lang> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .and_then(|(_, v)| Lang::parse(&v.replace("%2D", "-").replace("%2d", "-")))
}

/// The best language of an `Accept-Language` header we speak (RFC 9110 §12.5.4: the highest
/// `q`, the first listed among equals; `q=0` means "not this one").
pub fn from_accept_language(v: &str) -> Option<Lang> {
    let mut best: Option<(u16, Lang)> = None;
    for part in v.split(',') {
        let mut it = part.split(';');
        let tag = it.next().unwrap_or("").trim();
        let q = it
            .filter_map(|p| p.trim().strip_prefix("q="))
            .filter_map(|q| q.trim().parse::<f32>().ok())
            .next()
            .unwrap_or(1.0);
        let q = (q.clamp(0.0, 1.0) * 1000.0) as u16;
        if q == 0 {
            continue;
        }
        if let Some(l) = Lang::parse(tag) {
            if best.is_none_or(|(b, _)| q > b) {
                best = Some((q, l));
            }
        }
    }
    best.map(|(_, l)| l)
}

/// Fills `{{t:key}}` placeholders of an HTML template with escaped text.
pub fn fill_html(html: &str, lang: Lang) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(at) = rest.find("{{t:") {
        out.push_str(&rest[..at]);
        let after = &rest[at + 4..];
        let Some(end) = after.find("}}") else {
            out.push_str(&rest[at..]);
            return out;
        };
        out.push_str(&escape(lang.t(&after[..end])));
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

/// The catalogue as a JSON data block's text: `<` escaped so that no string can end the block.
pub fn json_block(lang: Lang) -> String {
    lang.json().replace('<', "\\u003c")
}

pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(l: Lang) -> Vec<&'static str> {
        let raw: BTreeMap<String, String> = serde_json::from_str(l.json())
            .unwrap_or_else(|e| panic!("{}.json is not a flat JSON object: {e}", l.tag()));
        assert!(!raw.is_empty());
        l.strings().keys().map(String::as_str).collect()
    }

    #[test]
    fn every_key_is_in_every_language() {
        let en = keys(Lang::En);
        let zh = keys(Lang::Zh);
        let only_en: Vec<_> = en.iter().filter(|k| !zh.contains(k)).collect();
        let only_zh: Vec<_> = zh.iter().filter(|k| !en.contains(k)).collect();
        assert!(only_en.is_empty(), "missing in zh-CN.json: {only_en:?}");
        assert!(only_zh.is_empty(), "missing in en.json: {only_zh:?}");
    }

    #[test]
    fn placeholders_match_across_languages() {
        let names = |s: &str| {
            let mut v: Vec<String> = s
                .split('{')
                .skip(1)
                .filter_map(|p| p.split_once('}').map(|(n, _)| n.to_string()))
                .collect();
            v.sort();
            v
        };
        for (k, en) in Lang::En.strings() {
            let zh = Lang::Zh.t(k);
            assert_eq!(names(en), names(zh), "placeholders of {k:?} differ: {en:?} / {zh:?}");
        }
    }

    /// Every key the script and the templates use is in the catalogue (a typo in app.js
    /// would show the key on the page).
    #[test]
    fn every_key_used_exists() {
        let js = include_str!("assets/app.js");
        let mut used = Vec::new();
        // `t('key'` where `t` is the function, not the end of `split('` or `get('`.
        for (at, _) in js.match_indices("t('") {
            let before = js[..at].chars().next_back().unwrap_or(' ');
            if before.is_alphanumeric() || before == '_' || before == '.' {
                continue;
            }
            let key: String = js[at + 3..].chars().take_while(|c| *c != '\'').collect();
            // `t('tier.' + k)`: a prefix, checked below by its known suffixes.
            if !key.ends_with('.') {
                used.push(key);
            }
        }
        for tpl in [
            include_str!("assets/index.html"),
            include_str!("assets/login.html"),
            include_str!("assets/offline.html"),
        ] {
            for part in tpl.split("{{t:").skip(1) {
                used.push(part.split("}}").next().unwrap().to_string());
            }
        }
        assert!(used.len() > 50, "found only {} keys", used.len());
        for prefix in ["tier.", "state.", "speed.", "quality.", "source."] {
            assert!(
                Lang::En.strings().keys().any(|k| k.starts_with(prefix)),
                "no {prefix}* keys"
            );
        }
        for k in ["local", "standard", "archived", "restoring", "restored"] {
            used.push(format!("tier.{k}"));
        }
        for k in ["auto", "720p", "full"] {
            used.push(format!("quality.{k}"));
        }
        for k in ["standard", "expedited", "bulk"] {
            used.push(format!("speed.{k}"));
        }
        // The server's messages (`msg!` in the health rules, the API, restores).
        let sources = [
            include_str!("../health.rs"),
            include_str!("../restore/mod.rs"),
            include_str!("../restore/copies.rs"),
            include_str!("account.rs"),
            include_str!("api.rs"),
            include_str!("approvals.rs"),
            include_str!("auth.rs"),
            include_str!("jobs.rs"),
            include_str!("media.rs"),
            include_str!("range.rs"),
            include_str!("mod.rs"),
            include_str!("../miio/camera.rs"),
            include_str!("../miio/poll.rs"),
            include_str!("../selfwatch.rs"),
            include_str!("../tiers.rs"),
            include_str!("../coverage.rs"),
            include_str!("../store/settings.rs"),
            include_str!("../samba/check.rs"),
            include_str!("../samba/audit.rs"),
        ];
        let server: Vec<String> = sources.iter().flat_map(|s| crate::msg::keys_used_in(s)).collect();
        assert!(server.len() > 30, "found only {} server message keys", server.len());
        for k in [
            "health.detail.silent",
            "health.detail.miio_silent",
            "health.detail.rss",
            "api.host_refused",
        ] {
            assert!(server.iter().any(|s| s == k), "{k} not found in {server:?}");
        }
        used.extend(server);
        used.push("err.server".into());
        for k in crate::health::RULES {
            used.push(format!("health.{k}"));
            used.push(format!("health.{k}.title"));
        }
        for l in ALL {
            let missing: Vec<_> = used.iter().filter(|k| !l.strings().contains_key(*k)).collect();
            assert!(missing.is_empty(), "{}.json lacks {missing:?}", l.tag());
        }
    }

    #[test]
    fn chinese_is_chinese() {
        // A copy of an English string left in zh-CN.json is a missing translation.
        let same: Vec<_> = Lang::En
            .strings()
            .iter()
            .filter(|(k, v)| Lang::Zh.t(k) == v.as_str() && v.chars().filter(|c| c.is_ascii_alphabetic()).count() > 3)
            .map(|(k, _)| k)
            .filter(|k| *k != "app.name")
            .collect();
        assert!(same.is_empty(), "untranslated in zh-CN.json: {same:?}");
    }

    #[test]
    fn negotiation() {
        assert_eq!(from_accept_language("zh-CN,zh;q=0.9,en;q=0.8"), Some(Lang::Zh));
        assert_eq!(from_accept_language("en-US,en;q=0.9,zh-CN;q=0.8"), Some(Lang::En));
        assert_eq!(from_accept_language("fr-FR, zh;q=0.5"), Some(Lang::Zh));
        assert_eq!(from_accept_language("de, fr"), None);
        assert_eq!(from_accept_language("zh-TW"), None);
        assert_eq!(from_accept_language("zh-Hans-CN"), Some(Lang::Zh));
        assert_eq!(from_accept_language("en;q=0, zh;q=0.1"), Some(Lang::Zh));
        assert_eq!(from_accept_language("en;q=0.2, zh;q=0.7"), Some(Lang::Zh));
        let mut h = HeaderMap::new();
        assert_eq!(negotiate(&h, Lang::Zh), Lang::Zh);
        h.insert(header::ACCEPT_LANGUAGE, "en-GB".parse().unwrap());
        assert_eq!(negotiate(&h, Lang::Zh), Lang::En);
        h.insert(header::COOKIE, "a=b; camvault_lang=zh-CN".parse().unwrap());
        assert_eq!(negotiate(&h, Lang::En), Lang::Zh);
    }

    #[test]
    fn templates() {
        assert_eq!(fill_html("<b>{{t:login.password}}</b>", Lang::Zh), "<b>密码</b>");
        assert_eq!(
            Lang::En.fmt("plan.confirm", &[("n", "2"), ("cost", "¥1.00")]),
            "Restore 2 clip(s) for ¥1.00"
        );
        assert!(!json_block(Lang::En).contains('<'));
    }
}
