//! Notifications on activity (issue 15, item 7): `[[index.notify]]` rules matched against
//! the segments of freshly indexed clips, sent through the alert channels with the
//! segment's frame where the channel shows pictures (`alerts::picture`).
//!
//! - **Fresh only.** The catalog queues a clip for the rules when the index stores it,
//!   in the same transaction (migration 13's trigger), and only when it is indexed within a
//!   day of its start; this pass then drops clips indexed more than
//!   `index.notify_max_age_minutes` after they began. A backfill (`camvault index --from`),
//!   a first index of old footage or a catalog rebuild tells nobody about last year.
//! - **Once per segment and rule.** What each rule did with each segment (its clip and start,
//!   which a re-index keeps) is recorded after the send; a crash between the two sends that
//!   message again once, and never loses one.
//! - **Rate-limited per rule.** At most one message per rule per `every_minutes`; the
//!   matches in between are counted and the next message says how many there were.
//! - **Bounded.** A channel that fails is tried [`RETRY_WAITS`]`.len() + 1` times, then the
//!   message is dropped for it with a logged and counted failure (`notify_rules.failed`); a
//!   try counts for the rate limit, so a channel that is down costs at most one message's
//!   retries per rule per `every_minutes`, and nothing queues up.
//! - **Quiet hours.** `alerts.quiet_hours` do not hold these messages back: a rule has its
//!   own window. A rule with `quiet_hours = true` records the matches inside them as
//!   `quiet` and sends nothing for them (an intruder at 02:00 is not news at 07:00).

use std::time::Duration;

use anyhow::Result;
use tracing::{info, warn};

use super::clip_dir;
use crate::alerts::Message;
use crate::catalog::index::SegmentRow;
use crate::catalog::notify::RuleState;
use crate::catalog::Catalog;
use crate::config::{Config, Lang, NotifyRule};

/// Waits between the tries of one channel.
pub const RETRY_WAITS: [Duration; 2] = [Duration::from_secs(5), Duration::from_secs(30)];
/// Clips looked at per pass.
const BATCH: usize = 100;
/// How long records of what was sent are kept: longer than any clip stays fresh.
const KEEP_MS: i64 = 2 * 86_400_000;

/// What one pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub sent: u64,
    pub suppressed: u64,
    pub failed: u64,
    /// Clips too old to notify (a backfill).
    pub stale: u64,
}

/// The id `rule.camera` has in keys and segments (its name, else its MAC).
fn camera_id(cfg: &Config, camera: &str) -> String {
    match cfg
        .cameras
        .keys()
        .filter_map(|k| crate::config::normalize_mac(k))
        .find(|m| m == camera)
    {
        Some(mac) => cfg.camera(Some(&mac), None).id,
        None => camera.to_string(),
    }
}

/// Whether a segment of `camera` matches the rule (the window in the camera's zone).
pub fn matches(cfg: &Config, rule: &NotifyRule, camera: &str, seg: &SegmentRow) -> bool {
    (rule.camera.is_empty() || camera_id(cfg, &rule.camera) == camera)
        && (rule.zone.is_empty() || seg.zones.contains(&rule.zone))
        && (rule.label.is_empty()
            || seg
                .labels
                .iter()
                .any(|l| l.split(':').next().unwrap_or("").eq_ignore_ascii_case(&rule.label)))
        && rule.window.is_none_or(|w| w.contains((seg.tod_s / 60) as u32))
        && seg.peak >= rule.min_activity
        && (seg.end_ms - seg.start_ms) / 1000 >= rule.min_duration_secs as i64
}

