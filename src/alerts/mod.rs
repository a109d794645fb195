//! Alerts: tells people when something needs them, once, and again when it is over.
//!
//! Each health problem (see `health`) is an alert keyed by rule and subject. A new alert
//! is sent at once; one still present is sent again after `alerts.repeat_hours`; when it
//! clears, a recovery message follows. During `alerts.quiet_hours` nothing is sent and
//! messages wait. Events (a burst of deletion attempts) are sent once each. What was
//! sent is kept in the catalog, so a restart does not repeat anything.

pub mod channels;
pub mod email;
pub mod picture;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::health::Problem;
use crate::web::i18n::Lang;

/// What an alert looks like once sent.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Active {
    pub rule: String,
    pub message: String,
    pub first_ms: i64,
    /// `None` while not yet sent (quiet hours, or every channel failed).
    pub last_sent_ms: Option<i64>,
}

/// A message to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// `firing`, `repeat`, `resolved`, `event` or `test`.
    pub status: &'static str,
    pub key: String,
    pub title: String,
    pub body: String,
}

/// A rule's name in `lang` (English: the rule's id in words, as before).
fn rule_name(lang: Lang, rule: &str) -> String {
    let key = format!("health.{rule}.title");
    match lang {
        Lang::En => rule.replace('_', " "),
        _ if lang.strings().contains_key(&key) => lang.t(&key).to_string(),
        _ => rule.replace('_', " "),
    }
}

/// A problem's detail in `lang` when its rule gave it a message key, else its English.
fn detail_in(lang: Lang, p: &Problem) -> String {
    p.detail.as_ref().map_or_else(|| p.message.clone(), |m| m.render(lang))
}

/// The body of a problem's message in `lang`. Another language gets the rule's explanation first
/// and the detail after it (translated when the rule gave it a key, see [`detail_in`]).
fn problem_body(lang: Lang, rule: &str, message: &str) -> String {
    let key = format!("health.{rule}");
    match lang {
        Lang::En => message.to_string(),
        _ if lang.strings().contains_key(&key) => {
            format!("{}\n{}{message}", lang.t(&key), lang.t("alert.detail"))
        }
        _ => message.to_string(),
    }
}

pub fn key(p: &Problem) -> String {
    if p.subject.is_empty() {
        p.rule.to_string()
    } else {
        format!("{}:{}", p.rule, p.subject)
    }
}

/// Decides what to send now. `active` is updated as if every message was delivered; the
/// caller restores it when delivery failed everywhere.
pub fn step(
    active: &mut BTreeMap<String, Active>,
    problems: &[Problem],
    now_ms: i64,
    repeat_ms: i64,
    quiet: bool,
    lang: Lang,
) -> Vec<Message> {
    let mut out = Vec::new();
    if quiet {
        // Still track new problems, so that their age is right; send nothing.
        for p in problems {
            active.entry(key(p)).or_insert(Active {
                rule: p.rule.into(),
                message: p.message.clone(),
                first_ms: now_ms,
                last_sent_ms: None,
            });
        }
        return out;
    }
    for p in problems {
        let k = key(p);
        match active.get_mut(&k) {
            None => {
                active.insert(
                    k.clone(),
                    Active {
                        rule: p.rule.into(),
                        message: p.message.clone(),
                        first_ms: now_ms,
                        last_sent_ms: Some(now_ms),
                    },
                );
                out.push(Message {
                    status: "firing",
                    key: k,
                    title: lang.fmt("alert.firing", &[("rule", &rule_name(lang, p.rule))]),
                    body: problem_body(lang, p.rule, &detail_in(lang, p)),
                });
            }
            Some(a) => {
                a.message = p.message.clone();
                let due = a.last_sent_ms.is_none_or(|t| now_ms - t >= repeat_ms);
                if due {
                    let status = if a.last_sent_ms.is_none() { "firing" } else { "repeat" };
                    a.last_sent_ms = Some(now_ms);
                    out.push(Message {
                        status,
                        key: k,
                        title: lang.fmt("alert.repeat", &[("rule", &rule_name(lang, p.rule))]),
                        body: problem_body(lang, p.rule, &detail_in(lang, p)),
                    });
                }
            }
        }
    }
    let current: Vec<String> = problems.iter().map(key).collect();
    let gone: Vec<String> = active.keys().filter(|k| !current.contains(k)).cloned().collect();
    for k in gone {
        let a = active.remove(&k).expect("present");
        if a.last_sent_ms.is_some() {
            out.push(Message {
                status: "resolved",
                key: k,
                title: lang.fmt("alert.resolved", &[("rule", &rule_name(lang, &a.rule))]),
                body: lang.fmt(
                    "alert.resolved_body",
                    &[
                        ("min", &((now_ms - a.first_ms) / 60_000).to_string()),
                        ("message", &problem_body(lang, &a.rule, &a.message)),
                    ],
                ),
            });
        }
    }
    out
}

