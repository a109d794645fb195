//! A message for people that can be shown in any of the interface's languages: a key of the
//! catalogues (`src/web/i18n/*.json`) and its arguments.
//!
//! The health rules and the web API build their messages as a [`Msg`]; the CLI and the logs
//! print its English text ([`Msg::en`], also `Display`), the JSON API sends the key and the
//! arguments beside that text (`{"error": "…", "key": "…", "args": {…}}`) and the page
//! renders them through its catalogue, so a Chinese page never shows the server's English.
//! Arguments are data (numbers, camera ids, object keys) and are not translated; an
//! argument that holds another system's own words (an S3 error) stays as it came.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::config::Lang;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Msg {
    pub key: &'static str,
    pub args: BTreeMap<&'static str, String>,
}

/// `msg!("err.key", name = value, …)`: a [`Msg`] whose arguments are the values' `Display`.
#[macro_export]
macro_rules! msg {
    ($key:literal $(, $name:ident = $val:expr)* $(,)?) => {
        $crate::msg::Msg::new($key, vec![$((stringify!($name), ($val).to_string())),*])
    };
}

impl Msg {
    pub fn new(key: &'static str, args: Vec<(&'static str, String)>) -> Msg {
        let m = Msg {
            key,
            args: args.into_iter().collect(),
        };
        // A key missing from the catalogue or an argument its text does not use is a
        // mistake in the code: every test run that builds the message finds it.
        debug_assert!(
            Lang::En.strings().contains_key(key),
            "message key {key:?} is not in en.json"
        );
        debug_assert!(
            m.args.keys().all(|a| Lang::En.t(key).contains(&format!("{{{a}}}"))),
            "{key:?}: en.json's text does not use every argument of {:?}",
            m.args.keys().collect::<Vec<_>>()
        );
        m
    }

    /// The text in `lang`.
    pub fn render(&self, lang: Lang) -> String {
        let vars: Vec<(&str, &str)> = self.args.iter().map(|(k, v)| (*k, v.as_str())).collect();
        lang.fmt(self.key, &vars)
    }

    /// The English text, for the CLI, the logs and clients that do not translate.
    pub fn en(&self) -> String {
        self.render(Lang::En)
    }
}

impl std::fmt::Display for Msg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.en())
    }
}

/// Messages as a probe keeps them in the catalog (`probe.*`, read by the health rules at
/// every request, so each reader renders them in its own language): a JSON list of
/// `{"key", "args"}`. Empty when there is nothing to say (the probe passes).
pub fn to_stored(msgs: &[Msg]) -> String {
    if msgs.is_empty() {
        return String::new();
    }
    serde_json::to_string(msgs).unwrap_or_default()
}

/// The messages of [`to_stored`]'s text (one object or a list); `None` for text that is not
/// that (a verdict written by an older camvault: plain English, shown as it is) or that
/// names a key this camvault's catalogue lacks (written by a newer one).
pub fn from_stored(text: &str) -> Option<Vec<Msg>> {
    let v: serde_json::Value = serde_json::from_str(text.trim_start().starts_with(['[', '{']).then_some(text)?).ok()?;
    let one = |m: &serde_json::Value| -> Option<Msg> {
        let (key, english) = Lang::En.strings().get_key_value(m.get("key")?.as_str()?)?;
        let mut args = BTreeMap::new();
        for (name, value) in m.get("args").and_then(|a| a.as_object()).into_iter().flatten() {
            // The argument's name as a &'static str: its placeholder in the catalogue's
            // text. A name the text lacks: not this camvault's message, shown as it came.
            let at = english.find(&format!("{{{name}}}"))?;
            let name: &'static str = &english[at + 1..at + 1 + name.len()];
            let value = match value {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            args.insert(name, value);
        }
        Some(Msg {
            key: key.as_str(),
            args,
        })
    };
    match &v {
        serde_json::Value::Array(all) => all.iter().map(one).collect(),
        m => one(m).map(|m| vec![m]),
    }
}

/// The keys `msg!` is called with in the given source texts (for the catalogue tests).
pub fn keys_used_in(src: &str) -> Vec<String> {
    src.split("msg!(")
        .skip(1)
        .filter_map(|p| p.trim_start().strip_prefix('"'))
        .filter_map(|p| p.split_once('"').map(|(k, _)| k.to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_in_both_languages_and_serializes_key_and_args() {
        let m = crate::msg!("api.no_approval", id = 7);
        assert_eq!(m.en(), "no approval #7");
        assert_eq!(m.render(Lang::Zh), "没有编号为 7 的审批请求");
        assert_eq!(
            serde_json::to_value(&m).unwrap(),
            serde_json::json!({"key": "api.no_approval", "args": {"id": "7"}})
        );
    }

    #[test]
    fn stored_messages_round_trip_and_plain_text_stays_text() {
        let a = crate::msg!("health.detail.bucket_unknown", n = 2, key = "v/a.mp4");
        let b = crate::msg!("health.detail.bucket_missing", n = 1, key = "v/b.mp4");
        let text = to_stored(&[a.clone(), b.clone()]);
        assert_eq!(from_stored(&text), Some(vec![a.clone(), b]));
        assert_eq!(from_stored(&serde_json::to_string(&a).unwrap()), Some(vec![a]));
        assert_eq!(to_stored(&[]), "");
        // What older camvaults wrote, and keys or arguments this one does not know.
        assert_eq!(from_stored("the share lets the camera delete"), None);
        assert_eq!(from_stored(r#"[{"key":"health.detail.nope","args":{}}]"#), None);
        assert_eq!(from_stored(r#"{"key":"api.no_clip","args":{"zz":"1"}}"#), None);
        assert_eq!(from_stored("[1, 2]"), None);
    }
}