/// The message for one segment.
pub fn message(cfg: &Config, rule: &NotifyRule, camera: &str, seg: &SegmentRow, state: &RuleState) -> Message {
    let lang: Lang = cfg.alerts.language;
    let tz = cfg.camera_by_id(camera).tz;
    let at = jiff::Timestamp::from_millisecond(seg.start_ms)
        .map(|t| t.to_zoned(tz.clone()))
        .ok();
    let time = at
        .as_ref()
        .map(|z| z.strftime("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default();
    let mut lines = vec![lang.fmt("notify.when", &[("camera", camera), ("time", &time)])];
    if !seg.zones.is_empty() {
        lines.push(lang.fmt("notify.zones", &[("zones", &seg.zones.join(", "))]));
    }
    if !seg.labels.is_empty() {
        lines.push(lang.fmt("notify.labels", &[("labels", &seg.labels.join(", "))]));
    }
    lines.push(lang.fmt(
        "notify.activity",
        &[
            ("secs", &((seg.end_ms - seg.start_ms) / 1000).max(1).to_string()),
            ("peak", &seg.peak.to_string()),
        ],
    ));
    if state.suppressed > 0 {
        let since = state
            .suppressed_from
            .and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
            .map(|t| t.to_zoned(tz.clone()).strftime("%H:%M").to_string())
            .unwrap_or_default();
        lines.push(lang.fmt(
            "notify.suppressed",
            &[
                ("count", &state.suppressed.to_string()),
                ("since", &since),
                ("minutes", &rule.every_minutes.to_string()),
            ],
        ));
    }
    if !cfg.http.public_url.is_empty() {
        if let Some(z) = &at {
            let url = format!(
                "{}/day/{camera}/{}",
                cfg.http.public_url.trim_end_matches('/'),
                z.strftime("%Y-%m-%d")
            );
            lines.push(lang.fmt("notify.link", &[("url", &url)]));
        }
    }
    Message {
        status: "event",
        key: format!("notify:{}", rule.name),
        title: lang.fmt("notify.title", &[("rule", &rule.name), ("camera", camera)]),
        body: lines.join("\n"),
    }
}

/// Sends `msg` to the rule's channels, each tried up to `waits.len() + 1` times. Returns
/// whether any channel took it.
async fn deliver(
    cfg: &Config,
    client: &reqwest::Client,
    rule: &NotifyRule,
    msg: &Message,
    jpeg: Option<&[u8]>,
    waits: &[Duration],
) -> bool {
    let mut any = false;
    let chosen = cfg
        .alerts
        .channel
        .iter()
        .filter(|c| rule.channels.is_empty() || rule.channels.contains(&c.name));
    for ch in chosen {
        let mut tries = 0;
        loop {
            match crate::alerts::picture::send(client, ch, msg, jpeg).await {
                Ok(()) => {
                    any = true;
                    break;
                }
                Err(e) if tries >= waits.len() => {
                    warn!(
                        "notification {:?} not delivered after {} tries, dropped: {e}",
                        rule.name,
                        tries + 1
                    );
                    break;
                }
                Err(_) => {
                    tokio::time::sleep(waits[tries]).await;
                    tries += 1;
                }
            }
        }
    }
    any
}

/// One pass over the clips waiting for the rules. `waits`: between the tries of a
/// channel ([`RETRY_WAITS`] in `serve`).
pub async fn pass(cfg: &Config, cat: &Catalog, client: &reqwest::Client, waits: &[Duration]) -> Result<Counts> {
    let mut n = Counts::default();
    let now = crate::clock::now().as_millisecond();
    cat.notify_prune(now - KEEP_MS)?;
    let max_age = cfg.index.notify_max_age_minutes as i64 * 60_000;
    for p in cat.notify_pending(BATCH)? {
        if cfg.index.notify.is_empty() {
            cat.notify_done(p.file_id)?;
            continue;
        }
        if p.indexed_ms - p.start_ms > max_age {
            n.stale += 1;
            cat.notify_done(p.file_id)?;
            continue;
        }
        let Some(clip) = cat.index_clip(p.file_id)? else {
            cat.notify_done(p.file_id)?;
            continue;
        };
        for (ordinal, seg) in clip.segments.iter().enumerate() {
            for rule in &cfg.index.notify {
                if !matches(cfg, rule, &clip.camera, seg)
                    || cat.notify_outcome(&rule.name, p.file_id, seg.start_ms)?.is_some()
                {
                    continue;
                }
                let now = crate::clock::now().as_millisecond();
                let mut state = cat.notify_rule(&rule.name)?;
                let note = |outcome: &str, state: &RuleState| {
                    cat.notify_note(&rule.name, p.file_id, seg.start_ms, outcome, now, state)
                };
                if rule.quiet_hours {
                    let local = jiff::Zoned::now();
                    let minute = local.hour() as u32 * 60 + local.minute() as u32;
                    if crate::alerts::in_quiet_hours(cfg.alerts.quiet_hours, minute) {
                        note("quiet", &state)?;
                        continue;
                    }
                }
                if state
                    .last_try_ms
                    .is_some_and(|t| now - t < rule.every_minutes as i64 * 60_000)
                {
                    state.suppressed += 1;
                    state.suppressed_from.get_or_insert(seg.start_ms);
                    note("suppressed", &state)?;
                    n.suppressed += 1;
                    continue;
                }
                let msg = message(cfg, rule, &clip.camera, seg, &state);
                // The frame is optional: a message without it beats none.
                let jpeg = std::fs::read(clip_dir(cfg, p.file_id).join(super::frame_name(ordinal))).ok();
                let ok = deliver(cfg, client, rule, &msg, jpeg.as_deref(), waits).await;
                state.last_try_ms = Some(now);
                if ok {
                    state.sent += 1;
                    state.suppressed = 0;
                    state.suppressed_from = None;
                    note("sent", &state)?;
                    n.sent += 1;
                    info!(
                        "notification {:?} sent for {} at {}",
                        rule.name, clip.camera, seg.start_ms
                    );
                } else {
                    state.failed += 1;
                    note("failed", &state)?;
                    n.failed += 1;
                }
            }
        }
        cat.notify_done(p.file_id)?;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = r#"
[alerts]
language = "zh-CN"
[[alerts.channel]]
name = "phone"
kind = "ntfy"
url = "https://ntfy.example/t"
[http]
public_url = "https://cam.example.lan/"
[cameras.78DF72A1B2C3]
name = "gate"
timezone = "Asia/Shanghai"
[[cameras.78DF72A1B2C3.zones]]
name = "drive"
rect = [0.0, 0.0, 0.5, 1.0]
[[index.notify]]
name = "night drive"
camera = "78df72a1b2c3"
zone = "drive"
window = "23:00-06:00"
min_duration_secs = 3
[[index.notify]]
name = "person"
label = "person"
min_activity = 10
"#;

    /// A segment of `secs` at `hh:mm` (Asia/Shanghai) on 2026-12-03.
    fn seg(hh: i64, mm: i64, secs: i64, zones: &[&str], labels: &[&str], peak: u8) -> SegmentRow {
        let start = (1_796_227_200 + hh * 3600 + mm * 60) * 1000; // 2026-12-03 00:00 +08:00
        SegmentRow {
            start_ms: start,
            end_ms: start + secs * 1000,
            tod_s: hh * 3600 + mm * 60,
            peak,
            peak_ms: start,
            cells: String::new(),
            zones: zones.iter().map(|s| s.to_string()).collect(),
            labels: labels.iter().map(|s| s.to_string()).collect(),
            detections: Vec::new(),
        }
    }

    #[test]
    fn rules_match_camera_zone_window_label_activity_and_length() {
        let cfg = Config::parse(CONFIG).unwrap();
        let (night, person) = (&cfg.index.notify[0], &cfg.index.notify[1]);
        // The rule names the camera by MAC; segments carry its name.
        assert!(matches(&cfg, night, "gate", &seg(23, 30, 5, &["drive"], &[], 1)));
        assert!(
            matches(&cfg, night, "gate", &seg(2, 0, 5, &["drive"], &[], 1)),
            "the window wraps midnight"
        );
        assert!(
            !matches(&cfg, night, "gate", &seg(6, 0, 5, &["drive"], &[], 1)),
            "06:00 is outside"
        );
        assert!(!matches(&cfg, night, "gate", &seg(12, 0, 5, &["drive"], &[], 1)));
        assert!(
            !matches(&cfg, night, "gate", &seg(23, 30, 5, &[], &[], 1)),
            "another zone"
        );
        assert!(
            !matches(&cfg, night, "door", &seg(23, 30, 5, &["drive"], &[], 1)),
            "another camera"
        );
        assert!(
            !matches(&cfg, night, "gate", &seg(23, 30, 2, &["drive"], &[], 1)),
            "too short"
        );
        assert!(matches(
            &cfg,
            person,
            "door",
            &seg(12, 0, 1, &[], &["car", "Person:0.91"], 10)
        ));
        assert!(
            !matches(&cfg, person, "door", &seg(12, 0, 1, &[], &["person"], 9)),
            "too little"
        );
        assert!(!matches(&cfg, person, "door", &seg(12, 0, 1, &[], &["personal"], 50)));
    }

    #[test]
    fn the_message_is_in_the_alert_language_with_the_held_back_count_and_the_link() {
        let cfg = Config::parse(CONFIG).unwrap();
        let state = RuleState {
            suppressed: 3,
            suppressed_from: Some(seg(23, 5, 1, &[], &[], 1).start_ms),
            ..RuleState::default()
        };
        let m = message(
            &cfg,
            &cfg.index.notify[0],
            "gate",
            &seg(23, 30, 5, &["drive"], &[], 7),
            &state,
        );
        assert_eq!(m.title, "camvault：night drive（gate）");
        assert_eq!(
            m.body,
            "gate 有动静，2026-12-03 23:30:00\n区域：drive\n持续 5 秒，最多占画面的 7%\n\
             自 23:05 起另有 3 次未发送（每 10 分钟最多一条消息）\n查看：https://cam.example.lan/day/gate/2026-12-03"
        );
        let mut en = cfg.clone();
        en.alerts.language = Lang::En;
        let m = message(
            &en,
            &en.index.notify[1],
            "gate",
            &seg(23, 30, 5, &[], &["person"], 7),
            &RuleState::default(),
        );
        assert_eq!(m.title, "camvault: person (gate)");
        assert!(
            m.body
                .starts_with("Activity at gate, 2026-12-03 23:30:00\nSeen: person\n5 s of motion"),
            "{}",
            m.body
        );
    }
}