/// The alerts raised and not yet resolved, by problem key.
pub const ACTIVE: JsonSlot<BTreeMap<String, Active>> = JsonSlot::new("alerts.active");
use crate::catalog::kv::{JsonSlot, ALERTS_LAST_EVENT as EVENT_KEY};

/// One evaluation: health problems and new events to every channel. Returns how many
/// messages went out.
pub async fn run_once(
    cfg: &crate::config::Config,
    catalog: &crate::catalog::Catalog,
    client: &reqwest::Client,
) -> anyhow::Result<usize> {
    let now = jiff::Timestamp::now();
    let summary = catalog.summary()?;
    let problems = crate::health::check(cfg, &summary, now.as_millisecond());
    let local = jiff::Zoned::now();
    let minute = local.hour() as u32 * 60 + local.minute() as u32;
    let quiet = in_quiet_hours(cfg.alerts.quiet_hours, minute);
    let before = catalog.slot(&ACTIVE)?.unwrap_or_default();
    let mut active = before.clone();
    let mut messages = step(
        &mut active,
        &problems,
        now.as_millisecond(),
        cfg.alerts.repeat_hours as i64 * 3_600_000,
        quiet,
        cfg.alerts.language,
    );
    let last_event = catalog.slot(&EVENT_KEY)?.unwrap_or(0);
    let events = if quiet {
        Vec::new()
    } else {
        catalog.events_after(last_event)?
    };
    for (id, _, kind, message) in &events {
        // In another language the event's keyed message, when it has one.
        let body = match cfg.alerts.language {
            Lang::En => None,
            lang => catalog.event_in(*id, lang)?,
        };
        messages.push(Message {
            status: "event",
            key: kind.clone(),
            title: lang_event_title(cfg.alerts.language, kind),
            body: body.unwrap_or_else(|| message.clone()),
        });
    }
    if cfg.alerts.channel.is_empty() || messages.is_empty() {
        catalog.set_slot(&ACTIVE, &active)?;
        if let Some((id, ..)) = events.last() {
            catalog.set_slot(&EVENT_KEY, id)?;
        }
        return Ok(0);
    }
    let mut delivered = 0;
    for m in &messages {
        let mut any = false;
        for ch in &cfg.alerts.channel {
            match channels::send(client, ch, m).await {
                Ok(()) => any = true,
                Err(e) => tracing::warn!("alert not delivered: {e}"),
            }
        }
        if any {
            delivered += 1;
        } else if let Some(a) = active.get_mut(&m.key) {
            // Nobody got it: send again at the next evaluation.
            a.last_sent_ms = before.get(&m.key).and_then(|b| b.last_sent_ms);
        }
    }
    catalog.set_slot(&ACTIVE, &active)?;
    if let Some((id, ..)) = events.last() {
        catalog.set_slot(&EVENT_KEY, id)?;
    }
    if delivered == 0 {
        // Every channel refused: `serve` backs off instead of retrying each interval.
        anyhow::bail!(
            "no alert channel took the {} message(s); they are sent again later. Check `alerts.channel` with `camvault alerts test`",
            messages.len()
        );
    }
    Ok(delivered)
}

/// An event's title: its kind in words (the event's text stays as its source wrote it).
fn lang_event_title(lang: Lang, kind: &str) -> String {
    let name = [format!("event.{kind}"), format!("health.{kind}.title")]
        .into_iter()
        .find(|k| lang != Lang::En && lang.strings().contains_key(k))
        .map(|k| lang.t(&k).to_string())
        .unwrap_or_else(|| kind.replace('_', " "));
    lang.fmt("alert.firing", &[("rule", &name)])
}

