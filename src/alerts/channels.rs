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

fn text(msg: &Message) -> String {
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

/// Removes the channel's secrets from a text that may echo a URL.
fn redact(s: &str, ch: &Channel) -> String {
    let mut out = s.to_string();
    for secret in [&ch.token.0, &ch.secret.0, &ch.password.0] {
        if !secret.is_empty() {
            out = out.replace(secret.as_str(), "***");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_encoding_of_signatures() {
        assert_eq!(url_encode("a+b/c="), "a%2Bb%2Fc%3D");
    }
}
