//! Sending a message with a picture (the frame of an activity segment) where the channel
//! can show one, and the same message as text with a link where it cannot.
//!
//! - Telegram: `sendPhoto`, multipart/form-data with the JPEG as `photo` and the text as
//!   `caption` (at most 1024 characters; photos up to 10 MB):
//!   <https://core.telegram.org/bots/api#sendphoto>.
//! - WeCom group robot: the text message, then `msgtype` `image` with the picture in
//!   base64 and its MD5 (at most 2 MB before encoding):
//!   <https://work.weixin.qq.com/api/doc/90000/90136/91770>.
//! - E-mail: the text with the JPEG attached (lettre's multipart/mixed).
//! - DingTalk: a custom robot shows a picture only from a public URL (markdown, link
//!   messages), and camvault's pages are behind a login on the home network, so it gets
//!   the text with the link to the day's page:
//!   <https://open.dingtalk.com/document/group/custom-robot-access>.
//! - Feishu: an image message needs an `image_key` from the upload API, which requires an
//!   app's `tenant_access_token`; a group's webhook robot has none, so text with the link:
//!   <https://open.larkoffice.com/document/uAjLw4CM/ukTMukTMukTM/reference/im-v1/image/create>.
//! - ntfy, Bark, generic webhooks: the text with the link.

use base64::Engine;
use md5::{Digest, Md5};
use serde_json::json;

use super::channels::{answer, text};
use super::Message;
use crate::config::{Channel, ChannelKind};

/// WeCom's limit on an image message, before base64.
const WECOM_MAX: usize = 2 * 1024 * 1024;
/// Telegram's limit on an uploaded photo.
const TELEGRAM_MAX: usize = 10 * 1024 * 1024;
/// Telegram's limit on a caption, in characters.
const CAPTION_MAX: usize = 1024;

/// Sends `msg` to `ch`, with `jpeg` where the channel takes a picture.
pub async fn send(client: &reqwest::Client, ch: &Channel, msg: &Message, jpeg: Option<&[u8]>) -> Result<(), String> {
    match (ch.kind, jpeg) {
        (ChannelKind::Telegram, Some(j)) if j.len() <= TELEGRAM_MAX => {
            let base = if ch.url.is_empty() {
                "https://api.telegram.org"
            } else {
                ch.url.trim_end_matches('/')
            };
            let caption: String = text(msg).chars().take(CAPTION_MAX).collect();
            let (content_type, body) = form(
                &[("chat_id", &ch.chat_id), ("caption", &caption)],
                ("photo", "frame.jpg", j),
            );
            let req = client
                .post(format!("{base}/bot{}/sendPhoto", ch.token.0))
                .header(reqwest::header::CONTENT_TYPE, content_type)
                .body(body);
            answer(ch, req).await
        }
        (ChannelKind::Wecom, Some(j)) if j.len() <= WECOM_MAX => {
            super::channels::send(client, ch, msg).await?;
            let md5 = hex(&Md5::digest(j));
            let b64 = base64::engine::general_purpose::STANDARD.encode(j);
            let req = client
                .post(&ch.url)
                .json(&json!({"msgtype": "image", "image": {"base64": b64, "md5": md5}}));
            // The text went through: a refused picture is not worth sending the text again.
            if let Err(e) = answer(ch, req).await {
                tracing::warn!("the picture of a notification was not delivered: {e}");
            }
            Ok(())
        }
        (ChannelKind::Email, Some(j)) => super::email::send_with(ch, msg, text(msg), Some(j)).await,
        _ => super::channels::send(client, ch, msg).await,
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A multipart/form-data body (RFC 7578): text fields and one file. Returns the
/// Content-Type (with the boundary) and the body.
fn form(fields: &[(&str, &str)], file: (&str, &str, &[u8])) -> (String, Vec<u8>) {
    // A boundary that appears in none of the parts.
    let mut n: u64 = 0x636d_7661_756c_7400;
    let boundary = loop {
        let b = format!("camvault-{n:016x}");
        let inside = |h: &[u8]| h.windows(b.len()).any(|w| w == b.as_bytes());
        if !inside(file.2) && !fields.iter().any(|(_, v)| inside(v.as_bytes())) {
            break b;
        }
        n = n.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    };
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").as_bytes(),
        );
    }
    let (name, filename, bytes) = file;
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{filename}\"\r\nContent-Type: image/jpeg\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_has_every_part_and_a_boundary_found_in_none() {
        let jpeg = [0xFF, 0xD8, 0xFF, 0xE0, b'c', b'a', b'm'];
        let (ct, body) = form(
            &[("chat_id", "42"), ("caption", "gate: 23:10")],
            ("photo", "frame.jpg", &jpeg),
        );
        let boundary = ct.strip_prefix("multipart/form-data; boundary=").unwrap();
        let text = String::from_utf8_lossy(&body);
        assert_eq!(text.matches(&format!("--{boundary}\r\n")).count(), 3);
        assert!(text.ends_with(&format!("--{boundary}--\r\n")));
        assert!(text.contains("name=\"caption\"\r\n\r\ngate: 23:10\r\n"));
        let at = body.windows(2).position(|w| w == [0xFF, 0xD8]).unwrap();
        assert_eq!(&body[at..at + jpeg.len()], &jpeg);
        // A picture that happens to hold the first boundary gets another one.
        let first = format!("camvault-{:016x}", 0x636d_7661_756c_7400u64);
        let (ct2, _) = form(&[], ("photo", "f.jpg", first.as_bytes()));
        assert!(!ct2.ends_with(&first));
    }
}