/// Whether `minute` (after local midnight) is inside `alerts.quiet_hours`.
pub fn in_quiet_hours(quiet: Option<crate::config::TimeWindow>, minute: u32) -> bool {
    quiet.is_some_and(|w| w.contains(minute))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(rule: &'static str, subject: &str) -> Problem {
        Problem {
            rule,
            subject: subject.into(),
            message: format!("{rule} {subject}"),
            detail: None,
        }
    }

    #[test]
    fn dedup_repeat_recovery() {
        let mut active = BTreeMap::new();
        let h = 3_600_000;
        let sent = step(&mut active, &[p("low_disk", "")], 0, 24 * h, false, Lang::En);
        assert_eq!(sent.iter().map(|m| m.status).collect::<Vec<_>>(), ["firing"]);
        assert!(
            step(&mut active, &[p("low_disk", "")], h, 24 * h, false, Lang::En).is_empty(),
            "no duplicate within the repeat interval"
        );
        let sent = step(
            &mut active,
            &[p("low_disk", ""), p("camera_silent", "door")],
            25 * h,
            24 * h,
            false,
            Lang::En,
        );
        assert_eq!(
            sent.iter().map(|m| (m.status, m.key.as_str())).collect::<Vec<_>>(),
            [("repeat", "low_disk"), ("firing", "camera_silent:door")]
        );
        let sent = step(
            &mut active,
            &[p("camera_silent", "door")],
            26 * h,
            24 * h,
            false,
            Lang::En,
        );
        assert_eq!(sent.len(), 1);
        assert_eq!((sent[0].status, sent[0].key.as_str()), ("resolved", "low_disk"));
        assert!(sent[0].body.contains("after 1560 min"));
    }

    #[test]
    fn alerts_in_chinese() {
        let mut active = BTreeMap::new();
        let sent = step(&mut active, &[p("low_disk", "")], 0, 1000, false, Lang::Zh);
        assert_eq!(sent[0].title, "camvault：磁盘空间不足");
        assert!(sent[0].body.starts_with("录像所在的磁盘快满了。"), "{}", sent[0].body);
        assert!(
            sent[0].body.contains("详情：low_disk "),
            "the detail follows: {}",
            sent[0].body
        );
        // A rule's keyed detail is in Chinese too, its numbers kept; English stays English.
        let silent = Problem {
            detail: Some(crate::msg!(
                "health.detail.silent",
                camera = "cam1",
                hours = 30,
                limit = 24
            )),
            ..p("camera_silent", "cam1")
        };
        let zh = step(
            &mut BTreeMap::new(),
            std::slice::from_ref(&silent),
            0,
            1000,
            false,
            Lang::Zh,
        );
        assert!(
            zh[0]
                .body
                .contains("详情：摄像头 cam1 已 30 小时没有发送任何录像（上限 24 小时）"),
            "{}",
            zh[0].body
        );
        let en = step(&mut BTreeMap::new(), &[silent], 0, 1000, false, Lang::En);
        assert!(
            en[0].body.contains("camera cam1 sent nothing for 30 h (limit 24 h)"),
            "{}",
            en[0].body
        );
        let sent = step(&mut active, &[], 120_000, 1000, false, Lang::Zh);
        assert_eq!(sent[0].title, "camvault：磁盘空间不足 已恢复正常");
        assert!(sent[0].body.starts_with("已在 2 分钟后恢复："), "{}", sent[0].body);
        assert_eq!(
            lang_event_title(Lang::Zh, "deletion_attempts"),
            "camvault：有人试图删除录像"
        );
        assert_eq!(
            lang_event_title(Lang::En, "deletion_attempts"),
            "camvault: deletion attempts"
        );
    }

    #[test]
    fn quiet_hours_hold_messages() {
        let mut active = BTreeMap::new();
        assert!(step(&mut active, &[p("backlog", "")], 0, 1000, true, Lang::En).is_empty());
        let sent = step(&mut active, &[p("backlog", "")], 10, 1000, false, Lang::En);
        assert_eq!(sent[0].status, "firing", "sent once the quiet hours end");
        // A problem that came and went during quiet hours is never announced as resolved.
        let mut active = BTreeMap::new();
        step(&mut active, &[p("backlog", "")], 0, 1000, true, Lang::En);
        assert!(step(&mut active, &[], 10, 1000, false, Lang::En).is_empty());
        // As the config reads `alerts.quiet_hours`.
        let spec = |s: &str| {
            crate::config::Config::parse(&format!("[alerts]\nquiet_hours = {s:?}\n"))
                .unwrap()
                .alerts
                .quiet_hours
        };
        assert!(in_quiet_hours(spec("22:00-07:00"), 23 * 60));
        assert!(in_quiet_hours(spec("22:00-07:00"), 6 * 60));
        assert!(!in_quiet_hours(spec("22:00-07:00"), 12 * 60));
        assert!(!in_quiet_hours(spec(""), 0));
    }
}
