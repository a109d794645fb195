//! Sending a message to one channel, in the format (and with the signature) it expects.

use std::time::Duration;

use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;

use super::Message;
use crate::config::{Channel, ChannelKind};

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("HTTP client")
}

fn hmac_b64(key: &[u8], msg: &[u8]) -> String {
    let mut m = Hmac::<Sha256>::new_from_slice(key).expect("any key length");
    m.update(msg);
    base64::engine::general_purpose::STANDARD.encode(m.finalize().into_bytes())
}

/// DingTalk robot signature: HMAC-SHA256 of "timestamp\nsecret" keyed by the secret.
pub fn dingtalk_sign(timestamp_ms: i64, secret: &str) -> String {
    hmac_b64(secret.as_bytes(), format!("{timestamp_ms}\n{secret}").as_bytes())
}

/// Feishu robot signature: HMAC-SHA256 of nothing, keyed by "timestamp\nsecret".
pub fn feishu_sign(timestamp_s: i64, secret: &str) -> String {
    hmac_b64(format!("{timestamp_s}\n{secret}").as_bytes(), b"")
}

pub(super) fn text(msg: &Message) -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_default();
    if host.is_empty() {
        format!("{}\n{}", msg.title, msg.body)
    } else {
        format!("{}\n{}\n({host})", msg.title, msg.body)
    }
}

/// Sends `msg`; the error says which channel and why, never a secret.
pub async fn send(client: &reqwest::Client, ch: &Channel, msg: &Message) -> Result<(), String> {
    let now = jiff::Timestamp::now();
    let req = match ch.kind {
        ChannelKind::Email => return super::email::send(ch, msg, text(msg)).await,
        ChannelKind::Webhook => client.post(&ch.url).json(&json!({
            "source": "camvault",
            "status": msg.status,
            "key": msg.key,
            "title": msg.title,
            "message": msg.body,
            "time": now.to_string(),
        })),
        ChannelKind::Ntfy => client
            .post(&ch.url)
            .header("Title", msg.title.clone())
            .header(
                "Priority",
                if msg.status == "firing" || msg.status == "event" {
                    "high"
                } else {
                    "default"
                },
            )
            .header(
                "Tags",
                if msg.status == "resolved" {
                    "white_check_mark"
                } else {
                    "warning"
                },
            )
            .body(msg.body.clone()),
        ChannelKind::Telegram => {
            let base = if ch.url.is_empty() {
                "https://api.telegram.org"
            } else {
                ch.url.trim_end_matches('/')
            };
            client
                .post(format!("{base}/bot{}/sendMessage", ch.token.0))
                .json(&json!({"chat_id": ch.chat_id, "text": text(msg), "disable_web_page_preview": true}))
        }
        ChannelKind::Dingtalk => {
            let mut url = ch.url.clone();
            if !ch.secret.0.is_empty() {
                let ts = now.as_millisecond();
                let sign = dingtalk_sign(ts, &ch.secret.0);
                let enc: String = url_encode(&sign);
                url.push_str(&format!(
                    "{}timestamp={ts}&sign={enc}",
                    if url.contains('?') { '&' } else { '?' }
                ));
            }
            client
                .post(url)
                .json(&json!({"msgtype": "text", "text": {"content": text(msg)}}))
        }
        ChannelKind::Wecom => client
            .post(&ch.url)
            .json(&json!({"msgtype": "text", "text": {"content": text(msg)}})),
        ChannelKind::Feishu => {
            let mut body = json!({"msg_type": "text", "content": {"text": text(msg)}});
            if !ch.secret.0.is_empty() {
                let ts = now.as_second();
                body["timestamp"] = json!(ts.to_string());
                body["sign"] = json!(feishu_sign(ts, &ch.secret.0));
            }
            client.post(&ch.url).json(&body)
        }
        ChannelKind::Bark => client
            .post(&ch.url)
            .json(&json!({"title": msg.title, "body": msg.body, "group": "camvault"})),
    };
    answer(ch, req).await
}

