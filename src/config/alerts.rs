//! `[alerts]`: where alerts go and when.

use std::path::PathBuf;

use serde::{Deserialize, Deserializer};

use lettre::message::Mailbox;

use super::smtp::SmtpUrl;
use super::time::TimeWindow;
use super::values::{keyed, Secret};

/// Where and how alerts go.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Alerts {
    /// A problem still present is sent again after this many hours.
    pub repeat_hours: u64,
    /// `HH:MM-HH:MM` (this machine's zone) when nothing is sent; held messages go out after.
    /// `""` (the default) for none.
    #[serde(deserialize_with = "quiet_hours")]
    pub quiet_hours: Option<TimeWindow>,
    /// Seconds between evaluations in `serve`.
    pub interval_secs: u64,
    /// The language of alert messages (every channel, e-mail too): "en" or "zh-CN".
    pub language: super::Lang,
    pub channel: Vec<Channel>,
}

impl Default for Alerts {
    fn default() -> Self {
        Alerts {
            repeat_hours: 24,
            quiet_hours: None,
            interval_secs: 60,
            language: super::Lang::En,
            channel: Vec::new(),
        }
    }
}

/// One place alerts are sent to.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Channel {
    pub name: String,
    pub kind: ChannelKind,
    /// Webhook / robot / ntfy topic / Bark URL (Telegram: the API base, default https://api.telegram.org).
    #[serde(default)]
    pub url: String,
    /// Signing secret (DingTalk, Feishu).
    #[serde(default)]
    pub secret: Secret,
    /// Telegram bot token.
    #[serde(default)]
    pub token: Secret,
    /// Telegram chat id.
    #[serde(default)]
    pub chat_id: String,
    /// E-mail: `url` is `smtps://host[:465]` (TLS), `smtp://host[:587]` (STARTTLS, required)
    /// or `smtp+plain://host[:25]` (no encryption: a relay on this machine or LAN only).
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub password: Secret,
    /// Sender, e.g. `camvault <me@example.com>`.
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub to: Vec<String>,
    /// A PEM file with the CA of a relay whose certificate is self-signed.
    #[serde(default)]
    pub ca_file: PathBuf,
    /// E-mail: `url`, `from` and `to` parsed when the config is loaded (what they must
    /// be depends on `kind`).
    #[serde(skip)]
    pub email: Option<Email>,
}

/// An e-mail channel's relay and addresses, as parsed at load.
#[derive(Debug, Clone, PartialEq)]
pub struct Email {
    pub relay: SmtpUrl,
    pub from: Mailbox,
    pub to: Vec<Mailbox>,
}

fn quiet_hours<'de, D: Deserializer<'de>>(d: D) -> Result<Option<TimeWindow>, D::Error> {
    keyed(d, "alerts.quiet_hours", |s| {
        if s.is_empty() {
            return Ok(None);
        }
        s.parse()
            .map(Some)
            .map_err(|_| "write \"22:00-07:00\", or \"\" for none".to_string())
    })
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ChannelKind {
    Webhook,
    Ntfy,
    Telegram,
    Dingtalk,
    Wecom,
    Feishu,
    Bark,
    Email,
}