/// Sends a built request to `ch` and reads the answer: an HTTP error or a chat robot's
/// refusal in a 200 is an error, without the channel's secrets.
pub(super) async fn answer(ch: &Channel, req: reqwest::RequestBuilder) -> Result<(), String> {
    let resp = req
        .send()
        .await
        // Without the URL: robot URLs carry their access keys.
        .map_err(|e| format!("channel {}: {}", ch.name, redact(&e.without_url().to_string(), ch)))?;
    let status = resp.status();
    let body = resp.text().await.unwrap_or_default();
    if !status.is_success() {
        return Err(format!(
            "channel {}: HTTP {status}: {}",
            ch.name,
            redact(body.chars().take(200).collect::<String>().as_str(), ch)
        ));
    }
    // Chat robots answer 200 with an error code in the body.
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(&body) {
        let code = v
            .get("errcode")
            .or_else(|| v.get("code"))
            .and_then(|c| c.as_i64())
            .unwrap_or(0);
        let ok = v.get("ok").and_then(|o| o.as_bool()).unwrap_or(true);
        if code != 0 || !ok {
            return Err(format!("channel {}: refused: {}", ch.name, redact(&body, ch)));
        }
    }
    Ok(())
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Query parameters whose value is a credential, in any channel's URL (WeCom `key`,
/// DingTalk `access_token`, ntfy `auth`, and the usual names of generic webhooks).
const SECRET_PARAMS: [&str; 12] = [
    "key",
    "access_token",
    "token",
    "auth",
    "sign",
    "secret",
    "password",
    "apikey",
    "api_key",
    "signature",
    "sig",
    "code",
];

/// Every credential the channel's configuration holds, as a text could echo it: the
/// `token`, `secret` and `password` settings, and the parts of `url` that are keys: the
/// user and password in it, every query value, and the path segments that are keys for
/// this kind (Bark: the device key; Feishu: the hook id; ntfy: the topic, which anyone
/// who knows it can read and post to; Telegram: `bot<token>`; a generic webhook: every
/// long segment, like Slack's `/services/T…/B…/<key>`).
fn secrets(ch: &Channel) -> Vec<String> {
    let mut out: Vec<String> = [&ch.token.0, &ch.secret.0, &ch.password.0]
        .into_iter()
        .filter(|s| !s.is_empty())
        .cloned()
        .collect();
    if let Ok(u) = reqwest::Url::parse(&ch.url) {
        out.push(u.username().to_string());
        out.extend(u.password().map(str::to_string));
        out.extend(u.query_pairs().map(|(_, v)| v.into_owned()));
        if let Some(q) = u.query() {
            out.extend(
                q.split('&')
                    .filter_map(|kv| kv.split_once('='))
                    .map(|(_, v)| v.to_string()),
            );
        }
        let segments: Vec<&str> = u
            .path_segments()
            .map(|s| s.filter(|x| !x.is_empty()).collect())
            .unwrap_or_default();
        let keyed: Vec<&str> = match ch.kind {
            ChannelKind::Bark | ChannelKind::Ntfy => segments,
            ChannelKind::Feishu => segments.last().copied().into_iter().collect(),
            ChannelKind::Telegram => segments.into_iter().filter(|s| s.starts_with("bot")).collect(),
            ChannelKind::Webhook => segments.into_iter().filter(|s| s.len() >= 16).collect(),
            _ => Vec::new(),
        };
        out.extend(keyed.iter().map(|s| s.to_string()));
    }
    out.retain(|s| !s.is_empty());
    // Longest first: a secret that contains another is replaced whole.
    out.sort_by_key(|s| std::cmp::Reverse(s.len()));
    out.dedup();
    out
}

/// Removes the channel's secrets from a text that may echo a URL or a header: each
/// configured credential wherever it appears, the value of every credential-bearing query
/// parameter, and a Telegram bot token in a path, whatever their values.
pub fn redact(s: &str, ch: &Channel) -> String {
    let mut out = s.to_string();
    for secret in secrets(ch) {
        // Replacing a one-letter value everywhere would garble the text; such values
        // are still caught by name below.
        if secret.len() >= 4 {
            out = out.replace(&secret, "***");
            let enc = url_encode(&secret);
            if enc != secret {
                out = out.replace(&enc, "***");
            }
        }
    }
    redact_params(&out)
}

/// `name=value` with a credential name (any case) becomes `name=***`; `/bot<token>/`
/// becomes `/bot***/`.
fn redact_params(s: &str) -> String {
    let ends =
        |c: char| matches!(c, '&' | '#' | '"' | '\'' | '<' | '>' | ',' | ';' | ')' | ']' | '}') || c.is_whitespace();
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(eq) = rest.find('=') {
        let (head, tail) = rest.split_at(eq);
        let name_start = head
            .char_indices()
            .rev()
            .find(|(_, c)| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '-'))
            .map_or(0, |(i, c)| i + c.len_utf8());
        let name = &head[name_start..];
        out.push_str(head);
        out.push('=');
        let value = &tail[1..];
        let len = value.find(ends).unwrap_or(value.len());
        if len > 0 && SECRET_PARAMS.iter().any(|p| p.eq_ignore_ascii_case(name)) {
            out.push_str("***");
        } else {
            out.push_str(&value[..len]);
        }
        rest = &value[len..];
    }
    out.push_str(rest);
    // Telegram: https://api.telegram.org/bot<token>/sendMessage
    let mut t = String::with_capacity(out.len());
    let mut rest = out.as_str();
    while let Some(i) = rest.find("/bot") {
        let (head, tail) = rest.split_at(i + 4);
        t.push_str(head);
        let len = tail.find(|c: char| c == '/' || ends(c)).unwrap_or(tail.len());
        let token = &tail[..len];
        if token.contains(':') || token.len() >= 20 {
            t.push_str("***");
        } else {
            t.push_str(token);
        }
        rest = &tail[len..];
    }
    t.push_str(rest);
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    fn channel(kind: ChannelKind, url: &str) -> Channel {
        Channel {
            name: "c".into(),
            kind,
            url: url.into(),
            secret: Default::default(),
            token: Default::default(),
            chat_id: String::new(),
            username: String::new(),
            password: Default::default(),
            email: None,
            from: String::new(),
            to: Vec::new(),
            ca_file: Default::default(),
        }
    }

    #[test]
    fn every_channels_url_secrets_are_redacted() {
        let cases = [
            (ChannelKind::Wecom, "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa", "693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa"),
            (ChannelKind::Dingtalk, "https://oapi.dingtalk.com/robot/send?access_token=1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b", "1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b"),
            (ChannelKind::Feishu, "https://open.feishu.cn/open-apis/bot/v2/hook/2d3f1a9c-0b7e-4c55-9a31-6e2f8d4b7c10", "2d3f1a9c-0b7e-4c55-9a31-6e2f8d4b7c10"),
            (ChannelKind::Bark, "https://api.day.app/Xq8zPLm3nVtR5wKc2hJd7f", "Xq8zPLm3nVtR5wKc2hJd7f"),
            (ChannelKind::Ntfy, "https://ntfy.sh/camvault-h7Qk29xLw", "camvault-h7Qk29xLw"),
            (ChannelKind::Ntfy, "https://ntfy.example/door?auth=QmFzaWMgZG9vcjpwYXNz", "QmFzaWMgZG9vcjpwYXNz"),
            (ChannelKind::Webhook, "https://hooks.slack.com/services/T0AAAAAAA/B0BBBBBBB/XXXXXXXXXXXXXXXXXXXXXXXX", "XXXXXXXXXXXXXXXXXXXXXXXX"),
            (ChannelKind::Webhook, "https://user:hunter22pw@hooks.example/x", "hunter22pw"),
        ];
        for (kind, url, secret) in cases {
            let ch = channel(kind, url);
            let text = format!("error sending request for url ({url}): 404 Not Found <a href=\"{url}\">");
            let r = redact(&text, &ch);
            assert!(!r.contains(secret), "{kind:?}: {r}");
        }
        // By name, whatever the value, even one not from this channel's config.
        let ch = channel(ChannelKind::Webhook, "https://hooks.example/x");
        let r = redact("POST /cgi-bin/webhook/send?key=k&debug=1 and access_token=abc", &ch);
        assert_eq!(r, "POST /cgi-bin/webhook/send?key=***&debug=1 and access_token=***");
        let r = redact(
            "https://api.telegram.org/bot123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/sendMessage",
            &ch,
        );
        assert_eq!(r, "https://api.telegram.org/bot***/sendMessage");
        assert_eq!(redact("a=b, nothing secret", &ch), "a=b, nothing secret");
        // proptest found it: a multi-byte character right before '='.
        assert_eq!(redact("\"𞠀=x 𞡥key=abc", &ch), "\"𞠀=x 𞡥key=***");
    }

    proptest::proptest! {
        /// Whatever text a server answers, redaction never panics, and a credential
        /// parameter's value never survives it.
        #[test]
        fn redaction_never_panics_nor_leaks_a_key(pre in "\\PC{0,40}", value in "[A-Za-z0-9_-]{1,40}", post in "[&# \"<]\\PC{0,20}") {
            let ch = channel(ChannelKind::Webhook, "https://hooks.example/x");
            let r = redact(&format!("{pre} /send?key={value}{post}"), &ch);
            proptest::prop_assert!(r.contains("?key=***"), "{}", r);
        }
    }

    #[test]
    fn url_encoding_of_signatures() {
        assert_eq!(url_encode("a+b/c="), "a%2Bb%2Fc%3D");
    }
}
